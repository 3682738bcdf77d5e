/* The HTTP client: one curl easy handle per run (keep-alive across requests),
 * capped bodies, streamed lines for watches, Status errors. Every request
 * carries the credentials of the run's settings (config.c): the bearer
 * token, and over https the CA and the client certificate; TLS failures are
 * reported with what to change. */
#include "cli-internal.h"

void cli_reply_release(struct cli_reply *r)
{
        buf_release(&r->body);
        r->status = 0;
        r->content_type[0] = '\0';
}

char *cli_escape(const char *s)
{
        static const char hex[] = "0123456789ABCDEF";
        _cleanup_buf_ struct buf b = {0};

        buf_init(&b, 3 * strlen(s) + 1);
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                int r;
                if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
                        r = buf_append(&b, p, 1);
                } else {
                        char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
                        r = buf_append(&b, e, 3);
                }
                if (r < 0)
                        return NULL;
        }
        return buf_steal(&b);
}

char *cli_path(const struct kind_info *kind, const char *ns, const char *name, const char *query)
{
        _cleanup_free_ char *ens = NULL, *ename = NULL;

        if (ns && kind->namespaced && !(ens = cli_escape(ns)))
                return NULL;
        if (name && !(ename = cli_escape(name)))
                return NULL;
        return str_printf(CLI_API_PREFIX "%s%s/%s%s%s%s", ens ? "/namespaces/" : "", ens ? ens : "",
                          kind->resource, ename ? "/" : "", ename ? ename : "", query ? query : "");
}

/* ---- Status errors --------------------------------------------------------- */

char *cli_status_format(long status, const char *body, size_t len)
{
        _cleanup_json_ json_t *j = NULL;
        _cleanup_buf_ struct buf b = {0};

        buf_init(&b, 64 * 1024);
        if (body && len > 0)
                j = json_loadb(body, len, 0, NULL);

        const char *message =
            json_is_object(j) ? json_string_value(json_object_get(j, "message")) : NULL;
        if (message) {
                const char *reason = json_string_value(json_object_get(j, "reason"));
                long code = (long)json_integer_value(json_object_get(j, "code"));
                if (!reason || !*reason)
                        reason = http_status_reason((int)(code ? code : status));
                if (buf_printf(&b, "Error from server (%s): %s", reason, message) < 0)
                        return NULL;
                json_t *details = json_object_get(j, "details");
                size_t i;
                json_t *d;
                json_array_foreach(details, i, d)
                {
                        const char *field = json_string_value(json_object_get(d, "field"));
                        const char *dm = json_string_value(json_object_get(d, "message"));
                        int r;
                        if (field && dm)
                                r = buf_printf(&b, "\n  %s: %s", field, dm);
                        else if (dm || field)
                                r = buf_printf(&b, "\n  %s", dm ? dm : field);
                        else
                                continue;
                        if (r < 0)
                                break; /* enough detail for a terminal */
                }
                return buf_steal(&b);
        }

        /* Not a Status: show the start of whatever came back. */
        size_t n = len;
        while (n > 0 && (body[n - 1] == '\n' || body[n - 1] == '\r' || body[n - 1] == ' '))
                n--;
        if (n > 512)
                n = 512;
        if (n > 0)
                buf_printf(&b, "Error from server (%s): %.*s", http_status_reason((int)status),
                           (int)n, body);
        else
                buf_printf(&b, "Error from server (%s): the server answered %ld",
                           http_status_reason((int)status), status);
        return buf_steal(&b);
}

int cli_status_print(struct cli_ctx *ctx, const struct cli_reply *reply)
{
        _cleanup_free_ char *s =
            cli_status_format(reply->status, reply->body.data, reply->body.len);
        fprintf(ctx->err, "%s\n", s ? s : "Error from server");
        return CLI_EXIT_FAIL;
}

/* ---- requests ------------------------------------------------------------ */

struct request {
        struct curl_slist *headers;
        char errbuf[CURL_ERROR_SIZE];
};

static void request_release(struct request *r)
{
        curl_slist_free_all(r->headers);
}

static int append_header(struct request *req, const char *line)
{
        struct curl_slist *h = curl_slist_append(req->headers, line);

        if (!h)
                return -ENOMEM;
        req->headers = h;
        return 0;
}

/* The credentials of ctx->conf: the bearer token and, over https, the CA
 * to verify berthd with and our client certificate. */
static int request_credentials(struct cli_ctx *ctx, CURL *c, struct request *req)
{
        const struct cli_config *conf = &ctx->conf;

        if (str_has_prefix(conf->server, "https://")) {
                /* Without a CA of its own, curl verifies with the system's. */
                if (conf->certificate_authority)
                        curl_easy_setopt(c, CURLOPT_CAINFO, conf->certificate_authority);
                if (conf->client_certificate)
                        curl_easy_setopt(c, CURLOPT_SSLCERT, conf->client_certificate);
                if (conf->client_key)
                        curl_easy_setopt(c, CURLOPT_SSLKEY, conf->client_key);
        }
        if (!conf->token)
                return 0;
        /* Plain http goes to loopback only (cli_token_transport_ok): never
         * through a proxy from $http_proxy, which would read the token. */
        if (str_has_prefix(conf->server, "http://"))
                curl_easy_setopt(c, CURLOPT_PROXY, "");
        /* cli_config_resolve() refused a token bound for clear text. */
        _cleanup_free_ char *auth = str_printf("Authorization: Bearer %s", conf->token);
        if (!auth)
                return -ENOMEM;
        int r = append_header(req, auth);
        explicit_bzero(auth, strlen(auth));
        return r;
}

/* Points the handle c (fresh or reset) at path on the server. */
static int request_prepare(struct cli_ctx *ctx, CURL *c, const char *path, const char *content_type,
                           struct request *req)
{
        _cleanup_free_ char *url = NULL;
        const char *s;
        int r;

        r = cli_ctx_config(ctx);
        if (r < 0)
                return r;
        s = ctx->conf.server;
        if (str_has_prefix(s, "unix://")) {
                curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, s + strlen("unix://"));
                url = str_printf("http://localhost%s", path);
        } else {
                /* http:// or https:// (cli_config_resolve checked). */
                size_t n = strlen(s);
                while (n > 0 && s[n - 1] == '/')
                        n--;
                url = str_printf("%.*s%s", (int)n, s, path);
        }
        if (!url)
                return -ENOMEM;

        req->errbuf[0] = '\0';
        if (append_header(req, "Accept: application/json") < 0 ||
            append_header(req, "User-Agent: berth/" BERTH_VERSION) < 0)
                return -ENOMEM;
        if (content_type) {
                _cleanup_free_ char *ct = str_printf("Content-Type: %s", content_type);
                if (!ct || append_header(req, ct) < 0)
                        return -ENOMEM;
        }
        r = request_credentials(ctx, c, req);
        if (r < 0)
                return r;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, req->headers);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, req->errbuf);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)CLI_CONNECT_TIMEOUT_MS);
        curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        /* Over the network, "": every encoding this libcurl decodes (berthd
         * gzips large replies; the body we get is decoded). Not on a unix
         * socket, where compressing costs both ends CPU and saves nothing. */
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING,
                         str_has_prefix(ctx->conf.server, "unix://") ? NULL : "");
        return 0;
}

/* Resets the context's handle (opened on first use) and points it at path. */
static int request_setup(struct cli_ctx *ctx, const char *path, const char *content_type,
                         struct request *req)
{
        if (!ctx->curl && !(ctx->curl = curl_easy_init())) {
                fprintf(ctx->err, "berth: cannot initialize libcurl\n");
                return -ENOMEM;
        }
        curl_easy_reset(ctx->curl); /* keeps the connection cache */
        return request_prepare(ctx, ctx->curl, path, content_type, req);
}

/* A TLS failure said so that the user knows what to change. */
static int tls_error(struct cli_ctx *ctx, CURLcode code, const char *reason)
{
        const struct cli_config *conf = &ctx->conf;
        const char *server = conf->server;

        switch (code) {
        case CURLE_PEER_FAILED_VERIFICATION:
                if (strstr(reason, "subject name") || strstr(reason, "does not match"))
                        fprintf(ctx->err,
                                "berth: cannot connect to berthd at %s: the server certificate is "
                                "not valid for this address (%s): use the name or address it was "
                                "issued for\n",
                                server, reason);
                else if (conf->certificate_authority)
                        fprintf(ctx->err,
                                "berth: cannot connect to berthd at %s: server certificate not "
                                "trusted by certificate-authority %s (%s): is it the CA of this "
                                "berthd?\n",
                                server, conf->certificate_authority, reason);
                else
                        fprintf(ctx->err,
                                "berth: cannot connect to berthd at %s: server certificate not "
                                "trusted (%s): pass --certificate-authority or set "
                                "certificate-authority in the config\n",
                                server, reason);
                break;
        case CURLE_SSL_CACERT_BADFILE:
                fprintf(ctx->err, "berth: cannot use certificate-authority %s: %s\n",
                        conf->certificate_authority ? conf->certificate_authority
                                                    : "(the system's)",
                        reason);
                break;
        case CURLE_SSL_CERTPROBLEM:
                fprintf(ctx->err, "berth: cannot use client-certificate %s%s%s: %s\n",
                        conf->client_certificate ? conf->client_certificate : "",
                        conf->client_key ? " with client-key " : "",
                        conf->client_key ? conf->client_key : "", reason);
                break;
        default:
                fprintf(ctx->err,
                        "berth: TLS with berthd at %s failed: %s (is it an https listener, and "
                        "does it want a client certificate?)\n",
                        server, reason);
                break;
        }
        return -EIO;
}

static int transport_error(struct cli_ctx *ctx, CURL *c, CURLcode code, const struct request *req)
{
        long oserr = 0;
        const char *reason;
        const char *server = ctx->conf.server;

        curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr);
        if (oserr > 0)
                reason = strerror((int)oserr);
        else if (req->errbuf[0])
                reason = req->errbuf;
        else
                reason = curl_easy_strerror(code);

        switch (code) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_UNSUPPORTED_PROTOCOL:
                fprintf(ctx->err,
                        "berth: cannot connect to berthd at %s: %s (is berthd running?)\n", server,
                        reason);
                return -ECONNREFUSED;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_SHUTDOWN_FAILED:
        case CURLE_SSL_ENGINE_INITFAILED:
                /* curl's own words: the errno of a failed handshake says nothing. */
                return tls_error(ctx, code,
                                 req->errbuf[0] ? req->errbuf : curl_easy_strerror(code));
        default:
                fprintf(ctx->err, "berth: request to berthd at %s failed: %s\n", server, reason);
                return -EIO;
        }
}

struct body_sink {
        struct buf *b;
        bool overflow;
};

static size_t body_write(char *p, size_t size, size_t nmemb, void *userdata)
{
        struct body_sink *s = userdata;
        size_t n = size * nmemb;
        if (buf_append(s->b, p, n) < 0) {
                s->overflow = true;
                return 0; /* aborts the transfer */
        }
        return n;
}

int cli_http(struct cli_ctx *ctx, const char *method, const char *path, const char *content_type,
             const char *body, size_t len, struct cli_reply *ret)
{
        _cleanup_(request_release) struct request req = {0};
        struct body_sink sink = {.b = &ret->body};
        CURLcode code;
        int r;

        buf_release(&ret->body);
        buf_init(&ret->body, CLI_RESPONSE_MAX);
        ret->status = 0;
        ret->content_type[0] = '\0';

        r = request_setup(ctx, path, content_type, &req);
        if (r < 0)
                return r;
        CURL *c = ctx->curl;
        if (streq(method, "POST") || streq(method, "PUT")) {
                /* No "Expect: 100-continue" (curl asks for it for large bodies):
                 * berthd reads the whole body anyway, and the wait for the
                 * 100 costs a round trip per apply batch. */
                struct curl_slist *h = curl_slist_append(req.headers, "Expect:");
                if (!h)
                        return -ENOMEM;
                req.headers = h;
                curl_easy_setopt(c, CURLOPT_HTTPHEADER, req.headers);
                curl_easy_setopt(c, CURLOPT_POST, 1L);
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
                if (streq(method, "PUT"))
                        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
        } else if (!streq(method, "GET")) {
                curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        }
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);

        code = curl_easy_perform(c);
        if (sink.overflow) {
                fprintf(ctx->err, "berth: response from berthd is larger than %d MiB\n",
                        CLI_RESPONSE_MAX / (1024 * 1024));
                return -E2BIG;
        }
        if (code != CURLE_OK)
                return transport_error(ctx, ctx->curl, code, &req);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ret->status);
        char *type = NULL;
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
        if (type && str_copy(ret->content_type, sizeof(ret->content_type), type) < 0)
                ret->content_type[0] = '\0';
        return 0;
}

/* ---- streams ------------------------------------------------------------- */

struct stream_state {
        CURL *curl;
        bool lines;
        /* Text lines (logs): empty lines count, and a line longer than the
         * buffer's cap goes out in pieces instead of failing the stream. */
        bool text;
        cli_stream_fn fn;
        void *userdata;
        long status;
        struct buf line;
        struct buf error_body;
        int result;
};

static bool status_ok(long s)
{
        return s >= 200 && s < 300;
}

static int deliver_line(struct stream_state *st)
{
        size_t n = st->line.len;
        while (n > 0 && st->line.data[n - 1] == '\r')
                n--;
        int r = 0;
        if (n > 0 || st->text) {
                if (st->line.data)
                        st->line.data[n] = '\0';
                r = st->fn(st->line.data ? st->line.data : "", n, st->userdata);
        }
        buf_reset(&st->line);
        return r;
}

/* Adds len bytes of one line to st->line; in text mode, a full buffer is
 * delivered as a line of its own first. */
static int line_append(struct stream_state *st, const char *p, size_t len)
{
        while (st->text && len > st->line.max - st->line.len) {
                size_t room = st->line.max - st->line.len;
                if (buf_append(&st->line, p, room) < 0)
                        return -ENOMEM;
                p += room;
                len -= room;
                int r = deliver_line(st);
                if (r != 0)
                        return r;
        }
        return buf_append(&st->line, p, len);
}

static size_t stream_write(char *p, size_t size, size_t nmemb, void *userdata)
{
        struct stream_state *st = userdata;
        size_t n = size * nmemb;

        if (st->status == 0)
                curl_easy_getinfo(st->curl, CURLINFO_RESPONSE_CODE, &st->status);
        if (!status_ok(st->status)) {
                (void)buf_append(&st->error_body, p, n); /* truncated when too long */
                return n;
        }
        if (!st->lines) {
                int r = st->fn(p, n, st->userdata);
                if (r != 0) {
                        st->result = r;
                        return 0;
                }
                return n;
        }
        for (size_t off = 0; off < n;) {
                const char *nl = memchr(p + off, '\n', n - off);
                size_t chunk = nl ? (size_t)(nl - (p + off)) : n - off;
                int r = line_append(st, p + off, chunk);
                if (r != 0) {
                        st->result = r;
                        return 0;
                }
                off += chunk;
                if (nl) {
                        off++;
                        r = deliver_line(st);
                        if (r != 0) {
                                st->result = r;
                                return 0;
                        }
                }
        }
        return n;
}

int cli_watch_event(struct cli_ctx *ctx, const char *line, size_t len, json_t **ret_ev,
                    const char **ret_type, json_t **ret_obj, const char **ret_rv)
{
        json_t *ev = json_loadb(line, len, 0, NULL);
        const char *type = json_string_value(json_object_get(ev, "type"));
        json_t *obj = json_object_get(ev, "object");

        if (!type || !json_is_object(obj)) {
                json_decref(ev);
                fputs("berth: invalid watch event from berthd\n", ctx->err);
                return -EBADMSG;
        }
        *ret_ev = ev;
        *ret_type = type;
        *ret_obj = obj;
        *ret_rv = json_path_string(obj, "metadata.resourceVersion");
        return 0;
}

int cli_stream(struct cli_ctx *ctx, const char *path, bool lines, int64_t deadline_ms,
               cli_stream_fn fn, void *userdata, struct cli_reply *ret_error)
{
        _cleanup_(request_release) struct request req = {0};
        struct stream_state st = {.lines = lines, .fn = fn, .userdata = userdata};
        CURLcode code;
        int r;

        buf_init(&st.line, CLI_WATCH_LINE_MAX);
        buf_init(&st.error_body, CLI_ERROR_BODY_MAX);

        if (deadline_ms > 0 && time_mono_ms() >= deadline_ms) {
                r = -ETIMEDOUT;
                goto out;
        }
        r = request_setup(ctx, path, NULL, &req);
        if (r < 0)
                goto out;
        st.curl = ctx->curl;
        curl_easy_setopt(ctx->curl, CURLOPT_WRITEFUNCTION, stream_write);
        curl_easy_setopt(ctx->curl, CURLOPT_WRITEDATA, &st);
        if (deadline_ms > 0) {
                int64_t left = deadline_ms - time_mono_ms();
                curl_easy_setopt(ctx->curl, CURLOPT_TIMEOUT_MS, (long)(left > 1 ? left : 1));
        }

        code = curl_easy_perform(ctx->curl);
        if (st.result != 0) {
                if (st.result == -E2BIG)
                        fprintf(ctx->err, "berth: a line from berthd is longer than %d MiB\n",
                                CLI_WATCH_LINE_MAX / (1024 * 1024));
                r = st.result > 0 ? 1 : st.result;
                goto out;
        }
        /* Our deadline, not a connect timeout (which fires long before it). */
        if (code == CURLE_OPERATION_TIMEDOUT && deadline_ms > 0 &&
            time_mono_ms() >= deadline_ms - 1000) {
                r = -ETIMEDOUT;
                goto out;
        }
        if (code != CURLE_OK) {
                r = transport_error(ctx, ctx->curl, code, &req);
                goto out;
        }
        curl_easy_getinfo(ctx->curl, CURLINFO_RESPONSE_CODE, &st.status);
        if (!status_ok(st.status)) {
                if (ret_error) {
                        buf_release(&ret_error->body);
                        ret_error->status = st.status;
                        ret_error->body = st.error_body;
                        buf_init(&st.error_body, 0);
                }
                r = -EPROTO;
                goto out;
        }
        r = 0;
        if (lines && st.line.len > 0) {
                /* The last line lacked its '\n'. */
                int k = deliver_line(&st);
                if (k != 0)
                        r = k > 0 ? 1 : k;
        }
out:
        buf_release(&st.line);
        buf_release(&st.error_body);
        return r;
}

/* ---- streams side by side ------------------------------------------------ */

struct many_one {
        CURL *curl;
        struct request req;
        struct stream_state st;
        bool added, done;
};

static void many_one_release(struct many_one *m)
{
        if (m->curl)
                curl_easy_cleanup(m->curl);
        request_release(&m->req);
        buf_release(&m->st.line);
        buf_release(&m->st.error_body);
}

/* One transfer ended with code: its item's result as cli_stream() would have
 * it. */
static void many_finish(struct cli_ctx *ctx, struct many_one *m, CURLcode code,
                        struct cli_stream_item *item)
{
        struct stream_state *st = &m->st;

        m->done = true;
        if (st->result != 0) {
                item->result = st->result > 0 ? 1 : st->result;
                return;
        }
        if (code != CURLE_OK) {
                item->result = transport_error(ctx, m->curl, code, &m->req);
                return;
        }
        curl_easy_getinfo(m->curl, CURLINFO_RESPONSE_CODE, &st->status);
        if (!status_ok(st->status)) {
                buf_release(&item->error.body);
                item->error.status = st->status;
                item->error.body = st->error_body;
                buf_init(&st->error_body, 0);
                item->result = -EPROTO;
                return;
        }
        item->result = 0;
        if (st->line.len > 0) {
                /* The last line lacked its '\n'. */
                int k = deliver_line(st);
                if (k != 0)
                        item->result = k > 0 ? 1 : k;
        }
}

int cli_stream_many(struct cli_ctx *ctx, struct cli_stream_item *items, size_t n, size_t parallel,
                    size_t line_max)
{
        _cleanup_free_ struct many_one *ms = NULL;
        CURLM *multi = NULL;
        size_t left = n;
        int r = 0;

        if (n == 0)
                return 0;
        ms = calloc(n, sizeof(*ms));
        multi = curl_multi_init();
        if (!ms || !multi) {
                r = -ENOMEM;
                goto out;
        }
        /* Transfers beyond the limit wait for a free connection. */
        curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)(parallel ? parallel : n));
        for (size_t i = 0; i < n; i++) {
                struct many_one *m = &ms[i];

                items[i].result = 0;
                m->st = (struct stream_state){
                    .lines = true, .text = true, .fn = items[i].fn, .userdata = items[i].userdata};
                buf_init(&m->st.line, line_max);
                buf_init(&m->st.error_body, CLI_ERROR_BODY_MAX);
                if (!(m->curl = curl_easy_init())) {
                        fprintf(ctx->err, "berth: cannot initialize libcurl\n");
                        r = -ENOMEM;
                        goto out;
                }
                r = request_prepare(ctx, m->curl, items[i].path, NULL, &m->req);
                if (r < 0)
                        goto out;
                m->st.curl = m->curl;
                curl_easy_setopt(m->curl, CURLOPT_WRITEFUNCTION, stream_write);
                curl_easy_setopt(m->curl, CURLOPT_WRITEDATA, &m->st);
                curl_easy_setopt(m->curl, CURLOPT_PRIVATE, (void *)m);
                if (curl_multi_add_handle(multi, m->curl) != CURLM_OK) {
                        r = -ENOMEM;
                        goto out;
                }
                m->added = true;
        }

        while (left > 0) {
                int running = 0, queued = 0;
                CURLMcode mc = curl_multi_perform(multi, &running);
                CURLMsg *msg;

                if (mc != CURLM_OK) {
                        fprintf(ctx->err, "berth: %s\n", curl_multi_strerror(mc));
                        r = -EIO;
                        goto out;
                }
                while ((msg = curl_multi_info_read(multi, &queued))) {
                        char *priv = NULL;

                        if (msg->msg != CURLMSG_DONE)
                                continue;
                        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
                        struct many_one *m = (struct many_one *)priv;
                        if (!m || m->done)
                                continue;
                        many_finish(ctx, m, msg->data.result, &items[m - ms]);
                        curl_multi_remove_handle(multi, m->curl);
                        m->added = false;
                        left--;
                }
                if (left == 0)
                        break;
                mc = curl_multi_poll(multi, NULL, 0, 1000, NULL);
                if (mc != CURLM_OK) {
                        fprintf(ctx->err, "berth: %s\n", curl_multi_strerror(mc));
                        r = -EIO;
                        goto out;
                }
        }
out:
        for (size_t i = 0; ms && i < n; i++) {
                if (ms[i].added)
                        curl_multi_remove_handle(multi, ms[i].curl);
                many_one_release(&ms[i]);
        }
        if (multi)
                curl_multi_cleanup(multi);
        return r;
}

int cli_get_object(struct cli_ctx *ctx, const struct kind_info *kind, const char *ns,
                   const char *name, json_t **ret)
{
        return cli_get_object_query(ctx, kind, ns, name, "", ret);
}

int cli_get_object_query(struct cli_ctx *ctx, const struct kind_info *kind, const char *ns,
                         const char *name, const char *query, json_t **ret)
{
        _cleanup_reply_ struct cli_reply reply = {0};
        _cleanup_free_ char *path = cli_path(kind, ns, name, query);
        json_error_t jerr;
        int r;

        if (!path)
                return -ENOMEM;
        r = cli_http(ctx, "GET", path, NULL, NULL, 0, &reply);
        if (r < 0)
                return r;
        if (reply.status == 404)
                return -ENOENT;
        if (!status_ok(reply.status)) {
                cli_status_print(ctx, &reply);
                return -EPROTO;
        }
        json_t *j = json_loadb(reply.body.data ? reply.body.data : "", reply.body.len, 0, &jerr);
        if (!json_is_object(j)) {
                json_decref(j);
                fprintf(ctx->err, "berth: invalid response from berthd: %s\n",
                        j ? "not an object" : jerr.text);
                return -EBADMSG;
        }
        *ret = j;
        return 0;
}

int cli_change_object(struct cli_ctx *ctx, const struct kind_info *kind, const char *name,
                      cli_change_fn fn, void *userdata)
{
        _cleanup_free_ char *path = cli_path(kind, ctx->ns, name, "");

        if (!path) {
                cli_fail(ctx, "out of memory");
                return -ENOMEM;
        }
        for (int attempt = 0; attempt < CLI_CHANGE_RETRIES; attempt++) {
                _cleanup_json_ json_t *o = NULL;
                _cleanup_reply_ struct cli_reply reply = {0};
                int r = cli_get_object(ctx, kind, ctx->ns, name, &o);

                if (r == -ENOENT) {
                        fprintf(ctx->err, "Error from server (NotFound): %s \"%s\" not found\n",
                                kind->resource, name);
                        return r;
                }
                if (r < 0)
                        return r;
                r = fn(o, userdata);
                if (r == -ENOMEM)
                        cli_fail(ctx, "out of memory");
                if (r != 0)
                        return r < 0 ? r : 1;
                /* The body carries the resourceVersion it was read at: the
                 * server refuses it (409) when the object changed since. */
                _cleanup_free_ char *body = json_dumps(o, JSON_COMPACT);
                if (!body) {
                        cli_fail(ctx, "out of memory");
                        return -ENOMEM;
                }
                r = cli_http(ctx, "PUT", path, "application/json", body, strlen(body), &reply);
                if (r < 0)
                        return r;
                if (reply.status == 409)
                        continue;
                if (!status_ok(reply.status)) {
                        cli_status_print(ctx, &reply);
                        return -EPROTO;
                }
                return 0;
        }
        cli_fail(ctx, "%s/%s kept changing; try again", kind->singular, name);
        return -EBUSY;
}
