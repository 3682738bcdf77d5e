/* secrets-internal.h: the keyring as the files of the secrets module share
 * it (keyring.c makes it, seal.c uses it). */
#pragma once

#include <openssl/crypto.h>

#include "manifests.h"
#include "secrets.h"

struct secrets_key {
        char id[SECRET_KEYID_LEN + 1];
        unsigned char key[SECRETS_KEY_BYTES];
};

/* keys[0] is the active key. */
struct secrets_keyring {
        struct secrets_key *keys;
        size_t n;
};

/* The key with that id, or NULL. */
const struct secrets_key *secrets_keyring_find(const struct secrets_keyring *ring, const char *id);
/* Whether s is SECRET_KEYID_LEN lowercase hex digits. */
bool secrets_keyid_valid(const char *s, size_t len);
