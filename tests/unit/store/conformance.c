/* store conformance suite: the same cases run against every backend.
 *
 * The URL comes from $BERTH_STORE_URL; without it, a fresh sqlite database in a
 * temporary directory (removed at the end). Every test works under its own
 * random prefix, so the suite can share one etcd with other runs. Waits are
 * bounded condition waits, never long sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sys/random.h>
#include <time.h>

#include "metrics.h"
#include "sample-json.h"
#include "store.h"
#include "test-support.h"
#include "store-suite.h"

/* ---- helpers ------------------------------------------------------------ */

static int64_t put_str(const char *key, const char *value, int64_t expected)
{
        struct berth_error err = {0};
        int64_t rev = 0;
        int r = store_put(suite.store, key, value, strlen(value), expected, 0, &rev, &err);
        if (r < 0)
                print_error("put %s: %s\n", key, err.message);
        assert_int_equal(r, 0);
        assert_true(rev > 0);
        return rev;
}

static int64_t current_revision(void)
{
        int64_t rev = -1;
        assert_int_equal(store_revision(suite.store, &rev, NULL), 0);
        return rev;
}

/* Collects watch events (copies) for assertions on the test thread. */
struct ev {
        enum store_event_type type;
        char *key;
        char *value;
        int64_t mod, create, version, lease;
        char *prev_key;
        char *prev_value;
        int64_t prev_mod, prev_version;
        int call; /* which callback call brought it (1, 2, ...) */
};

struct collector {
        pthread_mutex_t m;
        pthread_cond_t c;
        struct ev *evs;
        size_t n, cap;
        int calls;
        int errors;
        int last_error;
        bool bad_batch; /* a call with n == 0 and no error, or events with an error */
        /* optional: cancel this other watch from the callback (cancel-rule test) */
        struct store_watch *cancel_other;
        bool cancelled_other;
};

static void collector_init(struct collector *c)
{
        *c = (struct collector){0};
        pthread_mutex_init(&c->m, NULL);
        pthread_condattr_t a;
        pthread_condattr_init(&a);
        pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
        pthread_cond_init(&c->c, &a);
        pthread_condattr_destroy(&a);
}

static void collector_release(struct collector *c)
{
        for (size_t i = 0; i < c->n; i++) {
                free(c->evs[i].key);
                free(c->evs[i].value);
                free(c->evs[i].prev_key);
                free(c->evs[i].prev_value);
        }
        free(c->evs);
        pthread_mutex_destroy(&c->m);
        pthread_cond_destroy(&c->c);
}

static char *dup_or_null(const char *s)
{
        return s ? strdup(s) : NULL;
}

static void collect_fn(const struct store_event *events, size_t n, int error, void *userdata)
{
        struct collector *c = userdata;
        if (c->cancel_other) {
                store_watch_cancel(c->cancel_other);
                c->cancel_other = NULL;
                c->cancelled_other = true;
        }
        pthread_mutex_lock(&c->m);
        c->calls++;
        if (error) {
                c->errors++;
                c->last_error = error;
                if (events || n)
                        c->bad_batch = true;
        } else if (n == 0 || !events) {
                c->bad_batch = true;
        }
        for (size_t i = 0; !error && i < n; i++) {
                if (c->n == c->cap) {
                        c->cap = c->cap ? c->cap * 2 : 64;
                        c->evs = realloc(c->evs, c->cap * sizeof(*c->evs));
                        assert_non_null(c->evs);
                }
                const struct store_event *e = &events[i];
                c->evs[c->n++] = (struct ev){
                    .type = e->type,
                    .key = dup_or_null(e->kv.key),
                    .value = dup_or_null(e->kv.value),
                    .mod = e->kv.mod_revision,
                    .create = e->kv.create_revision,
                    .version = e->kv.version,
                    .lease = e->kv.lease,
                    .prev_key = dup_or_null(e->prev_kv.key),
                    .prev_value = dup_or_null(e->prev_kv.value),
                    .prev_mod = e->prev_kv.mod_revision,
                    .prev_version = e->prev_kv.version,
                    .call = c->calls,
                };
        }
        pthread_cond_broadcast(&c->c);
        pthread_mutex_unlock(&c->m);
}

/* Waits until at least n events (or an error) arrived; false on timeout. */
static bool collector_wait(struct collector *c, size_t n, int timeout_ms)
{
        struct timespec ts;
        time_mono_deadline(&ts, timeout_ms);
        pthread_mutex_lock(&c->m);
        while (c->n < n && c->errors == 0) {
                if (pthread_cond_timedwait(&c->c, &c->m, &ts) == ETIMEDOUT)
                        break;
        }
        bool ok = c->n >= n || c->errors > 0;
        pthread_mutex_unlock(&c->m);
        return ok;
}

static size_t collector_count(struct collector *c)
{
        pthread_mutex_lock(&c->m);
        size_t n = c->n;
        pthread_mutex_unlock(&c->m);
        return n;
}

static struct store_watch *watch_or_fail(const char *prefix, int64_t from, struct collector *c)
{
        struct store_watch *w = NULL;
        struct berth_error err = {0};
        int r = store_watch(suite.store, prefix, from, collect_fn, c, &w, &err);
        if (r < 0)
                print_error("watch %s: %s\n", prefix, err.message);
        assert_int_equal(r, 0);
        assert_non_null(w);
        return w;
}

/* An embedded store: SQLite, or the memstore test plugin (tests/plugins/),
 * which keeps the same model: one revision per op of a txn, txns of up to
 * 4096 ops and 64 MiB, and compaction that keeps the value an event from the
 * compaction point replaced. etcd: one revision per txn, its limits. */
static bool is_embedded(void)
{
        return str_has_prefix(suite.url, "sqlite:") || str_has_prefix(suite.url, "memstore");
}

/* ---- setup ----------------------------------------------------------- */

/* ---- basic kv ----------------------------------------------------------- */

static void test_get_missing(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("", "get_missing");
        _cleanup_free_ char *key = key_in(prefix, "nope");
        struct store_kv kv = {.key = (char *)"untouched"};
        struct berth_error err = {0};
        assert_int_equal(store_get(suite.store, key, &kv, &err), -ENOENT);
        assert_string_equal(kv.key, "untouched");
        assert_non_null(strstr(err.message, key));
}

static void test_put_get_roundtrip(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("", "roundtrip");
        _cleanup_free_ char *key = key_in(prefix, "a");
        int64_t r1 = put_str(key, "{\"v\":1}", STORE_ANY_REVISION);

        struct store_kv kv = {0};
        assert_int_equal(store_get(suite.store, key, &kv, NULL), 0);
        assert_string_equal(kv.key, key);
        assert_string_equal(kv.value, "{\"v\":1}");
        assert_int_equal(kv.value_len, 7);
        assert_int_equal(kv.create_revision, r1);
        assert_int_equal(kv.mod_revision, r1);
        assert_int_equal(kv.version, 1);
        assert_int_equal(kv.lease, 0);
        store_kv_release(&kv);
        assert_null(kv.key);

        int64_t r2 = put_str(key, "{\"v\":2}", STORE_ANY_REVISION);
        assert_true(r2 > r1);
        int64_t r3 = put_str(key, "", r2);
        assert_int_equal(store_get(suite.store, key, &kv, NULL), 0);
        assert_string_equal(kv.value, "");
        assert_int_equal(kv.value_len, 0);
        assert_int_equal(kv.create_revision, r1);
        assert_int_equal(kv.mod_revision, r3);
        assert_int_equal(kv.version, 3);
        store_kv_release(&kv);

        /* Binary values round-trip byte for byte. */
        const char bin[] = {'a', '\0', 'b', (char)0xff};
        assert_int_equal(
            store_put(suite.store, key, bin, sizeof(bin), STORE_ANY_REVISION, 0, NULL, NULL), 0);
        assert_int_equal(store_get(suite.store, key, &kv, NULL), 0);
        assert_int_equal(kv.value_len, sizeof(bin));
        assert_memory_equal(kv.value, bin, sizeof(bin));
        assert_int_equal(kv.value[sizeof(bin)], '\0');
        store_kv_release(&kv);

        /* After a delete, the key starts over. */
        int64_t rd = 0;
        assert_int_equal(store_delete(suite.store, key, STORE_ANY_REVISION, &rd, NULL), 0);
        int64_t r5 = put_str(key, "again", STORE_MUST_NOT_EXIST);
        assert_true(r5 > rd);
        assert_int_equal(store_get(suite.store, key, &kv, NULL), 0);
        assert_int_equal(kv.create_revision, r5);
        assert_int_equal(kv.version, 1);
        store_kv_release(&kv);
        assert_true(current_revision() >= r5);
}

static void test_create_only_conflict(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("", "create_only");
        _cleanup_free_ char *key = key_in(prefix, "x");
        int64_t r1 = put_str(key, "first", STORE_MUST_NOT_EXIST);
        struct berth_error err = {0};
        int64_t rev = -7;
        assert_int_equal(
            store_put(suite.store, key, "second", 6, STORE_MUST_NOT_EXIST, 0, &rev, &err), -ESTALE);
        assert_int_equal(rev, -7);
        assert_int_equal(err.code, -ESTALE);
        assert_non_null(strstr(err.message, key));
        struct store_kv kv = {0};
        assert_int_equal(store_get(suite.store, key, &kv, NULL), 0);
        assert_string_equal(kv.value, "first");
        assert_int_equal(kv.mod_revision, r1);
        store_kv_release(&kv);
}

static void test_cas(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("", "cas");
        _cleanup_free_ char *key = key_in(prefix, "obj");
        _cleanup_free_ char *missing = key_in(prefix, "missing");
        int64_t r1 = put_str(key, "v1", STORE_MUST_NOT_EXIST);
        int64_t r2 = put_str(key, "v2", r1);
        assert_true(r2 > r1);

        struct berth_error err = {0};
        assert_int_equal(store_put(suite.store, key, "v3", 2, r1, 0, NULL, &err), -ESTALE);
        assert_non_null(strstr(err.message, key));
        char buf[32];
        snprintf(buf, sizeof(buf), "%" PRId64, r1);
        assert_non_null(strstr(err.message, buf));
        snprintf(buf, sizeof(buf), "%" PRId64, r2);
        assert_non_null(strstr(err.message, buf));

        /* Expecting a revision of a key that does not exist also conflicts. */
        assert_int_equal(store_put(suite.store, missing, "v", 1, r1, 0, NULL, NULL), -ESTALE);

        struct store_kv kv = {0};
        assert_int_equal(store_get(suite.store, key, &kv, NULL), 0);
        assert_string_equal(kv.value, "v2");
        assert_int_equal(kv.mod_revision, r2);
        assert_int_equal(kv.version, 2);
        store_kv_release(&kv);
}

static void test_delete(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("", "delete");
        _cleanup_free_ char *key = key_in(prefix, "d");
        struct berth_error err = {0};
        int64_t rev = -7;
        assert_int_equal(store_delete(suite.store, key, STORE_ANY_REVISION, &rev, &err), -ENOENT);
        assert_int_equal(rev, -7);

        int64_t r1 = put_str(key, "v", STORE_MUST_NOT_EXIST);
        int64_t r2 = put_str(key, "w", r1);
        assert_int_equal(store_delete(suite.store, key, r1, &rev, &err), -ESTALE);
        assert_int_equal(rev, -7);
        assert_non_null(strstr(err.message, key));
        assert_int_equal(store_delete(suite.store, key, r2, &rev, NULL), 0);
        assert_true(rev > r2);
        struct store_kv kv = {0};
        assert_int_equal(store_get(suite.store, key, &kv, NULL), -ENOENT);
        assert_int_equal(store_delete(suite.store, key, STORE_ANY_REVISION, NULL, NULL), -ENOENT);
        assert_int_equal(store_delete(suite.store, key, rev, NULL, NULL), -ENOENT);
}

/* Fenced writes: the guard key's mod revision is compared in the same
 * transaction as the write; a failed guard is -EPERM and writes nothing. */
static void test_guard_holds(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("", "guard_holds");
        _cleanup_free_ char *fence = key_in(prefix, "leader");
        _cleanup_free_ char *key = key_in(prefix, "obj");
        int64_t fr = put_str(fence, "me", STORE_MUST_NOT_EXIST);
        struct store_guard g = {.key = fence, .mod_revision = fr};
        struct berth_error err = {0};

        int64_t r1 = 0;
        assert_int_equal(
            store_put_guarded(suite.store, key, "v1", 2, STORE_MUST_NOT_EXIST, 0, &g, &r1, &err),
            0);
        assert_true(r1 > fr);
        int64_t r2 = 0;
        assert_int_equal(store_put_guarded(suite.store, key, "v2", 2, r1, 0, &g, &r2, &err), 0);
        assert_true(r2 > r1);
        int64_t r3 = 0;
        assert_int_equal(
            store_put_guarded(suite.store, key, "v3", 2, STORE_ANY_REVISION, 0, &g, &r3, &err), 0);
        assert_true(r3 > r2);

        /* With the guard holding, the key's own CAS still applies: -ESTALE, not -EPERM. */
        int64_t rev = -7;
        assert_int_equal(store_put_guarded(suite.store, key, "v4", 2, r1, 0, &g, &rev, &err),
                         -ESTALE);
        assert_int_equal(rev, -7);
        assert_int_equal(store_delete_guarded(suite.store, key, r1, &g, &rev, &err), -ESTALE);
        _cleanup_free_ char *missing = key_in(prefix, "missing");
        assert_int_equal(
            store_delete_guarded(suite.store, missing, STORE_ANY_REVISION, &g, &rev, &err),
            -ENOENT);
        assert_int_equal(rev, -7);

        struct store_kv kv = {0};
        assert_int_equal(store_get(suite.store, key, &kv, NULL), 0);
        assert_string_equal(kv.value, "v3");
        store_kv_release(&kv);

        int64_t rd = 0;
        assert_int_equal(store_delete_guarded(suite.store, key, r3, &g, &rd, &err), 0);
        assert_true(rd > r3);
        assert_int_equal(store_get(suite.store, key, &kv, NULL), -ENOENT);
        put_str(key, "v5", STORE_MUST_NOT_EXIST);
        assert_int_equal(store_delete_guarded(suite.store, key, STORE_ANY_REVISION, &g, NULL, &err),
                         0);

        /* The guard key itself is untouched by guarded writes. */
        assert_int_equal(store_get(suite.store, fence, &kv, NULL), 0);
        assert_int_equal(kv.mod_revision, fr);
        store_kv_release(&kv);

        /* NULL guard: plain writes. */
        assert_int_equal(
            store_put_guarded(suite.store, key, "v6", 2, STORE_MUST_NOT_EXIST, 0, NULL, NULL, &err),
            0);

        /* Invalid guards are refused before anything is sent. */
        struct store_guard bad = {.key = fence, .mod_revision = 0};
        assert_int_equal(
            store_put_guarded(suite.store, key, "x", 1, STORE_ANY_REVISION, 0, &bad, NULL, NULL),
            -EINVAL);
        bad = (struct store_guard){.key = NULL, .mod_revision = fr};
        assert_int_equal(
            store_delete_guarded(suite.store, key, STORE_ANY_REVISION, &bad, NULL, NULL), -EINVAL);
}

static void assert_guard_refuses(const struct store_guard *g, const char *key, int64_t key_rev)
{
        struct berth_error err = {0};
        int64_t rev = -7;
        /* Whatever the key's own expectation, a failed guard is -EPERM. */
        const int64_t expectations[] = {STORE_ANY_REVISION, key_rev, key_rev + 1000};
        for (size_t i = 0; i < ARRAY_SIZE(expectations); i++) {
                berth_error_clear(&err);
                assert_int_equal(store_put_guarded(suite.store, key, "late", 4, expectations[i], 0,
                                                   g, &rev, &err),
                                 -EPERM);
                assert_int_equal(err.code, -EPERM);
                assert_non_null(strstr(err.message, "not the leader any more"));
                assert_non_null(strstr(err.message, g->key));
                berth_error_clear(&err);
                assert_int_equal(
                    store_delete_guarded(suite.store, key, expectations[i], g, &rev, &err), -EPERM);
                assert_non_null(strstr(err.message, g->key));
        }
        _cleanup_free_ char *fresh = str_printf("%s.new", key);
        assert_non_null(fresh);
        assert_int_equal(store_put_guarded(suite.store, fresh, "late", 4, STORE_MUST_NOT_EXIST, 0,
                                           g, &rev, NULL),
                         -EPERM);
        assert_int_equal(rev, -7);

        /* Nothing was written. */
        struct store_kv kv = {0};
        assert_int_equal(store_get(suite.store, key, &kv, NULL), 0);
        assert_string_equal(kv.value, "v");
        assert_int_equal(kv.mod_revision, key_rev);
        store_kv_release(&kv);
        assert_int_equal(store_get(suite.store, fresh, &kv, NULL), -ENOENT);
}

static void test_guard_rewritten(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("", "guard_rewritten");
        _cleanup_free_ char *fence = key_in(prefix, "leader");
        _cleanup_free_ char *key = key_in(prefix, "obj");
        int64_t fr = put_str(fence, "old", STORE_MUST_NOT_EXIST);
        int64_t kr = put_str(key, "v", STORE_MUST_NOT_EXIST);
        put_str(fence, "new", fr); /* another leader took over */
        struct store_guard g = {.key = fence, .mod_revision = fr};
        assert_guard_refuses(&g, key, kr);
}

static void test_guard_deleted(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("", "guard_deleted");
        _cleanup_free_ char *fence = key_in(prefix, "leader");
        _cleanup_free_ char *key = key_in(prefix, "obj");
        int64_t fr = put_str(fence, "old", STORE_MUST_NOT_EXIST);
        int64_t kr = put_str(key, "v", STORE_MUST_NOT_EXIST);
        assert_int_equal(store_delete(suite.store, fence, fr, NULL, NULL), 0); /* lease expired */
        struct store_guard g = {.key = fence, .mod_revision = fr};
        assert_guard_refuses(&g, key, kr);

        /* Re-created by someone else: a new mod revision, still refused. */
        put_str(fence, "other", STORE_MUST_NOT_EXIST);
        assert_guard_refuses(&g, key, kr);
}

static void test_list(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("", "list");
        _cleanup_free_ char *ka = key_in(prefix, "a");
        _cleanup_free_ char *kb = key_in(prefix, "b");
        _cleanup_free_ char *kc = key_in(prefix, "c");
        _cleanup_free_ char *kd = key_in(prefix, "d");
        _cleanup_free_ char *kab = key_in(prefix, "a/b");
        /* A sibling that shares the prefix without its trailing slash. */
        _cleanup_free_ char *sibling = strdup(prefix);
        sibling[strlen(sibling) - 1] = '0';

        put_str(kc, "c1", STORE_MUST_NOT_EXIST);
        put_str(ka, "a1", STORE_MUST_NOT_EXIST);
        int64_t rb = put_str(kb, "b1", STORE_MUST_NOT_EXIST);
        put_str(kab, "ab1", STORE_MUST_NOT_EXIST);
        int64_t before = put_str(sibling, "s", STORE_ANY_REVISION);

        struct store_kvs kvs = {0};
        assert_int_equal(store_list(suite.store, prefix, 0, &kvs, NULL), 0);
        assert_int_equal(kvs.n, 4);
        assert_string_equal(kvs.items[0].key, ka);
        assert_string_equal(kvs.items[1].key, kab);
        assert_string_equal(kvs.items[2].key, kb);
        assert_string_equal(kvs.items[3].key, kc);
        assert_string_equal(kvs.items[2].value, "b1");
        assert_int_equal(kvs.items[2].mod_revision, rb);
        assert_true(kvs.revision >= before);
        store_kvs_release(&kvs);
        assert_null(kvs.items);

        /* Change things, then look at the past. */
        put_str(kb, "b2", rb);
        assert_int_equal(store_delete(suite.store, kc, STORE_ANY_REVISION, NULL, NULL), 0);
        put_str(kd, "d1", STORE_MUST_NOT_EXIST);

        assert_int_equal(store_list(suite.store, prefix, 0, &kvs, NULL), 0);
        assert_int_equal(kvs.n, 4);
        assert_string_equal(kvs.items[2].key, kb);
        assert_string_equal(kvs.items[2].value, "b2");
        assert_int_equal(kvs.items[2].version, 2);
        assert_string_equal(kvs.items[3].key, kd);
        store_kvs_release(&kvs);

        assert_int_equal(store_list(suite.store, prefix, before, &kvs, NULL), 0);
        assert_int_equal(kvs.revision, before);
        assert_int_equal(kvs.n, 4);
        assert_string_equal(kvs.items[2].value, "b1");
        assert_int_equal(kvs.items[2].version, 1);
        assert_string_equal(kvs.items[3].key, kc);
        assert_string_equal(kvs.items[3].value, "c1");
        store_kvs_release(&kvs);

        assert_int_equal(store_list(suite.store, prefix, rb, &kvs, NULL), 0);
        assert_int_equal(kvs.n, 3); /* c, a, b existed at rb; a/b came later */
        store_kvs_release(&kvs);

        _cleanup_free_ char *empty = suite_prefix("", "list_empty");
        kvs.revision = -7;
        assert_int_equal(store_list(suite.store, empty, 0, &kvs, NULL), 0);
        assert_int_equal(kvs.n, 0);
        assert_true(kvs.revision > 0);
        store_kvs_release(&kvs);
}

static void test_list_compacted(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("", "compacted");
        _cleanup_free_ char *k1 = key_in(prefix, "1");
        _cleanup_free_ char *k2 = key_in(prefix, "2");
        _cleanup_free_ char *k3 = key_in(prefix, "3");
        int64_t r1 = put_str(k1, "a", STORE_ANY_REVISION);
        put_str(k1, "b", STORE_ANY_REVISION);
        put_str(k3, "x", STORE_ANY_REVISION);
        assert_int_equal(store_delete(suite.store, k3, STORE_ANY_REVISION, NULL, NULL), 0);
        int64_t r3 = put_str(k2, "c", STORE_ANY_REVISION);
        int64_t r4 = put_str(k1, "d", STORE_ANY_REVISION);
        assert_int_equal(store_compact(suite.store, r3, NULL), 0);

        struct store_kvs kvs = {.n = 77};
        struct berth_error err = {0};
        assert_int_equal(store_list(suite.store, prefix, r1, &kvs, &err), STORE_ERR_COMPACTED);
        assert_int_equal(kvs.n, 77);
        assert_int_equal(err.code, STORE_ERR_COMPACTED);

        /* At the compaction point and after, lists stay exact. */
        kvs = (struct store_kvs){0};
        assert_int_equal(store_list(suite.store, prefix, r3, &kvs, NULL), 0);
        assert_int_equal(kvs.n, 2);
        assert_string_equal(kvs.items[0].value, "b");
        assert_int_equal(kvs.items[0].version, 2);
        assert_string_equal(kvs.items[1].value, "c");
        store_kvs_release(&kvs);
        assert_int_equal(store_list(suite.store, prefix, r4, &kvs, NULL), 0);
        assert_int_equal(kvs.n, 2);
        assert_string_equal(kvs.items[0].value, "d");
        assert_int_equal(kvs.items[0].version, 3);
        assert_int_equal(kvs.items[0].create_revision, r1);
        store_kvs_release(&kvs);
        assert_int_equal(store_list(suite.store, prefix, 0, &kvs, NULL), 0);
        assert_int_equal(kvs.n, 2);
        store_kvs_release(&kvs);

        /* Compacting again at an older point is harmless. */
        assert_int_equal(store_compact(suite.store, r1, NULL), 0);
        struct store_kv kv = {0};
        assert_int_equal(store_get(suite.store, k1, &kv, NULL), 0);
        assert_string_equal(kv.value, "d");
        store_kv_release(&kv);
}

/* Pages read one snapshot: writes between pages do not show, every key at
 * the revision comes exactly once, and a compacted revision fails. */
static void test_list_page(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("", "page");
        char name[8];
        int64_t rev = 0;
        for (int i = 0; i < 10; i++) {
                snprintf(name, sizeof(name), "k%02d", i);
                _cleanup_free_ char *k = key_in(prefix, name);
                rev = put_str(k, name, STORE_MUST_NOT_EXIST);
        }
        struct store_kvs kvs = {0};
        bool more = false;
        struct berth_error err = {0};
        assert_int_equal(store_list_page(suite.store, prefix, NULL, 0, 4, &kvs, &more, &err), 0);
        assert_int_equal(kvs.n, 4);
        assert_true(more);
        assert_true(kvs.revision >= rev);
        int64_t at = kvs.revision;
        _cleanup_free_ char *after = strdup(kvs.items[3].key);
        assert_string_equal(kvs.items[0].value, "k00");
        store_kvs_release(&kvs);

        /* Changes after the snapshot: k05 deleted, k04 rewritten, k99 new. */
        _cleanup_free_ char *k04 = key_in(prefix, "k04");
        _cleanup_free_ char *k05 = key_in(prefix, "k05");
        _cleanup_free_ char *k99 = key_in(prefix, "k99");
        put_str(k04, "new", STORE_ANY_REVISION);
        assert_int_equal(store_delete(suite.store, k05, STORE_ANY_REVISION, NULL, NULL), 0);
        put_str(k99, "k99", STORE_MUST_NOT_EXIST);

        assert_int_equal(store_list_page(suite.store, prefix, after, at, 4, &kvs, &more, &err), 0);
        assert_int_equal(kvs.revision, at);
        assert_int_equal(kvs.n, 4);
        assert_true(more);
        assert_string_equal(kvs.items[0].value, "k04");
        assert_string_equal(kvs.items[1].value, "k05");
        free(after);
        after = strdup(kvs.items[3].key);
        store_kvs_release(&kvs);
        assert_int_equal(store_list_page(suite.store, prefix, after, at, 4, &kvs, &more, &err), 0);
        assert_int_equal(kvs.n, 2); /* k08, k09; not k99 */
        assert_false(more);
        assert_string_equal(kvs.items[1].value, "k09");
        store_kvs_release(&kvs);

        /* Now: k05 gone, k99 there. */
        assert_int_equal(store_list_page(suite.store, prefix, after, 0, 100, &kvs, &more, &err), 0);
        assert_int_equal(kvs.n, 3);
        assert_false(more);
        assert_string_equal(kvs.items[2].value, "k99");
        store_kvs_release(&kvs);

        /* Bad arguments. */
        assert_int_equal(store_list_page(suite.store, prefix, NULL, 0, 0, &kvs, &more, &err),
                         -EINVAL);
        assert_int_equal(
            store_list_page(suite.store, prefix, "/elsewhere", 0, 3, &kvs, &more, &err), -EINVAL);
        assert_int_equal(store_list_page(suite.store, prefix, NULL, 0, STORE_LIST_PAGE_MAX + 1,
                                         &kvs, &more, &err),
                         -EINVAL);

        /* A compacted snapshot. */
        int64_t now = put_str(k99, "again", STORE_ANY_REVISION);
        assert_int_equal(store_compact(suite.store, now, NULL), 0);
        assert_int_equal(store_list_page(suite.store, prefix, after, at, 4, &kvs, &more, &err),
                         STORE_ERR_COMPACTED);
}

static void test_revision_monotonic(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("", "monotonic");
        int64_t last = current_revision();
        for (int i = 0; i < 20; i++) {
                char name[16];
                snprintf(name, sizeof(name), "k%d", i % 3);
                _cleanup_free_ char *key = key_in(prefix, name);
                int64_t rev;
                if (i % 4 == 3) {
                        assert_int_equal(
                            store_delete(suite.store, key, STORE_ANY_REVISION, &rev, NULL), 0);
                } else {
                        rev = put_str(key, "v", STORE_ANY_REVISION);
                }
                assert_true(rev > last);
                last = rev;
                if (is_embedded())
                        assert_int_equal(current_revision(), rev);
                else
                        assert_true(current_revision() >= rev);
        }
}

static void test_limits(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("", "limits");
        _cleanup_free_ char *key = key_in(prefix, "big");
        /* Random bytes: they do not compress, so the stored size is theirs. */
        size_t big = STORE_VALUE_MAX + 1;
        _cleanup_free_ char *value = sample_random_bytes(big);
        value[0] = 'r';
        struct berth_error err = {0};
        int64_t rev = -7;
        assert_int_equal(store_put(suite.store, key, value, big, STORE_ANY_REVISION, 0, &rev, &err),
                         -E2BIG);
        assert_int_equal(rev, -7);
        assert_non_null(strstr(err.message, key));
        assert_non_null(strstr(err.message, "limit"));
        struct store_kv kv = {0};
        assert_int_equal(store_get(suite.store, key, &kv, NULL), -ENOENT);

        /* A large value below the limit round-trips. */
        size_t ok = 1024 * 1024;
        assert_int_equal(store_put(suite.store, key, value, ok, STORE_ANY_REVISION, 0, &rev, NULL),
                         0);
        assert_int_equal(store_get(suite.store, key, &kv, NULL), 0);
        assert_int_equal(kv.value_len, ok);
        assert_memory_equal(kv.value, value, ok);
        store_kv_release(&kv);

        /* Keys: empty and too long are refused. */
        _cleanup_free_ char *long_key = malloc(STORE_KEY_MAX + 2);
        assert_non_null(long_key);
        memset(long_key, 'k', STORE_KEY_MAX + 1);
        long_key[STORE_KEY_MAX + 1] = '\0';
        assert_int_equal(
            store_put(suite.store, long_key, "v", 1, STORE_ANY_REVISION, 0, NULL, NULL),
            -ENAMETOOLONG);
        assert_int_equal(store_get(suite.store, long_key, &kv, NULL), -ENAMETOOLONG);
        assert_int_equal(store_put(suite.store, "", "v", 1, STORE_ANY_REVISION, 0, NULL, NULL),
                         -EINVAL);
        assert_int_equal(store_put(suite.store, key, "v", 1, -2, 0, NULL, NULL), -EINVAL);
        assert_int_equal(store_delete(suite.store, key, STORE_MUST_NOT_EXIST, NULL, NULL), -EINVAL);
        struct store_kvs kvs = {0};
        assert_int_equal(store_list(suite.store, prefix, -1, &kvs, NULL), -EINVAL);
        int64_t id = -7;
        assert_int_equal(store_lease_grant(suite.store, 0, &id, NULL), -EINVAL);
        assert_int_equal(id, -7);
}

/* ---- transactions (store_txn, store_get_many) ------------------------------ */

#define TXN_KEYS 300

/* Commits ops[0..n) in as many txns as store_txn_fit says; revs[i] per op. */
static size_t txn_all(struct store_op *ops, size_t n, int64_t *revs)
{
        size_t txns = 0;
        for (size_t i = 0; i < n; txns++) {
                size_t m = store_txn_fit(suite.store, ops + i, n - i, false);
                assert_true(m >= 1);
                struct berth_error err = {0};
                int r = store_txn(suite.store, ops + i, m, NULL, revs + i, NULL, &err);
                if (r < 0)
                        print_error("txn: %s\n", err.message);
                assert_int_equal(r, 0);
                i += m;
        }
        return txns;
}

/* Many keys in few txns: every value reads back (store_get_many), revisions
 * are one per txn on etcd and one per op on SQLite, and a watch from before
 * the batch sees every key exactly once, each revision in one callback call. */
static void test_txn_many(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("", "txn_many");
        char *keys[TXN_KEYS + 1];
        char *values[TXN_KEYS];
        struct store_op ops[TXN_KEYS];
        int64_t revs[TXN_KEYS];
        for (size_t i = 0; i < TXN_KEYS; i++) {
                keys[i] = str_printf("%sk%04zu", prefix, i);
                /* Every 50th value is large: stored compressed, inflated on reads. */
                size_t len = 0;
                values[i] =
                    i % 50 == 7 ? sample_workflow_json(60, &len) : str_printf("value %zu", i);
                assert_non_null(keys[i]);
                assert_non_null(values[i]);
                ops[i] = (struct store_op){.type = STORE_OP_PUT,
                                           .key = keys[i],
                                           .value = values[i],
                                           .value_len = strlen(values[i]),
                                           .expected_mod_revision = STORE_MUST_NOT_EXIST};
        }
        keys[TXN_KEYS] = key_in(prefix, "missing");

        int64_t before = current_revision();
        struct collector c;
        collector_init(&c);
        struct store_watch *w = watch_or_fail(prefix, before + 1, &c);

        size_t fit = store_txn_fit(suite.store, ops, TXN_KEYS, false);
        if (is_embedded())
                assert_int_equal(fit, TXN_KEYS); /* one SQLite transaction */
        else
                assert_int_equal(fit, 128); /* etcd's --max-txn-ops */
        assert_int_equal(store_txn_fit(suite.store, ops, TXN_KEYS, true),
                         is_embedded() ? 300 : 127);
        size_t txns = txn_all(ops, TXN_KEYS, revs);
        assert_int_equal(txns, is_embedded() ? 1 : 3);
        for (size_t i = 1; i < TXN_KEYS; i++) {
                if (is_embedded())
                        assert_int_equal(revs[i], revs[i - 1] + 1);
                else if (i % 128 != 0)
                        assert_int_equal(revs[i], revs[i - 1]);
                else
                        assert_true(revs[i] > revs[i - 1]);
        }
        assert_true(revs[0] > before);

        struct store_kv got[TXN_KEYS + 1];
        struct berth_error err = {0};
        assert_int_equal(
            store_get_many(suite.store, (const char *const *)keys, TXN_KEYS + 1, got, &err), 0);
        for (size_t i = 0; i < TXN_KEYS; i++) {
                assert_non_null(got[i].key);
                assert_string_equal(got[i].key, keys[i]);
                assert_int_equal(got[i].value_len, strlen(values[i]));
                assert_string_equal(got[i].value, values[i]);
                assert_int_equal(got[i].mod_revision, revs[i]);
                assert_int_equal(got[i].create_revision, revs[i]);
                assert_int_equal(got[i].version, 1);
                store_kv_release(&got[i]);
        }
        assert_null(got[TXN_KEYS].key); /* missing: all zero */
        assert_int_equal(got[TXN_KEYS].mod_revision, 0);

        /* The watch: each key once, in revision order then key order. */
        assert_true(collector_wait(&c, TXN_KEYS, 10000));
        store_watch_cancel(w);
        assert_int_equal(c.errors, 0);
        assert_int_equal(c.n, TXN_KEYS);
        for (size_t i = 0; i < TXN_KEYS; i++) {
                assert_string_equal(c.evs[i].key, keys[i]);
                assert_int_equal(c.evs[i].mod, revs[i]);
                assert_string_equal(c.evs[i].value, values[i]);
                if (i > 0 && c.evs[i].mod == c.evs[i - 1].mod)
                        assert_int_equal(c.evs[i].call, c.evs[i - 1].call);
        }
        collector_release(&c);

        /* A watch resumed from the revision just before the batch, after it:
         * every object once (history replay). */
        collector_init(&c);
        w = watch_or_fail(prefix, before + 1, &c);
        assert_true(collector_wait(&c, TXN_KEYS, 10000));
        /* Nothing more arrives after a live write: no repeats. */
        _cleanup_free_ char *last = key_in(prefix, "zz-live");
        int64_t live = put_str(last, "live", STORE_MUST_NOT_EXIST);
        assert_true(collector_wait(&c, TXN_KEYS + 1, 5000));
        store_watch_cancel(w);
        assert_int_equal(c.n, TXN_KEYS + 1);
        for (size_t i = 0; i < TXN_KEYS; i++)
                assert_string_equal(c.evs[i].key, keys[i]);
        assert_int_equal(c.evs[TXN_KEYS].mod, live);
        collector_release(&c);

        /* Updates and deletes in one txn, with CAS on what was read. */
        struct store_op upd[3] = {
            {.type = STORE_OP_PUT,
             .key = keys[0],
             .value = "v2",
             .value_len = 2,
             .expected_mod_revision = revs[0]},
            {.type = STORE_OP_DELETE, .key = keys[1], .expected_mod_revision = revs[1]},
            {.type = STORE_OP_DELETE, .key = keys[2], .expected_mod_revision = STORE_ANY_REVISION},
        };
        int64_t urevs[3];
        assert_int_equal(store_txn(suite.store, upd, 3, NULL, urevs, NULL, &err), 0);
        assert_int_equal(store_get_many(suite.store, (const char *const *)keys, 3, got, &err), 0);
        assert_string_equal(got[0].value, "v2");
        assert_int_equal(got[0].version, 2);
        assert_int_equal(got[0].mod_revision, urevs[0]);
        assert_int_equal(got[0].create_revision, revs[0]);
        assert_null(got[1].key);
        assert_null(got[2].key);
        store_kv_release(&got[0]);

        for (size_t i = 0; i < TXN_KEYS; i++) {
                free(keys[i]);
                free(values[i]);
        }
        free(keys[TXN_KEYS]);
}

/* One op that fails its compare: nothing of the txn is written, the error
 * names that op's key and *ret_failed its index. */
static void test_txn_atomic(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("", "txn_atomic");
        _cleanup_free_ char *a = key_in(prefix, "a");
        _cleanup_free_ char *b = key_in(prefix, "b");
        _cleanup_free_ char *n1 = key_in(prefix, "new1");
        _cleanup_free_ char *n2 = key_in(prefix, "new2");
        _cleanup_free_ char *gone = key_in(prefix, "gone");
        int64_t ra = put_str(a, "a1", STORE_MUST_NOT_EXIST);
        int64_t rb = put_str(b, "b1", STORE_MUST_NOT_EXIST);
        int64_t before = current_revision();

        struct store_op ops[4] = {
            {.type = STORE_OP_PUT,
             .key = n1,
             .value = "x",
             .value_len = 1,
             .expected_mod_revision = STORE_MUST_NOT_EXIST},
            {.type = STORE_OP_PUT,
             .key = a,
             .value = "a2",
             .value_len = 2,
             .expected_mod_revision = ra},
            {.type = STORE_OP_PUT,
             .key = n2,
             .value = "y",
             .value_len = 1,
             .expected_mod_revision = STORE_MUST_NOT_EXIST},
            {.type = STORE_OP_CHECK, .key = b, .expected_mod_revision = rb},
        };
        const char *const all[] = {n1, a, n2, b};
        struct store_kv got[4];
        struct berth_error err = {0};
        size_t failed = 99;
        int64_t revs[4] = {-7, -7, -7, -7};

        /* a's revision moved: op 1 fails. */
        ops[1].expected_mod_revision = ra + 1000;
        assert_int_equal(store_txn(suite.store, ops, 4, NULL, revs, &failed, &err), -ESTALE);
        assert_int_equal(failed, 1);
        assert_non_null(strstr(err.message, a));
        assert_int_equal(revs[0], -7); /* outputs only on success */
        /* A create of a key that exists: op 0 fails. */
        ops[1].expected_mod_revision = ra;
        ops[0].key = b;
        ops[3].key = n1;
        ops[3].expected_mod_revision = STORE_MUST_NOT_EXIST;
        berth_error_clear(&err);
        assert_int_equal(store_txn(suite.store, ops, 4, NULL, NULL, &failed, &err), -ESTALE);
        assert_int_equal(failed, 0);
        assert_non_null(strstr(err.message, "already exists"));
        ops[0].key = n1;
        ops[3].key = b;
        ops[3].expected_mod_revision = rb;
        /* A check that fails writes nothing either. */
        ops[3].expected_mod_revision = rb + 1000;
        berth_error_clear(&err);
        assert_int_equal(store_txn(suite.store, ops, 4, NULL, NULL, &failed, &err), -ESTALE);
        assert_int_equal(failed, 3);
        assert_non_null(strstr(err.message, b));
        /* A delete of a missing key: -ENOENT, nothing written. */
        struct store_op del[2] = {
            ops[0],
            {.type = STORE_OP_DELETE, .key = gone, .expected_mod_revision = STORE_ANY_REVISION},
        };
        berth_error_clear(&err);
        assert_int_equal(store_txn(suite.store, del, 2, NULL, NULL, &failed, &err), -ENOENT);
        assert_int_equal(failed, 1);
        /* A fence that moved: -EPERM before any compare of the ops. */
        struct store_guard g = {.key = b, .mod_revision = rb + 1000};
        berth_error_clear(&err);
        assert_int_equal(store_txn(suite.store, del, 1, &g, NULL, &failed, &err), -EPERM);

        assert_int_equal(current_revision(), before);
        assert_int_equal(store_get_many(suite.store, all, 4, got, &err), 0);
        assert_null(got[0].key);
        assert_string_equal(got[1].value, "a1");
        assert_int_equal(got[1].mod_revision, ra);
        assert_null(got[2].key);
        assert_int_equal(got[3].mod_revision, rb);
        for (size_t i = 0; i < 4; i++)
                store_kv_release(&got[i]);

        /* Everything holds: written, the check takes no revision. */
        ops[3].expected_mod_revision = rb;
        g.mod_revision = rb;
        assert_int_equal(store_txn(suite.store, ops, 4, &g, revs, &failed, &err), 0);
        assert_true(revs[0] > before);
        assert_int_equal(revs[3], 0);
        assert_int_equal(store_get_many(suite.store, all, 4, got, &err), 0);
        assert_string_equal(got[0].value, "x");
        assert_string_equal(got[1].value, "a2");
        assert_string_equal(got[2].value, "y");
        assert_int_equal(got[3].mod_revision, rb); /* checked, not written */
        for (size_t i = 0; i < 4; i++)
                store_kv_release(&got[i]);

        /* A txn of checks only writes nothing and takes no revision. */
        int64_t now = current_revision();
        struct store_op chk = {.type = STORE_OP_CHECK, .key = b, .expected_mod_revision = rb};
        assert_int_equal(store_txn(suite.store, &chk, 1, NULL, revs, NULL, &err), 0);
        assert_int_equal(revs[0], 0);
        assert_int_equal(current_revision(), now);
}

/* What store_txn refuses before it reaches the backend. */
static void test_txn_limits(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("", "txn_limits");
        _cleanup_free_ char *a = key_in(prefix, "a");
        struct store_op op = {.type = STORE_OP_PUT,
                              .key = a,
                              .value = "v",
                              .value_len = 1,
                              .expected_mod_revision = STORE_ANY_REVISION};
        struct store_op two[2] = {op, op};
        struct berth_error err = {0};
        assert_int_equal(store_txn(suite.store, &op, 0, NULL, NULL, NULL, &err), -EINVAL);
        assert_int_equal(store_txn(suite.store, two, 2, NULL, NULL, NULL, &err), -EINVAL);
        assert_non_null(strstr(err.message, "written twice"));
        struct store_op bad = op;
        bad.type = STORE_OP_CHECK;
        assert_int_equal(store_txn(suite.store, &bad, 1, NULL, NULL, NULL, &err), -EINVAL);
        bad = op;
        bad.type = STORE_OP_DELETE;
        bad.expected_mod_revision = STORE_MUST_NOT_EXIST;
        assert_int_equal(store_txn(suite.store, &bad, 1, NULL, NULL, NULL, &err), -EINVAL);
        bad = op;
        bad.key = "";
        assert_int_equal(store_txn(suite.store, &bad, 1, NULL, NULL, NULL, &err), -EINVAL);
        bad = op;
        bad.lease = -1;
        assert_int_equal(store_txn(suite.store, &bad, 1, NULL, NULL, NULL, &err), -EINVAL);

        /* More ops than one txn takes: -E2BIG, nothing written. */
        size_t n = 5000;
        struct store_op *many = calloc(n, sizeof(*many));
        char **keys = calloc(n, sizeof(*keys));
        assert_non_null(many);
        assert_non_null(keys);
        for (size_t i = 0; i < n; i++) {
                keys[i] = str_printf("%sm%05zu", prefix, i);
                assert_non_null(keys[i]);
                many[i] = op;
                many[i].key = keys[i];
        }
        size_t fit = store_txn_fit(suite.store, many, n, false);
        assert_true(fit < n);
        berth_error_clear(&err);
        assert_int_equal(store_txn(suite.store, many, fit + 1, NULL, NULL, NULL, &err), -E2BIG);
        struct store_kvs kvs = {0};
        assert_int_equal(store_list(suite.store, prefix, 0, &kvs, NULL), 0);
        assert_int_equal(kvs.n, 0);
        store_kvs_release(&kvs);

        /* Bytes: values of 300 KiB, four fit in 1 MiB (etcd); a single op of
         * any size the store takes is always one txn. */
        size_t big = 300 * 1024;
        _cleanup_free_ char *value = sample_random_bytes(big);
        for (size_t i = 0; i < 8; i++) {
                many[i].value = value;
                many[i].value_len = big;
        }
        assert_int_equal(store_txn_fit(suite.store, many, 8, false), is_embedded() ? 8 : 3);
        many[0].value_len = STORE_VALUE_MAX + 1; /* random bytes: do not compress */
        _cleanup_free_ char *huge = sample_random_bytes(STORE_VALUE_MAX + 1);
        huge[0] = 'r';
        many[0].value = huge;
        assert_int_equal(store_txn_fit(suite.store, many, 1, false), 1);
        assert_int_equal(store_txn(suite.store, many, 1, NULL, NULL, NULL, &err), -E2BIG);
        assert_non_null(strstr(err.message, keys[0]));
        for (size_t i = 0; i < n; i++)
                free(keys[i]);
        free(keys);
        free(many);
}

/* Large values are stored compressed (docs/internals/store.md): every read and
 * watch event still gives back exactly the bytes written. */
static void test_large_values(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("", "large");
        _cleanup_free_ char *key = key_in(prefix, "wf");
        size_t len = 0;
        /* A finished 300-step Workflow (~140 KB), then the same with one byte changed. */
        _cleanup_free_ char *v1 = sample_workflow_json(300, &len);
        _cleanup_free_ char *v2 = strdup(v1);
        assert_non_null(v2);
        v2[len - 10] = 'X';
        struct collector c;
        collector_init(&c);
        struct store_watch *w = watch_or_fail(prefix, 0, &c);
        int64_t r1 = put_str(key, v1, STORE_MUST_NOT_EXIST);
        int64_t r2 = put_str(key, v2, r1);

        struct store_kv kv = {0};
        assert_int_equal(store_get(suite.store, key, &kv, NULL), 0);
        assert_int_equal(kv.value_len, len);
        assert_string_equal(kv.value, v2);
        assert_int_equal(kv.mod_revision, r2);
        assert_int_equal(kv.version, 2);
        store_kv_release(&kv);
        struct store_kvs kvs = {0};
        assert_int_equal(store_list(suite.store, prefix, r1, &kvs, NULL), 0);
        assert_int_equal(kvs.n, 1);
        assert_int_equal(kvs.items[0].value_len, len);
        assert_string_equal(kvs.items[0].value, v1);
        store_kvs_release(&kvs);

        assert_true(collector_wait(&c, 2, 5000));
        assert_int_equal(c.errors, 0);
        assert_int_equal(c.n, 2);
        assert_string_equal(c.evs[0].value, v1);
        assert_null(c.evs[0].prev_value);
        assert_string_equal(c.evs[1].value, v2);
        assert_string_equal(c.evs[1].prev_value, v1);

        /* 10 MB: more than STORE_VALUE_MAX, well under it compressed (also under
         * etcd's default request limit). */
        size_t big_len = 0;
        _cleanup_free_ char *big = sample_workflow_json(22000, &big_len);
        assert_true(big_len > 10 * 1000 * 1000);
        _cleanup_free_ char *big_key = key_in(prefix, "huge");
        int64_t r3 = put_str(big_key, big, STORE_MUST_NOT_EXIST);
        assert_int_equal(store_get(suite.store, big_key, &kv, NULL), 0);
        assert_int_equal(kv.value_len, big_len);
        assert_memory_equal(kv.value, big, big_len);
        assert_int_equal(kv.value[big_len], '\0');
        assert_int_equal(kv.mod_revision, r3);
        store_kv_release(&kv);
        assert_int_equal(store_list(suite.store, prefix, 0, &kvs, NULL), 0);
        assert_int_equal(kvs.n, 2);
        assert_int_equal(kvs.items[0].value_len, big_len);
        assert_memory_equal(kvs.items[0].value, big, big_len);
        assert_string_equal(kvs.items[1].value, v2);
        store_kvs_release(&kvs);
        assert_int_equal(store_delete(suite.store, big_key, r3, NULL, NULL), 0);
        assert_true(collector_wait(&c, 4, 10000));
        store_watch_cancel(w);
        assert_int_equal(c.errors, 0);
        assert_int_equal(c.n, 4);
        assert_false(c.bad_batch);
        assert_int_equal(c.evs[2].mod, r3);
        assert_string_equal(c.evs[2].value, big);
        assert_int_equal(c.evs[3].type, STORE_EVENT_DELETE);
        assert_string_equal(c.evs[3].prev_value, big);
        collector_release(&c);
}

/* ---- watch -------------------------------------------------------------- */

struct writer {
        const char *prefix;
        int id;
        int64_t revs[25];
};

static void *writer_main(void *p)
{
        struct writer *w = p;
        for (int i = 0; i < 25; i++) {
                char name[32];
                snprintf(name, sizeof(name), "w%d-%02d", w->id, i);
                _cleanup_free_ char *key = str_printf("%s%s", w->prefix, name);
                if (store_put(suite.store, key, name, strlen(name), STORE_MUST_NOT_EXIST, 0,
                              &w->revs[i], NULL) < 0)
                        w->revs[i] = -1;
        }
        return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return (x > y) - (x < y);
}

static void test_watch_ordering(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("", "watch_order");
        struct collector c;
        collector_init(&c);
        struct store_watch *w = watch_or_fail(prefix, 0, &c);

        struct writer writers[4];
        pthread_t th[4];
        for (int i = 0; i < 4; i++) {
                writers[i] = (struct writer){.prefix = prefix, .id = i};
                assert_int_equal(pthread_create(&th[i], NULL, writer_main, &writers[i]), 0);
        }
        int64_t revs[100];
        for (int i = 0; i < 4; i++) {
                pthread_join(th[i], NULL);
                for (int j = 0; j < 25; j++) {
                        assert_true(writers[i].revs[j] > 0);
                        revs[i * 25 + j] = writers[i].revs[j];
                }
        }
        assert_true(collector_wait(&c, 100, 10000));
        store_watch_cancel(w);

        assert_int_equal(c.errors, 0);
        assert_false(c.bad_batch);
        assert_int_equal(c.n, 100);
        qsort(revs, 100, sizeof(revs[0]), cmp_i64);
        for (size_t i = 0; i < c.n; i++) {
                assert_int_equal(c.evs[i].type, STORE_EVENT_PUT);
                assert_int_equal(c.evs[i].mod, revs[i]);
                if (i > 0)
                        assert_true(c.evs[i].mod > c.evs[i - 1].mod);
                assert_true(str_has_prefix(c.evs[i].key, prefix));
                assert_string_equal(c.evs[i].key + strlen(prefix), c.evs[i].value);
                assert_null(c.evs[i].prev_key);
                assert_int_equal(c.evs[i].version, 1);
                assert_int_equal(c.evs[i].create, c.evs[i].mod);
        }
        collector_release(&c);
}

static void test_watch_resume(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("", "watch_resume");
        int64_t revs[10];
        for (int i = 0; i < 10; i++) {
                char name[16];
                snprintf(name, sizeof(name), "k%d", i % 4);
                _cleanup_free_ char *key = key_in(prefix, name);
                revs[i] = put_str(key, name, STORE_ANY_REVISION);
        }
        struct collector c;
        collector_init(&c);
        struct store_watch *w = watch_or_fail(prefix, revs[4], &c);
        assert_true(collector_wait(&c, 6, 5000));
        /* Then live events continue the same stream. */
        _cleanup_free_ char *key = key_in(prefix, "live");
        int64_t live = put_str(key, "live", STORE_ANY_REVISION);
        assert_true(collector_wait(&c, 7, 5000));
        store_watch_cancel(w);

        assert_int_equal(c.errors, 0);
        assert_int_equal(c.n, 7);
        for (int i = 0; i < 6; i++)
                assert_int_equal(c.evs[i].mod, revs[4 + i]);
        assert_int_equal(c.evs[6].mod, live);
        assert_string_equal(c.evs[6].key, key);
        /* k0 at revs[4] replaced k0 at revs[0]: prev_kv comes from history too. */
        assert_non_null(c.evs[0].prev_key);
        assert_int_equal(c.evs[0].prev_mod, revs[0]);
        collector_release(&c);
}

static void test_watch_compacted(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("", "watch_compacted");
        _cleanup_free_ char *key = key_in(prefix, "k");
        int64_t r1 = put_str(key, "1", STORE_ANY_REVISION);
        put_str(key, "2", STORE_ANY_REVISION);
        int64_t r3 = put_str(key, "3", STORE_ANY_REVISION);
        assert_int_equal(store_compact(suite.store, r3, NULL), 0);

        struct collector c;
        collector_init(&c);
        struct store_watch *w = watch_or_fail(prefix, r1, &c);
        assert_true(collector_wait(&c, 1, 5000));
        put_str(key, "4", STORE_ANY_REVISION);

        /* A watch from the compaction point itself works. */
        struct collector c2;
        collector_init(&c2);
        struct store_watch *w2 = watch_or_fail(prefix, r3, &c2);
        assert_true(collector_wait(&c2, 2, 5000));
        store_watch_cancel(w2);
        assert_int_equal(c2.errors, 0);
        assert_int_equal(c2.evs[0].mod, r3);
        assert_string_equal(c2.evs[0].value, "3");
        /* etcd drops the superseded version at compaction, so it cannot say
         * what the value was before; SQLite keeps the row the event replaced. */
        if (is_embedded())
                assert_string_equal(c2.evs[0].prev_value, "2");
        else
                assert_null(c2.evs[0].prev_value);
        assert_string_equal(c2.evs[1].value, "4");
        collector_release(&c2);

        store_watch_cancel(w);
        assert_int_equal(c.errors, 1);
        assert_int_equal(c.calls, 1);
        assert_int_equal(c.last_error, STORE_ERR_COMPACTED);
        assert_int_equal(c.n, 0);
        assert_false(c.bad_batch);
        collector_release(&c);
}

static void test_watch_prev_kv_and_delete(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("", "watch_prev");
        _cleanup_free_ char *key = key_in(prefix, "k");
        struct collector c;
        collector_init(&c);
        struct store_watch *w = watch_or_fail(prefix, 0, &c);
        int64_t r1 = put_str(key, "v1", STORE_MUST_NOT_EXIST);
        int64_t r2 = put_str(key, "v2", r1);
        int64_t r3 = 0;
        assert_int_equal(store_delete(suite.store, key, r2, &r3, NULL), 0);
        int64_t r4 = put_str(key, "v3", STORE_MUST_NOT_EXIST);
        assert_true(collector_wait(&c, 4, 5000));
        store_watch_cancel(w);
        assert_int_equal(c.n, 4);

        assert_int_equal(c.evs[0].type, STORE_EVENT_PUT);
        assert_int_equal(c.evs[0].mod, r1);
        assert_null(c.evs[0].prev_key);

        assert_int_equal(c.evs[1].type, STORE_EVENT_PUT);
        assert_string_equal(c.evs[1].value, "v2");
        assert_int_equal(c.evs[1].create, r1);
        assert_int_equal(c.evs[1].version, 2);
        assert_string_equal(c.evs[1].prev_key, key);
        assert_string_equal(c.evs[1].prev_value, "v1");
        assert_int_equal(c.evs[1].prev_mod, r1);
        assert_int_equal(c.evs[1].prev_version, 1);

        assert_int_equal(c.evs[2].type, STORE_EVENT_DELETE);
        assert_string_equal(c.evs[2].key, key);
        assert_int_equal(c.evs[2].mod, r3);
        assert_string_equal(c.evs[2].prev_value, "v2");
        assert_int_equal(c.evs[2].prev_mod, r2);

        assert_int_equal(c.evs[3].type, STORE_EVENT_PUT);
        assert_int_equal(c.evs[3].mod, r4);
        assert_int_equal(c.evs[3].create, r4);
        assert_int_equal(c.evs[3].version, 1);
        assert_null(c.evs[3].prev_key);
        collector_release(&c);
}

static void test_watch_cancel(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("", "watch_cancel");
        _cleanup_free_ char *key = key_in(prefix, "k");
        struct collector c, other, victim;
        collector_init(&c);
        collector_init(&other);
        collector_init(&victim);
        struct store_watch *w = watch_or_fail(prefix, 0, &c);
        /* 'other' cancels 'victim' from its callback: allowed (see store.h). */
        struct store_watch *wv = watch_or_fail(prefix, 0, &victim);
        other.cancel_other = wv;
        struct store_watch *wo = watch_or_fail(prefix, 0, &other);

        put_str(key, "1", STORE_ANY_REVISION);
        assert_true(collector_wait(&c, 1, 5000));
        assert_true(collector_wait(&other, 1, 5000));
        store_watch_cancel(w);
        assert_true(other.cancelled_other);
        size_t seen_victim = collector_count(&victim);

        for (int i = 0; i < 5; i++)
                put_str(key, "more", STORE_ANY_REVISION);
        /* 'other' still runs: once it has the 5 new events, so would the others. */
        assert_true(collector_wait(&other, 6, 5000));
        store_watch_cancel(wo);
        assert_int_equal(collector_count(&c), 1);
        assert_int_equal(collector_count(&victim), seen_victim);
        store_watch_cancel(NULL);
        collector_release(&c);
        collector_release(&other);
        collector_release(&victim);
}

/* ---- leases ------------------------------------------------------------- */

static void test_lease_ttl(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("", "lease_ttl");
        _cleanup_free_ char *key = key_in(prefix, "ephemeral");
        int64_t id = 0;
        assert_int_equal(store_lease_grant(suite.store, 1, &id, NULL), 0);
        assert_true(id > 0);
        struct collector c;
        collector_init(&c);
        struct store_watch *w = watch_or_fail(prefix, 0, &c);
        int64_t rev = 0;
        assert_int_equal(store_put(suite.store, key, "x", 1, STORE_ANY_REVISION, id, &rev, NULL),
                         0);
        struct store_kv kv = {0};
        assert_int_equal(store_get(suite.store, key, &kv, NULL), 0);
        assert_int_equal(kv.lease, id);
        store_kv_release(&kv);

        /* PUT, then the expiry's DELETE (etcd rounds short TTLs up: be generous). */
        assert_true(collector_wait(&c, 2, 10000));
        store_watch_cancel(w);
        assert_int_equal(c.n, 2);
        assert_int_equal(c.evs[0].lease, id);
        assert_int_equal(c.evs[1].type, STORE_EVENT_DELETE);
        assert_string_equal(c.evs[1].key, key);
        assert_int_equal(c.evs[1].prev_mod, rev);
        assert_int_equal(store_get(suite.store, key, &kv, NULL), -ENOENT);
        assert_int_equal(store_lease_keepalive(suite.store, id, NULL), -ENOENT);
        collector_release(&c);
}

static void test_lease_keepalive(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("", "lease_keepalive");
        _cleanup_free_ char *key = key_in(prefix, "k");
        int64_t id = 0;
        assert_int_equal(store_lease_grant(suite.store, 1, &id, NULL), 0);
        assert_int_equal(store_put(suite.store, key, "x", 1, STORE_ANY_REVISION, id, NULL, NULL),
                         0);
        /* Kept alive for twice the TTL (and more than etcd's rounded-up TTL). */
        for (int i = 0; i < 8; i++) {
                sleep_ms(300);
                assert_int_equal(store_lease_keepalive(suite.store, id, NULL), 0);
        }
        struct store_kv kv = {0};
        assert_int_equal(store_get(suite.store, key, &kv, NULL), 0);
        store_kv_release(&kv);
        assert_int_equal(store_lease_revoke(suite.store, id, NULL), 0);
}

static void test_lease_revoke(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("", "lease_revoke");
        _cleanup_free_ char *k1 = key_in(prefix, "1");
        _cleanup_free_ char *k2 = key_in(prefix, "2");
        _cleanup_free_ char *k3 = key_in(prefix, "3");
        int64_t id = 0;
        assert_int_equal(store_lease_grant(suite.store, 60, &id, NULL), 0);
        assert_int_equal(store_put(suite.store, k1, "a", 1, STORE_ANY_REVISION, id, NULL, NULL), 0);
        assert_int_equal(store_put(suite.store, k2, "b", 1, STORE_ANY_REVISION, id, NULL, NULL), 0);
        put_str(k3, "no lease", STORE_ANY_REVISION);
        struct collector c;
        collector_init(&c);
        struct store_watch *w = watch_or_fail(prefix, 0, &c);
        assert_int_equal(store_lease_revoke(suite.store, id, NULL), 0);
        assert_true(collector_wait(&c, 2, 5000));
        store_watch_cancel(w);
        assert_int_equal(c.n, 2);
        for (size_t i = 0; i < 2; i++) {
                assert_int_equal(c.evs[i].type, STORE_EVENT_DELETE);
                assert_true(streq(c.evs[i].key, k1) || streq(c.evs[i].key, k2));
        }
        assert_false(streq(c.evs[0].key, c.evs[1].key));
        struct store_kv kv = {0};
        assert_int_equal(store_get(suite.store, k1, &kv, NULL), -ENOENT);
        assert_int_equal(store_get(suite.store, k2, &kv, NULL), -ENOENT);
        assert_int_equal(store_get(suite.store, k3, &kv, NULL), 0);
        store_kv_release(&kv);

        struct berth_error err = {0};
        assert_int_equal(store_lease_keepalive(suite.store, id, &err), -ENOENT);
        assert_int_equal(store_lease_revoke(suite.store, id, NULL), -ENOENT);
        /* Putting with a dead lease fails and writes nothing. */
        int64_t before = current_revision();
        assert_int_equal(store_put(suite.store, k1, "a", 1, STORE_ANY_REVISION, id, NULL, &err),
                         -ENOENT);
        if (is_embedded())
                assert_int_equal(current_revision(), before);
        assert_int_equal(store_lease_keepalive(suite.store, 12345, NULL), -ENOENT);
        collector_release(&c);
}

/* ---- concurrency ------------------------------------------------------- */

struct incrementer {
        const char *key;
        int increments;
        int conflicts;
        int retries;
        int failures;
};

static void *incrementer_main(void *p)
{
        struct incrementer *inc = p;
        for (int i = 0; i < inc->increments; i++) {
                for (int attempt = 0;; attempt++) {
                        struct store_kv kv = {0};
                        if (store_get(suite.store, inc->key, &kv, NULL) < 0) {
                                inc->failures++;
                                break;
                        }
                        char next[32];
                        int len = snprintf(next, sizeof(next), "%lld", atoll(kv.value) + 1);
                        int r = store_put(suite.store, inc->key, next, (size_t)len, kv.mod_revision,
                                          0, NULL, NULL);
                        store_kv_release(&kv);
                        if (r == 0)
                                break;
                        if (r != -ESTALE) {
                                inc->failures++;
                                break;
                        }
                        inc->conflicts++;
                        inc->retries++;
                }
        }
        return NULL;
}

static void test_concurrent_cas(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("", "concurrent_cas");
        _cleanup_free_ char *key = key_in(prefix, "counter");
        put_str(key, "0", STORE_MUST_NOT_EXIST);
        struct incrementer inc[8];
        pthread_t th[8];
        for (int i = 0; i < 8; i++) {
                inc[i] = (struct incrementer){.key = key, .increments = 50};
                assert_int_equal(pthread_create(&th[i], NULL, incrementer_main, &inc[i]), 0);
        }
        int conflicts = 0, retries = 0;
        for (int i = 0; i < 8; i++) {
                pthread_join(th[i], NULL);
                assert_int_equal(inc[i].failures, 0);
                conflicts += inc[i].conflicts;
                retries += inc[i].retries;
        }
        struct store_kv kv = {0};
        assert_int_equal(store_get(suite.store, key, &kv, NULL), 0);
        assert_string_equal(kv.value, "400");
        assert_int_equal(kv.version, 401);
        store_kv_release(&kv);
        assert_int_equal(conflicts, retries);
        print_message("concurrent CAS: 400 increments, %d conflicts\n", conflicts);
}

/* ---- lifecycle ---------------------------------------------------------- */

/* The value of one sample of /metrics (0 when it is not there yet). */
static double sample(const char *series)
{
        double v = 0;
        int r = metrics_find(series, &v);
        assert_true(r == 0 || r == -ENOENT);
        return v;
}

/* Every backend's calls are counted in the dispatch, by operation and
 * result; calls the checks refuse never reach a backend and are not. */
static void test_calls_counted(void **state)
{
        (void)state;
        static const char *const series[] = {
            "berth_store_requests_total{op=\"get\",result=\"not_found\"}",
            "berth_store_requests_total{op=\"put\",result=\"ok\"}",
            "berth_store_requests_total{op=\"put\",result=\"conflict\"}",
            "berth_store_requests_total{op=\"txn\",result=\"ok\"}",
            "berth_store_requests_total{op=\"list\",result=\"ok\"}",
            "berth_store_request_duration_seconds_count{op=\"get\"}",
        };
        double before[ARRAY_SIZE(series)];
        for (size_t i = 0; i < ARRAY_SIZE(series); i++)
                before[i] = sample(series[i]);

        _cleanup_free_ char *prefix = suite_prefix("", "counted");
        _cleanup_free_ char *key = key_in(prefix, "k");
        _cleanup_free_ char *fence = key_in(prefix, "fence");
        struct store_kv kv = {0};
        struct store_kvs kvs = {0};
        assert_int_equal(store_get(suite.store, key, &kv, NULL), -ENOENT);
        int64_t rev = put_str(key, "1", STORE_MUST_NOT_EXIST);
        assert_int_equal(store_put(suite.store, key, "2", 1, STORE_MUST_NOT_EXIST, 0, NULL, NULL),
                         -ESTALE);
        int64_t frev = put_str(fence, "leader", STORE_ANY_REVISION);
        struct store_guard guard = {.key = fence, .mod_revision = frev};
        assert_int_equal(store_put_guarded(suite.store, key, "3", 1, rev, 0, &guard, NULL, NULL),
                         0);
        assert_int_equal(store_list(suite.store, prefix, 0, &kvs, NULL), 0);
        store_kvs_release(&kvs);
        assert_int_equal(store_get(suite.store, "", &kv, NULL), -EINVAL); /* not counted */

        const double want[ARRAY_SIZE(series)] = {1, 2, 1, 1, 1, 1};
        for (size_t i = 0; i < ARRAY_SIZE(series); i++)
                if (sample(series[i]) != before[i] + want[i])
                        fail_msg("%s: %g, want %g", series[i], sample(series[i]),
                                 before[i] + want[i]);
}

static void test_free_null(void **state)
{
        (void)state;
        store_free(NULL);
        store_watch_cancel(NULL);
        struct store_kv kv = {0};
        store_kv_release(&kv);
        store_kv_release(NULL);
        struct store_kvs kvs = {0};
        store_kvs_release(&kvs);
        store_kvs_release(NULL);
}

static void test_open_errors(void **state)
{
        (void)state;
        struct store *s = (struct store *)&suite; /* must stay untouched */
        struct berth_error err = {0};
        assert_int_equal(store_open("redis://localhost", &s, &err), -EPROTONOSUPPORT);
        assert_non_null(strstr(err.message, "redis://localhost"));
        assert_int_equal(store_open("sqlite:", &s, &err), -EINVAL);
        assert_int_equal(store_open(NULL, &s, &err), -EINVAL);
        /* A path under a regular file cannot be created. */
        assert_true(store_open("sqlite:/dev/null/x/store.db", &s, &err) < 0);
        assert_non_null(strstr(err.message, "/dev/null"));
        if (suite.tmpdir[0]) {
                /* A directory where the database file should be. */
                _cleanup_free_ char *url = str_printf("sqlite:%s", suite.tmpdir);
                assert_int_equal(store_open(url, &s, &err), -EISDIR);
                assert_non_null(strstr(err.message, suite.tmpdir));
        }
        assert_ptr_equal(s, (struct store *)&suite);
}

static void test_reopen_sqlite(void **state)
{
        (void)state;
        if (!suite.tmpdir[0]) {
                skip();
                return;
        }
        _cleanup_free_ char *url = str_printf("sqlite:%s/reopen/sub/store.db", suite.tmpdir);
        struct store *s = NULL;
        struct berth_error err = {0};
        assert_int_equal(store_open(url, &s, &err), 0);
        int64_t r1 = 0, r2 = 0, r3 = 0;
        assert_int_equal(store_put(s, "/a", "1", 1, STORE_MUST_NOT_EXIST, 0, &r1, NULL), 0);
        assert_int_equal(store_put(s, "/a", "2", 1, r1, 0, &r2, NULL), 0);
        assert_int_equal(store_put(s, "/b", "x", 1, STORE_MUST_NOT_EXIST, 0, NULL, NULL), 0);
        assert_int_equal(store_delete(s, "/b", STORE_ANY_REVISION, &r3, NULL), 0);
        assert_int_equal(store_compact(s, r3, NULL), 0);

        /* The database belongs to one opener at a time. */
        struct store *second = NULL;
        assert_int_equal(store_open(url, &second, &err), -EBUSY);
        assert_null(second);
        store_free(s);

        s = NULL;
        assert_int_equal(store_open(url, &s, &err), 0);
        int64_t rev = 0;
        assert_int_equal(store_revision(s, &rev, NULL), 0);
        assert_int_equal(rev, r3);
        struct store_kv kv = {0};
        assert_int_equal(store_get(s, "/a", &kv, NULL), 0);
        assert_string_equal(kv.value, "2");
        assert_int_equal(kv.mod_revision, r2);
        assert_int_equal(kv.create_revision, r1);
        assert_int_equal(kv.version, 2);
        store_kv_release(&kv);
        assert_int_equal(store_get(s, "/b", &kv, NULL), -ENOENT);
        struct store_kvs kvs = {0};
        assert_int_equal(store_list(s, "/", 1, &kvs, NULL), STORE_ERR_COMPACTED);
        int64_t r4 = 0;
        assert_int_equal(store_put(s, "/c", "y", 1, STORE_MUST_NOT_EXIST, 0, &r4, NULL), 0);
        assert_int_equal(r4, r3 + 1);
        store_free(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_free_null),
            cmocka_unit_test(test_calls_counted),
            cmocka_unit_test(test_open_errors),
            cmocka_unit_test(test_get_missing),
            cmocka_unit_test(test_put_get_roundtrip),
            cmocka_unit_test(test_create_only_conflict),
            cmocka_unit_test(test_cas),
            cmocka_unit_test(test_delete),
            cmocka_unit_test(test_guard_holds),
            cmocka_unit_test(test_guard_rewritten),
            cmocka_unit_test(test_guard_deleted),
            cmocka_unit_test(test_list),
            cmocka_unit_test(test_list_compacted),
            cmocka_unit_test(test_list_page),
            cmocka_unit_test(test_revision_monotonic),
            cmocka_unit_test(test_limits),
            cmocka_unit_test(test_large_values),
            cmocka_unit_test(test_txn_many),
            cmocka_unit_test(test_txn_atomic),
            cmocka_unit_test(test_txn_limits),
            cmocka_unit_test(test_watch_ordering),
            cmocka_unit_test(test_watch_resume),
            cmocka_unit_test(test_watch_compacted),
            cmocka_unit_test(test_watch_prev_kv_and_delete),
            cmocka_unit_test(test_watch_cancel),
            cmocka_unit_test(test_lease_ttl),
            cmocka_unit_test(test_lease_keepalive),
            cmocka_unit_test(test_lease_revoke),
            cmocka_unit_test(test_concurrent_cas),
            cmocka_unit_test(test_reopen_sqlite),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
