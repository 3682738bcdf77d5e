/* Fuzz target for the secrets module's parsers: the input as a key file
 * (secrets_keyring_parse) and as a sealed value opened with a fixed key
 * (secret_open). Besides memory errors and UB it aborts when
 *   - a key file parses into a keyring without keys, more than
 *     SECRETS_KEYS_MAX, or an active id that is not 8 hex digits; or fails
 *     with another error than -EINVAL or -E2BIG, or a message that does not
 *     name the file,
 *   - opening fails with an unexpected error, or touches its outputs,
 *   - a text that is no sealed value's shape opens, or one that opens does
 *     not seal and open again to the same bytes, or opens under another
 *     place (additional data). */
#include <stdint.h>

#include "manifests.h"
#include "secrets.h"

#define FUZZ_TEXT_MAX (SECRETS_KEY_FILE_MAX + 1)
#define SOURCE        "fuzz.key"
#define AAD           "default/db/password"
/* 32 bytes of 0x61 as key 0000000a. */
#define KEY_FILE "v1 0000000a YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=\n"

static void fuzz_key_file(const char *text, size_t len)
{
        struct secrets_keyring *ring = NULL;
        struct berth_error err = {0};
        int r = secrets_keyring_parse(text, len, SOURCE, &ring, &err);

        if (r < 0) {
                if ((r != -EINVAL && r != -E2BIG && r != -ENOMEM) || ring ||
                    !str_has_prefix(err.message, SOURCE ":")) {
                        fprintf(stderr, "parse: %d \"%s\"\n", r, err.message);
                        abort();
                }
                return;
        }
        const char *id = secrets_keyring_active_id(ring);
        size_t n = secrets_keyring_size(ring);
        if (n == 0 || n > SECRETS_KEYS_MAX || !id || strlen(id) != SECRET_KEYID_LEN ||
            strspn(id, "0123456789abcdef") != SECRET_KEYID_LEN)
                abort();
        secrets_keyring_free(ring);
}

static void fuzz_open(const struct secrets_keyring *ring, const char *text)
{
        unsigned char *plain = (unsigned char *)&plain; /* a sentinel */
        size_t len = 42;
        struct berth_error err = {0};
        int r = secret_open(ring, AAD, text, &plain, &len, &err);

        if (r < 0) {
                if (r != -EINVAL && r != -ENOKEY && r != -EBADMSG && r != -E2BIG && r != -ENOMEM)
                        abort();
                if (plain != (unsigned char *)&plain || len != 42 || !err.message[0])
                        abort();
                return;
        }
        if (!secret_value_is_sealed(text) || len > SECRET_VALUE_MAX || plain[len] != '\0')
                abort();
        /* Bound to its place: elsewhere it does not open. */
        unsigned char *other = NULL;
        size_t other_len = 0;
        if (secret_open(ring, "default/db/user", text, &other, &other_len, NULL) != -EBADMSG)
                abort();
        char *again = NULL;
        unsigned char *back = NULL;
        size_t back_len = 0;
        if (secret_seal(ring, AAD, plain, len, &again, NULL) < 0 ||
            secret_open(ring, AAD, again, &back, &back_len, NULL) < 0 || back_len != len ||
            memcmp(back, plain, len) != 0)
                abort();
        free(again);
        secret_bytes_free(back, back_len);
        secret_bytes_free(plain, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct secrets_keyring *ring;
        static char text[FUZZ_TEXT_MAX + 1];
        size_t len = size < FUZZ_TEXT_MAX ? size : FUZZ_TEXT_MAX;

        if (!ring && secrets_keyring_parse(KEY_FILE, strlen(KEY_FILE), "fixed", &ring, NULL) < 0)
                abort();
        memcpy(text, data, len);
        text[len] = '\0';
        fuzz_key_file(text, len);
        /* An embedded NUL ends the value. */
        fuzz_open(ring, text);
        return 0;
}
