/* Unit tests of the docker module's pure parts: no daemon involved. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "docker-internal.h"
#include "test-support.h"

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

/* ---- tar reader and writer --------------------------------------------- */

/* Everything a reader reported, for comparisons. */
struct tar_seen {
        int n;
        struct docker_tar_header h[8];
        struct buf data[8];
        int stop_on_entry; /* stop at this entry (1-based); 0 = never */
        int fail_on_data;  /* fail at the first data of this entry; 0 = never */
};

static int seen_entry(const struct docker_tar_header *h, void *userdata)
{
        struct tar_seen *s = userdata;

        assert_true(s->n < 8);
        s->h[s->n] = *h;
        buf_init(&s->data[s->n], 1 << 20);
        s->n++;
        return s->stop_on_entry && s->n >= s->stop_on_entry;
}

static int seen_data(const char *data, size_t len, void *userdata)
{
        struct tar_seen *s = userdata;

        assert_true(s->n > 0 && len > 0);
        if (s->fail_on_data == s->n)
                return -EFBIG;
        assert_int_equal(buf_append(&s->data[s->n - 1], data, len), 0);
        return 0;
}

static const struct docker_tar_ops seen_ops = {.entry = seen_entry, .data = seen_data};

static void tar_seen_release(struct tar_seen *s)
{
        for (int i = 0; i < s->n; i++)
                buf_release(&s->data[i]);
}

/* Feeds data in pieces of chunk bytes; returns the feed's result, then finish's. */
static int tar_decode(const char *data, size_t len, size_t chunk, struct tar_seen *s,
                      int *ret_finish, const char **ret_why)
{
        struct docker_tar_reader r;
        int k = 0;

        docker_tar_reader_init(&r, &seen_ops, s);
        for (size_t off = 0; off < len && k == 0; off += chunk)
                k = docker_tar_reader_feed(&r, data + off, len - off < chunk ? len - off : chunk);
        if (ret_finish)
                *ret_finish = docker_tar_reader_finish(&r);
        if (ret_why)
                *ret_why = r.error;
        docker_tar_reader_release(&r);
        return k;
}

static void tar_member(struct buf *out, char type, const char *name, const char *link,
                       const char *body)
{
        struct docker_tar_header h = {.type = type, .mode = 0640, .mtime = 1700000000};
        size_t n = body ? strlen(body) : 0;

        str_copy(h.name, sizeof(h.name), name);
        str_copy(h.linkname, sizeof(h.linkname), link ? link : "");
        h.size = n;
        assert_int_equal(docker_tar_header_write(&h, out), 0);
        assert_int_equal(buf_append(out, body ? body : "", n), 0);
        assert_int_equal(docker_tar_padding_write(n, out), 0);
}

/* Rewrites the checksum of the header block at b after a test edited it. */
static void tar_fix_checksum(char *b)
{
        unsigned sum = 0;

        memset(b + 148, ' ', 8);
        for (int i = 0; i < 512; i++)
                sum += (unsigned char)b[i];
        snprintf(b + 148, 8, "%06o", sum);
}

static void test_tar_round_trip(void **state)
{
        _cleanup_buf_ struct buf out;
        char long_name[300], split_name[200], long_link[150];

        (void)state;
        memset(long_name, 'n', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = '\0';
        long_name[50] = '/'; /* a '/' that leaves more than 100 after it: needs pax */
        /* 120 = "dir.../" (ustar prefix) + "file..." (ustar name). */
        memset(split_name, 'd', 119);
        split_name[119] = '/';
        memset(split_name + 120, 'f', 60);
        split_name[180] = '\0';
        memset(long_link, 'l', sizeof(long_link) - 1);
        long_link[sizeof(long_link) - 1] = '\0';

        buf_init(&out, 1 << 20);
        tar_member(&out, '0', "a.txt", NULL, "hello\n");
        tar_member(&out, '5', "dir/", NULL, NULL);
        tar_member(&out, '2', "dir/link", "../a.txt", NULL);
        tar_member(&out, '0', long_name, NULL, "long");
        tar_member(&out, '0', split_name, NULL, "");
        tar_member(&out, '2', "ll", long_link, NULL);
        tar_member(&out, '0', "big", NULL, NULL);
        assert_int_equal(docker_tar_end_write(&out), 0);
        assert_int_equal(out.len % 512, 0);
        /* Only the long name and the long link need pax headers. */
        assert_int_equal(out.len, 512 * (2 + 1 + 1 + 4 + 1 + 3 + 1 + 2));

        /* Whole, byte by byte, and in odd pieces: the same members. */
        const size_t chunks[] = {out.len, 1, 7, 511, 513};
        for (size_t c = 0; c < ARRAY_SIZE(chunks); c++) {
                struct tar_seen s = {0};
                int fin;

                assert_int_equal(tar_decode(out.data, out.len, chunks[c], &s, &fin, NULL), 0);
                assert_int_equal(fin, 0);
                assert_int_equal(s.n, 7);
                assert_int_equal(s.h[0].type, '0');
                assert_string_equal(s.h[0].name, "a.txt");
                assert_int_equal(s.h[0].size, 6);
                assert_int_equal(s.h[0].mode, 0640);
                assert_int_equal(s.h[0].mtime, 1700000000);
                assert_string_equal(s.data[0].data, "hello\n");
                assert_int_equal(s.h[1].type, '5');
                assert_string_equal(s.h[1].name, "dir/");
                assert_int_equal(s.h[2].type, '2');
                assert_string_equal(s.h[2].linkname, "../a.txt");
                assert_string_equal(s.h[3].name, long_name);
                assert_string_equal(s.data[3].data, "long");
                assert_string_equal(s.h[4].name, split_name);
                assert_int_equal(s.h[4].size, 0);
                assert_null(s.data[4].data);
                assert_string_equal(s.h[5].linkname, long_link);
                assert_string_equal(s.h[6].name, "big");
                tar_seen_release(&s);
        }
}

static void test_tar_gnu_and_numbers(void **state)
{
        _cleanup_buf_ struct buf out;
        struct docker_tar_header h = {.type = '0', .size = (uint64_t)1 << 34};
        struct tar_seen s = {0};
        char name[200];
        int fin;

        (void)state;
        buf_init(&out, 1 << 20);
        /* GNU long name: an 'L' member whose body is the next member's name. */
        memset(name, 'g', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        tar_member(&out, 'L', "././@LongLink", NULL, name);
        tar_member(&out, '0', "short", NULL, "x");
        /* Size in octal led by spaces, as old tars write it. */
        tar_member(&out, '0', "spaced", NULL, "abc");
        memcpy(out.data + out.len - 1024 + 124, "        3 \0", 12);
        tar_fix_checksum(out.data + out.len - 1024);
        /* Too large for 11 octal digits: base-256. Its body never comes. */
        str_copy(h.name, sizeof(h.name), "huge");
        assert_int_equal(docker_tar_header_write(&h, &out), 0);
        assert_int_equal((unsigned char)out.data[out.len - 512 + 124], 0x80);

        assert_int_equal(tar_decode(out.data, out.len, 3, &s, &fin, NULL), 0);
        assert_int_equal(s.n, 3);
        assert_string_equal(s.h[0].name, name);
        assert_string_equal(s.data[0].data, "x");
        assert_string_equal(s.h[1].name, "spaced");
        assert_string_equal(s.data[1].data, "abc");
        assert_string_equal(s.h[2].name, "huge");
        assert_true(s.h[2].size == (uint64_t)1 << 34);
        assert_int_equal(fin, -EPROTO); /* inside huge's body */
        tar_seen_release(&s);
}

static void test_tar_pax_size_and_types(void **state)
{
        _cleanup_buf_ struct buf out;
        struct tar_seen s = {0};
        int fin;

        (void)state;
        buf_init(&out, 1 << 20);
        /* A pax size overrides the header's; a global header is skipped. */
        tar_member(&out, 'g', "global", NULL, "19 path=/ignored/x\n");
        tar_member(&out, 'x', "PaxHeaders/f", NULL, "10 size=2\n17 path=from-pax\n");
        tar_member(&out, '0', "f", NULL, "ab");
        memcpy(out.data + out.len - 1024 + 124, "00000000077", 12);
        tar_fix_checksum(out.data + out.len - 1024);
        /* Old tars: type NUL, a trailing '/' meaning a directory. */
        tar_member(&out, '0', "old-dir/", NULL, NULL);
        out.data[out.len - 512 + 156] = '\0';
        tar_fix_checksum(out.data + out.len - 512);
        tar_member(&out, '7', "contiguous", NULL, "c");
        /* Header-only types carry no body whatever their size says. */
        tar_member(&out, '6', "fifo", NULL, NULL);
        memcpy(out.data + out.len - 512 + 124, "00000001000", 12);
        tar_fix_checksum(out.data + out.len - 512);
        tar_member(&out, '0', "after", NULL, "z");
        assert_int_equal(docker_tar_end_write(&out), 0);

        assert_int_equal(tar_decode(out.data, out.len, 5, &s, &fin, NULL), 0);
        assert_int_equal(fin, 0);
        assert_int_equal(s.n, 5);
        assert_string_equal(s.h[0].name, "from-pax");
        assert_int_equal(s.h[0].size, 2);
        assert_string_equal(s.data[0].data, "ab");
        assert_int_equal(s.h[1].type, '5');
        assert_int_equal(s.h[2].type, '0');
        assert_int_equal(s.h[3].type, '6');
        assert_int_equal(s.h[3].size, 0);
        assert_string_equal(s.h[4].name, "after");
        assert_string_equal(s.data[4].data, "z");
        tar_seen_release(&s);
}

static void test_tar_malformed(void **state)
{
        _cleanup_buf_ struct buf out;
        struct tar_seen s = {0};
        const char *why = NULL;
        char pax[DOCKER_TAR_META_MAX + 2];
        int fin;

        (void)state;
        buf_init(&out, 1 << 20);
        tar_member(&out, '0', "a", NULL, "data");
        out.data[0] = 'b'; /* checksum no longer matches */
        assert_int_equal(tar_decode(out.data, out.len, 512, &s, &fin, &why), -EPROTO);
        assert_string_equal(why, "bad header checksum");
        assert_int_equal(s.n, 0);
        assert_int_equal(fin, -EPROTO);

        /* Junk in a numeric field. */
        buf_reset(&out);
        tar_member(&out, '0', "a", NULL, "data");
        memcpy(out.data + 124, "0000000x004", 11);
        tar_fix_checksum(out.data);
        assert_int_equal(tar_decode(out.data, out.len, 512, &s, NULL, &why), -EPROTO);
        assert_string_equal(why, "bad size field");

        /* Negative base-256 size. */
        out.data[124] = (char)0xff;
        tar_fix_checksum(out.data);
        assert_int_equal(tar_decode(out.data, out.len, 512, &s, NULL, &why), -EPROTO);

        /* Pax records that lie about their length. */
        buf_reset(&out);
        tar_member(&out, 'x', "p", NULL, "99 path=x\n");
        assert_int_equal(tar_decode(out.data, out.len, 512, &s, NULL, &why), -EPROTO);
        assert_string_equal(why, "bad pax record");
        buf_reset(&out);
        tar_member(&out, 'x', "p", NULL, "3 path=x\n");
        assert_int_equal(tar_decode(out.data, out.len, 512, &s, NULL, &why), -EPROTO);

        /* Metadata past the cap is refused before it is collected. */
        buf_reset(&out);
        memset(pax, 'p', sizeof(pax) - 1);
        pax[sizeof(pax) - 1] = '\0';
        tar_member(&out, 'x', "p", NULL, pax);
        assert_int_equal(tar_decode(out.data, 512, 512, &s, NULL, &why), -EPROTO);
        assert_string_equal(why, "extended header too large");

        /* Truncated: in a header, in a body. */
        buf_reset(&out);
        tar_member(&out, '0', "a", NULL, "data");
        assert_int_equal(tar_decode(out.data, 100, 512, &s, &fin, NULL), 0);
        assert_int_equal(fin, -EPROTO);
        assert_int_equal(tar_decode(out.data, 514, 512, &s, &fin, NULL), 0);
        assert_int_equal(fin, -EPROTO);
        /* A clean member boundary without the end marker is fine. */
        assert_int_equal(tar_decode(out.data, out.len, 512, &s, &fin, NULL), 0);
        assert_int_equal(fin, 0);
        assert_true(s.n > 0);
        tar_seen_release(&s);
}

static void test_tar_callbacks(void **state)
{
        _cleanup_buf_ struct buf out;
        struct tar_seen s = {.stop_on_entry = 1};
        struct docker_tar_reader r;

        (void)state;
        buf_init(&out, 1 << 20);
        tar_member(&out, '0', "a", NULL, "1");
        tar_member(&out, '0', "b", NULL, "2");
        assert_int_equal(docker_tar_end_write(&out), 0);
        assert_int_equal(tar_decode(out.data, out.len, out.len, &s, NULL, NULL), 1);
        assert_int_equal(s.n, 1);
        tar_seen_release(&s);

        s = (struct tar_seen){.fail_on_data = 2};
        assert_int_equal(tar_decode(out.data, out.len, out.len, &s, NULL, NULL), -EFBIG);
        assert_int_equal(s.n, 2);
        tar_seen_release(&s);

        /* After the end marker, anything is ignored. */
        s = (struct tar_seen){0};
        docker_tar_reader_init(&r, &seen_ops, &s);
        assert_int_equal(docker_tar_reader_feed(&r, out.data, out.len), 0);
        assert_true(docker_tar_reader_ended(&r));
        assert_int_equal(docker_tar_reader_feed(&r, "junk", 4), 0);
        assert_int_equal(docker_tar_reader_finish(&r), 0);
        docker_tar_reader_release(&r);
        assert_int_equal(s.n, 2);
        tar_seen_release(&s);
}

static void test_tar_writer_limits(void **state)
{
        _cleanup_buf_ struct buf out;
        static struct docker_tar_header h = {.type = '0'};

        (void)state;
        buf_init(&out, 1 << 20);
        assert_int_equal(docker_tar_header_write(&h, &out), -EINVAL);
        memset(h.name, 'x', sizeof(h.name));
        assert_int_equal(docker_tar_header_write(&h, &out), -ENAMETOOLONG);
        h.name[sizeof(h.name) - 1] = '\0';
        assert_int_equal(docker_tar_header_write(&h, &out), 0);
        buf_release(&out);
        buf_init(&out, 100);
        h.name[5] = '\0';
        assert_int_equal(docker_tar_header_write(&h, &out), -E2BIG);
}

/* ---- build context ------------------------------------------------------ */

static void write_file(const char *dir, const char *name, const char *content, size_t len)
{
        char path[4200];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fwrite(content, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
}

static void make_dir(const char *dir, const char *name)
{
        char path[4200];

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        assert_int_equal(mkdir(path, 0750), 0);
}

/* Reads the whole context tar in pieces of chunk bytes. */
static int context_read_all(const char *dir, uint64_t max, size_t chunk, struct buf *out,
                            struct berth_error *err)
{
        struct docker_context_tar *t = NULL;
        char piece[100000];
        ssize_t n;
        int r = docker_context_tar_open(dir, max, &t, err);

        if (r < 0)
                return r;
        while ((n = docker_context_tar_read(t, piece, chunk, err)) > 0)
                assert_int_equal(buf_append(out, piece, (size_t)n), 0);
        assert_true(n < 0 || docker_context_tar_size(t) == out->len);
        docker_context_tar_free(t);
        return n < 0 ? (int)n : 0;
}

static int find_member(const struct tar_seen *s, const char *name)
{
        for (int i = 0; i < s->n; i++)
                if (streq(s->h[i].name, name))
                        return i;
        return -1;
}

static void test_context_tar(void **state)
{
        char dir[] = "/tmp/berth-test-context-XXXXXX";
        char big[150000], deep[400], link[64];
        struct berth_error err = {0};
        int i;

        (void)state;
        assert_non_null(mkdtemp(dir));
        for (size_t k = 0; k < sizeof(big); k++)
                big[k] = (char)(k * 7 + k / 256);
        write_file(dir, "Dockerfile", "FROM busybox\n", 13);
        write_file(dir, "empty", "", 0);
        make_dir(dir, "sub");
        write_file(dir, "sub/big", big, sizeof(big));
        snprintf(link, sizeof(link), "%s/out", dir);
        assert_int_equal(symlink("/etc/passwd", link), 0);
        /* A name long enough for a pax header, in a nested directory. */
        memset(deep, 'q', 150);
        deep[150] = '\0';
        make_dir(dir, deep);
        snprintf(deep + 150, sizeof(deep) - 150, "/%.*s", 150,
                 "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr"
                 "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr");
        write_file(dir, deep, "deep", 4);

        const size_t chunks[] = {7, 512, 65536, 100000};
        for (size_t c = 0; c < ARRAY_SIZE(chunks); c++) {
                _cleanup_buf_ struct buf tar;
                struct tar_seen s = {0};
                int fin;

                buf_init(&tar, 1 << 20);
                assert_int_equal(context_read_all(dir, 1 << 20, chunks[c], &tar, &err), 0);
                assert_int_equal(tar.len % 512, 0);
                assert_int_equal(tar_decode(tar.data, tar.len, 4096, &s, &fin, NULL), 0);
                assert_int_equal(fin, 0);
                assert_int_equal(s.n, 7);
                i = find_member(&s, "Dockerfile");
                assert_true(i >= 0);
                assert_int_equal(s.h[i].type, '0');
                assert_string_equal(s.data[i].data, "FROM busybox\n");
                i = find_member(&s, "empty");
                assert_true(i >= 0 && s.h[i].size == 0);
                i = find_member(&s, "sub/");
                assert_true(i >= 0 && s.h[i].type == '5' && s.h[i].mode == 0750);
                /* Directories come before their members. */
                assert_true(i < find_member(&s, "sub/big"));
                i = find_member(&s, "sub/big");
                assert_int_equal(s.data[i].len, sizeof(big));
                assert_memory_equal(s.data[i].data, big, sizeof(big));
                /* A link out of the context stays a link: /etc/passwd is not read. */
                i = find_member(&s, "out");
                assert_true(i >= 0 && s.h[i].type == '2');
                assert_string_equal(s.h[i].linkname, "/etc/passwd");
                assert_null(s.data[i].data);
                i = find_member(&s, deep);
                assert_true(i >= 0);
                assert_string_equal(s.data[i].data, "deep");
                tar_seen_release(&s);
        }
        test_rm_tree(dir);
}

static void test_context_tar_limits(void **state)
{
        char dir[] = "/tmp/berth-test-context-XXXXXX";
        char path[128];
        _cleanup_buf_ struct buf tar;
        struct berth_error err = {0};
        struct docker_context_tar *t = (struct docker_context_tar *)0x1;
        size_t size;

        (void)state;
        assert_non_null(mkdtemp(dir));
        write_file(dir, "a", "0123456789", 10);
        buf_init(&tar, 1 << 20);
        assert_int_equal(context_read_all(dir, 1 << 20, 4096, &tar, &err), 0);
        size = tar.len;
        assert_int_equal(size, 512 + 512 + 1024);
        /* Exactly the cap passes; one byte less is refused before the file is read. */
        buf_reset(&tar);
        assert_int_equal(context_read_all(dir, size, 4096, &tar, &err), 0);
        buf_reset(&tar);
        assert_int_equal(context_read_all(dir, size - 1, 4096, &tar, &err), -E2BIG);
        assert_int_equal(err.code, -E2BIG);
        assert_non_null(strstr(err.message, "larger than 2047 bytes"));
        assert_int_equal(tar.len, 0);

        /* Fifos (and devices, sockets) cannot be sent. */
        snprintf(path, sizeof(path), "%s/pipe", dir);
        assert_int_equal(mkfifo(path, 0600), 0);
        buf_reset(&tar);
        assert_int_equal(context_read_all(dir, 1 << 20, 4096, &tar, &err), -EINVAL);
        assert_non_null(strstr(err.message, "pipe is a fifo"));
        test_rm_tree(dir);

        assert_int_equal(docker_context_tar_open("/nonexistent/berth", 1 << 20, &t, &err), -ENOENT);
        assert_ptr_equal(t, (struct docker_context_tar *)0x1);
        docker_context_tar_free(NULL);
}

/* ---- build progress ----------------------------------------------------- */

static void check_build_line(const char *line, int ret, enum docker_build_line_kind kind,
                             const char *text)
{
        json_t *root = NULL;
        struct docker_build_line bl = {.kind = DOCKER_BUILD_LINE_STREAM, .text = "untouched"};

        assert_int_equal(docker_build_line_parse(line, strlen(line), &root, &bl), ret);
        if (ret < 0) {
                assert_null(root);
                assert_string_equal(bl.text, "untouched");
                return;
        }
        assert_int_equal(bl.kind, kind);
        if (text)
                assert_string_equal(bl.text, text);
        else
                assert_null(bl.text);
        json_decref(root);
}

static void test_build_line_parse(void **state)
{
        (void)state;
        check_build_line("{\"stream\":\"Step 1/2 : FROM busybox\"}", 0, DOCKER_BUILD_LINE_STREAM,
                         "Step 1/2 : FROM busybox");
        check_build_line("{\"status\":\"Pulling fs layer\",\"id\":\"ab\"}", 0,
                         DOCKER_BUILD_LINE_STATUS, "Pulling fs layer");
        check_build_line("{\"aux\":{\"ID\":\"sha256:0188\"}}", 0, DOCKER_BUILD_LINE_IMAGE_ID,
                         "sha256:0188");
        check_build_line("{\"errorDetail\":{\"code\":3,\"message\":\"The command '/bin/sh -c "
                         "exit 3' returned a non-zero code: 3\"},\"error\":\"other\"}",
                         0, DOCKER_BUILD_LINE_ERROR,
                         "The command '/bin/sh -c exit 3' returned a non-zero code: 3");
        check_build_line("{\"error\":\"plain\"}", 0, DOCKER_BUILD_LINE_ERROR, "plain");
        check_build_line("{\"errorDetail\":{}}", 0, DOCKER_BUILD_LINE_ERROR, "(no message)");
        /* An error wins over a stream in the same object. */
        check_build_line("{\"stream\":\"x\",\"error\":\"e\"}", 0, DOCKER_BUILD_LINE_ERROR, "e");
        check_build_line("{\"aux\":{\"Digest\":\"x\"}}", 0, DOCKER_BUILD_LINE_OTHER, NULL);
        check_build_line("{}", 0, DOCKER_BUILD_LINE_OTHER, NULL);
        check_build_line(" \r", 0, DOCKER_BUILD_LINE_OTHER, NULL);
        check_build_line("[1]", -EPROTO, 0, NULL);
        check_build_line("{\"stream\":", -EPROTO, 0, NULL);
        check_build_line("Step 1/2", -EPROTO, 0, NULL);
}

struct text_seen {
        char joined[256];
        int n;
        int stop_at;
};

static int on_text(const char *line, void *userdata)
{
        struct text_seen *s = userdata;

        s->n++;
        snprintf(s->joined + strlen(s->joined), sizeof(s->joined) - strlen(s->joined), "%s|", line);
        return s->stop_at && s->n >= s->stop_at;
}

static void test_build_text(void **state)
{
        struct text_seen s = {0};
        struct docker_build_text t;
        char long_line[DOCKER_BUILD_TEXT_MAX + 10];

        (void)state;
        docker_build_text_init(&t, on_text, &s);
        /* Docker sends "Step n/m : X" and its newline as separate texts. */
        assert_int_equal(docker_build_text_feed(&t, "Step 1/2 : FROM busybox"), 0);
        assert_int_equal(s.n, 0);
        assert_int_equal(docker_build_text_feed(&t, "\n"), 0);
        assert_int_equal(docker_build_text_feed(&t, " ---> 6b29\nhello\r\n\npart"), 0);
        assert_int_equal(docker_build_text_flush(&t), 0);
        assert_int_equal(docker_build_text_flush(&t), 0);
        assert_string_equal(s.joined, "Step 1/2 : FROM busybox| ---> 6b29|hello||part|");
        assert_int_equal(s.n, 5);

        /* A line over the cap goes out in pieces, its newline ending the last. */
        s = (struct text_seen){0};
        memset(long_line, 'x', sizeof(long_line));
        long_line[sizeof(long_line) - 2] = '\n';
        long_line[sizeof(long_line) - 1] = '\0';
        assert_int_equal(docker_build_text_feed(&t, long_line), 0);
        assert_int_equal(s.n, 2);

        s = (struct text_seen){.stop_at = 1};
        assert_int_equal(docker_build_text_feed(&t, "a\nb\n"), 1);
        assert_int_equal(s.n, 1);
        docker_build_text_release(&t);

        /* Without a callback, text is dropped. */
        docker_build_text_init(&t, NULL, NULL);
        assert_int_equal(docker_build_text_feed(&t, "a\nb"), 0);
        assert_int_equal(docker_build_text_flush(&t), 0);
        docker_build_text_release(&t);
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

static void respond_bin(int fd, const char *status, const char *body, size_t len)
{
        char head[256];

        snprintf(head, sizeof(head), "HTTP/1.1 %s\r\nConnection: close\r\n\r\n", status);
        send_all(fd, head, strlen(head));
        send_all(fd, body, len);
}

static void respond(int fd, const char *status, const char *body)
{
        respond_bin(fd, status, body, strlen(body));
}

/* Decodes a complete chunked body: 1 when raw holds all of it (body filled),
 * 0 when more must come, -1 on junk. */
static int dechunk(const char *raw, size_t len, struct buf *body)
{
        size_t off = 0;

        buf_reset(body);
        for (;;) {
                const char *crlf = memmem(raw + off, len - off, "\r\n", 2);
                unsigned long n;
                char *end;

                if (!crlf)
                        return 0;
                n = strtoul(raw + off, &end, 16);
                if (end == raw + off)
                        return -1;
                off = (size_t)(crlf - raw) + 2;
                if (n == 0)
                        return len - off >= 2 ? 1 : 0;
                if (len - off < n + 2)
                        return 0;
                if (buf_append(body, raw + off, n) < 0)
                        return -1;
                off += n + 2;
        }
}

/* A build: reads the chunked tar, answers progress lines that say what it
 * got. No cmocka asserts here: this runs on the fake's thread. */
static void serve_build(int fd, const char *req, const char *extra, size_t extra_len)
{
        _cleanup_buf_ struct buf raw, body, answer;
        struct tar_seen s = {0};
        char piece[4096];
        int fin = 1, r;

        buf_init(&raw, 4 << 20);
        buf_init(&body, 4 << 20);
        buf_init(&answer, 4096);
        if (!strstr(req, "Transfer-Encoding: chunked") ||
            !strstr(req, "Content-Type: application/x-tar") || buf_append(&raw, extra, extra_len)) {
                respond(fd, "400 Bad Request", "{\"message\":\"not a chunked tar\"}");
                return;
        }
        while ((r = dechunk(raw.data ? raw.data : "", raw.len, &body)) == 0) {
                ssize_t n = recv(fd, piece, sizeof(piece), 0);

                if (n <= 0 || buf_append(&raw, piece, (size_t)n) < 0)
                        return;
        }
        if (r == 1 && tar_decode(body.data, body.len, body.len, &s, &fin, NULL) != 0)
                fin = 1;
        buf_printf(&answer,
                   "{\"stream\":\"Step 1/1 : FROM busybox\"}\n{\"stream\":\"\\n\"}\n"
                   "{\"stream\":\" members=%d dockerfile=%d finish=%d\\n\"}\n",
                   s.n, find_member(&s, "Dockerfile") >= 0, fin);
        if (strstr(req, "t=fail"))
                buf_append_str(&answer, "{\"errorDetail\":{\"code\":3,\"message\":\"The command "
                                        "'/bin/sh -c exit 3' returned a non-zero code: 3\"}}\n");
        else if (!strstr(req, "t=noid"))
                buf_append_str(&answer, "{\"aux\":{\"ID\":\"sha256:feed\"}}\n"
                                        "{\"stream\":\"Successfully built feed\\n\"}");
        respond(fd, "200 OK", answer.data ? answer.data : "");
        tar_seen_release(&s);
}

/* GET .../archive?path=P: a tar of what P stands for. */
static void serve_archive(int fd, const char *req)
{
        _cleanup_buf_ struct buf tar;
        char big[700];

        buf_init(&tar, 1 << 20);
        if (strstr(req, "/containers/gone/")) {
                respond(fd, "404 Not Found", "{\"message\":\"No such container: gone\"}");
                return;
        }
        if (strstr(req, "path=%2Fout%2Fa ")) {
                tar_member(&tar, '0', "a", NULL, "hi\n");
        } else if (strstr(req, "path=%2Fout%2Fempty ")) {
                tar_member(&tar, '0', "empty", NULL, "");
        } else if (strstr(req, "path=%2Fout%2Fd ")) {
                tar_member(&tar, '5', "d/", NULL, NULL);
                tar_member(&tar, '0', "d/x", NULL, "x");
        } else if (strstr(req, "path=%2Fout%2Fl ")) {
                tar_member(&tar, '2', "l", "a", NULL);
        } else if (strstr(req, "path=%2Fout%2Fbig ")) {
                memset(big, 'b', sizeof(big) - 1);
                big[sizeof(big) - 1] = '\0';
                tar_member(&tar, '0', "big", NULL, big);
        } else if (strstr(req, "path=%2Fout%2Fbad ")) {
                memset(big, 'j', sizeof(big));
                assert_int_equal(buf_append(&tar, big, sizeof(big)), 0);
        } else if (strstr(req, "path=%2Fout%2Fcut ")) {
                tar_member(&tar, '0', "cut", NULL, "0123456789");
                tar.len = 512 + 3;
        } else if (strstr(req, "path=%2Fout%2Fnone ")) {
                /* just the end marker */
        } else {
                respond(fd, "404 Not Found",
                        "{\"message\":\"Could not find the file /out/zz in container c1\"}");
                return;
        }
        if (tar.len != 512 + 3)
                assert_int_equal(docker_tar_end_write(&tar), 0);
        respond_bin(fd, "200 OK", tar.data, tar.len);
}

static void serve(int fd)
{
        char req[4096];
        size_t len = 0, head_len, want;
        const char *end, *cl;

        while (len < sizeof(req) - 1 && !memmem(req, len, "\r\n\r\n", 4)) {
                ssize_t r = recv(fd, req + len, sizeof(req) - 1 - len, 0);

                if (r <= 0)
                        return;
                len += (size_t)r;
        }
        req[len] = '\0';
        end = memmem(req, len, "\r\n\r\n", 4);
        if (!end)
                return;
        head_len = (size_t)(end - req) + 4;
        /* A JSON body is read whole, so that closing never drops unread data. */
        cl = strcasestr(req, "Content-Length: ");
        if (cl && cl < end) {
                want = head_len + strtoul(cl + 16, NULL, 10);
                while (len < want && len < sizeof(req) - 1) {
                        ssize_t r = recv(fd, req + len, sizeof(req) - 1 - len, 0);

                        if (r <= 0)
                                return;
                        len += (size_t)r;
                }
                req[len] = '\0';
        }
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
        } else if (str_has_prefix(req, "GET /v1.40/containers/") && strstr(req, "/archive?")) {
                serve_archive(fd, req);
        } else if (str_has_prefix(req, "POST /v1.40/build?")) {
                serve_build(fd, req, req + head_len, len - head_len);
        } else if (str_has_prefix(req, "POST /v1.40/volumes/create ")) {
                if (strstr(req, "{\"Name\":\"v1\",\"Labels\":{\"k\":\"v\"}}"))
                        respond(fd, "201 Created", "{\"Name\":\"v1\"}");
                else
                        respond(fd, "400 Bad Request", "{\"message\":\"unexpected body\"}");
        } else if (str_has_prefix(req, "DELETE /v1.40/volumes/v1 ")) {
                respond(fd, "204 No Content", "");
        } else if (str_has_prefix(req, "DELETE /v1.40/volumes/busy ")) {
                respond(fd, "409 Conflict",
                        "{\"message\":\"remove busy: volume is in use - [abc]\"}");
        } else if (str_has_prefix(
                       req, "GET /v1.40/volumes?filters=%7B%22label%22%3A%5B%22k%3Dv%22%5D%7D ")) {
                respond(fd, "200 OK",
                        "{\"Volumes\":[{\"Name\":\"v1\"},{\"Name\":\"v2\"}],\"Warnings\":null}");
        } else if (str_has_prefix(req, "GET /v1.40/volumes ")) {
                respond(fd, "200 OK", "{\"Volumes\":null,\"Warnings\":null}");
        } else if (str_has_prefix(req, "GET /v1.40/containers/c1/stats?stream=false ")) {
                respond(fd, "200 OK",
                        "{\"read\":\"2024-03-01T10:00:01Z\",\"pids_stats\":{\"current\":2},"
                        "\"memory_stats\":{\"usage\":1000,\"limit\":4000}}");
        } else if (str_has_prefix(req, "GET /v1.40/images/app/json ")) {
                respond(fd, "200 OK", "{\"Id\":\"sha256:ab\",\"Config\":{\"User\":\"1000:1000\"}}");
        } else if (str_has_prefix(req, "GET /v1.40/images/bare/json ")) {
                respond(fd, "200 OK", "{\"Id\":\"sha256:cd\",\"Config\":{\"Env\":[]}}");
        } else if (str_has_prefix(req, "GET /v1.40/images/odd/json ")) {
                respond(fd, "200 OK", "{\"Config\":{\"User\":0}}");
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
        /* The user an image runs as: "" when it sets none (root). */
        {
                char *user = NULL;

                assert_int_equal(docker_image_user(c, "app", &user, &err), 0);
                assert_string_equal(user, "1000:1000");
                free(user);
                assert_int_equal(docker_image_user(c, "bare", &user, &err), 0);
                assert_string_equal(user, "");
                free(user);
                user = NULL;
                assert_int_equal(docker_image_user(c, "odd", &user, &err), -EPROTO);
                assert_int_equal(docker_image_user(c, "busybox", &user, &err), -ENOENT);
                assert_int_equal(docker_image_user(c, "", &user, &err), -EINVAL);
                assert_null(user);
        }
        docker_free(c);
        docker_free(d);
        fake_stop(&f);
}

static void test_fake_files(void **state)
{
        struct fake f;
        struct docker *d = NULL;
        struct berth_error err = {0};
        char url[128], *content = (char *)0x1;
        size_t len = 7;

        (void)state;
        fake_start(&f);
        snprintf(url, sizeof(url), "unix://%s", f.path);
        assert_int_equal(docker_new(url, &d, &err), 0);

        assert_int_equal(docker_container_file(d, "c1", "/out/a", 100, &content, &len, &err), 0);
        assert_int_equal(len, 3);
        assert_string_equal(content, "hi\n");
        free(content);
        /* Exactly max is allowed. */
        assert_int_equal(docker_container_file(d, "c1", "/out/a", 3, &content, &len, &err), 0);
        free(content);
        assert_int_equal(docker_container_file(d, "c1", "/out/empty", 0, &content, &len, &err), 0);
        assert_int_equal(len, 0);
        assert_string_equal(content, "");
        free(content);

        content = (char *)0x1;
        len = 7;
        assert_int_equal(docker_container_file(d, "c1", "/out/a", 2, &content, &len, &err), -EFBIG);
        assert_string_equal(err.message,
                            "read /out/a from container c1: 3 bytes, larger than the 2 allowed");
        assert_int_equal(docker_container_file(d, "c1", "/out/big", 10, &content, &len, &err),
                         -EFBIG);
        assert_int_equal(docker_container_file(d, "c1", "/out/d", 10, &content, &len, &err),
                         -EISDIR);
        assert_string_equal(err.message, "read /out/d from container c1: is a directory");
        assert_int_equal(docker_container_file(d, "c1", "/out/l", 10, &content, &len, &err),
                         -EISDIR);
        assert_string_equal(err.message, "read /out/l from container c1: is a symbolic link to a");
        assert_int_equal(docker_container_file(d, "c1", "/out/zz", 10, &content, &len, &err),
                         -ENOENT);
        assert_string_equal(err.message, "read /out/zz from container c1: no such path: 404 "
                                         "Could not find the file /out/zz in container c1");
        assert_int_equal(err.http_status, 404);
        assert_int_equal(docker_container_file(d, "gone", "/out/a", 10, &content, &len, &err),
                         -ENOENT);
        assert_string_equal(err.message, "read /out/a from container gone: no such container: "
                                         "404 No such container: gone");
        assert_int_equal(docker_container_file(d, "c1", "/out/bad", 10, &content, &len, &err),
                         -EPROTO);
        assert_string_equal(err.message,
                            "read /out/bad from container c1: malformed tar from docker: bad "
                            "header checksum");
        assert_int_equal(docker_container_file(d, "c1", "/out/cut", 10, &content, &len, &err),
                         -EPROTO);
        assert_non_null(strstr(err.message, "ended inside the file"));
        assert_int_equal(docker_container_file(d, "c1", "/out/none", 10, &content, &len, &err),
                         -EPROTO);
        assert_non_null(strstr(err.message, "empty archive"));
        assert_int_equal(docker_container_file(d, "c1", "", 10, &content, &len, &err), -EINVAL);
        assert_ptr_equal(content, (char *)0x1);
        assert_int_equal(len, 7);
        docker_free(d);
        fake_stop(&f);
}

static void test_fake_volumes(void **state)
{
        struct fake f;
        struct docker *d = NULL;
        struct berth_error err = {0};
        _cleanup_json_ json_t *labels = json_pack("{s:s}", "k", "v");
        char url[128], **names = NULL;
        size_t n = 9;

        (void)state;
        fake_start(&f);
        snprintf(url, sizeof(url), "unix://%s", f.path);
        assert_int_equal(docker_new(url, &d, &err), 0);

        assert_int_equal(docker_volume_create(d, "v1", labels, &err), 0);
        assert_int_equal(docker_volume_create(d, "v2", NULL, &err), -EINVAL);
        assert_string_equal(err.message, "create volume v2: 400 unexpected body");
        assert_int_equal(docker_volume_create(d, "", NULL, &err), -EINVAL);
        assert_int_equal(docker_volume_remove(d, "v1", &err), 0);
        assert_int_equal(docker_volume_remove(d, "gone", &err), 0);
        assert_int_equal(docker_volume_remove(d, "busy", &err), -EBUSY);
        assert_string_equal(err.message,
                            "remove volume busy: 409 remove busy: volume is in use - [abc]");

        assert_int_equal(docker_volume_list(d, "k=v", &names, &n, &err), 0);
        assert_int_equal(n, 2);
        assert_string_equal(names[0], "v1");
        assert_string_equal(names[1], "v2");
        assert_null(names[2]);
        strv_free(names);
        /* null for none */
        assert_int_equal(docker_volume_list(d, NULL, &names, &n, &err), 0);
        assert_int_equal(n, 0);
        assert_null(names[0]);
        strv_free(names);
        docker_free(d);
        fake_stop(&f);
}

static void test_fake_build(void **state)
{
        char dir[] = "/tmp/berth-test-build-XXXXXX";
        static const char *const tags[] = {"t:1", "u:2", NULL};
        static const char *const fail[] = {"fail", NULL};
        static const char *const noid[] = {"noid", NULL};
        struct docker_build_opts opts = {.tags = tags};
        struct fake f;
        struct docker *d = NULL;
        struct berth_error err = {0};
        struct text_seen seen = {0};
        char url[128], *id = NULL, big[200000];

        (void)state;
        assert_non_null(mkdtemp(dir));
        write_file(dir, "Dockerfile", "FROM busybox\n", 13);
        memset(big, 'b', sizeof(big));
        write_file(dir, "big", big, sizeof(big)); /* several upload buffers */
        fake_start(&f);
        snprintf(url, sizeof(url), "unix://%s", f.path);
        assert_int_equal(docker_new(url, &d, &err), 0);

        assert_int_equal(docker_image_build(d, dir, &opts, on_text, &seen, &id, &err), 0);
        assert_string_equal(id, "sha256:feed");
        free(id);
        id = NULL;
        assert_string_equal(seen.joined, "Step 1/1 : FROM busybox| members=2 dockerfile=1 "
                                         "finish=0|Successfully built feed|");

        opts.tags = fail;
        assert_int_equal(docker_image_build(d, dir, &opts, NULL, NULL, &id, &err), -EIO);
        assert_string_equal(err.message,
                            "build: The command '/bin/sh -c exit 3' returned a non-zero code: 3");
        opts.tags = noid;
        assert_int_equal(docker_image_build(d, dir, &opts, NULL, NULL, &id, &err), -EPROTO);
        opts.tags = tags;
        seen = (struct text_seen){.stop_at = 1};
        assert_int_equal(docker_image_build(d, dir, &opts, on_text, &seen, &id, &err), -ECANCELED);
        assert_null(id);

        /* Refused before any upload. */
        opts.max_context_bytes = 4096;
        assert_int_equal(docker_image_build(d, dir, &opts, NULL, NULL, &id, &err), -E2BIG);
        assert_non_null(strstr(err.message, "larger than 4096 bytes"));
        opts.max_context_bytes = 0;
        opts.dockerfile = "../Dockerfile";
        assert_int_equal(docker_image_build(d, dir, &opts, NULL, NULL, &id, &err), -EINVAL);
        opts.dockerfile = "nope";
        assert_int_equal(docker_image_build(d, dir, &opts, NULL, NULL, &id, &err), -ENOENT);
        assert_null(id);
        docker_free(d);
        fake_stop(&f);
        test_rm_tree(dir);
}

/* ---- stats ----------------------------------------------------------------- */

/* A recorded answer under tests/fixtures/docker; skipped without BERTH_FIXTURES. */
static json_t *stats_fixture(const char *name)
{
        const char *dir = getenv("BERTH_FIXTURES");
        json_error_t jerr;

        if (!dir)
                skip();
        _cleanup_free_ char *path = str_printf("%s/docker/%s", dir, name);
        assert_non_null(path);
        json_t *j = json_load_file(path, 0, &jerr);
        if (!j)
                fail_msg("%s: %s", path, jerr.text);
        return j;
}

/* cgroup v1: memory less total_inactive_file; "Read"/"Write" summed over
 * devices, "Sync"/"Total" ignored; both networks summed. */
static void test_stats_cgroup1(void **state)
{
        _cleanup_json_ json_t *raw = stats_fixture("stats-cgroup1.json");
        struct docker_stats s;

        (void)state;
        assert_int_equal(docker_stats_parse(raw, &s), 0);
        assert_string_equal(s.read, "2026-12-07T05:48:06.960570246Z");
        assert_true(s.cpu_known);
        /* 0.5025 s of CPU in 2.01 s of system time on 2 CPUs. */
        assert_float_equal(s.cpu_percent, 50.0, 1e-9);
        assert_int_equal(s.memory_usage, 22163456 - 17825792);
        assert_int_equal(s.memory_limit, 25276182528LL);
        assert_int_equal(s.pids, 1);
        assert_true(s.network_known);
        assert_int_equal(s.net_rx_bytes, 5338 + 4641);
        assert_int_equal(s.net_tx_bytes, 648 + 690);
        assert_int_equal(s.block_read_bytes, 4096 + 8192);
        assert_int_equal(s.block_write_bytes, 1048576);
}

/* cgroup v2: inactive_file, lower-case ops; 1.5 s of 4 s on 4 CPUs. */
static void test_stats_cgroup2(void **state)
{
        _cleanup_json_ json_t *raw = stats_fixture("stats-cgroup2.json");
        struct docker_stats s;

        (void)state;
        assert_int_equal(docker_stats_parse(raw, &s), 0);
        assert_true(s.cpu_known);
        assert_float_equal(s.cpu_percent, 150.0, 1e-9);
        assert_int_equal(s.memory_usage, 104857600 - 31457280);
        assert_int_equal(s.memory_limit, 268435456);
        assert_int_equal(s.pids, 3);
        assert_true(s.network_known);
        assert_int_equal(s.net_rx_bytes, 1500);
        assert_int_equal(s.net_tx_bytes, 500);
        assert_int_equal(s.block_read_bytes, 2097152);
        assert_int_equal(s.block_write_bytes, 524288);
}

/* What Docker leaves out: a one-shot sample (precpu empty), no networks
 * (network none or host), counters without cgroup stats; and junk. */
static void test_stats_partial(void **state)
{
        struct docker_stats s;
        _cleanup_json_ json_t *oneshot = json_loads(
            "{\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":500},\"system_cpu_usage\":9000,"
            "\"online_cpus\":2},\"precpu_stats\":{\"cpu_usage\":{\"total_usage\":0}},"
            "\"memory_stats\":{\"usage\":100,\"stats\":{\"inactive_file\":400},\"limit\":1000}}",
            0, NULL);
        /* percpu_usage stands in for online_cpus (old daemons); an idle
         * container is 0 %, known. */
        _cleanup_json_ json_t *idle = json_loads(
            "{\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":500,\"percpu_usage\":[1,2,3]},"
            "\"system_cpu_usage\":9000},\"precpu_stats\":{\"cpu_usage\":{\"total_usage\":500},"
            "\"system_cpu_usage\":8000},\"networks\":{}}",
            0, NULL);
        _cleanup_json_ json_t *three = json_loads(
            "{\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":800,\"percpu_usage\":[1,2,3]},"
            "\"system_cpu_usage\":9000},\"precpu_stats\":{\"cpu_usage\":{\"total_usage\":500},"
            "\"system_cpu_usage\":8000}}",
            0, NULL);
        _cleanup_json_ json_t *junk = json_string("x");

        (void)state;
        assert_int_equal(docker_stats_parse(oneshot, &s), 0);
        assert_false(s.cpu_known);
        assert_float_equal(s.cpu_percent, 0.0, 0);
        assert_int_equal(s.memory_usage, 100); /* inactive beyond usage: not subtracted */
        assert_false(s.network_known);
        assert_string_equal(s.read, "");

        assert_int_equal(docker_stats_parse(idle, &s), 0);
        assert_true(s.cpu_known);
        assert_float_equal(s.cpu_percent, 0.0, 0);
        assert_false(s.network_known); /* an empty object says nothing either */

        assert_int_equal(docker_stats_parse(three, &s), 0);
        assert_float_equal(s.cpu_percent, 300.0 / 1000 * 3 * 100, 1e-9);

        s.pids = 77;
        assert_int_equal(docker_stats_parse(junk, &s), -EPROTO);
        assert_int_equal(s.pids, 77);
        assert_int_equal(docker_stats_parse(NULL, &s), -EPROTO);
}

static void test_fake_stats(void **state)
{
        struct fake f;
        struct docker *d = NULL;
        struct berth_error err = {0};
        struct docker_stats s = {.pids = 9};
        char url[128];

        (void)state;
        fake_start(&f);
        snprintf(url, sizeof(url), "unix://%s", f.path);
        assert_int_equal(docker_new(url, &d, &err), 0);
        assert_int_equal(docker_container_stats(d, "c1", &s, &err), 0);
        assert_int_equal(s.pids, 2);
        assert_int_equal(s.memory_usage, 1000);
        assert_int_equal(s.memory_limit, 4000);
        assert_string_equal(s.read, "2024-03-01T10:00:01Z");

        s.pids = 9;
        assert_int_equal(docker_container_stats(d, "gone", &s, &err), -ENOENT);
        assert_string_equal(err.message, "stats of container gone: 404 page not found");
        assert_int_equal(s.pids, 9);
        assert_int_equal(docker_container_stats(d, "", &s, &err), -EINVAL);
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
            cmocka_unit_test(test_tar_round_trip),
            cmocka_unit_test(test_tar_gnu_and_numbers),
            cmocka_unit_test(test_tar_pax_size_and_types),
            cmocka_unit_test(test_tar_malformed),
            cmocka_unit_test(test_tar_callbacks),
            cmocka_unit_test(test_tar_writer_limits),
            cmocka_unit_test(test_context_tar),
            cmocka_unit_test(test_context_tar_limits),
            cmocka_unit_test(test_build_line_parse),
            cmocka_unit_test(test_build_text),
            cmocka_unit_test(test_fake_files),
            cmocka_unit_test(test_fake_volumes),
            cmocka_unit_test(test_fake_build),
            cmocka_unit_test(test_stats_cgroup1),
            cmocka_unit_test(test_stats_cgroup2),
            cmocka_unit_test(test_stats_partial),
            cmocka_unit_test(test_fake_stats),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
