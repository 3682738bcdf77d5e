/* berth token create | list | revoke: bearer tokens for berthd's API.
 *
 * A token is "NAME.SECRET". The secret is made here and shown once; berthd
 * stores only "sha256:<hex>" of it in the Token's spec.secretHash, so the
 * request that creates a Token never carries the secret, and neither the
 * store nor a backup can give it away. Revoking is a compare-and-swap
 * replace of the object with spec.revoked true (kept, not deleted: the
 * audit log and `token list` still name it). */
#include <openssl/evp.h>
#include <sys/random.h>

#include "cli-internal.h"

/* ---- the secret and its hash (pure) ---------------------------------------- */

int cli_token_secret_new(char ret[CLI_TOKEN_SECRET_LEN + 1])
{
        static const char alphabet[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        unsigned char raw[CLI_TOKEN_SECRET_BYTES];
        size_t got = 0, k = 0;

        while (got < sizeof(raw)) {
                ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int r = -errno;
                        explicit_bzero(raw, sizeof(raw));
                        return r;
                }
                got += (size_t)n;
        }
        /* base64url (RFC 4648 section 5), 3 bytes to 4 characters, no padding. */
        for (size_t i = 0; i < sizeof(raw); i += 3) {
                uint32_t v = (uint32_t)raw[i] << 16;
                size_t left = sizeof(raw) - i;
                if (left > 1)
                        v |= (uint32_t)raw[i + 1] << 8;
                if (left > 2)
                        v |= raw[i + 2];
                ret[k++] = alphabet[(v >> 18) & 63];
                ret[k++] = alphabet[(v >> 12) & 63];
                if (left > 1)
                        ret[k++] = alphabet[(v >> 6) & 63];
                if (left > 2)
                        ret[k++] = alphabet[v & 63];
        }
        ret[k] = '\0';
        explicit_bzero(raw, sizeof(raw));
        return 0;
}

int cli_token_hash(const char *secret, char ret[TOKEN_SECRET_HASH_LEN + 1])
{
        static const char hex[] = "0123456789abcdef";
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;

        if (EVP_Digest(secret, strlen(secret), md, &len, EVP_sha256(), NULL) != 1 || len != 32)
                return -EIO;
        size_t k = strlen(TOKEN_SECRET_HASH_PREFIX);

        memcpy(ret, TOKEN_SECRET_HASH_PREFIX, k);
        for (unsigned int i = 0; i < len; i++) {
                ret[k++] = hex[md[i] >> 4];
                ret[k++] = hex[md[i] & 15];
        }
        ret[TOKEN_SECRET_HASH_LEN] = '\0';
        return 0;
}

json_t *cli_token_object(const char *name, const char *user, const char *const *groups,
                         size_t ngroups, int64_t expires_ms, const char *description,
                         const char *hash)
{
        _cleanup_json_ json_t *o = json_pack(
            "{s:s, s:s, s:{s:s}, s:{s:s, s:s}}", "apiVersion", MANIFEST_API_VERSION, "kind",
            "Token", "metadata", "name", name, "spec", "user", user, "secretHash", hash);
        json_t *spec = json_object_get(o, "spec");

        if (!o)
                return NULL;
        if (ngroups > 0) {
                json_t *g = json_array();
                if (!g || json_object_set_new(spec, "groups", g) < 0)
                        return NULL;
                for (size_t i = 0; i < ngroups; i++)
                        if (json_array_append_new(g, json_string(groups[i])) < 0)
                                return NULL;
        }
        if (expires_ms > 0) {
                char at[RFC3339_MAX];
                time_format_rfc3339(expires_ms, at);
                if (json_object_set_new(spec, "expirationTimestamp", json_string(at)) < 0)
                        return NULL;
        }
        if (description && json_object_set_new(spec, "description", json_string(description)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

/* ---- create ------------------------------------------------------------------ */

#define SUBJECT_RULE                                                                               \
        "invalid %s \"%s\": want 1 to 127 characters of UTF-8 without control characters"

/* The secret is on the stack: wiped whatever way the command ends. */
static void secret_wipe(char (*s)[CLI_TOKEN_SECRET_LEN + 1])
{
        explicit_bzero(*s, sizeof(*s));
}

static int token_create(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        const char *user = NULL, *ttl = NULL, *description = NULL;
        struct cli_list groups = {0};
        const struct cli_option opts[] = {
            {"user", 0, CLI_OPT_STRING, "USER", "the user the token authenticates (required)",
             &user},
            {"group", 0, CLI_OPT_LIST, "GROUP", "a group of that user (repeatable)", &groups},
            {"ttl", 0, CLI_OPT_STRING, "DURATION",
             "valid for this long: 12h, 30d, 90m (default: until revoked)", &ttl},
            {"description", 0, CLI_OPT_STRING, "TEXT", "what the token is for", &description},
            {0},
        };
        const struct kind_info *kind = kind_by_name("Token");
        _cleanup_free_ char **args = NULL;
        _cleanup_(secret_wipe) char secret[CLI_TOKEN_SECRET_LEN + 1] = "";
        char hash[TOKEN_SECRET_HASH_LEN + 1];
        int64_t ttl_ms = 0;
        size_t nargs = 0;
        int r;

        r = cli_parse_args(ctx, cmd, opts, argc, argv, &args, &nargs);
        if (r != 0)
                return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        if (nargs == 0)
                return cli_usage_error(ctx, cmd, "a token name is required");
        if (nargs > 1)
                return cli_usage_error(ctx, cmd, "unexpected argument \"%s\"", args[1]);
        if (!name_is_valid(args[0]))
                return cli_usage_error(ctx, cmd,
                                       "invalid token name \"%s\": want a DNS-1123 label "
                                       "(lowercase letters, digits and '-', at most 63)",
                                       args[0]);
        if (!user || !*user)
                return cli_usage_error(ctx, cmd,
                                       "--user is required: the user the token "
                                       "authenticates");
        /* What berthd would refuse, said before a secret is made. */
        if (!subject_name_is_valid(user))
                return cli_usage_error(ctx, cmd, SUBJECT_RULE, "--user", user);
        if (groups.n > TOKEN_GROUPS_MAX)
                return cli_usage_error(ctx, cmd, "at most %d --group flags", TOKEN_GROUPS_MAX);
        for (size_t i = 0; i < groups.n; i++)
                if (!subject_name_is_valid(groups.v[i]))
                        return cli_usage_error(ctx, cmd, SUBJECT_RULE, "--group", groups.v[i]);
        if (description && (strlen(description) > TOKEN_DESCRIPTION_MAX ||
                            !utf8_valid(description, strlen(description))))
                return cli_usage_error(ctx, cmd,
                                       "invalid --description: want at most %d bytes of UTF-8",
                                       TOKEN_DESCRIPTION_MAX);
        if (ttl &&
            (duration_parse(ttl, &ttl_ms) < 0 || ttl_ms < 1000 || ttl_ms > CLI_TOKEN_TTL_MAX_MS))
                return cli_usage_error(ctx, cmd,
                                       "invalid --ttl \"%s\": want a duration from 1s to 3650d, "
                                       "e.g. 12h or 30d",
                                       ttl);

        r = cli_token_secret_new(secret);
        if (r < 0)
                return cli_fail(ctx, "cannot make a secret: %s", strerror(-r));
        if (cli_token_hash(secret, hash) < 0)
                return cli_fail(ctx, "cannot hash the secret (libcrypto failed)");

        _cleanup_json_ json_t *o =
            cli_token_object(args[0], user, groups.v, groups.n,
                             ttl_ms > 0 ? time_now_ms() + ttl_ms : 0, description, hash);
        _cleanup_free_ char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
        _cleanup_free_ char *path = cli_path(kind, NULL, NULL, "");
        _cleanup_reply_ struct cli_reply reply = {0};

        if (!body || !path)
                return cli_fail(ctx, "out of memory");
        if (cli_http(ctx, "POST", path, "application/json", body, strlen(body), &reply) < 0)
                return CLI_EXIT_FAIL;
        if (reply.status < 200 || reply.status >= 300)
                return cli_status_print(ctx, &reply);
        fprintf(ctx->out, "%s.%s\n", args[0], secret);
        fflush(ctx->out);
        fprintf(ctx->err, "token/%s created for user %s: save it now, it cannot be shown again\n",
                args[0], user);
        return CLI_EXIT_OK;
}

/* ---- list and revoke ------------------------------------------------------------ */

static int token_list(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        return cli_get_kind(ctx, cmd, kind_by_name("Token"), argc, argv);
}

static int set_revoked(json_t *o, void *userdata)
{
        (void)userdata;
        if (json_is_true(json_path(o, "spec.revoked")))
                return 1;
        return json_path_set_new(o, "spec.revoked", json_true()) < 0 ? -ENOMEM : 0;
}

static int token_revoke(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        _cleanup_free_ char **args = NULL;
        size_t nargs = 0;
        int r;

        r = cli_parse_args(ctx, cmd, NULL, argc, argv, &args, &nargs);
        if (r != 0)
                return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        if (nargs == 0)
                return cli_usage_error(ctx, cmd, "a token name is required");
        if (nargs > 1)
                return cli_usage_error(ctx, cmd, "unexpected argument \"%s\"", args[1]);
        const char *name = args[0];
        if (str_has_prefix(name, "token/"))
                name += strlen("token/");
        /* Someone who has only the token may paste it whole: never echo it. */
        if (strchr(name, '.'))
                return cli_usage_error(ctx, cmd,
                                       "give the token's name (the part before the '.'), not "
                                       "the token itself");
        if (!name_is_valid(name))
                return cli_usage_error(ctx, cmd, "invalid token name \"%s\"", name);
        r = cli_change_object(ctx, kind_by_name("Token"), name, set_revoked, NULL);
        if (r < 0)
                return CLI_EXIT_FAIL;
        fprintf(ctx->out, r > 0 ? "token/%s is already revoked\n" : "token/%s revoked\n", name);
        return CLI_EXIT_OK;
}

static const struct cli_command token_commands[] = {
    {"token create",
     "token create NAME --user USER [--group GROUP]... [--ttl DURATION] [--description TEXT]",
     "Create a token and print it once",
     "Create a bearer token for USER (in the groups given) and print it on standard\n"
     "output as NAME.SECRET: this is the only time it is shown. The secret is 32\n"
     "random bytes made here (getrandom), in base64url; berthd is sent only its\n"
     "SHA-256 (spec.secretHash), never the secret.\n"
     "\n"
     "--ttl sets spec.expirationTimestamp to now plus the duration (units s, m, h,\n"
     "d; at most 3650d); without it the token is valid until revoked. Creating a\n"
     "token is for admins: berthd checks that you may create tokens.\n"
     "\n"
     "Examples:\n"
     "  berth token create ci --user ci-bot --group deployers --ttl 30d\n"
     "  berth token create alice-laptop --user alice --group dev --description \"alice's laptop\"\n"
     "  berth token create tmp --user bob --ttl 1h > bob.token",
     token_create},
    {"token list", "token list [NAME...] [-o wide|json|yaml|name] [--no-headers]",
     "List the tokens",
     "List the Token objects: NAME USER GROUPS EXPIRES REVOKED AGE (-o wide adds\n"
     "DESCRIPTION), as `berth get tokens` does. Neither shows a secret: berthd does\n"
     "not have them.\n"
     "\n"
     "Examples:\n"
     "  berth token list\n"
     "  berth token list ci -o yaml",
     token_list},
    {"token revoke", "token revoke NAME", "Revoke a token",
     "Set spec.revoked on the Token NAME: berthd refuses it from then on. The\n"
     "object stays (its name is in the audit log); delete it with `berth delete\n"
     "token NAME`. Revoking a revoked token changes nothing (exit status 0). The\n"
     "write is a compare-and-swap replace, retried when the Token changed in\n"
     "between.\n"
     "\n"
     "Example:\n"
     "  berth token revoke ci",
     token_revoke},
};

int cmd_token(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        return cli_run_subcommand(ctx, cmd, token_commands, ARRAY_SIZE(token_commands),
                                  "create, list or revoke", argc, argv);
}
