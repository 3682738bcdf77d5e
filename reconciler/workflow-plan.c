/* workflow-plan.c: the pure Workflow planner — what each step is now, which
 * Tasks to create, stop or reset and Services to deploy, which steps to
 * resolve (when, items) and which results to record, and the Workflow's
 * phase.
 *
 * Steps are visited in dependency order (Kahn's algorithm, ties in spec
 * order), so a step always sees its dependencies' phases of this round.
 * What has started is observed first, in a pass of its own, because failFast
 * and a stop must hold back steps that come before the failed one in that
 * order too. The exit handler is the last step: it waits for all others.
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
            [WORKFLOW_ACTION_RESOLVE] = "Resolve",
            [WORKFLOW_ACTION_CREATE_TASK] = "CreateTask",
            [WORKFLOW_ACTION_STOP_TASK] = "StopTask",
            [WORKFLOW_ACTION_RESET_STEP] = "ResetStep",
            [WORKFLOW_ACTION_DEPLOY] = "Deploy",
            [WORKFLOW_ACTION_BUILD] = "Build",
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

/* The planner's working state: the input, the plan, and what one pass tells
 * the next. */
struct planning {
        const struct workflow_plan_input *in;
        struct workflow_plan *plan;
        size_t n_steps;                        /* bounded */
        bool observed[WORKFLOW_STEPS_MAX + 1]; /* started, or finished before */
        bool reset[WORKFLOW_STEPS_MAX + 1];    /* a retry resets it in this plan */
        bool handled[WORKFLOW_STEPS_MAX + 1];  /* its failure is expected by a depends */
        int running;                           /* Tasks and deploys in progress */
        size_t child_actions;    /* children's CREATE_TASK and STOP_TASK planned so far */
        bool unhandled_failure;  /* failFast and the outcome look at it */
        const char *stop_reason; /* Stopped, DeadlineExceeded, or NULL */
        const char *stop_message;
};

static void add_action(struct workflow_plan *plan, enum workflow_action_type type, size_t step,
                       size_t child)
{
        if (plan->n_actions < ARRAY_SIZE(plan->actions))
                plan->actions[plan->n_actions++] = (struct workflow_action){type, step, child};
}

static bool actions_full(const struct workflow_plan *plan)
{
        return plan->n_actions >= ARRAY_SIZE(plan->actions);
}

static void requeue_after(struct workflow_plan *plan, int64_t ms)
{
        if (plan->requeue_after_ms < 0 || ms < plan->requeue_after_ms)
                plan->requeue_after_ms = ms < 0 ? 0 : ms;
}

/* Children share WORKFLOW_ACTIONS_EXTRA actions, so that every step keeps
 * room for its own one; past that, the plan asks to be run again at once. */
static bool child_actions_full(struct planning *p)
{
        if (p->child_actions < WORKFLOW_ACTIONS_EXTRA && !actions_full(p->plan))
                return false;
        requeue_after(p->plan, 0);
        return true;
}

/* No more children are made: a stop, or a failed child with failFast. */
static bool children_held_back(const struct planning *p, const struct workflow_step_plan *sp)
{
        return p->stop_reason || (sp->children_failed > 0 && p->in->fail_fast);
}

/* Dependency order into order[]; returns how many steps it holds (fewer than
 * n_steps when there is a cycle: those steps are left out). */
static size_t topological_order(const struct workflow_step *steps, size_t n_steps, size_t order[])
{
        size_t pending[WORKFLOW_STEPS_MAX + 1]; /* dependencies not yet ordered */
        bool placed[WORKFLOW_STEPS_MAX + 1] = {false};
        size_t n = 0;

        for (size_t i = 0; i < n_steps; i++)
                pending[i] = steps[i].n_deps;
        /* The scan is quadratic: cheaper than building edge lists at this size. */
        for (bool progress = true; progress && n < n_steps;) {
                progress = false;
                for (size_t i = 0; i < n_steps; i++) {
                        if (placed[i] || pending[i] > 0)
                                continue;
                        placed[i] = true;
                        order[n++] = i;
                        progress = true;
                        for (size_t j = 0; j < n_steps; j++)
                                for (size_t d = 0; d < steps[j].n_deps; d++)
                                        if (steps[j].deps[d] == i && pending[j] > 0)
                                                pending[j]--;
                        break; /* restart in spec order: ties go to the earlier step */
                }
        }
        return n;
}

static void set_message(struct workflow_step_plan *sp, const char *fmt, ...) _printf_(2, 3);
static void set_message(struct workflow_step_plan *sp, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(sp->message_buf, sizeof(sp->message_buf), fmt, ap);
        va_end(ap);
        sp->message = sp->message_buf;
}

static void end_step(struct workflow_step_plan *sp, enum step_phase phase, const char *reason)
{
        sp->phase = phase;
        sp->reason = reason;
        sp->message = NULL;
}

/* Step i's work succeeded: Succeeded once its result is recorded, until then
 * Running with the result to store. */
static void succeeded_once_stored(struct planning *p, size_t i)
{
        struct workflow_step_plan *sp = &p->plan->steps[i];

        if (p->in->steps[i].result_stored) {
                sp->phase = STEP_SUCCEEDED;
        } else {
                sp->phase = STEP_RUNNING;
                add_action(p->plan, WORKFLOW_ACTION_STORE_RESULT, i, WORKFLOW_NO_CHILD);
        }
}

/* A deploy step whose Service was written: without wait it is done; with
 * wait the rollout of the generation written decides, unless the Service
 * goes away or timeoutSeconds passes first. */
static void observe_deploy(struct planning *p, size_t i)
{
        const struct workflow_step *s = &p->in->steps[i];
        struct workflow_step_plan *sp = &p->plan->steps[i];
        int64_t now_ms = p->in->now_ms;

        if (s->deploy_wait) {
                if (!s->service_found) {
                        end_step(sp, STEP_FAILED, "ServiceNotFound");
                        set_message(sp, "service %s was deleted before its rollout finished",
                                    s->service);
                        return;
                }
                if (s->superseded_by) {
                        end_step(sp, STEP_FAILED, "Superseded");
                        set_message(sp,
                                    "service %s has image %s by now: a later change replaced "
                                    "this deploy",
                                    s->service, s->superseded_by);
                        return;
                }
                if (s->rollout == ROLLOUT_FAILED) {
                        end_step(sp, STEP_FAILED, "RolloutFailed");
                        set_message(sp, "service %s: %s", s->service,
                                    s->rollout_message ? s->rollout_message
                                                       : "progress deadline exceeded");
                        return;
                }
                if (s->rollout != ROLLOUT_COMPLETE) {
                        if (p->stop_reason) {
                                /* Nothing of ours runs: the rollout goes on alone. */
                                end_step(sp, STEP_FAILED, p->stop_reason);
                                set_message(sp, "stopped while following the rollout of %s",
                                            s->service);
                                return;
                        }
                        if (s->deploy_deadline_ms > 0 && now_ms >= s->deploy_deadline_ms) {
                                end_step(sp, STEP_FAILED, "RolloutTimeout");
                                set_message(sp,
                                            "service %s: the rollout did not finish within the "
                                            "step's timeoutSeconds",
                                            s->service);
                                return;
                        }
                        sp->phase = STEP_RUNNING;
                        if (s->deploy_deadline_ms > 0)
                                requeue_after(p->plan, s->deploy_deadline_ms - now_ms);
                        return;
                }
        }
        succeeded_once_stored(p, i);
}

/* A build step: the builder's word. Returns false when it has not started. */
static bool observe_build(struct planning *p, size_t i)
{
        const struct workflow_step *s = &p->in->steps[i];
        struct workflow_step_plan *sp = &p->plan->steps[i];

        switch (s->build_state) {
        case STEP_BUILD_NOT_STARTED:
                return false;
        case STEP_BUILD_RUNNING:
                if (p->stop_reason) {
                        end_step(sp, STEP_FAILED, p->stop_reason);
                        sp->message = "the build was cancelled";
                        add_action(p->plan, WORKFLOW_ACTION_STOP_TASK, i, WORKFLOW_NO_CHILD);
                        return true;
                }
                sp->phase = STEP_RUNNING;
                p->running++;
                return true;
        case STEP_BUILD_FAILED:
                end_step(sp, STEP_FAILED, "BuildFailed");
                sp->message = s->build_message;
                return true;
        case STEP_BUILD_SUCCEEDED:
                break;
        }
        succeeded_once_stored(p, i);
        return true;
}

/* A step's own Task: its phase, or its loss. */
static void observe_task(struct planning *p, size_t i)
{
        const struct workflow_step *s = &p->in->steps[i];
        struct workflow_step_plan *sp = &p->plan->steps[i];

        switch (s->task_phase) {
        case TASK_PHASE_SUCCEEDED:
                succeeded_once_stored(p, i);
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
}

/* A resolved fanned-out step: its children's phases, summed up. Children
 * are made in index order, so a missing child below the count the status
 * recorded was lost. */
static void observe_children(struct planning *p, size_t i)
{
        const struct workflow_step *s = &p->in->steps[i];
        struct workflow_step_plan *sp = &p->plan->steps[i];
        size_t running = 0;
        const char *first_failure = NULL;

        sp->children_created = s->prev_children_created;
        for (size_t c = 0; c < s->n_children; c++) {
                const struct workflow_child *ch = &s->children[c];
                const char *failure = NULL;

                if (ch->exists && c + 1 > sp->children_created)
                        sp->children_created =
                            c + 1; /* made by a reconcile whose status was lost */
                if (ch->foreign)
                        failure = "TaskConflict";
                else if (!ch->exists && c < s->prev_children_created)
                        failure = "TaskLost";
                else if (ch->exists && ch->phase == TASK_PHASE_FAILED)
                        failure = ch->reason ? ch->reason : "Error";
                else if (ch->exists && ch->phase == TASK_PHASE_SUCCEEDED)
                        sp->children_succeeded++;
                else if (ch->exists || ch->deleting)
                        running++;
                if (failure) {
                        sp->children_failed++;
                        if (!first_failure) {
                                first_failure = failure;
                                set_message(sp, "item %zu failed: %s%s%s", c, failure,
                                            ch->message && *ch->message ? ": " : "",
                                            ch->message ? ch->message : "");
                        }
                }
        }
        p->running += (int)running;
        sp->children_running = running;
        if (running > 0 || (sp->children_created < s->n_children && !children_held_back(p, sp))) {
                sp->phase = STEP_RUNNING;
                sp->message = NULL;
                return;
        }
        if (sp->children_failed > 0) {
                sp->phase = STEP_FAILED;
                sp->reason = first_failure;
                return;
        }
        if (sp->children_created < s->n_children) {
                /* Stopped: the items not made yet never run. */
                end_step(sp, STEP_FAILED, p->stop_reason);
                set_message(sp, "stopped with %zu of %zu items made", sp->children_created,
                            s->n_children);
                return;
        }
        /* Every child succeeded: the JSON array of their results next. */
        succeeded_once_stored(p, i);
}

/* What a step's Task, children or deploy (or their absence) say, before
 * dependencies are looked at. Returns false when the step has not started
 * and waits on its dependencies. */
static bool observe_step(struct planning *p, size_t i)
{
        const struct workflow_step *s = &p->in->steps[i];
        struct workflow_step_plan *sp = &p->plan->steps[i];

        if (p->reset[i])
                return false; /* rerun: its old Tasks go first */
        if (step_finished(s->prev_phase)) {
                sp->phase = s->prev_phase; /* sticky; the status entry is kept as it was */
                sp->reason = s->prev_reason;
                sp->message = s->prev_message;
                sp->children_created = s->prev_children_created;
                return true;
        }
        if (s->failure_reason) {
                sp->phase = STEP_FAILED;
                sp->reason = s->failure_reason;
                sp->message = s->failure_message;
                return true;
        }
        if (s->build)
                return observe_build(p, i);
        if (s->deploy) {
                if (!s->deployed)
                        return false;
                observe_deploy(p, i);
                if (sp->phase == STEP_RUNNING)
                        p->running++;
                return true;
        }
        if (s->fan_out) {
                /* Resolved in an earlier round, or by acting now: started. */
                if (!s->resolved || s->when_false)
                        return false;
                observe_children(p, i);
                return true;
        }
        if (s->task_foreign) {
                sp->phase = STEP_FAILED;
                sp->reason = "TaskConflict";
                set_message(sp, "a Task named for step %s exists and is not owned by this Workflow",
                            s->name);
                return true;
        }
        if (!s->task_exists) {
                /* A retry's old Task on its way out is not this step's. */
                if (!s->prev_created)
                        return false;
                sp->phase = STEP_FAILED;
                sp->reason = "TaskLost";
                sp->message = "the step's Task was deleted before it finished";
                return true;
        }
        observe_task(p, i);
        if (sp->phase == STEP_RUNNING)
                p->running++;
        return true;
}

/* ---- starting steps --------------------------------------------------- */

struct outcome_lookup {
        const struct workflow_plan_input *in;
        const struct workflow_plan *plan;
        size_t n_steps;
};

static bool outcome_of(const char *step, enum step_outcome outcome, void *userdata)
{
        const struct outcome_lookup *l = userdata;

        for (size_t i = 0; i < l->n_steps; i++) {
                if (!streq(l->in->steps[i].name, step))
                        continue;
                enum step_phase ph = l->plan->steps[i].phase;
                switch (outcome) {
                case STEP_OUTCOME_SUCCEEDED:
                        return ph == STEP_SUCCEEDED;
                case STEP_OUTCOME_FAILED:
                        return ph == STEP_FAILED;
                case STEP_OUTCOME_SKIPPED:
                        return ph == STEP_SKIPPED;
                case STEP_OUTCOME_COMPLETED:
                        return ph == STEP_SUCCEEDED || ph == STEP_FAILED;
                }
        }
        return false;
}

/* Whether step i may start as far as its dependencies go: true, or false
 * with the step left Pending (waiting) or made Skipped. */
static bool dependencies_allow(struct planning *p, size_t i)
{
        const struct workflow_plan_input *in = p->in;
        const struct workflow_step *s = &in->steps[i];
        struct workflow_step_plan *sp = &p->plan->steps[i];

        if (s->exit_handler) {
                /* After every other step, and after what they started. */
                for (size_t j = 0; j < p->n_steps; j++)
                        if (j != i && !step_finished(p->plan->steps[j].phase))
                                return false;
                return p->running == 0;
        }
        if (s->depends) {
                /* Decided once every step it names has ended. */
                for (size_t d = 0; d < s->n_deps; d++)
                        if (!step_finished(p->plan->steps[s->deps[d]].phase))
                                return false;
                struct outcome_lookup l = {in, p->plan, p->n_steps};
                if (cond_eval_depends(s->depends, outcome_of, &l))
                        return true;
                end_step(sp, STEP_SKIPPED, "DependsFalse");
                sp->message = "its depends expression is false";
                return false;
        }
        bool ready = true;
        for (size_t d = 0; d < s->n_deps; d++) {
                const struct workflow_step *dep = &in->steps[s->deps[d]];
                enum step_phase dp = p->plan->steps[s->deps[d]].phase;

                if (dp == STEP_FAILED && dep->continue_on_failed)
                        continue; /* continueOn.failed: as good as a success downstream */
                if (dp == STEP_FAILED || dp == STEP_SKIPPED) {
                        end_step(sp, STEP_SKIPPED, "DependencyFailed");
                        set_message(sp, "dependency %s %s", dep->name,
                                    dp == STEP_FAILED ? "failed" : "was skipped");
                        return false;
                }
                if (dp != STEP_SUCCEEDED)
                        ready = false;
        }
        return ready;
}

static bool parallelism_allows(const struct planning *p)
{
        return p->in->parallelism <= 0 || p->running < p->in->parallelism;
}

/* Makes the next children of a running fanned-out step, in index order, as
 * far as parallelism, failFast and a stop allow. */
static void fill_children(struct planning *p, size_t i)
{
        const struct workflow_step *s = &p->in->steps[i];
        struct workflow_step_plan *sp = &p->plan->steps[i];

        if (children_held_back(p, sp) || (p->in->fail_fast && p->unhandled_failure))
                return;
        while (sp->children_created < s->n_children && parallelism_allows(p)) {
                /* A retry's old child of that name: the new one waits until it is gone. */
                if (s->children[sp->children_created].deleting)
                        return;
                if (child_actions_full(p))
                        return;
                add_action(p->plan, WORKFLOW_ACTION_CREATE_TASK, i, sp->children_created++);
                p->child_actions++;
                p->running++;
        }
}

/* failFast after another step failed: a fanned-out step that has no child
 * running any more makes no more either, and ends. */
static void end_held_back_fan_outs(struct planning *p)
{
        for (size_t i = 0; i < p->n_steps; i++) {
                const struct workflow_step *s = &p->in->steps[i];
                struct workflow_step_plan *sp = &p->plan->steps[i];

                if (!s->fan_out || sp->phase != STEP_RUNNING || sp->children_running > 0 ||
                    sp->children_failed > 0 || sp->children_created >= s->n_children)
                        continue;
                end_step(sp, STEP_FAILED, "FailFast");
                set_message(sp,
                            "stopped with %zu of %zu items made: another step failed (failFast)",
                            sp->children_created, s->n_children);
        }
}

/* Step i has not started: start it, resolve it first, skip it, or leave it
 * Pending. */
static void plan_start(struct planning *p, size_t i)
{
        const struct workflow_step *s = &p->in->steps[i];
        struct workflow_step_plan *sp = &p->plan->steps[i];

        sp->phase = STEP_PENDING;
        /* A retry deletes its old Tasks (in this plan, or they are on their
         * way out): the new ones take their names once they are gone. */
        if (p->reset[i] || s->task_deleting)
                return;
        if (p->stop_reason && !s->exit_handler) {
                end_step(sp, STEP_SKIPPED, p->stop_reason);
                set_message(sp, "not started: %s", p->stop_message);
                return;
        }
        if (!dependencies_allow(p, i))
                return;
        if (!s->exit_handler && p->unhandled_failure && p->in->fail_fast) {
                end_step(sp, STEP_SKIPPED, "FailFast");
                sp->message = "not started: another step failed (failFast)";
                return;
        }
        /* A fanned-out step takes no slot itself: its children do. */
        if (!s->fan_out && !parallelism_allows(p))
                return;
        if (s->needs_resolve && !s->resolved) {
                add_action(p->plan, WORKFLOW_ACTION_RESOLVE, i, WORKFLOW_NO_CHILD);
                return;
        }
        if (s->when_false) {
                end_step(sp, STEP_SKIPPED, "WhenFalse");
                sp->message = "its when expression is false";
                return;
        }
        if (p->plan->start_ms == 0)
                p->plan->start_ms = p->in->now_ms;
        sp->phase = STEP_RUNNING;
        if (s->fan_out) {
                if (s->n_children == 0) {
                        observe_children(p, i); /* nothing to run: its result is [] */
                        return;
                }
                fill_children(p, i);
                return;
        }
        p->running++;
        add_action(p->plan,
                   s->deploy  ? WORKFLOW_ACTION_DEPLOY
                   : s->build ? WORKFLOW_ACTION_BUILD
                              : WORKFLOW_ACTION_CREATE_TASK,
                   i, WORKFLOW_NO_CHILD);
}

/* A stop (spec.shutdown, activeDeadlineSeconds): every running Task of the
 * steps is told to stop (an exit handler is never stopped). */
static void plan_stops(struct planning *p)
{
        for (size_t i = 0; i < p->n_steps; i++) {
                const struct workflow_step *s = &p->in->steps[i];

                if (s->exit_handler || p->plan->steps[i].phase != STEP_RUNNING || s->deploy)
                        continue;
                if (!s->fan_out) {
                        if (s->task_exists && !phase_finished(s->task_phase))
                                add_action(p->plan, WORKFLOW_ACTION_STOP_TASK, i,
                                           WORKFLOW_NO_CHILD);
                        continue;
                }
                for (size_t c = 0; c < s->n_children; c++) {
                        const struct workflow_child *ch = &s->children[c];
                        if (!ch->exists || phase_finished(ch->phase))
                                continue;
                        if (child_actions_full(p))
                                break;
                        add_action(p->plan, WORKFLOW_ACTION_STOP_TASK, i, c);
                        p->child_actions++;
                }
        }
}

/* ---- the Workflow ------------------------------------------------------ */

/* Children first; then the finalizer goes. Deleted Tasks bring us back with
 * their events as they go; result keys are not watched: look again at once. */
static void plan_deleting(const struct workflow_plan_input *in, struct workflow_plan *plan)
{
        if (in->tasks_left > 0 || in->results_left > 0) {
                add_action(plan, WORKFLOW_ACTION_DELETE_CHILDREN, 0, WORKFLOW_NO_CHILD);
                if (in->tasks_left == 0)
                        plan->requeue_after_ms = 0;
        }
        if (in->tasks_left > 0) {
                /* Gone only once its Tasks (and their containers) are. */
                plan->terminating = true;
                plan->reason = "Deleting";
                plan->message = "deleting the step Tasks: their containers stop first";
        } else if (in->has_finalizer && in->results_left == 0) {
                add_action(plan, WORKFLOW_ACTION_FINALIZE, 0, WORKFLOW_NO_CHILD);
        }
}

static void plan_finished(const struct workflow_plan_input *in, struct workflow_plan *plan)
{
        plan->phase = in->prev_phase;
        if (in->ttl_after_finished_ms < 0)
                return;
        int64_t due = in->prev_completion_ms + in->ttl_after_finished_ms;
        if (in->now_ms >= due)
                add_action(plan, WORKFLOW_ACTION_DELETE, 0, WORKFLOW_NO_CHILD);
        else
                plan->requeue_after_ms = due - in->now_ms;
}

/* `berth retry` of a Failed Workflow: its failed and skipped steps, what
 * depends on them and the exit handler start over; the rest keeps its
 * results. */
static void plan_retry(struct planning *p)
{
        const struct workflow_plan_input *in = p->in;
        size_t order[WORKFLOW_STEPS_MAX + 1];
        size_t n = topological_order(in->steps, p->n_steps, order);

        for (size_t o = 0; o < n; o++) {
                size_t i = order[o];
                const struct workflow_step *s = &in->steps[i];

                p->reset[i] = s->exit_handler || s->prev_phase == STEP_FAILED ||
                              s->prev_phase == STEP_SKIPPED || s->prev_phase == STEP_PENDING;
                for (size_t d = 0; d < s->n_deps && !p->reset[i]; d++)
                        p->reset[i] = p->reset[s->deps[d]];
                if (p->reset[i])
                        add_action(p->plan, WORKFLOW_ACTION_RESET_STEP, i, WORKFLOW_NO_CHILD);
        }
        p->plan->retried = true;
        p->plan->start_ms = in->now_ms;
        p->plan->completion_ms = 0;
}

/* The first unhandled failed step, in spec order, names the Workflow's failure. */
static void describe_failure(struct planning *p)
{
        struct workflow_plan *plan = p->plan;

        plan->reason = "StepFailed";
        plan->message = "a step failed";
        for (size_t i = 0; i < p->n_steps; i++) {
                const struct workflow_step_plan *sp = &plan->steps[i];
                const struct workflow_step *s = &p->in->steps[i];
                if (sp->phase != STEP_FAILED || p->handled[i] || s->exit_handler ||
                    streq(sp->reason, "FailFast"))
                        continue;
                snprintf(plan->message_buf, sizeof(plan->message_buf), "step %s failed: %s%s%s",
                         s->name, sp->reason ? sp->reason : "Error",
                         sp->message && *sp->message ? ": " : "", sp->message ? sp->message : "");
                plan->message = plan->message_buf;
                return;
        }
}

/* Every step has ended: the Workflow's phase by the outcome rule. */
static void plan_outcome(struct planning *p)
{
        const struct workflow_plan_input *in = p->in;
        struct workflow_plan *plan = p->plan;
        size_t n = p->n_steps;
        bool has_exit = n > 0 && in->steps[n - 1].exit_handler;
        const struct workflow_step_plan *exit_plan = has_exit ? &plan->steps[n - 1] : NULL;

        plan->phase = plan->outcome;
        if (p->stop_reason) {
                plan->reason = p->stop_reason;
                plan->message = p->stop_message;
        } else if (plan->outcome == TASK_PHASE_FAILED) {
                describe_failure(p);
        } else {
                plan->reason = "Completed";
                plan->message = "all steps succeeded";
        }
        if (exit_plan && exit_plan->phase == STEP_FAILED) {
                size_t used = 0;
                if (plan->message != plan->message_buf) {
                        snprintf(plan->message_buf, sizeof(plan->message_buf), "%s", plan->message);
                        plan->message = plan->message_buf;
                }
                used = strlen(plan->message_buf);
                snprintf(plan->message_buf + used, sizeof(plan->message_buf) - used,
                         "; onExit failed: %s", exit_plan->reason ? exit_plan->reason : "Error");
                if (in->on_exit_fail_workflow && plan->phase == TASK_PHASE_SUCCEEDED) {
                        plan->phase = TASK_PHASE_FAILED;
                        plan->reason = "ExitHandlerFailed";
                }
        }
        plan->completion_ms = in->now_ms;
        /* Finished: the TTL is the only timer left (not the deadline's). */
        plan->requeue_after_ms = in->ttl_after_finished_ms >= 0 ? in->ttl_after_finished_ms : -1;
}

/* A stop asked for (spec.shutdown) or due (activeDeadlineSeconds). */
static void find_stop(struct planning *p)
{
        const struct workflow_plan_input *in = p->in;

        if (in->shutdown) {
                p->stop_reason = "Stopped";
                p->stop_message = "stopped by request (spec.shutdown: Stop)";
                return;
        }
        if (in->active_deadline_ms <= 0 || p->plan->start_ms <= 0)
                return;
        int64_t due = p->plan->start_ms + in->active_deadline_ms;
        if (in->now_ms < due) {
                requeue_after(p->plan, due - in->now_ms);
                return;
        }
        p->stop_reason = "DeadlineExceeded";
        p->stop_message = "the workflow's activeDeadlineSeconds passed";
}

void workflow_plan_compute(const struct workflow_plan_input *in, struct workflow_plan *ret)
{
        struct planning *p = calloc(1, sizeof(*p));
        size_t order[WORKFLOW_STEPS_MAX + 1];

        memset(ret, 0, sizeof(*ret));
        ret->requeue_after_ms = -1;
        ret->phase = in->prev_phase;
        ret->start_ms = in->prev_start_ms;
        ret->completion_ms = in->prev_completion_ms;
        if (!p) {
                ret->requeue_after_ms = 1000; /* nothing planned: try again soon */
                return;
        }
        p->in = in;
        p->plan = ret;
        p->n_steps = in->n_steps < WORKFLOW_STEPS_MAX + 1 ? in->n_steps : WORKFLOW_STEPS_MAX + 1;

        if (in->deleting) {
                plan_deleting(in, ret);
                goto out;
        }
        if (!in->has_finalizer)
                add_action(ret, WORKFLOW_ACTION_ADD_FINALIZER, 0, WORKFLOW_NO_CHILD);
        if (phase_finished(in->prev_phase)) {
                if (!(in->retry_requested && in->prev_phase == TASK_PHASE_FAILED)) {
                        plan_finished(in, ret);
                        for (size_t i = 0; i < p->n_steps; i++)
                                ret->steps[i].phase = in->steps[i].prev_phase;
                        goto out;
                }
                plan_retry(p);
        }

        for (size_t i = 0; i < p->n_steps; i++)
                for (size_t j = 0; j < p->n_steps && !p->handled[i]; j++)
                        p->handled[i] =
                            in->steps[j].depends &&
                            cond_handles_failure(in->steps[j].depends, in->steps[i].name);
        if (!ret->retried)
                find_stop(p);

        /* Pass 1: what has started says where it is. */
        for (size_t i = 0; i < p->n_steps; i++) {
                struct workflow_step_plan *sp = &ret->steps[i];
                sp->phase = STEP_PENDING;
                p->observed[i] = observe_step(p, i);
                /* A fanned-out step with a failed child fails once its
                 * running children end: failFast holds the rest back now. */
                bool failed =
                    sp->phase == STEP_FAILED || (in->steps[i].fan_out && sp->children_failed > 0);
                if (failed && !p->handled[i] && !in->steps[i].continue_on_failed &&
                    !in->steps[i].exit_handler)
                        p->unhandled_failure = true;
        }
        /* A Task created (a Service written) by a reconcile whose status write
         * was lost started it; so did a fanned-out step resolved (by acting
         * now), which does not pass through plan_start(). */
        for (size_t i = 0; i < p->n_steps && ret->start_ms == 0; i++)
                if (in->steps[i].task_exists || in->steps[i].deployed ||
                    in->steps[i].build_state != STEP_BUILD_NOT_STARTED ||
                    (in->steps[i].fan_out && ret->steps[i].phase == STEP_RUNNING))
                        ret->start_ms = in->now_ms;

        /* Pass 2, in dependency order: start what may start, and make more
         * children of the fanned-out steps that run. */
        size_t n_ordered = topological_order(in->steps, p->n_steps, order);
        for (size_t o = 0; o < n_ordered; o++) {
                size_t i = order[o];
                if (!p->observed[i])
                        plan_start(p, i);
                else if (in->steps[i].fan_out && ret->steps[i].phase == STEP_RUNNING)
                        fill_children(p, i);
        }
        if (p->stop_reason)
                plan_stops(p);
        if (in->fail_fast && p->unhandled_failure)
                end_held_back_fan_outs(p);

        /* The Workflow as a whole. */
        bool all_finished = true;
        bool any_started = false;
        for (size_t i = 0; i < p->n_steps; i++) {
                enum step_phase ph = ret->steps[i].phase;
                if (ph == STEP_SUCCEEDED && !in->steps[i].exit_handler)
                        ret->succeeded++;
                if (!step_finished(ph))
                        all_finished = false;
                if (ph != STEP_PENDING && ph != STEP_SKIPPED)
                        any_started = true;
        }
        ret->outcome =
            p->stop_reason || p->unhandled_failure ? TASK_PHASE_FAILED : TASK_PHASE_SUCCEEDED;
        if (all_finished && p->n_steps > 0 && n_ordered == p->n_steps) {
                plan_outcome(p);
        } else {
                ret->phase = any_started || ret->retried ? TASK_PHASE_RUNNING : TASK_PHASE_PENDING;
                if (p->stop_reason) {
                        ret->reason = p->stop_reason;
                        /* The exit handler runs only once nothing else does. */
                        bool on_exit = p->n_steps > 0 && in->steps[p->n_steps - 1].exit_handler &&
                                       ret->steps[p->n_steps - 1].phase == STEP_RUNNING;
                        snprintf(
                            ret->message_buf, sizeof(ret->message_buf), "%s; %s", p->stop_message,
                            on_exit ? "running onExit" : "waiting for the running steps to stop");
                        ret->message = ret->message_buf;
                        ret->terminating = true;
                } else if (p->unhandled_failure && in->fail_fast && p->running > 0) {
                        /* Terminal only when stopped: Failed once nothing runs. */
                        describe_failure(p);
                        if (ret->message != ret->message_buf)
                                snprintf(ret->message_buf, sizeof(ret->message_buf), "%s",
                                         ret->message);
                        size_t used = strlen(ret->message_buf);
                        snprintf(ret->message_buf + used, sizeof(ret->message_buf) - used,
                                 "; failFast: waiting for the running steps to finish");
                        ret->message = ret->message_buf;
                        ret->terminating = true;
                }
        }
        ret->status_changed = true;
out:
        free(p);
}
