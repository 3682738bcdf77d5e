/* Fuzz target for the docker module's pure helpers. Every input goes through
 * all of them, as the daemon's bytes would: an /events stream (line splitter +
 * event parser), a multiplexed log stream, inspect/list JSON, an error body,
 * an image reference and a pair of API versions. Besides memory errors and UB
 * it aborts when
 *   - the line splitter or the log decoder gives a different result when the
 *     same bytes arrive in small pieces instead of at once,
 *   - a parsed event or container breaks its documented guarantees,
 *   - an error body leaves no message or a wrong code,
 *   - version comparison is not antisymmetric or negotiation exceeds ours,
 *   - a stats sample gives a negative or non-finite CPU share, or memory in
 *     use above what Docker said was used. */
#include <ctype.h>
#include <stdint.h>

#include "docker-internal.h"

/* Small enough that the fuzzer reaches the -E2BIG path of the splitter. */
#define FUZZ_LINE_MAX 512

/* ---- /events: line splitter + event parser ------------------------------ */

struct lines_out {
        struct buf all; /* every line, each followed by '\n' */
        size_t n;
};

static void check_event(const char *line, size_t len)
{
        _cleanup_json_ json_t *root = NULL;
        struct docker_event ev;

        if (docker_event_parse(line, len, &root, &ev) < 0) {
                if (root)
                        abort();
                return;
        }
        if (!root || !ev.type || !ev.action || !ev.id || !json_is_object(ev.attributes))
                abort();
}

static int on_line(const char *line, size_t len, void *userdata)
{
        struct lines_out *out = userdata;

        if (len > FUZZ_LINE_MAX || memchr(line, '\n', len))
                abort();
        check_event(line, len);
        out->n++;
        if (buf_append(&out->all, line, len) < 0 || buf_append(&out->all, "\n", 1) < 0)
                abort();
        return 0;
}

static int split_lines(const uint8_t *data, size_t size, size_t chunk, struct lines_out *out)
{
        struct docker_lines l;
        int r = 0;

        docker_lines_init(&l, FUZZ_LINE_MAX, on_line, out);
        for (size_t off = 0; off < size && r == 0; off += chunk) {
                size_t n = size - off < chunk ? size - off : chunk;

                r = docker_lines_feed(&l, (const char *)data + off, n);
        }
        docker_lines_release(&l);
        return r;
}

static void fuzz_lines(const uint8_t *data, size_t size, size_t chunk)
{
        struct lines_out whole = {}, split = {};
        int r1, r2;

        buf_init(&whole.all, 2 * size + 16);
        buf_init(&split.all, 2 * size + 16);
        r1 = split_lines(data, size, size ? size : 1, &whole);
        r2 = split_lines(data, size, chunk, &split);
        if (r1 != r2 || whole.n != split.n || whole.all.len != split.all.len ||
            (whole.all.len && memcmp(whole.all.data, split.all.data, whole.all.len) != 0) ||
            (r1 != 0 && r1 != -E2BIG))
                abort();
        buf_release(&whole.all);
        buf_release(&split.all);
}

/* ---- log frames ------------------------------------------------------------ */

struct frames_out {
        struct buf bytes; /* payload, each byte preceded by its stream number */
};

static int on_frame(enum docker_stream stream, const char *data, size_t len, void *userdata)
{
        struct frames_out *out = userdata;

        if (len == 0 || (stream != DOCKER_STREAM_STDOUT && stream != DOCKER_STREAM_STDERR))
                abort();
        for (size_t i = 0; i < len; i++) {
                char pair[2] = {(char)stream, data[i]};

                if (buf_append(&out->bytes, pair, 2) < 0)
                        abort();
        }
        return 0;
}

static int decode_frames(const uint8_t *data, size_t size, size_t chunk, struct frames_out *out)
{
        struct docker_log_decoder dec;
        int r = 0;

        docker_log_decoder_init(&dec);
        for (size_t off = 0; off < size && r == 0; off += chunk) {
                size_t n = size - off < chunk ? size - off : chunk;

                r = docker_log_decoder_feed(&dec, (const char *)data + off, n, on_frame, out);
        }
        return r;
}

static void fuzz_frames(const uint8_t *data, size_t size, size_t chunk)
{
        struct frames_out whole = {}, split = {};
        int r1, r2;

        buf_init(&whole.bytes, 2 * size + 16);
        buf_init(&split.bytes, 2 * size + 16);
        r1 = decode_frames(data, size, size ? size : 1, &whole);
        r2 = decode_frames(data, size, chunk, &split);
        if (r1 != r2 || whole.bytes.len != split.bytes.len ||
            (whole.bytes.len && memcmp(whole.bytes.data, split.bytes.data, whole.bytes.len) != 0) ||
            (r1 != 0 && r1 != -EPROTO))
                abort();
        buf_release(&whole.bytes);
        buf_release(&split.bytes);
}

/* ---- inspect / list JSON ------------------------------------------------ */

static void check_container(const json_t *j, bool inspect)
{
        struct docker_container c = {};

        if (docker_container_from_json(j, inspect, &c) < 0) {
                if (c.id || c.labels)
                        abort();
                return;
        }
        if (!c.id || !c.name || !c.image || !c.error || !json_is_object(c.labels) ||
            c.details_known != inspect || c.started_ms < 0 || c.finished_ms < 0)
                abort();
        (void)docker_state_to_string(c.state);
        docker_container_release(&c);
        if (c.id || c.labels)
                abort();
}

static void check_stats(const json_t *j)
{
        struct docker_stats s = {.pids = 7};

        if (docker_stats_parse(j, &s) < 0) {
                if (s.pids != 7 || json_is_object(j))
                        abort();
                return;
        }
        json_t *usage = json_path(j, "memory_stats.usage");
        uint64_t used = json_is_integer(usage) && json_integer_value(usage) > 0
                            ? (uint64_t)json_integer_value(usage)
                        : json_is_real(usage) && json_real_value(usage) > 0
                            ? (uint64_t)json_real_value(usage)
                            : 0;
        if (!(s.cpu_percent >= 0) || s.cpu_percent != s.cpu_percent ||
            (!s.cpu_known && s.cpu_percent != 0) || s.memory_usage > used ||
            !memchr(s.read, '\0', sizeof(s.read)) ||
            (!s.network_known && (s.net_rx_bytes || s.net_tx_bytes)))
                abort();
}

static void fuzz_json(const uint8_t *data, size_t size)
{
        _cleanup_json_ json_t *j = json_loadb((const char *)data, size, 0, NULL);
        size_t i;
        json_t *v;

        check_stats(j);
        if (json_is_object(j)) {
                check_container(j, true);
                check_container(j, false);
        } else if (json_is_array(j)) {
                json_array_foreach(j, i, v) check_container(v, false);
        }
}

/* ---- error bodies ---------------------------------------------------------- */

static void fuzz_error_body(const uint8_t *data, size_t size)
{
        static const long statuses[] = {0, 200, 304, 400, 401, 404, 409, 500, 503, 999, -1};
        long status = size ? statuses[data[0] % ARRAY_SIZE(statuses)] : 404;
        struct berth_error err = {};
        int code = docker_status_to_errno(status);

        if (code >= 0)
                abort();
        if (docker_error_from_body(&err, code, status, (const char *)data, size, "fuzz call") !=
                code ||
            err.code != code || !err.message[0] || !memchr(err.message, '\0', sizeof(err.message)))
                abort();
        if (docker_error_from_body(NULL, code, status, (const char *)data, size, "fuzz call") !=
            code)
                abort();
}

/* ---- strings: image references, versions, escaping ------------------------- */

static void fuzz_image_ref(const char *ref)
{
        char *name = NULL, *tag = NULL;

        if (docker_image_ref_split(ref, &name, &tag) < 0) {
                if (name || tag)
                        abort();
                return;
        }
        if (!name || !tag || !name[0] || !tag[0] || strlen(name) > strlen(ref))
                abort();
        free(name);
        free(tag);
}

static void fuzz_versions(const char *s)
{
        _cleanup_free_ char *a = strdup(s);
        char ret[DOCKER_VERSION_MAX];
        int ab, ba, aa, cmp;
        char *b;

        if (!a)
                return;
        b = strchr(a, '\n');
        if (b)
                *b++ = '\0';
        else
                b = a + strlen(a);
        if (docker_version_compare(a, b, &ab) == 0) {
                if (docker_version_compare(b, a, &ba) != 0 ||
                    docker_version_compare(a, a, &aa) != 0 || aa != 0 || (ab > 0) != (ba < 0) ||
                    (ab == 0) != (ba == 0))
                        abort();
        }
        memset(ret, 'x', sizeof(ret));
        if (docker_version_negotiate(a, *b ? b : NULL, ret) == 0) {
                if (!memchr(ret, '\0', sizeof(ret)) ||
                    docker_version_compare(ret, DOCKER_API_VERSION, &cmp) != 0 || cmp > 0)
                        abort();
        }
}

static void fuzz_escape(const char *s)
{
        _cleanup_free_ char *e = docker_escape(s);

        /* Only unreserved characters and %XX may be left. */
        for (const char *p = e; p && *p; p++)
                if (!isalnum((unsigned char)*p) && !strchr("-._~%", *p))
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* Chunk size for the "arrives in pieces" runs: 1..16, from the data so
         * that the fuzzer can steer it. */
        size_t chunk = size ? (size_t)(data[size - 1] % 16) + 1 : 1;
        _cleanup_free_ char *str = NULL;

        fuzz_lines(data, size, chunk);
        fuzz_frames(data, size, chunk);
        check_event((const char *)data, size);
        fuzz_json(data, size);
        fuzz_error_body(data, size);

        /* The string helpers take C strings: the input up to its first NUL. */
        str = strndup((const char *)data, size);
        if (!str)
                return 0;
        fuzz_image_ref(str);
        fuzz_versions(str);
        if (size <= 4096)
                fuzz_escape(str);
        return 0;
}
