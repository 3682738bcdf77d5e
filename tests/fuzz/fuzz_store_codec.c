/* Fuzz target for the store's value format (store/compress.c): what a backend
 * hands back is inflated before anyone sees it, and a backend's bytes are not
 * to be trusted (a corrupt database, a hostile etcd). Each input is taken as a
 * stored value (as it is, and behind the magic), and as a value to store.
 * Besides memory errors and UB it aborts when
 *   - an inflate fails with another error than -EPROTO or -ENOMEM, writes its
 *     outputs on failure, or succeeds with more than its cap or without the
 *     NUL terminator;
 *   - a value does not come back byte for byte from what is stored for it, or
 *     is stored as it is while starting with the magic, or larger compressed
 *     than it is;
 *   - store_kv_inflate changes the kv when it fails. */
#include <stdint.h>

#include "store-internal.h"

/* Small, so that the fuzzer reaches the cap with little input; a real read
 * uses STORE_VALUE_PLAIN_MAX. */
#define FUZZ_INFLATE_MAX (256 * 1024)

/* Inflates stored; returns whether it did. */
static bool inflate_checked(const char *stored, size_t len)
{
        char *out = (char *)stored;
        size_t out_len = 12345;
        struct berth_error err = {0};
        int r = store_value_inflate(stored, len, FUZZ_INFLATE_MAX, &out, &out_len, &err);
        if (r < 0) {
                if ((r != -EPROTO && r != -ENOMEM) || out != stored || out_len != 12345 ||
                    err.code != r || !err.message[0])
                        abort();
                return false;
        }
        if (out_len > FUZZ_INFLATE_MAX || out[out_len] != '\0')
                abort();
        free(out);
        return true;
}

static void fuzz_stored(const uint8_t *data, size_t size)
{
        (void)inflate_checked((const char *)data, size);
        /* Behind the magic, every input reaches zlib. */
        _cleanup_free_ char *stored = malloc(size + STORE_COMPRESS_MAGIC_LEN);
        if (!stored)
                return;
        memcpy(stored, STORE_COMPRESS_MAGIC, STORE_COMPRESS_MAGIC_LEN);
        if (size > 0)
                memcpy(stored + STORE_COMPRESS_MAGIC_LEN, data, size);
        size_t len = size + STORE_COMPRESS_MAGIC_LEN;
        (void)inflate_checked(stored, len);

        /* store_kv_inflate: unchanged on failure. */
        struct store_kv kv = {.key = (char *)"/fuzz", .value = stored, .value_len = len};
        struct berth_error err = {0};
        int r = store_kv_inflate(&kv, NULL, &err);
        if (r < 0) {
                if (kv.value != stored || kv.value_len != len || !strstr(err.message, "/fuzz"))
                        abort();
        } else {
                stored = NULL; /* freed by store_kv_inflate */
                if (kv.value[kv.value_len] != '\0' || kv.value_len > STORE_VALUE_PLAIN_MAX)
                        abort();
                free(kv.value);
        }
}

static void expect_value(const char *stored, size_t stored_len, const uint8_t *data, size_t size)
{
        _cleanup_free_ char *back = NULL;
        size_t back_len = 0;
        if (store_value_inflate(stored, stored_len, size, &back, &back_len, NULL) < 0 ||
            back_len != size || (size > 0 && memcmp(back, data, size) != 0))
                abort();
}

static void fuzz_roundtrip(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *stored = NULL;
        size_t stored_len = 0;
        if (store_value_deflate(data, size, SIZE_MAX, &stored, &stored_len) < 0)
                return; /* out of memory */
        if (!store_value_is_compressed(stored, stored_len))
                abort();
        expect_value(stored, stored_len, data, size);

        /* Whatever store_put would store reads back as the value. */
        _cleanup_free_ char *encoded = NULL;
        size_t encoded_len = 0;
        if (store_value_encode((const char *)data, size, &encoded, &encoded_len) < 0)
                return;
        bool magic = store_value_is_compressed((const char *)data, size);
        if (!encoded) {
                if (magic || encoded_len != size)
                        abort();
                return;
        }
        if (!magic && (size <= STORE_COMPRESS_MIN || encoded_len >= size))
                abort();
        expect_value(encoded, encoded_len, data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        fuzz_stored(data, size);
        fuzz_roundtrip(data, size);
        return 0;
}
