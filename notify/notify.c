/* notify.c: the Event handler, the delivery threads, the status writer, the
 * outcome writer and the handover at a stop (notify.h states the contract).
 *
 * One lock guards the Notifiers' states (their queues and counts), the
 * outcome memory and the outcome writes waiting for the store. Nothing
 * blocks while holding it: deliveries and store writes copy what they need,
 * unlock, work, and lock again to record. A state is never freed while a
 * delivery thread holds its head (busy). */
#include <inttypes.h>

#include "notify-internal.h"

#include "admission.h"
#include "metrics.h"
#include "secrets.h"

#define STATUS_RETRY_MS      200  /* after a write lost a compare-and-swap */
#define STATUS_WAIT_WRITE_MS 1000 /* read-your-writes after a status write */
#define NOTIFIER_KEY_SEGMENT "notifiers/"
#define RESULT_SENT          "Sent"
#define RESULT_FAILED        "Failed"

static struct metrics_family dropped_total = METRICS_COUNTER_INIT(
    "berth_notifications_dropped_total",
    "Notifications dropped because their Notifier's queue was full, or left queued when "
    "berthd stopped leading.",
    "notifier");
static struct metrics_family outcome_writes_total = METRICS_COUNTER_INIT(
    "berth_notifier_outcome_writes_total",
    "Writes and deletes of stored last outcomes (for Recovered) done in the store.");
static struct metrics_family outcomes_dropped_total = METRICS_COUNTER_INIT(
    "berth_notifier_outcome_writes_dropped_total",
    "Writes of the last outcome of a Task, Workflow or CronTask (for Recovered) to the store "
    "that were dropped: the writer's queue was full, the write failed, or berthd stopped "
    "leading first.");
static struct metrics_family handovers_total = METRICS_COUNTER_INIT(
    "berth_notifier_handovers_total",
    "Notifier deliveries handed over through the store: saved when berthd stopped leading "
    "with them queued, restored when it (or another replica) started.",
    "direction");

#define OUTCOME_BATCH 64 /* outcome writes in one store transaction */

/* One write (or delete) of a stored outcome, waiting for the writer. */
struct outcome_write {
        char key[STORE_KEY_MAX + 1];
        bool del;
        struct outcome_value v; /* a put's */
};

/* One Notifier (one uid) that has had a delivery or counts to write. */
struct notifier_state {
        struct notifier_state *next; /* in n->states: round-robin order */
        char key[STORE_KEY_MAX + 1];
        char uid[64];
        char ns[64];
        char name[64];
        char label[130]; /* "<ns>/<name>": the metrics' notifier label */
        struct delivery_queue queue;
        bool busy; /* a delivery thread works on the head */
        bool gone; /* its object is gone or another uid: drop it when idle */
        /* What the status says. */
        uint64_t delivered, failures, dropped;
        int64_t last_ms; /* wall clock; 0: none yet */
        bool last_sent;
        int last_code;
        int last_attempts;
        char last_outcome[EVENT_REASON_MAX + 1];
        char last_id[RANDOM_UID_LEN];
        char last_kind[64], last_object[64];
        char last_error[NOTIFY_ERROR_MAX];
        int64_t last_error_ms;
        uint64_t version, written; /* dirty while they differ */
        int64_t written_mono_ms;   /* the last write (or its attempt) */
};

struct notify {
        struct object_cache *objects;
        struct store *store;
        char *prefix;
        const struct secrets_keyring *secrets;
        const struct admission_policy *admission;
        struct notify_type *types; /* the built-ins, then the plugins */
        size_t n_types;
        size_t queue_max;
        int64_t retry_base_ms, retry_max_ms, status_interval_ms;
        int64_t (*now_ms)(void);

        pthread_mutex_t lock;
        pthread_cond_t work;   /* delivery threads: a delivery is due */
        pthread_cond_t status; /* the status thread: something is dirty */
        pthread_cond_t idle;   /* notify_flush: something finished */
        struct notifier_state *states;
        size_t n_states;
        struct outcome_map *outcomes;
        size_t outcomes_max;
        /* The outcome writer's work: a ring of at most
         * NOTIFY_OUTCOME_WRITES_MAX writes, and the deletes notify_start's
         * load found (as many as it found). */
        struct outcome_write **writes;
        size_t writes_head, n_writes;
        char **purge;
        size_t n_purge;
        bool writing; /* the writer has a batch in hand */
        uint64_t
            term; /* notify_starts so far: a batch of an earlier term says nothing of this one */
        pthread_cond_t outcome_work;
        bool running;  /* between notify_start and notify_stop */
        bool shutdown; /* notify_free: threads end */
        char *fence_key;
        struct store_guard fence;
        bool fenced;
        bool fenced_off; /* a write found the fence moved: write nothing more */
        atomic_bool stopping;

        pthread_t *workers;
        int n_workers, n_started;
        pthread_t status_thread;
        bool status_started;
        pthread_t outcome_thread;
        bool outcome_started;
        bool sync_ready; /* lock and conditions made */

        atomic_uint_least64_t sent, failed, dropped, queued;
        atomic_uint_least64_t outcomes_written, outcomes_dropped;
        atomic_uint_least64_t handed_over, taken_over;
};

static const struct notify_type builtins[] = {
    {.name = "webhook", .deliver = notify_webhook_deliver},
    {.name = "slack", .deliver = notify_slack_deliver},
    {.name = "smtp", .deliver = notify_smtp_deliver},
    {.name = "exec", .deliver = notify_exec_deliver},
};

static const struct notify_type *type_lookup(const struct notify *n, const char *name)
{
        for (size_t i = 0; i < n->n_types; i++)
                if (streq(n->types[i].name, name))
                        return &n->types[i];
        return NULL;
}

static bool dirty(const struct notifier_state *st)
{
        return st->version != st->written;
}

static void touch(struct notify *n, struct notifier_state *st)
{
        st->version++;
        pthread_cond_signal(&n->status);
}

/* ---- states ------------------------------------------------------------------ */

static void state_free(struct notifier_state *st)
{
        if (!st)
                return;
        delivery_queue_release(&st->queue);
        free(st);
}

static void state_unlink(struct notify *n, struct notifier_state *st)
{
        for (struct notifier_state **p = &n->states; *p; p = &(*p)->next)
                if (*p == st) {
                        *p = st->next;
                        n->n_states--;
                        return;
                }
}

/* Moves st to the end of the list: the next pick starts with the others. */
static void state_to_tail(struct notify *n, struct notifier_state *st)
{
        struct notifier_state **p = &n->states;

        state_unlink(n, st);
        while (*p)
                p = &(*p)->next;
        st->next = NULL;
        *p = st;
        n->n_states++;
}

/* Frees a gone state once nothing refers to it. Locked. */
static void state_reap(struct notify *n, struct notifier_state *st)
{
        if (!st->gone || st->busy)
                return;
        atomic_fetch_sub(&n->queued, st->queue.n);
        state_unlink(n, st);
        state_free(st);
}

/* Its object is gone (or replaced): what is queued for it goes. Locked. */
static void state_gone(struct notify *n, struct notifier_state *st)
{
        size_t dropped = delivery_queue_drop(&st->queue, st->busy);

        atomic_fetch_sub(&n->queued, dropped);
        st->gone = true;
        st->written = st->version;
        state_reap(n, st);
        pthread_cond_broadcast(&n->idle);
}

/* Forgets every state with nothing queued, in flight or to write: what
 * they hold is in the store, and a state made again reads it back (the
 * states of deleted Notifiers go this way). Locked. */
static void states_evict_idle(struct notify *n)
{
        for (struct notifier_state *st = n->states, *next; st; st = next) {
                next = st->next;
                if (!st->busy && st->queue.n == 0 && !dirty(st)) {
                        st->gone = true;
                        state_reap(n, st);
                }
        }
}

static uint64_t status_count(const json_t *notifier, const char *field)
{
        json_int_t v =
            json_integer_value(json_object_get(json_object_get(notifier, "status"), field));
        return v > 0 ? (uint64_t)v : 0;
}

/* The state of the Notifier object, made on first use with its stored
 * counts. NULL on OOM or past NOTIFY_NOTIFIERS_MAX. Locked. */
static struct notifier_state *state_get(struct notify *n, const char *key, const json_t *notifier)
{
        const char *uid = json_path_string(notifier, "metadata.uid");
        const char *ns = json_path_string(notifier, "metadata.namespace");
        const char *name = json_path_string(notifier, "metadata.name");
        struct notifier_state *st;

        if (!uid || !name)
                return NULL;
        /* A gone state may linger while a thread finishes its head (a
         * Notifier deleted, or a term ended): a new one goes beside it. */
        for (st = n->states; st; st = st->next)
                if (!st->gone && streq(st->uid, uid) && streq(st->key, key))
                        return st;
        if (n->n_states >= NOTIFY_NOTIFIERS_MAX)
                states_evict_idle(n);
        if (n->n_states >= NOTIFY_NOTIFIERS_MAX)
                return NULL;
        st = calloc(1, sizeof(*st));
        if (!st || delivery_queue_init(&st->queue, n->queue_max) < 0) {
                state_free(st);
                return NULL;
        }
        (void)str_copy(st->key, sizeof(st->key), key);
        (void)str_copy(st->uid, sizeof(st->uid), uid);
        (void)str_copy(st->ns, sizeof(st->ns), ns ? ns : "default");
        (void)str_copy(st->name, sizeof(st->name), name);
        snprintf(st->label, sizeof(st->label), "%s/%s", st->ns, st->name);
        st->delivered = status_count(notifier, "delivered");
        st->failures = status_count(notifier, "failures");
        st->dropped = status_count(notifier, "dropped");
        st->next = n->states;
        n->states = st;
        n->n_states++;
        return st;
}

/* ---- taking Events ------------------------------------------------------------ */

static int64_t wall_now(const struct notify *n)
{
        return n->now_ms ? n->now_ms() : time_now_ms();
}

/* ---- the outcome memory in the store ------------------------------------------
 *
 * Recovered compares a run with the last one of its name, which outlives
 * berthd only in the store: each recorded outcome that changes something
 * is written to "<prefix>notify-data/outcomes/<kind>/<ns>/<name>" by the
 * outcome writer thread, in batches of one transaction each, under the
 * leader's fence. The recorder only queues (a ring of
 * NOTIFY_OUTCOME_WRITES_MAX; past it the write is dropped and counted).
 * To keep the store's cost low, an outcome is written only when a Notifier
 * of its namespace is on Recovered (the bench's Notifier routing every
 * Event is not), and only when it changes the stored result or the stored
 * one is NOTIFY_OUTCOME_REFRESH_MS old (outcome_map_take_write): a name
 * that keeps failing, or keeps succeeding, costs one write a day. */

static void write_drop(struct notify *n, const struct outcome_write *w)
{
        char kind[64], ns[64], name[64];

        if (!w->del && outcome_key_parse(n->prefix, w->key, kind, ns, name) == 0)
                outcome_map_write_lost(n->outcomes, kind, ns, name, w->v.at_ms);
        metrics_counter_add(&outcomes_dropped_total, NULL, 1);
        atomic_fetch_add(&n->outcomes_dropped, 1);
}

/* Queues w for the writer (taking it), or drops it when the ring is full or
 * delivering has stopped. Locked. */
static void write_push(struct notify *n, struct outcome_write *w)
{
        if (!n->running || n->fenced_off || n->n_writes >= NOTIFY_OUTCOME_WRITES_MAX) {
                write_drop(n, w);
                free(w);
                return;
        }
        n->writes[(n->writes_head + n->n_writes++) % NOTIFY_OUTCOME_WRITES_MAX] = w;
        pthread_cond_signal(&n->outcome_work);
}

/* Queues the write of (kind, ns, name) when the map says it changes
 * something. Locked. */
static void write_outcome(struct notify *n, const char *kind, const char *ns, const char *name)
{
        struct outcome_write *w = calloc(1, sizeof(*w));
        _cleanup_free_ char *key = outcome_key(n->prefix, kind, ns, name);

        if (!w || !key || str_copy(w->key, sizeof(w->key), key) < 0 ||
            !outcome_map_take_write(n->outcomes, kind, ns, name, NOTIFY_OUTCOME_REFRESH_MS,
                                    &w->v)) {
                free(w);
                return;
        }
        write_push(n, w);
}

/* outcome_evict_fn: the map forgot a stored outcome; so does the store.
 * Locked (under outcome_map_record or _load). */
static void outcome_evicted(const char *kind, const char *ns, const char *name, void *userdata)
{
        struct notify *n = userdata;
        struct outcome_write *w = calloc(1, sizeof(*w));
        _cleanup_free_ char *key = outcome_key(n->prefix, kind, ns, name);

        if (!w || !key || str_copy(w->key, sizeof(w->key), key) < 0) {
                free(w);
                return;
        }
        w->del = true;
        write_push(n, w);
}

/* Whether a Notifier among notifiers is on Recovered: then outcomes of that
 * namespace are worth a store write. From spec.on as stored, without a
 * decode (an invalid Notifier asking for it costs a write, no more). */
static bool wants_recovered(const json_t *notifiers)
{
        size_t i, j;
        const json_t *nobj, *on;

        json_array_foreach(notifiers, i, nobj)
        {
                if (json_path(nobj, "metadata.deletionTimestamp"))
                        continue;
                json_array_foreach(json_path(nobj, "spec.on"), j,
                                   on) if (streq(json_string_value(on), "Recovered")) return true;
        }
        return false;
}

/* Writes batch[0..n) to the store as few transactions as the backend takes:
 * the number written, or -EPERM when the fence moved (err says). A failed
 * write is logged and its outcome counted as not stored. Unlocked. */
static int write_batch(struct notify *n, struct outcome_write **batch, size_t nb,
                       const struct store_guard *fence)
{
        struct store_op ops[OUTCOME_BATCH];
        char *values[OUTCOME_BATCH] = {0};
        size_t idx[OUTCOME_BATCH], nops = 0, done = 0;
        int written = 0, r = 0;

        /* One op per key, the last queued: a transaction's keys are distinct. */
        for (size_t i = 0; i < nb; i++) {
                bool later = false;

                for (size_t k = i + 1; k < nb && !later; k++)
                        later = streq(batch[k]->key, batch[i]->key);
                if (later)
                        continue;
                if (!batch[i]->del && !(values[nops] = outcome_value_encode(&batch[i]->v)))
                        continue;
                ops[nops] = (struct store_op){
                    .type = batch[i]->del ? STORE_OP_DELETE : STORE_OP_PUT,
                    .key = batch[i]->key,
                    .value = values[nops],
                    .value_len = values[nops] ? strlen(values[nops]) : 0,
                    .expected_mod_revision = STORE_ANY_REVISION,
                };
                idx[nops++] = i;
        }
        while (done < nops) {
                struct berth_error err = {0};
                size_t fit = store_txn_fit(n->store, ops + done, nops - done, fence != NULL);
                size_t failed = 0;

                r = store_txn(n->store, ops + done, fit, fence, NULL, &failed, &err);
                if (r == -ENOENT && failed < fit && ops[done + failed].type == STORE_OP_DELETE) {
                        /* Already gone: the rest again without it. */
                        memmove(&ops[done + failed], &ops[done + failed + 1],
                                (nops - done - failed - 1) * sizeof(ops[0]));
                        memmove(&idx[done + failed], &idx[done + failed + 1],
                                (nops - done - failed - 1) * sizeof(idx[0]));
                        nops--;
                        continue;
                }
                if (r == -EPERM) {
                        log_info("notifier outcomes not written, not the leader any more: %s",
                                 err.message);
                        break;
                }
                if (r < 0) {
                        log_warn("notifier outcome write failed: %s keys=%zu",
                                 err.message[0] ? err.message : strerror(-r), fit);
                        pthread_mutex_lock(&n->lock);
                        for (size_t k = done; k < done + fit; k++)
                                if (ops[k].type == STORE_OP_PUT)
                                        write_drop(n, batch[idx[k]]);
                        pthread_mutex_unlock(&n->lock);
                } else {
                        written += (int)fit;
                }
                done += fit;
        }
        for (size_t i = 0; i < OUTCOME_BATCH; i++)
                free(values[i]);
        return r == -EPERM ? -EPERM : written;
}

static void *outcome_main(void *userdata)
{
        struct notify *n = userdata;

        pthread_mutex_lock(&n->lock);
        while (!n->shutdown) {
                struct outcome_write *batch[OUTCOME_BATCH];
                size_t nb = 0;

                if (!n->running || n->fenced_off || (n->n_writes == 0 && n->n_purge == 0)) {
                        pthread_cond_wait(&n->outcome_work, &n->lock);
                        continue;
                }
                for (; nb < OUTCOME_BATCH && n->n_writes > 0; nb++) {
                        batch[nb] = n->writes[n->writes_head];
                        n->writes_head = (n->writes_head + 1) % NOTIFY_OUTCOME_WRITES_MAX;
                        n->n_writes--;
                }
                for (; nb < OUTCOME_BATCH && n->n_purge > 0; nb++) {
                        _cleanup_free_ char *key = n->purge[--n->n_purge];

                        batch[nb] = calloc(1, sizeof(*batch[nb]));
                        if (!batch[nb] ||
                            str_copy(batch[nb]->key, sizeof(batch[nb]->key), key) < 0) {
                                free(batch[nb]);
                                break;
                        }
                        batch[nb]->del = true;
                }
                char fence_key[STORE_KEY_MAX + 1] = "";
                struct store_guard fence = n->fence;
                bool fenced = n->fenced;

                if (fenced) {
                        (void)str_copy(fence_key, sizeof(fence_key), n->fence_key);
                        fence.key = fence_key;
                }
                uint64_t term = n->term;

                n->writing = true;
                pthread_mutex_unlock(&n->lock);

                int r = write_batch(n, batch, nb, fenced ? &fence : NULL);

                for (size_t i = 0; i < nb; i++)
                        free(batch[i]);
                pthread_mutex_lock(&n->lock);
                n->writing = false;
                if (r == -EPERM && term == n->term)
                        n->fenced_off = true;
                else if (r > 0) {
                        atomic_fetch_add(&n->outcomes_written, (uint64_t)r);
                        metrics_counter_add(&outcome_writes_total, NULL, r);
                }
                pthread_cond_broadcast(&n->idle);
        }
        pthread_mutex_unlock(&n->lock);
        return NULL;
}

/* Drops the writes that wait (delivering stopped, or a new term). Locked. */
static void writes_drop(struct notify *n)
{
        for (; n->n_writes > 0; n->n_writes--) {
                struct outcome_write *w = n->writes[n->writes_head];

                n->writes_head = (n->writes_head + 1) % NOTIFY_OUTCOME_WRITES_MAX;
                write_drop(n, w);
                free(w);
        }
        for (; n->n_purge > 0; n->n_purge--)
                free(n->purge[n->n_purge - 1]);
}

/* notify_start's load: what the store remembers, into the map, before the
 * first Event; what is too old, undecodable or beyond the bound, to be
 * deleted by the writer. One list of small values (at most about
 * NOTIFY_OUTCOMES_MAX of them), read before the lock is taken. */
static void outcomes_load(struct notify *n, struct outcome_load *l)
{
        struct berth_error err = {0};
        int r = outcome_load_read(n->store, n->prefix, n->outcomes_max, NOTIFY_OUTCOME_KEEP_MS,
                                  wall_now(n), l, &err);

        if (r < 0) {
                log_warn("notifier outcomes not loaded, Recovered starts from nothing: %s",
                         err.message);
                return;
        }
        if (l->bad > 0)
                log_warn("notifier outcomes: %s, deleting it (and %zu more) key=%s", l->bad_why,
                         l->bad - 1, l->bad_key);
        if (l->n + l->n_purge > 0)
                log_info("notifier outcomes loaded count=%zu expired=%zu trimmed=%zu", l->n,
                         l->expired, l->trimmed);
}

/* Queues one delivery for notifier (key) of outcome. */
static void enqueue(struct notify *n, const char *key, const json_t *notifier, const char *outcome,
                    const json_t *event, const json_t *object)
{
        const char *ns = json_path_string(notifier, "metadata.namespace");
        const char *name = json_path_string(notifier, "metadata.name");
        struct delivery *d = calloc(1, sizeof(*d));
        _cleanup_json_ json_t *payload = NULL;

        if (!d || random_uid(d->id) < 0) {
                free(d);
                return;
        }
        payload =
            notify_payload(event, object, outcome, ns ? ns : "default", name ? name : "", d->id);
        d->body = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
        /* Labels and messages are capped, so this is a safety net: a body
         * too large goes without the object's labels and status. */
        if (d->body && strlen(d->body) > NOTIFY_PAYLOAD_MAX) {
                free(d->body);
                json_decref(payload);
                payload = notify_payload(event, NULL, outcome, ns ? ns : "default",
                                         name ? name : "", d->id);
                d->body = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
        }
        if (!d->body) {
                delivery_free(d);
                return;
        }
        d->len = strlen(d->body);
        d->queued_ms = wall_now(n);
        (void)str_copy(d->outcome, sizeof(d->outcome), outcome);
        (void)str_copy(d->object_kind, sizeof(d->object_kind),
                       json_path_string(event, "involvedObject.kind") ?: "");
        (void)str_copy(d->object_name, sizeof(d->object_name),
                       json_path_string(event, "involvedObject.name") ?: "");

        LOCK_SCOPE(&n->lock);
        struct notifier_state *st = n->running ? state_get(n, key, notifier) : NULL;
        if (!st || delivery_queue_push(&st->queue, d) < 0) {
                char label[130];
                snprintf(label, sizeof(label), "%s/%s", ns ? ns : "default", name ? name : "");
                metrics_counter_add(&dropped_total, (const char *const[]){label}, 1);
                atomic_fetch_add(&n->dropped, 1);
                delivery_free(d);
                if (st) {
                        st->dropped++;
                        touch(n, st);
                }
                return;
        }
        atomic_fetch_add(&n->queued, 1);
        pthread_cond_signal(&n->work);
}

/* The cache key of the Event's involved object, or NULL. */
static char *involved_key(const struct notify *n, const json_t *event)
{
        const char *ns = json_path_string(event, "involvedObject.namespace");
        const char *name = json_path_string(event, "involvedObject.name");
        const struct kind_info *k = kind_by_name(json_path_string(event, "involvedObject.kind"));

        if (!k || !name)
                return NULL;
        return object_key(n->prefix, k->resource, k->namespaced ? (ns ? ns : "default") : NULL,
                          name);
}

/* Whether the involved object may be a CronTask's run (notify_run_identity
 * then needs its tree): it has owners or the CronTask label. From the
 * cache's summary, without a parse. */
static bool involved_may_be_run_of(struct notify *n, const json_t *event)
{
        _cleanup_free_ char *key = involved_key(n, event);
        const struct object_blob *b = key ? object_cache_get_blob(n->objects, key) : NULL;
        bool may = b && (b->n_owners > 0 || object_blob_label(b, CRONTASK_LABEL));

        object_blob_unref(b);
        return may;
}

/* The involved object as cached, when it is the Event's (same uid). */
static json_t *involved_object(struct notify *n, const json_t *event)
{
        const char *uid = json_path_string(event, "involvedObject.uid");
        _cleanup_free_ char *key = involved_key(n, event);
        json_t *obj = key ? object_cache_get(n->objects, key, NULL) : NULL;
        if (obj && uid && !streq(uid, json_path_string(obj, "metadata.uid"))) {
                json_decref(obj);
                return NULL;
        }
        return obj;
}

void notify_event(const json_t *event, void *userdata)
{
        struct notify *n = userdata;
        const char *kind = json_path_string(event, "involvedObject.kind");
        const char *reason = json_string_value(json_object_get(event, "reason"));
        const char *ns = json_path_string(event, "metadata.namespace");
        char failure[EVENT_REASON_MAX + 1] = "";
        const char *outcomes[NOTIFY_OUTCOMES_PER_EVENT];
        struct notify_facts facts = {.kind = kind, .reason = reason};

        if (!n || !kind || !reason || !ns)
                return;
        {
                LOCK_SCOPE(&n->lock);
                if (!n->running)
                        return;
        }
        bool completed = streq(reason, "Completed"), failed = streq(reason, "Failed");
        bool run_ended = (completed || failed) && (streq(kind, "Task") || streq(kind, "Workflow"));
        /* Parsed only when needed: for a failure's reason, a CronTask's run,
         * or a Notifier to match (most Events have none of these). */
        _cleanup_json_ json_t *object = failed || (run_ended && involved_may_be_run_of(n, event))
                                            ? involved_object(n, event)
                                            : NULL;

        if (failed) {
                notify_failure_reason(event, object, failure);
                facts.failure_reason = failure;
        }
        _cleanup_free_ char *list_prefix =
            str_printf("%s" NOTIFIER_KEY_SEGMENT "%s/", n->prefix, ns);
        _cleanup_json_ json_t *notifiers =
            list_prefix ? object_cache_list(n->objects, list_prefix, NULL) : NULL;
        /* Only the runs of Tasks and Workflows (a CronTask's among them)
         * finish: what their last one did is what Recovered compares. */
        if (run_ended) {
                const char *run_kind, *run_name;
                bool persist = wants_recovered(notifiers);

                notify_run_identity(event, object, &run_kind, &run_name);
                LOCK_SCOPE(&n->lock);
                enum run_result before = outcome_map_record(
                    n->outcomes, run_kind, ns, run_name,
                    json_path_string(event, "involvedObject.uid"), failed, wall_now(n));
                facts.recovered = completed && before == RUN_FAILED;
                if (persist && n->running)
                        write_outcome(n, run_kind, ns, run_name);
        }
        size_t n_outcomes = notify_outcomes(&facts, outcomes);
        if (!object && json_array_size(notifiers) > 0)
                object = involved_object(n, event);
        const json_t *labels = json_path(object, "metadata.labels");
        size_t i;
        const json_t *nobj;

        json_array_foreach(notifiers, i, nobj)
        {
                struct notifier_spec spec;
                struct berth_error err = {0};
                const char *name = json_path_string(nobj, "metadata.name");

                if (!name || json_path(nobj, "metadata.deletionTimestamp") ||
                    notifier_spec_decode(nobj, &spec, &err) < 0)
                        continue;
                const char *outcome = notify_match(&spec, labels, outcomes, n_outcomes);
                if (!outcome)
                        continue;
                _cleanup_free_ char *key = str_printf("%s%s", list_prefix, name);
                if (key)
                        enqueue(n, key, nobj, outcome, event, object);
        }
}

/* ---- delivering ----------------------------------------------------------------- */

enum attempt_result { ATTEMPT_SENT, ATTEMPT_RETRY, ATTEMPT_FAILED, ATTEMPT_GONE };

struct attempt {
        char key[STORE_KEY_MAX + 1];
        char uid[64];
        char ns[64], name[64];
        struct delivery *d; /* the state's queue head, busy */
        int max_attempts;   /* the spec's, once read */
        struct notify_result res;
};

/* The value of the spec's secretRef (a Secret of namespace ns): 0 with
 * *ret (secret_bytes_free), or -errno with res->error. */
static int read_secret(struct notify *n, const char *ns, const struct notifier_spec *spec,
                       unsigned char **ret, size_t *ret_len, struct notify_result *res)
{
        struct berth_error err = {0};
        _cleanup_free_ char *key = object_key(n->prefix, "secrets", ns, spec->secret.name);
        _cleanup_json_ json_t *secret = key ? object_cache_get(n->objects, key, NULL) : NULL;

        if (!key)
                return -ENOMEM;
        if (!secret) {
                snprintf(res->error, sizeof(res->error), "Secret %s not found", spec->secret.name);
                return -ENOENT;
        }
        if (!n->secrets) {
                snprintf(res->error, sizeof(res->error), "Secret %s: berthd has no keyring",
                         spec->secret.name);
                return -ENOKEY;
        }
        int r = secret_lookup(n->secrets, secret, spec->secret.key, ret, ret_len, &err);
        if (r < 0)
                snprintf(res->error, sizeof(res->error), "Secret %s key %s: %.300s",
                         spec->secret.name, spec->secret.key,
                         r == -ENOENT ? "no such key" : err.message);
        return r;
}

/* One attempt of a->d, off the lock. */
static enum attempt_result attempt_one(struct notify *n, struct attempt *a)
{
        int64_t rev = 0;
        _cleanup_json_ json_t *obj = object_cache_get(n->objects, a->key, &rev);
        _cleanup_json_ json_t *payload = NULL;
        _cleanup_free_ char *summary = NULL, *program = NULL;
        unsigned char *secret = NULL;
        size_t secret_len = 0;
        struct notifier_spec spec;
        struct berth_error err = {0};
        const struct notify_type *type;

        if (!obj || !streq(json_path_string(obj, "metadata.uid"), a->uid) ||
            json_path(obj, "metadata.deletionTimestamp"))
                return ATTEMPT_GONE;
        if (notifier_spec_decode(obj, &spec, &err) < 0) {
                snprintf(a->res.error, sizeof(a->res.error), "invalid Notifier: %.400s",
                         err.message);
                return ATTEMPT_FAILED;
        }
        a->max_attempts = spec.max_attempts;
        type = type_lookup(n, spec.type);
        if (!type) {
                snprintf(a->res.error, sizeof(a->res.error), "berthd has no notifier type \"%s\"",
                         spec.type);
                return ATTEMPT_FAILED;
        }
        if (spec.builtin == NOTIFIER_EXEC) {
                char msg[NOTIFY_ERROR_MAX];
                if (admission_notifier_command(n->admission, spec.command, &program, msg,
                                               sizeof(msg)) < 0) {
                        (void)str_copy(a->res.error, sizeof(a->res.error), msg);
                        return ATTEMPT_FAILED;
                }
        }
        payload = json_loadb(a->d->body, a->d->len, 0, NULL);
        summary = payload ? notify_summary(payload) : NULL;
        if (!summary) {
                snprintf(a->res.error, sizeof(a->res.error), "out of memory");
                return ATTEMPT_RETRY;
        }
        if (spec.secret.name && read_secret(n, a->ns, &spec, &secret, &secret_len, &a->res) < 0)
                return ATTEMPT_FAILED;
        const struct notify_delivery d = {
            .notifier_ns = a->ns,
            .notifier_name = a->name,
            .spec = &spec,
            .id = a->d->id,
            .outcome = a->d->outcome,
            .body = a->d->body,
            .body_len = a->d->len,
            .payload = payload,
            .summary = summary,
            .secret = secret,
            .secret_len = secret_len,
            .program = program,
            .attempt = a->d->attempts,
            .stopping = &n->stopping,
        };
        int r = type->deliver(&d, &a->res, type->userdata);
        secret_bytes_free(secret, secret_len);
        if (r == 0)
                return ATTEMPT_SENT;
        if (!a->res.error[0])
                snprintf(a->res.error, sizeof(a->res.error), "%s", strerror(-r));
        return a->res.retry ? ATTEMPT_RETRY : ATTEMPT_FAILED;
}

/* The state whose head is due, fairly: the first in list order, which
 * state_to_tail keeps rotating. *ret_wait_ms: when one will be (-1:
 * none waits). Locked. */
static struct notifier_state *pick(struct notify *n, int64_t now, int64_t *ret_wait_ms)
{
        *ret_wait_ms = -1;
        for (struct notifier_state *st = n->states; st; st = st->next) {
                struct delivery *d = delivery_queue_head(&st->queue);

                if (!d || st->busy || st->gone)
                        continue;
                if (d->not_before_ms <= now)
                        return st;
                if (*ret_wait_ms < 0 || d->not_before_ms - now < *ret_wait_ms)
                        *ret_wait_ms = d->not_before_ms - now;
        }
        return NULL;
}

/* Records how a->d's attempt ended. Locked. */
static void record(struct notify *n, struct notifier_state *st, struct attempt *a,
                   enum attempt_result result)
{
        struct delivery *d = a->d;
        bool final = result != ATTEMPT_RETRY || d->attempts >= a->max_attempts;

        if (st->gone) { /* while it was being delivered */
                delivery_free(delivery_queue_pop(&st->queue));
                atomic_fetch_sub(&n->queued, 1);
                state_reap(n, st);
                return;
        }
        if (result == ATTEMPT_GONE) {
                state_gone(n, st);
                return;
        }
        if (result != ATTEMPT_SENT) {
                (void)str_copy(st->last_error, sizeof(st->last_error), a->res.error);
                st->last_error_ms = wall_now(n);
        }
        if (!final) {
                d->not_before_ms =
                    time_mono_ms() +
                    notify_retry_delay_ms(d->attempts, n->retry_base_ms, n->retry_max_ms);
                log_debug("notification attempt failed, retrying: %s notifier=%s attempt=%d "
                          "delivery=%s",
                          a->res.error, st->label, d->attempts, d->id);
                touch(n, st);
                return;
        }
        d = delivery_queue_pop(&st->queue);
        atomic_fetch_sub(&n->queued, 1);
        st->last_ms = wall_now(n);
        st->last_sent = result == ATTEMPT_SENT;
        st->last_code = a->res.code;
        st->last_attempts = d->attempts;
        (void)str_copy(st->last_outcome, sizeof(st->last_outcome), d->outcome);
        (void)str_copy(st->last_id, sizeof(st->last_id), d->id);
        (void)str_copy(st->last_kind, sizeof(st->last_kind), d->object_kind);
        (void)str_copy(st->last_object, sizeof(st->last_object), d->object_name);
        if (result == ATTEMPT_SENT) {
                st->delivered++;
                atomic_fetch_add(&n->sent, 1);
                log_debug("notification sent notifier=%s event=%s object=%s/%s attempts=%d "
                          "delivery=%s",
                          st->label, d->outcome, d->object_kind, d->object_name, d->attempts,
                          d->id);
        } else {
                st->failures++;
                atomic_fetch_add(&n->failed, 1);
                log_warn("notification failed: %s notifier=%s event=%s object=%s/%s attempts=%d "
                         "delivery=%s",
                         a->res.error, st->label, d->outcome, d->object_kind, d->object_name,
                         d->attempts, d->id);
        }
        metrics_notification_count(st->label, result == ATTEMPT_SENT);
        delivery_free(d);
        touch(n, st);
}

static void *worker_main(void *userdata)
{
        struct notify *n = userdata;

        pthread_mutex_lock(&n->lock);
        while (!n->shutdown) {
                int64_t wait_ms;
                struct notifier_state *st = pick(n, time_mono_ms(), &wait_ms);

                if (!st) {
                        if (wait_ms < 0) {
                                pthread_cond_wait(&n->work, &n->lock);
                        } else {
                                struct timespec ts;
                                time_mono_deadline(&ts, wait_ms);
                                pthread_cond_timedwait(&n->work, &n->lock, &ts);
                        }
                        continue;
                }
                struct attempt a = {.d = delivery_queue_head(&st->queue)};
                (void)str_copy(a.key, sizeof(a.key), st->key);
                (void)str_copy(a.uid, sizeof(a.uid), st->uid);
                (void)str_copy(a.ns, sizeof(a.ns), st->ns);
                (void)str_copy(a.name, sizeof(a.name), st->name);
                a.d->attempts++;
                a.max_attempts = a.d->attempts; /* until the spec says */
                st->busy = true;
                state_to_tail(n, st);
                pthread_mutex_unlock(&n->lock);

                enum attempt_result result = attempt_one(n, &a);

                pthread_mutex_lock(&n->lock);
                st->busy = false;
                record(n, st, &a, result);
                /* Another thread may deliver this Notifier's next one. */
                pthread_cond_signal(&n->work);
                pthread_cond_broadcast(&n->idle);
        }
        pthread_mutex_unlock(&n->lock);
        return NULL;
}

/* ---- statuses ------------------------------------------------------------------------ */

/* What a state knows of its status: the counts, and lastDelivery and
 * lastError once it has them (write_status keeps the stored ones until
 * then). New reference. Locked. */
static json_t *state_status(const struct notifier_state *st)
{
        _cleanup_json_ json_t *s =
            json_pack("{s:I, s:I, s:I}", "delivered", (json_int_t)st->delivered, "failures",
                      (json_int_t)st->failures, "dropped", (json_int_t)st->dropped);
        char at[RFC3339_MAX];

        if (!s)
                return NULL;
        if (st->last_ms > 0) {
                time_format_rfc3339_ms(st->last_ms, at);
                json_t *last = json_pack("{s:s, s:s, s:s, s:{s:s, s:s}, s:s, s:i}", "time", at,
                                         "result", st->last_sent ? RESULT_SENT : RESULT_FAILED,
                                         "event", st->last_outcome, "object", "kind", st->last_kind,
                                         "name", st->last_object, "deliveryId", st->last_id,
                                         "attempts", st->last_attempts);
                if (!last ||
                    (st->last_code &&
                     json_object_set_new(last, "code", json_integer(st->last_code)) < 0) ||
                    json_object_set_new(s, "lastDelivery", last) < 0)
                        return NULL;
        }
        if (st->last_error_ms > 0) {
                time_format_rfc3339_ms(st->last_error_ms, at);
                if (json_object_set_new(s, "lastError", json_string(st->last_error)) < 0 ||
                    json_object_set_new(s, "lastErrorTime", json_string(at)) < 0)
                        return NULL;
        }
        return TAKE_PTR(s);
}

/* Writes status over the status of the Notifier at key (uid): CAS on the
 * cached revision, under fence. -ENOENT when it is gone or another uid. */
static int write_status(struct notify *n, const char *key, const char *uid, json_t *status,
                        const struct store_guard *fence, struct berth_error *err)
{
        int64_t rev = 0, written = 0;
        _cleanup_json_ json_t *cached = object_cache_get(n->objects, key, &rev);
        _cleanup_json_ json_t *obj = NULL;
        _cleanup_free_ char *data = NULL;

        if (!cached || !streq(json_path_string(cached, "metadata.uid"), uid))
                return -ENOENT;
        const json_t *old = json_object_get(cached, "status");
        _cleanup_json_ json_t *merged = json_is_object(old) ? json_deep_copy(old) : json_object();
        if (!merged || json_object_update(merged, status) < 0)
                return berth_error_set(err, -ENOMEM, "status of %s: out of memory", key);
        if (json_same(old, merged))
                return 0;
        obj = json_deep_copy(cached);
        if (obj)
                (void)json_object_del(json_object_get(obj, "metadata"), "resourceVersion");
        if (!obj || json_object_set(obj, "status", merged) < 0 ||
            !(data = json_dumps(obj, JSON_COMPACT)))
                return berth_error_set(err, -ENOMEM, "status of %s: out of memory", key);
        int r = store_put_guarded(n->store, key, data, strlen(data), rev, 0, fence, &written, err);
        if (r < 0)
                return r;
        (void)object_cache_wait_revision(n->objects, written, STATUS_WAIT_WRITE_MS);
        return 0;
}

static void *status_main(void *userdata)
{
        struct notify *n = userdata;

        pthread_mutex_lock(&n->lock);
        while (!n->shutdown) {
                int64_t now = time_mono_ms(), wait_ms = -1;
                struct notifier_state *st = NULL;
                bool writing = n->running && !n->fenced_off;

                for (struct notifier_state *s = writing ? n->states : NULL; s; s = s->next) {
                        int64_t due = s->written_mono_ms + n->status_interval_ms;

                        if (!dirty(s) || s->gone)
                                continue;
                        if (s->written_mono_ms == 0 || due <= now) {
                                st = s;
                                break;
                        }
                        if (wait_ms < 0 || due - now < wait_ms)
                                wait_ms = due - now;
                }
                if (!st) {
                        if (wait_ms < 0) {
                                pthread_cond_wait(&n->status, &n->lock);
                        } else {
                                struct timespec ts;
                                time_mono_deadline(&ts, wait_ms);
                                pthread_cond_timedwait(&n->status, &n->lock, &ts);
                        }
                        continue;
                }
                _cleanup_json_ json_t *status = state_status(st);
                uint64_t version = st->version;
                char key[STORE_KEY_MAX + 1], uid[64], fence_key[STORE_KEY_MAX + 1] = "";
                struct store_guard fence = n->fence;
                bool fenced = n->fenced;
                struct berth_error err = {0};

                (void)str_copy(key, sizeof(key), st->key);
                (void)str_copy(uid, sizeof(uid), st->uid);
                if (fenced) {
                        (void)str_copy(fence_key, sizeof(fence_key), n->fence_key);
                        fence.key = fence_key;
                }
                st->written_mono_ms = now;
                pthread_mutex_unlock(&n->lock);

                int r = status ? write_status(n, key, uid, status, fenced ? &fence : NULL, &err)
                               : -ENOMEM;

                pthread_mutex_lock(&n->lock);
                /* st may be gone: find it again. */
                for (st = n->states; st && !(streq(st->key, key) && streq(st->uid, uid));
                     st = st->next)
                        ;
                if (r == 0 && st) {
                        st->written = version > st->written ? version : st->written;
                } else if (r == -ENOENT) { /* gone: nothing to write any more */
                        if (st)
                                state_gone(n, st);
                } else if (r == -ESTALE && st) {
                        st->written_mono_ms = now - n->status_interval_ms + STATUS_RETRY_MS;
                } else if (r == -EPERM) {
                        log_info("notifier status not written, not the leader any more: %s "
                                 "key=%s",
                                 err.message, key);
                        n->fenced_off = true;
                } else if (r < 0) {
                        log_warn("notifier status write failed: %s key=%s",
                                 err.message[0] ? err.message : strerror(-r), key);
                }
                pthread_cond_broadcast(&n->idle);
        }
        pthread_mutex_unlock(&n->lock);
        return NULL;
}

/* ---- handing over ----------------------------------------------------------------
 *
 * What a stop leaves queued (waiting its turn, waiting for a retry, or in
 * flight) is written to "<prefix>notify-data/pending/<ns>/<name>/<seq>"
 * (pending.c) under the fence of the term that ends; the next
 * notify_start, here or on the next leader, reads it back, deletes it under
 * its own fence and queues it again, ahead of new Events, with the same
 * delivery id and attempts. At-least-once across a clean stop or a
 * handoff (an attempt in flight at the stop may have arrived and is made
 * again); what a crash leaves in memory is lost. */

/* Counts k deliveries of the Notifier ns/name as dropped; st: its state, or
 * NULL when it has none to write. Locked when st. */
static void count_dropped(struct notify *n, const char *ns, const char *name,
                          struct notifier_state *st, size_t k)
{
        char label[130];

        if (k == 0)
                return;
        snprintf(label, sizeof(label), "%s/%s", ns, name);
        metrics_counter_add(&dropped_total, (const char *const[]){label}, (int64_t)k);
        atomic_fetch_add(&n->dropped, k);
        if (st) {
                st->dropped += k;
                touch(n, st);
        }
}

static struct delivery *delivery_copy(const struct delivery *d)
{
        struct delivery *c = malloc(sizeof(*c));

        if (!c)
                return NULL;
        *c = *d;
        c->body = malloc(d->len + 1);
        if (!c->body) {
                free(c);
                return NULL;
        }
        memcpy(c->body, d->body, d->len);
        c->body[d->len] = '\0';
        return c;
}

/* Adds d (taken) to the handover, or frees it and returns false when the
 * handover is full: NOTIFY_PENDING_MAX deliveries or
 * NOTIFY_PENDING_BYTES_MAX bytes of bodies. */
static bool handover_add(struct pending_delivery *p, size_t max, size_t *np, size_t *bytes,
                         const struct notifier_state *st, struct delivery *d, bool in_flight)
{
        if (!d || *np >= max || *bytes + d->len > NOTIFY_PENDING_BYTES_MAX) {
                delivery_free(d);
                return false;
        }
        p[*np] = (struct pending_delivery){.d = d, .in_flight = in_flight};
        (void)str_copy(p[*np].ns, sizeof(p[*np].ns), st->ns);
        (void)str_copy(p[*np].name, sizeof(p[*np].name), st->name);
        (void)str_copy(p[*np].uid, sizeof(p[*np].uid), st->uid);
        (*np)++;
        *bytes += d->len;
        return true;
}

/* notify_stop's take: every state's deliveries in queue order into *ret
 * (*ret_n of them; caller frees each and the array), within the bounds of
 * handover_add (the rest dropped and counted); then the states end as at a
 * new term. A head in flight stays in its queue for its thread, which frees
 * it as a gone Notifier's (a copy is handed over, marked so). Locked. */
static void handover_take(struct notify *n, struct pending_delivery **ret, size_t *ret_n)
{
        size_t total = 0, max, np = 0, bytes = 0;
        struct pending_delivery *p;

        for (struct notifier_state *st = n->states; st; st = st->next)
                total += st->gone ? 0 : st->queue.n;
        total = total < NOTIFY_PENDING_MAX ? total : NOTIFY_PENDING_MAX;
        p = total ? calloc(total, sizeof(*p)) : NULL;
        max = p ? total : 0; /* out of memory: everything is dropped, counted */
        for (struct notifier_state *st = n->states, *next; st; st = next) {
                struct delivery *head = st->busy ? delivery_queue_pop(&st->queue) : NULL;
                struct delivery *d;
                size_t lost = 0, taken = 0;

                next = st->next;
                if (!st->gone && head &&
                    !handover_add(p, max, &np, &bytes, st, delivery_copy(head), true))
                        lost++;
                while ((d = delivery_queue_pop(&st->queue))) {
                        taken++;
                        if (st->gone) /* nothing is queued for a gone one; to be sure */
                                delivery_free(d);
                        else if (!handover_add(p, max, &np, &bytes, st, d, false))
                                lost++;
                }
                if (head)
                        (void)delivery_queue_push(&st->queue, head);
                atomic_fetch_sub(&n->queued, taken);
                count_dropped(n, st->ns, st->name, NULL, lost);
                st->written = st->version;
                st->gone = true;
                state_reap(n, st);
        }
        *ret = p;
        *ret_n = np;
}

/* notify_stop's write of what handover_take took (p[0..np), freed by the
 * caller), under fence, off the lock: what is not written is dropped and
 * counted, in one log line. */
static void handover_save(struct notify *n, const struct pending_delivery *p, size_t np,
                          const struct store_guard *fence)
{
        struct berth_error err = {0};
        size_t saved = 0, in_flight = 0;
        int r = pending_save(n->store, n->prefix, p, np, wall_now(n), fence, &saved, &err);

        for (size_t i = 0; i < saved; i++)
                in_flight += p[i].in_flight;
        atomic_fetch_add(&n->handed_over, saved);
        metrics_counter_add(&handovers_total, (const char *const[]){"saved"}, (int64_t)saved);
        if (saved > 0)
                log_info("notifications handed over count=%zu in_flight=%zu", saved, in_flight);
        if (r == 0)
                return;
        for (size_t i = saved; i < np; i++)
                count_dropped(n, p[i].ns, p[i].name, NULL, 1);
        /* -EPERM: the fence moved, the new leader has it (its message says
         * so); what this term had queued is the documented loss. */
        log_warn("notifications dropped, not handed over: %s count=%zu",
                 err.message[0] ? err.message : strerror(-r), np - saved);
}

/* notify_start's read of what stops handed over, on the caller's thread:
 * deleted from the store under the new fence before it is queued, so that
 * it is queued once. 0: queue l's items (a delete that failed otherwise is
 * logged: they may be queued again by a later start); <0: queue nothing (l
 * empty): the store could not be read, or the fence moved and they are
 * left to the leader that has it. */
static int handover_read(struct notify *n, const struct store_guard *fence, struct pending_load *l)
{
        struct berth_error err = {0};
        int r = pending_load_read(n->store, n->prefix, NOTIFY_PENDING_MAX, NOTIFY_PENDING_KEEP_MS,
                                  wall_now(n), l, &err);

        if (r < 0) {
                log_warn("notifications handed over not loaded: %s", err.message);
                return r;
        }
        if (l->n_bad > 0)
                log_warn("notification handed over: %s, deleting it (and %zu more) key=%s",
                         l->bad_why, l->n_bad - 1, l->bad_key);
        err = (struct berth_error){0};
        r = pending_load_delete(n->store, l, fence, &err);
        if (r == -EPERM) {
                log_info("notifications handed over left to the leader: %s count=%zu", err.message,
                         l->n);
                pending_load_release(l);
                return r;
        }
        if (r < 0)
                log_warn("notifications handed over not deleted, they may be sent again: %s "
                         "count=%zu",
                         err.message[0] ? err.message : strerror(-r), l->n);
        return 0;
}

/* The Notifier each of l's items is for, as cached now (NULL: gone, or
 * another of that name), looked up before the lock: a new array of new
 * references (handover_notifiers_free), NULL on OOM. */
static json_t **handover_notifiers(struct notify *n, const struct pending_load *l)
{
        json_t **objs = l->n ? calloc(l->n, sizeof(*objs)) : NULL;
        _cleanup_json_ json_t *obj = NULL;

        for (size_t i = 0; objs && i < l->n; i++) {
                const struct pending_delivery *p = &l->items[i].p;

                if (i == 0 || !streq(p->ns, l->items[i - 1].p.ns) ||
                    !streq(p->name, l->items[i - 1].p.name)) {
                        _cleanup_free_ char *key =
                            object_key(n->prefix, "notifiers", p->ns, p->name);

                        json_decref(obj);
                        obj = key ? object_cache_get(n->objects, key, NULL) : NULL;
                }
                if (obj && streq(json_path_string(obj, "metadata.uid"), p->uid) &&
                    !json_path(obj, "metadata.deletionTimestamp"))
                        objs[i] = json_incref(obj);
        }
        return objs;
}

static void handover_notifiers_free(json_t **objs, size_t n)
{
        for (size_t i = 0; objs && i < n; i++)
                json_decref(objs[i]);
        free(objs);
}

/* Queues l's items (their d taken) at their Notifiers' queues, which a new
 * term has just emptied: in key order, so each queue's order and ahead of
 * any Event. Expired ones, those beyond the bound or a full queue are
 * dropped and counted; a gone Notifier's are dropped uncounted, as when
 * it goes while they wait. Locked. */
static void handover_queue(struct notify *n, struct pending_load *l, json_t **objs)
{
        size_t restored = 0, in_flight = 0, gone = 0;
        char gone_name[130] = "";

        for (size_t i = 0; i < l->n; i++) {
                struct pending_stored *it = &l->items[i];
                _cleanup_free_ char *key = object_key(n->prefix, "notifiers", it->p.ns, it->p.name);
                struct notifier_state *st =
                    objs && objs[i] && key ? state_get(n, key, objs[i]) : NULL;

                if (objs && !objs[i]) {
                        if (gone++ == 0)
                                snprintf(gone_name, sizeof(gone_name), "%s/%s", it->p.ns,
                                         it->p.name);
                        continue;
                }
                if (it->fate != PENDING_QUEUE || !st ||
                    delivery_queue_push(&st->queue, it->p.d) < 0) {
                        count_dropped(n, it->p.ns, it->p.name, st, 1);
                        continue;
                }
                it->p.d = NULL;
                atomic_fetch_add(&n->queued, 1);
                restored++;
                in_flight += it->p.in_flight;
        }
        atomic_fetch_add(&n->taken_over, restored);
        metrics_counter_add(&handovers_total, (const char *const[]){"restored"}, (int64_t)restored);
        if (restored)
                pthread_cond_broadcast(&n->work);
        if (l->n > 0)
                log_info("notifications handed over queued count=%zu in_flight=%zu expired=%zu "
                         "over=%zu",
                         restored, in_flight, l->expired, l->over);
        if (gone > 0)
                log_info("notifications handed over dropped, their notifier is gone count=%zu "
                         "notifier=%s",
                         gone, gone_name);
}

/* ---- lifecycle ----------------------------------------------------------------------- */

/* The lock and the four conditions, all or none. */
static int sync_init(struct notify *n)
{
        int r;

        if ((r = cond_init_monotonic(&n->work)) < 0)
                return r;
        if ((r = cond_init_monotonic(&n->status)) < 0) {
                pthread_cond_destroy(&n->work);
                return r;
        }
        if ((r = cond_init_monotonic(&n->idle)) < 0) {
                pthread_cond_destroy(&n->work);
                pthread_cond_destroy(&n->status);
                return r;
        }
        if ((r = cond_init_monotonic(&n->outcome_work)) < 0) {
                pthread_cond_destroy(&n->work);
                pthread_cond_destroy(&n->status);
                pthread_cond_destroy(&n->idle);
                return r;
        }
        pthread_mutex_init(&n->lock, NULL);
        n->sync_ready = true;
        return 0;
}

int notify_new(const struct notify_config *cfg, struct notify **ret, struct berth_error *err)
{
        struct notify *n;
        int r;

        if (!cfg || !cfg->objects || !cfg->store || !cfg->prefix ||
            (cfg->n_plugins && !cfg->plugins) || cfg->workers < 0 ||
            cfg->workers > NOTIFY_WORKERS_MAX)
                return berth_error_set(err, -EINVAL, "notify: invalid configuration");
        n = calloc(1, sizeof(*n));
        if (!n)
                return berth_error_set(err, -ENOMEM, "notify: out of memory");
        n->objects = cfg->objects;
        n->store = cfg->store;
        n->secrets = cfg->secrets;
        n->admission = cfg->admission;
        n->queue_max = cfg->queue_max ? cfg->queue_max : NOTIFY_QUEUE_DEFAULT;
        n->retry_base_ms = cfg->retry_base_ms > 0 ? cfg->retry_base_ms : NOTIFY_RETRY_BASE_MS;
        n->retry_max_ms = cfg->retry_max_ms > 0 ? cfg->retry_max_ms : NOTIFY_RETRY_MAX_MS;
        n->status_interval_ms =
            cfg->status_interval_ms > 0 ? cfg->status_interval_ms : NOTIFY_STATUS_INTERVAL_MS;
        n->now_ms = cfg->now_ms;
        n->n_workers = cfg->workers ? cfg->workers : NOTIFY_WORKERS_DEFAULT;
        n->prefix = strdup(cfg->prefix);
        n->types = calloc(ARRAY_SIZE(builtins) + cfg->n_plugins, sizeof(*n->types));
        n->workers = calloc((size_t)n->n_workers, sizeof(*n->workers));
        n->writes = calloc(NOTIFY_OUTCOME_WRITES_MAX, sizeof(*n->writes));
        n->outcomes_max = cfg->outcomes_max ? cfg->outcomes_max : NOTIFY_OUTCOMES_MAX;
        if (!n->prefix || !n->types || !n->workers || !n->writes) {
                notify_free(n);
                return berth_error_set(err, -ENOMEM, "notify: out of memory");
        }
        for (size_t i = 0; i < ARRAY_SIZE(builtins); i++)
                n->types[n->n_types++] = builtins[i];
        for (size_t i = 0; i < cfg->n_plugins; i++) {
                const struct notify_type *p = &cfg->plugins[i];
                if (!p->name || !p->deliver || !name_is_valid(p->name) || type_lookup(n, p->name)) {
                        r = p->name && type_lookup(n, p->name) ? -EEXIST : -EINVAL;
                        berth_error_set(err, r, "notify: invalid plugin type \"%s\"",
                                        p->name ? p->name : "");
                        notify_free(n);
                        return r;
                }
                n->types[n->n_types++] = *p;
        }
        r = outcome_map_new(n->outcomes_max, NOTIFY_OUTCOME_KEEP_MS, outcome_evicted, n,
                            &n->outcomes);
        if (r < 0) {
                notify_free(n);
                return berth_error_set(err, r, "notify: out of memory");
        }
        r = sync_init(n);
        if (r < 0) {
                notify_free(n);
                return berth_error_set(err, r, "notify: cannot make a condition variable");
        }
        (void)metrics_family_register(&dropped_total);
        (void)metrics_family_register(&outcomes_dropped_total);
        (void)metrics_family_register(&outcome_writes_total);
        (void)metrics_family_register(&handovers_total);
        for (; n->n_started < n->n_workers; n->n_started++) {
                r = pthread_create(&n->workers[n->n_started], NULL, worker_main, n);
                if (r != 0) {
                        notify_free(n);
                        return berth_error_set(err, -r, "notify: cannot start a thread: %s",
                                               strerror(r));
                }
        }
        r = pthread_create(&n->status_thread, NULL, status_main, n);
        if (r != 0) {
                notify_free(n);
                return berth_error_set(err, -r, "notify: cannot start a thread: %s", strerror(r));
        }
        n->status_started = true;
        r = pthread_create(&n->outcome_thread, NULL, outcome_main, n);
        if (r != 0) {
                notify_free(n);
                return berth_error_set(err, -r, "notify: cannot start a thread: %s", strerror(r));
        }
        n->outcome_started = true;
        *ret = n;
        return 0;
}

void notify_free(struct notify *n)
{
        if (!n)
                return;
        if (n->sync_ready) {
                pthread_mutex_lock(&n->lock);
                n->shutdown = true;
                n->running = false;
                atomic_store(&n->stopping, true);
                pthread_cond_broadcast(&n->work);
                pthread_cond_broadcast(&n->status);
                pthread_cond_broadcast(&n->outcome_work);
                pthread_mutex_unlock(&n->lock);
                for (int i = 0; i < n->n_started; i++)
                        pthread_join(n->workers[i], NULL);
                if (n->status_started)
                        pthread_join(n->status_thread, NULL);
                if (n->outcome_started)
                        pthread_join(n->outcome_thread, NULL);
                pthread_cond_destroy(&n->work);
                pthread_cond_destroy(&n->status);
                pthread_cond_destroy(&n->idle);
                pthread_cond_destroy(&n->outcome_work);
                pthread_mutex_destroy(&n->lock);
        }
        while (n->states) {
                struct notifier_state *st = n->states;
                n->states = st->next;
                state_free(st);
        }
        if (n->writes) {
                for (; n->n_writes > 0; n->n_writes--) {
                        free(n->writes[n->writes_head]);
                        n->writes_head = (n->writes_head + 1) % NOTIFY_OUTCOME_WRITES_MAX;
                }
                free(n->writes);
        }
        for (size_t i = 0; i < n->n_purge; i++)
                free(n->purge[i]);
        free(n->purge);
        outcome_map_free(n->outcomes);
        free(n->fence_key);
        free(n->types);
        free(n->workers);
        free(n->prefix);
        free(n);
}

void notify_start(struct notify *n, const struct store_guard *fence)
{
        _cleanup_free_ char *key = NULL;
        struct outcome_load l = {0};
        struct pending_load pl = {0};
        json_t **objs = NULL;

        if (!n)
                return;
        key = fence ? strdup(fence->key) : NULL;
        outcomes_load(n, &l);
        if (handover_read(n, fence, &pl) == 0)
                objs = handover_notifiers(n, &pl);
        LOCK_SCOPE(&n->lock);
        n->term++;
        free(n->fence_key);
        n->fence_key = TAKE_PTR(key);
        n->fenced = fence && n->fence_key;
        n->fence = n->fenced ? (struct store_guard){.key = n->fence_key,
                                                    .mod_revision = fence->mod_revision}
                             : (struct store_guard){0};
        n->fenced_off = false;
        n->running = true;
        atomic_store(&n->stopping, false);
        /* What the store remembers (another leader's, or this berthd's
         * before a restart) joins what this one does, the newer of two
         * winning; then the load's deletes, for the writer. */
        writes_drop(n);
        for (size_t i = 0; i < l.n; i++)
                (void)outcome_map_load(n->outcomes, l.items[i].kind, l.items[i].ns, l.items[i].name,
                                       &l.items[i].v);
        free(n->purge);
        n->purge = TAKE_PTR(l.purge);
        n->n_purge = l.n_purge;
        l.n_purge = 0;
        outcome_load_release(&l);
        /* A new term: counts are read again from the statuses, which
         * another leader may have moved on meanwhile. */
        for (struct notifier_state *st = n->states, *next; st; st = next) {
                next = st->next;
                st->written = st->version;
                atomic_fetch_sub(&n->queued, delivery_queue_drop(&st->queue, st->busy));
                st->gone = true;
                state_reap(n, st);
        }
        /* What the last stop handed over, first. */
        handover_queue(n, &pl, objs);
        handover_notifiers_free(objs, pl.n);
        pending_load_release(&pl);
        pthread_cond_broadcast(&n->status);
        pthread_cond_broadcast(&n->outcome_work);
}

void notify_stop(struct notify *n)
{
        struct pending_delivery *p = NULL;
        size_t np = 0;
        uint64_t dropped_before;
        char fence_key[STORE_KEY_MAX + 1] = "";
        struct store_guard fence = {0};
        bool fenced;

        if (!n)
                return;
        (void)notify_flush(n, NOTIFY_STOP_FLUSH_MS);
        {
                LOCK_SCOPE(&n->lock);
                n->running = false;
                dropped_before = atomic_load(&n->dropped);
                handover_take(n, &p, &np);
                if (atomic_load(&n->dropped) > dropped_before)
                        log_warn("notifications dropped: delivering stopped, more than a "
                                 "handover holds count=%" PRIu64,
                                 atomic_load(&n->dropped) - dropped_before);
                /* What is in flight was handed over: its thread gives up. */
                atomic_store(&n->stopping, true);
                fenced = n->fenced;
                if (fenced) {
                        (void)str_copy(fence_key, sizeof(fence_key), n->fence_key);
                        fence = (struct store_guard){.key = fence_key,
                                                     .mod_revision = n->fence.mod_revision};
                }
                if (n->n_writes > 0)
                        log_warn("notifier outcome writes dropped: delivering stopped count=%zu",
                                 n->n_writes);
                writes_drop(n);
        }
        if (np > 0)
                handover_save(n, p, np, fenced ? &fence : NULL);
        for (size_t i = 0; i < np; i++)
                pending_delivery_release(&p[i]);
        free(p);
}

int notify_flush(struct notify *n, int64_t timeout_ms)
{
        struct timespec deadline;

        if (!n)
                return 0;
        time_mono_deadline(&deadline, timeout_ms);
        LOCK_SCOPE(&n->lock);
        for (;;) {
                bool busy = false;

                for (struct notifier_state *st = n->states; st && !busy; st = st->next)
                        busy = st->busy || st->queue.n > 0 ||
                               (dirty(st) && !st->gone && n->running && !n->fenced_off);
                busy = busy || n->writing ||
                       ((n->n_writes > 0 || n->n_purge > 0) && n->running && !n->fenced_off);
                if (!busy)
                        return 0;
                if (pthread_cond_timedwait(&n->idle, &n->lock, &deadline) == ETIMEDOUT)
                        return -ETIMEDOUT;
        }
}

void notify_stats(const struct notify *n, uint64_t *sent, uint64_t *failed, uint64_t *dropped,
                  uint64_t *queued)
{
        if (sent)
                *sent = n ? atomic_load(&n->sent) : 0;
        if (failed)
                *failed = n ? atomic_load(&n->failed) : 0;
        if (dropped)
                *dropped = n ? atomic_load(&n->dropped) : 0;
        if (queued)
                *queued = n ? atomic_load(&n->queued) : 0;
}

void notify_handover_stats(const struct notify *n, uint64_t *saved, uint64_t *restored)
{
        if (saved)
                *saved = n ? atomic_load(&n->handed_over) : 0;
        if (restored)
                *restored = n ? atomic_load(&n->taken_over) : 0;
}

void notify_outcome_stats(struct notify *n, uint64_t *written, uint64_t *dropped,
                          size_t *remembered)
{
        if (written)
                *written = n ? atomic_load(&n->outcomes_written) : 0;
        if (dropped)
                *dropped = n ? atomic_load(&n->outcomes_dropped) : 0;
        if (remembered) {
                if (n) {
                        LOCK_SCOPE(&n->lock);
                        *remembered = outcome_map_size(n->outcomes);
                } else {
                        *remembered = 0;
                }
        }
}
