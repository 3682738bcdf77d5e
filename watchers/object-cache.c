/* object_cache: one list + watch over a store prefix, kept as a sorted array of
 * objects as bytes (object_blob: object-blob.c) plus a ring of recent events
 * for watch resume (the ring and the subscriptions: object-cache-subs.c).
 * Trees are parsed on demand: a stored value is parsed once when it arrives
 * (to check it, set its resourceVersion and decode the summary), serialized
 * into its blob, and the tree dropped.
 *
 * Threads: the store's watch thread only queues raw events (it must not block);
 * the cache thread applies them to the map and the ring under 'mu' and then
 * delivers them, without 'mu', to the handler and the subscriptions. All
 * delivery happens on the cache thread while it holds 'deliver_mu', which also
 * guards the subscription list, so that subscribe/unsubscribe from other
 * threads wait for a batch to finish. Lock order: deliver_mu, then mu.
 * Callbacks may call any object_cache_* function except the blocking waits for
 * something that only the cache thread can bring (it would wait for itself).
 */
#include "manifests.h"
#include "watchers-internal.h"

#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <time.h>

#define RELIST_BACKOFF_MIN_MS 200
#define RELIST_BACKOFF_MAX_MS 5000

struct cache_entry {
        char *key;
        const struct object_blob *obj; /* metadata.resourceVersion = mod_rev */
        int64_t mod_rev;
        size_t bytes; /* length of the stored JSON: the history ring's measure */
};

/* A raw store event waiting for the cache thread. */
struct cache_pending {
        enum store_event_type type;
        char *key;
        char *value;
        size_t value_len;
        int64_t rev;
};

/* The result of a list, parsed outside the lock. */
struct listing {
        struct cache_entry *v;
        size_t n;
        int64_t rev;
};

const char *object_event_type_to_string(enum object_event_type t)
{
        switch (t) {
        case OBJECT_ADDED:
                return "ADDED";
        case OBJECT_MODIFIED:
                return "MODIFIED";
        case OBJECT_DELETED:
                return "DELETED";
        }
        return "UNKNOWN";
}

/* ---- helpers ---------------------------------------------------------- */

static void entry_release(struct cache_entry *e)
{
        free(e->key);
        object_blob_unref(e->obj);
}

static void listing_release(struct listing *l)
{
        for (size_t i = 0; i < l->n; i++)
                entry_release(&l->v[i]);
        free(l->v);
        *l = (struct listing){0};
}

static void pending_release(struct cache_pending *p)
{
        free(p->key);
        free(p->value);
}

static int set_resource_version(json_t *o, int64_t rev)
{
        char buf[24];

        snprintf(buf, sizeof(buf), "%" PRId64, rev);
        json_t *md = json_object_get(o, "metadata");
        if (!json_is_object(md)) {
                md = json_object();
                if (!md || json_object_set_new(o, "metadata", md) < 0)
                        return -ENOMEM;
        }
        return json_object_set_new(md, "resourceVersion", json_string(buf)) < 0 ? -ENOMEM : 0;
}

/* An object's growing data (a Workflow's step results; object_data_key) is
 * not an object: its owner reads it from the store when it needs it, and no
 * replica holds it in memory. */
static bool is_data_key(const struct object_cache *c, const char *key)
{
        return object_key_is_data(c->prefix, key);
}

/* A new blob from a stored value. -EINVAL when it is not a JSON object,
 * -ENOMEM. */
static int object_parse(const char *value, size_t len, int64_t rev, const struct object_blob **ret)
{
        _cleanup_json_ json_t *o = json_loadb(value, len, 0, NULL);
        if (!json_is_object(o))
                return -EINVAL;
        if (set_resource_version(o, rev) < 0)
                return -ENOMEM;
        *ret = object_blob_new(o, rev);
        return *ret ? 0 : -ENOMEM;
}

/* The blob of the last state of an object deleted at rev: b with its
 * resourceVersion moved to rev. NULL on OOM. */
static const struct object_blob *blob_with_revision(const struct object_blob *b, int64_t rev)
{
        _cleanup_json_ json_t *o = object_blob_parse(b);
        if (!o || set_resource_version(o, rev) < 0)
                return NULL;
        return object_blob_new(o, rev);
}

json_t *object_with_revision(const json_t *obj, int64_t rev)
{
        _cleanup_json_ json_t *o = json_copy((json_t *)obj);
        if (!o)
                return NULL;
        json_t *md = json_object_get(o, "metadata");
        if (json_is_object(md)) {
                json_t *md2 = json_copy(md);
                if (!md2 || json_object_set_new(o, "metadata", md2) < 0)
                        return NULL;
        }
        if (set_resource_version(o, rev) < 0)
                return NULL;
        return TAKE_PTR(o);
}

/* Index of key, or of where it would go (lower bound). Caller holds mu. */
static bool find(const struct object_cache *c, const char *key, size_t *ret_idx)
{
        size_t lo = 0, hi = c->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(c->entries[mid].key, key) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *ret_idx = lo;
        return lo < c->n && strcmp(c->entries[lo].key, key) == 0;
}

/* Index of the first key after every key starting with prefix (upper
 * bound), searched from lo, the lower bound of prefix: the keys with the
 * prefix are contiguous, so a list costs no string compare per entry.
 * Caller holds mu. */
static size_t find_prefix_end(const struct object_cache *c, const char *prefix, size_t lo)
{
        size_t len = strlen(prefix), hi = c->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strncmp(c->entries[mid].key, prefix, len) <= 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

/* ---- applying changes (caller holds mu) -------------------------------- */

static int entries_reserve(struct object_cache *c)
{
        struct cache_entry *v = watchers_grow(c->entries, c->n, &c->cap, sizeof(*v), 64);
        if (!v)
                return -ENOMEM;
        c->entries = v;
        return 0;
}

/* Steals obj. */
static int apply_put(struct object_cache *c, const char *key, const struct object_blob *obj,
                     int64_t rev, size_t bytes, struct cache_events *evs)
{
        size_t i;

        if (find(c, key, &i)) {
                struct cache_entry *e = &c->entries[i];
                if (e->mod_rev == rev) {
                        object_blob_unref(obj);
                        return 0;
                }
                const struct object_blob *prev = e->obj;
                e->obj = obj;
                e->mod_rev = rev;
                e->bytes = bytes;
                int r = cache_events_push(evs, OBJECT_MODIFIED, key, obj, prev, rev, bytes);
                object_blob_unref(prev);
                return r;
        }
        char *k = strdup(key);
        if (!k || entries_reserve(c) < 0) {
                free(k);
                object_blob_unref(obj);
                return -ENOMEM;
        }
        memmove(&c->entries[i + 1], &c->entries[i], (c->n - i) * sizeof(c->entries[0]));
        c->entries[i] = (struct cache_entry){.key = k, .obj = obj, .mod_rev = rev, .bytes = bytes};
        c->n++;
        return cache_events_push(evs, OBJECT_ADDED, key, obj, NULL, rev, bytes);
}

static int apply_delete(struct object_cache *c, const char *key, int64_t rev,
                        struct cache_events *evs)
{
        size_t i;

        if (!find(c, key, &i))
                return 0;
        const struct object_blob *last = blob_with_revision(c->entries[i].obj, rev);
        if (!last)
                return -ENOMEM;
        size_t bytes = c->entries[i].bytes;
        entry_release(&c->entries[i]);
        memmove(&c->entries[i], &c->entries[i + 1], (c->n - i - 1) * sizeof(c->entries[0]));
        c->n--;
        int r = cache_events_push(evs, OBJECT_DELETED, key, last, NULL, rev, bytes);
        object_blob_unref(last);
        return r;
}

static int apply_pending(struct object_cache *c, struct cache_pending *q, size_t nq,
                         struct cache_events *evs)
{
        int ret = 0;

        for (size_t i = 0; i < nq; i++) {
                int r = 0;
                if (is_data_key(c, q[i].key)) {
                        /* seen (the revision moves on), not cached */
                } else if (q[i].type == STORE_EVENT_PUT) {
                        const struct object_blob *obj = NULL;
                        r = object_parse(q[i].value, q[i].value_len, q[i].rev, &obj);
                        if (r == 0) {
                                r = apply_put(c, q[i].key, obj, q[i].rev, q[i].value_len, evs);
                        } else if (r == -EINVAL) {
                                /* Not an object any more: it leaves the cache. */
                                c->invalid++;
                                r = apply_delete(c, q[i].key, q[i].rev, evs);
                        }
                } else {
                        r = apply_delete(c, q[i].key, q[i].rev, evs);
                }
                if (r < 0)
                        ret = r;
                if (q[i].rev > c->revision)
                        c->revision = q[i].rev;
        }
        return ret;
}

static int event_cmp(const void *a, const void *b)
{
        const struct cache_event *x = a, *y = b;
        if (x->rev != y->rev)
                return x->rev < y->rev ? -1 : 1;
        return strcmp(x->key, y->key);
}

static int entry_cmp(const void *a, const void *b)
{
        return strcmp(((const struct cache_entry *)a)->key, ((const struct cache_entry *)b)->key);
}

/* Replaces the map with a listing (stolen) and records the differences. */
static int apply_listing(struct object_cache *c, struct listing *l, struct cache_events *evs)
{
        size_t i = 0, j = 0;
        int ret = 0;

        while (i < c->n || j < l->n) {
                int cmp = i == c->n ? 1 : j == l->n ? -1 : strcmp(c->entries[i].key, l->v[j].key);
                int r = 0;
                if (cmp < 0) {
                        const struct object_blob *last =
                            blob_with_revision(c->entries[i].obj, l->rev);
                        r = last ? cache_events_push(evs, OBJECT_DELETED, c->entries[i].key, last,
                                                     NULL, l->rev, c->entries[i].bytes)
                                 : -ENOMEM;
                        object_blob_unref(last);
                        i++;
                } else if (cmp > 0) {
                        r = cache_events_push(evs, OBJECT_ADDED, l->v[j].key, l->v[j].obj, NULL,
                                              l->v[j].mod_rev, l->v[j].bytes);
                        j++;
                } else {
                        if (c->entries[i].mod_rev == l->v[j].mod_rev) {
                                /* Unchanged: keep the blob readers may already hold. */
                                object_blob_unref(l->v[j].obj);
                                l->v[j].obj = object_blob_ref(c->entries[i].obj);
                        } else {
                                r = cache_events_push(evs, OBJECT_MODIFIED, l->v[j].key,
                                                      l->v[j].obj, c->entries[i].obj,
                                                      l->v[j].mod_rev, l->v[j].bytes);
                        }
                        i++;
                        j++;
                }
                if (r < 0)
                        ret = r;
        }

        int64_t rev = l->rev;
        for (size_t k = 0; k < c->n; k++)
                entry_release(&c->entries[k]);
        free(c->entries);
        c->entries = l->v;
        c->n = c->cap = l->n;
        *l = (struct listing){0};

        if (evs->n > 1)
                qsort(evs->v, evs->n, sizeof(evs->v[0]), event_cmp);
        if (c->relists == 0) {
                /* The first list is no history: watches resume from here on. */
                c->ring_base = rev;
        } else {
                for (size_t k = 0; k < evs->n; k++) {
                        int r = object_cache_ring_push(c, &evs->v[k]);
                        if (r < 0)
                                ret = r;
                }
        }
        if (rev > c->revision)
                c->revision = rev;
        c->relists++;
        c->synced = true;
        return ret;
}

/* ---- one step of the cache thread -------------------------------------- */

/* Applies one batch of raw events or one listing under mu, then delivers the
 * pending replays and the resulting events without mu. */
static int cache_step(struct object_cache *c, struct cache_pending *q, size_t nq, struct listing *l)
{
        struct cache_events evs = {0};
        int r;

        pthread_mutex_lock(&c->deliver_mu);
        pthread_mutex_lock(&c->mu);
        c->delivering = true;
        c->delivering_thread = pthread_self();
        c->replay_pending = false;
        r = l ? apply_listing(c, l, &evs) : apply_pending(c, q, nq, &evs);
        if (!l) {
                for (size_t i = 0; r == 0 && i < evs.n; i++)
                        r = object_cache_ring_push(c, &evs.v[i]);
        }
        if (r < 0)
                /* Out of memory half way: the map may have missed a change, so
                 * start again from a fresh list. */
                c->watch_failed = true;
        pthread_cond_broadcast(&c->changed);
        pthread_mutex_unlock(&c->mu);

        object_cache_deliver(c, &evs);

        pthread_mutex_lock(&c->mu);
        c->delivering = false;
        object_cache_reap_subs(c);
        pthread_mutex_unlock(&c->mu);
        pthread_mutex_unlock(&c->deliver_mu);
        cache_events_release(&evs);
        return r;
}

/* ---- watch and list ----------------------------------------------------- */

/* On the store's thread: queue and return, never block on users. */
static void on_watch(const struct store_event *events, size_t n, int error, void *userdata)
{
        struct object_cache *c = userdata;

        pthread_mutex_lock(&c->mu);
        if (error) {
                c->watch_failed = true;
                goto out;
        }
        for (size_t i = 0; i < n; i++) {
                const struct store_event *e = &events[i];
                struct cache_pending *q = watchers_grow(c->queue, c->nq, &c->capq, sizeof(*q), 64);
                if (!q) {
                        c->watch_failed = true;
                        goto out;
                }
                c->queue = q;
                struct cache_pending p = {.type = e->type, .rev = e->kv.mod_revision};
                p.key = strdup(e->kv.key);
                if (e->type == STORE_EVENT_PUT) {
                        p.value = malloc(e->kv.value_len + 1);
                        if (p.value) {
                                memcpy(p.value, e->kv.value, e->kv.value_len);
                                p.value[e->kv.value_len] = '\0';
                                p.value_len = e->kv.value_len;
                        }
                }
                if (!p.key || (e->type == STORE_EVENT_PUT && !p.value)) {
                        pending_release(&p);
                        c->watch_failed = true;
                        goto out;
                }
                c->queue[c->nq++] = p;
        }
out:
        pthread_cond_signal(&c->work);
        pthread_mutex_unlock(&c->mu);
}

static int listing_from_kvs(struct object_cache *c, const struct store_kvs *kvs,
                            struct listing *ret)
{
        struct listing l = {.rev = kvs->revision};
        size_t invalid = 0;

        if (kvs->n > 0) {
                l.v = calloc(kvs->n, sizeof(*l.v));
                if (!l.v)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < kvs->n; i++) {
                const struct store_kv *kv = &kvs->items[i];
                if (is_data_key(c, kv->key))
                        continue;
                const struct object_blob *obj = NULL;
                int r = object_parse(kv->value, kv->value_len, kv->mod_revision, &obj);
                if (r == -EINVAL) {
                        invalid++;
                        continue;
                }
                char *k = r == 0 ? strdup(kv->key) : NULL;
                if (!k) {
                        object_blob_unref(obj);
                        listing_release(&l);
                        return -ENOMEM;
                }
                l.v[l.n++] = (struct cache_entry){
                    .key = k, .obj = obj, .mod_rev = kv->mod_revision, .bytes = kv->value_len};
        }
        /* The store lists in key order; sorting again costs little and keeps
         * the binary search right whatever the backend does. */
        if (l.n > 1)
                qsort(l.v, l.n, sizeof(l.v[0]), entry_cmp);

        pthread_mutex_lock(&c->mu);
        c->invalid += invalid;
        pthread_mutex_unlock(&c->mu);
        *ret = l;
        return 0;
}

/* A list is the largest transient of the process: every stored value at
 * once, and each object's tree while its blob is built and while its event
 * is delivered. Freed, it leaves the heap full of holes below the blobs that
 * stayed, which malloc keeps (about as much as the cache itself:
 * docs/internals/performance-cache.md); give those pages back. Relists are
 * rare, the walk costs milliseconds. */
static void release_free_memory(void)
{
#ifdef __GLIBC__
        (void)malloc_trim(0);
#endif
}

/* Lists, diffs and starts a new watch, retrying with backoff while the store
 * fails. Returns with a watch, or without one when the cache is stopping. */
static void cache_relist(struct object_cache *c)
{
        int delay = RELIST_BACKOFF_MIN_MS;

        for (;;) {
                struct store_kvs kvs = {0};
                int r = store_list(c->store, c->prefix, 0, &kvs, NULL);
                if (r >= 0) {
                        struct listing l = {0};
                        int64_t listed = kvs.revision;
                        r = listing_from_kvs(c, &kvs, &l);
                        /* The values are in the blobs now: free them before
                         * the (long) delivery of the differences. */
                        store_kvs_release(&kvs);
                        if (r >= 0) {
                                r = cache_step(c, NULL, 0, &l);
                                listing_release(&l);
                        }
                        if (r >= 0) {
                                pthread_mutex_lock(&c->mu);
                                c->watch_failed = false;
                                pthread_mutex_unlock(&c->mu);
                                r = store_watch(c->store, c->prefix, listed + 1, on_watch, c,
                                                &c->watch, NULL);
                        }
                        if (r >= 0) {
                                release_free_memory();
                                return;
                        }
                }

                if (watchers_sleep_unless_stopped(&c->mu, &c->work, &c->stop, delay))
                        return;
                delay = delay * 2 > RELIST_BACKOFF_MAX_MS ? RELIST_BACKOFF_MAX_MS : delay * 2;
        }
}

static void *cache_thread(void *arg)
{
        struct object_cache *c = arg;

        pthread_mutex_lock(&c->mu);
        while (!c->stop) {
                if (c->nq > 0 || c->replay_pending) {
                        struct cache_pending *q = c->queue;
                        size_t nq = c->nq;
                        c->queue = NULL;
                        c->nq = c->capq = 0;
                        pthread_mutex_unlock(&c->mu);
                        (void)cache_step(c, q, nq, NULL);
                        for (size_t i = 0; i < nq; i++)
                                pending_release(&q[i]);
                        free(q);
                        pthread_mutex_lock(&c->mu);
                        continue;
                }
                if ((c->watch_failed || c->hold) && c->watch) {
                        /* Events it queued before it ended are applied first. */
                        pthread_mutex_unlock(&c->mu);
                        store_watch_cancel(c->watch);
                        c->watch = NULL;
                        pthread_mutex_lock(&c->mu);
                        continue;
                }
                if (c->hold) {
                        if (!c->watch_dropped) {
                                c->watch_dropped = true;
                                pthread_cond_broadcast(&c->changed);
                        }
                        pthread_cond_wait(&c->work, &c->mu);
                        continue;
                }
                if (!c->watch) {
                        pthread_mutex_unlock(&c->mu);
                        cache_relist(c);
                        pthread_mutex_lock(&c->mu);
                        continue;
                }
                pthread_cond_wait(&c->work, &c->mu);
        }
        pthread_mutex_unlock(&c->mu);
        store_watch_cancel(c->watch);
        c->watch = NULL;
        return NULL;
}

/* ---- public API ------------------------------------------------------- */

int object_cache_new_with_history(struct store *store, const char *prefix, size_t history,
                                  size_t history_bytes, object_event_fn handler, void *userdata,
                                  struct object_cache **ret, struct berth_error *err)
{
        int r;

        if (!store || !prefix || history == 0 || !ret)
                return berth_error_set(err, -EINVAL, "object cache: invalid argument");

        struct object_cache *c = calloc(1, sizeof(*c));
        if (!c)
                return berth_error_set(err, -ENOMEM, "object cache: out of memory");
        c->store = store;
        c->handler = handler;
        c->userdata = userdata;
        c->ring_cap = history;
        c->ring_bytes_max = history_bytes;
        pthread_mutex_init(&c->deliver_mu, NULL);
        pthread_mutex_init(&c->mu, NULL);
        cond_init_monotonic(&c->work);
        cond_init_monotonic(&c->changed);

        c->prefix = strdup(prefix);
        c->ring = calloc(history, sizeof(*c->ring));
        if (!c->prefix || !c->ring) {
                object_cache_free(c);
                return berth_error_set(err, -ENOMEM, "object cache: out of memory");
        }
        r = pthread_create(&c->thread, NULL, cache_thread, c);
        if (r != 0) {
                object_cache_free(c);
                return berth_error_set(err, -r, "object cache: start thread: %s", strerror(r));
        }
        c->thread_started = true;
        *ret = c;
        return 0;
}

int object_cache_new(struct store *store, const char *prefix, object_event_fn handler,
                     void *userdata, struct object_cache **ret, struct berth_error *err)
{
        return object_cache_new_with_history(store, prefix, OBJECT_CACHE_HISTORY,
                                             OBJECT_CACHE_HISTORY_BYTES, handler, userdata, ret,
                                             err);
}

void object_cache_free(struct object_cache *c)
{
        if (!c)
                return;
        if (c->thread_started) {
                pthread_mutex_lock(&c->mu);
                c->stop = true;
                pthread_cond_broadcast(&c->work);
                pthread_cond_broadcast(&c->changed);
                pthread_mutex_unlock(&c->mu);
                pthread_join(c->thread, NULL);
        }
        store_watch_cancel(c->watch);
        for (size_t i = 0; i < c->n; i++)
                entry_release(&c->entries[i]);
        free(c->entries);
        object_cache_ring_release(c);
        for (size_t i = 0; i < c->nq; i++)
                pending_release(&c->queue[i]);
        free(c->queue);
        object_cache_free_subs(c);
        pthread_cond_destroy(&c->work);
        pthread_cond_destroy(&c->changed);
        pthread_mutex_destroy(&c->mu);
        pthread_mutex_destroy(&c->deliver_mu);
        free(c->prefix);
        free(c);
}

/* Waits under mu until done(c) or the timeout (< 0: none). */
static int wait_for(struct object_cache *c, bool (*done)(const struct object_cache *, int64_t),
                    int64_t arg, int timeout_ms)
{
        struct timespec ts;
        int r = 0;

        if (timeout_ms >= 0)
                time_mono_deadline(&ts, timeout_ms);
        pthread_mutex_lock(&c->mu);
        while (!done(c, arg)) {
                if (c->stop) {
                        r = -ECANCELED;
                        break;
                }
                if (timeout_ms < 0) {
                        pthread_cond_wait(&c->changed, &c->mu);
                } else if (pthread_cond_timedwait(&c->changed, &c->mu, &ts) == ETIMEDOUT) {
                        r = done(c, arg) ? 0 : -ETIMEDOUT;
                        break;
                }
        }
        pthread_mutex_unlock(&c->mu);
        return r;
}

static bool is_synced(const struct object_cache *c, _unused_ int64_t arg)
{
        return c->synced;
}

static bool has_revision(const struct object_cache *c, int64_t rev)
{
        return c->synced && c->revision >= rev;
}

int object_cache_wait_synced(struct object_cache *c, int timeout_ms)
{
        return wait_for(c, is_synced, 0, timeout_ms);
}

int object_cache_wait_revision(struct object_cache *c, int64_t rev, int timeout_ms)
{
        return wait_for(c, has_revision, rev, timeout_ms);
}

int64_t object_cache_revision(struct object_cache *c)
{
        LOCK_SCOPE(&c->mu);
        return c->revision;
}

const struct object_blob *object_cache_get_blob(struct object_cache *c, const char *key)
{
        const struct object_blob *b = NULL;
        size_t i;

        if (!key)
                return NULL;
        pthread_mutex_lock(&c->mu);
        if (find(c, key, &i))
                b = object_blob_ref(c->entries[i].obj);
        pthread_mutex_unlock(&c->mu);
        return b;
}

json_t *object_cache_get(struct object_cache *c, const char *key, int64_t *ret_mod_revision)
{
        /* Parsed outside the lock: the reference keeps the bytes. */
        const struct object_blob *b = object_cache_get_blob(c, key);
        if (!b)
                return NULL;
        json_t *obj = object_blob_parse(b);
        if (obj && ret_mod_revision)
                *ret_mod_revision = b->mod_revision;
        object_blob_unref(b);
        return obj;
}

int object_cache_list_blobs(struct object_cache *c, const char *key_prefix,
                            const struct object_blob ***ret, size_t *ret_n, int64_t *ret_revision)
{
        const char *prefix = key_prefix ? key_prefix : "";
        const struct object_blob **v = NULL;
        size_t i, first, n = 0;

        pthread_mutex_lock(&c->mu);
        find(c, prefix, &first);
        n = find_prefix_end(c, prefix, first) - first;
        if (n > 0) {
                v = malloc(n * sizeof(*v));
                if (!v) {
                        pthread_mutex_unlock(&c->mu);
                        return -ENOMEM;
                }
                for (i = 0; i < n; i++)
                        v[i] = object_blob_ref(c->entries[first + i].obj);
        }
        if (ret_revision)
                *ret_revision = c->revision;
        pthread_mutex_unlock(&c->mu);
        *ret = v;
        *ret_n = n;
        return 0;
}

json_t *object_cache_list(struct object_cache *c, const char *key_prefix, int64_t *ret_revision)
{
        const struct object_blob **v = NULL;
        size_t n = 0;
        int64_t rev;

        if (object_cache_list_blobs(c, key_prefix, &v, &n, &rev) < 0)
                return NULL;
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < n; i++) {
                if (json_array_append_new(arr, object_blob_parse(v[i])) < 0) {
                        json_decref(arr);
                        arr = NULL;
                }
        }
        object_blobs_release(v, n);
        if (arr && ret_revision)
                *ret_revision = rev;
        return arr;
}

size_t object_cache_size(struct object_cache *c)
{
        LOCK_SCOPE(&c->mu);
        return c->n;
}

/* ---- test seams ------------------------------------------------------- */

void object_cache_test_hold(struct object_cache *c, bool hold)
{
        pthread_mutex_lock(&c->mu);
        c->hold = hold;
        c->watch_dropped = false;
        pthread_cond_signal(&c->work);
        while (hold && !c->watch_dropped && !c->stop)
                pthread_cond_wait(&c->changed, &c->mu);
        pthread_mutex_unlock(&c->mu);
}

size_t object_cache_invalid_count(struct object_cache *c)
{
        LOCK_SCOPE(&c->mu);
        return c->invalid;
}

unsigned object_cache_relist_count(struct object_cache *c)
{
        LOCK_SCOPE(&c->mu);
        return c->relists;
}
