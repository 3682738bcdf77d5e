/* store sqlite leases: lease rows with a wall-clock expiry (they survive
 * restarts), and the reaper thread that revokes a lease when it expires (about
 * 10 ms after, at worst 1 s). Revoking deletes the lease's keys in one
 * transaction, one revision per key, so watches see a DELETE for each.
 */
#include <sys/random.h>
#include <time.h>

#include "sqlite-internal.h"

/* Expired leases are looked for at least this often. */
#define REAPER_PERIOD_MS 1000

static int64_t random_id(void)
{
        uint64_t v = 0;
        if (getrandom(&v, sizeof(v), 0) != sizeof(v))
                v = (uint64_t)time_mono_ms() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)time_now_ms();
        v &= (uint64_t)INT64_MAX;
        return v ? (int64_t)v : 1;
}

static void kick_reaper(struct sq_store *s)
{
        LOCK_SCOPE(&s->rlock);
        s->rkick++;
        pthread_cond_signal(&s->rcond);
}

int sq_lease_alive_locked(struct sq_store *s, int64_t id, bool *ret_alive, struct berth_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = s->stmt[ST_LEASE_ALIVE];
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, time_now_ms());
        int rc = sqlite3_step(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                return sq_fail(s, err, rc, "read lease");
        *ret_alive = rc == SQLITE_ROW;
        return 0;
}

int sq_lease_grant(struct store *base, int64_t ttl, int64_t *ret_id, struct berth_error *err)
{
        struct sq_store *s = SQ(base);
        int64_t id = 0;
        {
                LOCK_SCOPE(&s->lock);
                int rc = SQLITE_CONSTRAINT;
                /* Ids are random: a collision is retried, not an error. */
                for (int tries = 0; tries < 16 && rc == SQLITE_CONSTRAINT; tries++) {
                        _cleanup_stmt_ sqlite3_stmt *st = s->stmt[ST_LEASE_INSERT];
                        id = random_id();
                        sqlite3_bind_int64(st, 1, id);
                        sqlite3_bind_int64(st, 2, ttl);
                        sqlite3_bind_int64(st, 3, time_now_ms() + ttl * 1000);
                        rc = sqlite3_step(st) & 0xff;
                }
                if (rc != SQLITE_DONE)
                        return sq_fail(s, err, rc, "grant lease");
        }
        kick_reaper(s);
        *ret_id = id;
        return 0;
}

int sq_lease_keepalive(struct store *base, int64_t id, struct berth_error *err)
{
        struct sq_store *s = SQ(base);
        LOCK_SCOPE(&s->lock);
        _cleanup_stmt_ sqlite3_stmt *st = s->stmt[ST_LEASE_RENEW];
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, time_now_ms());
        int r = sq_step_locked(s, st, "renew lease", err);
        if (r < 0)
                return r;
        if (sqlite3_changes(s->db) == 0)
                return store_lease_not_found(err, id);
        return 0;
}

struct lease_key {
        char *key;
        int64_t rev;
        int64_t create_rev;
};

static void lease_keys_free(struct lease_key *keys, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(keys[i].key);
        free(keys);
}

static int lease_keys_locked(struct sq_store *s, int64_t id, struct lease_key **ret_keys,
                             size_t *ret_n, struct berth_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = s->stmt[ST_LEASE_KEYS];
        sqlite3_bind_int64(st, 1, id);
        struct lease_key *keys = NULL;
        size_t n = 0, cap = 0;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (n == cap) {
                        size_t ncap = cap ? cap * 2 : 8;
                        struct lease_key *k = reallocarray(keys, ncap, sizeof(*k));
                        if (!k)
                                goto oom;
                        keys = k;
                        cap = ncap;
                }
                const char *key = (const char *)sqlite3_column_text(st, 1);
                keys[n] = (struct lease_key){
                    .key = strdup(key ? key : ""),
                    .rev = sqlite3_column_int64(st, 0),
                    .create_rev = sqlite3_column_int64(st, 2),
                };
                n++;
                if (!keys[n - 1].key)
                        goto oom;
        }
        if (rc != SQLITE_DONE) {
                lease_keys_free(keys, n);
                return sq_fail(s, err, rc, "read lease keys");
        }
        *ret_keys = keys;
        *ret_n = n;
        return 0;
oom:
        lease_keys_free(keys, n);
        return berth_error_set(err, -ENOMEM, "store: revoke lease %" PRId64 ": out of memory", id);
}

/* Deletes the lease and its keys in one transaction, one revision per key. */
static int revoke_locked(struct sq_store *s, int64_t id, int64_t *ret_rev, struct berth_error *err)
{
        {
                _cleanup_stmt_ sqlite3_stmt *st = s->stmt[ST_LEASE_EXISTS];
                sqlite3_bind_int64(st, 1, id);
                int rc = sqlite3_step(st);
                if (rc == SQLITE_DONE)
                        return store_lease_not_found(err, id);
                if (rc != SQLITE_ROW)
                        return sq_fail(s, err, rc, "read lease");
        }
        struct lease_key *keys = NULL;
        size_t n = 0;
        int r = lease_keys_locked(s, id, &keys, &n, err);
        if (r < 0)
                return r;
        r = sq_exec_locked(s, ST_BEGIN, "begin", err);
        int64_t rev = s->rev;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                rev++;
                r = sq_insert_locked(s, rev, keys[i].key, NULL, 0, keys[i].create_rev, keys[i].rev,
                                     true, 0, 0, err);
        }
        if (r >= 0) {
                _cleanup_stmt_ sqlite3_stmt *st = s->stmt[ST_LEASE_DELETE];
                sqlite3_bind_int64(st, 1, id);
                r = sq_step_locked(s, st, "delete lease", err);
        }
        r = sq_txn_end_locked(s, r, err);
        lease_keys_free(keys, n);
        if (r < 0)
                return r;
        s->rev = rev;
        *ret_rev = rev;
        return 0;
}

int sq_lease_revoke(struct store *base, int64_t id, struct berth_error *err)
{
        struct sq_store *s = SQ(base);
        int64_t rev = 0;
        int r;
        {
                LOCK_SCOPE(&s->lock);
                r = revoke_locked(s, id, &rev, err);
        }
        return sq_write_done(s, r, rev, NULL);
}

/* Revokes the expired leases; returns when the next one expires (wall ms), or 0. */
static int64_t reap_expired(struct sq_store *s)
{
        int64_t ids[64];
        size_t n = 0;
        {
                LOCK_SCOPE(&s->lock);
                _cleanup_stmt_ sqlite3_stmt *st = s->stmt[ST_LEASE_EXPIRED];
                sqlite3_bind_int64(st, 1, time_now_ms());
                while (n < ARRAY_SIZE(ids) && sqlite3_step(st) == SQLITE_ROW)
                        ids[n++] = sqlite3_column_int64(st, 0);
        }
        for (size_t i = 0; i < n; i++)
                (void)sq_lease_revoke(&s->base, ids[i], NULL);

        LOCK_SCOPE(&s->lock);
        _cleanup_stmt_ sqlite3_stmt *st = s->stmt[ST_LEASE_NEXT];
        if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_type(st, 0) == SQLITE_NULL)
                return 0;
        return sqlite3_column_int64(st, 0);
}

static void *reaper_main(void *userdata)
{
        struct sq_store *s = userdata;
        for (;;) {
                uint64_t kick;
                {
                        LOCK_SCOPE(&s->rlock);
                        if (s->rstop)
                                return NULL;
                        kick = s->rkick;
                }
                int64_t next = reap_expired(s);
                int64_t wait_ms = REAPER_PERIOD_MS;
                if (next > 0) {
                        int64_t until = next - time_now_ms();
                        if (until < wait_ms)
                                wait_ms = until < 5 ? 5 : until;
                }
                struct timespec ts;
                time_mono_deadline(&ts, wait_ms);

                LOCK_SCOPE(&s->rlock);
                while (!s->rstop && s->rkick == kick) {
                        if (pthread_cond_timedwait(&s->rcond, &s->rlock, &ts) == ETIMEDOUT)
                                break;
                }
        }
}

int sq_reaper_start(struct sq_store *s)
{
        int r = -pthread_create(&s->reaper, NULL, reaper_main, s);
        s->reaper_started = r == 0;
        return r;
}

void sq_reaper_stop(struct sq_store *s)
{
        if (!s->reaper_started)
                return;
        {
                LOCK_SCOPE(&s->rlock);
                s->rstop = true;
                pthread_cond_signal(&s->rcond);
        }
        pthread_join(s->reaper, NULL);
}
