/* The notify pipeline on a real SQLite store and object cache, with a fake
 * delivery type (a plugin, the hook berthd would register more types
 * with): Events in, deliveries out — the selector, one delivery per
 * Notifier, Recovered after a failed run of that name, retries with the
 * same id, the bounded queue dropping and counting, failures and
 * lastError, statuses written and counts continued, a deleted Notifier's
 * queue dropped, nothing taken before notify_start or after notify_stop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "metrics.h"
#include "notify-internal.h"
#include "test-support.h"
#include "tmp-store.h"

#define PREFIX "/berth/"

/* The fake type: records every attempt; fails the first `fail` of them
 * (retry as `retry` says); holds attempts while `hold` is set. */
struct fake {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        int attempts;
        int fail;
        bool retry;
        bool hold;
        int holding; /* attempts waiting on hold */
        char ids[64][RANDOM_UID_LEN];
        char outcomes[64][EVENT_REASON_MAX + 1];
        char notifiers[64][64];
        char summary[512];
        int attempt_no[64];
};

static int fake_deliver(const struct notify_delivery *d, struct notify_result *ret, void *userdata)
{
        struct fake *f = userdata;
        int i;

        pthread_mutex_lock(&f->lock);
        f->holding++;
        pthread_cond_broadcast(&f->cond);
        while (f->hold)
                pthread_cond_wait(&f->cond, &f->lock);
        f->holding--;
        i = f->attempts++;
        if (i < 64) {
                (void)str_copy(f->ids[i], sizeof(f->ids[i]), d->id);
                (void)str_copy(f->outcomes[i], sizeof(f->outcomes[i]), d->outcome);
                (void)str_copy(f->notifiers[i], sizeof(f->notifiers[i]), d->notifier_name);
                f->attempt_no[i] = d->attempt;
        }
        (void)str_copy(f->summary, sizeof(f->summary), d->summary);
        bool fail = f->fail > 0;
        if (fail)
                f->fail--;
        pthread_cond_broadcast(&f->cond);
        pthread_mutex_unlock(&f->lock);
        if (!fail)
                return 0;
        ret->code = 503;
        ret->retry = f->retry;
        snprintf(ret->error, sizeof(ret->error), "fake says no");
        return -EPROTO;
}

struct fixture {
        char dir[64];
        struct store *store;
        struct object_cache *cache;
        struct notify *notify;
        struct fake fake;
        int64_t retry_base_ms; /* 0: 20 ms */
        int64_t stop_ms;       /* the last store_pending's */
};

static int64_t put(struct fixture *f, const char *key, json_t *obj)
{
        _cleanup_free_ char *data = json_dumps(obj, JSON_COMPACT);
        struct berth_error err = {0};
        int64_t rev = 0;

        assert_non_null(data);
        assert_int_equal(
            store_put(f->store, key, data, strlen(data), STORE_ANY_REVISION, 0, &rev, &err), 0);
        assert_int_equal(object_cache_wait_revision(f->cache, rev, 5000), 0);
        json_decref(obj);
        return rev;
}

static void put_notifier(struct fixture *f, const char *name, const char *uid, const char *team,
                         const char *on)
{
        _cleanup_free_ char *key = object_key(PREFIX, "notifiers", "default", name);
        json_t *obj =
            json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:s, s:o, s:{}}}", "apiVersion", "berth/v1",
                      "kind", "Notifier", "metadata", "name", name, "namespace", "default", "uid",
                      uid, "spec", "type", "fake", "on", json_loads(on, 0, NULL), "fake");

        assert_non_null(obj);
        if (team)
                assert_int_equal(
                    json_path_set_new(obj, "spec.selector.matchLabels.team", json_string(team)), 0);
        put(f, key, obj);
}

static void put_task(struct fixture *f, const char *name, const char *uid, const char *team,
                     const char *phase, const char *reason)
{
        _cleanup_free_ char *key = object_key(PREFIX, "tasks", "default", name);

        put(f, key,
            json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:{s:s}}, s:{s:s, s:s}}", "apiVersion",
                      "berth/v1", "kind", "Task", "metadata", "name", name, "namespace", "default",
                      "uid", uid, "labels", "team", team, "status", "phase", phase, "reason",
                      reason));
}

static json_t *event(const char *name, const char *uid, const char *reason, const char *message)
{
        return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s}, s:s, s:s, s:s, s:i}",
                         "apiVersion", "berth/v1", "kind", "Event", "metadata", "name", "ev",
                         "namespace", "default", "involvedObject", "kind", "Task", "namespace",
                         "default", "name", name, "uid", uid, "type", "Warning", "reason", reason,
                         "message", message, "count", 1);
}

static void send_event(struct fixture *f, const char *name, const char *uid, const char *reason,
                       const char *message)
{
        _cleanup_json_ json_t *ev = event(name, uid, reason, message);

        notify_event(ev, f->notify);
}

static json_t *notifier_status(struct fixture *f, const char *name)
{
        _cleanup_free_ char *key = object_key(PREFIX, "notifiers", "default", name);
        _cleanup_json_ json_t *obj = object_cache_get(f->cache, key, NULL);

        assert_non_null(obj);
        return json_incref(json_object_get(obj, "status"));
}

static int attempts(struct fixture *f)
{
        LOCK_SCOPE(&f->fake.lock);
        return f->fake.attempts;
}

static int start_notify(struct fixture *f, size_t queue_max)
{
        const struct notify_type plugins[] = {
            {.name = "fake", .deliver = fake_deliver, .userdata = &f->fake},
        };
        const struct notify_config cfg = {
            .objects = f->cache,
            .store = f->store,
            .prefix = PREFIX,
            .plugins = plugins,
            .n_plugins = 1,
            .workers = 2,
            .queue_max = queue_max,
            .retry_base_ms = f->retry_base_ms ? f->retry_base_ms : 20,
            .retry_max_ms = f->retry_base_ms ? f->retry_base_ms : 100,
            .status_interval_ms = 50,
        };
        struct berth_error err = {0};

        return notify_new(&cfg, &f->notify, &err);
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        struct berth_error err = {0};

        assert_non_null(f);
        tmp_store_open("notify", f->dir, &f->store);
        assert_int_equal(object_cache_new(f->store, PREFIX, NULL, NULL, &f->cache, &err), 0);
        assert_int_equal(object_cache_wait_synced(f->cache, 5000), 0);
        pthread_mutex_init(&f->fake.lock, NULL);
        pthread_cond_init(&f->fake.cond, NULL);
        assert_int_equal(start_notify(f, 0), 0);
        notify_start(f->notify, NULL);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        notify_free(f->notify);
        object_cache_free(f->cache);
        tmp_store_close(f->dir, f->store);
        pthread_cond_destroy(&f->fake.cond);
        pthread_mutex_destroy(&f->fake.lock);
        free(f);
        return 0;
}

static void test_selector_and_outcomes(void **state)
{
        struct fixture *f = *state;

        put_notifier(f, "data", "n1", "data", "[\"Failed\", \"Recovered\"]");
        put_notifier(f, "web", "n2", "web", "[\"Failed\"]");
        put_notifier(f, "all", "n3", NULL, "[\"Succeeded\", \"ScheduleMissed\"]");
        put_task(f, "etl", "t1", "data", "Failed", "Error");

        send_event(f, "etl", "t1", "Failed", "Error: exit code 1");
        assert_int_equal(notify_flush(f->notify, 5000), 0);
        /* data matches; web's selector does not; all is not on Failed. */
        assert_int_equal(attempts(f), 1);
        assert_string_equal(f->fake.notifiers[0], "data");
        assert_string_equal(f->fake.outcomes[0], "Failed");
        assert_string_equal(f->fake.summary, "Failed: Task default/etl: Error: exit code 1");

        /* Deleted and applied again, and this time it succeeds. */
        put_task(f, "etl", "t2", "data", "Succeeded", "Completed");
        send_event(f, "etl", "t2", "Completed", "exit code 0");
        assert_int_equal(notify_flush(f->notify, 5000), 0);
        assert_int_equal(attempts(f), 3);
        /* data on Recovered; all (no selector) on Succeeded. One each. */
        int data = f->fake.notifiers[1][0] == 'd' ? 1 : 2;
        assert_string_equal(f->fake.notifiers[data], "data");
        assert_string_equal(f->fake.outcomes[data], "Recovered");
        assert_string_equal(f->fake.notifiers[3 - data], "all");
        assert_string_equal(f->fake.outcomes[3 - data], "Succeeded");

        /* A success after a success is no recovery. */
        put_task(f, "etl", "t3", "data", "Succeeded", "Completed");
        send_event(f, "etl", "t3", "Completed", "exit code 0");
        assert_int_equal(notify_flush(f->notify, 5000), 0);
        assert_int_equal(attempts(f), 4);
        assert_string_equal(f->fake.notifiers[3], "all");

        /* Another reason, for its own word. */
        send_event(f, "etl", "t3", "ScheduleMissed", "missed 1 scheduled run");
        assert_int_equal(notify_flush(f->notify, 5000), 0);
        assert_int_equal(attempts(f), 5);
        assert_string_equal(f->fake.outcomes[4], "ScheduleMissed");

        /* Statuses: one delivery each, the last one's details. */
        _cleanup_json_ json_t *st = notifier_status(f, "data");
        assert_int_equal(json_path_int(st, "delivered", -1), 2);
        assert_int_equal(json_path_int(st, "failures", -1), 0);
        assert_int_equal(json_path_int(st, "dropped", -1), 0);
        assert_string_equal(json_path_string(st, "lastDelivery.result"), "Sent");
        assert_string_equal(json_path_string(st, "lastDelivery.event"), "Recovered");
        assert_string_equal(json_path_string(st, "lastDelivery.object.name"), "etl");
        assert_int_equal(json_path_int(st, "lastDelivery.attempts", 0), 1);
        assert_null(json_object_get(st, "lastError"));
        double sent = 0;
        assert_int_equal(
            metrics_find("berth_notifications_total{notifier=\"default/data\",result=\"sent\"}",
                         &sent),
            0);
        assert_true(sent >= 2);
        uint64_t n_sent = 0;
        notify_stats(f->notify, &n_sent, NULL, NULL, NULL);
        assert_int_equal(n_sent, 5);
}

/* A CronTask's runs have names of their own: a run recovers when the
 * CronTask's previous run failed. */
static void test_crontask_runs(void **state)
{
        struct fixture *f = *state;
        const char *runs[] = {"nightly-29000000", "nightly-29001440", "nightly-29002880"};
        const char *uids[] = {"r1", "r2", "r3"};
        const char *reasons[] = {"Failed", "Completed", "Completed"};

        put_notifier(f, "data", "n1", "data", "[\"Recovered\"]");
        for (size_t i = 0; i < ARRAY_SIZE(runs); i++) {
                _cleanup_free_ char *key = object_key(PREFIX, "tasks", "default", runs[i]);
                put(f, key,
                    json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:{s:s, s:s}, s:[{s:s, s:s, s:s, "
                              "s:b}]}}",
                              "apiVersion", "berth/v1", "kind", "Task", "metadata", "name", runs[i],
                              "namespace", "default", "uid", uids[i], "labels", "team", "data",
                              CRONTASK_LABEL, "nightly", "ownerReferences", "kind", "CronTask",
                              "name", "nightly", "uid", "c1", "controller", 1));
                send_event(f, runs[i], uids[i], reasons[i], "exit code 0");
                assert_int_equal(notify_flush(f->notify, 5000), 0);
        }
        /* Only the run after the failed one. */
        assert_int_equal(attempts(f), 1);
        assert_string_equal(f->fake.outcomes[0], "Recovered");
        assert_non_null(strstr(f->fake.summary, "nightly-29001440"));
}

static void test_retries(void **state)
{
        struct fixture *f = *state;

        put_notifier(f, "data", "n1", "data", "[\"Failed\"]");
        put_task(f, "etl", "t1", "data", "Failed", "Error");
        f->fake.fail = 2;
        f->fake.retry = true;
        send_event(f, "etl", "t1", "Failed", "Error: exit code 1");
        assert_int_equal(notify_flush(f->notify, 5000), 0);
        /* Two failures, then sent: one delivery, one id, attempts 1..3. */
        assert_int_equal(attempts(f), 3);
        assert_string_equal(f->fake.ids[0], f->fake.ids[2]);
        assert_int_equal(f->fake.attempt_no[2], 3);
        _cleanup_json_ json_t *st = notifier_status(f, "data");
        assert_int_equal(json_path_int(st, "delivered", -1), 1);
        assert_int_equal(json_path_int(st, "failures", -1), 0);
        assert_int_equal(json_path_int(st, "lastDelivery.attempts", 0), 3);
        /* The failed attempts' error stays for whoever looks. */
        assert_string_equal(json_path_string(st, "lastError"), "fake says no");

        /* Not worth a retry: failed at once. */
        f->fake.fail = 1;
        f->fake.retry = false;
        send_event(f, "etl", "t1", "Failed", "Error: exit code 1");
        assert_int_equal(notify_flush(f->notify, 5000), 0);
        assert_int_equal(attempts(f), 4);
        /* Retries run out: spec.maxAttempts of a plugin is 5. */
        f->fake.fail = 10;
        f->fake.retry = true;
        send_event(f, "etl", "t1", "Failed", "Error: exit code 1");
        assert_int_equal(notify_flush(f->notify, 5000), 0);
        assert_int_equal(attempts(f), 9);
        json_decref(st);
        st = notifier_status(f, "data");
        assert_int_equal(json_path_int(st, "delivered", -1), 1);
        assert_int_equal(json_path_int(st, "failures", -1), 2);
        assert_string_equal(json_path_string(st, "lastDelivery.result"), "Failed");
        assert_int_equal(json_path_int(st, "lastDelivery.code", 0), 503);
        assert_int_equal(json_path_int(st, "lastDelivery.attempts", 0), 5);
        uint64_t failed = 0;
        notify_stats(f->notify, NULL, &failed, NULL, NULL);
        assert_int_equal(failed, 2);
}

static void test_bounded_queue(void **state)
{
        struct fixture *f = *state;

        /* A queue of 4. */
        notify_free(f->notify);
        assert_int_equal(start_notify(f, 4), 0);
        notify_start(f->notify, NULL);
        put_notifier(f, "data", "n1", "data", "[\"Failed\"]");
        put_task(f, "etl", "t1", "data", "Failed", "Error");
        pthread_mutex_lock(&f->fake.lock);
        f->fake.hold = true;
        pthread_mutex_unlock(&f->fake.lock);
        for (int i = 0; i < 10; i++) {
                send_event(f, "etl", "t1", "Failed", "Error: exit code 1");
                if (i == 0) { /* the first is being delivered: the head of the queue */
                        pthread_mutex_lock(&f->fake.lock);
                        while (f->fake.holding == 0)
                                pthread_cond_wait(&f->fake.cond, &f->fake.lock);
                        pthread_mutex_unlock(&f->fake.lock);
                }
        }
        uint64_t queued = 0, dropped = 0;
        notify_stats(f->notify, NULL, NULL, &dropped, &queued);
        assert_int_equal(queued, 4);
        assert_int_equal(dropped, 6);
        pthread_mutex_lock(&f->fake.lock);
        f->fake.hold = false;
        pthread_cond_broadcast(&f->fake.cond);
        pthread_mutex_unlock(&f->fake.lock);
        assert_int_equal(notify_flush(f->notify, 5000), 0);
        assert_int_equal(attempts(f), 4);
        _cleanup_json_ json_t *st = notifier_status(f, "data");
        assert_int_equal(json_path_int(st, "delivered", -1), 4);
        assert_int_equal(json_path_int(st, "dropped", -1), 6);
        double d = 0;
        assert_int_equal(
            metrics_find("berth_notifications_dropped_total{notifier=\"default/data\"}", &d), 0);
        assert_true(d >= 6);

        /* A new berthd continues the stored counts. */
        notify_free(f->notify);
        assert_int_equal(start_notify(f, 4), 0);
        notify_start(f->notify, NULL);
        send_event(f, "etl", "t1", "Failed", "Error: exit code 1");
        assert_int_equal(notify_flush(f->notify, 5000), 0);
        json_decref(st);
        st = notifier_status(f, "data");
        assert_int_equal(json_path_int(st, "delivered", -1), 5);
        assert_int_equal(json_path_int(st, "dropped", -1), 6);
}

static void test_gone_and_stopped(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *key = object_key(PREFIX, "notifiers", "default", "data");
        struct berth_error err = {0};
        int64_t rev = 0;

        put_notifier(f, "data", "n1", "data", "[\"Failed\"]");
        put_task(f, "etl", "t1", "data", "Failed", "Error");
        /* Not started: nothing. */
        notify_stop(f->notify);
        send_event(f, "etl", "t1", "Failed", "Error: exit code 1");
        assert_int_equal(notify_flush(f->notify, 1000), 0);
        assert_int_equal(attempts(f), 0);
        notify_start(f->notify, NULL);

        /* Deleted while its deliveries wait: they go, uncounted. */
        pthread_mutex_lock(&f->fake.lock);
        f->fake.hold = true;
        pthread_mutex_unlock(&f->fake.lock);
        send_event(f, "etl", "t1", "Failed", "Error: exit code 1");
        send_event(f, "etl", "t1", "Failed", "Error: exit code 1");
        pthread_mutex_lock(&f->fake.lock);
        while (f->fake.holding == 0)
                pthread_cond_wait(&f->fake.cond, &f->fake.lock);
        pthread_mutex_unlock(&f->fake.lock);
        assert_int_equal(store_delete(f->store, key, STORE_ANY_REVISION, &rev, &err), 0);
        assert_int_equal(object_cache_wait_revision(f->cache, rev, 5000), 0);
        pthread_mutex_lock(&f->fake.lock);
        f->fake.hold = false;
        pthread_cond_broadcast(&f->fake.cond);
        pthread_mutex_unlock(&f->fake.lock);
        assert_int_equal(notify_flush(f->notify, 5000), 0);
        /* The one in flight went out; the one queued found its Notifier gone. */
        assert_int_equal(attempts(f), 1);
        uint64_t queued = 9;
        notify_stats(f->notify, NULL, NULL, NULL, &queued);
        assert_int_equal(queued, 0);

        /* Another Notifier of that name: a state of its own. */
        put_notifier(f, "data", "n9", "data", "[\"Failed\"]");
        send_event(f, "etl", "t1", "Failed", "Error: exit code 1");
        assert_int_equal(notify_flush(f->notify, 5000), 0);
        assert_int_equal(attempts(f), 2);
        _cleanup_json_ json_t *st = notifier_status(f, "data");
        assert_int_equal(json_path_int(st, "delivered", -1), 1);
}

/* ---- the outcome memory across restarts ------------------------------------------ */

static bool stored(struct fixture *f, const char *kind, const char *name, struct outcome_value *ret)
{
        _cleanup_free_ char *key = outcome_key(PREFIX, kind, "default", name);
        struct store_kv kv = {0};
        struct berth_error err = {0};
        char why[128];

        if (store_get(f->store, key, &kv, &err) < 0)
                return false;
        int r = outcome_value_decode(kv.value, kv.value_len, ret, why);
        store_kv_release(&kv);
        assert_int_equal(r, 0);
        return true;
}

/* A new berthd (or a new leader) on the same store. */
static void restart(struct fixture *f)
{
        notify_free(f->notify);
        f->notify = NULL;
        assert_int_equal(start_notify(f, 0), 0);
        notify_start(f->notify, NULL);
}

static void test_recovered_after_restart(void **state)
{
        struct fixture *f = *state;
        struct outcome_value v;
        uint64_t written = 0;
        size_t remembered = 0;

        put_notifier(f, "data", "n1", "data", "[\"Recovered\"]");
        put_task(f, "etl", "t1", "data", "Failed", "Error");
        send_event(f, "etl", "t1", "Failed", "Error: exit code 1");
        assert_int_equal(notify_flush(f->notify, 5000), 0);
        assert_true(stored(f, "Task", "etl", &v));
        assert_int_equal(v.result, RUN_FAILED);
        assert_string_equal(v.uid, "t1");
        notify_outcome_stats(f->notify, &written, NULL, NULL);
        assert_int_equal(written, 1);

        /* The failure outlives berthd: deleted, applied again, succeeds. */
        restart(f);
        notify_outcome_stats(f->notify, NULL, NULL, &remembered);
        assert_int_equal(remembered, 1);
        put_task(f, "etl", "t2", "data", "Succeeded", "Completed");
        send_event(f, "etl", "t2", "Completed", "exit code 0");
        assert_int_equal(notify_flush(f->notify, 5000), 0);
        assert_int_equal(attempts(f), 1);
        assert_string_equal(f->fake.outcomes[0], "Recovered");
        assert_true(stored(f, "Task", "etl", &v));
        assert_int_equal(v.result, RUN_SUCCEEDED);
        assert_int_equal(v.before, RUN_FAILED);

        /* And the success does too: another success after a restart is
         * none; the same run told again is the recovery again (as in one
         * berthd's life). */
        restart(f);
        put_task(f, "etl", "t3", "data", "Succeeded", "Completed");
        send_event(f, "etl", "t3", "Completed", "exit code 0");
        assert_int_equal(notify_flush(f->notify, 5000), 0);
        assert_int_equal(attempts(f), 1);
        /* t3 changed nothing stored (same result, a moment later): no write. */
        notify_outcome_stats(f->notify, &written, NULL, NULL);
        assert_int_equal(written, 0);
        assert_true(stored(f, "Task", "etl", &v));
        assert_string_equal(v.uid, "t2");
}

/* Outcomes are written only where a Notifier asks for Recovered. */
static void test_outcomes_only_for_recovered(void **state)
{
        struct fixture *f = *state;
        struct outcome_value v;
        uint64_t written = 9;

        put_notifier(f, "data", "n1", "data", "[\"Failed\", \"Succeeded\"]");
        put_task(f, "etl", "t1", "data", "Failed", "Error");
        send_event(f, "etl", "t1", "Failed", "Error: exit code 1");
        assert_int_equal(notify_flush(f->notify, 5000), 0);
        assert_int_equal(attempts(f), 1);
        assert_false(stored(f, "Task", "etl", &v));
        notify_outcome_stats(f->notify, &written, NULL, NULL);
        assert_int_equal(written, 0);
        /* In memory it is still a recovery, once a Notifier asks. */
        put_notifier(f, "rec", "n2", NULL, "[\"Recovered\"]");
        put_task(f, "etl", "t2", "data", "Succeeded", "Completed");
        send_event(f, "etl", "t2", "Completed", "exit code 0");
        assert_int_equal(notify_flush(f->notify, 5000), 0);
        assert_int_equal(attempts(f), 3);
        assert_true(stored(f, "Task", "etl", &v));
        assert_int_equal(v.result, RUN_SUCCEEDED);
}

static void put_value(struct fixture *f, const char *name, const char *value)
{
        _cleanup_free_ char *key = outcome_key(PREFIX, "Task", "default", name);
        struct berth_error err = {0};
        int64_t rev = 0;

        assert_int_equal(
            store_put(f->store, key, value, strlen(value), STORE_ANY_REVISION, 0, &rev, &err), 0);
}

/* notify_start deletes what is expired, undecodable or beyond the bound,
 * and loads the rest; a full memory deletes what it forgets. */
static void test_outcomes_load_and_bound(void **state)
{
        struct fixture *f = *state;
        struct outcome_value v;
        char at[RFC3339_MAX], value[256];
        size_t remembered = 0;

        time_format_rfc3339_ms(time_now_ms() - 8LL * 24 * 3600 * 1000, at);
        snprintf(value, sizeof(value), "{\"uid\":\"x\",\"result\":\"Failed\",\"at\":\"%s\"}", at);
        put_value(f, "expired", value);
        put_value(f, "junk", "{\"result\": 42}");
        for (int i = 0; i < 3; i++) {
                char name[16];
                snprintf(name, sizeof(name), "t%d", i);
                time_format_rfc3339_ms(time_now_ms() - 1000 * (3 - i), at);
                snprintf(value, sizeof(value),
                         "{\"uid\":\"%s\",\"result\":\"Failed\",\"at\":\"%s\"}", name, at);
                put_value(f, name, value);
        }
        /* A memory of 2 outcomes. */
        notify_free(f->notify);
        const struct notify_type plugins[] = {
            {.name = "fake", .deliver = fake_deliver, .userdata = &f->fake},
        };
        const struct notify_config cfg = {
            .objects = f->cache,
            .store = f->store,
            .prefix = PREFIX,
            .plugins = plugins,
            .n_plugins = 1,
            .outcomes_max = 2,
        };
        struct berth_error err = {0};
        assert_int_equal(notify_new(&cfg, &f->notify, &err), 0);
        notify_start(f->notify, NULL);
        assert_int_equal(notify_flush(f->notify, 5000), 0);
        notify_outcome_stats(f->notify, NULL, NULL, &remembered);
        assert_int_equal(remembered, 2);
        assert_false(stored(f, "Task", "expired", &v));
        assert_false(stored(f, "Task", "t0", &v)); /* the oldest beyond 2 */
        assert_true(stored(f, "Task", "t1", &v));
        assert_true(stored(f, "Task", "t2", &v));
        _cleanup_free_ char *junk = outcome_key(PREFIX, "Task", "default", "junk");
        struct store_kv kv = {0};
        assert_int_equal(store_get(f->store, junk, &kv, &err), -ENOENT);

        /* A new name makes the memory forget its oldest, t1: so does the
         * store. */
        put_notifier(f, "rec", "n1", NULL, "[\"Recovered\"]");
        put_task(f, "new", "t9", "data", "Failed", "Error");
        send_event(f, "new", "t9", "Failed", "Error: exit code 1");
        assert_int_equal(notify_flush(f->notify, 5000), 0);
        assert_true(stored(f, "Task", "new", &v));
        assert_false(stored(f, "Task", "t1", &v));
        assert_true(stored(f, "Task", "t2", &v));
        /* t2 is still a failure to recover from. */
        put_task(f, "t2", "t2b", "data", "Succeeded", "Completed");
        send_event(f, "t2", "t2b", "Completed", "exit code 0");
        assert_int_equal(notify_flush(f->notify, 5000), 0);
        assert_int_equal(attempts(f), 1);
        assert_string_equal(f->fake.outcomes[0], "Recovered");
}

/* Under a fence that moved (another leader), nothing is written and the
 * outcome counts as not stored. */
static void test_outcomes_fenced(void **state)
{
        struct fixture *f = *state;
        struct outcome_value v;
        struct berth_error err = {0};
        int64_t rev = 0;

        assert_int_equal(
            store_put(f->store, PREFIX "system/leader", "{}", 2, STORE_ANY_REVISION, 0, &rev, &err),
            0);
        const struct store_guard fence = {.key = PREFIX "system/leader", .mod_revision = rev};
        notify_stop(f->notify);
        notify_start(f->notify, &fence);
        put_notifier(f, "rec", "n1", NULL, "[\"Recovered\"]");
        /* Another leader takes over. */
        assert_int_equal(
            store_put(f->store, PREFIX "system/leader", "{}", 2, STORE_ANY_REVISION, 0, &rev, &err),
            0);
        put_task(f, "etl", "t1", "data", "Failed", "Error");
        send_event(f, "etl", "t1", "Failed", "Error: exit code 1");
        assert_int_equal(notify_flush(f->notify, 5000), 0);
        assert_false(stored(f, "Task", "etl", &v));
        uint64_t written = 9, dropped = 0;
        notify_outcome_stats(f->notify, &written, &dropped, NULL);
        assert_int_equal(written, 0);
        /* Stopped: what would be written is dropped. */
        notify_stop(f->notify);
        send_event(f, "etl", "t1", "Failed", "Error: exit code 1");
        notify_outcome_stats(f->notify, &written, NULL, NULL);
        assert_int_equal(written, 0);
}

/* ---- deliveries handed over at a stop --------------------------------------------- */

static void hold(struct fixture *f, bool on)
{
        LOCK_SCOPE(&f->fake.lock);
        f->fake.hold = on;
        pthread_cond_broadcast(&f->fake.cond);
}

static void wait_holding(struct fixture *f)
{
        LOCK_SCOPE(&f->fake.lock);
        while (f->fake.holding == 0)
                pthread_cond_wait(&f->fake.cond, &f->fake.lock);
}

static void wait_attempts(struct fixture *f, int n)
{
        LOCK_SCOPE(&f->fake.lock);
        while (f->fake.attempts < n)
                pthread_cond_wait(&f->fake.cond, &f->fake.lock);
}

/* What the store holds under notify-data/pending/ (all of it: bad ones in
 * ret->n_bad). Caller releases. */
static size_t stored_pending(struct fixture *f, struct pending_load *ret)
{
        struct berth_error err = {0};

        assert_int_equal(
            pending_load_read(f->store, PREFIX, 100000, INT64_MAX / 2, time_now_ms(), ret, &err),
            0);
        return ret->n + ret->n_bad;
}

static size_t count_pending(struct fixture *f)
{
        struct pending_load l = {0};
        size_t n = stored_pending(f, &l);

        pending_load_release(&l);
        return n;
}

/* A handed-over delivery of Notifier name (uid) as a stop would write it. */
static void store_pending(struct fixture *f, const char *name, const char *uid, const char *id,
                          int64_t queued_ms)
{
        struct delivery *d = calloc(1, sizeof(*d));
        struct pending_delivery p = {.d = d};
        struct berth_error err = {0};
        size_t saved = 0;

        assert_non_null(d);
        (void)str_copy(d->id, sizeof(d->id), id);
        (void)str_copy(d->outcome, sizeof(d->outcome), "Failed");
        (void)str_copy(d->object_kind, sizeof(d->object_kind), "Task");
        (void)str_copy(d->object_name, sizeof(d->object_name), "etl");
        d->body = strdup("{\"kind\":\"Notification\",\"outcome\":\"Failed\"}");
        d->len = strlen(d->body);
        d->queued_ms = queued_ms;
        d->attempts = 1;
        (void)str_copy(p.ns, sizeof(p.ns), "default");
        (void)str_copy(p.name, sizeof(p.name), name);
        (void)str_copy(p.uid, sizeof(p.uid), uid);
        f->stop_ms = f->stop_ms ? f->stop_ms + 1 : time_now_ms();
        assert_int_equal(pending_save(f->store, PREFIX, &p, 1, f->stop_ms, NULL, &saved, &err), 0);
        assert_int_equal(saved, 1);
        pending_delivery_release(&p);
}

static void restart_with(struct fixture *f, size_t queue_max)
{
        notify_free(f->notify);
        f->notify = NULL;
        assert_int_equal(start_notify(f, queue_max), 0);
        notify_start(f->notify, NULL);
}

/* A clean stop with one delivery in flight and two waiting: all three are
 * stored, in order, the first marked in flight; the next start sends them
 * again in that order with the same ids, and deletes them. */
static void test_handover_restart(void **state)
{
        struct fixture *f = *state;
        struct pending_load l = {0};
        char ids[3][RANDOM_UID_LEN];
        uint64_t saved = 0, restored = 0, dropped = 9;

        put_notifier(f, "data", "n1", "data", "[\"Failed\"]");
        put_task(f, "etl", "t1", "data", "Failed", "Error");
        hold(f, true);
        for (int i = 0; i < 3; i++)
                send_event(f, "etl", "t1", "Failed", "Error: exit code 1");
        wait_holding(f);
        notify_stop(f->notify); /* the flush times out: the fake holds */
        assert_int_equal(stored_pending(f, &l), 3);
        for (size_t i = 0; i < 3; i++) {
                (void)str_copy(ids[i], sizeof(ids[i]), l.items[i].p.d->id);
                assert_string_equal(l.items[i].p.name, "data");
                assert_string_equal(l.items[i].p.uid, "n1");
                assert_string_equal(l.items[i].p.d->outcome, "Failed");
                assert_string_equal(l.items[i].p.d->object_name, "etl");
                assert_true(l.items[i].p.d->queued_ms > 0);
                assert_int_equal(l.items[i].p.d->attempts, i == 0 ? 1 : 0);
                assert_int_equal(l.items[i].p.in_flight, i == 0);
                assert_non_null(strstr(l.items[i].p.d->body, ids[i])); /* the payload's id */
        }
        pending_load_release(&l);
        notify_handover_stats(f->notify, &saved, NULL);
        assert_int_equal(saved, 3);
        notify_stats(f->notify, NULL, NULL, &dropped, NULL);
        assert_int_equal(dropped, 0);
        /* The attempt in flight was that first one; it ends, uncounted. */
        hold(f, false);
        wait_attempts(f, 1);
        assert_string_equal(f->fake.ids[0], ids[0]);
        assert_int_equal(notify_flush(f->notify, 5000), 0);
        assert_int_equal(attempts(f), 1);

        restart_with(f, 0);
        assert_int_equal(notify_flush(f->notify, 5000), 0);
        assert_int_equal(attempts(f), 4);
        for (int i = 0; i < 3; i++)
                assert_string_equal(f->fake.ids[1 + i], ids[i]);
        assert_int_equal(f->fake.attempt_no[1], 2); /* attempts carry over */
        assert_int_equal(f->fake.attempt_no[2], 1);
        assert_int_equal(count_pending(f), 0);
        notify_handover_stats(f->notify, NULL, &restored);
        assert_int_equal(restored, 3);
        _cleanup_json_ json_t *st = notifier_status(f, "data");
        assert_int_equal(json_path_int(st, "delivered", -1), 3);
        assert_int_equal(json_path_int(st, "dropped", -1), 0);

        /* A stop with nothing queued writes nothing; a second stop neither. */
        notify_stop(f->notify);
        notify_stop(f->notify);
        assert_int_equal(count_pending(f), 0);
}

/* A delivery waiting for its retry at the stop is tried at once after the
 * restart, as its next attempt, with the same id. */
static void test_handover_retry_waiting(void **state)
{
        struct fixture *f = *state;

        f->retry_base_ms = 60 * 60 * 1000;
        restart_with(f, 0);
        put_notifier(f, "data", "n1", "data", "[\"Failed\"]");
        put_task(f, "etl", "t1", "data", "Failed", "Error");
        f->fake.fail = 1;
        f->fake.retry = true;
        send_event(f, "etl", "t1", "Failed", "Error: exit code 1");
        wait_attempts(f, 1);
        notify_stop(f->notify);
        assert_int_equal(count_pending(f), 1);
        restart_with(f, 0);
        assert_int_equal(notify_flush(f->notify, 5000), 0);
        assert_int_equal(attempts(f), 2);
        assert_string_equal(f->fake.ids[1], f->fake.ids[0]);
        assert_int_equal(f->fake.attempt_no[1], 2);
        assert_int_equal(count_pending(f), 0);
}

/* At the start: an expired delivery is dropped and counted; those of a
 * Notifier gone (deleted, or another of that name) are dropped; a value
 * that does not decode is deleted; the rest is sent. Nothing is left. */
static void test_handover_load_sorts_out(void **state)
{
        struct fixture *f = *state;
        struct berth_error err = {0};
        int64_t rev = 0;
        uint64_t dropped = 0, restored = 0;

        put_notifier(f, "data", "n1", "data", "[\"Failed\"]");
        store_pending(f, "data", "n1", "00000000000000000000000000000001",
                      time_now_ms() - NOTIFY_PENDING_KEEP_MS - 60000);
        store_pending(f, "data", "n0", "00000000000000000000000000000002", time_now_ms());
        store_pending(f, "nobody", "n5", "00000000000000000000000000000003", time_now_ms());
        store_pending(f, "data", "n1", "00000000000000000000000000000004", time_now_ms());
        const char *junk = PREFIX NOTIFY_PENDING_SEGMENT "default/data/000000000000001-000000";
        assert_int_equal(
            store_put(f->store, junk, "{\"id\":[]}", 9, STORE_ANY_REVISION, 0, &rev, &err), 0);
        assert_int_equal(count_pending(f), 5);

        notify_stop(f->notify);
        restart_with(f, 0);
        assert_int_equal(notify_flush(f->notify, 5000), 0);
        assert_int_equal(attempts(f), 1);
        assert_string_equal(f->fake.ids[0], "00000000000000000000000000000004");
        assert_int_equal(count_pending(f), 0);
        notify_stats(f->notify, NULL, NULL, &dropped, NULL);
        assert_int_equal(dropped, 1);
        notify_handover_stats(f->notify, NULL, &restored);
        assert_int_equal(restored, 1);
        _cleanup_json_ json_t *st = notifier_status(f, "data");
        assert_int_equal(json_path_int(st, "delivered", -1), 1);
        assert_int_equal(json_path_int(st, "dropped", -1), 1);
}

/* More handed over than the queue holds: the rest is dropped, counted. */
static void test_handover_queue_full(void **state)
{
        struct fixture *f = *state;
        uint64_t dropped = 0;

        put_notifier(f, "data", "n1", "data", "[\"Failed\"]");
        store_pending(f, "data", "n1", "0000000000000000000000000000000a", time_now_ms());
        store_pending(f, "data", "n1", "0000000000000000000000000000000b", time_now_ms());
        store_pending(f, "data", "n1", "0000000000000000000000000000000c", time_now_ms());
        notify_stop(f->notify);
        restart_with(f, 2);
        assert_int_equal(notify_flush(f->notify, 5000), 0);
        assert_int_equal(attempts(f), 2);
        assert_string_equal(f->fake.ids[0], "0000000000000000000000000000000a");
        assert_string_equal(f->fake.ids[1], "0000000000000000000000000000000b");
        notify_stats(f->notify, NULL, NULL, &dropped, NULL);
        assert_int_equal(dropped, 1);
        assert_int_equal(count_pending(f), 0);
}

static int64_t move_leader(struct fixture *f)
{
        struct berth_error err = {0};
        int64_t rev = 0;

        assert_int_equal(
            store_put(f->store, PREFIX "system/leader", "{}", 2, STORE_ANY_REVISION, 0, &rev, &err),
            0);
        return rev;
}

/* The fence moved before the stop (the new leader has it): nothing is
 * written, what was queued is dropped and counted. */
static void test_handover_fence_lost_at_stop(void **state)
{
        struct fixture *f = *state;
        uint64_t dropped = 0, saved = 9;
        const struct store_guard fence = {.key = PREFIX "system/leader",
                                          .mod_revision = move_leader(f)};

        notify_stop(f->notify);
        notify_start(f->notify, &fence);
        put_notifier(f, "data", "n1", "data", "[\"Failed\"]");
        put_task(f, "etl", "t1", "data", "Failed", "Error");
        hold(f, true);
        send_event(f, "etl", "t1", "Failed", "Error: exit code 1");
        send_event(f, "etl", "t1", "Failed", "Error: exit code 1");
        wait_holding(f);
        (void)move_leader(f);
        notify_stop(f->notify);
        hold(f, false);
        assert_int_equal(count_pending(f), 0);
        notify_stats(f->notify, NULL, NULL, &dropped, NULL);
        assert_int_equal(dropped, 2);
        notify_handover_stats(f->notify, &saved, NULL);
        assert_int_equal(saved, 0);
        double d = 0;
        assert_int_equal(
            metrics_find("berth_notifications_dropped_total{notifier=\"default/data\"}", &d), 0);
        assert_true(d >= 2);
}

/* The fence moved before the start: what was handed over is left in the
 * store for the leader, and not sent here; under a fence that holds (here:
 * none) it is. */
static void test_handover_fence_lost_at_start(void **state)
{
        struct fixture *f = *state;
        const struct store_guard stale = {.key = PREFIX "system/leader",
                                          .mod_revision = move_leader(f)};

        put_notifier(f, "data", "n1", "data", "[\"Failed\"]");
        store_pending(f, "data", "n1", "0000000000000000000000000000000a", time_now_ms());
        store_pending(f, "data", "n1", "0000000000000000000000000000000b", time_now_ms());
        (void)move_leader(f);
        notify_stop(f->notify);
        notify_start(f->notify, &stale);
        assert_int_equal(notify_flush(f->notify, 5000), 0);
        assert_int_equal(attempts(f), 0);
        assert_int_equal(count_pending(f), 2);
        notify_stop(f->notify);
        notify_start(f->notify, NULL);
        assert_int_equal(notify_flush(f->notify, 5000), 0);
        assert_int_equal(attempts(f), 2);
        assert_int_equal(count_pending(f), 0);
}

static void test_config(void **state)
{
        (void)state;
        struct notify *n = NULL;
        struct berth_error err = {0};
        const struct notify_type clash[] = {{.name = "webhook", .deliver = fake_deliver}};
        const struct notify_type bad[] = {{.name = "Bad_Name", .deliver = fake_deliver}};
        struct notify_config cfg = {0};

        assert_int_equal(notify_new(&cfg, &n, &err), -EINVAL);
        struct fixture *f = *state;
        cfg = (struct notify_config){.objects = f->cache, .store = f->store, .prefix = PREFIX};
        cfg.plugins = clash;
        cfg.n_plugins = 1;
        assert_int_equal(notify_new(&cfg, &n, &err), -EEXIST);
        cfg.plugins = bad;
        assert_int_equal(notify_new(&cfg, &n, &err), -EINVAL);
        cfg.workers = NOTIFY_WORKERS_MAX + 1;
        cfg.n_plugins = 0;
        assert_int_equal(notify_new(&cfg, &n, &err), -EINVAL);
        assert_null(n);
        notify_free(NULL);
        notify_start(NULL, NULL);
        notify_stop(NULL);
        notify_event(NULL, NULL);
        assert_int_equal(notify_flush(NULL, 0), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_selector_and_outcomes, setup, teardown),
            cmocka_unit_test_setup_teardown(test_crontask_runs, setup, teardown),
            cmocka_unit_test_setup_teardown(test_retries, setup, teardown),
            cmocka_unit_test_setup_teardown(test_bounded_queue, setup, teardown),
            cmocka_unit_test_setup_teardown(test_gone_and_stopped, setup, teardown),
            cmocka_unit_test_setup_teardown(test_recovered_after_restart, setup, teardown),
            cmocka_unit_test_setup_teardown(test_outcomes_only_for_recovered, setup, teardown),
            cmocka_unit_test_setup_teardown(test_outcomes_load_and_bound, setup, teardown),
            cmocka_unit_test_setup_teardown(test_outcomes_fenced, setup, teardown),
            cmocka_unit_test_setup_teardown(test_handover_restart, setup, teardown),
            cmocka_unit_test_setup_teardown(test_handover_retry_waiting, setup, teardown),
            cmocka_unit_test_setup_teardown(test_handover_load_sorts_out, setup, teardown),
            cmocka_unit_test_setup_teardown(test_handover_queue_full, setup, teardown),
            cmocka_unit_test_setup_teardown(test_handover_fence_lost_at_stop, setup, teardown),
            cmocka_unit_test_setup_teardown(test_handover_fence_lost_at_start, setup, teardown),
            cmocka_unit_test_setup_teardown(test_config, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
