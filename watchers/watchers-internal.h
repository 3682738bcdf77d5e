/* watchers-internal: what the files of this module share, and seams for its
 * tests (not part of the public contract; nothing outside watchers/ and its
 * tests may include it). */
#pragma once

#include <pthread.h>
#include <time.h>

#include "watchers.h"

/* ---- test seams ---------------------------------------------------------- */

/* Like object_cache_new() with a history ring of at most 'history' events and
 * 'history_bytes' of stored JSON instead of OBJECT_CACHE_HISTORY(_BYTES), so
 * that tests can overflow it cheaply. history >= 1. */
int object_cache_new_with_history(struct store *store, const char *prefix, size_t history,
                                  size_t history_bytes, object_event_fn handler, void *userdata,
                                  struct object_cache **ret, struct berth_error *err);

/* Simulates a lost watch: hold=true cancels the store watch and keeps the cache
 * from relisting (it misses every change meanwhile); returns once the watch is
 * gone. hold=false lets it relist, diff and watch again, as after a watch error
 * or a compaction. */
void object_cache_test_hold(struct object_cache *c, bool hold);

/* Number of stored values that could not be parsed as JSON objects (those keys
 * are left out of the cache). */
size_t object_cache_invalid_count(struct object_cache *c);

/* Number of relists done (1 after the first list). */
unsigned object_cache_relist_count(struct object_cache *c);

/* ---- both caches --------------------------------------------------------- */

/* Room for one more element in the array v of size-byte elements, n used of
 * *cap: v itself while there is, else v grown to twice *cap (first when
 * empty) with *cap updated. NULL on OOM, leaving v and *cap as they were. */
static inline void *watchers_grow(void *v, size_t n, size_t *cap, size_t size, size_t first)
{
        if (n < *cap)
                return v;
        size_t new_cap = *cap ? *cap * 2 : first;
        void *nv = reallocarray(v, new_cap, size);
        if (nv)
                *cap = new_cap;
        return nv;
}

/* Waits up to ms on cond (which shares mu with *stop, a clock-monotonic
 * condition) unless *stop is or becomes set; returns *stop. Takes mu. */
static inline bool watchers_sleep_unless_stopped(pthread_mutex_t *mu, pthread_cond_t *cond,
                                                 const bool *stop, int ms)
{
        struct timespec ts;

        time_mono_deadline(&ts, ms);
        pthread_mutex_lock(mu);
        while (!*stop && pthread_cond_timedwait(cond, mu, &ts) != ETIMEDOUT)
                ;
        bool stopped = *stop;
        pthread_mutex_unlock(mu);
        return stopped;
}

/* ---- the object cache: object-cache.c and object-cache-subs.c ------------ */
/*
 * object-cache.c keeps the map and runs the list + watch loop on the cache
 * thread; object-cache-subs.c keeps the history ring, the subscriptions that
 * resume from it, and delivers each batch. Threads and locks: see
 * object-cache.c.
 */

/* A new blob of obj (a JSON object with metadata.resourceVersion set) at
 * mod_revision: its compact JSON and summary. NULL on OOM. */
const struct object_blob *object_blob_new(const json_t *obj, int64_t mod_revision);
/* The reference count (tests). */
unsigned object_blob_refcount(const struct object_blob *b);

/* One change as the ring keeps it and the delivery loop hands it out (an
 * owned struct object_event, as bytes: the trees are parsed at delivery). */
struct cache_event {
        enum object_event_type type;
        char *key;
        const struct object_blob *obj;
        const struct object_blob *prev; /* MODIFIED: the state before; else NULL */
        int64_t rev;
        size_t bytes; /* of obj's JSON: the ring's measure */
};

/* A growable array of events. */
struct cache_events {
        struct cache_event *v;
        size_t n, cap;
};

struct cache_entry;   /* the map's entries (object-cache.c) */
struct cache_pending; /* raw store events for the cache thread (object-cache.c) */

struct object_cache_sub {
        struct object_cache *c;
        char *prefix;
        object_event_fn fn;
        void *userdata;
        /* Live events with rev <= last_rev are covered by the replay. */
        int64_t last_rev;
        struct cache_event *replay; /* delivered by the cache thread before any live event */
        size_t n_replay;
        bool dead; /* unsubscribed from a callback; freed after the batch */
        struct object_cache_sub *next;
};

struct object_cache {
        struct store *store;
        char *prefix;
        object_event_fn handler;
        bool (*handler_wants)(const char *key, void *userdata); /* under deliver_mu */
        void *userdata;

        pthread_t thread;
        bool thread_started;
        pthread_mutex_t deliver_mu;
        pthread_mutex_t mu;
        pthread_cond_t work;    /* wakes the cache thread */
        pthread_cond_t changed; /* revision, synced or watch state changed */

        /* Under mu: */
        struct cache_entry *entries; /* sorted by key (strcmp) */
        size_t n, cap;
        struct cache_event *ring;
        size_t ring_cap, ring_head, ring_n;
        size_t ring_bytes, ring_bytes_max;
        int64_t ring_base; /* every event with rev > ring_base is in the ring */
        int64_t revision;
        bool synced;
        size_t invalid;
        unsigned relists;
        struct cache_pending *queue;
        size_t nq, capq;
        bool watch_failed;
        bool replay_pending;
        bool stop;
        bool hold, watch_dropped;
        bool delivering;
        pthread_t delivering_thread;

        /* Under deliver_mu (and mu for changes by other threads): */
        struct object_cache_sub *subs;

        /* Cache thread only: */
        struct store_watch *watch;
};

/* Frees what e holds and clears it. */
void cache_event_release(struct cache_event *e);
/* Frees every event and the array, and clears it. */
void cache_events_release(struct cache_events *b);
/* Appends an event with a copy of key and new references to obj and prev. */
int cache_events_push(struct cache_events *b, enum object_event_type type, const char *key,
                      const struct object_blob *obj, const struct object_blob *prev, int64_t rev,
                      size_t bytes);

/* Caller holds mu. Appends a copy of e to the ring, dropping the oldest
 * events beyond its count or byte bound (ring_base moves past them). */
int object_cache_ring_push(struct object_cache *c, const struct cache_event *e);
/* Frees the ring's events and the ring (object_cache_free). */
void object_cache_ring_release(struct object_cache *c);

/* Cache thread, holding deliver_mu but not mu: hands the replays queued by
 * object_cache_subscribe, then the batch evs, to the handler and to the live
 * subscriptions whose prefix matches and that have not seen them. */
void object_cache_deliver(struct object_cache *c, const struct cache_events *evs);
/* Caller holds mu (and deliver_mu): frees the subscriptions unsubscribed from
 * a callback during the batch. */
void object_cache_reap_subs(struct object_cache *c);
/* Frees every subscription (object_cache_free; no thread is left). */
void object_cache_free_subs(struct object_cache *c);

/* ---- the directory watch: debounce.c, dir-watch-names.c, dir-watch.c ----- */

/* The debounce of a dir_watch, pure: every function takes the time (ms of a
 * monotonic clock) instead of reading a clock, so that tests drive it.
 *
 * A burst starts with the first event after a fire and ends (fires) when
 * no event came for quiet_ms, or max_delay_ms after its first event,
 * whichever is first. Its reason is the strongest seen
 * (dir_watch_reason_merge). The periodic rescan is a timer of its own,
 * re-armed rescan_ms after every fire that was a RESCAN or stronger (each
 * such fire followed a full walk); when it comes due during a burst it joins
 * the burst (its reason becomes at least RESCAN) instead of firing in the
 * middle of it, else it fires RESCAN at once. */
struct debounce {
        int64_t quiet_ms;
        int64_t max_delay_ms;
        int64_t rescan_ms; /* <= 0: none */
        bool pending;      /* a burst is under way */
        enum dir_watch_reason reason;
        int64_t first_ms, last_ms; /* of the burst's events */
        int64_t rescan_at_ms;      /* -1: not armed */
};

/* quiet_ms >= 0. max_delay_ms <= 0 takes 10 × quiet_ms, at least
 * DIR_WATCH_MAX_DELAY_MIN_MS; a max_delay_ms below quiet_ms becomes quiet_ms.
 * The first periodic rescan is due rescan_ms after now_ms. */
void debounce_init(struct debounce *d, int64_t quiet_ms, int64_t max_delay_ms, int64_t rescan_ms,
                   int64_t now_ms);
/* The stronger of two reasons, old first: a root event beats the others and
 * the later root event wins (the root's last state); RESCAN beats CHANGED. */
enum dir_watch_reason dir_watch_reason_merge(enum dir_watch_reason old, enum dir_watch_reason new);
void debounce_event(struct debounce *d, int64_t now_ms, enum dir_watch_reason reason);
/* When debounce_fire() next has something to do (ms, same clock), or -1 for
 * never (no burst, no periodic rescan). May be in the past. */
int64_t debounce_deadline(const struct debounce *d);
/* Whether the periodic rescan is due (the caller rebuilds before firing). */
bool debounce_rescan_due(const struct debounce *d, int64_t now_ms);
/* True when fn must run now, with *ret_reason; the burst is then over. */
bool debounce_fire(struct debounce *d, int64_t now_ms, enum dir_watch_reason *ret_reason);

/* Whether a file named name is editor or tool noise (swap, backup, lock and
 * temporary files; the list is in watchers.h). Pure. */
bool dir_watch_name_is_noise(const char *name);

/* Test seams of the directory watch. */
struct dir_watch_ops {
        /* inotify_add_watch(2) as the watch calls it: a wd, or -1 with errno. */
        int (*add_watch)(int fd, const char *path, uint32_t mask, void *userdata);
        void *userdata;
        size_t max_dirs; /* 0: DIR_WATCH_MAX_DIRS */
};

/* dir_watch_new() with ops (NULL: the real ones). */
int dir_watch_new_with_ops(const char *root, const struct dir_watch_opts *opts,
                           const struct dir_watch_ops *ops, dir_watch_fn fn, void *userdata,
                           struct dir_watch **ret, struct berth_error *err);
/* Makes the watch thread act as if the kernel had reported IN_Q_OVERFLOW. */
void dir_watch_test_overflow(struct dir_watch *w);
