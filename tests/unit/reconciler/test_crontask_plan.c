/* Unit tests of the pure CronTask planner: plain structs in, plan out. The
 * scheduled times come in as numbers (the cron module computes them, tested
 * on its own); what is checked here is what the planner does with them —
 * catch-up after an outage, startingDeadlineSeconds, the concurrency
 * policies, triggers, suspension, history and deletion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "reconciler.h"

#define T0   1767225600000LL /* 2026-01-01T00:00:00Z */
#define HOUR (3600 * 1000LL)
#define MIN  (60 * 1000LL)

static struct crontask_plan plan;

static struct crontask_plan_input input(void)
{
        return (struct crontask_plan_input){
            .has_finalizer = true,
            .spec =
                {
                    .concurrency = CONCURRENCY_ALLOW,
                    .catch_up = CATCH_UP_LATEST,
                    .catch_up_max = 10,
                    .successful_history = 3,
                    .failed_history = 1,
                },
            .backlog_complete = true,
            .next_ms = T0 + HOUR,
            .now_ms = T0,
        };
}

static size_t count(enum crontask_action_type t)
{
        size_t n = 0;
        for (size_t i = 0; i < plan.n_actions; i++)
                n += plan.actions[i].type == t;
        return n;
}

static const struct crontask_action *nth(enum crontask_action_type t, size_t k)
{
        for (size_t i = 0; i < plan.n_actions; i++)
                if (plan.actions[i].type == t && k-- == 0)
                        return &plan.actions[i];
        fail_msg("no %zu-th %s", k, crontask_action_type_to_string(t));
        return NULL;
}

static void test_on_time_run(void **state)
{
        (void)state;
        struct crontask_plan_input in = input();
        int64_t due[] = {T0};

        in.due = due;
        in.n_due = 1;
        in.scanned_ms = T0;
        in.now_ms = T0 + 15;
        crontask_plan_compute(&in, &plan);
        assert_int_equal(count(CRONTASK_ACTION_CREATE_CHILD), 1);
        assert_int_equal(nth(CRONTASK_ACTION_CREATE_CHILD, 0)->scheduled_ms, T0);
        assert_false(nth(CRONTASK_ACTION_CREATE_CHILD, 0)->manual);
        assert_int_equal(plan.last_schedule_ms, T0);
        assert_int_equal(plan.next_ms, T0 + HOUR);
        assert_int_equal(plan.requeue_after_ms, HOUR - 15);
        assert_int_equal(plan.active, 1);
        assert_int_equal(plan.missed_count, 0);

        /* Nothing due: only the wake-up for the next time. */
        in.n_due = 0;
        in.scanned_ms = 0;
        in.prev_last_schedule_ms = T0;
        crontask_plan_compute(&in, &plan);
        assert_int_equal(plan.n_actions, 0);
        assert_int_equal(plan.last_schedule_ms, T0);
}

/* A run whose child exists (a crash before the status write, a second
 * replica) is not created again. */
static void test_exactly_once(void **state)
{
        (void)state;
        struct crontask_plan_input in = input();
        int64_t due[] = {T0};
        struct cron_child kids[] = {{.name = "x-29453760", .scheduled_ms = T0}};

        in.due = due;
        in.n_due = 1;
        in.children = kids;
        in.n_children = 1;
        crontask_plan_compute(&in, &plan);
        assert_int_equal(count(CRONTASK_ACTION_CREATE_CHILD), 0);
        assert_int_equal(plan.last_schedule_ms, T0);
        assert_int_equal(plan.active, 1);
        assert_int_equal(plan.missed_count, 0);
}

static void test_concurrency_policies(void **state)
{
        (void)state;
        struct crontask_plan_input in = input();
        int64_t due[] = {T0};
        struct cron_child kids[] = {
            {.name = "x-old", .scheduled_ms = T0 - HOUR, .phase = TASK_PHASE_RUNNING},
            {.name = "x-older", .scheduled_ms = T0 - 2 * HOUR, .phase = TASK_PHASE_SUCCEEDED},
        };

        in.due = due;
        in.n_due = 1;
        in.children = kids;
        in.n_children = 2;
        in.prev_missed_count = 4;

        /* Allow: runs side by side. */
        crontask_plan_compute(&in, &plan);
        assert_int_equal(count(CRONTASK_ACTION_CREATE_CHILD), 1);
        assert_int_equal(plan.active, 2);

        /* Forbid: this run is missed, for that reason. */
        in.spec.concurrency = CONCURRENCY_FORBID;
        crontask_plan_compute(&in, &plan);
        assert_int_equal(count(CRONTASK_ACTION_CREATE_CHILD), 0);
        assert_int_equal(plan.missed_count, 5);
        assert_int_equal(plan.missed_ms, T0);
        assert_string_equal(plan.missed_reason, "ConcurrencyForbid");
        assert_int_equal(plan.last_schedule_ms, T0); /* handled: missed is handled */

        /* Forbid, but the running one finished: runs. */
        kids[0].phase = TASK_PHASE_FAILED;
        crontask_plan_compute(&in, &plan);
        assert_int_equal(count(CRONTASK_ACTION_CREATE_CHILD), 1);

        /* Replace: the running one goes first. */
        kids[0].phase = TASK_PHASE_RUNNING;
        in.spec.concurrency = CONCURRENCY_REPLACE;
        crontask_plan_compute(&in, &plan);
        assert_int_equal(count(CRONTASK_ACTION_DELETE_CHILD), 1);
        assert_int_equal(nth(CRONTASK_ACTION_DELETE_CHILD, 0)->child, 0);
        assert_int_equal(count(CRONTASK_ACTION_CREATE_CHILD), 1);
        assert_true(plan.actions[0].type == CRONTASK_ACTION_DELETE_CHILD);
        assert_int_equal(plan.active, 1);

        /* A child being deleted already does not count as running. */
        kids[0].deleting = true;
        in.spec.concurrency = CONCURRENCY_FORBID;
        crontask_plan_compute(&in, &plan);
        assert_int_equal(count(CRONTASK_ACTION_CREATE_CHILD), 1);
}

static void test_starting_deadline(void **state)
{
        (void)state;
        struct crontask_plan_input in = input();
        int64_t due[] = {T0};

        in.due = due;
        in.n_due = 1;
        in.spec.starting_deadline_ms = 300 * 1000;
        in.now_ms = T0 + 300 * 1000; /* exactly at the deadline: still runs */
        crontask_plan_compute(&in, &plan);
        assert_int_equal(count(CRONTASK_ACTION_CREATE_CHILD), 1);

        in.now_ms = T0 + 300 * 1000 + 1;
        crontask_plan_compute(&in, &plan);
        assert_int_equal(count(CRONTASK_ACTION_CREATE_CHILD), 0);
        assert_int_equal(plan.missed_count, 1);
        assert_string_equal(plan.missed_reason, "StartingDeadlineExceeded");
}

/* An hourly CronTask whose berthd was down for three days: 72 scheduled
 * times came due while nobody acted. */
static int64_t outage[72];

static struct crontask_plan_input after_outage(enum catch_up_policy policy, int max)
{
        struct crontask_plan_input in = input();
        size_t keep = (size_t)max < ARRAY_SIZE(outage) ? (size_t)max : ARRAY_SIZE(outage);

        for (size_t i = 0; i < ARRAY_SIZE(outage); i++)
                outage[i] = T0 + (int64_t)i * HOUR;
        in.spec.catch_up = policy;
        in.spec.catch_up_max = max;
        in.backlog_count = ARRAY_SIZE(outage);
        in.backlog = outage + ARRAY_SIZE(outage) - keep; /* the latest max */
        in.n_backlog = keep;
        in.scanned_ms = outage[71];
        in.now_ms = outage[71] + 20 * MIN;
        in.next_ms = outage[71] + HOUR;
        return in;
}

static void test_catch_up_after_outage(void **state)
{
        (void)state;
        struct crontask_plan_input in = after_outage(CATCH_UP_NONE, 10);

        crontask_plan_compute(&in, &plan);
        assert_int_equal(count(CRONTASK_ACTION_CREATE_CHILD), 0);
        assert_int_equal(plan.missed_count, 72);
        assert_string_equal(plan.missed_reason, "Downtime");
        assert_int_equal(plan.missed_ms, outage[71]);
        assert_int_equal(plan.last_schedule_ms, outage[71]);
        assert_int_equal(plan.requeue_after_ms, 40 * MIN);

        in = after_outage(CATCH_UP_LATEST, 10);
        crontask_plan_compute(&in, &plan);
        assert_int_equal(count(CRONTASK_ACTION_CREATE_CHILD), 1);
        assert_int_equal(nth(CRONTASK_ACTION_CREATE_CHILD, 0)->scheduled_ms, outage[71]);
        assert_int_equal(plan.missed_count, 71);
        assert_int_equal(plan.missed_ms, outage[70]);
        assert_int_equal(plan.last_schedule_ms, outage[71]);

        /* All: the latest max, oldest first; older ones are missed. */
        in = after_outage(CATCH_UP_ALL, 10);
        crontask_plan_compute(&in, &plan);
        assert_int_equal(count(CRONTASK_ACTION_CREATE_CHILD), 10);
        for (size_t k = 0; k < 10; k++)
                assert_int_equal(nth(CRONTASK_ACTION_CREATE_CHILD, k)->scheduled_ms,
                                 outage[62 + k]);
        assert_int_equal(plan.missed_count, 62);
        assert_int_equal(plan.active, 10);

        /* All with Forbid: the first runs, the rest find it running. */
        in.spec.concurrency = CONCURRENCY_FORBID;
        crontask_plan_compute(&in, &plan);
        assert_int_equal(count(CRONTASK_ACTION_CREATE_CHILD), 1);
        assert_int_equal(nth(CRONTASK_ACTION_CREATE_CHILD, 0)->scheduled_ms, outage[62]);
        assert_int_equal(plan.missed_count, 62 + 9);
        assert_string_equal(plan.missed_reason, "ConcurrencyForbid");

        /* A catch-up run later than startingDeadlineSeconds is missed too. */
        in = after_outage(CATCH_UP_LATEST, 10);
        in.spec.starting_deadline_ms = 10 * MIN;
        crontask_plan_compute(&in, &plan);
        assert_int_equal(count(CRONTASK_ACTION_CREATE_CHILD), 0);
        assert_int_equal(plan.missed_count, 72);
        assert_string_equal(plan.missed_reason, "StartingDeadlineExceeded");

        /* The scan stopped before the end: what it saw is missed, and the
         * rest comes in the next wake-up, at once. */
        in = after_outage(CATCH_UP_LATEST, 10);
        in.backlog_complete = false;
        crontask_plan_compute(&in, &plan);
        assert_int_equal(count(CRONTASK_ACTION_CREATE_CHILD), 0);
        assert_int_equal(plan.missed_count, 72);
        assert_int_equal(plan.requeue_after_ms, 0);
}

/* More came due while acting than one wake-up runs: come back at once. */
static void test_due_more(void **state)
{
        (void)state;
        struct crontask_plan_input in = input();
        int64_t due[] = {T0, T0 + MIN};

        in.due = due;
        in.n_due = 2;
        in.due_more = true;
        in.scanned_ms = T0 + MIN;
        in.now_ms = T0 + 5 * MIN;
        crontask_plan_compute(&in, &plan);
        assert_int_equal(count(CRONTASK_ACTION_CREATE_CHILD), 2);
        assert_int_equal(plan.last_schedule_ms, T0 + MIN);
        assert_int_equal(plan.requeue_after_ms, 0);
}

static void test_suspend_and_trigger(void **state)
{
        (void)state;
        struct crontask_plan_input in = input();
        struct cron_child kids[] = {
            {.name = "x-1", .scheduled_ms = T0 - HOUR, .phase = TASK_PHASE_RUNNING}};

        in.spec.suspend = true;
        in.next_ms = 0; /* not computed while suspended */
        in.prev_last_schedule_ms = T0 - HOUR;
        crontask_plan_compute(&in, &plan);
        assert_int_equal(plan.n_actions, 0);
        assert_true(plan.suspended);
        assert_int_equal(plan.next_ms, 0);
        assert_int_equal(plan.requeue_after_ms, -1);
        assert_int_equal(plan.last_schedule_ms, T0 - HOUR);

        /* A trigger runs even while suspended, as a manual run. */
        in.trigger_ms = T0 + 30 * 1000;
        crontask_plan_compute(&in, &plan);
        assert_int_equal(count(CRONTASK_ACTION_CREATE_CHILD), 1);
        assert_true(nth(CRONTASK_ACTION_CREATE_CHILD, 0)->manual);
        assert_int_equal(nth(CRONTASK_ACTION_CREATE_CHILD, 0)->scheduled_ms, T0 + 30 * 1000);
        assert_int_equal(plan.last_trigger_ms, T0 + 30 * 1000);

        /* Handled once: the same trigger again does nothing. */
        in.prev_last_trigger_ms = T0 + 30 * 1000;
        crontask_plan_compute(&in, &plan);
        assert_int_equal(plan.n_actions, 0);

        /* concurrencyPolicy applies to a trigger unless forced. */
        in.spec.suspend = false;
        in.spec.concurrency = CONCURRENCY_FORBID;
        in.children = kids;
        in.n_children = 1;
        in.trigger_ms = T0 + 60 * 1000;
        crontask_plan_compute(&in, &plan);
        assert_int_equal(count(CRONTASK_ACTION_CREATE_CHILD), 0);
        assert_string_equal(plan.missed_reason, "ConcurrencyForbid");
        assert_int_equal(plan.last_trigger_ms, T0 + 60 * 1000);
        in.trigger_force = true;
        crontask_plan_compute(&in, &plan);
        assert_int_equal(count(CRONTASK_ACTION_CREATE_CHILD), 1);
        assert_int_equal(count(CRONTASK_ACTION_DELETE_CHILD), 0); /* forced: runs beside it */
}

/* History: finished children beyond the limits go, the oldest first;
 * running ones are never history. */
static void test_history_pruning(void **state)
{
        (void)state;
        struct crontask_plan_input in = input();
        struct cron_child kids[] = {
            {.name = "a", .scheduled_ms = T0 - 6 * HOUR, .phase = TASK_PHASE_SUCCEEDED},
            {.name = "b", .scheduled_ms = T0 - 5 * HOUR, .phase = TASK_PHASE_FAILED},
            {.name = "c",
             .scheduled_ms = T0 - 4 * HOUR,
             .phase = TASK_PHASE_SUCCEEDED,
             .completion_ms = T0 - 4 * HOUR + 9000},
            {.name = "d", .scheduled_ms = T0 - 3 * HOUR, .phase = TASK_PHASE_FAILED},
            {.name = "e",
             .scheduled_ms = T0 - 2 * HOUR,
             .phase = TASK_PHASE_SUCCEEDED,
             .completion_ms = T0 - 2 * HOUR + 5000},
            {.name = "f",
             .scheduled_ms = T0 - 90 * MIN,
             .phase = TASK_PHASE_SUCCEEDED,
             .completion_ms = T0 - 80 * MIN},
            {.name = "g", .scheduled_ms = T0 - HOUR, .phase = TASK_PHASE_RUNNING},
        };

        in.children = kids;
        in.n_children = ARRAY_SIZE(kids);
        in.spec.successful_history = 2;
        in.spec.failed_history = 1;
        crontask_plan_compute(&in, &plan);
        /* Succeeded a, c, e, f: keep e, f. Failed b, d: keep d. */
        assert_int_equal(count(CRONTASK_ACTION_DELETE_CHILD), 3);
        assert_int_equal(nth(CRONTASK_ACTION_DELETE_CHILD, 0)->child, 0);
        assert_int_equal(nth(CRONTASK_ACTION_DELETE_CHILD, 1)->child, 1);
        assert_int_equal(nth(CRONTASK_ACTION_DELETE_CHILD, 2)->child, 2);
        assert_int_equal(plan.active, 1);
        assert_int_equal(plan.last_success_ms, T0 - 80 * MIN);

        /* Limits of 0 keep nothing finished. */
        in.spec.successful_history = 0;
        in.spec.failed_history = 0;
        crontask_plan_compute(&in, &plan);
        assert_int_equal(count(CRONTASK_ACTION_DELETE_CHILD), 6);
}

static void test_finalizer_and_deletion(void **state)
{
        (void)state;
        struct crontask_plan_input in = input();
        struct cron_child kids[] = {{.name = "x-1", .phase = TASK_PHASE_RUNNING}};

        in.has_finalizer = false;
        crontask_plan_compute(&in, &plan);
        assert_int_equal(plan.actions[0].type, CRONTASK_ACTION_ADD_FINALIZER);

        in.deleting = true;
        in.children = kids;
        in.n_children = 1;
        crontask_plan_compute(&in, &plan);
        assert_int_equal(plan.n_actions, 1);
        assert_int_equal(plan.actions[0].type, CRONTASK_ACTION_DELETE_CHILDREN);
        in.n_children = 0;
        crontask_plan_compute(&in, &plan);
        assert_int_equal(plan.n_actions, 0); /* no finalizer to drop */
        in.has_finalizer = true;
        crontask_plan_compute(&in, &plan);
        assert_int_equal(plan.n_actions, 1);
        assert_int_equal(plan.actions[0].type, CRONTASK_ACTION_FINALIZE);
}

static void test_child_names(void **state)
{
        (void)state;
        char *n = crontask_child_name("nightly", T0, false, false);
        assert_string_equal(n, "nightly-29453760");
        free(n);
        n = crontask_child_name("fast", T0 + 2000, true, false);
        assert_string_equal(n, "fast-1767225602");
        free(n);
        n = crontask_child_name("nightly", T0 + 5000, false, true);
        assert_string_equal(n, "nightly-manual-1767225605");
        free(n);
        assert_string_equal(crontask_action_type_to_string(CRONTASK_ACTION_FINALIZE), "Finalize");
        assert_string_equal(crontask_action_type_to_string((enum crontask_action_type)99),
                            "Unknown");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_on_time_run),
            cmocka_unit_test(test_exactly_once),
            cmocka_unit_test(test_concurrency_policies),
            cmocka_unit_test(test_starting_deadline),
            cmocka_unit_test(test_catch_up_after_outage),
            cmocka_unit_test(test_due_more),
            cmocka_unit_test(test_suspend_and_trigger),
            cmocka_unit_test(test_history_pruning),
            cmocka_unit_test(test_finalizer_and_deletion),
            cmocka_unit_test(test_child_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
