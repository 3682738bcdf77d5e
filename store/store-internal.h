/* store internals: what the built-in backends share beyond store.h.
 *
 * The backend interface itself (struct store_ops, the registry of backends by
 * URL scheme) is public, at the end of store.h, because plugins/ implements it
 * for store plugins. Here: the built-in constructors, the value format and
 * small helpers.
 */
#pragma once

#include <inttypes.h>
#include <stddef.h>

#include "store.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Backend constructors. sqlite: 'location' is the part of the URL after "sqlite:";
 * etcd: the whole URL, since etcd:// and etcds:// differ. */
int store_sqlite_open(const char *location, struct store **ret, struct berth_error *err);
int store_etcd_open(const char *url, struct store **ret, struct berth_error *err);

/* ---- value format (compress.c, docs/internals/store.md) ---------------- */

/* A stored value is either the value itself or, when it starts with these 4
 * bytes, the magic followed by a zlib stream (RFC 1950) of the value. No JSON
 * or text starts with a NUL byte; a value that does start with the magic is
 * always stored compressed, so the two never mix up. */
#define STORE_COMPRESS_MAGIC     "\0bz1"
#define STORE_COMPRESS_MAGIC_LEN 4
/* Values up to this many bytes are stored as they are: compressing them would
 * save little and cost every write. */
#define STORE_COMPRESS_MIN (8 * 1024)

/* Whether stored starts with the magic. */
bool store_value_is_compressed(const char *stored, size_t len);
/* The bytes to store for a value: *ret_stored NULL when it is stored as it is
 * (at most STORE_COMPRESS_MIN bytes, or not smaller deflated), else the magic
 * and the stream, *ret_stored_len bytes, caller frees. -ENOMEM, -EIO. */
int store_value_encode(const char *value, size_t len, char **ret_stored, size_t *ret_stored_len);
/* The magic and a zlib stream (level 1) of data, when that is at most max bytes
 * (-EFBIG when not). *ret: caller frees. -ENOMEM, -EIO. */
int store_value_deflate(const void *data, size_t len, size_t max, char **ret, size_t *ret_len);
/* Inflates a stored value that starts with the magic into *ret (NUL-terminated,
 * not counted in *ret_len; caller frees), allocating at most about max bytes.
 * -EPROTO when it is not the magic and one complete zlib stream with nothing
 * after it (corrupt, truncated, bad checksum, trailing bytes) or inflates to
 * more than max bytes; -ENOMEM. err says why, without a key. */
int store_value_inflate(const char *stored, size_t len, size_t max, char **ret, size_t *ret_len,
                        struct berth_error *err);
/* Replaces kv->value (when compressed) by its inflated bytes, at most
 * STORE_VALUE_PLAIN_MAX; *ret_inflated (may be NULL) is their length, 0 when
 * nothing was inflated. kv is unchanged on failure: -EPROTO ("stored value of
 * <key> is corrupt ...: why"), -ENOMEM. */
int store_kv_inflate(struct store_kv *kv, size_t *ret_inflated, struct berth_error *err);

/* Smallest string greater than every string that starts with prefix (etcd's
 * "range_end"); *ret_end = NULL when there is none (empty prefix or only 0xff
 * bytes), meaning "no upper bound". Caller frees. */
int store_prefix_end(const char *prefix, char **ret_end);
