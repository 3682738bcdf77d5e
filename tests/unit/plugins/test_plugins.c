/* Unit tests of the plugin loader: ABI checks, refusals (one per plugin,
 * loading goes on), the notifier adapter through the plugin's thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "plugins.h"

struct refusals {
        char lines[16][600];
        size_t n;
};

static void on_refused(const char *path, const char *why, void *userdata)
{
        struct refusals *r = userdata;
        const char *base = strrchr(path, '/');

        if (r->n < 16)
                snprintf(r->lines[r->n++], sizeof(r->lines[0]), "%s: %s", base ? base + 1 : path,
                         why);
}

static const char *refusal_of(const struct refusals *r, const char *file)
{
        for (size_t i = 0; i < r->n; i++)
                if (strncmp(r->lines[i], file, strlen(file)) == 0)
                        return r->lines[i] + strlen(file) + 2;
        return NULL;
}

static void test_load_refusals(void **state)
{
        (void)state;
        struct refusals r = {0};
        struct plugins *p = NULL;
        struct berth_error err = {0};

        assert_int_equal(plugins_load(FAKE_DIR, on_refused, NULL, &r, &p, &err), 0);
        /* Only a-good is kept; f-duplicate repeats its name. */
        assert_int_equal(plugins_count(p), 1);
        assert_string_equal(plugins_name(p, 0), "good");
        assert_int_equal(r.n, 7);
        assert_string_equal(refusal_of(&r, "b-abi-major.so"), "ABI 2.0, berthd speaks 1.x");
        assert_string_equal(refusal_of(&r, "c-abi-minor.so"), "ABI 1.99, berthd speaks 1.0 to 1.1");
        assert_string_equal(refusal_of(&r, "d-init-fails.so"), "init failed (-1)");
        assert_string_equal(refusal_of(&r, "e-no-symbol.so"), "no symbol berth_plugin_descriptor");
        assert_non_null(strstr(refusal_of(&r, "f-duplicate.so"), "name good is taken by"));
        assert_string_equal(refusal_of(&r, "g-executor.so"),
                            "executor plugins are not supported yet");
        assert_non_null(strstr(refusal_of(&r, "h-bad-name.so"), "not a DNS-1123 label"));

        size_t n = 0;
        const struct notify_type *types = plugins_notify_types(p, &n);
        assert_int_equal(n, 1);
        assert_string_equal(types[0].name, "good");
        const char *const *names = plugins_notifier_names(p);
        assert_string_equal(names[0], "good");
        assert_null(names[1]);

        /* A delivery goes through the plugin's thread and comes back. */
        struct notifier_spec spec = {.timeout_ms = 5000};
        struct notify_delivery d = {.notifier_ns = "default",
                                    .notifier_name = "n",
                                    .spec = &spec,
                                    .outcome = "Failed",
                                    .body = "{}",
                                    .body_len = 2};
        struct notify_result res = {0};
        assert_int_equal(types[0].deliver(&d, &res, types[0].userdata), 0);
        d.outcome = "Succeeded";
        memset(&res, 0, sizeof(res));
        assert_true(types[0].deliver(&d, &res, types[0].userdata) < 0);
        assert_true(res.retry);
        assert_non_null(strstr(res.error, "only Failed"));
        plugins_free(p);
}

static void test_no_dir_and_missing_dir(void **state)
{
        (void)state;
        struct plugins *p = NULL;
        struct berth_error err = {0};

        assert_int_equal(plugins_load(NULL, NULL, NULL, NULL, &p, &err), 0);
        assert_int_equal(plugins_count(p), 0);
        size_t n = 1;
        assert_null(plugins_notify_types(p, &n));
        assert_int_equal(n, 0);
        plugins_free(p);
        p = NULL;
        assert_int_equal(plugins_load("/nonexistent/berth-plugins", NULL, NULL, NULL, &p, &err),
                         -ENOENT);
        assert_null(p);
        assert_non_null(strstr(err.message, "/nonexistent/berth-plugins"));
        plugins_free(NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_load_refusals),
            cmocka_unit_test(test_no_dir_and_missing_dir),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
