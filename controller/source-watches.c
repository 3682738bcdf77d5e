/* source-watches.c: the directory watches of Sources (see
 * controller-internal.h). A Source's reconcile asks for its watch on every
 * sync; the watch's thread only enqueues the key, so a burst of file changes
 * becomes one sync (the watch debounces). */
#include <pthread.h>

#include "controller-internal.h"
#include "watchers.h"

struct entry {
        struct source_watches *owner;
        char *key;
        char *path;
        bool recursive;
        int64_t debounce_ms, rescan_ms;
        struct dir_watch *watch;
};

struct source_watches {
        source_enqueue_fn enqueue;
        void *userdata;
        pthread_mutex_t lock; /* guards the array; never held while a watch is freed */
        struct entry **v;
        size_t n, cap;
};

struct source_watches *source_watches_new(source_enqueue_fn enqueue, void *userdata)
{
        struct source_watches *w = calloc(1, sizeof(*w));

        if (!w)
                return NULL;
        w->enqueue = enqueue;
        w->userdata = userdata;
        pthread_mutex_init(&w->lock, NULL);
        return w;
}

static void entry_free(struct entry *e)
{
        if (!e)
                return;
        dir_watch_free(e->watch); /* joins its thread: no callback after this */
        free(e->key);
        free(e->path);
        free(e);
}

void source_watches_free(struct source_watches *w)
{
        if (!w)
                return;
        for (size_t i = 0; i < w->n; i++)
                entry_free(w->v[i]);
        free(w->v);
        pthread_mutex_destroy(&w->lock);
        free(w);
}

size_t source_watches_count(struct source_watches *w)
{
        pthread_mutex_lock(&w->lock);
        size_t n = w->n;
        pthread_mutex_unlock(&w->lock);
        return n;
}

static void on_change(enum dir_watch_reason reason, void *userdata)
{
        struct entry *e = userdata;
        struct berth_error err = {0};

        if (reason == DIR_WATCH_RESCAN && dir_watch_take_error(e->watch, &err) < 0)
                log_warn("source watch: %s key=%s", err.message, e->key);
        e->owner->enqueue(e->owner->userdata, e->key);
}

/* Index of key, or w->n. Caller holds the lock. */
static size_t find(struct source_watches *w, const char *key)
{
        size_t i = 0;

        while (i < w->n && !streq(w->v[i]->key, key))
                i++;
        return i;
}

static bool same(const struct entry *e, const struct source_spec *spec)
{
        return streq(e->path, spec->path) && e->recursive == spec->recursive &&
               e->debounce_ms == spec->debounce_ms && e->rescan_ms == spec->rescan_ms;
}

/* Takes the entry of key out (NULL when none), to free without the lock. */
static struct entry *take(struct source_watches *w, const char *key)
{
        size_t i = find(w, key);
        struct entry *e = NULL;

        if (i < w->n) {
                e = w->v[i];
                w->v[i] = w->v[--w->n];
        }
        return e;
}

void source_watches_set(void *userdata, const char *key, const struct source_spec *spec)
{
        struct source_watches *w = userdata;
        static const char *const ignore[] = {".git", NULL};
        struct entry *old, *e;
        struct berth_error err = {0};

        pthread_mutex_lock(&w->lock);
        size_t i = find(w, key);
        if (spec && i < w->n && same(w->v[i], spec)) {
                pthread_mutex_unlock(&w->lock);
                return;
        }
        old = take(w, key);
        pthread_mutex_unlock(&w->lock);
        entry_free(old);
        if (!spec)
                return;

        e = calloc(1, sizeof(*e));
        if (!e || !(e->key = strdup(key)) || !(e->path = strdup(spec->path))) {
                entry_free(e);
                log_error("source watch: out of memory key=%s", key);
                return;
        }
        e->owner = w;
        e->recursive = spec->recursive;
        e->debounce_ms = spec->debounce_ms;
        e->rescan_ms = spec->rescan_ms;
        const struct dir_watch_opts opts = {
            .recursive = spec->recursive,
            .debounce_ms = spec->debounce_ms,
            .rescan_ms = spec->rescan_ms,
            .ignore_dirs = ignore,
        };
        /* A missing path is watched too: its return is reported. */
        if (dir_watch_new(spec->path, &opts, on_change, e, &e->watch, &err) < 0) {
                log_warn("source watch: %s key=%s", err.message, key);
                entry_free(e);
                return;
        }
        pthread_mutex_lock(&w->lock);
        /* Two workers never reconcile one key at once: nobody added it meanwhile. */
        struct entry **v = w->n < w->cap ? w->v : realloc(w->v, (w->cap * 2 + 4) * sizeof(*v));
        if (v) {
                if (v != w->v)
                        w->cap = w->cap * 2 + 4;
                w->v = v;
                w->v[w->n++] = e;
                e = NULL;
        }
        pthread_mutex_unlock(&w->lock);
        if (e) {
                log_error("source watch: out of memory key=%s", key);
                entry_free(e);
        }
}
