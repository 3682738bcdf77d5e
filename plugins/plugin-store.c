/* plugin-store.c: a store plugin (berth-plugin.h, "Store plugins") as a store
 * backend: struct store_ops on top of struct berth_store_ops, registered in
 * the store's registry under the plugin's name.
 *
 * The ops are called straight through on the caller's thread (the plugin is
 * thread-safe by contract). What the plugin hands back through sinks and watch
 * callbacks is copied into store_kv/store_event, which store.c then owns.
 * Errors the store knows (conflict, fence, not found, lease, compacted) are
 * worded here as the built-in backends word them, from the code and the
 * status the plugin returns; others carry the plugin's message. */
#include <inttypes.h>

#include "plugins-internal.h"
#include "store.h"

#define DEFAULT_TXN_OPS   128
#define DEFAULT_TXN_BYTES (1024 * 1024)

struct plugin_store {
        const struct berth_plugin *desc;
        void *ctx;
};

struct pwatch;

struct pstore {
        struct store base; /* first: store.c hands &base back */
        const struct berth_store_ops *ops;
        const char *name; /* the plugin's, = the scheme */
        void *handle;     /* the plugin's store */
        pthread_mutex_t lock;
        struct pwatch *watches; /* under lock: open, for free() */
        /* plugin_store_ops, without list_page when the plugin has none
         * (store_list_page then pages a full list) */
        struct store_ops store_ops;
};

struct pwatch {
        struct store_watch base; /* first */
        struct pstore *s;
        void *handle; /* the plugin's */
        struct pwatch *prev, *next;
};

#define PS(b) ((struct pstore *)(b))

/* One op's status: the plugin's message lands in msg. */
struct call {
        char msg[BERTH_ERROR_MESSAGE_MAX / 2];
        struct berth_store_status st;
};

static void call_init(struct call *c)
{
        c->msg[0] = '\0';
        c->st = (struct berth_store_status){.message = c->msg, .message_size = sizeof(c->msg)};
}

/* The plugin's words for r, or strerror. */
static const char *call_why(struct call *c, int r)
{
        c->msg[sizeof(c->msg) - 1] = '\0';
        return c->msg[0] ? c->msg : strerror(-r);
}

/* A failure the store has no words of its own for: "store <name>: <what>: why". */
static int plugin_failed(struct pstore *s, int r, struct call *c, const char *what,
                         struct berth_error *err)
{
        if (r > 0)
                r = -EIO;
        return berth_error_set(err, r, "store %s: %s: %s", s->name, what, call_why(c, r));
}

/* ---- reads ---------------------------------------------------------------- */

static int kv_copy(const struct berth_store_kv *in, struct store_kv *ret)
{
        struct store_kv kv = {
            .value_len = in->value_len,
            .create_revision = in->create_revision,
            .mod_revision = in->mod_revision,
            .version = in->version,
            .lease = in->lease,
        };
        if (!in->key) {
                *ret = (struct store_kv){0};
                return 0;
        }
        if (in->value_len > STORE_VALUE_MAX || (in->value_len > 0 && !in->value))
                return -EPROTO;
        kv.key = strdup(in->key);
        kv.value = malloc(in->value_len + 1);
        if (!kv.key || !kv.value) {
                store_kv_release(&kv);
                return -ENOMEM;
        }
        if (in->value_len > 0)
                memcpy(kv.value, in->value, in->value_len);
        kv.value[in->value_len] = '\0';
        *ret = kv;
        return 0;
}

/* A sink that appends to kvs. */
struct collect {
        struct berth_store_sink sink;
        struct store_kvs kvs;
        size_t cap;
};

static int collect_add(struct berth_store_sink *sink, const struct berth_store_kv *kv)
{
        struct collect *c = sink->host_data;
        if (!kv || !kv->key)
                return -EINVAL;
        if (c->kvs.n == c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 16;
                struct store_kv *items = reallocarray(c->kvs.items, cap, sizeof(*items));
                if (!items)
                        return -ENOMEM;
                c->kvs.items = items;
                c->cap = cap;
        }
        int r = kv_copy(kv, &c->kvs.items[c->kvs.n]);
        if (r < 0)
                return r;
        c->kvs.n++;
        return 0;
}

static void collect_init(struct collect *c)
{
        *c = (struct collect){.sink = {.add = collect_add}};
        c->sink.host_data = c;
}

static void collect_release(struct collect *c)
{
        store_kvs_release(&c->kvs);
}

static int ps_get(struct store *base, const char *key, struct store_kv *ret,
                  struct berth_error *err)
{
        struct pstore *s = PS(base);
        struct call c;
        call_init(&c);
        struct collect col;
        collect_init(&col);
        int r = s->ops->get(s->handle, key, &col.sink, &c.st);
        if (r == 0 && col.kvs.n != 1)
                r = -EPROTO;
        if (r == -ENOENT) {
                berth_error_set(err, r, "store: get %s: not found", key);
        } else if (r != 0) {
                _cleanup_free_ char *what = str_printf("get %s", key);
                plugin_failed(s, r, &c, what ? what : "get", err);
        }
        if (r == 0) {
                *ret = col.kvs.items[0];
                col.kvs.items[0] = (struct store_kv){0};
        }
        collect_release(&col);
        return r > 0 ? -EIO : r;
}

static int ps_get_many(struct store *base, const char *const *keys, size_t n, struct store_kv *ret,
                       struct berth_error *err)
{
        /* One get per key: store.h allows keys read at different revisions. */
        for (size_t i = 0; i < n; i++) {
                int r = ps_get(base, keys[i], &ret[i], err);
                if (r == -ENOENT) {
                        berth_error_clear(err);
                        ret[i] = (struct store_kv){0};
                        continue;
                }
                if (r < 0) {
                        for (size_t j = 0; j < i; j++)
                                store_kv_release(&ret[j]);
                        return r;
                }
        }
        return 0;
}

/* The words for a failed list or page of prefix at revision. */
static int list_failed(struct pstore *s, int r, struct call *c, const char *prefix,
                       int64_t revision, struct berth_error *err)
{
        if (r == STORE_ERR_COMPACTED)
                return berth_error_set(err, r, "store: list %s at %" PRId64 ": revision compacted",
                                       prefix, revision);
        _cleanup_free_ char *what = str_printf("list %s", prefix);
        return plugin_failed(s, r, c, what ? what : "list", err);
}

static int ps_list(struct store *base, const char *prefix, int64_t revision, struct store_kvs *ret,
                   struct berth_error *err)
{
        struct pstore *s = PS(base);
        struct call c;
        call_init(&c);
        struct collect col;
        collect_init(&col);
        int64_t at = 0;
        int r = s->ops->list(s->handle, prefix, revision, &col.sink, &at, &c.st);
        if (r != 0) {
                collect_release(&col);
                return list_failed(s, r, &c, prefix, revision, err);
        }
        col.kvs.revision = at;
        *ret = col.kvs;
        return 0;
}

static int ps_list_page(struct store *base, const char *prefix, const char *after, int64_t revision,
                        size_t limit, struct store_kvs *ret, bool *ret_more,
                        struct berth_error *err)
{
        struct pstore *s = PS(base);
        struct call c;
        call_init(&c);
        struct collect col;
        collect_init(&col);
        int64_t at = 0;
        int32_t more = 0;
        int r = s->ops->list_page(s->handle, prefix, after, revision, limit, &col.sink, &at, &more,
                                  &c.st);
        if (r != 0) {
                collect_release(&col);
                return list_failed(s, r, &c, prefix, revision, err);
        }
        col.kvs.revision = at;
        *ret = col.kvs;
        *ret_more = more != 0 && col.kvs.n > 0;
        return 0;
}

/* ---- writes -------------------------------------------------------------- */

static void guard_to_plugin(const struct store_guard *g, struct berth_store_guard *out)
{
        if (g)
                *out = (struct berth_store_guard){.key = g->key, .mod_revision = g->mod_revision};
}

/* The words for a failed write op ("put"/"delete"/"check") of key. */
static int write_failed(struct pstore *s, int r, struct call *c, const char *op, const char *key,
                        int64_t expected, int64_t lease, const struct store_guard *guard,
                        struct berth_error *err)
{
        if (r == -EPERM && guard)
                return store_guard_failed(guard, err);
        if (r == -ESTALE)
                return store_conflict(err, op, key, expected, c->st.found_revision);
        if (r == -ENOENT && streq(op, "delete"))
                return berth_error_set(err, r, "store: delete %s: not found", key);
        if (r == -ENOENT && lease != 0)
                return berth_error_set(
                    err, r, "store: put %s: lease %" PRId64 " not found (expired or revoked)", key,
                    lease);
        _cleanup_free_ char *what = str_printf("%s %s", op, key);
        return plugin_failed(s, r, c, what ? what : op, err);
}

static int ps_put(struct store *base, const char *key, const char *value, size_t value_len,
                  int64_t expected, int64_t lease, const struct store_guard *guard,
                  int64_t *ret_revision, struct berth_error *err)
{
        struct pstore *s = PS(base);
        struct call c;
        call_init(&c);
        struct berth_store_guard g;
        guard_to_plugin(guard, &g);
        int64_t rev = 0;
        int r = s->ops->put(s->handle, key, value, value_len, expected, lease, guard ? &g : NULL,
                            &rev, &c.st);
        if (r != 0)
                return write_failed(s, r, &c, "put", key, expected, lease, guard, err);
        if (ret_revision)
                *ret_revision = rev;
        return 0;
}

static int ps_delete(struct store *base, const char *key, int64_t expected,
                     const struct store_guard *guard, int64_t *ret_revision,
                     struct berth_error *err)
{
        struct pstore *s = PS(base);
        struct call c;
        call_init(&c);
        struct berth_store_guard g;
        guard_to_plugin(guard, &g);
        int64_t rev = 0;
        int r = s->ops->del(s->handle, key, expected, guard ? &g : NULL, &rev, &c.st);
        if (r != 0)
                return write_failed(s, r, &c, "delete", key, expected, 0, guard, err);
        if (ret_revision)
                *ret_revision = rev;
        return 0;
}

static const char *op_name(enum store_op_type t)
{
        return t == STORE_OP_PUT ? "put" : t == STORE_OP_DELETE ? "delete" : "check";
}

static int ps_txn(struct store *base, const struct store_op *ops, size_t n,
                  const struct store_guard *guard, int64_t *ret_revisions, size_t *ret_failed,
                  struct berth_error *err)
{
        struct pstore *s = PS(base);
        _cleanup_free_ struct berth_store_op *pops = calloc(n, sizeof(*pops));
        _cleanup_free_ int64_t *revs = calloc(n, sizeof(*revs));
        if (!pops || !revs)
                return berth_error_set(err, -ENOMEM, "store: txn: out of memory");
        for (size_t i = 0; i < n; i++)
                pops[i] = (struct berth_store_op){
                    .type = ops[i].type == STORE_OP_PUT      ? BERTH_STORE_OP_PUT
                            : ops[i].type == STORE_OP_DELETE ? BERTH_STORE_OP_DELETE
                                                             : BERTH_STORE_OP_CHECK,
                    .key = ops[i].key,
                    .value = ops[i].value,
                    .value_len = ops[i].value_len,
                    .expected_mod_revision = ops[i].expected_mod_revision,
                    .lease = ops[i].lease,
                };
        struct call c;
        call_init(&c);
        struct berth_store_guard g;
        guard_to_plugin(guard, &g);
        int r = s->ops->txn(s->handle, pops, n, guard ? &g : NULL, revs, &c.st);
        if (r == 0) {
                memcpy(ret_revisions, revs, n * sizeof(*revs));
                return 0;
        }
        if ((r == -ESTALE || r == -ENOENT) && c.st.failed_op < n) {
                const struct store_op *op = &ops[c.st.failed_op];
                *ret_failed = c.st.failed_op;
                return write_failed(s, r, &c, op_name(op->type), op->key, op->expected_mod_revision,
                                    op->type == STORE_OP_PUT ? op->lease : 0, NULL, err);
        }
        if (r == -EPERM && guard)
                return store_guard_failed(guard, err);
        if (r == -ESTALE || r == -ENOENT)
                r = -EPROTO; /* a failed compare without saying which */
        return plugin_failed(s, r, &c, "txn", err);
}

/* ---- revisions and leases ------------------------------------------------ */

static int ps_revision(struct store *base, int64_t *ret_revision, struct berth_error *err)
{
        struct pstore *s = PS(base);
        struct call c;
        call_init(&c);
        int64_t rev = 0;
        int r = s->ops->revision(s->handle, &rev, &c.st);
        if (r != 0)
                return plugin_failed(s, r, &c, "revision", err);
        *ret_revision = rev;
        return 0;
}

static int ps_compact(struct store *base, int64_t revision, struct berth_error *err)
{
        struct pstore *s = PS(base);
        struct call c;
        call_init(&c);
        int r = s->ops->compact(s->handle, revision, &c.st);
        if (r == 0)
                return 0;
        char what[64];
        snprintf(what, sizeof(what), "compact at %" PRId64, revision);
        return plugin_failed(s, r, &c, what, err);
}

static int ps_lease_grant(struct store *base, int64_t ttl_seconds, int64_t *ret_id,
                          struct berth_error *err)
{
        struct pstore *s = PS(base);
        struct call c;
        call_init(&c);
        int64_t id = 0;
        int r = s->ops->lease_grant(s->handle, ttl_seconds, &id, &c.st);
        if (r == 0 && id <= 0)
                r = -EPROTO;
        if (r != 0)
                return plugin_failed(s, r, &c, "grant lease", err);
        *ret_id = id;
        return 0;
}

static int lease_failed(struct pstore *s, int r, struct call *c, const char *op, int64_t id,
                        struct berth_error *err)
{
        if (r == -ENOENT)
                return store_lease_not_found(err, id);
        char what[64];
        snprintf(what, sizeof(what), "%s lease %" PRId64, op, id);
        return plugin_failed(s, r, c, what, err);
}

static int ps_lease_keepalive(struct store *base, int64_t id, struct berth_error *err)
{
        struct pstore *s = PS(base);
        struct call c;
        call_init(&c);
        int r = s->ops->lease_keepalive(s->handle, id, &c.st);
        return r == 0 ? 0 : lease_failed(s, r, &c, "keep alive", id, err);
}

static int ps_lease_revoke(struct store *base, int64_t id, struct berth_error *err)
{
        struct pstore *s = PS(base);
        struct call c;
        call_init(&c);
        int r = s->ops->lease_revoke(s->handle, id, &c.st);
        return r == 0 ? 0 : lease_failed(s, r, &c, "revoke", id, err);
}

/* ---- watches ------------------------------------------------------------- */

/* berth_store_watch_fn: on the plugin's thread, no plugin lock held. */
static void pw_callback(void *host_watch, const struct berth_store_event *events, size_t n,
                        int error)
{
        struct pwatch *w = host_watch;
        if (error != 0 || !events) {
                (void)store_watch_deliver(&w->base, NULL, 0, error < 0 ? error : -EPROTO);
                return;
        }
        if (n == 0)
                return;
        struct store_event *evs = calloc(n, sizeof(*evs));
        int r = evs ? 0 : -ENOMEM;
        for (size_t i = 0; r == 0 && i < n; i++) {
                evs[i].type = events[i].type == BERTH_STORE_EVENT_DELETE ? STORE_EVENT_DELETE
                                                                         : STORE_EVENT_PUT;
                r = kv_copy(&events[i].kv, &evs[i].kv);
                if (r == 0)
                        r = kv_copy(&events[i].prev_kv, &evs[i].prev_kv);
                if (r == 0 && !evs[i].kv.key)
                        r = -EPROTO;
        }
        if (r < 0) {
                if (evs)
                        store_events_free(evs, n);
                /* The watch cannot go on without these events. */
                (void)store_watch_deliver(&w->base, NULL, 0, r);
                return;
        }
        (void)store_watch_deliver(&w->base, evs, n, 0);
        store_events_free(evs, n);
}

static void watch_unlink(struct pstore *s, struct pwatch *w)
{
        LOCK_SCOPE(&s->lock);
        if (w->prev)
                w->prev->next = w->next;
        else if (s->watches == w)
                s->watches = w->next;
        if (w->next)
                w->next->prev = w->prev;
        w->prev = w->next = NULL;
}

static int ps_watch(struct store *base, const char *prefix, int64_t from_revision,
                    store_watch_fn fn, void *userdata, struct store_watch **ret,
                    struct berth_error *err)
{
        struct pstore *s = PS(base);
        struct pwatch *w = calloc(1, sizeof(*w));
        if (!w)
                return berth_error_set(err, -ENOMEM, "store: watch %s: out of memory", prefix);
        w->base = (struct store_watch){.store = base, .fn = fn, .userdata = userdata};
        w->s = s;
        struct call c;
        call_init(&c);
        /* The plugin may call back before watch returns (history): w is
         * complete by then, except its handle, which only cancel needs. */
        void *handle = NULL;
        int r = s->ops->watch(s->handle, prefix, from_revision, pw_callback, w, &handle, &c.st);
        if (r != 0) {
                free(w);
                _cleanup_free_ char *what = str_printf("watch %s", prefix);
                return plugin_failed(s, r, &c, what ? what : "watch", err);
        }
        w->handle = handle;
        {
                LOCK_SCOPE(&s->lock);
                w->next = s->watches;
                if (w->next)
                        w->next->prev = w;
                s->watches = w;
        }
        *ret = &w->base;
        return 0;
}

static void ps_watch_cancel(struct store_watch *base)
{
        struct pwatch *w = (struct pwatch *)base;
        struct pstore *s = w->s;
        s->ops->watch_cancel(s->handle, w->handle);
        watch_unlink(s, w);
        free(w);
}

static void ps_free(struct store *base)
{
        struct pstore *s = PS(base);
        struct pwatch *list;
        {
                LOCK_SCOPE(&s->lock);
                list = s->watches;
                s->watches = NULL;
        }
        while (list) {
                struct pwatch *w = list;
                list = w->next;
                s->ops->watch_cancel(s->handle, w->handle);
                free(w);
        }
        s->ops->close(s->handle);
        pthread_mutex_destroy(&s->lock);
        free(s);
}

static const struct store_ops plugin_store_ops = {
    .name = "plugin",
    .free = ps_free,
    .get = ps_get,
    .list = ps_list,
    .list_page = ps_list_page,
    .put = ps_put,
    .delete = ps_delete,
    .txn = ps_txn,
    .get_many = ps_get_many,
    .revision = ps_revision,
    .compact = ps_compact,
    .lease_grant = ps_lease_grant,
    .lease_keepalive = ps_lease_keepalive,
    .lease_revoke = ps_lease_revoke,
    .watch = ps_watch,
    .watch_cancel = ps_watch_cancel,
};

/* store_backend_open_fn of every store plugin. */
static int ps_open(const char *url, void *userdata, struct store **ret, struct berth_error *err)
{
        struct plugin_store *p = userdata;
        const struct berth_store_ops *ops = p->desc->store;
        struct pstore *s = calloc(1, sizeof(*s));
        if (!s)
                return berth_error_set(err, -ENOMEM, "store %s: out of memory", url);
        struct call c;
        call_init(&c);
        struct berth_store_limits limits = {0};
        int r = ops->open(p->ctx, url, &limits, &s->handle, &c.st);
        if (r != 0) {
                free(s);
                if (r > 0)
                        r = -EIO;
                return berth_error_set(err, r, "store plugin %s refused %s: %s", p->desc->name, url,
                                       call_why(&c, r));
        }
        s->ops = ops;
        s->name = p->desc->name;
        pthread_mutex_init(&s->lock, NULL);
        s->store_ops = plugin_store_ops;
        if (!ops->list_page)
                s->store_ops.list_page = NULL;
        s->base = (struct store){
            .ops = &s->store_ops,
            .txn_ops_max = limits.txn_ops_max ? limits.txn_ops_max : DEFAULT_TXN_OPS,
            .txn_bytes_max =
                limits.txn_bytes_max ? (size_t)limits.txn_bytes_max : DEFAULT_TXN_BYTES,
            .txn_guard_is_op = limits.txn_guard_is_op != 0,
        };
        *ret = &s->base;
        return 0;
}

/* ---- the loader's side ---------------------------------------------------- */

bool plugin_store_check(const struct berth_plugin *d, char *why, size_t size)
{
        const struct berth_store_ops *o = d->store;
        const char *missing = !d->init              ? "init"
                              : !o                  ? "store ops"
                              : !o->open            ? "open"
                              : !o->close           ? "close"
                              : !o->get             ? "get"
                              : !o->list            ? "list"
                              : !o->put             ? "put"
                              : !o->del             ? "del"
                              : !o->txn             ? "txn"
                              : !o->revision        ? "revision"
                              : !o->compact         ? "compact"
                              : !o->lease_grant     ? "lease_grant"
                              : !o->lease_keepalive ? "lease_keepalive"
                              : !o->lease_revoke    ? "lease_revoke"
                              : !o->watch           ? "watch"
                              : !o->watch_cancel    ? "watch_cancel"
                                                    : NULL;
        if (!missing)
                return true;
        snprintf(why, size, "store plugin without %s", missing);
        return false;
}

struct plugin_store *plugin_store_register(const struct berth_plugin *d, void *ctx, char *why,
                                           size_t size)
{
        struct plugin_store *p = calloc(1, sizeof(*p));
        if (!p) {
                snprintf(why, size, "out of memory");
                return NULL;
        }
        *p = (struct plugin_store){.desc = d, .ctx = ctx};
        struct berth_error err = {0};
        if (store_backend_register(d->name, ps_open, p, &err) < 0) {
                snprintf(why, size, "%s", err.message);
                free(p);
                return NULL;
        }
        return p;
}

void plugin_store_unregister(struct plugin_store *ps)
{
        if (!ps)
                return;
        (void)store_backend_unregister(ps->desc->name);
        free(ps);
}
