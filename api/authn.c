/* api: bearer tokens (docs/security.md, "Authentication").
 *
 * A token is "NAME.SECRET": NAME is a Token object (cluster-scoped, in the
 * object cache) whose spec.secretHash is "sha256:" and the hex SHA-256 of
 * SECRET; the secret itself never reaches the server's store. berthd's own
 * admin token (<data-dir>/tls/admin.token) is checked against a hash kept in
 * memory. Hashes are compared in constant time, and a wrong secret answers
 * the same as an unknown name: a 401 never tells whether a token or a user
 * exists. Only a token whose secret matched may say it is revoked or expired.
 */
#include "api-internal.h"

#include <ctype.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define TOKEN_SECRET_MIN 16

static bool secret_char(char c)
{
        return isalnum((unsigned char)c) || c == '-' || c == '_';
}

int api_bearer_parse(const char *header, char name[64], char secret[API_TOKEN_SECRET_MAX])
{
        if (!header || strncasecmp(header, "Bearer", 6) != 0 || header[6] != ' ')
                return -EINVAL;
        const char *t = header + 6;
        while (*t == ' ')
                t++;
        const char *dot = strchr(t, '.');
        if (!dot || dot == t || (size_t)(dot - t) >= 64)
                return -EINVAL;
        const char *sec = dot + 1;
        size_t n = strlen(sec);
        while (n > 0 && sec[n - 1] == ' ')
                n--;
        if (n < TOKEN_SECRET_MIN || n >= API_TOKEN_SECRET_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (!secret_char(sec[i]))
                        return -EINVAL;
        char nm[64];
        memcpy(nm, t, (size_t)(dot - t));
        nm[dot - t] = '\0';
        if (!name_is_valid(nm))
                return -EINVAL;
        memcpy(name, nm, sizeof(nm));
        memcpy(secret, sec, n);
        secret[n] = '\0';
        return 0;
}

int api_token_hash_parse(const char *text, uint8_t ret[API_TOKEN_HASH_LEN])
{
        static const char prefix[] = "sha256:";
        uint8_t h[API_TOKEN_HASH_LEN];

        if (!text || strncmp(text, prefix, strlen(prefix)) != 0)
                return -EINVAL;
        const char *hex = text + strlen(prefix);
        if (strlen(hex) != 2 * API_TOKEN_HASH_LEN)
                return -EINVAL;
        for (size_t i = 0; i < API_TOKEN_HASH_LEN; i++) {
                int v = 0;
                for (size_t j = 0; j < 2; j++) {
                        char c = hex[2 * i + j];
                        int d = c >= '0' && c <= '9'   ? c - '0'
                                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                       : -1;
                        if (d < 0)
                                return -EINVAL;
                        v = v * 16 + d;
                }
                h[i] = (uint8_t)v;
        }
        memcpy(ret, h, sizeof(h));
        return 0;
}

int api_token_hash(const char *secret, uint8_t ret[API_TOKEN_HASH_LEN])
{
        unsigned int len = 0;

        if (!EVP_Digest(secret, strlen(secret), ret, &len, EVP_sha256(), NULL) ||
            len != API_TOKEN_HASH_LEN)
                return -EIO;
        return 0;
}

static void refuse(struct api_identity *id, const char *why)
{
        (void)str_copy(id->user, sizeof(id->user), API_USER_ANONYMOUS);
        id->n_groups = 0;
        id->admin = false;
        id->authn = API_AUTHN_NONE;
        (void)str_copy(id->refusal, sizeof(id->refusal), why);
}

static void grant(struct api_identity *id, const char *user, const json_t *groups)
{
        size_t i;
        const json_t *g;

        (void)str_copy(id->user, sizeof(id->user), user);
        id->n_groups = 0;
        json_array_foreach(groups, i, g)
        {
                if (!json_is_string(g) || id->n_groups == API_IDENTITY_GROUPS_MAX)
                        continue;
                (void)str_copy(id->groups[id->n_groups++], API_IDENTITY_NAME_MAX,
                               json_string_value(g));
        }
        id->authn = API_AUTHN_TOKEN;
        id->refusal[0] = '\0';
        api_identity_set_admin(id);
}

void api_token_check(const json_t *token, const uint8_t h[API_TOKEN_HASH_LEN], int64_t now_ms,
                     struct api_identity *id)
{
        uint8_t want[API_TOKEN_HASH_LEN];
        const json_t *spec = json_object_get(token, "spec");

        /* An unknown name costs a comparison too: no timing tells it apart. */
        if (!token ||
            api_token_hash_parse(json_string_value(json_object_get(spec, "secretHash")), want) < 0)
                memset(want, 0, sizeof(want));
        if (CRYPTO_memcmp(want, h, API_TOKEN_HASH_LEN) != 0 || !token) {
                refuse(id, "invalid bearer token");
                return;
        }
        /* The secret matched: from here on the caller owns the token. */
        if (json_is_true(json_object_get(spec, "revoked"))) {
                refuse(id, "bearer token revoked");
                return;
        }
        const char *exp = json_string_value(json_object_get(spec, "expirationTimestamp"));
        int64_t exp_ms;
        if (exp && (time_parse_rfc3339(exp, &exp_ms) < 0 || exp_ms <= now_ms)) {
                refuse(id, "bearer token expired");
                return;
        }
        const char *user = json_string_value(json_object_get(spec, "user"));
        if (!user || !*user) {
                refuse(id, "invalid bearer token");
                return;
        }
        grant(id, user, json_object_get(spec, "groups"));
}

void api_authenticate(struct api_server *s, struct evhttp_request *req, struct api_identity *id)
{
        const char *header =
            evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");

        if (!header) {
                /* A unix peer or a client certificate proved itself already. */
                if (id->authn == API_AUTHN_NONE && !id->refusal[0])
                        refuse(id, "no credentials: send a bearer token (Authorization: Bearer "
                                   "NAME.SECRET) or a TLS client certificate");
                return;
        }
        /* A token speaks for the request whatever the transport: root on the
         * unix socket can act as a less privileged user, and a unix peer
         * that is not admin may still hold a token. */
        char name[64], secret[API_TOKEN_SECRET_MAX];
        uint8_t h[API_TOKEN_HASH_LEN];
        if (api_bearer_parse(header, name, secret) < 0) {
                refuse(id, "malformed Authorization header: expected \"Bearer NAME.SECRET\"");
                return;
        }
        int r = api_token_hash(secret, h);
        explicit_bzero(secret, sizeof(secret));
        if (r < 0) {
                refuse(id, "cannot check the bearer token");
                return;
        }
        if (s->has_admin_token && streq(name, API_ADMIN_TOKEN_NAME)) {
                if (CRYPTO_memcmp(h, s->admin_token_sha256, API_TOKEN_HASH_LEN) != 0) {
                        refuse(id, "invalid bearer token");
                        return;
                }
                _cleanup_json_ json_t *admins = json_pack("[s]", API_GROUP_ADMINS);
                grant(id, API_USER_ADMIN, admins);
                return;
        }
        _cleanup_free_ char *key = object_key(s->prefix, "tokens", NULL, name);
        _cleanup_json_ json_t *token = key ? object_cache_get(s->objects, key, NULL) : NULL;
        api_token_check(token, h, time_now_ms(), id);
}
