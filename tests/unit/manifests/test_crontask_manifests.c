/* Unit tests of the CronTask kind in the manifests module: every bad input of
 * the reference (docs/reference/crontask.md) is rejected with its file, line
 * and field, defaults, and the typed spec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cron.h"
#include "manifest-test.h"

#define HEAD                                                                                       \
        "apiVersion: berth/v1\n"                                                                   \
        "kind: CronTask\n"                                                                         \
        "metadata:\n"                                                                              \
        "  name: nightly\n"                                                                        \
        "spec:\n"

#define TASK_TEMPLATE                                                                              \
        "  taskTemplate:\n"                                                                        \
        "    spec: {image: busybox}\n"

static void assert_valid(const char *yaml)
{
        assert_valid_as(yaml, "c.yaml");
}

static void assert_invalid(const char *yaml, const char *expected)
{
        assert_invalid_as(yaml, "c.yaml", expected);
}

static void test_kind(void **state)
{
        static const char *const names[] = {"CronTask", "crontask", "crontasks", "ct"};

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
                const struct kind_info *k = kind_lookup(names[i]);

                assert_non_null(k);
                assert_string_equal(k->kind, "CronTask");
                assert_string_equal(k->finalizer, FINALIZER_CHILDREN);
                assert_string_equal(k->children_label, CRONTASK_LABEL);
        }
}

static void test_valid(void **state)
{
        (void)state;
        assert_valid(HEAD "  schedule: \"30 2 * * *\"\n" TASK_TEMPLATE);
        assert_valid(HEAD "  schedule: \"@every 90s\"\n"
                          "  timeZone: Europe/Berlin\n"
                          "  concurrencyPolicy: Replace\n"
                          "  startingDeadlineSeconds: 300\n"
                          "  catchUp: {policy: All, max: 1000}\n"
                          "  suspend: true\n"
                          "  successfulHistoryLimit: 0\n"
                          "  failedHistoryLimit: 1000\n"
                          "  taskTemplate:\n"
                          "    metadata: {labels: {team: data}, annotations: {note: x}}\n"
                          "    spec: {image: busybox, ttlSecondsAfterFinished: 60}\n");
        assert_valid(HEAD
                     "  schedule: \"@daily\"\n"
                     "  workflowTemplate:\n"
                     "    spec:\n"
                     "      steps:\n"
                     "        - {name: a, task: {image: busybox}}\n"
                     "        - name: b\n"
                     "          dependsOn: [a]\n"
                     "          task: {image: busybox, args: [\"{{steps.a.outputs.result}}\"]}\n");
}

static void test_schedule_and_zone(void **state)
{
        (void)state;
        assert_invalid(HEAD "  schedule: \"30 24 * * *\"\n" TASK_TEMPLATE,
                       "c.yaml:6:3: spec.schedule: field 2 (hour): 24 is out of range 0-23");
        assert_invalid(HEAD "  schedule: \"@every 0s\"\n" TASK_TEMPLATE,
                       "c.yaml:6:3: spec.schedule: @every: 0s is shorter than 1s");
        assert_invalid(HEAD "  schedule: \"\"\n" TASK_TEMPLATE,
                       "c.yaml:6:3: spec.schedule: must not be empty");
        assert_invalid(HEAD "  timeZone: Mars/Olympus\n" TASK_TEMPLATE,
                       "c.yaml:5:1: spec.schedule: required\n"
                       "c.yaml:6:3: spec.timeZone: unknown time zone \"Mars/Olympus\"");
        assert_invalid(HEAD "  schedule: \"@hourly\"\n"
                            "  timeZone: ../etc/passwd\n" TASK_TEMPLATE,
                       "c.yaml:7:3: spec.timeZone: invalid time zone name \"../etc/passwd\": "
                       "want an IANA name like \"Europe/Berlin\"");
}

static void test_templates(void **state)
{
        (void)state;
        assert_invalid(HEAD "  schedule: \"@hourly\"\n",
                       "c.yaml:5:1: spec: one of taskTemplate or workflowTemplate is required");
        assert_invalid(HEAD "  schedule: \"@hourly\"\n" TASK_TEMPLATE
                            "  workflowTemplate: {spec: {}}\n",
                       "c.yaml:5:1: spec: only one of taskTemplate and workflowTemplate may be "
                       "set");
        /* The template is checked like a Task, with its path. */
        assert_invalid(HEAD "  schedule: \"@hourly\"\n"
                            "  taskTemplate:\n"
                            "    spec: {command: [sh]}\n",
                       "c.yaml:8:5: spec.taskTemplate.spec.image: required");
        assert_invalid(HEAD "  schedule: \"@hourly\"\n"
                            "  taskTemplate:\n"
                            "    metadata: {labels: {berth.crontask: x}, name: y}\n"
                            "    spec: {image: busybox}\n",
                       "c.yaml:8:25: spec.taskTemplate.metadata.labels.berth.crontask: label "
                       "keys starting with \"berth.\" are reserved for berth\n"
                       "c.yaml:8:45: spec.taskTemplate.metadata.name: unknown field");
        assert_invalid(HEAD "  schedule: \"@hourly\"\n"
                            "  workflowTemplate:\n"
                            "    spec:\n"
                            "      steps:\n"
                            "        - {name: a, dependsOn: [a], task: {image: busybox}}\n",
                       "c.yaml:10:33: spec.workflowTemplate.spec.steps[0].dependsOn[0]: a step "
                       "cannot depend on itself");
}

static void test_limits(void **state)
{
        (void)state;
        assert_invalid(HEAD "  schedule: \"@hourly\"\n"
                            "  successfulHistoryLimit: -1\n"
                            "  failedHistoryLimit: 1001\n"
                            "  catchUp: {policy: Some, max: 0}\n"
                            "  concurrencyPolicy: Never\n"
                            "  startingDeadlineSeconds: 0\n" TASK_TEMPLATE,
                       "c.yaml:7:3: spec.successfulHistoryLimit: must be between 0 and 1000\n"
                       "c.yaml:8:3: spec.failedHistoryLimit: must be between 0 and 1000\n"
                       "c.yaml:9:13: spec.catchUp.policy: unsupported value \"Some\", must be "
                       "one of: None, Latest, All\n"
                       "c.yaml:9:27: spec.catchUp.max: must be between 1 and 1000\n"
                       "c.yaml:10:3: spec.concurrencyPolicy: unsupported value \"Never\", must "
                       "be one of: Allow, Forbid, Replace\n"
                       "c.yaml:11:3: spec.startingDeadlineSeconds: must be between 1 and "
                       "31536000");
        /* Runs are named <name>-manual-<unix seconds>: 45 characters at most. */
        assert_invalid("apiVersion: berth/v1\nkind: CronTask\nmetadata:\n"
                       "  name: a-name-that-is-long-enough-to-leave-no-room-for-runs\n"
                       "spec:\n  schedule: \"@hourly\"\n" TASK_TEMPLATE,
                       "c.yaml:4:3: metadata.name: must be at most 45 characters for a CronTask: "
                       "its runs are named <name>-manual-<unix seconds>");
}

static void test_decode_and_defaults(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        struct crontask_spec s;
        struct berth_error err = {0};
        json_t *o;

        (void)state;
        parse_ok_as(HEAD "  schedule: \"*/15 * * * *\"\n" TASK_TEMPLATE, "c.yaml", &list);
        o = list.docs[0].object;
        manifest_apply_defaults(o);
        assert_string_equal(json_path_string(o, "spec.timeZone"), "UTC");
        assert_string_equal(json_path_string(o, "spec.concurrencyPolicy"), "Allow");
        assert_string_equal(json_path_string(o, "spec.catchUp.policy"), "Latest");
        assert_int_equal(json_path_int(o, "spec.catchUp.max", 0), 10);
        assert_int_equal(json_path_int(o, "spec.successfulHistoryLimit", 0), 3);
        assert_int_equal(json_path_int(o, "spec.failedHistoryLimit", 0), 1);
        assert_string_equal(json_path_string(o, "spec.taskTemplate.spec.restartPolicy"), "Never");

        assert_int_equal(crontask_spec_decode(o, &s, &err), 0);
        assert_string_equal(s.schedule_text, "*/15 * * * *");
        assert_non_null(s.schedule);
        assert_non_null(s.zone);
        assert_ptr_equal(s.child_kind, kind_lookup("Task"));
        assert_int_equal(s.concurrency, CONCURRENCY_ALLOW);
        assert_int_equal(s.catch_up, CATCH_UP_LATEST);
        assert_int_equal(s.starting_deadline_ms, 0);
        int64_t next;
        assert_int_equal(cron_next(s.schedule, s.zone, 0, 1767225600000LL, &next), 0);
        assert_int_equal(next, 1767225600000LL + 15 * 60 * 1000);
        crontask_spec_release(&s);
        crontask_spec_release(NULL);

        json_object_set_new(json_object_get(o, "spec"), "schedule", json_string("nope"));
        assert_int_equal(crontask_spec_decode(o, &s, &err), -EINVAL);
        assert_true(str_has_prefix(err.message, "spec.schedule: "));
}

static void test_depends_on_refused(void **state)
{
        (void)state;
        assert_invalid(HEAD "  schedule: \"@hourly\"\n"
                            "  taskTemplate:\n"
                            "    spec: {image: busybox, dependsOn: [a]}\n",
                       "c.yaml:8:28: spec.taskTemplate.spec.dependsOn: not allowed in a CronTask "
                       "template: its runs start on the schedule; order work with a "
                       "workflowTemplate and step dependsOn");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_kind),
            cmocka_unit_test(test_valid),
            cmocka_unit_test(test_depends_on_refused),
            cmocka_unit_test(test_schedule_and_zone),
            cmocka_unit_test(test_templates),
            cmocka_unit_test(test_limits),
            cmocka_unit_test(test_decode_and_defaults),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
