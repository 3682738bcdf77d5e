/* Helpers shared by the CLI tests: running `berth` with captured output, and
 * a fake berthd on a unix socket that answers canned routes. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* What one `berth` run printed and returned. */
struct capture {
        char *out;
        char *err;
        int rc;
};

/* Frees what c captured; c may be reused. */
void capture_release(struct capture *c);
/* Runs cli_run() with "berth" and the NULL-terminated arguments after c
 * (at most 62), capturing stdout, stderr and the exit status in c. */
void run(struct capture *c, ...);

/* Makes the tests independent of the user's settings: no $BERTH_SERVER,
 * $BERTH_TOKEN or $BERTH_CONFIG, and a $XDG_CONFIG_HOME without a config. */
void cli_test_env(void);

/* ---- fake berthd ------------------------------------------------------- */

/* One canned answer. The first route whose method and target (with the
 * query) match exactly answers; one with times > 0 answers that many requests
 * and is then skipped (a 409 first, then a 200). */
struct fake_route {
        const char *method;
        const char *path;
        int status;
        const char *content_type;
        const char *body;
        int hold_ms;  /* keep the connection open after the body (a quiet watch) */
        int chunk_ms; /* > 0: body sent in pieces split at FAKE_CHUNK, this far apart */
        int times;    /* 0: every time */
};

#define FAKE_ROUTES_MAX 32
#define FAKE_PATHS_MAX  32
/* Where a chunked body (chunk_ms) is cut into separate writes. */
#define FAKE_CHUNK "\x01"

/* Serves every connection on a thread of its own, so that a client can hold
 * several streams at once: on a unix socket (url), on 127.0.0.1 in plain
 * http (http_url) and, after fake_tls_setup, in https (https_url). The
 * last_* fields, paths, bodies and heads are written under lock; read them
 * once the run that made the requests has returned. */
struct fake {
        char dir[64];
        char sock[128];
        char url[160];
        char http_url[64];
        char https_url[64];
        int fd;
        int tcp_fd;
        atomic_int tls_fd; /* -1 until fake_tls_setup */
        void *tls_ctx;     /* SSL_CTX *, owned (fake-tls.c) */
        pthread_t thread;
        atomic_bool stop;
        atomic_int active; /* connections being served */
        pthread_mutex_t lock;
        struct fake_route routes[FAKE_ROUTES_MAX];
        int served[FAKE_ROUTES_MAX];
        size_t nroutes;
        size_t requests;
        char last_method[16];
        char last_path[1024];
        char last_content_type[128];
        char *last_body;
        char paths[FAKE_PATHS_MAX][256]; /* every request line's target, in order */
        char *bodies[FAKE_PATHS_MAX];    /* and its body */
        char *heads[FAKE_PATHS_MAX];     /* and its request line and header lines */
        /* The subject CN of the TLS client certificate of the last request
         * ("" without one), and whether it was signed by the fake's CA. */
        char last_client_cn[128];
        bool last_client_verified;
};

/* cmocka group setup and teardown: *state is the struct fake. */
int fake_setup(void **state);
int fake_teardown(void **state);
/* Forgets routes and requests. */
void fake_reset(struct fake *f);
/* Adds a JSON route. */
void fake_route(struct fake *f, const char *method, const char *path, int status, const char *body);
/* Adds a GET route whose connection stays open hold_ms after the body. */
void fake_hold(struct fake *f, const char *path, const char *body, int hold_ms);
/* Adds any route. */
void fake_add(struct fake *f, const struct fake_route *r);
/* The value of header name (case-insensitive) in request i's head, or NULL.
 * Caller frees. */
char *fake_header(struct fake *f, size_t i, const char *name);

/* ---- TLS (fake-tls.c) ------------------------------------------------------ */

/* Files fake_tls_setup writes into f->dir. */
#define FAKE_CA_CRT       "ca.crt"       /* the CA of the server and client certificates */
#define FAKE_OTHER_CA_CRT "other-ca.crt" /* a CA that signed neither */
#define FAKE_CLIENT_CRT   "client.crt"   /* CN alice, signed by the CA */
#define FAKE_CLIENT_KEY   "client.key"
#define FAKE_TLS_CN       "alice"

/* Makes a CA, a server certificate for 127.0.0.1 and localhost, a client
 * certificate, and listens in https on 127.0.0.1 (f->https_url). The server
 * asks for a client certificate but does not require one. Call after
 * fake_setup. */
void fake_tls_setup(struct fake *f);
/* The handshake of connection fd; NULL when it failed (the connection is
 * to be closed). Records the client certificate on the SSL object. */
void *fake_tls_accept(struct fake *f, int fd);
/* The client certificate's CN into cn[size] ("" without one); whether it
 * was verified against the CA. */
bool fake_tls_client(void *ssl, char *cn, size_t size);
ssize_t fake_tls_read(void *ssl, void *p, size_t n);
ssize_t fake_tls_write(void *ssl, const void *p, size_t n);
void fake_tls_close(void *ssl);
void fake_tls_release(struct fake *f);
