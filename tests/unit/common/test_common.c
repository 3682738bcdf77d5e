/* Unit tests for common/: errors, buffers, time, durations, quantities, json paths. */
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <stdatomic.h>
#include <time.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common.h"

static void test_error_messages(void **state)
{
        (void)state;
        struct berth_error err;
        berth_error_clear(&err);
        assert_int_equal(berth_error_set(&err, -EINVAL, "bad %s", "thing"), -EINVAL);
        assert_string_equal(err.message, "bad thing");
        assert_int_equal(err.code, -EINVAL);

        berth_error_set_http(&err, -ENOENT, 404, "No such image: x:1", "create container %s", "c1");
        assert_string_equal(err.message, "create container c1: 404 No such image: x:1");
        assert_int_equal(err.http_status, 404);
        berth_error_prefix(&err, "task %s", "hello");
        assert_string_equal(err.message, "task hello: create container c1: 404 No such image: x:1");
        assert_int_equal(err.http_status, 404);

        berth_error_set_http(&err, -EIO, 500, NULL, "list");
        assert_string_equal(err.message, "list: 500");

        /* NULL is accepted everywhere and the code still comes back. */
        assert_int_equal(berth_error_set(NULL, -EIO, "x"), -EIO);
        berth_error_prefix(NULL, "x");
        berth_error_clear(NULL);

        /* Over-long context is truncated, never overflowed. */
        char big[3000];
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        berth_error_set(&err, -EIO, "%s", big);
        assert_int_equal(strlen(err.message), BERTH_ERROR_MESSAGE_MAX - 1);
        berth_error_prefix(&err, "%s", big);
        assert_int_equal(strlen(err.message), BERTH_ERROR_MESSAGE_MAX - 1);
}

static void test_buf_cap(void **state)
{
        (void)state;
        _cleanup_buf_ struct buf b;
        buf_init(&b, 10);
        assert_int_equal(buf_append_str(&b, "hello"), 0);
        assert_int_equal(buf_printf(&b, "%d", 1234), 0);
        assert_string_equal(b.data, "hello1234");
        assert_int_equal(buf_append_str(&b, "ab"), -E2BIG);
        assert_string_equal(b.data, "hello1234");
        assert_int_equal(buf_printf(&b, "%s", "xy"), -E2BIG);
        assert_int_equal(buf_append_str(&b, "x"), 0);
        assert_int_equal(b.len, 10);
        buf_consume(&b, 5);
        assert_string_equal(b.data, "1234x");
        buf_consume(&b, 100);
        assert_int_equal(b.len, 0);
        char *s = buf_steal(&b);
        assert_string_equal(s, "");
        free(s);
        s = buf_steal(&b);
        assert_non_null(s);
        free(s);
}

static void test_strings(void **state)
{
        (void)state;
        char dst[4];
        assert_int_equal(str_copy(dst, sizeof(dst), "abc"), 0);
        assert_int_equal(str_copy(dst, sizeof(dst), "abcd"), -ENAMETOOLONG);
        assert_string_equal(dst, "abc");
        assert_true(str_has_suffix("task.yaml", ".yaml"));
        assert_false(str_has_suffix("a", ".yaml"));
        assert_int_equal(str_edit_distance("imagee", "image", 2), 1);
        assert_int_equal(str_edit_distance("image", "image", 2), 0);
        assert_int_equal(str_edit_distance("command", "args", 2), 3);
        _cleanup_free_ char *p = str_printf("%s-%d", "a", 7);
        assert_string_equal(p, "a-7");
        char **v = calloc(3, sizeof(char *));
        v[0] = strdup("a");
        v[1] = strdup("b");
        assert_int_equal(strv_length(v), 2);
        strv_free(v);
        strv_free(NULL);
}

static void test_rfc3339(void **state)
{
        (void)state;
        int64_t ms;
        assert_int_equal(time_parse_rfc3339("2026-01-01T00:00:00Z", &ms), 0);
        assert_true(ms == 1767225600000LL);
        char out[RFC3339_MAX];
        time_format_rfc3339(ms, out);
        assert_string_equal(out, "2026-01-01T00:00:00Z");
        assert_int_equal(time_parse_rfc3339("2026-01-01T00:00:00.123456789Z", &ms), 0);
        assert_true(ms == 1767225600123LL);
        assert_int_equal(time_parse_rfc3339("2026-01-01T02:00:00+02:00", &ms), 0);
        assert_true(ms == 1767225600000LL);
        assert_int_equal(time_parse_rfc3339("0001-01-01T00:00:00Z", &ms), 0);
        assert_true(ms == 0);
        assert_int_equal(time_parse_rfc3339("2026-13-01T00:00:00Z", &ms), -EINVAL);
        assert_int_equal(time_parse_rfc3339("2026-01-01", &ms), -EINVAL);
        assert_int_equal(time_parse_rfc3339("2026-01-01T00:00:00", &ms), -EINVAL);
        assert_int_equal(time_parse_rfc3339("2026-01-01T00:00:00Zjunk", &ms), -EINVAL);
        assert_int_equal(time_parse_rfc3339(NULL, &ms), -EINVAL);
}

static void test_durations(void **state)
{
        (void)state;
        int64_t ms;
        assert_int_equal(duration_parse("90s", &ms), 0);
        assert_true(ms == 90000);
        assert_int_equal(duration_parse("5m", &ms), 0);
        assert_true(ms == 300000);
        assert_int_equal(duration_parse("1h30m", &ms), 0);
        assert_true(ms == 5400000);
        assert_int_equal(duration_parse("500ms", &ms), 0);
        assert_true(ms == 500);
        assert_int_equal(duration_parse("1.5h", &ms), 0);
        assert_true(ms == 5400000);
        assert_int_equal(duration_parse("0", &ms), 0);
        assert_true(ms == 0);
        assert_int_equal(duration_parse("2d", &ms), 0);
        assert_true(ms == 172800000);
        assert_int_equal(duration_parse("10", &ms), -EINVAL);
        assert_int_equal(duration_parse("", &ms), -EINVAL);
        assert_int_equal(duration_parse("5x", &ms), -EINVAL);
        assert_int_equal(duration_parse("-5s", &ms), -EINVAL);
        assert_int_equal(duration_parse("99999999999999999h", &ms), -ERANGE);

        char out[32];
        duration_format(5400000, out, sizeof(out));
        assert_string_equal(out, "1h30m");
        duration_format(45000, out, sizeof(out));
        assert_string_equal(out, "45s");
        duration_format(250, out, sizeof(out));
        assert_string_equal(out, "250ms");
        duration_format(1500, out, sizeof(out));
        assert_string_equal(out, "1.500s");
        assert_int_equal(duration_parse(out, &ms), 0);
        assert_true(ms == 1500);

        age_format(12000, out, sizeof(out));
        assert_string_equal(out, "12s");
        age_format(5 * 60000, out, sizeof(out));
        assert_string_equal(out, "5m");
        age_format(3 * 3600000LL, out, sizeof(out));
        assert_string_equal(out, "3h");
        age_format(3 * 86400000LL, out, sizeof(out));
        assert_string_equal(out, "3d");
        age_format(-5, out, sizeof(out));
        assert_string_equal(out, "0s");
}

static void test_quantities(void **state)
{
        (void)state;
        int64_t v;
        assert_int_equal(quantity_parse_bytes("256Mi", &v), 0);
        assert_true(v == 256LL * 1024 * 1024);
        assert_int_equal(quantity_parse_bytes("1G", &v), 0);
        assert_true(v == 1000000000LL);
        assert_int_equal(quantity_parse_bytes("1.5Gi", &v), 0);
        assert_true(v == 1610612736LL);
        assert_int_equal(quantity_parse_bytes("1024", &v), 0);
        assert_true(v == 1024);
        assert_int_equal(quantity_parse_bytes("12Q", &v), -EINVAL);
        assert_int_equal(quantity_parse_bytes("Mi", &v), -EINVAL);
        assert_int_equal(quantity_parse_bytes("-1", &v), -EINVAL);
        assert_int_equal(quantity_parse_bytes("1.2.3", &v), -EINVAL);
        assert_int_equal(quantity_parse_bytes("100Ei", &v), -ERANGE);

        assert_int_equal(quantity_parse_millicpu("500m", &v), 0);
        assert_true(v == 500);
        assert_int_equal(quantity_parse_millicpu("0.5", &v), 0);
        assert_true(v == 500);
        assert_int_equal(quantity_parse_millicpu("2", &v), 0);
        assert_true(v == 2000);
        assert_int_equal(quantity_parse_millicpu("2x", &v), -EINVAL);
        assert_int_equal(quantity_parse_millicpu("", &v), -EINVAL);
}

static void test_json_paths(void **state)
{
        (void)state;
        _cleanup_json_ json_t *o =
            json_loads("{\"metadata\":{\"name\":\"hello\",\"generation\":3},\"spec\":{}}", 0, NULL);
        assert_non_null(o);
        assert_string_equal(json_path_string(o, "metadata.name"), "hello");
        assert_true(json_path_int(o, "metadata.generation", -1) == 3);
        assert_true(json_path_int(o, "metadata.missing", -1) == -1);
        assert_null(json_path(o, "metadata.name.deeper"));
        assert_null(json_path_string(o, "metadata.generation"));
        assert_int_equal(json_path_set_new(o, "status.phase", json_string("Running")), 0);
        assert_string_equal(json_path_string(o, "status.phase"), "Running");
        assert_int_equal(json_path_set_new(o, "metadata.name.x", json_string("y")), -EINVAL);
        assert_int_equal(json_path_set_new(o, "a..b", json_string("y")), -EINVAL);
}

static void test_log_levels(void **state)
{
        (void)state;
        enum log_level l;
        enum log_format f;
        assert_int_equal(log_level_from_string("warn", &l), 0);
        assert_int_equal(l, LOG_LEVEL_WARN);
        assert_int_equal(log_level_from_string("loud", &l), -EINVAL);
        assert_int_equal(log_format_from_string("json", &f), 0);
        assert_int_equal(f, LOG_FORMAT_JSON);
        assert_int_equal(log_format_from_string("xml", &f), -EINVAL);

        FILE *out = tmpfile();
        assert_non_null(out);
        log_setup(LOG_LEVEL_INFO, LOG_FORMAT_JSON, out);
        log_debug("hidden");
        log_info("reconcile failed key=%s", "a");
        rewind(out);
        char line[512] = "";
        assert_non_null(fgets(line, sizeof(line), out));
        _cleanup_json_ json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        assert_string_equal(json_path_string(j, "level"), "info");
        assert_string_equal(json_path_string(j, "msg"), "reconcile failed key=a");
        assert_null(fgets(line, sizeof(line), out));
        log_setup(LOG_LEVEL_INFO, LOG_FORMAT_TEXT, NULL);
        fclose(out);
}

static void *recv_blocked(void *userdata)
{
        int fd = *(int *)userdata;
        char c;
        return (void *)(intptr_t)recv(fd, &c, 1, 0);
}

/* A recv blocked on the slot's socket returns when the slot is interrupted,
 * and no socket opens after the interrupt. */
static void test_socket_slot(void **state)
{
        (void)state;
        struct socket_slot slot;
        int listener = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        snprintf(addr.sun_path, sizeof(addr.sun_path), "/tmp/berth-test-slot-%d", getpid());
        unlink(addr.sun_path);
        assert_int_equal(bind(listener, (struct sockaddr *)&addr, sizeof(addr)), 0);
        assert_int_equal(listen(listener, 4), 0);

        socket_slot_init(&slot);
        int fd = socket_slot_open(&slot, AF_UNIX, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
        int peer = accept(listener, NULL, NULL);
        assert_true(peer >= 0);
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, recv_blocked, &fd), 0);
        socket_slot_interrupt(&slot); /* the peer stays open: only the interrupt ends it */
        void *got;
        assert_int_equal(pthread_join(t, &got), 0);
        assert_int_equal((intptr_t)got, 0);
        assert_int_equal(socket_slot_close(&slot, fd), 0);
        assert_int_equal(slot.fd, -1);

        assert_int_equal(socket_slot_open(&slot, AF_UNIX, SOCK_STREAM, 0), -1);
        assert_int_equal(errno, EINTR);
        socket_slot_destroy(&slot);
        close(peer);
        close(listener);
        unlink(addr.sun_path);
}

static void test_random_uid(void **state)
{
        (void)state;
        char a[RANDOM_UID_LEN], b[RANDOM_UID_LEN];
        assert_int_equal(random_uid(a), 0);
        assert_int_equal(random_uid(b), 0);
        assert_int_equal(strlen(a), 32);
        assert_int_equal(strspn(a, "0123456789abcdef"), 32);
        assert_string_not_equal(a, b);
}

/* ---- clock watch, mkdir_p, stale sockets ------------------------------- */

static atomic_int clock_sets;

static void on_set(void *userdata)
{
        (void)userdata;
        atomic_fetch_add(&clock_sets, 1);
}

/* Setting the wall clock (here: forward by 1 ms, which needs root) wakes the
 * watch; nothing else does. */
static void test_clock_watch(void **state)
{
        struct clock_watch *w = NULL;
        struct timespec ts;

        (void)state;
        assert_int_equal(clock_watch_start(on_set, NULL, &w), 0);
        sleep_ms(50);
        assert_int_equal(atomic_load(&clock_sets), 0);
        if (geteuid() == 0) {
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 1000000;
                if (ts.tv_nsec >= 1000000000) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000;
                }
                if (clock_settime(CLOCK_REALTIME, &ts) == 0) {
                        for (int i = 0; i < 200 && atomic_load(&clock_sets) == 0; i++)
                                sleep_ms(10);
                        assert_int_equal(atomic_load(&clock_sets), 1);
                }
        }
        clock_watch_stop(w);
        clock_watch_stop(NULL);
}

static void test_mkdir_p_and_stale_socket(void **state)
{
        char dir[] = "/tmp/berth-common-XXXXXX";
        struct sockaddr_un sa = {.sun_family = AF_UNIX};

        (void)state;
        assert_non_null(mkdtemp(dir));
        _cleanup_free_ char *deep = str_printf("%s/a/b/c", dir);
        _cleanup_free_ char *file = str_printf("%s/file", dir);
        _cleanup_free_ char *sock = str_printf("%s/s.sock", dir);
        assert_int_equal(mkdir_p(deep, 0700), 0);
        assert_int_equal(mkdir_p(deep, 0700), 0); /* exists: fine */
        FILE *f = fopen(file, "w");
        assert_non_null(f);
        fclose(f);
        assert_int_equal(mkdir_p(file, 0700), -ENOTDIR);

        assert_int_equal(unix_socket_clear_stale(sock), 0); /* absent */
        assert_int_equal(unix_socket_clear_stale(file), -EEXIST);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        str_copy(sa.sun_path, sizeof(sa.sun_path), sock);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(fd, 1), 0);
        assert_int_equal(unix_socket_clear_stale(sock), -EADDRINUSE);
        close(fd); /* nobody listens any more: a stale file */
        assert_int_equal(unix_socket_clear_stale(sock), 1);
        assert_int_equal(access(sock, F_OK), -1);
        char long_path[200];
        memset(long_path, 'x', sizeof(long_path) - 1);
        long_path[sizeof(long_path) - 1] = '\0';
        assert_int_equal(unix_socket_clear_stale(long_path), -ENAMETOOLONG);

        _cleanup_free_ char *cmd = str_printf("rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_clock_watch),    cmocka_unit_test(test_mkdir_p_and_stale_socket),
            cmocka_unit_test(test_error_messages), cmocka_unit_test(test_buf_cap),
            cmocka_unit_test(test_strings),        cmocka_unit_test(test_random_uid),
            cmocka_unit_test(test_socket_slot),    cmocka_unit_test(test_rfc3339),
            cmocka_unit_test(test_durations),      cmocka_unit_test(test_quantities),
            cmocka_unit_test(test_json_paths),     cmocka_unit_test(test_log_levels),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
