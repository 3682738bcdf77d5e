/* Unit tests for the images an engine was seen to hold (image-memory.h):
 * names as written, forgetting, the oldest dropped past the bound, NULL
 * safety, and concurrent use from threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "image-memory.h"

static void test_add_has_forget(void **state)
{
        (void)state;
        struct image_memory *m = image_memory_new();
        assert_non_null(m);

        assert_false(image_memory_has(m, "busybox:latest"));
        image_memory_add(m, "busybox:latest");
        image_memory_add(m, "busybox:latest"); /* once */
        assert_true(image_memory_has(m, "busybox:latest"));
        /* As written: another spelling is another entry. */
        assert_false(image_memory_has(m, "busybox"));

        image_memory_forget(m, "busybox:latest");
        assert_false(image_memory_has(m, "busybox:latest"));
        image_memory_forget(m, "never-added"); /* no-op */
        image_memory_add(m, "busybox:latest");
        assert_true(image_memory_has(m, "busybox:latest"));
        image_memory_free(m);
}

static void test_bounded_oldest_dropped(void **state)
{
        (void)state;
        struct image_memory *m = image_memory_new();
        char name[32];

        for (int i = 0; i <= IMAGE_MEMORY_MAX; i++) {
                snprintf(name, sizeof(name), "img-%d:1", i);
                image_memory_add(m, name);
        }
        assert_false(image_memory_has(m, "img-0:1")); /* the oldest went */
        for (int i = 1; i <= IMAGE_MEMORY_MAX; i++) {
                snprintf(name, sizeof(name), "img-%d:1", i);
                assert_true(image_memory_has(m, name));
        }
        image_memory_free(m);
}

static void test_null_and_empty(void **state)
{
        (void)state;
        /* A bare docker client has no memory: every call is a no-op. */
        assert_false(image_memory_has(NULL, "busybox:latest"));
        image_memory_add(NULL, "busybox:latest");
        image_memory_forget(NULL, "busybox:latest");
        image_memory_free(NULL);

        struct image_memory *m = image_memory_new();
        image_memory_add(m, "");
        image_memory_add(m, NULL);
        assert_false(image_memory_has(m, ""));
        assert_false(image_memory_has(m, NULL));
        image_memory_forget(m, NULL);
        image_memory_free(m);
}

#define THREADS 4
#define ROUNDS  2000

static void *churn(void *arg)
{
        struct image_memory *m = arg;
        char name[32];

        for (int i = 0; i < ROUNDS; i++) {
                snprintf(name, sizeof(name), "img-%d:1", i % 300);
                image_memory_add(m, name);
                (void)image_memory_has(m, name);
                if (i % 7 == 0)
                        image_memory_forget(m, name);
        }
        return NULL;
}

static void test_threads(void **state)
{
        (void)state;
        struct image_memory *m = image_memory_new();
        pthread_t th[THREADS];

        image_memory_add(m, "kept:1");
        for (int i = 0; i < THREADS; i++)
                assert_int_equal(pthread_create(&th[i], NULL, churn, m), 0);
        for (int i = 0; i < THREADS; i++)
                pthread_join(th[i], NULL);
        /* Whatever survived is consistent: a name just added is found. */
        image_memory_add(m, "last:1");
        assert_true(image_memory_has(m, "last:1"));
        image_memory_free(m); /* ASan: nothing leaked, nothing freed twice */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_add_has_forget),
            cmocka_unit_test(test_bounded_oldest_dropped),
            cmocka_unit_test(test_null_and_empty),
            cmocka_unit_test(test_threads),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
