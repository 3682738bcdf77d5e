/* cron: when recurring work fires — cron expressions and @every intervals,
 * evaluated in an IANA time zone (docs/reference/schedules.md).
 *
 * Pure apart from reading the system time zone database through GLib's
 * GTimeZone: no TZ environment variable, no process-global state. Schedules
 * and zones are immutable once made, so any thread may use them.
 *
 * Expressions: five fields "minute hour day-of-month month day-of-week" with
 * *, lists (1,5), ranges (1-5), steps (*\/15, 1-30/5, 5/10), names (JAN-DEC,
 * SUN-SAT, case-insensitive), 7 as Sunday and ? as * in the day fields; when
 * both day fields are restricted either may match (Vixie cron). Macros
 * @yearly @annually @monthly @weekly @daily @midnight @hourly, and
 * "@every DURATION" (at least 1 s, counted from an anchor: the CronTask's
 * creation).
 *
 * Daylight saving time: a schedule whose hour field is * runs on real time —
 * a wall-clock time that does not exist (spring forward) is skipped, one that
 * occurs twice (fall back) fires at both instants. Any other schedule fires
 * once per wall-clock match: a time inside a spring-forward gap fires at the
 * first instant after the gap, a time that occurs twice fires at its first
 * occurrence. @every ignores the zone.
 */
#pragma once

#include "common.h"

#define CRON_EXPR_MAX      256 /* characters of one schedule */
#define CRON_ZONE_NAME_MAX 64  /* characters of a time zone name */
#define CRON_SEARCH_YEARS  500 /* a schedule with no fire time in this many years never fires */

struct cron_schedule;
struct cron_zone;

/* Parses a schedule (surrounding spaces allowed). On error returns -EINVAL
 * (-E2BIG over CRON_EXPR_MAX, -ENOMEM) and msg names the field and the bad
 * token: "field 2 (hour): 24 is out of range 0-23", "@every: 0s is shorter
 * than 1s". Caller frees *ret with cron_schedule_free(). */
int cron_schedule_parse(const char *expr, struct cron_schedule **ret, char *msg, size_t msg_size);
void cron_schedule_free(struct cron_schedule *s); /* NULL ok */
static inline void cron_schedule_freep(struct cron_schedule **s)
{
        cron_schedule_free(*s);
}
/* For "@every D": D in ms; 0 for any other schedule. */
int64_t cron_schedule_interval_ms(const struct cron_schedule *s);

/* A time zone by IANA name ("Europe/Berlin"); NULL or "" is UTC. The name
 * must match [A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*, at most
 * CRON_ZONE_NAME_MAX characters, and be in the system database; otherwise
 * -EINVAL and msg says which ("unknown time zone \"Mars/Olympus\""). Caller
 * frees with cron_zone_free(). */
int cron_zone_open(const char *name, struct cron_zone **ret, char *msg, size_t msg_size);
void cron_zone_free(struct cron_zone *z); /* NULL ok */
static inline void cron_zone_freep(struct cron_zone **z)
{
        cron_zone_free(*z);
}

/* The first fire time strictly after after_ms (ms since the epoch), under
 * the daylight saving rules above. Cron expressions fire on whole minutes;
 * "@every D" at anchor_ms + k * D (k >= 1; anchor_ms is ignored otherwise).
 * 0 with *ret_ms set, or -ENOENT when it does not fire within
 * CRON_SEARCH_YEARS (e.g. "0 0 30 2 *"); *ret_ms is untouched then. */
int cron_next(const struct cron_schedule *s, const struct cron_zone *z, int64_t anchor_ms,
              int64_t after_ms, int64_t *ret_ms);
