/* sign.c: the webhook signature and the retry schedule. */
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "notify-internal.h"

int notify_signature(const void *key, size_t key_len, const void *body, size_t len,
                     char ret[NOTIFY_SIGNATURE_LEN])
{
        static const char hex[] = "0123456789abcdef";
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int mac_len = 0;
        char *p = ret;

        /* HMAC of an empty key is well defined; OpenSSL wants a pointer. */
        if (!HMAC(EVP_sha256(), key_len ? key : "", (int)key_len, body, len, mac, &mac_len) ||
            mac_len != 32)
                return -EIO;
        memcpy(p, "sha256=", 7);
        p += 7;
        for (unsigned int i = 0; i < mac_len; i++) {
                *p++ = hex[mac[i] >> 4];
                *p++ = hex[mac[i] & 0xf];
        }
        *p = '\0';
        return 0;
}

int64_t notify_retry_delay_ms(int failed_attempts, int64_t base_ms, int64_t max_ms)
{
        int64_t d = base_ms;

        for (int i = 1; i < failed_attempts && d < max_ms; i++)
                d *= 2;
        return d < max_ms ? d : max_ms;
}

bool notify_http_retryable(long status)
{
        return status == 429 || (status >= 500 && status <= 599);
}
