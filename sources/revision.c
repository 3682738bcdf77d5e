/* sources: the revision of a Source's tree — Git's HEAD read from the .git
 * files, or a SHA-256 over the included files. */
#include <fcntl.h>
#include <glib.h>
#include <inttypes.h>
#include <limits.h>
#include <sys/stat.h>

#include "manifests.h"
#include "sources.h"

#define GIT_SMALL_FILE_MAX  4096 /* HEAD, a loose ref, a .git or commondir file */
#define GIT_LINE_MAX        1024 /* a packed-refs line; longer ones are skipped */
#define GIT_SYMREF_DEPTH    5
#define GIT_PACKED_REFS_MAX (64 * 1024 * 1024) /* bytes; larger counts as unreadable */

/* ---- git ------------------------------------------------------------- */

/* Reads a small text file whole, trailing whitespace trimmed. -errno, or
 * -EFBIG past GIT_SMALL_FILE_MAX. */
static int read_small(const char *path, char **ret)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        struct stat st;

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        data = malloc(GIT_SMALL_FILE_MAX + 1);
        if (!data)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(fd, data + len, GIT_SMALL_FILE_MAX + 1 - len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len > GIT_SMALL_FILE_MAX)
                        return -EFBIG;
        }
        if (memchr(data, '\0', len))
                return -EINVAL;
        while (len > 0 && strchr(" \t\r\n", data[len - 1]))
                len--;
        data[len] = '\0';
        *ret = TAKE_PTR(data);
        return 0;
}

/* A path from a git file: absolute as is, else relative to base. */
static char *path_relative_to(const char *base, const char *p)
{
        return p[0] == '/' ? strdup(p) : str_printf("%s/%s", base, p);
}

static bool is_object_id(const char *s)
{
        size_t n = strspn(s, "0123456789abcdefABCDEF");

        return s[n] == '\0' && (n == 40 || n == 64);
}

/* A ref name safe to join to a git dir: "refs/" and segments without "."
 * or "..", control characters, spaces or backslashes. */
static bool refname_is_safe(const char *name)
{
        if (!str_has_prefix(name, "refs/") || strlen(name) > 255)
                return false;
        for (const char *seg = name; seg;) {
                const char *end = strchrnul(seg, '/');
                size_t n = (size_t)(end - seg);

                if (n == 0 || (n == 1 && seg[0] == '.') ||
                    (n == 2 && seg[0] == '.' && seg[1] == '.'))
                        return false;
                for (const char *c = seg; c < end; c++)
                        if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '\\')
                                return false;
                seg = *end ? end + 1 : NULL;
        }
        return true;
}

/* The object id packed-refs (in dir) records for name; -ENOENT when none. */
static int packed_ref(const char *dir, const char *name, char **ret)
{
        _cleanup_free_ char *path = str_printf("%s/packed-refs", dir);
        _cleanup_fclose_ FILE *f = NULL;
        char line[GIT_LINE_MAX];
        bool skipping = false;
        struct stat st;

        if (!path)
                return -ENOMEM;
        f = fopen(path, "re");
        if (!f)
                return -errno;
        if (fstat(fileno(f), &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_size > GIT_PACKED_REFS_MAX)
                return -EFBIG;
        while (fgets(line, sizeof(line), f)) {
                size_t len = strlen(line);
                bool whole = len > 0 && line[len - 1] == '\n';
                bool skip = skipping;

                /* The rest of a line longer than the buffer is not a line of its own. */
                skipping = !whole && !feof(f);
                if (skip)
                        continue;
                while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                        line[--len] = '\0';
                char *sp = strchr(line, ' ');
                if (line[0] == '#' || line[0] == '^' || !sp)
                        continue;
                *sp = '\0';
                if (streq(sp + 1, name) && is_object_id(line)) {
                        char *id = strdup(line);

                        if (!id)
                                return -ENOMEM;
                        *ret = id;
                        return 0;
                }
        }
        return ferror(f) ? -EIO : -ENOENT;
}

/* Resolves a HEAD or ref value ("<id>" or "ref: <name>") to an object id. */
static int git_resolve(const char *gitdir, const char *commondir, const char *value, int depth,
                       char **ret)
{
        const char *name;
        int r;

        if (is_object_id(value)) {
                char *id = strdup(value);

                if (!id)
                        return -ENOMEM;
                *ret = id;
                return 0;
        }
        if (!str_has_prefix(value, "ref:") || depth >= GIT_SYMREF_DEPTH)
                return -EINVAL;
        name = value + strlen("ref:");
        name += strspn(name, " \t");
        if (!refname_is_safe(name))
                return -EINVAL;

        /* Loose refs: per-worktree ones in the git dir, shared ones in the
         * common dir (the same dir outside worktrees). */
        const char *dirs[] = {gitdir, commondir};
        for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
                _cleanup_free_ char *path = str_printf("%s/%s", dirs[i], name);
                _cleanup_free_ char *loose = NULL;

                if (!path)
                        return -ENOMEM;
                r = read_small(path, &loose);
                if (r == -ENOMEM)
                        return r;
                if (r == 0)
                        return git_resolve(gitdir, commondir, loose, depth + 1, ret);
                if (i == 0 && streq(gitdir, commondir))
                        break;
        }
        return packed_ref(commondir, name, ret);
}

/* Finds the git dir of the work tree holding dir (a realpath): 1 with
 * *ret_gitdir set, 0 when there is none. */
static int git_find(const char *dir, char **ret_gitdir)
{
        _cleanup_free_ char *d = strdup(dir);

        if (!d)
                return -ENOMEM;
        for (;;) {
                _cleanup_free_ char *dotgit = str_printf("%s/.git", streq(d, "/") ? "" : d);
                struct stat st;

                if (!dotgit)
                        return -ENOMEM;
                if (stat(dotgit, &st) == 0 && S_ISDIR(st.st_mode)) {
                        *ret_gitdir = TAKE_PTR(dotgit);
                        return 1;
                }
                if (stat(dotgit, &st) == 0 && S_ISREG(st.st_mode)) {
                        _cleanup_free_ char *text = NULL;
                        int r = read_small(dotgit, &text);

                        if (r == -ENOMEM)
                                return r;
                        /* A .git file that is not "gitdir: ..." marks no repository. */
                        if (r == 0 && str_has_prefix(text, "gitdir:")) {
                                const char *p = text + strlen("gitdir:");

                                p += strspn(p, " \t");
                                if (*p) {
                                        char *g = path_relative_to(streq(d, "/") ? "" : d, p);

                                        if (!g)
                                                return -ENOMEM;
                                        *ret_gitdir = g;
                                        return 1;
                                }
                        }
                }
                if (streq(d, "/"))
                        return 0;
                char *slash = strrchr(d, '/');
                if (slash == d)
                        slash[1] = '\0';
                else
                        *slash = '\0';
        }
}

/* HEAD's commit of the work tree holding root_real: 0 with ret filled, or
 * -ENOENT (no repository, or no commit to name), -ENOMEM. */
static int git_revision(const char *root_real, char ret[SOURCE_REVISION_MAX])
{
        _cleanup_free_ char *gitdir = NULL, *common = NULL, *commondir = NULL, *head = NULL;
        _cleanup_free_ char *id = NULL, *head_path = NULL, *common_path = NULL;
        int r;

        r = git_find(root_real, &gitdir);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        common_path = str_printf("%s/commondir", gitdir);
        head_path = str_printf("%s/HEAD", gitdir);
        if (!common_path || !head_path)
                return -ENOMEM;
        r = read_small(common_path, &common);
        if (r == -ENOMEM)
                return r;
        commondir = r == 0 && *common ? path_relative_to(gitdir, common) : strdup(gitdir);
        if (!commondir)
                return -ENOMEM;
        r = read_small(head_path, &head);
        if (r == 0)
                r = git_resolve(gitdir, commondir, head, 0, &id);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return -ENOENT;
        for (char *c = id; *c; c++)
                *c = (char)g_ascii_tolower(*c);
        str_copy(ret, SOURCE_REVISION_MAX, id);
        return 0;
}

/* ---- content --------------------------------------------------------- */

static void checksum_cleanup(GChecksum **c)
{
        if (*c)
                g_checksum_free(*c);
}

/* Adds one file: relpath NUL size NUL content (content only when at most
 * MANIFEST_DOC_MAX bytes and not too_big). */
static int hash_file(GChecksum *sum, const char *root, const struct source_file *f,
                     struct buf *content, struct berth_error *err)
{
        _cleanup_free_ char *path = str_printf("%s/%s", root, f->relpath);
        _cleanup_close_ int fd = -1;
        char size[32];
        int64_t n_size = f->size;
        bool with_content = false;
        int r;

        if (!path)
                return berth_error_set(err, -ENOMEM, "out of memory");
        buf_reset(content);
        if (!f->too_big) {
                struct stat st;

                fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                if (fd < 0 || fstat(fd, &st) < 0) {
                        r = -errno;
                        return berth_error_set(err, r, "%s: %s", path, strerror(-r));
                }
                if (!S_ISREG(st.st_mode))
                        return berth_error_set(err, -EINVAL, "%s: no longer a regular file", path);
                with_content = true;
                for (;;) {
                        char chunk[16384];
                        ssize_t n = read(fd, chunk, sizeof(chunk));

                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0) {
                                r = -errno;
                                return berth_error_set(err, r, "%s: %s", path, strerror(-r));
                        }
                        if (n == 0)
                                break;
                        r = buf_append(content, chunk, (size_t)n);
                        if (r == -E2BIG) {
                                /* Grown past the limit since the scan: hashed as too big. */
                                with_content = false;
                                n_size = st.st_size;
                                break;
                        }
                        if (r < 0)
                                return berth_error_set(err, r, "out of memory");
                }
                if (with_content)
                        n_size = (int64_t)content->len;
        }
        snprintf(size, sizeof(size), "%" PRId64, n_size);
        g_checksum_update(sum, (const guchar *)f->relpath, (gssize)strlen(f->relpath) + 1);
        g_checksum_update(sum, (const guchar *)size, (gssize)strlen(size) + 1);
        if (with_content && content->len > 0)
                g_checksum_update(sum, (const guchar *)content->data, (gssize)content->len);
        return 0;
}

static int content_revision(const char *root, const struct source_tree *tree,
                            char ret[SOURCE_REVISION_MAX], struct berth_error *err)
{
        _cleanup_(checksum_cleanup) GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
        _cleanup_buf_ struct buf content = {};
        int r;

        if (!sum)
                return berth_error_set(err, -ENOMEM, "out of memory");
        buf_init(&content, MANIFEST_DOC_MAX);
        for (size_t i = 0; i < tree->n_files; i++) {
                r = hash_file(sum, root, &tree->files[i], &content, err);
                if (r < 0)
                        return r;
        }
        if (snprintf(ret, SOURCE_REVISION_MAX, "sha256:%s", g_checksum_get_string(sum)) >=
            SOURCE_REVISION_MAX)
                return berth_error_set(err, -EINVAL, "revision too long");
        return 0;
}

int source_revision(const char *root, const struct source_tree *tree, char ret[SOURCE_REVISION_MAX],
                    const char **ret_kind, struct berth_error *err)
{
        _cleanup_free_ char *root_real = NULL;
        char rev[SOURCE_REVISION_MAX];
        struct stat st;
        int r;

        if (!root || !ret || !ret_kind)
                return berth_error_set(err, -EINVAL, "invalid arguments");
        if (stat(root, &st) < 0) {
                r = -errno;
                if (r == -ENOENT)
                        return berth_error_set(err, r, "%s: does not exist", root);
                return berth_error_set(err, r, "%s: %s", root, strerror(-r));
        }
        if (!S_ISDIR(st.st_mode))
                return berth_error_set(err, -ENOTDIR, "%s: not a directory", root);
        root_real = realpath(root, NULL);
        if (!root_real) {
                r = -errno;
                return berth_error_set(err, r, "%s: %s", root, strerror(-r));
        }

        r = git_revision(root_real, rev);
        if (r == -ENOMEM)
                return berth_error_set(err, r, "out of memory");
        if (r == 0) {
                memcpy(ret, rev, sizeof(rev));
                *ret_kind = SOURCE_REVISION_GIT;
                return 0;
        }
        if (!tree)
                return berth_error_set(err, -ENOENT, "%s: not in a git work tree with a commit",
                                       root);
        r = content_revision(root_real, tree, rev, err);
        if (r < 0)
                return r;
        memcpy(ret, rev, sizeof(rev));
        *ret_kind = SOURCE_REVISION_CONTENT;
        return 0;
}
