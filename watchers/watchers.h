/* watchers: the informers — in-memory caches kept current by event streams.
 *
 * object_cache     one list + watch over a store prefix: every berth object,
 *                  parsed, plus a ring of recent events so API watches can
 *                  resume from a resourceVersion (like the Kubernetes watch cache).
 *                  Keys under "<prefix><resource>-data/" (objects' growing data,
 *                  docs/internals/store.md) are not objects and are left out.
 * container_cache  one container list + the Docker /events stream, filtered by
 *                  label berth.managed=true; relists after every reconnect.
 *
 * Both run one background thread each and call a handler for every change so
 * the controller can enqueue the owning object's key.
 *
 * The object cache keeps bytes, not trees: each object is an object_blob, its
 * compact JSON (metadata.resourceVersion set) with a few decoded fields
 * beside it, shared read-only and reference-counted. A jansson tree is built
 * only when a caller asks for one (object_cache_get/list, the trees of an
 * object_event); lists that filter on the decoded fields or only pass the
 * bytes on (the API's list and watch) take blobs instead.
 */
#pragma once

#include "common.h"
#include "docker.h"
#include "store.h"

/* ---- object cache ----------------------------------------------------- */

/* Events kept for watch resume: the last 10,000, and no more than 4 MiB of
 * their objects' stored JSON (a large object written often, like a big
 * Workflow's status, would otherwise pin thousands of its old versions). */
#define OBJECT_CACHE_HISTORY       10000
#define OBJECT_CACHE_HISTORY_BYTES (4 * 1024 * 1024)

struct object_cache;

enum object_event_type { OBJECT_ADDED, OBJECT_MODIFIED, OBJECT_DELETED };
const char *object_event_type_to_string(enum object_event_type t); /* "ADDED", ... */

/* One cached object as bytes, immutable: what the cache keeps of it.
 * Every string is NUL-terminated and never NULL unless said so; "" stands
 * for a field the object lacks. Hold it with object_blob_ref(), let go with
 * object_blob_unref() (any thread: the count is atomic); it outlives the
 * cache and any change of the object. */
struct object_blob {
        const char *json; /* compact JSON with metadata.resourceVersion set */
        size_t len;       /* of json, without the NUL */
        int64_t mod_revision;
        /* Decoded once, for consumers that filter without a tree: */
        const char *kind, *ns, *name, *uid;
        const char *phase;  /* status.phase; NULL when absent or not a string */
        const char *labels; /* n_labels pairs "key\0value\0" (string values only) */
        const char *owners; /* n_owners triples "kind\0name\0uid\0" of ownerReferences */
        unsigned n_labels, n_owners;
        unsigned n_depends_on; /* entries of spec.dependsOn (a Task's) */
        bool deleting;         /* metadata.deletionTimestamp is set (not null) */
};

const struct object_blob *object_blob_ref(const struct object_blob *b); /* returns b; NULL ok */
void object_blob_unref(const struct object_blob *b);                    /* NULL ok */
/* A new tree of the object (caller json_decref, may modify it), NULL on OOM. */
json_t *object_blob_parse(const struct object_blob *b);
/* The value of label key, or NULL. */
const char *object_blob_label(const struct object_blob *b, const char *key);
/* Whether an ownerReference names the owner: by uid when owner_uid is set,
 * else by kind and name (reconciler's object_owned_by, on the summary). */
bool object_blob_owned_by(const struct object_blob *b, const char *owner_kind,
                          const char *owner_name, const char *owner_uid);
/* Unrefs n blobs and frees the array v (object_cache_list_blobs). v NULL ok. */
void object_blobs_release(const struct object_blob **v, size_t n);

/* One change. blob is the new state (for DELETED: the last state) as bytes,
 * with metadata.resourceVersion set to the revision (what a watch writes),
 * and its summary; borrowed for the duration of the callback
 * (object_blob_ref to keep). object_event_object() gives it as a tree. */
struct object_event {
        enum object_event_type type;
        const char *key;
        int64_t revision;
        const struct object_blob *blob;      /* the new state (DELETED: the last state) */
        const struct object_blob *prev_blob; /* MODIFIED: the state before; else NULL */
        /* No later change of this revision reaches this callback (on etcd
         * one transaction writes many keys at one revision; they come in
         * one batch, in key order). A stream that tells clients where to
         * resume marks only such a change. */
        bool revision_ends;
        struct object_event_trees *trees; /* the accessors' own */
};
struct object_event_trees;

/* The change's states as trees, parsed on the first call and shared by
 * every callback the change reaches (most decide on the blobs' summaries
 * and never ask). Borrowed for the callback (json_incref to keep); NULL
 * only when out of memory, or for prev when there is no prev_blob. */
const json_t *object_event_object(const struct object_event *ev);
const json_t *object_event_prev(const struct object_event *ev);

/* A new tree that shares everything with obj except the root and metadata,
 * whose resourceVersion becomes rev (e.g. the last state of a deleted object).
 * NULL on allocation failure. */
json_t *object_with_revision(const json_t *obj, int64_t rev);

/* Called for every change, in revision order, on the cache's thread, after the
 * cache has been updated. Must not block. */
typedef void (*object_event_fn)(const struct object_event *ev, void *userdata);

/* Lists prefix and watches it; relists when the watch fails or was compacted
 * (then emits ADDED/MODIFIED/DELETED for the differences; a DELETED found by a
 * relist carries the list's revision). The first list reaches the handler as
 * ADDED events. Values that are not JSON objects are left out. handler may be
 * NULL. Caller frees with object_cache_free(). */
int object_cache_new(struct store *store, const char *prefix, object_event_fn handler,
                     void *userdata, struct object_cache **ret, struct berth_error *err);
void object_cache_free(struct object_cache *c); /* stops the thread; NULL ok */
/* Lets the handler pass over changes it never looks at, by key, before
 * their trees are parsed (the controller: Events, three per Task run).
 * wants(key, handler's userdata) false: the handler is not called for
 * that change. NULL: every change. Changes delivered before the call were
 * not filtered. Subscribers (object_cache_subscribe) are not affected. */
void object_cache_set_handler_filter(struct object_cache *c,
                                     bool (*wants)(const char *key, void *userdata));

/* Blocks until the first list is in (or timeout_ms passed: -ETIMEDOUT;
 * timeout_ms < 0 waits without limit). */
int object_cache_wait_synced(struct object_cache *c, int timeout_ms);
/* Blocks until the cache has seen revision rev (read-your-writes after a store
 * write); -ETIMEDOUT after timeout_ms. Only writes under the cache's prefix
 * advance it (the store sends no progress notifications), so wait for the
 * revision of a write under the prefix. */
int object_cache_wait_revision(struct object_cache *c, int64_t rev, int timeout_ms);
int64_t object_cache_revision(struct object_cache *c);

/* A new tree of the object at key, parsed from its bytes (caller json_decref;
 * it is the caller's own), or NULL. *ret_mod_revision may be NULL. */
json_t *object_cache_get(struct object_cache *c, const char *key, int64_t *ret_mod_revision);
/* The object at key as bytes (caller object_blob_unref), or NULL. */
const struct object_blob *object_cache_get_blob(struct object_cache *c, const char *key);
/* Array of new trees of every object whose key starts with key_prefix, in
 * key order; *ret_revision (may be NULL) = the cache revision it reflects.
 * Parses every object: for small kinds, or when the caller needs them all;
 * filter on object_cache_list_blobs() first otherwise. */
json_t *object_cache_list(struct object_cache *c, const char *key_prefix, int64_t *ret_revision);
/* The same as blobs: *ret is an array of *ret_n references, in key order
 * (caller object_blobs_release; NULL when empty). Costs one reference per
 * object, under the lock for the copy only. -ENOMEM. */
int object_cache_list_blobs(struct object_cache *c, const char *key_prefix,
                            const struct object_blob ***ret, size_t *ret_n, int64_t *ret_revision);
/* Number of objects cached. */
size_t object_cache_size(struct object_cache *c);

struct object_cache_sub;

/* Subscribes to changes under key_prefix with revision > from_revision,
 * replaying from the history ring first. -ERANGE when from_revision is older
 * than the ring (the API answers 410 Gone: relist); the ring starts at the
 * first list, so 0 works only while it holds everything since revision 0.
 * The replay is delivered asynchronously, before any live event, and never
 * from inside this call. fn runs on the cache thread and must not block; it
 * may call object_cache_* (not the blocking waits) and unsubscribe itself.
 * Caller ends with object_cache_unsubscribe(). */
int object_cache_subscribe(struct object_cache *c, const char *key_prefix, int64_t from_revision,
                           object_event_fn fn, void *userdata, struct object_cache_sub **ret);
/* When it returns, fn is not running and will not be called again. NULL ok. */
void object_cache_unsubscribe(struct object_cache_sub *sub);

/* ---- container cache -------------------------------------------------- */

/* A container as berth sees it: identity from its labels, state from events
 * (create/start/die/destroy) or from inspect when details_known. */
struct container_info {
        char id[65];
        char name[256];
        char kind[32];      /* label berth.kind */
        char ns[64];        /* berth.namespace */
        char owner[64];     /* berth.name */
        char uid[40];       /* berth.uid */
        int attempt;        /* berth.attempt (a Task's); 0 when absent */
        int64_t generation; /* berth.generation */
        /* A Service's replica: berth.revision (rev8), berth.replica (-1 when
         * absent) and berth.ports ("http=18080,metrics=18090"). */
        char revision[17];
        int replica;
        char ports[192];
        enum docker_state state;
        enum docker_health health; /* from inspect, the list and health_status events */
        bool details_known;        /* exit_code/oom_killed/started/finished came from inspect */
        bool exit_known;           /* exit_code is known (from a die event or inspect) */
        int exit_code;
        bool oom_killed;
        int64_t started_ms;
        int64_t finished_ms;
};

struct container_cache;

/* Called after every change of a container, on the cache's thread. Must not block. */
typedef void (*container_event_fn)(const struct container_info *ci, bool removed, void *userdata);

/* Uses its own clone of d. Lists, then streams /events; on any stream error it
 * reconnects with backoff (200 ms doubling to 5 s), relists, and reports the
 * differences (containers gone → removed=true). Caller frees with
 * container_cache_free(). */
int container_cache_new(struct docker *d, container_event_fn handler, void *userdata,
                        struct container_cache **ret, struct berth_error *err);
/* The same, watching only containers with label_filter ("berth.cluster=<id>")
 * instead of every berth.managed=true container: berthd instances with separate
 * stores on one engine then never see (nor collect) each other's containers. */
int container_cache_new_filtered(struct docker *d, const char *label_filter,
                                 container_event_fn handler, void *userdata,
                                 struct container_cache **ret, struct berth_error *err);
void container_cache_free(struct container_cache *c); /* NULL ok */
int container_cache_wait_synced(struct container_cache *c, int timeout_ms);
/* True while the events stream is connected and the last relist succeeded. */
bool container_cache_connected(struct container_cache *c);

/* Copies of every container with label berth.uid == uid, by attempt ascending.
 * Caller frees *ret with free(). Returns the count (0 with *ret NULL if none). */
int container_cache_by_uid(struct container_cache *c, const char *uid, struct container_info **ret);
/* Copies of every container of the object kind/ns/name (labels berth.kind,
 * berth.namespace, berth.name: any uid, so also those of an older object of
 * that name), by attempt ascending. Like container_cache_by_uid otherwise. */
int container_cache_by_owner(struct container_cache *c, const char *kind, const char *ns,
                             const char *name, struct container_info **ret);
/* Copies of all containers (caller frees), by attempt ascending. Returns the count. */
int container_cache_all(struct container_cache *c, struct container_info **ret);
/* Write-through after our own create/start/inspect so that a reconcile that
 * runs before the event arrives sees what we did. Events never move a
 * container's state backwards (created < running < exited), and data from
 * inspect (details_known) is kept. */
/* Neither calls the handler (the caller knows what it did). Empty identity
 * fields of ci are left as they were. */
void container_cache_upsert(struct container_cache *c, const struct container_info *ci);
void container_cache_remove(struct container_cache *c, const char *id);
/* Parses identity and state of a container from the client type (labels
 * berth.*). -EINVAL if it lacks berth labels. Pure. */
int container_info_from_docker(const struct docker_container *dc, struct container_info *ret);

/* ---- directory watch -------------------------------------------------- */

/* A directory tree watched with inotify, reporting (debounced, coalesced)
 * that something in it changed: what a GitOps Source syncs from.
 *
 * - Every directory of the tree is watched (recursive); new subdirectories
 *   are watched as they appear, together with whatever they already hold (a
 *   `mkdir -p a/b/c && touch a/b/c/f` or a `git checkout` creating a
 *   populated tree counts as a change), removed or moved-out ones are
 *   dropped. Symlinked directories are never followed: a link leaving the
 *   tree is not watched (the root itself may be reached through symlinks;
 *   they are resolved each time it is armed). ignore_dirs names are never
 *   descended into.
 * - Editor noise is dropped: events about files named like swap, backup or
 *   temporary files (.*.swp .*.swo .*.swn .*.swx *~ .#* #*# 4913 *.tmp
 *   .goutputstream-* *___jb_tmp___ *___jb_old___) alone never call fn. An
 *   atomic rename-over (write a temporary file, rename it onto the target)
 *   is a change of the target.
 * - Events are debounced: fn runs once the tree was quiet for debounce_ms,
 *   and at the latest max_delay_ms after the first event of a burst, with
 *   the strongest reason seen since the previous call:
 *   ROOT_GONE / ROOT_BACK (the later of the two) > RESCAN > CHANGED.
 * - RESCAN: the watch may have missed something and the consumer must look
 *   at the whole tree: the kernel's event queue overflowed (the watches are
 *   rebuilt from a fresh walk first), a directory could not be watched
 *   (ENOSPC: out of inotify watches; EACCES), the tree holds more than
 *   DIR_WATCH_MAX_DIRS directories (reported once until the next rebuild),
 *   or the periodic rescan (every rescan_ms, which rebuilds the watches too:
 *   the safety net). dir_watch_take_error() says why, for the caller's log.
 * - ROOT_GONE: the root is missing (at dir_watch_new: reported once),
 *   deleted, moved away or unmounted. The nearest existing ancestor is then
 *   watched for the next path component to appear (no polling), and
 *   ROOT_BACK reports the root watched again (also when it was replaced
 *   within one burst): sync everything. While the root is missing nothing
 *   else is reported.
 *
 * Costs and limits: one thread and one inotify instance per watch (the
 * kernel allows 128 instances per user by default, fs.inotify.
 * max_user_instances), one inotify watch per directory (fs.inotify.
 * max_user_watches, shared by the whole user). Blocking in poll() with the
 * next deadline as timeout: idle costs nothing. Many watches sharing one
 * inotify fd and thread is the next step when Sources become many. Moving
 * an ancestor of the root while the root stays is not noticed until the
 * periodic rescan (only the root and what is below it are watched).
 */

#define DIR_WATCH_MAX_DIRS            100000
#define DIR_WATCH_DEFAULT_DEBOUNCE_MS 300
#define DIR_WATCH_DEFAULT_RESCAN_MS   (10 * 60 * 1000)
#define DIR_WATCH_MAX_DELAY_MIN_MS    1000
#define DIR_WATCH_DURATION_MAX_MS     (24LL * 60 * 60 * 1000)

struct dir_watch;

enum dir_watch_reason {
        DIR_WATCH_CHANGED, /* something under the root changed */
        DIR_WATCH_RESCAN,  /* overflow, failed watch, directory limit, periodic */
        DIR_WATCH_ROOT_GONE,
        DIR_WATCH_ROOT_BACK,
};
const char *dir_watch_reason_to_string(enum dir_watch_reason r); /* "Changed", "Rescan", ... */

/* Called on the watch's own thread after the debounce, with what happened
 * since the last call (the strongest reason). Must not block (enqueue a key)
 * and must not call dir_watch_free() on its own watch. */
typedef void (*dir_watch_fn)(enum dir_watch_reason reason, void *userdata);

struct dir_watch_opts {
        bool recursive;       /* false: the root's own entries only */
        int64_t debounce_ms;  /* quiet time after the last event before fn runs (0: at once) */
        int64_t max_delay_ms; /* fn runs at the latest this long after the first event of a
                               * burst; <= 0: 10 × debounce_ms, at least 1 s; never below
                               * debounce_ms */
        int64_t rescan_ms;    /* periodic DIR_WATCH_RESCAN; <= 0: none */
        const char *const *ignore_dirs; /* base names never descended into, e.g. ".git"
                                         * (NULL-terminated, may be NULL; copied) */
};

/* Watches root (an absolute path, shorter than PATH_MAX; copied) with opts (NULL:
 * recursive, DIR_WATCH_DEFAULT_DEBOUNCE_MS, DIR_WATCH_DEFAULT_RESCAN_MS, no
 * ignored names). The watches are in place when it returns (it walks the
 * tree on the caller's thread), so a sync done after it misses nothing. A
 * root that does not exist is not an error: fn gets ROOT_GONE. fn is not
 * called for the initial state of an existing root (but RESCAN when part of
 * it could not be watched). Durations must lie in
 * 0..DIR_WATCH_DURATION_MAX_MS. -EINVAL on bad arguments, -ENAMETOOLONG,
 * -EMFILE/-ENOMEM when no inotify instance or thread can be had. Caller frees
 * with dir_watch_free(). */
int dir_watch_new(const char *root, const struct dir_watch_opts *opts, dir_watch_fn fn,
                  void *userdata, struct dir_watch **ret, struct berth_error *err);
/* Stops the thread; when it returns fn is not running and will not be called
 * again. NULL ok. */
void dir_watch_free(struct dir_watch *w);
/* inotify watches held: one per watched directory, or 1 for the ancestor
 * watched while the root is missing (tests, metrics). */
size_t dir_watch_count(struct dir_watch *w);
/* Takes what went wrong since the last call (for the caller's log line: only
 * top layers log): the first problem in full — "watch /srv/m/x: No space
 * left on device", "inotify event queue overflowed", the directory limit —
 * and how many more followed. Returns its -errno and fills *ret (may be
 * NULL), or 0 when nothing went wrong. Any thread, fn included. */
int dir_watch_take_error(struct dir_watch *w, struct berth_error *ret);
