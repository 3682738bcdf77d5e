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
        _cleanup_json_ json_t *all = object_cache_list(ctx->objects, prefix, NULL);
        _cleanup_json_ json_t *mine = json_array();
        size_t i;
        json_t *o;

        if (!all || !mine)
                return berth_error_set(err, -ENOMEM, "out of memory");
        json_array_foreach(all, i, o)
        {
                if (object_owned_by(o, owner_kind, owner_name, owner_uid) &&
                    json_array_append(mine, o) < 0)
                        return berth_error_set(err, -ENOMEM, "out of memory");
        }
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
