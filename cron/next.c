/* cron: the next fire time of a schedule in a zone.
 *
 * Times are seconds. A "wall" time is what a clock in the zone shows,
 * counted like a UTC time (seconds since 1970-01-01T00:00 on that clock).
 * The search walks wall times field by field (a month that cannot match is
 * skipped whole, a day, an hour), so a schedule that fires once in four
 * years costs a few steps per year, not one per minute. The zone's offsets
 * come from GTimeZone: interval_at() is the interval an instant falls in
 * (intervals are numbered in time order), which is what every conversion
 * below is built on.
 */
#include "cron-internal.h"

#define SECONDS_PER_DAY 86400
/* Wider than any UTC offset, past or present (they stay within ±15 h). */
#define OFFSET_SPAN (26 * 3600)
/* Intervals that one wall time can be near: real zones have at most a few
 * transitions within two days. */
#define NEAR_INTERVALS_MAX 16
/* Rounds of the real-time search: each one crosses a transition, of which
 * a zone has about two a year. */
#define REAL_TIME_ROUNDS_MAX (CRON_SEARCH_YEARS * 8 + 64)
/* Wall times a fixed-time search may pass over because they fell before
 * the start (in an overlap the start is in the second occurrence): an
 * overlap of up to 45 days at one match a minute. */
#define WALL_ROUNDS_MAX (45 * 1440)

struct wall {
        int64_t year;
        int month, day, hour, minute;
};

static const int days_before_month[13] = {0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};

static int64_t floor_div(int64_t a, int64_t b)
{
        int64_t q = a / b;

        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool is_leap(int64_t y)
{
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
        static const int days[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

        return m == 2 && is_leap(y) ? 29 : days[m];
}

/* Days from 1970-01-01 to January 1 of year y, proleptic Gregorian. */
static int64_t days_before_year(int64_t y)
{
        int64_t p = y - 1;
        int64_t leaps = floor_div(p, 4) - floor_div(p, 100) + floor_div(p, 400);

        /* 477 leap years come before 1970. */
        return 365 * (y - 1970) + leaps - 477;
}

static int64_t days_from_date(int64_t y, int m, int d)
{
        return days_before_year(y) + days_before_month[m] + (m > 2 && is_leap(y)) + d - 1;
}

static int weekday(int64_t days)
{
        /* 1970-01-01 was a Thursday. */
        return (int)(days + 4 - floor_div(days + 4, 7) * 7);
}

static void wall_split(int64_t wall, struct wall *ret)
{
        int64_t days = floor_div(wall, SECONDS_PER_DAY);
        int64_t secs = wall - days * SECONDS_PER_DAY;
        int64_t y = 1970 + floor_div(days * 400, 146097); /* off by at most one */

        while (days_before_year(y) > days)
                y--;
        while (days_before_year(y + 1) <= days)
                y++;
        int doy = (int)(days - days_before_year(y));
        int m = 1;
        while (m < 12 && doy >= days_before_month[m + 1] + (m + 1 > 2 && is_leap(y)))
                m++;
        *ret = (struct wall){
            .year = y,
            .month = m,
            .day = doy - days_before_month[m] - (m > 2 && is_leap(y)) + 1,
            .hour = (int)(secs / 3600),
            .minute = (int)(secs / 60 % 60),
        };
}

static int64_t wall_join(const struct wall *w)
{
        return days_from_date(w->year, w->month, w->day) * SECONDS_PER_DAY + w->hour * 3600 +
               w->minute * 60;
}

/* The smallest bit of mask at from or above, or -1. */
static int next_bit(uint64_t mask, int from)
{
        if (from >= 64)
                return -1;
        mask &= ~UINT64_C(0) << from;
        return mask ? __builtin_ctzll(mask) : -1;
}

static bool bit(uint64_t mask, int b)
{
        return (mask >> b) & 1;
}

/* Vixie cron: when both day fields are restricted, either one may match. */
static bool day_matches(const struct cron_schedule *s, const struct wall *w)
{
        bool dom = bit(s->days, w->day);
        bool dow = bit(s->weekdays, weekday(days_from_date(w->year, w->month, w->day)));

        if (s->days_any)
                return dow;
        if (s->weekdays_any)
                return dom;
        return dom || dow;
}

static void next_month(struct wall *w)
{
        if (++w->month > 12) {
                w->month = 1;
                w->year++;
        }
        w->day = 1;
        w->hour = w->minute = 0;
}

/* The first wall time at or after from (a whole minute) that the fields
 * match, in a year up to last_year; -ENOENT when there is none. */
static int next_match(const struct cron_schedule *s, int64_t from, int64_t last_year,
                      int64_t *ret_wall)
{
        struct wall w;

        wall_split(from, &w);
        for (;;) {
                if (w.year > last_year)
                        return -ENOENT;
                if (!bit(s->months, w.month)) {
                        int m = next_bit(s->months, w.month + 1);
                        if (m < 0) {
                                w.year++;
                                m = next_bit(s->months, 1);
                        }
                        w = (struct wall){w.year, m, 1, 0, 0};
                        continue;
                }
                int dim = days_in_month(w.year, w.month);
                if (w.day > dim) {
                        next_month(&w);
                        continue;
                }
                if (!day_matches(s, &w)) {
                        /* Only the day of the month decides: jump to its next value. */
                        int d = s->weekdays_any ? next_bit(s->days, w.day + 1) : w.day + 1;
                        if (d < 0 || d > dim) {
                                next_month(&w);
                                continue;
                        }
                        w.day = d;
                        w.hour = w.minute = 0;
                        continue;
                }
                if (!bit(s->hours, w.hour)) {
                        int h = next_bit(s->hours, w.hour + 1);
                        if (h < 0) {
                                w.day++;
                                w.hour = w.minute = 0;
                                continue;
                        }
                        w.hour = h;
                        w.minute = 0;
                }
                if (!bit(s->minutes, w.minute)) {
                        int m = next_bit(s->minutes, w.minute + 1);
                        if (m < 0) {
                                w.minute = 0;
                                if (++w.hour > 23) {
                                        w.hour = 0;
                                        w.day++;
                                }
                                continue;
                        }
                        w.minute = m;
                }
                *ret_wall = wall_join(&w);
                return 0;
        }
}

/* ---- the zone ----------------------------------------------------------- */

static int interval_at(GTimeZone *tz, int64_t t)
{
        return tz ? g_time_zone_find_interval(tz, G_TIME_TYPE_UNIVERSAL, t) : 0;
}

static int64_t offset_of(GTimeZone *tz, int interval)
{
        return tz ? g_time_zone_get_offset(tz, interval) : 0;
}

static int64_t wall_at(GTimeZone *tz, int64_t t)
{
        return t + offset_of(tz, interval_at(tz, t));
}

/* The first instant in (lo, hi] that lies past interval i, given that lo
 * does not and hi does: where interval i + 1 starts. */
static int64_t interval_end(GTimeZone *tz, int i, int64_t lo, int64_t hi)
{
        while (hi - lo > 1) {
                int64_t mid = lo + (hi - lo) / 2;

                if (interval_at(tz, mid) > i)
                        hi = mid;
                else
                        lo = mid;
        }
        return hi;
}

/* The instant a wall time names when it is taken once: its first
 * occurrence, or, when the clock skips it, the end of the gap. Never
 * decreases as the wall time grows. */
static int64_t wall_instant(GTimeZone *tz, int64_t wall)
{
        if (!tz)
                return wall;
        int lo = interval_at(tz, wall - OFFSET_SPAN);
        int hi = interval_at(tz, wall + OFFSET_SPAN);

        if (hi - lo > NEAR_INTERVALS_MAX)
                hi = lo + NEAR_INTERVALS_MAX;
        /* Interval i's solution precedes any later interval's: the first one
         * found is the first occurrence. */
        for (int i = lo; i <= hi; i++) {
                int64_t t = wall - offset_of(tz, i);
                if (interval_at(tz, t) == i)
                        return t;
        }
        /* A gap: interval i ends before the wall time and i + 1 starts after. */
        for (int i = lo; i < hi; i++) {
                int64_t a = wall - offset_of(tz, i + 1), b = wall - offset_of(tz, i);
                if (a < b && interval_at(tz, a) <= i && interval_at(tz, b) > i)
                        return interval_end(tz, i, a, b);
        }
        return wall - offset_of(tz, interval_at(tz, wall)); /* no real zone gets here */
}

/* ---- the two policies ----------------------------------------------------- */

/* Hour *: every instant from t on whose wall time matches. Within one
 * interval wall and instant differ by a constant, so the first match there
 * is the first matching wall time; when that lies past the interval, the
 * search goes on from the next one. */
static int next_real_time(const struct cron_schedule *s, GTimeZone *tz, int64_t t,
                          int64_t last_year, int64_t *ret)
{
        for (int round = 0; round < REAL_TIME_ROUNDS_MAX; round++) {
                int i = interval_at(tz, t);
                int64_t off = offset_of(tz, i), wall;
                int r = next_match(s, floor_div(t + off + 59, 60) * 60, last_year, &wall);

                if (r < 0)
                        return r;
                int64_t fire = wall - off;
                if (interval_at(tz, fire) == i) {
                        *ret = fire;
                        return 0;
                }
                t = interval_end(tz, i, t, fire);
        }
        return -ENOENT;
}

/* Any other schedule: each matching wall time once, at wall_instant(). That
 * never decreases, so the answer is the first matching wall time whose
 * instant is t or later. A wall time not after the clock one second before t
 * has its instant before t; the search starts right after it. */
static int next_wall_time(const struct cron_schedule *s, GTimeZone *tz, int64_t t,
                          int64_t last_year, int64_t *ret)
{
        int64_t wall = floor_div(wall_at(tz, t - 1), 60) * 60 + 60;

        for (int round = 0; round < WALL_ROUNDS_MAX; round++) {
                int r = next_match(s, wall, last_year, &wall);

                if (r < 0)
                        return r;
                int64_t fire = wall_instant(tz, wall);
                if (fire >= t) {
                        *ret = fire;
                        return 0;
                }
                wall += 60;
        }
        return -ENOENT;
}

static int next_every(int64_t interval, int64_t anchor, int64_t after, int64_t *ret)
{
        int64_t k = 1, diff, fire;

        if (after >= anchor) {
                if (__builtin_sub_overflow(after, anchor, &diff))
                        return -ENOENT;
                k = diff / interval + 1;
        }
        if (__builtin_mul_overflow(k, interval, &fire) ||
            __builtin_add_overflow(anchor, fire, &fire) || fire > CRON_TIME_MAX_S * 1000 + 999)
                return -ENOENT;
        *ret = fire;
        return 0;
}

int cron_next(const struct cron_schedule *s, const struct cron_zone *z, int64_t anchor_ms,
              int64_t after_ms, int64_t *ret_ms)
{
        GTimeZone *tz = z ? z->tz : NULL;
        int64_t t, fire = 0, last_year;
        struct wall w;
        int r;

        if (!s)
                return -EINVAL;
        if (s->interval_ms > 0)
                return next_every(s->interval_ms, anchor_ms, after_ms, ret_ms);

        /* Fire times are whole seconds (whole minutes on the zone's clock). */
        if (after_ms >= CRON_TIME_MAX_S * 1000)
                return -ENOENT;
        t = after_ms < CRON_TIME_MIN_S * 1000 ? CRON_TIME_MIN_S : floor_div(after_ms, 1000) + 1;
        wall_split(wall_at(tz, t), &w);
        last_year = w.year + CRON_SEARCH_YEARS;
        if (last_year > 9999)
                last_year = 9999;

        r = s->hours_any ? next_real_time(s, tz, t, last_year, &fire)
                         : next_wall_time(s, tz, t, last_year, &fire);
        if (r < 0)
                return r;
        if (fire > CRON_TIME_MAX_S)
                return -ENOENT;
        *ret_ms = fire * 1000;
        return 0;
}
