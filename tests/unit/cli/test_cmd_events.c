/* Unit tests of Events in the CLI: the pure parts of `berth events` (types,
 * the order, the field selector), the Event kind's columns (OBJECT as
 * kind/name, NAME only with -o wide), describe's Events section, and the
 * command against the fake berthd (--for, --types, -A, -w, usage). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cli-internal.h"
#include "cli-test.h"

#define NOW      1796554800000LL /* 2026-12-06T11:00:00Z */
#define EV_PATH  "/apis/berth/v1/namespaces/default/events"
#define FOR_TASK "?fieldSelector=involvedObject.kind%3DTask%2CinvolvedObject.name%3Dhello"

static json_t *load(const char *text)
{
        json_error_t e;
        json_t *j = json_loads(text, 0, &e);
        if (!j)
                fail_msg("bad test JSON: %s: %s", e.text, text);
        return j;
}

/* An Event of task hello, as berthd writes one. */
#define EVENT(name, rv, type, reason, count, first, last, message)                                 \
        "{\"kind\":\"Event\",\"metadata\":{\"name\":\"" name "\",\"namespace\":\"default\","       \
        "\"resourceVersion\":\"" rv "\"},\"involvedObject\":{\"kind\":\"Task\",\"namespace\":"     \
        "\"default\",\"name\":\"hello\",\"uid\":\"u1\"},\"type\":\"" type                          \
        "\",\"reason\":\"" reason "\",\"message\":\"" message "\",\"count\":" count                \
        ",\"firstTimestamp\":\"" first "\",\"lastTimestamp\":\"" last                              \
        "\",\"source\":{\"component\":\"berthd\",\"host\":\"h\"}}"

#define E_CREATED                                                                                  \
        EVENT("hello-1", "5", "Normal", "Created", "1", "2026-12-06T10:58:00.100Z",                \
              "2026-12-06T10:58:00.100Z", "created container c (attempt 1)")
#define E_STARTED                                                                                  \
        EVENT("hello-2", "6", "Normal", "Started", "1", "2026-12-06T10:58:00.100Z",                \
              "2026-12-06T10:58:00.100Z", "started container c (attempt 1)")
#define E_BACKOFF                                                                                  \
        EVENT("hello-3", "9", "Warning", "BackOff", "3", "2026-12-06T10:55:00Z",                   \
              "2026-12-06T10:59:30Z", "an attempt failed (Error, exit code 1)")

/* ---- pure parts ------------------------------------------------------------ */

static void test_types(void **state)
{
        unsigned t = 0;
        (void)state;

        assert_int_equal(cli_event_types_parse("Warning", &t), 0);
        assert_int_equal(t, 1U << EVENT_WARNING);
        assert_int_equal(cli_event_types_parse("Warning,Normal", &t), 0);
        assert_int_equal(t, (1U << EVENT_WARNING) | (1U << EVENT_NORMAL));
        assert_int_equal(cli_event_types_parse("warning", &t), -EINVAL);
        assert_int_equal(cli_event_types_parse("", &t), -EINVAL);
        assert_int_equal(cli_event_types_parse("Warning,,Normal", &t), -EINVAL);
        assert_int_equal(cli_event_types_parse("Warning,Bogus", &t), -EINVAL);

        _cleanup_json_ json_t *w = load(E_BACKOFF);
        assert_true(cli_event_wanted(w, 0));
        assert_true(cli_event_wanted(w, 1U << EVENT_WARNING));
        assert_false(cli_event_wanted(w, 1U << EVENT_NORMAL));
}

/* By lastTimestamp; within one millisecond, as written (resourceVersion). */
static void test_sort(void **state)
{
        (void)state;
        _cleanup_json_ json_t *items = load("[" E_BACKOFF "," E_STARTED "," E_CREATED "]");

        assert_int_equal(cli_events_sort(items), 0);
        assert_string_equal(json_path_string(json_array_get(items, 0), "reason"), "Created");
        assert_string_equal(json_path_string(json_array_get(items, 1), "reason"), "Started");
        assert_string_equal(json_path_string(json_array_get(items, 2), "reason"), "BackOff");
        assert_int_equal(cli_events_sort(json_array_get(items, 5)), 0); /* not an array: none */
}

static void test_selector(void **state)
{
        (void)state;
        const struct kind_info *task = kind_lookup("task");
        _cleanup_free_ char *a = cli_events_selector(task, "hello", 0);
        _cleanup_free_ char *b = cli_events_selector(task, "hello", 1U << EVENT_WARNING);
        _cleanup_free_ char *c = cli_events_selector(NULL, NULL, 1U << EVENT_NORMAL);
        _cleanup_free_ char *d =
            cli_events_selector(NULL, NULL, (1U << EVENT_NORMAL) | (1U << EVENT_WARNING));

        assert_string_equal(a, "involvedObject.kind=Task,involvedObject.name=hello");
        assert_string_equal(b, "involvedObject.kind=Task,involvedObject.name=hello,type=Warning");
        assert_string_equal(c, "type=Normal");
        assert_string_equal(d, "");
}

static char *table(const json_t *event, bool wide)
{
        const struct cli_print_opts opts = {
            .kind = kind_lookup("events"), .wide = wide, .now_ms = NOW};
        struct cli_table t;
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        assert_non_null(f);
        assert_int_equal(cli_table_init(&t, &opts), 0);
        assert_int_equal(cli_table_add(&t, event), 0);
        assert_int_equal(cli_table_flush(&t, f), 0);
        cli_table_release(&t);
        fclose(f);
        return buf;
}

static void test_columns(void **state)
{
        (void)state;
        _cleanup_json_ json_t *e = load(E_BACKOFF);
        _cleanup_free_ char *narrow = table(e, false);
        _cleanup_free_ char *wide = table(e, true);

        assert_string_equal(narrow,
                            "LAST SEEN   TYPE      REASON    OBJECT       MESSAGE\n"
                            "30s         Warning   BackOff   task/hello   an attempt failed "
                            "(Error, exit code 1)\n");
        assert_string_equal(wide,
                            "NAME      LAST SEEN   TYPE      REASON    OBJECT       COUNT   "
                            "FIRST SEEN   SOURCE   MESSAGE\n"
                            "hello-3   30s         Warning   BackOff   task/hello   3       5m "
                            "          h        an attempt failed (Error, exit code 1)\n");
        /* A kind the CLI does not know is lower-cased. */
        json_object_set_new(json_object_get(e, "involvedObject"), "kind",
                            json_string("GadgetThing"));
        _cleanup_free_ char *other = table(e, false);
        assert_non_null(strstr(other, " gadgetthing/hello "));
}

static char *describe(const json_t *events)
{
        _cleanup_json_ json_t *o = load("{\"kind\":\"Task\",\"metadata\":{\"name\":\"hello\","
                                        "\"namespace\":\"default\"},\"spec\":{\"image\":\"b\"}}");
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        assert_non_null(f);
        assert_int_equal(cli_describe(f, kind_lookup("task"), o, NULL, events, NOW), 0);
        fclose(f);
        return buf;
}

static void test_describe_events(void **state)
{
        (void)state;
        _cleanup_json_ json_t *three = load("[" E_CREATED "," E_STARTED "," E_BACKOFF "]");
        _cleanup_json_ json_t *many = json_array();
        _cleanup_free_ char *none = describe(NULL);
        _cleanup_free_ char *empty = describe(many);
        _cleanup_free_ char *some = describe(three);

        assert_non_null(strstr(none, "\nEvents:       <none>\n"));
        assert_non_null(strstr(empty, "\nEvents:       <none>\n"));
        assert_non_null(
            strstr(some, "\nEvents:\n"
                         "  TYPE      REASON    AGE                FROM     MESSAGE\n"
                         "  Normal    Created   119s               berthd   created container c "
                         "(attempt 1)\n"
                         "  Normal    Started   119s               berthd   started container c "
                         "(attempt 1)\n"
                         "  Warning   BackOff   30s (x3 over 5m)   berthd   an attempt failed "
                         "(Error, exit code 1)\n"));

        /* The last CLI_DESCRIBE_EVENTS_MAX only. */
        for (int i = 0; i < CLI_DESCRIBE_EVENTS_MAX + 2; i++) {
                json_t *e = load(E_CREATED);
                json_object_set_new(e, "message", json_sprintf("number %d", i));
                json_array_append_new(many, e);
        }
        _cleanup_free_ char *last = describe(many);
        assert_null(strstr(last, "number 1\n"));
        assert_non_null(strstr(last, "number 2\n"));
        assert_non_null(strstr(last, "number 11\n"));
}

/* ---- the command ------------------------------------------------------------ */

static void test_events_command(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};

        fake_reset(f);
        fake_route(f, "GET", EV_PATH FOR_TASK "%2Ctype%3DWarning", 200,
                   "{\"metadata\":{\"resourceVersion\":\"9\"},\"items\":[" E_BACKOFF "]}");
        run(&c, "--server", f->url, "events", "--for", "task/hello", "--types", "Warning", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "LAST SEEN   TYPE      REASON    OBJECT       MESSAGE\n"));
        assert_non_null(strstr(c.out, "Warning   BackOff   task/hello   an attempt failed"));

        /* Sorted, and both types; the server's answer is checked again. */
        fake_reset(f);
        fake_route(f, "GET", EV_PATH FOR_TASK, 200,
                   "{\"metadata\":{\"resourceVersion\":\"9\"},\"items\":[" E_BACKOFF "," E_STARTED
                   "," E_CREATED "]}");
        run(&c, "--server", f->url, "events", "--for", "tk/hello", "--no-headers", NULL);
        assert_int_equal(c.rc, 0);
        assert_true(strstr(c.out, "Created") < strstr(c.out, "Started"));
        assert_true(strstr(c.out, "Started") < strstr(c.out, "BackOff"));
        assert_null(strstr(c.out, "LAST SEEN"));
        run(&c, "--server", f->url, "events", "--for", "task/hello", "--types", "Warning,Normal",
            NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "Created"));

        /* Every namespace: no selector, NAMESPACE first; none found. */
        fake_reset(f);
        fake_route(f, "GET", "/apis/berth/v1/events", 200,
                   "{\"metadata\":{\"resourceVersion\":\"9\"},\"items\":[" E_CREATED "]}");
        fake_route(f, "GET", EV_PATH, 200,
                   "{\"metadata\":{\"resourceVersion\":\"9\"},\"items\":[]}");
        run(&c, "--server", f->url, "events", "-A", NULL);
        assert_int_equal(c.rc, 0);
        assert_true(str_has_prefix(c.out, "NAMESPACE   LAST SEEN   TYPE"));
        run(&c, "--server", f->url, "events", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "");
        assert_string_equal(c.err, "No events found in default namespace.\n");
        capture_release(&c);
}

/* -w: what is recorded or counted on after the list; an expired one
 * (DELETED) is no news. */
static void test_events_watch(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};

        fake_reset(f);
        fake_route(f, "GET", EV_PATH FOR_TASK, 200,
                   "{\"metadata\":{\"resourceVersion\":\"9\"},\"items\":[" E_CREATED "]}");
        fake_route(f, "GET",
                   EV_PATH "?watch=true&resourceVersion=9&fieldSelector=involvedObject.kind%3DTask%"
                           "2CinvolvedObject.name%3Dhello",
                   200,
                   "{\"type\":\"ADDED\",\"object\":" E_STARTED "}\n"
                   "{\"type\":\"DELETED\",\"object\":" E_CREATED "}\n"
                   "{\"type\":\"MODIFIED\",\"object\":" E_BACKOFF "}\n"
                   "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":500,\"reason\":"
                   "\"InternalError\",\"message\":\"boom\"}}\n");
        run(&c, "--server", f->url, "events", "--for", "task/hello", "-w", NULL);
        assert_int_equal(c.rc, 1);
        assert_non_null(strstr(c.err, "boom"));
        const char *created = strstr(c.out, "Created");
        const char *started = strstr(c.out, "Started");
        const char *backoff = strstr(c.out, "BackOff");
        assert_non_null(created);
        assert_non_null(started);
        assert_non_null(backoff);
        assert_true(created < started && started < backoff);
        assert_null(strstr(started, "Created")); /* the DELETED one is not printed again */
        capture_release(&c);
}

static void test_events_usage(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};

        run(&c, "--server", f->url, "events", "--types", "Bogus", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "invalid --types \"Bogus\""));
        run(&c, "--server", f->url, "events", "--for", "hello", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "want KIND/NAME"));
        run(&c, "--server", f->url, "events", "--for", "gadget/hello", NULL);
        assert_int_equal(c.rc, 2);
        run(&c, "--server", f->url, "events", "task/hello", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "--for KIND/NAME"));
        run(&c, "--server", f->url, "events", "-o", "tree", NULL);
        assert_int_equal(c.rc, 2);
        run(&c, "events", "--help", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "--types"));
        capture_release(&c);
}

int main(void)
{
        const struct CMUnitTest pure[] = {
            cmocka_unit_test(test_types),           cmocka_unit_test(test_sort),
            cmocka_unit_test(test_selector),        cmocka_unit_test(test_columns),
            cmocka_unit_test(test_describe_events),
        };
        const struct CMUnitTest served[] = {
            cmocka_unit_test(test_events_command),
            cmocka_unit_test(test_events_watch),
            cmocka_unit_test(test_events_usage),
        };
        cli_test_env();
        int failed = cmocka_run_group_tests_name("events-pure", pure, NULL, NULL);
        failed += cmocka_run_group_tests_name("events-served", served, fake_setup, fake_teardown);
        return failed;
}
