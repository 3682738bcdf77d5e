/* The admission of Notifiers: types berthd has no delivery for are
 * refused, and an exec Notifier's program must resolve inside a
 * --notifier-exec-dir (symbolic links and ".." followed), be a regular
 * file and executable. Files in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "admission.h"
#include "test-support.h"

struct fixture {
        char dir[64];
        char exec_dir[128];
        char *dirs[1];
};

static int write_file(const char *path, const char *text, mode_t mode)
{
        FILE *f = fopen(path, "we");

        if (!f)
                return -errno;
        fputs(text, f);
        fclose(f);
        return chmod(path, mode) < 0 ? -errno : 0;
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        char path[256];

        assert_non_null(f);
        strcpy(f->dir, "/tmp/berth-admission-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->exec_dir, sizeof(f->exec_dir), "%s/exec", f->dir);
        assert_int_equal(mkdir(f->exec_dir, 0700), 0);
        snprintf(path, sizeof(path), "%s/page.sh", f->exec_dir);
        assert_int_equal(write_file(path, "#!/bin/sh\nexit 0\n", 0755), 0);
        snprintf(path, sizeof(path), "%s/notes.txt", f->exec_dir);
        assert_int_equal(write_file(path, "not a program\n", 0644), 0);
        snprintf(path, sizeof(path), "%s/outside.sh", f->dir);
        assert_int_equal(write_file(path, "#!/bin/sh\nexit 0\n", 0755), 0);
        /* A link inside that leads out. */
        snprintf(path, sizeof(path), "%s/escape", f->exec_dir);
        assert_int_equal(symlink("../outside.sh", path), 0);
        snprintf(path, sizeof(path), "%s/sub", f->exec_dir);
        assert_int_equal(mkdir(path, 0700), 0);
        f->dirs[0] = f->exec_dir;
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        test_rm_tree(f->dir);
        free(f);
        return 0;
}

/* The errors of admitting a Notifier spec, joined with "; ". */
static char *refusals(const struct admission_policy *p, const char *spec_json)
{
        _cleanup_json_ json_t *obj =
            json_pack("{s:s, s:s, s:{s:s}, s:o}", "apiVersion", "berth/v1", "kind", "Notifier",
                      "metadata", "name", "n", "spec", json_loads(spec_json, 0, NULL));
        _cleanup_(field_errors_release) struct field_errors errs = {0};
        _cleanup_buf_ struct buf b;

        assert_non_null(obj);
        buf_init(&b, 8192);
        int r = admission_check_object(p, NULL, obj, NULL, &errs);
        if (r == 0) {
                assert_int_equal(errs.n, 0);
                return NULL;
        }
        assert_int_equal(r, -EINVAL);
        for (size_t i = 0; i < errs.n; i++)
                assert_int_equal(buf_printf(&b, "%s%s: %s", i ? "; " : "", errs.items[i].field,
                                            errs.items[i].message),
                                 0);
        return buf_steal(&b);
}

static void test_types(void **state)
{
        struct fixture *f = *state;
        const char *const plugins[] = {"pagerduty", NULL};
        struct admission_policy p = {0};
        _cleanup_free_ char *e1 = NULL, *e2 = NULL;

        (void)f;
        assert_null(refusals(&p, "{\"type\": \"webhook\", \"webhook\": {\"url\": \"http://x\"}}"));
        e1 = refusals(&p, "{\"type\": \"pagerduty\", \"pagerduty\": {}}");
        assert_string_equal(e1, "spec.type: unknown notifier type \"pagerduty\": berthd delivers "
                                "webhook, slack, smtp and exec");
        p.notifier_plugins = plugins;
        assert_null(refusals(&p, "{\"type\": \"pagerduty\", \"pagerduty\": {}}"));
        e2 = refusals(&p, "{\"type\": \"opsgenie\", \"opsgenie\": {}}");
        assert_string_equal(e2, "spec.type: unknown notifier type \"opsgenie\": berthd delivers "
                                "webhook, slack, smtp and exec and the plugins it was started "
                                "with");
}

static void test_exec(void **state)
{
        struct fixture *f = *state;
        struct admission_policy none = {0};
        struct admission_policy p = {
            .notifier_exec_dirs = (const char *const *)f->dirs,
            .n_notifier_exec_dirs = 1,
        };
        char spec[512], want[600];

        snprintf(spec, sizeof(spec),
                 "{\"type\": \"exec\", \"exec\": {\"command\": \"%s/page.sh\"}}", f->exec_dir);
        _cleanup_free_ char *disabled = refusals(&none, spec);
        assert_string_equal(disabled, "spec.exec.command: exec notifiers are disabled: berthd "
                                      "runs without --notifier-exec-dir");
        assert_null(refusals(&p, spec));
        /* ".." that stays inside is fine. */
        snprintf(spec, sizeof(spec),
                 "{\"type\": \"exec\", \"exec\": {\"command\": \"%s/sub/../page.sh\"}}",
                 f->exec_dir);
        assert_null(refusals(&p, spec));

        static const struct {
                const char *command, *why;
        } bad[] = {
            {"%s/../outside.sh",
             "%s/../outside.sh is outside the directories exec notifiers may run programs "
             "from (--notifier-exec-dir %s)"},
            {"%s/escape", "%s/escape is outside the directories exec notifiers may run programs "
                          "from (--notifier-exec-dir %s)"},
            {"%s/notes.txt", "%s/notes.txt is not an executable file"},
            {"%s/sub", "%s/sub is not an executable file"},
            {"%s/missing.sh", "%s/missing.sh: No such file or directory"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                char command[256], why[512];

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
                snprintf(command, sizeof(command), bad[i].command, f->exec_dir);
                snprintf(why, sizeof(why), bad[i].why, f->exec_dir, f->exec_dir);
#pragma GCC diagnostic pop
                snprintf(spec, sizeof(spec),
                         "{\"type\": \"exec\", \"exec\": {\"command\": \"%s\"}}", command);
                snprintf(want, sizeof(want), "spec.exec.command: %s", why);
                _cleanup_free_ char *got = refusals(&p, spec);
                assert_non_null(got);
                assert_string_equal(got, want);
        }
}

static void test_command(void **state)
{
        struct fixture *f = *state;
        struct admission_policy p = {
            .notifier_exec_dirs = (const char *const *)f->dirs,
            .n_notifier_exec_dirs = 1,
        };
        char command[256], want[256], msg[512];
        _cleanup_free_ char *path = NULL;

        snprintf(command, sizeof(command), "%s/sub/../page.sh", f->exec_dir);
        assert_int_equal(admission_notifier_command(&p, command, &path, msg, sizeof(msg)), 0);
        _cleanup_free_ char *real_dir = realpath(f->exec_dir, NULL);
        assert_non_null(real_dir);
        snprintf(want, sizeof(want), "%s/page.sh", real_dir);
        assert_string_equal(path, want);

        char *untouched = (char *)"untouched";
        snprintf(command, sizeof(command), "%s/escape", f->exec_dir);
        assert_int_equal(admission_notifier_command(&p, command, &untouched, msg, sizeof(msg)),
                         -EPERM);
        assert_string_equal(untouched, "untouched");
        assert_int_equal(admission_notifier_command(NULL, command, &untouched, msg, sizeof(msg)),
                         -EPERM);
        snprintf(command, sizeof(command), "%s/notes.txt", f->exec_dir);
        assert_int_equal(admission_notifier_command(&p, command, &untouched, msg, sizeof(msg)),
                         -EACCES);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_types, setup, teardown),
            cmocka_unit_test_setup_teardown(test_exec, setup, teardown),
            cmocka_unit_test_setup_teardown(test_command, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
