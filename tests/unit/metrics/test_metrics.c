/* Unit tests for the metrics module: the exact text of counters, gauges and
 * histograms (escaping included), label value limits, invalid families,
 * collectors, and increments from many threads adding up. Each test uses
 * families of its own: the registry is the process's. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "metrics.h"

#define V(...) ((const char *const[]){__VA_ARGS__})

static char *render_one(struct metrics_family *f)
{
        struct buf b;
        buf_init(&b, 1024 * 1024);
        assert_int_equal(metrics_family_render(f, &b), 0);
        return buf_steal(&b);
}

static char *render_all(metrics_collect_fn extra, void *userdata)
{
        struct buf b;
        buf_init(&b, 4 * 1024 * 1024);
        assert_int_equal(metrics_render(&b, extra, userdata), 0);
        return buf_steal(&b);
}

static struct metrics_family counter =
    METRICS_COUNTER_INIT("test_requests_total", "Requests by \\ path\nand code.", "path", "code");

static void test_counter_text(void **state)
{
        (void)state;
        metrics_counter_add(&counter, V("/b", "200"), 2);
        metrics_counter_add(&counter, V("/a", "404"), 1);
        metrics_counter_add(&counter, V("/a", "404"), 4);
        metrics_counter_add(&counter, V("say \"hi\"\\\n", "500"), 1);
        metrics_counter_add(&counter, V("/b", "200"), -3); /* counters never go down */

        _cleanup_free_ char *text = render_one(&counter);
        assert_string_equal(text,
                            "# HELP test_requests_total Requests by \\\\ path\\nand code.\n"
                            "# TYPE test_requests_total counter\n"
                            "test_requests_total{path=\"/a\",code=\"404\"} 5\n"
                            "test_requests_total{path=\"/b\",code=\"200\"} 2\n"
                            "test_requests_total{path=\"say \\\"hi\\\"\\\\\\n\",code=\"500\"} "
                            "1\n");
}

static struct metrics_family gauge = METRICS_GAUGE_INIT("test_depth", "Depth.");

static void test_gauge_without_labels(void **state)
{
        (void)state;
        _cleanup_free_ char *empty = render_one(&gauge);
        assert_string_equal(empty, "# HELP test_depth Depth.\n# TYPE test_depth gauge\n");

        struct metrics_series *s = metrics_series(&gauge, NULL);
        assert_non_null(s);
        assert_ptr_equal(metrics_series(&gauge, NULL), s);
        metrics_series_add(s, 3);
        metrics_series_add(s, -5);
        metrics_series_observe(s, 1.0); /* not a histogram: ignored */
        _cleanup_free_ char *neg = render_one(&gauge);
        assert_string_equal(neg, "# HELP test_depth Depth.\n# TYPE test_depth gauge\n"
                                 "test_depth -2\n");
        metrics_gauge_set(&gauge, NULL, 7);
        _cleanup_free_ char *set = render_one(&gauge);
        assert_non_null(strstr(set, "\ntest_depth 7\n"));
}

#define TEST_BUCKETS 0.1, 1, 2.5
static struct metrics_family hist =
    METRICS_HISTOGRAM_INIT("test_duration_seconds", "Durations.", TEST_BUCKETS, "op");

static void test_histogram_text(void **state)
{
        (void)state;
        metrics_histogram_observe(&hist, V("get"), 0.05);
        metrics_histogram_observe(&hist, V("get"), 0.1); /* on a bound: le is inclusive */
        metrics_histogram_observe(&hist, V("get"), 2);
        metrics_histogram_observe(&hist, V("get"), 100);
        metrics_histogram_observe(&hist, V("get"), NAN); /* ignored */
        metrics_histogram_observe(&hist, V("put"), 0.5);
        metrics_counter_add(&hist, V("put"), 1); /* not a counter: ignored */

        _cleanup_free_ char *text = render_one(&hist);
        assert_string_equal(text, "# HELP test_duration_seconds Durations.\n"
                                  "# TYPE test_duration_seconds histogram\n"
                                  "test_duration_seconds_bucket{op=\"get\",le=\"0.1\"} 2\n"
                                  "test_duration_seconds_bucket{op=\"get\",le=\"1\"} 2\n"
                                  "test_duration_seconds_bucket{op=\"get\",le=\"2.5\"} 3\n"
                                  "test_duration_seconds_bucket{op=\"get\",le=\"+Inf\"} 4\n"
                                  "test_duration_seconds_sum{op=\"get\"} 102.15\n"
                                  "test_duration_seconds_count{op=\"get\"} 4\n"
                                  "test_duration_seconds_bucket{op=\"put\",le=\"0.1\"} 0\n"
                                  "test_duration_seconds_bucket{op=\"put\",le=\"1\"} 1\n"
                                  "test_duration_seconds_bucket{op=\"put\",le=\"2.5\"} 1\n"
                                  "test_duration_seconds_bucket{op=\"put\",le=\"+Inf\"} 1\n"
                                  "test_duration_seconds_sum{op=\"put\"} 0.5\n"
                                  "test_duration_seconds_count{op=\"put\"} 1\n");
}

static struct metrics_family plain_hist =
    METRICS_HISTOGRAM_INIT("test_plain_seconds", "No labels.", METRICS_BUCKETS_LATENCY);

static void test_histogram_without_labels(void **state)
{
        (void)state;
        int64_t start = metrics_now_ns();
        metrics_series_observe_since(metrics_series(&plain_hist, NULL), start);
        _cleanup_free_ char *text = render_one(&plain_hist);
        assert_non_null(strstr(text, "\ntest_plain_seconds_bucket{le=\"0.0005\"} "));
        assert_non_null(strstr(text, "\ntest_plain_seconds_bucket{le=\"60\"} 1\n"));
        assert_non_null(strstr(text, "\ntest_plain_seconds_bucket{le=\"+Inf\"} 1\n"));
        assert_non_null(strstr(text, "\ntest_plain_seconds_count 1\n"));
        assert_non_null(strstr(text, "\ntest_plain_seconds_sum "));
}

static struct metrics_family long_values =
    METRICS_COUNTER_INIT("test_values_total", "Label value limits.", "v");

static void test_label_value_limits(void **state)
{
        (void)state;
        char big[METRICS_LABEL_VALUE_MAX + 50];
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        metrics_counter_add(&long_values, V(big), 1);
        /* The same cut value: the same series. */
        big[METRICS_LABEL_VALUE_MAX + 10] = '\0';
        metrics_counter_add(&long_values, V(big), 1);
        /* Bytes that are not UTF-8 become '?'; valid sequences stay. */
        metrics_counter_add(&long_values, V("a\xff\xc3\xa9\xed\xa0\x80z"), 1);
        metrics_counter_add(&long_values, V(NULL), 1);

        _cleanup_free_ char *text = render_one(&long_values);
        char want[METRICS_LABEL_VALUE_MAX + 64];
        snprintf(want, sizeof(want), "test_values_total{v=\"%.*s\"} 2\n", METRICS_LABEL_VALUE_MAX,
                 big);
        assert_non_null(strstr(text, want));
        assert_non_null(strstr(text, "test_values_total{v=\"a?\xc3\xa9???z\"} 1\n"));
        assert_non_null(strstr(text, "test_values_total{v=\"\"} 1\n"));
}

static struct metrics_family many = METRICS_COUNTER_INIT("test_many_total", "Overflow.", "n");

static void test_overflow_series(void **state)
{
        (void)state;
        for (int i = 0; i < METRICS_SERIES_MAX + 10; i++) {
                char n[16];
                snprintf(n, sizeof(n), "%d", i);
                metrics_counter_add(&many, V(n), 1);
        }
        metrics_counter_add(&many, V("0"), 1); /* an existing one still counts as itself */
        _cleanup_free_ char *text = render_one(&many);
        assert_non_null(strstr(text, "\ntest_many_total{n=\"0\"} 2\n"));
        assert_non_null(strstr(text, "\ntest_many_total{n=\"" METRICS_OVERFLOW_VALUE "\"} 10\n"));
        size_t lines = 0;
        for (const char *p = text; (p = strstr(p, "\ntest_many_total{")); p++)
                lines++;
        assert_int_equal(lines, METRICS_SERIES_MAX + 1);
}

static struct metrics_family bad_name = METRICS_COUNTER_INIT("test-bad", "Dash.");
static struct metrics_family bad_label = METRICS_GAUGE_INIT("test_bad_label", "x", "1abc");
static struct metrics_family reserved_label = METRICS_GAUGE_INIT("test_reserved", "x", "__x");
static struct metrics_family le_label =
    METRICS_HISTOGRAM_INIT("test_le_seconds", "x", TEST_BUCKETS, "le");
#define BAD_BUCKETS 1, 0.5
static struct metrics_family bad_buckets =
    METRICS_HISTOGRAM_INIT("test_bad_buckets_seconds", "x", BAD_BUCKETS);

static void test_invalid_families(void **state)
{
        (void)state;
        struct metrics_family *bad[] = {&bad_name, &bad_label, &reserved_label, &le_label,
                                        &bad_buckets};
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                assert_int_equal(metrics_family_register(bad[i]), -EINVAL);
                assert_null(metrics_series(bad[i], V("a")));
                metrics_counter_add(bad[i], V("a"), 1); /* does nothing */
                metrics_histogram_observe(bad[i], V("a"), 1);
        }
        metrics_series_add(NULL, 1);
        metrics_series_set(NULL, 1);
        metrics_series_observe(NULL, 1);
        _cleanup_free_ char *text = render_all(NULL, NULL);
        assert_null(strstr(text, "test-bad"));
        assert_null(strstr(text, "test_bad_label"));
        assert_null(strstr(text, "test_le_seconds"));
        assert_null(strstr(text, "test_bad_buckets_seconds"));
}

static void collect_two(struct metrics_writer *w, void *userdata)
{
        int *calls = userdata;
        (*calls)++;
        metrics_write_family(w, "test_collected", "From a collector.", METRICS_GAUGE);
        metrics_write_sample(w, "test_collected", V("kind", "Task", "phase", "Run\"ning", NULL), 3);
        metrics_write_sample(w, "test_collected", NULL, 0.25);
        metrics_write_sample(w, "test_collected", V("x", "inf", NULL), INFINITY);
        metrics_write_sample(w, "test_collected", V("x", "nan", NULL), NAN);
        metrics_write_sample(w, "test_collected", V("x", "big", NULL), 1e20);
}

static void collect_extra(struct metrics_writer *w, void *userdata)
{
        (void)userdata;
        metrics_write_family(w, "test_extra", "The caller's.", METRICS_COUNTER);
        metrics_write_sample(w, "test_extra_total", NULL, 1);
}

static void test_collectors(void **state)
{
        (void)state;
        int calls = 0;
        assert_int_equal(metrics_register_collector(collect_two, &calls), 0);
        assert_int_equal(metrics_register_collector(collect_two, &calls), -EEXIST);
        assert_int_equal(metrics_register_collector(NULL, NULL), -EINVAL);

        _cleanup_free_ char *text = render_all(collect_extra, NULL);
        assert_int_equal(calls, 1);
        assert_non_null(strstr(text, "# HELP test_collected From a collector.\n"
                                     "# TYPE test_collected gauge\n"
                                     "test_collected{kind=\"Task\",phase=\"Run\\\"ning\"} 3\n"
                                     "test_collected 0.25\n"
                                     "test_collected{x=\"inf\"} +Inf\n"
                                     "test_collected{x=\"nan\"} NaN\n"
                                     "test_collected{x=\"big\"} 1e+20\n"));
        /* The caller's collector comes last. */
        const char *extra = strstr(text, "# HELP test_extra ");
        assert_non_null(extra);
        assert_true(extra > strstr(text, "# HELP test_collected "));
        /* Built in: the notifications family, before anyone counted one. */
        assert_non_null(strstr(text, "# TYPE berth_notifications_total counter\n"));

        metrics_unregister_collector(collect_two, &calls);
        metrics_unregister_collector(collect_two, &calls); /* unknown: ignored */
        _cleanup_free_ char *again = render_all(NULL, NULL);
        assert_int_equal(calls, 1);
        assert_null(strstr(again, "test_collected"));
}

static void noop_collect(struct metrics_writer *w, void *userdata)
{
        (void)w;
        (void)userdata;
}

static void test_collector_limit(void **state)
{
        (void)state;
        int slots[METRICS_COLLECTORS_MAX + 1];
        size_t n = 0;
        while (n < ARRAY_SIZE(slots) && metrics_register_collector(noop_collect, &slots[n]) == 0)
                n++;
        assert_true(n < ARRAY_SIZE(slots));
        assert_int_equal(metrics_register_collector(noop_collect, &slots[n]), -ENOSPC);
        for (size_t i = 0; i < n; i++)
                metrics_unregister_collector(noop_collect, &slots[i]);
}

static void test_render_sorted_and_capped(void **state)
{
        (void)state;
        metrics_counter_add(&counter, V("/c", "200"), 1);
        metrics_gauge_set(&gauge, NULL, 1);
        _cleanup_free_ char *text = render_all(NULL, NULL);
        const char *a = strstr(text, "# HELP test_depth ");
        const char *b = strstr(text, "# HELP test_requests_total ");
        assert_non_null(a);
        assert_non_null(b);
        assert_true(a < b);

        struct buf small;
        buf_init(&small, 64);
        assert_int_equal(metrics_render(&small, NULL, NULL), -E2BIG);
        buf_release(&small);
}

static void test_find(void **state)
{
        (void)state;
        double v = -1;
        metrics_counter_add(&counter, V("/find", "200"), 3);
        assert_int_equal(metrics_find("test_requests_total{path=\"/find\",code=\"200\"}", &v), 0);
        assert_true(v == 3);
        assert_int_equal(metrics_find("test_requests_total{path=\"/find\"}", &v), -ENOENT);
        assert_int_equal(metrics_find("test_requests", &v), -ENOENT);
        assert_true(v == 3); /* untouched */
}

static void test_notifications(void **state)
{
        (void)state;
        metrics_notification_count("slack", true);
        metrics_notification_count("slack", true);
        metrics_notification_count("slack", false);
        _cleanup_free_ char *text = render_all(NULL, NULL);
        assert_non_null(
            strstr(text, "\nberth_notifications_total{notifier=\"slack\",result=\"failed\"} 1\n"));
        assert_non_null(
            strstr(text, "\nberth_notifications_total{notifier=\"slack\",result=\"sent\"} 2\n"));
}

static void test_process_collector(void **state)
{
        (void)state;
        _cleanup_free_ char *text = render_all(metrics_process_collect, NULL);
        /* CPU time may still be under one clock tick. */
        const char *names[] = {"process_cpu_seconds_total", "process_resident_memory_bytes",
                               "process_virtual_memory_bytes", "process_open_fds",
                               "process_start_time_seconds"};
        for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
                _cleanup_free_ char *line = str_printf("\n%s ", names[i]);
                const char *p = strstr(text, line);
                assert_non_null(p);
                assert_true(strtod(p + strlen(line), NULL) >= (i == 0 ? 0 : 1));
        }
        /* Started within the last day, after the epoch. */
        const char *st = strstr(text, "\nprocess_start_time_seconds ");
        double start = strtod(st + strlen("\nprocess_start_time_seconds "), NULL);
        double now = (double)time_now_ms() / 1000;
        assert_true(start <= now + 1 && start > now - 86400);
        assert_non_null(strstr(text, "# TYPE process_cpu_seconds_total counter\n"));
}

/* ---- threads ---------------------------------------------------------------- */

#define THREADS    8
#define INCREMENTS 20000

static struct metrics_family racy =
    METRICS_COUNTER_INIT("test_racy_total", "Concurrent increments.", "worker");
static struct metrics_family racy_hist =
    METRICS_HISTOGRAM_INIT("test_racy_seconds", "Concurrent observations.", TEST_BUCKETS);

static void *hammer(void *arg)
{
        intptr_t id = (intptr_t)arg;
        /* Four label sets shared by eight threads: new series race too. */
        char worker[8];
        snprintf(worker, sizeof(worker), "w%d", (int)(id % 4));
        for (int i = 0; i < INCREMENTS; i++) {
                metrics_counter_add(&racy, V(worker), 1);
                metrics_histogram_observe(&racy_hist, NULL, 0.5);
        }
        return NULL;
}

static void test_concurrent_increments(void **state)
{
        (void)state;
        pthread_t t[THREADS];
        for (intptr_t i = 0; i < THREADS; i++)
                assert_int_equal(pthread_create(&t[i], NULL, hammer, (void *)i), 0);
        for (int i = 0; i < THREADS; i++)
                pthread_join(t[i], NULL);

        _cleanup_free_ char *text = render_one(&racy);
        for (int w = 0; w < 4; w++) {
                char want[64];
                snprintf(want, sizeof(want), "\ntest_racy_total{worker=\"w%d\"} %d\n", w,
                         2 * INCREMENTS);
                assert_non_null(strstr(text, want));
        }
        _cleanup_free_ char *h = render_one(&racy_hist);
        char want[128];
        snprintf(want, sizeof(want), "\ntest_racy_seconds_count %d\n", THREADS * INCREMENTS);
        assert_non_null(strstr(h, want));
        snprintf(want, sizeof(want), "\ntest_racy_seconds_sum %d\n", THREADS * INCREMENTS / 2);
        assert_non_null(strstr(h, want));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_counter_text),
            cmocka_unit_test(test_gauge_without_labels),
            cmocka_unit_test(test_histogram_text),
            cmocka_unit_test(test_histogram_without_labels),
            cmocka_unit_test(test_label_value_limits),
            cmocka_unit_test(test_overflow_series),
            cmocka_unit_test(test_invalid_families),
            cmocka_unit_test(test_collectors),
            cmocka_unit_test(test_collector_limit),
            cmocka_unit_test(test_render_sorted_and_capped),
            cmocka_unit_test(test_find),
            cmocka_unit_test(test_notifications),
            cmocka_unit_test(test_process_collector),
            cmocka_unit_test(test_concurrent_increments),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
