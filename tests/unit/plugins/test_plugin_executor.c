/* Unit tests of an executor plugin's runner (plugin-executor.c) against an
 * executor written here: starts, ends told through executor_runner_changed,
 * refusals, signals queued before the start is made, forgetting (a live
 * attempt is killed first), adoption of a handle the plugin knows or not,
 * and invalid handles. The runner's thread makes the calls; the test waits
 * for the listener. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <pthread.h>
#include <signal.h>

#include "berth-plugin.h"
#include "plugins-internal.h"

/* The fake executor: attempts by handle "h<n>", their state set by the test. */
struct fake {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        int started;
        int state[8];
        int exit_code[8];
        int signals[8];
        bool forgotten[8];
        const char *refuse; /* start fails with this */
        const char *handle; /* start answers this handle instead */
        bool hold_start;    /* start waits until released */
        int told;           /* listener calls */
        int observed;       /* observe calls */
        char last_key[64];
};

static struct fake F;

static int handle_index(const char *h)
{
        int i = h[0] == 'h' ? atoi(h + 1) : -1;
        return i >= 0 && i < 8 ? i : -1;
}

static int fake_start(void *ctx, const char *task_json, int attempt, char *handle, size_t size,
                      char *error, size_t error_size)
{
        (void)ctx, (void)attempt;
        assert_non_null(strstr(task_json, "\"kind\""));
        pthread_mutex_lock(&F.lock);
        while (F.hold_start)
                pthread_cond_wait(&F.cond, &F.lock);
        int rc = 0;
        if (F.refuse) {
                snprintf(error, error_size, "%s", F.refuse);
                rc = 1;
        } else if (F.handle) {
                snprintf(handle, size, "%s", F.handle);
        } else {
                int i = F.started++;
                F.state[i] = BERTH_EXECUTOR_RUNNING;
                snprintf(handle, size, "h%d", i);
        }
        pthread_mutex_unlock(&F.lock);
        return rc;
}

static int fake_observe(void *ctx, const char *handle, int *state, int *exit_code)
{
        (void)ctx;
        int i = handle_index(handle);
        LOCK_SCOPE(&F.lock);
        F.observed++;
        *state = i < 0 || F.forgotten[i] ? BERTH_EXECUTOR_UNKNOWN : F.state[i];
        *exit_code = i < 0 ? -1 : F.exit_code[i];
        return 0;
}

static int fake_signal(void *ctx, const char *handle, int signo)
{
        (void)ctx;
        int i = handle_index(handle);
        LOCK_SCOPE(&F.lock);
        if (i >= 0)
                F.signals[i] = signo;
        pthread_cond_broadcast(&F.cond);
        return 0;
}

static int fake_logs(void *ctx, const char *handle, char *buf, size_t size, size_t *len)
{
        (void)ctx;
        *len = (size_t)snprintf(buf, size, "output of %s\n", handle);
        return 0;
}

static void fake_forget(void *ctx, const char *handle)
{
        (void)ctx;
        int i = handle_index(handle);
        LOCK_SCOPE(&F.lock);
        if (i >= 0)
                F.forgotten[i] = true;
        pthread_cond_broadcast(&F.cond);
}

static const struct berth_executor_ops fake_ops = {
    .start = fake_start,
    .observe = fake_observe,
    .signal = fake_signal,
    .logs = fake_logs,
    .forget = fake_forget,
};

static void on_change(const char *key, void *userdata)
{
        (void)userdata;
        LOCK_SCOPE(&F.lock);
        F.told++;
        snprintf(F.last_key, sizeof(F.last_key), "%s", key);
        pthread_cond_broadcast(&F.cond);
}

/* Waits (bounded) until the listener was called n times in all. */
static void wait_told(int n)
{
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 10;
        LOCK_SCOPE(&F.lock);
        while (F.told < n)
                assert_int_equal(pthread_cond_timedwait(&F.cond, &F.lock, &until), 0);
}

static void wait_flag(const bool *flag)
{
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 10;
        LOCK_SCOPE(&F.lock);
        while (!*flag)
                assert_int_equal(pthread_cond_timedwait(&F.cond, &F.lock, &until), 0);
}

/* The same executor without the optional logs and forget. */
static const struct berth_executor_ops bare_ops = {
    .start = fake_start,
    .observe = fake_observe,
    .signal = fake_signal,
};

static struct executor_runner *runner_of(const struct berth_executor_ops *ops)
{
        struct executor_runner *r = NULL;

        memset(&F, 0, sizeof(F));
        pthread_mutex_init(&F.lock, NULL);
        pthread_cond_init(&F.cond, NULL);
        assert_int_equal(executor_runner_new(ops, NULL, "fake", &r), 0);
        executor_runner_ops.listen(r, on_change, NULL);
        return r;
}

static struct executor_runner *runner(void)
{
        return runner_of(&fake_ops);
}

static const struct plugin_executor_ops *ops = &executor_runner_ops;
static const char task_json[] = "{\"kind\":\"Task\"}";

static void test_start_end_logs(void **state)
{
        (void)state;
        struct executor_runner *r = runner();
        struct berth_error err = {0};
        struct plugin_attempt a;

        assert_int_equal(ops->observe(r, "u1", &a), -ENOENT);
        assert_int_equal(ops->start(r, "/k/1", "u1", 1, task_json, &err), 0);
        wait_told(1);
        assert_string_equal(F.last_key, "/k/1");
        assert_int_equal(ops->observe(r, "u1", &a), 0);
        assert_int_equal(a.state, PLUGIN_ATTEMPT_RUNNING);
        assert_string_equal(a.handle, "h0");
        assert_int_equal(a.attempt, 1);
        /* Idempotent per attempt. */
        assert_int_equal(ops->start(r, "/k/1", "u1", 1, task_json, &err), 0);

        /* The plugin ends it and says so: observed, with its output. */
        pthread_mutex_lock(&F.lock);
        F.state[0] = BERTH_EXECUTOR_ENDED;
        F.exit_code[0] = 3;
        pthread_mutex_unlock(&F.lock);
        executor_runner_changed(r, "h0");
        executor_runner_changed(r, "no-such-handle"); /* ignored */
        wait_told(2);
        assert_int_equal(ops->observe(r, "u1", &a), 0);
        assert_int_equal(a.state, PLUGIN_ATTEMPT_ENDED);
        assert_int_equal(a.exit_code, 3);
        assert_true(a.finished_ms > 0);
        char *out = NULL;
        size_t len = 0;
        assert_int_equal(ops->logs(r, "u1", &out, &len), 0);
        assert_string_equal(out, "output of h0\n");
        free(out);
        assert_int_equal(ops->logs(r, "u2", &out, &len), -ENOENT);

        /* A second attempt replaces the first, which the plugin forgets. */
        assert_int_equal(ops->start(r, "/k/1", "u1", 2, task_json, &err), 0);
        wait_flag(&F.forgotten[0]);
        wait_told(3);
        assert_int_equal(ops->observe(r, "u1", &a), 0);
        assert_int_equal(a.attempt, 2);
        assert_string_equal(a.handle, "h1");
        assert_int_equal(F.signals[0], 0); /* it had ended: no kill */
        executor_runner_free(r);
}

static void test_refused_and_invalid(void **state)
{
        (void)state;
        struct executor_runner *r = runner();
        struct berth_error err = {0};
        struct plugin_attempt a;

        F.refuse = "no such thing";
        assert_int_equal(ops->start(r, "/k/1", "u1", 1, task_json, &err), 0);
        wait_told(1);
        assert_int_equal(ops->observe(r, "u1", &a), 0);
        assert_int_equal(a.state, PLUGIN_ATTEMPT_START_FAILED);
        assert_string_equal(a.error, "no such thing");

        F.refuse = NULL;
        F.handle = "has space";
        assert_int_equal(ops->start(r, "/k/2", "u2", 1, task_json, &err), 0);
        wait_told(2);
        assert_int_equal(ops->observe(r, "u2", &a), 0);
        assert_int_equal(a.state, PLUGIN_ATTEMPT_START_FAILED);
        assert_non_null(strstr(a.error, "invalid handle"));

        assert_false(plugin_handle_is_valid(""));
        assert_false(plugin_handle_is_valid("a\tb"));
        assert_true(plugin_handle_is_valid("123.456"));
        char long_handle[PLUGIN_HANDLE_MAX + 1];
        memset(long_handle, 'x', sizeof(long_handle) - 1);
        long_handle[PLUGIN_HANDLE_MAX] = '\0';
        assert_false(plugin_handle_is_valid(long_handle));
        assert_int_equal(ops->adopt(r, "/k/3", "u3", 1, "bad handle", &err), -EINVAL);
        executor_runner_free(r);
}

static void test_signal_before_start_and_forget_live(void **state)
{
        (void)state;
        struct executor_runner *r = runner();
        struct berth_error err = {0};
        struct plugin_attempt a;

        F.hold_start = true;
        assert_int_equal(ops->start(r, "/k/1", "u1", 1, task_json, &err), 0);
        assert_int_equal(ops->observe(r, "u1", &a), 0);
        assert_int_equal(a.state, PLUGIN_ATTEMPT_STARTING);
        assert_string_equal(a.handle, "");
        /* A stop before the start is made: sent once it is. */
        assert_int_equal(ops->signal(r, "u1", SIGTERM), 0);
        assert_int_equal(ops->signal(r, "u1", SIGKILL), 0);
        assert_int_equal(ops->signal(r, "u1", SIGTERM), 0); /* SIGKILL stays */
        pthread_mutex_lock(&F.lock);
        F.hold_start = false;
        pthread_cond_broadcast(&F.cond);
        pthread_mutex_unlock(&F.lock);
        wait_told(1);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 10;
        pthread_mutex_lock(&F.lock);
        while (F.signals[0] == 0)
                assert_int_equal(pthread_cond_timedwait(&F.cond, &F.lock, &until), 0);
        assert_int_equal(F.signals[0], SIGKILL);
        F.signals[0] = 0;
        pthread_mutex_unlock(&F.lock);

        /* Forgetting a live attempt kills it, then forgets it. */
        ops->forget_key(r, "/k/1");
        wait_flag(&F.forgotten[0]);
        assert_int_equal(F.signals[0], SIGKILL);
        assert_int_equal(ops->observe(r, "u1", &a), -ENOENT);
        executor_runner_free(r);
}

static void test_adopt(void **state)
{
        (void)state;
        struct executor_runner *r = runner();
        struct berth_error err = {0};
        struct plugin_attempt a;

        /* h0 runs (the plugin knows it from before berthd's restart), h5 it
         * never heard of. */
        F.state[0] = BERTH_EXECUTOR_ENDED;
        F.exit_code[0] = 0;
        F.forgotten[5] = true;
        assert_int_equal(ops->adopt(r, "/k/1", "u1", 2, "h0", &err), 0);
        assert_int_equal(ops->adopt(r, "/k/2", "u2", 1, "h5", &err), 0);
        assert_int_equal(ops->observe(r, "u1", &a), 0);
        wait_told(2);
        assert_int_equal(ops->observe(r, "u1", &a), 0);
        assert_int_equal(a.state, PLUGIN_ATTEMPT_ENDED);
        assert_int_equal(a.attempt, 2);
        assert_int_equal(a.exit_code, 0);
        assert_int_equal(ops->observe(r, "u2", &a), 0);
        assert_int_equal(a.state, PLUGIN_ATTEMPT_LOST);
        /* The listener cleared: nothing is told any more. */
        ops->listen(r, NULL, NULL);
        ops->forget(r, "u1");
        executor_runner_free(r);
        assert_int_equal(F.told, 2);
}

static void test_full_table(void **state)
{
        (void)state;
        struct executor_runner *r = runner();
        struct berth_error err = {0};
        struct plugin_attempt a;
        char uid[32];

        /* A table of starts under way: nothing to evict, the next is refused. */
        F.hold_start = true;
        for (int i = 0; i < PLUGIN_RUNS_MAX; i++) {
                snprintf(uid, sizeof(uid), "u%d", i);
                assert_int_equal(ops->start(r, "/k", uid, 1, task_json, &err), 0);
        }
        assert_int_equal(ops->start(r, "/k", "one-more", 1, task_json, &err), -ENOSPC);
        assert_non_null(strstr(err.message, "attempts run already"));
        /* Once they have finished (refused, here), the oldest makes room. */
        pthread_mutex_lock(&F.lock);
        F.refuse = "no";
        F.hold_start = false;
        pthread_cond_broadcast(&F.cond);
        pthread_mutex_unlock(&F.lock);
        wait_told(PLUGIN_RUNS_MAX);
        F.refuse = NULL;
        assert_int_equal(ops->start(r, "/k", "one-more", 1, task_json, &err), 0);
        assert_int_equal(ops->observe(r, "one-more", &a), 0);
        int gone = 0;
        for (int i = 0; i < PLUGIN_RUNS_MAX; i++) {
                snprintf(uid, sizeof(uid), "u%d", i);
                gone += ops->observe(r, uid, &a) == -ENOENT;
        }
        assert_int_equal(gone, 1);
        executor_runner_free(r);
}

static int64_t clock_ms;
static int64_t fake_now(void)
{
        return clock_ms;
}

static void test_recheck_after_a_while(void **state)
{
        (void)state;
        struct executor_runner *r = runner();
        struct berth_error err = {0};
        struct plugin_attempt a;

        clock_ms = 1000000;
        executor_runner_set_clock(r, fake_now);
        assert_int_equal(ops->start(r, "/k/1", "u1", 1, task_json, &err), 0);
        wait_told(1); /* started, and asked once */
        assert_int_equal(F.observed, 1);
        /* Reconciled soon after: the answer is fresh, nothing is asked. */
        clock_ms += PLUGIN_RECHECK_MS - 1;
        assert_int_equal(ops->observe(r, "u1", &a), 0);
        assert_int_equal(a.state, PLUGIN_ATTEMPT_RUNNING);
        /* It ended, but the plugin's executor_changed got lost: the next
         * reconcile after the recheck time asks, and the Task hears. */
        pthread_mutex_lock(&F.lock);
        F.state[0] = BERTH_EXECUTOR_ENDED;
        F.exit_code[0] = 7;
        pthread_mutex_unlock(&F.lock);
        clock_ms += 1;
        assert_int_equal(ops->observe(r, "u1", &a), 0);
        wait_told(2);
        assert_int_equal(F.observed, 2);
        assert_int_equal(ops->observe(r, "u1", &a), 0);
        assert_int_equal(a.state, PLUGIN_ATTEMPT_ENDED);
        assert_int_equal(a.exit_code, 7);
        /* Ended attempts are not asked again. */
        clock_ms += 2 * PLUGIN_RECHECK_MS;
        assert_int_equal(ops->observe(r, "u1", &a), 0);
        executor_runner_free(r);
        assert_int_equal(F.observed, 2);
}

/* A plugin without logs has none to show; without forget, forgetting is
 * berthd's alone. */
static void test_optional_ops(void **state)
{
        (void)state;
        struct executor_runner *r = runner_of(&bare_ops);
        struct berth_error err = {0};
        char *out = NULL;
        size_t len = 0;

        assert_int_equal(ops->start(r, "/k/1", "u1", 1, task_json, &err), 0);
        wait_told(1);
        assert_int_equal(ops->logs(r, "u1", &out, &len), -ENOSYS);
        assert_null(out);
        ops->forget(r, "u1");
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 10;
        pthread_mutex_lock(&F.lock);
        while (F.signals[0] != SIGKILL) /* it ran: killed, then dropped */
                assert_int_equal(pthread_cond_timedwait(&F.cond, &F.lock, &until), 0);
        pthread_mutex_unlock(&F.lock);
        executor_runner_free(r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_start_end_logs),
            cmocka_unit_test(test_refused_and_invalid),
            cmocka_unit_test(test_signal_before_start_and_forget_live),
            cmocka_unit_test(test_adopt),
            cmocka_unit_test(test_full_table),
            cmocka_unit_test(test_recheck_after_a_while),
            cmocka_unit_test(test_optional_ops),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
