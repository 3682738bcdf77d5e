/* Printers: tables, -o name|json|yaml and describe. Pure: they read JSON
 * objects and a clock value passed in, and write to a FILE *. */
#include <assert.h>
#include <ctype.h>

#include "cli-internal.h"

#define COLOR_RED          "\033[31m"
#define COLOR_GREEN        "\033[32m"
#define COLOR_RESET        "\033[0m"
#define TABLE_GAP          3 /* spaces between columns, like kubectl */
#define CONTAINER_ID_SHORT 12

/* Table columns. Each kind lists the ones it shows (struct kind_printer);
 * COL_END ends such a list, so that zeroed array tails end it too. */
enum column {
        COL_END,
        COL_NAMESPACE,
        COL_NAME,
        COL_PHASE,
        COL_ATTEMPTS,
        COL_EXIT,
        COL_PROGRESS,
        COL_AGE,
        COL_DURATION,
        COL_REASON,
        COL_MESSAGE,
        COL_CONTAINER,
        COL_IMAGE,
};

static const char *const column_titles[] = {
    [COL_END] = "",
    [COL_NAMESPACE] = "NAMESPACE",
    [COL_NAME] = "NAME",
    [COL_PHASE] = "PHASE",
    [COL_ATTEMPTS] = "ATTEMPTS",
    [COL_EXIT] = "EXIT",
    [COL_PROGRESS] = "PROGRESS",
    [COL_AGE] = "AGE",
    [COL_DURATION] = "DURATION",
    [COL_REASON] = "REASON",
    [COL_MESSAGE] = "MESSAGE",
    [COL_CONTAINER] = "CONTAINER",
    [COL_IMAGE] = "IMAGE",
};

enum { KIND_COLS_MAX = 5 };
static_assert(2 + 2 * KIND_COLS_MAX <= CLI_TABLE_COLS_MAX, "NAMESPACE, NAME, cols, wide");

/* What tables and describe show of one kind. Kinds without an entry get
 * NAME, AGE and a generic describe. */
struct kind_printer {
        const char *kind;
        enum column cols[KIND_COLS_MAX]; /* after NAMESPACE (-A) and NAME */
        enum column wide[KIND_COLS_MAX]; /* -o wide: appended to cols */
        /* The Spec section. */
        void (*spec)(FILE *out, const json_t *o);
        /* Status fields after Phase, Reason and Message. */
        void (*status)(FILE *out, const json_t *o, int64_t now_ms);
        /* Sections after Conditions; results as passed to cli_describe(). */
        void (*sections)(FILE *out, const json_t *o, const json_t *results, int64_t now_ms);
};

static const struct kind_printer *kind_printer_of(const struct kind_info *kind);

/* The status fields are written by the task reconciler; accept the spellings
 * it may use so that the CLI does not break on a rename. */
static const json_t *first_of(const json_t *o, const char *const *paths)
{
        for (; *paths; paths++) {
                const json_t *v = json_path(o, *paths);
                if (v && !json_is_null(v))
                        return v;
        }
        return NULL;
}

static const char *const container_paths[] = {"status.containerID", "status.containerId",
                                              "status.container", "status.containerName", NULL};
static const char *const started_paths[] = {"status.startTime", "status.startedAt",
                                            "status.started", NULL};
static const char *const completed_paths[] = {"status.completionTime", "status.completedAt",
                                              "status.finishedAt", "status.completed", NULL};
static const char *const attempts_paths[] = {"status.attempts", "status.attempt", NULL};
static const char *const exit_paths[] = {"status.exitCode", NULL};
static const char *const deadline_paths[] = {"spec.activeDeadlineSeconds", "spec.deadlineSeconds",
                                             "spec.activeDeadline", "spec.deadline", NULL};
static const char *const ttl_paths[] = {"spec.ttlSecondsAfterFinished", "spec.ttlAfterFinished",
                                        "spec.ttl", NULL};

static const char *phase_of(const json_t *o)
{
        const char *p = json_path_string(o, "status.phase");
        return p && *p ? p : "Pending";
}

static char *age_of(const json_t *o, int64_t now_ms)
{
        const char *created = json_path_string(o, "metadata.creationTimestamp");
        int64_t t;
        char age[32];

        if (!created || time_parse_rfc3339(created, &t) < 0)
                return strdup("<unknown>");
        age_format(now_ms > t ? now_ms - t : 0, age, sizeof(age));
        return strdup(age);
}

/* Scalars as text; NULL when absent. Caller frees. */
static char *scalar_text(const json_t *v)
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
static char *one_line(const char *s, size_t max_chars)
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
static char *elapsed_text(const char *start, const char *end, int64_t now_ms)
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

static char *object_elapsed(const json_t *o, int64_t now_ms)
{
        return elapsed_text(json_string_value(first_of(o, started_paths)),
                            json_string_value(first_of(o, completed_paths)), now_ms);
}

/* status.progress ("2/3"); before berth wrote it, 0 of the steps in the
 * spec. "" when there is nothing to count. Caller frees. */
static char *progress_text(const json_t *o)
{
        const char *s = json_path_string(o, "status.progress");
        const json_t *steps = json_path(o, "spec.steps");

        if (s && *s)
                return strdup(s);
        if (!json_is_array(steps) || json_array_size(steps) == 0)
                return strdup("");
        return str_printf("0/%zu", json_array_size(steps));
}

static char *cell_text(enum column col, const json_t *o, int64_t now_ms)
{
        const char *s;
        const json_t *v;

        switch (col) {
        case COL_END:
                return strdup("");
        case COL_NAMESPACE:
                s = json_path_string(o, "metadata.namespace");
                return strdup(s ? s : "");
        case COL_NAME:
                s = json_path_string(o, "metadata.name");
                return strdup(s ? s : "");
        case COL_PHASE:
                return strdup(phase_of(o));
        case COL_ATTEMPTS:
                v = first_of(o, attempts_paths);
                return str_printf("%lld",
                                  json_is_integer(v) ? (long long)json_integer_value(v) : 0LL);
        case COL_EXIT:
                v = first_of(o, exit_paths);
                return json_is_integer(v) ? str_printf("%lld", (long long)json_integer_value(v))
                                          : strdup("");
        case COL_PROGRESS:
                return progress_text(o);
        case COL_AGE:
                return age_of(o, now_ms);
        case COL_DURATION: {
                char *d = object_elapsed(o, now_ms);
                return d ? d : strdup("");
        }
        case COL_MESSAGE:
                return one_line(json_path_string(o, "status.message"), 0);
        case COL_REASON:
                s = json_path_string(o, "status.reason");
                return strdup(s ? s : "");
        case COL_CONTAINER:
                v = first_of(o, container_paths);
                s = json_string_value(v);
                return strndup(s ? s : "", CONTAINER_ID_SHORT);
        case COL_IMAGE:
                s = json_path_string(o, "spec.image");
                return strdup(s ? s : "");
        }
        return strdup("");
}

/* ---- tables ------------------------------------------------------------- */

int cli_table_init(struct cli_table *t, const struct cli_print_opts *opts)
{
        *t = (struct cli_table){.opts = *opts};
        if (opts->all_namespaces)
                t->cols[t->ncols++] = COL_NAMESPACE;
        t->cols[t->ncols++] = COL_NAME;
        const struct kind_printer *kp = kind_printer_of(opts->kind);
        for (size_t i = 0; i < KIND_COLS_MAX && kp->cols[i] != COL_END; i++)
                t->cols[t->ncols++] = kp->cols[i];
        for (size_t i = 0; opts->wide && i < KIND_COLS_MAX && kp->wide[i] != COL_END; i++)
                t->cols[t->ncols++] = kp->wide[i];
        if (!opts->no_headers)
                for (size_t c = 0; c < t->ncols; c++)
                        t->widths[c] = strlen(column_titles[t->cols[c]]);
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
                row[c] = cell_text(t->cols[c], object, t->opts.now_ms);
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

static void emit_row(FILE *out, const char *indent, const char *const *cells, size_t ncols,
                     const size_t *widths, const int *cols, bool color)
{
        fputs(indent, out);
        for (size_t c = 0; c < ncols; c++) {
                const char *v = cells[c] ? cells[c] : "";
                const char *col = color && cols && cols[c] == COL_PHASE ? phase_color(v) : NULL;
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
                        titles[c] = column_titles[t->cols[c]];
                emit_row(out, "", titles, t->ncols, t->widths, NULL, false);
        }
        t->header_done = true;
        for (size_t i = 0; i < t->nrows; i++)
                emit_row(out, "", (const char *const *)t->cells + i * t->ncols, t->ncols, t->widths,
                         t->cols, t->opts.color);
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

/* ---- describe ---------------------------------------------------------- */

#define LABEL_WIDTH 14 /* "Annotations:" + 2 */

static void field(FILE *out, int indent, int width, const char *label, const char *value)
{
        char l[64] = "";
        if (label) /* NULL: a continuation line */
                snprintf(l, sizeof(l), "%s:", label);
        fprintf(out, "%*s%-*s%s\n", indent, "", width, l, value && *value ? value : "<none>");
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "k=v" lines of a string map, sorted, continuation lines aligned. */
static void string_map(FILE *out, const char *label, const json_t *map)
{
        size_t n = json_is_object(map) ? json_object_size(map) : 0;
        if (n == 0) {
                field(out, 0, LABEL_WIDTH, label, NULL);
                return;
        }
        _cleanup_free_ const char **keys = calloc(n, sizeof(char *));
        if (!keys)
                return;
        size_t i = 0;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)map, k, v) keys[i++] = k;
        qsort(keys, n, sizeof(char *), cmp_str);
        for (i = 0; i < n; i++) {
                _cleanup_free_ char *val = scalar_text(json_object_get(map, keys[i]));
                char l[64];
                snprintf(l, sizeof(l), "%s:", label);
                fprintf(out, "%-*s%s=%s\n", LABEL_WIDTH, i == 0 ? l : "", keys[i], val ? val : "");
        }
}

/* Command lines: words joined by spaces, quoted when they would not read
 * back as one word. */
static char *join_words(const json_t *arr)
{
        _cleanup_buf_ struct buf b = {0};
        size_t i;
        json_t *v;

        if (!json_is_array(arr) || json_array_size(arr) == 0)
                return NULL;
        buf_init(&b, 64 * 1024);
        json_array_foreach((json_t *)arr, i, v)
        {
                _cleanup_free_ char *s = scalar_text(v);
                if (!s)
                        continue;
                bool quote = *s == '\0' || strpbrk(s, " \t\n\"'\\$`;&|<>()*?") != NULL;
                if (i > 0)
                        buf_append_str(&b, " ");
                if (quote) {
                        _cleanup_free_ char *q = json_dumps(v, JSON_ENCODE_ANY);
                        buf_append_str(&b, q ? q : s);
                } else {
                        buf_append_str(&b, s);
                }
        }
        return buf_steal(&b);
}

/* Flattens a mapping into "a.b=v c=w" (resources, limits). */
static void flatten(const json_t *v, const char *prefix, struct buf *b)
{
        if (json_is_object(v)) {
                const char *k;
                json_t *sub;
                json_object_foreach((json_t *)v, k, sub)
                {
                        _cleanup_free_ char *p =
                            *prefix ? str_printf("%s.%s", prefix, k) : strdup(k);
                        if (p)
                                flatten(sub, p, b);
                }
                return;
        }
        _cleanup_free_ char *s = scalar_text(v);
        if (!s)
                return;
        if (b->len > 0)
                buf_append_str(b, " ");
        if (*prefix)
                buf_printf(b, "%s=%s", prefix, s);
        else
                buf_append_str(b, s);
}

static char *seconds_text(const json_t *v)
{
        char d[64];
        if (json_is_integer(v)) {
                duration_format((int64_t)json_integer_value(v) * 1000, d, sizeof(d));
                return strdup(d);
        }
        return scalar_text(v);
}

static char *time_with_age(const char *ts, int64_t now_ms)
{
        int64_t t;
        char age[32];
        if (!ts)
                return NULL;
        if (time_parse_rfc3339(ts, &t) < 0 || t == 0)
                return strdup(ts);
        age_format(now_ms > t ? now_ms - t : 0, age, sizeof(age));
        return str_printf("%s (%s ago)", ts, age);
}

static void describe_task_spec(FILE *out, const json_t *o)
{
        const int w = 17;
        _cleanup_free_ char *command = join_words(json_path(o, "spec.command"));
        _cleanup_free_ char *args = join_words(json_path(o, "spec.args"));
        _cleanup_free_ char *restart = scalar_text(json_path(o, "spec.restartPolicy"));
        _cleanup_free_ char *backoff = scalar_text(json_path(o, "spec.backoffLimit"));
        _cleanup_free_ char *deadline = seconds_text(first_of(o, deadline_paths));
        _cleanup_free_ char *ttl = seconds_text(first_of(o, ttl_paths));
        _cleanup_buf_ struct buf res = {0};

        buf_init(&res, 64 * 1024);
        flatten(json_path(o, "spec.resources"), "", &res);
        fputs("Spec:\n", out);
        field(out, 2, w, "Image", json_path_string(o, "spec.image"));
        field(out, 2, w, "Command", command);
        field(out, 2, w, "Args", args);
        field(out, 2, w, "Restart Policy", restart);
        field(out, 2, w, "Backoff Limit", backoff);
        field(out, 2, w, "Deadline", deadline);
        field(out, 2, w, "TTL", ttl);
        field(out, 2, w, "Resources", res.data);
}

static void describe_generic_spec(FILE *out, const json_t *o)
{
        const json_t *spec = json_object_get(o, "spec");
        _cleanup_buf_ struct buf b = {0};

        if (!spec || json_object_size(spec) == 0) {
                field(out, 0, LABEL_WIDTH, "Spec", NULL);
                return;
        }
        buf_init(&b, CLI_RESPONSE_MAX);
        fputs("Spec:\n", out);
        if (manifest_to_yaml(spec, &b) < 0 || !b.data)
                return;
        char *save = NULL;
        for (char *l = strtok_r(b.data, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                fprintf(out, "  %s\n", l);
}

enum { GRID_COLS_MAX = 8 };

/* A table inside describe, indented by two: each column as wide as its
 * widest cell. cells holds nrows × ncols entries; NULL prints empty. */
static void grid(FILE *out, const char *const *titles, size_t ncols, char *const *cells,
                 size_t nrows)
{
        size_t widths[GRID_COLS_MAX];

        assert(ncols <= GRID_COLS_MAX);
        for (size_t c = 0; c < ncols; c++)
                widths[c] = strlen(titles[c]);
        for (size_t i = 0; i < nrows * ncols; i++) {
                size_t len = cells[i] ? strlen(cells[i]) : 0;
                if (len > widths[i % ncols])
                        widths[i % ncols] = len;
        }
        emit_row(out, "  ", titles, ncols, widths, NULL, false);
        for (size_t i = 0; i < nrows; i++)
                emit_row(out, "  ", (const char *const *)cells + i * ncols, ncols, widths, NULL,
                         false);
}

static void free_cells(char **cells, size_t n)
{
        for (size_t i = 0; cells && i < n; i++)
                free(cells[i]);
        free(cells);
}

static void describe_conditions(FILE *out, const json_t *conds)
{
        static const char *const titles[] = {"TYPE", "STATUS", "REASON", "MESSAGE",
                                             "LAST TRANSITION"};
        static const char *const keys[] = {"type", "status", "reason", "message",
                                           "lastTransitionTime"};
        enum { N = ARRAY_SIZE(titles) };
        size_t n = json_is_array(conds) ? json_array_size(conds) : 0;
        char **cells = n ? calloc(n * N, sizeof(char *)) : NULL;

        if (!cells) {
                field(out, 0, LABEL_WIDTH, "Conditions", NULL);
                return;
        }
        for (size_t i = 0; i < n; i++)
                for (size_t k = 0; k < N; k++)
                        cells[i * N + k] = one_line(
                            json_string_value(json_object_get(json_array_get(conds, i), keys[k])),
                            0);
        fputs("Conditions:\n", out);
        grid(out, titles, N, cells, n);
        free_cells(cells, n * N);
}

static void describe_task_status(FILE *out, const json_t *o, int64_t now_ms)
{
        const int w = 12;
        _cleanup_free_ char *attempts = scalar_text(first_of(o, attempts_paths));
        _cleanup_free_ char *exit_code = scalar_text(first_of(o, exit_paths));
        _cleanup_free_ char *started =
            time_with_age(json_string_value(first_of(o, started_paths)), now_ms);
        _cleanup_free_ char *completed =
            time_with_age(json_string_value(first_of(o, completed_paths)), now_ms);

        field(out, 2, w, "Attempts", attempts ? attempts : "0");
        field(out, 2, w, "Exit Code", exit_code);
        field(out, 2, w, "Container", json_string_value(first_of(o, container_paths)));
        field(out, 2, w, "Started", started);
        field(out, 2, w, "Completed", completed);
}

/* ---- describe: Workflow ------------------------------------------------- */

#define RESULT_PREVIEW_MAX 80 /* characters of a step's result in describe */

static void describe_workflow_spec(FILE *out, const json_t *o)
{
        const int w = 14;
        const json_t *params = json_path(o, "spec.parameters");
        const json_t *steps = json_path(o, "spec.steps");
        const json_t *fail_fast = json_path(o, "spec.failFast");
        json_int_t parallelism = json_integer_value(json_path(o, "spec.parallelism"));
        _cleanup_free_ char *par =
            parallelism > 0 ? str_printf("%lld", (long long)parallelism) : strdup("unlimited");
        _cleanup_free_ char *ttl = seconds_text(json_path(o, "spec.ttlSecondsAfterFinished"));
        size_t i;
        json_t *v;

        fputs("Spec:\n", out);
        if (json_array_size(params) == 0)
                field(out, 2, w, "Parameters", NULL);
        json_array_foreach((json_t *)params, i, v)
        {
                const char *name = json_string_value(json_object_get(v, "name"));
                _cleanup_free_ char *value = scalar_text(json_object_get(v, "value"));
                _cleanup_free_ char *shown = one_line(value, 0);
                _cleanup_free_ char *line =
                    str_printf("%s=%s", name ? name : "", shown ? shown : "");
                field(out, 2, w, i == 0 ? "Parameters" : NULL, line);
        }
        /* The DAG, one step a line: "transform (after extract)". */
        if (json_array_size(steps) == 0)
                field(out, 2, w, "Steps", NULL);
        json_array_foreach((json_t *)steps, i, v)
        {
                _cleanup_buf_ struct buf b = {0};
                const json_t *deps = json_object_get(v, "dependsOn");
                size_t k;
                json_t *d;

                buf_init(&b, 64 * 1024);
                buf_append_str(&b, json_string_value(json_object_get(v, "name")) ?: "");
                json_array_foreach((json_t *)deps, k, d)
                    buf_printf(&b, "%s%s", k == 0 ? " (after " : ", ", json_string_value(d) ?: "?");
                if (json_array_size(deps) > 0)
                        buf_append_str(&b, ")");
                field(out, 2, w, i == 0 ? "Steps" : NULL, b.data);
        }
        field(out, 2, w, "Fail Fast", json_is_false(fail_fast) ? "false" : "true");
        field(out, 2, w, "Parallelism", par);
        field(out, 2, w, "TTL", ttl);
}

static void describe_workflow_status(FILE *out, const json_t *o, int64_t now_ms)
{
        const int w = 12;
        _cleanup_free_ char *progress = progress_text(o);
        _cleanup_free_ char *started =
            time_with_age(json_string_value(first_of(o, started_paths)), now_ms);
        _cleanup_free_ char *completed =
            time_with_age(json_string_value(first_of(o, completed_paths)), now_ms);
        _cleanup_free_ char *duration = object_elapsed(o, now_ms);

        field(out, 2, w, "Progress", progress);
        field(out, 2, w, "Started", started);
        field(out, 2, w, "Completed", completed);
        field(out, 2, w, "Duration", duration);
}

/* status.steps, or before berth wrote them the spec's steps (all Pending). */
static const json_t *workflow_steps(const json_t *o)
{
        const json_t *steps = json_path(o, "status.steps");
        if (json_is_array(steps) && json_array_size(steps) > 0)
                return steps;
        steps = json_path(o, "spec.steps");
        return json_is_array(steps) ? steps : NULL;
}

static void describe_workflow_steps(FILE *out, const json_t *o, int64_t now_ms)
{
        static const char *const titles[] = {"STEP",     "PHASE",  "TASK",   "EXIT",
                                             "DURATION", "REASON", "MESSAGE"};
        enum { N = ARRAY_SIZE(titles) };
        const json_t *steps = workflow_steps(o);
        size_t n = json_array_size(steps);
        char **cells = n ? calloc(n * N, sizeof(char *)) : NULL;

        if (!cells) {
                field(out, 0, LABEL_WIDTH, "Steps", NULL);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                const json_t *s = json_array_get(steps, i);
                const json_t *exit_code = json_object_get(s, "exitCode");
                const char *phase = json_string_value(json_object_get(s, "phase"));
                char **row = cells + i * N;

                row[0] = one_line(json_string_value(json_object_get(s, "name")), 0);
                row[1] = strdup(phase && *phase ? phase : "Pending");
                row[2] = one_line(json_string_value(json_object_get(s, "task")), 0);
                row[3] = json_is_integer(exit_code)
                             ? str_printf("%lld", (long long)json_integer_value(exit_code))
                             : NULL;
                row[4] = elapsed_text(json_string_value(json_object_get(s, "startTime")),
                                      json_string_value(json_object_get(s, "finishTime")), now_ms);
                row[5] = one_line(json_string_value(json_object_get(s, "reason")), 0);
                row[6] = one_line(json_string_value(json_object_get(s, "message")), 0);
        }
        fputs("Steps:\n", out);
        grid(out, titles, N, cells, n);
        free_cells(cells, n * N);
}

/* "extract:  42": the first line of each recorded result, in step order. A
 * result cut by berthd (it keeps the last 256 KiB) starts with "...". */
static void describe_workflow_results(FILE *out, const json_t *o, const json_t *results)
{
        const json_t *map = json_object_get(results, "steps");
        const json_t *steps = workflow_steps(o);
        const char **names = NULL;
        size_t n = 0, width = 0;

        if (!results) {
                field(out, 0, LABEL_WIDTH, "Results", "<unavailable>");
                return;
        }
        /* Steps in spec order; berthd keeps no results for other names. */
        size_t max = json_array_size(steps);
        if (max > 0 && json_object_size(map) > 0 && (names = calloc(max, sizeof(char *))))
                for (size_t i = 0; i < max; i++) {
                        const char *name =
                            json_string_value(json_object_get(json_array_get(steps, i), "name"));
                        const json_t *r =
                            json_object_get(json_object_get(map, name ?: ""), "result");
                        if (!name || !json_is_string(r))
                                continue;
                        names[n++] = name;
                        if (strlen(name) + 1 > width)
                                width = strlen(name) + 1;
                }
        if (n == 0) {
                free(names);
                field(out, 0, LABEL_WIDTH, "Results", NULL);
                return;
        }
        fputs("Results:\n", out);
        for (size_t i = 0; i < n; i++) {
                const json_t *entry = json_object_get(map, names[i]);
                const char *result = json_string_value(json_object_get(entry, "result"));
                bool truncated = json_is_true(json_object_get(entry, "truncated"));
                _cleanup_free_ char *line =
                    one_line(result, truncated ? RESULT_PREVIEW_MAX - 3 : RESULT_PREVIEW_MAX);
                _cleanup_free_ char *shown = str_printf("%s%s", truncated ? "..." : "", line ?: "");
                field(out, 2, (int)width + 2, names[i], shown && *shown ? shown : "<empty>");
        }
        free(names);
}

static void describe_workflow_sections(FILE *out, const json_t *o, const json_t *results,
                                       int64_t now_ms)
{
        describe_workflow_steps(out, o, now_ms);
        describe_workflow_results(out, o, results);
}

/* ---- describe: every kind ----------------------------------------------- */

static const struct kind_printer kind_printers[] = {
    {
        .kind = "Task",
        .cols = {COL_PHASE, COL_ATTEMPTS, COL_EXIT, COL_AGE},
        .wide = {COL_REASON, COL_CONTAINER, COL_IMAGE},
        .spec = describe_task_spec,
        .status = describe_task_status,
    },
    {
        .kind = "Workflow",
        .cols = {COL_PHASE, COL_PROGRESS, COL_AGE},
        .wide = {COL_DURATION, COL_REASON, COL_MESSAGE},
        .spec = describe_workflow_spec,
        .status = describe_workflow_status,
        .sections = describe_workflow_sections,
    },
};

static const struct kind_printer generic_printer = {
    .cols = {COL_AGE},
    .spec = describe_generic_spec,
};

static const struct kind_printer *kind_printer_of(const struct kind_info *kind)
{
        for (size_t i = 0; kind && i < ARRAY_SIZE(kind_printers); i++)
                if (streq(kind->kind, kind_printers[i].kind))
                        return &kind_printers[i];
        return &generic_printer;
}

int cli_describe(FILE *out, const struct kind_info *kind, const json_t *o, const json_t *results,
                 int64_t now_ms)
{
        const int w = 12;
        const struct kind_printer *kp = kind_printer_of(kind);
        _cleanup_free_ char *created =
            time_with_age(json_path_string(o, "metadata.creationTimestamp"), now_ms);
        _cleanup_free_ char *generation = scalar_text(json_path(o, "metadata.generation"));
        _cleanup_free_ char *deleting =
            time_with_age(json_path_string(o, "metadata.deletionTimestamp"), now_ms);

        field(out, 0, LABEL_WIDTH, "Name", json_path_string(o, "metadata.name"));
        if (!kind || kind->namespaced)
                field(out, 0, LABEL_WIDTH, "Namespace", json_path_string(o, "metadata.namespace"));
        string_map(out, "Labels", json_path(o, "metadata.labels"));
        string_map(out, "Annotations", json_path(o, "metadata.annotations"));
        field(out, 0, LABEL_WIDTH, "UID", json_path_string(o, "metadata.uid"));
        field(out, 0, LABEL_WIDTH, "Created", created);
        if (deleting)
                field(out, 0, LABEL_WIDTH, "Deleting", deleting);
        field(out, 0, LABEL_WIDTH, "Generation", generation);

        kp->spec(out, o);

        fputs("Status:\n", out);
        field(out, 2, w, "Phase", phase_of(o));
        field(out, 2, w, "Reason", json_path_string(o, "status.reason"));
        field(out, 2, w, "Message", json_path_string(o, "status.message"));
        if (kp->status)
                kp->status(out, o, now_ms);
        describe_conditions(out, json_path(o, "status.conditions"));
        if (kp->sections)
                kp->sections(out, o, results, now_ms);
        /* TODO(events): list the object's recent Events once the API serves them. */
        field(out, 0, LABEL_WIDTH, "Events", NULL);
        return ferror(out) ? -EIO : 0;
}
