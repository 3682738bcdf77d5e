/* cron internals: what the parser (parse.c), the zones (zone.c) and the
 * search for the next fire time (next.c) share. */
#pragma once

#include <glib.h>

#include "cron.h"

/* One parsed schedule: a bit per allowed value of each field, or an
 * interval. Everything fits in the struct, so parsing allocates only it. */
struct cron_schedule {
        int64_t interval_ms; /* "@every": > 0, whole seconds; 0 for an expression */
        uint64_t minutes;    /* bit m for minute m, 0-59 */
        uint32_t hours;      /* bit h, 0-23 */
        uint32_t days;       /* bit d, 1-31 */
        uint16_t months;     /* bit m, 1-12 */
        uint8_t weekdays;    /* bit w, 0 (Sunday) - 6; 7 is stored as 0 */
        bool days_any;       /* the day-of-month field is * or ? */
        bool weekdays_any;   /* the day-of-week field is * or ? */
        bool hours_any;      /* the hour field is *: the schedule runs on real time */
};

/* A zone: tz is NULL for UTC, so that UTC needs neither GLib nor the
 * database. */
struct cron_zone {
        GTimeZone *tz; /* owned reference */
};

/* The instants cron_next() handles, in seconds: 0001-01-01T00:00:00Z to
 * 9999-12-31T23:59:59Z, what RFC 3339 timestamps can show. */
#define CRON_TIME_MIN_S (-62135596800LL)
#define CRON_TIME_MAX_S 253402300799LL
