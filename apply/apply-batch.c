/* apply-batch.c: apply_batch, apply_object for many objects with few store
 * round trips (see apply.h).
 *
 * A batch goes in segments of objects with distinct keys (an object named
 * again starts a new segment, so that it sees the first one written). Per
 * segment: the current objects (opts->lookup, else one store_get_many), a
 * plan per object (its result and, when it changes, its value and CAS
 * revision: what apply_object's loop body decides), then one store_txn per
 * chunk of objects that store_txn_fit allows. A chunk whose compare fails is
 * read from the store again and planned again (APPLY_RETRIES attempts in
 * all), then applied object by object with apply_object. The chunks of a
 * segment are committed by up to APPLY_PARALLEL threads.
 *
 * Objects planned from opts->lookup (a cache that may lag) are all compared in
 * their chunk's txn, the unchanged ones with a STORE_OP_CHECK: so an object
 * reported unchanged was unchanged in the store when the chunk committed, as
 * strong as apply_object's own read. */
#include "apply-internal.h"

/* What one object comes to. */
struct plan {
        char *value;      /* NULL: nothing to write */
        int64_t expected; /* CAS revision for the write or the check */
        bool check;       /* unchanged, but planned from a lookup: compare it */
        enum apply_result result;
};

static void plan_reset(struct plan *p)
{
        free(p->value);
        *p = (struct plan){0};
}

static bool plan_has_op(const struct plan *p)
{
        return p->value || p->check;
}

static void what_of(const struct apply_item *it, char *buf, size_t size)
{
        const char *name = json_path_string(it->obj, "metadata.name");
        snprintf(buf, size, "apply %s/%s", it->kind->resource, name ? name : "?");
}

/* apply_object's decision for one object whose current value is current
 * (NULL: none) at mod revision mod_rev, without writing. */
static int plan_one(const struct apply_item *it, const json_t *current, int64_t mod_rev,
                    bool from_lookup, const struct apply_opts *opts, struct plan *p,
                    struct berth_error *err)
{
        char what[160];
        _cleanup_json_ json_t *next = json_deep_copy(it->obj);
        int r;

        plan_reset(p);
        what_of(it, what, sizeof(what));
        if (!next)
                return berth_error_set(err, -ENOMEM, "%s: out of memory", what);
        r = apply_hooks(opts, next, current, what, err);
        if (r < 0)
                return r;
        if (!current) {
                p->result = APPLY_CREATED;
                p->expected = STORE_MUST_NOT_EXIST;
                if (opts->dry_run)
                        return 0;
                r = object_prepare_create(it->kind, next, time_now_ms());
                if (r < 0)
                        return berth_error_set(err, r, "%s: cannot stamp the object: %s", what,
                                               strerror(-r));
        } else {
                bool same;
                if (apply_is_unchanged(next, current, opts->ignore_annotation, &same) < 0)
                        return berth_error_set(err, -ENOMEM, "%s: out of memory", what);
                p->result = same ? APPLY_UNCHANGED : APPLY_CONFIGURED;
                p->expected = mod_rev;
                if (same || opts->dry_run) {
                        p->check = same && from_lookup && !opts->dry_run;
                        return 0;
                }
                object_merge_server_fields(next, current);
        }
        _cleanup_json_ json_t *norm = object_normalize(next);
        p->value = norm ? json_dumps(norm, JSON_COMPACT) : NULL;
        if (!p->value)
                return berth_error_set(err, -ENOMEM, "%s: out of memory", what);
        return 0;
}

/* Plans items [from, to) from the store: one store_get_many. */
static int plan_from_store(struct store *store, char *const *keys, const struct apply_item *items,
                           struct plan *plans, size_t from, size_t to,
                           const struct apply_opts *opts, struct berth_error *err)
{
        size_t len = to - from;
        struct store_kv *kvs = calloc(len ? len : 1, sizeof(*kvs));
        if (!kvs)
                return berth_error_set(err, -ENOMEM, "apply: out of memory");
        int r = store_get_many(store, (const char *const *)keys + from, len, kvs, err);
        if (r < 0)
                berth_error_prefix(err, "apply of %zu objects", len);
        for (size_t i = from; r >= 0 && i < to; i++) {
                _cleanup_json_ json_t *current = NULL;
                const struct store_kv *kv = &kvs[i - from];
                if (kv->key && (r = object_load(kv, &current, err)) < 0) {
                        char what[160];
                        what_of(&items[i], what, sizeof(what));
                        berth_error_prefix(err, "%s", what);
                        break;
                }
                r = plan_one(&items[i], current, kv->mod_revision, false, opts, &plans[i], err);
        }
        for (size_t i = 0; i < len; i++)
                store_kv_release(&kvs[i]);
        free(kvs);
        return r;
}

/* Plans items [from, to) from opts->lookup. */
static int plan_from_lookup(char *const *keys, const struct apply_item *items, struct plan *plans,
                            size_t from, size_t to, const struct apply_opts *opts,
                            struct berth_error *err)
{
        for (size_t i = from; i < to; i++) {
                int64_t mod_rev = 0;
                _cleanup_json_ json_t *current =
                    opts->lookup(keys[i], &mod_rev, opts->lookup_userdata);
                int r =
                    plan_one(&items[i], current, current ? mod_rev : 0, true, opts, &plans[i], err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The ops of items [from, to) that have one; idx[k] is the item of ops[k]. */
static size_t chunk_ops(char *const *keys, const struct plan *plans, size_t from, size_t to,
                        struct store_op *ops, size_t *idx)
{
        size_t n = 0;
        for (size_t i = from; i < to; i++) {
                if (!plan_has_op(&plans[i]))
                        continue;
                ops[n] = (struct store_op){
                    .type = plans[i].value ? STORE_OP_PUT : STORE_OP_CHECK,
                    .key = keys[i],
                    .value = plans[i].value,
                    .value_len = plans[i].value ? strlen(plans[i].value) : 0,
                    .expected_mod_revision = plans[i].expected,
                };
                idx[n++] = i;
        }
        return n;
}

/* Items [from, to) one by one, as apply_object does them. */
static int apply_each(struct store *store, const char *prefix, struct apply_item *items,
                      struct plan *plans, size_t from, size_t to, const struct apply_opts *opts,
                      size_t *ret_done, struct berth_error *err)
{
        for (size_t i = from; i < to; i++) {
                if (!plan_has_op(&plans[i])) {
                        items[i].result = plans[i].result;
                        continue;
                }
                int r = apply_object(store, prefix, items[i].kind, items[i].obj, opts,
                                     &items[i].result, &items[i].rev, err);
                if (r < 0) {
                        *ret_done = i;
                        return r;
                }
        }
        return 0;
}

/* Commits items [from, to) (planned; their ops fit one txn) in one txn,
 * planning again from the store after a lost compare. */
static int commit_chunk(struct store *store, const char *prefix, char *const *keys,
                        struct apply_item *items, struct plan *plans, size_t from, size_t to,
                        struct store_op *ops, size_t *idx, int64_t *revs,
                        const struct apply_opts *opts, size_t *ret_done, struct berth_error *err)
{
        for (int attempt = 0; attempt < APPLY_RETRIES; attempt++) {
                size_t n = chunk_ops(keys, plans, from, to, ops, idx);
                if (n == 0)
                        break;
                if (store_txn_fit(store, ops, n, opts->fence != NULL) < n)
                        /* planned again and grew past one txn: one by one */
                        return apply_each(store, prefix, items, plans, from, to, opts, ret_done,
                                          err);
                size_t failed = 0;
                int r = store_txn(store, ops, n, opts->fence, revs, &failed, err);
                if (r == 0) {
                        for (size_t k = 0; k < n; k++)
                                items[idx[k]].rev = revs[k];
                        break;
                }
                if (r != -ESTALE) {
                        if (n > 1 && r != -EPERM) {
                                berth_error_prefix(err, "apply of %zu objects", n);
                        } else {
                                char what[160];
                                what_of(&items[idx[0]], what, sizeof(what));
                                berth_error_prefix(err, "%s", what);
                        }
                        *ret_done = from;
                        return r;
                }
                /* Someone wrote meanwhile (or the lookup was behind): nothing of
                 * this chunk was written. Read it again. */
                berth_error_clear(err);
                if (attempt + 1 == APPLY_RETRIES)
                        return apply_each(store, prefix, items, plans, from, to, opts, ret_done,
                                          err);
                r = plan_from_store(store, keys, items, plans, from, to, opts, err);
                if (r < 0) {
                        *ret_done = from;
                        return r;
                }
        }
        for (size_t i = from; i < to; i++)
                items[i].result = plans[i].result;
        return 0;
}

/* Chunks in flight at once. On etcd a txn waits for a raft round and a
 * disk sync: several in flight share them (etcd batches proposals), and the
 * keys of one segment are distinct, so chunks never conflict with each other.
 * SQLite takes a whole request in one chunk. */
#define APPLY_PARALLEL 4

/* The chunks of one segment, committed by up to APPLY_PARALLEL threads. */
struct chunks {
        struct store *store;
        const char *prefix;
        char *const *keys;
        struct apply_item *items;
        struct plan *plans;
        const struct apply_opts *opts;
        const size_t *start; /* chunk i is items [start[i], start[i + 1]) */
        size_t n;

        pthread_mutex_t lock; /* guards what follows */
        size_t next;          /* the next chunk to commit */
        size_t failed;        /* the first chunk that failed (n: none) */
        size_t failed_done;
        int error;
        struct berth_error err;
};

/* Commits chunk i; 0 or its error (recorded when it is the first one). */
static int chunk_commit(struct chunks *c, size_t i)
{
        size_t from = c->start[i], to = c->start[i + 1], len = to - from;
        struct berth_error err = {0};
        size_t done = from;
        _cleanup_free_ struct store_op *ops = calloc(len, sizeof(*ops));
        _cleanup_free_ size_t *idx = calloc(len, sizeof(*idx));
        _cleanup_free_ int64_t *revs = calloc(len, sizeof(*revs));
        int r;
        if (!ops || !idx || !revs)
                r = berth_error_set(&err, -ENOMEM, "apply: out of memory");
        else
                r = commit_chunk(c->store, c->prefix, c->keys, c->items, c->plans, from, to, ops,
                                 idx, revs, c->opts, &done, &err);
        if (r < 0) {
                LOCK_SCOPE(&c->lock);
                if (i < c->failed) {
                        c->failed = i;
                        c->failed_done = done;
                        c->error = r;
                        c->err = err;
                }
        }
        return r;
}

static void *chunk_thread(void *userdata)
{
        struct chunks *c = userdata;
        for (;;) {
                size_t i;
                {
                        LOCK_SCOPE(&c->lock);
                        if (c->next >= c->n || c->failed < c->n)
                                return NULL; /* all taken, or one failed: stop */
                        i = c->next++;
                }
                (void)chunk_commit(c, i);
        }
}

/* Plans and writes items [from, to), whose keys are distinct. */
static int apply_segment(struct store *store, const char *prefix, char *const *keys,
                         struct apply_item *items, struct plan *plans, size_t from, size_t to,
                         const struct apply_opts *opts, size_t *ret_done, struct berth_error *err)
{
        size_t len = to - from;
        int r;

        if (opts->lookup && !opts->dry_run)
                r = plan_from_lookup(keys, items, plans, from, to, opts, err);
        else
                r = plan_from_store(store, keys, items, plans, from, to, opts, err);
        if (r < 0) {
                *ret_done = from; /* nothing of this segment is written */
                return r;
        }
        if (opts->dry_run) {
                for (size_t i = from; i < to; i++)
                        items[i].result = plans[i].result;
                return 0;
        }
        /* Chunks: as many objects as the ops of one txn allow. */
        _cleanup_free_ struct store_op *ops = calloc(len, sizeof(*ops));
        _cleanup_free_ size_t *idx = calloc(len, sizeof(*idx));
        _cleanup_free_ size_t *start = calloc(len + 1, sizeof(*start));
        if (!ops || !idx || !start) {
                *ret_done = from;
                return berth_error_set(err, -ENOMEM, "apply: out of memory");
        }
        size_t n = 0;
        for (size_t i = from; i < to;) {
                size_t n_ops = chunk_ops(keys, plans, i, to, ops, idx);
                size_t end = to;
                if (n_ops > 0) {
                        size_t fit = store_txn_fit(store, ops, n_ops, opts->fence != NULL);
                        if (fit < n_ops)
                                end = idx[fit];
                }
                start[n++] = i;
                i = end;
        }
        start[n] = to;

        struct chunks c = {
            .store = store,
            .prefix = prefix,
            .keys = keys,
            .items = items,
            .plans = plans,
            .opts = opts,
            .start = start,
            .n = n,
            .failed = n,
        };
        pthread_mutex_init(&c.lock, NULL);
        pthread_t threads[APPLY_PARALLEL - 1];
        size_t n_threads = 0;
        for (; n_threads + 1 < APPLY_PARALLEL && n_threads + 1 < n; n_threads++)
                if (pthread_create(&threads[n_threads], NULL, chunk_thread, &c) != 0)
                        break; /* fewer threads: still right */
        chunk_thread(&c);
        for (size_t i = 0; i < n_threads; i++)
                pthread_join(threads[i], NULL);
        pthread_mutex_destroy(&c.lock);
        if (c.failed < n) {
                *ret_done = c.failed_done;
                if (err)
                        *err = c.err;
                return c.error;
        }
        return 0;
}

/* The end of the segment that starts at from: before the first object whose
 * key is already in it (an open hash of the segment's keys). */
static size_t segment_end(char *const *keys, size_t from, size_t n)
{
        size_t cap = 16;
        while (cap < 2 * (n - from))
                cap *= 2;
        _cleanup_free_ const char **table = calloc(cap, sizeof(*table));
        if (!table)
                return from + 1; /* out of memory: one at a time is still right */
        for (size_t i = from; i < n; i++) {
                uint64_t h = 1469598103934665603ULL; /* FNV-1a */
                for (const char *c = keys[i]; *c; c++)
                        h = (h ^ (unsigned char)*c) * 1099511628211ULL;
                size_t slot = h & (cap - 1);
                while (table[slot]) {
                        if (streq(table[slot], keys[i]))
                                return i;
                        slot = (slot + 1) & (cap - 1);
                }
                table[slot] = keys[i];
        }
        return n;
}

static void keys_free(char **keys, size_t n)
{
        for (size_t i = 0; keys && i < n; i++)
                free(keys[i]);
        free(keys);
}

static void plans_free(struct plan *plans, size_t n)
{
        for (size_t i = 0; plans && i < n; i++)
                plan_reset(&plans[i]);
        free(plans);
}

int apply_batch(struct store *store, const char *prefix, struct apply_item *items, size_t n,
                const struct apply_opts *opts, size_t *ret_done, struct berth_error *err)
{
        size_t done_dummy;
        if (!ret_done)
                ret_done = &done_dummy;
        *ret_done = 0;
        for (size_t i = 0; i < n; i++) {
                items[i].rev = 0;
                items[i].result = APPLY_UNCHANGED;
        }
        char **keys = calloc(n ? n : 1, sizeof(*keys));
        struct plan *plans = calloc(n ? n : 1, sizeof(*plans));
        int r = 0;
        if (!keys || !plans)
                r = berth_error_set(err, -ENOMEM, "apply: out of memory");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                keys[i] = object_key(prefix, items[i].kind->resource,
                                     json_path_string(items[i].obj, "metadata.namespace"),
                                     json_path_string(items[i].obj, "metadata.name"));
                if (!keys[i])
                        r = berth_error_set(err, -ENOMEM, "apply: out of memory");
        }
        for (size_t from = 0; r >= 0 && from < n;) {
                size_t to = segment_end(keys, from, n);
                r = apply_segment(store, prefix, keys, items, plans, from, to, opts, ret_done, err);
                from = to;
        }
        plans_free(plans, n);
        keys_free(keys, n);
        if (r >= 0)
                *ret_done = n;
        return r;
}
