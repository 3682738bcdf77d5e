/* outcomes-store.c: the outcome memory as the store holds it — one small
 * JSON value per (kind, namespace, name) under
 * "<prefix>notify-data/outcomes/" (notify-internal.h) — and reading it back
 * at notify_start. Nothing here trusts stored bytes: a key or value that
 * does not decode is reported for deletion, never loaded. */
#include "notify-internal.h"

#define RESULT_FAILED_S    "Failed"
#define RESULT_SUCCEEDED_S "Succeeded"

static const char *result_to_string(enum run_result r)
{
        switch (r) {
        case RUN_FAILED:
                return RESULT_FAILED_S;
        case RUN_SUCCEEDED:
                return RESULT_SUCCEEDED_S;
        case RUN_NONE:
                break;
        }
        return NULL;
}

static int result_from_string(const char *s, enum run_result *ret)
{
        if (streq(s, RESULT_FAILED_S))
                *ret = RUN_FAILED;
        else if (streq(s, RESULT_SUCCEEDED_S))
                *ret = RUN_SUCCEEDED;
        else
                return -EINVAL;
        return 0;
}

char *outcome_key(const char *prefix, const char *kind, const char *ns, const char *name)
{
        if (!prefix || !kind || !ns || !name)
                return NULL;
        return str_printf("%s" NOTIFY_OUTCOME_SEGMENT "%s/%s/%s", prefix, kind, ns, name);
}

/* The next '/'-separated part of *p into ret (non-empty, fits, and the last
 * one when last): 0 or -EINVAL. */
static int next_part(const char **p, bool last, char ret[64])
{
        const char *end = strchr(*p, '/');
        size_t len = end ? (size_t)(end - *p) : strlen(*p);

        if (len == 0 || len >= 64 || (last != !end))
                return -EINVAL;
        memcpy(ret, *p, len);
        ret[len] = '\0';
        *p += len + (end ? 1 : 0);
        return 0;
}

int outcome_key_parse(const char *prefix, const char *key, char ret_kind[64], char ret_ns[64],
                      char ret_name[64])
{
        char kind[64], ns[64], name[64];
        const char *p;

        if (!prefix || !key || !str_has_prefix(key, prefix) ||
            !str_has_prefix(key + strlen(prefix), NOTIFY_OUTCOME_SEGMENT))
                return -EINVAL;
        p = key + strlen(prefix) + strlen(NOTIFY_OUTCOME_SEGMENT);
        if (next_part(&p, false, kind) < 0 || next_part(&p, false, ns) < 0 ||
            next_part(&p, true, name) < 0)
                return -EINVAL;
        memcpy(ret_kind, kind, sizeof(kind));
        memcpy(ret_ns, ns, sizeof(ns));
        memcpy(ret_name, name, sizeof(name));
        return 0;
}

char *outcome_value_encode(const struct outcome_value *v)
{
        const char *result = v ? result_to_string(v->result) : NULL;
        const char *before = v ? result_to_string(v->before) : NULL;
        _cleanup_json_ json_t *o = NULL;
        char at[RFC3339_MAX];

        if (!result || v->at_ms <= 0 || (v->before != RUN_NONE && !before))
                return NULL;
        time_format_rfc3339_ms(v->at_ms, at);
        o = json_pack("{s:s, s:s, s:s}", "uid", v->uid, "result", result, "at", at);
        if (!o || (before && json_object_set_new(o, "before", json_string(before)) < 0))
                return NULL;
        return json_dumps(o, JSON_COMPACT);
}

int outcome_value_decode(const char *data, size_t len, struct outcome_value *ret, char why[128])
{
        struct outcome_value v = {0};
        _cleanup_json_ json_t *o = NULL;
        const json_t *uid, *before;
        const char *at;

        if (!data || len > NOTIFY_OUTCOME_VALUE_MAX) {
                snprintf(why, 128, "value is %zu bytes, more than %d", len,
                         NOTIFY_OUTCOME_VALUE_MAX);
                return -EINVAL;
        }
        o = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(o)) {
                snprintf(why, 128, "not a JSON object");
                return -EINVAL;
        }
        uid = json_object_get(o, "uid");
        if (uid && (!json_is_string(uid) || json_string_length(uid) >= sizeof(v.uid))) {
                snprintf(why, 128, "uid is not a string of less than %zu bytes", sizeof(v.uid));
                return -EINVAL;
        }
        (void)str_copy(v.uid, sizeof(v.uid), uid ? json_string_value(uid) : "");
        if (result_from_string(json_string_value(json_object_get(o, "result")), &v.result) < 0) {
                snprintf(why, 128, "result is not " RESULT_FAILED_S " or " RESULT_SUCCEEDED_S);
                return -EINVAL;
        }
        before = json_object_get(o, "before");
        if (before && result_from_string(json_string_value(before), &v.before) < 0) {
                snprintf(why, 128, "before is not " RESULT_FAILED_S " or " RESULT_SUCCEEDED_S);
                return -EINVAL;
        }
        at = json_string_value(json_object_get(o, "at"));
        if (!at || time_parse_rfc3339(at, &v.at_ms) < 0 || v.at_ms <= 0) {
                snprintf(why, 128, "at is not an RFC 3339 time");
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

void outcome_load_release(struct outcome_load *l)
{
        if (!l)
                return;
        free(l->items);
        for (size_t i = 0; i < l->n_purge; i++)
                free(l->purge[i]);
        free(l->purge);
        *l = (struct outcome_load){0};
}

static int cmp_at(const void *a, const void *b)
{
        const struct outcome_stored *x = a, *y = b;

        return x->v.at_ms < y->v.at_ms ? -1 : x->v.at_ms > y->v.at_ms;
}

/* Takes a copy of key into l->purge (room made by the caller). */
static int purge_add(struct outcome_load *l, const char *key)
{
        char *k = strdup(key);

        if (!k)
                return -ENOMEM;
        l->purge[l->n_purge++] = k;
        return 0;
}

int outcome_load_read(struct store *s, const char *prefix, size_t max, int64_t keep_ms,
                      int64_t now_ms, struct outcome_load *ret, struct berth_error *err)
{
        _cleanup_free_ char *list_prefix = str_printf("%s" NOTIFY_OUTCOME_SEGMENT, prefix);
        struct store_kvs kvs = {0};
        struct outcome_load l = {0};
        int r;

        if (!list_prefix)
                return berth_error_set(err, -ENOMEM, "notifier outcomes: out of memory");
        r = store_list(s, list_prefix, 0, &kvs, err);
        if (r < 0)
                return r;
        if (kvs.n > 0) {
                l.items = calloc(kvs.n, sizeof(*l.items));
                l.purge = calloc(kvs.n, sizeof(*l.purge));
                if (!l.items || !l.purge) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        for (size_t i = 0; i < kvs.n; i++) {
                const struct store_kv *kv = &kvs.items[i];
                struct outcome_stored *it = &l.items[l.n];
                char why[128] = "";

                if (outcome_key_parse(prefix, kv->key, it->kind, it->ns, it->name) < 0)
                        snprintf(why, sizeof(why), "not a key of kind/namespace/name");
                else if (outcome_value_decode(kv->value, kv->value_len, &it->v, why) == 0 &&
                         now_ms - it->v.at_ms <= keep_ms) {
                        l.n++;
                        continue;
                }
                if (!why[0]) {
                        l.expired++;
                } else if (l.bad++ == 0) {
                        (void)str_copy(l.bad_key, sizeof(l.bad_key), kv->key);
                        (void)str_copy(l.bad_why, sizeof(l.bad_why), why);
                }
                if ((r = purge_add(&l, kv->key)) < 0)
                        goto fail;
        }
        if (l.n > 1)
                qsort(l.items, l.n, sizeof(*l.items), cmp_at);
        if (l.n > max) {
                size_t drop = l.n - max;

                for (size_t i = 0; i < drop; i++) {
                        _cleanup_free_ char *key =
                            outcome_key(prefix, l.items[i].kind, l.items[i].ns, l.items[i].name);
                        if (!key || (r = purge_add(&l, key)) < 0) {
                                r = -ENOMEM;
                                goto fail;
                        }
                }
                memmove(l.items, l.items + drop, max * sizeof(*l.items));
                l.n = max;
                l.trimmed = drop;
        }
        store_kvs_release(&kvs);
        *ret = l;
        return 0;
fail:
        store_kvs_release(&kvs);
        outcome_load_release(&l);
        return berth_error_set(err, r, "notifier outcomes: out of memory");
}
