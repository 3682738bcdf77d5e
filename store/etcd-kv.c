/* store etcd: the etcd v3 backend, through etcd's JSON gateway (etcd-http.c):
 * kv operations, compaction, leases, and the store_ops table with its constructor.
 *
 * CAS writes and fenced writes are txns: compares of mod revisions (CREATE = 0 for
 * "must not exist"), the write on success, and reads of the key and the guard key
 * on failure, so that a failure can say which comparison lost and what it found.
 *
 * Lists page through 1000 keys at a time at the revision of the first page, and
 * halve the page when a page is larger than a response may be. etcd itself
 * refuses requests larger than --max-request-bytes (1.5 MiB by default), so values
 * close to STORE_VALUE_MAX need a larger setting on the etcd side.
 */
#include "etcd-internal.h"

#define ETCD_LIST_PAGE 1000

/* ---- kv ------------------------------------------------------------------- */

static int etcd_get(struct store *base, const char *key, struct store_kv *ret,
                    struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        _cleanup_free_ char *k = etcd_b64(key, strlen(key));
        _cleanup_json_ json_t *body = k ? json_pack("{s:s}", "key", k) : NULL;
        if (!body)
                return berth_error_set(err, -ENOMEM, "etcd: get %s: out of memory", key);
        struct etcd_call c = {
            .op = "get", .subject = key, .path = "/v3/kv/range", .idempotent = true};
        _cleanup_json_ json_t *resp = NULL;
        int r = etcd_call(s, &c, body, &resp, err);
        if (r < 0)
                return r;
        json_t *kvs = json_object_get(resp, "kvs");
        if (kvs && !json_is_array(kvs))
                return etcd_malformed(&c, err);
        if (json_array_size(kvs) == 0)
                return berth_error_set(err, -ENOENT, "store: get %s: not found", key);
        struct store_kv kv;
        r = etcd_parse_kv(json_array_get(kvs, 0), &kv);
        if (r == -ENOMEM)
                return berth_error_set(err, r, "etcd: get %s: out of memory", key);
        if (r < 0)
                return etcd_malformed(&c, err);
        *ret = kv;
        return 0;
}

static int kvs_append(struct store_kvs *out, size_t *cap, const json_t *obj)
{
        if (out->n == *cap) {
                size_t ncap = *cap ? *cap * 2 : 64;
                struct store_kv *items = reallocarray(out->items, ncap, sizeof(*items));
                if (!items)
                        return -ENOMEM;
                out->items = items;
                *cap = ncap;
        }
        int r = etcd_parse_kv(obj, &out->items[out->n]);
        if (r < 0)
                return r;
        out->n++;
        return 0;
}

/* One range call from key (base64) to end at revision (0: now) for at most
 * *limit keys, appended to out: *limit is halved while etcd finds a page too
 * big. *ret_rev is the revision read, *ret_more whether keys are left. */
static int range_page(struct etcd_store *s, const char *prefix, const char *key, const char *end,
                      int64_t revision, int64_t *limit, struct store_kvs *out, size_t *cap,
                      int64_t *ret_rev, bool *ret_more, struct berth_error *err)
{
        for (;;) {
                char rev_s[I64_STR_MAX], limit_s[I64_STR_MAX];
                i64_format(revision, rev_s);
                i64_format(*limit, limit_s);
                _cleanup_json_ json_t *body =
                    json_pack("{s:s, s:s, s:s, s:s}", "key", key, "range_end", end, "revision",
                              rev_s, "limit", limit_s);
                if (!body)
                        return berth_error_set(err, -ENOMEM, "etcd: list %s: out of memory",
                                               prefix);
                struct etcd_call c = {
                    .op = "list", .subject = prefix, .path = "/v3/kv/range", .idempotent = true};
                _cleanup_json_ json_t *resp = NULL;
                int r = etcd_call(s, &c, body, &resp, err);
                if (r == -E2BIG && *limit > 1) {
                        *limit /= 2; /* a page of large values: take fewer at a time */
                        continue;
                }
                if (r < 0)
                        return r;
                int64_t rev = revision;
                if (rev == 0 && etcd_header_revision(resp, &rev) < 0)
                        return etcd_malformed(&c, err);
                json_t *kvs = json_object_get(resp, "kvs");
                if (kvs && !json_is_array(kvs))
                        return etcd_malformed(&c, err);
                for (size_t i = 0; i < json_array_size(kvs); i++) {
                        r = kvs_append(out, cap, json_array_get(kvs, i));
                        if (r == -ENOMEM)
                                return berth_error_set(err, r, "etcd: list %s: out of memory",
                                                       prefix);
                        if (r < 0)
                                return etcd_malformed(&c, err);
                }
                *ret_rev = rev;
                *ret_more = etcd_json_bool(resp, "more") && json_array_size(kvs) > 0;
                return 0;
        }
}

static int etcd_list(struct store *base, const char *prefix, int64_t revision,
                     struct store_kvs *ret, struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        _cleanup_free_ char *key = NULL;
        _cleanup_free_ char *end = NULL;
        if (etcd_prefix_range(prefix, &key, &end) < 0)
                return berth_error_set(err, -ENOMEM, "etcd: list %s: out of memory", prefix);
        _cleanup_(store_kvs_release) struct store_kvs out = {0};
        size_t cap = 0;
        int64_t rev = revision;
        int64_t limit = ETCD_LIST_PAGE;
        for (;;) {
                bool more = false;
                /* Every page reads the revision of the first one. */
                int r = range_page(s, prefix, key, end, rev, &limit, &out, &cap, &rev, &more, err);
                if (r < 0)
                        return r;
                if (!more)
                        break;
                /* The next page starts right after the last key: last key + "\0". */
                const char *last = out.items[out.n - 1].key;
                free(key);
                key = etcd_b64(last, strlen(last) + 1);
                if (!key)
                        return berth_error_set(err, -ENOMEM, "etcd: list %s: out of memory",
                                               prefix);
        }
        out.revision = rev;
        *ret = out;
        out = (struct store_kvs){0};
        return 0;
}

/* One range call: keys after 'after' (its bytes and a NUL: the next key up)
 * or from the prefix, limit of them, at revision. */
static int etcd_list_page(struct store *base, const char *prefix, const char *after,
                          int64_t revision, size_t limit, struct store_kvs *ret, bool *ret_more,
                          struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        _cleanup_free_ char *key = NULL;
        _cleanup_free_ char *end = NULL;
        if (etcd_prefix_range(prefix, &key, &end) < 0)
                return berth_error_set(err, -ENOMEM, "etcd: list %s: out of memory", prefix);
        if (after) {
                free(key);
                key = etcd_b64(after, strlen(after) + 1);
                if (!key)
                        return berth_error_set(err, -ENOMEM, "etcd: list %s: out of memory",
                                               prefix);
        }
        _cleanup_(store_kvs_release) struct store_kvs out = {0};
        size_t cap = 0;
        int64_t n = (int64_t)limit, rev = 0;
        bool more = false;
        int r = range_page(s, prefix, key, end, revision, &n, &out, &cap, &rev, &more, err);
        if (r < 0)
                return r;
        out.revision = rev;
        *ret_more = more;
        *ret = out;
        out = (struct store_kvs){0};
        return 0;
}

/* {"<name>": "<v>"}, the body of a call that takes one int64; v_s gets v in
 * decimal, for the call's messages. NULL when out of memory. */
static json_t *int64_body(const char *name, int64_t v, char v_s[I64_STR_MAX])
{
        i64_format(v, v_s);
        return json_pack("{s:s}", name, v_s);
}

/* Compare of a key's mod revision ("0": the key must not exist). */
static json_t *cmp_mod(const char *k64, int64_t expected)
{
        char rev_s[I64_STR_MAX];
        if (expected == STORE_MUST_NOT_EXIST)
                return json_pack("{s:s, s:s, s:s, s:s}", "key", k64, "target", "CREATE", "result",
                                 "EQUAL", "create_revision", "0");
        i64_format(expected, rev_s);
        return json_pack("{s:s, s:s, s:s, s:s}", "key", k64, "target", "MOD", "result", "EQUAL",
                         "mod_revision", rev_s);
}

/* A txn: the compares (the guard's, the key's CAS), one success op (request is
 * borrowed), and a failure
 * branch that reads the key (responses[0]) and the guard key (responses[1]) so
 * that a failure can be told apart: fence gone (-EPERM) or CAS lost (-ESTALE). */
static json_t *txn_body(const char *k64, int64_t expected, const char *guard64, int64_t guard_rev,
                        const char *op, json_t *request)
{
        _cleanup_json_ json_t *compare = json_array();
        _cleanup_json_ json_t *failure = json_array();
        if (!compare || !failure || !request)
                return NULL;
        if (guard64 && json_array_append_new(compare, cmp_mod(guard64, guard_rev)) < 0)
                return NULL;
        if (expected != STORE_ANY_REVISION &&
            json_array_append_new(compare, cmp_mod(k64, expected)) < 0)
                return NULL;
        if (json_array_append_new(failure, json_pack("{s:{s:s}}", "request_range", "key", k64)) < 0)
                return NULL;
        if (guard64 && json_array_append_new(
                           failure, json_pack("{s:{s:s}}", "request_range", "key", guard64)) < 0)
                return NULL;
        return json_pack("{s:O, s:[{s:O}], s:O}", "compare", compare, "success", op, request,
                         "failure", failure);
}

/* The kvs of the i-th response of a txn that took its failure branch (a range). */
static const json_t *failure_kvs_at(const json_t *resp, size_t i)
{
        const json_t *ri = json_array_get(json_object_get(resp, "responses"), i);
        return json_object_get(json_object_get(ri, "response_range"), "kvs");
}

/* After a failed txn with a guard: 1 if the guard still holds, 0 if not, <0 malformed. */
static int guard_holds(const json_t *resp, const struct store_guard *guard)
{
        const json_t *kvs = failure_kvs_at(resp, 1);
        if (json_array_size(kvs) == 0)
                return 0;
        int64_t found = 0;
        if (etcd_json_int64(json_array_get(kvs, 0), "mod_revision", &found) < 0)
                return -EBADMSG;
        return found == guard->mod_revision;
}

/* Why a txn of txn_body() took its failure branch: the guard is gone (-EPERM) or
 * the key's CAS lost (-ESTALE, naming the mod revision found). A delete of a key
 * that is not there is -ENOENT, before its CAS. */
static int txn_failed(const struct etcd_call *c, const json_t *resp, const char *key,
                      int64_t expected, const struct store_guard *guard, bool deleting,
                      struct berth_error *err)
{
        if (guard) {
                int h = guard_holds(resp, guard);
                if (h < 0)
                        return etcd_malformed(c, err);
                if (h == 0)
                        return store_guard_failed(guard, err);
        }
        const json_t *kvs = failure_kvs_at(resp, 0);
        bool exists = json_array_size(kvs) > 0;
        if (deleting && !exists)
                return berth_error_set(err, -ENOENT, "store: delete %s: not found", key);
        /* Only the guard was compared: it is what failed, whatever the read says. */
        if (expected == STORE_ANY_REVISION)
                return store_guard_failed(guard, err);
        int64_t found = 0;
        if (exists && etcd_json_int64(json_array_get(kvs, 0), "mod_revision", &found) < 0)
                return etcd_malformed(c, err);
        return store_conflict(err, c->op, key, expected, found);
}

/* The revision resp was answered at, into *ret_revision (may be NULL). */
static int response_revision(const struct etcd_call *c, const json_t *resp, int64_t *ret_revision,
                             struct berth_error *err)
{
        int64_t rev;
        if (etcd_header_revision(resp, &rev) < 0)
                return etcd_malformed(c, err);
        if (ret_revision)
                *ret_revision = rev;
        return 0;
}

static int etcd_put(struct store *base, const char *key, const char *value, size_t value_len,
                    int64_t expected, int64_t lease, const struct store_guard *guard,
                    int64_t *ret_revision, struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        _cleanup_free_ char *k = etcd_b64(key, strlen(key));
        _cleanup_free_ char *v = etcd_b64(value, value_len);
        _cleanup_free_ char *g = guard ? etcd_b64(guard->key, strlen(guard->key)) : NULL;
        if (!k || !v || (guard && !g))
                return berth_error_set(err, -ENOMEM, "etcd: put %s: out of memory", key);
        char lease_s[I64_STR_MAX];
        i64_format(lease, lease_s);
        _cleanup_json_ json_t *put =
            json_pack("{s:s, s:s, s:s}", "key", k, "value", v, "lease", lease_s);
        _cleanup_json_ json_t *body = NULL;
        struct etcd_call c = {.op = "put", .subject = key, .value_len = value_len};
        bool txn = guard || expected != STORE_ANY_REVISION;
        if (!txn) {
                c.path = "/v3/kv/put";
                body = json_incref(put);
        } else {
                c.path = "/v3/kv/txn";
                body =
                    txn_body(k, expected, g, guard ? guard->mod_revision : 0, "request_put", put);
        }
        if (!put || !body)
                return berth_error_set(err, -ENOMEM, "etcd: put %s: out of memory", key);
        _cleanup_json_ json_t *resp = NULL;
        int r = etcd_call(s, &c, body, &resp, err);
        if (r < 0)
                return r;
        if (txn && !etcd_json_bool(resp, "succeeded"))
                return txn_failed(&c, resp, key, expected, guard, false, err);
        return response_revision(&c, resp, ret_revision, err);
}

static int etcd_delete(struct store *base, const char *key, int64_t expected,
                       const struct store_guard *guard, int64_t *ret_revision,
                       struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        _cleanup_free_ char *k = etcd_b64(key, strlen(key));
        _cleanup_free_ char *g = guard ? etcd_b64(guard->key, strlen(guard->key)) : NULL;
        _cleanup_json_ json_t *body = NULL;
        struct etcd_call c = {.op = "delete", .subject = key};
        bool txn = guard || expected != STORE_ANY_REVISION;
        if (!k || (guard && !g)) {
                /* out of memory: reported below */
        } else if (!txn) {
                c.path = "/v3/kv/deleterange";
                body = json_pack("{s:s}", "key", k);
        } else {
                c.path = "/v3/kv/txn";
                _cleanup_json_ json_t *del = json_pack("{s:s}", "key", k);
                body = txn_body(k, expected, g, guard ? guard->mod_revision : 0,
                                "request_delete_range", del);
        }
        if (!body)
                return berth_error_set(err, -ENOMEM, "etcd: delete %s: out of memory", key);
        _cleanup_json_ json_t *resp = NULL;
        int r = etcd_call(s, &c, body, &resp, err);
        if (r < 0)
                return r;
        if (txn && !etcd_json_bool(resp, "succeeded"))
                return txn_failed(&c, resp, key, expected, guard, true, err);
        /* A delete without a CAS that found nothing still "succeeds" in etcd. */
        if (expected == STORE_ANY_REVISION) {
                const json_t *dr =
                    txn ? json_object_get(json_array_get(json_object_get(resp, "responses"), 0),
                                          "response_delete_range")
                        : resp;
                int64_t deleted = 0;
                if (etcd_json_int64(dr, "deleted", &deleted) < 0)
                        return etcd_malformed(&c, err);
                if (deleted == 0)
                        return berth_error_set(err, -ENOENT, "store: delete %s: not found", key);
        }
        return response_revision(&c, resp, ret_revision, err);
}

/* ---- store_txn and store_get_many ------------------------------------------- */

/* etcd's default --max-txn-ops: a txn holds at most this many compares, this
 * many success ops and this many failure ops. */
#define ETCD_TXN_OPS 128
/* Keys and values per txn before base64 (4/3) and JSON: 1 MiB is about
 * 1.4 MiB on the wire, under etcd's default --max-request-bytes (1.5 MiB). */
#define ETCD_TXN_BYTES (1024 * 1024)

/* A compare that holds when the key exists (a delete without CAS must find it). */
static json_t *cmp_exists(const char *k64)
{
        return json_pack("{s:s, s:s, s:s, s:s}", "key", k64, "target", "VERSION", "result",
                         "GREATER", "version", "0");
}

/* One op of a txn's success branch. NULL when out of memory. */
static json_t *txn_request(const struct store_op *op, const char *k64)
{
        if (op->type == STORE_OP_DELETE)
                return json_pack("{s:{s:s}}", "request_delete_range", "key", k64);
        _cleanup_free_ char *v = etcd_b64(op->value, op->value_len);
        char lease_s[I64_STR_MAX];
        i64_format(op->lease, lease_s);
        return v ? json_pack("{s:{s:s, s:s, s:s}}", "request_put", "key", k64, "value", v, "lease",
                             lease_s)
                 : NULL;
}

/* The body of a store_txn: compares of the guard and of every op with a CAS,
 * the ops, and a failure branch that reads every key (keys only) and the guard
 * key, so that a failure can name the op that lost. */
static json_t *multi_txn_body(const struct store_op *ops, size_t n, const struct store_guard *guard)
{
        _cleanup_json_ json_t *compare = json_array(), *success = json_array(),
                              *failure = json_array();
        if (!compare || !success || !failure)
                return NULL;
        if (guard) {
                _cleanup_free_ char *g = etcd_b64(guard->key, strlen(guard->key));
                if (!g || json_array_append_new(compare, cmp_mod(g, guard->mod_revision)) < 0)
                        return NULL;
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *k = etcd_b64(ops[i].key, strlen(ops[i].key));
                if (!k)
                        return NULL;
                json_t *cmp = NULL;
                if (ops[i].expected_mod_revision != STORE_ANY_REVISION)
                        cmp = cmp_mod(k, ops[i].expected_mod_revision);
                else if (ops[i].type == STORE_OP_DELETE)
                        cmp = cmp_exists(k);
                if (cmp && json_array_append_new(compare, cmp) < 0)
                        return NULL;
                if (ops[i].type != STORE_OP_CHECK &&
                    json_array_append_new(success, txn_request(&ops[i], k)) < 0)
                        return NULL;
                if (json_array_append_new(failure, json_pack("{s:{s:s, s:b}}", "request_range",
                                                             "key", k, "keys_only", 1)) < 0)
                        return NULL;
        }
        if (guard) {
                _cleanup_free_ char *g = etcd_b64(guard->key, strlen(guard->key));
                if (!g || json_array_append_new(
                              failure, json_pack("{s:{s:s}}", "request_range", "key", g)) < 0)
                        return NULL;
        }
        return json_pack("{s:O, s:O, s:O}", "compare", compare, "success", success, "failure",
                         failure);
}

/* Why a txn of multi_txn_body() failed: the guard (-EPERM), or the first op
 * whose compare lost (-ESTALE, or -ENOENT for a delete of a missing key). */
static int multi_txn_failed(const struct etcd_call *c, const json_t *resp,
                            const struct store_op *ops, size_t n, const struct store_guard *guard,
                            size_t *ret_failed, struct berth_error *err)
{
        if (guard) {
                const json_t *kvs = failure_kvs_at(resp, n);
                int64_t found = 0;
                if (json_array_size(kvs) > 0 &&
                    etcd_json_int64(json_array_get(kvs, 0), "mod_revision", &found) < 0)
                        return etcd_malformed(c, err);
                if (found != guard->mod_revision)
                        return store_guard_failed(guard, err);
        }
        for (size_t i = 0; i < n; i++) {
                const json_t *kvs = failure_kvs_at(resp, i);
                int64_t found = 0;
                if (json_array_size(kvs) > 0 &&
                    etcd_json_int64(json_array_get(kvs, 0), "mod_revision", &found) < 0)
                        return etcd_malformed(c, err);
                int64_t expected = ops[i].expected_mod_revision;
                bool deleting = ops[i].type == STORE_OP_DELETE;
                if (deleting && found == 0) {
                        *ret_failed = i;
                        return berth_error_set(err, -ENOENT, "store: delete %s: not found",
                                               ops[i].key);
                }
                if (expected != STORE_ANY_REVISION && found != expected) {
                        *ret_failed = i;
                        return store_conflict(err,
                                              deleting                        ? "delete"
                                              : ops[i].type == STORE_OP_CHECK ? "check"
                                                                              : "put",
                                              ops[i].key, expected, found);
                }
        }
        return etcd_malformed(c, err); /* no compare lost, yet the txn failed */
}

static int etcd_txn(struct store *base, const struct store_op *ops, size_t n,
                    const struct store_guard *guard, int64_t *ret_revisions, size_t *ret_failed,
                    struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        _cleanup_json_ json_t *body = multi_txn_body(ops, n, guard);
        if (!body)
                return berth_error_set(err, -ENOMEM, "etcd: txn: out of memory");
        size_t bytes = 0;
        for (size_t i = 0; i < n; i++)
                bytes += ops[i].type == STORE_OP_PUT ? ops[i].value_len : 0;
        char subject[STORE_KEY_MAX + 64];
        snprintf(subject, sizeof(subject), "%s (and %zu more)", ops[0].key, n - 1);
        struct etcd_call c = {
            .op = "txn", .subject = subject, .path = "/v3/kv/txn", .value_len = bytes};
        _cleanup_json_ json_t *resp = NULL;
        int r = etcd_call(s, &c, body, &resp, err);
        if (r < 0)
                return r;
        if (!etcd_json_bool(resp, "succeeded"))
                return multi_txn_failed(&c, resp, ops, n, guard, ret_failed, err);
        int64_t rev = 0;
        r = response_revision(&c, resp, &rev, err);
        if (r < 0)
                return r;
        for (size_t i = 0; ret_revisions && i < n; i++)
                ret_revisions[i] =
                    ops[i].type == STORE_OP_CHECK ? 0 : rev; /* one txn, one revision */
        return 0;
}

/* Reads keys[0..n) (n <= ETCD_TXN_OPS) in one txn without compares. */
static int get_chunk(struct etcd_store *s, const char *const *keys, size_t n, struct store_kv *ret,
                     struct berth_error *err)
{
        _cleanup_json_ json_t *success = json_array();
        if (!success)
                return berth_error_set(err, -ENOMEM, "etcd: get: out of memory");
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *k = etcd_b64(keys[i], strlen(keys[i]));
                if (!k || json_array_append_new(
                              success, json_pack("{s:{s:s}}", "request_range", "key", k)) < 0)
                        return berth_error_set(err, -ENOMEM, "etcd: get: out of memory");
        }
        _cleanup_json_ json_t *body = json_pack("{s:O}", "success", success);
        if (!body)
                return berth_error_set(err, -ENOMEM, "etcd: get: out of memory");
        struct etcd_call c = {
            .op = "get", .subject = keys[0], .path = "/v3/kv/txn", .idempotent = true};
        _cleanup_json_ json_t *resp = NULL;
        int r = etcd_call(s, &c, body, &resp, err);
        if (r < 0)
                return r;
        const json_t *responses = json_object_get(resp, "responses");
        if (json_array_size(responses) != n)
                return etcd_malformed(&c, err);
        for (size_t i = 0; i < n; i++) {
                const json_t *kvs = json_object_get(
                    json_object_get(json_array_get(responses, i), "response_range"), "kvs");
                if (kvs && !json_is_array(kvs))
                        return etcd_malformed(&c, err);
                if (json_array_size(kvs) == 0)
                        continue;
                r = etcd_parse_kv(json_array_get(kvs, 0), &ret[i]);
                if (r == -ENOMEM)
                        return berth_error_set(err, r, "etcd: get %s: out of memory", keys[i]);
                if (r < 0)
                        return etcd_malformed(&c, err);
        }
        return 0;
}

static int etcd_get_many(struct store *base, const char *const *keys, size_t n,
                         struct store_kv *ret, struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        size_t chunk = ETCD_TXN_OPS;
        for (size_t i = 0; i < n;) {
                size_t k = n - i < chunk ? n - i : chunk;
                int r = get_chunk(s, keys + i, k, ret + i, err);
                if (r == -E2BIG && k > 1) {
                        /* large values: fewer per response */
                        for (size_t j = i; j < i + k; j++)
                                store_kv_release(&ret[j]);
                        berth_error_clear(err);
                        chunk = k / 2;
                        continue;
                }
                if (r < 0) {
                        for (size_t j = 0; j < n; j++)
                                store_kv_release(&ret[j]);
                        return r;
                }
                i += k;
        }
        return 0;
}

int etcd_revision(struct store *base, int64_t *ret_revision, struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        /* A linearizable count of one key: only the header matters. */
        _cleanup_json_ json_t *body = json_pack("{s:s, s:b}", "key", "AA==", "count_only", 1);
        if (!body)
                return berth_error_set(err, -ENOMEM, "etcd: revision: out of memory");
        struct etcd_call c = {
            .op = "read", .subject = "revision", .path = "/v3/kv/range", .idempotent = true};
        _cleanup_json_ json_t *resp = NULL;
        int r = etcd_call(s, &c, body, &resp, err);
        if (r < 0)
                return r;
        return response_revision(&c, resp, ret_revision, err);
}

static int etcd_compact(struct store *base, int64_t revision, struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        char rev_s[I64_STR_MAX];
        _cleanup_json_ json_t *body = int64_body("revision", revision, rev_s);
        if (!body)
                return berth_error_set(err, -ENOMEM, "etcd: compact: out of memory");
        struct etcd_call c = {
            .op = "compact at", .subject = rev_s, .path = "/v3/kv/compaction", .idempotent = true};
        _cleanup_json_ json_t *resp = NULL;
        struct berth_error e = {0};
        int r = etcd_call(s, &c, body, &resp, &e);
        /* Compacting at or before the compaction point is a no-op, as in store.h. */
        if (r == STORE_ERR_COMPACTED)
                return 0;
        if (r < 0) {
                if (err)
                        *err = e;
                return r;
        }
        return 0;
}

/* ---- leases ----------------------------------------------------------------- */

static int etcd_lease_grant(struct store *base, int64_t ttl, int64_t *ret_id,
                            struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        char ttl_s[I64_STR_MAX];
        _cleanup_json_ json_t *body = int64_body("TTL", ttl, ttl_s);
        if (!body)
                return berth_error_set(err, -ENOMEM, "etcd: grant lease: out of memory");
        struct etcd_call c = {.op = "grant lease", .subject = "TTL", .path = "/v3/lease/grant"};
        _cleanup_json_ json_t *resp = NULL;
        int r = etcd_call(s, &c, body, &resp, err);
        if (r < 0)
                return r;
        const char *msg = json_path_string(resp, "error");
        if (msg && *msg)
                return berth_error_set(err, -EIO, "etcd %s: grant lease: %s", c.ep, msg);
        int64_t id = 0;
        if (etcd_json_int64(resp, "ID", &id) < 0 || id <= 0)
                return etcd_malformed(&c, err);
        *ret_id = id;
        return 0;
}

static int etcd_lease_keepalive(struct store *base, int64_t id, struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        char id_s[I64_STR_MAX];
        _cleanup_json_ json_t *body = int64_body("ID", id, id_s);
        if (!body)
                return berth_error_set(err, -ENOMEM, "etcd: keep lease alive: out of memory");
        /* A stream endpoint: one request, its first answer, then the connection closes. */
        struct etcd_call c = {.op = "keep alive lease",
                              .subject = id_s,
                              .path = "/v3/lease/keepalive",
                              .idempotent = true,
                              .first_line = true};
        _cleanup_json_ json_t *resp = NULL;
        int r = etcd_call(s, &c, body, &resp, err);
        if (r == -ENOENT)
                return store_lease_not_found(err, id);
        if (r < 0)
                return r;
        int64_t ttl = 0;
        if (etcd_json_int64(resp, "TTL", &ttl) < 0)
                return etcd_malformed(&c, err);
        /* An expired or revoked lease answers without TTL: it is lost. */
        if (ttl <= 0)
                return store_lease_not_found(err, id);
        return 0;
}

static int etcd_lease_revoke(struct store *base, int64_t id, struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        char id_s[I64_STR_MAX];
        _cleanup_json_ json_t *body = int64_body("ID", id, id_s);
        if (!body)
                return berth_error_set(err, -ENOMEM, "etcd: revoke lease: out of memory");
        struct etcd_call c = {.op = "revoke lease", .subject = id_s, .path = "/v3/lease/revoke"};
        _cleanup_json_ json_t *resp = NULL;
        int r = etcd_call(s, &c, body, &resp, err);
        if (r == -ENOENT)
                return store_lease_not_found(err, id);
        return r < 0 ? r : 0;
}

/* ---- open / free ---------------------------------------------------------- */

static void etcd_free(struct store *base)
{
        struct etcd_store *s = ES(base);
        etcd_watches_stop(s);
        etcd_http_release(s);
        etcd_url_release(&s->url);
        secret_free(s->password);
        free(s);
}

static const struct store_ops etcd_ops = {
    .name = "etcd",
    .free = etcd_free,
    .get = etcd_get,
    .list = etcd_list,
    .list_page = etcd_list_page,
    .put = etcd_put,
    .delete = etcd_delete,
    .txn = etcd_txn,
    .get_many = etcd_get_many,
    .revision = etcd_revision,
    .compact = etcd_compact,
    .lease_grant = etcd_lease_grant,
    .lease_keepalive = etcd_lease_keepalive,
    .lease_revoke = etcd_lease_revoke,
    .watch = etcd_watch,
    .watch_cancel = etcd_watch_cancel,
};

int store_etcd_open(const char *url, struct store **ret, struct berth_error *err)
{
        _cleanup_(etcd_url_release) struct etcd_url u = {0};
        int r = etcd_url_parse(url ? url : "", &u, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *where = etcd_url_display(url);
        if (!where)
                return berth_error_set(err, -ENOMEM, "store: out of memory");
        _cleanup_(secret_freep) char *password = NULL;
        r = etcd_url_resolve(&u, where, &password, err);
        if (r < 0)
                return r;
        CURLcode cc = etcd_curl_global_init();
        if (cc != CURLE_OK)
                return berth_error_set(err, -EIO, "store %s: libcurl: %s", where,
                                       curl_easy_strerror(cc));

        struct etcd_store *s = calloc(1, sizeof(*s));
        if (!s)
                return berth_error_set(err, -ENOMEM, "store %s: out of memory", where);
        s->base.ops = &etcd_ops;
        s->base.txn_ops_max = ETCD_TXN_OPS;
        s->base.txn_bytes_max = ETCD_TXN_BYTES;
        s->base.txn_guard_is_op = true;
        s->url = u;
        u = (struct etcd_url){0};
        s->n_endpoints = strv_length(s->url.endpoints);
        s->password = TAKE_PTR(password);
        if (etcd_http_init(s) < 0) {
                etcd_free(&s->base);
                return berth_error_set(err, -ENOMEM, "store %s: out of memory", where);
        }
        *ret = &s->base;
        return 0;
}
