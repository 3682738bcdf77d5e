/* docker: client lifecycle, the request core, version negotiation and error
 * formatting. Every Engine API call goes through docker_call(), which also
 * counts it by operation for /metrics. */
#include <ctype.h>
#include <pthread.h>

#include "docker-internal.h"
#include "metrics.h"

#define DOCKER_DEFAULT_URL     "unix:///var/run/docker.sock"
#define DOCKER_REMOTE_TEXT_MAX 512 /* non-JSON error bodies are cut here */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
        /* Never paired with curl_global_cleanup(): other threads may still use
         * curl at exit, and the memory is reclaimed with the process. */
        curl_init_result = curl_global_init(CURL_GLOBAL_ALL);
}

static void curl_slist_freep(struct curl_slist **l)
{
        curl_slist_free_all(*l);
}

char *docker_list_query(const char *base, const char *label_filter)
{
        _cleanup_json_ json_t *f = NULL;
        _cleanup_free_ char *filters = NULL, *e = NULL;

        if (!label_filter)
                return strdup(base);
        f = json_pack("{s:[s]}", "label", label_filter);
        filters = f ? json_dumps(f, JSON_COMPACT) : NULL;
        e = filters ? docker_escape(filters) : NULL;
        return e ? str_printf("%s%sfilters=%s", base, *base ? "&" : "", e) : NULL;
}

char *docker_escape(const char *s)
{
        /* curl_easy_escape needs no handle; its result must go back through
         * curl_free, so copy it to plain malloc memory for _cleanup_free_. */
        char *e = curl_easy_escape(NULL, s, 0);
        char *copy;

        if (!e)
                return NULL;
        copy = strdup(e);
        curl_free(e);
        return copy;
}

/* ---- pure helpers ------------------------------------------------------ */

int docker_status_to_errno(long status)
{
        if (status == 400)
                return -EINVAL;
        if (status == 401 || status == 403)
                return -EACCES;
        if (status == 404)
                return -ENOENT;
        if (status == 409)
                return -EBUSY;
        if (status >= 500 && status < 600)
                return -EIO;
        return -EPROTO;
}

int docker_error_from_body(struct berth_error *err, int code, long status, const char *body,
                           size_t len, const char *context)
{
        _cleanup_json_ json_t *j = NULL;
        char text[DOCKER_REMOTE_TEXT_MAX];
        const char *msg = NULL;

        if (body && len > 0) {
                j = json_loadb(body, len, 0, NULL);
                if (json_is_object(j))
                        msg = json_string_value(json_object_get(j, "message"));
        }
        if (!msg) {
                size_t n = 0;

                /* Plain text (proxies, very old daemons): trimmed, one line, capped. */
                while (len > 0 && isspace((unsigned char)*body)) {
                        body++;
                        len--;
                }
                while (len > 0 && isspace((unsigned char)body[len - 1]))
                        len--;
                for (; n < len && n < sizeof(text) - 1; n++)
                        text[n] = iscntrl((unsigned char)body[n]) ? ' ' : body[n];
                text[n] = '\0';
                msg = n > 0 ? text : "(no message)";
        }
        return berth_error_set_http(err, code, (int)status, msg, "%s", context);
}

static int version_parse(const char *s, unsigned long *ret_major, unsigned long *ret_minor)
{
        unsigned long major, minor = 0;
        char *end;

        if (!s || !isdigit((unsigned char)*s))
                return -EINVAL;
        errno = 0;
        major = strtoul(s, &end, 10);
        if (*end == '.') {
                if (!isdigit((unsigned char)end[1]))
                        return -EINVAL;
                minor = strtoul(end + 1, &end, 10);
        }
        if (*end != '\0' || errno != 0 || major > 1000 || minor > 100000)
                return -EINVAL;
        *ret_major = major;
        *ret_minor = minor;
        return 0;
}

int docker_version_compare(const char *a, const char *b, int *ret_cmp)
{
        unsigned long amaj, amin, bmaj, bmin;

        if (version_parse(a, &amaj, &amin) < 0 || version_parse(b, &bmaj, &bmin) < 0)
                return -EINVAL;
        if (amaj != bmaj)
                *ret_cmp = amaj < bmaj ? -1 : 1;
        else
                *ret_cmp = amin < bmin ? -1 : amin > bmin ? 1 : 0;
        return 0;
}

int docker_version_negotiate(const char *server_max, const char *server_min,
                             char ret[DOCKER_VERSION_MAX])
{
        unsigned long major, minor;
        int cmp_max, cmp_min;

        if (docker_version_compare(server_max, DOCKER_API_VERSION, &cmp_max) < 0)
                return -EPROTO;
        /* A junk minimum is ignored: the maximum alone decides. */
        if (server_min && docker_version_compare(server_min, DOCKER_API_VERSION, &cmp_min) == 0 &&
            cmp_min > 0)
                return -EPROTO;
        version_parse(cmp_max < 0 ? server_max : DOCKER_API_VERSION, &major, &minor);
        snprintf(ret, DOCKER_VERSION_MAX, "%lu.%lu", major, minor);
        return 0;
}

/* ---- operations, for metrics ------------------------------------------ */

/* The verbs of /containers/{id}/<verb> a metric may name; any other is
 * "other", so that no id or unknown word becomes a label value. */
static const char *const container_verbs[] = {
    "start", "kill",    "wait",  "logs",    "archive", "stats",
    "stop",  "restart", "pause", "unpause", "top",
};

const char *docker_operation(const char *method, const char *path)
{
        bool get = !method || streq(method, "GET"), post = streq(method, "POST");
        bool del = streq(method, "DELETE");

        if (!path)
                return "other";
        if (str_has_prefix(path, "/containers/")) {
                const char *rest = path + strlen("/containers/");
                const char *slash = strchr(rest, '/');
                if (!slash) {
                        if (post && streq(rest, "create"))
                                return "create";
                        if (get && streq(rest, "json"))
                                return "list";
                        return del && *rest ? "remove" : "other";
                }
                const char *verb = slash + 1;
                if (get && streq(verb, "json"))
                        return "inspect";
                for (size_t i = 0; i < ARRAY_SIZE(container_verbs); i++)
                        if (streq(verb, container_verbs[i]))
                                return container_verbs[i];
                return "other";
        }
        /* Image names may hold '/' when not escaped: match the ends. */
        if (str_has_prefix(path, "/images/")) {
                if (post && streq(path, "/images/create"))
                        return "pull";
                if (get && str_has_suffix(path, "/json"))
                        return "image_inspect";
                return del ? "image_remove" : "other";
        }
        if (str_has_prefix(path, "/volumes")) {
                if (get && streq(path, "/volumes"))
                        return "volume_list";
                if (post && streq(path, "/volumes/create"))
                        return "volume_create";
                return del && str_has_prefix(path, "/volumes/") ? "volume_remove" : "other";
        }
        static const struct {
                const char *path, *op;
        } plain[] = {
            {"/events", "events"}, {"/build", "build"}, {"/version", "version"},
            {"/info", "info"},     {"/_ping", "ping"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(plain); i++)
                if (streq(path, plain[i].path))
                        return plain[i].op;
        return "other";
}

const char *docker_code_class(int rc, long status)
{
        static const char *const classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

        if (rc < 0 || status < 100 || status > 599)
                return "error";
        return classes[status / 100 - 1];
}

static struct metrics_family requests =
    METRICS_COUNTER_INIT("berth_docker_requests_total",
                         "Docker Engine API calls by operation and status class (error: no "
                         "answer, or the call failed on our side).",
                         "operation", "code_class");
static struct metrics_family request_seconds =
    METRICS_HISTOGRAM_INIT("berth_docker_request_duration_seconds",
                           "Duration of Docker Engine API calls; a stream's (events, logs, "
                           "pull, build) until it ended.",
                           METRICS_BUCKETS_LATENCY, "operation");

/* ---- request core ------------------------------------------------------ */

struct call_state {
        struct docker *d;
        struct docker_req *req;
        int cb_ret;
        bool too_big;
};

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
        struct call_state *st = userdata;
        size_t n = size * nmemb;
        long status = 0;
        int r;

        curl_easy_getinfo(st->d->curl, CURLINFO_RESPONSE_CODE, &status);
        if (st->req->on_data && docker_status_ok(status)) {
                r = n > 0 ? st->req->on_data(ptr, n, st->req->userdata) : 0;
                if (r != 0) {
                        st->cb_ret = r;
                        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
                }
                return n;
        }
        r = buf_append(&st->req->resp, ptr, n);
        if (r == -E2BIG && st->req->on_data)
                return n; /* an error body of a stream: the head is enough */
        if (r < 0) {
                st->too_big = r == -E2BIG;
                return 0;
        }
        return n;
}

static size_t on_read(char *ptr, size_t size, size_t nmemb, void *userdata)
{
        struct call_state *st = userdata;
        ssize_t n = st->req->upload(ptr, size * nmemb, st->req->upload_userdata);

        if (n < 0) {
                st->cb_ret = (int)n;
                return CURL_READFUNC_ABORT;
        }
        return (size_t)n;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
        struct docker *d = userdata;

        (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
        /* libcurl calls this at least about once a second even when idle,
         * which bounds how long docker_interrupt() takes to act. */
        return atomic_load(&d->interrupted) || atomic_load(&d->abandoned) ? 1 : 0;
}

static curl_socket_t on_open_socket(void *userdata, curlsocktype purpose,
                                    struct curl_sockaddr *addr)
{
        struct docker *d = userdata;
        (void)purpose;
        int fd = socket_slot_open(&d->sock, addr->family, addr->socktype, addr->protocol);
        return fd < 0 ? CURL_SOCKET_BAD : fd;
}

static int on_close_socket(void *userdata, curl_socket_t fd)
{
        struct docker *d = userdata;
        return socket_slot_close(&d->sock, fd);
}

static int transport_error(struct docker *d, CURLcode rc, const char *context,
                           struct berth_error *err)
{
        const char *why = d->errbuf[0] ? d->errbuf : curl_easy_strerror(rc);
        const char *sep = context ? ": " : "";
        int code;

        context = context ? context : "";
        /* An interrupt may end a transfer in several ways (aborted by the
         * progress callback, the socket shut down or refused). */
        if (atomic_load(&d->interrupted))
                rc = CURLE_ABORTED_BY_CALLBACK;
        else if (atomic_load(&d->abandoned))
                return docker_engine_fail(d, context[0] ? context : NULL, err);
        switch (rc) {
        case CURLE_ABORTED_BY_CALLBACK:
                return berth_error_set(err, -EINTR, "%s%sinterrupted", context, sep);
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
                return berth_error_set(err, -ECONNREFUSED, "%s%scannot reach docker at %s: %s",
                                       context, sep, d->url, why);
        case CURLE_OPERATION_TIMEDOUT:
                code = -ETIMEDOUT;
                break;
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_PARTIAL_FILE:
        case CURLE_GOT_NOTHING:
                code = -ECONNRESET;
                break;
        case CURLE_OUT_OF_MEMORY:
                code = -ENOMEM;
                break;
        default:
                code = -EIO;
                break;
        }
        return berth_error_set(err, code, "%s%sdocker at %s: %s", context, sep, d->url, why);
}

void docker_req_release(struct docker_req *req)
{
        buf_release(&req->resp);
}

int docker_req_fail(const struct docker_req *req, int code, const char *context,
                    struct berth_error *err)
{
        return docker_error_from_body(err, code ? code : docker_status_to_errno(req->status),
                                      req->status, req->resp.data, req->resp.len, context);
}

static int call(struct docker *d, struct docker_req *req, const char *context,
                struct berth_error *err)
{
        _cleanup_(curl_slist_freep) struct curl_slist *headers = NULL;
        _cleanup_free_ char *url = NULL;
        _cleanup_free_ char *payload = NULL;
        struct call_state st = {.d = d, .req = req};
        const char *method = req->method ? req->method : "GET";
        struct curl_slist *h;
        CURLcode rc;

        buf_init(&req->resp, req->on_data ? DOCKER_ERROR_BODY_MAX : DOCKER_RESPONSE_MAX);
        req->status = 0;
        req->stopped = false;
        if (atomic_load(&d->interrupted))
                return berth_error_set(err, -EINTR, "%s%sinterrupted", context ? context : "",
                                       context ? ": " : "");

        url = str_printf("%s%s%s%s%s%s", d->origin, d->version[0] ? "/v" : "", d->version,
                         req->path, req->query ? "?" : "", req->query ? req->query : "");
        if (!url)
                return berth_error_set(err, -ENOMEM, "out of memory");
        if (req->body) {
                payload = json_dumps(req->body, JSON_COMPACT);
                if (!payload)
                        return berth_error_set(err, -ENOMEM, "out of memory");
                h = curl_slist_append(headers, "Content-Type: application/json");
                if (!h)
                        return berth_error_set(err, -ENOMEM, "out of memory");
                headers = h;
        }
        if (req->upload) {
                _cleanup_free_ char *type =
                    str_printf("Content-Type: %s",
                               req->upload_type ? req->upload_type : "application/octet-stream");

                if (!type || !streq(method, "POST"))
                        return berth_error_set(err, type ? -EINVAL : -ENOMEM,
                                               "%s%sstreamed body needs POST",
                                               context ? context : "", context ? ": " : "");
                /* Of unknown length: chunked, as the docker CLI sends contexts. */
                h = curl_slist_append(headers, type);
                if (h)
                        headers = h;
                h = h ? curl_slist_append(headers, "Transfer-Encoding: chunked") : NULL;
                if (!h)
                        return berth_error_set(err, -ENOMEM, "out of memory");
                headers = h;
        }
        /* Bodies over 1 KiB would otherwise wait for "100 Continue". */
        h = curl_slist_append(headers, "Expect:");
        if (!h)
                return berth_error_set(err, -ENOMEM, "out of memory");
        headers = h;

        /* Reset drops every option of the previous call but keeps the live
         * connection, so each request starts from a known state. */
        curl_easy_reset(d->curl);
        d->errbuf[0] = '\0';
        curl_easy_setopt(d->curl, CURLOPT_ERRORBUFFER, d->errbuf);
        curl_easy_setopt(d->curl, CURLOPT_URL, url);
        curl_easy_setopt(d->curl, CURLOPT_PROTOCOLS_STR, "http");
        if (d->socket_path)
                curl_easy_setopt(d->curl, CURLOPT_UNIX_SOCKET_PATH, d->socket_path);
        curl_easy_setopt(d->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(d->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)DOCKER_CONNECT_TIMEOUT_MS);
        if (!req->stream)
                curl_easy_setopt(d->curl, CURLOPT_TIMEOUT_MS,
                                 req->timeout_ms > 0 ? req->timeout_ms
                                                     : (long)DOCKER_REQUEST_TIMEOUT_MS);
        curl_easy_setopt(d->curl, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(d->curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(d->curl, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(d->curl, CURLOPT_WRITEDATA, &st);
        curl_easy_setopt(d->curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(d->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(d->curl, CURLOPT_XFERINFODATA, d);
        curl_easy_setopt(d->curl, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
        curl_easy_setopt(d->curl, CURLOPT_OPENSOCKETDATA, d);
        curl_easy_setopt(d->curl, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
        curl_easy_setopt(d->curl, CURLOPT_CLOSESOCKETDATA, d);
        if (streq(method, "GET")) {
                curl_easy_setopt(d->curl, CURLOPT_HTTPGET, 1L);
        } else if (req->upload) {
                curl_easy_setopt(d->curl, CURLOPT_POST, 1L);
                curl_easy_setopt(d->curl, CURLOPT_READFUNCTION, on_read);
                curl_easy_setopt(d->curl, CURLOPT_READDATA, &st);
        } else if (streq(method, "POST")) {
                curl_easy_setopt(d->curl, CURLOPT_POST, 1L);
                curl_easy_setopt(d->curl, CURLOPT_POSTFIELDS, payload ? payload : "");
                curl_easy_setopt(d->curl, CURLOPT_POSTFIELDSIZE,
                                 (long)(payload ? strlen(payload) : 0));
        } else {
                curl_easy_setopt(d->curl, CURLOPT_CUSTOMREQUEST, method);
        }

        rc = curl_easy_perform(d->curl);
        curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &req->status);
        if (st.cb_ret > 0) {
                req->stopped = true;
                return 0;
        }
        if (st.cb_ret < 0)
                return st.cb_ret;
        if (st.too_big)
                return berth_error_set(err, -E2BIG, "%s%sdocker response larger than %d bytes",
                                       context ? context : "", context ? ": " : "",
                                       DOCKER_RESPONSE_MAX);
        if (rc != CURLE_OK)
                return transport_error(d, rc, context, err);
        return 0;
}

int docker_call(struct docker *d, struct docker_req *req, const char *context,
                struct berth_error *err)
{
        const char *op = docker_operation(req->method, req->path);
        /* Streams last as long as what they follow: no slot, no timeout. A
         * stats sample waits about a second for Docker's next collection,
         * whatever the load: it would hold a slot for nothing (and `berth
         * top` takes 8 at once). */
        bool limited = !req->stream && !streq(op, "stats");
        int r = limited ? docker_engine_acquire(d, context, err) : 0;

        if (r < 0) {
                req->status = 0;
                metrics_counter_add(&requests, (const char *const[]){op, "error"}, 1);
                return r;
        }
        int64_t call_start = metrics_now_ns();
        r = call(d, req, context, err);
        if (limited)
                docker_engine_release(d, op, metrics_now_ns() - call_start, req->status > 0);

        metrics_counter_add(&requests, (const char *const[]){op, docker_code_class(r, req->status)},
                            1);
        /* The engine's time, without the wait for a slot. */
        metrics_series_observe_since(metrics_series(&request_seconds, (const char *const[]){op}),
                                     call_start);
        return r;
}

int docker_get_json(struct docker *d, const char *path, const char *query, json_t **ret,
                    const char *context, struct berth_error *err)
{
        _cleanup_(docker_req_release) struct docker_req req = {
            .method = "GET", .path = path, .query = query};
        json_error_t jerr;
        json_t *j;
        int r;

        r = docker_call(d, &req, context, err);
        if (r < 0)
                return r;
        if (!docker_status_ok(req.status))
                return docker_req_fail(&req, 0, context ? context : path, err);
        j = json_loadb(req.resp.data, req.resp.len, 0, &jerr);
        if (!j)
                return berth_error_set(err, -EPROTO, "%s: malformed JSON from docker: %s",
                                       context ? context : path, jerr.text);
        *ret = j;
        return 0;
}

/* ---- lifecycle --------------------------------------------------------- */

void docker_free(struct docker *d)
{
        if (!d)
                return;
        if (d->curl)
                curl_easy_cleanup(d->curl);
        docker_engine_unref(d->engine);
        socket_slot_destroy(&d->sock);
        free(d->url);
        free(d->socket_path);
        free(d->origin);
        free(d);
}

static void docker_freep(struct docker **d)
{
        docker_free(*d);
}

int docker_alloc(const char *url, struct docker **ret, struct berth_error *err)
{
        _cleanup_(docker_freep) struct docker *d = NULL;

        pthread_once(&curl_once, curl_init_once);
        if (curl_init_result != CURLE_OK)
                return berth_error_set(err, -EIO, "curl_global_init: %s",
                                       curl_easy_strerror(curl_init_result));
        d = calloc(1, sizeof(*d));
        if (!d)
                return berth_error_set(err, -ENOMEM, "out of memory");
        atomic_init(&d->interrupted, false);
        atomic_init(&d->abandoned, false);
        d->slot = -1;
        socket_slot_init(&d->sock);
        d->url = strdup(url);
        if (!d->url)
                return berth_error_set(err, -ENOMEM, "out of memory");
        if (str_has_prefix(url, "unix://")) {
                const char *path = url + strlen("unix://");

                if (path[0] != '/')
                        return berth_error_set(err, -EINVAL,
                                               "docker url %s: socket path must be absolute", url);
                d->socket_path = strdup(path);
                d->origin = strdup("http://docker");
                if (!d->socket_path || !d->origin)
                        return berth_error_set(err, -ENOMEM, "out of memory");
        } else if (str_has_prefix(url, "tcp://")) {
                const char *hostport = url + strlen("tcp://");

                /* TODO(docker-tls): plain HTTP only; TLS client certificates
                 * (DOCKER_CERT_PATH, DOCKER_TLS_VERIFY) come with that issue. */
                if (!hostport[0] || strpbrk(hostport, "/?#@ "))
                        return berth_error_set(err, -EINVAL, "docker url %s: want tcp://host:port",
                                               url);
                d->origin = str_printf("http://%s", hostport);
                if (!d->origin)
                        return berth_error_set(err, -ENOMEM, "out of memory");
        } else {
                return berth_error_set(err, -EINVAL,
                                       "docker url %s: want unix:///path or tcp://host:port", url);
        }
        d->curl = curl_easy_init();
        if (!d->curl)
                return berth_error_set(err, -ENOMEM, "curl_easy_init failed");
        *ret = TAKE_PTR(d);
        return 0;
}

int docker_new(const char *url, struct docker **ret, struct berth_error *err)
{
        _cleanup_(docker_freep) struct docker *d = NULL;
        _cleanup_json_ json_t *v = NULL;
        const char *max, *min;
        int r;

        if (!url) {
                url = getenv("DOCKER_HOST");
                if (!url || !url[0])
                        url = DOCKER_DEFAULT_URL;
        }
        r = docker_alloc(url, &d, err);
        if (r < 0)
                return r;
        /* Unversioned path: every daemon answers it. */
        r = docker_get_json(d, "/version", NULL, &v, NULL, err);
        if (r < 0)
                return r;
        max = json_string_value(json_object_get(v, "ApiVersion"));
        min = json_string_value(json_object_get(v, "MinAPIVersion"));
        r = docker_version_negotiate(max, min, d->version);
        if (r < 0)
                return berth_error_set(err, r,
                                       "docker at %s speaks API %s..%s, this client needs %s", url,
                                       min ? min : "?", max ? max : "?", DOCKER_API_VERSION);
        d->engine = docker_engine_new(d->url);
        if (!d->engine)
                return berth_error_set(err, -ENOMEM, "docker engine tracker: out of memory");
        *ret = TAKE_PTR(d);
        return 0;
}

struct docker *docker_clone(const struct docker *d)
{
        struct docker *c = NULL;

        if (docker_alloc(d->url, &c, NULL) < 0)
                return NULL;
        memcpy(c->version, d->version, sizeof(c->version));
        c->engine = docker_engine_ref(d->engine);
        return c;
}

const char *docker_api_version(const struct docker *d)
{
        return d->version;
}

const char *docker_url(const struct docker *d)
{
        return d->url;
}

void docker_interrupt(struct docker *d)
{
        atomic_store(&d->interrupted, true);
        socket_slot_interrupt(&d->sock);
        docker_engine_interrupt(d);
}
