/* events.c: the event recorder — a bounded queue filled by the controllers,
 * a writer thread that aggregates repeats into one Event, the batch leases
 * that expire Events, and the sweep (the contracts are in events.h). */
#include <inttypes.h>
#include <stdatomic.h>

#include "events.h"

#define QUEUE_MAX_LIMIT (1024 * 1024)
/* Compare-and-swap rounds of one write: a conflict means another writer
 * (a user, a replica that led a moment ago) changed the Event; read it and
 * count on. Past this many the record is dropped. */
#define WRITE_TRIES 4

/* One record, as events_record queued it. */
struct event_item {
        enum event_type type;
        int64_t at_ms;
        char kind[64];
        char ns[64];
        char name[64];
        char uid[64];
        char reason[EVENT_REASON_MAX + 1];
        char message[]; /* NUL-terminated, at most EVENT_MESSAGE_MAX bytes */
};

/* What is known of a stored Event: from the index, or read back. */
struct event_state {
        bool exists; /* false: it is to be created */
        int64_t rev; /* its mod revision, when it exists */
        int64_t count;
        int64_t first_ms, last_ms;
        char uid[RANDOM_UID_LEN];
};

/* An entry of the index of recent Events (the writer's alone). */
struct index_slot {
        bool used;
        char ns[64];
        char name[64];
        struct event_state st;
};

struct subscriber {
        events_fn fn;
        void *userdata;
};

struct events_recorder {
        struct store *store;
        char *prefix;
        char *host;
        int64_t ttl_ms;
        int64_t window_ms; /* writes that share one lease */
        int64_t sweep_ms;
        int64_t (*now_ms)(void);
        size_t queue_max;

        /* lock guards everything up to the counters */
        pthread_mutex_t lock;
        pthread_cond_t wake; /* the writer: a record, start or stop, quit */
        pthread_cond_t idle; /* flushers: the queue is empty and nothing is being written */
        struct event_item **ring;
        size_t head, n;
        bool busy;    /* the writer holds a popped record */
        bool writing; /* between events_start and events_stop */
        bool quit;
        bool fenced;
        char fence_key[STORE_KEY_MAX + 1];
        int64_t fence_rev;
        int64_t next_sweep_mono;
        struct subscriber subs[EVENTS_SUBSCRIBERS_MAX];
        size_t n_subs;

        _Atomic uint64_t written;
        _Atomic uint64_t dropped;
        _Atomic size_t queued;

        /* the writer thread's own */
        pthread_t thread;
        bool thread_started;
        struct index_slot *index;
        int64_t lease_id; /* 0: none (granting failed) */
        int64_t lease_mono;
        bool lease_tried;
};

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
        return v < lo ? lo : v > hi ? hi : v;
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
        for (const char *p = s ? s : ""; *p; p++) {
                h ^= (unsigned char)*p;
                h *= 0x100000001b3ULL;
        }
        /* The NUL byte that ends each field (xor 0, multiply): "ab"+"c"
         * hashes apart from "a"+"bc". */
        return h * 0x100000001b3ULL;
}

void events_name(const struct event_object *involved, enum event_type type, const char *reason,
                 const char *message, char ret[64])
{
        uint64_t h = 0xcbf29ce484222325ULL;
        const char *name = involved->name ? involved->name : "";
        size_t len = strlen(name);

        h = fnv1a(h, involved->kind);
        h = fnv1a(h, involved->ns);
        h = fnv1a(h, name);
        h = fnv1a(h, involved->uid);
        h = fnv1a(h, event_type_to_string(type));
        h = fnv1a(h, reason);
        h = fnv1a(h, message);
        if (len > EVENTS_NAME_PREFIX_MAX)
                len = EVENTS_NAME_PREFIX_MAX;
        snprintf(ret, 64, "%.*s-%016" PRIx64, (int)len, name, h);
}

/* ---- the queue ----------------------------------------------------------- */

static void drop_queued_locked(struct events_recorder *rec)
{
        while (rec->n > 0) {
                free(rec->ring[rec->head]);
                rec->ring[rec->head] = NULL;
                rec->head = (rec->head + 1) % rec->queue_max;
                rec->n--;
                atomic_fetch_add(&rec->dropped, 1);
        }
        atomic_store(&rec->queued, 0);
        pthread_cond_broadcast(&rec->idle);
}

int events_vrecord(struct events_recorder *rec, const struct event_object *involved,
                   enum event_type type, const char *reason, const char *fmt, va_list ap)
{
        char message[EVENT_MESSAGE_MAX + 1];

        if (!rec)
                return 0;
        if (!involved || !involved->kind || !involved->name || !*involved->name ||
            (type != EVENT_NORMAL && type != EVENT_WARNING) || !event_reason_is_valid(reason))
                return -EINVAL;
        if (vsnprintf(message, sizeof(message), fmt, ap) < 0)
                message[0] = '\0';
        size_t len = strlen(message);
        /* A cut may split a character: the Event must stay valid JSON text. */
        utf8_scrub(message, len);

        struct event_item *it = calloc(1, sizeof(*it) + len + 1);
        if (!it)
                return -ENOMEM;
        it->type = type;
        it->at_ms = rec->now_ms();
        (void)str_copy(it->kind, sizeof(it->kind), involved->kind);
        (void)str_copy(it->ns, sizeof(it->ns), involved->ns ? involved->ns : "");
        (void)str_copy(it->name, sizeof(it->name), involved->name);
        (void)str_copy(it->uid, sizeof(it->uid), involved->uid ? involved->uid : "");
        (void)str_copy(it->reason, sizeof(it->reason), reason);
        memcpy(it->message, message, len + 1);

        pthread_mutex_lock(&rec->lock);
        int r = !rec->writing ? -EAGAIN : rec->n >= rec->queue_max ? -ENOBUFS : 0;
        if (r == 0) {
                rec->ring[(rec->head + rec->n) % rec->queue_max] = it;
                rec->n++;
                atomic_store(&rec->queued, rec->n);
                pthread_cond_signal(&rec->wake);
        }
        pthread_mutex_unlock(&rec->lock);
        if (r < 0) {
                free(it);
                atomic_fetch_add(&rec->dropped, 1);
        }
        return r;
}

int events_record(struct events_recorder *rec, const struct event_object *involved,
                  enum event_type type, const char *reason, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        int r = events_vrecord(rec, involved, type, reason, fmt, ap);
        va_end(ap);
        return r;
}

void events_stats(const struct events_recorder *rec, uint64_t *written, uint64_t *dropped,
                  size_t *queued)
{
        if (written)
                *written = rec ? atomic_load(&rec->written) : 0;
        if (dropped)
                *dropped = rec ? atomic_load(&rec->dropped) : 0;
        if (queued)
                *queued = rec ? atomic_load(&rec->queued) : 0;
}

int events_subscribe(struct events_recorder *rec, events_fn fn, void *userdata)
{
        LOCK_SCOPE(&rec->lock);
        if (rec->n_subs >= EVENTS_SUBSCRIBERS_MAX)
                return -ENOSPC;
        rec->subs[rec->n_subs++] = (struct subscriber){fn, userdata};
        return 0;
}

/* ---- leadership ----------------------------------------------------------- */

void events_start(struct events_recorder *rec, const struct store_guard *fence)
{
        if (!rec)
                return;
        LOCK_SCOPE(&rec->lock);
        rec->fenced = fence && fence->key;
        rec->fence_key[0] = '\0';
        rec->fence_rev = 0;
        if (rec->fenced) {
                (void)str_copy(rec->fence_key, sizeof(rec->fence_key), fence->key);
                rec->fence_rev = fence->mod_revision;
        }
        rec->writing = true;
        /* A new leader sweeps after a minute: what a replica before it left
         * without a lease goes without waiting a whole period. */
        rec->next_sweep_mono = time_mono_ms() + EVENTS_SWEEP_MIN_MS;
        pthread_cond_signal(&rec->wake);
}

int events_flush(struct events_recorder *rec, int64_t timeout_ms)
{
        struct timespec deadline;
        int r = 0;

        if (!rec)
                return 0;
        time_mono_deadline(&deadline, timeout_ms);
        LOCK_SCOPE(&rec->lock);
        while ((rec->n > 0 || rec->busy) && r != ETIMEDOUT)
                r = pthread_cond_timedwait(&rec->idle, &rec->lock, &deadline);
        return rec->n > 0 || rec->busy ? -ETIMEDOUT : 0;
}

void events_stop(struct events_recorder *rec)
{
        if (!rec)
                return;
        (void)events_flush(rec, EVENTS_STOP_FLUSH_MS);
        LOCK_SCOPE(&rec->lock);
        rec->writing = false;
        drop_queued_locked(rec);
}

/* The fence of the current term, copied for use without the lock: *ret is
 * NULL when unfenced, else guard pointing into key. */
static void fence_copy(struct events_recorder *rec, char key[STORE_KEY_MAX + 1],
                       struct store_guard *guard, const struct store_guard **ret)
{
        LOCK_SCOPE(&rec->lock);
        *ret = NULL;
        if (!rec->fenced)
                return;
        memcpy(key, rec->fence_key, STORE_KEY_MAX + 1);
        *guard = (struct store_guard){.key = key, .mod_revision = rec->fence_rev};
        *ret = guard;
}

/* ---- writing one Event --------------------------------------------------- */

static int64_t time_at(const json_t *obj, const char *path)
{
        int64_t t = 0;
        const char *s = json_path_string(obj, path);

        if (!s || time_parse_rfc3339(s, &t) < 0)
                return 0;
        return t;
}

/* The lease this write attaches to: the batch's, or a new one once the
 * window is over (renew: the batch's expired early). 0 when granting
 * failed: the Event goes without one (the sweep deletes it), and granting
 * is tried again in the next window. */
static int64_t batch_lease(struct events_recorder *rec, bool renew)
{
        int64_t now = time_mono_ms();
        int64_t id = 0;

        if (!renew && rec->lease_tried && now - rec->lease_mono < rec->window_ms)
                return rec->lease_id;
        if (store_lease_grant(rec->store, (rec->ttl_ms + rec->window_ms + 999) / 1000, &id, NULL) <
            0)
                id = 0;
        rec->lease_id = id;
        rec->lease_mono = now;
        rec->lease_tried = true;
        return id;
}

/* Reads the stored Event at key into *st (st->exists false when there is
 * none). A value that is not an Event's reads as one never to count on. */
static int read_state(struct events_recorder *rec, const char *key, struct event_state *st,
                      struct berth_error *err)
{
        struct store_kv kv = {0};
        int r = store_get(rec->store, key, &kv, err);

        *st = (struct event_state){0};
        if (r == -ENOENT) {
                berth_error_clear(err);
                return 0;
        }
        if (r < 0)
                return r;
        _cleanup_json_ json_t *obj = json_loadb(kv.value, kv.value_len, 0, NULL);
        st->exists = true;
        st->rev = kv.mod_revision;
        store_kv_release(&kv);
        st->count = json_integer_value(json_object_get(obj, "count"));
        st->first_ms = time_at(obj, "firstTimestamp");
        st->last_ms = time_at(obj, "lastTimestamp");
        (void)str_copy(st->uid, sizeof(st->uid), json_path_string(obj, "metadata.uid") ?: "");
        return 0;
}

/* The Event it makes of what is stored (st): a repeat counts on, anything
 * else starts afresh. *ret_next is the state it writes (but its revision).
 * New reference, or NULL (-ENOMEM, or no uid could be made). */
static json_t *event_json(const struct events_recorder *rec, const struct event_item *it,
                          const char *ns, const char *name, const struct event_state *st,
                          struct event_state *ret_next)
{
        bool repeat = st->exists && st->count > 0 && st->last_ms > 0 && st->uid[0] &&
                      it->at_ms - st->last_ms < EVENTS_AGGREGATE_MS;
        struct event_state next = {.count = 1, .first_ms = it->at_ms, .last_ms = it->at_ms};
        char created[RFC3339_MAX], first[RFC3339_MAX], last[RFC3339_MAX];

        if (repeat) {
                next.count = st->count + 1;
                next.first_ms = st->first_ms > 0 ? st->first_ms : it->at_ms;
                next.last_ms = st->last_ms > it->at_ms ? st->last_ms : it->at_ms;
                memcpy(next.uid, st->uid, sizeof(next.uid));
        } else if (random_uid(next.uid) < 0) {
                return NULL;
        }
        time_format_rfc3339(next.first_ms, created);
        time_format_rfc3339_ms(next.first_ms, first);
        time_format_rfc3339_ms(next.last_ms, last);
        *ret_next = next;
        return json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:i}, s:{s:s, s:s*, s:s, s:s*}, s:s, "
                         "s:s, s:s, s:I, s:s, s:s, s:{s:s, s:s}}",
                         "apiVersion", MANIFEST_API_VERSION, "kind", "Event", "metadata", "name",
                         name, "namespace", ns, "uid", next.uid, "creationTimestamp", created,
                         "generation", 1, "involvedObject", "kind", it->kind, "namespace",
                         it->ns[0] ? it->ns : NULL, "name", it->name, "uid",
                         it->uid[0] ? it->uid : NULL, "type", event_type_to_string(it->type),
                         "reason", it->reason, "message", it->message, "count",
                         (json_int_t)next.count, "firstTimestamp", first, "lastTimestamp", last,
                         "source", "component", EVENTS_COMPONENT, "host", rec->host);
}

static struct index_slot *slot_of(struct events_recorder *rec, const char *ns, const char *name)
{
        uint64_t h = fnv1a(fnv1a(0xcbf29ce484222325ULL, ns), name);

        return &rec->index[h % EVENTS_INDEX_SLOTS];
}

/* Writes one record: creates its Event or counts it on, under fence.
 * *ret_event is the Event written (new reference). */
static int write_item(struct events_recorder *rec, const struct event_item *it,
                      const struct store_guard *fence, json_t **ret_event, struct berth_error *err)
{
        const struct event_object involved = {it->kind, it->ns, it->name, it->uid};
        const char *ns = it->ns[0] ? it->ns : "default";
        char name[64];

        events_name(&involved, it->type, it->reason, it->message, name);
        _cleanup_free_ char *key = object_key(rec->prefix, "events", ns, name);
        if (!key)
                return berth_error_set(err, -ENOMEM, "event %s/%s: out of memory", ns, name);
        struct index_slot *slot = slot_of(rec, ns, name);
        struct event_state st = {0};
        if (slot->used && streq(slot->ns, ns) && streq(slot->name, name))
                st = slot->st;
        slot->used = false; /* until this write says what is stored */
        int64_t lease = batch_lease(rec, false);

        for (int attempt = 0; attempt < WRITE_TRIES; attempt++) {
                struct event_state next;
                int64_t rev = 0;
                _cleanup_json_ json_t *ev = event_json(rec, it, ns, name, &st, &next);
                _cleanup_free_ char *data = ev ? json_dumps(ev, JSON_COMPACT) : NULL;

                if (!data)
                        return berth_error_set(err, -ENOMEM, "event %s: out of memory", key);
                int r = store_put_guarded(rec->store, key, data, strlen(data),
                                          st.exists ? st.rev : STORE_MUST_NOT_EXIST, lease, fence,
                                          &rev, err);
                if (r == 0) {
                        next.exists = true;
                        next.rev = rev;
                        *slot = (struct index_slot){.used = true, .st = next};
                        (void)str_copy(slot->ns, sizeof(slot->ns), ns);
                        (void)str_copy(slot->name, sizeof(slot->name), name);
                        *ret_event = TAKE_PTR(ev);
                        return 0;
                }
                if (r == -ENOENT && lease > 0) { /* the batch's lease is gone already */
                        lease = batch_lease(rec, true);
                        continue;
                }
                if (r != -ESTALE)
                        return r;
                r = read_state(rec, key, &st, err);
                if (r < 0)
                        return r;
        }
        return berth_error_set(err, -ESTALE, "event %s kept changing", key);
}

static void notify(struct events_recorder *rec, const json_t *event)
{
        struct subscriber subs[EVENTS_SUBSCRIBERS_MAX];
        size_t n;

        {
                LOCK_SCOPE(&rec->lock);
                n = rec->n_subs;
                memcpy(subs, rec->subs, n * sizeof(subs[0]));
        }
        for (size_t i = 0; i < n; i++)
                subs[i].fn(event, subs[i].userdata);
}

/* ---- the sweep ------------------------------------------------------------ */

int events_sweep(struct events_recorder *rec, size_t *ret_deleted, struct berth_error *err)
{
        char fence_key[STORE_KEY_MAX + 1];
        struct store_guard guard;
        const struct store_guard *fence;
        struct store_kvs kvs = {0};
        size_t deleted = 0;
        _cleanup_free_ char *prefix = str_printf("%sevents/", rec->prefix);
        int r;

        if (!prefix)
                return berth_error_set(err, -ENOMEM, "sweep events: out of memory");
        fence_copy(rec, fence_key, &guard, &fence);
        r = store_list(rec->store, prefix, 0, &kvs, err);
        if (r < 0)
                return r;
        int64_t now = rec->now_ms();
        for (size_t i = 0; i < kvs.n && r >= 0; i++) {
                _cleanup_json_ json_t *obj =
                    json_loadb(kvs.items[i].value, kvs.items[i].value_len, 0, NULL);
                int64_t last = time_at(obj, "lastTimestamp");

                if (last <= 0)
                        last = time_at(obj, "firstTimestamp");
                if (last <= 0)
                        last = time_at(obj, "metadata.creationTimestamp");
                if (last <= 0 || now - last < rec->ttl_ms)
                        continue;
                r = store_delete_guarded(rec->store, kvs.items[i].key, kvs.items[i].mod_revision,
                                         fence, NULL, err);
                if (r == -ENOENT || r == -ESTALE) { /* gone, or just counted on */
                        berth_error_clear(err);
                        r = 0;
                        continue;
                }
                if (r == 0)
                        deleted++;
        }
        store_kvs_release(&kvs);
        if (r < 0)
                return r;
        if (ret_deleted)
                *ret_deleted = deleted;
        return 0;
}

/* ---- the writer thread ---------------------------------------------------- */

static void write_one(struct events_recorder *rec, struct event_item *it)
{
        char fence_key[STORE_KEY_MAX + 1];
        struct store_guard guard;
        const struct store_guard *fence;
        struct berth_error err = {0};
        json_t *event = NULL;

        fence_copy(rec, fence_key, &guard, &fence);
        int r = write_item(rec, it, fence, &event, &err);
        if (r == 0) {
                atomic_fetch_add(&rec->written, 1);
                notify(rec, event);
                json_decref(event);
                return;
        }
        atomic_fetch_add(&rec->dropped, 1);
        if (r == -EPERM) {
                /* Fenced off: another replica leads, and everything queued
                 * would be refused the same way. */
                LOCK_SCOPE(&rec->lock);
                drop_queued_locked(rec);
        }
}

/* ---- writing many Events at once ---------------------------------------- */

/* A record made ready for a batch: its key, the Event and what it makes of
 * the index slot. */
struct prepared {
        char ns[64], name[64];
        char *key;
        json_t *ev;
        char *data;
        struct event_state next; /* what it writes (but its revision) */
        bool stored;             /* the compare: an Event at stored_rev, or none */
        int64_t stored_rev;
};

static void prepared_release(struct prepared *p)
{
        free(p->key);
        json_decref(p->ev);
        free(p->data);
        *p = (struct prepared){0};
}

/* Prepares a record against the index, as write_item's first try does. */
static int prepare(struct events_recorder *rec, const struct event_item *it, struct prepared *p)
{
        const struct event_object involved = {it->kind, it->ns, it->name, it->uid};
        struct event_state st = {0};

        *p = (struct prepared){0};
        (void)str_copy(p->ns, sizeof(p->ns), it->ns[0] ? it->ns : "default");
        events_name(&involved, it->type, it->reason, it->message, p->name);
        struct index_slot *slot = slot_of(rec, p->ns, p->name);
        if (slot->used && streq(slot->ns, p->ns) && streq(slot->name, p->name))
                st = slot->st;
        p->key = object_key(rec->prefix, "events", p->ns, p->name);
        p->ev = p->key ? event_json(rec, it, p->ns, p->name, &st, &p->next) : NULL;
        p->data = p->ev ? json_dumps(p->ev, JSON_COMPACT) : NULL;
        p->stored = st.exists;
        p->stored_rev = st.rev;
        return p->data ? 0 : -ENOMEM;
}

/* Writes items[0..) in one store transaction: as many as fit, up to the
 * first whose Event another of the batch writes too (a repeat counts on
 * what the one before it wrote). Returns how many were written, 0 when the
 * transaction failed (a compare lost, a lease gone, fenced off): the caller
 * then writes them one by one, which copes with each of those. */
static size_t write_batch(struct events_recorder *rec, struct event_item **items, size_t n)
{
        char fence_key[STORE_KEY_MAX + 1];
        struct store_guard guard;
        const struct store_guard *fence;
        struct prepared p[EVENTS_WRITE_BATCH];
        struct store_op ops[EVENTS_WRITE_BATCH];
        int64_t revs[EVENTS_WRITE_BATCH];
        size_t k = 0, n_prepared = 0;

        fence_copy(rec, fence_key, &guard, &fence);
        int64_t lease = batch_lease(rec, false);
        for (; k < n && k < EVENTS_WRITE_BATCH; k++) {
                n_prepared++;
                if (prepare(rec, items[k], &p[k]) < 0)
                        break;
                bool twice = false;
                for (size_t j = 0; j < k && !twice; j++)
                        twice = streq(p[j].key, p[k].key);
                if (twice)
                        break;
                ops[k] = (struct store_op){
                    .type = STORE_OP_PUT,
                    .key = p[k].key,
                    .value = p[k].data,
                    .value_len = strlen(p[k].data),
                    .expected_mod_revision = p[k].stored ? p[k].stored_rev : STORE_MUST_NOT_EXIST,
                    .lease = lease,
                };
        }
        if (k > 0)
                k = store_txn_fit(rec->store, ops, k, fence != NULL);
        struct berth_error err = {0};
        if (k < 2 || store_txn(rec->store, ops, k, fence, revs, NULL, &err) < 0)
                k = 0;
        for (size_t i = 0; i < k; i++) {
                struct index_slot *slot = slot_of(rec, p[i].ns, p[i].name);
                struct event_state next = p[i].next;
                next.exists = true;
                next.rev = revs[i];
                *slot = (struct index_slot){.used = true, .st = next};
                (void)str_copy(slot->ns, sizeof(slot->ns), p[i].ns);
                (void)str_copy(slot->name, sizeof(slot->name), p[i].name);
                atomic_fetch_add(&rec->written, 1);
                notify(rec, p[i].ev);
        }
        for (size_t i = 0; i < n_prepared; i++)
                prepared_release(&p[i]);
        return k;
}

static void *writer_main(void *userdata)
{
        struct events_recorder *rec = userdata;

        pthread_mutex_lock(&rec->lock);
        while (!rec->quit) {
                if (rec->writing && time_mono_ms() >= rec->next_sweep_mono) {
                        rec->next_sweep_mono = time_mono_ms() + rec->sweep_ms;
                        rec->busy = true;
                        pthread_mutex_unlock(&rec->lock);
                        (void)events_sweep(rec, NULL, NULL);
                        pthread_mutex_lock(&rec->lock);
                        rec->busy = false;
                        continue;
                }
                if (!rec->writing || rec->n == 0) {
                        pthread_cond_broadcast(&rec->idle);
                        if (rec->writing) {
                                struct timespec ts;

                                time_mono_deadline(&ts, rec->next_sweep_mono - time_mono_ms());
                                pthread_cond_timedwait(&rec->wake, &rec->lock, &ts);
                        } else {
                                pthread_cond_wait(&rec->wake, &rec->lock);
                        }
                        continue;
                }
                /* What is queued, up to a batch: a burst (a thousand Tasks
                 * starting) goes out in a few transactions. */
                struct event_item *items[EVENTS_WRITE_BATCH];
                size_t k = 0;
                for (; k < EVENTS_WRITE_BATCH && rec->n > 0; k++) {
                        items[k] = rec->ring[rec->head];
                        rec->ring[rec->head] = NULL;
                        rec->head = (rec->head + 1) % rec->queue_max;
                        rec->n--;
                }
                atomic_store(&rec->queued, rec->n);
                rec->busy = true;
                pthread_mutex_unlock(&rec->lock);

                for (size_t done = 0; done < k;) {
                        size_t w = k - done > 1 ? write_batch(rec, items + done, k - done) : 0;
                        if (w == 0) {
                                write_one(rec, items[done]);
                                w = 1;
                        }
                        done += w;
                }
                for (size_t i = 0; i < k; i++)
                        free(items[i]);

                pthread_mutex_lock(&rec->lock);
                rec->busy = false;
                if (rec->n == 0)
                        pthread_cond_broadcast(&rec->idle);
        }
        pthread_mutex_unlock(&rec->lock);
        return NULL;
}

/* ---- lifecycle ------------------------------------------------------------ */

int events_recorder_new(const struct events_config *cfg, struct events_recorder **ret,
                        struct berth_error *err)
{
        if (!cfg || !cfg->store || !cfg->prefix || !str_has_suffix(cfg->prefix, "/"))
                return berth_error_set(err, -EINVAL,
                                       "event recorder: a store and a prefix "
                                       "ending in '/' are needed");
        if (cfg->ttl_ms != 0 && cfg->ttl_ms < 1000)
                return berth_error_set(err, -EINVAL, "event recorder: a TTL of at least 1s");
        if (cfg->queue_max > QUEUE_MAX_LIMIT)
                return berth_error_set(err, -EINVAL, "event recorder: a queue of at most %d",
                                       QUEUE_MAX_LIMIT);

        struct events_recorder *rec = calloc(1, sizeof(*rec));
        if (!rec)
                return berth_error_set(err, -ENOMEM, "event recorder: out of memory");
        rec->store = cfg->store;
        rec->ttl_ms = cfg->ttl_ms ? cfg->ttl_ms : EVENTS_TTL_DEFAULT_MS;
        rec->window_ms = clamp64(rec->ttl_ms / 10, 1000, EVENTS_LEASE_WINDOW_MAX_MS);
        rec->sweep_ms = clamp64(rec->ttl_ms, EVENTS_SWEEP_MIN_MS, EVENTS_SWEEP_MAX_MS);
        rec->now_ms = cfg->now_ms ? cfg->now_ms : time_now_ms;
        rec->queue_max = cfg->queue_max ? cfg->queue_max : EVENTS_QUEUE_DEFAULT;
        rec->prefix = strdup(cfg->prefix);
        rec->host = strdup(cfg->host ? cfg->host : "");
        rec->ring = calloc(rec->queue_max, sizeof(*rec->ring));
        rec->index = calloc(EVENTS_INDEX_SLOTS, sizeof(*rec->index));
        if (!rec->prefix || !rec->host || !rec->ring || !rec->index) {
                events_recorder_free(rec);
                return berth_error_set(err, -ENOMEM, "event recorder: out of memory");
        }
        int r = -pthread_mutex_init(&rec->lock, NULL);
        if (r < 0)
                goto fail;
        r = cond_init_monotonic(&rec->wake);
        if (r < 0)
                goto fail_lock;
        r = cond_init_monotonic(&rec->idle);
        if (r < 0)
                goto fail_wake;
        r = -pthread_create(&rec->thread, NULL, writer_main, rec);
        if (r < 0)
                goto fail_idle;
        rec->thread_started = true;
        *ret = rec;
        return 0;

fail_idle:
        pthread_cond_destroy(&rec->idle);
fail_wake:
        pthread_cond_destroy(&rec->wake);
fail_lock:
        pthread_mutex_destroy(&rec->lock);
fail:
        events_recorder_free(rec); /* without a thread: frees the memory only */
        return berth_error_set(err, r, "event recorder: start: %s", strerror(-r));
}

void events_recorder_free(struct events_recorder *rec)
{
        if (!rec)
                return;
        if (rec->thread_started) {
                pthread_mutex_lock(&rec->lock);
                rec->quit = true;
                pthread_cond_signal(&rec->wake);
                pthread_mutex_unlock(&rec->lock);
                pthread_join(rec->thread, NULL);
                pthread_mutex_lock(&rec->lock);
                drop_queued_locked(rec);
                pthread_mutex_unlock(&rec->lock);
                pthread_cond_destroy(&rec->idle);
                pthread_cond_destroy(&rec->wake);
                pthread_mutex_destroy(&rec->lock);
        }
        free(rec->index);
        free(rec->ring);
        free(rec->host);
        free(rec->prefix);
        free(rec);
}
