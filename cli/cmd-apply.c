/* berth apply: parse and validate every document locally, then POST them in
 * batches (CLI_APPLY_BATCH_DOCS documents, CLI_APPLY_BATCH_BYTES bytes at
 * most), printing each batch's results as they come and stopping at the
 * first batch that fails. */
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

int cli_apply_namespace(struct cli_ctx *ctx, const struct manifest_doc *d)
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
                        json_path_string(d->object, "metadata.name")
                            ?: json_path_string(d->object, "metadata.generateName") ?: "",
                        ns, ctx->ns);
                return -EINVAL;
        }
        if (!ns)
                return json_path_set_new(d->object, "metadata.namespace", json_string(ctx->ns));
        return 0;
}

/* Bytes a document of len bytes takes in a body after others: "---\n",
 * the text and "\n". */
static size_t doc_bytes(size_t len, bool first)
{
        return (first ? 0 : strlen("---\n")) + len + 1;
}

size_t cli_apply_batch_end(const size_t *lens, size_t n, size_t start, size_t max_docs,
                           size_t max_bytes)
{
        size_t end = start, bytes = 0;

        while (end < n && end - start < max_docs) {
                size_t more = doc_bytes(lens[end], end == start);

                if (end > start && bytes + more > max_bytes)
                        break;
                bytes += more;
                end++;
        }
        return end;
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

/* The JSON texts of every document, and their lengths. */
struct apply_texts {
        char **v;
        size_t *lens;
        size_t n;
};

static void apply_texts_release(struct apply_texts *t)
{
        for (size_t i = 0; t->v && i < t->n; i++)
                free(t->v[i]);
        free(t->v);
        free(t->lens);
        *t = (struct apply_texts){0};
}

/* One YAML stream of JSON documents: JSON is YAML, and the server parses it
 * with the same code as files, so nothing is lost on the way. */
static int apply_texts_make(const struct manifest_list *list, struct apply_texts *ret)
{
        struct apply_texts t = {.v = calloc(list->n, sizeof(char *)),
                                .lens = calloc(list->n, sizeof(size_t))};

        if (!t.v || !t.lens) {
                apply_texts_release(&t);
                return -ENOMEM;
        }
        for (; t.n < list->n; t.n++) {
                t.v[t.n] = json_dumps(list->docs[t.n].object, 0);
                if (!t.v[t.n]) {
                        apply_texts_release(&t);
                        return -ENOMEM;
                }
                t.lens[t.n] = strlen(t.v[t.n]);
        }
        *ret = t;
        return 0;
}

/* POSTs documents [start, end) and prints their results. 0, or -errno after
 * printing why (a transport error, the server's answer, a refused object). */
static int apply_batch(struct cli_ctx *ctx, const struct apply_texts *t, size_t start, size_t end,
                       bool dry_run)
{
        _cleanup_buf_ struct buf body = {0};
        _cleanup_reply_ struct cli_reply reply = {0};
        _cleanup_json_ json_t *result = NULL;
        json_error_t jerr;
        bool failed = false;
        size_t i;
        json_t *item;

        buf_init(&body, CLI_APPLY_BODY_MAX);
        for (i = start; i < end; i++)
                if ((i > start && buf_append_str(&body, "---\n") < 0) ||
                    buf_append(&body, t->v[i], t->lens[i]) < 0 || buf_append_str(&body, "\n") < 0) {
                        cli_fail(ctx, "manifests too large to send");
                        return -E2BIG;
                }
        if (cli_http(ctx, "POST",
                     dry_run ? CLI_API_PREFIX "/apply?dryRun=true" : CLI_API_PREFIX "/apply",
                     "application/yaml", body.data, body.len, &reply) < 0)
                return -EIO;
        if (reply.status < 200 || reply.status >= 300) {
                cli_status_print(ctx, &reply);
                return -EPROTO;
        }
        result = json_loadb(reply.body.data ? reply.body.data : "", reply.body.len, 0, &jerr);
        json_t *items = json_object_get(result, "items");
        if (!json_is_array(items)) {
                cli_fail(ctx, "invalid response from berthd: %s", result ? "no items" : jerr.text);
                return -EBADMSG;
        }
        json_array_foreach(items, i, item) if (print_result(ctx, item, dry_run) < 0) failed = true;
        fflush(ctx->out);
        return failed ? -EINVAL : 0;
}

/* Objects named only by generateName are for a create: prints each one
 * ("file:line:column: metadata.generateName: ...") and returns -EINVAL. */
static int refuse_generated_names(struct cli_ctx *ctx, const struct manifest_list *list)
{
        bool bad = false;

        for (size_t i = 0; i < list->n; i++) {
                const struct manifest_doc *d = &list->docs[i];
                const json_t *pos = json_object_get(d->positions, "metadata.generateName");
                _cleanup_(field_errors_release) struct field_errors errs = {0};

                if (!manifest_generates_name(d->object))
                        continue;
                bad = true;
                if (field_errors_add(&errs, "metadata.generateName",
                                     (int)json_integer_value(json_array_get(pos, 0)),
                                     (int)json_integer_value(json_array_get(pos, 1)), "%s",
                                     MANIFEST_GENERATE_NAME_APPLY) < 0) {
                        cli_fail(ctx, "out of memory");
                        return -ENOMEM;
                }
                _cleanup_free_ char *s = field_errors_format(&errs, d->source);
                fprintf(ctx->err, "%s\n", s ? s : MANIFEST_GENERATE_NAME_APPLY);
        }
        return bad ? -EINVAL : 0;
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
        _cleanup_(apply_texts_release) struct apply_texts texts = {0};
        size_t nargs = 0, n_batches = 0, batch = 0;
        int r;

        r = cli_parse_args(ctx, cmd, opts, argc, argv, &args, &nargs);
        if (r != 0)
                return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        if (nargs > 0)
                return cli_usage_error(ctx, cmd, "unexpected argument \"%s\"", args[0]);
        if (files.n == 0)
                return cli_usage_error(ctx, cmd, "must specify -f FILE|DIR|-");

        /* Everything is checked before the first batch goes out. */
        if (cli_load_manifests(ctx, &files, recursive, true, &list) < 0)
                return CLI_EXIT_FAIL;
        if (refuse_generated_names(ctx, &list) < 0)
                return CLI_EXIT_FAIL;
        for (size_t i = 0; i < list.n; i++)
                if (cli_apply_namespace(ctx, &list.docs[i]) < 0)
                        return CLI_EXIT_FAIL;
        if (apply_texts_make(&list, &texts) < 0)
                return cli_fail(ctx, "out of memory");

        for (size_t i = 0; i < texts.n; n_batches++)
                i = cli_apply_batch_end(texts.lens, texts.n, i, CLI_APPLY_BATCH_DOCS,
                                        CLI_APPLY_BATCH_BYTES);
        for (size_t start = 0; start < texts.n; batch++) {
                size_t end = cli_apply_batch_end(texts.lens, texts.n, start, CLI_APPLY_BATCH_DOCS,
                                                 CLI_APPLY_BATCH_BYTES);

                if (apply_batch(ctx, &texts, start, end, dry_run) < 0) {
                        if (n_batches > 1)
                                cli_fail(ctx,
                                         "apply stopped at batch %zu of %zu (documents %zu to "
                                         "%zu): the %zu objects before it were applied%s, the "
                                         "%zu after it were not sent",
                                         batch + 1, n_batches, start + 1, end, start,
                                         dry_run ? " (dry run)" : "", texts.n - end);
                        return CLI_EXIT_FAIL;
                }
                start = end;
        }
        return CLI_EXIT_OK;
}
