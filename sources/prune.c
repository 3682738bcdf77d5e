/* sources: the prune decision and the ownership of an object about to be
 * applied. Pure: no I/O, no clock. */
#include <math.h>

#include "sources.h"

static const char *str_or_empty(const char *s)
{
        return s ? s : "";
}

static int ref_compare(const char *kind_a, const char *ns_a, const char *name_a, const char *kind_b,
                       const char *ns_b, const char *name_b)
{
        int c = strcmp(str_or_empty(kind_a), str_or_empty(kind_b));

        if (c == 0)
                c = strcmp(str_or_empty(ns_a), str_or_empty(ns_b));
        if (c == 0)
                c = strcmp(str_or_empty(name_a), str_or_empty(name_b));
        return c;
}

static int desired_compare(const void *a, const void *b)
{
        const struct source_object_ref *x = *(const struct source_object_ref *const *)a;
        const struct source_object_ref *y = *(const struct source_object_ref *const *)b;

        return ref_compare(x->kind, x->ns, x->name, y->kind, y->ns, y->name);
}

static bool desired_holds(const struct source_object_ref *const *sorted, size_t n,
                          const struct source_live_object *o)
{
        size_t lo = 0, hi = n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                const struct source_object_ref *d = sorted[mid];
                int c = ref_compare(o->kind, o->ns, o->name, d->kind, d->ns, d->name);

                if (c == 0)
                        return true;
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return false;
}

static const char *objects_word(size_t n)
{
        return n == 1 ? "object" : "objects";
}

/* "would delete 8 of 10 objects (80%) > maxPruneFraction 0.5; ..." */
static void fraction_message(char *out, size_t size, const char *source, size_t n, size_t of,
                             double max_fraction)
{
        const char *slash = strrchr(source, '/');
        const char *name = slash ? slash + 1 : source;
        char pct[32];

        if (n * 100 % of == 0)
                snprintf(pct, sizeof(pct), "%zu%%", n * 100 / of);
        else
                snprintf(pct, sizeof(pct), "%.1f%%", 100.0 * (double)n / (double)of);
        snprintf(out, size,
                 "would delete %zu of %zu %s (%s) > maxPruneFraction %g; berth sync source/%s "
                 "--force-prune to confirm",
                 n, of, objects_word(of), pct, max_fraction, name);
}

int source_prune_decide(const struct prune_input *in, struct prune_decision *ret)
{
        _cleanup_free_ const struct source_object_ref **sorted = NULL;
        _cleanup_free_ enum prune_action *actions = NULL;
        struct prune_decision d = {};
        size_t n_candidates = 0;
        double max_fraction;

        if (!in || !ret || !in->source || (in->n_desired > 0 && !in->desired) ||
            (in->n_live > 0 && !in->live))
                return -EINVAL;
        max_fraction = in->max_fraction;
        if (isnan(max_fraction) || max_fraction < 0.0)
                max_fraction = 0.0;
        if (max_fraction > 1.0)
                max_fraction = 1.0;

        if (in->n_desired > 0) {
                sorted = calloc(in->n_desired, sizeof(*sorted));
                if (!sorted)
                        return -ENOMEM;
                for (size_t i = 0; i < in->n_desired; i++)
                        sorted[i] = &in->desired[i];
                qsort(sorted, in->n_desired, sizeof(*sorted), desired_compare);
        }
        if (in->n_live > 0) {
                actions = calloc(in->n_live, sizeof(*actions));
                if (!actions)
                        return -ENOMEM;
        }

        for (size_t i = 0; i < in->n_live; i++) {
                const struct source_live_object *o = &in->live[i];
                bool owned = streq(o->owner, in->source);

                if (owned)
                        d.n_owned++;
                if (desired_holds(sorted, in->n_desired, o))
                        actions[i] = PRUNE_ACTION_KEEP;
                else if (!owned)
                        actions[i] = PRUNE_ACTION_KEEP_NOT_OWNED;
                else if (o->protected_)
                        actions[i] = PRUNE_ACTION_KEEP_PROTECTED;
                else {
                        actions[i] = PRUNE_ACTION_DELETE;
                        n_candidates++;
                }
        }

        if (n_candidates > 0) {
                if (!in->prune) {
                        d.reason = PRUNE_REASON_DISABLED;
                        snprintf(d.message, sizeof(d.message),
                                 "prune is disabled: %zu %s no longer in the files %s kept",
                                 n_candidates, objects_word(n_candidates),
                                 n_candidates == 1 ? "is" : "are");
                } else if (!in->files_ok) {
                        d.reason = PRUNE_REASON_FILES_IN_ERROR;
                        snprintf(d.message, sizeof(d.message),
                                 "files in error: %zu %s no longer in the files %s not pruned",
                                 n_candidates, objects_word(n_candidates),
                                 n_candidates == 1 ? "is" : "are");
                } else if (!in->force && (double)n_candidates / (double)d.n_owned > max_fraction) {
                        d.reason = PRUNE_REASON_FRACTION_EXCEEDED;
                        fraction_message(d.message, sizeof(d.message), in->source, n_candidates,
                                         d.n_owned, max_fraction);
                }
        }
        for (size_t i = 0; i < in->n_live; i++) {
                if (actions[i] != PRUNE_ACTION_DELETE)
                        continue;
                if (d.reason != PRUNE_REASON_NONE) {
                        actions[i] = PRUNE_ACTION_WITHHELD;
                        d.n_withheld++;
                } else {
                        d.n_delete++;
                }
        }
        d.actions = TAKE_PTR(actions);
        d.n_actions = in->n_live;
        *ret = d;
        return 0;
}

void prune_decision_release(struct prune_decision *d)
{
        if (!d)
                return;
        free(d->actions);
        *d = (struct prune_decision){};
}

const char *prune_reason_to_string(enum prune_reason r)
{
        switch (r) {
        case PRUNE_REASON_DISABLED:
                return "Disabled";
        case PRUNE_REASON_FILES_IN_ERROR:
                return "FilesInError";
        case PRUNE_REASON_FRACTION_EXCEEDED:
                return "FractionExceeded";
        case PRUNE_REASON_NONE:
                break;
        }
        return "";
}

const char *prune_action_to_string(enum prune_action a)
{
        switch (a) {
        case PRUNE_ACTION_KEEP:
                return "keep";
        case PRUNE_ACTION_DELETE:
                return "delete";
        case PRUNE_ACTION_WITHHELD:
                return "withheld";
        case PRUNE_ACTION_KEEP_PROTECTED:
                return "protected";
        case PRUNE_ACTION_KEEP_NOT_OWNED:
                return "not owned";
        }
        return "";
}

/* ---- ownership -------------------------------------------------------- */

enum source_ownership source_ownership_check(const struct source_live_meta *live,
                                             const char *source)
{
        if (!live || !live->exists)
                return SOURCE_OWNERSHIP_APPLY;
        if (!live->owner || !*live->owner)
                return SOURCE_OWNERSHIP_CONFLICT_MANUAL;
        return streq(live->owner, source) ? SOURCE_OWNERSHIP_APPLY
                                          : SOURCE_OWNERSHIP_CONFLICT_OTHER;
}

const char *source_ownership_describe(enum source_ownership o, const char *owner, char *out,
                                      size_t out_size)
{
        if (!out || out_size == 0)
                return out;
        switch (o) {
        case SOURCE_OWNERSHIP_CONFLICT_MANUAL:
                snprintf(out, out_size, "by hand");
                break;
        case SOURCE_OWNERSHIP_CONFLICT_OTHER:
                snprintf(out, out_size, "source %s", str_or_empty(owner));
                break;
        default:
                out[0] = '\0';
        }
        return out;
}
