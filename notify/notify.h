/* notify: delivers Notifiers (docs/notifications.md for users,
 * docs/reference/notifier.md for the kind).
 *
 * Fed with every Event the recorder writes (notify_event, an events_fn:
 * berthd subscribes it with events_subscribe), it works out what the Event
 * means — the outcomes below — looks up the Event's object in the object
 * cache (its labels, its status) and the Notifiers of the Event's
 * namespace, and queues one delivery for each Notifier whose selector
 * matches the object and whose spec.on names one of those outcomes (the
 * most specific one labels the delivery):
 *
 *   Event reason     outcomes, most specific first
 *   Completed        Recovered (see below), Succeeded, Completed
 *   Failed           BackoffLimitExceeded or DeadlineExceeded (the failure's
 *                    reason; DeadlineExceeded only for kinds that record no
 *                    DeadlineExceeded Event of their own: a Workflow), Failed
 *   anything else    the reason itself (DeadlineExceeded, ScheduleMissed,
 *                    BackOff, Unhealthy, ...)
 *
 * Recovered: a Task or Workflow completed and the previous finished object
 * of the same kind and name in that namespace failed (one deleted and
 * applied again counts); for a run of a CronTask, the previous run of that
 * CronTask failed. The last outcome of each (kind, namespace, name) is
 * remembered for NOTIFY_OUTCOME_KEEP_MS, at most NOTIFY_OUTCOMES_MAX of
 * them (the oldest go first), in memory and, while a Notifier of that
 * namespace is on Recovered, in the store under
 * "<prefix>notify-data/outcomes/<kind>/<namespace>/<name>" (a key no kind
 * lists or watches; docs/internals/store.md), so that a restarted berthd
 * or a new leader still knows it: notify_start loads it before it takes
 * Events. The store is written off the recorder's path by one writer
 * thread under the fence, only when the stored result changes or is a day
 * old (NOTIFY_OUTCOME_REFRESH_MS), through a bounded queue (full: dropped
 * and counted, berth_notifier_outcome_writes_dropped_total). What a leader
 * recorded but had not written yet when it died is lost (then, as before,
 * no Recovered for that name's next success); an outcome recorded while no
 * Notifier of its namespace was on Recovered is in memory only.
 *
 * Deliveries never block the recorder or a reconcile: notify_event only
 * queues. Each Notifier has a bounded FIFO (queue_max); when it is full the
 * delivery is dropped and counted (status.dropped, and the metric
 * berth_notifications_dropped_total). A pool of delivery threads sends
 * them, at most one delivery of a Notifier at a time and in order; a
 * failure worth another try (a connection error or time-out, HTTP 5xx or
 * 429, an SMTP 4xx reply) is tried again after 1 s, 2 s, 4 s ...
 * (NOTIFY_RETRY_BASE_MS doubling, at most NOTIFY_RETRY_MAX_MS) up to the
 * type's maxAttempts, holding the Notifier's later deliveries back
 * meanwhile; other threads go on with other Notifiers.
 *
 * Each Notifier's status (delivered, failures, dropped, lastDelivery,
 * lastError) is written through the store at most once per
 * status_interval_ms, compare-and-swap on the cached revision and under the
 * fence given to notify_start: only the leader delivers and writes
 * (followers record no Events anyway). Counts continue from the stored
 * status.
 *
 * Handover: what notify_stop finds still queued after its flush wait —
 * waiting its turn, waiting for a retry, and the attempt in flight (a copy,
 * marked inFlight: it may yet arrive) — is written to the store under
 * "<prefix>notify-data/pending/<ns>/<name>/<seq>" (one value per delivery:
 * its id, outcome, object, body as sent, attempts made, first queued time;
 * docs/internals/store.md), in store transactions under the fence of the
 * term that ends, at most NOTIFY_PENDING_MAX deliveries and
 * NOTIFY_PENDING_BYTES_MAX bytes of bodies (the rest dropped and counted).
 * When that fence has moved (the new leader has it) nothing is written: the
 * deliveries are dropped, counted and logged in one line. notify_start, on
 * the next leader or this berthd restarted, reads them back before it takes
 * an Event, deletes them under its own fence (when that fails as not the
 * leader, it leaves them to the leader and queues none) and queues them
 * first, in order, with the same delivery id (X-Berth-Delivery) and
 * attempts: those queued more than NOTIFY_PENDING_KEEP_MS before, beyond
 * NOTIFY_PENDING_MAX or beyond the Notifier's queue are dropped and counted;
 * those of a Notifier that is gone (or another uid of its name) are dropped
 * with a log line; a value that does not decode is deleted with a log line.
 * So deliveries are at-least-once across a clean stop or a leader handoff
 * (a receiver de-duplicates by the id: the attempt in flight at the stop,
 * and one whose delete failed, are made again), and at-most-once across a
 * crash (kill -9, a lost host): what was queued in memory is lost, and so
 * is a delivery in flight whose reply berthd did not see.
 *
 * This module is part of berthd's top layer (nothing depends on it but
 * berthd's main): like the controller, it logs — each failed delivery, and
 * an exec program's output, cut to NOTIFY_OUTPUT_MAX bytes.
 *
 * Thread safety: notify_event may be called from any thread (the
 * recorder's); notify_start, notify_stop and notify_free from the one
 * thread that drives the controller.
 */
#pragma once

#include <stdatomic.h>

#include "common.h"
#include "manifests.h"
#include "store.h"
#include "watchers.h"

#define NOTIFY_QUEUE_DEFAULT      256 /* deliveries queued per Notifier */
#define NOTIFY_WORKERS_DEFAULT    4   /* delivery threads */
#define NOTIFY_WORKERS_MAX        64
#define NOTIFY_RETRY_BASE_MS      1000
#define NOTIFY_RETRY_MAX_MS       (30 * 1000)
#define NOTIFY_STATUS_INTERVAL_MS 1000 /* a Notifier's status is written at most this often */
#define NOTIFY_STOP_FLUSH_MS      2000 /* what notify_stop waits for queues and statuses */
#define NOTIFY_OUTCOMES_MAX       65536
#define NOTIFY_OUTCOME_KEEP_MS    (7LL * 24 * 60 * 60 * 1000)
#define NOTIFY_NOTIFIERS_MAX      4096        /* Notifiers with a queue or counts */
#define NOTIFY_PAYLOAD_MAX        (64 * 1024) /* bytes of one delivery's JSON body */
#define NOTIFY_PENDING_MAX                                                                         \
        4096 /* deliveries one notify_stop hands over, one notify_start takes                      \
              */
#define NOTIFY_PENDING_BYTES_MAX (16 * 1024 * 1024)  /* their bodies' bytes at one notify_stop */
#define NOTIFY_PENDING_KEEP_MS   (60LL * 60 * 1000)  /* older ones handed over are dropped */
#define NOTIFY_OUTPUT_MAX        4096                /* bytes of a reply or program output kept */
#define NOTIFY_ERROR_MAX         512                 /* bytes of status.lastError */
#define NOTIFY_SIGNATURE_HEADER  "X-Berth-Signature" /* "sha256=<hex HMAC-SHA256 of the body>" */
#define NOTIFY_DELIVERY_HEADER   "X-Berth-Delivery"  /* the delivery's id, the same on retries */
#define NOTIFY_EVENT_HEADER      "X-Berth-Event"     /* the outcome it is sent for */

/* ---- delivery types ------------------------------------------------------- */

/* One attempt of one delivery, as a type's deliver function gets it. All
 * borrowed for the call. */
struct notify_delivery {
        const char *notifier_ns;
        const char *notifier_name;
        const struct notifier_spec *spec; /* decoded from the Notifier as cached now */
        const char *id;                   /* unique per delivery, the same on its retries */
        const char *outcome;              /* "Failed", "Recovered", ... */
        const char *body;                 /* the payload: JSON (docs/notifications.md) */
        size_t body_len;
        const json_t *payload; /* body parsed */
        const char *summary;   /* one line: "Failed: Task default/etl: Error: exit code 1" */
        /* The value of spec->secret, or NULL when the spec names none. */
        const unsigned char *secret;
        size_t secret_len;
        const char *program;         /* exec: spec->command resolved inside --notifier-exec-dir */
        int attempt;                 /* 1-based */
        const atomic_bool *stopping; /* true: berthd is stopping, give up at once */
};

/* What an attempt came to. */
struct notify_result {
        int code;                     /* HTTP status, SMTP reply code, exit status; 0: none came */
        bool retry;                   /* a failure worth another attempt */
        char error[NOTIFY_ERROR_MAX]; /* why it failed ("" when it did not) */
};

/* Makes one attempt: 0 when it was delivered, a negative errno with
 * ret->error (and ret->retry) when not. Runs on a delivery thread; may
 * block up to spec->timeout_ms (and should notice *d->stopping). */
typedef int (*notify_deliver_fn)(const struct notify_delivery *d, struct notify_result *ret,
                                 void *userdata);

/* A delivery type: a built-in's, or a plugin's (notify_config.plugins) —
 * the hook for types berthd does not have. A plugin's name is a DNS-1123
 * label that is no built-in's; its Notifiers keep their settings in
 * spec.<name> (notifier_spec.config). berthd must also list the name in
 * admission_policy.notifier_plugins, or the API refuses such Notifiers. */
struct notify_type {
        const char *name;
        notify_deliver_fn deliver;
        void *userdata;
};

/* ---- the notifier --------------------------------------------------------- */

struct admission_policy; /* admission.h */
struct secrets_keyring;  /* secrets.h */

struct notify_config {
        struct object_cache *objects; /* Notifiers, involved objects, Secrets; borrowed */
        struct store *store;          /* status writes; borrowed */
        const char *prefix;           /* "/berth/" (copied) */
        /* Opens the Secrets that Notifiers reference; borrowed; NULL: a
         * Notifier that references one fails to deliver. */
        const struct secrets_keyring *secrets;
        /* The exec directories and plugin names (admission.h); borrowed;
         * NULL: exec Notifiers fail to deliver. */
        const struct admission_policy *admission;
        const struct notify_type *plugins; /* borrowed; n_plugins entries */
        size_t n_plugins;
        int workers;                /* 0: NOTIFY_WORKERS_DEFAULT */
        size_t queue_max;           /* 0: NOTIFY_QUEUE_DEFAULT */
        int64_t retry_base_ms;      /* 0: NOTIFY_RETRY_BASE_MS (tests shorten it) */
        int64_t retry_max_ms;       /* 0: NOTIFY_RETRY_MAX_MS */
        int64_t status_interval_ms; /* 0: NOTIFY_STATUS_INTERVAL_MS */
        /* The wall clock (ms) for status times and the outcomes' age: NULL
         * time_now_ms. Retries wait on the monotonic clock regardless. */
        int64_t (*now_ms)(void);
        size_t outcomes_max; /* 0: NOTIFY_OUTCOMES_MAX (tests lower it) */
};

struct notify;

/* Starts the delivery, status and outcome writer threads (not yet accepting Events: see
 * notify_start). -EINVAL for a bad config (-EEXIST for a plugin named like
 * a type already there), -ENOMEM, or pthread's error. Caller frees with
 * notify_free(). */
int notify_new(const struct notify_config *cfg, struct notify **ret, struct berth_error *err);
/* Stops the threads (a delivery in progress is abandoned); what is queued
 * is dropped. NULL ok. */
void notify_free(struct notify *n);

/* From now on, take Events and write statuses and outcomes under fence
 * (NULL: unfenced, a berthd without leader election; copied). First loads
 * the stored outcomes (one store_list of at most about NOTIFY_OUTCOMES_MAX
 * small values, on the caller's thread) into the outcome memory, and hands
 * the writer those to delete: older than NOTIFY_OUTCOME_KEEP_MS, beyond
 * NOTIFY_OUTCOMES_MAX (the oldest), or undecodable (logged once). A store
 * that cannot be read is logged and Recovered starts from memory alone.
 * Then takes back the deliveries a stop handed over (see Handover above:
 * one store_list and the deletes, on the caller's thread) and queues them
 * ahead of any Event. n NULL: nothing. */
void notify_start(struct notify *n, const struct store_guard *fence);
/* Takes no more Events, waits up to NOTIFY_STOP_FLUSH_MS for the queues to
 * drain and the statuses and outcomes to be written, then hands the
 * deliveries left over to the store (see Handover above: on the caller's
 * thread, under the fence of the term that ends), tells an attempt in
 * flight to give up, drops the outcome writes left (counted in metrics) and
 * writes nothing more. Stopping again does nothing more. n NULL: nothing. */
void notify_stop(struct notify *n);

/* The events_fn (events.h) berthd subscribes: userdata is the struct
 * notify. Queues the Event's deliveries and returns; ignores Events while
 * not started. */
void notify_event(const json_t *event, void *userdata);

/* Waits until nothing is queued or being delivered and every status and
 * outcome is written: 0, or -ETIMEDOUT after timeout_ms. For tests and
 * notify_stop. */
int notify_flush(struct notify *n, int64_t timeout_ms);

/* Counters since notify_new (reads atomics; any pointer may be NULL):
 * deliveries sent, failed for good, dropped (a full queue, not handed over
 * at notify_stop, or expired or over a bound when taken back at
 * notify_start), and queued now. */
void notify_stats(const struct notify *n, uint64_t *sent, uint64_t *failed, uint64_t *dropped,
                  uint64_t *queued);
/* The outcome memory since notify_new (any pointer may be NULL): outcome
 * writes and deletes done in the store, writes dropped (a full queue, a
 * failed write, or left at notify_stop), and outcomes remembered now. */
void notify_outcome_stats(struct notify *n, uint64_t *written, uint64_t *dropped,
                          size_t *remembered);
/* The handovers since notify_new (any pointer may be NULL): deliveries
 * written to the store at notify_stop, and queued again from it at
 * notify_start. */
void notify_handover_stats(const struct notify *n, uint64_t *saved, uint64_t *restored);
