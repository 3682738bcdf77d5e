/* store compression: the stored form of values (docs/internals/store.md, "Value
 * format"). Large values are deflated with zlib before they reach a backend and
 * inflated after they leave it, in store.c, so that every backend stores the same
 * bytes. No I/O and no state: what the unit tests and tests/fuzz/fuzz_store_codec.c
 * call directly.
 */
#include <limits.h>
#include <zlib.h>

#include "store-internal.h"

/* Fast: a value is compressed on every write, by the writer's thread. Level 1
 * already shrinks berth's repetitive JSON to a small fraction. */
#define DEFLATE_LEVEL 1
/* First guess at an inflated size, as a multiple of the stored one; the buffer
 * doubles from there up to the cap. */
#define INFLATE_GUESS_RATIO 8
#define INFLATE_GUESS_MIN   (64 * 1024)

bool store_value_is_compressed(const char *stored, size_t len)
{
        return len >= STORE_COMPRESS_MAGIC_LEN &&
               memcmp(stored, STORE_COMPRESS_MAGIC, STORE_COMPRESS_MAGIC_LEN) == 0;
}

/* zlib counts in uInt: longer buffers go in and out in pieces. */
static uInt chunk(size_t left)
{
        return left > UINT_MAX ? UINT_MAX : (uInt)left;
}

/* Both are no-ops on a stream whose init failed. */
static void deflate_endp(z_stream *z)
{
        deflateEnd(z);
}

static void inflate_endp(z_stream *z)
{
        inflateEnd(z);
}

int store_value_deflate(const void *data, size_t len, size_t max, char **ret, size_t *ret_len)
{
        if (max <= STORE_COMPRESS_MAGIC_LEN)
                return -EFBIG;
        _cleanup_(deflate_endp) z_stream z = {0};
        int rc = deflateInit(&z, DEFLATE_LEVEL);
        if (rc != Z_OK)
                return rc == Z_MEM_ERROR ? -ENOMEM : -EIO;
        /* No more room than the worst case needs (deflateBound, plus slack for
         * input handed over in pieces) nor than the caller accepts. */
        uLong bound = deflateBound(&z, len > ULONG_MAX ? ULONG_MAX : (uLong)len);
        size_t cap = max;
        if (bound < SIZE_MAX / 2 && STORE_COMPRESS_MAGIC_LEN + bound + 64 < cap)
                cap = STORE_COMPRESS_MAGIC_LEN + bound + 64;
        _cleanup_free_ char *out = malloc(cap);
        if (!out)
                return -ENOMEM;
        memcpy(out, STORE_COMPRESS_MAGIC, STORE_COMPRESS_MAGIC_LEN);

        const unsigned char *in = data;
        size_t in_left = len;
        size_t out_left = cap - STORE_COMPRESS_MAGIC_LEN;
        z.next_out = (unsigned char *)out + STORE_COMPRESS_MAGIC_LEN;
        for (;;) {
                if (z.avail_in == 0 && in_left > 0) {
                        z.next_in = (unsigned char *)in;
                        z.avail_in = chunk(in_left);
                        in += z.avail_in;
                        in_left -= z.avail_in;
                }
                if (z.avail_out == 0) {
                        if (out_left == 0)
                                return -EFBIG;
                        z.avail_out = chunk(out_left);
                        out_left -= z.avail_out;
                }
                rc = deflate(&z, in_left == 0 ? Z_FINISH : Z_NO_FLUSH);
                if (rc == Z_STREAM_END)
                        break;
                if (rc != Z_OK && rc != Z_BUF_ERROR)
                        return -EIO;
        }
        *ret_len = (size_t)((char *)z.next_out - out);
        *ret = TAKE_PTR(out);
        return 0;
}

int store_value_encode(const char *value, size_t len, char **ret_stored, size_t *ret_stored_len)
{
        /* A value that starts with the magic is wrapped whatever its size, so
         * that every stored value starting with it is a stream. */
        bool looks_compressed = store_value_is_compressed(value, len);
        if (!looks_compressed && len <= STORE_COMPRESS_MIN) {
                *ret_stored = NULL;
                *ret_stored_len = len;
                return 0;
        }
        char *out = NULL;
        size_t out_len = 0;
        int r =
            store_value_deflate(value, len, looks_compressed ? SIZE_MAX : len - 1, &out, &out_len);
        if (r == -EFBIG && !looks_compressed) {
                /* Not smaller compressed: stored as it is. */
                *ret_stored = NULL;
                *ret_stored_len = len;
                return 0;
        }
        if (r < 0)
                return r;
        *ret_stored = out;
        *ret_stored_len = out_len;
        return 0;
}

int store_value_inflate(const char *stored, size_t len, size_t max, char **ret, size_t *ret_len,
                        struct berth_error *err)
{
        if (!store_value_is_compressed(stored, len))
                return berth_error_set(err, -EPROTO, "not a compressed value");
        _cleanup_(inflate_endp) z_stream z = {0};
        int rc = inflateInit(&z);
        if (rc != Z_OK)
                return berth_error_set(err, rc == Z_MEM_ERROR ? -ENOMEM : -EIO,
                                       "zlib: cannot start inflating");

        const unsigned char *in = (const unsigned char *)stored + STORE_COMPRESS_MAGIC_LEN;
        size_t in_left = len - STORE_COMPRESS_MAGIC_LEN;
        /* One byte more than max may come out: that one says "over the cap". */
        size_t limit = max < SIZE_MAX - 1 ? max + 1 : SIZE_MAX - 1;
        size_t cap =
            in_left < SIZE_MAX / INFLATE_GUESS_RATIO ? in_left * INFLATE_GUESS_RATIO : SIZE_MAX;
        if (cap < INFLATE_GUESS_MIN)
                cap = INFLATE_GUESS_MIN;
        if (cap > limit)
                cap = limit;
        _cleanup_free_ char *out = malloc(cap + 1);
        if (!out)
                return berth_error_set(err, -ENOMEM, "out of memory");
        size_t out_len = 0;
        z.next_out = (unsigned char *)out;
        z.avail_out = chunk(cap);
        for (;;) {
                if (z.avail_in == 0 && in_left > 0) {
                        z.next_in = (unsigned char *)in;
                        z.avail_in = chunk(in_left);
                        in += z.avail_in;
                        in_left -= z.avail_in;
                }
                if (z.avail_out == 0) {
                        if (out_len == limit)
                                return berth_error_set(err, -EPROTO,
                                                       "inflates to more than %zu bytes", max);
                        if (out_len == cap) {
                                size_t ncap = cap < limit / 2 ? cap * 2 : limit;
                                char *n = realloc(out, ncap + 1);
                                if (!n)
                                        return berth_error_set(err, -ENOMEM, "out of memory");
                                out = n;
                                cap = ncap;
                        }
                        z.next_out = (unsigned char *)out + out_len;
                        z.avail_out = chunk(cap - out_len);
                }
                rc = inflate(&z, Z_NO_FLUSH);
                out_len = (size_t)((char *)z.next_out - out);
                if (rc == Z_STREAM_END)
                        break;
                if (rc == Z_MEM_ERROR)
                        return berth_error_set(err, -ENOMEM, "out of memory");
                if (rc == Z_BUF_ERROR && z.avail_in == 0 && in_left == 0)
                        return berth_error_set(err, -EPROTO, "zlib stream is truncated");
                if (rc != Z_OK && rc != Z_BUF_ERROR)
                        return berth_error_set(err, -EPROTO, "zlib: %s",
                                               z.msg ? z.msg : "corrupt stream");
        }
        if (out_len > max)
                return berth_error_set(err, -EPROTO, "inflates to more than %zu bytes", max);
        if (z.avail_in > 0 || in_left > 0)
                return berth_error_set(err, -EPROTO, "%zu bytes after the end of the zlib stream",
                                       (size_t)z.avail_in + in_left);
        out[out_len] = '\0';
        *ret_len = out_len;
        *ret = TAKE_PTR(out);
        return 0;
}

int store_kv_inflate(struct store_kv *kv, size_t *ret_inflated, struct berth_error *err)
{
        if (!kv->value || !store_value_is_compressed(kv->value, kv->value_len)) {
                if (ret_inflated)
                        *ret_inflated = 0;
                return 0;
        }
        char *value = NULL;
        size_t len = 0;
        int r =
            store_value_inflate(kv->value, kv->value_len, STORE_VALUE_PLAIN_MAX, &value, &len, err);
        if (r == -EPROTO)
                berth_error_prefix(err, "stored value of %s is corrupt (revision %" PRId64 ")",
                                   kv->key ? kv->key : "?", kv->mod_revision);
        else if (r < 0)
                berth_error_prefix(err, "inflate value of %s", kv->key ? kv->key : "?");
        if (r < 0)
                return r;
        free(kv->value);
        kv->value = value;
        kv->value_len = len;
        if (ret_inflated)
                *ret_inflated = len;
        return 0;
}
