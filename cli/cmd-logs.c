/* berth logs: a task's container output, streamed as it arrives; for a
 * workflow, the output of each step's task in turn, or of one step with
 * --step (a fanned-out step's children side by side, each line after
 * "[STEP-INDEX] "); for a service, the output of its replicas side by side,
 * each line after "[NAME-INDEX] ". */
#include <limits.h>

#include "cli-internal.h"

#define LOG_LINE_MAX   (64 * 1024) /* longer replica log lines are cut into pieces */
#define LOG_FOLLOW_MAX 64          /* replica streams followed at once */
#define LOG_PARALLEL   8           /* replica logs read at once without -f */
#define LOG_PREFIX_MAX 80          /* "[<name>-<index>] " */

struct log_out {
        FILE *out;
        char last; /* last byte written, '\n' before any */
};

static int on_chunk(const char *data, size_t len, void *userdata)
{
        struct log_out *lo = userdata;
        if (fwrite(data, 1, len, lo->out) != len)
                return -EIO;
        if (len > 0)
                lo->last = data[len - 1];
        /* -f output must show up as it arrives, also through a pipe. */
        fflush(lo->out);
        return 0;
}

static int parse_int(const char *s, long min, long *ret)
{
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < min || v > INT_MAX)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* Streams one task's log (path = its /log URL) to ctx->out. Returns 0;
 * -EPROTO after printing the server's error; -EIO when out failed (the reader
 * went away); another -errno after printing a transport error. */
static int task_log(struct cli_ctx *ctx, const char *path, struct log_out *lo)
{
        _cleanup_reply_ struct cli_reply err = {0};
        int r = cli_stream(ctx, path, false, 0, on_chunk, lo, &err);

        fflush(ctx->out);
        if (r == -EPROTO) {
                cli_status_print(ctx, &err);
                return r;
        }
        if (r == -EIO && ferror(ctx->out))
                return -EIO;
        return r < 0 ? r : 0;
}

/* ---- several logs side by side ------------------------------------------ */

/* One of the logs prefixed_logs() prints. */
struct prefixed_log {
        FILE *out;
        char prefix[LOG_PREFIX_MAX]; /* "[web-0] " */
        char *path;                  /* its /log URL, owned */
};

static void prefixed_logs_free(struct prefixed_log *logs, size_t n)
{
        for (size_t i = 0; logs && i < n; i++)
                free(logs[i].path);
        free(logs);
}

/* One whole line of one log (cli_stream_many delivers nothing less), so
 * lines of different logs never mix. */
static int on_prefixed_line(const char *line, size_t len, void *userdata)
{
        struct prefixed_log *pl = userdata;

        fputs(pl->prefix, pl->out);
        fwrite(line, 1, len, pl->out);
        fputc('\n', pl->out);
        /* -f output must show up as it arrives, also through a pipe. */
        fflush(pl->out);
        return ferror(pl->out) ? -EIO : 0;
}

/* Streams the logs at once, at most parallel at a time (0: all), and prints
 * their lines as they arrive, each after its prefix. A log that cannot be
 * had is reported on ctx->err after its prefix and the others still printed
 * (exit 1). The exit code. */
static int prefixed_logs(struct cli_ctx *ctx, struct prefixed_log *logs, size_t n, size_t parallel)
{
        _cleanup_free_ struct cli_stream_item *items = calloc(n ? n : 1, sizeof(*items));
        bool failed = false;

        if (!items)
                return cli_fail(ctx, "out of memory");
        for (size_t i = 0; i < n; i++)
                items[i] = (struct cli_stream_item){
                    .path = logs[i].path, .fn = on_prefixed_line, .userdata = &logs[i]};
        int r = cli_stream_many(ctx, items, n, parallel, LOG_LINE_MAX);
        for (size_t i = 0; i < n; i++) {
                if (r == 0 && items[i].result == -EPROTO) {
                        _cleanup_free_ char *msg =
                            cli_status_format(items[i].error.status, items[i].error.body.data,
                                              items[i].error.body.len);
                        fprintf(ctx->err, "%s%s\n", logs[i].prefix,
                                msg ? msg : "Error from server");
                }
                if (items[i].result < 0)
                        failed = true;
                cli_reply_release(&items[i].error);
        }
        if (r == -ENOMEM)
                return cli_fail(ctx, "out of memory");
        return r < 0 || failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

/* ---- a workflow's steps ---------------------------------------------------- */

/* The status of step name: its entry of status.steps, or status.onExit for
 * WORKFLOW_EXIT_STEP. NULL when the Workflow has no such step (yet). */
static const json_t *step_status(const json_t *workflow, const char *name)
{
        const json_t *exit_status = json_path(workflow, "status.onExit");
        size_t i;
        json_t *s;

        json_array_foreach(json_path(workflow, "status.steps"), i, s)
        {
                if (streq(json_string_value(json_object_get(s, "name")), name))
                        return s;
        }
        if (streq(name, WORKFLOW_EXIT_STEP) && json_is_object(exit_status))
                return exit_status;
        return NULL;
}

/* "extract, transform, load, onExit": the steps of the spec (of the status
 * before berthd wrote a spec'd one) and the exit handler. Caller frees. */
static char *step_names(const json_t *workflow)
{
        const json_t *steps = json_path(workflow, "spec.steps");
        _cleanup_buf_ struct buf b = {0};
        size_t i;
        json_t *s;

        if (!json_is_array(steps) || json_array_size(steps) == 0)
                steps = json_path(workflow, "status.steps");
        buf_init(&b, 64 * 1024);
        json_array_foreach((json_t *)steps, i, s)
        {
                const char *name = json_string_value(json_object_get(s, "name"));
                if (name && buf_printf(&b, "%s%s", b.len ? ", " : "", name) < 0)
                        break;
        }
        if (json_path(workflow, "spec.onExit") ||
            json_is_object(json_path(workflow, "status.onExit")))
                (void)buf_printf(&b, "%s%s", b.len ? ", " : "", WORKFLOW_EXIT_STEP);
        return strdup(b.len ? b.data : "none yet");
}

/* A fanned-out step (status items set) has children instead of a task. */
static bool fanned_out(const json_t *step)
{
        return json_is_integer(json_object_get(step, "items"));
}

/* The logs of a fanned-out step's children, "<workflow>-<step>-<i>" for i
 * below status created, side by side, each line after "[<step>-<i>] " (q:
 * the query after the task's path, "/log?..."). -f follows
 * LOG_FOLLOW_MAX at once, the others waiting their turn. The exit code;
 * *ret_none when no child was created yet (nothing printed). */
static int children_logs(struct cli_ctx *ctx, const char *workflow, const char *step,
                         const json_t *status, const char *q, bool follow, bool *ret_none)
{
        const struct kind_info *task = kind_by_name("Task");
        int64_t created = json_integer_value(json_object_get(status, "created"));
        int64_t items = json_integer_value(json_object_get(status, "items"));

        if (created > items)
                created = items;
        *ret_none = created <= 0;
        if (created <= 0)
                return CLI_EXIT_OK;
        size_t n = (size_t)created;
        struct prefixed_log *logs = calloc(n, sizeof(*logs));
        if (!logs)
                return cli_fail(ctx, "out of memory");
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *child = str_printf("%s-%s-%zu", workflow, step, i);
                logs[i].out = ctx->out;
                snprintf(logs[i].prefix, sizeof(logs[i].prefix), "[%s-%zu] ", step, i);
                logs[i].path = child ? cli_path(task, ctx->ns, child, q) : NULL;
                if (!logs[i].path) {
                        prefixed_logs_free(logs, n);
                        return cli_fail(ctx, "out of memory");
                }
        }
        int r = prefixed_logs(ctx, logs, n, follow ? LOG_FOLLOW_MAX : LOG_PARALLEL);
        prefixed_logs_free(logs, n);
        return r;
}

/* GETs a Workflow; prints NotFound. 0 or -errno. */
static int get_workflow(struct cli_ctx *ctx, const struct kind_info *workflow, const char *name,
                        json_t **ret)
{
        int r = cli_get_object(ctx, workflow, ctx->ns, name, ret);

        if (r == -ENOENT)
                fprintf(ctx->err, "Error from server (NotFound): %s \"%s\" not found\n",
                        workflow->resource, name);
        return r;
}

static bool is_build_step(const json_t *workflow, const char *step)
{
        size_t i;
        const json_t *s;

        json_array_foreach(json_path(workflow, "spec.steps"), i, s)
        {
                if (streq(json_string_value(json_object_get(s, "name")), step))
                        return json_object_get(s, "build") != NULL;
        }
        return false;
}

/* A build step's log: the snapshot berthd stores as its file output "log"
 * (every few seconds while it builds, then once more when it ended). */
static int build_log(struct cli_ctx *ctx, const char *workflow, const char *step, const char *phase,
                     bool follow)
{
        _cleanup_reply_ struct cli_reply reply = {0};

        if (follow)
                return cli_fail(ctx,
                                "step %s builds an image: its log cannot be followed, berthd "
                                "stores it every few seconds (run again without -f)",
                                step);
        if (streq(phase, "Pending"))
                return cli_fail(ctx, "step %s of workflow/%s has not started yet", step, workflow);
        int r = cli_workflow_file(ctx, workflow, step, WORKFLOW_BUILD_LOG_FILE, &reply);
        if (r != CLI_EXIT_OK)
                return r;
        if (reply.body.len > 0 &&
            (fwrite(reply.body.data, 1, reply.body.len, ctx->out) != reply.body.len ||
             fflush(ctx->out) != 0))
                return cli_fail(ctx, "cannot write the output");
        return CLI_EXIT_OK;
}

/* --step: the log of that step's Task (-f follows it), or of a fanned-out
 * step's children side by side; WORKFLOW_EXIT_STEP is the exit handler. */
static int step_logs(struct cli_ctx *ctx, const struct kind_info *workflow, const char *name,
                     const char *step, const char *q, bool follow)
{
        _cleanup_json_ json_t *o = NULL;
        struct log_out lo = {.out = ctx->out, .last = '\n'};

        if (get_workflow(ctx, workflow, name, &o) < 0)
                return CLI_EXIT_FAIL;
        const json_t *st = step_status(o, step);
        if (!st) {
                _cleanup_free_ char *names = step_names(o);
                return cli_fail(ctx, "%s/%s has no step \"%s\" (steps: %s)", workflow->singular,
                                name, step, names ? names : "?");
        }
        const char *phase = json_string_value(json_object_get(st, "phase"));
        if (!phase || !*phase)
                phase = "Pending";
        if (fanned_out(st)) {
                bool none = false;
                int r = children_logs(ctx, name, step, st, q, follow, &none);
                if (none)
                        return cli_fail(ctx, "step %s of %s/%s has no tasks yet (%s)", step,
                                        workflow->singular, name, phase);
                return r;
        }
        if (is_build_step(o, step))
                return build_log(ctx, name, step, phase, follow);
        const char *task = json_string_value(json_object_get(st, "task"));
        const char *service = json_string_value(json_object_get(st, "service"));
        if ((!task || !*task) && service && *service)
                return cli_fail(ctx,
                                "step %s of %s/%s deploys service/%s and runs no task: see berth "
                                "logs service/%s",
                                step, workflow->singular, name, service, service);
        if (!task || !*task)
                return cli_fail(ctx, "step %s of %s/%s has no task yet (%s)", step,
                                workflow->singular, name, phase);
        _cleanup_free_ char *path = cli_path(kind_by_name("Task"), ctx->ns, task, q);
        if (!path)
                return cli_fail(ctx, "out of memory");
        return task_log(ctx, path, &lo) < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

/* The logs of every step's Task, in status.steps order and then the exit
 * handler's, each after a header line "==> step NAME (task TASK) <==" like
 * tail(1) with several files; a fanned-out step's children side by side
 * after "==> step NAME (N tasks) <==". Steps without a Task yet are skipped.
 * A step whose log cannot be had is reported and the others still printed
 * (exit 1). */
static int workflow_logs(struct cli_ctx *ctx, const struct kind_info *workflow, const char *name,
                         const char *query)
{
        const struct kind_info *task = kind_by_name("Task");
        _cleanup_json_ json_t *o = NULL;
        struct log_out lo = {.out = ctx->out, .last = '\n'};
        const json_t *steps;
        size_t shown = 0;
        bool failed = false;
        int r;

        if (get_workflow(ctx, workflow, name, &o) < 0)
                return CLI_EXIT_FAIL;
        steps = json_path(o, "status.steps");
        size_t n = json_is_array(steps) ? json_array_size(steps) : 0;
        for (size_t i = 0; i <= n; i++) {
                const json_t *step =
                    i < n ? json_array_get(steps, i) : json_path(o, "status.onExit");
                const char *step_name = json_string_value(json_object_get(step, "name"));
                const char *task_name = json_string_value(json_object_get(step, "task"));
                int64_t created = json_integer_value(json_object_get(step, "created"));
                if (i == n && !step_name)
                        step_name = WORKFLOW_EXIT_STEP;
                if (fanned_out(step) ? created <= 0 : !task_name || !*task_name)
                        continue;
                if (lo.last != '\n')
                        fputc('\n', ctx->out);
                if (fanned_out(step))
                        fprintf(ctx->out, "%s==> step %s (%lld tasks) <==\n",
                                shown++ > 0 ? "\n" : "", step_name ? step_name : "?",
                                (long long)created);
                else
                        fprintf(ctx->out, "%s==> step %s (task %s) <==\n", shown++ > 0 ? "\n" : "",
                                step_name ? step_name : "?", task_name);
                fflush(ctx->out);
                lo.last = '\n';
                if (fanned_out(step)) {
                        bool none = false;
                        if (children_logs(ctx, name, step_name ? step_name : "?", step, query,
                                          false, &none) != CLI_EXIT_OK)
                                failed = true;
                        if (ferror(ctx->out))
                                return CLI_EXIT_FAIL;
                        continue;
                }
                _cleanup_free_ char *path = cli_path(task, ctx->ns, task_name, query);
                if (!path)
                        return cli_fail(ctx, "out of memory");
                r = task_log(ctx, path, &lo);
                if (r == -EIO)
                        return CLI_EXIT_FAIL;
                if (r < 0)
                        failed = true;
        }
        if (shown == 0)
                fprintf(ctx->err, "%s/%s: no step has a task yet\n", workflow->singular, name);
        return failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

/* ---- a service's replicas ------------------------------------------------ */

static int cmp_index(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return x < y ? -1 : x > y;
}

/* The replica indexes in status.replicaStatuses, each once, ascending.
 * Returns how many (caller frees *ret), or -ENOMEM. */
static int replica_indexes(const json_t *service, int64_t **ret)
{
        const json_t *rs = json_path(service, "status.replicaStatuses");
        size_t n = json_is_array(rs) ? json_array_size(rs) : 0, k = 0;
        _cleanup_free_ int64_t *idx = n ? calloc(n, sizeof(*idx)) : NULL;

        if (n && !idx)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const json_t *v = json_object_get(json_array_get(rs, i), "index");
                if (json_is_integer(v) && json_integer_value(v) >= 0)
                        idx[k++] = json_integer_value(v);
        }
        if (k > 0)
                qsort(idx, k, sizeof(*idx), cmp_index);
        size_t u = 0;
        for (size_t i = 0; i < k; i++)
                if (u == 0 || idx[u - 1] != idx[i])
                        idx[u++] = idx[i];
        *ret = TAKE_PTR(idx);
        return (int)u;
}

/* Every replica's log at once (params: the query parameters after
 * "replica=I", "" or "&follow=true&..."), interleaved as lines arrive, each
 * after "[NAME-INDEX] " (prefixed_logs). */
static int service_logs(struct cli_ctx *ctx, const struct kind_info *kind, const char *name,
                        const char *params, bool follow)
{
        _cleanup_json_ json_t *o = NULL;
        _cleanup_free_ int64_t *idx = NULL;
        int r = cli_get_object(ctx, kind, ctx->ns, name, &o);

        if (r == -ENOENT) {
                fprintf(ctx->err, "Error from server (NotFound): %s \"%s\" not found\n",
                        kind->resource, name);
                return CLI_EXIT_FAIL;
        }
        if (r < 0)
                return CLI_EXIT_FAIL;
        int n = replica_indexes(o, &idx);
        if (n < 0)
                return cli_fail(ctx, "out of memory");
        if (n == 0)
                return cli_fail(ctx, "service/%s has no replicas yet", name);
        if (follow && n > LOG_FOLLOW_MAX)
                return cli_fail(ctx,
                                "service/%s has %d replicas: -f follows at most %d at once; "
                                "pick one with --replica",
                                name, n, LOG_FOLLOW_MAX);

        struct prefixed_log *logs = calloc((size_t)n, sizeof(*logs));
        if (!logs)
                return cli_fail(ctx, "out of memory");
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *q =
                    str_printf("/log?replica=%lld%s", (long long)idx[i], params);
                logs[i].path = q ? cli_path(kind, ctx->ns, name, q) : NULL;
                logs[i].out = ctx->out;
                snprintf(logs[i].prefix, sizeof(logs[i].prefix), "[%s-%lld] ", name,
                         (long long)idx[i]);
                if (!logs[i].path) {
                        prefixed_logs_free(logs, (size_t)n);
                        return cli_fail(ctx, "out of memory");
                }
        }
        r = prefixed_logs(ctx, logs, (size_t)n, follow ? 0 : LOG_PARALLEL);
        prefixed_logs_free(logs, (size_t)n);
        return r;
}

int cmd_logs(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        bool follow = false, timestamps = false;
        const char *tail = NULL, *attempt = NULL, *replica = NULL, *step = NULL;
        const struct cli_option opts[] = {
            {"follow", 'f', CLI_OPT_BOOL, NULL,
             "keep streaming until the container ends (tasks, services, a workflow's --step)",
             &follow},
            {"tail", 0, CLI_OPT_STRING, "N", "only the last N lines (-1: all), per step or replica",
             &tail},
            {"attempt", 0, CLI_OPT_STRING, "K",
             "the K-th attempt's container (default: latest; tasks and workflows)", &attempt},
            {"replica", 0, CLI_OPT_STRING, "I",
             "only this replica of a service, without prefixes (default: all)", &replica},
            {"step", 0, CLI_OPT_STRING, "STEP",
             "only this step of a workflow (onExit: its exit handler)", &step},
            {"timestamps", 0, CLI_OPT_BOOL, NULL, "prefix each line with its RFC 3339 time",
             &timestamps},
            {0},
        };
        _cleanup_free_ char **args = NULL;
        _cleanup_(cli_targets_release) struct cli_targets targets = {0};
        _cleanup_buf_ struct buf params = {0};
        _cleanup_buf_ struct buf q = {0};
        const struct kind_info *task = kind_by_name("Task");
        const struct kind_info *kind = task;
        const char *name;
        char errbuf[256];
        long tail_n = -1, attempt_n = 0, replica_n = -1;
        size_t nargs = 0;
        int r;

        buf_init(&params, 4096);
        buf_init(&q, 4096);
        r = cli_parse_args(ctx, cmd, opts, argc, argv, &args, &nargs);
        if (r != 0)
                return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        if (!task)
                return cli_fail(ctx, "this build knows no Task kind");
        if (tail && parse_int(tail, -1, &tail_n) < 0)
                return cli_usage_error(ctx, cmd, "invalid --tail \"%s\": want a number >= -1",
                                       tail);
        if (attempt && parse_int(attempt, 1, &attempt_n) < 0)
                return cli_usage_error(ctx, cmd, "invalid --attempt \"%s\": want a number >= 1",
                                       attempt);
        if (replica && parse_int(replica, 0, &replica_n) < 0)
                return cli_usage_error(ctx, cmd, "invalid --replica \"%s\": want a number >= 0",
                                       replica);
        if (nargs == 0)
                return cli_usage_error(ctx, cmd,
                                       "a task, workflow or service name is required: berth logs "
                                       "task/NAME, workflow/NAME or service/NAME");
        if (nargs == 1 && !strchr(args[0], '/')) {
                name = args[0];
        } else {
                if (cli_targets_parse(args, nargs, true, &targets, errbuf, sizeof(errbuf)) < 0)
                        return cli_usage_error(ctx, cmd, "%s", errbuf);
                if (targets.n != 1)
                        return cli_usage_error(ctx, cmd,
                                               "logs takes exactly one task, workflow or service");
                kind = targets.items[0].kind;
                name = targets.items[0].name;
                if (!kind_has_subresource(kind, "log") && !streq(kind->kind, "Workflow"))
                        return cli_usage_error(
                            ctx, cmd,
                            "logs are only available for tasks, workflows and services, not %s",
                            kind->resource);
        }
        bool service = streq(kind->kind, "Service");
        bool workflow = !kind_has_subresource(kind, "log");
        if (step && !workflow)
                return cli_usage_error(ctx, cmd, "--step is for workflows, not %s", kind->resource);
        if (step && !*step)
                return cli_usage_error(ctx, cmd, "--step needs a step name");
        /* A workflow's steps run one after another or side by side: there is
         * no single stream to follow. Name them. */
        if (follow && workflow && !step) {
                _cleanup_json_ json_t *o = NULL;
                if (get_workflow(ctx, kind, name, &o) < 0)
                        return CLI_EXIT_FAIL;
                _cleanup_free_ char *names = step_names(o);
                return cli_usage_error(ctx, cmd,
                                       "--follow needs --step for a workflow: berth logs -f "
                                       "%s/%s --step STEP (steps: %s)",
                                       kind->singular, name, names ? names : "?");
        }
        if (service && attempt)
                return cli_usage_error(ctx, cmd,
                                       "--attempt is for tasks and workflows; pick a replica of "
                                       "a service with --replica");
        if (!service && replica)
                return cli_usage_error(ctx, cmd, "--replica is for services, not %s",
                                       kind->resource);

        if (follow)
                buf_append_str(&params, "&follow=true");
        if (tail_n >= 0)
                buf_printf(&params, "&tailLines=%ld", tail_n);
        if (attempt_n > 0)
                buf_printf(&params, "&attempt=%ld", attempt_n);
        if (timestamps)
                buf_append_str(&params, "&timestamps=true");

        if (service && replica_n < 0)
                return service_logs(ctx, kind, name, params.data ? params.data : "", follow);

        buf_append_str(&q, "/log");
        if (replica_n >= 0)
                buf_printf(&q, "?replica=%ld%s", replica_n, params.data ? params.data : "");
        else if (params.len > 0)
                buf_printf(&q, "?%s", params.data + 1);

        if (workflow && step)
                return step_logs(ctx, kind, name, step, q.data, follow);
        if (workflow)
                return workflow_logs(ctx, kind, name, q.data);

        struct log_out lo = {.out = ctx->out, .last = '\n'};
        _cleanup_free_ char *path = cli_path(kind, ctx->ns, name, q.data);
        if (!path)
                return cli_fail(ctx, "out of memory");
        r = task_log(ctx, path, &lo);
        return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
