/* Unit tests for api/tls.c without a network: the TLS context from files
 * that pki_ensure made (errors name the file; a reload that fails keeps the
 * old context) and the admin token file's hash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "api-internal.h"
#include "pki.h"
#include "test-support.h"

struct fixture {
        char dir[64];
        char cert[128], key[128], ca[128], other_key[128];
        struct api_server s; /* only its TLS fields are used */
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        snprintf(f->dir, sizeof(f->dir), "/tmp/berth-api-tls.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        assert_true(pki_ensure(f->dir, NULL, 0, NULL) >= 0);
        snprintf(f->cert, sizeof(f->cert), "%s/%s", f->dir, PKI_SERVER_CERT);
        snprintf(f->key, sizeof(f->key), "%s/%s", f->dir, PKI_SERVER_KEY);
        snprintf(f->ca, sizeof(f->ca), "%s/%s", f->dir, PKI_CA_CERT);
        snprintf(f->other_key, sizeof(f->other_key), "%s/%s", f->dir, PKI_CA_KEY);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        api_tls_release(&f->s);
        test_rm_tree(f->dir);
        free(f);
        return 0;
}

static void write_text(const char *path, const char *text)
{
        FILE *fp = fopen(path, "we");
        assert_non_null(fp);
        fputs(text, fp);
        fclose(fp);
}

static void test_init_and_reload(void **state)
{
        struct fixture *f = *state;
        struct berth_error err = {0};

        assert_int_equal(api_tls_init(&f->s, f->cert, f->key, f->ca, &err), 0);
        assert_non_null(f->s.tls_ctx);
        struct ssl_ctx_st *first = f->s.tls_ctx;

        /* A reload builds a new context from the same files. */
        assert_int_equal(api_server_reload_tls(&f->s, &err), 0);
        assert_non_null(f->s.tls_ctx);
        assert_ptr_not_equal(f->s.tls_ctx, first);

        /* A broken file: the error names it and the context stays. */
        struct ssl_ctx_st *kept = f->s.tls_ctx;
        write_text(f->cert, "not a certificate\n");
        assert_true(api_server_reload_tls(&f->s, &err) < 0);
        assert_non_null(strstr(err.message, f->cert));
        assert_ptr_equal(f->s.tls_ctx, kept);
}

static void test_init_errors(void **state)
{
        struct fixture *f = *state;
        struct berth_error err = {0};
        char missing[160];
        snprintf(missing, sizeof(missing), "%s/missing.pem", f->dir);

        assert_int_equal(api_tls_init(&f->s, NULL, f->key, NULL, &err), -EINVAL);
        assert_non_null(strstr(err.message, "--tls-cert"));
        api_tls_release(&f->s);
        assert_int_equal(api_tls_init(&f->s, missing, f->key, NULL, &err), -ENOENT);
        assert_non_null(strstr(err.message, missing));
        api_tls_release(&f->s);
        /* The CA's key is not the certificate's. */
        assert_true(api_tls_init(&f->s, f->cert, f->other_key, NULL, &err) < 0);
        assert_non_null(strstr(err.message, f->other_key));
        api_tls_release(&f->s);
        /* A client CA file without a certificate. */
        assert_true(api_tls_init(&f->s, f->cert, f->key, f->key, &err) < 0);
        assert_non_null(strstr(err.message, "--client-ca"));
        api_tls_release(&f->s);
        assert_null(f->s.tls_ctx);
        /* Without https listeners there is nothing to reload. */
        assert_int_equal(api_server_reload_tls(&f->s, &err), -ENOENT);
}

static void test_admin_token_load(void **state)
{
        struct fixture *f = *state;
        struct berth_error err = {0};
        uint8_t h[API_TOKEN_HASH_LEN], want[API_TOKEN_HASH_LEN];
        char *token = NULL, path[160];
        snprintf(path, sizeof(path), "%s/%s", f->dir, PKI_ADMIN_TOKEN);

        assert_int_equal(pki_admin_token_ensure(f->dir, &token, &err), 1);
        assert_int_equal(api_admin_token_load(path, h, &err), 0);
        /* The hash of the secret, as a client's "Bearer berth-admin.SECRET"
         * is hashed. */
        assert_int_equal(api_token_hash(token + strlen(API_ADMIN_TOKEN_NAME "."), want), 0);
        assert_memory_equal(h, want, sizeof(h));
        free(token);

        write_text(path, "berth-admin.tooshort\n");
        assert_int_equal(api_admin_token_load(path, h, &err), -EINVAL);
        assert_non_null(strstr(err.message, path));
        assert_null(strstr(err.message, "tooshort")); /* never the content */
        write_text(path, "other-name.0123456789abcdefghijklmnop\n");
        assert_int_equal(api_admin_token_load(path, h, &err), -EINVAL);
        write_text(path, "berth-admin.0123456789abcdefghijklmnop\nsecond line\n");
        assert_int_equal(api_admin_token_load(path, h, &err), -EINVAL);
        char big[5000];
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        write_text(path, big);
        assert_int_equal(api_admin_token_load(path, h, &err), -EFBIG);
        unlink(path);
        assert_int_equal(api_admin_token_load(path, h, &err), -ENOENT);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_init_and_reload, setup, teardown),
            cmocka_unit_test_setup_teardown(test_init_errors, setup, teardown),
            cmocka_unit_test_setup_teardown(test_admin_token_load, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
