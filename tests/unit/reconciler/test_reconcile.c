/* Unit tests of the reconcile skeleton (reconciler/reconcile.c) with a fake
 * kind whose steps are scripted by each test: the gone path, deletion planned
 * like everything else, a failure found while acting fed back into the next
 * plan, the requeue time, a round repeating itself, and the round limit. The
 * store is a real SQLite file in a temporary directory; no Docker.
 *
 * The kinds registry's side: every kind has names, a schema, columns and a
 * reconciler; an unknown kind is a clear error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "metrics.h"
#include "reconciler-internal.h"

#define PREFIX    "/t/"
#define KEY       PREFIX "fakes/default/one"
#define FINALIZER "test/fake"
#define NOW       1767225600000LL

/* ---- the fake kind ---------------------------------------------------- */

enum fake_action { FAKE_NONE, FAKE_CREATE, FAKE_FINALIZE };

/* What the current test wants each step to do, and what the steps saw. */
static struct {
        /* script */
        bool create_fails;       /* act: the create is refused once (a 4xx) */
        bool act_progress;       /* act: report progress after a create */
        bool vary_signature;     /* plan: a different action every round */
        int64_t plan_requeue_ms; /* plan: requeue_after_ms */
        int64_t act_retry_ms;    /* act: run->retry_ms, < 0 none */
        const char *engine_down; /* act: fails with -EHOSTDOWN and this message */
        /* what happened */
        int gone, prepare, observe, plan, act, status, release, written, events;
        char before_phase[16]; /* the events hook's before: its status.phase, "" none */
        char gone_ns[64], gone_name[64];
        bool saw_deleting;
} fake;

struct fake_run {
        struct object_run o;
        enum fake_action action; /* the plan */
        const char *phase;       /* the status the plan wants */
        char create_error[64];   /* learned by acting */
        int round;
};

static int fake_gone(struct reconcile_ctx *ctx, const char *ns, const char *name,
                     struct berth_error *err)
{
        (void)ctx;
        (void)err;
        fake.gone++;
        str_copy(fake.gone_ns, sizeof(fake.gone_ns), ns);
        str_copy(fake.gone_name, sizeof(fake.gone_name), name);
        return 0;
}

static int fake_prepare(struct object_run *o, struct berth_error *err)
{
        (void)o;
        (void)err;
        fake.prepare++;
        return 0;
}

static int fake_observe(struct object_run *o, struct berth_error *err)
{
        (void)err;
        fake.observe++;
        fake.saw_deleting = o->deleting;
        return 0;
}

/* Pure: deleting → finalize; a create refused → Failed; else create. */
static void fake_plan(struct object_run *o, struct plan_summary *ret)
{
        struct fake_run *run = (struct fake_run *)o;

        fake.plan++;
        run->round++;
        if (o->deleting) {
                run->action = FAKE_FINALIZE;
                run->phase = NULL;
        } else if (run->create_error[0]) {
                run->action = FAKE_NONE;
                run->phase = "Failed";
        } else {
                run->action = FAKE_CREATE;
                run->phase = "Running";
        }
        *ret = (struct plan_summary){
            .n_actions = run->action != FAKE_NONE,
            .signature = (uint64_t)run->action + (fake.vary_signature ? (uint64_t)run->round : 0),
            .requeue_after_ms = fake.plan_requeue_ms,
        };
}

static int fake_act(struct object_run *o, struct berth_error *err)
{
        struct fake_run *run = (struct fake_run *)o;

        fake.act++;
        if (fake.engine_down)
                return berth_error_set(err, -EHOSTDOWN, "%s", fake.engine_down);
        if (fake.act_retry_ms >= 0)
                o->retry_ms = fake.act_retry_ms;
        switch (run->action) {
        case FAKE_NONE:
                return ACT_IDLE;
        case FAKE_CREATE:
                if (fake.create_fails) {
                        fake.create_fails = false;
                        str_copy(run->create_error, sizeof(run->create_error), "400 bad config");
                        return ACT_REPLAN;
                }
                return fake.act_progress ? ACT_PROGRESS : ACT_IDLE;
        case FAKE_FINALIZE: {
                int r = object_run_finalize(o, FINALIZER, err);
                return r < 0 ? r : ACT_DONE;
        }
        }
        return ACT_IDLE;
}

static int fake_status(struct object_run *o, struct berth_error *err)
{
        struct fake_run *run = (struct fake_run *)o;

        fake.status++;
        if (!run->phase)
                return 0;
        json_t *st = json_pack("{s:s}", "phase", run->phase);
        if (st && run->create_error[0])
                json_object_set_new(st, "message", json_string(run->create_error));
        return object_run_set_status(o, st, err);
}

static void fake_release(struct object_run *o)
{
        (void)o;
        fake.release++;
}

static void fake_written(struct object_run *o)
{
        (void)o;
        fake.written++;
}

/* Tells the phase it moved to (an Event), and what it moved from. */
static void fake_events(struct object_run *o, const json_t *before)
{
        fake.events++;
        str_copy(fake.before_phase, sizeof(fake.before_phase),
                 json_path_string(before, "status.phase") ?: "");
        object_run_event(o, EVENT_NORMAL, "Changed", "%s to %s", fake.before_phase,
                         json_path_string(o->obj, "status.phase"));
}

static const struct kind_reconciler fake_reconciler = {
    .kind = "Fake",
    .run_size = sizeof(struct fake_run),
    .gone = fake_gone,
    .prepare = fake_prepare,
    .observe = fake_observe,
    .plan = fake_plan,
    .act = fake_act,
    .status = fake_status,
    .release = fake_release,
    .written = fake_written,
    .events = fake_events,
};

/* The same steps under the name of a Task: the skeleton gives Tasks the
 * EngineUnresponsive condition. */
static const struct kind_reconciler fake_task_reconciler = {
    .kind = "Task",
    .run_size = sizeof(struct fake_run),
    .gone = fake_gone,
    .prepare = fake_prepare,
    .observe = fake_observe,
    .plan = fake_plan,
    .act = fake_act,
    .status = fake_status,
    .release = fake_release,
};

/* ---- fixture ------------------------------------------------------------ */

struct env {
        char dir[64];
        struct store *store;
        struct object_cache *objects;
        struct reconcile_ctx ctx;
};

static int64_t fake_now(void)
{
        return NOW;
}

static int setup(void **state)
{
        struct env *e = calloc(1, sizeof(*e));
        struct berth_error err = {0};
        char url[128];

        assert_non_null(e);
        snprintf(e->dir, sizeof(e->dir), "/tmp/berth-reconcile-XXXXXX");
        assert_non_null(mkdtemp(e->dir));
        snprintf(url, sizeof(url), "sqlite:%s/store.db", e->dir);
        if (store_open(url, &e->store, &err) < 0)
                fail_msg("store_open: %s", err.message);
        if (object_cache_new(e->store, PREFIX, NULL, NULL, &e->objects, &err) < 0)
                fail_msg("object_cache_new: %s", err.message);
        assert_int_equal(object_cache_wait_synced(e->objects, 5000), 0);
        e->ctx = (struct reconcile_ctx){
            .store = e->store, .objects = e->objects, .prefix = PREFIX, .now_ms = fake_now};
        memset(&fake, 0, sizeof(fake));
        fake.plan_requeue_ms = -1;
        fake.act_retry_ms = -1;
        *state = e;
        return 0;
}

static int teardown(void **state)
{
        struct env *e = *state;
        char cmd[128];

        object_cache_free(e->objects);
        store_free(e->store);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
        assert_int_equal(system(cmd), 0);
        free(e);
        return 0;
}

static void put(struct env *e, const char *json)
{
        struct berth_error err = {0};
        int64_t rev;

        if (store_put(e->store, KEY, json, strlen(json), STORE_ANY_REVISION, 0, &rev, &err) < 0)
                fail_msg("store_put: %s", err.message);
        assert_int_equal(object_cache_wait_revision(e->objects, rev, 5000), 0);
}

static json_t *stored(struct env *e)
{
        struct store_kv kv = {0};
        json_t *o;

        if (store_get(e->store, KEY, &kv, NULL) < 0)
                return NULL;
        o = json_loadb(kv.value, kv.value_len, 0, NULL);
        store_kv_release(&kv);
        return o;
}

#define OBJECT                                                                                     \
        "{\"metadata\":{\"name\":\"one\",\"namespace\":\"default\",\"uid\":\"u1\","                \
        "\"finalizers\":[\"" FINALIZER "\"]%s}}"

static void put_object(struct env *e, bool deleting)
{
        char json[256];

        snprintf(json, sizeof(json), OBJECT,
                 deleting ? ",\"deletionTimestamp\":\"2026-01-01T00:00:00Z\"" : "");
        put(e, json);
}

/* ---- the skeleton ------------------------------------------------------- */

static void test_gone_cleans_up(void **state)
{
        struct env *e = *state;
        struct berth_error err = {0};
        int64_t requeue = 42;

        assert_int_equal(reconcile_with(&fake_reconciler, &e->ctx, KEY, &requeue, &err), 0);
        assert_int_equal(fake.gone, 1);
        assert_string_equal(fake.gone_ns, "default");
        assert_string_equal(fake.gone_name, "one");
        assert_int_equal(fake.prepare + fake.plan + fake.act, 0);
        assert_int_equal(requeue, -1);

        /* Not a key of an object at all: a clear error, nothing called. */
        fake.gone = 0;
        assert_int_equal(reconcile_with(&fake_reconciler, &e->ctx, "nokey", &requeue, &err),
                         -EINVAL);
        assert_non_null(strstr(err.message, "not a key of a Fake"));
        assert_int_equal(fake.gone, 0);
}

static void test_status_written_once(void **state)
{
        struct env *e = *state;
        int64_t requeue;

        put_object(e, false);
        assert_int_equal(reconcile_with(&fake_reconciler, &e->ctx, KEY, &requeue, NULL), 0);
        assert_int_equal(fake.prepare, 1);
        assert_int_equal(fake.plan, 1);
        assert_int_equal(fake.act, 1);
        assert_int_equal(fake.status, 1);
        assert_int_equal(fake.release, 1);
        assert_int_equal(fake.written, 1);
        json_t *o = stored(e);
        assert_string_equal(json_path_string(o, "status.phase"), "Running");
        /* The private copy loses resourceVersion; the store never gets one. */
        assert_null(json_path(o, "metadata.resourceVersion"));
        json_decref(o);
        assert_int_equal(requeue, -1);
}

/* Deletion is planned like everything else: the plan finalizes, acting
 * deletes the object, and nothing is written after that. */
static void test_deletion_is_planned(void **state)
{
        struct env *e = *state;
        int64_t requeue = 42;

        put_object(e, true);
        assert_int_equal(reconcile_with(&fake_reconciler, &e->ctx, KEY, &requeue, NULL), 0);
        assert_true(fake.saw_deleting);
        assert_int_equal(fake.act, 1);
        assert_int_equal(fake.status, 0); /* ACT_DONE: the reconcile is over */
        assert_int_equal(fake.written, 0);
        assert_null(stored(e));
        assert_int_equal(requeue, -1);
}

/* A failure found while acting is fed back into the next plan, which decides
 * the status; the status of the plan that failed is not written. */
static void test_act_failure_fed_back(void **state)
{
        struct env *e = *state;
        int64_t requeue;

        fake.create_fails = true;
        put_object(e, false);
        assert_int_equal(reconcile_with(&fake_reconciler, &e->ctx, KEY, &requeue, NULL), 0);
        assert_int_equal(fake.plan, 2);
        assert_int_equal(fake.act, 2);
        assert_int_equal(fake.status, 1);
        json_t *o = stored(e);
        assert_string_equal(json_path_string(o, "status.phase"), "Failed");
        assert_string_equal(json_path_string(o, "status.message"), "400 bad config");
        json_decref(o);
}

/* The engine does not answer (-EHOSTDOWN): a Task says so in condition
 * EngineUnresponsive, written once per outage (not each retry: the message
 * of the first stays), and loses it once a reconcile goes through. Other
 * kinds get no condition. */
static void test_engine_unresponsive(void **state)
{
        struct env *e = *state;
        struct berth_error err = {0};
        struct store_kv kv = {0};
        int64_t requeue, rev;

        put_object(e, false);
        fake.engine_down = "create x: docker engine unix:///e.sock not answering for 7s";
        assert_int_equal(reconcile_with(&fake_reconciler, &e->ctx, KEY, &requeue, &err),
                         -EHOSTDOWN);
        json_t *o = stored(e);
        assert_null(json_path(o, "status"));
        json_decref(o);

        assert_int_equal(reconcile_with(&fake_task_reconciler, &e->ctx, KEY, &requeue, &err),
                         -EHOSTDOWN);
        o = stored(e);
        json_t *c = json_array_get(json_path(o, "status.conditions"), 0);
        assert_string_equal(json_string_value(json_object_get(c, "type")), "EngineUnresponsive");
        assert_string_equal(json_string_value(json_object_get(c, "status")), "True");
        assert_string_equal(json_string_value(json_object_get(c, "message")), fake.engine_down);
        json_decref(o);
        assert_int_equal(store_get(e->store, KEY, &kv, NULL), 0);
        rev = kv.mod_revision;
        store_kv_release(&kv);
        assert_int_equal(object_cache_wait_revision(e->objects, rev, 5000), 0);

        /* Still down a second later: nothing written. */
        fake.engine_down = "create x: docker engine unix:///e.sock not answering for 8s";
        assert_int_equal(reconcile_with(&fake_task_reconciler, &e->ctx, KEY, &requeue, &err),
                         -EHOSTDOWN);
        assert_int_equal(store_get(e->store, KEY, &kv, NULL), 0);
        assert_int_equal(kv.mod_revision, rev);
        store_kv_release(&kv);

        /* It answers: the condition goes. */
        fake.engine_down = NULL;
        assert_int_equal(reconcile_with(&fake_task_reconciler, &e->ctx, KEY, &requeue, &err), 0);
        o = stored(e);
        assert_string_equal(json_path_string(o, "status.phase"), "Running");
        assert_null(json_path(o, "status.conditions"));
        json_decref(o);
}

/* The requeue is the plan's wake-up, or sooner when acting asks for it. */
static void test_requeue_time(void **state)
{
        struct env *e = *state;
        int64_t requeue;

        put_object(e, false);
        fake.plan_requeue_ms = 5000;
        assert_int_equal(reconcile_with(&fake_reconciler, &e->ctx, KEY, &requeue, NULL), 0);
        assert_int_equal(requeue, 5000);

        fake.act_retry_ms = 700;
        assert_int_equal(reconcile_with(&fake_reconciler, &e->ctx, KEY, &requeue, NULL), 0);
        assert_int_equal(requeue, 700);

        fake.plan_requeue_ms = -1; /* no timer of its own: acting's wish stands */
        assert_int_equal(reconcile_with(&fake_reconciler, &e->ctx, KEY, &requeue, NULL), 0);
        assert_int_equal(requeue, 700);
}

/* Progress with the same plan again: the caches did not take the action's
 * effect in yet; look again in a second instead of spinning. */
static void test_repeating_round_stops(void **state)
{
        struct env *e = *state;
        int64_t requeue;

        put_object(e, false);
        fake.act_progress = true;
        assert_int_equal(reconcile_with(&fake_reconciler, &e->ctx, KEY, &requeue, NULL), 0);
        assert_int_equal(fake.plan, 2);
        assert_int_equal(fake.act, 1);
        assert_int_equal(requeue, 1000);
        json_t *o = stored(e);
        assert_string_equal(json_path_string(o, "status.phase"), "Running");
        json_decref(o);
}

/* Progress every round with new plans: at most 8 rounds, then come back at
 * once (there is more to do). */
static void test_round_limit(void **state)
{
        struct env *e = *state;
        int64_t requeue;

        put_object(e, false);
        fake.act_progress = true;
        fake.vary_signature = true;
        fake.plan_requeue_ms = 9000;
        assert_int_equal(reconcile_with(&fake_reconciler, &e->ctx, KEY, &requeue, NULL), 0);
        assert_int_equal(fake.plan, 8);
        assert_int_equal(requeue, 0);
}

/* The value of one sample of /metrics (0 when it is not there yet). */
static double sample(const char *series)
{
        double v = 0;
        int r = metrics_find(series, &v);
        assert_true(r == 0 || r == -ENOENT);
        return v;
}

/* Every reconcile is counted by kind and result, and timed. */
static void test_reconciles_counted(void **state)
{
        struct env *e = *state;
        int64_t requeue;
        double ok = sample("berth_reconcile_total{kind=\"Fake\",result=\"ok\"}");
        double again = sample("berth_reconcile_total{kind=\"Fake\",result=\"requeue\"}");
        double failed = sample("berth_reconcile_total{kind=\"Fake\",result=\"error\"}");
        double timed = sample("berth_reconcile_duration_seconds_count{kind=\"Fake\"}");

        put_object(e, false);
        assert_int_equal(reconcile_with(&fake_reconciler, &e->ctx, KEY, &requeue, NULL), 0);
        fake.plan_requeue_ms = 5000;
        assert_int_equal(reconcile_with(&fake_reconciler, &e->ctx, KEY, &requeue, NULL), 0);
        assert_int_equal(reconcile_with(&fake_reconciler, &e->ctx, "nokey", &requeue, NULL),
                         -EINVAL);
        assert_true(sample("berth_reconcile_total{kind=\"Fake\",result=\"ok\"}") == ok + 1);
        assert_true(sample("berth_reconcile_total{kind=\"Fake\",result=\"requeue\"}") == again + 1);
        assert_true(sample("berth_reconcile_total{kind=\"Fake\",result=\"error\"}") == failed + 1);
        assert_true(sample("berth_reconcile_duration_seconds_count{kind=\"Fake\"}") == timed + 3);
}

/* The Events of a status change are told once it is stored, from the
 * status as loaded: not without a change, not when the write is refused,
 * not without a recorder. */
static void test_events_after_write(void **state)
{
        struct env *e = *state;
        struct events_recorder *rec = NULL;
        const struct events_config cfg = {.store = e->store, .prefix = PREFIX, .now_ms = fake_now};
        struct store_kvs kvs = {0};
        int64_t requeue, rev = 0;

        /* No recorder: no hook. */
        put_object(e, false);
        assert_int_equal(reconcile_with(&fake_reconciler, &e->ctx, KEY, &requeue, NULL), 0);
        assert_int_equal(fake.written, 1);
        assert_int_equal(fake.events, 0);

        assert_int_equal(events_recorder_new(&cfg, &rec, NULL), 0);
        events_start(rec, NULL);
        e->ctx.events = rec;
        put(e, "{\"kind\":\"Fake\",\"metadata\":{\"name\":\"one\",\"namespace\":\"default\","
               "\"uid\":\"u1\",\"finalizers\":[\"" FINALIZER "\"]}}");
        assert_int_equal(reconcile_with(&fake_reconciler, &e->ctx, KEY, &requeue, NULL), 0);
        assert_int_equal(fake.events, 1);
        assert_string_equal(fake.before_phase, "");

        /* Nothing changed: nothing written, nothing told. */
        assert_int_equal(reconcile_with(&fake_reconciler, &e->ctx, KEY, &requeue, NULL), 0);
        assert_int_equal(fake.events, 1);

        /* A refused write tells nothing (the next reconcile that stores it
         * does). */
        fake.create_fails = true;
        assert_int_equal(
            store_put(e->store, PREFIX "leader", "x", 1, STORE_ANY_REVISION, 0, &rev, NULL), 0);
        const struct store_guard stale = {.key = PREFIX "leader", .mod_revision = rev + 1000};
        e->ctx.fence = &stale;
        assert_int_equal(reconcile_with(&fake_reconciler, &e->ctx, KEY, &requeue, NULL), -EPERM);
        assert_int_equal(fake.events, 1);
        e->ctx.fence = NULL;
        fake.create_fails = true;
        assert_int_equal(reconcile_with(&fake_reconciler, &e->ctx, KEY, &requeue, NULL), 0);
        assert_int_equal(fake.events, 2);
        assert_string_equal(fake.before_phase, "Running");

        /* object_run_event reached the store, about the object. */
        assert_int_equal(events_flush(rec, 5000), 0);
        assert_int_equal(store_list(e->store, PREFIX "events/default/", 0, &kvs, NULL), 0);
        assert_int_equal(kvs.n, 2);
        for (size_t i = 0; i < kvs.n; i++) {
                _cleanup_json_ json_t *ev =
                    json_loadb(kvs.items[i].value, kvs.items[i].value_len, 0, NULL);
                assert_string_equal(json_path_string(ev, "involvedObject.kind"), "Fake");
                assert_string_equal(json_path_string(ev, "involvedObject.uid"), "u1");
                assert_string_equal(json_path_string(ev, "reason"), "Changed");
        }
        store_kvs_release(&kvs);
        e->ctx.events = NULL;
        events_recorder_free(rec);
}

/* ---- the registries ----------------------------------------------------- */

static void test_every_kind_is_complete(void **state)
{
        static const char *const stored_only[] = {
            "Role",     "ClusterRole", "RoleBinding", "ClusterRoleBinding",
            "Token",    "Secret",      "Event",       "Policy",
            "Notifier", "Queue",       NULL,
        };
        (void)state;
        size_t n = 0;

        for (const struct kind_info *const *k = kind_all(); *k; k++, n++) {
                assert_non_null((*k)->kind);
                assert_non_null((*k)->resource);
                assert_non_null((*k)->singular);
                assert_ptr_equal(kind_lookup((*k)->kind), *k);
                assert_ptr_equal(kind_lookup((*k)->resource), *k);
                assert_ptr_equal(kind_lookup((*k)->singular), *k);
                if ((*k)->short_name)
                        assert_ptr_equal(kind_lookup((*k)->short_name), *k);
                assert_ptr_equal(kind_by_name((*k)->kind), *k);
                /* A schema: a spec's, or the top-level fields' of a kind
                 * without one (Secret). */
                if ((*k)->check_object) {
                        assert_non_null((*k)->object_fields);
                        assert_null((*k)->check_spec);
                        assert_null((*k)->default_spec);
                } else {
                        assert_non_null((*k)->check_spec);
                        assert_non_null((*k)->default_spec);
                }
                assert_non_null((*k)->columns);
                assert_non_null((*k)->columns[0].title);
                for (const struct printer_column *c = (*k)->columns; c->title; c++)
                        assert_non_null(c->path);
                /* Only stored and served: read by the API (RBAC, Tokens),
                 * by other kinds' reconcilers (Secrets, Policies), by the
                 * controller (Queues), or by users
                 * (Events, which the reconcilers write). */
                assert_true(reconciler_handles(*k) == !strv_contains(stored_only, (*k)->kind));
        }
        assert_true(n >= 2);
}

static void test_unknown_kind_is_an_error(void **state)
{
        struct env *e = *state;
        struct berth_error err = {0};
        int64_t requeue = 42;
        static const struct kind_info none = {.kind = "Nothing", .resource = "nothings"};

        assert_null(kind_lookup("nothings"));
        assert_null(kind_by_name("task")); /* manifests spell kinds exactly */
        assert_false(reconciler_handles(&none));
        assert_false(reconciler_handles(NULL));
        assert_int_equal(reconcile(&e->ctx, &none, KEY, &requeue, &err), -ENOTSUP);
        assert_string_equal(err.message, KEY ": no reconciler for kind Nothing");
        assert_int_equal(requeue, -1);
}

/* A spec that does not decode stops the reconcile, unless the object is being
 * deleted: a delete needs no valid spec. */
static void test_spec_decode_result(void **state)
{
        (void)state;
        struct object_run run = {.key = KEY};
        struct berth_error err = {0};

        assert_int_equal(object_run_spec_decoded(&run, 0, &err), 0);

        berth_error_set(&err, -EINVAL, "spec.image: required");
        assert_int_equal(object_run_spec_decoded(&run, -EINVAL, &err), -EINVAL);
        assert_string_equal(err.message, KEY ": spec.image: required");

        run.deleting = true;
        berth_error_set(&err, -EINVAL, "spec.image: required");
        assert_int_equal(object_run_spec_decoded(&run, -EINVAL, &err), 0);
        assert_int_equal(err.code, 0);

        berth_error_set(&err, -ENOMEM, "out of memory");
        assert_int_equal(object_run_spec_decoded(&run, -ENOMEM, &err), -ENOMEM);
        assert_string_equal(err.message, KEY ": out of memory");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_gone_cleans_up, setup, teardown),
            cmocka_unit_test_setup_teardown(test_status_written_once, setup, teardown),
            cmocka_unit_test_setup_teardown(test_deletion_is_planned, setup, teardown),
            cmocka_unit_test_setup_teardown(test_act_failure_fed_back, setup, teardown),
            cmocka_unit_test_setup_teardown(test_requeue_time, setup, teardown),
            cmocka_unit_test_setup_teardown(test_engine_unresponsive, setup, teardown),
            cmocka_unit_test_setup_teardown(test_repeating_round_stops, setup, teardown),
            cmocka_unit_test_setup_teardown(test_round_limit, setup, teardown),
            cmocka_unit_test_setup_teardown(test_events_after_write, setup, teardown),
            cmocka_unit_test_setup_teardown(test_reconciles_counted, setup, teardown),
            cmocka_unit_test(test_every_kind_is_complete),
            cmocka_unit_test_setup_teardown(test_unknown_kind_is_an_error, setup, teardown),
            cmocka_unit_test(test_spec_decode_result),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
