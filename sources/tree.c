/* sources: the file list of a Source's tree.
 *
 * Directories are opened relative to their parent with O_NOFOLLOW, so the
 * walk never leaves root through a symlinked directory, whatever changes
 * while it runs. Symlinks to files are judged by where they resolve. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "manifests.h"
#include "sources.h"

struct scan {
        const char *root;
        char *root_real; /* realpath of root */
        bool recursive;
        const char *const *include, *const *exclude;
        size_t n_include, n_exclude;
        struct source_tree tree;
        size_t cap_files, cap_skipped;
        size_t entries;
        struct berth_error *err;
};

static int scan_full(struct scan *s)
{
        return berth_error_set(s->err, -E2BIG,
                               "%s: more than %d files (files and skipped entries together)",
                               s->root, MANIFEST_FILES_MAX);
}

static int scan_oom(struct scan *s)
{
        return berth_error_set(s->err, -ENOMEM, "%s: out of memory", s->root);
}

static int add_file(struct scan *s, const char *relpath, int64_t size)
{
        if (s->tree.n_files + s->tree.n_skipped >= MANIFEST_FILES_MAX)
                return scan_full(s);
        if (s->tree.n_files == s->cap_files) {
                size_t cap = s->cap_files ? s->cap_files * 2 : 64;
                struct source_file *v = reallocarray(s->tree.files, cap, sizeof(*v));

                if (!v)
                        return scan_oom(s);
                s->tree.files = v;
                s->cap_files = cap;
        }
        char *p = strdup(relpath);
        if (!p)
                return scan_oom(s);
        s->tree.files[s->tree.n_files++] = (struct source_file){
            .relpath = p,
            .size = size,
            .too_big = size > MANIFEST_DOC_MAX,
        };
        return 0;
}

static int add_skipped(struct scan *s, const char *relpath, const char *reason)
{
        if (s->tree.n_files + s->tree.n_skipped >= MANIFEST_FILES_MAX)
                return scan_full(s);
        if (s->tree.n_skipped == s->cap_skipped) {
                size_t cap = s->cap_skipped ? s->cap_skipped * 2 : 16;
                struct source_skipped *v = reallocarray(s->tree.skipped, cap, sizeof(*v));

                if (!v)
                        return scan_oom(s);
                s->tree.skipped = v;
                s->cap_skipped = cap;
        }
        _cleanup_free_ char *p = strdup(relpath), *q = strdup(reason);
        if (!p || !q)
                return scan_oom(s);
        s->tree.skipped[s->tree.n_skipped++] = (struct source_skipped){
            .relpath = TAKE_PTR(p),
            .reason = TAKE_PTR(q),
        };
        return 0;
}

static bool included(const struct scan *s, const char *relpath)
{
        return source_path_included(s->include, s->n_include, s->exclude, s->n_exclude, relpath);
}

/* Whether a directory at relpath would be walked into. */
static bool walked(const struct scan *s, const char *relpath)
{
        return s->recursive && source_dir_descended(s->exclude, s->n_exclude, relpath);
}

static bool inside_root(const struct scan *s, const char *real)
{
        size_t n = strlen(s->root_real);

        if (streq(s->root_real, "/"))
                return true;
        return strncmp(real, s->root_real, n) == 0 && (real[n] == '\0' || real[n] == '/');
}

static int scan_symlink(struct scan *s, const char *relpath)
{
        _cleanup_free_ char *path = str_printf("%s/%s", s->root_real, relpath);
        _cleanup_free_ char *real = NULL;
        struct stat st;

        if (!path)
                return scan_oom(s);
        real = realpath(path, NULL);
        if (!real || stat(real, &st) < 0) {
                int r = errno;

                if (r == ENOMEM)
                        return scan_oom(s);
                if (!included(s, relpath))
                        return 0;
                if (r == ENOENT)
                        return add_skipped(s, relpath, SOURCE_SKIPPED_DANGLING);
                _cleanup_free_ char *why =
                    str_printf("symlink cannot be resolved: %s", strerror(r));
                if (!why)
                        return scan_oom(s);
                return add_skipped(s, relpath, why);
        }
        bool dir = S_ISDIR(st.st_mode);
        if (dir ? !walked(s, relpath) : !included(s, relpath))
                return 0;
        if (!inside_root(s, real))
                return add_skipped(s, relpath, SOURCE_SKIPPED_OUTSIDE);
        if (dir)
                return add_skipped(s, relpath, SOURCE_SKIPPED_DIR_LINK);
        if (!S_ISREG(st.st_mode))
                return add_skipped(s, relpath, SOURCE_SKIPPED_SPECIAL);
        return add_file(s, relpath, st.st_size);
}

/* Reads the names of the directory dfd (which stays open). */
static int read_names(struct scan *s, int dfd, const char *reldir, char ***ret, size_t *ret_n)
{
        _cleanup_strv_ char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        int fd, r = 0;
        DIR *d;

        fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0 || !(d = fdopendir(fd))) {
                r = -errno;
                if (fd >= 0)
                        close(fd);
                goto fail;
        }
        for (errno = 0; (de = readdir(d)); errno = 0) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (++s->entries > SOURCE_ENTRIES_MAX) {
                        closedir(d);
                        return berth_error_set(s->err, -E2BIG, "%s: more than %d directory entries",
                                               s->root, SOURCE_ENTRIES_MAX);
                }
                if (n + 1 >= cap) {
                        size_t ncap = cap ? cap * 2 : 32;
                        char **v = reallocarray(names, ncap, sizeof(*v));

                        if (!v) {
                                r = -ENOMEM;
                                break;
                        }
                        names = v;
                        cap = ncap;
                }
                names[n] = strdup(de->d_name);
                if (!names[n]) {
                        r = -ENOMEM;
                        break;
                }
                names[++n] = NULL;
        }
        if (r == 0 && errno != 0)
                r = -errno;
        closedir(d);
        if (r < 0)
                goto fail;
        *ret = TAKE_PTR(names);
        *ret_n = n;
        return 0;

fail:
        return berth_error_set(s->err, r, "%s%s%s: %s", s->root, *reldir ? "/" : "", reldir,
                               strerror(-r));
}

static int scan_dir(struct scan *s, int dfd, const char *reldir, unsigned depth)
{
        _cleanup_strv_ char **names = NULL;
        size_t n = 0;
        int r;

        if (depth > SOURCE_DEPTH_MAX)
                return berth_error_set(s->err, -E2BIG, "%s/%s: more than %d directory levels",
                                       s->root, reldir, SOURCE_DEPTH_MAX);
        r = read_names(s, dfd, reldir, &names, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *relpath = NULL;
                struct stat st;

                if (*reldir)
                        relpath = str_printf("%s/%s", reldir, names[i]);
                else
                        relpath = strdup(names[i]);
                if (!relpath)
                        return scan_oom(s);
                if (strlen(s->root_real) + 1 + strlen(relpath) >= PATH_MAX)
                        return berth_error_set(s->err, -ENAMETOOLONG, "%s/%s: path too long",
                                               s->root, relpath);
                if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno == ENOENT)
                                continue; /* removed while we looked */
                        r = -errno;
                        return berth_error_set(s->err, r, "%s/%s: %s", s->root, relpath,
                                               strerror(-r));
                }
                if (S_ISLNK(st.st_mode)) {
                        r = scan_symlink(s, relpath);
                } else if (S_ISDIR(st.st_mode)) {
                        if (!walked(s, relpath))
                                continue;
                        _cleanup_close_ int sub =
                            openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0) {
                                r = -errno;
                                return berth_error_set(s->err, r, "%s/%s: %s", s->root, relpath,
                                                       strerror(-r));
                        }
                        r = scan_dir(s, sub, relpath, depth + 1);
                } else if (!included(s, relpath)) {
                        continue;
                } else if (S_ISREG(st.st_mode)) {
                        r = add_file(s, relpath, st.st_size);
                } else {
                        r = add_skipped(s, relpath, SOURCE_SKIPPED_SPECIAL);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

static int compare_files(const void *a, const void *b)
{
        return strcmp(((const struct source_file *)a)->relpath,
                      ((const struct source_file *)b)->relpath);
}

static int compare_skipped(const void *a, const void *b)
{
        return strcmp(((const struct source_skipped *)a)->relpath,
                      ((const struct source_skipped *)b)->relpath);
}

int source_tree_scan(const char *root, bool recursive, const char *const *include, size_t n_include,
                     const char *const *exclude, size_t n_exclude, struct source_tree *ret,
                     struct berth_error *err)
{
        struct scan s = {
            .root = root,
            .recursive = recursive,
            .include = include,
            .exclude = exclude,
            .n_include = n_include,
            .n_exclude = n_exclude,
            .err = err,
        };
        _cleanup_close_ int fd = -1;
        int r;

        if (!root || !ret || (n_include > 0 && !include) || (n_exclude > 0 && !exclude))
                return berth_error_set(err, -EINVAL, "invalid arguments");
        fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                if (r == -ENOENT)
                        return berth_error_set(err, r, "%s: does not exist", root);
                if (r == -ENOTDIR)
                        return berth_error_set(err, r, "%s: not a directory", root);
                return berth_error_set(err, r, "%s: %s", root, strerror(-r));
        }
        s.root_real = realpath(root, NULL);
        if (!s.root_real) {
                r = -errno;
                return berth_error_set(err, r, "%s: %s", root, strerror(-r));
        }
        r = scan_dir(&s, fd, "", 0);
        free(s.root_real);
        if (r < 0) {
                source_tree_release(&s.tree);
                return r;
        }
        if (s.tree.n_files > 0)
                qsort(s.tree.files, s.tree.n_files, sizeof(*s.tree.files), compare_files);
        if (s.tree.n_skipped > 0)
                qsort(s.tree.skipped, s.tree.n_skipped, sizeof(*s.tree.skipped), compare_skipped);
        *ret = s.tree;
        return 0;
}

void source_tree_release(struct source_tree *t)
{
        if (!t)
                return;
        for (size_t i = 0; i < t->n_files; i++)
                free(t->files[i].relpath);
        for (size_t i = 0; i < t->n_skipped; i++) {
                free(t->skipped[i].relpath);
                free(t->skipped[i].reason);
        }
        free(t->files);
        free(t->skipped);
        *t = (struct source_tree){};
}
