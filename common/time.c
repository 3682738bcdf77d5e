/* common: clocks, RFC 3339 timestamps, durations and ages. */
#include "common.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <time.h>

int64_t time_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t time_mono_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void time_mono_deadline(struct timespec *ret, int64_t ms)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        if (ms < 0)
                ms = 0;
        int64_t ns = ts.tv_nsec + ms % 1000 * 1000000;
        ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        *ret = ts;
}

int cond_init_monotonic(pthread_cond_t *cond)
{
        pthread_condattr_t attr;
        int r = pthread_condattr_init(&attr);

        if (r != 0)
                return -r;
        r = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        if (r == 0)
                r = pthread_cond_init(cond, &attr);
        pthread_condattr_destroy(&attr);
        return -r;
}

void sleep_ms(int64_t ms)
{
        struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

void time_format_rfc3339_ms(int64_t unix_ms, char out[RFC3339_MAX])
{
        int ms = (int)(((unix_ms % 1000) + 1000) % 1000);
        size_t n;

        time_format_rfc3339(unix_ms, out);
        n = strlen(out); /* "...:ssZ": the 'Z' becomes ".mmmZ" */
        if (n == 0 || n + 4 >= RFC3339_MAX)
                return;
        out[n - 1] = '.';
        out[n] = (char)('0' + ms / 100);
        out[n + 1] = (char)('0' + ms / 10 % 10);
        out[n + 2] = (char)('0' + ms % 10);
        out[n + 3] = 'Z';
        out[n + 4] = '\0';
}

void time_format_rfc3339(int64_t unix_ms, char out[RFC3339_MAX])
{
        time_t secs = (time_t)(unix_ms / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        snprintf(out, RFC3339_MAX, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Reads exactly n digits. */
static int read_digits(const char **p, int n, int *ret)
{
        int v = 0;
        for (int i = 0; i < n; i++) {
                if (!isdigit((unsigned char)(*p)[i]))
                        return -EINVAL;
                v = v * 10 + ((*p)[i] - '0');
        }
        *p += n;
        *ret = v;
        return 0;
}

static int expect(const char **p, char c)
{
        if (**p != c)
                return -EINVAL;
        (*p)++;
        return 0;
}

int time_parse_rfc3339(const char *s, int64_t *ret_unix_ms)
{
        if (!s)
                return -EINVAL;
        const char *p = s;
        int year, mon, day, hour, min, sec;
        if (read_digits(&p, 4, &year) < 0 || expect(&p, '-') < 0 || read_digits(&p, 2, &mon) < 0 ||
            expect(&p, '-') < 0 || read_digits(&p, 2, &day) < 0)
                return -EINVAL;
        if (*p != 'T' && *p != 't' && *p != ' ')
                return -EINVAL;
        p++;
        if (read_digits(&p, 2, &hour) < 0 || expect(&p, ':') < 0 || read_digits(&p, 2, &min) < 0 ||
            expect(&p, ':') < 0 || read_digits(&p, 2, &sec) < 0)
                return -EINVAL;
        if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
                return -EINVAL;

        int ms = 0;
        if (*p == '.') {
                p++;
                int digits = 0;
                while (isdigit((unsigned char)*p)) {
                        if (digits < 3)
                                ms = ms * 10 + (*p - '0');
                        digits++;
                        p++;
                }
                if (digits == 0)
                        return -EINVAL;
                for (int i = digits; i < 3; i++)
                        ms *= 10;
        }

        int offset_min = 0;
        if (*p == 'Z' || *p == 'z') {
                p++;
        } else if (*p == '+' || *p == '-') {
                int sign = *p == '-' ? -1 : 1, oh, om;
                p++;
                if (read_digits(&p, 2, &oh) < 0 || expect(&p, ':') < 0 ||
                    read_digits(&p, 2, &om) < 0)
                        return -EINVAL;
                offset_min = sign * (oh * 60 + om);
        } else {
                return -EINVAL;
        }
        if (*p)
                return -EINVAL;

        /* Docker reports "never" as the zero time of Go. */
        if (year == 1 && mon == 1 && day == 1 && hour == 0 && min == 0 && sec == 0) {
                *ret_unix_ms = 0;
                return 0;
        }

        struct tm tm = {
            .tm_year = year - 1900,
            .tm_mon = mon - 1,
            .tm_mday = day,
            .tm_hour = hour,
            .tm_min = min,
            .tm_sec = sec,
        };
        time_t t = timegm(&tm);
        *ret_unix_ms = ((int64_t)t - (int64_t)offset_min * 60) * 1000 + ms;
        return 0;
}

int duration_parse(const char *s, int64_t *ret_ms)
{
        if (!s || !*s)
                return -EINVAL;
        if (streq(s, "0")) {
                *ret_ms = 0;
                return 0;
        }
        const char *p = s;
        double total = 0;
        while (*p) {
                char *end;
                if (!isdigit((unsigned char)*p) && *p != '.')
                        return -EINVAL;
                double v = strtod(p, &end);
                if (end == p)
                        return -EINVAL;
                p = end;
                double unit;
                if (strncmp(p, "ms", 2) == 0) {
                        unit = 1;
                        p += 2;
                } else if (*p == 's') {
                        unit = 1000;
                        p++;
                } else if (*p == 'm') {
                        unit = 60 * 1000;
                        p++;
                } else if (*p == 'h') {
                        unit = 3600 * 1000;
                        p++;
                } else if (*p == 'd') {
                        unit = 86400 * 1000;
                        p++;
                } else {
                        return -EINVAL; /* a unit is required */
                }
                total += v * unit;
                if (total > 9.2e15)
                        return -ERANGE;
        }
        *ret_ms = (int64_t)llround(total);
        return 0;
}

void duration_format(int64_t ms, char *out, size_t size)
{
        if (ms <= 0) {
                snprintf(out, size, "0s");
                return;
        }
        if (ms < 1000) {
                snprintf(out, size, "%" PRId64 "ms", ms);
                return;
        }
        int64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, rest = ms % 1000;
        size_t n = 0;
        out[0] = '\0';
        if (h)
                n += (size_t)snprintf(out + n, n < size ? size - n : 0, "%" PRId64 "h", h);
        if (m && n < size)
                n += (size_t)snprintf(out + n, size - n, "%" PRId64 "m", m);
        if ((s || rest) && n < size) {
                if (rest)
                        snprintf(out + n, size - n, "%" PRId64 ".%03" PRId64 "s", s, rest);
                else
                        snprintf(out + n, size - n, "%" PRId64 "s", s);
        }
}

void age_format(int64_t ms, char *out, size_t size)
{
        int64_t s = ms < 0 ? 0 : ms / 1000;
        if (s < 120)
                snprintf(out, size, "%" PRId64 "s", s);
        else if (s < 3600 * 2)
                snprintf(out, size, "%" PRId64 "m", s / 60);
        else if (s < 86400 * 2)
                snprintf(out, size, "%" PRId64 "h", s / 3600);
        else if (s < 86400 * 365)
                snprintf(out, size, "%" PRId64 "d", s / 86400);
        else
                snprintf(out, size, "%" PRId64 "y", s / (86400 * 365));
}
