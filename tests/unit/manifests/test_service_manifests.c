/* Unit tests of the Service kind in the manifests module: every rule of the
 * reference (docs/reference/service.md) rejects its bad input with file, line
 * and field; defaults; the typed spec; the replica template and its
 * expressions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "manifest-test.h"

#define HEAD                                                                                       \
        "apiVersion: berth/v1\n"                                                                   \
        "kind: Service\n"                                                                          \
        "metadata:\n"                                                                              \
        "  name: web\n"                                                                            \
        "spec:\n"

/* One line: the template at line 6. */
#define TEMPLATE "  template: {image: nginx:1.27}\n"

/* A port at line 7 of a spec that starts with TEMPLATE. */
#define HTTP_PORT                                                                                  \
        "  ports: [{name: http, containerPort: 80, hostPortRange: {from: 18080, to: 18089}}]\n"

/* Every field, everything set to something other than its default. */
#define FULL                                                                                       \
        HEAD "  replicas: 3\n"                                                                     \
             "  template:\n"                                                                       \
             "    image: registry.example/web:2\n"                                                 \
             "    imagePullPolicy: Always\n"                                                       \
             "    command: [/bin/web]\n"                                                           \
             "    args: [--listen, \":{{ports.http}}\", --id, \"{{service.namespace}}/"            \
             "{{service.name}}-{{ replica.index }}\"]\n"                                           \
             "    env:\n"                                                                          \
             "      - {name: METRICS, value: \"127.0.0.1:{{ports.metrics-2}}\"}\n"                 \
             "      - {name: PLAIN, value: x}\n"                                                   \
             "    workingDir: /srv\n"                                                              \
             "    user: \"1000\"\n"                                                                \
             "    network: host\n"                                                                 \
             "    volumes: [{mountPath: /cache, tmpfs: {sizeLimit: 64Mi}}]\n"                      \
             "    resources: {cpu: 500m, memory: 128Mi, pids: 100}\n"                              \
             "    labels: {team: web}\n"                                                           \
             "  ports:\n"                                                                          \
             "    - name: http\n"                                                                  \
             "      hostPortRange: {from: 18080, to: 18084}\n"                                     \
             "    - name: metrics-2\n"                                                             \
             "      containerPort: 9090\n"                                                         \
             "      hostPortRange: {from: 19090, to: 19099}\n"                                     \
             "      protocol: tcp\n"                                                               \
             "    - {name: dns, hostPortRange: {from: 15353, to: 15360}, protocol: udp}\n"         \
             "  healthCheck:\n"                                                                    \
             "    http: {path: /healthz, port: 9090}\n"                                            \
             "    intervalSeconds: 10\n"                                                           \
             "    timeoutSeconds: 3\n"                                                             \
             "    failureThreshold: 5\n"                                                           \
             "    startPeriodSeconds: 20\n"                                                        \
             "  minReadySeconds: 7\n"                                                              \
             "  restartBackoff: {initialSeconds: 0, factor: 1.5, maxSeconds: 60, "                 \
             "resetAfterSeconds: 120}\n"                                                           \
             "  updateStrategy: {type: RollingUpdate, maxSurge: 2, maxUnavailable: 1}\n"           \
             "  progressDeadlineSeconds: 600\n"                                                    \
             "  stopGracePeriodSeconds: 0\n"                                                       \
             "  revisionHistoryLimit: 100\n"                                                       \
             "  restartedAt: \"2026-12-06T10:00:00Z\"\n"

static void assert_valid(const char *yaml)
{
        assert_valid_as(yaml, "s.yaml");
}

/* spec_tail starts at line 6. */
static void assert_spec_invalid(const char *spec_tail, const char *expected)
{
        _cleanup_free_ char *yaml = str_printf(HEAD "%s", spec_tail);

        assert_non_null(yaml);
        assert_invalid_as(yaml, "s.yaml", expected);
}

static void assert_spec_valid(const char *spec_tail)
{
        _cleanup_free_ char *yaml = str_printf(HEAD "%s", spec_tail);

        assert_non_null(yaml);
        assert_valid(yaml);
}

/* Parses, validates and defaults yaml into list; its object. */
static json_t *defaulted(const char *yaml, struct manifest_list *list)
{
        _cleanup_(field_errors_release) struct field_errors errs = {};

        parse_ok_as(yaml, "s.yaml", list);
        assert_int_equal(manifest_validate(list->docs[0].object, NULL, &errs), 0);
        manifest_apply_defaults(list->docs[0].object);
        return list->docs[0].object;
}

/* ---- the kind ------------------------------------------------------------ */

static void test_kind(void **state)
{
        static const char *const names[] = {"Service", "service", "services", "svc", "SVC"};
        const struct kind_info *k;

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
                k = kind_lookup(names[i]);
                assert_non_null(k);
                assert_string_equal(k->kind, "Service");
        }
        k = kind_by_name("Service");
        assert_non_null(k);
        assert_string_equal(k->resource, "services");
        assert_string_equal(k->singular, "service");
        assert_string_equal(k->short_name, "svc");
        assert_true(k->namespaced);
        assert_false(k->runs_to_completion);
        assert_string_equal(k->finalizer, FINALIZER_CONTAINERS);
        assert_true(kind_has_subresource(k, "log"));
        assert_false(kind_has_subresource(k, "results"));
        assert_null(k->children_label);

        static const struct {
                const char *title, *path;
                enum column_format format;
                bool wide;
        } columns[] = {
            {"READY", "status.readyReplicas", COLUMN_RATIO, false},
            {"UP-TO-DATE", "status.updatedReplicas", COLUMN_COUNT, false},
            {"AVAILABLE", "status.availableReplicas", COLUMN_COUNT, false},
            {"RESTARTS", "status.restarts", COLUMN_COUNT, false},
            {"AGE", "metadata.creationTimestamp", COLUMN_AGE, false},
            {"IMAGE", "spec.template.image", COLUMN_TEXT, true},
            {"REVISION", "status.updateRevision", COLUMN_INTEGER, true},
        };
        for (size_t i = 0; i < ARRAY_SIZE(columns); i++) {
                assert_string_equal(k->columns[i].title, columns[i].title);
                assert_string_equal(k->columns[i].path, columns[i].path);
                assert_int_equal(k->columns[i].format, columns[i].format);
                assert_int_equal(k->columns[i].wide, columns[i].wide);
        }
        assert_string_equal(k->columns[0].until, "spec.replicas");
        assert_null(k->columns[ARRAY_SIZE(columns)].title);

        assert_string_equal(update_strategy_to_string(UPDATE_ROLLING), "RollingUpdate");
        assert_string_equal(update_strategy_to_string(UPDATE_RECREATE), "Recreate");
        assert_string_equal(update_strategy_to_string((enum update_strategy)7), "Unknown");
}

/* ---- valid specs, defaults, decoding -------------------------------------- */

static void test_valid(void **state)
{
        (void)state;
        assert_spec_valid(TEMPLATE);
        assert_valid(FULL);
        assert_spec_valid("  replicas: 0\n" TEMPLATE);
        assert_spec_valid("  replicas: 1000\n" TEMPLATE);
        /* Recreate ignores maxSurge and maxUnavailable. */
        assert_spec_valid(TEMPLATE "  updateStrategy: {type: Recreate, maxSurge: 0, "
                                   "maxUnavailable: 0}\n");
        assert_spec_valid(TEMPLATE "  updateStrategy: {maxSurge: 0, maxUnavailable: 1}\n");
        assert_spec_valid(TEMPLATE "  healthCheck: {exec: {command: [pg_isready]}}\n");
        assert_spec_valid(TEMPLATE HTTP_PORT "  healthCheck: {tcp: {port: http}}\n");
        /* 40 characters */
        assert_valid("apiVersion: berth/v1\nkind: Service\nmetadata:\n"
                     "  name: a234567890123456789012345678901234567890\n"
                     "spec:\n" TEMPLATE);
}

static void test_defaults(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        _cleanup_json_ json_t *again = NULL;
        json_t *o;

        (void)state;
        o = defaulted(HEAD TEMPLATE "  ports: [{name: http, hostPortRange: {from: 1, to: 2}}]\n"
                                    "  healthCheck: {http: {port: http}}\n",
                      &list);
        assert_string_equal(json_path_string(o, "metadata.namespace"), "default");
        assert_int_equal(json_path_int(o, "spec.replicas", -1), 1);
        /* A Service template gets no Task default but imagePullPolicy. */
        assert_string_equal(json_path_string(o, "spec.template.imagePullPolicy"), "IfNotPresent");
        assert_int_equal(json_object_size(json_path(o, "spec.template")), 2);
        assert_string_equal(json_string_value(json_object_get(
                                json_array_get(json_path(o, "spec.ports"), 0), "protocol")),
                            "tcp");
        assert_string_equal(json_path_string(o, "spec.healthCheck.http.path"), "/");
        assert_int_equal(json_path_int(o, "spec.healthCheck.intervalSeconds", -1), 5);
        assert_int_equal(json_path_int(o, "spec.healthCheck.timeoutSeconds", -1), 2);
        assert_int_equal(json_path_int(o, "spec.healthCheck.failureThreshold", -1), 3);
        assert_int_equal(json_path_int(o, "spec.healthCheck.startPeriodSeconds", -1), 0);
        assert_int_equal(json_path_int(o, "spec.minReadySeconds", -1), 0);
        assert_int_equal(json_path_int(o, "spec.restartBackoff.initialSeconds", -1), 10);
        assert_int_equal(json_path_int(o, "spec.restartBackoff.factor", -1), 2);
        assert_int_equal(json_path_int(o, "spec.restartBackoff.maxSeconds", -1), 300);
        assert_int_equal(json_path_int(o, "spec.restartBackoff.resetAfterSeconds", -1), 600);
        assert_string_equal(json_path_string(o, "spec.updateStrategy.type"), "RollingUpdate");
        assert_int_equal(json_path_int(o, "spec.updateStrategy.maxSurge", -1), 1);
        assert_int_equal(json_path_int(o, "spec.updateStrategy.maxUnavailable", -1), 0);
        assert_int_equal(json_path_int(o, "spec.progressDeadlineSeconds", -1), 120);
        assert_int_equal(json_path_int(o, "spec.stopGracePeriodSeconds", -1), 30);
        assert_int_equal(json_path_int(o, "spec.revisionHistoryLimit", -1), 5);
        assert_null(json_path(o, "spec.restartedAt"));

        /* Idempotent, and still valid. */
        again = json_deep_copy(o);
        assert_non_null(again);
        manifest_apply_defaults(again);
        assert_true(json_equal(o, again));
        {
                _cleanup_(field_errors_release) struct field_errors errs = {};

                assert_int_equal(manifest_validate(again, NULL, &errs), 0);
        }

        /* No health check by default; given values are kept. */
        {
                _cleanup_(manifest_list_release) struct manifest_list l2 = {};

                o = defaulted(HEAD TEMPLATE, &l2);
                assert_null(json_path(o, "spec.healthCheck"));
                assert_true(json_is_array(json_path(o, "spec.ports")));
                assert_int_equal(json_array_size(json_path(o, "spec.ports")), 0);
        }
        {
                _cleanup_(manifest_list_release) struct manifest_list l3 = {};

                o = defaulted(FULL, &l3);
                assert_int_equal(json_path_int(o, "spec.replicas", -1), 3);
                assert_string_equal(json_path_string(o, "spec.template.imagePullPolicy"), "Always");
                assert_int_equal(json_path_int(o, "spec.updateStrategy.maxSurge", -1), 2);
                assert_int_equal(json_path_int(o, "spec.stopGracePeriodSeconds", -1), 0);
                assert_string_equal(json_path_string(o, "spec.restartedAt"),
                                    "2026-12-06T10:00:00Z");
        }
}

static void test_decode_minimal(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        struct berth_error err = {0};
        struct service_spec s;
        json_t *o;

        (void)state;
        parse_ok_as(HEAD TEMPLATE, "s.yaml", &list);
        o = list.docs[0].object;
        /* Before and after the defaults, the same spec. */
        for (int pass = 0; pass < 2; pass++) {
                memset(&s, 0xff, sizeof(s));
                assert_int_equal(service_spec_decode(o, &s, &err), 0);
                assert_int_equal(s.replicas, 1);
                assert_ptr_equal(s.template, json_path(o, "spec.template"));
                assert_string_equal(s.image, "nginx:1.27");
                assert_int_equal(s.pull_policy, PULL_IF_NOT_PRESENT);
                assert_false(s.host_network);
                assert_int_equal(s.n_ports, 0);
                assert_int_equal(s.health.type, HEALTH_CHECK_NONE);
                assert_int_equal(s.health.port, -1);
                assert_null(s.health.exec_command);
                assert_int_equal(s.min_ready_ms, 0);
                assert_int_equal(s.backoff_initial_ms, 10000);
                assert_true(s.backoff_factor == 2.0);
                assert_int_equal(s.backoff_max_ms, 300000);
                assert_int_equal(s.backoff_reset_ms, 600000);
                assert_int_equal(s.strategy, UPDATE_ROLLING);
                assert_int_equal(s.max_surge, 1);
                assert_int_equal(s.max_unavailable, 0);
                assert_int_equal(s.progress_deadline_ms, 120000);
                assert_int_equal(s.stop_grace_ms, 30000);
                assert_int_equal(s.revision_history_limit, 5);
                assert_null(s.restarted_at);
                manifest_apply_defaults(o);
        }
}

static void test_decode_full(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        struct berth_error err = {0};
        struct service_spec s;

        (void)state;
        assert_int_equal(service_spec_decode(defaulted(FULL, &list), &s, &err), 0);
        assert_int_equal(s.replicas, 3);
        assert_string_equal(s.image, "registry.example/web:2");
        assert_int_equal(s.pull_policy, PULL_ALWAYS);
        assert_true(s.host_network);
        assert_int_equal(s.n_ports, 3);
        assert_string_equal(s.ports[0].name, "http");
        assert_int_equal(s.ports[0].container_port, 0);
        assert_int_equal(s.ports[0].host_from, 18080);
        assert_int_equal(s.ports[0].host_to, 18084);
        assert_int_equal(s.ports[0].protocol, PORT_TCP);
        assert_string_equal(s.ports[1].name, "metrics-2");
        assert_int_equal(s.ports[1].container_port, 9090);
        assert_int_equal(s.ports[1].host_from, 19090);
        assert_int_equal(s.ports[1].host_to, 19099);
        assert_string_equal(s.ports[2].name, "dns");
        assert_int_equal(s.ports[2].protocol, PORT_UDP);
        assert_int_equal(s.health.type, HEALTH_CHECK_HTTP);
        assert_string_equal(s.health.http_path, "/healthz");
        assert_int_equal(s.health.port, 1); /* 9090 is metrics-2's containerPort */
        assert_int_equal(s.health.interval_ms, 10000);
        assert_int_equal(s.health.timeout_ms, 3000);
        assert_int_equal(s.health.failure_threshold, 5);
        assert_int_equal(s.health.start_period_ms, 20000);
        assert_int_equal(s.min_ready_ms, 7000);
        assert_int_equal(s.backoff_initial_ms, 0);
        assert_true(s.backoff_factor == 1.5);
        assert_int_equal(s.backoff_max_ms, 60000);
        assert_int_equal(s.backoff_reset_ms, 120000);
        assert_int_equal(s.strategy, UPDATE_ROLLING);
        assert_int_equal(s.max_surge, 2);
        assert_int_equal(s.max_unavailable, 1);
        assert_int_equal(s.progress_deadline_ms, 600000);
        assert_int_equal(s.stop_grace_ms, 0);
        assert_int_equal(s.revision_history_limit, 100);
        assert_string_equal(s.restarted_at, "2026-12-06T10:00:00Z");
}

static void test_decode_health_types(void **state)
{
        (void)state;
        {
                _cleanup_(manifest_list_release) struct manifest_list list = {};
                struct service_spec s;

                assert_int_equal(
                    service_spec_decode(defaulted(HEAD TEMPLATE HTTP_PORT
                                                  "  healthCheck: {exec: {command: [a, b]}}\n",
                                                  &list),
                                        &s, NULL),
                    0);
                assert_int_equal(s.health.type, HEALTH_CHECK_EXEC);
                assert_int_equal(json_array_size(s.health.exec_command), 2);
                assert_int_equal(s.health.port, -1);
        }
        {
                _cleanup_(manifest_list_release) struct manifest_list list = {};
                struct service_spec s;

                assert_int_equal(service_spec_decode(defaulted(HEAD TEMPLATE HTTP_PORT
                                                               "  healthCheck: {tcp: {port: 80}}\n",
                                                               &list),
                                                     &s, NULL),
                                 0);
                assert_int_equal(s.health.type, HEALTH_CHECK_TCP);
                assert_int_equal(s.health.port, 0);
        }
        {
                _cleanup_(manifest_list_release) struct manifest_list list = {};
                struct service_spec s;

                /* Not defaulted: the path reads "/" anyway. */
                parse_ok_as(HEAD TEMPLATE HTTP_PORT "  healthCheck: {http: {port: http}}\n",
                            "s.yaml", &list);
                assert_int_equal(service_spec_decode(list.docs[0].object, &s, NULL), 0);
                assert_int_equal(s.health.type, HEALTH_CHECK_HTTP);
                assert_string_equal(s.health.http_path, "/");
                assert_int_equal(s.health.port, 0);
        }
}

static void test_decode_errors(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        struct berth_error err = {0};
        struct service_spec s = {.replicas = 42};

        (void)state;
        parse_ok_as(HEAD "  replicas: -1\n"
                         "  template: {image: nginx, restartPolicy: Always}\n",
                    "s.yaml", &list);
        assert_int_equal(service_spec_decode(list.docs[0].object, &s, &err), -EINVAL);
        assert_string_equal(err.message, "spec.replicas: must be between 0 and 1000 (and 1 more)");
        assert_int_equal(s.replicas, 42); /* untouched */

        json_object_del(list.docs[0].object, "spec");
        assert_int_equal(service_spec_decode(list.docs[0].object, &s, &err), -EINVAL);
        assert_string_equal(err.message, "spec: required");
}

/* ---- the name and the top level ---------------------------------------------- */

static void test_name_and_fields(void **state)
{
        (void)state;
        assert_invalid_as("apiVersion: berth/v1\nkind: Service\nmetadata:\n"
                          "  name: a2345678901234567890123456789012345678901\n"
                          "spec:\n" TEMPLATE,
                          "s.yaml",
                          "s.yaml:4:3: metadata.name: must be at most 40 characters for a "
                          "Service: its containers are named "
                          "berth.<namespace>.<name>.<revision>.<index>");
        assert_invalid_as("apiVersion: berth/v1\nkind: Service\nmetadata: {name: web}\n", "s.yaml",
                          "s.yaml:1:1: spec: required");
        assert_spec_invalid(TEMPLATE "  replica: 2\n",
                            "s.yaml:7:3: spec.replica: unknown field, did you mean "
                            "spec.replicas?");
        assert_spec_invalid("  replicas: 2\n", "s.yaml:5:1: spec.template: required");
        assert_spec_invalid("  replicas: -1\n" TEMPLATE,
                            "s.yaml:6:3: spec.replicas: must be between 0 and 1000");
        assert_spec_invalid("  replicas: 1001\n" TEMPLATE,
                            "s.yaml:6:3: spec.replicas: must be between 0 and 1000");
        assert_spec_invalid("  replicas: \"2\"\n" TEMPLATE,
                            "s.yaml:6:3: spec.replicas: must be an integer");
        assert_spec_invalid("  template: nginx\n", "s.yaml:6:3: spec.template: must be an object");
}

static void test_other_fields(void **state)
{
        (void)state;
        assert_spec_invalid(TEMPLATE "  minReadySeconds: 3601\n"
                                     "  progressDeadlineSeconds: 0\n"
                                     "  stopGracePeriodSeconds: -1\n"
                                     "  revisionHistoryLimit: 101\n",
                            "s.yaml:7:3: spec.minReadySeconds: must be between 0 and 3600\n"
                            "s.yaml:8:3: spec.progressDeadlineSeconds: must be between 1 and "
                            "86400\n"
                            "s.yaml:9:3: spec.stopGracePeriodSeconds: must be between 0 and "
                            "3600\n"
                            "s.yaml:10:3: spec.revisionHistoryLimit: must be between 0 and 100");
        assert_spec_invalid(TEMPLATE "  restartBackoff: {initialSeconds: -1, factor: 11, "
                                     "maxSeconds: 0, resetAfterSeconds: 86401, limit: 3}\n",
                            "s.yaml:7:20: spec.restartBackoff.initialSeconds: must be between 0 "
                            "and 86400\n"
                            "s.yaml:7:40: spec.restartBackoff.factor: must be between 1 and 10\n"
                            "s.yaml:7:52: spec.restartBackoff.maxSeconds: must be between 1 and "
                            "86400\n"
                            "s.yaml:7:67: spec.restartBackoff.resetAfterSeconds: must be between "
                            "1 and 86400\n"
                            "s.yaml:7:93: spec.restartBackoff.limit: unknown field");
        assert_spec_invalid(TEMPLATE "  restartBackoff: 5\n",
                            "s.yaml:7:3: spec.restartBackoff: must be an object");
        assert_spec_invalid(TEMPLATE "  restartedAt: yesterday\n",
                            "s.yaml:7:3: spec.restartedAt: invalid time \"yesterday\": must be "
                            "RFC 3339, like \"2026-12-06T10:00:00Z\"");
        assert_spec_invalid(TEMPLATE "  restartedAt: 5\n",
                            "s.yaml:7:3: spec.restartedAt: must be a string");
}

/* ---- the template ------------------------------------------------------------ */

static void test_template(void **state)
{
        (void)state;
        /* Checked like a Task, at its path. */
        assert_spec_invalid("  template: {command: [sh]}\n",
                            "s.yaml:6:3: spec.template.image: required");
        assert_spec_invalid("  template: {image: nginx, imagePullPolicy: Sometimes, imagee: x}\n",
                            "s.yaml:6:28: spec.template.imagePullPolicy: unsupported value "
                            "\"Sometimes\", must be one of: Always, IfNotPresent, Never\n"
                            "s.yaml:6:56: spec.template.imagee: unknown field, did you mean "
                            "spec.template.image?");
        assert_spec_invalid("  template: {image: nginx, labels: {berth.kind: x}}\n",
                            "s.yaml:6:37: spec.template.labels.berth.kind: label keys starting "
                            "with \"berth.\" are reserved for berth");
        /* A Service restarts its replicas itself. */
        assert_spec_invalid("  template:\n"
                            "    image: nginx\n"
                            "    restartPolicy: OnFailure\n"
                            "    backoffLimit: 3\n"
                            "    backoff: {initialSeconds: 1}\n"
                            "    activeDeadlineSeconds: 60\n"
                            "    ttlSecondsAfterFinished: 60\n",
                            "s.yaml:8:5: spec.template.restartPolicy: not allowed in a Service "
                            "template: a Service restarts its replicas itself, see "
                            "spec.restartBackoff\n"
                            "s.yaml:9:5: spec.template.backoffLimit: not allowed in a Service "
                            "template: a Service restarts its replicas itself, see "
                            "spec.restartBackoff\n"
                            "s.yaml:10:5: spec.template.backoff: not allowed in a Service "
                            "template: a Service restarts its replicas itself, see "
                            "spec.restartBackoff\n"
                            "s.yaml:11:5: spec.template.activeDeadlineSeconds: not allowed in a "
                            "Service template: a Service restarts its replicas itself and keeps "
                            "them running until it is scaled down or deleted\n"
                            "s.yaml:12:5: spec.template.ttlSecondsAfterFinished: not allowed in "
                            "a Service template: a Service restarts its replicas itself and "
                            "keeps them running until it is scaled down or deleted");
        /* Even with a value a Task would take; null counts as not set. */
        assert_spec_invalid("  template: {image: nginx, restartPolicy: Never}\n",
                            "s.yaml:6:28: spec.template.restartPolicy: not allowed in a Service "
                            "template: a Service restarts its replicas itself, see "
                            "spec.restartBackoff");
        assert_spec_valid("  template: {image: nginx, restartPolicy: null}\n");
        /* berth's variables */
        assert_spec_invalid("  template:\n"
                            "    image: nginx\n"
                            "    env: [{name: A}, {name: BERTH_PORT_HTTP, value: \"1\"}]\n",
                            "s.yaml:8:23: spec.template.env[1].name: reserved name "
                            "\"BERTH_PORT_HTTP\": berth sets the variables starting with BERTH_ "
                            "(BERTH_PORT_<NAME> for each port, BERTH_REPLICA_INDEX)");
        assert_spec_valid("  template: {image: nginx, env: [{name: berth_x}, {name: BERTHA}]}\n");
}

static void test_expressions(void **state)
{
        (void)state;
        assert_spec_invalid("  template: {image: nginx, args: [a, \"{{ports.htp}}\"]}\n" HTTP_PORT,
                            "s.yaml:6:38: spec.template.args[1]: {{ports.htp}}: unknown port "
                            "\"htp\" (declared: http)");
        assert_spec_invalid("  template:\n"
                            "    image: nginx\n"
                            "    command: [\"{{ports.http}}\"]\n"
                            "    env: [{name: X, value: \"{{replica.number}}\"}, {name: Y, value: "
                            "\"{{service.name}\"}]\n",
                            "s.yaml:8:15: spec.template.command[0]: {{ports.http}}: unknown port "
                            "\"http\": spec.ports declares none\n"
                            "s.yaml:9:21: spec.template.env[0].value: {{replica.number}}: unknown "
                            "expression, must be ports.<name>, replica.index, service.name or "
                            "service.namespace\n"
                            "s.yaml:9:61: spec.template.env[1].value: {{service.name}: "
                            "unterminated \"{{\"");
        assert_spec_invalid("  template: {image: nginx, args: [\"{{workflow.name}}\"]}\n",
                            "s.yaml:6:35: spec.template.args[0]: {{workflow.name}}: unknown "
                            "expression, must be ports.<name>, replica.index, service.name or "
                            "service.namespace");
        assert_spec_invalid("  template: {image: nginx, args: [\"{{ports.a.b}}\"]}\n"
                            "  ports:\n"
                            "    - {name: a, hostPortRange: {from: 1, to: 9}}\n"
                            "    - {name: b, hostPortRange: {from: 10, to: 19}}\n",
                            "s.yaml:6:35: spec.template.args[0]: {{ports.a.b}}: unknown port "
                            "\"a.b\" (declared: a, b)");
        /* Only command, args and env values are templates. */
        assert_spec_valid("  template: {image: nginx, workingDir: \"/{{x}}\"}\n");
}

/* ---- ports ------------------------------------------------------------------- */

static void test_ports(void **state)
{
        (void)state;
        assert_spec_invalid(TEMPLATE "  ports:\n"
                                     "    - {name: HTTP, hostPortRange: {from: 1, to: 9}}\n"
                                     "    - {name: a-very-long-name, hostPortRange: {from: 10, "
                                     "to: 19}}\n"
                                     "    - {name: \"\", hostPortRange: {from: 20, to: 29}}\n"
                                     "    - {name: b_c, hostPortRange: {from: 30, to: 39}}\n",
                            "s.yaml:8:8: spec.ports[0].name: invalid name \"HTTP\": must be 1 "
                            "to 15 lowercase letters, digits or '-'\n"
                            "s.yaml:9:8: spec.ports[1].name: invalid name \"a-very-long-name\": "
                            "must be 1 to 15 lowercase letters, digits or '-'\n"
                            "s.yaml:10:8: spec.ports[2].name: invalid name \"\": must be 1 to 15 "
                            "lowercase letters, digits or '-'\n"
                            "s.yaml:11:8: spec.ports[3].name: invalid name \"b_c\": must be 1 "
                            "to 15 lowercase letters, digits or '-'");
        assert_spec_invalid(TEMPLATE "  ports:\n"
                                     "    - {name: http, hostPortRange: {from: 1, to: 9}}\n"
                                     "    - {name: http, hostPortRange: {from: 10, to: 19}}\n",
                            "s.yaml:9:8: spec.ports[1].name: duplicate name http (first at "
                            "spec.ports[0])");
        assert_spec_invalid(TEMPLATE "  ports:\n"
                                     "    - {containerPort: 0, hostPortRange: {from: 0, to: "
                                     "65536}, protocol: sctp, host: x}\n"
                                     "    - {name: a, containerPort: 65536}\n"
                                     "    - name: b\n"
                                     "      hostPortRange: {to: 5, end: 6}\n"
                                     "    - x\n",
                            "s.yaml:8:7: spec.ports[0].name: required\n"
                            "s.yaml:8:8: spec.ports[0].containerPort: must be between 1 and "
                            "65535\n"
                            "s.yaml:8:42: spec.ports[0].hostPortRange.from: must be between 1 "
                            "and 65535\n"
                            "s.yaml:8:51: spec.ports[0].hostPortRange.to: must be between 1 and "
                            "65535\n"
                            "s.yaml:8:63: spec.ports[0].protocol: unsupported value \"sctp\", "
                            "must be one of: tcp, udp\n"
                            "s.yaml:8:79: spec.ports[0].host: unknown field\n"
                            "s.yaml:9:7: spec.ports[1].hostPortRange: required\n"
                            "s.yaml:9:17: spec.ports[1].containerPort: must be between 1 and "
                            "65535\n"
                            "s.yaml:11:7: spec.ports[2].hostPortRange.from: required\n"
                            "s.yaml:11:30: spec.ports[2].hostPortRange.end: unknown field\n"
                            "s.yaml:12:7: spec.ports[3]: must be an object");
        assert_spec_invalid(TEMPLATE "  ports: [{name: a, hostPortRange: {from: 9, to: 8}}]\n",
                            "s.yaml:7:21: spec.ports[0].hostPortRange: from (9) must not be "
                            "greater than to (8)");
        assert_spec_invalid(TEMPLATE "  ports: {name: a}\n",
                            "s.yaml:7:3: spec.ports: must be an array");
        assert_spec_invalid(TEMPLATE "  ports: [{name: a, hostPortRange: {from: 1, to: 1}}, "
                                     "{name: b, hostPortRange: {from: 2, to: 2}}, "
                                     "{name: c, hostPortRange: {from: 3, to: 3}}, "
                                     "{name: d, hostPortRange: {from: 4, to: 4}}, "
                                     "{name: e, hostPortRange: {from: 5, to: 5}}, "
                                     "{name: f, hostPortRange: {from: 6, to: 6}}, "
                                     "{name: g, hostPortRange: {from: 7, to: 7}}, "
                                     "{name: h, hostPortRange: {from: 8, to: 8}}, "
                                     "{name: i, hostPortRange: {from: 9, to: 9}}]\n",
                            "s.yaml:7:3: spec.ports: must have at most 8 entries, has 9");
}

static void test_port_ranges(void **state)
{
        (void)state;
        /* replicas + maxSurge with RollingUpdate */
        assert_spec_invalid("  replicas: 2\n" TEMPLATE
                            "  ports: [{name: a, hostPortRange: {from: 8000, to: 8002}}]\n"
                            "  updateStrategy: {maxSurge: 2}\n",
                            "s.yaml:8:21: spec.ports[0].hostPortRange: 3 ports for 2 replicas + "
                            "maxSurge 2: need at least 4");
        assert_spec_invalid(TEMPLATE
                            "  ports: [{name: a, hostPortRange: {from: 8000, to: 8000}}]\n",
                            "s.yaml:7:21: spec.ports[0].hostPortRange: 1 port for 1 replica + "
                            "maxSurge 1: need at least 2");
        assert_spec_valid(TEMPLATE "  ports: [{name: a, hostPortRange: {from: 8000, to: 8001}}]\n");
        assert_spec_valid(TEMPLATE "  ports: [{name: a, hostPortRange: {from: 8000, to: 8000}}]\n"
                                   "  updateStrategy: {maxSurge: 0, maxUnavailable: 1}\n");
        /* replicas alone with Recreate */
        assert_spec_invalid("  replicas: 3\n" TEMPLATE
                            "  ports: [{name: a, hostPortRange: {from: 8000, to: 8001}}]\n"
                            "  updateStrategy: {type: Recreate}\n",
                            "s.yaml:8:21: spec.ports[0].hostPortRange: 2 ports for 3 replicas: "
                            "need at least 3");
        assert_spec_valid("  replicas: 2\n" TEMPLATE
                          "  ports: [{name: a, hostPortRange: {from: 8000, to: 8001}}]\n"
                          "  updateStrategy: {type: Recreate}\n");
        assert_spec_valid("  replicas: 0\n" TEMPLATE
                          "  ports: [{name: a, hostPortRange: {from: 8000, to: 8000}}]\n"
                          "  updateStrategy: {type: Recreate}\n");
        /* Not measured against a replicas or maxSurge that is wrong itself. */
        assert_spec_invalid("  replicas: 5000\n" TEMPLATE
                            "  ports: [{name: a, hostPortRange: {from: 8000, to: 8000}}]\n",
                            "s.yaml:6:3: spec.replicas: must be between 0 and 1000");
        assert_spec_invalid(TEMPLATE "  ports: [{name: a, hostPortRange: {from: 8000, to: 8000}}]\n"
                                     "  updateStrategy: {maxSurge: -1}\n",
                            "s.yaml:8:20: spec.updateStrategy.maxSurge: must be between 0 and "
                            "1000");
        /* Overlaps, whatever the protocol. */
        assert_spec_invalid(TEMPLATE "  ports:\n"
                                     "    - {name: a, hostPortRange: {from: 8000, to: 8010}}\n"
                                     "    - {name: b, hostPortRange: {from: 9000, to: 9010}}\n"
                                     "    - {name: c, hostPortRange: {from: 8010, to: 8020}}\n"
                                     "    - {name: d, hostPortRange: {from: 7000, to: 9500}, "
                                     "protocol: udp}\n"
                                     "    - {name: e, hostPortRange: {from: 8011, to: 8999}}\n",
                            "s.yaml:10:17: spec.ports[2].hostPortRange: overlaps "
                            "spec.ports[0].hostPortRange (8000-8010)\n"
                            "s.yaml:11:17: spec.ports[3].hostPortRange: overlaps "
                            "spec.ports[0].hostPortRange (8000-8010)\n"
                            "s.yaml:12:17: spec.ports[4].hostPortRange: overlaps "
                            "spec.ports[2].hostPortRange (8010-8020)");
}

/* ---- healthCheck --------------------------------------------------------------- */

static void test_health_check(void **state)
{
        (void)state;
        assert_spec_invalid(TEMPLATE "  healthCheck: {intervalSeconds: 5}\n",
                            "s.yaml:7:3: spec.healthCheck: exactly one of exec, http or tcp: "
                            "found none");
        assert_spec_invalid(TEMPLATE HTTP_PORT
                            "  healthCheck: {http: {port: http}, tcp: {port: http}}\n",
                            "s.yaml:8:3: spec.healthCheck: exactly one of exec, http or tcp: "
                            "found http and tcp");
        assert_spec_invalid(TEMPLATE "  healthCheck: 5\n",
                            "s.yaml:7:3: spec.healthCheck: must be an object");
        assert_spec_invalid(TEMPLATE "  healthCheck: {exec: {command: []}}\n",
                            "s.yaml:7:24: spec.healthCheck.exec.command: must not be empty");
        assert_spec_invalid(TEMPLATE "  healthCheck: {exec: {cmd: [x]}}\n",
                            "s.yaml:7:17: spec.healthCheck.exec.command: required\n"
                            "s.yaml:7:24: spec.healthCheck.exec.cmd: unknown field");
        assert_spec_invalid(TEMPLATE "  healthCheck: {exec: {command: [1]}}\n",
                            "s.yaml:7:34: spec.healthCheck.exec.command[0]: must be a string");
        assert_spec_invalid(TEMPLATE "  healthCheck: {exec: [x]}\n",
                            "s.yaml:7:17: spec.healthCheck.exec: must be an object");
        assert_spec_invalid(TEMPLATE HTTP_PORT
                            "  healthCheck: {http: {path: healthz, port: htp}}\n",
                            "s.yaml:8:24: spec.healthCheck.http.path: must start with /\n"
                            "s.yaml:8:39: spec.healthCheck.http.port: unknown port \"htp\" "
                            "(declared: http)");
        assert_spec_invalid(TEMPLATE HTTP_PORT
                            "  healthCheck: {http: {path: \"/a b\", port: http}}\n",
                            "s.yaml:8:24: spec.healthCheck.http.path: must be printable ASCII "
                            "without spaces (percent-encode others)");
        assert_spec_invalid(TEMPLATE HTTP_PORT
                            "  healthCheck: {http: {path: \"/\u00e9\", port: http}}\n",
                            "s.yaml:8:24: spec.healthCheck.http.path: must be printable ASCII "
                            "without spaces (percent-encode others)");
        {
                char long_path[300];
                _cleanup_free_ char *tail = NULL;

                memset(long_path, 'a', sizeof(long_path) - 1);
                long_path[0] = '/';
                long_path[256] = '\0';
                tail =
                    str_printf(TEMPLATE HTTP_PORT "  healthCheck: {http: {path: %s, port: http}}\n",
                               long_path);
                assert_non_null(tail);
                assert_spec_invalid(tail, "s.yaml:8:24: spec.healthCheck.http.path: must be at "
                                          "most 255 characters");
                long_path[255] = '\0';
                free(tail);
                tail =
                    str_printf(TEMPLATE HTTP_PORT "  healthCheck: {http: {path: %s, port: http}}\n",
                               long_path);
                assert_non_null(tail);
                assert_spec_valid(tail);
        }
        assert_spec_invalid(TEMPLATE "  healthCheck: {http: {path: /}}\n",
                            "s.yaml:7:17: spec.healthCheck.http.port: required");
        assert_spec_invalid(TEMPLATE "  healthCheck: {tcp: {port: http}}\n",
                            "s.yaml:7:23: spec.healthCheck.tcp.port: unknown port \"http\": "
                            "spec.ports declares none");
        assert_spec_invalid(TEMPLATE HTTP_PORT "  healthCheck: {tcp: {port: 8080}}\n",
                            "s.yaml:8:23: spec.healthCheck.tcp.port: 8080 is not the "
                            "containerPort of a declared port (containerPorts: 80)");
        assert_spec_invalid(TEMPLATE "  ports: [{name: a, hostPortRange: {from: 1, to: 9}}]\n"
                                     "  healthCheck: {tcp: {port: 1}}\n",
                            "s.yaml:8:23: spec.healthCheck.tcp.port: 1 is not the containerPort "
                            "of a declared port (no port declares one)");
        assert_spec_invalid(TEMPLATE HTTP_PORT "  healthCheck: {tcp: {port: [http]}}\n",
                            "s.yaml:8:23: spec.healthCheck.tcp.port: must be a port name or a "
                            "containerPort number");
        assert_spec_invalid(TEMPLATE "  ports: [{name: dns, protocol: udp, hostPortRange: {from: "
                                     "1, to: 9}}]\n"
                                     "  healthCheck: {tcp: {port: dns}}\n",
                            "s.yaml:8:23: spec.healthCheck.tcp.port: port \"dns\" is udp: a tcp "
                            "check needs a tcp port");
        assert_spec_invalid(TEMPLATE HTTP_PORT "  healthCheck:\n"
                                               "    exec: {command: [x]}\n"
                                               "    intervalSeconds: 0\n"
                                               "    timeoutSeconds: 3601\n"
                                               "    failureThreshold: 101\n"
                                               "    startPeriodSeconds: -1\n"
                                               "    grace: 1\n",
                            "s.yaml:10:5: spec.healthCheck.intervalSeconds: must be between 1 "
                            "and 3600\n"
                            "s.yaml:11:5: spec.healthCheck.timeoutSeconds: must be between 1 and "
                            "3600\n"
                            "s.yaml:12:5: spec.healthCheck.failureThreshold: must be between 1 "
                            "and 100\n"
                            "s.yaml:13:5: spec.healthCheck.startPeriodSeconds: must be between 0 "
                            "and 3600\n"
                            "s.yaml:14:5: spec.healthCheck.grace: unknown field");
        /* A bad port name is reported once, not again by the check naming it. */
        assert_spec_invalid(TEMPLATE "  ports: [{name: Web, hostPortRange: {from: 1, to: 9}}]\n"
                                     "  healthCheck: {tcp: {port: Web}}\n",
                            "s.yaml:7:12: spec.ports[0].name: invalid name \"Web\": must be 1 to "
                            "15 lowercase letters, digits or '-'");
}

/* ---- updateStrategy --------------------------------------------------------------- */

static void test_update_strategy(void **state)
{
        (void)state;
        assert_spec_invalid(TEMPLATE "  updateStrategy: {maxSurge: 0}\n",
                            "s.yaml:7:3: spec.updateStrategy: maxSurge and maxUnavailable must "
                            "not both be 0");
        assert_spec_invalid(TEMPLATE "  updateStrategy: {type: BlueGreen, maxSurge: 1001, "
                                     "maxUnavailable: -1, maxSurg: 1}\n",
                            "s.yaml:7:20: spec.updateStrategy.type: unsupported value "
                            "\"BlueGreen\", must be one of: RollingUpdate, Recreate\n"
                            "s.yaml:7:37: spec.updateStrategy.maxSurge: must be between 0 and "
                            "1000\n"
                            "s.yaml:7:53: spec.updateStrategy.maxUnavailable: must be between 0 "
                            "and 1000\n"
                            "s.yaml:7:73: spec.updateStrategy.maxSurg: unknown field, did you mean "
                            "spec.updateStrategy.maxSurge?");
        assert_spec_invalid(TEMPLATE "  updateStrategy: Recreate\n",
                            "s.yaml:7:3: spec.updateStrategy: must be an object");
}

/* ---- the replica template ------------------------------------------------------------ */

static const char *env_value(const struct task_spec *t, const char *name)
{
        for (size_t i = 0; i < t->n_env; i++)
                if (streq(t->env[i].name, name))
                        return t->env[i].value;
        return NULL;
}

static void test_replica_template(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        _cleanup_json_ json_t *original = NULL, *tmpl = NULL;
        struct berth_error err = {0};
        struct service_spec s;
        struct task_spec t;
        const int host_ports[] = {18082, 19093, 15355};

        (void)state;
        assert_int_equal(service_spec_decode(defaulted(FULL, &list), &s, &err), 0);
        original = json_deep_copy(s.template);
        assert_non_null(original);

        tmpl = service_replica_template(&s, "prod", "web", host_ports, 2, &err);
        assert_non_null(tmpl);
        /* The spec's template is left as it was. */
        assert_true(json_equal(original, (json_t *)s.template));

        assert_string_equal(json_string_value(json_array_get(json_object_get(tmpl, "args"), 1)),
                            ":18082");
        assert_string_equal(json_string_value(json_array_get(json_object_get(tmpl, "args"), 3)),
                            "prod/web-2");
        assert_string_equal(json_string_value(json_array_get(json_object_get(tmpl, "command"), 0)),
                            "/bin/web");

        assert_int_equal(task_spec_from_template(tmpl, &t, &err), 0);
        assert_string_equal(t.image, "registry.example/web:2");
        assert_int_equal(t.pull_policy, PULL_ALWAYS);
        assert_string_equal(t.network, "host");
        assert_string_equal(t.working_dir, "/srv");
        assert_int_equal(t.memory_bytes, 128 * 1024 * 1024);
        assert_int_equal(t.n_volumes, 1);
        /* No Task-only behaviour: the Service restarts its replicas itself. */
        assert_int_equal(t.restart_policy, RESTART_NEVER);
        assert_int_equal(t.backoff_limit, 0);
        assert_int_equal(t.active_deadline_ms, 0);
        assert_int_equal(t.ttl_after_finished_ms, -1);
        /* The user's env first, then berth's, in port order. */
        assert_int_equal(t.n_env, 6);
        assert_string_equal(t.env[0].name, "METRICS");
        assert_string_equal(t.env[0].value, "127.0.0.1:19093");
        assert_string_equal(t.env[1].name, "PLAIN");
        assert_string_equal(t.env[1].value, "x");
        assert_string_equal(t.env[2].name, "BERTH_PORT_HTTP");
        assert_string_equal(t.env[2].value, "18082");
        assert_string_equal(t.env[3].name, "BERTH_PORT_METRICS_2");
        assert_string_equal(t.env[3].value, "19093");
        assert_string_equal(t.env[4].name, "BERTH_PORT_DNS");
        assert_string_equal(t.env[4].value, "15355");
        assert_string_equal(t.env[5].name, "BERTH_REPLICA_INDEX");
        assert_string_equal(env_value(&t, "BERTH_REPLICA_INDEX"), "2");
        task_spec_release(&t);
        task_spec_release(NULL);
}

static void test_replica_template_minimal(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        _cleanup_json_ json_t *tmpl = NULL;
        struct berth_error err = {0};
        struct service_spec s;
        struct task_spec t;

        (void)state;
        /* No env and no ports: env gets the index only; host_ports may be NULL. */
        assert_int_equal(service_spec_decode(defaulted(HEAD "  template:\n"
                                                            "    image: nginx\n"
                                                            "    args: [\"{{replica.index}}\"]\n",
                                                       &list),
                                             &s, &err),
                         0);
        tmpl = service_replica_template(&s, "default", "web", NULL, 0, &err);
        assert_non_null(tmpl);
        assert_string_equal(json_string_value(json_array_get(json_object_get(tmpl, "args"), 0)),
                            "0");
        assert_int_equal(task_spec_from_template(tmpl, &t, &err), 0);
        assert_int_equal(t.n_env, 1);
        assert_string_equal(t.env[0].name, "BERTH_REPLICA_INDEX");
        assert_string_equal(t.env[0].value, "0");
        assert_int_equal(t.pull_policy, PULL_IF_NOT_PRESENT);
        task_spec_release(&t);
}

static void test_replica_template_errors(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        _cleanup_json_ json_t *bad = NULL;
        struct berth_error err = {0};
        struct service_spec s;
        struct task_spec t = {.image = "untouched"};
        const int host_ports[] = {18080};

        (void)state;
        assert_int_equal(service_spec_decode(defaulted(HEAD TEMPLATE HTTP_PORT, &list), &s, &err),
                         0);
        /* Ports declared, none allocated. */
        assert_null(service_replica_template(&s, "default", "web", NULL, 0, &err));
        assert_int_equal(err.code, -EINVAL);
        assert_null(service_replica_template(&s, NULL, "web", host_ports, 0, &err));
        assert_null(service_replica_template(&s, "default", "web", host_ports, -1, &err));
        assert_null(service_replica_template(NULL, "default", "web", host_ports, 0, NULL));

        /* An expression validation would have refused (a spec not from
         * service_spec_decode) names the field. */
        bad = json_pack("{s:s, s:[s]}", "image", "nginx", "args", "{{ports.nope}}");
        assert_non_null(bad);
        s.template = bad;
        assert_null(service_replica_template(&s, "default", "web", host_ports, 0, &err));
        assert_int_equal(err.code, -EINVAL);
        assert_string_equal(err.message, "spec.template.args[0]: {{ports.nope}}: unknown port "
                                         "\"nope\" (declared: http)");

        /* task_spec_from_template checks what it decodes. */
        assert_int_equal(task_spec_from_template(NULL, &t, &err), -EINVAL);
        assert_string_equal(err.message, "spec.template: must be an object");
        json_object_set_new(bad, "restartPolicy", json_string("Never"));
        assert_int_equal(task_spec_from_template(bad, &t, &err), -EINVAL);
        assert_string_equal(err.message,
                            "spec.template.restartPolicy: not allowed in a Service template: a "
                            "Service restarts its replicas itself, see spec.restartBackoff");
        assert_string_equal(t.image, "untouched");
}

static void test_template_depends_on_refused(void **state)
{
        (void)state;
        assert_spec_invalid("  template: {image: nginx, dependsOn: [db]}\n",
                            "s.yaml:6:28: spec.template.dependsOn: not allowed in a Service "
                            "template: a Service's replicas start with the Service");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_template_depends_on_refused),
            cmocka_unit_test(test_kind),
            cmocka_unit_test(test_valid),
            cmocka_unit_test(test_defaults),
            cmocka_unit_test(test_decode_minimal),
            cmocka_unit_test(test_decode_full),
            cmocka_unit_test(test_decode_health_types),
            cmocka_unit_test(test_decode_errors),
            cmocka_unit_test(test_name_and_fields),
            cmocka_unit_test(test_other_fields),
            cmocka_unit_test(test_template),
            cmocka_unit_test(test_expressions),
            cmocka_unit_test(test_ports),
            cmocka_unit_test(test_port_ranges),
            cmocka_unit_test(test_health_check),
            cmocka_unit_test(test_update_strategy),
            cmocka_unit_test(test_replica_template),
            cmocka_unit_test(test_replica_template_minimal),
            cmocka_unit_test(test_replica_template_errors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
