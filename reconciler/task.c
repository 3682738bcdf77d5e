/* task.c: the Task reconciler — observe a Task's containers in the container
 * cache, plan (task-plan.c), act on Docker, write the status.
 *
 * Acting writes every Docker call's effect through to the container cache,
 * so the next round observes it before the event arrives. Failures the
 * planner must judge (a refused pull or create, a container confirmed
 * missing) are kept in the run and fed back as planner input.
 */
#include <inttypes.h>
#include <signal.h>

#include "metrics.h"
#include "reconciler-internal.h"
#include "runqueue.h"
#include "secrets.h"

static struct metrics_family run_seconds =
    METRICS_HISTOGRAM_INIT("berth_task_run_duration_seconds",
                           "Run time of finished Tasks (first container start to completion) "
                           "by namespace.",
                           METRICS_BUCKETS_RUN, "namespace");

struct task_run {
        struct object_run o; /* first: the skeleton's part */
        struct task_spec spec;
        bool spec_valid;
        /* observed, per round */
        struct container_info *infos; /* the cache's copies; obs and strays borrow from them */
        struct observed_container *obs;
        size_t n_obs;
        struct observed_container *strays;
        size_t n_strays;
        struct task_dependency *deps; /* names borrowed from spec */
        size_t n_deps;
        json_t *held; /* cached Tasks the cycle's names are borrowed from */
        const char *cycle[TASK_CYCLE_SEARCH_MAX + 1];
        size_t n_cycle;
        struct task_plan plan;
        /* learned by acting, for the planner */
        bool image_checked;
        bool image_present;
        bool image_remembered; /* image_present from docker_image_known, not asked */
        bool has_image_error;
        bool has_create_error;
        const char *create_error_reason; /* static; NULL: ContainerCreateFailed */
        int lost_attempt;
        char image_error[BERTH_ERROR_MESSAGE_MAX];
        char create_error[BERTH_ERROR_MESSAGE_MAX];
        /* A Secret the container needs, as observed this round, and as a
         * create found it (kept for the rest of the reconcile: the cache
         * may still say otherwise). */
        bool has_config_error;
        bool has_act_config_error;
        char config_error[BERTH_ERROR_MESSAGE_MAX];
        char act_config_error[BERTH_ERROR_MESSAGE_MAX];
        /* The status this reconcile stores finishes the Task: its run time,
         * observed once the write succeeded (task_written). */
        bool finishing;
        double run_s;
        /* The attempt whose container acting created or adopted (0: none):
         * its Event is told already (task_events). */
        int made_attempt;
        /* How its attempts run (spec.executor), chosen by task_prepare. */
        const struct task_executor *executor;
        struct exec_observed exec;    /* docker-exec: the latest exec, as observed */
        struct plugin_attempt plugin; /* an executor plugin's latest attempt */
        /* Run slots (ctx->runqueue): whether the Task must ask before a
         * create (observed), and why acting was refused one (NULL: it was
         * not), for the planner and for task_release's bookkeeping. */
        bool needs_admission;
        const char *queued_reason; /* static */
        char queued_message[200];
};

static struct task_run *task_run_of(struct object_run *o)
{
        return (struct task_run *)o;
}

static void error_copy(struct berth_error *dst, const struct berth_error *src)
{
        if (dst)
                *dst = *src;
}

/* ---- gone --------------------------------------------------------------- */

/* Its containers are orphans. */
static int task_gone(struct reconcile_ctx *ctx, const char *ns, const char *name,
                     struct berth_error *err)
{
        _cleanup_free_ struct container_info *all = NULL;
        int n = container_cache_by_owner(ctx->containers, "Task", ns, name, &all);

        if (n < 0)
                return berth_error_set(err, n, "cached containers of task %s/%s", ns, name);
        if (ctx->execs || ctx->n_plugin_executors > 0) {
                _cleanup_free_ char *key = object_key(ctx->prefix, "tasks", ns, name);
                if (!key)
                        return berth_error_set(err, -ENOMEM, "out of memory");
                if (ctx->execs)
                        exec_runner_forget_key(ctx->execs, key);
                for (size_t i = 0; i < ctx->n_plugin_executors; i++)
                        ctx->plugin_executors[i].ops->forget_key(ctx->plugin_executors[i].impl,
                                                                 key);
        }
        for (int i = 0; i < n; i++) {
                int r = docker_container_remove(ctx->docker, all[i].id, err);
                if (r == -EBUSY) /* a removal is in progress already */
                        continue;
                if (r < 0)
                        return r;
                container_cache_remove(ctx->containers, all[i].id);
                (void)events_record(ctx->events,
                                    &(const struct event_object){"Task", ns, name, all[i].uid},
                                    EVENT_NORMAL, "Orphaned",
                                    "removed container %s: its task is gone", all[i].name);
                r = secret_volumes_remove(ctx, all[i].uid, NULL, err);
                if (r < 0)
                        return r;
        }
        if (ctx->runqueue) /* a slot it held is free once its containers are gone */
                runqueue_release(ctx->runqueue, ns, name);
        berth_error_clear(err);
        return 0;
}

/* ---- prepare, observe, plan ---------------------------------------------- */

static int task_prepare(struct object_run *o, struct berth_error *err)
{
        struct task_run *run = task_run_of(o);
        int r = task_spec_decode(o->obj, &run->spec, err);

        run->spec_valid = r == 0;
        run->executor = task_executor_for(run->spec_valid ? run->spec.executor : NULL);
        /* An image an earlier Task found present needs no inspect before the
         * create; if it has gone since, the create says so (image_gone). */
        if (run->spec_valid && docker_image_known(o->ctx->docker, run->spec.image))
                run->image_checked = run->image_present = run->image_remembered = true;
        return object_run_spec_decoded(o, r, err);
}

static struct observed_container observed(const struct container_info *c)
{
        return (struct observed_container){
            .attempt = c->attempt,
            .id = c->id,
            .state = c->state,
            .details_known = c->details_known,
            .exit_code = c->exit_code,
            .oom_killed = c->oom_killed,
            .started_ms = c->started_ms,
            .finished_ms = c->finished_ms,
        };
}

static void forget_observed(struct task_run *run)
{
        free(run->infos);
        free(run->obs);
        free(run->strays);
        free(run->deps);
        json_decref(run->held);
        run->infos = NULL;
        run->obs = run->strays = NULL;
        run->n_obs = run->n_strays = 0;
        run->deps = NULL;
        run->n_deps = 0;
        run->held = NULL;
        run->n_cycle = 0;
}

/* Depth-first search along dependsOn edges through the cached Tasks of the
 * namespace, for a path back to this Task. Visits at most
 * TASK_CYCLE_SEARCH_MAX Tasks (each once: one fully explored without
 * finding this Task cannot lead to it later), so a cycle beyond that many
 * Tasks goes unreported and its Tasks just wait. */
struct cycle_search {
        struct task_run *run;
        json_t *visited; /* name → true */
        size_t n_visited;
        int r; /* -ENOMEM */
};

static bool cycle_dfs(struct cycle_search *s, const char *name)
{
        struct task_run *run = s->run;
        struct object_run *o = &run->o;

        if (streq(name, o->name))
                return true;
        if (s->r < 0 || s->n_visited >= TASK_CYCLE_SEARCH_MAX || json_object_get(s->visited, name))
                return false;
        if (json_object_set_new(s->visited, name, json_true()) < 0) {
                s->r = -ENOMEM;
                return false;
        }
        s->n_visited++;

        _cleanup_free_ char *key = object_key(o->ctx->prefix, "tasks", o->ns, name);
        json_t *obj = key ? object_cache_get(o->ctx->objects, key, NULL) : NULL;
        if (!obj)
                return false;
        if (json_array_append_new(run->held, obj) < 0) { /* keeps the name strings alive */
                s->r = -ENOMEM;
                return false;
        }
        const json_t *deps = json_path(obj, "spec.dependsOn");
        const char *own = json_path_string(obj, "metadata.name");
        size_t i;
        const json_t *d;

        run->cycle[run->n_cycle++] = own ? own : name;
        json_array_foreach(deps, i, d)
        {
                if (json_is_string(d) && cycle_dfs(s, json_string_value(d)))
                        return true;
        }
        run->n_cycle--;
        return false;
}

/* Sets run->cycle when this Task is on a cycle of dependsOn. */
static int find_cycle(struct task_run *run)
{
        _cleanup_json_ json_t *visited = json_object();
        struct cycle_search s = {.run = run, .visited = visited};

        run->held = json_array();
        if (!visited || !run->held)
                return -ENOMEM;
        run->n_cycle = 0;
        run->cycle[run->n_cycle++] = run->o.name;
        for (size_t i = 0; i < run->spec.n_depends_on; i++)
                if (cycle_dfs(&s, run->spec.depends_on[i]))
                        return 0;
        run->n_cycle = 0;
        return s.r;
}

/* spec.dependsOn as the cache has it, and a cycle through this Task. Only
 * before the first attempt: dependsOn gates nothing after it. */
static int observe_dependencies(struct task_run *run, struct berth_error *err)
{
        struct object_run *o = &run->o;
        struct task_status st;

        task_status_from_json(o->obj, &st);
        if (!run->spec_valid || run->spec.n_depends_on == 0 || o->deleting ||
            st.phase != TASK_PHASE_PENDING || st.attempts > 0)
                return 0;
        run->deps = calloc(run->spec.n_depends_on, sizeof(*run->deps));
        if (!run->deps)
                return berth_error_set(err, -ENOMEM, "observe dependencies of %s", o->key);
        for (size_t i = 0; i < run->spec.n_depends_on; i++) {
                const char *name = run->spec.depends_on[i];
                _cleanup_free_ char *key = object_key(o->ctx->prefix, "tasks", o->ns, name);
                _cleanup_json_ json_t *dep =
                    key ? object_cache_get(o->ctx->objects, key, NULL) : NULL;
                struct task_status ds;

                if (!key)
                        return berth_error_set(err, -ENOMEM, "observe dependencies of %s", o->key);
                run->deps[i] = (struct task_dependency){.name = name, .found = dep != NULL};
                if (dep) {
                        task_status_from_json(dep, &ds);
                        run->deps[i].phase = ds.phase;
                }
        }
        run->n_deps = run->spec.n_depends_on;
        int r = find_cycle(run);
        if (r < 0)
                return berth_error_set(err, r, "dependency cycle search of %s", o->key);
        return 0;
}

/* This Task's containers (by uid) and those of an older Task of the same name
 * (deleted and created again under that name): strays, to remove. */
/* Whether the Secrets the next container needs can be had: asked only
 * while one may still be made. */
static int observe_secrets(struct task_run *run, struct berth_error *err)
{
        struct object_run *o = &run->o;
        struct task_status st;

        run->has_config_error = false;
        task_status_from_json(o->obj, &st);
        if (!run->spec_valid || o->deleting || st.phase == TASK_PHASE_SUCCEEDED ||
            st.phase == TASK_PHASE_FAILED || !task_spec_uses_secrets(&run->spec))
                return 0;
        int r = container_secrets_check(o->ctx, o->ns, &run->spec, run->config_error,
                                        sizeof(run->config_error));
        if (r == -ENOMEM)
                return berth_error_set(err, r, "observe secrets of %s", o->key);
        run->has_config_error = r < 0;
        return 0;
}

static int task_observe(struct object_run *o, struct berth_error *err)
{
        struct task_run *run = task_run_of(o);
        int n;

        forget_observed(run);
        n = run->executor->observe(run, err);
        if (n < 0)
                return n;
        run->needs_admission =
            o->ctx->runqueue && !runqueue_holds(o->ctx->runqueue, o->ns, o->name);
        return observe_dependencies(run, err);
}

/* docker: this Task's containers as the container cache has them. */
static int docker_observe(struct task_run *run, struct berth_error *err)
{
        struct object_run *o = &run->o;
        int n = observe_secrets(run, err);
        if (n < 0)
                return n;
        n = container_cache_by_owner(o->ctx->containers, "Task", o->ns, o->name, &run->infos);
        if (n < 0)
                return berth_error_set(err, n, "cached containers of %s", o->key);
        if (n > 0) {
                run->obs = calloc((size_t)n, sizeof(*run->obs));
                run->strays = calloc((size_t)n, sizeof(*run->strays));
                if (!run->obs || !run->strays)
                        return berth_error_set(err, -ENOMEM, "observe %s", o->key);
        }
        for (int i = 0; i < n; i++) {
                const struct container_info *c = &run->infos[i];

                if (streq(c->uid, o->uid))
                        run->obs[run->n_obs++] = observed(c);
                else
                        run->strays[run->n_strays++] = observed(c);
        }
        return 0;
}

static void task_plan(struct object_run *o, struct plan_summary *ret)
{
        struct task_run *run = task_run_of(o);
        uint64_t sig = SIGNATURE_SEED;

        struct task_plan_input in = {
            .uid = o->uid,
            .generation = json_path_int(o->obj, "metadata.generation", 0),
            .deleting = o->deleting,
            .has_finalizer = object_has_finalizer(o->obj, FINALIZER_CONTAINERS),
            .spec = run->spec,
            .containers = run->obs,
            .n_containers = run->n_obs,
            .strays = run->strays,
            .n_strays = run->n_strays,
            .no_image = !run->executor->uses_image,
            .image_present = run->image_present,
            .image_unknown = !run->image_checked,
            .image_error = run->has_image_error ? run->image_error : NULL,
            .now_ms = o->now_ms,
            .create_error = run->has_create_error ? run->create_error : NULL,
            .create_error_reason = run->has_create_error ? run->create_error_reason : NULL,
            .lost_attempt = run->lost_attempt,
            .config_error = run->has_act_config_error ? run->act_config_error
                            : run->has_config_error   ? run->config_error
                                                      : NULL,
            .deps = run->deps,
            .n_deps = run->n_deps,
            .cycle = run->cycle,
            .n_cycle = run->n_cycle,
            .needs_admission = run->needs_admission,
            .queued_reason = run->queued_reason,
            .queued_message = run->queued_reason ? run->queued_message : NULL,
        };
        task_status_from_json(o->obj, &in.status);
        task_plan_compute(&in, &run->plan);

        for (size_t i = 0; i < run->plan.n_actions; i++) {
                const struct task_action *a = &run->plan.actions[i];

                sig = signature_add(sig, &a->type, sizeof(a->type));
                sig = signature_add(sig, &a->attempt, sizeof(a->attempt));
                if (a->container_id)
                        sig = signature_add(sig, a->container_id, strlen(a->container_id));
        }
        *ret = (struct plan_summary){
            .n_actions = run->plan.n_actions,
            .signature = sig,
            .requeue_after_ms = run->plan.requeue_after_ms,
        };
}

/* ---- act ---------------------------------------------------------------- */

/* A create or start that failed: Docker's refusal (4xx: bad mount, missing
 * command, ...) is the planner's to judge; anything else is retried. */
static int create_failed(struct task_run *run, int r, const struct berth_error *e,
                         struct berth_error *err)
{
        if (e->http_status >= 400 && e->http_status < 500) {
                (void)str_copy(run->create_error, sizeof(run->create_error), e->message);
                run->has_create_error = true;
                return ACT_REPLAN;
        }
        error_copy(err, e);
        return r;
}

/* The engine says the image is not there (404). When only remembered,
 * forget it and plan again: the planner inspects, then pulls as the policy
 * says. When asked this reconcile, it is the Task's image error. */
static int image_gone(struct task_run *run, const struct berth_error *e)
{
        if (run->image_remembered) {
                docker_image_forget(run->o.ctx->docker, run->spec.image);
                run->image_checked = run->image_present = run->image_remembered = false;
                return ACT_REPLAN;
        }
        (void)str_copy(run->image_error, sizeof(run->image_error), e->message);
        run->has_image_error = true;
        return ACT_REPLAN;
}

static int upsert_inspected(struct task_run *run, const struct docker_container *dc,
                            struct berth_error *err)
{
        struct container_info ci;
        int r = container_info_from_docker(dc, &ci);
        if (r < 0)
                return berth_error_set(err, r, "container %s: no berth labels", dc->name);
        if (!streq(ci.uid, run->o.uid))
                return berth_error_set(err, -EEXIST,
                                       "container %s belongs to another object (uid %s)", dc->name,
                                       ci.uid);
        /* The planner reads details_known as "exit details from an inspect
         * after the exit": an inspect of a live container must not pass for
         * that once the die event arrives. Its start time still counts. */
        if (ci.state != DOCKER_STATE_EXITED && ci.state != DOCKER_STATE_DEAD) {
                ci.details_known = false;
                ci.exit_known = false;
        }
        container_cache_upsert(run->o.ctx->containers, &ci);
        return 0;
}

/* Inspects id_or_name and writes the result through to the cache. */
static int inspect_into_cache(struct task_run *run, const char *id_or_name, struct berth_error *err)
{
        struct docker_container dc = {0};
        int r = docker_container_inspect(run->o.ctx->docker, id_or_name, &dc, err);
        if (r < 0)
                return r;
        r = upsert_inspected(run, &dc, err);
        docker_container_release(&dc);
        return r;
}

static void fill_info(struct task_run *run, const char *id, const char *cname, int attempt,
                      enum docker_state state, struct container_info *ret)
{
        struct container_info ci = {0};

        (void)str_copy(ci.id, sizeof(ci.id), id);
        (void)str_copy(ci.name, sizeof(ci.name), cname);
        (void)str_copy(ci.kind, sizeof(ci.kind), "Task");
        (void)str_copy(ci.ns, sizeof(ci.ns), run->o.ns);
        (void)str_copy(ci.owner, sizeof(ci.owner), run->o.name);
        (void)str_copy(ci.uid, sizeof(ci.uid), run->o.uid);
        ci.attempt = attempt;
        ci.replica = -1;
        ci.generation = json_path_int(run->o.obj, "metadata.generation", 0);
        ci.state = state;
        *ret = ci;
}

static int act_start(struct task_run *run, const char *id, int attempt, struct berth_error *err)
{
        struct berth_error e = {0};
        int r = docker_container_start(run->o.ctx->docker, id, &e);

        if (r == -ENOENT) {
                container_cache_remove(run->o.ctx->containers, id);
                return ACT_PROGRESS;
        }
        if (r < 0)
                return create_failed(run, r, &e, err);
        _cleanup_free_ char *cname =
            task_container_name(run->o.ns, run->o.name, run->o.uid, attempt);
        object_run_event(&run->o, EVENT_NORMAL, "Started", "started container %s (attempt %d)",
                         cname ? cname : id, attempt);
        /* Inspect right away: exact start time, and a fast container may
         * already have exited. Without it, the events fill the state in. */
        if (inspect_into_cache(run, id, &e) < 0) {
                struct container_info ci;

                fill_info(run, id, cname ? cname : "", attempt, DOCKER_STATE_RUNNING, &ci);
                ci.started_ms = run->o.now_ms;
                container_cache_upsert(run->o.ctx->containers, &ci);
        }
        return ACT_PROGRESS;
}

/* The admission policy again, just before an attempt is made (a Task stored
 * before its namespace's Policy, or past the API, is judged as it stands
 * now): 0 when it may run; ACT_REPLAN with the create error set when
 * refused (the Task fails, ContainerCreateFailed); -ENOMEM. */
static int admit(struct task_run *run, struct berth_error *err)
{
        struct object_run *o = &run->o;
        char refused[BERTH_ERROR_MESSAGE_MAX - 64];
        int r = container_admit(o->ctx, o->ns, json_object_get(o->obj, "spec"), refused,
                                sizeof(refused));

        if (r == -ENOMEM)
                return berth_error_set(err, r, "admission of %s: out of memory", o->key);
        if (r == -EPERM) {
                snprintf(run->create_error, sizeof(run->create_error),
                         "refused by the admission policy: %s", refused);
                run->has_create_error = true;
                return ACT_REPLAN;
        }
        return 0;
}

static int act_create(struct task_run *run, int attempt, struct berth_error *err)
{
        struct object_run *o = &run->o;
        const struct container_owner owner = {
            .kind = "Task",
            .ns = o->ns,
            .name = o->name,
            .uid = o->uid,
            .generation = json_path_int(o->obj, "metadata.generation", 0),
            .cluster = o->ctx->cluster,
        };
        _cleanup_free_ char *cname = task_container_name(o->ns, o->name, o->uid, attempt);
        _cleanup_json_ json_t *body = NULL;
        _cleanup_free_ char *id = NULL;
        struct berth_error e = {0};

        if (!cname)
                return berth_error_set(err, -ENOMEM, "container of %s: out of memory", o->key);
        int r = admit(run, err);
        if (r != 0)
                return r;
        struct container_secrets secrets = {0};
        r = container_secrets_resolve(o->ctx, o->ns, &run->spec, o->uid, NULL, &secrets,
                                      run->act_config_error, sizeof(run->act_config_error));
        if (r == 0)
                body = task_container_body(&run->spec, &owner, attempt, &secrets);
        container_secrets_release(&secrets, &run->spec);
        if (r == -ENOMEM || (r == 0 && !body))
                return berth_error_set(err, -ENOMEM, "container of %s: out of memory", o->key);
        if (r < 0) {
                /* Gone or changed since observed: the planner waits for it. */
                run->has_act_config_error = true;
                return ACT_REPLAN;
        }
        char refused[BERTH_ERROR_MESSAGE_MAX - 64];
        r = container_user_admit(o->ctx, &run->spec, body, refused, sizeof(refused), &e);
        if (r == -EPERM) {
                /* The image runs as root: it will not change by waiting. */
                (void)str_copy(run->create_error, sizeof(run->create_error), refused);
                run->create_error_reason = "CreateContainerConfigError";
                run->has_create_error = true;
                return ACT_REPLAN;
        }
        if (r == -ENOENT)
                return image_gone(run, &e);
        if (r < 0) {
                error_copy(err, &e);
                return r;
        }
        r = docker_container_create(o->ctx->docker, cname, body, &id, &e);
        if (r == -EEXIST) {
                /* Created before (a crash between create and status write):
                 * adopt it. Whether to start it is the planner's call: an
                 * exited one has run already and must never run again. */
                r = inspect_into_cache(run, cname, err);
                if (r < 0)
                        return r;
                run->made_attempt = attempt;
                object_run_event(o, EVENT_NORMAL, "Adopted",
                                 "adopted container %s (attempt %d), made before its status was "
                                 "written",
                                 cname, attempt);
                return ACT_PROGRESS;
        }
        if (r == -ENOENT)
                return image_gone(run, &e);
        if (r < 0)
                return create_failed(run, r, &e, err);

        struct container_info ci;
        fill_info(run, id, cname, attempt, DOCKER_STATE_CREATED, &ci);
        container_cache_upsert(o->ctx->containers, &ci);
        run->made_attempt = attempt;
        object_run_event(o, EVENT_NORMAL, "Created", "created container %s (attempt %d)", cname,
                         attempt);
        return act_start(run, id, attempt, err);
}

static int act_inspect_image(struct task_run *run, struct berth_error *err)
{
        struct berth_error e = {0};
        int r = docker_image_inspect(run->o.ctx->docker, run->spec.image, &e);

        if (r < 0 && r != -ENOENT) {
                error_copy(err, &e);
                return r;
        }
        run->image_checked = true;
        run->image_present = r == 0;
        return ACT_PROGRESS;
}

static int act_pull(struct task_run *run, struct berth_error *err)
{
        struct berth_error e = {0};
        int r = docker_image_pull(run->o.ctx->docker, run->spec.image, &e);

        if (r == 0) {
                run->image_checked = true;
                run->image_present = true;
                return ACT_PROGRESS;
        }
        if (is_transport_error(r)) {
                error_copy(err, &e);
                return r;
        }
        (void)str_copy(run->image_error, sizeof(run->image_error), e.message);
        run->has_image_error = true;
        return ACT_REPLAN;
}

static int act_inspect(struct task_run *run, const struct task_action *a, struct berth_error *err)
{
        struct berth_error e = {0};
        int r;

        if (a->container_id) {
                r = inspect_into_cache(run, a->container_id, &e);
                if (r == -ENOENT) {
                        /* Gone: the next round looks it up by name, then
                         * decides ContainerLost. */
                        container_cache_remove(run->o.ctx->containers, a->container_id);
                        return ACT_PROGRESS;
                }
        } else {
                _cleanup_free_ char *cname =
                    task_container_name(run->o.ns, run->o.name, run->o.uid, a->attempt);
                if (!cname)
                        return berth_error_set(err, -ENOMEM, "container name");
                r = inspect_into_cache(run, cname, &e);
                if (r == -ENOENT) {
                        run->lost_attempt = a->attempt;
                        return ACT_REPLAN;
                }
        }
        if (r < 0) {
                error_copy(err, &e);
                return r;
        }
        return ACT_PROGRESS;
}

static int act_kill(struct task_run *run, const struct task_action *a, struct berth_error *err)
{
        int r = docker_container_kill(run->o.ctx->docker, a->container_id, a->signal, err);

        if (r == -ENOENT) {
                container_cache_remove(run->o.ctx->containers, a->container_id);
                berth_error_clear(err);
                return ACT_PROGRESS;
        }
        if (r < 0)
                return r;
        /* Why, when a stop is what the status says: else an older attempt's
         * or a finished Task's container left running. */
        const char *why = run->plan.status.reason;
        _cleanup_free_ char *cname =
            task_container_name(run->o.ns, run->o.name, run->o.uid, a->attempt);
        if (!streq(why, "Stopped") && !streq(why, "DeadlineExceeded"))
                why = NULL;
        object_run_event(&run->o, EVENT_NORMAL, "Killing",
                         "sending %s to container %s (attempt %d)%s%s", a->signal,
                         cname ? cname : a->container_id, a->attempt, why ? ": " : "",
                         why ? why : "");
        return ACT_IDLE;
}

/* A container removed because it belongs to an older Task of this name:
 * told about that Task (its uid), whose describe has gone with it. */
static void orphan_removed(struct task_run *run, const char *id)
{
        for (size_t i = 0; run->infos && i < run->n_obs + run->n_strays; i++) {
                const struct container_info *c = &run->infos[i];

                if (!streq(c->id, id) || streq(c->uid, run->o.uid))
                        continue;
                (void)events_record(
                    run->o.ctx->events,
                    &(const struct event_object){"Task", run->o.ns, run->o.name, c->uid},
                    EVENT_NORMAL, "Orphaned",
                    "removed container %s: its task is gone (deleted and "
                    "created again under this name)",
                    c->name);
                return;
        }
}

static int act_remove(struct task_run *run, const struct task_action *a, struct berth_error *err)
{
        int r = docker_container_remove(run->o.ctx->docker, a->container_id, err);

        /* 409: someone is removing it already; its destroy event brings us
         * back, and a timer in case it does not. */
        if (r == -EBUSY) {
                berth_error_clear(err);
                run->o.retry_ms = 1000;
                return ACT_IDLE;
        }
        if (r < 0)
                return r;
        orphan_removed(run, a->container_id);
        container_cache_remove(run->o.ctx->containers, a->container_id);
        return ACT_PROGRESS;
}

/* ---- executors ------------------------------------------------------------ */

/* docker-exec: the one running container spec.executor.container names or
 * selects. 0 with its id; -ENOENT/-ENOTUNIQ with why in msg (the Task
 * fails, ExecTargetNotFound); else Docker's error in err. */
static int exec_target(struct task_run *run, char **ret_id, char *msg, size_t size,
                       struct berth_error *err)
{
        const struct task_spec *spec = &run->spec;
        struct docker *d = run->o.ctx->docker;

        if (spec->exec_container_name) {
                struct docker_container dc = {0};
                struct berth_error e = {0};
                int r = docker_container_inspect(d, spec->exec_container_name, &dc, &e);
                if (r == -ENOENT) {
                        snprintf(msg, size, "docker-exec: no container named %s",
                                 spec->exec_container_name);
                        return -ENOENT;
                }
                if (r < 0) {
                        error_copy(err, &e);
                        return r;
                }
                bool running = dc.state == DOCKER_STATE_RUNNING;
                char *id = running ? strdup(dc.id) : NULL;
                docker_container_release(&dc);
                if (!running) {
                        snprintf(msg, size, "docker-exec: container %s is not running",
                                 spec->exec_container_name);
                        return -ENOENT;
                }
                if (!id)
                        return berth_error_set(err, -ENOMEM, "out of memory");
                *ret_id = id;
                return 0;
        }
        /* Labels: list by the first, match the others here. */
        const char *k;
        const json_t *v;
        _cleanup_free_ char *filter = NULL;
        json_object_foreach((json_t *)spec->exec_container_labels, k, v)
        {
                filter = str_printf("%s=%s", k, json_string_value(v));
                break;
        }
        if (!filter)
                return berth_error_set(err, -ENOMEM, "out of memory");
        struct docker_container *all = NULL;
        size_t n = 0, found = 0, pick = 0;
        int r = docker_container_list(d, filter, &all, &n, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                bool match = all[i].state == DOCKER_STATE_RUNNING;
                json_object_foreach((json_t *)spec->exec_container_labels, k, v)
                {
                        if (!streq(json_string_value(json_object_get(all[i].labels, k)),
                                   json_string_value(v)))
                                match = false;
                }
                if (match) {
                        found++;
                        pick = i;
                }
        }
        _cleanup_free_ char *sel = json_dumps(spec->exec_container_labels, JSON_COMPACT);
        if (found != 1) {
                snprintf(msg, size,
                         "docker-exec: %zu running containers match labels %s: exactly one must",
                         found, sel ? sel : "");
                docker_containers_free(all, n);
                return found ? -ENOTUNIQ : -ENOENT;
        }
        char *id = strdup(all[pick].id);
        docker_containers_free(all, n);
        if (!id)
                return berth_error_set(err, -ENOMEM, "out of memory");
        *ret_id = id;
        return 0;
}

/* A create the Task fails for: the reason and message for the planner. */
static int create_refused(struct task_run *run, const char *reason, const char *message)
{
        (void)str_copy(run->create_error, sizeof(run->create_error), message);
        run->create_error_reason = reason;
        run->has_create_error = true;
        return ACT_REPLAN;
}

static int exec_observe(struct task_run *run, struct berth_error *err)
{
        struct exec_runner *x = run->o.ctx->execs;

        if (!x || exec_runner_observe(x, run->o.uid, &run->exec) < 0)
                return 0;
        run->obs = calloc(1, sizeof(*run->obs));
        if (!run->obs)
                return berth_error_set(err, -ENOMEM, "observe %s", run->o.key);
        run->obs[0] = (struct observed_container){
            .attempt = run->exec.attempt,
            .id = run->exec.exec_id,
            .state = run->exec.ended ? DOCKER_STATE_EXITED : DOCKER_STATE_RUNNING,
            .details_known = run->exec.ended,
            .exit_code = run->exec.exit_code,
            .started_ms = run->exec.started_ms,
            .finished_ms = run->exec.finished_ms,
        };
        run->n_obs = 1;
        return 0;
}

/* Frees an exec's "NAME=value" strings, wiping them: values may come
 * from Secrets. */
static void exec_env_freep(char ***p)
{
        for (size_t i = 0; *p && (*p)[i]; i++)
                secret_bytes_free((*p)[i], strlen((*p)[i]));
        free(*p);
}

/* The exec's environment as "NAME=value" into owned (spec->n_env entries),
 * env from Secrets resolved as for a container (secret volumes do not apply
 * to an exec: none is written). 0; -ENOMEM; another error, with
 * run->act_config_error saying which Secret is missing. */
static int exec_env(struct task_run *run, char **owned)
{
        struct task_spec env_only = run->spec;
        struct container_secrets secrets = {0};

        env_only.n_volumes = 0;
        env_only.volumes = NULL;
        int r =
            container_secrets_resolve(run->o.ctx, run->o.ns, &env_only, run->o.uid, NULL, &secrets,
                                      run->act_config_error, sizeof(run->act_config_error));
        for (size_t k = 0; r == 0 && k < env_only.n_env; k++) {
                const char *value =
                    env_only.env[k].secret ? secrets.env_values[k] : env_only.env[k].value;
                owned[k] = str_printf("%s=%s", env_only.env[k].name, value ? value : "");
                if (!owned[k])
                        r = -ENOMEM;
        }
        container_secrets_release(&secrets, &env_only);
        return r;
}

static int exec_create(struct task_run *run, int attempt, struct berth_error *err)
{
        struct object_run *o = &run->o;
        const struct task_spec *spec = &run->spec;
        char msg[BERTH_ERROR_MESSAGE_MAX - 64];

        if (!o->ctx->execs)
                return create_refused(run, "ExecutorNotFound",
                                      "this berthd runs no docker-exec executor");
        int r = admit(run, err);
        if (r != 0)
                return r;
        _cleanup_json_ json_t *cmd = json_array();
        if (!cmd)
                return berth_error_set(err, -ENOMEM, "out of memory");
        size_t i;
        json_t *v;
        json_array_foreach((json_t *)spec->command, i, v) json_array_append(cmd, v);
        json_array_foreach((json_t *)spec->args, i, v) json_array_append(cmd, v);
        if (json_array_size(cmd) == 0)
                return create_refused(run, "ContainerCreateFailed",
                                      "docker-exec needs spec.command (and/or spec.args)");
        _cleanup_free_ const char **env = calloc(spec->n_env + 1, sizeof(*env));
        _cleanup_(exec_env_freep) char **owned = calloc(spec->n_env + 1, sizeof(*owned));
        if (!env || !owned)
                return berth_error_set(err, -ENOMEM, "out of memory");
        r = exec_env(run, owned);
        if (r == -ENOMEM)
                return berth_error_set(err, r, "out of memory");
        if (r < 0) {
                /* A Secret gone or changed since observed: the planner waits for it. */
                run->has_act_config_error = true;
                return ACT_REPLAN;
        }
        for (size_t k = 0; k < spec->n_env; k++)
                env[k] = owned[k];
        _cleanup_free_ char *target = NULL;
        r = exec_target(run, &target, msg, sizeof(msg), err);
        if (r == -ENOENT || r == -ENOTUNIQ)
                return create_refused(run, "ExecTargetNotFound", msg);
        if (r < 0)
                return r;
        const struct exec_request req = {
            .key = o->key,
            .uid = o->uid,
            .attempt = attempt,
            .container_id = target,
            .cmd = cmd,
            .env = env,
            .user = spec->user,
            .working_dir = spec->working_dir,
        };
        struct berth_error e = {0};
        r = exec_runner_start(o->ctx->execs, o->ctx->docker, &req, &e);
        if (r == -ENOENT || r == -EBUSY || r == -ENOSPC)
                return create_refused(run, "ExecTargetNotFound", e.message);
        if (r < 0)
                return create_failed(run, r, &e, err);
        run->made_attempt = attempt;
        object_run_event(o, EVENT_NORMAL, "Started", "started exec in container %.12s (attempt %d)",
                         target, attempt);
        return ACT_PROGRESS;
}

static int exec_start(struct task_run *run, const char *id, int attempt, struct berth_error *err)
{
        (void)run, (void)id, (void)attempt, (void)err;
        return ACT_IDLE; /* an exec starts as it is created */
}

/* The status knows an attempt the runner does not: berthd restarted. Its
 * exec (the status's containerID) is adopted from Docker: its exit code
 * when it ended meanwhile, else the runner waits for its end. One Docker
 * does not know (or whose container is gone) is lost: ContainerLost. */
static int exec_inspect(struct task_run *run, const struct task_action *a, struct berth_error *err)
{
        struct object_run *o = &run->o;

        if (a->container_id)
                return ACT_IDLE; /* the runner's word is all there is */
        const char *id = json_path_string(o->obj, "status.containerID");
        if (o->ctx->execs && id && *id && streq(run->executor->name, TASK_EXECUTOR_DOCKER_EXEC) &&
            json_path_int(o->obj, "status.attempts", 0) == a->attempt) {
                struct berth_error e = {0};
                int r = exec_runner_adopt(o->ctx->execs, o->ctx->docker, o->key, o->uid, a->attempt,
                                          id, &e);
                if (r == 0) {
                        object_run_event(o, EVENT_NORMAL, "Adopted",
                                         "adopted exec %.12s (attempt %d) after a restart of "
                                         "berthd; its output from then on is not recorded",
                                         id, a->attempt);
                        return ACT_PROGRESS;
                }
                if (r != -ENOENT) {
                        error_copy(err, &e);
                        return r;
                }
        }
        run->lost_attempt = a->attempt;
        return ACT_REPLAN;
}

static int exec_kill(struct task_run *run, const struct task_action *a, struct berth_error *err)
{
        int r =
            exec_runner_signal(run->o.ctx->execs, run->o.ctx->docker, run->o.uid, a->signal, err);
        if (r < 0)
                return r;
        object_run_event(&run->o, EVENT_NORMAL, "Killing", "sending %s to exec %.12s (attempt %d)",
                         a->signal, a->container_id ? a->container_id : "", a->attempt);
        return ACT_IDLE;
}

static int exec_remove(struct task_run *run, const struct task_action *a, struct berth_error *err)
{
        (void)a;
        int r =
            exec_runner_signal(run->o.ctx->execs, run->o.ctx->docker, run->o.uid, "SIGKILL", err);
        if (r < 0)
                return r;
        exec_runner_forget(run->o.ctx->execs, run->o.uid);
        return ACT_PROGRESS;
}

/* ---- executor plugins ----------------------------------------------------- */

/* The plugin named by the Task's spec.executor.type; NULL when this berthd
 * has none of that name (the Task fails at its first create). */
static const struct plugin_executor *plugin_of(const struct task_run *run)
{
        const struct reconcile_ctx *ctx = run->o.ctx;

        for (size_t i = 0; run->spec.executor && i < ctx->n_plugin_executors; i++)
                if (streq(ctx->plugin_executors[i].name, run->spec.executor))
                        return &ctx->plugin_executors[i];
        return NULL;
}

static int plugin_observe(struct task_run *run, struct berth_error *err)
{
        const struct plugin_executor *x = plugin_of(run);
        struct plugin_attempt *pa = &run->plugin;

        if (!x)
                return 0;
        if (x->ops->observe(x->impl, run->o.uid, pa) < 0) {
                /* A Task being deleted whose attempt the runner does not know
                 * (started before berthd restarted): the plugin is told to
                 * kill and forget it all the same. */
                const char *handle = json_path_string(run->o.obj, "status.containerID");
                int attempt = (int)json_integer_value(json_path(run->o.obj, "status.attempts"));
                if (run->o.deleting && handle && *handle &&
                    x->ops->adopt(x->impl, run->o.key, run->o.uid, attempt, handle, err) == 0)
                        x->ops->forget(x->impl, run->o.uid);
                berth_error_clear(err);
                return 0;
        }
        if (pa->state == PLUGIN_ATTEMPT_LOST) {
                /* The plugin does not know the attempt the status names. */
                run->lost_attempt = pa->attempt;
                return 0;
        }
        if (pa->state == PLUGIN_ATTEMPT_START_FAILED) {
                (void)str_copy(run->create_error, sizeof(run->create_error), pa->error);
                run->create_error_reason = "ExecutorFailed";
                run->has_create_error = true;
        }
        run->obs = calloc(1, sizeof(*run->obs));
        if (!run->obs)
                return berth_error_set(err, -ENOMEM, "observe %s", run->o.key);
        enum docker_state state = DOCKER_STATE_CREATED; /* starting, or refused */
        if (pa->state == PLUGIN_ATTEMPT_RUNNING || pa->state == PLUGIN_ATTEMPT_ADOPTING)
                state = DOCKER_STATE_RUNNING;
        else if (pa->state == PLUGIN_ATTEMPT_ENDED)
                state = DOCKER_STATE_EXITED;
        run->obs[0] = (struct observed_container){
            .attempt = pa->attempt,
            .id = pa->handle[0] ? pa->handle : NULL,
            .state = state,
            .details_known = pa->state == PLUGIN_ATTEMPT_ENDED,
            .exit_code = pa->exit_code,
            .started_ms = pa->started_ms,
            .finished_ms = pa->finished_ms,
        };
        run->n_obs = 1;
        return 0;
}

static int plugin_create(struct task_run *run, int attempt, struct berth_error *err)
{
        const struct plugin_executor *x = plugin_of(run);
        struct object_run *o = &run->o;

        if (!x) {
                char msg[256];
                snprintf(msg, sizeof(msg), "no executor %s in this berthd (spec.executor.type)",
                         run->spec.executor ? run->spec.executor : "");
                return create_refused(run, "ExecutorNotFound", msg);
        }
        int r = admit(run, err);
        if (r != 0)
                return r;
        _cleanup_free_ char *task_json = json_dumps(o->obj, JSON_COMPACT);
        if (!task_json)
                return berth_error_set(err, -ENOMEM, "out of memory");
        r = x->ops->start(x->impl, o->key, o->uid, attempt, task_json, err);
        if (r < 0)
                return r;
        run->made_attempt = attempt;
        object_run_event(o, EVENT_NORMAL, "Started", "starting attempt %d with executor %s",
                         attempt, x->name);
        return ACT_PROGRESS;
}

static int plugin_inspect(struct task_run *run, const struct task_action *a,
                          struct berth_error *err)
{
        const struct plugin_executor *x = plugin_of(run);

        if (a->container_id)
                return ACT_IDLE; /* the runner's word is all there is */
        /* The status names an attempt the runner does not know: berthd
         * restarted. Its handle, if the status got to record one, is asked
         * about; the answer brings the Task back. */
        const char *handle = json_path_string(run->o.obj, "status.containerID");
        if (x && handle && *handle &&
            json_integer_value(json_path(run->o.obj, "status.attempts")) == a->attempt) {
                int r = x->ops->adopt(x->impl, run->o.key, run->o.uid, a->attempt, handle, err);
                return r < 0 ? r : ACT_IDLE;
        }
        run->lost_attempt = a->attempt;
        return ACT_REPLAN;
}

static int plugin_kill(struct task_run *run, const struct task_action *a, struct berth_error *err)
{
        const struct plugin_executor *x = plugin_of(run);
        int signo = a->signal && streq(a->signal, "SIGTERM") ? SIGTERM : SIGKILL;

        (void)err;
        if (!x)
                return ACT_IDLE;
        (void)x->ops->signal(x->impl, run->o.uid, signo);
        object_run_event(&run->o, EVENT_NORMAL, "Killing", "sending %s to %s (attempt %d)",
                         a->signal ? a->signal : "SIGKILL",
                         a->container_id ? a->container_id : "its attempt", a->attempt);
        return ACT_IDLE;
}

static int plugin_remove(struct task_run *run, const struct task_action *a, struct berth_error *err)
{
        const struct plugin_executor *x = plugin_of(run);

        (void)a, (void)err;
        if (x)
                x->ops->forget(x->impl, run->o.uid);
        return ACT_PROGRESS;
}

static const struct task_executor docker_executor = {
    .name = TASK_EXECUTOR_DOCKER,
    .uses_image = true,
    .observe = docker_observe,
    .create = act_create,
    .start = act_start,
    .inspect = act_inspect,
    .kill = act_kill,
    .remove = act_remove,
};

static const struct task_executor docker_exec_executor = {
    .name = TASK_EXECUTOR_DOCKER_EXEC,
    .uses_image = false,
    .observe = exec_observe,
    .create = exec_create,
    .start = exec_start,
    .inspect = exec_inspect,
    .kill = exec_kill,
    .remove = exec_remove,
};

/* Any other type: an executor plugin's, when this berthd has one of that name. */
static const struct task_executor plugin_executor = {
    .name = "",
    .uses_image = false,
    .observe = plugin_observe,
    .create = plugin_create,
    .start = exec_start,
    .inspect = plugin_inspect,
    .kill = plugin_kill,
    .remove = plugin_remove,
};

const struct task_executor *task_executor_for(const char *type)
{
        if (!type || streq(type, TASK_EXECUTOR_DOCKER))
                return &docker_executor;
        if (streq(type, TASK_EXECUTOR_DOCKER_EXEC))
                return &docker_exec_executor;
        return &plugin_executor;
}

/* Asks for a run slot. Admitted: plan again (the create comes next);
 * refused: the planner hears why, and the Task waits, Queued. */
static int act_admit(struct task_run *run, struct berth_error *err)
{
        struct object_run *o = &run->o;
        struct runqueue *q = o->ctx->runqueue;
        _cleanup_free_ char *key = object_key(o->ctx->prefix, "queues", o->ns, QUEUE_NAME);
        _cleanup_json_ json_t *queue = key ? object_cache_get(o->ctx->objects, key, NULL) : NULL;
        struct queue_spec qs;
        bool has_queue = queue && queue_spec_decode(queue, &qs, NULL) == 0;
        struct runqueue_entry e = {
            .ns = o->ns,
            .name = o->name,
            .uid = o->uid,
            .created_ms = json_time_field(o->obj, "metadata.creationTimestamp"),
        };
        enum runqueue_verdict v;

        if (!q)
                return ACT_PROGRESS;
        /* A class its Queue does not define: out of the queue (it must not
         * hold back the others) until a change of the Queue wakes it. */
        if (run->spec_valid && !runqueue_holds(q, o->ns, o->name) &&
            queue_task_priority(has_queue ? &qs : NULL, &run->spec, &e.priority) < 0) {
                runqueue_withdraw(q, o->ns, o->name);
                run->queued_reason = "UnknownPriorityClass";
                snprintf(run->queued_message, sizeof(run->queued_message),
                         "priority class \"%s\" is not defined in Queue %s/%s",
                         run->spec.priority_class_name, o->ns, QUEUE_NAME);
                return ACT_REPLAN;
        }
        int r = runqueue_acquire(q, &e, &v);
        if (r < 0)
                return berth_error_set(err, r, "run slot of %s: out of memory", o->key);
        if (v == RUNQUEUE_ADMITTED)
                return ACT_PROGRESS;
        if (v == RUNQUEUE_MAX_RUNNING) {
                run->queued_reason = "MaxRunning";
                snprintf(run->queued_message, sizeof(run->queued_message),
                         "waiting for a run slot: at most %" PRId64
                         " Tasks run at once (berthd --max-running)",
                         runqueue_max_running(q));
        } else {
                run->queued_reason = "QueueLimit";
                snprintf(run->queued_message, sizeof(run->queued_message),
                         "waiting for a run slot: Queue %s/%s allows %" PRId64
                         " running Tasks (spec.maxRunning)",
                         o->ns, QUEUE_NAME, runqueue_limit(q, o->ns));
        }
        return ACT_REPLAN;
}

static int act_one(struct task_run *run, const struct task_action *a, struct berth_error *err)
{
        int r;

        switch (a->type) {
        case TASK_ACTION_ADD_FINALIZER:
                if (object_run_add_finalizer(&run->o, FINALIZER_CONTAINERS) < 0)
                        return berth_error_set(err, -ENOMEM, "add finalizer");
                return ACT_PROGRESS;
        case TASK_ACTION_ADMIT:
                return act_admit(run, err);
        case TASK_ACTION_INSPECT_IMAGE:
                return act_inspect_image(run, err);
        case TASK_ACTION_PULL_IMAGE:
                return act_pull(run, err);
        case TASK_ACTION_CREATE:
                return run->executor->create(run, a->attempt, err);
        case TASK_ACTION_START:
                return run->executor->start(run, a->container_id, a->attempt, err);
        case TASK_ACTION_INSPECT:
                return run->executor->inspect(run, a, err);
        case TASK_ACTION_KILL:
                return run->executor->kill(run, a, err);
        case TASK_ACTION_REMOVE:
                return run->executor->remove(run, a, err);
        case TASK_ACTION_DELETE:
                r = object_run_mark_deleted(&run->o, err);
                run->o.retry_ms = 0; /* the deletion runs next */
                return r < 0 ? r : ACT_DONE;
        case TASK_ACTION_FINALIZE:
                /* Its containers are gone: so go their secret files. */
                r = secret_volumes_remove(run->o.ctx, run->o.uid, NULL, err);
                if (r < 0)
                        return r;
                r = object_run_finalize(&run->o, FINALIZER_CONTAINERS, err);
                return r < 0 ? r : ACT_DONE;
        }
        return ACT_IDLE;
}

static int task_act(struct object_run *o, struct berth_error *err)
{
        struct task_run *run = task_run_of(o);
        int result = ACT_IDLE;

        for (size_t i = 0; i < run->plan.n_actions; i++)
                if (act_result_fold(act_one(run, &run->plan.actions[i], err), &result))
                        break;
        return result;
}

/* ---- status -------------------------------------------------------------- */

static int task_status(struct object_run *o, struct berth_error *err)
{
        struct task_run *run = task_run_of(o);

        if (!run->plan.status_changed)
                return 0;
        const struct task_status *st = &run->plan.status;
        enum task_phase before = TASK_PHASE_PENDING;
        (void)task_phase_from_string(json_path_string(o->obj, "status.phase"), &before);
        bool finished = st->phase == TASK_PHASE_SUCCEEDED || st->phase == TASK_PHASE_FAILED;
        bool was = before == TASK_PHASE_SUCCEEDED || before == TASK_PHASE_FAILED;
        if (finished && !was && st->start_ms > 0 && st->completion_ms >= st->start_ms) {
                run->finishing = true;
                run->run_s = (double)(st->completion_ms - st->start_ms) / 1000;
        }
        return object_run_set_status(
            o, task_status_to_json(st, json_object_get(o->obj, "status"), o->now_ms), err);
}

static void task_written(struct object_run *o)
{
        struct task_run *run = task_run_of(o);

        if (run->finishing)
                metrics_histogram_observe(&run_seconds, (const char *const[]){o->ns}, run->run_s);
        run->finishing = false;
}

/* ---- events -------------------------------------------------------------- */

static bool is_finished(enum task_phase p)
{
        return p == TASK_PHASE_SUCCEEDED || p == TASK_PHASE_FAILED;
}

/* The Events of the status transitions this reconcile stored (acting told
 * its own: Created, Started, Killing, Adopted, Orphaned). Messages leave
 * out attempt numbers and times where a repeat should count on one Event
 * (BackOff, OOMKilled). */
static void task_events(struct object_run *o, const json_t *before)
{
        struct task_run *run = task_run_of(o);
        struct task_status old, now;

        task_status_from_json(before, &old);
        task_status_from_json(o->obj, &now);
        bool retrying = now.phase == TASK_PHASE_RUNNING && now.next_attempt_ms > 0 &&
                        now.next_attempt_ms != old.next_attempt_ms;
        bool failed = now.phase == TASK_PHASE_FAILED && old.phase != TASK_PHASE_FAILED;

        /* A container the status never heard of: made before a crash. */
        if (now.attempts > old.attempts && run->made_attempt != now.attempts)
                object_run_event(o, EVENT_NORMAL, "Adopted",
                                 "adopted the container of attempt %d, made before its status "
                                 "was written",
                                 now.attempts);
        if (streq(now.reason, "DeadlineExceeded") &&
            !(streq(old.reason, "DeadlineExceeded") && old.attempts == now.attempts))
                object_run_event(o, EVENT_WARNING, "DeadlineExceeded", "%s", now.message ?: "");
        if (streq(now.reason, "CreateContainerConfigError") &&
            !streq(old.reason, "CreateContainerConfigError"))
                object_run_event(o, EVENT_WARNING, "CreateContainerConfigError", "%s",
                                 now.message ?: "");
        if ((retrying || failed) && streq(now.reason, "OOMKilled"))
                object_run_event(o, EVENT_WARNING, "OOMKilled",
                                 "the container was killed for lack of memory (exit code %d)",
                                 now.exit_code);
        if (failed && streq(now.reason, "ImagePullFailed"))
                object_run_event(o, EVENT_WARNING, "ImagePullFailed", "%s", now.message ?: "");
        if (retrying) {
                if (now.exit_known)
                        object_run_event(o, EVENT_WARNING, "BackOff",
                                         "an attempt failed (%s, exit code %d): backing off "
                                         "before the next one",
                                         now.reason ?: "Error", now.exit_code);
                else
                        object_run_event(o, EVENT_WARNING, "BackOff",
                                         "an attempt failed (%s): backing off before the next one",
                                         now.reason ?: "Error");
        }
        if (now.phase == TASK_PHASE_SUCCEEDED && !is_finished(old.phase))
                object_run_event(o, EVENT_NORMAL, "Completed", "%s", now.message ?: "exit code 0");
        if (failed)
                object_run_event(o, EVENT_WARNING, "Failed", "%s%s%s", now.reason ?: "Error",
                                 now.message ? ": " : "", now.message ?: "");
}

static bool container_active(enum docker_state s)
{
        return s == DOCKER_STATE_CREATED || s == DOCKER_STATE_RUNNING || s == DOCKER_STATE_PAUSED ||
               s == DOCKER_STATE_RESTARTING;
}

/* Level-triggered, from the last round: a Task that has finished (or is
 * being deleted) and runs nothing gives its slot back; one that did not
 * ask in this reconcile leaves the queue (it waits for something else, or
 * holds its slot already). */
static void queue_bookkeeping(struct task_run *run)
{
        struct object_run *o = &run->o;
        struct runqueue *q = o->ctx ? o->ctx->runqueue : NULL;
        enum task_phase phase = run->plan.status.phase;
        bool active = false;

        if (!q || !o->ns || !o->name)
                return;
        for (size_t i = 0; i < run->n_obs; i++)
                active = active || container_active(run->obs[i].state);
        if ((o->deleting || phase == TASK_PHASE_SUCCEEDED || phase == TASK_PHASE_FAILED) && !active)
                runqueue_release(q, o->ns, o->name);
        else if (!run->queued_reason)
                runqueue_withdraw(q, o->ns, o->name);
}

static void task_release(struct object_run *o)
{
        struct task_run *run = task_run_of(o);

        queue_bookkeeping(run);
        forget_observed(run);
        task_spec_release(&run->spec);
}

const struct kind_reconciler task_reconciler = {
    .kind = "Task",
    .run_size = sizeof(struct task_run),
    .gone = task_gone,
    .prepare = task_prepare,
    .observe = task_observe,
    .plan = task_plan,
    .act = task_act,
    .status = task_status,
    .release = task_release,
    .written = task_written,
    .events = task_events,
};
