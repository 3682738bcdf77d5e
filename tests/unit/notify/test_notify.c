/* Unit tests of the notify module's pure pieces and built-in types: what
 * an Event means (outcomes, the selector, why a run failed, whose run it
 * was), the outcome memory behind Recovered (order, repeats, age, its
 * bound), the bounded queue, the webhook signature (RFC 4231), the retry
 * schedule, payloads, the mail text; then the webhook type against a small
 * HTTP server of the test's own and the exec type on scripts in a
 * temporary directory. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "notify-internal.h"
#include "test-support.h"

/* ---- matching ----------------------------------------------------------------- */

static void test_outcomes(void **state)
{
        (void)state;
        const char *o[NOTIFY_OUTCOMES_PER_EVENT];
        struct notify_facts f = {.kind = "Task", .reason = "Completed"};

        assert_int_equal(notify_outcomes(&f, o), 2);
        assert_string_equal(o[0], "Succeeded");
        assert_string_equal(o[1], "Completed");
        f.recovered = true;
        assert_int_equal(notify_outcomes(&f, o), 3);
        assert_string_equal(o[0], "Recovered");
        assert_string_equal(o[1], "Succeeded");

        f = (struct notify_facts){.kind = "Task", .reason = "Failed", .failure_reason = "Error"};
        assert_int_equal(notify_outcomes(&f, o), 1);
        assert_string_equal(o[0], "Failed");
        f.failure_reason = "BackoffLimitExceeded";
        assert_int_equal(notify_outcomes(&f, o), 2);
        assert_string_equal(o[0], "BackoffLimitExceeded");
        assert_string_equal(o[1], "Failed");
        /* A Task's deadline is its own Event; a Workflow has none. */
        f.failure_reason = "DeadlineExceeded";
        assert_int_equal(notify_outcomes(&f, o), 1);
        f.kind = "Workflow";
        assert_int_equal(notify_outcomes(&f, o), 2);
        assert_string_equal(o[0], "DeadlineExceeded");

        f = (struct notify_facts){.kind = "CronTask", .reason = "ScheduleMissed"};
        assert_int_equal(notify_outcomes(&f, o), 1);
        assert_string_equal(o[0], "ScheduleMissed");
        f.reason = NULL;
        assert_int_equal(notify_outcomes(&f, o), 0);
}

static void test_match(void **state)
{
        (void)state;
        _cleanup_json_ json_t *sel = json_pack("{s:s}", "team", "data");
        _cleanup_json_ json_t *data = json_pack("{s:s, s:s}", "team", "data", "tier", "batch");
        _cleanup_json_ json_t *web = json_pack("{s:s}", "team", "web");
        struct notifier_spec spec = {.match_labels = sel, .on = {"Failed", "Recovered"}, .n_on = 2};
        const char *completed[] = {"Recovered", "Succeeded", "Completed"};
        const char *succeeded[] = {"Succeeded", "Completed"};
        const char *failed[] = {"BackoffLimitExceeded", "Failed"};

        assert_true(notify_selector_matches(sel, data));
        assert_false(notify_selector_matches(sel, web));
        assert_false(notify_selector_matches(sel, NULL));
        assert_true(notify_selector_matches(NULL, NULL));
        /* The most specific outcome that on names labels the delivery. */
        assert_string_equal(notify_match(&spec, data, completed, 3), "Recovered");
        assert_null(notify_match(&spec, data, succeeded, 2));
        assert_string_equal(notify_match(&spec, data, failed, 2), "Failed");
        assert_null(notify_match(&spec, web, failed, 2));
        assert_null(notify_match(&spec, NULL, failed, 2));
        spec.on[0] = "BackoffLimitExceeded";
        assert_string_equal(notify_match(&spec, data, failed, 2), "BackoffLimitExceeded");
        /* No selector: every object, known or not. */
        spec.match_labels = NULL;
        assert_string_equal(notify_match(&spec, NULL, completed, 3), "Recovered");
}

static void test_failure_reason(void **state)
{
        (void)state;
        char r[EVENT_REASON_MAX + 1];
        _cleanup_json_ json_t *ev =
            json_pack("{s:{s:s, s:s, s:s}, s:s, s:s}", "involvedObject", "kind", "Task", "name",
                      "etl", "uid", "u1", "reason", "Failed", "message",
                      "BackoffLimitExceeded: exit code 3 after 3 attempts");
        _cleanup_json_ json_t *same = json_pack("{s:{s:s}, s:{s:s}}", "metadata", "uid", "u1",
                                                "status", "reason", "OOMKilled");
        _cleanup_json_ json_t *other = json_pack("{s:{s:s}, s:{s:s}}", "metadata", "uid", "u2",
                                                 "status", "reason", "OOMKilled");

        notify_failure_reason(ev, same, r);
        assert_string_equal(r, "OOMKilled");
        /* Another run of that name: the Event's own words. */
        notify_failure_reason(ev, other, r);
        assert_string_equal(r, "BackoffLimitExceeded");
        notify_failure_reason(ev, NULL, r);
        assert_string_equal(r, "BackoffLimitExceeded");
        assert_int_equal(json_object_set_new(ev, "message", json_string("Error")), 0);
        notify_failure_reason(ev, NULL, r);
        assert_string_equal(r, "Error");
        assert_int_equal(json_object_set_new(ev, "message", json_string("exit code 3: bad")), 0);
        notify_failure_reason(ev, NULL, r);
        assert_string_equal(r, "");
        assert_int_equal(json_object_del(ev, "message"), 0);
        notify_failure_reason(ev, NULL, r);
        assert_string_equal(r, "");
}

static void test_run_identity(void **state)
{
        (void)state;
        const char *kind, *name;
        _cleanup_json_ json_t *ev = json_pack("{s:{s:s, s:s}}", "involvedObject", "kind", "Task",
                                              "name", "nightly-29000000");
        _cleanup_json_ json_t *run =
            json_pack("{s:{s:[{s:s, s:s, s:b}]}}", "metadata", "ownerReferences", "kind",
                      "CronTask", "name", "nightly", "controller", 1);
        _cleanup_json_ json_t *labelled =
            json_pack("{s:{s:{s:s}}}", "metadata", "labels", CRONTASK_LABEL, "nightly");
        _cleanup_json_ json_t *step =
            json_pack("{s:{s:[{s:s, s:s, s:b}]}}", "metadata", "ownerReferences", "kind",
                      "Workflow", "name", "etl", "controller", 1);

        notify_run_identity(ev, run, &kind, &name);
        assert_string_equal(kind, "CronTask");
        assert_string_equal(name, "nightly");
        notify_run_identity(ev, labelled, &kind, &name);
        assert_string_equal(kind, "CronTask");
        assert_string_equal(name, "nightly");
        notify_run_identity(ev, step, &kind, &name);
        assert_string_equal(kind, "Task");
        assert_string_equal(name, "nightly-29000000");
        notify_run_identity(ev, NULL, &kind, &name);
        assert_string_equal(kind, "Task");
}

/* ---- the outcome memory ----------------------------------------------------------- */

static void test_outcome_map(void **state)
{
        (void)state;
        struct outcome_map *m = NULL;

        assert_int_equal(outcome_map_new(0, 1000, NULL, NULL, &m), -EINVAL);
        assert_int_equal(outcome_map_new(3, 1000, NULL, NULL, &m), 0);
        /* A failure, then a success of another run of that name: recovered. */
        assert_int_equal(outcome_map_record(m, "Task", "default", "etl", "u1", true, 0), RUN_NONE);
        assert_int_equal(outcome_map_record(m, "Task", "default", "etl", "u2", false, 10),
                         RUN_FAILED);
        /* The same run told twice reads as the first time. */
        assert_int_equal(outcome_map_record(m, "Task", "default", "etl", "u2", false, 11),
                         RUN_FAILED);
        assert_int_equal(outcome_map_record(m, "Task", "default", "etl", "u3", false, 12),
                         RUN_SUCCEEDED);
        /* Kinds and namespaces are apart. */
        assert_int_equal(outcome_map_record(m, "Workflow", "default", "etl", "w1", true, 13),
                         RUN_NONE);
        assert_int_equal(outcome_map_record(m, "Task", "prod", "etl", "p1", true, 14), RUN_NONE);
        assert_int_equal(outcome_map_size(m), 3);
        /* Full: the oldest (Task default/etl, last at 12) goes. */
        assert_int_equal(outcome_map_record(m, "Task", "default", "other", "o1", true, 15),
                         RUN_NONE);
        assert_int_equal(outcome_map_size(m), 3);
        assert_int_equal(outcome_map_record(m, "Task", "default", "etl", "u4", false, 16),
                         RUN_NONE);
        /* Too old to count: forgotten (keep 1000 ms). */
        assert_int_equal(outcome_map_record(m, "Task", "prod", "etl", "p2", false, 2000), RUN_NONE);
        /* Unknown uids: each record is a run of its own. */
        assert_int_equal(outcome_map_record(m, "Task", "x", "y", NULL, true, 2001), RUN_NONE);
        assert_int_equal(outcome_map_record(m, "Task", "x", "y", NULL, false, 2002), RUN_FAILED);
        assert_int_equal(outcome_map_record(m, "Task", "x", "y", "", false, 2003), RUN_SUCCEEDED);
        assert_int_equal(outcome_map_record(m, NULL, "x", "y", "", false, 2003), RUN_NONE);
        outcome_map_free(m);
        outcome_map_free(NULL);
        assert_int_equal(outcome_map_size(NULL), 0);
}

static void test_outcome_map_bound(void **state)
{
        (void)state;
        struct outcome_map *m = NULL;
        char name[32];

        assert_int_equal(outcome_map_new(1000, 24LL * 3600 * 1000, NULL, NULL, &m), 0);
        for (int i = 0; i < 5000; i++) {
                snprintf(name, sizeof(name), "t%d", i);
                (void)outcome_map_record(m, "Task", "default", name, name, true, i);
        }
        assert_int_equal(outcome_map_size(m), 1000);
        /* The last thousand are there, the first ones are not. */
        assert_int_equal(outcome_map_record(m, "Task", "default", "t4999", "new", false, 5000),
                         RUN_FAILED);
        assert_int_equal(outcome_map_record(m, "Task", "default", "t0", "new", false, 5001),
                         RUN_NONE);
        outcome_map_free(m);
}

/* ---- the queue --------------------------------------------------------------------- */

static struct delivery *delivery_named(int i)
{
        struct delivery *d = calloc(1, sizeof(*d));

        assert_non_null(d);
        snprintf(d->id, sizeof(d->id), "%d", i);
        d->body = strdup("{}");
        d->len = 2;
        return d;
}

static void test_queue(void **state)
{
        (void)state;
        struct delivery_queue q;

        assert_int_equal(delivery_queue_init(&q, 0), -EINVAL);
        assert_int_equal(delivery_queue_init(&q, 3), 0);
        assert_null(delivery_queue_head(&q));
        assert_null(delivery_queue_pop(&q));
        for (int i = 0; i < 3; i++)
                assert_int_equal(delivery_queue_push(&q, delivery_named(i)), 0);
        struct delivery *extra = delivery_named(99);
        assert_int_equal(delivery_queue_push(&q, extra), -ENOBUFS);
        delivery_free(extra);
        /* Around the ring, in order. */
        for (int round = 0; round < 5; round++) {
                struct delivery *d = delivery_queue_pop(&q);
                char want[8];

                snprintf(want, sizeof(want), "%d", round);
                assert_string_equal(d->id, want);
                delivery_free(d);
                assert_int_equal(delivery_queue_push(&q, delivery_named(round + 3)), 0);
        }
        assert_string_equal(delivery_queue_head(&q)->id, "5");
        assert_int_equal(delivery_queue_drop(&q, true), 2);
        assert_int_equal(q.n, 1);
        assert_string_equal(delivery_queue_head(&q)->id, "5");
        assert_int_equal(delivery_queue_push(&q, delivery_named(8)), 0);
        delivery_queue_release(&q); /* frees what it holds: ASan says */
        delivery_queue_release(&q);
        delivery_free(NULL);
}

/* ---- signatures and retries -------------------------------------------------------- */

static void test_signature(void **state)
{
        (void)state;
        char sig[NOTIFY_SIGNATURE_LEN];
        const char *data = "what do ya want for nothing?";

        /* RFC 4231, test case 2. */
        assert_int_equal(notify_signature("Jefe", 4, data, strlen(data), sig), 0);
        assert_string_equal(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b9"
                                 "64ec3843");
        /* An empty key is a key. */
        assert_int_equal(notify_signature("", 0, "", 0, sig), 0);
        assert_string_equal(sig, "sha256=b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c7121"
                                 "44292c5ad");
}

static void test_retry_schedule(void **state)
{
        (void)state;
        static const int64_t want[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000};

        for (int i = 0; i < (int)ARRAY_SIZE(want); i++)
                assert_int_equal(notify_retry_delay_ms(i + 1, 1000, 30000), want[i]);
        assert_int_equal(notify_retry_delay_ms(1000, 1000, 30000), 30000);
        assert_int_equal(notify_retry_delay_ms(3, 10, 1000), 40);
        assert_true(notify_http_retryable(500));
        assert_true(notify_http_retryable(503));
        assert_true(notify_http_retryable(429));
        assert_false(notify_http_retryable(404));
        assert_false(notify_http_retryable(400));
        assert_false(notify_http_retryable(301));
        assert_false(notify_http_retryable(200));
}

/* ---- payloads ------------------------------------------------------------------------- */

static json_t *sample_event(void)
{
        return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s}, s:s, s:s, s:s, s:i, "
                         "s:s}",
                         "apiVersion", "berth/v1", "kind", "Event", "metadata", "name",
                         "etl-0123456789abcdef", "namespace", "default", "involvedObject", "kind",
                         "Task", "namespace", "default", "name", "etl", "uid", "u1", "type",
                         "Warning", "reason", "Failed", "message", "Error: exit code 3\nsee log",
                         "count", 1, "lastTimestamp", "2026-12-07T05:00:00.123Z");
}

static void test_payload(void **state)
{
        (void)state;
        _cleanup_json_ json_t *ev = sample_event();
        _cleanup_json_ json_t *obj = json_pack(
            "{s:{s:s, s:{s:s}, s:s}, s:{s:s, s:s, s:i, s:s, s:[]}}", "metadata", "name", "etl",
            "labels", "team", "data", "uid", "u1", "status", "phase", "Failed", "reason", "Error",
            "exitCode", 3, "completionTime", "2026-12-07T05:00:00Z", "conditions");
        _cleanup_json_ json_t *p = notify_payload(ev, obj, "Failed", "default", "data-team", "id1");

        assert_non_null(p);
        assert_string_equal(json_string_value(json_object_get(p, "kind")), "Notification");
        assert_string_equal(json_path_string(p, "outcome"), "Failed");
        assert_string_equal(json_path_string(p, "id"), "id1");
        assert_string_equal(json_path_string(p, "notifier.name"), "data-team");
        assert_string_equal(json_path_string(p, "event.reason"), "Failed");
        assert_string_equal(json_path_string(p, "object.kind"), "Task");
        assert_string_equal(json_path_string(p, "object.labels.team"), "data");
        assert_string_equal(json_path_string(p, "object.status.phase"), "Failed");
        assert_int_equal(json_path_int(p, "object.status.exitCode", 0), 3);
        /* A summary, not the whole status. */
        assert_null(json_path(p, "object.status.conditions"));

        _cleanup_free_ char *s = notify_summary(p);
        assert_string_equal(s, "Failed: Task default/etl: Error: exit code 3 see log");

        /* Without the object: what the Event says of it. */
        _cleanup_json_ json_t *bare = notify_payload(ev, NULL, "Failed", "default", "n", "id2");
        assert_string_equal(json_path_string(bare, "object.uid"), "u1");
        assert_null(json_path(bare, "object.status"));
}

static void test_summary_cap(void **state)
{
        (void)state;
        char big[3000];

        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        memcpy(big + 1020, "\xc3\xa9\xc3\xa9", 4); /* cut inside no character */
        _cleanup_json_ json_t *p =
            json_pack("{s:s, s:{s:s, s:s}, s:{s:s}}", "outcome", "Failed", "object", "kind", "Task",
                      "name", "t", "event", "message", big);
        _cleanup_free_ char *s = notify_summary(p);

        assert_true(strlen(s) <= 1024);
        assert_true(utf8_valid(s, strlen(s)));
}

static const struct notifier_spec mail_spec = {
    .type = "smtp",
    .builtin = NOTIFIER_SMTP,
    .url = "smtp://127.0.0.1:1",
    .from = "berth@example.com",
    .to = {"ops@example.com", "data@example.com"},
    .n_to = 2,
    .timeout_ms = 1000,
    .max_attempts = 1,
};

static void test_smtp_message(void **state)
{
        (void)state;
        _cleanup_json_ json_t *ev = sample_event();
        _cleanup_json_ json_t *p = notify_payload(ev, NULL, "Failed", "default", "ops", "id7");
        _cleanup_free_ char *summary = notify_summary(p);
        const struct notify_delivery d = {
            .notifier_ns = "default",
            .notifier_name = "ops",
            .spec = &mail_spec,
            .id = "id7",
            .outcome = "Failed",
            .payload = p,
            .summary = summary,
        };
        _cleanup_free_ char *m = notify_smtp_message(&d, 1796619600000LL);

        assert_non_null(strstr(m, "Date: Mon, 07 Dec 2026 05:00:00 +0000\r\n"));
        assert_non_null(strstr(m, "From: <berth@example.com>\r\n"));
        assert_non_null(strstr(m, "To: <ops@example.com>, <data@example.com>\r\n"));
        assert_non_null(
            strstr(m, "Subject: [berth] Failed: Task default/etl: Error: exit code 3 see log\r\n"));
        assert_non_null(strstr(m, "X-Berth-Delivery: id7\r\n"));
        assert_non_null(strstr(m, "\r\n\r\nOutcome:   Failed\r\n"));
        assert_non_null(strstr(m, "Said:      Error: exit code 3 see log\r\n"));
        assert_non_null(strstr(m, "Notifier:  default/ops\r\n"));
        /* Every line ends with CRLF: no bare LF reaches the server. */
        for (const char *c = m; *c; c++)
                if (*c == '\n')
                        assert_true(c > m && c[-1] == '\r');

        /* Nothing listens on port 1: a connection error, worth a retry. */
        atomic_bool stopping = false;
        struct notify_delivery send = d;
        struct notify_result res = {0};
        send.stopping = &stopping;
        assert_true(notify_smtp_deliver(&send, &res, NULL) < 0);
        assert_true(res.retry);
        assert_non_null(strstr(res.error, "mail to ops@example.com via smtp://127.0.0.1:1: "));
}

/* ---- the webhook type, against a server of our own ------------------------------------- */

#define SERVER_REQUESTS_MAX 8

struct http_server {
        int fd;
        int port;
        pthread_t thread;
        int statuses[SERVER_REQUESTS_MAX]; /* the reply to each request in turn (0: 200) */
        int n;                             /* requests seen */
        char requests[SERVER_REQUESTS_MAX][8192];
};

static void *serve(void *userdata)
{
        struct http_server *s = userdata;

        for (;;) {
                int c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
                char *req;
                size_t len = 0;
                ssize_t got;
                char reply[128];

                if (c < 0)
                        return NULL;
                if (s->n >= SERVER_REQUESTS_MAX) {
                        close(c);
                        continue;
                }
                req = s->requests[s->n];
                /* Headers, then Content-Length bytes of body. */
                while (len < sizeof(s->requests[0]) - 1 &&
                       (got = recv(c, req + len, sizeof(s->requests[0]) - 1 - len, 0)) > 0) {
                        len += (size_t)got;
                        req[len] = '\0';
                        const char *end = strstr(req, "\r\n\r\n");
                        const char *cl = strcasestr(req, "Content-Length: ");
                        if (end && cl &&
                            len >= (size_t)(end + 4 - req) + strtoul(cl + 16, NULL, 10))
                                break;
                }
                int status = s->statuses[s->n] ? s->statuses[s->n] : 200;
                s->n++;
                snprintf(reply, sizeof(reply),
                         "HTTP/1.1 %d X\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope",
                         status);
                (void)send(c, reply, strlen(reply), MSG_NOSIGNAL);
                close(c);
        }
}

static void server_start(struct http_server *s)
{
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t alen = sizeof(a);

        s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(s->fd >= 0);
        assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(listen(s->fd, 8), 0);
        assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &alen), 0);
        s->port = ntohs(a.sin_port);
        assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(struct http_server *s)
{
        shutdown(s->fd, SHUT_RDWR);
        pthread_join(s->thread, NULL);
        close(s->fd);
}

static void test_webhook(void **state)
{
        (void)state;
        struct http_server srv = {.statuses = {500, 200, 404}};
        char url[64], sig[NOTIFY_SIGNATURE_LEN], header[128];
        atomic_bool stopping = false;
        const char *body = "{\"outcome\":\"Failed\"}";

        server_start(&srv);
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", srv.port);
        const struct notifier_spec spec = {
            .type = "webhook", .url = url, .timeout_ms = 2000, .max_attempts = 5};
        struct notify_delivery d = {
            .notifier_ns = "default",
            .notifier_name = "n",
            .spec = &spec,
            .id = "abc123",
            .outcome = "Failed",
            .body = body,
            .body_len = strlen(body),
            .summary = "Failed: Task default/etl",
            .secret = (const unsigned char *)"s3cr3t",
            .secret_len = 6,
            .attempt = 1,
            .stopping = &stopping,
        };
        struct notify_result res = {0};

        /* 500: a failure worth another attempt. */
        assert_int_equal(notify_webhook_deliver(&d, &res, NULL), -EPROTO);
        assert_true(res.retry);
        assert_int_equal(res.code, 500);
        assert_non_null(strstr(res.error, ": 500 nope"));
        /* 200: sent, signed, with its id and outcome. */
        res = (struct notify_result){0};
        assert_int_equal(notify_webhook_deliver(&d, &res, NULL), 0);
        assert_int_equal(res.code, 200);
        const char *req = srv.requests[1];
        assert_non_null(strstr(req, "POST /hook HTTP/1.1\r\n"));
        assert_non_null(strstr(req, "Content-Type: application/json\r\n"));
        assert_non_null(strstr(req, "X-Berth-Delivery: abc123\r\n"));
        assert_non_null(strstr(req, "X-Berth-Event: Failed\r\n"));
        assert_int_equal(notify_signature("s3cr3t", 6, body, strlen(body), sig), 0);
        snprintf(header, sizeof(header), "X-Berth-Signature: %s\r\n", sig);
        assert_non_null(strstr(req, header));
        assert_non_null(strstr(req, "\r\n\r\n{\"outcome\":\"Failed\"}"));
        /* 404: a failure that another attempt would not mend. */
        res = (struct notify_result){0};
        assert_int_equal(notify_webhook_deliver(&d, &res, NULL), -EPROTO);
        assert_false(res.retry);
        assert_int_equal(res.code, 404);
        /* Unsigned without a secret. */
        d.secret = NULL;
        res = (struct notify_result){0};
        assert_int_equal(notify_webhook_deliver(&d, &res, NULL), 0);
        assert_null(strstr(srv.requests[3], "X-Berth-Signature"));
        server_stop(&srv);

        /* Nobody listens any more: a connection error, worth a retry. */
        res = (struct notify_result){0};
        assert_true(notify_webhook_deliver(&d, &res, NULL) < 0);
        assert_true(res.retry);
        assert_int_equal(res.code, 0);
}

static void test_slack(void **state)
{
        (void)state;
        struct http_server srv = {.statuses = {200}};
        char url[64];
        atomic_bool stopping = false;

        server_start(&srv);
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/services/T/B/X\n", srv.port);
        /* The URL from a Secret: never in a message. */
        const struct notifier_spec spec = {.type = "slack",
                                           .secret = {.name = "slack", .key = "url"},
                                           .timeout_ms = 2000,
                                           .max_attempts = 1};
        struct notify_delivery d = {
            .notifier_ns = "default",
            .notifier_name = "n",
            .spec = &spec,
            .id = "abc",
            .outcome = "Failed",
            .body = "{}",
            .body_len = 2,
            .summary = "Failed: Task default/etl: \"quoted\"",
            .secret = (const unsigned char *)url,
            .secret_len = strlen(url),
            .attempt = 1,
            .stopping = &stopping,
        };
        struct notify_result res = {0};

        assert_int_equal(notify_slack_deliver(&d, &res, NULL), 0);
        assert_non_null(strstr(srv.requests[0], "POST /services/T/B/X HTTP/1.1\r\n"));
        assert_non_null(strstr(srv.requests[0],
                               "{\"text\":\"[berth] Failed: Task default/etl: \\\"quoted\\\"\"}"));
        server_stop(&srv);
        res = (struct notify_result){0};
        assert_true(notify_slack_deliver(&d, &res, NULL) < 0);
        assert_null(strstr(res.error, "/services/"));
        assert_non_null(strstr(res.error, "POST <Secret slack key url>: "));
}

/* ---- the exec type ---------------------------------------------------------------------- */

static void write_script(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        assert_int_equal(chmod(path, 0755), 0);
}

static void test_exec(void **state)
{
        (void)state;
        char dir[] = "/tmp/berth-notify-XXXXXX";
        char ok[128], fail[128], slow[128], out[128], script[512];
        atomic_bool stopping = false;
        const char *body = "{\"outcome\":\"Failed\"}";

        assert_non_null(mkdtemp(dir));
        snprintf(ok, sizeof(ok), "%s/ok.sh", dir);
        snprintf(fail, sizeof(fail), "%s/fail.sh", dir);
        snprintf(slow, sizeof(slow), "%s/slow.sh", dir);
        snprintf(out, sizeof(out), "%s/out", dir);
        snprintf(script, sizeof(script),
                 "#!/bin/sh\ncat > %s\necho \"$1 $BERTH_NOTIFIER $BERTH_EVENT $BERTH_DELIVERY "
                 "$BERTH_ATTEMPT $(pwd)\" >> %s\n",
                 out, out);
        write_script(ok, script);
        write_script(fail, "#!/bin/sh\necho broken >&2\nexit 3\n");
        write_script(slow, "#!/bin/sh\nsleep 30\n");
        const struct notifier_spec spec = {.type = "exec",
                                           .builtin = NOTIFIER_EXEC,
                                           .args = {"--flag"},
                                           .n_args = 1,
                                           .timeout_ms = 1000,
                                           .max_attempts = 1};
        struct notify_delivery d = {
            .notifier_ns = "default",
            .notifier_name = "pager",
            .spec = &spec,
            .id = "d1",
            .outcome = "Failed",
            .body = body,
            .body_len = strlen(body),
            .program = ok,
            .attempt = 2,
            .stopping = &stopping,
        };
        struct notify_result res = {0};
        char got[512] = "";

        assert_int_equal(notify_exec_deliver(&d, &res, NULL), 0);
        FILE *f = fopen(out, "re");
        assert_non_null(f);
        size_t n = fread(got, 1, sizeof(got) - 1, f);
        fclose(f);
        got[n] = '\0';
        assert_string_equal(got, "{\"outcome\":\"Failed\"}--flag default/pager Failed d1 2 /\n");

        d.program = fail;
        assert_int_equal(notify_exec_deliver(&d, &res, NULL), -EPROTO);
        assert_int_equal(res.code, 3);
        assert_non_null(strstr(res.error, "exited with status 3: broken"));

        d.program = slow;
        res = (struct notify_result){0};
        int64_t start = time_mono_ms();
        assert_int_equal(notify_exec_deliver(&d, &res, NULL), -ETIMEDOUT);
        assert_true(time_mono_ms() - start < 5000);
        assert_non_null(strstr(res.error, "killed after 1s"));

        /* berthd stopping: the program goes at once. */
        atomic_store(&stopping, true);
        start = time_mono_ms();
        assert_int_equal(notify_exec_deliver(&d, &res, NULL), -ECANCELED);
        assert_true(time_mono_ms() - start < 1000);
        d.program = NULL;
        assert_int_equal(notify_exec_deliver(&d, &res, NULL), -EINVAL);
        test_rm_tree(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_outcomes),       cmocka_unit_test(test_match),
            cmocka_unit_test(test_failure_reason), cmocka_unit_test(test_run_identity),
            cmocka_unit_test(test_outcome_map),    cmocka_unit_test(test_outcome_map_bound),
            cmocka_unit_test(test_queue),          cmocka_unit_test(test_signature),
            cmocka_unit_test(test_retry_schedule), cmocka_unit_test(test_payload),
            cmocka_unit_test(test_summary_cap),    cmocka_unit_test(test_smtp_message),
            cmocka_unit_test(test_webhook),        cmocka_unit_test(test_slack),
            cmocka_unit_test(test_exec),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
