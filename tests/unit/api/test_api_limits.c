/* Unit tests for api/'s identity decision, token bucket, audit line format and
 * audit log rotation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>

#include "api-internal.h"

static void test_peer_is_admin(void **state)
{
        (void)state;
        gid_t groups[] = {10, 20, 30};

        assert_true(api_peer_is_admin(0, 1234, NULL, 0, 999));     /* root */
        assert_true(api_peer_is_admin(1000, 999, NULL, 0, 999));   /* primary group */
        assert_true(api_peer_is_admin(1000, 1000, groups, 3, 30)); /* supplementary */
        assert_false(api_peer_is_admin(1000, 1000, groups, 3, 999));
        assert_false(api_peer_is_admin(65534, 65534, NULL, 0, 0));  /* nobody, root group */
        assert_false(api_peer_is_admin(1000, 1000, groups, 0, 10)); /* n_groups honoured */
}

static void test_bucket(void **state)
{
        (void)state;
        struct api_bucket b = {0};
        int64_t t = 1000000;

        /* Starts full: burst 10 at 5/s. */
        for (int i = 0; i < 10; i++)
                assert_int_equal(api_bucket_take(&b, 5, 10, t), 0);
        int64_t wait = api_bucket_take(&b, 5, 10, t);
        assert_int_equal(wait, 200); /* one token every 200 ms */
        assert_true(api_bucket_take(&b, 5, 10, t + 199) > 0);
        assert_int_equal(api_bucket_take(&b, 5, 10, t + 200), 0);
        assert_true(api_bucket_take(&b, 5, 10, t + 200) > 0);
        /* Refills to burst, not beyond. */
        t += 3600 * 1000;
        for (int i = 0; i < 10; i++)
                assert_int_equal(api_bucket_take(&b, 5, 10, t), 0);
        assert_true(api_bucket_take(&b, 5, 10, t) > 0);
        /* A clock that goes back does not add tokens. */
        assert_true(api_bucket_take(&b, 5, 10, t - 5000) > 0);
        /* Slow rates wait longer than a second. */
        struct api_bucket slow = {0};
        assert_int_equal(api_bucket_take(&slow, 0.5, 1, 0), 0);
        assert_int_equal(api_bucket_take(&slow, 0.5, 1, 0), 2000);
}

static void test_rate_limiter(void **state)
{
        (void)state;
        struct api_rate_limiter l = {.rate = 1}; /* burst 2 */

        assert_int_equal(api_rate_limit_take(&l, "system:admin", 0), 0);
        assert_int_equal(api_rate_limit_take(&l, "system:admin", 0), 0);
        assert_true(api_rate_limit_take(&l, "system:admin", 0) > 0);
        /* Another user has a bucket of its own. */
        assert_int_equal(api_rate_limit_take(&l, "system:anonymous", 0), 0);
        assert_int_equal(l.n, 2);
        /* rate 0: no limit. */
        struct api_rate_limiter off = {0};
        for (int i = 0; i < 1000; i++)
                assert_int_equal(api_rate_limit_take(&off, "x", 0), 0);
        /* A full table shares its last bucket instead of growing. */
        struct api_rate_limiter many = {.rate = 1000};
        char name[32];
        for (int i = 0; i < API_RATE_USERS_MAX + 5; i++) {
                snprintf(name, sizeof(name), "user%d", i);
                assert_int_equal(api_rate_limit_take(&many, name, 0), 0);
        }
        assert_int_equal(many.n, API_RATE_USERS_MAX);
}

static void test_audit_format(void **state)
{
        (void)state;
        static const char groups[1][API_IDENTITY_NAME_MAX] = {API_GROUP_ADMINS};
        struct api_audit_event ev = {
            .time_ms = 1700000000123,
            .user = "system:admin",
            .groups = groups,
            .n_groups = 1,
            .source = "unix:pid=42,uid=0",
            .verb = "create",
            .resource = "tasks",
            .ns = "default",
            .name = "hello \"quoted\"",
            .code = 201,
            .request_id = "18bcfe56800-1",
        };
        char *line = api_audit_format(&ev);
        assert_non_null(line);
        assert_string_equal(line,
                            "{\"time\":\"2023-11-14T22:13:20.123Z\",\"user\":\"system:admin\","
                            "\"groups\":[\"system:admins\"],\"source\":\"unix:pid=42,uid=0\","
                            "\"verb\":\"create\",\"resource\":\"tasks\",\"namespace\":\"default\","
                            "\"name\":\"hello \\\"quoted\\\"\",\"code\":201,"
                            "\"requestID\":\"18bcfe56800-1\"}\n");
        free(line);

        /* Not admin: no groups; NULL strings are "". */
        struct api_audit_event anon = {.time_ms = 0, .user = "system:anonymous", .code = 429};
        line = api_audit_format(&anon);
        assert_non_null(line);
        assert_non_null(strstr(line, "\"groups\":[]"));
        assert_non_null(strstr(line, "\"name\":\"\""));
        assert_non_null(strstr(line, "\"time\":\"1970-01-01T00:00:00.000Z\""));
        assert_non_null(strstr(line, "\"code\":429"));
        free(line);
}

static int64_t file_size(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

static void test_audit_rotation(void **state)
{
        (void)state;
        char dir[] = "/tmp/berth-audit-XXXXXX";
        assert_non_null(mkdtemp(dir));
        _cleanup_free_ char *path = str_printf("%s/audit.log", dir);
        struct api_audit *a = NULL;
        char line[101];
        memset(line, 'x', 99);
        line[99] = '\n';
        line[100] = '\0';

        assert_int_equal(api_audit_open(path, 0, 2, &a), -EINVAL);
        assert_int_equal(api_audit_open(path, 250, 2, &a), 0);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);

        /* 250 bytes hold two lines of 100; the third starts PATH.1. */
        for (int i = 0; i < 2; i++)
                assert_int_equal(api_audit_write(a, line, 100), 0);
        assert_int_equal(file_size(path), 200);
        assert_int_equal(api_audit_write(a, line, 100), 0);
        _cleanup_free_ char *p1 = str_printf("%s.1", path);
        _cleanup_free_ char *p2 = str_printf("%s.2", path);
        _cleanup_free_ char *p3 = str_printf("%s.3", path);
        assert_int_equal(file_size(path), 100);
        assert_int_equal(file_size(p1), 200);
        assert_int_equal(file_size(p2), -1);
        /* Two more rotations: .1 → .2, and the oldest is dropped (max 2 files). */
        for (int i = 0; i < 4; i++)
                assert_int_equal(api_audit_write(a, line, 100), 0);
        assert_int_equal(file_size(path), 100);
        assert_int_equal(file_size(p1), 200);
        assert_int_equal(file_size(p2), 200);
        assert_int_equal(file_size(p3), -1);
        /* A line larger than max_size gets a file of its own. */
        char big[400];
        memset(big, 'y', sizeof(big));
        assert_int_equal(api_audit_write(a, big, sizeof(big)), 0);
        assert_int_equal(file_size(path), 400);
        api_audit_free(a);

        /* Reopening appends; max_files 0 truncates instead of keeping files. */
        assert_int_equal(api_audit_open(path, 450, 0, &a), 0);
        assert_int_equal(api_audit_write(a, line, 100), 0);
        assert_int_equal(file_size(path), 100);
        api_audit_free(a);
        api_audit_free(NULL);

        unlink(path);
        unlink(p1);
        unlink(p2);
        assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_peer_is_admin),  cmocka_unit_test(test_bucket),
            cmocka_unit_test(test_rate_limiter),   cmocka_unit_test(test_audit_format),
            cmocka_unit_test(test_audit_rotation),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
