/* docker internals: the request core shared by every call, and the pure helpers
 * (parsing, version negotiation, error formatting) that unit tests reach
 * without a daemon. Not part of the module's contract. */
#pragma once

#include <curl/curl.h>
#include <stdatomic.h>

#include "docker.h"

#define DOCKER_VERSION_MAX        16
#define DOCKER_ERROR_BODY_MAX     (64 * 1024) /* error body kept from a streaming call */
#define DOCKER_CONNECT_TIMEOUT_MS 5000
#define DOCKER_REQUEST_TIMEOUT_MS 60000 /* non-streaming calls; streams have none */

struct docker {
        CURL *curl;
        char *url;         /* as given, for messages: "unix:///var/run/docker.sock" */
        char *socket_path; /* NULL for tcp:// */
        char *origin;      /* "http://docker" or "http://host:port" */
        char version[DOCKER_VERSION_MAX]; /* "" until negotiated */
        atomic_bool interrupted;
        struct socket_slot sock; /* docker_interrupt shuts the connection down */
        char errbuf[CURL_ERROR_SIZE];
};

/* Called with each piece of a 2xx body as it arrives. Return 0 to go on, > 0
 * to stop cleanly (docker_call then returns 0 and sets req->stopped), < 0 to
 * abort with that error (the callback fills err itself if it wants to). */
typedef int (*docker_data_fn)(const char *data, size_t len, void *userdata);

struct docker_req {
        const char *method;     /* "GET", "POST", "DELETE" */
        const char *path;       /* "/containers/create"; versioned by docker_call */
        const char *query;      /* already escaped, without '?'; NULL = none */
        const json_t *body;     /* sent as application/json; NULL = empty */
        docker_data_fn on_data; /* NULL = collect the body into resp */
        void *userdata;
        bool stream; /* no total timeout (events, logs, pulls) */
        /* out: */
        long status;
        bool stopped;    /* on_data returned > 0 */
        struct buf resp; /* the body (buffered mode) or an error body (streaming) */
};

/* The one request core. Returns 0 whenever the daemon answered (any status, in
 * req->status; body in req->resp, capped at DOCKER_RESPONSE_MAX) or on_data
 * asked to stop; < 0 on transport failure (-ECONNREFUSED, -ETIMEDOUT,
 * -ECONNRESET, -EIO), on -EINTR, -E2BIG (body too large), or on_data's error.
 * context ("create container x") prefixes the message in err. Caller releases
 * req->resp with buf_release() (docker_req_release). */
int docker_call(struct docker *d, struct docker_req *req, const char *context,
                struct berth_error *err);
void docker_req_release(struct docker_req *req);
/* Whether an HTTP status is a success (2xx). */
static inline bool docker_status_ok(long status)
{
        return status >= 200 && status < 300;
}
/* Fills err from a call that got an unwanted status (docker_error_from_body
 * with req's status and body); code 0 = docker_status_to_errno. Returns the
 * code. */
int docker_req_fail(const struct docker_req *req, int code, const char *context,
                    struct berth_error *err);
/* GET path and parse the JSON answer (2xx only). Caller decrefs *ret. */
int docker_get_json(struct docker *d, const char *path, const char *query, json_t **ret,
                    const char *context, struct berth_error *err);
/* Escapes a query value or path segment; caller frees with free(). NULL on OOM. */
char *docker_escape(const char *s);

/* -errno for a failed HTTP status: 400 -EINVAL, 401/403 -EACCES, 404 -ENOENT,
 * 409 -EBUSY, 5xx -EIO, others -EPROTO. */
int docker_status_to_errno(long status);
/* Fills err with "<context>: <status> <daemon message>" from an error body:
 * {"message": ...} when it is JSON, else the trimmed text (capped), else
 * "(no message)". Returns code. */
int docker_error_from_body(struct berth_error *err, int code, long status, const char *body,
                           size_t len, const char *context);

/* Numeric major.minor comparison: *ret_cmp < 0, 0, > 0. -EINVAL on junk. */
int docker_version_compare(const char *a, const char *b, int *ret_cmp);
/* min(server_max, DOCKER_API_VERSION) into ret[DOCKER_VERSION_MAX]; -EPROTO when
 * server_max is junk or server_min (may be NULL) is newer than we speak. */
int docker_version_negotiate(const char *server_max, const char *server_min,
                             char ret[DOCKER_VERSION_MAX]);

/* Splits an image reference for POST /images/create: "busybox" → busybox +
 * latest; "host:5000/img:1.0" → host:5000/img + 1.0; "img@sha256:ab" →
 * img + sha256:ab (the API takes a digest in tag). Both outputs caller-freed. */
int docker_image_ref_split(const char *ref, char **ret_name, char **ret_tag);

/* Fills c from /containers/json (list form, details_known false) or from
 * /containers/{id}/json (inspect form). -EPROTO without an Id. */
int docker_container_from_json(const json_t *j, bool inspect, struct docker_container *ret);

/* Parses one /events line. ret's strings borrow from *ret_root (caller decrefs);
 * attributes is never NULL. -EPROTO on junk or when Type/Action is missing. */
int docker_event_parse(const char *line, size_t len, json_t **ret_root, struct docker_event *ret);

/* Splits a byte stream into lines ('\n', a trailing '\r' dropped) for fn; a
 * line longer than max is -E2BIG. Bytes after the last newline wait for the
 * next feed. fn returns like docker_data_fn. */
typedef int (*docker_line_fn)(const char *line, size_t len, void *userdata);
struct docker_lines {
        struct buf partial;
        docker_line_fn fn;
        void *userdata;
};
void docker_lines_init(struct docker_lines *l, size_t max, docker_line_fn fn, void *userdata);
void docker_lines_release(struct docker_lines *l);
int docker_lines_feed(struct docker_lines *l, const char *data, size_t len);
/* docker_call for a stream of lines (/events, pull progress): feeds a 2xx
 * body to lines (set up by docker_lines_init). Sets req's on_data, userdata
 * and stream. Returns like docker_call, except that a line over the splitter's
 * max is -E2BIG "<context>: <what> longer than <max> bytes" and a status other
 * than 2xx fails (docker_req_fail). */
int docker_call_lines(struct docker *d, struct docker_req *req, struct docker_lines *lines,
                      const char *what, const char *context, struct berth_error *err);
