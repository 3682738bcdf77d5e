/* object_cache: the history ring of recent events, the subscriptions that
 * resume from it, and the delivery of each batch to the handler and the
 * subscriptions.
 *
 * A subscription from revision R first gets the ring's events after R (its
 * replay), then every live event after the revision the cache had when it
 * subscribed. Both are delivered on the cache thread while it holds
 * deliver_mu, which also guards the subscription list, so a subscribe or
 * unsubscribe from another thread waits for the batch in flight. Lock order
 * and threads: see object-cache.c.
 */
#include "watchers-internal.h"

/* ---- events -------------------------------------------------------------- */

void cache_event_release(struct cache_event *e)
{
        free(e->key);
        object_blob_unref(e->obj);
        object_blob_unref(e->prev);
        e->key = NULL;
        e->obj = NULL;
        e->prev = NULL;
}

void cache_events_release(struct cache_events *b)
{
        for (size_t i = 0; i < b->n; i++)
                cache_event_release(&b->v[i]);
        free(b->v);
        *b = (struct cache_events){0};
}

/* An owned event: a copy of key and new references to obj and prev. */
static int cache_event_init(enum object_event_type type, const char *key,
                            const struct object_blob *obj, const struct object_blob *prev,
                            int64_t rev, size_t bytes, struct cache_event *ret)
{
        char *k = strdup(key);
        if (!k)
                return -ENOMEM;
        *ret = (struct cache_event){.type = type,
                                    .key = k,
                                    .obj = object_blob_ref(obj),
                                    .prev = object_blob_ref(prev),
                                    .rev = rev,
                                    .bytes = bytes};
        return 0;
}

int cache_events_push(struct cache_events *b, enum object_event_type type, const char *key,
                      const struct object_blob *obj, const struct object_blob *prev, int64_t rev,
                      size_t bytes)
{
        struct cache_event *v = watchers_grow(b->v, b->n, &b->cap, sizeof(*v), 16);
        if (!v)
                return -ENOMEM;
        b->v = v;
        int r = cache_event_init(type, key, obj, prev, rev, bytes, &b->v[b->n]);
        if (r < 0)
                return r;
        b->n++;
        return 0;
}

/* ---- the history ring (caller holds mu) ---------------------------------- */

int object_cache_ring_push(struct object_cache *c, const struct cache_event *e)
{
        struct cache_event copy;
        int r = cache_event_init(e->type, e->key, e->obj, e->prev, e->rev, e->bytes, &copy);
        if (r < 0)
                return r;
        /* Bounded in events and in bytes: large objects written often (a
         * Workflow's status) must not pin thousands of old versions. */
        while (c->ring_n > 0 &&
               (c->ring_n == c->ring_cap || c->ring_bytes + e->bytes > c->ring_bytes_max)) {
                struct cache_event *old = &c->ring[c->ring_head];
                c->ring_base = old->rev;
                c->ring_bytes -= old->bytes;
                cache_event_release(old);
                c->ring_head = (c->ring_head + 1) % c->ring_cap;
                c->ring_n--;
        }
        c->ring[(c->ring_head + c->ring_n) % c->ring_cap] = copy;
        c->ring_n++;
        c->ring_bytes += e->bytes;
        return 0;
}

void object_cache_ring_release(struct object_cache *c)
{
        for (size_t i = 0; i < c->ring_n; i++)
                cache_event_release(&c->ring[(c->ring_head + i) % c->ring_cap]);
        free(c->ring);
        c->ring = NULL;
        c->ring_n = 0;
}

/* ---- delivery ------------------------------------------------------------ */

static void sub_free(struct object_cache_sub *s)
{
        if (!s)
                return;
        for (size_t i = 0; i < s->n_replay; i++)
                cache_event_release(&s->replay[i]);
        free(s->replay);
        free(s->prefix);
        free(s);
}

/* The trees of one change, parsed when a callback first asks: the cache
 * thread delivers it to every callback in turn, so no lock. A parse fails
 * only when out of memory (the bytes were valid JSON when the blob was
 * built); it is tried again at the next ask. */
struct object_event_trees {
        json_t *obj, *prev;
};

/* An event with room for its trees, for all the callbacks it reaches. */
struct tree_event {
        struct object_event ev;
        struct object_event_trees trees;
};

static void tree_event_init(const struct cache_event *e, struct tree_event *t)
{
        *t = (struct tree_event){0};
        t->ev = (struct object_event){.type = e->type,
                                      .key = e->key,
                                      .revision = e->rev,
                                      .blob = e->obj,
                                      .prev_blob = e->prev,
                                      .trees = &t->trees};
}

static void tree_event_release(struct tree_event *t)
{
        json_decref(t->trees.obj);
        json_decref(t->trees.prev);
}

const json_t *object_event_object(const struct object_event *ev)
{
        if (!ev->trees->obj)
                ev->trees->obj = object_blob_parse(ev->blob);
        return ev->trees->obj;
}

const json_t *object_event_prev(const struct object_event *ev)
{
        if (!ev->trees->prev && ev->prev_blob)
                ev->trees->prev = object_blob_parse(ev->prev_blob);
        return ev->trees->prev;
}

static bool sub_wants(const struct object_cache_sub *s, const struct cache_event *e)
{
        return !s->dead && e->rev > s->last_rev && str_has_prefix(e->key, s->prefix);
}

static bool handler_wants(const struct object_cache *c, const struct cache_event *e)
{
        return c->handler && (!c->handler_wants || c->handler_wants(e->key, c->userdata));
}

/* Whether none of v[i+1..n) of v[i]'s revision goes to the callback (the
 * subscription s, or the handler when s is NULL): a revision's events are
 * consecutive, so the scan stops at the first of another revision. */
static bool revision_ends(const struct object_cache *c, const struct object_cache_sub *s,
                          const struct cache_event *v, size_t n, size_t i)
{
        for (size_t j = i + 1; j < n && v[j].rev == v[i].rev; j++)
                if (s ? sub_wants(s, &v[j]) : handler_wants(c, &v[j]))
                        return false;
        return true;
}

void object_cache_deliver(struct object_cache *c, const struct cache_events *evs)
{
        /* Replays first: they end at or before the events of this batch. */
        for (struct object_cache_sub *s = c->subs; s; s = s->next) {
                struct cache_event *v = s->replay;
                size_t n = s->n_replay;
                s->replay = NULL;
                s->n_replay = 0;
                for (size_t i = 0; i < n; i++) {
                        if (!s->dead) {
                                struct tree_event t;
                                tree_event_init(&v[i], &t);
                                t.ev.revision_ends = i + 1 == n || v[i + 1].rev != v[i].rev;
                                s->fn(&t.ev, s->userdata);
                                tree_event_release(&t);
                        }
                        cache_event_release(&v[i]);
                }
                free(v);
        }

        for (size_t i = 0; i < evs->n; i++) {
                const struct cache_event *e = &evs->v[i];
                bool to_handler = handler_wants(c, e);
                bool wanted = to_handler;
                for (struct object_cache_sub *s = c->subs; !wanted && s; s = s->next)
                        wanted = sub_wants(s, e);
                /* One tree at a time: a relist of thousands of objects never
                 * holds their trees together. */
                if (!wanted)
                        continue;
                struct tree_event t;
                tree_event_init(e, &t);
                if (to_handler) {
                        t.ev.revision_ends = revision_ends(c, NULL, evs->v, evs->n, i);
                        c->handler(&t.ev, c->userdata);
                }
                for (struct object_cache_sub *s = c->subs; s; s = s->next) {
                        if (sub_wants(s, e)) {
                                t.ev.revision_ends = revision_ends(c, s, evs->v, evs->n, i);
                                s->fn(&t.ev, s->userdata);
                        }
                }
                tree_event_release(&t);
        }
}

void object_cache_set_handler_filter(struct object_cache *c,
                                     bool (*wants)(const char *key, void *userdata))
{
        pthread_mutex_lock(&c->deliver_mu);
        c->handler_wants = wants;
        pthread_mutex_unlock(&c->deliver_mu);
}

void object_cache_reap_subs(struct object_cache *c)
{
        for (struct object_cache_sub **p = &c->subs; *p;) {
                struct object_cache_sub *s = *p;
                if (s->dead) {
                        *p = s->next;
                        sub_free(s);
                } else {
                        p = &s->next;
                }
        }
}

void object_cache_free_subs(struct object_cache *c)
{
        while (c->subs) {
                struct object_cache_sub *s = c->subs;
                c->subs = s->next;
                sub_free(s);
        }
}

/* ---- subscriptions ------------------------------------------------------- */

/* Under mu: true when called from a callback this cache is delivering. */
static bool on_cache_thread(const struct object_cache *c)
{
        return c->delivering && pthread_equal(c->delivering_thread, pthread_self());
}

int object_cache_subscribe(struct object_cache *c, const char *key_prefix, int64_t from_revision,
                           object_event_fn fn, void *userdata, struct object_cache_sub **ret)
{
        struct cache_events replay = {0};
        int r = 0;

        if (!c || !fn || !ret)
                return -EINVAL;
        struct object_cache_sub *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->c = c;
        s->fn = fn;
        s->userdata = userdata;
        s->prefix = strdup(key_prefix ? key_prefix : "");
        if (!s->prefix) {
                sub_free(s);
                return -ENOMEM;
        }

        pthread_mutex_lock(&c->mu);
        bool nested = on_cache_thread(c);
        if (!nested) {
                /* Keep the lock order: deliver_mu first. */
                pthread_mutex_unlock(&c->mu);
                pthread_mutex_lock(&c->deliver_mu);
                pthread_mutex_lock(&c->mu);
        }
        if (from_revision < c->ring_base && from_revision < c->revision) {
                r = -ERANGE;
        } else {
                for (size_t i = 0; r == 0 && i < c->ring_n; i++) {
                        const struct cache_event *e = &c->ring[(c->ring_head + i) % c->ring_cap];
                        if (e->rev > from_revision && str_has_prefix(e->key, s->prefix))
                                r = cache_events_push(&replay, e->type, e->key, e->obj, e->prev,
                                                      e->rev, e->bytes);
                }
        }
        if (r == 0) {
                s->last_rev = from_revision > c->revision ? from_revision : c->revision;
                s->replay = TAKE_PTR(replay.v);
                s->n_replay = replay.n;
                replay = (struct cache_events){0};
                s->next = c->subs;
                c->subs = s;
                if (s->n_replay > 0) {
                        c->replay_pending = true;
                        pthread_cond_signal(&c->work);
                }
        }
        pthread_mutex_unlock(&c->mu);
        if (!nested)
                pthread_mutex_unlock(&c->deliver_mu);

        if (r < 0) {
                cache_events_release(&replay);
                sub_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

void object_cache_unsubscribe(struct object_cache_sub *sub)
{
        if (!sub)
                return;
        struct object_cache *c = sub->c;

        pthread_mutex_lock(&c->mu);
        if (on_cache_thread(c)) {
                /* Called from a callback: the batch loop frees it when done. */
                sub->dead = true;
                pthread_mutex_unlock(&c->mu);
                return;
        }
        pthread_mutex_unlock(&c->mu);

        pthread_mutex_lock(&c->deliver_mu);
        pthread_mutex_lock(&c->mu);
        for (struct object_cache_sub **p = &c->subs; *p; p = &(*p)->next) {
                if (*p == sub) {
                        *p = sub->next;
                        break;
                }
        }
        pthread_mutex_unlock(&c->mu);
        pthread_mutex_unlock(&c->deliver_mu);
        sub_free(sub);
}
