/* store etcd HTTP: unary calls to etcd's JSON gateway over libcurl.
 *
 * Requests: every call is a POST of a JSON body to http[s]://<endpoint>/v3/...
 * Unary calls borrow a curl easy handle from a small mutex-protected pool, so
 * connections are kept alive across calls from any thread. A response is capped
 * at 64 MiB.
 *
 * Endpoints and failover: a call starts at the endpoint that answered last and,
 * on a failure to connect, tries the next one; after a full round it waits
 * (100 ms, then 200 ms) and tries another round, three rounds at most. A request
 * that may have reached etcd is only sent again when it is a read: a write that
 * timed out is reported (-ETIMEDOUT) and may or may not have been applied.
 *
 * Security (etcds://, see etcd-internal.h for the URL options): every handle, the
 * unary pool, watch streams and lease keepalives alike, verifies etcd's certificate
 * and host name (there is no way to turn that off) against cacert or the system's
 * CAs, and presents the client certificate when one is given. With user=, the
 * backend asks /v3/auth/authenticate for a token on first use and sends it as
 * "Authorization" with every request and every watch (re)connect. A request that
 * etcd refuses for its token (expired: simple tokens live --auth-token-ttl, 300 s
 * by default; or the auth store changed) is sent once more with a new token. That
 * is safe for writes too: etcd checks the token before running anything. One
 * thread fetches the new token while the others that saw the same one rejected
 * wait for it. Neither the password nor a token ever appears in an error message.
 */
#include "etcd-internal.h"

#define ETCD_TIMEOUT_MS         10000
#define ETCD_CONNECT_TIMEOUT_MS 2000
#define ETCD_ROUNDS             3
#define ETCD_ROUND_BACKOFF_MS   100
#define ETCD_RESPONSE_MAX       (64 * 1024 * 1024)
#define ETCD_TOKEN_MAX          4096

/* ---- requests ---------------------------------------------------------------- */

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

int etcd_curl_options(struct etcd_store *s, CURL *h)
{
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, s->headers);
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)ETCD_CONNECT_TIMEOUT_MS);
        curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 10L);
        curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, s->url.tls ? "https" : "http");
        /* HTTP/1.1 over TLS too: with HTTP/2 (what curl picks through ALPN) etcd
         * 3.4's gateway sent no watch message while the stream was open. */
        curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        if (!s->url.tls)
                return 0;
        CURLcode cc = CURLE_OK;
        if (cc == CURLE_OK)
                cc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
        if (cc == CURLE_OK)
                cc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
        if (cc == CURLE_OK && s->url.cacert)
                cc = curl_easy_setopt(h, CURLOPT_CAINFO, s->url.cacert);
        /* A given CA is the only one: the cluster's CA is not mixed with the
         * system's, which would let any public certificate for the host pass. */
        if (cc == CURLE_OK && s->url.cacert)
                cc = curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
        if (cc == CURLE_OK && s->url.cert)
                cc = curl_easy_setopt(h, CURLOPT_SSLCERT, s->url.cert);
        if (cc == CURLE_OK && s->url.key)
                cc = curl_easy_setopt(h, CURLOPT_SSLKEY, s->url.key);
        return cc == CURLE_OK ? 0 : -ENOMEM;
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
        if (etcd_curl_options(s, h) < 0) {
                curl_easy_cleanup(h);
                return NULL;
        }
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
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, s->headers);
        {
                LOCK_SCOPE(&s->lock);
                if (s->n_pool < ETCD_POOL_MAX) {
                        s->pool[s->n_pool++] = h;
                        return;
                }
        }
        curl_easy_cleanup(h);
}

size_t etcd_preferred_endpoint(struct etcd_store *s)
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

/* A TLS alert about a certificate: etcd refused ours (or wanted one). Retrying
 * elsewhere or later does not help. */
static bool tls_refused(const struct etcd_store *s, const char *detail)
{
        return s->url.tls && strstr(detail, "alert") && strstr(detail, "certificate");
}

static const char *curl_detail(CURLcode cc, const char *errbuf)
{
        return errbuf && *errbuf ? errbuf : curl_easy_strerror(cc);
}

static int transport_error(const struct etcd_store *s, const struct etcd_call *c, CURL *h,
                           CURLcode cc, const struct response *resp, const char *errbuf,
                           struct berth_error *err)
{
        if (resp->write_error == -E2BIG)
                return berth_error_set(err, -E2BIG,
                                       "etcd %s: %s %s: response is larger than the limit of "
                                       "%d MiB",
                                       c->ep, c->op, c->subject, ETCD_RESPONSE_MAX >> 20);
        if (resp->write_error < 0)
                return berth_error_set(err, resp->write_error, "etcd %s: %s %s: out of memory",
                                       c->ep, c->op, c->subject);
        const char *detail = curl_detail(cc, errbuf);
        if (tls_refused(s, detail)) {
                if (!s->url.cert)
                        return berth_error_set(err, -EACCES,
                                               "etcd %s: %s %s: TLS: etcd wants a client "
                                               "certificate (add cert=PATH&key=PATH): %s",
                                               c->ep, c->op, c->subject, detail);
                return berth_error_set(err, -EACCES,
                                       "etcd %s: %s %s: TLS: etcd refused client certificate "
                                       "%s: %s",
                                       c->ep, c->op, c->subject, s->url.cert, detail);
        }
        switch (cc) {
        case CURLE_COULDNT_CONNECT: {
                /* The socket's own errno says it best: "connection refused". */
                long os_errno = 0;
                curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
                if (os_errno <= 0)
                        return berth_error_set(err, -ECONNREFUSED, "etcd %s: %s %s: %s", c->ep,
                                               c->op, c->subject, detail);
                char msg[128];
                errno_text((int)os_errno, msg);
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
        case CURLE_PEER_FAILED_VERIFICATION:
                return berth_error_set(err, -EACCES,
                                       "etcd %s: %s %s: TLS: etcd's certificate is not trusted "
                                       "(checked against %s%s): %s",
                                       c->ep, c->op, c->subject,
                                       s->url.cacert ? "cacert "
                                                     : "the system's CAs; add cacert=PATH",
                                       s->url.cacert ? s->url.cacert : "", detail);
        case CURLE_SSL_CACERT_BADFILE:
                return berth_error_set(
                    err, -EINVAL, "etcd %s: %s %s: TLS: cannot use cacert %s: %s", c->ep, c->op,
                    c->subject, s->url.cacert ? s->url.cacert : "", detail);
        case CURLE_SSL_CERTPROBLEM:
                return berth_error_set(err, -EINVAL,
                                       "etcd %s: %s %s: TLS: cannot use client certificate %s "
                                       "with key %s: %s",
                                       c->ep, c->op, c->subject, s->url.cert ? s->url.cert : "",
                                       s->url.key ? s->url.key : "", detail);
        case CURLE_SSL_CONNECT_ERROR:
                return berth_error_set(err, -EPROTO, "etcd %s: %s %s: TLS handshake: %s", c->ep,
                                       c->op, c->subject, detail);
        default:
                return berth_error_set(err, -EIO, "etcd %s: %s %s: %s", c->ep, c->op, c->subject,
                                       detail);
        }
}

int etcd_malformed(const struct etcd_call *c, struct berth_error *err)
{
        return berth_error_set(err, -EBADMSG, "etcd %s: %s %s: malformed response", c->ep, c->op,
                               c->subject);
}

/* An answer that is not a success: keep etcd's own message. */
static int remote_error(const struct etcd_store *s, struct etcd_call *c, long status,
                        const json_t *root, const char *raw, struct berth_error *err)
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
                c->token_rejected = etcd_error_token_rejected(msg, code);
        } else {
                /* Not etcd's JSON: a proxy, or something else on that port. */
                r = status == 404 ? -EPROTO : -EIO;
                msg = raw && *raw ? raw : "no message";
        }
        char hinted[512];
        if (r == -EACCES && !s->url.user && strstr(msg, "user name is empty")) {
                snprintf(hinted, sizeof(hinted),
                         "%s (etcd has authentication on: add ?user=NAME&password-file=PATH)", msg);
                msg = hinted;
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

struct curl_slist *etcd_headers_with(const struct etcd_store *s, const char *auth)
{
        struct curl_slist *list = NULL;
        for (const struct curl_slist *i = s->headers; i; i = i->next) {
                struct curl_slist *n = curl_slist_append(list, i->data);
                if (!n) {
                        curl_slist_free_all(list);
                        return NULL;
                }
                list = n;
        }
        struct curl_slist *n = curl_slist_append(list, auth);
        if (!n)
                curl_slist_free_all(list);
        return n;
}

/* POSTs data to c->path, with the auth header when not NULL, and returns the
 * parsed JSON answer (for a stream endpoint, the "result" of its first message). */
static int etcd_request(struct etcd_store *s, struct etcd_call *c, const char *data,
                        const char *auth, json_t **ret, struct berth_error *err)
{
        c->token_rejected = false;
        _cleanup_(slist_freep) struct curl_slist *headers =
            auth ? etcd_headers_with(s, auth) : NULL;
        if (auth && !headers)
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
        if (headers)
                curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);

        size_t start = etcd_preferred_endpoint(s);
        CURLcode cc = CURLE_OK;
        bool finished = false;
        for (int round = 0; round < ETCD_ROUNDS && !finished; round++) {
                if (round > 0)
                        sleep_ms((int64_t)ETCD_ROUND_BACKOFF_MS << (round - 1));
                for (size_t i = 0; i < s->n_endpoints; i++) {
                        size_t idx = (start + i) % s->n_endpoints;
                        c->ep = s->url.endpoints[idx];
                        char url[ETCD_URL_MAX];
                        if (snprintf(url, sizeof(url), "%s://%s%s", s->url.tls ? "https" : "http",
                                     c->ep, c->path) >= (int)sizeof(url)) {
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
                        if (resp.write_error || !retryable(h, cc, c->idempotent) ||
                            tls_refused(s, curl_detail(cc, errbuf))) {
                                finished = true;
                                break;
                        }
                }
        }
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (cc != CURLE_OK) {
                int r = transport_error(s, c, h, cc, &resp, errbuf, err);
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
                return remote_error(s, c, status, root, resp.body.data, err);
        if (c->first_line) {
                json_t *result = json_object_get(root, "result");
                if (!json_is_object(result))
                        return etcd_malformed(c, err);
                *ret = json_incref(result);
                return 0;
        }
        *ret = TAKE_PTR(root);
        return 0;
}

/* ---- authentication --------------------------------------------------------- */
/* A token fit for a header line: no control characters, no spaces. */
static bool token_valid(const char *t)
{
        size_t n = strlen(t);
        if (n == 0 || n > ETCD_TOKEN_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)t[i] <= ' ' || (unsigned char)t[i] >= 0x7f)
                        return false;
        return true;
}

/* Asks etcd for a token as s->url.user. The body holds the password, so it is not
 * built with jansson (which would leave copies behind) and is wiped. */
static int authenticate(struct etcd_store *s, char **ret_token, struct berth_error *err)
{
        struct etcd_call c = {.op = "authenticate as",
                              .subject = s->url.user,
                              .path = "/v3/auth/authenticate",
                              .idempotent = true};
        _cleanup_(secret_freep) char *data = NULL;
        if (etcd_auth_body(s->url.user, s->password, &data) < 0)
                return berth_error_set(err, -ENOMEM, "etcd: authenticate as %s: out of memory",
                                       s->url.user);
        _cleanup_json_ json_t *resp = NULL;
        int r = etcd_request(s, &c, data, NULL, &resp, err);
        if (r < 0)
                return r;
        const char *token = json_path_string(resp, "token");
        if (!token || !token_valid(token))
                return etcd_malformed(&c, err);
        char *t = strdup(token);
        if (!t)
                return berth_error_set(err, -ENOMEM, "etcd: authenticate as %s: out of memory",
                                       s->url.user);
        *ret_token = t;
        return 0;
}

int etcd_auth_header(struct etcd_store *s, const uint64_t *stale, char **ret_header,
                     uint64_t *ret_gen, struct berth_error *err)
{
        LOCK_SCOPE(&s->auth_lock);
        if (s->token && stale && *stale == s->token_gen) {
                secret_free(s->token);
                s->token = NULL;
        }
        if (!s->token) {
                char *t = NULL;
                int r = authenticate(s, &t, err);
                if (r < 0)
                        return r;
                s->token = t;
                s->token_gen++;
        }
        char *h = str_printf("Authorization: %s", s->token);
        if (!h)
                return berth_error_set(err, -ENOMEM, "etcd: authenticate as %s: out of memory",
                                       s->url.user);
        *ret_header = h;
        *ret_gen = s->token_gen;
        return 0;
}

/* With authentication, a request refused for its token goes once more with a new
 * one. That is safe for writes and the CAS txn: etcd checks the token before it
 * runs anything. */
int etcd_call(struct etcd_store *s, struct etcd_call *c, const json_t *body, json_t **ret,
              struct berth_error *err)
{
        _cleanup_free_ char *data = json_dumps(body, JSON_COMPACT);
        if (!data)
                return berth_error_set(err, -ENOMEM, "etcd: %s %s: out of memory", c->op,
                                       c->subject);
        if (!s->url.user)
                return etcd_request(s, c, data, NULL, ret, err);
        _cleanup_(secret_freep) char *auth = NULL;
        uint64_t gen = 0;
        int r = etcd_auth_header(s, NULL, &auth, &gen, err);
        if (r >= 0) {
                r = etcd_request(s, c, data, auth, ret, err);
                if (r >= 0 || !c->token_rejected)
                        return r;
                secret_free(TAKE_PTR(auth));
                r = etcd_auth_header(s, &gen, &auth, &gen, err);
                if (r >= 0)
                        return etcd_request(s, c, data, auth, ret, err);
        }
        berth_error_prefix(err, "%s %s", c->op, c->subject);
        return r;
}

/* ---- setup ------------------------------------------------------------------ */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init(void)
{
        curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

CURLcode etcd_curl_global_init(void)
{
        pthread_once(&curl_once, curl_init);
        return curl_init_result;
}

int etcd_http_init(struct etcd_store *s)
{
        pthread_mutex_init(&s->lock, NULL);
        pthread_mutex_init(&s->auth_lock, NULL);
        /* "Expect:" turns off 100-continue, which would add a round trip to large puts. */
        struct curl_slist *h1 = curl_slist_append(NULL, "Content-Type: application/json");
        struct curl_slist *h2 = h1 ? curl_slist_append(h1, "Expect:") : NULL;
        if (!h2) {
                curl_slist_free_all(h1);
                return -ENOMEM;
        }
        s->headers = h2;
        return 0;
}

void etcd_http_release(struct etcd_store *s)
{
        for (size_t i = 0; i < s->n_pool; i++)
                curl_easy_cleanup(s->pool[i]);
        curl_slist_free_all(s->headers);
        secret_free(s->token);
        pthread_mutex_destroy(&s->auth_lock);
        pthread_mutex_destroy(&s->lock);
}
