/* berth describe: one object in human-readable sections. */
#include "cli-internal.h"

int cmd_describe(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        _cleanup_free_ char **args = NULL;
        _cleanup_(cli_targets_release) struct cli_targets targets = {0};
        char errbuf[256];
        size_t nargs = 0;
        bool failed = false;
        int r;

        r = cli_parse_args(ctx, cmd, NULL, argc, argv, &args, &nargs);
        if (r != 0)
                return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        if (cli_targets_parse(args, nargs, true, &targets, errbuf, sizeof(errbuf)) < 0)
                return cli_usage_error(ctx, cmd, "%s", errbuf);

        for (size_t i = 0; i < targets.n; i++) {
                _cleanup_json_ json_t *o = NULL;
                const struct cli_target *t = &targets.items[i];

                r = cli_get_object(ctx, t->kind, ctx->ns, t->name, &o);
                if (r == -ENOENT) {
                        fprintf(ctx->err, "Error from server (NotFound): %s \"%s\" not found\n",
                                t->kind->resource, t->name);
                        failed = true;
                        continue;
                }
                if (r < 0) {
                        failed = true;
                        if (r == -EPROTO)
                                continue;
                        break;
                }
                if (i > 0)
                        fputs("\n\n", ctx->out);
                if (cli_describe(ctx->out, t->kind, o, time_now_ms()) < 0)
                        return cli_fail(ctx, "cannot write output");
        }
        return failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
