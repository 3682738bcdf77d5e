/* cron: the schedule parser (five-field expressions, macros, @every). */
#include <ctype.h>
#include <strings.h>

#include "cron-internal.h"

#define CRON_FIELDS       5
#define CRON_ITEMS_MAX    64 /* comma-separated items in one field */
#define CRON_NUMBER_MAX   4  /* digits of one value: more is out of range anyway */
#define CRON_INTERVAL_MAX (366LL * 86400 * 1000) /* the longest "@every" */

struct field_info {
        const char *name;
        int min, max;
        const char *const *names; /* names[i] is value i + names_base; NULL: numbers only */
        int names_base;
        size_t nnames;
        bool question; /* ? allowed */
        int range_max; /* where * and "a/n" end: max, except 6 for day-of-week */
};

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const weekday_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

static const struct field_info fields[CRON_FIELDS] = {
    {"minute", 0, 59, NULL, 0, 0, false, 59},
    {"hour", 0, 23, NULL, 0, 0, false, 23},
    {"day-of-month", 1, 31, NULL, 0, 0, true, 31},
    {"month", 1, 12, month_names, 1, ARRAY_SIZE(month_names), false, 12},
    {"day-of-week", 0, 7, weekday_names, 0, ARRAY_SIZE(weekday_names), true, 6},
};

static const struct {
        const char *name;
        const char *expr;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* A piece of the expression: not NUL-terminated. */
struct token {
        const char *p;
        size_t len;
};

static bool is_blank(char c)
{
        return c == ' ' || c == '\t';
}

static int fail(char *msg, size_t msg_size, int r, const char *fmt, ...) _printf_(4, 5);
static int fail(char *msg, size_t msg_size, int r, const char *fmt, ...)
{
        va_list ap;

        if (msg && msg_size > 0) {
                va_start(ap, fmt);
                vsnprintf(msg, msg_size, fmt, ap);
                va_end(ap);
        }
        return r;
}

/* Errors of field f start with "field N (name): ". */
static int fail_field(char *msg, size_t msg_size, int f, const char *fmt, ...) _printf_(4, 5);
static int fail_field(char *msg, size_t msg_size, int f, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (!msg || msg_size == 0)
                return -EINVAL;
        n = snprintf(msg, msg_size, "field %d (%s): ", f + 1, fields[f].name);
        if (n < 0 || (size_t)n >= msg_size)
                return -EINVAL;
        va_start(ap, fmt);
        vsnprintf(msg + n, msg_size - (size_t)n, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

static bool token_eq_nocase(struct token t, const char *s)
{
        return strlen(s) == t.len && strncasecmp(t.p, s, t.len) == 0;
}

/* Reads one value: a number or, where the field has them, a name. */
static int parse_value(int f, struct token t, int *ret, char *msg, size_t msg_size)
{
        const struct field_info *fi = &fields[f];
        int v = 0;

        if (t.len == 0)
                return fail_field(msg, msg_size, f, "missing value");
        if (isdigit((unsigned char)t.p[0])) {
                for (size_t i = 0; i < t.len; i++)
                        if (!isdigit((unsigned char)t.p[i]))
                                return fail_field(msg, msg_size, f, "\"%.*s\" is not a number",
                                                  (int)t.len, t.p);
                /* Leading zeros are fine; many digits are simply out of range. */
                size_t i = 0;
                while (i + 1 < t.len && t.p[i] == '0')
                        i++;
                if (t.len - i > CRON_NUMBER_MAX)
                        return fail_field(msg, msg_size, f, "%.*s is out of range %d-%d",
                                          (int)t.len, t.p, fi->min, fi->max);
                for (; i < t.len; i++)
                        v = v * 10 + (t.p[i] - '0');
                if (v < fi->min || v > fi->max)
                        return fail_field(msg, msg_size, f, "%.*s is out of range %d-%d",
                                          (int)t.len, t.p, fi->min, fi->max);
                *ret = v;
                return 0;
        }
        if (!fi->names)
                return fail_field(msg, msg_size, f, "\"%.*s\" is not a number", (int)t.len, t.p);
        for (size_t i = 0; i < fi->nnames; i++)
                if (token_eq_nocase(t, fi->names[i])) {
                        *ret = fi->names_base + (int)i;
                        return 0;
                }
        return fail_field(msg, msg_size, f, "unknown name \"%.*s\"", (int)t.len, t.p);
}

/* Reads a step: 1 to the field's maximum. */
static int parse_step(int f, struct token item, struct token t, int *ret, char *msg,
                      size_t msg_size)
{
        const struct field_info *fi = &fields[f];
        int v = 0;

        if (t.len == 0)
                return fail_field(msg, msg_size, f, "missing step after \"/\" in \"%.*s\"",
                                  (int)item.len, item.p);
        for (size_t i = 0; i < t.len; i++)
                if (!isdigit((unsigned char)t.p[i]))
                        return fail_field(msg, msg_size, f, "step \"%.*s\" is not a number",
                                          (int)t.len, t.p);
        size_t i = 0;
        while (i + 1 < t.len && t.p[i] == '0')
                i++;
        if (t.len - i > CRON_NUMBER_MAX)
                v = fi->max + 1;
        else
                for (; i < t.len; i++)
                        v = v * 10 + (t.p[i] - '0');
        if (v < 1 || v > fi->max)
                return fail_field(msg, msg_size, f, "step %.*s is out of range 1-%d", (int)t.len,
                                  t.p, fi->max);
        *ret = v;
        return 0;
}

static struct token token_until(struct token t, char c, struct token *ret_rest, bool *ret_found)
{
        const char *hit = memchr(t.p, c, t.len);

        if (!hit) {
                *ret_rest = (struct token){t.p + t.len, 0};
                *ret_found = false;
                return t;
        }
        *ret_rest = (struct token){hit + 1, t.len - (size_t)(hit - t.p) - 1};
        *ret_found = true;
        return (struct token){t.p, (size_t)(hit - t.p)};
}

/* One list item: "*", "a", "a-b", each optionally with "/n". Sets its bits
 * in *mask (bit v for value v; day-of-week 7 is 0). */
static int parse_item(int f, struct token item, uint64_t *mask, char *msg, size_t msg_size)
{
        const struct field_info *fi = &fields[f];
        struct token step_tok, end_tok;
        bool has_step, has_end;
        struct token base = token_until(item, '/', &step_tok, &has_step);
        struct token start_tok = token_until(base, '-', &end_tok, &has_end);
        int start, end, step = 1, r;

        if (base.len > 0 && base.p[0] == '?')
                return fail_field(msg, msg_size, f, "? must be the whole field");
        if (token_eq_nocase(base, "*")) {
                start = fi->min;
                end = fi->range_max;
        } else if (base.len > 0 && base.p[0] == '*') {
                return fail_field(msg, msg_size, f, "invalid item \"%.*s\"", (int)item.len, item.p);
        } else {
                if (has_end && (start_tok.len == 0 || end_tok.len == 0))
                        return fail_field(msg, msg_size, f, "incomplete range \"%.*s\"",
                                          (int)base.len, base.p);
                if (has_end && memchr(end_tok.p, '-', end_tok.len))
                        return fail_field(msg, msg_size, f, "invalid range \"%.*s\"", (int)base.len,
                                          base.p);
                r = parse_value(f, start_tok, &start, msg, msg_size);
                if (r < 0)
                        return r;
                end = start;
                if (has_end) {
                        r = parse_value(f, end_tok, &end, msg, msg_size);
                        if (r < 0)
                                return r;
                        if (end < start)
                                return fail_field(msg, msg_size, f,
                                                  "range %.*s is reversed (write %.*s-%d,%d-%.*s "
                                                  "for a range that wraps around)",
                                                  (int)base.len, base.p, (int)start_tok.len,
                                                  start_tok.p, fi->range_max, fi->min,
                                                  (int)end_tok.len, end_tok.p);
                } else if (has_step) {
                        end = fi->range_max > start ? fi->range_max : start;
                }
        }
        if (has_step) {
                r = parse_step(f, item, step_tok, &step, msg, msg_size);
                if (r < 0)
                        return r;
        }
        for (int v = start; v <= end; v += step)
                *mask |= UINT64_C(1) << (f == 4 && v == 7 ? 0 : v);
        return 0;
}

/* One field: a comma-separated list of items, or ? in the day fields. */
static int parse_field(int f, struct token t, uint64_t *ret_mask, bool *ret_any, char *msg,
                       size_t msg_size)
{
        uint64_t mask = 0;
        size_t nitems = 0;
        int r;

        if (token_eq_nocase(t, "*") || token_eq_nocase(t, "?")) {
                if (t.p[0] == '?' && !fields[f].question)
                        return fail_field(msg, msg_size, f,
                                          "? is allowed only in the day-of-month and day-of-week "
                                          "fields");
                r = parse_item(f, (struct token){"*", 1}, &mask, msg, msg_size);
                if (r < 0)
                        return r;
                *ret_mask = mask;
                *ret_any = true;
                return 0;
        }
        struct token rest = t;
        for (;;) {
                bool more;
                struct token item = token_until(rest, ',', &rest, &more);

                if (++nitems > CRON_ITEMS_MAX)
                        return fail_field(msg, msg_size, f, "more than %d items in the list",
                                          CRON_ITEMS_MAX);
                if (item.len == 0)
                        return fail_field(msg, msg_size, f, "empty item in the list \"%.*s\"",
                                          (int)t.len, t.p);
                r = parse_item(f, item, &mask, msg, msg_size);
                if (r < 0)
                        return r;
                if (!more)
                        break;
        }
        *ret_mask = mask;
        *ret_any = false;
        return 0;
}

/* Splits s[0..len) at blanks into at most max tokens; returns how many
 * there are in all (possibly more than max). */
static size_t split_fields(const char *s, size_t len, struct token *ret, size_t max)
{
        size_t n = 0, i = 0;

        while (i < len) {
                while (i < len && is_blank(s[i]))
                        i++;
                if (i == len)
                        break;
                size_t start = i;
                while (i < len && !is_blank(s[i]))
                        i++;
                if (n < max)
                        ret[n] = (struct token){s + start, i - start};
                n++;
        }
        return n;
}

static int parse_fields(const char *s, size_t len, struct cron_schedule *ret, char *msg,
                        size_t msg_size)
{
        struct token tok[CRON_FIELDS];
        uint64_t masks[CRON_FIELDS];
        bool any[CRON_FIELDS];
        size_t n = split_fields(s, len, tok, CRON_FIELDS);
        int r;

        if (n != CRON_FIELDS)
                return fail(msg, msg_size, -EINVAL, "expected %d fields, found %zu", CRON_FIELDS,
                            n);
        for (int f = 0; f < CRON_FIELDS; f++) {
                r = parse_field(f, tok[f], &masks[f], &any[f], msg, msg_size);
                if (r < 0)
                        return r;
        }
        *ret = (struct cron_schedule){
            .minutes = masks[0],
            .hours = (uint32_t)masks[1],
            .days = (uint32_t)masks[2],
            .months = (uint16_t)masks[3],
            .weekdays = (uint8_t)masks[4],
            .hours_any = any[1],
            .days_any = any[2],
            .weekdays_any = any[4],
        };
        return 0;
}

static int parse_every(const char *s, size_t len, struct cron_schedule *ret, char *msg,
                       size_t msg_size)
{
        struct token tok[2];
        char text[CRON_EXPR_MAX + 1];
        int64_t ms;
        size_t n = split_fields(s, len, tok, 2);
        int r;

        if (n == 0)
                return fail(msg, msg_size, -EINVAL, "@every: missing duration (e.g. @every 90s)");
        if (n > 1)
                return fail(msg, msg_size, -EINVAL,
                            "@every: unexpected \"%.*s\" after the duration", (int)tok[1].len,
                            tok[1].p);
        /* tok[0] is part of an expression of at most CRON_EXPR_MAX characters. */
        memcpy(text, tok[0].p, tok[0].len);
        text[tok[0].len] = '\0';
        r = duration_parse(text, &ms);
        if (r == -ERANGE || (r == 0 && ms > CRON_INTERVAL_MAX))
                return fail(msg, msg_size, -EINVAL, "@every: %s is longer than 366d", text);
        if (r < 0)
                return fail(msg, msg_size, -EINVAL,
                            "@every: invalid duration \"%s\" (want e.g. 90s, 15m, 1h30m, 1d)",
                            text);
        if (ms < 1000)
                return fail(msg, msg_size, -EINVAL, "@every: %s is shorter than 1s", text);
        if (ms % 1000 != 0)
                return fail(msg, msg_size, -EINVAL, "@every: %s is not a whole number of seconds",
                            text);
        *ret = (struct cron_schedule){.interval_ms = ms};
        return 0;
}

static int parse_macro(const char *s, size_t len, struct cron_schedule *ret, char *msg,
                       size_t msg_size)
{
        size_t word = 0;

        while (word < len && !is_blank(s[word]))
                word++;
        struct token name = {s, word};

        if (token_eq_nocase(name, "@every"))
                return parse_every(s + word, len - word, ret, msg, msg_size);
        for (size_t i = 0; i < ARRAY_SIZE(macros); i++) {
                if (!token_eq_nocase(name, macros[i].name))
                        continue;
                if (word < len)
                        return fail(msg, msg_size, -EINVAL, "%s takes no arguments",
                                    macros[i].name);
                return parse_fields(macros[i].expr, strlen(macros[i].expr), ret, msg, msg_size);
        }
        return fail(msg, msg_size, -EINVAL, "unknown macro \"%.*s\"", (int)name.len, name.p);
}

int cron_schedule_parse(const char *expr, struct cron_schedule **ret, char *msg, size_t msg_size)
{
        struct cron_schedule s;
        size_t len;
        int r;

        if (!expr)
                return fail(msg, msg_size, -EINVAL, "empty schedule");
        len = strnlen(expr, CRON_EXPR_MAX + 1);
        if (len > CRON_EXPR_MAX)
                return fail(msg, msg_size, -E2BIG, "schedule is longer than %d characters",
                            CRON_EXPR_MAX);
        /* A YAML block scalar brings a final newline: any white space may surround it. */
        while (len > 0 && isspace((unsigned char)*expr)) {
                expr++;
                len--;
        }
        while (len > 0 && isspace((unsigned char)expr[len - 1]))
                len--;
        if (len == 0)
                return fail(msg, msg_size, -EINVAL, "empty schedule");

        r = expr[0] == '@' ? parse_macro(expr, len, &s, msg, msg_size)
                           : parse_fields(expr, len, &s, msg, msg_size);
        if (r < 0)
                return r;

        struct cron_schedule *copy = malloc(sizeof(*copy));
        if (!copy)
                return fail(msg, msg_size, -ENOMEM, "out of memory");
        *copy = s;
        *ret = copy;
        return 0;
}

void cron_schedule_free(struct cron_schedule *s)
{
        free(s);
}

int64_t cron_schedule_interval_ms(const struct cron_schedule *s)
{
        return s ? s->interval_ms : 0;
}
