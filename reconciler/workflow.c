/* workflow.c: the Workflow reconciler — observe a Workflow's step Tasks,
 * the Services its deploy steps wrote and the results, plan
 * (workflow-plan.c), act on the store, write the status.
 *
 * A Workflow talks to the next layer only through the store: it creates Task
 * objects (the Task controller runs them), writes the image of Services (the
 * Service controller rolls them out) and reads their status from the cache.
 * The one exception is a step's result, its stdout, which is read from the
 * finished Task's container once and stored under the step's own data key
 * (workflow-steps.c).
 */
#include "reconciler-internal.h"
#include "workflow-internal.h"

static struct workflow_run *workflow_run_of(struct object_run *o)
{
        return (struct workflow_run *)o;
}

/* ---- children ------------------------------------------------------------ */

/* The Tasks of this Workflow (by owner uid, or every Task owned by a Workflow
 * of this name when uid is NULL) and its result keys. */
static int list_children(struct reconcile_ctx *ctx, const char *ns, const char *name,
                         const char *uid, json_t **ret_tasks, struct store_kvs *ret_results,
                         struct berth_error *err)
{
        _cleanup_free_ char *data_prefix =
            object_data_key(ctx->prefix, WORKFLOW_RESOURCE, ns, name, NULL);
        _cleanup_json_ json_t *tasks = NULL;

        if (!data_prefix)
                return berth_error_set(err, -ENOMEM, "out of memory");
        int r = children_list(ctx, kind_by_name("Task"), ns, "Workflow", name, uid, &tasks, err);
        if (r < 0)
                return r;
        /* Result keys are not in the cache. */
        r = store_list(ctx->store, data_prefix, 0, ret_results, err);
        if (r < 0)
                return r;
        *ret_tasks = TAKE_PTR(tasks);
        return 0;
}

/* Marks the Tasks deleted (their finalizer removes the containers) and
 * deletes the result keys. */
static int delete_children(struct reconcile_ctx *ctx, const char *ns, const json_t *tasks,
                           const struct store_kvs *results, struct berth_error *err)
{
        int r = children_mark_deleted(ctx, kind_by_name("Task"), ns, tasks, err);

        if (r < 0)
                return r;
        for (size_t k = 0; k < results->n; k++) {
                r = store_delete_guarded(ctx->store, results->items[k].key, STORE_ANY_REVISION,
                                         ctx->fence, NULL, err);
                if (r < 0 && r != -ENOENT)
                        return r;
        }
        berth_error_clear(err);
        return 0;
}

/* Gone: what it left behind is orphaned. */
static int workflow_gone(struct reconcile_ctx *ctx, const char *ns, const char *name,
                         struct berth_error *err)
{
        _cleanup_json_ json_t *tasks = NULL;
        _cleanup_(store_kvs_release) struct store_kvs results = {0};
        int r = list_children(ctx, ns, name, NULL, &tasks, &results, err);

        if (r < 0)
                return r;
        return delete_children(ctx, ns, tasks, &results, err);
}

/* ---- prepare, observe, plan ---------------------------------------------- */

static int workflow_prepare(struct object_run *o, struct berth_error *err)
{
        struct workflow_run *run = workflow_run_of(o);
        int r;

        if (o->deleting)
                return 0; /* a delete needs no valid spec */
        r = workflow_spec_decode(o->obj, &run->spec, err);
        if (r < 0) {
                berth_error_prefix(err, "%s", o->key);
                return r;
        }
        run->spec_valid = true;
        for (size_t i = 0; i < run->spec.n_steps; i++) {
                const struct workflow_step_spec *step = &run->spec.steps[i];
                _cleanup_free_ char *part = str_printf("step-%s", run->spec.steps[i].name);

                if (!step->task) {
                        run->service_keys[i] =
                            object_key(o->ctx->prefix, kind_by_name("Service")->resource, o->ns,
                                       step->deploy.service);
                        if (!run->service_keys[i])
                                return berth_error_set(err, -ENOMEM, "out of memory");
                }

                run->task_names[i] = str_printf("%s-%s", o->name, run->spec.steps[i].name);
                run->task_keys[i] = run->task_names[i] ? object_key(o->ctx->prefix, "tasks", o->ns,
                                                                    run->task_names[i])
                                                       : NULL;
                run->result_keys[i] =
                    part ? object_data_key(o->ctx->prefix, WORKFLOW_RESOURCE, o->ns, o->name, part)
                         : NULL;
                if (!run->task_keys[i] || !run->result_keys[i])
                        return berth_error_set(err, -ENOMEM, "out of memory");
        }
        return 0;
}

static const json_t *prev_step_status(const struct workflow_run *run, const char *name)
{
        size_t i;
        const json_t *e;

        json_array_foreach(json_path(run->o.obj, "status.steps"), i, e)
        {
                if (streq(json_string_value(json_object_get(e, "name")), name))
                        return e;
        }
        return NULL;
}

/* Where the rollout of generation stands, by the Service's status: only a
 * status computed from that generation or a later one counts. */
static enum rollout_state rollout_of(const json_t *service, int64_t generation,
                                     const char **ret_message)
{
        const json_t *st = json_object_get(service, "status");
        size_t k;
        const json_t *c;

        if (json_path_int(st, "observedGeneration", 0) < generation)
                return ROLLOUT_PROGRESSING;
        json_array_foreach(json_object_get(st, "conditions"), k, c)
        {
                const char *status = json_string_value(json_object_get(c, "status"));
                const char *reason = json_string_value(json_object_get(c, "reason"));

                if (!streq(json_string_value(json_object_get(c, "type")), "Progressing"))
                        continue;
                if (streq(status, "True") && streq(reason, "NewRevisionAvailable"))
                        return ROLLOUT_COMPLETE;
                if (streq(status, "False") && streq(reason, "ProgressDeadlineExceeded")) {
                        *ret_message = json_string_value(json_object_get(c, "message"));
                        return ROLLOUT_FAILED;
                }
        }
        return ROLLOUT_PROGRESSING;
}

/* A deploy step: what it recorded (its status, or acting in this reconcile)
 * and what its Service shows of that generation. */
static void observe_deploy(struct workflow_run *run, size_t i, const json_t *prev,
                           struct workflow_step *s)
{
        const struct workflow_deploy *d = &run->spec.steps[i].deploy;
        const struct step_deploy_written *w = &run->written[i];
        struct step_deploy *rec = &run->deploys[i];

        s->deploy = true;
        s->service = d->service;
        s->deploy_wait = d->wait;
        if (w->generation > 0)
                *rec = (struct step_deploy){w->generation, w->uid, w->image, w->start_ms};
        else
                *rec = (struct step_deploy){
                    .generation = json_path_int(prev, "serviceGeneration", 0),
                    .uid = json_string_value(json_object_get(prev, "serviceUID")),
                    .image = json_string_value(json_object_get(prev, "image")),
                    .start_ms = json_time_field(prev, "startTime"),
                };
        if (rec->generation <= 0 || !rec->image) {
                *rec = (struct step_deploy){0};
                return;
        }
        s->deployed = true;

        json_decref(run->services[i]);
        run->services[i] = object_cache_get(run->o.ctx->objects, run->service_keys[i], NULL);
        const json_t *svc = run->services[i];
        /* A Service deleted and made again is not the one whose rollout we follow. */
        s->service_found = svc && !object_is_deleting(svc) &&
                           (!rec->uid || streq(json_path_string(svc, "metadata.uid"), rec->uid));
        if (s->service_found) {
                const char *image = json_path_string(svc, "spec.template.image");

                /* Only a Service at the generation written or later tells: the
                 * cache may not have that write yet. */
                if (json_path_int(svc, "metadata.generation", 0) >= rec->generation &&
                    !streq(image, rec->image))
                        s->superseded_by = image ? image : "(none)";
                s->rollout = rollout_of(svc, rec->generation, &s->rollout_message);
        }
        if (d->timeout_ms > 0 && rec->start_ms > 0)
                s->deploy_deadline_ms = rec->start_ms + d->timeout_ms;
}

static int observe_step(struct workflow_run *run, size_t i, struct berth_error *err)
{
        const struct workflow_step_spec *spec = &run->spec.steps[i];
        struct workflow_step *s = &run->steps[i];
        const json_t *prev = prev_step_status(run, spec->name);

        *s = (struct workflow_step){
            .name = spec->name,
            .deps = spec->deps,
            .n_deps = spec->n_deps,
            .failure_reason = run->failures[i].reason,
            .failure_message = run->failures[i].message,
        };
        if (step_phase_from_string(json_string_value(json_object_get(prev, "phase")),
                                   &s->prev_phase) < 0)
                s->prev_phase = STEP_PENDING;
        s->prev_reason = json_string_value(json_object_get(prev, "reason"));
        s->prev_message = json_string_value(json_object_get(prev, "message"));
        s->result_stored = s->prev_phase == STEP_SUCCEEDED || run->stored[i];

        if (!spec->task) {
                observe_deploy(run, i, prev, s);
                /* Results are not cached: read one only when the step may just
                 * have finished. */
                bool done = s->deployed && (!s->deploy_wait ||
                                            (s->service_found && s->rollout == ROLLOUT_COMPLETE));
                if (!s->result_stored && done) {
                        int r = workflow_load_result(run, i, err);
                        if (r < 0 && r != -ENOENT)
                                return r;
                        s->result_stored = r == 0;
                }
                return 0;
        }

        json_decref(run->tasks[i]);
        run->tasks[i] = object_cache_get(run->o.ctx->objects, run->task_keys[i], NULL);
        if (run->tasks[i]) {
                struct task_status ts;

                s->task_exists = object_owned_by(run->tasks[i], "Workflow", NULL, run->o.uid);
                s->task_foreign = !s->task_exists;
                task_status_from_json(run->tasks[i], &ts);
                s->task_phase = ts.phase;
                s->task_reason = ts.reason;
                s->task_message = ts.message;
        } else if (run->created[i]) {
                /* Created by this reconcile; the cache has not shown it yet. */
                s->task_exists = true;
                s->task_phase = TASK_PHASE_PENDING;
        }

        /* Results are not cached: read one only when its step may just have
         * finished (a Succeeded step in the status has its result for sure). */
        if (!s->result_stored && s->task_exists && s->task_phase == TASK_PHASE_SUCCEEDED) {
                int r = workflow_load_result(run, i, err);
                if (r < 0 && r != -ENOENT)
                        return r;
                s->result_stored = r == 0;
        }
        s->prev_created = json_object_get(prev, "task") != NULL;
        return 0;
}

static int workflow_observe(struct object_run *o, struct berth_error *err)
{
        struct workflow_run *run = workflow_run_of(o);

        if (o->deleting) {
                json_decref(run->children);
                run->children = NULL;
                store_kvs_release(&run->results_left);
                return list_children(o->ctx, o->ns, o->name, o->uid, &run->children,
                                     &run->results_left, err);
        }
        for (size_t i = 0; i < run->spec.n_steps; i++) {
                int r = observe_step(run, i, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void workflow_plan(struct object_run *o, struct plan_summary *ret)
{
        struct workflow_run *run = workflow_run_of(o);
        const json_t *st = json_object_get(o->obj, "status");
        struct workflow_plan_input in = {
            .deleting = o->deleting,
            .has_finalizer = object_has_finalizer(o->obj, WORKFLOW_FINALIZER),
            .tasks_left = json_array_size(run->children),
            .results_left = run->results_left.n,
            .fail_fast = run->spec.fail_fast,
            .parallelism = run->spec.parallelism,
            .ttl_after_finished_ms = run->spec.ttl_after_finished_ms,
            .steps = run->steps,
            .n_steps = run->spec.n_steps,
            .prev_start_ms = json_time_field(st, "startTime"),
            .prev_completion_ms = json_time_field(st, "completionTime"),
            .now_ms = o->now_ms,
        };
        uint64_t sig = SIGNATURE_SEED;

        if (task_phase_from_string(json_string_value(json_object_get(st, "phase")),
                                   &in.prev_phase) < 0)
                in.prev_phase = TASK_PHASE_PENDING;
        workflow_plan_compute(&in, &run->plan);
        for (size_t k = 0; k < run->plan.n_actions; k++)
                sig = signature_add(sig, &run->plan.actions[k], sizeof(run->plan.actions[k]));
        *ret = (struct plan_summary){
            .n_actions = run->plan.n_actions,
            .signature = sig,
            .requeue_after_ms = run->plan.requeue_after_ms,
        };
}

/* ---- act ----------------------------------------------------------------- */

static int workflow_act(struct object_run *o, struct berth_error *err)
{
        struct workflow_run *run = workflow_run_of(o);
        bool progress = false;
        int r = 0;

        for (size_t k = 0; k < run->plan.n_actions && r >= 0; k++) {
                const struct workflow_action *a = &run->plan.actions[k];

                switch (a->type) {
                case WORKFLOW_ACTION_ADD_FINALIZER:
                        r = object_run_add_finalizer(o, WORKFLOW_FINALIZER);
                        break;
                case WORKFLOW_ACTION_CREATE_TASK:
                        r = workflow_create_task(run, a->step, err);
                        break;
                case WORKFLOW_ACTION_DEPLOY:
                        r = workflow_deploy(run, a->step, err);
                        /* Written: without wait the step is done, with wait
                         * its rollout may be complete already. */
                        progress = true;
                        break;
                case WORKFLOW_ACTION_STORE_RESULT:
                        r = workflow_store_result(run, a->step, err);
                        /* Stored: the step is Succeeded and its dependants may
                         * start (no event tells: results are not cached). */
                        progress = true;
                        break;
                case WORKFLOW_ACTION_DELETE_CHILDREN:
                        r = delete_children(o->ctx, o->ns, run->children, &run->results_left, err);
                        break;
                case WORKFLOW_ACTION_FINALIZE:
                        r = object_run_finalize(o, WORKFLOW_FINALIZER, err);
                        return r < 0 ? r : ACT_DONE;
                case WORKFLOW_ACTION_DELETE:
                        r = object_run_mark_deleted(o, err);
                        o->retry_ms = 0; /* the deletion runs next */
                        return r < 0 ? r : ACT_DONE;
                }
                if (r == -ENOMEM)
                        return berth_error_set(err, r, "%s: out of memory", o->key);
        }
        if (r < 0)
                return r;
        if (run->new_failures > 0) {
                /* Plan again, so that the status tells the failures now. */
                run->new_failures = 0;
                return ACT_REPLAN;
        }
        return progress ? ACT_PROGRESS : ACT_IDLE;
}

/* ---- status -------------------------------------------------------------- */

/* A deploy step's part of its status entry: the Service and what was
 * written into it (read back by observe_deploy). */
static int deploy_status_json(const struct workflow_run *run, size_t i,
                              const struct workflow_step_plan *sp, json_t *e)
{
        const struct step_deploy *d = &run->deploys[i];
        bool finished = sp->phase == STEP_SUCCEEDED || sp->phase == STEP_FAILED;

        if (json_set_string(e, "service", run->steps[i].service) < 0)
                return -ENOMEM;
        if (d->generation > 0 &&
            (json_set_string(e, "image", d->image) < 0 ||
             json_set_new(e, "serviceGeneration", json_integer(d->generation)) < 0 ||
             json_set_string(e, "serviceUID", d->uid) < 0 ||
             json_set_time(e, "startTime", d->start_ms) < 0))
                return -ENOMEM;
        if (finished && json_set_time(e, "finishTime", run->o.now_ms) < 0)
                return -ENOMEM;
        return 0;
}

static json_t *step_status_json(const struct workflow_run *run, size_t i,
                                const struct workflow_step_plan *sp)
{
        const struct workflow_step *s = &run->steps[i];
        const json_t *prev = prev_step_status(run, s->name);

        /* A finished step's entry never changes (its Task may be gone by now). */
        if (prev && sp->phase != STEP_PENDING && sp->phase != STEP_RUNNING &&
            streq(json_string_value(json_object_get(prev, "phase")),
                  step_phase_to_string(sp->phase)))
                return json_deep_copy(prev);

        _cleanup_json_ json_t *e =
            json_pack("{s:s, s:s}", "name", s->name, "phase", step_phase_to_string(sp->phase));
        if (!e)
                return NULL;
        if (s->deploy && deploy_status_json(run, i, sp, e) < 0)
                return NULL;
        if (s->task_exists || s->prev_created || run->created[i])
                if (json_set_string(e, "task", run->task_names[i]) < 0)
                        return NULL;
        if (s->task_exists && run->tasks[i]) {
                struct task_status ts;
                task_status_from_json(run->tasks[i], &ts);
                if (json_set_time(e, "startTime", ts.start_ms) < 0 ||
                    json_set_time(e, "finishTime", ts.completion_ms) < 0 ||
                    (ts.exit_known && json_set_new(e, "exitCode", json_integer(ts.exit_code)) < 0))
                        return NULL;
        }
        if (json_set_string(e, "reason", sp->reason) < 0 ||
            json_set_string(e, "message", sp->message) < 0)
                return NULL;
        if (s->result_stored && sp->phase == STEP_SUCCEEDED &&
            json_set_string(e, "result", run->result_keys[i]) < 0)
                return NULL;
        return TAKE_PTR(e);
}

static json_t *status_json(struct workflow_run *run)
{
        const struct workflow_plan *plan = &run->plan;
        const json_t *old = json_object_get(run->o.obj, "status");
        _cleanup_json_ json_t *steps = json_array();
        _cleanup_json_ json_t *st = json_object();
        char progress[32];

        if (!steps || !st)
                return NULL;
        for (size_t i = 0; i < run->spec.n_steps; i++)
                if (json_array_append_new(steps, step_status_json(run, i, &plan->steps[i])) < 0)
                        return NULL;
        snprintf(progress, sizeof(progress), "%zu/%zu", plan->succeeded, run->spec.n_steps);

        struct task_status phase = {
            .phase = plan->phase,
            .reason = plan->reason,
            .message = plan->message,
            .terminating_ms = plan->terminating ? run->o.now_ms : 0,
        };
        if (json_set_new(st, "phase", json_string(task_phase_to_string(plan->phase))) < 0 ||
            json_set_new(st, "observedGeneration",
                         json_integer(json_path_int(run->o.obj, "metadata.generation", 0))) < 0 ||
            json_set_new(st, "progress", json_string(progress)) < 0 ||
            json_set_time(st, "startTime", plan->start_ms) < 0 ||
            json_set_time(st, "completionTime", plan->completion_ms) < 0 ||
            json_set_string(st, "reason", plan->reason) < 0 ||
            json_set_string(st, "message", plan->message) < 0 ||
            json_object_set(st, "steps", steps) < 0 ||
            json_set_new(st, "conditions", phase_conditions_to_json(&phase, old, run->o.now_ms)) <
                0)
                return NULL;
        return TAKE_PTR(st);
}

/* A finished Workflow never runs again, but its status says which spec it saw. */
static int observe_generation(struct object_run *o, struct berth_error *err)
{
        json_t *st = json_object_get(o->obj, "status");
        json_int_t gen = json_path_int(o->obj, "metadata.generation", 0);

        if (!json_is_object(st) || json_path_int(st, "observedGeneration", 0) == gen)
                return 0;
        if (json_object_set_new(st, "observedGeneration", json_integer(gen)) < 0)
                return berth_error_set(err, -ENOMEM, "out of memory");
        o->dirty = true;
        return 0;
}

static int workflow_status(struct object_run *o, struct berth_error *err)
{
        struct workflow_run *run = workflow_run_of(o);

        if (o->deleting) {
                if (!run->plan.terminating)
                        return 0;
                return object_run_set_status(
                    o,
                    status_with_condition(json_object_get(o->obj, "status"), "Terminating", "True",
                                          run->plan.reason, run->plan.message, o->now_ms),
                    err);
        }
        if (!run->plan.status_changed)
                return observe_generation(o, err);
        return object_run_set_status(o, status_json(run), err);
}

static void workflow_release(struct object_run *o)
{
        struct workflow_run *run = workflow_run_of(o);

        for (size_t i = 0; i < WORKFLOW_STEPS_MAX; i++) {
                free(run->task_names[i]);
                free(run->task_keys[i]);
                free(run->result_keys[i]);
                json_decref(run->tasks[i]);
                json_decref(run->results[i]);
                free(run->service_keys[i]);
                json_decref(run->services[i]);
                free(run->written[i].uid);
                free(run->written[i].image);
        }
        json_decref(run->children);
        store_kvs_release(&run->results_left);
        workflow_spec_release(&run->spec);
}

const struct kind_reconciler workflow_reconciler = {
    .kind = "Workflow",
    .run_size = sizeof(struct workflow_run),
    .gone = workflow_gone,
    .prepare = workflow_prepare,
    .observe = workflow_observe,
    .plan = workflow_plan,
    .act = workflow_act,
    .status = workflow_status,
    .release = workflow_release,
};
