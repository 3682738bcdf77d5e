/* Fuzz target for the stored outcome memory (notify/outcomes-store.c): a
 * value and a key read back from the store, whose bytes are not to be
 * trusted (a corrupt database, another program writing under the prefix).
 * Each input is taken as a value and as a key. Besides memory errors and UB
 * it aborts when
 *   - a decode fails without a reason, or changes its output on failure;
 *   - a value that decodes does not encode, or does not decode again to
 *     the same outcome (what a restart would read back);
 *   - a key that parses is not the key made from its parts. */
#include <stdint.h>
#include <stdlib.h>

#include "notify-internal.h"

#define PREFIX "/berth/"

static void value_checked(const char *data, size_t len)
{
        struct outcome_value v = {.at_ms = 12345}, again = {0};
        char why[128] = "";

        if (outcome_value_decode(data, len, &v, why) < 0) {
                if (!why[0] || v.at_ms != 12345)
                        abort();
                return;
        }
        char *s = outcome_value_encode(&v);
        if (!s || outcome_value_decode(s, strlen(s), &again, why) < 0 || !streq(again.uid, v.uid) ||
            again.result != v.result || again.before != v.before || again.at_ms != v.at_ms)
                abort();
        free(s);
}

static void key_checked(const char *data, size_t len)
{
        char kind[64], ns[64], name[64];
        char *key = str_printf(PREFIX NOTIFY_OUTCOME_SEGMENT "%.*s", (int)len, data);

        if (!key)
                return;
        if (outcome_key_parse(PREFIX, key, kind, ns, name) == 0) {
                char *back = outcome_key(PREFIX, kind, ns, name);
                if (!back || !streq(back, key))
                        abort();
                free(back);
        }
        free(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1);

        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        value_checked(s, size);
        key_checked(s, strnlen(s, size));
        free(s);
        return 0;
}
