/* store internals: the backend interface behind store.h.
 *
 * store.c parses the URL, validates arguments (key and value caps, CAS values,
 * TTLs) and then calls the backend through struct store_ops, so a backend only
 * sees well-formed arguments. A backend embeds struct store (and struct
 * store_watch) as the first member of its own structs and recovers them with
 * container_of().
 *
 * Backend contract, beyond store.h:
 * - ret_* outputs are written only on success;
 * - free() stops every thread and frees the watches still open;
 * - watch callbacks run on a backend-owned thread, never with a backend lock held,
 *   so a callback may call any store function (except store_free and
 *   store_watch_cancel on its own watch).
 */
#pragma once

#include <inttypes.h>
#include <stddef.h>

#include "store.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

struct store_ops {
        const char *name;
        void (*free)(struct store *s);
        int (*get)(struct store *s, const char *key, struct store_kv *ret, struct berth_error *err);
        int (*list)(struct store *s, const char *prefix, int64_t revision, struct store_kvs *ret,
                    struct berth_error *err);
        /* store_list_page: after NULL or a key under prefix; limit >= 1.
         * NULL: the backend does not page (-EOPNOTSUPP). */
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

/* Backend constructors. sqlite: 'location' is the part of the URL after "sqlite:";
 * etcd: the whole URL, since etcd:// and etcds:// differ. */
int store_sqlite_open(const char *location, struct store **ret, struct berth_error *err);
int store_etcd_open(const char *url, struct store **ret, struct berth_error *err);

/* ---- value format (compress.c, docs/internals/store.md) ---------------- */

/* A stored value is either the value itself or, when it starts with these 4
 * bytes, the magic followed by a zlib stream (RFC 1950) of the value. No JSON
 * or text starts with a NUL byte; a value that does start with the magic is
 * always stored compressed, so the two never mix up. */
#define STORE_COMPRESS_MAGIC     "\0bz1"
#define STORE_COMPRESS_MAGIC_LEN 4
/* Values up to this many bytes are stored as they are: compressing them would
 * save little and cost every write. */
#define STORE_COMPRESS_MIN (8 * 1024)

/* Whether stored starts with the magic. */
bool store_value_is_compressed(const char *stored, size_t len);
/* The bytes to store for a value: *ret_stored NULL when it is stored as it is
 * (at most STORE_COMPRESS_MIN bytes, or not smaller deflated), else the magic
 * and the stream, *ret_stored_len bytes, caller frees. -ENOMEM, -EIO. */
int store_value_encode(const char *value, size_t len, char **ret_stored, size_t *ret_stored_len);
/* The magic and a zlib stream (level 1) of data, when that is at most max bytes
 * (-EFBIG when not). *ret: caller frees. -ENOMEM, -EIO. */
int store_value_deflate(const void *data, size_t len, size_t max, char **ret, size_t *ret_len);
/* Inflates a stored value that starts with the magic into *ret (NUL-terminated,
 * not counted in *ret_len; caller frees), allocating at most about max bytes.
 * -EPROTO when it is not the magic and one complete zlib stream with nothing
 * after it (corrupt, truncated, bad checksum, trailing bytes) or inflates to
 * more than max bytes; -ENOMEM. err says why, without a key. */
int store_value_inflate(const char *stored, size_t len, size_t max, char **ret, size_t *ret_len,
                        struct berth_error *err);
/* Replaces kv->value (when compressed) by its inflated bytes, at most
 * STORE_VALUE_PLAIN_MAX; *ret_inflated (may be NULL) is their length, 0 when
 * nothing was inflated. kv is unchanged on failure: -EPROTO ("stored value of
 * <key> is corrupt ...: why"), -ENOMEM. */
int store_kv_inflate(struct store_kv *kv, size_t *ret_inflated, struct berth_error *err);

/* Smallest string greater than every string that starts with prefix (etcd's
 * "range_end"); *ret_end = NULL when there is none (empty prefix or only 0xff
 * bytes), meaning "no upper bound". Caller frees. */
int store_prefix_end(const char *prefix, char **ret_end);
