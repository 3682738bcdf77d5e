/* events: Kubernetes-style Events — what happened to an object, told by the
 * controller that acted on it (docs/reference/event.md for users,
 * docs/monitoring.md for operators).
 *
 * Recording never blocks a reconcile: events_record() formats the message
 * and pushes it onto a bounded queue (queue_max, default
 * EVENTS_QUEUE_DEFAULT); when the queue is full the event is dropped and
 * counted (events_stats). A thread of the recorder's own drains the queue
 * into the store, one Event object per key
 * "<prefix>events/<namespace>/<name>", up to EVENTS_WRITE_BATCH queued
 * records in one store transaction (store_txn; a batch that fails, a lost
 * compare say, is written again one record at a time):
 *
 * - Aggregation. A repeat — same involved object (uid), type, reason and
 *   message — less than EVENTS_AGGREGATE_MS after the previous one's
 *   lastTimestamp updates that Event (count + 1, lastTimestamp) instead of
 *   making another; a repeat after that starts it afresh (count 1, a new
 *   firstTimestamp and uid: the same name, see events_name). Since the name
 *   follows from those four fields, a repeat finds its Event without a
 *   list — also after a restart and on another replica. A direct-mapped
 *   index of the EVENTS_INDEX_SLOTS most recent Events (name, revision,
 *   count, times) spares the read before most updates; a miss or a stale
 *   entry costs one failed compare-and-swap and a read, never a wrong count.
 * - TTL. Every Event is attached to a store lease (store.h): one lease per
 *   batch, granted for ttl + window and shared by every write of the next
 *   window (EVENTS_LEASE_WINDOW_MAX_MS at most, a tenth of the TTL, at least
 *   1 s). So an Event expires between ttl and ttl + window after its
 *   lastTimestamp, deleted by the store itself (etcd, or SQLite's reaper)
 *   with no request of ours, and the number of live leases stays about
 *   ttl / window. A lease that cannot be had leaves the Event without one:
 *   the sweep, once every clamp(ttl, 1 min, 10 min) while writing, deletes
 *   Events whose lastTimestamp is more than ttl old — those and any written
 *   through the API. It lists every Event: the one poll here, never faster
 *   than EVENTS_SWEEP_MIN_MS.
 * - Leadership. Only the replica that runs the controllers records Events
 *   (followers do not reconcile). Writing happens between events_start()
 *   and events_stop(), which the controller calls as its workers start and
 *   stop; every write and delete carries the fence given to events_start(),
 *   so a replica that lost the leadership writes nothing (its queue is then
 *   dropped and counted). Records made while not writing are dropped and
 *   counted too.
 *
 * Thread safety: events_record, events_stats and events_flush may be called
 * from any thread at any time; the rest from the one thread that drives the
 * controller (main, the elector's callbacks). Subscribers and the store are
 * called on the recorder's thread, never with its lock held.
 */
#pragma once

#include "common.h"
#include "manifests.h"
#include "store.h"

#define EVENTS_QUEUE_DEFAULT       4096
#define EVENTS_AGGREGATE_MS        (10 * 60 * 1000) /* a repeat within this long counts up */
#define EVENTS_TTL_DEFAULT_MS      (60 * 60 * 1000) /* berthd --event-ttl */
#define EVENTS_INDEX_SLOTS         1024             /* recent Events remembered */
#define EVENTS_LEASE_WINDOW_MAX_MS (60 * 1000)      /* writes sharing one lease */
#define EVENTS_SWEEP_MIN_MS        (60 * 1000)      /* the sweep's period: at least ... */
#define EVENTS_SWEEP_MAX_MS        (10 * 60 * 1000) /* ... and at most */
#define EVENTS_STOP_FLUSH_MS       2000             /* what events_stop waits for the queue */
#define EVENTS_SUBSCRIBERS_MAX     8
#define EVENTS_WRITE_BATCH         64       /* queued records written in one store transaction */
#define EVENTS_COMPONENT           "berthd" /* source.component */
/* An Event's name: the involved object's name (cut to this many
 * characters), '-', 16 hex digits: a DNS-1123 label of at most 63. */
#define EVENTS_NAME_PREFIX_MAX 46

/* The object an Event is about. Borrowed strings; ns NULL or "" for a
 * cluster-scoped object (its Events go to namespace "default", as
 * Kubernetes does); uid may be NULL. */
struct event_object {
        const char *kind; /* "Task" */
        const char *ns;
        const char *name;
        const char *uid;
};

struct events_config {
        struct store *store; /* borrowed; must outlive the recorder */
        const char *prefix;  /* "/berth/" (copied) */
        const char *host;    /* source.host: this replica's identity (copied) */
        int64_t ttl_ms;      /* 0: EVENTS_TTL_DEFAULT_MS; else at least 1000 */
        size_t queue_max;    /* 0: EVENTS_QUEUE_DEFAULT */
        /* The wall clock (ms) that stamps Events and ages them: time_now_ms
         * when NULL; tests pass a fake. Leases and the sweep's period run on
         * real time regardless. */
        int64_t (*now_ms)(void);
};

struct events_recorder;

/* Starts the recorder's thread (not yet writing: see events_start).
 * -EINVAL for a bad config, -ENOMEM, or pthread's error. Caller frees with
 * events_recorder_free(). */
int events_recorder_new(const struct events_config *cfg, struct events_recorder **ret,
                        struct berth_error *err);
/* Stops the thread; what is still queued is dropped (events_stop flushes
 * first). NULL ok. */
void events_recorder_free(struct events_recorder *rec);

/* Queues an Event about involved: type, a reason (event_reason_is_valid)
 * and a message (printf; cut to EVENT_MESSAGE_MAX bytes). Never blocks on
 * the store. 0 queued; -ENOBUFS the queue is full, -EAGAIN the recorder is
 * not writing (both dropped and counted); -EINVAL a bad reason or object
 * (not counted: a bug of the caller's); -ENOMEM. rec NULL: nothing, 0. */
int events_record(struct events_recorder *rec, const struct event_object *involved,
                  enum event_type type, const char *reason, const char *fmt, ...) _printf_(5, 6);
int events_vrecord(struct events_recorder *rec, const struct event_object *involved,
                   enum event_type type, const char *reason, const char *fmt, va_list ap)
    _printf_(5, 0);

/* From now on, write (and sweep) with fence (NULL: unfenced, a replica
 * without leader election; copied). rec NULL: nothing. */
void events_start(struct events_recorder *rec, const struct store_guard *fence);
/* Waits up to EVENTS_STOP_FLUSH_MS for the queue to be written, then stops
 * writing: the rest is dropped and counted. rec NULL: nothing. */
void events_stop(struct events_recorder *rec);
/* Waits until everything queued so far was written (or dropped): 0, or
 * -ETIMEDOUT after timeout_ms. */
int events_flush(struct events_recorder *rec, int64_t timeout_ms);

/* Counters since the recorder was made: Events written (a new one or an
 * update of one), records dropped (queue full, not writing, fenced off, a
 * store error), and records queued now. Any pointer may be NULL; for a
 * metrics endpoint (reads atomics, never blocks). */
void events_stats(const struct events_recorder *rec, uint64_t *written, uint64_t *dropped,
                  size_t *queued);

/* Called on the recorder's thread after each write of an Event, with the
 * Event as written (borrowed for the call; count and lastTimestamp say
 * whether it was a repeat). It should return quickly: the queue waits. */
typedef void (*events_fn)(const json_t *event, void *userdata);
/* Adds a subscriber: 0, or -ENOSPC past EVENTS_SUBSCRIBERS_MAX. */
int events_subscribe(struct events_recorder *rec, events_fn fn, void *userdata);

/* Deletes the Events whose lastTimestamp is more than the TTL old, now, on
 * the calling thread (what the sweep does), under the fence of
 * events_start. *ret_deleted (may be NULL) counts them. The store's error
 * in err. */
int events_sweep(struct events_recorder *rec, size_t *ret_deleted, struct berth_error *err);

/* The name of the Event of (involved, type, reason, message) into ret:
 * involved->name cut to EVENTS_NAME_PREFIX_MAX characters, '-', then the 16
 * hex digits of FNV-1a 64 over kind, namespace, name, uid, type, reason and
 * message (each followed by a NUL byte). */
void events_name(const struct event_object *involved, enum event_type type, const char *reason,
                 const char *message, char ret[64]);
