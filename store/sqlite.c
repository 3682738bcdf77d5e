/* store sqlite: an embedded backend with etcd semantics, kine-style.
 *
 * Every write appends one row to a revision log; the row's rowid is the write's
 * revision. The current state of a key is its newest row unless that row is a
 * deletion tombstone. Reading "as of revision R" takes, per key, the newest row
 * at or below R.
 *
 *   log(rev, key, value, create_rev, prev_rev, deleted, lease, version)
 *       prev_rev: the row this one replaced while the key existed (0 on creation);
 *       it gives watch events their prev_kv.
 *   meta(name, value)       schema_version, compact_rev
 *   leases(id, ttl, expires_ms)   expires_ms is wall-clock, so leases survive restarts
 *
 * Compaction at C deletes what no read at a revision >= C can see: tombstones below
 * C and rows replaced below C. Lists at >= C stay exact and watches from >= C still
 * get every event with its prev_kv (an event's previous row is replaced by the event
 * itself, at >= C, so it is kept).
 *
 * Concurrency: one connection, guarded by one mutex, in EXCLUSIVE locking mode: the
 * database belongs to this process (watches only see this process's writes anyway),
 * and a second opener fails with -EBUSY instead of corrupting the revision sequence.
 * The current revision is kept in memory under the mutex.
 *
 * Leases and the reaper thread that expires them are in sqlite-lease.c, watches
 * and the dispatcher thread that feeds them in sqlite-watch.c.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "sqlite-internal.h"

/* Waiting for another process's lock when opening: it will not go away soon. */
#define OPEN_BUSY_TIMEOUT_MS 250
#define BUSY_TIMEOUT_MS      5000
#define SCHEMA_VERSION       1

/* Range bounds: "key >= ?lo AND key < ?hi". When a prefix has no upper bound, ?hi
 * is bound to an empty BLOB: in SQLite every TEXT value sorts before every BLOB. */
static const char *const stmt_sql[ST_COUNT] = {
    [ST_LATEST] = "SELECT rev, value, create_rev, deleted, lease, version FROM log "
                  "WHERE key = ?1 ORDER BY rev DESC LIMIT 1",
    [ST_INSERT] = "INSERT INTO log(rev, key, value, create_rev, prev_rev, deleted, lease, "
                  "version) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    /* In key order straight from the (key, rev) index, no sort: a row is the
     * state at ?3 when no newer row of its key is at or below ?3. */
    [ST_LIST] = "SELECT l.rev, l.key, l.value, l.create_rev, l.lease, l.version FROM log l "
                "WHERE l.key >= ?1 AND l.key < ?2 AND l.rev <= ?3 AND l.deleted = 0 "
                "AND NOT EXISTS (SELECT 1 FROM log n WHERE n.key = l.key "
                "AND n.rev > l.rev AND n.rev <= ?3) ORDER BY l.key",
    /* ST_LIST after key ?4 (exclusive; "" = from the first), at most ?5 rows. */
    [ST_LIST_PAGE] = "SELECT l.rev, l.key, l.value, l.create_rev, l.lease, l.version FROM log l "
                     "WHERE l.key >= ?1 AND l.key < ?2 AND l.key > ?4 AND l.rev <= ?3 "
                     "AND l.deleted = 0 AND NOT EXISTS (SELECT 1 FROM log n WHERE n.key = l.key "
                     "AND n.rev > l.rev AND n.rev <= ?3) ORDER BY l.key LIMIT ?5",
    [ST_LEASE_ALIVE] = "SELECT 1 FROM leases WHERE id = ?1 AND expires_ms > ?2",
    [ST_LEASE_EXISTS] = "SELECT 1 FROM leases WHERE id = ?1",
    [ST_LEASE_INSERT] = "INSERT INTO leases(id, ttl, expires_ms) VALUES(?1, ?2, ?3)",
    [ST_LEASE_RENEW] = "UPDATE leases SET expires_ms = ?2 + ttl * 1000 "
                       "WHERE id = ?1 AND expires_ms > ?2",
    [ST_LEASE_DELETE] = "DELETE FROM leases WHERE id = ?1",
    /* "lease != 0" lets SQLite use the partial index log_lease. */
    [ST_LEASE_KEYS] = "SELECT l.rev, l.key, l.create_rev FROM log l "
                      "WHERE l.lease = ?1 AND l.lease != 0 AND l.deleted = 0 "
                      "AND l.rev = (SELECT MAX(rev) FROM log n WHERE n.key = l.key)",
    [ST_LEASE_EXPIRED] = "SELECT id FROM leases WHERE expires_ms <= ?1 "
                         "ORDER BY expires_ms LIMIT 64",
    [ST_LEASE_NEXT] = "SELECT MIN(expires_ms) FROM leases",
    /* "+l.key" keeps the planner on the rowid range: a live watch reads only
     * the few newest rows, never the whole key index of its prefix. */
    [ST_WATCH_READ] = "SELECT l.rev, l.key, l.value, l.create_rev, l.deleted, l.lease, "
                      "l.version, p.rev, p.value, p.create_rev, p.lease, p.version "
                      "FROM log l LEFT JOIN log p ON p.rev = l.prev_rev "
                      "WHERE l.rev >= ?1 AND +l.key >= ?2 AND +l.key < ?3 ORDER BY l.rev",
    [ST_COMPACT] = "DELETE FROM log WHERE rev < ?1 AND (deleted = 1 OR EXISTS "
                   "(SELECT 1 FROM log n WHERE n.key = log.key AND n.rev > log.rev "
                   "AND n.rev < ?1))",
    [ST_META_SET] = "INSERT INTO meta(name, value) VALUES(?1, ?2) "
                    "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
};

static const char schema_sql[] =
    "BEGIN IMMEDIATE;"
    "CREATE TABLE IF NOT EXISTS log ("
    "  rev INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  key TEXT NOT NULL,"
    "  value BLOB,"
    "  create_rev INTEGER NOT NULL,"
    "  prev_rev INTEGER NOT NULL,"
    "  deleted INTEGER NOT NULL,"
    "  lease INTEGER NOT NULL,"
    "  version INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS log_key_rev ON log(key, rev);"
    "CREATE INDEX IF NOT EXISTS log_lease ON log(lease) WHERE lease != 0;"
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS leases ("
    "  id INTEGER PRIMARY KEY, ttl INTEGER NOT NULL, expires_ms INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO meta(name, value) VALUES('schema_version', 1), "
    "  ('compact_rev', 0);"
    "COMMIT;";
/* ---- shared with sqlite-lease.c and sqlite-watch.c ------------------------ */

int sq_errno(int rc)
{
        switch (rc & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_READONLY:
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_TOOBIG:
                return -E2BIG;
        case SQLITE_CONSTRAINT:
                return -EEXIST;
        default:
                return -EIO;
        }
}

int sq_fail(struct sq_store *s, struct berth_error *err, int rc, const char *what)
{
        return berth_error_set(err, sq_errno(rc), "store sqlite:%s: %s: %s", s->path, what,
                               s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
}

void sq_bind_range(sqlite3_stmt *st, int lo, int hi, const char *prefix, const char *end)
{
        sqlite3_bind_text(st, lo, prefix, -1, SQLITE_STATIC);
        if (end)
                sqlite3_bind_text(st, hi, end, -1, SQLITE_STATIC);
        else
                sqlite3_bind_zeroblob(st, hi, 0);
}

int sq_kv_set_key(struct store_kv *kv, sqlite3_stmt *st, int col)
{
        const char *key = (const char *)sqlite3_column_text(st, col);
        size_t len = (size_t)sqlite3_column_bytes(st, col);
        kv->key = strndup(key ? key : "", len);
        return kv->key ? 0 : -ENOMEM;
}

int sq_kv_set_value(struct store_kv *kv, sqlite3_stmt *st, int col)
{
        const void *value = sqlite3_column_blob(st, col);
        size_t len = (size_t)sqlite3_column_bytes(st, col);
        kv->value = malloc(len + 1);
        if (!kv->value)
                return -ENOMEM;
        if (len > 0)
                memcpy(kv->value, value, len);
        kv->value[len] = '\0';
        kv->value_len = len;
        return 0;
}

/* ---- writes ------------------------------------------------------------ */

struct latest {
        bool exists; /* newest row is not a tombstone */
        int64_t rev;
        int64_t create_rev;
        int64_t version;
        int64_t lease;
};

/* Newest state of key; with kv, also its key and value. Call with s->lock held. */
static int latest_locked(struct sq_store *s, const char *key, struct latest *ret,
                         struct store_kv *kv, struct berth_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = s->stmt[ST_LATEST];
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
                *ret = (struct latest){0};
                return 0;
        }
        if (rc != SQLITE_ROW)
                return sq_fail(s, err, rc, "read key");
        struct latest l = {
            .exists = sqlite3_column_int64(st, 3) == 0,
            .rev = sqlite3_column_int64(st, 0),
            .create_rev = sqlite3_column_int64(st, 2),
            .lease = sqlite3_column_int64(st, 4),
            .version = sqlite3_column_int64(st, 5),
        };
        if (kv && l.exists) {
                struct store_kv out = {
                    .create_revision = l.create_rev,
                    .mod_revision = l.rev,
                    .version = l.version,
                    .lease = l.lease,
                };
                out.key = strdup(key);
                if (!out.key || sq_kv_set_value(&out, st, 1) < 0) {
                        store_kv_release(&out);
                        return berth_error_set(err, -ENOMEM, "store: get %s: out of memory", key);
                }
                *kv = out;
        }
        *ret = l;
        return 0;
}

int sq_insert_locked(struct sq_store *s, int64_t rev, const char *key, const char *value,
                     size_t value_len, int64_t create_rev, int64_t prev_rev, bool deleted,
                     int64_t lease, int64_t version, struct berth_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = s->stmt[ST_INSERT];
        sqlite3_bind_int64(st, 1, rev);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        if (deleted)
                sqlite3_bind_null(st, 3);
        else
                sqlite3_bind_blob64(st, 3, value, value_len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, create_rev);
        sqlite3_bind_int64(st, 5, prev_rev);
        sqlite3_bind_int(st, 6, deleted);
        sqlite3_bind_int64(st, 7, lease);
        sqlite3_bind_int64(st, 8, version);
        return sq_step_locked(s, st, "append to log", err);
}

/* What every write starts with: the guard must hold, then the key's newest state.
 * The guard is checked under s->lock, like the write that follows it: nothing
 * can change the guard key in between. */
static int write_begin_locked(struct sq_store *s, const char *key, const struct store_guard *guard,
                              struct latest *ret, struct berth_error *err)
{
        if (guard) {
                struct latest g;
                int r = latest_locked(s, guard->key, &g, NULL, err);
                if (r < 0)
                        return r;
                if (!g.exists || g.rev != guard->mod_revision)
                        return store_guard_failed(guard, err);
        }
        return latest_locked(s, key, ret, NULL, err);
}

int sq_write_done(struct sq_store *s, int r, int64_t rev, int64_t *ret_revision)
{
        if (r < 0)
                return r;
        sq_notify_watchers(s, rev);
        if (ret_revision)
                *ret_revision = rev;
        return 0;
}

/* A put of key at revision rev, given its newest state cur. */
static int put_at_locked(struct sq_store *s, const char *key, const char *value, size_t value_len,
                         int64_t expected, int64_t lease, const struct latest *cur, int64_t rev,
                         struct berth_error *err)
{
        int r;
        if (expected != STORE_ANY_REVISION) {
                int64_t found = cur->exists ? cur->rev : 0;
                if (found != expected)
                        return store_conflict(err, "put", key, expected, found);
        }
        if (lease != 0) {
                bool alive = false;
                r = sq_lease_alive_locked(s, lease, &alive, err);
                if (r < 0)
                        return r;
                if (!alive)
                        return berth_error_set(err, -ENOENT,
                                               "store: put %s: lease %" PRId64
                                               " not found (expired or revoked)",
                                               key, lease);
        }
        return sq_insert_locked(s, rev, key, value, value_len, cur->exists ? cur->create_rev : rev,
                                cur->exists ? cur->rev : 0, false, lease,
                                cur->exists ? cur->version + 1 : 1, err);
}

/* A delete of key at revision rev, given its newest state cur. */
static int delete_at_locked(struct sq_store *s, const char *key, int64_t expected,
                            const struct latest *cur, int64_t rev, struct berth_error *err)
{
        if (!cur->exists)
                return berth_error_set(err, -ENOENT, "store: delete %s: not found", key);
        if (expected != STORE_ANY_REVISION && cur->rev != expected)
                return store_conflict(err, "delete", key, expected, cur->rev);
        return sq_insert_locked(s, rev, key, NULL, 0, cur->create_rev, cur->rev, true, 0, 0, err);
}

/* store_txn: one SQLite transaction, one log row (and revision) per op. A
 * failed op rolls back the rows before it; s->rev moves only on commit. */
static int txn_locked(struct sq_store *s, const struct store_op *ops, size_t n,
                      const struct store_guard *guard, int64_t *ret_revisions, int64_t *ret_last,
                      size_t *ret_failed, struct berth_error *err)
{
        int r = sq_exec_locked(s, ST_BEGIN, "begin", err);
        if (r < 0)
                return r;
        int64_t rev = s->rev;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                const struct store_op *op = &ops[i];
                struct latest cur;
                r = write_begin_locked(s, op->key, i == 0 ? guard : NULL, &cur, err);
                if (r < 0)
                        break;
                if (op->type == STORE_OP_CHECK) {
                        int64_t found = cur.exists ? cur.rev : 0;
                        if (found != op->expected_mod_revision)
                                r = store_conflict(err, "check", op->key, op->expected_mod_revision,
                                                   found);
                        if (ret_revisions)
                                ret_revisions[i] = 0;
                } else {
                        rev++;
                        if (op->type == STORE_OP_PUT)
                                r = put_at_locked(s, op->key, op->value, op->value_len,
                                                  op->expected_mod_revision, op->lease, &cur, rev,
                                                  err);
                        else
                                r = delete_at_locked(s, op->key, op->expected_mod_revision, &cur,
                                                     rev, err);
                        if (ret_revisions)
                                ret_revisions[i] = rev;
                }
                if (r == -ESTALE || r == -ENOENT)
                        *ret_failed = i;
        }
        r = sq_txn_end_locked(s, r, err);
        if (r < 0)
                return r;
        *ret_last = rev > s->rev ? rev : 0;
        s->rev = rev;
        return 0;
}

static int sq_txn(struct store *base, const struct store_op *ops, size_t n,
                  const struct store_guard *guard, int64_t *ret_revisions, size_t *ret_failed,
                  struct berth_error *err)
{
        struct sq_store *s = SQ(base);
        int64_t rev = 0;
        int r;
        {
                LOCK_SCOPE(&s->lock);
                r = txn_locked(s, ops, n, guard, ret_revisions, &rev, ret_failed, err);
        }
        if (r >= 0 && rev == 0)
                return 0; /* checks only: nothing was written */
        return sq_write_done(s, r, rev, NULL);
}

static int put_locked(struct sq_store *s, const char *key, const char *value, size_t value_len,
                      int64_t expected, int64_t lease, const struct store_guard *guard,
                      int64_t *ret_rev, struct berth_error *err)
{
        struct latest cur;
        int r = write_begin_locked(s, key, guard, &cur, err);
        if (r < 0)
                return r;
        int64_t rev = s->rev + 1;
        r = put_at_locked(s, key, value, value_len, expected, lease, &cur, rev, err);
        if (r < 0)
                return r;
        s->rev = rev;
        *ret_rev = rev;
        return 0;
}

static int sq_put(struct store *base, const char *key, const char *value, size_t value_len,
                  int64_t expected, int64_t lease, const struct store_guard *guard,
                  int64_t *ret_revision, struct berth_error *err)
{
        struct sq_store *s = SQ(base);
        int64_t rev = 0;
        int r;
        {
                LOCK_SCOPE(&s->lock);
                r = put_locked(s, key, value, value_len, expected, lease, guard, &rev, err);
        }
        return sq_write_done(s, r, rev, ret_revision);
}

static int delete_locked(struct sq_store *s, const char *key, int64_t expected,
                         const struct store_guard *guard, int64_t *ret_rev, struct berth_error *err)
{
        struct latest cur;
        int r = write_begin_locked(s, key, guard, &cur, err);
        if (r < 0)
                return r;
        int64_t rev = s->rev + 1;
        r = delete_at_locked(s, key, expected, &cur, rev, err);
        if (r < 0)
                return r;
        s->rev = rev;
        *ret_rev = rev;
        return 0;
}

static int sq_delete(struct store *base, const char *key, int64_t expected,
                     const struct store_guard *guard, int64_t *ret_revision,
                     struct berth_error *err)
{
        struct sq_store *s = SQ(base);
        int64_t rev = 0;
        int r;
        {
                LOCK_SCOPE(&s->lock);
                r = delete_locked(s, key, expected, guard, &rev, err);
        }
        return sq_write_done(s, r, rev, ret_revision);
}

int sq_step_locked(struct sq_store *s, sqlite3_stmt *st, const char *what, struct berth_error *err)
{
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
                return sq_fail(s, err, rc, what);
        return 0;
}

int sq_exec_locked(struct sq_store *s, int which, const char *what, struct berth_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = s->stmt[which];
        return sq_step_locked(s, st, what, err);
}

int sq_txn_end_locked(struct sq_store *s, int r, struct berth_error *err)
{
        if (r >= 0)
                r = sq_exec_locked(s, ST_COMMIT, "commit", err);
        if (r < 0 && !sqlite3_get_autocommit(s->db))
                (void)sq_exec_locked(s, ST_ROLLBACK, "rollback", NULL);
        return r;
}

static int sq_compact(struct store *base, int64_t revision, struct berth_error *err)
{
        struct sq_store *s = SQ(base);
        LOCK_SCOPE(&s->lock);
        if (revision > s->rev)
                return berth_error_set(err, -EINVAL,
                                       "store: compact at %" PRId64
                                       ": future revision (current is %" PRId64 ")",
                                       revision, s->rev);
        if (revision <= s->compact_rev)
                return 0;
        int r = sq_exec_locked(s, ST_BEGIN, "begin", err);
        if (r < 0)
                return r;
        {
                _cleanup_stmt_ sqlite3_stmt *st = s->stmt[ST_COMPACT];
                sqlite3_bind_int64(st, 1, revision);
                r = sq_step_locked(s, st, "compact", err);
        }
        if (r >= 0) {
                _cleanup_stmt_ sqlite3_stmt *st = s->stmt[ST_META_SET];
                sqlite3_bind_text(st, 1, "compact_rev", -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 2, revision);
                r = sq_step_locked(s, st, "record compaction", err);
        }
        r = sq_txn_end_locked(s, r, err);
        if (r < 0)
                return r;
        s->compact_rev = revision;
        return 0;
}

/* ---- reads ------------------------------------------------------------- */

static int sq_get(struct store *base, const char *key, struct store_kv *ret,
                  struct berth_error *err)
{
        struct sq_store *s = SQ(base);
        struct store_kv kv = {0};
        struct latest cur;
        {
                LOCK_SCOPE(&s->lock);
                int r = latest_locked(s, key, &cur, &kv, err);
                if (r < 0)
                        return r;
        }
        if (!cur.exists)
                return berth_error_set(err, -ENOENT, "store: get %s: not found", key);
        *ret = kv;
        return 0;
}

/* The keys of [prefix, end) at revision; with limit > 0 only those after
 * 'after' ("" = all), at most limit of them (ST_LIST_PAGE). */
static int list_locked(struct sq_store *s, const char *prefix, const char *end, int64_t revision,
                       const char *after, size_t limit, struct store_kvs *ret,
                       struct berth_error *err)
{
        if (revision > s->rev)
                return berth_error_set(err, -EINVAL,
                                       "store: list %s at %" PRId64
                                       ": future revision (current is %" PRId64 ")",
                                       prefix, revision, s->rev);
        if (revision != 0 && revision < s->compact_rev)
                return berth_error_set(err, STORE_ERR_COMPACTED,
                                       "store: list %s at %" PRId64
                                       ": revision compacted (oldest is %" PRId64 ")",
                                       prefix, revision, s->compact_rev);
        struct store_kvs out = {.revision = revision ? revision : s->rev};
        size_t cap = 0;
        _cleanup_stmt_ sqlite3_stmt *st = s->stmt[limit > 0 ? ST_LIST_PAGE : ST_LIST];
        sq_bind_range(st, 1, 2, prefix, end);
        sqlite3_bind_int64(st, 3, out.revision);
        if (limit > 0) {
                sqlite3_bind_text(st, 4, after, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 5, (int64_t)limit);
        }
        int rc, r = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (out.n == cap) {
                        size_t ncap = cap ? cap * 2 : 64;
                        struct store_kv *items = reallocarray(out.items, ncap, sizeof(*items));
                        if (!items) {
                                r = -ENOMEM;
                                break;
                        }
                        out.items = items;
                        cap = ncap;
                }
                struct store_kv *kv = &out.items[out.n];
                *kv = (struct store_kv){
                    .mod_revision = sqlite3_column_int64(st, 0),
                    .create_revision = sqlite3_column_int64(st, 3),
                    .lease = sqlite3_column_int64(st, 4),
                    .version = sqlite3_column_int64(st, 5),
                };
                out.n++;
                r = sq_kv_set_key(kv, st, 1);
                if (r >= 0)
                        r = sq_kv_set_value(kv, st, 2);
                if (r < 0)
                        break;
        }
        if (r < 0) {
                store_kvs_release(&out);
                return berth_error_set(err, r, "store: list %s: out of memory", prefix);
        }
        if (rc != SQLITE_DONE) {
                store_kvs_release(&out);
                return sq_fail(s, err, rc, "list");
        }
        *ret = out;
        return 0;
}

static int sq_list(struct store *base, const char *prefix, int64_t revision, struct store_kvs *ret,
                   struct berth_error *err)
{
        struct sq_store *s = SQ(base);
        _cleanup_free_ char *end = NULL;
        if (store_prefix_end(prefix, &end) < 0)
                return berth_error_set(err, -ENOMEM, "store: list %s: out of memory", prefix);
        LOCK_SCOPE(&s->lock);
        return list_locked(s, prefix, end, revision, "", 0, ret, err);
}

/* One more row than asked tells whether there are more. */
static int sq_list_page(struct store *base, const char *prefix, const char *after, int64_t revision,
                        size_t limit, struct store_kvs *ret, bool *ret_more,
                        struct berth_error *err)
{
        struct sq_store *s = SQ(base);
        _cleanup_free_ char *end = NULL;
        if (store_prefix_end(prefix, &end) < 0)
                return berth_error_set(err, -ENOMEM, "store: list %s: out of memory", prefix);
        struct store_kvs out = {0};
        {
                LOCK_SCOPE(&s->lock);
                int r =
                    list_locked(s, prefix, end, revision, after ? after : "", limit + 1, &out, err);
                if (r < 0)
                        return r;
        }
        *ret_more = out.n > limit;
        while (out.n > limit)
                store_kv_release(&out.items[--out.n]);
        *ret = out;
        return 0;
}

static int sq_get_many(struct store *base, const char *const *keys, size_t n, struct store_kv *ret,
                       struct berth_error *err)
{
        struct sq_store *s = SQ(base);
        LOCK_SCOPE(&s->lock);
        for (size_t i = 0; i < n; i++) {
                struct latest l;
                int r = latest_locked(s, keys[i], &l, &ret[i], err);
                if (r < 0) {
                        for (size_t j = 0; j <= i; j++)
                                store_kv_release(&ret[j]);
                        return r;
                }
        }
        return 0;
}

static int sq_revision(struct store *base, int64_t *ret_revision, struct berth_error *err)
{
        (void)err;
        struct sq_store *s = SQ(base);
        LOCK_SCOPE(&s->lock);
        *ret_revision = s->rev;
        return 0;
}

/* ---- open / free ------------------------------------------------------- */

static void sq_free(struct store *base)
{
        struct sq_store *s = SQ(base);
        sq_reaper_stop(s);
        sq_dispatcher_stop(s);
        for (size_t i = 0; i < ST_COUNT; i++)
                sqlite3_finalize(s->stmt[i]);
        sqlite3_close(s->db);
        pthread_mutex_destroy(&s->lock);
        pthread_mutex_destroy(&s->wlock);
        pthread_cond_destroy(&s->wcond);
        pthread_mutex_destroy(&s->rlock);
        pthread_cond_destroy(&s->rcond);
        free(s->path);
        free(s);
}

static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .free = sq_free,
    .get = sq_get,
    .list = sq_list,
    .list_page = sq_list_page,
    .put = sq_put,
    .delete = sq_delete,
    .txn = sq_txn,
    .get_many = sq_get_many,
    .revision = sq_revision,
    .compact = sq_compact,
    .lease_grant = sq_lease_grant,
    .lease_keepalive = sq_lease_keepalive,
    .lease_revoke = sq_lease_revoke,
    .watch = sq_watch,
    .watch_cancel = sq_watch_cancel,
};

/* mkdir -p of path's directory, mode 0700 for what it creates. */
static int make_parent_dirs(const char *path, struct berth_error *err)
{
        _cleanup_free_ char *dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir)
                return 0;
        *slash = '\0';
        int r = mkdir_p(dir, 0700);
        if (r < 0)
                return berth_error_set(err, r, "store sqlite:%s: create directory %s: %s", path,
                                       dir, strerror(-r));
        return 0;
}

static int exec_sql(struct sq_store *s, const char *sql, const char *what, struct berth_error *err)
{
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
        if (rc == SQLITE_OK)
                return 0;
        if ((rc & 0xff) == SQLITE_BUSY)
                return berth_error_set(
                    err, -EBUSY, "store sqlite:%s: database is in use by another process", s->path);
        return sq_fail(s, err, rc, what);
}

static int query_int64(struct sq_store *s, const char *sql, int64_t *ret, struct berth_error *err)
{
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
        if (rc == SQLITE_OK) {
                rc = sqlite3_step(st);
                if (rc == SQLITE_ROW) {
                        *ret = sqlite3_column_int64(st, 0);
                        rc = SQLITE_OK;
                } else if (rc == SQLITE_DONE) {
                        *ret = 0;
                        rc = SQLITE_OK;
                }
        }
        int r = rc == SQLITE_OK ? 0 : sq_fail(s, err, rc, "read metadata");
        sqlite3_finalize(st);
        return r;
}

static int journal_mode_wal(struct sq_store *s, struct berth_error *err)
{
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        int r = 0;
        if (rc == SQLITE_ROW) {
                const char *mode = (const char *)sqlite3_column_text(st, 0);
                if (!mode || strcasecmp(mode, "wal") != 0)
                        r = berth_error_set(err, -EIO,
                                            "store sqlite:%s: cannot use WAL journal mode "
                                            "(got %s)",
                                            s->path, mode ? mode : "nothing");
        } else if ((rc & 0xff) == SQLITE_BUSY) {
                r = berth_error_set(
                    err, -EBUSY, "store sqlite:%s: database is in use by another process", s->path);
        } else {
                r = sq_fail(s, err, rc, "set journal mode");
        }
        sqlite3_finalize(st);
        return r;
}

static int sq_setup(struct sq_store *s, struct berth_error *err)
{
        /* Create the file ourselves so that it is private (0600) whatever the
         * umask; SQLite gives its -wal and -shm files the same mode. */
        int fd = open(s->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0) {
                int e = errno;
                return berth_error_set(err, -e, "store sqlite:%s: open: %s", s->path, strerror(e));
        }
        close(fd);
        int rc =
            sqlite3_open_v2(s->path, &s->db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK)
                return sq_fail(s, err, rc, "open");
        sqlite3_extended_result_codes(s->db, 1);
        sqlite3_busy_timeout(s->db, OPEN_BUSY_TIMEOUT_MS);
        int r = exec_sql(s, "PRAGMA locking_mode=EXCLUSIVE", "set locking mode", err);
        if (r < 0)
                return r;
        r = journal_mode_wal(s, err);
        if (r < 0)
                return r;
        r = exec_sql(s, "PRAGMA synchronous=NORMAL", "set synchronous mode", err);
        if (r < 0)
                return r;
        r = exec_sql(s, schema_sql, "create schema", err);
        if (r < 0) {
                if (!sqlite3_get_autocommit(s->db))
                        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                return r;
        }
        sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);

        int64_t version;
        r = query_int64(s, "SELECT value FROM meta WHERE name = 'schema_version'", &version, err);
        if (r < 0)
                return r;
        if (version != SCHEMA_VERSION)
                return berth_error_set(err, -EPROTO,
                                       "store sqlite:%s: schema version %" PRId64
                                       " is not supported (this berth knows version %d)",
                                       s->path, version, SCHEMA_VERSION);
        r = query_int64(s, "SELECT value FROM meta WHERE name = 'compact_rev'", &s->compact_rev,
                        err);
        if (r < 0)
                return r;
        /* sqlite_sequence remembers the highest rev ever used, even when compaction
         * deleted that row: revisions never go back across restarts. */
        r = query_int64(s,
                        "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence "
                        "WHERE name = 'log'), 0), COALESCE((SELECT MAX(rev) FROM log), 0))",
                        &s->rev, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ST_COUNT; i++) {
                rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                        &s->stmt[i], NULL);
                if (rc != SQLITE_OK)
                        return sq_fail(s, err, rc, "prepare statement");
        }
        return 0;
}

int store_sqlite_open(const char *location, struct store **ret, struct berth_error *err)
{
        /* "sqlite:///abs/path" is accepted as well as "sqlite:/abs/path". */
        if (str_has_prefix(location, "//"))
                location += 2;
        if (!*location)
                return berth_error_set(err, -EINVAL,
                                       "store sqlite:: no database path (expected sqlite:PATH)");
        int r = make_parent_dirs(location, err);
        if (r < 0)
                return r;

        struct sq_store *s = calloc(1, sizeof(*s));
        if (!s)
                return berth_error_set(err, -ENOMEM, "store sqlite:%s: out of memory", location);
        s->base.ops = &sqlite_ops;
        /* One SQLite transaction takes any number of rows; these keep one
         * transaction's memory (the encoded values) and lock time bounded. */
        s->base.txn_ops_max = 4096;
        s->base.txn_bytes_max = 64 * 1024 * 1024;
        pthread_mutex_init(&s->lock, NULL);
        pthread_mutex_init(&s->wlock, NULL);
        pthread_cond_init(&s->wcond, NULL);
        pthread_mutex_init(&s->rlock, NULL);
        cond_init_monotonic(&s->rcond);

        s->path = strdup(location);
        if (!s->path) {
                sq_free(&s->base);
                return berth_error_set(err, -ENOMEM, "store sqlite:%s: out of memory", location);
        }
        r = sq_setup(s, err);
        if (r < 0) {
                sq_free(&s->base);
                return r;
        }
        s->notified_rev = s->rev;

        r = sq_dispatcher_start(s);
        if (r == 0)
                r = sq_reaper_start(s);
        if (r < 0) {
                sq_free(&s->base);
                return berth_error_set(err, r, "store sqlite:%s: start thread: %s", location,
                                       strerror(-r));
        }
        *ret = &s->base;
        return 0;
}
