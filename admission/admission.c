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

/* One hostPath volume: refused unless it resolves inside a root, and never
 * an engine's socket. Returns errors appended (0 or 1), or -ENOMEM. */
static int check_host_path(const struct admission_policy *p, const char *host, const char *field,
                           const json_t *positions, struct field_errors *errs)
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
        if (!root_of(p, real)) {
                _cleanup_buf_ struct buf roots;

                buf_init(&roots, 4096);
                for (size_t i = 0; i < p->n_host_path_roots; i++)
                        (void)buf_printf(&roots, "%s%s", i ? ", " : "", p->host_path_roots[i]);
                bool same = streq(real, host);
                return add_error(errs, positions, field,
                                 "%s%s%s%s is outside the host paths berthd allows (%s)", host,
                                 same ? "" : " (resolved: ", same ? "" : real, same ? "" : ")",
                                 roots.data ? roots.data : "");
        }
        return 0;
}

int admission_check_spec(const struct admission_policy *p, const json_t *spec, const char *parent,
                         const json_t *positions, struct field_errors *errs)
{
        const char *network = json_string_value(json_object_get(spec, "network"));
        const json_t *volume;
        size_t i;
        int n = 0, r;

        if (!json_is_object(spec))
                return 0;
        if (network && streq(network, "host") && !p->allow_host_network) {
                _cleanup_free_ char *field = str_printf("%s.network", parent);
                if (!field)
                        return -ENOMEM;
                r = add_error(errs, positions, field,
                              "host networking is not allowed: berthd --allow-host-network "
                              "allows it (the container would share the host's network stack)");
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
                r = check_host_path(p, host, field, positions, errs);
                if (r < 0)
                        return r;
                n += r;
        }
        return n;
}

/* A Workflow spec's container specs: steps[].task and onExit.task. */
static int check_workflow_spec(const struct admission_policy *p, const json_t *spec,
                               const char *parent, const json_t *positions,
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
                r = admission_check_spec(p, json_object_get(step, "task"), path, positions, errs);
                if (r < 0)
                        return r;
                n += r;
        }
        _cleanup_free_ char *exit_path = str_printf("%s.onExit.task", parent);
        if (!exit_path)
                return -ENOMEM;
        r = admission_check_spec(p, json_path(spec, "onExit.task"), exit_path, positions, errs);
        return r < 0 ? r : n + r;
}

int admission_check_object(const struct admission_policy *p, const json_t *object,
                           const json_t *positions, struct field_errors *errs)
{
        const char *kind = json_string_value(json_object_get(object, "kind"));
        const json_t *spec = json_object_get(object, "spec");
        int r = 0;

        if (!kind || !json_is_object(spec))
                return 0;
        if (streq(kind, "Task"))
                r = admission_check_spec(p, spec, "spec", positions, errs);
        else if (streq(kind, "Service"))
                r = admission_check_spec(p, json_object_get(spec, "template"), "spec.template",
                                         positions, errs);
        else if (streq(kind, "Workflow"))
                r = check_workflow_spec(p, spec, "spec", positions, errs);
        else if (streq(kind, "CronTask") && json_object_get(spec, "taskTemplate"))
                r = admission_check_spec(p, json_path(spec, "taskTemplate.spec"),
                                         "spec.taskTemplate.spec", positions, errs);
        else if (streq(kind, "CronTask"))
                r = check_workflow_spec(p, json_path(spec, "workflowTemplate.spec"),
                                        "spec.workflowTemplate.spec", positions, errs);
        return r < 0 ? r : r > 0 ? -EINVAL : 0;
}

int admission_check_container(const struct admission_policy *p, const json_t *spec, char *msg,
                              size_t msg_size)
{
        _cleanup_(field_errors_release) struct field_errors errs = {0};
        int r = admission_check_spec(p, spec, "spec", NULL, &errs);

        if (r < 0)
                return r;
        if (r == 0)
                return 0;
        snprintf(msg, msg_size, "%s: %s", errs.items[0].field, errs.items[0].message);
        return -EPERM;
}

int admission_container_defaults(json_t *host_config)
{
        if (json_object_set_new(host_config, "SecurityOpt", json_pack("[s]", "no-new-privileges")) <
                0 ||
            json_object_set_new(host_config, "CapDrop", json_pack("[s]", "NET_RAW")) < 0)
                return -ENOMEM;
        if (!json_object_get(host_config, "PidsLimit") &&
            json_object_set_new(host_config, "PidsLimit",
                                json_integer(ADMISSION_DEFAULT_PIDS_LIMIT)) < 0)
                return -ENOMEM;
        return 0;
}
