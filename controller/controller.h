/* controller: the workqueue, the worker pool and the wiring of informers to
 * reconcilers (what berthd runs besides the API).
 *
 * Keys are store keys ("/berth/tasks/default/hello"). The workqueue guarantees
 * that one key is processed by at most one worker at a time, that a key added
 * while queued is queued once, and that a key added while being processed is
 * processed again afterwards. Delayed adds wait on a timer heap; failures back
 * off per key (5 ms doubling to 1000 s, like client-go).
 */
#pragma once

#include "common.h"
#include "docker.h"
#include "store.h"
#include "watchers.h"

/* ---- workqueue -------------------------------------------------------- */

#define WORKQUEUE_BACKOFF_BASE_MS 5
#define WORKQUEUE_BACKOFF_MAX_MS  (1000 * 1000)

struct workqueue;

/* now_ms: monotonic clock in ms (time_mono_ms; tests pass a fake). NULL = time_mono_ms. */
int workqueue_new(int64_t (*now_ms)(void), struct workqueue **ret);
void workqueue_free(struct workqueue *q); /* NULL ok; call after workers are joined */

void workqueue_add(struct workqueue *q, const char *key);
/* Adds key after delay_ms; an earlier pending add for the same key wins. */
void workqueue_add_after(struct workqueue *q, const char *key, int64_t delay_ms);
/* Adds after the key's next backoff delay (5 ms, 10 ms, ... 1000 s). */
void workqueue_add_rate_limited(struct workqueue *q, const char *key);
/* Resets the key's backoff (after a successful reconcile). */
void workqueue_forget(struct workqueue *q, const char *key);
/* How many failures the key has had since the last forget. */
int workqueue_retries(struct workqueue *q, const char *key);
/* Blocks until a key is ready; *ret_key is the caller's (free it) and must be
 * handed back with workqueue_done(). -ESHUTDOWN after workqueue_shutdown(). */
int workqueue_get(struct workqueue *q, char **ret_key);
/* Marks processing of key finished; re-queues it if it was added meanwhile. */
void workqueue_done(struct workqueue *q, const char *key);
/* Wakes every getter with -ESHUTDOWN; later adds are ignored. */
void workqueue_shutdown(struct workqueue *q);
/* Keys ready now (not counting delayed or in-flight ones). */
size_t workqueue_len(struct workqueue *q);
/* Fires due timers: moves delayed keys whose time has come to the queue.
 * Called by workqueue_get internally; exposed for tests with a fake clock. */
void workqueue_tick(struct workqueue *q);

/* ---- controller ------------------------------------------------------- */

struct plugin_executor; /* reconciler.h */

struct controller_config {
        struct store *store;
        struct docker *docker; /* template; each worker clones it */
        const char *prefix;    /* "/berth/" */
        int workers;           /* default 8 */
        int64_t resync_ms;     /* full resync period; default 10 min */
        int64_t compact_ms;    /* store compaction period; 0 = 5 min, < 0 = never */
        /* Leader election: controller_new starts only the caches (every replica
         * serves the API from them); the workers, resync and adoption start with
         * controller_start_workers() when this replica leads. */
        bool standby;
        /* Directories Sources may read (berthd --source-root); borrowed. */
        const char *const *source_roots;
        size_t n_source_roots;
        /* Directories Workflow build steps may build from (berthd
         * --build-root); borrowed. */
        const char *const *build_roots;
        size_t n_build_roots;
        /* What containers may do (admission.h); borrowed; NULL: nothing is
         * checked. */
        const struct admission_policy *admission;
        /* Secrets (secrets.h), borrowed: the keyring Secret values are
         * sealed with (NULL: containers that need a sealed value do not
         * start), and the tmpfs directory secret volumes go to (berthd
         * --secrets-dir, made a tmpfs by secrets_dir_prepare; NULL: secret
         * volumes are refused, secrets_dir_error saying why). */
        const struct secrets_keyring *secrets;
        const char *secrets_dir;
        const char *secrets_dir_error;
        /* Where docker-exec Tasks' output is written, one file per attempt
         * ("<data-dir>/exec-logs"; made if missing). NULL: not kept (their
         * logs answer 404). */
        const char *exec_logs_dir;
        /* Records the reconcilers' Events (events.h); borrowed; NULL: none.
         * It writes while the workers run, under their fence: started with
         * them, and flushed and stopped once they have stopped. */
        struct events_recorder *events;
        /* How many Tasks may hold run slots at once (berthd --max-running;
         * 0: no limit). A namespace's Queue may limit its own further.
         * Tasks beyond wait Pending, condition Queued (runqueue.h). */
        int64_t max_running;
        /* The executor plugins (plugins.h), borrowed: the controller
         * listens to their runners from controller_new to controller_free. */
        const struct plugin_executor *plugin_executors;
        size_t n_plugin_executors;
};

#define CONTROLLER_DEFAULT_COMPACT_MS (5 * 60 * 1000)

struct admission_policy;
struct events_recorder;
struct secrets_keyring;
struct controller;

/* Starts the informers (object and container caches), waits for both to sync,
 * adopts what exists (enqueues every object; garbage-collects containers whose
 * owner no longer exists) and starts the workers. Caller stops it with
 * controller_free(), which leaves containers running (a restart adopts them). */
int controller_new(const struct controller_config *cfg, struct controller **ret,
                   struct berth_error *err);
void controller_free(struct controller *c); /* NULL ok; stops the workers first */
/* Adopts what exists and starts the workers (and resync); every store write of
 * the reconcilers then carries fence (NULL = none; copied). -EALREADY if they
 * run. Not concurrently with controller_stop_workers (one thread drives both). */
int controller_start_workers(struct controller *c, const struct store_guard *fence,
                             struct berth_error *err);
/* Stops and joins the workers: Docker calls in progress are interrupted, and no
 * reconcile runs any more when it returns. The caches keep running. No-op when
 * the workers are not running. */
void controller_stop_workers(struct controller *c);
/* Store key (under the prefix) of the store's identity {"uid": ...}. */
#define CONTROLLER_CLUSTER_KEY "system/cluster"
/* The store's identity (label berth.cluster of every container). Borrowed. */
const char *controller_cluster_id(struct controller *c);
/* The desired-state cache; the API serves reads from it. Borrowed. */
struct object_cache *controller_objects(struct controller *c);
struct container_cache *controller_containers(struct controller *c);
/* Streams the output of a docker-exec Task's attempt (exec_runner_stream),
 * or the output of an executor plugin's Task's latest attempt (asked of the
 * plugin; at once, follow or not); userdata is the controller: for
 * api_config.task_exec_logs. Blocks. */
int controller_task_exec_logs(void *userdata, const char *uid, int attempt, int tail, bool follow,
                              int cancel_fd, docker_log_fn fn, void *fn_userdata,
                              struct berth_error *err);

/* ---- leader election -------------------------------------------------- */

#define LEADER_KEY              "system/leader" /* under the prefix */
#define LEADER_ID_MAX           128
#define LEADER_DEFAULT_LEASE_MS 15000
#define LEADER_DEFAULT_RENEW_MS 5000
#define LEADER_DEFAULT_RETRY_MS 2000
#define LEADER_MIN_LEASE_MS     2000

/* Called on the elector's thread. started: this replica leads, writes must carry
 * guard (borrowed, valid until stopped returns); a negative return gives the
 * leadership up again (err says why). stopped: the term is over (reason:
 * "shutdown", "lease expired", "renew deadline exceeded", ...); it must stop
 * everything that acts as leader before returning. */
typedef int (*leader_started_fn)(const struct store_guard *guard, void *userdata,
                                 struct berth_error *err);
typedef void (*leader_stopped_fn)(const char *reason, void *userdata);

struct leader_config {
        struct store *store;
        const char *key;      /* "<prefix>system/leader" */
        const char *identity; /* NULL: "<hostname>-<pid>-<random>" */
        int64_t lease_ms;     /* 0 = 15 s; at least LEADER_MIN_LEASE_MS */
        int64_t renew_ms;     /* 0 = 5 s; below lease_ms minus the safety margin */
        int64_t retry_ms;     /* 0 = 2 s: how often a follower looks at the key */
        leader_started_fn started_leading;
        leader_stopped_fn stopped_leading;
        void *userdata;
};

/* Who leads, as this replica last saw it. */
struct leader_info {
        bool known; /* false: nobody leads (or the store is unreachable) */
        char holder[LEADER_ID_MAX];
        bool self;                /* this replica leads */
        int64_t lease_duration_s; /* the holder's lease */
        int64_t renew_ms;         /* wall clock: last time the lease was seen alive */
};

struct leader_elector;

/* Competes for leadership on its own thread from now on: a lease of lease_ms
 * on key, renewed every renew_ms; a leader that cannot renew within lease_ms
 * minus a margin (a third of the lease, at most 3 s) steps down before its
 * lease can expire. Caller frees with leader_elector_free(). */
int leader_elector_new(const struct leader_config *cfg, struct leader_elector **ret,
                       struct berth_error *err);
/* Stops competing; a leader calls stopped_leading, then revokes its lease so
 * that a follower takes over at once. May block for a store timeout. NULL ok. */
void leader_elector_free(struct leader_elector *e);
const char *leader_elector_identity(const struct leader_elector *e); /* borrowed */
void leader_elector_info(struct leader_elector *e, struct leader_info *ret);
/* "<hostname>-<pid>-<4 hex digits>". */
int leader_default_identity(char ret[LEADER_ID_MAX]);
