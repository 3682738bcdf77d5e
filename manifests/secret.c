/* secret.c: the Secret kind — names, schema and `berth get` columns
 * (docs/reference/secret.md).
 *
 * A Secret is written as Kubernetes users write it: type, data and
 * stringData at the top level beside metadata, no spec (kind_info's
 * check_object). What is checked here is the shape a user submits; sealing
 * the values (and opening them again) is the secrets module's. A stored
 * Secret's data values are sealed, and a read-modify-write of one hands
 * them back as they are: their shape is accepted too. */
#include "manifests-internal.h"

#define KEY_RULE                                                                                   \
        "must be at most 253 letters, digits, '-', '_' or '.', and neither \".\" nor \"..\" nor "  \
        "start with \"..\" (a key names a file in a secret volume)"

/* AES-GCM's nonce and tag around a sealed value (the secrets module's
 * format): what a sealed value may hold beyond SECRET_VALUE_MAX. */
#define SEALED_OVERHEAD (12 + 16)

static const char *const secret_fields[] = {"type", "data", "stringData", NULL};

bool secret_key_is_valid(const char *key)
{
        size_t len = key ? strlen(key) : 0;

        if (len == 0 || len > SECRET_KEY_LEN_MAX || streq(key, ".") || str_has_prefix(key, ".."))
                return false;
        for (const char *p = key; *p; p++)
                if (!ascii_alnum(*p) && *p != '-' && *p != '_' && *p != '.')
                        return false;
        return true;
}

static bool is_base64_char(char ch)
{
        return ascii_alnum(ch) || ch == '+' || ch == '/' || ch == '=';
}

bool secret_value_is_sealed(const char *s)
{
        const char *p;

        if (!str_has_prefix(s, SECRET_SEALED_PREFIX))
                return false;
        p = s + strlen(SECRET_SEALED_PREFIX);
        for (int i = 0; i < SECRET_KEYID_LEN; i++, p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        if (*p++ != ':' || !*p)
                return false;
        for (; *p; p++)
                if (!is_base64_char(*p))
                        return false;
        return true;
}

bool field_errors_too_large(const struct field_errors *errs)
{
        for (size_t i = 0; errs && i < errs->n; i++)
                if (str_has_prefix(errs->items[i].message, FIELD_TOO_LARGE))
                        return true;
        return false;
}

static void too_large(struct check *c, const char *path, size_t size)
{
        check_error(c, path, FIELD_TOO_LARGE "%zu bytes, a value may have at most %d bytes", size,
                    SECRET_VALUE_MAX);
}

/* A data value: base64 of at most SECRET_VALUE_MAX bytes, or a sealed one
 * (a stored Secret read back). */
static void check_data_value(struct check *c, const char *path, const json_t *v)
{
        const char *s = json_string_value(v);
        size_t len = s ? strlen(s) : 0;
        _cleanup_free_ char *decoded = NULL;
        size_t n = 0;

        if (!s) {
                check_error(c, path, "must be a base64 string (plain text goes in stringData)");
                return;
        }
        if (secret_value_is_sealed(s)) {
                /* Whether it opens is for the writer, which has the keys. */
                const char *b64 = strchr(s + strlen(SECRET_SEALED_PREFIX), ':') + 1;
                if ((strlen(b64) / 4) * 3 > (size_t)SECRET_VALUE_MAX + SEALED_OVERHEAD + 2)
                        too_large(c, path, (strlen(b64) / 4) * 3 - SEALED_OVERHEAD);
                return;
        }
        /* Decoding allocates: a value far over the limit is refused first. */
        if (len / 4 * 3 > (size_t)SECRET_VALUE_MAX + 2) {
                too_large(c, path, len / 4 * 3);
                return;
        }
        int r = base64_decode(s, len, &decoded, &n);
        if (r == -ENOMEM) {
                c->r = r;
                return;
        }
        if (r < 0) {
                if (streq(s, SECRET_REDACTED))
                        check_error(c, path,
                                    "not valid base64: \"%s\" is what a read shows without "
                                    "?showValues=true; write the value itself",
                                    SECRET_REDACTED);
                else
                        check_error(c, path,
                                    "not valid base64 (plain text goes in stringData: "
                                    "stringData.%s)",
                                    path + strlen("data."));
                return;
        }
        if (n > SECRET_VALUE_MAX)
                too_large(c, path, n);
}

/* The keys of data or stringData (checked); their values by check_value.
 * Every valid key is recorded in keys (key → true). */
static void check_values(struct check *c, const json_t *object, const char *field, json_t *keys)
{
        const json_t *map = check_object(c, object, "", field, false);
        const char *key;
        json_t *v;

        json_object_foreach((json_t *)map, key, v)
        {
                _cleanup_free_ char *path = check_join(c, field, key);

                if (!path)
                        return;
                if (!secret_key_is_valid(key)) {
                        check_error(c, path, "invalid key \"%.64s%s\": " KEY_RULE, key,
                                    strlen(key) > 64 ? "..." : "");
                        continue;
                }
                if (json_object_set_new(keys, key, json_true()) < 0) {
                        c->r = -ENOMEM;
                        return;
                }
                if (streq(field, "data")) {
                        check_data_value(c, path, v);
                } else if (!json_is_string(v)) {
                        check_error(c, path, "must be a string (quote numbers and booleans)");
                } else if (json_string_length(v) > SECRET_VALUE_MAX) {
                        too_large(c, path, json_string_length(v));
                }
        }
}

static void check_type(struct check *c, const json_t *object)
{
        const char *type = check_string(c, object, "", "type", false);

        if (!type)
                return;
        size_t len = strlen(type);
        bool printable = len > 0 && len <= SECRET_TYPE_MAX;
        for (const char *p = type; printable && *p; p++)
                printable = *p > ' ' && *p < 0x7f;
        if (!printable)
                check_error(c, "type",
                            "must be 1 to %d printable characters without spaces, such as "
                            "\"" SECRET_TYPE_DEFAULT "\"",
                            SECRET_TYPE_MAX);
}

/* Checks a Secret's own fields: type, data, stringData. A key in both is
 * one key: stringData's value wins, as in Kubernetes. */
static void secret_check(struct check *c, const json_t *object)
{
        _cleanup_json_ json_t *keys = json_object();

        if (!keys) {
                c->r = -ENOMEM;
                return;
        }
        check_type(c, object);
        check_values(c, object, "data", keys);
        check_values(c, object, "stringData", keys);
        if (json_object_size(keys) > SECRET_KEYS_MAX)
                check_error(
                    c, json_object_size(json_object_get(object, "data")) ? "data" : "stringData",
                    "at most %d keys, found %zu (data and stringData together)", SECRET_KEYS_MAX,
                    json_object_size(keys));
}

static const struct printer_column secret_columns[] = {
    {.title = "TYPE", .path = "type", .format = COLUMN_TEXT, .fallback = SECRET_TYPE_DEFAULT},
    {.title = "DATA", .path = "data", .format = COLUMN_LENGTH},
    {.title = "AGE", .path = "metadata.creationTimestamp", .format = COLUMN_AGE},
    {0},
};

const struct kind_info kind_secret = {
    .kind = "Secret",
    .resource = "secrets",
    .singular = "secret",
    .namespaced = true,
    .columns = secret_columns,
    .object_fields = secret_fields,
    .check_object = secret_check,
};
