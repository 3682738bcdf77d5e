/* Unit tests of the berth CLI: the pure parts (address resolution, tables,
 * printers, wait conditions, Status errors, argument parsing) and whole
 * commands run through cli_run() against the fake berthd of cli-test.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>

#include "cli-internal.h"
#include "cli-test.h"

/* ---- helpers -------------------------------------------------------------- */

static json_t *load(const char *text)
{
        json_error_t e;
        json_t *j = json_loads(text, 0, &e);
        if (!j)
                fail_msg("bad test JSON: %s: %s", e.text, text);
        return j;
}

static char *print_to_string(int (*fn)(FILE *, const json_t *), const json_t *v)
{
        char *s = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&s, &n);
        assert_int_equal(fn(f, v), 0);
        fclose(f);
        return s;
}

static int64_t ts(const char *s)
{
        int64_t ms = 0;
        assert_int_equal(time_parse_rfc3339(s, &ms), 0);
        return ms;
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

/* ---- server address ----------------------------------------------------- */

/* The server cli_config_resolve() picks with --server flag (may be NULL). */
static char *resolved_server(const char *flag)
{
        struct cli_conn_flags flags = {.server = flag};
        struct cli_config conf = {0};
        char errbuf[256] = "";

        if (cli_config_resolve(&flags, &conf, errbuf, sizeof(errbuf)) < 0)
                fail_msg("resolve: %s", errbuf);
        char *url = TAKE_PTR(conf.server);
        cli_config_release(&conf);
        return url;
}

static void test_server_resolve(void **state)
{
        (void)state;
        char dir[] = "/tmp/berth-cli-xdg.XXXXXX";
        char sub[128], conf[160];
        char *url = NULL;

        assert_non_null(mkdtemp(dir));
        snprintf(sub, sizeof(sub), "%s/berth", dir);
        snprintf(conf, sizeof(conf), "%s/config", sub);
        setenv("XDG_CONFIG_HOME", dir, 1);
        unsetenv("BERTH_SERVER");
        unsetenv("BERTH_CONFIG");

        /* Nothing configured: the local socket. */
        url = resolved_server(NULL);
        assert_string_equal(url, CLI_DEFAULT_SERVER);
        free(url);

        /* The config file. */
        assert_int_equal(mkdir(sub, 0700), 0);
        write_file(conf, "# berth client\nother: x\n  server:  \"http://127.0.0.1:7443\"  \n");
        url = resolved_server(NULL);
        assert_string_equal(url, "http://127.0.0.1:7443");
        free(url);
        url = resolved_server("");
        assert_string_equal(url, "http://127.0.0.1:7443");
        free(url);

        /* The environment beats the file. */
        setenv("BERTH_SERVER", "unix:///tmp/env.sock", 1);
        url = resolved_server(NULL);
        assert_string_equal(url, "unix:///tmp/env.sock");
        free(url);

        /* The flag beats everything. */
        url = resolved_server("http://flag:1");
        assert_string_equal(url, "http://flag:1");
        free(url);

        unsetenv("BERTH_SERVER");
        unlink(conf);
        rmdir(sub);
        rmdir(dir);
        cli_test_env();
}

/* ---- tables --------------------------------------------------------------- */

static const char *const two_tasks =
    "[{\"kind\":\"Task\",\"metadata\":{\"name\":\"hello\",\"namespace\":\"default\","
    "\"creationTimestamp\":\"2026-01-01T00:55:00Z\"},\"spec\":{\"image\":\"busybox:latest\"},"
    "\"status\":{\"phase\":\"Succeeded\",\"attempts\":1,\"exitCode\":0,\"reason\":\"Completed\","
    "\"containerID\":\"0123456789abcdef0123\"}},"
    "{\"kind\":\"Task\",\"metadata\":{\"name\":\"longer-name\",\"namespace\":\"team-a\","
    "\"creationTimestamp\":\"2025-12-31T23:00:00Z\"},\"spec\":{\"image\":\"alpine\"},"
    "\"status\":{\"phase\":\"Running\",\"attempts\":2}}]";

static char *table_of(const json_t *items, const struct cli_print_opts *opts)
{
        struct cli_table t;
        char *s = NULL;
        size_t n = 0;
        size_t i;
        json_t *o;
        FILE *f = open_memstream(&s, &n);

        assert_int_equal(cli_table_init(&t, opts), 0);
        json_array_foreach((json_t *)items, i, o) assert_int_equal(cli_table_add(&t, o), 0);
        assert_int_equal(cli_table_flush(&t, f), 0);
        cli_table_release(&t);
        fclose(f);
        return s;
}

static void test_table(void **state)
{
        (void)state;
        json_t *items = load(two_tasks);
        int64_t now = ts("2026-01-01T01:00:00Z");
        struct cli_print_opts o = {.kind = kind_lookup("task"), .now_ms = now};
        char a5m[16], a2h[16], want[1024];

        age_format(5 * 60 * 1000, a5m, sizeof(a5m));
        age_format(2 * 3600 * 1000, a2h, sizeof(a2h));

        /* Each column is as wide as its widest value + 3; EXIT empty when unknown. */
        char *s = table_of(items, &o);
        snprintf(want, sizeof(want),
                 "NAME          PHASE       ATTEMPTS   EXIT   AGE\n"
                 "hello         Succeeded   1          0      %s\n"
                 "longer-name   Running     2                 %s\n",
                 a5m, a2h);
        assert_string_equal(s, want);
        free(s);

        /* -A: NAMESPACE first. */
        o.all_namespaces = true;
        s = table_of(items, &o);
        snprintf(want, sizeof(want),
                 "NAMESPACE   NAME          PHASE       ATTEMPTS   EXIT   AGE\n"
                 "default     hello         Succeeded   1          0      %s\n"
                 "team-a      longer-name   Running     2                 %s\n",
                 a5m, a2h);
        assert_string_equal(s, want);
        free(s);

        /* wide: REASON, CONTAINER (12 characters), IMAGE. */
        o.all_namespaces = false;
        o.wide = true;
        s = table_of(items, &o);
        snprintf(
            want, sizeof(want),
            "NAME          PHASE       ATTEMPTS   EXIT   AGE   REASON      CONTAINER      IMAGE\n"
            "hello         Succeeded   1          0      %-3s   Completed   0123456789ab   "
            "busybox:latest\n"
            "longer-name   Running     2                 %-3s   %-9s   %-12s   alpine\n",
            a5m, a2h, "", "");
        assert_string_equal(s, want);
        free(s);

        /* No headers; a task with no status is Pending with 0 attempts and an unknown age. */
        json_t *bare = load("[{\"kind\":\"Task\",\"metadata\":{\"name\":\"new\"}}]");
        struct cli_print_opts o2 = {.kind = kind_lookup("task"), .no_headers = true, .now_ms = now};
        s = table_of(bare, &o2);
        assert_string_equal(s, "new   Pending   0      <unknown>\n");
        free(s);
        json_decref(bare);

        /* Colour codes do not count towards the width. */
        struct cli_print_opts o3 = {.kind = kind_lookup("task"), .color = true, .now_ms = now};
        s = table_of(items, &o3);
        assert_non_null(strstr(s, "hello         \033[32mSucceeded\033[0m   1"));
        assert_non_null(strstr(s, "longer-name   Running     2"));
        free(s);

        json_decref(items);
}

static void test_table_watch_widths(void **state)
{
        (void)state;
        json_t *items = load(two_tasks);
        struct cli_print_opts o = {.kind = kind_lookup("task"),
                                   .now_ms = ts("2026-01-01T01:00:00Z")};
        struct cli_table t;
        char *s = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&s, &n);

        /* Rows flushed later keep the widths seen so far: no header repeat. */
        cli_table_init(&t, &o);
        cli_table_add(&t, json_array_get(items, 1));
        cli_table_flush(&t, f);
        cli_table_add(&t, json_array_get(items, 0));
        cli_table_flush(&t, f);
        cli_table_release(&t);
        fclose(f);
        assert_non_null(strstr(s, "\nhello         Succeeded   1"));
        assert_ptr_equal(strstr(s, "NAME "), s);
        assert_null(strstr(s + 1, "NAME "));
        free(s);
        json_decref(items);
}

static void test_printers(void **state)
{
        (void)state;
        json_t *o = load("{\"apiVersion\":\"berth/v1\",\"kind\":\"Task\","
                         "\"metadata\":{\"name\":\"hello\"},\"spec\":{\"image\":\"busybox\"}}");
        char *s = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&s, &n);

        assert_int_equal(cli_print_name(f, kind_lookup("tasks"), o), 0);
        assert_int_equal(cli_print_name(f, NULL, o), 0);
        fclose(f);
        assert_string_equal(s, "task/hello\ntask/hello\n");
        free(s);

        s = print_to_string(cli_print_json, o);
        json_t *back = load(s);
        assert_true(json_equal(back, o));
        assert_non_null(strstr(s, "\n    \"kind\": \"Task\""));
        json_decref(back);
        free(s);

        s = print_to_string(cli_print_yaml, o);
        assert_non_null(strstr(s, "kind: Task\n"));
        assert_non_null(strstr(s, "metadata:\n  name: hello\n"));
        free(s);
        json_decref(o);
}

static void test_describe(void **state)
{
        (void)state;
        json_t *o = load(
            "{\"kind\":\"Task\",\"metadata\":{\"name\":\"hello\",\"namespace\":\"default\","
            "\"labels\":{\"tier\":\"b\",\"app\":\"demo\"},\"uid\":\"abc\",\"generation\":2,"
            "\"creationTimestamp\":\"2026-01-01T00:55:00Z\"},"
            "\"spec\":{\"image\":\"busybox\",\"command\":[\"sh\",\"-c\",\"echo hi\"],"
            "\"backoffLimit\":6,\"activeDeadlineSeconds\":90,\"resources\":{\"memory\":\"64Mi\"}},"
            "\"status\":{\"phase\":\"Failed\",\"reason\":\"BackoffLimitExceeded\",\"attempts\":7,"
            "\"exitCode\":1,\"conditions\":[{\"type\":\"Failed\",\"status\":\"True\","
            "\"reason\":\"BackoffLimitExceeded\",\"message\":\"7 attempts\","
            "\"lastTransitionTime\":\"2026-01-01T00:59:00Z\"}]}}");
        char *s = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&s, &n);

        assert_int_equal(
            cli_describe(f, kind_lookup("task"), o, NULL, NULL, ts("2026-01-01T01:00:00Z")), 0);
        fclose(f);
        assert_non_null(strstr(s, "Name:         hello\n"));
        assert_non_null(strstr(s, "Labels:       app=demo\n              tier=b\n"));
        assert_non_null(strstr(s, "Annotations:  <none>\n"));
        assert_non_null(strstr(s, "Generation:   2\n"));
        assert_non_null(strstr(s, "  Command:         sh -c \"echo hi\"\n"));
        assert_non_null(strstr(s, "  Args:            <none>\n"));
        assert_non_null(strstr(s, "  Deadline:        1m30s\n"));
        assert_non_null(strstr(s, "  Resources:       memory=64Mi\n"));
        assert_non_null(strstr(s, "  Phase:      Failed\n"));
        assert_non_null(strstr(s, "  Exit Code:  1\n"));
        assert_non_null(strstr(
            s, "  TYPE     STATUS   REASON                 MESSAGE      LAST TRANSITION\n"
               "  Failed   True     BackoffLimitExceeded   7 attempts   2026-01-01T00:59:00Z\n"));
        assert_non_null(strstr(s, "Events:       <none>\n"));
        free(s);
        json_decref(o);
}

/* ---- workflows -------------------------------------------------------------- */

/* A workflow whose second step failed: the third was skipped. */
static const char *const etl_failed =
    "{\"apiVersion\":\"berth/v1\",\"kind\":\"Workflow\",\"metadata\":{\"name\":\"etl\","
    "\"namespace\":\"default\",\"uid\":\"u1\",\"generation\":1,\"resourceVersion\":\"5\","
    "\"creationTimestamp\":\"2026-01-01T00:50:00Z\",\"labels\":{\"team\":\"data\"}},"
    "\"spec\":{\"parameters\":[{\"name\":\"day\",\"value\":\"2026-11-27\"}],\"steps\":["
    "{\"name\":\"extract\",\"task\":{\"image\":\"busybox\"}},"
    "{\"name\":\"transform\",\"dependsOn\":[\"extract\"],\"task\":{\"image\":\"busybox\"}},"
    "{\"name\":\"load\",\"dependsOn\":[\"extract\",\"transform\"],"
    "\"task\":{\"image\":\"busybox\"}}]},"
    "\"status\":{\"phase\":\"Failed\",\"progress\":\"1/3\","
    "\"startTime\":\"2026-01-01T00:50:01Z\",\"completionTime\":\"2026-01-01T00:52:31Z\","
    "\"reason\":\"StepFailed\",\"message\":\"step transform failed: Error: exit code 1\","
    "\"steps\":["
    "{\"name\":\"extract\",\"phase\":\"Succeeded\",\"task\":\"etl-extract\","
    "\"startTime\":\"2026-01-01T00:50:01Z\",\"finishTime\":\"2026-01-01T00:50:04Z\","
    "\"exitCode\":0,\"result\":\"/berth/workflows-data/default/etl/step-extract\"},"
    "{\"name\":\"transform\",\"phase\":\"Failed\",\"task\":\"etl-transform\","
    "\"startTime\":\"2026-01-01T00:50:05Z\",\"finishTime\":\"2026-01-01T00:52:31Z\","
    "\"exitCode\":1,\"reason\":\"Error\",\"message\":\"exit code 1\"},"
    "{\"name\":\"load\",\"phase\":\"Skipped\",\"reason\":\"DependencyFailed\","
    "\"message\":\"dependency transform failed\"}],"
    "\"conditions\":[{\"type\":\"Failed\",\"status\":\"True\",\"reason\":\"StepFailed\","
    "\"message\":\"step transform failed: Error: exit code 1\","
    "\"lastTransitionTime\":\"2026-01-01T00:52:31Z\"}]}}";

static const char *const nightly_running =
    "{\"kind\":\"Workflow\",\"metadata\":{\"name\":\"nightly\",\"namespace\":\"ops\","
    "\"creationTimestamp\":\"2025-12-31T23:00:00Z\"},"
    "\"spec\":{\"steps\":[{\"name\":\"a\"},{\"name\":\"b\"}]},"
    "\"status\":{\"phase\":\"Running\",\"progress\":\"1/2\","
    "\"startTime\":\"2026-01-01T00:58:00Z\"}}";

static char *describe_to_string(const char *kind, const json_t *o, const json_t *results)
{
        char *s = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&s, &n);
        assert_int_equal(
            cli_describe(f, kind_lookup(kind), o, results, NULL, ts("2026-01-01T01:00:00Z")), 0);
        fclose(f);
        return s;
}

static const char *const crontask_json =
    "{\"kind\":\"CronTask\",\"metadata\":{\"name\":\"nightly\",\"namespace\":\"default\","
    "\"creationTimestamp\":\"2025-12-31T00:00:00Z\"},"
    "\"spec\":{\"schedule\":\"30 2 * * *\",\"timeZone\":\"Europe/Berlin\","
    "\"concurrencyPolicy\":\"Forbid\",\"suspend\":false,"
    "\"catchUp\":{\"policy\":\"Latest\",\"max\":10},\"successfulHistoryLimit\":3,"
    "\"failedHistoryLimit\":1,\"taskTemplate\":{\"spec\":{\"image\":\"busybox\"}}},"
    "\"status\":{\"lastScheduleTime\":\"2026-01-01T00:30:00Z\","
    "\"nextScheduleTime\":\"2026-01-02T01:30:00Z\",\"active\":[\"nightly-29453790\"],"
    "\"missed\":{\"count\":2,\"lastTime\":\"2025-12-31T01:30:00Z\","
    "\"lastReason\":\"ConcurrencyForbid\"}}}";

static void test_crontask_table_and_describe(void **state)
{
        (void)state;
        json_t *items = json_array();
        struct cli_print_opts o = {.kind = kind_lookup("ct"), .now_ms = ts("2026-01-01T01:00:00Z")};
        json_t *ct = load(crontask_json);
        json_t *runs = load("[{\"kind\":\"Task\",\"metadata\":{\"name\":\"nightly-29453790\","
                            "\"creationTimestamp\":\"2026-01-01T00:30:00Z\",\"annotations\":"
                            "{\"berth/scheduled-time\":\"2026-01-01T00:30:00Z\"}},"
                            "\"status\":{\"phase\":\"Running\","
                            "\"startTime\":\"2026-01-01T00:30:01Z\"}}]");
        char *s;

        json_array_append(items, ct);
        s = table_of(items, &o);
        assert_string_equal(s, "NAME      SCHEDULE     TIMEZONE        SUSPEND   ACTIVE   LAST   "
                               "NEXT     AGE\n"
                               "nightly   30 2 * * *   Europe/Berlin   false     1        30m    "
                               "in 24h   25h\n");
        free(s);
        o.wide = true;
        s = table_of(items, &o);
        assert_non_null(strstr(s, "MISSED"));
        assert_non_null(strstr(s, "  2\n"));
        free(s);

        s = describe_to_string("crontask", ct, runs);
        assert_non_null(strstr(s, "  Schedule:           30 2 * * *\n"));
        assert_non_null(strstr(s, "  Time Zone:          Europe/Berlin\n"));
        assert_non_null(strstr(s, "  Concurrency:        Forbid\n"));
        assert_non_null(strstr(s, "  Catch Up:           Latest (at most 10)\n"));
        assert_non_null(strstr(s, "  Missed:           2, the last at 2025-12-31T01:30:00Z: "
                                  "ConcurrencyForbid\n"));
        assert_non_null(strstr(s, "  Active:           nightly-29453790\n"));
        assert_null(strstr(s, "Phase:")); /* a CronTask has none */
        /* The next five times, from now, in Berlin (UTC+1 in winter). */
        assert_non_null(strstr(s, "Next Runs:\n  2026-01-01T01:30:00Z\n  2026-01-02T01:30:00Z\n"));
        assert_non_null(strstr(s, "Recent Runs:\n"));
        assert_non_null(strstr(s, "nightly-29453790"));
        assert_non_null(strstr(s, "Running"));
        free(s);

        /* Suspended: no next times; runs unavailable. */
        json_object_set_new(json_object_get(ct, "spec"), "suspend", json_true());
        s = describe_to_string("crontask", ct, NULL);
        assert_non_null(strstr(s, "Next Runs:    <suspended>\n"));
        assert_non_null(strstr(s, "Recent Runs:  <unavailable>\n"));
        free(s);
        json_decref(runs);
        json_decref(ct);
        json_decref(items);
}

static void test_notifier_table_and_describe(void **state)
{
        (void)state;
        json_t *items = json_array();
        struct cli_print_opts o = {.kind = kind_lookup("notifiers"),
                                   .now_ms = ts("2026-01-01T01:00:00Z")};
        json_t *n =
            load("{\"kind\":\"Notifier\",\"metadata\":{\"name\":\"data-team\",\"namespace\":"
                 "\"default\",\"creationTimestamp\":\"2025-12-31T00:00:00Z\"},"
                 "\"spec\":{\"on\":[\"Failed\",\"Recovered\"],\"type\":\"webhook\","
                 "\"webhook\":{\"url\":\"https://hooks.example.com/b\"}},"
                 "\"status\":{\"delivered\":7,\"failures\":1,\"dropped\":0,"
                 "\"lastDelivery\":{\"time\":\"2026-01-01T00:59:30.250Z\",\"result\":\"Sent\","
                 "\"code\":200,\"event\":\"Recovered\",\"object\":{\"kind\":\"Task\","
                 "\"name\":\"etl\"},\"attempts\":2},"
                 "\"lastError\":\"POST https://hooks.example.com/b: 503 busy\","
                 "\"lastErrorTime\":\"2026-01-01T00:59:29Z\"}}");
        char *s;

        json_array_append(items, n);
        s = table_of(items, &o);
        assert_string_equal(s,
                            "NAME        TYPE      LAST   SENT   DELIVERED   FAILURES   DROPPED   "
                            "AGE\n"
                            "data-team   webhook   Sent   29s    7           1          0         "
                            "25h\n");
        free(s);
        s = describe_to_string("notifier", n, NULL);
        assert_non_null(strstr(s, "  Delivered:      7\n"));
        assert_non_null(strstr(s, "  Failures:       1\n"));
        assert_non_null(strstr(s, "  Dropped:        0\n"));
        assert_non_null(strstr(s, "  Last Delivery:  Sent (200) for Recovered of task/etl, 2 "
                                  "attempts, at 2026-01-01T00:59:30.250Z (29s ago)\n"));
        assert_non_null(
            strstr(s, "  Last Error:     POST https://hooks.example.com/b: 503 busy\n"));
        assert_non_null(strstr(s, "  Error At:       2026-01-01T00:59:29Z (31s ago)\n"));
        free(s);
        json_decref(n);
        json_decref(items);
}

static void test_workflow_table(void **state)
{
        (void)state;
        json_t *items = json_array();
        struct cli_print_opts o = {.kind = kind_lookup("wf"), .now_ms = ts("2026-01-01T01:00:00Z")};
        char *s;

        json_array_append_new(items, load(etl_failed));
        json_array_append_new(items, load(nightly_running));

        s = table_of(items, &o);
        assert_string_equal(s, "NAME      PHASE     PROGRESS   AGE\n"
                               "etl       Failed    1/3        10m\n"
                               "nightly   Running   1/2        2h\n");
        free(s);

        /* -A: NAMESPACE first. */
        o.all_namespaces = true;
        s = table_of(items, &o);
        assert_string_equal(s, "NAMESPACE   NAME      PHASE     PROGRESS   AGE\n"
                               "default     etl       Failed    1/3        10m\n"
                               "ops         nightly   Running   1/2        2h\n");
        free(s);

        /* wide: DURATION (to now while running), REASON, MESSAGE; no trailing blanks. */
        o.all_namespaces = false;
        o.wide = true;
        s = table_of(items, &o);
        assert_string_equal(s,
                            "NAME      PHASE     PROGRESS   AGE   DURATION   REASON       MESSAGE\n"
                            "etl       Failed    1/3        10m   2m30s      StepFailed   "
                            "step transform failed: Error: exit code 1\n"
                            "nightly   Running   1/2        2h    2m\n");
        free(s);
        json_decref(items);

        /* Before berth wrote a status: Pending, 0 of the spec's steps. A
         * multi-line message stays on one line. */
        items = load("[{\"kind\":\"Workflow\",\"metadata\":{\"name\":\"new\"},"
                     "\"spec\":{\"steps\":[{\"name\":\"a\"},{\"name\":\"b\"}]}},"
                     "{\"kind\":\"Workflow\",\"metadata\":{\"name\":\"odd\"},"
                     "\"status\":{\"phase\":\"Running\",\"message\":\"one\\ntwo\"}}]");
        struct cli_print_opts o2 = {
            .kind = kind_lookup("workflow"), .no_headers = true, .wide = true, .now_ms = 0};
        s = table_of(items, &o2);
        assert_string_equal(s, "new   Pending   0/2   <unknown>\n"
                               "odd   Running         <unknown>         one...\n");
        free(s);

        /* Long runs are counted in days. */
        json_t *week = load("[{\"kind\":\"Workflow\",\"metadata\":{\"name\":\"w\"},"
                            "\"status\":{\"phase\":\"Running\",\"progress\":\"0/1\","
                            "\"startTime\":\"2025-12-25T00:00:00Z\"}}]");
        o2.now_ms = ts("2026-01-01T01:00:00Z");
        s = table_of(week, &o2);
        assert_string_equal(s, "w   Running   0/1   <unknown>   7d\n");
        free(s);
        json_decref(week);

        /* An unknown kind: NAME and AGE only. */
        struct cli_print_opts o3 = {.kind = NULL, .now_ms = 0};
        s = table_of(items, &o3);
        assert_string_equal(s, "NAME   AGE\nnew    <unknown>\nodd    <unknown>\n");
        free(s);
        json_decref(items);
}

static void test_workflow_describe(void **state)
{
        (void)state;
        json_t *o = load(etl_failed);
        json_t *results = load(
            "{\"steps\":{\"extract\":{\"result\":\"42\",\"truncated\":false,\"exitCode\":0}}}");

        char *s = describe_to_string("workflow", o, results);
        assert_string_equal(
            s, "Name:         etl\n"
               "Namespace:    default\n"
               "Labels:       team=data\n"
               "Annotations:  <none>\n"
               "UID:          u1\n"
               "Created:      2026-01-01T00:50:00Z (10m ago)\n"
               "Generation:   1\n"
               "Spec:\n"
               "  Parameters:   day=2026-11-27\n"
               "  Steps:        extract\n"
               "                transform (after extract)\n"
               "                load (after extract, transform)\n"
               "  Fail Fast:    true\n"
               "  Parallelism:  unlimited\n"
               "  TTL:          <none>\n"
               "Status:\n"
               "  Phase:      Failed\n"
               "  Reason:     StepFailed\n"
               "  Message:    step transform failed: Error: exit code 1\n"
               "  Progress:   1/3\n"
               "  Started:    2026-01-01T00:50:01Z (9m ago)\n"
               "  Completed:  2026-01-01T00:52:31Z (7m ago)\n"
               "  Duration:   2m30s\n"
               "Conditions:\n"
               "  TYPE     STATUS   REASON       MESSAGE                                     "
               "LAST TRANSITION\n"
               "  Failed   True     StepFailed   step transform failed: Error: exit code 1   "
               "2026-01-01T00:52:31Z\n"
               "Steps:\n"
               "  STEP        PHASE       TASK            EXIT   DURATION   REASON             "
               "MESSAGE\n"
               "  extract     Succeeded   etl-extract     0      3s\n"
               "  transform   Failed      etl-transform   1      2m26s      Error              "
               "exit code 1\n"
               "  load        Skipped                                       DependencyFailed   "
               "dependency transform failed\n"
               "Results:\n"
               "  extract:  42\n"
               "Events:       <none>\n");
        free(s);

        /* Results not to be had (berthd without the endpoint): the rest is there. */
        s = describe_to_string("workflow", o, NULL);
        assert_non_null(strstr(s, "  extract     Succeeded   etl-extract     0      3s\n"));
        assert_non_null(strstr(s, "Results:      <unavailable>\nEvents:"));
        free(s);

        /* No result recorded yet; results of unknown steps are not shown. */
        json_decref(results);
        results = load("{\"steps\":{\"ghost\":{\"result\":\"boo\"}}}");
        s = describe_to_string("workflow", o, results);
        assert_non_null(strstr(s, "Results:      <none>\n"));
        assert_null(strstr(s, "boo"));
        free(s);
        json_decref(results);
        json_decref(o);

        /* A pending workflow: the steps come from the spec; spec options shown. */
        o = load("{\"kind\":\"Workflow\",\"metadata\":{\"name\":\"p\",\"namespace\":\"default\"},"
                 "\"spec\":{\"failFast\":false,\"parallelism\":2,\"ttlSecondsAfterFinished\":3600,"
                 "\"steps\":[{\"name\":\"a\"},{\"name\":\"b\",\"dependsOn\":[\"a\"]}]}}");
        results = load("{\"steps\":{}}");
        s = describe_to_string("workflow", o, results);
        assert_non_null(strstr(s, "  Parameters:   <none>\n"));
        assert_non_null(
            strstr(s, "  Fail Fast:    false\n  Parallelism:  2\n  TTL:          1h\n"));
        assert_non_null(strstr(s, "  Phase:      Pending\n"));
        assert_non_null(strstr(s, "  Progress:   0/2\n  Started:    <none>\n"));
        assert_non_null(strstr(s, "  Duration:   <none>\n"));
        assert_non_null(strstr(s, "Conditions:   <none>\nSteps:\n"
                                  "  STEP   PHASE     TASK   EXIT   DURATION   REASON   MESSAGE\n"
                                  "  a      Pending\n"
                                  "  b      Pending\n"
                                  "Results:      <none>\n"));
        free(s);
        json_decref(results);
        json_decref(o);
}

static void test_workflow_results_preview(void **state)
{
        (void)state;
        char long_ascii[101], want_ascii[81];
        char long_utf8[201], want_utf8[160];

        memset(long_ascii, 'x', 100);
        long_ascii[100] = '\0';
        memset(want_ascii, 'x', 77);
        strcpy(want_ascii + 77, "...");
        for (size_t i = 0; i < 100; i++)
                memcpy(long_utf8 + 2 * i, "\xc3\xa9", 2); /* é */
        long_utf8[200] = '\0';
        for (size_t i = 0; i < 77; i++)
                memcpy(want_utf8 + 2 * i, "\xc3\xa9", 2);
        strcpy(want_utf8 + 154, "...");

        json_t *o = load("{\"kind\":\"Workflow\",\"metadata\":{\"name\":\"w\"},\"status\":{"
                         "\"phase\":\"Succeeded\",\"steps\":[{\"name\":\"long\"},"
                         "{\"name\":\"utf8\"},{\"name\":\"lines\"},{\"name\":\"blank-first\"},"
                         "{\"name\":\"cut\"},{\"name\":\"esc\"},{\"name\":\"empty\"},"
                         "{\"name\":\"exact\"}]}}");
        json_t *results = json_object();
        json_t *map = json_object();
        char exact[81];
        memset(exact, 'y', 80);
        exact[80] = '\0';
        json_object_set_new(results, "steps", map);
        json_object_set_new(map, "long", json_pack("{s:s}", "result", long_ascii));
        json_object_set_new(map, "utf8", json_pack("{s:s}", "result", long_utf8));
        json_object_set_new(map, "lines", json_pack("{s:s}", "result", "first\nsecond"));
        json_object_set_new(map, "blank-first", json_pack("{s:s}", "result", "\n  \nreal\r\n"));
        json_object_set_new(map, "cut",
                            json_pack("{s:s, s:b}", "result", "end of it\nlast", "truncated", 1));
        json_object_set_new(map, "esc", json_pack("{s:s}", "result", "a\x1b[31mred\tz"));
        json_object_set_new(map, "empty", json_pack("{s:s}", "result", ""));
        json_object_set_new(map, "exact", json_pack("{s:s}", "result", exact));

        char *s = describe_to_string("workflow", o, results);
        char want[1024];
        snprintf(want, sizeof(want),
                 "Results:\n"
                 "  long:         %s\n"
                 "  utf8:         %s\n"
                 "  lines:        first...\n"
                 "  blank-first:  real\n"
                 "  cut:          ...end of it...\n"
                 "  esc:          a [31mred z\n"
                 "  empty:        <empty>\n"
                 "  exact:        %s\n"
                 "Events:",
                 want_ascii, want_utf8, exact);
        assert_non_null(strstr(s, want));
        free(s);
        json_decref(results);
        json_decref(o);
}

/* ---- wait conditions ------------------------------------------------------ */

static enum cli_cond_result eval(const char *object, const char *for_arg, char *why)
{
        struct cli_wait_for w;
        json_t *o = load(object);
        assert_int_equal(cli_wait_for_parse(for_arg, &w), 0);
        enum cli_cond_result r = cli_condition_eval(o, &w, why, 256);
        json_decref(o);
        return r;
}

static void test_wait_for_parse(void **state)
{
        (void)state;
        struct cli_wait_for w;

        assert_int_equal(cli_wait_for_parse("delete", &w), 0);
        assert_int_equal(w.type, CLI_WAIT_DELETE);
        assert_int_equal(cli_wait_for_parse("condition=Succeeded", &w), 0);
        assert_int_equal(w.type, CLI_WAIT_CONDITION);
        assert_string_equal(w.condition, "Succeeded");
        assert_string_equal(w.status, "True");
        assert_int_equal(cli_wait_for_parse("condition=Ready=False", &w), 0);
        assert_string_equal(w.condition, "Ready");
        assert_string_equal(w.status, "False");
        assert_int_equal(cli_wait_for_parse("condition=", &w), -EINVAL);
        assert_int_equal(cli_wait_for_parse("condition=A=", &w), -EINVAL);
        assert_int_equal(cli_wait_for_parse("condition=A=B=C", &w), -EINVAL);
        assert_int_equal(cli_wait_for_parse("cond=Ready", &w), -EINVAL);
        assert_int_equal(cli_wait_for_parse("", &w), -EINVAL);
        assert_int_equal(cli_wait_for_parse(NULL, &w), -EINVAL);
}

static void test_condition_eval(void **state)
{
        (void)state;
        char why[256];
        const char *pending = "{\"kind\":\"Task\",\"metadata\":{\"name\":\"t\"}}";
        const char *running =
            "{\"kind\":\"Task\",\"status\":{\"phase\":\"Running\",\"conditions\":["
            "{\"type\":\"Running\",\"status\":\"True\"},{\"type\":\"Succeeded\",\"status\":"
            "\"False\"}]}}";
        const char *succeeded =
            "{\"kind\":\"Task\",\"status\":{\"phase\":\"Succeeded\",\"reason\":\"Completed\","
            "\"conditions\":[{\"type\":\"Running\",\"status\":\"False\"},"
            "{\"type\":\"Succeeded\",\"status\":\"True\"},{\"type\":\"Failed\",\"status\":"
            "\"False\"}]}}";
        const char *failed = "{\"kind\":\"Task\",\"status\":{\"phase\":\"Failed\","
                             "\"reason\":\"BackoffLimitExceeded\"}}";

        /* Pending: nothing is decided yet. */
        assert_int_equal(eval(pending, "condition=Succeeded", why), CLI_COND_PENDING);
        assert_int_equal(eval(pending, "condition=Running", why), CLI_COND_PENDING);
        assert_int_equal(eval(pending, "condition=Failed", why), CLI_COND_PENDING);

        /* Running. */
        assert_int_equal(eval(running, "condition=Running", why), CLI_COND_MET);
        assert_int_equal(eval(running, "condition=running=true", why), CLI_COND_MET);
        assert_int_equal(eval(running, "condition=Succeeded", why), CLI_COND_PENDING);
        assert_int_equal(eval(running, "condition=Succeeded=False", why), CLI_COND_MET);
        assert_int_equal(eval(running, "condition=Failed", why), CLI_COND_PENDING);

        /* Succeeded: final. */
        assert_int_equal(eval(succeeded, "condition=Succeeded", why), CLI_COND_MET);
        assert_int_equal(eval(succeeded, "condition=Failed=False", why), CLI_COND_MET);
        assert_int_equal(eval(succeeded, "condition=Failed", why), CLI_COND_IMPOSSIBLE);
        assert_string_equal(why, "phase is Succeeded (Completed)");
        assert_int_equal(eval(succeeded, "condition=Running", why), CLI_COND_IMPOSSIBLE);

        /* Failed without conditions: the phase stands in for them. */
        assert_int_equal(eval(failed, "condition=Failed", why), CLI_COND_MET);
        assert_int_equal(eval(failed, "condition=Succeeded", why), CLI_COND_IMPOSSIBLE);
        assert_string_equal(why, "phase is Failed (BackoffLimitExceeded)");
        assert_int_equal(eval(failed, "condition=Succeeded=False", why), CLI_COND_MET);
        assert_int_equal(eval(failed, "condition=Running", why), CLI_COND_IMPOSSIBLE);

        /* Workflows finish like tasks: a Failed one never meets Succeeded. */
        const char *wf_failed =
            "{\"kind\":\"Workflow\",\"status\":{\"phase\":\"Failed\",\"reason\":"
            "\"StepFailed\",\"conditions\":[{\"type\":\"Running\",\"status\":\"False\"},"
            "{\"type\":\"Failed\",\"status\":\"True\"}]}}";
        assert_int_equal(eval(wf_failed, "condition=Succeeded", why), CLI_COND_IMPOSSIBLE);
        assert_string_equal(why, "phase is Failed (StepFailed)");
        assert_int_equal(eval(wf_failed, "condition=Failed", why), CLI_COND_MET);
        assert_int_equal(eval("{\"kind\":\"Workflow\",\"status\":{\"phase\":\"Succeeded\"}}",
                              "condition=Succeeded", why),
                         CLI_COND_MET);
        assert_int_equal(eval("{\"kind\":\"Workflow\",\"status\":{\"phase\":\"Running\"}}",
                              "condition=Succeeded", why),
                         CLI_COND_PENDING);

        /* Kinds that do not finish never make a wait impossible. */
        assert_int_equal(eval("{\"kind\":\"Service\",\"status\":{\"phase\":\"Failed\"}}",
                              "condition=Ready", why),
                         CLI_COND_PENDING);
}

/* ---- Status errors -------------------------------------------------------- */

static void test_status_format(void **state)
{
        (void)state;
        const char *invalid =
            "{\"kind\":\"Status\",\"code\":422,\"reason\":\"Invalid\",\"message\":\"Task "
            "\\\"x\\\" is invalid\",\"details\":[{\"field\":\"spec.image\",\"message\":"
            "\"required\"},{\"field\":\"metadata.name\",\"message\":\"bad\"}]}";
        char *s = cli_status_format(422, invalid, strlen(invalid));
        assert_string_equal(s, "Error from server (Invalid): Task \"x\" is invalid\n"
                               "  spec.image: required\n"
                               "  metadata.name: bad");
        free(s);

        const char *nf =
            "{\"kind\":\"Status\",\"code\":404,\"message\":\"tasks \\\"x\\\" not found\"}";
        s = cli_status_format(404, nf, strlen(nf));
        assert_string_equal(s, "Error from server (NotFound): tasks \"x\" not found");
        free(s);

        s = cli_status_format(500, "oops\n", 5);
        assert_string_equal(s, "Error from server (InternalError): oops");
        free(s);

        s = cli_status_format(503, NULL, 0);
        assert_string_equal(s, "Error from server (ServiceUnavailable): the server answered 503");
        free(s);
}

/* ---- arguments ------------------------------------------------------------ */

static void test_targets(void **state)
{
        (void)state;
        struct cli_targets t = {0};
        char err[256];
        char *a1[] = {(char *)"task/hello"};
        char *a2[] = {(char *)"tasks", (char *)"hello", (char *)"world"};
        char *a3[] = {(char *)"tk"};
        char *a4[] = {(char *)"foo"};
        char *a5[] = {(char *)"task/hello", (char *)"x"};
        char *a6[] = {(char *)"task", (char *)"task/hello"};
        char *a7[] = {(char *)"task/"};
        char *a8[] = {(char *)"taks", (char *)"x"};

        assert_int_equal(cli_targets_parse(a1, 1, true, &t, err, sizeof(err)), 0);
        assert_int_equal(t.n, 1);
        assert_string_equal(t.items[0].kind->kind, "Task");
        assert_string_equal(t.items[0].name, "hello");
        cli_targets_release(&t);

        assert_int_equal(cli_targets_parse(a2, 3, true, &t, err, sizeof(err)), 0);
        assert_int_equal(t.n, 2);
        assert_string_equal(t.items[1].name, "world");
        cli_targets_release(&t);

        assert_int_equal(cli_targets_parse(a3, 1, false, &t, err, sizeof(err)), 0);
        assert_int_equal(t.n, 1);
        assert_null(t.items[0].name);
        cli_targets_release(&t);

        assert_int_equal(cli_targets_parse(a3, 1, true, &t, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "a task name is required");
        assert_int_equal(cli_targets_parse(a4, 1, false, &t, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "unknown kind \"foo\"");
        assert_int_equal(cli_targets_parse(a8, 2, false, &t, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "unknown kind \"taks\", did you mean \"task\"?");
        assert_int_equal(cli_targets_parse(a5, 2, false, &t, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "may not be mixed"));
        assert_int_equal(cli_targets_parse(a6, 2, false, &t, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "no need to give the kind separately"));
        assert_int_equal(cli_targets_parse(a7, 1, false, &t, err, sizeof(err)), -EINVAL);
        assert_int_equal(cli_targets_parse(NULL, 0, false, &t, err, sizeof(err)), -EINVAL);
        assert_null(t.items);
}

static void test_release_empty(void **state)
{
        (void)state;
        struct cli_targets t = {0};
        struct cli_reply r = {0};
        struct cli_table tab;
        struct cli_print_opts o = {.kind = kind_lookup("task")};

        cli_targets_release(&t);
        cli_targets_release(&t);
        cli_reply_release(&r);
        assert_int_equal(cli_table_init(&tab, &o), 0);
        cli_table_release(&tab);
        cli_table_release(&tab);
        assert_null(t.items);
}

static void test_escape_and_paths(void **state)
{
        (void)state;
        const struct kind_info *task = kind_lookup("task");
        char *s = cli_escape("app=demo,tier!=db x");
        assert_string_equal(s, "app%3Ddemo%2Ctier%21%3Ddb%20x");
        free(s);
        s = cli_path(task, "default", "hello", "/log?follow=true");
        assert_string_equal(s, "/apis/berth/v1/namespaces/default/tasks/hello/log?follow=true");
        free(s);
        s = cli_path(task, NULL, NULL, "");
        assert_string_equal(s, "/apis/berth/v1/tasks");
        free(s);
}

static void test_usage_errors(void **state)
{
        (void)state;
        struct capture c = {0};

        run(&c, "frobnicate", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "unknown command \"frobnicate\""));

        run(&c, "gte", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "Did you mean this?\n\tget"));

        run(&c, "get", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "error: you must specify a kind"));
        assert_non_null(strstr(c.err, "See 'berth get --help' for usage."));

        run(&c, "get", "tasks", "--bogus", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "error: unknown flag: --bogus"));

        run(&c, "get", "tasks", "-x", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "unknown shorthand flag: 'x' in -x"));

        run(&c, "get", "tasks", "-o", "xml", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "unknown output format \"xml\""));

        run(&c, "get", "foo", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "unknown kind \"foo\""));

        run(&c, "apply", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "must specify -f"));

        run(&c, "wait", "task/x", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "--for is required"));

        run(&c, "wait", "task/x", "--for=banana", NULL);
        assert_int_equal(c.rc, 2);

        run(&c, "wait", "task/x", "--for", "delete", "--timeout", "soon", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "invalid --timeout \"soon\""));

        run(&c, "logs", "hello", "--tail", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "flag needs an argument: --tail"));

        run(&c, "logs", "bogus/x", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "unknown kind \"bogus\""));

        run(&c, "delete", "--wait=maybe", "task", "x", NULL);
        assert_int_equal(c.rc, 2);

        run(&c, "trigger", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "a crontask is required: crontask/NAME"));

        run(&c, "trigger", "task/x", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "trigger works on crontasks only, not tasks"));

        run(&c, "suspend", "ct/a", "ct/b", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "suspend takes exactly one crontask"));

        run(&c, "resume", "--help", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "catchUp"));

        run(&c, "-n", "Bad_NS", "get", "tasks", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "invalid namespace"));

        run(&c, "--help", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "Commands:\n  apply"));
        assert_non_null(strstr(c.out, "  wait "));

        run(&c, "get", "--help", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "Usage:\n  berth get KIND"));
        assert_non_null(strstr(c.out, "-o, --output FORMAT"));

        run(&c, "help", "wait", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "--for COND"));
        capture_release(&c);
}

static void test_cannot_connect(void **state)
{
        (void)state;
        struct capture c = {0};

        run(&c, "--server", "unix:///nonexistent/berth.sock", "get", "tasks", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err,
                            "berth: cannot connect to berthd at unix:///nonexistent/berth.sock: "
                            "No such file or directory (is berthd running?)\n");

        /* version prints the client line first. */
        run(&c, "version", "--server=unix:///nonexistent/berth.sock", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.out, "Client Version: " BERTH_VERSION "\n");
        assert_non_null(strstr(c.err, "cannot connect"));

        run(&c, "version", "--server", "ftp://x", NULL);
        assert_int_equal(c.rc, 1);
        assert_non_null(strstr(c.err, "invalid server address"));
        capture_release(&c);
}

/* ---- commands against the fake server ----------------------------------- */

static const char *const task_yaml = "apiVersion: berth/v1\n"
                                     "kind: Task\n"
                                     "metadata:\n"
                                     "  name: hello\n"
                                     "spec:\n"
                                     "  image: busybox:latest\n"
                                     "  command: [echo, hi]\n";

static void test_apply(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        char path[160];

        snprintf(path, sizeof(path), "%s/task.yaml", f->dir);
        write_file(path, task_yaml);
        fake_reset(f);
        fake_route(f, "POST", "/apis/berth/v1/apply", 200,
                   "{\"kind\":\"ApplyResult\",\"items\":[{\"kind\":\"Task\",\"namespace\":"
                   "\"default\",\"name\":\"hello\",\"result\":\"created\"}]}");
        run(&c, "--server", f->url, "apply", "-f", path, NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "task/hello created\n");
        assert_string_equal(f->last_method, "POST");
        assert_string_equal(f->last_content_type, "application/yaml");
        /* The body is the document, as JSON in a YAML stream. */
        json_t *sent = load(f->last_body);
        assert_string_equal(json_path_string(sent, "spec.image"), "busybox:latest");
        assert_string_equal(json_path_string(sent, "metadata.name"), "hello");
        assert_null(json_path(sent, "metadata.namespace"));
        json_decref(sent);

        /* --dry-run, two files, -n fills in the namespace. */
        char path2[160];
        snprintf(path2, sizeof(path2), "%s/task2.yaml", f->dir);
        write_file(path2, "apiVersion: berth/v1\nkind: Task\nmetadata: {name: two}\n"
                          "spec: {image: busybox}\n");
        fake_route(f, "POST", "/apis/berth/v1/apply?dryRun=true", 200,
                   "{\"kind\":\"ApplyResult\",\"items\":[{\"kind\":\"Task\",\"name\":\"hello\","
                   "\"result\":\"configured\"},{\"kind\":\"Task\",\"name\":\"two\",\"result\":"
                   "\"unchanged\"}]}");
        run(&c, "--server", f->url, "apply", "--filename=", "-f", path, "-ndev", "--filename",
            path2, "--dry-run", NULL);
        assert_int_equal(c.rc, 1); /* "--filename=" names an empty path */
        run(&c, "--server", f->url, "apply", "-f", path, "-ndev", "--filename", path2, "--dry-run",
            NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out,
                            "task/hello configured (dry run)\ntask/two unchanged (dry run)\n");
        assert_non_null(strstr(f->last_body, "\n---\n"));
        assert_non_null(strstr(f->last_body, "\"namespace\": \"dev\""));

        /* The server says no. */
        fake_reset(f);
        fake_route(f, "POST", "/apis/berth/v1/apply", 422,
                   "{\"kind\":\"Status\",\"code\":422,\"reason\":\"Invalid\",\"message\":\"Task "
                   "\\\"hello\\\" is invalid\",\"details\":[{\"field\":\"spec.image\","
                   "\"message\":\"required\"}]}");
        run(&c, "--server", f->url, "apply", "-f", path, NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "Error from server (Invalid): Task \"hello\" is invalid\n"
                                   "  spec.image: required\n");
        capture_release(&c);
}

/* The documents go out as JSON in one YAML stream: the server's parser must
 * read back exactly what the file said, awkward strings included. */
static void test_apply_body_roundtrip(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        struct manifest_list file = {0}, sent = {0};
        struct berth_error err = {0};
        char path[160];

        snprintf(path, sizeof(path), "%s/tricky.yaml", f->dir);
        write_file(path,
                   "apiVersion: berth/v1\n"
                   "kind: Task\n"
                   "metadata:\n"
                   "  name: tricky\n"
                   "  labels: {app: \"yes\", n: \"1\"}\n"
                   "spec:\n"
                   "  image: busybox:latest\n"
                   "  command: [sh, -c, \"echo 'a: b' \\\"q\\\" \\\\ \\t \u00fc # x --- y\"]\n"
                   "  args: [\"\", \"null\", \"true\", \"0x10\", \"- z\", \"{x}\"]\n"
                   "  backoffLimit: 3\n"
                   "---\n"
                   "apiVersion: berth/v1\n"
                   "kind: Task\n"
                   "metadata: {name: second}\n"
                   "spec: {image: busybox}\n");
        fake_reset(f);
        fake_route(f, "POST", "/apis/berth/v1/apply", 200,
                   "{\"kind\":\"ApplyResult\",\"items\":[]}");
        run(&c, "--server", f->url, "apply", "-f", path, NULL);
        assert_int_equal(c.rc, 0);
        assert_int_equal(manifest_parse_path(path, false, &file, &err), 0);
        assert_int_equal(
            manifest_parse_buffer(f->last_body, strlen(f->last_body), "<sent>", &sent, &err), 0);
        assert_int_equal(sent.n, 2);
        assert_int_equal(file.n, 2);
        for (size_t i = 0; i < 2; i++)
                assert_true(json_equal(file.docs[i].object, sent.docs[i].object));
        manifest_list_release(&file);
        manifest_list_release(&sent);
        capture_release(&c);
}

static void test_apply_invalid_sends_nothing(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        char path[160];

        snprintf(path, sizeof(path), "%s/bad.yaml", f->dir);
        write_file(path, "apiVersion: berth/v1\nkind: Task\nmetadata:\n  name: bad\nspec:\n"
                         "  imagee: busybox\n");
        fake_reset(f);
        run(&c, "--server", f->url, "apply", "-f", path, NULL);
        assert_int_equal(c.rc, 1);
        assert_non_null(strstr(c.err, path));
        assert_non_null(strstr(c.err, "spec.image"));
        assert_int_equal(f->requests, 0);

        /* A syntax error names the place too. */
        write_file(path, "kind: Task\nmetadata: [\n");
        run(&c, "--server", f->url, "apply", "-f", path, NULL);
        assert_int_equal(c.rc, 1);
        assert_non_null(strstr(c.err, "bad.yaml:"));
        assert_int_equal(f->requests, 0);

        /* -n that contradicts the document's namespace. */
        write_file(path, "apiVersion: berth/v1\nkind: Task\nmetadata: {name: a, namespace: ops}\n"
                         "spec: {image: busybox}\n");
        run(&c, "--server", f->url, "-n", "dev", "apply", "-f", path, NULL);
        assert_int_equal(c.rc, 1);
        assert_non_null(strstr(c.err, "the namespace of task/a is \"ops\", not the \"dev\""));
        assert_int_equal(f->requests, 0);

        run(&c, "--server", f->url, "apply", "-f", "/nonexistent/x.yaml", NULL);
        assert_int_equal(c.rc, 1);
        assert_int_equal(f->requests, 0);
        capture_release(&c);
}

static const char *const list_body =
    "{\"kind\":\"TaskList\",\"metadata\":{\"resourceVersion\":\"9\"},\"items\":["
    "{\"apiVersion\":\"berth/v1\",\"kind\":\"Task\",\"metadata\":{\"name\":\"hello\","
    "\"namespace\":\"default\",\"resourceVersion\":\"7\"},\"status\":{\"phase\":\"Succeeded\","
    "\"attempts\":1,\"exitCode\":0}}]}";

static const char *const hello_running =
    "{\"apiVersion\":\"berth/v1\",\"kind\":\"Task\",\"metadata\":{\"name\":\"hello\","
    "\"namespace\":\"default\",\"resourceVersion\":\"5\"},\"status\":{\"phase\":\"Running\","
    "\"attempts\":1}}";

static void test_get(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};

        fake_reset(f);
        fake_route(f, "GET", "/apis/berth/v1/namespaces/default/tasks?limit=500", 200, list_body);
        run(&c, "--server", f->url, "get", "tasks", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "NAME    PHASE       ATTEMPTS   EXIT   AGE\n"
                                   "hello   Succeeded   1          0      <unknown>\n");

        run(&c, "--server", f->url, "get", "tk", "-o", "name", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "task/hello\n");

        run(&c, "--server", f->url, "get", "tk", "--output=json", NULL);
        assert_int_equal(c.rc, 0);
        json_t *l = load(c.out);
        assert_string_equal(json_string_value(json_object_get(l, "kind")), "TaskList");
        json_decref(l);

        /* Selector and namespace on the URL; empty answer. */
        fake_route(f, "GET",
                   "/apis/berth/v1/namespaces/dev/tasks?labelSelector=app%3Ddemo&limit=500", 200,
                   "{\"kind\":\"TaskList\",\"metadata\":{\"resourceVersion\":\"9\"},\"items\":[]}");
        run(&c, "--server", f->url, "get", "tasks", "-l", "app=demo", "--namespace=dev", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "");
        assert_string_equal(c.err, "No resources found in dev namespace.\n");

        /* -A asks the cluster-wide path. */
        fake_route(f, "GET", "/apis/berth/v1/tasks?limit=500", 200, list_body);
        run(&c, "--server", f->url, "get", "tasks", "-A", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "NAMESPACE   NAME    PHASE"));

        /* One object by KIND/NAME, and a missing one. */
        fake_route(f, "GET", "/apis/berth/v1/namespaces/default/tasks/hello", 200, hello_running);
        run(&c, "--server", f->url, "get", "task/hello", "-o", "yaml", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "kind: Task\n"));
        assert_non_null(strstr(c.out, "phase: Running\n"));

        run(&c, "--server", f->url, "get", "task", "hello", "nope", NULL);
        assert_int_equal(c.rc, 1);
        assert_non_null(strstr(c.out, "hello   Running"));
        assert_string_equal(c.err, "Error from server (NotFound): tasks \"nope\" not found\n");

        /* describe uses the same GET. */
        run(&c, "--server", f->url, "describe", "task/hello", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "Name:         hello\n"));
        assert_non_null(strstr(c.out, "  Phase:      Running\n"));
        capture_release(&c);
}

/* berth get reads a list in pages: each page's rows as it comes (the header
 * once), the continue token sent back escaped, one List for -o json, the
 * watch from the first page's revision; --chunk-size 0 asks for all. */
static void test_get_pages(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        static const char page1[] =
            "{\"kind\":\"TaskList\",\"metadata\":{\"resourceVersion\":\"9\",\"continue\":"
            "\"tok+1\"},\"items\":[{\"kind\":\"Task\",\"metadata\":{\"name\":\"a\"}},"
            "{\"kind\":\"Task\",\"metadata\":{\"name\":\"b\"}}]}";
        static const char page2[] =
            "{\"kind\":\"TaskList\",\"metadata\":{\"resourceVersion\":\"9\",\"continue\":"
            "\"tok2\"},\"items\":[]}";
        static const char page3[] =
            "{\"kind\":\"TaskList\",\"metadata\":{\"resourceVersion\":\"9\"},\"items\":"
            "[{\"kind\":\"Task\",\"metadata\":{\"name\":\"a-longer-name\"}}]}";

        fake_reset(f);
        fake_route(f, "GET", "/apis/berth/v1/namespaces/default/tasks?limit=2", 200, page1);
        fake_route(f, "GET", "/apis/berth/v1/namespaces/default/tasks?limit=2&continue=tok%2B1",
                   200, page2);
        fake_route(f, "GET", "/apis/berth/v1/namespaces/default/tasks?limit=2&continue=tok2", 200,
                   page3);
        run(&c, "--server", f->url, "get", "tasks", "--chunk-size", "2", NULL);
        assert_int_equal(c.rc, 0);
        /* Widths of the rows seen so far: a later, wider name pushes its row. */
        assert_string_equal(c.out, "NAME   PHASE     ATTEMPTS   EXIT   AGE\n"
                                   "a      Pending   0                 <unknown>\n"
                                   "b      Pending   0                 <unknown>\n"
                                   "a-longer-name   Pending   0                 <unknown>\n");
        assert_int_equal(f->requests, 3);

        run(&c, "--server", f->url, "get", "tasks", "--chunk-size=2", "-o", "json", NULL);
        assert_int_equal(c.rc, 0);
        json_t *l = load(c.out);
        assert_string_equal(json_string_value(json_object_get(l, "kind")), "TaskList");
        assert_string_equal(json_path_string(l, "metadata.resourceVersion"), "9");
        assert_null(json_path(l, "metadata.continue"));
        assert_int_equal(json_array_size(json_object_get(l, "items")), 3);
        json_decref(l);

        /* A page that fails ends it with the server's message. */
        fake_reset(f);
        fake_route(f, "GET", "/apis/berth/v1/namespaces/default/tasks?limit=2", 200, page1);
        fake_route(f, "GET", "/apis/berth/v1/namespaces/default/tasks?limit=2&continue=tok%2B1",
                   410,
                   "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\",\"message\":"
                   "\"the continue token has expired (revision 9 was compacted); relist\"}");
        run(&c, "--server", f->url, "get", "tasks", "--chunk-size", "2", NULL);
        assert_int_equal(c.rc, 1);
        assert_non_null(strstr(c.err, "run the command again"));
        assert_non_null(strstr(c.err, "relist"));

        /* gzip is asked for over the network, not on a unix socket. */
        _cleanup_free_ char *ae = fake_header(f, 0, "Accept-Encoding");
        assert_null(ae);
        fake_reset(f);
        fake_route(f, "GET", "/apis/berth/v1/namespaces/default/tasks?limit=2", 200, page3);
        run(&c, "--server", f->http_url, "get", "tasks", "--chunk-size", "2", NULL);
        assert_int_equal(c.rc, 0);
        _cleanup_free_ char *ae_tcp = fake_header(f, 0, "Accept-Encoding");
        assert_non_null(ae_tcp);
        assert_non_null(strstr(ae_tcp, "gzip"));

        /* --chunk-size 0: one request without a limit. */
        fake_reset(f);
        fake_route(f, "GET", "/apis/berth/v1/namespaces/default/tasks", 200, list_body);
        run(&c, "--server", f->url, "get", "tasks", "--chunk-size", "0", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "hello   Succeeded"));

        const char *bad[] = {"-1", "x", "", "10001"};
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                run(&c, "--server", f->url, "get", "tasks", "--chunk-size", bad[i], NULL);
                assert_int_equal(c.rc, 2);
                assert_non_null(strstr(c.err, "--chunk-size"));
        }
        capture_release(&c);
}

static void test_get_watch(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};

        fake_reset(f);
        fake_route(f, "GET", "/apis/berth/v1/namespaces/default/tasks?limit=500", 200, list_body);
        /* 410 Gone: the history moved on; get -w watches from now on, which
         * first sends the current objects again. Any other ERROR ends it. */
        fake_route(
            f, "GET", "/apis/berth/v1/namespaces/default/tasks?watch=true&resourceVersion=9", 200,
            "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"10\"}}}\n"
            "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Task\",\"metadata\":{\"name\":"
            "\"a-much-longer-name\",\"resourceVersion\":\"11\"}}}\n"
            "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":"
            "\"Expired\",\"message\":\"too old resource version\"}}\n");
        fake_route(f, "GET",
                   "/apis/berth/v1/namespaces/default/tasks?watch=true&resourceVersion=", 200,
                   "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Task\",\"metadata\":{\"name\":"
                   "\"a-much-longer-name\",\"resourceVersion\":\"30\"},\"status\":{\"phase\":"
                   "\"Running\"}}}\n"
                   "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":500,\"reason\":"
                   "\"InternalError\",\"message\":\"boom\"}}\n");
        run(&c, "--server", f->url, "get", "tasks", "-w", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.out,
                            "NAME    PHASE       ATTEMPTS   EXIT   AGE\n"
                            "hello   Succeeded   1          0      <unknown>\n"
                            "a-much-longer-name   Pending     0                 <unknown>\n"
                            "a-much-longer-name   Running     0                 <unknown>\n");
        assert_null(strstr(c.err, "too old resource version"));
        assert_non_null(strstr(c.err, "boom"));
        capture_release(&c);
}

static void test_wait(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        const char *obj_path = "/apis/berth/v1/namespaces/default/tasks/hello";

        /* Met at the first look. */
        fake_reset(f);
        fake_route(f, "GET", obj_path, 200,
                   "{\"kind\":\"Task\",\"metadata\":{\"name\":\"hello\",\"resourceVersion\":\"5\"},"
                   "\"status\":{\"phase\":\"Succeeded\"}}");
        run(&c, "--server", f->url, "wait", "task/hello", "--for=condition=Succeeded", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "task/hello condition met\n");

        /* Can never be met. */
        fake_reset(f);
        fake_route(f, "GET", obj_path, 200,
                   "{\"kind\":\"Task\",\"metadata\":{\"name\":\"hello\",\"resourceVersion\":\"5\"},"
                   "\"status\":{\"phase\":\"Failed\",\"reason\":\"BackoffLimitExceeded\"}}");
        run(&c, "--server", f->url, "wait", "task/hello", "--for=condition=Succeeded", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "error: task/hello can no longer meet condition=Succeeded: "
                                   "phase is Failed (BackoffLimitExceeded)\n");

        /* Met through the watch; other objects' events are ignored. */
        fake_reset(f);
        fake_route(f, "GET", obj_path, 200, hello_running);
        fake_route(f, "GET", "/apis/berth/v1/namespaces/default/tasks?watch=true&resourceVersion=5",
                   200,
                   "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Task\",\"metadata\":{\"name\":"
                   "\"other\"},\"status\":{\"phase\":\"Succeeded\"}}}\n"
                   "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Task\",\"metadata\":{\"name\":"
                   "\"hello\"},\"status\":{\"phase\":\"Running\"}}}\n"
                   "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Task\",\"metadata\":{\"name\":"
                   "\"hello\"},\"status\":{\"phase\":\"Succeeded\",\"conditions\":[{\"type\":"
                   "\"Succeeded\",\"status\":\"True\"}]}}}\n");
        run(&c, "--server", f->url, "wait", "task", "hello", "--for", "condition=Succeeded",
            "--timeout", "10s", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "task/hello condition met\n");

        /* Deleted while waiting. */
        fake_reset(f);
        fake_route(f, "GET", obj_path, 200, hello_running);
        fake_route(f, "GET", "/apis/berth/v1/namespaces/default/tasks?watch=true&resourceVersion=5",
                   200,
                   "{\"type\":\"DELETED\",\"object\":{\"kind\":\"Task\",\"metadata\":{\"name\":"
                   "\"hello\"}}}\n");
        run(&c, "--server", f->url, "wait", "task/hello", "--for=condition=Succeeded", NULL);
        assert_int_equal(c.rc, 1);
        assert_non_null(strstr(c.err, "task/hello was deleted"));

        /* A quiet watch: timed out. */
        fake_reset(f);
        fake_route(f, "GET", obj_path, 200, hello_running);
        fake_hold(f, "/apis/berth/v1/namespaces/default/tasks?watch=true&resourceVersion=5", "",
                  3000);
        int64_t t0 = time_mono_ms();
        run(&c, "--server", f->url, "wait", "task/hello", "--for=condition=Succeeded",
            "--timeout=300ms", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "error: timed out waiting for the condition on task/hello\n");
        assert_true(time_mono_ms() - t0 < 2500);

        /* --timeout=0 checks once. */
        run(&c, "--server", f->url, "wait", "task/hello", "--for=condition=Succeeded",
            "--timeout=0", NULL);
        assert_int_equal(c.rc, 1);
        assert_non_null(strstr(c.err, "timed out"));

        /* Missing object. */
        fake_reset(f);
        run(&c, "--server", f->url, "wait", "task/hello", "--for=condition=Succeeded", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "Error from server (NotFound): tasks \"hello\" not found\n");

        /* --for=delete on a missing object is met. */
        run(&c, "--server", f->url, "wait", "task/hello", "--for=delete", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "task/hello condition met\n");
        capture_release(&c);
}

static void test_delete(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        const char *obj_path = "/apis/berth/v1/namespaces/default/tasks/hello";

        /* Deleted, then gone at the first look. */
        fake_reset(f);
        fake_route(f, "DELETE", obj_path, 200,
                   "{\"kind\":\"Status\",\"status\":\"Success\",\"code\":200}");
        run(&c, "--server", f->url, "delete", "task", "hello", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "task \"hello\" deleted\n");
        assert_string_equal(f->paths[0], obj_path);
        assert_int_equal(f->requests, 2); /* DELETE, then GET → 404 */

        /* Finalizing: gone after a DELETED event. */
        fake_reset(f);
        fake_route(f, "DELETE", obj_path, 200, hello_running);
        fake_route(f, "GET", obj_path, 200, hello_running);
        fake_route(f, "GET", "/apis/berth/v1/namespaces/default/tasks?watch=true&resourceVersion=5",
                   200,
                   "{\"type\":\"DELETED\",\"object\":{\"kind\":\"Task\",\"metadata\":{\"name\":"
                   "\"hello\"}}}\n");
        run(&c, "--server", f->url, "delete", "task/hello", "--timeout", "10s", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "task \"hello\" deleted\n");

        /* --wait=false: only the DELETE. */
        fake_reset(f);
        fake_route(f, "DELETE", obj_path, 200, hello_running);
        run(&c, "--server", f->url, "delete", "task/hello", "--wait=false", NULL);
        assert_int_equal(c.rc, 0);
        assert_int_equal(f->requests, 1);

        /* Missing. */
        fake_reset(f);
        run(&c, "--server", f->url, "delete", "task", "hello", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "Error from server (NotFound): not found\n");
        run(&c, "--server", f->url, "delete", "task", "hello", "--ignore-not-found", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "");

        /* By manifest, into its own namespace. */
        char path[160];
        snprintf(path, sizeof(path), "%s/del.yaml", f->dir);
        write_file(path, "apiVersion: berth/v1\nkind: Task\nmetadata: {name: x, namespace: ops}\n"
                         "spec: {image: busybox}\n");
        fake_reset(f);
        fake_route(f, "DELETE", "/apis/berth/v1/namespaces/ops/tasks/x", 200, "{}");
        run(&c, "--server", f->url, "delete", "-f", path, NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "task \"x\" deleted\n");
        capture_release(&c);
}

static void test_logs_and_version(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};

        fake_reset(f);
        fake_route(f, "GET",
                   "/apis/berth/v1/namespaces/default/tasks/hello/log?tailLines=5&attempt=2", 200,
                   "line 1\nline 2\n");
        run(&c, "--server", f->url, "logs", "--tail", "5", "--attempt=2", "hello", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "line 1\nline 2\n");
        run(&c, "--server", f->url, "logs", "task", "hello", "--tail=5", "--attempt", "2", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "line 1\nline 2\n");

        fake_route(f, "GET",
                   "/apis/berth/v1/namespaces/default/tasks/hello/log?follow=true&timestamps=true",
                   200, "x\n");
        run(&c, "--server", f->url, "logs", "-f", "--timestamps", "task/hello", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "x\n");

        run(&c, "--server", f->url, "logs", "nope", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "Error from server (NotFound): not found\n");

        fake_route(
            f, "GET", "/version", 200,
            "{\"version\":\"0.1.0\",\"apiVersion\":\"berth/v1\",\"dockerApiVersion\":\"1.41\"}");
        run(&c, "--server", f->url, "version", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "Client Version: " BERTH_VERSION "\n"
                                   "Server Version: 0.1.0 (API berth/v1, Docker API 1.41)\n");
        run(&c, "--server", f->url, "version", "-o", "json", NULL);
        assert_int_equal(c.rc, 0);
        json_t *v = load(c.out);
        assert_string_equal(json_path_string(v, "serverVersion.dockerApiVersion"), "1.41");
        assert_string_equal(json_path_string(v, "clientVersion.version"), BERTH_VERSION);
        json_decref(v);
        capture_release(&c);
}

static void test_workflow_commands(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        const char *wf_path = "/apis/berth/v1/namespaces/default/workflows/etl";
        _cleanup_free_ char *list = str_printf(
            "{\"kind\":\"WorkflowList\",\"metadata\":{\"resourceVersion\":\"9\"},\"items\":[%s]}",
            etl_failed);

        /* get: the workflow columns, also next to a task table. */
        fake_reset(f);
        fake_route(f, "GET", "/apis/berth/v1/namespaces/default/workflows?limit=500", 200, list);
        fake_route(f, "GET", wf_path, 200, etl_failed);
        fake_route(f, "GET", "/apis/berth/v1/namespaces/default/tasks/hello", 200, hello_running);
        run(&c, "--server", f->url, "get", "wf", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "NAME   PHASE    PROGRESS   AGE\n"
                                      "etl    Failed   1/3        "));
        run(&c, "--server", f->url, "get", "workflow", "etl", "-o", "name", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "workflow/etl\n");
        run(&c, "--server", f->url, "get", "task/hello", "workflow/etl", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "NAME    PHASE     ATTEMPTS   EXIT   AGE\n"
                                      "hello   Running   1                 <unknown>\n"
                                      "\n"
                                      "NAME   PHASE    PROGRESS   AGE\n"
                                      "etl    Failed   1/3        "));

        /* describe fetches the results; without them it still succeeds. */
        fake_route(f, "GET", "/apis/berth/v1/namespaces/default/workflows/etl/results", 200,
                   "{\"steps\":{\"extract\":{\"result\":\"42\\n\",\"truncated\":false,"
                   "\"exitCode\":0}}}");
        run(&c, "--server", f->url, "describe", "wf", "etl", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "Steps:\n  STEP        PHASE"));
        assert_non_null(strstr(c.out, "Results:\n  extract:  42\nEvents:"));
        assert_string_equal(c.err, "");

        fake_reset(f);
        fake_route(f, "GET", wf_path, 200, etl_failed);
        run(&c, "--server", f->url, "describe", "workflow/etl", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "Results:      <unavailable>\n"));
        assert_string_equal(c.err, "");
        assert_string_equal(f->paths[1], "/apis/berth/v1/namespaces/default/workflows/etl/results");

        /* logs: each step's task in order, after a header; load has no task. */
        fake_reset(f);
        fake_route(f, "GET", wf_path, 200, etl_failed);
        fake_route(f, "GET", "/apis/berth/v1/namespaces/default/tasks/etl-extract/log", 200, "42");
        fake_route(f, "GET", "/apis/berth/v1/namespaces/default/tasks/etl-transform/log", 200,
                   "reading\nboom\n");
        run(&c, "--server", f->url, "logs", "workflow/etl", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "==> step extract (task etl-extract) <==\n"
                                   "42\n"
                                   "\n"
                                   "==> step transform (task etl-transform) <==\n"
                                   "reading\nboom\n");
        assert_string_equal(c.err, "");

        /* Flags go to every step; a step whose log is missing is reported. */
        fake_route(f, "GET",
                   "/apis/berth/v1/namespaces/default/tasks/etl-transform/log?tailLines=1&"
                   "timestamps=true",
                   200, "boom\n");
        run(&c, "--server", f->url, "logs", "wf", "etl", "--tail=1", "--timestamps", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.out, "==> step extract (task etl-extract) <==\n"
                                   "\n"
                                   "==> step transform (task etl-transform) <==\n"
                                   "boom\n");
        assert_string_equal(c.err, "Error from server (NotFound): not found\n");

        /* -f: one step at a time; the error names them. */
        fake_reset(f);
        fake_route(f, "GET", wf_path, 200, etl_failed);
        run(&c, "--server", f->url, "logs", "-f", "workflow/etl", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "error: --follow needs --step for a workflow: berth logs -f "
                                      "workflow/etl --step STEP (steps: extract, transform, "
                                      "load)\n"));
        assert_int_equal(f->requests, 1);
        fake_reset(f);

        /* No step has a task yet. */
        fake_route(f, "GET", wf_path, 200,
                   "{\"kind\":\"Workflow\",\"metadata\":{\"name\":\"etl\"},\"status\":{"
                   "\"phase\":\"Pending\",\"steps\":[{\"name\":\"a\",\"phase\":\"Pending\"}]}}");
        run(&c, "--server", f->url, "logs", "workflow/etl", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "");
        assert_string_equal(c.err, "workflow/etl: no step has a task yet\n");

        /* wait: a Failed workflow never meets Succeeded; fails at once. */
        fake_reset(f);
        fake_route(f, "GET", wf_path, 200, etl_failed);
        run(&c, "--server", f->url, "wait", "workflow/etl", "--for=condition=Succeeded", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "error: workflow/etl can no longer meet condition=Succeeded: "
                                   "phase is Failed (StepFailed)\n");
        assert_int_equal(f->requests, 1);
        run(&c, "--server", f->url, "wait", "wf", "etl", "--for=condition=Failed", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "workflow/etl condition met\n");

        /* Met through the watch. */
        fake_reset(f);
        fake_route(f, "GET", wf_path, 200, nightly_running);
        fake_route(
            f, "GET",
            "/apis/berth/v1/namespaces/default/workflows?watch=true&resourceVersion=", 200,
            "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Workflow\",\"metadata\":{\"name\":"
            "\"etl\",\"resourceVersion\":\"12\"},\"status\":{\"phase\":\"Succeeded\"}}}\n");
        run(&c, "--server", f->url, "wait", "workflow/etl", "--for=condition=Succeeded",
            "--timeout=10s", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "workflow/etl condition met\n");
        capture_release(&c);
}

int main(void)
{
        const struct CMUnitTest pure[] = {
            cmocka_unit_test(test_server_resolve),
            cmocka_unit_test(test_table),
            cmocka_unit_test(test_table_watch_widths),
            cmocka_unit_test(test_printers),
            cmocka_unit_test(test_describe),
            cmocka_unit_test(test_workflow_table),
            cmocka_unit_test(test_crontask_table_and_describe),
            cmocka_unit_test(test_notifier_table_and_describe),
            cmocka_unit_test(test_workflow_describe),
            cmocka_unit_test(test_workflow_results_preview),
            cmocka_unit_test(test_wait_for_parse),
            cmocka_unit_test(test_condition_eval),
            cmocka_unit_test(test_status_format),
            cmocka_unit_test(test_targets),
            cmocka_unit_test(test_escape_and_paths),
            cmocka_unit_test(test_release_empty),
            cmocka_unit_test(test_usage_errors),
            cmocka_unit_test(test_cannot_connect),
        };
        const struct CMUnitTest served[] = {
            cmocka_unit_test(test_apply),
            cmocka_unit_test(test_apply_body_roundtrip),
            cmocka_unit_test(test_apply_invalid_sends_nothing),
            cmocka_unit_test(test_get),
            cmocka_unit_test(test_get_pages),
            cmocka_unit_test(test_get_watch),
            cmocka_unit_test(test_wait),
            cmocka_unit_test(test_delete),
            cmocka_unit_test(test_logs_and_version),
            cmocka_unit_test(test_workflow_commands),
        };
        cli_test_env();
        unsetenv("NO_COLOR");
        int failed = cmocka_run_group_tests_name("cli", pure, NULL, NULL);
        failed += cmocka_run_group_tests_name("cli-served", served, fake_setup, fake_teardown);
        return failed;
}
