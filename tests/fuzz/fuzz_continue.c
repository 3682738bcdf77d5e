/* Fuzz target for continue tokens (api/continue.c). The input is
 *   1  a token, decoded against a fixed list id and against the id the
 *      token itself names (the bytes after the revision, when it decodes);
 *   2… a key: encoded with a revision from the input's length, decoded back.
 * Besides memory errors and UB it aborts when
 *   - a refusal is not a 400 naming the continue token, or touches *ret,
 *   - a token that decodes does not encode back to itself, or decodes with
 *     a revision <= 0, an empty key or one with control characters,
 *   - a key that encodes does not decode back to itself and its revision,
 *     or an encoded token is longer than API_CONTINUE_MAX. */
#include <stdint.h>

#include "api-internal.h"

static void check_refusal(const struct api_error *err, int rc, const struct api_continue *c)
{
        if (rc >= 0 || (err->code != 400 && err->code != 500) ||
            (err->code == 400 && !strstr(err->message, "continue token")) || c->revision != -7)
                abort();
}

static void check_decoded(const char *token, const struct api_continue *c)
{
        if (c->revision <= 0 || !c->key[0])
                abort();
        for (const char *p = c->key; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        abort();
        _cleanup_free_ char *again = NULL;
        if (api_continue_encode(c, &again) < 0 || !streq(again, token))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *copy = strndup((const char *)data, size);
        if (!copy)
                return 0;
        char *nl = strchr(copy, '\n');
        const char *key = "";
        if (nl) {
                *nl = '\0';
                key = nl + 1;
        }
        const char *token = copy;

        uint8_t id[API_CONTINUE_ID_LEN];
        api_continue_list_id("tasks", "default", NULL, NULL, id);
        struct api_continue c = {.revision = -7};
        struct api_error err = {0};
        int rc = api_continue_decode(token, id, &c, &err);
        if (rc < 0) {
                check_refusal(&err, rc, &c);
                /* "another list" is the only refusal a different id can
                 * change: try the id the token names, if it has one. */
                if (strstr(err.message, "another list")) {
                        api_error_release(&err);
                        err = (struct api_error){0};
                        _cleanup_free_ char *std = strdup(token);
                        char *raw = NULL;
                        size_t n = 0;
                        for (char *p = std; p && *p; p++)
                                *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
                        if (std && base64_decode(std, strlen(std), &raw, &n) == 0 &&
                            n >= 1 + 8 + API_CONTINUE_ID_LEN) {
                                memcpy(id, raw + 9, API_CONTINUE_ID_LEN);
                                c = (struct api_continue){.revision = -7};
                                if (api_continue_decode(token, id, &c, &err) < 0)
                                        abort(); /* only the id was wrong */
                                check_decoded(token, &c);
                        }
                        free(raw);
                }
        } else {
                check_decoded(token, &c);
        }
        api_error_release(&err);

        struct api_continue k = {.revision = (int64_t)size + 1};
        memcpy(k.list, id, sizeof(k.list));
        if (str_copy(k.key, sizeof(k.key), key) < 0)
                return 0;
        _cleanup_free_ char *t = NULL;
        if (api_continue_encode(&k, &t) < 0)
                return 0;
        if (strlen(t) > API_CONTINUE_MAX)
                abort();
        struct api_continue back = {.revision = -7};
        err = (struct api_error){0};
        if (api_continue_decode(t, id, &back, &err) < 0 || back.revision != k.revision ||
            !streq(back.key, k.key))
                abort();
        return 0;
}
