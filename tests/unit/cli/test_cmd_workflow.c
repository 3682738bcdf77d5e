/* Unit tests of what a user asks of a run: the workflow tree (pure, from
 * plain JSON), and through cli_run() against the fake berthd `get -o tree`,
 * `stop`, `retry` (with --wait), `cp` and `logs --step`. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include "cli-internal.h"
#include "cli-test.h"

#define API      "/apis/berth/v1/namespaces/default"
#define WF_PATH  API "/workflows/etl"
#define WF_WATCH API "/workflows?watch=true&resourceVersion=5"
#define TASKS_OF API "/tasks?labelSelector=berth.workflow%3Detl"

static json_t *load(const char *text)
{
        json_error_t e;
        json_t *j = json_loads(text, 0, &e);
        if (!j)
                fail_msg("bad test JSON: %s: %s", e.text, text);
        return j;
}

static int64_t at(const char *rfc3339)
{
        int64_t ms = 0;
        assert_int_equal(time_parse_rfc3339(rfc3339, &ms), 0);
        return ms;
}

/* The tree of workflow and tasks (JSON texts; tasks may be NULL) at now. */
static char *tree_of(const char *workflow, const char *tasks, const char *now)
{
        json_t *w = load(workflow);
        json_t *t = tasks ? load(tasks) : NULL;
        char *s = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&s, &len);

        assert_non_null(out);
        assert_int_equal(cli_workflow_tree_print(out, w, t, at(now)), 0);
        fclose(out);
        json_decref(w);
        json_decref(t);
        return s;
}

static char *child(const char *step, int index, const char *phase, const char *start,
                   const char *end)
{
        return str_printf(
            "{\"metadata\":{\"name\":\"etl-%s-%d\",\"labels\":{\"berth.workflow\":"
            "\"etl\",\"berth.step\":\"%s\"}},\"status\":{\"phase\":\"%s\"%s%s%s%s%s%s}}",
            step, index, step, phase, start ? ",\"startTime\":\"" : "", start ? start : "",
            start ? "\"" : "", end ? ",\"completionTime\":\"" : "", end ? end : "",
            end ? "\"" : "");
}

/* etl: extract, transform (fanned out over 2 items), load, and onExit. */
static const char *const etl_running =
    "{\"kind\":\"Workflow\",\"metadata\":{\"name\":\"etl\",\"namespace\":\"default\","
    "\"resourceVersion\":\"5\"},"
    "\"spec\":{\"steps\":[{\"name\":\"extract\",\"task\":{\"image\":\"b\"}},"
    "{\"name\":\"transform\",\"dependsOn\":[\"extract\"],\"withItems\":[1,2],"
    "\"task\":{\"image\":\"b\"}},"
    "{\"name\":\"load\",\"dependsOn\":[\"transform\"],\"task\":{\"image\":\"b\"}}],"
    "\"onExit\":{\"task\":{\"image\":\"b\"}}},"
    "\"status\":{\"phase\":\"Running\",\"progress\":\"2/4\","
    "\"startTime\":\"2026-01-01T00:00:00Z\",\"steps\":["
    "{\"name\":\"extract\",\"phase\":\"Succeeded\",\"task\":\"etl-extract\","
    "\"startTime\":\"2026-01-01T00:00:00Z\",\"finishTime\":\"2026-01-01T00:00:01Z\"},"
    "{\"name\":\"transform\",\"phase\":\"Running\",\"items\":2,\"created\":2,"
    "\"startTime\":\"2026-01-01T00:00:09Z\"},"
    "{\"name\":\"load\",\"phase\":\"Pending\"}],"
    "\"onExit\":{\"name\":\"onExit\",\"phase\":\"Pending\"}}}";

static const char *const etl_children =
    "[{\"metadata\":{\"name\":\"etl-transform-1\",\"labels\":{\"berth.workflow\":\"etl\","
    "\"berth.step\":\"transform\"}},\"status\":{\"phase\":\"Running\","
    "\"startTime\":\"2026-01-01T00:00:10Z\"}},"
    "{\"metadata\":{\"name\":\"etl-extract\",\"labels\":{\"berth.workflow\":\"etl\","
    "\"berth.step\":\"extract\"}},\"status\":{\"phase\":\"Succeeded\"}},"
    "{\"metadata\":{\"name\":\"etl-transform-0\",\"labels\":{\"berth.workflow\":\"etl\","
    "\"berth.step\":\"transform\"}},\"status\":{\"phase\":\"Succeeded\","
    "\"startTime\":\"2026-01-01T00:00:09Z\",\"completionTime\":\"2026-01-01T00:00:10Z\"}}]";

static const char *const etl_tree = "WORKFLOW  etl  Running  2/4  12s\n"
                                    "├─ extract    Succeeded  1s\n"
                                    "├─ transform  Running    3s\n"
                                    "│  ├─ transform-0  Succeeded  1s\n"
                                    "│  └─ transform-1  Running    2s\n"
                                    "└─ load       Pending         ← transform\n"
                                    "onExit        Pending\n";

/* ---- the tree (pure) --------------------------------------------------------- */

static void test_tree(void **state)
{
        (void)state;
        char *s = tree_of(etl_running, etl_children, "2026-01-01T00:00:12Z");
        assert_string_equal(s, etl_tree);
        free(s);

        /* Before berthd wrote any status: the spec's steps, all Pending; the
         * progress counts them. */
        s = tree_of("{\"metadata\":{\"name\":\"etl\"},\"spec\":{\"steps\":[{\"name\":\"a\"},"
                    "{\"name\":\"b\",\"dependsOn\":[\"a\"]}]}}",
                    NULL, "2026-01-01T00:00:12Z");
        assert_string_equal(s, "WORKFLOW  etl  Pending  0/2\n"
                               "├─ a  Pending\n"
                               "└─ b  Pending\n");
        free(s);
}

/* Topological order, spec order among the steps ready together; dependencies
 * shown unless it is only the line right above; depends expressions. */
static void test_tree_order(void **state)
{
        (void)state;
        char *s = tree_of(
            "{\"metadata\":{\"name\":\"dag\"},\"spec\":{\"steps\":["
            "{\"name\":\"report\",\"depends\":\"(left.Succeeded || left.Failed) && "
            "right.Succeeded && !left.Skipped\"},"
            "{\"name\":\"left\",\"dependsOn\":[\"fetch\"]},"
            "{\"name\":\"fetch\"},"
            "{\"name\":\"right\",\"dependsOn\":[\"fetch\"]},"
            "{\"name\":\"lint\"}]},"
            "\"status\":{\"phase\":\"Failed\",\"progress\":\"3/5\",\"reason\":\"Stopped\","
            "\"startTime\":\"2026-01-01T00:00:00Z\",\"completionTime\":\"2026-01-01T00:01:30Z\","
            "\"steps\":[{\"name\":\"report\",\"phase\":\"Skipped\"},"
            "{\"name\":\"left\",\"phase\":\"Failed\",\"startTime\":\"2026-01-01T00:00:05Z\","
            "\"finishTime\":\"2026-01-01T00:01:25Z\"},"
            "{\"name\":\"fetch\",\"phase\":\"Succeeded\",\"startTime\":\"2026-01-01T00:00:00Z\","
            "\"finishTime\":\"2026-01-01T00:00:05Z\"},"
            "{\"name\":\"right\",\"phase\":\"Succeeded\",\"startTime\":\"2026-01-01T00:00:05Z\","
            "\"finishTime\":\"2026-01-01T00:00:06Z\"},"
            "{\"name\":\"lint\",\"phase\":\"Succeeded\",\"startTime\":\"2026-01-01T00:00:00Z\","
            "\"finishTime\":\"2026-01-01T00:00:02Z\"}]}}",
            NULL, "2026-01-01T01:00:00Z");
        assert_string_equal(s, "WORKFLOW  dag  Failed  3/5  1m30s\n"
                               "├─ fetch   Succeeded  5s\n"
                               "├─ left    Failed     1m20s\n"
                               "├─ right   Succeeded  1s      ← fetch\n"
                               "├─ report  Skipped            ← left, right\n"
                               "└─ lint    Succeeded  2s\n");
        free(s);

        /* A cycle (berthd refuses one) still draws every step once. */
        s = tree_of("{\"metadata\":{\"name\":\"c\"},\"spec\":{\"steps\":["
                    "{\"name\":\"a\",\"dependsOn\":[\"b\"]},{\"name\":\"b\",\"dependsOn\":[\"a\"]},"
                    "{\"name\":\"a\"}]}}",
                    NULL, "2026-01-01T00:00:00Z");
        assert_string_equal(s, "WORKFLOW  c  Pending  0/3\n"
                               "├─ a  Pending   ← b\n"
                               "└─ b  Pending\n");
        free(s);
}

/* More than CLI_TREE_CHILDREN_MAX children: counted by phase, then those that
 * did not succeed; children still to be made are counted. */
static void test_tree_many_children(void **state)
{
        (void)state;
        json_t *tasks = json_array();
        for (int i = 0; i < 25; i++) {
                const char *phase = i == 7               ? "Failed"
                                    : i == 20 || i == 24 ? "Running"
                                                         : "Succeeded";
                char *c = child("fan", i, phase, "2026-01-01T00:00:00Z",
                                streq(phase, "Running") ? NULL : "2026-01-01T00:00:04Z");
                json_array_append_new(tasks, load(c));
                free(c);
        }
        /* Another step's and another workflow's Tasks are not children. */
        json_array_append_new(tasks,
                              load("{\"metadata\":{\"name\":\"etl-fan-99\",\"labels\":{"
                                   "\"berth.workflow\":\"other\",\"berth.step\":\"fan\"}}}"));
        char *text = json_dumps(tasks, JSON_COMPACT);
        json_decref(tasks);
        char *s = tree_of("{\"metadata\":{\"name\":\"etl\"},\"spec\":{\"steps\":["
                          "{\"name\":\"fan\",\"withItems\":[]}]},"
                          "\"status\":{\"phase\":\"Running\",\"progress\":\"0/1\","
                          "\"startTime\":\"2026-01-01T00:00:00Z\",\"steps\":[{\"name\":\"fan\","
                          "\"phase\":\"Running\",\"items\":30,\"created\":25,"
                          "\"startTime\":\"2026-01-01T00:00:00Z\"}]}}",
                          text, "2026-01-01T00:00:10Z");
        assert_string_equal(s, "WORKFLOW  etl  Running  0/1  10s\n"
                               "└─ fan  Running  10s\n"
                               "   ├─ 25 tasks: 22 Succeeded, 2 Running, 1 Failed\n"
                               "   ├─ fan-7   Failed   4s\n"
                               "   ├─ fan-20  Running  10s\n"
                               "   ├─ fan-24  Running  10s\n"
                               "   └─ 5 more not created yet\n");
        free(s);
        free(text);

        /* With many failing: at most CLI_TREE_CHILDREN_MAX of them listed. */
        tasks = json_array();
        for (int i = 0; i < 30; i++) {
                char *c = child("fan", i, "Pending", NULL, NULL);
                json_array_append_new(tasks, load(c));
                free(c);
        }
        text = json_dumps(tasks, JSON_COMPACT);
        json_decref(tasks);
        s = tree_of("{\"metadata\":{\"name\":\"etl\"},\"spec\":{\"steps\":[{\"name\":\"fan\"},"
                    "{\"name\":\"after\",\"dependsOn\":[\"fan\"]}]},"
                    "\"status\":{\"steps\":[{\"name\":\"fan\",\"phase\":\"Running\","
                    "\"items\":30,\"created\":30}]}}",
                    text, "2026-01-01T00:00:10Z");
        assert_non_null(strstr(s, "├─ fan    Running\n│  ├─ 30 tasks: 30 Pending\n"
                                  "│  ├─ fan-0   Pending\n"));
        assert_non_null(strstr(s, "│  ├─ fan-19  Pending\n│  └─ ... and 10 more\n"
                                  "└─ after  Pending   ← fan\n"));
        assert_null(strstr(s, "fan-20"));
        free(s);
        free(text);
}

/* ---- get -o tree ------------------------------------------------------------ */

static void test_get_tree(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};

        fake_reset(f);
        fake_route(f, "GET", WF_PATH, 200, etl_running);
        _cleanup_free_ char *list =
            str_printf("{\"kind\":\"TaskList\",\"items\":%s}", etl_children);
        fake_route(f, "GET", TASKS_OF, 200, list);
        run(&c, "--server", f->url, "get", "wf", "etl", "-o", "tree", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.err, "");
        assert_non_null(strstr(c.out, "WORKFLOW  etl  Running  2/4  "));
        assert_non_null(strstr(c.out, "│  ├─ transform-0  Succeeded  1s\n"));
        assert_non_null(strstr(c.out, "onExit        Pending\n"));
        assert_string_equal(f->paths[1], TASKS_OF);

        /* Two: a blank line between; one missing: said, exit 1. */
        run(&c, "--server", f->url, "get", "workflow/etl", "workflow/gone", "-o", "tree", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "Error from server (NotFound): workflows \"gone\" not found\n");

        /* Usage. */
        fake_reset(f);
        run(&c, "--server", f->url, "get", "tasks", "-o", "tree", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "-o tree is for workflows, not tasks"));
        run(&c, "--server", f->url, "get", "wf", "-o", "tree", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "-o tree draws named workflows"));
        run(&c, "--server", f->url, "get", "wf", "etl", "-o", "tree", "-w", NULL);
        assert_int_equal(c.rc, 2);
        run(&c, "--server", f->url, "get", "wf", "-o", "forest", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "want wide, json, yaml, name or tree"));
        assert_int_equal(f->requests, 0);
        capture_release(&c);
}

/* ---- stop ------------------------------------------------------------------- */

static void test_stop(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};

        fake_reset(f);
        fake_route(f, "GET", WF_PATH, 200, etl_running);
        fake_route(f, "PUT", WF_PATH, 200, etl_running);
        run(&c, "--server", f->url, "stop", "workflow/etl", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "workflow/etl stopping\n");
        assert_string_equal(c.err, "");
        assert_int_equal(f->requests, 2);
        json_t *body = load(f->bodies[1]);
        assert_string_equal(json_path_string(body, "spec.shutdown"), "Stop");
        assert_string_equal(json_path_string(body, "metadata.resourceVersion"), "5");
        assert_non_null(json_path(body, "spec.onExit"));
        json_decref(body);

        /* A task, named the other way. */
        fake_reset(f);
        const char *hello = "{\"kind\":\"Task\",\"metadata\":{\"name\":\"hello\"},\"spec\":{"
                            "\"image\":\"b\"},\"status\":{\"phase\":\"Running\"}}";
        fake_route(f, "GET", API "/tasks/hello", 200, hello);
        fake_route(f, "PUT", API "/tasks/hello", 200, hello);
        run(&c, "--server", f->url, "stop", "task", "hello", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "task/hello stopping\n");
        assert_non_null(strstr(f->last_body, "\"shutdown\":\"Stop\""));

        /* Finished or stopping already: nothing written, exit 0. */
        fake_reset(f);
        fake_route(f, "GET", WF_PATH, 200,
                   "{\"kind\":\"Workflow\",\"metadata\":{\"name\":\"etl\"},\"spec\":{},"
                   "\"status\":{\"phase\":\"Succeeded\"}}");
        run(&c, "--server", f->url, "stop", "wf/etl", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "workflow/etl is already finished (Succeeded)\n");
        assert_int_equal(f->requests, 1);
        fake_reset(f);
        fake_route(f, "GET", WF_PATH, 200,
                   "{\"kind\":\"Workflow\",\"metadata\":{\"name\":\"etl\"},\"spec\":{"
                   "\"shutdown\":\"Stop\"},\"status\":{\"phase\":\"Running\"}}");
        run(&c, "--server", f->url, "stop", "wf/etl", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "workflow/etl is already stopping\n");
        assert_int_equal(f->requests, 1);

        /* Not there; not a task or workflow; no name. */
        fake_reset(f);
        run(&c, "--server", f->url, "stop", "workflow/etl", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "Error from server (NotFound): workflows \"etl\" not found\n");
        run(&c, "--server", f->url, "stop", "service/web", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "stop works on tasks and workflows, not services"));
        run(&c, "--server", f->url, "stop", "workflow", NULL);
        assert_int_equal(c.rc, 2);
        run(&c, "--server", f->url, "stop", NULL);
        assert_int_equal(c.rc, 2);
        assert_int_equal(f->requests, 1);

        run(&c, "stop", "--help", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "berth stop task/NAME | workflow/NAME"));
        capture_release(&c);
}

/* ---- retry ------------------------------------------------------------------- */

static const char *const etl_stopped =
    "{\"kind\":\"Workflow\",\"metadata\":{\"name\":\"etl\",\"namespace\":\"default\","
    "\"resourceVersion\":\"5\",\"annotations\":{\"team\":\"data\"}},"
    "\"spec\":{\"shutdown\":\"Stop\",\"steps\":[{\"name\":\"a\"}]},"
    "\"status\":{\"phase\":\"Failed\",\"reason\":\"Stopped\"}}";

static void test_retry(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};

        /* One write: the annotation set to now, spec.shutdown gone. */
        fake_reset(f);
        fake_route(f, "GET", WF_PATH, 200, etl_stopped);
        fake_route(f, "PUT", WF_PATH, 200, etl_stopped);
        int64_t before = time_now_ms() / 1000 * 1000;
        run(&c, "--server", f->url, "retry", "workflow/etl", NULL);
        int64_t after = time_now_ms();
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "workflow/etl retrying\n");
        assert_string_equal(c.err, "");
        assert_int_equal(f->requests, 2);
        json_t *body = load(f->bodies[1]);
        const char *when = json_string_value(json_path(body, "metadata.annotations.berth/retry"));
        assert_non_null(when);
        int64_t ms = at(when);
        assert_true(ms >= before && ms <= after);
        assert_string_equal(json_path_string(body, "metadata.annotations.team"), "data");
        assert_null(json_path(body, "spec.shutdown"));
        assert_non_null(json_path(body, "spec.steps"));
        json_decref(body);

        /* Only a Failed workflow. */
        fake_reset(f);
        fake_route(f, "GET", WF_PATH, 200, etl_running);
        run(&c, "--server", f->url, "retry", "wf", "etl", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.out, "");
        assert_string_equal(c.err, "error: workflow/etl is Running: only a Failed workflow can be "
                                   "retried\n");
        assert_int_equal(f->requests, 1);

        /* Usage. */
        fake_reset(f);
        run(&c, "--server", f->url, "retry", "task/etl", NULL);
        assert_int_equal(c.rc, 2);
        run(&c, "--server", f->url, "retry", "etl", "--timeout", "1m", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "--timeout needs --wait"));
        assert_int_equal(f->requests, 0);
        run(&c, "retry", "--help", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "berth retry workflow/NAME [--wait [--timeout DURATION]]"));
        capture_release(&c);
}

/* --wait: the old run's Failed does not count until status.retriedFor names
 * this retry. */
static void test_retry_wait(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};

        /* The watch echoes the retry's time (the annotation the PUT wrote). */
        const char *events =
            "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Workflow\",\"metadata\":{\"name\":"
            "\"etl\"},\"status\":{\"phase\":\"Failed\",\"retriedFor\":\"2020-01-01T00:00:00Z\"}}}\n"
            "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Workflow\",\"metadata\":{\"name\":"
            "\"etl\"},\"status\":{\"phase\":\"Succeeded\",\"retriedFor\":\"@annotation:berth/"
            "retry@\"}}}\n";
        fake_reset(f);
        fake_route(f, "GET", WF_PATH, 200, etl_stopped);
        fake_route(f, "PUT", WF_PATH, 200, etl_stopped);
        fake_route(f, "GET", WF_WATCH, 200, events);
        run(&c, "--server", f->url, "retry", "workflow/etl", "--wait", "--timeout", "10s", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "workflow/etl retrying\nworkflow/etl succeeded\n");
        assert_string_equal(c.err, "");

        /* Only the old run's Failed seen: still waiting at the timeout. */
        fake_reset(f);
        fake_route(f, "GET", WF_PATH, 200, etl_stopped);
        fake_route(f, "PUT", WF_PATH, 200, etl_stopped);
        fake_hold(f, WF_WATCH, "", 3000);
        run(&c, "--server", f->url, "retry", "workflow/etl", "--wait", "--timeout", "300ms", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.out, "workflow/etl retrying\n");
        assert_string_equal(c.err, "error: timed out waiting for workflow/etl to finish\n");
        capture_release(&c);
}

/* ---- cp ---------------------------------------------------------------------- */

#define FILE_PATH WF_PATH "/results?step=test&file=report"

static char *slurp(const char *path)
{
        FILE *in = fopen(path, "r");
        char buf[256];
        size_t n;

        assert_non_null(in);
        n = fread(buf, 1, sizeof(buf) - 1, in);
        fclose(in);
        buf[n] = '\0';
        return strdup(buf);
}

static void test_cp(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};

        fake_reset(f);
        fake_add(f, &(struct fake_route){.method = "GET",
                                         .path = FILE_PATH,
                                         .status = 200,
                                         .content_type = "application/octet-stream",
                                         .body = "<testsuite/>\n"});
        run(&c, "--server", f->url, "cp", "workflow/etl:test/report", "-", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "<testsuite/>\n");
        assert_string_equal(c.err, "");

        /* To a file, then to a directory (named after the file). */
        _cleanup_free_ char *file = str_printf("%s/out.xml", f->dir);
        run(&c, "--server", f->url, "cp", "wf/etl:test/report", file, NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "");
        char *got = slurp(file);
        assert_string_equal(got, "<testsuite/>\n");
        free(got);
        unlink(file);
        run(&c, "--server", f->url, "cp", "etl:test/report", f->dir, NULL);
        assert_int_equal(c.rc, 0);
        _cleanup_free_ char *named = str_printf("%s/report", f->dir);
        got = slurp(named);
        assert_string_equal(got, "<testsuite/>\n");
        free(got);
        unlink(named);

        /* Where it cannot be written. */
        _cleanup_free_ char *nowhere = str_printf("%s/no/such/dir/x", f->dir);
        run(&c, "--server", f->url, "cp", "workflow/etl:test/report", nowhere, NULL);
        assert_int_equal(c.rc, 1);
        assert_non_null(strstr(c.err, "error: cannot write "));
        assert_non_null(strstr(c.err, "No such file or directory"));

        /* What berthd does not have; a berthd that answers JSON. */
        fake_reset(f);
        fake_route(f, "GET", FILE_PATH, 404,
                   "{\"kind\":\"Status\",\"code\":404,\"reason\":\"NotFound\",\"message\":"
                   "\"workflow etl has no file report of step test\"}");
        run(&c, "--server", f->url, "cp", "workflow/etl:test/report", "-", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.out, "");
        assert_string_equal(c.err, "Error from server (NotFound): workflow etl has no file "
                                   "report of step test\n");
        fake_reset(f);
        fake_route(f, "GET", FILE_PATH, 200, "{\"steps\":{}}");
        run(&c, "--server", f->url, "cp", "workflow/etl:test/report", "-", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.out, "");
        assert_non_null(strstr(c.err, "berthd answered with application/json, not the file"));

        /* Usage: nothing sent. */
        fake_reset(f);
        const char *const bad[][2] = {
            {"task/x:a/b", "only workflows have files, not tasks"},
            {"workflow/etl", "no \":\" after the workflow's name"},
            {"workflow/etl:test", "no \"/\" between the step and the file"},
            {"workflow/etl:test/", "invalid file name \"\""},
            {"workflow/etl:te.st/x", "invalid step name \"te.st\""},
            {"workflow/Etl:test/x", "invalid workflow name \"Etl\""},
            {"workflow/etl:test/a/b", "invalid file name \"a/b\""},
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                run(&c, "--server", f->url, "cp", bad[i][0], "-", NULL);
                assert_int_equal(c.rc, 2);
                if (!strstr(c.err, bad[i][1]))
                        fail_msg("%s: %s", bad[i][0], c.err);
        }
        run(&c, "--server", f->url, "cp", "workflow/etl:test/report", NULL);
        assert_int_equal(c.rc, 2);
        run(&c, "--server", f->url, "cp", "workflow/etl:test/report", "", NULL);
        assert_int_equal(c.rc, 2);
        assert_int_equal(f->requests, 0);
        run(&c, "cp", "--help", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "berth cp workflow/NAME:STEP/FILE DEST|-"));
        capture_release(&c);
}

/* ---- logs --step ---------------------------------------------------------------- */

#define TASK_LOG(name, q) API "/tasks/" name "/log" q

static const char *const etl_done =
    "{\"kind\":\"Workflow\",\"metadata\":{\"name\":\"etl\",\"namespace\":\"default\"},"
    "\"spec\":{\"steps\":[{\"name\":\"extract\"},{\"name\":\"transform\"},"
    "{\"name\":\"deploy\"},{\"name\":\"load\"}],\"onExit\":{\"task\":{}}},"
    "\"status\":{\"phase\":\"Running\",\"steps\":["
    "{\"name\":\"extract\",\"phase\":\"Succeeded\",\"task\":\"etl-extract\"},"
    "{\"name\":\"transform\",\"phase\":\"Running\",\"items\":3,\"created\":2},"
    "{\"name\":\"deploy\",\"phase\":\"Running\",\"service\":\"web\",\"image\":\"x\"},"
    "{\"name\":\"load\",\"phase\":\"Pending\"}],"
    "\"onExit\":{\"name\":\"onExit\",\"phase\":\"Succeeded\",\"task\":\"etl-onexit\"}}}";

static void test_logs_step(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};

        /* A plain step: its task's log, followed with -f. */
        fake_reset(f);
        fake_route(f, "GET", WF_PATH, 200, etl_done);
        fake_route(f, "GET", TASK_LOG("etl-extract", "?follow=true&tailLines=3"), 200, "42\n");
        run(&c, "--server", f->url, "logs", "-f", "--tail", "3", "workflow/etl", "--step",
            "extract", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "42\n");
        assert_string_equal(c.err, "");

        /* A fanned-out step: the children created so far, side by side. */
        fake_route(f, "GET", TASK_LOG("etl-transform-0", ""), 200, "zero\nnull\n");
        fake_route(f, "GET", TASK_LOG("etl-transform-1", ""), 200, "one");
        run(&c, "--server", f->url, "logs", "wf/etl", "--step", "transform", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "[transform-0] zero\n"));
        assert_non_null(strstr(c.out, "[transform-0] null\n"));
        assert_non_null(strstr(c.out, "[transform-1] one\n"));
        assert_int_equal(strlen(c.out), strlen("[transform-0] zero\n[transform-0] null\n"
                                               "[transform-1] one\n"));

        /* The exit handler. */
        fake_route(f, "GET", TASK_LOG("etl-onexit", ""), 200, "bye\n");
        run(&c, "--server", f->url, "logs", "wf/etl", "--step", "onExit", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "bye\n");

        /* Steps without a task; an unknown step. */
        run(&c, "--server", f->url, "logs", "wf/etl", "--step", "load", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "error: step load of workflow/etl has no task yet (Pending)\n");
        run(&c, "--server", f->url, "logs", "wf/etl", "--step", "deploy", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "error: step deploy of workflow/etl deploys service/web and "
                                   "runs no task: see berth logs service/web\n");
        run(&c, "--server", f->url, "logs", "wf/etl", "--step", "nope", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "error: workflow/etl has no step \"nope\" (steps: extract, "
                                   "transform, deploy, load, onExit)\n");

        /* -f without --step names the steps. */
        run(&c, "--server", f->url, "logs", "-f", "wf/etl", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "error: --follow needs --step for a workflow: berth logs -f "
                                      "workflow/etl --step STEP (steps: extract, transform, "
                                      "deploy, load, onExit)\n"));

        /* Every step: fanned-out children after one header, onExit last. */
        fake_route(f, "GET", TASK_LOG("etl-extract", ""), 200, "42\n");
        run(&c, "--server", f->url, "logs", "wf/etl", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "==> step extract (task etl-extract) <==\n42\n\n"
                                      "==> step transform (2 tasks) <==\n"));
        assert_non_null(strstr(c.out, "[transform-1] one\n"));
        assert_non_null(strstr(c.out, "\n\n==> step onExit (task etl-onexit) <==\nbye\n"));
        assert_null(strstr(c.out, "load"));

        /* --step is for workflows. */
        run(&c, "--server", f->url, "logs", "task/etl-extract", "--step", "x", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "--step is for workflows, not tasks"));
        capture_release(&c);
}

int main(void)
{
        const struct CMUnitTest pure[] = {
            cmocka_unit_test(test_tree),
            cmocka_unit_test(test_tree_order),
            cmocka_unit_test(test_tree_many_children),
        };
        const struct CMUnitTest served[] = {
            cmocka_unit_test(test_get_tree), cmocka_unit_test(test_stop),
            cmocka_unit_test(test_retry),    cmocka_unit_test(test_retry_wait),
            cmocka_unit_test(test_cp),       cmocka_unit_test(test_logs_step),
        };
        cli_test_env();
        unsetenv("NO_COLOR");
        int failed = cmocka_run_group_tests_name("workflow-pure", pure, NULL, NULL);
        failed += cmocka_run_group_tests_name("workflow-served", served, fake_setup, fake_teardown);
        return failed;
}
