/* crontask-plan.c: the pure CronTask planner — which scheduled times run,
 * which are recorded as missed and why, which children go (Replace, history),
 * and what the status reads.
 *
 * Order of business: the backlog (times that came due while no controller
 * acted, or while suspended) by the catch-up policy; then the times that came
 * due while acting; then a manual trigger; then history. A run is refused
 * (missed) when it is later than startingDeadlineSeconds or when Forbid finds
 * a run active; Replace deletes the active runs first.
 */
#include "reconciler.h"

const char *crontask_action_type_to_string(enum crontask_action_type t)
{
        static const char *const names[] = {
            [CRONTASK_ACTION_ADD_FINALIZER] = "AddFinalizer",
            [CRONTASK_ACTION_CREATE_CHILD] = "CreateChild",
            [CRONTASK_ACTION_DELETE_CHILD] = "DeleteChild",
            [CRONTASK_ACTION_DELETE_CHILDREN] = "DeleteChildren",
            [CRONTASK_ACTION_FINALIZE] = "Finalize",
        };
        return (size_t)t < ARRAY_SIZE(names) && names[t] ? names[t] : "Unknown";
}

char *crontask_child_name(const char *name, int64_t scheduled_ms, bool seconds, bool manual)
{
        if (manual)
                return str_printf("%s-manual-%lld", name, (long long)(scheduled_ms / 1000));
        if (seconds)
                return str_printf("%s-%lld", name, (long long)(scheduled_ms / 1000));
        return str_printf("%s-%lld", name, (long long)(scheduled_ms / 60000));
}

static void add_action(struct crontask_plan *p, enum crontask_action_type type,
                       int64_t scheduled_ms, bool manual, size_t child)
{
        if (p->n_actions < ARRAY_SIZE(p->actions))
                p->actions[p->n_actions++] =
                    (struct crontask_action){type, scheduled_ms, manual, child};
}

static bool finished(enum task_phase phase)
{
        return phase == TASK_PHASE_SUCCEEDED || phase == TASK_PHASE_FAILED;
}

static size_t n_children(const struct crontask_plan_input *in)
{
        return in->n_children < CRONTASK_CHILDREN_MAX ? in->n_children : CRONTASK_CHILDREN_MAX;
}

static bool is_active(const struct crontask_plan_input *in, const struct crontask_plan *p, size_t i)
{
        const struct cron_child *c = &in->children[i];

        return !finished(c->phase) && !c->deleting && !p->child_deleted[i];
}

static void delete_child(struct crontask_plan *p, size_t i)
{
        add_action(p, CRONTASK_ACTION_DELETE_CHILD, 0, false, i);
        p->child_deleted[i] = true;
}

/* n runs missed, the latest of them at `at` (0: unknown). */
static void missed_n(struct crontask_plan *p, size_t n, int64_t at, const char *reason)
{
        if (n == 0)
                return;
        p->missed_count += (int64_t)n;
        if (at >= p->missed_ms) {
                p->missed_ms = at;
                p->missed_reason = reason;
        }
}

static void missed(struct crontask_plan *p, int64_t at, const char *reason)
{
        missed_n(p, 1, at, reason);
}

static bool child_exists(const struct crontask_plan_input *in, int64_t at, bool manual)
{
        for (size_t i = 0; i < n_children(in); i++)
                if (in->children[i].scheduled_ms == at && in->children[i].manual == manual)
                        return true;
        return false;
}

/* One run at `at`: created, or missed for the reason that stops it. force:
 * a `berth trigger --force`, which concurrencyPolicy does not stop. */
static void run(const struct crontask_plan_input *in, struct crontask_plan *p, int64_t at,
                bool manual, bool force)
{
        if (child_exists(in, at, manual))
                return; /* created before: a run happens once */
        if (!manual && in->spec.starting_deadline_ms > 0 &&
            in->now_ms - at > in->spec.starting_deadline_ms) {
                missed(p, at, "StartingDeadlineExceeded");
                return;
        }
        if (!force && p->active > 0 && in->spec.concurrency == CONCURRENCY_FORBID) {
                missed(p, at, "ConcurrencyForbid");
                return;
        }
        if (!force && p->active > 0 && in->spec.concurrency == CONCURRENCY_REPLACE) {
                for (size_t i = 0; i < n_children(in); i++)
                        if (is_active(in, p, i))
                                delete_child(p, i);
                p->active = 0;
        }
        add_action(p, CRONTASK_ACTION_CREATE_CHILD, at, manual, 0);
        p->active++;
}

/* Times missed while no controller acted (or while suspended). */
static void plan_backlog(const struct crontask_plan_input *in, struct crontask_plan *p)
{
        size_t older = in->backlog_count - in->n_backlog; /* not even listed */

        if (in->backlog_count == 0)
                return;
        missed_n(p, older, 0, "Downtime");
        if (!in->backlog_complete || in->spec.catch_up == CATCH_UP_NONE) {
                for (size_t k = 0; k < in->n_backlog; k++)
                        missed(p, in->backlog[k], "Downtime");
        } else if (in->spec.catch_up == CATCH_UP_LATEST) {
                for (size_t k = 0; k + 1 < in->n_backlog; k++)
                        missed(p, in->backlog[k], "Downtime");
                if (in->n_backlog > 0)
                        run(in, p, in->backlog[in->n_backlog - 1], false, false);
        } else {
                /* All: the latest catchUp.max, oldest first; older ones are missed. */
                for (size_t k = 0; k < in->n_backlog; k++)
                        run(in, p, in->backlog[k], false, false);
        }
        if (in->n_backlog > 0 && in->backlog[in->n_backlog - 1] > p->last_schedule_ms)
                p->last_schedule_ms = in->backlog[in->n_backlog - 1];
}

/* Finished children beyond the history limits go, oldest first. */
static void plan_history(const struct crontask_plan_input *in, struct crontask_plan *p)
{
        size_t succeeded = 0, failed = 0;

        for (size_t i = 0; i < n_children(in); i++) {
                const struct cron_child *c = &in->children[i];
                if (!c->deleting && !p->child_deleted[i] && c->phase == TASK_PHASE_SUCCEEDED)
                        succeeded++;
                else if (!c->deleting && !p->child_deleted[i] && c->phase == TASK_PHASE_FAILED)
                        failed++;
        }
        for (size_t i = 0; i < n_children(in); i++) {
                const struct cron_child *c = &in->children[i];
                bool drop = false;

                if (c->deleting || p->child_deleted[i])
                        continue;
                if (c->phase == TASK_PHASE_SUCCEEDED &&
                    succeeded > (size_t)in->spec.successful_history) {
                        succeeded--;
                        drop = true;
                } else if (c->phase == TASK_PHASE_FAILED &&
                           failed > (size_t)in->spec.failed_history) {
                        failed--;
                        drop = true;
                }
                if (drop)
                        delete_child(p, i);
        }
}

static void plan_deleting(const struct crontask_plan_input *in, struct crontask_plan *p)
{
        if (in->n_children > 0)
                add_action(p, CRONTASK_ACTION_DELETE_CHILDREN, 0, false, 0);
        else if (in->has_finalizer)
                add_action(p, CRONTASK_ACTION_FINALIZE, 0, false, 0);
}

void crontask_plan_compute(const struct crontask_plan_input *in, struct crontask_plan *ret)
{
        memset(ret, 0, sizeof(*ret));
        ret->requeue_after_ms = -1;
        ret->last_schedule_ms = in->prev_last_schedule_ms;
        ret->last_trigger_ms = in->prev_last_trigger_ms;
        ret->missed_count = in->prev_missed_count;
        ret->missed_ms = in->prev_missed_ms;
        ret->missed_reason = in->prev_missed_reason;
        ret->last_success_ms = in->prev_last_success_ms;
        if (in->deleting) {
                plan_deleting(in, ret);
                return;
        }
        if (!in->has_finalizer)
                add_action(ret, CRONTASK_ACTION_ADD_FINALIZER, 0, false, 0);

        for (size_t i = 0; i < n_children(in); i++) {
                const struct cron_child *c = &in->children[i];
                if (is_active(in, ret, i))
                        ret->active++;
                if (c->phase == TASK_PHASE_SUCCEEDED && c->completion_ms > ret->last_success_ms)
                        ret->last_success_ms = c->completion_ms;
        }

        ret->suspended = in->spec.suspend;
        if (!in->spec.suspend) {
                plan_backlog(in, ret);
                for (size_t k = 0; k < in->n_due; k++) {
                        run(in, ret, in->due[k], false, false);
                        if (in->due[k] > ret->last_schedule_ms)
                                ret->last_schedule_ms = in->due[k];
                }
                if (in->scanned_ms > ret->last_schedule_ms)
                        ret->last_schedule_ms = in->scanned_ms;
                ret->next_ms = in->next_ms;
        }
        /* A trigger runs even while suspended: it is an explicit request. */
        if (in->trigger_ms > in->prev_last_trigger_ms) {
                run(in, ret, in->trigger_ms, true, in->trigger_force);
                ret->last_trigger_ms = in->trigger_ms;
        }
        plan_history(in, ret);

        if (!in->spec.suspend && (in->due_more || !in->backlog_complete))
                ret->requeue_after_ms = 0; /* more came due than one wake-up runs */
        else if (ret->next_ms > 0)
                ret->requeue_after_ms = ret->next_ms > in->now_ms ? ret->next_ms - in->now_ms : 0;
}
