/* berth diff: what applying manifests would change, as one unified diff per
 * object (like kubectl diff). Both sides are normalised the same way
 * (cli_diff_normalize) and printed as YAML; with --prune --source NAME the
 * objects that Source applied and the files no longer hold are shown as
 * deleted.
 *
 * Exit status (kubectl's): 0 no differences, 1 differences, 2 an error. */
#include "cli-internal.h"

#define DIFF_TEXT_MAX (16 * 1024 * 1024) /* the YAML of one side of one object */

/* What the server sets; a user's manifest never says. */
static const char *const server_metadata[] = {
    "uid",           "generation", "resourceVersion",   "creationTimestamp",
    "managedFields", "finalizers", "deletionTimestamp", "ownerReferences",
};

/* What a Source puts on the objects it applies. */
static const char *const source_labels[] = {SOURCE_LABEL};
static const char *const source_annotations[] = {SOURCE_ANNOTATION, SOURCE_ANNOTATION_PATH,
                                                 SOURCE_ANNOTATION_REVISION};

/* ---- normalising (pure) ------------------------------------------------------ */

static void drop_empty_map(json_t *meta, const char *key)
{
        const json_t *m = json_object_get(meta, key);

        if (m && (json_is_null(m) || (json_is_object(m) && json_object_size(m) == 0)))
                json_object_del(meta, key);
}

json_t *cli_diff_normalize(const json_t *object, const char *ns)
{
        _cleanup_json_ json_t *o = json_deep_copy(object);
        const struct kind_info *kind;
        json_t *meta;

        if (!json_is_object(o))
                return NULL;
        kind = kind_by_name(json_string_value(json_object_get(o, "kind")));
        meta = json_object_get(o, "metadata");
        if (json_is_object(meta) && ns && kind && kind->namespaced &&
            !json_string_value(json_object_get(meta, "namespace")) &&
            json_object_set_new(meta, "namespace", json_string(ns)) < 0)
                return NULL;
        manifest_apply_defaults(o);
        json_object_del(o, "status");
        if (json_is_object(meta)) {
                for (size_t i = 0; i < ARRAY_SIZE(server_metadata); i++)
                        json_object_del(meta, server_metadata[i]);
                drop_empty_map(meta, "labels");
                drop_empty_map(meta, "annotations");
        }
        return TAKE_PTR(o);
}

static void drop_marks(json_t *live, const json_t *file, const char *key, const char *const *marks,
                       size_t n)
{
        json_t *meta = json_object_get(live, "metadata");
        json_t *map = json_object_get(meta, key);
        const json_t *keep =
            json_path(file, key[0] == 'l' ? "metadata.labels" : "metadata.annotations");

        if (!json_is_object(map))
                return;
        for (size_t i = 0; i < n; i++)
                if (!json_object_get(keep, marks[i]))
                        json_object_del(map, marks[i]);
        drop_empty_map(meta, key);
}

void cli_diff_drop_source_marks(json_t *live, const json_t *file)
{
        drop_marks(live, file, "labels", source_labels, ARRAY_SIZE(source_labels));
        drop_marks(live, file, "annotations", source_annotations, ARRAY_SIZE(source_annotations));
}

/* Adds key: v ordered like like to out; false when memory ran out. */
static bool add_ordered(json_t *out, const char *key, const json_t *v, const json_t *like)
{
        json_t *c = cli_diff_ordered_like(v, like);

        return c && json_object_set_new(out, key, c) == 0;
}

json_t *cli_diff_ordered_like(const json_t *v, const json_t *like)
{
        const char *k;
        size_t i;
        json_t *x, *out;

        if (json_is_object(v)) {
                out = json_object();
                if (!out)
                        return NULL;
                /* like's keys first, in like's order; then v's others. */
                json_object_foreach((json_t *)like, k, x)
                {
                        const json_t *val = json_object_get(v, k);

                        if (val && !add_ordered(out, k, val, x)) {
                                json_decref(out);
                                return NULL;
                        }
                }
                json_object_foreach((json_t *)v, k, x)
                {
                        if (!json_object_get(out, k) && !add_ordered(out, k, x, NULL)) {
                                json_decref(out);
                                return NULL;
                        }
                }
                return out;
        }
        if (json_is_array(v)) {
                out = json_array();
                json_array_foreach(v, i, x)
                {
                        json_t *c = out ? cli_diff_ordered_like(x, json_array_get(like, i)) : NULL;

                        if (!c || json_array_append_new(out, c) < 0) {
                                json_decref(out);
                                return NULL;
                        }
                }
                return out;
        }
        return json_deep_copy(v);
}

/* ---- one object ----------------------------------------------------------------- */

struct diff_run {
        struct cli_ctx *ctx;
        const char *default_ns;
        bool differ;
};

/* The YAML of o into b ("" when o is NULL). */
static int render(const json_t *o, struct buf *b)
{
        buf_init(b, DIFF_TEXT_MAX);
        return o ? manifest_to_yaml(o, b) : 0;
}

/* Prints the diff of one object: live (as the server has it) against file
 * (as the manifests say), either may be NULL. 0, or -errno after printing. */
static int diff_object(struct diff_run *d, const struct kind_info *kind, const char *ns,
                       const char *name, const json_t *live, const json_t *file)
{
        _cleanup_json_ json_t *l = NULL, *f = NULL, *lo = NULL;
        _cleanup_buf_ struct buf lt = {0}, ft = {0};
        _cleanup_free_ char *llabel = str_printf("live/%s/%s/%s", kind->resource, ns, name);
        _cleanup_free_ char *flabel = str_printf("file/%s/%s/%s", kind->resource, ns, name);
        int r;

        if (!llabel || !flabel)
                return cli_fail(d->ctx, "out of memory"), -ENOMEM;
        if (file && !(f = cli_diff_normalize(file, ns)))
                return cli_fail(d->ctx, "out of memory"), -ENOMEM;
        if (live) {
                l = cli_diff_normalize(live, ns);
                if (l)
                        cli_diff_drop_source_marks(l, f);
                lo = l ? cli_diff_ordered_like(l, f) : NULL;
                if (!lo)
                        return cli_fail(d->ctx, "out of memory"), -ENOMEM;
        }
        if (render(lo, &lt) < 0 || render(f, &ft) < 0) {
                cli_fail(d->ctx, "%s/%s/%s: too large to diff (more than %d MiB of YAML)",
                         kind->resource, ns, name, DIFF_TEXT_MAX / (1024 * 1024));
                return -E2BIG;
        }
        r = cli_diff_unified(d->ctx->out, llabel, lt.data ? lt.data : "", lt.len, flabel,
                             ft.data ? ft.data : "", ft.len, CLI_DIFF_CONTEXT);
        if (r == -E2BIG)
                cli_fail(d->ctx, "%s/%s/%s: too large to diff (more than %d lines)", kind->resource,
                         ns, name, CLI_DIFF_LINES_MAX);
        else if (r < 0)
                cli_fail(d->ctx, "%s", r == -ENOMEM ? "out of memory" : "cannot write output");
        if (r < 0)
                return r;
        d->differ = d->differ || r > 0;
        return 0;
}

/* "tasks/ns/name", the key of an object in the set of the files' objects. */
static char *object_id(const struct kind_info *kind, const char *ns, const char *name)
{
        return str_printf("%s/%s/%s", kind->resource, ns ? ns : "", name ? name : "");
}

/* ---- --prune ---------------------------------------------------------------------- */

/* The Source the objects came from: its target namespace is where documents
 * without one go. */
static int load_source(struct cli_ctx *ctx, const char *name, json_t **ret)
{
        const struct kind_info *kind = kind_by_name("Source");
        int r = cli_get_object(ctx, kind, ctx->ns, name, ret);

        if (r == -ENOENT) {
                fprintf(ctx->err, "Error from server (NotFound): sources \"%s\" not found\n", name);
                return r;
        }
        return r;
}

/* Every object the Source ns/name applied that is not in seen, as deleted. */
static int diff_pruned(struct diff_run *d, const char *source, const json_t *seen)
{
        struct cli_ctx *ctx = d->ctx;
        _cleanup_free_ char *selector = str_printf("%s=%s", SOURCE_LABEL, source);
        _cleanup_free_ char *owner = str_printf("%s/%s", ctx->ns, source);
        _cleanup_free_ char *escaped = selector ? cli_escape(selector) : NULL;
        _cleanup_free_ char *query = escaped ? str_printf("?labelSelector=%s", escaped) : NULL;

        if (!query || !owner)
                return cli_fail(ctx, "out of memory"), -ENOMEM;
        for (const struct kind_info *const *k = kind_all(); *k; k++) {
                _cleanup_reply_ struct cli_reply reply = {0};
                _cleanup_free_ char *path = cli_path(*k, NULL, NULL, query);
                _cleanup_json_ json_t *list = NULL;
                size_t i;
                json_t *o;

                if (!kind_source_may_apply(*k))
                        continue; /* a Source never applied one */
                if (!path)
                        return cli_fail(ctx, "out of memory"), -ENOMEM;
                if (cli_http(ctx, "GET", path, NULL, NULL, 0, &reply) < 0)
                        return -EIO;
                if (reply.status < 200 || reply.status >= 300) {
                        cli_status_print(ctx, &reply);
                        return -EPROTO;
                }
                list = json_loadb(reply.body.data ? reply.body.data : "", reply.body.len, 0, NULL);
                if (!json_is_array(json_object_get(list, "items")))
                        return cli_fail(ctx, "invalid response from berthd: no items"), -EBADMSG;
                json_array_foreach(json_object_get(list, "items"), i, o)
                {
                        const char *ns = json_path_string(o, "metadata.namespace");
                        const char *name = json_path_string(o, "metadata.name");
                        const json_t *ann = json_path(o, "metadata.annotations");
                        _cleanup_free_ char *id = object_id(*k, ns, name);
                        int r;

                        if (!id)
                                return cli_fail(ctx, "out of memory"), -ENOMEM;
                        if (!name || json_object_get(seen, id) ||
                            !streq(json_string_value(json_object_get(ann, SOURCE_ANNOTATION)),
                                   owner) ||
                            streq(json_string_value(json_object_get(ann, SOURCE_ANNOTATION_PRUNE)),
                                  SOURCE_PRUNE_DISABLED) ||
                            json_path(o, "metadata.deletionTimestamp"))
                                continue;
                        r = diff_object(d, *k, ns ? ns : "", name, o, NULL);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* ---- the command ------------------------------------------------------------------ */

int cmd_diff(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        struct cli_list files = {0};
        bool recursive = false, prune = false;
        const char *source = NULL;
        const struct cli_option opts[] = {
            {"filename", 'f', CLI_OPT_LIST, "FILE",
             "manifest file, directory or - for stdin (repeatable)", &files},
            {"recursive", 'R', CLI_OPT_BOOL, NULL, "descend into subdirectories of -f directories",
             &recursive},
            {"prune", 0, CLI_OPT_BOOL, NULL,
             "also show the objects of --source that the files no longer hold", &prune},
            {"source", 0, CLI_OPT_STRING, "NAME",
             "the Source (in -n) the files belong to; with --prune", &source},
            {0},
        };
        _cleanup_free_ char **args = NULL;
        _cleanup_(manifest_list_release) struct manifest_list list = {0};
        _cleanup_json_ json_t *src = NULL, *seen = json_object();
        struct diff_run d = {.ctx = ctx};
        size_t nargs = 0;
        int r;

        r = cli_parse_args(ctx, cmd, opts, argc, argv, &args, &nargs);
        if (r != 0)
                return r > 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
        if (nargs > 0)
                return cli_usage_error(ctx, cmd, "unexpected argument \"%s\"", args[0]);
        if (files.n == 0)
                return cli_usage_error(ctx, cmd, "must specify -f FILE|DIR|-");
        if (prune != (source != NULL))
                return cli_usage_error(ctx, cmd, "--prune and --source NAME go together");
        if (source && !name_is_valid(source))
                return cli_usage_error(ctx, cmd, "invalid --source \"%s\": want a DNS-1123 label",
                                       source);
        if (!seen)
                return cli_fail(ctx, "out of memory"), CLI_EXIT_ERROR;

        if (cli_load_manifests(ctx, &files, recursive, true, &list) < 0)
                return CLI_EXIT_ERROR;
        d.default_ns = ctx->ns;
        if (source) {
                const char *target;

                if (load_source(ctx, source, &src) < 0)
                        return CLI_EXIT_ERROR;
                target = json_path_string(src, "spec.targetNamespace");
                if (target && *target)
                        d.default_ns = target;
        } else {
                for (size_t i = 0; i < list.n; i++)
                        if (cli_apply_namespace(ctx, &list.docs[i]) < 0)
                                return CLI_EXIT_ERROR;
        }

        for (size_t i = 0; i < list.n; i++) {
                const json_t *file = list.docs[i].object;
                const struct kind_info *kind =
                    kind_lookup(json_string_value(json_object_get(file, "kind")));
                const char *name = json_path_string(file, "metadata.name");
                const char *ns = json_path_string(file, "metadata.namespace");
                _cleanup_json_ json_t *live = NULL;
                _cleanup_free_ char *id = NULL;

                if (!kind->namespaced)
                        ns = "";
                else if (!ns || !*ns)
                        ns = d.default_ns;
                id = object_id(kind, ns, name);
                if (!id || json_object_set_new(seen, id, json_true()) < 0)
                        return cli_fail(ctx, "out of memory"), CLI_EXIT_ERROR;
                r = cli_get_object(ctx, kind, ns, name, &live);
                if (r < 0 && r != -ENOENT)
                        return CLI_EXIT_ERROR;
                if (diff_object(&d, kind, ns, name, live, file) < 0)
                        return CLI_EXIT_ERROR;
        }
        if (prune) {
                if (json_is_false(json_path(src, "spec.prune")))
                        fprintf(ctx->err,
                                "note: source/%s has spec.prune false: it deletes nothing, so no "
                                "deletions are shown\n",
                                source);
                else if (diff_pruned(&d, source, seen) < 0)
                        return CLI_EXIT_ERROR;
        }
        fflush(ctx->out);
        return d.differ ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
