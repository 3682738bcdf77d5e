/* task-container.c: what a Task's attempt looks like to Docker — its
 * container's name and create body, built from the decoded spec. Pure.
 *
 * The spec was checked when it was decoded (manifests/task.c), and its
 * security options by the admission policy just before (admission.h):
 * nothing here validates again. */
#include "admission.h"
#include "reconciler-internal.h"

char *task_container_name(const char *ns, const char *name, const char *uid, int attempt)
{
        if (!ns || !name || !uid || attempt < 1)
                return NULL;
        return str_printf("berth.%s.%s.%.8s.%d", ns, name, uid, attempt);
}

/* A value from a Secret is in the create body only (Docker keeps it in
 * the container's config, as Kubernetes does): wiped from the text made
 * on the way. */
static json_t *env_list(const struct task_spec *spec, const struct container_secrets *secrets)
{
        _cleanup_json_ json_t *arr = json_array();

        if (!arr)
                return NULL;
        for (size_t i = 0; i < spec->n_env; i++) {
                const char *value = spec->env[i].value;

                if (spec->env[i].secret) {
                        value = secrets && secrets->env_values ? secrets->env_values[i] : NULL;
                        if (!value)
                                return NULL;
                }
                char *kv = str_printf("%s=%s", spec->env[i].name, value);
                int r = kv ? json_array_append_new(arr, json_string(kv)) : -1;

                if (kv && spec->env[i].secret)
                        explicit_bzero(kv, strlen(kv));
                free(kv);
                if (r < 0)
                        return NULL;
        }
        return TAKE_PTR(arr);
}

static json_t *mount_of(const struct task_volume *v, const char *secret_dir)
{
        static const char *const types[] = {
            [VOLUME_HOST_PATH] = "bind",
            [VOLUME_NAMED] = "volume",
            [VOLUME_TMPFS] = "tmpfs",
            [VOLUME_SECRET] = "bind",
        };
        /* A secret volume is its files on berthd's tmpfs, never written. */
        const char *source = v->type == VOLUME_SECRET ? secret_dir : v->source;
        _cleanup_json_ json_t *m =
            json_pack("{s:s, s:s, s:b}", "Type", types[v->type], "Target", v->mount_path,
                      "ReadOnly", v->read_only || v->type == VOLUME_SECRET);

        if (!m || (v->type == VOLUME_SECRET && !secret_dir))
                return NULL;
        if (source && json_set_new(m, "Source", json_string(source)) < 0)
                return NULL;
        if (v->size_limit > 0 &&
            json_set_new(m, "TmpfsOptions",
                         json_pack("{s:I}", "SizeBytes", (json_int_t)v->size_limit)) < 0)
                return NULL;
        return TAKE_PTR(m);
}

static json_t *mount_list(const struct task_spec *spec, const struct container_secrets *secrets)
{
        _cleanup_json_ json_t *arr = json_array();

        if (!arr)
                return NULL;
        for (size_t i = 0; i < spec->n_volumes; i++) {
                const char *dir = secrets && secrets->volume_dirs ? secrets->volume_dirs[i] : NULL;

                if (json_array_append_new(arr, mount_of(&spec->volumes[i], dir)) < 0)
                        return NULL;
        }
        return TAKE_PTR(arr);
}

static int set_resources(const struct task_spec *spec, json_t *hc)
{
        if (spec->cpu_millis > 0 &&
            json_set_new(hc, "NanoCpus", json_integer((json_int_t)spec->cpu_millis * 1000000)) < 0)
                return -ENOMEM;
        /* MemorySwap = Memory: no swap, so the limit is real. */
        if (spec->memory_bytes > 0 &&
            (json_set_new(hc, "Memory", json_integer(spec->memory_bytes)) < 0 ||
             json_set_new(hc, "MemorySwap", json_integer(spec->memory_bytes)) < 0))
                return -ENOMEM;
        if (spec->pids_limit > 0 &&
            json_set_new(hc, "PidsLimit", json_integer(spec->pids_limit)) < 0)
                return -ENOMEM;
        return 0;
}

/* The user's labels, then ours: the controller finds its containers by
 * these, so users cannot override them (validation refuses "berth." keys in
 * spec.labels too). */
static json_t *labels_of(const struct task_spec *spec, const struct container_owner *owner,
                         int attempt)
{
        _cleanup_json_ json_t *labels =
            spec->labels ? json_copy((json_t *)spec->labels) : json_object();
        char num[32];

        if (!labels)
                return NULL;
        if (json_set_new(labels, "berth.managed", json_string("true")) < 0 ||
            json_set_new(labels, "berth.kind", json_string(owner->kind)) < 0 ||
            json_set_new(labels, "berth.namespace", json_string(owner->ns)) < 0 ||
            json_set_new(labels, "berth.name", json_string(owner->name)) < 0 ||
            json_set_new(labels, "berth.uid", json_string(owner->uid)) < 0)
                return NULL;
        snprintf(num, sizeof(num), "%d", attempt);
        if (json_set_new(labels, "berth.attempt", json_string(num)) < 0)
                return NULL;
        snprintf(num, sizeof(num), "%lld", (long long)owner->generation);
        if (json_set_new(labels, "berth.generation", json_string(num)) < 0)
                return NULL;
        /* Which berthd (store) owns it: others on the engine ignore it. */
        if (owner->cluster && json_set_string(labels, TASK_LABEL_CLUSTER, owner->cluster) < 0)
                return NULL;
        return TAKE_PTR(labels);
}

json_t *task_container_body(const struct task_spec *spec, const struct container_owner *owner,
                            int attempt, const struct container_secrets *secrets)
{
        _cleanup_json_ json_t *body = json_pack("{s:s}", "Image", spec->image);
        _cleanup_json_ json_t *hc = json_object();
        char uid[24];

        if (!body || !hc)
                return NULL;
        /* securityContext.runAsUser, or spec.user (never both). */
        snprintf(uid, sizeof(uid), "%lld", (long long)spec->security.run_as_user);
        if ((spec->command &&
             json_set_new(body, "Entrypoint", json_copy((json_t *)spec->command)) < 0) ||
            (spec->args && json_set_new(body, "Cmd", json_copy((json_t *)spec->args)) < 0) ||
            (spec->n_env > 0 && json_set_new(body, "Env", env_list(spec, secrets)) < 0) ||
            json_set_string(body, "WorkingDir", spec->working_dir) < 0 ||
            json_set_string(body, "User", spec->security.has_run_as_user ? uid : spec->user) < 0 ||
            json_set_new(body, "Labels", labels_of(spec, owner, attempt)) < 0)
                return NULL;
        /* Docker's default network when absent. */
        if (json_set_string(hc, "NetworkMode", spec->network) < 0 ||
            (spec->n_volumes > 0 && json_set_new(hc, "Mounts", mount_list(spec, secrets)) < 0) ||
            set_resources(spec, hc) < 0 || admission_container_security(spec, hc) < 0 ||
            json_set_new(body, "HostConfig", TAKE_PTR(hc)) < 0)
                return NULL;
        return TAKE_PTR(body);
}
