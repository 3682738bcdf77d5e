/* Unit tests for cron/: the parser and its messages, zones, and a table of
 * next fire times. The expected times of the table were computed apart from
 * this code, from the same rules over python's zoneinfo (first occurrence =
 * fold 0; a skipped wall time = the first instant whose clock is past it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cron.h"

static int64_t ts(const char *s)
{
        int64_t ms = 0;

        if (time_parse_rfc3339(s, &ms) < 0)
                fail_msg("bad test time %s", s);
        return ms;
}

static struct cron_schedule *parse_ok(const char *expr)
{
        struct cron_schedule *s = NULL;
        char msg[256] = "";

        if (cron_schedule_parse(expr, &s, msg, sizeof(msg)) != 0)
                fail_msg("\"%s\" does not parse: %s", expr, msg);
        return s;
}

static struct cron_zone *zone_ok(const char *name)
{
        struct cron_zone *z = NULL;
        char msg[256] = "";

        if (cron_zone_open(name, &z, msg, sizeof(msg)) != 0)
                fail_msg("zone \"%s\" does not open: %s", name ? name : "(null)", msg);
        return z;
}

/* ---- next fire times ---------------------------------------------------- */

struct next_case {
        const char *expr;
        const char *zone;
        const char *anchor; /* @every: the anchor; NULL for expressions */
        const char *after;
        const char *want;
};

static const struct next_case next_cases[] = {
    /* basics, whole minutes, strictly after */
    {"* * * * *", "UTC", NULL, "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"},
    {"* * * * *", "UTC", NULL, "2026-01-01T00:00:30Z", "2026-01-01T00:01:00Z"},
    {"* * * * *", "UTC", NULL, "2026-01-01T00:00:59.999Z", "2026-01-01T00:01:00Z"},
    {"* * * * *", "UTC", NULL, "2025-12-31T23:59:00.001Z", "2026-01-01T00:00:00Z"},
    {"0 * * * *", "UTC", NULL, "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"},
    {"59 * * * *", "UTC", NULL, "2026-01-01T00:59:00Z", "2026-01-01T01:59:00Z"},
    {"59 23 31 12 *", "UTC", NULL, "2026-06-01T00:00:00Z", "2026-12-31T23:59:00Z"},
    {"0 0 1 1 *", "UTC", NULL, "2026-12-31T23:59:59Z", "2027-01-01T00:00:00Z"},
    {"0 0 1 1 *", "UTC", NULL, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"},
    {"59 23 * * *", "UTC", NULL, "2026-12-31T23:59:00Z", "2027-01-01T23:59:00Z"},
    /* steps and ranges at the edges */
    {"*/7 * * * *", "UTC", NULL, "2026-01-01T00:49:00Z", "2026-01-01T00:56:00Z"},
    {"*/7 * * * *", "UTC", NULL, "2026-01-01T00:56:00Z", "2026-01-01T01:00:00Z"},
    {"*/7 * * * *", "UTC", NULL, "2026-01-01T23:56:00Z", "2026-01-02T00:00:00Z"},
    {"0-59/30 * * * *", "UTC", NULL, "2026-01-01T00:00:00Z", "2026-01-01T00:30:00Z"},
    {"0-59/30 * * * *", "UTC", NULL, "2026-01-01T00:30:00Z", "2026-01-01T01:00:00Z"},
    {"5/20 * * * *", "UTC", NULL, "2026-01-01T00:45:00Z", "2026-01-01T01:05:00Z"},
    {"10-20 * * * *", "UTC", NULL, "2026-01-01T00:20:00Z", "2026-01-01T01:10:00Z"},
    {"0,15,45 * * * *", "UTC", NULL, "2026-01-01T00:15:00Z", "2026-01-01T00:45:00Z"},
    {"0 */6 * * *", "UTC", NULL, "2026-01-01T05:59:59Z", "2026-01-01T06:00:00Z"},
    {"0 */6 * * *", "UTC", NULL, "2026-01-01T18:00:00Z", "2026-01-02T00:00:00Z"},
    {"0 0 1-31/10 * *", "UTC", NULL, "2026-01-21T00:00:00Z", "2026-01-31T00:00:00Z"},
    {"0 0 1-31/10 * *", "UTC", NULL, "2026-01-31T00:00:00Z", "2026-02-01T00:00:00Z"},
    {"0 0 1-31/10 * *", "UTC", NULL, "2026-04-21T00:00:00Z", "2026-05-01T00:00:00Z"},
    {"0 0 */10 * *", "UTC", NULL, "2026-02-21T00:00:00Z", "2026-03-01T00:00:00Z"},
    {"0 0 1 */3 *", "UTC", NULL, "2026-02-01T00:00:00Z", "2026-04-01T00:00:00Z"},
    {"0 0 1 */3 *", "UTC", NULL, "2026-10-01T00:00:00Z", "2027-01-01T00:00:00Z"},
    {"0 12 * 12 *", "UTC", NULL, "2026-12-31T12:00:00Z", "2027-12-01T12:00:00Z"},
    {"30 23 31 12 *", "UTC", NULL, "2026-12-31T23:30:00Z", "2027-12-31T23:30:00Z"},
    /* short months and leap years */
    {"0 0 31 * *", "UTC", NULL, "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z"},
    {"0 0 31 * *", "UTC", NULL, "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z"},
    {"0 0 31 * *", "UTC", NULL, "2026-07-31T00:00:00Z", "2026-08-31T00:00:00Z"},
    {"0 0 30 * *", "UTC", NULL, "2026-01-30T00:00:00Z", "2026-03-30T00:00:00Z"},
    {"0 0 29 2 *", "UTC", NULL, "2026-01-01T00:00:00Z", "2028-02-29T00:00:00Z"},
    {"0 0 29 2 *", "UTC", NULL, "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"},
    {"0 0 29 2 *", "UTC", NULL, "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z"},
    {"0 0 29 2 *", "UTC", NULL, "2396-02-29T00:00:00Z", "2400-02-29T00:00:00Z"},
    {"0 12 29 2 *", "UTC", NULL, "2028-02-29T11:59:59Z", "2028-02-29T12:00:00Z"},
    {"0 0 28 2 *", "UTC", NULL, "2028-02-28T00:00:00Z", "2029-02-28T00:00:00Z"},
    {"0 0 1 3 *", "UTC", NULL, "2028-02-29T00:00:00Z", "2028-03-01T00:00:00Z"},
    /* both day fields: either matches when both are restricted */
    {"0 0 13 * FRI", "UTC", NULL, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
    {"0 0 13 * FRI", "UTC", NULL, "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z"},
    {"0 0 13 * FRI", "UTC", NULL, "2026-01-12T00:00:00Z", "2026-01-13T00:00:00Z"},
    {"0 0 1 * MON", "UTC", NULL, "2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z"},
    {"0 0 1,15 * 0", "UTC", NULL, "2026-02-08T00:00:00Z", "2026-02-15T00:00:00Z"},
    {"0 0 31 2 MON", "UTC", NULL, "2026-01-31T00:00:00Z", "2026-02-02T00:00:00Z"},
    {"0 0 13 * *", "UTC", NULL, "2026-01-01T00:00:00Z", "2026-01-13T00:00:00Z"},
    {"0 0 * * FRI", "UTC", NULL, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
    {"0 0 ? * MON", "UTC", NULL, "2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z"},
    {"0 0 13 * ?", "UTC", NULL, "2026-01-01T00:00:00Z", "2026-01-13T00:00:00Z"},
    {"0 0 ? * ?", "UTC", NULL, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
    {"0 0 */2 * MON", "UTC", NULL, "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z"},
    /* names and 7 as Sunday */
    {"0 9 * JAN-MAR MON-FRI", "UTC", NULL, "2026-03-31T09:00:00Z", "2027-01-01T09:00:00Z"},
    {"0 0 1 jun *", "UTC", NULL, "2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z"},
    {"0 0 1 Dec *", "UTC", NULL, "2026-01-01T00:00:00Z", "2026-12-01T00:00:00Z"},
    {"0 0 * * 7", "UTC", NULL, "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
    {"0 0 * * SUN", "UTC", NULL, "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
    {"0 0 * * 5-7", "UTC", NULL, "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z"},
    {"0 0 * * 5-7", "UTC", NULL, "2026-01-04T00:00:00Z", "2026-01-09T00:00:00Z"},
    {"0 0 * * sat,sun", "UTC", NULL, "2026-01-05T00:00:00Z", "2026-01-10T00:00:00Z"},
    {"0 0 * * 0,7", "UTC", NULL, "2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"},
    {"0 0 * * 1/2", "UTC", NULL, "2026-01-03T00:00:00Z", "2026-01-05T00:00:00Z"},
    {"0 0 * JUL-AUG *", "UTC", NULL, "2026-08-31T00:00:00Z", "2027-07-01T00:00:00Z"},
    /* macros */
    {"@yearly", "UTC", NULL, "2026-05-05T05:05:05Z", "2027-01-01T00:00:00Z"},
    {"@annually", "UTC", NULL, "2026-12-31T23:59:59Z", "2027-01-01T00:00:00Z"},
    {"@monthly", "UTC", NULL, "2026-01-31T12:00:00Z", "2026-02-01T00:00:00Z"},
    {"@weekly", "UTC", NULL, "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
    {"@daily", "UTC", NULL, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
    {"@midnight", "UTC", NULL, "2026-01-01T12:00:00Z", "2026-01-02T00:00:00Z"},
    {"@hourly", "UTC", NULL, "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"},
    {"@HOURLY", "UTC", NULL, "2026-01-01T00:59:59Z", "2026-01-01T01:00:00Z"},
    /* zones without daylight saving time */
    {"0 9 * * *", "Asia/Kolkata", NULL, "2026-01-01T00:00:00Z", "2026-01-01T03:30:00Z"},
    {"0 9 * * *", "Asia/Kolkata", NULL, "2026-01-01T03:30:00Z", "2026-01-02T03:30:00Z"},
    {"0 0 1 1 *", "Pacific/Chatham", NULL, "2026-06-01T00:00:00Z", "2026-12-31T10:15:00Z"},
    /* America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT, 2026-11-01 02:00 EDT -> 01:00 EST */
    {"30 2 * * *", "America/New_York", NULL, "2026-03-08T05:00:00Z", "2026-03-08T07:00:00Z"},
    {"30 2 * * *", "America/New_York", NULL, "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"},
    {"0 2 * * *", "America/New_York", NULL, "2026-03-08T05:00:00Z", "2026-03-08T07:00:00Z"},
    {"0 3 * * *", "America/New_York", NULL, "2026-03-08T05:00:00Z", "2026-03-08T07:00:00Z"},
    {"59 1 * * *", "America/New_York", NULL, "2026-03-08T05:00:00Z", "2026-03-08T06:59:00Z"},
    {"*/15 2 * * *", "America/New_York", NULL, "2026-03-08T05:00:00Z", "2026-03-08T07:00:00Z"},
    {"*/15 2 * * *", "America/New_York", NULL, "2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"},
    {"30 * * * *", "America/New_York", NULL, "2026-03-08T06:00:00Z", "2026-03-08T06:30:00Z"},
    {"30 * * * *", "America/New_York", NULL, "2026-03-08T06:30:00Z", "2026-03-08T07:30:00Z"},
    {"30 1 * * *", "America/New_York", NULL, "2026-11-01T04:00:00Z", "2026-11-01T05:30:00Z"},
    {"30 1 * * *", "America/New_York", NULL, "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"},
    {"0 1 * * *", "America/New_York", NULL, "2026-11-01T04:00:00Z", "2026-11-01T05:00:00Z"},
    {"0 2 * * *", "America/New_York", NULL, "2026-11-01T04:00:00Z", "2026-11-01T07:00:00Z"},
    {"30 * * * *", "America/New_York", NULL, "2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z"},
    {"30 * * * *", "America/New_York", NULL, "2026-11-01T06:30:00Z", "2026-11-01T07:30:00Z"},
    {"0 0 * * *", "America/New_York", NULL, "2026-03-07T05:00:00Z", "2026-03-08T05:00:00Z"},
    /* Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST, 2026-10-25 03:00 CEST -> 02:00 CET */
    {"30 2 * * *", "Europe/Berlin", NULL, "2026-03-28T02:00:00Z", "2026-03-29T01:00:00Z"},
    {"30 2 * * *", "Europe/Berlin", NULL, "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"},
    {"30 2 * * *", "Europe/Berlin", NULL, "2026-03-29T00:59:59.500Z", "2026-03-29T01:00:00Z"},
    {"30 2 * * *", "Europe/Berlin", NULL, "2026-10-24T02:00:00Z", "2026-10-25T00:30:00Z"},
    {"30 2 * * *", "Europe/Berlin", NULL, "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
    {"30 * * * *", "Europe/Berlin", NULL, "2026-03-29T00:30:00Z", "2026-03-29T01:30:00Z"},
    {"30 * * * *", "Europe/Berlin", NULL, "2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z"},
    {"30 * * * *", "Europe/Berlin", NULL, "2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"},
    {"30 * * * *", "Europe/Berlin", NULL, "2026-10-25T01:30:00Z", "2026-10-25T02:30:00Z"},
    {"@hourly", "Europe/Berlin", NULL, "2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z"},
    {"@hourly", "Europe/Berlin", NULL, "2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z"},
    {"@hourly", "Europe/Berlin", NULL, "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"},
    {"* 2 * * *", "Europe/Berlin", NULL, "2026-10-25T00:59:00Z", "2026-10-26T01:00:00Z"},
    {"* 2 * * *", "Europe/Berlin", NULL, "2026-10-25T01:00:00Z", "2026-10-26T01:00:00Z"},
    {"0 0 * * *", "Europe/Berlin", NULL, "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z"},
    {"0 9 * * MON-FRI", "Europe/Berlin", NULL, "2026-10-23T07:00:00Z", "2026-10-26T08:00:00Z"},
    /* Australia/Lord_Howe: 2026-04-05 02:00 +11 -> 01:30 +1030, 2026-10-04 02:00 +1030 -> 02:30 +11
     */
    {"15 2 * * *", "Australia/Lord_Howe", NULL, "2026-10-03T12:00:00Z", "2026-10-03T15:30:00Z"},
    {"0,30 2 * * *", "Australia/Lord_Howe", NULL, "2026-10-03T12:00:00Z", "2026-10-03T15:30:00Z"},
    {"0,30 2 * * *", "Australia/Lord_Howe", NULL, "2026-10-03T15:30:00Z", "2026-10-04T15:00:00Z"},
    {"15 * * * *", "Australia/Lord_Howe", NULL, "2026-10-03T14:45:00Z", "2026-10-03T16:15:00Z"},
    {"45 1 * * *", "Australia/Lord_Howe", NULL, "2026-04-04T12:00:00Z", "2026-04-04T14:45:00Z"},
    {"45 1 * * *", "Australia/Lord_Howe", NULL, "2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"},
    {"45 * * * *", "Australia/Lord_Howe", NULL, "2026-04-04T14:45:00Z", "2026-04-04T15:15:00Z"},
    {"45 * * * *", "Australia/Lord_Howe", NULL, "2026-04-04T15:15:00Z", "2026-04-04T16:15:00Z"},
    {"0 * * * *", "Australia/Lord_Howe", NULL, "2026-04-04T14:30:00Z", "2026-04-04T15:30:00Z"},
    /* @every: anchor + k * interval, the smallest k >= 1 past "after"; zones do not matter */
    {"@every 90s", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "2026-01-01T00:01:30Z"},
    {"@every 90s", "UTC", "2026-01-01T00:00:00Z", "2025-12-31T00:00:00Z", "2026-01-01T00:01:30Z"},
    {"@every 1h30m", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T03:00:00Z", "2026-01-01T04:30:00Z"},
    {"@every 1h30m", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T02:59:59.999Z",
     "2026-01-01T03:00:00Z"},
    {"@every 7m", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z", "2026-01-01T01:03:00Z"},
    {"@every 1s", "UTC", "2026-01-01T00:00:00.250Z", "2026-01-01T00:00:10Z",
     "2026-01-01T00:00:10.250Z"},
    {"@every 366d", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "2027-01-02T00:00:00Z"},
    {"@every 1d", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T00:00:00Z",
     "2026-03-29T12:00:00Z"},
};

static void test_next_table(void **state)
{
        (void)state;
        assert_true(ARRAY_SIZE(next_cases) >= 80);
        for (size_t i = 0; i < ARRAY_SIZE(next_cases); i++) {
                const struct next_case *c = &next_cases[i];
                struct cron_schedule *s = parse_ok(c->expr);
                struct cron_zone *z = zone_ok(c->zone);
                int64_t after = ts(c->after), got = -1;
                int r = cron_next(s, z, c->anchor ? ts(c->anchor) : after, after, &got);

                if (r != 0 || got != ts(c->want)) {
                        char text[RFC3339_MAX] = "-";

                        if (r == 0)
                                time_format_rfc3339(got, text);
                        fail_msg("case %zu: \"%s\" in %s after %s: want %s, got %s (%d ms, r=%d)",
                                 i, c->expr, c->zone, c->after, c->want, text, (int)(got % 1000),
                                 r);
                }
                cron_schedule_free(s);
                cron_zone_free(z);
        }
}

/* Runs n fire times from after and checks that each is later than the one
 * before; returns the last. */
static int64_t run_sequence(const char *expr, const char *zone, const char *after, int n)
{
        struct cron_schedule *s = parse_ok(expr);
        struct cron_zone *z = zone_ok(zone);
        int64_t t = ts(after), anchor = t;

        for (int i = 0; i < n; i++) {
                int64_t next = 0;

                assert_int_equal(cron_next(s, z, anchor, t, &next), 0);
                assert_true(next > t);
                t = next;
        }
        cron_schedule_free(s);
        cron_zone_free(z);
        return t;
}

static void test_next_sequences(void **state)
{
        (void)state;
        /* 100 leap days from 2026: 2028 ... 2436, without 2100, 2200 and 2300. */
        assert_int_equal(run_sequence("0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", 100),
                         ts("2436-02-29T00:00:00Z"));
        assert_int_equal(run_sequence("0 0 29 2 *", "Europe/Berlin", "2026-01-01T00:00:00Z", 100),
                         ts("2436-02-28T23:00:00Z"));
        /* Hourly across both 2026 transitions of New York: real time, one an hour. */
        assert_int_equal(
            run_sequence("0 * * * *", "America/New_York", "2026-03-01T00:00:00Z", 24 * 250),
            ts("2026-03-01T00:00:00Z") + (int64_t)24 * 250 * 3600 * 1000);
        /* Daily at 02:30 in Berlin: one a day, DST or not (a year of them). */
        assert_int_equal(run_sequence("30 2 * * *", "Europe/Berlin", "2026-01-01T00:00:00Z", 365),
                         ts("2026-12-31T01:30:00Z"));
        /* Every minute through Lord Howe's half-hour overlap: 30 minutes come twice. */
        assert_int_equal(
            run_sequence("* * * * *", "Australia/Lord_Howe", "2026-04-04T14:00:00Z", 120),
            ts("2026-04-04T16:00:00Z"));
        /* ... fixed to 01:xx, the repeated half hour fires once: 59 minutes after
         * 01:00 +11 and then the next day's first two. */
        assert_int_equal(
            run_sequence("* 1 * * *", "Australia/Lord_Howe", "2026-04-04T14:00:00Z", 61),
            ts("2026-04-05T14:31:00Z"));
}

static void test_next_never(void **state)
{
        (void)state;
        static const char *const never[] = {
            "0 0 30 2 *", "0 0 31 4 *", "0 0 31 2,4,6,9,11 *", "* * 30-31 2 *", "0 12 31 jun *",
        };
        static const char *const zones[] = {"UTC", "Europe/Berlin", "Australia/Lord_Howe"};

        for (size_t i = 0; i < ARRAY_SIZE(never); i++)
                for (size_t j = 0; j < ARRAY_SIZE(zones); j++) {
                        struct cron_schedule *s = parse_ok(never[i]);
                        struct cron_zone *z = zone_ok(zones[j]);
                        int64_t got = 42;

                        assert_int_equal(cron_next(s, z, 0, ts("2026-01-01T00:00:00Z"), &got),
                                         -ENOENT);
                        assert_int_equal(got, 42); /* untouched */
                        cron_schedule_free(s);
                        cron_zone_free(z);
                }

        /* Fire times end with the year 9999, what RFC 3339 can write. */
        struct cron_schedule *s = parse_ok("* * * * *");
        int64_t got = 42;
        assert_int_equal(cron_next(s, NULL, 0, ts("9999-12-31T23:58:59Z"), &got), 0);
        assert_int_equal(got, ts("9999-12-31T23:59:00Z"));
        got = 42;
        assert_int_equal(cron_next(s, NULL, 0, ts("9999-12-31T23:59:00Z"), &got), -ENOENT);
        assert_int_equal(cron_next(s, NULL, 0, INT64_MAX, &got), -ENOENT);
        assert_int_equal(got, 42);
        /* Before the year 1 the search starts there (time_parse_rfc3339 reads
         * 0001-01-01T00:00:00Z as Docker's "never"). */
        assert_int_equal(cron_next(s, NULL, 0, INT64_MIN, &got), 0);
        assert_int_equal(got, ts("0001-01-01T00:01:00Z") - 60000);
        cron_schedule_free(s);

        s = parse_ok("0 0 29 2 *");
        assert_int_equal(cron_next(s, NULL, 0, ts("9996-02-29T00:00:00Z"), &got), -ENOENT);
        cron_schedule_free(s);

        /* @every past the end of int64 or of the year 9999. */
        s = parse_ok("@every 366d");
        got = 42;
        assert_int_equal(cron_next(s, NULL, INT64_MAX - 1000, INT64_MAX - 1000, &got), -ENOENT);
        assert_int_equal(cron_next(s, NULL, INT64_MIN, INT64_MAX, &got), -ENOENT);
        assert_int_equal(
            cron_next(s, NULL, ts("9999-06-01T00:00:00Z"), ts("9999-06-01T00:00:00Z"), &got),
            -ENOENT);
        assert_int_equal(got, 42);
        assert_int_equal(cron_next(s, NULL, ts("2026-01-01T00:00:00Z"), INT64_MIN, &got), 0);
        assert_int_equal(got, ts("2027-01-02T00:00:00Z"));
        cron_schedule_free(s);
}

/* Without a zone, "" and "UTC" are the same zone. */
static void test_next_utc_zones(void **state)
{
        (void)state;
        struct cron_schedule *s = parse_ok("30 2 * * *");
        struct cron_zone *empty = zone_ok(""), *null = zone_ok(NULL), *utc = zone_ok("UTC");
        int64_t after = ts("2026-03-29T00:00:00Z"), a = 0, b = 0, c = 0, d = 0;

        assert_int_equal(cron_next(s, NULL, 0, after, &a), 0);
        assert_int_equal(cron_next(s, empty, 0, after, &b), 0);
        assert_int_equal(cron_next(s, null, 0, after, &c), 0);
        assert_int_equal(cron_next(s, utc, 0, after, &d), 0);
        assert_int_equal(a, ts("2026-03-29T02:30:00Z"));
        assert_int_equal(a, b);
        assert_int_equal(a, c);
        assert_int_equal(a, d);
        cron_zone_free(empty);
        cron_zone_free(null);
        cron_zone_free(utc);
        cron_schedule_free(s);
}

/* ---- the parser ------------------------------------------------------------ */

static void test_parse_ok(void **state)
{
        (void)state;
        static const char *const good[] = {
            "* * * * *",
            "  0 0 * * *  ",
            "0\t0\t*\t*\t*",
            "0 0 * * *\n",
            "0,59 0,23 1,31 1,12 0,7",
            "00 00 01 01 00",
            "*/59 */23 */31 */12 */7",
            "0-59 0-23 1-31 1-12 0-7",
            "0 0 ? * ?",
            "0 0 * jan-Dec Sun-SAT",
            "*,5 * * * *",
            "@yearly",
            "@Daily",
            "  @every 1h30m  ",
            "@every 1.5s0.5s",
        };
        struct {
                const char *expr;
                int64_t ms;
        } intervals[] = {
            {"@every 1s", 1000},          {"@every 90s", 90000},
            {"@every 1h30m", 5400000},    {"@every 1.5m", 90000},
            {"@every 366d", 31622400000}, {"@EVERY 2h", 7200000},
            {"*/5 * * * *", 0},           {"@hourly", 0},
        };

        for (size_t i = 0; i < ARRAY_SIZE(good); i++)
                cron_schedule_free(parse_ok(good[i]));
        for (size_t i = 0; i < ARRAY_SIZE(intervals); i++) {
                struct cron_schedule *s = parse_ok(intervals[i].expr);
                assert_int_equal(cron_schedule_interval_ms(s), intervals[i].ms);
                cron_schedule_free(s);
        }
        assert_int_equal(cron_schedule_interval_ms(NULL), 0);
        cron_schedule_free(NULL);
}

static void test_parse_errors(void **state)
{
        (void)state;
        static const struct {
                const char *expr;
                const char *msg;
        } bad[] = {
            {"", "empty schedule"},
            {" \t ", "empty schedule"},
            {"0 0 * *", "expected 5 fields, found 4"},
            {"0 0 * * * *", "expected 5 fields, found 6"},
            {"60 * * * *", "field 1 (minute): 60 is out of range 0-59"},
            {"0 24 * * *", "field 2 (hour): 24 is out of range 0-23"},
            {"0 0 0 * *", "field 3 (day-of-month): 0 is out of range 1-31"},
            {"0 0 32 * *", "field 3 (day-of-month): 32 is out of range 1-31"},
            {"0 0 * 13 *", "field 4 (month): 13 is out of range 1-12"},
            {"0 0 * 0 *", "field 4 (month): 0 is out of range 1-12"},
            {"0 0 * * 8", "field 5 (day-of-week): 8 is out of range 0-7"},
            {"99999999999 * * * *", "field 1 (minute): 99999999999 is out of range 0-59"},
            {"0 0 * JANUARY *", "field 4 (month): unknown name \"JANUARY\""},
            {"0 0 * * MONDAY", "field 5 (day-of-week): unknown name \"MONDAY\""},
            {"0 0 * * JAN", "field 5 (day-of-week): unknown name \"JAN\""},
            {"0 0 MON * *", "field 3 (day-of-month): \"MON\" is not a number"},
            {"0 noon * * *", "field 2 (hour): \"noon\" is not a number"},
            {"1a * * * *", "field 1 (minute): \"1a\" is not a number"},
            {"0 0 L * *", "field 3 (day-of-month): \"L\" is not a number"},
            {"0 0 * * 5#2", "field 5 (day-of-week): \"5#2\" is not a number"},
            {"-5 * * * *", "field 1 (minute): incomplete range \"-5\""},
            {"5- * * * *", "field 1 (minute): incomplete range \"5-\""},
            {"1-2-3 * * * *", "field 1 (minute): invalid range \"1-2-3\""},
            {"*-5 * * * *", "field 1 (minute): invalid item \"*-5\""},
            {"0 22-2 * * *",
             "field 2 (hour): range 22-2 is reversed (write 22-23,0-2 for a range that wraps "
             "around)"},
            {"0 0 * * FRI-MON",
             "field 5 (day-of-week): range FRI-MON is reversed (write FRI-6,0-MON for a range "
             "that wraps around)"},
            {"*/0 * * * *", "field 1 (minute): step 0 is out of range 1-59"},
            {"*/60 * * * *", "field 1 (minute): step 60 is out of range 1-59"},
            {"0 */24 * * *", "field 2 (hour): step 24 is out of range 1-23"},
            {"0 0 * */13 *", "field 4 (month): step 13 is out of range 1-12"},
            {"0 0 * * */8", "field 5 (day-of-week): step 8 is out of range 1-7"},
            {"*/ * * * *", "field 1 (minute): missing step after \"/\" in \"*/\""},
            {"*/x * * * *", "field 1 (minute): step \"x\" is not a number"},
            {"*/1/2 * * * *", "field 1 (minute): step \"1/2\" is not a number"},
            {"1,,2 * * * *", "field 1 (minute): empty item in the list \"1,,2\""},
            {"1, * * * *", "field 1 (minute): empty item in the list \"1,\""},
            {"? * * * *", "field 1 (minute): ? is allowed only in the day-of-month and "
                          "day-of-week fields"},
            {"0 0 * ? *", "field 4 (month): ? is allowed only in the day-of-month and "
                          "day-of-week fields"},
            {"0 0 ?,1 * *", "field 3 (day-of-month): ? must be the whole field"},
            {"0 0 ?/2 * *", "field 3 (day-of-month): ? must be the whole field"},
            {"@fortnightly", "unknown macro \"@fortnightly\""},
            {"@", "unknown macro \"@\""},
            {"@daily 5", "@daily takes no arguments"},
            {"@every", "@every: missing duration (e.g. @every 90s)"},
            {"@every 1h 30m", "@every: unexpected \"30m\" after the duration"},
            {"@every soon", "@every: invalid duration \"soon\" (want e.g. 90s, 15m, 1h30m, 1d)"},
            {"@every 10", "@every: invalid duration \"10\" (want e.g. 90s, 15m, 1h30m, 1d)"},
            {"@every -5s", "@every: invalid duration \"-5s\" (want e.g. 90s, 15m, 1h30m, 1d)"},
            {"@every 0s", "@every: 0s is shorter than 1s"},
            {"@every 0", "@every: 0 is shorter than 1s"},
            {"@every 999ms", "@every: 999ms is shorter than 1s"},
            {"@every 1500ms", "@every: 1500ms is not a whole number of seconds"},
            {"@every 1.0005s", "@every: 1.0005s is not a whole number of seconds"},
            {"@every 367d", "@every: 367d is longer than 366d"},
            {"@every 99999999999999999d", "@every: 99999999999999999d is longer than 366d"},
        };

        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                struct cron_schedule *s = (struct cron_schedule *)&s; /* a sentinel */
                char msg[256] = "";

                if (cron_schedule_parse(bad[i].expr, &s, msg, sizeof(msg)) != -EINVAL)
                        fail_msg("\"%s\" parses", bad[i].expr);
                if (!streq(msg, bad[i].msg))
                        fail_msg("\"%s\": want \"%s\", got \"%s\"", bad[i].expr, bad[i].msg, msg);
                assert_ptr_equal(s, (struct cron_schedule *)&s);
        }
}

static void test_parse_limits(void **state)
{
        (void)state;
        char expr[CRON_EXPR_MAX + 2], msg[256] = "";
        struct cron_schedule *s = NULL;

        /* Exactly CRON_EXPR_MAX characters parse; one more is too long. */
        memset(expr, ' ', sizeof(expr));
        memcpy(expr, "* * * * *", 9);
        expr[CRON_EXPR_MAX] = '\0';
        cron_schedule_free(parse_ok(expr));
        expr[CRON_EXPR_MAX] = ' ';
        expr[CRON_EXPR_MAX + 1] = '\0';
        assert_int_equal(cron_schedule_parse(expr, &s, msg, sizeof(msg)), -E2BIG);
        assert_string_equal(msg, "schedule is longer than 256 characters");
        assert_null(s);

        /* 64 items in a list are fine, 65 are not. */
        struct buf b;
        buf_init(&b, 1024);
        for (int i = 0; i < 64; i++)
                assert_int_equal(buf_printf(&b, "%s%d", i ? "," : "", i % 60), 0);
        assert_int_equal(buf_append_str(&b, " * * * *"), 0);
        cron_schedule_free(parse_ok(b.data));
        buf_reset(&b);
        for (int i = 0; i < 65; i++)
                assert_int_equal(buf_printf(&b, "%s%d", i ? "," : "", i % 10), 0);
        assert_int_equal(buf_append_str(&b, " * * * *"), 0);
        assert_int_equal(cron_schedule_parse(b.data, &s, msg, sizeof(msg)), -EINVAL);
        assert_string_equal(msg, "field 1 (minute): more than 64 items in the list");
        buf_release(&b);

        /* NULL and a message buffer of no size are accepted; a small one is cut. */
        assert_int_equal(cron_schedule_parse(NULL, &s, msg, sizeof(msg)), -EINVAL);
        assert_string_equal(msg, "empty schedule");
        assert_int_equal(cron_schedule_parse("0 24 * * *", &s, NULL, 0), -EINVAL);
        assert_int_equal(cron_schedule_parse("0 24 * * *", &s, msg, 8), -EINVAL);
        assert_string_equal(msg, "field 2");
        assert_null(s);
}

/* ---- zones ---------------------------------------------------------------- */

static void test_zones(void **state)
{
        (void)state;
        static const char *const good[] = {
            "Europe/Berlin", "America/New_York",    "America/Argentina/Buenos_Aires",
            "Etc/GMT+5",     "Etc/GMT-14",          "UTC",
            "Asia/Kolkata",  "Australia/Lord_Howe",
        };
        static const struct {
                const char *name;
                const char *msg;
        } bad[] = {
            {"Mars/Olympus", "unknown time zone \"Mars/Olympus\""},
            {"europe/berlin", "unknown time zone \"europe/berlin\""},
            /* GLib would read these as POSIX TZ rules: not names in the database. */
            {"ABC3", "unknown time zone \"ABC3\""},
            {"Foo5Bar", "unknown time zone \"Foo5Bar\""},
            /* Files and folders of the database that are not zones. */
            {"Europe", "unknown time zone \"Europe\""},
            {"leapseconds", "unknown time zone \"leapseconds\""},
            {"../etc/passwd", "invalid time zone name \"../etc/passwd\": want an IANA name like "
                              "\"Europe/Berlin\""},
            {"/etc/localtime", "invalid time zone name \"/etc/localtime\": want an IANA name "
                               "like \"Europe/Berlin\""},
            {"Europe/", "invalid time zone name \"Europe/\": want an IANA name like "
                        "\"Europe/Berlin\""},
            {"Europe//Berlin", "invalid time zone name \"Europe//Berlin\": want an IANA name "
                               "like \"Europe/Berlin\""},
            {"Europe/../UTC", "invalid time zone name \"Europe/../UTC\": want an IANA name "
                              "like \"Europe/Berlin\""},
            {"Europe/Ber lin", "invalid time zone name \"Europe/Ber lin\": want an IANA name "
                               "like \"Europe/Berlin\""},
            {"1Europe", "invalid time zone name \"1Europe\": want an IANA name like "
                        "\"Europe/Berlin\""},
            {"zone.tab", "invalid time zone name \"zone.tab\": want an IANA name like "
                         "\"Europe/Berlin\""},
            {"+05:30", "invalid time zone name \"+05:30\": want an IANA name like "
                       "\"Europe/Berlin\""},
            {"America/Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
             "time zone name is longer than 64 characters"},
        };
        char msg[256];

        for (size_t i = 0; i < ARRAY_SIZE(good); i++)
                cron_zone_free(zone_ok(good[i]));
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                struct cron_zone *z = (struct cron_zone *)&z; /* a sentinel */

                msg[0] = '\0';
                if (cron_zone_open(bad[i].name, &z, msg, sizeof(msg)) != -EINVAL)
                        fail_msg("zone \"%s\" opens", bad[i].name);
                if (!streq(msg, bad[i].msg))
                        fail_msg("\"%s\": want \"%s\", got \"%s\"", bad[i].name, bad[i].msg, msg);
                assert_ptr_equal(z, (struct cron_zone *)&z);
        }

        /* 64 characters are within the limit (the name is then merely unknown). */
        const char *name64 = "America/Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        struct cron_zone *z = NULL;
        assert_int_equal(strlen(name64), CRON_ZONE_NAME_MAX);
        assert_int_equal(cron_zone_open(name64, &z, msg, sizeof(msg)), -EINVAL);
        assert_true(str_has_prefix(msg, "unknown time zone"));
        assert_int_equal(cron_zone_open("Mars/Olympus", &z, NULL, 0), -EINVAL);
        assert_null(z);
        cron_zone_free(NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_next_table),   cmocka_unit_test(test_next_sequences),
            cmocka_unit_test(test_next_never),   cmocka_unit_test(test_next_utc_zones),
            cmocka_unit_test(test_parse_ok),     cmocka_unit_test(test_parse_errors),
            cmocka_unit_test(test_parse_limits), cmocka_unit_test(test_zones),
        };
        return cmocka_run_group_tests_name("cron", tests, NULL, NULL);
}
