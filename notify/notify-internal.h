/* notify internals: the pure pieces (matching, the outcome memory, the
 * bounded queue, signatures, the retry schedule, payloads) that the unit
 * tests reach through berth_notify_internal, and the built-in types. */
#pragma once

#include "notify.h"

/* ---- matching (match.c) ----------------------------------------------------- */

#define NOTIFY_OUTCOMES_PER_EVENT 4

/* How a finished Task or Workflow ended, as the outcome memory keeps it. */
enum run_result { RUN_NONE, RUN_SUCCEEDED, RUN_FAILED };

/* What one recorded Event says, with what the object cache adds. Strings
 * borrowed. */
struct notify_facts {
        const char *kind;           /* involvedObject.kind */
        const char *reason;         /* the Event's */
        const char *failure_reason; /* reason Failed: why it failed, or NULL */
        bool recovered;             /* reason Completed after a failed run */
};

/* The outcomes the Event stands for, most specific first (the table in
 * notify.h), into ret; returns how many (at least 1 for a reason). */
size_t notify_outcomes(const struct notify_facts *f, const char *ret[NOTIFY_OUTCOMES_PER_EVENT]);
/* Whether every label of match_labels (NULL: none) is in labels with the
 * same value. */
bool notify_selector_matches(const json_t *match_labels, const json_t *labels);
/* The first of outcomes that spec->on names, when spec's selector matches
 * labels (the object's, NULL when unknown); else NULL. Borrowed from
 * outcomes. */
const char *notify_match(const struct notifier_spec *spec, const json_t *labels,
                         const char *const *outcomes, size_t n);
/* Why a Failed Event's object failed, into ret: the object's status.reason
 * when object (NULL: not cached) is the same run, else the first word of
 * the Event's message when it reads "<Reason>: ..." or is one word. ""
 * when neither says. */
void notify_failure_reason(const json_t *event, const json_t *object,
                           char ret[EVENT_REASON_MAX + 1]);
/* Whose outcome a finished object's is, for Recovered: a CronTask's run
 * (label berth.crontask, or a controlling ownerReference of kind CronTask)
 * counts under ("CronTask", its name), anything else under its own kind
 * and name. Borrowed from event or object. */
void notify_run_identity(const json_t *event, const json_t *object, const char **ret_kind,
                         const char **ret_name);

/* ---- the outcome memory (outcomes.c) ------------------------------------------ */

/* The last outcome of each (kind, namespace, name): a hash table and a list
 * in order of the outcome's time (at_ms), so the oldest is found first to
 * go. Each entry also remembers what of it is in the store (see
 * outcome_map_take_write). Not thread-safe: the caller locks. */
struct outcome_map;

/* What is remembered of one (kind, namespace, name), as stored:
 * {"uid":..,"result":"Failed","before":"Succeeded","at":"<RFC 3339, ms>"}
 * ("before" left out when RUN_NONE). */
struct outcome_value {
        char uid[64];           /* of the run; "" unknown */
        enum run_result result; /* RUN_SUCCEEDED or RUN_FAILED */
        enum run_result before; /* of the run before it */
        int64_t at_ms;          /* wall clock of the record */
};

/* Called for each entry the map forgets (age or bound) that is in the
 * store, so the caller deletes it there too. Strings borrowed for the call;
 * runs under the caller's lock. */
typedef void (*outcome_evict_fn)(const char *kind, const char *ns, const char *name,
                                 void *userdata);

/* max entries (>= 1); entries older than keep_ms are forgotten. evict NULL:
 * nobody is told. -EINVAL, -ENOMEM. Caller frees with outcome_map_free. */
int outcome_map_new(size_t max, int64_t keep_ms, outcome_evict_fn evict, void *userdata,
                    struct outcome_map **ret);
void outcome_map_free(struct outcome_map *m); /* NULL ok */
/* Records that run uid (NULL or "": unknown, each record a new run) of
 * (kind, ns, name) finished, failed or not, at now_ms, and returns the
 * outcome of the run before it: RUN_NONE when none is remembered (or it
 * was forgotten, or memory ran out). A second record of the same uid
 * returns what the first did. */
enum run_result outcome_map_record(struct outcome_map *m, const char *kind, const char *ns,
                                   const char *name, const char *uid, bool failed, int64_t now_ms);
size_t outcome_map_size(const struct outcome_map *m);
/* Whether the entry of (kind, ns, name) should be written to the store:
 * true when it was never stored, its result differs from the stored one,
 * or the stored one's time is refresh_ms or more older than the entry's
 * (so that a stored failure repeated for days does not age out of the
 * store while the memory still holds it). Then *ret is the value to write
 * and the entry counts as stored from now on (outcome_map_write_lost undoes
 * that when the write does not happen). False when there is no entry or
 * nothing meaningful would change. */
bool outcome_map_take_write(struct outcome_map *m, const char *kind, const char *ns,
                            const char *name, int64_t refresh_ms, struct outcome_value *ret);
/* The write of the value taken at at_ms did not happen (dropped or failed):
 * the entry, if it is still that one, counts as not stored, so that its
 * next record writes it. */
void outcome_map_write_lost(struct outcome_map *m, const char *kind, const char *ns,
                            const char *name, int64_t at_ms);
/* Puts a stored outcome into the map (it counts as stored), unless the map
 * has a newer one of that name (1: kept the map's) or v is older than every
 * entry of a full map (1: not loaded). 0 when loaded, -EINVAL for a bad
 * value, -ENOMEM. Entries are ordered by at_ms, so loading oldest first is
 * cheapest. The map's own bounds hold: loading into a full map forgets its
 * oldest entry (evict is told). */
int outcome_map_load(struct outcome_map *m, const char *kind, const char *ns, const char *name,
                     const struct outcome_value *v);

/* ---- the outcomes in the store (outcomes.c) ------------------------------------- */

/* Where the outcome memory lives in the store, under berthd's prefix:
 * "<prefix>notify-data/outcomes/<kind>/<namespace>/<name>". The first
 * segment ends in "-data" so that it is no object (object_key_is_data):
 * the object cache, and with it the API, never holds or lists these keys;
 * no kind's resource is "notify". */
#define NOTIFY_OUTCOME_SEGMENT "notify-data/outcomes/"
/* A stored outcome is written again after this long even when its result
 * has not changed (see outcome_map_take_write): with NOTIFY_OUTCOME_KEEP_MS
 * of 7 days, what berthd loads after a restart is at least 6 days of it. */
#define NOTIFY_OUTCOME_REFRESH_MS (24LL * 60 * 60 * 1000)
/* Writes and deletes waiting for the outcome writer thread; more are
 * dropped and counted. */
#define NOTIFY_OUTCOME_WRITES_MAX 1024
#define NOTIFY_OUTCOME_VALUE_MAX  1024 /* bytes of one stored value */

/* "<prefix>notify-data/outcomes/<kind>/<ns>/<name>". Caller frees; NULL on
 * OOM. */
char *outcome_key(const char *prefix, const char *kind, const char *ns, const char *name);
/* Its three parts back: -EINVAL when key is not such a key (wrong prefix,
 * not three non-empty parts, a part too long). */
int outcome_key_parse(const char *prefix, const char *key, char ret_kind[64], char ret_ns[64],
                      char ret_name[64]);
/* The stored JSON of v. Caller frees; NULL on OOM or a bad v. */
char *outcome_value_encode(const struct outcome_value *v);
/* A stored value back: 0, or -EINVAL with why ("result is not Failed or
 * Succeeded", ...) for anything that does not decode — never trusts the
 * stored bytes. */
int outcome_value_decode(const char *data, size_t len, struct outcome_value *ret, char why[128]);

/* One stored outcome that outcome_load_read found worth loading. */
struct outcome_stored {
        char kind[64], ns[64], name[64];
        struct outcome_value v;
};

/* What is in the store, sorted out. */
struct outcome_load {
        struct outcome_stored *items; /* to load, oldest first */
        size_t n;
        char **purge; /* keys to delete: expired, undecodable, beyond the bound */
        size_t n_purge;
        size_t expired, bad, trimmed;    /* how many of purge were which */
        char bad_key[STORE_KEY_MAX + 1]; /* the first undecodable one, and why */
        char bad_why[128];
};

/* Lists the outcomes under prefix and sorts them out: those older than
 * keep_ms at now_ms, and those that do not decode, go to purge; of the
 * others, the max newest go to items (oldest first), the rest to purge.
 * -errno of store_list (err says), -ENOMEM; ret untouched on failure.
 * Caller releases *ret with outcome_load_release. */
int outcome_load_read(struct store *s, const char *prefix, size_t max, int64_t keep_ms,
                      int64_t now_ms, struct outcome_load *ret, struct berth_error *err);
void outcome_load_release(struct outcome_load *l);

/* ---- the queue (queue.c) -------------------------------------------------------- */

/* One notification on its way. */
struct delivery {
        char id[RANDOM_UID_LEN];
        char outcome[EVENT_REASON_MAX + 1];
        char object_kind[64]; /* the involved object, for the status */
        char object_name[64];
        char *body; /* owned: the JSON payload */
        size_t len;
        int attempts;          /* made so far */
        int64_t not_before_ms; /* monotonic: a retry waits until then (0: now) */
        int64_t queued_ms;     /* wall clock: when its Event was taken (a handover keeps it) */
};

/* NULL ok. */
void delivery_free(struct delivery *d);

/* A bounded FIFO of deliveries (a ring); owns what it holds. */
struct delivery_queue {
        struct delivery **items;
        size_t head, n, max;
};

/* max >= 1; -EINVAL, -ENOMEM. */
int delivery_queue_init(struct delivery_queue *q, size_t max);
/* Frees what it holds. */
void delivery_queue_release(struct delivery_queue *q);
/* Takes d at the tail: 0, or -ENOBUFS when full (d stays the caller's). */
int delivery_queue_push(struct delivery_queue *q, struct delivery *d);
/* The head (borrowed), or NULL when empty. */
struct delivery *delivery_queue_head(const struct delivery_queue *q);
/* Removes and returns the head (now the caller's), or NULL. */
struct delivery *delivery_queue_pop(struct delivery_queue *q);
/* Frees every delivery but the head (when keep_head), returns how many. */
size_t delivery_queue_drop(struct delivery_queue *q, bool keep_head);

/* ---- deliveries handed over (pending.c) ----------------------------------------- */

/* Where notify_stop leaves the deliveries it did not make, for whoever
 * leads next (another replica, or this berthd restarted):
 * "<prefix>notify-data/pending/<ns>/<name>/<seq>", the Notifier's namespace
 * and name, seq "<stop>-<place>": the stop's wall clock in ms (15 digits)
 * and the delivery's place in what that stop wrote (6 digits), so that key
 * order is the order of the stops and, in one, of each Notifier's queue.
 * Not an object (object_key_is_data, as the outcomes). */
#define NOTIFY_PENDING_SEGMENT "notify-data/pending/"
#define PENDING_STOP_MS_MAX    999999999999999LL
#define PENDING_PLACE_MAX      999999
/* Bytes of one stored value: a body of NOTIFY_PAYLOAD_MAX as a JSON string
 * (a quote or backslash escaped: twice its size at most) and the rest. */
#define NOTIFY_PENDING_VALUE_MAX (2 * NOTIFY_PAYLOAD_MAX + 4096)

/* One delivery handed over. */
struct pending_delivery {
        char ns[64], name[64]; /* the Notifier's (in the key) */
        char uid[64];          /* the Notifier's: another of that name does not take it */
        struct delivery *d;    /* owned: id, outcome, object, body, attempts, queued_ms */
        bool in_flight;        /* an attempt was under way at the stop (it may have arrived) */
};

/* Frees p->d (NULL ok). */
void pending_delivery_release(struct pending_delivery *p);
/* The key of the delivery at place of the stop at stop_ms. Caller frees;
 * NULL on OOM or when stop_ms or place is out of range. */
char *pending_key(const char *prefix, const char *ns, const char *name, int64_t stop_ms,
                  size_t place);
/* The Notifier's namespace and name back: -EINVAL when key is not such a
 * key (wrong prefix, parts empty or too long, a seq not of that form). */
int pending_key_parse(const char *prefix, const char *key, char ret_ns[64], char ret_name[64]);
/* The stored JSON of p (not its namespace and name, which are in the key):
 * {"id","notifierUid","outcome","object":{"kind","name"},"attempts",
 * "queued":"<RFC 3339, ms>","inFlight","body":"<the payload, as sent>"}.
 * Caller frees; NULL on OOM or a p that could not be decoded again. */
char *pending_value_encode(const struct pending_delivery *p);
/* A stored value back into ret's uid, d (new) and in_flight: 0, or -EINVAL
 * with why for anything that does not decode (a body that is not a JSON
 * object of at most NOTIFY_PAYLOAD_MAX bytes among them: it could never be
 * sent), -ENOMEM. ret untouched on failure; never trusts the bytes. */
int pending_value_decode(const char *data, size_t len, struct pending_delivery *ret, char why[128]);
/* Writes p[0..n) (in queue order) as the stop at stop_ms, in store
 * transactions under fence (NULL: none): 0, or -errno of the first that
 * failed (-EPERM: the fence moved, the new leader has it; -EINVAL for a p
 * that does not encode) with err. *ret_saved: how many were written before
 * (those are in the store). */
int pending_save(struct store *s, const char *prefix, const struct pending_delivery *p, size_t n,
                 int64_t stop_ms, const struct store_guard *fence, size_t *ret_saved,
                 struct berth_error *err);

/* What notify_start does with a stored delivery. */
enum pending_fate {
        PENDING_QUEUE,   /* queue it again */
        PENDING_EXPIRED, /* queued longer than keep_ms ago: dropped, counted */
        PENDING_OVER,    /* beyond the bound of one load: dropped, counted */
};

struct pending_stored {
        char key[STORE_KEY_MAX + 1];
        struct pending_delivery p;
        enum pending_fate fate;
};

/* What is in the store, sorted out. */
struct pending_load {
        struct pending_stored *items; /* decoded, in key order */
        size_t n;
        char **bad; /* keys that do not decode */
        size_t n_bad;
        size_t expired, over;            /* how many items are which */
        char bad_key[STORE_KEY_MAX + 1]; /* the first undecodable one, and why */
        char bad_why[128];
};

/* Lists the handed-over deliveries under prefix and sorts them out: those
 * that do not decode go to bad; of the others (in key order), those queued
 * more than keep_ms before now_ms are PENDING_EXPIRED, the first max of the
 * rest PENDING_QUEUE, the others PENDING_OVER. -errno of store_list (err
 * says), -ENOMEM; ret untouched on failure. Caller releases *ret with
 * pending_load_release. */
int pending_load_read(struct store *s, const char *prefix, size_t max, int64_t keep_ms,
                      int64_t now_ms, struct pending_load *ret, struct berth_error *err);
void pending_load_release(struct pending_load *l);
/* Deletes every key of l (items and bad) in store transactions under fence
 * (NULL: none); a key already gone is no error. 0, or -errno of the first
 * that failed (-EPERM: the fence moved) with err. */
int pending_load_delete(struct store *s, const struct pending_load *l,
                        const struct store_guard *fence, struct berth_error *err);

/* ---- signatures and retries (sign.c) ------------------------------------------- */

#define NOTIFY_SIGNATURE_LEN (sizeof("sha256=") - 1 + 64 + 1)

/* "sha256=" and the lowercase hex HMAC-SHA256 of body under key: the
 * X-Berth-Signature header. -EIO when the library fails. */
int notify_signature(const void *key, size_t key_len, const void *body, size_t len,
                     char ret[NOTIFY_SIGNATURE_LEN]);
/* The wait after the failed_attempts-th failed attempt (>= 1): base,
 * 2 base, 4 base, ..., never more than max. */
int64_t notify_retry_delay_ms(int failed_attempts, int64_t base_ms, int64_t max_ms);
/* An HTTP reply worth another attempt: 5xx and 429. */
bool notify_http_retryable(long status);

/* ---- payloads (payload.c) ---------------------------------------------------------- */

/* The body of a delivery (docs/notifications.md): apiVersion, kind
 * Notification, id, outcome, notifier {namespace, name}, the Event as
 * recorded, and the object {kind, namespace, name, uid, labels, status: a
 * summary} (object NULL: what the Event says of it). New reference. */
json_t *notify_payload(const json_t *event, const json_t *object, const char *outcome,
                       const char *notifier_ns, const char *notifier_name, const char *id);
/* One line for a chat message, a mail subject or a log: "<outcome>: <Kind>
 * <ns>/<name>: <the Event's message>", control characters as spaces, at
 * most 1024 bytes. Caller frees; NULL on OOM. */
char *notify_summary(const json_t *payload);

/* ---- the built-in types (webhook.c, smtp.c, exec.c) --------------------------------- */

int notify_webhook_deliver(const struct notify_delivery *d, struct notify_result *ret,
                           void *userdata);
int notify_slack_deliver(const struct notify_delivery *d, struct notify_result *ret,
                         void *userdata);
int notify_smtp_deliver(const struct notify_delivery *d, struct notify_result *ret, void *userdata);
int notify_exec_deliver(const struct notify_delivery *d, struct notify_result *ret, void *userdata);
/* The mail notify_smtp_deliver sends (headers, blank line, text; CRLF line
 * ends), for tests. now_ms stamps its Date. Caller frees. */
char *notify_smtp_message(const struct notify_delivery *d, int64_t now_ms);
