/* berth logs: a task's container output, streamed as it arrives. */
#include <limits.h>

#include "cli-internal.h"

static int on_chunk(const char *data, size_t len, void *userdata)
{
        FILE *out = userdata;
        if (fwrite(data, 1, len, out) != len)
                return -EIO;
        /* -f output must show up as it arrives, also through a pipe. */
        fflush(out);
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

int cmd_logs(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        bool follow = false, timestamps = false;
        const char *tail = NULL, *attempt = NULL;
        const struct cli_option opts[] = {
            {"follow", 'f', CLI_OPT_BOOL, NULL, "keep streaming until the container ends", &follow},
            {"tail", 0, CLI_OPT_STRING, "N", "only the last N lines (-1: all)", &tail},
            {"attempt", 0, CLI_OPT_STRING, "K", "the K-th attempt's container (default: latest)",
             &attempt},
            {"timestamps", 0, CLI_OPT_BOOL, NULL, "prefix each line with its RFC 3339 time",
             &timestamps},
            {0},
        };
        _cleanup_free_ char **args = NULL;
        _cleanup_(cli_targets_release) struct cli_targets targets = {0};
        _cleanup_reply_ struct cli_reply err = {0};
        _cleanup_buf_ struct buf q = {0};
        const struct kind_info *task = kind_lookup("Task");
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
                return cli_usage_error(ctx, cmd, "a task name is required: berth logs task/NAME");
        if (nargs == 1 && !strchr(args[0], '/')) {
                name = args[0];
        } else {
                if (cli_targets_parse(args, nargs, true, &targets, errbuf, sizeof(errbuf)) < 0)
                        return cli_usage_error(ctx, cmd, "%s", errbuf);
                if (targets.n != 1)
                        return cli_usage_error(ctx, cmd, "logs takes exactly one task");
                if (targets.items[0].kind != task)
                        return cli_usage_error(ctx, cmd,
                                               "logs are only available for tasks, not %s",
                                               targets.items[0].kind->resource);
                name = targets.items[0].name;
        }

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

        _cleanup_free_ char *path = cli_path(task, ctx->ns, name, q.data);
        if (!path)
                return cli_fail(ctx, "out of memory");
        r = cli_stream(ctx, path, false, 0, on_chunk, ctx->out, &err);
        fflush(ctx->out);
        if (r == -EPROTO)
                return cli_status_print(ctx, &err);
        if (r == -EIO && ferror(ctx->out))
                return CLI_EXIT_FAIL; /* the reader went away */
        return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
