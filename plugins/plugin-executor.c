/* plugin-executor.c: an executor plugin's runner — the plugin_executor
 * (reconciler.h) the Task reconciler drives, on top of the plugin's
 * berth_executor_ops.
 *
 * The reconciler never waits for the plugin: each Task's latest attempt is
 * an entry here, which its calls read or mark with work (a start to make, a
 * question to ask, a signal to send, a handle to forget), and the entry
 * joins a FIFO that the runner's one thread — the plugin's thread of
 * berth-plugin.h — works through, calling the plugin one call at a time.
 * Whatever a call teaches about an attempt is written back to its entry
 * and told to the listener with the Task's key. The FIFO holds entries, not
 * calls: an entry is in it at most once, so it is bounded by the entries
 * (PLUGIN_RUNS_MAX) and repeated news of one attempt coalesce.
 *
 * Entries are freed by the thread only: a forgotten one leaves the table
 * (find no longer sees it) but stays in the list until the thread has
 * killed it, if it ran, and told the plugin to forget it. The one
 * exception is an entry of a finished attempt, which entry_new may drop
 * (the oldest first) when the table is full: its Task's status holds all
 * there is to know, and the plugin is not told (the Task still exists).
 *
 * Output is not kept here: `berth logs` asks the plugin each time (a
 * request the thread answers between its other calls; the asking thread,
 * the API's log stream thread, waits for it at most PLUGIN_LOGS_WAIT_MS).
 */
#include <pthread.h>
#include <signal.h>

#include "berth-plugin.h"
#include "plugins-internal.h"

_Static_assert(PLUGIN_HANDLE_MAX == BERTH_EXECUTOR_HANDLE_MAX, "handle sizes differ");

struct run_entry {
        struct run_entry *next;      /* runner->entries */
        struct run_entry *next_work; /* runner->work */
        bool queued;                 /* in runner->work */
        bool busy;                   /* the thread works on it (the lock let go) */
        bool forgotten;              /* out of the table: kill, forget, free */
        char uid[64];
        char key[EXEC_KEY_MAX];
        struct plugin_attempt a;
        char *task_json;  /* the start still to make (STARTING) */
        bool ask;         /* observe */
        int64_t asked_ms; /* when observe last answered */
        int signo;        /* a signal to send once it runs; 0: none */
};

/* A `berth logs` waiting for the plugin's logs call; freed by the last of
 * the waiter and the thread to let go (refs, under the runner's lock). */
struct logs_request {
        struct logs_request *next;
        int refs;
        char handle[PLUGIN_HANDLE_MAX];
        bool done;
        int rc;
        char *out; /* PLUGIN_LOG_MAX + 1 bytes */
        size_t len;
};

struct executor_runner {
        const struct berth_executor_ops *ops;
        void *ctx;
        const char *name;
        pthread_t thread;
        bool thread_started;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct run_entry *entries;
        size_t n_entries; /* not forgotten */
        struct run_entry *work, *work_tail;
        struct logs_request *logs, *logs_tail;
        bool stop;
        exec_change_fn changed;
        void *userdata;
        int64_t (*now_ms)(void);
};

static struct run_entry *find(struct executor_runner *r, const char *uid)
{
        for (struct run_entry *e = r->entries; e; e = e->next)
                if (!e->forgotten && streq(e->uid, uid))
                        return e;
        return NULL;
}

static struct run_entry *find_handle(struct executor_runner *r, const char *handle)
{
        for (struct run_entry *e = r->entries; e; e = e->next)
                if (!e->forgotten && e->a.handle[0] && streq(e->a.handle, handle))
                        return e;
        return NULL;
}

/* Under the lock. */
static void queue_work(struct executor_runner *r, struct run_entry *e)
{
        if (e->queued)
                return;
        e->queued = true;
        e->next_work = NULL;
        if (r->work_tail)
                r->work_tail->next_work = e;
        else
                r->work = e;
        r->work_tail = e;
        pthread_cond_broadcast(&r->cond); /* shared with the logs waiters */
}

static void entry_free(struct run_entry *e)
{
        free(e->task_json);
        free(e);
}

static void logs_request_unref(struct logs_request *q)
{
        if (--q->refs > 0)
                return;
        free(q->out);
        free(q);
}

/* Under the lock: out of the list, freed. */
static void entry_drop(struct executor_runner *r, struct run_entry *e)
{
        for (struct run_entry **p = &r->entries; *p; p = &(*p)->next)
                if (*p == e) {
                        *p = e->next;
                        break;
                }
        entry_free(e);
}

/* Under the lock: out of the table; the thread kills and forgets it. */
static void entry_forget(struct executor_runner *r, struct run_entry *e)
{
        e->forgotten = true;
        r->n_entries--;
        queue_work(r, e);
}

static bool is_live(enum plugin_attempt_state s)
{
        return s == PLUGIN_ATTEMPT_RUNNING || s == PLUGIN_ATTEMPT_ADOPTING;
}

/* ---- the plugin's thread --------------------------------------------------- */

/* Under the lock, which the listener is set under too: once listen(NULL)
 * returns, the old listener is never called again. It must not call the
 * runner (the controller's only enqueues the key). */
static void tell(struct executor_runner *r, const char *key)
{
        if (r->changed)
                r->changed(key, r->userdata);
}

/* Asks the plugin about e's handle: under the lock, which it lets go for
 * the call. */
static void ask(struct executor_runner *r, struct run_entry *e, const char *handle)
{
        int state = BERTH_EXECUTOR_UNKNOWN, exit_code = -1;
        pthread_mutex_unlock(&r->lock);
        int rc = r->ops->observe(r->ctx, handle, &state, &exit_code);
        pthread_mutex_lock(&r->lock);
        if (e->forgotten || !streq(e->a.handle, handle))
                return;
        e->asked_ms = r->now_ms();
        if (rc == 0 && state == BERTH_EXECUTOR_UNKNOWN) {
                e->a.state = PLUGIN_ATTEMPT_LOST;
        } else if (rc == 0 && state == BERTH_EXECUTOR_ENDED) {
                if (e->a.state != PLUGIN_ATTEMPT_ENDED)
                        e->a.finished_ms = r->now_ms();
                e->a.state = PLUGIN_ATTEMPT_ENDED;
                e->a.exit_code = exit_code;
        } else if (rc == 0 || e->a.state == PLUGIN_ATTEMPT_ADOPTING) {
                /* rc != 0: it cannot tell now; the next change asks again,
                 * and an adopted attempt is taken to run meanwhile. */
                e->a.state = PLUGIN_ATTEMPT_RUNNING;
        }
}

/* Answers the oldest logs request: under the lock, let go for the call. */
static void answer_logs(struct executor_runner *r)
{
        struct logs_request *q = r->logs;

        r->logs = q->next;
        if (!r->logs)
                r->logs_tail = NULL;
        pthread_mutex_unlock(&r->lock);
        size_t len = 0;
        int rc = -ENOSYS;
        if (r->ops->logs) {
                rc = r->ops->logs(r->ctx, q->handle, q->out, PLUGIN_LOG_MAX, &len) == 0 ? 0 : -EIO;
                len = len > PLUGIN_LOG_MAX ? PLUGIN_LOG_MAX : len;
        }
        pthread_mutex_lock(&r->lock);
        q->rc = rc;
        q->len = rc == 0 ? len : 0;
        q->done = true;
        logs_request_unref(q);
        pthread_cond_broadcast(&r->cond);
}

enum work_result {
        WORK_QUIET,   /* nothing to tell */
        WORK_CHANGED, /* tell the listener */
        WORK_FREED,   /* e is gone */
};

/* One step of e's work, under the lock (let go for the plugin's calls). */
static enum work_result work_on(struct executor_runner *r, struct run_entry *e)
{
        char handle[PLUGIN_HANDLE_MAX];

        (void)str_copy(handle, sizeof(handle), e->a.handle);
        if (e->forgotten) {
                bool live = is_live(e->a.state) && handle[0];
                pthread_mutex_unlock(&r->lock);
                if (live)
                        (void)r->ops->signal(r->ctx, handle, SIGKILL);
                if (handle[0] && r->ops->forget)
                        r->ops->forget(r->ctx, handle);
                pthread_mutex_lock(&r->lock);
                entry_drop(r, e);
                return WORK_FREED;
        }
        if (e->a.state == PLUGIN_ATTEMPT_STARTING && e->task_json) {
                char *task_json = e->task_json;
                int attempt = e->a.attempt;
                char got[PLUGIN_HANDLE_MAX] = "", error[256] = "";
                e->task_json = NULL;
                pthread_mutex_unlock(&r->lock);
                int rc = r->ops->start(r->ctx, task_json, attempt, got, sizeof(got), error,
                                       sizeof(error));
                free(task_json);
                got[sizeof(got) - 1] = error[sizeof(error) - 1] = '\0';
                pthread_mutex_lock(&r->lock);
                if (rc == 0 && !plugin_handle_is_valid(got)) {
                        rc = -1;
                        snprintf(error, sizeof(error), "executor %s: start gave an invalid handle",
                                 r->name);
                }
                if (rc == 0) {
                        (void)str_copy(e->a.handle, sizeof(e->a.handle), got);
                        e->a.state = PLUGIN_ATTEMPT_RUNNING;
                        e->a.started_ms = r->now_ms();
                        if (e->forgotten)
                                return WORK_QUIET; /* its turn comes: killed, forgotten */
                        /* Asked at once: an attempt may end before its
                         * executor_changed can name a handle berthd knows. */
                        ask(r, e, got);
                } else {
                        e->a.state = PLUGIN_ATTEMPT_START_FAILED;
                        snprintf(e->a.error, sizeof(e->a.error), "%s",
                                 error[0] ? error : "the executor refused to start it");
                }
                return WORK_CHANGED;
        }
        if (e->signo && is_live(e->a.state) && handle[0]) {
                int signo = e->signo;
                e->signo = 0;
                pthread_mutex_unlock(&r->lock);
                (void)r->ops->signal(r->ctx, handle, signo);
                pthread_mutex_lock(&r->lock);
                return WORK_QUIET;
        }
        if (e->ask && handle[0]) {
                e->ask = false;
                ask(r, e, handle);
                return WORK_CHANGED;
        }
        return WORK_QUIET;
}

/* Whether e has work left (under the lock). */
static bool has_work(const struct run_entry *e)
{
        if (e->forgotten)
                return true;
        if (e->a.state == PLUGIN_ATTEMPT_STARTING && e->task_json)
                return true;
        bool live = is_live(e->a.state) && e->a.handle[0];
        return (live && e->signo) || (e->a.handle[0] && e->ask);
}

static void *runner_thread(void *arg)
{
        struct executor_runner *r = arg;

        pthread_mutex_lock(&r->lock);
        for (;;) {
                while (!r->work && !r->logs && !r->stop)
                        pthread_cond_wait(&r->cond, &r->lock);
                if (r->stop)
                        break;
                if (r->logs) {
                        answer_logs(r);
                        continue;
                }
                struct run_entry *e = r->work;
                r->work = e->next_work;
                if (!r->work)
                        r->work_tail = NULL;
                e->queued = false;
                char key[EXEC_KEY_MAX];
                (void)str_copy(key, sizeof(key), e->key);
                e->busy = true;
                enum work_result w = work_on(r, e);
                if (w != WORK_FREED)
                        e->busy = false;
                if (w != WORK_FREED && has_work(e))
                        queue_work(r, e);
                if (w == WORK_CHANGED)
                        tell(r, key);
        }
        pthread_mutex_unlock(&r->lock);
        return NULL;
}

/* ---- what the reconciler calls --------------------------------------------- */

static void runner_listen(void *impl, exec_change_fn fn, void *userdata)
{
        struct executor_runner *r = impl;

        LOCK_SCOPE(&r->lock);
        r->changed = fn;
        r->userdata = userdata;
}

static bool is_finished(enum plugin_attempt_state s)
{
        return s == PLUGIN_ATTEMPT_ENDED || s == PLUGIN_ATTEMPT_START_FAILED ||
               s == PLUGIN_ATTEMPT_LOST;
}

/* Drops the entry of the attempt that finished first, if any, to make room
 * (under the lock). */
static bool evict_finished(struct executor_runner *r)
{
        struct run_entry *oldest = NULL;

        for (struct run_entry *e = r->entries; e; e = e->next)
                if (!e->forgotten && !e->queued && !e->busy && is_finished(e->a.state) &&
                    (!oldest || e->a.finished_ms < oldest->a.finished_ms))
                        oldest = e;
        if (!oldest)
                return false;
        r->n_entries--;
        entry_drop(r, oldest);
        return true;
}

/* A new entry for (uid, attempt), replacing the Task's older one (under the lock). */
static int entry_new(struct executor_runner *r, const char *key, const char *uid, int attempt,
                     struct run_entry **ret, struct berth_error *err)
{
        struct run_entry *old = find(r, uid);

        if (old)
                entry_forget(r, old);
        if (r->n_entries >= PLUGIN_RUNS_MAX && !evict_finished(r))
                return berth_error_set(err, -ENOSPC, "executor %s: %d attempts run already",
                                       r->name, PLUGIN_RUNS_MAX);
        struct run_entry *e = calloc(1, sizeof(*e));
        if (!e)
                return berth_error_set(err, -ENOMEM, "out of memory");
        if (str_copy(e->uid, sizeof(e->uid), uid) < 0 ||
            str_copy(e->key, sizeof(e->key), key) < 0) {
                free(e);
                return berth_error_set(err, -ENAMETOOLONG, "executor %s: key too long", r->name);
        }
        e->a.attempt = attempt;
        e->a.exit_code = -1;
        e->next = r->entries;
        r->entries = e;
        r->n_entries++;
        *ret = e;
        return 0;
}

static int runner_start(void *impl, const char *key, const char *uid, int attempt,
                        const char *task_json, struct berth_error *err)
{
        struct executor_runner *r = impl;
        LOCK_SCOPE(&r->lock);
        struct run_entry *e = find(r, uid);

        if (e && e->a.attempt == attempt)
                return 0; /* idempotent: this attempt is known */
        char *copy = strdup(task_json);
        if (!copy)
                return berth_error_set(err, -ENOMEM, "out of memory");
        int rc = entry_new(r, key, uid, attempt, &e, err);
        if (rc < 0) {
                free(copy);
                return rc;
        }
        e->a.state = PLUGIN_ATTEMPT_STARTING;
        e->task_json = copy;
        queue_work(r, e);
        return 0;
}

static int runner_adopt(void *impl, const char *key, const char *uid, int attempt,
                        const char *handle, struct berth_error *err)
{
        struct executor_runner *r = impl;
        LOCK_SCOPE(&r->lock);
        struct run_entry *e = find(r, uid);

        if (e && e->a.attempt == attempt)
                return 0;
        if (!plugin_handle_is_valid(handle))
                return berth_error_set(err, -EINVAL, "executor %s: invalid handle in the status",
                                       r->name);
        int rc = entry_new(r, key, uid, attempt, &e, err);
        if (rc < 0)
                return rc;
        e->a.state = PLUGIN_ATTEMPT_ADOPTING;
        e->ask = true;
        (void)str_copy(e->a.handle, sizeof(e->a.handle), handle);
        queue_work(r, e);
        return 0;
}

static int runner_observe(void *impl, const char *uid, struct plugin_attempt *ret)
{
        struct executor_runner *r = impl;
        LOCK_SCOPE(&r->lock);
        struct run_entry *e = find(r, uid);

        if (!e)
                return -ENOENT;
        *ret = e->a;
        /* A safety net for a lost executor_changed, not a poll: a running
         * attempt is asked about again when its Task is reconciled (an
         * event, the controller's resync) and the last answer is old. */
        if (is_live(e->a.state) && e->a.handle[0] && !e->ask &&
            r->now_ms() - e->asked_ms >= PLUGIN_RECHECK_MS) {
                e->ask = true;
                queue_work(r, e);
        }
        return 0;
}

static int runner_signal(void *impl, const char *uid, int signo)
{
        struct executor_runner *r = impl;
        LOCK_SCOPE(&r->lock);
        struct run_entry *e = find(r, uid);

        if (!e)
                return -ENOENT;
        /* SIGKILL is not undone by a later SIGTERM. */
        if (e->signo != SIGKILL)
                e->signo = signo;
        queue_work(r, e);
        return 0;
}

static void runner_forget(void *impl, const char *uid)
{
        struct executor_runner *r = impl;
        LOCK_SCOPE(&r->lock);
        struct run_entry *e = find(r, uid);

        if (e)
                entry_forget(r, e);
}

static void runner_forget_key(void *impl, const char *key)
{
        struct executor_runner *r = impl;
        LOCK_SCOPE(&r->lock);

        for (struct run_entry *e = r->entries; e; e = e->next)
                if (!e->forgotten && streq(e->key, key))
                        entry_forget(r, e);
}

static int runner_logs(void *impl, const char *uid, char **ret, size_t *ret_len)
{
        struct executor_runner *r = impl;
        struct logs_request *q = calloc(1, sizeof(*q));
        char *out = malloc(PLUGIN_LOG_MAX + 1);

        if (!q || !out) {
                free(q);
                free(out);
                return -ENOMEM;
        }
        q->out = out;
        q->refs = 2;
        LOCK_SCOPE(&r->lock);
        struct run_entry *e = find(r, uid);
        if (!e || !e->a.handle[0] || r->stop) {
                q->refs = 1;
                logs_request_unref(q);
                return -ENOENT;
        }
        (void)str_copy(q->handle, sizeof(q->handle), e->a.handle);
        if (r->logs_tail)
                r->logs_tail->next = q;
        else
                r->logs = q;
        r->logs_tail = q;
        pthread_cond_broadcast(&r->cond);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += PLUGIN_LOGS_WAIT_MS / 1000;
        int w = 0;
        while (!q->done && w != ETIMEDOUT)
                w = pthread_cond_timedwait(&r->cond, &r->lock, &until);
        int rc = q->done ? q->rc : -ETIMEDOUT;
        if (rc == 0) {
                q->out[q->len] = '\0';
                *ret = q->out;
                *ret_len = q->len;
                q->out = NULL;
        }
        logs_request_unref(q);
        return rc;
}

const struct plugin_executor_ops executor_runner_ops = {
    .listen = runner_listen,
    .start = runner_start,
    .adopt = runner_adopt,
    .observe = runner_observe,
    .signal = runner_signal,
    .forget = runner_forget,
    .forget_key = runner_forget_key,
    .logs = runner_logs,
};

/* ---- life ------------------------------------------------------------------ */

bool plugin_handle_is_valid(const char *h)
{
        size_t n = 0;

        for (; h && h[n]; n++)
                if (h[n] <= ' ' || h[n] > '~')
                        return false;
        return n > 0 && n < PLUGIN_HANDLE_MAX;
}

void executor_runner_set_clock(struct executor_runner *r, int64_t (*now_ms)(void))
{
        LOCK_SCOPE(&r->lock);
        r->now_ms = now_ms;
}

void executor_runner_changed(struct executor_runner *r, const char *handle)
{
        if (!r || !handle)
                return;
        LOCK_SCOPE(&r->lock);
        struct run_entry *e = find_handle(r, handle);

        if (!e)
                return;
        e->ask = true;
        queue_work(r, e);
}

int executor_runner_new(const struct berth_executor_ops *ops, void *ctx, const char *name,
                        struct executor_runner **ret)
{
        struct executor_runner *r = calloc(1, sizeof(*r));

        if (!r)
                return -ENOMEM;
        r->ops = ops;
        r->ctx = ctx;
        r->name = name;
        r->now_ms = time_now_ms;
        pthread_mutex_init(&r->lock, NULL);
        pthread_cond_init(&r->cond, NULL);
        int rc = pthread_create(&r->thread, NULL, runner_thread, r);
        if (rc != 0) {
                executor_runner_free(r);
                return -rc;
        }
        r->thread_started = true;
        *ret = r;
        return 0;
}

void executor_runner_free(struct executor_runner *r)
{
        if (!r)
                return;
        if (r->thread_started) {
                pthread_mutex_lock(&r->lock);
                r->stop = true;
                pthread_cond_broadcast(&r->cond);
                pthread_mutex_unlock(&r->lock);
                pthread_join(r->thread, NULL);
        }
        /* Their waiters time out (none is left: berthd stops its API
         * first). */
        while (r->logs) {
                struct logs_request *q = r->logs;
                r->logs = q->next;
                logs_request_unref(q);
        }
        /* What still runs goes on: a restart of berthd adopts it. */
        while (r->entries) {
                struct run_entry *e = r->entries;
                r->entries = e->next;
                entry_free(e);
        }
        pthread_cond_destroy(&r->cond);
        pthread_mutex_destroy(&r->lock);
        free(r);
}
