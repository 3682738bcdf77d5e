/* api: the HTTP API of berthd (docs/internals/architecture.md, "API") on
 * libevent's evhttp.
 *
 * Reads (get, list, watch) are served from the object cache; writes go to the
 * store with compare-and-swap and wait until the cache has caught up, so a
 * client reads its own writes. Every handler runs on the event loop thread
 * and never blocks it: writes run on a few writer threads (the loop keeps
 * answering reads, watches and /healthz while the store is slow or down) and
 * task log streams run on their own threads; both hand results to the loop.
 *
 * Identity: a bearer token, a TLS client certificate, or a unix socket peer
 * that is root or in the socket file's group; anything else gets 401 except
 * /healthz, /livez, /readyz. Then RBAC (auth.h) decides, lists and watches
 * filtered by it. Every reply carries X-Request-Id.
 *
 * Limits: request headers 64 KiB, request target 8 KiB, bodies API_BODY_MAX
 * (apply: 16 MiB; create/replace: one document of MANIFEST_DOC_MAX), 16 MiB
 * queued per watch stream (a slower client loses its stream), 4 MiB queued per
 * log stream (then the Docker read waits).
 *
 * Threads: the libevent base must be thread-aware (evthread_use_pthreads()
 * before event_base_new): cache, writer and log threads wake the loop with
 * event_active.
 * The process must ignore SIGPIPE: clients hang up on streams at any time.
 */
#pragma once

#include <event2/event.h>

#include "common.h"
#include "docker.h"
#include "store.h"
#include "watchers.h"

#define API_BODY_MAX    (16 * 1024 * 1024)
#define API_HEADERS_MAX (64 * 1024)

struct api_config {
        struct event_base *base;
        struct store *store;
        struct object_cache *objects;
        struct container_cache *containers; /* may be NULL (then logs say 503) */
        struct docker *docker;              /* template for log streams; cloned per stream */
        const char *prefix;                 /* store key prefix, "/berth/" */
        const char *cluster;                /* store identity shown by /version; may be NULL */
        /* NULL-terminated: "unix:///run/berth/berth.sock" (a stale socket file
         * is replaced, mode 0660), "tcp://127.0.0.1:8080" (plain HTTP) or
         * "https://ADDR:PORT" (any address; "[::]" for IPv6). */
        const char *const *listen;
        /* For https listeners (required with one): the certificate chain
         * (PEM, leaf first) and its unencrypted key. client_ca (may be
         * NULL): ask clients for a certificate and accept only those it
         * signed (a client without one may still bring a token). Read at
         * start and by api_server_reload_tls; copied. */
        const char *tls_cert;
        const char *tls_key;
        const char *client_ca;
        /* berthd's admin token, one line "berth-admin.SECRET"; the server
         * reads it at start and keeps only the secret's SHA-256. NULL: none. */
        const char *admin_token_file;
        int bookmark_interval_ms; /* watch BOOKMARK period; 0 = 30 s (tests shorten it) */
        /* Period of the comment lines that keep idle Server-Sent Events
         * streams (watches and logs) alive through proxies; 0 = 15 s. */
        int heartbeat_interval_ms;
        /* Who leads (GET /apis/berth/v1/leader, /readyz?verbose): a new JSON object
         * {"holder": string or null, "self": bool, "leaseDurationSeconds", "renewTime"}
         * (NULL on OOM). Called on the loop thread; must not block. NULL = 404. */
        json_t *(*leader)(void *userdata);
        void *leader_userdata;
        /* berthd --source-root: a Source whose spec.path lies elsewhere is
         * refused (422). None given: not checked here (the controller reports
         * such a Source as PathNotAllowed). Borrowed. */
        const char *const *source_roots;
        size_t n_source_roots;
        /* berthd --build-root: a Workflow build step's context must resolve
         * (symbolic links and "..") to a directory inside one of them; none
         * given: build steps are refused (422). Borrowed. */
        const char *const *build_roots;
        size_t n_build_roots;
        /* What containers may do (admission.h): an object that breaks it is
         * refused (422, the field named). Borrowed; NULL: nothing checked. */
        const struct admission_policy *admission;
        /* The keyring that encrypts Secrets at rest (secrets.h); NULL: the
         * API refuses Secrets (503). Borrowed. */
        const struct secrets_keyring *secrets;
        /* berthd --audit-log: one JSON line per changing or refused request
         * (docs/security.md); NULL = none. Rotated past audit_log_max_size
         * bytes (0 = 100 MiB), keeping audit_log_max_files old files
         * (< 0 = 5). */
        const char *audit_log;
        int64_t audit_log_max_size;
        int audit_log_max_files;
        /* berthd --rate-limit: requests per second per user, burst twice
         * that; more answer 429 with Retry-After. 0 = no limit. */
        double rate_limit;
        /* berthd --request-header-timeout: a request's line and headers must
         * arrive within it (a slowloris client is disconnected); 0 = 30 s. */
        int64_t header_timeout_ms;
        /* Streams the output of a docker-exec Task's attempt (by the Task's
         * uid; attempt >= 1) to fn, from its last tail lines (< 0: all);
         * follow: until the exec ends. Called on a log stream's thread of
         * its own; blocks. Returns early (-ECANCELED) once cancel_fd is
         * readable, or when fn returns non-zero (0). -ENOENT with err: no
         * such output. NULL: such logs answer 404. */
        int (*task_exec_logs)(void *userdata, const char *uid, int attempt, int tail, bool follow,
                              int cancel_fd, docker_log_fn fn, void *fn_userdata,
                              struct berth_error *err);
        void *task_exec_logs_userdata;
};

struct admission_policy;
struct api_server;
struct secrets_keyring;

/* Binds every listener; the server answers once the loop runs. The config's
 * pointers are borrowed and must outlive the server (strings are copied).
 * Caller frees with api_server_free(). */
int api_server_new(const struct api_config *cfg, struct api_server **ret, struct berth_error *err);
/* Closes listeners and open streams. Call on the loop thread. NULL ok. */
void api_server_free(struct api_server *s);
/* Builds a new TLS context from the files api_config named and uses it for
 * https connections accepted from now on; open connections and the
 * listeners stay. On error the old context stays and err says which file is
 * wrong; -ENOENT without https listeners. Loop thread. */
int api_server_reload_tls(struct api_server *s, struct berth_error *err);
/* Marks the server ready (/readyz answers 200) once the controller runs.
 * Any thread. */
void api_server_set_ready(struct api_server *s, bool ready);
