/* berth logs: a task's container output, streamed as it arrives; for a
 * workflow, the output of each step's task in turn; for a service, the output
 * of its replicas side by side, each line after "[NAME-INDEX] ". */
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

/* The logs of every step's Task, in status.steps order, each after a header
 * line "==> step NAME (task TASK) <==" like tail(1) with several files.
 * Steps without a Task yet are skipped. A step whose log cannot be had is
 * reported and the others still printed (exit 1). */
static int workflow_logs(struct cli_ctx *ctx, const struct kind_info *workflow, const char *name,
                         const char *query)
{
        const struct kind_info *task = kind_by_name("Task");
        _cleanup_json_ json_t *o = NULL;
        struct log_out lo = {.out = ctx->out, .last = '\n'};
        size_t shown = 0, i;
        bool failed = false;
        json_t *step;
        int r;

        r = cli_get_object(ctx, workflow, ctx->ns, name, &o);
        if (r == -ENOENT) {
                fprintf(ctx->err, "Error from server (NotFound): %s \"%s\" not found\n",
                        workflow->resource, name);
                return CLI_EXIT_FAIL;
        }
        if (r < 0)
                return CLI_EXIT_FAIL;

        json_array_foreach(json_path(o, "status.steps"), i, step)
        {
                const char *step_name = json_string_value(json_object_get(step, "name"));
                const char *task_name = json_string_value(json_object_get(step, "task"));
                if (!task_name || !*task_name)
                        continue;
                _cleanup_free_ char *path = cli_path(task, ctx->ns, task_name, query);
                if (!path)
                        return cli_fail(ctx, "out of memory");
                if (lo.last != '\n')
                        fputc('\n', ctx->out);
                fprintf(ctx->out, "%s==> step %s (task %s) <==\n", shown++ > 0 ? "\n" : "",
                        step_name ? step_name : "?", task_name);
                lo.last = '\n';
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

struct replica_log {
        FILE *out;
        char prefix[LOG_PREFIX_MAX];
};

/* One whole line of one replica (cli_stream_many delivers nothing less), so
 * lines of different replicas never mix. */
static int on_replica_line(const char *line, size_t len, void *userdata)
{
        struct replica_log *rl = userdata;

        fputs(rl->prefix, rl->out);
        fwrite(line, 1, len, rl->out);
        fputc('\n', rl->out);
        /* -f output must show up as it arrives, also through a pipe. */
        fflush(rl->out);
        return ferror(rl->out) ? -EIO : 0;
}

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
 * after "[NAME-INDEX] ". A replica whose log cannot be had is reported with
 * its prefix and the others still printed (exit 1). */
static int service_logs(struct cli_ctx *ctx, const struct kind_info *kind, const char *name,
                        const char *params, bool follow)
{
        _cleanup_json_ json_t *o = NULL;
        _cleanup_free_ int64_t *idx = NULL;
        bool failed = false;
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

        _cleanup_free_ struct cli_stream_item *items = calloc((size_t)n, sizeof(*items));
        _cleanup_free_ struct replica_log *logs = calloc((size_t)n, sizeof(*logs));
        _cleanup_free_ char **paths = calloc((size_t)n, sizeof(char *));
        if (!items || !logs || !paths)
                return cli_fail(ctx, "out of memory");
        for (int i = 0; i < n && r == 0; i++) {
                _cleanup_free_ char *q =
                    str_printf("/log?replica=%lld%s", (long long)idx[i], params);
                paths[i] = q ? cli_path(kind, ctx->ns, name, q) : NULL;
                logs[i].out = ctx->out;
                snprintf(logs[i].prefix, sizeof(logs[i].prefix), "[%s-%lld] ", name,
                         (long long)idx[i]);
                items[i] = (struct cli_stream_item){
                    .path = paths[i], .fn = on_replica_line, .userdata = &logs[i]};
                if (!paths[i])
                        r = -ENOMEM;
        }
        if (r == 0)
                r = cli_stream_many(ctx, items, (size_t)n, follow ? 0 : LOG_PARALLEL, LOG_LINE_MAX);
        for (int i = 0; i < n; i++) {
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
                free(paths[i]);
        }
        if (r == -ENOMEM)
                return cli_fail(ctx, "out of memory");
        return r < 0 || failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

int cmd_logs(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        bool follow = false, timestamps = false;
        const char *tail = NULL, *attempt = NULL, *replica = NULL;
        const struct cli_option opts[] = {
            {"follow", 'f', CLI_OPT_BOOL, NULL,
             "keep streaming until the container ends (tasks and services)", &follow},
            {"tail", 0, CLI_OPT_STRING, "N", "only the last N lines (-1: all), per step or replica",
             &tail},
            {"attempt", 0, CLI_OPT_STRING, "K",
             "the K-th attempt's container (default: latest; tasks and workflows)", &attempt},
            {"replica", 0, CLI_OPT_STRING, "I",
             "only this replica of a service, without prefixes (default: all)", &replica},
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
        /* A workflow's steps run one after another or side by side: there is
         * no single stream to follow. */
        if (follow && !kind_has_subresource(kind, "log"))
                return cli_usage_error(ctx, cmd,
                                       "--follow is not supported for workflows; follow a "
                                       "step: berth logs -f task/%s-STEP",
                                       name);
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

        if (!kind_has_subresource(kind, "log"))
                return workflow_logs(ctx, kind, name, q.data);

        struct log_out lo = {.out = ctx->out, .last = '\n'};
        _cleanup_free_ char *path = cli_path(kind, ctx->ns, name, q.data);
        if (!path)
                return cli_fail(ctx, "out of memory");
        r = task_log(ctx, path, &lo);
        return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
