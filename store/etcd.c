/* store etcd: the etcd v3 backend, through etcd's JSON gateway over HTTP (libcurl).
 *
 * Requests: every call is a POST of a JSON body to http://<endpoint>/v3/...; keys
 * and values are base64 and 64-bit integers decimal strings (see etcd-internal.h).
 * Unary calls borrow a curl easy handle from a small mutex-protected pool, so
 * connections are kept alive across calls from any thread.
 *
 * Endpoints and failover: a call starts at the endpoint that answered last and,
 * on a failure to connect, tries the next one; after a full round it waits
 * (100 ms, then 200 ms) and tries another round, three rounds at most. A request
 * that may have reached etcd is only sent again when it is a read: a write that
 * timed out is reported (-ETIMEDOUT) and may or may not have been applied.
 *
 * Watches: one thread per watch holds a streaming POST /v3/watch and reads one
 * JSON message per line. Events are delivered per message, in order; the next
 * revision to deliver is remembered so that after a broken stream (etcd restart,
 * failover) the watch resumes at exactly that revision: no event is lost or
 * repeated. Reconnects back off from 100 ms to 5 s and go on until cancelled.
 * Cancelling sets a flag that curl's progress callback (called at least once a
 * second) and the backoff wait both look at, then joins the thread.
 *
 * Limits: a unary response is capped at 64 MiB (lists page through 1000 keys at a
 * time and halve the page when a page is larger); a watch message at 64 MiB (a
 * larger one ends the watch with -EMSGSIZE). etcd itself refuses requests larger
 * than --max-request-bytes (1.5 MiB by default), so values close to
 * STORE_VALUE_MAX need a larger setting on the etcd side.
 *
 * TODO(#3): etcd username/password authentication and etcds:// (TLS).
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "etcd-internal.h"

#define ETCD_ENDPOINTS_MAX      16
#define ETCD_POOL_MAX           16
#define ETCD_TIMEOUT_MS         10000
#define ETCD_CONNECT_TIMEOUT_MS 2000
#define ETCD_ROUNDS             3
#define ETCD_ROUND_BACKOFF_MS   100
#define ETCD_RESPONSE_MAX       (64 * 1024 * 1024)
#define ETCD_LIST_PAGE          1000
#define ETCD_WATCH_MESSAGE_MAX  (64 * 1024 * 1024)
#define ETCD_WATCH_BACKOFF_MIN  100
#define ETCD_WATCH_BACKOFF_MAX  5000
#define ETCD_URL_MAX            512
#define I64_STR_MAX             24

/* ---- small helpers ---------------------------------------------------------- */

static pthread_mutex_t *mutex_lock(pthread_mutex_t *m)
{
        pthread_mutex_lock(m);
        return m;
}

static void mutex_unlockp(pthread_mutex_t **m)
{
        if (*m)
                pthread_mutex_unlock(*m);
}

#define LOCK_SCOPE(m) _cleanup_(mutex_unlockp) _unused_ pthread_mutex_t *scope_lock_ = mutex_lock(m)

static void sleep_ms(int64_t ms)
{
        struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static void i64_format(int64_t v, char out[I64_STR_MAX])
{
        snprintf(out, I64_STR_MAX, "%" PRId64, v);
}

/* ---- base64 ----------------------------------------------------------------- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int etcd_base64_encode(const void *data, size_t len, char **ret)
{
        if (len > (SIZE_MAX / 4 - 1) * 3)
                return -E2BIG;
        const unsigned char *p = data;
        char *out = malloc((len + 2) / 3 * 4 + 1);
        if (!out)
                return -ENOMEM;
        size_t o = 0, i = 0;
        for (; i + 3 <= len; i += 3) {
                uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
                out[o++] = b64_alphabet[v >> 18 & 63];
                out[o++] = b64_alphabet[v >> 12 & 63];
                out[o++] = b64_alphabet[v >> 6 & 63];
                out[o++] = b64_alphabet[v & 63];
        }
        if (len - i == 1) {
                uint32_t v = (uint32_t)p[i] << 16;
                out[o++] = b64_alphabet[v >> 18 & 63];
                out[o++] = b64_alphabet[v >> 12 & 63];
                out[o++] = '=';
                out[o++] = '=';
        } else if (len - i == 2) {
                uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
                out[o++] = b64_alphabet[v >> 18 & 63];
                out[o++] = b64_alphabet[v >> 12 & 63];
                out[o++] = b64_alphabet[v >> 6 & 63];
                out[o++] = '=';
        }
        out[o] = '\0';
        *ret = out;
        return 0;
}

static int b64_value(unsigned char c)
{
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

int etcd_base64_decode(const char *s, size_t slen, char **ret, size_t *ret_len)
{
        if (slen % 4 != 0)
                return -EBADMSG;
        size_t pad = 0;
        if (slen > 0 && s[slen - 1] == '=')
                pad = s[slen - 2] == '=' ? 2 : 1;
        size_t out_len = slen / 4 * 3 - pad;
        _cleanup_free_ char *out = malloc(out_len + 1);
        if (!out)
                return -ENOMEM;
        size_t o = 0;
        for (size_t i = 0; i < slen; i += 4) {
                bool last = i + 4 == slen;
                uint32_t v = 0;
                for (size_t j = 0; j < 4; j++) {
                        int x = 0;
                        if (!last || j < 4 - pad) {
                                x = b64_value((unsigned char)s[i + j]);
                                if (x < 0)
                                        return -EBADMSG;
                        }
                        v = v << 6 | (uint32_t)x;
                }
                /* Padding bits must be zero: etcd (Go) never sends anything else. */
                if (last && ((pad == 2 && (v & 0xffff)) || (pad == 1 && (v & 0xff))))
                        return -EBADMSG;
                out[o++] = (char)(v >> 16);
                if (!last || pad < 2)
                        out[o++] = (char)(v >> 8 & 0xff);
                if (!last || pad < 1)
                        out[o++] = (char)(v & 0xff);
        }
        out[o] = '\0';
        *ret = TAKE_PTR(out);
        *ret_len = o;
        return 0;
}

/* ---- proto3 JSON -------------------------------------------------------------- */

int etcd_json_int64(const json_t *obj, const char *name, int64_t *ret)
{
        json_t *v = json_is_object(obj) ? json_object_get(obj, name) : NULL;
        if (!v || json_is_null(v)) {
                *ret = 0;
                return 0;
        }
        if (json_is_integer(v)) {
                *ret = (int64_t)json_integer_value(v);
                return 0;
        }
        if (!json_is_string(v))
                return -EBADMSG;
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        const char *digits = s[0] == '-' ? s + 1 : s;
        if (len == 0 || len >= I64_STR_MAX || *digits < '0' || *digits > '9')
                return -EBADMSG;
        errno = 0;
        char *end = NULL;
        long long x = strtoll(s, &end, 10);
        if (errno != 0 || end != s + len)
                return -EBADMSG;
        *ret = (int64_t)x;
        return 0;
}

bool etcd_json_bool(const json_t *obj, const char *name)
{
        json_t *v = json_is_object(obj) ? json_object_get(obj, name) : NULL;
        return json_is_true(v);
}

static int decode_field(const json_t *obj, const char *name, char **ret, size_t *ret_len)
{
        json_t *v = json_object_get(obj, name);
        if (v && !json_is_string(v))
                return -EBADMSG;
        return etcd_base64_decode(v ? json_string_value(v) : "", v ? json_string_length(v) : 0, ret,
                                  ret_len);
}

int etcd_parse_kv(const json_t *obj, struct store_kv *ret)
{
        if (!json_is_object(obj) || !json_is_string(json_object_get(obj, "key")))
                return -EBADMSG;
        _cleanup_(store_kv_release) struct store_kv kv = {0};
        size_t key_len = 0;
        int r = decode_field(obj, "key", &kv.key, &key_len);
        if (r < 0)
                return r;
        if (key_len == 0 || key_len > STORE_KEY_MAX || memchr(kv.key, '\0', key_len))
                return -EBADMSG;
        r = decode_field(obj, "value", &kv.value, &kv.value_len);
        if (r < 0)
                return r;
        if (etcd_json_int64(obj, "create_revision", &kv.create_revision) < 0 ||
            etcd_json_int64(obj, "mod_revision", &kv.mod_revision) < 0 ||
            etcd_json_int64(obj, "version", &kv.version) < 0 ||
            etcd_json_int64(obj, "lease", &kv.lease) < 0)
                return -EBADMSG;
        *ret = kv;
        kv = (struct store_kv){0};
        return 0;
}

void etcd_events_free(struct store_event *events, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                store_kv_release(&events[i].kv);
                store_kv_release(&events[i].prev_kv);
        }
        free(events);
}

static int parse_event(const json_t *obj, struct store_event *ret)
{
        if (!json_is_object(obj))
                return -EBADMSG;
        struct store_event e = {.type = STORE_EVENT_PUT};
        json_t *type = json_object_get(obj, "type");
        if (type) {
                if (json_is_string(type) && streq(json_string_value(type), "DELETE"))
                        e.type = STORE_EVENT_DELETE;
                else if (!json_is_string(type) || !streq(json_string_value(type), "PUT"))
                        return -EBADMSG;
        }
        int r = etcd_parse_kv(json_object_get(obj, "kv"), &e.kv);
        if (r < 0)
                return r;
        if (e.type == STORE_EVENT_DELETE) {
                /* store.h: a DELETE carries no value. */
                free(e.kv.value);
                e.kv.value = NULL;
                e.kv.value_len = 0;
        }
        json_t *prev = json_object_get(obj, "prev_kv");
        if (prev && !json_is_null(prev)) {
                r = etcd_parse_kv(prev, &e.prev_kv);
                if (r < 0) {
                        store_kv_release(&e.kv);
                        return r;
                }
        }
        *ret = e;
        return 0;
}

void etcd_watch_msg_release(struct etcd_watch_msg *m)
{
        if (!m)
                return;
        free(m->cancel_reason);
        free(m->error);
        etcd_events_free(m->events, m->n);
        *m = (struct etcd_watch_msg){0};
}

static void watch_msg_releasep(struct etcd_watch_msg *m)
{
        etcd_watch_msg_release(m);
}

int etcd_watch_msg_parse(const char *data, size_t len, struct etcd_watch_msg *ret)
{
        _cleanup_json_ json_t *root = json_loadb(data, len, 0, NULL);
        if (!json_is_object(root))
                return -EBADMSG;
        _cleanup_(watch_msg_releasep) struct etcd_watch_msg m = {0};

        json_t *error = json_object_get(root, "error");
        if (error) {
                /* grpc-gateway stream errors: {"error":{"grpc_code":..,"message":..}}. */
                const char *msg = json_is_string(error) ? json_string_value(error)
                                                        : json_path_string(error, "message");
                m.error = strdup(msg && *msg ? msg : "unknown stream error");
                if (!m.error)
                        return -ENOMEM;
                *ret = m;
                m = (struct etcd_watch_msg){0};
                return 0;
        }
        json_t *res = json_object_get(root, "result");
        if (!json_is_object(res))
                return -EBADMSG;
        if (etcd_json_int64(json_object_get(res, "header"), "revision", &m.header_revision) < 0 ||
            etcd_json_int64(res, "compact_revision", &m.compact_revision) < 0)
                return -EBADMSG;
        m.created = etcd_json_bool(res, "created");
        m.canceled = etcd_json_bool(res, "canceled");
        json_t *reason = json_object_get(res, "cancel_reason");
        if (reason) {
                if (!json_is_string(reason))
                        return -EBADMSG;
                m.cancel_reason = strdup(json_string_value(reason));
                if (!m.cancel_reason)
                        return -ENOMEM;
        }
        json_t *events = json_object_get(res, "events");
        if (events && !json_is_array(events))
                return -EBADMSG;
        size_t n = json_array_size(events);
        if (n > 0) {
                m.events = calloc(n, sizeof(*m.events));
                if (!m.events)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        int r = parse_event(json_array_get(events, i), &m.events[i]);
                        if (r < 0)
                                return r;
                        m.n++;
                        /* Events come in revision order; anything else is corrupt. */
                        if (i > 0 && m.events[i].kv.mod_revision < m.events[i - 1].kv.mod_revision)
                                return -EBADMSG;
                }
        }
        *ret = m;
        m = (struct etcd_watch_msg){0};
        return 0;
}

/* ---- errors and endpoints --------------------------------------------------- */

int etcd_error_errno(const char *message, int64_t grpc_code)
{
        if (message) {
                if (strstr(message, "required revision has been compacted"))
                        return STORE_ERR_COMPACTED;
                if (strstr(message, "required revision is a future revision"))
                        return -EINVAL;
                if (strstr(message, "requested lease not found"))
                        return -ENOENT;
                if (strstr(message, "request is too large"))
                        return -E2BIG;
                if (strstr(message, "database space exceeded"))
                        return -ENOSPC;
        }
        switch (grpc_code) {
        case 1: /* CANCELLED */
                return -ECANCELED;
        case 3:  /* INVALID_ARGUMENT */
        case 11: /* OUT_OF_RANGE */
                return -EINVAL;
        case 4: /* DEADLINE_EXCEEDED */
                return -ETIMEDOUT;
        case 5: /* NOT_FOUND */
                return -ENOENT;
        case 6: /* ALREADY_EXISTS */
                return -EEXIST;
        case 7:  /* PERMISSION_DENIED */
        case 16: /* UNAUTHENTICATED */
                return -EACCES;
        case 8: /* RESOURCE_EXHAUSTED */
                return -ENOSPC;
        case 12: /* UNIMPLEMENTED */
                return -EOPNOTSUPP;
        case 14: /* UNAVAILABLE: no leader, leader changed, stopping */
                return -EAGAIN;
        default:
                return -EIO;
        }
}

static bool valid_port(const char *p)
{
        if (!*p || strlen(p) > 5)
                return false;
        for (const char *c = p; *c; c++)
                if (*c < '0' || *c > '9')
                        return false;
        long v = strtol(p, NULL, 10);
        return v >= 1 && v <= 65535;
}

static bool valid_endpoint(const char *ep)
{
        const char *colon = strrchr(ep, ':');
        if (!colon || colon == ep || !valid_port(colon + 1))
                return false;
        size_t host_len = (size_t)(colon - ep);
        if (ep[0] == '[') {
                if (host_len < 3 || ep[host_len - 1] != ']')
                        return false;
        } else if (memchr(ep, ':', host_len)) {
                return false; /* a bare IPv6 address needs brackets */
        }
        /* Nothing that would change the meaning of the URL we build. */
        for (size_t i = 0; i < host_len; i++) {
                unsigned char c = (unsigned char)ep[i];
                if (c <= ' ' || c >= 0x7f || strchr("/?#@\\%\"", c))
                        return false;
        }
        return true;
}

int etcd_parse_endpoints(const char *location, char ***ret)
{
        if (!location || !*location)
                return -EINVAL;
        _cleanup_free_ char *copy = strdup(location);
        if (!copy)
                return -ENOMEM;
        _cleanup_strv_ char **v = calloc(ETCD_ENDPOINTS_MAX + 1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        size_t n = 0;
        char *p = copy;
        for (;;) {
                char *comma = strchr(p, ',');
                if (comma)
                        *comma = '\0';
                if (n == ETCD_ENDPOINTS_MAX || !valid_endpoint(p))
                        return -EINVAL;
                v[n] = strdup(p);
                if (!v[n])
                        return -ENOMEM;
                n++;
                if (!comma)
                        break;
                p = comma + 1;
        }
        *ret = TAKE_PTR(v);
        return 0;
}

/* ---- the store -------------------------------------------------------------- */

struct etcd_watch;

struct etcd_store {
        struct store base;
        char **endpoints;
        size_t n_endpoints;
        struct curl_slist *headers; /* read-only once built; shared by every handle */

        /* lock guards pool, n_pool, preferred and watches */
        pthread_mutex_t lock;
        CURL *pool[ETCD_POOL_MAX];
        size_t n_pool;
        size_t preferred; /* the endpoint that answered last */
        struct etcd_watch *watches;
};

static inline struct etcd_store *ES(struct store *s)
{
        return container_of(s, struct etcd_store, base);
}

/* What a unary call is, for the request and for error messages. */
struct call {
        const char *op;      /* "get", "put", ... */
        const char *subject; /* key, prefix or lease id */
        const char *path;    /* "/v3/kv/range" */
        bool idempotent;     /* may be sent again after it possibly reached etcd */
        bool first_line;     /* a stream endpoint: keep only its first message */
        size_t value_len;    /* for a put: explains "request is too large" */
        const char *ep;      /* out: the endpoint that answered (or failed last) */
};

struct response {
        struct buf body;
        bool got_line;
        int write_error; /* -E2BIG when the response went past its cap */
        bool first_line;
};

static void response_release(struct response *resp)
{
        buf_release(&resp->body);
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
        struct response *resp = userdata;
        size_t n = size * nmemb;
        int r = buf_append(&resp->body, ptr, n);
        if (r < 0) {
                resp->write_error = r;
                return 0;
        }
        if (resp->first_line && memchr(ptr, '\n', n)) {
                /* Stop reading the stream: the connection is closed, not reused. */
                resp->got_line = true;
                return 0;
        }
        return n;
}

static void common_options(struct etcd_store *s, CURL *h)
{
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, s->headers);
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)ETCD_CONNECT_TIMEOUT_MS);
        curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 10L);
        curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
}

static CURL *pool_get(struct etcd_store *s)
{
        {
                LOCK_SCOPE(&s->lock);
                if (s->n_pool > 0)
                        return s->pool[--s->n_pool];
        }
        CURL *h = curl_easy_init();
        if (!h)
                return NULL;
        common_options(s, h);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)ETCD_TIMEOUT_MS);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
        return h;
}

static void pool_put(struct etcd_store *s, CURL *h)
{
        /* Pointers into the caller's stack must not outlive the call. */
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
        {
                LOCK_SCOPE(&s->lock);
                if (s->n_pool < ETCD_POOL_MAX) {
                        s->pool[s->n_pool++] = h;
                        return;
                }
        }
        curl_easy_cleanup(h);
}

static size_t preferred_endpoint(struct etcd_store *s)
{
        LOCK_SCOPE(&s->lock);
        return s->preferred;
}

static void set_preferred_endpoint(struct etcd_store *s, size_t i)
{
        LOCK_SCOPE(&s->lock);
        s->preferred = i;
}

/* Whether to try the request again, elsewhere: only when it surely did not reach
 * etcd, or when it is a read. */
static bool retryable(CURL *h, CURLcode cc, bool idempotent)
{
        long sent = 0;
        curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent);
        switch (cc) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
                return true;
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
                return idempotent || sent == 0;
        case CURLE_OPERATION_TIMEDOUT:
                /* A read that timed out would likely time out again: only a
                 * connect timeout moves on. */
                return sent == 0;
        default:
                return false;
        }
}

static int transport_error(const struct call *c, CURL *h, CURLcode cc, const struct response *resp,
                           const char *errbuf, struct berth_error *err)
{
        if (resp->write_error == -E2BIG)
                return berth_error_set(err, -E2BIG,
                                       "etcd %s: %s %s: response is larger than the limit of "
                                       "%d MiB",
                                       c->ep, c->op, c->subject, ETCD_RESPONSE_MAX >> 20);
        if (resp->write_error < 0)
                return berth_error_set(err, resp->write_error, "etcd %s: %s %s: out of memory",
                                       c->ep, c->op, c->subject);
        const char *detail = errbuf && *errbuf ? errbuf : curl_easy_strerror(cc);
        switch (cc) {
        case CURLE_COULDNT_CONNECT: {
                /* The socket's own errno says it best: "connection refused". */
                long os_errno = 0;
                curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
                if (os_errno <= 0)
                        return berth_error_set(err, -ECONNREFUSED, "etcd %s: %s %s: %s", c->ep,
                                               c->op, c->subject, detail);
                char msg[128];
                str_copy(msg, sizeof(msg), strerror((int)os_errno));
                if (msg[0] >= 'A' && msg[0] <= 'Z')
                        msg[0] = (char)(msg[0] - 'A' + 'a');
                return berth_error_set(err, -(int)os_errno, "etcd %s: %s %s: %s", c->ep, c->op,
                                       c->subject, msg);
        }
        case CURLE_COULDNT_RESOLVE_HOST:
                return berth_error_set(err, -EHOSTUNREACH, "etcd %s: %s %s: %s", c->ep, c->op,
                                       c->subject, detail);
        case CURLE_OPERATION_TIMEDOUT:
                return berth_error_set(err, -ETIMEDOUT, "etcd %s: %s %s: %s", c->ep, c->op,
                                       c->subject, detail);
        case CURLE_OUT_OF_MEMORY:
                return berth_error_set(err, -ENOMEM, "etcd %s: %s %s: out of memory", c->ep, c->op,
                                       c->subject);
        default:
                return berth_error_set(err, -EIO, "etcd %s: %s %s: %s", c->ep, c->op, c->subject,
                                       detail);
        }
}

static int malformed(const struct call *c, struct berth_error *err)
{
        return berth_error_set(err, -EBADMSG, "etcd %s: %s %s: malformed response", c->ep, c->op,
                               c->subject);
}

/* An answer that is not a success: keep etcd's own message. */
static int remote_error(const struct call *c, long status, const json_t *root, const char *raw,
                        struct berth_error *err)
{
        const json_t *e = root;
        json_t *inner = json_object_get(root, "error");
        if (json_is_object(inner))
                e = inner; /* stream form: {"error":{"grpc_code":..,"message":..}} */
        const char *msg = json_path_string(e, "message");
        if (!msg || !*msg)
                msg = json_path_string(e, "error");
        int64_t code = json_path_int(e, "code", json_path_int(e, "grpc_code", -1));
        int r;
        if (msg && *msg) {
                r = etcd_error_errno(msg, code);
        } else {
                /* Not etcd's JSON: a proxy, or something else on that port. */
                r = status == 404 ? -EPROTO : -EIO;
                msg = raw && *raw ? raw : "no message";
        }
        if (r == -E2BIG && c->value_len > 0)
                berth_error_set(err, r,
                                "etcd %s: %s %s: %s (%zu byte value; etcd's request size limit "
                                "is --max-request-bytes, 1.5 MiB by default)",
                                c->ep, c->op, c->subject, msg, c->value_len);
        else
                berth_error_set_http(err, r, (int)status, msg, "etcd %s: %s %s", c->ep, c->op,
                                     c->subject);
        if (err)
                err->http_status = (int)status;
        return r;
}

/* POSTs body to c->path and returns the parsed JSON answer (for a stream endpoint,
 * the "result" of its first message). */
static int etcd_call(struct etcd_store *s, struct call *c, const json_t *body, json_t **ret,
                     struct berth_error *err)
{
        _cleanup_free_ char *data = json_dumps(body, JSON_COMPACT);
        if (!data)
                return berth_error_set(err, -ENOMEM, "etcd: %s %s: out of memory", c->op,
                                       c->subject);
        CURL *h = pool_get(s);
        if (!h)
                return berth_error_set(err, -ENOMEM, "etcd: %s %s: out of memory", c->op,
                                       c->subject);
        _cleanup_(response_release) struct response resp = {.first_line = c->first_line};
        buf_init(&resp.body, ETCD_RESPONSE_MAX);
        char errbuf[CURL_ERROR_SIZE];
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, data);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(data));
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);

        size_t start = preferred_endpoint(s);
        CURLcode cc = CURLE_OK;
        bool finished = false;
        for (int round = 0; round < ETCD_ROUNDS && !finished; round++) {
                if (round > 0)
                        sleep_ms((int64_t)ETCD_ROUND_BACKOFF_MS << (round - 1));
                for (size_t i = 0; i < s->n_endpoints; i++) {
                        size_t idx = (start + i) % s->n_endpoints;
                        c->ep = s->endpoints[idx];
                        char url[ETCD_URL_MAX];
                        if (snprintf(url, sizeof(url), "http://%s%s", c->ep, c->path) >=
                            (int)sizeof(url)) {
                                pool_put(s, h);
                                return berth_error_set(err, -ENAMETOOLONG, "etcd %s: URL too long",
                                                       c->ep);
                        }
                        curl_easy_setopt(h, CURLOPT_URL, url);
                        buf_reset(&resp.body);
                        resp.got_line = false;
                        resp.write_error = 0;
                        errbuf[0] = '\0';
                        cc = curl_easy_perform(h);
                        if (cc == CURLE_WRITE_ERROR && resp.got_line && !resp.write_error)
                                cc = CURLE_OK;
                        if (cc == CURLE_OK) {
                                if (idx != start)
                                        set_preferred_endpoint(s, idx);
                                finished = true;
                                break;
                        }
                        if (resp.write_error || !retryable(h, cc, c->idempotent)) {
                                finished = true;
                                break;
                        }
                }
        }
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (cc != CURLE_OK) {
                int r = transport_error(c, h, cc, &resp, errbuf, err);
                pool_put(s, h);
                return r;
        }
        pool_put(s, h);

        size_t len = resp.body.len;
        if (c->first_line) {
                char *nl = memchr(resp.body.data ? resp.body.data : "", '\n', len);
                if (nl)
                        len = (size_t)(nl - resp.body.data);
        }
        _cleanup_json_ json_t *root =
            json_loadb(resp.body.data ? resp.body.data : "", len, 0, NULL);
        if (status != 200 || !json_is_object(root) || json_object_get(root, "error"))
                return remote_error(c, status, root, resp.body.data, err);
        if (c->first_line) {
                json_t *result = json_object_get(root, "result");
                if (!json_is_object(result))
                        return malformed(c, err);
                *ret = json_incref(result);
                return 0;
        }
        *ret = TAKE_PTR(root);
        return 0;
}

static int header_revision(const json_t *resp, int64_t *ret)
{
        int64_t rev = 0;
        if (etcd_json_int64(json_object_get(resp, "header"), "revision", &rev) < 0 || rev <= 0)
                return -EBADMSG;
        *ret = rev;
        return 0;
}

static char *b64(const void *data, size_t len)
{
        char *out = NULL;
        return etcd_base64_encode(data, len, &out) < 0 ? NULL : out;
}

/* A prefix as an etcd range: key and range_end, both base64. The empty prefix and
 * prefixes of only 0xff bytes have no upper bound: etcd spells that "\0". */
static int prefix_range(const char *prefix, char **ret_key, char **ret_end)
{
        _cleanup_free_ char *end = NULL;
        int r = store_prefix_end(prefix, &end);
        if (r < 0)
                return r;
        _cleanup_free_ char *k = *prefix ? b64(prefix, strlen(prefix)) : b64("", 1);
        _cleanup_free_ char *e = end ? b64(end, strlen(end)) : b64("", 1);
        if (!k || !e)
                return -ENOMEM;
        *ret_key = TAKE_PTR(k);
        *ret_end = TAKE_PTR(e);
        return 0;
}

static int conflict(struct berth_error *err, const char *op, const char *key, int64_t expected,
                    int64_t found)
{
        if (expected == STORE_MUST_NOT_EXIST)
                return berth_error_set(err, -ESTALE,
                                       "store: %s %s: conflict: key already exists (mod "
                                       "revision %" PRId64 ", expected none)",
                                       op, key, found);
        if (found == 0)
                return berth_error_set(err, -ESTALE,
                                       "store: %s %s: conflict: key does not exist (expected "
                                       "mod revision %" PRId64 ")",
                                       op, key, expected);
        return berth_error_set(
            err, -ESTALE, "store: %s %s: conflict: mod revision is %" PRId64 ", expected %" PRId64,
            op, key, found, expected);
}

/* The kvs of the first response of a txn that took its failure branch (a range). */
static const json_t *failure_kvs(const json_t *resp)
{
        const json_t *r0 = json_array_get(json_object_get(resp, "responses"), 0);
        return json_object_get(json_object_get(r0, "response_range"), "kvs");
}

/* ---- kv ------------------------------------------------------------------- */

static int etcd_get(struct store *base, const char *key, struct store_kv *ret,
                    struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        _cleanup_free_ char *k = b64(key, strlen(key));
        _cleanup_json_ json_t *body = k ? json_pack("{s:s}", "key", k) : NULL;
        if (!body)
                return berth_error_set(err, -ENOMEM, "etcd: get %s: out of memory", key);
        struct call c = {.op = "get", .subject = key, .path = "/v3/kv/range", .idempotent = true};
        _cleanup_json_ json_t *resp = NULL;
        int r = etcd_call(s, &c, body, &resp, err);
        if (r < 0)
                return r;
        json_t *kvs = json_object_get(resp, "kvs");
        if (kvs && !json_is_array(kvs))
                return malformed(&c, err);
        if (json_array_size(kvs) == 0)
                return berth_error_set(err, -ENOENT, "store: get %s: not found", key);
        struct store_kv kv;
        r = etcd_parse_kv(json_array_get(kvs, 0), &kv);
        if (r == -ENOMEM)
                return berth_error_set(err, r, "etcd: get %s: out of memory", key);
        if (r < 0)
                return malformed(&c, err);
        *ret = kv;
        return 0;
}

static int kvs_append(struct store_kvs *out, size_t *cap, const json_t *obj)
{
        if (out->n == *cap) {
                size_t ncap = *cap ? *cap * 2 : 64;
                struct store_kv *items = reallocarray(out->items, ncap, sizeof(*items));
                if (!items)
                        return -ENOMEM;
                out->items = items;
                *cap = ncap;
        }
        int r = etcd_parse_kv(obj, &out->items[out->n]);
        if (r < 0)
                return r;
        out->n++;
        return 0;
}

static int etcd_list(struct store *base, const char *prefix, int64_t revision,
                     struct store_kvs *ret, struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        _cleanup_free_ char *key = NULL;
        _cleanup_free_ char *end = NULL;
        if (prefix_range(prefix, &key, &end) < 0)
                return berth_error_set(err, -ENOMEM, "etcd: list %s: out of memory", prefix);
        _cleanup_(store_kvs_release) struct store_kvs out = {0};
        size_t cap = 0;
        int64_t rev = revision;
        int64_t limit = ETCD_LIST_PAGE;
        for (;;) {
                char rev_s[I64_STR_MAX], limit_s[I64_STR_MAX];
                i64_format(rev, rev_s);
                i64_format(limit, limit_s);
                /* Every page reads the revision of the first one. */
                _cleanup_json_ json_t *body =
                    json_pack("{s:s, s:s, s:s, s:s}", "key", key, "range_end", end, "revision",
                              rev_s, "limit", limit_s);
                if (!body)
                        return berth_error_set(err, -ENOMEM, "etcd: list %s: out of memory",
                                               prefix);
                struct call c = {
                    .op = "list", .subject = prefix, .path = "/v3/kv/range", .idempotent = true};
                _cleanup_json_ json_t *resp = NULL;
                int r = etcd_call(s, &c, body, &resp, err);
                if (r == -E2BIG && limit > 1) {
                        limit /= 2; /* a page of large values: take fewer at a time */
                        continue;
                }
                if (r < 0)
                        return r;
                if (rev == 0 && header_revision(resp, &rev) < 0)
                        return malformed(&c, err);
                json_t *kvs = json_object_get(resp, "kvs");
                if (kvs && !json_is_array(kvs))
                        return malformed(&c, err);
                for (size_t i = 0; i < json_array_size(kvs); i++) {
                        r = kvs_append(&out, &cap, json_array_get(kvs, i));
                        if (r == -ENOMEM)
                                return berth_error_set(err, r, "etcd: list %s: out of memory",
                                                       prefix);
                        if (r < 0)
                                return malformed(&c, err);
                }
                if (!etcd_json_bool(resp, "more") || json_array_size(kvs) == 0)
                        break;
                /* The next page starts right after the last key: last key + "\0". */
                const char *last = out.items[out.n - 1].key;
                free(key);
                key = b64(last, strlen(last) + 1);
                if (!key)
                        return berth_error_set(err, -ENOMEM, "etcd: list %s: out of memory",
                                               prefix);
        }
        out.revision = rev;
        *ret = out;
        out = (struct store_kvs){0};
        return 0;
}

/* Compare of a key's mod revision ("0": the key must not exist). */
static json_t *cmp_mod(const char *k64, int64_t expected)
{
        char rev_s[I64_STR_MAX];
        if (expected == STORE_MUST_NOT_EXIST)
                return json_pack("{s:s, s:s, s:s, s:s}", "key", k64, "target", "CREATE", "result",
                                 "EQUAL", "create_revision", "0");
        i64_format(expected, rev_s);
        return json_pack("{s:s, s:s, s:s, s:s}", "key", k64, "target", "MOD", "result", "EQUAL",
                         "mod_revision", rev_s);
}

/* A txn: the compares (the guard's, the key's CAS), one success op (request is
 * borrowed), and a failure
 * branch that reads the key (responses[0]) and the guard key (responses[1]) so
 * that a failure can be told apart: fence gone (-EPERM) or CAS lost (-ESTALE). */
static json_t *txn_body(const char *k64, int64_t expected, const char *guard64, int64_t guard_rev,
                        const char *op, json_t *request)
{
        _cleanup_json_ json_t *compare = json_array();
        _cleanup_json_ json_t *failure = json_array();
        if (!compare || !failure || !request)
                return NULL;
        if (guard64 && json_array_append_new(compare, cmp_mod(guard64, guard_rev)) < 0)
                return NULL;
        if (expected != STORE_ANY_REVISION &&
            json_array_append_new(compare, cmp_mod(k64, expected)) < 0)
                return NULL;
        if (json_array_append_new(failure, json_pack("{s:{s:s}}", "request_range", "key", k64)) < 0)
                return NULL;
        if (guard64 && json_array_append_new(
                           failure, json_pack("{s:{s:s}}", "request_range", "key", guard64)) < 0)
                return NULL;
        return json_pack("{s:O, s:[{s:O}], s:O}", "compare", compare, "success", op, request,
                         "failure", failure);
}

/* The kvs of the i-th response of a txn that took its failure branch (a range). */
static const json_t *failure_kvs_at(const json_t *resp, size_t i)
{
        const json_t *ri = json_array_get(json_object_get(resp, "responses"), i);
        return json_object_get(json_object_get(ri, "response_range"), "kvs");
}

/* After a failed txn with a guard: 1 if the guard still holds, 0 if not, <0 malformed. */
static int guard_holds(const json_t *resp, const struct store_guard *guard)
{
        const json_t *kvs = failure_kvs_at(resp, 1);
        if (json_array_size(kvs) == 0)
                return 0;
        int64_t found = 0;
        if (etcd_json_int64(json_array_get(kvs, 0), "mod_revision", &found) < 0)
                return -EBADMSG;
        return found == guard->mod_revision;
}

static int etcd_put(struct store *base, const char *key, const char *value, size_t value_len,
                    int64_t expected, int64_t lease, const struct store_guard *guard,
                    int64_t *ret_revision, struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        _cleanup_free_ char *k = b64(key, strlen(key));
        _cleanup_free_ char *v = b64(value, value_len);
        _cleanup_free_ char *g = guard ? b64(guard->key, strlen(guard->key)) : NULL;
        if (!k || !v || (guard && !g))
                return berth_error_set(err, -ENOMEM, "etcd: put %s: out of memory", key);
        char lease_s[I64_STR_MAX];
        i64_format(lease, lease_s);
        _cleanup_json_ json_t *put =
            json_pack("{s:s, s:s, s:s}", "key", k, "value", v, "lease", lease_s);
        _cleanup_json_ json_t *body = NULL;
        struct call c = {.op = "put", .subject = key, .value_len = value_len};
        bool txn = guard || expected != STORE_ANY_REVISION;
        if (!txn) {
                c.path = "/v3/kv/put";
                body = json_incref(put);
        } else {
                c.path = "/v3/kv/txn";
                body =
                    txn_body(k, expected, g, guard ? guard->mod_revision : 0, "request_put", put);
        }
        if (!put || !body)
                return berth_error_set(err, -ENOMEM, "etcd: put %s: out of memory", key);
        _cleanup_json_ json_t *resp = NULL;
        int r = etcd_call(s, &c, body, &resp, err);
        if (r < 0)
                return r;
        if (txn && !etcd_json_bool(resp, "succeeded")) {
                if (guard) {
                        int h = guard_holds(resp, guard);
                        if (h < 0)
                                return malformed(&c, err);
                        if (h == 0 || expected == STORE_ANY_REVISION)
                                return store_guard_failed(guard, err);
                }
                int64_t found = 0;
                const json_t *kvs = failure_kvs(resp);
                if (json_array_size(kvs) > 0 &&
                    etcd_json_int64(json_array_get(kvs, 0), "mod_revision", &found) < 0)
                        return malformed(&c, err);
                return conflict(err, "put", key, expected, found);
        }
        int64_t rev;
        if (header_revision(resp, &rev) < 0)
                return malformed(&c, err);
        if (ret_revision)
                *ret_revision = rev;
        return 0;
}

static int etcd_delete(struct store *base, const char *key, int64_t expected,
                       const struct store_guard *guard, int64_t *ret_revision,
                       struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        _cleanup_free_ char *k = b64(key, strlen(key));
        _cleanup_free_ char *g = guard ? b64(guard->key, strlen(guard->key)) : NULL;
        _cleanup_json_ json_t *body = NULL;
        struct call c = {.op = "delete", .subject = key};
        bool txn = guard || expected != STORE_ANY_REVISION;
        if (!k || (guard && !g)) {
                /* out of memory: reported below */
        } else if (!txn) {
                c.path = "/v3/kv/deleterange";
                body = json_pack("{s:s}", "key", k);
        } else {
                c.path = "/v3/kv/txn";
                _cleanup_json_ json_t *del = json_pack("{s:s}", "key", k);
                body = txn_body(k, expected, g, guard ? guard->mod_revision : 0,
                                "request_delete_range", del);
        }
        if (!body)
                return berth_error_set(err, -ENOMEM, "etcd: delete %s: out of memory", key);
        _cleanup_json_ json_t *resp = NULL;
        int r = etcd_call(s, &c, body, &resp, err);
        if (r < 0)
                return r;
        if (txn && !etcd_json_bool(resp, "succeeded")) {
                if (guard) {
                        int h = guard_holds(resp, guard);
                        if (h < 0)
                                return malformed(&c, err);
                        if (h == 0)
                                return store_guard_failed(guard, err);
                }
                const json_t *kvs = failure_kvs(resp);
                if (json_array_size(kvs) == 0)
                        return berth_error_set(err, -ENOENT, "store: delete %s: not found", key);
                if (expected == STORE_ANY_REVISION)
                        return store_guard_failed(guard, err);
                int64_t found = 0;
                if (etcd_json_int64(json_array_get(kvs, 0), "mod_revision", &found) < 0)
                        return malformed(&c, err);
                return conflict(err, "delete", key, expected, found);
        }
        /* A delete without a CAS that found nothing still "succeeds" in etcd. */
        if (expected == STORE_ANY_REVISION) {
                const json_t *dr =
                    txn ? json_object_get(json_array_get(json_object_get(resp, "responses"), 0),
                                          "response_delete_range")
                        : resp;
                int64_t deleted = 0;
                if (etcd_json_int64(dr, "deleted", &deleted) < 0)
                        return malformed(&c, err);
                if (deleted == 0)
                        return berth_error_set(err, -ENOENT, "store: delete %s: not found", key);
        }
        int64_t rev;
        if (header_revision(resp, &rev) < 0)
                return malformed(&c, err);
        if (ret_revision)
                *ret_revision = rev;
        return 0;
}

static int etcd_revision(struct store *base, int64_t *ret_revision, struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        /* A linearizable count of one key: only the header matters. */
        _cleanup_json_ json_t *body = json_pack("{s:s, s:b}", "key", "AA==", "count_only", 1);
        if (!body)
                return berth_error_set(err, -ENOMEM, "etcd: revision: out of memory");
        struct call c = {
            .op = "read", .subject = "revision", .path = "/v3/kv/range", .idempotent = true};
        _cleanup_json_ json_t *resp = NULL;
        int r = etcd_call(s, &c, body, &resp, err);
        if (r < 0)
                return r;
        int64_t rev;
        if (header_revision(resp, &rev) < 0)
                return malformed(&c, err);
        *ret_revision = rev;
        return 0;
}

static int etcd_compact(struct store *base, int64_t revision, struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        char rev_s[I64_STR_MAX];
        i64_format(revision, rev_s);
        _cleanup_json_ json_t *body = json_pack("{s:s}", "revision", rev_s);
        if (!body)
                return berth_error_set(err, -ENOMEM, "etcd: compact: out of memory");
        struct call c = {
            .op = "compact at", .subject = rev_s, .path = "/v3/kv/compaction", .idempotent = true};
        _cleanup_json_ json_t *resp = NULL;
        struct berth_error e = {0};
        int r = etcd_call(s, &c, body, &resp, &e);
        /* Compacting at or before the compaction point is a no-op, as in store.h. */
        if (r == STORE_ERR_COMPACTED)
                return 0;
        if (r < 0) {
                if (err)
                        *err = e;
                return r;
        }
        return 0;
}

/* ---- leases ----------------------------------------------------------------- */

static int etcd_lease_grant(struct store *base, int64_t ttl, int64_t *ret_id,
                            struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        char ttl_s[I64_STR_MAX];
        i64_format(ttl, ttl_s);
        _cleanup_json_ json_t *body = json_pack("{s:s}", "TTL", ttl_s);
        if (!body)
                return berth_error_set(err, -ENOMEM, "etcd: grant lease: out of memory");
        struct call c = {.op = "grant lease", .subject = "TTL", .path = "/v3/lease/grant"};
        _cleanup_json_ json_t *resp = NULL;
        int r = etcd_call(s, &c, body, &resp, err);
        if (r < 0)
                return r;
        const char *msg = json_path_string(resp, "error");
        if (msg && *msg)
                return berth_error_set(err, -EIO, "etcd %s: grant lease: %s", c.ep, msg);
        int64_t id = 0;
        if (etcd_json_int64(resp, "ID", &id) < 0 || id <= 0)
                return malformed(&c, err);
        *ret_id = id;
        return 0;
}

static int lease_not_found(struct berth_error *err, int64_t id)
{
        return berth_error_set(err, -ENOENT,
                               "store: lease %" PRId64 " not found (expired or revoked)", id);
}

static int etcd_lease_keepalive(struct store *base, int64_t id, struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        char id_s[I64_STR_MAX];
        i64_format(id, id_s);
        _cleanup_json_ json_t *body = json_pack("{s:s}", "ID", id_s);
        if (!body)
                return berth_error_set(err, -ENOMEM, "etcd: keep lease alive: out of memory");
        /* A stream endpoint: one request, its first answer, then the connection closes. */
        struct call c = {.op = "keep alive lease",
                         .subject = id_s,
                         .path = "/v3/lease/keepalive",
                         .idempotent = true,
                         .first_line = true};
        _cleanup_json_ json_t *resp = NULL;
        int r = etcd_call(s, &c, body, &resp, err);
        if (r == -ENOENT)
                return lease_not_found(err, id);
        if (r < 0)
                return r;
        int64_t ttl = 0;
        if (etcd_json_int64(resp, "TTL", &ttl) < 0)
                return malformed(&c, err);
        /* An expired or revoked lease answers without TTL: it is lost. */
        if (ttl <= 0)
                return lease_not_found(err, id);
        return 0;
}

static int etcd_lease_revoke(struct store *base, int64_t id, struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        char id_s[I64_STR_MAX];
        i64_format(id, id_s);
        _cleanup_json_ json_t *body = json_pack("{s:s}", "ID", id_s);
        if (!body)
                return berth_error_set(err, -ENOMEM, "etcd: revoke lease: out of memory");
        struct call c = {.op = "revoke lease", .subject = id_s, .path = "/v3/lease/revoke"};
        _cleanup_json_ json_t *resp = NULL;
        int r = etcd_call(s, &c, body, &resp, err);
        if (r == -ENOENT)
                return lease_not_found(err, id);
        return r < 0 ? r : 0;
}

/* ---- watches ---------------------------------------------------------------- */

struct etcd_watch {
        struct store_watch base;
        struct etcd_store *s;
        struct etcd_watch *next; /* in s->watches, under s->lock */
        char *key;               /* base64 range of the prefix */
        char *end;
        store_watch_fn fn;
        void *userdata;
        pthread_t thread;

        /* m guards cancel's wake-up; cancel itself is atomic for curl's callbacks */
        pthread_mutex_t m;
        pthread_cond_t c;
        atomic_bool cancel;

        /* thread-owned */
        int64_t next_rev; /* first revision not delivered yet */
        struct buf line;
        bool created;      /* the current stream was accepted */
        bool reconnect;    /* the current stream is unusable: drop it */
        int final_error;   /* ends the watch after the stream stops */
        bool free_on_exit; /* cancelled from its own callback */
};

static void watch_free(struct etcd_watch *w)
{
        if (!w)
                return;
        free(w->key);
        free(w->end);
        buf_release(&w->line);
        pthread_mutex_destroy(&w->m);
        pthread_cond_destroy(&w->c);
        free(w);
}

/* One stream message. Returns false to stop reading this stream. */
static bool watch_handle(struct etcd_watch *w, const char *data, size_t len)
{
        if (len == 0)
                return true;
        struct etcd_watch_msg m;
        int r = etcd_watch_msg_parse(data, len, &m);
        if (r < 0) {
                if (r == -ENOMEM)
                        w->final_error = r;
                w->reconnect = true;
                return false;
        }
        if (m.error) {
                /* The gateway lost its stream to etcd: start a new one. */
                etcd_watch_msg_release(&m);
                w->reconnect = true;
                return false;
        }
        if (m.created)
                w->created = true;
        if (m.canceled) {
                if (m.compact_revision > 0)
                        w->final_error = STORE_ERR_COMPACTED;
                else
                        w->final_error = etcd_error_errno(m.cancel_reason, -1);
                etcd_watch_msg_release(&m);
                return false;
        }
        /* Events already delivered are skipped: a stream never repeats them, but
         * this keeps the no-duplicate promise independent of etcd's batching. */
        size_t skip = 0;
        while (skip < m.n && m.events[skip].kv.mod_revision < w->next_rev)
                skip++;
        if (skip < m.n && !atomic_load(&w->cancel)) {
                w->fn(m.events + skip, m.n - skip, 0, w->userdata);
                w->next_rev = m.events[m.n - 1].kv.mod_revision + 1;
        }
        etcd_watch_msg_release(&m);
        return !atomic_load(&w->cancel);
}

static size_t watch_on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
        struct etcd_watch *w = userdata;
        size_t n = size * nmemb;
        if (atomic_load(&w->cancel))
                return 0;
        size_t from = w->line.len;
        if (buf_append(&w->line, ptr, n) < 0) {
                w->final_error = -EMSGSIZE;
                return 0;
        }
        for (;;) {
                char *nl = memchr(w->line.data + from, '\n', w->line.len - from);
                if (!nl)
                        break;
                size_t len = (size_t)(nl - w->line.data);
                bool go_on = watch_handle(w, w->line.data, len);
                buf_consume(&w->line, len + 1);
                from = 0;
                if (!go_on)
                        return 0;
        }
        return n;
}

static int watch_on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                             curl_off_t ultotal, curl_off_t ulnow)
{
        (void)dltotal;
        (void)dlnow;
        (void)ultotal;
        (void)ulnow;
        struct etcd_watch *w = userdata;
        return atomic_load(&w->cancel) ? 1 : 0;
}

/* Waits ms or until cancelled; true if cancelled. */
static bool watch_wait(struct etcd_watch *w, int64_t ms)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = ts.tv_nsec + ms % 1000 * 1000000;
        ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        LOCK_SCOPE(&w->m);
        while (!atomic_load(&w->cancel)) {
                if (pthread_cond_timedwait(&w->c, &w->m, &ts) == ETIMEDOUT)
                        break;
        }
        return atomic_load(&w->cancel);
}

static void *watch_main(void *userdata)
{
        struct etcd_watch *w = userdata;
        struct etcd_store *s = w->s;
        CURL *h = curl_easy_init();
        if (!h) {
                w->final_error = -ENOMEM;
        } else {
                common_options(s, h);
                curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, watch_on_write);
                curl_easy_setopt(h, CURLOPT_WRITEDATA, w);
                curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
                curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, watch_on_progress);
                curl_easy_setopt(h, CURLOPT_XFERINFODATA, w);
        }
        size_t ep = preferred_endpoint(s);
        int64_t backoff = ETCD_WATCH_BACKOFF_MIN;
        while (h && !atomic_load(&w->cancel) && !w->final_error) {
                char rev_s[I64_STR_MAX];
                i64_format(w->next_rev, rev_s);
                _cleanup_json_ json_t *body = json_pack(
                    "{s:{s:s, s:s, s:s, s:b, s:b}}", "create_request", "key", w->key, "range_end",
                    w->end, "start_revision", rev_s, "prev_kv", 1, "progress_notify", 1);
                _cleanup_free_ char *data = body ? json_dumps(body, JSON_COMPACT) : NULL;
                if (!data) {
                        w->final_error = -ENOMEM;
                        break;
                }
                char url[ETCD_URL_MAX];
                snprintf(url, sizeof(url), "http://%s/v3/watch", s->endpoints[ep]);
                curl_easy_setopt(h, CURLOPT_URL, url);
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, data);
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(data));
                buf_reset(&w->line);
                w->created = false;
                w->reconnect = false;
                (void)curl_easy_perform(h);
                if (atomic_load(&w->cancel) || w->final_error)
                        break;
                /* The stream ended: etcd restarted, the connection broke, or it never
                 * started. Resume at next_rev, elsewhere if it never started here. */
                if (w->created) {
                        backoff = ETCD_WATCH_BACKOFF_MIN;
                } else {
                        ep = (ep + 1) % s->n_endpoints;
                }
                if (watch_wait(w, backoff))
                        break;
                if (!w->created)
                        backoff = backoff * 2 > ETCD_WATCH_BACKOFF_MAX ? ETCD_WATCH_BACKOFF_MAX
                                                                       : backoff * 2;
        }
        if (w->final_error && !atomic_load(&w->cancel))
                w->fn(NULL, 0, w->final_error, w->userdata);
        if (h)
                curl_easy_cleanup(h);
        if (w->free_on_exit)
                watch_free(w);
        return NULL;
}

static int etcd_watch(struct store *base, const char *prefix, int64_t from_revision,
                      store_watch_fn fn, void *userdata, struct store_watch **ret,
                      struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        int64_t start = from_revision;
        if (start == 0) {
                int64_t rev;
                int r = etcd_revision(base, &rev, err);
                if (r < 0) {
                        berth_error_prefix(err, "watch %s", prefix);
                        return r;
                }
                start = rev + 1;
        }
        struct etcd_watch *w = calloc(1, sizeof(*w));
        if (!w)
                return berth_error_set(err, -ENOMEM, "etcd: watch %s: out of memory", prefix);
        w->base.store = base;
        w->s = s;
        w->fn = fn;
        w->userdata = userdata;
        w->next_rev = start;
        atomic_init(&w->cancel, false);
        buf_init(&w->line, ETCD_WATCH_MESSAGE_MAX);
        pthread_mutex_init(&w->m, NULL);
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&w->c, &attr);
        pthread_condattr_destroy(&attr);
        if (prefix_range(prefix, &w->key, &w->end) < 0) {
                watch_free(w);
                return berth_error_set(err, -ENOMEM, "etcd: watch %s: out of memory", prefix);
        }
        LOCK_SCOPE(&s->lock);
        int r = -pthread_create(&w->thread, NULL, watch_main, w);
        if (r < 0) {
                watch_free(w);
                return berth_error_set(err, r, "etcd: watch %s: start thread: %s", prefix,
                                       strerror(-r));
        }
        w->next = s->watches;
        s->watches = w;
        *ret = &w->base;
        return 0;
}

static void watch_stop(struct etcd_watch *w)
{
        {
                LOCK_SCOPE(&w->m);
                atomic_store(&w->cancel, true);
                pthread_cond_broadcast(&w->c);
        }
        if (pthread_equal(pthread_self(), w->thread)) {
                /* From its own callback (not allowed by store.h, but harmless): the
                 * thread frees the watch when it unwinds. */
                w->free_on_exit = true;
                pthread_detach(w->thread);
                return;
        }
        pthread_join(w->thread, NULL);
        watch_free(w);
}

static void etcd_watch_cancel(struct store_watch *base)
{
        struct etcd_watch *w = container_of(base, struct etcd_watch, base);
        struct etcd_store *s = w->s;
        {
                LOCK_SCOPE(&s->lock);
                for (struct etcd_watch **p = &s->watches; *p; p = &(*p)->next) {
                        if (*p == w) {
                                *p = w->next;
                                break;
                        }
                }
        }
        watch_stop(w);
}

/* ---- open / free ---------------------------------------------------------- */

static void etcd_free(struct store *base)
{
        struct etcd_store *s = ES(base);
        struct etcd_watch *list;
        {
                LOCK_SCOPE(&s->lock);
                list = s->watches;
                s->watches = NULL;
        }
        while (list) {
                struct etcd_watch *w = list;
                list = w->next;
                watch_stop(w);
        }
        for (size_t i = 0; i < s->n_pool; i++)
                curl_easy_cleanup(s->pool[i]);
        curl_slist_free_all(s->headers);
        strv_free(s->endpoints);
        pthread_mutex_destroy(&s->lock);
        free(s);
}

static const struct store_ops etcd_ops = {
    .name = "etcd",
    .free = etcd_free,
    .get = etcd_get,
    .list = etcd_list,
    .put = etcd_put,
    .delete = etcd_delete,
    .revision = etcd_revision,
    .compact = etcd_compact,
    .lease_grant = etcd_lease_grant,
    .lease_keepalive = etcd_lease_keepalive,
    .lease_revoke = etcd_lease_revoke,
    .watch = etcd_watch,
    .watch_cancel = etcd_watch_cancel,
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init(void)
{
        curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int store_etcd_open(const char *location, struct store **ret, struct berth_error *err)
{
        /* "etcd://h:p/" is accepted as well as "etcd://h:p". */
        _cleanup_free_ char *loc = strdup(location ? location : "");
        if (!loc)
                return berth_error_set(err, -ENOMEM, "store etcd://%s: out of memory", location);
        size_t n = strlen(loc);
        if (n > 0 && loc[n - 1] == '/')
                loc[n - 1] = '\0';
        _cleanup_strv_ char **endpoints = NULL;
        int r = etcd_parse_endpoints(loc, &endpoints);
        if (r == -ENOMEM)
                return berth_error_set(err, r, "store etcd://%s: out of memory", location);
        if (r < 0)
                return berth_error_set(err, r,
                                       "store etcd://%s: bad endpoint list (expected "
                                       "etcd://host:port[,host:port...], at most %d)",
                                       location, ETCD_ENDPOINTS_MAX);
        pthread_once(&curl_once, curl_init);
        if (curl_init_result != CURLE_OK)
                return berth_error_set(err, -EIO, "store etcd://%s: libcurl: %s", location,
                                       curl_easy_strerror(curl_init_result));

        struct etcd_store *s = calloc(1, sizeof(*s));
        if (!s)
                return berth_error_set(err, -ENOMEM, "store etcd://%s: out of memory", location);
        s->base.ops = &etcd_ops;
        pthread_mutex_init(&s->lock, NULL);
        s->endpoints = TAKE_PTR(endpoints);
        s->n_endpoints = strv_length(s->endpoints);
        /* "Expect:" turns off 100-continue, which would add a round trip to large puts. */
        struct curl_slist *h1 = curl_slist_append(NULL, "Content-Type: application/json");
        struct curl_slist *h2 = h1 ? curl_slist_append(h1, "Expect:") : NULL;
        if (!h2) {
                curl_slist_free_all(h1);
                etcd_free(&s->base);
                return berth_error_set(err, -ENOMEM, "store etcd://%s: out of memory", location);
        }
        s->headers = h2;
        *ret = &s->base;
        return 0;
}
