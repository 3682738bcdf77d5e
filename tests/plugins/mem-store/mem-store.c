/* memstore: an in-memory store plugin (berth-plugin.h, "Store plugins"), the
 * one the store conformance suite and an integration test run berthd on.
 *
 * Built like any out-of-tree plugin, with berth-plugin.h alone. URL:
 * "memstore:" (nothing after the colon; anything else is refused, which the
 * tests use for a store that fails to open). Nothing is kept when the store
 * is closed.
 *
 * The model is a revision log, as the SQLite backend keeps: every write (one
 * per op, txns included) appends a record with the next revision to its key's
 * chain of records (newest first) and to the log (revision order, what
 * watches replay). Reads at a revision walk a key's chain to the newest
 * record at or before it. Compaction at R frees what no read at R or later
 * and no watch from R can need: per key, the records older than its newest
 * one before R (that one is the key's state at R and the prev_kv of its
 * first event from R), and the log before R.
 *
 * One mutex guards everything; ops run under it on the caller's thread. One
 * thread per store delivers watch events (copies, with the mutex released)
 * and expires leases at their deadlines, sleeping on a condition until the
 * next deadline or a write. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "berth-plugin.h"

/* Built as "memstore"; the tests build variants (tests/plugins/CMakeLists.txt):
 * MEM_NAME, MEM_NO_LIST_PAGE (berthd pages with list), MEM_NO_WATCH (refused). */
#ifndef MEM_NAME
#define MEM_NAME "memstore"
#endif

#define MEM_TXN_OPS_MAX   4096
#define MEM_TXN_BYTES_MAX (64 * 1024 * 1024)
#define MEM_BATCH_MAX     512 /* events per watch callback */

struct mkey;

struct rec {
        int64_t rev;
        bool del;
        char *value; /* NULL for a delete */
        size_t len;
        int64_t create, version, lease;
        struct rec *older; /* the key's previous record */
        struct mkey *k;
};

struct mkey {
        char *key;
        struct rec *latest;
};

struct lease {
        int64_t id;
        int64_t ttl_ms;
        int64_t deadline_ms; /* CLOCK_MONOTONIC */
};

struct mwatch {
        char *prefix;
        int64_t next; /* next revision to deliver */
        berth_store_watch_fn fn;
        void *host;
        bool done; /* an error ended it */
        struct mwatch *link;
};

struct mem {
        const struct berth_host *host;
        pthread_mutex_t lock;
        pthread_cond_t cond; /* a write, a watch, a lease, a delivery done, stop */
        pthread_t thread;
        bool stop;
        int64_t rev, compact_rev;
        struct mkey **keys; /* sorted by key */
        size_t n_keys, cap_keys;
        struct rec **log; /* revision order; from compact_rev on */
        size_t n_log, cap_log;
        struct lease *leases;
        size_t n_leases, cap_leases;
        int64_t last_lease;
        struct mwatch *watches;
        struct mwatch *delivering; /* whose callback runs now, on thread */
};

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fail(struct berth_store_status *st, int r, const char *message)
{
        if (st && st->message && st->message_size > 0)
                snprintf(st->message, st->message_size, "%s", message);
        return r;
}

static bool grow(void **v, size_t *cap, size_t n, size_t size)
{
        if (n < *cap)
                return true;
        size_t c = *cap ? *cap * 2 : 64;
        void *nv = realloc(*v, c * size);
        if (!nv)
                return false;
        *v = nv;
        *cap = c;
        return true;
}

/* ---- keys and records (under lock) --------------------------------------- */

/* Index of the first key >= key. */
static size_t lower_bound(struct mem *m, const char *key)
{
        size_t lo = 0, hi = m->n_keys;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(m->keys[mid]->key, key) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static struct mkey *find_key(struct mem *m, const char *key)
{
        size_t i = lower_bound(m, key);
        return i < m->n_keys && strcmp(m->keys[i]->key, key) == 0 ? m->keys[i] : NULL;
}

/* The live record of k now (NULL: missing or deleted). */
static struct rec *live(const struct mkey *k)
{
        return k && k->latest && !k->latest->del ? k->latest : NULL;
}

/* k's record at revision at (NULL: it did not exist then). */
static struct rec *at_revision(const struct mkey *k, int64_t at)
{
        struct rec *r = k->latest;
        while (r && r->rev > at)
                r = r->older;
        return r && !r->del ? r : NULL;
}

static struct mkey *key_get_or_add(struct mem *m, const char *key)
{
        size_t i = lower_bound(m, key);
        if (i < m->n_keys && strcmp(m->keys[i]->key, key) == 0)
                return m->keys[i];
        if (!grow((void **)&m->keys, &m->cap_keys, m->n_keys, sizeof(*m->keys)))
                return NULL;
        struct mkey *k = calloc(1, sizeof(*k));
        if (!k || !(k->key = strdup(key))) {
                free(k);
                return NULL;
        }
        memmove(&m->keys[i + 1], &m->keys[i], (m->n_keys - i) * sizeof(*m->keys));
        m->keys[i] = k;
        m->n_keys++;
        return k;
}

/* Appends a put (value) or a delete (value NULL, del) of key at the next
 * revision. -ENOMEM leaves everything as it was. */
static int append(struct mem *m, const char *key, const void *value, size_t len, bool del,
                  int64_t lease, int64_t *ret_rev)
{
        if (!grow((void **)&m->log, &m->cap_log, m->n_log, sizeof(*m->log)))
                return -ENOMEM;
        struct mkey *k = key_get_or_add(m, key);
        struct rec *r = calloc(1, sizeof(*r));
        if (!k || !r) {
                free(r);
                return -ENOMEM; /* an added key without records is harmless */
        }
        if (!del) {
                r->value = malloc(len ? len : 1);
                if (!r->value) {
                        free(r);
                        return -ENOMEM;
                }
                if (len)
                        memcpy(r->value, value, len);
        }
        struct rec *cur = live(k);
        r->rev = ++m->rev;
        r->del = del;
        r->len = del ? 0 : len;
        r->create = cur ? cur->create : r->rev;
        r->version = del ? 0 : cur ? cur->version + 1 : 1;
        r->lease = del ? 0 : lease;
        r->older = k->latest;
        r->k = k;
        k->latest = r;
        m->log[m->n_log++] = r;
        pthread_cond_broadcast(&m->cond);
        if (ret_rev)
                *ret_rev = r->rev;
        return 0;
}

/* A live lease: one past its deadline is dead, whether or not the thread
 * has deleted its keys yet. */
static struct lease *find_lease(struct mem *m, int64_t id)
{
        for (size_t i = 0; i < m->n_leases; i++)
                if (m->leases[i].id == id)
                        return m->leases[i].deadline_ms > now_ms() ? &m->leases[i] : NULL;
        return NULL;
}

/* Deletes the keys of lease id (key order), then the lease. */
static void lease_end(struct mem *m, struct lease *l)
{
        int64_t id = l->id;
        *l = m->leases[--m->n_leases];
        for (size_t i = 0; i < m->n_keys; i++) {
                struct rec *r = live(m->keys[i]);
                if (r && r->lease == id)
                        (void)append(m, m->keys[i]->key, NULL, 0, true, 0, NULL);
        }
}

static int guard_holds(struct mem *m, const struct berth_store_guard *g)
{
        if (!g)
                return 0;
        struct rec *r = live(find_key(m, g->key));
        return r && r->rev == g->mod_revision ? 0 : -EPERM;
}

static int compare(const struct rec *cur, int64_t expected, struct berth_store_status *st)
{
        int64_t found = cur ? cur->rev : 0;
        if (expected == BERTH_STORE_ANY_REVISION || found == expected)
                return 0;
        st->found_revision = found;
        return -ESTALE;
}

/* ---- ops ------------------------------------------------------------------- */

static int mem_get(void *store, const char *key, struct berth_store_sink *sink,
                   struct berth_store_status *st)
{
        struct mem *m = store;
        (void)st;
        pthread_mutex_lock(&m->lock);
        struct rec *r = live(find_key(m, key));
        int rc = -ENOENT;
        if (r) {
                struct berth_store_kv kv = {key,    r->value,   r->len,  r->create,
                                            r->rev, r->version, r->lease};
                rc = sink->add(sink, &kv);
        }
        pthread_mutex_unlock(&m->lock);
        return rc;
}

static int mem_list_page(void *store, const char *prefix, const char *after, int64_t revision,
                         size_t limit, struct berth_store_sink *sink, int64_t *ret_revision,
                         int32_t *ret_more, struct berth_store_status *st)
{
        struct mem *m = store;
        size_t plen = strlen(prefix);
        int rc = 0;
        pthread_mutex_lock(&m->lock);
        if (revision > m->rev) {
                rc = fail(st, -EINVAL, "future revision");
                goto out;
        }
        if (revision != 0 && revision < m->compact_rev) {
                rc = fail(st, -ERANGE, "revision compacted");
                goto out;
        }
        int64_t at = revision ? revision : m->rev;
        size_t i = lower_bound(m, prefix), added = 0;
        int32_t more = 0;
        if (after && strcmp(after, prefix) >= 0) {
                i = lower_bound(m, after);
                if (i < m->n_keys && strcmp(m->keys[i]->key, after) == 0)
                        i++;
        }
        for (; i < m->n_keys && strncmp(m->keys[i]->key, prefix, plen) == 0; i++) {
                struct rec *r = at_revision(m->keys[i], at);
                if (!r)
                        continue;
                if (limit > 0 && added == limit) {
                        more = 1;
                        break;
                }
                struct berth_store_kv kv = {m->keys[i]->key, r->value,   r->len,  r->create,
                                            r->rev,          r->version, r->lease};
                rc = sink->add(sink, &kv);
                if (rc < 0)
                        goto out;
                added++;
        }
        *ret_revision = at;
        if (ret_more)
                *ret_more = more;
out:
        pthread_mutex_unlock(&m->lock);
        return rc;
}

static int mem_list(void *store, const char *prefix, int64_t revision,
                    struct berth_store_sink *sink, int64_t *ret_revision,
                    struct berth_store_status *st)
{
        return mem_list_page(store, prefix, NULL, revision, 0, sink, ret_revision, NULL, st);
}

static int mem_put(void *store, const char *key, const void *value, size_t value_len,
                   int64_t expected, int64_t lease, const struct berth_store_guard *guard,
                   int64_t *ret_revision, struct berth_store_status *st)
{
        struct mem *m = store;
        pthread_mutex_lock(&m->lock);
        int rc = guard_holds(m, guard);
        if (rc == 0)
                rc = compare(live(find_key(m, key)), expected, st);
        if (rc == 0 && lease != 0 && !find_lease(m, lease))
                rc = -ENOENT;
        if (rc == 0)
                rc = append(m, key, value, value_len, false, lease, ret_revision);
        pthread_mutex_unlock(&m->lock);
        return rc;
}

static int mem_del(void *store, const char *key, int64_t expected,
                   const struct berth_store_guard *guard, int64_t *ret_revision,
                   struct berth_store_status *st)
{
        struct mem *m = store;
        pthread_mutex_lock(&m->lock);
        int rc = guard_holds(m, guard);
        struct rec *cur = live(find_key(m, key));
        if (rc == 0 && !cur)
                rc = -ENOENT;
        if (rc == 0)
                rc = compare(cur, expected, st);
        if (rc == 0)
                rc = append(m, key, NULL, 0, true, 0, ret_revision);
        pthread_mutex_unlock(&m->lock);
        return rc;
}

static int mem_txn(void *store, const struct berth_store_op *ops, size_t n,
                   const struct berth_store_guard *guard, int64_t *ret_revisions,
                   struct berth_store_status *st)
{
        struct mem *m = store;
        pthread_mutex_lock(&m->lock);
        int rc = guard_holds(m, guard);
        /* Keys are distinct: every compare can be made before any write. */
        for (size_t i = 0; rc == 0 && i < n; i++) {
                struct rec *cur = live(find_key(m, ops[i].key));
                if (ops[i].type == BERTH_STORE_OP_DELETE && !cur)
                        rc = -ENOENT;
                if (rc == 0)
                        rc = compare(cur, ops[i].expected_mod_revision, st);
                if (rc == 0 && ops[i].type == BERTH_STORE_OP_PUT && ops[i].lease != 0 &&
                    !find_lease(m, ops[i].lease))
                        rc = -ENOENT;
                if (rc < 0)
                        st->failed_op = i;
        }
        /* -ENOMEM half-way would leave half a txn: room in the log is made
         * first (a failed key or value allocation after it is not undone). */
        if (rc == 0 && !grow((void **)&m->log, &m->cap_log, m->n_log + n, sizeof(*m->log)))
                rc = -ENOMEM;
        for (size_t i = 0; rc == 0 && i < n; i++) {
                ret_revisions[i] = 0;
                if (ops[i].type == BERTH_STORE_OP_PUT)
                        rc = append(m, ops[i].key, ops[i].value, ops[i].value_len, false,
                                    ops[i].lease, &ret_revisions[i]);
                else if (ops[i].type == BERTH_STORE_OP_DELETE)
                        rc = append(m, ops[i].key, NULL, 0, true, 0, &ret_revisions[i]);
        }
        pthread_mutex_unlock(&m->lock);
        return rc;
}

static int mem_revision(void *store, int64_t *ret_revision, struct berth_store_status *st)
{
        struct mem *m = store;
        (void)st;
        pthread_mutex_lock(&m->lock);
        *ret_revision = m->rev;
        pthread_mutex_unlock(&m->lock);
        return 0;
}

static void rec_free(struct rec *r)
{
        free(r->value);
        free(r);
}

static int mem_compact(void *store, int64_t revision, struct berth_store_status *st)
{
        struct mem *m = store;
        pthread_mutex_lock(&m->lock);
        if (revision > m->rev) {
                pthread_mutex_unlock(&m->lock);
                return fail(st, -EINVAL, "future revision");
        }
        if (revision <= m->compact_rev) {
                pthread_mutex_unlock(&m->lock);
                return 0;
        }
        size_t drop = 0;
        while (drop < m->n_log && m->log[drop]->rev < revision)
                drop++;
        memmove(m->log, m->log + drop, (m->n_log - drop) * sizeof(*m->log));
        m->n_log -= drop;
        size_t kept = 0;
        for (size_t i = 0; i < m->n_keys; i++) {
                struct mkey *k = m->keys[i];
                struct rec **p = &k->latest;
                while (*p && (*p)->rev >= revision)
                        p = &(*p)->older;
                /* *p: the newest record before revision; older ones go. */
                if (*p) {
                        struct rec *old = (*p)->older;
                        (*p)->older = NULL;
                        while (old) {
                                struct rec *o = old->older;
                                rec_free(old);
                                old = o;
                        }
                }
                if (k->latest && k->latest->del && k->latest->rev < revision) {
                        rec_free(k->latest);
                        k->latest = NULL;
                }
                if (!k->latest) {
                        free(k->key);
                        free(k);
                        continue;
                }
                m->keys[kept++] = k;
        }
        m->n_keys = kept;
        m->compact_rev = revision;
        pthread_cond_broadcast(&m->cond);
        pthread_mutex_unlock(&m->lock);
        return 0;
}

static int mem_lease_grant(void *store, int64_t ttl_seconds, int64_t *ret_id,
                           struct berth_store_status *st)
{
        struct mem *m = store;
        (void)st;
        pthread_mutex_lock(&m->lock);
        int rc = -ENOMEM;
        if (grow((void **)&m->leases, &m->cap_leases, m->n_leases, sizeof(*m->leases))) {
                struct lease *l = &m->leases[m->n_leases++];
                *l = (struct lease){.id = ++m->last_lease, .ttl_ms = ttl_seconds * 1000};
                l->deadline_ms = now_ms() + l->ttl_ms;
                *ret_id = l->id;
                pthread_cond_broadcast(&m->cond); /* a nearer deadline */
                rc = 0;
        }
        pthread_mutex_unlock(&m->lock);
        return rc;
}

static int mem_lease_keepalive(void *store, int64_t id, struct berth_store_status *st)
{
        struct mem *m = store;
        (void)st;
        pthread_mutex_lock(&m->lock);
        struct lease *l = find_lease(m, id);
        if (l)
                l->deadline_ms = now_ms() + l->ttl_ms;
        pthread_mutex_unlock(&m->lock);
        return l ? 0 : -ENOENT;
}

static int mem_lease_revoke(void *store, int64_t id, struct berth_store_status *st)
{
        struct mem *m = store;
        (void)st;
        pthread_mutex_lock(&m->lock);
        struct lease *l = find_lease(m, id);
        if (l)
                lease_end(m, l);
        pthread_mutex_unlock(&m->lock);
        return l ? 0 : -ENOENT;
}

/* ---- watches ----------------------------------------------------------------- */

/* unused: MEM_NO_WATCH leaves it out of the ops */
__attribute__((unused)) static int mem_watch(void *store, const char *prefix, int64_t from_revision,
                                             berth_store_watch_fn fn, void *host_watch,
                                             void **ret_watch, struct berth_store_status *st)
{
        struct mem *m = store;
        struct mwatch *w = calloc(1, sizeof(*w));
        if (!w || !(w->prefix = strdup(prefix))) {
                free(w);
                return fail(st, -ENOMEM, "out of memory");
        }
        w->fn = fn;
        w->host = host_watch;
        pthread_mutex_lock(&m->lock);
        w->next = from_revision ? from_revision : m->rev + 1;
        w->link = m->watches;
        m->watches = w;
        pthread_cond_broadcast(&m->cond);
        pthread_mutex_unlock(&m->lock);
        *ret_watch = w;
        return 0;
}

static void watch_free(struct mwatch *w)
{
        free(w->prefix);
        free(w);
}

static void mem_watch_cancel(void *store, void *watch)
{
        struct mem *m = store;
        struct mwatch *w = watch;
        pthread_mutex_lock(&m->lock);
        /* From the delivery thread it is another watch's callback: w is not
         * being delivered. From elsewhere, wait for w's callback to end. */
        if (!pthread_equal(pthread_self(), m->thread))
                while (m->delivering == w)
                        pthread_cond_wait(&m->cond, &m->lock);
        for (struct mwatch **p = &m->watches; *p; p = &(*p)->link)
                if (*p == w) {
                        *p = w->link;
                        break;
                }
        pthread_mutex_unlock(&m->lock);
        watch_free(w);
}

/* One callback's worth of events, copied out of the store. */
struct batch {
        struct berth_store_event ev[MEM_BATCH_MAX];
        size_t n;
};

static void batch_release(struct batch *b)
{
        for (size_t i = 0; i < b->n; i++) {
                free((void *)b->ev[i].kv.key);
                free((void *)b->ev[i].kv.value);
                free((void *)b->ev[i].prev_kv.value);
        }
        b->n = 0;
}

static void *dup_bytes(const void *p, size_t len)
{
        void *d = malloc(len ? len : 1);
        if (d && len)
                memcpy(d, p, len);
        return d;
}

/* Fills b with w's next events (under lock); w->next moves past what was
 * looked at. -ENOMEM: b holds what was copied so far. */
static int batch_fill(struct mem *m, struct mwatch *w, struct batch *b)
{
        size_t lo = 0, hi = m->n_log, plen = strlen(w->prefix);
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (m->log[mid]->rev < w->next)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        for (size_t i = lo; i < m->n_log && b->n < MEM_BATCH_MAX; i++) {
                struct rec *r = m->log[i];
                w->next = r->rev + 1;
                if (strncmp(r->k->key, w->prefix, plen) != 0)
                        continue;
                struct berth_store_event *e = &b->ev[b->n];
                struct rec *p = r->older && !r->older->del ? r->older : NULL;
                *e = (struct berth_store_event){
                    .type = r->del ? BERTH_STORE_EVENT_DELETE : BERTH_STORE_EVENT_PUT,
                    .kv = {.key = strdup(r->k->key),
                           .value = r->del ? NULL : dup_bytes(r->value, r->len),
                           .value_len = r->len,
                           .create_revision = r->create,
                           .mod_revision = r->rev,
                           .version = r->version,
                           .lease = r->lease},
                };
                if (p)
                        e->prev_kv = (struct berth_store_kv){.key = e->kv.key,
                                                             .value = dup_bytes(p->value, p->len),
                                                             .value_len = p->len,
                                                             .create_revision = p->create,
                                                             .mod_revision = p->rev,
                                                             .version = p->version,
                                                             .lease = p->lease};
                b->n++;
                if (!e->kv.key || (!r->del && !e->kv.value) || (p && !e->prev_kv.value))
                        return -ENOMEM;
        }
        if (b->n < MEM_BATCH_MAX)
                w->next = m->rev + 1; /* the whole log was looked at */
        return 0;
}

static void *mem_thread(void *arg)
{
        struct mem *m = arg;
        struct batch *b = calloc(1, sizeof(*b));
        pthread_mutex_lock(&m->lock);
        while (!m->stop) {
                int64_t now = now_ms(), next_deadline = -1;
                for (size_t i = 0; i < m->n_leases;) {
                        if (m->leases[i].deadline_ms <= now) {
                                lease_end(m, &m->leases[i]);
                                continue; /* the last one moved to i */
                        }
                        if (next_deadline < 0 || m->leases[i].deadline_ms < next_deadline)
                                next_deadline = m->leases[i].deadline_ms;
                        i++;
                }
                struct mwatch *w = m->watches;
                while (w && (w->done || (w->next > m->rev && w->next >= m->compact_rev)))
                        w = w->link;
                if (!w) {
                        if (next_deadline < 0) {
                                pthread_cond_wait(&m->cond, &m->lock);
                        } else {
                                struct timespec ts = {.tv_sec = next_deadline / 1000,
                                                      .tv_nsec = (next_deadline % 1000) * 1000000};
                                pthread_cond_timedwait(&m->cond, &m->lock, &ts);
                        }
                        continue;
                }
                int error = 0;
                if (!b)
                        error = -ENOMEM;
                else if (w->next < m->compact_rev)
                        error = -ERANGE;
                else
                        error = batch_fill(m, w, b);
                if (error)
                        w->done = true;
                m->delivering = w;
                pthread_mutex_unlock(&m->lock);
                if (b && b->n > 0 && !error)
                        w->fn(w->host, b->ev, b->n, 0);
                if (error)
                        w->fn(w->host, NULL, 0, error);
                if (b)
                        batch_release(b);
                pthread_mutex_lock(&m->lock);
                m->delivering = NULL;
                pthread_cond_broadcast(&m->cond);
        }
        pthread_mutex_unlock(&m->lock);
        free(b);
        return NULL;
}

/* ---- open and close ------------------------------------------------------------ */

static void mem_close(void *store)
{
        struct mem *m = store;
        pthread_mutex_lock(&m->lock);
        m->stop = true;
        pthread_cond_broadcast(&m->cond);
        pthread_mutex_unlock(&m->lock);
        pthread_join(m->thread, NULL);
        while (m->watches) {
                struct mwatch *w = m->watches;
                m->watches = w->link;
                watch_free(w);
        }
        for (size_t i = 0; i < m->n_keys; i++) {
                struct rec *r = m->keys[i]->latest;
                while (r) {
                        struct rec *o = r->older;
                        rec_free(r);
                        r = o;
                }
                free(m->keys[i]->key);
                free(m->keys[i]);
        }
        free(m->keys);
        free(m->log);
        free(m->leases);
        pthread_cond_destroy(&m->cond);
        pthread_mutex_destroy(&m->lock);
        free(m);
}

static int mem_open(void *ctx, const char *url, struct berth_store_limits *limits, void **ret_store,
                    struct berth_store_status *st)
{
        const struct berth_host *host = ctx;
        const char *rest = strchr(url, ':');
        if (!rest || rest[1] != '\0') {
                char why[256];
                snprintf(why, sizeof(why), "%s takes no location: use \"%s:\", not %s", MEM_NAME,
                         MEM_NAME, url);
                return fail(st, -EINVAL, why);
        }
        struct mem *m = calloc(1, sizeof(*m));
        if (!m)
                return fail(st, -ENOMEM, "out of memory");
        m->host = host;
        pthread_mutex_init(&m->lock, NULL);
        pthread_condattr_t a;
        pthread_condattr_init(&a);
        pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
        pthread_cond_init(&m->cond, &a);
        pthread_condattr_destroy(&a);
        int rc = pthread_create(&m->thread, NULL, mem_thread, m);
        if (rc != 0) {
                pthread_cond_destroy(&m->cond);
                pthread_mutex_destroy(&m->lock);
                free(m);
                return fail(st, -rc, "cannot start its thread");
        }
        *limits = (struct berth_store_limits){.txn_ops_max = MEM_TXN_OPS_MAX,
                                              .txn_bytes_max = MEM_TXN_BYTES_MAX};
        host->log(host, BERTH_PLUGIN_LOG_INFO, "opened an in-memory store (lost at exit)");
        *ret_store = m;
        return 0;
}

static int mem_init(const struct berth_host *host, void **ctx)
{
        *ctx = (void *)host;
        return 0;
}

static const struct berth_store_ops mem_ops = {
    .open = mem_open,
    .close = mem_close,
    .get = mem_get,
    .list = mem_list,
#ifndef MEM_NO_LIST_PAGE
    .list_page = mem_list_page,
#endif
    .put = mem_put,
    .del = mem_del,
    .txn = mem_txn,
    .revision = mem_revision,
    .compact = mem_compact,
    .lease_grant = mem_lease_grant,
    .lease_keepalive = mem_lease_keepalive,
    .lease_revoke = mem_lease_revoke,
#ifndef MEM_NO_WATCH
    .watch = mem_watch,
#endif
    .watch_cancel = mem_watch_cancel,
};

static const struct berth_plugin memstore = {
    .abi_major = BERTH_PLUGIN_ABI_MAJOR,
    .abi_minor = BERTH_PLUGIN_ABI_MINOR,
    .name = MEM_NAME,
    .type = BERTH_PLUGIN_STORE,
    .init = mem_init,
    .store = &mem_ops,
};

const struct berth_plugin *berth_plugin_descriptor(void);
const struct berth_plugin *berth_plugin_descriptor(void)
{
        return &memstore;
}
