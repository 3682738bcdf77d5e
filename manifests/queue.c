/* queue.c: the Queue kind — how many Tasks of one namespace may run at
 * once (docs/reference/queue.md). Tasks beyond it stay Pending with
 * condition Queued and start in the runqueue's order (runqueue.h).
 *
 * A namespace has one Queue, named QUEUE_NAME: validation refuses other
 * names, so that no Queue is silently ignored. It has no reconciler: the
 * controller reads it from the object cache whenever it changes. */
#include "manifests-internal.h"

static const char *const queue_fields[] = {"maxRunning", NULL};

/* Checks a Queue spec and, when ret_spec is not NULL, decodes it. */
static void queue_check(struct check *c, const json_t *spec, void *ret_spec)
{
        struct queue_spec out = {0};

        check_unknown_fields(c, spec, "spec", queue_fields);
        out.max_running = check_int(c, spec, "spec", "maxRunning", 1, QUEUE_MAX_RUNNING_MAX, 0);
        if (!check_field(c, spec, "spec", "maxRunning", true))
                out.max_running = 0;
        if (c->object_name && !streq(c->object_name, QUEUE_NAME))
                check_error(c, "metadata.name",
                            "a namespace has one Queue, named \"%s\"; found \"%s\"", QUEUE_NAME,
                            c->object_name);
        if (ret_spec)
                *(struct queue_spec *)ret_spec = out;
}

int queue_spec_decode(const json_t *object, struct queue_spec *ret, struct berth_error *err)
{
        struct queue_spec s;
        int r = check_decode(&kind_queue, object, &s, err);

        if (r == 0)
                *ret = s;
        return r;
}

static void queue_defaults(json_t *spec)
{
        (void)spec; /* maxRunning is required */
}

static const struct printer_column queue_columns[] = {
    {.title = "MAX-RUNNING", .path = "spec.maxRunning", .format = COLUMN_INTEGER},
    {.title = "AGE", .path = "metadata.creationTimestamp", .format = COLUMN_AGE},
    {0},
};

const struct kind_info kind_queue = {
    .kind = "Queue",
    .resource = "queues",
    .singular = "queue",
    .namespaced = true,
    .columns = queue_columns,
    .check_spec = queue_check,
    .default_spec = queue_defaults,
};
