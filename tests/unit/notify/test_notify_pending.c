/* The deliveries notify_stop hands over (notify/pending.c): keys and values
 * encoded and decoded, bad stored bytes refused with a reason, then on a
 * real SQLite store in a temporary directory: pending_save in order and in
 * transactions, pending_load_read sorting out expired, undecodable and
 * excess values in key order (older stops first), pending_load_delete, and
 * both writes refused when the fence moved. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "notify-internal.h"
#include "test-support.h"
#include "tmp-store.h"

#define PREFIX  "/berth/"
#define HOUR_MS (60LL * 60 * 1000)
/* 2026-01-01T00:00:00Z */
#define T0  1767225600000LL
#define ID1 "0123456789abcdef0123456789abcdef"

static struct delivery *delivery(const char *id, const char *body, int attempts, int64_t queued)
{
        struct delivery *d = calloc(1, sizeof(*d));

        assert_non_null(d);
        (void)str_copy(d->id, sizeof(d->id), id);
        (void)str_copy(d->outcome, sizeof(d->outcome), "Failed");
        (void)str_copy(d->object_kind, sizeof(d->object_kind), "Task");
        (void)str_copy(d->object_name, sizeof(d->object_name), "etl");
        d->body = strdup(body);
        assert_non_null(d->body);
        d->len = strlen(body);
        d->attempts = attempts;
        d->queued_ms = queued;
        return d;
}

static struct pending_delivery pending(const char *ns, const char *name, struct delivery *d,
                                       bool in_flight)
{
        struct pending_delivery p = {.d = d, .in_flight = in_flight};

        (void)str_copy(p.ns, sizeof(p.ns), ns);
        (void)str_copy(p.name, sizeof(p.name), name);
        (void)str_copy(p.uid, sizeof(p.uid), "n-uid-1");
        return p;
}

/* ---- keys and values -------------------------------------------------------------- */

static void test_key(void **state)
{
        (void)state;
        char ns[64], name[64];
        _cleanup_free_ char *key = pending_key(PREFIX, "prod", "pager", T0, 7);
        char long_name[100];

        assert_string_equal(key, "/berth/notify-data/pending/prod/pager/001767225600000-000007");
        /* Not an object: the object cache leaves it out. */
        assert_true(object_key_is_data(PREFIX, key));
        assert_int_equal(pending_key_parse(PREFIX, key, ns, name), 0);
        assert_string_equal(ns, "prod");
        assert_string_equal(name, "pager");
        /* Key order is stop order, then place order. */
        _cleanup_free_ char *later = pending_key(PREFIX, "prod", "pager", T0 + 1, 0);
        _cleanup_free_ char *next = pending_key(PREFIX, "prod", "pager", T0, 10);
        assert_true(strcmp(key, later) < 0);
        assert_true(strcmp(key, next) < 0);
        assert_null(pending_key(PREFIX, NULL, "pager", T0, 0));
        assert_null(pending_key(PREFIX, "prod", "pager", -1, 0));
        assert_null(pending_key(PREFIX, "prod", "pager", PENDING_STOP_MS_MAX + 1, 0));
        assert_null(pending_key(PREFIX, "prod", "pager", T0, PENDING_PLACE_MAX + 1));

        static const char *const bad[] = {
            "/other/notify-data/pending/prod/pager/001767225600000-000007", /* another prefix */
            "/berth/notifiers/prod/pager",                                  /* an object */
            "/berth/notify-data/outcomes/Task/prod/pager",
            "/berth/notify-data/pending/prod/pager",
            "/berth/notify-data/pending/prod/pager/",
            "/berth/notify-data/pending/prod//001767225600000-000007",
            "/berth/notify-data/pending//pager/001767225600000-000007",
            "/berth/notify-data/pending/prod/pager/x/001767225600000-000007",
            "/berth/notify-data/pending/prod/pager/1767225600000-7",
            "/berth/notify-data/pending/prod/pager/00176722560000a-000007",
            "/berth/notify-data/pending/prod/pager/001767225600000+000007",
            "/berth/notify-data/pending/prod/pager/001767225600000-0000070",
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
                assert_int_equal(pending_key_parse(PREFIX, bad[i], ns, name), -EINVAL);
        memset(long_name, 'a', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = '\0';
        _cleanup_free_ char *too_long = pending_key(PREFIX, "prod", long_name, T0, 0);
        assert_int_equal(pending_key_parse(PREFIX, too_long, ns, name), -EINVAL);
        assert_int_equal(pending_key_parse(NULL, key, ns, name), -EINVAL);
}

static void test_value(void **state)
{
        (void)state;
        /* A body whose bytes must come back as they were: the signature is
         * over them. */
        const char *body = "{\"id\":\"" ID1 "\",\"msg\":\"a \\\"quoted\\\" \\\\ line\\n\","
                           "\"x\":  1}";
        struct pending_delivery p = pending("prod", "pager", delivery(ID1, body, 2, T0 + 5), true);
        struct pending_delivery back = {0};
        char why[128] = "";

        _cleanup_free_ char *s = pending_value_encode(&p);
        assert_non_null(s);
        assert_non_null(strstr(s, "\"queued\":\"2026-01-01T00:00:00.005Z\""));
        assert_non_null(strstr(s, "\"inFlight\":true"));
        assert_int_equal(pending_value_decode(s, strlen(s), &back, why), 0);
        assert_string_equal(back.uid, "n-uid-1");
        assert_true(back.in_flight);
        assert_string_equal(back.d->id, ID1);
        assert_string_equal(back.d->outcome, "Failed");
        assert_string_equal(back.d->object_kind, "Task");
        assert_string_equal(back.d->object_name, "etl");
        assert_int_equal(back.d->attempts, 2);
        assert_int_equal(back.d->queued_ms, T0 + 5);
        assert_int_equal(back.d->not_before_ms, 0); /* due at once */
        assert_int_equal(back.d->len, strlen(body));
        assert_memory_equal(back.d->body, body, strlen(body));
        pending_delivery_release(&back);

        /* inFlight may be left out: false. */
        const char *plain = "{\"id\":\"" ID1 "\",\"notifierUid\":\"u\",\"outcome\":\"Failed\","
                            "\"object\":{\"kind\":\"Task\",\"name\":\"etl\"},\"attempts\":0,"
                            "\"queued\":\"2026-01-01T00:00:00Z\",\"body\":\"{}\"}";
        assert_int_equal(pending_value_decode(plain, strlen(plain), &back, why), 0);
        assert_false(back.in_flight);
        assert_int_equal(back.d->attempts, 0);
        pending_delivery_release(&back);
        pending_delivery_release(NULL);

        /* What cannot be encoded (would not decode again). */
        assert_null(pending_value_encode(NULL));
        p.d->queued_ms = 0;
        assert_null(pending_value_encode(&p));
        p.d->queued_ms = T0;
        p.uid[0] = '\0';
        assert_null(pending_value_encode(&p));
        (void)str_copy(p.uid, sizeof(p.uid), "n-uid-1");
        (void)str_copy(p.d->id, sizeof(p.d->id), "NOT-HEX");
        assert_null(pending_value_encode(&p));
        pending_delivery_release(&p);
        assert_null(pending_value_encode(&p));
}

#define GOOD_TAIL                                                                                  \
        "\"object\":{\"kind\":\"Task\",\"name\":\"etl\"},\"attempts\":1,"                          \
        "\"queued\":\"2026-01-01T00:00:00Z\""
#define GOOD_HEAD "{\"id\":\"" ID1 "\",\"notifierUid\":\"u\",\"outcome\":\"Failed\","

static void test_value_bad(void **state)
{
        (void)state;
        static const struct {
                const char *data, *why;
        } bad[] = {
            {"", "not a JSON object"},
            {"[1]", "not a JSON object"},
            {GOOD_HEAD GOOD_TAIL ",\"body\":\"{}\",\"body\":\"{}\"}", "not a JSON object"},
            {"{\"notifierUid\":\"u\",\"outcome\":\"Failed\"," GOOD_TAIL ",\"body\":\"{}\"}",
             "id is not a delivery id"},
            {"{\"id\":\"XYZ\",\"notifierUid\":\"u\",\"outcome\":\"Failed\"," GOOD_TAIL
             ",\"body\":\"{}\"}",
             "id is not a delivery id"},
            {"{\"id\":\"0123456789abcdef0123456789abcdef0\",\"notifierUid\":\"u\",\"outcome\":"
             "\"Failed\"," GOOD_TAIL ",\"body\":\"{}\"}",
             "id is not a delivery id"},
            {"{\"id\":\"" ID1 "\",\"outcome\":\"Failed\"," GOOD_TAIL ",\"body\":\"{}\"}",
             "notifierUid is not a uid"},
            {"{\"id\":\"" ID1 "\",\"notifierUid\":\"\",\"outcome\":\"Failed\"," GOOD_TAIL
             ",\"body\":\"{}\"}",
             "notifierUid is not a uid"},
            {"{\"id\":\"" ID1 "\",\"notifierUid\":\"u\",\"outcome\":7," GOOD_TAIL
             ",\"body\":\"{}\"}",
             "outcome is not a reason"},
            {GOOD_HEAD "\"object\":[],\"attempts\":1,\"queued\":\"2026-01-01T00:00:00Z\","
                       "\"body\":\"{}\"}",
             "object is not {kind, name}"},
            {GOOD_HEAD "\"object\":{\"kind\":\"Task\"},\"attempts\":1,"
                       "\"queued\":\"2026-01-01T00:00:00Z\",\"body\":\"{}\"}",
             "object is not {kind, name}"},
            {GOOD_HEAD "\"object\":{\"kind\":\"Task\",\"name\":\"etl\"},\"attempts\":-1,"
                       "\"queued\":\"2026-01-01T00:00:00Z\",\"body\":\"{}\"}",
             "attempts is not a count from 0 to 10"},
            {GOOD_HEAD "\"object\":{\"kind\":\"Task\",\"name\":\"etl\"},\"attempts\":11,"
                       "\"queued\":\"2026-01-01T00:00:00Z\",\"body\":\"{}\"}",
             "attempts is not a count from 0 to 10"},
            {GOOD_HEAD "\"object\":{\"kind\":\"Task\",\"name\":\"etl\"},\"attempts\":\"1\","
                       "\"queued\":\"2026-01-01T00:00:00Z\",\"body\":\"{}\"}",
             "attempts is not a count from 0 to 10"},
            {GOOD_HEAD "\"object\":{\"kind\":\"Task\",\"name\":\"etl\"},\"attempts\":1,"
                       "\"queued\":\"soon\",\"body\":\"{}\"}",
             "queued is not an RFC 3339 time"},
            {GOOD_HEAD "\"object\":{\"kind\":\"Task\",\"name\":\"etl\"},\"attempts\":1,"
                       "\"body\":\"{}\"}",
             "queued is not an RFC 3339 time"},
            {GOOD_HEAD GOOD_TAIL ",\"inFlight\":1,\"body\":\"{}\"}", "inFlight is not a boolean"},
            {GOOD_HEAD GOOD_TAIL "}", "body is not a JSON object of at most 65536 bytes"},
            {GOOD_HEAD GOOD_TAIL ",\"body\":{}}",
             "body is not a JSON object of at most 65536 bytes"},
            {GOOD_HEAD GOOD_TAIL ",\"body\":\"[1]\"}",
             "body is not a JSON object of at most 65536 bytes"},
            {GOOD_HEAD GOOD_TAIL ",\"body\":\"{\\\"a\\\":\"}",
             "body is not a JSON object of at most 65536 bytes"},
            {GOOD_HEAD GOOD_TAIL ",\"body\":\"{}\\u0000\"}", "not a JSON object"},
        };
        struct pending_delivery p = {.in_flight = true};
        char why[128];

        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                why[0] = '\0';
                assert_int_equal(pending_value_decode(bad[i].data, strlen(bad[i].data), &p, why),
                                 -EINVAL);
                assert_string_equal(why, bad[i].why);
                assert_null(p.d); /* untouched */
                assert_true(p.in_flight);
        }
        /* A body over NOTIFY_PAYLOAD_MAX, in a value that is not too large. */
        size_t blen = NOTIFY_PAYLOAD_MAX + 1;
        char *big = malloc(blen + 512);
        assert_non_null(big);
        int k = snprintf(big, 512, GOOD_HEAD GOOD_TAIL ",\"body\":\"{\\\"a\\\":\\\"");
        memset(big + k, 'x', blen);
        memcpy(big + k + blen, "\\\"}\"}", sizeof("\\\"}\"}"));
        assert_int_equal(pending_value_decode(big, strlen(big), &p, why), -EINVAL);
        assert_string_equal(why, "body is not a JSON object of at most 65536 bytes");
        free(big);
        /* Too large to be ours, whatever it holds. */
        big = calloc(1, NOTIFY_PENDING_VALUE_MAX + 2);
        assert_non_null(big);
        memset(big, ' ', NOTIFY_PENDING_VALUE_MAX + 1);
        assert_int_equal(pending_value_decode(big, strlen(big), &p, why), -EINVAL);
        assert_non_null(strstr(why, "more than"));
        free(big);
        assert_int_equal(pending_value_decode(NULL, 0, &p, why), -EINVAL);
        assert_null(p.d);
}

/* ---- in the store --------------------------------------------------------------------- */

struct fixture {
        char dir[64];
        struct store *store;
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        tmp_store_open("pending", f->dir, &f->store);
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

static size_t count_keys(struct fixture *f)
{
        struct store_kvs kvs = {0};
        struct berth_error err = {0};

        assert_int_equal(store_list(f->store, PREFIX NOTIFY_PENDING_SEGMENT, 0, &kvs, &err), 0);
        size_t n = kvs.n;
        store_kvs_release(&kvs);
        return n;
}

static void id_of(char ret[RANDOM_UID_LEN], int i)
{
        snprintf(ret, RANDOM_UID_LEN, "%032x", i);
}

/* n deliveries of notifier ns/name, ids numbered from first, queued at
 * queued. */
static void save(struct fixture *f, const char *ns, const char *name, int first, size_t n,
                 int64_t queued, int64_t stop_ms)
{
        struct pending_delivery p[8];
        struct berth_error err = {0};
        size_t saved = 99;

        assert_true(n <= ARRAY_SIZE(p));
        for (size_t i = 0; i < n; i++) {
                char id[RANDOM_UID_LEN];
                id_of(id, first + (int)i);
                p[i] = pending(ns, name, delivery(id, "{\"n\":1}", (int)i, queued), i == 0);
        }
        assert_int_equal(pending_save(f->store, PREFIX, p, n, stop_ms, NULL, &saved, &err), 0);
        assert_int_equal(saved, n);
        for (size_t i = 0; i < n; i++)
                pending_delivery_release(&p[i]);
}

static void test_save_load_order(void **state)
{
        struct fixture *f = *state;
        struct pending_load l = {0};
        struct berth_error err = {0};
        char id[RANDOM_UID_LEN];
        int64_t rev;

        /* Two stops: the later one's deliveries of pager come after the
         * earlier one's, each queue in order. */
        save(f, "prod", "pager", 10, 3, T0, T0 + 2000);
        save(f, "prod", "pager", 20, 2, T0, T0 + 1000);
        save(f, "dev", "chat", 30, 1, T0, T0 + 2000);
        const char *junk_key = PREFIX NOTIFY_PENDING_SEGMENT "prod/pager/001767225600000-000000";
        assert_int_equal(
            store_put(f->store, junk_key, "{\"id\":1}", 8, STORE_ANY_REVISION, 0, &rev, &err), 0);
        const char *odd_key = PREFIX NOTIFY_PENDING_SEGMENT "prod/pager";
        assert_int_equal(store_put(f->store, odd_key, "{}", 2, STORE_ANY_REVISION, 0, &rev, &err),
                         0);
        assert_int_equal(count_keys(f), 8);

        assert_int_equal(pending_load_read(f->store, PREFIX, 100, HOUR_MS, T0 + 60000, &l, &err),
                         0);
        assert_int_equal(l.n, 6);
        assert_int_equal(l.n_bad, 2);
        assert_int_equal(l.expired, 0);
        assert_int_equal(l.over, 0);
        /* Key order: dev/chat, then pager's stop at +1000 (20, 21), then
         * the one at +2000 (10, 11, 12). */
        static const int want[] = {30, 20, 21, 10, 11, 12};
        for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
                id_of(id, want[i]);
                assert_string_equal(l.items[i].p.d->id, id);
                assert_int_equal(l.items[i].fate, PENDING_QUEUE);
                assert_string_equal(l.items[i].p.uid, "n-uid-1");
        }
        assert_string_equal(l.items[0].p.ns, "dev");
        assert_string_equal(l.items[0].p.name, "chat");
        assert_true(l.items[1].p.in_flight);
        assert_false(l.items[2].p.in_flight);
        assert_int_equal(l.items[5].p.d->attempts, 2);
        /* The first bad one (key order) and why. */
        assert_string_equal(l.bad_key, odd_key);
        assert_string_equal(l.bad_why, "not a key of namespace/name/seq");

        /* All of them go, bad ones too; a key already gone is fine. */
        assert_int_equal(store_delete(f->store, l.items[3].key, STORE_ANY_REVISION, &rev, &err), 0);
        assert_int_equal(pending_load_delete(f->store, &l, NULL, &err), 0);
        assert_int_equal(count_keys(f), 0);
        pending_load_release(&l);
        pending_load_release(&l); /* twice: nothing */
        pending_load_release(NULL);

        /* Nothing stored: nothing loaded, nothing to delete. */
        assert_int_equal(pending_load_read(f->store, PREFIX, 100, HOUR_MS, T0, &l, &err), 0);
        assert_int_equal(l.n + l.n_bad, 0);
        assert_int_equal(pending_load_delete(f->store, &l, NULL, &err), 0);
        pending_load_release(&l);
}

static void test_load_bounds(void **state)
{
        struct fixture *f = *state;
        struct pending_load l = {0};
        struct berth_error err = {0};

        /* Three queued two hours before, four a minute before. */
        save(f, "prod", "a", 0, 3, T0 - 2 * HOUR_MS, T0 - 1000);
        save(f, "prod", "b", 10, 4, T0 - 60000, T0 - 1000);
        /* At most 2 to queue. */
        assert_int_equal(pending_load_read(f->store, PREFIX, 2, HOUR_MS, T0, &l, &err), 0);
        assert_int_equal(l.n, 7);
        assert_int_equal(l.expired, 3);
        assert_int_equal(l.over, 2);
        for (size_t i = 0; i < 3; i++)
                assert_int_equal(l.items[i].fate, PENDING_EXPIRED);
        assert_int_equal(l.items[3].fate, PENDING_QUEUE);
        assert_int_equal(l.items[4].fate, PENDING_QUEUE);
        assert_int_equal(l.items[5].fate, PENDING_OVER);
        assert_int_equal(l.items[6].fate, PENDING_OVER);
        pending_load_release(&l);
        /* Just within the bound is kept. */
        assert_int_equal(pending_load_read(f->store, PREFIX, 100, 2 * HOUR_MS, T0, &l, &err), 0);
        assert_int_equal(l.expired, 0);
        pending_load_release(&l);
}

static void test_save_bad(void **state)
{
        struct fixture *f = *state;
        struct pending_delivery p[2] = {
            pending("prod", "pager", delivery(ID1, "{}", 0, T0), false),
            pending("prod", "pager", delivery(ID1, "{}", 0, 0), false), /* no time */
        };
        struct berth_error err = {0};
        size_t saved = 99;

        /* The first batch fails as a whole: nothing written. */
        assert_int_equal(pending_save(f->store, PREFIX, p, 2, T0, NULL, &saved, &err), -EINVAL);
        assert_int_equal(saved, 0);
        assert_non_null(strstr(err.message, "cannot encode delivery " ID1 " of prod/pager"));
        assert_int_equal(count_keys(f), 0);
        /* A stop time out of range. */
        err = (struct berth_error){0};
        assert_int_equal(pending_save(f->store, PREFIX, p, 1, -5, NULL, &saved, &err), -EINVAL);
        assert_int_equal(count_keys(f), 0);
        /* Nothing to save. */
        assert_int_equal(pending_save(f->store, PREFIX, p, 0, T0, NULL, &saved, &err), 0);
        assert_int_equal(saved, 0);
        pending_delivery_release(&p[0]);
        pending_delivery_release(&p[1]);
}

/* More than one transaction's worth (PENDING_BATCH is 64): every one
 * written, in order. */
static void test_save_many(void **state)
{
        struct fixture *f = *state;
        enum { N = 150 };
        struct pending_delivery *p = calloc(N, sizeof(*p));
        struct pending_load l = {0};
        struct berth_error err = {0};
        size_t saved = 0;
        char id[RANDOM_UID_LEN];

        assert_non_null(p);
        for (int i = 0; i < N; i++) {
                id_of(id, i);
                p[i] = pending("prod", "pager", delivery(id, "{}", 0, T0), false);
        }
        assert_int_equal(pending_save(f->store, PREFIX, p, N, T0, NULL, &saved, &err), 0);
        assert_int_equal(saved, N);
        assert_int_equal(pending_load_read(f->store, PREFIX, 1000, HOUR_MS, T0, &l, &err), 0);
        assert_int_equal(l.n, N);
        for (int i = 0; i < N; i++) {
                id_of(id, i);
                assert_string_equal(l.items[i].p.d->id, id);
        }
        pending_load_release(&l);
        for (int i = 0; i < N; i++)
                pending_delivery_release(&p[i]);
        free(p);
}

/* The fence moved (a new leader has it): neither the save nor the delete
 * writes anything. */
static void test_fence_lost(void **state)
{
        struct fixture *f = *state;
        struct berth_error err = {0};
        struct pending_load l = {0};
        struct pending_delivery p = pending("prod", "pager", delivery(ID1, "{}", 1, T0), true);
        int64_t rev = 0, old;
        size_t saved = 99;

        assert_int_equal(
            store_put(f->store, PREFIX "system/leader", "{}", 2, STORE_ANY_REVISION, 0, &rev, &err),
            0);
        const struct store_guard fence = {.key = PREFIX "system/leader", .mod_revision = rev};
        /* Under the fence while it holds: written. */
        assert_int_equal(pending_save(f->store, PREFIX, &p, 1, T0, &fence, &saved, &err), 0);
        assert_int_equal(saved, 1);
        old = rev;
        assert_int_equal(
            store_put(f->store, PREFIX "system/leader", "{}", 2, STORE_ANY_REVISION, 0, &rev, &err),
            0);
        const struct store_guard stale = {.key = PREFIX "system/leader", .mod_revision = old};
        err = (struct berth_error){0};
        assert_int_equal(pending_save(f->store, PREFIX, &p, 1, T0 + 1, &stale, &saved, &err),
                         -EPERM);
        assert_int_equal(saved, 0);
        assert_non_null(strstr(err.message, "not the leader"));
        assert_int_equal(count_keys(f), 1);

        assert_int_equal(pending_load_read(f->store, PREFIX, 100, HOUR_MS, T0, &l, &err), 0);
        assert_int_equal(l.n, 1);
        err = (struct berth_error){0};
        assert_int_equal(pending_load_delete(f->store, &l, &stale, &err), -EPERM);
        assert_int_equal(count_keys(f), 1);
        /* The leader's fence deletes it. */
        const struct store_guard now = {.key = PREFIX "system/leader", .mod_revision = rev};
        assert_int_equal(pending_load_delete(f->store, &l, &now, &err), 0);
        assert_int_equal(count_keys(f), 0);
        pending_load_release(&l);
        pending_delivery_release(&p);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_key),
            cmocka_unit_test(test_value),
            cmocka_unit_test(test_value_bad),
            cmocka_unit_test_setup_teardown(test_save_load_order, setup, teardown),
            cmocka_unit_test_setup_teardown(test_load_bounds, setup, teardown),
            cmocka_unit_test_setup_teardown(test_save_bad, setup, teardown),
            cmocka_unit_test_setup_teardown(test_save_many, setup, teardown),
            cmocka_unit_test_setup_teardown(test_fence_lost, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
