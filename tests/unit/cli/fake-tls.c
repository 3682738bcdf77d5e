/* The fake berthd's https: a throwaway CA that signs a server certificate
 * (127.0.0.1, localhost) and a client certificate, made at setup with
 * libcrypto, and a listener that asks for (but does not require) a client
 * certificate, so that one fake serves token and certificate clients. */
#include "cli-test.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <sys/socket.h>

#include "cli-internal.h"

struct ext {
        int nid;
        const char *value;
};

/* A certificate for key, valid from an hour ago for a day, signed by
 * issuer (NULL: self-signed) with the extensions (ended by nid 0). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, long serial, X509 *issuer,
                       EVP_PKEY *issuer_key, const struct ext *exts)
{
        X509 *x = X509_new();
        X509V3_CTX v3;

        assert_non_null(x);
        assert_int_equal(X509_set_version(x, 2), 1);
        assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
        assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
        assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600));
        assert_int_equal(X509_set_pubkey(x, key), 1);
        X509_NAME *name = X509_get_subject_name(x);
        assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                                    (const unsigned char *)cn, -1, -1, 0),
                         1);
        assert_int_equal(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name), 1);
        X509V3_set_ctx_nodb(&v3);
        X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
        for (const struct ext *e = exts; e->nid; e++) {
                X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, e->nid, e->value);
                assert_non_null(ext);
                assert_int_equal(X509_add_ext(x, ext, -1), 1);
                X509_EXTENSION_free(ext);
        }
        assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
        return x;
}

static const struct ext ca_exts[] = {
    {NID_basic_constraints, "critical,CA:TRUE"},
    {NID_key_usage, "critical,keyCertSign,cRLSign"},
    {NID_subject_key_identifier, "hash"},
    {0, NULL},
};

static void write_pem(struct fake *f, const char *name, X509 *x, EVP_PKEY *key)
{
        char path[256];

        snprintf(path, sizeof(path), "%s/%s", f->dir, name);
        FILE *fp = fopen(path, "w");
        assert_non_null(fp);
        if (x)
                assert_int_equal(PEM_write_X509(fp, x), 1);
        if (key)
                assert_int_equal(PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL), 1);
        assert_int_equal(fclose(fp), 0);
}

/* Every client certificate is let through; whether it chains to the CA is
 * read afterwards (fake_tls_client), so that a test can tell both apart. */
static int accept_any(int ok, X509_STORE_CTX *store)
{
        (void)ok;
        (void)store;
        return 1;
}

void fake_tls_setup(struct fake *f)
{
        EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *other_key = EVP_EC_gen("P-256");
        EVP_PKEY *server_key = EVP_EC_gen("P-256"), *client_key = EVP_EC_gen("P-256");
        static const struct ext server_exts[] = {
            {NID_basic_constraints, "critical,CA:FALSE"},
            {NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost"},
            {NID_ext_key_usage, "serverAuth"},
            {NID_authority_key_identifier, "keyid"},
            {0, NULL},
        };
        static const struct ext client_exts[] = {
            {NID_basic_constraints, "critical,CA:FALSE"},
            {NID_ext_key_usage, "clientAuth"},
            {NID_authority_key_identifier, "keyid"},
            {0, NULL},
        };

        assert_true(ca_key && other_key && server_key && client_key);
        /* SSL_write to a client that hung up must fail, not kill the test. */
        signal(SIGPIPE, SIG_IGN);
        X509 *ca = make_cert(ca_key, "berth test CA", 1, NULL, NULL, ca_exts);
        X509 *other = make_cert(other_key, "berth other CA", 2, NULL, NULL, ca_exts);
        X509 *server = make_cert(server_key, "berthd", 3, ca, ca_key, server_exts);
        X509 *client = make_cert(client_key, FAKE_TLS_CN, 4, ca, ca_key, client_exts);
        write_pem(f, FAKE_CA_CRT, ca, NULL);
        write_pem(f, FAKE_OTHER_CA_CRT, other, NULL);
        write_pem(f, FAKE_CLIENT_CRT, client, NULL);
        write_pem(f, FAKE_CLIENT_KEY, NULL, client_key);

        SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
        assert_non_null(ctx);
        assert_int_equal(SSL_CTX_use_certificate(ctx, server), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey(ctx, server_key), 1);
        assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca), 1);
        STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
        assert_non_null(names);
        assert_true(sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(ca))) > 0);
        SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any);
        f->tls_ctx = ctx;
        X509_free(ca);
        X509_free(other);
        X509_free(server);
        X509_free(client);
        EVP_PKEY_free(ca_key);
        EVP_PKEY_free(other_key);
        EVP_PKEY_free(server_key);
        EVP_PKEY_free(client_key);

        struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t inlen = sizeof(in);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&in, &inlen), 0);
        assert_int_equal(listen(fd, 64), 0);
        snprintf(f->https_url, sizeof(f->https_url), "https://127.0.0.1:%d", ntohs(in.sin_port));
        atomic_store(&f->tls_fd, fd);
}

void *fake_tls_accept(struct fake *f, int fd)
{
        SSL *ssl = SSL_new(f->tls_ctx);

        if (!ssl)
                return NULL;
        if (SSL_set_fd(ssl, fd) != 1 || SSL_accept(ssl) != 1) {
                SSL_free(ssl);
                return NULL;
        }
        return ssl;
}

bool fake_tls_client(void *ssl, char *cn, size_t size)
{
        X509 *peer = SSL_get1_peer_certificate(ssl);
        bool verified;

        cn[0] = '\0';
        if (!peer)
                return false;
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, (int)size) <
            0)
                cn[0] = '\0';
        verified = SSL_get_verify_result(ssl) == X509_V_OK;
        X509_free(peer);
        return verified;
}

ssize_t fake_tls_read(void *ssl, void *p, size_t n)
{
        int k = SSL_read(ssl, p, n > INT_MAX ? INT_MAX : (int)n);
        return k > 0 ? k : -1;
}

ssize_t fake_tls_write(void *ssl, const void *p, size_t n)
{
        int k = SSL_write(ssl, p, n > INT_MAX ? INT_MAX : (int)n);
        return k > 0 ? k : -1;
}

void fake_tls_close(void *ssl)
{
        SSL_shutdown(ssl);
        SSL_free(ssl);
}

void fake_tls_release(struct fake *f)
{
        SSL_CTX_free(f->tls_ctx);
        f->tls_ctx = NULL;
}
