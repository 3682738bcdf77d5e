/* admission.c: the container admission policy (admission.h). */
#include <sys/stat.h>

#include "admission.h"

/* Names the Docker and containerd sockets go by: refused as a host path in
 * any directory, whatever the roots allow. */
static const char *const engine_sockets[] = {"docker.sock", "containerd.sock", NULL};
/* Where engines put them: a socket found at one of these (by inode) is
 * refused under any name. */
static const char *const engine_socket_paths[] = {
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/var/run/containerd/containerd.sock",
    NULL,
};

/* Docker's default capabilities less NET_RAW: what a spec may add (back)
 * without a Policy. */
static const char *const default_capabilities[] = {
    "CHOWN",   "DAC_OVERRIDE",     "FOWNER",     "FSETID", "KILL",        "SETGID",  "SETUID",
    "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "MKNOD",  "AUDIT_WRITE", "SETFCAP", NULL,
};

/* Marks a path that cannot be judged: a symbolic link that leads nowhere
 * (yet: it may lead to the engine's socket once that exists). */
#define UNRESOLVABLE "/../(a symbolic link that leads nowhere)"

/* A path with its symbolic links and ".." resolved as far as it exists, the
 * rest appended as written (a path that does not exist at apply may exist
 * when the container is made: it is judged where it would be). NULL on OOM
 * or a path that is not absolute. */
static char *resolve(const char *path)
{
        _cleanup_free_ char *head = strdup(path);
        char *real = NULL;
        struct stat st;
        size_t n;

        if (!head || path[0] != '/')
                return NULL;
        /* Shorten from the end until a prefix exists. */
        for (n = strlen(head); n > 0; n--) {
                if (head[n] != '/' && head[n] != '\0')
                        continue;
                char saved = head[n];
                head[n] = '\0';
                real = realpath(head, NULL);
                bool dangling = !real && lstat(head, &st) == 0 && S_ISLNK(st.st_mode);
                head[n] = saved;
                if (dangling)
                        return strdup(UNRESOLVABLE);
                if (real)
                        break;
        }
        if (!real)
                real = realpath("/", NULL);
        if (!real)
                return NULL;
        const char *rest = path + n;
        /* What does not exist yet may not climb out with "..": refuse by
         * keeping it visible ("/srv/data/../.." stays as written after the
         * existing part), which no root contains. */
        char *out =
            str_printf("%s%s%s", streq(real, "/") ? "" : real, *rest == '/' ? "" : "/", rest);
        free(real);
        if (out && strstr(out, "/..")) {
                free(out);
                return str_printf("/..%s", path); /* inside no root */
        }
        /* Collapse the slashes a user may double: "//var/run". */
        for (char *p = out; p && *p; p++)
                while (p[0] == '/' && p[1] == '/')
                        memmove(p, p + 1, strlen(p));
        if (out && strlen(out) > 1 && out[strlen(out) - 1] == '/')
                out[strlen(out) - 1] = '\0';
        return out;
}

static bool inside(const char *path, const char *root)
{
        size_t n = strlen(root);

        if (streq(root, "/"))
                return true;
        return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Whether path (resolved) is an engine's socket: by name, or the same file
 * as one of the known ones. */
static bool is_engine_socket(const char *path)
{
        const char *base = strrchr(path, '/');
        struct stat st, known;

        base = base ? base + 1 : path;
        if (strv_contains(engine_sockets, base))
                return true;
        if (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
                return false;
        for (size_t i = 0; engine_socket_paths[i]; i++)
                if (stat(engine_socket_paths[i], &known) == 0 && known.st_ino == st.st_ino &&
                    known.st_dev == st.st_dev)
                        return true;
        return false;
}

/* The root of p a resolved path lies in, or NULL. */
static const char *root_of(const struct admission_policy *p, const char *path)
{
        for (size_t i = 0; i < p->n_host_path_roots; i++) {
                _cleanup_free_ char *root = resolve(p->host_path_roots[i]);
                if (root && inside(path, root))
                        return p->host_path_roots[i];
        }
        return NULL;
}

static int add_error(struct field_errors *errs, const json_t *positions, const char *field,
                     const char *fmt, ...) _printf_(4, 5);
static int add_error(struct field_errors *errs, const json_t *positions, const char *field,
                     const char *fmt, ...)
{
        const json_t *pos = json_object_get(positions, field);
        char msg[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return field_errors_add(errs, field, (int)json_integer_value(json_array_get(pos, 0)),
                                (int)json_integer_value(json_array_get(pos, 1)), "%s", msg) < 0
                   ? -ENOMEM
                   : 1;
}

static char *paths_text(const char *const *paths, size_t n)
{
        struct buf b;

        buf_init(&b, 4096);
        for (size_t i = 0; i < n; i++)
                (void)buf_printf(&b, "%s%s", i ? ", " : "", paths[i]);
        return b.data ? b.data : strdup("");
}

/* Whether a resolved path lies inside one of paths (resolved too). */
static bool inside_any(const char *real, const char *const *paths, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *root = resolve(paths[i]);
                if (root && inside(real, root))
                        return true;
        }
        return false;
}

/* "Policy team-a/default": how a message names the namespace's Policy. */
static void policy_name(const struct policy_spec *policy, char *out, size_t size)
{
        snprintf(out, size, "Policy %s/%s", policy && policy->ns ? policy->ns : "", POLICY_NAME);
}

/* One hostPath (a volume's, or a Policy's allowedHostPaths entry with
 * policy NULL): refused unless it resolves inside a root and, when the
 * Policy lists host paths, inside one of those; never an engine's socket.
 * Returns errors appended (0 or 1), or -ENOMEM. */
static int check_host_path(const struct admission_policy *p, const struct policy_spec *policy,
                           const char *host, const char *field, const json_t *positions,
                           struct field_errors *errs)
{
        _cleanup_free_ char *real = resolve(host);

        if (!real)
                return host[0] == '/' ? -ENOMEM : 0; /* relative: validation's to refuse */
        if (streq(real, UNRESOLVABLE))
                return add_error(errs, positions, field,
                                 "%s goes through a symbolic link that leads nowhere: it cannot "
                                 "be told where it would lead once it does",
                                 host);
        if (is_engine_socket(real))
                return add_error(errs, positions, field,
                                 "%s is the container engine's socket: whoever can use it is root "
                                 "on the host, so it is never mounted",
                                 host);
        if (p->n_host_path_roots == 0)
                return add_error(errs, positions, field,
                                 "host path mounts are not allowed: berthd --allow-host-path DIR "
                                 "allows the paths inside DIR");
        bool same = streq(real, host);
        if (!root_of(p, real)) {
                _cleanup_free_ char *roots = paths_text(p->host_path_roots, p->n_host_path_roots);
                return add_error(errs, positions, field,
                                 "%s%s%s%s is outside the host paths berthd allows (%s)", host,
                                 same ? "" : " (resolved: ", same ? "" : real, same ? "" : ")",
                                 roots ? roots : "");
        }
        if (policy && policy->host_paths_set &&
            !inside_any(real, policy->allowed_host_paths, policy->n_allowed_host_paths)) {
                _cleanup_free_ char *paths =
                    paths_text(policy->allowed_host_paths, policy->n_allowed_host_paths);
                char name[128];
                policy_name(policy, name, sizeof(name));
                return add_error(errs, positions, field,
                                 "%s%s%s%s is outside the host paths %s allows (%s)", host,
                                 same ? "" : " (resolved: ", same ? "" : real, same ? "" : ")",
                                 name, paths && *paths ? paths : "none");
        }
        return 0;
}

/* What a refusal says about the Policy that could lift it. */
static void lift_hint(const struct policy_spec *policy, const char *field, char *out, size_t size)
{
        char name[128];

        if (!policy) {
                snprintf(out, size, "a Policy named %s in the namespace may allow it (%s)",
                         POLICY_NAME, field);
                return;
        }
        policy_name(policy, name, sizeof(name));
        snprintf(out, size, "%s does not allow it (%s)", name, field);
}

/* A field that must not be true unless the Policy's allow flag is: 1 when
 * refused (error appended), 0, or -ENOMEM. */
static int refuse_unless(const json_t *spec, const char *path, bool allowed,
                         const struct policy_spec *policy, const char *policy_field,
                         const char *parent, const char *what, const json_t *positions,
                         struct field_errors *errs)
{
        char hint[256];

        if (allowed || !json_is_true(json_path(spec, path)))
                return 0;
        _cleanup_free_ char *field = str_printf("%s.%s", parent, path);
        if (!field)
                return -ENOMEM;
        lift_hint(policy, policy_field, hint, sizeof(hint));
        return add_error(errs, positions, field, "%s; %s", what, hint);
}

/* securityContext.capabilities.add: only the default set and what the
 * Policy adds to it. */
static int check_capabilities(const struct policy_spec *policy, const json_t *spec,
                              const char *parent, const json_t *positions,
                              struct field_errors *errs)
{
        uint64_t allowed =
            admission_default_capabilities() | (policy ? policy->allowed_capabilities : 0);
        const json_t *item;
        size_t i;
        int n = 0;

        if (allowed & CAPABILITY_ALL)
                return 0;
        json_array_foreach(json_path(spec, "securityContext.capabilities.add"), i, item)
        {
                uint64_t bit = capability_from_string(json_string_value(item));
                char hint[256];
                if (!bit || (bit & allowed))
                        continue; /* unknown names are validation's */
                _cleanup_free_ char *field =
                    str_printf("%s.securityContext.capabilities.add[%zu]", parent, i);
                if (!field)
                        return -ENOMEM;
                lift_hint(policy, "allowedCapabilities", hint, sizeof(hint));
                int r = add_error(errs, positions, field,
                                  "%s is not allowed: a container may add back only Docker's "
                                  "default capabilities less NET_RAW; %s",
                                  capability_to_string(bit), hint);
                if (r < 0)
                        return r;
                n += r;
        }
        return n;
}

/* The Policy's require* fields: what every spec of its namespace must say. */
static int check_required(const struct policy_spec *policy, const json_t *spec, const char *parent,
                          const json_t *positions, struct field_errors *errs)
{
        static const struct {
                const char *path;
                const char *policy_field;
        } required[] = {
            {"securityContext.runAsNonRoot", "requireRunAsNonRoot"},
            {"securityContext.readOnlyRootFilesystem", "requireReadOnlyRootFilesystem"},
        };
        const bool wanted[] = {policy && policy->require_run_as_non_root,
                               policy && policy->require_read_only_root_filesystem};
        char name[128];
        int n = 0;

        for (size_t i = 0; i < ARRAY_SIZE(required); i++) {
                if (!wanted[i] || json_is_true(json_path(spec, required[i].path)))
                        continue;
                _cleanup_free_ char *field = str_printf("%s.%s", parent, required[i].path);
                if (!field)
                        return -ENOMEM;
                policy_name(policy, name, sizeof(name));
                int r = add_error(errs, positions, field, "must be true: %s requires it (%s)", name,
                                  required[i].policy_field);
                if (r < 0)
                        return r;
                n += r;
        }
        return n;
}

/* spec.devices: none without the Policy's allowDevices. */
static int check_devices(const struct policy_spec *policy, const json_t *spec, const char *parent,
                         const json_t *positions, struct field_errors *errs)
{
        const json_t *device;
        size_t i;
        int n = 0;

        if (policy && policy->allow_devices)
                return 0;
        json_array_foreach(json_object_get(spec, "devices"), i, device)
        {
                const char *host = json_string_value(json_object_get(device, "hostPath"));
                char hint[256];
                _cleanup_free_ char *field = str_printf("%s.devices[%zu].hostPath", parent, i);
                if (!field)
                        return -ENOMEM;
                lift_hint(policy, "allowDevices", hint, sizeof(hint));
                int r = add_error(errs, positions, field,
                                  "host devices are not allowed: the container would read and "
                                  "write %s of the host directly; %s",
                                  host ? host : "the device", hint);
                if (r < 0)
                        return r;
                n += r;
        }
        return n;
}

/* A Policy with allowedExecutors: an executor other than docker must be in
 * it. The number of errors appended, or -ENOMEM. */
static int check_executor_allowed(const struct policy_spec *policy, const char *executor,
                                  const char *parent, const json_t *positions,
                                  struct field_errors *errs)
{
        if (!policy || !policy->executors_set || !executor || streq(executor, TASK_EXECUTOR_DOCKER))
                return 0;
        for (size_t i = 0; i < policy->n_allowed_executors; i++)
                if (streq(policy->allowed_executors[i], executor))
                        return 0;
        _cleanup_free_ char *field = str_printf("%s.executor.type", parent);
        if (!field)
                return -ENOMEM;
        return add_error(errs, positions, field,
                         "executor %s is not allowed: Policy %s/default allows only docker%s "
                         "(allowedExecutors)",
                         executor, policy->ns ? policy->ns : "",
                         policy->n_allowed_executors ? " and what it lists" : "");
}

int admission_check_spec(const struct admission_policy *p, const struct policy_spec *policy,
                         const json_t *spec, const char *parent, const json_t *positions,
                         struct field_errors *errs)
{
        const char *network = json_string_value(json_object_get(spec, "network"));
        const char *seccomp =
            json_string_value(json_path(spec, "securityContext.seccompProfile.type"));
        const json_t *volume;
        size_t i;
        int n = 0, r;
        char hint[256];

        if (!json_is_object(spec))
                return 0;
        const char *executor = json_string_value(json_path(spec, "executor.type"));
        r = check_executor_allowed(policy, executor, parent, positions, errs);
        if (r < 0)
                return r;
        n += r;
        if (executor && streq(executor, TASK_EXECUTOR_DOCKER_EXEC) && !p->allow_docker_exec) {
                _cleanup_free_ char *field = str_printf("%s.executor.type", parent);
                if (!field)
                        return -ENOMEM;
                /* An exec into any container of the host (a database, or one
                 * privileged container someone else started) reaches past
                 * everything this policy guards. */
                r = add_error(errs, positions, field,
                              "docker-exec is not allowed: it runs commands inside containers "
                              "berth did not create, beyond this policy; berthd "
                              "--allow-docker-exec allows it");
                if (r < 0)
                        return r;
                n += r;
        }
        if (network && streq(network, "host") && !p->allow_host_network &&
            !(policy && policy->allow_host_network)) {
                _cleanup_free_ char *field = str_printf("%s.network", parent);
                if (!field)
                        return -ENOMEM;
                lift_hint(policy, "allowHostNetwork", hint, sizeof(hint));
                r = add_error(errs, positions, field,
                              "host networking is not allowed: the container would share the "
                              "host's network stack; berthd --allow-host-network allows it "
                              "everywhere, or %s",
                              hint);
                if (r < 0)
                        return r;
                n += r;
        }
        json_array_foreach(json_object_get(spec, "volumes"), i, volume)
        {
                const char *host = json_string_value(json_object_get(volume, "hostPath"));
                if (!host)
                        continue;
                _cleanup_free_ char *field = str_printf("%s.volumes[%zu].hostPath", parent, i);
                if (!field)
                        return -ENOMEM;
                r = check_host_path(p, policy, host, field, positions, errs);
                if (r < 0)
                        return r;
                n += r;
        }
        const struct {
                const char *path;
                bool allowed;
                const char *policy_field;
                const char *what;
        } flags[] = {
            {"securityContext.privileged", policy && policy->allow_privileged, "allowPrivileged",
             "privileged containers are not allowed: a privileged container is root on the host"},
            {"hostPID", policy && policy->allow_host_pid, "allowHostPID",
             "the host's PID namespace is not allowed: the container would see and signal every "
             "process of the host"},
            {"hostIPC", policy && policy->allow_host_ipc, "allowHostIPC",
             "the host's IPC namespace is not allowed: the container would share the host's "
             "shared memory and semaphores"},
            {"securityContext.allowPrivilegeEscalation",
             policy && policy->allow_privilege_escalation, "allowPrivilegeEscalation",
             "privilege escalation is not allowed: setuid binaries could raise the container's "
             "privileges (every container runs with no-new-privileges)"},
        };
        for (i = 0; i < ARRAY_SIZE(flags); i++) {
                r = refuse_unless(spec, flags[i].path, flags[i].allowed, policy,
                                  flags[i].policy_field, parent, flags[i].what, positions, errs);
                if (r < 0)
                        return r;
                n += r;
        }
        if (seccomp && streq(seccomp, "Unconfined") &&
            !(policy && policy->allow_unconfined_seccomp)) {
                _cleanup_free_ char *field =
                    str_printf("%s.securityContext.seccompProfile.type", parent);
                if (!field)
                        return -ENOMEM;
                lift_hint(policy, "allowUnconfinedSeccomp", hint, sizeof(hint));
                r = add_error(errs, positions, field,
                              "Unconfined is not allowed: without Docker's default seccomp "
                              "profile every system call is open to the container; %s",
                              hint);
                if (r < 0)
                        return r;
                n += r;
        }
        r = check_capabilities(policy, spec, parent, positions, errs);
        if (r < 0)
                return r;
        n += r;
        r = check_devices(policy, spec, parent, positions, errs);
        if (r < 0)
                return r;
        n += r;
        r = check_required(policy, spec, parent, positions, errs);
        return r < 0 ? r : n + r;
}

/* A Workflow spec's container specs: steps[].task and onExit.task. */
static int check_workflow_spec(const struct admission_policy *p, const struct policy_spec *policy,
                               const json_t *spec, const char *parent, const json_t *positions,
                               struct field_errors *errs)
{
        const json_t *step;
        size_t i;
        int n = 0, r;

        json_array_foreach(json_object_get(spec, "steps"), i, step)
        {
                _cleanup_free_ char *path = str_printf("%s.steps[%zu].task", parent, i);
                if (!path)
                        return -ENOMEM;
                r = admission_check_spec(p, policy, json_object_get(step, "task"), path, positions,
                                         errs);
                if (r < 0)
                        return r;
                n += r;
        }
        _cleanup_free_ char *exit_path = str_printf("%s.onExit.task", parent);
        if (!exit_path)
                return -ENOMEM;
        r = admission_check_spec(p, policy, json_path(spec, "onExit.task"), exit_path, positions,
                                 errs);
        return r < 0 ? r : n + r;
}

/* A Policy's allowedHostPaths: inside berthd's roots, as a volume's would
 * have to be (a Policy only narrows them). */
static int check_policy_object(const struct admission_policy *p, const json_t *spec,
                               const json_t *positions, struct field_errors *errs)
{
        const json_t *item;
        size_t i;
        int n = 0;

        json_array_foreach(json_object_get(spec, "allowedHostPaths"), i, item)
        {
                const char *path = json_string_value(item);
                if (!path)
                        continue;
                _cleanup_free_ char *field = str_printf("spec.allowedHostPaths[%zu]", i);
                if (!field)
                        return -ENOMEM;
                int r = check_host_path(p, NULL, path, field, positions, errs);
                if (r < 0)
                        return r;
                n += r;
        }
        return n;
}

int admission_check_object(const struct admission_policy *p, const struct policy_spec *policy,
                           const json_t *object, const json_t *positions, struct field_errors *errs)
{
        const char *kind = json_string_value(json_object_get(object, "kind"));
        const json_t *spec = json_object_get(object, "spec");
        int r = 0;

        if (!kind || !json_is_object(spec))
                return 0;
        if (streq(kind, "Task"))
                r = admission_check_spec(p, policy, spec, "spec", positions, errs);
        else if (streq(kind, "Service"))
                r = admission_check_spec(p, policy, json_object_get(spec, "template"),
                                         "spec.template", positions, errs);
        else if (streq(kind, "Workflow"))
                r = check_workflow_spec(p, policy, spec, "spec", positions, errs);
        else if (streq(kind, "CronTask") && json_object_get(spec, "taskTemplate"))
                r = admission_check_spec(p, policy, json_path(spec, "taskTemplate.spec"),
                                         "spec.taskTemplate.spec", positions, errs);
        else if (streq(kind, "CronTask"))
                r = check_workflow_spec(p, policy, json_path(spec, "workflowTemplate.spec"),
                                        "spec.workflowTemplate.spec", positions, errs);
        else if (streq(kind, "Policy"))
                r = check_policy_object(p, spec, positions, errs);
        else if (streq(kind, "Notifier"))
                r = admission_check_notifier(p, spec, positions, errs);
        return r < 0 ? r : r > 0 ? -EINVAL : 0;
}

int admission_check_container(const struct admission_policy *p, const struct policy_spec *policy,
                              const json_t *spec, char *msg, size_t msg_size)
{
        _cleanup_(field_errors_release) struct field_errors errs = {0};
        int r = admission_check_spec(p, policy, spec, "spec", NULL, &errs);

        if (r < 0)
                return r;
        if (r == 0)
                return 0;
        snprintf(msg, msg_size, "%s: %s", errs.items[0].field, errs.items[0].message);
        return -EPERM;
}

int admission_check_image_user(const char *image, const char *user, char *msg, size_t msg_size)
{
        const char *name = image ? image : "";

        if (!user || !*user) {
                snprintf(msg, msg_size, "runAsNonRoot: image %s runs as root (uid 0)", name);
                return -EPERM;
        }
        if (task_user_is_root(user)) {
                snprintf(msg, msg_size, "runAsNonRoot: image %s runs as root (user %.64s)", name,
                         user);
                return -EPERM;
        }
        if (!task_user_is_numeric(user)) {
                snprintf(msg, msg_size,
                         "runAsNonRoot: image %s runs as user %.64s, a name: only a numeric uid "
                         "tells it is not root (set securityContext.runAsUser)",
                         name, user);
                return -EPERM;
        }
        return 0;
}

uint64_t admission_default_capabilities(void)
{
        uint64_t set = 0;

        for (size_t i = 0; default_capabilities[i]; i++)
                set |= capability_from_string(default_capabilities[i]);
        return set;
}

static json_t *devices_of(const struct task_security *sec)
{
        _cleanup_json_ json_t *arr = json_array();

        if (!arr)
                return NULL;
        for (size_t i = 0; i < sec->n_devices; i++) {
                const struct task_device *d = &sec->devices[i];
                if (json_array_append_new(arr,
                                          json_pack("{s:s, s:s, s:s}", "PathOnHost", d->host_path,
                                                    "PathInContainer", d->container_path,
                                                    "CgroupPermissions", d->permissions)) < 0)
                        return NULL;
        }
        return TAKE_PTR(arr);
}

/* Steals value (NULL: out of memory). */
static int set_new(json_t *obj, const char *key, json_t *value)
{
        return value && json_object_set_new(obj, key, value) == 0 ? 0 : -ENOMEM;
}

int admission_container_security(const struct task_spec *spec, json_t *host_config)
{
        const struct task_security *sec = &spec->security;
        uint64_t drop = sec->cap_drop;
        _cleanup_json_ json_t *opts = json_array();

        if (!opts)
                return -ENOMEM;
        /* Raw sockets only for a container that adds them back. */
        if (!(sec->cap_add & (CAPABILITY_ALL | capability_from_string("NET_RAW"))))
                drop |= capability_from_string("NET_RAW");
        if (drop & CAPABILITY_ALL)
                drop = CAPABILITY_ALL;
        if (!sec->allow_privilege_escalation &&
            json_array_append_new(opts, json_string("no-new-privileges")) < 0)
                return -ENOMEM;
        if (sec->seccomp_unconfined &&
            json_array_append_new(opts, json_string("seccomp=unconfined")) < 0)
                return -ENOMEM;
        if ((json_array_size(opts) > 0 &&
             set_new(host_config, "SecurityOpt", TAKE_PTR(opts)) < 0) ||
            (drop && set_new(host_config, "CapDrop", capabilities_to_json(drop)) < 0) ||
            (sec->cap_add &&
             set_new(host_config, "CapAdd", capabilities_to_json(sec->cap_add)) < 0) ||
            (sec->privileged && set_new(host_config, "Privileged", json_true()) < 0) ||
            (sec->read_only_root_filesystem &&
             set_new(host_config, "ReadonlyRootfs", json_true()) < 0) ||
            (sec->host_pid && set_new(host_config, "PidMode", json_string("host")) < 0) ||
            (sec->host_ipc && set_new(host_config, "IpcMode", json_string("host")) < 0) ||
            (sec->n_devices > 0 && set_new(host_config, "Devices", devices_of(sec)) < 0))
                return -ENOMEM;
        if (!json_object_get(host_config, "PidsLimit") &&
            set_new(host_config, "PidsLimit", json_integer(ADMISSION_DEFAULT_PIDS_LIMIT)) < 0)
                return -ENOMEM;
        return 0;
}
