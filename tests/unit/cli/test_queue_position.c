/* Unit tests of describe's queue position (cli_queue_position): computed
 * from listed objects with the controller's order, and its Queue section. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cli-internal.h"

/* A Task object: queued (Pending, Queued True), Running, or Pending
 * without Queued (waiting for dependencies). */
static json_t *task(const char *ns, const char *name, int prio, const char *created,
                    const char *state)
{
        json_t *conds = json_array();

        if (streq(state, "queued"))
                json_array_append_new(conds,
                                      json_pack("{s:s, s:s}", "type", "Queued", "status", "True"));
        if (streq(state, "waiting"))
                json_array_append_new(conds,
                                      json_pack("{s:s, s:s}", "type", "Waiting", "status", "True"));
        json_t *o = json_pack("{s:{s:s, s:s, s:s, s:s}, s:{s:i}, s:{s:s, s:o}}", "metadata",
                              "namespace", ns, "name", name, "uid", name, "creationTimestamp",
                              created, "spec", "priority", prio, "status", "phase",
                              streq(state, "running") ? "Running" : "Pending", "conditions", conds);
        assert_non_null(o);
        return o;
}

static void test_position(void **state)
{
        (void)state;
        _cleanup_json_ json_t *tasks = json_array();
        _cleanup_json_ json_t *queues = json_array();
        struct cli_queue_position pos;

        json_array_append_new(tasks, task("a", "a-old", 0, "2026-01-01T00:00:00Z", "queued"));
        json_array_append_new(tasks, task("a", "a-new", 0, "2026-01-01T00:00:05Z", "queued"));
        json_array_append_new(tasks, task("b", "b-1", 0, "2026-01-01T00:00:09Z", "queued"));
        json_array_append_new(tasks, task("b", "urgent", 5, "2026-01-01T00:00:10Z", "queued"));
        json_array_append_new(tasks, task("a", "a-run", 0, "2026-01-01T00:00:00Z", "running"));
        json_array_append_new(tasks, task("a", "deps", 9, "2026-01-01T00:00:00Z", "waiting"));

        /* urgent first; then b (1 running after urgent) and a (1 running)
         * tie: older a-old, then b-1 (b has 1, a 2), then a-new. */
        assert_int_equal(cli_queue_position(tasks, queues, "b", "urgent", &pos), 0);
        assert_int_equal(pos.position, 1);
        assert_int_equal(pos.queued, 4);
        assert_false(pos.blocked);
        assert_int_equal(cli_queue_position(tasks, queues, "a", "a-old", &pos), 0);
        assert_int_equal(pos.position, 2);
        assert_int_equal(cli_queue_position(tasks, queues, "b", "b-1", &pos), 0);
        assert_int_equal(pos.position, 3);
        assert_int_equal(cli_queue_position(tasks, queues, "a", "a-new", &pos), 0);
        assert_int_equal(pos.position, 4);
        /* Not queued: no position. */
        assert_int_equal(cli_queue_position(tasks, queues, "a", "deps", &pos), -ENOENT);
        assert_int_equal(cli_queue_position(tasks, queues, "a", "a-run", &pos), -ENOENT);

        /* Namespace a's Queue is full (1 running): its Tasks come last, blocked. */
        json_array_append_new(queues, json_pack("{s:{s:s, s:s}, s:{s:i}}", "metadata", "namespace",
                                                "a", "name", "default", "spec", "maxRunning", 1));
        json_array_append_new(queues, json_pack("{s:{s:s, s:s}, s:{s:i}}", "metadata", "namespace",
                                                "b", "name", "other", "spec", "maxRunning", 1));
        assert_int_equal(cli_queue_position(tasks, queues, "b", "b-1", &pos), 0);
        assert_int_equal(pos.position, 2); /* b's "other" Queue does not count */
        assert_false(pos.blocked);
        assert_int_equal(cli_queue_position(tasks, queues, "a", "a-old", &pos), 0);
        assert_int_equal(pos.position, 3);
        assert_true(pos.blocked);
}

/* Priority classes: a Task's place follows its effective priority
 * (queue_task_priority), and one naming an unknown class has none. */
static void test_position_classes(void **state)
{
        (void)state;
        _cleanup_json_ json_t *tasks = json_array();
        _cleanup_json_ json_t *queues = json_array();
        struct cli_queue_position pos;
        json_t *t;

        json_array_append_new(tasks, task("a", "plain", 50, "2026-01-01T00:00:00Z", "queued"));
        t = task("a", "high", 0, "2026-01-01T00:00:05Z", "queued");
        json_object_del(json_object_get(t, "spec"), "priority");
        json_object_set_new(json_object_get(t, "spec"), "priorityClassName", json_string("high"));
        json_array_append_new(tasks, t);
        t = task("a", "typo", 0, "2026-01-01T00:00:01Z", "queued");
        json_object_del(json_object_get(t, "spec"), "priority");
        json_object_set_new(json_object_get(t, "spec"), "priorityClassName", json_string("hihg"));
        json_array_append_new(tasks, t);
        json_array_append_new(queues, json_pack("{s:{s:s, s:s}, s:{s:[{s:s, s:i}], s:i}}",
                                                "metadata", "namespace", "a", "name", "default",
                                                "spec", "priorityClasses", "name", "high", "value",
                                                100, "maxPriority", 100));

        assert_int_equal(cli_queue_position(tasks, queues, "a", "high", &pos), 0);
        assert_int_equal(pos.position, 1);
        assert_int_equal(pos.queued, 2);
        assert_int_equal(cli_queue_position(tasks, queues, "a", "plain", &pos), 0);
        assert_int_equal(pos.position, 2);
        assert_int_equal(cli_queue_position(tasks, queues, "a", "typo", &pos), -ENOENT);

        /* Clamped to maxPriority 100: equal to high, and older. */
        json_integer_set(json_path(json_array_get(tasks, 0), "spec.priority"), 1000);
        assert_int_equal(cli_queue_position(tasks, queues, "a", "plain", &pos), 0);
        assert_int_equal(pos.position, 1);
}

static void test_describe_section(void **state)
{
        (void)state;
        _cleanup_json_ json_t *o = task("a", "x", 0, "2026-01-01T00:00:00Z", "queued");
        _cleanup_json_ json_t *extra = json_pack("{s:i, s:i, s:b, s:s}", "position", 3, "queued",
                                                 45, "blocked", 1, "scope", "its namespace");
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);

        assert_non_null(f);
        assert_int_equal(cli_describe(f, kind_lookup("task"), o, extra, NULL, 0), 0);
        fclose(f);
        assert_non_null(strstr(text, "Queue:\n  Position:   3 of 45 queued (its namespace), after "
                                     "a Task of its namespace ends (Queue spec.maxRunning)\n"));
        free(text);

        /* Not queued: no section. */
        f = open_memstream(&text, &len);
        assert_int_equal(cli_describe(f, kind_lookup("task"), o, NULL, NULL, 0), 0);
        fclose(f);
        assert_null(strstr(text, "Queue:"));
        assert_non_null(strstr(text, "Priority:"));
        free(text);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_position),
            cmocka_unit_test(test_position_classes),
            cmocka_unit_test(test_describe_section),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
