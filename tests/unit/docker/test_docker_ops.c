/* Unit tests for the operation names and status classes of Docker calls in
 * berth_docker_requests_total: every call the client makes has a name of
 * its own, and no id or unknown path word becomes a label value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "docker-internal.h"

static void test_operations(void **state)
{
        (void)state;
        static const struct {
                const char *method, *path, *op;
        } cases[] = {
            {"POST", "/containers/create", "create"},
            {"POST", "/containers/0123abcd/start", "start"},
            {"POST", "/containers/0123abcd/kill", "kill"},
            {"POST", "/containers/0123abcd/wait", "wait"},
            {"DELETE", "/containers/0123abcd", "remove"},
            {"GET", "/containers/0123abcd/json", "inspect"},
            {"GET", "/containers/json", "list"},
            {"GET", "/containers/json/json", "inspect"}, /* a container named json */
            {"GET", "/containers/create/json", "inspect"},
            {"GET", "/containers/0123abcd/logs", "logs"},
            {"GET", "/containers/0123abcd/archive", "archive"},
            {"GET", "/containers/0123abcd/stats", "stats"},
            {"GET", "/events", "events"},
            {"POST", "/images/create", "pull"},
            {"GET", "/images/busybox%3Alatest/json", "image_inspect"},
            {"GET", "/images/library/busybox/json", "image_inspect"},
            {"DELETE", "/images/busybox", "image_remove"},
            {"POST", "/build", "build"},
            {"POST", "/volumes/create", "volume_create"},
            {"DELETE", "/volumes/berth.ws", "volume_remove"},
            {"GET", "/volumes", "volume_list"},
            {"GET", "/version", "version"},
            {"GET", "/info", "info"},
            {NULL, "/version", "version"}, /* NULL is GET, as docker_call reads it */
            /* Nothing the client does not call, and never an id. */
            {"GET", "/containers/0123abcd/secret-word", "other"},
            {"GET", "/containers/0123abcd/logs/x", "other"},
            {"PUT", "/containers/create", "other"},
            {"GET", "/containers/", "other"},
            {"DELETE", "/containers/", "other"},
            {"GET", "/swarm", "other"},
            {"GET", "/volumesx", "other"},
            {"GET", NULL, "other"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const char *op = docker_operation(cases[i].method, cases[i].path);
                if (!streq(op, cases[i].op))
                        fail_msg("%s %s: %s, want %s", cases[i].method ? cases[i].method : "NULL",
                                 cases[i].path ? cases[i].path : "NULL", op, cases[i].op);
        }
}

static void test_code_classes(void **state)
{
        (void)state;
        assert_string_equal(docker_code_class(0, 200), "2xx");
        assert_string_equal(docker_code_class(0, 204), "2xx");
        assert_string_equal(docker_code_class(0, 304), "3xx");
        assert_string_equal(docker_code_class(0, 404), "4xx");
        assert_string_equal(docker_code_class(0, 409), "4xx");
        assert_string_equal(docker_code_class(0, 500), "5xx");
        assert_string_equal(docker_code_class(-ECONNREFUSED, 0), "error");
        assert_string_equal(docker_code_class(-E2BIG, 200), "error"); /* answered, not read */
        assert_string_equal(docker_code_class(0, 0), "error");
        assert_string_equal(docker_code_class(0, 600), "error");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_operations),
            cmocka_unit_test(test_code_classes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
