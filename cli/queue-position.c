/* queue-position.c: where a queued Task stands, computed on read from the
 * objects with the controller's own ordering (runqueue_order): nothing is
 * written while the queue moves, and any replica can answer. */
#include "cli-internal.h"
#include "runqueue.h"

static bool is_queued(const json_t *task)
{
        size_t i;
        const json_t *c;

        if (!streq(json_path_string(task, "status.phase"), "Pending"))
                return false;
        json_array_foreach(json_path(task, "status.conditions"), i, c)
        {
                if (streq(json_path_string(c, "type"), "Queued"))
                        return streq(json_path_string(c, "status"), "True");
        }
        return false;
}

static int64_t created_ms(const json_t *o)
{
        int64_t ms = 0;
        const char *s = json_path_string(o, "metadata.creationTimestamp");

        return s && time_parse_rfc3339(s, &ms) == 0 ? ms : 0;
}

/* The namespace's entry of nss (added when missing), or NULL when full. */
static struct runqueue_ns *ns_entry(struct runqueue_ns *nss, size_t *n, size_t cap, const char *ns)
{
        for (size_t i = 0; i < *n; i++)
                if (streq(nss[i].ns, ns))
                        return &nss[i];
        if (*n >= cap)
                return NULL;
        nss[*n] = (struct runqueue_ns){.ns = ns};
        return &nss[(*n)++];
}

/* The Task's effective priority in its namespace's Queue (one of queues),
 * as admission computes it (queue_task_priority); -ENOENT when it names a
 * class that Queue does not define: it waits out of the order. */
static int priority_of(const json_t *task, const char *ns, const json_t *queues, int64_t *ret)
{
        const json_t *prio = json_path(task, "spec.priority");
        /* The two fields it reads: a stored Task is valid, decoding it all
         * would only cost. */
        const struct task_spec spec = {
            .priority_set = json_is_integer(prio),
            .priority = json_integer_value(prio),
            .priority_class_name = json_path_string(task, "spec.priorityClassName"),
        };
        struct queue_spec qs;
        bool has_queue = false;
        size_t i;
        const json_t *q;

        json_array_foreach(queues, i, q)
        {
                if (streq(json_path_string(q, "metadata.namespace"), ns) &&
                    streq(json_path_string(q, "metadata.name"), QUEUE_NAME)) {
                        has_queue = queue_spec_decode(q, &qs, NULL) == 0;
                        break;
                }
        }
        return queue_task_priority(has_queue ? &qs : NULL, &spec, ret);
}

int cli_queue_position(const json_t *tasks, const json_t *queues, const char *ns, const char *name,
                       struct cli_queue_position *ret)
{
        size_t n_tasks = json_array_size(tasks), n_q = json_array_size(queues);
        size_t cap = n_tasks + n_q + 1, n = 0, n_nss = 0, startable = 0, i;
        _cleanup_free_ struct runqueue_entry *e = calloc(cap, sizeof(*e));
        _cleanup_free_ struct runqueue_ns *nss = calloc(cap, sizeof(*nss));
        _cleanup_free_ size_t *order = NULL;
        const json_t *t;

        if (!e || !nss)
                return -ENOMEM;
        json_array_foreach(tasks, i, t)
        {
                const char *tns = json_path_string(t, "metadata.namespace");
                const char *tname = json_path_string(t, "metadata.name");
                int64_t prio;

                if (!tns || !tname)
                        continue;
                if (streq(json_path_string(t, "status.phase"), "Running")) {
                        struct runqueue_ns *s = ns_entry(nss, &n_nss, cap, tns);
                        if (s)
                                s->running++;
                        continue;
                }
                if (!is_queued(t) || priority_of(t, tns, queues, &prio) < 0)
                        continue;
                e[n++] = (struct runqueue_entry){
                    .ns = tns,
                    .name = tname,
                    .uid = json_path_string(t, "metadata.uid"),
                    .priority = prio,
                    .created_ms = created_ms(t),
                };
        }
        json_array_foreach(queues, i, t)
        {
                const char *qns = json_path_string(t, "metadata.namespace");
                const json_t *max = json_path(t, "spec.maxRunning");
                struct runqueue_ns *s;

                if (qns && streq(json_path_string(t, "metadata.name"), QUEUE_NAME) &&
                    json_is_integer(max) && (s = ns_entry(nss, &n_nss, cap, qns)))
                        s->limit = json_integer_value(max);
        }
        int r = runqueue_order(e, n, nss, n_nss, &order, &startable);
        if (r < 0)
                return r;
        for (size_t k = 0; k < n; k++) {
                const struct runqueue_entry *x = &e[order[k]];

                if (streq(x->ns, ns) && streq(x->name, name)) {
                        *ret = (struct cli_queue_position){
                            .position = k + 1,
                            .queued = n,
                            .blocked = k >= startable,
                        };
                        return 0;
                }
        }
        return -ENOENT;
}
