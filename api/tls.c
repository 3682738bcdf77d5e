/* api: HTTPS listeners (docs/security.md, "HTTPS").
 *
 * The https listeners have an evhttp of their own whose connections are
 * OpenSSL bufferevents (api_tls_bevcb); requests then take the same path as
 * on the other listeners. The handshake runs inside the bufferevent on the
 * non-blocking socket, driven by the loop: nothing here blocks it.
 *
 * Settings follow Mozilla's "intermediate" profile: TLS 1.2 and 1.3; for
 * TLS 1.2 only ECDHE key exchange with AES-GCM or ChaCha20-Poly1305; no
 * compression, no renegotiation; groups X25519, P-256, P-384.
 *
 * Reload (SIGHUP): a new SSL_CTX is built from the same files and replaces
 * the old one for connections accepted from then on. A connection holds a
 * reference to the context it was accepted with (SSL_new), so open
 * connections keep working and the old context goes with the last of them.
 * Everything here runs on the loop thread, so the swap needs no lock.
 */
#include "api-internal.h"

#include "pki.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* TLS 1.2 suites: forward secrecy and AEAD only (TLS 1.3's are all such). */
#define TLS12_CIPHERS                                                                              \
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
        "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
        "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS13_SUITES   "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define TLS_GROUPS     "X25519:P-256:P-384"
#define VERIFY_DEPTH   4    /* client certificate chains: leaf, intermediates, CA */
#define TOKEN_FILE_MAX 4096 /* bytes of the admin token file */

/* Sessions are resumable only within one server (and one context). Without
 * an id context OpenSSL refuses to resume a session that verified a client
 * certificate. */
static const unsigned char session_id_context[] = "berthd";

/* OpenSSL names a missing file poorly ("system lib"): say it first. */
static int check_readable(const char *what, const char *path, struct berth_error *err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return berth_error_set(err, -errno, "%s %s: %s", what, path, strerror(errno));
        return 0;
}

static void ssl_ctx_freep(SSL_CTX **p)
{
        SSL_CTX_free(*p);
}

/* A server context for cert (a PEM chain, leaf first), key (PEM,
 * unencrypted) and, when client_ca is not NULL, client certificates verified
 * against client_ca alone. */
static int tls_ctx_new(const char *cert, const char *key, const char *client_ca, SSL_CTX **ret,
                       struct berth_error *err)
{
        char why[160];
        int r = check_readable("--tls-cert", cert, err);
        if (r == 0)
                r = check_readable("--tls-key", key, err);
        if (r == 0 && client_ca)
                r = check_readable("--client-ca", client_ca, err);
        if (r < 0)
                return r;

        _cleanup_(ssl_ctx_freep) SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
        if (!ctx)
                return berth_error_set(err, -ENOMEM, "tls: %s", pki_ssl_reason(why, sizeof(why)));
        if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
            !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) ||
            !SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) ||
            !SSL_CTX_set_ciphersuites(ctx, TLS13_SUITES) ||
            !SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) ||
            !SSL_CTX_set_session_id_context(ctx, session_id_context,
                                            sizeof(session_id_context) - 1))
                return berth_error_set(err, -EINVAL, "tls settings: %s",
                                       pki_ssl_reason(why, sizeof(why)));
        SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
        SSL_CTX_set_default_passwd_cb(ctx, pki_no_passphrase);

        if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
                return berth_error_set(err, -EINVAL, "--tls-cert %s: %s", cert,
                                       pki_ssl_reason(why, sizeof(why)));
        if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
                return berth_error_set(err, -EINVAL, "--tls-key %s: %s", key,
                                       pki_ssl_reason(why, sizeof(why)));
        if (SSL_CTX_check_private_key(ctx) != 1)
                return berth_error_set(err, -EINVAL, "--tls-key %s does not match --tls-cert %s",
                                       key, cert);

        if (client_ca) {
                /* The context's store starts empty and the system's CAs are
                 * never added: only client_ca vouches for clients. Asked,
                 * not required: a client may bring a token instead. */
                if (SSL_CTX_load_verify_file(ctx, client_ca) != 1)
                        return berth_error_set(err, -EINVAL, "--client-ca %s: %s", client_ca,
                                               pki_ssl_reason(why, sizeof(why)));
                STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(client_ca);
                if (!names)
                        return berth_error_set(err, -EINVAL, "--client-ca %s: no certificate (%s)",
                                               client_ca, pki_ssl_reason(why, sizeof(why)));
                SSL_CTX_set_client_CA_list(ctx, names);
                SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
                SSL_CTX_set_verify_depth(ctx, VERIFY_DEPTH);
        }
        ERR_clear_error();
        *ret = TAKE_PTR(ctx);
        return 0;
}

int api_tls_init(struct api_server *s, const char *cert, const char *key, const char *client_ca,
                 struct berth_error *err)
{
        if (!cert || !key)
                return berth_error_set(err, -EINVAL,
                                       "an https listener needs a certificate and its key "
                                       "(--tls-cert and --tls-key)");
        s->tls_cert = strdup(cert);
        s->tls_key = strdup(key);
        s->client_ca = client_ca ? strdup(client_ca) : NULL;
        if (!s->tls_cert || !s->tls_key || (client_ca && !s->client_ca))
                return berth_error_set(err, -ENOMEM, "out of memory");
        return tls_ctx_new(s->tls_cert, s->tls_key, s->client_ca, &s->tls_ctx, err);
}

void api_tls_release(struct api_server *s)
{
        SSL_CTX_free(s->tls_ctx);
        s->tls_ctx = NULL;
        free(s->tls_cert);
        free(s->tls_key);
        free(s->client_ca);
        s->tls_cert = s->tls_key = s->client_ca = NULL;
}

int api_server_reload_tls(struct api_server *s, struct berth_error *err)
{
        if (!s || !s->tls_ctx)
                return berth_error_set(err, -ENOENT, "no https listener");
        SSL_CTX *ctx = NULL;
        int r = tls_ctx_new(s->tls_cert, s->tls_key, s->client_ca, &ctx, err);
        if (r < 0)
                return r;
        SSL_CTX_free(s->tls_ctx); /* open connections hold references of their own */
        s->tls_ctx = ctx;
        return 0;
}

struct bufferevent *api_tls_bevcb(struct event_base *base, void *arg)
{
        struct api_server *s = arg;
        SSL *ssl = SSL_new(s->tls_ctx);
        if (!ssl) {
                /* Only when memory runs out; evhttp then makes a plain
                 * bufferevent, on which a TLS client's hello is a bad
                 * request. */
                log_error("tls: cannot start a connection: out of memory");
                return NULL;
        }
        /* No BEV_OPT_DEFER_CALLBACKS: evhttp's own bufferevents on the other
         * listeners have none either, so both behave alike. evhttp sets the
         * accepted socket on it. */
        struct bufferevent *bev = bufferevent_openssl_socket_new(
            base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
        if (!bev) {
                SSL_free(ssl);
                log_error("tls: cannot start a connection: out of memory");
                return NULL;
        }
        /* A client that closes without close_notify has still sent whole
         * requests: an end of file, not an error. */
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
        return api_conn_guard(s, bev);
}

/* One name entry as UTF-8 into out: 1..size-1 bytes, no control
 * characters (they would end up in logs). -EINVAL otherwise. */
static int entry_text(const X509_NAME_ENTRY *e, char *out, size_t size)
{
        unsigned char *utf8 = NULL;
        int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
        int r = len > 0 && (size_t)len < size ? 0 : -EINVAL;

        for (int i = 0; r == 0 && i < len; i++)
                if (utf8[i] < 0x20 || utf8[i] == 0x7f)
                        r = -EINVAL;
        if (r == 0) {
                memcpy(out, utf8, (size_t)len);
                out[len] = '\0';
        }
        OPENSSL_free(utf8);
        ERR_clear_error();
        return r;
}

int api_tls_identify(struct evhttp_connection *conn, struct api_identity *id)
{
        struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
        SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL; /* NULL: not TLS */
        X509 *peer = ssl ? SSL_get0_peer_certificate(ssl) : NULL;

        /* The handshake refuses a certificate that does not verify; the
         * result is checked again so that nothing else can pass. */
        if (!peer || SSL_get_verify_result(ssl) != X509_V_OK)
                return 0;
        const X509_NAME *subject = X509_get_subject_name(peer);
        int cn = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
        /* Exactly one CN: with two, which one is the user would be a guess. */
        if (cn < 0 || X509_NAME_get_index_by_NID(subject, NID_commonName, cn) >= 0)
                return 0;

        struct api_identity who = {0};
        if (entry_text(X509_NAME_get_entry(subject, cn), who.user, sizeof(who.user)) < 0)
                return 0;
        /* Each O is a group; one that cannot be a name is left out, as are
         * those past API_IDENTITY_GROUPS_MAX: fewer groups grant less. */
        for (int i = -1; who.n_groups < API_IDENTITY_GROUPS_MAX &&
                         (i = X509_NAME_get_index_by_NID(subject, NID_organizationName, i)) >= 0;) {
                if (entry_text(X509_NAME_get_entry(subject, i), who.groups[who.n_groups],
                               sizeof(who.groups[0])) == 0)
                        who.n_groups++;
        }
        memcpy(id->user, who.user, sizeof(id->user));
        memcpy(id->groups, who.groups, sizeof(id->groups));
        id->n_groups = who.n_groups;
        id->authn = API_AUTHN_CERTIFICATE;
        api_identity_set_admin(id); /* the client CA vouches for the names */
        return 1;
}

int api_admin_token_load(const char *path, uint8_t ret[API_TOKEN_HASH_LEN], struct berth_error *err)
{
        char text[TOKEN_FILE_MAX + 1];
        ssize_t n = 0, k;

        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return berth_error_set(err, -errno, "admin token %s: %s", path, strerror(errno));
        int r = 0;
        while (r == 0 && (size_t)n < sizeof(text)) {
                k = read(fd, text + n, sizeof(text) - (size_t)n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        r = berth_error_set(err, -errno, "admin token %s: %s", path,
                                            strerror(errno));
                else if (k == 0)
                        break;
                else
                        n += k;
        }
        if (r == 0 && (size_t)n > TOKEN_FILE_MAX)
                r = berth_error_set(err, -EFBIG, "admin token %s: larger than %d bytes", path,
                                    TOKEN_FILE_MAX);
        while (r == 0 && n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
                n--;
        text[r == 0 ? n : 0] = '\0';
        /* What a client sends, checked by the parser that will read it. */
        char header[TOKEN_FILE_MAX + 16], name[64], secret[API_TOKEN_SECRET_MAX];
        if (r == 0 &&
            (strlen(text) != (size_t)n ||
             snprintf(header, sizeof(header), "Bearer %s", text) >= (int)sizeof(header) ||
             api_bearer_parse(header, name, secret) < 0 || !streq(name, API_ADMIN_TOKEN_NAME)))
                r = berth_error_set(err, -EINVAL, "admin token %s: want one line %s.SECRET", path,
                                    API_ADMIN_TOKEN_NAME);
        /* The server keeps the secret's hash, as a Token object would. */
        uint8_t h[API_TOKEN_HASH_LEN];
        if (r == 0 && api_token_hash(secret, h) < 0)
                r = berth_error_set(err, -EIO, "admin token %s: cannot hash it", path);
        explicit_bzero(header, sizeof(header));
        explicit_bzero(secret, sizeof(secret));
        explicit_bzero(text, sizeof(text));
        if (r == 0)
                memcpy(ret, h, sizeof(h));
        explicit_bzero(h, sizeof(h));
        return r;
}
