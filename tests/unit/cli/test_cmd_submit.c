/* Unit tests of `berth submit` against the fake berthd: the POST body with
 * the -p values, the usage errors, following the workflow with --wait (exit
 * codes for Succeeded, Failed and a timeout), and `berth apply` refusing an
 * object named only by generateName. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cli-internal.h"
#include "cli-test.h"

#define WF_PATH  "/apis/berth/v1/namespaces/default/workflows"
#define RUN_PATH WF_PATH "/etl-x2b4z"
#define WATCH    WF_PATH "?watch=true&resourceVersion=5"

static const char *const created =
    "{\"kind\":\"Workflow\",\"metadata\":{\"name\":\"etl-x2b4z\",\"generateName\":\"etl-\","
    "\"namespace\":\"default\",\"resourceVersion\":\"5\"}}";
static const char *const running =
    "{\"kind\":\"Workflow\",\"metadata\":{\"name\":\"etl-x2b4z\",\"namespace\":\"default\","
    "\"resourceVersion\":\"5\"},\"status\":{\"phase\":\"Running\"}}";

static const char *const workflow_yaml =
    "apiVersion: berth/v1\nkind: Workflow\nmetadata:\n  generateName: etl-\nspec:\n"
    "  parameters:\n    - {name: day, value: \"2026-11-27\"}\n"
    "    - {name: region, value: eu}\n"
    "  steps:\n    - {name: extract, task: {image: busybox:latest}}\n";

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

/* The workflow file in the fake's directory; caller frees the path. */
static char *workflow_file(struct fake *f, const char *name, const char *text)
{
        char *path = str_printf("%s/%s", f->dir, name);

        assert_non_null(path);
        write_file(path, text);
        return path;
}

static void test_submit_posts_parameters(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        _cleanup_free_ char *file = workflow_file(f, "wf.yaml", workflow_yaml);

        fake_reset(f);
        fake_route(f, "POST", WF_PATH, 201, created);
        run(&c, "--server", f->url, "submit", file, "-p", "day=2026-12-01", "-p", "region=", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "workflow/etl-x2b4z submitted\n");
        assert_string_equal(c.err, "");
        assert_int_equal(f->requests, 1);
        assert_string_equal(f->last_method, "POST");
        assert_string_equal(f->last_path, WF_PATH);

        json_error_t jerr;
        json_t *body = json_loads(f->last_body, 0, &jerr);
        assert_non_null(body);
        assert_string_equal(json_path_string(body, "metadata.generateName"), "etl-");
        assert_null(json_path(body, "metadata.name"));
        json_t *params = json_path(body, "spec.parameters");
        assert_int_equal(json_array_size(params), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(params, 0), "value")),
                            "2026-12-01");
        assert_string_equal(json_string_value(json_object_get(json_array_get(params, 1), "value")),
                            "");
        json_decref(body);

        /* Without -p the file's values go as they are; -n picks the namespace. */
        fake_reset(f);
        fake_route(f, "POST", "/apis/berth/v1/namespaces/team/workflows", 201, created);
        run(&c, "--server", f->url, "-n", "team", "submit", file, NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(f->last_body, "\"2026-11-27\""));

        /* What the server refuses is printed. */
        fake_reset(f);
        fake_route(f, "POST", WF_PATH, 422,
                   "{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"Invalid\","
                   "\"message\":\"Workflow \\\"\\\" is invalid: spec: no\",\"code\":422}");
        run(&c, "--server", f->url, "submit", file, NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.out, "");
        assert_non_null(strstr(c.err, "Error from server (Invalid): Workflow \"\" is invalid"));
        capture_release(&c);
}

static void test_submit_usage(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        _cleanup_free_ char *file = workflow_file(f, "wf.yaml", workflow_yaml);
        _cleanup_free_ char *task =
            workflow_file(f, "task.yaml",
                          "apiVersion: berth/v1\nkind: Task\nmetadata: {name: t}\n"
                          "spec: {image: busybox:latest}\n");
        _cleanup_free_ char *bare =
            workflow_file(f, "bare.yaml",
                          "apiVersion: berth/v1\nkind: Workflow\nmetadata: {name: w}\n"
                          "spec:\n  steps: [{name: a, task: {image: b}}]\n");

        fake_reset(f);
        run(&c, "--server", f->url, "submit", file, "-p", "nope=1", NULL);
        assert_int_equal(c.rc, 2);
        assert_string_equal(c.err, "error: unknown parameter \"nope\" in -p: the workflow has "
                                   "day, region\nSee 'berth submit --help' for usage.\n");
        run(&c, "--server", f->url, "submit", bare, "-p", "day=1", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "unknown parameter \"day\" in -p: the workflow has none"));
        run(&c, "--server", f->url, "submit", file, "-p", "day", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "error: invalid -p \"day\": want NAME=VALUE\n"));
        run(&c, "--server", f->url, "submit", file, "-p", "=x", NULL);
        assert_int_equal(c.rc, 2);
        run(&c, "--server", f->url, "submit", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "must specify the workflow FILE"));
        run(&c, "--server", f->url, "submit", file, file, NULL);
        assert_int_equal(c.rc, 2);
        run(&c, "--server", f->url, "submit", file, "--timeout", "1m", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "--timeout needs --wait"));
        run(&c, "--server", f->url, "submit", file, "--wait", "--timeout", "soon", NULL);
        assert_int_equal(c.rc, 2);
        run(&c, "--server", f->url, "submit", task, NULL);
        assert_int_equal(c.rc, 1);
        assert_non_null(strstr(c.err, "Task is not a Workflow"));
        assert_int_equal(f->requests, 0);

        run(&c, "submit", "--help", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "berth submit FILE [-p NAME=VALUE]..."));
        assert_non_null(strstr(c.out, "--wait"));
        capture_release(&c);
}

static void test_submit_wait(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        _cleanup_free_ char *file = workflow_file(f, "wf.yaml", workflow_yaml);

        /* Succeeded, seen on the watch: 0. */
        fake_reset(f);
        fake_route(f, "POST", WF_PATH, 201, created);
        fake_route(f, "GET", RUN_PATH, 200, running);
        fake_route(f, "GET", WATCH, 200,
                   "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Workflow\",\"metadata\":{"
                   "\"name\":\"etl-other\"},\"status\":{\"phase\":\"Failed\"}}}\n"
                   "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Workflow\",\"metadata\":{"
                   "\"name\":\"etl-x2b4z\"},\"status\":{\"phase\":\"Succeeded\"}}}\n");
        run(&c, "--server", f->url, "submit", file, "--wait", "--timeout", "10s", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "workflow/etl-x2b4z submitted\nworkflow/etl-x2b4z succeeded\n");
        assert_string_equal(c.err, "");

        /* Failed: 1, with the reason and message. */
        fake_reset(f);
        fake_route(f, "POST", WF_PATH, 201, created);
        fake_route(f, "GET", RUN_PATH, 200, running);
        fake_route(f, "GET", WATCH, 200,
                   "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Workflow\",\"metadata\":{"
                   "\"name\":\"etl-x2b4z\"},\"status\":{\"phase\":\"Failed\",\"reason\":"
                   "\"StepFailed\",\"message\":\"step extract failed: exit code 3\"}}}\n");
        run(&c, "--server", f->url, "submit", file, "--wait", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.out, "workflow/etl-x2b4z submitted\n");
        assert_string_equal(
            c.err,
            "error: workflow/etl-x2b4z failed: StepFailed: step extract failed: exit code 3\n");

        /* Already finished at the first look. */
        fake_reset(f);
        fake_route(f, "POST", WF_PATH, 201, created);
        fake_route(f, "GET", RUN_PATH, 200,
                   "{\"kind\":\"Workflow\",\"metadata\":{\"name\":\"etl-x2b4z\"},"
                   "\"status\":{\"phase\":\"Failed\"}}");
        run(&c, "--server", f->url, "submit", file, "--wait", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "error: workflow/etl-x2b4z failed: Failed\n");

        /* Still running at the timeout: 1. */
        fake_reset(f);
        fake_route(f, "POST", WF_PATH, 201, created);
        fake_route(f, "GET", RUN_PATH, 200, running);
        fake_hold(f, WATCH, "", 3000);
        run(&c, "--server", f->url, "submit", file, "--wait", "--timeout", "300ms", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.out, "workflow/etl-x2b4z submitted\n");
        assert_string_equal(c.err, "error: timed out waiting for workflow/etl-x2b4z to finish\n");

        /* Deleted meanwhile: 1. */
        fake_reset(f);
        fake_route(f, "POST", WF_PATH, 201, created);
        fake_route(f, "GET", RUN_PATH, 200, running);
        fake_route(f, "GET", WATCH, 200,
                   "{\"type\":\"DELETED\",\"object\":{\"kind\":\"Workflow\",\"metadata\":{"
                   "\"name\":\"etl-x2b4z\"}}}\n");
        run(&c, "--server", f->url, "submit", file, "--wait", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "error: workflow/etl-x2b4z was deleted before it finished\n");
        capture_release(&c);
}

/* examples/workflow/submit.yaml is valid and submits under its prefix. */
static void test_submit_example(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        const char *fixtures = getenv("BERTH_FIXTURES");

        if (!fixtures)
                skip();
        _cleanup_free_ char *file = str_printf("%s/../../examples/workflow/submit.yaml", fixtures);
        fake_reset(f);
        fake_route(f, "POST", WF_PATH, 201, created);
        run(&c, "--server", f->url, "submit", file, "-p", "day=2026-12-01", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.err, "");
        assert_non_null(strstr(f->last_body, "\"generateName\":\"etl-\""));
        assert_non_null(strstr(f->last_body, "\"value\":\"2026-12-01\""));
        capture_release(&c);
}

/* apply cannot take an object named only by generateName: refused before
 * anything is sent, with the file, line and column. */
static void test_apply_refuses_generate_name(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        _cleanup_free_ char *file = workflow_file(f, "wf.yaml", workflow_yaml);

        fake_reset(f);
        run(&c, "--server", f->url, "apply", "-f", file, NULL);
        assert_int_equal(c.rc, 1);
        _cleanup_free_ char *want =
            str_printf("%s:4:3: metadata.generateName: generateName needs berth submit (a POST "
                       "to the collection): apply cannot tell which object to update\n",
                       file);
        assert_string_equal(c.err, want);
        assert_int_equal(f->requests, 0);
        capture_release(&c);
}

int main(void)
{
        const struct CMUnitTest served[] = {
            cmocka_unit_test(test_submit_posts_parameters),
            cmocka_unit_test(test_submit_usage),
            cmocka_unit_test(test_submit_wait),
            cmocka_unit_test(test_submit_example),
            cmocka_unit_test(test_apply_refuses_generate_name),
        };
        cli_test_env();
        unsetenv("NO_COLOR");
        return cmocka_run_group_tests_name("submit", served, fake_setup, fake_teardown);
}
