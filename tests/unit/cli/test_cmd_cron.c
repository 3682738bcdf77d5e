/* Unit tests of `berth cron`: the output of `cron next` for fixed start times,
 * its defaults and limits, its errors and their exit status, and its help. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cli-internal.h"
#include "cli-test.h"

static size_t count_lines(const char *s)
{
        size_t n = 0;

        for (; *s; s++)
                n += *s == '\n';
        return n;
}

static void test_next_output(void **state)
{
        (void)state;
        struct capture c = {0};

        run(&c, "cron", "next", "0 0 29 2 *", "--from", "2026-01-01T00:00:00Z", "-n", "3", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "2028-02-29T00:00:00Z\n"
                                   "2032-02-29T00:00:00Z\n"
                                   "2036-02-29T00:00:00Z\n");
        assert_string_equal(c.err, "");

        /* Spring forward: 02:30 does not exist that day and fires at 03:00 CEST. */
        run(&c, "cron", "next", "30 2 * * *", "--time-zone", "Europe/Berlin", "--from",
            "2026-03-27T00:00:00Z", "-n4", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "2026-03-27T01:30:00Z\n"
                                   "2026-03-28T01:30:00Z\n"
                                   "2026-03-29T01:00:00Z\n"
                                   "2026-03-30T00:30:00Z\n");

        /* Five by default; --count is -n; the start is excluded. */
        run(&c, "cron", "next", "*/20 * * * *", "--from=2026-01-01T00:00:00Z", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "2026-01-01T00:20:00Z\n"
                                   "2026-01-01T00:40:00Z\n"
                                   "2026-01-01T01:00:00Z\n"
                                   "2026-01-01T01:20:00Z\n"
                                   "2026-01-01T01:40:00Z\n");
        run(&c, "cron", "next", "@hourly", "--count=1", "--from", "2026-01-01T10:30:00+02:00",
            NULL);
        assert_string_equal(c.out, "2026-01-01T09:00:00Z\n");

        /* @every counts from --from. */
        run(&c, "cron", "next", "@every 90m", "-n", "3", "--from", "2026-01-01T00:00:00Z", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "2026-01-01T01:30:00Z\n"
                                   "2026-01-01T03:00:00Z\n"
                                   "2026-01-01T04:30:00Z\n");

        /* At most 1000. */
        run(&c, "cron", "next", "* * * * *", "-n", "1000", "--from", "2026-01-01T00:00:00Z", NULL);
        assert_int_equal(c.rc, 0);
        assert_int_equal(count_lines(c.out), 1000);
        assert_non_null(strstr(c.out, "\n2026-01-01T16:40:00Z\n"));

        /* --from defaults to now. */
        int64_t before = time_now_ms(), first = 0;
        run(&c, "cron", "next", "* * * * *", "-n", "1", NULL);
        assert_int_equal(c.rc, 0);
        c.out[strcspn(c.out, "\n")] = '\0';
        assert_int_equal(time_parse_rfc3339(c.out, &first), 0);
        assert_true(first > before - 1000 && first <= before + 61000);
        capture_release(&c);
}

static void test_next_errors(void **state)
{
        (void)state;
        struct capture c = {0};

        run(&c, "cron", "next", "0 24 * * *", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.out, "");
        assert_string_equal(c.err, "error: schedule: field 2 (hour): 24 is out of range 0-23\n");

        run(&c, "cron", "next", "@every 1500ms", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err,
                            "error: schedule: @every: 1500ms is not a whole number of seconds\n");

        run(&c, "cron", "next", "0 0 * * *", "--time-zone", "Mars/Olympus", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "error: unknown time zone \"Mars/Olympus\"\n");

        run(&c, "cron", "next", "0 0 * * *", "--time-zone", "../etc/passwd", NULL);
        assert_int_equal(c.rc, 1);
        assert_non_null(strstr(c.err, "error: invalid time zone name \"../etc/passwd\""));

        run(&c, "cron", "next", "0 0 30 2 *", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err,
                            "error: schedule \"0 0 30 2 *\" does not fire within 500 years\n");

        /* Fewer than asked for: what there is, and a note. */
        run(&c, "cron", "next", "0 0 29 2 *", "--from", "9990-01-01T00:00:00Z", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "9992-02-29T00:00:00Z\n9996-02-29T00:00:00Z\n");
        assert_non_null(strstr(c.err, "no fire time after 9996-02-29T00:00:00Z"));

        /* Usage errors exit 2. */
        static const struct {
                const char *args[6];
                const char *err;
        } usage[] = {
            {{"cron", "next"}, "error: a schedule is required"},
            {{"cron", "next", "0", "0", "*"},
             "error: unexpected argument \"0\": quote the schedule"},
            {{"cron", "next", "* * * * *", "-n", "0"},
             "error: invalid -n \"0\": want a number from 1 to 1000"},
            {{"cron", "next", "* * * * *", "-n", "1001"}, "error: invalid -n \"1001\""},
            {{"cron", "next", "* * * * *", "-n", "5x"}, "error: invalid -n \"5x\""},
            {{"cron", "next", "* * * * *", "-n", "99999999999"}, "error: invalid -n"},
            {{"cron", "next", "* * * * *", "--from", "yesterday"},
             "error: invalid --from \"yesterday\": want an RFC 3339 time"},
            {{"cron", "next", "* * * * *", "--time-zon", "UTC"}, "Did you mean --time-zone?"},
            {{"cron", "next", "* * * * *", "--from"}, "error: flag needs an argument: --from"},
            {{"cron"}, "error: a subcommand is required: next"},
            {{"cron", "prev"}, "error: unknown subcommand \"prev\" for \"berth cron\": want next"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(usage); i++) {
                const char *const *a = usage[i].args;

                run(&c, a[0], a[1], a[2], a[3], a[4], a[5], NULL);
                if (c.rc != 2 || !strstr(c.err, usage[i].err))
                        fail_msg("case %zu: rc %d, stderr: %s", i, c.rc, c.err);
        }
        run(&c, "cron", "next", NULL);
        assert_non_null(strstr(c.err, "See 'berth cron next --help' for usage."));
        run(&c, "cron", NULL);
        assert_non_null(strstr(c.err, "See 'berth cron --help' for usage."));
        capture_release(&c);
}

static void test_help(void **state)
{
        (void)state;
        struct capture c = {0};

        run(&c, "cron", "--help", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "Usage:\n  berth cron next SCHEDULE"));

        run(&c, "help", "cron", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "berth cron next prints the next N fire times"));

        run(&c, "cron", "next", "--help", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "  -n, --count N"));
        assert_non_null(strstr(c.out, "--time-zone TZ"));
        /* -n is taken: the global flag keeps only its long name here. */
        assert_non_null(strstr(c.out, "      --namespace NS"));
        assert_null(strstr(c.out, "-n, --namespace"));

        run(&c, "--help", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "  cron       Show when a cron schedule fires\n"));

        /* Elsewhere -n is still the namespace. */
        run(&c, "get", "--help", NULL);
        assert_non_null(strstr(c.out, "-n, --namespace NS"));
        capture_release(&c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_next_output),
            cmocka_unit_test(test_next_errors),
            cmocka_unit_test(test_help),
        };
        unsetenv("NO_COLOR");
        cli_test_env();
        return cmocka_run_group_tests_name("cmd-cron", tests, NULL, NULL);
}
