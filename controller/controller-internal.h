/* controller-internal.h: what controller.c shares with the directory watches
 * of Sources (source-watches.c). */
#pragma once

#include "controller.h"
#include "manifests.h"

/* One dir_watch per Source (its spec.path), kept as long as the spec asks for
 * the same; a change under the path enqueues the Source's key. */
struct source_watches;

typedef void (*source_enqueue_fn)(void *userdata, const char *key);

struct source_watches *source_watches_new(source_enqueue_fn enqueue, void *userdata);
/* Stops every watch; enqueue is not called after it returns. NULL ok. */
void source_watches_free(struct source_watches *w);
/* The reconcile_ctx.watch_source callback (userdata: the source_watches):
 * watches spec->path for key, or stops watching it when spec is NULL. */
void source_watches_set(void *userdata, const char *key, const struct source_spec *spec);
size_t source_watches_count(struct source_watches *w);

/* Which Tasks wait for which (spec.dependsOn), indexed both ways: a Task's
 * change finds its dependents without scanning its namespace. controller.c
 * feeds it every Task event of the object cache, in order, so it holds what
 * the cache holds. Thread-safe (one lock). */
struct task_deps;

struct task_deps *task_deps_new(void);    /* NULL on OOM; caller frees with task_deps_free() */
void task_deps_free(struct task_deps *d); /* NULL ok */
/* Records that Task ns/name depends on the names in depends_on (an array;
 * non-strings are skipped; NULL or empty: on nothing, as for a deleted Task).
 * -ENOMEM leaves it partly recorded: a dependent may then be missed until
 * the resync enqueues everything. */
int task_deps_set(struct task_deps *d, const char *ns, const char *name, const json_t *depends_on);
/* The Tasks of ns whose dependsOn names name: *ret is a NULL-terminated
 * array the caller frees with strv_free(); returns how many, or -ENOMEM. */
int task_deps_dependents(struct task_deps *d, const char *ns, const char *name, char ***ret);
