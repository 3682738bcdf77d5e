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

                assert_string_equal(json_path_string(task, "imagePullPolicy"), "IfNotPresent");
                assert_string_equal(json_path_string(task, "restartPolicy"),
                                    i == 3 ? "OnFailure" : "Never");
                assert_int_equal(json_path_int(task, "backoffLimit", -1), 6);
                assert_int_equal(json_path_int(task, "backoff.initialSeconds", -1), 10);
                assert_int_equal(json_path_int(task, "backoff.factor", -1), 2);
                assert_int_equal(json_path_int(task, "backoff.maxSeconds", -1), 300);
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

        /* 200 steps, each depending on the one before and reading the first */
        buf_init(&b, 1024 * 1024);
        assert_int_equal(buf_append_str(&b, WORKFLOW_HEAD "  parallelism: 1000\n  steps:\n"
                                                          "    - {name: s0, task: {image: b}}\n"),
                         0);
        for (int i = 1; i < 200; i++)
                assert_int_equal(buf_printf(&b,
                                            "    - {name: s%d, dependsOn: [s%d], task: {image: b, "
                                            "args: [\"{{steps.s0.outputs.result}}\"]}}\n",
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
                                "w.yaml:6:3: spec.steps: must have between 1 and 200 entries, "
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
        for (int i = 0; i < 201; i++)
                assert_int_equal(buf_printf(&b, "    - {name: s%d, task: {image: b}}\n", i), 0);
        assert_invalid(b.data, "w.yaml:6:3: spec.steps: must have between 1 and 200 entries, "
                               "has 201");
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
                                "w.yaml:7:7: spec.steps[0]: exactly one of task or deploy: found "
                                "none\n"
                                "w.yaml:8:7: spec.steps[0].tsk: unknown field, did you mean "
                                "spec.steps[0].task?\n"
                                "w.yaml:9:7: spec.steps[0].depends: unknown field, did you mean "
                                "spec.steps[0].dependsOn?\n"
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
                                "w.yaml:7:7: spec.steps[0]: exactly one of task or deploy: found "
                                "both\n"
                                "w.yaml:10:7: spec.steps[1]: exactly one of task or deploy: found "
                                "none\n"
                                "w.yaml:11:7: spec.steps[2]: exactly one of task or deploy: found "
                                "none\n"
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
            "w.yaml:17:38: spec.steps[3].deploy.image: {{x}}: unknown "
            "expression, must be parameters.<name>, "
            "steps.<step>.outputs.result, workflow.name, workflow.namespace or "
            "workflow.uid\n"
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
                           "unknown expression, must be parameters.<name>, "
                           "steps.<step>.outputs.result, workflow.name, workflow.namespace or "
                           "workflow.uid\n"
                           "w.yaml:17:57: spec.steps[3].task.args[1]: {{workflow.labels}}: "
                           "unknown expression, must be parameters.<name>, "
                           "steps.<step>.outputs.result, workflow.name, workflow.namespace or "
                           "workflow.uid");
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
        assert_workflow_invalid("  steps:\n"
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
                                "expression, must be parameters.<name>, "
                                "steps.<step>.outputs.result, workflow.name, workflow.namespace or "
                                "workflow.uid\n"
                                "w.yaml:11:16: spec.steps[0].task.args[0]: {{y}}: unknown "
                                "expression, must be parameters.<name>, "
                                "steps.<step>.outputs.result, workflow.name, workflow.namespace or "
                                "workflow.uid\n"
                                "w.yaml:14:23: spec.steps[0].task.env[0].value: {{z}}: unknown "
                                "expression, must be parameters.<name>, "
                                "steps.<step>.outputs.result, workflow.name, workflow.namespace or "
                                "workflow.uid\n"
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
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
