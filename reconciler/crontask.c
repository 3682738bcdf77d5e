/* crontask.c: the CronTask reconciler — observe its schedule against the
 * clock and its children in the object cache, plan (crontask-plan.c), create
 * and delete children, write the status.
 *
 * One wake-up per CronTask: the plan's requeue is the next scheduled time, a
 * delayed add on the workqueue; nothing loops over CronTasks. A child's name
 * comes from its scheduled time and is created with a create-only write, so
 * however often this runs, on however many replicas, a run happens once.
 */
#include "cron.h"
#include "reconciler-internal.h"

struct crontask_run {
        struct object_run o; /* first: the skeleton's part */
        struct crontask_spec spec;
        bool spec_valid;
        bool seconds_names; /* @every under a minute: children named by unix seconds */
        /* observed */
        json_t *children;        /* cached child objects */
        struct cron_child *kids; /* the planner's view of them, by scheduled time */
        size_t n_kids;
        int64_t backlog[CRONTASK_CATCH_UP_MAX]; /* a ring of the latest ones */
        size_t backlog_count;
        bool backlog_complete;
        int64_t due[CRONTASK_DUE_MAX];
        size_t n_due;
        bool due_more;
        int64_t scanned_ms;
        int64_t next_ms;
        int64_t backlog_sorted[CRONTASK_CATCH_UP_MAX];
        struct crontask_plan plan;
};

static struct crontask_run *crontask_run_of(struct object_run *o)
{
        return (struct crontask_run *)o;
}

static const char *const child_kinds[] = {"Task", "Workflow"};

/* ---- gone --------------------------------------------------------------- */

/* Its runs are orphans: delete them (of either kind, by the owner's name). */
static int crontask_gone(struct reconcile_ctx *ctx, const char *ns, const char *name,
                         struct berth_error *err)
{
        for (size_t k = 0; k < ARRAY_SIZE(child_kinds); k++) {
                const struct kind_info *kind = kind_by_name(child_kinds[k]);
                _cleanup_json_ json_t *children = NULL;
                int r = children_list(ctx, kind, ns, "CronTask", name, NULL, &children, err);

                if (r == 0)
                        r = children_mark_deleted(ctx, kind, ns, children, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- prepare, observe, plan --------------------------------------------- */

static int crontask_prepare(struct object_run *o, struct berth_error *err)
{
        struct crontask_run *run = crontask_run_of(o);
        int r = crontask_spec_decode(o->obj, &run->spec, err);

        if (r == 0) {
                int64_t every = cron_schedule_interval_ms(run->spec.schedule);

                run->spec_valid = true;
                run->seconds_names = every > 0 && every < 60000;
        }
        return object_run_spec_decoded(o, r, err);
}

static int compare_kids(const void *a, const void *b)
{
        const struct cron_child *x = a, *y = b;

        return (x->scheduled_ms > y->scheduled_ms) - (x->scheduled_ms < y->scheduled_ms);
}

/* The children of the kind it runs, as the planner sees them. */
static int observe_children(struct crontask_run *run, struct berth_error *err)
{
        struct object_run *o = &run->o;
        const struct kind_info *kind =
            run->spec_valid ? run->spec.child_kind : kind_by_name(child_kinds[0]);
        size_t i;
        json_t *c;

        json_decref(run->children);
        run->children = NULL;
        free(run->kids);
        run->kids = NULL;
        run->n_kids = 0;
        int r =
            children_list(o->ctx, kind, o->ns, "CronTask", o->name, o->uid, &run->children, err);
        if (r < 0)
                return r;
        if (json_array_size(run->children) == 0)
                return 0;
        run->kids = calloc(json_array_size(run->children), sizeof(*run->kids));
        if (!run->kids)
                return berth_error_set(err, -ENOMEM, "out of memory");
        json_array_foreach(run->children, i, c)
        {
                const char *name = json_path_string(c, "metadata.name");
                enum task_phase phase;
                json_t *ann = json_path(c, "metadata.annotations");

                if (task_phase_from_string(json_path_string(c, "status.phase"), &phase) < 0)
                        phase = TASK_PHASE_PENDING;
                run->kids[run->n_kids++] = (struct cron_child){
                    .name = name,
                    .scheduled_ms = json_time_field(ann, CRONTASK_ANNOTATION_TIME)
                                        ?: json_time_field(c, "metadata.creationTimestamp"),
                    .phase = phase,
                    .completion_ms = json_time_field(c, "status.completionTime"),
                    .deleting = object_is_deleting(c),
                    .manual = name && strstr(name, "-manual-") != NULL,
                };
        }
        qsort(run->kids, run->n_kids, sizeof(*run->kids), compare_kids);
        return 0;
}

static bool suspended_before(const json_t *obj)
{
        size_t i;
        const json_t *c;

        json_array_foreach(json_path(obj, "status.conditions"), i, c)
        {
                if (streq(json_path_string(c, "type"), "Suspended"))
                        return streq(json_path_string(c, "status"), "True");
        }
        return false;
}

/* The scheduled times after the last one handled, up to now: those that
 * came due while no controller acted (or while it was suspended) are the
 * backlog, the others are due; and the next one after now. */
static void observe_schedule(struct crontask_run *run)
{
        struct object_run *o = &run->o;
        int64_t created = json_time_field(o->obj, "metadata.creationTimestamp");
        int64_t last = json_time_field(o->obj, "status.lastScheduleTime");
        int64_t since = o->ctx->acting_since_ms;
        bool was_suspended = suspended_before(o->obj);
        int64_t t = last > 0 ? last : created;
        size_t scanned = 0;

        run->backlog_count = run->n_due = 0;
        run->due_more = false;
        run->backlog_complete = true;
        run->scanned_ms = 0;
        run->next_ms = 0;
        if (!run->spec_valid || run->spec.suspend)
                return;
        for (;;) {
                int64_t next;

                if (cron_next(run->spec.schedule, run->spec.zone, created, t, &next) < 0)
                        return; /* never fires again */
                if (next > o->now_ms) {
                        run->next_ms = next;
                        return;
                }
                if (scanned++ == CRONTASK_SCAN_MAX) {
                        run->backlog_complete = false;
                        return;
                }
                if (next < since || was_suspended) {
                        run->backlog[run->backlog_count % (size_t)run->spec.catch_up_max] = next;
                        run->backlog_count++;
                } else if (run->n_due == CRONTASK_DUE_MAX) {
                        run->due_more = true;
                        return;
                } else {
                        run->due[run->n_due++] = next;
                }
                run->scanned_ms = next;
                t = next;
        }
}

static int crontask_observe(struct object_run *o, struct berth_error *err)
{
        struct crontask_run *run = crontask_run_of(o);
        int r = observe_children(run, err);

        if (r < 0)
                return r;
        observe_schedule(run);
        return 0;
}

/* The ring of the latest backlog times, oldest first. */
static size_t backlog_in_order(struct crontask_run *run)
{
        size_t max = (size_t)run->spec.catch_up_max;
        size_t n = run->backlog_count < max ? run->backlog_count : max;
        size_t first = run->backlog_count < max ? 0 : run->backlog_count % max;

        for (size_t k = 0; k < n; k++)
                run->backlog_sorted[k] = run->backlog[(first + k) % max];
        return n;
}

static void crontask_plan(struct object_run *o, struct plan_summary *ret)
{
        struct crontask_run *run = crontask_run_of(o);
        const json_t *st = json_object_get(o->obj, "status");
        const json_t *ann = json_path(o->obj, "metadata.annotations");
        uint64_t sig = SIGNATURE_SEED;
        struct crontask_plan_input in = {
            .deleting = o->deleting,
            .has_finalizer = object_has_finalizer(o->obj, CRONTASK_FINALIZER),
            .spec = run->spec,
            .backlog_count = run->backlog_count,
            .backlog = run->backlog_sorted,
            .n_backlog = run->spec_valid ? backlog_in_order(run) : 0,
            .backlog_complete = run->backlog_complete,
            .due = run->due,
            .n_due = run->n_due,
            .due_more = run->due_more,
            .scanned_ms = run->scanned_ms,
            .next_ms = run->next_ms,
            .children = run->kids,
            .n_children = run->n_kids,
            .trigger_ms = json_time_field(ann, CRONTASK_ANNOTATION_RUN),
            .trigger_force = streq(json_path_string(ann, CRONTASK_ANNOTATION_FORCE), "true"),
            .prev_last_schedule_ms = json_time_field(st, "lastScheduleTime"),
            .prev_last_success_ms = json_time_field(st, "lastSuccessfulTime"),
            .prev_last_trigger_ms = json_time_field(st, "lastTriggerTime"),
            .prev_missed_count = json_path_int(st, "missed.count", 0),
            .prev_missed_ms = json_time_field(st, "missed.lastTime"),
            .prev_missed_reason = json_path_string(st, "missed.lastReason"),
            .now_ms = o->now_ms,
        };

        crontask_plan_compute(&in, &run->plan);
        for (size_t k = 0; k < run->plan.n_actions; k++)
                sig = signature_add(sig, &run->plan.actions[k], sizeof(run->plan.actions[k]));
        *ret = (struct plan_summary){
            .n_actions = run->plan.n_actions,
            .signature = sig,
            .requeue_after_ms = run->plan.requeue_after_ms,
        };
}

/* ---- act ---------------------------------------------------------------- */

/* The child for one scheduled time, from the template. */
static json_t *child_object(struct crontask_run *run, const char *name, int64_t at)
{
        const struct crontask_spec *spec = &run->spec;
        char ts[RFC3339_MAX];
        _cleanup_json_ json_t *labels =
            spec->child_labels ? json_copy((json_t *)spec->child_labels) : json_object();
        _cleanup_json_ json_t *annotations =
            spec->child_annotations ? json_copy((json_t *)spec->child_annotations) : json_object();

        time_format_rfc3339(at, ts);
        if (!labels || !annotations || json_set_string(labels, CRONTASK_LABEL, run->o.name) < 0 ||
            json_set_string(annotations, CRONTASK_ANNOTATION_TIME, ts) < 0)
                return NULL;
        return child_new(&run->o, spec->child_kind, name, TAKE_PTR(labels), TAKE_PTR(annotations),
                         json_deep_copy(spec->child_spec));
}

static int act_create(struct crontask_run *run, const struct crontask_action *a,
                      struct berth_error *err)
{
        struct object_run *o = &run->o;
        _cleanup_free_ char *name =
            crontask_child_name(o->name, a->scheduled_ms, run->seconds_names, a->manual);
        _cleanup_free_ char *key =
            name ? object_key(o->ctx->prefix, run->spec.child_kind->resource, o->ns, name) : NULL;
        _cleanup_json_ json_t *child = name ? child_object(run, name, a->scheduled_ms) : NULL;

        if (!child || !key)
                return berth_error_set(err, -ENOMEM, "run of %s: out of memory", o->key);
        int r = child_create(o->ctx, key, child, err);
        if (r == -ESTALE) { /* made before: a run happens once */
                berth_error_clear(err);
                return 0;
        }
        if (r == 0) {
                char at[RFC3339_MAX];

                time_format_rfc3339(a->scheduled_ms, at);
                /* Kubernetes' CronJob says SuccessfulCreate: a run is what
                 * berth calls the objects a CronTask makes. */
                object_run_event(o, EVENT_NORMAL, "RunCreated", "created %s %s (%s %s)",
                                 run->spec.child_kind->singular, name,
                                 a->manual ? "triggered at" : "scheduled for", at);
        }
        return r;
}

static int crontask_act(struct object_run *o, struct berth_error *err)
{
        struct crontask_run *run = crontask_run_of(o);
        const struct kind_info *kind =
            run->spec.child_kind ? run->spec.child_kind : kind_by_name(child_kinds[0]);
        int r = 0;

        for (size_t k = 0; k < run->plan.n_actions && r >= 0; k++) {
                const struct crontask_action *a = &run->plan.actions[k];
                _cleanup_free_ char *key = NULL;

                switch (a->type) {
                case CRONTASK_ACTION_ADD_FINALIZER:
                        r = object_run_add_finalizer(o, CRONTASK_FINALIZER);
                        if (r < 0)
                                return berth_error_set(err, r, "add finalizer");
                        break;
                case CRONTASK_ACTION_CREATE_CHILD:
                        r = act_create(run, a, err);
                        break;
                case CRONTASK_ACTION_DELETE_CHILD:
                        key = object_key(o->ctx->prefix, kind->resource, o->ns,
                                         run->kids[a->child].name);
                        r = key ? object_mark_deleted(o->ctx, key, err)
                                : berth_error_set(err, -ENOMEM, "out of memory");
                        break;
                case CRONTASK_ACTION_DELETE_CHILDREN:
                        r = crontask_gone(o->ctx, o->ns, o->name, err);
                        break;
                case CRONTASK_ACTION_FINALIZE:
                        r = object_run_finalize(o, CRONTASK_FINALIZER, err);
                        return r < 0 ? r : ACT_DONE;
                }
        }
        return r < 0 ? r : ACT_IDLE;
}

/* ---- status ------------------------------------------------------------- */

/* The names of the runs that are active once the plan is carried out. */
static json_t *active_names(struct crontask_run *run)
{
        const struct crontask_plan *p = &run->plan;
        _cleanup_json_ json_t *names = json_array();

        if (!names)
                return NULL;
        for (size_t i = 0; i < run->n_kids && i < CRONTASK_CHILDREN_MAX; i++) {
                const struct cron_child *c = &run->kids[i];
                if (!p->child_deleted[i] && !c->deleting && c->phase != TASK_PHASE_SUCCEEDED &&
                    c->phase != TASK_PHASE_FAILED &&
                    json_array_append_new(names, json_string(c->name)) < 0)
                        return NULL;
        }
        for (size_t k = 0; k < p->n_actions; k++) {
                const struct crontask_action *a = &p->actions[k];
                if (a->type != CRONTASK_ACTION_CREATE_CHILD)
                        continue;
                char *name = crontask_child_name(run->o.name, a->scheduled_ms, run->seconds_names,
                                                 a->manual);
                if (!name || json_array_append_new(names, json_string(name)) < 0) {
                        free(name);
                        return NULL;
                }
                free(name);
        }
        return TAKE_PTR(names);
}

static json_t *status_json(struct crontask_run *run)
{
        const struct crontask_plan *p = &run->plan;
        struct object_run *o = &run->o;
        const json_t *old = json_object_get(o->obj, "status");
        char next[RFC3339_MAX] = "";
        _cleanup_json_ json_t *st =
            json_pack("{s:I, s:o, s:{s:I}}", "observedGeneration",
                      (json_int_t)json_path_int(o->obj, "metadata.generation", 0), "active",
                      active_names(run), "missed", "count", (json_int_t)p->missed_count);
        if (!st)
                return NULL;
        json_t *missed = json_object_get(st, "missed");
        if (json_set_time(st, "lastScheduleTime", p->last_schedule_ms) < 0 ||
            json_set_time(st, "lastSuccessfulTime", p->last_success_ms) < 0 ||
            json_set_time(st, "lastTriggerTime", p->last_trigger_ms) < 0 ||
            json_set_time(st, "nextScheduleTime", p->next_ms) < 0 ||
            json_set_time(missed, "lastTime", p->missed_ms) < 0 ||
            json_set_string(missed, "lastReason", p->missed_reason) < 0)
                return NULL;

        if (p->next_ms > 0)
                time_format_rfc3339(p->next_ms, next);
        _cleanup_json_ json_t *s1 = status_with_condition(
            old, "Scheduled", p->next_ms > 0 ? "True" : "False",
            p->suspended     ? "Suspended"
            : p->next_ms > 0 ? "Scheduled"
                             : "NeverFires",
            p->suspended     ? "spec.suspend is true"
            : p->next_ms > 0 ? "the schedule has a next time"
                             : "the schedule has no time in the next 500 years",
            o->now_ms);
        _cleanup_json_ json_t *s2 =
            s1 ? status_with_condition(s1, "Suspended", p->suspended ? "True" : "False",
                                       p->suspended ? "Suspended" : "Active",
                                       p->suspended ? "spec.suspend is true" : "runs on schedule",
                                       o->now_ms)
               : NULL;
        if (!s2 || json_object_set(st, "conditions", json_object_get(s2, "conditions")) < 0)
                return NULL;
        return TAKE_PTR(st);
}

static int crontask_status(struct object_run *o, struct berth_error *err)
{
        struct crontask_run *run = crontask_run_of(o);

        if (o->deleting || !run->spec_valid)
                return 0;
        return object_run_set_status(o, status_json(run), err);
}

/* Scheduled times the stored status counts as missed that it did not
 * before: one Event per reconcile that missed some. */
static void crontask_events(struct object_run *o, const json_t *before)
{
        int64_t missed = json_path_int(o->obj, "status.missed.count", 0);
        int64_t was = json_path_int(before, "status.missed.count", 0);
        const char *reason = json_path_string(o->obj, "status.missed.lastReason");

        if (missed <= was)
                return;
        object_run_event(o, EVENT_WARNING, "ScheduleMissed", "missed %lld scheduled run%s: %s",
                         (long long)(missed - was), missed - was == 1 ? "" : "s",
                         reason ? reason : "Downtime");
}

static void crontask_release(struct object_run *o)
{
        struct crontask_run *run = crontask_run_of(o);

        json_decref(run->children);
        free(run->kids);
        crontask_spec_release(&run->spec);
}

const struct kind_reconciler crontask_reconciler = {
    .kind = "CronTask",
    .run_size = sizeof(struct crontask_run),
    .gone = crontask_gone,
    .prepare = crontask_prepare,
    .observe = crontask_observe,
    .plan = crontask_plan,
    .act = crontask_act,
    .status = crontask_status,
    .release = crontask_release,
    .events = crontask_events,
};
