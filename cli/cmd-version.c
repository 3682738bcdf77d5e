/* berth version: the client's version and the server's /version. */
#include "cli-internal.h"

int cmd_version(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        const char *output = NULL;
        bool client_only = false;
        const struct cli_option opts[] = {
            {"output", 'o', CLI_OPT_STRING, "FORMAT", "json", &output},
            {"client", 0, CLI_OPT_BOOL, NULL, "only the client version; do not ask the server",
             &client_only},
            {0},
        };
        _cleanup_free_ char **args = NULL;
        _cleanup_reply_ struct cli_reply reply = {0};
        _cleanup_json_ json_t *server = NULL;
        size_t nargs = 0;
        int r;

        r = cli_parse_args(ctx, cmd, opts, argc, argv, &args, &nargs);
        if (r != 0)
                return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        if (nargs > 0)
                return cli_usage_error(ctx, cmd, "unexpected argument \"%s\"", args[0]);
        if (output && !streq(output, "json"))
                return cli_usage_error(ctx, cmd, "unknown output format \"%s\": want json", output);
        bool json = output != NULL;

        if (!json) {
                fprintf(ctx->out, "Client Version: %s\n", BERTH_VERSION);
                fflush(ctx->out);
        }
        bool failed = false;
        if (!client_only) {
                if (cli_http(ctx, "GET", "/version", NULL, NULL, 0, &reply) < 0) {
                        failed = true;
                } else if (reply.status < 200 || reply.status >= 300) {
                        cli_status_print(ctx, &reply);
                        failed = true;
                } else {
                        server = json_loadb(reply.body.data ? reply.body.data : "", reply.body.len,
                                            0, NULL);
                        if (!json_is_object(server)) {
                                fputs("berth: invalid response from berthd to /version\n",
                                      ctx->err);
                                failed = true;
                        }
                }
        }

        if (json) {
                _cleanup_json_ json_t *o =
                    json_pack("{s:{s:s}}", "clientVersion", "version", BERTH_VERSION);
                if (!o)
                        return cli_fail(ctx, "out of memory");
                if (json_is_object(server))
                        json_object_set(o, "serverVersion", server);
                cli_print_json(ctx->out, o);
        } else if (json_is_object(server)) {
                const char *v = json_string_value(json_object_get(server, "version"));
                const char *api = json_string_value(json_object_get(server, "apiVersion"));
                const char *docker = json_string_value(json_object_get(server, "dockerApiVersion"));
                fprintf(ctx->out, "Server Version: %s", v ? v : "unknown");
                if (api)
                        fprintf(ctx->out, " (API %s%s%s)", api, docker ? ", Docker API " : "",
                                docker ? docker : "");
                fputc('\n', ctx->out);
        }
        return failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
