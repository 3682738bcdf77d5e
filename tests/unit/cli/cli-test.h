/* Helpers shared by the CLI tests: running `berth` with captured output, and
 * a fake berthd on a unix socket that answers canned routes. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>

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

#define FAKE_ROUTES_MAX 16
#define FAKE_PATHS_MAX  32
/* Where a chunked body (chunk_ms) is cut into separate writes. */
#define FAKE_CHUNK "\x01"

/* Serves every connection on a thread of its own, so that a client can hold
 * several streams at once. The last_* fields and paths are written under
 * lock; read them once the run that made the requests has returned. */
struct fake {
        char dir[64];
        char sock[128];
        char url[160];
        int fd;
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
