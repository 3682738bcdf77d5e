/* Printers: tables, -o name|json|yaml and describe. Pure: they read JSON
 * objects and a clock value passed in, and write to a FILE *. */
#include "cli-internal.h"

#define COLOR_RED          "\033[31m"
#define COLOR_GREEN        "\033[32m"
#define COLOR_RESET        "\033[0m"
#define TABLE_GAP          3 /* spaces between columns, like kubectl */
#define CONTAINER_ID_SHORT 12

enum column {
        COL_NAMESPACE,
        COL_NAME,
        COL_PHASE,
        COL_ATTEMPTS,
        COL_EXIT,
        COL_AGE,
        COL_REASON,
        COL_CONTAINER,
        COL_IMAGE,
};

static const char *const column_titles[] = {
    [COL_NAMESPACE] = "NAMESPACE", [COL_NAME] = "NAME",           [COL_PHASE] = "PHASE",
    [COL_ATTEMPTS] = "ATTEMPTS",   [COL_EXIT] = "EXIT",           [COL_AGE] = "AGE",
    [COL_REASON] = "REASON",       [COL_CONTAINER] = "CONTAINER", [COL_IMAGE] = "IMAGE",
};

static bool is_task(const struct kind_info *kind)
{
        return kind && streq(kind->kind, "Task");
}

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

static char *cell_text(enum column col, const json_t *o, int64_t now_ms)
{
        const char *s;
        const json_t *v;

        switch (col) {
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
        case COL_AGE:
                return age_of(o, now_ms);
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
        if (is_task(opts->kind)) {
                t->cols[t->ncols++] = COL_PHASE;
                t->cols[t->ncols++] = COL_ATTEMPTS;
                t->cols[t->ncols++] = COL_EXIT;
                t->cols[t->ncols++] = COL_AGE;
                if (opts->wide) {
                        t->cols[t->ncols++] = COL_REASON;
                        t->cols[t->ncols++] = COL_CONTAINER;
                        t->cols[t->ncols++] = COL_IMAGE;
                }
        } else {
                t->cols[t->ncols++] = COL_AGE;
        }
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
                if (c + 1 < ncols) {
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
        char l[64];
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

static void describe_conditions(FILE *out, const json_t *conds)
{
        static const char *const titles[] = {"TYPE", "STATUS", "REASON", "MESSAGE",
                                             "LAST TRANSITION"};
        enum { N = ARRAY_SIZE(titles) };
        size_t n = json_is_array(conds) ? json_array_size(conds) : 0;
        size_t widths[N];

        if (n == 0) {
                field(out, 0, LABEL_WIDTH, "Conditions", NULL);
                return;
        }
        fputs("Conditions:\n", out);
        for (size_t c = 0; c < N; c++)
                widths[c] = strlen(titles[c]);
        for (int pass = 0; pass < 2; pass++) {
                if (pass == 1)
                        emit_row(out, "  ", titles, N, widths, NULL, false);
                for (size_t i = 0; i < n; i++) {
                        const json_t *c = json_array_get(conds, i);
                        const char *cells[N] = {
                            json_string_value(json_object_get(c, "type")),
                            json_string_value(json_object_get(c, "status")),
                            json_string_value(json_object_get(c, "reason")),
                            json_string_value(json_object_get(c, "message")),
                            json_string_value(json_object_get(c, "lastTransitionTime")),
                        };
                        for (size_t k = 0; k < N; k++)
                                if (!cells[k])
                                        cells[k] = "";
                        if (pass == 0) {
                                for (size_t k = 0; k < N; k++)
                                        if (strlen(cells[k]) > widths[k])
                                                widths[k] = strlen(cells[k]);
                        } else {
                                emit_row(out, "  ", cells, N, widths, NULL, false);
                        }
                }
        }
}

int cli_describe(FILE *out, const struct kind_info *kind, const json_t *o, int64_t now_ms)
{
        const int w = 12;
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

        if (is_task(kind))
                describe_task_spec(out, o);
        else
                describe_generic_spec(out, o);

        fputs("Status:\n", out);
        field(out, 2, w, "Phase", phase_of(o));
        field(out, 2, w, "Reason", json_path_string(o, "status.reason"));
        field(out, 2, w, "Message", json_path_string(o, "status.message"));
        if (is_task(kind)) {
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
        describe_conditions(out, json_path(o, "status.conditions"));
        /* TODO(events): list the object's recent Events once the API serves them. */
        field(out, 0, LABEL_WIDTH, "Events", NULL);
        return ferror(out) ? -EIO : 0;
}
