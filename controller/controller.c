/* controller: informers → workqueue → worker pool.
 *
 * The caches' handlers only enqueue keys (they run on the caches' threads and
 * must not block): a changed object's own key and its owners' (a Workflow
 * hears of its Tasks), the Workflow that deployed a changed Service, and the
 * owner of a changed container. Workers take one
 * key at a time, run the kind's reconciler with their own Docker client, and
 * requeue with a timer or backoff. A resync thread enqueues every object
 * periodically as a safety net for lost events.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "controller-internal.h"
#include "builder.h"
#include "events.h"
#include "metrics.h"
#include "probe.h"
#include "reconciler.h"
#include "runqueue.h"

#define CONTROLLER_SYNC_TIMEOUT_MS   30000
#define CONTROLLER_DEFAULT_WORKERS   8
#define CONTROLLER_MAX_WORKERS       1024
#define CONTROLLER_DEFAULT_RESYNC_MS (10 * 60 * 1000)
#define CONTROLLER_PROBES_IN_FLIGHT  64 /* http/tcp health checks running at once */
/* A reconcile that failed because the engine does not answer is retried
 * this late at the latest (the engine's recovery enqueues it at once). */
#define ENGINE_RETRY_MS 30000

struct worker {
        struct controller *c;
        struct workqueue *queue; /* of the run this worker belongs to */
        struct docker *docker;   /* this worker's own client */
        struct reconcile_ctx ctx;
        pthread_t thread;
        bool started;
};

struct controller {
        struct store *store;
        struct docker *docker; /* template, borrowed */
        char *prefix;
        int n_workers_wanted;
        int64_t resync_ms;
        int64_t compact_ms; /* <= 0: never */
        struct object_cache *objects;
        struct task_deps *task_deps; /* fed by on_object_event, before the cache starts */
        struct container_cache *containers;
        struct prober *prober; /* Services' http and tcp health checks */
        struct source_watches *source_watches;
        const char *const *source_roots;
        size_t n_source_roots;
        const char *const *build_roots;
        size_t n_build_roots;
        struct builder *builder;                        /* Workflow build steps' image builds */
        struct exec_runner *execs;                      /* docker-exec Tasks' commands */
        const struct plugin_executor *plugin_executors; /* borrowed */
        size_t n_plugin_executors;
        const struct admission_policy *admission;
        const struct secrets_keyring *secrets;
        const char *secrets_dir;
        const char *secrets_dir_error;
        struct events_recorder *events;
        /* Tasks' run slots; rebuilt from the caches whenever the workers
         * start, Queue limits kept current by the object cache's handler. */
        struct runqueue *runqueue;
        char cluster[40];    /* the store's identity; labels berth.cluster on containers */
        bool engine_watched; /* on_engine is a watcher of the docker engine tracker */

        /* qlock guards queue: the caches' handlers enqueue from their own threads
         * while leadership starts and stops the workers. NULL while stopped: events
         * are dropped, and the next start enqueues everything anyway. */
        pthread_mutex_t qlock;
        struct workqueue *queue;

        /* The running workers; owned by the thread that starts and stops them. */
        bool running;
        struct workqueue *run_queue;
        struct worker *workers;
        size_t n_workers;
        char *fence_key;
        struct store_guard fence;
        atomic_bool stopping; /* set before workers' Docker calls are interrupted */

        struct clock_watch *clock_watch; /* the leader's: wall-clock jumps resync */
        pthread_mutex_t resync_lock;
        pthread_cond_t resync_cond;
        bool resync_stop;
        bool resync_started;
        pthread_t resync_thread;
};

/* Every store has an identity, created by the first berthd that uses it and
 * shared by all replicas on it. Containers carry it as label berth.cluster, and
 * each berthd watches only its own cluster's containers: two berthd with
 * separate stores on one Docker engine never garbage-collect each other's. */
static int load_cluster_id(struct store *store, const char *prefix, char ret[40],
                           struct berth_error *err)
{
        _cleanup_free_ char *key = str_printf("%s%s", prefix, CONTROLLER_CLUSTER_KEY);
        if (!key)
                return berth_error_set(err, -ENOMEM, "out of memory");
        for (int attempt = 0; attempt < 3; attempt++) {
                struct store_kv kv = {0};
                int r = store_get(store, key, &kv, err);
                if (r == 0) {
                        _cleanup_json_ json_t *j = json_loads(kv.value, 0, NULL);
                        store_kv_release(&kv);
                        const char *uid = json_path_string(j, "uid");
                        if (!uid || str_copy(ret, 40, uid) < 0)
                                return berth_error_set(err, -EINVAL, "%s: no valid uid", key);
                        return 0;
                }
                if (r != -ENOENT)
                        return r;
                char uid[RANDOM_UID_LEN];
                r = random_uid(uid);
                if (r < 0)
                        return berth_error_set(err, r, "getrandom: %s", strerror(-r));
                _cleanup_free_ char *value = str_printf("{\"uid\":\"%s\"}", uid);
                if (!value)
                        return berth_error_set(err, -ENOMEM, "out of memory");
                r = store_put(store, key, value, strlen(value), STORE_MUST_NOT_EXIST, 0, NULL, err);
                if (r < 0 && r != -ESTALE) /* -ESTALE: another replica won; read theirs */
                        return r;
        }
        return berth_error_set(err, -EAGAIN, "%s: could not be created", key);
}

const char *controller_cluster_id(struct controller *c)
{
        return c->cluster;
}

/* The kind of a resource that has a reconciler (keys of other resources are
 * ignored), or NULL. */
static const struct kind_info *reconciled_kind(const char *resource)
{
        const struct kind_info *k = kind_lookup(resource);

        return k && streq(k->resource, resource) && reconciler_handles(k) ? k : NULL;
}

static void enqueue(struct controller *c, const char *key)
{
        pthread_mutex_lock(&c->qlock);
        if (c->queue)
                workqueue_add(c->queue, key);
        pthread_mutex_unlock(&c->qlock);
}

static void enqueue_object(struct controller *c, const char *resource, const char *ns,
                           const char *name)
{
        if (!reconciled_kind(resource))
                return;
        _cleanup_free_ char *key = object_key(c->prefix, resource, ns, name);
        if (key)
                enqueue(c, key);
}

/* A change of an owned object (a Workflow's Task) concerns its owner too:
 * its ownerReferences, from the cached object's summary. */
static void enqueue_owners_blob(struct controller *c, const struct object_blob *b, const char *ns)
{
        const char *p = b->owners;
        for (unsigned i = 0; i < b->n_owners; i++) {
                const char *kind = p, *name = kind + strlen(kind) + 1;
                const char *uid = name + strlen(name) + 1;
                const struct kind_info *k = kind_lookup(kind);
                if (k && *name)
                        enqueue_object(c, k->resource, ns, name);
                p = uid + strlen(uid) + 1;
        }
}

/* Enqueues the object of kind named "<ns>/<name>" by obj's annotation: a
 * Service written by a Workflow's deploy step names that Workflow (it
 * follows the rollout), an object applied by a Source names the Source. */
static void enqueue_named_by(struct controller *c, const json_t *obj, const char *annotation,
                             const char *kind)
{
        const char *by =
            json_string_value(json_object_get(json_path(obj, "metadata.annotations"), annotation));
        const char *slash = by ? strchr(by, '/') : NULL;
        char ns[64];

        if (!slash || slash == by || (size_t)(slash - by) >= sizeof(ns) || !slash[1])
                return;
        memcpy(ns, by, (size_t)(slash - by));
        ns[slash - by] = '\0';
        if (!name_is_valid(ns) || !name_is_valid(slash + 1))
                return;
        enqueue_object(c, kind_by_name(kind)->resource, ns, slash + 1);
}

/* A Task's change concerns the Tasks of its namespace waiting for it
 * (spec.dependsOn names it), which the index knows: no scan of the
 * namespace (that scan, per Task event, made n Tasks cost O(n^2)). */
static void enqueue_dependents(struct controller *c, const char *ns, const char *name)
{
        /* Before the start nothing is queued: the start enqueues everything. */
        pthread_mutex_lock(&c->qlock);
        bool started = c->queue != NULL;
        pthread_mutex_unlock(&c->qlock);
        if (!started)
                return;

        _cleanup_strv_ char **dependents = NULL;
        if (task_deps_dependents(c->task_deps, ns, name, &dependents) < 0)
                return; /* out of memory: the resync enqueues them */
        for (char **d = dependents; *d; d++)
                enqueue_object(c, kind_by_name("Task")->resource, ns, *d);
}

/* Whether a Task spec (or a Service template) at spec takes anything from
 * the Secret named name: env valueFrom.secretKeyRef, or a secret volume. */
static bool uses_secret(const json_t *spec, const char *name)
{
        size_t i;
        const json_t *item;

        json_array_foreach(json_object_get(spec, "env"), i, item)
        {
                if (streq(json_path_string(item, "valueFrom.secretKeyRef.name"), name))
                        return true;
        }
        json_array_foreach(json_object_get(spec, "volumes"), i, item)
        {
                if (streq(json_string_value(json_object_get(item, "secret")), name))
                        return true;
        }
        return false;
}

/* A Secret appeared or changed: the Tasks of its namespace that wait for it
 * (CreateContainerConfigError) may start now, and Services may re-create a
 * replica that failed for it. Finished Tasks never start again: skipped.
 * Cost: a scan of the namespace's cached Tasks and Services per Secret
 * event; Secrets change rarely. */
static void enqueue_secret_users(struct controller *c, const char *ns, const char *name)
{
        static const struct {
                const char *kind, *spec;
        } users[] = {{"Task", "spec"}, {"Service", "spec.template"}};

        pthread_mutex_lock(&c->qlock);
        bool started = c->queue != NULL;
        pthread_mutex_unlock(&c->qlock);
        if (!started)
                return;
        for (size_t u = 0; u < ARRAY_SIZE(users); u++) {
                const char *resource = kind_by_name(users[u].kind)->resource;
                _cleanup_free_ char *prefix = object_key(c->prefix, resource, ns, "");
                const struct object_blob **v = NULL;
                size_t n = 0;

                if (!prefix || object_cache_list_blobs(c->objects, prefix, &v, &n, NULL) < 0)
                        continue;
                for (size_t i = 0; i < n; i++) {
                        /* Finished ones are skipped on the summary, unparsed. */
                        if (!*v[i]->name || streq(v[i]->phase, "Succeeded") ||
                            streq(v[i]->phase, "Failed"))
                                continue;
                        _cleanup_json_ json_t *obj = object_blob_parse(v[i]);
                        if (uses_secret(json_path(obj, users[u].spec), name))
                                enqueue_object(c, resource, ns, v[i]->name);
                }
                object_blobs_release(v, n);
        }
}

static bool differ(const json_t *a, const json_t *b)
{
        return a && b ? !json_equal(a, b) : a != b;
}

/* Whether a change touched what a user owns (not only the status). */
static bool user_fields_changed(const struct object_event *ev)
{
        static const char *const paths[] = {"spec", "metadata.labels", "metadata.annotations",
                                            "metadata.deletionTimestamp"};

        if (ev->type != OBJECT_MODIFIED || !ev->prev_blob)
                return true;
        const json_t *obj = object_event_object(ev), *prev = object_event_prev(ev);
        if (!obj || !prev)
                return true; /* out of memory: err on the side of a reconcile */
        for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
                if (differ(json_path(obj, paths[i]), json_path(prev, paths[i])))
                        return true;
        return false;
}

/* Whether b's bytes hold the string key in quotes: when not, the object
 * cannot carry an annotation of that name, and no tree is needed to know. */
static bool blob_mentions(const struct object_blob *b, const char *key)
{
        char quoted[128];
        int n = snprintf(quoted, sizeof(quoted), "\"%s\"", key);

        return n < 0 || (size_t)n >= sizeof(quoted) || memmem(b->json, b->len, quoted, (size_t)n);
}

/* The limit a namespace's Queue object sets (0: none; an invalid one,
 * stored past validation, sets none either). */
static int64_t queue_limit_of(const json_t *obj)
{
        struct queue_spec spec;

        if (!obj || queue_spec_decode(obj, &spec, NULL) < 0)
                return 0;
        return spec.max_running;
}

/* A namespace's Queue changed: its Pending Tasks reconcile again, so that
 * those queued take the priorities it now gives (runqueue_acquire updates
 * them) and those naming a class it did not define are looked at again.
 * On the summaries: nothing is parsed; Queue changes are rare. */
static void enqueue_pending_tasks(struct controller *c, const char *ns)
{
        const char *tasks = kind_by_name("Task")->resource;
        _cleanup_free_ char *prefix = str_printf("%s%s/%s/", c->prefix, tasks, ns);
        const struct object_blob **v = NULL;
        size_t n = 0;

        if (!prefix || object_cache_list_blobs(c->objects, prefix, &v, &n, NULL) < 0)
                return;
        for (size_t i = 0; i < n; i++)
                if (*v[i]->name && streq(v[i]->phase, "Pending"))
                        enqueue_object(c, tasks, ns, v[i]->name);
        object_blobs_release(v, n);
}

static void on_object_event(const struct object_event *ev, void *userdata)
{
        struct controller *c = userdata;
        char resource[64], ns[64], name[64];

        if (object_key_parse(c->prefix, ev->key, resource, ns, name) < 0)
                return;
        if (streq(resource, kind_by_name("Queue")->resource) && streq(name, QUEUE_NAME) &&
            c->runqueue) {
                int64_t limit =
                    ev->type == OBJECT_DELETED ? 0 : queue_limit_of(object_event_object(ev));
                if (runqueue_set_limit(c->runqueue, ns, limit) < 0)
                        log_warn("cannot set the run limit of namespace %s: out of memory", ns);
                if (user_fields_changed(ev))
                        enqueue_pending_tasks(c, ns);
        }
        /* A Source's own status write needs no sync (a sync is a full scan). */
        if (reconciled_kind(resource) &&
            (!streq(resource, kind_by_name("Source")->resource) || user_fields_changed(ev)))
                enqueue(c, ev->key);
        /* From the summaries where they suffice: most changes are status
         * writes of Tasks, and need no tree. */
        enqueue_owners_blob(c, ev->blob, ns);
        bool task = streq(resource, kind_by_name("Task")->resource);
        if (task)
                (void)task_deps_set(c->task_deps, ns, name,
                                    ev->type == OBJECT_DELETED || ev->blob->n_depends_on == 0
                                        ? NULL
                                        : json_path(object_event_object(ev), "spec.dependsOn"));
        /* Dependents care only about a Task appearing, going or changing phase. */
        if (task && (ev->type != OBJECT_MODIFIED || !ev->prev_blob ||
                     (ev->blob->phase != ev->prev_blob->phase &&
                      !streq(ev->blob->phase, ev->prev_blob->phase))))
                enqueue_dependents(c, ns, name);
        if (streq(resource, kind_by_name("Secret")->resource) && ev->type != OBJECT_DELETED)
                enqueue_secret_users(c, ns, name);
        if (streq(resource, kind_by_name("Service")->resource)) {
                /* The deployer before the change too: a later one replaced it,
                 * or an apply dropped the annotation. */
                enqueue_named_by(c, object_event_object(ev), SERVICE_ANNOTATION_DEPLOYED_BY,
                                 "Workflow");
                if (ev->prev_blob)
                        enqueue_named_by(c, object_event_prev(ev), SERVICE_ANNOTATION_DEPLOYED_BY,
                                         "Workflow");
        }
        /* Drift: what a Source applied was changed (or deleted) through the
         * API; its status changing is no drift, and a new object carrying
         * the Source's marks is the Source's own apply. */
        if (ev->type != OBJECT_ADDED && blob_mentions(ev->blob, SOURCE_ANNOTATION) &&
            user_fields_changed(ev))
                enqueue_named_by(c, object_event_object(ev), SOURCE_ANNOTATION, "Source");
}

/* Events (three per Task run) ask nothing of the controller: the cache
 * need not parse them for on_object_event. (An Event a Source applied and
 * someone then changed is put back at the Source's next sync, not at once:
 * drift is not watched for Events.) */
static bool wants_object(const char *key, void *userdata)
{
        const struct controller *c = userdata;
        char resource[64], ns[64], name[64];

        return object_key_parse(c->prefix, key, resource, ns, name) < 0 ||
               !streq(resource, kind_by_name("Event")->resource);
}

/* Enqueues the key of the object owning a container. The owner may be gone:
 * its reconciler then removes the container (garbage collection). */
static void enqueue_owner(struct controller *c, const struct container_info *ci)
{
        const struct kind_info *k = kind_lookup(ci->kind);
        if (k && ci->ns[0] && ci->owner[0])
                enqueue_object(c, k->resource, ci->ns, ci->owner);
}

static void on_container_event(const struct container_info *ci, bool removed _unused_,
                               void *userdata)
{
        enqueue_owner(userdata, ci);
}

static void enqueue_key(void *userdata, const char *key)
{
        enqueue(userdata, key);
}

/* The run queue on /metrics (the counts are read without its lock: this
 * runs on the API's loop). */
static void collect_runqueue(struct metrics_writer *w, void *userdata)
{
        struct runqueue *q = userdata;

        metrics_write_family(w, "berth_tasks_running",
                             "Tasks holding a run slot (--max-running, Queues): from just "
                             "before their first container until they finished.",
                             METRICS_GAUGE);
        metrics_write_sample(w, "berth_tasks_running", NULL, (double)runqueue_running(q));
        metrics_write_family(w, "berth_tasks_queued",
                             "Tasks waiting for a run slot (Pending, condition Queued).",
                             METRICS_GAUGE);
        metrics_write_sample(w, "berth_tasks_queued", NULL, (double)runqueue_queued(q));
        metrics_write_family(w, "berth_tasks_max_running", "berthd --max-running (0: no limit).",
                             METRICS_GAUGE);
        metrics_write_sample(w, "berth_tasks_max_running", NULL, (double)runqueue_max_running(q));
}

/* A run slot is free for this queued Task: its reconcile takes it. */
static void on_runqueue_wake(void *userdata, const char *ns, const char *name)
{
        enqueue_object(userdata, kind_by_name("Task")->resource, ns, name);
}

static int64_t created_ms(const json_t *obj)
{
        int64_t ms = 0;
        const char *s = json_path_string(obj, "metadata.creationTimestamp");

        return s && time_parse_rfc3339(s, &ms) == 0 ? ms : 0;
}

static bool container_holds_slot(enum docker_state s)
{
        return s == DOCKER_STATE_CREATED || s == DOCKER_STATE_RUNNING || s == DOCKER_STATE_PAUSED ||
               s == DOCKER_STATE_RESTARTING;
}

/* The Queue of the namespace last asked for, decoded (its strings are
 * those of obj): Tasks come in key order, a namespace's together. */
struct ns_queue {
        char ns[64];
        json_t *obj; /* NULL: the namespace has none (or an invalid one) */
        struct queue_spec spec;
};

static void ns_queue_release(struct ns_queue *nq)
{
        json_decref(nq->obj);
        *nq = (struct ns_queue){0};
}

/* ns's Queue, from the cache (or nq when it holds ns's already); NULL when
 * there is none. Borrowed from nq. */
static const struct queue_spec *queue_of(struct controller *c, const char *ns, struct ns_queue *nq)
{
        if (!nq->ns[0] || !streq(nq->ns, ns)) {
                ns_queue_release(nq);
                _cleanup_free_ char *key =
                    object_key(c->prefix, kind_by_name("Queue")->resource, ns, QUEUE_NAME);
                nq->obj = key ? object_cache_get(c->objects, key, NULL) : NULL;
                if (nq->obj && queue_spec_decode(nq->obj, &nq->spec, NULL) < 0) {
                        json_decref(nq->obj);
                        nq->obj = NULL;
                }
                snprintf(nq->ns, sizeof(nq->ns), "%s", ns);
        }
        return nq->obj ? &nq->spec : NULL;
}

/* Who holds run slots, rebuilt from the caches before the workers start
 * (at start, and when this replica becomes the leader: what the previous
 * one admitted is running or Running): a Task with a live container, and
 * a Task whose status is Running (between attempts too); a Task whose
 * condition Queued is True waits in the queue again, so that the order,
 * not the workers' pick, decides who starts first; the Queues' limits.
 * Returns the number of slots held. */
static size_t rebuild_runqueue(struct controller *c)
{
        struct runqueue *q = c->runqueue;
        _cleanup_(ns_queue_release) struct ns_queue nsq = {0};
        _cleanup_free_ struct container_info *all = NULL;
        int n = container_cache_all(c->containers, &all);
        size_t i;
        json_t *obj;

        runqueue_reset(q);
        for (int k = 0; k < n; k++)
                if (streq(all[k].kind, "Task") && container_holds_slot(all[k].state))
                        (void)runqueue_hold(q, all[k].ns, all[k].owner);

        /* On the summaries: only Pending Tasks are parsed (finished ones,
         * most of a large store, never are). */
        _cleanup_free_ char *tasks = str_printf("%s%s/", c->prefix, kind_by_name("Task")->resource);
        const struct object_blob **v = NULL;
        size_t nv = 0;
        if (tasks && object_cache_list_blobs(c->objects, tasks, &v, &nv, NULL) < 0)
                nv = 0;
        for (size_t b = 0; b < nv; b++) {
                if (!*v[b]->ns || !*v[b]->name)
                        continue;
                if (streq(v[b]->phase, "Running")) {
                        (void)runqueue_hold(q, v[b]->ns, v[b]->name);
                        continue;
                }
                if (!streq(v[b]->phase, "Pending"))
                        continue;
                _cleanup_json_ json_t *task = object_blob_parse(v[b]);
                const json_t *conds = json_path(task, "status.conditions");
                size_t k;
                const json_t *cond;
                bool queued = false;

                json_array_foreach(conds, k, cond)
                {
                        queued = queued || (streq(json_path_string(cond, "type"), "Queued") &&
                                            streq(json_path_string(cond, "status"), "True"));
                }
                if (!queued)
                        continue;
                struct task_spec spec;
                int64_t priority = 0;
                if (task_spec_decode(task, &spec, NULL) == 0) {
                        int r = queue_task_priority(queue_of(c, v[b]->ns, &nsq), &spec, &priority);
                        task_spec_release(&spec);
                        if (r < 0) /* its class is unknown: it waits out of the queue */
                                continue;
                }
                const struct runqueue_entry e = {
                    .ns = v[b]->ns,
                    .name = v[b]->name,
                    .uid = v[b]->uid,
                    .priority = priority,
                    .created_ms = created_ms(task),
                };
                (void)runqueue_enqueue(q, &e);
        }
        object_blobs_release(v, nv);

        _cleanup_free_ char *queues =
            str_printf("%s%s/", c->prefix, kind_by_name("Queue")->resource);
        _cleanup_json_ json_t *qlist = queues ? object_cache_list(c->objects, queues, NULL) : NULL;
        json_array_foreach(qlist, i, obj)
        {
                const char *ns = json_path_string(obj, "metadata.namespace");
                if (ns && streq(json_path_string(obj, "metadata.name"), QUEUE_NAME))
                        (void)runqueue_set_limit(q, ns, queue_limit_of(obj));
        }
        return runqueue_running(q);
}

/* A replica's health changed: its Service's key. */
/* The prober's and the builder's word: something of owner_key changed. */
static void on_owner_change(const char *owner_key, void *userdata)
{
        enqueue_key(userdata, owner_key);
}

/* Enqueues every cached object of every reconciled resource; returns the count. */
static size_t enqueue_all_objects(struct controller *c)
{
        size_t n = 0;
        for (const struct kind_info *const *k = kind_all(); *k; k++) {
                if (!reconciler_handles(*k))
                        continue;
                _cleanup_free_ char *prefix = str_printf("%s%s/", c->prefix, (*k)->resource);
                if (!prefix)
                        continue;
                /* On the summaries: starting with many objects parses none. */
                const struct object_blob **v = NULL;
                size_t nv = 0;
                if (object_cache_list_blobs(c->objects, prefix, &v, &nv, NULL) < 0)
                        continue;
                for (size_t idx = 0; idx < nv; idx++) {
                        const struct object_blob *b = v[idx];
                        const char *ns = *b->ns ? b->ns : "default";
                        if (!*b->name)
                                continue;
                        _cleanup_free_ char *key =
                            object_key(c->prefix, (*k)->resource, ns, b->name);
                        if (!key)
                                continue;
                        enqueue(c, key);
                        enqueue_owners_blob(c, b, ns);
                        n++;
                }
                object_blobs_release(v, nv);
        }
        return n;
}

/* Enqueues the owner of every container; returns the number of containers. */
static size_t enqueue_all_owners(struct controller *c)
{
        _cleanup_free_ struct container_info *all = NULL;
        int n = container_cache_all(c->containers, &all);
        for (int i = 0; i < n; i++)
                enqueue_owner(c, &all[i]);
        return n > 0 ? (size_t)n : 0;
}

/* The engine tracker's word (docker.h), on its thread: one log line per
 * change and per minute of an outage; when the engine answers again, every
 * object is looked at at once (their reconciles failed fast meanwhile, and
 * each waits for a timer of ENGINE_RETRY_MS otherwise). */
static void on_engine(const struct docker_engine_status *st, bool changed, void *userdata)
{
        struct controller *c = userdata;

        switch (st->state) {
        case DOCKER_ENGINE_UNRESPONSIVE:
                log_error("%s: docker calls fail at once until it answers in_flight=%d "
                          "oldest_call=%llds",
                          st->reason, st->in_flight, (long long)(st->oldest_call_ms / 1000));
                return;
        case DOCKER_ENGINE_RECOVERING:
                if (changed)
                        log_warn("%s: one call at a time until one is answered", st->reason);
                break;
        case DOCKER_ENGINE_UP:
                if (changed)
                        log_info("docker engine answers again url=%s in_flight_limit=%d",
                                 docker_url(c->docker), st->limit);
                break;
        }
        if (changed)
                enqueue_all_objects(c);
}

static void process_key(struct worker *w, const char *key)
{
        struct controller *c = w->c;
        struct workqueue *q = w->queue;
        char resource[64], ns[64], name[64];

        const struct kind_info *kind = NULL;
        if (object_key_parse(c->prefix, key, resource, ns, name) == 0)
                kind = reconciled_kind(resource);
        if (!kind) {
                workqueue_forget(q, key);
                return;
        }

        struct berth_error err;
        berth_error_clear(&err);
        int64_t requeue_ms = -1;
        int64_t start = time_mono_ms();
        int r = reconcile(&w->ctx, kind, key, &requeue_ms, &err);
        int64_t took = time_mono_ms() - start;

        if (r == 0) {
                workqueue_forget(q, key);
                if (requeue_ms >= 0)
                        workqueue_add_after(q, key, requeue_ms);
                log_debug("reconciled key=%s duration=%lldms requeue=%lldms", key, (long long)took,
                          (long long)requeue_ms);
                return;
        }

        /* -ESTALE: the object changed under us (CAS lost). Retry at once; the
         * backoff starts at 5 ms, so only a hot loop is slowed down. */
        int retries = workqueue_retries(q, key);
        if (atomic_load(&c->stopping)) {
                /* Interrupted by controller_stop_workers (Docker calls say -EINTR,
                 * a fenced write -EPERM): whoever runs the workers next resumes. */
                log_debug("reconcile stopped: %s key=%s",
                          err.message[0] ? err.message : strerror(-r), key);
                return;
        }
        if (r == -EHOSTDOWN) {
                /* The engine does not answer: the tracker logs that once a
                 * minute, and enqueues everything when it answers again. */
                log_debug("reconcile waits for the docker engine: %s key=%s", err.message, key);
                workqueue_add_after(q, key, ENGINE_RETRY_MS);
                return;
        }
        if (r == -EPERM && w->ctx.fence) {
                /* Fenced off: another replica leads now; the elector stops us soon. */
                log_debug("reconcile fenced off: %s key=%s", err.message, key);
                workqueue_add_rate_limited(q, key);
                return;
        }
        if (r == -ESTALE)
                log_debug("reconcile conflict, retrying key=%s duration=%lldms retries=%d", key,
                          (long long)took, retries);
        else
                log_warn("reconcile failed: %s key=%s retries=%d",
                         err.message[0] ? err.message : strerror(-r), key, retries);
        workqueue_add_rate_limited(q, key);
}

static void *worker_main(void *userdata)
{
        struct worker *w = userdata;
        for (;;) {
                char *key = NULL;
                int r = workqueue_get(w->queue, &key);
                if (r == -ESHUTDOWN)
                        break;
                if (r < 0) {
                        /* Out of memory: back off instead of spinning. */
                        struct timespec ts = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
                        nanosleep(&ts, NULL);
                        continue;
                }
                process_key(w, key);
                workqueue_done(w->queue, key);
                free(key);
        }
        return NULL;
}

/* Forgets store history older than one compaction interval, like the
 * Kubernetes API server: each round compacts at the revision seen one round
 * earlier, so every watcher has at least a whole interval to catch up (one
 * that falls further behind relists). Without it the SQLite log only grows. */
static void compact_round(struct controller *c, int64_t *target)
{
        struct berth_error err = {0};
        if (*target > 0) {
                int r = store_compact(c->store, *target, &err);
                if (r < 0)
                        log_warn("compaction failed: %s revision=%" PRId64, err.message, *target);
                else
                        log_debug("compacted revision=%" PRId64, *target);
        }
        if (store_revision(c->store, target, &err) < 0)
                *target = 0;
}

/* The maintenance thread of the leader: a full resync every resync_ms (a
 * safety net for lost events) and store compaction every compact_ms. */
static void *resync_main(void *userdata)
{
        struct controller *c = userdata;
        int64_t compact_target = 0;
        int64_t now = time_mono_ms();
        int64_t next_resync = now + c->resync_ms;
        int64_t next_compact = c->compact_ms > 0 ? now : INT64_MAX;

        pthread_mutex_lock(&c->resync_lock);
        while (!c->resync_stop) {
                int64_t next = next_resync < next_compact ? next_resync : next_compact;
                struct timespec ts;
                time_mono_deadline(&ts, next - time_mono_ms());
                int r = 0;
                while (!c->resync_stop && r != ETIMEDOUT)
                        r = pthread_cond_timedwait(&c->resync_cond, &c->resync_lock, &ts);
                if (c->resync_stop)
                        break;
                pthread_mutex_unlock(&c->resync_lock);
                now = time_mono_ms();
                if (now >= next_resync) {
                        size_t n = enqueue_all_objects(c);
                        log_debug("resync objects=%zu", n);
                        next_resync = now + c->resync_ms;
                }
                if (now >= next_compact) {
                        compact_round(c, &compact_target);
                        next_compact = now + c->compact_ms;
                }
                pthread_mutex_lock(&c->resync_lock);
        }
        pthread_mutex_unlock(&c->resync_lock);
        return NULL;
}

/* The wall clock was set: every delay computed from wall time (schedules,
 * TTLs, deadlines) is off. Reconciling everything computes them again. */
static void on_clock_set(void *userdata)
{
        struct controller *c = userdata;
        size_t n = enqueue_all_objects(c);

        log_info("wall clock was set, rescheduling objects=%zu", n);
}

static int resync_start(struct controller *c)
{
        int r = cond_init_monotonic(&c->resync_cond);
        if (r < 0)
                return r;
        r = pthread_mutex_init(&c->resync_lock, NULL);
        if (r != 0) {
                pthread_cond_destroy(&c->resync_cond);
                return -r;
        }
        c->resync_stop = false;
        r = pthread_create(&c->resync_thread, NULL, resync_main, c);
        if (r != 0) {
                pthread_mutex_destroy(&c->resync_lock);
                pthread_cond_destroy(&c->resync_cond);
                return -r;
        }
        c->resync_started = true;
        r = clock_watch_start(on_clock_set, c, &c->clock_watch);
        if (r < 0) /* a safety net like the resync: without it, the resync catches up */
                log_warn("cannot watch for wall clock changes: %s", strerror(-r));
        return 0;
}

static void resync_stop(struct controller *c)
{
        if (!c->resync_started)
                return;
        clock_watch_stop(c->clock_watch);
        c->clock_watch = NULL;
        pthread_mutex_lock(&c->resync_lock);
        c->resync_stop = true;
        pthread_cond_signal(&c->resync_cond);
        pthread_mutex_unlock(&c->resync_lock);
        pthread_join(c->resync_thread, NULL);
        pthread_mutex_destroy(&c->resync_lock);
        pthread_cond_destroy(&c->resync_cond);
        c->resync_started = false;
}

/* exec_keep_fn: the Task of that uid is cached (uids: uid → key). */
static bool exec_logs_keep(const char *uid, char *key, size_t key_size, void *userdata)
{
        const char *k = json_string_value(json_object_get(userdata, uid));

        return k && str_copy(key, key_size, k) == 0;
}

/* Removes the output files of docker-exec Tasks no longer cached; the
 * count removed. */
static size_t collect_exec_logs(struct controller *c)
{
        _cleanup_free_ char *prefix = str_printf("%stasks/", c->prefix);
        _cleanup_json_ json_t *uids = json_object();
        const struct object_blob **v = NULL;
        size_t n = 0, removed = 0;
        struct berth_error err = {0};
        int r =
            prefix && uids ? object_cache_list_blobs(c->objects, prefix, &v, &n, NULL) : -ENOMEM;

        for (size_t i = 0; r == 0 && i < n; i++) {
                _cleanup_free_ char *key = object_key(c->prefix, "tasks", v[i]->ns, v[i]->name);
                if (!key || json_object_set_new(uids, v[i]->uid, json_string(key)) < 0)
                        r = -ENOMEM;
        }
        object_blobs_release(v, n);
        if (r < 0)
                log_warn("cannot remove orphaned docker-exec output: out of memory");
        else if (exec_runner_collect(c->execs, exec_logs_keep, uids, &removed, &err) < 0)
                log_warn("cannot remove orphaned docker-exec output: %s", err.message);
        return removed;
}

int controller_start_workers(struct controller *c, const struct store_guard *fence,
                             struct berth_error *err)
{
        if (c->running)
                return berth_error_set(err, -EALREADY, "controller workers already run");
        int r;
        c->workers = calloc(c->n_workers_wanted, sizeof(*c->workers));
        if (!c->workers)
                return berth_error_set(err, -ENOMEM, "out of memory");
        c->running = true; /* from here on, controller_stop_workers unwinds */
        atomic_store(&c->stopping, false);
        if (fence) {
                c->fence_key = strdup(fence->key);
                if (!c->fence_key) {
                        r = berth_error_set(err, -ENOMEM, "out of memory");
                        goto fail;
                }
                c->fence =
                    (struct store_guard){.key = c->fence_key, .mod_revision = fence->mod_revision};
        }
        /* Events are written under the workers' fence, from before the
         * first reconcile. */
        events_start(c->events, c->fence_key ? &c->fence : NULL);
        /* What came due before now was missed while no controller acted. */
        int64_t acting_since = time_now_ms();
        r = workqueue_new(NULL, &c->run_queue);
        if (r < 0) {
                berth_error_set(err, r, "create workqueue: %s", strerror(-r));
                goto fail;
        }
        pthread_mutex_lock(&c->qlock);
        c->queue = c->run_queue;
        pthread_mutex_unlock(&c->qlock);

        /* Secret volumes of owners gone while no worker acted: before any
         * worker makes a new one. */
        struct reconcile_ctx collect = {
            .objects = c->objects,
            .prefix = c->prefix,
            .cluster = c->cluster,
            .secrets_dir = c->secrets_dir,
        };
        size_t n_collected = 0;
        struct berth_error cerr = {0};
        if (secret_volumes_collect(&collect, &n_collected, &cerr) < 0)
                log_warn("cannot remove orphaned secret volumes: %s dir=%s", cerr.message,
                         c->secrets_dir);
        else if (n_collected > 0)
                log_info("removed orphaned secret volumes owners=%zu dir=%s", n_collected,
                         c->secrets_dir);

        /* Output files of docker-exec Tasks deleted while no worker acted;
         * the others' keys, for when their Task goes. */
        size_t n_exec_logs = collect_exec_logs(c);
        if (n_exec_logs > 0)
                log_info("removed output of deleted docker-exec tasks tasks=%zu", n_exec_logs);

        /* Run slots before the first reconcile asks for one. */
        size_t n_slots = rebuild_runqueue(c);

        /* Adoption: every object gets a reconcile, and so does the owner of every
         * container (an owner that is gone has its containers removed). */
        size_t n_objects = enqueue_all_objects(c);
        size_t n_containers = enqueue_all_owners(c);

        for (int i = 0; i < c->n_workers_wanted; i++) {
                struct worker *w = &c->workers[i];
                w->c = c;
                w->queue = c->run_queue;
                w->docker = docker_clone(c->docker);
                if (!w->docker) {
                        r = berth_error_set(err, -ENOMEM, "clone docker client: out of memory");
                        goto fail;
                }
                w->ctx = (struct reconcile_ctx){
                    .store = c->store,
                    .objects = c->objects,
                    .containers = c->containers,
                    .docker = w->docker,
                    .prefix = c->prefix,
                    .now_ms = time_now_ms,
                    .cluster = c->cluster,
                    .fence = c->fence_key ? &c->fence : NULL,
                    .acting_since_ms = acting_since,
                    .prober = c->prober,
                    .source_roots = c->source_roots,
                    .n_source_roots = c->n_source_roots,
                    .build_roots = c->build_roots,
                    .n_build_roots = c->n_build_roots,
                    .builder = c->builder,
                    .execs = c->execs,
                    .plugin_executors = c->plugin_executors,
                    .n_plugin_executors = c->n_plugin_executors,
                    .admission = c->admission,
                    .secrets = c->secrets,
                    .secrets_dir = c->secrets_dir,
                    .secrets_dir_error = c->secrets_dir_error,
                    .watch_source = source_watches_set,
                    .watch_userdata = c->source_watches,
                    .events = c->events,
                    .runqueue = c->runqueue,
                };
                c->n_workers++;
                r = pthread_create(&w->thread, NULL, worker_main, w);
                if (r != 0) {
                        r = berth_error_set(err, -r, "start worker thread: %s", strerror(r));
                        goto fail;
                }
                w->started = true;
        }

        r = resync_start(c);
        if (r < 0) {
                berth_error_set(err, r, "start resync thread: %s", strerror(-r));
                goto fail;
        }

        log_info("controller started workers=%d objects=%zu containers=%zu run_slots=%zu "
                 "max_running=%lld fenced=%s",
                 c->n_workers_wanted, n_objects, n_containers, n_slots,
                 (long long)runqueue_max_running(c->runqueue), c->fence_key ? "true" : "false");
        return 0;

fail:
        controller_stop_workers(c);
        return r;
}

void controller_stop_workers(struct controller *c)
{
        if (!c->running)
                return;
        atomic_store(&c->stopping, true);
        pthread_mutex_lock(&c->qlock);
        c->queue = NULL;
        pthread_mutex_unlock(&c->qlock);
        if (c->run_queue)
                workqueue_shutdown(c->run_queue);
        /* Workers blocked in a Docker call (a pull, a slow create) return -EINTR,
         * and so do their later calls; every action is idempotent, so the next
         * leader picks up where this one left off. */
        for (size_t i = 0; i < c->n_workers; i++)
                if (c->workers[i].started)
                        docker_interrupt(c->workers[i].docker);
        for (size_t i = 0; i < c->n_workers; i++)
                if (c->workers[i].started)
                        pthread_join(c->workers[i].thread, NULL);
        resync_stop(c);
        /* No reconcile records any more: what they did is written (bounded
         * wait) before the fence goes. */
        events_stop(c->events);
        workqueue_free(c->run_queue);
        c->run_queue = NULL;
        for (size_t i = 0; i < c->n_workers; i++)
                docker_free(c->workers[i].docker);
        free(c->workers);
        c->workers = NULL;
        c->n_workers = 0;
        free(c->fence_key);
        c->fence_key = NULL;
        c->fence = (struct store_guard){0};
        c->running = false;
        log_info("controller stopped workers");
}

int controller_new(const struct controller_config *cfg, struct controller **ret,
                   struct berth_error *err)
{
        if (!cfg || !cfg->store || !cfg->docker)
                return berth_error_set(err, -EINVAL,
                                       "controller needs a store and a docker client");
        const char *prefix = cfg->prefix ? cfg->prefix : "/berth/";
        int n_workers = cfg->workers > 0 ? cfg->workers : CONTROLLER_DEFAULT_WORKERS;
        if (n_workers > CONTROLLER_MAX_WORKERS)
                return berth_error_set(err, -EINVAL, "too many workers: %d (max %d)", n_workers,
                                       CONTROLLER_MAX_WORKERS);

        struct controller *c = calloc(1, sizeof(*c));
        if (!c)
                return berth_error_set(err, -ENOMEM, "out of memory");
        pthread_mutex_init(&c->qlock, NULL);
        c->store = cfg->store;
        c->docker = cfg->docker;
        c->n_workers_wanted = n_workers;
        c->resync_ms = cfg->resync_ms > 0 ? cfg->resync_ms : CONTROLLER_DEFAULT_RESYNC_MS;
        c->compact_ms = cfg->compact_ms == 0 ? CONTROLLER_DEFAULT_COMPACT_MS : cfg->compact_ms;
        c->prefix = strdup(prefix);
        int r;
        if (!c->prefix) {
                r = berth_error_set(err, -ENOMEM, "out of memory");
                goto fail;
        }
        if (cfg->max_running < 0) {
                r = berth_error_set(err, -EINVAL, "max running Tasks: %lld: must be at least 1",
                                    (long long)cfg->max_running);
                goto fail;
        }
        r = runqueue_new(cfg->max_running, on_runqueue_wake, c, &c->runqueue);
        if (r < 0) {
                berth_error_set(err, r, "out of memory");
                goto fail;
        }
        r = metrics_register_collector(collect_runqueue, c->runqueue);
        if (r < 0) {
                berth_error_set(err, r, "register the run queue's metrics: %s", strerror(-r));
                goto fail;
        }

        c->task_deps = task_deps_new();
        if (!c->task_deps) {
                r = berth_error_set(err, -ENOMEM, "out of memory");
                goto fail;
        }
        r = object_cache_new(cfg->store, c->prefix, on_object_event, c, &c->objects, err);
        if (r < 0) {
                berth_error_prefix(err, "start object cache");
                goto fail;
        }
        object_cache_set_handler_filter(c->objects, wants_object);
        r = load_cluster_id(cfg->store, c->prefix, c->cluster, err);
        if (r < 0) {
                berth_error_prefix(err, "load cluster identity");
                goto fail;
        }
        char label[64];
        snprintf(label, sizeof(label), "%s=%s", TASK_LABEL_CLUSTER, c->cluster);
        r = docker_engine_watch(cfg->docker, on_engine, c);
        if (r < 0) {
                berth_error_set(err, r, "watch the docker engine: %s", strerror(-r));
                goto fail;
        }
        c->engine_watched = true;
        r = container_cache_new_filtered(cfg->docker, label, on_container_event, c, &c->containers,
                                         err);
        if (r < 0) {
                berth_error_prefix(err, "start container cache");
                goto fail;
        }

        c->source_roots = cfg->source_roots;
        c->n_source_roots = cfg->n_source_roots;
        c->build_roots = cfg->build_roots;
        c->admission = cfg->admission;
        c->secrets = cfg->secrets;
        c->secrets_dir = cfg->secrets_dir;
        c->secrets_dir_error = cfg->secrets_dir_error;
        c->events = cfg->events;
        c->n_build_roots = cfg->n_build_roots;
        c->source_watches = source_watches_new(enqueue_key, c);
        if (!c->source_watches) {
                r = berth_error_set(err, -ENOMEM, "out of memory");
                goto fail;
        }
        r = prober_new(CONTROLLER_PROBES_IN_FLIGHT, on_owner_change, c, &c->prober, err);
        if (r < 0) {
                berth_error_prefix(err, "start prober");
                goto fail;
        }
        r = exec_runner_new(cfg->exec_logs_dir, on_owner_change, c, &c->execs);
        if (r < 0) {
                berth_error_set(err, r, "start docker-exec runner: %s %s", strerror(-r),
                                cfg->exec_logs_dir ? cfg->exec_logs_dir : "");
                goto fail;
        }
        c->plugin_executors = cfg->plugin_executors;
        c->n_plugin_executors = cfg->n_plugin_executors;
        for (size_t i = 0; i < c->n_plugin_executors; i++)
                c->plugin_executors[i].ops->listen(c->plugin_executors[i].impl, on_owner_change, c);
        if (c->n_build_roots > 0) {
                r = builder_new(cfg->docker, BUILDER_DEFAULT_CONCURRENT, on_owner_change, c,
                                &c->builder, err);
                if (r < 0) {
                        berth_error_prefix(err, "start builder");
                        goto fail;
                }
        }

        r = object_cache_wait_synced(c->objects, CONTROLLER_SYNC_TIMEOUT_MS);
        if (r < 0) {
                berth_error_set(err, r, "object cache did not sync within %ds (store unreachable?)",
                                CONTROLLER_SYNC_TIMEOUT_MS / 1000);
                goto fail;
        }
        r = container_cache_wait_synced(c->containers, CONTROLLER_SYNC_TIMEOUT_MS);
        if (r < 0) {
                berth_error_set(
                    err, r, "container cache did not sync within %ds (docker unreachable at %s?)",
                    CONTROLLER_SYNC_TIMEOUT_MS / 1000, docker_url(cfg->docker));
                goto fail;
        }

        if (!cfg->standby) {
                r = controller_start_workers(c, NULL, err);
                if (r < 0)
                        goto fail;
        }
        *ret = c;
        return 0;

fail:
        controller_free(c);
        return r;
}

void controller_free(struct controller *c)
{
        if (!c)
                return;
        /* Its watcher enqueues: gone before anything it touches. */
        if (c->engine_watched)
                docker_engine_unwatch(c->docker, on_engine, c);
        controller_stop_workers(c);
        /* The caches' handlers enqueue under qlock: free them first. */
        prober_free(c->prober);
        builder_free(c->builder);
        exec_runner_free(c->execs);
        for (size_t i = 0; i < c->n_plugin_executors; i++)
                c->plugin_executors[i].ops->listen(c->plugin_executors[i].impl, NULL, NULL);
        source_watches_free(c->source_watches);
        container_cache_free(c->containers);
        object_cache_free(c->objects);
        task_deps_free(c->task_deps);
        if (c->runqueue)
                metrics_unregister_collector(collect_runqueue, c->runqueue);
        runqueue_free(c->runqueue); /* after the caches: their handlers use it */
        pthread_mutex_destroy(&c->qlock);
        free(c->prefix);
        free(c);
}

struct object_cache *controller_objects(struct controller *c)
{
        return c->objects;
}

struct container_cache *controller_containers(struct controller *c)
{
        return c->containers;
}

/* Where the last `lines` lines of text[0..len) begin (lines < 0: all). */
static size_t text_tail_offset(const char *text, size_t len, int lines)
{
        size_t i = len;

        if (lines < 0)
                return 0;
        if (lines == 0)
                return len;
        if (i > 0 && text[i - 1] == '\n') /* the last line's own end */
                i--;
        for (; i > 0; i--)
                if (text[i - 1] == '\n' && --lines == 0)
                        return i;
        return 0;
}

int controller_task_exec_logs(void *userdata, const char *uid, int attempt, int tail, bool follow,
                              int cancel_fd, docker_log_fn fn, void *fn_userdata,
                              struct berth_error *err)
{
        struct controller *c = userdata;
        int r = exec_runner_stream(c ? c->execs : NULL, uid, attempt, tail, follow, cancel_fd, fn,
                                   fn_userdata, err);

        for (size_t i = 0; c && r == -ENOENT && i < c->n_plugin_executors; i++) {
                const struct plugin_executor *x = &c->plugin_executors[i];
                struct plugin_attempt a;
                _cleanup_free_ char *out = NULL;
                size_t len = 0;

                if (x->ops->observe(x->impl, uid, &a) < 0 || a.attempt != attempt ||
                    x->ops->logs(x->impl, uid, &out, &len) < 0)
                        continue;
                berth_error_clear(err);
                size_t from = text_tail_offset(out, len, tail);
                if (len > from)
                        (void)fn(DOCKER_STREAM_STDOUT, out + from, len - from, fn_userdata);
                return 0;
        }
        return r;
}
