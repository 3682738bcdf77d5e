/* Unit tests for the adaptive in-flight limit (inflight-limit.h), driven by
 * a simulated engine: a closed loop that keeps exactly `limit` calls in
 * flight against a throughput curve T(c) with Little's law latency c/T(c),
 * plus a deterministic ±3% jitter. The limiter must find the curve's peak,
 * halve when latency explodes, come back when it recovers, leave the limit
 * alone when demand is below it, and respect its bounds. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "inflight-limit.h"

/* A curve that rises linearly (calls/s) up to peak_c, then thrashes. */
struct engine_sim {
        int peak_c;
        double peak_tput; /* calls per second at peak_c */
        double slow;      /* latency multiplier (a degraded engine) */
        double thrash;    /* throughput loss per call past the peak */
        int64_t now_ns;
        uint32_t seed;
        /* Mixed calls: op 1 costs the engine heavy times op 0, and every
         * other call is one (0: all calls are op 0). */
        double heavy;
};

static double sim_throughput(const struct engine_sim *e, int c)
{
        double t = c <= e->peak_c ? e->peak_tput * c / e->peak_c
                                  : e->peak_tput / (1 + e->thrash * (c - e->peak_c));
        return t / e->slow;
}

static double jitter(struct engine_sim *e)
{
        e->seed = e->seed * 1103515245u + 12345u;
        return 0.97 + 0.06 * ((e->seed >> 16) & 0x7fff) / 32767.0;
}

/* Runs n completions against the limiter (saturated: the slots are refilled
 * after each); returns the mean limit over the last half. */
static double run(struct inflight_limit *l, struct engine_sim *e, int n)
{
        double sum = 0;
        int counted = 0;

        while (inflight_limit_try_acquire(l))
                ;
        for (int i = 0; i < n; i++) {
                int c = l->in_flight > 0 ? l->in_flight : 1;
                double tput = sim_throughput(e, c); /* work units per second */
                /* Processor sharing: a call of work w takes w * c / T. */
                int op = e->heavy > 0 && (jitter(e) > 1.0) ? 1 : 0;
                double w = op ? e->heavy : 1;
                double lat = w * c / tput * jitter(e);
                e->now_ns += (int64_t)(1e9 * w / tput);
                inflight_limit_release(l, op, (int64_t)(lat * 1e9), true, e->now_ns);
                while (inflight_limit_try_acquire(l))
                        ;
                if (i >= n / 2) {
                        sum += l->limit;
                        counted++;
                }
        }
        return sum / counted;
}

static void test_converges_to_peak(void **state)
{
        (void)state;
        int peaks[] = {3, 12, 30};
        for (size_t k = 0; k < sizeof(peaks) / sizeof(peaks[0]); k++) {
                struct engine_sim e = {.peak_c = peaks[k],
                                       .peak_tput = 100,
                                       .slow = 1,
                                       .thrash = 0.08,
                                       .now_ns = 1000000000,
                                       .seed = 7};
                struct inflight_limit l;
                inflight_limit_init(&l, 8, 1, 64);
                double mean = run(&l, &e, 20000);
                print_message("peak %d: mean limit %.2f\n", peaks[k], mean);
                /* Hill-climbing oscillates around the peak, a step or two. */
                assert_true(fabs(mean - peaks[k]) <= 2.5);
                assert_true(l.limit >= 1 && l.limit <= 64);
        }
}

/* Cheap and expensive calls mixed at random (a start costs the engine far
 * more than an inspect): the mix must not pass for a change of the curve. */
static void test_mixed_operations(void **state)
{
        (void)state;
        int peaks[] = {4, 12};
        for (size_t k = 0; k < sizeof(peaks) / sizeof(peaks[0]); k++) {
                struct engine_sim e = {.peak_c = peaks[k],
                                       .peak_tput = 100,
                                       .slow = 1,
                                       .thrash = 0.08,
                                       .now_ns = 1,
                                       .seed = 13,
                                       .heavy = 40};
                struct inflight_limit l;
                inflight_limit_init(&l, 8, 1, 64);
                double mean = run(&l, &e, 40000);
                print_message("mixed, peak %d: mean limit %.2f, %llu adjustments\n", peaks[k], mean,
                              (unsigned long long)l.adjustments);
                assert_true(fabs(mean - peaks[k]) <= 3);
        }
}

static void test_backs_off_when_latency_explodes(void **state)
{
        (void)state;
        struct engine_sim e = {
            .peak_c = 16, .peak_tput = 200, .slow = 1, .thrash = 0.08, .now_ns = 1, .seed = 3};
        struct inflight_limit l;
        inflight_limit_init(&l, 8, 1, 64);
        run(&l, &e, 10000);
        assert_in_range(l.limit, 13, 19);

        /* The engine turns 20 times slower and thrashes from 2 calls on:
         * within a few windows the limit must be a fraction of what it was. */
        e.slow = 20;
        e.peak_c = 2;
        int before = l.limit;
        run(&l, &e, 4 * INFLIGHT_WINDOW_SAMPLES);
        assert_true(l.limit <= before / 2);
        double mean = run(&l, &e, 3000);
        assert_true(mean <= 4.5);

        /* Healthy again: it climbs back to the peak. */
        e.slow = 1;
        e.peak_c = 16;
        mean = run(&l, &e, 20000);
        assert_true(fabs(mean - 16) <= 2.5);
}

static void test_demand_below_limit_leaves_it(void **state)
{
        (void)state;
        struct inflight_limit l;
        inflight_limit_init(&l, 8, 1, 64);
        int64_t now = 1;
        /* Two callers at a time, never reaching the limit of 8: the
         * throughput says nothing about the engine. */
        for (int i = 0; i < 5000; i++) {
                assert_true(inflight_limit_try_acquire(&l));
                assert_true(inflight_limit_try_acquire(&l));
                now += 20 * 1000 * 1000;
                assert_false(inflight_limit_release(&l, 0, 20 * 1000 * 1000, true, now));
                assert_false(inflight_limit_release(&l, 0, 20 * 1000 * 1000, true, now));
        }
        assert_int_equal(l.limit, 8);
        assert_int_equal(l.adjustments, 0);
}

static void test_bounds_and_slots(void **state)
{
        (void)state;
        struct inflight_limit l;

        inflight_limit_init(&l, 100, 0, 10); /* clamped: min 1, initial 10 */
        assert_int_equal(l.min, 1);
        assert_int_equal(l.limit, 10);
        for (int i = 0; i < 10; i++)
                assert_true(inflight_limit_try_acquire(&l));
        assert_false(inflight_limit_try_acquire(&l));
        assert_true(l.saturated);
        /* Unanswered calls free their slot without counting. */
        assert_false(inflight_limit_release(&l, 0, 1, false, 1000));
        assert_int_equal(l.in_flight, 9);
        assert_int_equal(l.samples, 0);

        /* A peak beyond max: pinned at max, never over. */
        struct engine_sim e = {
            .peak_c = 40, .peak_tput = 400, .slow = 1, .thrash = 0.08, .now_ns = 1, .seed = 11};
        inflight_limit_init(&l, 8, 1, 10);
        double mean = run(&l, &e, 20000);
        assert_true(mean >= 9 && mean <= 10);
        assert_true(l.limit <= 10);

        /* A peak at one call: pinned at min, never under. */
        e = (struct engine_sim){
            .peak_c = 1, .peak_tput = 50, .slow = 1, .thrash = 0.5, .now_ns = 1, .seed = 5};
        inflight_limit_init(&l, 8, 1, 64);
        mean = run(&l, &e, 20000);
        assert_true(mean <= 2.5);
        assert_true(l.limit >= 1);

        /* Forced: a probe, then back. */
        inflight_limit_set(&l, 0);
        assert_int_equal(l.limit, 1);
        inflight_limit_set(&l, 1000);
        assert_int_equal(l.limit, 64);
        assert_false(l.have_prev);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_converges_to_peak),
            cmocka_unit_test(test_mixed_operations),
            cmocka_unit_test(test_backs_off_when_latency_explodes),
            cmocka_unit_test(test_demand_below_limit_leaves_it),
            cmocka_unit_test(test_bounds_and_slots),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
