/* Unit tests of the pure Task planner and the Task JSON helpers: plain structs
 * in, plan out; no Docker, no store, no clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "reconciler.h"

#define T0  1767225600000LL /* 2026-01-01T00:00:00Z */
#define UID "0123456789abcdef0123456789abcdef"

/* ---- helpers ---------------------------------------------------------- */

static struct task_spec spec_default(void)
{
        return (struct task_spec){
            .image = "busybox:latest",
            .pull_policy = PULL_IF_NOT_PRESENT,
            .restart_policy = RESTART_NEVER,
            .backoff_limit = 6,
            .backoff_initial_ms = 10000,
            .backoff_factor = 2,
            .backoff_max_ms = 300000,
            .active_deadline_ms = 0,
            .ttl_after_finished_ms = -1,
            .retry_on = RETRY_ON_DEFAULT,
        };
}

/* A task past its first reconcile: finalizer in place, image present. */
static struct task_plan_input input_default(void)
{
        return (struct task_plan_input){
            .uid = UID,
            .generation = 1,
            .creation_ms = T0,
            .has_finalizer = true,
            .spec = spec_default(),
            .status = {.phase = TASK_PHASE_PENDING},
            .image_present = true,
            .now_ms = T0 + 1000,
        };
}

static struct observed_container running(int attempt, const char *id, int64_t started)
{
        return (struct observed_container){
            .attempt = attempt, .id = id, .state = DOCKER_STATE_RUNNING, .started_ms = started};
}

static struct observed_container exited(int attempt, const char *id, int code, int64_t started,
                                        int64_t finished)
{
        return (struct observed_container){
            .attempt = attempt,
            .id = id,
            .state = DOCKER_STATE_EXITED,
            .details_known = true,
            .exit_code = code,
            .started_ms = started,
            .finished_ms = finished,
        };
}

static void assert_action(const struct task_plan *p, size_t i, enum task_action_type type,
                          int attempt)
{
        assert_true(i < p->n_actions);
        assert_string_equal(task_action_type_to_string(p->actions[i].type),
                            task_action_type_to_string(type));
        assert_int_equal(p->actions[i].attempt, attempt);
}

static void assert_reason(const struct task_plan *p, const char *reason)
{
        assert_non_null(p->status.reason);
        assert_string_equal(p->status.reason, reason);
}

/* ---- phase transitions ------------------------------------------------ */

static void test_new_task_creates_attempt_1(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct task_plan p;

        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, TASK_ACTION_CREATE, 1);
        assert_null(p.actions[0].container_id);
        assert_int_equal(p.status.phase, TASK_PHASE_PENDING);
        assert_int_equal(p.status.attempts, 1);
        assert_int_equal(p.status.observed_generation, 1);
        assert_true(p.status_changed);
        assert_int_equal(p.requeue_after_ms, -1);
}

static void test_missing_finalizer_first(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct task_plan p;

        in.has_finalizer = false;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, TASK_ACTION_ADD_FINALIZER, 0);
        assert_false(p.status_changed);
        assert_int_equal(p.requeue_after_ms, 0);
}

static void test_created_container_is_started(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct observed_container c = {.attempt = 1, .id = "c1", .state = DOCKER_STATE_CREATED};
        struct task_plan p;

        in.status.attempts = 1;
        in.containers = &c;
        in.n_containers = 1;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, TASK_ACTION_START, 1);
        assert_string_equal(p.actions[0].container_id, "c1");
        assert_string_equal(p.status.container_id, "c1");
        assert_int_equal(p.status.phase, TASK_PHASE_PENDING);
}

/* After a berthd restart: status never heard of the container (crash right
 * after create), which is only created: START it, never CREATE another. */
static void test_restart_adopts_created_container(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct observed_container c = {.attempt = 1, .id = "c1", .state = DOCKER_STATE_CREATED};
        struct task_plan p;

        in.containers = &c;
        in.n_containers = 1;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, TASK_ACTION_START, 1);
        assert_int_equal(p.status.attempts, 1);
        assert_true(p.status_changed);
}

static void test_running_sets_phase_and_deadline_timer(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct observed_container c = running(1, "c1", T0 + 500);
        struct task_plan p;

        in.spec.active_deadline_ms = 60000;
        in.status.attempts = 1;
        in.containers = &c;
        in.n_containers = 1;
        in.now_ms = T0 + 2000;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.status.phase, TASK_PHASE_RUNNING);
        assert_int_equal(p.status.start_ms, T0 + 500);
        assert_string_equal(p.status.container_id, "c1");
        assert_int_equal(p.requeue_after_ms, T0 + 500 + 60000 - in.now_ms);
        assert_true(p.status_changed);

        /* The same again with the written status: nothing to change. */
        in.status = p.status;
        task_plan_compute(&in, &p);
        assert_false(p.status_changed);
        assert_int_equal(p.n_actions, 0);
}

static void test_running_without_deadline_no_timer(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct observed_container c = running(1, "c1", 0);
        struct task_plan p;

        in.status.attempts = 1;
        in.containers = &c;
        in.n_containers = 1;
        task_plan_compute(&in, &p);
        assert_int_equal(p.requeue_after_ms, -1);
        /* No start time from Docker yet: now stands in. */
        assert_int_equal(p.status.start_ms, in.now_ms);
}

static void test_exit_0_succeeds(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct observed_container c = exited(1, "c1", 0, T0 + 100, T0 + 900);
        struct task_plan p;

        in.status.attempts = 1;
        in.status.phase = TASK_PHASE_RUNNING;
        in.containers = &c;
        in.n_containers = 1;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.status.phase, TASK_PHASE_SUCCEEDED);
        assert_reason(&p, "Completed");
        assert_true(p.status.exit_known);
        assert_int_equal(p.status.exit_code, 0);
        assert_int_equal(p.status.completion_ms, T0 + 900);
        assert_int_equal(p.status.start_ms, T0 + 100);
        assert_string_equal(p.status.message, "exit code 0");
        assert_int_equal(p.requeue_after_ms, -1);
}

static void test_exited_without_details_is_inspected_never_started(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct observed_container c = {.attempt = 1, .id = "c1", .state = DOCKER_STATE_EXITED};
        struct task_plan p;

        /* Not even in status: found after a restart. */
        in.containers = &c;
        in.n_containers = 1;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, TASK_ACTION_INSPECT, 1);
        assert_string_equal(p.actions[0].container_id, "c1");

        /* With details, its exit is the attempt's result: no START, no CREATE. */
        c = exited(1, "c1", 0, T0, T0 + 10);
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.status.phase, TASK_PHASE_SUCCEEDED);
        assert_int_equal(p.status.attempts, 1);

        c.state = DOCKER_STATE_DEAD;
        c.exit_code = 2;
        task_plan_compute(&in, &p);
        for (size_t i = 0; i < p.n_actions; i++)
                assert_int_not_equal(p.actions[i].type, TASK_ACTION_START);
        assert_int_equal(p.status.phase, TASK_PHASE_FAILED);
}

static void test_exit_3_never_fails_with_error(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct observed_container c = exited(1, "c1", 3, T0 + 100, T0 + 900);
        struct task_plan p;

        in.status.attempts = 1;
        in.status.phase = TASK_PHASE_RUNNING;
        in.status.start_ms = T0 + 100;
        in.containers = &c;
        in.n_containers = 1;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.status.phase, TASK_PHASE_FAILED);
        assert_reason(&p, "Error");
        assert_int_equal(p.status.exit_code, 3);
        assert_true(p.status.exit_known);
        assert_int_equal(p.status.completion_ms, T0 + 900);
        assert_string_equal(p.status.message, "exit code 3");
}

static void test_oom_killed(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct observed_container c = exited(1, "c1", 137, T0, T0 + 900);
        struct task_plan p;

        c.oom_killed = true;
        in.status.attempts = 1;
        in.containers = &c;
        in.n_containers = 1;
        task_plan_compute(&in, &p);
        assert_int_equal(p.status.phase, TASK_PHASE_FAILED);
        assert_reason(&p, "OOMKilled");
        assert_int_equal(p.status.exit_code, 137);
        assert_non_null(strstr(p.status.message, "OOM"));

        /* OnFailure with retries exhausted: OOMKilled still names the cause. */
        in.spec.restart_policy = RESTART_ON_FAILURE;
        in.spec.backoff_limit = 0;
        task_plan_compute(&in, &p);
        assert_reason(&p, "OOMKilled");
}

/* restartPolicy OnFailure, backoffLimit 2: three attempts, then Failed. */
static void test_on_failure_retries_then_backoff_limit(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct observed_container cs[3];
        struct task_plan p;
        const char *ids[] = {"c1", "c2", "c3"};
        int64_t finished = T0 + 5000;

        in.spec.restart_policy = RESTART_ON_FAILURE;
        in.spec.backoff_limit = 2;
        in.status.phase = TASK_PHASE_RUNNING;
        in.status.start_ms = T0;
        in.containers = cs;

        for (int attempt = 1; attempt <= 2; attempt++) {
                cs[attempt - 1] = exited(attempt, ids[attempt - 1], 3, finished - 1000, finished);
                in.n_containers = (size_t)attempt;
                in.status.attempts = attempt;
                in.status.next_attempt_ms = 0;
                in.now_ms = finished + 10;
                task_plan_compute(&in, &p);

                int64_t delay = task_backoff_delay_ms(&in.spec, UID, attempt + 1);
                int64_t at = (finished + delay + 999) / 1000 * 1000;
                assert_int_equal(p.n_actions, 0);
                assert_int_equal(p.status.phase, TASK_PHASE_RUNNING);
                assert_reason(&p, "Error");
                assert_int_equal(p.status.exit_code, 3);
                assert_int_equal(p.status.next_attempt_ms, at);
                assert_int_equal(p.requeue_after_ms, at - in.now_ms);
                char want[128];
                char when[RFC3339_MAX];
                time_format_rfc3339(at, when);
                snprintf(want, sizeof(want), "attempt %d failed with exit code 3; retrying at %s",
                         attempt, when);
                assert_string_equal(p.status.message, want);

                /* Before the time: still waiting, same status. */
                in.status = p.status;
                in.now_ms = at - 1;
                task_plan_compute(&in, &p);
                assert_int_equal(p.n_actions, 0);
                assert_false(p.status_changed);
                assert_int_equal(p.requeue_after_ms, 1);

                /* Time's up: the next attempt. */
                in.now_ms = at;
                task_plan_compute(&in, &p);
                assert_int_equal(p.n_actions, 1);
                assert_action(&p, 0, TASK_ACTION_CREATE, attempt + 1);
                assert_int_equal(p.status.attempts, attempt + 1);
                assert_int_equal(p.status.next_attempt_ms, 0);
                in.status = p.status;
                finished = at + 3000;
        }

        cs[2] = exited(3, "c3", 3, finished - 1000, finished);
        in.n_containers = 3;
        in.now_ms = finished + 10;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.status.phase, TASK_PHASE_FAILED);
        assert_reason(&p, "BackoffLimitExceeded");
        assert_int_equal(p.status.exit_code, 3);
        assert_int_equal(p.status.attempts, 3);
        assert_string_equal(p.status.message, "exit code 3 after 3 attempts");
}

static void test_backoff_survives_json_roundtrip(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct observed_container c = exited(1, "c1", 1, T0 + 123, T0 + 4567);
        struct task_plan p;
        struct task_plan p2;

        in.spec.restart_policy = RESTART_ON_FAILURE;
        in.status.attempts = 1;
        in.status.phase = TASK_PHASE_RUNNING;
        in.containers = &c;
        in.n_containers = 1;
        in.now_ms = T0 + 5000;
        task_plan_compute(&in, &p);
        assert_true(p.status_changed);

        json_t *st = task_status_to_json(&p.status, NULL, in.now_ms);
        assert_non_null(st);
        json_t *obj = json_pack("{s:o}", "status", st);
        assert_non_null(obj);
        task_status_from_json(obj, &in.status);
        in.now_ms += 1000;
        task_plan_compute(&in, &p2);
        assert_int_equal(p2.n_actions, 0);
        assert_int_equal(p2.status.next_attempt_ms, p.status.next_attempt_ms);
        /* Only sub-second start/finish precision is lost in the write; the
         * retry time, reason and message stay as they were. */
        assert_string_equal(p2.status.message, in.status.message);
        assert_false(p2.status_changed);
        json_decref(obj);
}

/* Terminal only when stopped: past the deadline the Task stays Running with
 * condition Terminating while its container gets SIGTERM, then SIGKILL after
 * the grace period, and becomes Failed once the container has exited. */
static void test_deadline_exceeded_then_sigkill_after_grace(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct observed_container c = running(1, "c1", T0);
        struct task_plan p;

        in.spec.active_deadline_ms = 2000;
        in.status.attempts = 1;
        in.status.phase = TASK_PHASE_RUNNING;
        in.status.start_ms = T0;
        in.containers = &c;
        in.n_containers = 1;
        in.now_ms = T0 + 2000;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, TASK_ACTION_KILL, 1);
        assert_string_equal(p.actions[0].signal, "SIGTERM");
        assert_string_equal(p.actions[0].container_id, "c1");
        assert_int_equal(p.status.phase, TASK_PHASE_RUNNING);
        assert_reason(&p, "DeadlineExceeded");
        assert_int_equal(p.status.terminating_ms, in.now_ms);
        assert_int_equal(p.status.completion_ms, 0);
        assert_string_equal(p.status.message, "active deadline of 2s exceeded");
        assert_int_equal(p.requeue_after_ms, TASK_KILL_GRACE_MS);
        assert_true(p.status_changed);

        /* Still running within the grace period: wait for it. (The status
         * as read back: the plan's message lives in the plan.) */
        in.status = p.status;
        in.status.message = "active deadline of 2s exceeded";
        in.now_ms = T0 + 5000;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.requeue_after_ms, T0 + 2000 + TASK_KILL_GRACE_MS - in.now_ms);
        assert_false(p.status_changed);
        assert_int_equal(p.status.phase, TASK_PHASE_RUNNING);

        /* Grace over: SIGKILL, and a timer in case the exit goes unseen. */
        in.now_ms = T0 + 2000 + TASK_KILL_GRACE_MS;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, TASK_ACTION_KILL, 1);
        assert_string_equal(p.actions[0].signal, "SIGKILL");
        assert_int_equal(p.status.phase, TASK_PHASE_RUNNING);
        assert_true(p.requeue_after_ms > 0);

        /* Exited, details not yet known: look first. */
        c = exited(1, "c1", 137, T0, in.now_ms + 100);
        c.details_known = false;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, TASK_ACTION_INSPECT, 1);

        /* It stopped: Failed now, for the reason it was stopped. */
        c.details_known = true;
        in.now_ms += 200;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.requeue_after_ms, -1);
        assert_int_equal(p.status.phase, TASK_PHASE_FAILED);
        assert_reason(&p, "DeadlineExceeded");
        assert_string_equal(p.status.message, "active deadline of 2s exceeded");
        assert_int_equal(p.status.terminating_ms, 0);
        assert_int_equal(p.status.completion_ms, c.finished_ms);
        assert_true(p.status.exit_known);
        assert_int_equal(p.status.exit_code, 137);

        /* A container that exits 0 after SIGTERM still failed its deadline. */
        in.status.phase = TASK_PHASE_RUNNING;
        c = exited(1, "c1", 0, T0, in.now_ms);
        task_plan_compute(&in, &p);
        assert_int_equal(p.status.phase, TASK_PHASE_FAILED);
        assert_reason(&p, "DeadlineExceeded");

        /* Gone while stopping (removed by someone): confirmed, then Failed. */
        in.n_containers = 0;
        task_plan_compute(&in, &p);
        assert_action(&p, 0, TASK_ACTION_INSPECT, 1);
        assert_int_equal(p.status.phase, TASK_PHASE_RUNNING);
        in.lost_attempt = 1;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.status.phase, TASK_PHASE_FAILED);
        assert_reason(&p, "DeadlineExceeded");
        assert_false(p.status.exit_known);
}

/* The Terminating condition carries when the stop began, and stays (False)
 * once the Task has stopped. */
static void test_terminating_condition(void **state)
{
        (void)state;
        struct task_status st = {
            .phase = TASK_PHASE_RUNNING,
            .attempts = 1,
            .start_ms = T0,
            .reason = "DeadlineExceeded",
            .message = "active deadline of 2s exceeded",
            .terminating_ms = T0 + 2000,
        };
        json_t *j = task_status_to_json(&st, NULL, T0 + 2000);
        json_t *o = json_pack("{s:O}", "status", j);
        struct task_status back;

        task_status_from_json(o, &back);
        assert_int_equal(back.terminating_ms, T0 + 2000);
        assert_int_equal(json_array_size(json_object_get(j, "conditions")), 4);

        st.phase = TASK_PHASE_FAILED;
        st.terminating_ms = 0;
        st.completion_ms = T0 + 3000;
        json_t *done = task_status_to_json(&st, j, T0 + 3000);
        json_t *conds = json_object_get(done, "conditions");
        assert_int_equal(json_array_size(conds), 4);
        json_t *term = json_array_get(conds, 3);
        assert_string_equal(json_string_value(json_object_get(term, "type")), "Terminating");
        assert_string_equal(json_string_value(json_object_get(term, "status")), "False");
        json_decref(o);
        o = json_pack("{s:O}", "status", done);
        task_status_from_json(o, &back);
        assert_int_equal(back.terminating_ms, 0);

        /* A Task that never stopped has no such condition. */
        st.phase = TASK_PHASE_SUCCEEDED;
        json_t *plain = task_status_to_json(&st, NULL, T0);
        assert_int_equal(json_array_size(json_object_get(plain, "conditions")), 3);
        json_decref(plain);
        json_decref(done);
        json_decref(o);
        json_decref(j);
}

static void test_deadline_during_backoff(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct observed_container c = exited(1, "c1", 1, T0, T0 + 1000);
        struct task_plan p;

        in.spec.restart_policy = RESTART_ON_FAILURE;
        in.spec.active_deadline_ms = 3000;
        in.status.attempts = 1;
        in.status.phase = TASK_PHASE_RUNNING;
        in.status.start_ms = T0;
        in.containers = &c;
        in.n_containers = 1;
        in.now_ms = T0 + 1500;
        task_plan_compute(&in, &p);
        /* Backoff (10s+) ends after the deadline: the deadline timer wins. */
        assert_int_equal(p.status.phase, TASK_PHASE_RUNNING);
        assert_int_equal(p.requeue_after_ms, 1500);

        in.status = p.status;
        in.now_ms = T0 + 3000;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.status.phase, TASK_PHASE_FAILED);
        assert_reason(&p, "DeadlineExceeded");
        assert_int_equal(p.status.next_attempt_ms, 0);
}

static void test_ttl_requeue_then_delete(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct observed_container c = exited(1, "c1", 0, T0, T0 + 1000);
        struct task_plan p;

        in.spec.ttl_after_finished_ms = 2000;
        in.status = (struct task_status){.phase = TASK_PHASE_SUCCEEDED,
                                         .attempts = 1,
                                         .container_id = "c1",
                                         .completion_ms = T0 + 1000,
                                         .exit_known = true,
                                         .reason = "Completed",
                                         .message = "exit code 0",
                                         .observed_generation = 1};
        in.containers = &c;
        in.n_containers = 1;
        in.now_ms = T0 + 1500;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.requeue_after_ms, 1500);
        assert_false(p.status_changed);

        in.now_ms = T0 + 3000;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, TASK_ACTION_DELETE, 0);

        /* ttl 0: deleted as soon as it finishes. */
        in.spec.ttl_after_finished_ms = 0;
        in.now_ms = T0 + 1000;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, TASK_ACTION_DELETE, 0);
}

static void test_deleting_removes_then_finalizes(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct observed_container cs[2] = {exited(1, "c1", 1, T0, T0 + 10),
                                           running(2, "c2", T0 + 20)};
        struct task_plan p;

        in.deleting = true;
        in.status.attempts = 2;
        in.status.phase = TASK_PHASE_RUNNING;
        in.containers = cs;
        in.n_containers = 2;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 2);
        assert_action(&p, 0, TASK_ACTION_REMOVE, 1);
        assert_string_equal(p.actions[0].container_id, "c1");
        assert_action(&p, 1, TASK_ACTION_REMOVE, 2);
        assert_string_equal(p.actions[1].container_id, "c2");
        assert_false(p.status_changed);

        in.n_containers = 0;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, TASK_ACTION_FINALIZE, 0);
        assert_false(p.status_changed);

        /* Deleting wins over a missing finalizer. */
        in.has_finalizer = false;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, TASK_ACTION_FINALIZE, 0);
}

/* Whether the image is there is a question the plan asks (an action), not
 * one acting answers on its own: only before a create, and not with Always. */
static void test_image_presence_is_planned(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct task_plan p;

        in.image_unknown = true;
        in.status.observed_generation = in.generation;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, TASK_ACTION_INSPECT_IMAGE, 1);
        assert_false(p.status_changed); /* nothing happened yet */

        in.spec.pull_policy = PULL_NEVER;
        task_plan_compute(&in, &p);
        assert_action(&p, 0, TASK_ACTION_INSPECT_IMAGE, 1);

        /* Always pulls anyway: no question. */
        in.spec.pull_policy = PULL_ALWAYS;
        task_plan_compute(&in, &p);
        assert_action(&p, 0, TASK_ACTION_PULL_IMAGE, 1);
        assert_action(&p, 1, TASK_ACTION_CREATE, 1);

        /* A running Task creates nothing: no question either. */
        struct observed_container c = running(1, "c1", T0);
        in.spec.pull_policy = PULL_IF_NOT_PRESENT;
        in.status.attempts = 1;
        in.status.phase = TASK_PHASE_RUNNING;
        in.containers = &c;
        in.n_containers = 1;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
}

/* Containers of an older Task of the same name (another uid) never run as
 * this one's: removed first, and a deletion waits for them too. */
static void test_strays_removed(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct observed_container stray = running(3, "old", T0 - 100000);
        struct task_plan p;

        in.strays = &stray;
        in.n_strays = 1;
        task_plan_compute(&in, &p);
        assert_action(&p, 0, TASK_ACTION_REMOVE, 3);
        assert_string_equal(p.actions[0].container_id, "old");
        assert_action(&p, 1, TASK_ACTION_CREATE, 1); /* its own attempt 1 is unaffected */

        in.deleting = true;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, TASK_ACTION_REMOVE, 3);
        in.n_strays = 0;
        task_plan_compute(&in, &p);
        assert_action(&p, 0, TASK_ACTION_FINALIZE, 0);
}

static void test_adopts_attempt_beyond_status(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct observed_container cs[2] = {running(1, "c1", T0), running(2, "c2", T0 + 100)};
        struct task_plan p;

        in.spec.restart_policy = RESTART_ON_FAILURE;
        in.status.attempts = 1;
        in.status.phase = TASK_PHASE_RUNNING;
        in.status.start_ms = T0;
        in.status.next_attempt_ms = T0 + 50000; /* belongs to attempt 1 */
        in.containers = cs;
        in.n_containers = 2;
        task_plan_compute(&in, &p);
        assert_int_equal(p.status.attempts, 2);
        assert_string_equal(p.status.container_id, "c2");
        assert_int_equal(p.status.next_attempt_ms, 0);
        assert_int_equal(p.status.phase, TASK_PHASE_RUNNING);
        /* An older attempt must not run alongside: SIGKILL, no CREATE. */
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, TASK_ACTION_KILL, 1);
        assert_string_equal(p.actions[0].signal, "SIGKILL");
        assert_string_equal(p.actions[0].container_id, "c1");
}

static void test_container_lost(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct task_plan p;

        in.status.attempts = 1;
        in.status.phase = TASK_PHASE_RUNNING;
        in.status.start_ms = T0;
        in.status.container_id = "c1";
        task_plan_compute(&in, &p);
        /* The cache may lag: confirm by name first. */
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, TASK_ACTION_INSPECT, 1);
        assert_null(p.actions[0].container_id);
        assert_int_equal(p.status.phase, TASK_PHASE_RUNNING);

        in.lost_attempt = 1;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.status.phase, TASK_PHASE_FAILED);
        assert_reason(&p, "ContainerLost");
        assert_false(p.status.exit_known);
        assert_int_equal(p.status.completion_ms, in.now_ms);

        /* A confirmation about another attempt does not count. */
        in.lost_attempt = 2;
        task_plan_compute(&in, &p);
        assert_action(&p, 0, TASK_ACTION_INSPECT, 1);

        /* OnFailure: a lost attempt is a failed one, retried after backoff. */
        in.lost_attempt = 1;
        in.spec.restart_policy = RESTART_ON_FAILURE;
        task_plan_compute(&in, &p);
        assert_int_equal(p.status.phase, TASK_PHASE_RUNNING);
        assert_reason(&p, "ContainerLost");
        assert_true(p.status.next_attempt_ms > in.now_ms);
        assert_int_equal(p.n_actions, 0);

        /* Waiting: the missing container does not matter any more. */
        in.status = p.status;
        in.lost_attempt = 0;
        in.now_ms = p.status.next_attempt_ms;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, TASK_ACTION_CREATE, 2);
}

static void test_image_never_missing(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct task_plan p;

        in.spec.image = "busybox:nosuch";
        in.spec.pull_policy = PULL_NEVER;
        in.image_present = false;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.status.phase, TASK_PHASE_FAILED);
        assert_reason(&p, "ImagePullFailed");
        assert_string_equal(p.status.message,
                            "image busybox:nosuch is not present and imagePullPolicy is Never");
        assert_int_equal(p.status.attempts, 0);
        assert_int_equal(p.status.completion_ms, in.now_ms);

        in.image_present = true;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, TASK_ACTION_CREATE, 1);
}

static void test_image_pull_policies(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct task_plan p;

        in.image_present = false;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 2);
        assert_action(&p, 0, TASK_ACTION_PULL_IMAGE, 1);
        assert_action(&p, 1, TASK_ACTION_CREATE, 1);

        in.image_present = true;
        in.spec.pull_policy = PULL_ALWAYS;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 2);
        assert_action(&p, 0, TASK_ACTION_PULL_IMAGE, 1);
        assert_action(&p, 1, TASK_ACTION_CREATE, 1);

        in.image_error = "pull image busybox:nosuch: 404 manifest unknown";
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.status.phase, TASK_PHASE_FAILED);
        assert_reason(&p, "ImagePullFailed");
        assert_string_equal(p.status.message, in.image_error);
}

static void test_create_refused(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct observed_container c = {.attempt = 1, .id = "c1", .state = DOCKER_STATE_CREATED};
        struct task_plan p;

        in.create_error = "create container x: 400 invalid mount config";
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.status.phase, TASK_PHASE_FAILED);
        assert_reason(&p, "ContainerCreateFailed");
        assert_string_equal(p.status.message, in.create_error);

        /* Start refused (executable not found): the container stays created. */
        in.create_error = "start container c1: 400 exec: \"nosuch\": executable file not found";
        in.containers = &c;
        in.n_containers = 1;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_reason(&p, "ContainerCreateFailed");

        /* runAsNonRoot refused by the image's user: a reason of its own */
        in.containers = NULL;
        in.n_containers = 0;
        in.create_error = "runAsNonRoot: image busybox:latest runs as root (uid 0)";
        in.create_error_reason = "CreateContainerConfigError";
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.status.phase, TASK_PHASE_FAILED);
        assert_reason(&p, "CreateContainerConfigError");
        assert_string_equal(p.status.message, in.create_error);
}

static void test_finished_task_spec_change_does_not_rerun(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct observed_container c = exited(1, "c1", 0, T0, T0 + 1000);
        struct task_plan p;

        in.status = (struct task_status){.phase = TASK_PHASE_SUCCEEDED,
                                         .attempts = 1,
                                         .container_id = "c1",
                                         .start_ms = T0,
                                         .completion_ms = T0 + 1000,
                                         .exit_known = true,
                                         .reason = "Completed",
                                         .message = "exit code 0",
                                         .observed_generation = 1};
        in.generation = 2;
        in.containers = &c;
        in.n_containers = 1;
        in.now_ms = T0 + 100000;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_true(p.status_changed);
        assert_int_equal(p.status.observed_generation, 2);
        assert_int_equal(p.status.phase, TASK_PHASE_SUCCEEDED);
        assert_int_equal(p.status.attempts, 1);
        assert_int_equal(p.requeue_after_ms, -1);

        /* Failed ones alike, and even without any container. */
        in.status.phase = TASK_PHASE_FAILED;
        in.status.reason = "ImagePullFailed";
        in.n_containers = 0;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);

        in.status.observed_generation = 2;
        task_plan_compute(&in, &p);
        assert_false(p.status_changed);
}

static void test_finished_task_kills_stray_container(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct observed_container c = running(1, "c1", T0);
        struct task_plan p;

        in.status = (struct task_status){.phase = TASK_PHASE_FAILED,
                                         .attempts = 1,
                                         .completion_ms = T0 + 1000,
                                         .reason = "Error",
                                         .observed_generation = 1};
        in.containers = &c;
        in.n_containers = 1;
        in.now_ms = T0 + 1001;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, TASK_ACTION_KILL, 1);
        assert_string_equal(p.actions[0].signal, "SIGKILL");
}

static void test_removing_container_waits(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct observed_container c = {.attempt = 1, .id = "c1", .state = DOCKER_STATE_REMOVING};
        struct task_plan p;

        in.status.attempts = 1;
        in.containers = &c;
        in.n_containers = 1;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_true(p.requeue_after_ms > 0);
}

/* ---- backoff ---------------------------------------------------------- */

static void test_backoff_delay(void **state)
{
        (void)state;
        struct task_spec s = spec_default();

        /* Growth: initial * factor^(n-2), plus at most 10%. */
        for (int n = 2; n <= 6; n++) {
                int64_t base = 10000LL << (n - 2);
                int64_t d = task_backoff_delay_ms(&s, UID, n);
                assert_true(d >= base);
                assert_true(d <= base + base / 10);
                /* Deterministic. */
                assert_int_equal(d, task_backoff_delay_ms(&s, UID, n));
        }
        /* Capped, jitter included. */
        assert_int_equal(task_backoff_delay_ms(&s, UID, 7), 300000);
        assert_int_equal(task_backoff_delay_ms(&s, UID, 100), 300000);
        assert_int_equal(task_backoff_delay_ms(&s, UID, 1000000), 300000);

        /* Jitter depends on uid: 20 uids do not all agree. */
        bool differ = false;
        int64_t first = task_backoff_delay_ms(&s, "uid-0", 3);
        for (int i = 1; i < 20; i++) {
                char uid[16];
                snprintf(uid, sizeof(uid), "uid-%d", i);
                if (task_backoff_delay_ms(&s, uid, 3) != first)
                        differ = true;
        }
        assert_true(differ);

        /* Odd values do not crash or go negative. */
        s.backoff_factor = 0;
        s.backoff_initial_ms = -5;
        assert_int_equal(task_backoff_delay_ms(&s, NULL, 0), 0);
        s = spec_default();
        s.backoff_factor = 1000;
        s.backoff_max_ms = INT64_MAX / 4;
        assert_true(task_backoff_delay_ms(&s, UID, 1000) <= INT64_MAX / 4);
        s = spec_default();
        s.backoff_initial_ms = 1000;
        s.backoff_factor = 1.5;
        int64_t d3 = task_backoff_delay_ms(&s, UID, 3);
        assert_true(d3 >= 1500 && d3 <= 1650);
}

/* ---- status JSON ------------------------------------------------------ */

static const json_t *condition(const json_t *st, const char *type)
{
        size_t i;
        const json_t *c;
        json_array_foreach(json_object_get(st, "conditions"), i, c)
        {
                if (streq(json_string_value(json_object_get(c, "type")), type))
                        return c;
        }
        return NULL;
}

static const char *cond_field(const json_t *st, const char *type, const char *field)
{
        const json_t *c = condition(st, type);
        assert_non_null(c);
        return json_string_value(json_object_get(c, field));
}

static void test_status_json_and_conditions(void **state)
{
        (void)state;
        struct task_status st = {.phase = TASK_PHASE_RUNNING,
                                 .attempts = 1,
                                 .container_id = "c1",
                                 .start_ms = T0,
                                 .observed_generation = 3};

        json_t *j1 = task_status_to_json(&st, NULL, T0);
        assert_non_null(j1);
        assert_string_equal(json_string_value(json_object_get(j1, "phase")), "Running");
        assert_int_equal(json_integer_value(json_object_get(j1, "observedGeneration")), 3);
        assert_string_equal(json_string_value(json_object_get(j1, "startTime")),
                            "2026-01-01T00:00:00Z");
        assert_null(json_object_get(j1, "exitCode"));
        assert_null(json_object_get(j1, "completionTime"));
        assert_string_equal(cond_field(j1, "Running", "status"), "True");
        assert_string_equal(cond_field(j1, "Succeeded", "status"), "Unknown");
        assert_string_equal(cond_field(j1, "Failed", "status"), "Unknown");

        /* Later, same condition statuses: lastTransitionTime kept. A new
         * status of Running gets the new time. */
        st.phase = TASK_PHASE_SUCCEEDED;
        st.exit_known = true;
        st.exit_code = 0;
        st.reason = "Completed";
        st.message = "exit code 0";
        st.completion_ms = T0 + 60000;
        json_t *j2 = task_status_to_json(&st, j1, T0 + 60000);
        assert_non_null(j2);
        assert_string_equal(cond_field(j2, "Running", "status"), "False");
        assert_string_equal(cond_field(j2, "Running", "lastTransitionTime"),
                            "2026-01-01T00:01:00Z");
        assert_string_equal(cond_field(j2, "Succeeded", "status"), "True");
        assert_string_equal(cond_field(j2, "Succeeded", "reason"), "Completed");
        assert_string_equal(cond_field(j2, "Succeeded", "lastTransitionTime"),
                            "2026-01-01T00:01:00Z");
        assert_int_equal(json_integer_value(json_object_get(j2, "exitCode")), 0);

        json_t *j3 = task_status_to_json(&st, j2, T0 + 120000);
        assert_true(json_equal(j2, j3)); /* nothing changed, not even times */

        /* Failed during a backoff wait: Running False/BackOff, then the
         * Running condition keeps its time when the task fails. */
        struct task_status b = {.phase = TASK_PHASE_RUNNING,
                                .attempts = 1,
                                .next_attempt_ms = T0 + 10000,
                                .reason = "Error",
                                .message = "attempt 1 failed"};
        json_t *j4 = task_status_to_json(&b, j1, T0 + 5000);
        assert_string_equal(cond_field(j4, "Running", "status"), "False");
        assert_string_equal(cond_field(j4, "Running", "reason"), "BackOff");
        assert_string_equal(cond_field(j4, "Failed", "lastTransitionTime"), "2026-01-01T00:00:00Z");
        b.phase = TASK_PHASE_FAILED;
        b.next_attempt_ms = 0;
        json_t *j5 = task_status_to_json(&b, j4, T0 + 9000);
        assert_string_equal(cond_field(j5, "Running", "lastTransitionTime"),
                            "2026-01-01T00:00:05Z");
        assert_string_equal(cond_field(j5, "Failed", "status"), "True");
        assert_string_equal(cond_field(j5, "Failed", "lastTransitionTime"), "2026-01-01T00:00:09Z");
        assert_string_equal(cond_field(j5, "Succeeded", "status"), "False");

        json_decref(j1);
        json_decref(j2);
        json_decref(j3);
        json_decref(j4);
        json_decref(j5);
}

static void test_status_roundtrip(void **state)
{
        (void)state;
        struct task_status st = {.phase = TASK_PHASE_FAILED,
                                 .attempts = 3,
                                 .container_id = "abc",
                                 .start_ms = T0,
                                 .completion_ms = T0 + 5000,
                                 .exit_known = true,
                                 .exit_code = 3,
                                 .reason = "BackoffLimitExceeded",
                                 .message = "exit code 3 after 3 attempts",
                                 .observed_generation = 2};
        struct task_status back;

        json_t *obj = json_pack("{s:o}", "status", task_status_to_json(&st, NULL, T0));
        assert_non_null(obj);
        task_status_from_json(obj, &back);
        assert_int_equal(back.phase, TASK_PHASE_FAILED);
        assert_int_equal(back.attempts, 3);
        assert_string_equal(back.container_id, "abc");
        assert_int_equal(back.start_ms, T0);
        assert_int_equal(back.completion_ms, T0 + 5000);
        assert_true(back.exit_known);
        assert_int_equal(back.exit_code, 3);
        assert_string_equal(back.reason, "BackoffLimitExceeded");
        assert_string_equal(back.message, "exit code 3 after 3 attempts");
        assert_int_equal(back.observed_generation, 2);
        assert_int_equal(back.next_attempt_ms, 0);
        json_decref(obj);

        /* Absent or odd: zero values, Pending. */
        obj = json_pack("{s:{s:s, s:s, s:i}}", "status", "phase", "Exploded", "startTime",
                        "yesterday", "attempts", -4);
        task_status_from_json(obj, &back);
        assert_int_equal(back.phase, TASK_PHASE_PENDING);
        assert_int_equal(back.start_ms, 0);
        assert_int_equal(back.attempts, 0);
        assert_false(back.exit_known);
        json_decref(obj);
        task_status_from_json(NULL, &back);
        assert_int_equal(back.phase, TASK_PHASE_PENDING);
}

/* ---- spec ------------------------------------------------------------- */

static json_t *load(const char *text)
{
        json_error_t e;
        json_t *j = json_loads(text, 0, &e);
        if (!j)
                fail_msg("bad test json: %s", e.text);
        return j;
}

/* ---- container -------------------------------------------------------- */

static void test_container_name(void **state)
{
        (void)state;
        char *n = task_container_name("default", "hello", UID, 3);
        assert_string_equal(n, "berth.default.hello.01234567.3");
        free(n);
        n = task_container_name("ns", "x", "abc", 1); /* short uid: all of it */
        assert_string_equal(n, "berth.ns.x.abc.1");
        free(n);
        assert_null(task_container_name(NULL, "x", UID, 1));
        assert_null(task_container_name("ns", "x", UID, 0));
}

static const char *label(const json_t *body, const char *key)
{
        return json_string_value(json_object_get(json_object_get(body, "Labels"), key));
}

/* The create body of a Task object's attempt: its spec decoded as the
 * reconciler does, the owner from its metadata. */
static json_t *body_of(const json_t *o, const json_t *forged_labels, int attempt)
{
        struct task_spec spec;
        struct berth_error err = {0};
        const struct container_owner owner = {
            .kind = "Task",
            .ns = json_path_string(o, "metadata.namespace") ?: "default",
            .name = json_path_string(o, "metadata.name"),
            .uid = json_path_string(o, "metadata.uid"),
            .generation = json_path_int(o, "metadata.generation", 0),
        };

        if (task_spec_decode(o, &spec, &err) < 0)
                fail_msg("decode: %s", err.message);
        if (forged_labels)
                spec.labels = forged_labels;
        json_t *b = task_container_body(&spec, &owner, attempt, NULL);
        task_spec_release(&spec);
        return b;
}

static void test_container_body(void **state)
{
        (void)state;
        json_t *o = load(
            "{\"metadata\":{\"name\":\"hello\",\"namespace\":\"team\",\"uid\":\"" UID "\","
            "\"generation\":4},"
            "\"spec\":{\"image\":\"busybox:latest\",\"command\":[\"sh\",\"-c\"],"
            "\"args\":[\"echo hi\"],"
            "\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"EMPTY\"}],"
            "\"workingDir\":\"/tmp\",\"user\":\"1000:1000\",\"network\":\"host\","
            "\"volumes\":[{\"mountPath\":\"/data\",\"hostPath\":\"/srv/data\",\"readOnly\":true},"
            "{\"mountPath\":\"/cache\",\"volume\":\"cache\"},"
            "{\"mountPath\":\"/scratch\",\"tmpfs\":{\"sizeLimit\":\"64Mi\"}}],"
            "\"resources\":{\"cpu\":\"500m\",\"memory\":\"256Mi\",\"pids\":64}}}");
        /* Validation refuses "berth." keys in spec.labels; the body would
         * override them anyway. */
        json_t *forged = load("{\"team\":\"data\",\"berth.uid\":\"forged\"}");

        json_t *b = body_of(o, forged, 2);
        assert_non_null(b);
        assert_string_equal(json_string_value(json_object_get(b, "Image")), "busybox:latest");
        json_t *ep = json_object_get(b, "Entrypoint");
        assert_int_equal(json_array_size(ep), 2);
        assert_string_equal(json_string_value(json_array_get(ep, 0)), "sh");
        json_t *cmd = json_object_get(b, "Cmd");
        assert_string_equal(json_string_value(json_array_get(cmd, 0)), "echo hi");
        json_t *env = json_object_get(b, "Env");
        assert_int_equal(json_array_size(env), 2);
        assert_string_equal(json_string_value(json_array_get(env, 0)), "A=1");
        assert_string_equal(json_string_value(json_array_get(env, 1)), "EMPTY=");
        assert_string_equal(json_string_value(json_object_get(b, "WorkingDir")), "/tmp");
        assert_string_equal(json_string_value(json_object_get(b, "User")), "1000:1000");

        assert_string_equal(label(b, "berth.managed"), "true");
        assert_string_equal(label(b, "berth.kind"), "Task");
        assert_string_equal(label(b, "berth.namespace"), "team");
        assert_string_equal(label(b, "berth.name"), "hello");
        assert_string_equal(label(b, "berth.uid"), UID); /* users cannot forge ours */
        assert_string_equal(label(b, "berth.attempt"), "2");
        assert_string_equal(label(b, "berth.generation"), "4");
        assert_string_equal(label(b, "team"), "data");

        json_t *hc = json_object_get(b, "HostConfig");
        assert_non_null(hc);
        assert_string_equal(json_string_value(json_object_get(hc, "NetworkMode")), "host");
        assert_int_equal(json_integer_value(json_object_get(hc, "NanoCpus")), 500000000);
        assert_int_equal(json_integer_value(json_object_get(hc, "Memory")), 256 * 1024 * 1024);
        assert_int_equal(json_integer_value(json_object_get(hc, "MemorySwap")), 256 * 1024 * 1024);
        assert_int_equal(json_integer_value(json_object_get(hc, "PidsLimit")), 64);
        json_t *m = json_object_get(hc, "Mounts");
        assert_int_equal(json_array_size(m), 3);
        json_t *m0 = json_array_get(m, 0), *m1 = json_array_get(m, 1), *m2 = json_array_get(m, 2);
        assert_string_equal(json_string_value(json_object_get(m0, "Type")), "bind");
        assert_string_equal(json_string_value(json_object_get(m0, "Source")), "/srv/data");
        assert_string_equal(json_string_value(json_object_get(m0, "Target")), "/data");
        assert_true(json_is_true(json_object_get(m0, "ReadOnly")));
        assert_string_equal(json_string_value(json_object_get(m1, "Type")), "volume");
        assert_string_equal(json_string_value(json_object_get(m1, "Source")), "cache");
        assert_true(json_is_false(json_object_get(m1, "ReadOnly")));
        assert_string_equal(json_string_value(json_object_get(m2, "Type")), "tmpfs");
        assert_null(json_object_get(m2, "Source"));
        assert_int_equal(
            json_integer_value(json_object_get(json_object_get(m2, "TmpfsOptions"), "SizeBytes")),
            64 * 1024 * 1024);
        json_decref(b);
        json_decref(o);
        json_decref(forged);

        /* Minimal: Docker's defaults stay (no NetworkMode, no Entrypoint). */
        o = load("{\"metadata\":{\"name\":\"m\",\"uid\":\"u1\"},\"spec\":{\"image\":\"x\","
                 "\"resources\":{\"cpu\":1.5}}}");
        b = body_of(o, NULL, 1);
        assert_non_null(b);
        assert_null(json_object_get(b, "Entrypoint"));
        assert_null(json_object_get(b, "Cmd"));
        assert_null(json_object_get(json_object_get(b, "HostConfig"), "NetworkMode"));
        assert_int_equal(
            json_integer_value(json_object_get(json_object_get(b, "HostConfig"), "NanoCpus")),
            1500000000);
        assert_string_equal(label(b, "berth.namespace"), "default");
        json_decref(b);
        json_decref(o);
}

/* Secrets resolved by acting: the env value and the secret volume's host
 * directory, bound read-only; without them there is no body. */
static void test_container_body_secrets(void **state)
{
        (void)state;
        json_t *o = load(
            "{\"metadata\":{\"name\":\"db\",\"uid\":\"" UID "\"},"
            "\"spec\":{\"image\":\"x\","
            "\"env\":[{\"name\":\"A\",\"value\":\"1\"},"
            "{\"name\":\"P\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"db\",\"key\":\"pw\"}}}],"
            "\"volumes\":[{\"mountPath\":\"/t\",\"tmpfs\":{}},"
            "{\"mountPath\":\"/run/secrets/db\",\"secret\":\"db\"}]}}");
        struct task_spec spec;
        struct berth_error err = {0};
        const struct container_owner owner = {
            .kind = "Task", .ns = "default", .name = "db", .uid = UID};
        char *values[] = {NULL, "hunter2"};
        char *dirs[] = {NULL, "/run/berth/secrets/c/" UID "/1"};
        const struct container_secrets secrets = {.env_values = values, .volume_dirs = dirs};

        assert_int_equal(task_spec_decode(o, &spec, &err), 0);
        json_t *b = task_container_body(&spec, &owner, 1, &secrets);
        assert_non_null(b);
        json_t *env = json_object_get(b, "Env");
        assert_string_equal(json_string_value(json_array_get(env, 0)), "A=1");
        assert_string_equal(json_string_value(json_array_get(env, 1)), "P=hunter2");
        json_t *m1 = json_array_get(json_object_get(json_object_get(b, "HostConfig"), "Mounts"), 1);
        assert_string_equal(json_string_value(json_object_get(m1, "Type")), "bind");
        assert_string_equal(json_string_value(json_object_get(m1, "Source")), dirs[1]);
        assert_string_equal(json_string_value(json_object_get(m1, "Target")), "/run/secrets/db");
        assert_true(json_is_true(json_object_get(m1, "ReadOnly")));
        json_decref(b);

        /* Unresolved: no body rather than a container without its Secret. */
        assert_null(task_container_body(&spec, &owner, 1, NULL));
        const struct container_secrets env_only = {.env_values = values};
        assert_null(task_container_body(&spec, &owner, 1, &env_only));
        task_spec_release(&spec);
        json_decref(o);
}

/* A Secret that cannot be had: no image work, no create; the Task waits
 * with CreateContainerConfigError and looks again. */
static void test_config_error_waits(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct task_plan p;

        in.image_unknown = true;
        in.config_error = "env P: secret \"db\" has no key \"pw\"";
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.status.phase, TASK_PHASE_PENDING);
        assert_reason(&p, "CreateContainerConfigError");
        assert_string_equal(p.status.message, in.config_error);
        assert_int_equal(p.requeue_after_ms, TASK_CONFIG_RETRY_MS);
        assert_true(p.status_changed);
        json_t *st = task_status_to_json(&p.status, NULL, in.now_ms);
        json_t *running = json_array_get(json_object_get(st, "conditions"), 0);
        assert_string_equal(json_string_value(json_object_get(running, "type")), "Running");
        assert_string_equal(json_string_value(json_object_get(running, "status")), "False");
        assert_string_equal(json_string_value(json_object_get(running, "reason")),
                            "CreateContainerConfigError");
        assert_string_equal(json_string_value(json_object_get(running, "message")),
                            in.config_error);
        json_decref(st);

        /* Once it can be had: the image, then the create; the reason goes. */
        in.status = p.status;
        in.config_error = NULL;
        task_plan_compute(&in, &p);
        assert_action(&p, 0, TASK_ACTION_INSPECT_IMAGE, 1);
        in.image_unknown = false;
        task_plan_compute(&in, &p);
        assert_action(&p, 0, TASK_ACTION_CREATE, 1);
        assert_null(p.status.reason);
        assert_null(p.status.message);

        /* Between attempts: still Running (waiting), no new attempt. */
        in = input_default();
        in.spec.restart_policy = RESTART_ON_FAILURE;
        in.status = (struct task_status){.phase = TASK_PHASE_RUNNING,
                                         .attempts = 1,
                                         .start_ms = T0,
                                         .next_attempt_ms = T0 + 500,
                                         .reason = "Error"};
        struct observed_container c = exited(1, "c1", 1, T0, T0 + 100);
        in.containers = &c;
        in.n_containers = 1;
        in.config_error = "volume /s: secret \"db\" not found";
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.status.phase, TASK_PHASE_RUNNING);
        assert_int_equal(p.status.attempts, 1);
        assert_reason(&p, "CreateContainerConfigError");
}

static void test_enum_strings(void **state)
{
        (void)state;
        enum task_phase ph;
        assert_string_equal(task_phase_to_string(TASK_PHASE_SUCCEEDED), "Succeeded");
        assert_int_equal(task_phase_from_string("Failed", &ph), 0);
        assert_int_equal(ph, TASK_PHASE_FAILED);
        ph = TASK_PHASE_RUNNING;
        assert_int_equal(task_phase_from_string("failed", &ph), -EINVAL);
        assert_int_equal(ph, TASK_PHASE_RUNNING);
        assert_int_equal(task_phase_from_string(NULL, &ph), -EINVAL);
        assert_string_equal(task_phase_to_string((enum task_phase)99), "Unknown");
        assert_string_equal(task_action_type_to_string(TASK_ACTION_FINALIZE), "Finalize");
        assert_string_equal(task_action_type_to_string((enum task_action_type)99), "Unknown");
}

/* ---- dependsOn -------------------------------------------------------- */

static const char *const deps_ab[] = {"a", "b"};

static void assert_waiting(const struct task_plan *p, enum task_waiting w, const char *reason,
                           const char *message)
{
        assert_int_equal(p->status.waiting, w);
        assert_string_equal(p->status.waiting_reason, reason);
        assert_string_equal(p->status.waiting_message, message);
}

static void test_depends_waits_for_dependencies(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct task_dependency deps[] = {{.name = "a", .found = true, .phase = TASK_PHASE_RUNNING},
                                         {.name = "b", .found = false}};
        struct task_plan p;

        in.spec.depends_on = deps_ab;
        in.spec.n_depends_on = 2;
        in.deps = deps;
        in.n_deps = 2;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0); /* no image check, no container */
        assert_int_equal(p.status.phase, TASK_PHASE_PENDING);
        assert_int_equal(p.status.attempts, 0);
        assert_reason(&p, "DependenciesNotReady");
        assert_string_equal(p.status.message, "waiting for task a (Running), b (not found)");
        assert_waiting(&p, TASK_WAITING_TRUE, "DependenciesNotReady",
                       "waiting for task a (Running), b (not found)");
        assert_true(p.status_changed);
        assert_int_equal(p.requeue_after_ms, -1); /* a dependency's change brings it back */

        /* One succeeded: only the other is named. */
        deps[0].phase = TASK_PHASE_SUCCEEDED;
        deps[1] = (struct task_dependency){.name = "b", .found = true};
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_string_equal(p.status.message, "waiting for task b (Pending)");

        /* Same picture as the status already written: nothing to write. */
        struct task_plan again;
        in.status = p.status;
        in.status.observed_generation = 1;
        task_plan_compute(&in, &again);
        assert_false(again.status_changed);
}

static void test_depends_all_succeeded_runs(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct task_dependency deps[] = {
            {.name = "a", .found = true, .phase = TASK_PHASE_SUCCEEDED},
            {.name = "b", .found = true, .phase = TASK_PHASE_SUCCEEDED}};
        struct task_plan p;

        in.spec.depends_on = deps_ab;
        in.spec.n_depends_on = 2;
        in.deps = deps;
        in.n_deps = 2;
        in.status.waiting = TASK_WAITING_TRUE;
        in.status.waiting_reason = "DependenciesNotReady";
        in.status.reason = "DependenciesNotReady";
        in.status.message = "waiting for task b (Running)";
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, TASK_ACTION_CREATE, 1);
        assert_int_equal(p.status.attempts, 1);
        assert_null(p.status.reason);
        assert_null(p.status.message);
        assert_waiting(&p, TASK_WAITING_FALSE, "DependenciesReady", "");
}

static void test_depends_failed_fails_without_running(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct task_dependency deps[] = {{.name = "a", .found = true, .phase = TASK_PHASE_FAILED},
                                         {.name = "b", .found = false}};
        struct task_plan p;

        in.spec.depends_on = deps_ab;
        in.spec.n_depends_on = 2;
        in.deps = deps;
        in.n_deps = 2;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.status.phase, TASK_PHASE_FAILED);
        assert_int_equal(p.status.attempts, 0);
        assert_int_equal(p.status.completion_ms, in.now_ms);
        assert_false(p.status.exit_known);
        assert_reason(&p, "DependencyFailed");
        assert_string_equal(p.status.message, "dependency a failed");
        assert_waiting(&p, TASK_WAITING_FALSE, "DependencyFailed", "dependency a failed");

        deps[1] = (struct task_dependency){.name = "b", .found = true, .phase = TASK_PHASE_FAILED};
        task_plan_compute(&in, &p);
        assert_string_equal(p.status.message, "dependencies a, b failed");

        /* Finished: never runs afterwards, even once the dependency is fine. */
        in.status = p.status;
        deps[0].phase = deps[1].phase = TASK_PHASE_SUCCEEDED;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.status.phase, TASK_PHASE_FAILED);
}

static void test_depends_cycle_waits(void **state)
{
        (void)state;
        static const char *const deps_y[] = {"y"};
        static const char *const cycle[] = {"x", "y"};
        struct task_plan_input in = input_default();
        struct task_dependency deps[] = {{.name = "y", .found = true, .phase = TASK_PHASE_PENDING}};
        struct task_plan p;

        in.spec.depends_on = deps_y;
        in.spec.n_depends_on = 1;
        in.deps = deps;
        in.n_deps = 1;
        in.cycle = cycle;
        in.n_cycle = 2;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.status.phase, TASK_PHASE_PENDING);
        assert_reason(&p, "DependencyCycle");
        assert_string_equal(p.status.message, "dependency cycle: x \u2192 y \u2192 x");
        assert_waiting(&p, TASK_WAITING_TRUE, "DependencyCycle",
                       "dependency cycle: x \u2192 y \u2192 x");
        assert_int_equal(p.requeue_after_ms, -1);
}

static void test_depends_long_message_is_cut(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct task_dependency deps[TASK_DEPENDS_ON_MAX];
        char names[TASK_DEPENDS_ON_MAX][64];
        struct task_plan p;

        for (size_t i = 0; i < TASK_DEPENDS_ON_MAX; i++) {
                snprintf(names[i], sizeof(names[i]), "a-rather-long-dependency-name-%02zu", i);
                deps[i] = (struct task_dependency){.name = names[i]};
        }
        in.deps = deps;
        in.n_deps = TASK_DEPENDS_ON_MAX;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_true(strlen(p.status.message) < sizeof(p.message));
        assert_non_null(strstr(p.status.message, "a-rather-long-dependency-name-00 (not found), "));
        assert_non_null(strstr(p.status.message, " more"));
}

static void test_depends_only_gate_first_start(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct task_dependency deps[] = {{.name = "a", .found = false},
                                         {.name = "b", .found = true, .phase = TASK_PHASE_FAILED}};
        struct observed_container c = running(1, "c1", T0);
        struct task_plan p;

        /* Started (the dependency was deleted or failed since): runs on. */
        in.spec.depends_on = deps_ab;
        in.spec.n_depends_on = 2;
        in.deps = deps;
        in.n_deps = 2;
        in.status = (struct task_status){.phase = TASK_PHASE_RUNNING,
                                         .attempts = 1,
                                         .container_id = "c1",
                                         .start_ms = T0,
                                         .waiting = TASK_WAITING_FALSE,
                                         .waiting_reason = "DependenciesReady",
                                         .waiting_message = ""};
        in.containers = &c;
        in.n_containers = 1;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.status.phase, TASK_PHASE_RUNNING);
        assert_null(p.status.reason);
        assert_waiting(&p, TASK_WAITING_FALSE, "DependenciesReady", "");

        /* Created but the status never heard of it (crash): adopted, not gated. */
        in.status = (struct task_status){.phase = TASK_PHASE_PENDING};
        task_plan_compute(&in, &p);
        assert_int_equal(p.status.phase, TASK_PHASE_RUNNING);
        assert_int_equal(p.status.attempts, 1);
}

static void test_depends_waiting_condition_json(void **state)
{
        (void)state;
        struct task_status st = {.phase = TASK_PHASE_PENDING,
                                 .reason = "DependenciesNotReady",
                                 .message = "waiting for task a (Running)",
                                 .waiting = TASK_WAITING_TRUE,
                                 .waiting_reason = "DependenciesNotReady",
                                 .waiting_message = "waiting for task a (Running)"};
        json_t *j1 = task_status_to_json(&st, NULL, T0);

        assert_non_null(j1);
        assert_int_equal(json_array_size(json_object_get(j1, "conditions")), 4);
        assert_string_equal(cond_field(j1, "Waiting", "status"), "True");
        assert_string_equal(cond_field(j1, "Waiting", "reason"), "DependenciesNotReady");
        assert_string_equal(cond_field(j1, "Waiting", "message"), "waiting for task a (Running)");
        assert_string_equal(cond_field(j1, "Running", "status"), "False");

        /* Read back as written. */
        json_t *obj = json_pack("{s:O}", "status", j1);
        struct task_status back;
        task_status_from_json(obj, &back);
        assert_int_equal(back.waiting, TASK_WAITING_TRUE);
        assert_string_equal(back.waiting_reason, "DependenciesNotReady");
        assert_string_equal(back.waiting_message, "waiting for task a (Running)");

        /* Ready: False, with a new transition time. */
        st.waiting = TASK_WAITING_FALSE;
        st.waiting_reason = "DependenciesReady";
        st.waiting_message = "";
        st.reason = st.message = NULL;
        json_t *j2 = task_status_to_json(&st, j1, T0 + 5000);
        assert_string_equal(cond_field(j2, "Waiting", "status"), "False");
        assert_string_equal(cond_field(j2, "Waiting", "lastTransitionTime"),
                            "2026-01-01T00:00:05Z");

        /* No dependsOn: no Waiting condition, nothing read. */
        struct task_status plain = {.phase = TASK_PHASE_PENDING};
        json_t *j3 = task_status_to_json(&plain, NULL, T0);
        assert_int_equal(json_array_size(json_object_get(j3, "conditions")), 3);
        json_t *obj3 = json_pack("{s:O}", "status", j3);
        task_status_from_json(obj3, &back);
        assert_int_equal(back.waiting, TASK_WAITING_NONE);
        assert_null(back.waiting_reason);

        json_decref(obj);
        json_decref(obj3);
        json_decref(j1);
        json_decref(j2);
        json_decref(j3);
}

/* ---- retry rules (retryOn, retryExitCodes) ------------------------------ */

/* The status as it reads back after the write: the plan's message copied out
 * of the plan (the next compute reuses the plan's buffer). */
static void carry_status(struct task_plan_input *in, const struct task_plan *p, char *buf,
                         size_t size)
{
        in->status = p->status;
        if (p->status.message) {
                snprintf(buf, size, "%s", p->status.message);
                in->status.message = buf;
        }
}

static void assert_retrying_at(const struct task_plan *p, const char *what)
{
        char want[256], when[RFC3339_MAX];

        assert_int_equal(p->status.phase, TASK_PHASE_RUNNING);
        assert_true(p->status.next_attempt_ms > 0);
        time_format_rfc3339(p->status.next_attempt_ms, when);
        snprintf(want, sizeof(want), "%s; retrying at %s", what, when);
        assert_string_equal(p->status.message, want);
}

static void test_retry_allowed_table(void **state)
{
        (void)state;
        static const int one_two[] = {1, 2};
        static const int two[] = {2};
        const unsigned all = RETRY_ON_DEFAULT | RETRY_ON_DEADLINE_EXCEEDED;
        const struct {
                enum restart_policy policy;
                unsigned retry_on;
                enum retry_exit_codes_mode mode;
                const int *codes;
                size_t n_codes;
                unsigned reason;
                int exit_code;
                bool want;
        } rows[] = {
            /* retryOn alone: the default leaves DeadlineExceeded out */
            {RESTART_ON_FAILURE, RETRY_ON_DEFAULT, RETRY_EXIT_CODES_ANY, NULL, 0, RETRY_ON_ERROR, 1,
             true},
            {RESTART_ON_FAILURE, RETRY_ON_DEFAULT, RETRY_EXIT_CODES_ANY, NULL, 0,
             RETRY_ON_OOM_KILLED, 137, true},
            {RESTART_ON_FAILURE, RETRY_ON_DEFAULT, RETRY_EXIT_CODES_ANY, NULL, 0,
             RETRY_ON_CONTAINER_LOST, 0, true},
            {RESTART_ON_FAILURE, RETRY_ON_DEFAULT, RETRY_EXIT_CODES_ANY, NULL, 0,
             RETRY_ON_DEADLINE_EXCEEDED, 143, false},
            {RESTART_ON_FAILURE, all, RETRY_EXIT_CODES_ANY, NULL, 0, RETRY_ON_DEADLINE_EXCEEDED,
             143, true},
            {RESTART_ON_FAILURE, RETRY_ON_ERROR, RETRY_EXIT_CODES_ANY, NULL, 0, RETRY_ON_OOM_KILLED,
             137, false},
            {RESTART_ON_FAILURE, RETRY_ON_ERROR, RETRY_EXIT_CODES_ANY, NULL, 0,
             RETRY_ON_CONTAINER_LOST, 0, false},
            {RESTART_ON_FAILURE, RETRY_ON_OOM_KILLED, RETRY_EXIT_CODES_ANY, NULL, 0, RETRY_ON_ERROR,
             1, false},
            /* in: only the listed codes of an Error */
            {RESTART_ON_FAILURE, all, RETRY_EXIT_CODES_IN, one_two, 2, RETRY_ON_ERROR, 1, true},
            {RESTART_ON_FAILURE, all, RETRY_EXIT_CODES_IN, one_two, 2, RETRY_ON_ERROR, 2, true},
            {RESTART_ON_FAILURE, all, RETRY_EXIT_CODES_IN, one_two, 2, RETRY_ON_ERROR, 3, false},
            /* notIn: all but the listed codes */
            {RESTART_ON_FAILURE, all, RETRY_EXIT_CODES_NOT_IN, two, 1, RETRY_ON_ERROR, 2, false},
            {RESTART_ON_FAILURE, all, RETRY_EXIT_CODES_NOT_IN, two, 1, RETRY_ON_ERROR, 1, true},
            {RESTART_ON_FAILURE, all, RETRY_EXIT_CODES_NOT_IN, two, 1, RETRY_ON_ERROR, 255, true},
            /* exit codes govern Error only, whatever code the others carry */
            {RESTART_ON_FAILURE, all, RETRY_EXIT_CODES_IN, one_two, 2, RETRY_ON_OOM_KILLED, 137,
             true},
            {RESTART_ON_FAILURE, all, RETRY_EXIT_CODES_NOT_IN, two, 1, RETRY_ON_DEADLINE_EXCEEDED,
             2, true},
            {RESTART_ON_FAILURE, all, RETRY_EXIT_CODES_IN, one_two, 2, RETRY_ON_CONTAINER_LOST, 0,
             true},
            {RESTART_ON_FAILURE, RETRY_ON_OOM_KILLED, RETRY_EXIT_CODES_IN, one_two, 2,
             RETRY_ON_ERROR, 1, false},
            /* Never retries nothing */
            {RESTART_NEVER, all, RETRY_EXIT_CODES_ANY, NULL, 0, RETRY_ON_ERROR, 1, false},
            {RESTART_NEVER, all, RETRY_EXIT_CODES_IN, one_two, 2, RETRY_ON_ERROR, 1, false},
            {RESTART_NEVER, all, RETRY_EXIT_CODES_ANY, NULL, 0, RETRY_ON_OOM_KILLED, 137, false},
            {RESTART_NEVER, all, RETRY_EXIT_CODES_ANY, NULL, 0, RETRY_ON_CONTAINER_LOST, 0, false},
            {RESTART_NEVER, all, RETRY_EXIT_CODES_ANY, NULL, 0, RETRY_ON_DEADLINE_EXCEEDED, 143,
             false},
            /* not a reason */
            {RESTART_ON_FAILURE, all, RETRY_EXIT_CODES_ANY, NULL, 0, 0, 1, false},
        };

        for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
                struct task_spec s = spec_default();

                s.restart_policy = rows[i].policy;
                s.retry_on = rows[i].retry_on;
                s.retry_exit_codes_mode = rows[i].mode;
                s.retry_exit_codes = rows[i].codes;
                s.n_retry_exit_codes = rows[i].n_codes;
                if (task_retry_allowed(&s, rows[i].reason, rows[i].exit_code) != rows[i].want)
                        fail_msg("row %zu: expected %s", i, rows[i].want ? "retry" : "no retry");
        }
        assert_false(task_retry_allowed(NULL, RETRY_ON_ERROR, 1));
}

static void test_exit_code_excluded_fails_at_once(void **state)
{
        (void)state;
        static const int two[] = {2};
        struct task_plan_input in = input_default();
        struct observed_container cs[2] = {exited(1, "c1", 2, T0 + 100, T0 + 900)};
        struct task_plan p;

        in.spec.restart_policy = RESTART_ON_FAILURE;
        in.spec.retry_exit_codes_mode = RETRY_EXIT_CODES_NOT_IN;
        in.spec.retry_exit_codes = two;
        in.spec.n_retry_exit_codes = 1;
        in.status.attempts = 1;
        in.status.phase = TASK_PHASE_RUNNING;
        in.status.start_ms = T0 + 100;
        in.containers = cs;
        in.n_containers = 1;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.status.phase, TASK_PHASE_FAILED);
        assert_reason(&p, "Error"); /* not BackoffLimitExceeded: retries were left */
        assert_int_equal(p.status.exit_code, 2);
        assert_int_equal(p.status.next_attempt_ms, 0);
        assert_int_equal(p.status.completion_ms, T0 + 900);
        assert_string_equal(p.status.message,
                            "exit code 2: not retried (retryExitCodes.notIn lists it)");

        /* A later attempt says how many ran. */
        cs[1] = exited(2, "c2", 2, T0 + 20000, T0 + 21000);
        in.n_containers = 2;
        in.status.attempts = 2;
        task_plan_compute(&in, &p);
        assert_reason(&p, "Error");
        assert_string_equal(p.status.message,
                            "exit code 2 after 2 attempts: not retried (retryExitCodes.notIn "
                            "lists it)");

        /* in: a code it does not list. */
        in.n_containers = 1;
        in.status.attempts = 1;
        in.spec.retry_exit_codes_mode = RETRY_EXIT_CODES_IN;
        cs[0].exit_code = 3;
        task_plan_compute(&in, &p);
        assert_int_equal(p.status.phase, TASK_PHASE_FAILED);
        assert_reason(&p, "Error");
        assert_string_equal(p.status.message,
                            "exit code 3: not retried (retryExitCodes.in does not list it)");

        /* retryOn without the reason: that reason, at once. */
        in.spec.retry_exit_codes_mode = RETRY_EXIT_CODES_ANY;
        in.spec.retry_on = RETRY_ON_ERROR;
        cs[0].exit_code = 137;
        cs[0].oom_killed = true;
        task_plan_compute(&in, &p);
        assert_int_equal(p.status.phase, TASK_PHASE_FAILED);
        assert_reason(&p, "OOMKilled");
        assert_string_equal(p.status.message,
                            "OOM-killed, exit code 137: not retried (retryOn does not list "
                            "OOMKilled)");

        in.n_containers = 0;
        in.lost_attempt = 1;
        task_plan_compute(&in, &p);
        assert_int_equal(p.status.phase, TASK_PHASE_FAILED);
        assert_reason(&p, "ContainerLost");
        assert_false(p.status.exit_known);
        assert_string_equal(p.status.message,
                            "the container of attempt 1 disappeared: not retried (retryOn does "
                            "not list ContainerLost)");

        in.lost_attempt = 0;
        in.n_containers = 1;
        in.spec.retry_on = RETRY_ON_OOM_KILLED;
        cs[0] = exited(1, "c1", 1, T0 + 100, T0 + 900);
        task_plan_compute(&in, &p);
        assert_reason(&p, "Error");
        assert_string_equal(p.status.message,
                            "exit code 1: not retried (retryOn does not list Error)");

        /* Never: no retry rules to name, the message as ever. */
        in.spec.restart_policy = RESTART_NEVER;
        in.spec.retry_on = RETRY_ON_DEFAULT;
        task_plan_compute(&in, &p);
        assert_reason(&p, "Error");
        assert_string_equal(p.status.message, "exit code 1");
}

static void test_exit_code_allowed_retries(void **state)
{
        (void)state;
        static const int codes[] = {1, 3};
        struct task_plan_input in = input_default();
        struct observed_container cs[2] = {exited(1, "c1", 3, T0 + 100, T0 + 900)};
        struct task_plan p;

        in.spec.restart_policy = RESTART_ON_FAILURE;
        in.spec.backoff_limit = 1;
        in.spec.retry_exit_codes_mode = RETRY_EXIT_CODES_IN;
        in.spec.retry_exit_codes = codes;
        in.spec.n_retry_exit_codes = 2;
        in.status.attempts = 1;
        in.status.phase = TASK_PHASE_RUNNING;
        in.status.start_ms = T0 + 100;
        in.containers = cs;
        in.n_containers = 1;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_reason(&p, "Error");
        assert_int_equal(p.status.next_attempt_ms,
                         (T0 + 900 + task_backoff_delay_ms(&in.spec, UID, 2) + 999) / 1000 * 1000);
        assert_retrying_at(&p, "attempt 1 failed with exit code 3");

        /* Allowed, but backoffLimit is used up: that is what it says. */
        cs[1] = exited(2, "c2", 1, T0 + 20000, T0 + 21000);
        in.n_containers = 2;
        in.status.attempts = 2;
        task_plan_compute(&in, &p);
        assert_int_equal(p.status.phase, TASK_PHASE_FAILED);
        assert_reason(&p, "BackoffLimitExceeded");
        assert_string_equal(p.status.message, "exit code 1 after 2 attempts");
}

/* With DeadlineExceeded in retryOn the deadline counts from each attempt's
 * own start; an attempt stopped at it is retried within backoffLimit. */
static void test_deadline_per_attempt_retried(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct observed_container cs[2] = {running(1, "c1", T0 + 500)};
        struct task_plan p, q;
        char msg[512];

        in.spec.restart_policy = RESTART_ON_FAILURE;
        in.spec.backoff_limit = 1;
        in.spec.active_deadline_ms = 2000;
        in.spec.retry_on = RETRY_ON_DEFAULT | RETRY_ON_DEADLINE_EXCEEDED;
        in.status.attempts = 1;
        in.status.phase = TASK_PHASE_RUNNING;
        in.status.start_ms = T0 + 500;
        in.containers = cs;
        in.n_containers = 1;
        in.now_ms = T0 + 2500;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, TASK_ACTION_KILL, 1);
        assert_string_equal(p.actions[0].signal, "SIGTERM");
        assert_reason(&p, "DeadlineExceeded");
        assert_string_equal(p.status.message, "attempt 1 exceeded the active deadline of 2s");
        assert_int_equal(p.status.terminating_ms, T0 + 2000);
        carry_status(&in, &p, msg, sizeof(msg));

        /* It exits (SIGTERM: 143): a failed attempt, retried after backoff. */
        cs[0] = exited(1, "c1", 143, T0 + 500, T0 + 3000);
        in.now_ms = T0 + 3100;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.status.phase, TASK_PHASE_RUNNING);
        assert_reason(&p, "DeadlineExceeded");
        assert_int_equal(p.status.terminating_ms, 0);
        assert_true(p.status.exit_known);
        assert_int_equal(p.status.exit_code, 143);
        assert_int_equal(p.status.next_attempt_ms,
                         (T0 + 3000 + task_backoff_delay_ms(&in.spec, UID, 2) + 999) / 1000 * 1000);
        assert_retrying_at(&p, "attempt 1 exceeded the active deadline of 2s");
        assert_int_equal(p.requeue_after_ms, p.status.next_attempt_ms - in.now_ms);
        carry_status(&in, &p, msg, sizeof(msg));

        /* Waiting: the same status again (the wait does not count against a
         * per-attempt deadline), and an exit code of 0 after SIGTERM does not
         * turn the attempt into a success. */
        task_plan_compute(&in, &q);
        assert_false(q.status_changed);
        assert_int_equal(q.n_actions, 0);
        cs[0].exit_code = 0;
        task_plan_compute(&in, &q);
        assert_int_equal(q.status.phase, TASK_PHASE_RUNNING);
        assert_reason(&q, "DeadlineExceeded");

        /* Attempt 2, long after the first start: only its own start counts. */
        in.now_ms = in.status.next_attempt_ms;
        task_plan_compute(&in, &p);
        assert_action(&p, 0, TASK_ACTION_CREATE, 2);
        in.status = p.status;
        int64_t start2 = in.now_ms + 200;
        cs[1] = running(2, "c2", start2);
        in.n_containers = 2;
        in.now_ms = start2 + 1000;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.status.phase, TASK_PHASE_RUNNING);
        assert_null(p.status.reason);
        assert_int_equal(p.status.start_ms, T0 + 500); /* startTime stays the first start */
        assert_int_equal(p.requeue_after_ms, 1000);

        /* Its start not known yet (a cache filled from a list): look first. */
        cs[1].started_ms = 0;
        task_plan_compute(&in, &q);
        assert_int_equal(q.n_actions, 1);
        assert_action(&q, 0, TASK_ACTION_INSPECT, 2);
        assert_string_equal(q.actions[0].container_id, "c2");
        cs[1].started_ms = start2;

        in.now_ms = start2 + 2000;
        task_plan_compute(&in, &p);
        assert_action(&p, 0, TASK_ACTION_KILL, 2);
        assert_string_equal(p.status.message, "attempt 2 exceeded the active deadline of 2s");
        carry_status(&in, &p, msg, sizeof(msg));

        /* backoffLimit used up: Failed, still DeadlineExceeded. */
        cs[1] = exited(2, "c2", 137, start2, start2 + 2500);
        in.now_ms = start2 + 2600;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.status.phase, TASK_PHASE_FAILED);
        assert_reason(&p, "DeadlineExceeded");
        assert_string_equal(p.status.message, "active deadline of 2s exceeded after 2 attempts");
        assert_int_equal(p.status.exit_code, 137);
        assert_int_equal(p.status.completion_ms, start2 + 2500);
        assert_int_equal(p.status.terminating_ms, 0);
}

/* ---- shutdown: Stop ----------------------------------------------------- */

#define STOPPED_MESSAGE "stopped by request (spec.shutdown: Stop)"

static void assert_stopped(const struct task_plan *p, int64_t at)
{
        assert_int_equal(p->n_actions, 0);
        assert_int_equal(p->status.phase, TASK_PHASE_FAILED);
        assert_reason(p, "Stopped");
        assert_string_equal(p->status.message, STOPPED_MESSAGE);
        assert_int_equal(p->status.completion_ms, at);
        assert_int_equal(p->status.next_attempt_ms, 0);
        assert_int_equal(p->status.terminating_ms, 0);
}

static void test_shutdown_not_started(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct task_dependency deps[] = {{.name = "a", .found = true, .phase = TASK_PHASE_RUNNING},
                                         {.name = "b", .found = false}};
        struct observed_container c = {.attempt = 1, .id = "c1", .state = DOCKER_STATE_CREATED};
        struct task_plan p;

        /* Pending, image not even looked at. */
        in.spec.shutdown = true;
        in.image_unknown = true;
        task_plan_compute(&in, &p);
        assert_stopped(&p, in.now_ms);
        assert_int_equal(p.status.attempts, 0);
        assert_false(p.status.exit_known);
        assert_int_equal(p.status.waiting, TASK_WAITING_NONE);

        /* Waiting on dependsOn: not any more. */
        in.spec.depends_on = deps_ab;
        in.spec.n_depends_on = 2;
        in.deps = deps;
        in.n_deps = 2;
        task_plan_compute(&in, &p);
        assert_stopped(&p, in.now_ms);
        assert_waiting(&p, TASK_WAITING_FALSE, "Stopped", STOPPED_MESSAGE);

        /* Created, never started: not started now. */
        in.n_deps = 0;
        in.status.attempts = 1;
        in.containers = &c;
        in.n_containers = 1;
        task_plan_compute(&in, &p);
        assert_stopped(&p, in.now_ms);

        /* Finished: nothing left to stop. */
        in.status = (struct task_status){.phase = TASK_PHASE_SUCCEEDED,
                                         .attempts = 1,
                                         .completion_ms = T0 + 500,
                                         .reason = "Completed",
                                         .message = "exit code 0",
                                         .observed_generation = 1};
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.status.phase, TASK_PHASE_SUCCEEDED);
        assert_false(p.status_changed);
}

/* berth stop writes spec.shutdown into a running Task (a new generation):
 * SIGTERM, SIGKILL after the grace period, Failed with Stopped, no retry. */
static void test_shutdown_running(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct observed_container c = running(1, "c1", T0);
        struct task_plan p;
        char msg[512];

        in.spec.restart_policy = RESTART_ON_FAILURE;
        in.spec.active_deadline_ms = 3600000;
        in.status = (struct task_status){.phase = TASK_PHASE_RUNNING,
                                         .attempts = 1,
                                         .container_id = "c1",
                                         .start_ms = T0,
                                         .observed_generation = 1};
        in.containers = &c;
        in.n_containers = 1;
        in.now_ms = T0 + 5500;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_false(p.status_changed);

        in.generation = 2;
        in.spec.shutdown = true;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 1); /* never a CREATE: the spec change is no rerun */
        assert_action(&p, 0, TASK_ACTION_KILL, 1);
        assert_string_equal(p.actions[0].signal, "SIGTERM");
        assert_int_equal(p.status.phase, TASK_PHASE_RUNNING);
        assert_reason(&p, "Stopped");
        assert_string_equal(p.status.message, STOPPED_MESSAGE);
        assert_int_equal(p.status.terminating_ms, T0 + 5000);
        assert_int_equal(p.status.observed_generation, 2);
        assert_int_equal(p.requeue_after_ms, T0 + 5000 + TASK_KILL_GRACE_MS - in.now_ms);
        carry_status(&in, &p, msg, sizeof(msg));

        /* Within the grace period: wait. */
        in.now_ms = T0 + 6000;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_false(p.status_changed);

        /* Grace over: SIGKILL. */
        in.now_ms = T0 + 5000 + TASK_KILL_GRACE_MS;
        task_plan_compute(&in, &p);
        assert_action(&p, 0, TASK_ACTION_KILL, 1);
        assert_string_equal(p.actions[0].signal, "SIGKILL");

        /* Exited non-zero with retries left: Failed, Stopped, no retry. */
        c = exited(1, "c1", 137, T0, in.now_ms + 50);
        in.now_ms += 100;
        task_plan_compute(&in, &p);
        assert_stopped(&p, c.finished_ms);
        assert_true(p.status.exit_known);
        assert_int_equal(p.status.exit_code, 137);
}

static void test_shutdown_between_attempts(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct observed_container c = exited(1, "c1", 1, T0, T0 + 1000);
        struct task_plan p;
        char msg[512];

        in.spec.restart_policy = RESTART_ON_FAILURE;
        in.status.attempts = 1;
        in.status.phase = TASK_PHASE_RUNNING;
        in.status.start_ms = T0;
        in.containers = &c;
        in.n_containers = 1;
        in.now_ms = T0 + 1500;
        task_plan_compute(&in, &p);
        assert_true(p.status.next_attempt_ms > in.now_ms);
        carry_status(&in, &p, msg, sizeof(msg));

        /* In backoff: Failed at once, the last attempt's exit code kept. */
        in.spec.shutdown = true;
        in.now_ms = T0 + 2000;
        task_plan_compute(&in, &p);
        assert_stopped(&p, in.now_ms);
        assert_true(p.status.exit_known);
        assert_int_equal(p.status.exit_code, 1);
        assert_int_equal(p.requeue_after_ms, -1);

        /* Its container gone meanwhile: the same. */
        in.n_containers = 0;
        task_plan_compute(&in, &p);
        assert_stopped(&p, in.now_ms);

        /* An attempt that just failed on its own is not retried either... */
        in.n_containers = 1;
        in.status.next_attempt_ms = 0;
        in.status.reason = NULL;
        in.status.message = NULL;
        task_plan_compute(&in, &p);
        assert_stopped(&p, in.now_ms);

        /* ...and one that succeeded before the stop succeeded. */
        c.exit_code = 0;
        task_plan_compute(&in, &p);
        assert_int_equal(p.status.phase, TASK_PHASE_SUCCEEDED);
}

/* A stop during the stop at a per-attempt deadline: no retry after it. */
static void test_shutdown_during_deadline_stop(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct observed_container c = exited(1, "c1", 143, T0, T0 + 2500);
        struct task_plan p;

        in.spec.restart_policy = RESTART_ON_FAILURE;
        in.spec.active_deadline_ms = 2000;
        in.spec.retry_on = RETRY_ON_DEFAULT | RETRY_ON_DEADLINE_EXCEEDED;
        in.spec.shutdown = true;
        in.status = (struct task_status){.phase = TASK_PHASE_RUNNING,
                                         .attempts = 1,
                                         .container_id = "c1",
                                         .start_ms = T0,
                                         .reason = "DeadlineExceeded",
                                         .message = "attempt 1 exceeded the active deadline of 2s",
                                         .terminating_ms = T0 + 2000};
        in.containers = &c;
        in.n_containers = 1;
        in.now_ms = T0 + 3000;
        task_plan_compute(&in, &p);
        assert_stopped(&p, in.now_ms);
        assert_int_equal(p.status.exit_code, 143);
}

/* ---- run slots (needs_admission, Queued) -------------------------------- */

/* A slot is asked for before anything: no image question, no create. */
static void test_admission_asked_first(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct task_plan p;

        in.needs_admission = true;
        in.image_unknown = true;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, TASK_ACTION_ADMIT, 1);
        assert_int_equal(p.status.queued, TASK_QUEUED_NONE);
        assert_int_equal(p.requeue_after_ms, -1);
}

/* Refused: Pending, Queued True with the reason and message, no timer (a
 * freed slot wakes it); the same again writes nothing; admitted later:
 * Queued False (Admitted), the reason cleared, the create planned; a
 * roundtrip through JSON keeps it all. */
static void test_queued_then_admitted(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct task_plan p;
        char msg[256];
        const char *why = "waiting for a run slot: at most 5 Tasks run at once";

        in.needs_admission = true;
        in.queued_reason = "MaxRunning";
        in.queued_message = why;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_int_equal(p.status.phase, TASK_PHASE_PENDING);
        assert_int_equal(p.status.queued, TASK_QUEUED_TRUE);
        assert_string_equal(p.status.queued_reason, "MaxRunning");
        assert_string_equal(p.status.queued_message, why);
        assert_reason(&p, "MaxRunning");
        assert_true(p.status_changed);
        assert_int_equal(p.requeue_after_ms, -1);

        /* Through JSON, as the store keeps it. */
        json_t *st = task_status_to_json(&p.status, NULL, T0 + 1000);
        json_t *obj = json_pack("{s:o}", "status", st);
        assert_non_null(obj);
        task_status_from_json(obj, &in.status);
        assert_int_equal(in.status.queued, TASK_QUEUED_TRUE);
        assert_string_equal(in.status.queued_reason, "MaxRunning");
        const json_t *c = json_array_get(json_object_get(st, "conditions"), 3);
        assert_string_equal(json_string_value(json_object_get(c, "type")), "Queued");
        assert_string_equal(json_string_value(json_object_get(c, "status")), "True");
        c = json_array_get(json_object_get(st, "conditions"), 0);
        assert_string_equal(json_string_value(json_object_get(c, "type")), "Running");
        assert_string_equal(json_string_value(json_object_get(c, "reason")), "MaxRunning");

        /* Refused again: nothing to write. */
        task_plan_compute(&in, &p);
        assert_false(p.status_changed);

        /* Admitted (it holds a slot now). */
        snprintf(msg, sizeof(msg), "%s", in.status.message);
        in.status.message = msg;
        in.needs_admission = false;
        in.queued_reason = NULL;
        in.queued_message = NULL;
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, TASK_ACTION_CREATE, 1);
        assert_int_equal(p.status.queued, TASK_QUEUED_FALSE);
        assert_string_equal(p.status.queued_reason, "Admitted");
        assert_null(p.status.reason);
        json_decref(obj);
}

/* Waiting for a Secret comes first: no slot is taken meanwhile. */
static void test_config_error_before_admission(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct task_plan p;

        in.needs_admission = true;
        in.config_error = "secret db: not found";
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 0);
        assert_reason(&p, "CreateContainerConfigError");
        assert_int_equal(p.status.queued, TASK_QUEUED_NONE);
}

/* A Task holding its slot (a retry after a failed attempt) does not ask. */
static void test_retry_holding_slot_does_not_ask(void **state)
{
        (void)state;
        struct task_plan_input in = input_default();
        struct task_plan p;

        in.spec.restart_policy = RESTART_ON_FAILURE;
        in.status = (struct task_status){.phase = TASK_PHASE_RUNNING,
                                         .attempts = 1,
                                         .start_ms = T0,
                                         .next_attempt_ms = T0 + 500};
        task_plan_compute(&in, &p);
        assert_int_equal(p.n_actions, 1);
        assert_action(&p, 0, TASK_ACTION_CREATE, 2);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_new_task_creates_attempt_1),
            cmocka_unit_test(test_image_presence_is_planned),
            cmocka_unit_test(test_strays_removed),
            cmocka_unit_test(test_missing_finalizer_first),
            cmocka_unit_test(test_created_container_is_started),
            cmocka_unit_test(test_restart_adopts_created_container),
            cmocka_unit_test(test_running_sets_phase_and_deadline_timer),
            cmocka_unit_test(test_running_without_deadline_no_timer),
            cmocka_unit_test(test_exit_0_succeeds),
            cmocka_unit_test(test_exited_without_details_is_inspected_never_started),
            cmocka_unit_test(test_exit_3_never_fails_with_error),
            cmocka_unit_test(test_oom_killed),
            cmocka_unit_test(test_on_failure_retries_then_backoff_limit),
            cmocka_unit_test(test_backoff_survives_json_roundtrip),
            cmocka_unit_test(test_deadline_exceeded_then_sigkill_after_grace),
            cmocka_unit_test(test_terminating_condition),
            cmocka_unit_test(test_deadline_during_backoff),
            cmocka_unit_test(test_ttl_requeue_then_delete),
            cmocka_unit_test(test_deleting_removes_then_finalizes),
            cmocka_unit_test(test_adopts_attempt_beyond_status),
            cmocka_unit_test(test_container_lost),
            cmocka_unit_test(test_image_never_missing),
            cmocka_unit_test(test_image_pull_policies),
            cmocka_unit_test(test_create_refused),
            cmocka_unit_test(test_finished_task_spec_change_does_not_rerun),
            cmocka_unit_test(test_finished_task_kills_stray_container),
            cmocka_unit_test(test_removing_container_waits),
            cmocka_unit_test(test_backoff_delay),
            cmocka_unit_test(test_status_json_and_conditions),
            cmocka_unit_test(test_status_roundtrip),
            cmocka_unit_test(test_container_name),
            cmocka_unit_test(test_container_body),
            cmocka_unit_test(test_enum_strings),
            cmocka_unit_test(test_depends_waits_for_dependencies),
            cmocka_unit_test(test_depends_all_succeeded_runs),
            cmocka_unit_test(test_depends_failed_fails_without_running),
            cmocka_unit_test(test_depends_cycle_waits),
            cmocka_unit_test(test_depends_long_message_is_cut),
            cmocka_unit_test(test_depends_only_gate_first_start),
            cmocka_unit_test(test_depends_waiting_condition_json),
            cmocka_unit_test(test_retry_allowed_table),
            cmocka_unit_test(test_exit_code_excluded_fails_at_once),
            cmocka_unit_test(test_exit_code_allowed_retries),
            cmocka_unit_test(test_deadline_per_attempt_retried),
            cmocka_unit_test(test_shutdown_not_started),
            cmocka_unit_test(test_shutdown_running),
            cmocka_unit_test(test_shutdown_between_attempts),
            cmocka_unit_test(test_shutdown_during_deadline_stop),
            cmocka_unit_test(test_container_body_secrets),
            cmocka_unit_test(test_config_error_waits),
            cmocka_unit_test(test_admission_asked_first),
            cmocka_unit_test(test_queued_then_admitted),
            cmocka_unit_test(test_config_error_before_admission),
            cmocka_unit_test(test_retry_holding_slot_does_not_ask),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
