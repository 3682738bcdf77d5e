/* describe: one object in kubectl-describe-like sections — metadata, a spec
 * summary, status, conditions and the kind's own sections. Pure, like the
 * printers: a JSON object and a clock value in, text out.
 *
 * Every kind gets the generic parts (metadata, phase, reason, message,
 * conditions; the spec as YAML). A kind whose spec or status reads better
 * summarized, or that has more to show, adds a describer below. */
#include <assert.h>

#include "cli-internal.h"
#include "cron.h"

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
                _cleanup_free_ char *val = cli_scalar_text(json_object_get(map, keys[i]));
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
                _cleanup_free_ char *s = cli_scalar_text(v);
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
        _cleanup_free_ char *s = cli_scalar_text(v);
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
        return cli_scalar_text(v);
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
        _cleanup_free_ char *restart = cli_scalar_text(json_path(o, "spec.restartPolicy"));
        _cleanup_free_ char *backoff = cli_scalar_text(json_path(o, "spec.backoffLimit"));
        _cleanup_free_ char *deadline = seconds_text(json_path(o, "spec.activeDeadlineSeconds"));
        _cleanup_free_ char *ttl = seconds_text(json_path(o, "spec.ttlSecondsAfterFinished"));
        _cleanup_buf_ struct buf res = {0};

        buf_init(&res, 64 * 1024);
        flatten(json_path(o, "spec.resources"), "", &res);
        fputs("Spec:\n", out);
        field(out, 2, w, "Image", json_path_string(o, "spec.image"));
        field(out, 2, w, "Command", command);
        field(out, 2, w, "Args", args);
        _cleanup_free_ char *priority = cli_scalar_text(json_path(o, "spec.priority"));
        const char *pclass = json_path_string(o, "spec.priorityClassName");
        if (pclass) /* its value is its Queue's: the position below follows it */
                field(out, 2, w, "Priority Class", pclass);
        else
                field(out, 2, w, "Priority", priority ? priority : "0");
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

enum { GRID_COLS_MAX = 10 };

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
        cli_emit_row(out, "  ", titles, ncols, widths, NULL, false);
        for (size_t i = 0; i < nrows; i++)
                cli_emit_row(out, "  ", (const char *const *)cells + i * ncols, ncols, widths, NULL,
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
                        cells[i * N + k] = cli_one_line(
                            json_string_value(json_object_get(json_array_get(conds, i), keys[k])),
                            0);
        fputs("Conditions:\n", out);
        grid(out, titles, N, cells, n);
        free_cells(cells, n * N);
}

static void describe_task_status(FILE *out, const json_t *o, int64_t now_ms)
{
        const int w = 12;
        _cleanup_free_ char *attempts = cli_scalar_text(json_path(o, "status.attempts"));
        _cleanup_free_ char *exit_code = cli_scalar_text(json_path(o, "status.exitCode"));
        _cleanup_free_ char *started =
            time_with_age(json_path_string(o, "status.startTime"), now_ms);
        _cleanup_free_ char *completed =
            time_with_age(json_path_string(o, "status.completionTime"), now_ms);

        field(out, 2, w, "Attempts", attempts ? attempts : "0");
        field(out, 2, w, "Exit Code", exit_code);
        field(out, 2, w, "Container", json_path_string(o, "status.containerID"));
        field(out, 2, w, "Started", started);
        field(out, 2, w, "Completed", completed);
}

/* A queued Task's place, computed by describe (cmd-describe.c): extra is
 * {"position", "queued", "blocked", "scope"}, or NULL when it is not
 * queued (nothing shown) or the lists could not be had. */
static void describe_task_queue(FILE *out, const json_t *o, const json_t *extra, int64_t now_ms)
{
        (void)o, (void)now_ms;
        if (!json_is_object(extra))
                return;
        char text[160];
        snprintf(text, sizeof(text), "%lld of %lld queued (%s)%s",
                 (long long)json_integer_value(json_object_get(extra, "position")),
                 (long long)json_integer_value(json_object_get(extra, "queued")),
                 json_string_value(json_object_get(extra, "scope")),
                 json_is_true(json_object_get(extra, "blocked"))
                     ? ", after a Task of its namespace ends (Queue spec.maxRunning)"
                     : "");
        fputs("Queue:\n", out);
        field(out, 2, 12, "Position", text);
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
                _cleanup_free_ char *value = cli_scalar_text(json_object_get(v, "value"));
                _cleanup_free_ char *shown = cli_one_line(value, 0);
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
        static const struct printer_column progress_column = {
            .path = "status.progress", .format = COLUMN_PROGRESS, .until = "spec.steps"};
        _cleanup_free_ char *progress = cli_column_text(&progress_column, o, now_ms);
        _cleanup_free_ char *started =
            time_with_age(json_path_string(o, "status.startTime"), now_ms);
        _cleanup_free_ char *completed =
            time_with_age(json_path_string(o, "status.completionTime"), now_ms);
        _cleanup_free_ char *duration =
            cli_elapsed_text(json_path_string(o, "status.startTime"),
                             json_path_string(o, "status.completionTime"), now_ms);

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
        const json_t *on_exit = json_path(o, "status.onExit");
        size_t n = json_array_size(steps) + (json_is_object(on_exit) ? 1 : 0);
        char **cells = n ? calloc(n * N, sizeof(char *)) : NULL;

        if (!cells) {
                field(out, 0, LABEL_WIDTH, "Steps", NULL);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                const json_t *s = i < json_array_size(steps) ? json_array_get(steps, i) : on_exit;
                const json_t *exit_code = json_object_get(s, "exitCode");
                const json_t *items = json_object_get(s, "items");
                const char *phase = json_string_value(json_object_get(s, "phase"));
                const char *task = json_string_value(json_object_get(s, "task"));
                const char *image = json_string_value(json_object_get(s, "image"));
                char **row = cells + i * N;

                row[0] = cli_one_line(json_string_value(json_object_get(s, "name")), 0);
                row[1] = strdup(phase && *phase ? phase : "Pending");
                /* What runs it: a Task, the children of a fan-out, an image
                 * built or deployed. */
                if (json_is_integer(items))
                        row[2] = str_printf("%lld items, %lld made",
                                            (long long)json_integer_value(items),
                                            (long long)json_path_int(s, "created", 0));
                else if (!task && image)
                        row[2] = str_printf("image %.19s", image);
                else
                        row[2] = cli_one_line(task, 0);
                row[3] = json_is_integer(exit_code)
                             ? str_printf("%lld", (long long)json_integer_value(exit_code))
                             : NULL;
                row[4] =
                    cli_elapsed_text(json_string_value(json_object_get(s, "startTime")),
                                     json_string_value(json_object_get(s, "finishTime")), now_ms);
                row[5] = cli_one_line(json_string_value(json_object_get(s, "reason")), 0);
                row[6] = cli_one_line(json_string_value(json_object_get(s, "message")), 0);
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
                    cli_one_line(result, truncated ? RESULT_PREVIEW_MAX - 3 : RESULT_PREVIEW_MAX);
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

/* ---- describe: CronTask ------------------------------------------------- */

#define NEXT_RUNS_SHOWN   5
#define RECENT_RUNS_SHOWN 10

static void describe_crontask_spec(FILE *out, const json_t *o)
{
        const int w = 20;
        const json_t *task = json_path(o, "spec.taskTemplate");
        _cleanup_free_ char *deadline = seconds_text(json_path(o, "spec.startingDeadlineSeconds"));
        _cleanup_free_ char *catch_up =
            str_printf("%s (at most %lld)", json_path_string(o, "spec.catchUp.policy") ?: "Latest",
                       (long long)json_path_int(o, "spec.catchUp.max", 10));
        _cleanup_free_ char *history =
            str_printf("%lld succeeded, %lld failed",
                       (long long)json_path_int(o, "spec.successfulHistoryLimit", 3),
                       (long long)json_path_int(o, "spec.failedHistoryLimit", 1));

        fputs("Spec:\n", out);
        field(out, 2, w, "Schedule", json_path_string(o, "spec.schedule"));
        field(out, 2, w, "Time Zone", json_path_string(o, "spec.timeZone") ?: "UTC");
        field(out, 2, w, "Concurrency", json_path_string(o, "spec.concurrencyPolicy"));
        field(out, 2, w, "Starting Deadline", deadline);
        field(out, 2, w, "Catch Up", catch_up);
        field(out, 2, w, "Suspend", json_is_true(json_path(o, "spec.suspend")) ? "true" : "false");
        field(out, 2, w, "History Kept", history);
        field(out, 2, w, "Runs", task ? "Task" : "Workflow");
        field(out, 2, w, "Image", json_path_string(o, "spec.taskTemplate.spec.image"));
}

static void describe_crontask_status(FILE *out, const json_t *o, int64_t now_ms)
{
        const int w = 18;
        const json_t *active = json_path(o, "status.active");
        _cleanup_free_ char *last =
            time_with_age(json_path_string(o, "status.lastScheduleTime"), now_ms);
        _cleanup_free_ char *success =
            time_with_age(json_path_string(o, "status.lastSuccessfulTime"), now_ms);
        _cleanup_free_ char *missed =
            json_path_int(o, "status.missed.count", 0) > 0
                ? str_printf("%lld, the last at %s: %s",
                             (long long)json_path_int(o, "status.missed.count", 0),
                             json_path_string(o, "status.missed.lastTime") ?: "?",
                             json_path_string(o, "status.missed.lastReason") ?: "?")
                : NULL;
        size_t i;
        json_t *v;

        field(out, 2, w, "Last Schedule", last);
        field(out, 2, w, "Last Successful", success);
        field(out, 2, w, "Next Schedule", json_path_string(o, "status.nextScheduleTime"));
        if (json_array_size(active) == 0)
                field(out, 2, w, "Active", NULL);
        json_array_foreach((json_t *)active, i, v)
        {
                field(out, 2, w, i == 0 ? "Active" : NULL, json_string_value(v));
        }
        field(out, 2, w, "Missed", missed ? missed : "0");
}

/* The next fire times, from now, computed as berthd computes them. */
static void describe_next_runs(FILE *out, const json_t *o, int64_t now_ms)
{
        _cleanup_(cron_schedule_freep) struct cron_schedule *s = NULL;
        _cleanup_(cron_zone_freep) struct cron_zone *z = NULL;
        int64_t created = 0, t = now_ms;
        char msg[256], ts[RFC3339_MAX];

        if (json_is_true(json_path(o, "spec.suspend"))) {
                field(out, 0, LABEL_WIDTH, "Next Runs", "<suspended>");
                return;
        }
        if (cron_schedule_parse(json_path_string(o, "spec.schedule") ?: "", &s, msg, sizeof(msg)) <
                0 ||
            cron_zone_open(json_path_string(o, "spec.timeZone"), &z, msg, sizeof(msg)) < 0) {
                field(out, 0, LABEL_WIDTH, "Next Runs", msg);
                return;
        }
        (void)time_parse_rfc3339(json_path_string(o, "metadata.creationTimestamp") ?: "", &created);
        fputs("Next Runs:\n", out);
        for (int k = 0; k < NEXT_RUNS_SHOWN; k++) {
                if (cron_next(s, z, created, t, &t) < 0) {
                        fputs(k == 0 ? "  <never>\n" : "", out);
                        return;
                }
                time_format_rfc3339(t, ts);
                fprintf(out, "  %s\n", ts);
        }
}

static int newest_first(const void *a, const void *b)
{
        const char *x = json_path_string(*(json_t *const *)a, "metadata.creationTimestamp");
        const char *y = json_path_string(*(json_t *const *)b, "metadata.creationTimestamp");

        return strcmp(y ? y : "", x ? x : "");
}

/* Its recent runs (children), newest first. */
static void describe_recent_runs(FILE *out, const json_t *runs, int64_t now_ms)
{
        static const char *const titles[] = {"RUN", "KIND", "PHASE", "SCHEDULED", "DURATION"};
        enum { N = ARRAY_SIZE(titles) };
        size_t n = json_array_size(runs);
        _cleanup_free_ json_t **sorted = n ? calloc(n, sizeof(json_t *)) : NULL;

        if (!runs) {
                field(out, 0, LABEL_WIDTH, "Recent Runs", "<unavailable>");
                return;
        }
        if (!sorted) {
                field(out, 0, LABEL_WIDTH, "Recent Runs", NULL);
                return;
        }
        for (size_t i = 0; i < n; i++)
                sorted[i] = json_array_get(runs, i);
        qsort(sorted, n, sizeof(*sorted), newest_first);
        if (n > RECENT_RUNS_SHOWN)
                n = RECENT_RUNS_SHOWN;
        char **cells = calloc(n * N, sizeof(char *));
        if (!cells)
                return;
        for (size_t i = 0; i < n; i++) {
                const json_t *r = sorted[i];
                char **row = cells + i * N;

                row[0] = cli_one_line(json_path_string(r, "metadata.name"), 0);
                row[1] = cli_one_line(json_path_string(r, "kind"), 0);
                row[2] = strdup(cli_phase_of(r));
                row[3] = cli_one_line(json_path_string(json_path(r, "metadata.annotations"),
                                                       CRONTASK_ANNOTATION_TIME),
                                      0);
                row[4] = cli_elapsed_text(json_path_string(r, "status.startTime"),
                                          json_path_string(r, "status.completionTime"), now_ms);
        }
        fputs("Recent Runs:\n", out);
        grid(out, titles, N, cells, n);
        free_cells(cells, n * N);
}

static void describe_crontask_sections(FILE *out, const json_t *o, const json_t *runs,
                                       int64_t now_ms)
{
        describe_next_runs(out, o, now_ms);
        describe_recent_runs(out, runs, now_ms);
}

/* ---- describe: Service -------------------------------------------------- */

/* "http 8080 <- 18080-18089/tcp": a port, its container port and the host
 * range its replicas take their ports from. Caller frees. */
static char *port_text(const json_t *p)
{
        const json_t *cport = json_object_get(p, "containerPort");
        _cleanup_free_ char *cp = json_is_integer(cport)
                                      ? str_printf(" %lld", (long long)json_integer_value(cport))
                                      : strdup("");
        return str_printf("%s%s <- %lld-%lld/%s",
                          json_string_value(json_object_get(p, "name")) ?: "?", cp ? cp : "",
                          (long long)json_path_int(p, "hostPortRange.from", 0),
                          (long long)json_path_int(p, "hostPortRange.to", 0),
                          json_string_value(json_object_get(p, "protocol")) ?: "tcp");
}

/* "http GET :http/healthz every 5s (timeout 2s, 3 failures, start period 0s)". */
static char *health_text(const json_t *hc)
{
        _cleanup_free_ char *what = NULL;
        char every[32], timeout[32], start[32];

        if (!json_is_object(hc))
                return NULL;
        const json_t *exec = json_object_get(hc, "exec");
        const json_t *http = json_object_get(hc, "http");
        const json_t *tcp = json_object_get(hc, "tcp");
        if (exec) {
                _cleanup_free_ char *words = join_words(json_object_get(exec, "command"));
                what = str_printf("exec %s", words ? words : "");
        } else if (http) {
                _cleanup_free_ char *port = cli_scalar_text(json_object_get(http, "port"));
                what = str_printf("http GET :%s%s", port ? port : "?",
                                  json_string_value(json_object_get(http, "path")) ?: "/");
        } else if (tcp) {
                _cleanup_free_ char *port = cli_scalar_text(json_object_get(tcp, "port"));
                what = str_printf("tcp :%s", port ? port : "?");
        } else {
                what = strdup("?");
        }
        duration_format(json_path_int(hc, "intervalSeconds", 5) * 1000, every, sizeof(every));
        duration_format(json_path_int(hc, "timeoutSeconds", 2) * 1000, timeout, sizeof(timeout));
        duration_format(json_path_int(hc, "startPeriodSeconds", 0) * 1000, start, sizeof(start));
        return str_printf("%s every %s (timeout %s, %lld failures, start period %s)",
                          what ? what : "?", every, timeout,
                          (long long)json_path_int(hc, "failureThreshold", 3), start);
}

static void describe_service_spec(FILE *out, const json_t *o)
{
        const int w = 19;
        const json_t *ports = json_path(o, "spec.ports");
        const char *strategy = json_path_string(o, "spec.updateStrategy.type") ?: "RollingUpdate";
        _cleanup_free_ char *replicas = cli_scalar_text(json_path(o, "spec.replicas"));
        _cleanup_free_ char *command = join_words(json_path(o, "spec.template.command"));
        _cleanup_free_ char *args = join_words(json_path(o, "spec.template.args"));
        _cleanup_free_ char *health = health_text(json_path(o, "spec.healthCheck"));
        _cleanup_free_ char *min_ready = seconds_text(json_path(o, "spec.minReadySeconds"));
        _cleanup_free_ char *deadline = seconds_text(json_path(o, "spec.progressDeadlineSeconds"));
        _cleanup_free_ char *grace = seconds_text(json_path(o, "spec.stopGracePeriodSeconds"));
        _cleanup_free_ char *strat =
            streq(strategy, "RollingUpdate")
                ? str_printf("%s (max surge %lld, max unavailable %lld)", strategy,
                             (long long)json_path_int(o, "spec.updateStrategy.maxSurge", 1),
                             (long long)json_path_int(o, "spec.updateStrategy.maxUnavailable", 0))
                : strdup(strategy);
        size_t i;
        json_t *p;

        fputs("Spec:\n", out);
        field(out, 2, w, "Replicas", replicas);
        field(out, 2, w, "Image", json_path_string(o, "spec.template.image"));
        field(out, 2, w, "Command", command);
        field(out, 2, w, "Args", args);
        if (json_array_size(ports) == 0)
                field(out, 2, w, "Ports", NULL);
        json_array_foreach((json_t *)ports, i, p)
        {
                _cleanup_free_ char *t = port_text(p);
                field(out, 2, w, i == 0 ? "Ports" : NULL, t);
        }
        field(out, 2, w, "Health Check", health);
        field(out, 2, w, "Update Strategy", strat);
        field(out, 2, w, "Min Ready", min_ready);
        field(out, 2, w, "Progress Deadline", deadline);
        field(out, 2, w, "Stop Grace Period", grace);
        if (json_path_string(o, "spec.restartedAt"))
                field(out, 2, w, "Restarted At", json_path_string(o, "spec.restartedAt"));
}

static void describe_service_status(FILE *out, const json_t *o, int64_t now_ms)
{
        const int w = 18;
        int64_t want = json_path_int(o, "spec.replicas", 1);
        int64_t total = json_path_int(o, "status.replicas", 0);
        int64_t available = json_path_int(o, "status.availableReplicas", 0);
        int64_t update = json_path_int(o, "status.updateRevision", 0);
        int64_t current = json_path_int(o, "status.currentRevision", update);
        _cleanup_free_ char *replicas = str_printf(
            "%lld desired | %lld updated | %lld total | %lld available | %lld unavailable",
            (long long)want, (long long)json_path_int(o, "status.updatedReplicas", 0),
            (long long)total, (long long)available,
            (long long)(want > available ? want - available : 0));
        _cleanup_free_ char *ready = str_printf(
            "%lld/%lld", (long long)json_path_int(o, "status.readyReplicas", 0), (long long)want);
        _cleanup_free_ char *restarts =
            str_printf("%lld", (long long)json_path_int(o, "status.restarts", 0));
        _cleanup_free_ char *revision =
            update == 0 ? NULL
            : current != update
                ? str_printf("%lld (rolling out from %lld)", (long long)update, (long long)current)
                : str_printf("%lld", (long long)update);
        _cleanup_free_ char *started =
            current != update
                ? time_with_age(json_path_string(o, "status.rolloutStartTime"), now_ms)
                : NULL;

        field(out, 2, w, "Replicas", replicas);
        field(out, 2, w, "Ready", ready);
        field(out, 2, w, "Restarts", restarts);
        field(out, 2, w, "Revision", revision);
        field(out, 2, w, "Revision Hash", json_path_string(o, "status.updateRevisionHash"));
        if (started)
                field(out, 2, w, "Rollout Started", started);
}

/* "http=18080,metrics=18090", by name. Caller frees; NULL when none. */
static char *host_ports_text(const json_t *map)
{
        size_t n = json_is_object(map) ? json_object_size(map) : 0;
        _cleanup_free_ const char **keys = n ? calloc(n, sizeof(char *)) : NULL;
        _cleanup_buf_ struct buf b = {0};
        size_t i = 0;
        const char *k;
        json_t *v;

        if (!keys)
                return NULL;
        json_object_foreach((json_t *)map, k, v) keys[i++] = k;
        qsort(keys, n, sizeof(char *), cmp_str);
        buf_init(&b, 4096);
        for (i = 0; i < n; i++) {
                _cleanup_free_ char *port = cli_scalar_text(json_object_get(map, keys[i]));
                buf_printf(&b, "%s%s=%s", i ? "," : "", keys[i], port ? port : "");
        }
        return buf_steal(&b);
}

/* The replica table from status.replicaStatuses, then their messages. */
static void describe_service_replicas(FILE *out, const json_t *o, const json_t *extra,
                                      int64_t now_ms)
{
        static const char *const titles[] = {"INDEX", "REVISION", "CONTAINER", "STATE", "HEALTH",
                                             "READY", "RESTARTS", "LAST-EXIT", "PORTS"};
        enum { N = ARRAY_SIZE(titles) };
        const json_t *rs = json_path(o, "status.replicaStatuses");
        const char *name = json_path_string(o, "metadata.name") ?: "?";
        size_t n = json_is_array(rs) ? json_array_size(rs) : 0;
        char **cells = n ? calloc(n * N, sizeof(char *)) : NULL;
        bool messages = false;
        (void)extra;
        (void)now_ms;

        if (!cells) {
                field(out, 0, LABEL_WIDTH, "Replicas", NULL);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                const json_t *r = json_array_get(rs, i);
                const json_t *code = json_object_get(r, "lastExitCode");
                const char *reason = json_string_value(json_object_get(r, "lastExitReason"));
                char **row = cells + i * N;

                row[0] = cli_scalar_text(json_object_get(r, "index"));
                row[1] = cli_scalar_text(json_object_get(r, "revision"));
                row[2] = cli_one_line(json_string_value(json_object_get(r, "container")), 0);
                row[3] = cli_one_line(json_string_value(json_object_get(r, "state")), 0);
                row[4] = cli_one_line(json_string_value(json_object_get(r, "health")), 0);
                row[5] = strdup(json_is_true(json_object_get(r, "ready")) ? "true" : "false");
                row[6] = str_printf("%lld",
                                    (long long)json_integer_value(json_object_get(r, "restarts")));
                row[7] =
                    json_is_integer(code)
                        ? str_printf("%lld%s%s%s", (long long)json_integer_value(code),
                                     reason ? " (" : "", reason ? reason : "", reason ? ")" : "")
                        : NULL;
                row[8] = host_ports_text(json_object_get(r, "hostPorts"));
                const char *msg = json_string_value(json_object_get(r, "message"));
                messages = messages || (msg && *msg);
        }
        fputs("Replicas:\n", out);
        grid(out, titles, N, cells, n);
        free_cells(cells, n * N);
        if (!messages)
                return;
        fputs("Replica Messages:\n", out);
        for (size_t i = 0; i < n; i++) {
                const json_t *r = json_array_get(rs, i);
                const char *msg = json_string_value(json_object_get(r, "message"));
                if (!msg || !*msg)
                        continue;
                _cleanup_free_ char *line = cli_one_line(msg, 0);
                fprintf(out, "  %s-%lld: %s\n", name,
                        (long long)json_integer_value(json_object_get(r, "index")),
                        line ? line : "");
        }
}

/* ---- describe: Source ---------------------------------------------------- */

#define SOURCE_ENTRIES_SHOWN 50 /* errors, conflicts and pruned objects listed */

/* "a, b, c" of an array of strings; NULL when empty. Caller frees. */
static char *join_strings(const json_t *arr)
{
        _cleanup_buf_ struct buf b = {0};
        size_t i;
        json_t *v;

        if (json_array_size(arr) == 0)
                return NULL;
        buf_init(&b, 64 * 1024);
        json_array_foreach((json_t *)arr, i, v)
        {
                _cleanup_free_ char *s = cli_scalar_text(v);
                buf_printf(&b, "%s%s", i ? ", " : "", s ? s : "");
        }
        return buf_steal(&b);
}

static void describe_source_spec(FILE *out, const json_t *o)
{
        const int w = 20;
        const json_t *fraction = json_path(o, "spec.maxPruneFraction");
        _cleanup_free_ char *include = join_strings(json_path(o, "spec.include"));
        _cleanup_free_ char *exclude = join_strings(json_path(o, "spec.exclude"));
        _cleanup_free_ char *allowed = join_strings(json_path(o, "spec.allowedNamespaces"));
        _cleanup_free_ char *max = cli_scalar_text(fraction);
        _cleanup_free_ char *prune =
            json_is_false(json_path(o, "spec.prune"))
                ? strdup("false")
                : str_printf("true (at most %s of the objects at once)", max ? max : "0.5");
        char debounce[32], rescan[32];

        duration_format(json_path_int(o, "spec.debounceMilliseconds", 300), debounce,
                        sizeof(debounce));
        duration_format(json_path_int(o, "spec.rescanSeconds", 600) * 1000, rescan, sizeof(rescan));
        fputs("Spec:\n", out);
        field(out, 2, w, "Path", json_path_string(o, "spec.path"));
        field(out, 2, w, "Recursive",
              json_is_false(json_path(o, "spec.recursive")) ? "false" : "true");
        field(out, 2, w, "Include", include);
        field(out, 2, w, "Exclude", exclude);
        field(out, 2, w, "Target Namespace",
              json_path_string(o, "spec.targetNamespace")
                  ?: json_path_string(o, "metadata.namespace"));
        field(out, 2, w, "Allowed Namespaces", allowed);
        field(out, 2, w, "Prune", prune);
        field(out, 2, w, "Debounce", debounce);
        field(out, 2, w, "Rescan", rescan);
        field(out, 2, w, "Suspend", json_is_true(json_path(o, "spec.suspend")) ? "true" : "false");
}

static void describe_source_status(FILE *out, const json_t *o, int64_t now_ms)
{
        const int w = 14;
        const char *revision = json_path_string(o, "status.revision");
        const char *revision_kind = json_path_string(o, "status.revisionKind");
        _cleanup_free_ char *rev =
            revision && revision_kind ? str_printf("%s (%s)", revision, revision_kind) : NULL;
        _cleanup_free_ char *synced =
            time_with_age(json_path_string(o, "status.lastSyncTime"), now_ms);
        _cleanup_free_ char *applied =
            time_with_age(json_path_string(o, "status.lastAppliedTime"), now_ms);
        _cleanup_free_ char *files = cli_scalar_text(json_path(o, "status.files"));
        _cleanup_free_ char *by_kind = cli_source_objects_text(json_path(o, "status.objects"));
        _cleanup_free_ char *objects =
            str_printf("%lld%s%s%s", (long long)json_path_int(o, "status.objectCount", 0),
                       by_kind && *by_kind ? " (" : "", by_kind ? by_kind : "",
                       by_kind && *by_kind ? ")" : "");

        field(out, 2, w, "Revision", rev ? rev : revision);
        field(out, 2, w, "Last Sync", synced);
        field(out, 2, w, "Last Applied", applied);
        field(out, 2, w, "Files", files ? files : "0");
        field(out, 2, w, "Objects", objects);
}

/* A section of status entries, one a line, at most SOURCE_ENTRIES_SHOWN. */
static void source_entries(FILE *out, const char *title, const json_t *arr,
                           char *(*text)(const json_t *))
{
        size_t n = json_array_size(arr);

        if (n == 0) {
                field(out, 0, LABEL_WIDTH, title, NULL);
                return;
        }
        fprintf(out, "%s:\n", title);
        for (size_t i = 0; i < n && i < SOURCE_ENTRIES_SHOWN; i++) {
                _cleanup_free_ char *t = text(json_array_get(arr, i));
                fprintf(out, "  %s\n", t ? t : "?");
        }
        if (n > SOURCE_ENTRIES_SHOWN)
                fprintf(out, "  ... and %zu more\n", n - SOURCE_ENTRIES_SHOWN);
}

static void describe_source_sections(FILE *out, const json_t *o, const json_t *extra,
                                     int64_t now_ms)
{
        const int w = 10;
        const json_t *prune = json_path(o, "status.lastPrune");
        const json_t *deleted = json_object_get(prune, "deleted");
        const char *refused = json_string_value(json_object_get(prune, "refused"));
        const json_t *drift = json_path(o, "status.drift");
        (void)extra;

        source_entries(out, "Errors", json_path(o, "status.errors"), cli_source_error_text);
        source_entries(out, "Conflicts", json_path(o, "status.conflicts"),
                       cli_source_conflict_text);
        if (!json_is_object(prune)) {
                field(out, 0, LABEL_WIDTH, "Last Prune", NULL);
        } else {
                _cleanup_free_ char *at =
                    time_with_age(json_string_value(json_object_get(prune, "time")), now_ms);
                size_t n = json_array_size(deleted);

                fputs("Last Prune:\n", out);
                field(out, 2, w, "Time", at);
                if (n == 0)
                        field(out, 2, w, "Deleted", "none");
                for (size_t i = 0; i < n && i < SOURCE_ENTRIES_SHOWN; i++)
                        field(out, 2, w, i == 0 ? "Deleted" : NULL,
                              json_string_value(json_array_get(deleted, i)));
                if (n > SOURCE_ENTRIES_SHOWN) {
                        _cleanup_free_ char *more =
                            str_printf("... and %zu more", n - SOURCE_ENTRIES_SHOWN);
                        field(out, 2, w, NULL, more);
                }
                if (refused && *refused)
                        field(out, 2, w, "Refused", refused);
        }
        if (!json_is_object(drift)) {
                field(out, 0, LABEL_WIDTH, "Drift", NULL);
        } else {
                _cleanup_free_ char *count =
                    str_printf("%lld corrected", (long long)json_path_int(drift, "count", 0));
                _cleanup_free_ char *at =
                    time_with_age(json_path_string(drift, "last.time"), now_ms);
                _cleanup_free_ char *last =
                    at ? str_printf("%s at %s", json_path_string(drift, "last.object") ?: "?", at)
                       : NULL;

                fputs("Drift:\n", out);
                field(out, 2, w, "Count", count);
                field(out, 2, w, "Last", last);
        }
}

/* ---- events --------------------------------------------------------------- */

/* kubectl's AGE of an Event: since it last happened, and for a repeat how
 * often since when: "30s (x4 over 12m)". */
static char *event_age_text(const json_t *e, int64_t now_ms)
{
        const char *last = json_string_value(json_object_get(e, "lastTimestamp"));
        const char *first = json_string_value(json_object_get(e, "firstTimestamp"));
        json_int_t count = json_integer_value(json_object_get(e, "count"));
        int64_t t0, t1;
        char a[32], b[32];

        if (!last || time_parse_rfc3339(last, &t1) < 0)
                return strdup("<unknown>");
        age_format(now_ms > t1 ? now_ms - t1 : 0, a, sizeof(a));
        if (count <= 1 || !first || time_parse_rfc3339(first, &t0) < 0)
                return strdup(a);
        age_format(now_ms > t0 ? now_ms - t0 : 0, b, sizeof(b));
        return str_printf("%s (x%lld over %s)", a, (long long)count, b);
}

static void describe_events(FILE *out, const json_t *events, int64_t now_ms)
{
        static const char *const titles[] = {"TYPE", "REASON", "AGE", "FROM", "MESSAGE"};
        enum { N = ARRAY_SIZE(titles) };
        size_t total = json_array_size(events);
        size_t first = total > CLI_DESCRIBE_EVENTS_MAX ? total - CLI_DESCRIBE_EVENTS_MAX : 0;
        size_t n = total - first;
        char **cells = n ? calloc(n * N, sizeof(char *)) : NULL;

        if (!cells) {
                field(out, 0, LABEL_WIDTH, "Events", NULL);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                const json_t *e = json_array_get(events, first + i);
                char **row = cells + i * N;

                row[0] = cli_one_line(json_string_value(json_object_get(e, "type")), 0);
                row[1] = cli_one_line(json_string_value(json_object_get(e, "reason")), 0);
                row[2] = event_age_text(e, now_ms);
                row[3] = cli_one_line(json_path_string(e, "source.component"), 0);
                row[4] = cli_one_line(json_string_value(json_object_get(e, "message")), 0);
        }
        fputs("Events:\n", out);
        grid(out, titles, N, cells, n);
        free_cells(cells, n * N);
}

/* ---- describe: Notifier ------------------------------------------------- */

/* The counts, the last delivery on one line ("Sent (200) for Failed of
 * task/etl, 2 attempts, at <time> (<age>)") and the last error. */
static void describe_notifier_status(FILE *out, const json_t *o, int64_t now_ms)
{
        const int w = 16;
        const json_t *last = json_path(o, "status.lastDelivery");
        const char *kind = json_path_string(last, "object.kind");
        _cleanup_free_ char *at = time_with_age(json_path_string(last, "time"), now_ms);
        _cleanup_free_ char *code = cli_scalar_text(json_object_get(last, "code"));
        _cleanup_free_ char *lower = kind ? strdup(kind) : NULL;
        _cleanup_free_ char *error_at =
            time_with_age(json_path_string(o, "status.lastErrorTime"), now_ms);
        static const char *const counts[] = {"delivered", "failures", "dropped"};
        static const char *const labels[] = {"Delivered", "Failures", "Dropped"};

        for (char *c = lower; c && *c; c++)
                *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
        for (size_t i = 0; i < ARRAY_SIZE(counts); i++) {
                _cleanup_free_ char *n =
                    cli_scalar_text(json_object_get(json_object_get(o, "status"), counts[i]));
                field(out, 2, w, labels[i], n ? n : "0");
        }
        _cleanup_free_ char *what =
            last ? str_printf("%s%s%s%s for %s of %s/%s, %lld attempt%s, at %s",
                              json_path_string(last, "result") ?: "?", code ? " (" : "",
                              code ? code : "", code ? ")" : "",
                              json_path_string(last, "event") ?: "?", lower ? lower : "?",
                              json_path_string(last, "object.name") ?: "?",
                              (long long)json_path_int(last, "attempts", 0),
                              json_path_int(last, "attempts", 0) == 1 ? "" : "s", at ? at : "?")
                 : NULL;
        field(out, 2, w, "Last Delivery", what);
        field(out, 2, w, "Last Error", json_path_string(o, "status.lastError"));
        if (error_at)
                field(out, 2, w, "Error At", error_at);
}

/* ---- describe: every kind ----------------------------------------------- */

/* What describe shows of a kind beyond the generic parts. */
struct kind_describer {
        const char *kind;
        /* The Spec section (NULL: the spec as YAML). */
        void (*spec)(FILE *out, const json_t *o);
        /* Status fields after Phase, Reason and Message. */
        void (*status)(FILE *out, const json_t *o, int64_t now_ms);
        /* Sections after Conditions; extra as passed to cli_describe(). */
        void (*sections)(FILE *out, const json_t *o, const json_t *extra, int64_t now_ms);
};

static const struct kind_describer describers[] = {
    {
        .kind = "Task",
        .spec = describe_task_spec,
        .status = describe_task_status,
        .sections = describe_task_queue,
    },
    {
        .kind = "Workflow",
        .spec = describe_workflow_spec,
        .status = describe_workflow_status,
        .sections = describe_workflow_sections,
    },
    {
        .kind = "CronTask",
        .spec = describe_crontask_spec,
        .status = describe_crontask_status,
        .sections = describe_crontask_sections,
    },
    {
        .kind = "Service",
        .spec = describe_service_spec,
        .status = describe_service_status,
        .sections = describe_service_replicas,
    },
    {
        .kind = "Source",
        .spec = describe_source_spec,
        .status = describe_source_status,
        .sections = describe_source_sections,
    },
    {
        .kind = "Notifier",
        .status = describe_notifier_status,
    },
};

static const struct kind_describer generic_describer = {
    .spec = describe_generic_spec,
};

static const struct kind_describer *describer_of(const struct kind_info *kind)
{
        for (size_t i = 0; kind && i < ARRAY_SIZE(describers); i++)
                if (streq(kind->kind, describers[i].kind))
                        return &describers[i];
        return &generic_describer;
}

int cli_describe(FILE *out, const struct kind_info *kind, const json_t *o, const json_t *results,
                 const json_t *events, int64_t now_ms)
{
        const int w = 12;
        const struct kind_describer *kp = describer_of(kind);
        _cleanup_free_ char *created =
            time_with_age(json_path_string(o, "metadata.creationTimestamp"), now_ms);
        _cleanup_free_ char *generation = cli_scalar_text(json_path(o, "metadata.generation"));
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

        (kp->spec ? kp->spec : describe_generic_spec)(out, o);

        fputs("Status:\n", out);
        /* Kinds that run to completion have a phase; others (a CronTask) do not. */
        if (!kind || kind->runs_to_completion || json_path(o, "status.phase")) {
                field(out, 2, w, "Phase", cli_phase_of(o));
                field(out, 2, w, "Reason", json_path_string(o, "status.reason"));
                field(out, 2, w, "Message", json_path_string(o, "status.message"));
        }
        if (kp->status)
                kp->status(out, o, now_ms);
        describe_conditions(out, json_path(o, "status.conditions"));
        if (kp->sections)
                kp->sections(out, o, results, now_ms);
        describe_events(out, events, now_ms);
        return ferror(out) ? -EIO : 0;
}
