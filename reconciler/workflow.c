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

void workflow_child_name(const struct workflow_run *run, size_t i, size_t child, char buf[64])
{
        snprintf(buf, 64, "%s-%s-%zu", run->o.name, run->s[i].spec->name, child);
}

static int prepare_step(struct workflow_run *run, size_t i, struct berth_error *err)
{
        struct object_run *o = &run->o;
        struct step_run *sr = &run->s[i];
        const struct workflow_step_spec *step = &run->spec.steps[i];
        _cleanup_free_ char *part = str_printf("step-%s", step->name);

        sr->spec = step;
        if (step->type == WORKFLOW_STEP_DEPLOY) {
                sr->service_key = object_key(o->ctx->prefix, kind_by_name("Service")->resource,
                                             o->ns, step->deploy.service);
                if (!sr->service_key)
                        return berth_error_set(err, -ENOMEM, "out of memory");
        }
        sr->task_name =
            str_printf("%s-%s", o->name, step->exit_handler ? WORKFLOW_EXIT_TASK : step->name);
        sr->task_key =
            sr->task_name ? object_key(o->ctx->prefix, "tasks", o->ns, sr->task_name) : NULL;
        sr->result_key =
            part ? object_data_key(o->ctx->prefix, WORKFLOW_RESOURCE, o->ns, o->name, part) : NULL;
        if (!sr->task_key || !sr->result_key)
                return berth_error_set(err, -ENOMEM, "out of memory");
        return 0;
}

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
        run->n = run->spec.n_steps + (run->spec.on_exit ? 1 : 0);
        run->s = calloc(run->n, sizeof(*run->s));
        run->steps = calloc(run->n, sizeof(*run->steps));
        if (!run->s || !run->steps)
                return berth_error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < run->n; i++) {
                r = prepare_step(run, i, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static const json_t *prev_step_status(const struct workflow_run *run, const char *name)
{
        size_t i;
        const json_t *e;

        if (streq(name, WORKFLOW_EXIT_STEP))
                return json_path(run->o.obj, "status.onExit");
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
static void observe_deploy(struct workflow_run *run, size_t i, struct workflow_step *s)
{
        struct step_run *sr = &run->s[i];
        const struct workflow_deploy *d = &sr->spec->deploy;
        const struct step_deploy_written *w = &sr->written;
        struct step_deploy *rec = &sr->deploy;
        const json_t *prev = sr->prev;

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

        json_decref(sr->service);
        sr->service = object_cache_get(run->o.ctx->objects, sr->service_key, NULL);
        const json_t *svc = sr->service;
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

/* A build step: the builder's word. A build it forgot (berthd restarted, or
 * the result was stored by a reconcile whose status write was lost) has
 * started before when the status says so: its stored result then tells it
 * finished, else it builds again. */
static int observe_build(struct workflow_run *run, size_t i, struct workflow_step *s,
                         struct berth_error *err)
{
        struct step_run *sr = &run->s[i];
        _cleanup_free_ char *id = workflow_build_id(run, i);

        s->build = true;
        sr->log_stored = (uint64_t)json_path_int(sr->prev, "logBytes", 0);
        if (!id)
                return berth_error_set(err, -ENOMEM, "out of memory");
        build_status_release(&sr->build);
        if (run->o.ctx->builder && builder_status(run->o.ctx->builder, id, &sr->build) < 0)
                return berth_error_set(err, -ENOMEM, "out of memory");
        switch (sr->build.state) {
        case BUILD_QUEUED:
        case BUILD_RUNNING:
                s->build_state = STEP_BUILD_RUNNING;
                break;
        case BUILD_SUCCEEDED:
                s->build_state = STEP_BUILD_SUCCEEDED;
                break;
        case BUILD_FAILED:
                s->build_state = STEP_BUILD_FAILED;
                s->build_message = sr->build.message;
                break;
        case BUILD_UNKNOWN:
                if (s->result_stored) { /* by this reconcile, which forgot the build */
                        s->build_state = STEP_BUILD_SUCCEEDED;
                        break;
                }
                if (s->prev_phase != STEP_RUNNING)
                        break;
                int r = workflow_load_result(run, i, err);
                if (r < 0 && r != -ENOENT)
                        return r;
                sr->build_result_found = r == 0;
                if (r == 0) {
                        s->build_state = STEP_BUILD_SUCCEEDED;
                        s->result_stored = true;
                }
                break;
        }
        return 0;
}

/* A Task of this Workflow in the cache: its phase into *phase/reason/message. */
static void observe_task_object(const struct workflow_run *run, const json_t *task, bool *exists,
                                bool *foreign, bool *deleting, enum task_phase *phase,
                                const char **reason, const char **message)
{
        struct task_status ts;

        if (!task)
                return;
        bool owned = object_owned_by(task, "Workflow", NULL, run->o.uid);
        *foreign = !owned;
        *deleting = owned && object_is_deleting(task);
        *exists = owned && !*deleting;
        task_status_from_json(task, &ts);
        *phase = ts.phase;
        *reason = ts.reason;
        *message = ts.message;
}

/* A fanned-out step's children, 0..n_children-1, from the cache. */
static int observe_children(struct workflow_run *run, size_t i, struct workflow_step *s,
                            struct berth_error *err)
{
        struct step_run *sr = &run->s[i];
        struct object_run *o = &run->o;

        if (!sr->children) {
                sr->children = calloc(sr->n_children ? sr->n_children : 1, sizeof(*sr->children));
                sr->child_tasks =
                    calloc(sr->n_children ? sr->n_children : 1, sizeof(*sr->child_tasks));
                if (!sr->children || !sr->child_tasks)
                        return berth_error_set(err, -ENOMEM, "out of memory");
        }
        for (size_t c = 0; c < sr->n_children; c++) {
                struct workflow_child *ch = &sr->children[c];
                char name[64];

                workflow_child_name(run, i, c, name);
                _cleanup_free_ char *key = object_key(o->ctx->prefix, "tasks", o->ns, name);
                if (!key)
                        return berth_error_set(err, -ENOMEM, "out of memory");
                json_decref(sr->child_tasks[c]);
                sr->child_tasks[c] = object_cache_get(o->ctx->objects, key, NULL);
                /* Created by this reconcile; the cache has not shown it yet. */
                *ch = (struct workflow_child){.exists = c < sr->children_made,
                                              .phase = TASK_PHASE_PENDING};
                observe_task_object(run, sr->child_tasks[c], &ch->exists, &ch->foreign,
                                    &ch->deleting, &ch->phase, &ch->reason, &ch->message);
                if (ch->deleting)
                        s->task_deleting = true;
        }
        s->children = sr->children;
        s->n_children = sr->n_children;
        return 0;
}

/* Whether step i has been resolved: by acting now, or (fanned out) by an
 * earlier reconcile whose status counted its items. */
static void observe_resolution(struct workflow_run *run, size_t i, struct workflow_step *s)
{
        struct step_run *sr = &run->s[i];
        const struct workflow_step_spec *spec = sr->spec;
        const json_t *items = json_object_get(sr->prev, "items");

        s->fan_out = spec->with_items || spec->with_param;
        s->needs_resolve = s->fan_out || spec->when;
        if (sr->resolved) {
                s->resolved = true;
                s->when_false = sr->when_false;
        } else if (s->fan_out && json_is_integer(items)) {
                s->resolved = true;
                sr->n_children = (size_t)json_integer_value(items);
        }
}

static int observe_step(struct workflow_run *run, size_t i, struct berth_error *err)
{
        struct step_run *sr = &run->s[i];
        const struct workflow_step_spec *spec = sr->spec;
        struct workflow_step *s = &run->steps[i];

        sr->prev = prev_step_status(run, spec->name);
        *s = (struct workflow_step){
            .name = spec->name,
            .deps = spec->deps,
            .n_deps = spec->n_deps,
            .depends = spec->depends,
            .continue_on_failed = spec->continue_on_failed,
            .exit_handler = spec->exit_handler,
            .failure_reason = sr->failure.reason,
            .failure_message = sr->failure.message,
        };
        if (step_phase_from_string(json_string_value(json_object_get(sr->prev, "phase")),
                                   &s->prev_phase) < 0)
                s->prev_phase = STEP_PENDING;
        s->prev_reason = json_string_value(json_object_get(sr->prev, "reason"));
        s->prev_message = json_string_value(json_object_get(sr->prev, "message"));
        s->result_stored = s->prev_phase == STEP_SUCCEEDED || sr->stored;
        s->prev_created = json_object_get(sr->prev, "task") != NULL;
        s->prev_children_created = (size_t)json_path_int(sr->prev, "created", 0);

        if (spec->type == WORKFLOW_STEP_BUILD)
                return observe_build(run, i, s, err);
        if (spec->type == WORKFLOW_STEP_DEPLOY) {
                observe_deploy(run, i, s);
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
        observe_resolution(run, i, s);
        if (s->fan_out) {
                if (!s->resolved || s->when_false || s->prev_phase == STEP_SUCCEEDED ||
                    s->prev_phase == STEP_FAILED || s->prev_phase == STEP_SKIPPED)
                        return 0;
                int r = observe_children(run, i, s, err);
                if (r < 0)
                        return r;
                bool all_succeeded = true;
                for (size_t c = 0; c < sr->n_children; c++)
                        if (!s->children[c].exists || s->children[c].phase != TASK_PHASE_SUCCEEDED)
                                all_succeeded = false;
                if (!s->result_stored && all_succeeded) {
                        r = workflow_load_result(run, i, err);
                        if (r < 0 && r != -ENOENT)
                                return r;
                        s->result_stored = r == 0;
                }
                return 0;
        }

        json_decref(sr->task);
        sr->task = object_cache_get(run->o.ctx->objects, sr->task_key, NULL);
        if (sr->task)
                observe_task_object(run, sr->task, &s->task_exists, &s->task_foreign,
                                    &s->task_deleting, &s->task_phase, &s->task_reason,
                                    &s->task_message);
        else if (sr->created) {
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
        for (size_t i = 0; i < run->n; i++) {
                int r = observe_step(run, i, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* `berth retry` asked for a rerun (WORKFLOW_ANNOTATION_RETRY) not yet done. */
static bool retry_requested(const json_t *obj)
{
        const char *want = json_string_value(
            json_object_get(json_path(obj, "metadata.annotations"), WORKFLOW_ANNOTATION_RETRY));

        return want && !streq(want, json_path_string(obj, "status.retriedFor"));
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
            .active_deadline_ms = run->spec.active_deadline_ms,
            .shutdown = run->spec.shutdown,
            .on_exit_fail_workflow = run->spec.on_exit_fail_workflow,
            .steps = run->steps,
            .n_steps = run->n,
            .retry_requested = retry_requested(o->obj),
            .prev_reason = json_string_value(json_object_get(st, "reason")),
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

/* Deleting, once its Tasks are gone: the workspace volume, then the
 * finalizer. */
static int finalize(struct object_run *o, struct berth_error *err)
{
        struct workflow_run *run = workflow_run_of(o);
        int r = workflow_workspace_remove(run, err);

        if (o->ctx->builder)
                builder_forget_owner(o->ctx->builder, o->key);

        if (r == -EBUSY) {
                /* A step's container is still being removed: look again soon. */
                berth_error_clear(err);
                o->retry_ms = 1000;
                return ACT_IDLE;
        }
        if (r < 0)
                return r;
        r = object_run_finalize(o, WORKFLOW_FINALIZER, err);
        return r < 0 ? r : ACT_DONE;
}

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
                case WORKFLOW_ACTION_RESOLVE:
                        r = workflow_resolve(run, a->step, err);
                        break;
                case WORKFLOW_ACTION_CREATE_TASK:
                        r = workflow_create_task(run, a->step, a->child, err);
                        break;
                case WORKFLOW_ACTION_STOP_TASK:
                        r = workflow_stop_task(run, a->step, a->child, err);
                        break;
                case WORKFLOW_ACTION_RESET_STEP:
                        r = workflow_reset_step(run, a->step, err);
                        break;
                case WORKFLOW_ACTION_BUILD:
                        r = workflow_build(run, a->step, err);
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
                        return finalize(o, err);
                case WORKFLOW_ACTION_DELETE:
                        r = object_run_mark_deleted(o, err);
                        o->retry_ms = 0; /* the deletion runs next */
                        return r < 0 ? r : ACT_DONE;
                }
                if (r == -ENOMEM)
                        return berth_error_set(err, r, "%s: out of memory", o->key);
        }
        /* Builds: a snapshot of their output for `berth logs` while they
         * run; a failed one's last, then the builder forgets it (the step's
         * status, Failed, is the record). */
        for (size_t i = 0; r >= 0 && i < run->n; i++) {
                enum step_build_state b = run->steps[i].build_state;
                if (b == STEP_BUILD_RUNNING || b == STEP_BUILD_FAILED)
                        r = workflow_store_build_log(run, i, err);
                if (r >= 0 && b == STEP_BUILD_FAILED)
                        workflow_build_cancel(run, i);
        }
        if (r < 0)
                return r;
        if (run->new_failures > 0 || run->new_resolutions > 0) {
                /* Plan again, so that the status tells the failures now and
                 * resolved steps start. */
                run->new_failures = 0;
                run->new_resolutions = 0;
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
        const struct step_deploy *d = &run->s[i].deploy;
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

/* A build step: when its build ran, the image it made, how much of its
 * log is stored. */
static int build_status_json(const struct workflow_run *run, size_t i,
                             const struct workflow_step_plan *sp, json_t *e)
{
        const struct step_run *sr = &run->s[i];
        const struct build_status *b = &sr->build;
        int64_t start = b->started_ms > 0 ? b->started_ms : json_time_field(sr->prev, "startTime");
        const char *image = b->image_id ? b->image_id : json_path_string(sr->prev, "image");
        bool finished = sp->phase == STEP_SUCCEEDED || sp->phase == STEP_FAILED;

        if (!image && sr->build_result_found && sr->result)
                image = json_string_value(json_object_get(sr->result, "result"));
        if (sp->phase == STEP_PENDING)
                return 0;
        if (json_set_time(e, "startTime", start > 0 ? start : run->o.now_ms) < 0 ||
            json_set_string(e, "image", image) < 0 ||
            (sr->log_stored > 0 &&
             json_set_new(e, "logBytes", json_integer((json_int_t)sr->log_stored)) < 0) ||
            (finished && json_set_time(e, "finishTime",
                                       b->finished_ms > 0 ? b->finished_ms : run->o.now_ms) < 0))
                return -ENOMEM;
        return 0;
}

/* A fanned-out step: its items and children counted, and its times. */
static int fan_out_status_json(const struct workflow_run *run, size_t i,
                               const struct workflow_step_plan *sp, json_t *e)
{
        const struct step_run *sr = &run->s[i];
        int64_t start = json_time_field(sr->prev, "startTime");
        bool finished = sp->phase == STEP_SUCCEEDED || sp->phase == STEP_FAILED;

        if (!run->steps[i].resolved || run->steps[i].when_false || sr->reset)
                return 0;
        if (start <= 0 && sp->phase != STEP_PENDING)
                start = run->o.now_ms;
        if (json_set_new(e, "items", json_integer((json_int_t)sr->n_children)) < 0 ||
            json_set_new(e, "created", json_integer((json_int_t)sp->children_created)) < 0 ||
            json_set_new(e, "succeeded", json_integer((json_int_t)sp->children_succeeded)) < 0 ||
            json_set_new(e, "failed", json_integer((json_int_t)sp->children_failed)) < 0 ||
            json_set_time(e, "startTime", start) < 0 ||
            (finished && json_set_time(e, "finishTime", run->o.now_ms) < 0))
                return -ENOMEM;
        return 0;
}

static json_t *step_status_json(const struct workflow_run *run, size_t i,
                                const struct workflow_step_plan *sp)
{
        const struct workflow_step *s = &run->steps[i];
        const struct step_run *sr = &run->s[i];
        const json_t *prev = sr->prev;

        /* A finished step's entry never changes (its Task may be gone by
         * now), until a retry resets it. */
        if (prev && !sr->reset && sp->phase != STEP_PENDING && sp->phase != STEP_RUNNING &&
            streq(json_string_value(json_object_get(prev, "phase")),
                  step_phase_to_string(sp->phase)))
                return json_deep_copy(prev);

        _cleanup_json_ json_t *e =
            json_pack("{s:s, s:s}", "name", s->name, "phase", step_phase_to_string(sp->phase));
        if (!e)
                return NULL;
        if (s->deploy && deploy_status_json(run, i, sp, e) < 0)
                return NULL;
        if (s->build && build_status_json(run, i, sp, e) < 0)
                return NULL;
        if (s->fan_out && fan_out_status_json(run, i, sp, e) < 0)
                return NULL;
        if (!s->fan_out && !sr->reset && (s->task_exists || s->prev_created || sr->created))
                if (json_set_string(e, "task", sr->task_name) < 0)
                        return NULL;
        if (s->task_exists && sr->task && !sr->reset) {
                struct task_status ts;
                task_status_from_json(sr->task, &ts);
                if (json_set_time(e, "startTime", ts.start_ms) < 0 ||
                    json_set_time(e, "finishTime", ts.completion_ms) < 0 ||
                    (ts.exit_known && json_set_new(e, "exitCode", json_integer(ts.exit_code)) < 0))
                        return NULL;
        }
        if (json_set_string(e, "reason", sp->reason) < 0 ||
            json_set_string(e, "message", sp->message) < 0)
                return NULL;
        if (s->result_stored && sp->phase == STEP_SUCCEEDED &&
            json_set_string(e, "result", sr->result_key) < 0)
                return NULL;
        return TAKE_PTR(e);
}

/* status.retriedFor: the retry request done last. */
static int retry_status_json(const struct workflow_run *run, json_t *st)
{
        const json_t *obj = run->o.obj;
        const char *done = json_path_string(obj, "status.retriedFor");

        if (run->plan.retried)
                done = json_string_value(json_object_get(json_path(obj, "metadata.annotations"),
                                                         WORKFLOW_ANNOTATION_RETRY));
        return json_set_string(st, "retriedFor", done);
}

static json_t *status_json(struct workflow_run *run)
{
        const struct workflow_plan *plan = &run->plan;
        const json_t *old = json_object_get(run->o.obj, "status");
        _cleanup_json_ json_t *steps = json_array();
        _cleanup_json_ json_t *st = json_object();
        _cleanup_free_ char *workspace = NULL;
        char progress[32];

        if (!steps || !st)
                return NULL;
        for (size_t i = 0; i < run->spec.n_steps; i++)
                if (json_array_append_new(steps, step_status_json(run, i, &plan->steps[i])) < 0)
                        return NULL;
        if (run->spec.on_exit &&
            json_set_new(
                st, "onExit",
                step_status_json(run, run->spec.n_steps, &plan->steps[run->spec.n_steps])) < 0)
                return NULL;
        if (run->spec.workspace) {
                workspace = workflow_workspace_name(run);
                if (!workspace || json_set_string(st, "workspace", workspace) < 0)
                        return NULL;
        }
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
            json_object_set(st, "steps", steps) < 0 || retry_status_json(run, st) < 0 ||
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

/* ---- events -------------------------------------------------------------- */

/* The entry of step name in a status's steps (onExit: status.onExit). */
static const json_t *step_entry(const json_t *obj, const char *name)
{
        size_t i;
        const json_t *e;

        json_array_foreach(json_path(obj, "status.steps"), i, e)
        {
                if (streq(json_string_value(json_object_get(e, "name")), name))
                        return e;
        }
        if (streq(name, json_path_string(obj, "status.onExit.name")))
                return json_path(obj, "status.onExit");
        return NULL;
}

static void step_events(struct object_run *o, const json_t *before, const json_t *e)
{
        const char *name = json_string_value(json_object_get(e, "name"));
        const char *phase = json_string_value(json_object_get(e, "phase"));
        const char *was = json_string_value(json_object_get(step_entry(before, name), "phase"));
        const char *task = json_string_value(json_object_get(e, "task"));
        bool ran = json_object_get(e, "task") || json_object_get(e, "startTime");
        bool pending = !was || streq(was, "Pending");

        if (!name || !phase)
                return;
        /* Started: it left Pending — to run, or finished at once (a fast
         * step) if something of it ran. */
        if (pending && (streq(phase, "Running") ||
                        ((streq(phase, "Succeeded") || streq(phase, "Failed")) && ran)))
                object_run_event(o, EVENT_NORMAL, "StepStarted", "step %s started%s%s%s", name,
                                 task ? " (task " : "", task ? task : "", task ? ")" : "");
        if (streq(phase, "Failed") && !streq(was, "Failed")) {
                const char *reason = json_string_value(json_object_get(e, "reason"));
                const char *message = json_string_value(json_object_get(e, "message"));

                object_run_event(o, EVENT_WARNING, "StepFailed", "step %s failed: %s%s%s", name,
                                 reason ? reason : "Error", message ? ": " : "",
                                 message ? message : "");
        }
}

/* The Events of what the stored status changed: steps started and failed,
 * the Workflow's outcome. */
static void workflow_events(struct object_run *o, const json_t *before)
{
        const char *phase = json_path_string(o->obj, "status.phase");
        const char *was = json_path_string(before, "status.phase");
        const char *reason = json_path_string(o->obj, "status.reason");
        const char *message = json_path_string(o->obj, "status.message");
        size_t i;
        const json_t *e;

        json_array_foreach(json_path(o->obj, "status.steps"), i, e) step_events(o, before, e);
        if (json_path(o->obj, "status.onExit"))
                step_events(o, before, json_path(o->obj, "status.onExit"));
        if (streq(phase, "Succeeded") && !streq(was, "Succeeded"))
                object_run_event(o, EVENT_NORMAL, "Completed", "%s",
                                 message ? message : "every step succeeded");
        if (streq(phase, "Failed") && !streq(was, "Failed"))
                object_run_event(o, EVENT_WARNING, "Failed", "%s%s%s", reason ? reason : "Error",
                                 message ? ": " : "", message ? message : "");
}

static void step_run_release(struct step_run *sr)
{
        free(sr->task_name);
        free(sr->task_key);
        free(sr->result_key);
        json_decref(sr->task);
        json_decref(sr->result);
        free(sr->service_key);
        json_decref(sr->service);
        free(sr->written.uid);
        free(sr->written.image);
        json_decref(sr->items);
        build_status_release(&sr->build);
        for (size_t c = 0; sr->child_tasks && c < sr->n_children; c++)
                json_decref(sr->child_tasks[c]);
        free(sr->child_tasks);
        free(sr->children);
}

static void workflow_release(struct object_run *o)
{
        struct workflow_run *run = workflow_run_of(o);

        for (size_t i = 0; run->s && i < run->n; i++)
                step_run_release(&run->s[i]);
        free(run->s);
        free(run->steps);
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
    .events = workflow_events,
};
