/* api: the resource use of running containers — GET .../tasks/{name}/stats,
 * .../services/{name}/stats (one entry per replica) and, for `berth top`, a
 * collection's with ?stats=true — sampled on a pool of threads.
 *
 * Why a pool: a Docker stats call blocks for about a second (Docker waits
 * for its next sample so that the CPU share can be computed: docker.h,
 * docker_container_stats). On the loop it would stall every client, and one
 * after another the Tasks of a namespace would take a second each. The loop
 * picks the containers from the caches, API_STATS_THREADS threads (each with
 * its own Docker client) sample them side by side, and the loop replies once
 * the last sample of the request is in.
 *
 * The cache: a container's sample is reused for API_STATS_TTL_MS, so
 * dashboards polling every second, or several users running `berth top` at
 * once, cost one Docker call per container every 2 s; a request for a
 * container whose sample is on its way waits for that one instead of
 * starting another. A failed sample is cached too (a container that ended
 * is not asked about again at once). Entries past the TTL are dropped when
 * the next request comes. No stats stream is held open.
 *
 * Threading contract (as in writes.c):
 * - The cache entries, the fetch queue, a request's pending count and its
 *   items' results are guarded by the pool's lock. req and conn are the
 *   loop's: the threads never touch evhttp.
 * - The thread that fills a request's last item puts it on the done list
 *   and wakes the loop, which replies (unless the client left) and frees it.
 *   Only the loop frees requests and cache entries.
 */
#include "api-internal.h"

#include <inttypes.h>

/* One container of a request and, once sampled, its result. */
struct stats_item {
        char ns[64];
        char name[64];
        char id[65];
        int replica; /* a Service's replica index; -1 for a Task */
        int result;  /* 0 or the sample's -errno */
        char error[256];
        struct docker_stats stats;
};

struct stats_request {
        struct stats_request *next;                /* on the done list */
        struct stats_request *all_prev, *all_next; /* on the pool's list; loop only */
        struct evhttp_request *req;                /* NULL once the client has gone */
        struct evhttp_connection *conn;
        /* One object's: when its only container cannot be sampled, that is
         * the reply (404, 503) instead of an entry with an error. */
        bool single;
        char what[160]; /* "task hello", for messages */
        struct stats_item *items;
        size_t n;
        size_t pending; /* items not sampled yet; under the lock */
};

struct stats_waiter {
        struct stats_request *request;
        size_t index;
};

/* A container's latest sample, or the one being taken. */
struct stats_entry {
        struct stats_entry *next;        /* in the cache */
        struct stats_entry *next_queued; /* on the fetch queue */
        char id[65];
        bool fetching;
        int64_t fetched_ms; /* monotonic; 0 = never */
        int result;
        struct berth_error error;
        struct docker_stats stats;
        struct stats_waiter *waiters;
        size_t n_waiters, cap_waiters;
};

struct stats_worker {
        struct api_stats *pool;
        struct docker *docker;
        pthread_t thread;
        bool started;
};

struct api_stats {
        struct api_server *server;
        struct event *wake; /* on the loop: on_done */
        struct stats_worker workers[API_STATS_THREADS];
        struct stats_request *all; /* alive; loop only */

        pthread_mutex_t lock; /* guards what follows */
        pthread_cond_t more;
        struct stats_entry *entries;
        size_t n_fetching;
        struct stats_entry *queue_head, *queue_tail;
        struct stats_request *done;
        bool stop;
};

/* ---- the reply ------------------------------------------------------------ */

static json_t *bytes_pair(const char *a, uint64_t va, const char *b, uint64_t vb)
{
        return json_pack("{s:I, s:I}", a, (json_int_t)va, b, (json_int_t)vb);
}

json_t *api_stats_entry(const char *ns, const char *name, const char *container_id, int replica,
                        const struct docker_stats *st)
{
        char id[13];
        snprintf(id, sizeof(id), "%.12s", container_id ? container_id : "");
        /* Two decimals are all a percentage shown to people needs. */
        double cpu = st->cpu_known ? (double)(int64_t)(st->cpu_percent * 100 + 0.5) / 100 : 0;

        _cleanup_json_ json_t *e = json_pack(
            "{s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:o, s:o}", "namespace", ns ? ns : "", "name",
            name ? name : "", "container", id, "timestamp", st->read, "cpuPercent",
            st->cpu_known ? json_real(cpu) : json_null(), "memory",
            bytes_pair("usageBytes", st->memory_usage, "limitBytes", st->memory_limit), "pids",
            (json_int_t)st->pids, "network",
            st->network_known ? bytes_pair("rxBytes", st->net_rx_bytes, "txBytes", st->net_tx_bytes)
                              : json_null(),
            "blockIO",
            bytes_pair("readBytes", st->block_read_bytes, "writeBytes", st->block_write_bytes));
        if (!e)
                return NULL;
        if (replica >= 0 && json_object_set_new(e, "replica", json_integer(replica)) < 0)
                return NULL;
        return TAKE_PTR(e);
}

/* Loop: the StatsList of a request whose items are all sampled. A container
 * that ended since it was picked is left out of a collection's list. */
static void request_reply(struct api_server *s, struct stats_request *r)
{
        struct api_error err = {0};
        _cleanup_json_ json_t *items = json_array();

        for (size_t i = 0; items && i < r->n; i++) {
                const struct stats_item *it = &r->items[i];
                json_t *e;
                if (it->result == 0) {
                        e = api_stats_entry(it->ns, it->name, it->id, it->replica, &it->stats);
                } else if (r->single && r->n == 1) {
                        if (it->result == -ENOENT)
                                api_error_set(&err, 404, "%s has no running container", r->what);
                        else
                                api_error_set(&err, 503, "stats of %s: %s", r->what, it->error);
                        break;
                } else if (it->result == -ENOENT) {
                        continue;
                } else {
                        char id[13];
                        snprintf(id, sizeof(id), "%.12s", it->id);
                        e = json_pack("{s:s, s:s, s:s, s:s}", "namespace", it->ns, "name", it->name,
                                      "container", id, "error", it->error);
                        if (e && it->replica >= 0)
                                json_object_set_new(e, "replica", json_integer(it->replica));
                }
                if (!e || json_array_append_new(items, e) < 0) {
                        api_error_set(&err, 500, "out of memory");
                        break;
                }
        }
        _cleanup_json_ json_t *list =
            items && !err.code ? json_pack("{s:s, s:s, s:O}", "kind", "StatsList", "apiVersion",
                                           MANIFEST_API_VERSION, "items", items)
                               : NULL;
        if (!list && !err.code)
                api_error_set(&err, 500, "out of memory");
        if (err.code)
                api_send_error(s, r->req, &err);
        else
                api_send_json(s, r->req, 200, list);
        api_error_release(&err);
}

/* Loop. The request is left as is: answered, freed by on_close, or still
 * attached to its connection (evhttp_free frees it then). */
static void request_free(struct api_stats *p, struct stats_request *r)
{
        if (r->conn)
                api_conn_set_closecb(r->conn, NULL, NULL);
        if (r->all_prev)
                r->all_prev->all_next = r->all_next;
        else if (p->all == r)
                p->all = r->all_next;
        if (r->all_next)
                r->all_next->all_prev = r->all_prev;
        free(r->items);
        free(r);
}

/* ---- the threads ----------------------------------------------------------- */

/* Under the lock. */
static void item_fill(struct stats_item *it, const struct stats_entry *e)
{
        it->result = e->result;
        it->stats = e->stats;
        snprintf(it->error, sizeof(it->error), "%.*s", (int)sizeof(it->error) - 1,
                 e->error.message);
}

/* Under the lock: hands the sample to every request waiting for it. true
 * when one of them is complete (the loop must be woken). */
static bool entry_deliver(struct api_stats *p, struct stats_entry *e)
{
        bool wake = false;

        for (size_t i = 0; i < e->n_waiters; i++) {
                struct stats_request *r = e->waiters[i].request;
                item_fill(&r->items[e->waiters[i].index], e);
                if (--r->pending == 0) {
                        r->next = p->done;
                        p->done = r;
                        wake = true;
                }
        }
        e->n_waiters = 0;
        return wake;
}

static void *worker_main(void *arg)
{
        struct stats_worker *w = arg;
        struct api_stats *p = w->pool;

        pthread_mutex_lock(&p->lock);
        for (;;) {
                while (!p->stop && !p->queue_head)
                        pthread_cond_wait(&p->more, &p->lock);
                if (p->stop)
                        break;
                struct stats_entry *e = p->queue_head;
                p->queue_head = e->next_queued;
                if (!p->queue_head)
                        p->queue_tail = NULL;
                e->next_queued = NULL;
                char id[65];
                memcpy(id, e->id, sizeof(id));
                pthread_mutex_unlock(&p->lock);

                /* e stays: the loop drops only entries nobody is fetching. */
                struct docker_stats st = {0};
                struct berth_error err = {0};
                int64_t start = time_mono_ms();
                int rc = docker_container_stats(w->docker, id, &st, &err);
                log_debug("container stats sampled container=%.12s rc=%d ms=%" PRId64, id, rc,
                          time_mono_ms() - start);

                pthread_mutex_lock(&p->lock);
                e->fetching = false;
                e->fetched_ms = time_mono_ms();
                e->result = rc;
                e->error = err;
                e->stats = st;
                p->n_fetching--;
                if (entry_deliver(p, e))
                        event_active(p->wake, EV_READ, 0);
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

/* ---- the loop side --------------------------------------------------------- */

static void on_done(evutil_socket_t fd, short what, void *arg)
{
        struct api_stats *p = arg;
        (void)fd;
        (void)what;

        pthread_mutex_lock(&p->lock);
        struct stats_request *done = p->done;
        p->done = NULL;
        pthread_mutex_unlock(&p->lock);

        while (done) {
                struct stats_request *r = done;
                done = r->next;
                if (r->req) {
                        api_conn_set_closecb(r->conn, NULL, NULL);
                        r->conn = NULL;
                        request_reply(p->server, r);
                }
                request_free(p, r);
        }
}

/* The client left before its reply; the samples still come in. */
static void on_close(struct evhttp_connection *conn, void *arg)
{
        struct stats_request *r = arg;

        api_conn_set_closecb(conn, NULL, NULL);
        api_request_free_detached(r->req);
        r->req = NULL;
        r->conn = NULL;
}

/* Under the lock: the cache entry of id, made when missing. NULL on OOM. */
static struct stats_entry *entry_get(struct api_stats *p, const char *id)
{
        for (struct stats_entry *e = p->entries; e; e = e->next)
                if (streq(e->id, id))
                        return e;
        struct stats_entry *e = calloc(1, sizeof(*e));
        if (!e)
                return NULL;
        (void)str_copy(e->id, sizeof(e->id), id);
        e->next = p->entries;
        p->entries = e;
        return e;
}

/* Under the lock: drops the samples past their time that nobody waits for. */
static void entries_sweep(struct api_stats *p, int64_t now)
{
        for (struct stats_entry **pe = &p->entries; *pe;) {
                struct stats_entry *e = *pe;
                if (!e->fetching && now - e->fetched_ms >= API_STATS_TTL_MS) {
                        *pe = e->next;
                        free(e->waiters);
                        free(e);
                } else {
                        pe = &e->next;
                }
        }
}

static int entry_wait(struct stats_entry *e, struct stats_request *r, size_t index)
{
        if (e->n_waiters == e->cap_waiters) {
                size_t cap = e->cap_waiters ? 2 * e->cap_waiters : 4;
                struct stats_waiter *v = realloc(e->waiters, cap * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                e->waiters = v;
                e->cap_waiters = cap;
        }
        e->waiters[e->n_waiters++] = (struct stats_waiter){.request = r, .index = index};
        r->pending++;
        return 0;
}

/* Under the lock: each item from a fresh sample, or waiting for one (queued
 * when nobody fetches it yet). */
static int request_enqueue(struct api_stats *p, struct stats_request *r, int64_t now)
{
        for (size_t i = 0; i < r->n; i++) {
                struct stats_entry *e = entry_get(p, r->items[i].id);
                if (!e)
                        return -ENOMEM;
                if (!e->fetching && e->fetched_ms > 0 && now - e->fetched_ms < API_STATS_TTL_MS) {
                        item_fill(&r->items[i], e);
                        continue;
                }
                if (entry_wait(e, r, i) < 0)
                        return -ENOMEM;
                if (e->fetching)
                        continue;
                e->fetching = true;
                p->n_fetching++;
                if (p->queue_tail)
                        p->queue_tail->next_queued = e;
                else
                        p->queue_head = e;
                p->queue_tail = e;
                pthread_cond_signal(&p->more);
        }
        return 0;
}

static int item_by_replica(const void *a, const void *b)
{
        const struct stats_item *x = a, *y = b;
        return (x->replica > y->replica) - (x->replica < y->replica);
}

/* The running containers of one object, appended to r's items. A Task's
 * latest attempt (one container); a Service's every replica, by index. */
static int add_object(struct api_server *s, struct stats_request *r, const struct kind_info *kind,
                      const json_t *obj, size_t *cap, struct api_error *err)
{
        const char *uid = json_path_string(obj, "metadata.uid");
        const char *ns = json_path_string(obj, "metadata.namespace");
        const char *name = json_path_string(obj, "metadata.name");
        _cleanup_free_ struct container_info *cs = NULL;
        bool service = streq(kind->kind, "Service");
        int n = uid ? container_cache_by_uid(s->containers, uid, &cs) : 0;
        size_t first = r->n;

        for (int i = n - 1; i >= 0; i--) {
                if (cs[i].state != DOCKER_STATE_RUNNING)
                        continue;
                if (r->n == API_STATS_CONTAINERS_MAX)
                        return api_error_set(err, 413,
                                             "more than %d running containers: choose fewer "
                                             "with a namespace or a label selector",
                                             API_STATS_CONTAINERS_MAX);
                if (r->n == *cap) {
                        size_t c = *cap ? 2 * *cap : 16;
                        struct stats_item *v = realloc(r->items, c * sizeof(*v));
                        if (!v)
                                return api_error_set(err, 500, "out of memory");
                        r->items = v;
                        *cap = c;
                }
                struct stats_item *it = &r->items[r->n++];
                *it = (struct stats_item){.replica = -1};
                (void)str_copy(it->ns, sizeof(it->ns), ns ? ns : "");
                (void)str_copy(it->name, sizeof(it->name), name ? name : "");
                (void)str_copy(it->id, sizeof(it->id), cs[i].id);
                if (service) {
                        it->replica = api_service_container_replica(cs[i].name, NULL);
                        if (it->replica < 0)
                                it->replica = cs[i].replica;
                }
                if (!service)
                        break; /* by attempt ascending: the latest one running */
        }
        if (r->n - first > 1)
                qsort(r->items + first, r->n - first, sizeof(*r->items), item_by_replica);
        return 0;
}

/* The items of an API_EP_STATS route: one object's, or those of every
 * object of the collection the caller may get. */
static int collect(struct api_server *s, struct stats_request *r, const struct api_route *route,
                   const struct api_identity *who, struct api_error *err)
{
        size_t cap = 0;

        if (route->name[0]) {
                _cleanup_free_ char *key =
                    object_key(s->prefix, route->kind->resource, route->ns, route->name);
                if (!key)
                        return api_error_set(err, 500, "out of memory");
                _cleanup_json_ json_t *obj = object_cache_get(s->objects, key, NULL);
                if (!obj)
                        return api_error_set(err, 404, "%s \"%s\" not found", route->kind->resource,
                                             route->name);
                r->single = true;
                int rc = add_object(s, r, route->kind, obj, &cap, err);
                if (rc < 0)
                        return rc;
                if (r->n == 0)
                        return api_error_set(err, 404, "%s has no running container", r->what);
                return 0;
        }

        _cleanup_(api_selector_release) struct api_selector labels = {0}, fields = {0};
        struct api_list_filter rbac;
        int rc = api_route_selectors(route, &labels, &fields, err);
        if (rc == 0)
                rc = api_authz_list_begin(s, who, "get", route->kind->resource, route->ns, &rbac,
                                          err);
        if (rc < 0)
                return rc;
        _cleanup_free_ char *prefix = api_list_prefix(s->prefix, route);
        _cleanup_json_ json_t *all = prefix ? object_cache_list(s->objects, prefix, NULL) : NULL;
        if (!all)
                return api_error_set(err, 500, "out of memory");
        size_t i;
        json_t *obj;
        json_array_foreach(all, i, obj)
        {
                if (!api_object_matches(&labels, &fields, obj) || !api_authz_visible(s, &rbac, obj))
                        continue;
                rc = add_object(s, r, route->kind, obj, &cap, err);
                if (rc < 0)
                        return rc;
        }
        return 0;
}

void api_stats_start(struct api_server *s, struct evhttp_request *req,
                     const struct api_route *route, const struct api_identity *who)
{
        struct api_stats *p = s->stats;
        struct api_error err = {0};
        struct stats_request *r = NULL;

        if (!p || !s->containers) {
                api_error_set(&err, 503, "stats are not available: no connection to Docker");
                goto fail;
        }
        r = calloc(1, sizeof(*r));
        if (!r) {
                api_error_set(&err, 500, "out of memory");
                goto fail;
        }
        snprintf(r->what, sizeof(r->what), "%s %s", route->kind->singular, route->name);
        if (collect(s, r, route, who, &err) < 0)
                goto fail;

        int64_t now = time_mono_ms();
        pthread_mutex_lock(&p->lock);
        if (p->n_fetching + r->n > API_STATS_QUEUE_MAX) {
                pthread_mutex_unlock(&p->lock);
                api_error_set(&err, 503, "too many containers being sampled; try again");
                evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
                goto fail;
        }
        entries_sweep(p, now);
        int rc = request_enqueue(p, r, now);
        size_t pending = r->pending;
        pthread_mutex_unlock(&p->lock);
        /* On OOM the items already queued still complete: keep the request
         * (without its client) until they have. */
        r->req = rc < 0 ? NULL : req;

        if (pending == 0) {
                if (r->req)
                        request_reply(s, r);
                free(r->items);
                free(r);
                if (rc < 0)
                        goto oom;
                return;
        }
        r->all_next = p->all;
        if (p->all)
                p->all->all_prev = r;
        p->all = r;
        if (rc < 0)
                goto oom;
        r->conn = evhttp_request_get_connection(req);
        api_conn_set_closecb(r->conn, on_close, r);
        log_debug("container stats requested %s containers=%zu waiting=%zu", r->what, r->n,
                  pending);
        return;

oom:
        api_error_set(&err, 500, "out of memory");
        api_send_error(s, req, &err);
        api_error_release(&err);
        return;
fail:
        if (r)
                free(r->items);
        free(r);
        api_send_error(s, req, &err);
        api_error_release(&err);
}

int api_stats_new(struct api_server *s, struct api_stats **ret)
{
        struct api_stats *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->server = s;
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->more, NULL);
        p->wake = event_new(s->base, -1, 0, on_done, p);
        if (!p->wake) {
                api_stats_free(p);
                return -ENOMEM;
        }
        for (size_t i = 0; i < API_STATS_THREADS; i++) {
                struct stats_worker *w = &p->workers[i];
                w->pool = p;
                w->docker = docker_clone(s->docker);
                if (!w->docker) {
                        api_stats_free(p);
                        return -ENOMEM;
                }
                int rc = pthread_create(&w->thread, NULL, worker_main, w);
                if (rc != 0) {
                        api_stats_free(p);
                        return -rc;
                }
                w->started = true;
        }
        *ret = p;
        return 0;
}

void api_stats_free(struct api_stats *p)
{
        if (!p)
                return;
        pthread_mutex_lock(&p->lock);
        p->stop = true;
        pthread_cond_broadcast(&p->more);
        pthread_mutex_unlock(&p->lock);
        for (size_t i = 0; i < API_STATS_THREADS; i++) {
                struct stats_worker *w = &p->workers[i];
                if (w->started) {
                        docker_interrupt(w->docker); /* a sample in progress ends at once */
                        pthread_join(w->thread, NULL);
                }
                docker_free(w->docker);
        }
        /* No thread is left: requests are on p->all, entries in the cache. */
        while (p->all)
                request_free(p, p->all);
        while (p->entries) {
                struct stats_entry *e = p->entries;
                p->entries = e->next;
                free(e->waiters);
                free(e);
        }
        if (p->wake)
                event_free(p->wake);
        pthread_cond_destroy(&p->more);
        pthread_mutex_destroy(&p->lock);
        free(p);
}
