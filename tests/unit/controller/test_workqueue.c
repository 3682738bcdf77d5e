/* Unit tests for the workqueue. A fake clock drives timers (no sleeping),
 * except for the shutdown and concurrency tests, which need real threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include <cmocka.h>

#include "controller.h"
#include "metrics.h"

static _Atomic int64_t fake_now = 1000000;

static int64_t fake_clock(void)
{
        return atomic_load(&fake_now);
}

static void advance(int64_t ms)
{
        atomic_fetch_add(&fake_now, ms);
}

static struct workqueue *new_fake_queue(void)
{
        struct workqueue *q = NULL;
        assert_int_equal(workqueue_new(fake_clock, &q), 0);
        assert_non_null(q);
        return q;
}

/* Gets a key that must be ready and checks it is 'want'. */
static void expect_get(struct workqueue *q, const char *want)
{
        char *key = NULL;
        assert_int_equal(workqueue_get(q, &key), 0);
        assert_string_equal(key, want);
        free(key);
}

static void test_free_null(void **state)
{
        (void)state;
        workqueue_free(NULL);
}

static void test_fifo_order(void **state)
{
        (void)state;
        struct workqueue *q = new_fake_queue();
        workqueue_add(q, "a");
        workqueue_add(q, "b");
        workqueue_add(q, "c");
        assert_int_equal(workqueue_len(q), 3);
        expect_get(q, "a");
        expect_get(q, "b");
        workqueue_done(q, "a");
        expect_get(q, "c");
        workqueue_done(q, "b");
        workqueue_done(q, "c");
        assert_int_equal(workqueue_len(q), 0);
        workqueue_free(q);
}

static void test_dedup_queued(void **state)
{
        (void)state;
        struct workqueue *q = new_fake_queue();
        workqueue_add(q, "a");
        workqueue_add(q, "b");
        workqueue_add(q, "a");
        workqueue_add(q, "a");
        assert_int_equal(workqueue_len(q), 2);
        expect_get(q, "a");
        expect_get(q, "b");
        assert_int_equal(workqueue_len(q), 0);
        workqueue_done(q, "a");
        workqueue_done(q, "b");
        assert_int_equal(workqueue_len(q), 0);
        workqueue_free(q);
}

static void test_add_while_processing(void **state)
{
        (void)state;
        struct workqueue *q = new_fake_queue();
        workqueue_add(q, "a");
        expect_get(q, "a");

        /* Added twice while a worker holds it: not handed out meanwhile, queued
         * once afterwards. */
        workqueue_add(q, "a");
        workqueue_add(q, "a");
        workqueue_add(q, "b");
        assert_int_equal(workqueue_len(q), 1);
        expect_get(q, "b");
        assert_int_equal(workqueue_len(q), 0);

        workqueue_done(q, "a");
        assert_int_equal(workqueue_len(q), 1);
        expect_get(q, "a");
        workqueue_done(q, "a");
        workqueue_done(q, "b");
        assert_int_equal(workqueue_len(q), 0);

        /* done of a key nobody holds is a no-op */
        workqueue_done(q, "zzz");
        assert_int_equal(workqueue_len(q), 0);
        workqueue_free(q);
}

static void test_add_after(void **state)
{
        (void)state;
        struct workqueue *q = new_fake_queue();
        workqueue_add_after(q, "a", 100);
        workqueue_tick(q);
        assert_int_equal(workqueue_len(q), 0);
        advance(99);
        workqueue_tick(q);
        assert_int_equal(workqueue_len(q), 0);
        advance(1);
        workqueue_tick(q);
        assert_int_equal(workqueue_len(q), 1);
        expect_get(q, "a");
        workqueue_done(q, "a");

        /* Zero and negative delays are immediate. */
        workqueue_add_after(q, "b", 0);
        workqueue_add_after(q, "c", -5);
        assert_int_equal(workqueue_len(q), 2);
        expect_get(q, "b");
        expect_get(q, "c");
        workqueue_done(q, "b");
        workqueue_done(q, "c");

        /* Timers fire in due order; get() fires them itself. */
        workqueue_add_after(q, "late", 300);
        workqueue_add_after(q, "early", 100);
        workqueue_add_after(q, "mid", 200);
        advance(300);
        expect_get(q, "early");
        expect_get(q, "mid");
        expect_get(q, "late");
        workqueue_done(q, "early");
        workqueue_done(q, "mid");
        workqueue_done(q, "late");
        assert_int_equal(workqueue_len(q), 0);
        workqueue_free(q);
}

static void test_add_after_earlier_wins(void **state)
{
        (void)state;
        struct workqueue *q = new_fake_queue();
        workqueue_add_after(q, "a", 500);
        workqueue_add_after(q, "a", 100); /* earlier: replaces */
        workqueue_add_after(q, "a", 300); /* later: ignored */
        advance(100);
        workqueue_tick(q);
        assert_int_equal(workqueue_len(q), 1);
        expect_get(q, "a");
        workqueue_done(q, "a");

        /* One entry per key: nothing left to fire at 300 or 500. */
        advance(400);
        workqueue_tick(q);
        assert_int_equal(workqueue_len(q), 0);

        /* A timer for a key that is also added directly still fires later. */
        workqueue_add_after(q, "b", 50);
        workqueue_add(q, "b");
        expect_get(q, "b");
        workqueue_done(q, "b");
        advance(50);
        workqueue_tick(q);
        assert_int_equal(workqueue_len(q), 1);
        expect_get(q, "b");
        workqueue_done(q, "b");

        /* Huge delays do not overflow (UBSan checks) and never fire early. */
        workqueue_add_after(q, "huge", INT64_MAX);
        advance(24 * 3600 * 1000);
        workqueue_tick(q);
        assert_int_equal(workqueue_len(q), 0);
        workqueue_free(q); /* frees the pending timer */
}

/* Checks that key becomes ready exactly 'delay' ms from now. */
static void expect_delay(struct workqueue *q, const char *key, int64_t delay)
{
        advance(delay - 1);
        workqueue_tick(q);
        assert_int_equal(workqueue_len(q), 0);
        advance(1);
        workqueue_tick(q);
        assert_int_equal(workqueue_len(q), 1);
        expect_get(q, key);
        workqueue_done(q, key);
}

static void test_rate_limited(void **state)
{
        (void)state;
        struct workqueue *q = new_fake_queue();
        assert_int_equal(workqueue_retries(q, "a"), 0);

        int64_t want = WORKQUEUE_BACKOFF_BASE_MS;
        bool capped = false;
        for (int i = 0; i < 25; i++) {
                workqueue_add_rate_limited(q, "a");
                assert_int_equal(workqueue_retries(q, "a"), i + 1);
                expect_delay(q, "a", want);
                if (want == WORKQUEUE_BACKOFF_MAX_MS)
                        capped = true;
                want = want * 2 > WORKQUEUE_BACKOFF_MAX_MS ? WORKQUEUE_BACKOFF_MAX_MS : want * 2;
        }
        assert_true(capped);

        /* Other keys have their own counters. */
        assert_int_equal(workqueue_retries(q, "b"), 0);
        workqueue_add_rate_limited(q, "b");
        expect_delay(q, "b", 5);

        /* forget resets the backoff to the base delay. */
        workqueue_forget(q, "a");
        assert_int_equal(workqueue_retries(q, "a"), 0);
        workqueue_add_rate_limited(q, "a");
        expect_delay(q, "a", 5);
        workqueue_add_rate_limited(q, "a");
        expect_delay(q, "a", 10);
        assert_int_equal(workqueue_retries(q, "a"), 2);

        workqueue_forget(q, "unknown");
        workqueue_forget(q, "a");
        workqueue_forget(q, "b");
        workqueue_free(q);
}

static void test_first_backoffs(void **state)
{
        (void)state;
        struct workqueue *q = new_fake_queue();
        const int64_t want[] = {5, 10, 20, 40, 80};
        for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
                workqueue_add_rate_limited(q, "k");
                expect_delay(q, "k", want[i]);
        }
        workqueue_free(q);
}

struct getter {
        struct workqueue *q;
        atomic_int result;
        atomic_bool returned;
};

static void *getter_main(void *userdata)
{
        struct getter *g = userdata;
        char *key = NULL;
        int r = workqueue_get(g->q, &key);
        free(key);
        atomic_store(&g->result, r);
        atomic_store(&g->returned, true);
        return NULL;
}

static void test_shutdown_wakes_getter(void **state)
{
        (void)state;
        struct workqueue *q = NULL;
        assert_int_equal(workqueue_new(NULL, &q), 0);
        /* A far timer: the getter waits with a timeout, not forever. */
        workqueue_add_after(q, "far", 3600 * 1000);

        struct getter g = {.q = q};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, getter_main, &g), 0);
        sleep_ms(50);
        assert_false(atomic_load(&g.returned));

        workqueue_shutdown(q);
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_true(atomic_load(&g.returned));
        assert_int_equal(atomic_load(&g.result), -ESHUTDOWN);

        /* After shutdown: adds are ignored, get fails at once. */
        workqueue_add(q, "a");
        workqueue_add_after(q, "b", 1);
        workqueue_add_rate_limited(q, "c");
        assert_int_equal(workqueue_len(q), 0);
        char *key = NULL;
        assert_int_equal(workqueue_get(q, &key), -ESHUTDOWN);
        assert_null(key);
        workqueue_free(q);
}

static void test_get_waits_for_timer(void **state)
{
        (void)state;
        /* Real clock: a blocked getter wakes when a short timer is due. */
        struct workqueue *q = NULL;
        assert_int_equal(workqueue_new(NULL, &q), 0);
        struct getter g = {.q = q};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, getter_main, &g), 0);
        sleep_ms(20);
        workqueue_add_after(q, "soon", 30);
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_int_equal(atomic_load(&g.result), 0);
        workqueue_done(q, "soon");
        workqueue_free(q);
}

/* ---- concurrency ---------------------------------------------------------- */

#define N_KEYS            97
#define N_PRODUCERS       4
#define N_CONSUMERS       4
#define ADDS_PER_PRODUCER 2500

struct stress {
        struct workqueue *q;
        char keys[N_KEYS][16];
        atomic_int generation[N_KEYS]; /* bumped before every add */
        atomic_int seen[N_KEYS];       /* generation read by the last processing */
        atomic_int in_flight[N_KEYS];
        atomic_int overlaps; /* a key processed by two workers at once */
        atomic_long processed;
        atomic_int producer_seed;
};

static int key_index(const char *key)
{
        return atoi(key + 1);
}

static void *producer_main(void *userdata)
{
        struct stress *s = userdata;
        unsigned seed = (unsigned)atomic_fetch_add(&s->producer_seed, 1) * 7919u + 1;
        for (int i = 0; i < ADDS_PER_PRODUCER; i++) {
                seed = seed * 1103515245u + 12345u;
                int k = (int)((seed >> 8) % N_KEYS);
                atomic_fetch_add(&s->generation[k], 1);
                workqueue_add(s->q, s->keys[k]);
        }
        return NULL;
}

static void *consumer_main(void *userdata)
{
        struct stress *s = userdata;
        for (;;) {
                char *key = NULL;
                if (workqueue_get(s->q, &key) < 0)
                        break;
                int k = key_index(key);
                if (atomic_exchange(&s->in_flight[k], 1) != 0)
                        atomic_fetch_add(&s->overlaps, 1);
                atomic_store(&s->seen[k], atomic_load(&s->generation[k]));
                if (atomic_fetch_add(&s->processed, 1) % 64 == 0)
                        sched_yield();
                atomic_store(&s->in_flight[k], 0);
                workqueue_done(s->q, key);
                free(key);
        }
        return NULL;
}

static bool all_seen(struct stress *s)
{
        for (int k = 0; k < N_KEYS; k++)
                if (atomic_load(&s->seen[k]) != atomic_load(&s->generation[k]))
                        return false;
        return true;
}

static void test_concurrent(void **state)
{
        (void)state;
        struct stress *s = calloc(1, sizeof(*s));
        assert_non_null(s);
        assert_int_equal(workqueue_new(NULL, &s->q), 0);
        for (int k = 0; k < N_KEYS; k++)
                snprintf(s->keys[k], sizeof(s->keys[k]), "k%d", k);

        pthread_t producers[N_PRODUCERS], consumers[N_CONSUMERS];
        for (int i = 0; i < N_CONSUMERS; i++)
                assert_int_equal(pthread_create(&consumers[i], NULL, consumer_main, s), 0);
        for (int i = 0; i < N_PRODUCERS; i++)
                assert_int_equal(pthread_create(&producers[i], NULL, producer_main, s), 0);
        for (int i = 0; i < N_PRODUCERS; i++)
                assert_int_equal(pthread_join(producers[i], NULL), 0);

        /* Nothing lost: every key is processed after its last add. */
        for (int i = 0; i < 2000 && !all_seen(s); i++)
                sleep_ms(5);
        bool ok = all_seen(s);

        workqueue_shutdown(s->q);
        for (int i = 0; i < N_CONSUMERS; i++)
                assert_int_equal(pthread_join(consumers[i], NULL), 0);

        assert_true(ok);
        assert_int_equal(atomic_load(&s->overlaps), 0);
        long total = 0;
        for (int k = 0; k < N_KEYS; k++)
                total += atomic_load(&s->generation[k]);
        assert_int_equal(total, N_PRODUCERS * ADDS_PER_PRODUCER);
        /* Dedup: never more processings than adds, and at least one per key. */
        assert_true(atomic_load(&s->processed) <= total);
        assert_true(atomic_load(&s->processed) >= N_KEYS);
        workqueue_free(s->q);
        free(s);
}

/* The value of one sample of /metrics (0 when it is not there yet). */
static double sample(const char *series)
{
        double v = 0;
        int r = metrics_find(series, &v);
        assert_true(r == 0 || r == -ENOENT);
        return v;
}

/* Depth follows the FIFO (summed over queues), adds count keys becoming
 * due (not repeats), retries the rate-limited adds, and every get observes
 * its key's wait. */
static void test_metrics(void **state)
{
        (void)state;
        struct workqueue *q = new_fake_queue();
        double depth = sample("berth_workqueue_depth");
        double adds = sample("berth_workqueue_adds_total");
        double retries = sample("berth_workqueue_retries_total");
        double waits = sample("berth_workqueue_queue_duration_seconds_count");

        workqueue_add(q, "a");
        workqueue_add(q, "b");
        workqueue_add(q, "a"); /* already due */
        assert_true(sample("berth_workqueue_depth") == depth + 2);
        assert_true(sample("berth_workqueue_adds_total") == adds + 2);
        expect_get(q, "a");
        assert_true(sample("berth_workqueue_depth") == depth + 1);
        assert_true(sample("berth_workqueue_queue_duration_seconds_count") == waits + 1);
        workqueue_add_rate_limited(q, "a");
        assert_true(sample("berth_workqueue_retries_total") == retries + 1);
        workqueue_done(q, "a");
        advance(WORKQUEUE_BACKOFF_MAX_MS);
        workqueue_tick(q);
        assert_true(sample("berth_workqueue_adds_total") == adds + 3);
        assert_true(sample("berth_workqueue_depth") == depth + 2);
        workqueue_free(q); /* what it held leaves the gauge */
        assert_true(sample("berth_workqueue_depth") == depth);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_free_null),
            cmocka_unit_test(test_fifo_order),
            cmocka_unit_test(test_dedup_queued),
            cmocka_unit_test(test_add_while_processing),
            cmocka_unit_test(test_add_after),
            cmocka_unit_test(test_add_after_earlier_wins),
            cmocka_unit_test(test_rate_limited),
            cmocka_unit_test(test_first_backoffs),
            cmocka_unit_test(test_shutdown_wakes_getter),
            cmocka_unit_test(test_get_waits_for_timer),
            cmocka_unit_test(test_concurrent),
            cmocka_unit_test(test_metrics),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
