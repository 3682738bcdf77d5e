/* security.c: what a container asks of the kernel — capability names, and
 * a Task spec's securityContext, hostPID, hostIPC and devices
 * (docs/reference/task.md, "Security").
 *
 * Only the shape is checked here, and what contradicts itself within one
 * spec (runAsNonRoot with runAsUser 0, a capability both added and
 * dropped). Whether a container may have what it asks is the admission
 * policy's to say (admission/), by berthd's flags and its namespace's
 * Policy. */
#include <strings.h>

#include "manifests-internal.h"

/* By number: bit i of a set is capability i (linux/capability.h). */
static const char *const capabilities[CAPABILITY_COUNT + 1] = {
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
    NULL,
};
#define CAPABILITY_ALL_NAME "ALL"
#define CAPABILITY_PREFIX   "CAP_"
/* Longer than any name with its prefix: what does not fit names none. */
#define CAPABILITY_TEXT_MAX 32

static const char *const seccomp_types[] = {"RuntimeDefault", "Unconfined", NULL};
#define SECCOMP_UNCONFINED 1
#define DEVICE_PERMISSIONS "rwm"

/* s upper-cased without its CAP_ prefix into out; false when it is too
 * long to be a name. */
static bool capability_normalize(const char *s, char out[CAPABILITY_TEXT_MAX])
{
        size_t n;

        if (strncasecmp(s, CAPABILITY_PREFIX, strlen(CAPABILITY_PREFIX)) == 0)
                s += strlen(CAPABILITY_PREFIX);
        n = strlen(s);
        if (n >= CAPABILITY_TEXT_MAX)
                return false;
        for (size_t i = 0; i <= n; i++)
                out[i] = s[i] >= 'a' && s[i] <= 'z' ? (char)(s[i] - 'a' + 'A') : s[i];
        return true;
}

uint64_t capability_from_string(const char *s)
{
        char name[CAPABILITY_TEXT_MAX];

        if (!s || !capability_normalize(s, name))
                return 0;
        if (streq(name, CAPABILITY_ALL_NAME))
                return CAPABILITY_ALL;
        for (size_t i = 0; i < CAPABILITY_COUNT; i++)
                if (streq(name, capabilities[i]))
                        return CAPABILITY_BIT(i);
        return 0;
}

const char *capability_to_string(uint64_t bit)
{
        if (bit == CAPABILITY_ALL)
                return CAPABILITY_ALL_NAME;
        for (size_t i = 0; i < CAPABILITY_COUNT; i++)
                if (bit == CAPABILITY_BIT(i))
                        return capabilities[i];
        return NULL;
}

json_t *capabilities_to_json(uint64_t set)
{
        _cleanup_json_ json_t *arr = json_array();

        if (!arr)
                return NULL;
        if ((set & CAPABILITY_ALL) && json_array_append_new(arr, json_string(CAPABILITY_ALL_NAME)))
                return NULL;
        for (size_t i = 0; i < CAPABILITY_COUNT; i++)
                if ((set & CAPABILITY_BIT(i)) &&
                    json_array_append_new(arr, json_string(capabilities[i])) < 0)
                        return NULL;
        return TAKE_PTR(arr);
}

uint64_t check_capabilities(struct check *c, const json_t *obj, const char *parent, const char *key)
{
        _cleanup_free_ char *list_path = NULL;
        _cleanup_json_ json_t *seen = NULL; /* normalised name → first index */
        const json_t *arr = check_list(c, obj, parent, key, &list_path, &seen);
        uint64_t set = 0;
        size_t i;
        json_t *item;

        if (!arr)
                return 0;
        json_array_foreach(arr, i, item)
        {
                _cleanup_free_ char *path = check_index(c, list_path, i);
                const char *s = json_string_value(item);
                char name[CAPABILITY_TEXT_MAX];
                uint64_t bit = s ? capability_from_string(s) : 0;

                if (!path)
                        return set;
                if (!s) {
                        check_error(c, path, "must be a string");
                } else if (!bit) {
                        const char *hint = capability_normalize(s, name)
                                               ? check_suggest(name, capabilities)
                                               : NULL;
                        check_error(c, path,
                                    "unknown capability \"%.64s\"%s%s%s: a Linux capability "
                                    "(NET_ADMIN, CAP_NET_ADMIN, net_admin) or ALL",
                                    s, hint ? ", did you mean " : "", hint ? hint : "",
                                    hint ? "?" : "");
                } else if (check_unique(c, seen, capability_to_string(bit), i, list_path, path,
                                        NULL, "capability")) {
                        set |= bit;
                }
        }
        return set;
}

/* capabilities: {add, drop}. */
static void check_capability_sets(struct check *c, const json_t *ctx, const char *parent,
                                  struct task_security *out)
{
        static const char *const fields[] = {"add", "drop", NULL};
        const json_t *caps = check_object(c, ctx, parent, "capabilities", false);
        _cleanup_free_ char *path = NULL;
        uint64_t both;

        if (!caps)
                return;
        path = check_join(c, parent, "capabilities");
        if (!path)
                return;
        check_unknown_fields(c, caps, path, fields);
        out->cap_add = check_capabilities(c, caps, path, "add");
        out->cap_drop = check_capabilities(c, caps, path, "drop");
        both = out->cap_add & out->cap_drop;
        for (uint64_t bit = 1; both && bit; bit <<= 1)
                if (both & bit)
                        check_error_key(c, path, "add",
                                        "%s is in add and in drop: a capability is either added "
                                        "or dropped",
                                        capability_to_string(bit));
}

bool task_user_is_root(const char *user)
{
        size_t n = user ? strcspn(user, ":") : 0;

        if (n == 4 && strncmp(user, "root", 4) == 0)
                return true;
        if (n == 0 || strspn(user, "0123456789") < n)
                return false;
        for (size_t i = 0; i < n; i++)
                if (user[i] != '0')
                        return false;
        return true;
}

bool task_user_is_numeric(const char *user)
{
        size_t n = user ? strcspn(user, ":") : 0;

        return n > 0 && strspn(user, "0123456789") >= n;
}

/* runAsUser, runAsNonRoot and spec.user: one user, and not root when
 * runAsNonRoot says so. What the spec leaves to the image is judged when a
 * container is made (the image's user is known then). */
static void check_run_as(struct check *c, const json_t *spec, const char *parent, const json_t *ctx,
                         const char *path, struct task_security *out)
{
        const char *user = json_string_value(json_object_get(spec, "user"));

        int64_t uid = check_int(c, ctx, path, "runAsUser", 0, TASK_RUN_AS_USER_MAX, -1);

        out->has_run_as_user = uid >= 0;
        out->run_as_user = uid < 0 ? 0 : uid;
        out->run_as_non_root = check_bool(c, ctx, path, "runAsNonRoot", false);
        if (out->has_run_as_user && user) {
                check_error_key(c, parent, "user",
                                "only one of user or securityContext.runAsUser may be set");
                return;
        }
        if (!out->run_as_non_root)
                return;
        if (out->has_run_as_user && out->run_as_user == 0)
                check_error_key(c, path, "runAsUser",
                                "0 is root, and runAsNonRoot is true: use another uid, or drop "
                                "runAsNonRoot");
        else if (user && task_user_is_root(user))
                check_error_key(c, parent, "user",
                                "\"%.64s\" is root, and securityContext.runAsNonRoot is true",
                                user);
        else if (user && !task_user_is_numeric(user))
                check_error_key(c, parent, "user",
                                "\"%.64s\" is a name: with securityContext.runAsNonRoot only a "
                                "numeric uid (or uid:gid) tells it is not root; use "
                                "securityContext.runAsUser",
                                user);
}

/* securityContext: privileged, capabilities, readOnlyRootFilesystem,
 * runAsNonRoot, runAsUser, seccompProfile, allowPrivilegeEscalation. */
static void check_security_context(struct check *c, const json_t *spec, const char *parent,
                                   struct task_security *out)
{
        static const char *const fields[] = {
            "privileged", "capabilities",   "readOnlyRootFilesystem",   "runAsNonRoot",
            "runAsUser",  "seccompProfile", "allowPrivilegeEscalation", NULL,
        };
        static const char *const seccomp_fields[] = {"type", NULL};
        const json_t *ctx = check_object(c, spec, parent, "securityContext", false);
        _cleanup_free_ char *path = NULL, *seccomp_path = NULL;
        const json_t *seccomp;

        if (!ctx)
                return;
        path = check_join(c, parent, "securityContext");
        if (!path)
                return;
        check_unknown_fields(c, ctx, path, fields);
        out->privileged = check_bool(c, ctx, path, "privileged", false);
        check_capability_sets(c, ctx, path, out);
        out->read_only_root_filesystem = check_bool(c, ctx, path, "readOnlyRootFilesystem", false);
        out->allow_privilege_escalation =
            check_bool(c, ctx, path, "allowPrivilegeEscalation", false);
        check_run_as(c, spec, parent, ctx, path, out);
        seccomp = check_object(c, ctx, path, "seccompProfile", false);
        if (!seccomp)
                return;
        seccomp_path = check_join(c, path, "seccompProfile");
        if (!seccomp_path)
                return;
        check_unknown_fields(c, seccomp, seccomp_path, seccomp_fields);
        if (!check_field(c, seccomp, seccomp_path, "type", true))
                return;
        /* Kubernetes has it; a profile file on the host is not something a
         * spec can be judged by. */
        if (streq(json_string_value(json_object_get(seccomp, "type")), "Localhost")) {
                check_error_key(c, seccomp_path, "type",
                                "Localhost profiles are not supported: one of RuntimeDefault, "
                                "Unconfined");
                return;
        }
        out->seccomp_unconfined =
            check_enum(c, seccomp, seccomp_path, "type", seccomp_types, 0) == SECCOMP_UNCONFINED;
}

static bool has_space(const char *s)
{
        return strpbrk(s, " \t\n\r\v\f") != NULL;
}

/* An absolute path without spaces (Docker's device syntax splits on ':'
 * only in the CLI, but a device path with blanks is never one). */
static const char *check_device_path(struct check *c, const json_t *item, const char *path,
                                     const char *key, bool required)
{
        const char *s = check_nonempty_string(c, item, path, key, required);

        if (s && (s[0] != '/' || has_space(s))) {
                check_error_key(c, path, key, "must be an absolute path without spaces");
                return NULL;
        }
        return s;
}

static bool permissions_valid(const char *s)
{
        bool seen[3] = {false};

        if (!*s)
                return false;
        for (; *s; s++) {
                const char *at = strchr(DEVICE_PERMISSIONS, *s);
                if (!at || seen[at - DEVICE_PERMISSIONS])
                        return false;
                seen[at - DEVICE_PERMISSIONS] = true;
        }
        return true;
}

static void check_devices(struct check *c, const json_t *spec, const char *parent,
                          struct task_security *out)
{
        static const char *const fields[] = {"hostPath", "containerPath", "permissions", NULL};
        _cleanup_free_ char *list_path = NULL;
        _cleanup_json_ json_t *seen = NULL; /* containerPath → first index */
        const json_t *arr = check_list(c, spec, parent, "devices", &list_path, &seen);
        size_t i;
        json_t *item;

        if (!arr)
                return;
        if (json_array_size(arr) > TASK_DEVICES_MAX) {
                check_error(c, list_path, "at most %d devices, found %zu", TASK_DEVICES_MAX,
                            json_array_size(arr));
                return;
        }
        out->devices =
            json_array_size(arr) ? calloc(json_array_size(arr), sizeof(*out->devices)) : NULL;
        if (json_array_size(arr) && !out->devices) {
                c->r = -ENOMEM;
                return;
        }
        json_array_foreach(arr, i, item)
        {
                _cleanup_free_ char *path = check_index(c, list_path, i);
                struct task_device d = {0};

                if (!path)
                        return;
                if (!check_entry(c, item, path, fields))
                        continue;
                d.host_path = check_device_path(c, item, path, "hostPath", true);
                d.container_path = check_device_path(c, item, path, "containerPath", false);
                if (!d.container_path)
                        d.container_path = d.host_path;
                d.permissions = check_string(c, item, path, "permissions", false);
                if (d.permissions && !permissions_valid(d.permissions))
                        check_error_key(c, path, "permissions",
                                        "invalid permissions \"%.16s\": r (read), w (write) and "
                                        "m (mknod), each at most once, at least one",
                                        d.permissions);
                if (!d.permissions)
                        d.permissions = DEVICE_PERMISSIONS;
                if (d.container_path && !check_unique(c, seen, d.container_path, i, list_path, path,
                                                      "containerPath", "containerPath"))
                        continue;
                if (d.host_path)
                        out->devices[out->n_devices++] = d;
        }
}

void check_security(struct check *c, const json_t *spec, const char *parent,
                    struct task_security *out)
{
        check_security_context(c, spec, parent, out);
        out->host_pid = check_bool(c, spec, parent, "hostPID", false);
        out->host_ipc = check_bool(c, spec, parent, "hostIPC", false);
        check_devices(c, spec, parent, out);
}
