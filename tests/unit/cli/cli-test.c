#include "cli-test.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "cli-internal.h"
#include "test-support.h"

void capture_release(struct capture *c)
{
        free(c->out);
        free(c->err);
        c->out = c->err = NULL;
}

void run(struct capture *c, ...)
{
        char *argv[64] = {(char *)"berth"};
        int argc = 1;
        size_t olen = 0, elen = 0;
        va_list ap;

        capture_release(c);
        va_start(ap, c);
        for (char *a; (a = va_arg(ap, char *)) && argc < 63;)
                argv[argc++] = a;
        va_end(ap);
        argv[argc] = NULL;

        FILE *out = open_memstream(&c->out, &olen);
        FILE *err = open_memstream(&c->err, &elen);
        assert_non_null(out);
        assert_non_null(err);
        c->rc = cli_run(argc, argv, out, err);
        fclose(out);
        fclose(err);
}

void cli_test_env(void)
{
        unsetenv("BERTH_SERVER");
        unsetenv("BERTH_TOKEN");
        unsetenv("BERTH_CONFIG");
        setenv("XDG_CONFIG_HOME", "/nonexistent/berth-test-config", 1);
}

/* ---- fake berthd ------------------------------------------------------- */

void fake_add(struct fake *f, const struct fake_route *r)
{
        pthread_mutex_lock(&f->lock);
        assert_true(f->nroutes < FAKE_ROUTES_MAX);
        f->served[f->nroutes] = 0;
        f->routes[f->nroutes++] = *r;
        pthread_mutex_unlock(&f->lock);
}

void fake_route(struct fake *f, const char *method, const char *path, int status, const char *body)
{
        fake_add(f, &(struct fake_route){.method = method,
                                         .path = path,
                                         .status = status,
                                         .content_type = "application/json",
                                         .body = body});
}

void fake_hold(struct fake *f, const char *path, const char *body, int hold_ms)
{
        fake_add(f, &(struct fake_route){.method = "GET",
                                         .path = path,
                                         .status = 200,
                                         .content_type = "application/json",
                                         .body = body,
                                         .hold_ms = hold_ms});
}

void fake_reset(struct fake *f)
{
        pthread_mutex_lock(&f->lock);
        f->nroutes = 0;
        f->requests = 0;
        free(f->last_body);
        f->last_body = NULL;
        for (size_t i = 0; i < FAKE_PATHS_MAX; i++) {
                free(f->bodies[i]);
                free(f->heads[i]);
                f->bodies[i] = f->heads[i] = NULL;
                f->paths[i][0] = '\0';
        }
        f->last_method[0] = f->last_path[0] = f->last_content_type[0] = '\0';
        f->last_client_cn[0] = '\0';
        f->last_client_verified = false;
        pthread_mutex_unlock(&f->lock);
}

char *fake_header(struct fake *f, size_t i, const char *name)
{
        char *v = NULL;

        pthread_mutex_lock(&f->lock);
        const char *h = i < FAKE_PATHS_MAX ? f->heads[i] : NULL;
        size_t n = strlen(name);
        for (const char *line = h ? strstr(h, "\r\n") : NULL; line; line = strstr(line, "\r\n")) {
                line += 2;
                if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
                        const char *p = line + n + 1;
                        while (*p == ' ')
                                p++;
                        v = strndup(p, strcspn(p, "\r"));
                        break;
                }
        }
        pthread_mutex_unlock(&f->lock);
        return v;
}

/* One connection, plain or TLS. */
struct conn {
        struct fake *f;
        int fd;
        bool tls;  /* accepted on the https listener */
        void *ssl; /* after the handshake */
};

static ssize_t conn_recv(struct conn *c, void *p, size_t n)
{
        return c->ssl ? fake_tls_read(c->ssl, p, n) : recv(c->fd, p, n, 0);
}

static void send_all(struct conn *c, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t k = c->ssl ? fake_tls_write(c->ssl, p, n) : send(c->fd, p, n, MSG_NOSIGNAL);
                if (k <= 0)
                        return;
                p += k;
                n -= (size_t)k;
        }
}

/* Waits up to ms unless the client hangs up or the fake stops; false then. */
static bool linger(struct fake *f, int c, int ms)
{
        for (int waited = 0; waited < ms; waited += 20) {
                struct pollfd p = {.fd = c, .events = POLLIN};
                if (atomic_load(&f->stop) || poll(&p, 1, 20) > 0)
                        return false;
        }
        return true;
}

/* The value of annotation key in the body of the last PUT, or "". Under
 * f->lock. */
static const char *put_annotation(struct fake *f, const char *key, json_t **holder)
{
        for (size_t i = f->requests < FAKE_PATHS_MAX ? f->requests : FAKE_PATHS_MAX; i-- > 0;) {
                json_t *o = f->bodies[i] ? json_loads(f->bodies[i], 0, NULL) : NULL;
                const char *v =
                    json_string_value(json_object_get(json_path(o, "metadata.annotations"), key));
                if (v) {
                        *holder = o;
                        return v;
                }
                json_decref(o);
        }
        return "";
}

/* A route's body with every "@annotation:<key>@" replaced by that
 * annotation's value in the last PUT: for an answer that must echo what the
 * client wrote (a request time, to the millisecond). Under f->lock. */
static char *expand_annotations(struct fake *f, const char *body)
{
        struct buf b;

        buf_init(&b, 1 << 20);
        for (const char *p = body; *p;) {
                const char *t = strstr(p, "@annotation:");
                const char *close = t ? strchr(t + strlen("@annotation:"), '@') : NULL;
                if (!t || !close) {
                        buf_append_str(&b, p);
                        break;
                }
                buf_append(&b, p, (size_t)(t - p));
                char key[256];
                json_t *holder = NULL;
                snprintf(key, sizeof(key), "%.*s", (int)(close - t - strlen("@annotation:")),
                         t + strlen("@annotation:"));
                buf_append_str(&b, put_annotation(f, key, &holder));
                json_decref(holder);
                p = close + 1;
        }
        return b.data ? b.data : strdup("");
}

static void serve_one(struct conn *cn)
{
        struct fake *f = cn->f;
        int c = cn->fd;
        char req[65536];
        size_t len = 0;
        char *end = NULL;

        while (len < sizeof(req) - 1) {
                ssize_t k = conn_recv(cn, req + len, sizeof(req) - 1 - len);
                if (k <= 0)
                        return;
                len += (size_t)k;
                req[len] = '\0';
                if ((end = strstr(req, "\r\n\r\n")))
                        break;
        }
        if (!end)
                return;
        size_t head = (size_t)(end - req) + 4;
        size_t clen = 0;
        const char *cl = strcasestr(req, "\r\nContent-Length:");
        if (cl && cl < end)
                clen = strtoul(cl + strlen("\r\nContent-Length:"), NULL, 10);
        char *body = calloc(1, clen + 1);
        assert_non_null(body);
        size_t have = len - head < clen ? len - head : clen;
        memcpy(body, req + head, have);
        while (have < clen) {
                ssize_t k = conn_recv(cn, body + have, clen - have);
                if (k <= 0)
                        break;
                have += (size_t)k;
        }

        char method[16] = "", target[1024] = "";
        sscanf(req, "%15s %1023s", method, target);
        const char *ct = strcasestr(req, "\r\nContent-Type:");

        pthread_mutex_lock(&f->lock);
        if (f->requests < FAKE_PATHS_MAX) {
                str_copy(f->paths[f->requests], sizeof(f->paths[0]), target);
                f->bodies[f->requests] = strdup(body);
                f->heads[f->requests] = strndup(req, (size_t)(end - req));
        }
        f->last_client_cn[0] = '\0';
        f->last_client_verified =
            cn->ssl && fake_tls_client(cn->ssl, f->last_client_cn, sizeof(f->last_client_cn));
        f->requests++;
        str_copy(f->last_method, sizeof(f->last_method), method);
        str_copy(f->last_path, sizeof(f->last_path), target);
        f->last_content_type[0] = '\0';
        if (ct && ct < end) {
                ct += strlen("\r\nContent-Type:");
                while (*ct == ' ')
                        ct++;
                size_t n = strcspn(ct, "\r");
                snprintf(f->last_content_type, sizeof(f->last_content_type), "%.*s", (int)n, ct);
        }
        free(f->last_body);
        f->last_body = body;
        struct fake_route r = {.status = 404,
                               .content_type = "application/json",
                               .body = "{\"kind\":\"Status\",\"code\":404,\"reason\":\"NotFound\","
                                       "\"message\":\"not found\"}"};
        for (size_t i = 0; i < f->nroutes; i++) {
                const struct fake_route *cand = &f->routes[i];
                if (!streq(cand->method, method) || !streq(cand->path, target))
                        continue;
                if (cand->times > 0 && f->served[i] >= cand->times)
                        continue;
                f->served[i]++;
                r = *cand;
                break;
        }
        /* Ours: the test may free its text once its client has the answer,
         * which can be before send() returns here. */
        char *owned = expand_annotations(f, r.body);
        assert_non_null(owned);
        r.body = owned;
        pthread_mutex_unlock(&f->lock);

        char hdr[512];
        size_t blen = strlen(r.body);
        if (r.hold_ms > 0 || r.chunk_ms > 0)
                snprintf(hdr, sizeof(hdr),
                         "HTTP/1.1 %d X\r\nContent-Type: %s\r\nConnection: close\r\n\r\n", r.status,
                         r.content_type);
        else
                snprintf(hdr, sizeof(hdr),
                         "HTTP/1.1 %d X\r\nContent-Type: %s\r\nConnection: close\r\n"
                         "Content-Length: %zu\r\n\r\n",
                         r.status, r.content_type, blen);
        send_all(cn, hdr, strlen(hdr));
        if (r.chunk_ms > 0) {
                for (const char *p = r.body;;) {
                        size_t n = strcspn(p, FAKE_CHUNK);
                        send_all(cn, p, n);
                        if (!p[n] || !linger(f, c, r.chunk_ms))
                                break;
                        p += n + 1;
                }
        } else {
                send_all(cn, r.body, blen);
        }
        (void)linger(f, c, r.hold_ms);
        free(owned);
}

static void *conn_main(void *userdata)
{
        struct conn *cn = userdata;

        /* A failed handshake: the client said why; nothing to serve. */
        if (!cn->tls || (cn->ssl = fake_tls_accept(cn->f, cn->fd)))
                serve_one(cn);
        if (cn->ssl)
                fake_tls_close(cn->ssl);
        close(cn->fd);
        atomic_fetch_sub(&cn->f->active, 1);
        free(cn);
        return NULL;
}

static void *fake_main(void *userdata)
{
        struct fake *f = userdata;
        while (!atomic_load(&f->stop)) {
                struct pollfd p[3] = {{.fd = f->fd, .events = POLLIN},
                                      {.fd = f->tcp_fd, .events = POLLIN},
                                      {.fd = atomic_load(&f->tls_fd), .events = POLLIN}};
                if (poll(p, 3, 50) <= 0)
                        continue;
                size_t which = p[0].revents ? 0 : p[1].revents ? 1 : 2;
                int c = accept4(p[which].fd, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0)
                        continue;
                struct conn *cn = malloc(sizeof(*cn));
                pthread_t t;
                assert_non_null(cn);
                *cn = (struct conn){f, c, which == 2, NULL};
                atomic_fetch_add(&f->active, 1);
                if (pthread_create(&t, NULL, conn_main, cn) != 0) {
                        atomic_fetch_sub(&f->active, 1);
                        close(c);
                        free(cn);
                        continue;
                }
                pthread_detach(t);
        }
        return NULL;
}

int fake_setup(void **state)
{
        struct fake *f = calloc(1, sizeof(*f));
        struct sockaddr_un sa = {.sun_family = AF_UNIX};

        assert_non_null(f);
        pthread_mutex_init(&f->lock, NULL);
        str_copy(f->dir, sizeof(f->dir), "/tmp/berth-cli-test.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->sock, sizeof(f->sock), "%s/berth.sock", f->dir);
        snprintf(f->url, sizeof(f->url), "unix://%s", f->sock);
        str_copy(sa.sun_path, sizeof(sa.sun_path), f->sock);
        f->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(f->fd >= 0);
        assert_int_equal(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(f->fd, 64), 0);

        struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t inlen = sizeof(in);
        f->tcp_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(f->tcp_fd >= 0);
        assert_int_equal(bind(f->tcp_fd, (struct sockaddr *)&in, sizeof(in)), 0);
        assert_int_equal(getsockname(f->tcp_fd, (struct sockaddr *)&in, &inlen), 0);
        assert_int_equal(listen(f->tcp_fd, 64), 0);
        snprintf(f->http_url, sizeof(f->http_url), "http://127.0.0.1:%d", ntohs(in.sin_port));
        atomic_store(&f->tls_fd, -1);
        assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
        *state = f;
        return 0;
}

int fake_teardown(void **state)
{
        struct fake *f = *state;
        atomic_store(&f->stop, true);
        pthread_join(f->thread, NULL);
        /* Connection threads see stop within 20 ms. */
        while (atomic_load(&f->active) > 0)
                sleep_ms(10);
        close(f->fd);
        close(f->tcp_fd);
        if (atomic_load(&f->tls_fd) >= 0)
                close(atomic_load(&f->tls_fd));
        fake_tls_release(f);
        test_rm_tree(f->dir); /* the socket, and files tests wrote beside it */
        fake_reset(f);
        pthread_mutex_destroy(&f->lock);
        free(f);
        return 0;
}
