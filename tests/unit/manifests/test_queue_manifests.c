/* Unit tests of the Queue kind (schema, name rule, decode) and of a Task's
 * spec.priority: bounds, type, where it is allowed (Task, Workflow step,
 * CronTask template) and where not (Service template). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "manifest-test.h"

#define QUEUE_HEAD "apiVersion: berth/v1\nkind: Queue\nmetadata: {name: default, namespace: team}\n"
#define TASK_HEAD  "apiVersion: berth/v1\nkind: Task\nmetadata: {name: t}\nspec:\n  image: busybox\n"

static void test_queue_kind(void **state)
{
        const struct kind_info *k = kind_by_name("Queue");

        (void)state;
        assert_non_null(k);
        assert_ptr_equal(kind_lookup("queues"), k);
        assert_ptr_equal(kind_lookup("queue"), k);
        assert_true(k->namespaced);
        assert_null(k->finalizer);
        assert_false(k->runs_to_completion);
        assert_true(kind_source_may_apply(k));
}

static void test_queue_decodes(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        struct berth_error err = {0};
        struct queue_spec s = {0};

        (void)state;
        parse_ok_as(QUEUE_HEAD "spec: {maxRunning: 3}\n", "q.yaml", &list);
        assert_int_equal(manifest_validate(list.docs[0].object, NULL, &(struct field_errors){0}),
                         0);
        assert_int_equal(queue_spec_decode(list.docs[0].object, &s, &err), 0);
        assert_int_equal(s.max_running, 3);
        assert_valid_as(QUEUE_HEAD "spec: {maxRunning: 100000}\n", "q.yaml");
}

static void test_queue_errors(void **state)
{
        (void)state;
        assert_invalid_as(QUEUE_HEAD "spec: {maxRunning: 0}\n", "q.yaml",
                          "q.yaml:4:8: spec.maxRunning: must be between 1 and 100000");
        assert_invalid_as(QUEUE_HEAD "spec: {maxRunning: 100001}\n", "q.yaml",
                          "q.yaml:4:8: spec.maxRunning: must be between 1 and 100000");
        assert_invalid_as(QUEUE_HEAD "spec: {maxRunning: \"2\"}\n", "q.yaml",
                          "q.yaml:4:8: spec.maxRunning: must be an integer");
        assert_invalid_as(QUEUE_HEAD "spec: {}\n", "q.yaml",
                          "q.yaml:4:1: spec.maxRunning: required");
        assert_invalid_as(
            QUEUE_HEAD "spec: {maxRunning: 2, maxRuning: 1}\n", "q.yaml",
            "q.yaml:4:23: spec.maxRuning: unknown field, did you mean spec.maxRunning?");
        assert_invalid_as("apiVersion: berth/v1\nkind: Queue\nmetadata: {name: fast}\n"
                          "spec: {maxRunning: 2}\n",
                          "q.yaml",
                          "q.yaml:3:12: metadata.name: a namespace has one Queue, named "
                          "\"default\"; found \"fast\"");
}

static void test_task_priority(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        struct berth_error err = {0};
        struct task_spec s = {0};

        (void)state;
        parse_ok_as(TASK_HEAD "  priority: -5\n", "t.yaml", &list);
        assert_int_equal(task_spec_decode(list.docs[0].object, &s, &err), 0);
        assert_int_equal(s.priority, -5);
        task_spec_release(&s);

        _cleanup_(manifest_list_release) struct manifest_list none = {};
        parse_ok_as(TASK_HEAD, "t.yaml", &none);
        assert_int_equal(task_spec_decode(none.docs[0].object, &s, &err), 0);
        assert_int_equal(s.priority, 0);
        task_spec_release(&s);

        assert_valid_as(TASK_HEAD "  priority: 1000000\n", "t.yaml");
        assert_valid_as(TASK_HEAD "  priority: -1000000\n", "t.yaml");
        assert_invalid_as(TASK_HEAD "  priority: 1000001\n", "t.yaml",
                          "t.yaml:6:3: spec.priority: must be between -1000000 and 1000000");
        assert_invalid_as(TASK_HEAD "  priority: high\n", "t.yaml",
                          "t.yaml:6:3: spec.priority: must be an integer");
        assert_invalid_as(TASK_HEAD "  priority: 1.5\n", "t.yaml",
                          "t.yaml:6:3: spec.priority: must be an integer");
}

/* A step's task and a CronTask's template carry it; a Service's does not. */
static void test_priority_in_templates(void **state)
{
        (void)state;
        assert_valid_as("apiVersion: berth/v1\nkind: Workflow\nmetadata: {name: w}\nspec:\n"
                        "  steps:\n"
                        "    - name: a\n"
                        "      task: {image: busybox, priority: 9}\n",
                        "w.yaml");
        assert_valid_as("apiVersion: berth/v1\nkind: CronTask\nmetadata: {name: c}\nspec:\n"
                        "  schedule: \"0 3 * * *\"\n"
                        "  taskTemplate: {spec: {image: busybox, priority: 9}}\n",
                        "c.yaml");
        assert_invalid_as("apiVersion: berth/v1\nkind: Service\nmetadata: {name: s}\nspec:\n"
                          "  template: {image: busybox, priority: 9}\n",
                          "s.yaml",
                          "s.yaml:5:30: spec.template.priority: not allowed in a Service "
                          "template: replicas are not queued, only Tasks are (berthd "
                          "--max-running, Queue)");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_queue_kind),
            cmocka_unit_test(test_queue_decodes),
            cmocka_unit_test(test_queue_errors),
            cmocka_unit_test(test_task_priority),
            cmocka_unit_test(test_priority_in_templates),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
