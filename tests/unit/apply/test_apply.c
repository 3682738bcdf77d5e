/* Unit tests of apply_object() on a real SQLite store in a temporary
 * directory: created, configured and unchanged (defaults filled on both
 * sides, empty labels equal to none), server fields kept and generation
 * moved only by spec changes, dry runs that write nothing, an ignored
 * annotation, and an ownership check that refuses; apply_batch() with the
 * same results in few transactions, an object named twice, a lookup that is
 * behind the store (its compares fail, the batch reads again), a dry run and
 * a check that refuses. */
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

/* ---- apply_batch ------------------------------------------------------- */

/* Task name with image and (optional) labels. */
static json_t *named(const char *name, const char *image)
{
        json_t *o = task(image, NULL);
        json_object_set_new(json_object_get(o, "metadata"), "name", json_string(name));
        return o;
}

static json_t *stored_named(const char *name, int64_t *ret_rev)
{
        struct store_kv kv = {0};
        struct berth_error err = {0};
        json_t *o = NULL;
        char key[128];

        snprintf(key, sizeof(key), PREFIX "tasks/default/%s", name);
        if (store_get(store, key, &kv, &err) == -ENOENT)
                return NULL;
        assert_int_equal(object_load(&kv, &o, &err), 0);
        if (ret_rev)
                *ret_rev = kv.mod_revision;
        store_kv_release(&kv);
        return o;
}

#define BATCH_N 10

struct batch {
        json_t *objs[BATCH_N + 2];
        struct apply_item items[BATCH_N + 2];
        size_t n;
};

static void batch_add(struct batch *b, json_t *obj)
{
        b->objs[b->n] = obj;
        b->items[b->n] = (struct apply_item){.kind = kind_lookup("Task"), .obj = obj};
        b->n++;
}

static void batch_release(struct batch *b)
{
        for (size_t i = 0; i < b->n; i++)
                json_decref(b->objs[i]);
        b->n = 0;
}

/* n Tasks b0..b<n-1> with image prefix:i. */
static void batch_make(struct batch *b, size_t n, const char *image)
{
        char name[32], img[48];
        *b = (struct batch){0};
        for (size_t i = 0; i < n; i++) {
                snprintf(name, sizeof(name), "b%zu", i);
                snprintf(img, sizeof(img), "%s:%zu", image, i);
                batch_add(b, named(name, img));
        }
}

static int64_t store_rev(void)
{
        int64_t rev = 0;
        assert_int_equal(store_revision(store, &rev, NULL), 0);
        return rev;
}

static int run_batch(struct batch *b, const struct apply_opts *opts, size_t *done,
                     struct berth_error *err)
{
        static const struct apply_opts none = {0};
        return apply_batch(store, PREFIX, b->items, b->n, opts ? opts : &none, done, err);
}

static void test_batch_results(void **state)
{
        (void)state;
        struct batch b;
        struct berth_error err = {0};
        size_t done = 99;
        const struct apply_opts dry = {.dry_run = true};

        batch_make(&b, BATCH_N, "img");
        int64_t before = store_rev();
        assert_int_equal(run_batch(&b, &dry, &done, &err), 0);
        assert_int_equal(done, BATCH_N);
        for (size_t i = 0; i < BATCH_N; i++) {
                assert_int_equal(b.items[i].result, APPLY_CREATED);
                assert_int_equal(b.items[i].rev, 0);
        }
        assert_int_equal(store_rev(), before); /* a dry run writes nothing */

        assert_int_equal(run_batch(&b, NULL, &done, &err), 0);
        /* One SQLite transaction, one revision per object, in order. */
        for (size_t i = 0; i < BATCH_N; i++) {
                assert_int_equal(b.items[i].result, APPLY_CREATED);
                assert_int_equal(b.items[i].rev, before + 1 + (int64_t)i);
                char name[32];
                snprintf(name, sizeof(name), "b%zu", i);
                json_t *o = stored_named(name, NULL);
                assert_non_null(o);
                assert_non_null(json_path_string(o, "metadata.uid"));
                assert_int_equal(json_path_int(o, "metadata.generation", 0), 1);
                json_decref(o);
        }
        batch_release(&b);

        /* Again: unchanged, nothing written; one changed: configured. */
        batch_make(&b, BATCH_N, "img");
        json_object_set_new(json_object_get(b.objs[3], "spec"), "image", json_string("new:1"));
        int64_t mid = store_rev();
        assert_int_equal(run_batch(&b, NULL, &done, &err), 0);
        for (size_t i = 0; i < BATCH_N; i++) {
                assert_int_equal(b.items[i].result, i == 3 ? APPLY_CONFIGURED : APPLY_UNCHANGED);
                assert_int_equal(b.items[i].rev, i == 3 ? mid + 1 : 0);
        }
        assert_int_equal(store_rev(), mid + 1);
        json_t *o = stored_named("b3", NULL);
        assert_string_equal(json_path_string(o, "spec.image"), "new:1");
        assert_int_equal(json_path_int(o, "metadata.generation", 0), 2);
        json_decref(o);
        batch_release(&b);

        /* An object named twice: the second sees the first written. */
        b = (struct batch){0};
        batch_add(&b, named("twice", "a:1"));
        batch_add(&b, named("other", "a:1"));
        batch_add(&b, named("twice", "a:2"));
        batch_add(&b, named("twice", "a:2"));
        assert_int_equal(run_batch(&b, NULL, &done, &err), 0);
        assert_int_equal(b.items[0].result, APPLY_CREATED);
        assert_int_equal(b.items[1].result, APPLY_CREATED);
        assert_int_equal(b.items[2].result, APPLY_CONFIGURED);
        assert_int_equal(b.items[3].result, APPLY_UNCHANGED);
        o = stored_named("twice", NULL);
        assert_string_equal(json_path_string(o, "spec.image"), "a:2");
        json_decref(o);
        batch_release(&b);
}

/* A lookup that answers from an old snapshot: what a lagging cache does. */
struct snapshot {
        json_t *objs[BATCH_N];
        int64_t revs[BATCH_N];
        int calls;
};

static json_t *snapshot_lookup(const char *key, int64_t *ret_rev, void *userdata)
{
        struct snapshot *s = userdata;
        const char *name = strrchr(key, '/') + 1;
        s->calls++;
        if (name[0] != 'b')
                return NULL;
        size_t i = (size_t)atoi(name + 1);
        if (i >= BATCH_N || !s->objs[i])
                return NULL;
        *ret_rev = s->revs[i];
        return json_incref(s->objs[i]);
}

static void test_batch_lookup_behind(void **state)
{
        (void)state;
        struct batch b;
        struct berth_error err = {0};
        size_t done = 0;
        struct snapshot snap = {0};
        const struct apply_opts opts = {.lookup = snapshot_lookup, .lookup_userdata = &snap};

        /* An empty snapshot: creates, the store agrees. */
        batch_make(&b, BATCH_N, "img");
        assert_int_equal(run_batch(&b, &opts, &done, &err), 0);
        assert_int_equal(snap.calls, BATCH_N);
        for (size_t i = 0; i < BATCH_N; i++) {
                char name[32];
                snprintf(name, sizeof(name), "b%zu", i);
                snap.objs[i] = stored_named(name, &snap.revs[i]);
                assert_int_equal(b.items[i].result, APPLY_CREATED);
        }
        batch_release(&b);

        /* Someone changes b5 behind the snapshot's back. Applying the same
         * objects: b5's check fails, the batch is read from the store again,
         * and b5 is configured back, the others unchanged. */
        json_t *b5 = named("b5", "someone:else");
        enum apply_result res;
        int64_t rev;
        assert_int_equal(apply_object(store, PREFIX, kind_lookup("Task"), b5,
                                      &(struct apply_opts){0}, &res, &rev, &err),
                         0);
        json_decref(b5);
        assert_int_equal(res, APPLY_CONFIGURED);
        batch_make(&b, BATCH_N, "img");
        assert_int_equal(run_batch(&b, &opts, &done, &err), 0);
        for (size_t i = 0; i < BATCH_N; i++)
                assert_int_equal(b.items[i].result, i == 5 ? APPLY_CONFIGURED : APPLY_UNCHANGED);
        json_t *o = stored_named("b5", NULL);
        assert_string_equal(json_path_string(o, "spec.image"), "img:5");
        json_decref(o);
        batch_release(&b);

        /* The snapshot says b2 is absent, but it exists: the create's compare
         * fails, and reading again makes it unchanged (not a second uid). */
        json_decref(snap.objs[2]);
        snap.objs[2] = NULL;
        o = stored_named("b2", NULL);
        char uid[64];
        snprintf(uid, sizeof(uid), "%s", json_path_string(o, "metadata.uid"));
        json_decref(o);
        batch_make(&b, BATCH_N, "img");
        assert_int_equal(run_batch(&b, &opts, &done, &err), 0);
        assert_int_equal(b.items[2].result, APPLY_UNCHANGED);
        o = stored_named("b2", NULL);
        assert_string_equal(json_path_string(o, "metadata.uid"), uid);
        json_decref(o);
        batch_release(&b);
        for (size_t i = 0; i < BATCH_N; i++)
                json_decref(snap.objs[i]);
}

/* More objects than one SQLite transaction takes (4,096): several chunks,
 * committed by several threads; every object once, each with its own
 * revision, and a second pass all unchanged. */
static void test_batch_chunks(void **state)
{
        (void)state;
        enum { N = 5000 };
        json_t **objs = calloc(N, sizeof(*objs));
        struct apply_item *items = calloc(N, sizeof(*items));
        struct berth_error err = {0};
        size_t done = 0;
        static const struct apply_opts none = {0};

        assert_non_null(objs);
        assert_non_null(items);
        for (size_t i = 0; i < N; i++) {
                char name[32];
                snprintf(name, sizeof(name), "c%05zu", i);
                objs[i] = named(name, "img:1");
                items[i] = (struct apply_item){.kind = kind_lookup("Task"), .obj = objs[i]};
        }
        int64_t before = store_rev();
        assert_int_equal(apply_batch(store, PREFIX, items, N, &none, &done, &err), 0);
        assert_int_equal(done, N);
        assert_int_equal(store_rev(), before + N);
        bool *seen = calloc(N + 1, sizeof(*seen));
        assert_non_null(seen);
        for (size_t i = 0; i < N; i++) {
                assert_int_equal(items[i].result, APPLY_CREATED);
                assert_true(items[i].rev > before && items[i].rev <= before + N);
                assert_false(seen[items[i].rev - before]); /* a revision each */
                seen[items[i].rev - before] = true;
        }
        free(seen);
        struct store_kvs kvs = {0};
        assert_int_equal(store_list(store, PREFIX "tasks/default/c", 0, &kvs, &err), 0);
        assert_int_equal(kvs.n, N);
        store_kvs_release(&kvs);
        assert_int_equal(apply_batch(store, PREFIX, items, N, &none, &done, &err), 0);
        for (size_t i = 0; i < N; i++)
                assert_int_equal(items[i].result, APPLY_UNCHANGED);
        assert_int_equal(store_rev(), before + N);
        for (size_t i = 0; i < N; i++)
                json_decref(objs[i]);
        free(objs);
        free(items);
}

static int refuse_name(const json_t *current, void *userdata, struct berth_error *err)
{
        (void)userdata;
        if (current && streq(json_path_string(current, "spec.image"), "mine:1"))
                return berth_error_set(err, -EEXIST, "b4 belongs to someone else");
        return 0;
}

/* A check that refuses an object in the middle: nothing of the batch is
 * written, err says why, *ret_done is where it stopped. */
static void test_batch_check_refuses(void **state)
{
        (void)state;
        struct batch b;
        struct berth_error err = {0};
        size_t done = 99;
        json_t *b4 = named("b4", "mine:1");
        enum apply_result res;
        int64_t rev;
        assert_int_equal(apply_object(store, PREFIX, kind_lookup("Task"), b4,
                                      &(struct apply_opts){0}, &res, &rev, &err),
                         0);
        json_decref(b4);
        int64_t before = store_rev();
        const struct apply_opts opts = {.check = refuse_name};
        batch_make(&b, BATCH_N, "img");
        assert_int_equal(run_batch(&b, &opts, &done, &err), -EEXIST);
        assert_string_equal(err.message, "b4 belongs to someone else");
        assert_int_equal(done, 0);
        assert_int_equal(store_rev(), before);
        assert_null(stored_named("b0", NULL));
        batch_release(&b);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_created_configured_unchanged, setup, teardown),
            cmocka_unit_test_setup_teardown(test_ignored_annotation, setup, teardown),
            cmocka_unit_test_setup_teardown(test_check_refuses, setup, teardown),
            cmocka_unit_test_setup_teardown(test_batch_results, setup, teardown),
            cmocka_unit_test_setup_teardown(test_batch_lookup_behind, setup, teardown),
            cmocka_unit_test_setup_teardown(test_batch_check_refuses, setup, teardown),
            cmocka_unit_test_setup_teardown(test_batch_chunks, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
