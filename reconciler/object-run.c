/* object-run.c: the store side of a reconcile, the same for every kind. */
#include "reconciler-internal.h"

int object_run_load(struct reconcile_ctx *ctx, const char *key, struct object_run *run,
                    struct berth_error *err)
{
        int64_t rev = 0;
        _cleanup_json_ json_t *cached = object_cache_get(ctx->objects, key, &rev);

        *run = (struct object_run){.ctx = ctx, .key = key};
        if (!cached)
                return -ENOENT;
        _cleanup_json_ json_t *obj = json_deep_copy(cached);
        if (!obj)
                return berth_error_set(err, -ENOMEM, "copy %s", key);
        json_t *meta = json_object_get(obj, "metadata");
        if (!json_is_object(meta))
                return berth_error_set(err, -EINVAL, "%s: metadata missing", key);
        json_object_del(meta, "resourceVersion");
        run->ns = json_string_value(json_object_get(meta, "namespace"));
        run->name = json_string_value(json_object_get(meta, "name"));
        run->uid = json_string_value(json_object_get(meta, "uid"));
        if (!run->ns)
                run->ns = "default";
        if (!run->name || !run->uid || !*run->uid)
                return berth_error_set(err, -EINVAL, "%s: metadata.name and uid required", key);
        run->deleting = object_is_deleting(obj);
        run->obj = TAKE_PTR(obj);
        run->rev = rev;
        return 0;
}

int object_run_write(struct object_run *run, struct berth_error *err)
{
        _cleanup_free_ char *data = json_dumps(run->obj, JSON_COMPACT);
        int64_t rev;

        if (!data)
                return berth_error_set(err, -ENOMEM, "serialize %s", run->key);
        /* Fenced: a replica that is no longer the leader gets -EPERM here. */
        int r = store_put_guarded(run->ctx->store, run->key, data, strlen(data), run->rev, 0,
                                  run->ctx->fence, &rev, err);
        if (r < 0)
                return r;
        run->rev = rev;
        run->dirty = false;
        /* Read-your-writes: the next reconcile must see this revision. A
         * timeout only costs a stale read, which CAS catches. */
        (void)object_cache_wait_revision(run->ctx->objects, rev, RECONCILE_WAIT_WRITE_MS);
        return 0;
}

bool object_has_finalizer(const json_t *obj, const char *finalizer)
{
        const json_t *fins = json_path(obj, "metadata.finalizers");
        size_t i;
        const json_t *f;

        json_array_foreach(fins, i, f)
        {
                if (streq(json_string_value(f), finalizer))
                        return true;
        }
        return false;
}

int object_run_spec_decoded(struct object_run *run, int r, struct berth_error *err)
{
        if (r == 0)
                return 0;
        if (r == -EINVAL && run->deleting) {
                berth_error_clear(err);
                return 0;
        }
        berth_error_prefix(err, "%s", run->key);
        return r;
}

int object_run_add_finalizer(struct object_run *run, const char *finalizer)
{
        json_t *meta = json_object_get(run->obj, "metadata");
        json_t *fins = json_object_get(meta, "finalizers");

        if (!json_is_array(fins)) {
                fins = json_array();
                if (!fins || json_object_set_new(meta, "finalizers", fins) < 0)
                        return -ENOMEM;
        }
        if (json_array_append_new(fins, json_string(finalizer)) < 0)
                return -ENOMEM;
        run->dirty = true;
        return 0;
}

int object_run_finalize(struct object_run *run, const char *finalizer, struct berth_error *err)
{
        json_t *fins = json_path(run->obj, "metadata.finalizers");
        size_t i = 0;

        while (json_is_array(fins) && i < json_array_size(fins)) {
                if (streq(json_string_value(json_array_get(fins, i)), finalizer))
                        json_array_remove(fins, i);
                else
                        i++;
        }
        if (json_array_size(fins) > 0)
                return object_run_write(run, err);
        int r =
            store_delete_guarded(run->ctx->store, run->key, run->rev, run->ctx->fence, NULL, err);
        if (r == -ENOENT)
                return 0;
        return r;
}

int object_run_mark_deleted(struct object_run *run, struct berth_error *err)
{
        char ts[RFC3339_MAX];

        if (!json_path(run->obj, "metadata.deletionTimestamp")) {
                time_format_rfc3339(run->now_ms, ts);
                if (json_path_set_new(run->obj, "metadata.deletionTimestamp", json_string(ts)) < 0)
                        return berth_error_set(err, -ENOMEM, "set deletionTimestamp");
        }
        return object_run_write(run, err);
}

bool object_is_deleting(const json_t *obj)
{
        const json_t *ts = json_path(obj, "metadata.deletionTimestamp");
        return ts && !json_is_null(ts);
}

int object_mark_deleted(struct reconcile_ctx *ctx, const char *key, struct berth_error *err)
{
        struct object_run child;
        int r = object_run_load(ctx, key, &child, err);

        if (r == 0 && !child.deleting) {
                child.now_ms = ctx->now_ms ? ctx->now_ms() : time_now_ms();
                r = object_run_mark_deleted(&child, err);
        }
        json_decref(child.obj);
        if (r == -ENOENT || r == -ESTALE) { /* gone or changed: its event brings us back */
                berth_error_clear(err);
                return 0;
        }
        return r;
}

int object_run_set_status(struct object_run *run, json_t *st, struct berth_error *err)
{
        const json_t *old = json_object_get(run->obj, "status");

        if (!st)
                return berth_error_set(err, -ENOMEM, "status of %s: out of memory", run->key);
        if (old && json_equal(old, st)) {
                json_decref(st);
                return 0;
        }
        if (json_object_set_new(run->obj, "status", st) < 0)
                return berth_error_set(err, -ENOMEM, "status of %s: out of memory", run->key);
        run->dirty = true;
        return 0;
}

int key_split(const char *key, char ns[64], char name[64])
{
        char prefix[STORE_KEY_MAX];
        char resource[64];
        size_t len = strlen(key);
        int slashes = 0;

        if (len == 0 || len >= sizeof(prefix))
                return -EINVAL;
        size_t i = len;
        while (i > 0) {
                i--;
                if (key[i] == '/' && ++slashes == 3)
                        break;
        }
        if (slashes != 3)
                return -EINVAL;
        memcpy(prefix, key, i + 1);
        prefix[i + 1] = '\0';
        return object_key_parse(prefix, key, resource, ns, name);
}

json_t *object_status_copy(const json_t *obj)
{
        const json_t *status = json_object_get(obj, "status");
        _cleanup_json_ json_t *copy = json_object();

        if (!copy || (status && json_object_set_new(copy, "status", json_deep_copy(status)) < 0))
                return NULL;
        return TAKE_PTR(copy);
}

void object_run_event(const struct object_run *run, enum event_type type, const char *reason,
                      const char *fmt, ...)
{
        const struct event_object involved = {
            .kind = json_string_value(json_object_get(run->obj, "kind")),
            .ns = run->ns,
            .name = run->name,
            .uid = run->uid,
        };
        va_list ap;

        if (!run->ctx->events)
                return;
        va_start(ap, fmt);
        (void)events_vrecord(run->ctx->events, &involved, type, reason, fmt, ap);
        va_end(ap);
}
