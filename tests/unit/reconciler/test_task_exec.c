/* Unit tests of the docker-exec runner's files: the pure helpers (a uid as a
 * directory name, the size cap, where the last lines begin, a process's
 * environment and start time), and, without Docker, what the runner does
 * with the files of attempts: streaming (whole, tail, follow of an attempt
 * that no longer runs, cancel), collecting those of Tasks gone, removing a
 * Task's with its key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reconciler-internal.h"

#define UID1 "0123456789abcdef0123456789abcdef"
#define UID2 "fedcba9876543210fedcba9876543210"

static void test_uid_valid(void **state)
{
        (void)state;
        assert_true(exec_uid_valid(UID1));
        assert_true(exec_uid_valid("a-b_C"));
        assert_false(exec_uid_valid(NULL));
        assert_false(exec_uid_valid(""));
        assert_false(exec_uid_valid("."));
        assert_false(exec_uid_valid(".."));
        assert_false(exec_uid_valid("a/b"));
        assert_false(exec_uid_valid("a b"));
        char long_uid[EXEC_UID_MAX + 1];
        memset(long_uid, 'a', EXEC_UID_MAX);
        long_uid[EXEC_UID_MAX] = '\0';
        assert_false(exec_uid_valid(long_uid));
        long_uid[EXEC_UID_MAX - 1] = '\0';
        assert_true(exec_uid_valid(long_uid));
}

static void test_log_fit(void **state)
{
        (void)state;
        assert_int_equal(exec_log_fit(0, 10, 100), 10);
        assert_int_equal(exec_log_fit(95, 10, 100), 5);
        assert_int_equal(exec_log_fit(100, 10, 100), 0);
        assert_int_equal(exec_log_fit(150, 10, 100), 0);
        assert_int_equal(exec_log_fit(90, 10, 100), 10);
        assert_int_equal(exec_log_fit(0, 0, 100), 0);
}

static int memfile(const char *content, size_t len)
{
        int fd = memfd_create("tail", MFD_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, content, len), (ssize_t)len);
        return fd;
}

static uint64_t tail_of(const char *content, int lines)
{
        int fd = memfile(content, strlen(content));
        uint64_t off = 999;
        assert_int_equal(exec_log_tail_offset(fd, strlen(content), lines, &off), 0);
        close(fd);
        return off;
}

static void test_tail_offset(void **state)
{
        (void)state;
        const char *s = "a\nbb\nccc\n";
        assert_int_equal(tail_of(s, -1), 0);
        assert_int_equal(tail_of(s, 0), strlen(s));
        assert_int_equal(tail_of(s, 1), 5);  /* "ccc\n" */
        assert_int_equal(tail_of(s, 2), 2);  /* "bb\nccc\n" */
        assert_int_equal(tail_of(s, 3), 0);  /* all */
        assert_int_equal(tail_of(s, 10), 0); /* fewer lines than asked */
        /* A last line without its newline counts. */
        assert_int_equal(tail_of("a\nbb", 1), 2);
        assert_int_equal(tail_of("a\nbb", 2), 0);
        assert_int_equal(tail_of("", 3), 0);
        assert_int_equal(tail_of("\n\n", 1), 1);

        /* Across the read blocks (16 KiB): the last 2 of 4000 lines. */
        struct buf b;
        buf_init(&b, 1 << 20);
        for (int i = 0; i < 4000; i++)
                assert_int_equal(buf_printf(&b, "line %04d\n", i), 0);
        int fd = memfile(b.data, b.len);
        uint64_t off;
        assert_int_equal(exec_log_tail_offset(fd, b.len, 2, &off), 0);
        assert_string_equal(b.data + off, "line 3998\nline 3999\n");
        /* A file shorter than said is an error, not a wrong offset. */
        assert_int_equal(exec_log_tail_offset(fd, b.len + 100, 2, &off), -EIO);
        close(fd);
        buf_release(&b);
}

static void test_environ_has(void **state)
{
        (void)state;
        const char env[] = "PATH=/bin\0BERTH_EXEC=u.1\0HOME=/";
        size_t len = sizeof(env) - 1; /* the last entry without its NUL */
        assert_true(exec_environ_has(env, len, "BERTH_EXEC=u.1"));
        assert_true(exec_environ_has(env, len, "HOME=/"));
        assert_false(exec_environ_has(env, len, "BERTH_EXEC=u.11"));
        assert_false(exec_environ_has(env, len, "BERTH_EXEC=u."));
        assert_false(exec_environ_has(env, len, "EXEC=u.1"));
        assert_false(exec_environ_has(env, 0, "HOME=/"));
}

static void test_proc_starttime(void **state)
{
        (void)state;
        unsigned long long t = 0;
        const char stat[] = "4242 (sh) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 "
                            "987654 1234 56 18446744073709551615\n";
        assert_int_equal(exec_proc_starttime(stat, &t), 0);
        assert_int_equal(t, 987654);
        /* A comm with spaces and parentheses. */
        const char odd[] = "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0";
        assert_int_equal(exec_proc_starttime(odd, &t), 0);
        assert_int_equal(t, 55);
        assert_int_equal(exec_proc_starttime("7 (sh) S 1 2 3", &t), -EINVAL);
        assert_int_equal(exec_proc_starttime("no parenthesis", &t), -EINVAL);
        assert_int_equal(exec_proc_starttime(NULL, &t), -EINVAL);
        assert_int_equal(exec_proc_starttime("7 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 "
                                             "18 x1 2",
                                             &t),
                         -EINVAL);
}

/* ---- the runner's files, without Docker ---------------------------------- */

struct fixture {
        char dir[64];
        char logs[96];
        struct exec_runner *r;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st, (void)flag, (void)ftw;
        return remove(path);
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        snprintf(f->dir, sizeof(f->dir), "/tmp/berth-exec-test.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->logs, sizeof(f->logs), "%s/exec-logs", f->dir);
        assert_int_equal(exec_runner_new(f->logs, NULL, NULL, &f->r), 0);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        exec_runner_free(f->r);
        nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(f);
        return 0;
}

static void put(const struct fixture *f, const char *uid, int attempt, const char *content)
{
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", f->logs, uid);
        (void)mkdir(path, 0700);
        snprintf(path, sizeof(path), "%s/%s/%d.log", f->logs, uid, attempt);
        FILE *fp = fopen(path, "w");
        assert_non_null(fp);
        fputs(content, fp);
        fclose(fp);
}

static bool exists(const struct fixture *f, const char *uid)
{
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", f->logs, uid);
        return access(path, F_OK) == 0;
}

struct collected {
        struct buf b;
        int stop_after; /* calls; 0: never */
        int calls;
};

static int collect(enum docker_stream stream, const char *data, size_t len, void *userdata)
{
        struct collected *c = userdata;
        assert_int_equal(stream, DOCKER_STREAM_STDOUT);
        assert_int_equal(buf_append(&c->b, data, len), 0);
        return c->stop_after && ++c->calls >= c->stop_after;
}

static void test_runner_new_makes_dir(void **state)
{
        struct fixture *f = *state;
        struct stat st;
        assert_int_equal(stat(f->logs, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 0777, 0700);
        /* Under a file: the error, and no runner. */
        char bad[128];
        struct exec_runner *r = (void *)0x1;
        put(f, "x", 1, "");
        snprintf(bad, sizeof(bad), "%s/x/1.log/sub", f->logs);
        assert_true(exec_runner_new(bad, NULL, NULL, &r) < 0);
        assert_ptr_equal(r, (void *)0x1);
        exec_runner_free(NULL);
}

static void test_stream_whole_and_tail(void **state)
{
        struct fixture *f = *state;
        struct berth_error err = {0};
        struct collected c = {0};

        put(f, UID1, 1, "one\ntwo\nthree\n");
        put(f, UID1, 2, "second attempt\n");
        buf_init(&c.b, 1 << 20);
        assert_int_equal(exec_runner_stream(f->r, UID1, 1, -1, false, -1, collect, &c, &err), 0);
        assert_string_equal(c.b.data, "one\ntwo\nthree\n");
        buf_reset(&c.b);
        assert_int_equal(exec_runner_stream(f->r, UID1, 2, -1, false, -1, collect, &c, &err), 0);
        assert_string_equal(c.b.data, "second attempt\n");
        buf_reset(&c.b);
        assert_int_equal(exec_runner_stream(f->r, UID1, 1, 2, false, -1, collect, &c, &err), 0);
        assert_string_equal(c.b.data, "two\nthree\n");
        buf_reset(&c.b);
        assert_int_equal(exec_runner_stream(f->r, UID1, 1, 0, false, -1, collect, &c, &err), 0);
        assert_int_equal(c.b.len, 0);
        /* Follow of an attempt no exec runs for: its file, then the end. */
        buf_reset(&c.b);
        assert_int_equal(exec_runner_stream(f->r, UID1, 1, 1, true, -1, collect, &c, &err), 0);
        assert_string_equal(c.b.data, "three\n");
        buf_release(&c.b);
}

static void test_stream_stops_when_fn_asks(void **state)
{
        struct fixture *f = *state;
        struct berth_error err = {0};
        struct collected c = {.stop_after = 1};
        struct buf big;

        buf_init(&big, 1 << 20);
        for (int i = 0; i < 10000; i++)
                assert_int_equal(buf_append_str(&big, "0123456789\n"), 0);
        put(f, UID1, 1, big.data);
        buf_init(&c.b, 1 << 20);
        assert_int_equal(exec_runner_stream(f->r, UID1, 1, -1, true, -1, collect, &c, &err), 0);
        assert_int_equal(c.calls, 1);
        assert_true(c.b.len < big.len);
        buf_release(&c.b);
        buf_release(&big);
}

static void test_stream_errors(void **state)
{
        struct fixture *f = *state;
        struct berth_error err = {0};
        struct collected c = {0};

        buf_init(&c.b, 1024);
        assert_int_equal(exec_runner_stream(f->r, UID1, 1, -1, false, -1, collect, &c, &err),
                         -ENOENT);
        assert_non_null(strstr(err.message, "attempt 1"));
        assert_int_equal(exec_runner_stream(f->r, "../x", 1, -1, false, -1, collect, &c, &err),
                         -ENOENT);
        assert_int_equal(exec_runner_stream(f->r, UID1, 0, -1, false, -1, collect, &c, &err),
                         -ENOENT);
        assert_int_equal(exec_runner_stream(NULL, UID1, 1, -1, false, -1, collect, &c, &err),
                         -ENOENT);
        /* Without a log_dir nothing is kept. */
        struct exec_runner *none;
        assert_int_equal(exec_runner_new(NULL, NULL, NULL, &none), 0);
        assert_int_equal(exec_runner_stream(none, UID1, 1, -1, false, -1, collect, &c, &err),
                         -ENOENT);
        size_t removed = 9;
        assert_int_equal(exec_runner_collect(none, NULL, NULL, &removed, &err), 0);
        assert_int_equal(removed, 0);
        exec_runner_forget_key(none, "/berth/tasks/default/x");
        exec_runner_free(none);
        assert_int_equal(c.b.len, 0);
        buf_release(&c.b);
}

static bool keep_uid1(const char *uid, char *key, size_t key_size, void *userdata)
{
        (void)userdata;
        if (!streq(uid, UID1))
                return false;
        snprintf(key, key_size, "/berth/tasks/default/kept");
        return true;
}

static void test_collect_and_forget_key(void **state)
{
        struct fixture *f = *state;
        struct berth_error err = {0};
        size_t removed = 0;
        char junk[256];

        put(f, UID1, 1, "kept\n");
        put(f, UID1, 2, "kept too\n");
        put(f, UID2, 1, "of a Task gone\n");
        /* Not a uid: not ours, left alone. */
        snprintf(junk, sizeof(junk), "%s/not.a.uid", f->logs);
        assert_int_equal(mkdir(junk, 0700), 0);

        assert_int_equal(exec_runner_collect(f->r, keep_uid1, NULL, &removed, &err), 0);
        assert_int_equal(removed, 1);
        assert_true(exists(f, UID1));
        assert_false(exists(f, UID2));
        assert_int_equal(access(junk, F_OK), 0);
        /* Twice is the same (a leader's workers start again). */
        assert_int_equal(exec_runner_collect(f->r, keep_uid1, NULL, &removed, &err), 0);
        assert_int_equal(removed, 0);

        exec_runner_forget_key(f->r, "/berth/tasks/default/other");
        assert_true(exists(f, UID1));
        exec_runner_forget_key(f->r, "/berth/tasks/default/kept");
        assert_false(exists(f, UID1));
        /* Gone already: no-op. */
        exec_runner_forget_key(f->r, "/berth/tasks/default/kept");
}

static void test_stream_cancel(void **state)
{
        struct fixture *f = *state;
        struct berth_error err = {0};
        struct collected c = {0};
        int cancel = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK); /* readable already */

        assert_true(cancel >= 0);
        put(f, UID1, 1, "x\n");
        buf_init(&c.b, 1024);
        /* Not running: the end comes first, cancel or not. */
        assert_int_equal(exec_runner_stream(f->r, UID1, 1, -1, true, cancel, collect, &c, &err), 0);
        assert_string_equal(c.b.data, "x\n");
        close(cancel);
        buf_release(&c.b);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_uid_valid),
            cmocka_unit_test(test_log_fit),
            cmocka_unit_test(test_tail_offset),
            cmocka_unit_test(test_environ_has),
            cmocka_unit_test(test_proc_starttime),
            cmocka_unit_test_setup_teardown(test_runner_new_makes_dir, setup, teardown),
            cmocka_unit_test_setup_teardown(test_stream_whole_and_tail, setup, teardown),
            cmocka_unit_test_setup_teardown(test_stream_stops_when_fn_asks, setup, teardown),
            cmocka_unit_test_setup_teardown(test_stream_errors, setup, teardown),
            cmocka_unit_test_setup_teardown(test_collect_and_forget_key, setup, teardown),
            cmocka_unit_test_setup_teardown(test_stream_cancel, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
