/* seal.c: one value sealed and opened — AES-256-GCM, a random nonce per
 * value, the value's place as additional data (secrets.h). */
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "secrets-internal.h"

#define SEALED_OVERHEAD (SECRETS_NONCE_BYTES + SECRETS_TAG_BYTES)
/* Characters of the base64 part of the largest value that can be sealed. */
#define SEALED_B64_MAX ((SECRET_VALUE_MAX + SEALED_OVERHEAD + 2) / 3 * 4)

static void cipher_ctx_freep(EVP_CIPHER_CTX **ctx)
{
        EVP_CIPHER_CTX_free(*ctx);
}

void secret_bytes_free(void *p, size_t len)
{
        if (!p)
                return;
        OPENSSL_cleanse(p, len);
        free(p);
}

char *secret_aad(const char *ns, const char *name, const char *key)
{
        if (!ns || !name || !key)
                return NULL;
        return str_printf("%s/%s/%s", ns, name, key);
}

int secret_seal(const struct secrets_keyring *ring, const char *aad, const void *data, size_t len,
                char **ret, struct berth_error *err)
{
        static const unsigned char empty[1];
        _cleanup_(cipher_ctx_freep) EVP_CIPHER_CTX *ctx = NULL;
        _cleanup_free_ unsigned char *out = NULL;
        int n = 0, fin = 0;

        if (!ring || ring->n == 0)
                return berth_error_set(err, -ENOKEY, "no keyring to seal with");
        if (len > SECRET_VALUE_MAX)
                return berth_error_set(err, -E2BIG, FIELD_TOO_LARGE "%zu bytes, at most %d", len,
                                       SECRET_VALUE_MAX);
        if (!aad || (!data && len > 0))
                return berth_error_set(err, -EINVAL, "nothing to seal");
        out = malloc(len + SEALED_OVERHEAD);
        ctx = EVP_CIPHER_CTX_new();
        if (!out || !ctx)
                return berth_error_set(err, -ENOMEM, "out of memory");
        if (RAND_bytes(out, SECRETS_NONCE_BYTES) != 1)
                return berth_error_set(err, -EIO, "the random source failed");
        unsigned char *ct = out + SECRETS_NONCE_BYTES;
        if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SECRETS_NONCE_BYTES, NULL) != 1 ||
            EVP_EncryptInit_ex(ctx, NULL, NULL, ring->keys[0].key, out) != 1 ||
            EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
            EVP_EncryptUpdate(ctx, ct, &n, len ? data : empty, (int)len) != 1 ||
            EVP_EncryptFinal_ex(ctx, ct + n, &fin) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SECRETS_TAG_BYTES, ct + len) != 1) {
                OPENSSL_cleanse(out, len + SEALED_OVERHEAD);
                return berth_error_set(err, -EIO, "AES-256-GCM failed");
        }
        _cleanup_free_ char *b64 = base64_encode(out, len + SEALED_OVERHEAD);
        if (!b64)
                return berth_error_set(err, -ENOMEM, "out of memory");
        char *text = str_printf(SECRET_SEALED_PREFIX "%s:%s", ring->keys[0].id, b64);
        if (!text)
                return berth_error_set(err, -ENOMEM, "out of memory");
        *ret = text;
        return 0;
}

int secret_sealed_keyid(const char *sealed, char ret[16])
{
        if (!secret_value_is_sealed(sealed))
                return -EINVAL;
        memcpy(ret, sealed + strlen(SECRET_SEALED_PREFIX), SECRET_KEYID_LEN);
        ret[SECRET_KEYID_LEN] = '\0';
        return 0;
}

int secret_open(const struct secrets_keyring *ring, const char *aad, const char *sealed,
                unsigned char **ret, size_t *ret_len, struct berth_error *err)
{
        _cleanup_(cipher_ctx_freep) EVP_CIPHER_CTX *ctx = NULL;
        _cleanup_free_ char *raw = NULL;
        size_t raw_len = 0;
        char id[16];
        int n = 0, fin = 0;

        if (!aad || secret_sealed_keyid(sealed, id) < 0)
                return berth_error_set(
                    err, -EINVAL, "not a sealed value (" SECRET_SEALED_PREFIX "<keyid>:<base64>)");
        const struct secrets_key *key = secrets_keyring_find(ring, id);
        if (!key)
                return berth_error_set(err, -ENOKEY,
                                       "sealed with key %s, which is not in berthd's keyring", id);
        const char *b64 = sealed + strlen(SECRET_SEALED_PREFIX) + SECRET_KEYID_LEN + 1;
        size_t b64_len = strlen(b64);
        if (b64_len > SEALED_B64_MAX)
                return berth_error_set(err, -E2BIG,
                                       FIELD_TOO_LARGE "sealed value of %zu characters", b64_len);
        int r = base64_decode(b64, b64_len, &raw, &raw_len);
        if (r == -ENOMEM)
                return berth_error_set(err, r, "out of memory");
        if (r < 0 || raw_len < SEALED_OVERHEAD)
                return berth_error_set(err, -EBADMSG, "does not open: not a sealed value");
        size_t len = raw_len - SEALED_OVERHEAD;
        unsigned char *nonce = (unsigned char *)raw, *ct = nonce + SECRETS_NONCE_BYTES;
        unsigned char *plain = malloc(len + 1);
        ctx = EVP_CIPHER_CTX_new();
        if (!plain || !ctx) {
                free(plain);
                return berth_error_set(err, -ENOMEM, "out of memory");
        }
        if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SECRETS_NONCE_BYTES, NULL) != 1 ||
            EVP_DecryptInit_ex(ctx, NULL, NULL, key->key, nonce) != 1 ||
            EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
            EVP_DecryptUpdate(ctx, plain, &n, ct, (int)len) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SECRETS_TAG_BYTES, ct + len) != 1 ||
            EVP_DecryptFinal_ex(ctx, plain + n, &fin) != 1) {
                secret_bytes_free(plain, len + 1);
                return berth_error_set(err, -EBADMSG,
                                       "does not open with key %s: changed since it was sealed, "
                                       "or sealed for another Secret or key",
                                       id);
        }
        plain[len] = '\0';
        *ret = plain;
        *ret_len = len;
        return 0;
}
