/* store value compression: the codec of compress.c, then the dispatch layer
 * (store.c) over a real backend, looking at what the backend itself holds.
 *
 * The backend comes from $BERTH_STORE_URL, else a fresh sqlite database in a
 * temporary directory (as the conformance suite). Backend-level reads and
 * writes go through store->ops, under the dispatch layer: that is how the
 * cases see the stored bytes and plant corrupt ones. The sqlite-only case also
 * opens the database file with SQLite itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <time.h>

#include "sample-json.h"
#include "store-internal.h"
#include "test-support.h"
#include "store-suite.h"

/* Encodes value and checks that it inflates back to itself. Returns the stored
 * length (value_len when stored as it is). */
static size_t encode_roundtrip(const char *value, size_t len)
{
        _cleanup_free_ char *stored = NULL;
        size_t stored_len = 0;
        assert_int_equal(store_value_encode(value, len, &stored, &stored_len), 0);
        if (!stored) {
                assert_int_equal(stored_len, len);
                assert_false(store_value_is_compressed(value, len));
                return len;
        }
        assert_true(store_value_is_compressed(stored, stored_len));
        _cleanup_free_ char *back = NULL;
        size_t back_len = 0;
        struct berth_error err = {0};
        assert_int_equal(
            store_value_inflate(stored, stored_len, STORE_VALUE_PLAIN_MAX, &back, &back_len, &err),
            0);
        assert_int_equal(back_len, len);
        assert_memory_equal(back, value, len);
        assert_int_equal(back[len], '\0');
        return stored_len;
}

/* ---- codec ------------------------------------------------------------------ */

static void test_small_values_stay(void **state)
{
        (void)state;
        assert_int_equal(encode_roundtrip("", 0), 0);
        assert_int_equal(encode_roundtrip("{\"v\":1}", 7), 7);
        /* Up to STORE_COMPRESS_MIN, even a perfectly compressible value stays. */
        _cleanup_free_ char *v = malloc(STORE_COMPRESS_MIN + 1);
        assert_non_null(v);
        memset(v, 'x', STORE_COMPRESS_MIN + 1);
        assert_int_equal(encode_roundtrip(v, STORE_COMPRESS_MIN), STORE_COMPRESS_MIN);
        assert_true(encode_roundtrip(v, STORE_COMPRESS_MIN + 1) < 100);
}

static void test_workflow_json_compresses(void **state)
{
        (void)state;
        size_t len = 0;
        _cleanup_free_ char *json = sample_workflow_json(300, &len);
        assert_true(len > 90 * 1024);
        size_t stored = encode_roundtrip(json, len);
        print_message("300-step Workflow: %zu bytes, %zu stored (%.1f%%)\n", len, stored,
                      100.0 * (double)stored / (double)len);
        assert_true(stored < len / 5);
}

static void test_incompressible_stays(void **state)
{
        (void)state;
        size_t len = 100 * 1024;
        _cleanup_free_ char *v = sample_random_bytes(len);
        v[0] = 'r'; /* not the magic by chance */
        assert_int_equal(encode_roundtrip(v, len), len);
}

static void test_magic_values_are_wrapped(void **state)
{
        (void)state;
        /* A value that starts with the magic is stored compressed whatever its
         * size, so that reading it back cannot take it for a stream. */
        const char v[] = "\0bz1 not a stream";
        size_t stored = encode_roundtrip(v, sizeof(v) - 1);
        assert_true(stored > sizeof(v) - 1);
        assert_true(encode_roundtrip(STORE_COMPRESS_MAGIC, STORE_COMPRESS_MAGIC_LEN) >
                    STORE_COMPRESS_MAGIC_LEN);
        /* Incompressible and large: still wrapped (larger than it was). */
        size_t len = 64 * 1024;
        _cleanup_free_ char *r = sample_random_bytes(len);
        memcpy(r, STORE_COMPRESS_MAGIC, STORE_COMPRESS_MAGIC_LEN);
        assert_true(encode_roundtrip(r, len) > len);
}

/* A 100 KB Workflow, stored: the magic and a zlib stream. */
static char *stored_sample(size_t *ret_len)
{
        size_t len = 0;
        _cleanup_free_ char *json = sample_workflow_json(300, &len);
        char *stored = NULL;
        assert_int_equal(store_value_encode(json, len, &stored, ret_len), 0);
        assert_non_null(stored);
        return stored;
}

static void assert_inflate_fails(const char *stored, size_t len, size_t max, const char *why)
{
        char *out = (char *)"untouched";
        size_t out_len = 7;
        struct berth_error err = {0};
        assert_int_equal(store_value_inflate(stored, len, max, &out, &out_len, &err), -EPROTO);
        assert_string_equal(out, "untouched");
        assert_int_equal(out_len, 7);
        if (!strstr(err.message, why))
                print_error("expected \"%s\" in: %s\n", why, err.message);
        assert_non_null(strstr(err.message, why));
}

static void test_corrupt_streams(void **state)
{
        (void)state;
        size_t len = 0;
        _cleanup_free_ char *stored = stored_sample(&len);

        /* Truncated anywhere after the magic. */
        assert_inflate_fails(stored, STORE_COMPRESS_MAGIC_LEN, SIZE_MAX, "truncated");
        assert_inflate_fails(stored, len / 2, SIZE_MAX, "truncated");
        assert_inflate_fails(stored, len - 1, SIZE_MAX, "truncated");
        /* Bytes after the stream. */
        _cleanup_free_ char *longer = malloc(len + 3);
        assert_non_null(longer);
        memcpy(longer, stored, len);
        memcpy(longer + len, "xyz", 3);
        assert_inflate_fails(longer, len + 3, SIZE_MAX, "3 bytes after the end");
        /* Not a zlib header. */
        _cleanup_free_ char *bad = malloc(len);
        assert_non_null(bad);
        memcpy(bad, stored, len);
        bad[STORE_COMPRESS_MAGIC_LEN] = 0x00;
        assert_inflate_fails(bad, len, SIZE_MAX, "zlib: incorrect header check");
        /* A flipped bit in the last byte: the Adler-32 check. */
        memcpy(bad, stored, len);
        bad[len - 1] ^= 0x01;
        assert_inflate_fails(bad, len, SIZE_MAX, "zlib: incorrect data check");
        /* No magic at all. */
        assert_inflate_fails("{}", 2, SIZE_MAX, "not a compressed value");
        assert_inflate_fails("\0bz", 3, SIZE_MAX, "not a compressed value");
}

static void test_output_cap(void **state)
{
        (void)state;
        size_t len = 1024 * 1024;
        _cleanup_free_ char *zeros = calloc(1, len);
        assert_non_null(zeros);
        _cleanup_free_ char *stored = NULL;
        size_t stored_len = 0;
        assert_int_equal(store_value_deflate(zeros, len, SIZE_MAX, &stored, &stored_len), 0);
        assert_true(stored_len < 8 * 1024);

        _cleanup_free_ char *out = NULL;
        size_t out_len = 0;
        assert_int_equal(store_value_inflate(stored, stored_len, len, &out, &out_len, NULL), 0);
        assert_int_equal(out_len, len);
        assert_memory_equal(out, zeros, len);
        assert_inflate_fails(stored, stored_len, len - 1, "inflates to more than 1048575 bytes");
        assert_inflate_fails(stored, stored_len, 0, "inflates to more than 0 bytes");

        /* A value that inflates past STORE_VALUE_PLAIN_MAX: 300 KB at level 1. */
        size_t bomb_len = STORE_VALUE_PLAIN_MAX + 1;
        _cleanup_free_ char *big = calloc(1, bomb_len);
        assert_non_null(big);
        _cleanup_free_ char *bomb = NULL;
        size_t bomb_stored = 0;
        assert_int_equal(store_value_deflate(big, bomb_len, SIZE_MAX, &bomb, &bomb_stored), 0);
        assert_true(bomb_stored < STORE_VALUE_MAX);
        struct store_kv kv = {.key = (char *)"/bomb", .value = bomb, .value_len = bomb_stored};
        struct berth_error err = {0};
        size_t inflated = 7;
        assert_int_equal(store_kv_inflate(&kv, &inflated, &err), -EPROTO);
        assert_ptr_equal(kv.value, bomb);
        assert_int_equal(kv.value_len, bomb_stored);
        assert_int_equal(inflated, 7);
        assert_non_null(strstr(err.message, "stored value of /bomb is corrupt"));
        assert_non_null(strstr(err.message, "inflates to more than"));
}

static void test_deflate_max(void **state)
{
        (void)state;
        size_t len = 0;
        _cleanup_free_ char *json = sample_workflow_json(300, &len);
        _cleanup_free_ char *stored = NULL;
        size_t stored_len = 0;
        assert_int_equal(store_value_deflate(json, len, SIZE_MAX, &stored, &stored_len), 0);
        /* Exactly the room it needs is enough; one byte less is not. */
        _cleanup_free_ char *again = NULL;
        size_t again_len = 0;
        assert_int_equal(store_value_deflate(json, len, stored_len, &again, &again_len), 0);
        assert_int_equal(again_len, stored_len);
        assert_memory_equal(again, stored, stored_len);
        char *none = (char *)"untouched";
        assert_int_equal(store_value_deflate(json, len, stored_len - 1, &none, &again_len), -EFBIG);
        assert_string_equal(none, "untouched");
        assert_int_equal(
            store_value_deflate(json, len, STORE_COMPRESS_MAGIC_LEN, &none, &again_len), -EFBIG);
}

static void test_kv_inflate_plain(void **state)
{
        (void)state;
        /* Plain values, absent values (DELETE events) and empty ones stay. */
        char v[] = "plain";
        struct store_kv kv = {.key = (char *)"/k", .value = v, .value_len = 5};
        size_t inflated = 7;
        assert_int_equal(store_kv_inflate(&kv, &inflated, NULL), 0);
        assert_ptr_equal(kv.value, v);
        assert_int_equal(inflated, 0);
        struct store_kv none = {.key = (char *)"/k"};
        assert_int_equal(store_kv_inflate(&none, NULL, NULL), 0);
        assert_null(none.value);
}

/* ---- through the store -------------------------------------------------- */

static void raw_get(const char *key, struct store_kv *ret)
{
        struct berth_error err = {0};
        int r = suite.store->ops->get(suite.store, key, ret, &err);
        if (r < 0)
                print_error("raw get %s: %s\n", key, err.message);
        assert_int_equal(r, 0);
}

static int64_t raw_put(const char *key, const char *value, size_t len)
{
        int64_t rev = 0;
        struct berth_error err = {0};
        int r = suite.store->ops->put(suite.store, key, value, len, STORE_ANY_REVISION, 0, NULL,
                                      &rev, &err);
        if (r < 0)
                print_error("raw put %s: %s\n", key, err.message);
        assert_int_equal(r, 0);
        return rev;
}

static int64_t put_or_fail(const char *key, const char *value, size_t len)
{
        int64_t rev = 0;
        struct berth_error err = {0};
        int r = store_put(suite.store, key, value, len, STORE_ANY_REVISION, 0, &rev, &err);
        if (r < 0)
                print_error("put %s: %s\n", key, err.message);
        assert_int_equal(r, 0);
        return rev;
}

static void test_backend_holds_compressed(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("compress", "holds");
        _cleanup_free_ char *key = key_in(prefix, "wf");
        _cleanup_free_ char *small = key_in(prefix, "small");
        size_t len = 0;
        _cleanup_free_ char *json = sample_workflow_json(300, &len);
        put_or_fail(key, json, len);
        put_or_fail(small, json, 1000);

        struct store_kv raw = {0};
        raw_get(key, &raw);
        assert_true(store_value_is_compressed(raw.value, raw.value_len));
        assert_true(raw.value_len < len / 5);
        print_message("%s: %zu bytes stored for %zu\n", suite.url, raw.value_len, len);
        store_kv_release(&raw);
        raw_get(small, &raw);
        assert_int_equal(raw.value_len, 1000);
        assert_memory_equal(raw.value, json, 1000);
        store_kv_release(&raw);

        struct store_kv kv = {0};
        assert_int_equal(store_get(suite.store, key, &kv, NULL), 0);
        assert_int_equal(kv.value_len, len);
        assert_memory_equal(kv.value, json, len);
        assert_int_equal(kv.value[len], '\0');
        store_kv_release(&kv);

        /* A value that looks compressed round-trips as itself. */
        const char magic[] = "\0bz1\0\0\0";
        put_or_fail(small, magic, sizeof(magic));
        assert_int_equal(store_get(suite.store, small, &kv, NULL), 0);
        assert_int_equal(kv.value_len, sizeof(magic));
        assert_memory_equal(kv.value, magic, sizeof(magic));
        store_kv_release(&kv);
}

static void test_size_rule(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("compress", "sizes");
        _cleanup_free_ char *key = key_in(prefix, "big");
        struct berth_error err = {0};
        int64_t rev = -7;

        /* Larger than STORE_VALUE_MAX, but small compressed: taken. */
        size_t len = STORE_VALUE_MAX * 2;
        _cleanup_free_ char *zeros = calloc(1, STORE_VALUE_PLAIN_MAX + 1);
        assert_non_null(zeros);
        memset(zeros, '0', len);
        put_or_fail(key, zeros, len);
        struct store_kv raw = {0};
        raw_get(key, &raw);
        assert_true(raw.value_len < 16 * 1024);
        store_kv_release(&raw);

        /* STORE_VALUE_PLAIN_MAX itself is taken, one byte more is not. */
        memset(zeros, '0', STORE_VALUE_PLAIN_MAX + 1);
        put_or_fail(key, zeros, STORE_VALUE_PLAIN_MAX);
        struct store_kv kv = {0};
        assert_int_equal(store_get(suite.store, key, &kv, NULL), 0);
        assert_int_equal(kv.value_len, STORE_VALUE_PLAIN_MAX);
        store_kv_release(&kv);
        assert_int_equal(store_put(suite.store, key, zeros, STORE_VALUE_PLAIN_MAX + 1,
                                   STORE_ANY_REVISION, 0, &rev, &err),
                         -E2BIG);
        assert_int_equal(rev, -7);
        assert_non_null(strstr(err.message, "limit of 67108864 bytes"));

        /* Incompressible and over STORE_VALUE_MAX: refused before the backend. */
        len = STORE_VALUE_MAX + 1;
        _cleanup_free_ char *random = sample_random_bytes(len);
        random[0] = 'r';
        assert_int_equal(
            store_put(suite.store, key, random, len, STORE_ANY_REVISION, 0, &rev, &err), -E2BIG);
        assert_int_equal(rev, -7);
        assert_non_null(strstr(err.message, key));
        assert_non_null(strstr(err.message, "does not compress"));
}

static void test_corrupt_value_reads(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("compress", "corrupt");
        _cleanup_free_ char *good = key_in(prefix, "a-good");
        _cleanup_free_ char *bad = key_in(prefix, "b-bad");
        size_t len = 0;
        _cleanup_free_ char *json = sample_workflow_json(300, &len);
        put_or_fail(good, json, len);
        size_t stored_len = 0;
        _cleanup_free_ char *stored = stored_sample(&stored_len);
        raw_put(bad, stored, stored_len / 2);

        struct store_kv kv = {.key = (char *)"untouched"};
        struct berth_error err = {0};
        assert_int_equal(store_get(suite.store, bad, &kv, &err), -EPROTO);
        assert_string_equal(kv.key, "untouched");
        print_message("%s\n", err.message);
        assert_true(str_has_prefix(err.message, "store: get: stored value of "));
        assert_non_null(strstr(err.message, bad));
        assert_non_null(strstr(err.message, "truncated"));

        struct store_kvs kvs = {.n = 77};
        assert_int_equal(store_list(suite.store, prefix, 0, &kvs, &err), -EPROTO);
        assert_int_equal(kvs.n, 77);
        assert_non_null(strstr(err.message, prefix));
        assert_non_null(strstr(err.message, bad));

        /* Rewritten through the store, it reads again. */
        put_or_fail(bad, json, len);
        kvs = (struct store_kvs){0};
        assert_int_equal(store_list(suite.store, prefix, 0, &kvs, &err), 0);
        assert_int_equal(kvs.n, 2);
        for (size_t i = 0; i < 2; i++) {
                assert_int_equal(kvs.items[i].value_len, len);
                assert_memory_equal(kvs.items[i].value, json, len);
        }
        store_kvs_release(&kvs);
}

/* ---- watch ----------------------------------------------------------------- */

struct rec {
        pthread_mutex_t m;
        pthread_cond_t c;
        size_t n;   /* events */
        int calls;  /* calls with events */
        int errors; /* calls with an error */
        int last_error;
        bool after_error;   /* a call after the error */
        bool wrong_value;   /* an inflated value that is not what was written */
        size_t max_call;    /* most value bytes in one call */
        const char *expect; /* every value and prev value must be this ... */
        size_t expect_len;  /* ... or this long prefix of it */
};

static void rec_init(struct rec *r, const char *expect, size_t expect_len)
{
        *r = (struct rec){.expect = expect, .expect_len = expect_len};
        pthread_mutex_init(&r->m, NULL);
        pthread_condattr_t a;
        pthread_condattr_init(&a);
        pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
        pthread_cond_init(&r->c, &a);
        pthread_condattr_destroy(&a);
}

static void rec_release(struct rec *r)
{
        pthread_mutex_destroy(&r->m);
        pthread_cond_destroy(&r->c);
}

static bool value_ok(const struct rec *r, const struct store_kv *kv)
{
        if (!kv->key)
                return true;
        return kv->value && kv->value_len <= r->expect_len && kv->value[kv->value_len] == '\0' &&
               memcmp(kv->value, r->expect, kv->value_len) == 0;
}

static void rec_fn(const struct store_event *events, size_t n, int error, void *userdata)
{
        struct rec *r = userdata;
        pthread_mutex_lock(&r->m);
        if (r->errors)
                r->after_error = true;
        if (error) {
                r->errors++;
                r->last_error = error;
        } else {
                r->calls++;
        }
        size_t bytes = 0;
        for (size_t i = 0; i < n; i++) {
                const struct store_event *e = &events[i];
                if ((e->type == STORE_EVENT_PUT && !value_ok(r, &e->kv)) ||
                    !value_ok(r, &e->prev_kv))
                        r->wrong_value = true;
                bytes += e->kv.value_len + e->prev_kv.value_len;
        }
        if (bytes > r->max_call)
                r->max_call = bytes;
        r->n += n;
        pthread_cond_broadcast(&r->c);
        pthread_mutex_unlock(&r->m);
}

/* Waits until n events, or an error, arrived. */
static bool rec_wait(struct rec *r, size_t n, int timeout_ms)
{
        struct timespec ts;
        time_mono_deadline(&ts, timeout_ms);
        pthread_mutex_lock(&r->m);
        while (r->n < n && r->errors == 0) {
                if (pthread_cond_timedwait(&r->c, &r->m, &ts) == ETIMEDOUT)
                        break;
        }
        bool ok = r->n >= n || r->errors > 0;
        pthread_mutex_unlock(&r->m);
        return ok;
}

static struct store_watch *watch_or_fail(const char *prefix, int64_t from, struct rec *r)
{
        struct store_watch *w = NULL;
        struct berth_error err = {0};
        int rc = store_watch(suite.store, prefix, from, rec_fn, r, &w, &err);
        if (rc < 0)
                print_error("watch %s: %s\n", prefix, err.message);
        assert_int_equal(rc, 0);
        return w;
}

static void test_watch_corrupt_value(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("compress", "watch_corrupt");
        _cleanup_free_ char *a = key_in(prefix, "a");
        _cleanup_free_ char *b = key_in(prefix, "b");
        size_t len = 0;
        _cleanup_free_ char *json = sample_workflow_json(300, &len);
        size_t stored_len = 0;
        _cleanup_free_ char *stored = stored_sample(&stored_len);

        int64_t r1 = put_or_fail(a, json, len);
        raw_put(b, stored, stored_len - 1);
        int64_t r3 = put_or_fail(a, json, len);

        /* History replay: the event before the corrupt one arrives, then the
         * watch ends with -EPROTO and is never called again. */
        struct rec rec;
        rec_init(&rec, json, len);
        struct store_watch *w = watch_or_fail(prefix, r1, &rec);
        assert_true(rec_wait(&rec, 3, 5000));
        /* A later write must not wake an ended watch. */
        put_or_fail(a, json, len);
        struct timespec pause = {.tv_nsec = 200 * 1000 * 1000};
        nanosleep(&pause, NULL);
        store_watch_cancel(w);
        assert_int_equal(rec.errors, 1);
        assert_int_equal(rec.last_error, -EPROTO);
        assert_int_equal(rec.n, 1);
        assert_false(rec.after_error);
        assert_false(rec.wrong_value);
        rec_release(&rec);

        /* A corrupt previous value fails the event too. */
        struct rec prev;
        rec_init(&prev, json, len);
        w = watch_or_fail(prefix, 0, &prev);
        put_or_fail(b, json, len);
        assert_true(rec_wait(&prev, 1, 5000));
        store_watch_cancel(w);
        assert_int_equal(prev.errors, 1);
        assert_int_equal(prev.last_error, -EPROTO);
        assert_int_equal(prev.n, 0);
        rec_release(&prev);

        /* Only a, from after the corrupt revision: fine, values and previous
         * values inflated. */
        struct rec after;
        rec_init(&after, json, len);
        w = watch_or_fail(a, r3, &after);
        assert_true(rec_wait(&after, 2, 5000));
        store_watch_cancel(w);
        assert_int_equal(after.errors, 0);
        assert_int_equal(after.n, 2);
        assert_false(after.wrong_value);
        rec_release(&after);
}

/* Values that inflate to far more than a callback call should hold: the batch
 * is handed over in parts, each event whole and in order. */
static void test_watch_large_batch_split(void **state)
{
        (void)state;
        _cleanup_free_ char *prefix = suite_prefix("compress", "watch_split");
        size_t len = 24 * 1024 * 1024;
        _cleanup_free_ char *value = malloc(len);
        assert_non_null(value);
        for (size_t i = 0; i < len; i++)
                value[i] = (char)('a' + i % 7);
        int64_t first = 0;
        for (int i = 0; i < 4; i++) {
                char name[16];
                snprintf(name, sizeof(name), "v%d", i);
                _cleanup_free_ char *key = key_in(prefix, name);
                int64_t rev = put_or_fail(key, value, len);
                if (i == 0)
                        first = rev;
        }
        struct rec rec;
        rec_init(&rec, value, len);
        struct store_watch *w = watch_or_fail(prefix, first, &rec);
        assert_true(rec_wait(&rec, 4, 30000));
        store_watch_cancel(w);
        assert_int_equal(rec.errors, 0);
        assert_int_equal(rec.n, 4);
        assert_false(rec.wrong_value);
        assert_true(rec.calls >= 2);
        assert_true(rec.max_call <= 64 * 1024 * 1024 + len);
        rec_release(&rec);
}

/* ---- sqlite: the file itself -------------------------------------------- */

static int64_t sql_int(sqlite3 *db, const char *sql, const char *key)
{
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        int64_t v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return v;
}

static void test_sqlite_file(void **state)
{
        (void)state;
        if (!suite.tmpdir[0]) {
                skip();
                return;
        }
        _cleanup_free_ char *path = str_printf("%s/file/store.db", suite.tmpdir);
        _cleanup_free_ char *url = str_printf("sqlite:%s", path);
        size_t len = 0;
        _cleanup_free_ char *json = sample_workflow_json(300, &len);
        struct store *s = NULL;
        assert_int_equal(store_open(url, &s, NULL), 0);
        assert_int_equal(store_put(s, "/w", json, len, STORE_ANY_REVISION, 0, NULL, NULL), 0);
        assert_int_equal(store_put(s, "/small", json, 4096, STORE_ANY_REVISION, 0, NULL, NULL), 0);
        store_free(s);

        /* The row holds the magic and a stream, a small fraction of the value. */
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        const char *length = "SELECT length(value) FROM log WHERE key = ?1";
        int64_t stored = sql_int(db, length, "/w");
        print_message("sqlite row: %" PRId64 " bytes for a %zu byte value\n", stored, len);
        assert_true(stored < (int64_t)len / 5);
        assert_int_equal(
            sql_int(db, "SELECT hex(substr(value, 1, 4)) = '00627A31' FROM log WHERE key = ?1",
                    "/w"),
            1);
        assert_int_equal(sql_int(db, length, "/small"), 4096);
        /* Corrupt it behind the store's back: cut the stream short. */
        assert_int_equal(sqlite3_exec(db,
                                      "UPDATE log SET value = substr(value, 1, length(value) - 8) "
                                      "WHERE key = '/w'",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);

        assert_int_equal(store_open(url, &s, NULL), 0);
        struct store_kv kv = {0};
        struct berth_error err = {0};
        assert_int_equal(store_get(s, "/w", &kv, &err), -EPROTO);
        assert_non_null(strstr(err.message, "/w"));
        assert_int_equal(store_get(s, "/small", &kv, NULL), 0);
        assert_int_equal(kv.value_len, 4096);
        store_kv_release(&kv);
        store_free(s);
}

/* ---- setup ----------------------------------------------------------- */

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_small_values_stay),
            cmocka_unit_test(test_workflow_json_compresses),
            cmocka_unit_test(test_incompressible_stays),
            cmocka_unit_test(test_magic_values_are_wrapped),
            cmocka_unit_test(test_corrupt_streams),
            cmocka_unit_test(test_output_cap),
            cmocka_unit_test(test_deflate_max),
            cmocka_unit_test(test_kv_inflate_plain),
            cmocka_unit_test(test_backend_holds_compressed),
            cmocka_unit_test(test_size_rule),
            cmocka_unit_test(test_corrupt_value_reads),
            cmocka_unit_test(test_watch_corrupt_value),
            cmocka_unit_test(test_watch_large_batch_split),
            cmocka_unit_test(test_sqlite_file),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
