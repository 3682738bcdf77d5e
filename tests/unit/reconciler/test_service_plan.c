/* Unit tests of the pure Service planner: plain structs in, plan out —
 * creation with port allocation, scale up and down, crash-loop backoff and
 * its reset, unhealthy replicas, rolling updates under maxSurge and
 * maxUnavailable, Recreate, the progress deadline, image failures and
 * deletion. A "cluster" of fake containers is stepped through the plan the
 * way the reconciler would act on it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "reconciler.h"

#define T0  1767225600000LL /* 2026-01-01T00:00:00Z */
#define SEC 1000LL

static struct service_plan plan;

/* ---- a fake cluster --------------------------------------------------------- */

struct fake {
        struct service_spec spec;
        const char *rev; /* the update revision */
        struct replica_container c[64];
        char ids[64][16];
        size_t n;
        struct replica_record rec[SERVICE_SLOTS_MAX];
        char msgs[SERVICE_SLOTS_MAX][160]; /* what the records' strings point to */
        char crashed[SERVICE_SLOTS_MAX][16];
        size_t n_rec;
        char prev_rev[9];
        int64_t rollout_start, progress;
        int updated_available;
        bool complete;
        int next_id;
        int64_t now;
};

static struct fake F;

static void setup_fake(int replicas)
{
        memset(&F, 0, sizeof(F));
        F.spec = (struct service_spec){
            .replicas = replicas,
            .image = "busybox:latest",
            .pull_policy = PULL_IF_NOT_PRESENT,
            .n_ports = 1,
            .ports = {{.name = "http", .host_from = 18080, .host_to = 18099}},
            .backoff_initial_ms = 10 * SEC,
            .backoff_factor = 2,
            .backoff_max_ms = 300 * SEC,
            .backoff_reset_ms = 600 * SEC,
            .strategy = UPDATE_ROLLING,
            .max_surge = 1,
            .max_unavailable = 0,
            .progress_deadline_ms = 120 * SEC,
            .stop_grace_ms = 30 * SEC,
            .revision_history_limit = 5,
        };
        F.rev = "aaaaaaaa";
        F.now = T0;
}

static struct service_plan_input input_of(bool deleting)
{
        return (struct service_plan_input){
            .spec = &F.spec,
            .update_rev = F.rev,
            .deleting = deleting,
            .has_finalizer = true,
            .containers = F.c,
            .n_containers = F.n,
            .records = F.rec,
            .n_records = F.n_rec,
            .image_present = true,
            .prev_update_rev = F.prev_rev[0] ? F.prev_rev : NULL,
            .prev_rollout_start_ms = F.rollout_start,
            .prev_progress_ms = F.progress,
            .prev_updated_available = F.updated_available,
            .prev_complete = F.complete,
            .now_ms = F.now,
        };
}

static struct replica_container *find(const char *rev, int index)
{
        for (size_t i = 0; i < F.n; i++)
                if (F.c[i].index == index && streq(F.c[i].revision, rev))
                        return &F.c[i];
        return NULL;
}

static struct replica_container *add(const char *rev, int index, enum docker_state st)
{
        struct replica_container *c = &F.c[F.n];

        snprintf(F.ids[F.n], sizeof(F.ids[0]), "id%d", ++F.next_id);
        *c = (struct replica_container){.id = F.ids[F.n], .index = index, .state = st};
        strcpy(c->revision, rev);
        c->started_ms = st == DOCKER_STATE_RUNNING ? F.now : 0;
        F.n++;
        return c;
}

static void drop(const char *id)
{
        for (size_t i = 0; i < F.n; i++) {
                if (!streq(F.c[i].id, id))
                        continue;
                memmove(&F.c[i], &F.c[i + 1], (F.n - i - 1) * sizeof(F.c[0]));
                memmove(F.ids[i], F.ids[i + 1], (F.n - i - 1) * sizeof(F.ids[0]));
                for (size_t k = i; k < F.n - 1; k++) /* ids moved: re-point */
                        F.c[k].id = F.ids[k];
                F.n--;
                return;
        }
}

/* The plan's status as the reconciler would store it: strings copied. */
static void keep_records(void)
{
        F.n_rec = plan.n_records;
        memcpy(F.rec, plan.records, plan.n_records * sizeof(plan.records[0]));
        static char msgs[SERVICE_SLOTS_MAX][160], crashed[SERVICE_SLOTS_MAX][16];

        /* via copies: the strings may point into F already */
        for (size_t i = 0; i < F.n_rec; i++) {
                snprintf(msgs[i], sizeof(msgs[i]), "%s", F.rec[i].message ? F.rec[i].message : "");
                snprintf(crashed[i], sizeof(crashed[i]), "%s",
                         F.rec[i].crashed_id ? F.rec[i].crashed_id : "");
        }
        for (size_t i = 0; i < F.n_rec; i++) {
                memcpy(F.msgs[i], msgs[i], sizeof(msgs[i]));
                memcpy(F.crashed[i], crashed[i], sizeof(crashed[i]));
                F.rec[i].message = F.rec[i].message ? F.msgs[i] : NULL;
                F.rec[i].crashed_id = F.rec[i].crashed_id ? F.crashed[i] : NULL;
        }
}

/* Plans, then carries the plan out on the fake cluster as the reconciler
 * would (creates start at once and run), and keeps the status. */
static void step_with(bool deleting)
{
        struct service_plan_input in = input_of(deleting);

        service_plan_compute(&in, &plan);
        /* the status the reconciler would write */
        keep_records();
        strcpy(F.prev_rev, F.rev);
        F.rollout_start = plan.rollout_start_ms;
        F.progress = plan.progress_ms;
        F.updated_available = plan.updated_available;
        F.complete = plan.complete;
        for (size_t i = 0; i < plan.n_actions; i++) {
                const struct service_action *a = &plan.actions[i];
                struct replica_container *c;
                char id[16];

                switch (a->type) {
                case SERVICE_ACTION_CREATE:
                        c = add(F.rev, a->index, DOCKER_STATE_RUNNING);
                        memcpy(c->host_ports, a->host_ports, sizeof(c->host_ports));
                        break;
                case SERVICE_ACTION_REMOVE:
                        snprintf(id, sizeof(id), "%s", a->container_id);
                        drop(id);
                        break;
                case SERVICE_ACTION_STOP:
                        c = NULL;
                        for (size_t k = 0; k < F.n; k++)
                                if (streq(F.c[k].id, a->container_id))
                                        c = &F.c[k];
                        assert_non_null(c);
                        break;
                default:
                        break;
                }
        }
}

static void step(void)
{
        step_with(false);
}

static size_t count(enum service_action_type t)
{
        size_t n = 0;
        for (size_t i = 0; i < plan.n_actions; i++)
                n += plan.actions[i].type == t;
        return n;
}

static size_t live_of(const char *rev)
{
        size_t n = 0;
        for (size_t i = 0; i < F.n; i++)
                n += streq(F.c[i].revision, rev) && F.c[i].state == DOCKER_STATE_RUNNING;
        return n;
}

static void exit_container(struct replica_container *c, int code)
{
        c->state = DOCKER_STATE_EXITED;
        c->exit_known = true;
        c->exit_code = code;
        c->finished_ms = F.now;
}

/* Terminating containers exit at once on SIGTERM in these tests. */
static void stopped_exit(void)
{
        for (size_t i = 0; i < F.n_rec; i++) {
                if (F.rec[i].terminating_ms <= 0)
                        continue;
                struct replica_container *c = find(F.rec[i].revision, F.rec[i].index);
                if (c && c->state == DOCKER_STATE_RUNNING)
                        exit_container(c, 143);
        }
}

/* ---- tests ----------------------------------------------------------------- */

static void test_create_with_distinct_ports(void **state)
{
        (void)state;
        setup_fake(3);
        struct service_plan_input in = input_of(false);
        in.image_unknown = true;
        service_plan_compute(&in, &plan);
        assert_int_equal(plan.n_actions, 1);
        assert_int_equal(plan.actions[0].type, SERVICE_ACTION_INSPECT_IMAGE);

        step();
        assert_int_equal(count(SERVICE_ACTION_CREATE), 3);
        assert_int_equal(plan.actions[0].host_ports[0], 18080);
        assert_int_equal(plan.actions[1].host_ports[0], 18081);
        assert_int_equal(plan.actions[2].host_ports[0], 18082);
        for (int i = 0; i < 3; i++)
                assert_int_equal(plan.actions[i].index, i);
        assert_int_equal(plan.n_records, 3);
        assert_false(plan.complete);

        step(); /* running, no health check: ready and available */
        assert_int_equal(plan.n_actions, 0);
        assert_int_equal(plan.ready, 3);
        assert_int_equal(plan.available, 3);
        assert_true(plan.complete);
        assert_true(plan.available_ok);
        assert_null(plan.degraded_reason);
}

static void test_scale_down_stops_highest_then_removes(void **state)
{
        (void)state;
        setup_fake(3);
        step();
        step();
        F.spec.replicas = 1;
        step();
        assert_int_equal(count(SERVICE_ACTION_STOP), 2);
        assert_int_equal(plan.available, 1);
        assert_int_equal(plan.requeue_after_ms, 30 * SEC);
        stopped_exit();
        step();
        assert_int_equal(count(SERVICE_ACTION_REMOVE), 2);
        assert_int_equal(F.n, 1);
        assert_int_equal(F.c[0].index, 0);
        assert_int_equal(plan.n_records, 1);

        /* scale to 0 with no grace: removed at once */
        F.spec.replicas = 0;
        F.spec.stop_grace_ms = 0;
        step();
        assert_int_equal(count(SERVICE_ACTION_REMOVE), 1);
        assert_int_equal(F.n, 0);
        assert_true(plan.available_ok);
        /* and back: the freed port is reused */
        F.spec.replicas = 2;
        step();
        assert_int_equal(count(SERVICE_ACTION_CREATE), 2);
        assert_int_equal(plan.actions[0].host_ports[0], 18080);
}

static void test_crash_loop_backoff_grows_and_resets(void **state)
{
        (void)state;
        setup_fake(1);
        step();
        step();
        struct replica_container *c = find(F.rev, 0);
        int port = c->host_ports[0];

        F.now += 5 * SEC;
        exit_container(c, 1);
        step();
        assert_int_equal(plan.n_actions, 0);
        assert_int_equal(plan.records[0].state, REPLICA_CRASH_LOOP);
        assert_int_equal(plan.records[0].restarts, 1);
        assert_int_equal(plan.records[0].next_restart_ms, F.now + 10 * SEC);
        assert_int_equal(plan.requeue_after_ms, 10 * SEC);
        assert_string_equal(plan.degraded_reason, "CrashLoopBackOff");
        assert_int_equal(plan.records[0].last_exit_code, 1);

        step(); /* counted once */
        assert_int_equal(plan.records[0].restarts, 1);

        F.now += 10 * SEC;
        step();
        assert_int_equal(count(SERVICE_ACTION_REMOVE), 1);
        assert_int_equal(count(SERVICE_ACTION_CREATE), 1);
        assert_int_equal(plan.actions[1].host_ports[0], port); /* same address */

        /* second crash right away: 20 s */
        c = find(F.rev, 0);
        F.now += 1 * SEC;
        exit_container(c, 2);
        step();
        assert_int_equal(plan.records[0].next_restart_ms, F.now + 20 * SEC);
        assert_int_equal(plan.records[0].restarts, 2);
        F.now += 20 * SEC;
        step();
        assert_int_equal(count(SERVICE_ACTION_CREATE), 1);

        /* up longer than resetAfterSeconds: back to 10 s */
        c = find(F.rev, 0);
        c->started_ms = F.now;
        F.now += 601 * SEC;
        exit_container(c, 3);
        step();
        assert_int_equal(plan.records[0].next_restart_ms, F.now + 10 * SEC);
        assert_int_equal(plan.records[0].restarts, 3);
}

static void test_backoff_capped(void **state)
{
        (void)state;
        setup_fake(1);
        assert_int_equal(service_backoff_ms(&F.spec, 1), 10 * SEC);
        assert_int_equal(service_backoff_ms(&F.spec, 2), 20 * SEC);
        assert_int_equal(service_backoff_ms(&F.spec, 5), 160 * SEC);
        assert_int_equal(service_backoff_ms(&F.spec, 6), 300 * SEC);
        assert_int_equal(service_backoff_ms(&F.spec, 1000), 300 * SEC);
}

static void test_unhealthy_replica_replaced(void **state)
{
        (void)state;
        setup_fake(1);
        F.spec.health.type = HEALTH_CHECK_TCP;
        step();
        step();
        assert_int_equal(plan.ready, 0); /* starting: not ready */
        assert_false(plan.complete);
        find(F.rev, 0)->health = DOCKER_HEALTH_HEALTHY;
        step();
        assert_int_equal(plan.ready, 1);
        assert_true(plan.complete);
        find(F.rev, 0)->health = DOCKER_HEALTH_UNHEALTHY;
        step();
        assert_int_equal(count(SERVICE_ACTION_REMOVE), 1);
        assert_int_equal(plan.records[0].state, REPLICA_CRASH_LOOP);
        assert_string_equal(plan.records[0].last_exit_reason, "Unhealthy");
        assert_string_equal(plan.degraded_reason, "Unhealthy");
        /* a settled rollout stays settled while a replica crashes */
        assert_true(plan.complete);
        F.now += 10 * SEC;
        step();
        assert_int_equal(count(SERVICE_ACTION_CREATE), 1);
}

/* Rolls 'replicas' replicas from revision aaaa to bbbb, health checks
 * passing one step after a container starts; checks the bounds at every step. */
static int roll(int replicas, int surge, int unavailable)
{
        setup_fake(replicas);
        F.spec.max_surge = surge;
        F.spec.max_unavailable = unavailable;
        F.spec.ports[0].host_to = 18080 + replicas + surge - 1;
        step();
        step();
        assert_true(plan.complete);
        F.rev = "bbbbbbbb";
        int steps = 0;
        do {
                F.now += SEC;
                step();
                if (getenv("DEBUG_ROLL")) {
                        fprintf(stderr, "step %d:", steps);
                        for (size_t i = 0; i < plan.n_actions; i++)
                                fprintf(stderr, " %s(%d)",
                                        service_action_type_to_string(plan.actions[i].type),
                                        plan.actions[i].index);
                        fprintf(stderr, " available %d\n", plan.available);
                }
                stopped_exit();
                size_t total = live_of("aaaaaaaa") + live_of("bbbbbbbb");
                assert_true(total <= (size_t)(replicas + surge));
                if (plan.available < replicas - unavailable)
                        fail_msg(
                            "%d replicas, maxSurge %d, maxUnavailable %d: %d available at step %d",
                            replicas, surge, unavailable, plan.available, steps);
                assert_false(plan.deadline_exceeded);
        } while (!plan.complete && ++steps < 100);
        assert_true(plan.complete);
        assert_int_equal(live_of("aaaaaaaa"), 0);
        assert_int_equal(live_of("bbbbbbbb"), replicas);
        return steps;
}

static void test_rolling_update_bounds(void **state)
{
        (void)state;
        static const int cases[][3] = {{2, 1, 0}, {3, 0, 1}, {4, 2, 0}, {4, 2, 2},
                                       {5, 1, 1}, {1, 1, 0}, {1, 0, 1}, {10, 3, 0}};
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
                roll(cases[i][0], cases[i][1], cases[i][2]);
}

static void test_rolling_waits_for_ready(void **state)
{
        (void)state;
        setup_fake(2);
        F.spec.health.type = HEALTH_CHECK_EXEC;
        step();
        step();
        for (size_t i = 0; i < F.n; i++)
                F.c[i].health = DOCKER_HEALTH_HEALTHY;
        step();
        assert_true(plan.complete);
        F.rev = "bbbbbbbb";
        step();
        assert_int_equal(count(SERVICE_ACTION_CREATE), 1); /* the surge */
        assert_int_equal(count(SERVICE_ACTION_STOP), 0);
        step(); /* new one not healthy yet: nothing more */
        assert_int_equal(plan.n_actions, 0);
        find("bbbbbbbb", 0)->health = DOCKER_HEALTH_HEALTHY;
        step();
        assert_int_equal(count(SERVICE_ACTION_STOP), 1);
        assert_int_equal(count(SERVICE_ACTION_CREATE), 0); /* its port is still held */
        assert_int_equal(plan.available, 2);
        stopped_exit();
        step();
        assert_int_equal(count(SERVICE_ACTION_REMOVE), 1);
        assert_int_equal(count(SERVICE_ACTION_CREATE), 1);
}

static void test_min_ready_seconds(void **state)
{
        (void)state;
        setup_fake(1);
        F.spec.min_ready_ms = 5 * SEC;
        step();
        step();
        assert_int_equal(plan.ready, 1);
        assert_int_equal(plan.available, 0);
        assert_int_equal(plan.requeue_after_ms, 5 * SEC);
        F.now += 5 * SEC;
        step();
        assert_int_equal(plan.available, 1);
        assert_true(plan.complete);
}

static void test_recreate_stops_all_first(void **state)
{
        (void)state;
        setup_fake(3);
        F.spec.strategy = UPDATE_RECREATE;
        step();
        step();
        F.rev = "bbbbbbbb";
        step();
        assert_int_equal(count(SERVICE_ACTION_STOP), 3);
        assert_int_equal(count(SERVICE_ACTION_CREATE), 0);
        stopped_exit();
        step();
        /* the new ones right after the last old one is gone */
        assert_int_equal(count(SERVICE_ACTION_REMOVE), 3);
        assert_int_equal(count(SERVICE_ACTION_CREATE), 3);
        step();
        assert_true(plan.complete);
}

static void test_progress_deadline_freezes_rollout(void **state)
{
        (void)state;
        setup_fake(2);
        F.spec.health.type = HEALTH_CHECK_EXEC;
        step();
        step();
        for (size_t i = 0; i < F.n; i++)
                F.c[i].health = DOCKER_HEALTH_HEALTHY;
        step();
        F.rev = "bbbbbbbb"; /* never becomes healthy */
        step();
        assert_int_equal(count(SERVICE_ACTION_CREATE), 1);
        assert_int_equal(plan.requeue_after_ms, 120 * SEC);
        F.now += 120 * SEC;
        step();
        assert_true(plan.deadline_exceeded);
        assert_int_equal(plan.n_actions, 0);
        assert_int_equal(live_of("aaaaaaaa"), 2); /* the old ones keep serving */
        assert_true(plan.available_ok);
        /* a newer revision starts over */
        F.rev = "cccccccc";
        step();
        assert_false(plan.deadline_exceeded);
}

static void test_image_pull_failure_backs_off(void **state)
{
        (void)state;
        setup_fake(2);
        struct service_plan_input in = input_of(false);
        in.image_present = false;
        service_plan_compute(&in, &plan);
        assert_int_equal(plan.n_actions, 1);
        assert_int_equal(plan.actions[0].type, SERVICE_ACTION_PULL_IMAGE);

        in.image_error = "pull access denied for nope";
        service_plan_compute(&in, &plan);
        assert_int_equal(count(SERVICE_ACTION_CREATE), 0);
        assert_int_equal(plan.n_records, 2);
        assert_int_equal(plan.records[0].state, REPLICA_IMAGE_PULL_FAILED);
        assert_string_equal(plan.records[0].message, "pull access denied for nope");
        assert_string_equal(plan.degraded_reason, "ImagePullFailed");
        assert_int_equal(plan.requeue_after_ms, 10 * SEC);

        /* the next reconcile after the backoff tries again */
        keep_records();
        F.now += 10 * SEC;
        step();
        assert_int_equal(count(SERVICE_ACTION_CREATE), 2);
}

static void test_create_failure_fed_back(void **state)
{
        (void)state;
        setup_fake(1);
        struct service_plan_input in = input_of(false);
        struct replica_failure f = {0, REPLICA_CREATE_FAILED, "port is already allocated"};
        in.failures = &f;
        in.n_failures = 1;
        service_plan_compute(&in, &plan);
        assert_int_equal(count(SERVICE_ACTION_CREATE), 0);
        assert_int_equal(plan.records[0].state, REPLICA_CREATE_FAILED);
        assert_int_equal(plan.records[0].host_ports[0], 0);
        assert_string_equal(plan.degraded_reason, "CreateFailed");
}

static void test_delete_stops_then_finalizes(void **state)
{
        (void)state;
        setup_fake(2);
        step();
        step();
        step_with(true);
        assert_int_equal(count(SERVICE_ACTION_STOP), 2);
        assert_int_equal(count(SERVICE_ACTION_FINALIZE), 0);
        stopped_exit();
        step_with(true);
        assert_int_equal(count(SERVICE_ACTION_REMOVE), 2);
        assert_int_equal(count(SERVICE_ACTION_FINALIZE), 1);
}

static void test_strays_and_adoption(void **state)
{
        (void)state;
        setup_fake(2);
        /* a container of this revision found after a restart is adopted */
        struct replica_container *c = add(F.rev, 1, DOCKER_STATE_RUNNING);
        c->host_ports[0] = 18080;
        const char *strays[] = {"old-uid-container"};
        struct service_plan_input in = input_of(false);
        in.strays = strays;
        in.n_strays = 1;
        service_plan_compute(&in, &plan);
        assert_int_equal(count(SERVICE_ACTION_REMOVE), 1);
        assert_int_equal(count(SERVICE_ACTION_CREATE), 1);
        for (size_t i = 0; i < plan.n_actions; i++)
                if (plan.actions[i].type == SERVICE_ACTION_CREATE) {
                        assert_int_equal(plan.actions[i].index, 0);
                        assert_int_equal(plan.actions[i].host_ports[0], 18081);
                }
}

static void test_revision_hash_and_names(void **state)
{
        (void)state;
        char a[17], b[17], c[17];
        json_t *s1 = json_pack("{s:i, s:{s:s}}", "replicas", 1, "template", "image", "x");
        json_t *s2 = json_pack("{s:i, s:{s:s}}", "replicas", 5, "template", "image", "x");
        json_t *s3 = json_pack("{s:i, s:{s:s}}", "replicas", 1, "template", "image", "y");

        assert_int_equal(service_revision_hash(s1, a), 0);
        assert_int_equal(service_revision_hash(s2, b), 0);
        assert_int_equal(service_revision_hash(s3, c), 0);
        assert_string_equal(a, b); /* scaling is no new revision */
        assert_string_not_equal(a, c);
        assert_int_equal(strlen(a), 16);
        json_decref(s1);
        json_decref(s2);
        json_decref(s3);

        char *name = service_container_name("default", "web", "1a2b3c4d5e6f", 3);
        assert_string_equal(name, "berth.default.web.1a2b3c4d.3");
        free(name);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_create_with_distinct_ports),
            cmocka_unit_test(test_scale_down_stops_highest_then_removes),
            cmocka_unit_test(test_crash_loop_backoff_grows_and_resets),
            cmocka_unit_test(test_backoff_capped),
            cmocka_unit_test(test_unhealthy_replica_replaced),
            cmocka_unit_test(test_rolling_update_bounds),
            cmocka_unit_test(test_rolling_waits_for_ready),
            cmocka_unit_test(test_min_ready_seconds),
            cmocka_unit_test(test_recreate_stops_all_first),
            cmocka_unit_test(test_progress_deadline_freezes_rollout),
            cmocka_unit_test(test_image_pull_failure_backs_off),
            cmocka_unit_test(test_create_failure_fed_back),
            cmocka_unit_test(test_delete_stops_then_finalizes),
            cmocka_unit_test(test_strays_and_adoption),
            cmocka_unit_test(test_revision_hash_and_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
