/* keyring.c: the key file — parsing it, and making it on berthd's first
 * start (secrets.h). */
#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include "secrets-internal.h"

#define KEY_FILE_VERSION "v1"

bool secrets_keyid_valid(const char *s, size_t len)
{
        if (len != SECRET_KEYID_LEN)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

const struct secrets_key *secrets_keyring_find(const struct secrets_keyring *ring, const char *id)
{
        for (size_t i = 0; ring && i < ring->n; i++)
                if (streq(ring->keys[i].id, id))
                        return &ring->keys[i];
        return NULL;
}

void secrets_keyring_free(struct secrets_keyring *ring)
{
        if (!ring)
                return;
        if (ring->keys)
                OPENSSL_cleanse(ring->keys, ring->n * sizeof(*ring->keys));
        free(ring->keys);
        free(ring);
}

static void keyring_freep(struct secrets_keyring **ring)
{
        secrets_keyring_free(*ring);
}

const char *secrets_keyring_active_id(const struct secrets_keyring *ring)
{
        return ring && ring->n > 0 ? ring->keys[0].id : NULL;
}

size_t secrets_keyring_size(const struct secrets_keyring *ring)
{
        return ring ? ring->n : 0;
}

/* Splits a line at blanks into at most max words (pointers into line,
 * lengths); returns how many there are (max + 1 when there are more). */
static size_t split_words(const char *line, size_t len, const char **words, size_t *lens,
                          size_t max)
{
        size_t n = 0;

        for (size_t i = 0; i < len;) {
                while (i < len && (line[i] == ' ' || line[i] == '\t'))
                        i++;
                if (i == len)
                        break;
                size_t start = i;
                while (i < len && line[i] != ' ' && line[i] != '\t')
                        i++;
                if (n == max)
                        return max + 1;
                words[n] = line + start;
                lens[n++] = i - start;
        }
        return n;
}

/* One "v1 <keyid> <base64 key>" line into *ret; a message on error. */
static int parse_line(const char *line, size_t len, struct secrets_key *ret, char *msg,
                      size_t msg_size)
{
        const char *w[3];
        size_t wl[3];
        size_t n = split_words(line, len, w, wl, 3);
        char *key = NULL;
        size_t key_len = 0;

        if (n != 3) {
                snprintf(msg, msg_size, "expected \"" KEY_FILE_VERSION " <keyid> <base64 key>\"");
                return -EINVAL;
        }
        if (wl[0] != strlen(KEY_FILE_VERSION) || memcmp(w[0], KEY_FILE_VERSION, wl[0]) != 0) {
                snprintf(msg, msg_size, "unknown format \"%.*s\": want " KEY_FILE_VERSION,
                         (int)(wl[0] > 16 ? 16 : wl[0]), w[0]);
                return -EINVAL;
        }
        if (!secrets_keyid_valid(w[1], wl[1])) {
                snprintf(msg, msg_size, "key id must be %d lowercase hex digits", SECRET_KEYID_LEN);
                return -EINVAL;
        }
        int r = base64_decode(w[2], wl[2], &key, &key_len);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                snprintf(msg, msg_size, "key is not valid base64");
                return -EINVAL;
        }
        if (key_len != SECRETS_KEY_BYTES) {
                snprintf(msg, msg_size, "key has %zu bytes, want %d (AES-256)", key_len,
                         SECRETS_KEY_BYTES);
                secret_bytes_free(key, key_len);
                return -EINVAL;
        }
        memcpy(ret->id, w[1], SECRET_KEYID_LEN);
        ret->id[SECRET_KEYID_LEN] = '\0';
        memcpy(ret->key, key, SECRETS_KEY_BYTES);
        secret_bytes_free(key, key_len);
        return 0;
}

int secrets_keyring_parse(const char *text, size_t len, const char *source,
                          struct secrets_keyring **ret, struct berth_error *err)
{
        _cleanup_(keyring_freep) struct secrets_keyring *ring = calloc(1, sizeof(*ring));
        int line_no = 0;

        source = source ? source : "<keys>";
        if (!ring)
                return berth_error_set(err, -ENOMEM, "%s: out of memory", source);
        if (len > SECRETS_KEY_FILE_MAX)
                return berth_error_set(err, -E2BIG, "%s: larger than %d bytes", source,
                                       SECRETS_KEY_FILE_MAX);
        for (size_t pos = 0; pos < len;) {
                const char *line = text + pos;
                const char *nl = memchr(line, '\n', len - pos);
                size_t n = nl ? (size_t)(nl - line) : len - pos;
                struct secrets_key k;
                char msg[128];
                int r;

                pos += n + (nl ? 1 : 0);
                line_no++;
                if (n > 0 && line[n - 1] == '\r')
                        n--;
                if (memchr(line, '\0', n))
                        return berth_error_set(err, -EINVAL, "%s:%d: holds a NUL byte", source,
                                               line_no);
                size_t lead = 0;
                while (lead < n && (line[lead] == ' ' || line[lead] == '\t'))
                        lead++;
                if (lead == n || line[lead] == '#')
                        continue;
                if (ring->n == SECRETS_KEYS_MAX)
                        return berth_error_set(err, -EINVAL, "%s:%d: more than %d keys", source,
                                               line_no, SECRETS_KEYS_MAX);
                r = parse_line(line, n, &k, msg, sizeof(msg));
                if (r == -ENOMEM)
                        return berth_error_set(err, r, "%s: out of memory", source);
                if (r < 0)
                        return berth_error_set(err, r, "%s:%d: %s", source, line_no, msg);
                if (secrets_keyring_find(ring, k.id)) {
                        r = berth_error_set(err, -EINVAL, "%s:%d: key id %s appears twice", source,
                                            line_no, k.id);
                        OPENSSL_cleanse(&k, sizeof(k));
                        return r;
                }
                struct secrets_key *keys = realloc(ring->keys, (ring->n + 1) * sizeof(*keys));
                if (!keys) {
                        OPENSSL_cleanse(&k, sizeof(k));
                        return berth_error_set(err, -ENOMEM, "%s: out of memory", source);
                }
                ring->keys = keys;
                ring->keys[ring->n++] = k;
                OPENSSL_cleanse(&k, sizeof(k));
        }
        if (ring->n == 0)
                return berth_error_set(err, -EINVAL, "%s: no keys", source);
        *ret = TAKE_PTR(ring);
        return 0;
}

/* A new key file at path holding one random key (O_EXCL: -EEXIST when
 * another process made one first). */
static int create_key_file(const char *path, struct berth_error *err)
{
        unsigned char key[SECRETS_KEY_BYTES], id[SECRET_KEYID_LEN / 2];
        _cleanup_close_ int fd = -1;

        if (RAND_bytes(key, sizeof(key)) != 1 || RAND_bytes(id, sizeof(id)) != 1)
                return berth_error_set(err, -EIO, "%s: the random source failed", path);
        _cleanup_free_ char *b64 = base64_encode(key, sizeof(key));
        OPENSSL_cleanse(key, sizeof(key));
        if (!b64)
                return berth_error_set(err, -ENOMEM, "%s: out of memory", path);
        char line[128];
        int n = snprintf(line, sizeof(line), KEY_FILE_VERSION " %02x%02x%02x%02x %s\n", id[0],
                         id[1], id[2], id[3], b64);
        OPENSSL_cleanse(b64, strlen(b64));
        if (n < 0 || (size_t)n >= sizeof(line))
                return berth_error_set(err, -EINVAL, "%s: key line too long", path);

        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return berth_error_set(err, -errno, "%s: cannot create: %s", path, strerror(errno));
        int r = 0;
        if (fchmod(fd, 0600) < 0) {
                r = -errno;
        } else {
                ssize_t w = write(fd, line, (size_t)n);
                if (w < 0)
                        r = -errno;
                else if (w != n)
                        r = -EIO;
                else if (fsync(fd) < 0)
                        r = -errno;
        }
        OPENSSL_cleanse(line, sizeof(line));
        if (r < 0) {
                (void)unlink(path);
                return berth_error_set(err, r, "%s: cannot write: %s", path, strerror(-r));
        }
        return 0;
}

/* Reads a key file, refusing one that others could read or change. */
static int read_key_file(const char *path, char **ret, size_t *ret_len, struct berth_error *err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;

        if (fd < 0)
                return berth_error_set(err, -errno, "%s: %s", path, strerror(errno));
        if (fstat(fd, &st) < 0)
                return berth_error_set(err, -errno, "%s: %s", path, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return berth_error_set(err, -EINVAL, "%s: not a regular file", path);
        if ((st.st_mode & 07077) != 0)
                return berth_error_set(err, -EPERM,
                                       "%s: mode %04o, must be 0600: the file holds the keys of "
                                       "every Secret (chmod 600 %s)",
                                       path, (unsigned)(st.st_mode & 07777), path);
        if (st.st_uid != geteuid())
                return berth_error_set(err, -EPERM, "%s: owned by uid %u, not by berthd's (%u)",
                                       path, (unsigned)st.st_uid, (unsigned)geteuid());
        if (st.st_size > SECRETS_KEY_FILE_MAX)
                return berth_error_set(err, -E2BIG, "%s: larger than %d bytes", path,
                                       SECRETS_KEY_FILE_MAX);
        _cleanup_free_ char *text = malloc((size_t)st.st_size + 1);
        size_t len = 0;
        if (!text)
                return berth_error_set(err, -ENOMEM, "%s: out of memory", path);
        for (;;) {
                ssize_t n = read(fd, text + len, (size_t)st.st_size + 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return berth_error_set(err, -errno, "%s: %s", path, strerror(errno));
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len > (size_t)st.st_size) /* it grew while read */
                        return berth_error_set(err, -EAGAIN, "%s: changed while read", path);
        }
        text[len] = '\0';
        *ret = TAKE_PTR(text);
        *ret_len = len;
        return 0;
}

int secrets_keyring_load(const char *dir, struct secrets_keyring **ret, struct berth_error *err)
{
        _cleanup_free_ char *path = str_printf("%s/%s", dir ? dir : ".", SECRETS_KEY_FILE);
        char *text = NULL;
        size_t len = 0;
        int r;

        if (!path)
                return berth_error_set(err, -ENOMEM, "out of memory");
        for (int attempt = 0; attempt < 2; attempt++) {
                r = read_key_file(path, &text, &len, err);
                if (r != -ENOENT)
                        break;
                r = create_key_file(path, err);
                if (r < 0 && r != -EEXIST)
                        return r;
        }
        if (r < 0)
                return r;
        r = secrets_keyring_parse(text, len, path, ret, err);
        OPENSSL_cleanse(text, len);
        free(text);
        return r;
}
