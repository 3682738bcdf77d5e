/* docker: streamed answers — container logs (multiplexed frames) and /events
 * (one JSON object per line). Both feed docker_call's on_data as bytes arrive. */
#include <inttypes.h>

#include "docker-internal.h"

/* ---- line splitter ----------------------------------------------------- */

void docker_lines_init(struct docker_lines *l, size_t max, docker_line_fn fn, void *userdata)
{
        buf_init(&l->partial, max);
        l->fn = fn;
        l->userdata = userdata;
}

void docker_lines_release(struct docker_lines *l)
{
        buf_release(&l->partial);
}

int docker_lines_feed(struct docker_lines *l, const char *data, size_t len)
{
        while (len > 0) {
                const char *nl = memchr(data, '\n', len);
                const char *line = data;
                size_t n, line_len;
                int r;

                if (!nl)
                        return buf_append(&l->partial, data, len) < 0 ? -E2BIG : 0;
                n = (size_t)(nl - data);
                line_len = n;
                if (l->partial.len > 0) {
                        if (buf_append(&l->partial, data, n) < 0)
                                return -E2BIG;
                        line = l->partial.data;
                        line_len = l->partial.len;
                } else if (n > l->partial.max) {
                        return -E2BIG;
                }
                if (line_len > 0 && line[line_len - 1] == '\r')
                        line_len--;
                r = l->fn(line, line_len, l->userdata);
                buf_reset(&l->partial);
                if (r != 0)
                        return r;
                data = nl + 1;
                len -= n + 1;
        }
        return 0;
}

static int lines_data(const char *data, size_t len, void *userdata)
{
        return docker_lines_feed(userdata, data, len);
}

int docker_call_lines(struct docker *d, struct docker_req *req, struct docker_lines *lines,
                      const char *what, const char *context, struct berth_error *err)
{
        req->on_data = lines_data;
        req->userdata = lines;
        req->stream = true;
        int r = docker_call(d, req, context, err);
        if (r == -E2BIG)
                return berth_error_set(err, r, "%s: %s longer than %zu bytes", context, what,
                                       lines->partial.max);
        if (r < 0)
                return r;
        /* A stop comes from a line, so only with a 2xx body. */
        if (!req->stopped && !docker_status_ok(req->status))
                return docker_req_fail(req, 0, context, err);
        return 0;
}

/* ---- log decoder ------------------------------------------------------- */

void docker_log_decoder_init(struct docker_log_decoder *dec)
{
        *dec = (struct docker_log_decoder){.stream = DOCKER_STREAM_STDOUT};
}

int docker_log_decoder_feed(struct docker_log_decoder *dec, const char *data, size_t len,
                            docker_log_fn fn, void *userdata)
{
        while (len > 0) {
                size_t take;

                if (dec->remaining == 0) {
                        /* Between frames: collect the 8-byte header. */
                        take = sizeof(dec->header) - dec->header_len;
                        take = take < len ? take : len;
                        memcpy(dec->header + dec->header_len, data, take);
                        dec->header_len += take;
                        data += take;
                        len -= take;
                        if (dec->header_len < sizeof(dec->header))
                                return 0;
                        dec->header_len = 0;
                        /* Bytes 1..3 are always zero; anything else means we
                         * lost sync (or were fed a TTY stream). */
                        if (dec->header[0] > 2 || dec->header[1] || dec->header[2] ||
                            dec->header[3])
                                return -EPROTO;
                        dec->stream =
                            dec->header[0] == 2 ? DOCKER_STREAM_STDERR : DOCKER_STREAM_STDOUT;
                        dec->remaining = (uint32_t)dec->header[4] << 24 |
                                         (uint32_t)dec->header[5] << 16 |
                                         (uint32_t)dec->header[6] << 8 | dec->header[7];
                        continue;
                }
                take = dec->remaining < len ? dec->remaining : len;
                dec->remaining -= (uint32_t)take;
                if (fn(dec->stream, data, take, userdata) != 0)
                        return 1;
                data += take;
                len -= take;
        }
        return 0;
}

/* ---- logs -------------------------------------------------------------- */

struct logs_state {
        struct docker_log_decoder dec;
        bool tty;
        docker_log_fn fn;
        void *userdata;
};

static int logs_data(const char *data, size_t len, void *userdata)
{
        struct logs_state *st = userdata;

        if (st->tty)
                return st->fn(DOCKER_STREAM_RAW, data, len, st->userdata) != 0 ? 1 : 0;
        return docker_log_decoder_feed(&st->dec, data, len, st->fn, st->userdata);
}

int docker_container_logs(struct docker *d, const char *id, const struct docker_logs_opts *opts,
                          docker_log_fn fn, void *userdata, struct berth_error *err)
{
        static const struct docker_logs_opts defaults = {.tail = -1};
        _cleanup_(docker_req_release) struct docker_req req = {0};
        _cleanup_free_ char *e = NULL, *path = NULL, *query = NULL;
        struct logs_state st = {.fn = fn, .userdata = userdata};
        char ctx[512], tail[24] = "all";
        int r;

        snprintf(ctx, sizeof(ctx), "logs of container %s", id ? id : "");
        if (!id || !id[0] || !fn)
                return berth_error_set(err, -EINVAL, "%s: no id or callback", ctx);
        opts = opts ? opts : &defaults;
        st.tty = opts->tty;
        docker_log_decoder_init(&st.dec);
        if (opts->tail >= 0)
                snprintf(tail, sizeof(tail), "%d", opts->tail);
        e = docker_escape(id);
        path = e ? str_printf("/containers/%s/logs", e) : NULL;
        query = str_printf("stdout=1&stderr=1&follow=%d&timestamps=%d&tail=%s", opts->follow,
                           opts->timestamps, tail);
        if (!path || !query)
                return berth_error_set(err, -ENOMEM, "out of memory");
        req = (struct docker_req){.method = "GET",
                                  .path = path,
                                  .query = query,
                                  .on_data = logs_data,
                                  .userdata = &st,
                                  .stream = true};
        r = docker_call(d, &req, ctx, err);
        if (r == -EPROTO)
                return berth_error_set(err, r, "%s: malformed log frame (tty container?)", ctx);
        if (r < 0)
                return r;
        if (req.stopped || docker_status_ok(req.status))
                return 0;
        return docker_req_fail(&req, 0, ctx, err);
}

/* ---- events ------------------------------------------------------------ */

int docker_event_parse(const char *line, size_t len, json_t **ret_root, struct docker_event *ret)
{
        _cleanup_json_ json_t *root = json_loadb(line, len, 0, NULL);
        json_t *actor, *attrs, *t;
        struct docker_event ev = {0};

        if (!json_is_object(root))
                return -EPROTO;
        ev.type = json_string_value(json_object_get(root, "Type"));
        ev.action = json_string_value(json_object_get(root, "Action"));
        if (!ev.type || !ev.action)
                return -EPROTO;
        actor = json_object_get(root, "Actor");
        if (!json_is_object(actor)) {
                actor = json_object();
                if (json_object_set_new(root, "Actor", actor) < 0)
                        return -ENOMEM;
        }
        attrs = json_object_get(actor, "Attributes");
        if (!json_is_object(attrs)) {
                attrs = json_object();
                if (json_object_set_new(actor, "Attributes", attrs) < 0)
                        return -ENOMEM;
        }
        ev.id = json_string_value(json_object_get(actor, "ID"));
        ev.id = ev.id ? ev.id : "";
        ev.attributes = attrs;
        t = json_object_get(root, "timeNano");
        if (json_is_integer(t)) {
                ev.time_nano = json_integer_value(t);
        } else {
                json_int_t secs = json_integer_value(json_object_get(root, "time"));

                /* Seconds that do not fit in int64 nanoseconds (year 2262) are
                 * junk: reported as 0, like a missing time, not overflowed. */
                if (secs <= INT64_MAX / 1000000000 && secs >= INT64_MIN / 1000000000)
                        ev.time_nano = (int64_t)secs * 1000000000;
        }
        *ret_root = TAKE_PTR(root);
        *ret = ev;
        return 0;
}

struct events_state {
        docker_event_fn fn;
        void *userdata;
        struct berth_error *err;
};

static int event_line(const char *line, size_t len, void *userdata)
{
        struct events_state *st = userdata;
        _cleanup_json_ json_t *root = NULL;
        struct docker_event ev;
        int r;

        if (len == 0)
                return 0;
        r = docker_event_parse(line, len, &root, &ev);
        if (r < 0)
                return berth_error_set(st->err, r, "watch docker events: malformed event: %.*s",
                                       (int)(len < 200 ? len : 200), line);
        return st->fn(&ev, st->userdata) != 0 ? 1 : 0;
}

int docker_events(struct docker *d, const char *label_filter, int64_t since_nano,
                  docker_event_fn fn, void *userdata, struct berth_error *err)
{
        _cleanup_(docker_req_release) struct docker_req req = {0};
        _cleanup_(docker_lines_release) struct docker_lines lines = {0};
        _cleanup_json_ json_t *f = NULL;
        _cleanup_free_ char *filters = NULL, *e = NULL, *query = NULL;
        struct events_state st = {.fn = fn, .userdata = userdata, .err = err};
        const char *ctx = "watch docker events";
        int r;

        if (!fn)
                return berth_error_set(err, -EINVAL, "%s: no callback", ctx);
        f = label_filter ? json_pack("{s:[s],s:[s]}", "type", "container", "label", label_filter)
                         : json_pack("{s:[s]}", "type", "container");
        filters = f ? json_dumps(f, JSON_COMPACT) : NULL;
        e = filters ? docker_escape(filters) : NULL;
        if (e && since_nano > 0)
                query = str_printf("filters=%s&since=%" PRId64 ".%09" PRId64, e,
                                   since_nano / 1000000000, since_nano % 1000000000);
        else if (e)
                query = str_printf("filters=%s", e);
        if (!query)
                return berth_error_set(err, -ENOMEM, "out of memory");
        docker_lines_init(&lines, DOCKER_EVENT_MAX, event_line, &st);
        req = (struct docker_req){.method = "GET", .path = "/events", .query = query};
        r = docker_call_lines(d, &req, &lines, "event", ctx, err);
        if (r < 0 || req.stopped)
                return r;
        return berth_error_set(err, -ECONNRESET, "%s: stream closed by docker at %s", ctx,
                               docker_url(d));
}
