/* Unit tests of `berth token`: the secret and its hash, the Token object
 * create sends (a hash, never the secret), list through the get machinery,
 * revoke's compare-and-swap, and the errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cli-internal.h"
#include "cli-test.h"

#define TOKENS "/apis/berth/v1/tokens"
#define CI     TOKENS "/ci"

static const char *const ci_token =
    "{\"apiVersion\":\"berth/v1\",\"kind\":\"Token\",\"metadata\":{\"name\":\"ci\","
    "\"resourceVersion\":\"5\",\"creationTimestamp\":\"2026-01-01T00:00:00Z\"},"
    "\"spec\":{\"user\":\"ci-bot\",\"groups\":[\"deployers\"],\"secretHash\":\"sha256:"
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\",\"revoked\":false}}";

/* ---- pure ------------------------------------------------------------------ */

static void test_secret_and_hash(void **state)
{
        (void)state;
        char a[CLI_TOKEN_SECRET_LEN + 1], b[CLI_TOKEN_SECRET_LEN + 1];
        char hash[TOKEN_SECRET_HASH_LEN + 1];

        assert_int_equal(cli_token_secret_new(a), 0);
        assert_int_equal(cli_token_secret_new(b), 0);
        assert_int_equal(strlen(a), 43);
        assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789-_"),
                         43);
        assert_string_not_equal(a, b);

        /* FIPS 180-2's example: SHA-256("abc"). */
        assert_int_equal(cli_token_hash("abc", hash), 0);
        assert_string_equal(hash, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f"
                                  "20015ad");
        assert_true(token_secret_hash_is_valid(hash));
        assert_int_equal(cli_token_hash(a, hash), 0);
        assert_true(token_secret_hash_is_valid(hash));
}

static void test_token_object(void **state)
{
        (void)state;
        const char *groups[] = {"dev", "ops"};
        json_t *o =
            cli_token_object("ci", "ci-bot", groups, 2, 1767225600000, "for CI", "sha256:00");
        char *s = json_dumps(o, JSON_COMPACT);

        assert_string_equal(s, "{\"apiVersion\":\"berth/v1\",\"kind\":\"Token\",\"metadata\":{"
                               "\"name\":\"ci\"},\"spec\":{\"user\":\"ci-bot\",\"secretHash\":"
                               "\"sha256:00\",\"groups\":[\"dev\",\"ops\"],"
                               "\"expirationTimestamp\":\"2026-01-01T00:00:00Z\","
                               "\"description\":\"for CI\"}}");
        free(s);
        json_decref(o);

        /* Nothing optional: no groups, no expiry, no description. */
        o = cli_token_object("ci", "ci-bot", NULL, 0, 0, NULL, "sha256:00");
        s = json_dumps(o, JSON_COMPACT);
        assert_string_equal(s, "{\"apiVersion\":\"berth/v1\",\"kind\":\"Token\",\"metadata\":{"
                               "\"name\":\"ci\"},\"spec\":{\"user\":\"ci-bot\",\"secretHash\":"
                               "\"sha256:00\"}}");
        free(s);
        json_decref(o);
}

/* ---- create ------------------------------------------------------------------ */

static void test_create(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        char hash[TOKEN_SECRET_HASH_LEN + 1];

        fake_reset(f);
        fake_route(f, "POST", TOKENS, 201, ci_token);
        int64_t before = time_now_ms();
        run(&c, "--server", f->url, "token", "create", "ci", "--user", "ci-bot", "--group",
            "deployers", "--group", "system:ci", "--ttl", "30d", "--description", "the CI", NULL);
        int64_t after = time_now_ms();
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.err,
                            "token/ci created for user ci-bot: save it now, it cannot be shown "
                            "again\n");

        /* NAME.SECRET, once. */
        assert_true(str_has_prefix(c.out, "ci."));
        assert_int_equal(strlen(c.out), strlen("ci.") + 43 + 1);
        assert_int_equal(c.out[strlen(c.out) - 1], '\n');
        char secret[64];
        snprintf(secret, sizeof(secret), "%.*s", 43, c.out + 3);
        assert_null(strchr(secret, '.'));

        /* What went to berthd: the hash of the secret part, not the secret. */
        assert_string_equal(f->last_method, "POST");
        assert_string_equal(f->last_path, TOKENS);
        assert_string_equal(f->last_content_type, "application/json");
        assert_null(strstr(f->last_body, secret));
        json_t *sent = json_loads(f->last_body, 0, NULL);
        assert_non_null(sent);
        assert_string_equal(json_path_string(sent, "kind"), "Token");
        assert_string_equal(json_path_string(sent, "apiVersion"), MANIFEST_API_VERSION);
        assert_string_equal(json_path_string(sent, "metadata.name"), "ci");
        assert_null(json_path(sent, "metadata.namespace"));
        assert_string_equal(json_path_string(sent, "spec.user"), "ci-bot");
        assert_string_equal(json_string_value(json_array_get(json_path(sent, "spec.groups"), 1)),
                            "system:ci");
        assert_string_equal(json_path_string(sent, "spec.description"), "the CI");
        assert_int_equal(cli_token_hash(secret, hash), 0);
        assert_string_equal(json_path_string(sent, "spec.secretHash"), hash);
        int64_t expires = 0, month = 30LL * 24 * 3600 * 1000;
        assert_int_equal(
            time_parse_rfc3339(json_path_string(sent, "spec.expirationTimestamp"), &expires), 0);
        assert_true(expires >= before / 1000 * 1000 + month && expires <= after + month);
        /* berthd's own schema takes it. */
        struct token_spec spec;
        json_object_set_new(json_object_get(sent, "metadata"), "uid", json_string("u"));
        assert_int_equal(token_spec_decode(sent, &spec, NULL), 0);
        assert_int_equal(spec.n_groups, 2);
        json_decref(sent);

        /* Without --ttl: no expiry. Each token has its own secret. */
        char first[64];
        str_copy(first, sizeof(first), c.out);
        fake_reset(f);
        fake_route(f, "POST", TOKENS, 201, ci_token);
        run(&c, "--server", f->url, "token", "create", "ci", "--user", "ci-bot", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_not_equal(c.out, first);
        sent = json_loads(f->last_body, 0, NULL);
        assert_null(json_path(sent, "spec.expirationTimestamp"));
        assert_null(json_path(sent, "spec.groups"));
        json_decref(sent);

        /* Refused: nothing printed on stdout. */
        fake_reset(f);
        fake_route(f, "POST", TOKENS, 409,
                   "{\"kind\":\"Status\",\"code\":409,\"reason\":\"AlreadyExists\","
                   "\"message\":\"tokens \\\"ci\\\" already exists\"}");
        run(&c, "--server", f->url, "token", "create", "ci", "--user", "ci-bot", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.out, "");
        assert_string_equal(c.err, "Error from server (AlreadyExists): tokens \"ci\" already "
                                   "exists\n");
        capture_release(&c);
}

static void test_create_usage(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        static const struct {
                const char *args[8];
                const char *err;
        } usage[] = {
            {{"token", "create", "--user", "u"}, "error: a token name is required"},
            {{"token", "create", "Bad.Name", "--user", "u"}, "error: invalid token name"},
            {{"token", "create", "ci"}, "error: --user is required"},
            {{"token", "create", "ci", "--user", ""}, "error: --user is required"},
            {{"token", "create", "ci", "--user", "a\tb"}, "error: invalid --user \"a\tb\""},
            {{"token", "create", "ci", "--user", "u", "--group", ""}, "error: invalid --group"},
            {{"token", "create", "ci", "--user", "u", "--ttl", "0"}, "error: invalid --ttl \"0\""},
            {{"token", "create", "ci", "--user", "u", "--ttl", "forever"}, "invalid --ttl"},
            {{"token", "create", "ci", "--user", "u", "--ttl", "3651d"}, "from 1s to 3650d"},
            {{"token", "create", "ci", "x", "--user", "u"}, "error: unexpected argument \"x\""},
            {{"token"}, "error: a token command is required: create, list or revoke"},
            {{"token", "delete", "ci"}, "error: unknown token command \"delete\": want create"},
            {{"token", "revoke"}, "error: a token name is required"},
            {{"token", "revoke", "ci.abcdefsecretpart"},
             "error: give the token's name (the part before the '.'), not the token itself"},
        };

        fake_reset(f);
        for (size_t i = 0; i < ARRAY_SIZE(usage); i++) {
                const char *const *a = usage[i].args;
                run(&c, "--server", f->url, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], NULL);
                if (c.rc != 2 || !strstr(c.err, usage[i].err) || strstr(c.err, "secretpart"))
                        fail_msg("case %zu: rc %d, stderr: %s", i, c.rc, c.err);
        }
        assert_int_equal(f->requests, 0);

        /* More groups than a Token holds. */
        char *argv[64] = {(char *)"berth", (char *)"token",  (char *)"create",
                          (char *)"ci",    (char *)"--user", (char *)"u"};
        int argc = 6;
        for (int i = 0; i <= TOKEN_GROUPS_MAX; i++) {
                argv[argc++] = (char *)"--group";
                argv[argc++] = (char *)"g";
        }
        char *out = NULL, *err = NULL;
        size_t olen = 0, elen = 0;
        FILE *o = open_memstream(&out, &olen), *e = open_memstream(&err, &elen);
        assert_int_equal(cli_run(argc, argv, o, e), 2);
        fclose(o);
        fclose(e);
        assert_non_null(strstr(err, "error: at most 16 --group flags"));
        free(out);
        free(err);
        capture_release(&c);
}

/* ---- list and revoke ------------------------------------------------------------- */

static void test_list(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        _cleanup_free_ char *list = str_printf("{\"kind\":\"TokenList\",\"items\":[%s]}", ci_token);

        fake_reset(f);
        fake_route(f, "GET", TOKENS "?limit=500", 200, list);
        fake_route(f, "GET", CI, 200, ci_token);
        run(&c, "--server", f->url, "token", "list", NULL);
        assert_int_equal(c.rc, 0);
        assert_true(str_has_prefix(c.out, "NAME   USER     GROUPS"));
        assert_non_null(strstr(c.out, "\nci     ci-bot   [\"deployers\"]"));
        assert_null(strstr(c.out, "NAMESPACE"));

        /* Named, and the get flags. */
        run(&c, "--server", f->url, "token", "list", "ci", "-o", "name", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "token/ci\n");
        assert_string_equal(f->last_path, CI);

        /* The same as berth get tokens. */
        _cleanup_free_ char *via_list = NULL;
        run(&c, "--server", f->url, "token", "list", "-o", "json", NULL);
        via_list = TAKE_PTR(c.out);
        run(&c, "--server", f->url, "get", "tokens", "-o", "json", NULL);
        assert_string_equal(c.out, via_list);

        /* Empty. */
        fake_reset(f);
        fake_route(f, "GET", TOKENS "?limit=500", 200, "{\"items\":[]}");
        run(&c, "--server", f->url, "token", "list", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.err, "No resources found\n");

        run(&c, "--server", f->url, "token", "list", "Not_A_Name", NULL);
        assert_int_equal(c.rc, 2);
        assert_non_null(strstr(c.err, "invalid token name \"Not_A_Name\""));
        assert_non_null(strstr(c.err, "See 'berth token list --help' for usage."));
        capture_release(&c);
}

static void test_revoke(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        _cleanup_free_ char *revoked = NULL;

        fake_reset(f);
        fake_route(f, "GET", CI, 200, ci_token);
        fake_route(f, "PUT", CI, 200, ci_token);
        run(&c, "--server", f->url, "token", "revoke", "ci", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "token/ci revoked\n");
        assert_string_equal(f->last_method, "PUT");
        json_t *sent = json_loads(f->last_body, 0, NULL);
        assert_true(json_is_true(json_path(sent, "spec.revoked")));
        assert_string_equal(json_path_string(sent, "metadata.resourceVersion"), "5");
        assert_string_equal(json_path_string(sent, "spec.user"), "ci-bot");
        revoked = json_dumps(sent, JSON_COMPACT);
        json_decref(sent);

        /* A conflict: read again, write again. */
        fake_reset(f);
        fake_route(f, "GET", CI, 200, ci_token);
        fake_add(f, &(struct fake_route){.method = "PUT",
                                         .path = CI,
                                         .status = 409,
                                         .content_type = "application/json",
                                         .body = "{\"kind\":\"Status\",\"code\":409}",
                                         .times = 1});
        fake_route(f, "PUT", CI, 200, revoked);
        run(&c, "--server", f->url, "token", "revoke", "token/ci", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "token/ci revoked\n");
        assert_int_equal(f->requests, 4);

        /* Revoked already: nothing written. */
        fake_reset(f);
        fake_route(f, "GET", CI, 200, revoked);
        run(&c, "--server", f->url, "token", "revoke", "ci", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "token/ci is already revoked\n");
        assert_int_equal(f->requests, 1);

        /* No such token. */
        fake_reset(f);
        run(&c, "--server", f->url, "token", "revoke", "ci", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "Error from server (NotFound): tokens \"ci\" not found\n");
        capture_release(&c);
}

static void test_help(void **state)
{
        (void)state;
        struct capture c = {0};

        run(&c, "token", "--help", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "  create   make a token for a user and print it, once\n"));
        run(&c, "help", "token", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "Usage:\n  berth token create|list|revoke"));
        run(&c, "token", "create", "--help", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "Usage:\n  berth token create NAME --user USER"));
        assert_non_null(strstr(c.out, "--ttl DURATION"));
        assert_non_null(strstr(c.out, "--group GROUP"));
        run(&c, "token", "list", "--help", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "-o, --output FORMAT"));
        run(&c, "token", "revoke", "-h", NULL);
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "Usage:\n  berth token revoke NAME"));
        run(&c, "--help", NULL);
        assert_non_null(strstr(c.out, "  token      Create, list or revoke API tokens\n"));
        assert_non_null(strstr(c.out, "--config FILE"));
        assert_non_null(strstr(c.out, "--certificate-authority FILE"));
        capture_release(&c);
}

int main(void)
{
        const struct CMUnitTest pure[] = {
            cmocka_unit_test(test_secret_and_hash),
            cmocka_unit_test(test_token_object),
            cmocka_unit_test(test_help),
        };
        const struct CMUnitTest served[] = {
            cmocka_unit_test(test_create),
            cmocka_unit_test(test_create_usage),
            cmocka_unit_test(test_list),
            cmocka_unit_test(test_revoke),
        };
        cli_test_env();
        unsetenv("NO_COLOR");
        int failed = cmocka_run_group_tests_name("cmd-token", pure, NULL, NULL);
        failed +=
            cmocka_run_group_tests_name("cmd-token-served", served, fake_setup, fake_teardown);
        return failed;
}
