/* berth delete: by kind and name or by manifest; waits until the objects are
 * gone (finalizers done) unless --wait=false. */
#include "cli-internal.h"

#define DELETE_DEFAULT_TIMEOUT_MS (60 * 1000)

struct victim {
        const struct kind_info *kind;
        const char *ns;
        const char *name;
        bool deleted;
};

/* Returns 0 when deleted (or missing and ignored), -errno after printing. */
static int delete_one(struct cli_ctx *ctx, struct victim *v, bool ignore_not_found)
{
        _cleanup_reply_ struct cli_reply reply = {0};
        _cleanup_free_ char *path = cli_path(v->kind, v->ns, v->name, "");
        int r;

        if (!path)
                return -ENOMEM;
        r = cli_http(ctx, "DELETE", path, NULL, NULL, 0, &reply);
        if (r < 0)
                return r;
        if (reply.status == 404) {
                if (ignore_not_found)
                        return 0;
                if (reply.body.len > 0)
                        cli_status_print(ctx, &reply);
                else
                        fprintf(ctx->err, "Error from server (NotFound): %s \"%s\" not found\n",
                                v->kind->resource, v->name);
                return -ENOENT;
        }
        if (reply.status < 200 || reply.status >= 300) {
                cli_status_print(ctx, &reply);
                return -EPROTO;
        }
        fprintf(ctx->out, "%s \"%s\" deleted\n", v->kind->singular, v->name);
        fflush(ctx->out);
        v->deleted = true;
        return 0;
}

int cmd_delete(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        struct cli_list files = {0};
        bool recursive = false, wait = true, ignore_not_found = false;
        const char *timeout = NULL;
        const struct cli_option opts[] = {
            {"filename", 'f', CLI_OPT_LIST, "FILE",
             "delete the objects of these manifests (repeatable)", &files},
            {"recursive", 'R', CLI_OPT_BOOL, NULL, "descend into subdirectories of -f directories",
             &recursive},
            {"wait", 0, CLI_OPT_BOOL, NULL, "wait until the objects are gone (default true)",
             &wait},
            {"timeout", 0, CLI_OPT_STRING, "DURATION", "how long --wait waits (default 60s)",
             &timeout},
            {"ignore-not-found", 0, CLI_OPT_BOOL, NULL, "a missing object is not an error",
             &ignore_not_found},
            {0},
        };
        _cleanup_free_ char **args = NULL;
        _cleanup_(cli_targets_release) struct cli_targets targets = {0};
        _cleanup_(manifest_list_release) struct manifest_list list = {0};
        _cleanup_free_ struct victim *victims = NULL;
        int64_t timeout_ms = DELETE_DEFAULT_TIMEOUT_MS;
        char errbuf[256];
        size_t nargs = 0, n = 0;
        bool failed = false;
        int r;

        r = cli_parse_args(ctx, cmd, opts, argc, argv, &args, &nargs);
        if (r != 0)
                return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        if (timeout && (duration_parse(timeout, &timeout_ms) < 0 || timeout_ms < 0))
                return cli_usage_error(
                    ctx, cmd, "invalid --timeout \"%s\": want a duration like 90s", timeout);
        if (files.n > 0 && nargs > 0)
                return cli_usage_error(ctx, cmd, "give either -f or KIND NAME, not both");
        if (files.n == 0 && nargs == 0)
                return cli_usage_error(ctx, cmd, "give KIND NAME, KIND/NAME or -f FILE");

        if (files.n > 0) {
                if (cli_load_manifests(ctx, &files, recursive, false, &list) < 0)
                        return CLI_EXIT_FAIL;
                victims = calloc(list.n, sizeof(*victims));
                if (!victims)
                        return cli_fail(ctx, "out of memory");
                for (size_t i = 0; i < list.n; i++) {
                        const json_t *o = list.docs[i].object;
                        victims[n++] = (struct victim){
                            .kind = kind_lookup(json_string_value(json_object_get(o, "kind"))),
                            .ns = cli_object_ns(ctx, o),
                            .name = json_path_string(o, "metadata.name"),
                        };
                }
        } else {
                if (cli_targets_parse(args, nargs, true, &targets, errbuf, sizeof(errbuf)) < 0)
                        return cli_usage_error(ctx, cmd, "%s", errbuf);
                victims = calloc(targets.n, sizeof(*victims));
                if (!victims)
                        return cli_fail(ctx, "out of memory");
                for (size_t i = 0; i < targets.n; i++)
                        victims[n++] = (struct victim){.kind = targets.items[i].kind,
                                                       .ns = ctx->ns,
                                                       .name = targets.items[i].name};
        }

        for (size_t i = 0; i < n; i++) {
                r = delete_one(ctx, &victims[i], ignore_not_found);
                if (r < 0) {
                        failed = true;
                        if (r != -ENOENT && r != -EPROTO)
                                return CLI_EXIT_FAIL; /* cannot talk to the server */
                }
        }
        if (!wait)
                return failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;

        int64_t deadline = time_mono_ms() + (timeout_ms > 0 ? timeout_ms : 1);
        for (size_t i = 0; i < n; i++) {
                if (!victims[i].deleted)
                        continue;
                r = cli_wait_deleted(ctx, victims[i].kind, victims[i].ns, victims[i].name,
                                     deadline);
                if (r == -ETIMEDOUT)
                        cli_fail(ctx, "timed out waiting for the deletion of %s/%s",
                                 victims[i].kind->singular, victims[i].name);
                if (r < 0)
                        failed = true;
        }
        return failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
