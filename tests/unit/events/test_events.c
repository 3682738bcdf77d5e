/* The event recorder on a real SQLite store, with a fake clock: names,
 * aggregation within the window and not after it, the bounded queue that
 * drops instead of blocking (on a store whose writes block), the TTL (the
 * sweep, and a batch lease that expires), the fence, subscribers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "events.h"
#include "store-internal.h"
#include "test-support.h"

#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */

static _Atomic int64_t fake_now = T0;

static int64_t now_fake(void)
{
        return fake_now;
}

/* ---- a store whose writes wait until released ----------------------------- */

struct gate_store {
        struct store base; /* first */
        struct store *real;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool closed; /* puts wait while closed */
        int waiting; /* puts waiting now */
        int txns;    /* transactions passed on (not gated) */
};

static struct gate_store *gate_of(struct store *s)
{
        return container_of(s, struct gate_store, base);
}

static void gate_free(struct store *s)
{
        struct gate_store *g = gate_of(s);

        pthread_cond_destroy(&g->cond);
        pthread_mutex_destroy(&g->lock);
        free(g);
}

static int gate_get(struct store *s, const char *key, struct store_kv *ret, struct berth_error *err)
{
        return store_get(gate_of(s)->real, key, ret, err);
}

static int gate_list(struct store *s, const char *prefix, int64_t revision, struct store_kvs *ret,
                     struct berth_error *err)
{
        return store_list(gate_of(s)->real, prefix, revision, ret, err);
}

static int gate_put(struct store *s, const char *key, const char *value, size_t value_len,
                    int64_t expected, int64_t lease, const struct store_guard *guard,
                    int64_t *ret_revision, struct berth_error *err)
{
        struct gate_store *g = gate_of(s);

        pthread_mutex_lock(&g->lock);
        g->waiting++;
        pthread_cond_broadcast(&g->cond);
        while (g->closed)
                pthread_cond_wait(&g->cond, &g->lock);
        g->waiting--;
        pthread_mutex_unlock(&g->lock);
        return store_put_guarded(g->real, key, value, value_len, expected, lease, guard,
                                 ret_revision, err);
}

static int gate_delete(struct store *s, const char *key, int64_t expected,
                       const struct store_guard *guard, int64_t *ret_revision,
                       struct berth_error *err)
{
        return store_delete_guarded(gate_of(s)->real, key, expected, guard, ret_revision, err);
}

static int gate_txn(struct store *s, const struct store_op *ops, size_t n,
                    const struct store_guard *guard, int64_t *ret_revisions, size_t *ret_failed,
                    struct berth_error *err)
{
        struct gate_store *g = gate_of(s);

        pthread_mutex_lock(&g->lock);
        g->txns++;
        pthread_mutex_unlock(&g->lock);
        return store_txn(g->real, ops, n, guard, ret_revisions, ret_failed, err);
}

static int gate_lease_grant(struct store *s, int64_t ttl, int64_t *ret_id, struct berth_error *err)
{
        return store_lease_grant(gate_of(s)->real, ttl, ret_id, err);
}

static const struct store_ops gate_ops = {
    .name = "gate",
    .free = gate_free,
    .get = gate_get,
    .list = gate_list,
    .put = gate_put,
    .delete = gate_delete,
    .lease_grant = gate_lease_grant,
};

/* The same with transactions (passed on at once, counted). */
static const struct store_ops gate_txn_ops = {
    .name = "gate",
    .free = gate_free,
    .get = gate_get,
    .list = gate_list,
    .put = gate_put,
    .delete = gate_delete,
    .txn = gate_txn,
    .lease_grant = gate_lease_grant,
};

static void gate_set(struct gate_store *g, bool closed)
{
        pthread_mutex_lock(&g->lock);
        g->closed = closed;
        pthread_cond_broadcast(&g->cond);
        pthread_mutex_unlock(&g->lock);
}

/* Waits (bounded) until a put waits at the gate. */
static bool gate_wait_blocked(struct gate_store *g)
{
        struct timespec ts;
        int r = 0;

        time_mono_deadline(&ts, 5000);
        pthread_mutex_lock(&g->lock);
        while (g->waiting == 0 && r != ETIMEDOUT)
                r = pthread_cond_timedwait(&g->cond, &g->lock, &ts);
        bool blocked = g->waiting > 0;
        pthread_mutex_unlock(&g->lock);
        return blocked;
}

/* ---- fixture -------------------------------------------------------------- */

struct env {
        char dir[64];
        struct store *store;
        struct gate_store *gate;
        struct events_recorder *rec;
};

/* e->gate in front of e->store, closed. */
static void gate_new(struct env *e, const struct store_ops *ops)
{
        e->gate = calloc(1, sizeof(*e->gate));
        assert_non_null(e->gate);
        e->gate->base.ops = ops;
        e->gate->base.txn_ops_max = ops->txn ? e->store->txn_ops_max : 0;
        e->gate->base.txn_bytes_max = e->store->txn_bytes_max;
        e->gate->real = e->store;
        pthread_mutex_init(&e->gate->lock, NULL);
        assert_int_equal(cond_init_monotonic(&e->gate->cond), 0);
        e->gate->closed = true;
}

static int setup(void **state)
{
        struct env *e = calloc(1, sizeof(*e));
        char url[128];

        assert_non_null(e);
        snprintf(e->dir, sizeof(e->dir), "/tmp/berth-events-XXXXXX");
        assert_non_null(mkdtemp(e->dir));
        snprintf(url, sizeof(url), "sqlite:%s/store.db", e->dir);
        assert_int_equal(store_open(url, &e->store, NULL), 0);
        fake_now = T0;
        *state = e;
        return 0;
}

static int teardown(void **state)
{
        struct env *e = *state;

        events_recorder_free(e->rec);
        if (e->gate)
                gate_free(&e->gate->base);
        store_free(e->store);
        test_rm_tree(e->dir);
        free(e);
        return 0;
}

static struct events_recorder *recorder(struct env *e, struct store *store, int64_t ttl_ms,
                                        size_t queue_max)
{
        const struct events_config cfg = {
            .store = store,
            .prefix = "/berth/",
            .host = "replica-a",
            .ttl_ms = ttl_ms,
            .queue_max = queue_max,
            .now_ms = now_fake,
        };
        struct events_recorder *rec = NULL;

        (void)e;
        assert_int_equal(events_recorder_new(&cfg, &rec, NULL), 0);
        return rec;
}

static const struct event_object hello = {"Task", "default", "hello", "0123456789abcdef"};

/* The stored Event of (hello, type, reason, message), or NULL. */
static json_t *stored(struct env *e, enum event_type type, const char *reason, const char *message,
                      int64_t *ret_lease)
{
        char name[64];
        struct store_kv kv = {0};

        events_name(&hello, type, reason, message, name);
        _cleanup_free_ char *key = str_printf("/berth/events/default/%s", name);
        if (store_get(e->store, key, &kv, NULL) < 0)
                return NULL;
        json_t *obj = json_loadb(kv.value, kv.value_len, 0, NULL);
        if (ret_lease)
                *ret_lease = kv.lease;
        store_kv_release(&kv);
        return obj;
}

static int64_t time_of(const json_t *o, const char *path)
{
        int64_t t = 0;

        assert_int_equal(time_parse_rfc3339(json_path_string(o, path), &t), 0);
        return t;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_name(void **state)
{
        (void)state;
        char a[64], b[64], c[64];
        const struct event_object longname = {
            "Task", "default", "a-very-long-task-name-that-goes-on-and-on-and-on-until-63c", "u"};

        events_name(&hello, EVENT_NORMAL, "Created", "x", a);
        events_name(&hello, EVENT_NORMAL, "Created", "x", b);
        events_name(&hello, EVENT_NORMAL, "Created", "y", c);
        assert_string_equal(a, b);
        assert_string_not_equal(a, c);
        assert_true(str_has_prefix(a, "hello-"));
        assert_int_equal(strlen(a), strlen("hello-") + 16);
        assert_true(name_is_valid(a));
        events_name(&longname, EVENT_WARNING, "BackOff", "m", a);
        assert_int_equal(strlen(a), EVENTS_NAME_PREFIX_MAX + 17);
        assert_true(name_is_valid(a));
        /* the type is part of what an Event is */
        events_name(&hello, EVENT_WARNING, "Created", "x", c);
        assert_string_not_equal(b, c);
}

static void test_written_as_kubernetes_has_it(void **state)
{
        struct env *e = *state;
        uint64_t written = 0, dropped = 0;
        int64_t lease = 0;
        size_t queued = 9;

        e->rec = recorder(e, e->store, 0, 0);
        events_start(e->rec, NULL);
        assert_int_equal(events_record(e->rec, &hello, EVENT_NORMAL, "Created",
                                       "created container %s (attempt %d)", "c1", 1),
                         0);
        assert_int_equal(events_flush(e->rec, 5000), 0);
        events_stats(e->rec, &written, &dropped, &queued);
        assert_int_equal(written, 1);
        assert_int_equal(dropped, 0);
        assert_int_equal(queued, 0);

        _cleanup_json_ json_t *ev =
            stored(e, EVENT_NORMAL, "Created", "created container c1 (attempt 1)", &lease);
        assert_non_null(ev);
        assert_string_equal(json_path_string(ev, "kind"), "Event");
        assert_string_equal(json_path_string(ev, "apiVersion"), "berth/v1");
        assert_string_equal(json_path_string(ev, "metadata.namespace"), "default");
        assert_non_null(json_path_string(ev, "metadata.uid"));
        assert_string_equal(json_path_string(ev, "involvedObject.kind"), "Task");
        assert_string_equal(json_path_string(ev, "involvedObject.name"), "hello");
        assert_string_equal(json_path_string(ev, "involvedObject.namespace"), "default");
        assert_string_equal(json_path_string(ev, "involvedObject.uid"), "0123456789abcdef");
        assert_string_equal(json_path_string(ev, "type"), "Normal");
        assert_string_equal(json_path_string(ev, "reason"), "Created");
        assert_string_equal(json_path_string(ev, "message"), "created container c1 (attempt 1)");
        assert_int_equal(json_path_int(ev, "count", 0), 1);
        assert_int_equal(time_of(ev, "firstTimestamp"), T0);
        assert_int_equal(time_of(ev, "lastTimestamp"), T0);
        assert_string_equal(json_path_string(ev, "source.component"), "berthd");
        assert_string_equal(json_path_string(ev, "source.host"), "replica-a");
        /* its TTL is a lease's */
        assert_true(lease > 0);
}

static void test_aggregates_within_ten_minutes(void **state)
{
        struct env *e = *state;
        uint64_t written = 0;

        e->rec = recorder(e, e->store, 0, 0);
        events_start(e->rec, NULL);
        for (int i = 0; i < 3; i++) {
                assert_int_equal(events_record(e->rec, &hello, EVENT_WARNING, "BackOff", "again"),
                                 0);
                assert_int_equal(events_flush(e->rec, 5000), 0);
                fake_now += 4 * 60 * 1000; /* 4 minutes between: each within 10 of the last */
        }
        _cleanup_json_ json_t *ev = stored(e, EVENT_WARNING, "BackOff", "again", NULL);
        assert_non_null(ev);
        assert_int_equal(json_path_int(ev, "count", 0), 3);
        assert_int_equal(time_of(ev, "firstTimestamp"), T0);
        assert_int_equal(time_of(ev, "lastTimestamp"), T0 + 8 * 60 * 1000);
        events_stats(e->rec, &written, NULL, NULL);
        assert_int_equal(written, 3);

        /* Another message is another Event. */
        assert_int_equal(events_record(e->rec, &hello, EVENT_WARNING, "BackOff", "other"), 0);
        assert_int_equal(events_flush(e->rec, 5000), 0);
        _cleanup_json_ json_t *other = stored(e, EVENT_WARNING, "BackOff", "other", NULL);
        assert_non_null(other);
        assert_int_equal(json_path_int(other, "count", 0), 1);
}

static void test_not_after_ten_minutes(void **state)
{
        struct env *e = *state;

        e->rec = recorder(e, e->store, 24LL * 3600 * 1000, 0);
        events_start(e->rec, NULL);
        assert_int_equal(events_record(e->rec, &hello, EVENT_WARNING, "BackOff", "again"), 0);
        assert_int_equal(events_flush(e->rec, 5000), 0);
        _cleanup_json_ json_t *first = stored(e, EVENT_WARNING, "BackOff", "again", NULL);
        assert_non_null(first);

        fake_now += EVENTS_AGGREGATE_MS; /* exactly 10 minutes: no longer a repeat */
        assert_int_equal(events_record(e->rec, &hello, EVENT_WARNING, "BackOff", "again"), 0);
        assert_int_equal(events_flush(e->rec, 5000), 0);
        _cleanup_json_ json_t *ev = stored(e, EVENT_WARNING, "BackOff", "again", NULL);
        assert_non_null(ev);
        assert_int_equal(json_path_int(ev, "count", 0), 1);
        assert_int_equal(time_of(ev, "firstTimestamp"), T0 + EVENTS_AGGREGATE_MS);
        assert_string_not_equal(json_path_string(ev, "metadata.uid"),
                                json_path_string(first, "metadata.uid"));
}

/* Another recorder (a restart, another replica) counts on what is stored:
 * its index is empty, the name finds the Event. */
static void test_aggregates_across_recorders(void **state)
{
        struct env *e = *state;

        e->rec = recorder(e, e->store, 0, 0);
        events_start(e->rec, NULL);
        assert_int_equal(events_record(e->rec, &hello, EVENT_WARNING, "BackOff", "again"), 0);
        assert_int_equal(events_flush(e->rec, 5000), 0);
        events_recorder_free(e->rec);

        fake_now += 60 * 1000;
        e->rec = recorder(e, e->store, 0, 0);
        events_start(e->rec, NULL);
        assert_int_equal(events_record(e->rec, &hello, EVENT_WARNING, "BackOff", "again"), 0);
        assert_int_equal(events_flush(e->rec, 5000), 0);
        _cleanup_json_ json_t *ev = stored(e, EVENT_WARNING, "BackOff", "again", NULL);
        assert_non_null(ev);
        assert_int_equal(json_path_int(ev, "count", 0), 2);
        assert_int_equal(time_of(ev, "firstTimestamp"), T0);
        assert_int_equal(time_of(ev, "lastTimestamp"), T0 + 60 * 1000);
}

/* With the store stuck, recording neither blocks nor grows past the queue:
 * the rest is dropped and counted; once the store answers, the queue is
 * written. */
static void test_full_queue_drops_without_blocking(void **state)
{
        struct env *e = *state;
        uint64_t written = 0, dropped = 0;
        size_t queued = 0;

        gate_new(e, &gate_ops);

        e->rec = recorder(e, &e->gate->base, 0, 4);
        events_start(e->rec, NULL);
        /* The first is taken by the writer, which then waits at the gate. */
        assert_int_equal(events_record(e->rec, &hello, EVENT_NORMAL, "Started", "0"), 0);
        assert_true(gate_wait_blocked(e->gate));

        int64_t t = time_mono_ms();
        for (int i = 1; i <= 4; i++)
                assert_int_equal(events_record(e->rec, &hello, EVENT_NORMAL, "Started", "%d", i),
                                 0);
        for (int i = 5; i <= 100; i++)
                assert_int_equal(events_record(e->rec, &hello, EVENT_NORMAL, "Started", "%d", i),
                                 -ENOBUFS);
        assert_true(time_mono_ms() - t < 1000);
        events_stats(e->rec, &written, &dropped, &queued);
        assert_int_equal(written, 0);
        assert_int_equal(dropped, 96);
        assert_int_equal(queued, 4);
        assert_int_equal(events_flush(e->rec, 100), -ETIMEDOUT);

        gate_set(e->gate, false);
        assert_int_equal(events_flush(e->rec, 5000), 0);
        events_stats(e->rec, &written, &dropped, &queued);
        assert_int_equal(written, 5);
        assert_int_equal(dropped, 96);
        assert_int_equal(queued, 0);
}

/* What queued up while the store was busy goes out in transactions of
 * EVENTS_WRITE_BATCH, a repeat inside one batch counting on the other. */
static void test_burst_written_in_batches(void **state)
{
        struct env *e = *state;
        uint64_t written = 0, dropped = 0;

        gate_new(e, &gate_txn_ops);
        e->rec = recorder(e, &e->gate->base, 0, 0);
        events_start(e->rec, NULL);
        /* Alone in the queue: written by itself, and held at the gate. */
        assert_int_equal(events_record(e->rec, &hello, EVENT_NORMAL, "Started", "first"), 0);
        assert_true(gate_wait_blocked(e->gate));
        for (int i = 0; i < 150; i++) {
                assert_int_equal(events_record(e->rec, &hello, EVENT_NORMAL, "Started", "%d", i),
                                 0);
                if (i == 10) /* twice in a row: the second counts on the first */
                        assert_int_equal(
                            events_record(e->rec, &hello, EVENT_NORMAL, "Started", "%d", i), 0);
        }
        gate_set(e->gate, false);
        assert_int_equal(events_flush(e->rec, 5000), 0);

        events_stats(e->rec, &written, &dropped, NULL);
        assert_int_equal(written, 152);
        assert_int_equal(dropped, 0);
        /* 151 queued, taken 64 + 64 + 23; the repeat splits the first 64
         * into 11 and 53. */
        assert_int_equal(e->gate->txns, 4);
        for (int i = 0; i < 150; i++) {
                char msg[16];
                snprintf(msg, sizeof(msg), "%d", i);
                _cleanup_json_ json_t *ev = stored(e, EVENT_NORMAL, "Started", msg, NULL);
                assert_non_null(ev);
                assert_int_equal(json_path_int(ev, "count", 0), i == 10 ? 2 : 1);
        }
}

/* A batch whose compare fails (another recorder counted one of its Events
 * on since this one's index saw it) is written again one by one: nothing
 * lost, every count right. */
static void test_batch_with_a_stale_index(void **state)
{
        struct env *e = *state;
        uint64_t written = 0, dropped = 0;

        gate_new(e, &gate_txn_ops);
        gate_set(e->gate, false);
        e->rec = recorder(e, &e->gate->base, 0, 0);
        events_start(e->rec, NULL);
        assert_int_equal(events_record(e->rec, &hello, EVENT_WARNING, "BackOff", "x"), 0);
        assert_int_equal(events_flush(e->rec, 5000), 0);

        struct events_recorder *other = recorder(e, e->store, 0, 0);
        events_start(other, NULL);
        assert_int_equal(events_record(other, &hello, EVENT_WARNING, "BackOff", "x"), 0);
        assert_int_equal(events_flush(other, 5000), 0);
        events_recorder_free(other);

        gate_set(e->gate, true);
        assert_int_equal(events_record(e->rec, &hello, EVENT_NORMAL, "Started", "hold"), 0);
        assert_true(gate_wait_blocked(e->gate));
        assert_int_equal(events_record(e->rec, &hello, EVENT_WARNING, "BackOff", "x"), 0);
        assert_int_equal(events_record(e->rec, &hello, EVENT_NORMAL, "Started", "y"), 0);
        gate_set(e->gate, false);
        assert_int_equal(events_flush(e->rec, 5000), 0);

        assert_int_equal(e->gate->txns, 1); /* tried, lost its compare */
        events_stats(e->rec, &written, &dropped, NULL);
        assert_int_equal(written, 4);
        assert_int_equal(dropped, 0);
        _cleanup_json_ json_t *x = stored(e, EVENT_WARNING, "BackOff", "x", NULL);
        _cleanup_json_ json_t *y = stored(e, EVENT_NORMAL, "Started", "y", NULL);
        assert_non_null(x);
        assert_non_null(y);
        assert_int_equal(json_path_int(x, "count", 0), 3);
        assert_int_equal(json_path_int(y, "count", 0), 1);
}

static void test_not_writing_drops(void **state)
{
        struct env *e = *state;
        uint64_t dropped = 0, written = 0;

        e->rec = recorder(e, e->store, 0, 0);
        /* Not started (a follower), or stopped (leadership lost). */
        assert_int_equal(events_record(e->rec, &hello, EVENT_NORMAL, "Started", "x"), -EAGAIN);
        events_start(e->rec, NULL);
        events_stop(e->rec);
        assert_int_equal(events_record(e->rec, &hello, EVENT_NORMAL, "Started", "x"), -EAGAIN);
        events_stats(e->rec, &written, &dropped, NULL);
        assert_int_equal(written, 0);
        assert_int_equal(dropped, 2);
        assert_null(stored(e, EVENT_NORMAL, "Started", "x", NULL));
}

static void test_stop_flushes(void **state)
{
        struct env *e = *state;
        uint64_t written = 0;

        e->rec = recorder(e, e->store, 0, 0);
        events_start(e->rec, NULL);
        for (int i = 0; i < 20; i++)
                assert_int_equal(events_record(e->rec, &hello, EVENT_NORMAL, "Started", "%d", i),
                                 0);
        events_stop(e->rec);
        events_stats(e->rec, &written, NULL, NULL);
        assert_int_equal(written, 20);
}

static void test_fenced_off_writes_nothing(void **state)
{
        struct env *e = *state;
        int64_t rev = 0;
        uint64_t written = 0, dropped = 0;

        assert_int_equal(
            store_put(e->store, "/berth/system/leader", "a", 1, STORE_ANY_REVISION, 0, &rev, NULL),
            0);
        e->rec = recorder(e, e->store, 0, 0);
        /* The term of an earlier write to the leader key: another leads. */
        events_start(e->rec, &(struct store_guard){"/berth/system/leader", rev});
        assert_int_equal(events_record(e->rec, &hello, EVENT_NORMAL, "Started", "mine"), 0);
        assert_int_equal(events_flush(e->rec, 5000), 0);
        _cleanup_json_ json_t *mine = stored(e, EVENT_NORMAL, "Started", "mine", NULL);
        assert_non_null(mine);

        assert_int_equal(
            store_put(e->store, "/berth/system/leader", "b", 1, STORE_ANY_REVISION, 0, NULL, NULL),
            0);
        assert_int_equal(events_record(e->rec, &hello, EVENT_NORMAL, "Started", "late"), 0);
        assert_int_equal(events_flush(e->rec, 5000), 0);
        assert_null(stored(e, EVENT_NORMAL, "Started", "late", NULL));
        events_stats(e->rec, &written, &dropped, NULL);
        assert_int_equal(written, 1);
        assert_int_equal(dropped, 1);
}

static void test_sweep_deletes_expired(void **state)
{
        struct env *e = *state;
        size_t deleted = 99;

        e->rec = recorder(e, e->store, 3600 * 1000, 0);
        events_start(e->rec, NULL);
        assert_int_equal(events_record(e->rec, &hello, EVENT_NORMAL, "Started", "old"), 0);
        assert_int_equal(events_flush(e->rec, 5000), 0);
        fake_now += 30 * 60 * 1000;
        assert_int_equal(events_record(e->rec, &hello, EVENT_NORMAL, "Started", "young"), 0);
        assert_int_equal(events_flush(e->rec, 5000), 0);

        assert_int_equal(events_sweep(e->rec, &deleted, NULL), 0);
        assert_int_equal(deleted, 0);
        fake_now = T0 + 3600 * 1000; /* "old" is an hour old */
        assert_int_equal(events_sweep(e->rec, &deleted, NULL), 0);
        assert_int_equal(deleted, 1);
        assert_null(stored(e, EVENT_NORMAL, "Started", "old", NULL));
        _cleanup_json_ json_t *young = stored(e, EVENT_NORMAL, "Started", "young", NULL);
        assert_non_null(young);

        /* Counted on, it is young again. */
        assert_int_equal(events_record(e->rec, &hello, EVENT_NORMAL, "Started", "young"), 0);
        assert_int_equal(events_flush(e->rec, 5000), 0);
        fake_now += 45 * 60 * 1000;
        assert_int_equal(events_sweep(e->rec, &deleted, NULL), 0);
        assert_int_equal(deleted, 0);
        json_t *again = stored(e, EVENT_NORMAL, "Started", "young", NULL);
        assert_non_null(again);
        json_decref(again);
}

/* The batch lease expires in the store: the Event goes without a sweep. */
static void test_lease_expires(void **state)
{
        struct env *e = *state;
        const struct events_config cfg = {
            .store = e->store, .prefix = "/berth/", .host = "h", .ttl_ms = 1000};

        assert_int_equal(events_recorder_new(&cfg, &e->rec, NULL), 0);
        events_start(e->rec, NULL);
        assert_int_equal(events_record(e->rec, &hello, EVENT_NORMAL, "Started", "brief"), 0);
        assert_int_equal(events_flush(e->rec, 5000), 0);
        json_t *ev = stored(e, EVENT_NORMAL, "Started", "brief", NULL);
        assert_non_null(ev);
        json_decref(ev);
        /* ttl 1 s + a window of 1 s, reaped within a second after */
        int64_t end = time_mono_ms() + 6000;
        while ((ev = stored(e, EVENT_NORMAL, "Started", "brief", NULL)) && time_mono_ms() < end) {
                json_decref(ev);
                sleep_ms(100);
        }
        assert_null(ev);
}

struct seen {
        int n;
        json_int_t count;
};

static void on_event(const json_t *event, void *userdata)
{
        struct seen *s = userdata;

        s->n++;
        s->count = json_integer_value(json_object_get(event, "count"));
}

static void test_subscribers_see_what_was_written(void **state)
{
        struct env *e = *state;
        struct seen s = {0}, others = {0};

        e->rec = recorder(e, e->store, 0, 0);
        assert_int_equal(events_subscribe(e->rec, on_event, &s), 0);
        for (int i = 1; i < EVENTS_SUBSCRIBERS_MAX; i++)
                assert_int_equal(events_subscribe(e->rec, on_event, &others), 0);
        assert_int_equal(events_subscribe(e->rec, on_event, &s), -ENOSPC);
        events_start(e->rec, NULL);
        assert_int_equal(events_record(e->rec, &hello, EVENT_WARNING, "BackOff", "x"), 0);
        assert_int_equal(events_record(e->rec, &hello, EVENT_WARNING, "BackOff", "x"), 0);
        assert_int_equal(events_flush(e->rec, 5000), 0);
        assert_int_equal(s.n, 2);
        assert_int_equal(s.count, 2);
        assert_int_equal(others.n, 2 * (EVENTS_SUBSCRIBERS_MAX - 1));
}

static void test_bad_records(void **state)
{
        struct env *e = *state;
        uint64_t dropped = 0;
        char big[3 * EVENT_MESSAGE_MAX];

        e->rec = recorder(e, e->store, 0, 0);
        events_start(e->rec, NULL);
        assert_int_equal(events_record(e->rec, &hello, EVENT_NORMAL, "not camel", "x"), -EINVAL);
        assert_int_equal(events_record(e->rec, &hello, EVENT_NORMAL, "", "x"), -EINVAL);
        assert_int_equal(events_record(e->rec, &hello, (enum event_type)7, "Started", "x"),
                         -EINVAL);
        assert_int_equal(events_record(e->rec,
                                       &(struct event_object){"Task", "default", NULL, NULL},
                                       EVENT_NORMAL, "Started", "x"),
                         -EINVAL);
        events_stats(e->rec, NULL, &dropped, NULL);
        assert_int_equal(dropped, 0);
        /* NULL recorder: nothing at all */
        assert_int_equal(events_record(NULL, &hello, EVENT_NORMAL, "Started", "x"), 0);
        events_recorder_free(NULL);
        events_start(NULL, NULL);
        events_stop(NULL);

        /* A long message is cut. */
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        assert_int_equal(events_record(e->rec, &hello, EVENT_NORMAL, "Started", "%s", big), 0);
        assert_int_equal(events_flush(e->rec, 5000), 0);
        big[EVENT_MESSAGE_MAX] = '\0';
        _cleanup_json_ json_t *ev = stored(e, EVENT_NORMAL, "Started", big, NULL);
        assert_non_null(ev);
        assert_int_equal(strlen(json_path_string(ev, "message")), EVENT_MESSAGE_MAX);
}

static void test_bad_config(void **state)
{
        struct env *e = *state;
        struct events_recorder *rec = NULL;

        assert_int_equal(events_recorder_new(&(struct events_config){.prefix = "/b/"}, &rec, NULL),
                         -EINVAL);
        assert_int_equal(
            events_recorder_new(&(struct events_config){.store = e->store, .prefix = "/b"}, &rec,
                                NULL),
            -EINVAL);
        assert_int_equal(
            events_recorder_new(
                &(struct events_config){.store = e->store, .prefix = "/b/", .ttl_ms = 10}, &rec,
                NULL),
            -EINVAL);
        assert_null(rec);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_name),
            cmocka_unit_test_setup_teardown(test_written_as_kubernetes_has_it, setup, teardown),
            cmocka_unit_test_setup_teardown(test_aggregates_within_ten_minutes, setup, teardown),
            cmocka_unit_test_setup_teardown(test_not_after_ten_minutes, setup, teardown),
            cmocka_unit_test_setup_teardown(test_aggregates_across_recorders, setup, teardown),
            cmocka_unit_test_setup_teardown(test_full_queue_drops_without_blocking, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_burst_written_in_batches, setup, teardown),
            cmocka_unit_test_setup_teardown(test_batch_with_a_stale_index, setup, teardown),
            cmocka_unit_test_setup_teardown(test_not_writing_drops, setup, teardown),
            cmocka_unit_test_setup_teardown(test_stop_flushes, setup, teardown),
            cmocka_unit_test_setup_teardown(test_fenced_off_writes_nothing, setup, teardown),
            cmocka_unit_test_setup_teardown(test_sweep_deletes_expired, setup, teardown),
            cmocka_unit_test_setup_teardown(test_lease_expires, setup, teardown),
            cmocka_unit_test_setup_teardown(test_subscribers_see_what_was_written, setup, teardown),
            cmocka_unit_test_setup_teardown(test_bad_records, setup, teardown),
            cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
