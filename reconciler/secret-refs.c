/* secret-refs.c: the Secrets a container references (env valueFrom, secret
 * volumes) — checked while observing, resolved just before its create, and
 * the volume directories removed with their owner.
 *
 * Messages name where the reference is, the Secret and the key, never a
 * value: they end up in a Task's status. */
#include <ctype.h>

#include "reconciler-internal.h"
#include "secrets.h"

/* The directory of containers made without a cluster identity (tests). */
#define CLUSTER_NONE "local"
#define REL_MAX      256

bool task_spec_uses_secrets(const struct task_spec *spec)
{
        for (size_t i = 0; spec && i < spec->n_env; i++)
                if (spec->env[i].secret)
                        return true;
        for (size_t i = 0; spec && i < spec->n_volumes; i++)
                if (spec->volumes[i].type == VOLUME_SECRET)
                        return true;
        return false;
}

/* The Secret named name in ns as the cache has it (shared: read only), or
 * NULL. New reference. */
static json_t *secret_get(struct reconcile_ctx *ctx, const char *ns, const char *name)
{
        _cleanup_free_ char *key = object_key(ctx->prefix, "secrets", ns, name);

        return key ? object_cache_get(ctx->objects, key, NULL) : NULL;
}

static const char *cluster_of(const struct reconcile_ctx *ctx)
{
        return ctx->cluster && *ctx->cluster ? ctx->cluster : CLUSTER_NONE;
}

/* "<cluster>/<owner>[/<slot>][/<index>]" into buf (index < 0: none). */
static int rel_path(const struct reconcile_ctx *ctx, const char *owner_uid, const char *slot,
                    long index, char buf[REL_MAX])
{
        char tail[32] = "";
        int n;

        if (index >= 0)
                snprintf(tail, sizeof(tail), "/%ld", index);
        n = snprintf(buf, REL_MAX, "%s/%s%s%s%s", cluster_of(ctx), owner_uid, slot ? "/" : "",
                     slot ? slot : "", tail);
        return n < 0 || n >= REL_MAX ? -ENAMETOOLONG : 0;
}

/* Who the files belong to: securityContext.runAsUser, or spec.user when
 * it is a numeric uid, with a numeric gid when one follows (a name is only
 * known inside the image), else root. */
static void owner_of(const struct task_spec *spec, uid_t *ret_uid, gid_t *ret_gid)
{
        const char *u = spec->user;
        char *end = NULL;

        *ret_uid = spec->security.has_run_as_user ? (uid_t)spec->security.run_as_user : 0;
        *ret_gid = 0;
        if (!u || !isdigit((unsigned char)u[0]))
                return;
        errno = 0;
        unsigned long uid = strtoul(u, &end, 10);
        if (errno || uid > 0x7fffffffUL || (*end && *end != ':'))
                return;
        *ret_uid = (uid_t)uid;
        if (*end == ':' && isdigit((unsigned char)end[1])) {
                char *gend = NULL;
                unsigned long gid = strtoul(end + 1, &gend, 10);
                if (!errno && !*gend && gid <= 0x7fffffffUL)
                        *ret_gid = (gid_t)gid;
        }
}

/* One env entry from a Secret: checked, and with ret its value (a copy,
 * secret_bytes_free'd by container_secrets_release). */
static int env_value(struct reconcile_ctx *ctx, const char *ns, const struct task_env *e,
                     char **ret, char *why, size_t why_size)
{
        _cleanup_json_ json_t *secret = secret_get(ctx, ns, e->secret);
        struct berth_error err = {0};
        unsigned char *bytes = NULL;
        size_t len = 0;
        int r;

        if (!secret) {
                snprintf(why, why_size, "env %s: secret \"%s\" not found", e->name, e->secret);
                return -ENOENT;
        }
        r = secret_lookup(ctx->secrets, secret, e->secret_key, &bytes, &len, &err);
        if (r == -ENOENT) {
                snprintf(why, why_size, "env %s: secret \"%s\" has no key \"%s\"", e->name,
                         e->secret, e->secret_key);
                return r;
        }
        if (r < 0) {
                snprintf(why, why_size, "env %s: secret \"%s\": %s", e->name, e->secret,
                         err.message);
                return r;
        }
        /* Docker's Env is JSON text: no NUL, valid UTF-8. */
        if (!utf8_valid((const char *)bytes, len)) {
                secret_bytes_free(bytes, len);
                snprintf(why, why_size,
                         "env %s: secret \"%s\" key \"%s\" is not UTF-8 text (or holds a NUL "
                         "byte): mount it as a secret volume instead",
                         e->name, e->secret, e->secret_key);
                return -EINVAL;
        }
        if (ret)
                *ret = (char *)bytes;
        else
                secret_bytes_free(bytes, len);
        return 0;
}

static int open_only(const char *key, const unsigned char *data, size_t len, void *userdata)
{
        (void)key, (void)data, (void)len, (void)userdata;
        return 0;
}

/* One secret volume: checked, and with owner_uid its files written (the
 * host directory into *ret). */
static int volume_files(struct reconcile_ctx *ctx, const char *ns, const struct task_spec *spec,
                        size_t index, const char *owner_uid, const char *slot, char **ret,
                        char *why, size_t why_size)
{
        const struct task_volume *v = &spec->volumes[index];
        struct berth_error err = {0};
        char rel[REL_MAX];
        int r;

        if (!ctx->secrets_dir) {
                snprintf(why, why_size, "volume %s: secret volumes are unavailable: %s",
                         v->mount_path,
                         ctx->secrets_dir_error ? ctx->secrets_dir_error : "no secrets directory");
                return -ENODEV;
        }
        _cleanup_json_ json_t *secret = secret_get(ctx, ns, v->source);
        if (!secret) {
                snprintf(why, why_size, "volume %s: secret \"%s\" not found", v->mount_path,
                         v->source);
                return -ENOENT;
        }
        if (!owner_uid) {
                r = secret_foreach(ctx->secrets, secret, open_only, NULL, &err);
        } else {
                uid_t uid;
                gid_t gid;

                owner_of(spec, &uid, &gid);
                r = rel_path(ctx, owner_uid, slot, (long)index, rel);
                if (r == 0)
                        r = secrets_volume_write(ctx->secrets_dir, rel, ctx->secrets, secret, uid,
                                                 gid, &err);
                else
                        berth_error_set(&err, r, "its directory's path is too long");
        }
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                snprintf(why, why_size, "volume %s: secret \"%s\": %s", v->mount_path, v->source,
                         err.message);
                return r;
        }
        if (owner_uid) {
                *ret = str_printf("%s/%s", ctx->secrets_dir, rel);
                if (!*ret)
                        return -ENOMEM;
        }
        return 0;
}

/* Checks (owner_uid NULL) or resolves every reference of spec. */
static int walk(struct reconcile_ctx *ctx, const char *ns, const struct task_spec *spec,
                const char *owner_uid, const char *slot, struct container_secrets *out, char *why,
                size_t why_size)
{
        int r;

        why[0] = '\0';
        for (size_t i = 0; i < spec->n_env; i++) {
                if (!spec->env[i].secret)
                        continue;
                if (out && !out->env_values &&
                    !(out->env_values = calloc(spec->n_env, sizeof(char *))))
                        return -ENOMEM;
                r = env_value(ctx, ns, &spec->env[i], out ? &out->env_values[i] : NULL, why,
                              why_size);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < spec->n_volumes; i++) {
                if (spec->volumes[i].type != VOLUME_SECRET)
                        continue;
                if (out && !out->volume_dirs &&
                    !(out->volume_dirs = calloc(spec->n_volumes, sizeof(char *))))
                        return -ENOMEM;
                r = volume_files(ctx, ns, spec, i, owner_uid, slot,
                                 out ? &out->volume_dirs[i] : NULL, why, why_size);
                if (r < 0)
                        return r;
        }
        return 0;
}

int container_secrets_check(struct reconcile_ctx *ctx, const char *ns, const struct task_spec *spec,
                            char *why, size_t why_size)
{
        return walk(ctx, ns, spec, NULL, NULL, NULL, why, why_size);
}

int container_secrets_resolve(struct reconcile_ctx *ctx, const char *ns,
                              const struct task_spec *spec, const char *owner_uid, const char *slot,
                              struct container_secrets *ret, char *why, size_t why_size)
{
        *ret = (struct container_secrets){0};
        if (!owner_uid)
                return -EINVAL;
        return walk(ctx, ns, spec, owner_uid, slot, ret, why, why_size);
}

void container_secrets_release(struct container_secrets *s, const struct task_spec *spec)
{
        if (!s)
                return;
        for (size_t i = 0; s->env_values && i < spec->n_env; i++)
                if (s->env_values[i])
                        secret_bytes_free(s->env_values[i], strlen(s->env_values[i]));
        for (size_t i = 0; s->volume_dirs && i < spec->n_volumes; i++)
                free(s->volume_dirs[i]);
        free(s->env_values);
        free(s->volume_dirs);
        *s = (struct container_secrets){0};
}

int secret_volumes_remove(struct reconcile_ctx *ctx, const char *owner_uid, const char *slot,
                          struct berth_error *err)
{
        char rel[REL_MAX];

        if (!ctx->secrets_dir || !owner_uid || !*owner_uid)
                return 0;
        if (rel_path(ctx, owner_uid, slot, -1, rel) < 0)
                return berth_error_set(err, -ENAMETOOLONG, "secret volumes of %s", owner_uid);
        return secrets_volume_remove(ctx->secrets_dir, rel, err);
}

/* Adds the uid of every cached object of resource to uids. */
static int uids_of(struct reconcile_ctx *ctx, const char *resource, json_t *uids)
{
        _cleanup_free_ char *prefix = str_printf("%s%s/", ctx->prefix, resource);
        const struct object_blob **v = NULL;
        size_t n = 0;
        int r = prefix ? object_cache_list_blobs(ctx->objects, prefix, &v, &n, NULL) : -ENOMEM;

        for (size_t i = 0; r == 0 && i < n; i++) {
                if (*v[i]->uid && json_object_set_new(uids, v[i]->uid, json_true()) < 0)
                        r = -ENOMEM;
        }
        object_blobs_release(v, n);
        return r;
}

int secret_volumes_collect(struct reconcile_ctx *ctx, size_t *ret_removed, struct berth_error *err)
{
        _cleanup_json_ json_t *uids = json_object();
        _cleanup_strv_ char **names = NULL;
        size_t removed = 0;
        int r;

        if (ret_removed)
                *ret_removed = 0;
        if (!ctx->secrets_dir)
                return 0;
        if (!uids || uids_of(ctx, "tasks", uids) < 0 || uids_of(ctx, "services", uids) < 0)
                return berth_error_set(err, -ENOMEM, "out of memory");
        r = secrets_volume_list(ctx->secrets_dir, cluster_of(ctx), &names, err);
        if (r < 0)
                return r;
        for (char **n = names; *n; n++) {
                if (json_object_get(uids, *n))
                        continue;
                r = secret_volumes_remove(ctx, *n, NULL, err);
                if (r < 0)
                        return r;
                removed++;
        }
        if (ret_removed)
                *ret_removed = removed;
        return 0;
}
