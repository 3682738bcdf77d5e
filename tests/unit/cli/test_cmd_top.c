/* Unit tests of `berth top`: docker's byte spellings, the table of a
 * StatsList, and the request the command makes (namespace, -A, -l). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cli-internal.h"
#include "cli-test.h"

#define TASKS_NS  "/apis/berth/v1/namespaces/default/tasks?stats=true"
#define TASKS_ALL "/apis/berth/v1/tasks?stats=true"

#define HOG                                                                                        \
        "{\"namespace\":\"default\",\"name\":\"hog\",\"container\":\"0123456789ab\","              \
        "\"timestamp\":\"t\",\"cpuPercent\":12.5,\"memory\":{\"usageBytes\":50774016,"             \
        "\"limitBytes\":25276182528},\"pids\":3,\"network\":null,\"blockIO\":{\"readBytes\":"      \
        "4096,\"writeBytes\":1048576}}"
#define WEB                                                                                        \
        "{\"namespace\":\"team-b\",\"name\":\"web\",\"container\":\"abcdef012345\",\"replica\":1," \
        "\"timestamp\":\"t\",\"cpuPercent\":null,\"memory\":{\"usageBytes\":512,\"limitBytes\":"   \
        "1073741824},\"pids\":1,\"network\":{\"rxBytes\":9979,\"txBytes\":648},\"blockIO\":{"      \
        "\"readBytes\":0,\"writeBytes\":0}}"

static char *bin(uint64_t n)
{
        static char out[32];
        cli_bytes_binary(n, out, sizeof(out));
        return out;
}

static char *dec(uint64_t n)
{
        static char out[32];
        cli_bytes_decimal(n, out, sizeof(out));
        return out;
}

static void test_bytes(void **state)
{
        (void)state;
        assert_string_equal(bin(0), "0B");
        assert_string_equal(bin(1023), "1023B");
        assert_string_equal(bin(1024), "1KiB");
        assert_string_equal(bin(4337664), "4.137MiB");
        assert_string_equal(bin(25276182528ULL), "23.54GiB");
        assert_string_equal(bin(UINT64_MAX), "16EiB");
        assert_string_equal(dec(648), "648B");
        assert_string_equal(dec(999), "999B");
        assert_string_equal(dec(1000), "1kB");
        assert_string_equal(dec(9979), "9.98kB");
        assert_string_equal(dec(1048576), "1.05MB");
}

/* The table as a string; *err_out gets what went to err. */
static char *print(const char *items_json, const struct cli_top_opts *o, char **err_out)
{
        _cleanup_json_ json_t *items = json_loads(items_json, 0, NULL);
        char *out = NULL, *err = NULL;
        size_t n = 0, m = 0;
        FILE *f = open_memstream(&out, &n);
        FILE *e = open_memstream(&err, &m);

        assert_non_null(items);
        assert_int_equal(cli_top_print(f, e, items, o), 0);
        fclose(f);
        fclose(e);
        if (err_out)
                *err_out = err;
        else
                free(err);
        return out;
}

static void test_table(void **state)
{
        struct cli_top_opts o = {0};
        char *err = NULL;

        (void)state;
        _cleanup_free_ char *t = print("[" HOG "]", &o, NULL);
        assert_string_equal(t, "NAME   CPU%     MEMORY                PIDS   NET I/O   BLOCK I/O\n"
                               "hog    12.50%   48.42MiB / 23.54GiB   3      -         4.1kB / "
                               "1.05MB\n");
        o = (struct cli_top_opts){.all_namespaces = true, .replicas = true};
        _cleanup_free_ char *a = print("[" WEB "]", &o, NULL);
        assert_string_equal(a,
                            "NAMESPACE   NAME   REPLICA   CPU%   MEMORY        PIDS   NET I/O    "
                            "     BLOCK I/O\n"
                            "team-b      web    1         -      512B / 1GiB   1      9.98kB / "
                            "648B   0B / 0B\n");
        o = (struct cli_top_opts){.no_headers = true};
        _cleanup_free_ char *h = print("[" HOG "]", &o, NULL);
        assert_true(str_has_prefix(h, "hog   12.50%   48.42MiB / 23.54GiB   3   -   4.1kB"));

        /* A sample that failed: dashes, and why on err. */
        o = (struct cli_top_opts){0};
        _cleanup_free_ char *f =
            print("[{\"namespace\":\"default\",\"name\":\"gone\",\"container\":\"abc\","
                  "\"error\":\"stats of container abc: 500 boom\"}," HOG "]",
                  &o, &err);
        assert_non_null(strstr(f, "\ngone   -        -                     -      -         -\n"));
        assert_string_equal(err, "warning: default/gone: stats of container abc: 500 boom\n");
        free(err);
        _cleanup_free_ char *none = print("[]", &o, NULL);
        assert_string_equal(none, "");
}

static void test_command(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};

        fake_reset(f);
        fake_route(f, "GET", TASKS_NS, 200, "{\"kind\":\"StatsList\",\"items\":[" HOG "]}");
        run(&c, "--server", f->url, "top", "tasks", NULL);
        assert_int_equal(c.rc, 0);
        assert_true(str_has_prefix(c.out, "NAME   CPU%"));
        assert_string_equal(f->last_path, TASKS_NS);

        fake_reset(f);
        fake_route(f, "GET", TASKS_ALL, 200, "{\"kind\":\"StatsList\",\"items\":[" WEB "]}");
        run(&c, "--server", f->url, "top", "tk", "-A", NULL);
        assert_int_equal(c.rc, 0);
        assert_true(str_has_prefix(c.out, "NAMESPACE   NAME   CPU%"));

        fake_reset(f);
        fake_route(f, "GET",
                   "/apis/berth/v1/namespaces/team-b/services?stats=true&labelSelector=app%3Dweb",
                   200, "{\"kind\":\"StatsList\",\"items\":[" WEB "]}");
        run(&c, "--server", f->url, "top", "services", "-n", "team-b", "-l", "app=web", NULL);
        assert_int_equal(c.rc, 0);
        assert_true(str_has_prefix(c.out, "NAME   REPLICA   CPU%"));

        fake_reset(f);
        fake_route(f, "GET", TASKS_NS, 200, "{\"kind\":\"StatsList\",\"items\":[]}");
        run(&c, "--server", f->url, "top", "tasks", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "");
        assert_string_equal(c.err, "No running tasks found in default namespace.\n");

        /* Errors: the server's, a bad answer, the command line. */
        fake_reset(f);
        fake_route(f, "GET", TASKS_NS, 503,
                   "{\"kind\":\"Status\",\"code\":503,\"reason\":\"ServiceUnavailable\","
                   "\"message\":\"stats are not available: no connection to Docker\"}");
        run(&c, "--server", f->url, "top", "tasks", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "Error from server (ServiceUnavailable): stats are not "
                                   "available: no connection to Docker\n");
        fake_reset(f);
        fake_route(f, "GET", TASKS_NS, 200, "{}");
        run(&c, "--server", f->url, "top", "tasks", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "error: invalid response from berthd: no items\n");
        run(&c, "--server", f->url, "top", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "what to show: tasks or services"));
        run(&c, "--server", f->url, "top", "workflows", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "no stats for \"workflows\""));
        run(&c, "--server", f->url, "top", "tasks", "x", NULL);
        assert_int_equal(c.rc, 2);
        capture_release(&c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_bytes),
            cmocka_unit_test(test_table),
            cmocka_unit_test(test_command),
        };
        cli_test_env();
        return cmocka_run_group_tests(tests, fake_setup, fake_teardown);
}
