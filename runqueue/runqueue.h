/* runqueue: which queued Tasks may start now (berthd --max-running, a
 * namespace's Queue), and the run slots that make the limits exact.
 *
 * The order (docs/internals/performance-queue.md, "Ordering rules"):
 * queued Tasks start one pick at a time; each pick takes, among the queued
 * Tasks whose namespace is below its limit (counting the picks made so
 * far), the one with
 *   1. the highest priority (the effective one: queue_task_priority(),
 *      manifests.h — spec.priority or its class, capped by its Queue);
 *   2. among equal priority, the namespace with the fewest running Tasks
 *      (its running count plus the picks made so far) — so namespaces of
 *      equal priority alternate (round-robin) and a namespace with many
 *      queued Tasks cannot starve one with few;
 *   3. then the oldest (creationTimestamp);
 *   4. then namespace, name and uid, byte-wise: a total order.
 * When no queued Task's namespace has room, the rest follow in the same
 * order with namespace limits left out (they start after a Task of their
 * namespace ends): the whole order is what `berth describe` shows as the
 * position.
 *
 * A run slot is taken under the runqueue's lock by the Task reconcile just
 * before a Task's first container is made, and given back when the Task
 * has finished (or is deleted) and no container of it runs: with any
 * number of workers, no more Tasks hold slots than the limits allow.
 */
#pragma once

#include "common.h"

/* ---- the ordering (pure) ----------------------------------------------- */

#define RUNQUEUE_PRIORITY_MIN (-1000000)
#define RUNQUEUE_PRIORITY_MAX 1000000

/* A queued Task. Strings borrowed. */
struct runqueue_entry {
        const char *ns;
        const char *name;
        const char *uid;
        int64_t priority;
        int64_t created_ms;
};

/* A namespace: Tasks of it holding slots now, and its limit (0: none). */
struct runqueue_ns {
        const char *ns;
        int64_t running;
        int64_t limit;
};

/* Orders entries[0..n) as the rules above say: *ret_order gets n indexes
 * into entries (caller frees), *ret_startable how many of the first ones
 * their namespace limits let start now (the global limit is the caller's:
 * the first min(free slots, startable) may start). A namespace missing
 * from nss has nothing running and no limit. Pure. Cost: O(n log n + n ×
 * namespaces). -ENOMEM. */
int runqueue_order(const struct runqueue_entry *entries, size_t n, const struct runqueue_ns *nss,
                   size_t n_nss, size_t **ret_order, size_t *ret_startable);

/* ---- run slots (locked) ------------------------------------------------ */

enum runqueue_verdict {
        RUNQUEUE_ADMITTED,    /* holds a slot: may make its container */
        RUNQUEUE_MAX_RUNNING, /* queued: the global limit (berthd --max-running) */
        RUNQUEUE_QUEUE_LIMIT, /* queued: its namespace's Queue spec.maxRunning */
};

/* Called, without the runqueue's lock held, with each queued Task that may
 * take a freed slot now: its reconcile should come (the controller
 * enqueues its key). */
typedef void (*runqueue_wake_fn)(void *userdata, const char *ns, const char *name);

struct runqueue;

/* max_running: the global limit, 0 = none. -ENOMEM. Free with
 * runqueue_free(). */
int runqueue_new(int64_t max_running, runqueue_wake_fn wake, void *userdata, struct runqueue **ret);
void runqueue_free(struct runqueue *q); /* NULL ok */
int64_t runqueue_max_running(const struct runqueue *q);

/* Forgets every slot and queued Task (before runqueue_hold of what runs,
 * when workers start: at start and on a leadership change). Namespace
 * limits stay. */
void runqueue_reset(struct runqueue *q);
/* Records a Task as holding a slot, whatever the limits (it runs already:
 * rebuilding from the caches). -ENOMEM. */
int runqueue_hold(struct runqueue *q, const char *ns, const char *name);
/* Records a Task as queued without asking for a slot (rebuilding: it was
 * queued before). -ENOMEM. */
int runqueue_enqueue(struct runqueue *q, const struct runqueue_entry *e);
/* Sets a namespace's limit (0: none) and wakes what may start now. */
int runqueue_set_limit(struct runqueue *q, const char *ns, int64_t limit);
/* A namespace's limit (0: none). */
int64_t runqueue_limit(struct runqueue *q, const char *ns);

/* Asks for a slot for e (a Task about to make its container): admitted
 * when it holds one already, or when the limits leave one free and no
 * queued Task comes before it in the order; otherwise e is queued (its
 * priority and age updated) and the verdict says which limit holds it.
 * -ENOMEM. */
int runqueue_acquire(struct runqueue *q, const struct runqueue_entry *e,
                     enum runqueue_verdict *ret);
/* Whether the Task holds a slot. */
bool runqueue_holds(struct runqueue *q, const char *ns, const char *name);
/* The Task has finished (or is gone) and runs nothing: its slot, if any,
 * is given back and it leaves the queue; the next ones are woken. */
void runqueue_release(struct runqueue *q, const char *ns, const char *name);
/* The Task no longer asks for a slot (it waits for something else): it
 * leaves the queue, keeping a slot it holds. */
void runqueue_withdraw(struct runqueue *q, const char *ns, const char *name);

/* Counts, for metrics and tests: lock-free (they may lag a change in
 * progress by that change). */
size_t runqueue_running(struct runqueue *q);
size_t runqueue_queued(struct runqueue *q);
