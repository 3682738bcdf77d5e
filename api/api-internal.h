/* api internals. The files form layers: a file calls only files on its own
 * row or below it, so nothing calls back up into server.c:
 *
 *   server.c                         listeners, dispatch, the small handlers
 *   watch.c logs.c writes.c stats.c  streams; writes on the writer threads;
 *                                    container stats on the stats threads
 *   stream.c send.c objects.c        stream plumbing; replies; object semantics
 *   list-pages.c                     paged lists: a check on the loop, the read
 *                                    on the writer threads (with writes.c)
 *   router.c selectors.c status.c    pure, unit-tested without a server
 *   continue.c encoding.c            continue tokens; ETag, gzip; pure too
 *   sse.c                            Server-Sent Events framing, pure too
 *   authz.c                          RBAC for requests, lists and watches;
 *                                    auth/whoami and auth/can-i
 *   peer.c authn.c tls.c             who is calling: unix peer, bearer token,
 *                                    client certificate
 *   limits.c audit.c                 rate limit, audit log
 *
 * objects.c talks to the store and the object cache and blocks on them (an
 * etcd write is a network round trip, up to its request timeout while etcd is
 * unreachable, plus up to API_WAIT_MS for the cache): it runs on the writer
 * threads (writes.c), never on the loop. It is thread-safe: the store and the
 * object cache are, and struct api_objects is read-only once the server runs.
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include <event2/http.h>

#include "api.h"
#include "auth.h"
#include "manifests.h"

#define API_URI_MAX                   (8 * 1024)
#define API_QUERY_PARAMS_MAX          32
#define API_WAIT_MS                   5000               /* read-your-writes wait for the cache */
#define API_APPLY_RETRIES             5                  /* CAS conflicts retried per object */
#define API_WATCH_QUEUE_MAX           (16 * 1024 * 1024) /* per watch connection */
#define API_WATCHES_PER_USER          256                /* open watch streams per user name */
#define API_LOG_QUEUE_HIGH            (4 * 1024 * 1024)  /* log thread blocks above this */
#define API_LOG_QUEUE_MAX             (8 * 1024 * 1024)  /* hard cap of one log queue */
#define API_BOOKMARK_MS_DEFAULT       (30 * 1000)
#define API_IDLE_TIMEOUT_S            60 /* a connection that sends or reads nothing is closed */
#define API_HEADER_TIMEOUT_MS_DEFAULT (30 * 1000) /* a request head's deadline */
#define API_RESULTS_NAME_MAX          63          /* characters of ?step= and ?file= on results */
#define API_METRICS_MAX               (16 * 1024 * 1024) /* a /metrics page */

/* ---- errors and Status bodies (status.c) -------------------------------- */

/* An HTTP-level failure: status code, Kubernetes-style reason, message and
 * optional field details. Handlers fill one and the server renders it. */
struct api_error {
        int code;           /* HTTP status (>= 400); 0 = no error */
        const char *reason; /* static; NULL = http_status_reason(code) */
        char message[BERTH_ERROR_MESSAGE_MAX];
        json_t *details; /* owned array of {"field","message"} or NULL */
};

void api_error_release(struct api_error *e);
/* Sets code and message (and clears reason and details). Returns the negative
 * errno matching the code (api_status_errno) so callers can return it. */
int api_error_set(struct api_error *e, int code, const char *fmt, ...) _printf_(3, 4);
int api_error_set_reason(struct api_error *e, int code, const char *reason, const char *fmt, ...)
    _printf_(4, 5);
/* Maps a failed store call: -ESTALE → 409 Conflict, -E2BIG → 413, -ENOENT → 404,
 * everything else → 503 ServiceUnavailable. what names the operation. */
int api_error_from_store(struct api_error *e, int rc, const struct berth_error *serr,
                         const char *what);
/* Appends field details (field prefixed with field_prefix when not NULL, e.g.
 * "tasks/hello: "); creates e->details if needed. */
int api_error_add_details(struct api_error *e, const struct field_errors *errs,
                          const char *field_prefix);

/* "Invalid", "NotFound", ...; "InternalError" for unknown codes >= 500,
 * "BadRequest" for other unknown 4xx. */
/* Negative errno for an HTTP status (404 → -ENOENT, 409 → -EEXIST/-ESTALE ...). */
int api_status_errno(int code);
/* {"kind":"Status","apiVersion":"berth/v1","status":"Failure","code":...,
 * "reason":...,"message":...[,"details":[...]]}. New reference. */
json_t *api_status_failure(const struct api_error *e);
/* {"kind":"Status",...,"status":"Success","code":200,"message":...}. */
json_t *api_status_success(const char *message);

/* ---- identity (peer.c) ---------------------------------------------------- */

#define API_USER_ADMIN      "system:admin"
#define API_USER_ANONYMOUS  "system:anonymous"
#define API_GROUP_ADMINS    "system:admins"
#define API_PEER_GROUPS_MAX 256 /* supplementary groups of a peer we look at */

/* How a request's sender proved who it is. */
enum api_authn {
        API_AUTHN_NONE,        /* nothing: only probes are served */
        API_AUTHN_UNIX,        /* SO_PEERCRED of a unix socket peer */
        API_AUTHN_TOKEN,       /* Authorization: Bearer */
        API_AUTHN_CERTIFICATE, /* a TLS client certificate signed by --client-ca */
};

#define API_IDENTITY_NAME_MAX   128 /* a user or group name, NUL included */
#define API_IDENTITY_GROUPS_MAX 16

/* Who sent a request. A unix socket peer is admin when it is root or in the
 * socket file's group; any other unix peer is refused (refusal says why). A
 * TCP peer proves itself with a bearer token or a client certificate;
 * without either only the probes answer (401). */
struct api_identity {
        char user[API_IDENTITY_NAME_MAX]; /* API_USER_ANONYMOUS until authenticated */
        char groups[API_IDENTITY_GROUPS_MAX][API_IDENTITY_NAME_MAX];
        size_t n_groups;
        enum api_authn authn;
        bool admin; /* system:admin: every verb on everything, RBAC not asked */
        bool is_unix;
        uid_t uid; /* unix only */
        pid_t pid;
        char source[80];   /* "unix:pid=N,uid=N" or the TCP peer "HOST:PORT" */
        char refusal[200]; /* "" = allowed */
};

/* admin = the user is system:admin or one of its groups system:admins,
 * however it was proven (RBAC grants them everything too). */
void api_identity_set_admin(struct api_identity *id);
/* uid 0, or the primary gid or one of groups equal to socket_gid. Pure. */
bool api_peer_is_admin(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups,
                       gid_t socket_gid);
/* Identifies the peer of req's connection (getsockopt per request; nothing
 * cached). Loop thread. */
void api_identify(struct evhttp_request *req, struct api_identity *ret);

/* ---- bearer tokens (authn.c) ----------------------------------------------- */

#define API_TOKEN_SECRET_MAX 128           /* NUL included */
#define API_TOKEN_HASH_LEN   32            /* SHA-256 */
#define API_ADMIN_TOKEN_NAME "berth-admin" /* <data-dir>/tls/admin.token */

/* "Bearer NAME.SECRET" (scheme in any case): NAME a DNS label, SECRET 16 to
 * 127 characters of [A-Za-z0-9_-]. -EINVAL otherwise, outputs untouched. Pure. */
int api_bearer_parse(const char *header, char name[64], char secret[API_TOKEN_SECRET_MAX]);
/* "sha256:" and 64 lower-case hex digits → 32 bytes; -EINVAL otherwise. Pure. */
int api_token_hash_parse(const char *text, uint8_t ret[API_TOKEN_HASH_LEN]);
/* SHA-256 of secret. */
int api_token_hash(const char *secret, uint8_t ret[API_TOKEN_HASH_LEN]);
/* A Token object's verdict (NULL: no such token) on a secret whose SHA-256
 * is h, at now_ms: fills id with spec.user and spec.groups (admin when the
 * user is system:admin or a group system:admins), or refuses it — "invalid
 * bearer token" for a missing token or a wrong secret alike, "revoked" or
 * "expired" only once the secret matched. Pure. */
void api_token_check(const json_t *token, const uint8_t h[API_TOKEN_HASH_LEN], int64_t now_ms,
                     struct api_identity *id);
/* Settles who sent req after api_identify(): an Authorization header, when
 * there is one, decides (a valid token replaces the peer's identity, a bad
 * one refuses the request whatever the peer); without one an unproven peer
 * is refused. Refusals say why without telling whether a token exists.
 * Loop thread (reads the object cache). */
void api_authenticate(struct api_server *s, struct evhttp_request *req, struct api_identity *id);

/* ---- authorization (authz.c) ----------------------------------------------- */

struct api_authz;
int api_authz_new(struct api_authz **ret);
void api_authz_free(struct api_authz *a); /* NULL ok */

/* RBAC's answer for who on verb resource in ns ("" or NULL: cluster-scoped,
 * or all namespaces) and name (NULL: a collection). Any thread. */
void api_authz_decide(struct api_server *s, const struct api_identity *who, const char *verb,
                      const char *resource, const char *ns, const char *name,
                      struct rbac_decision *ret);
/* true when allowed (always for an admin); else 403 in err with the reason. */
bool api_authorize(struct api_server *s, const struct api_identity *who, const char *verb,
                   const char *resource, const char *ns, const char *name, struct api_error *err);

/* Which objects of a list or watch the caller sees. */
struct api_list_filter {
        enum rbac_scope scope; /* RBAC_ALL: everything; RBAC_SOME: ask per object */
        struct api_identity who;
        char verb[16];
        char resource[64];
};
/* 403 in err when the caller may see none of them. */
int api_authz_list_begin(struct api_server *s, const struct api_identity *who, const char *verb,
                         const char *resource, const char *ns, struct api_list_filter *ret,
                         struct api_error *err);
/* Whether obj passes f (one watch event). */
bool api_authz_visible(struct api_server *s, const struct api_list_filter *f, const json_t *obj);
/* The same for the object named name in ns ("" or NULL: cluster-scoped). */
bool api_authz_visible_name(struct api_server *s, const struct api_list_filter *f, const char *ns,
                            const char *name);
/* Keeps the first *n of v, in order, that f lets the caller see, unrefs the
 * others and updates *n (one list from the cache's bytes; by namespace and
 * name, as api_authz_filter). On OOM nothing is kept (-ENOMEM). */
int api_authz_filter_blobs(struct api_server *s, const struct api_list_filter *f,
                           const struct object_blob **v, size_t *n);
/* Removes from the array items what f hides (one list). */
int api_authz_filter(struct api_server *s, const struct api_list_filter *f, json_t *items);

/* ---- TLS (tls.c) ---------------------------------------------------------- */
/* Loop thread only. */

struct bufferevent;
struct ssl_ctx_st; /* OpenSSL's SSL_CTX */

/* Copies the file names into s and builds s->tls_ctx from them: cert (PEM
 * chain) and key (PEM, unencrypted) are required (-EINVAL naming the flags);
 * client_ca (may be NULL) makes the server ask for a client certificate and
 * refuse the handshake when one does not verify against client_ca alone.
 * Errors name the file. api_tls_release undoes it, also after a failure. */
int api_tls_init(struct api_server *s, const char *cert, const char *key, const char *client_ca,
                 struct berth_error *err);
void api_tls_release(struct api_server *s);
/* evhttp_set_bevcb's callback for the https evhttp (arg: the server): a
 * server-side OpenSSL bufferevent on s->tls_ctx, without a socket yet. */
struct bufferevent *api_tls_bevcb(struct event_base *base, void *arg);
/* When conn is TLS and its client presented a certificate that verified:
 * fills id->user (the subject's only CN), id->groups (each O, at most
 * API_IDENTITY_GROUPS_MAX, those that are no name left out) and id->authn =
 * API_AUTHN_CERTIFICATE, and returns 1. Otherwise 0 and id untouched (also
 * for a certificate without exactly one usable CN). */
int api_tls_identify(struct evhttp_connection *conn, struct api_identity *id);
/* The SHA-256 of the secret in the admin token file at path (one line
 * "berth-admin.SECRET", as api_bearer_parse reads a token) into ret. Errors
 * name the file and never show its content. */
int api_admin_token_load(const char *path, uint8_t ret[API_TOKEN_HASH_LEN],
                         struct berth_error *err);

struct api_route;
/* GET .../auth/whoami: {"user", "groups", "authenticatedBy", "admin"}. */
void api_handle_whoami(struct api_server *s, struct evhttp_request *req,
                       const struct api_identity *id);
/* GET .../auth/can-i?verb=&resource=[&namespace=][&name=][&as=][&asGroup=]...:
 * {"allowed", "reason"} from the decision enforcement makes (lists and
 * watches: allowed when they would show something). 400 for an unknown verb,
 * resource or namespace; 403 when a non-admin asks for someone else. */
void api_handle_can_i(struct api_server *s, struct evhttp_request *req, const struct api_route *r,
                      const struct api_identity *id, struct api_error *err);

/* ---- rate limit (limits.c) ------------------------------------------------- */

struct api_bucket {
        double tokens;
        int64_t last_ms;
        bool started; /* a new bucket starts full */
};

/* Takes a token from a bucket refilled with rate tokens per second up to
 * burst, at time now_ms (any monotonic clock). 0 when taken, else the ms
 * until one will be there. Pure. */
int64_t api_bucket_take(struct api_bucket *b, double rate, double burst, int64_t now_ms);

#define API_RATE_USERS_MAX 16

/* One bucket per user name, burst 2 × rate. rate <= 0: no limit. */
struct api_rate_limiter {
        double rate; /* requests per second */
        char users[API_RATE_USERS_MAX][64];
        struct api_bucket buckets[API_RATE_USERS_MAX];
        size_t n;
};

/* api_bucket_take on user's bucket. Pure. */
int64_t api_rate_limit_take(struct api_rate_limiter *l, const char *user, int64_t now_ms);

/* ---- audit log (audit.c) ---------------------------------------------------- */

/* One audited request; strings borrowed, NULL written as "". */
struct api_audit_event {
        int64_t time_ms; /* wall clock, ms since the epoch */
        const char *user;
        const char (*groups)[API_IDENTITY_NAME_MAX];
        size_t n_groups;
        const char *source;
        const char *verb; /* create, update, delete, apply, get, list, watch ... */
        const char *resource;
        const char *ns;
        const char *name;
        int code;
        const char *request_id;
};

/* {"time","user","groups","source","verb","resource","namespace","name",
 * "code","requestID"} and a newline, in that order. NULL on OOM; caller
 * frees. Pure. */
char *api_audit_format(const struct api_audit_event *ev);

#define API_AUDIT_MAX_SIZE  (100 * 1024 * 1024)
#define API_AUDIT_MAX_FILES 5

struct api_audit;
/* Opens (creates, 0600, appends to) path; PATH grows to max_size bytes,
 * then PATH → PATH.1 → ... → PATH.max_files (the oldest dropped; 0 = PATH
 * is truncated instead). Caller frees with api_audit_free(). */
int api_audit_open(const char *path, int64_t max_size, int max_files, struct api_audit **ret);
void api_audit_free(struct api_audit *a);
/* Appends one line with one write(2), rotating first when it would pass
 * max_size (a line larger than max_size gets a file of its own). 0 or -errno
 * (a failed rotation still appends the line and returns its error). */
int api_audit_write(struct api_audit *a, const char *line, size_t len);

/* What /metrics counts a request's reply under: its route's name
 * (api_route_metric_name) and when it came in (metrics_now_ns). */
struct api_request_metrics {
        const char *route; /* static */
        int64_t start_ns;
};

/* What the server knows of a request from its start to its reply: the
 * audit record without the code. Copied into write jobs. */
struct api_request_info {
        struct api_request_metrics metrics;
        char request_id[40];
        struct api_identity who;
        bool trigger_only; /* RBAC allowed this PUT only as a trigger */
        char verb[16];
        char resource[80];
        char ns[64];
        char name[64];
        bool audited; /* whether the request is one the audit log records */
};

/* ---- router (router.c) -------------------------------------------------- */

enum api_endpoint {
        API_EP_HEALTHZ,
        API_EP_READYZ,
        API_EP_VERSION,
        API_EP_METRICS,
        API_EP_LIST,    /* collection; ns "" = all namespaces */
        API_EP_OBJECT,  /* one named object */
        API_EP_LOG,     /* tasks/{name}/log, services/{name}/log */
        API_EP_RESULTS, /* workflows/{name}/results */
        API_EP_APPLY,
        API_EP_LEADER, /* /apis/berth/v1/leader */
        API_EP_WHOAMI, /* /apis/berth/v1/auth/whoami */
        API_EP_CAN_I,  /* /apis/berth/v1/auth/can-i?verb=&resource=... */
        /* tasks/{name}/stats, services/{name}/stats; or, without a name, a
         * collection with ?stats=true (every running container of it) */
        API_EP_STATS,
};

enum api_method {
        API_METHOD_GET,
        API_METHOD_HEAD,
        API_METHOD_POST,
        API_METHOD_PUT,
        API_METHOD_DELETE,
        API_METHOD_PATCH,
        API_METHOD_OTHER,
};

struct api_param {
        char *key; /* percent-decoded */
        char *value;
};

struct api_route {
        enum api_endpoint endpoint;
        enum api_method method;
        const struct kind_info *kind; /* LIST, OBJECT, LOG */
        char ns[64];                  /* "" when none */
        char name[64];                /* "" when none */
        char subresource[32];         /* "log", "results", "stats" or "" */
        bool watch;                   /* LIST with ?watch=true, or sse */
        /* The client asked for text/event-stream (api_route_set_accept): a
         * GET of a collection (always a watch then) or of a log. */
        bool sse;
        struct api_param *params; /* owned */
        size_t n_params;
};

enum api_method api_method_from_string(const char *s);
/* Parses a request target ("/apis/berth/v1/namespaces/default/tasks?watch=1").
 * Segments and query are percent-decoded ('+' is a space in the query only).
 * Errors: 404 unknown path or resource, 405 method not allowed on the path,
 * 400 malformed encoding or too many parameters, 414 target longer than
 * API_URI_MAX. On a results route, ?step=S&file=F (one file output) come
 * together and are API_RESULTS_NAME_MAX characters of [A-Za-z0-9_-] (400
 * otherwise: they make a store key). A GET of the collection of a kind
 * with the "stats" subresource takes ?stats=true (API_EP_STATS without a
 * name; 400 with ?watch=true or on another kind). On success the caller
 * releases *ret with api_route_release(). */
int api_route_parse(enum api_method method, const char *target, struct api_route *ret,
                    struct api_error *err);
void api_route_release(struct api_route *r);
/* Applies the request's Accept header (NULL: none) to a parsed route: with
 * text/event-stream (api_sse_accepted), a GET of a collection becomes an
 * SSE watch (an EventSource cannot add ?watch=true) and a GET of a log an
 * SSE log stream; other routes are left as they are. Pure. */
void api_route_set_accept(struct api_route *r, const char *accept);
/* Value of a query parameter (first occurrence), or NULL. Borrowed. */
const char *api_route_param(const struct api_route *r, const char *key);
/* "true"/"1"/"" → true, "false"/"0" → false; absent → def; else -EINVAL. */
int api_route_param_bool(const struct api_route *r, const char *key, bool def, bool *ret);
/* The low-cardinality name /metrics counts a request under: "list",
 * "watch", "get", "create", "replace", "delete", "apply", "log", "results",
 * "stats", "whoami", "can-i", "leader", "healthz" (also /livez), "readyz",
 * "version", "metrics"; "other" for a request that was not routed (r may
 * then be NULL). Static string. Pure. */
const char *api_route_metric_name(const struct api_route *r, bool routed);

/* ---- selectors (selectors.c) -------------------------------------------- */

enum api_selector_op {
        API_SEL_EQ,         /* k=v, k==v */
        API_SEL_NEQ,        /* k!=v */
        API_SEL_IN,         /* k in (a,b) */
        API_SEL_NOTIN,      /* k notin (a,b) */
        API_SEL_EXISTS,     /* k */
        API_SEL_NOT_EXISTS, /* !k */
};

struct api_selector_req {
        char *key;
        enum api_selector_op op;
        char **values; /* NULL-terminated; one value for EQ/NEQ, none for (NOT_)EXISTS */
};

/* A conjunction of requirements; n == 0 matches everything. */
struct api_selector {
        struct api_selector_req *reqs;
        size_t n;
};

#define API_SELECTOR_MAX 4096 /* characters of one selector string */

void api_selector_release(struct api_selector *sel);
/* Label selectors: "app=web,tier!=db,env in (prod,staging),!canary,team". NULL
 * or "" = everything. -EINVAL with a message in err on syntax errors. */
int api_label_selector_parse(const char *s, struct api_selector *ret, struct api_error *err);
/* labels: the object's metadata.labels (may be NULL). */
bool api_label_selector_matches(const struct api_selector *sel, const json_t *labels);
/* Field selectors: "status.phase=Failed,metadata.name!=x"; fields
 * metadata.name, metadata.namespace, status.phase; operators =, ==, !=. A
 * missing field compares as "". */
int api_field_selector_parse(const char *s, struct api_selector *ret, struct api_error *err);
bool api_field_selector_matches(const struct api_selector *sel, const json_t *object);

/* What a LIST route (list or watch) selects. */

/* Parses ?labelSelector= and ?fieldSelector= (400 on errors); on failure
 * neither is left to release. */
int api_route_selectors(const struct api_route *r, struct api_selector *labels,
                        struct api_selector *fields, struct api_error *err);
/* Whether obj matches both selectors. */
bool api_object_matches(const struct api_selector *labels, const struct api_selector *fields,
                        const json_t *obj);
/* Cache key prefix of a LIST route under the store prefix (ending in '/'):
 * "/berth/tasks/default/" or, for all namespaces, "/berth/tasks/". NULL on OOM. */
char *api_list_prefix(const char *prefix, const struct api_route *r);

/* ---- continue tokens (continue.c) ---------------------------------------- */
/* Pure. The format and why a checksum suffices: continue.c. */

#define API_CONTINUE_VERSION 1
#define API_CONTINUE_ID_LEN  8    /* bytes of a list id */
#define API_CONTINUE_MAX     1024 /* characters of a ?continue= token */

/* Where a paged list goes on: its snapshot revision, the list it belongs to
 * and the last key it returned. */
struct api_continue {
        int64_t revision; /* > 0 */
        uint8_t list[API_CONTINUE_ID_LEN];
        char key[STORE_KEY_MAX + 1]; /* relative to the list's prefix, non-empty */
};

/* Identifies a list: the first bytes of SHA-256 over the resource, the
 * namespace ("" for all namespaces) and the raw labelSelector and
 * fieldSelector (NULL = ""). A token answers only the list it came from. */
void api_continue_list_id(const char *resource, const char *ns, const char *labels,
                          const char *fields, uint8_t ret[API_CONTINUE_ID_LEN]);
/* The token of c: base64url, NUL-terminated, caller frees. -EINVAL when c
 * has no revision or a key that is empty, too long or holds control
 * characters; -ENOMEM. */
int api_continue_encode(const struct api_continue *c, char **ret);
/* Reads a ?continue= token that must belong to list: 400 naming the
 * continue token and why (empty, too long, not base64url, truncated or
 * altered — the checksum —, another version, another list, bad revision or
 * key). *ret untouched on failure. */
int api_continue_decode(const char *token, const uint8_t list[API_CONTINUE_ID_LEN],
                        struct api_continue *ret, struct api_error *err);

/* ---- paged lists (list-pages.c) ------------------------------------------ */

#define API_LIST_LIMIT_MAX STORE_LIST_PAGE_MAX /* ?limit= above this is 400 */
/* Keys one page reads from the store at most, whatever limit: when selectors
 * or RBAC hide most objects a page ends early (fewer than limit items, even
 * none) with a continue token, so one request never scans a whole kind. */
#define API_LIST_SCAN_MAX      10000
#define API_LIST_LIMIT_DEFAULT 500 /* the page size of a ?continue= without ?limit= */

/* Whether a LIST route asks for a page: 1 with *ret_limit when ?continue=
 * is given or ?limit= is above 0 (a continue without a limit pages by
 * API_LIST_LIMIT_DEFAULT), 0 when it is a whole list (no limit, or 0), or
 * 400 in err for a limit that is not a number from 0 to API_LIST_LIMIT_MAX.
 * Pure. */
int api_list_paged(const struct api_route *r, size_t *ret_limit, struct api_error *err);

struct api_list_page;
/* Answers a paged list: checks selectors (400), RBAC (403) and the continue
 * token (400) on the loop, then reads the page on a writer thread
 * (api_read_submit) at the snapshot revision: the token's, or for a first
 * page the object cache's (the store's current one when the cache has none).
 * Loop thread; answers errors itself through err. */
void api_list_page_start(struct api_server *s, struct evhttp_request *req,
                         const struct api_route *r, const struct api_identity *id,
                         const struct api_request_info *ri, size_t limit, struct api_error *err);
/* Reads the page (writer thread): *ret the XList with metadata.resourceVersion
 * = the snapshot revision, metadata.continue when more may follow, and the
 * items; *ret_revision the snapshot revision (the ETag). 410 Gone when the
 * snapshot was compacted (relist), 400 for a token revision the store has
 * not reached, 503 for other store failures. */
int api_list_page_run(struct api_server *s, struct api_list_page *p, json_t **ret,
                      int64_t *ret_revision, struct api_error *err);
void api_list_page_free(struct api_list_page *p); /* NULL ok */

/* ---- lists and events from the cache's bytes (list-bytes.c) ------------- */

/* Whether the cached object b matches both selectors: on its summary when
 * they name only labels, metadata.name, metadata.namespace and status.phase,
 * else on the parsed object (false on OOM). */
bool api_blob_matches(const struct api_selector *labels, const struct api_selector *fields,
                      const struct object_blob *b);
/* b as a reply shows it, appended to out: its bytes verbatim, or for a
 * Secret its tree with the values redacted (api_object_for_reply). */
int api_blob_append(struct buf *out, const struct object_blob *b);
/* The body of the list route r (selectors and RBAC applied):
 * {"kind":"<Kind>List","apiVersion":…,"metadata":{"resourceVersion":"R"},
 * "items":[…]} and a newline — what api_send_json() of the same list built
 * from trees sends, byte for byte — as one string: *ret (caller frees,
 * NUL-terminated) and *ret_len, and the revision R in *ret_revision (the
 * list's ETag). 500 in err on OOM. */
int api_list_body(struct api_server *s, const struct api_route *r,
                  const struct api_selector *labels, const struct api_selector *fields,
                  const struct api_list_filter *rbac, char **ret, size_t *ret_len,
                  int64_t *ret_revision, struct api_error *err);
/* The same body appended to out, handed over without a copy. */
struct evbuffer;
int api_list_evbuffer(struct api_server *s, const struct api_route *r,
                      const struct api_selector *labels, const struct api_selector *fields,
                      const struct api_list_filter *rbac, struct evbuffer *out,
                      int64_t *ret_revision, struct api_error *err);

/* ---- object semantics (objects.c) --------------------------------------- */

#define API_GENERATE_NAME_TRIES 8 /* names tried for a generateName before 409 */

/* Writes MANIFEST_GENERATED_SUFFIX_LEN characters of
 * MANIFEST_GENERATED_ALPHABET and a NUL to out. 0 or -errno. */
typedef int (*api_name_suffix_fn)(char *out, void *userdata);
/* The api_name_suffix_fn berthd uses: from getrandom(). userdata unused. */
int api_name_suffix_random(char *out, void *userdata);

struct api_objects {
        struct store *store;
        struct object_cache *cache;
        const char *prefix;              /* ends with '/' */
        int wait_ms;                     /* read-your-writes wait; API_WAIT_MS */
        const char *const *source_roots; /* api_config's */
        size_t n_source_roots;
        const char *const *build_roots; /* api_config's */
        size_t n_build_roots;
        const struct admission_policy *admission; /* api_config's */
        /* The random part of a name made from metadata.generateName; NULL:
         * api_name_suffix_random. A seam for tests that provoke collisions. */
        api_name_suffix_fn name_suffix;
        void *name_suffix_data;
        /* Seals Secrets before they are stored and opens them for
         * ?showValues (api_config's); NULL: Secrets are refused (503). */
        const struct secrets_keyring *secrets;
        /* RBAC for apply's objects (api_authorize's contract; the server's
         * authz); NULL: everything allowed. */
        bool (*authorize)(void *data, const struct api_identity *who, const char *verb,
                          const char *resource, const char *ns, const char *name,
                          struct api_error *err);
        void *authorize_data;
};

/* What a reply shows of obj (new reference): obj itself, but a Secret with
 * its values redacted, or opened (reveal: ?showValues=true; 500 naming the
 * Secret when one does not open). NULL with err set on failure. Without
 * reveal, o and err may be NULL. */
json_t *api_object_for_reply(const struct api_objects *o, const json_t *obj, bool reveal,
                             struct api_error *err);
/* The request body as one manifest document: 400 if it does not parse or
 * holds zero or several documents. *ret is the caller's
 * (manifest_list_release). */
int api_parse_one(const char *body, size_t len, struct manifest_list *ret, struct api_error *err);
/* POST collection: validates, fills server fields, writes with "must not
 * exist", waits for the cache. *ret is the created object (new reference).
 * An object with metadata.generateName and no name is named generateName +
 * o->name_suffix, with another suffix on a collision,
 * API_GENERATE_NAME_TRIES names in all (then 409 AlreadyExists). */
int api_object_create(struct api_objects *o, const struct kind_info *kind, const char *ns,
                      const struct manifest_doc *doc, json_t **ret, struct api_error *err);
/* PUT object: replace spec/labels/annotations, keeping server metadata and
 * status; CAS on metadata.resourceVersion when given. A body with
 * metadata.generateName and no name is refused (422): it names no object.
 * trigger_only (the caller may trigger but not update): 403 unless the
 * change is a trigger (api_change_is_trigger). */
int api_object_replace(struct api_objects *o, const struct kind_info *kind, const char *ns,
                       const char *name, const struct manifest_doc *doc, bool trigger_only,
                       json_t **ret, struct api_error *err);
/* Whether next differs from current only by a trigger: the annotations that
 * ask a controller to act now, or spec.shutdown (berth stop sets it, berth
 * retry of a stopped run removes it); status and metadata.resourceVersion
 * aside. Pure. */
bool api_change_is_trigger(const json_t *current, const json_t *next);
/* A Workflow's step results and file outputs, read from the store (they are
 * not cached; see docs/reference/workflow.md): {"steps": {"<step>": {result,
 * truncated, exitCode, files: {"<file>": {"size": n}}}}}, each field only
 * when recorded (a step with files but no result yet has no "result"); the
 * files' content is not included. 404 when the Workflow does not exist. */
int api_workflow_results(struct api_objects *o, const struct kind_info *kind, const char *ns,
                         const char *name, json_t **ret, struct api_error *err);
/* One file output of a step (GET .../results?step=S&file=F): its bytes,
 * decoded when stored as base64. 404 when the Workflow does not exist, or
 * "workflow etl has no file report of step test" when the file is not
 * recorded (or belongs to an older Workflow of that name); 500 when the
 * stored value is unreadable. *ret_data is the caller's (free), with a NUL
 * after its *ret_len bytes. step and file as api_route_parse checked them. */
int api_workflow_file(struct api_objects *o, const struct kind_info *kind, const char *ns,
                      const char *name, const char *step, const char *file, char **ret_data,
                      size_t *ret_len, struct api_error *err);
/* DELETE: with finalizers marks deletionTimestamp (*ret = the object), else
 * deletes (*ret = a Success Status). */
int api_object_delete(struct api_objects *o, const struct kind_info *kind, const char *ns,
                      const char *name, json_t **ret, struct api_error *err);
/* POST apply: all documents are validated, and who's right to create (a new
 * object) or update (an existing one) each checked, before anything is
 * written: one refused object (403) or invalid one (422) writes nothing.
 * default_ns (may be NULL) fills a missing metadata.namespace. *ret is the
 * ApplyResult. */
int api_apply(struct api_objects *o, const struct api_identity *who, const char *body, size_t len,
              const char *default_ns, bool dry_run, json_t **ret, struct api_error *err);

/* ---- writes off the loop (writes.c) ------------------------------------- */

#define API_WRITERS         4                  /* writer threads per server */
#define API_WRITE_QUEUE_MAX 1024               /* writes in flight; more get 503 at once */
#define API_WRITE_BYTES_MAX (64 * 1024 * 1024) /* request bodies held by writes in flight */

enum api_write_op {
        API_WRITE_CREATE,  /* POST collection */
        API_WRITE_REPLACE, /* PUT object */
        API_WRITE_DELETE,  /* DELETE object */
        API_WRITE_APPLY,   /* POST /apis/berth/v1/apply */
        API_READ_RESULTS,  /* GET workflows/{name}/results: read from the store */
        API_READ_LIST,     /* a page of a list (list-pages.c): read from the store */
};

struct api_writes;

/* Starts the writer threads. Caller frees with api_writes_free(). */
int api_writes_new(struct api_server *s, struct api_writes **ret);
/* Stops the writers (a write in progress finishes, queued ones are dropped),
 * joins them and frees every job without replying: requests still attached
 * to their connection are freed by evhttp_free, so call it before that. Loop
 * thread (or with the loop stopped). NULL ok. */
void api_writes_free(struct api_writes *w);
/* Hands a write to the writer threads and returns at once; the reply is sent
 * on the loop when the write is done, unless the client left. Checks the body
 * size (413) and the in-flight caps (503) here and copies what the job needs
 * (route strings, apply_ns, the body), so r and the request's buffers are not
 * used after the return. apply_ns may be NULL. ri (copied) is audited with
 * the final code, also when the client left first. Loop thread. */
void api_write_submit(struct api_server *s, struct evhttp_request *req, enum api_write_op op,
                      const struct api_route *r, const char *apply_ns, bool dry_run,
                      const struct api_request_info *ri);

/* Hands a paged list read (api_list_page_run) to the writer threads, taking
 * page (freed on failure too); the reply carries an ETag of its revision.
 * Same caps as writes (503). Loop thread. */
void api_read_submit(struct api_server *s, struct evhttp_request *req, struct api_list_page *page,
                     const struct api_request_info *ri);

/* Test seam: fn(userdata) runs on a writer thread before each job, so a test
 * can hold writes (by blocking in fn) and check the loop still answers. NULL
 * removes it. Any thread. */
typedef void (*api_write_hook_fn)(void *userdata);
void api_writes_set_hook(struct api_server *s, api_write_hook_fn fn, void *userdata);

/* ---- server state (server.c) --------------------------------------------- */

struct api_watch;
struct api_log_stream;

/* An intrusive link: a stream is on its server's list while it is open. */
struct api_stream_link {
        struct api_stream_link *prev, *next;
};

/* The open streams of one kind (watches or logs). Loop thread only. */
struct api_stream_list {
        struct api_stream_link *head;
        size_t n;
};

/* The stream that holds link (a member named member of type). */
#define api_stream_of(link, type, member) ((type *)((char *)(link)-offsetof(type, member)))

struct api_server {
        struct event_base *base;
        struct store *store;
        struct object_cache *objects;
        struct container_cache *containers;
        struct docker *docker;
        char *prefix;     /* with a trailing '/' */
        char cluster[40]; /* the store identity, "" when unknown */
        struct api_objects ops;
        int bookmark_ms;
        int heartbeat_ms; /* SSE streams' comment lines */
        json_t *(*leader)(void *userdata);
        void *leader_userdata;
        int (*task_exec_logs)(void *userdata, const char *uid, int attempt, int tail, bool follow,
                              int cancel_fd, docker_log_fn fn, void *fn_userdata,
                              struct berth_error *err);
        void *task_exec_logs_userdata;

        struct evhttp *http;
        /* The https listeners' evhttp (NULL: none), the context of their new
         * connections (a reload replaces it) and the files a reload reads
         * again (tls.c). */
        struct evhttp *https;
        struct ssl_ctx_st *tls_ctx;
        char *tls_cert, *tls_key, *client_ca;
        char **unix_paths; /* sockets we created; unlinked on free */
        size_t n_unix_paths;

        atomic_bool ready; /* api_server_set_ready may run on any thread */

        struct api_stream_list watches; /* of struct api_watch */
        struct api_stream_list logs;    /* of struct api_log_stream */

        struct api_writes *writes; /* writer threads and their jobs */
        struct api_stats *stats;   /* stats threads and cache; NULL without Docker */

        /* The request whose replies api_count counts now (API_REPLYING_SCOPE),
         * NULL: none ("other"). Loop thread only. */
        const struct api_request_metrics *replying;

        /* Loop thread only. */
        struct api_audit *audit; /* NULL: no audit log */
        struct api_rate_limiter rate;
        struct api_authz *authz; /* any thread: it locks */
        /* SHA-256 of the secret of berthd's admin token (api_config
         * admin_token_file); the secret itself is not kept. */
        uint8_t admin_token_sha256[API_TOKEN_HASH_LEN];
        bool has_admin_token;
        uint64_t request_seq; /* request IDs: start time and this counter */
        int64_t start_time_ms;

        /* The connection guard (conn-guard.c). Loop thread only. */
        int64_t header_timeout_ms;   /* a request head must arrive within it */
        struct api_conn *conns_list; /* connections not yet attached or closed */
};

/* ---- the connection guard (conn-guard.c) ---------------------------------- */

/* Guards a new connection's bufferevent (returns it; NULL stays NULL): its
 * request heads must arrive within s->header_timeout_ms and hold at most
 * API_HEADERS_MAX bytes (else 431). For evhttp's bevcb. */
struct bufferevent *api_conn_guard(struct api_server *s, struct bufferevent *bev);
/* evhttp's bevcb for plain (unix and http) listeners; arg is the server. */
struct bufferevent *api_plain_bevcb(struct event_base *base, void *arg);
/* A request's head and body are in (from on_request): the next byte on its
 * connection starts a new head. */
void api_conn_request_read(struct evhttp_request *req);
/* evhttp_connection_set_closecb for the API's code: the guard keeps evhttp's
 * close callback and calls fn from it. */
void api_conn_set_closecb(struct evhttp_connection *evcon,
                          void (*fn)(struct evhttp_connection *, void *), void *arg);
/* After evhttp_free of every listener: frees what is left. */
void api_conn_guard_free_all(struct api_server *s);

/* ---- streams: watch (watch.c) and container logs (logs.c) ----------------- */

/* Starts a watch stream on a LIST route (answers errors itself). */
void api_watch_start(struct api_server *s, struct evhttp_request *req,
                     const struct api_route *route, const struct api_identity *who);
/* Ends every watch stream (server shutdown). */
void api_watch_close_all(struct api_server *s);

/* Starts a log stream (answers errors itself). */
void api_logs_start(struct api_server *s, struct evhttp_request *req,
                    const struct api_route *route);
/* Interrupts and joins every log thread (server shutdown). */
void api_logs_close_all(struct api_server *s);

/* The replica index of a Service's container from its name,
 * "berth.<ns>.<name>.<rev8>.<index>" (the last two dot-separated parts: a
 * number and 8 lower-case hex digits), and its rev8 into rev8 (may be NULL).
 * -1 when the name is not of that form. Pure. */
int api_service_container_replica(const char *container_name, char rev8[9]);
/* Which of a Service's containers cs (those with its uid) GET .../log serves;
 * a container's index and rev8 come from its name (or, when the name is not
 * of that form, its berth.replica and berth.revision labels). With
 * replica >= 0 one of that replica index; with -1 one of the only index
 * there is (400 naming the replica parameter when its containers have
 * several). Of a replica's containers the one of the update revision (rev8 =
 * the first 8 of update_hash, status.updateRevisionHash, may be NULL), else
 * the newest (generation, then start time). *ret_index is into cs. 404 when
 * there is none. Pure. */
int api_service_log_pick(const struct container_info *cs, size_t n, const char *name,
                         const char *update_hash, int replica, size_t *ret_index,
                         struct api_error *err);

/* ---- container stats (stats.c) ------------------------------------------- */

#define API_STATS_THREADS        8    /* Docker stats calls at once */
#define API_STATS_TTL_MS         2000 /* a container's sample is reused this long */
#define API_STATS_CONTAINERS_MAX 1024 /* containers in one request (413 beyond) */
#define API_STATS_QUEUE_MAX      4096 /* samples being fetched; more get 503 */

struct api_stats;

/* Starts the stats threads, each with its own Docker client (a clone of
 * s->docker, which must be set). Caller frees with api_stats_free(). */
int api_stats_new(struct api_server *s, struct api_stats **ret);
/* Interrupts and joins the threads and frees every request without a reply
 * (evhttp_free frees those still attached: call it before that). Loop
 * thread (or with the loop stopped). NULL ok. */
void api_stats_free(struct api_stats *st);
/* Answers an API_EP_STATS route: the running containers of the object (or
 * of every object of the collection that passes the selectors and that who
 * may get) sampled on the stats threads, a sample younger than
 * API_STATS_TTL_MS taken from the cache and concurrent requests for one
 * container sharing one Docker call; the reply is sent on the loop when the
 * last sample is in. Answers errors itself. Loop thread. */
void api_stats_start(struct api_server *s, struct evhttp_request *req, const struct api_route *r,
                     const struct api_identity *who);
/* One entry of a StatsList: {"namespace","name","container" (12 hex),
 * "replica" (when >= 0), "timestamp", "cpuPercent" (null while unknown),
 * "memory":{"usageBytes","limitBytes"}, "pids", "network":{"rxBytes",
 * "txBytes"} (null when Docker reports none), "blockIO":{"readBytes",
 * "writeBytes"}}. New reference; NULL on OOM. Pure. */
json_t *api_stats_entry(const char *ns, const char *name, const char *container_id, int replica,
                        const struct docker_stats *st);

/* ---- Server-Sent Events (sse.c) ------------------------------------------- */

#define API_SSE_RETRY_MS         3000        /* "retry:" sent when a watch starts */
#define API_SSE_LINE_MAX         (64 * 1024) /* a longer log line is sent in pieces */
#define API_HEARTBEAT_MS_DEFAULT (15 * 1000) /* comment lines on idle SSE streams */

/* Whether an Accept header names text/event-stream among its media ranges
 * (any case, parameters ignored; "*" wildcards do not count). NULL: false.
 * Pure. */
bool api_sse_accepted(const char *accept);
/* Appends one event to out: "id: ID" (id NULL: none, the client keeps its
 * last one), "event: TYPE" (NULL: none, a "message"), then one "data: "
 * line per line of data (len bytes, split at CR, LF and CRLF as an SSE
 * parser splits; a break at the end adds an empty line, so the client's
 * data is ours), then an empty line. -EINVAL when id or type holds a CR or
 * LF, -E2BIG when out is full (out then unchanged). Pure. */
int api_sse_event(struct buf *out, const char *id, const char *type, const char *data, size_t len);
/* ": TEXT" and an empty line: a comment clients ignore (heartbeats). */
int api_sse_comment(struct buf *out, const char *text);
/* "retry: MS" and an empty line: the client's reconnection delay. */
int api_sse_retry(struct buf *out, int ms);

/* Log bytes into one message event per line: a line ends at LF (a CR before
 * it dropped); a line reaching API_SSE_LINE_MAX bytes is sent as it is and
 * the rest continues as another. */
struct api_sse_lines {
        struct buf partial; /* the line begun and not ended yet */
};
void api_sse_lines_init(struct api_sse_lines *l);
void api_sse_lines_release(struct api_sse_lines *l);
/* Appends an event to out for every line data completes. 0 or -errno. */
int api_sse_lines_feed(struct api_sse_lines *l, const char *data, size_t len, struct buf *out);
/* Appends the unfinished line, if any, as an event (at the end of a log). */
int api_sse_lines_flush(struct api_sse_lines *l, struct buf *out);

/* ---- what streams share (stream.c) ---------------------------------------- */
/* Loop thread only, like everything that touches evhttp. */

/* Puts link at the head of list. */
void api_stream_list_add(struct api_stream_list *list, struct api_stream_link *link);
/* Takes link (which is on list) off it. */
void api_stream_list_remove(struct api_stream_list *list, struct api_stream_link *link);
/* Calls on_close(conn, arg) when the client of req goes away, and lets the
 * connection idle: on a stream only writes may time out. Returns the
 * connection. */
struct evhttp_connection *api_stream_attach(struct evhttp_request *req,
                                            void (*on_close)(struct evhttp_connection *, void *),
                                            void *arg);
/* Sends data (taking ownership; freed on failure too) as one chunk of a
 * started reply; written(conn, arg) runs once it is out (NULL = no callback). */
void api_stream_chunk(struct evhttp_request *req, char *data, size_t len,
                      void (*written)(struct evhttp_connection *, void *), void *arg);
/* Output bytes queued on the request's connection (0 when it is gone). */
size_t api_request_output_len(struct evhttp_request *req);

/* ---- ETag and gzip (encoding.c) -------------------------------------------- */

#define API_GZIP_MIN   (128 * 1024) /* smaller bodies are sent as they are */
#define API_GZIP_LEVEL 1            /* fast: the loop thread compresses */

/* Whether an Accept-Encoding header (NULL: none) allows gzip: "gzip" or
 * "x-gzip" or "*" with a q-value above 0 (RFC 9110 §12.5.3; an explicit
 * gzip;q=0 wins over "*"). Pure. */
bool api_gzip_accepted(const char *accept_encoding);
/* The gzip (RFC 1952) stream of data at API_GZIP_LEVEL into *ret (caller
 * frees). -ENOMEM, -EIO. Pure. */
int api_gzip(const void *data, size_t len, char **ret, size_t *ret_len);
/* The revision in double quotes into buf (at least 24 bytes): the ETag of
 * something at that revision. Pure. */
void api_etag_format(int64_t revision, char buf[static 24]);
/* Whether an If-None-Match header (NULL: none) matches etag: "*", or one of
 * its comma-separated entity tags equal to etag by weak comparison (a W/
 * prefix ignored). Pure. */
bool api_etag_matches(const char *if_none_match, const char *etag);
/* Sets the ETag of req's reply to the quoted revision (api_send_body then
 * answers a matching If-None-Match with 304). Loop thread. */
void api_set_etag(struct evhttp_request *req, int64_t revision);

/* ---- replies (send.c) ------------------------------------------------------ */
/* Loop thread only. Every reply is counted (api_count) and, at debug level,
 * logged. */

/* "GET", "POST", ... or "OTHER". */
const char *api_method_name(enum evhttp_cmd_type t);
/* Counts one request answered with code (for /metrics) under the route of
 * s->replying, and observes the time from its start to now: for a stream,
 * call it when the reply starts. */
void api_count(struct api_server *s, int code);

/* Replies sent until the end of the enclosing scope are counted as m's
 * request. on_request opens one around its dispatch; a reply sent later
 * from another loop callback (a write's, a log stream's) opens one with the
 * api_request_metrics it kept from its request. Restores the previous one
 * at the end. */
struct api_replying {
        struct api_server *s;
        const struct api_request_metrics *prev;
};
static inline struct api_replying api_replying_begin(struct api_server *s,
                                                     const struct api_request_metrics *m)
{
        struct api_replying r = {s, s->replying};
        s->replying = m;
        return r;
}
static inline void api_replying_end(struct api_replying *r)
{
        r->s->replying = r->prev;
}
#define API_REPLYING_SCOPE(s, m)                                                                   \
        _cleanup_(api_replying_end) _unused_ struct api_replying replying_scope_ =                 \
            api_replying_begin(s, m)
/* Sends the content of body as the whole body, moved (not copied) into the
 * reply unless it is gzipped: body is left empty (500 if it cannot be
 * queued). ETag and gzip as for api_send_body. */
void api_send_buffer(struct api_server *s, struct evhttp_request *req, int code,
                     const char *content_type, struct evbuffer *body);
/* Sends len bytes of data as the whole body (500 if they cannot be queued).
 * Every reply passes here, so here apply (encoding.c):
 * - conditional reads: a 200 to a GET or HEAD whose handler set an ETag
 *   header (api_set_etag) becomes 304 without a body when If-None-Match
 *   names that tag (or is "*");
 * - gzip: a body over API_GZIP_MIN bytes is sent gzipped (Content-Encoding:
 *   gzip, Vary: Accept-Encoding) when the request's Accept-Encoding allows
 *   gzip. */
void api_send_body(struct api_server *s, struct evhttp_request *req, int code,
                   const char *content_type, const char *data, size_t len);
/* Sends a text/plain body. */
void api_send_text(struct api_server *s, struct evhttp_request *req, int code, const char *text);
/* Sends a JSON body (with a trailing newline). */
void api_send_json(struct api_server *s, struct evhttp_request *req, int code, const json_t *body);
/* Appends ri's line with code to the audit log when ri is audited and the
 * server has a log (failures are logged, not returned). */
void api_audit_request(struct api_server *s, const struct api_request_info *ri, int code);
/* Sends e as a Status (500 when e->code is not an error); 405 adds Allow. */
void api_send_error(struct api_server *s, struct evhttp_request *req, const struct api_error *e);
/* The client left: a request evhttp detached from its failed connection is
 * ours to free; one still attached is evhttp's. NULL ok. */
void api_request_free_detached(struct evhttp_request *req);
