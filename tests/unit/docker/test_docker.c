/* Unit tests of the docker module's pure parts: no daemon involved. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "docker-internal.h"

/* ---- log decoder ------------------------------------------------------- */

struct collected {
        char out[256];
        size_t out_len;
        char err[256];
        size_t err_len;
        int calls;
        int stop_after; /* stop on this call number; 0 = never */
};

static int collect(enum docker_stream stream, const char *data, size_t len, void *userdata)
{
        struct collected *c = userdata;
        char *dst = stream == DOCKER_STREAM_STDERR ? c->err : c->out;
        size_t *n = stream == DOCKER_STREAM_STDERR ? &c->err_len : &c->out_len;

        assert_true(len > 0);
        assert_true(*n + len <= sizeof(c->out));
        memcpy(dst + *n, data, len);
        *n += len;
        c->calls++;
        return c->stop_after && c->calls >= c->stop_after;
}

/* Appends one frame to buf at *len. */
static void frame(char *buf, size_t *len, unsigned char stream, const char *payload)
{
        size_t n = strlen(payload);
        unsigned char h[8] = {stream,
                              0,
                              0,
                              0,
                              (unsigned char)(n >> 24),
                              (unsigned char)(n >> 16),
                              (unsigned char)(n >> 8),
                              (unsigned char)n};

        memcpy(buf + *len, h, 8);
        memcpy(buf + *len + 8, payload, n);
        *len += 8 + n;
}

static void test_decoder_single_frame(void **state)
{
        struct docker_log_decoder dec;
        struct collected c = {0};
        char buf[64];
        size_t len = 0;

        (void)state;
        frame(buf, &len, 1, "hello\n");
        docker_log_decoder_init(&dec);
        assert_int_equal(docker_log_decoder_feed(&dec, buf, len, collect, &c), 0);
        assert_int_equal(c.out_len, 6);
        assert_memory_equal(c.out, "hello\n", 6);
        assert_int_equal(c.err_len, 0);
        assert_int_equal(c.calls, 1);
}

static void test_decoder_split_everywhere(void **state)
{
        char buf[128];
        size_t len = 0;

        (void)state;
        frame(buf, &len, 1, "out line\n");
        frame(buf, &len, 2, "err\n");
        frame(buf, &len, 1, "");
        frame(buf, &len, 0, "in");
        /* Every split point, and also byte-at-a-time. */
        for (size_t cut = 0; cut <= len; cut++) {
                struct docker_log_decoder dec;
                struct collected c = {0};

                docker_log_decoder_init(&dec);
                assert_int_equal(docker_log_decoder_feed(&dec, buf, cut, collect, &c), 0);
                assert_int_equal(docker_log_decoder_feed(&dec, buf + cut, len - cut, collect, &c),
                                 0);
                assert_int_equal(c.out_len, 11);
                assert_memory_equal(c.out, "out line\nin", 11);
                assert_int_equal(c.err_len, 4);
                assert_memory_equal(c.err, "err\n", 4);
                assert_int_equal(dec.header_len, 0);
                assert_int_equal(dec.remaining, 0);
        }
        {
                struct docker_log_decoder dec;
                struct collected c = {0};

                docker_log_decoder_init(&dec);
                for (size_t i = 0; i < len; i++)
                        assert_int_equal(docker_log_decoder_feed(&dec, buf + i, 1, collect, &c), 0);
                assert_int_equal(c.out_len, 11);
                assert_memory_equal(c.out, "out line\nin", 11);
                assert_int_equal(c.err_len, 4);
        }
}

static void test_decoder_many_frames_one_feed(void **state)
{
        struct docker_log_decoder dec;
        struct collected c = {0};
        char buf[128];
        size_t len = 0;

        (void)state;
        frame(buf, &len, 1, "a");
        frame(buf, &len, 2, "b");
        frame(buf, &len, 1, "c");
        frame(buf, &len, 2, "");
        frame(buf, &len, 2, "d");
        docker_log_decoder_init(&dec);
        assert_int_equal(docker_log_decoder_feed(&dec, buf, len, collect, &c), 0);
        assert_int_equal(c.calls, 4); /* empty frames produce no call */
        assert_memory_equal(c.out, "ac", 2);
        assert_memory_equal(c.err, "bd", 2);
        assert_int_equal(docker_log_decoder_feed(&dec, buf, 0, collect, &c), 0);
        assert_int_equal(c.calls, 4);
}

static void test_decoder_bad_stream(void **state)
{
        struct docker_log_decoder dec;
        struct collected c = {0};
        char buf[64];
        size_t len = 0;

        (void)state;
        frame(buf, &len, 3, "x");
        docker_log_decoder_init(&dec);
        assert_int_equal(docker_log_decoder_feed(&dec, buf, len, collect, &c), -EPROTO);
        assert_int_equal(c.calls, 0);

        /* Raw TTY text is not a frame header either. */
        docker_log_decoder_init(&dec);
        assert_int_equal(docker_log_decoder_feed(&dec, "hello world\n", 12, collect, &c), -EPROTO);
        /* Non-zero padding bytes. */
        len = 0;
        frame(buf, &len, 1, "x");
        buf[2] = 1;
        docker_log_decoder_init(&dec);
        assert_int_equal(docker_log_decoder_feed(&dec, buf, len, collect, &c), -EPROTO);
}

static void test_decoder_callback_stop(void **state)
{
        struct docker_log_decoder dec;
        struct collected c = {.stop_after = 2};
        char buf[64];
        size_t len = 0;

        (void)state;
        frame(buf, &len, 1, "a");
        frame(buf, &len, 2, "b");
        frame(buf, &len, 1, "c");
        docker_log_decoder_init(&dec);
        assert_int_equal(docker_log_decoder_feed(&dec, buf, len, collect, &c), 1);
        assert_int_equal(c.calls, 2);
        assert_int_equal(c.out_len, 1);
}

/* ---- image references -------------------------------------------------- */

static void check_split(const char *ref, const char *name, const char *tag)
{
        char *n = NULL, *t = NULL;

        assert_int_equal(docker_image_ref_split(ref, &n, &t), 0);
        assert_string_equal(n, name);
        assert_string_equal(t, tag);
        free(n);
        free(t);
}

static void test_image_ref_split(void **state)
{
        char *n = (char *)"untouched", *t = (char *)"untouched";

        (void)state;
        check_split("busybox", "busybox", "latest");
        check_split("busybox:1.36", "busybox", "1.36");
        check_split("library/busybox:latest", "library/busybox", "latest");
        check_split("host:5000/img", "host:5000/img", "latest");
        check_split("host:5000/team/img:1.0", "host:5000/team/img", "1.0");
        check_split("img@sha256:abcd", "img", "sha256:abcd");
        check_split("host:5000/img:1.0@sha256:abcd", "host:5000/img", "sha256:abcd");
        assert_int_equal(docker_image_ref_split("", &n, &t), -EINVAL);
        assert_int_equal(docker_image_ref_split(NULL, &n, &t), -EINVAL);
        assert_int_equal(docker_image_ref_split("img:", &n, &t), -EINVAL);
        assert_int_equal(docker_image_ref_split(":tag", &n, &t), -EINVAL);
        assert_int_equal(docker_image_ref_split("img@", &n, &t), -EINVAL);
        assert_string_equal(n, "untouched");
        assert_string_equal(t, "untouched");
}

/* ---- versions ---------------------------------------------------------- */

static void test_version_compare(void **state)
{
        int cmp = 99;

        (void)state;
        assert_int_equal(docker_version_compare("1.41", "1.41", &cmp), 0);
        assert_int_equal(cmp, 0);
        assert_int_equal(docker_version_compare("1.9", "1.41", &cmp), 0);
        assert_true(cmp < 0); /* numeric, not lexical */
        assert_int_equal(docker_version_compare("1.100", "1.41", &cmp), 0);
        assert_true(cmp > 0);
        assert_int_equal(docker_version_compare("2.0", "1.99", &cmp), 0);
        assert_true(cmp > 0);
        assert_int_equal(docker_version_compare("2", "2.0", &cmp), 0);
        assert_int_equal(cmp, 0);
        cmp = 99;
        assert_int_equal(docker_version_compare("1.x", "1.41", &cmp), -EINVAL);
        assert_int_equal(docker_version_compare("", "1.41", &cmp), -EINVAL);
        assert_int_equal(docker_version_compare(NULL, "1.41", &cmp), -EINVAL);
        assert_int_equal(docker_version_compare("1.41.", "1.41", &cmp), -EINVAL);
        assert_int_equal(cmp, 99);
}

static void test_version_negotiate(void **state)
{
        char v[DOCKER_VERSION_MAX] = "keep";

        (void)state;
        assert_int_equal(docker_version_negotiate("1.45", "1.24", v), 0);
        assert_string_equal(v, DOCKER_API_VERSION);
        assert_int_equal(docker_version_negotiate("1.41", "1.12", v), 0);
        assert_string_equal(v, "1.41");
        assert_int_equal(docker_version_negotiate("1.40", NULL, v), 0);
        assert_string_equal(v, "1.40");
        assert_int_equal(docker_version_negotiate("1.9", "1.2", v), 0);
        assert_string_equal(v, "1.9");
        snprintf(v, sizeof(v), "keep");
        assert_int_equal(docker_version_negotiate("junk", "1.12", v), -EPROTO);
        assert_int_equal(docker_version_negotiate(NULL, NULL, v), -EPROTO);
        assert_int_equal(docker_version_negotiate("1.50", "1.44", v), -EPROTO);
        assert_string_equal(v, "keep");
}

/* ---- events ------------------------------------------------------------ */

static void test_event_parse(void **state)
{
        static const char line[] =
            "{\"status\":\"die\",\"id\":\"abc\",\"from\":\"busybox\",\"Type\":\"container\","
            "\"Action\":\"die\",\"Actor\":{\"ID\":\"abc123\",\"Attributes\":{\"exitCode\":"
            "\"3\",\"name\":\"x\",\"berth.test\":\"docker-it\"}},\"scope\":\"local\","
            "\"time\":1700000000,\"timeNano\":1700000000123456789}";
        json_t *root = NULL;
        struct docker_event ev;

        (void)state;
        assert_int_equal(docker_event_parse(line, strlen(line), &root, &ev), 0);
        assert_string_equal(ev.type, "container");
        assert_string_equal(ev.action, "die");
        assert_string_equal(ev.id, "abc123");
        assert_string_equal(json_string_value(json_object_get(ev.attributes, "exitCode")), "3");
        assert_string_equal(json_string_value(json_object_get(ev.attributes, "berth.test")),
                            "docker-it");
        assert_true(ev.time_nano == 1700000000123456789LL);
        json_decref(root);
}

static void test_event_parse_minimal_and_junk(void **state)
{
        static const char minimal[] = "{\"Type\":\"container\",\"Action\":\"health_status: "
                                      "healthy\",\"time\":12}";
        json_t *root = NULL;
        struct docker_event ev;

        (void)state;
        assert_int_equal(docker_event_parse(minimal, strlen(minimal), &root, &ev), 0);
        assert_string_equal(ev.action, "health_status: healthy");
        assert_string_equal(ev.id, "");
        assert_non_null(ev.attributes);
        assert_int_equal(json_object_size(ev.attributes), 0);
        assert_true(ev.time_nano == 12000000000LL);
        json_decref(root);

        root = NULL;
        assert_int_equal(docker_event_parse("not json", 8, &root, &ev), -EPROTO);
        assert_int_equal(docker_event_parse("[1]", 3, &root, &ev), -EPROTO);
        assert_int_equal(docker_event_parse("{\"Type\":\"container\"}", 20, &root, &ev), -EPROTO);
        assert_null(root);
}

/* ---- line splitter ----------------------------------------------------- */

struct lines_seen {
        char joined[256];
        size_t len;
        int n;
        int stop_at;
};

static int on_line(const char *line, size_t len, void *userdata)
{
        struct lines_seen *s = userdata;

        memcpy(s->joined + s->len, line, len);
        s->len += len;
        s->joined[s->len++] = '|';
        s->n++;
        return s->stop_at && s->n >= s->stop_at;
}

static void test_lines_split(void **state)
{
        static const char text[] = "{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":3}\npartial";
        size_t len = strlen(text);

        (void)state;
        for (size_t cut = 0; cut <= len; cut++) {
                struct lines_seen s = {.n = 0};
                struct docker_lines l;

                docker_lines_init(&l, 64, on_line, &s);
                assert_int_equal(docker_lines_feed(&l, text, cut), 0);
                assert_int_equal(docker_lines_feed(&l, text + cut, len - cut), 0);
                assert_int_equal(s.n, 4);
                assert_memory_equal(s.joined, "{\"a\":1}|{\"b\":2}||{\"c\":3}|", s.len);
                assert_int_equal(l.partial.len, strlen("partial"));
                docker_lines_release(&l);
        }
}

static void test_lines_cap_and_stop(void **state)
{
        char big[100];
        struct lines_seen s = {.stop_at = 1};
        struct docker_lines l;

        (void)state;
        memset(big, 'x', sizeof(big));
        docker_lines_init(&l, 16, on_line, &s);
        /* Too long without newline, within one feed and across feeds. */
        assert_int_equal(docker_lines_feed(&l, big, sizeof(big)), -E2BIG);
        docker_lines_release(&l);

        docker_lines_init(&l, 16, on_line, &s);
        assert_int_equal(docker_lines_feed(&l, big, 10), 0);
        assert_int_equal(docker_lines_feed(&l, big, 10), -E2BIG);
        docker_lines_release(&l);

        docker_lines_init(&l, 16, on_line, &s);
        big[20] = '\n';
        assert_int_equal(docker_lines_feed(&l, big, 30), -E2BIG);
        docker_lines_release(&l);

        docker_lines_init(&l, 16, on_line, &s);
        assert_int_equal(docker_lines_feed(&l, "a\nb\nc\n", 6), 1);
        assert_int_equal(s.n, 1);
        docker_lines_release(&l);
}

/* ---- errors ------------------------------------------------------------ */

static void test_error_from_json_body(void **state)
{
        static const char body[] = "{\"message\":\"No such image: nosuch:1\"}";
        struct berth_error err = {0};

        (void)state;
        assert_int_equal(docker_error_from_body(&err, -ENOENT, 404, body, strlen(body),
                                                "create container berth.default.x.1"),
                         -ENOENT);
        assert_string_equal(err.message,
                            "create container berth.default.x.1: 404 No such image: nosuch:1");
        assert_int_equal(err.code, -ENOENT);
        assert_int_equal(err.http_status, 404);
        /* NULL err is accepted. */
        assert_int_equal(docker_error_from_body(NULL, -EIO, 500, body, strlen(body), "x"), -EIO);
}

static void test_error_from_text_body(void **state)
{
        static const char body[] = "\n  page not found\r\nsecond line \n";
        struct berth_error err = {0};
        char huge[4096];

        (void)state;
        docker_error_from_body(&err, -ENOENT, 404, body, strlen(body), "start container x");
        assert_string_equal(err.message, "start container x: 404 page not found  second line");

        docker_error_from_body(&err, -EIO, 502, "", 0, "list containers");
        assert_string_equal(err.message, "list containers: 502 (no message)");
        docker_error_from_body(&err, -EIO, 502, NULL, 0, "list containers");
        assert_string_equal(err.message, "list containers: 502 (no message)");

        /* A JSON body without "message" falls back to the text. */
        docker_error_from_body(&err, -EIO, 500, "{\"x\":1}", 7, "c");
        assert_string_equal(err.message, "c: 500 {\"x\":1}");

        memset(huge, 'z', sizeof(huge));
        docker_error_from_body(&err, -EIO, 500, huge, sizeof(huge), "c");
        assert_true(strlen(err.message) < 600);
}

static void test_status_to_errno(void **state)
{
        (void)state;
        assert_int_equal(docker_status_to_errno(400), -EINVAL);
        assert_int_equal(docker_status_to_errno(403), -EACCES);
        assert_int_equal(docker_status_to_errno(404), -ENOENT);
        assert_int_equal(docker_status_to_errno(409), -EBUSY);
        assert_int_equal(docker_status_to_errno(500), -EIO);
        assert_int_equal(docker_status_to_errno(418), -EPROTO);
}

/* ---- containers -------------------------------------------------------- */

static void test_container_from_inspect(void **state)
{
        static const char text[] =
            "{\"Id\":\"0123abcd\",\"Name\":\"/berth.default.x.1\",\"Image\":\"sha256:ff\","
            "\"State\":{\"Status\":\"exited\",\"Running\":false,\"OOMKilled\":true,"
            "\"ExitCode\":137,\"Error\":\"\",\"StartedAt\":\"2026-01-01T00:00:01.5Z\","
            "\"FinishedAt\":\"0001-01-01T00:00:00Z\"},"
            "\"Config\":{\"Image\":\"busybox:latest\",\"Labels\":{\"berth.managed\":\"true\"}}}";
        _cleanup_json_ json_t *j = json_loads(text, 0, NULL);
        struct docker_container c = {0};

        (void)state;
        assert_non_null(j);
        assert_int_equal(docker_container_from_json(j, true, &c), 0);
        assert_string_equal(c.id, "0123abcd");
        assert_string_equal(c.name, "berth.default.x.1");
        assert_string_equal(c.image, "busybox:latest");
        assert_int_equal(c.state, DOCKER_STATE_EXITED);
        assert_true(c.details_known);
        assert_int_equal(c.exit_code, 137);
        assert_true(c.oom_killed);
        assert_string_equal(c.error, "");
        assert_true(c.started_ms == 1767225601500LL);
        assert_true(c.finished_ms == 0);
        assert_string_equal(json_string_value(json_object_get(c.labels, "berth.managed")), "true");
        docker_container_release(&c);
        assert_null(c.id);
        docker_container_release(&c); /* twice is fine */
}

static void test_container_from_list(void **state)
{
        static const char text[] = "{\"Id\":\"ab\",\"Names\":[\"/web\"],\"Image\":\"busybox\","
                                   "\"State\":\"running\",\"Labels\":null}";
        _cleanup_json_ json_t *j = json_loads(text, 0, NULL);
        _cleanup_json_ json_t *bad = json_loads("{\"Names\":[\"/x\"]}", 0, NULL);
        struct docker_container c = {0};

        (void)state;
        assert_int_equal(docker_container_from_json(j, false, &c), 0);
        assert_string_equal(c.name, "web");
        assert_string_equal(c.image, "busybox");
        assert_int_equal(c.state, DOCKER_STATE_RUNNING);
        assert_false(c.details_known);
        assert_non_null(c.labels);
        assert_int_equal(json_object_size(c.labels), 0);
        docker_container_release(&c);
        assert_int_equal(docker_container_from_json(bad, false, &c), -EPROTO);
        assert_null(c.id);
        docker_containers_free(NULL, 0);
}

static void test_state_strings(void **state)
{
        (void)state;
        for (int s = DOCKER_STATE_UNKNOWN; s <= DOCKER_STATE_DEAD; s++)
                assert_int_equal(docker_state_from_string(docker_state_to_string(s)), s);
        assert_int_equal(docker_state_from_string("bogus"), DOCKER_STATE_UNKNOWN);
        assert_int_equal(docker_state_from_string(NULL), DOCKER_STATE_UNKNOWN);
        assert_string_equal(docker_state_to_string(DOCKER_STATE_EXITED), "exited");
}

/* ---- client without a daemon ------------------------------------------- */

static void test_new_bad_urls(void **state)
{
        struct docker *d = (struct docker *)0x1;
        struct berth_error err = {0};

        (void)state;
        assert_int_equal(docker_new("http://x", &d, &err), -EINVAL);
        assert_non_null(strstr(err.message, "http://x"));
        assert_int_equal(docker_new("unix://relative.sock", &d, &err), -EINVAL);
        assert_int_equal(docker_new("tcp://", &d, &err), -EINVAL);
        assert_ptr_equal(d, (struct docker *)0x1);
        docker_free(NULL);
}

static void test_new_unreachable(void **state)
{
        struct docker *d = (struct docker *)0x1;
        struct berth_error err = {0};

        (void)state;
        assert_int_equal(docker_new("unix:///nonexistent/berth-test.sock", &d, &err),
                         -ECONNREFUSED);
        assert_true(str_has_prefix(err.message,
                                   "cannot reach docker at unix:///nonexistent/berth-test.sock: "));
        assert_ptr_equal(d, (struct docker *)0x1);
}

/* ---- fake daemon --------------------------------------------------------- */

/* A scripted HTTP server on a unix socket: one request per connection, every
 * answer ends with close. Exercises the request core without dockerd. */
struct fake {
        char path[108];
        int fd;
        atomic_bool stop;
        pthread_t thread;
};

static void send_all(int fd, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

                if (w <= 0)
                        return;
                p += w;
                n -= (size_t)w;
        }
}

static void respond(int fd, const char *status, const char *body)
{
        char head[256];

        snprintf(head, sizeof(head), "HTTP/1.1 %s\r\nConnection: close\r\n\r\n", status);
        send_all(fd, head, strlen(head));
        send_all(fd, body, strlen(body));
}

static void serve(int fd)
{
        char req[4096];
        size_t len = 0;

        while (len < sizeof(req) - 1 && !memmem(req, len, "\r\n\r\n", 4)) {
                ssize_t r = recv(fd, req + len, sizeof(req) - 1 - len, 0);

                if (r <= 0)
                        return;
                len += (size_t)r;
        }
        req[len] = '\0';
        if (str_has_prefix(req, "GET /version ")) {
                respond(fd, "200 OK", "{\"ApiVersion\":\"1.40\",\"MinAPIVersion\":\"1.12\"}");
        } else if (str_has_prefix(req, "GET /v1.40/events?") && strstr(req, "big")) {
                static char line[DOCKER_EVENT_MAX + 100];

                memset(line, ' ', sizeof(line) - 1);
                respond(fd, "200 OK", line);
        } else if (str_has_prefix(req, "GET /v1.40/events?")) {
                /* Two events, the second split across writes, then the daemon goes away. */
                respond(fd, "200 OK",
                        "{\"Type\":\"container\",\"Action\":\"start\",\"Actor\":"
                        "{\"ID\":\"a\"},\"timeNano\":5}\n{\"Type\":\"contai");
                usleep(20 * 1000);
                send_all(fd, "ner\",\"Action\":\"die\",\"timeNano\":6}\n", 35);
        } else if (str_has_prefix(req, "GET /v1.40/containers/x/json ")) {
                respond(fd, "500 Internal Server Error", "boom\n");
        } else if (str_has_prefix(req, "POST /v1.40/images/create?fromImage=a&tag=1 ")) {
                respond(fd, "200 OK",
                        "{\"status\":\"Pulling from a\"}\n{\"errorDetail\":{\"message\":"
                        "\"manifest unknown\"},\"error\":\"manifest unknown\"}\n");
        } else {
                respond(fd, "404 Not Found", "{\"message\":\"page not found\"}");
        }
}

static void *fake_main(void *userdata)
{
        struct fake *f = userdata;

        while (!atomic_load(&f->stop)) {
                struct pollfd p = {.fd = f->fd, .events = POLLIN};
                int c;

                if (poll(&p, 1, 50) <= 0)
                        continue;
                c = accept4(f->fd, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0)
                        continue;
                serve(c);
                close(c);
        }
        return NULL;
}

static void fake_start(struct fake *f)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};

        snprintf(f->path, sizeof(f->path), "/tmp/berth-test-docker-%d.sock", (int)getpid());
        unlink(f->path);
        memcpy(sa.sun_path, f->path, strlen(f->path) + 1);
        f->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(f->fd >= 0);
        assert_int_equal(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(f->fd, 8), 0);
        atomic_init(&f->stop, false);
        assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake *f)
{
        atomic_store(&f->stop, true);
        pthread_join(f->thread, NULL);
        close(f->fd);
        unlink(f->path);
}

struct seen_events {
        int n;
        char actions[64];
        int64_t last_nano;
};

static int count_event(const struct docker_event *ev, void *userdata)
{
        struct seen_events *s = userdata;

        s->n++;
        snprintf(s->actions + strlen(s->actions), sizeof(s->actions) - strlen(s->actions), "%s,",
                 ev->action);
        s->last_nano = ev->time_nano;
        return 0;
}

static void test_fake_daemon(void **state)
{
        struct fake f;
        struct docker *d = NULL, *c;
        struct berth_error err = {0};
        struct docker_container ct = {0};
        struct seen_events s = {0};
        char url[128];

        (void)state;
        fake_start(&f);
        snprintf(url, sizeof(url), "unix://%s", f.path);
        assert_int_equal(docker_new(url, &d, &err), 0);
        assert_string_equal(docker_api_version(d), "1.40"); /* older server wins */
        assert_string_equal(docker_url(d), url);

        /* The stream ends when the daemon goes away: events seen, then -ECONNRESET. */
        assert_int_equal(docker_events(d, NULL, 0, count_event, &s, &err), -ECONNRESET);
        assert_int_equal(s.n, 2);
        assert_string_equal(s.actions, "start,die,");
        assert_true(s.last_nano == 6);

        assert_int_equal(docker_events(d, "big=1", 0, count_event, &s, &err), -E2BIG);
        assert_non_null(strstr(err.message, "longer than"));

        assert_int_equal(docker_container_inspect(d, "x", &ct, &err), -EIO);
        assert_string_equal(err.message, "inspect container x: 500 boom");
        assert_int_equal(err.http_status, 500);
        assert_null(ct.id);

        assert_int_equal(docker_image_pull(d, "a:1", &err), -EIO);
        assert_string_equal(err.message, "pull image a:1: manifest unknown");

        /* A clone talks to the same daemon without asking /version again. */
        c = docker_clone(d);
        assert_non_null(c);
        assert_string_equal(docker_api_version(c), "1.40");
        assert_int_equal(docker_image_inspect(c, "busybox", &err), -ENOENT);
        assert_string_equal(err.message, "inspect image busybox: 404 page not found");
        docker_free(c);
        docker_free(d);
        fake_stop(&f);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_decoder_single_frame),
            cmocka_unit_test(test_decoder_split_everywhere),
            cmocka_unit_test(test_decoder_many_frames_one_feed),
            cmocka_unit_test(test_decoder_bad_stream),
            cmocka_unit_test(test_decoder_callback_stop),
            cmocka_unit_test(test_image_ref_split),
            cmocka_unit_test(test_version_compare),
            cmocka_unit_test(test_version_negotiate),
            cmocka_unit_test(test_event_parse),
            cmocka_unit_test(test_event_parse_minimal_and_junk),
            cmocka_unit_test(test_lines_split),
            cmocka_unit_test(test_lines_cap_and_stop),
            cmocka_unit_test(test_error_from_json_body),
            cmocka_unit_test(test_error_from_text_body),
            cmocka_unit_test(test_status_to_errno),
            cmocka_unit_test(test_container_from_inspect),
            cmocka_unit_test(test_container_from_list),
            cmocka_unit_test(test_state_strings),
            cmocka_unit_test(test_new_bad_urls),
            cmocka_unit_test(test_new_unreachable),
            cmocka_unit_test(test_fake_daemon),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
