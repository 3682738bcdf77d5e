/* Unit tests of `berth auth`: whoami's text and -o, and can-i's question
 * (resource names in any spelling, namespace, name, --as) and its answer as
 * output and exit status, errors included. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cli-internal.h"
#include "cli-test.h"

#define WHOAMI "/apis/berth/v1/auth/whoami"
#define CAN_I  "/apis/berth/v1/auth/can-i"
#define YES    "{\"allowed\":true,\"reason\":\"RoleBinding team-a/devs grants Role dev\"}"
#define NO     "{\"allowed\":false,\"reason\":\"no rule allows it\"}"

static void test_whoami(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};

        fake_reset(f);
        fake_route(f, "GET", WHOAMI, 200,
                   "{\"user\":\"alice\",\"groups\":[\"dev\",\"ops\"],\"authenticatedBy\":"
                   "\"token\"}");
        run(&c, "--server", f->url, "auth", "whoami", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "user: alice\ngroups: dev, ops\nauthenticated by: token\n");
        assert_string_equal(c.err, "");

        run(&c, "--server", f->url, "auth", "whoami", "-o", "json", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "{\n    \"user\": \"alice\",\n    \"groups\": [\n"
                                   "        \"dev\",\n        \"ops\"\n    ],\n"
                                   "    \"authenticatedBy\": \"token\"\n}\n");
        run(&c, "--server", f->url, "auth", "whoami", "-o", "yaml", NULL);
        assert_int_equal(c.rc, 0);
        assert_true(str_has_prefix(c.out, "user: alice\ngroups:\n"));

        fake_reset(f);
        fake_route(f, "GET", WHOAMI, 200,
                   "{\"user\":\"system:admin\",\"groups\":[\"system:admins\"],"
                   "\"authenticatedBy\":\"unix\"}");
        run(&c, "--server", f->url, "auth", "whoami", NULL);
        assert_string_equal(c.out, "user: system:admin\ngroups: system:admins\n"
                                   "authenticated by: unix\n");

        /* Errors. */
        fake_reset(f);
        fake_route(f, "GET", WHOAMI, 200, "[]");
        run(&c, "--server", f->url, "auth", "whoami", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "error: invalid response from berthd: not an object\n");
        fake_reset(f);
        run(&c, "--server", f->url, "auth", "whoami", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "Error from server (NotFound): not found\n");
        run(&c, "--server", f->url, "auth", "whoami", "-o", "wide", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "unknown output format \"wide\": want json or yaml"));
        run(&c, "--server", f->url, "auth", "whoami", "extra", NULL);
        assert_int_equal(c.rc, 2);
        capture_release(&c);
}

static void test_can_i_questions(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        static const struct {
                const char *args[10];
                const char *path;
        } cases[] = {
            {{"create", "tasks"}, CAN_I "?verb=create&resource=tasks&namespace=default"},
            /* Any spelling of a kind. */
            {{"create", "tk"}, CAN_I "?verb=create&resource=tasks&namespace=default"},
            {{"get", "Workflow", "etl"},
             CAN_I "?verb=get&resource=workflows&namespace=default&name=etl"},
            {{"delete", "workflow/etl", "-n", "team-a"},
             CAN_I "?verb=delete&resource=workflows&namespace=team-a&name=etl"},
            {{"-n", "team-a", "list", "ct"},
             CAN_I "?verb=list&resource=crontasks&namespace=team-a"},
            {{"list", "svc", "-A"}, CAN_I "?verb=list&resource=services"},
            /* Cluster-scoped: no namespace. */
            {{"create", "token", "-n", "team-a"}, CAN_I "?verb=create&resource=tokens"},
            /* Every resource, and one this berth does not know. */
            {{"*", "*"}, CAN_I "?verb=%2A&resource=%2A&namespace=default"},
            {{"get", "frobs"}, CAN_I "?verb=get&resource=frobs&namespace=default"},
            /* On behalf of someone. */
            {{"get", "tasks", "--as", "alice@example.com", "--as-group", "dev", "--as-group",
              "system:ops"},
             CAN_I "?verb=get&resource=tasks&namespace=default&as=alice%40example.com&"
                   "asGroup=dev&asGroup=system%3Aops"},
        };

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                const char *const *a = cases[i].args;
                fake_reset(f);
                fake_route(f, "GET", cases[i].path, 200, YES);
                run(&c, "--server", f->url, "auth", "can-i", a[0], a[1], a[2], a[3], a[4], a[5],
                    a[6], a[7], a[8], a[9], NULL);
                if (c.rc != 0 || !streq(c.out, "yes\n"))
                        fail_msg("case %zu: rc %d, path %s, stderr %s", i, c.rc, f->last_path,
                                 c.err);
        }
        capture_release(&c);
}

static void test_can_i_answers(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        const char *q = CAN_I "?verb=delete&resource=tasks&namespace=default";

        fake_reset(f);
        fake_route(f, "GET", q, 200, NO);
        run(&c, "--server", f->url, "auth", "can-i", "delete", "tasks", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.out, "no\n");
        assert_string_equal(c.err, "");
        run(&c, "--server", f->url, "auth", "can-i", "delete", "tasks", "--reason", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.out, "no\nno rule allows it\n");
        run(&c, "--server", f->url, "auth", "can-i", "delete", "tasks", "-q", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.out, "");

        fake_reset(f);
        fake_route(f, "GET", q, 200, YES);
        run(&c, "--server", f->url, "auth", "can-i", "delete", "tasks", "--reason", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "yes\nRoleBinding team-a/devs grants Role dev\n");

        /* No answer is no "no": exit 2. */
        fake_reset(f);
        fake_route(f, "GET", CAN_I "?verb=frob&resource=tasks&namespace=default", 400,
                   "{\"kind\":\"Status\",\"code\":400,\"reason\":\"BadRequest\",\"message\":"
                   "\"unknown verb \\\"frob\\\"\"}");
        run(&c, "--server", f->url, "auth", "can-i", "frob", "tasks", NULL);
        assert_int_equal(c.rc, 2);
        assert_string_equal(c.out, "");
        assert_string_equal(c.err, "Error from server (BadRequest): unknown verb \"frob\"\n");

        fake_reset(f);
        fake_route(f, "GET", CAN_I "?verb=get&resource=tasks&namespace=default&as=bob", 403,
                   "{\"kind\":\"Status\",\"code\":403,\"reason\":\"Forbidden\",\"message\":"
                   "\"only admins may ask --as\"}");
        run(&c, "--server", f->url, "auth", "can-i", "get", "tasks", "--as", "bob", NULL);
        assert_int_equal(c.rc, 2);
        assert_string_equal(c.err, "Error from server (Forbidden): only admins may ask --as\n");

        fake_reset(f);
        fake_route(f, "GET", q, 200, "{\"reason\":\"x\"}");
        run(&c, "--server", f->url, "auth", "can-i", "delete", "tasks", NULL);
        assert_int_equal(c.rc, 2);
        assert_string_equal(c.err, "error: invalid response from berthd: no allowed\n");

        run(&c, "--server", "unix:///nonexistent/berth.sock", "auth", "can-i", "get", "tasks",
            NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "cannot connect to berthd"));

        /* Usage errors. */
        static const struct {
                const char *args[6];
                const char *err;
        } usage[] = {
            {{"get"}, "error: want VERB RESOURCE [NAME]"},
            {{"get", "tasks", "a", "b"}, "error: unexpected argument \"b\""},
            {{"get", "task/a", "b"}, "error: give the name once"},
            {{"get", "task/"}, "error: invalid argument \"task/\": want KIND/NAME"},
            {{"get", "tasks", "--as-group", "dev"}, "error: --as-group needs --as USER"},
            {{"get", "tasks", "--as", ""}, "error: --as may not be empty"},
        };
        fake_reset(f);
        for (size_t i = 0; i < ARRAY_SIZE(usage); i++) {
                const char *const *a = usage[i].args;
                run(&c, "--server", f->url, "auth", "can-i", a[0], a[1], a[2], a[3], a[4], a[5],
                    NULL);
                if (c.rc != 2 || !strstr(c.err, usage[i].err) ||
                    !strstr(c.err, "See 'berth auth can-i --help' for usage."))
                        fail_msg("case %zu: rc %d, stderr: %s", i, c.rc, c.err);
        }
        assert_int_equal(f->requests, 0);
        run(&c, "auth", "who", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "error: unknown auth command \"who\": want whoami or can-i"));
        capture_release(&c);
}

static void test_help(void **state)
{
        (void)state;
        struct capture c = {0};

        run(&c, "auth", "--help", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "  whoami   the user, groups"));
        run(&c, "auth", "can-i", "--help", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "Usage:\n  berth auth can-i VERB RESOURCE [NAME]"));
        assert_non_null(strstr(c.out, "Exit status: 0 yes, 1 no, 2"));
        assert_non_null(strstr(c.out, "--as-group GROUP"));
        run(&c, "auth", "whoami", "--help", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "-o, --output FORMAT"));
        run(&c, "--help", NULL);
        assert_non_null(strstr(c.out, "  auth       Show who you are to berthd"));
        capture_release(&c);
}

int main(void)
{
        const struct CMUnitTest pure[] = {
            cmocka_unit_test(test_help),
        };
        const struct CMUnitTest served[] = {
            cmocka_unit_test(test_whoami),
            cmocka_unit_test(test_can_i_questions),
            cmocka_unit_test(test_can_i_answers),
        };
        cli_test_env();
        unsetenv("NO_COLOR");
        int failed = cmocka_run_group_tests_name("cmd-auth", pure, NULL, NULL);
        failed += cmocka_run_group_tests_name("cmd-auth-served", served, fake_setup, fake_teardown);
        return failed;
}
