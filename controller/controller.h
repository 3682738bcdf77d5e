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
#define WORKQUEUE_BACKOFF_MAX_MS (1000 * 1000)

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

struct controller_config {
        struct store *store;
        struct docker *docker;   /* template; each worker clones it */
        const char *prefix;      /* "/berth/" */
        int workers;             /* default 8 */
        int64_t resync_ms;       /* full resync period; default 10 min */
};

struct controller;

/* Starts the informers (object and container caches), waits for both to sync,
 * adopts what exists (enqueues every object; garbage-collects containers whose
 * owner no longer exists) and starts the workers. Caller stops it with
 * controller_free(), which leaves containers running (a restart adopts them). */
int controller_new(const struct controller_config *cfg, struct controller **ret,
                   struct berth_error *err);
void controller_free(struct controller *c); /* NULL ok */
/* Store key (under the prefix) of the store's identity {"uid": ...}. */
#define CONTROLLER_CLUSTER_KEY "system/cluster"
/* The store's identity (label berth.cluster of every container). Borrowed. */
const char *controller_cluster_id(struct controller *c);
/* The desired-state cache; the API serves reads from it. Borrowed. */
struct object_cache *controller_objects(struct controller *c);
struct container_cache *controller_containers(struct controller *c);
