/* pki: the certificates and the admin token behind berthd's HTTPS listeners
 * (docs/security.md, "HTTPS").
 *
 * A PKI directory holds (the directory is created 0700):
 *
 *   ca.crt, ca.key          a self-signed CA: ECDSA P-256, 10 years,
 *                           basicConstraints CA:TRUE (critical), keyUsage
 *                           keyCertSign and cRLSign
 *   server.crt, server.key  the listeners' certificate, signed by the CA:
 *                           ECDSA P-256, 1 year, EKU serverAuth, SANs
 *   admin.token             the admin's bearer token (pki_admin_token_ensure)
 *
 * Keys and the token are written 0600, certificates 0644. Every file is
 * written to a temporary file in the same directory, synced and renamed over
 * its name, so a reader (and a crash) sees the old file or the new one, never
 * part of one. Serial numbers are 128 random bits.
 *
 * Not a library for arbitrary PKI files: it reads back only what it wrote
 * (PEM, unencrypted keys). Files are capped at PKI_FILE_MAX bytes.
 *
 * Blocking (file I/O, key generation: about a millisecond). Not safe for two
 * callers on one directory at once; berthd calls it from its main thread.
 */
#pragma once

#include "common.h"

#define PKI_CA_CERT     "ca.crt"
#define PKI_CA_KEY      "ca.key"
#define PKI_SERVER_CERT "server.crt"
#define PKI_SERVER_KEY  "server.key"
#define PKI_ADMIN_TOKEN "admin.token"

#define PKI_CA_DAYS        3650
#define PKI_SERVER_DAYS    365
#define PKI_RENEW_DAYS     30 /* a server certificate that ends sooner is re-issued */
#define PKI_FILE_MAX       (1024 * 1024)
#define PKI_EXTRA_SANS_MAX 64
#define PKI_DNS_NAME_MAX   253 /* bytes of a DNS SAN */
#define PKI_NAME_MAX       64  /* bytes of a CN or an O (X.509's upper bound) */
#define PKI_GROUPS_MAX     16  /* O entries of a client certificate */

/* What pki_ensure made; it returns a mask of these. */
enum pki_made {
        PKI_MADE_CA = 1 << 0,     /* a new CA (clients must trust the new ca.crt) */
        PKI_MADE_SERVER = 1 << 1, /* a new server key and certificate */
};

/* Makes dir's CA and server certificate when they are missing, and re-issues
 * the server certificate (with a new key) from the existing CA when it lacks
 * one of the SANs asked for, ends within PKI_RENEW_DAYS, does not match its
 * key or was not signed by the CA.
 *
 * SANs: the host name (gethostname), "localhost", IP 127.0.0.1, IP ::1 and
 * extra_sans[0..n): each an IP address when it parses as one (inet_pton),
 * else a DNS name (letters, digits, '-', '.', an optional leading "*.";
 * compared case-insensitively). A SAN the certificate has and nobody asks for
 * any more does not cause a re-issue.
 *
 * Refuses (-EINVAL, err says which) a bad extra SAN or more than
 * PKI_EXTRA_SANS_MAX. An existing file that cannot be read or parsed, a
 * ca.key that does not match ca.crt, an expired CA, and a ca.crt without its
 * ca.key are errors that name the file: berth never replaces a CA that
 * clients may trust. A missing ca.crt makes a new CA (a ca.key without it is
 * what a crash between the two writes leaves).
 *
 * Returns a mask of enum pki_made (0: nothing was written), or -errno with
 * err set. */
int pki_ensure(const char *dir, const char *const *extra_sans, size_t n, struct berth_error *err);

/* Issues a client certificate from dir's CA (which must exist): CN = user,
 * one O per group (the API reads them as the user's groups), EKU clientAuth,
 * valid for days (1..PKI_CA_DAYS) from now. Writes cert_path (0644) and
 * key_path (0600) atomically. user and each group: 1..PKI_NAME_MAX bytes of
 * UTF-8; at most PKI_GROUPS_MAX groups (-EINVAL otherwise). 0 or -errno with
 * err set. */
int pki_issue_client(const char *dir, const char *user, const char *const *groups, size_t n_groups,
                     int days, const char *cert_path, const char *key_path,
                     struct berth_error *err);

#define PKI_TOKEN_BYTES        32 /* random bytes of a token secret */
#define PKI_TOKEN_PREFIX_MAX   64
#define PKI_ADMIN_TOKEN_PREFIX "berth-admin."

/* A new secret: prefix followed by PKI_TOKEN_BYTES from getrandom(2) in
 * base64url without padding (43 characters). *ret is the caller's (free;
 * clear it with explicit_bzero first). prefix: at most PKI_TOKEN_PREFIX_MAX
 * bytes (-EINVAL). 0 or -errno. */
int pki_token_new(const char *prefix, char **ret);

/* The admin token of dir: read from dir/admin.token, or made with
 * pki_token_new(PKI_ADMIN_TOKEN_PREFIX) and written there (0600, one line)
 * when the file is missing. A file that is not one such token is an error
 * naming it. *ret_token is the caller's (clear it, then free). Returns 1 when
 * the token was made now, 0 when it was there, or -errno with err set. */
int pki_admin_token_ensure(const char *dir, char **ret_token, struct berth_error *err);

/* ---- OpenSSL glue, shared with the HTTPS listeners (api/tls.c) ------------ */

/* The reason of OpenSSL's most recent error, into buf (size bytes); empties
 * the thread's error queue so that it cannot be taken for a later
 * failure's. Returns buf. */
const char *pki_ssl_reason(char *buf, size_t size);
/* A passphrase callback (pem_password_cb) that gives none: keys must be
 * unencrypted — OpenSSL's default would prompt on a terminal. */
int pki_no_passphrase(char *buf, int size, int rwflag, void *userdata);
