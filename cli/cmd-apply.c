/* berth apply: parse and validate locally, then one POST of every document. */
#include "cli-internal.h"

const char *cli_object_ns(struct cli_ctx *ctx, const json_t *object)
{
        const char *ns = json_path_string(object, "metadata.namespace");
        return ns && *ns ? ns : ctx->ns;
}

int cli_load_manifests(struct cli_ctx *ctx, const struct cli_list *files, bool recursive,
                       bool validate, struct manifest_list *ret)
{
        struct berth_error err = {0};
        bool bad = false;

        for (size_t i = 0; i < files->n; i++) {
                berth_error_clear(&err);
                if (manifest_parse_path(files->v[i], recursive, ret, &err) < 0) {
                        fprintf(ctx->err, "error: %s\n", err.message);
                        return -EINVAL;
                }
        }
        for (size_t i = 0; i < ret->n; i++) {
                const struct manifest_doc *d = &ret->docs[i];
                if (validate) {
                        struct field_errors errs = {0};
                        if (manifest_validate(d->object, d->positions, &errs) < 0) {
                                _cleanup_free_ char *s = field_errors_format(&errs, d->source);
                                fprintf(ctx->err, "%s\n", s ? s : "error: invalid manifest");
                                bad = true;
                        }
                        field_errors_release(&errs);
                        continue;
                }
                const char *kind = json_string_value(json_object_get(d->object, "kind"));
                const char *name = json_path_string(d->object, "metadata.name");
                if (!kind || !kind_lookup(kind) || !name || !*name) {
                        fprintf(ctx->err, "%s:%d: error: %s\n", d->source, d->line,
                                !kind                ? "kind: required"
                                : !kind_lookup(kind) ? "kind: unknown kind"
                                                     : "metadata.name: required");
                        bad = true;
                }
        }
        if (bad)
                return -EINVAL;
        if (ret->n == 0) {
                fputs("error: no objects passed\n", ctx->err);
                return -EINVAL;
        }
        return 0;
}

/* -n given explicitly: documents without a namespace go there, documents with
 * another one are refused (kubectl does the same). */
static int apply_namespace(struct cli_ctx *ctx, const struct manifest_doc *d)
{
        const struct kind_info *kind =
            kind_lookup(json_string_value(json_object_get(d->object, "kind")));
        const char *ns = json_path_string(d->object, "metadata.namespace");

        if (!ctx->ns_explicit || !kind || !kind->namespaced)
                return 0;
        if (ns && !streq(ns, ctx->ns)) {
                fprintf(ctx->err,
                        "error: %s:%d: the namespace of %s/%s is \"%s\", not the \"%s\" given "
                        "with --namespace\n",
                        d->source, d->line, kind->singular,
                        json_path_string(d->object, "metadata.name"), ns, ctx->ns);
                return -EINVAL;
        }
        if (!ns)
                return json_path_set_new(d->object, "metadata.namespace", json_string(ctx->ns));
        return 0;
}

static int print_result(struct cli_ctx *ctx, const json_t *item, bool dry_run)
{
        const char *kind_name = json_string_value(json_object_get(item, "kind"));
        const char *name = json_string_value(json_object_get(item, "name"));
        const char *result = json_string_value(json_object_get(item, "result"));
        const char *message = json_string_value(json_object_get(item, "message"));
        const struct kind_info *kind = kind_name ? kind_lookup(kind_name) : NULL;
        const char *singular = kind ? kind->singular : kind_name ? kind_name : "object";

        if (streq(result, "created") || streq(result, "configured") || streq(result, "unchanged") ||
            (result && !message)) {
                fprintf(ctx->out, "%s/%s %s%s\n", singular, name ? name : "", result,
                        dry_run ? " (dry run)" : "");
                return 0;
        }
        fprintf(ctx->err, "error: %s/%s: %s\n", singular, name ? name : "",
                message ? message : "no result");
        return -EINVAL;
}

int cmd_apply(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        struct cli_list files = {0};
        bool recursive = false, dry_run = false;
        const struct cli_option opts[] = {
            {"filename", 'f', CLI_OPT_LIST, "FILE",
             "manifest file, directory or - for stdin (repeatable)", &files},
            {"recursive", 'R', CLI_OPT_BOOL, NULL, "descend into subdirectories of -f directories",
             &recursive},
            {"dry-run", 0, CLI_OPT_BOOL, NULL, "ask the server what would change; change nothing",
             &dry_run},
            {0},
        };
        _cleanup_free_ char **args = NULL;
        _cleanup_(manifest_list_release) struct manifest_list list = {0};
        _cleanup_reply_ struct cli_reply reply = {0};
        _cleanup_buf_ struct buf body = {0};
        _cleanup_json_ json_t *result = NULL;
        size_t nargs = 0;
        int r;

        buf_init(&body, (size_t)MANIFEST_DOC_MAX * MANIFEST_DOCS_MAX);
        r = cli_parse_args(ctx, cmd, opts, argc, argv, &args, &nargs);
        if (r != 0)
                return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        if (nargs > 0)
                return cli_usage_error(ctx, cmd, "unexpected argument \"%s\"", args[0]);
        if (files.n == 0)
                return cli_usage_error(ctx, cmd, "must specify -f FILE|DIR|-");

        if (cli_load_manifests(ctx, &files, recursive, true, &list) < 0)
                return CLI_EXIT_FAIL;

        /* One YAML stream of JSON documents: JSON is YAML, and the server parses
         * it with the same code as files, so nothing is lost on the way. */
        for (size_t i = 0; i < list.n; i++) {
                if (apply_namespace(ctx, &list.docs[i]) < 0)
                        return CLI_EXIT_FAIL;
                _cleanup_free_ char *doc = json_dumps(list.docs[i].object, 0);
                if (!doc || (i > 0 && buf_append_str(&body, "---\n") < 0) ||
                    buf_append_str(&body, doc) < 0 || buf_append_str(&body, "\n") < 0)
                        return cli_fail(ctx, "manifests too large to send");
        }

        r = cli_http(ctx, "POST",
                     dry_run ? CLI_API_PREFIX "/apply?dryRun=true" : CLI_API_PREFIX "/apply",
                     "application/yaml", body.data, body.len, &reply);
        if (r < 0)
                return CLI_EXIT_FAIL;
        if (reply.status < 200 || reply.status >= 300)
                return cli_status_print(ctx, &reply);

        json_error_t jerr;
        result = json_loadb(reply.body.data ? reply.body.data : "", reply.body.len, 0, &jerr);
        json_t *items = json_object_get(result, "items");
        if (!json_is_array(items))
                return cli_fail(ctx, "invalid response from berthd: %s",
                                result ? "no items" : jerr.text);
        size_t i;
        json_t *item;
        bool failed = false;
        json_array_foreach(items, i, item) if (print_result(ctx, item, dry_run) < 0) failed = true;
        return failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
