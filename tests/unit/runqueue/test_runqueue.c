/* Unit tests for runqueue/: the start order of queued Tasks (priority, age,
 * fairness across namespaces, namespace limits) as a pure function, and the
 * run slots (limits, wake-ups, exactness with concurrent workers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <cmocka.h>

#include "runqueue.h"

#define E(ns_, name_, prio, created)                                                               \
        {                                                                                          \
                .ns = ns_, .name = name_, .uid = name_, .priority = prio, .created_ms = created    \
        }

/* The names in the order computed, joined by spaces; *startable too. */
static void order_of(const struct runqueue_entry *e, size_t n, const struct runqueue_ns *nss,
                     size_t n_nss, char *out, size_t size, size_t *startable)
{
        size_t *order = NULL;
        size_t len = 0;

        assert_int_equal(runqueue_order(e, n, nss, n_nss, &order, startable), 0);
        out[0] = '\0';
        for (size_t i = 0; i < n; i++)
                len +=
                    (size_t)snprintf(out + len, size - len, "%s%s", i ? " " : "", e[order[i]].name);
        free(order);
}

static void test_priority_first(void **state)
{
        (void)state;
        const struct runqueue_entry e[] = {
            E("a", "low-old", 0, 1000),  E("a", "high", 10, 5000),   E("a", "mid", 5, 3000),
            E("a", "negative", -3, 100), E("a", "low-new", 0, 2000),
        };
        char out[256];
        size_t startable;

        order_of(e, ARRAY_SIZE(e), NULL, 0, out, sizeof(out), &startable);
        assert_string_equal(out, "high mid low-old low-new negative");
        assert_int_equal(startable, ARRAY_SIZE(e));
}

static void test_age_then_name(void **state)
{
        (void)state;
        const struct runqueue_entry e[] = {
            E("a", "c", 0, 2000), E("a", "b", 0, 1000),
            E("a", "a", 0, 2000), /* same age as c: by name */
        };
        char out[64];
        size_t startable;

        order_of(e, ARRAY_SIZE(e), NULL, 0, out, sizeof(out), &startable);
        assert_string_equal(out, "b a c");
}

/* Equal priority: the namespace with fewer running goes first, so two
 * namespaces alternate even when one has only older Tasks queued. */
static void test_fair_round_robin(void **state)
{
        (void)state;
        const struct runqueue_entry e[] = {
            E("a", "a1", 0, 1),  E("a", "a2", 0, 2),  E("a", "a3", 0, 3),
            E("b", "b1", 0, 10), E("b", "b2", 0, 11), E("b", "b3", 0, 12),
        };
        char out[64];
        size_t startable;

        order_of(e, ARRAY_SIZE(e), NULL, 0, out, sizeof(out), &startable);
        assert_string_equal(out, "a1 b1 a2 b2 a3 b3");
}

/* A namespace with Tasks running already waits for the others to catch up. */
static void test_fair_counts_running(void **state)
{
        (void)state;
        const struct runqueue_entry e[] = {
            E("a", "a1", 0, 1),  E("a", "a2", 0, 2),  E("a", "a3", 0, 3),
            E("b", "b1", 0, 10), E("b", "b2", 0, 11), E("b", "b3", 0, 12),
        };
        const struct runqueue_ns nss[] = {{.ns = "a", .running = 2}};
        char out[64];
        size_t startable;

        order_of(e, ARRAY_SIZE(e), nss, ARRAY_SIZE(nss), out, sizeof(out), &startable);
        assert_string_equal(out, "b1 b2 a1 b3 a2 a3");
}

/* Priority beats fairness: a busy namespace's urgent Task goes first. */
static void test_priority_beats_fairness(void **state)
{
        (void)state;
        const struct runqueue_entry e[] = {
            E("idle", "i1", 0, 1),
            E("busy", "urgent", 100, 50),
        };
        const struct runqueue_ns nss[] = {{.ns = "busy", .running = 40}};
        char out[64];
        size_t startable;

        order_of(e, ARRAY_SIZE(e), nss, ARRAY_SIZE(nss), out, sizeof(out), &startable);
        assert_string_equal(out, "urgent i1");
}

/* A namespace at its limit: its Tasks cannot start now and come after
 * those that can, still in their order. */
static void test_namespace_limit(void **state)
{
        (void)state;
        const struct runqueue_entry e[] = {
            E("full", "f1", 50, 1),   E("full", "f2", 0, 2),    E("open", "o1", 0, 3),
            E("limited", "l1", 0, 4), E("limited", "l2", 0, 5),
        };
        const struct runqueue_ns nss[] = {
            {.ns = "full", .running = 2, .limit = 2},
            {.ns = "limited", .running = 0, .limit = 1},
            {.ns = "unused", .running = 3},
        };
        char out[64];
        size_t startable;

        order_of(e, ARRAY_SIZE(e), nss, ARRAY_SIZE(nss), out, sizeof(out), &startable);
        /* open and limited have 0 running: o1 is older; l1 fills limited. */
        assert_string_equal(out, "o1 l1 f1 l2 f2");
        assert_int_equal(startable, 2);
}

static void test_empty(void **state)
{
        (void)state;
        size_t *order = NULL;
        size_t startable = 99;

        assert_int_equal(runqueue_order(NULL, 0, NULL, 0, &order, &startable), 0);
        assert_int_equal(startable, 0);
        free(order);
}

/* ---- run slots ----------------------------------------------------------- */

struct woken {
        char names[64][64];
        size_t n;
};

static void on_wake(void *userdata, const char *ns, const char *name)
{
        struct woken *w = userdata;

        if (w->n < ARRAY_SIZE(w->names))
                snprintf(w->names[w->n++], sizeof(w->names[0]), "%s/%s", ns, name);
}

static enum runqueue_verdict ask(struct runqueue *q, const char *ns, const char *name,
                                 int64_t priority, int64_t created)
{
        const struct runqueue_entry e = E(ns, name, priority, created);
        enum runqueue_verdict v;

        assert_int_equal(runqueue_acquire(q, &e, &v), 0);
        return v;
}

static void test_slots_global_limit(void **state)
{
        (void)state;
        struct woken w = {0};
        struct runqueue *q = NULL;

        assert_int_equal(runqueue_new(2, on_wake, &w, &q), 0);
        assert_int_equal(runqueue_max_running(q), 2);
        assert_int_equal(ask(q, "a", "t1", 0, 1), RUNQUEUE_ADMITTED);
        assert_int_equal(ask(q, "a", "t2", 0, 2), RUNQUEUE_ADMITTED);
        assert_int_equal(ask(q, "a", "t1", 0, 1), RUNQUEUE_ADMITTED); /* holds already */
        assert_int_equal(ask(q, "a", "t3", 0, 3), RUNQUEUE_MAX_RUNNING);
        assert_int_equal(ask(q, "a", "t4", 5, 4), RUNQUEUE_MAX_RUNNING);
        assert_true(runqueue_holds(q, "a", "t1"));
        assert_false(runqueue_holds(q, "a", "t3"));
        assert_int_equal(runqueue_running(q), 2);
        assert_int_equal(runqueue_queued(q), 2);

        /* A slot frees: the higher priority is woken, and only it. */
        runqueue_release(q, "a", "t1");
        assert_int_equal(w.n, 1);
        assert_string_equal(w.names[0], "a/t4");
        /* The older but lower one asking first does not jump the queue. */
        assert_int_equal(ask(q, "a", "t3", 0, 3), RUNQUEUE_MAX_RUNNING);
        assert_int_equal(ask(q, "a", "t4", 5, 4), RUNQUEUE_ADMITTED);
        assert_int_equal(runqueue_queued(q), 1);

        /* Releasing what holds nothing changes nothing and wakes nobody. */
        w.n = 0;
        runqueue_release(q, "a", "nobody");
        assert_int_equal(w.n, 0);

        /* A woken Task that stops asking lets the next one be woken. */
        runqueue_release(q, "a", "t2");
        assert_int_equal(w.n, 1);
        assert_string_equal(w.names[0], "a/t3");
        assert_int_equal(ask(q, "b", "late-urgent", 9, 100), RUNQUEUE_ADMITTED);
        assert_int_equal(ask(q, "a", "t3", 0, 3), RUNQUEUE_MAX_RUNNING);
        w.n = 0;
        runqueue_withdraw(q, "a", "t3");
        assert_int_equal(runqueue_queued(q), 0);
        assert_int_equal(w.n, 0); /* nothing free, nothing queued */

        runqueue_reset(q);
        assert_int_equal(runqueue_running(q), 0);
        runqueue_free(q);
        runqueue_free(NULL);
}

static void test_slots_namespace_limit(void **state)
{
        (void)state;
        struct woken w = {0};
        struct runqueue *q = NULL;

        assert_int_equal(runqueue_new(0, on_wake, &w, &q), 0); /* no global limit */
        assert_int_equal(runqueue_set_limit(q, "team", 1), 0);
        assert_int_equal(ask(q, "team", "t1", 0, 1), RUNQUEUE_ADMITTED);
        assert_int_equal(ask(q, "team", "t2", 0, 2), RUNQUEUE_QUEUE_LIMIT);
        assert_int_equal(ask(q, "team", "t3", 0, 3), RUNQUEUE_QUEUE_LIMIT);
        assert_int_equal(ask(q, "other", "o1", 0, 4), RUNQUEUE_ADMITTED);
        assert_int_equal(w.n, 0);

        /* Raising the limit wakes the one that may start now. */
        assert_int_equal(runqueue_set_limit(q, "team", 2), 0);
        assert_int_equal(w.n, 1);
        assert_string_equal(w.names[0], "team/t2");
        assert_int_equal(ask(q, "team", "t2", 0, 2), RUNQUEUE_ADMITTED);
        /* Removing it wakes the rest. */
        w.n = 0;
        assert_int_equal(runqueue_set_limit(q, "team", 0), 0);
        assert_int_equal(w.n, 1);
        assert_string_equal(w.names[0], "team/t3");

        /* Rebuilding: holders count whatever the limits. */
        runqueue_reset(q);
        assert_int_equal(runqueue_set_limit(q, "team", 1), 0);
        assert_int_equal(runqueue_hold(q, "team", "r1"), 0);
        assert_int_equal(runqueue_hold(q, "team", "r2"), 0);
        assert_int_equal(runqueue_hold(q, "team", "r2"), 0); /* once */
        assert_int_equal(runqueue_running(q), 2);
        const struct runqueue_entry queued = E("team", "was-queued", 0, 1);
        assert_int_equal(runqueue_enqueue(q, &queued), 0);
        assert_int_equal(runqueue_queued(q), 1);
        w.n = 0;
        runqueue_release(q, "team", "r1");
        assert_int_equal(w.n, 0); /* r2 still fills the limit of 1 */
        runqueue_release(q, "team", "r2");
        assert_int_equal(w.n, 1);
        assert_string_equal(w.names[0], "team/was-queued");
        runqueue_free(q);
}

/* 8 workers asking and giving back slots at random: never more holders than
 * the limit, counted outside the runqueue. */
#define WORKERS 8
#define ROUNDS  2000
#define LIMIT   3

struct worker_state {
        struct runqueue *q;
        int id;
        atomic_int *holding;
        atomic_int *max_seen;
};

static void *worker(void *userdata)
{
        struct worker_state *s = userdata;
        char name[32];

        for (int i = 0; i < ROUNDS; i++) {
                snprintf(name, sizeof(name), "w%d-%d", s->id, i % 4);
                const struct runqueue_entry e = {.ns = i % 2 ? "odd" : "even",
                                                 .name = name,
                                                 .uid = name,
                                                 .priority = i % 3,
                                                 .created_ms = i};
                enum runqueue_verdict v;

                if (runqueue_acquire(s->q, &e, &v) < 0)
                        return (void *)1;
                if (v != RUNQUEUE_ADMITTED) {
                        runqueue_withdraw(s->q, e.ns, name);
                        continue;
                }
                int now = atomic_fetch_add(s->holding, 1) + 1;
                int seen = atomic_load(s->max_seen);
                while (now > seen && !atomic_compare_exchange_weak(s->max_seen, &seen, now))
                        ;
                atomic_fetch_sub(s->holding, 1);
                runqueue_release(s->q, e.ns, name);
        }
        return NULL;
}

static void noop_wake(void *userdata, const char *ns, const char *name)
{
        (void)userdata, (void)ns, (void)name;
}

static void test_slots_exact_under_concurrency(void **state)
{
        (void)state;
        struct runqueue *q = NULL;
        pthread_t t[WORKERS];
        struct worker_state s[WORKERS];
        atomic_int holding = 0, max_seen = 0;

        assert_int_equal(runqueue_new(LIMIT, noop_wake, NULL, &q), 0);
        for (int i = 0; i < WORKERS; i++) {
                s[i] = (struct worker_state){q, i, &holding, &max_seen};
                assert_int_equal(pthread_create(&t[i], NULL, worker, &s[i]), 0);
        }
        for (int i = 0; i < WORKERS; i++) {
                void *ret = NULL;
                pthread_join(t[i], &ret);
                assert_null(ret);
        }
        assert_true(atomic_load(&max_seen) <= LIMIT);
        assert_true(atomic_load(&max_seen) >= 1);
        assert_int_equal(runqueue_running(q), 0);
        assert_int_equal(runqueue_queued(q), 0);
        runqueue_free(q);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_priority_first),
            cmocka_unit_test(test_age_then_name),
            cmocka_unit_test(test_fair_round_robin),
            cmocka_unit_test(test_fair_counts_running),
            cmocka_unit_test(test_priority_beats_fairness),
            cmocka_unit_test(test_namespace_limit),
            cmocka_unit_test(test_empty),
            cmocka_unit_test(test_slots_global_limit),
            cmocka_unit_test(test_slots_namespace_limit),
            cmocka_unit_test(test_slots_exact_under_concurrency),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
