/* Fuzz target for the tar reader (GET /containers/{id}/archive answers) and
 * the build progress parsers. Besides memory errors and UB it aborts when
 *   - the reader gives different members, bodies or results when the same
 *     bytes arrive in small pieces instead of at once,
 *   - a reported member breaks the header's guarantees (a name, no body for
 *     header-only types, no metadata or legacy types),
 *   - a member written back by docker_tar_header_write does not read back
 *     the same,
 *   - a build progress line or the line assembler breaks its contract. */
#include <stdint.h>

#include "docker-internal.h"

#define FUZZ_OUT_MAX (4 * 1024 * 1024)

/* ---- tar ------------------------------------------------------------------ */

struct tar_out {
        struct buf log; /* every header and body byte, in order */
        int members;
};

static void check_round_trip(const struct docker_tar_header *h);

static int on_entry(const struct docker_tar_header *h, void *userdata)
{
        struct tar_out *out = userdata;
        size_t name_len = strnlen(h->name, sizeof(h->name));
        size_t link_len = strnlen(h->linkname, sizeof(h->linkname));

        if (name_len == 0 || name_len >= sizeof(h->name) || link_len >= sizeof(h->linkname) ||
            h->type == '\0' || h->type == '7' || h->type == 'x' || h->type == 'g' ||
            h->type == 'L' || h->type == 'K' || (h->type >= '1' && h->type <= '6' && h->size) ||
            h->size > INT64_MAX || h->mode > 07777)
                abort();
        check_round_trip(h);
        out->members++;
        if (buf_printf(&out->log, "H%c%s>%s:%llu:%o:%lld\n", h->type, h->name, h->linkname,
                       (unsigned long long)h->size, h->mode, (long long)h->mtime) < 0)
                return -ENOSPC;
        return 0;
}

static int on_data(const char *data, size_t len, void *userdata)
{
        struct tar_out *out = userdata;

        if (len == 0)
                abort();
        return buf_append(&out->log, data, len) < 0 ? -ENOSPC : 0;
}

static const struct docker_tar_ops ops = {.entry = on_entry, .data = on_data};

static int decode(const uint8_t *data, size_t size, size_t chunk, struct tar_out *out,
                  int *ret_finish)
{
        struct docker_tar_reader r;
        int k = 0;

        docker_tar_reader_init(&r, &ops, out);
        for (size_t off = 0; off < size && k == 0; off += chunk) {
                size_t n = size - off < chunk ? size - off : chunk;

                k = docker_tar_reader_feed(&r, (const char *)data + off, n);
        }
        if (k == -EPROTO && !r.error)
                abort();
        *ret_finish = docker_tar_reader_finish(&r);
        if (k == 0 && *ret_finish != 0 && *ret_finish != -EPROTO)
                abort();
        docker_tar_reader_release(&r);
        return k;
}

static int one_entry(const struct docker_tar_header *h, void *userdata)
{
        struct docker_tar_header *copy = userdata;

        if (copy->type != 0) /* a second member: the writer wrote one */
                abort();
        *copy = *h;
        return 0;
}

/* Writes h back and reads it again: the same member, mtime clamped to what
 * ustar holds. */
static void check_round_trip(const struct docker_tar_header *h)
{
        static const struct docker_tar_ops back_ops = {.entry = one_entry};
        struct docker_tar_header back = {0};
        struct docker_tar_reader r;
        struct buf b;
        int64_t mtime = h->mtime < 0 ? 0 : h->mtime > 077777777777LL ? 077777777777LL : h->mtime;

        buf_init(&b, 4 * DOCKER_TAR_NAME_MAX + 8 * DOCKER_TAR_BLOCK);
        if (docker_tar_header_write(h, &b) < 0 || b.len % DOCKER_TAR_BLOCK != 0)
                abort();
        docker_tar_reader_init(&r, &back_ops, &back);
        if (docker_tar_reader_feed(&r, b.data, b.len) != 0 || back.type != h->type ||
            !streq(back.name, h->name) || !streq(back.linkname, h->linkname) ||
            back.size != h->size || back.mode != h->mode || back.mtime != mtime)
                abort();
        docker_tar_reader_release(&r);
        buf_release(&b);
}

static void fuzz_tar(const uint8_t *data, size_t size, size_t chunk)
{
        struct tar_out whole = {0}, split = {0};
        int r1, r2, f1, f2;

        buf_init(&whole.log, FUZZ_OUT_MAX);
        buf_init(&split.log, FUZZ_OUT_MAX);
        r1 = decode(data, size, size ? size : 1, &whole, &f1);
        r2 = decode(data, size, chunk, &split, &f2);
        if (r1 != r2 || f1 != f2 || whole.members != split.members ||
            whole.log.len != split.log.len ||
            (whole.log.len && memcmp(whole.log.data, split.log.data, whole.log.len) != 0) ||
            (r1 != 0 && r1 != -EPROTO && r1 != -ENOSPC))
                abort();
        buf_release(&whole.log);
        buf_release(&split.log);
}

/* ---- build progress ---------------------------------------------------------- */

static int on_text(const char *line, void *userdata)
{
        size_t *n = userdata;

        if (strlen(line) > DOCKER_BUILD_TEXT_MAX || strchr(line, '\n'))
                abort();
        (*n)++;
        return 0;
}

static void fuzz_build_line(const uint8_t *data, size_t size)
{
        _cleanup_json_ json_t *root = NULL;
        struct docker_build_line bl = {0};
        struct docker_build_text t;
        size_t lines = 0;

        if (docker_build_line_parse((const char *)data, size, &root, &bl) < 0) {
                if (root)
                        abort();
                return;
        }
        if (bl.kind != DOCKER_BUILD_LINE_OTHER && !bl.text)
                abort();
        if (bl.kind != DOCKER_BUILD_LINE_STREAM)
                return;
        docker_build_text_init(&t, on_text, &lines);
        if (docker_build_text_feed(&t, bl.text) != 0 || docker_build_text_flush(&t) != 0 ||
            t.line.len != 0)
                abort();
        docker_build_text_release(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* Pieces of 1..16 bytes or a block and a bit, steered by the last byte. */
        size_t chunk = size ? (size_t)(data[size - 1] % 32) + 1 : 1;

        if (chunk > 16)
                chunk = DOCKER_TAR_BLOCK + chunk;
        fuzz_tar(data, size, chunk);
        fuzz_build_line(data, size);
        return 0;
}
