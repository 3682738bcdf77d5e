/* slots.c: the run slots — who holds one, who is queued, per-namespace
 * counts and limits — under one mutex shared by every reconcile worker.
 *
 * Tasks are named "<ns>/<name>" here (names are DNS labels: no '/'). A
 * slot is never reserved for a woken Task: it takes one by asking again
 * (runqueue_acquire), and the order decides at that moment, so a Task
 * that arrived meanwhile with a higher priority wins as it should.
 *
 * Computing the order costs milliseconds with 10,000 queued, under the
 * lock: the admissible set is kept with the generation of the state it was
 * computed from (every change that can move the order bumps it), so the
 * woken Task's ask, which changes nothing before it is answered, reuses
 * what the wake-up computed. */
#include <stdatomic.h>
#include <stdlib.h>

#include "runqueue.h"

struct runqueue {
        pthread_mutex_t lock;
        int64_t max_running; /* 0: none */
        runqueue_wake_fn wake;
        void *userdata;
        json_t *holders;    /* "<ns>/<name>" → ns */
        json_t *queued;     /* "<ns>/<name>" → {ns, name, uid, priority, created} */
        json_t *ns_running; /* ns → slots held */
        json_t *limits;     /* ns → limit (> 0) */
        uint64_t gen;       /* bumped by every change of queued, holders or limits */
        uint64_t cache_gen; /* the gen admissible was computed at (0: never) */
        json_t *admissible; /* "<ns>/<name>" → true: who may take a slot now */
        /* The sizes of holders and queued, for readers that must not wait
         * for the lock (metrics, on the API's loop). */
        atomic_size_t n_running, n_queued;
};

/* Under the lock, after a change. */
static void publish_locked(struct runqueue *q)
{
        atomic_store(&q->n_running, json_object_size(q->holders));
        atomic_store(&q->n_queued, json_object_size(q->queued));
}

/* Tasks to wake, copied out of the lock. */
struct wake_list {
        char **names; /* "<ns>/<name>" */
        size_t n;
};

static void wake_list_release(struct wake_list *w)
{
        for (size_t i = 0; i < w->n; i++)
                free(w->names[i]);
        free(w->names);
        *w = (struct wake_list){0};
}

int runqueue_new(int64_t max_running, runqueue_wake_fn wake, void *userdata, struct runqueue **ret)
{
        struct runqueue *q = calloc(1, sizeof(*q));

        if (!q)
                return -ENOMEM;
        pthread_mutex_init(&q->lock, NULL);
        q->max_running = max_running > 0 ? max_running : 0;
        q->wake = wake;
        q->userdata = userdata;
        q->holders = json_object();
        q->queued = json_object();
        q->ns_running = json_object();
        q->limits = json_object();
        q->admissible = json_object();
        q->gen = 1;
        if (!q->holders || !q->queued || !q->ns_running || !q->limits || !q->admissible) {
                runqueue_free(q);
                return -ENOMEM;
        }
        *ret = q;
        return 0;
}

void runqueue_free(struct runqueue *q)
{
        if (!q)
                return;
        json_decref(q->holders);
        json_decref(q->queued);
        json_decref(q->ns_running);
        json_decref(q->limits);
        json_decref(q->admissible);
        pthread_mutex_destroy(&q->lock);
        free(q);
}

int64_t runqueue_max_running(const struct runqueue *q)
{
        return q ? q->max_running : 0;
}

static char *task_id(const char *ns, const char *name)
{
        return str_printf("%s/%s", ns ? ns : "default", name ? name : "");
}

static int64_t int_of(const json_t *map, const char *key)
{
        return json_integer_value(json_object_get(map, key));
}

static int count_add(json_t *map, const char *key, int64_t delta)
{
        int64_t v = int_of(map, key) + delta;

        if (v <= 0)
                return json_object_del(map, key), 0;
        return json_object_set_new(map, key, json_integer(v)) < 0 ? -ENOMEM : 0;
}

void runqueue_reset(struct runqueue *q)
{
        LOCK_SCOPE(&q->lock);
        json_object_clear(q->holders);
        json_object_clear(q->queued);
        json_object_clear(q->ns_running);
        q->gen++;
        publish_locked(q);
}

/* Under the lock. */
static int hold_locked(struct runqueue *q, const char *id, const char *ns)
{
        int r = 0;

        json_object_del(q->queued, id);
        q->gen++;
        if (!json_object_get(q->holders, id)) {
                r = json_object_set_new(q->holders, id, json_string(ns)) < 0
                        ? -ENOMEM
                        : count_add(q->ns_running, ns, 1);
        }
        publish_locked(q);
        return r;
}

int runqueue_hold(struct runqueue *q, const char *ns, const char *name)
{
        _cleanup_free_ char *id = task_id(ns, name);

        if (!id)
                return -ENOMEM;
        LOCK_SCOPE(&q->lock);
        return hold_locked(q, id, ns);
}

static int enqueue_locked(struct runqueue *q, const char *id, const struct runqueue_entry *e)
{
        const json_t *old = json_object_get(q->queued, id);

        /* Asking again as it was queued changes nothing. */
        if (old && int_of(old, "priority") == e->priority &&
            int_of(old, "created") == e->created_ms &&
            streq(json_string_value(json_object_get(old, "uid")), e->uid ? e->uid : ""))
                return 0;
        q->gen++;
        json_t *v = json_pack("{s:s, s:s, s:s, s:I, s:I}", "ns", e->ns, "name", e->name, "uid",
                              e->uid ? e->uid : "", "priority", (json_int_t)e->priority, "created",
                              (json_int_t)e->created_ms);
        int r = json_object_set_new(q->queued, id, v) < 0 ? -ENOMEM : 0;

        publish_locked(q);
        return r;
}

int runqueue_enqueue(struct runqueue *q, const struct runqueue_entry *e)
{
        _cleanup_free_ char *id = task_id(e->ns, e->name);

        if (!id)
                return -ENOMEM;
        LOCK_SCOPE(&q->lock);
        if (json_object_get(q->holders, id))
                return 0;
        return enqueue_locked(q, id, e);
}

/* The queued Tasks that may take a slot now, in order: *ret_order indexes
 * into *ret_entries (strings borrowed from q->queued: valid under the lock
 * until it changes); *ret_n how many. */
static int admissible_locked(struct runqueue *q, struct runqueue_entry **ret_entries,
                             size_t **ret_order, size_t *ret_n)
{
        size_t n = json_object_size(q->queued), n_nss = 0, startable = 0, i = 0;
        int64_t held = (int64_t)json_object_size(q->holders);
        _cleanup_free_ struct runqueue_entry *e = NULL;
        _cleanup_free_ struct runqueue_ns *nss = NULL;
        _cleanup_free_ size_t *order = NULL;
        const char *key;
        json_t *v;

        *ret_n = 0;
        if (n == 0 || (q->max_running > 0 && held >= q->max_running)) {
                json_object_clear(q->admissible);
                q->cache_gen = q->gen;
                return 0;
        }
        e = calloc(n, sizeof(*e));
        nss =
            calloc(json_object_size(q->ns_running) + json_object_size(q->limits) + 1, sizeof(*nss));
        if (!e || !nss)
                return -ENOMEM;
        json_object_foreach(q->queued, key, v)
        {
                e[i++] = (struct runqueue_entry){
                    .ns = json_string_value(json_object_get(v, "ns")),
                    .name = json_string_value(json_object_get(v, "name")),
                    .uid = json_string_value(json_object_get(v, "uid")),
                    .priority = int_of(v, "priority"),
                    .created_ms = int_of(v, "created"),
                };
        }
        json_object_foreach(q->ns_running, key, v)
        {
                nss[n_nss++] = (struct runqueue_ns){
                    .ns = key, .running = json_integer_value(v), .limit = int_of(q->limits, key)};
        }
        json_object_foreach(q->limits, key, v)
        {
                if (!json_object_get(q->ns_running, key))
                        nss[n_nss++] =
                            (struct runqueue_ns){.ns = key, .limit = json_integer_value(v)};
        }
        int r = runqueue_order(e, n, nss, n_nss, &order, &startable);
        if (r < 0)
                return r;
        if (q->max_running > 0 && (int64_t)startable > q->max_running - held)
                startable = (size_t)(q->max_running - held);
        json_object_clear(q->admissible);
        q->cache_gen = 0;
        for (i = 0; i < startable; i++) {
                _cleanup_free_ char *id = task_id(e[order[i]].ns, e[order[i]].name);
                if (!id || json_object_set_new(q->admissible, id, json_true()) < 0)
                        return -ENOMEM;
        }
        q->cache_gen = q->gen;
        *ret_entries = TAKE_PTR(e);
        *ret_order = TAKE_PTR(order);
        *ret_n = startable;
        return 0;
}

/* Under the lock: who to wake now (a freed slot, a raised limit, a Task
 * that stopped asking). Out of memory wakes nobody: the resync, or the
 * next change, brings them back. */
static void dispatch_locked(struct runqueue *q, struct wake_list *ret)
{
        _cleanup_free_ struct runqueue_entry *e = NULL;
        _cleanup_free_ size_t *order = NULL;
        size_t n = 0;

        if (!q->wake || admissible_locked(q, &e, &order, &n) < 0 || n == 0)
                return;
        ret->names = calloc(n, sizeof(*ret->names));
        if (!ret->names)
                return;
        for (size_t i = 0; i < n; i++) {
                ret->names[ret->n] = task_id(e[order[i]].ns, e[order[i]].name);
                if (ret->names[ret->n])
                        ret->n++;
        }
}

static void wake_all(struct runqueue *q, struct wake_list *w)
{
        for (size_t i = 0; i < w->n; i++) {
                char *slash = strchr(w->names[i], '/');

                if (!slash)
                        continue;
                *slash = '\0';
                q->wake(q->userdata, w->names[i], slash + 1);
        }
        wake_list_release(w);
}

int runqueue_set_limit(struct runqueue *q, const char *ns, int64_t limit)
{
        struct wake_list w = {0};
        int r = 0;

        pthread_mutex_lock(&q->lock);
        if (limit > 0)
                r = json_object_set_new(q->limits, ns, json_integer(limit)) < 0 ? -ENOMEM : 0;
        else
                json_object_del(q->limits, ns);
        q->gen++;
        if (r == 0)
                dispatch_locked(q, &w);
        pthread_mutex_unlock(&q->lock);
        wake_all(q, &w);
        return r;
}

int64_t runqueue_limit(struct runqueue *q, const char *ns)
{
        LOCK_SCOPE(&q->lock);
        return int_of(q->limits, ns);
}

int runqueue_acquire(struct runqueue *q, const struct runqueue_entry *e, enum runqueue_verdict *ret)
{
        _cleanup_free_ char *id = task_id(e->ns, e->name);
        _cleanup_free_ struct runqueue_entry *entries = NULL;
        _cleanup_free_ size_t *order = NULL;
        size_t n = 0;

        if (!id)
                return -ENOMEM;
        LOCK_SCOPE(&q->lock);
        if (json_object_get(q->holders, id)) {
                *ret = RUNQUEUE_ADMITTED;
                return 0;
        }
        int r = enqueue_locked(q, id, e);
        if (r < 0)
                return r;
        /* The cheap refusals first: with 10,000 queued, most asks end here. */
        if (q->max_running > 0 && (int64_t)json_object_size(q->holders) >= q->max_running) {
                *ret = RUNQUEUE_MAX_RUNNING;
                return 0;
        }
        int64_t limit = int_of(q->limits, e->ns);
        if (limit > 0 && int_of(q->ns_running, e->ns) >= limit) {
                *ret = RUNQUEUE_QUEUE_LIMIT;
                return 0;
        }
        /* Nobody else waits, or nothing limits anybody: no order to keep. */
        if (json_object_size(q->queued) == 1 ||
            (q->max_running == 0 && json_object_size(q->limits) == 0)) {
                r = hold_locked(q, id, e->ns);
                if (r < 0)
                        return r;
                *ret = RUNQUEUE_ADMITTED;
                return 0;
        }
        if (q->cache_gen != q->gen) {
                r = admissible_locked(q, &entries, &order, &n);
                if (r < 0)
                        return r;
        }
        if (json_object_get(q->admissible, id)) {
                r = hold_locked(q, id, e->ns);
                if (r < 0)
                        return r;
                *ret = RUNQUEUE_ADMITTED;
                return 0;
        }
        /* Others come first: the limit that leaves no slot for it. */
        *ret = q->max_running > 0 ? RUNQUEUE_MAX_RUNNING : RUNQUEUE_QUEUE_LIMIT;
        return 0;
}

bool runqueue_holds(struct runqueue *q, const char *ns, const char *name)
{
        _cleanup_free_ char *id = task_id(ns, name);

        if (!id)
                return false;
        LOCK_SCOPE(&q->lock);
        return json_object_get(q->holders, id) != NULL;
}

static void leave(struct runqueue *q, const char *ns, const char *name, bool release)
{
        _cleanup_free_ char *id = task_id(ns, name);
        struct wake_list w = {0};
        bool changed = false;

        if (!id)
                return;
        pthread_mutex_lock(&q->lock);
        if (json_object_del(q->queued, id) == 0)
                changed = true;
        if (release) {
                const char *held_ns = json_string_value(json_object_get(q->holders, id));
                if (held_ns) {
                        (void)count_add(q->ns_running, held_ns, -1);
                        json_object_del(q->holders, id);
                        changed = true;
                }
        }
        if (changed) {
                q->gen++;
                publish_locked(q);
                dispatch_locked(q, &w);
        }
        pthread_mutex_unlock(&q->lock);
        wake_all(q, &w);
}

void runqueue_release(struct runqueue *q, const char *ns, const char *name)
{
        leave(q, ns, name, true);
}

void runqueue_withdraw(struct runqueue *q, const char *ns, const char *name)
{
        leave(q, ns, name, false);
}

size_t runqueue_running(struct runqueue *q)
{
        return atomic_load(&q->n_running);
}

size_t runqueue_queued(struct runqueue *q)
{
        return atomic_load(&q->n_queued);
}
