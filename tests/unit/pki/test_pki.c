/* Unit tests of pki/: the CA and server certificate made into a temporary
 * directory and checked with OpenSSL's own verifier, what makes a second
 * call re-issue (a new SAN, an end near) and what leaves the files alone,
 * files that are corrupt or missing, client certificates, and tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pki-internal.h"
#include "test-support.h"

#define DAY_S (24 * 60 * 60)

struct fixture {
        char root[64]; /* mkdtemp */
        char dir[96];  /* root/tls: made by pki_ensure */
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        snprintf(f->root, sizeof(f->root), "/tmp/berth-pki.XXXXXX");
        assert_non_null(mkdtemp(f->root));
        snprintf(f->dir, sizeof(f->dir), "%s/tls", f->root);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        test_rm_tree(f->root);
        free(f);
        return 0;
}

static char *path_in(const struct fixture *f, const char *name)
{
        char *p = str_printf("%s/%s", f->dir, name);
        assert_non_null(p);
        return p;
}

static X509 *cert_read(const char *path)
{
        FILE *fp = fopen(path, "re");
        assert_non_null(fp);
        X509 *x = PEM_read_X509(fp, NULL, NULL, NULL);
        fclose(fp);
        assert_non_null(x);
        return x;
}

static char *file_read(const char *path)
{
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        char *data = calloc(1, (size_t)st.st_size + 1);
        assert_non_null(data);
        FILE *fp = fopen(path, "re");
        assert_non_null(fp);
        assert_int_equal(fread(data, 1, (size_t)st.st_size, fp), (size_t)st.st_size);
        fclose(fp);
        return data;
}

static void file_write(const char *path, const char *text)
{
        FILE *fp = fopen(path, "we");
        assert_non_null(fp);
        fputs(text, fp);
        fclose(fp);
}

static mode_t mode_of(const char *path)
{
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        return st.st_mode & 07777;
}

/* X509_verify_cert of leaf against ca alone, for purpose. */
static int verify(X509 *ca, X509 *leaf, int purpose)
{
        X509_STORE *store = X509_STORE_new();
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        assert_non_null(store);
        assert_non_null(ctx);
        assert_int_equal(X509_STORE_add_cert(store, ca), 1);
        assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, NULL), 1);
        assert_int_equal(X509_STORE_CTX_set_purpose(ctx, purpose), 1);
        int ok = X509_verify_cert(ctx);
        X509_STORE_CTX_free(ctx);
        X509_STORE_free(store);
        return ok;
}

/* Whole-file copies of the four files, to tell whether a call changed one. */
struct snapshot {
        char *data[4];
        ino_t ino[4];
};

static const char *const files[4] = {PKI_CA_CERT, PKI_CA_KEY, PKI_SERVER_CERT, PKI_SERVER_KEY};

static void snapshot_take(const struct fixture *f, struct snapshot *s)
{
        for (size_t i = 0; i < 4; i++) {
                char *p = path_in(f, files[i]);
                struct stat st;
                assert_int_equal(stat(p, &st), 0);
                s->ino[i] = st.st_ino;
                s->data[i] = file_read(p);
                free(p);
        }
}

static void snapshot_release(struct snapshot *s)
{
        for (size_t i = 0; i < 4; i++)
                free(s->data[i]);
}

/* Which files differ between a and b: bit i for files[i]. */
static unsigned snapshot_diff(const struct snapshot *a, const struct snapshot *b)
{
        unsigned d = 0;
        for (size_t i = 0; i < 4; i++)
                if (a->ino[i] != b->ino[i] || strcmp(a->data[i], b->data[i]))
                        d |= 1u << i;
        return d;
}

static void test_ensure_makes_everything(void **state)
{
        struct fixture *f = *state;
        const char *extra[] = {"Berth.Example.com", "10.1.2.3", "fd00::7"};
        struct berth_error err = {0};

        int r = pki_ensure(f->dir, extra, ARRAY_SIZE(extra), &err);
        assert_int_equal(r, PKI_MADE_CA | PKI_MADE_SERVER);
        assert_int_equal(mode_of(f->dir), 0700);

        char *ca_crt = path_in(f, PKI_CA_CERT), *ca_key = path_in(f, PKI_CA_KEY);
        char *srv_crt = path_in(f, PKI_SERVER_CERT), *srv_key = path_in(f, PKI_SERVER_KEY);
        assert_int_equal(mode_of(ca_key), 0600);
        assert_int_equal(mode_of(srv_key), 0600);
        assert_int_equal(mode_of(ca_crt), 0644);
        assert_int_equal(mode_of(srv_crt), 0644);

        X509 *ca = cert_read(ca_crt), *srv = cert_read(srv_crt);
        /* The CA: critical CA:TRUE, signs certificates and CRLs, 10 years. */
        int crit = 0;
        BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(ca, NID_basic_constraints, &crit, NULL);
        assert_non_null(bc);
        assert_true(bc->ca);
        assert_int_equal(crit, 1);
        BASIC_CONSTRAINTS_free(bc);
        assert_int_equal(X509_get_key_usage(ca), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
        int days = 0, secs = 0;
        assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(ca)), 1);
        assert_true(days >= PKI_CA_DAYS - 1 && days <= PKI_CA_DAYS);

        /* The server certificate chains to the CA, for TLS servers. */
        assert_int_equal(verify(ca, srv, X509_PURPOSE_SSL_SERVER), 1);
        assert_true(X509_get_extended_key_usage(srv) & XKU_SSL_SERVER);
        assert_int_equal(X509_get_extension_flags(srv) & EXFLAG_CA, 0);
        assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(srv)), 1);
        assert_true(days >= PKI_SERVER_DAYS - 1 && days <= PKI_SERVER_DAYS);

        /* SANs: the defaults and the extras (DNS names case-insensitively). */
        assert_int_equal(X509_check_host(srv, "localhost", 0, 0, NULL), 1);
        assert_int_equal(X509_check_host(srv, "berth.example.com", 0, 0, NULL), 1);
        assert_int_equal(X509_check_ip_asc(srv, "127.0.0.1", 0), 1);
        assert_int_equal(X509_check_ip_asc(srv, "::1", 0), 1);
        assert_int_equal(X509_check_ip_asc(srv, "10.1.2.3", 0), 1);
        assert_int_equal(X509_check_ip_asc(srv, "fd00::7", 0), 1);
        assert_int_equal(X509_check_ip_asc(srv, "10.1.2.4", 0), 0);
        assert_int_equal(X509_check_host(srv, "other.example.com", 0, 0, NULL), 0);
        char host[256];
        if (gethostname(host, sizeof(host)) == 0 && strchr(host, '_') == NULL)
                assert_int_equal(X509_check_host(srv, host, 0, 0, NULL), 1);

        /* ECDSA P-256 keys; 128-bit random serials, different for each. */
        EVP_PKEY *pub = X509_get0_pubkey(srv);
        char group[64];
        size_t glen = 0;
        assert_int_equal(EVP_PKEY_get_group_name(pub, group, sizeof(group), &glen), 1);
        assert_string_equal(group, "prime256v1");
        BIGNUM *s1 = ASN1_INTEGER_to_BN(X509_get0_serialNumber(ca), NULL);
        BIGNUM *s2 = ASN1_INTEGER_to_BN(X509_get0_serialNumber(srv), NULL);
        assert_true(BN_num_bits(s1) > 64 && BN_num_bits(s1) <= 128);
        assert_true(BN_num_bits(s2) > 64 && BN_num_bits(s2) <= 128);
        assert_int_not_equal(BN_cmp(s1, s2), 0);
        BN_free(s1);
        BN_free(s2);

        X509_free(ca);
        X509_free(srv);
        free(ca_crt);
        free(ca_key);
        free(srv_crt);
        free(srv_key);
}

static void test_ensure_second_call_is_a_noop(void **state)
{
        struct fixture *f = *state;
        const char *extra[] = {"berth.example.com"};
        struct snapshot a, b;

        assert_int_equal(pki_ensure(f->dir, extra, 1, NULL), PKI_MADE_CA | PKI_MADE_SERVER);
        snapshot_take(f, &a);
        assert_int_equal(pki_ensure(f->dir, extra, 1, NULL), 0);
        /* A SAN nobody asks for any more is no reason to re-issue. */
        assert_int_equal(pki_ensure(f->dir, NULL, 0, NULL), 0);
        snapshot_take(f, &b);
        assert_int_equal(snapshot_diff(&a, &b), 0);
        snapshot_release(&a);
        snapshot_release(&b);
}

static void test_ensure_new_san_reissues(void **state)
{
        struct fixture *f = *state;
        const char *one[] = {"a.example.com"};
        const char *two[] = {"a.example.com", "192.0.2.9"};
        struct snapshot a, b;

        assert_true(pki_ensure(f->dir, one, 1, NULL) >= 0);
        snapshot_take(f, &a);
        assert_int_equal(pki_ensure(f->dir, two, 2, NULL), PKI_MADE_SERVER);
        snapshot_take(f, &b);
        /* The CA stays; the server key and certificate are new. */
        assert_int_equal(snapshot_diff(&a, &b), (1u << 2) | (1u << 3));

        char *ca_crt = path_in(f, PKI_CA_CERT), *srv_crt = path_in(f, PKI_SERVER_CERT);
        X509 *ca = cert_read(ca_crt), *srv = cert_read(srv_crt);
        assert_int_equal(verify(ca, srv, X509_PURPOSE_SSL_SERVER), 1);
        assert_int_equal(X509_check_ip_asc(srv, "192.0.2.9", 0), 1);
        assert_int_equal(X509_check_host(srv, "a.example.com", 0, 0, NULL), 1);
        X509_free(ca);
        X509_free(srv);
        free(ca_crt);
        free(srv_crt);
        snapshot_release(&a);
        snapshot_release(&b);
}

static void test_ensure_renews_before_the_end(void **state)
{
        struct fixture *f = *state;
        time_t now = time(NULL);

        assert_true(pki_ensure_at(f->dir, NULL, 0, now, NULL) >= 0);
        /* 35 days left: kept. 25 days left: re-issued, from the same CA. */
        assert_int_equal(pki_ensure_at(f->dir, NULL, 0, now + (PKI_SERVER_DAYS - 35) * DAY_S, NULL),
                         0);
        assert_int_equal(pki_ensure_at(f->dir, NULL, 0, now + (PKI_SERVER_DAYS - 25) * DAY_S, NULL),
                         PKI_MADE_SERVER);
        /* The new one runs a year from that (injected) time. */
        assert_int_equal(pki_ensure_at(f->dir, NULL, 0, now + (PKI_SERVER_DAYS - 25) * DAY_S, NULL),
                         0);
        /* A CA that has ended is an error: berth does not replace it. */
        struct berth_error err = {0};
        assert_int_equal(
            pki_ensure_at(f->dir, NULL, 0, now + (PKI_CA_DAYS + 1) * (time_t)DAY_S, &err),
            -EKEYEXPIRED);
        assert_non_null(strstr(err.message, PKI_CA_CERT));
}

/* garbage in name: an error that names the file, and nothing rewritten. */
static void check_corrupt(struct fixture *f, const char *name)
{
        struct berth_error err = {0};
        char *p = path_in(f, name);

        assert_true(pki_ensure(f->dir, NULL, 0, NULL) >= 0);
        file_write(p, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n");
        int r = pki_ensure(f->dir, NULL, 0, &err);
        assert_int_equal(r, -EINVAL);
        assert_non_null(strstr(err.message, p));
        char *after = file_read(p);
        assert_non_null(strstr(after, "not base64"));
        free(after);
        free(p);
}

static void test_ensure_corrupt_server_cert(void **state)
{
        check_corrupt(*state, PKI_SERVER_CERT);
}

static void test_ensure_corrupt_server_key(void **state)
{
        check_corrupt(*state, PKI_SERVER_KEY);
}

static void test_ensure_corrupt_ca_cert(void **state)
{
        check_corrupt(*state, PKI_CA_CERT);
}

static void test_ensure_corrupt_ca_key(void **state)
{
        check_corrupt(*state, PKI_CA_KEY);
}

static void test_ensure_missing_files(void **state)
{
        struct fixture *f = *state;
        struct berth_error err = {0};
        char *ca_crt = path_in(f, PKI_CA_CERT), *ca_key = path_in(f, PKI_CA_KEY);
        char *srv_key = path_in(f, PKI_SERVER_KEY);

        assert_true(pki_ensure(f->dir, NULL, 0, NULL) >= 0);
        /* A lost server key: a new pair. */
        assert_int_equal(unlink(srv_key), 0);
        assert_int_equal(pki_ensure(f->dir, NULL, 0, NULL), PKI_MADE_SERVER);
        /* A CA without its key cannot issue: an error naming the key. */
        assert_int_equal(unlink(ca_key), 0);
        assert_int_equal(pki_ensure(f->dir, NULL, 0, &err), -ENOENT);
        assert_non_null(strstr(err.message, ca_key));
        /* Without ca.crt a new CA is made, and a server certificate from it. */
        assert_int_equal(unlink(ca_crt), 0);
        assert_int_equal(pki_ensure(f->dir, NULL, 0, NULL), PKI_MADE_CA | PKI_MADE_SERVER);
        assert_int_equal(pki_ensure(f->dir, NULL, 0, NULL), 0);
        free(ca_crt);
        free(ca_key);
        free(srv_key);
}

static void test_ensure_server_from_another_ca(void **state)
{
        struct fixture *f = *state;
        char other[128];
        snprintf(other, sizeof(other), "%s/other", f->root);
        char *srv_crt = path_in(f, PKI_SERVER_CERT), *srv_key = path_in(f, PKI_SERVER_KEY);
        char *o_crt = str_printf("%s/%s", other, PKI_SERVER_CERT);
        char *o_key = str_printf("%s/%s", other, PKI_SERVER_KEY);

        assert_true(pki_ensure(f->dir, NULL, 0, NULL) >= 0);
        assert_true(pki_ensure(other, NULL, 0, NULL) >= 0);
        /* A matching pair that another CA signed is re-issued. */
        assert_int_equal(rename(o_crt, srv_crt), 0);
        assert_int_equal(rename(o_key, srv_key), 0);
        assert_int_equal(pki_ensure(f->dir, NULL, 0, NULL), PKI_MADE_SERVER);
        free(srv_crt);
        free(srv_key);
        free(o_crt);
        free(o_key);
}

static void test_ensure_bad_sans(void **state)
{
        struct fixture *f = *state;
        struct berth_error err = {0};
        const char *bad[] = {"ok.example.com", "no spaces"};
        const char *empty[] = {""};
        const char *dash[] = {"-lead.example.com"};
        const char *dots[] = {"a..b"};
        const char *many[PKI_EXTRA_SANS_MAX + 1];
        for (size_t i = 0; i < ARRAY_SIZE(many); i++)
                many[i] = "x.example.com";

        assert_int_equal(pki_ensure(f->dir, bad, 2, &err), -EINVAL);
        assert_non_null(strstr(err.message, "\"no spaces\""));
        assert_int_equal(pki_ensure(f->dir, empty, 1, NULL), -EINVAL);
        assert_int_equal(pki_ensure(f->dir, dash, 1, NULL), -EINVAL);
        assert_int_equal(pki_ensure(f->dir, dots, 1, NULL), -EINVAL);
        assert_int_equal(pki_ensure(f->dir, many, ARRAY_SIZE(many), NULL), -EINVAL);
        /* Nothing was made for a refused call. */
        assert_int_equal(access(f->dir, F_OK), -1);
        const char *wild[] = {"*.apps.example.com"};
        assert_true(pki_ensure(f->dir, wild, 1, NULL) >= 0);
        assert_int_equal(pki_ensure(NULL, NULL, 0, NULL), -EINVAL);
}

static void test_issue_client(void **state)
{
        struct fixture *f = *state;
        struct berth_error err = {0};
        const char *groups[] = {"dev", "ops"};
        char cert[128], key[128];
        snprintf(cert, sizeof(cert), "%s/alice.crt", f->root);
        snprintf(key, sizeof(key), "%s/alice.key", f->root);

        /* No CA yet. */
        assert_int_equal(pki_issue_client(f->dir, "alice", groups, 2, 30, cert, key, &err),
                         -ENOENT);
        assert_non_null(strstr(err.message, PKI_CA_CERT));
        assert_true(pki_ensure(f->dir, NULL, 0, NULL) >= 0);
        assert_int_equal(pki_issue_client(f->dir, "alice", groups, 2, 30, cert, key, &err), 0);
        assert_int_equal(mode_of(key), 0600);

        char *ca_crt = path_in(f, PKI_CA_CERT);
        X509 *ca = cert_read(ca_crt), *x = cert_read(cert);
        assert_int_equal(verify(ca, x, X509_PURPOSE_SSL_CLIENT), 1);
        /* Not usable as a server certificate. */
        assert_int_equal(verify(ca, x, X509_PURPOSE_SSL_SERVER), 0);
        const X509_NAME *subject = X509_get_subject_name(x);
        char cn[64];
        assert_int_equal(
            X509_NAME_get_text_by_NID((X509_NAME *)subject, NID_commonName, cn, sizeof(cn)), 5);
        assert_string_equal(cn, "alice");
        int n_o = 0;
        for (int i = -1; (i = X509_NAME_get_index_by_NID(subject, NID_organizationName, i)) >= 0;)
                n_o++;
        assert_int_equal(n_o, 2);
        X509_free(ca);
        X509_free(x);
        free(ca_crt);

        /* Limits. */
        char long_name[PKI_NAME_MAX + 2];
        memset(long_name, 'a', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = '\0';
        const char *too_many[PKI_GROUPS_MAX + 1];
        for (size_t i = 0; i < ARRAY_SIZE(too_many); i++)
                too_many[i] = "g";
        assert_int_equal(pki_issue_client(f->dir, "", NULL, 0, 30, cert, key, NULL), -EINVAL);
        assert_int_equal(pki_issue_client(f->dir, long_name, NULL, 0, 30, cert, key, NULL),
                         -EINVAL);
        assert_int_equal(
            pki_issue_client(f->dir, "bob", too_many, ARRAY_SIZE(too_many), 30, cert, key, NULL),
            -EINVAL);
        assert_int_equal(pki_issue_client(f->dir, "bob", NULL, 0, 0, cert, key, NULL), -EINVAL);
        long_name[PKI_NAME_MAX] = '\0';
        assert_int_equal(pki_issue_client(f->dir, long_name, NULL, 0, 1, cert, key, NULL), 0);
}

static void test_token_new(void **state)
{
        (void)state;
        char *a = NULL, *b = NULL;
        size_t plen = strlen(PKI_ADMIN_TOKEN_PREFIX);

        assert_int_equal(pki_token_new(PKI_ADMIN_TOKEN_PREFIX, &a), 0);
        assert_int_equal(pki_token_new(PKI_ADMIN_TOKEN_PREFIX, &b), 0);
        assert_true(str_has_prefix(a, PKI_ADMIN_TOKEN_PREFIX));
        assert_int_equal(strlen(a), plen + 43); /* 32 bytes, base64url, no padding */
        assert_int_equal(strspn(a + plen, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                          "0123456789-_"),
                         43);
        assert_string_not_equal(a, b);
        free(a);
        free(b);

        char prefix[PKI_TOKEN_PREFIX_MAX + 2];
        memset(prefix, 'p', sizeof(prefix) - 1);
        prefix[sizeof(prefix) - 1] = '\0';
        assert_int_equal(pki_token_new(prefix, &a), -EINVAL);
        assert_int_equal(pki_token_new(NULL, &a), -EINVAL);
}

static void test_admin_token(void **state)
{
        struct fixture *f = *state;
        struct berth_error err = {0};
        char *t1 = NULL, *t2 = NULL;
        char *path = path_in(f, PKI_ADMIN_TOKEN);

        assert_int_equal(pki_admin_token_ensure(f->dir, &t1, &err), 1);
        assert_int_equal(mode_of(f->dir), 0700);
        assert_int_equal(mode_of(path), 0600);
        char *text = file_read(path);
        char *line = str_printf("%s\n", t1);
        assert_string_equal(text, line);
        free(text);
        free(line);
        assert_int_equal(pki_admin_token_ensure(f->dir, &t2, &err), 0);
        assert_string_equal(t1, t2);
        free(t1);
        free(t2);

        /* Not a token: an error that names the file; the file is kept. */
        file_write(path, "hunter2\n");
        t1 = NULL;
        assert_int_equal(pki_admin_token_ensure(f->dir, &t1, &err), -EINVAL);
        assert_null(t1);
        assert_non_null(strstr(err.message, path));
        file_write(path, PKI_ADMIN_TOKEN_PREFIX "abc\nmore\n");
        assert_int_equal(pki_admin_token_ensure(f->dir, &t1, &err), -EINVAL);
        free(path);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_ensure_makes_everything, setup, teardown),
            cmocka_unit_test_setup_teardown(test_ensure_second_call_is_a_noop, setup, teardown),
            cmocka_unit_test_setup_teardown(test_ensure_new_san_reissues, setup, teardown),
            cmocka_unit_test_setup_teardown(test_ensure_renews_before_the_end, setup, teardown),
            cmocka_unit_test_setup_teardown(test_ensure_corrupt_server_cert, setup, teardown),
            cmocka_unit_test_setup_teardown(test_ensure_corrupt_server_key, setup, teardown),
            cmocka_unit_test_setup_teardown(test_ensure_corrupt_ca_cert, setup, teardown),
            cmocka_unit_test_setup_teardown(test_ensure_corrupt_ca_key, setup, teardown),
            cmocka_unit_test_setup_teardown(test_ensure_missing_files, setup, teardown),
            cmocka_unit_test_setup_teardown(test_ensure_server_from_another_ca, setup, teardown),
            cmocka_unit_test_setup_teardown(test_ensure_bad_sans, setup, teardown),
            cmocka_unit_test_setup_teardown(test_issue_client, setup, teardown),
            cmocka_unit_test(test_token_new),
            cmocka_unit_test_setup_teardown(test_admin_token, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
