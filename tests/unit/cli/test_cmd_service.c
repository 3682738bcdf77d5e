/* Unit tests of the Service verbs: scale (compare-and-swap and its retry on
 * conflicts), rollout status (progress lines and exit codes), restart, undo
 * (which revision, errors when it is not kept), history, describe's replica
 * table and logs of several replicas (prefixed whole lines, side by side). The
 * pure parts directly; the commands through cli_run() against the fake berthd. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cli-internal.h"
#include "cli-test.h"

#define SVC_PATH  "/apis/berth/v1/namespaces/default/services/web"
#define SVC_WATCH "/apis/berth/v1/namespaces/default/services?watch=true&resourceVersion=5"

static json_t *load(const char *text)
{
        json_error_t e;
        json_t *j = json_loads(text, 0, &e);
        if (!j)
                fail_msg("bad test JSON: %s: %s", e.text, text);
        return j;
}

static size_t count(const char *s, const char *what)
{
        size_t n = 0;
        for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
                n++;
        return n;
}

/* A Service at revision 3 with revisions 1 to 3 kept, rolled out. */
static const char *const web =
    "{\"kind\":\"Service\",\"apiVersion\":\"berth/v1\","
    "\"metadata\":{\"name\":\"web\",\"namespace\":\"default\",\"uid\":\"u1\","
    "\"resourceVersion\":\"5\",\"generation\":4,\"creationTimestamp\":\"2026-12-06T09:00:00Z\"},"
    "\"spec\":{\"replicas\":2,\"template\":{\"image\":\"nginx:1.27\"},"
    "\"ports\":[{\"name\":\"http\",\"containerPort\":80,"
    "\"hostPortRange\":{\"from\":18080,\"to\":18089},\"protocol\":\"tcp\"}],"
    "\"restartedAt\":\"2026-12-06T11:00:00Z\",\"progressDeadlineSeconds\":120},"
    "\"status\":{\"observedGeneration\":4,\"replicas\":2,\"readyReplicas\":2,"
    "\"updatedReplicas\":2,\"availableReplicas\":2,\"restarts\":1,"
    "\"currentRevision\":3,\"updateRevision\":3,\"updateRevisionHash\":\"cccccccc00000000\","
    "\"replicaStatuses\":["
    "{\"index\":0,\"revision\":3,\"container\":\"berth.default.web.cccccccc.0\","
    "\"hostPorts\":{\"http\":18080},\"state\":\"Running\",\"health\":\"Healthy\","
    "\"ready\":true,\"restarts\":1,\"lastExitCode\":137,\"lastExitReason\":\"OOMKilled\"},"
    "{\"index\":1,\"revision\":3,\"container\":\"berth.default.web.cccccccc.1\","
    "\"hostPorts\":{\"http\":18081},\"state\":\"Running\",\"health\":\"Healthy\","
    "\"ready\":true,\"restarts\":0}],"
    "\"history\":["
    "{\"revision\":1,\"hash\":\"aaaaaaaa00000000\",\"createdAt\":\"2026-12-06T09:00:00Z\","
    "\"spec\":{\"template\":{\"image\":\"nginx:1.25\"},\"ports\":[]}},"
    "{\"revision\":2,\"hash\":\"bbbbbbbb00000000\",\"createdAt\":\"2026-12-06T10:00:00Z\","
    "\"spec\":{\"template\":{\"image\":\"nginx:1.26\"},\"ports\":[{\"name\":\"http\","
    "\"containerPort\":8080,\"hostPortRange\":{\"from\":18080,\"to\":18089}}],"
    "\"healthCheck\":{\"tcp\":{\"port\":\"http\"}}}},"
    "{\"revision\":3,\"hash\":\"cccccccc00000000\",\"createdAt\":\"2026-12-06T11:00:00Z\","
    "\"spec\":{\"template\":{\"image\":\"nginx:1.27\"},\"ports\":[{\"name\":\"http\","
    "\"containerPort\":80,\"hostPortRange\":{\"from\":18080,\"to\":18089},"
    "\"protocol\":\"tcp\"}],\"restartedAt\":\"2026-12-06T11:00:00Z\"}}],"
    "\"conditions\":[{\"type\":\"Available\",\"status\":\"True\","
    "\"reason\":\"MinimumReplicasAvailable\"},{\"type\":\"Progressing\",\"status\":\"True\","
    "\"reason\":\"NewRevisionAvailable\"}]}}";

/* web with status fields replaced (a JSON object merged into status). */
static char *web_with(const char *status_patch)
{
        json_t *o = load(web);
        json_t *patch = load(status_patch);
        json_object_update(json_object_get(o, "status"), patch);
        char *s = json_dumps(o, JSON_COMPACT);
        json_decref(patch);
        json_decref(o);
        return s;
}

static char *watch_event(const char *type, const char *object)
{
        return str_printf("{\"type\":\"%s\",\"object\":%s}\n", type, object);
}

/* ---- pure parts ----------------------------------------------------------- */

static enum cli_cond_result eval(const char *status_patch, char *msg)
{
        _cleanup_free_ char *s = web_with(status_patch);
        json_t *o = load(s);
        enum cli_cond_result r = cli_rollout_eval(o, msg, 256);
        json_decref(o);
        return r;
}

static void test_rollout_eval(void **state)
{
        (void)state;
        char msg[256];

        assert_int_equal(eval("{}", msg), CLI_COND_MET);

        assert_int_equal(eval("{\"observedGeneration\":3}", msg), CLI_COND_PENDING);
        assert_string_equal(msg, "Waiting for rollout: spec update to be observed...");

        assert_int_equal(eval("{\"updatedReplicas\":1,\"replicas\":3}", msg), CLI_COND_PENDING);
        assert_string_equal(msg,
                            "Waiting for rollout: 1 out of 2 new replicas have been updated...");

        assert_int_equal(eval("{\"replicas\":3}", msg), CLI_COND_PENDING);
        assert_string_equal(msg, "Waiting for rollout: 1 old replicas are pending termination...");

        assert_int_equal(eval("{\"availableReplicas\":1}", msg), CLI_COND_PENDING);
        assert_string_equal(msg, "Waiting for rollout: 1 of 2 updated replicas are available...");

        /* Scaled down, the extra replica not gone yet. */
        assert_int_equal(
            eval("{\"replicas\":3,\"updatedReplicas\":3,\"availableReplicas\":3}", msg),
            CLI_COND_PENDING);
        assert_string_equal(msg,
                            "Waiting for rollout: 1 extra replicas are pending termination...");

        /* Nothing in the status yet. */
        json_t *o = load("{\"kind\":\"Service\",\"metadata\":{\"name\":\"web\",\"generation\":1},"
                         "\"spec\":{\"replicas\":1}}");
        assert_int_equal(cli_rollout_eval(o, msg, sizeof(msg)), CLI_COND_PENDING);
        json_decref(o);

        /* Past the deadline: final, with the condition's message. */
        assert_int_equal(eval("{\"updatedReplicas\":1,\"conditions\":[{\"type\":\"Progressing\","
                              "\"status\":\"False\",\"reason\":\"ProgressDeadlineExceeded\","
                              "\"message\":\"no progress for 120s\"}]}",
                              msg),
                         CLI_COND_IMPOSSIBLE);
        assert_string_equal(msg,
                            "service/web exceeded its progress deadline: no progress for 120s");
        /* ... but only once that generation is observed. */
        assert_int_equal(eval("{\"observedGeneration\":3,\"conditions\":[{\"type\":"
                              "\"Progressing\",\"status\":\"False\",\"reason\":"
                              "\"ProgressDeadlineExceeded\"}]}",
                              msg),
                         CLI_COND_PENDING);
        /* Zero replicas: done once there are none and the controller says so. */
        o = load("{\"metadata\":{\"name\":\"web\",\"generation\":2},\"spec\":{\"replicas\":0},"
                 "\"status\":{\"observedGeneration\":2,\"conditions\":[{\"type\":"
                 "\"Progressing\",\"status\":\"True\",\"reason\":\"NewRevisionAvailable\"}]}}");
        assert_int_equal(cli_rollout_eval(o, msg, sizeof(msg)), CLI_COND_MET);
        json_decref(o);
        /* The counts are right but an old replica is still being stopped. */
        o = load("{\"metadata\":{\"name\":\"web\",\"generation\":2},\"spec\":{\"replicas\":0},"
                 "\"status\":{\"observedGeneration\":2,\"conditions\":[{\"type\":"
                 "\"Progressing\",\"status\":\"True\",\"reason\":\"ReplicasUpdating\"}]}}");
        assert_int_equal(cli_rollout_eval(o, msg, sizeof(msg)), CLI_COND_PENDING);
        assert_string_equal(msg, "Waiting for rollout: old replicas are still being stopped...");
        json_decref(o);
}

static void test_history_find_and_restore(void **state)
{
        (void)state;
        json_t *o = load(web);

        /* Default: the newest older than updateRevision. */
        assert_int_equal(
            json_integer_value(json_object_get(cli_service_history_find(o, 0), "revision")), 2);
        assert_int_equal(
            json_integer_value(json_object_get(cli_service_history_find(o, 1), "revision")), 1);
        assert_null(cli_service_history_find(o, 7));

        /* Undo during a rollout to 3, from 2: back to 2. */
        json_object_set_new(json_object_get(o, "status"), "currentRevision", json_integer(2));
        assert_int_equal(
            json_integer_value(json_object_get(cli_service_history_find(o, 0), "revision")), 2);

        /* Restore revision 2: its fields replace the revision's; restartedAt,
         * absent there, goes; other fields stay. */
        assert_int_equal(cli_service_restore(o, cli_service_history_find(o, 2)), 0);
        assert_string_equal(json_path_string(o, "spec.template.image"), "nginx:1.26");
        assert_int_equal(json_integer_value(json_object_get(
                             json_array_get(json_path(o, "spec.ports"), 0), "containerPort")),
                         8080);
        assert_non_null(json_path(o, "spec.healthCheck.tcp"));
        assert_null(json_path(o, "spec.restartedAt"));
        assert_int_equal(json_path_int(o, "spec.replicas", 0), 2);
        assert_int_equal(json_path_int(o, "spec.progressDeadlineSeconds", 0), 120);

        /* A history entry without a template is refused. */
        json_t *bad = load("{\"revision\":9,\"spec\":{}}");
        assert_int_equal(cli_service_restore(o, bad), -EINVAL);
        json_decref(bad);

        /* Only revision 1 kept: nothing before it. */
        json_decref(o);
        o = load("{\"status\":{\"updateRevision\":1,\"history\":[{\"revision\":1,\"spec\":{}}]}}");
        assert_null(cli_service_history_find(o, 0));
        json_decref(o);
        o = load("{}");
        assert_null(cli_service_history_find(o, 0));
        json_decref(o);
}

static char *history_text(const char *object)
{
        char *s = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&s, &n);
        json_t *o = load(object);
        assert_int_equal(cli_rollout_history_print(f, o), 0);
        fclose(f);
        json_decref(o);
        return s;
}

static void test_history_print(void **state)
{
        (void)state;
        _cleanup_free_ char *done = history_text(web);
        assert_string_equal(done, "REVISION   CREATED                IMAGE\n"
                                  "1          2026-12-06T09:00:00Z   nginx:1.25\n"
                                  "2          2026-12-06T10:00:00Z   nginx:1.26\n"
                                  "3          2026-12-06T11:00:00Z   nginx:1.27   (current)\n");

        /* During a rollout from 2 to 3, in revision order whatever the stored one. */
        _cleanup_free_ char *rolling =
            history_text("{\"status\":{\"currentRevision\":2,\"updateRevision\":3,\"history\":["
                         "{\"revision\":3,\"createdAt\":\"2026-12-06T11:00:00Z\","
                         "\"spec\":{\"template\":{\"image\":\"b\"}}},"
                         "{\"revision\":2,\"createdAt\":\"2026-12-06T10:00:00Z\","
                         "\"spec\":{\"template\":{\"image\":\"a\"}}}]}}");
        assert_string_equal(rolling, "REVISION   CREATED                IMAGE\n"
                                     "2          2026-12-06T10:00:00Z   a       (current)\n"
                                     "3          2026-12-06T11:00:00Z   b       (updating)\n");

        _cleanup_free_ char *none = history_text("{\"metadata\":{\"name\":\"web\"}}");
        assert_string_equal(none, "service/web has no rollout history yet\n");
}

static void test_describe_service(void **state)
{
        (void)state;
        char *s = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&s, &n);
        _cleanup_free_ char *text = web_with(
            "{\"currentRevision\":2,\"rolloutStartTime\":\"2026-12-06T11:00:00Z\","
            "\"replicaStatuses\":[{\"index\":0,\"revision\":3,"
            "\"container\":\"berth.default.web.cccccccc.0\","
            "\"hostPorts\":{\"metrics\":18090,\"http\":18080},\"state\":\"CrashLoopBackOff\","
            "\"health\":\"Unhealthy\",\"ready\":false,\"restarts\":4,\"lastExitCode\":1,"
            "\"lastExitReason\":\"Error\",\"message\":\"back-off 20s restarting failed "
            "container\"},"
            "{\"index\":1,\"revision\":2,\"container\":\"berth.default.web.bbbbbbbb.1\","
            "\"state\":\"Running\",\"health\":\"None\",\"ready\":true,\"restarts\":0}]}");
        json_t *o = load(text);
        int64_t now = 0;

        assert_int_equal(time_parse_rfc3339("2026-12-06T11:05:00Z", &now), 0);
        assert_int_equal(cli_describe(f, kind_lookup("svc"), o, NULL, NULL, now), 0);
        fclose(f);
        json_decref(o);

        assert_non_null(strstr(s, "  Replicas:          2\n"));
        assert_non_null(strstr(s, "  Image:             nginx:1.27\n"));
        assert_non_null(strstr(s, "  Ports:             http 80 <- 18080-18089/tcp\n"));
        assert_non_null(
            strstr(s, "  Update Strategy:   RollingUpdate (max surge 1, max unavailable 0)\n"));
        assert_non_null(strstr(s, "  Replicas:         2 desired | 2 updated | 2 total | 2 "
                                  "available | 0 unavailable\n"));
        assert_non_null(strstr(s, "  Revision:         3 (rolling out from 2)\n"));
        assert_non_null(strstr(s, "  Rollout Started:  2026-12-06T11:00:00Z (5m ago)\n"));
        assert_non_null(strstr(
            s, "Replicas:\n"
               "  INDEX   REVISION   CONTAINER                      STATE              HEALTH      "
               "READY   RESTARTS   LAST-EXIT   PORTS\n"
               "  0       3          berth.default.web.cccccccc.0   CrashLoopBackOff   Unhealthy   "
               "false   4          1 (Error)   http=18080,metrics=18090\n"
               "  1       2          berth.default.web.bbbbbbbb.1   Running            None        "
               "true    0\n"
               "Replica Messages:\n"
               "  web-0: back-off 20s restarting failed container\n"));
        assert_null(strstr(s, "Phase:"));
        free(s);
}

/* ---- scale --------------------------------------------------------------- */

static void test_scale(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};

        /* A conflict, then the write goes through: read again, write again. */
        fake_reset(f);
        fake_route(f, "GET", SVC_PATH, 200, web);
        fake_add(f, &(struct fake_route){.method = "PUT",
                                         .path = SVC_PATH,
                                         .status = 409,
                                         .content_type = "application/json",
                                         .body = "{\"kind\":\"Status\",\"code\":409,"
                                                 "\"reason\":\"Conflict\",\"message\":\"changed\"}",
                                         .times = 1});
        fake_route(f, "PUT", SVC_PATH, 200, web);
        run(&c, "--server", f->url, "scale", "service/web", "--replicas", "3", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "service/web scaled\n");
        assert_string_equal(c.err, "");
        assert_int_equal(f->requests, 4);
        assert_string_equal(f->paths[1], SVC_PATH);
        json_t *body = load(f->bodies[3]);
        assert_int_equal(json_path_int(body, "spec.replicas", 0), 3);
        assert_string_equal(json_path_string(body, "metadata.resourceVersion"), "5");
        /* The rest of the spec as read. */
        assert_string_equal(json_path_string(body, "spec.template.image"), "nginx:1.27");
        json_decref(body);

        /* Every form of naming it. */
        const char *const forms[][2] = {{"svc/web", NULL}, {"service", "web"}, {"web", NULL}};
        for (size_t i = 0; i < ARRAY_SIZE(forms); i++) {
                fake_reset(f);
                fake_route(f, "GET", SVC_PATH, 200, web);
                fake_route(f, "PUT", SVC_PATH, 200, web);
                if (forms[i][1])
                        run(&c, "--server", f->url, "scale", forms[i][0], forms[i][1],
                            "--replicas=0", NULL);
                else
                        run(&c, "--server", f->url, "scale", forms[i][0], "--replicas=0", NULL);
                assert_int_equal(c.rc, 0);
                assert_string_equal(c.out, "service/web scaled\n");
                assert_int_equal(f->requests, 2);
        }

        /* Already at that count: nothing written. */
        fake_reset(f);
        fake_route(f, "GET", SVC_PATH, 200, web);
        run(&c, "--server", f->url, "scale", "svc/web", "--replicas", "2", NULL);
        assert_int_equal(c.rc, 0);
        assert_int_equal(f->requests, 1);

        /* Conflicts every time: gives up. */
        fake_reset(f);
        fake_route(f, "GET", SVC_PATH, 200, web);
        fake_route(f, "PUT", SVC_PATH, 409, "{\"kind\":\"Status\",\"code\":409}");
        run(&c, "--server", f->url, "scale", "svc/web", "--replicas", "3", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "error: service/web kept changing; try again\n");
        assert_int_equal(f->requests, 2 * CLI_CHANGE_RETRIES);

        /* Another refusal is printed as the server says it. */
        fake_reset(f);
        fake_route(f, "GET", SVC_PATH, 200, web);
        fake_route(f, "PUT", SVC_PATH, 422,
                   "{\"kind\":\"Status\",\"code\":422,\"reason\":\"Invalid\",\"message\":\"no\","
                   "\"details\":[{\"field\":\"spec.replicas\",\"message\":\"too many\"}]}");
        run(&c, "--server", f->url, "scale", "svc/web", "--replicas", "3", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "Error from server (Invalid): no\n  spec.replicas: too many\n");

        /* Missing. */
        fake_reset(f);
        run(&c, "--server", f->url, "scale", "svc/web", "--replicas", "3", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "Error from server (NotFound): services \"web\" not found\n");

        /* Checked locally: nothing sent. */
        fake_reset(f);
        const char *const bad[] = {"1001", "-1", "two", "", "3x"};
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                run(&c, "--server", f->url, "scale", "svc/web", "--replicas", bad[i], NULL);
                assert_int_equal(c.rc, 2);
                assert_non_null(strstr(c.err, "want a whole number from 0 to 1000"));
        }
        run(&c, "--server", f->url, "scale", "svc/web", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "--replicas is required"));
        run(&c, "--server", f->url, "scale", "task/web", "--replicas", "1", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "scale works on services only, not tasks"));
        run(&c, "--server", f->url, "scale", "svc/a", "svc/b", "--replicas", "1", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "scale takes exactly one service"));
        run(&c, "--server", f->url, "scale", "--replicas", "1", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "a service is required"));
        assert_int_equal(f->requests, 0);
        capture_release(&c);
}

/* ---- rollout ---------------------------------------------------------------- */

static void test_rollout_status(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        _cleanup_free_ char *updating =
            web_with("{\"updatedReplicas\":1,\"availableReplicas\":1,\"replicas\":3}");
        _cleanup_free_ char *half = web_with("{\"availableReplicas\":1}");
        _cleanup_free_ char *stuck = web_with(
            "{\"updatedReplicas\":1,\"conditions\":[{\"type\":\"Progressing\",\"status\":\"False\","
            "\"reason\":\"ProgressDeadlineExceeded\",\"message\":\"no progress for 2m\"}]}");
        _cleanup_free_ char *ev1 = watch_event("MODIFIED", half);
        _cleanup_free_ char *ev2 = watch_event("MODIFIED", web);
        _cleanup_free_ char *evs = str_printf("%s%s%s", ev1, ev1, ev2);
        _cleanup_free_ char *ev_stuck = watch_event("MODIFIED", stuck);
        _cleanup_free_ char *ev_gone = watch_event("DELETED", updating);

        /* Done at the first look. */
        fake_reset(f);
        fake_route(f, "GET", SVC_PATH, 200, web);
        run(&c, "--server", f->url, "rollout", "status", "service/web", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "service/web successfully rolled out\n");

        /* Followed through the watch; each progress line once. */
        fake_reset(f);
        fake_route(f, "GET", SVC_PATH, 200, updating);
        fake_route(f, "GET", SVC_WATCH, 200, evs);
        run(&c, "--server", f->url, "rollout", "status", "svc", "web", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out,
                            "Waiting for rollout: 1 out of 2 new replicas have been updated...\n"
                            "Waiting for rollout: 1 of 2 updated replicas are available...\n"
                            "service/web successfully rolled out\n");

        /* Past its progress deadline: exit 1. */
        fake_reset(f);
        fake_route(f, "GET", SVC_PATH, 200, updating);
        fake_route(f, "GET", SVC_WATCH, 200, ev_stuck);
        run(&c, "--server", f->url, "rollout", "status", "svc/web", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(
            c.err, "error: service/web exceeded its progress deadline: no progress for 2m\n");

        /* Deleted meanwhile. */
        fake_reset(f);
        fake_route(f, "GET", SVC_PATH, 200, updating);
        fake_route(f, "GET", SVC_WATCH, 200, ev_gone);
        run(&c, "--server", f->url, "rollout", "status", "svc/web", NULL);
        assert_int_equal(c.rc, 1);
        assert_non_null(strstr(c.err, "service/web was deleted"));

        /* A quiet watch: --timeout. */
        fake_reset(f);
        fake_route(f, "GET", SVC_PATH, 200, updating);
        fake_hold(f, SVC_WATCH, "", 3000);
        int64_t t0 = time_mono_ms();
        run(&c, "--server", f->url, "rollout", "status", "svc/web", "--timeout=300ms", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "error: timed out waiting for the rollout of service/web\n");
        assert_true(time_mono_ms() - t0 < 2500);

        /* Missing; bad flags. */
        fake_reset(f);
        run(&c, "--server", f->url, "rollout", "status", "svc/web", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "Error from server (NotFound): services \"web\" not found\n");
        run(&c, "--server", f->url, "rollout", "status", "svc/web", "--timeout", "soon", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "invalid --timeout \"soon\""));
        assert_non_null(strstr(c.err, "See 'berth rollout status --help'"));
        capture_release(&c);
}

static void test_rollout_restart(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};

        fake_reset(f);
        fake_route(f, "GET", SVC_PATH, 200, web);
        fake_route(f, "PUT", SVC_PATH, 200, web);
        int64_t before = time_now_ms() / 1000 * 1000;
        run(&c, "--server", f->url, "rollout", "restart", "service/web", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "service/web restarted\n");
        json_t *body = load(f->bodies[1]);
        int64_t at = 0;
        assert_int_equal(time_parse_rfc3339(json_path_string(body, "spec.restartedAt"), &at), 0);
        assert_true(at >= before && at <= time_now_ms());
        assert_string_equal(json_path_string(body, "metadata.resourceVersion"), "5");
        json_decref(body);
        capture_release(&c);
}

static void test_rollout_undo(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};

        /* Default: the revision before the current one. */
        fake_reset(f);
        fake_route(f, "GET", SVC_PATH, 200, web);
        fake_route(f, "PUT", SVC_PATH, 200, web);
        run(&c, "--server", f->url, "rollout", "undo", "service/web", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "service/web rolled back to revision 2\n");
        assert_int_equal(f->requests, 2);
        json_t *body = load(f->bodies[1]);
        assert_string_equal(json_path_string(body, "spec.template.image"), "nginx:1.26");
        assert_non_null(json_path(body, "spec.healthCheck.tcp"));
        assert_null(json_path(body, "spec.restartedAt"));
        assert_int_equal(json_path_int(body, "spec.replicas", 0), 2);
        assert_string_equal(json_path_string(body, "metadata.resourceVersion"), "5");
        json_decref(body);

        /* --to-revision, and a conflict on the way. */
        fake_reset(f);
        fake_route(f, "GET", SVC_PATH, 200, web);
        fake_add(f, &(struct fake_route){.method = "PUT",
                                         .path = SVC_PATH,
                                         .status = 409,
                                         .content_type = "application/json",
                                         .body = "{}",
                                         .times = 1});
        fake_route(f, "PUT", SVC_PATH, 200, web);
        run(&c, "--server", f->url, "rollout", "undo", "svc/web", "--to-revision", "1", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "service/web rolled back to revision 1\n");
        assert_int_equal(f->requests, 4);
        body = load(f->bodies[3]);
        assert_string_equal(json_path_string(body, "spec.template.image"), "nginx:1.25");
        assert_int_equal(json_array_size(json_path(body, "spec.ports")), 0);
        assert_null(json_path(body, "spec.healthCheck"));
        json_decref(body);

        /* Not kept: an error naming what is, and nothing written. */
        fake_reset(f);
        fake_route(f, "GET", SVC_PATH, 200, web);
        run(&c, "--server", f->url, "rollout", "undo", "svc/web", "--to-revision=7", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "error: revision 7 of service/web is not in its history "
                                   "(revisions kept: 1, 2, 3)\n");
        assert_int_equal(f->requests, 1);

        /* The current one: nothing to do. */
        run(&c, "--server", f->url, "rollout", "undo", "svc/web", "--to-revision=3", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out,
                            "service/web skipped rollback (revision 3 is the current one)\n");

        /* Nothing before the current one. */
        _cleanup_free_ char *first =
            web_with("{\"currentRevision\":1,\"updateRevision\":1,\"history\":[{\"revision\":1,"
                     "\"spec\":{\"template\":{\"image\":\"x\"}}}]}");
        fake_reset(f);
        fake_route(f, "GET", SVC_PATH, 200, first);
        run(&c, "--server", f->url, "rollout", "undo", "svc/web", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "error: service/web has no revision before 1 to go back to "
                                   "(revisions kept: 1)\n");
        assert_int_equal(f->requests, 1);

        run(&c, "--server", f->url, "rollout", "undo", "svc/web", "--to-revision=-2", NULL);
        assert_int_equal(c.rc, 2);
        capture_release(&c);
}

static void test_rollout_history(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};

        fake_reset(f);
        fake_route(f, "GET", SVC_PATH, 200, web);
        run(&c, "--server", f->url, "rollout", "history", "service/web", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "REVISION   CREATED                IMAGE\n"
                                   "1          2026-12-06T09:00:00Z   nginx:1.25\n"
                                   "2          2026-12-06T10:00:00Z   nginx:1.26\n"
                                   "3          2026-12-06T11:00:00Z   nginx:1.27   (current)\n");

        run(&c, "--server", f->url, "rollout", "history", "svc/web", "--revision", "2", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "template:\n  image: "));
        assert_non_null(strstr(c.out, "nginx:1.26"));
        assert_non_null(strstr(c.out, "containerPort: 8080"));
        assert_null(strstr(c.out, "REVISION"));

        /* Flags before the rollout command. */
        fake_route(f, "GET", "/apis/berth/v1/namespaces/dev/services/web", 200, web);
        run(&c, "rollout", "--server", f->url, "-n", "dev", "history", "svc/web", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "(current)"));
        assert_string_equal(f->last_path, "/apis/berth/v1/namespaces/dev/services/web");

        run(&c, "--server", f->url, "rollout", "history", "svc/web", "--revision", "9", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "error: revision 9 of service/web is not in its history "
                                   "(revisions kept: 1, 2, 3)\n");
        capture_release(&c);
}

static void test_rollout_usage(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};

        fake_reset(f);
        run(&c, "rollout", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "a rollout command is required"));
        run(&c, "rollout", "-n", "dev", "pause", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "unknown rollout command \"pause\""));
        run(&c, "rollout", "pause", "svc/web", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "unknown rollout command \"pause\""));
        run(&c, "rollout", "status", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "a service is required: service/NAME"));
        run(&c, "rollout", "undo", "task/x", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "rollout undo works on services only, not tasks"));

        /* Help for every verb. */
        const char *const verbs[][2] = {
            {"scale", NULL},        {"rollout", NULL},   {"rollout", "status"},
            {"rollout", "restart"}, {"rollout", "undo"}, {"rollout", "history"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
                if (verbs[i][1])
                        run(&c, verbs[i][0], verbs[i][1], "--help", NULL);
                else
                        run(&c, verbs[i][0], "--help", NULL);
                assert_int_equal(c.rc, 0);
                assert_non_null(strstr(c.out, "Usage:\n  berth "));
                assert_non_null(strstr(c.out, "Example"));
        }
        run(&c, "rollout", "undo", "--help", NULL);
        assert_non_null(strstr(c.out, "--to-revision N"));
        run(&c, "help", "scale", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "--replicas N"));
        run(&c, "--help", NULL);
        assert_non_null(strstr(c.out, "  scale "));
        assert_non_null(strstr(c.out, "  rollout "));
        run(&c, "logs", "--help", NULL);
        assert_non_null(strstr(c.out, "--replica I"));
        assert_int_equal(f->requests, 0);
        capture_release(&c);
}

/* ---- logs ----------------------------------------------------------------- */

#define LOG_PATH(q) SVC_PATH "/log?" q

static void test_logs_service(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        /* Replica 0 twice (old and new revision during a rollout), then 1. */
        _cleanup_free_ char *three = web_with(
            "{\"replicaStatuses\":[{\"index\":1,\"revision\":3},{\"index\":0,\"revision\":2},"
            "{\"index\":0,\"revision\":3}]}");

        /* Lines cut across writes come out whole, each with its prefix; a
         * last line without '\n' too; empty lines are kept. */
        fake_reset(f);
        fake_route(f, "GET", SVC_PATH, 200, three);
        fake_add(f, &(struct fake_route){.method = "GET",
                                         .path = LOG_PATH("replica=0"),
                                         .status = 200,
                                         .content_type = "text/plain",
                                         .body = "one pa" FAKE_CHUNK "rt\n\n" FAKE_CHUNK "two\n",
                                         .chunk_ms = 50});
        fake_add(f, &(struct fake_route){.method = "GET",
                                         .path = LOG_PATH("replica=1"),
                                         .status = 200,
                                         .content_type = "text/plain",
                                         .body = "x" FAKE_CHUNK "y\r\n" FAKE_CHUNK "no newline",
                                         .chunk_ms = 50});
        run(&c, "--server", f->url, "logs", "service/web", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.err, "");
        assert_int_equal(count(c.out, "\n"), 5);
        assert_non_null(strstr(c.out, "[web-0] one part\n"));
        assert_non_null(strstr(c.out, "[web-0] \n"));
        assert_non_null(strstr(c.out, "[web-0] two\n"));
        assert_non_null(strstr(c.out, "[web-1] xy\n"));
        assert_non_null(strstr(c.out, "[web-1] no newline\n"));
        assert_true(strstr(c.out, "[web-0] one part\n") < strstr(c.out, "[web-0] two\n"));
        assert_int_equal(f->requests, 3); /* the object, one stream per index */

        /* -f: both followed at once, lines as they come. Replica 0 says its
         * second line late; replica 1's line comes before it. */
        fake_reset(f);
        fake_route(f, "GET", SVC_PATH, 200, three);
        fake_add(f, &(struct fake_route){.method = "GET",
                                         .path = LOG_PATH("replica=0&follow=true&tailLines=5&"
                                                          "timestamps=true"),
                                         .status = 200,
                                         .content_type = "text/plain",
                                         .body = "early\n" FAKE_CHUNK "late\n",
                                         .chunk_ms = 800});
        fake_route(f, "GET", LOG_PATH("replica=1&follow=true&tailLines=5&timestamps=true"), 200,
                   "meanwhile\n");
        run(&c, "--server", f->url, "logs", "-f", "--tail", "5", "--timestamps", "svc/web", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "[web-1] meanwhile\n"));
        assert_non_null(strstr(c.out, "[web-0] late\n"));
        assert_true(strstr(c.out, "[web-1] meanwhile\n") < strstr(c.out, "[web-0] late\n"));

        /* One replica's log cannot be had: said with its prefix, the other
         * printed, exit 1. */
        fake_reset(f);
        fake_route(f, "GET", SVC_PATH, 200, three);
        fake_route(f, "GET", LOG_PATH("replica=0"), 200, "fine\n");
        run(&c, "--server", f->url, "logs", "svc/web", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.out, "[web-0] fine\n");
        assert_string_equal(c.err, "[web-1] Error from server (NotFound): not found\n");

        /* --replica: that one stream, as it comes (no prefix). */
        fake_reset(f);
        fake_route(f, "GET", LOG_PATH("replica=1&follow=true"), 200, "raw\n");
        run(&c, "--server", f->url, "logs", "svc/web", "--replica", "1", "-f", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "raw\n");
        assert_int_equal(f->requests, 1);

        /* A line longer than the cap comes in pieces, each prefixed. */
        char *big = malloc(64 * 1024 + 12);
        assert_non_null(big);
        memset(big, 'x', 64 * 1024 + 10);
        memcpy(big + 64 * 1024 + 10, "\n", 2);
        _cleanup_free_ char *one = web_with("{\"replicaStatuses\":[{\"index\":0}]}");
        fake_reset(f);
        fake_route(f, "GET", SVC_PATH, 200, one);
        fake_route(f, "GET", LOG_PATH("replica=0"), 200, big);
        run(&c, "--server", f->url, "logs", "svc/web", NULL);
        assert_int_equal(c.rc, 0);
        assert_int_equal(count(c.out, "[web-0] "), 2);
        assert_int_equal(strlen(c.out), 2 * strlen("[web-0] \n") + 64 * 1024 + 10);
        assert_non_null(strstr(c.out, "x\n[web-0] xxxxxxxxxx\n"));
        free(big);

        /* No replicas yet. */
        _cleanup_free_ char *none = web_with("{\"replicaStatuses\":[]}");
        fake_reset(f);
        fake_route(f, "GET", SVC_PATH, 200, none);
        run(&c, "--server", f->url, "logs", "svc/web", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "error: service/web has no replicas yet\n");

        /* Flags for other kinds. */
        run(&c, "--server", f->url, "logs", "svc/web", "--attempt", "2", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "pick a replica of a service with --replica"));
        run(&c, "--server", f->url, "logs", "task/x", "--replica", "0", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "--replica is for services, not tasks"));
        run(&c, "--server", f->url, "logs", "svc/web", "--replica", "-1", NULL);
        assert_int_equal(c.rc, 2);
        capture_release(&c);
}

int main(void)
{
        const struct CMUnitTest pure[] = {
            cmocka_unit_test(test_rollout_eval),
            cmocka_unit_test(test_history_find_and_restore),
            cmocka_unit_test(test_history_print),
            cmocka_unit_test(test_describe_service),
        };
        const struct CMUnitTest served[] = {
            cmocka_unit_test(test_scale),           cmocka_unit_test(test_rollout_status),
            cmocka_unit_test(test_rollout_restart), cmocka_unit_test(test_rollout_undo),
            cmocka_unit_test(test_rollout_history), cmocka_unit_test(test_rollout_usage),
            cmocka_unit_test(test_logs_service),
        };
        cli_test_env();
        unsetenv("NO_COLOR");
        int failed = cmocka_run_group_tests_name("service-pure", pure, NULL, NULL);
        failed += cmocka_run_group_tests_name("service-served", served, fake_setup, fake_teardown);
        return failed;
}
