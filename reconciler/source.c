/* source.c: the Source reconciler — a sync of a directory of manifests:
 * scan the tree (sources/), parse and validate every file, apply what it
 * holds through the one apply implementation (apply/), prune what is gone
 * (a pure decision, sources/prune.c), write the status.
 *
 * Rules (docs/reference/source.md for users):
 * - A file in error (unreadable, over 1 MiB, not YAML, an invalid object, a
 *   namespace it may not use, a duplicate) applies none of its objects, and
 *   the round prunes nothing at all: a half-broken checkout never deletes
 *   work. The other files still apply.
 * - An object of that name made by hand or by another Source is left alone
 *   and reported as a conflict.
 * - Applied objects carry the label berth.source=<name> and the annotations
 *   berth/source (<ns>/<name>), berth/source-path and
 *   berth/source-revision; the revision alone never rewrites an object.
 * - A change of an applied object through the API brings the Source back
 *   (the controller enqueues it): the next sync puts the file's content back,
 *   counted in status.drift.
 */
#include <limits.h>
#include <stdio.h>

#include "admission.h"
#include "apply.h"
#include "reconciler-internal.h"
#include "secrets.h"
#include "sources.h"

#define SOURCE_ERRORS_MAX    200 /* status.errors entries kept */
#define SOURCE_CONFLICTS_MAX 200

struct desired {
        json_t *obj; /* validated, defaulted, marked */
        const struct kind_info *kind;
        const char *file; /* borrowed from the tree */
};

struct source_run {
        struct object_run o;
        struct source_spec spec;
        bool spec_valid;
        char identity[130]; /* "<ns>/<name>": its objects' berth/source annotation */
        /* observed */
        const char *stalled; /* PathMissing, PathNotAllowed, ... (NULL: none) */
        char stalled_msg[1100];
        struct source_tree tree;
        char revision[SOURCE_REVISION_MAX];
        const char *revision_kind;
        struct desired *desired;
        size_t n_desired;
        bool files_ok;
        json_t *errors;   /* status.errors */
        json_t *live;     /* the cached objects labelled with this Source */
        json_t *seen;     /* "resource/ns/name" of every object defined so far */
        bool force_prune; /* berth sync --force-prune, not handled yet */
        /* acted */
        json_t *conflicts;
        json_t *deleted;
        size_t applied, created, configured, drift;
        char drift_last[200]; /* the last object put back */
        struct prune_decision prune;
        bool pruned;
};

/* metadata.<map>[key]: label and annotation keys may hold dots, which
 * json_path would split. */
static const char *meta_string(const json_t *obj, const char *map, const char *key)
{
        return json_string_value(
            json_object_get(json_object_get(json_object_get(obj, "metadata"), map), key));
}

static struct source_run *source_run_of(struct object_run *o)
{
        return (struct source_run *)o;
}

static int source_gone(struct reconcile_ctx *ctx, const char *ns, const char *name,
                       struct berth_error *err)
{
        _cleanup_free_ char *key = object_key(ctx->prefix, "sources", ns, name);

        (void)err;
        if (key && ctx->watch_source)
                ctx->watch_source(ctx->watch_userdata, key, NULL);
        return 0;
}

static int source_prepare(struct object_run *o, struct berth_error *err)
{
        struct source_run *run = source_run_of(o);
        int r = source_spec_decode(o->obj, &run->spec, err);

        run->spec_valid = r == 0;
        snprintf(run->identity, sizeof(run->identity), "%s/%s", o->ns, o->name);
        run->errors = json_array();
        run->conflicts = json_array();
        run->deleted = json_array();
        run->seen = json_object();
        if (!run->errors || !run->conflicts || !run->deleted || !run->seen)
                return berth_error_set(err, -ENOMEM, "%s: out of memory", o->key);
        return object_run_spec_decoded(o, r, err);
}

/* ---- observe: the tree ------------------------------------------------------ */

static void add_error(struct source_run *run, const char *file, int line, int column,
                      const char *fmt, ...) _printf_(5, 6);
static void add_error(struct source_run *run, const char *file, int line, int column,
                      const char *fmt, ...)
{
        char msg[512];
        va_list ap;

        if (json_array_size(run->errors) >= SOURCE_ERRORS_MAX)
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        json_t *e = json_pack("{s:s, s:s}", "file", file, "message", msg);
        if (e && line > 0) {
                json_object_set_new(e, "line", json_integer(line));
                json_object_set_new(e, "column", json_integer(column));
        }
        json_array_append_new(run->errors, e);
}

/* "file:12:3: what" (the parser's form) → line, column and what. */
static void add_parse_error(struct source_run *run, const char *file, const char *message)
{
        int line = 0, column = 0, n = 0;
        const char *rest = message + strlen(file);

        if (str_has_prefix(message, file) && sscanf(rest, ":%d:%d: %n", &line, &column, &n) == 2 &&
            n > 0)
                add_error(run, file, line, column, "%s", rest + n);
        else
                add_error(run, file, 0, 0, "%s", message);
}

/* Whether path lies inside one of berthd's --source-root directories (both
 * resolved: a symlink cannot lead out). */
static bool path_allowed(const struct reconcile_ctx *ctx, const char *real)
{
        for (size_t i = 0; i < ctx->n_source_roots; i++) {
                char root[PATH_MAX];
                size_t n;

                if (!realpath(ctx->source_roots[i], root))
                        continue;
                n = strlen(root);
                if (strncmp(real, root, n) == 0 && (real[n] == '\0' || real[n] == '/' || n == 1))
                        return true;
        }
        return false;
}

static bool namespace_allowed(const struct source_spec *spec, const char *ns)
{
        if (streq(ns, spec->target_namespace))
                return true;
        for (size_t i = 0; i < spec->n_allowed_namespaces; i++)
                if (streq(ns, spec->allowed_namespaces[i]))
                        return true;
        return false;
}

/* Puts the Source's marks on an object about to be applied. */
static int mark(struct source_run *run, json_t *obj, const char *file)
{
        json_t *m = json_object_get(obj, "metadata");
        json_t *labels = json_object_get(m, "labels");
        json_t *ann = json_object_get(m, "annotations");

        if (!labels && json_object_set_new(m, "labels", labels = json_object()) < 0)
                return -ENOMEM;
        if (!ann && json_object_set_new(m, "annotations", ann = json_object()) < 0)
                return -ENOMEM;
        if (json_set_string(labels, SOURCE_LABEL, run->o.name) < 0 ||
            json_set_string(ann, SOURCE_ANNOTATION, run->identity) < 0 ||
            json_set_string(ann, SOURCE_ANNOTATION_PATH, file) < 0 ||
            json_set_string(ann, SOURCE_ANNOTATION_REVISION, run->revision) < 0)
                return -ENOMEM;
        return 0;
}

/* Records kind/ns/name as defined (run->seen); false when it was already. */
static bool first_definition(struct source_run *run, const struct kind_info *kind, const char *ns,
                             const char *name)
{
        char id[200];

        snprintf(id, sizeof(id), "%s/%s/%s", kind->resource, ns, name);
        if (json_object_get(run->seen, id))
                return false;
        json_object_set_new(run->seen, id, json_true());
        return true;
}

/* The file at path into out (whose cap bounds it); -1 with errno set. */
static int read_whole(const char *path, struct buf *out)
{
        FILE *f = fopen(path, "re");
        char chunk[65536];
        size_t n;

        if (!f)
                return -1;
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                if (buf_append(out, chunk, n) < 0) {
                        fclose(f);
                        errno = EFBIG;
                        return -1;
                }
        int failed = ferror(f);
        fclose(f);
        if (failed) {
                errno = EIO;
                return -1;
        }
        return 0;
}

/* The admission policy for one object of a file, with the Policy of its
 * namespace as the cache has it now: -EINVAL with errors appended when it
 * is refused. */
static int admit(struct source_run *run, const json_t *obj, const json_t *positions,
                 struct field_errors *errs)
{
        struct reconcile_ctx *ctx = run->o.ctx;
        const char *ns = json_path_string(obj, "metadata.namespace");
        _cleanup_json_ json_t *held = NULL;
        struct policy_spec policy;
        char why[BERTH_ERROR_MESSAGE_MAX];

        if (!ctx->admission)
                return 0;
        int r = namespace_policy_get(ctx, ns ? ns : run->spec.target_namespace, &held, &policy, why,
                                     sizeof(why));
        if (r == -EPERM) {
                field_errors_add(errs, "metadata.namespace", 0, 0, "%s", why);
                return -EINVAL;
        }
        if (r < 0)
                return r;
        return admission_check_object(ctx->admission, held ? &policy : NULL, obj, positions, errs);
}

/* One file's objects, all or none. */
static int load_file(struct source_run *run, const struct source_file *f)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {0};
        _cleanup_free_ char *path = str_printf("%s/%s", run->spec.path, f->relpath);
        struct berth_error err = {0};
        struct buf data;
        size_t first = run->n_desired;
        bool bad = false;

        if (!path)
                return -ENOMEM;
        if (f->too_big) {
                add_error(run, f->relpath, 0, 0, "larger than %d bytes", MANIFEST_DOC_MAX);
                return 1;
        }
        buf_init(&data, MANIFEST_DOC_MAX + 1);
        if (read_whole(path, &data) < 0) {
                buf_release(&data);
                add_error(run, f->relpath, 0, 0, "cannot be read: %s", strerror(errno));
                return 1;
        }
        int r =
            manifest_parse_buffer(data.data ? data.data : "", data.len, f->relpath, &list, &err);
        buf_release(&data);
        if (r < 0) {
                add_parse_error(run, f->relpath, err.message);
                return 1;
        }
        struct desired *grown = realloc(run->desired, (run->n_desired + list.n) * sizeof(*grown));
        if (!grown && list.n)
                return -ENOMEM;
        run->desired = grown;
        for (size_t i = 0; i < list.n; i++) {
                json_t *obj = list.docs[i].object;
                json_t *m = json_object_get(obj, "metadata");
                _cleanup_(field_errors_release) struct field_errors errs = {0};

                const struct kind_info *k = kind_by_name(json_path_string(obj, "kind"));
                if (json_is_object(m) && !json_object_get(m, "namespace") && (!k || k->namespaced))
                        json_object_set_new(m, "namespace",
                                            json_string(run->spec.target_namespace));
                if (manifest_validate(obj, list.docs[i].positions, &errs) < 0 ||
                    admit(run, obj, list.docs[i].positions, &errs) < 0) {
                        for (size_t e = 0; e < errs.n; e++)
                                add_error(run, f->relpath, errs.items[e].line, errs.items[e].column,
                                          "%s: %s", errs.items[e].field, errs.items[e].message);
                        bad = true;
                        continue;
                }
                if (manifest_generates_name(obj)) {
                        const json_t *pos =
                            json_object_get(list.docs[i].positions, "metadata.generateName");
                        add_error(run, f->relpath, (int)json_integer_value(json_array_get(pos, 0)),
                                  (int)json_integer_value(json_array_get(pos, 1)),
                                  "metadata.generateName: %s", MANIFEST_GENERATE_NAME_APPLY);
                        bad = true;
                        continue;
                }
                const struct kind_info *kind = kind_by_name(json_path_string(obj, "kind"));
                const char *ns = json_path_string(obj, "metadata.namespace");
                const char *name = json_path_string(obj, "metadata.name");
                if (streq(kind->kind, "Source")) {
                        add_error(run, f->relpath, list.docs[i].line, 1,
                                  "%s: a Source cannot apply Sources", name);
                        bad = true;
                } else if (!kind_source_may_apply(kind)) {
                        /* It applies with the controller's authority, not
                         * its author's: never a way to grant access. */
                        add_error(run, f->relpath, list.docs[i].line, 1,
                                  "%s %s: a Source cannot apply access control (Roles, bindings, "
                                  "Tokens, Policies) or cluster-scoped objects: apply them with "
                                  "berth apply",
                                  kind->kind, name);
                        bad = true;
                } else if (!namespace_allowed(&run->spec, ns)) {
                        add_error(run, f->relpath, list.docs[i].line, 1,
                                  "%s/%s: namespace %s is not allowed for this Source (its "
                                  "targetNamespace is %s; allowedNamespaces lists others)",
                                  kind->resource, name, ns, run->spec.target_namespace);
                        bad = true;
                } else if (!first_definition(run, kind, ns, name)) {
                        add_error(run, f->relpath, list.docs[i].line, 1,
                                  "%s/%s/%s: defined twice in this Source", kind->resource, ns,
                                  name);
                        bad = true;
                } else {
                        manifest_apply_defaults(obj);
                        if (mark(run, obj, f->relpath) < 0)
                                return -ENOMEM;
                        run->desired[run->n_desired++] = (struct desired){
                            .obj = json_incref(obj), .kind = kind, .file = f->relpath};
                }
        }
        if (!bad)
                return 0;
        /* all or none */
        for (size_t i = first; i < run->n_desired; i++)
                json_decref(run->desired[i].obj);
        run->n_desired = first;
        return 1;
}

static void forget_desired(struct source_run *run)
{
        for (size_t i = 0; i < run->n_desired; i++)
                json_decref(run->desired[i].obj);
        free(run->desired);
        run->desired = NULL;
        run->n_desired = 0;
}

/* The cached objects of every kind labelled with this Source's name. */
static int list_live(struct source_run *run)
{
        /* Every cached object, filtered on the summaries: only the Source's
         * own are parsed. */
        const struct object_blob **all = NULL;
        size_t n = 0;
        int r = object_cache_list_blobs(run->o.ctx->objects, run->o.ctx->prefix, &all, &n, NULL);

        run->live = json_array();
        if (r < 0 || !run->live) {
                object_blobs_release(all, n);
                return -ENOMEM;
        }
        for (size_t i = 0; r == 0 && i < n; i++) {
                if (streq(object_blob_label(all[i], SOURCE_LABEL), run->o.name) &&
                    !all[i]->deleting &&
                    json_array_append_new(run->live, object_blob_parse(all[i])) < 0)
                        r = -ENOMEM;
        }
        object_blobs_release(all, n);
        return r;
}

static int source_observe(struct object_run *o, struct berth_error *err)
{
        struct source_run *run = source_run_of(o);
        struct reconcile_ctx *ctx = o->ctx;
        char real[PATH_MAX];
        int r;

        if (!run->spec_valid)
                return 0;
        /* A suspended Source needs no watch (its un-suspending is an event). */
        if (ctx->watch_source)
                ctx->watch_source(ctx->watch_userdata, o->key,
                                  run->spec.suspend ? NULL : &run->spec);
        if (run->spec.suspend)
                return 0;
        run->files_ok = true;
        if (!realpath(run->spec.path, real)) {
                run->stalled = "PathMissing";
                snprintf(run->stalled_msg, sizeof(run->stalled_msg), "%s: %s", run->spec.path,
                         strerror(errno));
                return 0;
        }
        if (!path_allowed(ctx, real)) {
                run->stalled = "PathNotAllowed";
                snprintf(run->stalled_msg, sizeof(run->stalled_msg),
                         "%s is outside the directories berthd may read sources from "
                         "(berthd --source-root)",
                         run->spec.path);
                return 0;
        }
        struct berth_error serr = {0};
        r = source_tree_scan(real, run->spec.recursive, run->spec.include, run->spec.n_include,
                             run->spec.exclude, run->spec.n_exclude, &run->tree, &serr);
        if (r == -ENOENT || r == -ENOTDIR || r == -EACCES || r == -E2BIG) {
                run->stalled = r == -E2BIG ? "TooManyFiles" : "PathMissing";
                snprintf(run->stalled_msg, sizeof(run->stalled_msg), "%s", serr.message);
                return 0;
        }
        if (r < 0)
                return berth_error_set(err, r, "%s: %s", o->key, serr.message);
        r = source_revision(real, &run->tree, run->revision, &run->revision_kind, &serr);
        if (r < 0)
                return berth_error_set(err, r, "%s: revision: %s", o->key, serr.message);
        for (size_t i = 0; i < run->tree.n_skipped; i++)
                add_error(run, run->tree.skipped[i].relpath, 0, 0, "ignored: %s",
                          run->tree.skipped[i].reason);
        for (size_t i = 0; i < run->tree.n_files; i++) {
                r = load_file(run, &run->tree.files[i]);
                if (r < 0)
                        return berth_error_set(err, r, "%s: out of memory", o->key);
                if (r > 0)
                        run->files_ok = false;
        }
        const char *force = meta_string(o->obj, "annotations", SOURCE_ANNOTATION_FORCE_PRUNE);
        run->force_prune =
            force && !streq(force, json_path_string(o->obj, "status.forcePruneHandled"));
        if (list_live(run) < 0)
                return berth_error_set(err, -ENOMEM, "%s: out of memory", o->key);
        return 0;
}

/* ---- plan: the prune decision ------------------------------------------------ */

static void source_plan(struct object_run *o, struct plan_summary *ret)
{
        struct source_run *run = source_run_of(o);
        size_t n_live = json_array_size(run->live);
        _cleanup_free_ struct source_object_ref *desired =
            calloc(run->n_desired + 1, sizeof(*desired));
        _cleanup_free_ struct source_live_object *live = calloc(n_live + 1, sizeof(*live));

        *ret = (struct plan_summary){.requeue_after_ms = -1};
        if (!run->spec_valid || run->spec.suspend || run->stalled || !desired || !live)
                return;
        for (size_t i = 0; i < run->n_desired; i++)
                desired[i] = (struct source_object_ref){
                    run->desired[i].kind->kind,
                    json_path_string(run->desired[i].obj, "metadata.namespace"),
                    json_path_string(run->desired[i].obj, "metadata.name"),
                };
        for (size_t i = 0; i < n_live; i++) {
                const json_t *obj = json_array_get(run->live, i);
                live[i] = (struct source_live_object){
                    .kind = json_path_string(obj, "kind"),
                    .ns = json_path_string(obj, "metadata.namespace"),
                    .name = json_path_string(obj, "metadata.name"),
                    .owner = meta_string(obj, "annotations", SOURCE_ANNOTATION),
                    .protected_ = streq(meta_string(obj, "annotations", SOURCE_ANNOTATION_PRUNE),
                                        SOURCE_PRUNE_DISABLED),
                };
        }
        const struct prune_input in = {
            .source = run->identity,
            .desired = desired,
            .n_desired = run->n_desired,
            .files_ok = run->files_ok,
            .live = live,
            .n_live = n_live,
            .prune = run->spec.prune,
            .max_fraction = run->spec.max_prune_fraction,
            .force = run->force_prune,
        };
        prune_decision_release(&run->prune);
        if (source_prune_decide(&in, &run->prune) < 0)
                return;
        run->pruned = true;
        ret->n_actions = run->n_desired + run->prune.n_delete;
        ret->signature = SIGNATURE_SEED; /* one round: nothing to compare */
        ret->requeue_after_ms = run->spec.rescan_ms;
}

/* ---- act ----------------------------------------------------------------------- */

/* The apply's ownership check: an object made by hand or by another Source
 * is not taken over. */
static int check_owner(const json_t *current, void *userdata, struct berth_error *err)
{
        struct source_run *run = userdata;
        const char *owner = meta_string(current, "annotations", SOURCE_ANNOTATION);
        const struct source_live_meta meta = {.exists = current != NULL, .owner = owner};
        enum source_ownership who = source_ownership_check(&meta, run->identity);
        char desc[160];

        if (who == SOURCE_OWNERSHIP_APPLY)
                return 0;
        source_ownership_describe(who, owner, desc, sizeof(desc));
        return berth_error_set(err, -EEXIST, "%s", desc);
}

/* The common case of a sync, answered from the cache: the object is ours
 * and already as the file says (apply_object would read the store to say
 * the same). Anything else goes through apply_object. */
static bool unchanged_in_cache(struct source_run *run, const struct desired *d)
{
        const struct reconcile_ctx *ctx = run->o.ctx;
        _cleanup_free_ char *key = object_key(ctx->prefix, d->kind->resource,
                                              json_path_string(d->obj, "metadata.namespace"),
                                              json_path_string(d->obj, "metadata.name"));
        _cleanup_json_ json_t *cached = key ? object_cache_get(ctx->objects, key, NULL) : NULL;
        bool same = false;

        if (!cached || !streq(meta_string(cached, "annotations", SOURCE_ANNOTATION), run->identity))
                return false;
        return apply_is_unchanged(d->obj, cached, SOURCE_ANNOTATION_REVISION, &same) == 0 && same;
}

static int apply_all(struct source_run *run, struct berth_error *err)
{
        struct reconcile_ctx *ctx = run->o.ctx;
        const char *prev = json_path_string(run->o.obj, "status.revision");
        bool same_revision = prev && streq(prev, run->revision);
        const struct apply_opts opts = {
            .fence = ctx->fence,
            .check = check_owner,
            .check_userdata = run,
            .ignore_annotation = SOURCE_ANNOTATION_REVISION,
            /* A Secret from a file is stored sealed, like one from the API. */
            .transform = secret_apply_transform,
            .transform_userdata = (void *)ctx->secrets,
        };

        for (size_t i = 0; i < run->n_desired; i++) {
                const struct desired *d = &run->desired[i];
                enum apply_result res;
                int64_t rev;
                struct berth_error aerr = {0};

                if (unchanged_in_cache(run, d)) {
                        run->applied++;
                        continue;
                }
                int r = apply_object(ctx->store, ctx->prefix, d->kind, d->obj, &opts, &res, &rev,
                                     &aerr);

                if (r == -EEXIST) {
                        if (json_array_size(run->conflicts) < SOURCE_CONFLICTS_MAX)
                                json_array_append_new(
                                    run->conflicts,
                                    json_pack("{s:s, s:s, s:s, s:s, s:s}", "kind", d->kind->kind,
                                              "namespace",
                                              json_path_string(d->obj, "metadata.namespace"),
                                              "name", json_path_string(d->obj, "metadata.name"),
                                              "file", d->file, "owner", aerr.message));
                        continue;
                }
                if (r == -EPERM) { /* fenced off: another replica leads */
                        *err = aerr;
                        return r;
                }
                if (r < 0) { /* reported with the file; the next sync tries again */
                        add_error(run, d->file, 0, 0, "%s", aerr.message);
                        run->o.retry_ms = 5000;
                        continue;
                }
                run->applied++;
                run->created += res == APPLY_CREATED;
                run->configured += res == APPLY_CONFIGURED;
                /* The files did not change, the object did: put back. */
                if (res == APPLY_CONFIGURED && same_revision) {
                        run->drift++;
                        snprintf(run->drift_last, sizeof(run->drift_last), "%s/%s/%s",
                                 d->kind->resource, json_path_string(d->obj, "metadata.namespace"),
                                 json_path_string(d->obj, "metadata.name"));
                }
        }
        return 0;
}

static int prune_all(struct source_run *run, struct berth_error *err)
{
        struct reconcile_ctx *ctx = run->o.ctx;

        for (size_t i = 0; i < run->prune.n_actions; i++) {
                if (run->prune.actions[i] != PRUNE_ACTION_DELETE)
                        continue;
                const json_t *obj = json_array_get(run->live, i);
                const struct kind_info *kind = kind_by_name(json_path_string(obj, "kind"));
                const char *ns = json_path_string(obj, "metadata.namespace");
                const char *name = json_path_string(obj, "metadata.name");
                _cleanup_free_ char *key =
                    kind ? object_key(ctx->prefix, kind->resource, ns, name) : NULL;
                if (!key)
                        continue;
                int r = object_mark_deleted(ctx, key, err);
                if (r < 0)
                        return r;
                json_array_append_new(run->deleted,
                                      json_sprintf("%s/%s/%s", kind->resource, ns, name));
        }
        return 0;
}

static int source_act(struct object_run *o, struct berth_error *err)
{
        struct source_run *run = source_run_of(o);
        int r;

        if (!run->pruned)
                return ACT_IDLE;
        r = apply_all(run, err);
        if (r == 0)
                r = prune_all(run, err);
        return r < 0 ? r : ACT_IDLE;
}

/* ---- status -------------------------------------------------------------------- */

static json_t *objects_by_kind(const struct source_run *run)
{
        json_t *by = json_object();

        for (size_t i = 0; by && i < run->n_desired; i++) {
                const char *k = run->desired[i].kind->kind;
                json_object_set_new(by, k,
                                    json_integer(json_integer_value(json_object_get(by, k)) + 1));
        }
        return by;
}

static json_t *conditions(struct source_run *run, const json_t *old)
{
        const int64_t now = run->o.now_ms;
        const char *ready_reason, *stalled_reason = "AsExpected";
        char ready_msg[1200], stalled_msg[1200] = "";
        bool ready;

        if (run->spec.suspend) {
                ready = false;
                ready_reason = "Suspended";
                snprintf(ready_msg, sizeof(ready_msg), "spec.suspend is true: nothing is applied");
        } else if (run->stalled) {
                ready = false;
                ready_reason = stalled_reason = run->stalled;
                snprintf(ready_msg, sizeof(ready_msg), "%s", run->stalled_msg);
                snprintf(stalled_msg, sizeof(stalled_msg), "%s; nothing is pruned",
                         run->stalled_msg);
        } else {
                size_t n_err = json_array_size(run->errors);
                ready = run->files_ok && json_array_size(run->conflicts) == 0 &&
                        run->prune.reason == PRUNE_REASON_NONE;
                ready_reason = ready ? "Synced" : "SyncFailed";
                snprintf(ready_msg, sizeof(ready_msg), "revision %.12s: %zu objects from %zu files",
                         run->revision, run->n_desired, run->tree.n_files);
                if (!run->files_ok) {
                        stalled_reason = "FilesInError";
                        snprintf(stalled_msg, sizeof(stalled_msg),
                                 "%zu problems in the files (status.errors): their objects are not "
                                 "applied and nothing is pruned",
                                 n_err);
                } else if (run->prune.reason == PRUNE_REASON_FRACTION_EXCEEDED) {
                        stalled_reason = "PruneRefused";
                        snprintf(stalled_msg, sizeof(stalled_msg), "%s", run->prune.message);
                } else if (json_array_size(run->conflicts) > 0) {
                        stalled_reason = "Conflict";
                        snprintf(stalled_msg, sizeof(stalled_msg),
                                 "%zu objects exist and belong to someone else (status.conflicts)",
                                 json_array_size(run->conflicts));
                }
        }
        bool stalled = !streq(stalled_reason, "AsExpected");
        _cleanup_json_ json_t *base = json_object();
        const json_t *old_conds = json_object_get(old, "conditions");
        if (!base || (json_is_array(old_conds) &&
                      json_object_set_new(base, "conditions", json_deep_copy(old_conds)) < 0))
                return NULL;
        _cleanup_json_ json_t *a = status_with_condition(base, "Ready", ready ? "True" : "False",
                                                         ready_reason, ready_msg, now);
        _cleanup_json_ json_t *b =
            a ? status_with_condition(a, "Stalled", stalled ? "True" : "False", stalled_reason,
                                      stalled ? stalled_msg : "the last sync went through", now)
              : NULL;
        return b ? status_with_condition(b, "Reconciling", "False", "Synced", "waiting for changes",
                                         now)
                 : NULL;
}

/* What the previous status said that this sync did not change. */
static int carry(json_t *st, const json_t *old, const char *key)
{
        json_t *v = json_object_get(old, key);
        return v ? json_object_set(st, key, v) : 0;
}

static int source_status(struct object_run *o, struct berth_error *err)
{
        struct source_run *run = source_run_of(o);
        const json_t *old = json_object_get(o->obj, "status");
        _cleanup_json_ json_t *st = NULL;
        const char *sync = meta_string(o->obj, "annotations", SOURCE_ANNOTATION_SYNC);

        if (!run->spec_valid)
                return 0;
        st = conditions(run, old);
        if (!st)
                return berth_error_set(err, -ENOMEM, "%s: out of memory", o->key);
        int r = json_set_new(st, "observedGeneration",
                             json_integer(json_path_int(o->obj, "metadata.generation", 0)));
        if (run->spec.suspend || run->stalled) {
                static const char *const kept[] = {
                    "revision",    "revisionKind", "lastAppliedTime", "files",  "objects",
                    "objectCount", "lastPrune",    "drift",           "errors", "conflicts"};
                for (size_t i = 0; r == 0 && i < ARRAY_SIZE(kept); i++)
                        r = carry(st, old, kept[i]);
        } else {
                json_t *prune = json_pack("{s:O}", "deleted", run->deleted);
                if (prune && run->prune.reason != PRUNE_REASON_NONE)
                        json_object_set_new(prune, "refused", json_string(run->prune.message));
                if (prune && json_array_size(run->deleted) == 0 &&
                    run->prune.reason == PRUNE_REASON_NONE) {
                        json_decref(prune); /* nothing happened: keep the last one */
                        prune = json_incref(json_object_get(old, "lastPrune"));
                } else if (prune) {
                        json_set_time(prune, "time", o->now_ms);
                }
                int64_t drift = json_path_int(old, "drift.count", 0) + (int64_t)run->drift;
                r = json_set_string(st, "revision", run->revision) ||
                    json_set_string(st, "revisionKind", run->revision_kind) ||
                    json_set_new(st, "files", json_integer((json_int_t)run->tree.n_files)) ||
                    json_set_new(st, "objects", objects_by_kind(run)) ||
                    json_set_new(st, "objectCount", json_integer((json_int_t)run->n_desired)) ||
                    json_set_new(st, "errors", json_incref(run->errors)) ||
                    json_set_new(st, "conflicts", json_incref(run->conflicts));
                if (r == 0 && prune)
                        r = json_set_new(st, "lastPrune", prune);
                if (r == 0 && run->drift > 0) {
                        char now[RFC3339_MAX];
                        time_format_rfc3339(o->now_ms, now);
                        r = json_set_new(st, "drift",
                                         json_pack("{s:I, s:s, s:s}", "count", (json_int_t)drift,
                                                   "lastTime", now, "lastObject", run->drift_last));
                } else if (r == 0) {
                        r = carry(st, old, "drift");
                }
                if (r == 0 &&
                    (run->created || run->configured || !json_object_get(old, "lastAppliedTime")))
                        r = json_set_time(st, "lastAppliedTime", o->now_ms);
                else if (r == 0)
                        r = carry(st, old, "lastAppliedTime");
                if (r == 0 && run->force_prune)
                        r = json_set_string(
                            st, "forcePruneHandled",
                            meta_string(o->obj, "annotations", SOURCE_ANNOTATION_FORCE_PRUNE));
                else if (r == 0)
                        r = carry(st, old, "forcePruneHandled");
        }
        /* `berth sync` waits for this: the request it answers. */
        if (r == 0 && sync)
                r = json_set_string(st, "lastSyncRequest", sync);
        /* Never before the request it answers (whole seconds, another clock). */
        int64_t requested = 0;
        if (sync && time_parse_rfc3339(sync, &requested) < 0)
                requested = 0;
        if (r == 0)
                r = json_set_time(st, "lastSyncTime",
                                  o->now_ms > requested ? o->now_ms : requested);
        if (r != 0)
                return berth_error_set(err, -ENOMEM, "%s: out of memory", o->key);
        /* lastSyncTime moves every sync: write only when something else changed
         * or a sync was asked for. */
        bool new_request =
            sync && !streq(sync, json_string_value(json_object_get(old, "lastSyncRequest")));
        if (old && !new_request) {
                _cleanup_json_ json_t *a = json_deep_copy(st), *b = json_deep_copy(old);
                if (a && b) {
                        json_object_del(a, "lastSyncTime");
                        json_object_del(b, "lastSyncTime");
                        if (json_equal(a, b))
                                return 0;
                }
        }
        return object_run_set_status(o, TAKE_PTR(st), err);
}

static void source_release(struct object_run *o)
{
        struct source_run *run = source_run_of(o);

        forget_desired(run);
        source_tree_release(&run->tree);
        prune_decision_release(&run->prune);
        json_decref(run->errors);
        json_decref(run->conflicts);
        json_decref(run->deleted);
        json_decref(run->live);
        json_decref(run->seen);
}

const struct kind_reconciler source_reconciler = {
    .kind = "Source",
    .run_size = sizeof(struct source_run),
    .gone = source_gone,
    .prepare = source_prepare,
    .observe = source_observe,
    .plan = source_plan,
    .act = source_act,
    .status = source_status,
    .release = source_release,
};
