/* Unit tests of the secrets module: sealing and opening values (round trip,
 * tampering, another place, an unknown key, rotation), the key file (made
 * 0600, refused when corrupt or readable by others), the object helpers
 * (seal, redact, reveal, lookup) and secret volume files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "manifests.h"
#include "secrets.h"
#include "test-support.h"

/* Two fixed keys: "a" is 32 bytes of 0x61, "b" 32 bytes of 0x62. */
#define KEY_A "v1 0000000a YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=\n"
#define KEY_B "v1 0000000b YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI=\n"
#define AAD   "default/db/password"

static struct secrets_keyring *ring_of(const char *text)
{
        struct secrets_keyring *ring = NULL;
        struct berth_error err = {0};

        if (secrets_keyring_parse(text, strlen(text), "test.key", &ring, &err) < 0)
                fail_msg("parse: %s", err.message);
        return ring;
}

static void ringp_free(struct secrets_keyring **ring)
{
        secrets_keyring_free(*ring);
}
#define _cleanup_ring_ _cleanup_(ringp_free)

static void test_round_trip(void **state)
{
        (void)state;
        _cleanup_ring_ struct secrets_keyring *ring = ring_of(KEY_A);
        _cleanup_free_ char *sealed = NULL, *again = NULL;
        unsigned char *plain = NULL;
        size_t len = 0;
        struct berth_error err = {0};
        char id[16];

        assert_string_equal(secrets_keyring_active_id(ring), "0000000a");
        assert_int_equal(secrets_keyring_size(ring), 1);
        assert_int_equal(secret_seal(ring, AAD, "hunter2", 7, &sealed, &err), 0);
        assert_true(str_has_prefix(sealed, "enc:v1:0000000a:"));
        assert_true(secret_value_is_sealed(sealed));
        assert_null(strstr(sealed, "hunter2"));
        assert_int_equal(secret_sealed_keyid(sealed, id), 0);
        assert_string_equal(id, "0000000a");
        assert_int_equal(secret_open(ring, AAD, sealed, &plain, &len, &err), 0);
        assert_int_equal(len, 7);
        assert_memory_equal(plain, "hunter2", 7);
        assert_int_equal(plain[len], '\0');
        secret_bytes_free(plain, len);

        /* A random nonce: the same value seals differently every time. */
        assert_int_equal(secret_seal(ring, AAD, "hunter2", 7, &again, &err), 0);
        assert_string_not_equal(sealed, again);

        /* Empty and binary values. */
        _cleanup_free_ char *empty = NULL, *bin = NULL;
        static const unsigned char bytes[] = {0, 1, 2, 0xff, 0};
        assert_int_equal(secret_seal(ring, AAD, "", 0, &empty, &err), 0);
        assert_int_equal(secret_open(ring, AAD, empty, &plain, &len, &err), 0);
        assert_int_equal(len, 0);
        secret_bytes_free(plain, len);
        assert_int_equal(secret_seal(ring, AAD, bytes, sizeof(bytes), &bin, &err), 0);
        assert_int_equal(secret_open(ring, AAD, bin, &plain, &len, &err), 0);
        assert_int_equal(len, sizeof(bytes));
        assert_memory_equal(plain, bytes, sizeof(bytes));
        secret_bytes_free(plain, len);
}

/* Flips one bit of the raw (nonce, ciphertext, tag) bytes at index i. */
static char *flipped(const char *sealed, size_t i)
{
        const char *b64 = sealed + strlen("enc:v1:0000000a:");
        char *raw = NULL;
        size_t n = 0;

        assert_int_equal(base64_decode(b64, strlen(b64), &raw, &n), 0);
        assert_true(i < n);
        raw[i] ^= 0x01;
        _cleanup_free_ char *again = base64_encode(raw, n);
        free(raw);
        assert_non_null(again);
        return str_printf("enc:v1:0000000a:%s", again);
}

static void test_tampered(void **state)
{
        (void)state;
        _cleanup_ring_ struct secrets_keyring *ring = ring_of(KEY_A);
        _cleanup_free_ char *sealed = NULL;
        unsigned char *plain = (unsigned char *)"untouched";
        size_t len = 42;
        struct berth_error err = {0};

        assert_int_equal(secret_seal(ring, AAD, "hunter2", 7, &sealed, &err), 0);
        /* Nonce, ciphertext and tag: one bit anywhere and it does not open. */
        for (size_t i = 0; i < 12 + 7 + 16; i++) {
                _cleanup_free_ char *bad = flipped(sealed, i);

                assert_int_equal(secret_open(ring, AAD, bad, &plain, &len, &err), -EBADMSG);
                assert_true(str_has_prefix(err.message, "does not open with key 0000000a"));
        }
        assert_string_equal((const char *)plain, "untouched");
        assert_int_equal(len, 42);

        /* Cut short, not base64, not sealed at all. */
        assert_int_equal(secret_open(ring, AAD, "enc:v1:0000000a:AAAA", &plain, &len, &err),
                         -EBADMSG);
        assert_int_equal(secret_open(ring, AAD, "enc:v1:0000000a:!!", &plain, &len, &err), -EINVAL);
        assert_int_equal(secret_open(ring, AAD, "aHVudGVyMg==", &plain, &len, &err), -EINVAL);
        assert_int_equal(secret_open(ring, AAD, "enc:v1:0000000A:AAAA", &plain, &len, &err),
                         -EINVAL);
}

static void test_other_place(void **state)
{
        (void)state;
        _cleanup_ring_ struct secrets_keyring *ring = ring_of(KEY_A);
        _cleanup_free_ char *sealed = NULL;
        unsigned char *plain = NULL;
        size_t len = 0;
        struct berth_error err = {0};

        assert_int_equal(secret_seal(ring, AAD, "hunter2", 7, &sealed, &err), 0);
        /* Another key, Secret or namespace. */
        assert_int_equal(secret_open(ring, "default/db/user", sealed, &plain, &len, &err),
                         -EBADMSG);
        assert_int_equal(secret_open(ring, "default/web/password", sealed, &plain, &len, &err),
                         -EBADMSG);
        assert_int_equal(secret_open(ring, "prod/db/password", sealed, &plain, &len, &err),
                         -EBADMSG);
        _cleanup_free_ char *aad = secret_aad("default", "db", "password");
        assert_string_equal(aad, AAD);
        assert_null(secret_aad(NULL, "db", "password"));
}

static void test_unknown_key(void **state)
{
        (void)state;
        _cleanup_ring_ struct secrets_keyring *a = ring_of(KEY_A);
        _cleanup_ring_ struct secrets_keyring *b = ring_of(KEY_B);
        _cleanup_free_ char *sealed = NULL;
        unsigned char *plain = NULL;
        size_t len = 0;
        struct berth_error err = {0};

        assert_int_equal(secret_seal(a, AAD, "hunter2", 7, &sealed, &err), 0);
        assert_int_equal(secret_open(b, AAD, sealed, &plain, &len, &err), -ENOKEY);
        assert_string_equal(err.message, "sealed with key 0000000a, which is not in berthd's "
                                         "keyring");
        assert_int_equal(secret_open(NULL, AAD, sealed, &plain, &len, &err), -ENOKEY);
        assert_int_equal(secret_seal(NULL, AAD, "x", 1, &sealed, &err), -ENOKEY);
}

static void test_rotation(void **state)
{
        (void)state;
        _cleanup_ring_ struct secrets_keyring *old = ring_of(KEY_A);
        _cleanup_ring_ struct secrets_keyring *rotated = ring_of("# rotated\n" KEY_B "\n" KEY_A);
        _cleanup_free_ char *before = NULL, *after = NULL;
        unsigned char *plain = NULL;
        size_t len = 0;
        struct berth_error err = {0};

        assert_int_equal(secrets_keyring_size(rotated), 2);
        assert_string_equal(secrets_keyring_active_id(rotated), "0000000b");
        assert_int_equal(secret_seal(old, AAD, "hunter2", 7, &before, &err), 0);
        /* The old key still opens what it sealed ... */
        assert_int_equal(secret_open(rotated, AAD, before, &plain, &len, &err), 0);
        assert_memory_equal(plain, "hunter2", 7);
        secret_bytes_free(plain, len);
        /* ... and new values use the first key. */
        assert_int_equal(secret_seal(rotated, AAD, "hunter3", 7, &after, &err), 0);
        assert_true(str_has_prefix(after, "enc:v1:0000000b:"));
        assert_int_equal(secret_open(old, AAD, after, &plain, &len, &err), -ENOKEY);

        /* The next write of the object moves old values to the new key. */
        _cleanup_json_ json_t *obj = json_pack(
            "{s:s, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion", "berth/v1", "kind", "Secret",
            "metadata", "name", "db", "namespace", "default", "data", "password", before);
        assert_int_equal(secret_object_seal(rotated, obj, NULL, &err), 0);
        const char *moved =
            json_string_value(json_object_get(json_object_get(obj, "data"), "password"));
        assert_true(str_has_prefix(moved, "enc:v1:0000000b:"));
        assert_int_equal(secret_lookup(rotated, obj, "password", &plain, &len, &err), 0);
        assert_memory_equal(plain, "hunter2", 7);
        secret_bytes_free(plain, len);
}

static void test_key_file_created(void **state)
{
        (void)state;
        char dir[] = "/tmp/berth-secrets-XXXXXX";
        struct secrets_keyring *ring = NULL, *again = NULL;
        struct berth_error err = {0};
        struct stat st;

        assert_non_null(mkdtemp(dir));
        _cleanup_free_ char *path = str_printf("%s/secrets.key", dir);
        assert_int_equal(secrets_keyring_load(dir, &ring, &err), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(secrets_keyring_size(ring), 1);
        /* The second start reads the same key. */
        assert_int_equal(secrets_keyring_load(dir, &again, &err), 0);
        assert_string_equal(secrets_keyring_active_id(ring), secrets_keyring_active_id(again));
        _cleanup_free_ char *sealed = NULL;
        unsigned char *plain = NULL;
        size_t len = 0;
        assert_int_equal(secret_seal(ring, AAD, "x", 1, &sealed, &err), 0);
        assert_int_equal(secret_open(again, AAD, sealed, &plain, &len, &err), 0);
        secret_bytes_free(plain, len);
        secrets_keyring_free(ring);
        secrets_keyring_free(again);
        secrets_keyring_free(NULL);
        assert_int_equal(test_rm_tree(dir), 0);
}

/* Writes text as dir/secrets.key with mode, then loads it: its error. */
static int load_file(const char *dir, const char *text, mode_t mode, struct berth_error *err)
{
        _cleanup_free_ char *path = str_printf("%s/secrets.key", dir);
        struct secrets_keyring *ring = NULL;
        FILE *f;

        (void)unlink(path);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        assert_int_equal(chmod(path, mode), 0);
        int r = secrets_keyring_load(dir, &ring, err);
        secrets_keyring_free(ring);
        return r;
}

static void test_key_file_corrupt(void **state)
{
        (void)state;
        char dir[] = "/tmp/berth-secrets-XXXXXX";
        struct berth_error err = {0};

        assert_non_null(mkdtemp(dir));
        _cleanup_free_ char *prefix = str_printf("%s/secrets.key", dir);
        assert_int_equal(load_file(dir, KEY_A, 0600, &err), 0);

        static const struct {
                const char *text, *message;
        } cases[] = {
            {KEY_A "v1 0000000b c2hvcnQ=\n", ":2: key has 5 bytes, want 32 (AES-256)"},
            {"\n\n" KEY_A "v2 0000000b YmJi\n", ":4: unknown format \"v2\": want v1"},
            {"v1 XYZ YWFh\n", ":1: key id must be 8 lowercase hex digits"},
            {"v1 0000000a not*base64\n", ":1: key is not valid base64"},
            {"v1 0000000a\n", ":1: expected \"v1 <keyid> <base64 key>\""},
            {KEY_A KEY_A, ":2: key id 0000000a appears twice"},
            {"# nothing\n\n", ": no keys"},
            {"", ": no keys"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                _cleanup_free_ char *want = str_printf("%s%s", prefix, cases[i].message);

                assert_int_equal(load_file(dir, cases[i].text, 0600, &err), -EINVAL);
                assert_string_equal(err.message, want);
        }
        /* Readable by others: refused, saying how to fix it. */
        assert_int_equal(load_file(dir, KEY_A, 0644, &err), -EPERM);
        _cleanup_free_ char *mode = str_printf("%s: mode 0644, must be 0600", prefix);
        assert_true(str_has_prefix(err.message, mode));
        assert_int_equal(load_file(dir, KEY_A, 0640, &err), -EPERM);
        /* Not a regular file. */
        assert_int_equal(unlink(prefix), 0);
        assert_int_equal(mkdir(prefix, 0700), 0);
        struct secrets_keyring *ring = NULL;
        assert_int_equal(secrets_keyring_load(dir, &ring, &err), -EINVAL);
        assert_null(ring);
        assert_int_equal(test_rm_tree(dir), 0);
}

static json_t *secret_obj(const char *ns, const char *name)
{
        json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "berth/v1", "kind",
                              "Secret", "metadata", "name", name, "namespace", ns);
        assert_non_null(o);
        return o;
}

static const char *data_of(const json_t *obj, const char *key)
{
        return json_string_value(json_object_get(json_object_get(obj, "data"), key));
}

static void test_object_seal(void **state)
{
        (void)state;
        _cleanup_ring_ struct secrets_keyring *ring = ring_of(KEY_A);
        _cleanup_json_ json_t *obj = secret_obj("default", "db");
        struct berth_error err = {0};
        unsigned char *plain = NULL;
        size_t len = 0;

        json_object_set_new(
            obj, "data",
            json_pack("{s:s, s:s}", "user", "YWRtaW4=", "password", "b2xk")); /* admin, old */
        json_object_set_new(obj, "stringData",
                            json_pack("{s:s, s:s}", "password", "hunter2", "url", "postgres://db"));
        assert_int_equal(secret_object_seal(ring, obj, NULL, &err), 0);
        assert_null(json_object_get(obj, "stringData"));
        assert_int_equal(json_object_size(json_object_get(obj, "data")), 3);
        _cleanup_free_ char *dump = json_dumps(obj, JSON_COMPACT);
        assert_null(strstr(dump, "hunter2"));
        assert_null(strstr(dump, "YWRtaW4="));
        assert_null(strstr(dump, "postgres"));
        assert_true(secret_value_is_sealed(data_of(obj, "user")));

        /* stringData won over data for password. */
        assert_int_equal(secret_lookup(ring, obj, "password", &plain, &len, &err), 0);
        assert_string_equal((char *)plain, "hunter2");
        secret_bytes_free(plain, len);
        assert_int_equal(secret_lookup(ring, obj, "user", &plain, &len, &err), 0);
        assert_string_equal((char *)plain, "admin");
        secret_bytes_free(plain, len);
        assert_int_equal(secret_lookup(ring, obj, "nope", &plain, &len, &err), -ENOENT);

        /* Sealing the stored object again keeps every value as it is. */
        _cleanup_json_ json_t *stored = json_deep_copy(obj);
        assert_int_equal(secret_object_seal(ring, obj, stored, &err), 0);
        assert_true(json_equal(obj, stored));

        /* Applying the same values again: current's texts; a change: new. */
        _cleanup_json_ json_t *again = secret_obj("default", "db");
        json_object_set_new(again, "stringData",
                            json_pack("{s:s, s:s, s:s}", "password", "hunter2", "url",
                                      "postgres://db", "user", "root"));
        assert_int_equal(secret_object_seal(ring, again, stored, &err), 0);
        assert_string_equal(data_of(again, "password"), data_of(stored, "password"));
        assert_string_equal(data_of(again, "url"), data_of(stored, "url"));
        assert_string_not_equal(data_of(again, "user"), data_of(stored, "user"));

        /* A value copied from another Secret does not open here. */
        _cleanup_json_ json_t *thief = secret_obj("default", "web");
        json_object_set_new(thief, "data",
                            json_pack("{s:s}", "password", data_of(obj, "password")));
        assert_int_equal(secret_object_seal(ring, thief, NULL, &err), -EBADMSG);
        assert_true(str_has_prefix(err.message, "data.password: does not open"));
        assert_int_equal(secret_lookup(ring, thief, "password", &plain, &len, &err), -EBADMSG);

        /* Nor one moved to another key of the same Secret. */
        json_object_set(json_object_get(obj, "data"), "url",
                        json_object_get(json_object_get(obj, "data"), "password"));
        assert_int_equal(secret_lookup(ring, obj, "url", &plain, &len, &err), -EBADMSG);
}

static int count_key(const char *key, const unsigned char *data, size_t len, void *userdata)
{
        json_t *seen = userdata;

        return json_object_set_new(seen, key, json_stringn((const char *)data, len));
}

static void test_object_redact_reveal(void **state)
{
        (void)state;
        _cleanup_ring_ struct secrets_keyring *ring = ring_of(KEY_A);
        _cleanup_json_ json_t *obj = secret_obj("team", "db");
        _cleanup_json_ json_t *revealed = NULL, *seen = json_object();
        struct berth_error err = {0};

        json_object_set_new(obj, "data", json_pack("{s:s}", "user", "YWRtaW4="));
        json_object_set_new(obj, "stringData", json_pack("{s:s}", "password", "hunter2"));
        assert_int_equal(secret_object_seal(ring, obj, NULL, &err), 0);

        _cleanup_json_ json_t *redacted = secret_object_redact(obj);
        assert_string_equal(data_of(redacted, "user"), SECRET_REDACTED);
        assert_string_equal(data_of(redacted, "password"), SECRET_REDACTED);
        assert_true(secret_value_is_sealed(data_of(obj, "user"))); /* a copy */

        assert_int_equal(secret_object_reveal(ring, obj, &revealed, &err), 0);
        assert_string_equal(data_of(revealed, "user"), "YWRtaW4=");
        assert_string_equal(data_of(revealed, "password"), "aHVudGVyMg==");

        /* Unsealed objects (written before berthd sealed) read as written. */
        _cleanup_json_ json_t *plain = secret_obj("team", "old");
        json_object_set_new(plain, "data", json_pack("{s:s, s:s}", "a", "YQ==", "b", "Yg=="));
        json_object_set_new(plain, "stringData", json_pack("{s:s}", "b", "B"));
        assert_int_equal(secret_foreach(ring, plain, count_key, seen, &err), 0);
        assert_int_equal(json_object_size(seen), 2);
        assert_string_equal(json_string_value(json_object_get(seen, "a")), "a");
        assert_string_equal(json_string_value(json_object_get(seen, "b")), "B");

        /* A tampered value is an error of that Secret. */
        json_object_set_new(
            json_object_get(obj, "data"), "user",
            json_string("enc:v1:0000000a:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
        json_decref(revealed);
        revealed = NULL;
        assert_int_equal(secret_object_reveal(ring, obj, &revealed, &err), -EBADMSG);
        assert_null(revealed);
        assert_true(str_has_prefix(err.message, "data.user: does not open"));
}

static void test_value_size_limit(void **state)
{
        (void)state;
        _cleanup_ring_ struct secrets_keyring *ring = ring_of(KEY_A);
        _cleanup_free_ char *big = malloc(SECRET_VALUE_MAX + 2);
        _cleanup_free_ char *sealed = NULL;
        _cleanup_json_ json_t *obj = secret_obj("default", "big");
        struct berth_error err = {0};

        assert_non_null(big);
        memset(big, 'x', SECRET_VALUE_MAX + 1);
        big[SECRET_VALUE_MAX + 1] = '\0';
        assert_int_equal(secret_seal(ring, AAD, big, SECRET_VALUE_MAX + 1, &sealed, &err), -E2BIG);
        assert_true(str_has_prefix(err.message, FIELD_TOO_LARGE));
        /* At the limit it seals and opens. */
        assert_int_equal(secret_seal(ring, AAD, big, SECRET_VALUE_MAX, &sealed, &err), 0);
        unsigned char *plain = NULL;
        size_t len = 0;
        assert_int_equal(secret_open(ring, AAD, sealed, &plain, &len, &err), 0);
        assert_int_equal(len, SECRET_VALUE_MAX);
        secret_bytes_free(plain, len);

        json_object_set_new(obj, "stringData", json_pack("{s:s}", "blob", big));
        assert_int_equal(secret_object_seal(ring, obj, NULL, &err), -E2BIG);
        assert_true(str_has_prefix(err.message, "stringData.blob: " FIELD_TOO_LARGE));
}

static int file_text(const char *path, char *buf, size_t size)
{
        FILE *f = fopen(path, "r");
        if (!f)
                return -errno;
        size_t n = fread(buf, 1, size - 1, f);
        buf[n] = '\0';
        fclose(f);
        return 0;
}

static void test_volume_files(void **state)
{
        (void)state;
        _cleanup_ring_ struct secrets_keyring *ring = ring_of(KEY_A);
        _cleanup_json_ json_t *obj = secret_obj("default", "db");
        char dir[] = "/tmp/berth-secrets-XXXXXX";
        struct berth_error err = {0};
        _cleanup_strv_ char **names = NULL;
        char text[64];
        struct stat st;

        assert_non_null(mkdtemp(dir));
        json_object_set_new(obj, "stringData",
                            json_pack("{s:s, s:s}", "password", "hunter2", "tls.crt", "PEM"));
        assert_int_equal(secret_object_seal(ring, obj, NULL, &err), 0);
        assert_int_equal(
            secrets_volume_write(dir, "c1/uid1/0", ring, obj, getuid(), getgid(), &err), 0);
        _cleanup_free_ char *file = str_printf("%s/c1/uid1/0/password", dir);
        assert_int_equal(file_text(file, text, sizeof(text)), 0);
        assert_string_equal(text, "hunter2");
        assert_int_equal(stat(file, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0400);
        _cleanup_free_ char *vol = str_printf("%s/c1/uid1/0", dir);
        assert_int_equal(stat(vol, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0555);

        /* Written afresh: a key gone from the Secret goes from the files. */
        json_object_del(json_object_get(obj, "data"), "tls.crt");
        assert_int_equal(
            secrets_volume_write(dir, "c1/uid1/0", ring, obj, getuid(), getgid(), &err), 0);
        assert_int_equal(secrets_volume_list(dir, "c1/uid1/0", &names, &err), 0);
        assert_non_null(names[0]);
        assert_string_equal(names[0], "password");
        assert_null(names[1]);
        strv_free(names);
        names = NULL;
        assert_int_equal(secrets_volume_list(dir, "c1", &names, &err), 0);
        assert_string_equal(names[0], "uid1");
        strv_free(names);
        names = NULL;

        /* Paths that would leave the root are refused. */
        assert_int_equal(secrets_volume_write(dir, "../x", ring, obj, 0, 0, &err), -EINVAL);
        assert_int_equal(secrets_volume_write(dir, "c1//x", ring, obj, 0, 0, &err), -EINVAL);
        assert_int_equal(secrets_volume_remove(dir, "/etc", &err), -EINVAL);

        assert_int_equal(secrets_volume_remove(dir, "c1/uid1", &err), 0);
        assert_int_equal(stat(vol, &st), -1);
        assert_int_equal(secrets_volume_remove(dir, "c1/uid1", &err), 0); /* gone already */
        assert_int_equal(secrets_volume_list(dir, "c1/none", &names, &err), 0);
        assert_null(names[0]);
        assert_int_equal(test_rm_tree(dir), 0);
}

/* Needs root (mount(2)): Skipped otherwise. */
static void test_dir_prepare(void **state)
{
        (void)state;
        char dir[] = "/tmp/berth-secrets-XXXXXX";
        struct berth_error err = {0};
        bool mounted = false;
        struct stat st;

        assert_false(secrets_dir_is_tmpfs(NULL));
        assert_int_equal(secrets_dir_prepare("relative", &mounted, &err), -EINVAL);
        /* A tmpfs others share is refused, not changed under them. */
        if (secrets_dir_is_tmpfs("/dev/shm")) {
                struct stat shm;
                assert_int_equal(stat("/dev/shm", &shm), 0);
                assert_int_equal(secrets_dir_prepare("/dev/shm", &mounted, &err), -EPERM);
                assert_true(str_has_prefix(err.message, "secrets directory /dev/shm: mode"));
                assert_int_equal(stat("/dev/shm", &st), 0);
                assert_int_equal(st.st_mode, shm.st_mode);
        }
        if (geteuid() != 0)
                skip();
        assert_non_null(mkdtemp(dir));
        _cleanup_free_ char *sub = str_printf("%s/a/b", dir);
        if (secrets_dir_is_tmpfs(dir)) /* /tmp is a tmpfs here: nothing to mount */
                skip();
        assert_int_equal(secrets_dir_prepare(sub, &mounted, &err), 0);
        assert_true(mounted);
        assert_true(secrets_dir_is_tmpfs(sub));
        assert_int_equal(stat(sub, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        /* A second start finds the tmpfs. */
        assert_int_equal(secrets_dir_prepare(sub, &mounted, &err), 0);
        assert_false(mounted);
        assert_int_equal(umount2(sub, MNT_DETACH), 0);
        assert_int_equal(test_rm_tree(dir), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_round_trip),
            cmocka_unit_test(test_tampered),
            cmocka_unit_test(test_other_place),
            cmocka_unit_test(test_unknown_key),
            cmocka_unit_test(test_rotation),
            cmocka_unit_test(test_key_file_created),
            cmocka_unit_test(test_key_file_corrupt),
            cmocka_unit_test(test_object_seal),
            cmocka_unit_test(test_object_redact_reveal),
            cmocka_unit_test(test_value_size_limit),
            cmocka_unit_test(test_volume_files),
            cmocka_unit_test(test_dir_prepare),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
