/* store sqlite internals: what the files of the sqlite backend share.
 *
 *   sqlite.c        the revision log: schema, statements, kv reads and writes,
 *                   compaction, open and free, the store_ops table
 *   sqlite-lease.c  leases, and the reaper thread that revokes expired ones
 *   sqlite-watch.c  watches, and the dispatcher thread that feeds them from the log
 *
 * Functions named *_locked are called with s->lock held.
 */
#pragma once

#include <pthread.h>
#include <sqlite3.h>

#include "store-internal.h"

/* Prepared statements, s->stmt[ST_*]; their SQL is in sqlite.c. */
enum {
        ST_LATEST,
        ST_INSERT,
        ST_LIST,
        ST_LIST_PAGE,
        ST_LEASE_ALIVE,
        ST_LEASE_EXISTS,
        ST_LEASE_INSERT,
        ST_LEASE_RENEW,
        ST_LEASE_DELETE,
        ST_LEASE_KEYS,
        ST_LEASE_EXPIRED,
        ST_LEASE_NEXT,
        ST_WATCH_READ,
        ST_COMPACT,
        ST_META_SET,
        ST_BEGIN,
        ST_COMMIT,
        ST_ROLLBACK,
        ST_COUNT,
};

struct sq_watch;

struct sq_store {
        struct store base;
        char *path;

        /* lock guards db, stmt, rev and compact_rev */
        pthread_mutex_t lock;
        sqlite3 *db;
        sqlite3_stmt *stmt[ST_COUNT];
        int64_t rev;
        int64_t compact_rev;

        /* wlock guards the watch list and the dispatcher state */
        pthread_mutex_t wlock;
        pthread_cond_t wcond;
        struct sq_watch *watches;
        struct sq_watch *running; /* whose batch the dispatcher is handling */
        int64_t notified_rev;     /* newest committed revision announced by writers */
        uint64_t served;
        bool wstop;
        bool dispatcher_started;
        pthread_t dispatcher;

        /* rlock guards the reaper state */
        pthread_mutex_t rlock;
        pthread_cond_t rcond;
        uint64_t rkick; /* bumped by lease grants: recompute the next expiry */
        bool rstop;
        bool reaper_started;
        pthread_t reaper;
};

static inline struct sq_store *SQ(struct store *s)
{
        return container_of(s, struct sq_store, base);
}

static inline void stmt_resetp(sqlite3_stmt **st)
{
        if (*st) {
                sqlite3_reset(*st);
                sqlite3_clear_bindings(*st);
        }
}
#define _cleanup_stmt_ _cleanup_(stmt_resetp)

/* ---- sqlite.c ---- */

/* The -errno for an SQLite result code. */
int sq_errno(int rc);
/* Sets err from a failed SQLite call ("store sqlite:PATH: what: message") and
 * returns its -errno. Call with s->lock held (sqlite3_errmsg belongs to the
 * connection). */
int sq_fail(struct sq_store *s, struct berth_error *err, int rc, const char *what);
/* Binds a prefix range to "key >= ?lo AND key < ?hi"; end NULL: no upper bound.
 * Both strings are borrowed until the statement is reset. */
void sq_bind_range(sqlite3_stmt *st, int lo, int hi, const char *prefix, const char *end);
/* Copy column col of the current row into kv->key, or into kv->value (with a NUL
 * terminator, not counted in value_len). -ENOMEM. */
int sq_kv_set_key(struct store_kv *kv, sqlite3_stmt *st, int col);
int sq_kv_set_value(struct store_kv *kv, sqlite3_stmt *st, int col);
/* Appends one row to the log at revision rev (deleted: a tombstone, value unused). */
int sq_insert_locked(struct sq_store *s, int64_t rev, const char *key, const char *value,
                     size_t value_len, int64_t create_rev, int64_t prev_rev, bool deleted,
                     int64_t lease, int64_t version, struct berth_error *err);
/* Steps st, a statement that returns no rows; sq_fail() when it does not finish. */
int sq_step_locked(struct sq_store *s, sqlite3_stmt *st, const char *what, struct berth_error *err);
/* Runs s->stmt[which], a statement without parameters or rows (BEGIN, COMMIT...). */
int sq_exec_locked(struct sq_store *s, int which, const char *what, struct berth_error *err);
/* Ends the transaction that ST_BEGIN opened: commits when r >= 0, rolls back when
 * r < 0 or the commit failed. Returns r, or the commit's error. */
int sq_txn_end_locked(struct sq_store *s, int r, struct berth_error *err);
/* After a write, without s->lock held: r < 0 is returned as it is; else the write
 * committed at rev, the dispatcher hears of it and *ret_revision (may be NULL)
 * gets it. */
int sq_write_done(struct sq_store *s, int r, int64_t rev, int64_t *ret_revision);

/* ---- sqlite-lease.c ---- */

/* store_ops.lease_grant, lease_keepalive and lease_revoke. */
int sq_lease_grant(struct store *base, int64_t ttl, int64_t *ret_id, struct berth_error *err);
int sq_lease_keepalive(struct store *base, int64_t id, struct berth_error *err);
int sq_lease_revoke(struct store *base, int64_t id, struct berth_error *err);
/* Whether lease id exists and has not expired. */
int sq_lease_alive_locked(struct sq_store *s, int64_t id, bool *ret_alive, struct berth_error *err);
/* Starts the reaper thread (-errno if it could not start); stops and joins it.
 * sq_reaper_stop() is a no-op when it never started. */
int sq_reaper_start(struct sq_store *s);
void sq_reaper_stop(struct sq_store *s);

/* ---- sqlite-watch.c ---- */

/* store_ops.watch and watch_cancel. */
int sq_watch(struct store *base, const char *prefix, int64_t from_revision, store_watch_fn fn,
             void *userdata, struct store_watch **ret, struct berth_error *err);
void sq_watch_cancel(struct store_watch *base);
/* Tells the dispatcher that revision rev is committed. Without s->lock held. */
void sq_notify_watchers(struct sq_store *s, int64_t rev);
/* Starts the dispatcher thread (-errno if it could not start). */
int sq_dispatcher_start(struct sq_store *s);
/* Stops and joins the dispatcher, if it started, and frees the watches still
 * open. */
void sq_dispatcher_stop(struct sq_store *s);
