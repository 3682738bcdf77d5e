/* workflow-plan.c: the pure Workflow planner — what each step is now, which
 * Tasks to create and Services to deploy, which results to record, and the
 * Workflow's phase.
 *
 * Steps are visited in dependency order (Kahn's algorithm, ties in spec
 * order), so a step always sees its dependencies' phases of this round.
 * Failures are found first, in a pass of their own, because failFast must
 * stop steps that come before the failed one in that order too.
 */
#include "reconciler.h"

static const char *const step_phase_names[] = {
    [STEP_PENDING] = "Pending", [STEP_RUNNING] = "Running", [STEP_SUCCEEDED] = "Succeeded",
    [STEP_FAILED] = "Failed",   [STEP_SKIPPED] = "Skipped",
};

const char *step_phase_to_string(enum step_phase p)
{
        return (size_t)p < ARRAY_SIZE(step_phase_names) ? step_phase_names[p] : "Unknown";
}

int step_phase_from_string(const char *s, enum step_phase *ret)
{
        for (size_t i = 0; i < ARRAY_SIZE(step_phase_names); i++)
                if (s && streq(s, step_phase_names[i])) {
                        *ret = (enum step_phase)i;
                        return 0;
                }
        return -EINVAL;
}

const char *workflow_action_type_to_string(enum workflow_action_type t)
{
        static const char *const names[] = {
            [WORKFLOW_ACTION_ADD_FINALIZER] = "AddFinalizer",
            [WORKFLOW_ACTION_CREATE_TASK] = "CreateTask",
            [WORKFLOW_ACTION_DEPLOY] = "Deploy",
            [WORKFLOW_ACTION_STORE_RESULT] = "StoreResult",
            [WORKFLOW_ACTION_DELETE_CHILDREN] = "DeleteChildren",
            [WORKFLOW_ACTION_FINALIZE] = "Finalize",
            [WORKFLOW_ACTION_DELETE] = "Delete",
        };
        return (size_t)t < ARRAY_SIZE(names) && names[t] ? names[t] : "Unknown";
}

static bool step_finished(enum step_phase p)
{
        return p == STEP_SUCCEEDED || p == STEP_FAILED || p == STEP_SKIPPED;
}

static bool phase_finished(enum task_phase p)
{
        return p == TASK_PHASE_SUCCEEDED || p == TASK_PHASE_FAILED;
}

static void add_action(struct workflow_plan *plan, enum workflow_action_type type, size_t step)
{
        if (plan->n_actions < ARRAY_SIZE(plan->actions))
                plan->actions[plan->n_actions++] = (struct workflow_action){type, step};
}

static void requeue_after(struct workflow_plan *plan, int64_t ms)
{
        if (plan->requeue_after_ms < 0 || ms < plan->requeue_after_ms)
                plan->requeue_after_ms = ms < 0 ? 0 : ms;
}

/* Dependency order into order[]; returns how many steps it holds (fewer than
 * n_steps when there is a cycle: those steps are left out). */
static size_t topological_order(const struct workflow_plan_input *in, size_t order[])
{
        size_t pending[WORKFLOW_STEPS_MAX]; /* dependencies not yet ordered */
        bool placed[WORKFLOW_STEPS_MAX] = {false};
        size_t n = 0;

        for (size_t i = 0; i < in->n_steps; i++)
                pending[i] = in->steps[i].n_deps;
        /* n_steps ≤ 200: the quadratic scan is cheaper than building edge lists. */
        for (bool progress = true; progress && n < in->n_steps;) {
                progress = false;
                for (size_t i = 0; i < in->n_steps; i++) {
                        if (placed[i] || pending[i] > 0)
                                continue;
                        placed[i] = true;
                        order[n++] = i;
                        progress = true;
                        for (size_t j = 0; j < in->n_steps; j++)
                                for (size_t d = 0; d < in->steps[j].n_deps; d++)
                                        if (in->steps[j].deps[d] == i && pending[j] > 0)
                                                pending[j]--;
                        break; /* restart in spec order: ties go to the earlier step */
                }
        }
        return n;
}

static void fail_with(struct workflow_step_plan *sp, const char *reason, const char *fmt, ...)
    _printf_(3, 4);
static void fail_with(struct workflow_step_plan *sp, const char *reason, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(sp->message_buf, sizeof(sp->message_buf), fmt, ap);
        va_end(ap);
        sp->phase = STEP_FAILED;
        sp->reason = reason;
        sp->message = sp->message_buf;
}

/* A deploy step whose Service was written: without wait it is done; with
 * wait the rollout of the generation written decides, unless the Service
 * goes away or timeoutSeconds passes first. */
static void observe_deploy(const struct workflow_step *s, struct workflow_step_plan *sp,
                           struct workflow_plan *plan, size_t index, int64_t now_ms)
{
        if (s->deploy_wait) {
                if (!s->service_found) {
                        fail_with(sp, "ServiceNotFound",
                                  "service %s was deleted before its rollout finished", s->service);
                        return;
                }
                if (s->superseded_by) {
                        fail_with(sp, "Superseded",
                                  "service %s has image %s by now: a later change replaced this "
                                  "deploy",
                                  s->service, s->superseded_by);
                        return;
                }
                if (s->rollout == ROLLOUT_FAILED) {
                        fail_with(sp, "RolloutFailed", "service %s: %s", s->service,
                                  s->rollout_message ? s->rollout_message
                                                     : "progress deadline exceeded");
                        return;
                }
                if (s->rollout != ROLLOUT_COMPLETE) {
                        if (s->deploy_deadline_ms > 0 && now_ms >= s->deploy_deadline_ms) {
                                fail_with(sp, "RolloutTimeout",
                                          "service %s: the rollout did not finish within the "
                                          "step's timeoutSeconds",
                                          s->service);
                                return;
                        }
                        sp->phase = STEP_RUNNING;
                        if (s->deploy_deadline_ms > 0)
                                requeue_after(plan, s->deploy_deadline_ms - now_ms);
                        return;
                }
        }
        if (s->result_stored) {
                sp->phase = STEP_SUCCEEDED;
        } else {
                sp->phase = STEP_RUNNING;
                add_action(plan, WORKFLOW_ACTION_STORE_RESULT, index);
        }
}

/* What a step's Task or deploy (or its absence) says, before dependencies are
 * looked at. Returns false when the step has not started and waits on its
 * dependencies. */
static bool observe_step(const struct workflow_step *s, struct workflow_step_plan *sp,
                         struct workflow_plan *plan, size_t index, int64_t now_ms)
{
        if (step_finished(s->prev_phase)) {
                sp->phase = s->prev_phase; /* sticky; the status entry is kept as it was */
                sp->reason = s->prev_reason;
                sp->message = s->prev_message;
                return true;
        }
        if (s->failure_reason) {
                sp->phase = STEP_FAILED;
                sp->reason = s->failure_reason;
                sp->message = s->failure_message;
                return true;
        }
        if (s->deploy) {
                if (!s->deployed)
                        return false;
                observe_deploy(s, sp, plan, index, now_ms);
                return true;
        }
        if (s->task_foreign) {
                sp->phase = STEP_FAILED;
                sp->reason = "TaskConflict";
                snprintf(sp->message_buf, sizeof(sp->message_buf),
                         "a Task named for step %s exists and is not owned by this Workflow",
                         s->name);
                sp->message = sp->message_buf;
                return true;
        }
        if (!s->task_exists) {
                if (!s->prev_created)
                        return false;
                sp->phase = STEP_FAILED;
                sp->reason = "TaskLost";
                sp->message = "the step's Task was deleted before it finished";
                return true;
        }
        switch (s->task_phase) {
        case TASK_PHASE_SUCCEEDED:
                if (s->result_stored) {
                        sp->phase = STEP_SUCCEEDED;
                } else {
                        sp->phase = STEP_RUNNING;
                        add_action(plan, WORKFLOW_ACTION_STORE_RESULT, index);
                }
                break;
        case TASK_PHASE_FAILED:
                sp->phase = STEP_FAILED;
                sp->reason = s->task_reason ? s->task_reason : "Error";
                sp->message = s->task_message;
                break;
        default:
                sp->phase = STEP_RUNNING;
                break;
        }
        return true;
}

/* Children first; then the finalizer goes. Deleted Tasks bring us back with
 * their events as they go; result keys are not watched: look again at once. */
static void plan_deleting(const struct workflow_plan_input *in, struct workflow_plan *plan)
{
        if (in->tasks_left > 0 || in->results_left > 0) {
                add_action(plan, WORKFLOW_ACTION_DELETE_CHILDREN, 0);
                if (in->tasks_left == 0)
                        plan->requeue_after_ms = 0;
        }
        if (in->tasks_left > 0) {
                /* Gone only once its Tasks (and their containers) are. */
                plan->terminating = true;
                plan->reason = "Deleting";
                plan->message = "deleting the step Tasks: their containers stop first";
        } else if (in->has_finalizer && in->results_left == 0) {
                add_action(plan, WORKFLOW_ACTION_FINALIZE, 0);
        }
}

static void plan_finished(const struct workflow_plan_input *in, struct workflow_plan *plan)
{
        plan->phase = in->prev_phase;
        if (in->ttl_after_finished_ms < 0)
                return;
        int64_t due = in->prev_completion_ms + in->ttl_after_finished_ms;
        if (in->now_ms >= due)
                add_action(plan, WORKFLOW_ACTION_DELETE, 0);
        else
                plan->requeue_after_ms = due - in->now_ms;
}

/* The first failed step, in spec order, names the Workflow's failure. */
static void describe_failure(const struct workflow_plan_input *in, struct workflow_plan *plan)
{
        for (size_t i = 0; i < in->n_steps; i++) {
                const struct workflow_step_plan *sp = &plan->steps[i];
                if (sp->phase != STEP_FAILED)
                        continue;
                plan->reason = "StepFailed";
                snprintf(plan->message_buf, sizeof(plan->message_buf), "step %s failed: %s%s%s",
                         in->steps[i].name, sp->reason ? sp->reason : "Error",
                         sp->message && *sp->message ? ": " : "", sp->message ? sp->message : "");
                plan->message = plan->message_buf;
                return;
        }
        plan->reason = "StepFailed";
        plan->message = "a step failed";
}

void workflow_plan_compute(const struct workflow_plan_input *in, struct workflow_plan *ret)
{
        size_t order[WORKFLOW_STEPS_MAX];
        bool observed[WORKFLOW_STEPS_MAX] = {false};
        size_t n_steps = in->n_steps < WORKFLOW_STEPS_MAX ? in->n_steps : WORKFLOW_STEPS_MAX;
        struct workflow_plan_input bounded = *in;

        memset(ret, 0, sizeof(*ret));
        ret->requeue_after_ms = -1;
        ret->phase = in->prev_phase;
        ret->start_ms = in->prev_start_ms;
        ret->completion_ms = in->prev_completion_ms;
        bounded.n_steps = n_steps;
        in = &bounded;

        if (in->deleting) {
                plan_deleting(in, ret);
                return;
        }
        if (!in->has_finalizer)
                add_action(ret, WORKFLOW_ACTION_ADD_FINALIZER, 0);
        if (phase_finished(in->prev_phase)) {
                plan_finished(in, ret);
                for (size_t i = 0; i < n_steps; i++)
                        ret->steps[i].phase = in->steps[i].prev_phase;
                return;
        }

        /* Pass 1: what the Tasks say; count what runs and whether anything failed. */
        bool failed = false;
        int running = 0;
        for (size_t i = 0; i < n_steps; i++) {
                struct workflow_step_plan *sp = &ret->steps[i];
                sp->phase = STEP_PENDING;
                observed[i] = observe_step(&in->steps[i], sp, ret, i, in->now_ms);
                if (sp->phase == STEP_FAILED)
                        failed = true;
                if (sp->phase == STEP_RUNNING)
                        running++;
        }

        /* A Task created (a Service written) by a reconcile whose status write
         * was lost started it. */
        for (size_t i = 0; i < n_steps && ret->start_ms == 0; i++)
                if (in->steps[i].task_exists || in->steps[i].deployed)
                        ret->start_ms = in->now_ms;

        /* Pass 2: steps without a Task, in dependency order. */
        size_t n_ordered = topological_order(in, order);
        for (size_t o = 0; o < n_ordered; o++) {
                size_t i = order[o];
                const struct workflow_step *s = &in->steps[i];
                struct workflow_step_plan *sp = &ret->steps[i];
                bool deps_succeeded = true;

                if (observed[i])
                        continue;
                for (size_t d = 0; d < s->n_deps; d++) {
                        enum step_phase dp = ret->steps[s->deps[d]].phase;
                        if (dp == STEP_FAILED || dp == STEP_SKIPPED) {
                                sp->phase = STEP_SKIPPED;
                                sp->reason = "DependencyFailed";
                                snprintf(sp->message_buf, sizeof(sp->message_buf),
                                         "dependency %s %s", in->steps[s->deps[d]].name,
                                         dp == STEP_FAILED ? "failed" : "was skipped");
                                sp->message = sp->message_buf;
                                break;
                        }
                        if (dp != STEP_SUCCEEDED)
                                deps_succeeded = false;
                }
                if (sp->phase == STEP_SKIPPED)
                        continue;
                if (failed && in->fail_fast) {
                        sp->phase = STEP_SKIPPED;
                        sp->reason = "FailFast";
                        sp->message = "not started: another step failed (failFast)";
                        continue;
                }
                if (!deps_succeeded || (in->parallelism > 0 && running >= in->parallelism))
                        continue; /* Pending */
                sp->phase = STEP_RUNNING;
                running++;
                add_action(ret, s->deploy ? WORKFLOW_ACTION_DEPLOY : WORKFLOW_ACTION_CREATE_TASK,
                           i);
                if (ret->start_ms == 0)
                        ret->start_ms = in->now_ms;
        }

        /* The Workflow as a whole. */
        bool all_finished = true;
        bool any_started = false;
        for (size_t i = 0; i < n_steps; i++) {
                enum step_phase p = ret->steps[i].phase;
                if (p == STEP_SUCCEEDED)
                        ret->succeeded++;
                if (!step_finished(p))
                        all_finished = false;
                if (p != STEP_PENDING && p != STEP_SKIPPED)
                        any_started = true;
        }
        if (all_finished && n_steps > 0 && n_ordered == n_steps) {
                if (ret->succeeded == n_steps) {
                        ret->phase = TASK_PHASE_SUCCEEDED;
                        ret->reason = "Completed";
                        ret->message = "all steps succeeded";
                } else {
                        ret->phase = TASK_PHASE_FAILED;
                        describe_failure(in, ret);
                }
                ret->completion_ms = in->now_ms;
                if (in->ttl_after_finished_ms >= 0)
                        ret->requeue_after_ms = in->ttl_after_finished_ms;
        } else {
                ret->phase = any_started ? TASK_PHASE_RUNNING : TASK_PHASE_PENDING;
                if (failed && in->fail_fast && running > 0) {
                        /* Terminal only when stopped: Failed once nothing runs. */
                        describe_failure(in, ret);
                        size_t used = strlen(ret->message_buf);
                        snprintf(ret->message_buf + used, sizeof(ret->message_buf) - used,
                                 "; failFast: waiting for the running steps to finish");
                        ret->message = ret->message_buf;
                        ret->terminating = true;
                }
        }
        ret->status_changed = true;
}
