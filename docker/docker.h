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
 * -EPROTO on a malformed answer; -EINTR when docker_interrupt() was called;
 * -EHOSTDOWN at once while the engine is known not to answer (below).
 * Streams (events, logs, pulls, builds) have no total timeout.
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

/* ---- engine health and the in-flight limit ---------------------------- */

/* A client made by docker_new and all its clones share one engine tracker:
 * - Calls that can hang (everything but the streams: events, logs, exec
 *   start, pulls, builds; and stats samples, which wait for Docker's
 *   collection) take a slot of an adaptive in-flight limit
 *   before they go out (inflight-limit.h: starts at DOCKER_INFLIGHT_INITIAL,
 *   hill-climbs toward where the engine's throughput peaks, within
 *   [1, DOCKER_INFLIGHT_MAX]); a caller without a slot waits for one.
 * - A thread of the tracker sleeps while no call is in flight. Once the
 *   oldest call in flight is DOCKER_ENGINE_SUSPECT_MS old it asks GET
 *   /_ping (DOCKER_ENGINE_PING_TIMEOUT_MS): no answer makes the engine
 *   UNRESPONSIVE; so does an oldest call of DOCKER_ENGINE_STALL_MS with no
 *   call answered for as long (an engine deadlocked inside still answers
 *   /_ping). Then the calls in flight are abandoned (their connections shut
 *   down; they return -EHOSTDOWN), and while UNRESPONSIVE new calls fail at
 *   once with -EHOSTDOWN ("docker engine URL not answering for 12s") without
 *   opening a connection; the thread pings every DOCKER_ENGINE_PROBE_MS.
 *   Callers must make their calls idempotent (berth names a container by its
 *   attempt): an abandoned call may still be carried out by the engine.
 * - Once /_ping answers and no call is stuck any more: UP again (limit as
 *   before) if a stuck call got its answer meanwhile, else RECOVERING: one
 *   call at a time may try (the others fail at once with -EHOSTDOWN), the
 *   first call answered makes it UP. */
#define DOCKER_INFLIGHT_INITIAL       8
#define DOCKER_INFLIGHT_MAX           64
#define DOCKER_ENGINE_SUSPECT_MS      5000
#define DOCKER_ENGINE_STALL_MS        30000
#define DOCKER_ENGINE_PING_TIMEOUT_MS 2000
#define DOCKER_ENGINE_PROBE_MS        1000
#define DOCKER_ENGINE_REPORT_MS       60000 /* watchers hear of a lasting outage this often */
#define DOCKER_ENGINE_REASON_MAX      256

enum docker_engine_state {
        DOCKER_ENGINE_UP,
        DOCKER_ENGINE_UNRESPONSIVE,
        DOCKER_ENGINE_RECOVERING,
};
const char *docker_engine_state_to_string(enum docker_engine_state s); /* "up", ... */

struct docker_engine_status {
        enum docker_engine_state state;
        /* What /readyz reports: false while UNRESPONSIVE, and while
         * RECOVERING from a stall with its trial call still out. */
        bool answering;
        int64_t down_ms;        /* not UP: since when it has not answered (monotonic ms) */
        int64_t oldest_call_ms; /* age of the oldest call in flight; 0 when none */
        int in_flight;          /* calls holding a slot */
        int limit;              /* the in-flight limit now */
        uint64_t limit_changes; /* adjustments of the adaptive limit so far */
        /* Not UP: "docker engine unix:///var/run/docker.sock not answering
         * for 12s"; "" when UP. */
        char reason[DOCKER_ENGINE_REASON_MAX];
};

/* Pins the in-flight limit at n (1..DOCKER_INFLIGHT_MAX): no adaptation
 * (berthd --docker-inflight N). Health tracking goes on. */
void docker_engine_fix_limit(struct docker *d, int n);
/* The engine as d's tracker sees it now. Thread-safe. */
void docker_engine_status(struct docker *d, struct docker_engine_status *ret);
/* Called on the tracker's thread at every change of state and every
 * DOCKER_ENGINE_REPORT_MS while not UP; must not block long nor call
 * docker_engine_unwatch. */
typedef void (*docker_engine_fn)(const struct docker_engine_status *st, bool changed,
                                 void *userdata);
/* At most DOCKER_ENGINE_WATCHERS; -ENOSPC beyond. */
#define DOCKER_ENGINE_WATCHERS 4
int docker_engine_watch(struct docker *d, docker_engine_fn fn, void *userdata);
/* Returns once fn is not running and will not be called again. */
void docker_engine_unwatch(struct docker *d, docker_engine_fn fn, void *userdata);

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

/* 0 if present locally, -ENOENT if not. Present images are remembered
 * (docker_image_known). */
int docker_image_inspect(struct docker *d, const char *image, struct berth_error *err);
/* Whether an inspect or a pull by any clone of d found image present: a
 * hint that lets a create skip the inspect. It can be stale (the image was
 * removed since): a create that fails with 404 forgets it, then inspects.
 * False for a bare client. */
bool docker_image_known(struct docker *d, const char *image);
void docker_image_forget(struct docker *d, const char *image);
/* The user a container of image runs as unless told otherwise: its
 * Config.User, "" when it sets none (root). *ret_user is the caller's to
 * free. -ENOENT if the image is not present locally. */
int docker_image_user(struct docker *d, const char *image, char **ret_user,
                      struct berth_error *err);
/* POST /images/create; errors inside the 200 progress stream become -EIO with
 * the stream's message; offline failures keep the daemon's message. A
 * pulled image is remembered (docker_image_known). */
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

/* ---- exec: a command inside a running container ---------------------- */

/* Where an exec instance stands (GET /exec/{id}/json). */
struct docker_exec_info {
        bool running;
        bool exit_known; /* ExitCode is set: the command ended */
        int exit_code;
        int pid; /* the process's pid on the host (Docker's Pid); 0 before it started */
        char container_id[80]; /* ContainerID: the container it runs in; "" when absent */
};

/* POST /containers/{id}/exec with body (Cmd, Env, User, WorkingDir,
 * AttachStdout, AttachStderr). *ret_id is the exec's id (caller frees);
 * -ENOENT: no such container, -EBUSY (409): it is not running. */
int docker_exec_create(struct docker *d, const char *container_id, const json_t *body,
                       char **ret_id, struct berth_error *err);
/* POST /exec/{id}/start attached (no TTY): fn gets the command's output as
 * it arrives (stdout and stderr frames), and the call blocks until the
 * command ends (or docker_interrupt: -EINTR). */
int docker_exec_start(struct docker *d, const char *exec_id, docker_log_fn fn, void *userdata,
                      struct berth_error *err);
/* GET /exec/{id}/json. -ENOENT (404): Docker does not know the exec (never
 * did, or forgot it: its container was removed, or it ended long ago). */
int docker_exec_inspect(struct docker *d, const char *exec_id, struct docker_exec_info *ret,
                        struct berth_error *err);

/* Waits for the end of an exec through Docker's events (GET /events of the
 * container: exec_die, die, destroy), from since_nano (> 0; Docker replays
 * its recent events) until until_nano (> 0: the stream ends then; 0: no
 * end). 0 with the exec_die's exit code — the command's own even when the
 * exec's inspect says 126 (Docker 20.10 marks an exec whose attached client
 * went away ended with 126, while its process runs on). -ESRCH: the
 * container died or was destroyed first; -ENOENT: the stream reached
 * until_nano without it; -EINTR: docker_interrupt. */
int docker_exec_wait_die(struct docker *d, const char *container_id, const char *exec_id,
                         int64_t since_nano, int64_t until_nano, int *ret_exit_code,
                         struct berth_error *err);

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

/* Removes an image or one of its tags (DELETE /images/{image}); 404 counts as
 * done (0); 409 (a container uses it) → -EBUSY with the daemon's message. */
int docker_image_remove(struct docker *d, const char *image, struct berth_error *err);

/* ---- files ------------------------------------------------------------ */

/* Reads one regular file out of a container, running or exited: GET
 * /containers/{id}/archive?path=PATH answers a tar stream, of which only the
 * first member is used. At most max bytes of content are kept (plus the tar
 * framing in flight); the transfer stops as soon as the member's header
 * shows a larger file. *ret is the content, NUL-terminated for convenience
 * (the NUL not counted in *ret_len); caller frees.
 * -ENOENT: the path or the container does not exist (err says which);
 * -EISDIR: the path is a directory, a symbolic link (not followed; err says
 * "is a symbolic link to X") or another non-regular file; -EFBIG: larger than
 * max; -EPROTO: the tar stream is malformed or truncated. */
int docker_container_file(struct docker *d, const char *id, const char *path, size_t max,
                          char **ret, size_t *ret_len, struct berth_error *err);

/* ---- volumes ---------------------------------------------------------- */

/* POST /volumes/create {"Name": name, "Labels": labels} (default driver).
 * labels: object of strings, NULL = none. An existing volume of that name is
 * success (Docker answers 201 for it) and is left as it is: its labels are
 * not changed. -EINVAL for an empty name or one the daemon refuses. */
int docker_volume_create(struct docker *d, const char *name, const json_t *labels,
                         struct berth_error *err);
/* DELETE /volumes/{name}; 404 counts as done (0); 409 (a container, even a
 * stopped one, uses it) → -EBUSY with the daemon's message. */
int docker_volume_remove(struct docker *d, const char *name, struct berth_error *err);
/* GET /volumes?filters={"label":[label_filter]} ("berth.managed=true"; NULL =
 * all). *ret_names is NULL-terminated and holds *ret_n names; caller frees
 * with strv_free(). */
int docker_volume_list(struct docker *d, const char *label_filter, char ***ret_names, size_t *ret_n,
                       struct berth_error *err);

/* ---- builds ----------------------------------------------------------- */

#define DOCKER_BUILD_CONTEXT_MAX ((uint64_t)1 << 30) /* default tar size cap */

struct docker_build_opts {
        const char *dockerfile;   /* path inside the context; NULL = "Dockerfile" */
        const char *const *tags;  /* "name:tag", NULL-terminated; NULL = untagged */
        const json_t *build_args; /* object of strings (ARG values); NULL = none */
        const json_t *labels;     /* object of strings set on the image; NULL = none */
        /* Cap on the context tar (headers included); 0 = DOCKER_BUILD_CONTEXT_MAX. */
        uint64_t max_context_bytes;
};

/* One line of the build's output ("Step 2/3 : COPY a.txt /a.txt", the RUN
 * commands' output, "Successfully built ..."), without its newline; borrowed
 * for the call. Return non-zero to abandon the build (docker_image_build then
 * returns -ECANCELED). */
typedef int (*docker_build_progress_fn)(const char *line, void *userdata);

/* Builds an image from context_dir (POST /build with the classic builder):
 * the directory is sent as a tar streamed while it is read — regular files,
 * directories and symbolic links (sent as links, never followed); a device,
 * fifo or socket in it is -EINVAL, a tar past max_context_bytes -E2BIG.
 * .dockerignore is not applied. Intermediate containers are removed, also on
 * failure. fn (may be NULL) sees the output as it comes. *ret_image_id is
 * "sha256:..." (caller frees). A failing step is -EIO with the daemon's
 * message: "build: The command '/bin/sh -c exit 3' returned a non-zero code:
 * 3"; a bad Dockerfile or option keeps the HTTP status (400 → -EINVAL).
 * No total timeout; docker_interrupt() stops it (-EINTR). */
int docker_image_build(struct docker *d, const char *context_dir,
                       const struct docker_build_opts *opts, docker_build_progress_fn fn,
                       void *userdata, char **ret_image_id, struct berth_error *err);

/* ---- stats ------------------------------------------------------------ */

/* One sample of a container's resource use, as `docker stats` shows it. */
struct docker_stats {
        char read[40]; /* Docker's "read": when the sample was taken (RFC 3339) */
        /* CPU time over the interval between precpu_stats and cpu_stats, as a
         * share of one CPU (200 = two CPUs busy): cpu delta / system delta ×
         * online CPUs × 100. cpu_known is false when precpu_stats is empty (a
         * one-shot sample, or the container's first) or the system did not
         * advance. */
        bool cpu_known;
        double cpu_percent;
        /* memory_stats.usage minus the inactive file cache (cgroup v1:
         * stats.total_inactive_file, v2: stats.inactive_file), as the docker
         * CLI counts it; limit is the cgroup's, or the host's memory. */
        uint64_t memory_usage;
        uint64_t memory_limit;
        uint64_t pids; /* pids_stats.current */
        /* Sums over "networks"; network_known is false when Docker reports
         * none (network "none" or "host": the host's counters are not the
         * container's). */
        bool network_known;
        uint64_t net_rx_bytes;
        uint64_t net_tx_bytes;
        /* blkio_stats.io_service_bytes_recursive, "Read"/"Write" (v1) or
         * "read"/"write" (v2) summed over devices. */
        uint64_t block_read_bytes;
        uint64_t block_write_bytes;
};

/* Reads one GET /containers/{id}/stats answer into ret; absent fields are
 * 0. -EPROTO when raw is not an object. Pure. */
int docker_stats_parse(const json_t *raw, struct docker_stats *ret);
/* GET /containers/{id}/stats?stream=false: Docker takes two samples about a
 * second apart (one-shot=false) so that precpu_stats is filled and the CPU
 * share can be computed; the call therefore takes about 1 s. A container
 * that is not running answers an empty sample (everything 0, cpu_known
 * false). -ENOENT when it does not exist. */
int docker_container_stats(struct docker *d, const char *id, struct docker_stats *ret,
                           struct berth_error *err);
