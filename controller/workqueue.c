/* workqueue: a rate-limited, delaying work queue with client-go semantics.
 *
 * Every key the queue knows has one item in a chained hash map; the item holds
 * all of the key's state, so the invariants are easy to check:
 *
 *   dirty       the key needs processing (it is in the FIFO, or it was added
 *               while a worker held it and goes back to the FIFO on done)
 *   processing  a worker holds the key (between get and done)
 *   waiting     the key sits in the timer heap at heap_pos until due
 *   failures    add_rate_limited calls since the last forget
 *
 * An item is in the FIFO exactly when dirty && !processing, so a key is never
 * queued twice and never handed to two workers. An item with no state left is
 * freed. Items are allocated one by one, so the FIFO and the heap can hold
 * pointers to them across rehashes.
 *
 * Allocation failures drop the key (the add functions return void); the
 * periodic resync of the controller enqueues every key again.
 *
 * Metrics: the FIFO's length (summed over the process's queues), the keys
 * that became dirty, the rate-limited adds, and how long a dirty key waited
 * for a worker. Their series are looked up once, in workqueue_new, and
 * updated with atomics under the queue's own lock.
 */
#include <pthread.h>
#include <time.h>

#include "controller.h"
#include "metrics.h"

static struct metrics_family depth_family = METRICS_GAUGE_INIT(
    "berth_workqueue_depth", "Keys waiting in the workqueue for a worker (not those on timers).");
static struct metrics_family adds_family = METRICS_COUNTER_INIT(
    "berth_workqueue_adds_total", "Keys that became due in the workqueue (an add of a key already "
                                  "waiting is not counted).");
static struct metrics_family retries_family =
    METRICS_COUNTER_INIT("berth_workqueue_retries_total",
                         "Rate-limited adds: keys requeued with backoff after a failure.");
static struct metrics_family latency_family = METRICS_HISTOGRAM_INIT(
    "berth_workqueue_queue_duration_seconds",
    "Time from a key's add (or its timer firing) to a worker taking it.", METRICS_BUCKETS_LATENCY);

struct wq_item {
        char *key;
        uint64_t hash;
        struct wq_item *next; /* hash chain */
        bool dirty;
        bool processing;
        bool waiting;
        int64_t due;      /* valid while waiting */
        int64_t dirty_ns; /* metrics_now_ns() when it became dirty */
        uint64_t seq;     /* insertion order among equal due times */
        size_t heap_pos;  /* valid while waiting */
        int failures;
};

struct workqueue {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        int64_t (*now_ms)(void);
        bool shutting_down;

        struct wq_item **buckets;
        size_t n_buckets; /* power of two */
        size_t n_items;

        struct wq_item **fifo; /* ring */
        size_t fifo_head;
        size_t fifo_len;
        size_t fifo_cap;

        struct wq_item **heap; /* min-heap by (due, seq) */
        size_t heap_len;
        size_t heap_cap;
        uint64_t next_seq;

        struct metrics_series *depth, *adds, *retries, *latency;
};

#define WQ_INITIAL_BUCKETS 64
/* Longer delays are clamped (a year): keeps due times far from overflow. */
#define WORKQUEUE_DELAY_MAX_MS (INT64_C(366) * 24 * 3600 * 1000)

static uint64_t hash_key(const char *s)
{
        uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a */
        for (; *s; s++) {
                h ^= (unsigned char)*s;
                h *= UINT64_C(1099511628211);
        }
        return h;
}

/* ---- item map ----------------------------------------------------------- */

static struct wq_item *item_find(struct workqueue *q, const char *key)
{
        uint64_t h = hash_key(key);
        for (struct wq_item *it = q->buckets[h & (q->n_buckets - 1)]; it; it = it->next)
                if (it->hash == h && strcmp(it->key, key) == 0)
                        return it;
        return NULL;
}

static void map_grow(struct workqueue *q)
{
        size_t n = q->n_buckets * 2;
        struct wq_item **b = calloc(n, sizeof(*b));
        if (!b)
                return; /* longer chains, still correct */
        for (size_t i = 0; i < q->n_buckets; i++) {
                struct wq_item *it = q->buckets[i];
                while (it) {
                        struct wq_item *next = it->next;
                        size_t j = it->hash & (n - 1);
                        it->next = b[j];
                        b[j] = it;
                        it = next;
                }
        }
        free(q->buckets);
        q->buckets = b;
        q->n_buckets = n;
}

/* Finds or creates the key's item; NULL on allocation failure. */
static struct wq_item *item_get(struct workqueue *q, const char *key)
{
        struct wq_item *it = item_find(q, key);
        if (it)
                return it;
        it = calloc(1, sizeof(*it));
        if (!it)
                return NULL;
        it->key = strdup(key);
        if (!it->key) {
                free(it);
                return NULL;
        }
        if (q->n_items >= q->n_buckets)
                map_grow(q);
        it->hash = hash_key(key);
        size_t j = it->hash & (q->n_buckets - 1);
        it->next = q->buckets[j];
        q->buckets[j] = it;
        q->n_items++;
        return it;
}

static void item_free(struct wq_item *it)
{
        free(it->key);
        free(it);
}

/* Frees the item when no state refers to it any more. */
static void item_maybe_drop(struct workqueue *q, struct wq_item *it)
{
        if (it->dirty || it->processing || it->waiting || it->failures > 0)
                return;
        struct wq_item **pp = &q->buckets[it->hash & (q->n_buckets - 1)];
        while (*pp != it)
                pp = &(*pp)->next;
        *pp = it->next;
        q->n_items--;
        item_free(it);
}

/* ---- FIFO --------------------------------------------------------------- */

static int fifo_push(struct workqueue *q, struct wq_item *it)
{
        if (q->fifo_len == q->fifo_cap) {
                size_t cap = q->fifo_cap ? q->fifo_cap * 2 : 64;
                struct wq_item **v = malloc(cap * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                for (size_t i = 0; i < q->fifo_len; i++)
                        v[i] = q->fifo[(q->fifo_head + i) % q->fifo_cap];
                free(q->fifo);
                q->fifo = v;
                q->fifo_cap = cap;
                q->fifo_head = 0;
        }
        q->fifo[(q->fifo_head + q->fifo_len) % q->fifo_cap] = it;
        q->fifo_len++;
        metrics_series_add(q->depth, 1);
        return 0;
}

static struct wq_item *fifo_peek(struct workqueue *q)
{
        return q->fifo_len ? q->fifo[q->fifo_head] : NULL;
}

static void fifo_pop(struct workqueue *q)
{
        q->fifo_head = (q->fifo_head + 1) % q->fifo_cap;
        q->fifo_len--;
        metrics_series_add(q->depth, -1);
}

/* ---- timer heap ----------------------------------------------------------- */

static bool heap_less(const struct wq_item *a, const struct wq_item *b)
{
        return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void heap_set(struct workqueue *q, size_t i, struct wq_item *it)
{
        q->heap[i] = it;
        it->heap_pos = i;
}

static void heap_up(struct workqueue *q, size_t i)
{
        struct wq_item *it = q->heap[i];
        while (i > 0) {
                size_t parent = (i - 1) / 2;
                if (!heap_less(it, q->heap[parent]))
                        break;
                heap_set(q, i, q->heap[parent]);
                i = parent;
        }
        heap_set(q, i, it);
}

static void heap_down(struct workqueue *q, size_t i)
{
        struct wq_item *it = q->heap[i];
        for (;;) {
                size_t child = 2 * i + 1;
                if (child >= q->heap_len)
                        break;
                if (child + 1 < q->heap_len && heap_less(q->heap[child + 1], q->heap[child]))
                        child++;
                if (!heap_less(q->heap[child], it))
                        break;
                heap_set(q, i, q->heap[child]);
                i = child;
        }
        heap_set(q, i, it);
}

static int heap_push(struct workqueue *q, struct wq_item *it)
{
        if (q->heap_len == q->heap_cap) {
                size_t cap = q->heap_cap ? q->heap_cap * 2 : 64;
                struct wq_item **v = realloc(q->heap, cap * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                q->heap = v;
                q->heap_cap = cap;
        }
        heap_set(q, q->heap_len++, it);
        heap_up(q, it->heap_pos);
        return 0;
}

/* Removes the heap's minimum (the caller has looked at it). */
static void heap_pop(struct workqueue *q)
{
        q->heap[0]->waiting = false;
        q->heap_len--;
        if (q->heap_len > 0) {
                heap_set(q, 0, q->heap[q->heap_len]);
                heap_down(q, 0);
        }
}

/* ---- locked helpers ------------------------------------------------------ */

/* Marks an existing item as needing processing; queues it unless a worker
 * holds it (workqueue_done queues it then). Never frees the item. */
static void mark_dirty(struct workqueue *q, struct wq_item *it)
{
        if (q->shutting_down || it->dirty)
                return;
        it->dirty = true;
        it->dirty_ns = metrics_now_ns();
        metrics_series_add(q->adds, 1);
        if (it->processing)
                return;
        if (fifo_push(q, it) < 0) {
                it->dirty = false;
                return;
        }
        pthread_cond_signal(&q->cond);
}

static void add_locked(struct workqueue *q, const char *key)
{
        if (q->shutting_down)
                return;
        struct wq_item *it = item_get(q, key);
        if (!it)
                return;
        mark_dirty(q, it);
        item_maybe_drop(q, it);
}

static void add_after_locked(struct workqueue *q, const char *key, int64_t delay_ms)
{
        if (q->shutting_down)
                return;
        if (delay_ms <= 0) {
                add_locked(q, key);
                return;
        }
        struct wq_item *it = item_get(q, key);
        if (!it)
                return;
        if (delay_ms > WORKQUEUE_DELAY_MAX_MS)
                delay_ms = WORKQUEUE_DELAY_MAX_MS;
        int64_t due = q->now_ms() + delay_ms;
        if (it->waiting) {
                if (due < it->due) {
                        it->due = due;
                        heap_up(q, it->heap_pos);
                }
        } else {
                it->due = due;
                it->seq = q->next_seq++;
                it->waiting = true;
                if (heap_push(q, it) < 0) {
                        it->waiting = false;
                        item_maybe_drop(q, it);
                        return;
                }
        }
        /* The earliest timer may have changed: let a getter recompute its wait. */
        if (q->heap[0] == it)
                pthread_cond_broadcast(&q->cond);
}

static void tick_locked(struct workqueue *q)
{
        if (q->heap_len == 0)
                return;
        int64_t now = q->now_ms();
        while (q->heap_len > 0 && q->heap[0]->due <= now) {
                struct wq_item *it = q->heap[0];
                heap_pop(q);
                mark_dirty(q, it);
                item_maybe_drop(q, it);
        }
}

/* ---- public --------------------------------------------------------------- */

int workqueue_new(int64_t (*now_ms)(void), struct workqueue **ret)
{
        struct workqueue *q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->now_ms = now_ms ? now_ms : time_mono_ms;
        q->depth = metrics_series(&depth_family, NULL);
        q->adds = metrics_series(&adds_family, NULL);
        q->retries = metrics_series(&retries_family, NULL);
        q->latency = metrics_series(&latency_family, NULL);
        q->n_buckets = WQ_INITIAL_BUCKETS;
        q->buckets = calloc(q->n_buckets, sizeof(*q->buckets));
        if (!q->buckets) {
                free(q);
                return -ENOMEM;
        }

        int r = cond_init_monotonic(&q->cond);
        if (r < 0)
                goto fail_buckets;
        r = -pthread_mutex_init(&q->lock, NULL);
        if (r < 0)
                goto fail_cond;

        *ret = q;
        return 0;

fail_cond:
        pthread_cond_destroy(&q->cond);
fail_buckets:
        free(q->buckets);
        free(q);
        return r;
}

void workqueue_free(struct workqueue *q)
{
        if (!q)
                return;
        metrics_series_add(q->depth, -(int64_t)q->fifo_len);
        for (size_t i = 0; i < q->n_buckets; i++) {
                struct wq_item *it = q->buckets[i];
                while (it) {
                        struct wq_item *next = it->next;
                        item_free(it);
                        it = next;
                }
        }
        free(q->buckets);
        free(q->fifo);
        free(q->heap);
        pthread_cond_destroy(&q->cond);
        pthread_mutex_destroy(&q->lock);
        free(q);
}

void workqueue_add(struct workqueue *q, const char *key)
{
        pthread_mutex_lock(&q->lock);
        add_locked(q, key);
        pthread_mutex_unlock(&q->lock);
}

void workqueue_add_after(struct workqueue *q, const char *key, int64_t delay_ms)
{
        pthread_mutex_lock(&q->lock);
        add_after_locked(q, key, delay_ms);
        pthread_mutex_unlock(&q->lock);
}

/* base * 2^failures, computed without overflow. */
static int64_t backoff_ms(int failures)
{
        int64_t d = WORKQUEUE_BACKOFF_BASE_MS;
        for (int i = 0; i < failures && d < WORKQUEUE_BACKOFF_MAX_MS; i++)
                d *= 2;
        return d < WORKQUEUE_BACKOFF_MAX_MS ? d : WORKQUEUE_BACKOFF_MAX_MS;
}

void workqueue_add_rate_limited(struct workqueue *q, const char *key)
{
        pthread_mutex_lock(&q->lock);
        if (!q->shutting_down) {
                struct wq_item *it = item_get(q, key);
                if (it) {
                        metrics_series_add(q->retries, 1);
                        int64_t delay = backoff_ms(it->failures);
                        if (it->failures < INT32_MAX)
                                it->failures++;
                        add_after_locked(q, key, delay);
                }
        }
        pthread_mutex_unlock(&q->lock);
}

void workqueue_forget(struct workqueue *q, const char *key)
{
        pthread_mutex_lock(&q->lock);
        struct wq_item *it = item_find(q, key);
        if (it) {
                it->failures = 0;
                item_maybe_drop(q, it);
        }
        pthread_mutex_unlock(&q->lock);
}

int workqueue_retries(struct workqueue *q, const char *key)
{
        pthread_mutex_lock(&q->lock);
        struct wq_item *it = item_find(q, key);
        int n = it ? it->failures : 0;
        pthread_mutex_unlock(&q->lock);
        return n;
}

/* Waits on the condvar until the earliest timer is due (or forever without
 * timers). The deadline is computed from the injected clock but waited on the
 * real monotonic one: with a fake clock the getter simply re-checks. */
static void wait_locked(struct workqueue *q)
{
        if (q->heap_len == 0) {
                pthread_cond_wait(&q->cond, &q->lock);
                return;
        }
        int64_t delay = q->heap[0]->due - q->now_ms();
        if (delay <= 0)
                return;
        struct timespec ts;
        time_mono_deadline(&ts, delay);
        pthread_cond_timedwait(&q->cond, &q->lock, &ts);
}

int workqueue_get(struct workqueue *q, char **ret_key)
{
        int r = 0;
        pthread_mutex_lock(&q->lock);
        for (;;) {
                if (q->shutting_down) {
                        r = -ESHUTDOWN;
                        break;
                }
                tick_locked(q);
                struct wq_item *it = fifo_peek(q);
                if (it) {
                        char *key = strdup(it->key);
                        if (!key) {
                                r = -ENOMEM;
                                break;
                        }
                        fifo_pop(q);
                        metrics_series_observe_since(q->latency, it->dirty_ns);
                        it->dirty = false;
                        it->processing = true;
                        *ret_key = key;
                        break;
                }
                wait_locked(q);
        }
        pthread_mutex_unlock(&q->lock);
        return r;
}

void workqueue_done(struct workqueue *q, const char *key)
{
        pthread_mutex_lock(&q->lock);
        struct wq_item *it = item_find(q, key);
        if (it && it->processing) {
                it->processing = false;
                if (it->dirty) {
                        if (!q->shutting_down && fifo_push(q, it) == 0)
                                pthread_cond_signal(&q->cond);
                        else
                                it->dirty = false;
                }
                item_maybe_drop(q, it);
        }
        pthread_mutex_unlock(&q->lock);
}

void workqueue_shutdown(struct workqueue *q)
{
        pthread_mutex_lock(&q->lock);
        q->shutting_down = true;
        pthread_cond_broadcast(&q->cond);
        pthread_mutex_unlock(&q->lock);
}

size_t workqueue_len(struct workqueue *q)
{
        pthread_mutex_lock(&q->lock);
        size_t n = q->fifo_len;
        pthread_mutex_unlock(&q->lock);
        return n;
}

void workqueue_tick(struct workqueue *q)
{
        pthread_mutex_lock(&q->lock);
        tick_locked(q);
        pthread_mutex_unlock(&q->lock);
}
