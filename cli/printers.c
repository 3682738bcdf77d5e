/* Printers: tables (columns from the kinds registry), -o name|json|yaml and
 * the text helpers describe.c shares. Pure: they read JSON objects and a
 * clock value passed in, and write to a FILE *. */
#include <assert.h>
#include <ctype.h>

#include "cli-internal.h"

#define COLOR_RED          "\033[31m"
#define COLOR_GREEN        "\033[32m"
#define COLOR_RESET        "\033[0m"
#define TABLE_GAP          3 /* spaces between columns, like kubectl */
#define CONTAINER_ID_SHORT 12

/* NAMESPACE and NAME come first; a kind's own columns are in the registry. */
static const struct printer_column namespace_column = {
    .title = "NAMESPACE", .path = "metadata.namespace", .format = COLUMN_TEXT};
static const struct printer_column name_column = {
    .title = "NAME", .path = "metadata.name", .format = COLUMN_TEXT};
/* What a kind without columns of its own shows. */
static const struct printer_column generic_columns[] = {
    {.title = "AGE", .path = "metadata.creationTimestamp", .format = COLUMN_AGE},
    {0},
};

const char *cli_phase_of(const json_t *o)
{
        const char *p = json_path_string(o, "status.phase");
        return p && *p ? p : "Pending";
}

/* kubectl-style age of the timestamp at path. */
static char *age_text(const char *created, int64_t now_ms)
{
        int64_t t;
        char age[32];

        if (!created || time_parse_rfc3339(created, &t) < 0)
                return strdup("<unknown>");
        age_format(now_ms > t ? now_ms - t : 0, age, sizeof(age));
        return strdup(age);
}

/* "in 5m" until the timestamp; "now" once it has passed; "" when unreadable. */
static char *until_text(const char *ts, int64_t now_ms)
{
        int64_t t;
        char age[32];

        if (!ts || time_parse_rfc3339(ts, &t) < 0)
                return strdup("");
        if (t <= now_ms)
                return strdup("now");
        age_format(t - now_ms, age, sizeof(age));
        return str_printf("in %s", age);
}

/* Scalars as text; NULL when absent. Caller frees. */
char *cli_scalar_text(const json_t *v)
{
        if (!v || json_is_null(v))
                return NULL;
        if (json_is_string(v))
                return strdup(json_string_value(v));
        if (json_is_integer(v))
                return str_printf("%lld", (long long)json_integer_value(v));
        if (json_is_real(v))
                return str_printf("%g", json_real_value(v));
        if (json_is_boolean(v))
                return strdup(json_is_true(v) ? "true" : "false");
        return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* The first non-blank line of s, for a cell that must stay on one line:
 * control characters (terminal escapes in container output included) become
 * spaces; "..." marks that more lines follow, or that the line was cut to fit
 * max_chars characters, "..." included (0: no limit). "" for NULL. Caller
 * frees. */
char *cli_one_line(const char *s, size_t max_chars)
{
        _cleanup_buf_ struct buf b = {0};
        const char *line = s ? s : "", *end, *p;
        size_t n, chars = 0, keep, seen = 0;
        bool more = false, cut;

        for (;;) {
                end = strchr(line, '\n');
                for (p = line; end && p < end && isspace((unsigned char)*p); p++)
                        ;
                if (!end || p < end)
                        break;
                line = end + 1;
        }
        n = end ? (size_t)(end - line) : strlen(line);
        while (n > 0 && isspace((unsigned char)line[n - 1]))
                n--;
        for (p = end; p && *p && !more; p++)
                more = !isspace((unsigned char)*p);
        for (size_t i = 0; i < n; i++)
                if (((unsigned char)line[i] & 0xC0) != 0x80)
                        chars++;
        cut = max_chars > 0 && (chars > max_chars || (more && chars + 3 > max_chars));
        keep = cut ? (max_chars > 3 ? max_chars - 3 : 0) : chars;

        buf_init(&b, n + 4);
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)line[i];
                if ((c & 0xC0) != 0x80 && seen++ == keep)
                        break;
                if (c < 0x20 || c == 0x7f) {
                        c = ' ';
                } else if (c == 0xC2 && i + 1 < n && (unsigned char)line[i + 1] >= 0x80 &&
                           (unsigned char)line[i + 1] <= 0x9F) {
                        c = ' '; /* a C1 control character, U+0080..U+009F */
                        i++;
                }
                if (buf_append(&b, &c, 1) < 0)
                        return NULL;
        }
        if ((cut || more) && buf_append_str(&b, "...") < 0)
                return NULL;
        return buf_steal(&b);
}

/* Whole seconds from start to end, or to now while end is unset: "1m5s",
 * "30h2m10s", from two days on "9d". NULL when start is unset or
 * unreadable. Caller frees. */
char *cli_elapsed_text(const char *start, const char *end, int64_t now_ms)
{
        int64_t t0, t1;
        char d[32];

        if (!start || time_parse_rfc3339(start, &t0) < 0 || t0 == 0)
                return NULL;
        if (!end || time_parse_rfc3339(end, &t1) < 0 || t1 == 0)
                t1 = now_ms;
        int64_t ms = t1 > t0 ? (t1 - t0) / 1000 * 1000 : 0;
        if (ms >= 48 * 3600 * 1000)
                age_format(ms, d, sizeof(d)); /* "9d": seconds no longer matter */
        else
                duration_format(ms, d, sizeof(d));
        return strdup(d);
}

/* status.progress-like counters ("2/3"); before berth wrote one, 0 of the
 * entries of the array at until. "" when there is nothing to count. */
static char *progress_text(const json_t *o, const struct printer_column *col)
{
        const char *s = json_path_string(o, col->path);
        const json_t *all = col->until ? json_path(o, col->until) : NULL;

        if (s && *s)
                return strdup(s);
        if (!json_is_array(all) || json_array_size(all) == 0)
                return strdup("");
        return str_printf("0/%zu", json_array_size(all));
}

/* The status of the condition of type col->condition in the array at
 * col->path; the fallback (else "") when there is none. */
static char *condition_text(const json_t *o, const struct printer_column *col)
{
        size_t i;
        json_t *c;

        json_array_foreach(json_path(o, col->path), i, c)
        {
                const char *status = json_string_value(json_object_get(c, "status"));

                if (col->condition &&
                    streq(json_string_value(json_object_get(c, "type")), col->condition) && status)
                        return strdup(status);
        }
        return strdup(col->fallback ? col->fallback : "");
}

/* "task/hello" of a reference {kind, name}: the kind as the CLI spells it
 * (kind_lookup's singular), else lower-cased; "" without a name. */
static char *object_ref_text(const json_t *ref)
{
        const char *kind = json_string_value(json_object_get(ref, "kind"));
        const char *name = json_string_value(json_object_get(ref, "name"));
        const struct kind_info *k = kind_lookup(kind);
        char lower[64];
        size_t i = 0;

        if (!name)
                return strdup("");
        for (const char *p = kind ? kind : ""; *p && i < sizeof(lower) - 1; p++)
                lower[i++] = (char)tolower((unsigned char)*p);
        lower[i] = '\0';
        return str_printf("%s/%s", k ? k->singular : lower, name);
}

char *cli_column_text(const struct printer_column *col, const json_t *o, int64_t now_ms)
{
        const json_t *v = json_path(o, col->path);
        const char *s = json_string_value(v);
        char *text;

        if ((!v || json_is_null(v)) && col->fallback)
                return strdup(col->fallback);
        switch (col->format) {
        case COLUMN_PHASE:
                return strdup(s && *s ? s : "Pending");
        case COLUMN_COUNT:
                return str_printf("%lld",
                                  json_is_integer(v) ? (long long)json_integer_value(v) : 0LL);
        case COLUMN_INTEGER:
                return json_is_integer(v) ? str_printf("%lld", (long long)json_integer_value(v))
                                          : strdup("");
        case COLUMN_AGE:
                return age_text(s, now_ms);
        case COLUMN_ELAPSED:
                text = cli_elapsed_text(s, col->until ? json_path_string(o, col->until) : NULL,
                                        now_ms);
                return text ? text : strdup("");
        case COLUMN_SHORT_ID:
                return strndup(s ? s : "", CONTAINER_ID_SHORT);
        case COLUMN_ONE_LINE:
                return cli_one_line(s, 0);
        case COLUMN_PROGRESS:
                return progress_text(o, col);
        case COLUMN_LENGTH:
                return str_printf("%zu", json_is_array(v)    ? json_array_size(v)
                                         : json_is_object(v) ? json_object_size(v)
                                                             : (size_t)0);
        case COLUMN_UNTIL:
                return until_text(s, now_ms);
        case COLUMN_RATIO:
                return str_printf("%lld/%lld", (long long)json_path_int(o, col->path, 0),
                                  (long long)(col->until ? json_path_int(o, col->until, 0) : 0));
        case COLUMN_CONDITION:
                return condition_text(o, col);
        case COLUMN_OBJECT:
                return object_ref_text(v);
        case COLUMN_TEXT:
                break;
        }
        text = cli_scalar_text(v);
        return text ? text : strdup("");
}

/* ---- tables ------------------------------------------------------------- */

int cli_table_init(struct cli_table *t, const struct cli_print_opts *opts)
{
        const struct printer_column *cols =
            opts->kind && opts->kind->columns ? opts->kind->columns : generic_columns;

        *t = (struct cli_table){.opts = *opts};
        if (opts->all_namespaces)
                t->cols[t->ncols++] = &namespace_column;
        if (!opts->kind || !opts->kind->name_wide || opts->wide)
                t->cols[t->ncols++] = &name_column;
        for (const struct printer_column *c = cols; c->title && t->ncols < CLI_TABLE_COLS_MAX; c++)
                if (!c->wide || opts->wide)
                        t->cols[t->ncols++] = c;
        if (!opts->no_headers)
                for (size_t c = 0; c < t->ncols; c++)
                        t->widths[c] = strlen(t->cols[c]->title);
        return 0;
}

static void free_rows(struct cli_table *t)
{
        for (size_t i = 0; i < t->nrows * t->ncols; i++)
                free(t->cells[i]);
        free(t->cells);
        t->cells = NULL;
        t->nrows = 0;
}

void cli_table_release(struct cli_table *t)
{
        free_rows(t);
}

int cli_table_add(struct cli_table *t, const json_t *object)
{
        char **cells = reallocarray(t->cells, (t->nrows + 1) * t->ncols, sizeof(char *));
        if (!cells)
                return -ENOMEM;
        t->cells = cells;
        char **row = cells + t->nrows * t->ncols;
        for (size_t c = 0; c < t->ncols; c++)
                row[c] = NULL;
        t->nrows++;
        for (size_t c = 0; c < t->ncols; c++) {
                row[c] = cli_column_text(t->cols[c], object, t->opts.now_ms);
                if (!row[c])
                        return -ENOMEM;
        }
        return 0;
}

static const char *phase_color(const char *phase)
{
        if (streq(phase, "Failed"))
                return COLOR_RED;
        if (streq(phase, "Succeeded"))
                return COLOR_GREEN;
        return NULL;
}

void cli_emit_row(FILE *out, const char *indent, const char *const *cells, size_t ncols,
                  const size_t *widths, const struct printer_column *const *cols, bool color)
{
        fputs(indent, out);
        for (size_t c = 0; c < ncols; c++) {
                const char *v = cells[c] ? cells[c] : "";
                const char *col =
                    color && cols && cols[c]->format == COLUMN_PHASE ? phase_color(v) : NULL;
                if (col)
                        fprintf(out, "%s%s%s", col, v, COLOR_RESET);
                else
                        fputs(v, out);
                bool rest = false; /* no trailing blanks after the last value */
                for (size_t k = c + 1; k < ncols && !rest; k++)
                        rest = cells[k] && *cells[k];
                if (rest) {
                        size_t len = strlen(v);
                        size_t pad = (widths[c] > len ? widths[c] - len : 0) + TABLE_GAP;
                        fprintf(out, "%*s", (int)pad, "");
                }
        }
        fputc('\n', out);
}

int cli_table_flush(struct cli_table *t, FILE *out)
{
        for (size_t i = 0; i < t->nrows; i++)
                for (size_t c = 0; c < t->ncols; c++) {
                        size_t len = strlen(t->cells[i * t->ncols + c]);
                        if (len > t->widths[c])
                                t->widths[c] = len;
                }
        if (!t->header_done && !t->opts.no_headers) {
                const char *titles[CLI_TABLE_COLS_MAX];
                for (size_t c = 0; c < t->ncols; c++)
                        titles[c] = t->cols[c]->title;
                cli_emit_row(out, "", titles, t->ncols, t->widths, NULL, false);
        }
        t->header_done = true;
        for (size_t i = 0; i < t->nrows; i++)
                cli_emit_row(out, "", (const char *const *)t->cells + i * t->ncols, t->ncols,
                             t->widths, t->cols, t->opts.color);
        free_rows(t);
        return ferror(out) ? -EIO : 0;
}

/* ---- -o name|json|yaml ------------------------------------------------- */

int cli_print_name(FILE *out, const struct kind_info *kind, const json_t *object)
{
        const char *name = json_path_string(object, "metadata.name");
        if (!kind) {
                const char *k = json_string_value(json_object_get(object, "kind"));
                kind = k ? kind_lookup(k) : NULL;
        }
        fprintf(out, "%s/%s\n", cli_kind_singular(kind), name ? name : "");
        return ferror(out) ? -EIO : 0;
}

int cli_print_json(FILE *out, const json_t *value)
{
        _cleanup_free_ char *s = json_dumps(value, JSON_INDENT(4) | JSON_ENCODE_ANY);
        if (!s)
                return -ENOMEM;
        fprintf(out, "%s\n", s);
        return ferror(out) ? -EIO : 0;
}

int cli_print_yaml(FILE *out, const json_t *value)
{
        _cleanup_buf_ struct buf b = {0};
        int r;

        buf_init(&b, CLI_RESPONSE_MAX * 2);
        r = manifest_to_yaml(value, &b);
        if (r < 0)
                return r;
        if (b.len > 0)
                fwrite(b.data, 1, b.len, out);
        return ferror(out) ? -EIO : 0;
}
