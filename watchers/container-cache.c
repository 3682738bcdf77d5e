/* container_cache: the containers labelled berth.managed=true, from one list
 * plus the Docker /events stream, relisted after every reconnect.
 *
 * One thread owns a clone of the Docker client and does all the I/O; the map
 * is guarded by 'mu', which is never held while the handler runs or while a
 * Docker call is in flight.
 *
 * The map: entries allocated one by one, an array of pointers to them sorted
 * by id (an insert moves pointers, not entries), and a hash index by owner
 * (kind, namespace, name) — the reconcilers' question, asked on every round;
 * a scan of every container for it made n Tasks cost O(n^2).
 */
#include "watchers-internal.h"

#include <limits.h>
#include <pthread.h>
#include <time.h>

#define MANAGED_LABEL            "berth.managed=true"
#define RECONNECT_BACKOFF_MIN_MS 200
#define RECONNECT_BACKOFF_MAX_MS 5000
/* A stream that lived this long was healthy: start the backoff over. */
#define RECONNECT_HEALTHY_MS 5000
/* Events are asked from a while before each list starts, so that nothing
 * between the list and the stream is lost; replaying a suffix of the history
 * on top of a later state is harmless because states never move backwards.
 * The margin is seconds, not milliseconds: Docker logs a container's "die"
 * before its list view shows the container exited, and under load the gap
 * can pass 100 ms — a list that still says running and a die event older
 * than the margin would leave the container running here until a resync. */
#define SINCE_MARGIN_NS (5LL * 1000 * 1000 * 1000)

#define OWNER_BUCKETS 16384 /* of the owner index; a power of two */

struct centry {
        struct container_info ci;
        uint64_t seq; /* value of 'seq' at its last change */
        /* Its chain in the owner index, and the bucket it is in (that of
         * ci's kind, ns and owner when it was linked). */
        struct centry *owner_prev, *owner_next;
        size_t owner_bucket;
};

struct change {
        struct container_info ci;
        bool removed;
};

struct changes {
        struct change *v;
        size_t n, cap;
};

struct container_cache {
        struct docker *dc; /* the thread's own client */
        char label[256];   /* the label filter of lists and events */
        container_event_fn handler;
        void *userdata;

        pthread_t thread;
        bool thread_started;
        pthread_mutex_t mu;
        pthread_cond_t cond;

        /* Under mu: */
        struct centry **v; /* sorted by id */
        size_t n, cap;
        struct centry *owners[OWNER_BUCKETS]; /* chains of the owner index */
        uint64_t seq;
        bool synced, connected, stop;

        /* Cache thread only: */
        int64_t last_nano;
        bool got_event;
};

/* ---- pure helpers ------------------------------------------------------ */

/* created < running < exited: a container never goes back (berth never
 * restarts one; a late event or list must not undo what we saw). */
static int state_rank(enum docker_state s)
{
        switch (s) {
        case DOCKER_STATE_UNKNOWN:
                return 0;
        case DOCKER_STATE_CREATED:
                return 1;
        case DOCKER_STATE_RUNNING:
        case DOCKER_STATE_PAUSED:
        case DOCKER_STATE_RESTARTING:
                return 2;
        case DOCKER_STATE_REMOVING:
        case DOCKER_STATE_EXITED:
        case DOCKER_STATE_DEAD:
                return 3;
        }
        return 0;
}

static void raise_state(struct container_info *ci, enum docker_state s)
{
        if (s != DOCKER_STATE_UNKNOWN && state_rank(s) >= state_rank(ci->state))
                ci->state = s;
}

static int parse_int64(const char *s, int64_t min, int64_t max, int64_t *ret)
{
        char *end;

        if (!s || !*s)
                return -EINVAL;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno != 0 || *end != '\0' || v < min || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

static const char *label(const json_t *labels, const char *name)
{
        return json_string_value(json_object_get(labels, name));
}

int container_info_from_docker(const struct docker_container *dc, struct container_info *ret)
{
        struct container_info ci = {0};
        int64_t attempt, generation;

        if (!dc || !ret)
                return -EINVAL;
        const json_t *labels = dc->labels;
        const char *uid = label(labels, "berth.uid");
        if (!uid || !*uid || str_copy(ci.uid, sizeof(ci.uid), uid) < 0)
                return -EINVAL;
        /* A Task's container has an attempt, a Service's a replica index. */
        const char *attempt_label = label(labels, "berth.attempt");
        const char *replica_label = label(labels, "berth.replica");
        int64_t replica = -1;
        attempt = 0;
        if ((attempt_label && parse_int64(attempt_label, 0, INT_MAX, &attempt) < 0) ||
            (replica_label && parse_int64(replica_label, 0, INT_MAX, &replica) < 0) ||
            (!attempt_label && !replica_label))
                return -EINVAL;
        ci.attempt = (int)attempt;
        ci.replica = (int)replica;
        /* Optional: containers made before generations were recorded have none. */
        if (parse_int64(label(labels, "berth.generation"), 0, INT64_MAX, &generation) == 0)
                ci.generation = generation;

        const struct {
                char *dst;
                size_t size;
                const char *src;
        } fields[] = {
            {ci.id, sizeof(ci.id), dc->id},
            {ci.name, sizeof(ci.name), dc->name},
            {ci.kind, sizeof(ci.kind), label(labels, "berth.kind")},
            {ci.ns, sizeof(ci.ns), label(labels, "berth.namespace")},
            {ci.owner, sizeof(ci.owner), label(labels, "berth.name")},
            {ci.revision, sizeof(ci.revision), label(labels, "berth.revision")},
            {ci.ports, sizeof(ci.ports), label(labels, "berth.ports")},
        };
        for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
                /* A truncated identity would point at the wrong object. */
                if (fields[i].src && str_copy(fields[i].dst, fields[i].size, fields[i].src) < 0)
                        return -EINVAL;
        }

        ci.state = dc->state;
        ci.health = dc->health;
        ci.details_known = dc->details_known;
        if (dc->details_known) {
                ci.exit_code = dc->exit_code;
                ci.oom_killed = dc->oom_killed;
                ci.started_ms = dc->started_ms;
                ci.finished_ms = dc->finished_ms;
                ci.exit_known = state_rank(dc->state) == 3;
        }
        *ret = ci;
        return 0;
}

/* Folds what src says into dst without moving the state backwards and
 * without losing details from inspect. Returns whether dst changed. */
static bool merge(struct container_info *dst, const struct container_info *src)
{
        struct container_info old = *dst;

        /* Empty fields say nothing (a write-through may carry only the id). */
        if (src->uid[0]) {
                memcpy(dst->uid, src->uid, sizeof(dst->uid));
                dst->attempt = src->attempt;
                dst->replica = src->replica;
                memcpy(dst->revision, src->revision, sizeof(dst->revision));
                memcpy(dst->ports, src->ports, sizeof(dst->ports));
        }
        if (src->health != DOCKER_HEALTH_NONE)
                dst->health = src->health;
        if (src->generation)
                dst->generation = src->generation;
        if (src->kind[0])
                memcpy(dst->kind, src->kind, sizeof(dst->kind));
        if (src->ns[0])
                memcpy(dst->ns, src->ns, sizeof(dst->ns));
        if (src->owner[0])
                memcpy(dst->owner, src->owner, sizeof(dst->owner));
        if (src->name[0])
                memcpy(dst->name, src->name, sizeof(dst->name));
        raise_state(dst, src->state);
        /* An inspect older than what we saw (running, but we saw it die)
         * must not take the exit code away. */
        if (src->details_known && state_rank(src->state) >= state_rank(old.state)) {
                dst->details_known = true;
                dst->exit_code = src->exit_code;
                dst->oom_killed = src->oom_killed;
                dst->started_ms = src->started_ms;
                dst->finished_ms = src->finished_ms;
                dst->exit_known = src->exit_known;
        } else {
                if (src->exit_known && !(dst->details_known && dst->exit_known)) {
                        dst->exit_known = true;
                        dst->exit_code = src->exit_code;
                }
                dst->oom_killed = dst->oom_killed || src->oom_killed;
                if (!dst->started_ms)
                        dst->started_ms = src->started_ms;
                if (!dst->finished_ms)
                        dst->finished_ms = src->finished_ms;
        }
        return memcmp(&old, dst, sizeof(old)) != 0;
}

/* Completes what a write-through left out of the identity. */
static void fill_identity(struct container_info *dst, const struct container_info *src)
{
        if (!dst->name[0])
                memcpy(dst->name, src->name, sizeof(dst->name));
        if (!dst->kind[0])
                memcpy(dst->kind, src->kind, sizeof(dst->kind));
        if (!dst->ns[0])
                memcpy(dst->ns, src->ns, sizeof(dst->ns));
        if (!dst->owner[0])
                memcpy(dst->owner, src->owner, sizeof(dst->owner));
        if (!dst->uid[0]) {
                memcpy(dst->uid, src->uid, sizeof(dst->uid));
                dst->attempt = src->attempt;
                dst->replica = src->replica;
                memcpy(dst->revision, src->revision, sizeof(dst->revision));
                memcpy(dst->ports, src->ports, sizeof(dst->ports));
        }
        if (!dst->generation)
                dst->generation = src->generation;
}

/* ---- map (caller holds mu) ---------------------------------------------- */

/* FNV-1a over kind, ns and owner, each with its NUL. */
static size_t owner_bucket(const char *kind, const char *ns, const char *owner)
{
        const char *parts[] = {kind, ns, owner};
        uint32_t h = 2166136261u;

        for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
                const char *p = parts[i];
                do
                        h = (h ^ (unsigned char)*p) * 16777619u;
                while (*p++);
        }
        return h & (OWNER_BUCKETS - 1);
}

static void owner_link(struct container_cache *c, struct centry *e)
{
        size_t b = owner_bucket(e->ci.kind, e->ci.ns, e->ci.owner);

        e->owner_bucket = b;
        e->owner_prev = NULL;
        e->owner_next = c->owners[b];
        if (e->owner_next)
                e->owner_next->owner_prev = e;
        c->owners[b] = e;
}

static void owner_unlink(struct container_cache *c, struct centry *e)
{
        if (e->owner_prev)
                e->owner_prev->owner_next = e->owner_next;
        else
                c->owners[e->owner_bucket] = e->owner_next;
        if (e->owner_next)
                e->owner_next->owner_prev = e->owner_prev;
        e->owner_prev = e->owner_next = NULL;
}

/* After a change that may have filled in e's identity (merge, fill_identity). */
static void owner_relink(struct container_cache *c, struct centry *e)
{
        if (owner_bucket(e->ci.kind, e->ci.ns, e->ci.owner) == e->owner_bucket)
                return;
        owner_unlink(c, e);
        owner_link(c, e);
}

static bool find(const struct container_cache *c, const char *id, size_t *ret_idx)
{
        size_t lo = 0, hi = c->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(c->v[mid]->ci.id, id) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *ret_idx = lo;
        return lo < c->n && strcmp(c->v[lo]->ci.id, id) == 0;
}

static struct centry *insert_at(struct container_cache *c, size_t i,
                                const struct container_info *ci)
{
        struct centry **v = watchers_grow(c->v, c->n, &c->cap, sizeof(*v), 32);
        if (!v)
                return NULL;
        c->v = v;
        struct centry *e = malloc(sizeof(*e));
        if (!e)
                return NULL;
        *e = (struct centry){.ci = *ci, .seq = ++c->seq};
        memmove(&c->v[i + 1], &c->v[i], (c->n - i) * sizeof(c->v[0]));
        c->v[i] = e;
        c->n++;
        owner_link(c, e);
        return e;
}

static void remove_at(struct container_cache *c, size_t i)
{
        struct centry *e = c->v[i];

        owner_unlink(c, e);
        memmove(&c->v[i], &c->v[i + 1], (c->n - i - 1) * sizeof(c->v[0]));
        c->n--;
        free(e);
}

static int changes_push(struct changes *ch, const struct container_info *ci, bool removed)
{
        struct change *v = watchers_grow(ch->v, ch->n, &ch->cap, sizeof(*v), 16);
        if (!v)
                return -ENOMEM;
        ch->v = v;
        ch->v[ch->n++] = (struct change){.ci = *ci, .removed = removed};
        return 0;
}

static void changes_deliver(struct container_cache *c, struct changes *ch)
{
        for (size_t i = 0; c->handler && i < ch->n; i++)
                c->handler(&ch->v[i].ci, ch->v[i].removed, c->userdata);
        free(ch->v);
        *ch = (struct changes){0};
}

/* ---- the cache thread ---------------------------------------------------- */

static int info_cmp(const void *a, const void *b)
{
        return strcmp(((const struct container_info *)a)->id,
                      ((const struct container_info *)b)->id);
}

static int cache_relist(struct container_cache *c)
{
        struct docker_container *list = NULL;
        size_t n = 0, m = 0;
        struct changes ch = {0};
        uint64_t seq0;
        int r;

        pthread_mutex_lock(&c->mu);
        seq0 = c->seq;
        pthread_mutex_unlock(&c->mu);

        r = docker_container_list(c->dc, c->label, &list, &n, NULL);
        if (r < 0)
                return r;
        _cleanup_free_ struct container_info *infos = calloc(n ? n : 1, sizeof(*infos));
        if (!infos) {
                docker_containers_free(list, n);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                if (container_info_from_docker(&list[i], &infos[m]) == 0 && infos[m].id[0])
                        m++;
        }
        docker_containers_free(list, n);
        qsort(infos, m, sizeof(infos[0]), info_cmp);

        pthread_mutex_lock(&c->mu);
        /* Gone: not listed, and not written or seen since the list began (a
         * container we just created may be younger than the list). */
        for (size_t i = 0; i < c->n;) {
                struct container_info key;
                memcpy(key.id, c->v[i]->ci.id, sizeof(key.id));
                if (c->v[i]->seq <= seq0 && !bsearch(&key, infos, m, sizeof(infos[0]), info_cmp)) {
                        if (changes_push(&ch, &c->v[i]->ci, true) < 0)
                                r = -ENOMEM;
                        remove_at(c, i);
                } else {
                        i++;
                }
        }
        for (size_t j = 0; j < m; j++) {
                size_t i;
                struct centry *e = NULL;
                if (find(c, infos[j].id, &i)) {
                        e = c->v[i];
                        if (!merge(&e->ci, &infos[j]))
                                continue;
                        owner_relink(c, e);
                        e->seq = ++c->seq;
                } else {
                        e = insert_at(c, i, &infos[j]);
                        if (!e) {
                                r = -ENOMEM;
                                continue;
                        }
                }
                if (changes_push(&ch, &e->ci, false) < 0)
                        r = -ENOMEM;
        }
        if (r == 0) {
                /* The stream starts right after: report connected from here
                 * so that nobody sees synced but disconnected at start. */
                c->synced = true;
                c->connected = true;
                pthread_cond_broadcast(&c->cond);
        }
        pthread_mutex_unlock(&c->mu);
        changes_deliver(c, &ch);
        return r;
}

static int on_event(const struct docker_event *ev, void *userdata)
{
        struct container_cache *c = userdata;
        struct container_info copy;
        bool changed = false, removed = false;
        size_t i;

        if (ev->time_nano > c->last_nano)
                c->last_nano = ev->time_nano;
        c->got_event = true;
        if (!streq(ev->type, "container") || !ev->id || !ev->action)
                goto out;
        const char *a = ev->action;
        enum docker_health health = DOCKER_HEALTH_NONE;
        if (str_has_prefix(a, "health_status: "))
                health = docker_health_from_string(a + strlen("health_status: "));
        if (!streq(a, "create") && !streq(a, "start") && !streq(a, "die") && !streq(a, "oom") &&
            !streq(a, "destroy") && health == DOCKER_HEALTH_NONE)
                goto out;

        pthread_mutex_lock(&c->mu);
        bool found = find(c, ev->id, &i);
        if (streq(a, "destroy")) {
                if (found) {
                        copy = c->v[i]->ci;
                        remove_at(c, i);
                        changed = removed = true;
                }
                pthread_mutex_unlock(&c->mu);
                goto deliver;
        }
        /* Attributes carry the container's labels and its name. */
        struct docker_container dc = {
            .id = (char *)ev->id,
            .name = (char *)json_string_value(json_object_get(ev->attributes, "name")),
            .labels = (json_t *)ev->attributes,
        };
        struct container_info from_event;
        if (!found) {
                if (container_info_from_docker(&dc, &from_event) < 0 ||
                    !insert_at(c, i, &from_event)) {
                        pthread_mutex_unlock(&c->mu);
                        goto out;
                }
        }
        struct container_info *ci = &c->v[i]->ci;
        struct container_info old = *ci;
        if (found && (!ci->name[0] || !ci->kind[0] || !ci->ns[0] || !ci->owner[0]) &&
            container_info_from_docker(&dc, &from_event) == 0) {
                fill_identity(ci, &from_event);
                owner_relink(c, c->v[i]);
        }
        int64_t ms = ev->time_nano / 1000000;
        if (streq(a, "create")) {
                raise_state(ci, DOCKER_STATE_CREATED);
        } else if (streq(a, "start")) {
                raise_state(ci, DOCKER_STATE_RUNNING);
                if (!ci->started_ms)
                        ci->started_ms = ms;
        } else if (streq(a, "die")) {
                int64_t code;
                raise_state(ci, DOCKER_STATE_EXITED);
                if (!(ci->details_known && ci->exit_known) &&
                    parse_int64(json_string_value(json_object_get(ev->attributes, "exitCode")),
                                INT_MIN, INT_MAX, &code) == 0) {
                        ci->exit_known = true;
                        ci->exit_code = (int)code;
                }
                if (!ci->finished_ms)
                        ci->finished_ms = ms;
        } else if (streq(a, "oom")) {
                ci->oom_killed = true;
        } else if (health != DOCKER_HEALTH_NONE) {
                ci->health = health;
        }
        changed = !found || memcmp(&old, ci, sizeof(old)) != 0;
        if (changed)
                c->v[i]->seq = ++c->seq;
        copy = *ci;
        pthread_mutex_unlock(&c->mu);

deliver:
        if (changed && c->handler)
                c->handler(&copy, removed, c->userdata);
out:
        pthread_mutex_lock(&c->mu);
        bool stop = c->stop;
        pthread_mutex_unlock(&c->mu);
        return stop ? 1 : 0;
}

static void set_connected(struct container_cache *c, bool connected)
{
        pthread_mutex_lock(&c->mu);
        c->connected = connected;
        pthread_mutex_unlock(&c->mu);
}

static void *container_thread(void *arg)
{
        struct container_cache *c = arg;
        int delay = RECONNECT_BACKOFF_MIN_MS;

        for (;;) {
                int64_t since = time_now_ms() * 1000000 - SINCE_MARGIN_NS;
                int r = cache_relist(c);
                if (r == 0) {
                        if (c->last_nano > since)
                                since = c->last_nano;
                        int64_t t0 = time_mono_ms();
                        c->got_event = false;
                        r = docker_events(c->dc, c->label, since, on_event, c, NULL);
                        set_connected(c, false);
                        if (c->got_event || time_mono_ms() - t0 >= RECONNECT_HEALTHY_MS)
                                delay = RECONNECT_BACKOFF_MIN_MS;
                }
                if (watchers_sleep_unless_stopped(&c->mu, &c->cond, &c->stop, r == 0 ? 0 : delay))
                        break;
                if (r < 0)
                        delay = delay * 2 > RECONNECT_BACKOFF_MAX_MS ? RECONNECT_BACKOFF_MAX_MS
                                                                     : delay * 2;
        }
        return NULL;
}

/* ---- public API ---------------------------------------------------------- */

int container_cache_new(struct docker *d, container_event_fn handler, void *userdata,
                        struct container_cache **ret, struct berth_error *err)
{
        return container_cache_new_filtered(d, MANAGED_LABEL, handler, userdata, ret, err);
}

int container_cache_new_filtered(struct docker *d, const char *label_filter,
                                 container_event_fn handler, void *userdata,
                                 struct container_cache **ret, struct berth_error *err)
{
        if (!d || !ret || !label_filter)
                return berth_error_set(err, -EINVAL, "container cache: invalid argument");
        struct container_cache *c = calloc(1, sizeof(*c));
        if (!c)
                return berth_error_set(err, -ENOMEM, "container cache: out of memory");
        if (str_copy(c->label, sizeof(c->label), label_filter) < 0) {
                free(c);
                return berth_error_set(err, -EINVAL, "container cache: label filter too long");
        }
        c->handler = handler;
        c->userdata = userdata;
        pthread_mutex_init(&c->mu, NULL);
        cond_init_monotonic(&c->cond);
        c->dc = docker_clone(d);
        if (!c->dc) {
                container_cache_free(c);
                return berth_error_set(err, -ENOMEM, "container cache: out of memory");
        }
        int r = pthread_create(&c->thread, NULL, container_thread, c);
        if (r != 0) {
                container_cache_free(c);
                return berth_error_set(err, -r, "container cache: start thread: %s", strerror(r));
        }
        c->thread_started = true;
        *ret = c;
        return 0;
}

void container_cache_free(struct container_cache *c)
{
        if (!c)
                return;
        if (c->thread_started) {
                pthread_mutex_lock(&c->mu);
                c->stop = true;
                pthread_cond_broadcast(&c->cond);
                pthread_mutex_unlock(&c->mu);
                docker_interrupt(c->dc);
                pthread_join(c->thread, NULL);
        }
        docker_free(c->dc);
        for (size_t i = 0; i < c->n; i++)
                free(c->v[i]);
        free(c->v);
        pthread_cond_destroy(&c->cond);
        pthread_mutex_destroy(&c->mu);
        free(c);
}

int container_cache_wait_synced(struct container_cache *c, int timeout_ms)
{
        struct timespec ts;
        int r = 0;

        time_mono_deadline(&ts, timeout_ms);
        pthread_mutex_lock(&c->mu);
        while (!c->synced && !c->stop) {
                if (timeout_ms < 0) {
                        pthread_cond_wait(&c->cond, &c->mu);
                } else if (pthread_cond_timedwait(&c->cond, &c->mu, &ts) == ETIMEDOUT) {
                        break;
                }
        }
        if (!c->synced)
                r = c->stop ? -ECANCELED : -ETIMEDOUT;
        pthread_mutex_unlock(&c->mu);
        return r;
}

bool container_cache_connected(struct container_cache *c)
{
        LOCK_SCOPE(&c->mu);
        return c->connected;
}

static int attempt_cmp(const void *a, const void *b)
{
        const struct container_info *x = a, *y = b;
        if (x->attempt != y->attempt)
                return x->attempt < y->attempt ? -1 : 1;
        return strcmp(x->id, y->id);
}

/* What a query selects; NULL fields match anything. */
struct container_query {
        const char *uid;
        const char *kind, *ns, *owner;
};

static bool query_matches(const struct container_query *q, const struct container_info *ci)
{
        return (!q->uid || streq(ci->uid, q->uid)) && (!q->kind || streq(ci->kind, q->kind)) &&
               (!q->ns || streq(ci->ns, q->ns)) && (!q->owner || streq(ci->owner, q->owner));
}

/* Counts the matches of q, and copies them to out unless it is NULL: from
 * the owner's chain when q names an owner, else from every entry. Caller
 * holds mu. */
static size_t collect(struct container_cache *c, const struct container_query *q,
                      struct container_info *out)
{
        size_t n = 0;

        if (q->kind && q->ns && q->owner) {
                for (struct centry *e = c->owners[owner_bucket(q->kind, q->ns, q->owner)]; e;
                     e = e->owner_next)
                        if (query_matches(q, &e->ci)) {
                                if (out)
                                        out[n] = e->ci;
                                n++;
                        }
                return n;
        }
        for (size_t i = 0; i < c->n; i++)
                if (query_matches(q, &c->v[i]->ci)) {
                        if (out)
                                out[n] = c->v[i]->ci;
                        n++;
                }
        return n;
}

/* Copies of the matching containers, by attempt ascending. */
static int query(struct container_cache *c, const struct container_query *q,
                 struct container_info **ret)
{
        struct container_info *v = NULL;
        size_t n = 0;

        if (!ret)
                return -EINVAL;
        pthread_mutex_lock(&c->mu);
        n = collect(c, q, NULL);
        if (n > 0) {
                v = calloc(n, sizeof(*v));
                if (!v) {
                        pthread_mutex_unlock(&c->mu);
                        return -ENOMEM;
                }
                n = collect(c, q, v);
        }
        pthread_mutex_unlock(&c->mu);
        if (n > 1)
                qsort(v, n, sizeof(*v), attempt_cmp);
        *ret = v;
        return (int)n;
}

int container_cache_by_uid(struct container_cache *c, const char *uid, struct container_info **ret)
{
        if (!uid)
                return -EINVAL;
        return query(c, &(struct container_query){.uid = uid}, ret);
}

int container_cache_by_owner(struct container_cache *c, const char *kind, const char *ns,
                             const char *name, struct container_info **ret)
{
        if (!kind || !ns || !name)
                return -EINVAL;
        return query(c, &(struct container_query){.kind = kind, .ns = ns, .owner = name}, ret);
}

int container_cache_all(struct container_cache *c, struct container_info **ret)
{
        return query(c, &(struct container_query){0}, ret);
}

void container_cache_upsert(struct container_cache *c, const struct container_info *ci)
{
        size_t i;

        if (!ci || !ci->id[0])
                return;
        pthread_mutex_lock(&c->mu);
        if (find(c, ci->id, &i)) {
                merge(&c->v[i]->ci, ci);
                owner_relink(c, c->v[i]);
                c->v[i]->seq = ++c->seq;
        } else {
                /* Out of memory: the event or the next relist brings it. */
                (void)insert_at(c, i, ci);
        }
        pthread_mutex_unlock(&c->mu);
}

void container_cache_remove(struct container_cache *c, const char *id)
{
        size_t i;

        if (!id)
                return;
        pthread_mutex_lock(&c->mu);
        if (find(c, id, &i))
                remove_at(c, i);
        pthread_mutex_unlock(&c->mu);
}
