/* docker: a Docker Engine API client (libcurl; unix socket, or tcp:// later).
 *
 * One struct docker owns one curl easy handle with a kept-alive connection and
 * is used by one thread at a time. Give each thread its own with docker_clone()
 * (same endpoint and negotiated API version, no extra round trip).
 *
 * All calls block. Errors fill struct berth_error with our context, the HTTP
 * status and the daemon's message: "create container X: 404 No such image: y".
 * Return values: 0 on success; -ENOENT on 404; -EEXIST on 409 from create;
 * -ECONNREFUSED/-EIO when the engine cannot be reached (-ETIMEDOUT after the
 * 5 s connect or 60 s request timeout, -ECONNRESET when the connection broke);
 * -EPROTO on a malformed answer; -EINTR when docker_interrupt() was called.
 * Streams (events, logs, pulls) have no total timeout.
 */
#pragma once

#include "common.h"

#define DOCKER_API_VERSION  "1.41" /* the newest version this client speaks */
#define DOCKER_RESPONSE_MAX (16 * 1024 * 1024)
#define DOCKER_EVENT_MAX    (64 * 1024) /* one /events line */

struct docker;

/* url: "unix:///var/run/docker.sock" (default when NULL: $DOCKER_HOST, then that).
 * Calls GET /version and uses min(server ApiVersion, DOCKER_API_VERSION).
 * Caller frees with docker_free(). */
int docker_new(const char *url, struct docker **ret, struct berth_error *err);
/* A new client for another thread, same endpoint and version. NULL on OOM. */
struct docker *docker_clone(const struct docker *d);
void docker_free(struct docker *d);                     /* NULL ok */
const char *docker_api_version(const struct docker *d); /* "1.41"; borrowed */
const char *docker_url(const struct docker *d);         /* borrowed */
/* Thread-safe: makes the call now in progress (and later ones) on d return
 * -EINTR within about a second. Used to stop streams (events, log follow). */
void docker_interrupt(struct docker *d);

/* ---- containers ------------------------------------------------------- */

enum docker_state {
        DOCKER_STATE_UNKNOWN,
        DOCKER_STATE_CREATED,
        DOCKER_STATE_RUNNING,
        DOCKER_STATE_PAUSED,
        DOCKER_STATE_RESTARTING,
        DOCKER_STATE_REMOVING,
        DOCKER_STATE_EXITED,
        DOCKER_STATE_DEAD,
};
const char *docker_state_to_string(enum docker_state s);

/* A container's HEALTHCHECK verdict (NONE: it has none, or not known). */
enum docker_health {
        DOCKER_HEALTH_NONE,
        DOCKER_HEALTH_STARTING,
        DOCKER_HEALTH_HEALTHY,
        DOCKER_HEALTH_UNHEALTHY,
};
const char *docker_health_to_string(enum docker_health h); /* "None", "Starting", ... */
/* "starting", "healthy", "unhealthy" (Docker's words); NONE otherwise. */
enum docker_health docker_health_from_string(const char *s);
enum docker_state docker_state_from_string(const char *s); /* UNKNOWN if unrecognised */

struct docker_container {
        char *id;   /* full 64-hex id */
        char *name; /* without the leading '/' */
        char *image;
        json_t *labels; /* object of strings; never NULL */
        enum docker_state state;
        /* From inspect's State.Health.Status or the list's Status text ("Up 5
         * seconds (healthy)"). */
        enum docker_health health;
        /* Known only from inspect (list leaves details_known false): */
        bool details_known;
        int exit_code;
        bool oom_killed;
        char *error;         /* State.Error; "" when none */
        int64_t started_ms;  /* 0 when never */
        int64_t finished_ms; /* 0 when never */
};

void docker_container_release(struct docker_container *c);
void docker_containers_free(struct docker_container *v, size_t n);

/* POST /containers/create?name=NAME with body = Config + HostConfig (JSON).
 * *ret_id is the new id (caller frees). 409 → -EEXIST (name taken: inspect it
 * by name to adopt); 404 → -ENOENT (image missing). */
int docker_container_create(struct docker *d, const char *name, const json_t *body, char **ret_id,
                            struct berth_error *err);
/* 204 or 304 (already running) → 0. */
int docker_container_start(struct docker *d, const char *id, struct berth_error *err);
/* Sends a signal ("SIGTERM", "SIGKILL"). 0 also when the container is not
 * running (409); -ENOENT when it does not exist. */
int docker_container_kill(struct docker *d, const char *id, const char *signal,
                          struct berth_error *err);
/* DELETE /containers/{id}?force=1&v=1; 404 counts as done (0). */
int docker_container_remove(struct docker *d, const char *id, struct berth_error *err);
/* GET /containers/{id_or_name}/json; fills every field; -ENOENT on 404. */
int docker_container_inspect(struct docker *d, const char *id_or_name, struct docker_container *ret,
                             struct berth_error *err);
/* GET /containers/json?all=1 with a label filter ("berth.managed=true"; NULL =
 * all). Caller frees with docker_containers_free(). */
int docker_container_list(struct docker *d, const char *label_filter, struct docker_container **ret,
                          size_t *ret_n, struct berth_error *err);

/* ---- images ----------------------------------------------------------- */

/* 0 if present locally, -ENOENT if not. */
int docker_image_inspect(struct docker *d, const char *image, struct berth_error *err);
/* POST /images/create; errors inside the 200 progress stream become -EIO with
 * the stream's message; offline failures keep the daemon's message. */
int docker_image_pull(struct docker *d, const char *image, struct berth_error *err);

/* ---- logs ------------------------------------------------------------- */

enum docker_stream { DOCKER_STREAM_RAW = 0, DOCKER_STREAM_STDOUT = 1, DOCKER_STREAM_STDERR = 2 };

/* Receives log bytes as they arrive (not split into lines). Return non-zero to
 * stop the transfer (docker_container_logs then returns 0). */
typedef int (*docker_log_fn)(enum docker_stream stream, const char *data, size_t len,
                             void *userdata);

/* Decodes the multiplexed stream of a non-TTY container: 8-byte headers
 * [stream, 0, 0, 0, size u32 BE] then payload; frames may be split anywhere
 * across feeds. Pure, no I/O. */
struct docker_log_decoder {
        unsigned char header[8];
        size_t header_len;
        uint32_t remaining; /* payload bytes still expected for the current frame */
        enum docker_stream stream;
};
void docker_log_decoder_init(struct docker_log_decoder *dec);
/* Calls fn for every payload piece; returns 0, -EPROTO on a bad header, or the
 * callback's non-zero value (as 1) when it asked to stop. */
int docker_log_decoder_feed(struct docker_log_decoder *dec, const char *data, size_t len,
                            docker_log_fn fn, void *userdata);

struct docker_logs_opts {
        bool follow;
        bool timestamps;
        bool tty; /* container has Tty: body is raw, fn gets DOCKER_STREAM_RAW */
        int tail; /* last N lines; < 0 = all */
};

int docker_container_logs(struct docker *d, const char *id, const struct docker_logs_opts *opts,
                          docker_log_fn fn, void *userdata, struct berth_error *err);

/* ---- events ----------------------------------------------------------- */

struct docker_event {
        const char *type;   /* "container" */
        const char *action; /* "create", "start", "die", "destroy", "health_status: healthy" */
        const char *id;     /* Actor.ID */
        const json_t *attributes; /* Actor.Attributes: labels, "name", "exitCode" */
        int64_t time_nano;
};

/* Return non-zero to end the stream (docker_events then returns 0). */
typedef int (*docker_event_fn)(const struct docker_event *ev, void *userdata);

/* Streams GET /events?filters={"type":["container"],"label":[label_filter]}
 * (since_nano > 0 replays from then). Blocks until the stream ends (-EIO /
 * -ECONNRESET), fn asks to stop (0), or docker_interrupt (-EINTR). Lines longer
 * than DOCKER_EVENT_MAX end the stream with -E2BIG. */
int docker_events(struct docker *d, const char *label_filter, int64_t since_nano,
                  docker_event_fn fn, void *userdata, struct berth_error *err);
