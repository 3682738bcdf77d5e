/* docker-engine: the tracker a client and its clones share (docker.h,
 * "engine health and the in-flight limit"): the adaptive in-flight limit,
 * the start times of the calls in flight, and the thread that probes an
 * engine whose oldest call is getting old.
 *
 * Why a probe only then: a healthy engine answers every call, and a /_ping
 * every few seconds on an idle daemon would cost wake-ups for nothing. The
 * thread sleeps on its condition until a call is in flight, then until that
 * call is DOCKER_ENGINE_SUSPECT_MS old; while calls finish in time it never
 * sends anything. Only a suspect engine (and an unresponsive one, until it
 * answers) is pinged, once per DOCKER_ENGINE_PROBE_MS at most.
 *
 * Locking: 'mu' guards everything but the watchers; it is never held over a
 * Docker call nor over a watcher. 'watch_mu' is held while the watchers run
 * (the thread only), so that unwatch returns once a watcher is done. */
#include <inttypes.h>
#include <pthread.h>

#include "docker-internal.h"
#include "inflight-limit.h"
#include "image-memory.h"
#include "metrics.h"

struct watcher {
        docker_engine_fn fn;
        void *userdata;
};

struct docker_engine {
        pthread_mutex_t mu;
        pthread_cond_t slots; /* callers waiting for a slot */
        pthread_cond_t wake;  /* the thread */
        int refs;
        char *url;
        struct docker *probe; /* the thread's own bare client */

        struct inflight_limit limit;
        int saved_limit;                        /* the adaptive limit while forced to a probe */
        int64_t starts_ms[DOCKER_INFLIGHT_MAX]; /* monotonic; 0: free */
        struct docker *holders[DOCKER_INFLIGHT_MAX]; /* the clients of those calls */
        int64_t last_answer_ms;                      /* a call answered last then */

        enum docker_engine_state state;
        int64_t down_ms; /* not UP: since when nothing answered */
        bool answered_while_down;
        bool stall; /* why UNRESPONSIVE: answers /_ping, no call does */

        /* DOCKER_ENGINE_*_MS, shorter in tests (docker_engine_set_timing). */
        int64_t suspect_ms, stall_ms, probe_ms;
        long ping_timeout_ms;

        pthread_t thread;
        bool thread_started, stop;

        pthread_mutex_t watch_mu;
        struct watcher watchers[DOCKER_ENGINE_WATCHERS];

        struct image_memory *images; /* its own lock */
};

const char *docker_engine_state_to_string(enum docker_engine_state s)
{
        switch (s) {
        case DOCKER_ENGINE_UP:
                return "up";
        case DOCKER_ENGINE_UNRESPONSIVE:
                return "unresponsive";
        case DOCKER_ENGINE_RECOVERING:
                return "recovering";
        }
        return "unknown";
}

/* Under mu. The start of the oldest call in flight, 0 when none. */
static int64_t oldest_start(const struct docker_engine *e)
{
        int64_t oldest = 0;

        for (int i = 0; i < DOCKER_INFLIGHT_MAX; i++)
                if (e->starts_ms[i] && (!oldest || e->starts_ms[i] < oldest))
                        oldest = e->starts_ms[i];
        return oldest;
}

static void status_locked(struct docker_engine *e, int64_t now, struct docker_engine_status *ret)
{
        int64_t oldest = oldest_start(e);

        *ret = (struct docker_engine_status){
            .state = e->state,
            .down_ms = e->state == DOCKER_ENGINE_UP ? 0 : e->down_ms,
            .oldest_call_ms = oldest ? now - oldest : 0,
            .in_flight = e->limit.in_flight,
            .limit = e->limit.limit,
            .limit_changes = e->limit.adjustments,
        };
        /* Recovering from a stall, the trial call may hang like the ones
         * before: not serving until it is answered. */
        ret->answering = e->state == DOCKER_ENGINE_UP ||
                         (e->state == DOCKER_ENGINE_RECOVERING && !(e->stall && oldest));
        if (e->state == DOCKER_ENGINE_UP)
                return;
        long long secs = (long long)((now - e->down_ms) / 1000);
        if (e->state == DOCKER_ENGINE_RECOVERING)
                snprintf(ret->reason, sizeof(ret->reason),
                         "docker engine %s answers /_ping again after %llds; waiting for a "
                         "first call to be answered",
                         e->url, secs);
        else if (e->stall)
                snprintf(ret->reason, sizeof(ret->reason),
                         "docker engine %s not answering for %llds (it answers /_ping, but no "
                         "call completes)",
                         e->url, secs);
        else
                snprintf(ret->reason, sizeof(ret->reason),
                         "docker engine %s not answering for %llds", e->url, secs);
}

void docker_engine_status(struct docker *d, struct docker_engine_status *ret)
{
        struct docker_engine *e = d ? d->engine : NULL;

        if (!e) {
                *ret = (struct docker_engine_status){.state = DOCKER_ENGINE_UP, .answering = true};
                return;
        }
        pthread_mutex_lock(&e->mu);
        status_locked(e, time_mono_ms(), ret);
        pthread_mutex_unlock(&e->mu);
}

/* ---- slots ----------------------------------------------------------------- */

int docker_engine_acquire(struct docker *d, const char *context, struct berth_error *err)
{
        struct docker_engine *e = d->engine;
        const char *sep = context ? ": " : "";

        context = context ? context : "";
        if (!e)
                return 0;
        pthread_mutex_lock(&e->mu);
        for (;;) {
                if (atomic_load(&d->interrupted)) {
                        pthread_mutex_unlock(&e->mu);
                        return berth_error_set(err, -EINTR, "%s%sinterrupted", context, sep);
                }
                if (e->state == DOCKER_ENGINE_UNRESPONSIVE) {
                        pthread_mutex_unlock(&e->mu);
                        return docker_engine_fail(d, context[0] ? context : NULL, err);
                }
                if (inflight_limit_try_acquire(&e->limit))
                        break;
                if (e->state == DOCKER_ENGINE_RECOVERING) {
                        /* One call tries the engine; the others must not sit
                         * behind it (after a stall it may hang as long). */
                        pthread_mutex_unlock(&e->mu);
                        return docker_engine_fail(d, context[0] ? context : NULL, err);
                }
                pthread_cond_wait(&e->slots, &e->mu);
        }
        int slot = 0;
        while (slot < DOCKER_INFLIGHT_MAX - 1 && e->starts_ms[slot])
                slot++;
        bool first = oldest_start(e) == 0;
        e->starts_ms[slot] = time_mono_ms();
        e->holders[slot] = d;
        d->slot = slot;
        atomic_store(&d->abandoned, false);
        if (first) /* the thread sleeps without a deadline while nothing is in flight */
                pthread_cond_signal(&e->wake);
        pthread_mutex_unlock(&e->mu);
        return 0;
}

/* The limiter's index of an operation (docker_operation's names): each has
 * a cost of its own. */
static int op_index(const char *op)
{
        static const char *const ops[] = {
            "create",  "start",        "kill",          "wait",          "remove",
            "inspect", "list",         "archive",       "stats",         "stop",
            "restart", "pause",        "unpause",       "top",           "image_inspect",
            "info",    "image_remove", "volume_create", "volume_remove", "volume_list",
            "version", "ping",
        };
        for (int i = 0; op && i < (int)ARRAY_SIZE(ops); i++)
                if (streq(op, ops[i]))
                        return i;
        return INFLIGHT_OPS - 1;
}

void docker_engine_release(struct docker *d, const char *op, int64_t latency_ns, bool answered)
{
        struct docker_engine *e = d->engine;

        if (!e || d->slot < 0)
                return;
        pthread_mutex_lock(&e->mu);
        int64_t now = time_mono_ms();
        e->starts_ms[d->slot] = 0;
        e->holders[d->slot] = NULL;
        d->slot = -1;
        /* Forced to a probe, the measurements would be of one call: they
         * resume with the limit. */
        if (e->state == DOCKER_ENGINE_UP)
                inflight_limit_release(&e->limit, op_index(op), latency_ns, answered,
                                       metrics_now_ns());
        else if (e->limit.in_flight > 0)
                e->limit.in_flight--;
        if (answered) {
                e->last_answer_ms = now;
                if (e->state != DOCKER_ENGINE_UP)
                        e->answered_while_down = true;
                if (e->state == DOCKER_ENGINE_RECOVERING) {
                        e->state = DOCKER_ENGINE_UP;
                        inflight_limit_set(&e->limit, e->saved_limit);
                        pthread_cond_signal(&e->wake); /* tells the watchers */
                }
        }
        pthread_cond_broadcast(&e->slots);
        pthread_mutex_unlock(&e->mu);
}

int docker_engine_fail(struct docker *d, const char *context, struct berth_error *err)
{
        struct docker_engine_status st;

        docker_engine_status(d, &st);
        if (!st.reason[0])
                snprintf(st.reason, sizeof(st.reason), "docker engine %s not answering", d->url);
        return berth_error_set(err, -EHOSTDOWN, "%s%s%s", context ? context : "",
                               context ? ": " : "", st.reason);
}

void docker_engine_interrupt(struct docker *d)
{
        struct docker_engine *e = d->engine;

        if (!e)
                return;
        pthread_mutex_lock(&e->mu);
        pthread_cond_broadcast(&e->slots);
        pthread_mutex_unlock(&e->mu);
}

/* ---- the thread ---------------------------------------------------------- */

/* Without mu: whether the engine answers GET /_ping in time. */
static bool ping(struct docker_engine *e)
{
        _cleanup_(docker_req_release) struct docker_req req = {
            .method = "GET", .path = "/_ping", .timeout_ms = e->ping_timeout_ms};
        struct berth_error err = {0};

        return docker_call(e->probe, &req, "ping", &err) == 0 && req.status > 0;
}

static void wait_until(struct docker_engine *e, int64_t deadline_ms)
{
        struct timespec ts;

        if (deadline_ms <= 0) {
                pthread_cond_wait(&e->wake, &e->mu);
                return;
        }
        time_mono_deadline(&ts, deadline_ms - time_mono_ms());
        pthread_cond_timedwait(&e->wake, &e->mu, &ts);
}

static void enter(struct docker_engine *e, enum docker_engine_state s, int64_t down_ms)
{
        if (s == DOCKER_ENGINE_UNRESPONSIVE && e->state == DOCKER_ENGINE_UP) {
                e->saved_limit = e->limit.limit;
                e->down_ms = down_ms;
                e->answered_while_down = false;
                inflight_limit_set(&e->limit, 1);
        }
        if (s == DOCKER_ENGINE_UNRESPONSIVE) {
                /* The callers stuck in calls give up now (-EHOSTDOWN) instead
                 * of sitting out the 60 s timeout, and their connections go.
                 * Every action is idempotent (a create by its name per
                 * attempt: 409, adopted), so what the engine may still do of
                 * them later is found, not done twice. */
                for (int i = 0; i < DOCKER_INFLIGHT_MAX; i++)
                        if (e->holders[i]) {
                                atomic_store(&e->holders[i]->abandoned, true);
                                socket_slot_shutdown(&e->holders[i]->sock);
                        }
        }
        if (s == DOCKER_ENGINE_UP)
                inflight_limit_set(&e->limit, e->saved_limit);
        if (s == DOCKER_ENGINE_RECOVERING)
                inflight_limit_set(&e->limit, 1);
        e->state = s;
        /* Waiters fail (UNRESPONSIVE) or may go (UP, RECOVERING). */
        pthread_cond_broadcast(&e->slots);
}

static void notify(struct docker_engine *e, bool changed)
{
        struct docker_engine_status st;

        status_locked(e, time_mono_ms(), &st);
        pthread_mutex_unlock(&e->mu);
        pthread_mutex_lock(&e->watch_mu);
        for (int i = 0; i < DOCKER_ENGINE_WATCHERS; i++)
                if (e->watchers[i].fn)
                        e->watchers[i].fn(&st, changed, e->watchers[i].userdata);
        pthread_mutex_unlock(&e->watch_mu);
        pthread_mutex_lock(&e->mu);
}

/* One step while UP or RECOVERING: returns the deadline to sleep to (0:
 * none). */
static int64_t check_answering(struct docker_engine *e)
{
        int64_t now = time_mono_ms();
        int64_t oldest = oldest_start(e);

        if (!oldest)
                return 0;
        if (now - oldest < e->suspect_ms)
                return oldest + e->suspect_ms;
        pthread_mutex_unlock(&e->mu);
        bool ok = ping(e);
        pthread_mutex_lock(&e->mu);
        if (e->stop || e->state == DOCKER_ENGINE_UNRESPONSIVE)
                return 1;
        now = time_mono_ms();
        oldest = oldest_start(e);
        if (!oldest)
                return 1; /* answered meanwhile: look again */
        if (!ok) {
                e->stall = false;
                enter(e, DOCKER_ENGINE_UNRESPONSIVE, oldest);
        } else if (now - oldest >= e->stall_ms && now - e->last_answer_ms >= e->stall_ms) {
                e->stall = true;
                enter(e, DOCKER_ENGINE_UNRESPONSIVE,
                      e->last_answer_ms > oldest ? e->last_answer_ms : oldest);
        }
        return now + e->probe_ms;
}

/* One step while UNRESPONSIVE. */
static int64_t check_recovered(struct docker_engine *e)
{
        pthread_mutex_unlock(&e->mu);
        bool ok = ping(e);
        pthread_mutex_lock(&e->mu);
        int64_t now = time_mono_ms();
        int64_t oldest = oldest_start(e);
        /* A call still stuck in a deadlocked engine would hang the next
         * one too: wait until it answered or timed out. */
        if (ok && (!oldest || now - oldest < e->suspect_ms))
                enter(e, e->answered_while_down ? DOCKER_ENGINE_UP : DOCKER_ENGINE_RECOVERING, 0);
        return now + e->probe_ms;
}

static void *engine_thread(void *arg)
{
        struct docker_engine *e = arg;
        enum docker_engine_state reported = DOCKER_ENGINE_UP;
        int64_t next_report = 0;

        pthread_mutex_lock(&e->mu);
        while (!e->stop) {
                int64_t deadline = e->state == DOCKER_ENGINE_UNRESPONSIVE ? check_recovered(e)
                                                                          : check_answering(e);
                if (e->stop)
                        break;
                int64_t now = time_mono_ms();
                if (e->state != reported) {
                        reported = e->state;
                        next_report = now + DOCKER_ENGINE_REPORT_MS;
                        notify(e, true);
                } else if (e->state != DOCKER_ENGINE_UP && now >= next_report) {
                        next_report = now + DOCKER_ENGINE_REPORT_MS;
                        notify(e, false);
                }
                if (e->stop)
                        break;
                if (e->state != reported)
                        continue;
                if (e->state != DOCKER_ENGINE_UP && (deadline <= 0 || deadline > next_report))
                        deadline = next_report;
                wait_until(e, deadline);
        }
        pthread_mutex_unlock(&e->mu);
        return NULL;
}

/* ---- lifecycle ----------------------------------------------------------- */

static void engine_free(struct docker_engine *e)
{
        if (e->thread_started) {
                pthread_mutex_lock(&e->mu);
                e->stop = true;
                pthread_cond_signal(&e->wake);
                pthread_mutex_unlock(&e->mu);
                docker_interrupt(e->probe); /* a ping in progress */
                pthread_join(e->thread, NULL);
        }
        docker_free(e->probe);
        image_memory_free(e->images);
        pthread_cond_destroy(&e->slots);
        pthread_cond_destroy(&e->wake);
        pthread_mutex_destroy(&e->mu);
        pthread_mutex_destroy(&e->watch_mu);
        free(e->url);
        free(e);
}

struct docker_engine *docker_engine_new(const char *url)
{
        struct docker_engine *e = calloc(1, sizeof(*e));

        if (!e)
                return NULL;
        pthread_mutex_init(&e->mu, NULL);
        pthread_mutex_init(&e->watch_mu, NULL);
        pthread_cond_init(&e->slots, NULL);
        cond_init_monotonic(&e->wake);
        e->refs = 1;
        e->suspect_ms = DOCKER_ENGINE_SUSPECT_MS;
        e->stall_ms = DOCKER_ENGINE_STALL_MS;
        e->probe_ms = DOCKER_ENGINE_PROBE_MS;
        e->ping_timeout_ms = DOCKER_ENGINE_PING_TIMEOUT_MS;
        e->state = DOCKER_ENGINE_UP;
        e->saved_limit = DOCKER_INFLIGHT_INITIAL;
        inflight_limit_init(&e->limit, DOCKER_INFLIGHT_INITIAL, 1, DOCKER_INFLIGHT_MAX);
        e->url = strdup(url);
        e->images = image_memory_new();
        if (!e->url || !e->images || docker_alloc(url, &e->probe, NULL) < 0 ||
            pthread_create(&e->thread, NULL, engine_thread, e) != 0) {
                engine_free(e);
                return NULL;
        }
        e->thread_started = true;
        return e;
}

struct docker_engine *docker_engine_ref(struct docker_engine *e)
{
        if (e) {
                pthread_mutex_lock(&e->mu);
                e->refs++;
                pthread_mutex_unlock(&e->mu);
        }
        return e;
}

void docker_engine_unref(struct docker_engine *e)
{
        if (!e)
                return;
        pthread_mutex_lock(&e->mu);
        bool last = --e->refs == 0;
        pthread_mutex_unlock(&e->mu);
        if (last)
                engine_free(e);
}

struct image_memory *docker_engine_images(struct docker *d)
{
        return d && d->engine ? d->engine->images : NULL;
}

int docker_engine_watch(struct docker *d, docker_engine_fn fn, void *userdata)
{
        struct docker_engine *e = d ? d->engine : NULL;
        int r = -ENOSPC;

        if (!e || !fn)
                return -EINVAL;
        pthread_mutex_lock(&e->watch_mu);
        for (int i = 0; i < DOCKER_ENGINE_WATCHERS; i++)
                if (!e->watchers[i].fn) {
                        e->watchers[i] = (struct watcher){fn, userdata};
                        r = 0;
                        break;
                }
        pthread_mutex_unlock(&e->watch_mu);
        return r;
}

void docker_engine_unwatch(struct docker *d, docker_engine_fn fn, void *userdata)
{
        struct docker_engine *e = d ? d->engine : NULL;

        if (!e)
                return;
        pthread_mutex_lock(&e->watch_mu);
        for (int i = 0; i < DOCKER_ENGINE_WATCHERS; i++)
                if (e->watchers[i].fn == fn && e->watchers[i].userdata == userdata)
                        e->watchers[i] = (struct watcher){0};
        pthread_mutex_unlock(&e->watch_mu);
}

void docker_engine_set_timing(struct docker *d, int64_t suspect_ms, int64_t stall_ms,
                              long ping_timeout_ms, int64_t probe_ms)
{
        struct docker_engine *e = d->engine;

        pthread_mutex_lock(&e->mu);
        e->suspect_ms = suspect_ms;
        e->stall_ms = stall_ms;
        e->ping_timeout_ms = ping_timeout_ms;
        e->probe_ms = probe_ms;
        pthread_cond_signal(&e->wake);
        pthread_mutex_unlock(&e->mu);
}

void docker_engine_fix_limit(struct docker *d, int n)
{
        struct docker_engine *e = d ? d->engine : NULL;

        if (!e)
                return;
        pthread_mutex_lock(&e->mu);
        n = n < 1 ? 1 : n > DOCKER_INFLIGHT_MAX ? DOCKER_INFLIGHT_MAX : n;
        e->limit.min = e->limit.max = n;
        e->saved_limit = n;
        if (e->state == DOCKER_ENGINE_UP)
                inflight_limit_set(&e->limit, n);
        pthread_cond_broadcast(&e->slots);
        pthread_mutex_unlock(&e->mu);
}
