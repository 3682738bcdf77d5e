/* api: continue tokens of paged lists (?limit= and ?continue=), pure.
 *
 * A token is base64url (RFC 4648 §5, no padding) of
 *
 *   version (1 byte) | revision (8 bytes, big-endian) | list id (8 bytes) |
 *   last key (1..STORE_KEY_MAX bytes, relative to the list's prefix) |
 *   checksum (8 bytes: the first 8 of SHA-256 of everything before it)
 *
 * The checksum catches a token that was cut short, mistyped or edited: it
 * is not a signature, and needs not be one. A token only says where a list
 * goes on: every page is read with the caller's own RBAC and selectors, and
 * the key can only name a place inside the list's own prefix, so a forged
 * token shows nothing a fresh list would not. Tokens therefore survive a
 * berthd restart and a failover to another replica.
 */
#include "api-internal.h"

#include <openssl/evp.h>

#define TOKEN_HEAD  (1 + 8 + API_CONTINUE_ID_LEN)
#define TOKEN_SUM   8
#define TOKEN_BYTES (TOKEN_HEAD + STORE_KEY_MAX + TOKEN_SUM)

static void sha256_prefix(const void *data, size_t len, uint8_t *ret, size_t n)
{
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned int md_len = 0;
        if (!EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) || md_len < n) {
                memset(ret, 0, n); /* never happens with SHA-256; a zero sum fails decoding */
                return;
        }
        memcpy(ret, md, n);
}

void api_continue_list_id(const char *resource, const char *ns, const char *labels,
                          const char *fields, uint8_t ret[API_CONTINUE_ID_LEN])
{
        /* NUL-separated: no field can run into the next one. */
        const char *parts[] = {resource ? resource : "", ns ? ns : "", labels ? labels : "",
                               fields ? fields : ""};
        _cleanup_buf_ struct buf b;
        buf_init(&b, 4 * (API_SELECTOR_MAX + 128));
        for (size_t i = 0; i < ARRAY_SIZE(parts); i++)
                if (buf_append(&b, parts[i], strlen(parts[i]) + 1) < 0)
                        break; /* over the cap: the id of what fit; selectors are capped before */
        sha256_prefix(b.data ? b.data : "", b.len, ret, API_CONTINUE_ID_LEN);
}

static bool key_is_valid(const char *key, size_t len)
{
        if (len == 0 || len > STORE_KEY_MAX)
                return false;
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)key[i] < 0x20 || key[i] == 0x7f)
                        return false;
        return true;
}

/* base64url without padding of raw; NULL on OOM. */
static char *b64url(const void *raw, size_t n)
{
        char *b64 = base64_encode(raw, n);
        if (!b64)
                return NULL;
        size_t len = strlen(b64);
        while (len > 0 && b64[len - 1] == '=')
                b64[--len] = '\0';
        for (char *p = b64; *p; p++) {
                if (*p == '+')
                        *p = '-';
                else if (*p == '/')
                        *p = '_';
        }
        return b64;
}

int api_continue_encode(const struct api_continue *c, char **ret)
{
        size_t klen = strnlen(c->key, sizeof(c->key));
        if (c->revision <= 0 || !key_is_valid(c->key, klen))
                return -EINVAL;
        uint8_t raw[TOKEN_BYTES];
        size_t n = 0;
        raw[n++] = API_CONTINUE_VERSION;
        for (int i = 7; i >= 0; i--)
                raw[n++] = (uint8_t)((uint64_t)c->revision >> (8 * i));
        memcpy(raw + n, c->list, API_CONTINUE_ID_LEN);
        n += API_CONTINUE_ID_LEN;
        memcpy(raw + n, c->key, klen);
        n += klen;
        sha256_prefix(raw, n, raw + n, TOKEN_SUM);
        n += TOKEN_SUM;

        char *b64 = b64url(raw, n);
        if (!b64)
                return -ENOMEM;
        *ret = b64;
        return 0;
}

static int invalid(struct api_error *err, const char *why)
{
        return api_error_set_reason(err, 400, "BadRequest", "invalid continue token: %s", why);
}

int api_continue_decode(const char *token, const uint8_t list[API_CONTINUE_ID_LEN],
                        struct api_continue *ret, struct api_error *err)
{
        size_t len = token ? strnlen(token, API_CONTINUE_MAX + 1) : 0;
        if (len == 0)
                return invalid(err, "empty");
        if (len > API_CONTINUE_MAX)
                return api_error_set_reason(err, 400, "BadRequest",
                                            "invalid continue token: longer than %d characters",
                                            API_CONTINUE_MAX);
        _cleanup_free_ char *std = strndup(token, len);
        if (!std)
                return api_error_set(err, 500, "out of memory");
        for (char *p = std; *p; p++) {
                if (*p == '-')
                        *p = '+';
                else if (*p == '_')
                        *p = '/';
                else if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                           (*p >= '0' && *p <= '9')))
                        return invalid(err, "not base64url");
        }
        if (len % 4 == 1)
                return invalid(err, "truncated");
        _cleanup_free_ char *raw = NULL;
        size_t n = 0;
        int r = base64_decode(std, len, &raw, &n);
        if (r == -ENOMEM)
                return api_error_set(err, 500, "out of memory");
        if (r < 0)
                return invalid(err, "not base64url");
        if (n < TOKEN_HEAD + 1 + TOKEN_SUM || n > TOKEN_BYTES)
                return invalid(err, "truncated or corrupt");
        /* One token per content: a last character whose unused bits were
         * changed decodes the same, but is not the token we made. */
        _cleanup_free_ char *canonical = b64url(raw, n);
        if (!canonical)
                return api_error_set(err, 500, "out of memory");
        if (!streq(canonical, token))
                return invalid(err, "not canonical (altered)");
        uint8_t sum[TOKEN_SUM];
        sha256_prefix(raw, n - TOKEN_SUM, sum, TOKEN_SUM);
        if (memcmp(sum, raw + n - TOKEN_SUM, TOKEN_SUM) != 0)
                return invalid(err, "checksum mismatch (truncated or altered)");
        const uint8_t *u = (const uint8_t *)raw;
        if (u[0] != API_CONTINUE_VERSION)
                return api_error_set_reason(err, 400, "BadRequest",
                                            "invalid continue token: version %u is not supported "
                                            "(this server reads version %d); relist",
                                            u[0], API_CONTINUE_VERSION);
        uint64_t rev = 0;
        for (size_t i = 1; i <= 8; i++)
                rev = rev << 8 | u[i];
        if (rev == 0 || rev > INT64_MAX)
                return invalid(err, "bad revision");
        if (memcmp(u + 9, list, API_CONTINUE_ID_LEN) != 0)
                return invalid(err, "it belongs to another list (resource, namespace or "
                                    "selectors differ)");
        size_t klen = n - TOKEN_HEAD - TOKEN_SUM;
        if (!key_is_valid(raw + TOKEN_HEAD, klen))
                return invalid(err, "bad key");
        struct api_continue c = {.revision = (int64_t)rev};
        memcpy(c.list, list, API_CONTINUE_ID_LEN);
        memcpy(c.key, raw + TOKEN_HEAD, klen);
        c.key[klen] = '\0';
        *ret = c;
        return 0;
}
