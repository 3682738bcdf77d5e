/* store: argument checks shared by every backend, the dispatch to the backend
 * (struct store_ops), and the helpers backends share. Which backend a URL
 * opens is backends.c. */
#include "store-internal.h"

#include "metrics.h"

/* ---- metrics -------------------------------------------------------------- */

/* Every call that reaches a backend is counted here, in the dispatch, so
 * both backends are covered alike; calls refused by the checks below never
 * reach one and are not. */

static struct metrics_family requests =
    METRICS_COUNTER_INIT("berth_store_requests_total",
                         "Store calls that reached the backend, by operation and result (ok, "
                         "not_found, conflict, error).",
                         "op", "result");
static struct metrics_family request_seconds = METRICS_HISTOGRAM_INIT(
    "berth_store_request_duration_seconds",
    "Duration of store calls in the backend (a watch: until it is established).",
    METRICS_BUCKETS_LATENCY, "op");

static const char *result_of(int r)
{
        if (r >= 0)
                return "ok";
        if (r == -ENOENT)
                return "not_found";
        /* A lost compare-and-swap, or a fence that moved on. */
        if (r == -ESTALE || r == -EPERM)
                return "conflict";
        return "error";
}

/* Counts the backend call op that began at start and returned r; returns r. */
static int counted(const char *op, int64_t start, int r)
{
        metrics_counter_add(&requests, (const char *const[]){op, result_of(r)}, 1);
        metrics_series_observe_since(metrics_series(&request_seconds, (const char *const[]){op}),
                                     start);
        return r;
}

void store_kv_release(struct store_kv *kv)
{
        if (!kv)
                return;
        free(kv->key);
        free(kv->value);
        *kv = (struct store_kv){0};
}

void store_kvs_release(struct store_kvs *kvs)
{
        if (!kvs)
                return;
        for (size_t i = 0; i < kvs->n; i++)
                store_kv_release(&kvs->items[i]);
        free(kvs->items);
        *kvs = (struct store_kvs){0};
}

int store_prefix_end(const char *prefix, char **ret_end)
{
        size_t n = strlen(prefix);
        while (n > 0 && (unsigned char)prefix[n - 1] == 0xff)
                n--;
        if (n == 0) {
                *ret_end = NULL;
                return 0;
        }
        char *end = strndup(prefix, n);
        if (!end)
                return -ENOMEM;
        end[n - 1] = (char)((unsigned char)end[n - 1] + 1);
        *ret_end = end;
        return 0;
}

void store_free(struct store *s)
{
        if (s)
                s->ops->free(s);
}

static int check_key(const char *key, struct berth_error *err)
{
        if (!key || !*key)
                return berth_error_set(err, -EINVAL, "store: empty key");
        size_t n = strnlen(key, STORE_KEY_MAX + 1);
        if (n > STORE_KEY_MAX)
                return berth_error_set(err, -ENAMETOOLONG,
                                       "store: key %.64s... is longer than %d bytes", key,
                                       STORE_KEY_MAX);
        return 0;
}

static int check_prefix(const char *prefix, struct berth_error *err)
{
        if (!prefix)
                return berth_error_set(err, -EINVAL, "store: no prefix given");
        if (strnlen(prefix, STORE_KEY_MAX + 1) > STORE_KEY_MAX)
                return berth_error_set(err, -ENAMETOOLONG,
                                       "store: prefix %.64s... is longer than %d bytes", prefix,
                                       STORE_KEY_MAX);
        return 0;
}

/* A prefix and the revision to read it at or from (0: now). */
static int check_range(const char *op, const char *prefix, int64_t revision,
                       struct berth_error *err)
{
        int r = check_prefix(prefix, err);
        if (r < 0)
                return r;
        if (revision < 0)
                return berth_error_set(err, -EINVAL, "store: %s %s: invalid revision %" PRId64, op,
                                       prefix, revision);
        return 0;
}

static int check_expected(const char *key, int64_t expected, struct berth_error *err)
{
        if (expected < STORE_ANY_REVISION)
                return berth_error_set(
                    err, -EINVAL, "store: %s: invalid expected revision %" PRId64, key, expected);
        return 0;
}

int store_get(struct store *s, const char *key, struct store_kv *ret, struct berth_error *err)
{
        int r = check_key(key, err);
        if (r < 0)
                return r;
        if (!ret)
                return berth_error_set(err, -EINVAL, "store: get %s: no output given", key);
        _cleanup_(store_kv_release) struct store_kv kv = {0};
        int64_t start = metrics_now_ns();
        r = counted("get", start, s->ops->get(s, key, &kv, err));
        if (r < 0)
                return r;
        r = store_kv_inflate(&kv, NULL, err);
        if (r < 0) {
                berth_error_prefix(err, "store: get");
                return r;
        }
        *ret = kv;
        kv = (struct store_kv){0};
        return 0;
}

/* Inflates every value of a list of prefix (stored compressed). */
static int kvs_inflate(struct store_kvs *kvs, const char *prefix, struct berth_error *err)
{
        for (size_t i = 0; i < kvs->n; i++) {
                int r = store_kv_inflate(&kvs->items[i], NULL, err);
                if (r < 0) {
                        berth_error_prefix(err, "store: list %s", prefix);
                        return r;
                }
        }
        return 0;
}

int store_list(struct store *s, const char *prefix, int64_t revision, struct store_kvs *ret,
               struct berth_error *err)
{
        int r = check_range("list", prefix, revision, err);
        if (r < 0)
                return r;
        if (!ret)
                return berth_error_set(err, -EINVAL, "store: list %s: no output given", prefix);
        _cleanup_(store_kvs_release) struct store_kvs kvs = {0};
        int64_t start = metrics_now_ns();
        r = counted("list", start, s->ops->list(s, prefix, revision, &kvs, err));
        if (r < 0)
                return r;
        r = kvs_inflate(&kvs, prefix, err);
        if (r < 0)
                return r;
        *ret = kvs;
        kvs = (struct store_kvs){0};
        return 0;
}

/* A backend that does not page: the whole list at the revision, then the
 * page of it (each page costs a full list). kvs is sorted by key. */
static int list_sliced(struct store *s, const char *prefix, const char *after, int64_t revision,
                       size_t limit, struct store_kvs *kvs, bool *ret_more, struct berth_error *err)
{
        int r = s->ops->list(s, prefix, revision, kvs, err);
        if (r < 0)
                return r;
        size_t from = 0;
        while (after && from < kvs->n && strcmp(kvs->items[from].key, after) <= 0)
                from++;
        size_t take = kvs->n - from < limit ? kvs->n - from : limit;
        for (size_t i = 0; i < from; i++)
                store_kv_release(&kvs->items[i]);
        for (size_t i = from + take; i < kvs->n; i++)
                store_kv_release(&kvs->items[i]);
        memmove(kvs->items, kvs->items + from, take * sizeof(*kvs->items));
        *ret_more = from + take < kvs->n;
        kvs->n = take;
        return 0;
}

int store_list_page(struct store *s, const char *prefix, const char *after, int64_t revision,
                    size_t limit, struct store_kvs *ret, bool *ret_more, struct berth_error *err)
{
        int r = check_range("list", prefix, revision, err);
        if (r < 0)
                return r;
        if (!ret || !ret_more)
                return berth_error_set(err, -EINVAL, "store: list %s: no output given", prefix);
        if (limit < 1 || limit > STORE_LIST_PAGE_MAX)
                return berth_error_set(err, -EINVAL, "store: list %s: invalid limit %zu", prefix,
                                       limit);
        if (after && (strncmp(after, prefix, strlen(prefix)) != 0 || strlen(after) > STORE_KEY_MAX))
                return berth_error_set(err, -EINVAL, "store: list %s: start key is not under it",
                                       prefix);
        _cleanup_(store_kvs_release) struct store_kvs kvs = {0};
        bool more = false;
        int64_t start = metrics_now_ns();
        r = counted("list", start,
                    s->ops->list_page
                        ? s->ops->list_page(s, prefix, after, revision, limit, &kvs, &more, err)
                        : list_sliced(s, prefix, after, revision, limit, &kvs, &more, err));
        if (r < 0)
                return r;
        r = kvs_inflate(&kvs, prefix, err);
        if (r < 0)
                return r;
        *ret = kvs;
        *ret_more = more && kvs.n > 0;
        kvs = (struct store_kvs){0};
        return 0;
}

static int check_guard(const struct store_guard *guard, struct berth_error *err)
{
        if (!guard)
                return 0;
        int r = check_key(guard->key, err);
        if (r < 0)
                return r;
        if (guard->mod_revision <= 0)
                return berth_error_set(err, -EINVAL,
                                       "store: guard %s: invalid mod revision %" PRId64, guard->key,
                                       guard->mod_revision);
        return 0;
}

int store_guard_failed(const struct store_guard *guard, struct berth_error *err)
{
        return berth_error_set(err, -EPERM, "not the leader any more (fence %s changed)",
                               guard->key);
}

/* What every write checks before it reaches a backend. */
static int check_write(const char *key, int64_t expected_mod_revision,
                       const struct store_guard *guard, struct berth_error *err)
{
        int r = check_key(key, err);
        if (r < 0)
                return r;
        r = check_expected(key, expected_mod_revision, err);
        if (r < 0)
                return r;
        return check_guard(guard, err);
}

int store_put_guarded(struct store *s, const char *key, const char *value, size_t value_len,
                      int64_t expected_mod_revision, int64_t lease, const struct store_guard *guard,
                      int64_t *ret_revision, struct berth_error *err)
{
        int r = check_write(key, expected_mod_revision, guard, err);
        if (r < 0)
                return r;
        if (value_len > STORE_VALUE_PLAIN_MAX)
                return berth_error_set(err, -E2BIG,
                                       "store: put %s: value is %zu bytes, more than the "
                                       "limit of %d bytes",
                                       key, value_len, STORE_VALUE_PLAIN_MAX);
        if (!value && value_len > 0)
                return berth_error_set(err, -EINVAL, "store: put %s: no value given", key);
        if (lease < 0)
                return berth_error_set(err, -EINVAL, "store: put %s: invalid lease %" PRId64, key,
                                       lease);
        if (!value)
                value = "";
        /* The one size rule: checked here, on the bytes the backend will store. */
        _cleanup_free_ char *stored = NULL;
        size_t stored_len = 0;
        r = store_value_encode(value, value_len, &stored, &stored_len);
        if (r < 0)
                return berth_error_set(err, r, "store: put %s: compress value: %s", key,
                                       strerror(-r));
        if (stored_len > STORE_VALUE_MAX) {
                if (stored)
                        return berth_error_set(err, -E2BIG,
                                               "store: put %s: value is %zu bytes, %zu compressed, "
                                               "more than the limit of %d bytes stored",
                                               key, value_len, stored_len, STORE_VALUE_MAX);
                return berth_error_set(err, -E2BIG,
                                       "store: put %s: value is %zu bytes and does not compress, "
                                       "more than the limit of %d bytes stored",
                                       key, value_len, STORE_VALUE_MAX);
        }
        /* A fenced write is a transaction with the leader's key. */
        int64_t start = metrics_now_ns();
        return counted(guard ? "txn" : "put", start,
                       s->ops->put(s, key, stored ? stored : value, stored_len,
                                   expected_mod_revision, lease, guard, ret_revision, err));
}

int store_put(struct store *s, const char *key, const char *value, size_t value_len,
              int64_t expected_mod_revision, int64_t lease, int64_t *ret_revision,
              struct berth_error *err)
{
        return store_put_guarded(s, key, value, value_len, expected_mod_revision, lease, NULL,
                                 ret_revision, err);
}

int store_delete_guarded(struct store *s, const char *key, int64_t expected_mod_revision,
                         const struct store_guard *guard, int64_t *ret_revision,
                         struct berth_error *err)
{
        int r = check_write(key, expected_mod_revision, guard, err);
        if (r < 0)
                return r;
        if (expected_mod_revision == STORE_MUST_NOT_EXIST)
                return berth_error_set(
                    err, -EINVAL, "store: delete %s: expected revision 0 can never match", key);
        int64_t start = metrics_now_ns();
        return counted(guard ? "txn" : "delete", start,
                       s->ops->delete (s, key, expected_mod_revision, guard, ret_revision, err));
}

int store_delete(struct store *s, const char *key, int64_t expected_mod_revision,
                 int64_t *ret_revision, struct berth_error *err)
{
        return store_delete_guarded(s, key, expected_mod_revision, NULL, ret_revision, err);
}

/* ---- transactions ---------------------------------------------------------- */

/* Bytes one op counts for in a txn's size limit (before compression). */
static size_t op_bytes(const struct store_op *op)
{
        return strlen(op->key) + (op->type == STORE_OP_PUT ? op->value_len : 0);
}

size_t store_txn_fit(struct store *s, const struct store_op *ops, size_t n, bool guarded)
{
        size_t max_ops = s->txn_ops_max;
        if (guarded && s->txn_guard_is_op && max_ops > 1)
                max_ops--;
        size_t bytes = 0, i = 0;
        for (; i < n && i < max_ops; i++) {
                bytes += op_bytes(&ops[i]);
                if (i > 0 && bytes > s->txn_bytes_max)
                        break;
        }
        return i;
}

static int key_ptr_cmp(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* -EINVAL when two ops name the same key (etcd refuses such a txn; on SQLite
 * the second would not see the first's compare). */
static int check_distinct(const struct store_op *ops, size_t n, struct berth_error *err)
{
        _cleanup_free_ const char **keys = calloc(n, sizeof(*keys));
        if (!keys)
                return berth_error_set(err, -ENOMEM, "store: txn: out of memory");
        for (size_t i = 0; i < n; i++)
                keys[i] = ops[i].key;
        qsort(keys, n, sizeof(*keys), key_ptr_cmp);
        for (size_t i = 1; i < n; i++)
                if (streq(keys[i - 1], keys[i]))
                        return berth_error_set(err, -EINVAL, "store: txn: key %s is written twice",
                                               keys[i]);
        return 0;
}

/* The stored bytes of a put's value: *ret_stored NULL when stored as it is. */
static int encode_value(const char *key, const char *value, size_t value_len, char **ret_stored,
                        size_t *ret_stored_len, struct berth_error *err)
{
        if (value_len > STORE_VALUE_PLAIN_MAX)
                return berth_error_set(err, -E2BIG,
                                       "store: put %s: value is %zu bytes, more than the "
                                       "limit of %d bytes",
                                       key, value_len, STORE_VALUE_PLAIN_MAX);
        int r = store_value_encode(value, value_len, ret_stored, ret_stored_len);
        if (r < 0)
                return berth_error_set(err, r, "store: put %s: compress value: %s", key,
                                       strerror(-r));
        if (*ret_stored_len > STORE_VALUE_MAX) {
                free(*ret_stored);
                *ret_stored = NULL;
                return berth_error_set(err, -E2BIG,
                                       "store: put %s: value is %zu bytes, more than the limit "
                                       "of %d bytes stored (compressed or not)",
                                       key, value_len, STORE_VALUE_MAX);
        }
        return 0;
}

static void stored_values_free(char **stored, size_t n)
{
        for (size_t i = 0; stored && i < n; i++)
                free(stored[i]);
        free(stored);
}

int store_txn(struct store *s, const struct store_op *ops, size_t n,
              const struct store_guard *guard, int64_t *ret_revisions, size_t *ret_failed,
              struct berth_error *err)
{
        if (n == 0 || !ops)
                return berth_error_set(err, -EINVAL, "store: txn: no ops given");
        int r = check_guard(guard, err);
        if (r < 0)
                return r;
        if (n > 1 && store_txn_fit(s, ops, n, guard != NULL) < n)
                return berth_error_set(err, -E2BIG,
                                       "store: txn: %zu ops are more than one transaction of "
                                       "this store takes (see store_txn_fit)",
                                       n);
        for (size_t i = 0; i < n; i++) {
                const struct store_op *op = &ops[i];
                r = check_write(op->key, op->expected_mod_revision, NULL, err);
                if (r < 0)
                        return r;
                if (op->type == STORE_OP_DELETE) {
                        if (op->expected_mod_revision == STORE_MUST_NOT_EXIST)
                                return berth_error_set(
                                    err, -EINVAL,
                                    "store: delete %s: expected revision 0 can never match",
                                    op->key);
                } else if (op->type == STORE_OP_PUT) {
                        if (!op->value && op->value_len > 0)
                                return berth_error_set(err, -EINVAL,
                                                       "store: put %s: no value given", op->key);
                        if (op->lease < 0)
                                return berth_error_set(err, -EINVAL,
                                                       "store: put %s: invalid lease %" PRId64,
                                                       op->key, op->lease);
                } else if (op->type == STORE_OP_CHECK) {
                        if (op->expected_mod_revision == STORE_ANY_REVISION)
                                return berth_error_set(
                                    err, -EINVAL,
                                    "store: check %s: a check needs an expected revision", op->key);
                } else {
                        return berth_error_set(err, -EINVAL, "store: txn: op %zu: unknown type", i);
                }
        }
        r = check_distinct(ops, n, err);
        if (r < 0)
                return r;

        /* The values as stored: compressed where store_put would. */
        _cleanup_free_ struct store_op *enc = calloc(n, sizeof(*enc));
        char **stored = calloc(n, sizeof(*stored));
        if (!enc || !stored) {
                free(stored);
                return berth_error_set(err, -ENOMEM, "store: txn: out of memory");
        }
        for (size_t i = 0; i < n; i++) {
                enc[i] = ops[i];
                if (ops[i].type != STORE_OP_PUT)
                        continue;
                if (!enc[i].value)
                        enc[i].value = "";
                size_t stored_len = 0;
                r = encode_value(ops[i].key, enc[i].value, ops[i].value_len, &stored[i],
                                 &stored_len, err);
                if (r < 0) {
                        stored_values_free(stored, n);
                        return r;
                }
                if (stored[i]) {
                        enc[i].value = stored[i];
                        enc[i].value_len = stored_len;
                }
        }
        size_t failed = 0;
        _cleanup_free_ int64_t *revs = calloc(n, sizeof(*revs));
        if (!revs) {
                stored_values_free(stored, n);
                return berth_error_set(err, -ENOMEM, "store: txn: out of memory");
        }
        int64_t start = metrics_now_ns();
        r = counted("txn", start, s->ops->txn(s, enc, n, guard, revs, &failed, err));
        stored_values_free(stored, n);
        if (r >= 0 && ret_revisions)
                memcpy(ret_revisions, revs, n * sizeof(*revs));
        if ((r == -ESTALE || r == -ENOENT) && ret_failed)
                *ret_failed = failed;
        return r;
}

int store_get_many(struct store *s, const char *const *keys, size_t n, struct store_kv *ret,
                   struct berth_error *err)
{
        if (!ret || (n > 0 && !keys))
                return berth_error_set(err, -EINVAL, "store: get: no keys or output given");
        for (size_t i = 0; i < n; i++) {
                ret[i] = (struct store_kv){0};
                int r = check_key(keys[i], err);
                if (r < 0)
                        return r;
        }
        if (n == 0)
                return 0;
        int64_t start = metrics_now_ns();
        int r = counted("get_many", start, s->ops->get_many(s, keys, n, ret, err));
        for (size_t i = 0; r >= 0 && i < n; i++) {
                r = store_kv_inflate(&ret[i], NULL, err);
                if (r < 0)
                        berth_error_prefix(err, "store: get");
        }
        if (r < 0)
                for (size_t i = 0; i < n; i++)
                        store_kv_release(&ret[i]);
        return r;
}

int store_revision(struct store *s, int64_t *ret_revision, struct berth_error *err)
{
        if (!ret_revision)
                return berth_error_set(err, -EINVAL, "store: revision: no output given");
        int64_t start = metrics_now_ns();
        return counted("revision", start, s->ops->revision(s, ret_revision, err));
}

int store_compact(struct store *s, int64_t revision, struct berth_error *err)
{
        if (revision <= 0)
                return berth_error_set(err, -EINVAL, "store: compact: invalid revision %" PRId64,
                                       revision);
        int64_t start = metrics_now_ns();
        return counted("compact", start, s->ops->compact(s, revision, err));
}

int store_lease_grant(struct store *s, int64_t ttl_seconds, int64_t *ret_id,
                      struct berth_error *err)
{
        if (ttl_seconds <= 0 || ttl_seconds > STORE_LEASE_TTL_MAX)
                return berth_error_set(err, -EINVAL,
                                       "store: lease TTL %" PRId64
                                       "s is out of range (1 to %lld seconds)",
                                       ttl_seconds, STORE_LEASE_TTL_MAX);
        if (!ret_id)
                return berth_error_set(err, -EINVAL, "store: lease grant: no output given");
        int64_t start = metrics_now_ns();
        return counted("lease_grant", start, s->ops->lease_grant(s, ttl_seconds, ret_id, err));
}

int store_lease_keepalive(struct store *s, int64_t id, struct berth_error *err)
{
        if (id <= 0)
                return berth_error_set(err, -ENOENT, "store: lease %" PRId64 " not found", id);
        int64_t start = metrics_now_ns();
        return counted("lease_keepalive", start, s->ops->lease_keepalive(s, id, err));
}

int store_lease_revoke(struct store *s, int64_t id, struct berth_error *err)
{
        if (id <= 0)
                return berth_error_set(err, -ENOENT, "store: lease %" PRId64 " not found", id);
        int64_t start = metrics_now_ns();
        return counted("lease_revoke", start, s->ops->lease_revoke(s, id, err));
}

int store_watch(struct store *s, const char *prefix, int64_t from_revision, store_watch_fn fn,
                void *userdata, struct store_watch **ret, struct berth_error *err)
{
        int r = check_range("watch", prefix, from_revision, err);
        if (r < 0)
                return r;
        if (!fn || !ret)
                return berth_error_set(err, -EINVAL, "store: watch %s: no callback given", prefix);
        int64_t start = metrics_now_ns();
        return counted("watch", start,
                       s->ops->watch(s, prefix, from_revision, fn, userdata, ret, err));
}

void store_watch_cancel(struct store_watch *w)
{
        if (w)
                w->store->ops->watch_cancel(w);
}

/* Inflated bytes per callback call, about: a batch past it is split, so that a
 * batch of large values (up to STORE_VALUE_PLAIN_MAX each) is never all in memory
 * inflated at once. */
#define WATCH_INFLATED_MAX (64 * 1024 * 1024)

static int event_inflate(struct store_event *e, size_t *inflated)
{
        size_t a = 0, b = 0;
        int r = store_kv_inflate(&e->kv, &a, NULL);
        if (r >= 0)
                r = store_kv_inflate(&e->prev_kv, &b, NULL);
        *inflated += a + b;
        return r;
}

/* Frees the values of events already delivered (the events stay the backend's). */
static void events_drop_values(struct store_event *events, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(events[i].kv.value);
                events[i].kv.value = NULL;
                free(events[i].prev_kv.value);
                events[i].prev_kv.value = NULL;
        }
}

int store_watch_deliver(struct store_watch *w, struct store_event *events, size_t n, int error)
{
        if (w->error != 0)
                return w->error;
        if (error != 0) {
                w->error = error;
                w->fn(NULL, 0, error, w->userdata);
                return error;
        }
        size_t from = 0, inflated = 0;
        for (size_t i = 0; i < n; i++) {
                int r = event_inflate(&events[i], &inflated);
                if (r < 0) {
                        if (i > from)
                                w->fn(events + from, i - from, 0, w->userdata);
                        w->error = r;
                        w->fn(NULL, 0, r, w->userdata);
                        return r;
                }
                /* Split only between revisions: a revision (an etcd txn of many
                 * keys) reaches the callback whole, so that a watcher that has seen
                 * revision R has seen all of R (object caches, resumes from R). */
                if (inflated >= WATCH_INFLATED_MAX && i + 1 < n &&
                    events[i + 1].kv.mod_revision != events[i].kv.mod_revision) {
                        w->fn(events + from, i + 1 - from, 0, w->userdata);
                        events_drop_values(events + from, i + 1 - from);
                        from = i + 1;
                        inflated = 0;
                }
        }
        if (n > from)
                w->fn(events + from, n - from, 0, w->userdata);
        return 0;
}

void store_events_free(struct store_event *events, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                store_kv_release(&events[i].kv);
                store_kv_release(&events[i].prev_kv);
        }
        free(events);
}

int store_lease_not_found(struct berth_error *err, int64_t id)
{
        return berth_error_set(err, -ENOENT,
                               "store: lease %" PRId64 " not found (expired or revoked)", id);
}

int store_conflict(struct berth_error *err, const char *op, const char *key, int64_t expected,
                   int64_t found)
{
        if (expected == STORE_MUST_NOT_EXIST)
                return berth_error_set(err, -ESTALE,
                                       "store: %s %s: conflict: key already exists (mod "
                                       "revision %" PRId64 ", expected none)",
                                       op, key, found);
        if (found == 0)
                return berth_error_set(err, -ESTALE,
                                       "store: %s %s: conflict: key does not exist (expected "
                                       "mod revision %" PRId64 ")",
                                       op, key, expected);
        return berth_error_set(
            err, -ESTALE, "store: %s %s: conflict: mod revision is %" PRId64 ", expected %" PRId64,
            op, key, found, expected);
}
