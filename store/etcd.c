/* store etcd: the etcd v3 backend, through etcd's JSON gateway over HTTP (libcurl).
 *
 * Requests: every call is a POST of a JSON body to http[s]://<endpoint>/v3/...; keys
 * and values are base64 and 64-bit integers decimal strings (see etcd-internal.h).
 * Unary calls borrow a curl easy handle from a small mutex-protected pool, so
 * connections are kept alive across calls from any thread.
 *
 * Endpoints and failover: a call starts at the endpoint that answered last and,
 * on a failure to connect, tries the next one; after a full round it waits
 * (100 ms, then 200 ms) and tries another round, three rounds at most. A request
 * that may have reached etcd is only sent again when it is a read: a write that
 * timed out is reported (-ETIMEDOUT) and may or may not have been applied.
 *
 * Watches: one thread per watch holds a streaming POST /v3/watch and reads one
 * JSON message per line. Events are delivered per message, in order; the next
 * revision to deliver is remembered so that after a broken stream (etcd restart,
 * failover) the watch resumes at exactly that revision: no event is lost or
 * repeated. Reconnects back off from 100 ms to 5 s and go on until cancelled.
 * Cancelling sets a flag that curl's progress callback (called at least once a
 * second) and the backoff wait both look at, then joins the thread.
 *
 * Limits: a unary response is capped at 64 MiB (lists page through 1000 keys at a
 * time and halve the page when a page is larger); a watch message at 64 MiB (a
 * larger one ends the watch with -EMSGSIZE). etcd itself refuses requests larger
 * than --max-request-bytes (1.5 MiB by default), so values close to
 * STORE_VALUE_MAX need a larger setting on the etcd side.
 *
 * Security (etcds://, see etcd-internal.h for the URL options): every handle, the
 * unary pool, watch streams and lease keepalives alike, verifies etcd's certificate
 * and host name (there is no way to turn that off) against cacert or the system's
 * CAs, and presents the client certificate when one is given. With user=, the
 * backend asks /v3/auth/authenticate for a token on first use and sends it as
 * "Authorization" with every request and every watch (re)connect. A request that
 * etcd refuses for its token (expired: simple tokens live --auth-token-ttl, 300 s
 * by default; or the auth store changed) is sent once more with a new token. That
 * is safe for writes too: etcd checks the token before running anything. One
 * thread fetches the new token while the others that saw the same one rejected
 * wait for it. Neither the password nor a token ever appears in an error message.
 */
#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>

#include "etcd-internal.h"

#define ETCD_ENDPOINTS_MAX      16
#define ETCD_POOL_MAX           16
#define ETCD_TIMEOUT_MS         10000
#define ETCD_CONNECT_TIMEOUT_MS 2000
#define ETCD_ROUNDS             3
#define ETCD_ROUND_BACKOFF_MS   100
#define ETCD_RESPONSE_MAX       (64 * 1024 * 1024)
#define ETCD_LIST_PAGE          1000
#define ETCD_WATCH_MESSAGE_MAX  (64 * 1024 * 1024)
#define ETCD_WATCH_BACKOFF_MIN  100
#define ETCD_WATCH_BACKOFF_MAX  5000
#define ETCD_URL_MAX            512
#define I64_STR_MAX             24
#define ETCD_OPTION_VALUE_MAX   4096
#define ETCD_PASSWORD_MAX       1024
#define ETCD_TOKEN_MAX          4096

/* ---- small helpers ---------------------------------------------------------- */

static void i64_format(int64_t v, char out[I64_STR_MAX])
{
        snprintf(out, I64_STR_MAX, "%" PRId64, v);
}

/* strerror(e), lowercase as in our messages: "no such file or directory". */
static void errno_text(int e, char out[128])
{
        str_copy(out, 128, strerror(e));
        if (out[0] >= 'A' && out[0] <= 'Z')
                out[0] = (char)(out[0] - 'A' + 'a');
}

/* For strings that held a secret (password, token): wiped before they are freed. */
static void secret_free(char *p)
{
        if (p) {
                explicit_bzero(p, strlen(p));
                free(p);
        }
}

static void secret_freep(char **p)
{
        secret_free(*p);
}

static void slist_freep(struct curl_slist **l)
{
        curl_slist_free_all(*l);
}

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

void etcd_events_free(struct store_event *events, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                store_kv_release(&events[i].kv);
                store_kv_release(&events[i].prev_kv);
        }
        free(events);
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
        etcd_events_free(m->events, m->n);
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

/* ---- errors and endpoints --------------------------------------------------- */

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

static bool valid_port(const char *p)
{
        if (!*p || strlen(p) > 5)
                return false;
        for (const char *c = p; *c; c++)
                if (*c < '0' || *c > '9')
                        return false;
        long v = strtol(p, NULL, 10);
        return v >= 1 && v <= 65535;
}

static bool valid_endpoint(const char *ep)
{
        const char *colon = strrchr(ep, ':');
        if (!colon || colon == ep || !valid_port(colon + 1))
                return false;
        size_t host_len = (size_t)(colon - ep);
        if (ep[0] == '[') {
                if (host_len < 3 || ep[host_len - 1] != ']')
                        return false;
        } else if (memchr(ep, ':', host_len)) {
                return false; /* a bare IPv6 address needs brackets */
        }
        /* Nothing that would change the meaning of the URL we build. */
        for (size_t i = 0; i < host_len; i++) {
                unsigned char c = (unsigned char)ep[i];
                if (c <= ' ' || c >= 0x7f || strchr("/?#@\\%\"", c))
                        return false;
        }
        return true;
}

int etcd_parse_endpoints(const char *location, char ***ret)
{
        if (!location || !*location)
                return -EINVAL;
        _cleanup_free_ char *copy = strdup(location);
        if (!copy)
                return -ENOMEM;
        _cleanup_strv_ char **v = calloc(ETCD_ENDPOINTS_MAX + 1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        size_t n = 0;
        char *p = copy;
        for (;;) {
                char *comma = strchr(p, ',');
                if (comma)
                        *comma = '\0';
                if (n == ETCD_ENDPOINTS_MAX || !valid_endpoint(p))
                        return -EINVAL;
                v[n] = strdup(p);
                if (!v[n])
                        return -ENOMEM;
                n++;
                if (!comma)
                        break;
                p = comma + 1;
        }
        *ret = TAKE_PTR(v);
        return 0;
}

/* ---- URL -------------------------------------------------------------------- */

static const char *const url_option_names[] = {"cacert", "cert", "key", "user", "password-file"};
#define URL_OPTIONS_KNOWN "cacert, cert, key, user, password-file"

void etcd_url_release(struct etcd_url *u)
{
        if (!u)
                return;
        strv_free(u->endpoints);
        free(u->cacert);
        free(u->cert);
        free(u->key);
        free(u->user);
        free(u->password_file);
        *u = (struct etcd_url){0};
}

/* The URL as error messages show it: without the options (and so without any
 * value that might be private), without a trailing slash. */
static char *url_display(const char *url)
{
        size_t n = strcspn(url, "?");
        if (n > 0 && url[n - 1] == '/')
                n--;
        return strndup(url, n);
}

/* One "name=value" of the query. Messages name the option, never its value. */
static int url_option(struct etcd_url *u, const char *where, const char *opt, size_t len,
                      struct berth_error *err)
{
        const char *eq = memchr(opt, '=', len);
        size_t name_len = eq ? (size_t)(eq - opt) : len;
        char **slots[] = {&u->cacert, &u->cert, &u->key, &u->user, &u->password_file};
        _Static_assert(ARRAY_SIZE(slots) == ARRAY_SIZE(url_option_names), "one slot per option");
        size_t i = 0;
        while (i < ARRAY_SIZE(slots) && !(strlen(url_option_names[i]) == name_len &&
                                          memcmp(url_option_names[i], opt, name_len) == 0))
                i++;
        if (i == ARRAY_SIZE(slots))
                return berth_error_set(
                    err, -EINVAL, "store %s: unknown option %.*s (known: " URL_OPTIONS_KNOWN ")",
                    where, (int)(name_len > 64 ? 64 : name_len), opt);
        const char *name = url_option_names[i];
        if (*slots[i])
                return berth_error_set(err, -EINVAL, "store %s: option %s given twice", where,
                                       name);
        size_t value_len = eq ? len - name_len - 1 : 0;
        if (value_len == 0)
                return berth_error_set(err, -EINVAL, "store %s: option %s needs a value (%s=...)",
                                       where, name, name);
        if (value_len > ETCD_OPTION_VALUE_MAX)
                return berth_error_set(err, -EINVAL, "store %s: option %s is longer than %d bytes",
                                       where, name, ETCD_OPTION_VALUE_MAX);
        int r = percent_decode(eq + 1, value_len, false, slots[i]);
        if (r == -ENOMEM)
                return berth_error_set(err, r, "store %s: out of memory", where);
        if (r < 0)
                return berth_error_set(err, r, "store %s: option %s: bad percent-encoding", where,
                                       name);
        return 0;
}

int etcd_url_parse(const char *url, struct etcd_url *ret, struct berth_error *err)
{
        _cleanup_(etcd_url_release) struct etcd_url u = {0};
        const char *rest;
        if (str_has_prefix(url, "etcds://")) {
                u.tls = true;
                rest = url + strlen("etcds://");
        } else if (str_has_prefix(url, "etcd://")) {
                rest = url + strlen("etcd://");
        } else {
                return berth_error_set(err, -EINVAL,
                                       "store: not an etcd URL (expected etcd://host:port or "
                                       "etcds://host:port)");
        }
        const char *scheme = u.tls ? "etcds" : "etcd";
        size_t loc_len = strcspn(rest, "?");
        if (memchr(rest, '@', loc_len))
                /* Not echoed: "user:password@host" would show the password. */
                return berth_error_set(err, -EINVAL,
                                       "store %s://: credentials in the URL are not supported "
                                       "(use ?user=NAME&password-file=PATH)",
                                       scheme);
        _cleanup_free_ char *where = url_display(url);
        _cleanup_free_ char *loc = strndup(rest, loc_len);
        if (!where || !loc)
                return berth_error_set(err, -ENOMEM, "store %s://: out of memory", scheme);
        /* "etcd://h:p/" is accepted as well as "etcd://h:p". */
        if (loc_len > 0 && loc[loc_len - 1] == '/')
                loc[loc_len - 1] = '\0';
        int r = etcd_parse_endpoints(loc, &u.endpoints);
        if (r == -ENOMEM)
                return berth_error_set(err, r, "store %s: out of memory", where);
        if (r < 0)
                return berth_error_set(err, r,
                                       "store %s: bad endpoint list (expected "
                                       "%s://host:port[,host:port...], at most %d)",
                                       where, scheme, ETCD_ENDPOINTS_MAX);
        for (const char *p = rest[loc_len] == '?' ? rest + loc_len + 1 : NULL; p;) {
                const char *amp = strchr(p, '&');
                size_t len = amp ? (size_t)(amp - p) : strlen(p);
                if (len > 0 && (r = url_option(&u, where, p, len, err)) < 0)
                        return r;
                p = amp ? amp + 1 : NULL;
        }
        if (!u.tls && (u.cacert || u.cert || u.key))
                return berth_error_set(err, -EINVAL,
                                       "store %s: cacert, cert and key are TLS options: use "
                                       "etcds://",
                                       where);
        if (u.cert && !u.key)
                return berth_error_set(err, -EINVAL,
                                       "store %s: client certificate %s without its key (add "
                                       "key=PATH)",
                                       where, u.cert);
        if (u.key && !u.cert)
                return berth_error_set(err, -EINVAL,
                                       "store %s: client key %s without its certificate (add "
                                       "cert=PATH)",
                                       where, u.key);
        if (u.password_file && !u.user)
                return berth_error_set(
                    err, -EINVAL, "store %s: password-file without user (add user=NAME)", where);
        *ret = u;
        u = (struct etcd_url){0};
        return 0;
}

/* ---- the store -------------------------------------------------------------- */

struct etcd_watch;

struct etcd_store {
        struct store base;
        char **endpoints;
        size_t n_endpoints;
        struct curl_slist *headers; /* read-only once built; shared by every handle */

        /* TLS and auth settings: read-only after open. */
        bool tls;     /* etcds:// */
        char *cacert; /* NULL: the system's CAs */
        char *cert;   /* client certificate and key, both or neither */
        char *key;
        char *user;     /* NULL: no authentication */
        char *password; /* secret_free()d */

        /* auth_lock guards token and token_gen. It is held while authenticating, so
         * the callers that saw the same token rejected wait for one new token
         * instead of each asking for their own. */
        pthread_mutex_t auth_lock;
        char *token;        /* NULL before the first request and after a failed refresh */
        uint64_t token_gen; /* bumped with every new token */

        /* lock guards pool, n_pool, preferred and watches */
        pthread_mutex_t lock;
        CURL *pool[ETCD_POOL_MAX];
        size_t n_pool;
        size_t preferred; /* the endpoint that answered last */
        struct etcd_watch *watches;
};

static inline struct etcd_store *ES(struct store *s)
{
        return container_of(s, struct etcd_store, base);
}

/* What a unary call is, for the request and for error messages. */
struct call {
        const char *op;      /* "get", "put", ... */
        const char *subject; /* key, prefix or lease id */
        const char *path;    /* "/v3/kv/range" */
        bool idempotent;     /* may be sent again after it possibly reached etcd */
        bool first_line;     /* a stream endpoint: keep only its first message */
        size_t value_len;    /* for a put: explains "request is too large" */
        const char *ep;      /* out: the endpoint that answered (or failed last) */
        bool token_rejected; /* out: etcd refused the auth token (see etcd_call) */
};

struct response {
        struct buf body;
        bool got_line;
        int write_error; /* -E2BIG when the response went past its cap */
        bool first_line;
};

static void response_release(struct response *resp)
{
        buf_release(&resp->body);
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
        struct response *resp = userdata;
        size_t n = size * nmemb;
        int r = buf_append(&resp->body, ptr, n);
        if (r < 0) {
                resp->write_error = r;
                return 0;
        }
        if (resp->first_line && memchr(ptr, '\n', n)) {
                /* Stop reading the stream: the connection is closed, not reused. */
                resp->got_line = true;
                return 0;
        }
        return n;
}

/* -ENOMEM when a TLS setting did not take: the handle must not be used then. */
static int common_options(struct etcd_store *s, CURL *h)
{
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, s->headers);
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)ETCD_CONNECT_TIMEOUT_MS);
        curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 10L);
        curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, s->tls ? "https" : "http");
        /* HTTP/1.1 over TLS too: with HTTP/2 (what curl picks through ALPN) etcd
         * 3.4's gateway sent no watch message while the stream was open. */
        curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        if (!s->tls)
                return 0;
        CURLcode cc = CURLE_OK;
        if (cc == CURLE_OK)
                cc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
        if (cc == CURLE_OK)
                cc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
        if (cc == CURLE_OK && s->cacert)
                cc = curl_easy_setopt(h, CURLOPT_CAINFO, s->cacert);
        /* A given CA is the only one: the cluster's CA is not mixed with the
         * system's, which would let any public certificate for the host pass. */
        if (cc == CURLE_OK && s->cacert)
                cc = curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
        if (cc == CURLE_OK && s->cert)
                cc = curl_easy_setopt(h, CURLOPT_SSLCERT, s->cert);
        if (cc == CURLE_OK && s->key)
                cc = curl_easy_setopt(h, CURLOPT_SSLKEY, s->key);
        return cc == CURLE_OK ? 0 : -ENOMEM;
}

static CURL *pool_get(struct etcd_store *s)
{
        {
                LOCK_SCOPE(&s->lock);
                if (s->n_pool > 0)
                        return s->pool[--s->n_pool];
        }
        CURL *h = curl_easy_init();
        if (!h)
                return NULL;
        if (common_options(s, h) < 0) {
                curl_easy_cleanup(h);
                return NULL;
        }
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)ETCD_TIMEOUT_MS);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
        return h;
}

static void pool_put(struct etcd_store *s, CURL *h)
{
        /* Pointers into the caller's stack must not outlive the call. */
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, s->headers);
        {
                LOCK_SCOPE(&s->lock);
                if (s->n_pool < ETCD_POOL_MAX) {
                        s->pool[s->n_pool++] = h;
                        return;
                }
        }
        curl_easy_cleanup(h);
}

static size_t preferred_endpoint(struct etcd_store *s)
{
        LOCK_SCOPE(&s->lock);
        return s->preferred;
}

static void set_preferred_endpoint(struct etcd_store *s, size_t i)
{
        LOCK_SCOPE(&s->lock);
        s->preferred = i;
}

/* Whether to try the request again, elsewhere: only when it surely did not reach
 * etcd, or when it is a read. */
static bool retryable(CURL *h, CURLcode cc, bool idempotent)
{
        long sent = 0;
        curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent);
        switch (cc) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
                return true;
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
                return idempotent || sent == 0;
        case CURLE_OPERATION_TIMEDOUT:
                /* A read that timed out would likely time out again: only a
                 * connect timeout moves on. */
                return sent == 0;
        default:
                return false;
        }
}

/* A TLS alert about a certificate: etcd refused ours (or wanted one). Retrying
 * elsewhere or later does not help. */
static bool tls_refused(const struct etcd_store *s, const char *detail)
{
        return s->tls && strstr(detail, "alert") && strstr(detail, "certificate");
}

static const char *curl_detail(CURLcode cc, const char *errbuf)
{
        return errbuf && *errbuf ? errbuf : curl_easy_strerror(cc);
}

static int transport_error(const struct etcd_store *s, const struct call *c, CURL *h, CURLcode cc,
                           const struct response *resp, const char *errbuf, struct berth_error *err)
{
        if (resp->write_error == -E2BIG)
                return berth_error_set(err, -E2BIG,
                                       "etcd %s: %s %s: response is larger than the limit of "
                                       "%d MiB",
                                       c->ep, c->op, c->subject, ETCD_RESPONSE_MAX >> 20);
        if (resp->write_error < 0)
                return berth_error_set(err, resp->write_error, "etcd %s: %s %s: out of memory",
                                       c->ep, c->op, c->subject);
        const char *detail = curl_detail(cc, errbuf);
        if (tls_refused(s, detail)) {
                if (!s->cert)
                        return berth_error_set(err, -EACCES,
                                               "etcd %s: %s %s: TLS: etcd wants a client "
                                               "certificate (add cert=PATH&key=PATH): %s",
                                               c->ep, c->op, c->subject, detail);
                return berth_error_set(err, -EACCES,
                                       "etcd %s: %s %s: TLS: etcd refused client certificate "
                                       "%s: %s",
                                       c->ep, c->op, c->subject, s->cert, detail);
        }
        switch (cc) {
        case CURLE_COULDNT_CONNECT: {
                /* The socket's own errno says it best: "connection refused". */
                long os_errno = 0;
                curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
                if (os_errno <= 0)
                        return berth_error_set(err, -ECONNREFUSED, "etcd %s: %s %s: %s", c->ep,
                                               c->op, c->subject, detail);
                char msg[128];
                errno_text((int)os_errno, msg);
                return berth_error_set(err, -(int)os_errno, "etcd %s: %s %s: %s", c->ep, c->op,
                                       c->subject, msg);
        }
        case CURLE_COULDNT_RESOLVE_HOST:
                return berth_error_set(err, -EHOSTUNREACH, "etcd %s: %s %s: %s", c->ep, c->op,
                                       c->subject, detail);
        case CURLE_OPERATION_TIMEDOUT:
                return berth_error_set(err, -ETIMEDOUT, "etcd %s: %s %s: %s", c->ep, c->op,
                                       c->subject, detail);
        case CURLE_OUT_OF_MEMORY:
                return berth_error_set(err, -ENOMEM, "etcd %s: %s %s: out of memory", c->ep, c->op,
                                       c->subject);
        case CURLE_PEER_FAILED_VERIFICATION:
                return berth_error_set(err, -EACCES,
                                       "etcd %s: %s %s: TLS: etcd's certificate is not trusted "
                                       "(checked against %s%s): %s",
                                       c->ep, c->op, c->subject,
                                       s->cacert ? "cacert " : "the system's CAs; add cacert=PATH",
                                       s->cacert ? s->cacert : "", detail);
        case CURLE_SSL_CACERT_BADFILE:
                return berth_error_set(err, -EINVAL,
                                       "etcd %s: %s %s: TLS: cannot use cacert %s: %s", c->ep,
                                       c->op, c->subject, s->cacert ? s->cacert : "", detail);
        case CURLE_SSL_CERTPROBLEM:
                return berth_error_set(err, -EINVAL,
                                       "etcd %s: %s %s: TLS: cannot use client certificate %s "
                                       "with key %s: %s",
                                       c->ep, c->op, c->subject, s->cert ? s->cert : "",
                                       s->key ? s->key : "", detail);
        case CURLE_SSL_CONNECT_ERROR:
                return berth_error_set(err, -EPROTO, "etcd %s: %s %s: TLS handshake: %s", c->ep,
                                       c->op, c->subject, detail);
        default:
                return berth_error_set(err, -EIO, "etcd %s: %s %s: %s", c->ep, c->op, c->subject,
                                       detail);
        }
}

static int malformed(const struct call *c, struct berth_error *err)
{
        return berth_error_set(err, -EBADMSG, "etcd %s: %s %s: malformed response", c->ep, c->op,
                               c->subject);
}

/* An answer that is not a success: keep etcd's own message. */
static int remote_error(const struct etcd_store *s, struct call *c, long status, const json_t *root,
                        const char *raw, struct berth_error *err)
{
        const json_t *e = root;
        json_t *inner = json_object_get(root, "error");
        if (json_is_object(inner))
                e = inner; /* stream form: {"error":{"grpc_code":..,"message":..}} */
        const char *msg = json_path_string(e, "message");
        if (!msg || !*msg)
                msg = json_path_string(e, "error");
        int64_t code = json_path_int(e, "code", json_path_int(e, "grpc_code", -1));
        int r;
        if (msg && *msg) {
                r = etcd_error_errno(msg, code);
                c->token_rejected = etcd_error_token_rejected(msg, code);
        } else {
                /* Not etcd's JSON: a proxy, or something else on that port. */
                r = status == 404 ? -EPROTO : -EIO;
                msg = raw && *raw ? raw : "no message";
        }
        char hinted[512];
        if (r == -EACCES && !s->user && strstr(msg, "user name is empty")) {
                snprintf(hinted, sizeof(hinted),
                         "%s (etcd has authentication on: add ?user=NAME&password-file=PATH)", msg);
                msg = hinted;
        }
        if (r == -E2BIG && c->value_len > 0)
                berth_error_set(err, r,
                                "etcd %s: %s %s: %s (%zu byte value; etcd's request size limit "
                                "is --max-request-bytes, 1.5 MiB by default)",
                                c->ep, c->op, c->subject, msg, c->value_len);
        else
                berth_error_set_http(err, r, (int)status, msg, "etcd %s: %s %s", c->ep, c->op,
                                     c->subject);
        if (err)
                err->http_status = (int)status;
        return r;
}

/* A copy of the shared headers plus auth ("Authorization: <token>"). */
static struct curl_slist *headers_with(const struct etcd_store *s, const char *auth)
{
        struct curl_slist *list = NULL;
        for (const struct curl_slist *i = s->headers; i; i = i->next) {
                struct curl_slist *n = curl_slist_append(list, i->data);
                if (!n) {
                        curl_slist_free_all(list);
                        return NULL;
                }
                list = n;
        }
        struct curl_slist *n = curl_slist_append(list, auth);
        if (!n)
                curl_slist_free_all(list);
        return n;
}

/* POSTs data to c->path, with the auth header when not NULL, and returns the
 * parsed JSON answer (for a stream endpoint, the "result" of its first message). */
static int etcd_request(struct etcd_store *s, struct call *c, const char *data, const char *auth,
                        json_t **ret, struct berth_error *err)
{
        c->token_rejected = false;
        _cleanup_(slist_freep) struct curl_slist *headers = auth ? headers_with(s, auth) : NULL;
        if (auth && !headers)
                return berth_error_set(err, -ENOMEM, "etcd: %s %s: out of memory", c->op,
                                       c->subject);
        CURL *h = pool_get(s);
        if (!h)
                return berth_error_set(err, -ENOMEM, "etcd: %s %s: out of memory", c->op,
                                       c->subject);
        _cleanup_(response_release) struct response resp = {.first_line = c->first_line};
        buf_init(&resp.body, ETCD_RESPONSE_MAX);
        char errbuf[CURL_ERROR_SIZE];
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, data);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(data));
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        if (headers)
                curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);

        size_t start = preferred_endpoint(s);
        CURLcode cc = CURLE_OK;
        bool finished = false;
        for (int round = 0; round < ETCD_ROUNDS && !finished; round++) {
                if (round > 0)
                        sleep_ms((int64_t)ETCD_ROUND_BACKOFF_MS << (round - 1));
                for (size_t i = 0; i < s->n_endpoints; i++) {
                        size_t idx = (start + i) % s->n_endpoints;
                        c->ep = s->endpoints[idx];
                        char url[ETCD_URL_MAX];
                        if (snprintf(url, sizeof(url), "%s://%s%s", s->tls ? "https" : "http",
                                     c->ep, c->path) >= (int)sizeof(url)) {
                                pool_put(s, h);
                                return berth_error_set(err, -ENAMETOOLONG, "etcd %s: URL too long",
                                                       c->ep);
                        }
                        curl_easy_setopt(h, CURLOPT_URL, url);
                        buf_reset(&resp.body);
                        resp.got_line = false;
                        resp.write_error = 0;
                        errbuf[0] = '\0';
                        cc = curl_easy_perform(h);
                        if (cc == CURLE_WRITE_ERROR && resp.got_line && !resp.write_error)
                                cc = CURLE_OK;
                        if (cc == CURLE_OK) {
                                if (idx != start)
                                        set_preferred_endpoint(s, idx);
                                finished = true;
                                break;
                        }
                        if (resp.write_error || !retryable(h, cc, c->idempotent) ||
                            tls_refused(s, curl_detail(cc, errbuf))) {
                                finished = true;
                                break;
                        }
                }
        }
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (cc != CURLE_OK) {
                int r = transport_error(s, c, h, cc, &resp, errbuf, err);
                pool_put(s, h);
                return r;
        }
        pool_put(s, h);

        size_t len = resp.body.len;
        if (c->first_line) {
                char *nl = memchr(resp.body.data ? resp.body.data : "", '\n', len);
                if (nl)
                        len = (size_t)(nl - resp.body.data);
        }
        _cleanup_json_ json_t *root =
            json_loadb(resp.body.data ? resp.body.data : "", len, 0, NULL);
        if (status != 200 || !json_is_object(root) || json_object_get(root, "error"))
                return remote_error(s, c, status, root, resp.body.data, err);
        if (c->first_line) {
                json_t *result = json_object_get(root, "result");
                if (!json_is_object(result))
                        return malformed(c, err);
                *ret = json_incref(result);
                return 0;
        }
        *ret = TAKE_PTR(root);
        return 0;
}

/* ---- authentication --------------------------------------------------------- */

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

/* A token fit for a header line: no control characters, no spaces. */
static bool token_valid(const char *t)
{
        size_t n = strlen(t);
        if (n == 0 || n > ETCD_TOKEN_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)t[i] <= ' ' || (unsigned char)t[i] >= 0x7f)
                        return false;
        return true;
}

/* Asks etcd for a token as s->user. The body holds the password, so it is built
 * here in one allocation (jansson would leave copies behind) and wiped. */
static int authenticate(struct etcd_store *s, char **ret_token, struct berth_error *err)
{
        struct call c = {.op = "authenticate as",
                         .subject = s->user,
                         .path = "/v3/auth/authenticate",
                         .idempotent = true};
        size_t cap = sizeof("{\"name\":\"\",\"password\":\"\"}") +
                     6 * (strlen(s->user) + strlen(s->password));
        _cleanup_(secret_freep) char *data = malloc(cap);
        if (!data)
                return berth_error_set(err, -ENOMEM, "etcd: authenticate as %s: out of memory",
                                       s->user);
        size_t o = 0;
        memcpy(data + o, "{\"name\":\"", 9);
        o += 9;
        o += json_escape(data + o, s->user);
        memcpy(data + o, "\",\"password\":\"", 14);
        o += 14;
        o += json_escape(data + o, s->password);
        memcpy(data + o, "\"}", 3);

        _cleanup_json_ json_t *resp = NULL;
        int r = etcd_request(s, &c, data, NULL, &resp, err);
        if (r < 0)
                return r;
        const char *token = json_path_string(resp, "token");
        if (!token || !token_valid(token))
                return malformed(&c, err);
        char *t = strdup(token);
        if (!t)
                return berth_error_set(err, -ENOMEM, "etcd: authenticate as %s: out of memory",
                                       s->user);
        *ret_token = t;
        return 0;
}

/* The "Authorization: <token>" header for a request. Authenticates when there is
 * no token yet, or when *stale (if not NULL) is the generation of a token etcd
 * just refused and nobody has replaced it since. *ret_gen is the generation of the
 * token in the header. Caller frees *ret_header. */
static int auth_header(struct etcd_store *s, const uint64_t *stale, char **ret_header,
                       uint64_t *ret_gen, struct berth_error *err)
{
        LOCK_SCOPE(&s->auth_lock);
        if (s->token && stale && *stale == s->token_gen) {
                secret_free(s->token);
                s->token = NULL;
        }
        if (!s->token) {
                char *t = NULL;
                int r = authenticate(s, &t, err);
                if (r < 0)
                        return r;
                s->token = t;
                s->token_gen++;
        }
        char *h = str_printf("Authorization: %s", s->token);
        if (!h)
                return berth_error_set(err, -ENOMEM, "etcd: authenticate as %s: out of memory",
                                       s->user);
        *ret_header = h;
        *ret_gen = s->token_gen;
        return 0;
}

/* etcd_request with authentication when the store has a user: a request refused
 * for its token goes once more with a new one. That is safe for writes and the
 * CAS txn: etcd checks the token before it runs anything. */
static int etcd_call(struct etcd_store *s, struct call *c, const json_t *body, json_t **ret,
                     struct berth_error *err)
{
        _cleanup_free_ char *data = json_dumps(body, JSON_COMPACT);
        if (!data)
                return berth_error_set(err, -ENOMEM, "etcd: %s %s: out of memory", c->op,
                                       c->subject);
        if (!s->user)
                return etcd_request(s, c, data, NULL, ret, err);
        _cleanup_(secret_freep) char *auth = NULL;
        uint64_t gen = 0;
        int r = auth_header(s, NULL, &auth, &gen, err);
        if (r >= 0) {
                r = etcd_request(s, c, data, auth, ret, err);
                if (r >= 0 || !c->token_rejected)
                        return r;
                secret_free(TAKE_PTR(auth));
                r = auth_header(s, &gen, &auth, &gen, err);
                if (r >= 0)
                        return etcd_request(s, c, data, auth, ret, err);
        }
        berth_error_prefix(err, "%s %s", c->op, c->subject);
        return r;
}

static int header_revision(const json_t *resp, int64_t *ret)
{
        int64_t rev = 0;
        if (etcd_json_int64(json_object_get(resp, "header"), "revision", &rev) < 0 || rev <= 0)
                return -EBADMSG;
        *ret = rev;
        return 0;
}

static char *b64(const void *data, size_t len)
{
        char *out = NULL;
        return etcd_base64_encode(data, len, &out) < 0 ? NULL : out;
}

/* A prefix as an etcd range: key and range_end, both base64. The empty prefix and
 * prefixes of only 0xff bytes have no upper bound: etcd spells that "\0". */
static int prefix_range(const char *prefix, char **ret_key, char **ret_end)
{
        _cleanup_free_ char *end = NULL;
        int r = store_prefix_end(prefix, &end);
        if (r < 0)
                return r;
        _cleanup_free_ char *k = *prefix ? b64(prefix, strlen(prefix)) : b64("", 1);
        _cleanup_free_ char *e = end ? b64(end, strlen(end)) : b64("", 1);
        if (!k || !e)
                return -ENOMEM;
        *ret_key = TAKE_PTR(k);
        *ret_end = TAKE_PTR(e);
        return 0;
}

/* The kvs of the first response of a txn that took its failure branch (a range). */
static const json_t *failure_kvs(const json_t *resp)
{
        const json_t *r0 = json_array_get(json_object_get(resp, "responses"), 0);
        return json_object_get(json_object_get(r0, "response_range"), "kvs");
}

/* ---- kv ------------------------------------------------------------------- */

static int etcd_get(struct store *base, const char *key, struct store_kv *ret,
                    struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        _cleanup_free_ char *k = b64(key, strlen(key));
        _cleanup_json_ json_t *body = k ? json_pack("{s:s}", "key", k) : NULL;
        if (!body)
                return berth_error_set(err, -ENOMEM, "etcd: get %s: out of memory", key);
        struct call c = {.op = "get", .subject = key, .path = "/v3/kv/range", .idempotent = true};
        _cleanup_json_ json_t *resp = NULL;
        int r = etcd_call(s, &c, body, &resp, err);
        if (r < 0)
                return r;
        json_t *kvs = json_object_get(resp, "kvs");
        if (kvs && !json_is_array(kvs))
                return malformed(&c, err);
        if (json_array_size(kvs) == 0)
                return berth_error_set(err, -ENOENT, "store: get %s: not found", key);
        struct store_kv kv;
        r = etcd_parse_kv(json_array_get(kvs, 0), &kv);
        if (r == -ENOMEM)
                return berth_error_set(err, r, "etcd: get %s: out of memory", key);
        if (r < 0)
                return malformed(&c, err);
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

static int etcd_list(struct store *base, const char *prefix, int64_t revision,
                     struct store_kvs *ret, struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        _cleanup_free_ char *key = NULL;
        _cleanup_free_ char *end = NULL;
        if (prefix_range(prefix, &key, &end) < 0)
                return berth_error_set(err, -ENOMEM, "etcd: list %s: out of memory", prefix);
        _cleanup_(store_kvs_release) struct store_kvs out = {0};
        size_t cap = 0;
        int64_t rev = revision;
        int64_t limit = ETCD_LIST_PAGE;
        for (;;) {
                char rev_s[I64_STR_MAX], limit_s[I64_STR_MAX];
                i64_format(rev, rev_s);
                i64_format(limit, limit_s);
                /* Every page reads the revision of the first one. */
                _cleanup_json_ json_t *body =
                    json_pack("{s:s, s:s, s:s, s:s}", "key", key, "range_end", end, "revision",
                              rev_s, "limit", limit_s);
                if (!body)
                        return berth_error_set(err, -ENOMEM, "etcd: list %s: out of memory",
                                               prefix);
                struct call c = {
                    .op = "list", .subject = prefix, .path = "/v3/kv/range", .idempotent = true};
                _cleanup_json_ json_t *resp = NULL;
                int r = etcd_call(s, &c, body, &resp, err);
                if (r == -E2BIG && limit > 1) {
                        limit /= 2; /* a page of large values: take fewer at a time */
                        continue;
                }
                if (r < 0)
                        return r;
                if (rev == 0 && header_revision(resp, &rev) < 0)
                        return malformed(&c, err);
                json_t *kvs = json_object_get(resp, "kvs");
                if (kvs && !json_is_array(kvs))
                        return malformed(&c, err);
                for (size_t i = 0; i < json_array_size(kvs); i++) {
                        r = kvs_append(&out, &cap, json_array_get(kvs, i));
                        if (r == -ENOMEM)
                                return berth_error_set(err, r, "etcd: list %s: out of memory",
                                                       prefix);
                        if (r < 0)
                                return malformed(&c, err);
                }
                if (!etcd_json_bool(resp, "more") || json_array_size(kvs) == 0)
                        break;
                /* The next page starts right after the last key: last key + "\0". */
                const char *last = out.items[out.n - 1].key;
                free(key);
                key = b64(last, strlen(last) + 1);
                if (!key)
                        return berth_error_set(err, -ENOMEM, "etcd: list %s: out of memory",
                                               prefix);
        }
        out.revision = rev;
        *ret = out;
        out = (struct store_kvs){0};
        return 0;
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

static int etcd_put(struct store *base, const char *key, const char *value, size_t value_len,
                    int64_t expected, int64_t lease, const struct store_guard *guard,
                    int64_t *ret_revision, struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        _cleanup_free_ char *k = b64(key, strlen(key));
        _cleanup_free_ char *v = b64(value, value_len);
        _cleanup_free_ char *g = guard ? b64(guard->key, strlen(guard->key)) : NULL;
        if (!k || !v || (guard && !g))
                return berth_error_set(err, -ENOMEM, "etcd: put %s: out of memory", key);
        char lease_s[I64_STR_MAX];
        i64_format(lease, lease_s);
        _cleanup_json_ json_t *put =
            json_pack("{s:s, s:s, s:s}", "key", k, "value", v, "lease", lease_s);
        _cleanup_json_ json_t *body = NULL;
        struct call c = {.op = "put", .subject = key, .value_len = value_len};
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
        if (txn && !etcd_json_bool(resp, "succeeded")) {
                if (guard) {
                        int h = guard_holds(resp, guard);
                        if (h < 0)
                                return malformed(&c, err);
                        if (h == 0 || expected == STORE_ANY_REVISION)
                                return store_guard_failed(guard, err);
                }
                int64_t found = 0;
                const json_t *kvs = failure_kvs(resp);
                if (json_array_size(kvs) > 0 &&
                    etcd_json_int64(json_array_get(kvs, 0), "mod_revision", &found) < 0)
                        return malformed(&c, err);
                return store_conflict(err, "put", key, expected, found);
        }
        int64_t rev;
        if (header_revision(resp, &rev) < 0)
                return malformed(&c, err);
        if (ret_revision)
                *ret_revision = rev;
        return 0;
}

static int etcd_delete(struct store *base, const char *key, int64_t expected,
                       const struct store_guard *guard, int64_t *ret_revision,
                       struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        _cleanup_free_ char *k = b64(key, strlen(key));
        _cleanup_free_ char *g = guard ? b64(guard->key, strlen(guard->key)) : NULL;
        _cleanup_json_ json_t *body = NULL;
        struct call c = {.op = "delete", .subject = key};
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
        if (txn && !etcd_json_bool(resp, "succeeded")) {
                if (guard) {
                        int h = guard_holds(resp, guard);
                        if (h < 0)
                                return malformed(&c, err);
                        if (h == 0)
                                return store_guard_failed(guard, err);
                }
                const json_t *kvs = failure_kvs(resp);
                if (json_array_size(kvs) == 0)
                        return berth_error_set(err, -ENOENT, "store: delete %s: not found", key);
                if (expected == STORE_ANY_REVISION)
                        return store_guard_failed(guard, err);
                int64_t found = 0;
                if (etcd_json_int64(json_array_get(kvs, 0), "mod_revision", &found) < 0)
                        return malformed(&c, err);
                return store_conflict(err, "delete", key, expected, found);
        }
        /* A delete without a CAS that found nothing still "succeeds" in etcd. */
        if (expected == STORE_ANY_REVISION) {
                const json_t *dr =
                    txn ? json_object_get(json_array_get(json_object_get(resp, "responses"), 0),
                                          "response_delete_range")
                        : resp;
                int64_t deleted = 0;
                if (etcd_json_int64(dr, "deleted", &deleted) < 0)
                        return malformed(&c, err);
                if (deleted == 0)
                        return berth_error_set(err, -ENOENT, "store: delete %s: not found", key);
        }
        int64_t rev;
        if (header_revision(resp, &rev) < 0)
                return malformed(&c, err);
        if (ret_revision)
                *ret_revision = rev;
        return 0;
}

static int etcd_revision(struct store *base, int64_t *ret_revision, struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        /* A linearizable count of one key: only the header matters. */
        _cleanup_json_ json_t *body = json_pack("{s:s, s:b}", "key", "AA==", "count_only", 1);
        if (!body)
                return berth_error_set(err, -ENOMEM, "etcd: revision: out of memory");
        struct call c = {
            .op = "read", .subject = "revision", .path = "/v3/kv/range", .idempotent = true};
        _cleanup_json_ json_t *resp = NULL;
        int r = etcd_call(s, &c, body, &resp, err);
        if (r < 0)
                return r;
        int64_t rev;
        if (header_revision(resp, &rev) < 0)
                return malformed(&c, err);
        *ret_revision = rev;
        return 0;
}

static int etcd_compact(struct store *base, int64_t revision, struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        char rev_s[I64_STR_MAX];
        i64_format(revision, rev_s);
        _cleanup_json_ json_t *body = json_pack("{s:s}", "revision", rev_s);
        if (!body)
                return berth_error_set(err, -ENOMEM, "etcd: compact: out of memory");
        struct call c = {
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
        i64_format(ttl, ttl_s);
        _cleanup_json_ json_t *body = json_pack("{s:s}", "TTL", ttl_s);
        if (!body)
                return berth_error_set(err, -ENOMEM, "etcd: grant lease: out of memory");
        struct call c = {.op = "grant lease", .subject = "TTL", .path = "/v3/lease/grant"};
        _cleanup_json_ json_t *resp = NULL;
        int r = etcd_call(s, &c, body, &resp, err);
        if (r < 0)
                return r;
        const char *msg = json_path_string(resp, "error");
        if (msg && *msg)
                return berth_error_set(err, -EIO, "etcd %s: grant lease: %s", c.ep, msg);
        int64_t id = 0;
        if (etcd_json_int64(resp, "ID", &id) < 0 || id <= 0)
                return malformed(&c, err);
        *ret_id = id;
        return 0;
}

static int lease_not_found(struct berth_error *err, int64_t id)
{
        return berth_error_set(err, -ENOENT,
                               "store: lease %" PRId64 " not found (expired or revoked)", id);
}

static int etcd_lease_keepalive(struct store *base, int64_t id, struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        char id_s[I64_STR_MAX];
        i64_format(id, id_s);
        _cleanup_json_ json_t *body = json_pack("{s:s}", "ID", id_s);
        if (!body)
                return berth_error_set(err, -ENOMEM, "etcd: keep lease alive: out of memory");
        /* A stream endpoint: one request, its first answer, then the connection closes. */
        struct call c = {.op = "keep alive lease",
                         .subject = id_s,
                         .path = "/v3/lease/keepalive",
                         .idempotent = true,
                         .first_line = true};
        _cleanup_json_ json_t *resp = NULL;
        int r = etcd_call(s, &c, body, &resp, err);
        if (r == -ENOENT)
                return lease_not_found(err, id);
        if (r < 0)
                return r;
        int64_t ttl = 0;
        if (etcd_json_int64(resp, "TTL", &ttl) < 0)
                return malformed(&c, err);
        /* An expired or revoked lease answers without TTL: it is lost. */
        if (ttl <= 0)
                return lease_not_found(err, id);
        return 0;
}

static int etcd_lease_revoke(struct store *base, int64_t id, struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        char id_s[I64_STR_MAX];
        i64_format(id, id_s);
        _cleanup_json_ json_t *body = json_pack("{s:s}", "ID", id_s);
        if (!body)
                return berth_error_set(err, -ENOMEM, "etcd: revoke lease: out of memory");
        struct call c = {.op = "revoke lease", .subject = id_s, .path = "/v3/lease/revoke"};
        _cleanup_json_ json_t *resp = NULL;
        int r = etcd_call(s, &c, body, &resp, err);
        if (r == -ENOENT)
                return lease_not_found(err, id);
        return r < 0 ? r : 0;
}

/* ---- watches ---------------------------------------------------------------- */

struct etcd_watch {
        struct store_watch base;
        struct etcd_store *s;
        struct etcd_watch *next; /* in s->watches, under s->lock */
        char *key;               /* base64 range of the prefix */
        char *end;
        store_watch_fn fn;
        void *userdata;
        pthread_t thread;

        /* m guards cancel's wake-up; cancel itself is atomic for curl's callbacks */
        pthread_mutex_t m;
        pthread_cond_t c;
        atomic_bool cancel;
        struct socket_slot sock; /* the stream's connection: a cancel shuts it down */

        /* thread-owned */
        int64_t next_rev; /* first revision not delivered yet */
        struct buf line;
        bool created;      /* the current stream was accepted */
        bool reconnect;    /* the current stream is unusable: drop it */
        int final_error;   /* ends the watch after the stream stops */
        bool free_on_exit; /* cancelled from its own callback */
        uint64_t auth_gen; /* generation of the token of the current stream */
        bool auth_stale;   /* etcd refused that token: get a new one, reconnect at once */
        bool auth_retried; /* ... but only once until a stream is accepted */
};

static void watch_free(struct etcd_watch *w)
{
        if (!w)
                return;
        free(w->key);
        free(w->end);
        buf_release(&w->line);
        pthread_mutex_destroy(&w->m);
        pthread_cond_destroy(&w->c);
        socket_slot_destroy(&w->sock);
        free(w);
}

/* One stream message. Returns false to stop reading this stream. */
static bool watch_handle(struct etcd_watch *w, const char *data, size_t len)
{
        if (len == 0)
                return true;
        struct etcd_watch_msg m;
        int r = etcd_watch_msg_parse(data, len, &m);
        if (r < 0) {
                if (r == -ENOMEM)
                        w->final_error = r;
                w->reconnect = true;
                return false;
        }
        if (m.error) {
                /* The gateway lost its stream to etcd: start a new one. */
                etcd_watch_msg_release(&m);
                w->reconnect = true;
                return false;
        }
        if (m.created && !m.canceled) {
                w->created = true;
                w->auth_retried = false;
        }
        if (m.canceled && w->s->user && !w->auth_retried &&
            etcd_error_token_rejected(m.cancel_reason, -1)) {
                /* The token expired while no stream needed it (simple tokens live
                 * --auth-token-ttl): a new token, a new stream. */
                w->auth_stale = true;
                w->auth_retried = true;
                w->reconnect = true;
                etcd_watch_msg_release(&m);
                return false;
        }
        if (m.canceled) {
                if (m.compact_revision > 0)
                        w->final_error = STORE_ERR_COMPACTED;
                else
                        w->final_error = etcd_error_errno(m.cancel_reason, -1);
                etcd_watch_msg_release(&m);
                return false;
        }
        /* Events already delivered are skipped: a stream never repeats them, but
         * this keeps the no-duplicate promise independent of etcd's batching. */
        size_t skip = 0;
        while (skip < m.n && m.events[skip].kv.mod_revision < w->next_rev)
                skip++;
        if (skip < m.n && !atomic_load(&w->cancel)) {
                w->fn(m.events + skip, m.n - skip, 0, w->userdata);
                w->next_rev = m.events[m.n - 1].kv.mod_revision + 1;
        }
        etcd_watch_msg_release(&m);
        return !atomic_load(&w->cancel);
}

static size_t watch_on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
        struct etcd_watch *w = userdata;
        size_t n = size * nmemb;
        if (atomic_load(&w->cancel))
                return 0;
        size_t from = w->line.len;
        if (buf_append(&w->line, ptr, n) < 0) {
                w->final_error = -EMSGSIZE;
                return 0;
        }
        for (;;) {
                char *nl = memchr(w->line.data + from, '\n', w->line.len - from);
                if (!nl)
                        break;
                size_t len = (size_t)(nl - w->line.data);
                bool go_on = watch_handle(w, w->line.data, len);
                buf_consume(&w->line, len + 1);
                from = 0;
                if (!go_on)
                        return 0;
        }
        return n;
}

static int watch_on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                             curl_off_t ultotal, curl_off_t ulnow)
{
        (void)dltotal;
        (void)dlnow;
        (void)ultotal;
        (void)ulnow;
        struct etcd_watch *w = userdata;
        return atomic_load(&w->cancel) ? 1 : 0;
}

static curl_socket_t watch_open_socket(void *userdata, curlsocktype purpose,
                                       struct curl_sockaddr *addr)
{
        struct etcd_watch *w = userdata;
        (void)purpose;
        int fd = socket_slot_open(&w->sock, addr->family, addr->socktype, addr->protocol);
        return fd < 0 ? CURL_SOCKET_BAD : fd;
}

static int watch_close_socket(void *userdata, curl_socket_t fd)
{
        struct etcd_watch *w = userdata;
        return socket_slot_close(&w->sock, fd);
}

/* Waits ms or until cancelled; true if cancelled. */
static bool watch_wait(struct etcd_watch *w, int64_t ms)
{
        struct timespec ts;
        time_mono_deadline(&ts, ms);
        LOCK_SCOPE(&w->m);
        while (!atomic_load(&w->cancel)) {
                if (pthread_cond_timedwait(&w->c, &w->m, &ts) == ETIMEDOUT)
                        break;
        }
        return atomic_load(&w->cancel);
}

/* One stream: from (re)connecting at next_rev until it ends. Leaves w->created
 * false when it never got going. */
static void watch_stream(struct etcd_watch *w, CURL *h, size_t ep)
{
        struct etcd_store *s = w->s;
        buf_reset(&w->line);
        w->created = false;
        w->reconnect = false;
        _cleanup_(slist_freep) struct curl_slist *headers = NULL;
        if (s->user) {
                _cleanup_(secret_freep) char *auth = NULL;
                int r =
                    auth_header(s, w->auth_stale ? &w->auth_gen : NULL, &auth, &w->auth_gen, NULL);
                w->auth_stale = false;
                /* Refused credentials stay refused; anything else (etcd away) is
                 * retried like a failed connect. */
                if (r == -EACCES || r == -ENOMEM || r == -EINVAL)
                        w->final_error = r;
                if (r < 0)
                        return;
                headers = headers_with(s, auth);
                if (!headers) {
                        w->final_error = -ENOMEM;
                        return;
                }
        }
        char rev_s[I64_STR_MAX];
        i64_format(w->next_rev, rev_s);
        _cleanup_json_ json_t *body =
            json_pack("{s:{s:s, s:s, s:s, s:b, s:b}}", "create_request", "key", w->key, "range_end",
                      w->end, "start_revision", rev_s, "prev_kv", 1, "progress_notify", 1);
        _cleanup_free_ char *data = body ? json_dumps(body, JSON_COMPACT) : NULL;
        if (!data) {
                w->final_error = -ENOMEM;
                return;
        }
        char url[ETCD_URL_MAX];
        snprintf(url, sizeof(url), "%s://%s/v3/watch", s->tls ? "https" : "http", s->endpoints[ep]);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, data);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(data));
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers ? headers : s->headers);
        (void)curl_easy_perform(h);
        /* Nothing of this stream may outlive it. */
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, s->headers);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
}

static void *watch_main(void *userdata)
{
        struct etcd_watch *w = userdata;
        struct etcd_store *s = w->s;
        CURL *h = curl_easy_init();
        if (h && common_options(s, h) < 0) {
                curl_easy_cleanup(h);
                h = NULL;
        }
        if (!h) {
                w->final_error = -ENOMEM;
        } else {
                curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, watch_on_write);
                curl_easy_setopt(h, CURLOPT_WRITEDATA, w);
                curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
                curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, watch_on_progress);
                curl_easy_setopt(h, CURLOPT_XFERINFODATA, w);
                curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, watch_open_socket);
                curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, w);
                curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, watch_close_socket);
                curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, w);
        }
        size_t ep = preferred_endpoint(s);
        int64_t backoff = ETCD_WATCH_BACKOFF_MIN;
        while (h && !atomic_load(&w->cancel) && !w->final_error) {
                watch_stream(w, h, ep);
                if (atomic_load(&w->cancel) || w->final_error)
                        break;
                if (w->auth_stale)
                        continue; /* at most once in a row: see auth_retried */
                /* The stream ended: etcd restarted, the connection broke, or it never
                 * started. Resume at next_rev, elsewhere if it never started here. */
                if (w->created) {
                        backoff = ETCD_WATCH_BACKOFF_MIN;
                } else {
                        ep = (ep + 1) % s->n_endpoints;
                }
                if (watch_wait(w, backoff))
                        break;
                if (!w->created)
                        backoff = backoff * 2 > ETCD_WATCH_BACKOFF_MAX ? ETCD_WATCH_BACKOFF_MAX
                                                                       : backoff * 2;
        }
        if (w->final_error && !atomic_load(&w->cancel))
                w->fn(NULL, 0, w->final_error, w->userdata);
        if (h)
                curl_easy_cleanup(h);
        if (w->free_on_exit)
                watch_free(w);
        return NULL;
}

static int etcd_watch(struct store *base, const char *prefix, int64_t from_revision,
                      store_watch_fn fn, void *userdata, struct store_watch **ret,
                      struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        int64_t start = from_revision;
        if (start == 0) {
                int64_t rev;
                int r = etcd_revision(base, &rev, err);
                if (r < 0) {
                        berth_error_prefix(err, "watch %s", prefix);
                        return r;
                }
                start = rev + 1;
        }
        struct etcd_watch *w = calloc(1, sizeof(*w));
        if (!w)
                return berth_error_set(err, -ENOMEM, "etcd: watch %s: out of memory", prefix);
        w->base.store = base;
        w->s = s;
        w->fn = fn;
        w->userdata = userdata;
        w->next_rev = start;
        atomic_init(&w->cancel, false);
        socket_slot_init(&w->sock);
        buf_init(&w->line, ETCD_WATCH_MESSAGE_MAX);
        pthread_mutex_init(&w->m, NULL);
        cond_init_monotonic(&w->c);
        if (prefix_range(prefix, &w->key, &w->end) < 0) {
                watch_free(w);
                return berth_error_set(err, -ENOMEM, "etcd: watch %s: out of memory", prefix);
        }
        LOCK_SCOPE(&s->lock);
        int r = -pthread_create(&w->thread, NULL, watch_main, w);
        if (r < 0) {
                watch_free(w);
                return berth_error_set(err, r, "etcd: watch %s: start thread: %s", prefix,
                                       strerror(-r));
        }
        w->next = s->watches;
        s->watches = w;
        *ret = &w->base;
        return 0;
}

static void watch_stop(struct etcd_watch *w)
{
        {
                LOCK_SCOPE(&w->m);
                atomic_store(&w->cancel, true);
                pthread_cond_broadcast(&w->c);
        }
        socket_slot_interrupt(&w->sock);
        if (pthread_equal(pthread_self(), w->thread)) {
                /* From its own callback (not allowed by store.h, but harmless): the
                 * thread frees the watch when it unwinds. */
                w->free_on_exit = true;
                pthread_detach(w->thread);
                return;
        }
        pthread_join(w->thread, NULL);
        watch_free(w);
}

static void etcd_watch_cancel(struct store_watch *base)
{
        struct etcd_watch *w = container_of(base, struct etcd_watch, base);
        struct etcd_store *s = w->s;
        {
                LOCK_SCOPE(&s->lock);
                for (struct etcd_watch **p = &s->watches; *p; p = &(*p)->next) {
                        if (*p == w) {
                                *p = w->next;
                                break;
                        }
                }
        }
        watch_stop(w);
}

/* ---- open / free ---------------------------------------------------------- */

static void etcd_free(struct store *base)
{
        struct etcd_store *s = ES(base);
        struct etcd_watch *list;
        {
                LOCK_SCOPE(&s->lock);
                list = s->watches;
                s->watches = NULL;
        }
        while (list) {
                struct etcd_watch *w = list;
                list = w->next;
                watch_stop(w);
        }
        for (size_t i = 0; i < s->n_pool; i++)
                curl_easy_cleanup(s->pool[i]);
        curl_slist_free_all(s->headers);
        strv_free(s->endpoints);
        free(s->cacert);
        free(s->cert);
        free(s->key);
        free(s->user);
        secret_free(s->password);
        secret_free(s->token);
        pthread_mutex_destroy(&s->auth_lock);
        pthread_mutex_destroy(&s->lock);
        free(s);
}

static const struct store_ops etcd_ops = {
    .name = "etcd",
    .free = etcd_free,
    .get = etcd_get,
    .list = etcd_list,
    .put = etcd_put,
    .delete = etcd_delete,
    .revision = etcd_revision,
    .compact = etcd_compact,
    .lease_grant = etcd_lease_grant,
    .lease_keepalive = etcd_lease_keepalive,
    .lease_revoke = etcd_lease_revoke,
    .watch = etcd_watch,
    .watch_cancel = etcd_watch_cancel,
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init(void)
{
        curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Opens path to see that it can be read now, rather than at the first request. */
static int check_readable(const char *where, const char *what, const char *path,
                          struct berth_error *err)
{
        char msg[128];
        /* O_NONBLOCK: a FIFO must not hang the open. */
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
                int e = errno;
                errno_text(e, msg);
                return berth_error_set(err, -e, "store %s: %s %s: %s", where, what, path, msg);
        }
        if (S_ISDIR(st.st_mode))
                return berth_error_set(err, -EISDIR, "store %s: %s %s: is a directory", where, what,
                                       path);
        return 0;
}

/* The first line of the password file, without its line end. */
static int read_password(const char *where, const char *path, char **ret, struct berth_error *err)
{
        int r = check_readable(where, "password-file", path, err);
        if (r < 0)
                return r;
        char msg[128];
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                int e = errno;
                errno_text(e, msg);
                return berth_error_set(err, -e, "store %s: password-file %s: %s", where, path, msg);
        }
        char buf[ETCD_PASSWORD_MAX + 2];
        size_t n = 0;
        while (n < sizeof(buf)) {
                ssize_t k = read(fd, buf + n, sizeof(buf) - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        int e = errno;
                        explicit_bzero(buf, sizeof(buf));
                        errno_text(e, msg);
                        return berth_error_set(err, -e, "store %s: password-file %s: %s", where,
                                               path, msg);
                }
                if (k == 0)
                        break;
                n += (size_t)k;
        }
        size_t len = 0;
        while (len < n && buf[len] != '\n')
                len++;
        if (len > 0 && buf[len - 1] == '\r')
                len--;
        bool nul = memchr(buf, '\0', len) != NULL;
        explicit_bzero(buf + len, sizeof(buf) - len);
        if (len == 0 || len > ETCD_PASSWORD_MAX || nul) {
                explicit_bzero(buf, sizeof(buf));
                if (len > ETCD_PASSWORD_MAX)
                        return berth_error_set(err, -EINVAL,
                                               "store %s: password-file %s: password longer "
                                               "than %d bytes",
                                               where, path, ETCD_PASSWORD_MAX);
                return berth_error_set(err, -EINVAL, "store %s: password-file %s: %s", where, path,
                                       nul ? "NUL byte in the password" : "empty first line");
        }
        char *p = strndup(buf, len);
        explicit_bzero(buf, sizeof(buf));
        if (!p)
                return berth_error_set(err, -ENOMEM, "store %s: out of memory", where);
        *ret = p;
        return 0;
}

int store_etcd_open(const char *url, struct store **ret, struct berth_error *err)
{
        _cleanup_(etcd_url_release) struct etcd_url u = {0};
        int r = etcd_url_parse(url ? url : "", &u, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *where = url_display(url);
        if (!where)
                return berth_error_set(err, -ENOMEM, "store: out of memory");
        const char *what[] = {"cacert", "cert", "key"};
        const char *paths[] = {u.cacert, u.cert, u.key};
        for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
                if (paths[i] && (r = check_readable(where, what[i], paths[i], err)) < 0)
                        return r;
        _cleanup_(secret_freep) char *password = NULL;
        if (u.password_file) {
                r = read_password(where, u.password_file, &password, err);
                if (r < 0)
                        return r;
        } else if (u.user) {
                const char *env = getenv("BERTH_ETCD_PASSWORD");
                if (!env || !*env)
                        return berth_error_set(err, -EINVAL,
                                               "store %s: user %s needs a password: add "
                                               "password-file=PATH or set BERTH_ETCD_PASSWORD",
                                               where, u.user);
                password = strdup(env);
                if (!password)
                        return berth_error_set(err, -ENOMEM, "store %s: out of memory", where);
        }
        pthread_once(&curl_once, curl_init);
        if (curl_init_result != CURLE_OK)
                return berth_error_set(err, -EIO, "store %s: libcurl: %s", where,
                                       curl_easy_strerror(curl_init_result));

        struct etcd_store *s = calloc(1, sizeof(*s));
        if (!s)
                return berth_error_set(err, -ENOMEM, "store %s: out of memory", where);
        s->base.ops = &etcd_ops;
        pthread_mutex_init(&s->lock, NULL);
        pthread_mutex_init(&s->auth_lock, NULL);
        s->endpoints = TAKE_PTR(u.endpoints);
        s->n_endpoints = strv_length(s->endpoints);
        s->tls = u.tls;
        s->cacert = TAKE_PTR(u.cacert);
        s->cert = TAKE_PTR(u.cert);
        s->key = TAKE_PTR(u.key);
        s->user = TAKE_PTR(u.user);
        s->password = TAKE_PTR(password);
        /* "Expect:" turns off 100-continue, which would add a round trip to large puts. */
        struct curl_slist *h1 = curl_slist_append(NULL, "Content-Type: application/json");
        struct curl_slist *h2 = h1 ? curl_slist_append(h1, "Expect:") : NULL;
        if (!h2) {
                curl_slist_free_all(h1);
                etcd_free(&s->base);
                return berth_error_set(err, -ENOMEM, "store %s: out of memory", where);
        }
        s->headers = h2;
        *ret = &s->base;
        return 0;
}
