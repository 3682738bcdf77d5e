/* object.c: a Secret object on its way into the store (sealed), out of it
 * (redacted or revealed) and into a container (lookup, foreach). */
#include <openssl/crypto.h>

#include "secrets-internal.h"

/* The place a Secret's values are bound to. */
struct place {
        const char *ns;
        const char *name;
};

static int place_of(const json_t *obj, struct place *ret, struct berth_error *err)
{
        const char *ns = json_path_string(obj, "metadata.namespace");
        const char *name = json_path_string(obj, "metadata.name");

        if (!name)
                return berth_error_set(err, -EINVAL, "metadata.name: required");
        *ret = (struct place){ns && *ns ? ns : "default", name};
        return 0;
}

/* The bytes of a value as it may be found in an object: sealed (opened),
 * plain base64 (data) or text (stringData). Errors name field. */
static int value_bytes(const struct secrets_keyring *ring, const struct place *pl,
                       const char *field, const char *key, const json_t *v, unsigned char **ret,
                       size_t *ret_len, struct berth_error *err)
{
        const char *s = json_string_value(v);
        int r;

        if (!s)
                return berth_error_set(err, -EINVAL, "%s.%s: must be a string", field, key);
        if (streq(field, "stringData")) {
                size_t len = json_string_length(v);
                unsigned char *copy = malloc(len + 1);
                if (!copy)
                        return berth_error_set(err, -ENOMEM, "out of memory");
                memcpy(copy, s, len + 1);
                *ret = copy;
                *ret_len = len;
                return 0;
        }
        if (secret_value_is_sealed(s)) {
                _cleanup_free_ char *aad = secret_aad(pl->ns, pl->name, key);
                if (!aad)
                        return berth_error_set(err, -ENOMEM, "out of memory");
                r = secret_open(ring, aad, s, ret, ret_len, err);
                if (r < 0)
                        berth_error_prefix(err, "%s.%s", field, key);
                return r;
        }
        char *bytes = NULL;
        size_t len = 0;
        r = base64_decode(s, strlen(s), &bytes, &len);
        if (r == -ENOMEM)
                return berth_error_set(err, r, "out of memory");
        if (r < 0)
                return berth_error_set(err, -EINVAL, "%s.%s: not valid base64", field, key);
        *ret = (unsigned char *)bytes;
        *ret_len = len;
        return 0;
}

/* The sealed text current holds for key when it opens to the same bytes
 * under the active key, else NULL. Borrowed from current. */
static const char *same_as_current(const struct secrets_keyring *ring, const struct place *pl,
                                   const json_t *current, const char *key,
                                   const unsigned char *bytes, size_t len)
{
        const char *s = json_string_value(json_object_get(json_object_get(current, "data"), key));
        char id[16];
        unsigned char *old = NULL;
        size_t old_len = 0;
        struct place cur = {0};

        /* Its place is the same: a replace never renames. */
        if (!s || secret_sealed_keyid(s, id) < 0 || !streq(id, secrets_keyring_active_id(ring)) ||
            place_of(current, &cur, NULL) < 0 || !streq(cur.ns, pl->ns) ||
            !streq(cur.name, pl->name))
                return NULL;
        _cleanup_free_ char *aad = secret_aad(pl->ns, pl->name, key);
        if (!aad || secret_open(ring, aad, s, &old, &old_len, NULL) < 0)
                return NULL;
        bool same = old_len == len && CRYPTO_memcmp(old, bytes, len) == 0;
        secret_bytes_free(old, old_len);
        return same ? s : NULL;
}

/* The stored text of one value: kept when it is sealed by the active key
 * already, current's when that opens to the same bytes, else sealed anew. */
static int seal_value(const struct secrets_keyring *ring, const struct place *pl,
                      const json_t *current, const char *field, const char *key, const json_t *v,
                      json_t *out, struct berth_error *err)
{
        const char *s = json_string_value(v);
        char id[16];
        unsigned char *bytes = NULL;
        size_t len = 0;
        int r;

        r = value_bytes(ring, pl, field, key, v, &bytes, &len, err);
        if (r < 0)
                return r;
        if (len > SECRET_VALUE_MAX) {
                secret_bytes_free(bytes, len);
                return berth_error_set(err, -E2BIG,
                                       "%s.%s: " FIELD_TOO_LARGE
                                       "%zu bytes, a value may have at most %d bytes",
                                       field, key, len, SECRET_VALUE_MAX);
        }
        const char *keep = NULL;
        if (streq(field, "data") && secret_sealed_keyid(s, id) == 0 &&
            streq(id, secrets_keyring_active_id(ring)))
                keep = s;
        else
                keep = same_as_current(ring, pl, current, key, bytes, len);
        if (keep) {
                secret_bytes_free(bytes, len);
                return json_object_set_new(out, key, json_string(keep)) < 0
                           ? berth_error_set(err, -ENOMEM, "out of memory")
                           : 0;
        }
        _cleanup_free_ char *aad = secret_aad(pl->ns, pl->name, key);
        char *sealed = NULL;
        r = aad ? secret_seal(ring, aad, bytes, len, &sealed, err)
                : berth_error_set(err, -ENOMEM, "out of memory");
        secret_bytes_free(bytes, len);
        if (r < 0) {
                berth_error_prefix(err, "%s.%s", field, key);
                return r;
        }
        r = json_object_set_new(out, key, json_string(sealed)) < 0 ? -ENOMEM : 0;
        free(sealed);
        return r < 0 ? berth_error_set(err, r, "out of memory") : 0;
}

int secret_object_seal(const struct secrets_keyring *ring, json_t *obj, const json_t *current,
                       struct berth_error *err)
{
        const json_t *data = json_object_get(obj, "data");
        const json_t *string_data = json_object_get(obj, "stringData");
        _cleanup_json_ json_t *out = json_object();
        struct place pl;
        const char *key;
        json_t *v;
        int r;

        if (!json_is_object(obj))
                return berth_error_set(err, -EINVAL, "not a Secret");
        if (!ring || ring->n == 0)
                return berth_error_set(err, -ENOKEY, "no keyring to seal with");
        if (!out)
                return berth_error_set(err, -ENOMEM, "out of memory");
        r = place_of(obj, &pl, err);
        if (r < 0)
                return r;
        if ((data && !json_is_object(data) && !json_is_null(data)) ||
            (string_data && !json_is_object(string_data) && !json_is_null(string_data)))
                return berth_error_set(err, -EINVAL, "data and stringData must be objects");
        json_object_foreach((json_t *)data, key, v)
        {
                if (json_object_get(string_data, key))
                        continue; /* stringData's wins */
                r = seal_value(ring, &pl, current, "data", key, v, out, err);
                if (r < 0)
                        return r;
        }
        json_object_foreach((json_t *)string_data, key, v)
        {
                r = seal_value(ring, &pl, current, "stringData", key, v, out, err);
                if (r < 0)
                        return r;
        }
        if (json_object_size(out) > SECRET_KEYS_MAX)
                return berth_error_set(err, -EINVAL, "data: at most %d keys, found %zu",
                                       SECRET_KEYS_MAX, json_object_size(out));
        if (json_object_set_new(obj, "data", TAKE_PTR(out)) < 0)
                return berth_error_set(err, -ENOMEM, "out of memory");
        (void)json_object_del(obj, "stringData");
        return 0;
}

int secret_apply_transform(json_t *obj, const json_t *current, void *userdata,
                           struct berth_error *err)
{
        if (!streq(json_string_value(json_object_get(obj, "kind")), "Secret"))
                return 0;
        return secret_object_seal(userdata, obj, current, err);
}

json_t *secret_object_redact(const json_t *obj)
{
        static const char *const fields[] = {"data", "stringData"};
        _cleanup_json_ json_t *copy = json_deep_copy(obj);

        if (!copy)
                return NULL;
        for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
                json_t *map = json_object_get(copy, fields[i]);
                const char *key;
                json_t *v;

                json_object_foreach(map, key, v)
                {
                        if (json_object_set_new(map, key, json_string(SECRET_REDACTED)) < 0)
                                return NULL;
                }
        }
        return TAKE_PTR(copy);
}

int secret_object_reveal(const struct secrets_keyring *ring, const json_t *obj, json_t **ret,
                         struct berth_error *err)
{
        _cleanup_json_ json_t *copy = json_deep_copy(obj);
        json_t *data = json_object_get(copy, "data");
        struct place pl;
        const char *key;
        json_t *v;
        int r;

        if (!copy)
                return berth_error_set(err, -ENOMEM, "out of memory");
        r = place_of(obj, &pl, err);
        if (r < 0)
                return r;
        json_object_foreach(data, key, v)
        {
                unsigned char *bytes = NULL;
                size_t len = 0;

                if (!secret_value_is_sealed(json_string_value(v)))
                        continue;
                r = value_bytes(ring, &pl, "data", key, v, &bytes, &len, err);
                if (r < 0)
                        return r;
                char *b64 = base64_encode(bytes, len);
                secret_bytes_free(bytes, len);
                r = b64 ? json_object_set_new(data, key, json_string(b64)) : -1;
                if (b64)
                        OPENSSL_cleanse(b64, strlen(b64));
                free(b64);
                if (r < 0)
                        return berth_error_set(err, -ENOMEM, "out of memory");
        }
        *ret = TAKE_PTR(copy);
        return 0;
}

int secret_lookup(const struct secrets_keyring *ring, const json_t *obj, const char *key,
                  unsigned char **ret, size_t *ret_len, struct berth_error *err)
{
        const json_t *v = json_object_get(json_object_get(obj, "stringData"), key);
        const char *field = "stringData";
        struct place pl;
        int r;

        if (!key)
                return berth_error_set(err, -EINVAL, "no key");
        if (!v) {
                v = json_object_get(json_object_get(obj, "data"), key);
                field = "data";
        }
        if (!v)
                return berth_error_set(err, -ENOENT, "no key %s", key);
        r = place_of(obj, &pl, err);
        if (r < 0)
                return r;
        return value_bytes(ring, &pl, field, key, v, ret, ret_len, err);
}

int secret_foreach(const struct secrets_keyring *ring, const json_t *obj, secret_value_fn fn,
                   void *userdata, struct berth_error *err)
{
        const json_t *data = json_object_get(obj, "data");
        const json_t *string_data = json_object_get(obj, "stringData");
        const char *key;
        json_t *v;
        int r;

        json_object_foreach((json_t *)data, key, v)
        {
                unsigned char *bytes = NULL;
                size_t len = 0;

                if (json_object_get(string_data, key))
                        continue;
                r = secret_lookup(ring, obj, key, &bytes, &len, err);
                if (r < 0)
                        return r;
                r = fn(key, bytes, len, userdata);
                secret_bytes_free(bytes, len);
                if (r < 0)
                        return r;
        }
        json_object_foreach((json_t *)string_data, key, v)
        {
                unsigned char *bytes = NULL;
                size_t len = 0;

                r = secret_lookup(ring, obj, key, &bytes, &len, err);
                if (r < 0)
                        return r;
                r = fn(key, bytes, len, userdata);
                secret_bytes_free(bytes, len);
                if (r < 0)
                        return r;
        }
        return 0;
}
