/* service-status.c: a Service's status (what the planner remembers of each
 * replica between reconciles, the rollout, the revision history and the
 * conditions) and the Docker create body of a replica.
 *
 * The store can hold anything a client wrote: reading a status never trusts
 * it (odd fields read as absent).
 */
#include "service-internal.h"

/* ---- reading the status ----------------------------------------------------- */

static int int_of(const json_t *obj, const char *key, int def)
{
        const json_t *v = json_object_get(obj, key);

        if (!json_is_integer(v) || json_integer_value(v) < INT32_MIN ||
            json_integer_value(v) > INT32_MAX)
                return def;
        return (int)json_integer_value(v);
}

static enum replica_state state_of(const char *s)
{
        for (int i = REPLICA_PENDING; i <= REPLICA_TERMINATING; i++)
                if (streq(s, replica_state_to_string((enum replica_state)i)))
                        return (enum replica_state)i;
        return REPLICA_PENDING;
}

static void record_from_json(const struct service_spec *spec, const json_t *e,
                             struct replica_record *r)
{
        const json_t *ports = json_object_get(e, "hostPorts");

        *r = (struct replica_record){.index = int_of(e, "index", -1)};
        (void)str_copy(r->revision, sizeof(r->revision),
                       json_string_value(json_object_get(e, "revisionHash")));
        for (size_t i = 0; i < spec->n_ports; i++) {
                int port = int_of(ports, spec->ports[i].name, 0);

                r->host_ports[i] = port > 0 && port < 65536 ? port : 0;
        }
        r->restarts = int_of(e, "restarts", 0);
        r->crashes = int_of(e, "crashes", 0);
        r->crashed_id = json_string_value(json_object_get(e, "crashedContainerID"));
        r->next_restart_ms = json_time_field(e, "nextRestartTime");
        r->has_last_exit = json_is_integer(json_object_get(e, "lastExitCode"));
        r->last_exit_code = int_of(e, "lastExitCode", 0);
        r->last_exit_reason = json_string_value(json_object_get(e, "lastExitReason"));
        r->last_exit_ms = json_time_field(e, "lastExitTime");
        r->terminating_ms = json_time_field(e, "terminatingSince");
        r->ready_ms = json_time_field(e, "readySince");
        r->state = state_of(json_string_value(json_object_get(e, "state")));
        r->message = json_string_value(json_object_get(e, "message"));
}

int service_records_from_status(struct service_run *run)
{
        const json_t *list = json_path(run->o.obj, "status.replicaStatuses");
        size_t n = json_array_size(list), i;
        const json_t *e;

        if (n > SERVICE_SLOTS_MAX)
                n = SERVICE_SLOTS_MAX;
        if (n > 0 && !(run->records = calloc(n, sizeof(*run->records))))
                return -ENOMEM;
        json_array_foreach(list, i, e)
        {
                if (i >= n)
                        break;
                record_from_json(&run->spec, e, &run->records[run->n_records]);
                if (run->records[run->n_records].index >= 0 &&
                    run->records[run->n_records].revision[0])
                        run->n_records++;
        }
        return 0;
}

void service_records_free(struct service_run *run)
{
        free(run->records);
        run->records = NULL;
        run->n_records = 0;
}

static const json_t *condition_of(const json_t *status, const char *type)
{
        size_t i;
        const json_t *c;

        json_array_foreach(json_object_get(status, "conditions"), i, c)
        {
                if (streq(json_string_value(json_object_get(c, "type")), type))
                        return c;
        }
        return NULL;
}

void service_prev_rollout(struct service_run *run, struct service_plan_input *in)
{
        const json_t *st = json_object_get(run->o.obj, "status");
        const char *hash = json_string_value(json_object_get(st, "updateRevisionHash"));
        const json_t *progressing = condition_of(st, "Progressing");

        if (!hash || str_copy(run->prev_rev8, sizeof(run->prev_rev8), hash) < 0)
                (void)str_copy(run->prev_rev8, sizeof(run->prev_rev8), hash ? hash : "");
        in->prev_update_rev = run->prev_rev8[0] ? run->prev_rev8 : NULL;
        in->prev_rollout_start_ms = json_time_field(st, "rolloutStartTime");
        in->prev_progress_ms = json_time_field(st, "lastProgressTime");
        in->prev_updated_available = int_of(st, "updatedAvailableReplicas", 0);
        in->prev_complete = streq(json_string_value(json_object_get(progressing, "reason")),
                                  "NewRevisionAvailable");
}

/* ---- the revision history ---------------------------------------------------- */

static bool rev_in_use(const struct service_plan *p, const char *hash)
{
        for (size_t i = 0; i < p->n_records; i++)
                if (strncmp(p->records[i].revision, hash, SERVICE_REV_LEN) == 0)
                        return true;
        return false;
}

/* The old history with the spec's revision as the newest entry (numbered
 * after the highest; undoing to an old revision moves it there), trimmed to
 * revisionHistoryLimit older ones, but never one that still has replicas. */
static json_t *history_update(struct service_run *run, int *ret_number)
{
        const json_t *old = json_path(run->o.obj, "status.history");
        const json_t *spec = json_object_get(run->o.obj, "spec");
        _cleanup_json_ json_t *hist = json_array();
        int max = 0, number = 0;
        size_t i;
        json_t *e;

        if (!hist)
                return NULL;
        json_array_foreach(old, i, e)
        {
                const char *hash = json_string_value(json_object_get(e, "hash"));
                int rev = int_of(e, "revision", 0);

                if (!hash || rev <= 0)
                        continue;
                max = rev > max ? rev : max;
                if (streq(hash, run->revision_hash) && i + 1 == json_array_size(old))
                        number = rev;
                else if (streq(hash, run->revision_hash))
                        continue; /* taken out: it becomes the newest again */
                if (json_array_append(hist, e) < 0)
                        return NULL;
        }
        if (!number) {
                _cleanup_json_ json_t *saved = json_object();
                static const char *const fields[] = {"template", "ports", "healthCheck",
                                                     "restartedAt"};
                char now[RFC3339_MAX];

                if (!saved)
                        return NULL;
                for (size_t f = 0; f < ARRAY_SIZE(fields); f++) {
                        json_t *v = json_object_get(spec, fields[f]);
                        if (v && json_object_set_new(saved, fields[f], json_deep_copy(v)) < 0)
                                return NULL;
                }
                number = max + 1;
                time_format_rfc3339(run->o.now_ms, now);
                if (json_array_append_new(hist, json_pack("{s:i, s:s, s:s, s:O}", "revision",
                                                          number, "hash", run->revision_hash,
                                                          "createdAt", now, "spec", saved)) < 0)
                        return NULL;
        }
        size_t keep = (size_t)run->spec.revision_history_limit + 1;
        for (i = 0; json_array_size(hist) > keep && i + 1 < json_array_size(hist);) {
                const char *hash =
                    json_string_value(json_object_get(json_array_get(hist, i), "hash"));

                if (rev_in_use(&run->plan, hash))
                        i++;
                else if (json_array_remove(hist, i) < 0)
                        return NULL;
        }
        *ret_number = number;
        return TAKE_PTR(hist);
}

static int revision_number(const json_t *hist, const char *rev8)
{
        size_t i;
        const json_t *e;

        json_array_foreach(hist, i, e)
        {
                const char *hash = json_string_value(json_object_get(e, "hash"));
                if (hash && strncmp(hash, rev8, SERVICE_REV_LEN) == 0)
                        return int_of(e, "revision", 0);
        }
        return 0;
}

/* ---- writing the status ------------------------------------------------------ */

static const struct replica_container *container_of(const struct service_run *run,
                                                    const struct replica_record *r)
{
        for (size_t i = 0; i < run->n_obs; i++)
                if (run->obs[i].index == r->index && streq(run->obs[i].revision, r->revision))
                        return &run->obs[i];
        return NULL;
}

static int set_int(json_t *obj, const char *key, json_int_t v)
{
        return json_set_new(obj, key, json_integer(v));
}

static json_t *replica_to_json(const struct service_run *run, const json_t *hist,
                               const struct replica_record *r)
{
        const struct replica_container *c = container_of(run, r);
        _cleanup_free_ char *cname =
            service_container_name(run->o.ns, run->o.name, r->revision, r->index);
        _cleanup_json_ json_t *e = json_object();
        _cleanup_json_ json_t *ports = json_object();
        bool ready = r->state == REPLICA_RUNNING;

        if (!cname || !e || !ports)
                return NULL;
        for (size_t i = 0; i < run->spec.n_ports; i++)
                if (r->host_ports[i] > 0 &&
                    set_int(ports, run->spec.ports[i].name, r->host_ports[i]) < 0)
                        return NULL;
        if (set_int(e, "index", r->index) < 0 ||
            set_int(e, "revision", revision_number(hist, r->revision)) < 0 ||
            json_set_string(e, "revisionHash", r->revision) < 0 ||
            json_set_string(e, "container", cname) < 0 ||
            json_set_string(e, "containerID", c ? c->id : NULL) < 0 ||
            (run->spec.n_ports > 0 && json_set_new(e, "hostPorts", TAKE_PTR(ports)) < 0) ||
            json_set_string(e, "state", replica_state_to_string(r->state)) < 0 ||
            json_set_string(e, "health",
                            run->spec.health.type == HEALTH_CHECK_NONE
                                ? "None"
                                : docker_health_to_string(c && c->state == DOCKER_STATE_RUNNING
                                                              ? c->health
                                                              : DOCKER_HEALTH_NONE)) < 0 ||
            json_set_new(e, "ready", json_boolean(ready)) < 0 ||
            json_set_time(e, "startedAt",
                          c && c->state == DOCKER_STATE_RUNNING ? c->started_ms : 0) < 0 ||
            set_int(e, "restarts", r->restarts) < 0 ||
            (r->has_last_exit && set_int(e, "lastExitCode", r->last_exit_code) < 0) ||
            json_set_string(e, "lastExitReason", r->last_exit_reason) < 0 ||
            json_set_time(e, "lastExitTime", r->last_exit_ms) < 0 ||
            json_set_time(e, "nextRestartTime", r->next_restart_ms) < 0 ||
            json_set_string(e, "message", r->message) < 0 ||
            /* the planner's memory */
            (r->crashes > 0 && set_int(e, "crashes", r->crashes) < 0) ||
            json_set_string(e, "crashedContainerID", r->crashed_id) < 0 ||
            json_set_time(e, "readySince", r->ready_ms) < 0 ||
            json_set_time(e, "terminatingSince", r->terminating_ms) < 0)
                return NULL;
        return TAKE_PTR(e);
}

/* Available, Progressing and Degraded, onto a status holding only the old
 * conditions (their lastTransitionTime kept when unchanged). */
static json_t *conditions(const struct service_run *run, const json_t *old_status)
{
        const struct service_plan *p = &run->plan;
        int64_t now = run->o.now_ms;
        char msg[256];
        _cleanup_json_ json_t *base = json_object();
        const json_t *old_conds = json_object_get(old_status, "conditions");

        if (!base || (json_is_array(old_conds) &&
                      json_object_set_new(base, "conditions", json_deep_copy(old_conds)) < 0))
                return NULL;
        snprintf(msg, sizeof(msg), "%d of %d replicas available", p->available, run->spec.replicas);
        _cleanup_json_ json_t *a = status_with_condition(
            base, "Available", p->available_ok ? "True" : "False",
            p->available_ok ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable", msg, now);
        if (!a)
                return NULL;
        const char *status = "True", *reason = "ReplicasUpdating";
        if (p->complete) {
                reason = "NewRevisionAvailable";
                snprintf(msg, sizeof(msg), "revision %s rolled out", run->rev8);
        } else if (p->deadline_exceeded) {
                status = "False";
                reason = "ProgressDeadlineExceeded";
                snprintf(msg, sizeof(msg),
                         "revision %s made no progress for %llds: the rollout stopped", run->rev8,
                         (long long)(run->spec.progress_deadline_ms / 1000));
        } else {
                snprintf(msg, sizeof(msg), "%d of %d updated replicas available",
                         p->updated_available, run->spec.replicas);
        }
        _cleanup_json_ json_t *b =
            status_with_condition(a, "Progressing", status, reason, msg, now);
        if (!b)
                return NULL;
        return status_with_condition(
            b, "Degraded", p->degraded_reason ? "True" : "False",
            p->degraded_reason ? p->degraded_reason : "AsExpected",
            p->degraded_message ? p->degraded_message : "every replica runs as expected", now);
}

int service_status(struct object_run *o, struct berth_error *err)
{
        struct service_run *run = (struct service_run *)o;
        const struct service_plan *p = &run->plan;
        const json_t *old = json_object_get(o->obj, "status");
        int number = 0;

        if (!run->spec_valid) /* deleting with a spec that does not decode */
                return 0;
        _cleanup_json_ json_t *hist = history_update(run, &number);
        _cleanup_json_ json_t *replicas = json_array();
        _cleanup_json_ json_t *st = conditions(run, old);
        if (!hist || !replicas || !st)
                return berth_error_set(err, -ENOMEM, "status of %s", o->key);
        for (size_t i = 0; i < p->n_records; i++)
                if (json_array_append_new(replicas, replica_to_json(run, hist, &p->records[i])) < 0)
                        return berth_error_set(err, -ENOMEM, "status of %s", o->key);

        int current = int_of(old, "currentRevision", 0);
        if (p->complete || current <= 0)
                current = number;
        if (set_int(st, "observedGeneration", json_path_int(o->obj, "metadata.generation", 0)) <
                0 ||
            set_int(st, "replicas", p->replicas) < 0 ||
            set_int(st, "readyReplicas", p->ready) < 0 ||
            set_int(st, "updatedReplicas", p->updated) < 0 ||
            set_int(st, "availableReplicas", p->available) < 0 ||
            set_int(st, "updatedAvailableReplicas", p->updated_available) < 0 ||
            set_int(st, "restarts", p->restarts) < 0 ||
            set_int(st, "currentRevision", current) < 0 ||
            set_int(st, "updateRevision", number) < 0 ||
            json_set_string(st, "updateRevisionHash", run->revision_hash) < 0 ||
            json_set_time(st, "rolloutStartTime", p->rollout_start_ms) < 0 ||
            json_set_time(st, "lastProgressTime", p->progress_ms) < 0 ||
            json_set_new(st, "replicaStatuses", TAKE_PTR(replicas)) < 0 ||
            json_set_new(st, "history", TAKE_PTR(hist)) < 0)
                return berth_error_set(err, -ENOMEM, "status of %s", o->key);
        return object_run_set_status(o, TAKE_PTR(st), err);
}

/* ---- the container ----------------------------------------------------------- */

void service_ports_label(const struct service_spec *spec, const int *host_ports, char *buf,
                         size_t size)
{
        size_t len = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < spec->n_ports && len < size; i++) {
                int n = snprintf(buf + len, size - len, "%s%s=%d", i ? "," : "",
                                 spec->ports[i].name, host_ports[i]);
                if (n < 0)
                        break;
                len += (size_t)n;
        }
}

static json_t *seconds_ns(int64_t ms)
{
        return json_integer((json_int_t)ms * 1000000);
}

/* An exec check becomes the container's Docker HEALTHCHECK: its verdicts
 * arrive as health_status events. */
static int set_healthcheck(const struct service_spec *spec, json_t *body)
{
        const struct service_health_check *h = &spec->health;
        _cleanup_json_ json_t *test = json_array();

        if (h->type != HEALTH_CHECK_EXEC)
                return 0;
        if (!test || json_array_append_new(test, json_string("CMD")) < 0 ||
            json_array_extend(test, (json_t *)h->exec_command) < 0)
                return -ENOMEM;
        return json_set_new(body, "Healthcheck",
                            json_pack("{s:O, s:o, s:o, s:i, s:o}", "Test", test, "Interval",
                                      seconds_ns(h->interval_ms), "Timeout",
                                      seconds_ns(h->timeout_ms), "Retries", h->failure_threshold,
                                      "StartPeriod", seconds_ns(h->start_period_ms)));
}

/* With a network of its own, containerPort (or the host port itself) is
 * published on the allocated host port; with the host's, the process
 * listens on the host port. */
static int set_published_ports(const struct service_spec *spec, const int *host_ports, json_t *body,
                               json_t *hc)
{
        _cleanup_json_ json_t *exposed = json_object();
        _cleanup_json_ json_t *bindings = json_object();
        char key[32], port[16];

        if (spec->host_network || spec->n_ports == 0)
                return 0;
        if (!exposed || !bindings)
                return -ENOMEM;
        for (size_t i = 0; i < spec->n_ports; i++) {
                const struct service_port *p = &spec->ports[i];

                snprintf(key, sizeof(key), "%d/%s",
                         p->container_port > 0 ? p->container_port : host_ports[i],
                         p->protocol == PORT_UDP ? "udp" : "tcp");
                snprintf(port, sizeof(port), "%d", host_ports[i]);
                if (json_set_new(exposed, key, json_object()) < 0 ||
                    json_set_new(bindings, key, json_pack("[{s:s}]", "HostPort", port)) < 0)
                        return -ENOMEM;
        }
        if (json_set_new(body, "ExposedPorts", TAKE_PTR(exposed)) < 0 ||
            json_set_new(hc, "PortBindings", TAKE_PTR(bindings)) < 0)
                return -ENOMEM;
        return 0;
}

static int set_labels(struct service_run *run, int index, const int *host_ports, json_t *body)
{
        json_t *labels = json_object_get(body, "Labels");
        char num[16], ports[192];

        if (!labels)
                return -ENOMEM;
        snprintf(num, sizeof(num), "%d", index);
        service_ports_label(&run->spec, host_ports, ports, sizeof(ports));
        (void)json_object_del(labels, "berth.attempt");
        if (json_set_string(labels, "berth.revision", run->rev8) < 0 ||
            json_set_string(labels, "berth.replica", num) < 0 ||
            json_set_string(labels, "berth.ports", ports) < 0)
                return -ENOMEM;
        return 0;
}

int service_container_body(struct service_run *run, int index, const int *host_ports, json_t **ret,
                           struct berth_error *err)
{
        struct object_run *o = &run->o;
        const struct container_owner owner = {
            .kind = "Service",
            .ns = o->ns,
            .name = o->name,
            .uid = o->uid,
            .generation = json_path_int(o->obj, "metadata.generation", 0),
            .cluster = o->ctx->cluster,
        };
        _cleanup_json_ json_t *tmpl =
            service_replica_template(&run->spec, o->ns, o->name, host_ports, index, err);
        struct task_spec ts = {0};
        int r;

        if (!tmpl)
                return -EINVAL;
        char refused[BERTH_ERROR_MESSAGE_MAX - 64];
        r = container_admit(o->ctx, o->ns, tmpl, refused, sizeof(refused));
        if (r == -ENOMEM)
                return berth_error_set(err, r, "out of memory");
        if (r == -EPERM)
                return berth_error_set(err, r, "refused by the admission policy: %s", refused);
        r = task_spec_from_template(tmpl, &ts, err);
        if (r < 0)
                return r;
        struct container_secrets secrets = {0};
        char slot[SERVICE_REV_LEN + 16], why[BERTH_ERROR_MESSAGE_MAX - 64];
        snprintf(slot, sizeof(slot), "%s-%d", run->rev8, index);
        r = container_secrets_resolve(o->ctx, o->ns, &ts, o->uid, slot, &secrets, why, sizeof(why));
        _cleanup_json_ json_t *body = r == 0 ? task_container_body(&ts, &owner, 1, &secrets) : NULL;
        container_secrets_release(&secrets, &ts);
        /* runAsNonRoot with the image's user: refused like a missing Secret */
        if (body)
                r = container_user_admit(o->ctx, &ts, body, why, sizeof(why), err);
        task_spec_release(&ts);
        if (body && r < 0 && r != -EPERM)
                return r; /* Docker's error, in err */
        if (r < 0 && r != -ENOMEM)
                return berth_error_set(err, r, "CreateContainerConfigError: %s", why);
        json_t *hc = body ? json_object_get(body, "HostConfig") : NULL;
        if (!hc || set_labels(run, index, host_ports, body) < 0 ||
            set_healthcheck(&run->spec, body) < 0 ||
            set_published_ports(&run->spec, host_ports, body, hc) < 0 ||
            json_set_new(body, "StopTimeout",
                         json_integer((json_int_t)(run->spec.stop_grace_ms / 1000))) < 0)
                return berth_error_set(err, -ENOMEM, "container of %s", o->key);
        *ret = TAKE_PTR(body);
        return 0;
}
