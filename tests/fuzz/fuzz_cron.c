/* Fuzz target for the cron module: parse the input as a schedule and, when it
 * parses, step through its fire times in UTC and in a zone with daylight
 * saving time, from instants next to DST transitions and one the input
 * chooses. Besides memory errors and UB it aborts when
 *   - a failed parse returns another error than -EINVAL or -E2BIG, leaves no
 *     message, or touches the output,
 *   - a fire time is not strictly after the time it was asked for (so the
 *     times of one schedule strictly increase),
 *   - where the clock alone decides (UTC, or an hour field of *), the clock
 *     at a fire time does not match the fields, or a whole minute shortly
 *     before it did match (the search skipped a fire time).
 * The checks read the schedule's bit masks and convert with gmtime_r and
 * GTimeZone offsets, apart from the search's own calendar code. */
#include <inttypes.h>
#include <stdint.h>
#include <time.h>

#include "cron-internal.h"

/* How far back a fire time is checked for a skipped match, in minutes. */
#define FUZZ_LOOKBACK_MINUTES 180
#define FUZZ_STEPS            4

static const char *const zone_names[] = {"Europe/Berlin", "America/New_York",
                                         "Australia/Lord_Howe"};

/* Opened once: zones are immutable and the fuzzer runs one input at a time. */
static struct cron_zone *zone_get(size_t i)
{
        static struct cron_zone *zones[ARRAY_SIZE(zone_names)];
        char msg[128];

        if (!zones[i] && cron_zone_open(zone_names[i], &zones[i], msg, sizeof(msg)) < 0) {
                fprintf(stderr, "%s\n", msg);
                abort();
        }
        return zones[i];
}

static bool bit(uint64_t mask, int b)
{
        return (mask >> b) & 1;
}

/* Whether the clock of zone z at instant t (seconds) shows a time the
 * fields match. */
static bool clock_matches(const struct cron_schedule *s, const struct cron_zone *z, int64_t t)
{
        int64_t off = 0;
        struct tm tm;

        if (z && z->tz)
                off = g_time_zone_get_offset(
                    z->tz, g_time_zone_find_interval(z->tz, G_TIME_TYPE_UNIVERSAL, t));
        time_t wall = (time_t)(t + off);
        if (wall % 60 != 0 || !gmtime_r(&wall, &tm))
                return false;
        bool dom = bit(s->days, tm.tm_mday), dow = bit(s->weekdays, tm.tm_wday);
        bool day = s->days_any ? dow : s->weekdays_any ? dom : dom || dow;
        return day && bit(s->minutes, tm.tm_min) && bit(s->hours, tm.tm_hour) &&
               bit(s->months, tm.tm_mon + 1);
}

static void check_fire(const struct cron_schedule *s, const struct cron_zone *z, int64_t after,
                       int64_t fire)
{
        if (fire <= after) {
                fprintf(stderr, "fire time %" PRId64 " is not after %" PRId64 "\n", fire, after);
                abort();
        }
        if (s->interval_ms > 0 || (z && z->tz && !s->hours_any))
                return;
        if (fire % 1000 != 0 || !clock_matches(s, z, fire / 1000)) {
                fprintf(stderr, "fire time %" PRId64 " does not match\n", fire);
                abort();
        }
        /* Whole minutes of UTC are whole minutes of these zones' clocks. */
        int64_t first = after / 1000 + 1;
        first += (60 - first % 60) % 60;
        for (int64_t t = fire / 1000 - 60, k = 0; t >= first && k < FUZZ_LOOKBACK_MINUTES;
             t -= 60, k++)
                if (clock_matches(s, z, t)) {
                        fprintf(stderr, "fire time %" PRId64 " skips %" PRId64 "\n", fire,
                                t * 1000);
                        abort();
                }
}

static void steps(const struct cron_schedule *s, const struct cron_zone *z, int64_t anchor,
                  int64_t after)
{
        for (int i = 0; i < FUZZ_STEPS; i++) {
                int64_t fire = INT64_MIN;
                int r = cron_next(s, z, anchor, after, &fire);

                if (r == -ENOENT && fire == INT64_MIN)
                        return;
                if (r != 0)
                        abort();
                check_fire(s, z, after, fire);
                after = fire;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* Transitions of the three zones in 2026 and a second before each. */
        static const int64_t starts[] = {
            1774746000000, /* 2026-03-29T01:00:00Z Berlin +1 -> +2 */
            1792890000000, /* 2026-10-25T01:00:00Z Berlin +2 -> +1 */
            1772953200000, /* 2026-03-08T07:00:00Z New York -5 -> -4 */
            1793512800000, /* 2026-11-01T06:00:00Z New York -4 -> -5 */
            1775314800000, /* 2026-04-04T15:00:00Z Lord Howe +11 -> +10:30 */
            1791041400000, /* 2026-10-03T15:30:00Z Lord Howe +10:30 -> +11 */
        };
        char expr[2 * CRON_EXPR_MAX + 1], msg[256] = "";
        struct cron_schedule *s = (struct cron_schedule *)&s; /* a sentinel */
        uint64_t hash = 14695981039346656037ULL;

        if (size >= sizeof(expr))
                return 0;
        memcpy(expr, data, size);
        expr[size] = '\0';
        for (size_t i = 0; i < size; i++)
                hash = (hash ^ data[i]) * 1099511628211ULL;

        int r = cron_schedule_parse(expr, &s, msg, sizeof(msg));
        if (r < 0) {
                if ((r != -EINVAL && r != -E2BIG) || !msg[0] || s != (struct cron_schedule *)&s) {
                        fprintf(stderr, "parse: %d \"%s\"\n", r, msg);
                        abort();
                }
                return 0;
        }

        size_t zi = hash % ARRAY_SIZE(zone_names);
        const struct cron_zone *z = zone_get(zi);
        /* Some instant from 1900 to about 2110, at any millisecond. */
        int64_t chosen = (int64_t)(hash >> 8 & ((UINT64_C(1) << 41) - 1)) * 3 - 2208988800000LL;
        int64_t start = starts[2 * zi + (hash >> 4 & 1)] - (hash >> 5 & 1) * 1000;

        steps(s, NULL, chosen, chosen);
        steps(s, z, chosen, chosen);
        steps(s, NULL, start, start);
        steps(s, z, start - 1, start);
        cron_schedule_free(s);
        return 0;
}
