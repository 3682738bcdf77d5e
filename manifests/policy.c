/* policy.c: the Policy kind — how the container admission policy of one
 * namespace differs from berth's default: what it relaxes (allow*) and
 * what it tightens (require*, allowedHostPaths, allowedExecutors)
 * (docs/reference/policy.md).
 *
 * Only the Policy named POLICY_NAME counts in its namespace. It is access
 * control: whoever writes it decides what containers of the namespace may
 * do to the host, so a Source never applies one. */
#include <stddef.h>

#include "manifests-internal.h"

static const char *const policy_fields[] = {
    "allowPrivileged",
    "allowHostNetwork",
    "allowHostPID",
    "allowHostIPC",
    "allowDevices",
    "allowUnconfinedSeccomp",
    "allowPrivilegeEscalation",
    "allowedCapabilities",
    "allowedHostPaths",
    "allowedExecutors",
    "requireRunAsNonRoot",
    "requireReadOnlyRootFilesystem",
    NULL,
};

/* The booleans, all false by default, and where each goes. */
static const struct {
        const char *field;
        size_t offset;
} policy_bools[] = {
    {"allowPrivileged", offsetof(struct policy_spec, allow_privileged)},
    {"allowHostNetwork", offsetof(struct policy_spec, allow_host_network)},
    {"allowHostPID", offsetof(struct policy_spec, allow_host_pid)},
    {"allowHostIPC", offsetof(struct policy_spec, allow_host_ipc)},
    {"allowDevices", offsetof(struct policy_spec, allow_devices)},
    {"allowUnconfinedSeccomp", offsetof(struct policy_spec, allow_unconfined_seccomp)},
    {"allowPrivilegeEscalation", offsetof(struct policy_spec, allow_privilege_escalation)},
    {"requireRunAsNonRoot", offsetof(struct policy_spec, require_run_as_non_root)},
    {"requireReadOnlyRootFilesystem",
     offsetof(struct policy_spec, require_read_only_root_filesystem)},
};

/* Why a path of allowedHostPaths is refused, into why; false when it is not. */
static bool host_path_refused(const char *s, char *why, size_t size)
{
        if (s[0] == '/')
                return false;
        snprintf(why, size, "must be an absolute path");
        return true;
}

static bool executor_refused(const char *s, char *why, size_t size)
{
        if (name_is_valid(s))
                return false;
        snprintf(why, size,
                 "\"%s\" is not an executor type (a DNS-1123 label: docker-exec, an executor "
                 "plugin's name)",
                 s);
        return true;
}

/* A list of unique strings at spec.key (what: one entry's noun), at most
 * max, each one refused() lets pass: into v[0..*n), *set when the list is
 * there (even empty). Each refusal is reported on its entry. */
static void check_string_set(struct check *c, const json_t *spec, const char *key, size_t max,
                             const char *what, bool (*refused)(const char *, char *, size_t),
                             bool *set, const char **v, size_t *n)
{
        _cleanup_free_ char *list_path = NULL;
        _cleanup_json_ json_t *seen = NULL; /* entry → first index */
        const json_t *arr = check_list(c, spec, "spec", key, &list_path, &seen);
        size_t i;
        json_t *item;
        char why[256];

        if (!arr)
                return;
        *set = true;
        if (json_array_size(arr) > max) {
                check_error(c, list_path, "at most %zu %ss, found %zu", max, what,
                            json_array_size(arr));
                return;
        }
        json_array_foreach(arr, i, item)
        {
                _cleanup_free_ char *path = check_index(c, list_path, i);
                const char *s = json_string_value(item);

                if (!path)
                        return;
                if (!s)
                        check_error(c, path, "must be a string");
                else if (refused(s, why, sizeof(why)))
                        check_error(c, path, "%s", why);
                else if (check_unique(c, seen, s, i, list_path, path, NULL, what))
                        v[(*n)++] = s;
        }
}

/* Checks a Policy spec and, when ret_spec is not NULL, decodes it. */
static void policy_check(struct check *c, const json_t *spec, void *ret_spec)
{
        struct policy_spec out = {0};

        check_unknown_fields(c, spec, "spec", policy_fields);
        for (size_t i = 0; i < ARRAY_SIZE(policy_bools); i++)
                *(bool *)((char *)&out + policy_bools[i].offset) =
                    check_bool(c, spec, "spec", policy_bools[i].field, false);
        out.allowed_capabilities = check_capabilities(c, spec, "spec", "allowedCapabilities");
        check_string_set(c, spec, "allowedHostPaths", POLICY_HOST_PATHS_MAX, "path",
                         host_path_refused, &out.host_paths_set, out.allowed_host_paths,
                         &out.n_allowed_host_paths);
        check_string_set(c, spec, "allowedExecutors", POLICY_EXECUTORS_MAX, "executor",
                         executor_refused, &out.executors_set, out.allowed_executors,
                         &out.n_allowed_executors);
        if (ret_spec)
                *(struct policy_spec *)ret_spec = out;
}

int policy_spec_decode(const json_t *object, struct policy_spec *ret, struct berth_error *err)
{
        struct policy_spec s;
        int r = check_decode(&kind_policy, object, &s, err);

        if (r < 0)
                return r;
        s.ns = json_string_value(json_object_get(json_object_get(object, "metadata"), "namespace"));
        *ret = s;
        return 0;
}

static void policy_defaults(json_t *spec)
{
        for (size_t i = 0; i < ARRAY_SIZE(policy_bools); i++)
                json_set_default(spec, policy_bools[i].field, json_false());
        json_set_default(spec, "allowedCapabilities", json_array());
}

static const struct printer_column policy_columns[] = {
    {.title = "PRIVILEGED", .path = "spec.allowPrivileged", .format = COLUMN_TEXT},
    {.title = "CAPABILITIES", .path = "spec.allowedCapabilities", .format = COLUMN_LENGTH},
    {.title = "NON-ROOT", .path = "spec.requireRunAsNonRoot", .format = COLUMN_TEXT},
    {.title = "AGE", .path = "metadata.creationTimestamp", .format = COLUMN_AGE},
    {.title = "HOST-PID", .path = "spec.allowHostPID", .format = COLUMN_TEXT, .wide = true},
    {.title = "HOST-NETWORK", .path = "spec.allowHostNetwork", .format = COLUMN_TEXT, .wide = true},
    {.title = "READ-ONLY-ROOT",
     .path = "spec.requireReadOnlyRootFilesystem",
     .format = COLUMN_TEXT,
     .wide = true},
    {0},
};

const struct kind_info kind_policy = {
    .kind = "Policy",
    .resource = "policies",
    .singular = "policy",
    .namespaced = true,
    .access_control = true,
    .columns = policy_columns,
    .check_spec = policy_check,
    .default_spec = policy_defaults,
};
