/* secrets: Secret values encrypted at rest (docs/reference/secret.md).
 *
 * - The keyring: <data-dir>/secrets.key, one key a line,
 *       v1 <keyid> <base64 of 32 random bytes>
 *   (keyid: SECRET_KEYID_LEN lowercase hex digits; blank lines and lines
 *   starting with '#' are skipped). The first key is the active one, which
 *   seals; the others only open what they sealed before. Rotation: an admin
 *   adds a new line at the top and restarts berthd; values move to the new
 *   key when their Secret is next written (an apply of it, a replace).
 *   berthd makes the file (mode 0600, one new key) on its first start and
 *   refuses to start when it is unreadable, malformed, not a regular file,
 *   not owned by berthd's user or readable by anyone else.
 * - A value: AES-256-GCM under a random 96-bit nonce, bound to its place
 *   by the additional data "<namespace>/<name>/<key>", so that a value
 *   copied to another Secret or key does not open. Text form:
 *       enc:v1:<keyid>:<base64(nonce || ciphertext || tag)>
 * - The object helpers: what the API does to a Secret on its way into the
 *   store (seal), on its way out (redact, or reveal for ?showValues=true),
 *   and what the reconcilers read (lookup, foreach).
 * - Secret volumes: a tmpfs directory on the host where berthd writes a
 *   Secret's keys as files, bind-mounted read-only into the container.
 *
 * Errors: -EINVAL (not the expected shape), -ENOKEY (sealed with a key the
 * keyring does not hold, or no keyring), -EBADMSG (does not open: tampered
 * with, or moved to another place), -E2BIG (a value over SECRET_VALUE_MAX:
 * the API answers 413), -ENOENT (no such key), -EIO (the random source or
 * the cipher failed), -ENOMEM; err says which field. A keyring is
 * immutable once loaded and may be shared by threads. Nothing here logs,
 * and no message ever holds a value.
 */
#pragma once

#include "common.h"

#define SECRETS_KEY_FILE     "secrets.key"
#define SECRETS_KEY_BYTES    32          /* AES-256 */
#define SECRETS_KEYS_MAX     64          /* keys of one key file */
#define SECRETS_KEY_FILE_MAX (64 * 1024) /* bytes of a key file */
#define SECRETS_NONCE_BYTES  12
#define SECRETS_TAG_BYTES    16

struct secrets_keyring;

/* Reads <dir>/SECRETS_KEY_FILE, first making it (0600, one random key) when
 * there is none. -errno with err naming the file, and the line for a
 * malformed one ("/var/lib/berth/secrets.key:3: key has 16 bytes, want
 * 32"). Caller frees with secrets_keyring_free(). */
int secrets_keyring_load(const char *dir, struct secrets_keyring **ret, struct berth_error *err);
/* Parses key file text (source names it in errors). -EINVAL with err
 * "source:line: what", or "source: no keys". */
int secrets_keyring_parse(const char *text, size_t len, const char *source,
                          struct secrets_keyring **ret, struct berth_error *err);
void secrets_keyring_free(struct secrets_keyring *ring); /* NULL ok; wipes the keys */
/* The active key's id. Borrowed from ring. */
const char *secrets_keyring_active_id(const struct secrets_keyring *ring);
size_t secrets_keyring_size(const struct secrets_keyring *ring);

/* ---- one value ---------------------------------------------------------- */

/* "<ns>/<name>/<key>": what a value is bound to. Caller frees; NULL on OOM. */
char *secret_aad(const char *ns, const char *name, const char *key);
/* Seals len bytes of data with the active key, bound to aad: *ret is the
 * text form (caller frees). */
int secret_seal(const struct secrets_keyring *ring, const char *aad, const void *data, size_t len,
                char **ret, struct berth_error *err);
/* Opens a sealed text bound to aad: *ret (NUL-terminated beyond *ret_len;
 * caller frees with secret_bytes_free) and *ret_len. */
int secret_open(const struct secrets_keyring *ring, const char *aad, const char *sealed,
                unsigned char **ret, size_t *ret_len, struct berth_error *err);
/* The key id of a sealed text into ret, or -EINVAL when it is none. */
int secret_sealed_keyid(const char *sealed, char ret[16]);
/* Wipes and frees len bytes at p (NULL ok). */
void secret_bytes_free(void *p, size_t len);

/* ---- objects ------------------------------------------------------------ */

/* Makes a validated Secret (defaults applied) what the store keeps:
 * stringData merged into data (its value wins for a key in both) and
 * dropped, every data value sealed. A value already sealed is opened to
 * check it belongs here, and kept as it is when the active key sealed it
 * (sealed again with it otherwise: rotation). current is the stored object
 * being replaced, or NULL: a value that opens from current to the same
 * bytes keeps current's text, so that applying the same Secret again
 * changes nothing. On error obj may be half done; err names the field
 * ("data.password: ..."). -E2BIG for a value over SECRET_VALUE_MAX. */
int secret_object_seal(const struct secrets_keyring *ring, json_t *obj, const json_t *current,
                       struct berth_error *err);
/* For apply (apply.h, apply_opts.transform; userdata: the keyring): seals
 * obj with secret_object_seal(ring, obj, current) when it is a Secret,
 * leaves any other kind as it is. Every writer of user objects (the API's
 * create, replace and apply, a Source's sync) puts a Secret in the store
 * through it or secret_object_seal. */
int secret_apply_transform(json_t *obj, const json_t *current, void *userdata,
                           struct berth_error *err);
/* A copy of a Secret with every value of data (and stringData) replaced by
 * SECRET_REDACTED: what reads show. New reference; NULL on OOM. */
json_t *secret_object_redact(const json_t *obj);
/* A copy of a stored Secret with every sealed data value opened back to its
 * base64 (?showValues=true). New reference in *ret. */
int secret_object_reveal(const struct secrets_keyring *ring, const json_t *obj, json_t **ret,
                         struct berth_error *err);
/* The bytes of key in a Secret (stored, or as written: stringData, plain
 * data): *ret (NUL-terminated beyond *ret_len; secret_bytes_free). -ENOENT
 * when the Secret has no such key. */
int secret_lookup(const struct secrets_keyring *ring, const json_t *obj, const char *key,
                  unsigned char **ret, size_t *ret_len, struct berth_error *err);
/* Calls fn with every key of a Secret and its bytes (wiped after the call),
 * in order of the keys. A negative return of fn stops and is returned. */
typedef int (*secret_value_fn)(const char *key, const unsigned char *data, size_t len,
                               void *userdata);
int secret_foreach(const struct secrets_keyring *ring, const json_t *obj, secret_value_fn fn,
                   void *userdata, struct berth_error *err);

/* ---- secret volumes ----------------------------------------------------- */

#define SECRETS_DIR_DEFAULT    "/run/berth/secrets"
#define SECRETS_DIR_TMPFS_SIZE "64m"

/* Makes dir (created 0700) a tmpfs: fine as it is when it is one already,
 * else a tmpfs (mode 0700, size SECRETS_DIR_TMPFS_SIZE, nosuid, nodev,
 * noexec) is mounted there. *ret_mounted says whether one was. Secret
 * files never go to a disk: -errno with err saying why when dir cannot be
 * made a tmpfs (mount(2) needs CAP_SYS_ADMIN), and -EPERM when others may
 * enter it (its mode is not 0700, or it is not berthd's: /dev/shm itself).
 * The mount stays after berthd exits; the next start finds it. */
int secrets_dir_prepare(const char *dir, bool *ret_mounted, struct berth_error *err);
/* Whether dir is on a tmpfs. */
bool secrets_dir_is_tmpfs(const char *dir);

/* Writes the keys of a Secret as files (mode 0400, owned by uid:gid) into
 * <root>/<rel>, made afresh (what was there goes), its parents 0700. rel is
 * one or more '/'-separated segments of [A-Za-z0-9._-] (not "." or ".."),
 * e.g. "<cluster>/<task uid>/0". The directory itself is 0555: the
 * container may list it. -EINVAL for a bad rel. */
int secrets_volume_write(const char *root, const char *rel, const struct secrets_keyring *ring,
                         const json_t *secret, uid_t uid, gid_t gid, struct berth_error *err);
/* Removes <root>/<rel> and everything below (symbolic links are removed,
 * never followed). 0 also when it is not there. */
int secrets_volume_remove(const char *root, const char *rel, struct berth_error *err);
/* The names of the entries of <root>/<rel> (an empty list when it is not
 * there): *ret is NULL-terminated, caller frees with strv_free. */
int secrets_volume_list(const char *root, const char *rel, char ***ret, struct berth_error *err);
