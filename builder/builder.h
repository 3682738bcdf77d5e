/* builder: image builds of Workflow `build:` steps, off the reconcile workers.
 *
 * A build takes seconds to many minutes, so it runs on one of the builder's
 * own max_concurrent worker threads, each with its own Docker client; builds
 * beyond that wait in a FIFO queue. The controller starts a build under an id
 * it chooses ("<workflow uid>/<step>"), is called back with the build's owner
 * key when something changed, and asks where the build stands: the reconcile
 * calls builder_start() (idempotent) and builder_status(), stores the result
 * in the Workflow, then builder_forget()s the finished build.
 *
 * Notifications (build_change_fn, with the owner key): when a build leaves the
 * queue and starts running; when new output arrived, at most once every
 * BUILDER_NOTIFY_MS per build (the first BUILDER_NOTIFY_MS after the start,
 * then BUILDER_NOTIFY_MS after the previous notification) so the owner can
 * store a snapshot of the log; and always when it finished. There is no
 * timer: output that arrives within the interval is announced with the next
 * line past it or with the finish, so during a long silent step the owner's
 * snapshot may lag the builder's log (builder_status() has it all). Nothing is
 * announced for what the caller did itself: starting (queued), forgetting.
 *
 * State is in memory only: after a restart of berthd every build is
 * BUILD_UNKNOWN here, and the owner decides whether to start it again.
 *
 * Limits: BUILDER_BUILDS_MAX known builds (queued, running or finished and
 * not yet forgotten); ids of at most BUILDER_ID_MAX bytes, owner keys of at
 * most BUILDER_OWNER_KEY_MAX; a log tail of BUILDER_LOG_MAX bytes per build
 * (up to twice that while it runs), output lines cut at BUILDER_LINE_MAX.
 * Memory: at most BUILDER_BUILDS_MAX * BUILDER_LOG_MAX of logs when nobody
 * forgets the finished builds.
 */
#pragma once

#include "common.h"
#include "docker.h"

#define BUILDER_BUILDS_MAX         1024         /* known builds */
#define BUILDER_CONCURRENT_MAX     64           /* the largest max_concurrent */
#define BUILDER_ID_MAX             256          /* bytes of a build id */
#define BUILDER_OWNER_KEY_MAX      512          /* bytes of an owner key (a store key) */
#define BUILDER_TAGS_MAX           64           /* tags of one build */
#define BUILDER_TAG_MAX            512          /* bytes of one tag */
#define BUILDER_LOG_MAX            (256 * 1024) /* bytes of log kept: the tail */
#define BUILDER_LINE_MAX           (16 * 1024)  /* bytes of one output line; longer ones are cut */
#define BUILDER_NOTIFY_MS          2000 /* the least time between two output notifications */
#define BUILDER_DEFAULT_CONCURRENT 2    /* a max_concurrent for berthd */

struct builder;

/* What to build. The builder copies all of it in builder_start(). */
struct build_request {
        /* An absolute path, at most PATH_MAX bytes: the caller resolved it
         * (realpath) and checked that the step may use it. */
        const char *context_dir;
        const char *dockerfile;   /* path inside the context; NULL = "Dockerfile" */
        const char *const *tags;  /* "name:tag", NULL-terminated; NULL = untagged */
        const json_t *build_args; /* object of strings (ARG values); NULL = none */
        const json_t *labels;     /* object of strings set on the image; NULL = none */
};

enum build_state {
        BUILD_UNKNOWN,   /* not known here: never started, forgotten, or berthd restarted */
        BUILD_QUEUED,    /* waiting for a free worker */
        BUILD_RUNNING,   /* on a worker */
        BUILD_SUCCEEDED, /* image_id is set */
        BUILD_FAILED,    /* message says why */
};

/* "Unknown", "Queued", "Running", "Succeeded", "Failed"; "Unknown" for
 * anything else. */
const char *build_state_to_string(enum build_state s);

/* Where a build stands: a copy, owned by the caller (build_status_release). */
struct build_status {
        enum build_state state;
        char *image_id; /* "sha256:..." when SUCCEEDED, else NULL */
        /* When FAILED: Docker's error with our context ("build: The command
         * '/bin/sh -c exit 3' returned a non-zero code: 3"), else NULL. */
        char *message;
        /* The output so far, one line per build output line, each ending in
         * '\n': its last at most BUILDER_LOG_MAX bytes, starting at a line.
         * Valid UTF-8 without NUL (other bytes became '?'), so it fits a JSON
         * string. NULL when UNKNOWN, else never (maybe ""). */
        char *log;
        size_t log_len;      /* strlen(log) */
        bool log_truncated;  /* earlier output was dropped */
        uint64_t log_total;  /* bytes of output received in all, dropped ones too: it
                              * grows whenever the log changed */
        int64_t started_ms;  /* wall clock it started running; 0 while QUEUED */
        int64_t finished_ms; /* wall clock it finished; 0 before */
};

/* Frees what s holds and zeroes it. NULL ok. */
void build_status_release(struct build_status *s);

/* Called on a worker thread (see "Notifications" above). owner_key is
 * borrowed for the call. Must not block and must not call builder_free; the
 * other builder_* functions are fine (the controller enqueues owner_key). */
typedef void (*build_change_fn)(const char *owner_key, void *userdata);

/* How builds run: builder_new() uses docker_image_build() on a docker_clone()
 * per worker; tests pass a fake to builder_new_with(). */
struct build_runner_ops {
        /* A client for one worker thread, made from builder_new_with()'s
         * runner_data; NULL on failure. Called from builder_new_with() and
         * from worker threads, possibly several at once. */
        void *(*client_new)(void *runner_data);
        void (*client_free)(void *client); /* NULL ok */
        /* docker_image_build()'s contract, on the worker's client. */
        int (*run)(void *client, const char *context_dir, const struct docker_build_opts *opts,
                   docker_build_progress_fn fn, void *userdata, char **ret_image_id,
                   struct berth_error *err);
        /* docker_interrupt()'s contract: from any thread (under the builder's
         * lock, so it must not block), makes the run in progress on client
         * and any later one return soon. The builder replaces an interrupted
         * client with a new one. */
        void (*interrupt)(void *client);
};

/* Starts max_concurrent (1..BUILDER_CONCURRENT_MAX, else -EINVAL) worker
 * threads, each with its own docker_clone() of d (d is borrowed for the
 * call). fn may be NULL. -ENOMEM, or -errno when a thread cannot start.
 * Caller frees with builder_free(). */
int builder_new(const struct docker *d, int max_concurrent, build_change_fn fn, void *userdata,
                struct builder **ret, struct berth_error *err);
/* builder_new() with another runner: ops and runner_data are borrowed and
 * must outlive the builder. */
int builder_new_with(const struct build_runner_ops *ops, void *runner_data, int max_concurrent,
                     build_change_fn fn, void *userdata, struct builder **ret,
                     struct berth_error *err);
/* Stops the workers: interrupts the running builds, forgets the queued ones,
 * joins the threads and frees every build. fn is not running and is not
 * called again once it returns (and not for the builds it stops). NULL ok. */
void builder_free(struct builder *b);

/* Queues the build id of owner_key, unless a build of that id is known (queued,
 * running, or finished and not forgotten): then it changes nothing, whatever
 * req says. Copies id, owner_key and req. Returns 1 when it queued the build,
 * 0 when id was known; -EINVAL (err says why) for a bad id, owner key or
 * request (a relative context_dir, an empty tag, more than BUILDER_TAGS_MAX
 * tags, args or labels that are not objects of strings); -EBUSY past
 * BUILDER_BUILDS_MAX known builds; -ENOMEM. Errors of the build itself
 * (a missing Dockerfile, a failing step) show later as BUILD_FAILED.
 * Thread-safe. */
int builder_start(struct builder *b, const char *id, const char *owner_key,
                  const struct build_request *req, struct berth_error *err);
/* Where build id stands, copied into *ret (release with build_status_release):
 * state BUILD_UNKNOWN and every pointer NULL when the id is not known. 0, or
 * -ENOMEM (*ret untouched). Thread-safe. */
int builder_status(struct builder *b, const char *id, struct build_status *ret);
/* Forgets build id: a finished one (its owner stored the result), or cancels
 * a queued or running one (the running one is interrupted; its worker takes
 * the next build once Docker gave up on it, without notifying). The id is
 * free again at once: a builder_start() of it queues a new build. Unknown ids
 * are fine. Thread-safe. */
void builder_forget(struct builder *b, const char *id);
/* builder_forget() of every build of owner_key (its Workflow was deleted).
 * Thread-safe. */
void builder_forget_owner(struct builder *b, const char *owner_key);
/* Number of known builds. Thread-safe. */
size_t builder_count(struct builder *b);
