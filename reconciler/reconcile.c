/* reconcile.c: the one reconcile skeleton every kind runs on, and the
 * registry of the kinds that have a reconciler.
 *
 * A reconcile takes an object as far as it can go right now: it runs a few
 * rounds of observe → plan → act (a fast container is created, started, seen
 * to exit and its result recorded in one call), then writes the object once
 * with CAS. Each round observes again; acting writes through to the caches,
 * so a round never acts on what an earlier round did. Failures the planner
 * must judge (a refused create, a container confirmed gone) come back from
 * acting as planner input for the next round instead of being decided there.
 */
#include "metrics.h"
#include "reconciler-internal.h"

#define RECONCILE_ROUNDS_MAX 8
/* Look again after this long rather than spin when a round would repeat the
 * previous one (the caches did not take an action's effect in yet). */
#define RECONCILE_STUCK_REQUEUE_MS 1000

/* Kinds with a reconciler. Adding one: docs/internals/adding-a-kind.md. */
static const struct kind_reconciler *const reconcilers[] = {
    &task_reconciler,    &workflow_reconciler, &crontask_reconciler,
    &service_reconciler, &source_reconciler,
};

static struct metrics_family reconciles =
    METRICS_COUNTER_INIT("berth_reconcile_total",
                         "Reconciles by kind and result (ok; requeue: done for now, asked to "
                         "look again later; error: failed, conflicts included, retried with "
                         "backoff).",
                         "kind", "result");
static struct metrics_family reconcile_seconds =
    METRICS_HISTOGRAM_INIT("berth_reconcile_duration_seconds", "Duration of reconciles by kind.",
                           METRICS_BUCKETS_LATENCY, "kind");

static const struct kind_reconciler *reconciler_of(const struct kind_info *kind)
{
        for (size_t i = 0; kind && i < ARRAY_SIZE(reconcilers); i++)
                if (streq(reconcilers[i]->kind, kind->kind))
                        return reconcilers[i];
        return NULL;
}

bool reconciler_handles(const struct kind_info *kind)
{
        return reconciler_of(kind) != NULL;
}

static int64_t earliest(int64_t a, int64_t b)
{
        if (a < 0)
                return b;
        if (b < 0)
                return a;
        return a < b ? a : b;
}

/* The rounds. Returns 0 with *ret_requeue_ms set, or -errno. */
static int run_rounds(const struct kind_reconciler *k, struct object_run *run,
                      int64_t *ret_requeue_ms, struct berth_error *err)
{
        uint64_t last_signature = 0;
        bool have_last = false;
        int r;

        for (int round = 0; round < RECONCILE_ROUNDS_MAX; round++) {
                struct plan_summary plan = {.requeue_after_ms = -1};

                run->now_ms = run->ctx->now_ms ? run->ctx->now_ms() : time_now_ms();
                r = k->observe(run, err);
                if (r < 0)
                        return r;
                k->plan(run, &plan);
                if (plan.n_actions > 0 && have_last && plan.signature == last_signature) {
                        *ret_requeue_ms = RECONCILE_STUCK_REQUEUE_MS;
                        return 0;
                }
                last_signature = plan.signature;
                have_last = true;

                r = k->act(run, err);
                if (r < 0)
                        return r;
                if (r == ACT_REPLAN)
                        continue;
                *ret_requeue_ms = plan.requeue_after_ms;
                if (r == ACT_DONE) {
                        run->dirty = false;
                        return 0;
                }
                int s = k->status(run, err);
                if (s < 0)
                        return s;
                if (r == ACT_IDLE)
                        return 0;
                /* ACT_PROGRESS: what we observe changed, plan again. */
        }
        *ret_requeue_ms = 0; /* more to do: come back at once */
        return 0;
}

int reconcile(struct reconcile_ctx *ctx, const struct kind_info *kind, const char *key,
              int64_t *ret_requeue_ms, struct berth_error *err)
{
        const struct kind_reconciler *k = reconciler_of(kind);

        *ret_requeue_ms = -1;
        if (!k)
                return berth_error_set(err, -ENOTSUP, "%s: no reconciler for kind %s", key,
                                       kind ? kind->kind : "(none)");
        return reconcile_with(k, ctx, key, ret_requeue_ms, err);
}

/* Whether status has condition type with status "True". */
static bool condition_true(const json_t *status, const char *type)
{
        size_t i;
        const json_t *c;

        json_array_foreach(json_object_get(status, "conditions"), i, c)
        {
                if (streq(json_string_value(json_object_get(c, "type")), type))
                        return streq(json_string_value(json_object_get(c, "status")), "True");
        }
        return false;
}

/* A Task that could not act because the Docker engine does not answer
 * (docker.h: -EHOSTDOWN): says so in its status (condition
 * ENGINE_UNRESPONSIVE True, with the tracker's message) and, when that is
 * news, in a Warning Event. Best effort: the reconcile failed anyway, the
 * controller retries when the engine answers again. */
static void mark_engine_unresponsive(const struct kind_reconciler *k, struct object_run *run,
                                     const struct berth_error *err)
{
        const json_t *old = json_object_get(run->obj, "status");
        struct berth_error werr = {0};

        if (!streq(k->kind, "Task"))
                return;
        /* Said once per outage: rewriting the message ("for 12s", "for 13s")
         * would wake every waiting Task's reconcile again, each second. */
        if (condition_true(old, ENGINE_UNRESPONSIVE))
                return;
        json_t *st = status_with_condition(old, ENGINE_UNRESPONSIVE, "True", ENGINE_UNRESPONSIVE,
                                           err->message, run->now_ms ? run->now_ms : time_now_ms());
        if (object_run_set_status(run, st, &werr) < 0 || !run->dirty ||
            object_run_write(run, &werr) < 0)
                return;
        object_run_event(run, EVENT_WARNING, ENGINE_UNRESPONSIVE, "%s", err->message);
}

/* The engine answers again: the condition goes (a Task's status is
 * rebuilt on its next change anyway; this covers one that has none). */
static int clear_engine_unresponsive(struct object_run *run, struct berth_error *err)
{
        json_t *status = json_object_get(run->obj, "status");
        json_t *conds = json_object_get(status, "conditions");

        if (!condition_true(status, ENGINE_UNRESPONSIVE))
                return 0;
        _cleanup_json_ json_t *st = json_deep_copy(status);
        json_t *copy = json_object_get(st, "conditions");
        for (size_t i = json_array_size(conds); i > 0; i--)
                if (streq(json_string_value(json_object_get(json_array_get(copy, i - 1), "type")),
                          ENGINE_UNRESPONSIVE))
                        json_array_remove(copy, i - 1);
        return object_run_set_status(run, TAKE_PTR(st), err);
}

static int run_reconcile(const struct kind_reconciler *k, struct reconcile_ctx *ctx,
                         const char *key, int64_t *ret_requeue_ms, struct berth_error *err)
{
        int64_t requeue = -1;
        int r;

        *ret_requeue_ms = -1;
        _cleanup_free_ struct object_run *run = calloc(1, k->run_size);
        if (!run)
                return berth_error_set(err, -ENOMEM, "reconcile %s: out of memory", key);
        r = object_run_load(ctx, key, run, err);
        if (r == -ENOENT) {
                char ns[64], name[64];

                berth_error_clear(err);
                r = key_split(key, ns, name);
                if (r < 0)
                        return berth_error_set(err, r, "%s: not a key of a %s", key, k->kind);
                return k->gone(ctx, ns, name, err);
        }
        if (r < 0)
                return r;
        run->retry_ms = -1;
        /* The status as loaded: the kind's Events are its transitions to
         * the status written at the end (none without a recorder). */
        _cleanup_json_ json_t *before =
            k->events && ctx->events ? object_status_copy(run->obj) : NULL;

        r = k->prepare(run, err);
        if (r >= 0)
                r = run_rounds(k, run, &requeue, err);
        if (r >= 0 && streq(k->kind, "Task"))
                r = clear_engine_unresponsive(run, err);
        if (r == -EHOSTDOWN)
                mark_engine_unresponsive(k, run, err);
        if (r >= 0 && run->dirty) {
                r = object_run_write(run, err);
                if (r >= 0 && k->written)
                        k->written(run);
                if (r >= 0 && before)
                        k->events(run, before);
        }
        if (r >= 0)
                *ret_requeue_ms = earliest(requeue, run->retry_ms);
        k->release(run);
        json_decref(run->obj);
        return r < 0 ? r : 0;
}

int reconcile_with(const struct kind_reconciler *k, struct reconcile_ctx *ctx, const char *key,
                   int64_t *ret_requeue_ms, struct berth_error *err)
{
        int64_t start = metrics_now_ns();
        int r = run_reconcile(k, ctx, key, ret_requeue_ms, err);
        const char *result = r < 0 ? "error" : *ret_requeue_ms >= 0 ? "requeue" : "ok";

        metrics_counter_add(&reconciles, (const char *const[]){k->kind, result}, 1);
        metrics_series_observe_since(
            metrics_series(&reconcile_seconds, (const char *const[]){k->kind}), start);
        return r;
}
