/* The registry of store backends by URL scheme (store.h), and store plugins
 * as backends (plugins/plugin-store.c): registered under their name when
 * loaded, refused when their name is taken or an op is missing, gone once
 * unloaded. The store semantics of a plugin are the conformance suite's
 * (test_store_conformance_memstore). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <limits.h>

#include "plugins.h"
#include "store.h"
#include "test-support.h"

/* ---- a fake backend: one key, "/k" = the URL it was opened with -------- */

struct fake {
        struct store base;
        char *url;
        void *userdata;
};

static int fake_get(struct store *s, const char *key, struct store_kv *ret, struct berth_error *err)
{
        struct fake *f = (struct fake *)s;
        if (!streq(key, "/k"))
                return berth_error_set(err, -ENOENT, "store: get %s: not found", key);
        *ret = (struct store_kv){.key = strdup(key),
                                 .value = strdup(f->url),
                                 .value_len = strlen(f->url),
                                 .create_revision = 1,
                                 .mod_revision = 1,
                                 .version = 1};
        assert_non_null(ret->key);
        assert_non_null(ret->value);
        return 0;
}

static void fake_free(struct store *s)
{
        struct fake *f = (struct fake *)s;
        free(f->url);
        free(f);
}

static const struct store_ops fake_ops = {.name = "fake", .free = fake_free, .get = fake_get};

static int fake_open(const char *url, void *userdata, struct store **ret, struct berth_error *err)
{
        if (str_has_prefix(url, "fake:fail"))
                return berth_error_set(err, -ECONNREFUSED, "fake %s: refused", url);
        struct fake *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        f->base = (struct store){.ops = &fake_ops, .txn_ops_max = 1, .txn_bytes_max = 1};
        f->url = strdup(url);
        f->userdata = userdata;
        *ret = &f->base;
        return 0;
}

static char *schemes(void)
{
        size_t n = store_backend_schemes(NULL, 0);
        char *buf = malloc(n + 1);
        assert_non_null(buf);
        assert_int_equal(store_backend_schemes(buf, n + 1), n);
        return buf;
}

/* ---- the registry ---------------------------------------------------------- */

static void test_builtins(void **state)
{
        (void)state;
        _cleanup_free_ char *known = schemes();
        assert_string_equal(known, "sqlite, etcd, etcds");
        /* Truncated like snprintf, always terminated. */
        char small[5] = "xxxx";
        assert_int_equal(store_backend_schemes(small, sizeof(small)), strlen(known));
        assert_string_equal(small, "sqli");

        /* sqlite: opens through the registry. */
        char dir[] = "/tmp/berth-backends-XXXXXX";
        assert_non_null(mkdtemp(dir));
        _cleanup_free_ char *url = str_printf("sqlite:%s/store.db", dir);
        struct store *s = NULL;
        struct berth_error err = {0};
        assert_int_equal(store_open(url, &s, &err), 0);
        int64_t rev = -1;
        assert_int_equal(store_put(s, "/a", "1", 1, STORE_MUST_NOT_EXIST, 0, &rev, NULL), 0);
        assert_int_equal(rev, 1);
        store_free(s);
        /* etcd: reaches the etcd backend, which refuses a URL without host. */
        s = NULL;
        assert_int_equal(store_open("etcd:nohost", &s, &err), -EINVAL);
        assert_non_null(strstr(err.message, "etcd"));
        assert_null(s);
        test_rm_tree(dir);
}

static void test_register_open(void **state)
{
        (void)state;
        struct berth_error err = {0};
        int token = 0;
        assert_int_equal(store_backend_register("fake", fake_open, &token, &err), 0);
        _cleanup_free_ char *known = schemes();
        assert_string_equal(known, "sqlite, etcd, etcds, fake");

        /* The whole URL and the userdata reach the backend. */
        struct store *s = NULL;
        assert_int_equal(store_open("fake:a/b?c", &s, &err), 0);
        assert_ptr_equal(((struct fake *)s)->userdata, &token);
        struct store_kv kv = {0};
        assert_int_equal(store_get(s, "/k", &kv, &err), 0);
        assert_string_equal(kv.value, "fake:a/b?c");
        store_kv_release(&kv);
        store_free(s);

        /* The backend's own error comes back as it is; *ret untouched. */
        s = (struct store *)&token;
        berth_error_clear(&err);
        assert_int_equal(store_open("fake:fail", &s, &err), -ECONNREFUSED);
        assert_string_equal(err.message, "fake fake:fail: refused");
        assert_ptr_equal(s, (struct store *)&token);

        /* Taken: by a built-in, by another registration. */
        assert_int_equal(store_backend_register("sqlite", fake_open, NULL, &err), -EEXIST);
        assert_non_null(strstr(err.message, "sqlite is taken by a built-in backend"));
        assert_int_equal(store_backend_register("fake", fake_open, NULL, &err), -EEXIST);
        assert_non_null(strstr(err.message, "fake is taken by another backend"));

        assert_int_equal(store_backend_unregister("fake"), 0);
        assert_int_equal(store_backend_unregister("fake"), -ENOENT);
        assert_int_equal(store_backend_unregister(NULL), -ENOENT);
        s = NULL;
        assert_int_equal(store_open("fake:a", &s, &err), -EPROTONOSUPPORT);
        assert_null(s);
        /* Registered again after it was removed: fine. */
        assert_int_equal(store_backend_register("fake", fake_open, NULL, &err), 0);
        assert_int_equal(store_backend_unregister("fake"), 0);
}

static void test_register_invalid(void **state)
{
        (void)state;
        struct berth_error err = {0};
        char long_scheme[STORE_SCHEME_MAX + 2];
        memset(long_scheme, 'a', sizeof(long_scheme) - 1);
        long_scheme[sizeof(long_scheme) - 1] = '\0';
        const char *bad[] = {"", "Fake", "1fake", "fa:ke", "fa ke", "-fake", long_scheme};
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                berth_error_clear(&err);
                assert_int_equal(store_backend_register(bad[i], fake_open, NULL, &err), -EINVAL);
                assert_non_null(strstr(err.message, "not a valid URL scheme"));
        }
        assert_int_equal(store_backend_register(NULL, fake_open, NULL, &err), -EINVAL);
        assert_int_equal(store_backend_register("fake", NULL, NULL, &err), -EINVAL);
        assert_non_null(strstr(err.message, "no open function"));
        /* The longest scheme, and every character a scheme may hold. */
        long_scheme[STORE_SCHEME_MAX] = '\0';
        assert_int_equal(store_backend_register(long_scheme, fake_open, NULL, &err), 0);
        assert_int_equal(store_backend_register("x1+.-", fake_open, NULL, &err), 0);
        assert_int_equal(store_backend_unregister(long_scheme), 0);
        assert_int_equal(store_backend_unregister("x1+.-"), 0);
        _cleanup_free_ char *known = schemes();
        assert_string_equal(known, "sqlite, etcd, etcds");
}

static void test_registry_full(void **state)
{
        (void)state;
        struct berth_error err = {0};
        char name[32];
        size_t added = 0;
        for (;; added++) {
                snprintf(name, sizeof(name), "full%zu", added);
                int r = store_backend_register(name, fake_open, NULL, &err);
                if (r < 0) {
                        assert_int_equal(r, -ENOSPC);
                        assert_non_null(strstr(err.message, "more than"));
                        break;
                }
        }
        assert_int_equal(added, STORE_BACKENDS_MAX - 3); /* the built-ins take 3 */
        for (size_t i = 0; i < added; i++) {
                snprintf(name, sizeof(name), "full%zu", i);
                assert_int_equal(store_backend_unregister(name), 0);
        }
        assert_int_equal(store_backend_register("again", fake_open, NULL, &err), 0);
        assert_int_equal(store_backend_unregister("again"), 0);
}

static void test_open_unknown(void **state)
{
        (void)state;
        struct berth_error err = {0};
        struct store *s = NULL;
        assert_int_equal(store_open("redis://localhost:6379", &s, &err), -EPROTONOSUPPORT);
        assert_string_equal(err.message, "store redis://localhost:6379: unknown scheme \"redis\" "
                                         "(known schemes: sqlite, etcd, etcds)");
        assert_int_equal(store_open("/var/lib/berth.db", &s, &err), -EPROTONOSUPPORT);
        assert_non_null(strstr(err.message, "no URL scheme"));
        assert_int_equal(store_open(":x", &s, &err), -EPROTONOSUPPORT);
        assert_non_null(strstr(err.message, "no URL scheme"));
        /* A prefix of a scheme is not the scheme. */
        assert_int_equal(store_open("sql:x", &s, &err), -EPROTONOSUPPORT);
        assert_int_equal(store_open("sqlitex:x", &s, &err), -EPROTONOSUPPORT);
        assert_int_equal(store_open(NULL, &s, &err), -EINVAL);
        assert_null(s);
}

/* ---- store plugins ---------------------------------------------------------- */

struct refusals {
        char lines[4][512];
        size_t n;
};

static void refused(const char *path, const char *why, void *userdata)
{
        struct refusals *r = userdata;
        assert_true(r->n < ARRAY_SIZE(r->lines));
        snprintf(r->lines[r->n++], sizeof(r->lines[0]), "%s: %s", strrchr(path, '/') + 1, why);
}

static void test_plugin_registers(void **state)
{
        (void)state;
        struct refusals ref = {0};
        struct plugins *p = NULL;
        struct berth_error err = {0};
        assert_int_equal(plugins_load(STORE_PLUGINS, refused, NULL, &ref, &p, &err), 0);
        assert_int_equal(ref.n, 0);
        assert_int_equal(plugins_count(p), 2);
        _cleanup_free_ char *known = schemes();
        assert_string_equal(known, "sqlite, etcd, etcds, memstore-nopage, memstore");

        /* The plugin's refusal, worded by berthd with the plugin's reason. */
        struct store *s = NULL;
        assert_int_equal(store_open("memstore:/data", &s, &err), -EINVAL);
        assert_string_equal(err.message,
                            "store plugin memstore refused memstore:/data: memstore takes no "
                            "location: use \"memstore:\", not memstore:/data");
        assert_null(s);

        /* Open, a write and its conflict, worded as the built-ins word them. */
        assert_int_equal(store_open("memstore:", &s, &err), 0);
        int64_t rev = 0;
        assert_int_equal(store_put(s, "/a", "1", 1, STORE_MUST_NOT_EXIST, 0, &rev, &err), 0);
        assert_int_equal(rev, 1);
        berth_error_clear(&err);
        assert_int_equal(store_put(s, "/a", "2", 1, STORE_MUST_NOT_EXIST, 0, NULL, &err), -ESTALE);
        assert_string_equal(err.message, "store: put /a: conflict: key already exists (mod "
                                         "revision 1, expected none)");
        assert_int_equal(store_lease_keepalive(s, 77, &err), -ENOENT);
        assert_string_equal(err.message, "store: lease 77 not found (expired or revoked)");
        assert_int_equal(store_compact(s, 5, &err), -EINVAL);
        assert_string_equal(err.message, "store memstore: compact at 5: future revision");
        store_free(s);

        /* Unloaded: the scheme is gone. */
        plugins_free(p);
        s = NULL;
        assert_int_equal(store_open("memstore:", &s, &err), -EPROTONOSUPPORT);
        _cleanup_free_ char *after = schemes();
        assert_string_equal(after, "sqlite, etcd, etcds");
}

static void test_plugin_refused(void **state)
{
        (void)state;
        struct refusals ref = {0};
        struct plugins *p = NULL;
        struct berth_error err = {0};
        assert_int_equal(plugins_load(STORE_PLUGINS_BAD, refused, NULL, &ref, &p, &err), 0);
        assert_int_equal(plugins_count(p), 0);
        assert_int_equal(ref.n, 2);
        /* name order */
        assert_string_equal(ref.lines[0], "nowatch.so: store plugin without watch");
        assert_string_equal(ref.lines[1],
                            "sqlite.so: store scheme sqlite is taken by a built-in backend");
        plugins_free(p);
        _cleanup_free_ char *known = schemes();
        assert_string_equal(known, "sqlite, etcd, etcds");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_builtins),         cmocka_unit_test(test_register_open),
            cmocka_unit_test(test_register_invalid), cmocka_unit_test(test_registry_full),
            cmocka_unit_test(test_open_unknown),     cmocka_unit_test(test_plugin_registers),
            cmocka_unit_test(test_plugin_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
