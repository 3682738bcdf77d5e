/* store: a key-value store with etcd semantics, behind one interface.
 *
 * Every write gets the next value of one monotonically increasing revision.
 * Each key remembers create_revision (when it was created), mod_revision (its
 * last write) and version (writes since creation). Writes are compare-and-swap
 * on mod_revision; watches deliver every change from a revision on, in order.
 *
 * Backends (store_open URL "<scheme>:...", the registry at the end of this
 * header; store plugins add their own scheme, docs/plugins.md):
 *   sqlite:PATH               embedded, one machine (WAL, kine-style revision log);
 *                             missing parent directories are created (0700); the
 *                             file belongs to one opener at a time (else -EBUSY)
 *   etcd://host:port[,...]    etcd v3 JSON gateway (several endpoints: failover)
 *   etcds://host:port[,...]   the same over TLS; options ?cacert=&cert=&key=&user=
 *                             &password-file= (see etcd-internal.h)
 *
 * Thread safety: every function may be called from any thread concurrently.
 * Values are opaque bytes (berth stores JSON). Values larger than 8 KiB are
 * stored deflated when that makes them smaller, transparently: every read and
 * watch event gives back the bytes that were written (format and caps in
 * docs/internals/store.md, "Value format"). Keys are non-empty strings of at
 * most STORE_KEY_MAX bytes (else -EINVAL / -ENAMETOOLONG), compared bytewise.
 */
#pragma once

#include "common.h"

/* Size caps of a value: STORE_VALUE_MAX bytes as stored, that is after
 * compression (what a backend holds and etcd's request limit sees), and
 * STORE_VALUE_PLAIN_MAX bytes as written and read. A value that does not
 * compress (random bytes) is therefore capped at STORE_VALUE_MAX; berth's JSON
 * shrinks about 15 times. A stored value that inflates to more than
 * STORE_VALUE_PLAIN_MAX is corrupt (-EPROTO). */
#define STORE_VALUE_MAX       (1536 * 1024)
#define STORE_VALUE_PLAIN_MAX (64 * 1024 * 1024)
#define STORE_KEY_MAX         512

/* Returned by store_watch callbacks and store_list when the revision asked for
 * was compacted away: relist at the current revision and watch from there + 1. */
#define STORE_ERR_COMPACTED (-ERANGE)
/* CAS expectation values for store_put / store_delete. */
#define STORE_ANY_REVISION   (-1)
#define STORE_MUST_NOT_EXIST 0

struct store;

struct store_kv {
        char *key;   /* owned */
        char *value; /* owned, NUL-terminated for convenience (not counted in value_len) */
        size_t value_len;
        int64_t create_revision;
        int64_t mod_revision;
        int64_t version;
        int64_t lease; /* 0 = none */
};

struct store_kvs {
        struct store_kv *items;
        size_t n;
        int64_t revision; /* store revision the list was read at */
};

void store_kv_release(struct store_kv *kv);
void store_kvs_release(struct store_kvs *kvs);

/* Opens a backend by URL: the registered backend of the URL's scheme (the
 * text before the first ':'). -EPROTONOSUPPORT for a scheme nobody registered
 * (the message names it and the known ones); the backend's own errors else.
 * Caller frees with store_free(). */
int store_open(const char *url, struct store **ret, struct berth_error *err);
/* Stops watches (their callbacks are not called any more), frees the watch
 * handles still open (do not cancel them afterwards) and closes. NULL ok.
 * Not from a watch callback. */
void store_free(struct store *s);

/* -ENOENT if the key does not exist; -EPROTO when its stored value is corrupt
 * (a compressed value that does not inflate; the message names the key).
 * Caller frees *ret with store_kv_release(). */
int store_get(struct store *s, const char *key, struct store_kv *ret, struct berth_error *err);
/* All keys starting with prefix, in key order, as of 'revision' (0 = now).
 * STORE_ERR_COMPACTED if revision is older than the compaction point; -EINVAL
 * if it is in the future; -EPROTO when one of the values is corrupt (see
 * store_get). Caller frees *ret with store_kvs_release(). */
int store_list(struct store *s, const char *prefix, int64_t revision, struct store_kvs *ret,
               struct berth_error *err);
/* Most keys one store_list_page call returns. */
#define STORE_LIST_PAGE_MAX 10000
/* One page of store_list: the keys starting with prefix that sort after
 * 'after' (exclusive; NULL = from the first; else a key starting with
 * prefix), in key order, at most limit (1 .. STORE_LIST_PAGE_MAX) of them, as
 * of 'revision' (0 = now; ret->revision says which it was, so the next page
 * can read the same snapshot). *ret_more: whether keys after the last one
 * returned remain at that revision. A backend may return fewer than limit
 * keys with *ret_more set (etcd halves a page its request limit refuses), but
 * never none with it set. Errors as store_list; -EINVAL for a bad after or
 * limit. Caller frees *ret with store_kvs_release(). */
int store_list_page(struct store *s, const char *prefix, const char *after, int64_t revision,
                    size_t limit, struct store_kvs *ret, bool *ret_more, struct berth_error *err);
/* Writes key=value if the key's mod_revision equals expected_mod_revision
 * (STORE_MUST_NOT_EXIST: the key must not exist; STORE_ANY_REVISION: no check).
 * lease: 0 or a lease id from store_lease_grant (the key dies with the lease).
 * -ESTALE on a failed comparison; -E2BIG if value is larger than
 * STORE_VALUE_PLAIN_MAX, or than STORE_VALUE_MAX once compressed (checked here,
 * before the backend; etcd may still refuse a value under STORE_VALUE_MAX when
 * its --max-request-bytes is lower, also -E2BIG).
 * On success *ret_revision (may be NULL) is the revision of this write. */
int store_put(struct store *s, const char *key, const char *value, size_t value_len,
              int64_t expected_mod_revision, int64_t lease, int64_t *ret_revision,
              struct berth_error *err);
/* Deletes key if its mod_revision matches (STORE_ANY_REVISION: no check).
 * -ENOENT when the key does not exist, -ESTALE on a failed comparison. */
int store_delete(struct store *s, const char *key, int64_t expected_mod_revision,
                 int64_t *ret_revision, struct berth_error *err);
/* ---- fenced writes ------------------------------------------------------ */

/* A fence: a write that carries a guard happens only if the guard key's
 * mod_revision still equals guard->mod_revision, checked atomically with the
 * write itself (same transaction). A leader passes the key it holds the
 * leadership with and the revision of its own write to it: once the key is
 * deleted (lease expired) or rewritten (another leader), its writes fail. */
struct store_guard {
        const char *key;      /* borrowed */
        int64_t mod_revision; /* > 0 */
};

/* store_put / store_delete with a guard (NULL = none, the same as the plain
 * calls). A failed guard is -EPERM ("not the leader any more (fence <key>
 * changed)") and nothing is written; it takes precedence over -ESTALE and
 * -ENOENT of the key itself. -EINVAL for a guard without key or revision. */
int store_put_guarded(struct store *s, const char *key, const char *value, size_t value_len,
                      int64_t expected_mod_revision, int64_t lease, const struct store_guard *guard,
                      int64_t *ret_revision, struct berth_error *err);
int store_delete_guarded(struct store *s, const char *key, int64_t expected_mod_revision,
                         const struct store_guard *guard, int64_t *ret_revision,
                         struct berth_error *err);

/* ---- transactions (many keys at once) ---------------------------------- */

/* One op of a store_txn: a put or a delete of key with the CAS rule of
 * store_put / store_delete (expected_mod_revision: a revision,
 * STORE_MUST_NOT_EXIST for a put that creates, STORE_ANY_REVISION: no check;
 * a delete never takes STORE_MUST_NOT_EXIST), or a check: a compare of key
 * with expected_mod_revision (a revision or STORE_MUST_NOT_EXIST) that writes
 * nothing, so that a transaction holds only if keys it does not write are
 * still as the caller saw them. Strings are borrowed. */
enum store_op_type { STORE_OP_PUT, STORE_OP_DELETE, STORE_OP_CHECK };
struct store_op {
        enum store_op_type type;
        const char *key;
        const char *value; /* put only; value_len bytes (compressed as store_put does) */
        size_t value_len;
        int64_t expected_mod_revision;
        int64_t lease; /* put only: 0 or a lease id */
};

/* How many of ops[0..n) (at least 1 when n > 0) fit, in order, into one
 * store_txn of this backend: its limits on ops per transaction and on the
 * bytes of one request (SQLite: 4096 ops, 64 MiB; etcd: 128 ops less one for
 * a guard, and 1 MiB of keys and values before base64, under etcd's default
 * --max-txn-ops and --max-request-bytes). The size is counted before
 * compression, so what fits here fits as stored. */
size_t store_txn_fit(struct store *s, const struct store_op *ops, size_t n, bool guarded);

/* Writes ops[0..n) atomically: every compare holds and every op is written, or
 * nothing is. Keys must be distinct (-EINVAL). guard: NULL or a fence, as
 * store_put_guarded (-EPERM first when it failed). A failed compare is -ESTALE
 * (-ENOENT: a delete of a missing key) and *ret_failed (may be NULL) is the
 * index of the first op that failed; the message names its key. -E2BIG when
 * more than store_txn_fit() ops are given (a single op: the store_put rule).
 * On success ret_revisions[i] (the array may be NULL) is op i's revision (0
 * for a check): one revision for all of them on etcd (one txn), consecutive
 * revisions in op order on SQLite (one row each, one SQLite transaction); a
 * txn of checks only writes nothing and takes no revision. Watchers see the
 * ops in revision order, then key order inside one revision, and never half
 * of a revision in one callback call (see store_watch). */
int store_txn(struct store *s, const struct store_op *ops, size_t n,
              const struct store_guard *guard, int64_t *ret_revisions, size_t *ret_failed,
              struct berth_error *err);

/* store_get of n keys at once (distinct or not), in as few round trips as the
 * backend allows (etcd: one txn of reads per 128 keys; each key's value is
 * consistent, the keys are not read at one revision unless they fit in one
 * txn). ret[i] is key i's value, or all zero (key NULL) when it does not
 * exist. -EPROTO as store_get. On failure ret is all zero. Caller frees every
 * ret[i] with store_kv_release(). */
int store_get_many(struct store *s, const char *const *keys, size_t n, struct store_kv *ret,
                   struct berth_error *err);

/* Current revision (the last write's). */
int store_revision(struct store *s, int64_t *ret_revision, struct berth_error *err);
/* Forgets history before 'revision': lists and watches from older revisions then
 * fail with STORE_ERR_COMPACTED (lists at and watches from 'revision' itself still
 * work). A revision at or below the current compaction point is a no-op; one in
 * the future is -EINVAL. Nothing compacts on its own: the owner calls this. */
int store_compact(struct store *s, int64_t revision, struct berth_error *err);

/* ---- leases (TTL keys) ------------------------------------------------ */

/* A new lease (positive id) living ttl_seconds (1 .. 1e9) unless kept alive.
 * Expiry is detected within about a second. */
int store_lease_grant(struct store *s, int64_t ttl_seconds, int64_t *ret_id,
                      struct berth_error *err);
/* Renews the TTL. -ENOENT when the lease expired or was revoked. */
int store_lease_keepalive(struct store *s, int64_t id, struct berth_error *err);
/* Ends the lease now and deletes its keys (DELETE events). -ENOENT if unknown. */
int store_lease_revoke(struct store *s, int64_t id, struct berth_error *err);

/* ---- watch ------------------------------------------------------------ */

enum store_event_type { STORE_EVENT_PUT, STORE_EVENT_DELETE };

struct store_event {
        enum store_event_type type;
        struct store_kv kv; /* for DELETE: key, mod_revision = the delete's revision, no value */
        struct store_kv prev_kv; /* the value before this event; key NULL when there was none */
};

/* Receives events in revision order, batched (n >= 1); all events of one
 * revision (a store_txn on etcd) come in one call. Called on a thread
 * owned by the store, never concurrently for the same watch, with no store
 * lock held: it may call other store functions and may cancel *other* watches,
 * but must not call store_watch_cancel on its own watch nor store_free. It
 * should return quickly: the watches of one store share one thread.
 * error != 0 (STORE_ERR_COMPACTED or another -errno) ends the watch: events is
 * NULL, no further calls. -EPROTO: the value (or previous value) of the next
 * event is corrupt (see store_get); the events before it were delivered, so a
 * relist (which fails the same way until the key is rewritten or deleted)
 * misses nothing. The events and their strings are borrowed for the duration
 * of the call. */
typedef void (*store_watch_fn)(const struct store_event *events, size_t n, int error,
                               void *userdata);

struct store_watch;

/* Watches keys under prefix, delivering every event whose revision is
 * >= from_revision (0 = only future events). History is replayed first.
 * If from_revision is older than the compaction point the callback receives
 * STORE_ERR_COMPACTED once. Caller ends it with store_watch_cancel(). */
int store_watch(struct store *s, const char *prefix, int64_t from_revision, store_watch_fn fn,
                void *userdata, struct store_watch **ret, struct berth_error *err);
/* Stops the watch and frees it; when it returns the callback is not running and
 * will not be called again. NULL ok. Also needed after an error ended the watch. */
void store_watch_cancel(struct store_watch *w);

/* ---- backends ------------------------------------------------------------ */

/* The interface a backend implements, for store/ (sqlite, etcd) and plugins/
 * (the store plugins' adapter) only; everything else uses the functions above.
 *
 * store.c validates arguments (key and value caps, CAS values, TTLs, guards)
 * and compresses values before it calls the backend through struct store_ops,
 * so a backend only sees well-formed arguments and stored bytes. A backend
 * embeds struct store (and struct store_watch) as the first member of its own
 * structs.
 *
 * Backend contract, beyond the functions above:
 * - ret_* outputs are written only on success;
 * - every op may be called from any thread concurrently;
 * - free() stops every thread and frees the watches still open;
 * - watch callbacks run on a backend-owned thread, never with a backend lock held,
 *   so a callback may call any store function (except store_free and
 *   store_watch_cancel on its own watch); they go through store_watch_deliver. */
struct store_ops {
        const char *name;
        void (*free)(struct store *s);
        int (*get)(struct store *s, const char *key, struct store_kv *ret, struct berth_error *err);
        int (*list)(struct store *s, const char *prefix, int64_t revision, struct store_kvs *ret,
                    struct berth_error *err);
        /* store_list_page: after NULL or a key under prefix; limit >= 1.
         * NULL: the backend does not page; store_list_page lists all and
         * returns the page of it. */
        int (*list_page)(struct store *s, const char *prefix, const char *after, int64_t revision,
                         size_t limit, struct store_kvs *ret, bool *ret_more,
                         struct berth_error *err);
        /* guard: NULL, or validated (key checked, mod_revision > 0) */
        int (*put)(struct store *s, const char *key, const char *value, size_t value_len,
                   int64_t expected_mod_revision, int64_t lease, const struct store_guard *guard,
                   int64_t *ret_revision, struct berth_error *err);
        int (*delete)(struct store *s, const char *key, int64_t expected_mod_revision,
                      const struct store_guard *guard, int64_t *ret_revision,
                      struct berth_error *err);
        /* ops: validated (distinct keys, CAS values, leases), values as stored;
         * n <= txn_ops_max; *ret_failed set on -ESTALE/-ENOENT of an op. */
        int (*txn)(struct store *s, const struct store_op *ops, size_t n,
                   const struct store_guard *guard, int64_t *ret_revisions, size_t *ret_failed,
                   struct berth_error *err);
        /* ret: n zeroed kvs; keys validated. Values as stored (store.c inflates). */
        int (*get_many)(struct store *s, const char *const *keys, size_t n, struct store_kv *ret,
                        struct berth_error *err);
        int (*revision)(struct store *s, int64_t *ret_revision, struct berth_error *err);
        int (*compact)(struct store *s, int64_t revision, struct berth_error *err);
        int (*lease_grant)(struct store *s, int64_t ttl_seconds, int64_t *ret_id,
                           struct berth_error *err);
        int (*lease_keepalive)(struct store *s, int64_t id, struct berth_error *err);
        int (*lease_revoke)(struct store *s, int64_t id, struct berth_error *err);
        int (*watch)(struct store *s, const char *prefix, int64_t from_revision, store_watch_fn fn,
                     void *userdata, struct store_watch **ret, struct berth_error *err);
        void (*watch_cancel)(struct store_watch *w);
};

struct store {
        const struct store_ops *ops;
        /* One store_txn's limits (store_txn_fit): ops (a guard takes one more
         * on etcd, where it is a compare) and bytes of keys and values. */
        size_t txn_ops_max;
        size_t txn_bytes_max;
        bool txn_guard_is_op;
};

struct store_watch {
        struct store *store;
        store_watch_fn fn;
        void *userdata;
        int error; /* store_watch_deliver: != 0 once an error ended the watch */
};

/* Calls w's callback as store.h promises: a batch of events (error 0, n >= 1) or
 * the error that ends the watch (events NULL); nothing when there is neither.
 * Values are inflated first, in place (events stay the caller's to free with
 * store_events_free; delivered values may already be freed and NULL), and a
 * batch whose values inflate to many MiB goes out in several calls. A value
 * that does not inflate ends the watch with -EPROTO after the events before it.
 * Returns 0, or the error that ended the watch (the one passed in or -EPROTO,
 * -ENOMEM): the backend then stops calling; later calls do nothing. Call with
 * no backend lock held, from the watch's one delivering thread. */
int store_watch_deliver(struct store_watch *w, struct store_event *events, size_t n, int error);
/* Frees events[0..n) and the array. */
void store_events_free(struct store_event *events, size_t n);

/* Longest TTL a lease may ask for (etcd's own limit is 9e9 s); keeps ms math in range. */
#define STORE_LEASE_TTL_MAX (1000LL * 1000 * 1000)

/* The -EPERM of a failed guard, with the message every backend uses. */
int store_guard_failed(const struct store_guard *guard, struct berth_error *err);

/* Sets the -ESTALE error of a failed compare-and-swap, the same words for every
 * backend: op "put"/"delete", expected as passed in, found = the key's mod
 * revision (0 = it does not exist). Returns -ESTALE. */
int store_conflict(struct berth_error *err, const char *op, const char *key, int64_t expected,
                   int64_t found);

/* Sets the -ENOENT of a lease that expired or was revoked, the same words for every
 * backend. Returns -ENOENT. */
int store_lease_not_found(struct berth_error *err, int64_t id);

/* ---- the registry of backends ---- */

/* Opens the store of url (the whole URL, scheme included) for the backend
 * registered with userdata. Errors as store_open. */
typedef int (*store_backend_open_fn)(const char *url, void *userdata, struct store **ret,
                                     struct berth_error *err);

#define STORE_BACKENDS_MAX 32 /* registered schemes, built-ins included */
#define STORE_SCHEME_MAX   63 /* bytes of a scheme */

/* Registers open for the URLs "<scheme>:...". The built-ins (sqlite; etcd and
 * etcds) register themselves through this call on the first use of the
 * registry. scheme: a lowercase letter, then lowercase letters, digits, '+',
 * '-' or '.', at most STORE_SCHEME_MAX bytes; copied. userdata: borrowed until
 * unregistered. -EINVAL (bad scheme, no open), -EEXIST (the scheme is taken,
 * the message says by whom: a built-in or another registration), -ENOSPC
 * (STORE_BACKENDS_MAX registered). Any thread. */
int store_backend_register(const char *scheme, store_backend_open_fn open, void *userdata,
                           struct berth_error *err);
/* Removes scheme's backend: -ENOENT when it is not registered. The stores it
 * opened must be freed first and no store_open of the scheme may be running
 * (berthd: at exit, after store_free). */
int store_backend_unregister(const char *scheme);
/* The registered schemes in registration order, ", "-separated, into buf
 * (truncated to size; NUL-terminated when size > 0). Returns the length the
 * whole list needs, as snprintf. */
size_t store_backend_schemes(char *buf, size_t size);
