/* text.c: UTF-8 checks and base64, for bytes that must travel in JSON
 * strings (a step's stdout, a file read out of a container). */
#include "common.h"

size_t utf8_sequence(const unsigned char *s, size_t len)
{
        unsigned char c = s[0];
        size_t n;
        unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */

        if (c >= 0x01 && c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                n = 2;
        else if (c >= 0xe0 && c <= 0xef)
                n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        else if (c >= 0xf0 && c <= 0xf4)
                n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        else
                return 0;
        if (len < n || s[1] < lo || s[1] > hi)
                return 0;
        for (size_t k = 2; k < n; k++)
                if ((s[k] & 0xc0) != 0x80)
                        return 0;
        return n;
}

bool utf8_valid(const char *s, size_t len)
{
        for (size_t i = 0; i < len;) {
                size_t n = utf8_sequence((const unsigned char *)s + i, len - i);
                if (n == 0)
                        return false;
                i += n;
        }
        return true;
}

void utf8_scrub(char *s, size_t len)
{
        for (size_t i = 0; i < len;) {
                size_t n = utf8_sequence((const unsigned char *)s + i, len - i);
                if (n == 0) {
                        s[i++] = '?';
                        continue;
                }
                i += n;
        }
}

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *base64_encode(const void *data, size_t len)
{
        const unsigned char *in = data;
        char *out = malloc((len + 2) / 3 * 4 + 1);
        size_t o = 0;

        if (!out)
                return NULL;
        for (size_t i = 0; i < len; i += 3) {
                uint32_t v = (uint32_t)in[i] << 16;
                if (i + 1 < len)
                        v |= (uint32_t)in[i + 1] << 8;
                if (i + 2 < len)
                        v |= in[i + 2];
                out[o++] = base64_alphabet[(v >> 18) & 63];
                out[o++] = base64_alphabet[(v >> 12) & 63];
                out[o++] = i + 1 < len ? base64_alphabet[(v >> 6) & 63] : '=';
                out[o++] = i + 2 < len ? base64_alphabet[v & 63] : '=';
        }
        out[o] = '\0';
        return out;
}

static int base64_value(char c)
{
        const char *p = c ? strchr(base64_alphabet, c) : NULL;
        return p ? (int)(p - base64_alphabet) : -1;
}

int base64_decode(const char *s, size_t len, char **ret, size_t *ret_len)
{
        while (len > 0 && s[len - 1] == '=')
                len--;
        if (len % 4 == 1)
                return -EINVAL;
        char *out = malloc(len / 4 * 3 + 3 + 1);
        size_t o = 0;
        uint32_t acc = 0;
        int bits = 0;

        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < len; i++) {
                int v = base64_value(s[i]);
                if (v < 0) {
                        free(out);
                        return -EINVAL;
                }
                acc = (acc << 6) | (uint32_t)v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[o++] = (char)((acc >> bits) & 0xff);
                }
        }
        out[o] = '\0';
        *ret = out;
        *ret_len = o;
        return 0;
}
