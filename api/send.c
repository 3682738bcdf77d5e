/* api: whole replies — JSON, text and Status errors — and their accounting
 * (the counters by route and code /metrics shows, the debug request log).
 *
 * Loop thread only, like everything that touches evhttp.
 */
#include "api-internal.h"

#include <event2/buffer.h>

#include "metrics.h"

static struct metrics_family requests = METRICS_COUNTER_INIT(
    "berth_api_requests_total", "API requests by route and status code.", "route", "code");
static struct metrics_family request_seconds =
    METRICS_HISTOGRAM_INIT("berth_api_request_duration_seconds",
                           "Time from an API request's arrival to its reply (a stream's: to the "
                           "start of the reply).",
                           METRICS_BUCKETS_LATENCY, "route");

const char *api_method_name(enum evhttp_cmd_type t)
{
        switch (t) {
        case EVHTTP_REQ_GET:
                return "GET";
        case EVHTTP_REQ_POST:
                return "POST";
        case EVHTTP_REQ_HEAD:
                return "HEAD";
        case EVHTTP_REQ_PUT:
                return "PUT";
        case EVHTTP_REQ_DELETE:
                return "DELETE";
        case EVHTTP_REQ_PATCH:
                return "PATCH";
        case EVHTTP_REQ_OPTIONS:
                return "OPTIONS";
        default:
                return "OTHER";
        }
}

void api_count(struct api_server *s, int code)
{
        const struct api_request_metrics *m = s->replying;
        const char *route = m && m->route ? m->route : "other";
        char text[8] = "other";

        if (code >= 100 && code <= 599)
                snprintf(text, sizeof(text), "%d", code);
        metrics_counter_add(&requests, (const char *const[]){route, text}, 1);
        if (m && m->start_ns > 0)
                metrics_series_observe_since(
                    metrics_series(&request_seconds, (const char *const[]){route}), m->start_ns);
}

static void log_request(struct evhttp_request *req, int code)
{
        if (!log_enabled(LOG_LEVEL_DEBUG))
                return;
        const char *uri = evhttp_request_get_uri(req);
        log_debug("request method=%s uri=%.200s code=%d",
                  api_method_name(evhttp_request_get_command(req)), uri ? uri : "", code);
}

/* A 200 whose ETag the request's If-None-Match already has. */
static bool not_modified(struct evhttp_request *req, int code)
{
        enum evhttp_cmd_type m = evhttp_request_get_command(req);
        if (code != 200 || (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD))
                return false;
        const char *etag = evhttp_find_header(evhttp_request_get_output_headers(req), "ETag");
        const char *inm =
            evhttp_find_header(evhttp_request_get_input_headers(req), "If-None-Match");
        return etag && api_etag_matches(inm, etag);
}

/* The part of every reply before its body: a 304 when the request's
 * If-None-Match names the reply's ETag (then true: nothing more to send), else
 * the Content-Type, and for a body over API_GZIP_MIN bytes the gzip of data
 * into *ret_gz when the client accepts it (NULL otherwise). */
static bool reply_head(struct api_server *s, struct evhttp_request *req, int code,
                       const char *content_type, const char *data, size_t len, char **ret_gz,
                       size_t *ret_gz_len)
{
        struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
        *ret_gz = NULL;
        if (not_modified(req, code)) {
                api_count(s, 304);
                log_request(req, 304);
                evhttp_send_reply(req, 304, "Not Modified", NULL);
                return true;
        }
        evhttp_add_header(headers, "Content-Type", content_type);
        if (len > API_GZIP_MIN) {
                evhttp_add_header(headers, "Vary", "Accept-Encoding");
                if (api_gzip_accepted(evhttp_find_header(evhttp_request_get_input_headers(req),
                                                         "Accept-Encoding")) &&
                    data && api_gzip(data, len, ret_gz, ret_gz_len) == 0)
                        evhttp_add_header(headers, "Content-Encoding", "gzip");
        }
        return false;
}

static void reply_send(struct api_server *s, struct evhttp_request *req, int code)
{
        api_count(s, code);
        log_request(req, code);
        evhttp_send_reply(req, code, NULL, NULL);
}

void api_send_body(struct api_server *s, struct evhttp_request *req, int code,
                   const char *content_type, const char *data, size_t len)
{
        struct evbuffer *out = evhttp_request_get_output_buffer(req);
        _cleanup_free_ char *gz = NULL;
        size_t gz_len = 0;
        if (reply_head(s, req, code, content_type, data, len, &gz, &gz_len))
                return;
        if (gz) {
                data = gz;
                len = gz_len;
        }
        if (len > 0 && evbuffer_add(out, data, len) < 0)
                code = 500;
        reply_send(s, req, code);
}

void api_send_buffer(struct api_server *s, struct evhttp_request *req, int code,
                     const char *content_type, struct evbuffer *body)
{
        struct evbuffer *out = evhttp_request_get_output_buffer(req);
        size_t len = evbuffer_get_length(body);
        /* Only a body that may be gzipped is made contiguous. */
        const char *data = len > API_GZIP_MIN ? (const char *)evbuffer_pullup(body, -1) : NULL;
        _cleanup_free_ char *gz = NULL;
        size_t gz_len = 0;
        if (reply_head(s, req, code, content_type, data, len, &gz, &gz_len))
                return;
        if (gz ? evbuffer_add(out, gz, gz_len) < 0 : evbuffer_add_buffer(out, body) < 0)
                code = 500;
        reply_send(s, req, code);
}

void api_send_text(struct api_server *s, struct evhttp_request *req, int code, const char *text)
{
        api_send_body(s, req, code, "text/plain; charset=utf-8", text, strlen(text));
}

void api_send_json(struct api_server *s, struct evhttp_request *req, int code, const json_t *body)
{
        _cleanup_free_ char *text = json_dumps(body, JSON_COMPACT);
        if (!text) {
                static const char oom[] = "{\"kind\":\"Status\",\"apiVersion\":\"berth/v1\","
                                          "\"status\":\"Failure\",\"code\":500,\"reason\":"
                                          "\"InternalError\",\"message\":\"out of memory\"}\n";
                api_send_body(s, req, 500, "application/json", oom, sizeof(oom) - 1);
                return;
        }
        size_t n = strlen(text);
        _cleanup_free_ char *line = malloc(n + 2);
        if (line) {
                memcpy(line, text, n);
                line[n] = '\n';
                line[n + 1] = '\0';
        }
        api_send_body(s, req, code, "application/json", line ? line : text, line ? n + 1 : n);
}

void api_audit_request(struct api_server *s, const struct api_request_info *ri, int code)
{
        if (!s->audit || !ri || !ri->audited)
                return;
        struct api_audit_event ev = {
            .time_ms = time_now_ms(),
            .user = ri->who.user,
            .groups = ri->who.groups,
            .n_groups = ri->who.n_groups,
            .source = ri->who.source,
            .verb = ri->verb,
            .resource = ri->resource,
            .ns = ri->ns,
            .name = ri->name,
            .code = code,
            .request_id = ri->request_id,
        };
        _cleanup_free_ char *line = api_audit_format(&ev);
        int r = line ? api_audit_write(s->audit, line, strlen(line)) : -ENOMEM;
        if (r < 0)
                log_warn("audit log write failed: %s request_id=%s", strerror(-r), ri->request_id);
}

void api_send_error(struct api_server *s, struct evhttp_request *req, const struct api_error *e)
{
        _cleanup_json_ json_t *st = api_status_failure(e);
        int code = e->code >= 400 ? e->code : 500;
        if (code >= 500)
                log_warn("request failed: %s code=%d uri=%.200s", e->message, code,
                         evhttp_request_get_uri(req));
        if (code == 405) {
                /* Tell the client what it may do instead. */
                evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                                  "GET, HEAD, POST, PUT, DELETE");
        }
        api_send_json(s, req, code, st);
}

void api_request_free_detached(struct evhttp_request *req)
{
        if (req && !evhttp_request_get_connection(req))
                evhttp_request_free(req);
}
