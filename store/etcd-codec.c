/* store etcd codec: the etcd v3 JSON gateway's wire format, no I/O.
 *
 * Keys and values are standard base64, 64-bit integers decimal strings and
 * absent fields their defaults (see etcd-internal.h). This file decodes kvs,
 * watch events and stream messages, maps etcd's errors to -errno, and encodes
 * what requests carry: base64, prefix ranges and the authentication body.
 */
#include "etcd-internal.h"

/* ---- base64 ----------------------------------------------------------------- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int etcd_base64_encode(const void *data, size_t len, char **ret)
{
        if (len > (SIZE_MAX / 4 - 1) * 3)
                return -E2BIG;
        const unsigned char *p = data;
        char *out = malloc((len + 2) / 3 * 4 + 1);
        if (!out)
                return -ENOMEM;
        size_t o = 0, i = 0;
        for (; i + 3 <= len; i += 3) {
                uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
                out[o++] = b64_alphabet[v >> 18 & 63];
                out[o++] = b64_alphabet[v >> 12 & 63];
                out[o++] = b64_alphabet[v >> 6 & 63];
                out[o++] = b64_alphabet[v & 63];
        }
        if (len - i == 1) {
                uint32_t v = (uint32_t)p[i] << 16;
                out[o++] = b64_alphabet[v >> 18 & 63];
                out[o++] = b64_alphabet[v >> 12 & 63];
                out[o++] = '=';
                out[o++] = '=';
        } else if (len - i == 2) {
                uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
                out[o++] = b64_alphabet[v >> 18 & 63];
                out[o++] = b64_alphabet[v >> 12 & 63];
                out[o++] = b64_alphabet[v >> 6 & 63];
                out[o++] = '=';
        }
        out[o] = '\0';
        *ret = out;
        return 0;
}

static int b64_value(unsigned char c)
{
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

int etcd_base64_decode(const char *s, size_t slen, char **ret, size_t *ret_len)
{
        if (slen % 4 != 0)
                return -EBADMSG;
        size_t pad = 0;
        if (slen > 0 && s[slen - 1] == '=')
                pad = s[slen - 2] == '=' ? 2 : 1;
        size_t out_len = slen / 4 * 3 - pad;
        _cleanup_free_ char *out = malloc(out_len + 1);
        if (!out)
                return -ENOMEM;
        size_t o = 0;
        for (size_t i = 0; i < slen; i += 4) {
                bool last = i + 4 == slen;
                uint32_t v = 0;
                for (size_t j = 0; j < 4; j++) {
                        int x = 0;
                        if (!last || j < 4 - pad) {
                                x = b64_value((unsigned char)s[i + j]);
                                if (x < 0)
                                        return -EBADMSG;
                        }
                        v = v << 6 | (uint32_t)x;
                }
                /* Padding bits must be zero: etcd (Go) never sends anything else. */
                if (last && ((pad == 2 && (v & 0xffff)) || (pad == 1 && (v & 0xff))))
                        return -EBADMSG;
                out[o++] = (char)(v >> 16);
                if (!last || pad < 2)
                        out[o++] = (char)(v >> 8 & 0xff);
                if (!last || pad < 1)
                        out[o++] = (char)(v & 0xff);
        }
        out[o] = '\0';
        *ret = TAKE_PTR(out);
        *ret_len = o;
        return 0;
}

/* ---- proto3 JSON -------------------------------------------------------------- */

int etcd_json_int64(const json_t *obj, const char *name, int64_t *ret)
{
        json_t *v = json_is_object(obj) ? json_object_get(obj, name) : NULL;
        if (!v || json_is_null(v)) {
                *ret = 0;
                return 0;
        }
        if (json_is_integer(v)) {
                *ret = (int64_t)json_integer_value(v);
                return 0;
        }
        if (!json_is_string(v))
                return -EBADMSG;
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        const char *digits = s[0] == '-' ? s + 1 : s;
        if (len == 0 || len >= I64_STR_MAX || *digits < '0' || *digits > '9')
                return -EBADMSG;
        errno = 0;
        char *end = NULL;
        long long x = strtoll(s, &end, 10);
        if (errno != 0 || end != s + len)
                return -EBADMSG;
        *ret = (int64_t)x;
        return 0;
}

bool etcd_json_bool(const json_t *obj, const char *name)
{
        json_t *v = json_is_object(obj) ? json_object_get(obj, name) : NULL;
        return json_is_true(v);
}

static int decode_field(const json_t *obj, const char *name, char **ret, size_t *ret_len)
{
        json_t *v = json_object_get(obj, name);
        if (v && !json_is_string(v))
                return -EBADMSG;
        return etcd_base64_decode(v ? json_string_value(v) : "", v ? json_string_length(v) : 0, ret,
                                  ret_len);
}

int etcd_parse_kv(const json_t *obj, struct store_kv *ret)
{
        if (!json_is_object(obj) || !json_is_string(json_object_get(obj, "key")))
                return -EBADMSG;
        _cleanup_(store_kv_release) struct store_kv kv = {0};
        size_t key_len = 0;
        int r = decode_field(obj, "key", &kv.key, &key_len);
        if (r < 0)
                return r;
        if (key_len == 0 || key_len > STORE_KEY_MAX || memchr(kv.key, '\0', key_len))
                return -EBADMSG;
        r = decode_field(obj, "value", &kv.value, &kv.value_len);
        if (r < 0)
                return r;
        if (etcd_json_int64(obj, "create_revision", &kv.create_revision) < 0 ||
            etcd_json_int64(obj, "mod_revision", &kv.mod_revision) < 0 ||
            etcd_json_int64(obj, "version", &kv.version) < 0 ||
            etcd_json_int64(obj, "lease", &kv.lease) < 0)
                return -EBADMSG;
        *ret = kv;
        kv = (struct store_kv){0};
        return 0;
}

static int parse_event(const json_t *obj, struct store_event *ret)
{
        if (!json_is_object(obj))
                return -EBADMSG;
        struct store_event e = {.type = STORE_EVENT_PUT};
        json_t *type = json_object_get(obj, "type");
        if (type) {
                if (json_is_string(type) && streq(json_string_value(type), "DELETE"))
                        e.type = STORE_EVENT_DELETE;
                else if (!json_is_string(type) || !streq(json_string_value(type), "PUT"))
                        return -EBADMSG;
        }
        int r = etcd_parse_kv(json_object_get(obj, "kv"), &e.kv);
        if (r < 0)
                return r;
        if (e.type == STORE_EVENT_DELETE) {
                /* store.h: a DELETE carries no value. */
                free(e.kv.value);
                e.kv.value = NULL;
                e.kv.value_len = 0;
        }
        json_t *prev = json_object_get(obj, "prev_kv");
        if (prev && !json_is_null(prev)) {
                r = etcd_parse_kv(prev, &e.prev_kv);
                if (r < 0) {
                        store_kv_release(&e.kv);
                        return r;
                }
        }
        *ret = e;
        return 0;
}

void etcd_watch_msg_release(struct etcd_watch_msg *m)
{
        if (!m)
                return;
        free(m->cancel_reason);
        free(m->error);
        store_events_free(m->events, m->n);
        *m = (struct etcd_watch_msg){0};
}

static void watch_msg_releasep(struct etcd_watch_msg *m)
{
        etcd_watch_msg_release(m);
}

int etcd_watch_msg_parse(const char *data, size_t len, struct etcd_watch_msg *ret)
{
        _cleanup_json_ json_t *root = json_loadb(data, len, 0, NULL);
        if (!json_is_object(root))
                return -EBADMSG;
        _cleanup_(watch_msg_releasep) struct etcd_watch_msg m = {0};

        json_t *error = json_object_get(root, "error");
        if (error) {
                /* grpc-gateway stream errors: {"error":{"grpc_code":..,"message":..}}. */
                const char *msg = json_is_string(error) ? json_string_value(error)
                                                        : json_path_string(error, "message");
                m.error = strdup(msg && *msg ? msg : "unknown stream error");
                if (!m.error)
                        return -ENOMEM;
                *ret = m;
                m = (struct etcd_watch_msg){0};
                return 0;
        }
        json_t *res = json_object_get(root, "result");
        if (!json_is_object(res))
                return -EBADMSG;
        if (etcd_json_int64(json_object_get(res, "header"), "revision", &m.header_revision) < 0 ||
            etcd_json_int64(res, "compact_revision", &m.compact_revision) < 0)
                return -EBADMSG;
        m.created = etcd_json_bool(res, "created");
        m.canceled = etcd_json_bool(res, "canceled");
        json_t *reason = json_object_get(res, "cancel_reason");
        if (reason) {
                if (!json_is_string(reason))
                        return -EBADMSG;
                m.cancel_reason = strdup(json_string_value(reason));
                if (!m.cancel_reason)
                        return -ENOMEM;
        }
        json_t *events = json_object_get(res, "events");
        if (events && !json_is_array(events))
                return -EBADMSG;
        size_t n = json_array_size(events);
        if (n > 0) {
                m.events = calloc(n, sizeof(*m.events));
                if (!m.events)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        int r = parse_event(json_array_get(events, i), &m.events[i]);
                        if (r < 0)
                                return r;
                        m.n++;
                        /* Events come in revision order; anything else is corrupt. */
                        if (i > 0 && m.events[i].kv.mod_revision < m.events[i - 1].kv.mod_revision)
                                return -EBADMSG;
                }
        }
        *ret = m;
        m = (struct etcd_watch_msg){0};
        return 0;
}

/* ---- errors ----------------------------------------------------------------- */

int etcd_error_errno(const char *message, int64_t grpc_code)
{
        if (message) {
                if (strstr(message, "required revision has been compacted"))
                        return STORE_ERR_COMPACTED;
                if (strstr(message, "required revision is a future revision"))
                        return -EINVAL;
                if (strstr(message, "requested lease not found"))
                        return -ENOENT;
                if (strstr(message, "request is too large"))
                        return -E2BIG;
                if (strstr(message, "database space exceeded"))
                        return -ENOSPC;
                /* Auth errors come as INVALID_ARGUMENT (wrong password, no user),
                 * and watches report them in a cancel reason without a code. */
                if (strstr(message, "authentication failed") ||
                    strstr(message, "user name is empty") ||
                    strstr(message, "invalid auth token") ||
                    strstr(message, "revision of auth store is old") ||
                    strstr(message, "permission denied"))
                        return -EACCES;
        }
        switch (grpc_code) {
        case 1: /* CANCELLED */
                return -ECANCELED;
        case 3:  /* INVALID_ARGUMENT */
        case 11: /* OUT_OF_RANGE */
                return -EINVAL;
        case 4: /* DEADLINE_EXCEEDED */
                return -ETIMEDOUT;
        case 5: /* NOT_FOUND */
                return -ENOENT;
        case 6: /* ALREADY_EXISTS */
                return -EEXIST;
        case 7:  /* PERMISSION_DENIED */
        case 16: /* UNAUTHENTICATED */
                return -EACCES;
        case 8: /* RESOURCE_EXHAUSTED */
                return -ENOSPC;
        case 12: /* UNIMPLEMENTED */
                return -EOPNOTSUPP;
        case 14: /* UNAVAILABLE: no leader, leader changed, stopping */
                return -EAGAIN;
        default:
                return -EIO;
        }
}

bool etcd_error_token_rejected(const char *message, int64_t grpc_code)
{
        if (grpc_code == 16) /* UNAUTHENTICATED */
                return true;
        return message && (strstr(message, "invalid auth token") ||
                           strstr(message, "revision of auth store is old"));
}

/* ---- requests and responses ------------------------------------------------- */

int etcd_header_revision(const json_t *resp, int64_t *ret)
{
        int64_t rev = 0;
        if (etcd_json_int64(json_object_get(resp, "header"), "revision", &rev) < 0 || rev <= 0)
                return -EBADMSG;
        *ret = rev;
        return 0;
}

char *etcd_b64(const void *data, size_t len)
{
        char *out = NULL;
        return etcd_base64_encode(data, len, &out) < 0 ? NULL : out;
}

int etcd_prefix_range(const char *prefix, char **ret_key, char **ret_end)
{
        _cleanup_free_ char *end = NULL;
        int r = store_prefix_end(prefix, &end);
        if (r < 0)
                return r;
        _cleanup_free_ char *k = *prefix ? etcd_b64(prefix, strlen(prefix)) : etcd_b64("", 1);
        _cleanup_free_ char *e = end ? etcd_b64(end, strlen(end)) : etcd_b64("", 1);
        if (!k || !e)
                return -ENOMEM;
        *ret_key = TAKE_PTR(k);
        *ret_end = TAKE_PTR(e);
        return 0;
}

/* Writes in as the inside of a JSON string; out needs 6 bytes per input byte. */
static size_t json_escape(char *out, const char *in)
{
        static const char hex[] = "0123456789abcdef";
        size_t o = 0;
        for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
                if (*p == '"' || *p == '\\') {
                        out[o++] = '\\';
                        out[o++] = (char)*p;
                } else if (*p < 0x20) {
                        memcpy(out + o, "\\u00", 4);
                        o += 4;
                        out[o++] = hex[*p >> 4];
                        out[o++] = hex[*p & 15];
                } else {
                        out[o++] = (char)*p;
                }
        }
        return o;
}

int etcd_auth_body(const char *user, const char *password, char **ret)
{
        size_t cap =
            sizeof("{\"name\":\"\",\"password\":\"\"}") + 6 * (strlen(user) + strlen(password));
        char *data = malloc(cap);
        if (!data)
                return -ENOMEM;
        size_t o = 0;
        memcpy(data + o, "{\"name\":\"", 9);
        o += 9;
        o += json_escape(data + o, user);
        memcpy(data + o, "\",\"password\":\"", 14);
        o += 14;
        o += json_escape(data + o, password);
        memcpy(data + o, "\"}", 3);
        *ret = data;
        return 0;
}
