/* Unit tests of the container admission policy: hostile container specs,
 * each refused with its field named, in every kind that makes containers;
 * what is allowed passes; the defaults every container gets. Host paths are
 * resolved against a real tree made here (symbolic links, a socket). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "admission.h"

static char root[64];    /* the allowed host path: <tmp>/allowed */
static char outside[64]; /* <tmp>/outside */

static void make_tree(void)
{
        char tmpl[] = "/tmp/berth-admission.XXXXXX";
        char path[256];
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd;

        assert_non_null(mkdtemp(tmpl));
        snprintf(root, sizeof(root), "%s/allowed", tmpl);
        snprintf(outside, sizeof(outside), "%s/outside", tmpl);
        assert_int_equal(mkdir(root, 0755), 0);
        assert_int_equal(mkdir(outside, 0755), 0);
        snprintf(path, sizeof(path), "%s/data", root);
        assert_int_equal(mkdir(path, 0755), 0);
        /* links out of the root, to /etc and to the outside */
        snprintf(path, sizeof(path), "%s/etc-link", root);
        assert_int_equal(symlink("/etc", path), 0);
        snprintf(path, sizeof(path), "%s/out-link", root);
        assert_int_equal(symlink(outside, path), 0);
        /* a link to a Docker socket inside the root, and a socket named otherwise */
        snprintf(path, sizeof(path), "%s/engine", root);
        assert_int_equal(symlink("/var/run/docker.sock", path), 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/docker.sock", root);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        close(fd);
}

static int setup(void **state)
{
        (void)state;
        make_tree();
        return 0;
}

static int teardown(void **state)
{
        char cmd[128];

        (void)state;
        snprintf(cmd, sizeof(cmd), "rm -rf '%.*s'", (int)(strlen(root) - strlen("/allowed")), root);
        return system(cmd) == 0 ? 0 : -1;
}

/* The first error for the object under the namespace's Policy (NULL:
 * none), "field: message", or "" when it passes. */
static char *first_error_in(const struct admission_policy *p, const struct policy_spec *policy,
                            const char *json)
{
        json_error_t jerr;
        json_t *o = json_loads(json, 0, &jerr);
        struct field_errors errs = {0};
        char *out;

        if (!o)
                fail_msg("bad test JSON: %s: %s", jerr.text, json);
        int r = admission_check_object(p, policy, o, NULL, &errs);
        if (r == 0) {
                assert_int_equal(errs.n, 0);
                out = strdup("");
        } else {
                assert_int_equal(r, -EINVAL);
                assert_true(errs.n > 0);
                out = str_printf("%s: %s", errs.items[0].field, errs.items[0].message);
        }
        field_errors_release(&errs);
        json_decref(o);
        return out;
}

static char *first_error(const struct admission_policy *p, const char *json)
{
        return first_error_in(p, NULL, json);
}

static char *task_in(const struct admission_policy *p, const struct policy_spec *policy,
                     const char *spec_fields)
{
        _cleanup_free_ char *json =
            str_printf("{\"kind\":\"Task\",\"spec\":{\"image\":\"busybox\"%s%s}}",
                       *spec_fields ? "," : "", spec_fields);
        return first_error_in(p, policy, json);
}

static char *task_with(const struct admission_policy *p, const char *spec_fields)
{
        _cleanup_free_ char *json =
            str_printf("{\"kind\":\"Task\",\"spec\":{\"image\":\"busybox\"%s%s}}",
                       *spec_fields ? "," : "", spec_fields);
        return first_error(p, json);
}

static char *host_path(const struct admission_policy *p, const char *path)
{
        _cleanup_free_ char *fields =
            str_printf("\"volumes\":[{\"mountPath\":\"/m\",\"hostPath\":\"%s\"}]", path);
        return task_with(p, fields);
}

static void assert_refused(char *got, const char *field, const char *part)
{
        if (!str_has_prefix(got, field) || !strstr(got, part))
                fail_msg("want %s refused with \"%s\", got \"%s\"", field, part, got);
        free(got);
}

static void assert_passes(char *got)
{
        if (*got)
                fail_msg("want no error, got \"%s\"", got);
        free(got);
}

static void test_host_network(void **state)
{
        struct admission_policy p = {0};

        (void)state;
        assert_refused(task_with(&p, "\"network\":\"host\""), "spec.network",
                       "host networking is not allowed");
        assert_passes(task_with(&p, "\"network\":\"none\""));
        assert_passes(task_with(&p, ""));
        p.allow_host_network = true;
        assert_passes(task_with(&p, "\"network\":\"host\""));
}

/* No --allow-host-path: no host path at all, not even a harmless one. */
static void test_host_paths_without_roots(void **state)
{
        struct admission_policy p = {0};

        (void)state;
        assert_refused(host_path(&p, "/srv/data"), "spec.volumes[0].hostPath",
                       "host path mounts are not allowed: berthd --allow-host-path DIR");
        assert_passes(task_with(&p, "\"volumes\":[{\"mountPath\":\"/c\",\"volume\":\"cache\"},"
                                    "{\"mountPath\":\"/t\",\"tmpfs\":{}}]"));
}

/* The hostile specs: every one refused, and named. */
static void test_hostile_host_paths(void **state)
{
        const char *roots[] = {root};
        struct admission_policy p = {.host_path_roots = roots, .n_host_path_roots = 1};
        char path[256];
        const char *const sockets[] = {
            "/var/run/docker.sock",
            "/run/docker.sock",
            "/var/run/../run/docker.sock",
            "//var/run/docker.sock",
            "/var/run/docker.sock/",
            "/var//run///docker.sock",
            "/run/containerd/containerd.sock",
            "/var/run/./docker.sock",
        };
        const char *const outside_paths[] = {"/",     "/etc", "/etc/", "/root", "/var/lib/docker",
                                             "/proc", "/sys", "/dev",  "/boot", "//etc"};

        (void)state;
        for (size_t i = 0; i < sizeof(sockets) / sizeof(sockets[0]); i++)
                assert_refused(host_path(&p, sockets[i]), "spec.volumes[0].hostPath",
                               "the container engine's socket");
        for (size_t i = 0; i < sizeof(outside_paths) / sizeof(outside_paths[0]); i++)
                assert_refused(host_path(&p, outside_paths[i]), "spec.volumes[0].hostPath",
                               "is outside the host paths berthd allows");

        /* climbing out of the root, through "..", links, or paths not made yet */
        snprintf(path, sizeof(path), "%s/../outside", root);
        assert_refused(host_path(&p, path), "spec.volumes[0].hostPath", "(resolved: ");
        snprintf(path, sizeof(path), "%s/data/../../outside", root);
        assert_refused(host_path(&p, path), "spec.volumes[0].hostPath", "outside the host paths");
        snprintf(path, sizeof(path), "%s/etc-link", root);
        assert_refused(host_path(&p, path), "spec.volumes[0].hostPath", "(resolved: /etc)");
        snprintf(path, sizeof(path), "%s/etc-link/shadow", root);
        assert_refused(host_path(&p, path), "spec.volumes[0].hostPath", "outside the host paths");
        snprintf(path, sizeof(path), "%s/out-link/x", root);
        assert_refused(host_path(&p, path), "spec.volumes[0].hostPath", "outside the host paths");
        snprintf(path, sizeof(path), "%s/new/../../../etc", root);
        assert_refused(host_path(&p, path), "spec.volumes[0].hostPath", "outside the host paths");
        /* the engine's socket inside the allowed root: by a link (which
         * leads nowhere while no engine runs), by its name */
        snprintf(path, sizeof(path), "%s/engine", root);
        {
                struct stat st;
                assert_refused(host_path(&p, path), "spec.volumes[0].hostPath",
                               stat("/var/run/docker.sock", &st) == 0
                                   ? "the container engine's socket"
                                   : "a symbolic link that leads nowhere");
        }
        snprintf(path, sizeof(path), "%s/docker.sock", root);
        assert_refused(host_path(&p, path), "spec.volumes[0].hostPath",
                       "the container engine's socket");
        /* a prefix of the root's name is not inside it */
        snprintf(path, sizeof(path), "%s-other", root);
        assert_refused(host_path(&p, path), "spec.volumes[0].hostPath", "outside the host paths");
}

static void test_allowed_host_paths(void **state)
{
        const char *roots[] = {root};
        struct admission_policy p = {.host_path_roots = roots, .n_host_path_roots = 1};
        char path[256];

        (void)state;
        assert_passes(host_path(&p, root));
        snprintf(path, sizeof(path), "%s/data", root);
        assert_passes(host_path(&p, path));
        snprintf(path, sizeof(path), "%s/data/", root);
        assert_passes(host_path(&p, path));
        snprintf(path, sizeof(path), "%s/not/made/yet", root);
        assert_passes(host_path(&p, path));
        snprintf(path, sizeof(path), "%s/data/../data", root);
        assert_passes(host_path(&p, path));
}

/* Every kind that makes containers, and where in it. */
static void test_every_kind(void **state)
{
        struct admission_policy p = {0};
        const char *host = "{\"image\":\"b\",\"network\":\"host\"}";
        char json[512];

        (void)state;
        snprintf(json, sizeof(json),
                 "{\"kind\":\"Workflow\",\"spec\":{\"steps\":[{\"name\":\"a\",\"task\":{\"image\":"
                 "\"b\"}},{\"name\":\"b\",\"task\":%s}]}}",
                 host);
        assert_refused(first_error(&p, json), "spec.steps[1].task.network", "not allowed");
        snprintf(json, sizeof(json),
                 "{\"kind\":\"Workflow\",\"spec\":{\"steps\":[{\"name\":\"a\",\"task\":{\"image\":"
                 "\"b\"}}],\"onExit\":{\"task\":%s}}}",
                 host);
        assert_refused(first_error(&p, json), "spec.onExit.task.network", "not allowed");
        snprintf(json, sizeof(json),
                 "{\"kind\":\"CronTask\",\"spec\":{\"taskTemplate\":{\"spec\":%s}}}", host);
        assert_refused(first_error(&p, json), "spec.taskTemplate.spec.network", "not allowed");
        snprintf(json, sizeof(json),
                 "{\"kind\":\"CronTask\",\"spec\":{\"workflowTemplate\":{\"spec\":{\"steps\":[{"
                 "\"name\":\"a\",\"task\":%s}]}}}}",
                 host);
        assert_refused(first_error(&p, json), "spec.workflowTemplate.spec.steps[0].task.network",
                       "not allowed");
        snprintf(json, sizeof(json), "{\"kind\":\"Service\",\"spec\":{\"template\":%s}}", host);
        assert_refused(first_error(&p, json), "spec.template.network", "not allowed");
        /* kinds without containers */
        assert_passes(first_error(&p, "{\"kind\":\"Source\",\"spec\":{\"path\":\"/\"}}"));
        assert_passes(first_error(&p, "{\"kind\":\"Secret\",\"stringData\":{\"a\":\"b\"}}"));
}

/* Secrets reach a container through berthd's own tmpfs, not a host path
 * of the user's: no --allow-host-path needed. */
static void test_secret_refs_pass(void **state)
{
        struct admission_policy p = {0};

        (void)state;
        assert_passes(task_with(&p, "\"env\":[{\"name\":\"P\",\"valueFrom\":{\"secretKeyRef\":"
                                    "{\"name\":\"db\",\"key\":\"pw\"}}}],"
                                    "\"volumes\":[{\"mountPath\":\"/s\",\"secret\":\"db\"}]"));
}

static void test_check_container(void **state)
{
        struct admission_policy p = {0};
        struct policy_spec relaxed = {.ns = "team-a", .allow_privileged = true};
        json_t *spec = json_pack("{s:s, s:[{s:s, s:s}]}", "image", "b", "volumes", "mountPath",
                                 "/h", "hostPath", "/etc");
        char msg[512];

        (void)state;
        assert_int_equal(admission_check_container(&p, NULL, spec, msg, sizeof(msg)), -EPERM);
        assert_true(str_has_prefix(msg, "spec.volumes[0].hostPath: host path mounts are not"));
        json_object_del(spec, "volumes");
        assert_int_equal(admission_check_container(&p, NULL, spec, msg, sizeof(msg)), 0);
        /* A spec admitted under a Policy, judged again once it is gone. */
        json_object_set_new(spec, "securityContext", json_pack("{s:b}", "privileged", 1));
        assert_int_equal(admission_check_container(&p, &relaxed, spec, msg, sizeof(msg)), 0);
        assert_int_equal(admission_check_container(&p, NULL, spec, msg, sizeof(msg)), -EPERM);
        assert_true(str_has_prefix(msg, "spec.securityContext.privileged: privileged containers "
                                        "are not allowed"));
        json_decref(spec);
}

/* ---- the security options of a spec ------------------------------------- */

/* Each hostile option alone, refused by default with its field named and
 * the Policy field that would lift it. */
static void test_security_refused_by_default(void **state)
{
        struct admission_policy p = {.allow_host_network = true}; /* berthd's flag: no help here */
        static const struct {
                const char *fields;
                const char *field;
                const char *part;
        } hostile[] = {
            {"\"securityContext\":{\"privileged\":true}", "spec.securityContext.privileged",
             "root on the host; a Policy named default in the namespace may allow it "
             "(allowPrivileged)"},
            {"\"hostPID\":true", "spec.hostPID", "(allowHostPID)"},
            {"\"hostIPC\":true", "spec.hostIPC", "(allowHostIPC)"},
            {"\"securityContext\":{\"capabilities\":{\"add\":[\"ALL\"]}}",
             "spec.securityContext.capabilities.add[0]", "ALL is not allowed"},
            {"\"securityContext\":{\"capabilities\":{\"add\":[\"SYS_ADMIN\"]}}",
             "spec.securityContext.capabilities.add[0]", "SYS_ADMIN is not allowed"},
            {"\"securityContext\":{\"capabilities\":{\"add\":[\"CHOWN\",\"CAP_SYS_ADMIN\"]}}",
             "spec.securityContext.capabilities.add[1]", "SYS_ADMIN is not allowed"},
            {"\"securityContext\":{\"capabilities\":{\"add\":[\"sys_ptrace\"]}}",
             "spec.securityContext.capabilities.add[0]", "SYS_PTRACE is not allowed"},
            {"\"securityContext\":{\"capabilities\":{\"add\":[\"NET_ADMIN\"]}}",
             "spec.securityContext.capabilities.add[0]", "(allowedCapabilities)"},
            {"\"securityContext\":{\"capabilities\":{\"add\":[\"NET_RAW\"]}}",
             "spec.securityContext.capabilities.add[0]", "NET_RAW is not allowed"},
            {"\"securityContext\":{\"capabilities\":{\"add\":[\"cap_sys_module\"]}}",
             "spec.securityContext.capabilities.add[0]", "SYS_MODULE is not allowed"},
            {"\"devices\":[{\"hostPath\":\"/dev/sda\"}]", "spec.devices[0].hostPath",
             "host devices are not allowed: the container would read and write /dev/sda"},
            {"\"devices\":[{\"hostPath\":\"/dev/mem\",\"containerPath\":\"/dev/m\"}]",
             "spec.devices[0].hostPath", "(allowDevices)"},
            {"\"securityContext\":{\"seccompProfile\":{\"type\":\"Unconfined\"}}",
             "spec.securityContext.seccompProfile.type", "(allowUnconfinedSeccomp)"},
            {"\"securityContext\":{\"allowPrivilegeEscalation\":true}",
             "spec.securityContext.allowPrivilegeEscalation", "(allowPrivilegeEscalation)"},
        };

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(hostile); i++)
                assert_refused(task_with(&p, hostile[i].fields), hostile[i].field, hostile[i].part);
        /* what stays allowed */
        assert_passes(task_with(&p, "\"securityContext\":{\"privileged\":false,"
                                    "\"allowPrivilegeEscalation\":false,"
                                    "\"seccompProfile\":{\"type\":\"RuntimeDefault\"},"
                                    "\"readOnlyRootFilesystem\":true,\"runAsNonRoot\":true,"
                                    "\"runAsUser\":1000}"));
        assert_passes(task_with(&p, "\"hostPID\":false,\"hostIPC\":false,\"devices\":[]"));
        assert_passes(task_with(&p, "\"securityContext\":{\"capabilities\":{\"add\":["
                                    "\"CHOWN\",\"cap_kill\",\"Net_Bind_Service\",\"SYS_CHROOT\","
                                    "\"MKNOD\",\"AUDIT_WRITE\",\"SETFCAP\",\"SETPCAP\","
                                    "\"DAC_OVERRIDE\",\"FOWNER\",\"FSETID\",\"SETGID\","
                                    "\"SETUID\"],\"drop\":[\"ALL\"]}}"));
        /* unknown names are validation's to refuse, not admission's */
        assert_passes(task_with(&p, "\"securityContext\":{\"capabilities\":{\"add\":[\"NOPE\"]}}"));
}

/* Every refusal of one spec, not only the first. */
static void test_every_refusal_reported(void **state)
{
        struct admission_policy p = {0};
        json_t *o = json_pack("{s:s, s:{s:s, s:b, s:b, s:s, s:{s:b, s:{s:[s,s]}}}}", "kind", "Task",
                              "spec", "image", "b", "hostPID", 1, "hostIPC", 1, "network", "host",
                              "securityContext", "privileged", 1, "capabilities", "add",
                              "SYS_ADMIN", "NET_ADMIN");
        struct field_errors errs = {0};

        (void)state;
        assert_int_equal(admission_check_object(&p, NULL, o, NULL, &errs), -EINVAL);
        assert_int_equal(errs.n, 6);
        field_errors_release(&errs);
        json_decref(o);
}

static void test_default_capabilities(void **state)
{
        uint64_t set = admission_default_capabilities();
        _cleanup_json_ json_t *names = capabilities_to_json(set);
        _cleanup_free_ char *text = json_dumps(names, JSON_COMPACT);

        (void)state;
        assert_string_equal(text, "[\"CHOWN\",\"DAC_OVERRIDE\",\"FOWNER\",\"FSETID\",\"KILL\","
                                  "\"SETGID\",\"SETUID\",\"SETPCAP\",\"NET_BIND_SERVICE\","
                                  "\"SYS_CHROOT\",\"MKNOD\",\"AUDIT_WRITE\",\"SETFCAP\"]");
        assert_false(set & capability_from_string("NET_RAW"));
        assert_false(set & CAPABILITY_ALL);
}

/* ---- a namespace's Policy ----------------------------------------------- */

static void test_policy_relaxes(void **state)
{
        struct admission_policy p = {0};
        struct policy_spec policy = {
            .ns = "team-a",
            .allow_privileged = true,
            .allow_host_network = true,
            .allow_host_pid = true,
            .allow_host_ipc = true,
            .allow_devices = true,
            .allow_unconfined_seccomp = true,
            .allow_privilege_escalation = true,
            .allowed_capabilities = capability_from_string("NET_ADMIN"),
        };
        const char *relaxed[] = {
            "\"securityContext\":{\"privileged\":true}",
            "\"network\":\"host\"",
            "\"hostPID\":true",
            "\"hostIPC\":true",
            "\"devices\":[{\"hostPath\":\"/dev/fuse\"}]",
            "\"securityContext\":{\"seccompProfile\":{\"type\":\"Unconfined\"}}",
            "\"securityContext\":{\"allowPrivilegeEscalation\":true}",
            "\"securityContext\":{\"capabilities\":{\"add\":[\"NET_ADMIN\",\"CHOWN\"]}}",
            "\"securityContext\":{\"capabilities\":{\"add\":[\"cap_net_admin\"]}}",
        };

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(relaxed); i++) {
                assert_passes(task_in(&p, &policy, relaxed[i]));
                /* and only there: without it each is refused */
                char *got = task_in(&p, NULL, relaxed[i]);
                if (!*got)
                        fail_msg("passes without the Policy: %s", relaxed[i]);
                free(got);
        }
        /* what the Policy does not add stays refused, naming the Policy */
        assert_refused(task_in(&p, &policy,
                               "\"securityContext\":{\"capabilities\":{\"add\":[\"SYS_ADMIN\"]}}"),
                       "spec.securityContext.capabilities.add[0]",
                       "SYS_ADMIN is not allowed: a container may add back only Docker's default "
                       "capabilities less NET_RAW; Policy team-a/default does not allow it "
                       "(allowedCapabilities)");
        assert_refused(
            task_in(&p, &policy, "\"securityContext\":{\"capabilities\":{\"add\":[\"ALL\"]}}"),
            "spec.securityContext.capabilities.add[0]", "ALL is not allowed");
        policy.allowed_capabilities = CAPABILITY_ALL;
        assert_passes(
            task_in(&p, &policy, "\"securityContext\":{\"capabilities\":{\"add\":[\"ALL\"]}}"));
        assert_passes(task_in(&p, &policy,
                              "\"securityContext\":{\"capabilities\":{\"add\":[\"SYS_ADMIN\"]}}"));
        /* an empty Policy relaxes nothing */
        struct policy_spec empty = {.ns = "team-b"};
        assert_refused(task_in(&p, &empty, "\"hostPID\":true"), "spec.hostPID",
                       "Policy team-b/default does not allow it (allowHostPID)");
}

/* allowedExecutors narrows the executors a namespace's Tasks may use;
 * docker is always allowed, and docker-exec still needs berthd's flag. */
static void test_policy_executors(void **state)
{
        struct admission_policy p = {.allow_docker_exec = true};
        struct policy_spec policy = {.ns = "team-a",
                                     .executors_set = true,
                                     .allowed_executors = {"proc-executor"},
                                     .n_allowed_executors = 1};

        (void)state;
        assert_passes(task_in(&p, &policy, "\"executor\":{\"type\":\"proc-executor\"}"));
        assert_passes(task_in(&p, &policy, "\"executor\":{\"type\":\"docker\"}"));
        assert_refused(task_in(&p, &policy, "\"executor\":{\"type\":\"other\"}"),
                       "spec.executor.type",
                       "executor other is not allowed: Policy team-a/default allows only docker "
                       "and what it lists (allowedExecutors)");
        assert_refused(task_in(&p, &policy,
                               "\"executor\":{\"type\":\"docker-exec\",\"container\":"
                               "{\"name\":\"db\"}}"),
                       "spec.executor.type", "executor docker-exec is not allowed");
        /* an empty list: docker only; no list: any (berthd's flags aside) */
        policy.n_allowed_executors = 0;
        assert_refused(task_in(&p, &policy, "\"executor\":{\"type\":\"proc-executor\"}"),
                       "spec.executor.type", "allows only docker (allowedExecutors)");
        policy.executors_set = false;
        assert_passes(task_in(&p, &policy, "\"executor\":{\"type\":\"proc-executor\"}"));
        assert_passes(task_in(&p, NULL, "\"executor\":{\"type\":\"proc-executor\"}"));
}

/* A Policy narrows host paths to its allowedHostPaths, and never widens
 * berthd's --allow-host-path. */
static void test_policy_host_paths(void **state)
{
        const char *roots[] = {root};
        struct admission_policy p = {.host_path_roots = roots, .n_host_path_roots = 1};
        char data[256], path[256];
        struct policy_spec policy = {.ns = "team-a", .host_paths_set = true};

        (void)state;
        snprintf(data, sizeof(data), "%s/data", root);
        policy.allowed_host_paths[0] = data;
        policy.allowed_host_paths[1] = "/etc"; /* outside the roots: no use */
        policy.n_allowed_host_paths = 2;
        snprintf(path, sizeof(path),
                 "\"volumes\":[{\"mountPath\":\"/m\",\"hostPath\":\"%s/data/x\"}]", root);
        assert_passes(task_in(&p, &policy, path));
        snprintf(path, sizeof(path), "\"volumes\":[{\"mountPath\":\"/m\",\"hostPath\":\"%s\"}]",
                 root);
        assert_refused(task_in(&p, &policy, path), "spec.volumes[0].hostPath",
                       "is outside the host paths Policy team-a/default allows");
        assert_passes(task_in(&p, NULL, path));
        assert_refused(
            task_in(&p, &policy, "\"volumes\":[{\"mountPath\":\"/m\",\"hostPath\":\"/etc/x\"}]"),
            "spec.volumes[0].hostPath", "is outside the host paths berthd allows");
        /* the engine's socket inside an allowed path: never */
        policy.allowed_host_paths[0] = root;
        snprintf(path, sizeof(path),
                 "\"volumes\":[{\"mountPath\":\"/m\",\"hostPath\":\"%s/docker.sock\"}]", root);
        assert_refused(task_in(&p, &policy, path), "spec.volumes[0].hostPath",
                       "the container engine's socket");
        /* an empty list: no host path at all in the namespace */
        policy.n_allowed_host_paths = 0;
        snprintf(path, sizeof(path),
                 "\"volumes\":[{\"mountPath\":\"/m\",\"hostPath\":\"%s/data\"}]", root);
        assert_refused(task_in(&p, &policy, path), "spec.volumes[0].hostPath",
                       "Policy team-a/default allows (none)");
}

static void test_policy_tightens(void **state)
{
        struct admission_policy p = {0};
        struct policy_spec policy = {.ns = "prod", .require_run_as_non_root = true};

        (void)state;
        assert_refused(task_in(&p, &policy, ""), "spec.securityContext.runAsNonRoot",
                       "must be true: Policy prod/default requires it (requireRunAsNonRoot)");
        assert_refused(task_in(&p, &policy, "\"securityContext\":{\"runAsNonRoot\":false}"),
                       "spec.securityContext.runAsNonRoot", "requireRunAsNonRoot");
        assert_passes(task_in(&p, &policy, "\"securityContext\":{\"runAsNonRoot\":true}"));
        assert_passes(task_in(&p, NULL, ""));
        policy.require_read_only_root_filesystem = true;
        assert_refused(task_in(&p, &policy, "\"securityContext\":{\"runAsNonRoot\":true}"),
                       "spec.securityContext.readOnlyRootFilesystem",
                       "must be true: Policy prod/default requires it "
                       "(requireReadOnlyRootFilesystem)");
        assert_passes(task_in(&p, &policy,
                              "\"securityContext\":{\"runAsNonRoot\":true,"
                              "\"readOnlyRootFilesystem\":true}"));
        /* in every kind, too */
        assert_refused(first_error_in(&p, &policy,
                                      "{\"kind\":\"Service\",\"spec\":{\"template\":{\"image\":"
                                      "\"b\"}}}"),
                       "spec.template.securityContext.runAsNonRoot", "requireRunAsNonRoot");
}

/* A Policy object: its host paths inside berthd's roots. */
static void test_policy_object(void **state)
{
        const char *roots[] = {root};
        struct admission_policy with_roots = {.host_path_roots = roots, .n_host_path_roots = 1};
        struct admission_policy none = {0};
        char json[512];

        (void)state;
        snprintf(json, sizeof(json),
                 "{\"kind\":\"Policy\",\"spec\":{\"allowedHostPaths\":[\"%s/data\",\"/etc\"]}}",
                 root);
        assert_refused(first_error(&with_roots, json), "spec.allowedHostPaths[1]",
                       "/etc is outside the host paths berthd allows");
        assert_refused(first_error(&none, json), "spec.allowedHostPaths[0]",
                       "host path mounts are not allowed");
        snprintf(json, sizeof(json),
                 "{\"kind\":\"Policy\",\"spec\":{\"allowedHostPaths\":[\"%s/data\"],"
                 "\"allowPrivileged\":true}}",
                 root);
        assert_passes(first_error(&with_roots, json));
        assert_passes(first_error(&none, "{\"kind\":\"Policy\",\"spec\":{\"allowHostPID\":true}}"));
}

/* ---- runAsNonRoot and the image's user ---------------------------------- */

static void test_image_user(void **state)
{
        char msg[256];

        (void)state;
        assert_int_equal(admission_check_image_user("busybox:latest", "", msg, sizeof(msg)),
                         -EPERM);
        assert_string_equal(msg, "runAsNonRoot: image busybox:latest runs as root (uid 0)");
        assert_int_equal(admission_check_image_user("busybox:latest", NULL, msg, sizeof(msg)),
                         -EPERM);
        assert_string_equal(msg, "runAsNonRoot: image busybox:latest runs as root (uid 0)");
        assert_int_equal(admission_check_image_user("x", "0", msg, sizeof(msg)), -EPERM);
        assert_int_equal(admission_check_image_user("x", "0:1000", msg, sizeof(msg)), -EPERM);
        assert_int_equal(admission_check_image_user("x", "root", msg, sizeof(msg)), -EPERM);
        assert_string_equal(msg, "runAsNonRoot: image x runs as root (user root)");
        assert_int_equal(admission_check_image_user("x", "root:staff", msg, sizeof(msg)), -EPERM);
        assert_int_equal(admission_check_image_user("x", "nobody", msg, sizeof(msg)), -EPERM);
        assert_true(strstr(msg, "runs as user nobody, a name") != NULL);
        assert_int_equal(admission_check_image_user("x", "1000", msg, sizeof(msg)), 0);
        assert_int_equal(admission_check_image_user("x", "1000:1000", msg, sizeof(msg)), 0);
        assert_int_equal(admission_check_image_user("x", "65534:app", msg, sizeof(msg)), 0);
        assert_int_equal(admission_check_image_user("x", "10", msg, sizeof(msg)), 0);
}

/* ---- what reaches Docker ------------------------------------------------ */

/* The HostConfig admission writes for a Task spec (JSON fields). */
static json_t *host_config_of(const char *spec_fields)
{
        _cleanup_free_ char *text =
            str_printf("{\"apiVersion\":\"berth/v1\",\"kind\":\"Task\",\"metadata\":{\"name\":"
                       "\"t\"},\"spec\":{\"image\":\"busybox\"%s%s}}",
                       *spec_fields ? "," : "", spec_fields);
        _cleanup_json_ json_t *obj = json_loads(text, 0, NULL);
        struct berth_error err = {0};
        struct task_spec spec;
        json_t *hc = json_object();

        assert_non_null(obj);
        if (task_spec_decode(obj, &spec, &err) < 0)
                fail_msg("decode %s: %s", spec_fields, err.message);
        assert_int_equal(admission_container_security(&spec, hc), 0);
        task_spec_release(&spec);
        return hc;
}

static void assert_hc(const json_t *hc, const char *key, const char *json)
{
        _cleanup_free_ char *got =
            json_dumps(json_object_get(hc, key), JSON_COMPACT | JSON_ENCODE_ANY);

        if (!json ? got != NULL : !got || !streq(got, json))
                fail_msg("HostConfig.%s: want %s, got %s", key, json ? json : "(none)",
                         got ? got : "(none)");
}

static void test_container_security(void **state)
{
        json_t *hc;

        (void)state;
        /* the defaults, and nothing else */
        hc = host_config_of("");
        assert_hc(hc, "SecurityOpt", "[\"no-new-privileges\"]");
        assert_hc(hc, "CapDrop", "[\"NET_RAW\"]");
        assert_hc(hc, "PidsLimit", "1024");
        assert_int_equal(json_object_size(hc), 3);
        /* a pids limit set before stays */
        json_object_set_new(hc, "PidsLimit", json_integer(50));
        {
                struct task_spec empty = {0};
                assert_int_equal(admission_container_security(&empty, hc), 0);
        }
        assert_hc(hc, "PidsLimit", "50");
        json_decref(hc);

        /* everything a Policy may allow, as Docker names it */
        hc = host_config_of(
            "\"securityContext\":{\"privileged\":true,\"readOnlyRootFilesystem\":true,"
            "\"allowPrivilegeEscalation\":true,\"seccompProfile\":{\"type\":\"Unconfined\"},"
            "\"capabilities\":{\"add\":[\"cap_net_admin\",\"SYS_TIME\"],\"drop\":[\"mknod\"]}},"
            "\"hostPID\":true,\"hostIPC\":true,"
            "\"devices\":[{\"hostPath\":\"/dev/fuse\"},"
            "{\"hostPath\":\"/dev/sdb\",\"containerPath\":\"/dev/disk\",\"permissions\":\"r\"}]");
        assert_hc(hc, "SecurityOpt", "[\"seccomp=unconfined\"]");
        assert_hc(hc, "CapAdd", "[\"NET_ADMIN\",\"SYS_TIME\"]");
        assert_hc(hc, "CapDrop", "[\"NET_RAW\",\"MKNOD\"]");
        assert_hc(hc, "Privileged", "true");
        assert_hc(hc, "ReadonlyRootfs", "true");
        assert_hc(hc, "PidMode", "\"host\"");
        assert_hc(hc, "IpcMode", "\"host\"");
        assert_hc(hc, "Devices",
                  "[{\"PathOnHost\":\"/dev/fuse\",\"PathInContainer\":\"/dev/fuse\","
                  "\"CgroupPermissions\":\"rwm\"},{\"PathOnHost\":\"/dev/sdb\","
                  "\"PathInContainer\":\"/dev/disk\",\"CgroupPermissions\":\"r\"}]");
        json_decref(hc);

        /* NET_RAW added back is not dropped; drop ALL is ALL */
        hc = host_config_of("\"securityContext\":{\"capabilities\":{\"add\":[\"NET_RAW\"]}}");
        assert_hc(hc, "CapDrop", NULL);
        assert_hc(hc, "CapAdd", "[\"NET_RAW\"]");
        json_decref(hc);
        hc = host_config_of("\"securityContext\":{\"capabilities\":{\"add\":[\"ALL\"]}}");
        assert_hc(hc, "CapDrop", NULL);
        assert_hc(hc, "CapAdd", "[\"ALL\"]");
        json_decref(hc);
        hc = host_config_of("\"securityContext\":{\"capabilities\":{\"drop\":[\"ALL\"],"
                            "\"add\":[\"NET_BIND_SERVICE\"]}}");
        assert_hc(hc, "CapDrop", "[\"ALL\"]");
        assert_hc(hc, "CapAdd", "[\"NET_BIND_SERVICE\"]");
        assert_hc(hc, "SecurityOpt", "[\"no-new-privileges\"]");
        assert_hc(hc, "Privileged", NULL);
        json_decref(hc);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_host_network),
            cmocka_unit_test(test_host_paths_without_roots),
            cmocka_unit_test(test_hostile_host_paths),
            cmocka_unit_test(test_allowed_host_paths),
            cmocka_unit_test(test_every_kind),
            cmocka_unit_test(test_secret_refs_pass),
            cmocka_unit_test(test_check_container),
            cmocka_unit_test(test_security_refused_by_default),
            cmocka_unit_test(test_every_refusal_reported),
            cmocka_unit_test(test_policy_executors),
            cmocka_unit_test(test_default_capabilities),
            cmocka_unit_test(test_policy_relaxes),
            cmocka_unit_test(test_policy_host_paths),
            cmocka_unit_test(test_policy_tightens),
            cmocka_unit_test(test_policy_object),
            cmocka_unit_test(test_image_user),
            cmocka_unit_test(test_container_security),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
