/* store etcd internals: what the files of the etcd backend share.
 *
 *   etcd-codec.c  the wire format: base64, proto3 JSON, kvs, watch messages, errors
 *   etcd-url.c    what an etcd URL says, and the files it names
 *   etcd-http.c   the curl handle pool, endpoint failover, TLS and authentication
 *   etcd-kv.c     kv operations (CAS txns), compaction, leases, the store_ops table
 *   etcd-watch.c  one streaming watch per thread: reconnects, resumes, cancels
 *
 * The codec and the URL parser do no I/O; unit tests and the fuzzer call them
 * directly. The etcd v3 JSON gateway speaks proto3 JSON: bytes are standard
 * base64 with padding, 64-bit integers are decimal strings, and fields holding
 * their default value (0, false, "", empty list) are omitted, so every parser
 * here treats an absent field as its default.
 */
#pragma once

#include <curl/curl.h>
#include <pthread.h>

#include "store-internal.h"

/* Longest decimal int64 with its sign and NUL. */
#define I64_STR_MAX 24
/* Longest request URL: scheme, endpoint and path. */
#define ETCD_URL_MAX  512
#define ETCD_POOL_MAX 16

static inline void i64_format(int64_t v, char out[I64_STR_MAX])
{
        snprintf(out, I64_STR_MAX, "%" PRId64, v);
}

/* strerror(e), lowercase as in our messages: "no such file or directory". */
static inline void errno_text(int e, char out[128])
{
        str_copy(out, 128, strerror(e));
        if (out[0] >= 'A' && out[0] <= 'Z')
                out[0] = (char)(out[0] - 'A' + 'a');
}

/* For strings that held a secret (password, token): wiped before they are freed. */
static inline void secret_free(char *p)
{
        if (p) {
                explicit_bzero(p, strlen(p));
                free(p);
        }
}

static inline void secret_freep(char **p)
{
        secret_free(*p);
}

static inline void slist_freep(struct curl_slist **l)
{
        curl_slist_free_all(*l);
}

/* Opens the etcd backend from a whole URL (see etcd_url_parse). Checks that the
 * files it names are readable and reads the password, but contacts nobody.
 * Caller frees with store_free(). */
int store_etcd_open(const char *url, struct store **ret, struct berth_error *err);

/* ---- base64 (RFC 4648 standard alphabet, padded) ------------------------ */

/* Encodes len bytes. *ret is NUL-terminated; caller frees. -ENOMEM, -E2BIG. */
int etcd_base64_encode(const void *data, size_t len, char **ret);
/* Decodes exactly slen characters. Rejects (-EBADMSG) characters outside the
 * alphabet, a length that is not a multiple of 4, misplaced padding and non-zero
 * padding bits. *ret gets a NUL terminator not counted in *ret_len; caller frees. */
int etcd_base64_decode(const char *s, size_t slen, char **ret, size_t *ret_len);

/* ---- proto3 JSON -------------------------------------------------------- */

/* The int64 field 'name' of obj: absent or null = 0; a decimal string or a JSON
 * integer. -EBADMSG for anything else (junk, overflow, other types). */
int etcd_json_int64(const json_t *obj, const char *name, int64_t *ret);
/* The bool field 'name': absent = false. */
bool etcd_json_bool(const json_t *obj, const char *name);
/* A mvccpb.KeyValue: key (required), value (absent = empty), revisions, version,
 * lease. Keys with a NUL byte or longer than STORE_KEY_MAX are refused (-EBADMSG):
 * berth keys are C strings. ret->value is always allocated and NUL-terminated. */
int etcd_parse_kv(const json_t *obj, struct store_kv *ret);

/* One message of a /v3/watch stream ({"result":{...}} or a gateway {"error":...}). */
struct etcd_watch_msg {
        bool created;
        bool canceled;
        int64_t compact_revision; /* > 0: the start revision was compacted away */
        int64_t header_revision;
        char *cancel_reason;        /* owned; NULL if none */
        char *error;                /* owned; a stream-level error from the gateway; NULL if none */
        struct store_event *events; /* owned, n of them; DELETE events have value NULL */
        size_t n;
};

void etcd_watch_msg_release(struct etcd_watch_msg *m);
/* Parses one stream message. -EBADMSG on malformed input; *ret untouched then. */
int etcd_watch_msg_parse(const char *data, size_t len, struct etcd_watch_msg *ret);

/* ---- requests and responses ------------------------------------------- */

/* data base64-encoded, or NULL when out of memory. Caller frees. */
char *etcd_b64(const void *data, size_t len);
/* A prefix as an etcd range: key and range_end, both base64. The empty prefix and
 * prefixes of only 0xff bytes have no upper bound: etcd spells that "\0".
 * -ENOMEM. Caller frees both. */
int etcd_prefix_range(const char *prefix, char **ret_key, char **ret_end);
/* The header's revision of a response: -EBADMSG when absent or not positive. */
int etcd_header_revision(const json_t *resp, int64_t *ret);
/* The body of /v3/auth/authenticate for user and password, built in one
 * allocation so that no copy of the password is left behind. -ENOMEM. Caller
 * frees *ret with secret_free(). */
int etcd_auth_body(const char *user, const char *password, char **ret);

/* ---- errors ------------------------------------------------------------- */

/* The -errno for an etcd error message and gRPC status code: "required revision
 * has been compacted" is STORE_ERR_COMPACTED, "requested lease not found"
 * -ENOENT, "request is too large" -E2BIG, a future revision -EINVAL, failed or
 * missing authentication and "permission denied" -EACCES, then by code. */
int etcd_error_errno(const char *message, int64_t grpc_code);
/* Whether an etcd error means "authenticate again and retry": the token expired
 * (simple tokens live --auth-token-ttl) or the auth store changed since it was
 * issued. etcd refuses such a request before running it. */
bool etcd_error_token_rejected(const char *message, int64_t grpc_code);

/* ---- URL ----------------------------------------------------------------- */

/* What an etcd URL says:
 *   etcd://host:port[,host:port...][/][?options]    plain HTTP
 *   etcds://host:port[,host:port...][/][?options]   HTTPS, peer and host verified
 * Options (values percent-decoded, each at most once):
 *   cacert=PATH         CA bundle that signs etcd's certificate (etcds:// only;
 *                       default: the system's CAs)
 *   cert=PATH, key=PATH client certificate and its unencrypted key, both or
 *                       neither (etcds:// only)
 *   user=NAME           etcd authentication as NAME
 *   password-file=PATH  NAME's password, the file's first line (needs user; without
 *                       it the password comes from $BERTH_ETCD_PASSWORD)
 * The password itself is never part of the URL, so it never shows in ps. */
struct etcd_url {
        bool tls;
        char **endpoints; /* NULL-terminated "host:port" */
        char *cacert;     /* NULL when not given, like the others */
        char *cert;
        char *key;
        char *user;
        char *password_file;
};

void etcd_url_release(struct etcd_url *u);
/* Parses and validates an etcd URL; no I/O. -EINVAL (with a message naming the
 * URL without its options, never an option's value) on an unknown or repeated
 * option, an empty value, cert without key or key without cert, TLS options on
 * etcd://, password-file without user, a bad endpoint list or credentials in the
 * authority ("user:pw@host"). Caller frees *ret with etcd_url_release(). */
int etcd_url_parse(const char *url, struct etcd_url *ret, struct berth_error *err);

/* Splits "h1:p1,h2:p2" into a NULL-terminated vector; every entry must be a
 * non-empty host with a port 1..65535 (IPv6 as "[::1]:2379"). -EINVAL on a bad
 * list, at most 16 endpoints. Caller frees with strv_free(). */
int etcd_parse_endpoints(const char *location, char ***ret);

/* The URL as error messages show it: without the options (and so without any
 * value that might be private), without a trailing slash. NULL when out of memory. */
char *etcd_url_display(const char *url);
/* Checks now, rather than at the first request, what u names on this machine:
 * cacert, cert and key must be readable files. Reads the password: password-file's
 * first line, else $BERTH_ETCD_PASSWORD when there is a user (*ret_password NULL
 * without user). where is the URL for messages (etcd_url_display). Caller frees
 * *ret_password with secret_free(). */
int etcd_url_resolve(const struct etcd_url *u, const char *where, char **ret_password,
                     struct berth_error *err);

/* ---- the backend ---------------------------------------------------------- */

struct etcd_watch;

struct etcd_store {
        struct store base;
        /* Read-only after open: endpoints, TLS and auth settings. url.tls is
         * etcds://; url.cacert NULL means the system's CAs; url.user NULL means
         * no authentication. */
        struct etcd_url url;
        size_t n_endpoints;
        char *password;             /* secret_free()d */
        struct curl_slist *headers; /* read-only once built; shared by every handle */

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
struct etcd_call {
        const char *op;      /* "get", "put", ... */
        const char *subject; /* key, prefix or lease id */
        const char *path;    /* "/v3/kv/range" */
        bool idempotent;     /* may be sent again after it possibly reached etcd */
        bool first_line;     /* a stream endpoint: keep only its first message */
        size_t value_len;    /* for a put: explains "request is too large" */
        const char *ep;      /* out: the endpoint that answered (or failed last) */
        bool token_rejected; /* out: etcd refused the auth token (see etcd_call) */
};

/* ---- etcd-http.c ---- */

/* curl_global_init, once per process; its result, every time. */
CURLcode etcd_curl_global_init(void);
/* Sets up the locks and the headers every request sends. -ENOMEM; the store is
 * then still fit for etcd_http_release(). */
int etcd_http_init(struct etcd_store *s);
/* Frees the pooled handles, the headers, the token and the locks. No watch may
 * be running. */
void etcd_http_release(struct etcd_store *s);
/* Sets the options every handle needs (headers, timeouts, protocol, TLS
 * verification and client certificate). -ENOMEM when a TLS setting did not take:
 * the handle must not be used then. */
int etcd_curl_options(struct etcd_store *s, CURL *h);
/* The endpoint that answered last: where a new connection starts. */
size_t etcd_preferred_endpoint(struct etcd_store *s);
/* A copy of the shared headers plus auth ("Authorization: <token>"); NULL when
 * out of memory. Caller frees with curl_slist_free_all(). */
struct curl_slist *etcd_headers_with(const struct etcd_store *s, const char *auth);
/* The "Authorization: <token>" header for a request. Authenticates when there is
 * no token yet, or when *stale (if not NULL) is the generation of a token etcd
 * just refused and nobody has replaced it since. *ret_gen is the generation of the
 * token in the header. Caller frees *ret_header with secret_free(). */
int etcd_auth_header(struct etcd_store *s, const uint64_t *stale, char **ret_header,
                     uint64_t *ret_gen, struct berth_error *err);
/* POSTs body to c->path, failing over between endpoints, with authentication when
 * the store has a user, and returns the parsed JSON answer (for a stream endpoint,
 * the "result" of its first message). etcd's errors become -errno with etcd's own
 * message in err. */
int etcd_call(struct etcd_store *s, struct etcd_call *c, const json_t *body, json_t **ret,
              struct berth_error *err);
/* The -EBADMSG of a response that does not say what it should. */
int etcd_malformed(const struct etcd_call *c, struct berth_error *err);

/* ---- etcd-kv.c ---- */

/* store_ops.revision: a linearizable read of the current revision. */
int etcd_revision(struct store *base, int64_t *ret_revision, struct berth_error *err);

/* ---- etcd-watch.c ---- */

/* store_ops.watch and store_ops.watch_cancel. */
int etcd_watch(struct store *base, const char *prefix, int64_t from_revision, store_watch_fn fn,
               void *userdata, struct store_watch **ret, struct berth_error *err);
void etcd_watch_cancel(struct store_watch *base);
/* Stops and frees every watch still open (store_free). */
void etcd_watches_stop(struct etcd_store *s);
