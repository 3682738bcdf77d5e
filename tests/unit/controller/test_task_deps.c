/* Unit tests for the index of Tasks' dependsOn (controller/task-deps.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "controller-internal.h"

static int str_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The dependents of ns/name, sorted and joined with ",". */
static char *dependents(struct task_deps *d, const char *ns, const char *name)
{
        _cleanup_strv_ char **v = NULL;
        struct buf b;
        int n = task_deps_dependents(d, ns, name, &v);

        assert_true(n >= 0);
        assert_non_null(v);
        assert_null(v[n]);
        qsort(v, (size_t)n, sizeof(*v), str_cmp);
        buf_init(&b, 1 << 20);
        for (int i = 0; i < n; i++) {
                if (i > 0)
                        buf_append_str(&b, ",");
                buf_append_str(&b, v[i]);
        }
        buf_append(&b, "", 1);
        char *s = buf_steal(&b);
        buf_release(&b);
        return s;
}

static void expect(struct task_deps *d, const char *ns, const char *name, const char *want)
{
        _cleanup_free_ char *got = dependents(d, ns, name);
        assert_string_equal(got, want);
}

static void set(struct task_deps *d, const char *ns, const char *name, const char *deps_json)
{
        _cleanup_json_ json_t *deps = deps_json ? json_loads(deps_json, 0, NULL) : NULL;
        if (deps_json)
                assert_non_null(deps);
        assert_int_equal(task_deps_set(d, ns, name, deps), 0);
}

static void test_free_null(void **state)
{
        (void)state;
        task_deps_free(NULL);
}

static void test_empty(void **state)
{
        (void)state;
        struct task_deps *d = task_deps_new();
        assert_non_null(d);
        expect(d, "default", "a", "");
        set(d, "default", "a", NULL);
        set(d, "default", "b", "[]");
        expect(d, "default", "a", "");
        task_deps_free(d);
}

static void test_fan_in_and_out(void **state)
{
        (void)state;
        struct task_deps *d = task_deps_new();
        set(d, "default", "load", "[\"extract\", \"transform\"]");
        set(d, "default", "transform", "[\"extract\"]");
        set(d, "default", "report", "[\"load\"]");
        expect(d, "default", "extract", "load,transform");
        expect(d, "default", "transform", "load");
        expect(d, "default", "load", "report");
        expect(d, "default", "report", "");
        /* Namespaces are apart: the same names elsewhere wait for nothing. */
        expect(d, "other", "extract", "");
        set(d, "other", "x", "[\"extract\"]");
        expect(d, "other", "extract", "x");
        expect(d, "default", "extract", "load,transform");
        task_deps_free(d);
}

static void test_change_and_delete(void **state)
{
        (void)state;
        struct task_deps *d = task_deps_new();
        set(d, "ns", "b", "[\"a\"]");
        set(d, "ns", "c", "[\"a\"]");
        expect(d, "ns", "a", "b,c");
        /* A status write: the same dependsOn changes nothing. */
        set(d, "ns", "b", "[\"a\"]");
        expect(d, "ns", "a", "b,c");
        /* b now waits for z instead of a. */
        set(d, "ns", "b", "[\"z\"]");
        expect(d, "ns", "a", "c");
        expect(d, "ns", "z", "b");
        /* c deleted; non-strings are skipped. */
        set(d, "ns", "c", NULL);
        expect(d, "ns", "a", "");
        set(d, "ns", "b", "[1, \"a\", null]");
        expect(d, "ns", "a", "b");
        expect(d, "ns", "z", "");
        set(d, "ns", "b", "[]");
        expect(d, "ns", "a", "");
        task_deps_free(d);
}

/* Many dependents of one Task: each found once, whatever the order they came in. */
static void test_many(void **state)
{
        (void)state;
        struct task_deps *d = task_deps_new();
        char name[32];
        for (int i = 0; i < 2000; i++) {
                snprintf(name, sizeof(name), "t-%d", i);
                set(d, "bench", name, "[\"root\", \"root\"]");
        }
        _cleanup_strv_ char **v = NULL;
        assert_int_equal(task_deps_dependents(d, "bench", "root", &v), 2000);
        for (int i = 0; i < 2000; i += 2) {
                snprintf(name, sizeof(name), "t-%d", i);
                set(d, "bench", name, NULL);
        }
        strv_free(v);
        v = NULL;
        assert_int_equal(task_deps_dependents(d, "bench", "root", &v), 1000);
        for (char **p = v; *p; p++)
                assert_int_equal(atoi(*p + 2) % 2, 1);
        task_deps_free(d);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_free_null),      cmocka_unit_test(test_empty),
            cmocka_unit_test(test_fan_in_and_out), cmocka_unit_test(test_change_and_delete),
            cmocka_unit_test(test_many),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
