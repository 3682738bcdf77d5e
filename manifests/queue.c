/* queue.c: the Queue kind — how many Tasks of one namespace may run at
 * once, and the priorities its Tasks may take (docs/reference/queue.md).
 * Tasks beyond the limit stay Pending with condition Queued and start in
 * the runqueue's order (runqueue.h).
 *
 * A namespace has one Queue, named QUEUE_NAME: validation refuses other
 * names, so that no Queue is silently ignored. It has no reconciler: the
 * controller reads it from the object cache whenever it changes. */
#include "manifests-internal.h"

static const char *const queue_fields[] = {
    "maxRunning", "priorityClasses", "maxPriority", "defaultPriorityClassName", NULL,
};
static const char *const class_fields[] = {"name", "value", "description", NULL};

/* spec.priorityClasses: at most QUEUE_PRIORITY_CLASSES_MAX {name, value,
 * description?} with unique DNS-1123 names. */
static void check_classes(struct check *c, const json_t *spec, struct queue_spec *out)
{
        _cleanup_free_ char *list_path = NULL;
        _cleanup_json_ json_t *seen = NULL; /* name → first index */
        const json_t *arr = check_list(c, spec, "spec", "priorityClasses", &list_path, &seen);
        size_t i;
        json_t *item;

        if (!arr)
                return;
        if (json_array_size(arr) > QUEUE_PRIORITY_CLASSES_MAX) {
                check_error(c, list_path, "must have at most %d entries, has %zu",
                            QUEUE_PRIORITY_CLASSES_MAX, json_array_size(arr));
                return;
        }
        json_array_foreach(arr, i, item)
        {
                _cleanup_free_ char *path = check_index(c, list_path, i);
                struct queue_priority_class *pc = &out->classes[out->n_classes];

                if (!path)
                        return;
                if (!check_entry(c, item, path, class_fields))
                        continue;
                pc->name = check_name(c, item, path, "name", true);
                pc->value =
                    check_int(c, item, path, "value", TASK_PRIORITY_MIN, TASK_PRIORITY_MAX, 0);
                (void)check_field(c, item, path, "value", true);
                (void)check_string(c, item, path, "description", false);
                if (pc->name && check_unique(c, seen, pc->name, i, list_path, path, "name", "name"))
                        out->n_classes++;
        }
}

static const struct queue_priority_class *class_of(const struct queue_spec *q, const char *name)
{
        for (size_t i = 0; q && name && i < q->n_classes; i++)
                if (streq(q->classes[i].name, name))
                        return &q->classes[i];
        return NULL;
}

/* Checks a Queue spec and, when ret_spec is not NULL, decodes it. */
static void queue_check(struct check *c, const json_t *spec, void *ret_spec)
{
        struct queue_spec out = {0};
        bool max_running = check_field(c, spec, "spec", "maxRunning", false) != NULL;

        check_unknown_fields(c, spec, "spec", queue_fields);
        out.max_running = check_int(c, spec, "spec", "maxRunning", 1, QUEUE_MAX_RUNNING_MAX, 0);
        check_classes(c, spec, &out);
        out.max_priority_set = check_field(c, spec, "spec", "maxPriority", false) != NULL;
        out.max_priority = check_int(c, spec, "spec", "maxPriority", TASK_PRIORITY_MIN,
                                     TASK_PRIORITY_MAX, TASK_PRIORITY_MAX);
        if (!max_running && !out.max_priority_set &&
            !check_field(c, spec, "spec", "priorityClasses", false))
                check_error(c, "spec",
                            "set maxRunning, priorityClasses or maxPriority (a Queue with none "
                            "of them does nothing)");
        out.default_class = check_name(c, spec, "spec", "defaultPriorityClassName", false);
        if (out.default_class && !class_of(&out, out.default_class)) {
                check_error_key(c, "spec", "defaultPriorityClassName",
                                "\"%s\" is not one of spec.priorityClasses", out.default_class);
                out.default_class = NULL;
        }
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

int queue_task_priority(const struct queue_spec *queue, const struct task_spec *task, int64_t *ret)
{
        const struct queue_priority_class *pc;
        int64_t p = 0;

        if (task->priority_class_name) {
                pc = class_of(queue, task->priority_class_name);
                if (!pc)
                        return -ENOENT;
                p = pc->value;
        } else if (task->priority_set) {
                p = task->priority;
        } else if ((pc = class_of(queue, queue ? queue->default_class : NULL))) {
                p = pc->value;
        }
        if (queue && queue->max_priority_set && p > queue->max_priority)
                p = queue->max_priority;
        *ret = p;
        return 0;
}

static void queue_defaults(json_t *spec)
{
        (void)spec; /* an absent maxRunning is no limit; no field has a default */
}

static const struct printer_column queue_columns[] = {
    {.title = "MAX-RUNNING",
     .path = "spec.maxRunning",
     .format = COLUMN_INTEGER,
     .fallback = "<none>"},
    {.title = "MAX-PRIORITY",
     .path = "spec.maxPriority",
     .format = COLUMN_INTEGER,
     .fallback = "<none>"},
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
