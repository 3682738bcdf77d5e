/* Unit tests of probe: the pure HTTP pieces, and the prober against real
 * loopback sockets — a small server in the test (one thread accepting, one
 * per connection) whose answer the test switches between 200, 500, 503,
 * silence, a hang-up and garbage, and which counts connections, requests and
 * the requests it holds at once. Waits are bounded and driven by condition
 * variables (the change callback, the server's counters), never by sleeps;
 * no test asserts how long anything took. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>

#include "probe-internal.h"
#include "test-support.h"

#define WAIT_MS      10000
#define OWNER        "/berth/services/default/web"
#define MAX_HANDLERS 512

/* ---- the change callback ------------------------------------------------ */

/* Waits until the callback has run n times in all, then expects id to be
 * h: the status is written before the callback runs, so it is there by then.
 * A callback run twice for one change shows as the wrong health. */
static void expect_change(struct change_watch *w, struct prober *p, const char *id, int n,
                          enum probe_health h, struct probe_status *ret)
{
        struct probe_status s = {0};
        int seen = change_watch_wait(w, n, WAIT_MS);

        if (seen < n) {
                (void)prober_status(p, id, &s);
                fail_msg("%s: %d of %d changes after %d ms, %s (%s)", id, seen, n, WAIT_MS,
                         probe_health_to_string(s.health), s.message);
        }
        assert_int_equal(prober_status(p, id, &s), 0);
        if (s.health != h)
                fail_msg("%s: %s (%s), not %s after change %d", id,
                         probe_health_to_string(s.health), s.message, probe_health_to_string(h), n);
        if (ret)
                *ret = s;
}

/* ---- the server ------------------------------------------------------- */

enum reply {
        REPLY_200,
        REPLY_500,
        REPLY_503,
        REPLY_SILENT,
        REPLY_CLOSE,
        REPLY_GARBAGE,
        REPLY_HOLD
};

struct server {
        int fd, stop_fd, port;
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        enum reply reply;
        /* active: requests read and not yet answered (held or silent), at
         * most as many as the prober has in flight: it counts a probe done
         * only once it has read the answer. */
        int connections, requests, active, max_active;
        char last_request[1024];
        bool stopping;
        pthread_t handlers[MAX_HANDLERS];
        size_t n_handlers;
};

struct conn {
        struct server *s;
        int fd;
};

static void send_all(int fd, const char *text)
{
        size_t len = strlen(text), off = 0;

        while (off < len) {
                ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL);
                if (n <= 0)
                        return; /* the prober hung up: fine */
                off += (size_t)n;
        }
}

static bool server_stopping(struct server *s)
{
        LOCK_SCOPE(&s->lock);

        return s->stopping;
}

/* Reads the request head; false on EOF before one (a TCP probe) or stop. */
static bool read_request(struct server *s, int fd, char *buf, size_t size)
{
        size_t len = 0;

        while (!server_stopping(s)) {
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                ssize_t n;

                if (poll(&pfd, 1, 50) <= 0)
                        continue;
                n = recv(fd, buf + len, size - 1 - len, 0);
                if (n <= 0)
                        return false;
                len += (size_t)n;
                buf[len] = '\0';
                if (strstr(buf, "\r\n\r\n"))
                        return true;
                if (len == size - 1)
                        return false;
        }
        return false;
}

static void *handler_main(void *userdata)
{
        struct conn *c = userdata;
        struct server *s = c->s;
        char request[1024];
        enum reply reply;

        if (!read_request(s, c->fd, request, sizeof(request)))
                goto out;
        pthread_mutex_lock(&s->lock);
        s->requests++;
        memcpy(s->last_request, request, sizeof(request));
        reply = s->reply;
        s->active++;
        if (s->active > s->max_active)
                s->max_active = s->active;
        pthread_cond_broadcast(&s->cond);
        if (reply == REPLY_SILENT)
                while (!s->stopping)
                        pthread_cond_wait(&s->cond, &s->lock);
        /* Held until the test switches the reply, then answered with 200. */
        while (s->reply == REPLY_HOLD && !s->stopping)
                pthread_cond_wait(&s->cond, &s->lock);
        s->active--;
        pthread_mutex_unlock(&s->lock);

        switch (reply) {
        case REPLY_200:
        case REPLY_HOLD:
                send_all(c->fd,
                         "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
                break;
        case REPLY_500:
                send_all(c->fd, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
                break;
        case REPLY_503:
                send_all(c->fd, "HTTP/1.0 503 Service Unavailable\r\n\r\n");
                break;
        case REPLY_GARBAGE:
                send_all(c->fd, "SSH-2.0-OpenSSH_9.2\r\n");
                break;
        case REPLY_SILENT:
        case REPLY_CLOSE:
                break;
        }
out:
        close(c->fd);
        free(c);
        return NULL;
}

static void *server_main(void *userdata)
{
        struct server *s = userdata;

        for (;;) {
                struct pollfd fds[2] = {{.fd = s->fd, .events = POLLIN},
                                        {.fd = s->stop_fd, .events = POLLIN}};
                struct conn *c;
                int fd;

                if (poll(fds, 2, -1) < 0)
                        continue;
                if (fds[1].revents)
                        return NULL;
                fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                        continue;
                pthread_mutex_lock(&s->lock);
                s->connections++;
                pthread_cond_broadcast(&s->cond);
                c = s->n_handlers < MAX_HANDLERS ? malloc(sizeof(*c)) : NULL;
                if (c) {
                        *c = (struct conn){.s = s, .fd = fd};
                        if (pthread_create(&s->handlers[s->n_handlers], NULL, handler_main, c) == 0)
                                s->n_handlers++;
                        else
                                free(c), c = NULL;
                }
                pthread_mutex_unlock(&s->lock);
                if (!c)
                        close(fd);
        }
}

static struct server *server_start(enum reply reply)
{
        struct server *s = calloc(1, sizeof(*s));
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(sa);

        assert_non_null(s);
        pthread_mutex_init(&s->lock, NULL);
        assert_int_equal(cond_init_monotonic(&s->cond), 0);
        s->reply = reply;
        s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(s->fd >= 0);
        assert_int_equal(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(s->fd, 128), 0);
        assert_int_equal(getsockname(s->fd, (struct sockaddr *)&sa, &len), 0);
        s->port = ntohs(sa.sin_port);
        s->stop_fd = eventfd(0, EFD_CLOEXEC);
        assert_true(s->stop_fd >= 0);
        assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
        return s;
}

static void server_stop(struct server *s)
{
        uint64_t one = 1;

        pthread_mutex_lock(&s->lock);
        s->stopping = true;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        assert_int_equal(write(s->stop_fd, &one, sizeof(one)), (ssize_t)sizeof(one));
        pthread_join(s->thread, NULL);
        for (size_t i = 0; i < s->n_handlers; i++)
                pthread_join(s->handlers[i], NULL);
        close(s->fd);
        close(s->stop_fd);
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->lock);
        free(s);
}

static void server_set_reply(struct server *s, enum reply reply)
{
        LOCK_SCOPE(&s->lock);

        s->reply = reply;
        pthread_cond_broadcast(&s->cond); /* releases held requests */
}

static int server_requests(struct server *s)
{
        LOCK_SCOPE(&s->lock);

        return s->requests;
}

/* Waits until the server has read at least n requests (or, with
 * connections, accepted n connections). */
static void server_wait(struct server *s, int n, bool connections)
{
        struct timespec deadline;
        LOCK_SCOPE(&s->lock);

        time_mono_deadline(&deadline, WAIT_MS);
        while ((connections ? s->connections : s->requests) < n)
                if (pthread_cond_timedwait(&s->cond, &s->lock, &deadline) == ETIMEDOUT &&
                    (connections ? s->connections : s->requests) < n)
                        fail_msg("server: %d of %d %s after %d ms",
                                 connections ? s->connections : s->requests, n,
                                 connections ? "connections" : "requests", WAIT_MS);
}

/* Whether the server's requests stay below n for ms: the one wait for
 * something that must not happen, so it cannot make a passing test fail. */
static bool server_quiet(struct server *s, int n, int64_t ms)
{
        struct timespec deadline;
        LOCK_SCOPE(&s->lock);

        time_mono_deadline(&deadline, ms);
        while (s->requests < n)
                if (pthread_cond_timedwait(&s->cond, &s->lock, &deadline) == ETIMEDOUT)
                        return s->requests < n;
        return false;
}

/* A loopback port nobody listens on (bound, then closed). */
static int closed_port(void)
{
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
        close(fd);
        return ntohs(sa.sin_port);
}

static struct probe_target target(enum probe_type type, int port, const char *path)
{
        struct probe_target t = {
            .type = type,
            .port = port,
            .interval_ms = 20,
            .timeout_ms = 5000,
            .start_period_ms = 0,
            .failure_threshold = 3,
        };

        (void)str_copy(t.host, sizeof(t.host), "127.0.0.1");
        (void)str_copy(t.path, sizeof(t.path), path ? path : "/");
        return t;
}

static struct prober *prober_start(int max_in_flight, struct change_watch *w)
{
        struct prober *p = NULL;
        struct berth_error err = {0};

        if (prober_new(max_in_flight, w ? change_watch_fn : NULL, w, &p, &err) < 0)
                fail_msg("prober_new: %s", err.message);
        return p;
}

/* ---- pure pieces -------------------------------------------------------- */

static void test_health_strings(void **state)
{
        (void)state;
        assert_string_equal(probe_health_to_string(PROBE_STARTING), "Starting");
        assert_string_equal(probe_health_to_string(PROBE_HEALTHY), "Healthy");
        assert_string_equal(probe_health_to_string(PROBE_UNHEALTHY), "Unhealthy");
        assert_string_equal(probe_health_to_string((enum probe_health)42), "Unknown");
}

static int parse(const char *data, bool eof, int *status, char *msg)
{
        return probe_http_status_parse(data, strlen(data), eof, status, msg, 256);
}

static void test_http_status_parse(void **state)
{
        char msg[256];
        int status = 0;
        char long_line[PROBE_RESPONSE_MAX + 1];

        (void)state;
        assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", false, &status, msg), 1);
        assert_int_equal(status, 200);
        assert_int_equal(parse("HTTP/1.0 503 Service Unavailable\r\n", false, &status, msg), 1);
        assert_int_equal(status, 503);
        assert_int_equal(parse("HTTP/1.1 204\r\n", false, &status, msg), 1);
        assert_int_equal(status, 204);
        assert_int_equal(parse("HTTP/1.1 302 Found\n", false, &status, msg), 1);
        assert_int_equal(status, 302);
        assert_int_equal(parse("HTTP/1.1 599 x\r\n", true, &status, msg), 1);
        assert_int_equal(status, 599);

        /* More to come. */
        status = -1;
        assert_int_equal(parse("", false, &status, msg), 0);
        assert_int_equal(parse("HTT", false, &status, msg), 0);
        assert_int_equal(parse("HTTP/1.1 20", false, &status, msg), 0);
        assert_int_equal(status, -1);

        /* The peer closed first. */
        assert_int_equal(parse("", true, &status, msg), -EBADMSG);
        assert_string_equal(msg, "connection closed without a response");
        assert_int_equal(parse("HTTP/1.1 20", true, &status, msg), -EBADMSG);
        assert_string_equal(msg, "connection closed in the HTTP status line");

        /* Not HTTP: known at once, even without a line end. */
        assert_int_equal(parse("SSH-2.0-OpenSSH_9.2\r\n", false, &status, msg), -EBADMSG);
        assert_string_equal(msg, "malformed HTTP status line \"SSH-2.0-OpenSSH_9.2\"");
        assert_int_equal(parse("SSH", false, &status, msg), -EBADMSG);
        assert_int_equal(parse("\x16\x03\x01", false, &status, msg), -EBADMSG);
        assert_string_equal(msg, "malformed HTTP status line \"???\"");

        static const char *const bad[] = {
            "HTTP/1.1 2000 OK\r\n", "HTTP/1.1 099 Low\r\n", "HTTP/1.1 600 High\r\n",
            "HTTP/1.1 abc\r\n",     "HTTP/x.1 200 OK\r\n",  "HTTP/1.1  200 OK\r\n",
            "HTTP/11 200 OK\r\n",   "HTTP/1. 200 OK\r\n",   "HTTP/1.1 20\r\n",
            "HTTP/1.1\r\n",         "HTTP/1.1 200OK\r\n",   "HTTP/.1 200 OK\r\n",
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                assert_int_equal(parse(bad[i], false, &status, msg), -EBADMSG);
                assert_true(str_has_prefix(msg, "malformed HTTP status line \"HTTP/"));
        }
        assert_int_equal(status, -1);

        /* A status line past the cap, and a long one cut in the message. */
        memset(long_line, 'a', sizeof(long_line));
        memcpy(long_line, "HTTP/1.1 200 ", 13);
        long_line[PROBE_RESPONSE_MAX] = '\0';
        assert_int_equal(parse(long_line, false, &status, msg), -EBADMSG);
        assert_string_equal(msg, "HTTP status line longer than 4096 bytes");
        /* A line end past the cap is not seen. */
        char longer[PROBE_RESPONSE_MAX + 8];
        memset(longer, 'a', sizeof(longer));
        memcpy(longer, "HTTP/1.1 200 ", 13);
        longer[PROBE_RESPONSE_MAX + 2] = '\n';
        assert_int_equal(probe_http_status_parse(longer, sizeof(longer), true, &status, msg, 256),
                         -EBADMSG);
        assert_string_equal(msg, "HTTP status line longer than 4096 bytes");
        long_line[100] = '\n';
        long_line[5] = 'X';
        assert_int_equal(parse(long_line, false, &status, msg), -EBADMSG);
        assert_true(str_has_suffix(msg, "...\""));
        assert_true(strlen(msg) < 100);
}

static void test_http_request(void **state)
{
        struct probe_target t = target(PROBE_HTTP, 8080, "/healthz?full=1");
        char out[PROBE_REQUEST_MAX];
        char address[PROBE_ADDRESS_MAX];
        int n;

        (void)state;
        n = probe_http_request(&t, out, sizeof(out));
        assert_string_equal(out, "GET /healthz?full=1 HTTP/1.1\r\n"
                                 "Host: 127.0.0.1:8080\r\n"
                                 "Connection: close\r\n"
                                 "User-Agent: berth-probe\r\n"
                                 "\r\n");
        assert_int_equal(n, (int)strlen(out));
        assert_int_equal(probe_http_request(&t, out, 20), -ENAMETOOLONG);

        (void)str_copy(t.host, sizeof(t.host), "::1");
        t.port = 80;
        assert_true(probe_http_request(&t, out, sizeof(out)) > 0);
        assert_non_null(strstr(out, "\r\nHost: [::1]:80\r\n"));

        probe_address_format("10.0.0.1", 443, address, sizeof(address));
        assert_string_equal(address, "10.0.0.1:443");
        probe_address_format("fe80::1", 65535, address, sizeof(address));
        assert_string_equal(address, "[fe80::1]:65535");

        /* The longest checked target fits PROBE_REQUEST_MAX. */
        memset(t.path, 'a', sizeof(t.path) - 1);
        t.path[0] = '/';
        t.path[sizeof(t.path) - 1] = '\0';
        (void)str_copy(t.host, sizeof(t.host), "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");
        t.port = 65535;
        assert_int_equal(probe_target_check(&t), 0);
        assert_true(probe_http_request(&t, out, sizeof(out)) > 0);
}

static void test_target_check(void **state)
{
        struct probe_target good = target(PROBE_HTTP, 80, "/");
        struct probe_target t, a, b;

        (void)state;
        assert_int_equal(probe_target_check(&good), 0);
        assert_int_equal(probe_target_check(NULL), -EINVAL);

#define BAD(stmt)                                                                                  \
        do {                                                                                       \
                t = good;                                                                          \
                stmt;                                                                              \
                assert_int_equal(probe_target_check(&t), -EINVAL);                                 \
        } while (0)
        BAD(t.type = (enum probe_type)7);
        BAD(str_copy(t.host, sizeof(t.host), "localhost"));
        BAD(str_copy(t.host, sizeof(t.host), ""));
        BAD(str_copy(t.host, sizeof(t.host), "127.0.0.1:80"));
        BAD(memset(t.host, '1', sizeof(t.host)));
        BAD(t.port = 0);
        BAD(t.port = 65536);
        BAD(str_copy(t.path, sizeof(t.path), ""));
        BAD(str_copy(t.path, sizeof(t.path), "healthz"));
        BAD(str_copy(t.path, sizeof(t.path), "/a b"));
        BAD(str_copy(t.path, sizeof(t.path), "/a\r\nX-Injected: 1"));
        BAD(str_copy(t.path, sizeof(t.path), "/caf\xc3\xa9"));
        BAD(memset(t.path, '/', sizeof(t.path)));
        BAD(t.interval_ms = 0);
        BAD(t.interval_ms = PROBE_PERIOD_MAX_MS + 1);
        BAD(t.timeout_ms = 0);
        BAD(t.start_period_ms = -1);
        BAD(t.failure_threshold = 0);
        BAD(t.failure_threshold = 1001);
#undef BAD

        /* TCP ignores the path, in the check and in comparisons. */
        t = good;
        t.type = PROBE_TCP;
        t.path[0] = '\0';
        assert_int_equal(probe_target_check(&t), 0);
        a = t;
        b = t;
        (void)str_copy(b.path, sizeof(b.path), "/other");
        assert_true(probe_target_equal(&a, &b));
        str_copy(t.host, sizeof(t.host), "::1");
        assert_int_equal(probe_target_check(&t), 0);

        /* Bytes after the NULs do not make a difference. */
        a = good;
        b = good;
        b.host[sizeof(b.host) - 1] = 'x';
        b.path[sizeof(b.path) - 1] = 'x';
        assert_true(probe_target_equal(&a, &b));
        probe_target_copy(&t, &b);
        assert_int_equal(t.host[sizeof(t.host) - 1], 0);
        assert_int_equal(t.path[sizeof(t.path) - 1], 0);
        b.timeout_ms++;
        assert_false(probe_target_equal(&a, &b));
}

/* ---- the prober --------------------------------------------------------- */

static void test_arguments(void **state)
{
        struct prober *p = NULL;
        struct berth_error err = {0};
        struct probe_target t = target(PROBE_TCP, closed_port(), NULL);
        struct probe_target bad = t;
        struct probe_status s;
        char long_id[PROBE_ID_MAX + 2];

        (void)state;
        prober_free(NULL);
        assert_int_equal(prober_new(0, NULL, NULL, &p, &err), -EINVAL);
        assert_non_null(strstr(err.message, "max_in_flight"));
        assert_int_equal(prober_new(PROBE_IN_FLIGHT_MAX + 1, NULL, NULL, &p, NULL), -EINVAL);
        assert_int_equal(prober_new_with_max_targets(1, 0, NULL, NULL, &p, NULL), -EINVAL);
        assert_int_equal(
            prober_new_with_max_targets(1, PROBE_TARGETS_MAX + 1, NULL, NULL, &p, NULL), -EINVAL);
        assert_null(p);

        assert_int_equal(prober_new(1, NULL, NULL, &p, &err), 0); /* no callback */
        memset(long_id, 'a', sizeof(long_id) - 1);
        long_id[sizeof(long_id) - 1] = '\0';
        assert_int_equal(prober_set(p, NULL, OWNER, &t), -EINVAL);
        assert_int_equal(prober_set(p, "", OWNER, &t), -EINVAL);
        assert_int_equal(prober_set(p, long_id, OWNER, &t), -EINVAL);
        assert_int_equal(prober_set(p, "c1", NULL, &t), -EINVAL);
        assert_int_equal(prober_set(p, "c1", "", &t), -EINVAL);
        assert_int_equal(prober_set(p, "c1", OWNER, NULL), -EINVAL);
        bad.port = 0;
        assert_int_equal(prober_set(p, "c1", OWNER, &bad), -EINVAL);
        assert_int_equal(prober_count(p), 0);

        long_id[PROBE_ID_MAX] = '\0';
        t.interval_ms = 60000;
        assert_int_equal(prober_set(p, long_id, OWNER, &t), 0);
        assert_int_equal(prober_count(p), 1);
        assert_int_equal(prober_status(p, "unknown", &s), -ENOENT);
        assert_int_equal(prober_status(p, NULL, &s), -ENOENT);
        prober_remove(p, "unknown");
        prober_remove(p, NULL);
        prober_retain(p, "/berth/services/default/other", NULL, 0);
        prober_retain(p, NULL, NULL, 0);
        assert_int_equal(prober_count(p), 1);
        prober_free(p);
}

static void test_tcp_healthy(void **state)
{
        struct server *srv = server_start(REPLY_200);
        struct change_watch w;
        struct prober *p;
        struct probe_target t = target(PROBE_TCP, srv->port, NULL);
        struct probe_status s;

        (void)state;
        assert_int_equal(change_watch_init(&w), 0);
        p = prober_start(4, &w);
        /* A minute's interval: only a first probe that runs at once can pass. */
        t.interval_ms = 60000;
        assert_int_equal(prober_set(p, "c1", OWNER, &t), 0);
        expect_change(&w, p, "c1", 1, PROBE_HEALTHY, &s);
        assert_int_equal(s.consecutive_failures, 0);
        assert_true(s.checked_ms > 0);
        assert_string_equal(s.message, "");
        assert_string_equal(w.owner, OWNER);
        assert_int_equal(server_requests(srv), 0); /* a TCP probe sends nothing */
        prober_free(p);
        server_stop(srv);
        change_watch_destroy(&w);
}

static void test_tcp_refused(void **state)
{
        struct change_watch w;
        struct prober *p;
        int port = closed_port();
        struct probe_target t = target(PROBE_TCP, port, NULL);
        struct probe_status s;
        char want[128];

        (void)state;
        assert_int_equal(change_watch_init(&w), 0);
        p = prober_start(4, &w);
        t.failure_threshold = 2;
        assert_int_equal(prober_set(p, "c1", OWNER, &t), 0);
        expect_change(&w, p, "c1", 1, PROBE_UNHEALTHY, &s);
        snprintf(want, sizeof(want), "connect 127.0.0.1:%d: Connection refused", port);
        assert_string_equal(s.message, want);
        assert_true(s.consecutive_failures >= 2);
        assert_true(s.checked_ms > 0);
        assert_string_equal(w.owner, OWNER);
        /* STARTING → UNHEALTHY is one change, however many failures follow. */
        assert_int_equal(change_watch_count(&w), 1);
        prober_free(p);
        change_watch_destroy(&w);
}

static void test_http_healthy(void **state)
{
        struct server *srv = server_start(REPLY_200);
        struct change_watch w;
        struct prober *p;
        struct probe_target t = target(PROBE_HTTP, srv->port, "/healthz");
        struct probe_status s;
        char host[64];

        (void)state;
        assert_int_equal(change_watch_init(&w), 0);
        p = prober_start(4, &w);
        assert_int_equal(prober_set(p, "c1", OWNER, &t), 0);
        expect_change(&w, p, "c1", 1, PROBE_HEALTHY, &s);
        assert_int_equal(s.consecutive_failures, 0);
        assert_string_equal(s.message, "");

        pthread_mutex_lock(&srv->lock);
        snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%d\r\n", srv->port);
        assert_true(str_has_prefix(srv->last_request, "GET /healthz HTTP/1.1\r\n"));
        assert_non_null(strstr(srv->last_request, host));
        assert_non_null(strstr(srv->last_request, "\r\nConnection: close\r\n"));
        assert_non_null(strstr(srv->last_request, "\r\nUser-Agent: berth-probe\r\n"));
        pthread_mutex_unlock(&srv->lock);
        prober_free(p);
        server_stop(srv);
        change_watch_destroy(&w);
}

static void test_http_unhealthy_and_back(void **state)
{
        struct server *srv = server_start(REPLY_503);
        struct change_watch w;
        struct prober *p;
        struct probe_target t = target(PROBE_HTTP, srv->port, "/");
        struct probe_status s;
        int seen;

        (void)state;
        assert_int_equal(change_watch_init(&w), 0);
        p = prober_start(4, &w);
        assert_int_equal(prober_set(p, "c1", OWNER, &t), 0);
        expect_change(&w, p, "c1", 1, PROBE_UNHEALTHY, &s);
        assert_string_equal(s.message, "HTTP 503");
        assert_true(s.consecutive_failures >= 3);
        assert_string_equal(w.owner, OWNER);

        server_set_reply(srv, REPLY_200);
        expect_change(&w, p, "c1", 2, PROBE_HEALTHY, &s);
        assert_int_equal(s.consecutive_failures, 0);
        assert_string_equal(s.message, "");

        /* More successes are no change: the callback stays quiet. */
        seen = server_requests(srv);
        server_wait(srv, seen + 3, false);
        assert_int_equal(change_watch_count(&w), 2);
        assert_int_equal(prober_status(p, "c1", &s), 0);
        assert_int_equal(s.health, PROBE_HEALTHY);
        prober_free(p);
        server_stop(srv);
        change_watch_destroy(&w);
}

static void test_http_timeout(void **state)
{
        struct server *srv = server_start(REPLY_SILENT);
        struct change_watch w;
        struct prober *p;
        struct probe_target t = target(PROBE_HTTP, srv->port, "/");
        struct probe_status s;

        (void)state;
        assert_int_equal(change_watch_init(&w), 0);
        p = prober_start(4, &w);
        t.timeout_ms = 100;
        t.failure_threshold = 1;
        assert_int_equal(prober_set(p, "c1", OWNER, &t), 0);
        expect_change(&w, p, "c1", 1, PROBE_UNHEALTHY, &s);
        assert_string_equal(s.message, "timeout after 100 ms");
        assert_true(server_requests(srv) >= 1); /* the request was sent, no answer came */
        prober_free(p);
        server_stop(srv);
        change_watch_destroy(&w);
}

static void test_http_bad_responses(void **state)
{
        struct server *srv = server_start(REPLY_CLOSE);
        struct change_watch w;
        struct prober *p;
        struct probe_target t = target(PROBE_HTTP, srv->port, "/");
        struct probe_status s;

        (void)state;
        assert_int_equal(change_watch_init(&w), 0);
        p = prober_start(4, &w);
        t.failure_threshold = 1;
        assert_int_equal(prober_set(p, "c1", OWNER, &t), 0);
        expect_change(&w, p, "c1", 1, PROBE_UNHEALTHY, &s);
        assert_string_equal(s.message, "connection closed without a response");

        server_set_reply(srv, REPLY_200);
        expect_change(&w, p, "c1", 2, PROBE_HEALTHY, NULL);
        server_set_reply(srv, REPLY_GARBAGE);
        expect_change(&w, p, "c1", 3, PROBE_UNHEALTHY, &s);
        /* Judged on the first bytes: how many came in the first read varies. */
        assert_true(str_has_prefix(s.message, "malformed HTTP status line \"SSH"));
        prober_free(p);
        server_stop(srv);
        change_watch_destroy(&w);
}

static void test_start_period(void **state)
{
        struct server *srv = server_start(REPLY_500);
        struct change_watch w;
        struct prober *p;
        struct probe_target t = target(PROBE_HTTP, srv->port, "/");
        struct probe_status s;

        (void)state;
        assert_int_equal(change_watch_init(&w), 0);
        p = prober_start(4, &w);
        t.failure_threshold = 1;
        t.start_period_ms = 3600 * 1000;
        assert_int_equal(prober_set(p, "c1", OWNER, &t), 0);
        /* The third request means the first two probes finished: both failed
         * and neither counted. */
        server_wait(srv, 3, false);
        assert_int_equal(prober_status(p, "c1", &s), 0);
        assert_int_equal(s.health, PROBE_STARTING);
        assert_int_equal(s.consecutive_failures, 0);
        assert_string_equal(s.message, "HTTP 500");
        assert_true(s.checked_ms > 0);
        assert_int_equal(change_watch_count(&w), 0);

        /* Once started, failures count, start period or not. */
        server_set_reply(srv, REPLY_200);
        expect_change(&w, p, "c1", 1, PROBE_HEALTHY, NULL);
        server_set_reply(srv, REPLY_500);
        expect_change(&w, p, "c1", 2, PROBE_UNHEALTHY, &s);
        assert_int_equal(s.consecutive_failures, 1);
        prober_free(p);
        server_stop(srv);
        change_watch_destroy(&w);
}

static void expect_request(struct server *s, const char *line)
{
        LOCK_SCOPE(&s->lock);

        if (!str_has_prefix(s->last_request, line))
                fail_msg("last request %s, not %s", s->last_request, line);
}

static void test_set_changed_resets(void **state)
{
        struct server *srv = server_start(REPLY_200);
        struct change_watch w;
        struct prober *p;
        struct probe_target t = target(PROBE_HTTP, srv->port, "/");
        struct probe_status s;

        (void)state;
        assert_int_equal(change_watch_init(&w), 0);
        p = prober_start(4, &w);
        t.interval_ms = 60000;
        t.timeout_ms = 60000;
        assert_int_equal(prober_set(p, "c1", OWNER, &t), 0);
        expect_change(&w, p, "c1", 1, PROBE_HEALTHY, NULL);

        /* The same target again: nothing changes. */
        assert_int_equal(prober_set(p, "c1", OWNER, &t), 0);
        assert_int_equal(prober_status(p, "c1", &s), 0);
        assert_int_equal(s.health, PROBE_HEALTHY);
        assert_true(s.checked_ms > 0);
        assert_int_equal(prober_count(p), 1);

        /* Another path: STARTING at once (the server holds every probe of it,
         * so none can finish before the look), and probed right away. */
        server_set_reply(srv, REPLY_SILENT);
        (void)str_copy(t.path, sizeof(t.path), "/slow");
        assert_int_equal(prober_set(p, "c1", OWNER, &t), 0);
        assert_int_equal(prober_status(p, "c1", &s), 0);
        assert_int_equal(s.health, PROBE_STARTING);
        assert_int_equal(s.checked_ms, 0);
        assert_int_equal(s.consecutive_failures, 0);
        server_wait(srv, 2, false);
        expect_request(srv, "GET /slow HTTP/1.1\r\n");

        /* Changed again while that probe hangs: it is dropped, the new one runs. */
        server_set_reply(srv, REPLY_200);
        (void)str_copy(t.path, sizeof(t.path), "/ready");
        assert_int_equal(prober_set(p, "c1", OWNER, &t), 0);
        expect_change(&w, p, "c1", 2, PROBE_HEALTHY, NULL);
        expect_request(srv, "GET /ready HTTP/1.1\r\n");

        /* Another owner: a new target too, reported to the new owner. */
        server_set_reply(srv, REPLY_SILENT);
        assert_int_equal(prober_set(p, "c1", OWNER "2", &t), 0);
        assert_int_equal(prober_status(p, "c1", &s), 0);
        assert_int_equal(s.health, PROBE_STARTING);
        assert_int_equal(prober_count(p), 1);
        server_set_reply(srv, REPLY_200);
        (void)str_copy(t.path, sizeof(t.path), "/");
        assert_int_equal(prober_set(p, "c1", OWNER "2", &t), 0);
        expect_change(&w, p, "c1", 3, PROBE_HEALTHY, NULL);
        assert_string_equal(w.owner, OWNER "2");
        prober_free(p);
        server_stop(srv);
        change_watch_destroy(&w);
}

static void test_retain_remove(void **state)
{
        struct prober *p;
        struct probe_target t = target(PROBE_TCP, closed_port(), NULL);
        struct probe_status s;
        const char *keep[] = {"a", "not-there"};
        const char *keep_many[10];
        char ids[300][16];

        (void)state;
        p = prober_start(8, NULL);
        t.interval_ms = 60000;
        assert_int_equal(prober_set(p, "a", "/x", &t), 0);
        assert_int_equal(prober_set(p, "b", "/x", &t), 0);
        assert_int_equal(prober_set(p, "c", "/x", &t), 0);
        assert_int_equal(prober_set(p, "d", "/y", &t), 0);
        assert_int_equal(prober_count(p), 4);

        prober_retain(p, "/x", keep, ARRAY_SIZE(keep));
        assert_int_equal(prober_count(p), 2);
        assert_int_equal(prober_status(p, "a", &s), 0);
        assert_int_equal(prober_status(p, "b", &s), -ENOENT);
        assert_int_equal(prober_status(p, "c", &s), -ENOENT);
        assert_int_equal(prober_status(p, "d", &s), 0);

        prober_retain(p, "/y", NULL, 0);
        assert_int_equal(prober_status(p, "d", &s), -ENOENT);
        prober_remove(p, "a");
        prober_remove(p, "a");
        assert_int_equal(prober_count(p), 0);
        assert_int_equal(prober_status(p, "a", &s), -ENOENT);
        assert_int_equal(prober_set(p, "a", "/x", &t), 0);
        assert_int_equal(prober_count(p), 1);

        /* Enough targets to grow the map, across owners sharing buckets. */
        for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
                snprintf(ids[i], sizeof(ids[i]), "id-%zu", i);
                assert_int_equal(prober_set(p, ids[i], i % 2 ? "/odd" : "/even", &t), 0);
        }
        assert_int_equal(prober_count(p), 301);
        for (size_t i = 0; i < ARRAY_SIZE(keep_many); i++)
                keep_many[i] = ids[i];
        prober_retain(p, "/even", keep_many, ARRAY_SIZE(keep_many));
        assert_int_equal(prober_count(p), 1 + 150 + 5);
        for (size_t i = 0; i < ARRAY_SIZE(ids); i++)
                assert_int_equal(prober_status(p, ids[i], &s), i % 2 || i < 10 ? 0 : -ENOENT);
        prober_free(p);
}

static void test_max_targets(void **state)
{
        struct prober *p = NULL;
        struct probe_target t = target(PROBE_TCP, closed_port(), NULL);

        (void)state;
        assert_int_equal(prober_new_with_max_targets(1, 2, NULL, NULL, &p, NULL), 0);
        t.interval_ms = 60000;
        assert_int_equal(prober_set(p, "a", "/x", &t), 0);
        assert_int_equal(prober_set(p, "b", "/x", &t), 0);
        assert_int_equal(prober_set(p, "c", "/x", &t), -E2BIG);
        /* Updates of the targets there are fine at the cap. */
        t.timeout_ms++;
        assert_int_equal(prober_set(p, "a", "/x", &t), 0);
        assert_int_equal(prober_set(p, "b", "/y", &t), 0);
        assert_int_equal(prober_count(p), 2);
        prober_remove(p, "a");
        assert_int_equal(prober_set(p, "c", "/x", &t), 0);
        assert_int_equal(prober_count(p), 2);
        prober_free(p);
}

static void test_max_in_flight(void **state)
{
        struct server *srv = server_start(REPLY_HOLD);
        struct change_watch w;
        struct prober *p;
        struct probe_target t = target(PROBE_HTTP, srv->port, "/");
        char id[16];

        (void)state;
        assert_int_equal(change_watch_init(&w), 0);
        p = prober_start(2, &w);
        t.interval_ms = 60000;
        t.timeout_ms = 60000;
        for (int i = 0; i < 6; i++) {
                snprintf(id, sizeof(id), "c%d", i);
                assert_int_equal(prober_set(p, id, OWNER, &t), 0);
        }
        /* Two probes run and hang on the server; the other four wait. */
        server_wait(srv, 2, false);
        assert_true(server_quiet(srv, 3, 300));
        assert_int_equal(change_watch_count(&w), 0);

        /* Released, the four take their turns and everyone gets healthy. */
        server_set_reply(srv, REPLY_200);
        expect_change(&w, p, "c0", 6, PROBE_HEALTHY, NULL);
        for (int i = 1; i < 6; i++) {
                struct probe_status s;

                snprintf(id, sizeof(id), "c%d", i);
                assert_int_equal(prober_status(p, id, &s), 0);
                assert_int_equal(s.health, PROBE_HEALTHY);
        }
        pthread_mutex_lock(&srv->lock);
        assert_int_equal(srv->requests, 6);
        assert_int_equal(srv->max_active, 2);
        pthread_mutex_unlock(&srv->lock);
        prober_free(p);
        server_stop(srv);
        change_watch_destroy(&w);
}

static void test_free_in_flight(void **state)
{
        struct server *srv = server_start(REPLY_SILENT);
        struct change_watch w;
        struct prober *p;
        struct probe_target t = target(PROBE_HTTP, srv->port, "/");
        char id[16];

        (void)state;
        assert_int_equal(change_watch_init(&w), 0);
        p = prober_start(4, &w);
        t.timeout_ms = 60000;
        for (int i = 0; i < 10; i++) {
                snprintf(id, sizeof(id), "c%d", i);
                assert_int_equal(prober_set(p, id, OWNER, &t), 0);
        }
        /* Four probes hang on the server, six wait their turn. */
        server_wait(srv, 4, false);
        /* Handed to the loop but not yet taken over by it. */
        assert_int_equal(prober_set(p, "late", OWNER, &t), 0);
        prober_remove(p, "c9");
        prober_remove(p, "late");
        prober_free(p);
        assert_int_equal(change_watch_count(&w), 0);
        assert_true(server_requests(srv) >= 4);
        server_stop(srv);
        change_watch_destroy(&w);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_health_strings),
            cmocka_unit_test(test_http_status_parse),
            cmocka_unit_test(test_http_request),
            cmocka_unit_test(test_target_check),
            cmocka_unit_test(test_arguments),
            cmocka_unit_test(test_tcp_healthy),
            cmocka_unit_test(test_tcp_refused),
            cmocka_unit_test(test_http_healthy),
            cmocka_unit_test(test_http_unhealthy_and_back),
            cmocka_unit_test(test_http_timeout),
            cmocka_unit_test(test_http_bad_responses),
            cmocka_unit_test(test_start_period),
            cmocka_unit_test(test_set_changed_resets),
            cmocka_unit_test(test_retain_remove),
            cmocka_unit_test(test_max_targets),
            cmocka_unit_test(test_max_in_flight),
            cmocka_unit_test(test_free_in_flight),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
