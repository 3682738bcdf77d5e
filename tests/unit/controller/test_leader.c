/* Unit tests for leader election, on a private SQLite store (leases and all):
 * two electors compete in one process. Real threads and short leases; waits
 * are bounded polls. */
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "controller.h"

#define KEY "/t/system/leader"

struct candidate {
        pthread_mutex_t lock;
        const char *name;
        int started;
        int stopped;
        bool leading;
        struct store_guard guard; /* key borrowed from KEY */
        char reason[128];
};

static int on_started(const struct store_guard *guard, void *userdata, struct berth_error *err)
{
        (void)err;
        struct candidate *c = userdata;
        pthread_mutex_lock(&c->lock);
        c->started++;
        c->leading = true;
        c->guard = (struct store_guard){.key = KEY, .mod_revision = guard->mod_revision};
        pthread_mutex_unlock(&c->lock);
        return 0;
}

static void on_stopped(const char *reason, void *userdata)
{
        struct candidate *c = userdata;
        pthread_mutex_lock(&c->lock);
        c->stopped++;
        c->leading = false;
        str_copy(c->reason, sizeof(c->reason), reason);
        pthread_mutex_unlock(&c->lock);
}

static bool leading(struct candidate *c, int *ret_started)
{
        pthread_mutex_lock(&c->lock);
        bool l = c->leading;
        if (ret_started)
                *ret_started = c->started;
        pthread_mutex_unlock(&c->lock);
        return l;
}

/* Polls until c leads (want true) or not, for up to ms. */
static bool wait_leading(struct candidate *c, bool want, int ms)
{
        for (int waited = 0; waited < ms; waited += 20) {
                if (leading(c, NULL) == want)
                        return true;
                sleep_ms(20);
        }
        return leading(c, NULL) == want;
}

struct fixture {
        char dir[PATH_MAX];
        struct store *store;
        struct candidate a, b;
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        snprintf(f->dir, sizeof(f->dir), "/tmp/berth-leader-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        _cleanup_free_ char *url = str_printf("sqlite:%s/db", f->dir);
        assert_int_equal(store_open(url, &f->store, NULL), 0);
        f->a = (struct candidate){.name = "a"};
        f->b = (struct candidate){.name = "b"};
        pthread_mutex_init(&f->a.lock, NULL);
        pthread_mutex_init(&f->b.lock, NULL);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        store_free(f->store);
        _cleanup_free_ char *db = str_printf("%s/db", f->dir);
        _cleanup_free_ char *wal = str_printf("%s/db-wal", f->dir);
        _cleanup_free_ char *shm = str_printf("%s/db-shm", f->dir);
        unlink(db);
        unlink(wal);
        unlink(shm);
        rmdir(f->dir);
        pthread_mutex_destroy(&f->a.lock);
        pthread_mutex_destroy(&f->b.lock);
        free(f);
        return 0;
}

static struct leader_elector *start_retry(struct fixture *f, struct candidate *c, int64_t retry_ms)
{
        struct leader_config cfg = {
            .store = f->store,
            .key = KEY,
            .identity = c->name,
            .lease_ms = 3000,
            .renew_ms = 300,
            .retry_ms = retry_ms,
            .started_leading = on_started,
            .stopped_leading = on_stopped,
            .userdata = c,
        };
        struct leader_elector *e = NULL;
        struct berth_error err = {0};
        int r = leader_elector_new(&cfg, &e, &err);
        if (r < 0)
                print_error("leader_elector_new: %s\n", err.message);
        assert_int_equal(r, 0);
        return e;
}

static struct leader_elector *start(struct fixture *f, struct candidate *c)
{
        return start_retry(f, c, 100);
}

static void test_one_leader_and_handover(void **state)
{
        struct fixture *f = *state;
        struct leader_elector *ea = start(f, &f->a);
        assert_true(wait_leading(&f->a, true, 3000));
        assert_string_equal(leader_elector_identity(ea), "a");

        struct leader_elector *eb = start(f, &f->b);
        sleep_ms(500);
        assert_false(leading(&f->b, NULL));
        struct leader_info info;
        leader_elector_info(eb, &info);
        assert_true(info.known);
        assert_string_equal(info.holder, "a");
        assert_false(info.self);
        assert_int_equal(info.lease_duration_s, 3);
        leader_elector_info(ea, &info);
        assert_true(info.self);

        /* The leader's fence holds; writes with it go through. */
        struct store_guard ga = f->a.guard;
        assert_int_equal(
            store_put_guarded(f->store, "/t/x", "1", 1, STORE_ANY_REVISION, 0, &ga, NULL, NULL), 0);

        /* A clean stop: workers stop, the lease is revoked, b takes over at once
         * (well before a's lease of 3 s could have expired). */
        int64_t t0 = time_mono_ms();
        leader_elector_free(ea);
        assert_int_equal(f->a.stopped, 1);
        assert_string_equal(f->a.reason, "shutdown");
        assert_true(wait_leading(&f->b, true, 2000));
        assert_true(time_mono_ms() - t0 < 2000);

        /* a's fence is gone: its late writes are refused. */
        struct berth_error err = {0};
        assert_int_equal(
            store_put_guarded(f->store, "/t/x", "2", 1, STORE_ANY_REVISION, 0, &ga, NULL, &err),
            -EPERM);
        assert_non_null(strstr(err.message, "not the leader any more"));
        assert_true(f->b.guard.mod_revision > ga.mod_revision);
        leader_elector_free(eb);
        assert_int_equal(f->b.stopped, 1);
}

/* A follower watches the key: it takes over when the leader steps down, not
 * when its next look is due (a minute away here). */
static void test_follower_watches_key(void **state)
{
        struct fixture *f = *state;
        struct leader_elector *ea = start(f, &f->a);
        assert_true(wait_leading(&f->a, true, 3000));
        struct leader_elector *eb = start_retry(f, &f->b, 60000);
        struct leader_info info = {0};
        for (int i = 0; i < 300 && !info.known; i++) {
                sleep_ms(10);
                leader_elector_info(eb, &info);
        }
        assert_string_equal(info.holder, "a");

        leader_elector_free(ea);
        assert_true(wait_leading(&f->b, true, 10000));
        leader_elector_free(eb);
}

static void test_lost_lease_steps_down(void **state)
{
        struct fixture *f = *state;
        struct leader_elector *ea = start(f, &f->a);
        assert_true(wait_leading(&f->a, true, 3000));
        struct store_guard first = f->a.guard;

        /* The lease disappears under the leader (as when it expired): the next
         * keepalive notices, the workers stop, and a new term starts. */
        struct store_kv kv = {0};
        assert_int_equal(store_get(f->store, KEY, &kv, NULL), 0);
        assert_true(kv.lease > 0);
        assert_int_equal(store_lease_revoke(f->store, kv.lease, NULL), 0);
        store_kv_release(&kv);

        int started = 0;
        for (int waited = 0; waited < 3000; waited += 20) {
                leading(&f->a, &started);
                if (started >= 2)
                        break;
                sleep_ms(20);
        }
        assert_int_equal(started, 2);
        pthread_mutex_lock(&f->a.lock);
        assert_int_equal(f->a.stopped, 1);
        assert_string_equal(f->a.reason, "lease expired");
        struct store_guard second = f->a.guard;
        pthread_mutex_unlock(&f->a.lock);
        assert_true(second.mod_revision > first.mod_revision);
        assert_int_equal(
            store_put_guarded(f->store, "/t/y", "1", 1, STORE_ANY_REVISION, 0, &first, NULL, NULL),
            -EPERM);
        assert_int_equal(
            store_put_guarded(f->store, "/t/y", "1", 1, STORE_ANY_REVISION, 0, &second, NULL, NULL),
            0);
        leader_elector_free(ea);
}

static void test_rewritten_key_steps_down(void **state)
{
        struct fixture *f = *state;
        struct leader_elector *ea = start(f, &f->a);
        assert_true(wait_leading(&f->a, true, 3000));
        /* Someone overwrites the key (an operator): the leader must notice. */
        struct store_kv kv = {0};
        assert_int_equal(store_get(f->store, KEY, &kv, NULL), 0);
        assert_int_equal(store_put(f->store, KEY, "{\"holder\":\"x\"}", 14, kv.mod_revision,
                                   kv.lease, NULL, NULL),
                         0);
        store_kv_release(&kv);
        /* It steps down (and, having revoked its lease, may lead again at once). */
        int stopped = 0;
        for (int waited = 0; waited < 3000 && stopped == 0; waited += 20) {
                pthread_mutex_lock(&f->a.lock);
                stopped = f->a.stopped;
                pthread_mutex_unlock(&f->a.lock);
                sleep_ms(20);
        }
        assert_int_equal(stopped, 1);
        pthread_mutex_lock(&f->a.lock);
        assert_string_equal(f->a.reason, "leader key rewritten");
        pthread_mutex_unlock(&f->a.lock);
        leader_elector_free(ea);
}

static void test_config_errors(void **state)
{
        struct fixture *f = *state;
        struct leader_elector *e = NULL;
        struct berth_error err = {0};
        struct leader_config cfg = {.store = f->store, .key = KEY, .lease_ms = 1000};
        assert_int_equal(leader_elector_new(&cfg, &e, &err), -EINVAL);
        cfg = (struct leader_config){
            .store = f->store, .key = KEY, .lease_ms = 6000, .renew_ms = 5000};
        assert_int_equal(leader_elector_new(&cfg, &e, &err), -EINVAL);
        assert_non_null(strstr(err.message, "renew"));
        cfg = (struct leader_config){.store = f->store, .key = NULL};
        assert_int_equal(leader_elector_new(&cfg, &e, &err), -EINVAL);
        assert_null(e);
        leader_elector_free(NULL);

        char id[LEADER_ID_MAX];
        assert_int_equal(leader_default_identity(id), 0);
        char pid[32];
        snprintf(pid, sizeof(pid), "-%ld-", (long)getpid());
        assert_non_null(strstr(id, pid));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
            cmocka_unit_test_setup_teardown(test_one_leader_and_handover, setup, teardown),
            cmocka_unit_test_setup_teardown(test_follower_watches_key, setup, teardown),
            cmocka_unit_test_setup_teardown(test_lost_lease_steps_down, setup, teardown),
            cmocka_unit_test_setup_teardown(test_rewritten_key_steps_down, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
