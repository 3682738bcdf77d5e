/* task-reconcile.c: observe the caches, plan (task-plan.c), act on Docker and
 * the store.
 *
 * One reconcile runs a few rounds of plan → act, so that one call takes a
 * task as far as it can go right now (create, start, see it exit quickly,
 * inspect, record the result), then writes the object once with CAS. Each
 * round re-reads the container cache, which we update write-through after
 * every Docker call, so a round never acts on what an earlier round already
 * did. Failures the planner must know about (a refused pull or create, a
 * container confirmed missing) are fed back as planner input for the next
 * round instead of being decided here.
 */
#include "reconciler-internal.h"

#define TASK_ROUNDS_MAX 8
/* Look again after this long rather than spin: when a round would repeat the
 * previous one (the cache did not take our write-through), or when someone
 * else's removal of a container is still in progress. */
#define TASK_STUCK_REQUEUE_MS 1000

struct task_run {
        struct object_run o;         /* the Task, written back when dirty */
        const char *ns, *name, *uid; /* borrowed from obj.metadata (never replaced) */
        struct task_spec spec;
        bool image_checked;
        bool image_present;
        bool has_image_error;
        bool has_create_error;
        int lost_attempt;
        bool retry_soon; /* look again shortly even if the plan needs no timer */
        char image_error[BERTH_ERROR_MESSAGE_MAX];
        char create_error[BERTH_ERROR_MESSAGE_MAX];
};

/* What carrying out one plan led to. */
enum act_result {
        ACT_IDLE,     /* nothing that changes what we observe: stop after this round */
        ACT_PROGRESS, /* observed state moved: plan again */
        ACT_REPLAN,   /* the planner must learn of a failure: drop this plan's status */
        ACT_RETURN,   /* object written or deleted: the reconcile is over */
};

static int64_t run_now(const struct task_run *run)
{
        return run->o.ctx->now_ms ? run->o.ctx->now_ms() : time_now_ms();
}

static void error_copy(struct berth_error *dst, const struct berth_error *src)
{
        if (dst)
                *dst = *src;
}

/* Connection-level failures are retried by the caller with backoff; any other
 * failure of a pull (an HTTP error, an error inside the progress stream, a bad
 * reference) is a verdict on this task's image. */
static bool is_transport_error(int r)
{
        return r == -ECONNREFUSED || r == -ECONNRESET || r == -ETIMEDOUT || r == -EINTR ||
               r == -ENOMEM;
}

/* ---- orphans ---------------------------------------------------------- */

/* Removes containers of Task ns/name whose uid is not keep_uid (NULL: all). */
static int remove_containers_of(struct reconcile_ctx *ctx, const char *ns, const char *name,
                                const char *keep_uid, struct berth_error *err)
{
        _cleanup_free_ struct container_info *all = NULL;
        int n = container_cache_all(ctx->containers, &all);

        if (n < 0)
                return berth_error_set(err, n, "list cached containers");
        for (int i = 0; i < n; i++) {
                const struct container_info *c = &all[i];
                if (!streq(c->kind, "Task") || !streq(c->ns, ns) || !streq(c->owner, name))
                        continue;
                if (keep_uid && streq(c->uid, keep_uid))
                        continue;
                int r = docker_container_remove(ctx->docker, c->id, err);
                if (r == -EBUSY) /* a removal is in progress already */
                        continue;
                if (r < 0)
                        return r;
                container_cache_remove(ctx->containers, c->id);
        }
        return 0;
}

/* ---- docker steps ----------------------------------------------------- */

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

static int upsert_inspected(struct task_run *run, const struct docker_container *dc,
                            struct berth_error *err)
{
        struct container_info ci;
        int r = container_info_from_docker(dc, &ci);
        if (r < 0)
                return berth_error_set(err, r, "container %s: no berth labels", dc->name);
        if (!streq(ci.uid, run->uid))
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
        (void)str_copy(ci.ns, sizeof(ci.ns), run->ns);
        (void)str_copy(ci.owner, sizeof(ci.owner), run->name);
        (void)str_copy(ci.uid, sizeof(ci.uid), run->uid);
        ci.attempt = attempt;
        ci.generation = json_path_int(run->o.obj, "metadata.generation", 0);
        ci.state = state;
        *ret = ci;
}

static int act_start(struct task_run *run, const char *id, const char *cname, int attempt,
                     struct berth_error *err)
{
        struct berth_error e = {0};
        int r = docker_container_start(run->o.ctx->docker, id, &e);

        if (r == -ENOENT) {
                container_cache_remove(run->o.ctx->containers, id);
                return ACT_PROGRESS;
        }
        if (r < 0)
                return create_failed(run, r, &e, err);
        /* Inspect right away: exact start time, and a fast container may
         * already have exited. Without it, the events fill the state in. */
        if (inspect_into_cache(run, id, &e) < 0) {
                struct container_info ci;
                fill_info(run, id, cname, attempt, DOCKER_STATE_RUNNING, &ci);
                ci.started_ms = run_now(run);
                container_cache_upsert(run->o.ctx->containers, &ci);
        }
        return ACT_PROGRESS;
}

static int act_create(struct task_run *run, int attempt, struct berth_error *err)
{
        struct berth_error e = {0};
        _cleanup_free_ char *cname = task_container_name(run->ns, run->name, run->uid, attempt);
        _cleanup_free_ char *id = NULL;

        if (!cname)
                return berth_error_set(err, -ENOMEM, "container name");
        _cleanup_json_ json_t *body = task_container_body(run->o.obj, attempt, &e);
        if (!body) {
                if (e.code == -ENOMEM) {
                        error_copy(err, &e);
                        return -ENOMEM;
                }
                (void)str_copy(run->create_error, sizeof(run->create_error), e.message);
                run->has_create_error = true;
                return ACT_REPLAN;
        }

        /* Which berthd (store) owns it: others on the engine ignore it. */
        if (run->o.ctx->cluster &&
            json_object_set_new(json_object_get(body, "Labels"), TASK_LABEL_CLUSTER,
                                json_string(run->o.ctx->cluster)) < 0)
                return berth_error_set(err, -ENOMEM, "container labels");

        int r = docker_container_create(run->o.ctx->docker, cname, body, &id, &e);
        if (r == -EEXIST) {
                /* Created before (a crash between create and status write):
                 * adopt it. Whether to start it is the planner's call: an
                 * exited one has run already and must never run again. */
                r = inspect_into_cache(run, cname, err);
                return r < 0 ? r : ACT_PROGRESS;
        }
        if (r == -ENOENT) {
                (void)str_copy(run->image_error, sizeof(run->image_error), e.message);
                run->has_image_error = true;
                return ACT_REPLAN;
        }
        if (r < 0)
                return create_failed(run, r, &e, err);

        struct container_info ci;
        fill_info(run, id, cname, attempt, DOCKER_STATE_CREATED, &ci);
        container_cache_upsert(run->o.ctx->containers, &ci);
        return act_start(run, id, cname, attempt, err);
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
                    task_container_name(run->ns, run->name, run->uid, a->attempt);
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

/* ---- rounds ----------------------------------------------------------- */

static int act(struct task_run *run, const struct task_plan *plan, int64_t now,
               struct berth_error *err)
{
        enum act_result result = ACT_IDLE;

        for (size_t i = 0; i < plan->n_actions; i++) {
                const struct task_action *a = &plan->actions[i];
                int r = ACT_IDLE;

                switch (a->type) {
                case TASK_ACTION_ADD_FINALIZER:
                        if (object_run_add_finalizer(&run->o, TASK_FINALIZER) < 0)
                                return berth_error_set(err, -ENOMEM, "add finalizer");
                        r = ACT_PROGRESS;
                        break;
                case TASK_ACTION_PULL_IMAGE:
                        r = act_pull(run, err);
                        break;
                case TASK_ACTION_CREATE:
                        r = act_create(run, a->attempt, err);
                        break;
                case TASK_ACTION_START: {
                        _cleanup_free_ char *cname =
                            task_container_name(run->ns, run->name, run->uid, a->attempt);
                        r = act_start(run, a->container_id, cname ? cname : "", a->attempt, err);
                        break;
                }
                case TASK_ACTION_INSPECT:
                        r = act_inspect(run, a, err);
                        break;
                case TASK_ACTION_KILL:
                        r = docker_container_kill(run->o.ctx->docker, a->container_id, a->signal,
                                                  err);
                        if (r == -ENOENT) {
                                container_cache_remove(run->o.ctx->containers, a->container_id);
                                r = ACT_PROGRESS;
                        }
                        break;
                case TASK_ACTION_REMOVE:
                        r = docker_container_remove(run->o.ctx->docker, a->container_id, err);
                        /* 409: someone is removing it already; its destroy
                         * event brings us back. */
                        if (r == -EBUSY) {
                                berth_error_clear(err);
                                run->retry_soon = true;
                                r = ACT_IDLE;
                        } else if (r == 0) {
                                container_cache_remove(run->o.ctx->containers, a->container_id);
                                r = ACT_PROGRESS;
                        }
                        break;
                case TASK_ACTION_DELETE:
                        r = object_run_mark_deleted(&run->o, now, err);
                        if (r == 0)
                                r = ACT_RETURN;
                        break;
                case TASK_ACTION_FINALIZE:
                        r = object_run_finalize(&run->o, TASK_FINALIZER, err);
                        if (r == 0)
                                r = ACT_RETURN;
                        break;
                }
                if (r < 0)
                        return r;
                /* A failure the planner must hear about, or the end: the rest
                 * of this plan assumed otherwise. */
                if (r == ACT_REPLAN || r == ACT_RETURN)
                        return r;
                if (r == ACT_PROGRESS)
                        result = ACT_PROGRESS;
        }
        return result;
}

static bool plan_has(const struct task_plan *plan, enum task_action_type t)
{
        for (size_t i = 0; i < plan->n_actions; i++)
                if (plan->actions[i].type == t)
                        return true;
        return false;
}

/* A printable summary of the actions, to notice a round repeating itself. */
static void plan_signature(const struct task_plan *plan, char *out, size_t size)
{
        size_t len = 0;

        out[0] = '\0';
        for (size_t i = 0; i < plan->n_actions && len < size; i++) {
                const struct task_action *a = &plan->actions[i];
                int n = snprintf(out + len, size - len, "%d:%d:%s;", (int)a->type, a->attempt,
                                 a->container_id ? a->container_id : "");
                if (n < 0)
                        break;
                len += (size_t)n;
        }
}

/* Observed containers of this task from the cache. *ret_infos owns the ids
 * that *ret_obs borrows. */
static int observe(struct task_run *run, struct container_info **ret_infos,
                   struct observed_container **ret_obs, size_t *ret_n, struct berth_error *err)
{
        _cleanup_free_ struct container_info *infos = NULL;
        _cleanup_free_ struct observed_container *obs = NULL;
        int n = container_cache_by_uid(run->o.ctx->containers, run->uid, &infos);
        size_t k = 0;

        if (n < 0)
                return berth_error_set(err, n, "cached containers of %s", run->o.key);
        if (n > 0) {
                obs = calloc((size_t)n, sizeof(*obs));
                if (!obs)
                        return berth_error_set(err, -ENOMEM, "observe %s", run->o.key);
        }
        for (int i = 0; i < n; i++) {
                const struct container_info *c = &infos[i];
                if (!streq(c->kind, "Task"))
                        continue;
                obs[k++] = (struct observed_container){
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
        *ret_infos = TAKE_PTR(infos);
        *ret_obs = TAKE_PTR(obs);
        *ret_n = k;
        return 0;
}

/* Replaces obj.status when the plan's status reads differently. */
static int apply_status(struct task_run *run, const struct task_plan *plan, int64_t now,
                        struct berth_error *err)
{
        const json_t *old = json_object_get(run->o.obj, "status");

        if (!plan->status_changed)
                return 0;
        json_t *st = task_status_to_json(&plan->status, old, now);
        if (!st)
                return berth_error_set(err, -ENOMEM, "status of %s", run->o.key);
        if (old && json_same(old, st)) {
                json_decref(st);
                return 0;
        }
        if (json_object_set_new(run->o.obj, "status", st) < 0)
                return berth_error_set(err, -ENOMEM, "status of %s", run->o.key);
        run->o.dirty = true;
        return 0;
}

static int run_rounds(struct task_run *run, bool deleting, int64_t *ret_requeue_ms,
                      struct berth_error *err)
{
        char last_sig[TASK_PLAN_ACTIONS_MAX * 96] = "";
        char sig[TASK_PLAN_ACTIONS_MAX * 96];

        for (int round = 0; round < TASK_ROUNDS_MAX; round++) {
                _cleanup_free_ struct container_info *infos = NULL;
                _cleanup_free_ struct observed_container *obs = NULL;
                size_t n_obs = 0;
                int64_t now = run_now(run);
                struct task_plan plan;
                int r;

                r = observe(run, &infos, &obs, &n_obs, err);
                if (r < 0)
                        return r;
                struct task_plan_input in = {
                    .uid = run->uid,
                    .generation = json_path_int(run->o.obj, "metadata.generation", 0),
                    .deleting = deleting,
                    .has_finalizer = object_has_finalizer(run->o.obj, TASK_FINALIZER),
                    .spec = run->spec,
                    .containers = obs,
                    .n_containers = n_obs,
                    .image_present = run->image_checked ? run->image_present : true,
                    .image_error = run->has_image_error ? run->image_error : NULL,
                    .now_ms = now,
                    .create_error = run->has_create_error ? run->create_error : NULL,
                    .lost_attempt = run->lost_attempt,
                };
                task_status_from_json(run->o.obj, &in.status);
                task_plan_compute(&in, &plan);

                /* Image presence matters only for a CREATE: ask then. */
                if (plan_has(&plan, TASK_ACTION_CREATE) && !run->image_checked &&
                    run->spec.pull_policy != PULL_ALWAYS) {
                        struct berth_error e = {0};
                        r = docker_image_inspect(run->o.ctx->docker, run->spec.image, &e);
                        if (r < 0 && r != -ENOENT) {
                                error_copy(err, &e);
                                return r;
                        }
                        run->image_checked = true;
                        run->image_present = r == 0;
                        continue;
                }

                plan_signature(&plan, sig, sizeof(sig));
                if (plan.n_actions > 0 && streq(sig, last_sig)) {
                        *ret_requeue_ms = TASK_STUCK_REQUEUE_MS;
                        return 0;
                }
                memcpy(last_sig, sig, sizeof(sig));

                r = act(run, &plan, now, err);
                if (r < 0)
                        return r;
                if (r == ACT_RETURN) {
                        *ret_requeue_ms = plan_has(&plan, TASK_ACTION_DELETE) ? 0 : -1;
                        return 1;
                }
                if (r == ACT_REPLAN)
                        continue;
                int s = apply_status(run, &plan, now, err);
                if (s < 0)
                        return s;
                *ret_requeue_ms = plan.requeue_after_ms;
                if (run->retry_soon &&
                    (*ret_requeue_ms < 0 || *ret_requeue_ms > TASK_STUCK_REQUEUE_MS))
                        *ret_requeue_ms = TASK_STUCK_REQUEUE_MS;
                if (r == ACT_IDLE)
                        return 0;
                /* ACT_PROGRESS: what we observe changed, plan again. */
        }
        *ret_requeue_ms = 0; /* more to do: come back at once */
        return 0;
}

int task_reconcile(struct reconcile_ctx *ctx, const char *key, int64_t *ret_requeue_ms,
                   struct berth_error *err)
{
        struct task_run run = {0};
        int64_t requeue = -1;
        int r;

        r = object_run_load(ctx, key, &run.o, err);
        if (r == -ENOENT) {
                /* Gone: its containers are orphans. */
                char ns[64], name[64];
                r = key_split(key, ns, name);
                if (r < 0)
                        return berth_error_set(err, r, "%s: not a task key", key);
                r = remove_containers_of(ctx, ns, name, NULL, err);
                if (r < 0)
                        return r;
                *ret_requeue_ms = -1;
                return 0;
        }
        if (r < 0)
                return r;
        _cleanup_json_ json_t *obj = run.o.obj;
        json_t *meta = json_object_get(obj, "metadata");
        run.ns = json_string_value(json_object_get(meta, "namespace"));
        if (!run.ns)
                run.ns = "default";
        run.name = json_string_value(json_object_get(meta, "name"));
        run.uid = json_string_value(json_object_get(meta, "uid"));
        if (!run.name || !run.uid || !*run.uid)
                return berth_error_set(err, -EINVAL, "%s: metadata.name and uid required", key);
        bool deleting = object_is_deleting(obj);

        r = task_spec_from_json(obj, &run.spec, err);
        if (r < 0) {
                if (!deleting) {
                        berth_error_prefix(err, "%s", key);
                        return r;
                }
                berth_error_clear(err); /* a delete needs no valid spec */
        }

        /* An older incarnation (deleted and re-created under the same name). */
        r = remove_containers_of(ctx, run.ns, run.name, run.uid, err);
        if (r < 0)
                return r;

        r = run_rounds(&run, deleting, &requeue, err);
        if (r < 0)
                return r;
        if (r == 0 && run.o.dirty) {
                r = object_run_write(&run.o, err);
                if (r < 0)
                        return r;
        }
        *ret_requeue_ms = requeue;
        return 0;
}
