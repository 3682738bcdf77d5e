/* berth logs: a task's container output, streamed as it arrives; for a
 * workflow, the output of each step's task in turn. */
#include <limits.h>

#include "cli-internal.h"

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

int cmd_logs(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        bool follow = false, timestamps = false;
        const char *tail = NULL, *attempt = NULL;
        const struct cli_option opts[] = {
            {"follow", 'f', CLI_OPT_BOOL, NULL,
             "keep streaming until the container ends (tasks only)", &follow},
            {"tail", 0, CLI_OPT_STRING, "N",
             "only the last N lines (-1: all), per step for a workflow", &tail},
            {"attempt", 0, CLI_OPT_STRING, "K", "the K-th attempt's container (default: latest)",
             &attempt},
            {"timestamps", 0, CLI_OPT_BOOL, NULL, "prefix each line with its RFC 3339 time",
             &timestamps},
            {0},
        };
        _cleanup_free_ char **args = NULL;
        _cleanup_(cli_targets_release) struct cli_targets targets = {0};
        _cleanup_buf_ struct buf q = {0};
        const struct kind_info *task = kind_by_name("Task");
        const struct kind_info *kind = task;
        const char *name;
        char errbuf[256];
        long tail_n = -1, attempt_n = 0;
        size_t nargs = 0;
        int r;

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
        if (nargs == 0)
                return cli_usage_error(
                    ctx, cmd,
                    "a task or workflow name is required: berth logs task/NAME or workflow/NAME");
        if (nargs == 1 && !strchr(args[0], '/')) {
                name = args[0];
        } else {
                if (cli_targets_parse(args, nargs, true, &targets, errbuf, sizeof(errbuf)) < 0)
                        return cli_usage_error(ctx, cmd, "%s", errbuf);
                if (targets.n != 1)
                        return cli_usage_error(ctx, cmd, "logs takes exactly one task or workflow");
                kind = targets.items[0].kind;
                name = targets.items[0].name;
                if (!kind_has_subresource(kind, "log") && !streq(kind->kind, "Workflow"))
                        return cli_usage_error(
                            ctx, cmd, "logs are only available for tasks and workflows, not %s",
                            kind->resource);
        }
        /* A workflow's steps run one after another or side by side: there is
         * no single stream to follow. */
        if (follow && !kind_has_subresource(kind, "log"))
                return cli_usage_error(ctx, cmd,
                                       "--follow is not supported for workflows; follow a "
                                       "step: berth logs -f task/%s-STEP",
                                       name);

        buf_append_str(&q, "/log");
        char sep = '?';
        if (follow) {
                buf_printf(&q, "%cfollow=true", sep);
                sep = '&';
        }
        if (tail_n >= 0) {
                buf_printf(&q, "%ctailLines=%ld", sep, tail_n);
                sep = '&';
        }
        if (attempt_n > 0) {
                buf_printf(&q, "%cattempt=%ld", sep, attempt_n);
                sep = '&';
        }
        if (timestamps)
                buf_printf(&q, "%ctimestamps=true", sep);

        if (!kind_has_subresource(kind, "log"))
                return workflow_logs(ctx, kind, name, q.data);

        struct log_out lo = {.out = ctx->out, .last = '\n'};
        _cleanup_free_ char *path = cli_path(kind, ctx->ns, name, q.data);
        if (!path)
                return cli_fail(ctx, "out of memory");
        r = task_log(ctx, path, &lo);
        return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
