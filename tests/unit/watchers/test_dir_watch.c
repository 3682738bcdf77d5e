/* Unit tests of the directory watch: the debounce and the noise filter as
 * pure functions over an injected clock, then the watch itself on a real
 * temporary directory. Those wait on a condition variable signalled by the
 * callback, with generous timeouts; they never assert how long anything
 * took. "No call" is checked by waiting several debounce periods (a wrong
 * call would have come by then) and, where it matters, by a real change
 * afterwards that must come out as exactly one call. */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "test-support.h"
#include "watchers-internal.h"

#define WAIT_MS   10000
#define MAX_CALLS 256
/* Debounce of the watch tests, and how long "nothing happens" is watched. */
#define QUIET_MS  100
#define SETTLE_MS (QUIET_MS * 6)

/* ---- the debounce, pure ------------------------------------------------- */

static void test_debounce_single_event(void **state)
{
        struct debounce d;
        enum dir_watch_reason r = DIR_WATCH_ROOT_BACK;

        (void)state;
        debounce_init(&d, 200, 0, 0, 1000);
        assert_int_equal(debounce_deadline(&d), -1);
        assert_false(debounce_fire(&d, 5000, &r));
        debounce_event(&d, 10000, DIR_WATCH_CHANGED);
        assert_int_equal(debounce_deadline(&d), 10200);
        assert_false(debounce_fire(&d, 10199, &r));
        assert_true(debounce_fire(&d, 10200, &r));
        assert_int_equal(r, DIR_WATCH_CHANGED);
        assert_int_equal(debounce_deadline(&d), -1);
        assert_false(debounce_fire(&d, 20000, &r));
}

static void test_debounce_zero_fires_at_once(void **state)
{
        struct debounce d;
        enum dir_watch_reason r;

        (void)state;
        debounce_init(&d, 0, 0, 0, 0);
        debounce_event(&d, 50, DIR_WATCH_CHANGED);
        assert_int_equal(debounce_deadline(&d), 50);
        assert_true(debounce_fire(&d, 50, &r));
        assert_int_equal(r, DIR_WATCH_CHANGED);
}

/* A git checkout: 500 events 1 ms apart are one burst. */
static void test_debounce_burst_fires_once(void **state)
{
        struct debounce d;
        enum dir_watch_reason r;
        int fires = 0;
        int64_t fired_at = -1;

        (void)state;
        debounce_init(&d, 200, 0, 0, 0);
        for (int64_t t = 1000; t < 1500; t++) {
                if (debounce_fire(&d, t, &r))
                        fires++;
                debounce_event(&d, t, DIR_WATCH_CHANGED);
        }
        for (int64_t t = 1500; t < 5000; t++) {
                if (debounce_fire(&d, t, &r)) {
                        fires++;
                        fired_at = t;
                }
        }
        assert_int_equal(fires, 1);
        assert_int_equal(fired_at, 1499 + 200);
        assert_int_equal(r, DIR_WATCH_CHANGED);
}

/* Events that never stop still fire every max_delay. */
static void test_debounce_max_delay(void **state)
{
        struct debounce d;
        enum dir_watch_reason r;
        int64_t fired[8];
        int n = 0;

        (void)state;
        debounce_init(&d, 200, 0, 0, 0);
        assert_int_equal(d.max_delay_ms, 2000); /* 10 × debounce */
        for (int64_t t = 0; t <= 5000; t += 10) {
                if (debounce_fire(&d, t, &r) && n < 8)
                        fired[n++] = t;
                if (t % 100 == 0)
                        debounce_event(&d, t, DIR_WATCH_CHANGED);
        }
        assert_int_equal(n, 2);
        assert_int_equal(fired[0], 2000);
        assert_int_equal(fired[1], 4000);

        debounce_init(&d, 50, 0, 0, 0);
        assert_int_equal(d.max_delay_ms, DIR_WATCH_MAX_DELAY_MIN_MS);
        debounce_init(&d, 200, 100, 0, 0);
        assert_int_equal(d.max_delay_ms, 200);
        debounce_init(&d, 200, 5000, 0, 0);
        assert_int_equal(d.max_delay_ms, 5000);
}

static void test_reason_merge(void **state)
{
        static const struct {
                enum dir_watch_reason old, new, want;
        } cases[] = {
            {DIR_WATCH_CHANGED, DIR_WATCH_CHANGED, DIR_WATCH_CHANGED},
            {DIR_WATCH_CHANGED, DIR_WATCH_RESCAN, DIR_WATCH_RESCAN},
            {DIR_WATCH_RESCAN, DIR_WATCH_CHANGED, DIR_WATCH_RESCAN},
            {DIR_WATCH_RESCAN, DIR_WATCH_ROOT_GONE, DIR_WATCH_ROOT_GONE},
            {DIR_WATCH_ROOT_GONE, DIR_WATCH_RESCAN, DIR_WATCH_ROOT_GONE},
            {DIR_WATCH_ROOT_BACK, DIR_WATCH_CHANGED, DIR_WATCH_ROOT_BACK},
            {DIR_WATCH_ROOT_GONE, DIR_WATCH_ROOT_BACK, DIR_WATCH_ROOT_BACK},
            {DIR_WATCH_ROOT_BACK, DIR_WATCH_ROOT_GONE, DIR_WATCH_ROOT_GONE},
        };

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
                assert_int_equal(dir_watch_reason_merge(cases[i].old, cases[i].new), cases[i].want);
        assert_string_equal(dir_watch_reason_to_string(DIR_WATCH_RESCAN), "Rescan");
        assert_string_equal(dir_watch_reason_to_string(DIR_WATCH_ROOT_GONE), "RootGone");
}

static void test_debounce_coalesces_to_strongest(void **state)
{
        struct debounce d;
        enum dir_watch_reason r;

        (void)state;
        debounce_init(&d, 100, 0, 0, 0);
        debounce_event(&d, 0, DIR_WATCH_CHANGED);
        debounce_event(&d, 10, DIR_WATCH_RESCAN);
        debounce_event(&d, 20, DIR_WATCH_CHANGED);
        assert_true(debounce_fire(&d, 120, &r));
        assert_int_equal(r, DIR_WATCH_RESCAN);

        /* Deleted and made again within one burst: the root is back. */
        debounce_event(&d, 1000, DIR_WATCH_CHANGED);
        debounce_event(&d, 1001, DIR_WATCH_ROOT_GONE);
        debounce_event(&d, 1002, DIR_WATCH_ROOT_BACK);
        debounce_event(&d, 1003, DIR_WATCH_CHANGED);
        assert_true(debounce_fire(&d, 1103, &r));
        assert_int_equal(r, DIR_WATCH_ROOT_BACK);

        /* The next burst starts over. */
        debounce_event(&d, 2000, DIR_WATCH_CHANGED);
        assert_true(debounce_fire(&d, 2100, &r));
        assert_int_equal(r, DIR_WATCH_CHANGED);
}

static void test_debounce_periodic_rescan(void **state)
{
        struct debounce d;
        enum dir_watch_reason r;

        (void)state;
        debounce_init(&d, 200, 0, 1000, 0);
        assert_int_equal(debounce_deadline(&d), 1000);
        assert_false(debounce_rescan_due(&d, 999));
        assert_false(debounce_fire(&d, 999, &r));
        assert_true(debounce_rescan_due(&d, 1000));
        assert_true(debounce_fire(&d, 1000, &r));
        assert_int_equal(r, DIR_WATCH_RESCAN);
        assert_int_equal(debounce_deadline(&d), 2000);

        /* A change does not move the safety net. */
        debounce_event(&d, 1500, DIR_WATCH_CHANGED);
        assert_int_equal(debounce_deadline(&d), 1700);
        assert_true(debounce_fire(&d, 1700, &r));
        assert_int_equal(r, DIR_WATCH_CHANGED);
        assert_int_equal(debounce_deadline(&d), 2000);

        /* Due in the middle of a burst: joins it, one call at its end. */
        debounce_event(&d, 1950, DIR_WATCH_CHANGED);
        assert_true(debounce_rescan_due(&d, 2000));
        assert_false(debounce_fire(&d, 2000, &r));
        assert_false(debounce_rescan_due(&d, 2000));
        assert_int_equal(debounce_deadline(&d), 2150);
        assert_true(debounce_fire(&d, 2150, &r));
        assert_int_equal(r, DIR_WATCH_RESCAN);
        assert_int_equal(debounce_deadline(&d), 3150);

        /* A RESCAN for another reason (an overflow) re-arms it too. */
        debounce_event(&d, 2500, DIR_WATCH_RESCAN);
        assert_true(debounce_fire(&d, 2700, &r));
        assert_int_equal(r, DIR_WATCH_RESCAN);
        assert_int_equal(debounce_deadline(&d), 3700);

        /* None configured: nothing is ever due. */
        debounce_init(&d, 200, 0, 0, 0);
        assert_int_equal(debounce_deadline(&d), -1);
        assert_false(debounce_rescan_due(&d, INT64_MAX / 2));
        debounce_init(&d, 200, 0, -5, 0);
        assert_int_equal(debounce_deadline(&d), -1);
}

static void test_noise_names(void **state)
{
        static const char *const noise[] = {
            ".a.yaml.swp",
            ".a.yaml.swx",
            ".a.yaml.swo",
            "a.yaml~",
            ".#a.yaml",
            "#a.yaml#",
            "4913",
            "a.yaml.tmp",
            ".goutputstream-X1YZ2",
            "a.yaml___jb_tmp___",
        };
        static const char *const real[] = {
            "a.yaml", ".swp", "swp.yaml", "a.swp", "49130", "#a", "tmp", "a.tmpl", ".hidden.yaml",
        };

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(noise); i++) {
                if (!dir_watch_name_is_noise(noise[i]))
                        fail_msg("%s should be noise", noise[i]);
        }
        for (size_t i = 0; i < ARRAY_SIZE(real); i++) {
                if (dir_watch_name_is_noise(real[i]))
                        fail_msg("%s should not be noise", real[i]);
        }
        assert_false(dir_watch_name_is_noise(""));
        assert_false(dir_watch_name_is_noise(NULL));
}

/* ---- the watch on a real directory --------------------------------------- */

struct fixture {
        char dir[64];
        char root[128];
        char outside[128];
        pthread_mutex_t mu;
        pthread_cond_t cond;
        enum dir_watch_reason calls[MAX_CALLS];
        size_t n;
        struct dir_watch *w;
        /* The failing add_watch seam: paths ending in fail_suffix get fail_errno. */
        const char *fail_suffix;
        int fail_errno;
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        if (!f)
                return -1;
        snprintf(f->dir, sizeof(f->dir), "/tmp/berth-dirwatch-XXXXXX");
        if (!mkdtemp(f->dir)) {
                free(f);
                return -1;
        }
        snprintf(f->root, sizeof(f->root), "%s/root", f->dir);
        snprintf(f->outside, sizeof(f->outside), "%s/outside", f->dir);
        if (mkdir(f->root, 0755) < 0 || mkdir(f->outside, 0755) < 0)
                return -1;
        pthread_mutex_init(&f->mu, NULL);
        if (cond_init_monotonic(&f->cond) < 0)
                return -1;
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        dir_watch_free(f->w);
        test_rm_tree(f->dir);
        pthread_cond_destroy(&f->cond);
        pthread_mutex_destroy(&f->mu);
        free(f);
        return 0;
}

static void on_change(enum dir_watch_reason reason, void *userdata)
{
        struct fixture *f = userdata;

        pthread_mutex_lock(&f->mu);
        if (f->n < MAX_CALLS)
                f->calls[f->n] = reason;
        f->n++;
        pthread_cond_broadcast(&f->cond);
        pthread_mutex_unlock(&f->mu);
}

static size_t calls(struct fixture *f)
{
        LOCK_SCOPE(&f->mu);
        return f->n;
}

/* Waits until there were at least n calls; returns how many there were. */
static size_t wait_calls(struct fixture *f, size_t n)
{
        struct timespec ts;

        time_mono_deadline(&ts, WAIT_MS);
        LOCK_SCOPE(&f->mu);
        while (f->n < n && pthread_cond_timedwait(&f->cond, &f->mu, &ts) != ETIMEDOUT)
                ;
        return f->n;
}

/* Waits for a call with reason r at index from or later; returns its index
 * (fails the test after WAIT_MS). */
static size_t wait_reason(struct fixture *f, size_t from, enum dir_watch_reason r)
{
        struct timespec ts;

        time_mono_deadline(&ts, WAIT_MS);
        LOCK_SCOPE(&f->mu);
        for (;;) {
                for (size_t i = from; i < f->n && i < MAX_CALLS; i++) {
                        if (f->calls[i] == r)
                                return i;
                }
                if (pthread_cond_timedwait(&f->cond, &f->mu, &ts) == ETIMEDOUT)
                        break;
        }
        fail_msg("no %s call after %zu calls", dir_watch_reason_to_string(r), f->n);
        return 0;
}

static enum dir_watch_reason call_at(struct fixture *f, size_t i)
{
        LOCK_SCOPE(&f->mu);
        assert_true(i < f->n);
        return f->calls[i];
}

/* The next call is CHANGED; returns the count after it. */
static size_t expect_changed(struct fixture *f, size_t before)
{
        assert_true(wait_calls(f, before + 1) >= before + 1);
        assert_int_equal(call_at(f, before), DIR_WATCH_CHANGED);
        return before + 1;
}

static void write_file(const char *dir, const char *name)
{
        char path[512];

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "x: 1\n", 5), 5);
        close(fd);
}

static void make_dir(const char *dir, const char *name)
{
        char path[512];

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        assert_int_equal(mkdir_p(path, 0755), 0);
}

static char *join(const char *dir, const char *name)
{
        char *p = str_printf("%s/%s", dir, name);
        assert_non_null(p);
        return p;
}

static void start(struct fixture *f, const char *root, const struct dir_watch_opts *opts,
                  const struct dir_watch_ops *ops)
{
        struct berth_error err = {0};
        struct dir_watch_opts o = {.recursive = true, .debounce_ms = QUIET_MS};

        if (dir_watch_new_with_ops(root, opts ? opts : &o, ops, on_change, f, &f->w, &err) < 0)
                fail_msg("dir_watch_new: %s", err.message);
}

static void test_create_file(void **state)
{
        struct fixture *f = *state;

        start(f, f->root, NULL, NULL);
        assert_int_equal(dir_watch_count(f->w), 1);
        assert_int_equal(dir_watch_take_error(f->w, NULL), 0);
        write_file(f->root, "a.yaml");
        expect_changed(f, 0);
        assert_int_equal(dir_watch_take_error(f->w, NULL), 0);
}

static void test_many_files_one_call(void **state)
{
        struct fixture *f = *state;
        struct dir_watch_opts o = {.recursive = true, .debounce_ms = 200, .max_delay_ms = 60000};

        start(f, f->root, &o, NULL);
        for (int i = 0; i < 500; i++) {
                char name[32];
                snprintf(name, sizeof(name), "f%03d.yaml", i);
                write_file(f->root, name);
        }
        expect_changed(f, 0);
        sleep_ms(5 * 200);
        assert_int_equal(calls(f), 1);
}

static void test_nested_dirs(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *c = join(f->root, "a/b/c");
        _cleanup_free_ char *a = join(f->root, "a");
        _cleanup_free_ char *cf = join(c, "f");
        size_t n;

        start(f, f->root, NULL, NULL);
        /* mkdir -p a/b/c; touch a/b/c/f: the directories exist before
         * their watches, the file perhaps too. */
        make_dir(f->root, "a/b/c");
        write_file(c, "f");
        n = expect_changed(f, 0);
        assert_int_equal(dir_watch_count(f->w), 4);

        /* The deepest one is watched. */
        write_file(c, "g");
        n = expect_changed(f, n);

        assert_int_equal(unlink(cf), 0);
        _cleanup_free_ char *cg = join(c, "g");
        assert_int_equal(unlink(cg), 0);
        assert_int_equal(rmdir(c), 0);
        n = expect_changed(f, n);
        assert_int_equal(dir_watch_count(f->w), 3);

        assert_int_equal(test_rm_tree(a), 0);
        expect_changed(f, n);
        assert_int_equal(dir_watch_count(f->w), 1);
}

static void test_moved_dirs(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *from = join(f->outside, "x");
        _cleanup_free_ char *in = join(f->root, "x");
        _cleanup_free_ char *renamed = join(f->root, "z");
        _cleanup_free_ char *away = join(f->outside, "gone");
        _cleanup_free_ char *away_y = join(away, "y");
        _cleanup_free_ char *renamed_y = join(renamed, "y");
        size_t n;

        /* A populated tree moved in, as a checkout or a deploy does. */
        make_dir(f->outside, "x/y");
        write_file(from, "a.yaml");
        start(f, f->root, NULL, NULL);
        assert_int_equal(rename(from, in), 0);
        n = expect_changed(f, 0);
        assert_int_equal(dir_watch_count(f->w), 3);

        /* Renamed inside the tree: still watched, under its new name. */
        assert_int_equal(rename(in, renamed), 0);
        n = expect_changed(f, n);
        assert_int_equal(dir_watch_count(f->w), 3);
        write_file(renamed_y, "b.yaml");
        n = expect_changed(f, n);

        /* Moved out: no longer watched. */
        assert_int_equal(rename(renamed, away), 0);
        n = expect_changed(f, n);
        assert_int_equal(dir_watch_count(f->w), 1);
        write_file(away_y, "c.yaml");
        sleep_ms(SETTLE_MS);
        assert_int_equal(calls(f), n);
}

static void test_editor_noise_only(void **state)
{
        static const char *const noise[] = {
            ".a.yaml.swp", ".a.yaml.swx",        "4913", "a.yaml~", ".#a.yaml",
            "b.tmp",       ".goutputstream-QX12"};
        struct fixture *f = *state;

        start(f, f->root, NULL, NULL);
        for (size_t i = 0; i < ARRAY_SIZE(noise); i++) {
                _cleanup_free_ char *p = join(f->root, noise[i]);
                write_file(f->root, noise[i]);
                assert_int_equal(chmod(p, 0600), 0);
                assert_int_equal(unlink(p), 0);
        }
        sleep_ms(SETTLE_MS);
        assert_int_equal(calls(f), 0);
        write_file(f->root, "a.yaml");
        expect_changed(f, 0);
        sleep_ms(SETTLE_MS);
        assert_int_equal(calls(f), 1);
}

static void test_atomic_rename_over(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *tmp = join(f->root, "a.yaml.tmp");
        _cleanup_free_ char *target = join(f->root, "a.yaml");
        size_t n;

        write_file(f->root, "a.yaml");
        start(f, f->root, NULL, NULL);
        /* The temporary file alone is noise... */
        write_file(f->root, "a.yaml.tmp");
        sleep_ms(SETTLE_MS);
        assert_int_equal(calls(f), 0);
        /* ...its rename onto the target is the change. */
        assert_int_equal(rename(tmp, target), 0);
        n = expect_changed(f, 0);
        sleep_ms(SETTLE_MS);
        assert_int_equal(calls(f), n);
}

static void test_root_removed_and_back(void **state)
{
        struct fixture *f = *state;
        size_t i;

        make_dir(f->root, "sub");
        write_file(f->root, "a.yaml");
        start(f, f->root, NULL, NULL);
        assert_int_equal(dir_watch_count(f->w), 2);

        assert_int_equal(test_rm_tree(f->root), 0);
        i = wait_reason(f, 0, DIR_WATCH_ROOT_GONE);
        assert_int_equal(dir_watch_count(f->w), 1); /* the ancestor */

        assert_int_equal(mkdir(f->root, 0755), 0);
        i = wait_reason(f, i + 1, DIR_WATCH_ROOT_BACK);
        assert_int_equal(dir_watch_count(f->w), 1);

        make_dir(f->root, "sub2");
        write_file(f->root, "b.yaml");
        expect_changed(f, i + 1);
        assert_int_equal(dir_watch_count(f->w), 2);
}

static void test_root_missing_at_start(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *root = join(f->dir, "a/b/c");
        size_t i;

        start(f, root, NULL, NULL);
        i = wait_reason(f, 0, DIR_WATCH_ROOT_GONE);
        assert_int_equal(dir_watch_count(f->w), 1);
        sleep_ms(SETTLE_MS);
        assert_int_equal(calls(f), i + 1); /* once */

        /* Each level appearing moves the ancestor watch down. */
        make_dir(f->dir, "a");
        make_dir(f->dir, "a/b");
        sleep_ms(SETTLE_MS);
        assert_int_equal(calls(f), i + 1);
        make_dir(f->dir, "a/b/c");
        i = wait_reason(f, i + 1, DIR_WATCH_ROOT_BACK);
        write_file(root, "x.yaml");
        expect_changed(f, i + 1);
}

static void test_root_moved_away(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *moved = join(f->dir, "moved");
        size_t i;

        make_dir(f->root, "sub");
        start(f, f->root, NULL, NULL);
        assert_int_equal(rename(f->root, moved), 0);
        i = wait_reason(f, 0, DIR_WATCH_ROOT_GONE);
        /* The tree moved away is not ours any more. */
        write_file(moved, "a.yaml");
        sleep_ms(SETTLE_MS);
        assert_int_equal(calls(f), i + 1);
        assert_int_equal(dir_watch_count(f->w), 1);

        assert_int_equal(rename(moved, f->root), 0);
        i = wait_reason(f, i + 1, DIR_WATCH_ROOT_BACK);
        assert_int_equal(dir_watch_count(f->w), 2);
}

static void test_symlink_not_followed(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *link = join(f->root, "link");
        _cleanup_free_ char *link2 = join(f->root, "link2");
        _cleanup_free_ char *osub = join(f->outside, "sub");
        size_t n;

        make_dir(f->outside, "sub");
        assert_int_equal(symlink(f->outside, link), 0);
        start(f, f->root, NULL, NULL);
        assert_int_equal(dir_watch_count(f->w), 1);
        write_file(f->outside, "a.yaml");
        write_file(osub, "b.yaml");
        sleep_ms(SETTLE_MS);
        assert_int_equal(calls(f), 0);

        /* A new link is an entry that changed, but it is not descended into. */
        assert_int_equal(symlink(osub, link2), 0);
        n = expect_changed(f, 0);
        assert_int_equal(dir_watch_count(f->w), 1);
        write_file(osub, "c.yaml");
        sleep_ms(SETTLE_MS);
        assert_int_equal(calls(f), n);
}

static void test_ignore_dirs_and_non_recursive(void **state)
{
        static const char *const ignore[] = {".git", NULL};
        struct fixture *f = *state;
        struct dir_watch_opts o = {
            .recursive = true, .debounce_ms = QUIET_MS, .ignore_dirs = ignore};
        _cleanup_free_ char *git = join(f->root, ".git");
        _cleanup_free_ char *sub = join(f->root, "sub");
        size_t n;

        make_dir(f->root, ".git/objects");
        make_dir(f->root, "sub");
        start(f, f->root, &o, NULL);
        assert_int_equal(dir_watch_count(f->w), 2);
        write_file(git, "HEAD");
        sleep_ms(SETTLE_MS);
        assert_int_equal(calls(f), 0);
        write_file(sub, "a.yaml");
        n = expect_changed(f, 0);
        dir_watch_free(f->w);
        f->w = NULL;

        /* Not recursive: the root's own entries only. */
        o = (struct dir_watch_opts){.recursive = false, .debounce_ms = QUIET_MS};
        start(f, f->root, &o, NULL);
        assert_int_equal(dir_watch_count(f->w), 1);
        write_file(sub, "b.yaml");
        make_dir(f->root, "new/deeper");
        n = expect_changed(f, n); /* "new" is an entry of the root */
        assert_int_equal(dir_watch_count(f->w), 1);
        write_file(sub, "c.yaml");
        sleep_ms(SETTLE_MS);
        assert_int_equal(calls(f), n);
}

static void test_overflow_injected(void **state)
{
        struct fixture *f = *state;
        struct berth_error err = {0};
        size_t i;

        make_dir(f->root, "sub");
        start(f, f->root, NULL, NULL);
        dir_watch_test_overflow(f->w);
        i = wait_reason(f, 0, DIR_WATCH_RESCAN);
        assert_int_equal(dir_watch_take_error(f->w, &err), -EOVERFLOW);
        assert_non_null(strstr(err.message, "overflow"));
        assert_int_equal(dir_watch_take_error(f->w, NULL), 0);
        /* Rebuilt from a fresh walk: everything is watched again. */
        assert_int_equal(dir_watch_count(f->w), 2);
        _cleanup_free_ char *sub = join(f->root, "sub");
        write_file(sub, "a.yaml");
        expect_changed(f, i + 1);
}

static int write_knob(const char *knob, const char *value)
{
        FILE *fp = fopen(knob, "we");

        if (!fp)
                return -errno;
        bool ok = fputs(value, fp) >= 0;
        return fclose(fp) == 0 && ok ? 0 : -EIO;
}

/* The kernel's own overflow: a queue of 8 events. The sysctl is global but
 * read only when an inotify instance is made, so it is set for the one
 * dir_watch_new() and restored at once; a lock file keeps two runs of this
 * test (other build trees) from restoring each other's value. Needs root. */
static void test_overflow_real(void **state)
{
        static const char *knob = "/proc/sys/fs/inotify/max_queued_events";
        struct fixture *f = *state;
        struct dir_watch_opts o = {.recursive = true, .debounce_ms = QUIET_MS};
        struct berth_error err = {0};
        char old[32] = "";
        bool rescan = false;
        FILE *fp;
        int r;

        _cleanup_close_ int lock =
            open("/tmp/berth-test-inotify-knob.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lock < 0 || flock(lock, LOCK_EX) < 0)
                skip();
        fp = fopen(knob, "re");
        if (!fp)
                skip();
        bool got = fgets(old, sizeof(old), fp) != NULL;
        fclose(fp);
        /* Below the kernel's default: someone else's experiment, leave it. */
        if (!got || atoi(old) < 1024 || write_knob(knob, "8\n") < 0)
                skip();
        r = dir_watch_new_with_ops(f->root, &o, NULL, on_change, f, &f->w, &err);
        assert_int_equal(write_knob(knob, old), 0);
        flock(lock, LOCK_UN);
        assert_int_equal(r, 0);

        for (int batch = 0; batch < 50 && !rescan; batch++) {
                size_t before = calls(f);
                for (int i = 0; i < 200; i++) {
                        char name[32];
                        snprintf(name, sizeof(name), "b%02d-%03d.yaml", batch, i);
                        write_file(f->root, name);
                }
                assert_true(wait_calls(f, before + 1) > before);
                LOCK_SCOPE(&f->mu);
                for (size_t i = before; i < f->n && i < MAX_CALLS; i++)
                        rescan = rescan || f->calls[i] == DIR_WATCH_RESCAN;
        }
        assert_true(rescan);
        assert_int_equal(dir_watch_take_error(f->w, NULL), -EOVERFLOW);
        assert_int_equal(dir_watch_count(f->w), 1);
}

static int failing_add_watch(int fd, const char *path, uint32_t mask, void *userdata)
{
        struct fixture *f = userdata;

        if (f->fail_suffix && str_has_suffix(path, f->fail_suffix)) {
                errno = f->fail_errno;
                return -1;
        }
        return inotify_add_watch(fd, path, mask);
}

static void test_failed_watch(void **state)
{
        struct fixture *f = *state;
        struct dir_watch_ops ops = {.add_watch = failing_add_watch, .userdata = f};
        struct berth_error err = {0};
        size_t i;

        f->fail_suffix = "/deny";
        f->fail_errno = ENOSPC;
        start(f, f->root, NULL, &ops);
        make_dir(f->root, "deny/below");
        i = wait_reason(f, 0, DIR_WATCH_RESCAN);
        assert_int_equal(dir_watch_take_error(f->w, &err), -ENOSPC);
        assert_non_null(strstr(err.message, "/deny"));
        assert_non_null(strstr(err.message, strerror(ENOSPC)));
        assert_int_equal(dir_watch_count(f->w), 1);
        /* Still watching the rest. */
        write_file(f->root, "a.yaml");
        expect_changed(f, i + 1);
}

static void test_failed_watch_at_start(void **state)
{
        struct fixture *f = *state;
        struct dir_watch_ops ops = {.add_watch = failing_add_watch, .userdata = f};
        struct berth_error err = {0};

        make_dir(f->root, "one/deny");
        make_dir(f->root, "two/deny");
        f->fail_suffix = "/deny";
        f->fail_errno = EACCES;
        start(f, f->root, NULL, &ops);
        assert_int_equal(dir_watch_count(f->w), 3);
        wait_reason(f, 0, DIR_WATCH_RESCAN);
        assert_int_equal(dir_watch_take_error(f->w, &err), -EACCES);
        assert_non_null(strstr(err.message, "(and 1 more)"));
}

static void test_dir_limit(void **state)
{
        struct fixture *f = *state;
        struct dir_watch_ops ops = {.max_dirs = 3};
        struct berth_error err = {0};
        size_t i;

        start(f, f->root, NULL, &ops);
        for (int d = 0; d < 6; d++) {
                char name[16];
                snprintf(name, sizeof(name), "d%d", d);
                make_dir(f->root, name);
        }
        i = wait_reason(f, 0, DIR_WATCH_RESCAN);
        assert_int_equal(dir_watch_count(f->w), 3);
        assert_int_equal(dir_watch_take_error(f->w, &err), -E2BIG);
        assert_non_null(strstr(err.message, "more than 3 directories"));
        /* Reported once: more directories are plain changes. */
        sleep_ms(SETTLE_MS);
        size_t n = calls(f);
        make_dir(f->root, "d9");
        expect_changed(f, n);
        assert_int_equal(dir_watch_count(f->w), 3);
        (void)i;
}

static void test_periodic_rescan(void **state)
{
        struct fixture *f = *state;
        struct dir_watch_opts o = {.recursive = true, .debounce_ms = QUIET_MS, .rescan_ms = 300};
        size_t i;

        make_dir(f->root, "sub");
        start(f, f->root, &o, NULL);
        i = wait_reason(f, 0, DIR_WATCH_RESCAN);
        i = wait_reason(f, i + 1, DIR_WATCH_RESCAN);
        assert_int_equal(dir_watch_count(f->w), 2);
        assert_int_equal(dir_watch_take_error(f->w, NULL), 0);
        (void)i;
}

static void test_bad_args(void **state)
{
        struct fixture *f = *state;
        struct dir_watch_opts o = {.recursive = true, .debounce_ms = -1};
        struct berth_error err = {0};
        struct dir_watch *w = NULL;
        _cleanup_free_ char *longpath = calloc(1, PATH_MAX + 8);

        assert_int_equal(dir_watch_new("relative", NULL, on_change, f, &w, &err), -EINVAL);
        assert_int_equal(dir_watch_new(NULL, NULL, on_change, f, &w, NULL), -EINVAL);
        assert_int_equal(dir_watch_new(f->root, NULL, NULL, f, &w, &err), -EINVAL);
        assert_int_equal(dir_watch_new(f->root, &o, on_change, f, &w, &err), -EINVAL);
        o.debounce_ms = 0;
        o.rescan_ms = DIR_WATCH_DURATION_MAX_MS + 1;
        assert_int_equal(dir_watch_new(f->root, &o, on_change, f, &w, &err), -EINVAL);
        assert_non_null(longpath);
        longpath[0] = '/';
        memset(longpath + 1, 'a', PATH_MAX + 2);
        assert_int_equal(dir_watch_new(longpath, NULL, on_change, f, &w, &err), -ENAMETOOLONG);
        assert_null(w);
        dir_watch_free(NULL);

        /* Defaults, a trailing slash, and freeing in the middle of a burst. */
        _cleanup_free_ char *slash = str_printf("%s/", f->root);
        assert_int_equal(dir_watch_new(slash, NULL, on_change, f, &w, &err), 0);
        assert_int_equal(dir_watch_count(w), 1);
        write_file(f->root, "a.yaml");
        dir_watch_free(w);
        size_t n = calls(f);
        sleep_ms(SETTLE_MS);
        assert_int_equal(calls(f), n);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_debounce_single_event),
            cmocka_unit_test(test_debounce_zero_fires_at_once),
            cmocka_unit_test(test_debounce_burst_fires_once),
            cmocka_unit_test(test_debounce_max_delay),
            cmocka_unit_test(test_reason_merge),
            cmocka_unit_test(test_debounce_coalesces_to_strongest),
            cmocka_unit_test(test_debounce_periodic_rescan),
            cmocka_unit_test(test_noise_names),
            cmocka_unit_test_setup_teardown(test_create_file, setup, teardown),
            cmocka_unit_test_setup_teardown(test_many_files_one_call, setup, teardown),
            cmocka_unit_test_setup_teardown(test_nested_dirs, setup, teardown),
            cmocka_unit_test_setup_teardown(test_moved_dirs, setup, teardown),
            cmocka_unit_test_setup_teardown(test_editor_noise_only, setup, teardown),
            cmocka_unit_test_setup_teardown(test_atomic_rename_over, setup, teardown),
            cmocka_unit_test_setup_teardown(test_root_removed_and_back, setup, teardown),
            cmocka_unit_test_setup_teardown(test_root_missing_at_start, setup, teardown),
            cmocka_unit_test_setup_teardown(test_root_moved_away, setup, teardown),
            cmocka_unit_test_setup_teardown(test_symlink_not_followed, setup, teardown),
            cmocka_unit_test_setup_teardown(test_ignore_dirs_and_non_recursive, setup, teardown),
            cmocka_unit_test_setup_teardown(test_overflow_injected, setup, teardown),
            cmocka_unit_test_setup_teardown(test_overflow_real, setup, teardown),
            cmocka_unit_test_setup_teardown(test_failed_watch, setup, teardown),
            cmocka_unit_test_setup_teardown(test_failed_watch_at_start, setup, teardown),
            cmocka_unit_test_setup_teardown(test_dir_limit, setup, teardown),
            cmocka_unit_test_setup_teardown(test_periodic_rescan, setup, teardown),
            cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
