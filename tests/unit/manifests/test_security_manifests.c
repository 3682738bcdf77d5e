/* Unit tests of a container's security fields in the manifests module
 * (securityContext, hostPID, hostIPC, devices: docs/reference/task.md,
 * "Security") and of the Policy kind (docs/reference/policy.md): capability
 * names, what decodes, and every rule rejecting its bad input with file,
 * line and field. Whether a container may have what it asks is the
 * admission policy's (tests/unit/admission). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "manifest-test.h"

/* The spec's fields start at line 5, indented by two. */
#define TASK_HEAD                                                                                  \
        "apiVersion: berth/v1\n"                                                                   \
        "kind: Task\n"                                                                             \
        "metadata: {name: t}\n"                                                                    \
        "spec:\n"                                                                                  \
        "  image: busybox\n"

/* The spec's fields start at line 7. */
#define POLICY_HEAD                                                                                \
        "apiVersion: berth/v1\n"                                                                   \
        "kind: Policy\n"                                                                           \
        "metadata:\n"                                                                              \
        "  name: default\n"                                                                        \
        "  namespace: team-a\n"                                                                    \
        "spec:\n"

static void assert_task_invalid(const char *tail, const char *expected)
{
        _cleanup_free_ char *yaml = str_printf(TASK_HEAD "%s", tail);

        assert_invalid_as(yaml, "t.yaml", expected);
}

static void assert_task_valid(const char *tail)
{
        _cleanup_free_ char *yaml = str_printf(TASK_HEAD "%s", tail);

        assert_valid_as(yaml, "t.yaml");
}

static void test_capability_names(void **state)
{
        uint64_t sys_admin = CAPABILITY_BIT(21);

        (void)state;
        assert_int_equal(capability_from_string("SYS_ADMIN"), sys_admin);
        assert_int_equal(capability_from_string("CAP_SYS_ADMIN"), sys_admin);
        assert_int_equal(capability_from_string("sys_admin"), sys_admin);
        assert_int_equal(capability_from_string("cap_Sys_Admin"), sys_admin);
        assert_int_equal(capability_from_string("CHOWN"), CAPABILITY_BIT(0));
        assert_int_equal(capability_from_string("checkpoint_restore"), CAPABILITY_BIT(40));
        assert_int_equal(capability_from_string("ALL"), CAPABILITY_ALL);
        assert_int_equal(capability_from_string("all"), CAPABILITY_ALL);
        assert_int_equal(capability_from_string("CAP_ALL"), CAPABILITY_ALL);
        assert_int_equal(capability_from_string("CAP_"), 0);
        assert_int_equal(capability_from_string(""), 0);
        assert_int_equal(capability_from_string("SYS_ADMINX"), 0);
        assert_int_equal(capability_from_string(" SYS_ADMIN"), 0);
        assert_int_equal(capability_from_string("CAP_CAP_SYS_ADMIN"), 0);
        assert_int_equal(capability_from_string("SYS_ADMIN_SYS_ADMIN_SYS_ADMIN_SYS_ADMIN"), 0);
        assert_int_equal(capability_from_string(NULL), 0);

        assert_string_equal(capability_to_string(sys_admin), "SYS_ADMIN");
        assert_string_equal(capability_to_string(CAPABILITY_ALL), "ALL");
        assert_null(capability_to_string(0));
        assert_null(capability_to_string(sys_admin | CAPABILITY_BIT(0)));
        assert_null(capability_to_string(CAPABILITY_BIT(41)));
        for (unsigned i = 0; i < CAPABILITY_COUNT; i++)
                assert_int_equal(capability_from_string(capability_to_string(CAPABILITY_BIT(i))),
                                 CAPABILITY_BIT(i));

        _cleanup_json_ json_t *names =
            capabilities_to_json(sys_admin | CAPABILITY_ALL | CAPABILITY_BIT(13));
        _cleanup_free_ char *text = json_dumps(names, JSON_COMPACT);
        assert_string_equal(text, "[\"ALL\",\"NET_RAW\",\"SYS_ADMIN\"]");
}

static void test_user_names(void **state)
{
        (void)state;
        assert_true(task_user_is_root("0"));
        assert_true(task_user_is_root("000"));
        assert_true(task_user_is_root("0:0"));
        assert_true(task_user_is_root("root"));
        assert_true(task_user_is_root("root:wheel"));
        assert_false(task_user_is_root("rooter"));
        assert_false(task_user_is_root("1000"));
        assert_false(task_user_is_root("10"));
        assert_false(task_user_is_root(""));
        assert_false(task_user_is_root(NULL));
        assert_true(task_user_is_numeric("1000"));
        assert_true(task_user_is_numeric("1000:app"));
        assert_false(task_user_is_numeric("app"));
        assert_false(task_user_is_numeric("10a"));
        assert_false(task_user_is_numeric(":1000"));
        assert_false(task_user_is_numeric(NULL));
}

static void test_security_decodes(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        struct berth_error err = {0};
        struct task_spec s;

        (void)state;
        parse_ok_as(TASK_HEAD "  securityContext:\n"
                              "    privileged: true\n"
                              "    capabilities: {add: [cap_net_admin, SYS_TIME], drop: [ALL]}\n"
                              "    readOnlyRootFilesystem: true\n"
                              "    runAsNonRoot: true\n"
                              "    runAsUser: 1000\n"
                              "    seccompProfile: {type: Unconfined}\n"
                              "    allowPrivilegeEscalation: true\n"
                              "  hostPID: true\n"
                              "  hostIPC: true\n"
                              "  devices:\n"
                              "    - {hostPath: /dev/fuse}\n"
                              "    - {hostPath: /dev/sdb, containerPath: /dev/xvdb, "
                              "permissions: r}\n",
                    "t.yaml", &list);
        assert_int_equal(task_spec_decode(list.docs[0].object, &s, &err), 0);
        assert_true(s.security.privileged);
        assert_int_equal(s.security.cap_add, CAPABILITY_BIT(12) | CAPABILITY_BIT(25));
        assert_int_equal(s.security.cap_drop, CAPABILITY_ALL);
        assert_true(s.security.read_only_root_filesystem);
        assert_true(s.security.run_as_non_root);
        assert_true(s.security.has_run_as_user);
        assert_int_equal(s.security.run_as_user, 1000);
        assert_true(s.security.seccomp_unconfined);
        assert_true(s.security.allow_privilege_escalation);
        assert_true(s.security.host_pid);
        assert_true(s.security.host_ipc);
        assert_int_equal(s.security.n_devices, 2);
        assert_string_equal(s.security.devices[0].host_path, "/dev/fuse");
        assert_string_equal(s.security.devices[0].container_path, "/dev/fuse");
        assert_string_equal(s.security.devices[0].permissions, "rwm");
        assert_string_equal(s.security.devices[1].container_path, "/dev/xvdb");
        assert_string_equal(s.security.devices[1].permissions, "r");
        task_spec_release(&s);
        assert_null(s.security.devices);

        /* none of it: zeroes, and no runAsUser */
        manifest_list_release(&list);
        parse_ok_as(TASK_HEAD "  securityContext: {seccompProfile: {type: RuntimeDefault}}\n",
                    "t.yaml", &list);
        assert_int_equal(task_spec_decode(list.docs[0].object, &s, &err), 0);
        assert_false(s.security.has_run_as_user);
        assert_false(s.security.seccomp_unconfined);
        assert_int_equal(s.security.cap_add | s.security.cap_drop, 0);
        assert_int_equal(s.security.n_devices, 0);
        task_spec_release(&s);
}

static void test_security_valid(void **state)
{
        (void)state;
        assert_task_valid("  securityContext: {}\n");
        assert_task_valid("  securityContext: {runAsUser: 0}\n");
        assert_task_valid("  securityContext: {runAsNonRoot: true}\n");
        assert_task_valid("  user: \"1000:1000\"\n  securityContext: {runAsNonRoot: true}\n");
        assert_task_valid("  user: root\n"); /* without runAsNonRoot: the user's choice */
        assert_task_valid("  securityContext: {capabilities: {add: [], drop: [NET_RAW]}}\n");
        assert_task_valid("  devices: []\n  hostPID: false\n");
        /* in a Workflow step, a CronTask template and a Service template too */
        assert_valid_as(
            "apiVersion: berth/v1\n"
            "kind: Workflow\n"
            "metadata: {name: w}\n"
            "spec:\n"
            "  steps:\n"
            "    - name: a\n"
            "      task: {image: b, hostPID: true, securityContext: {privileged: true}}\n"
            "  onExit:\n"
            "    task: {image: b, devices: [{hostPath: /dev/fuse}]}\n",
            "w.yaml");
        assert_valid_as("apiVersion: berth/v1\n"
                        "kind: Service\n"
                        "metadata: {name: s}\n"
                        "spec:\n"
                        "  replicas: 1\n"
                        "  template:\n"
                        "    image: b\n"
                        "    securityContext: {readOnlyRootFilesystem: true, runAsUser: 101}\n",
                        "s.yaml");
        assert_valid_as("apiVersion: berth/v1\n"
                        "kind: CronTask\n"
                        "metadata: {name: c}\n"
                        "spec:\n"
                        "  schedule: \"@hourly\"\n"
                        "  taskTemplate:\n"
                        "    spec: {image: b, hostIPC: true}\n",
                        "c.yaml");
}

static void test_security_errors(void **state)
{
        (void)state;
        assert_task_invalid("  securityContext: {privilegd: true}\n",
                            "t.yaml:6:21: spec.securityContext.privilegd: unknown field, did you "
                            "mean spec.securityContext.privileged?");
        assert_task_invalid("  securityContext: true\n",
                            "t.yaml:6:3: spec.securityContext: must be an object");
        assert_task_invalid("  securityContext: {privileged: \"yes\"}\n",
                            "t.yaml:6:21: spec.securityContext.privileged: must be a boolean "
                            "(true or false)");
        assert_task_invalid("  hostPID: 1\n", "t.yaml:6:3: spec.hostPID: must be a boolean (true "
                                              "or false)");
        assert_task_invalid("  hostIPC: yes\n", "t.yaml:6:3: spec.hostIPC: must be a boolean "
                                                "(true or false)");
        assert_task_invalid("  securityContext: {capabilities: {add: [SYS_ADMN]}}\n",
                            "t.yaml:6:42: spec.securityContext.capabilities.add[0]: unknown "
                            "capability \"SYS_ADMN\", did you mean SYS_ADMIN?: a Linux capability "
                            "(NET_ADMIN, CAP_NET_ADMIN, net_admin) or ALL");
        assert_task_invalid("  securityContext: {capabilities: {add: [1]}}\n",
                            "t.yaml:6:42: spec.securityContext.capabilities.add[0]: must be a "
                            "string");
        assert_task_invalid("  securityContext: {capabilities: {add: [SYS_TIME, cap_sys_time]}}\n",
                            "t.yaml:6:52: spec.securityContext.capabilities.add[1]: duplicate "
                            "capability SYS_TIME (first at "
                            "spec.securityContext.capabilities.add[0])");
        assert_task_invalid("  securityContext: {capabilities: {add: [net_admin], drop: "
                            "[NET_ADMIN]}}\n",
                            "t.yaml:6:36: spec.securityContext.capabilities.add: NET_ADMIN is in "
                            "add and in drop: a capability is either added or dropped");
        assert_task_invalid("  securityContext: {capabilities: {keep: [CHOWN]}}\n",
                            "t.yaml:6:36: spec.securityContext.capabilities.keep: unknown field");
        assert_task_invalid("  securityContext: {runAsUser: -1}\n",
                            "t.yaml:6:21: spec.securityContext.runAsUser: must be between 0 and "
                            "2147483647");
        assert_task_invalid("  securityContext: {runAsUser: 2147483648}\n",
                            "t.yaml:6:21: spec.securityContext.runAsUser: must be between 0 and "
                            "2147483647");
        /* what contradicts itself */
        assert_task_invalid("  securityContext: {runAsNonRoot: true, runAsUser: 0}\n",
                            "t.yaml:6:41: spec.securityContext.runAsUser: 0 is root, and "
                            "runAsNonRoot is true: use another uid, or drop runAsNonRoot");
        assert_task_invalid("  user: \"1000\"\n  securityContext: {runAsUser: 1000}\n",
                            "t.yaml:6:3: spec.user: only one of user or securityContext.runAsUser "
                            "may be set");
        assert_task_invalid("  user: root\n  securityContext: {runAsNonRoot: true}\n",
                            "t.yaml:6:3: spec.user: \"root\" is root, and "
                            "securityContext.runAsNonRoot is true");
        assert_task_invalid("  user: \"0:0\"\n  securityContext: {runAsNonRoot: true}\n",
                            "t.yaml:6:3: spec.user: \"0:0\" is root, and "
                            "securityContext.runAsNonRoot is true");
        assert_task_invalid("  user: nobody\n  securityContext: {runAsNonRoot: true}\n",
                            "t.yaml:6:3: spec.user: \"nobody\" is a name: with "
                            "securityContext.runAsNonRoot only a numeric uid (or uid:gid) tells "
                            "it is not root; use securityContext.runAsUser");
        assert_task_invalid(
            "  securityContext: {seccompProfile: {type: Localhost}}\n",
            "t.yaml:6:38: spec.securityContext.seccompProfile.type: Localhost profiles are "
            "not supported: one of RuntimeDefault, Unconfined");
        assert_task_invalid("  securityContext: {seccompProfile: {}}\n",
                            "t.yaml:6:21: spec.securityContext.seccompProfile.type: required");
        /* devices */
        assert_task_invalid("  devices: [{containerPath: /dev/x}]\n",
                            "t.yaml:6:13: spec.devices[0].hostPath: required");
        assert_task_invalid("  devices: [{hostPath: dev/sda}]\n",
                            "t.yaml:6:14: spec.devices[0].hostPath: must be an absolute path "
                            "without spaces");
        assert_task_invalid("  devices: [{hostPath: /dev/sda, permissions: rwx}]\n",
                            "t.yaml:6:34: spec.devices[0].permissions: invalid permissions "
                            "\"rwx\": r (read), w (write) and m (mknod), each at most once, at "
                            "least one");
        assert_task_invalid("  devices: [{hostPath: /dev/sda, permissions: rr}]\n",
                            "t.yaml:6:34: spec.devices[0].permissions: invalid permissions "
                            "\"rr\": r (read), w (write) and m (mknod), each at most once, at "
                            "least one");
        assert_task_invalid("  devices: [{hostPath: /dev/a, containerPath: /dev/x}, {hostPath: "
                            "/dev/x}]\n",
                            "t.yaml:6:56: spec.devices[1].containerPath: duplicate containerPath "
                            "/dev/x (first at spec.devices[0])");
        assert_task_invalid("  devices: [{hostPath: /dev/a, mode: r}]\n",
                            "t.yaml:6:32: spec.devices[0].mode: unknown field");
        {
                _cleanup_buf_ struct buf b = {0};

                buf_init(&b, 64 * 1024);
                assert_int_equal(buf_append_str(&b, TASK_HEAD "  devices:\n"), 0);
                for (int i = 0; i <= TASK_DEVICES_MAX; i++)
                        assert_int_equal(buf_printf(&b, "    - {hostPath: /dev/d%d}\n", i), 0);
                assert_invalid_as(b.data, "t.yaml",
                                  "t.yaml:6:3: spec.devices: at most 64 devices, found 65");
        }
}

/* ---- Policy --------------------------------------------------------------- */

static void test_policy_kind(void **state)
{
        const struct kind_info *k = kind_by_name("Policy");

        (void)state;
        assert_non_null(k);
        assert_ptr_equal(kind_lookup("policies"), k);
        assert_ptr_equal(kind_lookup("policy"), k);
        assert_string_equal(k->resource, "policies");
        assert_true(k->namespaced);
        assert_true(k->access_control);
        assert_false(kind_source_may_apply(k));
        assert_null(k->finalizer);
        assert_false(k->runs_to_completion);
}

static void test_policy_decodes(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        struct berth_error err = {0};
        struct policy_spec s;
        json_t *o;

        (void)state;
        parse_ok_as(POLICY_HEAD "  allowPrivileged: true\n"
                                "  allowHostPID: true\n"
                                "  allowedCapabilities: [cap_net_admin, SYS_PTRACE]\n"
                                "  allowedHostPaths: [/srv/team-a, /data]\n"
                                "  allowedExecutors: [proc-executor]\n"
                                "  requireRunAsNonRoot: true\n",
                    "p.yaml", &list);
        o = list.docs[0].object;
        assert_int_equal(manifest_validate(o, NULL, &(struct field_errors){0}), 0);
        manifest_apply_defaults(o);
        assert_true(json_is_false(json_path(o, "spec.allowHostIPC")));
        assert_true(json_is_false(json_path(o, "spec.requireReadOnlyRootFilesystem")));
        assert_true(json_is_true(json_path(o, "spec.allowPrivileged")));
        assert_int_equal(policy_spec_decode(o, &s, &err), 0);
        assert_string_equal(s.ns, "team-a");
        assert_true(s.allow_privileged);
        assert_true(s.allow_host_pid);
        assert_false(s.allow_host_ipc);
        assert_false(s.allow_host_network);
        assert_false(s.allow_devices);
        assert_false(s.allow_unconfined_seccomp);
        assert_false(s.allow_privilege_escalation);
        assert_int_equal(s.allowed_capabilities, CAPABILITY_BIT(12) | CAPABILITY_BIT(19));
        assert_true(s.host_paths_set);
        assert_int_equal(s.n_allowed_host_paths, 2);
        assert_string_equal(s.allowed_host_paths[1], "/data");
        assert_true(s.executors_set);
        assert_int_equal(s.n_allowed_executors, 1);
        assert_string_equal(s.allowed_executors[0], "proc-executor");
        assert_true(s.require_run_as_non_root);
        assert_false(s.require_read_only_root_filesystem);

        /* an empty one relaxes and tightens nothing; no host path list */
        manifest_list_release(&list);
        parse_ok_as(POLICY_HEAD "  {}\n", "p.yaml", &list);
        o = list.docs[0].object;
        manifest_apply_defaults(o);
        assert_true(json_is_array(json_path(o, "spec.allowedCapabilities")));
        assert_null(json_path(o, "spec.allowedHostPaths"));
        assert_int_equal(policy_spec_decode(o, &s, &err), 0);
        assert_false(s.host_paths_set);
        assert_false(s.executors_set);
        assert_int_equal(s.allowed_capabilities, 0);
        assert_false(s.require_run_as_non_root);
}

static void test_policy_errors(void **state)
{
        (void)state;
        assert_invalid_as(POLICY_HEAD "  allowPrivilged: true\n", "p.yaml",
                          "p.yaml:7:3: spec.allowPrivilged: unknown field, did you mean "
                          "spec.allowPrivileged?");
        assert_invalid_as(POLICY_HEAD "  allowHostPID: \"true\"\n", "p.yaml",
                          "p.yaml:7:3: spec.allowHostPID: must be a boolean (true or false)");
        assert_invalid_as(POLICY_HEAD "  allowedCapabilities: [NET_ADMIN, bogus]\n", "p.yaml",
                          "p.yaml:7:36: spec.allowedCapabilities[1]: unknown capability "
                          "\"bogus\": a Linux capability (NET_ADMIN, CAP_NET_ADMIN, net_admin) "
                          "or ALL");
        assert_invalid_as(POLICY_HEAD "  allowedHostPaths: [srv/a, /b, /b]\n", "p.yaml",
                          "p.yaml:7:22: spec.allowedHostPaths[0]: must be an absolute path\n"
                          "p.yaml:7:33: spec.allowedHostPaths[2]: duplicate path /b (first at "
                          "spec.allowedHostPaths[1])");
        {
                _cleanup_buf_ struct buf b = {0};

                buf_init(&b, 64 * 1024);
                assert_int_equal(buf_append_str(&b, POLICY_HEAD "  allowedHostPaths:\n"), 0);
                for (int i = 0; i <= POLICY_HOST_PATHS_MAX; i++)
                        assert_int_equal(buf_printf(&b, "    - /srv/%d\n", i), 0);
                assert_invalid_as(b.data, "p.yaml",
                                  "p.yaml:7:3: spec.allowedHostPaths: at most 32 paths, found 33");
        }
        {
                _cleanup_buf_ struct buf b = {0};

                buf_init(&b, 64 * 1024);
                assert_int_equal(buf_append_str(&b, POLICY_HEAD "  allowedExecutors:\n"), 0);
                for (int i = 0; i <= POLICY_EXECUTORS_MAX; i++)
                        assert_int_equal(buf_printf(&b, "    - x%d\n", i), 0);
                assert_invalid_as(
                    b.data, "p.yaml",
                    "p.yaml:7:3: spec.allowedExecutors: at most 16 executors, found 17");
        }
        assert_invalid_as(POLICY_HEAD "  allowedExecutors: [Bad_Name, x, x, 3]\n", "p.yaml",
                          "p.yaml:7:22: spec.allowedExecutors[0]: \"Bad_Name\" is not an executor "
                          "type (a DNS-1123 label: docker-exec, an executor plugin's name)\n"
                          "p.yaml:7:35: spec.allowedExecutors[2]: duplicate executor x (first at "
                          "spec.allowedExecutors[1])\n"
                          "p.yaml:7:38: spec.allowedExecutors[3]: must be a string");
        assert_invalid_as("apiVersion: berth/v1\nkind: Policy\nmetadata: {name: default}\n",
                          "p.yaml", "p.yaml:1:1: spec: required");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_capability_names), cmocka_unit_test(test_user_names),
            cmocka_unit_test(test_security_decodes), cmocka_unit_test(test_security_valid),
            cmocka_unit_test(test_security_errors),  cmocka_unit_test(test_policy_kind),
            cmocka_unit_test(test_policy_decodes),   cmocka_unit_test(test_policy_errors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
