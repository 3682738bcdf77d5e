/* Unit tests of what a Service reconcile writes without Docker: a replica's
 * create body (expanded template, labels, exec HEALTHCHECK, published ports)
 * and the status — replica records written and read back the same, the
 * revision history (numbering, undo moving a revision to the top, trimming),
 * and the conditions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "service-internal.h"

#define NOW 1767225600000LL /* 2026-01-01T00:00:00Z */

static const char *const service_json =
    "{\"apiVersion\":\"berth/v1\",\"kind\":\"Service\","
    "\"metadata\":{\"name\":\"web\",\"namespace\":\"default\",\"uid\":\"0123456789abcdef\","
    "\"generation\":3},"
    "\"spec\":{\"replicas\":2,"
    "\"template\":{\"image\":\"busybox:latest\","
    "\"command\":[\"httpd\",\"-f\",\"-p\",\"{{ports.http}}\"],"
    "\"env\":[{\"name\":\"ME\",\"value\":\"{{service.name}}-{{replica.index}}\"}]},"
    "\"ports\":[{\"name\":\"http\",\"containerPort\":80,"
    "\"hostPortRange\":{\"from\":18080,\"to\":18089}}],"
    "\"healthCheck\":{\"exec\":{\"command\":[\"true\"]},\"intervalSeconds\":7}}}";

static struct reconcile_ctx ctx = {.cluster = "c1", .prefix = "/berth/"};

/* A run of the Service above (decoded, revision computed), as prepare leaves it. */
static struct service_run *new_run(const char *json)
{
        struct service_run *run = calloc(1, sizeof(*run));
        json_error_t jerr;
        struct berth_error err = {0};

        assert_non_null(run);
        run->o.ctx = &ctx;
        run->o.key = "/berth/services/default/web";
        run->o.obj = json_loads(json, 0, &jerr);
        assert_non_null(run->o.obj);
        manifest_apply_defaults(run->o.obj);
        run->o.ns = "default";
        run->o.name = "web";
        run->o.uid = "0123456789abcdef";
        run->o.now_ms = NOW;
        assert_int_equal(service_spec_decode(run->o.obj, &run->spec, &err), 0);
        run->spec_valid = true;
        assert_int_equal(
            service_revision_hash(json_object_get(run->o.obj, "spec"), run->revision_hash), 0);
        memcpy(run->rev8, run->revision_hash, SERVICE_REV_LEN);
        return run;
}

static void free_run(struct service_run *run)
{
        service_records_free(run);
        json_decref(run->o.obj);
        free(run);
}

static const char *env_of(const json_t *body, const char *prefix)
{
        size_t i;
        const json_t *e;

        json_array_foreach(json_object_get(body, "Env"), i, e)
        {
                if (str_has_prefix(json_string_value(e), prefix))
                        return json_string_value(e) + strlen(prefix);
        }
        return NULL;
}

static void test_container_body(void **state)
{
        (void)state;
        struct service_run *run = new_run(service_json);
        struct berth_error err = {0};
        int ports[SERVICE_PORTS_MAX] = {18083};
        json_t *body = NULL;

        assert_int_equal(service_container_body(run, 1, ports, &body, &err), 0);
        /* the template, expanded for replica 1 */
        assert_string_equal(
            json_string_value(json_array_get(json_object_get(body, "Entrypoint"), 3)), "18083");
        assert_string_equal(env_of(body, "ME="), "web-1");
        assert_string_equal(env_of(body, "BERTH_PORT_HTTP="), "18083");
        assert_string_equal(env_of(body, "BERTH_REPLICA_INDEX="), "1");
        /* labels: the slot, not a Task's attempt */
        const json_t *labels = json_object_get(body, "Labels");
        assert_string_equal(json_string_value(json_object_get(labels, "berth.kind")), "Service");
        assert_string_equal(json_string_value(json_object_get(labels, "berth.replica")), "1");
        assert_string_equal(json_string_value(json_object_get(labels, "berth.revision")),
                            run->rev8);
        assert_string_equal(json_string_value(json_object_get(labels, "berth.ports")),
                            "http=18083");
        assert_string_equal(json_string_value(json_object_get(labels, "berth.cluster")), "c1");
        assert_null(json_object_get(labels, "berth.attempt"));
        /* the exec check is Docker's HEALTHCHECK, times in nanoseconds */
        const json_t *hc = json_object_get(body, "Healthcheck");
        assert_string_equal(json_string_value(json_array_get(json_object_get(hc, "Test"), 0)),
                            "CMD");
        assert_string_equal(json_string_value(json_array_get(json_object_get(hc, "Test"), 1)),
                            "true");
        assert_int_equal(json_integer_value(json_object_get(hc, "Interval")), 7000000000LL);
        assert_int_equal(json_integer_value(json_object_get(hc, "Retries")), 3);
        /* containerPort 80 published on the host port (no host network) */
        assert_non_null(json_path(body, "ExposedPorts.80/tcp"));
        const json_t *binding = json_array_get(
            json_object_get(json_path(body, "HostConfig.PortBindings"), "80/tcp"), 0);
        assert_string_equal(json_string_value(json_object_get(binding, "HostPort")), "18083");
        assert_int_equal(json_integer_value(json_object_get(body, "StopTimeout")), 30);
        json_decref(body);
        free_run(run);
}

/* Writes the status of a plan made by hand, then reads the records back. */
static void test_status_round_trip(void **state)
{
        (void)state;
        struct service_run *run = new_run(service_json);
        struct berth_error err = {0};
        struct service_plan *p = &run->plan;

        p->n_records = 1;
        p->records[0] = (struct replica_record){
            .index = 0,
            .host_ports = {18080},
            .restarts = 2,
            .crashes = 1,
            .crashed_id = "deadbeef",
            .next_restart_ms = NOW + 10000,
            .has_last_exit = true,
            .last_exit_code = 3,
            .last_exit_reason = "Error",
            .last_exit_ms = NOW,
            .state = REPLICA_CRASH_LOOP,
            .message = "back-off",
        };
        memcpy(p->records[0].revision, run->rev8, sizeof(run->rev8));
        p->replicas = 1;
        p->restarts = 2;
        p->degraded_reason = "CrashLoopBackOff";
        p->degraded_message = "replica 0: back-off";
        p->rollout_start_ms = p->progress_ms = NOW;
        assert_int_equal(service_status(&run->o, &err), 0);
        assert_true(run->o.dirty);

        const json_t *st = json_object_get(run->o.obj, "status");
        assert_int_equal(json_integer_value(json_object_get(st, "updateRevision")), 1);
        assert_int_equal(json_integer_value(json_object_get(st, "observedGeneration")), 3);
        assert_string_equal(json_path_string(st, "updateRevisionHash"), run->revision_hash);
        const json_t *r0 = json_array_get(json_object_get(st, "replicaStatuses"), 0);
        assert_string_equal(json_path_string(r0, "state"), "CrashLoopBackOff");
        assert_string_equal(json_path_string(r0, "health"), "None");
        assert_int_equal(json_path_int(r0, "revision", 0), 1);
        assert_int_equal(json_path_int(r0, "hostPorts.http", 0), 18080);
        assert_true(str_has_prefix(json_path_string(r0, "container"), "berth.default.web."));

        assert_int_equal(service_records_from_status(run), 0);
        assert_int_equal(run->n_records, 1);
        const struct replica_record *r = &run->records[0];
        assert_string_equal(r->revision, run->rev8);
        assert_int_equal(r->host_ports[0], 18080);
        assert_int_equal(r->restarts, 2);
        assert_int_equal(r->crashes, 1);
        assert_string_equal(r->crashed_id, "deadbeef");
        assert_int_equal(r->next_restart_ms, NOW + 10000);
        assert_true(r->has_last_exit);
        assert_int_equal(r->last_exit_code, 3);
        assert_int_equal(r->state, REPLICA_CRASH_LOOP);

        /* the same status again: nothing to write */
        run->o.dirty = false;
        assert_int_equal(service_status(&run->o, &err), 0);
        assert_false(run->o.dirty);
        free_run(run);
}

static int history_numbers(const struct service_run *run, int *out)
{
        size_t i;
        const json_t *e;
        int n = 0;

        json_array_foreach(json_path(run->o.obj, "status.history"), i, e) out[n++] =
            (int)json_integer_value(json_object_get(e, "revision"));
        return n;
}

/* Sets the template image and the revision that goes with it. */
static void set_image(struct service_run *run, const char *image)
{
        json_object_set_new(json_path(run->o.obj, "spec.template"), "image", json_string(image));
        assert_int_equal(
            service_revision_hash(json_object_get(run->o.obj, "spec"), run->revision_hash), 0);
        memcpy(run->rev8, run->revision_hash, SERVICE_REV_LEN);
}

static void test_history(void **state)
{
        (void)state;
        struct service_run *run = new_run(service_json);
        struct berth_error err = {0};
        int nums[16];

        run->spec.revision_history_limit = 2;
        static const char *const images[] = {"a:1", "a:2", "a:3", "a:4"};
        for (size_t i = 0; i < ARRAY_SIZE(images); i++) {
                set_image(run, images[i]);
                assert_int_equal(service_status(&run->o, &err), 0);
        }
        /* 4 revisions, the limit keeps 2 old ones and the current */
        assert_int_equal(history_numbers(run, nums), 3);
        assert_int_equal(nums[0], 2);
        assert_int_equal(nums[1], 3);
        assert_int_equal(nums[2], 4);
        assert_int_equal(json_path_int(run->o.obj, "status.updateRevision", 0), 4);

        /* undo to revision 3: it becomes 5, and 3 is gone */
        set_image(run, "a:3");
        assert_int_equal(service_status(&run->o, &err), 0);
        assert_int_equal(history_numbers(run, nums), 3);
        assert_int_equal(nums[0], 2);
        assert_int_equal(nums[1], 4);
        assert_int_equal(nums[2], 5);
        assert_int_equal(json_path_int(run->o.obj, "status.updateRevision", 0), 5);
        assert_string_equal(
            json_path_string(json_array_get(json_path(run->o.obj, "status.history"), 2),
                             "spec.template.image"),
            "a:3");
        free_run(run);
}

static void test_conditions(void **state)
{
        (void)state;
        struct service_run *run = new_run(service_json);
        struct berth_error err = {0};
        struct service_plan *p = &run->plan;

        p->available = 2;
        p->available_ok = true;
        p->complete = true;
        assert_int_equal(service_status(&run->o, &err), 0);
        const json_t *conds = json_path(run->o.obj, "status.conditions");
        assert_int_equal(json_array_size(conds), 3);
        assert_string_equal(json_path_string(json_array_get(conds, 0), "type"), "Available");
        assert_string_equal(json_path_string(json_array_get(conds, 0), "status"), "True");
        assert_string_equal(json_path_string(json_array_get(conds, 1), "reason"),
                            "NewRevisionAvailable");
        assert_string_equal(json_path_string(json_array_get(conds, 2), "reason"), "AsExpected");

        p->complete = false;
        p->deadline_exceeded = true;
        assert_int_equal(service_status(&run->o, &err), 0);
        conds = json_path(run->o.obj, "status.conditions");
        assert_string_equal(json_path_string(json_array_get(conds, 1), "status"), "False");
        assert_string_equal(json_path_string(json_array_get(conds, 1), "reason"),
                            "ProgressDeadlineExceeded");
        free_run(run);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_container_body),
            cmocka_unit_test(test_status_round_trip),
            cmocka_unit_test(test_history),
            cmocka_unit_test(test_conditions),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
