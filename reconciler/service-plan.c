/* service-plan.c: the pure Service planner — which slots (revision, replica
 * index) exist, which are created, restarted after a crash, or stopped, and
 * what the status reads.
 *
 * Order of business: a deletion stops everything; otherwise every slot's
 * state is read from its container and its record (a crash is counted once,
 * by container id, and re-created after the backoff); then the rollout: the
 * update revision's missing indexes are created within maxSurge, and old
 * slots stopped while at least replicas - maxUnavailable stay available
 * (Recreate: every old slot is gone first). A rollout that made no progress
 * for progressDeadlineSeconds freezes: nothing more is created or stopped for
 * it, and the old replicas keep serving.
 */
#include "reconciler.h"

const char *replica_state_to_string(enum replica_state s)
{
        static const char *const names[] = {
            [REPLICA_PENDING] = "Pending",
            [REPLICA_STARTING] = "Starting",
            [REPLICA_RUNNING] = "Running",
            [REPLICA_CRASH_LOOP] = "CrashLoopBackOff",
            [REPLICA_IMAGE_PULL_FAILED] = "ImagePullFailed",
            [REPLICA_CREATE_FAILED] = "CreateFailed",
            [REPLICA_TERMINATING] = "Terminating",
        };
        return (size_t)s < ARRAY_SIZE(names) && names[s] ? names[s] : "Unknown";
}

const char *service_action_type_to_string(enum service_action_type t)
{
        static const char *const names[] = {
            [SERVICE_ACTION_ADD_FINALIZER] = "AddFinalizer",
            [SERVICE_ACTION_INSPECT_IMAGE] = "InspectImage",
            [SERVICE_ACTION_PULL_IMAGE] = "PullImage",
            [SERVICE_ACTION_CREATE] = "Create",
            [SERVICE_ACTION_START] = "Start",
            [SERVICE_ACTION_STOP] = "Stop",
            [SERVICE_ACTION_REMOVE] = "Remove",
            [SERVICE_ACTION_FINALIZE] = "Finalize",
        };
        return (size_t)t < ARRAY_SIZE(names) && names[t] ? names[t] : "Unknown";
}

char *service_container_name(const char *ns, const char *name, const char *rev8, int index)
{
        if (!ns || !name || !rev8 || index < 0)
                return NULL;
        return str_printf("berth.%s.%s.%.8s.%d", ns, name, rev8, index);
}

int64_t service_backoff_ms(const struct service_spec *spec, int crashes)
{
        double delay = (double)spec->backoff_initial_ms;
        double max = (double)spec->backoff_max_ms;

        for (int i = 1; i < crashes && delay < max; i++)
                delay *= spec->backoff_factor;
        return delay >= max ? spec->backoff_max_ms : (int64_t)delay;
}

int service_revision_hash(const json_t *spec, char ret[17])
{
        static const char *const fields[] = {"template", "ports", "healthCheck", "restartedAt"};
        _cleanup_json_ json_t *parts = json_object();
        _cleanup_free_ char *text = NULL;

        if (!parts)
                return -ENOMEM;
        for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
                json_t *v = json_object_get(spec, fields[i]);

                if (v && !json_is_null(v) && json_object_set(parts, fields[i], v) < 0)
                        return -ENOMEM;
        }
        text = json_dumps(parts, JSON_COMPACT | JSON_SORT_KEYS);
        if (!text)
                return -ENOMEM;
        uint64_t h = 0xcbf29ce484222325ULL;
        for (const unsigned char *b = (const unsigned char *)text; *b; b++) {
                h ^= *b;
                h *= 0x100000001b3ULL;
        }
        snprintf(ret, 17, "%016llx", (unsigned long long)h);
        return 0;
}

/* ---- slots ---------------------------------------------------------------- */

/* One (revision, index) pair: its container and/or its record. */
struct slot {
        const struct replica_container *c;
        const struct replica_record *prev;
        struct replica_record rec; /* what the status will say */
        bool update;               /* of the update revision */
        bool pending;              /* no container: waits to be (re-)created */
        bool stopping;             /* this plan or an earlier one stops it */
        bool gone;                 /* removed by this plan: leaves the status */
        bool ready, available;
};

struct planner {
        const struct service_plan_input *in;
        const struct service_spec *spec;
        struct service_plan *p;
        struct slot *slots; /* SERVICE_SLOTS_MAX */
        size_t n;
        bool image_wait;            /* an image inspect or pull comes first */
        bool image_failed;          /* imagePullPolicy Never and no image: creates fail */
        bool ports_known;           /* used[] is filled */
        uint8_t used[2][65536 / 8]; /* host ports held, by protocol */
};

static bool port_used(const struct planner *pl, enum port_protocol proto, int port)
{
        return pl->used[proto][port / 8] & (1u << (port % 8));
}

static void port_hold(struct planner *pl, enum port_protocol proto, int port)
{
        if (port > 0 && port < 65536)
                pl->used[proto][port / 8] |= (uint8_t)(1u << (port % 8));
}

static void add_action(struct service_plan *p, enum service_action_type type, int index,
                       const int *ports, const char *id)
{
        struct service_action a = {.type = type, .index = index, .container_id = id};

        if (ports)
                memcpy(a.host_ports, ports, sizeof(a.host_ports));
        if (p->n_actions < ARRAY_SIZE(p->actions))
                p->actions[p->n_actions++] = a;
}

static void requeue_at(struct planner *pl, int64_t at)
{
        int64_t after = at - pl->in->now_ms;

        if (after < 0)
                after = 0;
        if (pl->p->requeue_after_ms < 0 || after < pl->p->requeue_after_ms)
                pl->p->requeue_after_ms = after;
}

static size_t slot_no(const struct planner *pl, const struct slot *s)
{
        return (size_t)(s - pl->slots);
}

static void set_message(struct planner *pl, struct slot *s, const char *fmt, ...) _printf_(3, 4);
static void set_message(struct planner *pl, struct slot *s, const char *fmt, ...)
{
        char *buf = pl->p->messages[slot_no(pl, s)];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(pl->p->messages[0]), fmt, ap);
        va_end(ap);
        s->rec.message = buf;
}

static const struct replica_record *find_record(const struct service_plan_input *in,
                                                const char *rev, int index)
{
        for (size_t i = 0; i < in->n_records; i++)
                if (in->records[i].index == index && streq(in->records[i].revision, rev))
                        return &in->records[i];
        return NULL;
}

static struct slot *find_slot(struct planner *pl, const char *rev, int index)
{
        for (size_t i = 0; i < pl->n; i++)
                if (pl->slots[i].rec.index == index && streq(pl->slots[i].rec.revision, rev))
                        return &pl->slots[i];
        return NULL;
}

static struct slot *new_slot(struct planner *pl, const char *rev, int index)
{
        if (pl->n >= SERVICE_SLOTS_MAX)
                return NULL;
        struct slot *s = &pl->slots[pl->n++];
        *s = (struct slot){0};
        (void)str_copy(s->rec.revision, sizeof(s->rec.revision), rev);
        s->rec.index = index;
        s->update = streq(rev, pl->in->update_rev);
        return s;
}

static bool wanted_index(const struct planner *pl, const struct slot *s)
{
        return s->update && s->rec.index < pl->spec->replicas;
}

/* The slots: one per container, then the records of update-revision slots
 * that wait without a container to be re-created. */
static void collect_slots(struct planner *pl)
{
        const struct service_plan_input *in = pl->in;

        for (size_t i = 0; i < in->n_containers; i++) {
                const struct replica_container *c = &in->containers[i];
                struct slot *s = new_slot(pl, c->revision, c->index);

                if (!s)
                        return;
                s->c = c;
                s->prev = find_record(in, c->revision, c->index);
                if (s->prev)
                        s->rec = *s->prev;
                memcpy(s->rec.host_ports, c->host_ports, sizeof(s->rec.host_ports));
                s->rec.message = NULL;
        }
        for (size_t i = 0; i < in->n_records && !in->deleting; i++) {
                const struct replica_record *r = &in->records[i];

                if (find_slot(pl, r->revision, r->index) || r->next_restart_ms <= 0 ||
                    r->terminating_ms > 0)
                        continue;
                struct slot *s = new_slot(pl, r->revision, r->index);
                if (!s)
                        return;
                s->prev = r;
                s->rec = *r;
                s->rec.message = NULL;
                s->pending = true;
                if (!wanted_index(pl, s))
                        s->gone = true;
        }
}

/* ---- one slot's state ------------------------------------------------------ */

static bool exited(enum docker_state st)
{
        return st == DOCKER_STATE_EXITED || st == DOCKER_STATE_DEAD;
}

/* Stops s: SIGTERM and a grace period, or removal at once when it does not run. */
static void stop_slot(struct planner *pl, struct slot *s)
{
        if (s->stopping || s->gone)
                return;
        s->stopping = true;
        if (!s->c) {
                s->gone = true;
                return;
        }
        if (s->c->state == DOCKER_STATE_RUNNING && pl->spec->stop_grace_ms > 0) {
                add_action(pl->p, SERVICE_ACTION_STOP, s->rec.index, NULL, s->c->id);
                s->rec.terminating_ms = pl->in->now_ms;
                s->rec.state = REPLICA_TERMINATING;
                requeue_at(pl, pl->in->now_ms + pl->spec->stop_grace_ms);
                return;
        }
        add_action(pl->p, SERVICE_ACTION_REMOVE, s->rec.index, NULL, s->c->id);
        s->gone = true;
}

/* A slot an earlier plan began to stop: removed once its container exited
 * or the grace period is over. */
static void continue_stop(struct planner *pl, struct slot *s)
{
        int64_t deadline = s->rec.terminating_ms + pl->spec->stop_grace_ms;

        s->stopping = true;
        s->rec.state = REPLICA_TERMINATING;
        if (!s->c) {
                s->gone = true;
                return;
        }
        if (s->c->state != DOCKER_STATE_RUNNING || pl->in->now_ms >= deadline) {
                add_action(pl->p, SERVICE_ACTION_REMOVE, s->rec.index, NULL, s->c->id);
                s->gone = true;
                return;
        }
        requeue_at(pl, deadline);
}

static const char *exit_reason(const struct replica_container *c)
{
        if (c->oom_killed)
                return "OOMKilled";
        return c->exit_known && c->exit_code == 0 ? "Completed" : "Error";
}

/* Counts the crash of s's container once (by container id) and schedules
 * the re-creation. */
static void count_crash(struct planner *pl, struct slot *s, const char *reason, bool has_code)
{
        const struct replica_container *c = s->c;
        int64_t ended = c->finished_ms > 0 ? c->finished_ms : pl->in->now_ms;

        if (s->prev && s->prev->crashed_id && streq(s->prev->crashed_id, c->id))
                return;
        /* Up for resetAfterSeconds: the crashes before do not count. */
        bool long_run = c->started_ms > 0 && ended - c->started_ms >= pl->spec->backoff_reset_ms;
        s->rec.crashes = long_run ? 1 : s->rec.crashes + 1;
        s->rec.restarts++;
        s->rec.crashed_id = c->id;
        s->rec.has_last_exit = has_code;
        s->rec.last_exit_code = has_code ? c->exit_code : 0;
        s->rec.last_exit_reason = reason;
        s->rec.last_exit_ms = ended;
        s->rec.next_restart_ms = ended + service_backoff_ms(pl->spec, s->rec.crashes);
}

/* Stable for the whole wait (the status is not rewritten as time passes);
 * detail says more about the last exit (a failed health check's message). */
static void crash_loop_message(struct planner *pl, struct slot *s, const char *detail)
{
        char at[RFC3339_MAX];

        time_format_rfc3339(s->rec.next_restart_ms, at);
        s->rec.state = REPLICA_CRASH_LOOP;
        if (s->rec.has_last_exit)
                set_message(pl, s, "back-off: restarting at %s (%s, exit code %d)", at,
                            s->rec.last_exit_reason, s->rec.last_exit_code);
        else
                set_message(pl, s, "back-off: restarting at %s (%s%s%s)", at,
                            s->rec.last_exit_reason ? s->rec.last_exit_reason : "Error",
                            detail ? ": " : "", detail ? detail : "");
}

/* The ports a new container of s gets: those it had, else the lowest free
 * ones of each range (free = held by no container or record of the Service). */
static bool allocate_ports(struct planner *pl, struct slot *s, int ret[SERVICE_PORTS_MAX],
                           char *why, size_t why_size)
{
        const struct service_spec *spec = pl->spec;

        if (!pl->ports_known) {
                for (size_t i = 0; i < pl->n; i++)
                        for (size_t q = 0; q < spec->n_ports && !pl->slots[i].gone; q++)
                                port_hold(pl, spec->ports[q].protocol,
                                          pl->slots[i].rec.host_ports[q]);
                pl->ports_known = true;
        }
        for (size_t p = 0; p < spec->n_ports; p++) {
                const struct service_port *sp = &spec->ports[p];
                int port = s->rec.host_ports[p];

                for (int cand = sp->host_from; !port && cand <= sp->host_to; cand++)
                        if (!port_used(pl, sp->protocol, cand))
                                port = cand;
                if (!port) {
                        snprintf(why, why_size, "no free host port in %d-%d for port %s",
                                 sp->host_from, sp->host_to, sp->name);
                        return false;
                }
                ret[p] = port;
                s->rec.host_ports[p] = port;
                port_hold(pl, sp->protocol, port);
        }
        return true;
}

/* A failure acting reported for index this reconcile. */
static const struct replica_failure *failure_of(const struct planner *pl, int index)
{
        for (size_t i = 0; i < pl->in->n_failures; i++)
                if (pl->in->failures[i].index == index)
                        return &pl->in->failures[i];
        return NULL;
}

/* A create of s that cannot be made now: tried again after the backoff. */
static void fail_slot(struct planner *pl, struct slot *s, enum replica_state state,
                      const char *message)
{
        s->rec.crashes++;
        s->rec.next_restart_ms = pl->in->now_ms + service_backoff_ms(pl->spec, s->rec.crashes);
        s->rec.state = state;
        set_message(pl, s, "%s", message);
        requeue_at(pl, s->rec.next_restart_ms);
}

/* Creates (or re-creates) the update-revision slot s. */
static void create_slot(struct planner *pl, struct slot *s)
{
        const struct replica_failure *f = failure_of(pl, s->rec.index);
        int ports[SERVICE_PORTS_MAX] = {0};
        char why[160];

        s->pending = true;
        s->rec.state = REPLICA_PENDING;
        if (f) {
                fail_slot(pl, s, f->state, f->message);
                return;
        }
        if (pl->in->image_error || pl->image_failed) {
                fail_slot(pl, s, REPLICA_IMAGE_PULL_FAILED,
                          pl->in->image_error ? pl->in->image_error
                                              : "image not present and imagePullPolicy is Never");
                return;
        }
        if (pl->image_wait)
                return;
        if (pl->in->image_unknown) {
                add_action(pl->p, SERVICE_ACTION_INSPECT_IMAGE, s->rec.index, NULL, NULL);
                pl->image_wait = true;
                return;
        }
        if (!pl->in->image_present) {
                if (pl->spec->pull_policy == PULL_NEVER) {
                        pl->image_failed = true;
                        create_slot(pl, s);
                        return;
                }
                add_action(pl->p, SERVICE_ACTION_PULL_IMAGE, s->rec.index, NULL, NULL);
                pl->image_wait = true;
                return;
        }
        if (!allocate_ports(pl, s, ports, why, sizeof(why))) {
                fail_slot(pl, s, REPLICA_CREATE_FAILED, why);
                return;
        }
        s->rec.next_restart_ms = 0;
        add_action(pl->p, SERVICE_ACTION_CREATE, s->rec.index, ports, NULL);
}

/* Reads a live slot's state from its container; re-creates a crashed one
 * whose backoff is over (only while it is wanted: an old revision's crashed
 * slot is left to the rollout). */
static void observe_slot(struct planner *pl, struct slot *s)
{
        const struct replica_container *c = s->c;
        const int64_t now = pl->in->now_ms;
        bool has_check = pl->spec->health.type != HEALTH_CHECK_NONE;

        if (!c) { /* waits for its re-creation */
                s->rec.state = s->prev ? s->prev->state : REPLICA_PENDING;
                if (s->prev && s->prev->message) /* says why, and until when */
                        set_message(pl, s, "%s", s->prev->message);
                else if (s->rec.state == REPLICA_CRASH_LOOP)
                        crash_loop_message(pl, s, NULL);
                if (now >= s->rec.next_restart_ms)
                        create_slot(pl, s);
                else
                        requeue_at(pl, s->rec.next_restart_ms);
                return;
        }
        if (c->state == DOCKER_STATE_CREATED) {
                add_action(pl->p, SERVICE_ACTION_START, s->rec.index, NULL, c->id);
                s->rec.state = REPLICA_STARTING;
                return;
        }
        if (c->state == DOCKER_STATE_RUNNING && has_check && c->health == DOCKER_HEALTH_UNHEALTHY) {
                /* Replaced: removed now, re-created after the backoff. */
                count_crash(pl, s, "Unhealthy", false);
                add_action(pl->p, SERVICE_ACTION_REMOVE, s->rec.index, NULL, c->id);
                s->c = NULL;
                s->pending = true;
                s->rec.ready_ms = 0;
                crash_loop_message(pl, s, c->health_message[0] ? c->health_message : NULL);
                requeue_at(pl, s->rec.next_restart_ms);
                return;
        }
        if (exited(c->state)) {
                count_crash(pl, s, exit_reason(c), c->exit_known);
                s->rec.ready_ms = 0;
                if (now >= s->rec.next_restart_ms && (wanted_index(pl, s) || !s->update)) {
                        add_action(pl->p, SERVICE_ACTION_REMOVE, s->rec.index, NULL, c->id);
                        s->c = NULL;
                        if (s->update)
                                create_slot(pl, s);
                        else
                                s->gone = true; /* an old revision is not brought back */
                        return;
                }
                crash_loop_message(pl, s, NULL);
                requeue_at(pl, s->rec.next_restart_ms);
                return;
        }
        if (c->state != DOCKER_STATE_RUNNING) {
                s->rec.state = REPLICA_STARTING;
                return;
        }
        s->ready = !has_check || c->health == DOCKER_HEALTH_HEALTHY;
        s->rec.next_restart_ms = 0;
        if (!s->ready) {
                s->rec.ready_ms = 0;
                s->rec.state = REPLICA_STARTING;
                return;
        }
        s->rec.state = REPLICA_RUNNING;
        /* Ready since: the start without a check, else when first seen healthy. */
        if (!has_check)
                s->rec.ready_ms = c->started_ms > 0 ? c->started_ms : now;
        else if (s->rec.ready_ms <= 0 || (s->prev && s->prev->state != REPLICA_RUNNING))
                s->rec.ready_ms = now;
        s->available = now - s->rec.ready_ms >= pl->spec->min_ready_ms;
        if (!s->available)
                requeue_at(pl, s->rec.ready_ms + pl->spec->min_ready_ms);
}

/* ---- the rollout ------------------------------------------------------------ */

static bool live(const struct slot *s)
{
        return !s->stopping && !s->gone;
}

struct counts {
        int new_live, old_live, total_live, available, old_stopping;
        int stopping; /* not removed yet: they still hold their host ports */
};

static struct counts count(const struct planner *pl)
{
        struct counts k = {0};

        for (size_t i = 0; i < pl->n; i++) {
                const struct slot *s = &pl->slots[i];

                if (!live(s)) {
                        if (s->stopping && !s->gone) {
                                k.stopping++;
                                k.old_stopping += !s->update;
                        }
                        continue;
                }
                if (s->update)
                        k.new_live++;
                else
                        k.old_live++;
                k.total_live++;
                k.available += s->available;
        }
        return k;
}

/* Order of stopping old slots: the unready first, then the highest index. */
static int stop_rank(const struct slot *s)
{
        return (s->ready ? 1 << 20 : 0) - s->rec.index;
}

static struct slot *next_old_to_stop(struct planner *pl, bool ready)
{
        struct slot *best = NULL;

        for (size_t i = 0; i < pl->n; i++) {
                struct slot *s = &pl->slots[i];

                if (s->update || !live(s) || s->ready != ready)
                        continue;
                if (!best || stop_rank(s) < stop_rank(best))
                        best = s;
        }
        return best;
}

/* Creates up to budget of the update revision's missing indexes, lowest first. */
static void create_missing(struct planner *pl, int budget)
{
        for (int index = 0; index < pl->spec->replicas && budget > 0; index++) {
                if (find_slot(pl, pl->in->update_rev, index))
                        continue;
                struct slot *s = new_slot(pl, pl->in->update_rev, index);
                if (!s)
                        return;
                create_slot(pl, s);
                budget--;
        }
}

static void roll(struct planner *pl, bool frozen)
{
        const struct service_spec *spec = pl->spec;
        const int n = spec->replicas;

        /* Indexes above replicas (scaled down) go, whatever the strategy. */
        for (size_t i = 0; i < pl->n; i++)
                if (pl->slots[i].update && !wanted_index(pl, &pl->slots[i]))
                        stop_slot(pl, &pl->slots[i]);

        struct counts k = count(pl);
        if (k.old_live == 0 && k.old_stopping == 0) {
                create_missing(pl, n - k.new_live);
                return;
        }
        if (spec->strategy == UPDATE_RECREATE) {
                for (size_t i = 0; i < pl->n; i++)
                        if (!pl->slots[i].update)
                                stop_slot(pl, &pl->slots[i]);
                return; /* the new revision once every old container is gone */
        }
        if (frozen || k.old_live == 0)
                return;

        /* Slots being stopped count against maxSurge: they hold host ports. */
        int surge = n + spec->max_surge - k.total_live - k.stopping;
        int missing = n - k.new_live;
        create_missing(pl, surge < missing ? surge : missing);

        /* Old slots go while replicas - maxUnavailable stay available. */
        int min_available = n - spec->max_unavailable;
        if (k.available < min_available)
                return;
        struct slot *s;
        while ((s = next_old_to_stop(pl, false)))
                stop_slot(pl, s);
        int budget = k.available - min_available;
        /* Never fewer live slots than replicas - maxUnavailable either. */
        int live_budget = count(pl).total_live - min_available;
        while (budget > 0 && live_budget > 0 && (s = next_old_to_stop(pl, true))) {
                stop_slot(pl, s);
                budget--;
                live_budget--;
        }
        /* What was stopped makes room for more of the new revision. */
        k = count(pl);
        surge = n + spec->max_surge - k.total_live - k.stopping;
        missing = n - k.new_live;
        create_missing(pl, surge < missing ? surge : missing);
}

/* ---- deletion --------------------------------------------------------------- */

static void plan_delete(struct planner *pl)
{
        bool left = pl->in->n_strays > 0;

        for (size_t i = 0; i < pl->in->n_strays; i++)
                add_action(pl->p, SERVICE_ACTION_REMOVE, -1, NULL, pl->in->strays[i]);
        for (size_t i = 0; i < pl->n; i++) {
                struct slot *s = &pl->slots[i];

                if (s->rec.terminating_ms > 0)
                        continue_stop(pl, s);
                else
                        stop_slot(pl, s);
                left = left || !s->gone;
        }
        if (!left && pl->in->has_finalizer)
                add_action(pl->p, SERVICE_ACTION_FINALIZE, -1, NULL, NULL);
}

/* ---- status ----------------------------------------------------------------- */

static int record_cmp(const void *a, const void *b)
{
        const struct replica_record *x = a, *y = b;
        int ux = x->state != REPLICA_TERMINATING, uy = y->state != REPLICA_TERMINATING;

        if (x->index != y->index)
                return x->index < y->index ? -1 : 1;
        if (ux != uy) /* the one being stopped first */
                return ux - uy;
        return strcmp(x->revision, y->revision);
}

static void degraded(struct planner *pl, const struct slot *s)
{
        struct service_plan *p = pl->p;
        static const char *const reasons[] = {
            [REPLICA_CRASH_LOOP] = "CrashLoopBackOff",
            [REPLICA_IMAGE_PULL_FAILED] = "ImagePullFailed",
            [REPLICA_CREATE_FAILED] = "CreateFailed",
        };
        const char *reason =
            (size_t)s->rec.state < ARRAY_SIZE(reasons) ? reasons[s->rec.state] : NULL;

        if (!reason || p->degraded_reason)
                return;
        if (s->rec.state == REPLICA_CRASH_LOOP && s->rec.last_exit_reason &&
            streq(s->rec.last_exit_reason, "Unhealthy"))
                reason = "Unhealthy";
        p->degraded_reason = reason;
        snprintf(p->degraded_buf, sizeof(p->degraded_buf), "replica %d (revision %s): %s",
                 s->rec.index, s->rec.revision, s->rec.message ? s->rec.message : reason);
        p->degraded_message = p->degraded_buf;
}

static void summarise(struct planner *pl, bool rollout_new)
{
        const struct service_plan_input *in = pl->in;
        struct service_plan *p = pl->p;
        struct counts k = count(pl);
        int new_available = 0;

        for (size_t i = 0; i < pl->n; i++) {
                const struct slot *s = &pl->slots[i];

                if (s->gone)
                        continue;
                if (p->n_records < ARRAY_SIZE(p->records))
                        p->records[p->n_records++] = s->rec;
                p->restarts += s->rec.restarts;
                if (!live(s))
                        continue;
                degraded(pl, s);
                if (s->c)
                        p->replicas++;
                p->ready += s->ready;
                p->available += s->available;
                if (s->update && s->c)
                        p->updated++;
                if (s->update)
                        new_available += s->available;
        }
        qsort(p->records, p->n_records, sizeof(p->records[0]), record_cmp);
        p->updated_available = new_available;
        p->complete = (!rollout_new && in->prev_complete) ||
                      (k.old_live == 0 && k.old_stopping == 0 && k.new_live == pl->spec->replicas &&
                       new_available == pl->spec->replicas);
        if (new_available > in->prev_updated_available || rollout_new)
                p->progress_ms = in->now_ms;
        p->available_ok = p->available >= pl->spec->replicas - (pl->spec->strategy == UPDATE_ROLLING
                                                                    ? pl->spec->max_unavailable
                                                                    : 0);
}

void service_plan_compute(const struct service_plan_input *in, struct service_plan *ret)
{
        _cleanup_free_ struct slot *slots = calloc(SERVICE_SLOTS_MAX, sizeof(*slots));
        struct planner pl = {.in = in, .spec = in->spec, .p = ret, .slots = slots};

        ret->n_actions = ret->n_records = 0;
        ret->replicas = ret->ready = ret->updated = ret->available = ret->restarts = 0;
        ret->degraded_reason = ret->degraded_message = NULL;
        ret->requeue_after_ms = -1;
        ret->complete = ret->deadline_exceeded = false;
        if (!slots)
                return; /* no plan: the caller sees no actions and tries again */

        collect_slots(&pl);
        if (in->deleting) {
                plan_delete(&pl);
                summarise(&pl, false);
                return;
        }
        if (!in->has_finalizer)
                add_action(ret, SERVICE_ACTION_ADD_FINALIZER, -1, NULL, NULL);
        for (size_t i = 0; i < in->n_strays; i++)
                add_action(ret, SERVICE_ACTION_REMOVE, -1, NULL, in->strays[i]);

        bool rollout_new = !in->prev_update_rev || !streq(in->prev_update_rev, in->update_rev);
        ret->rollout_start_ms =
            rollout_new || in->prev_rollout_start_ms <= 0 ? in->now_ms : in->prev_rollout_start_ms;
        ret->progress_ms =
            rollout_new || in->prev_progress_ms <= 0 ? in->now_ms : in->prev_progress_ms;

        for (size_t i = 0; i < pl.n; i++) {
                struct slot *s = &pl.slots[i];

                if (s->gone)
                        continue;
                if (s->rec.terminating_ms > 0)
                        continue_stop(&pl, s);
                else
                        observe_slot(&pl, s);
        }

        /* No progress for progressDeadlineSeconds: the rollout stops where it is. */
        bool frozen = false;
        {
                struct counts k = count(&pl);
                int new_available = 0;

                for (size_t i = 0; i < pl.n; i++)
                        new_available +=
                            live(&pl.slots[i]) && pl.slots[i].update && pl.slots[i].available;
                bool done = (!rollout_new && in->prev_complete) ||
                            (k.old_live == 0 && k.new_live == in->spec->replicas &&
                             new_available == in->spec->replicas);
                int64_t progress =
                    new_available > in->prev_updated_available ? in->now_ms : ret->progress_ms;
                if (!done && in->now_ms - progress >= in->spec->progress_deadline_ms)
                        frozen = true;
                else if (!done)
                        requeue_at(&pl, progress + in->spec->progress_deadline_ms);
        }
        roll(&pl, frozen);
        summarise(&pl, rollout_new);
        ret->deadline_exceeded = frozen && !ret->complete;
}
