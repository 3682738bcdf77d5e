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
