/* token.c: the Token kind — a bearer credential of the API, cluster-scoped:
 * names, schema, defaults, the typed spec and its `berth get` columns
 * (docs/reference/rbac.md, "Token").
 *
 * The secret never reaches the server: `berth token create` makes it and
 * sends its SHA-256 (spec.secretHash), so neither the store nor a backup of
 * it holds anything that logs in. */
#include "manifests-internal.h"

static const char *const token_fields[] = {
    "user", "groups", "expirationTimestamp", "secretHash", "revoked", "description", NULL,
};

#define SECRET_HASH_RULE                                                                           \
        "must be \"" TOKEN_SECRET_HASH_PREFIX "\" followed by 64 lowercase hex digits: the "       \
        "SHA-256 of the secret, which berth token create makes"

bool token_secret_hash_is_valid(const char *s)
{
        size_t prefix = strlen(TOKEN_SECRET_HASH_PREFIX);

        if (!s || strlen(s) != TOKEN_SECRET_HASH_LEN ||
            !str_has_prefix(s, TOKEN_SECRET_HASH_PREFIX))
                return false;
        for (const char *p = s + prefix; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        return true;
}

bool token_spec_active(const struct token_spec *spec, int64_t now_ms)
{
        return spec && !spec->revoked && (spec->expires_ms == 0 || now_ms < spec->expires_ms);
}

static void check_groups(struct check *c, const json_t *spec, struct token_spec *out)
{
        const json_t *arr = check_string_array(c, spec, "spec", "groups");
        size_t i;
        json_t *item;

        if (!arr)
                return;
        if (json_array_size(arr) > TOKEN_GROUPS_MAX) {
                check_error(c, "spec.groups", "must have at most %d entries, has %zu",
                            TOKEN_GROUPS_MAX, json_array_size(arr));
                return;
        }
        json_array_foreach(arr, i, item)
        {
                _cleanup_free_ char *path = check_index(c, "spec.groups", i);

                if (!path)
                        return;
                if (check_subject_name(c, path, json_string_value(item)))
                        out->groups[out->n_groups++] = json_string_value(item);
        }
}

/* spec.expirationTimestamp in ms since the epoch; 0 when absent or wrong. */
static int64_t check_expiration(struct check *c, const json_t *spec)
{
        const char *s = check_string(c, spec, "spec", "expirationTimestamp", false);
        int64_t t;

        if (!s)
                return 0;
        if (time_parse_rfc3339(s, &t) < 0) {
                check_error(c, "spec.expirationTimestamp",
                            "invalid time \"%s\": must be an RFC 3339 time like "
                            "2026-01-01T00:00:00Z",
                            s);
                return 0;
        }
        /* 0 means "never" in the typed spec, and the epoch is no useful expiry. */
        if (t <= 0) {
                check_error(c, "spec.expirationTimestamp", "must be after 1970-01-01T00:00:00Z");
                return 0;
        }
        return t;
}

/* Checks a Token spec and, when ret_spec is not NULL, decodes it. */
static void token_check(struct check *c, const json_t *spec, void *ret_spec)
{
        struct token_spec out = {0};
        const char *hash;

        check_unknown_fields(c, spec, "spec", token_fields);
        out.user = check_string(c, spec, "spec", "user", true);
        if (out.user && !check_subject_name(c, "spec.user", out.user))
                out.user = NULL;
        check_groups(c, spec, &out);
        out.expires_ms = check_expiration(c, spec);
        hash = check_string(c, spec, "spec", "secretHash", true);
        if (hash && !token_secret_hash_is_valid(hash))
                check_error(c, "spec.secretHash", SECRET_HASH_RULE);
        out.secret_hash = hash;
        out.revoked = check_bool(c, spec, "spec", "revoked", false);
        out.description = check_string(c, spec, "spec", "description", false);
        if (out.description && strlen(out.description) > TOKEN_DESCRIPTION_MAX)
                check_error(c, "spec.description", "must be at most %d bytes, has %zu",
                            TOKEN_DESCRIPTION_MAX, strlen(out.description));
        if (ret_spec)
                *(struct token_spec *)ret_spec = out;
}

int token_spec_decode(const json_t *object, struct token_spec *ret, struct berth_error *err)
{
        struct token_spec s;
        int r = check_decode(&kind_token, object, &s, err);

        if (r == 0)
                *ret = s;
        return r;
}

static void token_defaults(json_t *spec)
{
        json_set_default(spec, "groups", json_array());
        json_set_default(spec, "revoked", json_false());
}

static const struct printer_column token_columns[] = {
    {.title = "USER", .path = "spec.user", .format = COLUMN_TEXT},
    {.title = "GROUPS", .path = "spec.groups", .format = COLUMN_TEXT},
    {.title = "EXPIRES",
     .path = "spec.expirationTimestamp",
     .format = COLUMN_UNTIL,
     .fallback = "never"},
    {.title = "REVOKED", .path = "spec.revoked", .format = COLUMN_TEXT, .fallback = "false"},
    {.title = "AGE", .path = "metadata.creationTimestamp", .format = COLUMN_AGE},
    {.title = "DESCRIPTION", .path = "spec.description", .format = COLUMN_ONE_LINE, .wide = true},
    {0},
};

const struct kind_info kind_token = {
    .kind = "Token",
    .resource = "tokens",
    .singular = "token",
    .namespaced = false,
    .access_control = true,
    .columns = token_columns,
    .check_spec = token_check,
    .default_spec = token_defaults,
};
