/* store etcd internals: the pure helpers of the etcd backend, exposed for unit tests.
 *
 * Nothing here does I/O. The etcd v3 JSON gateway speaks proto3 JSON: bytes are
 * standard base64 with padding, 64-bit integers are decimal strings, and fields
 * holding their default value (0, false, "", empty list) are omitted, so every
 * parser here treats an absent field as its default.
 */
#pragma once

#include "store-internal.h"

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

/* Frees events[0..n) and the array. */
void etcd_events_free(struct store_event *events, size_t n);

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

/* ---- errors and endpoints ----------------------------------------------- */

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
