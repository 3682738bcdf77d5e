/* Unit tests of the Workflow kind in the manifests module: validation with
 * field paths and positions, defaults, and template expressions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "manifest-test.h"

#define WORKFLOW_HEAD                                                                              \
        "apiVersion: berth/v1\n"                                                                   \
        "kind: Workflow\n"                                                                         \
        "metadata:\n"                                                                              \
        "  name: wf\n"                                                                             \
        "spec:\n"

/* A diamond a → {b, c} → d using every kind of expression; d reads a's result
 * through b and c. */
#define DIAMOND                                                                                    \
        WORKFLOW_HEAD                                                                              \
        "  parameters:\n"                                                                          \
        "    - name: day\n"                                                                        \
        "      value: \"2026-11-27\"\n"                                                            \
        "    - {name: _rows-max, value: \"\"}\n"                                                   \
        "  steps:\n"                                                                               \
        "    - name: a\n"                                                                          \
        "      task:\n"                                                                            \
        "        image: busybox\n"                                                                 \
        "        command: [sh, -c, 'echo {{ parameters.day }} {{parameters._rows-max}}']\n"        \
        "    - name: b\n"                                                                          \
        "      dependsOn: [a]\n"                                                                   \
        "      task: {image: busybox, args: [\"{{steps.a.outputs.result}}\"]}\n"                   \
        "    - name: c\n"                                                                          \
        "      dependsOn: [a]\n"                                                                   \
        "      task:\n"                                                                            \
        "        image: busybox\n"                                                                 \
        "        env:\n"                                                                           \
        "          - {name: ID, value: \"{{workflow.namespace}}/{{workflow.name}}:"                \
        "{{\tworkflow.uid\t}}\"}\n"                                                                \
        "          - {name: EMPTY}\n"                                                              \
        "    - name: d\n"                                                                          \
        "      dependsOn: [b, c]\n"                                                                \
        "      task:\n"                                                                            \
        "        image: busybox\n"                                                                 \
        "        restartPolicy: OnFailure\n"                                                       \
        "        args: [\"{{steps.a.outputs.result}}+{{ steps.b.outputs.result }}\"]\n"

/* What an unknown expression's message goes on with. */
#define UNKNOWN_EXPRESSION                                                                         \
        ", must be parameters.<name>, steps.<step>.outputs.result, "                               \
        "steps.<step>.outputs.files.<file>, item, item.<field>, workflow.name, "                   \
        "workflow.namespace, workflow.uid, workflow.status or workflow.failures"

static void parse_ok(const char *yaml, struct manifest_list *list)
{
        parse_ok_as(yaml, "w.yaml", list);
}

static char *validate_text(const char *yaml)
{
        return validate_text_as(yaml, "w.yaml");
}

static void assert_valid(const char *yaml)
{
        assert_valid_as(yaml, "w.yaml");
}

static void assert_invalid(const char *yaml, const char *expected)
{
        assert_invalid_as(yaml, "w.yaml", expected);
}

/* spec_tail starts at line 6. */
static void assert_workflow_invalid(const char *spec_tail, const char *expected)
{
        _cleanup_free_ char *yaml = str_printf(WORKFLOW_HEAD "%s", spec_tail);

        assert_non_null(yaml);
        assert_invalid(yaml, expected);
}

static void assert_workflow_valid(const char *spec_tail)
{
        _cleanup_free_ char *yaml = str_printf(WORKFLOW_HEAD "%s", spec_tail);

        assert_non_null(yaml);
        assert_valid(yaml);
}

/* ---- kind -------------------------------------------------------------- */

static void test_kind(void **state)
{
        static const char *const names[] = {"Workflow", "workflow", "workflows", "wf", "WF"};

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
                const struct kind_info *k = kind_lookup(names[i]);

                assert_non_null(k);
                assert_string_equal(k->kind, "Workflow");
                assert_string_equal(k->resource, "workflows");
                assert_true(k->namespaced);
                assert_string_equal(k->finalizer, FINALIZER_CHILDREN);
        }
        assert_invalid("apiVersion: berth/v1\nkind: workflows\nmetadata: {name: a}\n",
                       "w.yaml:2:1: kind: kind workflows is not supported; did you mean "
                       "Workflow?");
        assert_invalid("apiVersion: berth/v1\nkind: Workflow\nmetadata: {name: a}\n",
                       "w.yaml:1:1: spec: required");
}

/* ---- valid workflows and defaults -------------------------------------- */

static void test_diamond_and_defaults(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        _cleanup_(field_errors_release) struct field_errors errs = {};
        _cleanup_json_ json_t *once = NULL;
        json_t *o;

        (void)state;
        parse_ok(DIAMOND, &list);
        o = list.docs[0].object;
        assert_int_equal(manifest_validate(o, list.docs[0].positions, &errs), 0);
        manifest_apply_defaults(o);
        assert_string_equal(json_path_string(o, "metadata.namespace"), "default");
        assert_true(json_is_true(json_path(o, "spec.failFast")));
        assert_true(json_is_integer(json_path(o, "spec.parallelism")));
        assert_int_equal(json_path_int(o, "spec.parallelism", -1), 0);
        assert_null(json_path(o, "spec.ttlSecondsAfterFinished"));
        for (size_t i = 0; i < 4; i++) {
                const json_t *task =
                    json_object_get(json_array_get(json_path(o, "spec.steps"), i), "task");

                /* a step's task stays as written: its Task gets the defaults */
                assert_null(json_object_get(task, "imagePullPolicy"));
                assert_null(json_object_get(task, "backoffLimit"));
                assert_null(json_object_get(task, "backoff"));
                assert_string_equal(json_path_string(task, "restartPolicy") ?: "(unset)",
                                    i == 3 ? "OnFailure" : "(unset)");
                /* a step's Task has no TTL of its own, not even by default */
                assert_null(json_object_get(task, "ttlSecondsAfterFinished"));
        }
        /* defaults keep the object valid and are idempotent */
        assert_int_equal(manifest_validate(o, NULL, &errs), 0);
        once = json_deep_copy(o);
        manifest_apply_defaults(o);
        assert_true(json_equal(once, o));

        /* set values are kept */
        manifest_list_release(&list);
        parse_ok(WORKFLOW_HEAD "  failFast: false\n  parallelism: 3\n"
                               "  ttlSecondsAfterFinished: 0\n"
                               "  steps: [{name: a, task: {image: b, backoffLimit: 0}}]\n",
                 &list);
        o = list.docs[0].object;
        assert_int_equal(manifest_validate(o, list.docs[0].positions, &errs), 0);
        manifest_apply_defaults(o);
        assert_true(json_is_false(json_path(o, "spec.failFast")));
        assert_int_equal(json_path_int(o, "spec.parallelism", -1), 3);
        assert_int_equal(json_path_int(o, "spec.ttlSecondsAfterFinished", -1), 0);
        assert_int_equal(
            json_path_int(json_array_get(json_path(o, "spec.steps"), 0), "task.backoffLimit", -1),
            0);
}

static void test_limits_valid(void **state)
{
        _cleanup_buf_ struct buf b = {};

        (void)state;
        /* 62 characters for both names: a 61-character workflow and step "s" */
        assert_valid("apiVersion: berth/v1\nkind: Workflow\nmetadata:\n"
                     "  name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
                     "spec:\n  steps: [{name: s, task: {image: b}}]\n");

        /* WORKFLOW_STEPS_MAX steps, each depending on the one before (by
         * dependsOn or by depends) and reading the first */
        buf_init(&b, 1024 * 1024);
        assert_int_equal(buf_append_str(&b, WORKFLOW_HEAD "  parallelism: 1000\n  steps:\n"
                                                          "    - {name: s0, task: {image: b}}\n"),
                         0);
        for (int i = 1; i < WORKFLOW_STEPS_MAX; i++)
                assert_int_equal(buf_printf(&b,
                                            i % 2 ? "    - {name: s%d, dependsOn: [s%d], "
                                                    "task: {image: b, args: "
                                                    "[\"{{steps.s0.outputs.result}}\"]}}\n"
                                                  : "    - {name: s%d, depends: s%d.Succeeded, "
                                                    "task: {image: b, args: "
                                                    "[\"{{steps.s0.outputs.result}}\"]}}\n",
                                            i, i - 1),
                                 0);
        assert_valid(b.data);
}

/* ---- spec fields ------------------------------------------------------- */

static void test_spec_fields(void **state)
{
        (void)state;
        assert_workflow_invalid("  step: []\n", "w.yaml:5:1: spec.steps: required\n"
                                                "w.yaml:6:3: spec.step: unknown field, did you "
                                                "mean spec.steps?");
        assert_workflow_invalid("  steps: {a: 1}\n", "w.yaml:6:3: spec.steps: must be an array");
        assert_workflow_invalid("  steps: []\n",
                                "w.yaml:6:3: spec.steps: must have between 1 and 500 entries, "
                                "has 0");
        assert_workflow_invalid(
            "  steps: [{name: a, task: {image: b}}]\n"
            "  failFast: \"no\"\n  parallelism: 1001\n  ttlSecondsAfterFinished: -1\n"
            "  paralelism: 2\n",
            "w.yaml:7:3: spec.failFast: must be a boolean (true or false)\n"
            "w.yaml:8:3: spec.parallelism: must be between 0 and 1000\n"
            "w.yaml:9:3: spec.ttlSecondsAfterFinished: must be between 0 and 31536000\n"
            "w.yaml:10:3: spec.paralelism: unknown field, did you mean spec.parallelism?");
        assert_workflow_invalid("  steps: [{name: a, task: {image: b}}]\n  parallelism: -1\n",
                                "w.yaml:7:3: spec.parallelism: must be between 0 and 1000");
        assert_workflow_valid("  steps: [{name: a, task: {image: b}}]\n  failFast: null\n"
                              "  parallelism: 0\n  ttlSecondsAfterFinished: 31536000\n");
}

static void test_too_many_steps(void **state)
{
        _cleanup_buf_ struct buf b = {};

        (void)state;
        buf_init(&b, 1024 * 1024);
        assert_int_equal(buf_append_str(&b, WORKFLOW_HEAD "  steps:\n"), 0);
        for (int i = 0; i < 501; i++)
                assert_int_equal(buf_printf(&b, "    - {name: s%d, task: {image: b}}\n", i), 0);
        assert_invalid(b.data, "w.yaml:6:3: spec.steps: must have between 1 and 500 entries, "
                               "has 501");
}

static void test_parameters(void **state)
{
        _cleanup_buf_ struct buf b = {};

        (void)state;
        assert_workflow_invalid(
            "  parameters:\n"
            "    - {name: day, value: \"1\"}\n"
            "    - {name: 1day, value: x}\n"
            "    - {name: a.b, value: x}\n"
            "    - {name: day, value: y}\n"
            "    - {name: n, value: 3}\n"
            "    - {name: t, value: true}\n"
            "    - {name: v}\n"
            "    - {value: x, vaule: y}\n"
            "    - x\n"
            "  steps: [{name: a, task: {image: b}}]\n",
            "w.yaml:8:8: spec.parameters[1].name: invalid name \"1day\": must start with a "
            "letter or '_' and contain only letters, digits, '_' and '-'\n"
            "w.yaml:9:8: spec.parameters[2].name: invalid name \"a.b\": must start with a "
            "letter or '_' and contain only letters, digits, '_' and '-'\n"
            "w.yaml:10:8: spec.parameters[3].name: duplicate name day (first at "
            "spec.parameters[0])\n"
            "w.yaml:11:17: spec.parameters[4].value: must be a string; quote it: \"3\"\n"
            "w.yaml:12:17: spec.parameters[5].value: must be a string; quote it: \"true\"\n"
            "w.yaml:13:7: spec.parameters[6].value: required\n"
            "w.yaml:14:7: spec.parameters[7].name: required\n"
            "w.yaml:14:18: spec.parameters[7].vaule: unknown field, did you mean "
            "spec.parameters[7].value?\n"
            "w.yaml:15:7: spec.parameters[8]: must be an object");
        assert_workflow_invalid("  parameters: {day: x}\n  steps: [{name: a, task: {image: b}}]\n",
                                "w.yaml:6:3: spec.parameters: must be an array");

        buf_init(&b, 1024 * 1024);
        assert_int_equal(buf_append_str(&b, WORKFLOW_HEAD "  steps: [{name: a, task: {image: b}}]\n"
                                                          "  parameters:\n"),
                         0);
        for (int i = 0; i < 64; i++)
                assert_int_equal(buf_printf(&b, "    - {name: p%d, value: x}\n", i), 0);
        assert_valid(b.data);
        assert_int_equal(buf_append_str(&b, "    - {name: p64, value: x}\n"), 0);
        assert_invalid(b.data, "w.yaml:7:3: spec.parameters: must have at most 64 entries, has 65");
}

/* ---- steps ------------------------------------------------------------- */

static void test_step_fields(void **state)
{
        (void)state;
        assert_workflow_invalid("  steps:\n"
                                "    - name: a\n"
                                "      tsk: {image: b}\n"
                                "      depends: [x]\n"
                                "    - task: {image: b}\n"
                                "    - {name: Bad_Name, task: []}\n"
                                "    - 5\n"
                                "    - {name: 7, task: {image: b}}\n",
                                "w.yaml:7:7: spec.steps[0]: exactly one of task, deploy or build: "
                                "found none\n"
                                "w.yaml:8:7: spec.steps[0].tsk: unknown field, did you mean "
                                "spec.steps[0].task?\n"
                                "w.yaml:9:7: spec.steps[0].depends: must be a string\n"
                                "w.yaml:10:7: spec.steps[1].name: required\n"
                                "w.yaml:11:8: spec.steps[2].name: invalid name \"Bad_Name\": must "
                                "be a DNS-1123 label: at most 63 lowercase letters, digits or "
                                "'-', starting and ending with a letter or digit\n"
                                "w.yaml:11:24: spec.steps[2].task: must be an object\n"
                                "w.yaml:12:7: spec.steps[3]: must be an object\n"
                                "w.yaml:13:8: spec.steps[4].name: must be a string");
}

static void test_step_names(void **state)
{
        (void)state;
        assert_workflow_invalid("  steps:\n"
                                "    - {name: a, task: {image: b}}\n"
                                "    - {name: b, task: {image: b}}\n"
                                "    - {name: a, task: {image: b}}\n",
                                "w.yaml:9:8: spec.steps[2].name: duplicate name a (first at "
                                "spec.steps[0])");
        /* 63 characters for both names */
        assert_invalid("apiVersion: berth/v1\nkind: Workflow\nmetadata:\n"
                       "  name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
                       "spec:\n"
                       "  steps:\n"
                       "    - name: ok\n"
                       "      task: {image: b}\n",
                       "w.yaml:7:7: spec.steps[0].name: the step's Task name "
                       "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-ok\" is "
                       "longer than 63 characters");
        /* an invalid workflow name is reported once, not again for each step */
        assert_invalid("apiVersion: berth/v1\nkind: Workflow\nmetadata:\n"
                       "  name: Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
                       "spec:\n"
                       "  steps: [{name: ok, task: {image: b}}]\n",
                       "w.yaml:4:3: metadata.name: invalid name "
                       "\"Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": must be "
                       "a DNS-1123 label: at most 63 lowercase letters, digits or '-', starting "
                       "and ending with a letter or digit");
}

static void test_step_task(void **state)
{
        (void)state;
        /* Task rules apply at the step's path, with the step's positions */
        assert_workflow_invalid("  steps:\n"
                                "    - name: a\n"
                                "      task:\n"
                                "        imagee: busybox\n"
                                "        args: [1]\n"
                                "        env:\n"
                                "          - {name: A, value: 1}\n"
                                "          - {name: A}\n"
                                "        volumes:\n"
                                "          - {mountPath: /a, volume: v}\n"
                                "          - {mountPath: /a, tmpfs: {}}\n"
                                "        resources: {cpu: 0, memroy: 1Gi}\n"
                                "        backoff: {factor: 11}\n"
                                "        ttlSecondsAfterFinished: 60\n"
                                "        labels: {berth.step: x}\n",
                                "w.yaml:8:7: spec.steps[0].task.image: required\n"
                                "w.yaml:9:9: spec.steps[0].task.imagee: unknown field, did you "
                                "mean spec.steps[0].task.image?\n"
                                "w.yaml:10:16: spec.steps[0].task.args[0]: must be a string\n"
                                "w.yaml:12:23: spec.steps[0].task.env[0].value: must be a string; "
                                "quote it: \"1\"\n"
                                "w.yaml:13:14: spec.steps[0].task.env[1].name: duplicate name A "
                                "(first at spec.steps[0].task.env[0])\n"
                                "w.yaml:16:14: spec.steps[0].task.volumes[1].mountPath: duplicate "
                                "mountPath /a (first at spec.steps[0].task.volumes[0])\n"
                                "w.yaml:17:21: spec.steps[0].task.resources.cpu: must be greater "
                                "than 0\n"
                                "w.yaml:17:29: spec.steps[0].task.resources.memroy: unknown "
                                "field, did you mean spec.steps[0].task.resources.memory?\n"
                                "w.yaml:18:19: spec.steps[0].task.backoff.factor: must be between "
                                "1 and 10\n"
                                "w.yaml:19:9: spec.steps[0].task.ttlSecondsAfterFinished: not "
                                "allowed in a step: a step's Task lives as long as its Workflow; "
                                "set spec.ttlSecondsAfterFinished\n"
                                "w.yaml:20:18: spec.steps[0].task.labels.berth.step: label keys "
                                "starting with \"berth.\" are reserved for berth");
        /* even a valid TTL, and even null is fine */
        assert_workflow_invalid("  steps: [{name: a, task: {image: b, ttlSecondsAfterFinished: "
                                "0}}]\n",
                                "w.yaml:6:38: spec.steps[0].task.ttlSecondsAfterFinished: not "
                                "allowed in a step: a step's Task lives as long as its Workflow; "
                                "set spec.ttlSecondsAfterFinished");
        assert_workflow_valid("  steps: [{name: a, task: {image: b, ttlSecondsAfterFinished: "
                              "null}}]\n");
}

/* ---- deploy steps ------------------------------------------------------ */

/* build → deploy → smoke: the deploy reads build's result, smoke reads the
 * deploy's (the image). */
#define DEPLOY_PIPELINE                                                                            \
        WORKFLOW_HEAD                                                                              \
        "  parameters: [{name: version, value: v2}]\n"                                             \
        "  steps:\n"                                                                               \
        "    - name: build\n"                                                                      \
        "      task: {image: busybox, command: [echo, '{{parameters.version}}']}\n"                \
        "    - name: deploy\n"                                                                     \
        "      dependsOn: [build]\n"                                                               \
        "      deploy:\n"                                                                          \
        "        service: web-app\n"                                                               \
        "        image: \"app:{{ steps.build.outputs.result }}-{{workflow.name}}\"\n"              \
        "    - name: pinned\n"                                                                     \
        "      deploy: {service: web, image: busybox:1.36, wait: false, timeoutSeconds: 600}\n"    \
        "    - name: smoke\n"                                                                      \
        "      dependsOn: [deploy]\n"                                                              \
        "      task: {image: busybox, args: ['{{steps.deploy.outputs.result}}']}\n"

static void test_deploy_valid_and_decoded(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        _cleanup_(field_errors_release) struct field_errors errs = {};
        _cleanup_(workflow_spec_release) struct workflow_spec spec = {};
        struct berth_error err = {0};
        json_t *o;

        (void)state;
        parse_ok(DEPLOY_PIPELINE, &list);
        o = list.docs[0].object;
        assert_int_equal(manifest_validate(o, list.docs[0].positions, &errs), 0);
        manifest_apply_defaults(o);
        /* wait defaults to true; timeoutSeconds has no default */
        const json_t *steps = json_path(o, "spec.steps");
        assert_true(json_is_true(json_path(json_array_get(steps, 1), "deploy.wait")));
        assert_null(json_path(json_array_get(steps, 1), "deploy.timeoutSeconds"));
        assert_true(json_is_false(json_path(json_array_get(steps, 2), "deploy.wait")));
        /* a deploy step gets no Task defaults */
        assert_null(json_path(json_array_get(steps, 1), "deploy.imagePullPolicy"));

        assert_int_equal(workflow_spec_decode(o, &spec, &err), 0);
        assert_int_equal(spec.n_steps, 4);
        assert_non_null(spec.steps[0].task);
        assert_null(spec.steps[1].task);
        assert_string_equal(spec.steps[1].deploy.service, "web-app");
        assert_string_equal(spec.steps[1].deploy.image,
                            "app:{{ steps.build.outputs.result }}-{{workflow.name}}");
        assert_true(spec.steps[1].deploy.wait);
        assert_int_equal(spec.steps[1].deploy.timeout_ms, 0);
        assert_int_equal(spec.steps[1].n_deps, 1);
        assert_null(spec.steps[2].task);
        assert_string_equal(spec.steps[2].deploy.service, "web");
        assert_false(spec.steps[2].deploy.wait);
        assert_int_equal(spec.steps[2].deploy.timeout_ms, 600000);
        assert_non_null(spec.steps[3].task);
        assert_null(spec.steps[3].deploy.service);
}

static void test_deploy_exactly_one(void **state)
{
        (void)state;
        assert_workflow_invalid("  steps:\n"
                                "    - name: a\n"
                                "      task: {image: b}\n"
                                "      deploy: {service: web, image: b}\n"
                                "    - name: b\n"
                                "    - {name: c, task: null, deploy: null}\n"
                                "    - {name: d, deploy: [web]}\n"
                                "    - {name: e, task: {image: b}, deploy: null}\n",
                                "w.yaml:7:7: spec.steps[0]: exactly one of task, deploy or build: "
                                "found task and deploy\n"
                                "w.yaml:10:7: spec.steps[1]: exactly one of task, deploy or build: "
                                "found none\n"
                                "w.yaml:11:7: spec.steps[2]: exactly one of task, deploy or build: "
                                "found none\n"
                                "w.yaml:12:17: spec.steps[3].deploy: must be an object");
}

static void test_deploy_fields(void **state)
{
        (void)state;
        assert_workflow_invalid("  steps:\n"
                                "    - name: a\n"
                                "      deploy: {servce: web, image: b}\n"
                                "    - name: b\n"
                                "      deploy: {service: Web_App, image: \"\"}\n"
                                "    - name: c\n"
                                "      deploy:\n"
                                "        service: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
                                "        image: \"app: v2\"\n"
                                "        wait: \"yes\"\n"
                                "        timeoutSeconds: 0\n"
                                "    - name: d\n"
                                "      deploy: {service: 7, image: [b], timeoutSeconds: 86401}\n",
                                "w.yaml:8:7: spec.steps[0].deploy.service: required\n"
                                "w.yaml:8:16: spec.steps[0].deploy.servce: unknown field, did you "
                                "mean spec.steps[0].deploy.service?\n"
                                "w.yaml:10:16: spec.steps[1].deploy.service: invalid name "
                                "\"Web_App\": must be a DNS-1123 label: at most 63 lowercase "
                                "letters, digits or '-', starting and ending with a letter or "
                                "digit\n"
                                "w.yaml:10:34: spec.steps[1].deploy.image: must not be empty\n"
                                "w.yaml:13:9: spec.steps[2].deploy.service: invalid name "
                                "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": a Service name is "
                                "at most 40 characters\n"
                                "w.yaml:14:9: spec.steps[2].deploy.image: must not contain "
                                "whitespace\n"
                                "w.yaml:15:9: spec.steps[2].deploy.wait: must be a boolean (true "
                                "or false)\n"
                                "w.yaml:16:9: spec.steps[2].deploy.timeoutSeconds: must be "
                                "between 1 and 86400\n"
                                "w.yaml:18:16: spec.steps[3].deploy.service: must be a string\n"
                                "w.yaml:18:28: spec.steps[3].deploy.image: must be a string\n"
                                "w.yaml:18:40: spec.steps[3].deploy.timeoutSeconds: must be "
                                "between 1 and 86400");
        /* the limits themselves are fine, and so is a 40-character name */
        assert_workflow_valid("  steps:\n"
                              "    - name: a\n"
                              "      deploy:\n"
                              "        service: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
                              "        image: b\n"
                              "        timeoutSeconds: 1\n"
                              "    - {name: b, deploy: {service: w, image: b, "
                              "timeoutSeconds: 86400, wait: null}}\n");
}

static void test_deploy_image_length(void **state)
{
        char image[WORKFLOW_DEPLOY_IMAGE_MAX + 2];
        _cleanup_free_ char *ok = NULL, *bad = NULL;

        (void)state;
        memset(image, 'a', sizeof(image) - 1);
        image[WORKFLOW_DEPLOY_IMAGE_MAX] = '\0';
        ok = str_printf(WORKFLOW_HEAD "  steps: [{name: a, deploy: {service: w, image: %s}}]\n",
                        image);
        assert_non_null(ok);
        assert_valid(ok);
        image[WORKFLOW_DEPLOY_IMAGE_MAX] = 'a';
        image[WORKFLOW_DEPLOY_IMAGE_MAX + 1] = '\0';
        bad = str_printf(WORKFLOW_HEAD "  steps: [{name: a, deploy: {service: w, image: %s}}]\n",
                         image);
        assert_non_null(bad);
        assert_invalid(bad, "w.yaml:6:42: spec.steps[0].deploy.image: must be at most 1024 "
                            "characters");
}

static void test_deploy_expressions(void **state)
{
        (void)state;
        /* spaces inside the braces are not whitespace of the image */
        assert_workflow_valid("  parameters: [{name: v, value: x}]\n"
                              "  steps:\n"
                              "    - {name: a, deploy: {service: w, image: \"b:{{ parameters.v "
                              "}}\"}}\n");
        assert_workflow_invalid(
            "  parameters: [{name: v, value: x}]\n"
            "  steps:\n"
            "    - name: build\n"
            "      task: {image: b}\n"
            "    - name: other\n"
            "      task: {image: b}\n"
            "    - name: a\n"
            "      dependsOn: [build]\n"
            "      deploy:\n"
            "        service: w\n"
            "        image: \"b:{{steps.build.outputs.result}}-"
            "{{steps.other.outputs.result}}\"\n"
            "    - {name: b, deploy: {service: w, image: \"b:{{x}}\"}}\n"
            "    - {name: c, deploy: {service: w, image: \"b:{{ parameters.v "
            "\"}}\n"
            "    - {name: d, deploy: {service: w, image: \"b: {{parameters.v}}"
            "\"}}\n"
            "    - {name: e, deploy: {service: w, image: \"{{parameters.w}}\"}}\n",
            "w.yaml:16:9: spec.steps[2].deploy.image: "
            "{{steps.other.outputs.result}}: step \"other\" is not a "
            "dependency of step \"a\"\n"
            "w.yaml:17:38: spec.steps[3].deploy.image: {{x}}: unknown expression" UNKNOWN_EXPRESSION
            "\n"
            "w.yaml:18:38: spec.steps[4].deploy.image: {{ parameters.v : "
            "unterminated \"{{\"\n"
            "w.yaml:19:38: spec.steps[5].deploy.image: must not contain "
            "whitespace\n"
            "w.yaml:20:38: spec.steps[6].deploy.image: {{parameters.w}}: "
            "unknown parameter \"w\"");
}

/* A deploy step creates no Task: its name is not limited by the Task name. */
static void test_deploy_step_name(void **state)
{
        (void)state;
        assert_valid("apiVersion: berth/v1\nkind: Workflow\nmetadata:\n"
                     "  name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
                     "spec:\n"
                     "  steps:\n"
                     "    - name: deploy\n"
                     "      deploy: {service: web, image: b}\n");
}

/* ---- dependencies ------------------------------------------------------ */

static void test_depends_on(void **state)
{
        (void)state;
        assert_workflow_invalid("  steps:\n"
                                "    - name: a\n"
                                "      dependsOn: [a]\n"
                                "      task: {image: b}\n"
                                "    - name: extract\n"
                                "      dependsOn: [nope, extrct, 3]\n"
                                "      task: {image: b}\n"
                                "    - name: c\n"
                                "      dependsOn: [extract, a, extract]\n"
                                "      task: {image: b}\n"
                                "    - name: d\n"
                                "      dependsOn: extract\n"
                                "      task: {image: b}\n",
                                "w.yaml:8:19: spec.steps[0].dependsOn[0]: a step cannot depend on "
                                "itself\n"
                                "w.yaml:11:19: spec.steps[1].dependsOn[0]: unknown step \"nope\"\n"
                                "w.yaml:11:25: spec.steps[1].dependsOn[1]: unknown step "
                                "\"extrct\", did you mean \"extract\"?\n"
                                "w.yaml:11:33: spec.steps[1].dependsOn[2]: must be a string\n"
                                "w.yaml:14:31: spec.steps[2].dependsOn[2]: duplicate dependency "
                                "extract (first at spec.steps[2].dependsOn[0])\n"
                                "w.yaml:17:7: spec.steps[3].dependsOn: must be an array");
        /* forward references are fine, and so is null */
        assert_workflow_valid("  steps:\n"
                              "    - {name: b, dependsOn: [a], task: {image: b}}\n"
                              "    - {name: a, dependsOn: null, task: {image: b}}\n"
                              "    - {name: c, dependsOn: [], task: {image: b}}\n");
}

static void test_cycles(void **state)
{
        (void)state;
        /* a -> b -> c -> a, found from a, reported at a */
        assert_workflow_invalid("  steps:\n"
                                "    - name: a\n"
                                "      dependsOn: [b]\n"
                                "      task: {image: b}\n"
                                "    - name: b\n"
                                "      dependsOn: [c]\n"
                                "      task: {image: b}\n"
                                "    - name: c\n"
                                "      dependsOn: [a]\n"
                                "      task: {image: b}\n",
                                "w.yaml:8:7: spec.steps[0].dependsOn: dependency cycle: a -> b -> "
                                "c -> a");
        /* entered from outside the cycle, still named from its first step */
        assert_workflow_invalid("  steps:\n"
                                "    - {name: x, dependsOn: [z], task: {image: b}}\n"
                                "    - {name: y, dependsOn: [z, x], task: {image: b}}\n"
                                "    - {name: z, dependsOn: [y], task: {image: b}}\n"
                                "    - {name: w, dependsOn: [z], task: {image: b}}\n",
                                "w.yaml:7:17: spec.steps[0].dependsOn: dependency cycle: x -> z -> "
                                "y -> x\n"
                                "w.yaml:8:17: spec.steps[1].dependsOn: dependency cycle: y -> z -> "
                                "y");
        /* two separate cycles, each reported once */
        assert_workflow_invalid("  steps:\n"
                                "    - {name: a, dependsOn: [b], task: {image: b}}\n"
                                "    - {name: b, dependsOn: [a], task: {image: b}}\n"
                                "    - {name: c, dependsOn: [d], task: {image: b}}\n"
                                "    - {name: d, dependsOn: [c], task: {image: b}}\n"
                                "    - {name: e, dependsOn: [a, c], task: {image: b}}\n",
                                "w.yaml:7:17: spec.steps[0].dependsOn: dependency cycle: a -> b -> "
                                "a\n"
                                "w.yaml:9:17: spec.steps[2].dependsOn: dependency cycle: c -> d -> "
                                "c");
        /* densely connected: one cycle per step at most (a -> b -> c -> a is not repeated
         * at a) */
        assert_workflow_invalid("  steps:\n"
                                "    - {name: a, dependsOn: [b, c], task: {image: b}}\n"
                                "    - {name: b, dependsOn: [a, c], task: {image: b}}\n"
                                "    - {name: c, dependsOn: [a, b], task: {image: b}}\n",
                                "w.yaml:7:17: spec.steps[0].dependsOn: dependency cycle: a -> b -> "
                                "a\n"
                                "w.yaml:8:17: spec.steps[1].dependsOn: dependency cycle: b -> c -> "
                                "b");
        /* with a cycle, expressions are not checked: the graph is known to be wrong */
        assert_workflow_invalid("  steps:\n"
                                "    - {name: a, dependsOn: [b], task: {image: b}}\n"
                                "    - name: b\n"
                                "      dependsOn: [a]\n"
                                "      task: {image: b, args: [\"{{steps.c.outputs.result}}\"]}\n",
                                "w.yaml:7:17: spec.steps[0].dependsOn: dependency cycle: a -> b -> "
                                "a");
}

/* 200 steps each depending on every other one: errors stay bounded. */
static void test_cycles_dense(void **state)
{
        _cleanup_buf_ struct buf b = {};
        _cleanup_free_ char *text = NULL;
        size_t lines = 1;

        (void)state;
        buf_init(&b, MANIFEST_DOC_MAX);
        assert_int_equal(buf_append_str(&b, WORKFLOW_HEAD "  steps:\n"), 0);
        for (int i = 0; i < 200; i++) {
                const char *sep = "";

                assert_int_equal(buf_printf(&b,
                                            "    - name: s%d\n      task: {image: b}\n"
                                            "      dependsOn: [",
                                            i),
                                 0);
                for (int j = 0; j < 200; j++) {
                        if (j == i)
                                continue;
                        assert_int_equal(buf_printf(&b, "%ss%d", sep, j), 0);
                        sep = ", ";
                }
                assert_int_equal(buf_append_str(&b, "]\n"), 0);
        }
        text = validate_text(b.data);
        assert_non_null(text);
        for (const char *p = text; (p = strchr(p, '\n')); p++)
                lines++;
        assert_true(lines <= 200);
        assert_true(str_has_prefix(text, "w.yaml:9:7: spec.steps[0].dependsOn: dependency cycle: "
                                         "s0 -> s1 -> s0\n"));
}

/* ---- expressions in steps ---------------------------------------------- */

/* A workflow with parameter p and steps load → mid → report plus other;
 * args holds the args of report (line 17, its first item at column 31). */
static void assert_report_args(const char *args, const char *expected)
{
        _cleanup_free_ char *yaml = str_printf(WORKFLOW_HEAD "  parameters: [{name: p, value: x}]\n"
                                                             "  steps:\n"
                                                             "    - name: load\n"
                                                             "      task: {image: b}\n"
                                                             "    - name: other\n"
                                                             "      task: {image: b}\n"
                                                             "    - name: mid\n"
                                                             "      dependsOn: [load]\n"
                                                             "      task: {image: b}\n"
                                                             "    - name: report\n"
                                                             "      dependsOn: [mid]\n"
                                                             "      task: {image: b, args: %s}\n",
                                               args);

        assert_non_null(yaml);
        if (expected)
                assert_invalid(yaml, expected);
        else
                assert_valid(yaml);
}

static void test_step_expressions(void **state)
{
        (void)state;
        assert_report_args("[\"{{parameters.p}}\", \"{{ parameters.p }}\", \"a{{parameters.p}}b\", "
                           "\"{{steps.mid.outputs.result}}{{steps.load.outputs.result}}\", "
                           "\"{{ workflow.uid }}\", \"}} {x} { {\"]",
                           NULL);
        assert_report_args("[\"{{parameters.q}}\"]",
                           "w.yaml:17:31: spec.steps[3].task.args[0]: {{parameters.q}}: unknown "
                           "parameter \"q\"");
        assert_report_args("[ok, \"{{steps.other.outputs.result}}\"]",
                           "w.yaml:17:35: spec.steps[3].task.args[1]: "
                           "{{steps.other.outputs.result}}: step \"other\" is not a dependency of "
                           "step \"report\"");
        assert_report_args("[\"{{steps.report.outputs.result}}\"]",
                           "w.yaml:17:31: spec.steps[3].task.args[0]: "
                           "{{steps.report.outputs.result}}: step \"report\" is not a dependency "
                           "of step \"report\"");
        assert_report_args("[\"{{ steps.lod.outputs.result }}\"]",
                           "w.yaml:17:31: spec.steps[3].task.args[0]: "
                           "{{ steps.lod.outputs.result }}: unknown step \"lod\"");
        assert_report_args("[\"{{steps.load.outputs}}\", \"{{workflow.labels}}\"]",
                           "w.yaml:17:31: spec.steps[3].task.args[0]: {{steps.load.outputs}}: "
                           "unknown expression" UNKNOWN_EXPRESSION "\n"
                           "w.yaml:17:57: spec.steps[3].task.args[1]: {{workflow.labels}}: "
                           "unknown expression" UNKNOWN_EXPRESSION);
        assert_report_args("[\"echo {{parameters.p\"]",
                           "w.yaml:17:31: spec.steps[3].task.args[0]: {{parameters.p: "
                           "unterminated \"{{\"");
        assert_report_args("[\"{{}}\", \"{{  }}\"]",
                           "w.yaml:17:31: spec.steps[3].task.args[0]: {{}}: empty expression\n"
                           "w.yaml:17:39: spec.steps[3].task.args[1]: {{  }}: empty expression");
        assert_report_args("[\"{{ a b }}\", \"{{a..b}}\", \"{{$x}}\"]",
                           "w.yaml:17:31: spec.steps[3].task.args[0]: {{ a b }}: malformed "
                           "expression: must be a dotted path such as parameters.name\n"
                           "w.yaml:17:44: spec.steps[3].task.args[1]: {{a..b}}: malformed "
                           "expression: must be a dotted path such as parameters.name\n"
                           "w.yaml:17:56: spec.steps[3].task.args[2]: {{$x}}: malformed "
                           "expression: must be a dotted path such as parameters.name");
}

static void test_expression_fields(void **state)
{
        (void)state;
        /* command, args and env values are checked, each at its own field */
        assert_workflow_invalid(
            "  steps:\n"
            "    - name: a\n"
            "      task:\n"
            "        image: \"{{x}}\"\n"
            "        command: [sh, \"{{x}}\"]\n"
            "        args: [\"{{y}}\"]\n"
            "        workingDir: \"/{{x}}\"\n"
            "        env:\n"
            "          - {name: A, value: \"{{z}}\"}\n"
            "          - {name: B, value: 3}\n"
            "          - {name: \"{{x}}\"}\n"
            "        labels: {a: \"{{x}}\"}\n",
            "w.yaml:10:23: spec.steps[0].task.command[1]: {{x}}: unknown "
            "expression" UNKNOWN_EXPRESSION "\n"
            "w.yaml:11:16: spec.steps[0].task.args[0]: {{y}}: unknown expression" UNKNOWN_EXPRESSION
            "\n"
            "w.yaml:14:23: spec.steps[0].task.env[0].value: {{z}}: unknown "
            "expression" UNKNOWN_EXPRESSION "\n"
            "w.yaml:15:23: spec.steps[0].task.env[1].value: must be a string; "
            "quote it: \"3\"\n"
            "w.yaml:16:14: spec.steps[0].task.env[2].name: invalid name "
            "\"{{x}}\": must start with a letter or '_' and contain only "
            "letters, digits and '_'\n"
            "w.yaml:17:18: spec.steps[0].task.labels.a: invalid value "
            "\"{{x}}\": must be empty or at most 63 letters, digits, '-', '_' "
            "or '.', starting and ending with a letter or digit");
        /* a Task is not a template */
        assert_valid("apiVersion: berth/v1\nkind: Task\nmetadata: {name: t}\n"
                     "spec: {image: b, args: [\"{{x\"]}\n");
}

/* ---- expr_expand ------------------------------------------------------- */

struct fake_scope {
        int calls;
};

static int fake_resolve(const char *expr, const char **ret_value, char *msg, size_t msg_size,
                        void *userdata)
{
        struct fake_scope *scope = userdata;

        scope->calls++;
        if (streq(expr, "parameters.day")) {
                *ret_value = "2026-11-27";
                return 0;
        }
        if (streq(expr, "steps.a.outputs.result")) {
                *ret_value = "42";
                return 0;
        }
        if (streq(expr, "empty")) {
                *ret_value = "";
                return 0;
        }
        if (streq(expr, "oom"))
                return -ENOMEM;
        snprintf(msg, msg_size, "unknown parameter \"%s\"", expr);
        return -ENOENT;
}

static void assert_expands(const char *s, const char *expected)
{
        struct fake_scope scope = {};
        _cleanup_free_ char *out = NULL;
        char msg[256] = "";
        int r;

        r = expr_expand(s, fake_resolve, &scope, 1024, &out, msg, sizeof(msg));
        if (r < 0)
                fail_msg("%s: %d %s", s, r, msg);
        assert_string_equal(out, expected);
}

static void assert_expand_fails(const char *s, size_t max_len, int code, const char *expected)
{
        struct fake_scope scope = {};
        char *out = (char *)"untouched";
        char msg[256] = "";
        int r;

        r = expr_expand(s, fake_resolve, &scope, max_len, &out, msg, sizeof(msg));
        if (r != code || !streq(msg, expected))
                fail_msg("%s: expected %d %s, got %d %s", s, code, expected, r, msg);
        assert_null(out);
}

static void test_expr_expand(void **state)
{
        struct fake_scope scope = {};
        char *out = NULL;

        (void)state;
        assert_expands("", "");
        assert_expands("no expressions } { }}", "no expressions } { }}");
        assert_expands("{{parameters.day}}", "2026-11-27");
        assert_expands("{{ parameters.day }}", "2026-11-27");
        assert_expands("{{\t parameters.day\t}}", "2026-11-27");
        assert_expands("day={{parameters.day}}, rows={{steps.a.outputs.result}}.",
                       "day=2026-11-27, rows=42.");
        assert_expands("{{steps.a.outputs.result}}{{steps.a.outputs.result}}", "4242");
        assert_expands("<{{empty}}>", "<>");
        assert_expands("{{empty}}}", "}");

        /* the resolver sees the trimmed expression, once per expression */
        assert_int_equal(
            expr_expand("{{ empty }}{{empty}}", fake_resolve, &scope, 10, &out, NULL, 0), 0);
        assert_string_equal(out, "");
        assert_int_equal(scope.calls, 2);
        free(out);

        assert_expand_fails("{{parameters.dya}}", 1024, -EINVAL,
                            "{{parameters.dya}}: unknown parameter \"parameters.dya\"");
        assert_expand_fails("ok {{ parameters.day }} {{ nope }}", 1024, -EINVAL,
                            "{{ nope }}: unknown parameter \"nope\"");
        assert_expand_fails("{{oom}}", 1024, -ENOMEM, "{{oom}}: Cannot allocate memory");
        assert_expand_fails("a {{parameters.day", 1024, -EINVAL,
                            "{{parameters.day: unterminated \"{{\"");
        assert_expand_fails("{{parameters.day}} {{", 1024, -EINVAL, "{{: unterminated \"{{\"");
        assert_expand_fails("{{}}", 1024, -EINVAL, "{{}}: empty expression");
        assert_expand_fails("{{ \t }}", 1024, -EINVAL, "{{ \t }}: empty expression");
        assert_expand_fails("{{ a b }}", 1024, -EINVAL,
                            "{{ a b }}: malformed expression: must be a dotted path such as "
                            "parameters.name");
        assert_expand_fails("{{.a}}", 1024, -EINVAL,
                            "{{.a}}: malformed expression: must be a dotted path such as "
                            "parameters.name");
        assert_expand_fails("{{a.}}", 1024, -EINVAL,
                            "{{a.}}: malformed expression: must be a dotted path such as "
                            "parameters.name");
        /* every "{{" starts an expression, even a third brace */
        assert_expand_fails("{{{a}}}", 1024, -EINVAL,
                            "{{{a}}: malformed expression: must be a dotted path such as "
                            "parameters.name");

        /* max_len counts the result, not the input */
        assert_expands("{{parameters.day}}", "2026-11-27");
        assert_int_equal(expr_expand("{{parameters.day}}", fake_resolve, &scope, 10, &out, NULL, 0),
                         0);
        assert_string_equal(out, "2026-11-27");
        free(out);
        assert_expand_fails("{{parameters.day}}", 9, -E2BIG, "expanded string longer than 9 bytes");
        assert_expand_fails("0123456789", 9, -E2BIG, "expanded string longer than 9 bytes");
        assert_expand_fails("x{{steps.a.outputs.result}}", 2, -E2BIG,
                            "expanded string longer than 2 bytes");

        assert_int_equal(expr_expand(NULL, fake_resolve, &scope, 10, &out, NULL, 0), -EINVAL);
        assert_int_equal(expr_expand("x", NULL, &scope, 10, &out, NULL, 0), -EINVAL);
        assert_int_equal(expr_expand("x", fake_resolve, &scope, 10, NULL, NULL, 0), -EINVAL);
}

static void test_expr_expand_limits(void **state)
{
        char long_expr[EXPR_MAX_LEN + 16], text[EXPR_MAX_LEN + 2];
        char expected[256];

        (void)state;
        /* EXPR_MAX_LEN characters of expression are resolved ... */
        memset(text, 'a', EXPR_MAX_LEN);
        text[EXPR_MAX_LEN] = '\0';
        snprintf(long_expr, sizeof(long_expr), "{{%s}}", text);
        snprintf(expected, sizeof(expected), "{{%.62s...: unknown parameter \"%.80s", text, text);
        {
                struct fake_scope scope = {};
                char *out = NULL, msg[256];

                assert_int_equal(
                    expr_expand(long_expr, fake_resolve, &scope, 1024, &out, msg, sizeof(msg)),
                    -EINVAL);
                assert_int_equal(scope.calls, 1);
                /* the message quotes only the start of a long expression */
                assert_true(str_has_prefix(msg, expected));
        }
        /* ... one more is refused before the resolver sees it */
        memset(text, 'a', EXPR_MAX_LEN + 1);
        text[EXPR_MAX_LEN + 1] = '\0';
        snprintf(long_expr, sizeof(long_expr), "{{%s}}", text);
        snprintf(expected, sizeof(expected), "{{%.62s...: expression longer than %d characters",
                 text, EXPR_MAX_LEN);
        assert_expand_fails(long_expr, 1024, -EINVAL, expected);
}

static void test_step_task_depends_on_refused(void **state)
{
        (void)state;
        assert_workflow_invalid("  steps:\n"
                                "    - {name: a, task: {image: b}}\n"
                                "    - {name: c, task: {image: b, dependsOn: [a]}}\n",
                                "w.yaml:8:34: spec.steps[1].task.dependsOn: not allowed in a "
                                "step's task: set dependsOn on the step");
}

/* ---- conditions, fan-out, retries, outputs, onExit, workspace ------------ */

/* Every field: list → check (continueOn) → each (depends, withParam, when)
 * → deploy; regions and numbers fan out over withItems; onExit reads them
 * all. */
#define EVERYTHING                                                                                 \
        WORKFLOW_HEAD                                                                              \
        "  parameters: [{name: env, value: prod}]\n"                                               \
        "  activeDeadlineSeconds: 3600\n"                                                          \
        "  shutdown: Stop\n"                                                                       \
        "  workspace: {keep: true}\n"                                                              \
        "  steps:\n"                                                                               \
        "    - name: list\n"                                                                       \
        "      task:\n"                                                                            \
        "        image: busybox\n"                                                                 \
        "        command: [sh, -c, 'echo \"[1,2]\" | tee /workspace/list']\n"                      \
        "      outputs:\n"                                                                         \
        "        files:\n"                                                                         \
        "          - {name: list, path: /workspace/list}\n"                                        \
        "          - {name: log_1, path: /tmp/log}\n"                                              \
        "      retryStrategy:\n"                                                                   \
        "        limit: 3\n"                                                                       \
        "        backoff: {initialSeconds: 1, factor: 1.5, maxSeconds: 30}\n"                      \
        "        retryOn: [Error, OOMKilled]\n"                                                    \
        "        exitCodes: {notIn: [2]}\n"                                                        \
        "    - name: check\n"                                                                      \
        "      dependsOn: [list]\n"                                                                \
        "      continueOn: {failed: true}\n"                                                       \
        "      task: {image: busybox, args: ['{{steps.list.outputs.files.list}}']}\n"              \
        "    - name: each\n"                                                                       \
        "      depends: list.Succeeded && (check.Failed || check.Succeeded) && list.Completed\n"   \
        "      withParam: \"{{ steps.list.outputs.result }}\"\n"                                   \
        "      when: \"'{{parameters.env}}' == 'prod' && {{steps.check.outputs.result}} != 0\"\n"  \
        "      task: {image: busybox, args: ['{{item}}', '{{item.id}}']}\n"                        \
        "    - name: regions\n"                                                                    \
        "      withItems:\n"                                                                       \
        "        - {name: eu, size: {cpu: 1}}\n"                                                   \
        "        - {name: us, size: {cpu: 2}, extra: true}\n"                                      \
        "      task:\n"                                                                            \
        "        image: busybox\n"                                                                 \
        "        env: [{name: R, value: '{{item.name}}-{{ item.size.cpu }}'}]\n"                   \
        "    - name: numbers\n"                                                                    \
        "      withItems: [1, two, true, 4.5]\n"                                                   \
        "      task: {image: busybox, args: ['{{item}}']}\n"                                       \
        "    - name: deploy\n"                                                                     \
        "      depends: each.Succeeded || each.Skipped\n"                                          \
        "      deploy: {service: web, image: \"app:{{steps.list.outputs.result}}\"}\n"             \
        "      continueOn: {failed: false}\n"                                                      \
        "  onExit:\n"                                                                              \
        "    failWorkflow: true\n"                                                                 \
        "    task:\n"                                                                              \
        "      image: busybox\n"                                                                   \
        "      command: [sh, -c, 'echo {{workflow.status}} {{workflow.failures}} "                 \
        "{{steps.each.outputs.result}} {{steps.list.outputs.files.log_1}}']\n"

/* Parses, validates and defaults yaml (one document), then decodes it. */
static void decode_ok(const char *yaml, struct manifest_list *list, struct workflow_spec *spec)
{
        _cleanup_(field_errors_release) struct field_errors errs = {};
        struct berth_error err = {0};
        json_t *o;

        parse_ok(yaml, list);
        o = list->docs[0].object;
        assert_int_equal(manifest_validate(o, list->docs[0].positions, &errs), 0);
        manifest_apply_defaults(o);
        assert_int_equal(manifest_validate(o, NULL, &errs), 0);
        if (workflow_spec_decode(o, spec, &err) < 0)
                fail_msg("decode: %s", err.message);
}

static bool outcome_true(const char *step, enum step_outcome outcome, void *userdata)
{
        (void)step;
        (void)userdata;
        return outcome == STEP_OUTCOME_SUCCEEDED || outcome == STEP_OUTCOME_COMPLETED;
}

static void test_everything_valid_and_decoded(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        _cleanup_(workflow_spec_release) struct workflow_spec spec = {};
        const struct workflow_step_spec *s;
        const json_t *o;

        (void)state;
        decode_ok(EVERYTHING, &list, &spec);
        o = list.docs[0].object;
        /* defaults: none in a step's or the onExit's task (the Task made
         * from it gets them), none for retryStrategy (what it leaves out is
         * removed from the step's Task) */
        assert_true(json_is_true(json_path(o, "spec.onExit.failWorkflow")));
        assert_true(json_is_true(json_path(o, "spec.workspace.keep")));
        assert_null(json_path(o, "spec.onExit.task.restartPolicy"));
        assert_null(json_path(o, "spec.onExit.task.ttlSecondsAfterFinished"));
        assert_int_equal(json_object_size(json_path(json_array_get(json_path(o, "spec.steps"), 0),
                                                    "retryStrategy")),
                         4);
        assert_null(json_object_get(json_array_get(json_path(o, "spec.steps"), 0), "continueOn"));

        assert_int_equal(spec.n_steps, 6);
        assert_int_equal(spec.active_deadline_ms, 3600000);
        assert_true(spec.shutdown);
        assert_true(spec.workspace);
        assert_true(spec.workspace_keep);
        assert_true(spec.on_exit_fail_workflow);

        s = &spec.steps[0];
        assert_string_equal(s->name, "list");
        assert_int_equal(s->n_deps, 0);
        assert_null(s->depends);
        assert_int_equal(s->n_files, 2);
        assert_string_equal(s->files[0].name, "list");
        assert_string_equal(s->files[0].path, "/workspace/list");
        assert_string_equal(s->files[1].name, "log_1");
        assert_string_equal(s->files[1].path, "/tmp/log");
        assert_non_null(s->retry_strategy);
        assert_int_equal(json_path_int(s->retry_strategy, "limit", -1), 3);
        assert_false(s->continue_on_failed);
        assert_false(s->exit_handler);

        s = &spec.steps[1];
        assert_true(s->continue_on_failed);
        assert_int_equal(s->n_deps, 1);
        assert_int_equal(s->deps[0], 0);
        assert_null(s->retry_strategy);
        assert_int_equal(s->n_files, 0);

        /* depends: each step it names once, in order of first appearance */
        s = &spec.steps[2];
        assert_non_null(s->depends);
        assert_int_equal(s->n_deps, 2);
        assert_int_equal(s->deps[0], 0);
        assert_int_equal(s->deps[1], 1);
        assert_true(cond_handles_failure(s->depends, "check"));
        assert_true(cond_handles_failure(s->depends, "list")); /* list.Completed */
        assert_true(cond_eval_depends(s->depends, outcome_true, NULL));
        assert_string_equal(s->with_param, "{{ steps.list.outputs.result }}");
        assert_int_equal(s->with_param_step, 0);
        assert_null(s->with_items);
        assert_string_equal(
            s->when, "'{{parameters.env}}' == 'prod' && {{steps.check.outputs.result}} != 0");

        s = &spec.steps[3];
        assert_int_equal(json_array_size(s->with_items), 2);
        assert_null(s->with_param);
        assert_null(s->when);
        assert_int_equal(json_array_size(spec.steps[4].with_items), 4);

        s = &spec.steps[5];
        assert_null(s->task);
        assert_string_equal(s->deploy.service, "web");
        assert_int_equal(s->n_deps, 1);
        assert_int_equal(s->deps[0], 2);
        assert_non_null(s->depends);
        assert_false(cond_handles_failure(s->depends, "each"));
        assert_false(s->continue_on_failed);

        /* onExit: one more step after n_steps, not found by name */
        assert_ptr_equal(spec.on_exit, &spec.steps[6]);
        assert_string_equal(spec.on_exit->name, WORKFLOW_EXIT_STEP);
        assert_true(spec.on_exit->exit_handler);
        assert_int_equal(spec.on_exit->n_deps, 0);
        assert_ptr_equal(spec.on_exit->task, json_path(o, "spec.onExit.task"));
        assert_int_equal(workflow_spec_step(&spec, WORKFLOW_EXIT_STEP), spec.n_steps);
        assert_int_equal(workflow_spec_step(&spec, "deploy"), 5);
}

static void test_new_fields_absent(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        _cleanup_(workflow_spec_release) struct workflow_spec spec = {};

        (void)state;
        decode_ok(WORKFLOW_HEAD "  workspace: {}\n  steps: [{name: a, task: {image: b}}]\n", &list,
                  &spec);
        assert_true(json_is_false(json_path(list.docs[0].object, "spec.workspace.keep")));
        assert_true(spec.workspace);
        assert_false(spec.workspace_keep);
        assert_false(spec.shutdown);
        assert_int_equal(spec.active_deadline_ms, 0);
        assert_null(spec.on_exit);
        assert_false(spec.on_exit_fail_workflow);
        assert_null(spec.steps[0].depends);
        assert_null(spec.steps[0].when);
        assert_null(spec.steps[0].files);
        assert_null(spec.steps[0].retry_strategy);

        workflow_spec_release(NULL);
}

/* A spec that fails after conditions and files were decoded releases them
 * (the sanitizer build finds a leak). */
static void test_decode_invalid_releases(void **state)
{
        static const char *const yamls[] = {
            WORKFLOW_HEAD "  activeDeadlineSeconds: 0\n"
                          "  onExit: {task: {image: b}}\n"
                          "  steps:\n"
                          "    - {name: a, task: {image: b}, outputs: {files: [{name: f, path: "
                          "/f}]}}\n"
                          "    - {name: b, depends: a.Succeeded, task: {image: b}}\n",
            /* a broken graph: nothing is handed over */
            WORKFLOW_HEAD "  steps:\n"
                          "    - {name: a, task: {image: b}, outputs: {files: [{name: f, path: "
                          "/f}]}}\n"
                          "    - {name: b, depends: a.Succeeded || c.Failed, task: {image: b}}\n"
                          "    - {name: c, depends: b.Succeeded, task: {image: b}}\n",
        };

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(yamls); i++) {
                _cleanup_(manifest_list_release) struct manifest_list list = {};
                struct workflow_spec spec = {.n_steps = 99};
                struct berth_error err = {0};

                parse_ok(yamls[i], &list);
                assert_int_equal(workflow_spec_decode(list.docs[0].object, &spec, &err), -EINVAL);
                assert_int_equal(spec.n_steps, 99); /* untouched */
        }
}

static void test_spec_new_fields(void **state)
{
        (void)state;
        assert_workflow_invalid("  activeDeadlineSeconds: 0\n"
                                "  shutdown: Now\n"
                                "  workspace: []\n"
                                "  onExit: {failWorkflow: \"yes\", tsk: {}}\n"
                                "  steps: [{name: a, task: {image: b}}]\n",
                                "w.yaml:6:3: spec.activeDeadlineSeconds: must be between 1 and "
                                "31536000\n"
                                "w.yaml:7:3: spec.shutdown: unsupported value \"Now\", must be one "
                                "of: Stop\n"
                                "w.yaml:8:3: spec.workspace: must be an object\n"
                                "w.yaml:9:3: spec.onExit.task: required\n"
                                "w.yaml:9:12: spec.onExit.failWorkflow: must be a boolean (true or "
                                "false)\n"
                                "w.yaml:9:33: spec.onExit.tsk: unknown field, did you mean "
                                "spec.onExit.task?");
        assert_workflow_invalid("  activeDeadlineSeconds: 31536001\n"
                                "  shutdown: 1\n"
                                "  workspace: {keep: 1, kep: true}\n"
                                "  onExit: []\n"
                                "  steps: [{name: a, task: {image: b}}]\n",
                                "w.yaml:6:3: spec.activeDeadlineSeconds: must be between 1 and "
                                "31536000\n"
                                "w.yaml:7:3: spec.shutdown: must be a string\n"
                                "w.yaml:8:15: spec.workspace.keep: must be a boolean (true or "
                                "false)\n"
                                "w.yaml:8:24: spec.workspace.kep: unknown field, did you mean "
                                "spec.workspace.keep?\n"
                                "w.yaml:9:3: spec.onExit: must be an object");
        assert_workflow_valid("  activeDeadlineSeconds: 1\n  shutdown: null\n  workspace: null\n"
                              "  onExit: null\n  steps: [{name: a, task: {image: b}}]\n");
}

static void test_on_exit(void **state)
{
        (void)state;
        /* its Task is checked like a step's, its templates may read workflow.status
         * and workflow.failures (only it), and any step */
        assert_workflow_invalid("  onExit:\n"
                                "    task:\n"
                                "      imag: b\n"
                                "      ttlSecondsAfterFinished: 1\n"
                                "      args: ['{{item}}', '{{steps.a.outputs.result}}', "
                                "'{{workflow.status}}{{workflow.failures}}']\n"
                                "  steps:\n"
                                "    - name: a\n"
                                "      task: {image: b, args: ['{{workflow.status}}', "
                                "'{{workflow.failures}}']}\n"
                                "    - name: b\n"
                                "      deploy: {service: s, image: \"{{workflow.status}}\"}\n",
                                "w.yaml:7:5: spec.onExit.task.image: required\n"
                                "w.yaml:8:7: spec.onExit.task.imag: unknown field, did you mean "
                                "spec.onExit.task.image?\n"
                                "w.yaml:9:7: spec.onExit.task.ttlSecondsAfterFinished: not allowed "
                                "in a step: a step's Task lives as long as its Workflow; set "
                                "spec.ttlSecondsAfterFinished\n"
                                "w.yaml:10:14: spec.onExit.task.args[0]: {{item}}: only in a step "
                                "with withItems or withParam\n"
                                "w.yaml:13:31: spec.steps[0].task.args[0]: {{workflow.status}}: "
                                "only in spec.onExit\n"
                                "w.yaml:13:54: spec.steps[0].task.args[1]: {{workflow.failures}}: "
                                "only in spec.onExit\n"
                                "w.yaml:15:28: spec.steps[1].deploy.image: {{workflow.status}}: "
                                "only in spec.onExit");
        /* "<workflow>-onexit" is its Task's name: no step has it, and it fits */
        assert_workflow_invalid("  steps:\n"
                                "    - {name: onexit, task: {image: b}}\n"
                                "    - {name: on-exit, task: {image: b}}\n",
                                "w.yaml:7:8: spec.steps[0].name: reserved: the exit handler's Task "
                                "is wf-onexit");
        assert_invalid("apiVersion: berth/v1\nkind: Workflow\nmetadata:\n"
                       "  name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
                       "spec:\n"
                       "  onExit: {task: {image: b}}\n"
                       "  steps: [{name: a, task: {image: b}}]\n",
                       "w.yaml:6:3: spec.onExit: the exit handler's Task name "
                       "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-onexit\" is "
                       "longer than 63 characters");
        assert_valid("apiVersion: berth/v1\nkind: Workflow\nmetadata:\n"
                     "  name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
                     "spec:\n"
                     "  onExit: {task: {image: b}}\n"
                     "  steps: [{name: a, task: {image: b}}]\n");
}

static void test_workspace_mount_reserved(void **state)
{
        static const char *const steps =
            "  onExit:\n"
            "    task: {image: b, volumes: [{mountPath: /workspace/, volume: v}]}\n"
            "  steps:\n"
            "    - name: a\n"
            "      task:\n"
            "        image: b\n"
            "        volumes:\n"
            "          - {mountPath: /workspace, volume: v}\n"
            "          - {mountPath: /workspace/sub, volume: w}\n"
            "          - {mountPath: /workspaces, tmpfs: {}}\n";
        _cleanup_free_ char *on = str_printf("  workspace: {}\n%s", steps);

        (void)state;
        assert_non_null(on);
        assert_workflow_invalid(on, "w.yaml:8:33: spec.onExit.task.volumes[0].mountPath: reserved "
                                    "for the workspace: spec.workspace mounts it in every step\n"
                                    "w.yaml:14:14: spec.steps[0].task.volumes[0].mountPath: "
                                    "reserved for the workspace: spec.workspace mounts it in "
                                    "every step");
        /* without a workspace, /workspace is any path */
        assert_workflow_valid(steps);
}

static void test_depends(void **state)
{
        (void)state;
        assert_workflow_invalid(
            "  steps:\n"
            "    - name: extract\n"
            "      task: {image: b}\n"
            "    - name: b\n"
            "      depends: \"extract.Succeeded && (extrct.Failed || nope.Succeeded || "
            "nope.Failed)\"\n"
            "      task: {image: b}\n"
            "    - name: c\n"
            "      depends: c.Succeeded\n"
            "      task: {image: b}\n"
            "    - name: d\n"
            "      depends: \"extract.Succeeded && (b.Failed\"\n"
            "      task: {image: b}\n"
            "    - name: e\n"
            "      depends: \"extract.Done\"\n"
            "      task: {image: b}\n"
            "    - name: f\n"
            "      depends: \"extract.Succeeded\"\n"
            "      dependsOn: [extract]\n"
            "      task: {image: b}\n"
            "    - name: g\n"
            "      depends: [extract]\n"
            "      task: {image: b}\n",
            "w.yaml:10:7: spec.steps[1].depends: unknown step \"extrct\", did you mean "
            "\"extract\"?\n"
            "w.yaml:10:7: spec.steps[1].depends: unknown step \"nope\"\n"
            "w.yaml:13:7: spec.steps[2].depends: a step cannot depend on itself\n"
            "w.yaml:16:7: spec.steps[3].depends: column 31: expected ')' to close the '(' at "
            "column 22\n"
            "w.yaml:19:7: spec.steps[4].depends: column 9: \"extract.Done\": the outcome must be "
            "Succeeded, Failed, Skipped or Completed\n"
            "w.yaml:21:7: spec.steps[5]: use either dependsOn or depends, not both\n"
            "w.yaml:26:7: spec.steps[6].depends: must be a string");
        /* a cycle through depends is reported there */
        assert_workflow_invalid("  steps:\n"
                                "    - {name: a, depends: b.Succeeded, task: {image: b}}\n"
                                "    - {name: b, depends: \"c.Failed || a.Succeeded\", task: "
                                "{image: b}}\n"
                                "    - {name: c, dependsOn: [a], task: {image: b}}\n",
                                "w.yaml:7:17: spec.steps[0].depends: dependency cycle: a -> b -> "
                                "a");
        /* results are readable through depends as through dependsOn */
        assert_workflow_invalid("  steps:\n"
                                "    - {name: a, task: {image: b}}\n"
                                "    - {name: b, depends: a.Failed, task: {image: b}}\n"
                                "    - name: c\n"
                                "      depends: \"!b.Skipped\"\n"
                                "      task:\n"
                                "        image: b\n"
                                "        args: ['{{steps.a.outputs.result}}', "
                                "'{{steps.c.outputs.result}}']\n",
                                "w.yaml:13:46: spec.steps[2].task.args[1]: "
                                "{{steps.c.outputs.result}}: step \"c\" is not a dependency of "
                                "step \"c\"");
}

static void test_when(void **state)
{
        (void)state;
        assert_workflow_invalid(
            "  parameters: [{name: p, value: x}]\n"
            "  steps:\n"
            "    - name: a\n"
            "      task: {image: b}\n"
            "    - name: other\n"
            "      task: {image: b}\n"
            "    - name: c\n"
            "      depends: a.Completed\n"
            "      when: \"{{steps.a.outputs.result}} == ok && {{steps.other.outputs.result}}\"\n"
            "      task: {image: b}\n"
            "    - name: d\n"
            "      dependsOn: [a]\n"
            "      when: \"{{parameters.q}} == 1 || '{{steps.a.outputs.result}}' ==\"\n"
            "      task: {image: b}\n"
            "    - name: e\n"
            "      when: \"({{parameters.p}} == x\"\n"
            "      task: {image: b}\n"
            "    - name: f\n"
            "      when: \"{{parameters.p\"\n"
            "      task: {image: b}\n"
            "    - name: g\n"
            "      when: 5\n"
            "      task: {image: b}\n"
            "    - name: h\n"
            "      when: \"\"\n"
            "      deploy: {service: s, image: b}\n",
            "w.yaml:14:7: spec.steps[2].when: {{steps.other.outputs.result}}: step \"other\" is "
            "not "
            "a dependency of step \"c\"\n"
            /* the column is the one of the text as written */
            "w.yaml:18:7: spec.steps[3].when: column 57: expected an operand, found the end of "
            "the expression\n"
            "w.yaml:18:7: spec.steps[3].when: {{parameters.q}}: unknown parameter \"q\"\n"
            "w.yaml:21:7: spec.steps[4].when: column 23: expected ')' to close the '(' at column "
            "1\n"
            "w.yaml:24:7: spec.steps[5].when: {{parameters.p: unterminated \"{{\"\n"
            "w.yaml:27:7: spec.steps[6].when: must be a string\n"
            "w.yaml:30:7: spec.steps[7].when: column 1: empty expression");
        assert_workflow_valid("  parameters: [{name: p, value: x}]\n"
                              "  steps:\n"
                              "    - {name: a, task: {image: b}}\n"
                              "    - name: c\n"
                              "      depends: a.Succeeded\n"
                              "      when: \"{{parameters.p}} == x && ({{ steps.a.outputs.result "
                              "}} != '' || !false)\"\n"
                              "      task: {image: b}\n"
                              "    - {name: d, when: \"true\", deploy: {service: s, image: b}}\n");
}

static void test_when_length(void **state)
{
        _cleanup_free_ char *ok = NULL, *bad = NULL;
        char text[COND_TEXT_MAX + 2];

        (void)state;
        memset(text, 'a', sizeof(text) - 1);
        text[COND_TEXT_MAX] = '\0';
        ok = str_printf(WORKFLOW_HEAD "  steps: [{name: a, when: %s, task: {image: b}}]\n", text);
        assert_non_null(ok);
        assert_valid(ok);
        text[COND_TEXT_MAX] = 'a';
        text[COND_TEXT_MAX + 1] = '\0';
        bad = str_printf(WORKFLOW_HEAD "  steps: [{name: a, when: %s, task: {image: b}}]\n", text);
        assert_non_null(bad);
        assert_invalid(bad, "w.yaml:6:21: spec.steps[0].when: must be at most 4096 bytes");
}

static void test_with_items_limit(void **state)
{
        _cleanup_buf_ struct buf b = {};

        (void)state;
        buf_init(&b, 1024 * 1024);
        assert_int_equal(buf_append_str(&b, WORKFLOW_HEAD "  steps:\n    - name: a\n"
                                                          "      task: {image: b, args: "
                                                          "['{{item}}']}\n"
                                                          "      withItems: [0"),
                         0);
        for (int i = 1; i < WORKFLOW_ITEMS_MAX; i++)
                assert_int_equal(buf_printf(&b, ", %d", i), 0);
        assert_int_equal(buf_append_str(&b, "]\n"), 0);
        assert_valid(b.data);
        b.len -= 2;
        assert_int_equal(buf_append_str(&b, ", 1000]\n"), 0);
        assert_invalid(b.data, "w.yaml:9:7: spec.steps[0].withItems: 1001 items, at most 1000");
}

static void test_fan_out(void **state)
{
        (void)state;
        assert_workflow_invalid(
            "  steps:\n"
            "    - name: list\n"
            "      task: {image: b}\n"
            "    - name: other\n"
            "      task: {image: b}\n"
            "    - name: a\n"
            "      withItems: [1, {x: 1}]\n"
            "      withParam: \"{{steps.list.outputs.result}}\"\n"
            "      task: {image: b}\n"
            "    - name: b\n"
            "      withItems: {x: 1}\n"
            "      task: {image: b}\n"
            "    - name: c\n"
            "      dependsOn: [list]\n"
            "      withParam: \"{{steps.list.outputs.result}} \"\n"
            "      task: {image: b}\n"
            "    - name: d\n"
            "      dependsOn: [list]\n"
            "      withParam: \"{{parameters.x}}\"\n"
            "      task: {image: b}\n"
            "    - name: e\n"
            "      withParam: \"{{steps.other.outputs.result}}\"\n"
            "      task: {image: b}\n"
            "    - name: f\n"
            "      withParam: \"{{steps.lst.outputs.result}}\"\n"
            "      task: {image: b}\n"
            "    - name: g\n"
            "      withParam: 5\n"
            "      task: {image: b}\n"
            "    - name: h\n"
            "      withItems: [1]\n"
            "      deploy: {service: s, image: b}\n"
            "    - name: i\n"
            "      withParam: \"{{steps.list.outputs.result}}\"\n"
            "      deploy: {service: s, image: b}\n"
            "    - name: j\n"
            "      dependsOn: [list]\n"
            "      withParam: \"{{steps.list.outputs.result}}{{steps.list.outputs.result}}\"\n"
            "      task: {image: b}\n"
            "    - name: k\n"
            "      withItems: [1, null, [2], {}]\n"
            "      task: {image: b}\n",
            "w.yaml:11:7: spec.steps[2]: use either withItems or withParam, not both\n"
            "w.yaml:16:7: spec.steps[3].withItems: must be an array\n"
            "w.yaml:20:7: spec.steps[4].withParam: must be one expression "
            "\"{{steps.<step>.outputs.result}}\"\n"
            "w.yaml:24:7: spec.steps[5].withParam: must be one expression "
            "\"{{steps.<step>.outputs.result}}\"\n"
            "w.yaml:27:7: spec.steps[6].withParam: step \"other\" is not a dependency of step "
            "\"e\"\n"
            "w.yaml:30:7: spec.steps[7].withParam: unknown step \"lst\", did you mean \"list\"?\n"
            "w.yaml:33:7: spec.steps[8].withParam: must be a string\n"
            "w.yaml:36:7: spec.steps[9].withItems: only in a task step: a deploy step cannot fan "
            "out\n"
            "w.yaml:39:7: spec.steps[10].withParam: only in a task step: a deploy step cannot fan "
            "out\n"
            "w.yaml:43:7: spec.steps[11].withParam: must be one expression "
            "\"{{steps.<step>.outputs.result}}\"\n"
            "w.yaml:46:22: spec.steps[12].withItems[1]: must be a string, number, boolean or "
            "object\n"
            "w.yaml:46:28: spec.steps[12].withItems[2]: must be a string, number, boolean or "
            "object");
}

static void test_fan_out_decoded(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        _cleanup_(workflow_spec_release) struct workflow_spec spec = {};

        (void)state;
        /* withParam over a dependency of a dependency */
        decode_ok(WORKFLOW_HEAD "  steps:\n"
                                "    - {name: mid, dependsOn: [list], task: {image: b}}\n"
                                "    - {name: list, task: {image: b}}\n"
                                "    - name: each\n"
                                "      dependsOn: [mid]\n"
                                "      withParam: '{{steps.list.outputs.result}}'\n"
                                "      task: {image: b, args: ['{{item.a.b}}', '{{item}}']}\n"
                                "    - {name: none, withItems: [], task: {image: b, args: "
                                "['{{item.x}}']}}\n",
                  &list, &spec);
        assert_string_equal(spec.steps[2].with_param, "{{steps.list.outputs.result}}");
        assert_int_equal(spec.steps[2].with_param_step, 1);
        assert_int_equal(spec.steps[2].n_deps, 1);
        assert_int_equal(spec.steps[2].deps[0], 0);
        assert_non_null(spec.steps[3].with_items);
        assert_int_equal(json_array_size(spec.steps[3].with_items), 0);
}

static void test_item_expressions(void **state)
{
        (void)state;
        assert_workflow_invalid(
            "  steps:\n"
            "    - name: list\n"
            "      task: {image: b}\n"
            "    - name: a\n"
            "      withItems: [1, two]\n"
            "      task: {image: b, args: ['{{item}}', '{{item.x}}']}\n"
            "    - name: b\n"
            "      withItems: [{x: {y: 1}, z: 2}, {x: {y: 2}}, {x: 3}]\n"
            "      task: {image: b, args: ['{{item.x}}', '{{item.z}}', '{{item.x.y}}', "
            "'{{item}}']}\n"
            "    - name: c\n"
            "      task: {image: b, args: ['{{item}}'], env: [{name: A, value: '{{item.x}}'}]}\n"
            "    - name: d\n"
            "      dependsOn: [list]\n"
            "      withParam: \"{{ steps.list.outputs.result }}\"\n"
            "      when: \"{{item.enabled}} && {{item}} != x\"\n"
            "      task: {image: b, args: ['{{item.a.b}}']}\n"
            "    - name: e\n"
            "      when: \"{{item}}\"\n"
            "      task: {image: b}\n",
            "w.yaml:11:43: spec.steps[1].task.args[1]: {{item.x}}: withItems[0] is not an object\n"
            "w.yaml:14:45: spec.steps[2].task.args[1]: {{item.z}}: withItems[1] has no field "
            "\"z\"\n"
            "w.yaml:14:59: spec.steps[2].task.args[2]: {{item.x.y}}: withItems[2] has no field "
            "\"x.y\"\n"
            "w.yaml:16:31: spec.steps[3].task.args[0]: {{item}}: only in a step with withItems or "
            "withParam\n"
            "w.yaml:16:60: spec.steps[3].task.env[0].value: {{item.x}}: only in a step with "
            "withItems or withParam\n"
            "w.yaml:20:7: spec.steps[4].when: {{item.enabled}}: not in when: it is evaluated "
            "once for the whole step, before any item runs\n"
            "w.yaml:23:7: spec.steps[5].when: {{item}}: not in when: it is evaluated once for "
            "the whole step, before any item runs");
}

/* A fanned-out step's Tasks are "<workflow>-<step>-<index>": 58 characters
 * for both names. */
static void test_fan_out_name_length(void **state)
{
        (void)state;
        assert_invalid("apiVersion: berth/v1\nkind: Workflow\nmetadata:\n"
                       "  name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
                       "spec:\n"
                       "  steps:\n"
                       "    - {name: abcd, withItems: [1], task: {image: b}}\n"
                       "    - {name: abcde, withParam: '{{steps.abcd.outputs.result}}', task: "
                       "{image: b}, dependsOn: [abcd]}\n"
                       "    - {name: abcdefgh, task: {image: b}}\n"
                       "    - {name: abcdefghi, deploy: {service: s, image: b}}\n",
                       "w.yaml:8:8: spec.steps[1].name: the step's Task names "
                       "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-abcde-<index>\" "
                       "can be longer than 63 characters (the index goes up to 999)");
}

static void test_retry_strategy(void **state)
{
        (void)state;
        assert_workflow_invalid(
            "  steps:\n"
            "    - name: a\n"
            "      task: {image: b}\n"
            "      retryStrategy: {backof: {}}\n"
            "    - name: b\n"
            "      task: {image: b}\n"
            "      retryStrategy:\n"
            "        limit: 1001\n"
            "        backoff: {initialSeconds: -1, factor: 11, maxSeconds: 0, max: 1}\n"
            "        retryOn: [Error, Failed, Error, 3]\n"
            "        exitCodes: {in: [1], notIn: [1]}\n"
            "    - name: c\n"
            "      task: {image: b}\n"
            "      retryStrategy:\n"
            "        limit: \"3\"\n"
            "        retryOn: []\n"
            "        exitCodes: {}\n"
            "    - name: d\n"
            "      task: {image: b}\n"
            "      retryStrategy: {limit: 0, retryOn: Error, exitCodes: {notIn: []}}\n"
            "    - name: e\n"
            "      deploy: {service: s, image: b}\n"
            "      retryStrategy: {limit: 1}\n"
            "    - name: f\n"
            "      task: {image: b}\n"
            "      retryStrategy: []\n"
            "    - name: g\n"
            "      task: {image: b}\n"
            "      retryStrategy:\n"
            "        limit: 1\n"
            "        exitCodes: {in: [0, 256, -1, 1, 1, x, 2.5], noIn: [1]}\n"
            "    - name: h\n"
            "      task: {image: b}\n"
            "      retryStrategy:\n"
            "        limit: 1\n"
            "        exitCodes: {in: [1]}\n"
            "        retryOn: [OOMKilled]\n",
            "w.yaml:9:7: spec.steps[0].retryStrategy.limit: required\n"
            "w.yaml:9:23: spec.steps[0].retryStrategy.backof: unknown field, did you mean "
            "spec.steps[0].retryStrategy.backoff?\n"
            "w.yaml:13:9: spec.steps[1].retryStrategy.limit: must be between 0 and 1000\n"
            "w.yaml:14:19: spec.steps[1].retryStrategy.backoff.initialSeconds: must be between 0 "
            "and 86400\n"
            "w.yaml:14:39: spec.steps[1].retryStrategy.backoff.factor: must be between 1 and 10\n"
            "w.yaml:14:51: spec.steps[1].retryStrategy.backoff.maxSeconds: must be between 1 and "
            "86400\n"
            "w.yaml:14:66: spec.steps[1].retryStrategy.backoff.max: unknown field\n"
            "w.yaml:15:26: spec.steps[1].retryStrategy.retryOn[1]: unknown value \"Failed\": one "
            "of Error, OOMKilled, DeadlineExceeded, ContainerLost\n"
            "w.yaml:15:34: spec.steps[1].retryStrategy.retryOn[2]: duplicate value Error (first "
            "at spec.steps[1].retryStrategy.retryOn[0])\n"
            "w.yaml:15:41: spec.steps[1].retryStrategy.retryOn[3]: must be a string\n"
            "w.yaml:16:9: spec.steps[1].retryStrategy.exitCodes: exactly one of in or notIn\n"
            "w.yaml:20:9: spec.steps[2].retryStrategy.limit: must be an integer\n"
            "w.yaml:21:9: spec.steps[2].retryStrategy.retryOn: must list at least one of Error, "
            "OOMKilled, DeadlineExceeded, ContainerLost\n"
            "w.yaml:22:9: spec.steps[2].retryStrategy.exitCodes: exactly one of in or notIn\n"
            "w.yaml:25:33: spec.steps[3].retryStrategy.retryOn: must be an array\n"
            "w.yaml:25:61: spec.steps[3].retryStrategy.exitCodes.notIn: must list at least one "
            "exit code\n"
            "w.yaml:28:7: spec.steps[4].retryStrategy: only in a task step: a deploy step is not "
            "retried\n"
            "w.yaml:31:7: spec.steps[5].retryStrategy: must be an object\n"
            "w.yaml:36:29: spec.steps[6].retryStrategy.exitCodes.in[1]: must be between 0 and "
            "255\n"
            "w.yaml:36:34: spec.steps[6].retryStrategy.exitCodes.in[2]: must be between 0 and "
            "255\n"
            "w.yaml:36:41: spec.steps[6].retryStrategy.exitCodes.in[4]: duplicate exit code 1 "
            "(first at spec.steps[6].retryStrategy.exitCodes.in[3])\n"
            "w.yaml:36:44: spec.steps[6].retryStrategy.exitCodes.in[5]: must be an integer\n"
            "w.yaml:36:47: spec.steps[6].retryStrategy.exitCodes.in[6]: must be an integer\n"
            "w.yaml:36:53: spec.steps[6].retryStrategy.exitCodes.noIn: unknown field, did you "
            "mean spec.steps[6].retryStrategy.exitCodes.notIn?\n"
            "w.yaml:41:9: spec.steps[7].retryStrategy.exitCodes: needs Error in retryOn: the "
            "codes are those of attempts that exited non-zero");
        /* the limits themselves */
        assert_workflow_valid("  steps:\n"
                              "    - name: a\n"
                              "      task: {image: b}\n"
                              "      retryStrategy:\n"
                              "        limit: 1000\n"
                              "        exitCodes: {in: [255, 0]}\n"
                              "        backoff: {initialSeconds: 86400, factor: 10, maxSeconds: "
                              "86400}\n"
                              "        retryOn: [Error, OOMKilled, DeadlineExceeded, "
                              "ContainerLost]\n"
                              "    - {name: b, task: {image: b}, retryStrategy: {limit: 0, "
                              "backoff: {initialSeconds: 0, factor: 1, maxSeconds: 1}}}\n");
}

static void test_apply_retry_strategy(void **state)
{
        _cleanup_json_ json_t *task = NULL, *rs = NULL, *before = NULL;

        (void)state;
        task = json_pack("{s:s, s:s, s:i, s:{s:i}, s:[s], s:{s:[i]}}", "image", "b",
                         "restartPolicy", "Never", "backoffLimit", 6, "backoff", "factor", 2,
                         "retryOn", "Error", "retryExitCodes", "in", 1);
        assert_non_null(task);
        before = json_deep_copy(task);
        assert_int_equal(workflow_apply_retry_strategy(task, NULL), 0);
        assert_true(json_equal(task, before));

        /* only limit: the template's backoff and retry rules go */
        rs = json_pack("{s:i}", "limit", 2);
        assert_int_equal(workflow_apply_retry_strategy(task, rs), 0);
        assert_string_equal(json_path_string(task, "restartPolicy"), "OnFailure");
        assert_int_equal(json_path_int(task, "backoffLimit", -1), 2);
        assert_null(json_object_get(task, "backoff"));
        assert_null(json_object_get(task, "retryOn"));
        assert_null(json_object_get(task, "retryExitCodes"));
        assert_string_equal(json_path_string(task, "image"), "b");
        json_decref(rs);

        /* everything: copied (exitCodes as retryExitCodes), not shared */
        rs = json_pack("{s:i, s:{s:i}, s:[s,s], s:{s:[i,i]}}", "limit", 0, "backoff", "maxSeconds",
                       5, "retryOn", "OOMKilled", "ContainerLost", "exitCodes", "notIn", 1, 2);
        assert_int_equal(workflow_apply_retry_strategy(task, rs), 0);
        assert_string_equal(json_path_string(task, "restartPolicy"), "OnFailure");
        assert_int_equal(json_path_int(task, "backoffLimit", -1), 0);
        assert_true(json_equal(json_object_get(task, "backoff"), json_object_get(rs, "backoff")));
        assert_true(json_equal(json_object_get(task, "retryOn"), json_object_get(rs, "retryOn")));
        assert_true(
            json_equal(json_object_get(task, "retryExitCodes"), json_object_get(rs, "exitCodes")));
        assert_ptr_not_equal(json_object_get(task, "backoff"), json_object_get(rs, "backoff"));
        assert_null(json_object_get(task, "exitCodes"));

        assert_int_equal(workflow_apply_retry_strategy(NULL, rs), -EINVAL);
}

static void test_outputs(void **state)
{
        _cleanup_buf_ struct buf b = {};

        (void)state;
        assert_workflow_invalid(
            "  steps:\n"
            "    - name: a\n"
            "      task: {image: b}\n"
            "      outputs:\n"
            "        result: x\n"
            "        file: []\n"
            "        files:\n"
            "          - {name: \"a.b\", path: rel}\n"
            "          - {name: ok, path: /x}\n"
            "          - {name: ok, path: /y}\n"
            "          - {path: \"\"}\n"
            "          - {name: \"\", path: /z, mode: 1}\n"
            "          - 5\n"
            "          - {name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, "
            "path: /a}\n"
            "    - name: b\n"
            "      deploy: {service: s, image: b}\n"
            "      outputs: {files: []}\n"
            "    - name: c\n"
            "      task: {image: b}\n"
            "      outputs: []\n"
            "    - name: d\n"
            "      task: {image: b}\n"
            "      outputs: {files: {}}\n",
            "w.yaml:10:9: spec.steps[0].outputs.result: not a field: a step's result is always "
            "its standard output\n"
            "w.yaml:11:9: spec.steps[0].outputs.file: unknown field, did you mean "
            "spec.steps[0].outputs.files?\n"
            "w.yaml:13:14: spec.steps[0].outputs.files[0].name: invalid name \"a.b\": must be 1 "
            "to 63 letters, digits, '_' or '-'\n"
            "w.yaml:13:27: spec.steps[0].outputs.files[0].path: must be an absolute path\n"
            "w.yaml:15:14: spec.steps[0].outputs.files[2].name: duplicate name ok (first at "
            "spec.steps[0].outputs.files[1])\n"
            "w.yaml:16:13: spec.steps[0].outputs.files[3].name: required\n"
            "w.yaml:16:14: spec.steps[0].outputs.files[3].path: must not be empty\n"
            "w.yaml:17:14: spec.steps[0].outputs.files[4].name: invalid name \"\": must be 1 to "
            "63 letters, digits, '_' or '-'\n"
            "w.yaml:17:34: spec.steps[0].outputs.files[4].mode: unknown field\n"
            "w.yaml:18:13: spec.steps[0].outputs.files[5]: must be an object\n"
            "w.yaml:19:14: spec.steps[0].outputs.files[6].name: invalid name "
            "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": must be 1 to 63 "
            "letters, digits, '_' or '-'\n"
            "w.yaml:22:7: spec.steps[1].outputs: only in a task step: a deploy step's result is "
            "the image it deployed\n"
            "w.yaml:25:7: spec.steps[2].outputs: must be an object\n"
            "w.yaml:28:17: spec.steps[3].outputs.files: must be an array");

        buf_init(&b, 1024 * 1024);
        assert_int_equal(buf_append_str(&b, WORKFLOW_HEAD "  steps:\n"
                                                          "    - name: a\n"
                                                          "      task: {image: b}\n"
                                                          "      outputs:\n"
                                                          "        files:\n"),
                         0);
        for (int i = 0; i < WORKFLOW_FILES_MAX; i++)
                assert_int_equal(buf_printf(&b, "          - {name: f%d, path: /f}\n", i), 0);
        assert_valid(b.data);
        assert_int_equal(buf_append_str(&b, "          - {name: g, path: /g}\n"), 0);
        assert_invalid(b.data,
                       "w.yaml:10:9: spec.steps[0].outputs.files: must have at most 16 entries, "
                       "has 17");
}

static void test_file_expressions(void **state)
{
        (void)state;
        assert_workflow_invalid(
            "  steps:\n"
            "    - name: a\n"
            "      task: {image: b}\n"
            "      outputs: {files: [{name: out, path: /out}]}\n"
            "    - name: other\n"
            "      task: {image: b}\n"
            "      outputs: {files: [{name: out, path: /out}]}\n"
            "    - name: mid\n"
            "      dependsOn: [a]\n"
            "      task: {image: b}\n"
            "    - name: c\n"
            "      dependsOn: [mid]\n"
            "      when: \"{{steps.a.outputs.files.out}} == x\"\n"
            "      task:\n"
            "        image: b\n"
            "        args: ['{{steps.a.outputs.files.out}}', '{{steps.a.outputs.files.in}}', "
            "'{{steps.other.outputs.files.out}}', '{{steps.mid.outputs.files.out}}', "
            "'{{steps.nope.outputs.files.out}}', '{{steps.a.outputs.files.a.b}}', "
            "'{{steps.a.outputs.files}}']\n"
            "  onExit:\n"
            "    task: {image: b, args: ['{{steps.other.outputs.files.out}}', "
            "'{{steps.c.outputs.files.out}}']}\n",
            "w.yaml:21:49: spec.steps[3].task.args[1]: {{steps.a.outputs.files.in}}: step \"a\" "
            "has no output file \"in\"\n"
            "w.yaml:21:81: spec.steps[3].task.args[2]: {{steps.other.outputs.files.out}}: step "
            "\"other\" is not a dependency of step \"c\"\n"
            "w.yaml:21:118: spec.steps[3].task.args[3]: {{steps.mid.outputs.files.out}}: step "
            "\"mid\" has no output file \"out\"\n"
            "w.yaml:21:153: spec.steps[3].task.args[4]: {{steps.nope.outputs.files.out}}: unknown "
            "step \"nope\"\n"
            "w.yaml:21:189: spec.steps[3].task.args[5]: {{steps.a.outputs.files.a.b}}: step \"a\" "
            "has no output file \"a.b\"\n"
            "w.yaml:21:222: spec.steps[3].task.args[6]: {{steps.a.outputs.files}}: unknown "
            "expression" UNKNOWN_EXPRESSION "\n"
            "w.yaml:23:66: spec.onExit.task.args[1]: {{steps.c.outputs.files.out}}: step \"c\" "
            "has no output file \"out\"");
}

static void test_continue_on_and_build(void **state)
{
        (void)state;
        assert_workflow_invalid("  steps:\n"
                                "    - name: e\n"
                                "      task: {image: b}\n"
                                "      continueOn: {failed: \"yes\", succeeded: true}\n"
                                "    - name: f\n"
                                "      task: {image: b}\n"
                                "      continueOn: true\n"
                                "    - name: g\n"
                                "      task: {image: b}\n"
                                "      build: {context: .}\n",
                                "w.yaml:9:20: spec.steps[0].continueOn.failed: must be a boolean "
                                "(true or false)\n"
                                "w.yaml:9:35: spec.steps[0].continueOn.succeeded: unknown field\n"
                                "w.yaml:12:7: spec.steps[1].continueOn: must be an object\n"
                                "w.yaml:13:7: spec.steps[2]: exactly one of task, deploy or build: "
                                "found task and build");
}

/* A build step: what berthd builds, checked without knowing its roots. */
static void test_build_fields(void **state)
{
        (void)state;
        assert_workflow_invalid(
            "  parameters: [{name: v, value: \"1\"}]\n"
            "  steps:\n"
            "    - name: a\n"
            "      build: {context: rel/dir, dockerfile: ../Dockerfile, tags: [\"x y\", \"\"]}\n"
            "    - name: b\n"
            "      build: {context: \"/srv/{{parameters.v}}\", buildArgs: {1X: a, OK: 5}}\n"
            "    - name: c\n"
            "      build: {context: /srv/app, tags: [\"app:{{parameters.nope}}\"]}\n"
            "      withItems: [1]\n"
            "      retryStrategy: {limit: 1}\n"
            "      outputs: {files: [{name: f, path: /f}]}\n"
            "    - name: d\n"
            "      build: {context: /srv/app, contxt: x}\n",
            "w.yaml:9:15: spec.steps[0].build.context: must be an absolute path on berthd's host\n"
            "w.yaml:9:33: spec.steps[0].build.dockerfile: must be a path inside the context, "
            "without \"..\"\n"
            "w.yaml:9:67: spec.steps[0].build.tags[0]: must not contain whitespace\n"
            "w.yaml:9:74: spec.steps[0].build.tags[1]: must be 1 to 1024 characters\n"
            "w.yaml:11:15: spec.steps[1].build.context: expressions are not allowed here\n"
            "w.yaml:11:61: spec.steps[1].build.buildArgs.1X: invalid build argument name: must "
            "match [A-Za-z_][A-Za-z0-9_]*\n"
            "w.yaml:11:68: spec.steps[1].build.buildArgs.OK: must be a string; quote it: \"5\"\n"
            "w.yaml:13:41: spec.steps[2].build.tags[0]: {{parameters.nope}}: unknown parameter "
            "\"nope\"\n"
            "w.yaml:14:7: spec.steps[2].withItems: only in a task step: a build step cannot fan "
            "out\n"
            "w.yaml:15:7: spec.steps[2].retryStrategy: only in a task step: a build step is not "
            "retried\n"
            "w.yaml:16:7: spec.steps[2].outputs: only in a task step: a build step's result is "
            "the image it built\n"
            "w.yaml:18:34: spec.steps[3].build.contxt: unknown field, did you mean "
            "spec.steps[3].build.context?");
}

static void test_ref_parse(void **state)
{
        struct workflow_ref ref;
        char msg[256];

        (void)state;
        assert_int_equal(workflow_ref_parse("steps.a.outputs.files.out", &ref, msg, sizeof(msg)),
                         0);
        assert_int_equal(ref.type, WORKFLOW_REF_STEP_FILE);
        assert_string_equal(ref.name, "a");
        assert_string_equal(ref.field, "out");
        assert_int_equal(workflow_ref_parse("steps.a.outputs.result", &ref, msg, sizeof(msg)), 0);
        assert_int_equal(ref.type, WORKFLOW_REF_STEP_RESULT);
        assert_string_equal(ref.field, "");
        assert_int_equal(workflow_ref_parse("item", &ref, msg, sizeof(msg)), 0);
        assert_int_equal(ref.type, WORKFLOW_REF_ITEM);
        assert_string_equal(ref.field, "");
        assert_int_equal(workflow_ref_parse("item.a.b", &ref, msg, sizeof(msg)), 0);
        assert_int_equal(ref.type, WORKFLOW_REF_ITEM);
        assert_string_equal(ref.field, "a.b");
        assert_int_equal(workflow_ref_parse("workflow.status", &ref, msg, sizeof(msg)), 0);
        assert_int_equal(ref.type, WORKFLOW_REF_STATUS);
        assert_int_equal(workflow_ref_parse("workflow.failures", &ref, msg, sizeof(msg)), 0);
        assert_int_equal(ref.type, WORKFLOW_REF_FAILURES);
        assert_int_equal(workflow_ref_parse("steps.a.b.outputs.files.out", &ref, msg, sizeof(msg)),
                         -ENOENT);
        assert_string_equal(msg, "unknown step \"a.b\"");
        assert_int_equal(workflow_ref_parse("items", &ref, msg, sizeof(msg)), -ENOENT);
        assert_string_equal(msg, "unknown expression" UNKNOWN_EXPRESSION);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_step_task_depends_on_refused),
            cmocka_unit_test(test_kind),
            cmocka_unit_test(test_diamond_and_defaults),
            cmocka_unit_test(test_limits_valid),
            cmocka_unit_test(test_spec_fields),
            cmocka_unit_test(test_too_many_steps),
            cmocka_unit_test(test_parameters),
            cmocka_unit_test(test_step_fields),
            cmocka_unit_test(test_step_names),
            cmocka_unit_test(test_step_task),
            cmocka_unit_test(test_deploy_valid_and_decoded),
            cmocka_unit_test(test_deploy_exactly_one),
            cmocka_unit_test(test_deploy_fields),
            cmocka_unit_test(test_deploy_image_length),
            cmocka_unit_test(test_deploy_expressions),
            cmocka_unit_test(test_deploy_step_name),
            cmocka_unit_test(test_depends_on),
            cmocka_unit_test(test_cycles),
            cmocka_unit_test(test_cycles_dense),
            cmocka_unit_test(test_step_expressions),
            cmocka_unit_test(test_expression_fields),
            cmocka_unit_test(test_expr_expand),
            cmocka_unit_test(test_expr_expand_limits),
            cmocka_unit_test(test_everything_valid_and_decoded),
            cmocka_unit_test(test_new_fields_absent),
            cmocka_unit_test(test_decode_invalid_releases),
            cmocka_unit_test(test_spec_new_fields),
            cmocka_unit_test(test_on_exit),
            cmocka_unit_test(test_workspace_mount_reserved),
            cmocka_unit_test(test_depends),
            cmocka_unit_test(test_when),
            cmocka_unit_test(test_when_length),
            cmocka_unit_test(test_with_items_limit),
            cmocka_unit_test(test_fan_out),
            cmocka_unit_test(test_fan_out_decoded),
            cmocka_unit_test(test_item_expressions),
            cmocka_unit_test(test_fan_out_name_length),
            cmocka_unit_test(test_retry_strategy),
            cmocka_unit_test(test_apply_retry_strategy),
            cmocka_unit_test(test_outputs),
            cmocka_unit_test(test_file_expressions),
            cmocka_unit_test(test_continue_on_and_build),
            cmocka_unit_test(test_build_fields),
            cmocka_unit_test(test_ref_parse),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
