/* Unit tests of the pure Workflow planner: plain structs in, plan out; no
 * store, no Docker, no clock. The rules checked are those of the header
 * (reconciler.h, "Workflow: planning") and docs/reference/workflow.md
 * (status, Lifecycle rules). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "reconciler.h"

#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */

/* ---- helpers ---------------------------------------------------------- */

/* A step never seen before: no Task, nothing in the previous status. */
static struct workflow_step step(const char *name)
{
        return (struct workflow_step){.name = name, .prev_phase = STEP_PENDING};
}

/* A step whose Task was created and is in the cache with phase 'ph'. */
static struct workflow_step step_task(const char *name, enum task_phase ph)
{
        struct workflow_step s = step(name);
        s.task_exists = true;
        s.task_phase = ph;
        s.prev_created = true;
        s.prev_phase = STEP_RUNNING;
        return s;
}

/* A step that succeeded in an earlier round: Task done, result recorded. */
static struct workflow_step step_done(const char *name)
{
        struct workflow_step s = step_task(name, TASK_PHASE_SUCCEEDED);
        s.result_stored = true;
        s.prev_phase = STEP_SUCCEEDED;
        return s;
}

/* A step whose Task failed (observed now, previous status still Running). */
static struct workflow_step step_failed(const char *name)
{
        struct workflow_step s = step_task(name, TASK_PHASE_FAILED);
        s.task_reason = "Error";
        s.task_message = "exit code 1";
        return s;
}

/* A deploy step to Service "web" (wait: true) that has not started. */
static struct workflow_step step_deploy(const char *name)
{
        struct workflow_step s = step(name);
        s.deploy = true;
        s.service = "web";
        s.deploy_wait = true;
        return s;
}

/* A deploy step that wrote its Service in an earlier round and follows the
 * rollout, which stands at r. */
static struct workflow_step step_deployed(const char *name, enum rollout_state r)
{
        struct workflow_step s = step_deploy(name);
        s.deployed = true;
        s.service_found = true;
        s.rollout = r;
        s.prev_phase = STEP_RUNNING;
        return s;
}

/* A Workflow past its first reconcile: finalizer in place, defaults of the
 * spec (failFast true, parallelism 0, keep forever). */
static struct workflow_plan_input input(struct workflow_step *steps, size_t n)
{
        return (struct workflow_plan_input){
            .has_finalizer = true,
            .fail_fast = true,
            .parallelism = 0,
            .ttl_after_finished_ms = -1,
            .steps = steps,
            .n_steps = n,
            .prev_phase = TASK_PHASE_PENDING,
            .now_ms = T0,
        };
}

/* Runs the planner on a poisoned plan: whatever the plan reports must have
 * been written by the planner, not left over from the caller's storage. */
static void plan(const struct workflow_plan_input *in, struct workflow_plan *p)
{
        memset(p, 0xa5, sizeof(*p));
        workflow_plan_compute(in, p);
        assert_true(p->n_actions <= ARRAY_SIZE(p->actions));
}

static size_t count_actions(const struct workflow_plan *p, enum workflow_action_type type)
{
        size_t n = 0;
        for (size_t i = 0; i < p->n_actions; i++)
                if (p->actions[i].type == type)
                        n++;
        return n;
}

static bool has_action(const struct workflow_plan *p, enum workflow_action_type type, size_t step)
{
        for (size_t i = 0; i < p->n_actions; i++)
                if (p->actions[i].type == type && p->actions[i].step == step)
                        return true;
        return false;
}

/* Kinds of action that concern one step. */
static size_t count_step_actions(const struct workflow_plan *p)
{
        return count_actions(p, WORKFLOW_ACTION_CREATE_TASK) +
               count_actions(p, WORKFLOW_ACTION_DEPLOY) +
               count_actions(p, WORKFLOW_ACTION_STORE_RESULT);
}

static void assert_action(const struct workflow_plan *p, size_t i, enum workflow_action_type type)
{
        assert_true(i < p->n_actions);
        assert_string_equal(workflow_action_type_to_string(p->actions[i].type),
                            workflow_action_type_to_string(type));
}

static void assert_creates(const struct workflow_plan *p, size_t step)
{
        if (!has_action(p, WORKFLOW_ACTION_CREATE_TASK, step))
                fail_msg("no CreateTask for step %zu", step);
}

static void assert_not_creates(const struct workflow_plan *p, size_t step)
{
        if (has_action(p, WORKFLOW_ACTION_CREATE_TASK, step))
                fail_msg("unexpected CreateTask for step %zu", step);
}

static void assert_step(const struct workflow_plan *p, size_t i, enum step_phase ph)
{
        assert_string_equal(step_phase_to_string(p->steps[i].phase), step_phase_to_string(ph));
}

static void assert_step_reason(const struct workflow_plan *p, size_t i, const char *reason)
{
        assert_non_null(p->steps[i].reason);
        assert_string_equal(p->steps[i].reason, reason);
}

/* Skipped because of a failure: DependencyFailed or FailFast may both apply. */
static void assert_skipped_by_failure(const struct workflow_plan *p, size_t i)
{
        assert_step(p, i, STEP_SKIPPED);
        assert_non_null(p->steps[i].reason);
        if (strcmp(p->steps[i].reason, "DependencyFailed") != 0 &&
            strcmp(p->steps[i].reason, "FailFast") != 0)
                fail_msg("step %zu skipped with reason %s", i, p->steps[i].reason);
}

static void assert_phase(const struct workflow_plan *p, enum task_phase ph)
{
        assert_string_equal(task_phase_to_string(p->phase), task_phase_to_string(ph));
}

static void assert_running_workflow(const struct workflow_plan *p)
{
        assert_phase(p, TASK_PHASE_RUNNING);
        assert_null(p->reason);
        assert_int_equal(p->completion_ms, 0);
        assert_true(p->status_changed);
        assert_true(p->requeue_after_ms < 0);
}

static void assert_message_prefix(const struct workflow_plan *p, const char *prefix)
{
        assert_non_null(p->message);
        if (strncmp(p->message, prefix, strlen(prefix)) != 0)
                fail_msg("message \"%s\" does not start with \"%s\"", p->message, prefix);
}

/* ---- finalizer and deletion ------------------------------------------- */

static void test_add_finalizer_first(void **state)
{
        (void)state;
        struct workflow_step s[1] = {step("a")};
        struct workflow_plan_input in = input(s, 1);
        struct workflow_plan p;

        in.has_finalizer = false;
        plan(&in, &p);
        assert_true(p.n_actions >= 1);
        assert_action(&p, 0, WORKFLOW_ACTION_ADD_FINALIZER);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_ADD_FINALIZER), 1);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_FINALIZE), 0);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_DELETE_CHILDREN), 0);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_DELETE), 0);

        /* With the finalizer in place it is never asked for again. */
        in.has_finalizer = true;
        plan(&in, &p);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_ADD_FINALIZER), 0);
}

static void test_deleting_deletes_children_then_finalizes(void **state)
{
        (void)state;
        /* Ready steps and an unrecorded result: deletion ignores them all. */
        struct workflow_step s[3] = {step_task("a", TASK_PHASE_SUCCEEDED), step("b"), step("c")};
        struct workflow_plan_input in = input(s, 3);
        struct workflow_plan p;

        in.deleting = true;
        in.tasks_left = 1;
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0 - 1000;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, WORKFLOW_ACTION_DELETE_CHILDREN);
        assert_false(p.status_changed);
        /* Terminating while its Tasks go; their events bring it back. */
        assert_true(p.terminating);
        assert_string_equal(p.reason, "Deleting");
        assert_int_equal(p.requeue_after_ms, -1);

        /* Only result keys left: they bring no event, so look again at once. */
        in.tasks_left = 0;
        in.results_left = 2;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, WORKFLOW_ACTION_DELETE_CHILDREN);
        assert_false(p.terminating);
        assert_int_equal(p.requeue_after_ms, 0);

        in.results_left = 0;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, WORKFLOW_ACTION_FINALIZE);
        assert_false(p.status_changed);

        /* Deleting wins over a missing finalizer: never add one to a dying object. */
        in.has_finalizer = false;
        in.tasks_left = 1;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, WORKFLOW_ACTION_DELETE_CHILDREN);
        assert_false(p.status_changed);

        /* A finished Workflow with a TTL long past: deletion, not a DELETE. */
        in.has_finalizer = true;
        in.tasks_left = 0;
        in.prev_phase = TASK_PHASE_SUCCEEDED;
        in.prev_completion_ms = T0 - 500;
        in.ttl_after_finished_ms = 0;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, WORKFLOW_ACTION_FINALIZE);
        assert_false(p.status_changed);
}

/* ---- starting steps --------------------------------------------------- */

static void test_first_round_creates_roots(void **state)
{
        (void)state;
        struct workflow_step s[3] = {step("a"), step("b"), step("c")};
        s[1].deps = (const size_t[]){0};
        s[1].n_deps = 1;
        struct workflow_plan_input in = input(s, 3);
        struct workflow_plan p;

        in.now_ms = T0 + 42;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 2);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_CREATE_TASK), 2);
        assert_creates(&p, 0);
        assert_creates(&p, 2);
        assert_not_creates(&p, 1);
        assert_step(&p, 0, STEP_RUNNING);
        assert_step(&p, 1, STEP_PENDING);
        assert_step(&p, 2, STEP_RUNNING);
        assert_running_workflow(&p);
        assert_int_equal(p.start_ms, T0 + 42);
        assert_int_equal(p.succeeded, 0);

        /* Same picture planned again once the Tasks are in the cache: nothing new. */
        s[0] = step_task("a", TASK_PHASE_PENDING);
        s[2] = step_task("c", TASK_PHASE_RUNNING);
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0 + 42;
        in.now_ms = T0 + 1000;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_step(&p, 0, STEP_RUNNING);
        assert_step(&p, 1, STEP_PENDING);
        assert_step(&p, 2, STEP_RUNNING);
        assert_running_workflow(&p);
        assert_int_equal(p.start_ms, T0 + 42);
}

/* Step 0 depends on step 1, which depends on step 2: the planner follows the
 * DAG, not the spec order. */
static void test_dependency_order_not_spec_order(void **state)
{
        (void)state;
        struct workflow_step s[3] = {step("load"), step("transform"), step("extract")};
        s[0].deps = (const size_t[]){1};
        s[0].n_deps = 1;
        s[1].deps = (const size_t[]){2};
        s[1].n_deps = 1;
        struct workflow_plan_input in = input(s, 3);
        struct workflow_plan p;

        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_creates(&p, 2);
        assert_step(&p, 0, STEP_PENDING);
        assert_step(&p, 1, STEP_PENDING);
        assert_step(&p, 2, STEP_RUNNING);

        /* extract just succeeded (result recorded): transform starts in the
         * same round, load still waits. */
        s[2] = step_task("extract", TASK_PHASE_SUCCEEDED);
        s[2].result_stored = true;
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        in.now_ms = T0 + 1000;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_creates(&p, 1);
        assert_step(&p, 0, STEP_PENDING);
        assert_step(&p, 1, STEP_RUNNING);
        assert_step(&p, 2, STEP_SUCCEEDED);
        assert_int_equal(p.succeeded, 1);

        /* transform succeeded too: load starts. */
        s[1] = step_task("transform", TASK_PHASE_SUCCEEDED);
        s[1].result_stored = true;
        s[2] = step_done("extract");
        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_creates(&p, 0);
        assert_step(&p, 0, STEP_RUNNING);
        assert_step(&p, 1, STEP_SUCCEEDED);
        assert_int_equal(p.succeeded, 2);
        assert_running_workflow(&p);
}

/* A step with several dependencies waits for all of them. */
static void test_waits_for_every_dependency(void **state)
{
        (void)state;
        struct workflow_step s[3] = {step_done("a"), step_task("b", TASK_PHASE_RUNNING),
                                     step("join")};
        s[2].deps = (const size_t[]){0, 1};
        s[2].n_deps = 2;
        struct workflow_plan_input in = input(s, 3);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0 - 1000;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_step(&p, 2, STEP_PENDING);

        s[1] = step_done("b");
        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_creates(&p, 2);
        assert_step(&p, 2, STEP_RUNNING);
}

/* ---- observing a step's Task ------------------------------------------ */

static void test_existing_task_is_running_step(void **state)
{
        (void)state;
        struct workflow_step s[3] = {step_task("a", TASK_PHASE_PENDING),
                                     step_task("b", TASK_PHASE_RUNNING),
                                     step_task("c", TASK_PHASE_RUNNING)};
        /* c: the Task was created but the status write was lost (crash):
         * adopt it, never create a second one. */
        s[2].prev_created = false;
        s[2].prev_phase = STEP_PENDING;
        struct workflow_plan_input in = input(s, 3);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0 - 1000;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_step(&p, 0, STEP_RUNNING);
        assert_step(&p, 1, STEP_RUNNING);
        assert_step(&p, 2, STEP_RUNNING);
        assert_running_workflow(&p);
        assert_int_equal(p.start_ms, T0 - 1000);
}

/* The Task was created but the status write was lost (crash): the Workflow is
 * Running, so it has a start time (startTime: when the first Task was made). */
static void test_adopted_task_sets_start_time(void **state)
{
        (void)state;
        struct workflow_step s[1] = {step_task("only", TASK_PHASE_RUNNING)};
        s[0].prev_created = false;
        s[0].prev_phase = STEP_PENDING;
        struct workflow_plan_input in = input(s, 1);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_PENDING;
        in.prev_start_ms = 0;
        in.now_ms = T0 + 500;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_step(&p, 0, STEP_RUNNING);
        assert_phase(&p, TASK_PHASE_RUNNING);
        if (p.start_ms <= 0 || p.start_ms > T0 + 500)
                fail_msg("Running Workflow with start_ms %lld", (long long)p.start_ms);
}

/* A Task that succeeded but whose result is not recorded yet: the step stays
 * Running, its result is stored, and its dependents wait for the result. */
static void test_succeeded_task_stores_result_first(void **state)
{
        (void)state;
        struct workflow_step s[2] = {step_task("extract", TASK_PHASE_SUCCEEDED), step("transform")};
        s[1].deps = (const size_t[]){0};
        s[1].n_deps = 1;
        struct workflow_plan_input in = input(s, 2);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0 - 1000;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, WORKFLOW_ACTION_STORE_RESULT);
        assert_int_equal(p.actions[0].step, 0);
        assert_step(&p, 0, STEP_RUNNING);
        assert_step(&p, 1, STEP_PENDING);
        assert_int_equal(p.succeeded, 0);
        assert_running_workflow(&p);

        s[0].result_stored = true;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_creates(&p, 1);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_STORE_RESULT), 0);
        assert_step(&p, 0, STEP_SUCCEEDED);
        assert_step(&p, 1, STEP_RUNNING);
        assert_int_equal(p.succeeded, 1);
}

static void test_failed_task_fails_step(void **state)
{
        (void)state;
        struct workflow_step s[1] = {step_failed("transform")};
        s[0].task_reason = "OOMKilled";
        s[0].task_message = "killed: out of memory";
        struct workflow_plan_input in = input(s, 1);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0 - 1000;
        in.now_ms = T0 + 5000;
        plan(&in, &p);
        assert_int_equal(count_step_actions(&p), 0);
        assert_step(&p, 0, STEP_FAILED);
        assert_step_reason(&p, 0, "OOMKilled");
        assert_non_null(p.steps[0].message);
        assert_string_equal(p.steps[0].message, "killed: out of memory");

        /* Nothing else runs: the Workflow fails at once. */
        assert_phase(&p, TASK_PHASE_FAILED);
        assert_non_null(p.reason);
        assert_string_equal(p.reason, "StepFailed");
        assert_message_prefix(&p, "step transform failed");
        assert_non_null(strstr(p.message, "OOMKilled"));
        assert_non_null(strstr(p.message, "killed: out of memory"));
        assert_int_equal(p.completion_ms, T0 + 5000);
        assert_int_equal(p.start_ms, T0 - 1000);
        assert_int_equal(p.succeeded, 0);
        assert_true(p.status_changed);
}

/* A Task of the step's name owned by someone else: never adopted, never
 * replaced; the step fails and says why. */
static void test_foreign_task_fails_step(void **state)
{
        (void)state;
        struct workflow_step s[2] = {step("a"), step("b")};
        s[0].task_foreign = true;
        struct workflow_plan_input in = input(s, 2);
        struct workflow_plan p;

        in.fail_fast = false;
        plan(&in, &p);
        assert_not_creates(&p, 0);
        assert_creates(&p, 1);
        assert_step(&p, 0, STEP_FAILED);
        assert_non_null(p.steps[0].reason);
        assert_true(p.steps[0].reason[0] != '\0');
        assert_non_null(p.steps[0].message);
        assert_true(p.steps[0].message[0] != '\0');
        assert_step(&p, 1, STEP_RUNNING);
        assert_running_workflow(&p);

        /* With failFast nothing else starts, and the Workflow fails. */
        in.fail_fast = true;
        plan(&in, &p);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_CREATE_TASK), 0);
        assert_step(&p, 0, STEP_FAILED);
        assert_skipped_by_failure(&p, 1);
        assert_phase(&p, TASK_PHASE_FAILED);
        assert_string_equal(p.reason, "StepFailed");
        assert_message_prefix(&p, "step a failed");
}

/* The status says the Task was created, but it is gone (deleted by hand):
 * the step fails instead of silently running again. */
static void test_lost_task_fails_step(void **state)
{
        (void)state;
        struct workflow_step s[2] = {step("a"), step("b")};
        s[0].prev_created = true;
        s[0].prev_phase = STEP_RUNNING;
        s[1].deps = (const size_t[]){0};
        s[1].n_deps = 1;
        struct workflow_plan_input in = input(s, 2);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0 - 1000;
        in.now_ms = T0 + 1000;
        plan(&in, &p);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_CREATE_TASK), 0);
        assert_step(&p, 0, STEP_FAILED);
        assert_non_null(p.steps[0].reason);
        assert_skipped_by_failure(&p, 1);
        assert_phase(&p, TASK_PHASE_FAILED);
        assert_string_equal(p.reason, "StepFailed");
        assert_message_prefix(&p, "step a failed");
        assert_int_equal(p.completion_ms, T0 + 1000);
}

/* Succeeded, Failed and Skipped are final, whatever the cache shows now. */
static void test_sticky_step_phases(void **state)
{
        (void)state;
        struct workflow_step s[4] = {step("gone"), step("rerun"), step("skipped"), step("after")};
        /* Succeeded, then its Task disappeared: not "lost". */
        s[0].prev_phase = STEP_SUCCEEDED;
        s[0].prev_created = true;
        s[0].result_stored = true;
        /* Failed, and the cache now shows a running Task of that name. */
        s[1] = step_task("rerun", TASK_PHASE_RUNNING);
        s[1].prev_phase = STEP_FAILED;
        /* Skipped earlier; its dependency looks fine now: it stays Skipped. */
        s[2].prev_phase = STEP_SKIPPED;
        s[2].deps = (const size_t[]){0};
        s[2].n_deps = 1;
        /* Depends on the sticky Succeeded step: it may start. */
        s[3].deps = (const size_t[]){0};
        s[3].n_deps = 1;
        struct workflow_plan_input in = input(s, 4);
        struct workflow_plan p;

        in.fail_fast = false;
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0 - 1000;
        plan(&in, &p);
        assert_step(&p, 0, STEP_SUCCEEDED);
        assert_step(&p, 1, STEP_FAILED);
        assert_step(&p, 2, STEP_SKIPPED);
        assert_step(&p, 3, STEP_RUNNING);
        assert_not_creates(&p, 0);
        assert_not_creates(&p, 1);
        assert_not_creates(&p, 2);
        assert_creates(&p, 3);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_STORE_RESULT), 0);
        assert_int_equal(p.succeeded, 1);

        /* Failed, the cache says the Task succeeded: still Failed, no result. */
        s[1].task_phase = TASK_PHASE_SUCCEEDED;
        plan(&in, &p);
        assert_step(&p, 1, STEP_FAILED);
        assert_false(has_action(&p, WORKFLOW_ACTION_STORE_RESULT, 1));

        /* Succeeded, the cache says its Task failed: still Succeeded. */
        s[0] = step_done("gone");
        s[0].task_phase = TASK_PHASE_FAILED;
        s[0].task_reason = "Error";
        plan(&in, &p);
        assert_step(&p, 0, STEP_SUCCEEDED);
        assert_creates(&p, 3);
}

/* ---- parallelism ------------------------------------------------------ */

static void test_parallelism_limits_creations(void **state)
{
        (void)state;
        struct workflow_step s[5] = {step("a"), step("b"), step("c"), step("d"), step("e")};
        struct workflow_plan_input in = input(s, 5);
        struct workflow_plan p;

        in.parallelism = 2;
        plan(&in, &p);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_CREATE_TASK), 2);
        assert_creates(&p, 0);
        assert_creates(&p, 1);
        assert_step(&p, 0, STEP_RUNNING);
        assert_step(&p, 1, STEP_RUNNING);
        for (size_t i = 2; i < 5; i++)
                assert_step(&p, i, STEP_PENDING);
        assert_running_workflow(&p);

        /* a and b are in the cache (one not started yet): both count. */
        s[0] = step_task("a", TASK_PHASE_PENDING);
        s[1] = step_task("b", TASK_PHASE_RUNNING);
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        in.now_ms = T0 + 1000;
        plan(&in, &p);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_CREATE_TASK), 0);
        for (size_t i = 2; i < 5; i++)
                assert_step(&p, i, STEP_PENDING);

        /* a finished: one slot, taken by c (spec order). */
        s[0] = step_task("a", TASK_PHASE_SUCCEEDED);
        s[0].result_stored = true;
        plan(&in, &p);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_CREATE_TASK), 1);
        assert_creates(&p, 2);
        assert_step(&p, 2, STEP_RUNNING);
        assert_step(&p, 3, STEP_PENDING);
        assert_step(&p, 4, STEP_PENDING);

        /* parallelism 1 with one Task running: nothing starts. */
        in.parallelism = 1;
        s[0] = step_done("a");
        s[2] = step("c");
        plan(&in, &p);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_CREATE_TASK), 0);
}

/* A failed step runs no container: its slot is free (failFast off). */
static void test_parallelism_failed_step_frees_slot(void **state)
{
        (void)state;
        struct workflow_step s[3] = {step_failed("a"), step("b"), step("c")};
        struct workflow_plan_input in = input(s, 3);
        struct workflow_plan p;

        in.fail_fast = false;
        in.parallelism = 1;
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        plan(&in, &p);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_CREATE_TASK), 1);
        assert_creates(&p, 1);
        assert_step(&p, 0, STEP_FAILED);
        assert_step(&p, 1, STEP_RUNNING);
        assert_step(&p, 2, STEP_PENDING);
}

/* Parallelism counts Running steps: a step whose Task succeeded but whose
 * result is not recorded yet is still Running (dependants wait for it), so it
 * keeps its slot and the status never shows more than N steps Running. */
static void test_parallelism_result_pending_holds_slot(void **state)
{
        (void)state;
        struct workflow_step s[3] = {step_task("a", TASK_PHASE_SUCCEEDED), step("b"), step("c")};
        struct workflow_plan_input in = input(s, 3);
        struct workflow_plan p;

        in.parallelism = 1;
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        plan(&in, &p);
        assert_true(has_action(&p, WORKFLOW_ACTION_STORE_RESULT, 0));
        assert_step(&p, 0, STEP_RUNNING);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_CREATE_TASK), 0);
        assert_step(&p, 1, STEP_PENDING);
        assert_step(&p, 2, STEP_PENDING);
}

/* Ready steps start in spec order, even when the DAG order would reach a
 * later one first (x depends on z; y and z are both ready). */
static void test_parallelism_picks_ready_steps_in_spec_order(void **state)
{
        (void)state;
        struct workflow_step s[3] = {step("x"), step("y"), step("z")};
        s[0].deps = (const size_t[]){2};
        s[0].n_deps = 1;
        struct workflow_plan_input in = input(s, 3);
        struct workflow_plan p;

        in.parallelism = 1;
        plan(&in, &p);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_CREATE_TASK), 1);
        assert_creates(&p, 1);
        assert_step(&p, 0, STEP_PENDING);
        assert_step(&p, 1, STEP_RUNNING);
        assert_step(&p, 2, STEP_PENDING);

        /* Two slots: y and z, and the actions come in spec order. */
        in.parallelism = 2;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 2);
        assert_action(&p, 0, WORKFLOW_ACTION_CREATE_TASK);
        assert_action(&p, 1, WORKFLOW_ACTION_CREATE_TASK);
        assert_int_equal(p.actions[0].step, 1);
        assert_int_equal(p.actions[1].step, 2);

        /* p becomes ready this round (r succeeded); q was ready all along: one
         * slot goes to p, which comes first in the spec. */
        struct workflow_step s2[3] = {step("p"), step_task("r", TASK_PHASE_SUCCEEDED), step("q")};
        s2[0].deps = (const size_t[]){1};
        s2[0].n_deps = 1;
        s2[1].result_stored = true;
        in = input(s2, 3);
        in.parallelism = 1;
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        plan(&in, &p);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_CREATE_TASK), 1);
        assert_creates(&p, 0);
        assert_step(&p, 1, STEP_SUCCEEDED);
        assert_step(&p, 2, STEP_PENDING);
}

/* ---- failures --------------------------------------------------------- */

/* Without failFast: dependents of a failed step are skipped (transitively),
 * the independent branch goes on, the Workflow fails once it is done. */
static void test_dependency_failed_skips_dependents(void **state)
{
        (void)state;
        struct workflow_step s[4] = {step_failed("a"), step("b"), step("c"), step("other")};
        s[1].deps = (const size_t[]){0};
        s[1].n_deps = 1;
        s[2].deps = (const size_t[]){1};
        s[2].n_deps = 1;
        struct workflow_plan_input in = input(s, 4);
        struct workflow_plan p;

        in.fail_fast = false;
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0 - 1000;
        in.now_ms = T0 + 1000;
        plan(&in, &p);
        assert_step(&p, 0, STEP_FAILED);
        assert_step_reason(&p, 0, "Error");
        assert_step(&p, 1, STEP_SKIPPED);
        assert_step_reason(&p, 1, "DependencyFailed");
        assert_step(&p, 2, STEP_SKIPPED);
        assert_step_reason(&p, 2, "DependencyFailed");
        assert_step(&p, 3, STEP_RUNNING);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_CREATE_TASK), 1);
        assert_creates(&p, 3);
        assert_running_workflow(&p);

        /* The independent step succeeds: nothing runs, the Workflow fails. */
        s[0].prev_phase = STEP_FAILED;
        s[1].prev_phase = STEP_SKIPPED;
        s[2].prev_phase = STEP_SKIPPED;
        s[3] = step_task("other", TASK_PHASE_SUCCEEDED);
        s[3].result_stored = true;
        in.now_ms = T0 + 9000;
        plan(&in, &p);
        assert_int_equal(count_step_actions(&p), 0);
        assert_step(&p, 3, STEP_SUCCEEDED);
        assert_phase(&p, TASK_PHASE_FAILED);
        assert_string_equal(p.reason, "StepFailed");
        assert_message_prefix(&p, "step a failed");
        assert_int_equal(p.completion_ms, T0 + 9000);
        assert_int_equal(p.succeeded, 1);
}

/* A dependency that was skipped skips its dependents too. */
static void test_dependency_skipped_skips_dependents(void **state)
{
        (void)state;
        struct workflow_step s[3] = {step("a"), step("b"), step("c")};
        s[0].prev_phase = STEP_FAILED;
        s[0].prev_created = true;
        s[1].prev_phase = STEP_SKIPPED;
        s[1].deps = (const size_t[]){0};
        s[1].n_deps = 1;
        s[2].deps = (const size_t[]){1};
        s[2].n_deps = 1;
        struct workflow_plan_input in = input(s, 3);
        struct workflow_plan p;

        in.fail_fast = false;
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0 - 1000;
        plan(&in, &p);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_CREATE_TASK), 0);
        assert_step(&p, 1, STEP_SKIPPED);
        assert_step(&p, 2, STEP_SKIPPED);
        assert_step_reason(&p, 2, "DependencyFailed");
        assert_phase(&p, TASK_PHASE_FAILED);
}

/* failFast: after a failure no step starts; steps already running finish,
 * then the Workflow fails. */
/* A failure found while acting (the Task could not be made) is planner
 * input like any other: the step fails with that reason, its dependants are
 * skipped, and no Task is created for it. */
static void test_act_failure_fails_step(void **state)
{
        (void)state;
        struct workflow_step s[2] = {step("a"), step("b")};
        s[0].failure_reason = "InvalidTemplate";
        s[0].failure_message = "args[0]: expands to more than 131071 bytes";
        s[1].deps = (const size_t[]){0};
        s[1].n_deps = 1;
        struct workflow_plan_input in = input(s, 2);
        struct workflow_plan p;

        plan(&in, &p);
        assert_int_equal(count_step_actions(&p), 0);
        assert_step(&p, 0, STEP_FAILED);
        assert_step_reason(&p, 0, "InvalidTemplate");
        assert_string_equal(p.steps[0].message, s[0].failure_message);
        assert_step(&p, 1, STEP_SKIPPED);
        assert_phase(&p, TASK_PHASE_FAILED);
        assert_message_prefix(&p, "step a failed: InvalidTemplate: args[0]");
}

static void test_fail_fast_stops_new_steps(void **state)
{
        (void)state;
        struct workflow_step s[4] = {step_failed("a"), step_task("b", TASK_PHASE_RUNNING),
                                     step("c"), step("d")};
        s[3].deps = (const size_t[]){0};
        s[3].n_deps = 1;
        struct workflow_plan_input in = input(s, 4);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0 - 1000;
        in.now_ms = T0 + 1000;
        plan(&in, &p);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_CREATE_TASK), 0);
        assert_step(&p, 0, STEP_FAILED);
        assert_step(&p, 1, STEP_RUNNING);
        assert_step(&p, 2, STEP_SKIPPED);
        assert_step_reason(&p, 2, "FailFast");
        assert_skipped_by_failure(&p, 3);
        /* b still runs: the Workflow waits for it (terminal only when
         * stopped), Terminating for the failure. */
        assert_phase(&p, TASK_PHASE_RUNNING);
        assert_int_equal(p.completion_ms, 0);
        assert_true(p.terminating);
        assert_string_equal(p.reason, "StepFailed");
        assert_message_prefix(&p, "step a failed: Error: exit code 1; failFast: waiting");

        /* A Task created but not started yet also counts as running. */
        s[1].task_phase = TASK_PHASE_PENDING;
        plan(&in, &p);
        assert_step(&p, 1, STEP_RUNNING);
        assert_phase(&p, TASK_PHASE_RUNNING);
        assert_true(p.terminating);

        /* b ends: nothing runs any more, the Workflow fails with a's reason. */
        s[0].prev_phase = STEP_FAILED;
        s[1] = step_task("b", TASK_PHASE_SUCCEEDED);
        s[1].result_stored = true;
        s[2].prev_phase = STEP_SKIPPED;
        s[3].prev_phase = STEP_SKIPPED;
        in.now_ms = T0 + 7000;
        plan(&in, &p);
        assert_int_equal(count_step_actions(&p), 0);
        assert_step(&p, 0, STEP_FAILED);
        assert_step(&p, 1, STEP_SUCCEEDED);
        assert_step(&p, 2, STEP_SKIPPED);
        assert_step(&p, 3, STEP_SKIPPED);
        assert_phase(&p, TASK_PHASE_FAILED);
        assert_string_equal(p.reason, "StepFailed");
        assert_message_prefix(&p, "step a failed");
        assert_false(p.terminating);
        assert_int_equal(p.completion_ms, T0 + 7000);
        assert_int_equal(p.start_ms, T0 - 1000);
        assert_int_equal(p.succeeded, 1);
        assert_true(p.status_changed);
}

/* The failure is seen in the same round as a step that comes earlier in the
 * spec and is ready: with failFast it must not be started. */
static void test_fail_fast_failure_seen_in_same_round(void **state)
{
        (void)state;
        struct workflow_step s[3] = {step("early"), step("late"), step_failed("bad")};
        s[1].deps = (const size_t[]){0};
        s[1].n_deps = 1;
        struct workflow_plan_input in = input(s, 3);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0 - 1000;
        plan(&in, &p);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_CREATE_TASK), 0);
        assert_step(&p, 2, STEP_FAILED);
        assert_skipped_by_failure(&p, 0);
        assert_skipped_by_failure(&p, 1);
        assert_phase(&p, TASK_PHASE_FAILED);
        assert_message_prefix(&p, "step bad failed");
}

/* The usual failFast case: a step fails while another runs; its status entry
 * is written as Failed, and only a later round (the other step done) fails the
 * Workflow. The message still names the Task's reason and message
 * ("step transform failed: Error: exit code 1" in the doc). */
static void test_failure_message_after_sticky_failure(void **state)
{
        (void)state;
        struct workflow_step s[2] = {step_failed("transform"), step_done("other")};
        s[0].prev_phase = STEP_FAILED;
        s[0].task_reason = "OOMKilled";
        s[0].task_message = "killed: out of memory";
        /* The status recorded them when the step failed. */
        s[0].prev_reason = "OOMKilled";
        s[0].prev_message = "killed: out of memory";
        struct workflow_plan_input in = input(s, 2);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0 - 1000;
        in.now_ms = T0 + 7000;
        plan(&in, &p);
        assert_step(&p, 0, STEP_FAILED);
        assert_phase(&p, TASK_PHASE_FAILED);
        assert_string_equal(p.reason, "StepFailed");
        assert_message_prefix(&p, "step transform failed");
        if (!strstr(p.message, "OOMKilled") || !strstr(p.message, "killed: out of memory"))
                fail_msg("message \"%s\" lacks the Task's reason and message", p.message);
}

/* Without failFast, a step that is ready keeps starting after a failure. */
static void test_no_fail_fast_keeps_independent_branch(void **state)
{
        (void)state;
        struct workflow_step s[4] = {step_failed("a"), step_done("b"), step("c"), step("d")};
        s[2].deps = (const size_t[]){1};
        s[2].n_deps = 1;
        s[3].deps = (const size_t[]){2};
        s[3].n_deps = 1;
        struct workflow_plan_input in = input(s, 4);
        struct workflow_plan p;

        in.fail_fast = false;
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0 - 1000;
        plan(&in, &p);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_CREATE_TASK), 1);
        assert_creates(&p, 2);
        assert_step(&p, 0, STEP_FAILED);
        assert_step(&p, 2, STEP_RUNNING);
        assert_step(&p, 3, STEP_PENDING);
        assert_running_workflow(&p);

        /* c succeeds: d, which depends only on the healthy branch, starts. */
        s[0].prev_phase = STEP_FAILED;
        s[2] = step_task("c", TASK_PHASE_SUCCEEDED);
        s[2].result_stored = true;
        plan(&in, &p);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_CREATE_TASK), 1);
        assert_creates(&p, 3);
        assert_phase(&p, TASK_PHASE_RUNNING);
}

/* ---- Workflow status -------------------------------------------------- */

static void test_all_succeeded_completes(void **state)
{
        (void)state;
        struct workflow_step s[3] = {step_done("a"), step_done("b"),
                                     step_task("c", TASK_PHASE_SUCCEEDED)};
        s[2].result_stored = true;
        s[2].deps = (const size_t[]){0, 1};
        s[2].n_deps = 2;
        struct workflow_plan_input in = input(s, 3);
        struct workflow_plan p;

        in.ttl_after_finished_ms = -1;
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        in.now_ms = T0 + 60000;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        for (size_t i = 0; i < 3; i++)
                assert_step(&p, i, STEP_SUCCEEDED);
        assert_phase(&p, TASK_PHASE_SUCCEEDED);
        assert_non_null(p.reason);
        assert_string_equal(p.reason, "Completed");
        assert_int_equal(p.completion_ms, T0 + 60000);
        assert_int_equal(p.start_ms, T0);
        assert_int_equal(p.succeeded, 3);
        assert_true(p.status_changed);
        assert_true(p.requeue_after_ms < 0);

        /* The last result not recorded yet: not done. */
        s[2].result_stored = false;
        plan(&in, &p);
        assert_true(has_action(&p, WORKFLOW_ACTION_STORE_RESULT, 2));
        assert_running_workflow(&p);
        assert_int_equal(p.succeeded, 2);
}

static void test_start_time_and_progress(void **state)
{
        (void)state;
        struct workflow_step s[4] = {step_done("a"), step_task("b", TASK_PHASE_RUNNING), step("c"),
                                     step("d")};
        s[3].deps = (const size_t[]){1};
        s[3].n_deps = 1;
        struct workflow_plan_input in = input(s, 4);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0 + 7;
        in.now_ms = T0 + 30000;
        plan(&in, &p);
        assert_creates(&p, 2);
        assert_int_equal(p.start_ms, T0 + 7);
        assert_int_equal(p.succeeded, 1);
        assert_int_equal(p.completion_ms, 0);
        assert_running_workflow(&p);
}

/* Nothing can start (here: a cycle, which validation would have refused):
 * the Workflow is Pending, with no start time. */
static void test_cycle_left_pending(void **state)
{
        (void)state;
        struct workflow_step s[3] = {step("a"), step("b"), step("self")};
        s[0].deps = (const size_t[]){1};
        s[0].n_deps = 1;
        s[1].deps = (const size_t[]){0};
        s[1].n_deps = 1;
        s[2].deps = (const size_t[]){2};
        s[2].n_deps = 1;
        struct workflow_plan_input in = input(s, 3);
        struct workflow_plan p;

        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        for (size_t i = 0; i < 3; i++)
                assert_step(&p, i, STEP_PENDING);
        assert_phase(&p, TASK_PHASE_PENDING);
        assert_null(p.reason);
        assert_int_equal(p.start_ms, 0);
        assert_int_equal(p.completion_ms, 0);
        assert_int_equal(p.succeeded, 0);

        /* A step outside the cycle runs; the cycle stays Pending. */
        struct workflow_step s4[4] = {step("a"), step("b"), step("ok"), step("after-a")};
        s4[0].deps = (const size_t[]){1};
        s4[0].n_deps = 1;
        s4[1].deps = (const size_t[]){0};
        s4[1].n_deps = 1;
        s4[3].deps = (const size_t[]){0};
        s4[3].n_deps = 1;
        in = input(s4, 4);
        in.now_ms = T0 + 3;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_creates(&p, 2);
        assert_step(&p, 0, STEP_PENDING);
        assert_step(&p, 1, STEP_PENDING);
        assert_step(&p, 2, STEP_RUNNING);
        assert_step(&p, 3, STEP_PENDING);
        assert_phase(&p, TASK_PHASE_RUNNING);
        assert_int_equal(p.start_ms, T0 + 3);
}

/* ---- finished Workflows and TTL --------------------------------------- */

/* A finished Workflow never runs again (spec changes included) and leaves
 * its status alone. */
static void test_finished_workflow_does_nothing(void **state)
{
        (void)state;
        static const enum task_phase finished[] = {TASK_PHASE_SUCCEEDED, TASK_PHASE_FAILED};
        struct workflow_step s[3] = {step("new"), step_task("late", TASK_PHASE_SUCCEEDED),
                                     step_failed("bad")};
        struct workflow_plan_input in = input(s, 3);
        struct workflow_plan p;

        in.prev_start_ms = T0 - 5000;
        in.prev_completion_ms = T0 - 1000;
        for (size_t i = 0; i < ARRAY_SIZE(finished); i++) {
                in.prev_phase = finished[i];
                plan(&in, &p);
                assert_int_equal(p.n_actions, 0);
                assert_false(p.status_changed);
                assert_true(p.requeue_after_ms < 0);
        }
}

static void test_ttl_requeue_then_delete(void **state)
{
        (void)state;
        struct workflow_step s[2] = {step_done("a"), step_done("b")};
        struct workflow_plan_input in = input(s, 2);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_SUCCEEDED;
        in.prev_start_ms = T0 - 5000;
        in.prev_completion_ms = T0;
        in.ttl_after_finished_ms = 2000;
        in.now_ms = T0 + 500;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.requeue_after_ms, 1500);
        assert_false(p.status_changed);

        in.now_ms = T0 + 2000;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, WORKFLOW_ACTION_DELETE);
        assert_false(p.status_changed);

        in.now_ms = T0 + 99000;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, WORKFLOW_ACTION_DELETE);

        /* Failed Workflows expire the same way; ttl 0 = at once. */
        in.prev_phase = TASK_PHASE_FAILED;
        in.ttl_after_finished_ms = 0;
        in.now_ms = T0;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, WORKFLOW_ACTION_DELETE);

        /* Keep forever: no action, no timer. */
        in.ttl_after_finished_ms = -1;
        in.now_ms = T0 + 99000;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_true(p.requeue_after_ms < 0);
        assert_false(p.status_changed);
}

/* ---- limits ----------------------------------------------------------- */

/* A Workflow of WORKFLOW_STEPS_MAX steps with storage for names and deps. */
struct big {
        struct workflow_step s[WORKFLOW_STEPS_MAX];
        char names[WORKFLOW_STEPS_MAX][16];
        size_t deps[WORKFLOW_STEPS_MAX];
};

/* Every step new and independent. */
static void big_init(struct big *b)
{
        for (size_t i = 0; i < WORKFLOW_STEPS_MAX; i++) {
                snprintf(b->names[i], sizeof(b->names[i]), "s%zu", i);
                b->s[i] = step(b->names[i]);
        }
}

/* 200 steps in a chain, listed first to last: only the first starts. */
static void test_chain_of_200(void **state)
{
        (void)state;
        struct big b;
        struct workflow_step *s = b.s;
        struct workflow_plan_input in = input(s, WORKFLOW_STEPS_MAX);
        struct workflow_plan p;

        big_init(&b);
        for (size_t i = 1; i < WORKFLOW_STEPS_MAX; i++) {
                b.deps[i] = i - 1;
                s[i].deps = &b.deps[i];
                s[i].n_deps = 1;
        }
        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_creates(&p, 0);
        assert_step(&p, 0, STEP_RUNNING);
        for (size_t i = 1; i < WORKFLOW_STEPS_MAX; i++)
                assert_step(&p, i, STEP_PENDING);

        /* All but the last done: the last one starts. */
        for (size_t i = 0; i + 1 < WORKFLOW_STEPS_MAX; i++)
                s[i] = (struct workflow_step){.name = b.names[i],
                                              .deps = s[i].deps,
                                              .n_deps = s[i].n_deps,
                                              .task_exists = true,
                                              .task_phase = TASK_PHASE_SUCCEEDED,
                                              .result_stored = true,
                                              .prev_phase = STEP_SUCCEEDED,
                                              .prev_created = true};
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0 - 1000;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_creates(&p, WORKFLOW_STEPS_MAX - 1);
        assert_int_equal(p.succeeded, WORKFLOW_STEPS_MAX - 1);
        assert_phase(&p, TASK_PHASE_RUNNING);

        /* The first fails (failFast): all 199 others are skipped at once. */
        big_init(&b);
        for (size_t i = 1; i < WORKFLOW_STEPS_MAX; i++) {
                s[i].deps = &b.deps[i];
                s[i].n_deps = 1;
        }
        s[0] = step_failed(b.names[0]);
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        for (size_t i = 1; i < WORKFLOW_STEPS_MAX; i++)
                assert_skipped_by_failure(&p, i);
        assert_phase(&p, TASK_PHASE_FAILED);
}

/* The chain listed last to first (step i depends on step i+1): the DAG order
 * is the reverse of the spec order, 200 deep. */
static void test_reverse_chain_of_200(void **state)
{
        (void)state;
        struct big b;
        struct workflow_step *s = b.s;
        struct workflow_plan_input in = input(s, WORKFLOW_STEPS_MAX);
        struct workflow_plan p;

        big_init(&b);
        for (size_t i = 0; i + 1 < WORKFLOW_STEPS_MAX; i++) {
                b.deps[i] = i + 1;
                s[i].deps = &b.deps[i];
                s[i].n_deps = 1;
        }
        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_creates(&p, WORKFLOW_STEPS_MAX - 1);
        for (size_t i = 0; i + 1 < WORKFLOW_STEPS_MAX; i++)
                assert_step(&p, i, STEP_PENDING);
}

/* 200 independent steps, no parallelism limit: all start in one plan. */
static void test_200_independent_steps(void **state)
{
        (void)state;
        struct big b;
        struct workflow_step *s = b.s;
        struct workflow_plan_input in = input(s, WORKFLOW_STEPS_MAX);
        struct workflow_plan p;
        bool seen[WORKFLOW_STEPS_MAX] = {false};

        big_init(&b);
        in.parallelism = 0;
        plan(&in, &p);
        assert_int_equal(p.n_actions, WORKFLOW_STEPS_MAX);
        for (size_t i = 0; i < p.n_actions; i++) {
                assert_action(&p, i, WORKFLOW_ACTION_CREATE_TASK);
                assert_true(p.actions[i].step < WORKFLOW_STEPS_MAX);
                assert_false(seen[p.actions[i].step]);
                seen[p.actions[i].step] = true;
        }
        for (size_t i = 0; i < WORKFLOW_STEPS_MAX; i++)
                assert_step(&p, i, STEP_RUNNING);
        assert_running_workflow(&p);

        /* The same with the finalizer missing: it comes first, and the action
         * array has room for everything. */
        in.has_finalizer = false;
        plan(&in, &p);
        assert_action(&p, 0, WORKFLOW_ACTION_ADD_FINALIZER);

        /* parallelism 150 caps the 200. */
        in.has_finalizer = true;
        in.parallelism = 150;
        plan(&in, &p);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_CREATE_TASK), 150);
        assert_creates(&p, 0);
        assert_creates(&p, 149);
        assert_not_creates(&p, 150);
        assert_step(&p, 150, STEP_PENDING);
}

/* ---- deploy steps ----------------------------------------------------- */

/* A deploy step starts like a Task step, once its dependencies succeeded and
 * their results are in: with a Deploy action, not a CreateTask. */
static void test_deploy_starts_after_dependencies(void **state)
{
        (void)state;
        struct workflow_step s[3] = {step_task("build", TASK_PHASE_RUNNING), step("test"),
                                     step_deploy("deploy")};
        s[1].deps = (const size_t[]){0};
        s[1].n_deps = 1;
        s[2].deps = (const size_t[]){1};
        s[2].n_deps = 1;
        struct workflow_plan_input in = input(s, 3);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0 - 1000;
        plan(&in, &p);
        assert_int_equal(count_step_actions(&p), 0);
        assert_step(&p, 2, STEP_PENDING);

        s[0] = step_done("build");
        s[1] = step_task("test", TASK_PHASE_SUCCEEDED);
        s[1].deps = (const size_t[]){0};
        s[1].n_deps = 1;
        plan(&in, &p);
        /* test's result first: the deploy waits for it */
        assert_int_equal(count_step_actions(&p), 1);
        assert_true(has_action(&p, WORKFLOW_ACTION_STORE_RESULT, 1));
        assert_step(&p, 2, STEP_PENDING);

        s[1].result_stored = true;
        plan(&in, &p);
        assert_int_equal(count_step_actions(&p), 1);
        assert_true(has_action(&p, WORKFLOW_ACTION_DEPLOY, 2));
        assert_not_creates(&p, 2);
        assert_step(&p, 2, STEP_RUNNING);
        assert_int_equal(p.succeeded, 2);
        assert_running_workflow(&p);
}

/* parallelism counts a deploy that waits for its rollout as running, and a
 * deploy step is held back like any other. */
static void test_deploy_parallelism(void **state)
{
        (void)state;
        struct workflow_step s[3] = {step_deployed("deploy", ROLLOUT_PROGRESSING), step("a"),
                                     step_deploy("later")};
        struct workflow_plan_input in = input(s, 3);
        struct workflow_plan p;

        in.parallelism = 1;
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0 - 1000;
        plan(&in, &p);
        assert_int_equal(count_step_actions(&p), 0);
        assert_step(&p, 0, STEP_RUNNING);
        assert_step(&p, 1, STEP_PENDING);
        assert_step(&p, 2, STEP_PENDING);

        in.parallelism = 2;
        plan(&in, &p);
        assert_creates(&p, 1);
        assert_false(has_action(&p, WORKFLOW_ACTION_DEPLOY, 2));
        assert_step(&p, 2, STEP_PENDING);

        in.parallelism = 0;
        plan(&in, &p);
        assert_creates(&p, 1);
        assert_true(has_action(&p, WORKFLOW_ACTION_DEPLOY, 2));
}

/* A failed dependency skips a deploy step; failFast skips one not started and
 * lets one that follows its rollout finish. */
static void test_deploy_skipped_and_fail_fast(void **state)
{
        (void)state;
        struct workflow_step s[4] = {step_failed("test"), step_deploy("deploy"),
                                     step_deploy("other"),
                                     step_deployed("rolling", ROLLOUT_PROGRESSING)};
        s[1].deps = (const size_t[]){0};
        s[1].n_deps = 1;
        struct workflow_plan_input in = input(s, 4);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0 - 1000;
        plan(&in, &p);
        assert_int_equal(count_step_actions(&p), 0);
        assert_step(&p, 1, STEP_SKIPPED);
        assert_step_reason(&p, 1, "DependencyFailed");
        assert_step(&p, 2, STEP_SKIPPED);
        assert_step_reason(&p, 2, "FailFast");
        assert_step(&p, 3, STEP_RUNNING);
        assert_phase(&p, TASK_PHASE_RUNNING);
        assert_true(p.terminating);

        in.fail_fast = false;
        plan(&in, &p);
        assert_step_reason(&p, 1, "DependencyFailed");
        assert_true(has_action(&p, WORKFLOW_ACTION_DEPLOY, 2));
        assert_step(&p, 2, STEP_RUNNING);
}

/* wait: false — done once written: its result (the image) is recorded, then
 * it has succeeded, whatever the rollout does. */
static void test_deploy_without_wait(void **state)
{
        (void)state;
        struct workflow_step s[2] = {step_deployed("deploy", ROLLOUT_PROGRESSING), step("smoke")};
        s[0].deploy_wait = false;
        s[1].deps = (const size_t[]){0};
        s[1].n_deps = 1;
        struct workflow_plan_input in = input(s, 2);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0 - 1000;
        plan(&in, &p);
        assert_int_equal(count_step_actions(&p), 1);
        assert_true(has_action(&p, WORKFLOW_ACTION_STORE_RESULT, 0));
        assert_step(&p, 0, STEP_RUNNING);
        assert_step(&p, 1, STEP_PENDING);

        s[0].result_stored = true;
        plan(&in, &p);
        assert_step(&p, 0, STEP_SUCCEEDED);
        assert_creates(&p, 1);

        /* the rollout failing afterwards, or the Service going, changes nothing */
        s[0].rollout = ROLLOUT_FAILED;
        s[0].service_found = false;
        plan(&in, &p);
        assert_step(&p, 0, STEP_SUCCEEDED);
}

/* wait: true — Running until the rollout of the generation written is
 * complete, with no timer: the Service's events bring the Workflow back. */
static void test_deploy_waits_for_rollout(void **state)
{
        (void)state;
        struct workflow_step s[1] = {step_deployed("deploy", ROLLOUT_PROGRESSING)};
        struct workflow_plan_input in = input(s, 1);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0 - 1000;
        in.now_ms = T0 + 3600 * 1000;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_step(&p, 0, STEP_RUNNING);
        assert_null(p.steps[0].reason);
        assert_running_workflow(&p);

        s[0].rollout = ROLLOUT_COMPLETE;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_true(has_action(&p, WORKFLOW_ACTION_STORE_RESULT, 0));
        assert_step(&p, 0, STEP_RUNNING);

        s[0].result_stored = true;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_step(&p, 0, STEP_SUCCEEDED);
        assert_phase(&p, TASK_PHASE_SUCCEEDED);
        assert_string_equal(p.reason, "Completed");
        assert_int_equal(p.completion_ms, in.now_ms);
}

static void test_deploy_rollout_failed(void **state)
{
        (void)state;
        struct workflow_step s[2] = {step_deployed("deploy", ROLLOUT_FAILED), step("smoke")};
        s[0].rollout_message = "revision 1a2b3c4d made no progress for 5s: the rollout stopped";
        s[1].deps = (const size_t[]){0};
        s[1].n_deps = 1;
        struct workflow_plan_input in = input(s, 2);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0 - 1000;
        in.now_ms = T0 + 9000;
        plan(&in, &p);
        assert_int_equal(count_step_actions(&p), 0);
        assert_step(&p, 0, STEP_FAILED);
        assert_step_reason(&p, 0, "RolloutFailed");
        assert_string_equal(p.steps[0].message, "service web: revision 1a2b3c4d made no progress "
                                                "for 5s: the rollout stopped");
        assert_step(&p, 1, STEP_SKIPPED);
        assert_phase(&p, TASK_PHASE_FAILED);
        assert_message_prefix(&p, "step deploy failed: RolloutFailed: service web: revision");
        assert_int_equal(p.completion_ms, T0 + 9000);

        /* without the Service's message, still a message */
        s[0].rollout_message = NULL;
        plan(&in, &p);
        assert_step_reason(&p, 0, "RolloutFailed");
        assert_non_null(strstr(p.steps[0].message, "service web"));
}

/* timeoutSeconds: a timer for the deadline while the rollout goes on; past
 * it, the step fails unless the rollout completed. */
static void test_deploy_timeout(void **state)
{
        (void)state;
        struct workflow_step s[1] = {step_deployed("deploy", ROLLOUT_PROGRESSING)};
        s[0].deploy_deadline_ms = T0 + 60000;
        struct workflow_plan_input in = input(s, 1);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        in.now_ms = T0 + 15000;
        plan(&in, &p);
        assert_step(&p, 0, STEP_RUNNING);
        assert_int_equal(p.requeue_after_ms, 45000);

        in.now_ms = T0 + 60000;
        plan(&in, &p);
        assert_step(&p, 0, STEP_FAILED);
        assert_step_reason(&p, 0, "RolloutTimeout");
        assert_non_null(strstr(p.steps[0].message, "service web"));
        assert_phase(&p, TASK_PHASE_FAILED);
        assert_true(p.requeue_after_ms < 0);

        /* complete counts, even seen late */
        s[0].rollout = ROLLOUT_COMPLETE;
        plan(&in, &p);
        assert_step(&p, 0, STEP_RUNNING);
        assert_true(has_action(&p, WORKFLOW_ACTION_STORE_RESULT, 0));
        /* and a failed rollout says why, not that time ran out */
        s[0].rollout = ROLLOUT_FAILED;
        plan(&in, &p);
        assert_step_reason(&p, 0, "RolloutFailed");

        /* the earliest of two deadlines */
        struct workflow_step two[2] = {step_deployed("a", ROLLOUT_PROGRESSING),
                                       step_deployed("b", ROLLOUT_PROGRESSING)};
        two[0].deploy_deadline_ms = T0 + 90000;
        two[1].deploy_deadline_ms = T0 + 30000;
        in = input(two, 2);
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        in.now_ms = T0 + 10000;
        plan(&in, &p);
        assert_int_equal(p.requeue_after_ms, 20000);
}

/* The Service went away (or was made again: another uid) while its rollout
 * was followed; or its image was changed by someone else. */
static void test_deploy_service_lost_or_superseded(void **state)
{
        (void)state;
        struct workflow_step s[1] = {step_deployed("deploy", ROLLOUT_COMPLETE)};
        s[0].service_found = false;
        struct workflow_plan_input in = input(s, 1);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        plan(&in, &p);
        assert_step(&p, 0, STEP_FAILED);
        assert_step_reason(&p, 0, "ServiceNotFound");
        assert_non_null(strstr(p.steps[0].message, "service web"));
        assert_phase(&p, TASK_PHASE_FAILED);

        s[0].service_found = true;
        s[0].superseded_by = "app:v3";
        plan(&in, &p);
        assert_step(&p, 0, STEP_FAILED);
        assert_step_reason(&p, 0, "Superseded");
        assert_non_null(strstr(p.steps[0].message, "app:v3"));
}

/* Acting found the step failed (no Service, an image that does not expand):
 * it fails with that reason and deploys nothing. */
static void test_deploy_act_failure(void **state)
{
        (void)state;
        struct workflow_step s[1] = {step_deploy("deploy")};
        s[0].failure_reason = "ServiceNotFound";
        s[0].failure_message = "service web not found in namespace default";
        struct workflow_plan_input in = input(s, 1);
        struct workflow_plan p;

        plan(&in, &p);
        assert_int_equal(count_step_actions(&p), 0);
        assert_step(&p, 0, STEP_FAILED);
        assert_step_reason(&p, 0, "ServiceNotFound");
        assert_string_equal(p.steps[0].message, s[0].failure_message);
        assert_phase(&p, TASK_PHASE_FAILED);
}

/* Finished deploy steps stay as they were; a Service written by a reconcile
 * whose status write was lost started the Workflow. */
static void test_deploy_sticky_and_start_time(void **state)
{
        (void)state;
        struct workflow_step s[2] = {step_deployed("a", ROLLOUT_FAILED),
                                     step_deployed("b", ROLLOUT_PROGRESSING)};
        s[0].prev_phase = STEP_SUCCEEDED;
        s[0].result_stored = true;
        s[0].service_found = false;
        s[1].prev_phase = STEP_PENDING;
        struct workflow_plan_input in = input(s, 2);
        struct workflow_plan p;

        in.prev_start_ms = 0;
        in.now_ms = T0 + 500;
        plan(&in, &p);
        assert_step(&p, 0, STEP_SUCCEEDED);
        assert_step(&p, 1, STEP_RUNNING);
        assert_false(has_action(&p, WORKFLOW_ACTION_DEPLOY, 1));
        assert_int_equal(p.start_ms, T0 + 500);
        assert_phase(&p, TASK_PHASE_RUNNING);
}

/* ---- depends expressions ---------------------------------------------- */

/* A parsed depends expression; the test frees it with cond_free(). */
static struct cond *depends(const char *text)
{
        struct cond *c = NULL;
        char msg[200] = "";

        if (cond_parse(text, COND_DEPENDS, &c, msg, sizeof(msg)) < 0)
                fail_msg("cond_parse(\"%s\"): %s", text, msg);
        return c;
}

static const size_t dep_0[] = {0};
static const size_t dep_1[] = {1};
static const size_t dep_12[] = {1, 2};

/* The diamond a → b, c → d: b and c depend on a, d names b and c in its
 * depends (its dependencies are the steps the expression names). */
static void diamond(struct workflow_step s[4], const struct cond *d)
{
        s[1].deps = dep_0;
        s[1].n_deps = 1;
        s[2].deps = dep_0;
        s[2].n_deps = 1;
        s[3].deps = dep_12;
        s[3].n_deps = 2;
        s[3].depends = d;
}

/* b failed, c succeeded: d runs ("b.Failed || c.Failed"), and since d's
 * expression names b's failure, the Workflow succeeds once d has. */
static void test_depends_diamond_failure_handled(void **state)
{
        (void)state;
        struct cond *d = depends("b.Failed || c.Failed");
        struct workflow_step s[4] = {step_done("a"), step_failed("b"), step_done("c"), step("d")};
        diamond(s, d);
        struct workflow_plan_input in = input(s, 4);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        in.now_ms = T0 + 5000;
        plan(&in, &p);
        assert_int_equal(count_step_actions(&p), 1);
        assert_creates(&p, 3);
        assert_step(&p, 1, STEP_FAILED);
        assert_step(&p, 3, STEP_RUNNING);
        /* a handled failure is no failFast failure */
        assert_running_workflow(&p);
        assert_false(p.terminating);
        assert_int_equal(p.outcome, TASK_PHASE_SUCCEEDED);

        s[1].prev_phase = STEP_FAILED;
        s[3] = step_done("d");
        diamond(s, d);
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_step(&p, 1, STEP_FAILED);
        assert_step(&p, 3, STEP_SUCCEEDED);
        assert_phase(&p, TASK_PHASE_SUCCEEDED);
        assert_string_equal(p.reason, "Completed");
        assert_int_equal(p.completion_ms, T0 + 5000);
        assert_int_equal(p.succeeded, 3);

        /* d ran, and failed: that failure is nobody's to handle. */
        s[3] = step_failed("d");
        diamond(s, d);
        plan(&in, &p);
        assert_phase(&p, TASK_PHASE_FAILED);
        assert_string_equal(p.reason, "StepFailed");
        assert_message_prefix(&p, "step d failed");
        cond_free(d);
}

/* Every named step succeeded: "b.Failed || c.Failed" is false, d is Skipped
 * (DependsFalse) and so is what depends on d; nothing failed, so the
 * Workflow succeeds. */
static void test_depends_false_skips(void **state)
{
        (void)state;
        struct cond *d = depends("b.Failed || c.Failed");
        struct workflow_step s[5] = {step_done("a"), step_done("b"), step_done("c"), step("d"),
                                     step("e")};
        diamond(s, d);
        s[4].deps = (const size_t[]){3};
        s[4].n_deps = 1;
        struct workflow_plan_input in = input(s, 5);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        plan(&in, &p);
        assert_int_equal(count_step_actions(&p), 0);
        assert_step(&p, 3, STEP_SKIPPED);
        assert_step_reason(&p, 3, "DependsFalse");
        assert_non_null(p.steps[3].message);
        assert_step(&p, 4, STEP_SKIPPED);
        assert_step_reason(&p, 4, "DependencyFailed");
        assert_string_equal(p.steps[4].message, "dependency d was skipped");
        assert_phase(&p, TASK_PHASE_SUCCEEDED);
        assert_string_equal(p.reason, "Completed");
        assert_int_equal(p.succeeded, 3);
        cond_free(d);

        /* "b.Succeeded && c.Succeeded" with b failed: d is skipped, and b's
         * failure, which nothing names with .Failed or .Completed, fails the
         * Workflow. */
        d = depends("b.Succeeded && c.Succeeded");
        s[1] = step_failed("b");
        s[3] = step("d");
        diamond(s, d);
        in.fail_fast = false;
        plan(&in, &p);
        assert_int_equal(count_step_actions(&p), 0);
        assert_step_reason(&p, 3, "DependsFalse");
        assert_phase(&p, TASK_PHASE_FAILED);
        assert_string_equal(p.reason, "StepFailed");
        assert_message_prefix(&p, "step b failed: Error: exit code 1");
        cond_free(d);
}

/* A depends expression is decided once every step it names has ended, even
 * when the ones that ended already make it true. */
static void test_depends_waits_for_every_named_step(void **state)
{
        (void)state;
        struct cond *d = depends("b.Failed || c.Failed");
        struct workflow_step s[4] = {step_done("a"), step_failed("b"),
                                     step_task("c", TASK_PHASE_RUNNING), step("d")};
        diamond(s, d);
        struct workflow_plan_input in = input(s, 4);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        plan(&in, &p);
        assert_int_equal(count_step_actions(&p), 0);
        assert_step(&p, 3, STEP_PENDING);
        assert_running_workflow(&p);
        assert_false(p.terminating);

        /* c's result not recorded yet: c has not ended. */
        s[2].task_phase = TASK_PHASE_SUCCEEDED;
        plan(&in, &p);
        assert_true(has_action(&p, WORKFLOW_ACTION_STORE_RESULT, 2));
        assert_not_creates(&p, 3);
        assert_step(&p, 3, STEP_PENDING);

        s[2].result_stored = true;
        plan(&in, &p);
        assert_creates(&p, 3);
        assert_step(&p, 3, STEP_RUNNING);
        cond_free(d);
}

/* .Completed expects either ending: a failure it names is handled (no
 * failFast, no failed Workflow); a ready independent step still starts. */
static void test_depends_completed_handles_failure(void **state)
{
        (void)state;
        struct cond *d = depends("b.Completed");
        struct workflow_step s[4] = {step_done("a"), step_failed("b"), step("x"), step("d")};
        s[1].deps = dep_0;
        s[1].n_deps = 1;
        s[3].deps = dep_1;
        s[3].n_deps = 1;
        s[3].depends = d;
        struct workflow_plan_input in = input(s, 4);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        plan(&in, &p);
        assert_creates(&p, 2);
        assert_creates(&p, 3);
        assert_running_workflow(&p);

        s[1].prev_phase = STEP_FAILED;
        s[2] = step_done("x");
        s[3] = step_done("d");
        s[3].deps = dep_1;
        s[3].n_deps = 1;
        s[3].depends = d;
        plan(&in, &p);
        assert_phase(&p, TASK_PHASE_SUCCEEDED);
        assert_int_equal(p.outcome, TASK_PHASE_SUCCEEDED);
        cond_free(d);
}

/* Two failures, one handled by a depends, one not: the Workflow fails and
 * names the unhandled one, whatever the spec order. */
static void test_outcome_names_unhandled_failure(void **state)
{
        (void)state;
        struct cond *d = depends("a.Failed");
        struct workflow_step s[3] = {step_failed("a"), step_failed("b"), step_done("d")};
        s[2].deps = dep_0;
        s[2].n_deps = 1;
        s[2].depends = d;
        struct workflow_plan_input in = input(s, 3);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        plan(&in, &p);
        assert_phase(&p, TASK_PHASE_FAILED);
        assert_int_equal(p.outcome, TASK_PHASE_FAILED);
        assert_message_prefix(&p, "step b failed");

        /* b continues on failure: nothing unhandled is left. */
        s[1].continue_on_failed = true;
        plan(&in, &p);
        assert_phase(&p, TASK_PHASE_SUCCEEDED);
        assert_string_equal(p.reason, "Completed");
        cond_free(d);
}

/* ---- when ------------------------------------------------------------- */

/* A step with a when is resolved once it may start (not before its
 * dependencies succeeded); false skips it (WhenFalse), and a dependsOn
 * dependant with it; true starts it. */
static void test_when_resolve_then_skip(void **state)
{
        (void)state;
        struct workflow_step s[3] = {step_task("z", TASK_PHASE_RUNNING), step("a"), step("b")};
        s[1].needs_resolve = true;
        s[1].deps = dep_0;
        s[1].n_deps = 1;
        s[2].deps = dep_1;
        s[2].n_deps = 1;
        struct workflow_plan_input in = input(s, 3);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        plan(&in, &p);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_RESOLVE), 0);

        s[0] = step_done("z");
        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, WORKFLOW_ACTION_RESOLVE);
        assert_int_equal(p.actions[0].step, 1);
        assert_int_equal(p.actions[0].child, WORKFLOW_NO_CHILD);
        assert_step(&p, 1, STEP_PENDING);
        assert_step(&p, 2, STEP_PENDING);
        assert_phase(&p, TASK_PHASE_RUNNING);

        /* acting resolved it: false */
        s[1].resolved = true;
        s[1].when_false = true;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_step(&p, 1, STEP_SKIPPED);
        assert_step_reason(&p, 1, "WhenFalse");
        assert_non_null(p.steps[1].message);
        assert_step(&p, 2, STEP_SKIPPED);
        assert_step_reason(&p, 2, "DependencyFailed");
        assert_string_equal(p.steps[2].message, "dependency a was skipped");
        assert_phase(&p, TASK_PHASE_SUCCEEDED);
        assert_int_equal(p.succeeded, 1);

        /* true */
        s[1].when_false = false;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_creates(&p, 1);
        assert_step(&p, 1, STEP_RUNNING);
        assert_step(&p, 2, STEP_PENDING);
}

/* Resolution waits for a free slot, is never asked for a step its
 * dependencies skip, and a first step's resolution starts nothing yet. */
static void test_when_resolution_rules(void **state)
{
        (void)state;
        struct workflow_step s[3] = {step_task("x", TASK_PHASE_RUNNING), step("w"), step("after")};
        s[1].needs_resolve = true;
        s[2].needs_resolve = true;
        s[2].deps = dep_0;
        s[2].n_deps = 1;
        struct workflow_plan_input in = input(s, 3);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        in.parallelism = 1;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_step(&p, 1, STEP_PENDING);

        in.parallelism = 0;
        s[0] = step_failed("x");
        in.fail_fast = false;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_true(has_action(&p, WORKFLOW_ACTION_RESOLVE, 1));
        assert_false(has_action(&p, WORKFLOW_ACTION_RESOLVE, 2));
        assert_step_reason(&p, 2, "DependencyFailed");

        /* A Workflow whose only ready step waits for its when: Pending, not
         * started. */
        struct workflow_step one[1] = {step("w")};
        one[0].needs_resolve = true;
        in = input(one, 1);
        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, WORKFLOW_ACTION_RESOLVE);
        assert_phase(&p, TASK_PHASE_PENDING);
        assert_int_equal(p.start_ms, 0);

        one[0].resolved = true;
        in.now_ms = T0 + 5;
        plan(&in, &p);
        assert_creates(&p, 0);
        assert_phase(&p, TASK_PHASE_RUNNING);
        assert_int_equal(p.start_ms, T0 + 5);
}

/* ---- exit handler ----------------------------------------------------- */

/* The exit handler: the last step, no dependencies. */
static struct workflow_step step_exit(void)
{
        struct workflow_step s = step("onexit");
        s.exit_handler = true;
        return s;
}

/* It waits for every other step to end and for what they started, then runs
 * once with {{workflow.status}} = plan.outcome. */
static void test_exit_handler_after_success(void **state)
{
        (void)state;
        struct workflow_step s[3] = {step_task("a", TASK_PHASE_RUNNING), step("b"), step_exit()};
        s[1].deps = dep_0;
        s[1].n_deps = 1;
        struct workflow_plan_input in = input(s, 3);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        plan(&in, &p);
        assert_int_equal(count_step_actions(&p), 0);
        assert_step(&p, 2, STEP_PENDING);

        s[0] = step_done("a");
        plan(&in, &p);
        assert_creates(&p, 1);
        assert_not_creates(&p, 2);

        /* b's Task succeeded, its result is not recorded yet */
        s[1] = step_task("b", TASK_PHASE_SUCCEEDED);
        s[1].deps = dep_0;
        s[1].n_deps = 1;
        plan(&in, &p);
        assert_true(has_action(&p, WORKFLOW_ACTION_STORE_RESULT, 1));
        assert_not_creates(&p, 2);
        assert_step(&p, 2, STEP_PENDING);

        s[1].result_stored = true;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_creates(&p, 2);
        assert_step(&p, 2, STEP_RUNNING);
        assert_int_equal(p.outcome, TASK_PHASE_SUCCEEDED);
        assert_running_workflow(&p);

        s[2] = step_task("onexit", TASK_PHASE_RUNNING);
        s[2].exit_handler = true;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_running_workflow(&p);

        s[2].task_phase = TASK_PHASE_SUCCEEDED;
        s[2].result_stored = true;
        in.now_ms = T0 + 9000;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_step(&p, 2, STEP_SUCCEEDED);
        assert_phase(&p, TASK_PHASE_SUCCEEDED);
        assert_string_equal(p.reason, "Completed");
        assert_int_equal(p.completion_ms, T0 + 9000);
        assert_int_equal(p.succeeded, 2); /* the exit handler is not counted */
}

/* After a failure (failFast) it waits for the steps still running, then runs
 * with outcome Failed, and the Workflow fails once it has run. */
static void test_exit_handler_after_failure(void **state)
{
        (void)state;
        struct workflow_step s[4] = {step_failed("a"), step_task("b", TASK_PHASE_RUNNING),
                                     step("c"), step_exit()};
        struct workflow_plan_input in = input(s, 4);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        plan(&in, &p);
        assert_int_equal(count_step_actions(&p), 0);
        assert_step_reason(&p, 2, "FailFast");
        assert_step(&p, 3, STEP_PENDING);
        assert_phase(&p, TASK_PHASE_RUNNING);
        assert_true(p.terminating);

        s[1] = step_done("b");
        plan(&in, &p);
        assert_int_equal(count_step_actions(&p), 1);
        assert_creates(&p, 3);
        assert_step(&p, 3, STEP_RUNNING);
        assert_int_equal(p.outcome, TASK_PHASE_FAILED);
        assert_phase(&p, TASK_PHASE_RUNNING);

        s[0].prev_phase = STEP_FAILED;
        s[2].prev_phase = STEP_SKIPPED;
        s[3] = step_done("onexit");
        s[3].exit_handler = true;
        plan(&in, &p);
        assert_phase(&p, TASK_PHASE_FAILED);
        assert_string_equal(p.reason, "StepFailed");
        assert_message_prefix(&p, "step a failed");
        assert_false(p.terminating);
}

/* Its failure is reported; it fails a Workflow that succeeded only with
 * onExit.failWorkflow (reason ExitHandlerFailed). */
static void test_exit_handler_failure(void **state)
{
        (void)state;
        struct workflow_step s[2] = {step_done("a"), step_failed("onexit")};
        s[1].exit_handler = true;
        struct workflow_plan_input in = input(s, 2);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        plan(&in, &p);
        assert_step(&p, 1, STEP_FAILED);
        assert_phase(&p, TASK_PHASE_SUCCEEDED);
        assert_string_equal(p.reason, "Completed");
        assert_non_null(strstr(p.message, "onExit failed: Error"));

        in.on_exit_fail_workflow = true;
        plan(&in, &p);
        assert_phase(&p, TASK_PHASE_FAILED);
        assert_string_equal(p.reason, "ExitHandlerFailed");
        assert_non_null(strstr(p.message, "onExit failed: Error"));

        /* The steps failed too: their failure is the reason. */
        s[0] = step_failed("a");
        s[0].prev_phase = STEP_FAILED;
        plan(&in, &p);
        assert_phase(&p, TASK_PHASE_FAILED);
        assert_string_equal(p.reason, "StepFailed");
        assert_message_prefix(&p, "step a failed");
        assert_non_null(strstr(p.message, "onExit failed"));
}

/* ---- continueOn.failed ------------------------------------------------- */

static void test_continue_on_failed(void **state)
{
        (void)state;
        struct workflow_step s[3] = {step_failed("a"), step("b"), step("c")};
        s[0].continue_on_failed = true;
        s[1].deps = dep_0;
        s[1].n_deps = 1;
        struct workflow_plan_input in = input(s, 3);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        plan(&in, &p);
        assert_step(&p, 0, STEP_FAILED);
        assert_creates(&p, 1);
        assert_creates(&p, 2); /* no failFast */
        assert_running_workflow(&p);
        assert_false(p.terminating);

        s[0].prev_phase = STEP_FAILED;
        s[1] = step_done("b");
        s[1].deps = dep_0;
        s[1].n_deps = 1;
        s[2] = step_done("c");
        plan(&in, &p);
        assert_phase(&p, TASK_PHASE_SUCCEEDED);
        assert_string_equal(p.reason, "Completed");
        assert_int_equal(p.succeeded, 2);

        /* Without it, the dependant is skipped and the Workflow fails. */
        s[0] = step_failed("a");
        s[1] = step("b");
        s[1].deps = dep_0;
        s[1].n_deps = 1;
        plan(&in, &p);
        assert_skipped_by_failure(&p, 1);
        assert_phase(&p, TASK_PHASE_FAILED);
}

/* ---- fan-out ---------------------------------------------------------- */

/* A fanned-out step already resolved (items counted): n children as the
 * cache shows them. */
static struct workflow_step step_fan_out(const char *name, const struct workflow_child *children,
                                         size_t n)
{
        struct workflow_step s = step(name);
        s.fan_out = true;
        s.needs_resolve = true;
        s.resolved = true;
        s.children = children;
        s.n_children = n;
        return s;
}

static struct workflow_child child(enum task_phase ph)
{
        return (struct workflow_child){.exists = true, .phase = ph};
}

static size_t count_child_actions(const struct workflow_plan *p, enum workflow_action_type type,
                                  size_t step)
{
        size_t n = 0;
        for (size_t i = 0; i < p->n_actions; i++)
                if (p->actions[i].type == type && p->actions[i].step == step &&
                    p->actions[i].child != WORKFLOW_NO_CHILD)
                        n++;
        return n;
}

/* Child creations of step, in action order, are first..first+n-1. */
static void assert_creates_children(const struct workflow_plan *p, size_t step, size_t first,
                                    size_t n)
{
        size_t k = 0;
        for (size_t i = 0; i < p->n_actions; i++) {
                const struct workflow_action *a = &p->actions[i];
                if (a->type != WORKFLOW_ACTION_CREATE_TASK || a->step != step)
                        continue;
                if (a->child != first + k)
                        fail_msg("creation %zu of step %zu is child %zu, not %zu", k, step,
                                 a->child, first + k);
                k++;
        }
        if (k != n)
                fail_msg("%zu children of step %zu created, not %zu", k, step, n);
}

/* First RESOLVE (the items are counted by acting), then children 0..4. */
static void test_fan_out_resolve_then_children(void **state)
{
        (void)state;
        struct workflow_child kids[50] = {0};
        struct workflow_step s[1] = {step_fan_out("f", kids, 50)};
        s[0].resolved = false;
        s[0].n_children = 0;
        struct workflow_plan_input in = input(s, 1);
        struct workflow_plan p;

        in.parallelism = 5;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, WORKFLOW_ACTION_RESOLVE);
        assert_int_equal(p.actions[0].step, 0);
        assert_step(&p, 0, STEP_PENDING);

        s[0].resolved = true;
        s[0].n_children = 50;
        in.now_ms = T0 + 7;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 5);
        assert_creates_children(&p, 0, 0, 5);
        assert_step(&p, 0, STEP_RUNNING);
        assert_int_equal(p.steps[0].children_created, 5);
        assert_running_workflow(&p);
        /* its children started the Workflow */
        assert_int_equal(p.start_ms, T0 + 7);
}

/* 50 items, parallelism 5: never more than 5 children run, they are made in
 * index order as others finish, and once all succeeded the step's result
 * (the JSON array) is stored before it succeeds. */
static void test_fan_out_parallelism(void **state)
{
        (void)state;
        struct workflow_child kids[50] = {0};
        struct workflow_step s[1] = {step_fan_out("f", kids, 50)};
        struct workflow_plan_input in = input(s, 1);
        struct workflow_plan p;
        size_t created = 0;
        size_t rounds = 0;

        in.parallelism = 5;
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        for (; created < 50 && rounds < 100; rounds++) {
                size_t running = 0;
                for (size_t c = 0; c < created; c++)
                        if (kids[c].phase == TASK_PHASE_RUNNING)
                                running++;
                size_t want = 5 - running < 50 - created ? 5 - running : 50 - created;

                plan(&in, &p);
                assert_step(&p, 0, STEP_RUNNING);
                assert_creates_children(&p, 0, created, want);
                assert_int_equal(p.n_actions, want);
                created += want;
                assert_int_equal(p.steps[0].children_created, created);
                for (size_t c = created - want; c < created; c++)
                        kids[c] = child(TASK_PHASE_RUNNING);
                s[0].prev_children_created = created;

                /* the two oldest running children succeed (one in odd rounds) */
                for (size_t c = 0, n = 0; c < created && n < 1 + rounds % 2; c++)
                        if (kids[c].phase == TASK_PHASE_RUNNING) {
                                kids[c].phase = TASK_PHASE_SUCCEEDED;
                                n++;
                        }
        }
        assert_int_equal(created, 50);
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        for (size_t c = 0; c < 50; c++)
                kids[c].phase = TASK_PHASE_SUCCEEDED;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_true(has_action(&p, WORKFLOW_ACTION_STORE_RESULT, 0));
        assert_step(&p, 0, STEP_RUNNING);
        assert_int_equal(p.steps[0].children_succeeded, 50);
        s[0].result_stored = true;
        plan(&in, &p);
        assert_step(&p, 0, STEP_SUCCEEDED);
        assert_phase(&p, TASK_PHASE_SUCCEEDED);
}

/* Parallelism counts children and steps together. */
static void test_fan_out_parallelism_shared_with_steps(void **state)
{
        (void)state;
        struct workflow_child kids[10] = {0};
        struct workflow_step s[3] = {step_task("a", TASK_PHASE_RUNNING),
                                     step_fan_out("f", kids, 10), step("b")};
        struct workflow_plan_input in = input(s, 3);
        struct workflow_plan p;

        in.parallelism = 5;
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        plan(&in, &p);
        assert_creates_children(&p, 1, 0, 4);
        assert_not_creates(&p, 2);
        assert_step(&p, 2, STEP_PENDING);

        /* 2 children running, a done: 3 slots, children come first (spec order) */
        s[0] = step_done("a");
        kids[0] = child(TASK_PHASE_RUNNING);
        kids[1] = child(TASK_PHASE_RUNNING);
        kids[2] = child(TASK_PHASE_SUCCEEDED);
        kids[3] = child(TASK_PHASE_SUCCEEDED);
        s[1].prev_children_created = 4;
        plan(&in, &p);
        assert_creates_children(&p, 1, 4, 3);
        assert_step(&p, 2, STEP_PENDING);
}

/* Zero items: nothing to run, the result ([]) is stored, then Succeeded. */
static void test_fan_out_zero_items(void **state)
{
        (void)state;
        struct workflow_step s[2] = {step_fan_out("f", NULL, 0), step("after")};
        s[1].deps = dep_0;
        s[1].n_deps = 1;
        struct workflow_plan_input in = input(s, 2);
        struct workflow_plan p;

        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_true(has_action(&p, WORKFLOW_ACTION_STORE_RESULT, 0));
        assert_step(&p, 0, STEP_RUNNING);
        assert_step(&p, 1, STEP_PENDING);
        assert_phase(&p, TASK_PHASE_RUNNING);
        assert_int_equal(p.start_ms, T0);

        s[0].result_stored = true;
        plan(&in, &p);
        assert_step(&p, 0, STEP_SUCCEEDED);
        assert_creates(&p, 1);

        /* when false on a fanned-out step: skipped, no child, no result */
        s[0].result_stored = false;
        s[0].when_false = true;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_step_reason(&p, 0, "WhenFalse");
}

/* failFast: a failed child stops new children; those running finish, then
 * the step fails with the first failure. Without failFast the rest runs. */
static void test_fan_out_fail_fast(void **state)
{
        (void)state;
        struct workflow_child kids[10] = {0};
        struct workflow_step s[1] = {step_fan_out("f", kids, 10)};
        struct workflow_plan_input in = input(s, 1);
        struct workflow_plan p;

        kids[0] = child(TASK_PHASE_RUNNING);
        kids[1] = child(TASK_PHASE_FAILED);
        kids[1].reason = "Error";
        kids[1].message = "exit code 3";
        kids[2] = child(TASK_PHASE_RUNNING);
        s[0].prev_children_created = 3;
        in.parallelism = 3;
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_step(&p, 0, STEP_RUNNING);
        assert_int_equal(p.steps[0].children_failed, 1);
        assert_phase(&p, TASK_PHASE_RUNNING);

        kids[0].phase = TASK_PHASE_SUCCEEDED;
        kids[2].phase = TASK_PHASE_SUCCEEDED;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_step(&p, 0, STEP_FAILED);
        assert_step_reason(&p, 0, "Error");
        assert_string_equal(p.steps[0].message, "item 1 failed: Error: exit code 3");
        assert_int_equal(p.steps[0].children_created, 3);
        assert_phase(&p, TASK_PHASE_FAILED);
        assert_message_prefix(&p, "step f failed: Error: item 1 failed");

        /* without failFast: children 3..5 */
        in.fail_fast = false;
        plan(&in, &p);
        assert_creates_children(&p, 0, 3, 3);
        assert_step(&p, 0, STEP_RUNNING);
}

/* failFast across steps: another step's failure stops a fanned-out step
 * from making more children; once its own running ones ended, it fails with
 * FailFast, and the Workflow's failure names the step that failed first. */
static void test_fan_out_fail_fast_across_steps(void **state)
{
        (void)state;
        struct workflow_child kids[10] = {0};
        struct workflow_step s[2] = {step_failed("a"), step_fan_out("f", kids, 10)};
        struct workflow_plan_input in = input(s, 2);
        struct workflow_plan p;

        kids[0] = child(TASK_PHASE_RUNNING);
        kids[1] = child(TASK_PHASE_SUCCEEDED);
        s[1].prev_children_created = 2;
        s[1].prev_phase = STEP_RUNNING;
        in.parallelism = 4;
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        plan(&in, &p);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_CREATE_TASK), 0);
        assert_step(&p, 1, STEP_RUNNING);
        assert_phase(&p, TASK_PHASE_RUNNING);
        assert_true(p.terminating);

        kids[0].phase = TASK_PHASE_SUCCEEDED;
        plan(&in, &p);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_CREATE_TASK), 0);
        assert_step(&p, 1, STEP_FAILED);
        assert_step_reason(&p, 1, "FailFast");
        assert_string_equal(p.steps[1].message,
                            "stopped with 2 of 10 items made: another step failed (failFast)");
        assert_phase(&p, TASK_PHASE_FAILED);
        assert_message_prefix(&p, "step a failed");
}

/* A build step: started through the builder (a slot of parallelism like a
 * Task), Running while it builds, its result stored once it succeeded,
 * BuildFailed with the daemon's message; a stop cancels it. */
static void test_build_step(void **state)
{
        (void)state;
        struct workflow_step s[2] = {step("image"), step("test")};
        size_t dep = 0;
        struct workflow_plan_input in = input(s, 2);
        struct workflow_plan p;

        s[0].build = true;
        s[1].deps = &dep;
        s[1].n_deps = 1;
        plan(&in, &p);
        assert_true(has_action(&p, WORKFLOW_ACTION_BUILD, 0));
        assert_step(&p, 0, STEP_RUNNING);
        assert_step(&p, 1, STEP_PENDING);
        assert_int_not_equal(p.start_ms, 0);

        s[0].build_state = STEP_BUILD_RUNNING;
        s[0].prev_phase = STEP_RUNNING;
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_step(&p, 0, STEP_RUNNING);

        s[0].build_state = STEP_BUILD_SUCCEEDED;
        plan(&in, &p);
        assert_true(has_action(&p, WORKFLOW_ACTION_STORE_RESULT, 0));
        s[0].result_stored = true;
        plan(&in, &p);
        assert_step(&p, 0, STEP_SUCCEEDED);
        assert_true(has_action(&p, WORKFLOW_ACTION_CREATE_TASK, 1));

        s[0].result_stored = false;
        s[0].build_state = STEP_BUILD_FAILED;
        s[0].build_message = "build: The command '/bin/sh -c exit 3' returned a non-zero code: 3";
        plan(&in, &p);
        assert_step(&p, 0, STEP_FAILED);
        assert_step_reason(&p, 0, "BuildFailed");
        assert_string_equal(p.steps[0].message, s[0].build_message);
        assert_phase(&p, TASK_PHASE_FAILED);

        /* stopped while it builds: cancelled */
        s[0].build_state = STEP_BUILD_RUNNING;
        in.shutdown = true;
        plan(&in, &p);
        assert_true(has_action(&p, WORKFLOW_ACTION_STOP_TASK, 0));
        assert_step(&p, 0, STEP_FAILED);
        assert_step_reason(&p, 0, "Stopped");
        assert_phase(&p, TASK_PHASE_FAILED);
}

/* Made in index order: a child missing below the count the status recorded
 * was lost; one found above it was made by a reconcile whose status write was
 * lost, and is adopted. A child of another owner is a conflict. */
static void test_fan_out_lost_and_adopted_children(void **state)
{
        (void)state;
        struct workflow_child kids[6] = {0};
        struct workflow_step s[1] = {step_fan_out("f", kids, 6)};
        struct workflow_plan_input in = input(s, 1);
        struct workflow_plan p;

        in.fail_fast = false;
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        kids[0] = child(TASK_PHASE_SUCCEEDED);
        kids[2] = child(TASK_PHASE_RUNNING);
        kids[3] = child(TASK_PHASE_RUNNING); /* status said 3 */
        s[0].prev_children_created = 3;
        plan(&in, &p);
        assert_int_equal(p.steps[0].children_created, 6);
        assert_creates_children(&p, 0, 4, 2);
        assert_step(&p, 0, STEP_RUNNING);
        assert_int_equal(p.steps[0].children_failed, 1);

        for (size_t c = 2; c < 6; c++)
                kids[c] = child(TASK_PHASE_SUCCEEDED);
        s[0].prev_children_created = 6;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_step(&p, 0, STEP_FAILED);
        assert_step_reason(&p, 0, "TaskLost");
        assert_message_prefix(&p, "step f failed: TaskLost: item 1 failed");

        kids[1] = (struct workflow_child){.foreign = true};
        plan(&in, &p);
        assert_step_reason(&p, 0, "TaskConflict");
}

/* 1000 children, no parallelism limit: the plan holds at most
 * WORKFLOW_ACTIONS_EXTRA child actions and asks to be run again at once;
 * every step that starts in the same plan still has its action. */
struct many {
        struct workflow_child kids[1000];
        struct workflow_step s[301];
        char names[301][8];
};

static void test_fan_out_1000_children(void **state)
{
        (void)state;
        struct many m;
        struct workflow_plan_input in;
        struct workflow_plan p;

        memset(&m, 0, sizeof(m));
        m.s[0] = step_fan_out("f", m.kids, 1000);
        for (size_t i = 1; i < 301; i++) {
                snprintf(m.names[i], sizeof(m.names[i]), "s%zu", i);
                m.s[i] = step(m.names[i]);
        }
        in = input(m.s, 1);
        in.has_finalizer = false;
        plan(&in, &p);
        assert_action(&p, 0, WORKFLOW_ACTION_ADD_FINALIZER);
        assert_creates_children(&p, 0, 0, WORKFLOW_ACTIONS_EXTRA);
        assert_int_equal(p.requeue_after_ms, 0);
        assert_int_equal(p.steps[0].children_created, WORKFLOW_ACTIONS_EXTRA);

        /* the next plan goes on where the last one stopped */
        for (size_t c = 0; c < WORKFLOW_ACTIONS_EXTRA; c++)
                m.kids[c] = child(TASK_PHASE_RUNNING);
        m.s[0].prev_children_created = WORKFLOW_ACTIONS_EXTRA;
        in.has_finalizer = true;
        plan(&in, &p);
        assert_creates_children(&p, 0, WORKFLOW_ACTIONS_EXTRA, WORKFLOW_ACTIONS_EXTRA);
        assert_int_equal(p.requeue_after_ms, 0);

        /* with 300 more steps ready: each has its CreateTask */
        in = input(m.s, 301);
        in.has_finalizer = false;
        plan(&in, &p);
        for (size_t i = 1; i < 301; i++) {
                assert_step(&p, i, STEP_RUNNING);
                assert_creates(&p, i);
        }
        assert_int_equal(count_child_actions(&p, WORKFLOW_ACTION_CREATE_TASK, 0),
                         WORKFLOW_ACTIONS_EXTRA);
        assert_int_equal(p.requeue_after_ms, 0);

        /* a stop of all 1000 running children, and of the 300 steps */
        for (size_t c = 0; c < 1000; c++)
                m.kids[c] = child(TASK_PHASE_RUNNING);
        m.s[0].prev_children_created = 1000;
        for (size_t i = 1; i < 301; i++)
                m.s[i] = step_task(m.names[i], TASK_PHASE_RUNNING);
        in.shutdown = true;
        plan(&in, &p);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_CREATE_TASK), 0);
        assert_int_equal(count_child_actions(&p, WORKFLOW_ACTION_STOP_TASK, 0),
                         WORKFLOW_ACTIONS_EXTRA);
        for (size_t i = 1; i < 301; i++)
                assert_true(has_action(&p, WORKFLOW_ACTION_STOP_TASK, i));
        assert_int_equal(p.requeue_after_ms, 0);
        assert_true(p.terminating);
}

/* ---- stop and deadline ------------------------------------------------ */

/* spec.shutdown: Stop — steps not started are skipped (Stopped), running
 * Tasks are told to stop, a deploy following its rollout fails; once all
 * ended the Workflow fails with reason Stopped. */
static void test_shutdown_stops_steps(void **state)
{
        (void)state;
        struct workflow_step s[5] = {step_task("a", TASK_PHASE_RUNNING), step("b"),
                                     step_deployed("deploy", ROLLOUT_PROGRESSING),
                                     step_task("c", TASK_PHASE_SUCCEEDED), step_done("d")};
        s[1].deps = dep_0;
        s[1].n_deps = 1;
        struct workflow_plan_input in = input(s, 5);
        struct workflow_plan p;

        in.shutdown = true;
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        plan(&in, &p);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_STOP_TASK), 1);
        assert_true(has_action(&p, WORKFLOW_ACTION_STOP_TASK, 0));
        for (size_t i = 0; i < p.n_actions; i++)
                assert_int_equal(p.actions[i].child, WORKFLOW_NO_CHILD);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_CREATE_TASK), 0);
        assert_step(&p, 0, STEP_RUNNING);
        assert_step(&p, 1, STEP_SKIPPED);
        assert_step_reason(&p, 1, "Stopped");
        assert_message_prefix(&p, "stopped by request");
        assert_step(&p, 2, STEP_FAILED);
        assert_step_reason(&p, 2, "Stopped");
        /* a finished Task's result is still recorded */
        assert_true(has_action(&p, WORKFLOW_ACTION_STORE_RESULT, 3));
        assert_step(&p, 4, STEP_SUCCEEDED);
        assert_phase(&p, TASK_PHASE_RUNNING);
        assert_true(p.terminating);
        assert_string_equal(p.reason, "Stopped");
        assert_int_equal(p.outcome, TASK_PHASE_FAILED);

        s[0] = step_failed("a");
        s[1].prev_phase = STEP_SKIPPED;
        s[2].prev_phase = STEP_FAILED;
        s[3] = step_done("c");
        in.now_ms = T0 + 3000;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_phase(&p, TASK_PHASE_FAILED);
        assert_string_equal(p.reason, "Stopped");
        assert_false(p.terminating);
        assert_int_equal(p.completion_ms, T0 + 3000);

        /* Stopped before anything started */
        struct workflow_step fresh[2] = {step("a"), step("b")};
        in = input(fresh, 2);
        in.shutdown = true;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_step_reason(&p, 0, "Stopped");
        assert_step_reason(&p, 1, "Stopped");
        assert_phase(&p, TASK_PHASE_FAILED);
        assert_string_equal(p.reason, "Stopped");
}

/* A stop lets the exit handler run once the steps ended, and never stops
 * it. */
static void test_shutdown_runs_exit_handler(void **state)
{
        (void)state;
        struct workflow_step s[3] = {step_task("a", TASK_PHASE_RUNNING), step("b"), step_exit()};
        struct workflow_plan_input in = input(s, 3);
        struct workflow_plan p;

        in.shutdown = true;
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        plan(&in, &p);
        assert_true(has_action(&p, WORKFLOW_ACTION_STOP_TASK, 0));
        assert_step_reason(&p, 1, "Stopped");
        assert_step(&p, 2, STEP_PENDING);
        assert_not_creates(&p, 2);

        s[0] = step_failed("a");
        s[0].task_reason = "Stopped";
        plan(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_creates(&p, 2);
        assert_int_equal(p.outcome, TASK_PHASE_FAILED);
        assert_phase(&p, TASK_PHASE_RUNNING);
        assert_true(p.terminating);
        assert_string_equal(p.reason, "Stopped");
        assert_non_null(strstr(p.message, "running onExit"));

        s[2] = step_task("onexit", TASK_PHASE_RUNNING);
        s[2].exit_handler = true;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_phase(&p, TASK_PHASE_RUNNING);
        assert_non_null(strstr(p.message, "running onExit"));

        s[2] = step_done("onexit");
        s[2].exit_handler = true;
        plan(&in, &p);
        assert_phase(&p, TASK_PHASE_FAILED);
        assert_string_equal(p.reason, "Stopped");
}

/* A stop of a fanned-out step: its running children are stopped, no more are
 * made; a step with children left to make and none running ends at once. */
static void test_shutdown_fan_out(void **state)
{
        (void)state;
        struct workflow_child kids[50] = {0};
        struct workflow_step s[1] = {step_fan_out("f", kids, 50)};
        struct workflow_plan_input in = input(s, 1);
        struct workflow_plan p;

        for (size_t c = 0; c < 5; c++)
                kids[c] = child(TASK_PHASE_RUNNING);
        kids[1].phase = TASK_PHASE_SUCCEEDED;
        s[0].prev_children_created = 5;
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        in.parallelism = 5;
        in.shutdown = true;
        plan(&in, &p);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_CREATE_TASK), 0);
        assert_int_equal(count_child_actions(&p, WORKFLOW_ACTION_STOP_TASK, 0), 4);
        for (size_t i = 0, c = 0; i < p.n_actions; i++, c++) {
                if (c == 1)
                        c++;
                assert_int_equal(p.actions[i].child, c);
        }
        assert_step(&p, 0, STEP_RUNNING);
        assert_true(p.terminating);

        /* the stopped children failed: the step fails, the Workflow is Stopped */
        for (size_t c = 0; c < 5; c++)
                if (c != 1) {
                        kids[c].phase = TASK_PHASE_FAILED;
                        kids[c].reason = "Stopped";
                }
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_step(&p, 0, STEP_FAILED);
        assert_phase(&p, TASK_PHASE_FAILED);
        assert_string_equal(p.reason, "Stopped");

        /* the children made all succeeded, 45 are not made: the step does not
         * wait for children that will never come */
        for (size_t c = 0; c < 5; c++)
                kids[c] = child(TASK_PHASE_SUCCEEDED);
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_step(&p, 0, STEP_FAILED);
        assert_step_reason(&p, 0, "Stopped");
        assert_string_equal(p.steps[0].message, "stopped with 5 of 50 items made");
        assert_false(has_action(&p, WORKFLOW_ACTION_STORE_RESULT, 0));
        assert_phase(&p, TASK_PHASE_FAILED);
        assert_string_equal(p.reason, "Stopped");

        /* the same past activeDeadlineSeconds */
        in.shutdown = false;
        in.active_deadline_ms = 1000;
        in.now_ms = T0 + 1000;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_step_reason(&p, 0, "DeadlineExceeded");
        assert_phase(&p, TASK_PHASE_FAILED);
        assert_string_equal(p.reason, "DeadlineExceeded");
}

/* activeDeadlineSeconds: a timer for it while running; past it, the same as
 * a stop with reason DeadlineExceeded. */
static void test_active_deadline(void **state)
{
        (void)state;
        struct workflow_step s[3] = {step_task("a", TASK_PHASE_RUNNING), step("b"), step_exit()};
        s[1].deps = dep_0;
        s[1].n_deps = 1;
        struct workflow_plan_input in = input(s, 3);
        struct workflow_plan p;

        in.active_deadline_ms = 60000;
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        in.now_ms = T0 + 15000;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.requeue_after_ms, 45000);
        assert_null(p.reason);

        /* not started yet: no timer */
        in.prev_start_ms = 0;
        in.prev_phase = TASK_PHASE_PENDING;
        s[0] = step("a");
        plan(&in, &p);
        assert_creates(&p, 0);
        assert_true(p.requeue_after_ms < 0);

        s[0] = step_task("a", TASK_PHASE_RUNNING);
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        in.now_ms = T0 + 60000;
        plan(&in, &p);
        assert_true(has_action(&p, WORKFLOW_ACTION_STOP_TASK, 0));
        assert_step_reason(&p, 1, "DeadlineExceeded");
        assert_step(&p, 2, STEP_PENDING);
        assert_true(p.terminating);
        assert_string_equal(p.reason, "DeadlineExceeded");

        s[0] = step_failed("a");
        s[1].prev_phase = STEP_SKIPPED;
        plan(&in, &p);
        assert_creates(&p, 2);
        assert_false(has_action(&p, WORKFLOW_ACTION_STOP_TASK, 2));

        s[2] = step_task("onexit", TASK_PHASE_RUNNING);
        s[2].exit_handler = true;
        plan(&in, &p);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_STOP_TASK), 0);

        s[2] = step_done("onexit");
        s[2].exit_handler = true;
        plan(&in, &p);
        assert_phase(&p, TASK_PHASE_FAILED);
        assert_string_equal(p.reason, "DeadlineExceeded");
        assert_true(p.requeue_after_ms < 0);

        /* finished before the deadline: no timer left behind */
        s[0] = step_done("a");
        s[1] = step_done("b");
        in.now_ms = T0 + 30000;
        plan(&in, &p);
        assert_phase(&p, TASK_PHASE_SUCCEEDED);
        assert_true(p.requeue_after_ms < 0);
}

/* ---- retry ------------------------------------------------------------ */

/* `berth retry` of a Failed Workflow resets the failed and skipped steps,
 * everything downstream of them and the exit handler; succeeded steps keep
 * their results. */
static void test_retry_resets_failed_branch(void **state)
{
        (void)state;
        struct cond *d = depends("b.Failed");
        /* a ok; b failed; c after b skipped; h after b (b.Failed) succeeded;
         * x independent ok; y skipped by failFast; onexit ran. */
        struct workflow_step s[7] = {step_done("a"),     step_failed("b"), step("c"),
                                     step_done("h"),     step_done("x"),   step("y"),
                                     step_done("onexit")};
        s[1].prev_phase = STEP_FAILED;
        s[1].deps = dep_0;
        s[1].n_deps = 1;
        s[2].prev_phase = STEP_SKIPPED;
        s[2].deps = dep_1;
        s[2].n_deps = 1;
        s[3].deps = dep_1;
        s[3].n_deps = 1;
        s[3].depends = d;
        s[5].prev_phase = STEP_SKIPPED;
        s[6].exit_handler = true;
        struct workflow_plan_input in = input(s, 7);
        struct workflow_plan p;

        in.prev_phase = TASK_PHASE_FAILED;
        in.prev_start_ms = T0;
        in.prev_completion_ms = T0 + 5000;
        in.now_ms = T0 + 60000;
        plan(&in, &p); /* not asked: nothing */
        assert_int_equal(p.n_actions, 0);
        assert_false(p.status_changed);

        in.retry_requested = true;
        plan(&in, &p);
        assert_true(p.retried);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_RESET_STEP), 5);
        assert_false(has_action(&p, WORKFLOW_ACTION_RESET_STEP, 0));
        assert_true(has_action(&p, WORKFLOW_ACTION_RESET_STEP, 1));
        assert_true(has_action(&p, WORKFLOW_ACTION_RESET_STEP, 2));
        assert_true(has_action(&p, WORKFLOW_ACTION_RESET_STEP, 3));
        assert_false(has_action(&p, WORKFLOW_ACTION_RESET_STEP, 4));
        assert_true(has_action(&p, WORKFLOW_ACTION_RESET_STEP, 5));
        assert_true(has_action(&p, WORKFLOW_ACTION_RESET_STEP, 6));
        /* old Tasks go first: nothing is created in this plan */
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_CREATE_TASK), 0);
        assert_step(&p, 0, STEP_SUCCEEDED);
        assert_step(&p, 4, STEP_SUCCEEDED);
        for (size_t i = 1; i < 7; i++)
                if (i != 4)
                        assert_step(&p, i, STEP_PENDING);
        assert_phase(&p, TASK_PHASE_RUNNING);
        assert_int_equal(p.start_ms, T0 + 60000);
        assert_int_equal(p.completion_ms, 0);
        assert_true(p.status_changed);

        /* The status took the retry: b's and y's old Tasks are still being
         * deleted, they wait; c and h wait for b. */
        for (size_t i = 1; i < 7; i++)
                if (i != 4) {
                        s[i].prev_phase = STEP_PENDING;
                        s[i].prev_created = false;
                        s[i].task_exists = false;
                        s[i].result_stored = false;
                }
        s[1].task_deleting = true;
        s[5].task_deleting = true;
        in.retry_requested = false;
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0 + 60000;
        in.prev_completion_ms = 0;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_step(&p, 1, STEP_PENDING);
        assert_step(&p, 5, STEP_PENDING);
        assert_phase(&p, TASK_PHASE_RUNNING);

        s[1].task_deleting = false;
        s[5].task_deleting = false;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 2);
        assert_creates(&p, 1);
        assert_creates(&p, 5);
        cond_free(d);

        /* A Succeeded Workflow is not retried. */
        struct workflow_step ok[1] = {step_done("a")};
        in = input(ok, 1);
        in.prev_phase = TASK_PHASE_SUCCEEDED;
        in.prev_completion_ms = T0;
        in.retry_requested = true;
        plan(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_false(p.retried);
        assert_false(p.status_changed);
}

/* A retried fanned-out step: its old children are still being deleted
 * (above the count the reset status holds): new ones of those names wait. */
static void test_retry_fan_out_waits_for_old_children(void **state)
{
        (void)state;
        struct workflow_child kids[4] = {0};
        struct workflow_step s[1] = {step_fan_out("f", kids, 4)};
        struct workflow_plan_input in = input(s, 1);
        struct workflow_plan p;

        kids[0] = (struct workflow_child){.deleting = true};
        kids[1] = (struct workflow_child){.deleting = true};
        s[0].task_deleting = true;
        in.prev_phase = TASK_PHASE_RUNNING;
        in.prev_start_ms = T0;
        plan(&in, &p);
        assert_int_equal(count_actions(&p, WORKFLOW_ACTION_CREATE_TASK), 0);
        assert_step(&p, 0, STEP_RUNNING);

        kids[0] = (struct workflow_child){0};
        kids[1] = (struct workflow_child){0};
        s[0].task_deleting = false;
        plan(&in, &p);
        assert_creates_children(&p, 0, 0, 4);
}

/* ---- enums ------------------------------------------------------------ */

static void test_enum_strings(void **state)
{
        (void)state;
        static const enum step_phase phases[] = {STEP_PENDING, STEP_RUNNING, STEP_SUCCEEDED,
                                                 STEP_FAILED, STEP_SKIPPED};
        static const char *const names[] = {"Pending", "Running", "Succeeded", "Failed", "Skipped"};
        enum step_phase ph;

        for (size_t i = 0; i < ARRAY_SIZE(phases); i++) {
                assert_string_equal(step_phase_to_string(phases[i]), names[i]);
                ph = STEP_PENDING;
                assert_int_equal(step_phase_from_string(names[i], &ph), 0);
                assert_int_equal(ph, phases[i]);
        }
        ph = STEP_RUNNING;
        assert_int_equal(step_phase_from_string("skipped", &ph), -EINVAL);
        assert_int_equal(ph, STEP_RUNNING);
        assert_int_equal(step_phase_from_string("", &ph), -EINVAL);
        assert_int_equal(step_phase_from_string(NULL, &ph), -EINVAL);
        assert_int_equal(ph, STEP_RUNNING);
        assert_non_null(step_phase_to_string((enum step_phase)99));

        static const enum workflow_action_type types[] = {
            WORKFLOW_ACTION_ADD_FINALIZER,   WORKFLOW_ACTION_CREATE_TASK,
            WORKFLOW_ACTION_DEPLOY,          WORKFLOW_ACTION_STORE_RESULT,
            WORKFLOW_ACTION_DELETE_CHILDREN, WORKFLOW_ACTION_FINALIZE,
            WORKFLOW_ACTION_DELETE,
        };
        for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
                const char *s = workflow_action_type_to_string(types[i]);
                assert_non_null(s);
                assert_true(s[0] != '\0');
                /* distinct names, or log lines would be ambiguous */
                for (size_t j = 0; j < i; j++)
                        assert_string_not_equal(s, workflow_action_type_to_string(types[j]));
        }
        assert_non_null(workflow_action_type_to_string((enum workflow_action_type)99));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_add_finalizer_first),
            cmocka_unit_test(test_deleting_deletes_children_then_finalizes),
            cmocka_unit_test(test_first_round_creates_roots),
            cmocka_unit_test(test_dependency_order_not_spec_order),
            cmocka_unit_test(test_waits_for_every_dependency),
            cmocka_unit_test(test_existing_task_is_running_step),
            cmocka_unit_test(test_adopted_task_sets_start_time),
            cmocka_unit_test(test_succeeded_task_stores_result_first),
            cmocka_unit_test(test_failed_task_fails_step),
            cmocka_unit_test(test_foreign_task_fails_step),
            cmocka_unit_test(test_lost_task_fails_step),
            cmocka_unit_test(test_sticky_step_phases),
            cmocka_unit_test(test_parallelism_limits_creations),
            cmocka_unit_test(test_parallelism_failed_step_frees_slot),
            cmocka_unit_test(test_parallelism_result_pending_holds_slot),
            cmocka_unit_test(test_parallelism_picks_ready_steps_in_spec_order),
            cmocka_unit_test(test_dependency_failed_skips_dependents),
            cmocka_unit_test(test_dependency_skipped_skips_dependents),
            cmocka_unit_test(test_fail_fast_stops_new_steps),
            cmocka_unit_test(test_act_failure_fails_step),
            cmocka_unit_test(test_fail_fast_failure_seen_in_same_round),
            cmocka_unit_test(test_failure_message_after_sticky_failure),
            cmocka_unit_test(test_no_fail_fast_keeps_independent_branch),
            cmocka_unit_test(test_all_succeeded_completes),
            cmocka_unit_test(test_start_time_and_progress),
            cmocka_unit_test(test_cycle_left_pending),
            cmocka_unit_test(test_finished_workflow_does_nothing),
            cmocka_unit_test(test_ttl_requeue_then_delete),
            cmocka_unit_test(test_deploy_starts_after_dependencies),
            cmocka_unit_test(test_deploy_parallelism),
            cmocka_unit_test(test_deploy_skipped_and_fail_fast),
            cmocka_unit_test(test_deploy_without_wait),
            cmocka_unit_test(test_deploy_waits_for_rollout),
            cmocka_unit_test(test_deploy_rollout_failed),
            cmocka_unit_test(test_deploy_timeout),
            cmocka_unit_test(test_deploy_service_lost_or_superseded),
            cmocka_unit_test(test_deploy_act_failure),
            cmocka_unit_test(test_deploy_sticky_and_start_time),
            cmocka_unit_test(test_chain_of_200),
            cmocka_unit_test(test_reverse_chain_of_200),
            cmocka_unit_test(test_200_independent_steps),
            cmocka_unit_test(test_depends_diamond_failure_handled),
            cmocka_unit_test(test_depends_false_skips),
            cmocka_unit_test(test_depends_waits_for_every_named_step),
            cmocka_unit_test(test_depends_completed_handles_failure),
            cmocka_unit_test(test_outcome_names_unhandled_failure),
            cmocka_unit_test(test_when_resolve_then_skip),
            cmocka_unit_test(test_when_resolution_rules),
            cmocka_unit_test(test_exit_handler_after_success),
            cmocka_unit_test(test_exit_handler_after_failure),
            cmocka_unit_test(test_exit_handler_failure),
            cmocka_unit_test(test_continue_on_failed),
            cmocka_unit_test(test_fan_out_resolve_then_children),
            cmocka_unit_test(test_fan_out_parallelism),
            cmocka_unit_test(test_fan_out_parallelism_shared_with_steps),
            cmocka_unit_test(test_fan_out_zero_items),
            cmocka_unit_test(test_fan_out_fail_fast),
            cmocka_unit_test(test_fan_out_fail_fast_across_steps),
            cmocka_unit_test(test_build_step),
            cmocka_unit_test(test_fan_out_lost_and_adopted_children),
            cmocka_unit_test(test_fan_out_1000_children),
            cmocka_unit_test(test_shutdown_stops_steps),
            cmocka_unit_test(test_shutdown_runs_exit_handler),
            cmocka_unit_test(test_shutdown_fan_out),
            cmocka_unit_test(test_active_deadline),
            cmocka_unit_test(test_retry_resets_failed_branch),
            cmocka_unit_test(test_retry_fan_out_waits_for_old_children),
            cmocka_unit_test(test_enum_strings),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
