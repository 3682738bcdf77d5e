/* Unit tests of apply_object() on a real SQLite store in a temporary
 * directory: created, configured and unchanged (defaults filled on both
 * sides, empty labels equal to none), server fields kept and generation
 * moved only by spec changes, dry runs that write nothing, an ignored
 * annotation, and an ownership check that refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "apply.h"

#define PREFIX "/t/"

static char dir[] = "/tmp/berth-apply-test.XXXXXX";
static struct store *store;

static int setup(void **state)
{
        char url[128];
        struct berth_error err = {0};

        (void)state;
        strcpy(dir, "/tmp/berth-apply-test.XXXXXX");
        assert_non_null(mkdtemp(dir));
        snprintf(url, sizeof(url), "sqlite:%s/store.db", dir);
        if (store_open(url, &store, &err) < 0)
                fail_msg("store_open: %s", err.message);
        return 0;
}

static int teardown(void **state)
{
        char cmd[256];

        (void)state;
        store_free(store);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
        return 0;
}

/* A validated Task with its defaults, as the API hands it over. */
static json_t *task(const char *image, const char *labels_json)
{
        char text[512];
        json_error_t jerr;

        snprintf(text, sizeof(text),
                 "{\"apiVersion\":\"berth/v1\",\"kind\":\"Task\",\"metadata\":{\"name\":\"t\","
                 "\"namespace\":\"default\"%s%s},\"spec\":{\"image\":\"%s\"}}",
                 labels_json ? ",\"labels\":" : "", labels_json ? labels_json : "", image);
        json_t *o = json_loads(text, 0, &jerr);
        assert_non_null(o);
        manifest_apply_defaults(o);
        return o;
}

static json_t *stored(void)
{
        struct store_kv kv = {0};
        struct berth_error err = {0};
        json_t *o = NULL;

        assert_int_equal(store_get(store, PREFIX "tasks/default/t", &kv, &err), 0);
        assert_int_equal(object_load(&kv, &o, &err), 0);
        store_kv_release(&kv);
        return o;
}

static enum apply_result apply(json_t *obj, const struct apply_opts *opts, int64_t *rev)
{
        static const struct apply_opts none = {0};
        enum apply_result res;
        struct berth_error err = {0};
        int64_t r = 0;

        if (apply_object(store, PREFIX, kind_lookup("Task"), obj, opts ? opts : &none, &res, &r,
                         &err) < 0)
                fail_msg("apply: %s", err.message);
        if (rev)
                *rev = r;
        json_decref(obj);
        return res;
}

static void test_created_configured_unchanged(void **state)
{
        (void)state;
        int64_t rev;
        const struct apply_opts dry = {.dry_run = true};

        assert_int_equal(apply(task("a:1", NULL), &dry, &rev), APPLY_CREATED);
        assert_int_equal(rev, 0);
        assert_int_equal(apply(task("a:1", NULL), NULL, &rev), APPLY_CREATED);
        assert_true(rev > 0);
        json_t *o = stored();
        const char *uid = json_path_string(o, "metadata.uid");
        assert_non_null(uid);
        char uid_copy[64];
        snprintf(uid_copy, sizeof(uid_copy), "%s", uid);
        assert_int_equal(json_path_int(o, "metadata.generation", 0), 1);
        json_decref(o);

        /* empty labels are no labels; defaults are filled on both sides */
        assert_int_equal(apply(task("a:1", "{}"), NULL, &rev), APPLY_UNCHANGED);
        assert_int_equal(rev, 0);

        assert_int_equal(apply(task("a:2", NULL), &dry, NULL), APPLY_CONFIGURED);
        assert_int_equal(apply(task("a:2", NULL), NULL, &rev), APPLY_CONFIGURED);
        o = stored();
        assert_string_equal(json_path_string(o, "metadata.uid"), uid_copy);
        assert_int_equal(json_path_int(o, "metadata.generation", 0), 2);
        assert_string_equal(json_path_string(o, "spec.image"), "a:2");
        json_decref(o);

        /* a label change is configured, but no new generation */
        assert_int_equal(apply(task("a:2", "{\"x\":\"y\"}"), NULL, NULL), APPLY_CONFIGURED);
        o = stored();
        assert_int_equal(json_path_int(o, "metadata.generation", 0), 2);
        json_decref(o);
}

static json_t *annotated(const char *image, const char *revision)
{
        json_t *o = task(image, NULL);
        json_object_set_new(json_object_get(o, "metadata"), "annotations",
                            json_pack("{s:s, s:s}", "berth/source-revision", revision,
                                      "berth/source", "default/s"));
        return o;
}

static void test_ignored_annotation(void **state)
{
        (void)state;
        const struct apply_opts opts = {.ignore_annotation = "berth/source-revision"};

        assert_int_equal(apply(annotated("a:1", "r1"), &opts, NULL), APPLY_CREATED);
        /* a new revision alone does not rewrite the object */
        assert_int_equal(apply(annotated("a:1", "r2"), &opts, NULL), APPLY_UNCHANGED);
        json_t *o = stored();
        assert_string_equal(json_path_string(o, "metadata.annotations.berth/source-revision"),
                            "r1");
        json_decref(o);
        /* with a real change, the new revision is written too */
        assert_int_equal(apply(annotated("a:2", "r3"), &opts, NULL), APPLY_CONFIGURED);
        o = stored();
        assert_string_equal(json_path_string(o, "metadata.annotations.berth/source-revision"),
                            "r3");
        json_decref(o);
}

static int refuse_foreign(const json_t *current, void *userdata, struct berth_error *err)
{
        int *calls = userdata;

        (*calls)++;
        if (current && !json_path(current, "metadata.annotations"))
                return berth_error_set(err, -EEXIST, "exists and was not made by this source");
        return 0;
}

static void test_check_refuses(void **state)
{
        (void)state;
        int calls = 0;
        const struct apply_opts opts = {.check = refuse_foreign, .check_userdata = &calls};
        enum apply_result res;
        struct berth_error err = {0};
        int64_t rev;

        assert_int_equal(apply(task("a:1", NULL), NULL, NULL), APPLY_CREATED);
        json_t *o = task("a:9", NULL);
        assert_int_equal(
            apply_object(store, PREFIX, kind_lookup("Task"), o, &opts, &res, &rev, &err), -EEXIST);
        assert_string_equal(err.message, "exists and was not made by this source");
        assert_int_equal(calls, 1);
        json_decref(o);
        o = stored();
        assert_string_equal(json_path_string(o, "spec.image"), "a:1"); /* untouched */
        json_decref(o);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_created_configured_unchanged, setup, teardown),
            cmocka_unit_test_setup_teardown(test_ignored_annotation, setup, teardown),
            cmocka_unit_test_setup_teardown(test_check_refuses, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
