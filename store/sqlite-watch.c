/* store sqlite watches: the dispatcher thread holds a cursor per watch and, after
 * each commit signal, reads the log rows past that cursor (history and live events
 * come from the same log, so there is never a gap nor a duplicate between them)
 * and calls the watch callbacks, without any lock held. The watch that waited
 * longest goes first, one batch at a time.
 */
#include "sqlite-internal.h"

/* A watch callback gets at most this many events (or bytes of values) at once,
 * so that replaying a long history neither holds the store lock nor memory for long. */
#define WATCH_BATCH_MAX   256
#define WATCH_BATCH_BYTES (4 * 1024 * 1024)

struct sq_watch {
        struct store_watch base;
        struct sq_watch *next;
        char *prefix;
        char *end;       /* NULL: no upper bound */
        int64_t cursor;  /* next revision to deliver; dispatcher-owned once listed */
        uint64_t served; /* round-robin stamp */
        bool cancelled;
        bool done;       /* error delivered, no more calls */
        bool free_after; /* cancelled from its own callback: the dispatcher frees it */
};

void sq_notify_watchers(struct sq_store *s, int64_t rev)
{
        LOCK_SCOPE(&s->wlock);
        if (rev > s->notified_rev) {
                s->notified_rev = rev;
                pthread_cond_broadcast(&s->wcond);
        }
}

struct batch {
        struct store_event *events;
        size_t n;
        size_t cap;
        size_t bytes;
        int64_t next_cursor;
};

static int batch_add_row(struct batch *b, sqlite3_stmt *st)
{
        if (b->n == b->cap) {
                size_t ncap = b->cap ? b->cap * 2 : 16;
                struct store_event *e = reallocarray(b->events, ncap, sizeof(*e));
                if (!e)
                        return -ENOMEM;
                b->events = e;
                b->cap = ncap;
        }
        struct store_event *e = &b->events[b->n++];
        bool deleted = sqlite3_column_int64(st, 4) != 0;
        *e = (struct store_event){
            .type = deleted ? STORE_EVENT_DELETE : STORE_EVENT_PUT,
            .kv.mod_revision = sqlite3_column_int64(st, 0),
        };
        if (!deleted) {
                e->kv.create_revision = sqlite3_column_int64(st, 3);
                e->kv.lease = sqlite3_column_int64(st, 5);
                e->kv.version = sqlite3_column_int64(st, 6);
        }
        int r = sq_kv_set_key(&e->kv, st, 1);
        if (r >= 0 && !deleted)
                r = sq_kv_set_value(&e->kv, st, 2);
        if (r < 0)
                return r;
        b->bytes += e->kv.value_len;
        if (sqlite3_column_type(st, 7) != SQLITE_NULL) {
                e->prev_kv = (struct store_kv){
                    .mod_revision = sqlite3_column_int64(st, 7),
                    .create_revision = sqlite3_column_int64(st, 9),
                    .lease = sqlite3_column_int64(st, 10),
                    .version = sqlite3_column_int64(st, 11),
                };
                r = sq_kv_set_key(&e->prev_kv, st, 1);
                if (r >= 0)
                        r = sq_kv_set_value(&e->prev_kv, st, 8);
                if (r < 0)
                        return r;
                b->bytes += e->prev_kv.value_len;
        }
        return 0;
}

/* Reads the next events of w from the log. Dispatcher only (it owns w->cursor). */
static int read_batch(struct sq_store *s, struct sq_watch *w, struct batch *b)
{
        LOCK_SCOPE(&s->lock);
        if (w->cursor < s->compact_rev)
                return STORE_ERR_COMPACTED;
        int64_t upto = s->rev;
        _cleanup_stmt_ sqlite3_stmt *st = s->stmt[ST_WATCH_READ];
        sqlite3_bind_int64(st, 1, w->cursor);
        sq_bind_range(st, 2, 3, w->prefix, w->end);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (b->n >= WATCH_BATCH_MAX || b->bytes >= WATCH_BATCH_BYTES) {
                        b->next_cursor = b->events[b->n - 1].kv.mod_revision + 1;
                        return 0;
                }
                int r = batch_add_row(b, st);
                if (r < 0)
                        return r;
        }
        if (rc != SQLITE_DONE)
                return sq_errno(rc);
        b->next_cursor = upto + 1;
        return 0;
}

/* The listed watch that waited longest among those with something to do. */
static struct sq_watch *pick_watch(struct sq_store *s)
{
        struct sq_watch *best = NULL;
        for (struct sq_watch *w = s->watches; w; w = w->next) {
                if (w->done || w->cursor > s->notified_rev)
                        continue;
                if (!best || w->served < best->served)
                        best = w;
        }
        return best;
}

static void watch_free(struct sq_watch *w)
{
        if (!w)
                return;
        free(w->prefix);
        free(w->end);
        free(w);
}

static void *dispatcher_main(void *userdata)
{
        struct sq_store *s = userdata;
        pthread_mutex_lock(&s->wlock);
        while (!s->wstop) {
                struct sq_watch *w = pick_watch(s);
                if (!w) {
                        pthread_cond_wait(&s->wcond, &s->wlock);
                        continue;
                }
                s->running = w;
                w->served = ++s->served;
                pthread_mutex_unlock(&s->wlock);

                struct batch b = {0};
                int error = read_batch(s, w, &b);

                pthread_mutex_lock(&s->wlock);
                if (!w->cancelled && (error < 0 || b.n > 0)) {
                        pthread_mutex_unlock(&s->wlock);
                        /* A value that does not inflate ends the watch too. */
                        int r = store_watch_deliver(&w->base, b.events, b.n, error);
                        if (error == 0)
                                error = r;
                        pthread_mutex_lock(&s->wlock);
                }
                if (error < 0)
                        w->done = true;
                else
                        w->cursor = b.next_cursor;
                s->running = NULL;
                if (w->free_after)
                        watch_free(w);
                pthread_cond_broadcast(&s->wcond);
                pthread_mutex_unlock(&s->wlock);
                store_events_free(b.events, b.n);
                pthread_mutex_lock(&s->wlock);
        }
        pthread_mutex_unlock(&s->wlock);
        return NULL;
}

int sq_watch(struct store *base, const char *prefix, int64_t from_revision, store_watch_fn fn,
             void *userdata, struct store_watch **ret, struct berth_error *err)
{
        struct sq_store *s = SQ(base);
        struct sq_watch *w = calloc(1, sizeof(*w));
        if (!w)
                return berth_error_set(err, -ENOMEM, "store: watch %s: out of memory", prefix);
        w->base = (struct store_watch){.store = base, .fn = fn, .userdata = userdata};
        w->prefix = strdup(prefix);
        if (!w->prefix || store_prefix_end(prefix, &w->end) < 0) {
                watch_free(w);
                return berth_error_set(err, -ENOMEM, "store: watch %s: out of memory", prefix);
        }
        if (from_revision > 0) {
                w->cursor = from_revision;
        } else {
                LOCK_SCOPE(&s->lock);
                w->cursor = s->rev + 1;
        }

        LOCK_SCOPE(&s->wlock);
        w->served = s->served;
        struct sq_watch **tail = &s->watches;
        while (*tail)
                tail = &(*tail)->next;
        *tail = w;
        pthread_cond_broadcast(&s->wcond);
        *ret = &w->base;
        return 0;
}

void sq_watch_cancel(struct store_watch *base)
{
        struct sq_watch *w = container_of(base, struct sq_watch, base);
        struct sq_store *s = SQ(base->store);
        {
                LOCK_SCOPE(&s->wlock);
                for (struct sq_watch **p = &s->watches; *p; p = &(*p)->next) {
                        if (*p == w) {
                                *p = w->next;
                                break;
                        }
                }
                w->cancelled = true;
                if (s->running == w && pthread_equal(pthread_self(), s->dispatcher)) {
                        /* From its own callback (not allowed by the contract, but
                         * harmless here): the dispatcher frees it on return. */
                        w->free_after = true;
                        return;
                }
                while (s->running == w)
                        pthread_cond_wait(&s->wcond, &s->wlock);
        }
        watch_free(w);
}

int sq_dispatcher_start(struct sq_store *s)
{
        int r = -pthread_create(&s->dispatcher, NULL, dispatcher_main, s);
        s->dispatcher_started = r == 0;
        return r;
}

void sq_dispatcher_stop(struct sq_store *s)
{
        if (s->dispatcher_started) {
                {
                        LOCK_SCOPE(&s->wlock);
                        s->wstop = true;
                        pthread_cond_broadcast(&s->wcond);
                }
                pthread_join(s->dispatcher, NULL);
        }
        while (s->watches) {
                struct sq_watch *w = s->watches;
                s->watches = w->next;
                watch_free(w);
        }
}
