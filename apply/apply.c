/* apply.c: the store side of user writes (see apply.h). */
#include "apply-internal.h"

static const char *const server_metadata[] = {
    "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp", "finalizers",
};

json_t *object_normalize(const json_t *obj)
{
        static const char *const top[] = {"apiVersion", "kind", "metadata", "spec", "status"};
        static const char *const meta[] = {
            "name",
            "namespace",
            "uid",
            "generation",
            "creationTimestamp",
            "deletionTimestamp",
            "labels",
            "annotations",
            "finalizers",
            "ownerReferences",
        };
        _cleanup_json_ json_t *out = json_object();
        const char *k;
        json_t *v;

        if (!out)
                return NULL;
        for (size_t i = 0; i < ARRAY_SIZE(top); i++) {
                v = json_object_get(obj, top[i]);
                if (!v)
                        continue;
                if (streq(top[i], "metadata") && json_is_object(v)) {
                        json_t *m = json_object();
                        json_t *mv;
                        if (!m || json_object_set_new(out, "metadata", m) < 0)
                                return NULL;
                        for (size_t j = 0; j < ARRAY_SIZE(meta); j++) {
                                mv = json_object_get(v, meta[j]);
                                if (mv && json_object_set(m, meta[j], mv) < 0)
                                        return NULL;
                        }
                        json_object_foreach(v, k, mv)
                        {
                                if (!json_object_get(m, k) && !streq(k, "resourceVersion") &&
                                    json_object_set(m, k, mv) < 0)
                                        return NULL;
                        }
                } else if (json_object_set(out, top[i], v) < 0) {
                        return NULL;
                }
        }
        json_object_foreach((json_t *)obj, k, v)
        {
                if (!json_object_get(out, k) && json_object_set(out, k, v) < 0)
                        return NULL;
        }
        return TAKE_PTR(out);
}

/* metadata of obj, created when absent. Borrowed; NULL when memory ran out. */
static json_t *metadata_of(json_t *obj)
{
        json_t *m = json_object_get(obj, "metadata");
        if (json_is_object(m))
                return m;
        m = json_object();
        if (!m || json_object_set_new(obj, "metadata", m) < 0)
                return NULL;
        return m;
}

bool json_same_opt(const json_t *a, const json_t *b, bool empty_is_absent)
{
        if (empty_is_absent) {
                if (json_is_object(a) && json_object_size(a) == 0)
                        a = NULL;
                if (json_is_object(b) && json_object_size(b) == 0)
                        b = NULL;
        }
        if (!a || !b)
                return !a && !b;
        return json_same(a, b);
}

int object_prepare_create(const struct kind_info *kind, json_t *obj, int64_t now_ms)
{
        json_t *m = metadata_of(obj);

        if (!m)
                return -ENOMEM;
        _cleanup_json_ json_t *fins = json_incref(json_object_get(m, "finalizers"));
        json_object_del(obj, "status");
        for (size_t i = 0; i < ARRAY_SIZE(server_metadata); i++)
                json_object_del(m, server_metadata[i]);
        if (json_array_size(fins) > 0 && json_object_set(m, "finalizers", fins) < 0)
                return -ENOMEM;
        return object_stamp_new(obj, kind, now_ms);
}

/* Whether a and b hold the same of what a user owns besides metadata: the
 * spec, or for a kind without one the fields it has at the top level
 * (kind_info.object_fields: a Secret's data). */
static bool content_same(const json_t *a, const json_t *b)
{
        const struct kind_info *k = kind_by_name(json_string_value(json_object_get(a, "kind")));

        if (!k || !k->object_fields)
                return json_same_opt(json_object_get(a, "spec"), json_object_get(b, "spec"), false);
        for (const char *const *f = k->object_fields; *f; f++)
                if (!json_same_opt(json_object_get(a, *f), json_object_get(b, *f), false))
                        return false;
        return true;
}

bool object_merge_server_fields(json_t *desired, const json_t *current)
{
        json_t *dm = metadata_of(desired);
        const json_t *cm = json_object_get(current, "metadata");

        for (size_t i = 0; dm && i < ARRAY_SIZE(server_metadata); i++)
                json_object_del(dm, server_metadata[i]);
        static const char *const keep[] = {"uid", "creationTimestamp", "deletionTimestamp",
                                           "finalizers"};
        for (size_t i = 0; dm && i < ARRAY_SIZE(keep); i++) {
                json_t *v = json_object_get(cm, keep[i]);
                if (v)
                        json_object_set_new(dm, keep[i], json_deep_copy(v));
        }
        /* Manifests rarely carry owner references: keep the stored ones then. */
        json_t *owners = json_object_get(cm, "ownerReferences");
        if (dm && owners && !json_object_get(dm, "ownerReferences"))
                json_object_set_new(dm, "ownerReferences", json_deep_copy(owners));

        bool changed = !content_same(desired, current);
        json_int_t gen = json_integer_value(json_object_get(cm, "generation"));
        if (gen < 1)
                gen = 1;
        else if (changed)
                gen++;
        if (dm)
                json_object_set_new(dm, "generation", json_integer(gen));

        json_object_del(desired, "status");
        json_t *status = json_object_get(current, "status");
        if (status)
                json_object_set_new(desired, "status", json_deep_copy(status));
        return changed;
}

int object_put(struct store *store, const char *key, const json_t *obj, int64_t expected,
               const struct store_guard *fence, int64_t *ret_rev, struct berth_error *err)
{
        _cleanup_json_ json_t *n = object_normalize(obj);
        if (!n)
                return berth_error_set(err, -ENOMEM, "%s: out of memory", key);
        _cleanup_free_ char *s = json_dumps(n, JSON_COMPACT);
        if (!s)
                return berth_error_set(err, -ENOMEM, "%s: out of memory", key);
        return store_put_guarded(store, key, s, strlen(s), expected, 0, fence, ret_rev, err);
}

int object_load(const struct store_kv *kv, json_t **ret, struct berth_error *err)
{
        json_error_t jerr;
        json_t *cur = json_loadb(kv->value, kv->value_len, 0, &jerr);

        if (!json_is_object(cur)) {
                json_decref(cur);
                return berth_error_set(err, -EPROTO, "stored object %s is not a JSON object: %s",
                                       kv->key, jerr.text);
        }
        *ret = cur;
        return 0;
}

const char *apply_result_to_string(enum apply_result r)
{
        switch (r) {
        case APPLY_CREATED:
                return "created";
        case APPLY_CONFIGURED:
                return "configured";
        case APPLY_UNCHANGED:
                break;
        }
        return "unchanged";
}

/* The annotations to compare: without the ignored one. New reference (or a
 * new reference to the same object when nothing is ignored); NULL when absent. */
static json_t *annotations_compared(const json_t *obj, const char *ignore)
{
        json_t *a = json_path(obj, "metadata.annotations");

        if (!a || !ignore || !json_object_get(a, ignore))
                return json_incref(a);
        json_t *copy = json_copy(a);
        if (copy)
                json_object_del(copy, ignore);
        return copy;
}

int apply_is_unchanged(const json_t *obj, const json_t *current, const char *ignore, bool *ret)
{
        _cleanup_json_ json_t *cur = json_deep_copy(current);
        if (!cur)
                return -ENOMEM;
        manifest_apply_defaults(cur);
        _cleanup_json_ json_t *a = annotations_compared(obj, ignore);
        _cleanup_json_ json_t *b = annotations_compared(cur, ignore);
        *ret = content_same(obj, cur) &&
               json_same_opt(json_path(obj, "metadata.labels"), json_path(cur, "metadata.labels"),
                             true) &&
               json_same_opt(a, b, true);
        return 0;
}

int apply_hooks(const struct apply_opts *opts, json_t *next, const json_t *current,
                const char *what, struct berth_error *err)
{
        int r;

        if (opts->check && (r = opts->check(current, opts->check_userdata, err)) < 0)
                return r;
        if (opts->transform &&
            (r = opts->transform(next, current, opts->transform_userdata, err)) < 0) {
                berth_error_prefix(err, "%s", what);
                return r;
        }
        return 0;
}

int apply_object(struct store *store, const char *prefix, const struct kind_info *kind,
                 const json_t *obj, const struct apply_opts *opts, enum apply_result *ret_result,
                 int64_t *ret_rev, struct berth_error *err)
{
        const char *name = json_path_string(obj, "metadata.name");
        const char *ns = json_path_string(obj, "metadata.namespace");
        _cleanup_free_ char *key = object_key(prefix, kind->resource, ns, name);
        char what[160];
        int r;

        snprintf(what, sizeof(what), "apply %s/%s", kind->resource, name ? name : "?");
        *ret_rev = 0;
        if (!key)
                return berth_error_set(err, -ENOMEM, "%s: out of memory", what);
        for (int attempt = 0; attempt < APPLY_RETRIES; attempt++) {
                _cleanup_(store_kv_release) struct store_kv kv = {0};
                _cleanup_json_ json_t *current = NULL, *next = json_deep_copy(obj);
                bool same;

                if (!next)
                        return berth_error_set(err, -ENOMEM, "%s: out of memory", what);
                r = store_get(store, key, &kv, err);
                if (r == 0)
                        r = object_load(&kv, &current, err);
                if (r < 0 && r != -ENOENT) {
                        berth_error_prefix(err, "%s", what);
                        return r;
                }
                berth_error_clear(err);
                r = apply_hooks(opts, next, current, what, err);
                if (r < 0)
                        return r;
                if (!current) {
                        *ret_result = APPLY_CREATED;
                        if (opts->dry_run)
                                return 0;
                        r = object_prepare_create(kind, next, time_now_ms());
                        if (r < 0)
                                return berth_error_set(err, r, "%s: cannot stamp the object: %s",
                                                       what, strerror(-r));
                        r = object_put(store, key, next, STORE_MUST_NOT_EXIST, opts->fence, ret_rev,
                                       err);
                } else {
                        if (apply_is_unchanged(next, current, opts->ignore_annotation, &same) < 0)
                                return berth_error_set(err, -ENOMEM, "%s: out of memory", what);
                        *ret_result = same ? APPLY_UNCHANGED : APPLY_CONFIGURED;
                        if (same || opts->dry_run)
                                return 0;
                        object_merge_server_fields(next, current);
                        r = object_put(store, key, next, kv.mod_revision, opts->fence, ret_rev,
                                       err);
                }
                if (r == -ESTALE) { /* changed meanwhile: compare with that */
                        berth_error_clear(err);
                        continue;
                }
                if (r < 0)
                        berth_error_prefix(err, "%s", what);
                return r;
        }
        return berth_error_set(err, -ESTALE,
                               "%s: the object kept changing (%d attempts); try again", what,
                               APPLY_RETRIES);
}
