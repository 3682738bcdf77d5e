/* The outcome memory as stored (notify/outcomes-store.c) and what the map
 * does with it (outcomes.c): keys and values encoded and decoded, bad
 * stored bytes refused, the map's writes (taken only when something
 * changes, given back when lost), loads ordered by age and bounded, the
 * evict callback; then outcome_load_read on a real SQLite store in a
 * temporary directory: expired, undecodable and excess values sorted out
 * for deletion, the rest oldest first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "notify-internal.h"
#include "test-support.h"
#include "tmp-store.h"

#define PREFIX "/berth/"
#define DAY_MS (24LL * 60 * 60 * 1000)
/* 2026-01-01T00:00:00Z */
#define T0 1767225600000LL

/* ---- keys and values -------------------------------------------------------------- */

static void test_key(void **state)
{
        (void)state;
        char kind[64], ns[64], name[64];
        _cleanup_free_ char *key = outcome_key(PREFIX, "CronTask", "prod", "nightly");
        char long_name[100];

        assert_string_equal(key, "/berth/notify-data/outcomes/CronTask/prod/nightly");
        /* Not an object: the object cache leaves it out. */
        assert_true(object_key_is_data(PREFIX, key));
        assert_int_equal(outcome_key_parse(PREFIX, key, kind, ns, name), 0);
        assert_string_equal(kind, "CronTask");
        assert_string_equal(ns, "prod");
        assert_string_equal(name, "nightly");
        assert_null(outcome_key(PREFIX, NULL, "prod", "x"));

        static const char *const bad[] = {
            "/other/notify-data/outcomes/Task/default/etl", /* another prefix */
            "/berth/tasks/default/etl",                     /* an object */
            "/berth/notify-data/outcomes/Task/default",     /* two parts */
            "/berth/notify-data/outcomes/Task/default/etl/x",
            "/berth/notify-data/outcomes/Task//etl",
            "/berth/notify-data/outcomes/Task/default/",
            "/berth/notify-data/outcomes/",
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
                assert_int_equal(outcome_key_parse(PREFIX, bad[i], kind, ns, name), -EINVAL);
        memset(long_name, 'a', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = '\0';
        _cleanup_free_ char *too_long = outcome_key(PREFIX, "Task", "default", long_name);
        assert_int_equal(outcome_key_parse(PREFIX, too_long, kind, ns, name), -EINVAL);
        assert_int_equal(outcome_key_parse(NULL, key, kind, ns, name), -EINVAL);
}

static void test_value(void **state)
{
        (void)state;
        struct outcome_value v = {.result = RUN_FAILED, .before = RUN_SUCCEEDED, .at_ms = T0 + 5};
        struct outcome_value back;
        char why[128];

        (void)str_copy(v.uid, sizeof(v.uid), "u1");
        _cleanup_free_ char *s = outcome_value_encode(&v);
        assert_string_equal(s, "{\"uid\":\"u1\",\"result\":\"Failed\",\"at\":"
                               "\"2026-01-01T00:00:00.005Z\",\"before\":\"Succeeded\"}");
        assert_int_equal(outcome_value_decode(s, strlen(s), &back, why), 0);
        assert_string_equal(back.uid, "u1");
        assert_int_equal(back.result, RUN_FAILED);
        assert_int_equal(back.before, RUN_SUCCEEDED);
        assert_int_equal(back.at_ms, T0 + 5);

        /* No run before it: no "before"; no uid reads as "". */
        v.before = RUN_NONE;
        free(s);
        s = outcome_value_encode(&v);
        assert_null(strstr(s, "before"));
        const char *no_uid = "{\"result\":\"Succeeded\",\"at\":\"2026-01-01T00:00:00Z\"}";
        assert_int_equal(outcome_value_decode(no_uid, strlen(no_uid), &back, why), 0);
        assert_string_equal(back.uid, "");
        assert_int_equal(back.result, RUN_SUCCEEDED);
        assert_int_equal(back.before, RUN_NONE);

        /* What cannot be encoded. */
        assert_null(outcome_value_encode(NULL));
        v.result = RUN_NONE;
        assert_null(outcome_value_encode(&v));
        v.result = RUN_FAILED;
        v.at_ms = 0;
        assert_null(outcome_value_encode(&v));
}

static void test_value_bad(void **state)
{
        (void)state;
        static const struct {
                const char *data, *why;
        } bad[] = {
            {"", "not a JSON object"},
            {"{\"result\":", "not a JSON object"},
            {"[1, 2]", "not a JSON object"},
            {"{\"result\":\"Failed\",\"result\":\"Failed\",\"at\":\"2026-01-01T00:00:00Z\"}",
             "not a JSON object"},
            {"{\"uid\":7,\"result\":\"Failed\",\"at\":\"2026-01-01T00:00:00Z\"}",
             "uid is not a string of less than 64 bytes"},
            {"{\"result\":\"Failed\",\"at\":\"2026-01-01T00:00:00Z\",\"uid\":"
             "\"0123456789012345678901234567890123456789012345678901234567890123456789\"}",
             "uid is not a string of less than 64 bytes"},
            {"{\"at\":\"2026-01-01T00:00:00Z\"}", "result is not Failed or Succeeded"},
            {"{\"result\":\"failed\",\"at\":\"2026-01-01T00:00:00Z\"}",
             "result is not Failed or Succeeded"},
            {"{\"result\":\"Failed\",\"before\":\"None\",\"at\":\"2026-01-01T00:00:00Z\"}",
             "before is not Failed or Succeeded"},
            {"{\"result\":\"Failed\",\"before\":null,\"at\":\"2026-01-01T00:00:00Z\"}",
             "before is not Failed or Succeeded"},
            {"{\"result\":\"Failed\"}", "at is not an RFC 3339 time"},
            {"{\"result\":\"Failed\",\"at\":\"yesterday\"}", "at is not an RFC 3339 time"},
            {"{\"result\":\"Failed\",\"at\":\"0001-01-01T00:00:00Z\"}",
             "at is not an RFC 3339 time"},
            {"{\"result\":\"Failed\",\"at\":1767225600}", "at is not an RFC 3339 time"},
        };
        struct outcome_value v = {.at_ms = 42};
        char why[128];

        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                why[0] = '\0';
                assert_int_equal(outcome_value_decode(bad[i].data, strlen(bad[i].data), &v, why),
                                 -EINVAL);
                assert_string_equal(why, bad[i].why);
                assert_int_equal(v.at_ms, 42); /* untouched */
        }
        /* Too large to be ours, whatever it holds. */
        char *big = calloc(1, NOTIFY_OUTCOME_VALUE_MAX + 2);
        assert_non_null(big);
        memset(big, ' ', NOTIFY_OUTCOME_VALUE_MAX + 1);
        assert_int_equal(outcome_value_decode(big, strlen(big), &v, why), -EINVAL);
        assert_non_null(strstr(why, "more than"));
        free(big);
        assert_int_equal(outcome_value_decode(NULL, 0, &v, why), -EINVAL);
}

/* ---- the map's writes and loads ------------------------------------------------------- */

struct evicted {
        int n;
        char last[200];
};

static void on_evict(const char *kind, const char *ns, const char *name, void *userdata)
{
        struct evicted *e = userdata;

        e->n++;
        snprintf(e->last, sizeof(e->last), "%s/%s/%s", kind, ns, name);
}

static void test_map_writes(void **state)
{
        (void)state;
        struct outcome_map *m = NULL;
        struct outcome_value v;
        struct evicted ev = {0};

        assert_int_equal(outcome_map_new(10, 7 * DAY_MS, on_evict, &ev, &m), 0);
        assert_false(outcome_map_take_write(m, "Task", "default", "etl", DAY_MS, &v));
        (void)outcome_map_record(m, "Task", "default", "etl", "u1", true, T0);
        /* Never stored: a write. */
        assert_true(outcome_map_take_write(m, "Task", "default", "etl", DAY_MS, &v));
        assert_string_equal(v.uid, "u1");
        assert_int_equal(v.result, RUN_FAILED);
        assert_int_equal(v.before, RUN_NONE);
        assert_int_equal(v.at_ms, T0);
        /* Taken: nothing more until something changes. */
        assert_false(outcome_map_take_write(m, "Task", "default", "etl", DAY_MS, &v));
        /* The same result again within a day: no write. */
        (void)outcome_map_record(m, "Task", "default", "etl", "u2", true, T0 + 1000);
        assert_false(outcome_map_take_write(m, "Task", "default", "etl", DAY_MS, &v));
        /* A day after the stored one: written again, so it does not age out. */
        (void)outcome_map_record(m, "Task", "default", "etl", "u3", true, T0 + DAY_MS);
        assert_true(outcome_map_take_write(m, "Task", "default", "etl", DAY_MS, &v));
        assert_string_equal(v.uid, "u3");
        assert_int_equal(v.before, RUN_FAILED);
        /* Another result: written at once. */
        assert_int_equal(
            outcome_map_record(m, "Task", "default", "etl", "u4", false, T0 + DAY_MS + 1),
            RUN_FAILED);
        assert_true(outcome_map_take_write(m, "Task", "default", "etl", DAY_MS, &v));
        assert_int_equal(v.result, RUN_SUCCEEDED);
        /* That write was lost: the next record writes again, even unchanged. */
        outcome_map_write_lost(m, "Task", "default", "etl", v.at_ms);
        (void)outcome_map_record(m, "Task", "default", "etl", "u5", false, T0 + DAY_MS + 2);
        assert_true(outcome_map_take_write(m, "Task", "default", "etl", DAY_MS, &v));
        /* A loss of an older write than the one taken since changes nothing. */
        outcome_map_write_lost(m, "Task", "default", "etl", T0);
        assert_false(outcome_map_take_write(m, "Task", "default", "etl", DAY_MS, &v));
        outcome_map_write_lost(m, "Task", "default", "nothing", T0);

        /* A stored entry forgotten for its age is deleted from the store;
         * one never stored goes silently. */
        (void)outcome_map_record(m, "Task", "default", "unstored", "x", true, T0 + DAY_MS + 3);
        (void)outcome_map_record(m, "Task", "default", "late", "y", true, T0 + 9 * DAY_MS);
        assert_int_equal(ev.n, 1);
        assert_string_equal(ev.last, "Task/default/etl");
        assert_int_equal(outcome_map_size(m), 1);
        outcome_map_free(m);
}

static void test_map_load(void **state)
{
        (void)state;
        struct outcome_map *m = NULL;
        struct outcome_value v = {.result = RUN_FAILED, .at_ms = T0 + 100};
        struct evicted ev = {0};

        assert_int_equal(outcome_map_new(3, 7 * DAY_MS, on_evict, &ev, &m), 0);
        (void)str_copy(v.uid, sizeof(v.uid), "u1");
        assert_int_equal(outcome_map_load(m, "Task", "default", "etl", &v), 0);
        /* Loaded counts as stored: nothing to write. */
        assert_false(outcome_map_take_write(m, "Task", "default", "etl", DAY_MS, &v));
        /* The next run of that name, after the restart: a recovery. */
        assert_int_equal(outcome_map_record(m, "Task", "default", "etl", "u2", false, T0 + 200),
                         RUN_FAILED);
        /* The same run told again after the restart reads as the first time. */
        v = (struct outcome_value){.result = RUN_SUCCEEDED, .before = RUN_FAILED, .at_ms = T0};
        (void)str_copy(v.uid, sizeof(v.uid), "w1");
        assert_int_equal(outcome_map_load(m, "Workflow", "default", "etl", &v), 0);
        assert_int_equal(outcome_map_record(m, "Workflow", "default", "etl", "w1", false, T0 + 300),
                         RUN_FAILED);
        /* The map's newer outcome wins over an older stored one. */
        v = (struct outcome_value){.result = RUN_FAILED, .at_ms = T0 + 1};
        assert_int_equal(outcome_map_load(m, "Task", "default", "etl", &v), 1);
        assert_int_equal(outcome_map_record(m, "Task", "default", "etl", "u3", false, T0 + 400),
                         RUN_SUCCEEDED);
        /* A newer stored one wins over the map's. */
        v.at_ms = T0 + 500;
        assert_int_equal(outcome_map_load(m, "Task", "default", "etl", &v), 0);
        assert_int_equal(outcome_map_record(m, "Task", "default", "etl", "u4", false, T0 + 600),
                         RUN_FAILED);

        /* Ordered by age: loading an old one into a full map goes to the old
         * end, so it is the first to go. Now: Workflow etl (300), Task etl
         * (600). */
        v = (struct outcome_value){.result = RUN_FAILED, .at_ms = T0 + 50};
        assert_int_equal(outcome_map_load(m, "Task", "default", "old", &v), 0);
        assert_int_equal(outcome_map_size(m), 3);
        v.at_ms = T0 + 10; /* older than everything in a full map */
        assert_int_equal(outcome_map_load(m, "Task", "default", "older", &v), 1);
        assert_int_equal(outcome_map_size(m), 3);
        assert_int_equal(ev.n, 0);
        v.at_ms = T0 + 700;
        assert_int_equal(outcome_map_load(m, "Task", "default", "new", &v), 0);
        assert_int_equal(ev.n, 1);
        assert_string_equal(ev.last, "Task/default/old");
        assert_int_equal(outcome_map_record(m, "Task", "default", "old", "o", false, T0 + 800),
                         RUN_NONE);

        /* Bad values are refused. */
        v.result = RUN_NONE;
        assert_int_equal(outcome_map_load(m, "Task", "default", "x", &v), -EINVAL);
        v.result = RUN_FAILED;
        v.before = 7;
        assert_int_equal(outcome_map_load(m, "Task", "default", "x", &v), -EINVAL);
        assert_int_equal(outcome_map_load(NULL, "Task", "default", "x", &v), -EINVAL);
        outcome_map_free(m);
}

/* ---- reading the store --------------------------------------------------------------- */

struct fixture {
        char dir[64];
        struct store *store;
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        tmp_store_open("outcomes", f->dir, &f->store);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        tmp_store_close(f->dir, f->store);
        free(f);
        return 0;
}

static void put_raw(struct fixture *f, const char *key, const char *value)
{
        struct berth_error err = {0};

        assert_int_equal(
            store_put(f->store, key, value, strlen(value), STORE_ANY_REVISION, 0, NULL, &err), 0);
}

static void put_outcome(struct fixture *f, const char *name, enum run_result result, int64_t at_ms)
{
        _cleanup_free_ char *key = outcome_key(PREFIX, "Task", "default", name);
        struct outcome_value v = {.result = result, .at_ms = at_ms};

        (void)str_copy(v.uid, sizeof(v.uid), name);
        _cleanup_free_ char *value = outcome_value_encode(&v);
        assert_non_null(value);
        put_raw(f, key, value);
}

static bool purged(const struct outcome_load *l, const char *name)
{
        _cleanup_free_ char *key = outcome_key(PREFIX, "Task", "default", name);

        for (size_t i = 0; i < l->n_purge; i++)
                if (streq(l->purge[i], key))
                        return true;
        return false;
}

static void test_load_read(void **state)
{
        struct fixture *f = *state;
        struct outcome_load l = {0};
        struct berth_error err = {0};
        int64_t now = T0 + 10 * DAY_MS;

        /* Nothing stored: nothing loaded. */
        assert_int_equal(outcome_load_read(f->store, PREFIX, 3, 7 * DAY_MS, now, &l, &err), 0);
        assert_int_equal(l.n, 0);
        assert_int_equal(l.n_purge, 0);
        outcome_load_release(&l);

        put_outcome(f, "a", RUN_FAILED, now - 1000);
        put_outcome(f, "b", RUN_SUCCEEDED, now - 3000);
        put_outcome(f, "c", RUN_FAILED, now - 2000);
        put_outcome(f, "d", RUN_FAILED, now - 4000);       /* the oldest beyond the bound of 3 */
        put_outcome(f, "e", RUN_FAILED, now - 8 * DAY_MS); /* older than 7 days */
        put_raw(f, PREFIX "notify-data/outcomes/Task/default/junk", "{not json");
        put_raw(f, PREFIX "notify-data/outcomes/Task/default/wrong", "{\"result\":\"Maybe\"}");
        put_raw(f, PREFIX "notify-data/outcomes/Task/odd", "{}"); /* no name */
        /* Objects and other data beside it are not read. */
        put_raw(f, PREFIX "tasks/default/a", "{\"kind\":\"Task\"}");
        put_raw(f, PREFIX "notify-data/other", "{}");

        assert_int_equal(outcome_load_read(f->store, PREFIX, 3, 7 * DAY_MS, now, &l, &err), 0);
        /* The three newest, oldest first. */
        assert_int_equal(l.n, 3);
        assert_string_equal(l.items[0].name, "b");
        assert_string_equal(l.items[1].name, "c");
        assert_string_equal(l.items[2].name, "a");
        assert_string_equal(l.items[2].kind, "Task");
        assert_string_equal(l.items[2].ns, "default");
        assert_int_equal(l.items[2].v.result, RUN_FAILED);
        assert_int_equal(l.items[0].v.result, RUN_SUCCEEDED);
        /* The rest is for deletion. */
        assert_int_equal(l.n_purge, 5);
        assert_int_equal(l.expired, 1);
        assert_int_equal(l.bad, 3);
        assert_int_equal(l.trimmed, 1);
        assert_true(purged(&l, "d"));
        assert_true(purged(&l, "e"));
        assert_true(purged(&l, "junk"));
        assert_true(purged(&l, "wrong"));
        assert_false(purged(&l, "a"));
        /* The first bad one, in key order, and why. */
        assert_string_equal(l.bad_key, PREFIX "notify-data/outcomes/Task/default/junk");
        assert_string_equal(l.bad_why, "not a JSON object");
        outcome_load_release(&l);
        outcome_load_release(&l); /* twice: nothing */
        outcome_load_release(NULL);

        /* Another prefix sees none of it. */
        assert_int_equal(outcome_load_read(f->store, "/other/", 3, 7 * DAY_MS, now, &l, &err), 0);
        assert_int_equal(l.n + l.n_purge, 0);
        outcome_load_release(&l);
}

/* Binary bytes where JSON should be (the store's compression magic among
 * them: the store gives back what was written): undecodable, deleted. */
static void test_load_read_binary(void **state)
{
        struct fixture *f = *state;
        struct outcome_load l = {0};
        struct berth_error err = {0};
        static const char binary[] = "\0bz1garbage";

        assert_int_equal(store_put(f->store, PREFIX "notify-data/outcomes/Task/default/z", binary,
                                   sizeof(binary) - 1, STORE_ANY_REVISION, 0, NULL, &err),
                         0);
        assert_int_equal(outcome_load_read(f->store, PREFIX, 3, 7 * DAY_MS, T0, &l, &err), 0);
        assert_int_equal(l.n, 0);
        assert_int_equal(l.bad, 1);
        assert_true(purged(&l, "z"));
        assert_string_equal(l.bad_why, "not a JSON object");
        outcome_load_release(&l);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_key),
            cmocka_unit_test(test_value),
            cmocka_unit_test(test_value_bad),
            cmocka_unit_test(test_map_writes),
            cmocka_unit_test(test_map_load),
            cmocka_unit_test_setup_teardown(test_load_read, setup, teardown),
            cmocka_unit_test_setup_teardown(test_load_read_binary, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
