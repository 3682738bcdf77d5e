/* task-plan.c: the pure Task planner (no I/O, no clock, no randomness).
 *
 * The planner is level-triggered: it looks at the whole picture every time
 * (spec, last written status, containers observed, image presence) and says
 * what to do next and what the status should read once that is done. Running
 * it twice on the same input gives the same answer, which is what makes the
 * apply step safe to repeat after a crash.
 */
#include <math.h>

#include "reconciler.h"

/* After SIGKILL the die event brings the Task back; this timer is the safety
 * net should it be missed. */
#define TASK_KILLED_RECHECK_MS 5000

static const char *const phase_names[] = {
    [TASK_PHASE_PENDING] = "Pending",
    [TASK_PHASE_RUNNING] = "Running",
    [TASK_PHASE_SUCCEEDED] = "Succeeded",
    [TASK_PHASE_FAILED] = "Failed",
};

const char *task_phase_to_string(enum task_phase p)
{
        if ((size_t)p >= ARRAY_SIZE(phase_names))
                return "Unknown";
        return phase_names[p];
}

int task_phase_from_string(const char *s, enum task_phase *ret)
{
        for (size_t i = 0; i < ARRAY_SIZE(phase_names); i++)
                if (streq(s, phase_names[i])) {
                        *ret = (enum task_phase)i;
                        return 0;
                }
        return -EINVAL;
}

static const char *const action_names[] = {
    [TASK_ACTION_ADD_FINALIZER] = "AddFinalizer",
    [TASK_ACTION_ADMIT] = "Admit",
    [TASK_ACTION_INSPECT_IMAGE] = "InspectImage",
    [TASK_ACTION_PULL_IMAGE] = "PullImage",
    [TASK_ACTION_INSPECT] = "Inspect",
    [TASK_ACTION_CREATE] = "Create",
    [TASK_ACTION_START] = "Start",
    [TASK_ACTION_KILL] = "Kill",
    [TASK_ACTION_REMOVE] = "Remove",
    [TASK_ACTION_DELETE] = "Delete",
    [TASK_ACTION_FINALIZE] = "Finalize",
};

const char *task_action_type_to_string(enum task_action_type t)
{
        if ((size_t)t >= ARRAY_SIZE(action_names))
                return "Unknown";
        return action_names[t];
}

/* ---- backoff ---------------------------------------------------------- */

/* FNV-1a over uid and attempt, then a final avalanche (splitmix64) so that
 * neighbouring attempts of one uid get unrelated jitter. */
static uint64_t jitter_hash(const char *uid, int attempt)
{
        uint64_t h = 0xcbf29ce484222325ULL;
        for (const char *p = uid ? uid : ""; *p; p++) {
                h ^= (unsigned char)*p;
                h *= 0x100000001b3ULL;
        }
        for (int i = 0; i < 4; i++) {
                h ^= (unsigned char)((unsigned)attempt >> (8 * i));
                h *= 0x100000001b3ULL;
        }
        h ^= h >> 30;
        h *= 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 27;
        h *= 0x94d049bb133111ebULL;
        h ^= h >> 31;
        return h;
}

int64_t task_backoff_delay_ms(const struct task_spec *spec, const char *uid, int next_attempt)
{
        double initial = spec->backoff_initial_ms > 0 ? (double)spec->backoff_initial_ms : 0;
        double max = spec->backoff_max_ms > 0 ? (double)spec->backoff_max_ms : 0;
        double factor = spec->backoff_factor >= 1 ? spec->backoff_factor : 1;
        int n = next_attempt < 2 ? 2 : next_attempt;

        /* Stop multiplying once past the cap: factor^n overflows quickly. */
        double base = initial;
        for (int i = 2; i < n && base < max; i++)
                base *= factor;
        if (base > max)
                base = max;

        /* Up to 10% more, the same for the same (uid, attempt) every time. */
        double jitter = base * (double)(jitter_hash(uid, n) % 1001) / 10000.0;
        double total = base + jitter;
        if (total >= max) /* exact integer cap: doubles round large values */
                return spec->backoff_max_ms > 0 ? spec->backoff_max_ms : 0;
        return (int64_t)total;
}

/* ---- planner ---------------------------------------------------------- */

static bool state_is_active(enum docker_state s)
{
        return s == DOCKER_STATE_RUNNING || s == DOCKER_STATE_PAUSED ||
               s == DOCKER_STATE_RESTARTING;
}

static bool str_same(const char *a, const char *b)
{
        return a == b || (a && b && strcmp(a, b) == 0);
}

static bool phase_is_finished(enum task_phase p)
{
        return p == TASK_PHASE_SUCCEEDED || p == TASK_PHASE_FAILED;
}

/* Status times are written with second precision; rounding the retry time up
 * keeps it exact through a write and a read, and never retries early. */
static int64_t ceil_to_second(int64_t ms)
{
        if (ms <= 0)
                return ms;
        return (ms + 999) / 1000 * 1000;
}

static void add_action(struct task_plan *p, enum task_action_type type, int attempt,
                       const char *container_id, const char *signal)
{
        /* Capped: a plan that needs more (removing many containers) is
         * completed by the next round, which sees fewer containers. */
        if (p->n_actions >= TASK_PLAN_ACTIONS_MAX)
                return;
        p->actions[p->n_actions++] = (struct task_action){
            .type = type,
            .attempt = attempt,
            .container_id = container_id,
            .signal = signal,
        };
}

static void requeue_at(struct task_plan *p, int64_t now, int64_t at)
{
        int64_t d = at > now ? at - now : 0;
        if (p->requeue_after_ms < 0 || d < p->requeue_after_ms)
                p->requeue_after_ms = d;
}

static void set_message(struct task_plan *p, const char *fmt, ...) _printf_(2, 3);
static void set_message(struct task_plan *p, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = vsnprintf(p->message, sizeof(p->message), fmt, ap);
        va_end(ap);
        if (r < 0)
                p->message[0] = '\0';
        p->status.message = p->message;
}

static void finish(struct task_plan *p, enum task_phase phase, const char *reason, int64_t at)
{
        p->status.phase = phase;
        p->status.reason = reason;
        p->status.completion_ms = at;
        p->status.next_attempt_ms = 0;
}

static void fail_with(struct task_plan *p, const struct task_plan_input *in, const char *reason,
                      const char *message)
{
        finish(p, TASK_PHASE_FAILED, reason, in->now_ms);
        p->status.message = message;
}

static const char *create_error_reason(const struct task_plan_input *in)
{
        return in->create_error_reason ? in->create_error_reason : "ContainerCreateFailed";
}

/* Why a Task is stopped by spec.shutdown: Stop. */
#define STOP_REASON  "Stopped"
#define STOP_MESSAGE "stopped by request (spec.shutdown: Stop)"

/* With DeadlineExceeded in retryOn, activeDeadlineSeconds limits each
 * attempt (from its container's start) and an attempt past it is a failed,
 * retried attempt; otherwise it limits the whole Task from its first start. */
static bool deadline_per_attempt(const struct task_spec *spec)
{
        return spec->active_deadline_ms > 0 && (spec->retry_on & RETRY_ON_DEADLINE_EXCEEDED);
}

/* True when the deadline counted from 'from' has passed: reason and message
 * say so (the caller decides what that means now). Otherwise arms a timer
 * for it. attempt > 0: a per-attempt deadline, named in the message. Only
 * meaningful once 'from' is known. */
static bool deadline_passed(struct task_plan *p, const struct task_plan_input *in, int64_t from,
                            int attempt)
{
        int64_t limit = in->spec.active_deadline_ms;
        if (limit <= 0 || from <= 0)
                return false;
        int64_t deadline = from + limit;
        if (in->now_ms < deadline) {
                requeue_at(p, in->now_ms, deadline);
                return false;
        }
        char d[32];
        duration_format(limit, d, sizeof(d));
        p->status.reason = "DeadlineExceeded";
        p->status.exit_known = false;
        p->status.exit_code = 0;
        if (attempt > 0)
                set_message(p, "attempt %d exceeded the active deadline of %s", attempt, d);
        else
                set_message(p, "active deadline of %s exceeded", d);
        return true;
}

/* spec.shutdown before anything runs (or between attempts): Failed at once. */
static void fail_stopped(struct task_plan *p, const struct task_plan_input *in)
{
        fail_with(p, in, STOP_REASON, STOP_MESSAGE);
        p->status.terminating_ms = 0;
}

/* The next attempt: image checks per pull policy, then CREATE. Failures the
 * apply step reported on an earlier round (image_error, create_error) end
 * the task here, so the status names them. */
static void plan_create(struct task_plan *p, const struct task_plan_input *in, int attempt)
{
        const struct task_spec *spec = &in->spec;

        /* Not before its Secrets can be had: nothing is pulled or made, and
         * the Task waits as it is (Pending, or between attempts). */
        if (in->config_error) {
                p->status.reason = "CreateContainerConfigError";
                p->status.message = in->config_error;
                requeue_at(p, in->now_ms, in->now_ms + TASK_CONFIG_RETRY_MS);
                return;
        }
        /* A run slot before anything is pulled or made. Refused: Queued,
         * with no timer (a freed slot wakes it). */
        if (in->needs_admission) {
                if (!in->queued_reason) {
                        add_action(p, TASK_ACTION_ADMIT, attempt, NULL, NULL);
                        return;
                }
                p->status.reason = in->queued_reason;
                p->status.message = in->queued_message;
                p->status.queued = TASK_QUEUED_TRUE;
                p->status.queued_reason = in->queued_reason;
                p->status.queued_message = in->queued_message ? in->queued_message : "";
                return;
        }
        if (p->status.queued == TASK_QUEUED_TRUE) {
                p->status.queued = TASK_QUEUED_FALSE;
                p->status.queued_reason = "Admitted";
                p->status.queued_message = "";
                if (str_same(p->status.reason, in->status.queued_reason)) {
                        p->status.reason = NULL;
                        p->status.message = NULL;
                }
        }
        if (in->no_image) {
                if (in->create_error) {
                        fail_with(p, in, create_error_reason(in), in->create_error);
                        return;
                }
                goto create;
        }
        if (in->image_unknown && spec->pull_policy != PULL_ALWAYS && !in->image_error) {
                /* Whether to pull (or fail, with Never) depends on it: ask,
                 * then plan the create. */
                add_action(p, TASK_ACTION_INSPECT_IMAGE, attempt, NULL, NULL);
                return;
        }
        if (in->image_error) {
                fail_with(p, in, "ImagePullFailed", in->image_error);
                return;
        }
        if (in->create_error) {
                fail_with(p, in, create_error_reason(in), in->create_error);
                return;
        }
        if (spec->pull_policy == PULL_NEVER && !in->image_present) {
                finish(p, TASK_PHASE_FAILED, "ImagePullFailed", in->now_ms);
                set_message(p, "image %s is not present and imagePullPolicy is Never",
                            spec->image ? spec->image : "");
                return;
        }
        if (spec->pull_policy == PULL_ALWAYS ||
            (spec->pull_policy == PULL_IF_NOT_PRESENT && !in->image_present))
                add_action(p, TASK_ACTION_PULL_IMAGE, attempt, NULL, NULL);
create:
        add_action(p, TASK_ACTION_CREATE, attempt, NULL, NULL);

        /* What the status reads once the container exists. */
        p->status.attempts = attempt;
        p->status.container_id = NULL;
        p->status.next_attempt_ms = 0;
        p->status.reason = NULL;
        p->status.message = NULL;
        p->status.exit_known = false;
        p->status.exit_code = 0;
}

/* Between attempts: phase stays Running (condition Running is False with
 * reason BackOff); a whole-Task deadline keeps counting; a stop ends it. */
static void plan_backoff_wait(struct task_plan *p, const struct task_plan_input *in, int attempt)
{
        p->status.phase = TASK_PHASE_RUNNING;
        if (in->spec.shutdown) {
                fail_stopped(p, in);
                return;
        }
        /* A per-attempt deadline does not count the wait: nothing runs. */
        if (!deadline_per_attempt(&in->spec) && deadline_passed(p, in, p->status.start_ms, 0)) {
                /* Nothing runs between attempts: failed at once. */
                finish(p, TASK_PHASE_FAILED, p->status.reason, in->now_ms);
                return;
        }
        if (in->now_ms >= p->status.next_attempt_ms) {
                plan_create(p, in, attempt + 1);
                return;
        }
        requeue_at(p, in->now_ms, p->status.next_attempt_ms);
}

static const char *failure_reason(unsigned why)
{
        switch (why) {
        case RETRY_ON_OOM_KILLED:
                return "OOMKilled";
        case RETRY_ON_DEADLINE_EXCEEDED:
                return "DeadlineExceeded";
        case RETRY_ON_CONTAINER_LOST:
                return "ContainerLost";
        default:
                return "Error";
        }
}

/* What ended an exited attempt (details known). */
static unsigned failure_of(const struct observed_container *c)
{
        return c->oom_killed ? RETRY_ON_OOM_KILLED : RETRY_ON_ERROR;
}

/* Why the retry rules (not backoffLimit) refuse another attempt, into buf:
 * "retryOn does not list OOMKilled". Only asked under OnFailure. */
static void not_retried_because(const struct task_spec *spec, unsigned why, char *buf, size_t size)
{
        if (!(spec->retry_on & why))
                snprintf(buf, size, "retryOn does not list %s", failure_reason(why));
        else if (spec->retry_exit_codes_mode == RETRY_EXIT_CODES_IN)
                snprintf(buf, size, "retryExitCodes.in does not list it");
        else
                snprintf(buf, size, "retryExitCodes.notIn lists it");
}

/* Attempt 'attempt' ended without success for the reason why (a
 * RETRY_ON_* bit): c is its container (exited, with details), or NULL when
 * the container was confirmed missing. Retried as the spec's retry rules
 * and backoffLimit allow; otherwise the Task fails. */
static void plan_attempt_failed(struct task_plan *p, const struct task_plan_input *in, int attempt,
                                const struct observed_container *c, unsigned why)
{
        const struct task_spec *spec = &in->spec;
        struct task_status *st = &p->status;
        bool known = c && c->details_known;
        int code = known ? c->exit_code : 0;
        bool allowed = task_retry_allowed(spec, why, code);
        bool retry = allowed && attempt - 1 < spec->backoff_limit;
        int64_t finished = c && c->finished_ms > 0 ? c->finished_ms : in->now_ms;
        const char *reason = failure_reason(why);
        char d[32], what[128], after[32] = "";

        st->exit_known = known;
        st->exit_code = code;
        st->terminating_ms = 0;
        if (c && st->start_ms <= 0 && c->started_ms > 0)
                st->start_ms = c->started_ms;
        duration_format(spec->active_deadline_ms, d, sizeof(d));

        switch (why) {
        case RETRY_ON_CONTAINER_LOST:
                snprintf(what, sizeof(what), "the container of attempt %d disappeared", attempt);
                break;
        case RETRY_ON_DEADLINE_EXCEEDED:
                snprintf(what, sizeof(what), "attempt %d exceeded the active deadline of %s",
                         attempt, d);
                break;
        case RETRY_ON_OOM_KILLED:
                snprintf(what, sizeof(what), "attempt %d was OOM-killed (exit code %d)", attempt,
                         code);
                break;
        default:
                snprintf(what, sizeof(what), "attempt %d failed with exit code %d", attempt, code);
                break;
        }

        if (retry) {
                if (st->next_attempt_ms <= 0)
                        st->next_attempt_ms = ceil_to_second(
                            finished + task_backoff_delay_ms(spec, in->uid, attempt + 1));
                char at[RFC3339_MAX];
                time_format_rfc3339(st->next_attempt_ms, at);
                st->reason = reason;
                set_message(p, "%s; retrying at %s", what, at);
                plan_backoff_wait(p, in, attempt);
                return;
        }

        /* Retries used up: an exit code says no more than that. */
        if (allowed && why == RETRY_ON_ERROR)
                reason = "BackoffLimitExceeded";
        finish(p, TASK_PHASE_FAILED, reason, finished);
        if (attempt > 1)
                snprintf(after, sizeof(after), " after %d attempts", attempt);
        char outcome[192];
        switch (why) {
        case RETRY_ON_CONTAINER_LOST:
                snprintf(outcome, sizeof(outcome), "%s", what);
                break;
        case RETRY_ON_DEADLINE_EXCEEDED:
                snprintf(outcome, sizeof(outcome), "active deadline of %s exceeded%s", d, after);
                break;
        default:
                snprintf(outcome, sizeof(outcome), "%sexit code %d%s",
                         why == RETRY_ON_OOM_KILLED ? "OOM-killed, " : "", code, after);
                break;
        }
        if (spec->restart_policy == RESTART_ON_FAILURE && !allowed) {
                char because[64];

                not_retried_because(spec, why, because, sizeof(because));
                set_message(p, "%s: not retried (%s)", outcome, because);
        } else {
                set_message(p, "%s", outcome);
        }
}

/* Stops begin on whole seconds: status times have second precision, and
 * the grace period must read back the same. */
static int64_t floor_to_second(int64_t ms)
{
        return ms / 1000 * 1000;
}

static void plan_running(struct task_plan *p, const struct task_plan_input *in, int attempt,
                         const struct observed_container *c)
{
        struct task_status *st = &p->status;

        st->phase = TASK_PHASE_RUNNING;
        st->next_attempt_ms = 0;
        st->reason = NULL;
        st->message = NULL;
        st->exit_known = false;
        st->exit_code = 0;
        if (st->start_ms <= 0)
                st->start_ms = c->started_ms > 0 ? c->started_ms : in->now_ms;

        bool stop;
        if (in->spec.shutdown) {
                st->reason = STOP_REASON;
                st->message = STOP_MESSAGE;
                stop = true;
        } else if (deadline_per_attempt(&in->spec)) {
                /* Its own start: known from the start event or an inspect;
                 * a cache filled from a list lacks it until then. */
                if (c->started_ms <= 0) {
                        add_action(p, TASK_ACTION_INSPECT, attempt, c->id, NULL);
                        return;
                }
                stop = deadline_passed(p, in, c->started_ms, attempt);
        } else {
                stop = deadline_passed(p, in, st->start_ms, 0);
        }
        if (stop) {
                /* Terminal only once stopped: SIGTERM now, Failed (or the
                 * retry of a per-attempt deadline) when it exits. */
                st->terminating_ms = floor_to_second(in->now_ms);
                add_action(p, TASK_ACTION_KILL, attempt, c->id, "SIGTERM");
                requeue_at(p, in->now_ms, st->terminating_ms + TASK_KILL_GRACE_MS);
        }
}

/* A stop in progress (the status says why): SIGKILL once the grace period is
 * over; once nothing runs any more, Failed for the reason of the stop, or,
 * for a per-attempt deadline, a failed attempt the retry rules judge. c is
 * the current attempt's container, NULL when the cache has none. */
static void plan_stopping(struct task_plan *p, const struct task_plan_input *in, int attempt,
                          const struct observed_container *c)
{
        struct task_status *st = &p->status;
        int64_t grace_end = st->terminating_ms + TASK_KILL_GRACE_MS;

        if (c && state_is_active(c->state)) {
                if (in->now_ms < grace_end) {
                        requeue_at(p, in->now_ms, grace_end);
                } else {
                        add_action(p, TASK_ACTION_KILL, attempt, c->id, "SIGKILL");
                        requeue_at(p, in->now_ms, in->now_ms + TASK_KILLED_RECHECK_MS);
                }
                return;
        }
        if (c && !c->details_known && c->state != DOCKER_STATE_CREATED) {
                add_action(p, TASK_ACTION_INSPECT, attempt, c->id, NULL);
                return;
        }
        if (!c && in->lost_attempt != attempt) { /* the cache may lag */
                add_action(p, TASK_ACTION_INSPECT, attempt, NULL, NULL);
                return;
        }
        if (deadline_per_attempt(&in->spec) && str_same(st->reason, "DeadlineExceeded")) {
                plan_attempt_failed(p, in, attempt, c, RETRY_ON_DEADLINE_EXCEEDED);
                return;
        }
        finish(p, TASK_PHASE_FAILED, st->reason ? st->reason : "Error",
               c && c->finished_ms > 0 ? c->finished_ms : in->now_ms);
        st->terminating_ms = 0;
        st->exit_known = c && c->details_known;
        st->exit_code = st->exit_known ? c->exit_code : 0;
}

static void plan_succeeded(struct task_plan *p, const struct task_plan_input *in, int attempt,
                           const struct observed_container *c)
{
        struct task_status *st = &p->status;

        if (st->start_ms <= 0 && c->started_ms > 0)
                st->start_ms = c->started_ms;
        st->exit_known = true;
        st->exit_code = 0;
        finish(p, TASK_PHASE_SUCCEEDED, "Completed",
               c->finished_ms > 0 ? c->finished_ms : in->now_ms);
        if (attempt > 1)
                set_message(p, "exit code 0 on attempt %d", attempt);
        else
                set_message(p, "exit code 0");
}

/* Succeeded or Failed: never a new container. What is left: the SIGKILL
 * after a deadline's grace period, stray running containers, and the TTL. */
static void plan_finished(struct task_plan *p, const struct task_plan_input *in)
{
        struct task_status *st = &p->status;
        int64_t now = in->now_ms;

        if (st->completion_ms <= 0)
                st->completion_ms = now; /* odd input: a finished task needs the time */

        int64_t grace_end = st->completion_ms + TASK_KILL_GRACE_MS;
        bool in_grace = streq(st->reason, "DeadlineExceeded") && now < grace_end;
        for (size_t i = 0; i < in->n_containers; i++) {
                const struct observed_container *c = &in->containers[i];
                if (!state_is_active(c->state))
                        continue;
                if (in_grace)
                        requeue_at(p, now, grace_end);
                else
                        add_action(p, TASK_ACTION_KILL, c->attempt, c->id, "SIGKILL");
        }

        if (in->spec.ttl_after_finished_ms >= 0) {
                int64_t expiry = st->completion_ms + in->spec.ttl_after_finished_ms;
                if (now >= expiry)
                        add_action(p, TASK_ACTION_DELETE, 0, NULL, NULL);
                else
                        requeue_at(p, now, expiry);
        }
}

/* Appends text to the plan's message, or, when it would not fit, " and N
 * more" (once): a long list of dependencies stays readable. */
static void message_append(struct task_plan *p, size_t *len, bool *full, size_t left,
                           const char *fmt, ...) _printf_(5, 6);
static void message_append(struct task_plan *p, size_t *len, bool *full, size_t left,
                           const char *fmt, ...)
{
        char item[160];
        va_list ap;

        if (*full)
                return;
        va_start(ap, fmt);
        int r = vsnprintf(item, sizeof(item), fmt, ap);
        va_end(ap);
        if (r < 0)
                return;
        size_t n = strlen(item);
        /* room for " and 64 more" after it */
        if (*len + n + 16 >= sizeof(p->message)) {
                snprintf(p->message + *len, sizeof(p->message) - *len, " and %zu more", left);
                *full = true;
                return;
        }
        memcpy(p->message + *len, item, n + 1);
        *len += n;
}

static void set_waiting(struct task_plan *p, enum task_waiting w, const char *reason)
{
        p->status.waiting = w;
        p->status.waiting_reason = reason;
        p->status.waiting_message = p->status.message ? p->status.message : "";
}

/* The dependsOn gate before the first attempt: true when it may start
 * (every dependency Succeeded). Otherwise the status says why it waits, or
 * that it failed because a dependency did; no timer: a change of a
 * dependency brings the Task back. */
static bool plan_dependencies(struct task_plan *p, const struct task_plan_input *in)
{
        struct task_status *st = &p->status;
        size_t len = 0, pending = 0, failed = 0;
        bool full = false;

        if (in->n_deps == 0)
                return true;
        for (size_t i = 0; i < in->n_deps; i++) {
                if (in->deps[i].found && in->deps[i].phase == TASK_PHASE_FAILED)
                        failed++;
                else if (!in->deps[i].found || in->deps[i].phase != TASK_PHASE_SUCCEEDED)
                        pending++;
        }

        p->message[0] = '\0';
        if (failed > 0) {
                size_t k = 0;

                message_append(p, &len, &full, failed, "%s ",
                               failed > 1 ? "dependencies" : "dependency");
                for (size_t i = 0; i < in->n_deps; i++) {
                        const struct task_dependency *d = &in->deps[i];

                        if (!d->found || d->phase != TASK_PHASE_FAILED)
                                continue;
                        message_append(p, &len, &full, failed - k, "%s%s", k ? ", " : "", d->name);
                        k++;
                }
                message_append(p, &len, &full, 0, " failed");
                finish(p, TASK_PHASE_FAILED, "DependencyFailed", in->now_ms);
                st->message = p->message;
                st->exit_known = false;
                set_waiting(p, TASK_WAITING_FALSE, "DependencyFailed");
                return false;
        }
        if (in->n_cycle > 0) {
                message_append(p, &len, &full, in->n_cycle, "dependency cycle: ");
                for (size_t i = 0; i < in->n_cycle; i++)
                        message_append(p, &len, &full, in->n_cycle - i, "%s \u2192 ", in->cycle[i]);
                message_append(p, &len, &full, 0, "%s", in->cycle[0]);
                st->phase = TASK_PHASE_PENDING;
                st->reason = "DependencyCycle";
                st->message = p->message;
                set_waiting(p, TASK_WAITING_TRUE, "DependencyCycle");
                return false;
        }
        if (pending > 0) {
                size_t k = 0;

                message_append(p, &len, &full, pending, "waiting for task ");
                for (size_t i = 0; i < in->n_deps; i++) {
                        const struct task_dependency *d = &in->deps[i];

                        if (d->found && d->phase == TASK_PHASE_SUCCEEDED)
                                continue;
                        message_append(p, &len, &full, pending - k, "%s%s (%s)", k ? ", " : "",
                                       d->name,
                                       d->found ? task_phase_to_string(d->phase) : "not found");
                        k++;
                }
                st->phase = TASK_PHASE_PENDING;
                st->reason = "DependenciesNotReady";
                st->message = p->message;
                set_waiting(p, TASK_WAITING_TRUE, "DependenciesNotReady");
                return false;
        }
        st->reason = NULL;
        st->message = NULL;
        set_waiting(p, TASK_WAITING_FALSE, "DependenciesReady");
        return true;
}

static void plan_active(struct task_plan *p, const struct task_plan_input *in)
{
        struct task_status *st = &p->status;
        int cur = st->attempts > 0 ? st->attempts : 0;
        const struct observed_container *cc = NULL;

        for (size_t i = 0; i < in->n_containers; i++)
                if (in->containers[i].attempt > cur)
                        cur = in->containers[i].attempt;
        if (cur > st->attempts) {
                /* Adopt an attempt the status never heard of (crash between
                 * create and status write); a retry time belongs to an older
                 * attempt. */
                st->attempts = cur;
                st->next_attempt_ms = 0;
        }
        for (size_t i = 0; i < in->n_containers; i++) {
                const struct observed_container *c = &in->containers[i];
                if (c->attempt == cur)
                        cc = c;
                else if (c->attempt >= 1 && c->attempt < cur && state_is_active(c->state))
                        add_action(p, TASK_ACTION_KILL, c->attempt, c->id, "SIGKILL");
        }

        if (cur == 0) {
                if (in->spec.shutdown) {
                        fail_stopped(p, in);
                        if (in->n_deps > 0 || st->waiting != TASK_WAITING_NONE)
                                set_waiting(p, TASK_WAITING_FALSE, STOP_REASON);
                } else if (plan_dependencies(p, in)) {
                        plan_create(p, in, 1);
                }
                return;
        }
        if (st->terminating_ms > 0) {
                plan_stopping(p, in, cur, cc);
                return;
        }
        if (!cc) {
                if (st->next_attempt_ms > 0) /* already waiting: its container may go */
                        plan_backoff_wait(p, in, cur);
                else if (in->lost_attempt == cur)
                        plan_attempt_failed(p, in, cur, NULL, RETRY_ON_CONTAINER_LOST);
                else /* the cache may lag: look it up by name first */
                        add_action(p, TASK_ACTION_INSPECT, cur, NULL, NULL);
                return;
        }

        st->container_id = cc->id;
        switch (cc->state) {
        case DOCKER_STATE_CREATED:
                /* Docker refuses to start some configurations only at start
                 * (a command not found: 400): the container stays created. */
                if (in->spec.shutdown)
                        fail_stopped(p, in);
                else if (in->create_error)
                        fail_with(p, in, create_error_reason(in), in->create_error);
                else
                        add_action(p, TASK_ACTION_START, cur, cc->id, NULL);
                return;
        case DOCKER_STATE_RUNNING:
        case DOCKER_STATE_PAUSED:
        case DOCKER_STATE_RESTARTING:
                plan_running(p, in, cur, cc);
                return;
        case DOCKER_STATE_EXITED:
        case DOCKER_STATE_DEAD:
                if (!cc->details_known)
                        add_action(p, TASK_ACTION_INSPECT, cur, cc->id, NULL);
                else if (st->next_attempt_ms > 0 && str_same(st->reason, "DeadlineExceeded"))
                        /* Stopped at its per-attempt deadline and waiting for
                         * the retry: whatever it exited with, even 0. */
                        plan_attempt_failed(p, in, cur, cc, RETRY_ON_DEADLINE_EXCEEDED);
                else if (cc->exit_code == 0)
                        plan_succeeded(p, in, cur, cc);
                else
                        plan_attempt_failed(p, in, cur, cc, failure_of(cc));
                return;
        case DOCKER_STATE_REMOVING:
                /* Someone removes it: the destroy event brings us back; the
                 * timer is a safety net should the event be missed. */
                requeue_at(p, in->now_ms, in->now_ms + 5000);
                return;
        case DOCKER_STATE_UNKNOWN:
        default:
                add_action(p, TASK_ACTION_INSPECT, cur, cc->id, NULL);
                return;
        }
}

static bool status_equal(const struct task_status *a, const struct task_status *b)
{
        return a->phase == b->phase && a->attempts == b->attempts &&
               str_same(a->container_id, b->container_id) && a->start_ms == b->start_ms &&
               a->completion_ms == b->completion_ms && a->exit_known == b->exit_known &&
               (!a->exit_known || a->exit_code == b->exit_code) && str_same(a->reason, b->reason) &&
               str_same(a->message, b->message) &&
               a->observed_generation == b->observed_generation &&
               a->next_attempt_ms == b->next_attempt_ms && a->terminating_ms == b->terminating_ms &&
               a->waiting == b->waiting && str_same(a->waiting_reason, b->waiting_reason) &&
               str_same(a->waiting_message, b->waiting_message) && a->queued == b->queued &&
               str_same(a->queued_reason, b->queued_reason) &&
               str_same(a->queued_message, b->queued_message);
}

void task_plan_compute(const struct task_plan_input *in, struct task_plan *ret)
{
        memset(ret, 0, sizeof(*ret));
        ret->requeue_after_ms = -1;
        ret->status = in->status;

        /* An older Task's containers under this name: never ours to run. */
        for (size_t i = 0; i < in->n_strays; i++)
                add_action(ret, TASK_ACTION_REMOVE, in->strays[i].attempt, in->strays[i].id, NULL);
        if (in->deleting) {
                /* A forced remove kills, so no KILL first. */
                for (size_t i = 0; i < in->n_containers; i++)
                        add_action(ret, TASK_ACTION_REMOVE, in->containers[i].attempt,
                                   in->containers[i].id, NULL);
                if (in->n_containers == 0 && in->n_strays == 0)
                        add_action(ret, TASK_ACTION_FINALIZE, 0, NULL, NULL);
                return;
        }
        if (!in->has_finalizer) {
                /* Before any container exists, so that a delete always finds
                 * them; planning resumes once it is written. */
                add_action(ret, TASK_ACTION_ADD_FINALIZER, 0, NULL, NULL);
                ret->requeue_after_ms = 0;
                return;
        }

        ret->status.observed_generation = in->generation;
        if (phase_is_finished(in->status.phase))
                plan_finished(ret, in);
        else
                plan_active(ret, in);
        ret->status_changed = !status_equal(&ret->status, &in->status);
}
