/* Fuzz target for authentication's pure pieces: the Authorization header
 * parser, the stored hash parser and a Token object's verdict. The input is
 * split into lines:
 *   1  an Authorization header value ("Bearer alice.SECRET"),
 *   2  a secretHash text ("sha256:…"),
 *   3… a Token object (JSON) checked against the hash of line 1's secret.
 * Besides memory errors and UB it aborts when
 *   - a parsed header gives a name that is not a DNS label, or a secret that
 *     is not 16..127 characters of [A-Za-z0-9_-] or does not occur in the
 *     header,
 *   - a parsed hash does not print back to its text,
 *   - a verdict grants without a user or refuses without a reason, tells
 *     "revoked" or "expired" for a secret that does not match, or grants a
 *     token whose spec says revoked. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>

#include "api-internal.h"

static char *line_of(const uint8_t *data, size_t size, size_t *pos)
{
        size_t start = *pos, end = start;

        while (end < size && data[end] != '\n')
                end++;
        *pos = end < size ? end + 1 : end;
        return strndup((const char *)data + start, end - start);
}

static void fuzz_header(const char *header, uint8_t h[API_TOKEN_HASH_LEN], bool *parsed)
{
        char name[64], secret[API_TOKEN_SECRET_MAX];

        *parsed = api_bearer_parse(header, name, secret) == 0;
        if (!*parsed) {
                memset(h, 0, API_TOKEN_HASH_LEN);
                return;
        }
        size_t n = strlen(secret);
        if (!name_is_valid(name) || n < 16 || n >= API_TOKEN_SECRET_MAX || !strstr(header, secret))
                abort();
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)secret[i]) && secret[i] != '-' && secret[i] != '_')
                        abort();
        if (api_token_hash(secret, h) < 0)
                abort();
}

static void fuzz_hash_text(const char *text)
{
        uint8_t h[API_TOKEN_HASH_LEN];
        char back[8 + 2 * API_TOKEN_HASH_LEN];

        if (api_token_hash_parse(text, h) < 0)
                return;
        int n = snprintf(back, sizeof(back), "sha256:");
        for (size_t i = 0; i < API_TOKEN_HASH_LEN; i++)
                n += snprintf(back + n, sizeof(back) - (size_t)n, "%02x", h[i]);
        if (!streq(back, text))
                abort();
}

static void fuzz_verdict(const json_t *token, const uint8_t h[API_TOKEN_HASH_LEN])
{
        struct api_identity id = {0};
        uint8_t want[API_TOKEN_HASH_LEN];
        const json_t *spec = json_object_get(token, "spec");
        bool matches = token &&
                       api_token_hash_parse(json_string_value(json_object_get(spec, "secretHash")),
                                            want) == 0 &&
                       memcmp(want, h, sizeof(want)) == 0;

        api_token_check(token, h, 1700000000000, &id);
        if (id.refusal[0]) {
                if (!streq(id.user, API_USER_ANONYMOUS) || id.authn != API_AUTHN_NONE)
                        abort();
                if (!matches && !streq(id.refusal, "invalid bearer token"))
                        abort();
                return;
        }
        if (!matches || !id.user[0] || id.authn != API_AUTHN_TOKEN ||
            json_is_true(json_object_get(spec, "revoked")) || id.n_groups > API_IDENTITY_GROUPS_MAX)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        size_t pos = 0;
        _cleanup_free_ char *header = line_of(data, size, &pos);
        _cleanup_free_ char *hash = line_of(data, size, &pos);
        uint8_t h[API_TOKEN_HASH_LEN];
        bool parsed;

        if (!header || !hash)
                return 0;
        fuzz_header(header, h, &parsed);
        fuzz_hash_text(hash);
        _cleanup_json_ json_t *token =
            json_loadb((const char *)data + pos, size - pos, JSON_REJECT_DUPLICATES, NULL);
        fuzz_verdict(json_is_object(token) ? token : NULL, h);
        return 0;
}
