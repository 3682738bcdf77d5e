/* Unit tests of the Task executors' selection and of what the pure planner
 * does for an executor that needs no image. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "reconciler-internal.h"

#define T0 1767225600000LL

static void test_executor_for(void **state)
{
        (void)state;
        assert_string_equal(task_executor_for(NULL)->name, TASK_EXECUTOR_DOCKER);
        assert_true(task_executor_for(NULL)->uses_image);
        assert_ptr_equal(task_executor_for("docker"), task_executor_for(NULL));
        const struct task_executor *x = task_executor_for("docker-exec");
        assert_string_equal(x->name, TASK_EXECUTOR_DOCKER_EXEC);
        assert_false(x->uses_image);
        assert_non_null(x->create);
        assert_non_null(x->kill);
        /* A type this berthd lacks still gets a vtable: its create fails. */
        const struct task_executor *none = task_executor_for("my-plugin");
        assert_non_null(none);
        assert_non_null(none->create);
        assert_ptr_not_equal(none, x);
}

static struct task_plan_input exec_input(void)
{
        return (struct task_plan_input){
            .uid = "0123456789abcdef0123456789abcdef",
            .generation = 1,
            .has_finalizer = true,
            .spec = {.executor = TASK_EXECUTOR_DOCKER_EXEC,
                     .pull_policy = PULL_ALWAYS,
                     .backoff_limit = 6,
                     .ttl_after_finished_ms = -1},
            .status = {.phase = TASK_PHASE_PENDING},
            .no_image = true,
            .image_unknown = true,
            .now_ms = T0,
        };
}

static void test_no_image_creates_at_once(void **state)
{
        (void)state;
        struct task_plan_input in = exec_input();
        struct task_plan p;

        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_int_equal(p.actions[0].type, TASK_ACTION_CREATE);
        assert_int_equal(p.actions[0].attempt, 1);
}

static void test_no_image_create_refused_fails(void **state)
{
        (void)state;
        struct task_plan_input in = exec_input();
        struct task_plan p;

        in.create_error = "docker-exec: no container named db";
        in.create_error_reason = "ExecTargetNotFound";
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.status.phase, TASK_PHASE_FAILED);
        assert_string_equal(p.status.reason, "ExecTargetNotFound");
        assert_string_equal(p.status.message, "docker-exec: no container named db");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_executor_for),
            cmocka_unit_test(test_no_image_creates_at_once),
            cmocka_unit_test(test_no_image_create_refused_fails),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
