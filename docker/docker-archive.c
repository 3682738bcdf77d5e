/* docker: tar both ways — an incremental reader for the archives the daemon
 * sends (GET /containers/{id}/archive), a ustar writer and the build context
 * producer that streams a directory as a tar — and docker_container_file. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>

#include "docker-internal.h"

#define DOCKER_CONTEXT_MAX 512

/* ustar header fields: offset and length. */
#define TAR_NAME     0, 100
#define TAR_MODE     100, 8
#define TAR_UID      108, 8
#define TAR_GID      116, 8
#define TAR_SIZE     124, 12
#define TAR_MTIME    136, 12
#define TAR_CHKSUM   148, 8
#define TAR_TYPE     156
#define TAR_LINKNAME 157, 100
#define TAR_MAGIC    257
#define TAR_PREFIX   345, 155

/* POSIX; GNU tar writes "ustar  \0", and then the prefix field holds times. */
static const char ustar_magic[8] = {'u', 's', 't', 'a', 'r', '\0', '0', '0'};

#define TAR_OCTAL_11_MAX 077777777777LL /* largest value of an 11-digit octal field */

enum {
        TAR_HEADER,   /* collecting a header block */
        TAR_BODY,     /* passing a member's body to ops->data */
        TAR_META,     /* collecting a pax header or GNU long name */
        TAR_PAD,      /* skipping the zeros to the block boundary */
        TAR_END,      /* end marker seen */
        TAR_FAILED,   /* malformed: every later feed fails */
        TAR_STOPPED,  /* a callback asked to stop */
        TAR_PAD_META, /* padding after metadata: the next header follows */
};

/* ---- reader ---------------------------------------------------------------- */

void docker_tar_reader_init(struct docker_tar_reader *r, const struct docker_tar_ops *ops,
                            void *userdata)
{
        *r = (struct docker_tar_reader){.ops = ops, .userdata = userdata, .state = TAR_HEADER};
        buf_init(&r->meta, DOCKER_TAR_META_MAX);
}

void docker_tar_reader_release(struct docker_tar_reader *r)
{
        buf_release(&r->meta);
        free(r->next_name);
        free(r->next_link);
        r->next_name = r->next_link = NULL;
}

static int tar_fail(struct docker_tar_reader *r, const char *why)
{
        r->state = TAR_FAILED;
        r->error = why;
        return -EPROTO;
}

static bool block_is_zero(const unsigned char *b)
{
        for (size_t i = 0; i < DOCKER_TAR_BLOCK; i++)
                if (b[i])
                        return false;
        return true;
}

/* A numeric field: octal digits (leading spaces or NULs, then digits, ended
 * by a space or NUL; empty is 0), or base-256 when the top bit of the first
 * byte is set (GNU and star, for values octal cannot hold; bit 6 = negative). */
static int tar_number(const unsigned char *b, size_t off, size_t len, int64_t *ret)
{
        const unsigned char *f = b + off;
        uint64_t x = 0;
        size_t i = 0;

        if (f[0] & 0x80) {
                unsigned char inv = (f[0] & 0x40) ? 0xff : 0x00;

                for (i = 0; i < len; i++) {
                        unsigned char c = f[i] ^ inv;

                        if (i == 0)
                                c &= 0x7f;
                        if (x >> 56)
                                return -ERANGE;
                        x = x << 8 | c;
                }
                if (x >> 63)
                        return -ERANGE;
                *ret = inv ? ~(int64_t)x : (int64_t)x;
                return 0;
        }
        while (i < len && (f[i] == ' ' || f[i] == '\0'))
                i++;
        for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
                if (x >> 60)
                        return -ERANGE;
                x = x << 3 | (uint64_t)(f[i] - '0');
        }
        /* Only terminators may follow the digits. */
        for (; i < len; i++)
                if (f[i] != ' ' && f[i] != '\0')
                        return -EINVAL;
        *ret = (int64_t)x;
        return 0;
}

static bool tar_checksum_ok(const unsigned char *b)
{
        int64_t want;
        uint64_t usum = 0;
        int64_t ssum = 0;

        if (tar_number(b, TAR_CHKSUM, &want) < 0)
                return false;
        for (size_t i = 0; i < DOCKER_TAR_BLOCK; i++) {
                unsigned char c = (i >= 148 && i < 156) ? ' ' : b[i];

                usum += c;
                ssum += (signed char)c;
        }
        /* Some old tars summed signed chars; both are accepted, like GNU tar. */
        return (int64_t)usum == want || ssum == want;
}

/* Copies a NUL-padded field (not necessarily terminated) into dst. */
static size_t tar_field_copy(char *dst, const unsigned char *b, size_t off, size_t len)
{
        size_t n = strnlen((const char *)b + off, len);

        memcpy(dst, b + off, n);
        dst[n] = '\0';
        return n;
}

static int take_string(char **dst, const char *s, size_t len)
{
        char *copy;

        if (len >= DOCKER_TAR_NAME_MAX || memchr(s, '\0', len))
                return -EPROTO;
        copy = strndup(s, len);
        if (!copy)
                return -ENOMEM;
        free(*dst);
        *dst = copy;
        return 0;
}

static bool pax_key_is(const char *key, size_t len, const char *want)
{
        return len == strlen(want) && memcmp(key, want, len) == 0;
}

/* pax records: "<len> <key>=<value>\n", len counting the whole record. */
static int pax_parse(struct docker_tar_reader *r, const char *p, size_t n)
{
        while (n > 0) {
                size_t rec = 0, i = 0;
                const char *kv, *eq, *v;
                size_t kv_len, key_len, v_len;
                int k = 0;

                while (i < n && p[i] >= '0' && p[i] <= '9') {
                        if (rec > DOCKER_TAR_META_MAX)
                                return tar_fail(r, "bad pax record length");
                        rec = rec * 10 + (size_t)(p[i] - '0');
                        i++;
                }
                if (i == 0 || i >= n || p[i] != ' ' || rec <= i + 1 || rec > n ||
                    p[rec - 1] != '\n')
                        return tar_fail(r, "bad pax record");
                kv = p + i + 1;
                kv_len = rec - i - 2;
                eq = memchr(kv, '=', kv_len);
                if (!eq || eq == kv)
                        return tar_fail(r, "bad pax record");
                key_len = (size_t)(eq - kv);
                v = eq + 1;
                v_len = kv_len - key_len - 1;
                /* Other keys (times, owners, xattrs) do not matter here. */
                if (pax_key_is(kv, key_len, "path")) {
                        k = take_string(&r->next_name, v, v_len);
                } else if (pax_key_is(kv, key_len, "linkpath")) {
                        k = take_string(&r->next_link, v, v_len);
                } else if (pax_key_is(kv, key_len, "size")) {
                        uint64_t x = 0;

                        if (v_len == 0 || v_len > 19)
                                return tar_fail(r, "bad pax size");
                        for (size_t j = 0; j < v_len; j++) {
                                if (v[j] < '0' || v[j] > '9')
                                        return tar_fail(r, "bad pax size");
                                x = x * 10 + (uint64_t)(v[j] - '0');
                        }
                        if (x > INT64_MAX)
                                return tar_fail(r, "bad pax size");
                        r->next_has_size = true;
                        r->next_size = x;
                }
                if (k == -EPROTO)
                        return tar_fail(r, "bad pax path");
                if (k < 0)
                        return k;
                p += rec;
                n -= rec;
        }
        return 0;
}

static int meta_done(struct docker_tar_reader *r)
{
        const char *p = r->meta.data ? r->meta.data : "";
        size_t n = r->meta.len;
        int k = 0;

        switch (r->meta_type) {
        case 'x':
                k = pax_parse(r, p, n);
                break;
        case 'L':
        case 'K':
                /* The name, NUL-terminated within the body. */
                n = strnlen(p, n);
                k = take_string(r->meta_type == 'L' ? &r->next_name : &r->next_link, p, n);
                if (k == -EPROTO)
                        return tar_fail(r, "GNU long name too long");
                break;
        default: /* 'g': global pax headers are not applied */
                break;
        }
        buf_reset(&r->meta);
        return k;
}

static void next_clear(struct docker_tar_reader *r)
{
        free(r->next_name);
        free(r->next_link);
        r->next_name = r->next_link = NULL;
        r->next_has_size = false;
        r->next_size = 0;
}

static bool header_only(char type)
{
        return type >= '1' && type <= '6';
}

/* A complete header block: a member to report, metadata, or the end. */
static int tar_header(struct docker_tar_reader *r)
{
        const unsigned char *b = r->block;
        struct docker_tar_header *h = &r->hdr;
        int64_t size, mode, mtime;
        char type = (char)b[TAR_TYPE];
        size_t n;

        if (block_is_zero(b)) {
                r->state = TAR_END;
                return 0;
        }
        if (!tar_checksum_ok(b))
                return tar_fail(r, "bad header checksum");
        if (tar_number(b, TAR_SIZE, &size) < 0 || size < 0)
                return tar_fail(r, "bad size field");

        if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
                if (size > DOCKER_TAR_META_MAX)
                        return tar_fail(r, "extended header too large");
                r->meta_type = type;
                r->remaining = (uint64_t)size;
                r->pad = (DOCKER_TAR_BLOCK - (size_t)(size % DOCKER_TAR_BLOCK)) % DOCKER_TAR_BLOCK;
                buf_reset(&r->meta);
                if (size > 0) {
                        r->state = TAR_META;
                        return 0;
                }
                r->state = TAR_PAD_META;
                return meta_done(r);
        }
        /* A pax size stands for this member's own (which may not fit). */
        if (r->next_has_size)
                size = (int64_t)r->next_size;

        if (tar_number(b, TAR_MODE, &mode) < 0 || tar_number(b, TAR_MTIME, &mtime) < 0)
                return tar_fail(r, "bad numeric field");
        *h = (struct docker_tar_header){
            .mode = (uint32_t)(mode & 07777), .mtime = mtime, .type = type};
        if (r->next_name) {
                memcpy(h->name, r->next_name, strlen(r->next_name) + 1);
        } else {
                /* POSIX ustar joins prefix and name; GNU ("ustar  ") uses that
                 * space for times. */
                n = 0;
                if (memcmp(b + TAR_MAGIC, ustar_magic, 6) == 0 && b[345]) {
                        n = tar_field_copy(h->name, b, TAR_PREFIX);
                        h->name[n++] = '/';
                }
                tar_field_copy(h->name + n, b, TAR_NAME);
        }
        if (r->next_link)
                memcpy(h->linkname, r->next_link, strlen(r->next_link) + 1);
        else
                tar_field_copy(h->linkname, b, TAR_LINKNAME);
        next_clear(r);
        if (!h->name[0])
                return tar_fail(r, "member without a name");
        if (h->type == '\0')
                h->type = str_has_suffix(h->name, "/") ? '5' : '0';
        else if (h->type == '7')
                h->type = '0';
        h->size = header_only(h->type) ? 0 : (uint64_t)size;

        r->remaining = h->size;
        r->pad = (DOCKER_TAR_BLOCK - (size_t)(h->size % DOCKER_TAR_BLOCK)) % DOCKER_TAR_BLOCK;
        r->state = r->remaining > 0 ? TAR_BODY : TAR_PAD;
        return r->ops && r->ops->entry ? r->ops->entry(h, r->userdata) : 0;
}

int docker_tar_reader_feed(struct docker_tar_reader *r, const char *data, size_t len)
{
        int k;

        if (r->state == TAR_FAILED)
                return -EPROTO;
        if (r->state == TAR_STOPPED)
                return 1;
        while (len > 0) {
                size_t take;

                k = 0;
                switch (r->state) {
                case TAR_END:
                        return 0;
                case TAR_HEADER:
                        take = DOCKER_TAR_BLOCK - r->block_len;
                        take = take < len ? take : len;
                        memcpy(r->block + r->block_len, data, take);
                        r->block_len += take;
                        data += take;
                        len -= take;
                        if (r->block_len < DOCKER_TAR_BLOCK)
                                return 0;
                        r->block_len = 0;
                        k = tar_header(r);
                        break;
                case TAR_BODY:
                case TAR_META:
                        take = r->remaining < len ? (size_t)r->remaining : len;
                        if (r->state == TAR_META) {
                                if (buf_append(&r->meta, data, take) < 0)
                                        return tar_fail(r, "extended header too large");
                                k = 0;
                        } else {
                                k = r->ops && r->ops->data ? r->ops->data(data, take, r->userdata)
                                                           : 0;
                        }
                        data += take;
                        len -= take;
                        r->remaining -= take;
                        if (r->remaining == 0) {
                                bool meta = r->state == TAR_META;

                                r->state = meta ? TAR_PAD_META : TAR_PAD;
                                if (meta && k == 0)
                                        k = meta_done(r);
                        }
                        break;
                case TAR_PAD:
                case TAR_PAD_META:
                        take = r->pad < len ? r->pad : len;
                        data += take;
                        len -= take;
                        r->pad -= take;
                        if (r->pad == 0)
                                r->state = TAR_HEADER;
                        break;
                default:
                        return -EPROTO;
                }
                if (r->state == TAR_FAILED)
                        return -EPROTO;
                if (k > 0) {
                        r->state = TAR_STOPPED;
                        return 1;
                }
                if (k < 0) {
                        r->state = TAR_FAILED;
                        return k;
                }
        }
        /* A member that ends exactly at the end of data still owes nothing
         * but padding, which may be empty. */
        if ((r->state == TAR_PAD || r->state == TAR_PAD_META) && r->pad == 0)
                r->state = TAR_HEADER;
        return 0;
}

bool docker_tar_reader_ended(const struct docker_tar_reader *r)
{
        return r->state == TAR_END;
}

int docker_tar_reader_finish(struct docker_tar_reader *r)
{
        if (r->state == TAR_FAILED)
                return -EPROTO;
        if (r->state == TAR_END || (r->state == TAR_HEADER && r->block_len == 0 && !r->next_name &&
                                    !r->next_link && !r->next_has_size))
                return 0;
        if (r->state == TAR_STOPPED)
                return 0;
        return tar_fail(r, "archive truncated");
}

/* ---- writer ---------------------------------------------------------------- */

static void put_octal(unsigned char *b, size_t off, size_t len, uint64_t v)
{
        /* len - 1 digits, zero-padded, then NUL. */
        b[off + len - 1] = '\0';
        for (size_t i = len - 1; i-- > 0;) {
                b[off + i] = (unsigned char)('0' + (v & 7));
                v >>= 3;
        }
}

static void put_size(unsigned char *b, uint64_t v)
{
        if (v <= (uint64_t)TAR_OCTAL_11_MAX) {
                put_octal(b, TAR_SIZE, v);
                return;
        }
        /* base-256: 0x80 then the value big-endian in the other 11 bytes. */
        b[124] = 0x80;
        for (size_t i = 11; i > 0; i--) {
                b[124 + i] = (unsigned char)(v & 0xff);
                v >>= 8;
        }
}

static void put_field(unsigned char *b, size_t off, size_t len, const char *s, size_t n)
{
        memcpy(b + off, s, n < len ? n : len);
}

/* Everything of a header block but the names. Owners are root: what the
 * docker CLI sends for a context too. */
static void put_common(unsigned char *b, char type, uint32_t mode, uint64_t size, int64_t mtime)
{
        put_octal(b, TAR_MODE, mode & 07777);
        put_octal(b, TAR_UID, 0);
        put_octal(b, TAR_GID, 0);
        put_size(b, size);
        put_octal(b, TAR_MTIME, (uint64_t)mtime);
        b[TAR_TYPE] = (unsigned char)type;
        memcpy(b + TAR_MAGIC, ustar_magic, sizeof(ustar_magic));
}

static int append_block(struct buf *out, unsigned char *b)
{
        uint64_t sum = 0;

        memset(b + 148, ' ', 8);
        for (size_t i = 0; i < DOCKER_TAR_BLOCK; i++)
                sum += b[i];
        put_octal(b, 148, 7, sum); /* six digits, NUL, then the space already there */
        return buf_append(out, b, DOCKER_TAR_BLOCK);
}

/* Splits name for ustar: prefix (up to 155) '/' name (1..100). */
static bool ustar_split(const char *name, size_t len, size_t *ret_prefix_len)
{
        if (len <= 100) {
                *ret_prefix_len = 0;
                return true;
        }
        for (size_t i = len - 1; i > 0; i--) {
                if (name[i] != '/')
                        continue;
                if (i <= 155 && len - i - 1 <= 100 && len - i - 1 > 0) {
                        *ret_prefix_len = i;
                        return true;
                }
                if (len - i - 1 > 100)
                        return false;
        }
        return false;
}

/* Appends one pax record "<len> key=value\n"; its length counts its own digits. */
static int pax_record(struct buf *b, const char *key, const char *value)
{
        size_t base = strlen(key) + strlen(value) + 3; /* ' ', '=', '\n' */
        size_t n = base + 1;

        while (n != base + (size_t)snprintf(NULL, 0, "%zu", n))
                n = base + (size_t)snprintf(NULL, 0, "%zu", n);
        return buf_printf(b, "%zu %s=%s\n", n, key, value);
}

int docker_tar_header_write(const struct docker_tar_header *h, struct buf *out)
{
        unsigned char b[DOCKER_TAR_BLOCK];
        size_t name_len = strnlen(h->name, DOCKER_TAR_NAME_MAX);
        size_t link_len = strnlen(h->linkname, DOCKER_TAR_NAME_MAX);
        size_t prefix_len = 0;
        bool pax_name, pax_link;
        uint64_t size = header_only(h->type) ? 0 : h->size;
        int64_t mtime = h->mtime < 0                  ? 0
                        : h->mtime > TAR_OCTAL_11_MAX ? TAR_OCTAL_11_MAX
                                                      : h->mtime;
        int r;

        if (name_len == 0)
                return -EINVAL;
        if (name_len >= DOCKER_TAR_NAME_MAX || link_len >= DOCKER_TAR_NAME_MAX)
                return -ENAMETOOLONG;
        pax_name = !ustar_split(h->name, name_len, &prefix_len);
        pax_link = link_len > 100;
        if (pax_name || pax_link) {
                _cleanup_buf_ struct buf pax;
                const char *base = strrchr(h->name, '/');
                char pname[101];

                buf_init(&pax, DOCKER_TAR_META_MAX);
                if ((pax_name && pax_record(&pax, "path", h->name) < 0) ||
                    (pax_link && pax_record(&pax, "linkpath", h->linkname) < 0))
                        return -ENOMEM;
                /* The member's own name matters only to tars without pax support. */
                base = base && base[1] ? base + 1 : "entry";
                snprintf(pname, sizeof(pname), "PaxHeaders/%.80s", base);
                memset(b, 0, sizeof(b));
                put_field(b, TAR_NAME, pname, strlen(pname));
                put_common(b, 'x', 0644, pax.len, mtime);
                r = append_block(out, b);
                if (r < 0)
                        return r;
                r = buf_append(out, pax.data, pax.len);
                if (r < 0)
                        return r;
                r = docker_tar_padding_write(pax.len, out);
                if (r < 0)
                        return r;
        }

        memset(b, 0, sizeof(b));
        if (pax_name) {
                /* Truncated: readers with pax support take the path record. */
                put_field(b, TAR_NAME, h->name, name_len < 100 ? name_len : 100);
        } else if (prefix_len > 0) {
                put_field(b, TAR_PREFIX, h->name, prefix_len);
                put_field(b, TAR_NAME, h->name + prefix_len + 1, name_len - prefix_len - 1);
        } else {
                put_field(b, TAR_NAME, h->name, name_len);
        }
        put_field(b, TAR_LINKNAME, h->linkname, link_len < 100 ? link_len : 100);
        put_common(b, h->type ? h->type : '0', h->mode, size, mtime);
        return append_block(out, b);
}

int docker_tar_padding_write(uint64_t size, struct buf *out)
{
        static const char zeros[DOCKER_TAR_BLOCK];
        size_t pad = (DOCKER_TAR_BLOCK - (size_t)(size % DOCKER_TAR_BLOCK)) % DOCKER_TAR_BLOCK;

        return buf_append(out, zeros, pad);
}

int docker_tar_end_write(struct buf *out)
{
        static const char zeros[2 * DOCKER_TAR_BLOCK];

        return buf_append(out, zeros, sizeof(zeros));
}

/* ---- build context producer ------------------------------------------------ */

#define CONTEXT_DEPTH_MAX 128
/* Pending bytes besides file contents (which go straight to the reader): a
 * header with its pax header (two names), padding, or the end marker. */
#define CONTEXT_OUT_MAX DOCKER_TAR_META_MAX

struct context_level {
        DIR *dir;
        size_t path_len; /* of the member path up to and with its '/' */
};

struct docker_context_tar {
        char *root;
        uint64_t max;
        uint64_t total;
        struct context_level stack[CONTEXT_DEPTH_MAX];
        size_t depth;
        char path[DOCKER_TAR_NAME_MAX]; /* member path being built */
        int fd;                         /* the regular file being sent; -1 */
        uint64_t file_left;
        uint64_t file_size;
        struct buf out; /* bytes produced, not yet taken */
        size_t out_off;
        bool ended;
        struct docker_tar_header hdr;
};

void docker_context_tar_free(struct docker_context_tar *t)
{
        if (!t)
                return;
        while (t->depth > 0)
                closedir(t->stack[--t->depth].dir);
        if (t->fd >= 0)
                close(t->fd);
        buf_release(&t->out);
        free(t->root);
        free(t);
}

static void context_tar_freep(struct docker_context_tar **t)
{
        docker_context_tar_free(*t);
}

/* Pushes the directory fd (taken) whose members start with path[0..path_len). */
static int context_push(struct docker_context_tar *t, int fd, size_t path_len,
                        struct berth_error *err)
{
        DIR *dir;

        if (t->depth >= CONTEXT_DEPTH_MAX) {
                close(fd);
                return berth_error_set(err, -ELOOP,
                                       "build context %s: %.*s: directories nested deeper than %d",
                                       t->root, (int)path_len, t->path, CONTEXT_DEPTH_MAX);
        }
        dir = fdopendir(fd);
        if (!dir) {
                int e = -errno;

                close(fd);
                return berth_error_set(err, e, "build context %s: %.*s: %s", t->root, (int)path_len,
                                       t->path, strerror(-e));
        }
        t->stack[t->depth++] = (struct context_level){.dir = dir, .path_len = path_len};
        return 0;
}

int docker_context_tar_open(const char *dir, uint64_t max, struct docker_context_tar **ret,
                            struct berth_error *err)
{
        _cleanup_(context_tar_freep) struct docker_context_tar *t = NULL;
        int fd, r;

        t = calloc(1, sizeof(*t));
        if (!t)
                return berth_error_set(err, -ENOMEM, "out of memory");
        t->fd = -1;
        t->max = max;
        buf_init(&t->out, CONTEXT_OUT_MAX);
        t->root = strdup(dir ? dir : "");
        if (!t->root)
                return berth_error_set(err, -ENOMEM, "out of memory");
        fd = open(t->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return berth_error_set(err, -errno, "build context %s: %s", t->root,
                                       strerror(errno));
        r = context_push(t, fd, 0, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

uint64_t docker_context_tar_size(const struct docker_context_tar *t)
{
        return t->total;
}

static int context_too_big(struct docker_context_tar *t, struct berth_error *err)
{
        return berth_error_set(err, -E2BIG, "build context %s: larger than %" PRIu64 " bytes",
                               t->root, t->max);
}

/* Appends the header of t->hdr and accounts for its member's whole size. */
static int context_header(struct docker_context_tar *t, struct berth_error *err)
{
        size_t before = t->out.len;
        uint64_t body =
            t->hdr.size + (DOCKER_TAR_BLOCK - t->hdr.size % DOCKER_TAR_BLOCK) % DOCKER_TAR_BLOCK;
        int r = docker_tar_header_write(&t->hdr, &t->out);

        if (r == -ENAMETOOLONG)
                return berth_error_set(err, r, "build context %s: %s: name too long", t->root,
                                       t->path);
        if (r < 0)
                return berth_error_set(err, r, "build context %s: %s: %s", t->root, t->path,
                                       strerror(-r));
        /* Refused before any byte of the file is read; the end marker counts. */
        if (t->total > t->max ||
            (t->out.len - before) + body + 2 * DOCKER_TAR_BLOCK > t->max - t->total)
                return context_too_big(t, err);
        t->total += t->out.len - before;
        return 0;
}

static const char *file_kind(mode_t m)
{
        if (S_ISCHR(m))
                return "a character device";
        if (S_ISBLK(m))
                return "a block device";
        if (S_ISFIFO(m))
                return "a fifo";
        if (S_ISSOCK(m))
                return "a socket";
        return "of an unknown kind";
}

/* Produces the next member's header (and opens its file or directory), or
 * pops finished directories; at the very end the end marker. */
static int context_next(struct docker_context_tar *t, struct berth_error *err)
{
        struct context_level *top;
        struct dirent *de;
        struct stat st;
        size_t name_len, len;
        int dfd, fd, r;

        if (t->depth == 0) {
                if (t->total > t->max || 2 * DOCKER_TAR_BLOCK > t->max - t->total)
                        return context_too_big(t, err);
                r = docker_tar_end_write(&t->out);
                if (r < 0)
                        return berth_error_set(err, r, "build context %s: %s", t->root,
                                               strerror(-r));
                t->total += 2 * DOCKER_TAR_BLOCK;
                t->ended = true;
                return 0;
        }
        top = &t->stack[t->depth - 1];
        errno = 0;
        de = readdir(top->dir);
        if (!de) {
                if (errno)
                        return berth_error_set(err, -errno, "build context %s: %.*s: %s", t->root,
                                               (int)top->path_len, t->path, strerror(errno));
                closedir(top->dir);
                t->depth--;
                return 0;
        }
        if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                return 0;
        name_len = strlen(de->d_name);
        len = top->path_len + name_len;
        if (len + 2 > sizeof(t->path))
                return berth_error_set(err, -ENAMETOOLONG,
                                       "build context %s: %.*s%s: name too long", t->root,
                                       (int)top->path_len, t->path, de->d_name);
        memcpy(t->path + top->path_len, de->d_name, name_len + 1);
        dfd = dirfd(top->dir);
        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT)
                        return 0; /* removed while we walk: as if never there */
                return berth_error_set(err, -errno, "build context %s: %s: %s", t->root, t->path,
                                       strerror(errno));
        }
        t->hdr = (struct docker_tar_header){.mode = (uint32_t)(st.st_mode & 07777),
                                            .mtime = (int64_t)st.st_mtime};
        if (S_ISDIR(st.st_mode)) {
                t->path[len] = '/';
                t->path[len + 1] = '\0';
                t->hdr.type = '5';
                memcpy(t->hdr.name, t->path, len + 2);
                r = context_header(t, err);
                if (r < 0)
                        return r;
                fd = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return berth_error_set(err, -errno, "build context %s: %s: %s", t->root,
                                               t->path, strerror(errno));
                return context_push(t, fd, len + 1, err);
        }
        memcpy(t->hdr.name, t->path, len + 1);
        if (S_ISLNK(st.st_mode)) {
                ssize_t n = readlinkat(dfd, de->d_name, t->hdr.linkname, sizeof(t->hdr.linkname));

                if (n < 0)
                        return berth_error_set(err, -errno, "build context %s: %s: %s", t->root,
                                               t->path, strerror(errno));
                if ((size_t)n >= sizeof(t->hdr.linkname))
                        return berth_error_set(err, -ENAMETOOLONG,
                                               "build context %s: %s: link target too long",
                                               t->root, t->path);
                t->hdr.linkname[n] = '\0';
                t->hdr.type = '2';
                return context_header(t, err);
        }
        if (!S_ISREG(st.st_mode))
                return berth_error_set(err, -EINVAL,
                                       "build context %s: %s is %s; a context holds only files, "
                                       "directories and symbolic links",
                                       t->root, t->path, file_kind(st.st_mode));
        fd = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return berth_error_set(err, -errno, "build context %s: %s: %s", t->root, t->path,
                                       strerror(errno));
        /* The size of what was opened, not of what was listed. */
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                int e = S_ISREG(st.st_mode) ? -errno : -EAGAIN;

                close(fd);
                return berth_error_set(err, e, "build context %s: %s: changed while being read",
                                       t->root, t->path);
        }
        t->hdr.type = '0';
        t->hdr.size = (uint64_t)st.st_size;
        r = context_header(t, err);
        if (r < 0) {
                close(fd);
                return r;
        }
        t->fd = fd;
        t->file_left = t->file_size = t->hdr.size;
        return 0;
}

/* File bytes go straight into the caller's buffer, without a copy in out. */
static ssize_t context_file_read(struct docker_context_tar *t, char *buf, size_t len,
                                 struct berth_error *err)
{
        size_t want = t->file_left < len ? (size_t)t->file_left : len;
        ssize_t n;

        do {
                n = read(t->fd, buf, want);
        } while (n < 0 && errno == EINTR);
        if (n < 0)
                return berth_error_set(err, -errno, "build context %s: %s: %s", t->root, t->path,
                                       strerror(errno));
        /* The header promised file_size bytes: a file that shrank cannot keep it. */
        if (n == 0)
                return berth_error_set(err, -EIO, "build context %s: %s: shrank while being read",
                                       t->root, t->path);
        t->file_left -= (uint64_t)n;
        t->total += (uint64_t)n;
        return n;
}

ssize_t docker_context_tar_read(struct docker_context_tar *t, char *buf, size_t len,
                                struct berth_error *err)
{
        size_t n;
        int r = 0;

        if (len == 0)
                return 0;
        while (t->out_off >= t->out.len) {
                buf_reset(&t->out);
                t->out_off = 0;
                if (t->fd >= 0 && t->file_left > 0)
                        return context_file_read(t, buf, len, err);
                if (t->fd >= 0) {
                        size_t before = t->out.len;

                        r = docker_tar_padding_write(t->file_size, &t->out);
                        t->total += t->out.len - before;
                        close(t->fd);
                        t->fd = -1;
                } else if (!t->ended) {
                        r = context_next(t, err);
                } else {
                        return 0;
                }
                if (r < 0)
                        return r;
        }
        n = t->out.len - t->out_off;
        n = n < len ? n : len;
        memcpy(buf, t->out.data + t->out_off, n);
        t->out_off += n;
        return (ssize_t)n;
}

/* ---- docker_container_file ------------------------------------------------- */

/* What may follow the file (padding, the end marker) before we stop reading:
 * enough to let the daemon finish so that the connection stays usable. */
#define FILE_TRAILER_MAX (16 * 1024)

struct file_state {
        struct docker_tar_reader tar;
        struct buf content;
        const char *ctx;
        struct berth_error *err;
        size_t max;
        uint64_t size;
        bool have_entry, done;
        size_t trailer;
};

static int file_entry(const struct docker_tar_header *h, void *userdata)
{
        struct file_state *st = userdata;

        if (st->have_entry)
                return 1;
        st->have_entry = true;
        switch (h->type) {
        case '0':
                break;
        case '5':
                return berth_error_set(st->err, -EISDIR, "%s: is a directory", st->ctx);
        case '2':
                return berth_error_set(st->err, -EISDIR, "%s: is a symbolic link to %s", st->ctx,
                                       h->linkname);
        case '1':
                return berth_error_set(st->err, -EISDIR, "%s: is a hard link to %s", st->ctx,
                                       h->linkname);
        default:
                return berth_error_set(st->err, -EISDIR,
                                       "%s: is not a regular file (tar type '%c')", st->ctx,
                                       h->type >= ' ' && h->type < 127 ? h->type : '?');
        }
        if (h->size > st->max)
                return berth_error_set(st->err, -EFBIG,
                                       "%s: %" PRIu64 " bytes, larger than the %zu allowed",
                                       st->ctx, h->size, st->max);
        st->size = h->size;
        st->done = h->size == 0;
        return st->done ? 1 : 0;
}

static int file_data(const char *data, size_t len, void *userdata)
{
        struct file_state *st = userdata;

        if (buf_append(&st->content, data, len) < 0)
                return berth_error_set(st->err, -ENOMEM, "out of memory");
        st->done = st->content.len == st->size;
        return st->done ? 1 : 0;
}

static const struct docker_tar_ops file_ops = {.entry = file_entry, .data = file_data};

static int file_on_data(const char *data, size_t len, void *userdata)
{
        struct file_state *st = userdata;
        int r;

        if (st->done) {
                st->trailer += len;
                return st->trailer > FILE_TRAILER_MAX ? 1 : 0;
        }
        r = docker_tar_reader_feed(&st->tar, data, len);
        if (r == -EPROTO && st->tar.error)
                return berth_error_set(st->err, r, "%s: malformed tar from docker: %s", st->ctx,
                                       st->tar.error);
        if (r < 0)
                return r;
        /* Stopped without the file: a second member, which a file never has. */
        if (r > 0 && !st->done)
                return berth_error_set(st->err, -EPROTO, "%s: malformed tar from docker", st->ctx);
        return 0;
}

static void file_state_release(struct file_state *st)
{
        docker_tar_reader_release(&st->tar);
        buf_release(&st->content);
}

int docker_container_file(struct docker *d, const char *id, const char *path, size_t max,
                          char **ret, size_t *ret_len, struct berth_error *err)
{
        _cleanup_(docker_req_release) struct docker_req req = {0};
        _cleanup_(file_state_release) struct file_state st = {0};
        _cleanup_free_ char *eid = NULL, *epath = NULL, *url_path = NULL, *query = NULL;
        char ctx[DOCKER_CONTEXT_MAX];
        char *content;
        int r;

        snprintf(ctx, sizeof(ctx), "read %s from container %s", path ? path : "", id ? id : "");
        if (!id || !id[0] || !path || !path[0])
                return berth_error_set(err, -EINVAL, "%s: no container or path", ctx);
        eid = docker_escape(id);
        epath = docker_escape(path);
        url_path = eid ? str_printf("/containers/%s/archive", eid) : NULL;
        query = epath ? str_printf("path=%s", epath) : NULL;
        if (!url_path || !query)
                return berth_error_set(err, -ENOMEM, "out of memory");

        st.ctx = ctx;
        st.err = err;
        st.max = max;
        docker_tar_reader_init(&st.tar, &file_ops, &st);
        /* buf's capacity arithmetic needs max + 1 to fit. */
        buf_init(&st.content, max < SIZE_MAX / 2 ? max : SIZE_MAX / 2);
        req = (struct docker_req){.method = "GET",
                                  .path = url_path,
                                  .query = query,
                                  .on_data = file_on_data,
                                  .userdata = &st};
        r = docker_call(d, &req, ctx, err);
        if (r < 0)
                return r;
        if (req.status == 404) {
                /* Both answer 404; only the daemon's message tells them apart. */
                bool gone = req.resp.data && strstr(req.resp.data, "No such container");

                snprintf(ctx, sizeof(ctx), "read %s from container %s: %s", path, id,
                         gone ? "no such container" : "no such path");
                return docker_req_fail(&req, -ENOENT, ctx, err);
        }
        if (!docker_status_ok(req.status))
                return docker_req_fail(&req, 0, ctx, err);
        if (!st.done)
                return berth_error_set(err, -EPROTO, "%s: %s", ctx,
                                       !st.have_entry
                                           ? "empty archive from docker"
                                           : "archive from docker ended inside the file");
        *ret_len = st.content.len;
        content = buf_steal(&st.content);
        if (!content)
                return berth_error_set(err, -ENOMEM, "out of memory");
        *ret = content;
        return 0;
}
