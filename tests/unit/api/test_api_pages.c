/* Unit tests for paged lists' pure pieces: continue tokens (encode, decode,
 * every way a token is refused), ?limit= parsing, and the send path's
 * Accept-Encoding, gzip and If-None-Match helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "api-internal.h"

static void list_id(const char *ns, const char *labels, uint8_t ret[API_CONTINUE_ID_LEN])
{
        api_continue_list_id("tasks", ns, labels, NULL, ret);
}

static char *token_for(int64_t rev, const uint8_t id[API_CONTINUE_ID_LEN], const char *key)
{
        struct api_continue c = {.revision = rev};
        memcpy(c.list, id, API_CONTINUE_ID_LEN);
        assert_int_equal(str_copy(c.key, sizeof(c.key), key), 0);
        char *t = NULL;
        assert_int_equal(api_continue_encode(&c, &t), 0);
        return t;
}

/* The 400 of decoding token against id: asserts it and returns the message. */
static void assert_refused(const char *token, const uint8_t id[API_CONTINUE_ID_LEN],
                           const char *words)
{
        struct api_continue c = {.revision = 99};
        struct api_error e = {0};
        assert_true(api_continue_decode(token, id, &c, &e) < 0);
        assert_int_equal(e.code, 400);
        assert_non_null(strstr(e.message, "continue token"));
        if (!strstr(e.message, words))
                fail_msg("\"%s\" does not say \"%s\"", e.message, words);
        assert_int_equal(c.revision, 99); /* untouched */
        api_error_release(&e);
}

static void test_token_roundtrip(void **state)
{
        (void)state;
        uint8_t id[API_CONTINUE_ID_LEN];
        list_id("default", "app=web", id);
        _cleanup_free_ char *t = token_for(1234567890123, id, "default/hello-42");
        for (const char *p = t; *p; p++)
                assert_true(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789-_",
                                   *p));
        struct api_continue c = {0};
        struct api_error e = {0};
        assert_int_equal(api_continue_decode(t, id, &c, &e), 0);
        assert_int_equal(c.revision, 1234567890123);
        assert_string_equal(c.key, "default/hello-42");

        /* The longest key fits, and its token is under the cap. */
        char key[STORE_KEY_MAX + 1];
        memset(key, 'k', STORE_KEY_MAX);
        key[STORE_KEY_MAX] = '\0';
        _cleanup_free_ char *big = token_for(1, id, key);
        assert_true(strlen(big) <= API_CONTINUE_MAX);
        assert_int_equal(api_continue_decode(big, id, &c, &e), 0);
        assert_string_equal(c.key, key);
}

static void test_token_encode_refuses(void **state)
{
        (void)state;
        struct api_continue c = {.revision = 0};
        char *t = NULL;
        (void)str_copy(c.key, sizeof(c.key), "x");
        assert_int_equal(api_continue_encode(&c, &t), -EINVAL); /* no revision */
        c.revision = 5;
        c.key[0] = '\0';
        assert_int_equal(api_continue_encode(&c, &t), -EINVAL); /* no key */
        (void)str_copy(c.key, sizeof(c.key), "a\nb");
        assert_int_equal(api_continue_encode(&c, &t), -EINVAL); /* control character */
        assert_null(t);
}

static void test_token_other_list(void **state)
{
        (void)state;
        uint8_t id[API_CONTINUE_ID_LEN], other_ns[API_CONTINUE_ID_LEN],
            other_sel[API_CONTINUE_ID_LEN], all[API_CONTINUE_ID_LEN],
            other_kind[API_CONTINUE_ID_LEN];
        list_id("default", "app=web", id);
        list_id("prod", "app=web", other_ns);
        list_id("default", "app=db", other_sel);
        list_id("", "app=web", all);
        api_continue_list_id("services", "default", "app=web", NULL, other_kind);
        _cleanup_free_ char *t = token_for(10, id, "a");
        assert_refused(t, other_ns, "another list");
        assert_refused(t, other_sel, "another list");
        assert_refused(t, all, "another list");
        assert_refused(t, other_kind, "another list");
        /* Fields do not run into each other. */
        uint8_t a[API_CONTINUE_ID_LEN], b[API_CONTINUE_ID_LEN];
        api_continue_list_id("tasks", "ab", "", NULL, a);
        api_continue_list_id("tasks", "a", "b", NULL, b);
        assert_memory_not_equal(a, b, API_CONTINUE_ID_LEN);
}

/* A token's raw bytes with byte i changed and (resum) its checksum made right
 * again: what a forger who read continue.c could make. */
static char *reforge(const char *token, size_t i, uint8_t value, bool resum)
{
        size_t len = strlen(token);
        _cleanup_free_ char *std = strdup(token);
        for (char *p = std; *p; p++)
                *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
        char *raw = NULL;
        size_t n = 0;
        assert_int_equal(base64_decode(std, len, &raw, &n), 0);
        raw[i] = (char)value;
        if (resum) {
                uint8_t md[EVP_MAX_MD_SIZE];
                unsigned int md_len = 0;
                assert_true(EVP_Digest(raw, n - 8, md, &md_len, EVP_sha256(), NULL));
                memcpy(raw + n - 8, md, 8);
        }
        char *out = base64_encode(raw, n);
        free(raw);
        for (char *p = out; *p; p++)
                *p = *p == '+' ? '-' : *p == '/' ? '_' : *p == '=' ? '\0' : *p;
        return out;
}

static void test_token_forged_and_truncated(void **state)
{
        (void)state;
        uint8_t id[API_CONTINUE_ID_LEN];
        list_id("default", NULL, id);
        _cleanup_free_ char *t = token_for(77, id, "default/some-task");

        assert_refused("", id, "empty");
        assert_refused("not a token!", id, "not base64url");
        assert_refused("abc+def/", id, "not base64url"); /* base64, not base64url */
        assert_refused("abcd====", id, "not base64url");
        assert_refused("AAAA", id, "truncated");

        /* Cut short anywhere: refused. */
        for (size_t n = 1; n < strlen(t); n++) {
                _cleanup_free_ char *cut = strndup(t, n);
                struct api_continue c;
                struct api_error e = {0};
                assert_true(api_continue_decode(cut, id, &c, &e) < 0);
                assert_int_equal(e.code, 400);
                api_error_release(&e);
        }
        /* One character changed anywhere: refused. */
        for (size_t i = 0; i < strlen(t); i++) {
                _cleanup_free_ char *x = strdup(t);
                x[i] = x[i] == 'A' ? 'B' : 'A';
                struct api_continue c;
                struct api_error e = {0};
                assert_true(api_continue_decode(x, id, &c, &e) < 0);
                assert_int_equal(e.code, 400);
                api_error_release(&e);
        }
        /* The revision edited, without fixing the checksum. */
        _cleanup_free_ char *edited = reforge(t, 8, 1, false);
        assert_refused(edited, id, "checksum");

        /* Too long. */
        char huge[API_CONTINUE_MAX + 2];
        memset(huge, 'A', sizeof(huge) - 1);
        huge[sizeof(huge) - 1] = '\0';
        assert_refused(huge, id, "longer than");
}

static void test_token_bad_version_revision_key(void **state)
{
        (void)state;
        uint8_t id[API_CONTINUE_ID_LEN];
        list_id("default", NULL, id);
        _cleanup_free_ char *t = token_for(77, id, "key");

        _cleanup_free_ char *v2 = reforge(t, 0, 2, true);
        assert_refused(v2, id, "version 2 is not supported");
        _cleanup_free_ char *v0 = reforge(t, 0, 0, true);
        assert_refused(v0, id, "version 0");

        /* A revision above INT64_MAX (top bit set), and revision 0. */
        _cleanup_free_ char *neg = reforge(t, 1, 0x80, true);
        assert_refused(neg, id, "bad revision");
        /* 77 = 0x4d in the last byte: zero it. */
        _cleanup_free_ char *zero = reforge(t, 8, 0, true);
        assert_refused(zero, id, "bad revision");

        /* A control character in the key. */
        _cleanup_free_ char *ctl = reforge(t, 1 + 8 + API_CONTINUE_ID_LEN, '\n', true);
        assert_refused(ctl, id, "bad key");
}

/* ---- ?limit= ------------------------------------------------------------ */

static int paged(const char *target, size_t *limit, struct api_error *e)
{
        struct api_route r = {0};
        api_error_release(e);
        *e = (struct api_error){0};
        assert_int_equal(api_route_parse(API_METHOD_GET, target, &r, e), 0);
        int rc = api_list_paged(&r, limit, e);
        api_route_release(&r);
        return rc;
}

static void test_limit_parse(void **state)
{
        (void)state;
        struct api_error e = {0};
        size_t limit = 0;
        const char *base = "/apis/berth/v1/namespaces/default/tasks";
        char target[256];

        assert_int_equal(paged(base, &limit, &e), 0);
        snprintf(target, sizeof(target), "%s?limit=0", base);
        assert_int_equal(paged(target, &limit, &e), 0);
        snprintf(target, sizeof(target), "%s?limit=7", base);
        assert_int_equal(paged(target, &limit, &e), 1);
        assert_int_equal(limit, 7);
        snprintf(target, sizeof(target), "%s?continue=abc", base);
        assert_int_equal(paged(target, &limit, &e), 1);
        assert_int_equal(limit, API_LIST_LIMIT_DEFAULT);
        snprintf(target, sizeof(target), "%s?limit=%d", base, API_LIST_LIMIT_MAX);
        assert_int_equal(paged(target, &limit, &e), 1);

        const char *bad[] = {"-1", "x", "", "7x", "10001", "99999999999999999999999"};
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                snprintf(target, sizeof(target), "%s?limit=%s", base, bad[i]);
                assert_true(paged(target, &limit, &e) < 0);
                assert_int_equal(e.code, 400);
                assert_non_null(strstr(e.message, "limit"));
        }
        api_error_release(&e);
}

/* ---- Accept-Encoding, gzip, If-None-Match ------------------------------- */

static void test_gzip_accepted(void **state)
{
        (void)state;
        assert_false(api_gzip_accepted(NULL));
        assert_false(api_gzip_accepted(""));
        assert_true(api_gzip_accepted("gzip"));
        assert_true(api_gzip_accepted("deflate, GZIP"));
        assert_true(api_gzip_accepted("br;q=1.0, gzip;q=0.5"));
        assert_true(api_gzip_accepted("x-gzip"));
        assert_true(api_gzip_accepted("*"));
        assert_false(api_gzip_accepted("gzip;q=0"));
        assert_false(api_gzip_accepted("gzip;q=0.000"));
        assert_false(api_gzip_accepted("*, gzip;q=0"));
        assert_false(api_gzip_accepted("identity"));
        assert_false(api_gzip_accepted("deflate, br"));
        assert_false(api_gzip_accepted("gzipx"));
        assert_false(api_gzip_accepted("gzip;q=2"));    /* malformed: ignored */
        assert_false(api_gzip_accepted("gzip;q=0.5x")); /* malformed */
        assert_true(api_gzip_accepted("  gzip ; q=0.1 "));
}

static void test_gzip_roundtrip(void **state)
{
        (void)state;
        size_t len = 300 * 1024;
        _cleanup_free_ char *data = malloc(len);
        for (size_t i = 0; i < len; i++)
                data[i] = "{\"kind\":\"Task\"}"[i % 15];
        _cleanup_free_ char *gz = NULL;
        size_t gz_len = 0;
        assert_int_equal(api_gzip(data, len, &gz, &gz_len), 0);
        assert_true(gz_len < len / 10);
        assert_int_equal((unsigned char)gz[0], 0x1f); /* gzip magic */
        assert_int_equal((unsigned char)gz[1], 0x8b);

        _cleanup_free_ char *back = malloc(len);
        z_stream z = {0};
        assert_int_equal(inflateInit2(&z, 16 + 15), Z_OK);
        z.next_in = (Bytef *)gz;
        z.avail_in = (uInt)gz_len;
        z.next_out = (Bytef *)back;
        z.avail_out = (uInt)len;
        assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
        assert_int_equal(z.total_out, len);
        inflateEnd(&z);
        assert_memory_equal(back, data, len);

        _cleanup_free_ char *empty = NULL;
        assert_int_equal(api_gzip("", 0, &empty, &gz_len), 0);
        assert_true(gz_len > 0);
}

static void test_etag(void **state)
{
        (void)state;
        char tag[24];
        api_etag_format(42, tag);
        assert_string_equal(tag, "\"42\"");
        assert_true(api_etag_matches("\"42\"", tag));
        assert_true(api_etag_matches("W/\"42\"", tag));
        assert_true(api_etag_matches("\"1\", \"42\"", tag));
        assert_true(api_etag_matches("*", tag));
        assert_false(api_etag_matches(NULL, tag));
        assert_false(api_etag_matches("", tag));
        assert_false(api_etag_matches("\"4\"", tag));
        assert_false(api_etag_matches("\"420\"", tag));
        assert_false(api_etag_matches("42", tag));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_token_roundtrip),
            cmocka_unit_test(test_token_encode_refuses),
            cmocka_unit_test(test_token_other_list),
            cmocka_unit_test(test_token_forged_and_truncated),
            cmocka_unit_test(test_token_bad_version_revision_key),
            cmocka_unit_test(test_limit_parse),
            cmocka_unit_test(test_gzip_accepted),
            cmocka_unit_test(test_gzip_roundtrip),
            cmocka_unit_test(test_etag),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
