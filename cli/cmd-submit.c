/* berth submit: create a Workflow from a file, with parameters set on the
 * command line, as a new object (POST, so that metadata.generateName names
 * each run), and optionally follow it until it finished. */
#include "cli-internal.h"

/* "NAME=VALUE" pairs of -p, split in place of the borrowed argv strings. */
struct submit_param {
        const char *name;
        size_t name_len;
        const char *value;
};

/* The entry of spec.parameters with that name, or NULL. Borrowed. */
static json_t *param_find(json_t *params, const char *name, size_t len)
{
        size_t i;
        json_t *p;

        json_array_foreach(params, i, p)
        {
                const char *n = json_string_value(json_object_get(p, "name"));

                if (n && strlen(n) == len && strncmp(n, name, len) == 0)
                        return p;
        }
        return NULL;
}

/* "day, region" or "none": what -p may name. Caller frees. */
static char *param_names(const json_t *params)
{
        _cleanup_buf_ struct buf b = {0};
        size_t i;
        json_t *p;

        buf_init(&b, 64 * 1024);
        json_array_foreach((json_t *)params, i, p)
        {
                const char *n = json_string_value(json_object_get(p, "name"));

                if (n && buf_printf(&b, "%s%s", b.len ? ", " : "", n) < 0)
                        return NULL;
        }
        return strdup(b.len ? b.data : "none");
}

/* Whether the Workflow finished: Succeeded is MET, Failed IMPOSSIBLE with
 * why "Reason: message". userdata: the retry (status.retriedFor) that must
 * have been taken up first, or NULL. */
static enum cli_cond_result eval_finished(const json_t *object, void *userdata, char *why,
                                          size_t why_size)
{
        const char *retried_for = userdata;
        const char *phase = cli_phase_of(object);
        const char *reason = json_path_string(object, "status.reason");
        const char *message = json_path_string(object, "status.message");

        /* Until the controller took the retry up, the phase is the old run's. */
        if (retried_for && !streq(json_path_string(object, "status.retriedFor"), retried_for))
                return CLI_COND_PENDING;
        if (streq(phase, "Succeeded"))
                return CLI_COND_MET;
        if (!streq(phase, "Failed"))
                return CLI_COND_PENDING;
        snprintf(why, why_size, "%s%s%s", reason && *reason ? reason : "Failed",
                 message && *message ? ": " : "", message && *message ? message : "");
        return CLI_COND_IMPOSSIBLE;
}

int cli_workflow_wait(struct cli_ctx *ctx, const char *ns, const char *name,
                      const char *retried_for, int64_t deadline_ms)
{
        const struct kind_info *kind = kind_by_name("Workflow");
        enum cli_follow_outcome outcome = CLI_FOLLOW_NONE;
        char why[512] = "";
        int r = cli_follow_object(ctx, kind, ns, name, eval_finished, (void *)retried_for,
                                  deadline_ms, false, &outcome, why, sizeof(why));

        if (r == -ENOENT)
                return cli_fail(ctx, "%s/%s was deleted before it finished", kind->singular, name);
        if (r == -ETIMEDOUT)
                return cli_fail(ctx, "timed out waiting for %s/%s to finish", kind->singular, name);
        if (r < 0)
                return CLI_EXIT_FAIL;
        switch (outcome) {
        case CLI_FOLLOW_MET:
                fprintf(ctx->out, "%s/%s succeeded\n", kind->singular, name);
                return CLI_EXIT_OK;
        case CLI_FOLLOW_IMPOSSIBLE:
                return cli_fail(ctx, "%s/%s failed: %s", kind->singular, name, why);
        case CLI_FOLLOW_DELETED:
                return cli_fail(ctx, "%s/%s was deleted before it finished", kind->singular, name);
        case CLI_FOLLOW_NONE:
                break;
        }
        return CLI_EXIT_FAIL;
}

int cmd_submit(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        struct cli_list sets = {0};
        bool wait = false;
        const char *timeout = NULL;
        const struct cli_option opts[] = {
            {"param", 'p', CLI_OPT_LIST, "NAME=VALUE",
             "set the value of a parameter of spec.parameters (repeatable)", &sets},
            {"wait", 0, CLI_OPT_BOOL, NULL, "follow the workflow until it succeeded or failed",
             &wait},
            {"timeout", 0, CLI_OPT_STRING, "DURATION", "with --wait: give up after this long",
             &timeout},
            {0},
        };
        const struct kind_info *kind = kind_by_name("Workflow");
        _cleanup_free_ char **args = NULL;
        _cleanup_(manifest_list_release) struct manifest_list list = {0};
        _cleanup_reply_ struct cli_reply reply = {0};
        _cleanup_json_ json_t *created = NULL;
        struct submit_param params[CLI_LIST_MAX];
        int64_t timeout_ms = 0;
        size_t nargs = 0;
        int r;

        r = cli_parse_args(ctx, cmd, opts, argc, argv, &args, &nargs);
        if (r != 0)
                return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        if (nargs != 1)
                return cli_usage_error(ctx, cmd, "%s",
                                       nargs == 0 ? "must specify the workflow FILE"
                                                  : "only one FILE can be submitted");
        if (timeout && (duration_parse(timeout, &timeout_ms) < 0 || timeout_ms <= 0))
                return cli_usage_error(
                    ctx, cmd, "invalid --timeout \"%s\": want a duration like 90s", timeout);
        if (timeout && !wait)
                return cli_usage_error(ctx, cmd, "--timeout needs --wait");
        for (size_t i = 0; i < sets.n; i++) {
                const char *eq = strchr(sets.v[i], '=');

                if (!eq || eq == sets.v[i])
                        return cli_usage_error(ctx, cmd, "invalid -p \"%s\": want NAME=VALUE",
                                               sets.v[i]);
                params[i] = (struct submit_param){
                    .name = sets.v[i], .name_len = (size_t)(eq - sets.v[i]), .value = eq + 1};
        }

        const struct cli_list files = {.v = {args[0]}, .n = 1};
        if (cli_load_manifests(ctx, &files, false, true, &list) < 0)
                return CLI_EXIT_FAIL;
        if (list.n != 1)
                return cli_fail(ctx, "%s holds %zu documents: submit takes one Workflow", args[0],
                                list.n);
        const struct manifest_doc *d = &list.docs[0];
        const char *doc_kind = json_string_value(json_object_get(d->object, "kind"));
        if (kind_by_name(doc_kind) != kind)
                return cli_fail(ctx, "%s:%d: %s is not a Workflow: submit takes one Workflow",
                                d->source, d->line, doc_kind);
        if (cli_apply_namespace(ctx, d) < 0)
                return CLI_EXIT_FAIL;

        json_t *defined = json_path(d->object, "spec.parameters");
        for (size_t i = 0; i < sets.n; i++) {
                json_t *p = param_find(defined, params[i].name, params[i].name_len);

                if (!p) {
                        _cleanup_free_ char *known = param_names(defined);
                        return cli_usage_error(
                            ctx, cmd, "unknown parameter \"%.*s\" in -p: the workflow has %s",
                            (int)params[i].name_len, params[i].name, known ? known : "others");
                }
                if (json_object_set_new(p, "value", json_string(params[i].value)) < 0)
                        return cli_fail(ctx, "out of memory");
        }

        const char *ns = cli_object_ns(ctx, d->object);
        _cleanup_free_ char *body = json_dumps(d->object, JSON_COMPACT);
        _cleanup_free_ char *path = cli_path(kind, ns, NULL, "");
        if (!body || !path)
                return cli_fail(ctx, "out of memory");
        if (cli_http(ctx, "POST", path, "application/json", body, strlen(body), &reply) < 0)
                return CLI_EXIT_FAIL;
        if (reply.status < 200 || reply.status >= 300)
                return cli_status_print(ctx, &reply);
        created = json_loadb(reply.body.data ? reply.body.data : "", reply.body.len, 0, NULL);
        const char *name = json_path_string(created, "metadata.name");
        if (!name || !*name)
                return cli_fail(ctx, "invalid response from berthd: the workflow has no name");
        fprintf(ctx->out, "%s/%s submitted\n", kind->singular, name);
        fflush(ctx->out);
        if (!wait)
                return CLI_EXIT_OK;
        return cli_workflow_wait(ctx, json_path_string(created, "metadata.namespace") ?: ns, name,
                                 NULL, timeout_ms > 0 ? time_mono_ms() + timeout_ms : 0);
}
