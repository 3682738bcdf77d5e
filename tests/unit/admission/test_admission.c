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

/* The first error for the object, "field: message", or "" when it passes. */
static char *first_error(const struct admission_policy *p, const char *json)
{
        json_error_t jerr;
        json_t *o = json_loads(json, 0, &jerr);
        struct field_errors errs = {0};
        char *out;

        if (!o)
                fail_msg("bad test JSON: %s: %s", jerr.text, json);
        int r = admission_check_object(p, o, NULL, &errs);
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

static void test_check_container_and_defaults(void **state)
{
        struct admission_policy p = {0};
        json_t *spec = json_pack("{s:s, s:[{s:s, s:s}]}", "image", "b", "volumes", "mountPath",
                                 "/h", "hostPath", "/etc");
        json_t *hc = json_object();
        char msg[256];

        (void)state;
        assert_int_equal(admission_check_container(&p, spec, msg, sizeof(msg)), -EPERM);
        assert_true(str_has_prefix(msg, "spec.volumes[0].hostPath: host path mounts are not"));
        json_object_del(spec, "volumes");
        assert_int_equal(admission_check_container(&p, spec, msg, sizeof(msg)), 0);

        assert_int_equal(admission_container_defaults(hc), 0);
        assert_string_equal(
            json_string_value(json_array_get(json_object_get(hc, "SecurityOpt"), 0)),
            "no-new-privileges");
        assert_string_equal(json_string_value(json_array_get(json_object_get(hc, "CapDrop"), 0)),
                            "NET_RAW");
        assert_int_equal(json_integer_value(json_object_get(hc, "PidsLimit")),
                         ADMISSION_DEFAULT_PIDS_LIMIT);
        /* a limit the spec set stays */
        json_object_set_new(hc, "PidsLimit", json_integer(50));
        assert_int_equal(admission_container_defaults(hc), 0);
        assert_int_equal(json_integer_value(json_object_get(hc, "PidsLimit")), 50);
        json_decref(spec);
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
            cmocka_unit_test(test_check_container_and_defaults),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
