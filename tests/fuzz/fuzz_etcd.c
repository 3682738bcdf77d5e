/* Fuzz target for the etcd backend's pure helpers: base64, the proto3 JSON of
 * range/txn responses, watch stream messages, gateway error bodies, endpoint
 * lists and store URLs. Every input goes through all of them. Besides memory
 * errors and UB it aborts when
 *   - base64 does not round-trip (decode∘encode, and encode∘decode since the
 *     decoder accepts only canonical text),
 *   - a parsed KeyValue or watch message breaks its documented guarantees,
 *   - a failed parse writes its output (rule 7: untouched on failure),
 *   - an error maps to a non-negative errno. */
#include <stdint.h>

#include "etcd-internal.h"

/* ---- base64 ---------------------------------------------------------------- */

static void fuzz_base64(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *enc = NULL, *dec = NULL, *again = NULL;
        size_t dec_len = 0, again_len = 0;

        if (etcd_base64_encode(data, size, &enc) < 0)
                return;
        if (strlen(enc) % 4 != 0 || etcd_base64_decode(enc, strlen(enc), &dec, &dec_len) < 0 ||
            dec_len != size || (size && memcmp(dec, data, size) != 0) || dec[dec_len] != '\0')
                abort();

        if (etcd_base64_decode((const char *)data, size, &again, &again_len) < 0) {
                if (again)
                        abort();
                return;
        }
        free(enc);
        enc = NULL;
        if (again[again_len] != '\0' || etcd_base64_encode(again, again_len, &enc) < 0 ||
            strlen(enc) != size || memcmp(enc, data, size) != 0)
                abort();
}

/* ---- responses ------------------------------------------------------------- */

static void check_kv(const json_t *obj)
{
        struct store_kv kv = {};

        if (etcd_parse_kv(obj, &kv) < 0) {
                if (kv.key || kv.value)
                        abort();
                return;
        }
        if (!kv.key || !kv.key[0] || strlen(kv.key) > STORE_KEY_MAX || !kv.value ||
            kv.value[kv.value_len] != '\0')
                abort();
        store_kv_release(&kv);
}

static void check_kvs(const json_t *range)
{
        const json_t *kvs = json_object_get(range, "kvs");
        int64_t v;
        size_t i;
        json_t *kv;

        (void)etcd_json_int64(range, "count", &v);
        (void)etcd_json_bool(range, "more");
        json_array_foreach(kvs, i, kv) check_kv(kv);
        json_array_foreach(json_object_get(range, "prev_kvs"), i, kv) check_kv(kv);
}

/* A range, put, delete or txn response, or a gateway error body. */
static void fuzz_response(const uint8_t *data, size_t size)
{
        _cleanup_json_ json_t *root = json_loadb((const char *)data, size, 0, NULL);
        const char *message;
        int64_t v = 42, code = 0;
        size_t i;
        json_t *resp;

        /* The int64 reader must leave *ret alone on junk and accept null as 0. */
        if (etcd_json_int64(root, "revision", &v) < 0 && v != 42)
                abort();
        if (etcd_json_int64(json_object_get(root, "header"), "revision", &v) == 0 &&
            !json_object_get(json_object_get(root, "header"), "revision") && v != 0)
                abort();
        (void)etcd_json_bool(root, "succeeded");
        check_kvs(root);
        check_kv(json_object_get(root, "prev_kv"));
        json_array_foreach(json_object_get(root, "responses"), i, resp)
        {
                check_kvs(json_object_get(resp, "response_range"));
                check_kvs(json_object_get(resp, "response_delete_range"));
                check_kv(json_path(resp, "response_put.prev_kv"));
        }

        message = json_string_value(json_object_get(root, "message"));
        if (!message)
                message = json_string_value(json_object_get(root, "error"));
        if (etcd_json_int64(root, "code", &code) < 0)
                code = 2; /* UNKNOWN */
        if (etcd_error_errno(message, code) >= 0)
                abort();
        (void)etcd_error_token_rejected(message, code);
}

/* ---- watch messages -------------------------------------------------------- */

static void fuzz_watch(const uint8_t *data, size_t size)
{
        struct etcd_watch_msg m, sentinel;

        memset(&m, 0xa5, sizeof(m));
        memcpy(&sentinel, &m, sizeof(m));
        if (etcd_watch_msg_parse((const char *)data, size, &m) < 0) {
                if (memcmp(&m, &sentinel, sizeof(m)) != 0)
                        abort();
                return;
        }
        if ((m.n > 0) != (m.events != NULL) || (m.error && (m.n || !m.error[0])))
                abort();
        for (size_t i = 0; i < m.n; i++) {
                const struct store_event *e = &m.events[i];

                if (!e->kv.key || (e->type == STORE_EVENT_DELETE) != (e->kv.value == NULL) ||
                    (i > 0 && e->kv.mod_revision < m.events[i - 1].kv.mod_revision))
                        abort();
        }
        etcd_watch_msg_release(&m);
        etcd_watch_msg_release(NULL);
}

/* ---- endpoints and URLs ------------------------------------------------------ */

static void fuzz_endpoints(const char *s)
{
        char **v = NULL;
        size_t n;

        if (etcd_parse_endpoints(s, &v) < 0) {
                if (v)
                        abort();
                return;
        }
        n = strv_length(v);
        if (n == 0 || n > 16)
                abort();
        for (size_t i = 0; i < n; i++)
                if (!strchr(v[i], ':') || strchr(v[i], ','))
                        abort();
        strv_free(v);
}

static void fuzz_url(const char *s)
{
        struct etcd_url u, sentinel;
        struct berth_error err = {};

        memset(&u, 0xa5, sizeof(u));
        memcpy(&sentinel, &u, sizeof(u));
        if (etcd_url_parse(s, &u, &err) < 0) {
                if (memcmp(&u, &sentinel, sizeof(u)) != 0 || !err.message[0] || err.code >= 0)
                        abort();
                return;
        }
        if (!u.endpoints || !u.endpoints[0] || (!u.tls && (u.cacert || u.cert || u.key)) ||
            (!u.cert != !u.key) || (u.password_file && !u.user))
                abort();
        etcd_url_release(&u);
        etcd_url_release(NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *str = NULL;

        fuzz_base64(data, size);
        fuzz_response(data, size);
        fuzz_watch(data, size);

        /* The string helpers take C strings: the input up to its first NUL. */
        str = strndup((const char *)data, size);
        if (!str)
                return 0;
        if (etcd_error_errno(str, size ? data[0] : 0) >= 0)
                abort();
        fuzz_endpoints(str);
        fuzz_url(str);
        return 0;
}
