/* leader election: one lease-backed key, like client-go's leaderelection.
 *
 * Candidate: read the key. If someone holds it, follow them: watch the key
 * and look again when it changes (it disappears when its holder's lease
 * expires or is revoked), or after retry_ms at the latest. If nobody does, grant a lease and create
 * the key with it (STORE_MUST_NOT_EXIST): the winner leads, with a fence = (key, mod revision of
 * its own write). The key is never rewritten while held, so the fence stays valid exactly as long
 * as the leadership.
 *
 * Leader: a renewer thread sends a keepalive every renew_ms and then checks
 * that the key is still ours. The elector thread waits for the renew deadline:
 * lease_ms - margin after the *start* of the last successful keepalive (the
 * store's TTL restarts no earlier than that). When the deadline passes without
 * a renewal, or the lease or key is lost, it calls stopped_leading (which stops
 * every worker) before the lease can run out, revokes the lease (best effort,
 * so that a new election happens at once) and becomes a candidate again.
 * Store calls may block (up to the backend's timeout): that is why the
 * keepalives run on their own thread and cannot delay the deadline.
 */
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <sys/random.h>

#include "controller.h"

#define LEADER_MARGIN_MAX_MS 3000

struct leader_elector {
        struct store *store;
        char *key;
        char identity[LEADER_ID_MAX];
        int64_t lease_ms;
        int64_t renew_ms;
        int64_t retry_ms;
        int64_t margin_ms;
        leader_started_fn started;
        leader_stopped_fn stopped;
        void *userdata;

        pthread_t thread;
        bool thread_started;

        /* lock guards everything below; cond wakes the elector thread */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool stop;

        /* the current term (leader only) */
        int64_t lease;         /* lease id of the term */
        int64_t guard_rev;     /* mod revision of our write to the key */
        int64_t last_ok_mono;  /* start of the last successful renewal */
        char lost_reason[256]; /* set by the renewer: the term is over */
        bool renewer_stop;
        pthread_t renewer;
        bool renewer_started;

        /* what /readyz and /apis/berth/v1/leader show */
        struct leader_info info;

        /* a follower's watch on the key (elector thread only), from watch_rev + 1 */
        struct store_watch *watch;
        int64_t watch_rev;
        bool key_changed; /* set by the watch (under lock) */
        bool watch_failed;
};

/* ---- small helpers ---------------------------------------------------------- */

/* Waits up to ms (lock held); returns true when the elector is stopping. */
static bool wait_locked(struct leader_elector *e, int64_t ms)
{
        struct timespec ts;
        time_mono_deadline(&ts, ms);
        while (!e->stop)
                if (pthread_cond_timedwait(&e->cond, &e->lock, &ts) == ETIMEDOUT)
                        break;
        return e->stop;
}

static bool wait_ms(struct leader_elector *e, int64_t ms)
{
        pthread_mutex_lock(&e->lock);
        bool stop = wait_locked(e, ms);
        pthread_mutex_unlock(&e->lock);
        return stop;
}

static void on_key_event(const struct store_event *events, size_t n, int error, void *userdata)
{
        struct leader_elector *e = userdata;

        (void)events;
        (void)n;
        pthread_mutex_lock(&e->lock);
        e->key_changed = true;
        if (error)
                e->watch_failed = true;
        pthread_cond_broadcast(&e->cond);
        pthread_mutex_unlock(&e->lock);
}

/* Cancelling may wait for the store's watch thread (up to a second for etcd):
 * done only when the watch must change or at the end, never on the way to
 * leading. A watch left running while this replica leads costs one idle
 * stream; its wake-ups are ignored. */
static void unwatch(struct leader_elector *e)
{
        store_watch_cancel(e->watch);
        e->watch = NULL;
}

/* Follower: waits until the key changes after seen_rev (the holder's lease
 * ended, or it stepped down) or retry_ms passed; true when stopping. Without a
 * watch (the store refused one) it is the plain retry. */
static bool follow_wait(struct leader_elector *e, int64_t seen_rev)
{
        pthread_mutex_lock(&e->lock);
        bool renew = e->watch && (e->watch_rev != seen_rev || e->watch_failed);
        pthread_mutex_unlock(&e->lock);
        if (renew)
                unwatch(e);
        if (!e->watch) {
                pthread_mutex_lock(&e->lock);
                e->key_changed = e->watch_failed = false;
                pthread_mutex_unlock(&e->lock);
                if (store_watch(e->store, e->key, seen_rev + 1, on_key_event, e, &e->watch, NULL) ==
                    0)
                        e->watch_rev = seen_rev;
                else
                        e->watch = NULL;
        }

        struct timespec ts;
        time_mono_deadline(&ts, e->retry_ms);
        pthread_mutex_lock(&e->lock);
        while (!e->stop && !e->key_changed)
                if (pthread_cond_timedwait(&e->cond, &e->lock, &ts) == ETIMEDOUT)
                        break;
        e->key_changed = false;
        bool stop = e->stop;
        pthread_mutex_unlock(&e->lock);
        return stop;
}

static void set_info(struct leader_elector *e, const char *holder, bool self, int64_t lease_s,
                     int64_t renew_wall_ms)
{
        pthread_mutex_lock(&e->lock);
        e->info.known = holder != NULL;
        str_copy(e->info.holder, sizeof(e->info.holder), holder ? holder : "");
        e->info.self = self;
        e->info.lease_duration_s = lease_s;
        e->info.renew_ms = renew_wall_ms;
        pthread_mutex_unlock(&e->lock);
}

static int64_t lease_seconds(const struct leader_elector *e)
{
        return (e->lease_ms + 999) / 1000;
}

static char *record_json(const struct leader_elector *e, int64_t now_ms)
{
        char now[RFC3339_MAX];
        time_format_rfc3339(now_ms, now);
        _cleanup_json_ json_t *j =
            json_pack("{s:s, s:I, s:s, s:s}", "holder", e->identity, "leaseDurationSeconds",
                      (json_int_t)lease_seconds(e), "acquireTime", now, "renewTime", now);
        return j ? json_dumps(j, JSON_COMPACT) : NULL;
}

/* ---- leader term ------------------------------------------------------------ */

/* Keepalive every renew_ms, then a check that the key is still ours (nobody
 * else may delete it, but an operator might). Transient errors are retried at
 * the next tick; the elector thread decides when it is too late. */
static void *renewer_main(void *userdata)
{
        struct leader_elector *e = userdata;
        pthread_mutex_lock(&e->lock);
        int64_t lease = e->lease, guard_rev = e->guard_rev;
        bool warned = false;
        int64_t wait = e->renew_ms;
        for (;;) {
                struct timespec ts;
                time_mono_deadline(&ts, wait);
                while (!e->renewer_stop)
                        if (pthread_cond_timedwait(&e->cond, &e->lock, &ts) == ETIMEDOUT)
                                break;
                if (e->renewer_stop)
                        break;
                pthread_mutex_unlock(&e->lock);

                int64_t start = time_mono_ms();
                struct berth_error err;
                berth_error_clear(&err);
                char lost[256] = "";
                int r = store_lease_keepalive(e->store, lease, &err);
                if (r == -ENOENT) {
                        snprintf(lost, sizeof(lost), "lease expired");
                } else if (r == 0) {
                        struct store_kv kv = {0};
                        r = store_get(e->store, e->key, &kv, &err);
                        if (r == 0 && kv.mod_revision != guard_rev)
                                snprintf(lost, sizeof(lost), "leader key rewritten");
                        else if (r == -ENOENT)
                                snprintf(lost, sizeof(lost), "leader key deleted");
                        store_kv_release(&kv);
                }
                if (r < 0 && !lost[0] && !warned) {
                        log_warn("cannot renew leader lease: %s id=%s", err.message, e->identity);
                        warned = true;
                }

                pthread_mutex_lock(&e->lock);
                if (lost[0]) {
                        str_copy(e->lost_reason, sizeof(e->lost_reason), lost);
                        pthread_cond_broadcast(&e->cond);
                        break;
                }
                /* After a failure, try again sooner: the deadline is near. */
                wait = r == 0 || e->retry_ms > e->renew_ms ? e->renew_ms : e->retry_ms;
                if (r == 0) {
                        if (warned)
                                log_info("renewed leader lease again id=%s", e->identity);
                        warned = false;
                        e->last_ok_mono = start;
                        e->info.renew_ms = time_now_ms();
                        pthread_cond_broadcast(&e->cond);
                }
        }
        pthread_mutex_unlock(&e->lock);
        return NULL;
}

/* Leads until the term ends; returns with the workers stopped and the lease
 * revoked (best effort). -ECANCELED when leading could not even start. */
static int lead(struct leader_elector *e, int64_t lease, int64_t guard_rev, int64_t acquired_mono)
{
        struct store_guard guard = {.key = e->key, .mod_revision = guard_rev};
        struct berth_error err;
        berth_error_clear(&err);

        pthread_mutex_lock(&e->lock);
        e->lease = lease;
        e->guard_rev = guard_rev;
        e->last_ok_mono = acquired_mono;
        e->lost_reason[0] = '\0';
        e->renewer_stop = false;
        pthread_mutex_unlock(&e->lock);
        set_info(e, e->identity, true, lease_seconds(e), time_now_ms());

        int r = e->started ? e->started(&guard, e->userdata, &err) : 0;
        if (r < 0) {
                log_error("cannot start leading: %s id=%s", err.message, e->identity);
                (void)store_lease_revoke(e->store, lease, NULL);
                set_info(e, NULL, false, 0, 0);
                return -ECANCELED;
        }
        log_info("became leader id=%s key=%s lease=%llds", e->identity, e->key,
                 (long long)lease_seconds(e));

        pthread_mutex_lock(&e->lock);
        e->renewer_started = pthread_create(&e->renewer, NULL, renewer_main, e) == 0;
        if (!e->renewer_started)
                snprintf(e->lost_reason, sizeof(e->lost_reason), "cannot start renewer thread");
        const char *reason;
        for (;;) {
                if (e->stop) {
                        reason = "shutdown";
                        break;
                }
                if (e->lost_reason[0]) {
                        reason = e->lost_reason;
                        break;
                }
                int64_t deadline = e->last_ok_mono + e->lease_ms - e->margin_ms;
                int64_t left = deadline - time_mono_ms();
                if (left <= 0) {
                        reason = "renew deadline exceeded";
                        break;
                }
                struct timespec ts;
                time_mono_deadline(&ts, left);
                pthread_cond_timedwait(&e->cond, &e->lock, &ts);
        }
        char why[256];
        str_copy(why, sizeof(why), reason);
        bool shutdown = e->stop;
        pthread_mutex_unlock(&e->lock);

        if (shutdown)
                log_info("releasing leadership id=%s reason=%s", e->identity, why);
        else
                log_warn("lost leadership id=%s reason=%s", e->identity, why);
        /* Workers first: nothing may act as leader once this returns. Their
         * Docker calls fail at once from now on; a store call in flight may hold
         * a worker up to the store's timeout, but its write is fenced. */
        if (e->stopped)
                e->stopped(why, e->userdata);

        pthread_mutex_lock(&e->lock);
        e->renewer_stop = true;
        pthread_cond_broadcast(&e->cond);
        bool join = e->renewer_started;
        e->renewer_started = false;
        pthread_mutex_unlock(&e->lock);
        if (join)
                pthread_join(e->renewer, NULL);
        set_info(e, NULL, false, 0, 0);
        /* Deletes the key (if the lease still lives): a follower takes over now
         * instead of waiting for the lease to run out. */
        (void)store_lease_revoke(e->store, lease, NULL);
        return 0;
}

/* ---- candidate ---------------------------------------------------------------- */

static void *elector_main(void *userdata)
{
        struct leader_elector *e = userdata;
        char following[LEADER_ID_MAX] = "";
        bool warned = false;
        int64_t pending_lease = 0; /* granted, its put's outcome unknown */

        for (;;) {
                pthread_mutex_lock(&e->lock);
                bool stop = e->stop;
                pthread_mutex_unlock(&e->lock);
                if (stop)
                        break;

                struct berth_error err;
                berth_error_clear(&err);
                struct store_kv kv = {0};
                int r = store_get(e->store, e->key, &kv, &err);
                if (r == 0) {
                        _cleanup_json_ json_t *rec = json_loadb(kv.value, kv.value_len, 0, NULL);
                        const char *holder = json_path_string(rec, "holder");
                        if (!holder)
                                holder = "(unknown)";
                        if (streq(holder, e->identity) && pending_lease != 0 &&
                            kv.lease == pending_lease) {
                                /* Our create went through although its answer was lost. */
                                int64_t rev = kv.mod_revision;
                                store_kv_release(&kv);
                                int64_t lease = pending_lease;
                                pending_lease = 0;
                                following[0] = '\0';
                                if (lead(e, lease, rev, time_mono_ms()) < 0 &&
                                    wait_ms(e, e->retry_ms))
                                        break;
                                continue;
                        }
                        if (!streq(holder, following)) {
                                log_info("following leader=%s id=%s", holder, e->identity);
                                str_copy(following, sizeof(following), holder);
                        }
                        set_info(e, holder, false, json_path_int(rec, "leaseDurationSeconds", 0),
                                 time_now_ms());
                        int64_t seen = kv.mod_revision;
                        store_kv_release(&kv);
                        warned = false;
                        if (follow_wait(e, seen))
                                break;
                        continue;
                }
                if (r != -ENOENT) {
                        if (!warned)
                                log_warn("leader election: cannot read %s: %s id=%s", e->key,
                                         err.message, e->identity);
                        warned = true;
                        if (wait_ms(e, e->retry_ms))
                                break;
                        continue;
                }
                warned = false;
                set_info(e, NULL, false, 0, 0);

                /* Nobody leads: try to. The lease's TTL starts no earlier than now. */
                int64_t start = time_mono_ms();
                if (pending_lease != 0) {
                        (void)store_lease_revoke(e->store, pending_lease, NULL);
                        pending_lease = 0;
                }
                int64_t lease = 0;
                r = store_lease_grant(e->store, lease_seconds(e), &lease, &err);
                if (r < 0) {
                        log_warn("leader election: cannot grant lease: %s id=%s", err.message,
                                 e->identity);
                        if (wait_ms(e, e->retry_ms))
                                break;
                        continue;
                }
                _cleanup_free_ char *value = record_json(e, time_now_ms());
                int64_t rev = 0;
                r = value ? store_put(e->store, e->key, value, strlen(value), STORE_MUST_NOT_EXIST,
                                      lease, &rev, &err)
                          : berth_error_set(&err, -ENOMEM, "out of memory");
                if (r == 0) {
                        following[0] = '\0';
                        /* A failed start gives up the lease: let the others try first. */
                        if (lead(e, lease, rev, start) < 0 && wait_ms(e, e->retry_ms))
                                break;
                        continue;
                }
                if (r == -ETIMEDOUT || r == -EIO) {
                        /* May have been applied: the next read tells. */
                        pending_lease = lease;
                } else {
                        (void)store_lease_revoke(e->store, lease, NULL);
                }
                if (r != -ESTALE) {
                        log_warn("leader election: cannot create %s: %s id=%s", e->key, err.message,
                                 e->identity);
                        if (wait_ms(e, e->retry_ms))
                                break;
                }
                /* -ESTALE: someone else won just now; read who at once. */
        }
        unwatch(e);
        if (pending_lease != 0)
                (void)store_lease_revoke(e->store, pending_lease, NULL);
        return NULL;
}

/* ---- public ------------------------------------------------------------------- */

int leader_default_identity(char ret[LEADER_ID_MAX])
{
        char host[256];
        if (gethostname(host, sizeof(host)) < 0)
                snprintf(host, sizeof(host), "berthd");
        host[sizeof(host) - 1] = '\0';
        uint16_t rnd = 0;
        if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
                rnd = (uint16_t)time_mono_ms();
        char out[LEADER_ID_MAX];
        int n = snprintf(out, sizeof(out), "%.64s-%ld-%04x", host, (long)getpid(), rnd);
        if (n < 0 || (size_t)n >= sizeof(out))
                return -ENAMETOOLONG;
        memcpy(ret, out, (size_t)n + 1);
        return 0;
}

int leader_elector_new(const struct leader_config *cfg, struct leader_elector **ret,
                       struct berth_error *err)
{
        if (!cfg || !cfg->store || !cfg->key || !*cfg->key)
                return berth_error_set(err, -EINVAL, "leader election needs a store and a key");
        int64_t lease_ms = cfg->lease_ms > 0 ? cfg->lease_ms : LEADER_DEFAULT_LEASE_MS;
        int64_t renew_ms = cfg->renew_ms > 0 ? cfg->renew_ms : LEADER_DEFAULT_RENEW_MS;
        int64_t retry_ms = cfg->retry_ms > 0 ? cfg->retry_ms : LEADER_DEFAULT_RETRY_MS;
        int64_t margin_ms =
            lease_ms / 3 < LEADER_MARGIN_MAX_MS ? lease_ms / 3 : LEADER_MARGIN_MAX_MS;
        if (lease_ms < LEADER_MIN_LEASE_MS)
                return berth_error_set(err, -EINVAL, "leader lease %lldms is too short (min %dms)",
                                       (long long)lease_ms, LEADER_MIN_LEASE_MS);
        if (renew_ms >= lease_ms - margin_ms)
                return berth_error_set(err, -EINVAL,
                                       "leader renew period %lldms must be shorter than the lease "
                                       "minus a safety margin (%lldms - %lldms)",
                                       (long long)renew_ms, (long long)lease_ms,
                                       (long long)margin_ms);
        if (cfg->identity && (!*cfg->identity || strlen(cfg->identity) >= LEADER_ID_MAX))
                return berth_error_set(err, -EINVAL, "leader identity must be 1..%d bytes",
                                       LEADER_ID_MAX - 1);

        struct leader_elector *e = calloc(1, sizeof(*e));
        if (!e)
                return berth_error_set(err, -ENOMEM, "out of memory");
        e->store = cfg->store;
        e->lease_ms = lease_ms;
        e->renew_ms = renew_ms;
        e->retry_ms = retry_ms;
        e->margin_ms = margin_ms;
        e->started = cfg->started_leading;
        e->stopped = cfg->stopped_leading;
        e->userdata = cfg->userdata;
        pthread_mutex_init(&e->lock, NULL);
        cond_init_monotonic(&e->cond);
        e->key = strdup(cfg->key);
        int r = 0;
        if (!e->key)
                r = berth_error_set(err, -ENOMEM, "out of memory");
        else if (cfg->identity)
                str_copy(e->identity, sizeof(e->identity), cfg->identity);
        else if (leader_default_identity(e->identity) < 0)
                r = berth_error_set(err, -ENAMETOOLONG, "cannot make a leader identity");
        if (r == 0) {
                r = -pthread_create(&e->thread, NULL, elector_main, e);
                if (r < 0)
                        berth_error_set(err, r, "start leader election thread: %s", strerror(-r));
                else
                        e->thread_started = true;
        }
        if (r < 0) {
                leader_elector_free(e);
                return r;
        }
        *ret = e;
        return 0;
}

void leader_elector_free(struct leader_elector *e)
{
        if (!e)
                return;
        if (e->thread_started) {
                pthread_mutex_lock(&e->lock);
                e->stop = true;
                pthread_cond_broadcast(&e->cond);
                pthread_mutex_unlock(&e->lock);
                pthread_join(e->thread, NULL);
        }
        pthread_mutex_destroy(&e->lock);
        pthread_cond_destroy(&e->cond);
        free(e->key);
        free(e);
}

const char *leader_elector_identity(const struct leader_elector *e)
{
        return e->identity;
}

void leader_elector_info(struct leader_elector *e, struct leader_info *ret)
{
        pthread_mutex_lock(&e->lock);
        *ret = e->info;
        pthread_mutex_unlock(&e->lock);
}
