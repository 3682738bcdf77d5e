/* order.c: the start order of queued Tasks (runqueue.h states the rules).
 * Pure: no I/O, no clock, no state.
 *
 * The entries are sorted once by namespace, then by their order inside a
 * namespace (priority, age, name, uid); each namespace is then a run whose
 * head is its next Task, and each pick compares the heads only. */
#include <stdlib.h>

#include "runqueue.h"

static int cmp_str(const char *a, const char *b)
{
        return strcmp(a ? a : "", b ? b : "");
}

/* Inside one namespace: higher priority, older, then name and uid. */
static int cmp_in_ns(const struct runqueue_entry *a, const struct runqueue_entry *b)
{
        if (a->priority != b->priority)
                return a->priority > b->priority ? -1 : 1;
        if (a->created_ms != b->created_ms)
                return a->created_ms < b->created_ms ? -1 : 1;
        int r = cmp_str(a->name, b->name);
        return r ? r : cmp_str(a->uid, b->uid);
}

struct sort_ctx {
        const struct runqueue_entry *e;
};

static int cmp_index(const void *pa, const void *pb, void *userdata)
{
        const struct sort_ctx *s = userdata;
        const struct runqueue_entry *a = &s->e[*(const size_t *)pa];
        const struct runqueue_entry *b = &s->e[*(const size_t *)pb];
        int r = cmp_str(a->ns, b->ns);

        return r ? r : cmp_in_ns(a, b);
}

/* One namespace's run of sorted indexes. */
struct group {
        size_t head, end; /* into the sorted index array */
        int64_t running;  /* slots held, plus the picks made so far */
        int64_t limit;    /* 0: none */
};

static const struct runqueue_ns *ns_find(const struct runqueue_ns *nss, size_t n, const char *ns)
{
        for (size_t i = 0; i < n; i++)
                if (streq(nss[i].ns, ns))
                        return &nss[i];
        return NULL;
}

/* Whether head a comes before head b across namespaces: priority, then the
 * namespace with fewer running, then age, then the total order. */
static bool before(const struct runqueue_entry *a, const struct group *ga,
                   const struct runqueue_entry *b, const struct group *gb)
{
        if (a->priority != b->priority)
                return a->priority > b->priority;
        if (ga->running != gb->running)
                return ga->running < gb->running;
        if (a->created_ms != b->created_ms)
                return a->created_ms < b->created_ms;
        int r = cmp_str(a->ns, b->ns);
        if (r)
                return r < 0;
        return cmp_in_ns(a, b) < 0;
}

/* Picks the next head (respecting limits or not); SIZE_MAX: none left. */
static size_t pick(const struct runqueue_entry *e, const size_t *sorted, struct group *g,
                   size_t n_groups, bool limits)
{
        size_t best = SIZE_MAX;

        for (size_t i = 0; i < n_groups; i++) {
                if (g[i].head >= g[i].end)
                        continue;
                if (limits && g[i].limit > 0 && g[i].running >= g[i].limit)
                        continue;
                if (best == SIZE_MAX ||
                    before(&e[sorted[g[i].head]], &g[i], &e[sorted[g[best].head]], &g[best]))
                        best = i;
        }
        return best;
}

int runqueue_order(const struct runqueue_entry *entries, size_t n, const struct runqueue_ns *nss,
                   size_t n_nss, size_t **ret_order, size_t *ret_startable)
{
        _cleanup_free_ size_t *sorted = calloc(n ? n : 1, sizeof(*sorted));
        _cleanup_free_ size_t *order = calloc(n ? n : 1, sizeof(*order));
        _cleanup_free_ struct group *groups = NULL;
        size_t n_groups = 0, k = 0, startable = 0;

        if (!sorted || !order)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                sorted[i] = i;
        qsort_r(sorted, n, sizeof(*sorted), cmp_index, &(struct sort_ctx){entries});

        for (size_t i = 0; i < n; i++)
                if (i == 0 || !streq(entries[sorted[i]].ns, entries[sorted[i - 1]].ns))
                        n_groups++;
        groups = calloc(n_groups ? n_groups : 1, sizeof(*groups));
        if (!groups)
                return -ENOMEM;
        n_groups = 0;
        for (size_t i = 0; i < n; i++) {
                if (i > 0 && streq(entries[sorted[i]].ns, entries[sorted[i - 1]].ns)) {
                        groups[n_groups - 1].end = i + 1;
                        continue;
                }
                const struct runqueue_ns *s = ns_find(nss, n_nss, entries[sorted[i]].ns);
                groups[n_groups++] = (struct group){
                    .head = i,
                    .end = i + 1,
                    .running = s && s->running > 0 ? s->running : 0,
                    .limit = s && s->limit > 0 ? s->limit : 0,
                };
        }

        for (bool limits = true;; limits = false) {
                size_t g;

                while ((g = pick(entries, sorted, groups, n_groups, limits)) != SIZE_MAX) {
                        order[k++] = sorted[groups[g].head++];
                        groups[g].running++;
                }
                if (!limits)
                        break;
                startable = k;
        }
        *ret_order = TAKE_PTR(order);
        *ret_startable = startable;
        return 0;
}
