/* service.c: the Service reconciler — observe its containers (and the
 * prober's verdicts), plan (service-plan.c), act on Docker, write the status
 * (service-status.c).
 *
 * Like a Task's, every Docker call's effect is written through to the
 * container cache, and failures the planner must judge (an image that cannot
 * be had, a refused create) come back to it as input for the next round.
 */
#include "probe.h"
#include "service-internal.h"

static struct service_run *service_run_of(struct object_run *o)
{
        return (struct service_run *)o;
}

static void forget_probes(struct reconcile_ctx *ctx, const char *key, const char *const *keep,
                          size_t n_keep)
{
        if (ctx->prober)
                prober_retain(ctx->prober, key, keep, n_keep);
}

/* ---- gone --------------------------------------------------------------- */

static int service_gone(struct reconcile_ctx *ctx, const char *ns, const char *name,
                        struct berth_error *err)
{
        _cleanup_free_ struct container_info *all = NULL;
        _cleanup_free_ char *key = object_key(ctx->prefix, "services", ns, name);
        int n = container_cache_by_owner(ctx->containers, "Service", ns, name, &all);

        if (!key)
                return berth_error_set(err, -ENOMEM, "service %s/%s", ns, name);
        forget_probes(ctx, key, NULL, 0);
        if (n < 0)
                return berth_error_set(err, n, "cached containers of service %s/%s", ns, name);
        for (int i = 0; i < n; i++) {
                int r = docker_container_remove(ctx->docker, all[i].id, err);
                if (r == -EBUSY)
                        continue;
                if (r < 0)
                        return r;
                container_cache_remove(ctx->containers, all[i].id);
                r = secret_volumes_remove(ctx, all[i].uid, NULL, err);
                if (r < 0)
                        return r;
        }
        berth_error_clear(err);
        return 0;
}

/* ---- prepare, observe, plan ---------------------------------------------- */

static int service_prepare(struct object_run *o, struct berth_error *err)
{
        struct service_run *run = service_run_of(o);
        int r = service_spec_decode(o->obj, &run->spec, err);

        run->spec_valid = r == 0;
        if (run->spec_valid &&
            service_revision_hash(json_object_get(o->obj, "spec"), run->revision_hash) < 0)
                return berth_error_set(err, -ENOMEM, "revision of %s", o->key);
        memcpy(run->rev8, run->revision_hash, SERVICE_REV_LEN);
        run->rev8[SERVICE_REV_LEN] = '\0';
        return object_run_spec_decoded(o, r, err);
}

/* "http=18080,metrics=18090" → host ports by the spec's port order. */
static void parse_ports(const struct service_spec *spec, const char *label,
                        int ret[SERVICE_PORTS_MAX])
{
        _cleanup_free_ char *copy = strdup(label ? label : "");
        char *save = NULL;

        memset(ret, 0, sizeof(int) * SERVICE_PORTS_MAX);
        for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok;
             tok = strtok_r(NULL, ",", &save)) {
                char *eq = strchr(tok, '=');
                long port;

                if (!eq)
                        continue;
                *eq = '\0';
                port = strtol(eq + 1, NULL, 10);
                for (size_t i = 0; i < spec->n_ports; i++)
                        if (streq(spec->ports[i].name, tok) && port > 0 && port < 65536)
                                ret[i] = (int)port;
        }
}

/* The http or tcp check of a running replica, handed to the prober. */
static bool probe_target_of(const struct service_spec *spec, const int *host_ports,
                            struct probe_target *ret)
{
        const struct service_health_check *h = &spec->health;

        if ((h->type != HEALTH_CHECK_HTTP && h->type != HEALTH_CHECK_TCP) || h->port < 0 ||
            (size_t)h->port >= spec->n_ports || host_ports[h->port] <= 0)
                return false;
        *ret = (struct probe_target){
            .type = h->type == HEALTH_CHECK_HTTP ? PROBE_HTTP : PROBE_TCP,
            .port = host_ports[h->port],
            .interval_ms = h->interval_ms,
            .timeout_ms = h->timeout_ms,
            .start_period_ms = h->start_period_ms,
            .failure_threshold = h->failure_threshold,
        };
        (void)str_copy(ret->host, sizeof(ret->host), "127.0.0.1");
        (void)str_copy(ret->path, sizeof(ret->path), h->http_path ? h->http_path : "/");
        return true;
}

static enum docker_health health_of_probe(enum probe_health h)
{
        switch (h) {
        case PROBE_HEALTHY:
                return DOCKER_HEALTH_HEALTHY;
        case PROBE_UNHEALTHY:
                return DOCKER_HEALTH_UNHEALTHY;
        case PROBE_STARTING:
                break;
        }
        return DOCKER_HEALTH_STARTING;
}

/* The prober checks every running replica with a host port; its verdicts
 * replace Docker's (there is no Docker HEALTHCHECK then). */
static int observe_probes(struct service_run *run, struct berth_error *err)
{
        struct reconcile_ctx *ctx = run->o.ctx;
        _cleanup_free_ const char **keep = NULL;
        size_t n_keep = 0;

        if (!ctx->prober)
                return 0;
        if (run->n_obs > 0 && !(keep = calloc(run->n_obs, sizeof(*keep))))
                return berth_error_set(err, -ENOMEM, "observe %s", run->o.key);
        for (size_t i = 0; i < run->n_obs; i++) {
                struct replica_container *c = &run->obs[i];
                struct probe_target t;
                struct probe_status st;

                if (c->state != DOCKER_STATE_RUNNING ||
                    !probe_target_of(&run->spec, c->host_ports, &t))
                        continue;
                if (prober_set(ctx->prober, c->id, run->o.key, &t) < 0)
                        return berth_error_set(err, -ENOMEM, "probe %s", c->id);
                keep[n_keep++] = c->id;
                if (prober_status(ctx->prober, c->id, &st) == 0) {
                        c->health = health_of_probe(st.health);
                        (void)str_copy(c->health_message, sizeof(c->health_message), st.message);
                } else {
                        c->health = DOCKER_HEALTH_STARTING;
                }
        }
        forget_probes(ctx, run->o.key, keep, n_keep);
        return 0;
}

static void forget_observed(struct service_run *run)
{
        free(run->infos);
        free(run->obs);
        free(run->strays);
        run->infos = NULL;
        run->obs = NULL;
        run->strays = NULL;
        run->n_obs = run->n_strays = 0;
}

static int service_observe(struct object_run *o, struct berth_error *err)
{
        struct service_run *run = service_run_of(o);
        int n;

        forget_observed(run);
        n = container_cache_by_owner(o->ctx->containers, "Service", o->ns, o->name, &run->infos);
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

                /* An older Service's of this name, or ours without a replica index. */
                if (!streq(c->uid, o->uid) || c->replica < 0) {
                        run->strays[run->n_strays++] = c->id;
                        continue;
                }
                struct replica_container *rc = &run->obs[run->n_obs++];
                *rc = (struct replica_container){
                    .id = c->id,
                    .index = c->replica,
                    .state = c->state,
                    .health =
                        run->spec.health.type == HEALTH_CHECK_EXEC ? c->health : DOCKER_HEALTH_NONE,
                    .started_ms = c->started_ms,
                    .finished_ms = c->finished_ms,
                    .exit_known = c->exit_known,
                    .exit_code = c->exit_code,
                    .oom_killed = c->oom_killed,
                };
                (void)str_copy(rc->revision, sizeof(rc->revision), c->revision);
                parse_ports(&run->spec, c->ports, rc->host_ports);
        }
        return observe_probes(run, err);
}

static void service_plan(struct object_run *o, struct plan_summary *ret)
{
        struct service_run *run = service_run_of(o);
        struct service_plan *p = &run->plan;
        uint64_t sig = SIGNATURE_SEED;

        if (!run->spec_valid) {
                /* Deleting with a spec that no longer decodes: the containers
                 * still go (a zero spec stops them at once). */
                run->spec = (struct service_spec){0};
        }
        service_records_free(run);
        if (service_records_from_status(run) < 0) {
                *ret = (struct plan_summary){.requeue_after_ms = 1000};
                p->n_actions = 0;
                return;
        }
        struct service_plan_input in = {
            .spec = &run->spec,
            .update_rev = run->rev8,
            .deleting = o->deleting,
            .has_finalizer = object_has_finalizer(o->obj, SERVICE_FINALIZER),
            .containers = run->obs,
            .n_containers = run->n_obs,
            .strays = (const char *const *)run->strays,
            .n_strays = run->n_strays,
            .records = run->records,
            .n_records = run->n_records,
            .failures = run->failures,
            .n_failures = run->n_failures,
            .image_unknown = !run->image_checked,
            .image_present = run->image_present,
            .image_error = run->has_image_error ? run->image_error : NULL,
            .now_ms = o->now_ms,
        };
        service_prev_rollout(run, &in);
        service_plan_compute(&in, p);

        for (size_t i = 0; i < p->n_actions; i++) {
                const struct service_action *a = &p->actions[i];

                sig = signature_add(sig, &a->type, sizeof(a->type));
                sig = signature_add(sig, &a->index, sizeof(a->index));
                if (a->container_id)
                        sig = signature_add(sig, a->container_id, strlen(a->container_id));
        }
        *ret = (struct plan_summary){
            .n_actions = p->n_actions,
            .signature = sig,
            .requeue_after_ms = p->requeue_after_ms,
        };
}

/* ---- act ---------------------------------------------------------------- */

static int add_failure(struct service_run *run, int index, enum replica_state state,
                       const char *message, struct berth_error *err)
{
        if (run->n_failures >= ARRAY_SIZE(run->failures)) /* the rest fail again later */
                return berth_error_set(err, -EAGAIN, "%s: %s", run->o.key, message);
        size_t i = run->n_failures++;
        (void)str_copy(run->failure_messages[i], sizeof(run->failure_messages[i]), message);
        run->failures[i] = (struct replica_failure){index, state, run->failure_messages[i]};
        return ACT_REPLAN;
}

static int upsert_inspected(struct service_run *run, const char *id_or_name,
                            struct berth_error *err)
{
        struct docker_container dc = {0};
        struct container_info ci;
        int r = docker_container_inspect(run->o.ctx->docker, id_or_name, &dc, err);

        if (r < 0)
                return r;
        r = container_info_from_docker(&dc, &ci);
        docker_container_release(&dc);
        if (r < 0)
                return berth_error_set(err, r, "container %s: no berth labels", id_or_name);
        if (!streq(ci.uid, run->o.uid))
                return berth_error_set(err, -EEXIST,
                                       "container %s belongs to another object (uid %s)",
                                       id_or_name, ci.uid);
        container_cache_upsert(run->o.ctx->containers, &ci);
        return 0;
}

/* A replica's create or start was refused: its container (if made) goes, and
 * the planner backs the slot off. Transport failures are retried instead. */
static int create_failed(struct service_run *run, int index, const char *id, int r,
                         const struct berth_error *e, struct berth_error *err)
{
        if (id) {
                (void)docker_container_remove(run->o.ctx->docker, id, NULL);
                container_cache_remove(run->o.ctx->containers, id);
        }
        if (r == -ENOENT && !id) {
                (void)str_copy(run->image_error, sizeof(run->image_error), e->message);
                run->has_image_error = true;
                return ACT_REPLAN;
        }
        if (e->http_status >= 400)
                return add_failure(run, index, REPLICA_CREATE_FAILED, e->message, err);
        *err = *e;
        return r;
}

static int act_start(struct service_run *run, int index, const char *id, struct berth_error *err)
{
        struct berth_error e = {0};
        int r = docker_container_start(run->o.ctx->docker, id, &e);

        if (r == -ENOENT) {
                container_cache_remove(run->o.ctx->containers, id);
                return ACT_PROGRESS;
        }
        if (r < 0)
                return create_failed(run, index, id, r, &e, err);
        if (upsert_inspected(run, id, &e) < 0) {
                struct container_info ci = {0};

                (void)str_copy(ci.id, sizeof(ci.id), id);
                ci.state = DOCKER_STATE_RUNNING;
                ci.started_ms = run->o.now_ms;
                container_cache_upsert(run->o.ctx->containers, &ci);
        }
        return ACT_PROGRESS;
}

/* A replica's container was made: the first of its slot, or one after its
 * predecessor crashed or failed its health check (the plan's record of the
 * slot counts restarts). */
static void replica_created(struct service_run *run, int index, const char *cname)
{
        const struct replica_record *rec = NULL;

        for (size_t i = 0; i < run->plan.n_records; i++)
                if (run->plan.records[i].index == index &&
                    streq(run->plan.records[i].revision, run->rev8))
                        rec = &run->plan.records[i];
        if (rec && rec->restarts > 0)
                object_run_event(&run->o, EVENT_NORMAL, "Restarted",
                                 "restarted replica %d as container %s after it %s", index, cname,
                                 streq(rec->last_exit_reason, "Unhealthy")
                                     ? "failed its health check"
                                     : "exited");
        else
                object_run_event(&run->o, EVENT_NORMAL, "ReplicaCreated",
                                 "created replica %d: container %s (revision %s)", index, cname,
                                 run->rev8);
}

static int act_create(struct service_run *run, const struct service_action *a,
                      struct berth_error *err)
{
        struct object_run *o = &run->o;
        _cleanup_free_ char *cname = service_container_name(o->ns, o->name, run->rev8, a->index);
        _cleanup_json_ json_t *body = NULL;
        _cleanup_free_ char *id = NULL;
        struct berth_error e = {0};
        int r;

        if (!cname)
                return berth_error_set(err, -ENOMEM, "container of %s", o->key);
        r = service_container_body(run, a->index, a->host_ports, &body, &e);
        if (r < 0)
                return add_failure(run, a->index, REPLICA_CREATE_FAILED, e.message, err);
        r = docker_container_create(o->ctx->docker, cname, body, &id, &e);
        if (r == -EEXIST) {
                /* Made before (a crash before the status was written): adopt it. */
                r = upsert_inspected(run, cname, err);
                return r < 0 ? r : ACT_PROGRESS;
        }
        if (r < 0)
                return create_failed(run, a->index, NULL, r, &e, err);

        struct container_info ci = {0};
        (void)str_copy(ci.id, sizeof(ci.id), id);
        (void)str_copy(ci.name, sizeof(ci.name), cname);
        (void)str_copy(ci.kind, sizeof(ci.kind), "Service");
        (void)str_copy(ci.ns, sizeof(ci.ns), o->ns);
        (void)str_copy(ci.owner, sizeof(ci.owner), o->name);
        (void)str_copy(ci.uid, sizeof(ci.uid), o->uid);
        (void)str_copy(ci.revision, sizeof(ci.revision), run->rev8);
        service_ports_label(&run->spec, a->host_ports, ci.ports, sizeof(ci.ports));
        ci.replica = a->index;
        ci.generation = json_path_int(o->obj, "metadata.generation", 0);
        ci.state = DOCKER_STATE_CREATED;
        container_cache_upsert(o->ctx->containers, &ci);
        replica_created(run, a->index, cname);
        return act_start(run, a->index, id, err);
}

static int act_image(struct service_run *run, bool pull, struct berth_error *err)
{
        struct berth_error e = {0};
        int r = pull ? docker_image_pull(run->o.ctx->docker, run->spec.image, &e)
                     : docker_image_inspect(run->o.ctx->docker, run->spec.image, &e);

        if (r == 0 || (!pull && r == -ENOENT)) {
                run->image_checked = true;
                run->image_present = r == 0;
                return ACT_PROGRESS;
        }
        if (!pull || is_transport_error(r)) {
                *err = e;
                return r;
        }
        (void)str_copy(run->image_error, sizeof(run->image_error), e.message);
        run->has_image_error = true;
        return ACT_REPLAN;
}

/* A replica's container is gone: so go its slot's secret files (the
 * slot's next container writes them afresh). */
static int remove_slot_secrets(struct service_run *run, const char *id, struct berth_error *err)
{
        for (size_t i = 0; i < run->n_obs; i++) {
                const struct replica_container *c = &run->obs[i];
                char slot[SERVICE_REV_LEN + 16];

                if (!streq(c->id, id))
                        continue;
                snprintf(slot, sizeof(slot), "%s-%d", c->revision, c->index);
                return secret_volumes_remove(run->o.ctx, run->o.uid, slot, err);
        }
        return 0;
}

static int act_signal_or_remove(struct service_run *run, const struct service_action *a,
                                struct berth_error *err)
{
        struct reconcile_ctx *ctx = run->o.ctx;
        int r = a->type == SERVICE_ACTION_STOP
                    ? docker_container_kill(ctx->docker, a->container_id, "SIGTERM", err)
                    : docker_container_remove(ctx->docker, a->container_id, err);

        if (r == -EBUSY) { /* a removal in progress: its destroy event brings us back */
                berth_error_clear(err);
                run->o.retry_ms = 1000;
                return ACT_IDLE;
        }
        if (r == -ENOENT || (r == 0 && a->type == SERVICE_ACTION_REMOVE)) {
                berth_error_clear(err);
                if (a->type == SERVICE_ACTION_REMOVE &&
                    remove_slot_secrets(run, a->container_id, err) < 0)
                        return err->code;
                container_cache_remove(ctx->containers, a->container_id);
                if (ctx->prober)
                        prober_remove(ctx->prober, a->container_id);
                return ACT_PROGRESS;
        }
        return r < 0 ? r : ACT_IDLE;
}

static int act_one(struct service_run *run, const struct service_action *a, struct berth_error *err)
{
        int r;

        switch (a->type) {
        case SERVICE_ACTION_ADD_FINALIZER:
                if (object_run_add_finalizer(&run->o, SERVICE_FINALIZER) < 0)
                        return berth_error_set(err, -ENOMEM, "add finalizer");
                return ACT_PROGRESS;
        case SERVICE_ACTION_INSPECT_IMAGE:
                return act_image(run, false, err);
        case SERVICE_ACTION_PULL_IMAGE:
                return act_image(run, true, err);
        case SERVICE_ACTION_CREATE:
                return act_create(run, a, err);
        case SERVICE_ACTION_START:
                return act_start(run, a->index, a->container_id, err);
        case SERVICE_ACTION_STOP:
        case SERVICE_ACTION_REMOVE:
                return act_signal_or_remove(run, a, err);
        case SERVICE_ACTION_FINALIZE:
                forget_probes(run->o.ctx, run->o.key, NULL, 0);
                r = secret_volumes_remove(run->o.ctx, run->o.uid, NULL, err);
                if (r < 0)
                        return r;
                r = object_run_finalize(&run->o, SERVICE_FINALIZER, err);
                return r < 0 ? r : ACT_DONE;
        }
        return ACT_IDLE;
}

static int service_act(struct object_run *o, struct berth_error *err)
{
        struct service_run *run = service_run_of(o);
        int result = ACT_IDLE;

        for (size_t i = 0; i < run->plan.n_actions; i++)
                if (act_result_fold(act_one(run, &run->plan.actions[i], err), &result))
                        break;
        return result;
}

/* The entry of slot (revision, index) in a status's replicaStatuses. */
static const json_t *replica_entry(const json_t *obj, const char *revision, json_int_t index)
{
        size_t i;
        const json_t *e;

        json_array_foreach(json_path(obj, "status.replicaStatuses"), i, e)
        {
                if (json_integer_value(json_object_get(e, "index")) == index &&
                    streq(json_string_value(json_object_get(e, "revisionHash")), revision))
                        return e;
        }
        return NULL;
}

/* What the stored status says happened to replicas: a crash counted (its
 * container id recorded once, see service-plan.c), a failed health check, an
 * image or a create that failed. Messages leave out times and counts, so a
 * crash loop counts on one Event. */
static void service_events(struct object_run *o, const json_t *before)
{
        size_t i;
        const json_t *e;

        json_array_foreach(json_path(o->obj, "status.replicaStatuses"), i, e)
        {
                const char *revision = json_string_value(json_object_get(e, "revisionHash"));
                json_int_t index = json_integer_value(json_object_get(e, "index"));
                const json_t *was = replica_entry(before, revision, index);
                const char *crashed = json_string_value(json_object_get(e, "crashedContainerID"));
                const char *state = json_string_value(json_object_get(e, "state"));
                const char *reason = json_string_value(json_object_get(e, "lastExitReason"));
                const char *message = json_string_value(json_object_get(e, "message"));

                if (crashed && !streq(crashed, json_string_value(
                                                   json_object_get(was, "crashedContainerID")))) {
                        if (streq(reason, "Unhealthy"))
                                object_run_event(o, EVENT_WARNING, "Unhealthy",
                                                 "replica %lld failed its health check: replaced "
                                                 "after a back-off",
                                                 (long long)index);
                        else if (json_is_integer(json_object_get(e, "lastExitCode")))
                                object_run_event(
                                    o, EVENT_WARNING, "BackOff",
                                    "replica %lld exited (%s, exit code %lld): restarted after "
                                    "a back-off",
                                    (long long)index, reason ? reason : "Error",
                                    (long long)json_integer_value(
                                        json_object_get(e, "lastExitCode")));
                        else
                                object_run_event(o, EVENT_WARNING, "BackOff",
                                                 "replica %lld exited (%s): restarted after a "
                                                 "back-off",
                                                 (long long)index, reason ? reason : "Error");
                }
                /* A failed create is tried again after a back-off: each try
                 * counts a crash. */
                if (streq(state, json_string_value(json_object_get(was, "state"))) &&
                    json_integer_value(json_object_get(e, "crashes")) <=
                        json_integer_value(json_object_get(was, "crashes")))
                        continue;
                if (streq(state, replica_state_to_string(REPLICA_IMAGE_PULL_FAILED)))
                        object_run_event(o, EVENT_WARNING, "ImagePullFailed", "replica %lld: %s",
                                         (long long)index, message ? message : "");
                else if (streq(state, replica_state_to_string(REPLICA_CREATE_FAILED)))
                        object_run_event(o, EVENT_WARNING, "FailedCreate", "replica %lld: %s",
                                         (long long)index, message ? message : "");
        }
}

static void service_release(struct object_run *o)
{
        struct service_run *run = service_run_of(o);

        forget_observed(run);
        service_records_free(run);
}

const struct kind_reconciler service_reconciler = {
    .kind = "Service",
    .run_size = sizeof(struct service_run),
    .gone = service_gone,
    .prepare = service_prepare,
    .observe = service_observe,
    .plan = service_plan,
    .act = service_act,
    .status = service_status,
    .release = service_release,
    .events = service_events,
};
