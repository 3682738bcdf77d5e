/* task-deps.c: which Tasks wait for which (spec.dependsOn), indexed both
 * ways, so that a Task's change finds its dependents without a scan of its
 * namespace (controller.c keeps it from the object cache's events).
 *
 * Two jansson objects used as hash maps, keyed "<ns>/<name>" (names hold no
 * '/'): what each Task depends on (an array of names, as its spec had it),
 * and for each name the Tasks of that namespace that depend on it (an
 * object used as a set). Only Tasks with a non-empty dependsOn appear.
 */
#include <pthread.h>

#include "controller-internal.h"

struct task_deps {
        pthread_mutex_t lock;
        json_t *depends_on; /* "ns/name" → ["dep", ...] */
        json_t *dependents; /* "ns/dep" → {"name": true, ...} */
};

struct task_deps *task_deps_new(void)
{
        struct task_deps *d = calloc(1, sizeof(*d));

        if (!d)
                return NULL;
        pthread_mutex_init(&d->lock, NULL);
        d->depends_on = json_object();
        d->dependents = json_object();
        if (!d->depends_on || !d->dependents) {
                task_deps_free(d);
                return NULL;
        }
        return d;
}

void task_deps_free(struct task_deps *d)
{
        if (!d)
                return;
        json_decref(d->depends_on);
        json_decref(d->dependents);
        pthread_mutex_destroy(&d->lock);
        free(d);
}

static char *key_of(const char *ns, const char *name)
{
        return str_printf("%s/%s", ns, name);
}

/* Caller holds lock. */
static void unlink_dependent(struct task_deps *d, const char *ns, const char *name,
                             const json_t *deps)
{
        size_t i;
        const json_t *dep;

        json_array_foreach(deps, i, dep)
        {
                _cleanup_free_ char *k = key_of(ns, json_string_value(dep));
                json_t *set = k ? json_object_get(d->dependents, k) : NULL;

                if (!set)
                        continue;
                json_object_del(set, name);
                if (json_object_size(set) == 0)
                        json_object_del(d->dependents, k);
        }
}

int task_deps_set(struct task_deps *d, const char *ns, const char *name, const json_t *depends_on)
{
        _cleanup_free_ char *self = key_of(ns, name);
        _cleanup_json_ json_t *want = json_array();
        size_t i;
        const json_t *dep;
        int r = 0;

        if (!self || !want)
                return -ENOMEM;
        json_array_foreach(depends_on, i, dep)
        {
                if (json_is_string(dep) && json_array_append(want, (json_t *)dep) < 0)
                        return -ENOMEM;
        }

        LOCK_SCOPE(&d->lock);
        json_t *have = json_object_get(d->depends_on, self);
        if (have ? json_equal(have, want) : json_array_size(want) == 0)
                return 0; /* the usual case: a status write, or no dependsOn at all */
        if (have) {
                unlink_dependent(d, ns, name, have);
                json_object_del(d->depends_on, self);
        }
        if (json_array_size(want) == 0)
                return 0;
        json_array_foreach(want, i, dep)
        {
                _cleanup_free_ char *k = key_of(ns, json_string_value(dep));
                json_t *set = k ? json_object_get(d->dependents, k) : NULL;

                if (k && !set && json_object_set_new(d->dependents, k, set = json_object()) < 0)
                        set = NULL;
                if (!set || json_object_set_new(set, name, json_true()) < 0)
                        r = -ENOMEM;
        }
        /* Recorded even after a failure, so that the next change can undo it. */
        if (json_object_set(d->depends_on, self, want) < 0)
                r = -ENOMEM;
        return r;
}

int task_deps_dependents(struct task_deps *d, const char *ns, const char *name, char ***ret)
{
        _cleanup_free_ char *k = key_of(ns, name);
        _cleanup_strv_ char **v = NULL;
        const char *dependent;
        json_t *value;
        size_t n = 0;

        if (!k)
                return -ENOMEM;
        LOCK_SCOPE(&d->lock);
        json_t *set = json_object_get(d->dependents, k);
        v = calloc(json_object_size(set) + 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        json_object_foreach(set, dependent, value)
        {
                v[n] = strdup(dependent);
                if (!v[n++])
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(v);
        return (int)n;
}
