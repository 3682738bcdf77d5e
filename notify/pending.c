/* pending.c: the deliveries notify_stop hands over to the next leader — one
 * JSON value per delivery under "<prefix>notify-data/pending/"
 * (notify-internal.h) — written in store transactions under the fence of
 * the term that ends, read back and deleted at notify_start. Nothing here
 * trusts stored bytes: a key or value that does not decode is reported for
 * deletion, never queued. */
#include <inttypes.h>

#include "notify-internal.h"

#define PENDING_BATCH 64 /* values encoded at a time by pending_save */

void pending_delivery_release(struct pending_delivery *p)
{
        if (!p)
                return;
        delivery_free(p->d);
        p->d = NULL;
}

char *pending_key(const char *prefix, const char *ns, const char *name, int64_t stop_ms,
                  size_t place)
{
        if (!prefix || !ns || !name || stop_ms < 0 || stop_ms > PENDING_STOP_MS_MAX ||
            place > PENDING_PLACE_MAX)
                return NULL;
        return str_printf("%s" NOTIFY_PENDING_SEGMENT "%s/%s/%015" PRId64 "-%06zu", prefix, ns,
                          name, stop_ms, place);
}

/* The next '/'-separated part of *p into ret (non-empty, fits): 0 or
 * -EINVAL. */
static int next_part(const char **p, char ret[64])
{
        const char *end = strchr(*p, '/');
        size_t len = end ? (size_t)(end - *p) : 0;

        if (len == 0 || len >= 64)
                return -EINVAL;
        memcpy(ret, *p, len);
        ret[len] = '\0';
        *p = end + 1;
        return 0;
}

static bool digits(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

int pending_key_parse(const char *prefix, const char *key, char ret_ns[64], char ret_name[64])
{
        char ns[64], name[64];
        const char *p;

        if (!prefix || !key || !str_has_prefix(key, prefix) ||
            !str_has_prefix(key + strlen(prefix), NOTIFY_PENDING_SEGMENT))
                return -EINVAL;
        p = key + strlen(prefix) + strlen(NOTIFY_PENDING_SEGMENT);
        if (next_part(&p, ns) < 0 || next_part(&p, name) < 0)
                return -EINVAL;
        /* The seq: exactly "<15 digits>-<6 digits>". */
        if (strlen(p) != 15 + 1 + 6 || !digits(p, 15) || p[15] != '-' || !digits(p + 16, 6))
                return -EINVAL;
        memcpy(ret_ns, ns, sizeof(ns));
        memcpy(ret_name, name, sizeof(name));
        return 0;
}

static bool is_hex_id(const char *s)
{
        size_t len = strlen(s);

        if (len == 0 || len >= RANDOM_UID_LEN)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

char *pending_value_encode(const struct pending_delivery *p)
{
        const struct delivery *d = p ? p->d : NULL;
        _cleanup_json_ json_t *o = NULL;
        char queued[RFC3339_MAX];

        if (!d || !d->body || d->len > NOTIFY_PAYLOAD_MAX || d->queued_ms <= 0 || d->attempts < 0 ||
            !p->uid[0] || !is_hex_id(d->id) || !d->outcome[0])
                return NULL;
        time_format_rfc3339_ms(d->queued_ms, queued);
        o = json_pack("{s:s, s:s, s:s, s:{s:s, s:s}, s:i, s:s, s:b, s:s%}", "id", d->id,
                      "notifierUid", p->uid, "outcome", d->outcome, "object", "kind",
                      d->object_kind, "name", d->object_name, "attempts", d->attempts, "queued",
                      queued, "inFlight", p->in_flight, "body", d->body, d->len);
        return o ? json_dumps(o, JSON_COMPACT) : NULL;
}

/* A string member of o that fits in size bytes (and is not empty when
 * required): borrowed, or NULL. */
static const char *string_field(const json_t *o, const char *name, size_t size, bool required)
{
        const json_t *v = json_object_get(o, name);

        if (!json_is_string(v) || json_string_length(v) >= size ||
            strlen(json_string_value(v)) != json_string_length(v) ||
            (required && json_string_length(v) == 0))
                return NULL;
        return json_string_value(v);
}

int pending_value_decode(const char *data, size_t len, struct pending_delivery *ret, char why[128])
{
        _cleanup_json_ json_t *o = NULL, *payload = NULL;
        const char *id, *uid, *outcome, *kind, *name, *queued, *body;
        const json_t *object, *attempts, *in_flight, *body_v;
        struct delivery *d;
        int64_t queued_ms = 0;

        if (!data || len > NOTIFY_PENDING_VALUE_MAX) {
                snprintf(why, 128, "value is %zu bytes, more than %d", len,
                         NOTIFY_PENDING_VALUE_MAX);
                return -EINVAL;
        }
        o = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(o)) {
                snprintf(why, 128, "not a JSON object");
                return -EINVAL;
        }
        id = string_field(o, "id", RANDOM_UID_LEN, true);
        if (!id || !is_hex_id(id)) {
                snprintf(why, 128, "id is not a delivery id");
                return -EINVAL;
        }
        uid = string_field(o, "notifierUid", sizeof(ret->uid), true);
        if (!uid) {
                snprintf(why, 128, "notifierUid is not a uid");
                return -EINVAL;
        }
        outcome = string_field(o, "outcome", sizeof(d->outcome), true);
        if (!outcome) {
                snprintf(why, 128, "outcome is not a reason");
                return -EINVAL;
        }
        object = json_object_get(o, "object");
        kind = string_field(object, "kind", sizeof(d->object_kind), false);
        name = string_field(object, "name", sizeof(d->object_name), false);
        if (!json_is_object(object) || !kind || !name) {
                snprintf(why, 128, "object is not {kind, name}");
                return -EINVAL;
        }
        attempts = json_object_get(o, "attempts");
        if (!json_is_integer(attempts) || json_integer_value(attempts) < 0 ||
            json_integer_value(attempts) > NOTIFIER_ATTEMPTS_MAX) {
                snprintf(why, 128, "attempts is not a count from 0 to %d", NOTIFIER_ATTEMPTS_MAX);
                return -EINVAL;
        }
        queued = json_string_value(json_object_get(o, "queued"));
        if (!queued || time_parse_rfc3339(queued, &queued_ms) < 0 || queued_ms <= 0) {
                snprintf(why, 128, "queued is not an RFC 3339 time");
                return -EINVAL;
        }
        in_flight = json_object_get(o, "inFlight");
        if (in_flight && !json_is_boolean(in_flight)) {
                snprintf(why, 128, "inFlight is not a boolean");
                return -EINVAL;
        }
        /* The body is sent as it is (its signature is over these bytes):
         * a JSON object of at most NOTIFY_PAYLOAD_MAX bytes, as enqueue made
         * it, or the delivery could never be made. */
        body_v = json_object_get(o, "body");
        body = json_string_value(body_v);
        if (body && json_string_length(body_v) <= NOTIFY_PAYLOAD_MAX &&
            strlen(body) == json_string_length(body_v))
                payload = json_loadb(body, json_string_length(body_v), 0, NULL);
        if (!json_is_object(payload)) {
                snprintf(why, 128, "body is not a JSON object of at most %d bytes",
                         NOTIFY_PAYLOAD_MAX);
                return -EINVAL;
        }
        d = calloc(1, sizeof(*d));
        if (!d || !(d->body = strndup(body, json_string_length(body_v)))) {
                free(d);
                snprintf(why, 128, "out of memory");
                return -ENOMEM;
        }
        d->len = json_string_length(body_v);
        (void)str_copy(d->id, sizeof(d->id), id);
        (void)str_copy(d->outcome, sizeof(d->outcome), outcome);
        (void)str_copy(d->object_kind, sizeof(d->object_kind), kind);
        (void)str_copy(d->object_name, sizeof(d->object_name), name);
        d->attempts = (int)json_integer_value(attempts);
        d->queued_ms = queued_ms;
        (void)str_copy(ret->uid, sizeof(ret->uid), uid);
        ret->in_flight = json_is_true(in_flight);
        ret->d = d;
        return 0;
}

/* Writes ops[0..n) in as few transactions as the backend takes, under
 * fence: 0, or the -errno of the first that failed (-EPERM: the fence
 * moved; err says). A delete of a key already gone is left out, not an
 * error. *ret_done: how many ops were written (or found done). */
static int txn_all(struct store *s, struct store_op *ops, size_t n, const struct store_guard *fence,
                   size_t *ret_done, struct berth_error *err)
{
        size_t done = 0;

        while (done < n) {
                size_t fit = store_txn_fit(s, ops + done, n - done, fence != NULL);
                size_t failed = 0;
                int r = store_txn(s, ops + done, fit, fence, NULL, &failed, err);

                if (r == -ENOENT && failed < fit && ops[done + failed].type == STORE_OP_DELETE) {
                        /* Already gone: the rest again without it. */
                        memmove(&ops[done + failed], &ops[done + failed + 1],
                                (n - done - failed - 1) * sizeof(ops[0]));
                        n--;
                        (*ret_done)++;
                        *err = (struct berth_error){0};
                        continue;
                }
                if (r < 0)
                        return r;
                done += fit;
                *ret_done += fit;
        }
        return 0;
}

int pending_save(struct store *s, const char *prefix, const struct pending_delivery *p, size_t n,
                 int64_t stop_ms, const struct store_guard *fence, size_t *ret_saved,
                 struct berth_error *err)
{
        size_t saved = 0;
        int r = 0;

        for (size_t start = 0; start < n && r == 0; start += PENDING_BATCH) {
                size_t nb = n - start < PENDING_BATCH ? n - start : PENDING_BATCH;
                struct store_op ops[PENDING_BATCH];
                char *keys[PENDING_BATCH] = {0}, *values[PENDING_BATCH] = {0};

                for (size_t i = 0; i < nb && r == 0; i++) {
                        const struct pending_delivery *it = &p[start + i];

                        keys[i] = pending_key(prefix, it->ns, it->name, stop_ms, start + i);
                        values[i] = pending_value_encode(it);
                        if (!keys[i] || !values[i])
                                r = berth_error_set(err, -EINVAL,
                                                    "notifications handed over: cannot encode "
                                                    "delivery %s of %s/%s",
                                                    it->d ? it->d->id : "", it->ns, it->name);
                        ops[i] = (struct store_op){
                            .type = STORE_OP_PUT,
                            .key = keys[i],
                            .value = values[i],
                            .value_len = values[i] ? strlen(values[i]) : 0,
                            .expected_mod_revision = STORE_ANY_REVISION,
                        };
                }
                if (r == 0)
                        r = txn_all(s, ops, nb, fence, &saved, err);
                for (size_t i = 0; i < nb; i++) {
                        free(keys[i]);
                        free(values[i]);
                }
        }
        *ret_saved = saved;
        return r;
}

void pending_load_release(struct pending_load *l)
{
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                pending_delivery_release(&l->items[i].p);
        free(l->items);
        for (size_t i = 0; i < l->n_bad; i++)
                free(l->bad[i]);
        free(l->bad);
        *l = (struct pending_load){0};
}

int pending_load_read(struct store *s, const char *prefix, size_t max, int64_t keep_ms,
                      int64_t now_ms, struct pending_load *ret, struct berth_error *err)
{
        _cleanup_free_ char *list_prefix = str_printf("%s" NOTIFY_PENDING_SEGMENT, prefix);
        struct store_kvs kvs = {0};
        struct pending_load l = {0};
        size_t queued = 0;
        int r;

        if (!list_prefix)
                return berth_error_set(err, -ENOMEM, "notifications handed over: out of memory");
        r = store_list(s, list_prefix, 0, &kvs, err);
        if (r < 0)
                return r;
        if (kvs.n > 0) {
                l.items = calloc(kvs.n, sizeof(*l.items));
                l.bad = calloc(kvs.n, sizeof(*l.bad));
                if (!l.items || !l.bad) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        /* Key order: the older handover first, then each Notifier's queue
         * in order. */
        for (size_t i = 0; i < kvs.n; i++) {
                const struct store_kv *kv = &kvs.items[i];
                struct pending_stored *it = &l.items[l.n];
                char why[128] = "";

                if (str_copy(it->key, sizeof(it->key), kv->key) < 0 ||
                    pending_key_parse(prefix, kv->key, it->p.ns, it->p.name) < 0)
                        snprintf(why, sizeof(why), "not a key of namespace/name/seq");
                else if ((r = pending_value_decode(kv->value, kv->value_len, &it->p, why)) ==
                         -ENOMEM)
                        goto fail;
                if (why[0]) {
                        if (l.n_bad == 0) {
                                (void)str_copy(l.bad_key, sizeof(l.bad_key), kv->key);
                                (void)str_copy(l.bad_why, sizeof(l.bad_why), why);
                        }
                        if (!(l.bad[l.n_bad] = strdup(kv->key))) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        l.n_bad++;
                        *it = (struct pending_stored){0};
                        continue;
                }
                if (now_ms - it->p.d->queued_ms > keep_ms) {
                        it->fate = PENDING_EXPIRED;
                        l.expired++;
                } else if (queued >= max) {
                        it->fate = PENDING_OVER;
                        l.over++;
                } else {
                        it->fate = PENDING_QUEUE;
                        queued++;
                }
                l.n++;
        }
        store_kvs_release(&kvs);
        *ret = l;
        return 0;
fail:
        store_kvs_release(&kvs);
        pending_load_release(&l);
        return berth_error_set(err, r, "notifications handed over: out of memory");
}

int pending_load_delete(struct store *s, const struct pending_load *l,
                        const struct store_guard *fence, struct berth_error *err)
{
        size_t n = l->n + l->n_bad, done = 0;
        _cleanup_free_ struct store_op *ops = n ? calloc(n, sizeof(*ops)) : NULL;

        if (n == 0)
                return 0;
        if (!ops)
                return berth_error_set(err, -ENOMEM, "notifications handed over: out of memory");
        for (size_t i = 0; i < l->n; i++)
                ops[i] = (struct store_op){.type = STORE_OP_DELETE,
                                           .key = l->items[i].key,
                                           .expected_mod_revision = STORE_ANY_REVISION};
        for (size_t i = 0; i < l->n_bad; i++)
                ops[l->n + i] = (struct store_op){.type = STORE_OP_DELETE,
                                                  .key = l->bad[i],
                                                  .expected_mod_revision = STORE_ANY_REVISION};
        return txn_all(s, ops, n, fence, &done, err);
}
