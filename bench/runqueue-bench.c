/* runqueue-bench: what the run queue costs with many queued Tasks — the
 * ordering (runqueue_order) of 10,000 queued Tasks over 10 namespaces, a
 * refused ask while the slots are full (what 10,000 Tasks submitted at once
 * cost each), and a slot given back (the order computed again, the next
 * Task woken). Prints microseconds per operation; no Docker involved. */
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "runqueue.h"

#define QUEUED     10000
#define NAMESPACES 10
#define LIMIT      5

struct woken {
        size_t n;
        int last; /* index of the last Task woken */
};

static void on_wake(void *userdata, const char *ns, const char *name)
{
        struct woken *w = userdata;

        (void)ns;
        w->n++;
        w->last = atoi(name + strlen("task-"));
}

static double us_since(int64_t start_ns)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - start_ns) / 1000.0;
}

static int64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(void)
{
        static char ns[NAMESPACES][16], names[QUEUED][32];
        static struct runqueue_entry e[QUEUED];
        struct runqueue *q = NULL;
        struct woken woken = {0, -1};
        size_t startable = 0, *order = NULL;

        for (int i = 0; i < NAMESPACES; i++)
                snprintf(ns[i], sizeof(ns[i]), "team-%d", i);
        for (int i = 0; i < QUEUED; i++) {
                snprintf(names[i], sizeof(names[i]), "task-%05d", i);
                e[i] = (struct runqueue_entry){.ns = ns[i % NAMESPACES],
                                               .name = names[i],
                                               .uid = names[i],
                                               .priority = i % 7 == 0 ? 10 : 0,
                                               .created_ms = 1000 * (i / 50)};
        }

        int64_t t = now_ns();
        const int rounds = 20;
        for (int r = 0; r < rounds; r++) {
                if (runqueue_order(e, QUEUED, NULL, 0, &order, &startable) < 0)
                        return 1;
                free(order);
        }
        printf("order of %d queued Tasks in %d namespaces: %.0f us\n", QUEUED, NAMESPACES,
               us_since(t) / rounds);

        if (runqueue_new(LIMIT, on_wake, &woken, &q) < 0)
                return 1;
        enum runqueue_verdict v;
        t = now_ns();
        for (int i = 0; i < QUEUED; i++)
                if (runqueue_acquire(q, &e[i], &v) < 0)
                        return 1;
        printf("ask for a slot, %d Tasks submitted at once (--max-running %d): %.2f us per ask, "
               "running=%zu queued=%zu\n",
               QUEUED, LIMIT, us_since(t) / QUEUED, runqueue_running(q), runqueue_queued(q));

        /* Give a slot back and let the woken Task take it, 100 times: the
         * order is computed for the wake-up and again for the ask. */
        const int frees = 100;
        int holder[LIMIT] = {0, 1, 2, 3, 4};
        t = now_ns();
        for (int i = 0; i < frees; i++) {
                int *h = &holder[i % LIMIT];

                runqueue_release(q, e[*h].ns, e[*h].name);
                if (woken.last < 0 || runqueue_acquire(q, &e[woken.last], &v) < 0 ||
                    v != RUNQUEUE_ADMITTED)
                        return 1;
                *h = woken.last;
        }
        printf("a slot given back and taken, %zu queued: %.0f us (woken %zu times)\n",
               runqueue_queued(q), us_since(t) / frees, woken.n);
        runqueue_free(q);
        return 0;
}
