/* Unit tests of the Queue kind (schema, name rule, decode, priority
 * classes), of a Task's spec.priority and spec.priorityClassName: bounds,
 * type, where they are allowed (Task, Workflow step, CronTask template) and
 * where not (Service template), and of the effective priority
 * (queue_task_priority). */
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
                          "q.yaml:4:1: spec: set maxRunning, priorityClasses or maxPriority (a "
                          "Queue with none of them does nothing)");
        assert_invalid_as(
            QUEUE_HEAD "spec: {maxRunning: 2, maxRuning: 1}\n", "q.yaml",
            "q.yaml:4:23: spec.maxRuning: unknown field, did you mean spec.maxRunning?");
        assert_invalid_as("apiVersion: berth/v1\nkind: Queue\nmetadata: {name: fast}\n"
                          "spec: {maxRunning: 2}\n",
                          "q.yaml",
                          "q.yaml:3:12: metadata.name: a namespace has one Queue, named "
                          "\"default\"; found \"fast\"");
}

/* The Queue and Task of yaml documents, decoded; NULL queue_yaml: none. */
static int priority_of(const char *queue_yaml, const char *task_yaml, int64_t *ret)
{
        _cleanup_(manifest_list_release) struct manifest_list ql = {};
        _cleanup_(manifest_list_release) struct manifest_list tl = {};
        struct berth_error err = {0};
        struct queue_spec q;
        struct task_spec t;

        if (queue_yaml) {
                parse_ok_as(queue_yaml, "q.yaml", &ql);
                assert_int_equal(queue_spec_decode(ql.docs[0].object, &q, &err), 0);
        }
        parse_ok_as(task_yaml, "t.yaml", &tl);
        assert_int_equal(task_spec_decode(tl.docs[0].object, &t, &err), 0);
        int r = queue_task_priority(queue_yaml ? &q : NULL, &t, ret);
        task_spec_release(&t);
        return r;
}

#define CLASSES                                                                                    \
        QUEUE_HEAD "spec:\n  priorityClasses:\n    - {name: high, value: 100, description: x}\n"   \
                   "    - {name: low, value: -5}\n"

static void test_queue_classes_decode(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        struct berth_error err = {0};
        struct queue_spec s = {0};

        (void)state;
        parse_ok_as(CLASSES "  maxPriority: 50\n  defaultPriorityClassName: low\n", "q.yaml",
                    &list);
        assert_int_equal(queue_spec_decode(list.docs[0].object, &s, &err), 0);
        assert_int_equal(s.max_running, 0); /* no limit */
        assert_int_equal(s.n_classes, 2);
        assert_string_equal(s.classes[0].name, "high");
        assert_int_equal(s.classes[0].value, 100);
        assert_string_equal(s.classes[1].name, "low");
        assert_int_equal(s.classes[1].value, -5);
        assert_true(s.max_priority_set);
        assert_int_equal(s.max_priority, 50);
        assert_string_equal(s.default_class, "low");

        /* Each of the three alone is a Queue. */
        assert_valid_as(QUEUE_HEAD "spec: {maxPriority: -1000000}\n", "q.yaml");
        assert_valid_as(QUEUE_HEAD "spec: {priorityClasses: []}\n", "q.yaml");
        assert_valid_as(QUEUE_HEAD "spec: {maxRunning: 1}\n", "q.yaml");
}

static void test_effective_priority(void **state)
{
        int64_t p = -1;

        (void)state;
        /* The class's value; else spec.priority; else 0. */
        assert_int_equal(priority_of(CLASSES, TASK_HEAD "  priorityClassName: high\n", &p), 0);
        assert_int_equal(p, 100);
        assert_int_equal(priority_of(CLASSES, TASK_HEAD "  priorityClassName: low\n", &p), 0);
        assert_int_equal(p, -5);
        assert_int_equal(priority_of(CLASSES, TASK_HEAD "  priority: 7\n", &p), 0);
        assert_int_equal(p, 7);
        assert_int_equal(priority_of(CLASSES, TASK_HEAD, &p), 0);
        assert_int_equal(p, 0);
        assert_int_equal(priority_of(NULL, TASK_HEAD "  priority: -3\n", &p), 0);
        assert_int_equal(p, -3);
        assert_int_equal(priority_of(NULL, TASK_HEAD, &p), 0);
        assert_int_equal(p, 0);

        /* The default class: for a Task that sets neither; priority: 0 is set. */
        assert_int_equal(priority_of(CLASSES "  defaultPriorityClassName: low\n", TASK_HEAD, &p),
                         0);
        assert_int_equal(p, -5);
        assert_int_equal(priority_of(CLASSES "  defaultPriorityClassName: low\n",
                                     TASK_HEAD "  priority: 0\n", &p),
                         0);
        assert_int_equal(p, 0);
        assert_int_equal(priority_of(CLASSES "  defaultPriorityClassName: low\n",
                                     TASK_HEAD "  priorityClassName: high\n", &p),
                         0);
        assert_int_equal(p, 100);

        /* maxPriority clamps numbers and classes alike, never raises. */
        assert_int_equal(
            priority_of(CLASSES "  maxPriority: 10\n", TASK_HEAD "  priority: 1000000\n", &p), 0);
        assert_int_equal(p, 10);
        assert_int_equal(
            priority_of(CLASSES "  maxPriority: 10\n", TASK_HEAD "  priorityClassName: high\n", &p),
            0);
        assert_int_equal(p, 10);
        assert_int_equal(
            priority_of(CLASSES "  maxPriority: 10\n", TASK_HEAD "  priorityClassName: low\n", &p),
            0);
        assert_int_equal(p, -5);
        assert_int_equal(priority_of(QUEUE_HEAD "spec: {maxPriority: -20}\n", TASK_HEAD, &p), 0);
        assert_int_equal(p, -20);

        /* An unknown class, or no Queue at all: not admitted, *ret untouched. */
        p = 42;
        assert_int_equal(priority_of(CLASSES, TASK_HEAD "  priorityClassName: hihg\n", &p),
                         -ENOENT);
        assert_int_equal(priority_of(NULL, TASK_HEAD "  priorityClassName: high\n", &p), -ENOENT);
        assert_int_equal(priority_of(QUEUE_HEAD "spec: {maxRunning: 1}\n",
                                     TASK_HEAD "  priorityClassName: high\n", &p),
                         -ENOENT);
        assert_int_equal(p, 42);
}

/* A Queue spec with n classes named c0, c1, ... (caller frees). */
static char *queue_with_classes(size_t n)
{
        _cleanup_buf_ struct buf b = {0};

        buf_init(&b, 64 * 1024);
        assert_int_equal(buf_append_str(&b, QUEUE_HEAD "spec:\n  priorityClasses:\n"), 0);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(buf_printf(&b, "    - {name: c%zu, value: %zu}\n", i, i), 0);
        return strdup(b.data);
}

static void test_queue_class_errors(void **state)
{
        (void)state;
        _cleanup_free_ char *max = queue_with_classes(64);
        _cleanup_free_ char *over = queue_with_classes(65);

        assert_valid_as(max, "q.yaml");
        assert_invalid_as(over, "q.yaml",
                          "q.yaml:5:3: spec.priorityClasses: must have at most 64 entries, has 65");
        assert_invalid_as(CLASSES "    - {name: high, value: 1}\n", "q.yaml",
                          "q.yaml:8:8: spec.priorityClasses[2].name: duplicate name high (first "
                          "at spec.priorityClasses[0])");
        assert_invalid_as(QUEUE_HEAD "spec:\n  priorityClasses:\n    - {name: High_1, value: 1}\n",
                          "q.yaml",
                          "q.yaml:6:8: spec.priorityClasses[0].name: invalid name \"High_1\": "
                          "must be a DNS-1123 label: at most 63 lowercase letters, digits or '-', "
                          "starting and ending with a letter or digit");
        assert_invalid_as(
            QUEUE_HEAD "spec:\n  priorityClasses:\n    - {name: a, value: 1000001}\n", "q.yaml",
            "q.yaml:6:17: spec.priorityClasses[0].value: must be between -1000000 and 1000000");
        assert_invalid_as(
            QUEUE_HEAD "spec:\n  priorityClasses:\n    - {name: a, value: -1000001}\n", "q.yaml",
            "q.yaml:6:17: spec.priorityClasses[0].value: must be between -1000000 and 1000000");
        assert_invalid_as(QUEUE_HEAD "spec:\n  priorityClasses:\n    - {name: a}\n", "q.yaml",
                          "q.yaml:6:7: spec.priorityClasses[0].value: required");
        assert_invalid_as(QUEUE_HEAD "spec:\n  priorityClasses:\n    - {value: 1}\n", "q.yaml",
                          "q.yaml:6:7: spec.priorityClasses[0].name: required");
        assert_invalid_as(QUEUE_HEAD "spec:\n  priorityClasses:\n    - {name: a, value: 1, "
                                     "valu: 2}\n",
                          "q.yaml",
                          "q.yaml:6:27: spec.priorityClasses[0].valu: unknown field, did you mean "
                          "spec.priorityClasses[0].value?");
        assert_invalid_as(QUEUE_HEAD "spec:\n  priorityClasses: [high]\n", "q.yaml",
                          "q.yaml:5:21: spec.priorityClasses[0]: must be an object");
        assert_invalid_as(QUEUE_HEAD "spec: {maxPriority: 1000001}\n", "q.yaml",
                          "q.yaml:4:8: spec.maxPriority: must be between -1000000 and 1000000");
        assert_invalid_as(QUEUE_HEAD "spec: {maxPriority: \"9\"}\n", "q.yaml",
                          "q.yaml:4:8: spec.maxPriority: must be an integer");
        assert_invalid_as(CLASSES "  defaultPriorityClassName: medium\n", "q.yaml",
                          "q.yaml:8:3: spec.defaultPriorityClassName: \"medium\" is not one of "
                          "spec.priorityClasses");
        assert_invalid_as(QUEUE_HEAD "spec: {maxPriority: 5, defaultPriorityClassName: x}\n",
                          "q.yaml",
                          "q.yaml:4:24: spec.defaultPriorityClassName: \"x\" is not one of "
                          "spec.priorityClasses");
        /* maxRunning keeps its checks when classes are there. */
        assert_invalid_as(CLASSES "  maxRunning: 0\n", "q.yaml",
                          "q.yaml:8:3: spec.maxRunning: must be between 1 and 100000");
}

static void test_task_priority_class(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        struct berth_error err = {0};
        struct task_spec s = {0};

        (void)state;
        parse_ok_as(TASK_HEAD "  priorityClassName: high\n", "t.yaml", &list);
        assert_int_equal(task_spec_decode(list.docs[0].object, &s, &err), 0);
        assert_string_equal(s.priority_class_name, "high");
        assert_false(s.priority_set);
        task_spec_release(&s);

        assert_invalid_as(TASK_HEAD "  priority: 5\n  priorityClassName: high\n", "t.yaml",
                          "t.yaml:7:3: spec.priorityClassName: set priority or "
                          "priorityClassName, not both");
        assert_invalid_as(TASK_HEAD "  priorityClassName: Hi!\n", "t.yaml",
                          "t.yaml:6:3: spec.priorityClassName: invalid name \"Hi!\": must be a "
                          "DNS-1123 label: at most 63 lowercase letters, digits or '-', starting "
                          "and ending with a letter or digit");
        assert_invalid_as(TASK_HEAD "  priorityClassName: 5\n", "t.yaml",
                          "t.yaml:6:3: spec.priorityClassName: must be a string");
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
        assert_valid_as("apiVersion: berth/v1\nkind: Workflow\nmetadata: {name: w}\nspec:\n"
                        "  steps:\n"
                        "    - name: a\n"
                        "      task: {image: busybox, priorityClassName: high}\n",
                        "w.yaml");
        assert_valid_as("apiVersion: berth/v1\nkind: CronTask\nmetadata: {name: c}\nspec:\n"
                        "  schedule: \"0 3 * * *\"\n"
                        "  taskTemplate: {spec: {image: busybox, priorityClassName: high}}\n",
                        "c.yaml");
        assert_invalid_as("apiVersion: berth/v1\nkind: Workflow\nmetadata: {name: w}\nspec:\n"
                          "  steps:\n"
                          "    - name: a\n"
                          "      task: {image: busybox, priority: 1, priorityClassName: high}\n",
                          "w.yaml",
                          "w.yaml:7:43: spec.steps[0].task.priorityClassName: set priority or "
                          "priorityClassName, not both");
        assert_invalid_as("apiVersion: berth/v1\nkind: Service\nmetadata: {name: s}\nspec:\n"
                          "  template: {image: busybox, priorityClassName: high}\n",
                          "s.yaml",
                          "s.yaml:5:30: spec.template.priorityClassName: not allowed in a "
                          "Service template: replicas are not queued, only Tasks are (berthd "
                          "--max-running, Queue)");
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
            cmocka_unit_test(test_queue_classes_decode),
            cmocka_unit_test(test_effective_priority),
            cmocka_unit_test(test_queue_class_errors),
            cmocka_unit_test(test_task_priority_class),
            cmocka_unit_test(test_task_priority),
            cmocka_unit_test(test_priority_in_templates),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
