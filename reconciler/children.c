/* children.c: objects one object owns (through metadata.ownerReferences):
 * a Workflow's Tasks, a CronTask's runs. Shared by the kinds that create
 * objects of the next layer: how a child is made, written, found and
 * deleted. */
#include "reconciler-internal.h"

bool object_owned_by(const json_t *obj, const char *owner_kind, const char *owner_name,
                     const char *owner_uid)
{
        size_t i;
        const json_t *ref;

        json_array_foreach(json_path(obj, "metadata.ownerReferences"), i, ref)
        {
                if (owner_uid ? streq(json_path_string(ref, "uid"), owner_uid)
                              : streq(json_path_string(ref, "kind"), owner_kind) &&
                                    streq(json_path_string(ref, "name"), owner_name))
                        return true;
        }
        return false;
}

int children_list(struct reconcile_ctx *ctx, const struct kind_info *kind, const char *ns,
                  const char *owner_kind, const char *owner_name, const char *owner_uid,
                  json_t **ret, struct berth_error *err)
{
        _cleanup_free_ char *prefix = object_key(ctx->prefix, kind->resource, ns, "");
        if (!prefix)
                return berth_error_set(err, -ENOMEM, "out of memory");
        /* Filtered on the cached summaries: only the children are parsed,
         * not every object of the kind in the namespace. */
        const struct object_blob **all = NULL;
        size_t n = 0;
        _cleanup_json_ json_t *mine = json_array();
        int r = mine ? object_cache_list_blobs(ctx->objects, prefix, &all, &n, NULL) : -ENOMEM;

        for (size_t i = 0; r == 0 && i < n; i++) {
                if (object_blob_owned_by(all[i], owner_kind, owner_name, owner_uid) &&
                    json_array_append_new(mine, object_blob_parse(all[i])) < 0)
                        r = -ENOMEM;
        }
        object_blobs_release(all, n);
        if (r < 0)
                return berth_error_set(err, -ENOMEM, "out of memory");
        *ret = TAKE_PTR(mine);
        return 0;
}

int children_mark_deleted(struct reconcile_ctx *ctx, const struct kind_info *kind, const char *ns,
                          const json_t *children, struct berth_error *err)
{
        size_t i;
        const json_t *o;

        json_array_foreach(children, i, o)
        {
                if (object_is_deleting(o))
                        continue;
                _cleanup_free_ char *key = object_key(ctx->prefix, kind->resource, ns,
                                                      json_path_string(o, "metadata.name"));
                if (!key)
                        return berth_error_set(err, -ENOMEM, "out of memory");
                int r = object_mark_deleted(ctx, key, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

json_t *child_new(const struct object_run *owner, const struct kind_info *kind, const char *name,
                  json_t *labels, json_t *annotations, json_t *spec)
{
        _cleanup_json_ json_t *l = labels, *a = annotations, *s = spec;
        _cleanup_json_ json_t *child =
            json_pack("{s:s, s:s, s:{s:s, s:s, s:O, s:[{s:s, s:s, s:s, s:s, s:b}]}, s:O}",
                      "apiVersion", MANIFEST_API_VERSION, "kind", kind->kind, "metadata", "name",
                      name, "namespace", owner->ns, "labels", l, "ownerReferences", "apiVersion",
                      MANIFEST_API_VERSION, "kind", json_path_string(owner->obj, "kind"), "name",
                      owner->name, "uid", owner->uid, "controller", true, "spec", s);

        if (!child ||
            (a && json_object_set(json_object_get(child, "metadata"), "annotations", a) < 0))
                return NULL;
        manifest_apply_defaults(child);
        if (object_stamp_new(child, kind, owner->now_ms) < 0)
                return NULL;
        return TAKE_PTR(child);
}

int child_create(struct reconcile_ctx *ctx, const char *key, const json_t *child,
                 struct berth_error *err)
{
        _cleanup_free_ char *data = json_dumps(child, JSON_COMPACT);

        if (!data)
                return berth_error_set(err, -ENOMEM, "out of memory");
        return store_put_guarded(ctx->store, key, data, strlen(data), STORE_MUST_NOT_EXIST, 0,
                                 ctx->fence, NULL, err);
}
