/* Unit tests for sources/: the tree scan on a temporary directory, the
 * revision (fake .git layouts made by hand, the content hash), the prune
 * decision and the ownership check. A real repository made with the git
 * binary is tested by test_sources_git. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sys/stat.h>

#include "manifests.h"
#include "sources.h"
#include "test-support.h"

static const char *const default_include[] = {"*.yaml", "*.yml", "*.json"};
static const char *const default_exclude[] = {".git/**", "**/.*"};

#define COMMIT_A "0123456789abcdef0123456789abcdef01234567"
#define COMMIT_B "89abcdef0123456789abcdef0123456789abcdef"
#define COMMIT_C "fedcba9876543210fedcba9876543210fedcba98"

/* A fresh directory under /tmp (not in a git work tree), removed by teardown. */
static int tmp_setup(void **state)
{
        char *dir = strdup("/tmp/berth-sources-XXXXXX");

        if (!dir || !mkdtemp(dir)) {
                free(dir);
                return -1;
        }
        *state = dir;
        return 0;
}

static int tmp_teardown(void **state)
{
        test_rm_tree(*state);
        free(*state);
        return 0;
}

static char *path_in(const char *dir, const char *rel)
{
        char *p = str_printf("%s/%s", dir, rel);

        assert_non_null(p);
        return p;
}

/* Writes dir/rel (parents made) with content. */
static void put(const char *dir, const char *rel, const char *content)
{
        _cleanup_free_ char *p = path_in(dir, rel);
        _cleanup_free_ char *parent = strdup(p);

        assert_non_null(parent);
        *strrchr(parent, '/') = '\0';
        assert_int_equal(mkdir_p(parent, 0755), 0);
        _cleanup_fclose_ FILE *f = fopen(p, "we");
        assert_non_null(f);
        assert_int_equal(fputs(content, f) >= 0, 1);
}

/* dir/rel of exactly size bytes (sparse). */
static void put_sized(const char *dir, const char *rel, off_t size)
{
        _cleanup_free_ char *p = path_in(dir, rel);
        _cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, size), 0);
}

static void link_at(const char *dir, const char *rel, const char *target)
{
        _cleanup_free_ char *p = path_in(dir, rel);

        assert_int_equal(symlink(target, p), 0);
}

static void mkdir_in(const char *dir, const char *rel)
{
        _cleanup_free_ char *p = path_in(dir, rel);

        assert_int_equal(mkdir_p(p, 0755), 0);
}

/* ---- tree scan ---------------------------------------------------------- */

/* root/ with manifests, hidden files, a .git, symlinks of every kind, a
 * FIFO and big files; outside/ next to it. */
static char *make_tree(const char *tmp)
{
        char *root = path_in(tmp, "root");
        _cleanup_free_ char *outside = path_in(tmp, "outside");
        _cleanup_free_ char *outside_file = path_in(tmp, "outside/secret.yaml");
        _cleanup_free_ char *fifo = path_in(tmp, "root/fifo.yaml");

        put(tmp, "outside/secret.yaml", "kind: Secret\n");
        put(root, "a.yaml", "a");
        put(root, "b.yml", "bb");
        put(root, "c.json", "{}");
        put(root, "notes.txt", "n");
        put(root, ".hidden.yaml", "h");
        put(root, "x.yaml.swp", "s");
        put(root, "sub/d.yaml", "ddd");
        put(root, "sub/deep/e.yaml", "eeee");
        put(root, ".git/config", "[core]\n");
        put(root, ".git/x.yaml", "g");
        put(root, ".github/ci.yml", "c");
        put(root, "vendor/v.yaml", "v");
        link_at(root, "link-in.yaml", "a.yaml");
        link_at(root, "link-sub.yaml", "sub/../sub/d.yaml");
        link_at(root, "link-out.yaml", outside_file);
        link_at(root, "link-out-rel.yaml", "../outside/secret.yaml");
        link_at(root, "link-out.txt", outside_file);
        link_at(root, "link-outdir", outside);
        link_at(root, "link-dir", "sub");
        link_at(root, "dangling.yaml", "nowhere.yaml");
        link_at(root, "dangling.txt", "nowhere.txt");
        link_at(root, "sub/up.yaml", "../a.yaml");
        assert_int_equal(mkfifo(fifo, 0644), 0);
        put_sized(root, "big.yaml", MANIFEST_DOC_MAX + 1);
        put_sized(root, "edge.yaml", MANIFEST_DOC_MAX);
        return root;
}

static void assert_files(const struct source_tree *t, const char *const *want, size_t n)
{
        for (size_t i = 0; i < t->n_files && i < n; i++)
                if (!streq(t->files[i].relpath, want[i]))
                        fail_msg("file %zu: %s, expected %s", i, t->files[i].relpath, want[i]);
        if (t->n_files != n)
                fail_msg("%zu files, expected %zu", t->n_files, n);
}

static void assert_skipped(const struct source_tree *t, const char *const *want, size_t n)
{
        for (size_t i = 0; i < t->n_skipped && i < n; i++) {
                _cleanup_free_ char *got =
                    str_printf("%s: %s", t->skipped[i].relpath, t->skipped[i].reason);
                if (!streq(got, want[i]))
                        fail_msg("skipped %zu: %s, expected %s", i, got, want[i]);
        }
        if (t->n_skipped != n)
                fail_msg("%zu skipped, expected %zu", t->n_skipped, n);
}

static const struct source_file *find_file(const struct source_tree *t, const char *relpath)
{
        for (size_t i = 0; i < t->n_files; i++)
                if (streq(t->files[i].relpath, relpath))
                        return &t->files[i];
        fail_msg("no file %s", relpath);
        return NULL;
}

static void test_scan_recursive(void **state)
{
        _cleanup_free_ char *root = make_tree(*state);
        _cleanup_(source_tree_release) struct source_tree t = {};
        struct berth_error err = {};
        static const char *const files[] = {
            "a.yaml",          "b.yml",        "big.yaml",      "c.json",
            "edge.yaml",       "link-in.yaml", "link-sub.yaml", "sub/d.yaml",
            "sub/deep/e.yaml", "sub/up.yaml",  "vendor/v.yaml",
        };
        static const char *const skipped[] = {
            "dangling.yaml: " SOURCE_SKIPPED_DANGLING, "fifo.yaml: " SOURCE_SKIPPED_SPECIAL,
            "link-dir: " SOURCE_SKIPPED_DIR_LINK,      "link-out-rel.yaml: " SOURCE_SKIPPED_OUTSIDE,
            "link-out.yaml: " SOURCE_SKIPPED_OUTSIDE,  "link-outdir: " SOURCE_SKIPPED_OUTSIDE,
        };

        assert_int_equal(
            source_tree_scan(root, true, default_include, 3, default_exclude, 2, &t, &err), 0);
        assert_files(&t, files, ARRAY_SIZE(files));
        assert_skipped(&t, skipped, ARRAY_SIZE(skipped));

        /* Sizes; a followed symlink has its target's. */
        assert_int_equal(find_file(&t, "a.yaml")->size, 1);
        assert_int_equal(find_file(&t, "link-in.yaml")->size, 1);
        assert_int_equal(find_file(&t, "link-sub.yaml")->size, 3);
        assert_int_equal(find_file(&t, "sub/up.yaml")->size, 1);
        assert_int_equal(find_file(&t, "sub/deep/e.yaml")->size, 4);
        /* Too big past MANIFEST_DOC_MAX, listed all the same. */
        assert_true(find_file(&t, "big.yaml")->too_big);
        assert_int_equal(find_file(&t, "big.yaml")->size, MANIFEST_DOC_MAX + 1);
        assert_false(find_file(&t, "edge.yaml")->too_big);
        assert_false(find_file(&t, "a.yaml")->too_big);
}

static void test_scan_flat_and_globs(void **state)
{
        _cleanup_free_ char *root = make_tree(*state);
        struct berth_error err = {};

        {
                _cleanup_(source_tree_release) struct source_tree t = {};
                static const char *const files[] = {
                    "a.yaml",    "b.yml",        "big.yaml",      "c.json",
                    "edge.yaml", "link-in.yaml", "link-sub.yaml",
                };
                /* Not recursive: directories (and links to them) are not reported. */
                static const char *const skipped[] = {
                    "dangling.yaml: " SOURCE_SKIPPED_DANGLING,
                    "fifo.yaml: " SOURCE_SKIPPED_SPECIAL,
                    "link-out-rel.yaml: " SOURCE_SKIPPED_OUTSIDE,
                    "link-out.yaml: " SOURCE_SKIPPED_OUTSIDE,
                };

                assert_int_equal(
                    source_tree_scan(root, false, default_include, 3, default_exclude, 2, &t, &err),
                    0);
                assert_files(&t, files, ARRAY_SIZE(files));
                assert_skipped(&t, skipped, ARRAY_SIZE(skipped));
        }
        {
                _cleanup_(source_tree_release) struct source_tree t = {};
                static const char *const inc[] = {"sub/**", "*.txt"};
                static const char *const exc[] = {"deep", "link-*"};
                static const char *const files[] = {"notes.txt", "sub/d.yaml", "sub/up.yaml"};

                static const char *const skipped[] = {
                    "dangling.txt: " SOURCE_SKIPPED_DANGLING,
                };

                assert_int_equal(source_tree_scan(root, true, inc, 2, exc, 2, &t, &err), 0);
                assert_files(&t, files, ARRAY_SIZE(files));
                assert_skipped(&t, skipped, ARRAY_SIZE(skipped));
        }
        {
                /* Nothing excluded: .git and hidden files are walked too. */
                _cleanup_(source_tree_release) struct source_tree t = {};
                static const char *const inc[] = {"*.yaml", "*.yml"};
                static const char *const files[] = {
                    ".git/x.yaml",   ".github/ci.yml", ".hidden.yaml",    "a.yaml",
                    "b.yml",         "big.yaml",       "edge.yaml",       "link-in.yaml",
                    "link-sub.yaml", "sub/d.yaml",     "sub/deep/e.yaml", "sub/up.yaml",
                    "vendor/v.yaml",
                };

                assert_int_equal(source_tree_scan(root, true, inc, 2, NULL, 0, &t, &err), 0);
                assert_files(&t, files, ARRAY_SIZE(files));
        }
        {
                /* Reached through a symlink, the root's real path decides what is inside. */
                _cleanup_(source_tree_release) struct source_tree t = {};
                _cleanup_free_ char *via = path_in(*state, "via");

                assert_int_equal(symlink(root, via), 0);
                assert_int_equal(
                    source_tree_scan(via, false, default_include, 3, default_exclude, 2, &t, &err),
                    0);
                assert_int_equal(t.n_files, 7);
                assert_string_equal(t.files[5].relpath, "link-in.yaml");
        }
        {
                /* No include: nothing. */
                _cleanup_(source_tree_release) struct source_tree t = {};

                assert_int_equal(source_tree_scan(root, true, NULL, 0, NULL, 0, &t, &err), 0);
                assert_int_equal(t.n_files, 0);
                assert_null(t.files);
        }
}

static void test_scan_errors(void **state)
{
        const char *tmp = *state;
        _cleanup_free_ char *missing = path_in(tmp, "missing");
        _cleanup_free_ char *file = path_in(tmp, "file.yaml");
        struct source_file sentinel_file;
        struct source_tree t = {.files = &sentinel_file, .n_files = 42};
        struct berth_error err = {};
        char want[PATH_MAX + 64];

        put(tmp, "file.yaml", "x");
        assert_int_equal(source_tree_scan(missing, true, default_include, 3, NULL, 0, &t, &err),
                         -ENOENT);
        snprintf(want, sizeof(want), "%s: does not exist", missing);
        assert_string_equal(err.message, want);
        assert_int_equal(err.code, -ENOENT);
        assert_ptr_equal(t.files, &sentinel_file);
        assert_int_equal(t.n_files, 42);

        assert_int_equal(source_tree_scan(file, true, default_include, 3, NULL, 0, &t, &err),
                         -ENOTDIR);
        snprintf(want, sizeof(want), "%s: not a directory", file);
        assert_string_equal(err.message, want);
        assert_ptr_equal(t.files, &sentinel_file);

        assert_int_equal(source_tree_scan(NULL, true, NULL, 0, NULL, 0, &t, &err), -EINVAL);
        assert_int_equal(source_tree_scan(tmp, true, NULL, 0, NULL, 0, NULL, &err), -EINVAL);
        assert_int_equal(source_tree_scan(tmp, true, NULL, 1, NULL, 0, &t, NULL), -EINVAL);

        source_tree_release(NULL);
}

static void test_scan_limits(void **state)
{
        const char *tmp = *state;
        _cleanup_free_ char *root = path_in(tmp, "many");
        _cleanup_free_ char *deep = path_in(tmp, "deep");
        struct berth_error err = {};

        mkdir_in(tmp, "many");
        for (int i = 0; i < MANIFEST_FILES_MAX; i++) {
                char name[32];

                snprintf(name, sizeof(name), "f%05d.yaml", i);
                put_sized(root, name, 0);
        }
        {
                _cleanup_(source_tree_release) struct source_tree t = {};

                assert_int_equal(
                    source_tree_scan(root, true, default_include, 3, NULL, 0, &t, &err), 0);
                assert_int_equal(t.n_files, MANIFEST_FILES_MAX);
                assert_string_equal(t.files[0].relpath, "f00000.yaml");
                assert_string_equal(t.files[MANIFEST_FILES_MAX - 1].relpath, "f09999.yaml");
        }
        /* Files left out by the globs do not count; one more included does. */
        put_sized(root, "extra.txt", 0);
        {
                _cleanup_(source_tree_release) struct source_tree t = {};

                assert_int_equal(
                    source_tree_scan(root, true, default_include, 3, NULL, 0, &t, &err), 0);
        }
        put_sized(root, "extra.yaml", 0);
        {
                struct source_tree t = {};
                char want[PATH_MAX + 128];

                assert_int_equal(
                    source_tree_scan(root, true, default_include, 3, NULL, 0, &t, &err), -E2BIG);
                snprintf(want, sizeof(want),
                         "%s: more than 10000 files (files and skipped entries together)", root);
                assert_string_equal(err.message, want);
                assert_null(t.files);
        }

        /* SOURCE_DEPTH_MAX levels below the root are fine, one more is not. */
        {
                char rel[4 * (SOURCE_DEPTH_MAX + 2)] = "";
                size_t len = 0;

                for (int i = 0; i < SOURCE_DEPTH_MAX; i++)
                        len += (size_t)snprintf(rel + len, sizeof(rel) - len, "%sd", i ? "/" : "");
                _cleanup_free_ char *file = str_printf("%s/x.yaml", rel);
                put(deep, file, "x");
                _cleanup_(source_tree_release) struct source_tree t = {};
                assert_int_equal(
                    source_tree_scan(deep, true, default_include, 3, NULL, 0, &t, &err), 0);
                assert_int_equal(t.n_files, 1);
                assert_string_equal(t.files[0].relpath, file);

                _cleanup_free_ char *deeper = str_printf("%s/d/y.yaml", rel);
                put(deep, deeper, "y");
                struct source_tree t2 = {};
                assert_int_equal(
                    source_tree_scan(deep, true, default_include, 3, NULL, 0, &t2, &err), -E2BIG);
                assert_non_null(strstr(err.message, "more than 64 directory levels"));
                /* Not recursive, the depth does not matter. */
                assert_int_equal(
                    source_tree_scan(deep, false, default_include, 3, NULL, 0, &t2, &err), 0);
                assert_int_equal(t2.n_files, 0);
                source_tree_release(&t2);
        }
}

static void test_scan_unreadable_dir(void **state)
{
        if (geteuid() == 0)
                skip(); /* root reads any directory; before anything to free */

        const char *tmp = *state;
        _cleanup_free_ char *root = path_in(tmp, "r");
        _cleanup_free_ char *locked = path_in(tmp, "r/locked");
        struct source_tree t = {};
        struct berth_error err = {};

        put(root, "a.yaml", "a");
        put(root, "locked/b.yaml", "b");
        assert_int_equal(chmod(locked, 0), 0);
        assert_int_equal(source_tree_scan(root, true, default_include, 3, NULL, 0, &t, &err),
                         -EACCES);
        assert_non_null(strstr(err.message, "locked: Permission denied"));
        assert_null(t.files);
        assert_int_equal(chmod(locked, 0755), 0);
}

/* ---- revision ----------------------------------------------------------- */

static void scan(const char *root, struct source_tree *t)
{
        struct berth_error err = {};

        if (source_tree_scan(root, true, default_include, 3, default_exclude, 2, t, &err) != 0)
                fail_msg("scan %s: %s", root, err.message);
}

static void revision_of(const char *root, const struct source_tree *t, char rev[80],
                        const char **kind)
{
        struct berth_error err = {};

        if (source_revision(root, t, rev, kind, &err) != 0)
                fail_msg("revision %s: %s", root, err.message);
}

static void content_revision(const char *root, char rev[80])
{
        _cleanup_(source_tree_release) struct source_tree t = {};
        const char *kind = NULL;

        scan(root, &t);
        revision_of(root, &t, rev, &kind);
        assert_string_equal(kind, SOURCE_REVISION_CONTENT);
}

static void test_content_revision(void **state)
{
        const char *tmp = *state;
        _cleanup_free_ char *root = path_in(tmp, "root");
        char rev[SOURCE_REVISION_MAX], again[SOURCE_REVISION_MAX], other[SOURCE_REVISION_MAX];

        /* The exact format: relpath NUL size NUL content, per file in order. */
        mkdir_in(tmp, "root");
        content_revision(root, rev);
        assert_string_equal(
            rev, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        put(root, "a.yaml", "x: 1\n");
        put(root, "notes.txt", "not included");
        content_revision(root, rev);
        assert_string_equal(
            rev, "sha256:7df1d03b99cdaf1e56cfea69886344ba48e21435e0cb06af6cb7edc3a6aaa73b");
        put(root, "sub/b.yml", "");
        content_revision(root, rev);
        assert_string_equal(
            rev, "sha256:d2f0185dea75c4015740b30767616d8c88d36f55d7ae8f5df1e544eb7d4050af");

        /* Stable; moves with content (same size), names, and files left out stay out. */
        content_revision(root, again);
        assert_string_equal(rev, again);
        put(root, "notes.txt", "changed, still not included");
        content_revision(root, again);
        assert_string_equal(rev, again);
        put(root, "a.yaml", "x: 2\n");
        content_revision(root, other);
        assert_string_not_equal(rev, other);
        put(root, "a.yaml", "x: 1\n");
        content_revision(root, again);
        assert_string_equal(rev, again);
        _cleanup_free_ char *from = path_in(root, "sub/b.yml");
        _cleanup_free_ char *to = path_in(root, "sub/c.yml");
        assert_int_equal(rename(from, to), 0);
        content_revision(root, other);
        assert_string_not_equal(rev, other);

        /* A too-big file counts by name and size only. */
        put_sized(root, "big.yaml", MANIFEST_DOC_MAX + 10);
        content_revision(root, rev);
        _cleanup_free_ char *big = path_in(root, "big.yaml");
        {
                _cleanup_close_ int fd = open(big, O_WRONLY | O_CLOEXEC);
                assert_true(fd >= 0);
                assert_int_equal(pwrite(fd, "zz", 2, 100), 2);
        }
        content_revision(root, again);
        assert_string_equal(rev, again);
        assert_int_equal(truncate(big, MANIFEST_DOC_MAX + 11), 0);
        content_revision(root, again);
        assert_string_not_equal(rev, again);
}

static void test_revision_errors(void **state)
{
        const char *tmp = *state;
        _cleanup_free_ char *missing = path_in(tmp, "missing");
        _cleanup_free_ char *file = path_in(tmp, "f");
        _cleanup_free_ char *root = path_in(tmp, "root");
        struct source_tree empty = {};
        char rev[SOURCE_REVISION_MAX] = "untouched";
        const char *kind = "untouched";
        struct berth_error err = {};

        put(tmp, "f", "x");
        assert_int_equal(source_revision(missing, &empty, rev, &kind, &err), -ENOENT);
        assert_non_null(strstr(err.message, "does not exist"));
        assert_int_equal(source_revision(file, &empty, rev, &kind, &err), -ENOTDIR);
        assert_non_null(strstr(err.message, "not a directory"));
        assert_int_equal(source_revision(NULL, &empty, rev, &kind, &err), -EINVAL);
        assert_int_equal(source_revision(tmp, &empty, NULL, &kind, &err), -EINVAL);
        assert_int_equal(source_revision(tmp, &empty, rev, NULL, &err), -EINVAL);
        /* No tree and no git: nothing to name. */
        assert_int_equal(source_revision(tmp, NULL, rev, &kind, &err), -ENOENT);
        /* A file of the tree gone since the scan. */
        {
                _cleanup_(source_tree_release) struct source_tree t = {};

                put(root, "gone.yaml", "x");
                scan(root, &t);
                _cleanup_free_ char *gone = path_in(root, "gone.yaml");
                assert_int_equal(unlink(gone), 0);
                assert_int_equal(source_revision(root, &t, rev, &kind, NULL), -ENOENT);
                assert_int_equal(source_revision(root, &t, rev, &kind, &err), -ENOENT);
                assert_non_null(strstr(err.message, "gone.yaml: No such file or directory"));
        }
        assert_string_equal(rev, "untouched");
        assert_string_equal(kind, "untouched");
}

/* repo/manifests inside a work tree whose .git is made by hand. */
static void git_revision_is(const char *root, const char *want)
{
        char rev[SOURCE_REVISION_MAX];
        const char *kind = NULL;

        revision_of(root, NULL, rev, &kind);
        assert_string_equal(kind, SOURCE_REVISION_GIT);
        assert_string_equal(rev, want);
}

static void not_git(const char *root)
{
        _cleanup_(source_tree_release) struct source_tree t = {};
        char rev[SOURCE_REVISION_MAX];
        const char *kind = NULL;

        scan(root, &t);
        revision_of(root, &t, rev, &kind);
        assert_string_equal(kind, SOURCE_REVISION_CONTENT);
        assert_true(str_has_prefix(rev, "sha256:"));
        assert_int_equal(strlen(rev), 7 + 64);
}

static void test_git_loose_and_packed(void **state)
{
        const char *tmp = *state;
        _cleanup_free_ char *repo = path_in(tmp, "repo");
        _cleanup_free_ char *root = path_in(tmp, "repo/manifests/team");
        _cleanup_free_ char *loose = path_in(tmp, "repo/.git/refs/heads/main");

        put(repo, "manifests/team/a.yaml", "a");
        put(repo, ".git/HEAD", "ref: refs/heads/main\n");
        mkdir_in(repo, ".git/refs/heads");

        /* An unborn branch (git init, no commit yet): the content. */
        not_git(root);

        /* HEAD -> loose ref. */
        put(repo, ".git/refs/heads/main", COMMIT_A "\n");
        git_revision_is(root, COMMIT_A);
        git_revision_is(repo, COMMIT_A);

        /* The loose ref wins over packed-refs. */
        put(repo, ".git/packed-refs",
            "# pack-refs with: peeled fully-peeled sorted \n" COMMIT_C
            " refs/heads/feature\n" COMMIT_B " refs/heads/main\n" COMMIT_C
            " refs/tags/v1\n^" COMMIT_A "\n");
        git_revision_is(root, COMMIT_A);

        /* packed-refs only (after git pack-refs). */
        assert_int_equal(unlink(loose), 0);
        git_revision_is(root, COMMIT_B);

        /* A symbolic ref, and a ref name that is a prefix of another. */
        put(repo, ".git/HEAD", "ref: refs/heads/alias\n");
        put(repo, ".git/refs/heads/alias", "ref: refs/heads/feature\n");
        git_revision_is(root, COMMIT_C);
        put(repo, ".git/HEAD", "ref: refs/heads/mai\n");
        not_git(root);

        /* Detached HEAD, upper case read as lower case; SHA-256 repositories. */
        put(repo, ".git/HEAD", "89ABCDEF0123456789ABCDEF0123456789ABCDEF\n");
        git_revision_is(root, COMMIT_B);
        put(repo, ".git/HEAD", COMMIT_A "0123456789abcdef01234567\n");
        git_revision_is(root, COMMIT_A "0123456789abcdef01234567");

        /* What falls back to the content revision. */
        put(repo, ".git/HEAD", "ref: refs/heads/../../../../etc/passwd\n");
        not_git(root);
        put(repo, ".git/HEAD", "ref: HEAD\n");
        not_git(root);
        put(repo, ".git/HEAD", "ref: refs/heads/loop1\n");
        put(repo, ".git/refs/heads/loop1", "ref: refs/heads/loop2\n");
        put(repo, ".git/refs/heads/loop2", "ref: refs/heads/loop1\n");
        not_git(root);
        put(repo, ".git/HEAD", COMMIT_A "0\n"); /* 41 digits */
        not_git(root);
        put(repo, ".git/HEAD", "garbage\n");
        not_git(root);
        put(repo, ".git/HEAD", "ref: refs/heads/main\n");
        put(repo, ".git/packed-refs", "# pack-refs with: peeled\nnot-hex refs/heads/main\n");
        not_git(root);
        _cleanup_free_ char *head = path_in(repo, ".git/HEAD");
        assert_int_equal(unlink(head), 0);
        not_git(root);
}

static void test_git_long_packed_line(void **state)
{
        const char *tmp = *state;
        _cleanup_free_ char *repo = path_in(tmp, "repo");
        _cleanup_free_ char *text = NULL;
        /* 40 + 12 + 1994 = 2 * 1023: the reader's third piece of the long line
         * would start with COMMIT_C. */
        char filler[1995];

        /* A line longer than the reader's buffer whose tail looks like the ref. */
        memset(filler, 'x', sizeof(filler) - 1);
        filler[sizeof(filler) - 1] = '\0';
        text = str_printf("%s refs/heads/%s" COMMIT_C " refs/heads/main\n" COMMIT_B
                          " refs/heads/main\n",
                          COMMIT_A, filler);
        assert_non_null(text);
        put(repo, ".git/HEAD", "ref: refs/heads/main\n");
        put(repo, ".git/packed-refs", text);
        git_revision_is(repo, COMMIT_B);
}

static void test_git_worktree_and_gitdir_file(void **state)
{
        const char *tmp = *state;
        _cleanup_free_ char *repo = path_in(tmp, "repo");
        _cleanup_free_ char *wt = path_in(tmp, "wt");
        _cleanup_free_ char *wt_root = path_in(tmp, "wt/manifests");
        _cleanup_free_ char *sub = path_in(tmp, "sub");
        _cleanup_free_ char *modules = path_in(tmp, "repo/.git/modules/sub");

        put(repo, ".git/HEAD", "ref: refs/heads/main\n");
        put(repo, ".git/refs/heads/main", COMMIT_A "\n");

        /* A linked worktree: .git is a file naming its git dir (relative here),
         * whose commondir leads back to the shared refs. */
        put(wt, ".git", "gitdir: ../repo/.git/worktrees/wt\n");
        put(wt, "manifests/a.yaml", "a");
        put(repo, ".git/worktrees/wt/HEAD", "ref: refs/heads/feature\n");
        put(repo, ".git/worktrees/wt/commondir", "../..\n");
        put(repo, ".git/packed-refs", COMMIT_B " refs/heads/feature\n");
        git_revision_is(wt_root, COMMIT_B);
        put(repo, ".git/refs/heads/feature", COMMIT_C "\n");
        git_revision_is(wt_root, COMMIT_C);
        /* Detached in the worktree. */
        put(repo, ".git/worktrees/wt/HEAD", COMMIT_A "\n");
        git_revision_is(wt_root, COMMIT_A);
        /* A worktree whose git dir is gone. */
        _cleanup_free_ char *worktrees = path_in(tmp, "repo/.git/worktrees");
        assert_int_equal(test_rm_tree(worktrees), 0);
        not_git(wt_root);

        /* A submodule: .git names an absolute git dir without a commondir. */
        _cleanup_free_ char *dotgit = str_printf("gitdir: %s\n", modules);
        put(sub, ".git", dotgit);
        put(sub, "a.yaml", "a");
        put(repo, ".git/modules/sub/HEAD", COMMIT_B "\n");
        git_revision_is(sub, COMMIT_B);

        /* A .git file that is not "gitdir:" marks nothing. */
        put(sub, ".git", "hello\n");
        not_git(sub);
}

/* ---- prune -------------------------------------------------------------- */

#define SOURCE "web/site"

static const char *const action_names[] = {"keep", "delete", "withheld", "protected", "not owned"};

/* Runs the decision and compares the actions with want (one letter per live
 * object: k keep, d delete, w withheld, p protected, n not owned). */
static void decide(const struct prune_input *in, const char *want, enum prune_reason reason,
                   const char *message)
{
        _cleanup_(prune_decision_release) struct prune_decision d = {};
        size_t n_delete = 0, n_withheld = 0;

        assert_int_equal(source_prune_decide(in, &d), 0);
        assert_int_equal(d.n_actions, in->n_live);
        assert_int_equal(strlen(want), in->n_live);
        for (size_t i = 0; i < in->n_live; i++) {
                const char *w = want[i] == 'k'   ? "keep"
                                : want[i] == 'd' ? "delete"
                                : want[i] == 'w' ? "withheld"
                                : want[i] == 'p' ? "protected"
                                                 : "not owned";
                if (!streq(prune_action_to_string(d.actions[i]), w))
                        fail_msg("live %zu (%s): %s, expected %s", i, in->live[i].name,
                                 prune_action_to_string(d.actions[i]), w);
                n_delete += want[i] == 'd';
                n_withheld += want[i] == 'w';
        }
        assert_int_equal(d.n_delete, n_delete);
        assert_int_equal(d.n_withheld, n_withheld);
        assert_int_equal(d.reason, reason);
        assert_string_equal(d.message, message);
}

static void test_prune_rules(void **state)
{
        static const struct source_object_ref desired[] = {
            {"Task", "team", "a"},
            {"Service", "team", "f"},
            {"Task", NULL, "cluster"},
        };
        static const struct source_live_object live[] = {
            {"Task", "team", "a", SOURCE, false},      /* in the tree */
            {"Task", "team", "b", SOURCE, false},      /* gone: a candidate */
            {"Task", "team", "c", SOURCE, true},       /* gone, protected */
            {"Task", "team", "d", "web/other", false}, /* gone, another Source's */
            {"Task", "team", "e", NULL, false},        /* gone, no owner annotation */
            {"Service", "team", "f", "web/other",
             false},                                  /* in the tree, not ours: apply's business */
            {"Task", "", "cluster", SOURCE, false},   /* NULL and "" are the same namespace */
            {"Service", "team", "a", SOURCE, false},  /* same name, another kind: gone */
            {"Task", "other", "a", SOURCE, false},    /* same name, another namespace: gone */
            {"Task", "team", "g", "web/sitex", true}, /* gone, not ours, protected */
        };
        struct prune_input in = {
            .source = SOURCE,
            .desired = desired,
            .n_desired = ARRAY_SIZE(desired),
            .files_ok = true,
            .live = live,
            .n_live = ARRAY_SIZE(live),
            .prune = true,
            .max_fraction = 1.0,
        };
        (void)state;

        /* 6 owned (a b c cluster Service/a other/a), 3 candidates (b Service/a other/a). */
        decide(&in, "kdpnnkkddn", PRUNE_REASON_NONE, "");
        in.max_fraction = 0.5;
        decide(&in, "kdpnnkkddn", PRUNE_REASON_NONE, "");
        in.max_fraction = 0.49;
        decide(&in, "kwpnnkkwwn", PRUNE_REASON_FRACTION_EXCEEDED,
               "would delete 3 of 6 objects (50%) > maxPruneFraction 0.49; berth sync "
               "source/site --force-prune to confirm");
        in.force = true;
        decide(&in, "kdpnnkkddn", PRUNE_REASON_NONE, "");

        /* A file in error: nothing, force or not. */
        in.files_ok = false;
        decide(&in, "kwpnnkkwwn", PRUNE_REASON_FILES_IN_ERROR,
               "files in error: 3 objects no longer in the files are not pruned");
        in.force = false;
        decide(&in, "kwpnnkkwwn", PRUNE_REASON_FILES_IN_ERROR,
               "files in error: 3 objects no longer in the files are not pruned");

        /* Disabled comes first. */
        in.prune = false;
        decide(&in, "kwpnnkkwwn", PRUNE_REASON_DISABLED,
               "prune is disabled: 3 objects no longer in the files are kept");
        in.files_ok = true;
        decide(&in, "kwpnnkkwwn", PRUNE_REASON_DISABLED,
               "prune is disabled: 3 objects no longer in the files are kept");

        /* No candidate: no reason, whatever the settings. */
        static const struct source_live_object quiet[] = {
            {"Task", "team", "a", SOURCE, false},
            {"Task", "team", "c", SOURCE, true},
            {"Task", "team", "d", "web/other", false},
        };
        in.live = quiet;
        in.n_live = ARRAY_SIZE(quiet);
        in.files_ok = false;
        decide(&in, "kpn", PRUNE_REASON_NONE, "");
        in.prune = true;
        in.max_fraction = 0;
        decide(&in, "kpn", PRUNE_REASON_NONE, "");

        /* One candidate: singular words. */
        static const struct source_live_object one[] = {
            {"Task", "team", "a", SOURCE, false},
            {"Task", "team", "z", SOURCE, false},
        };
        in.live = one;
        in.n_live = ARRAY_SIZE(one);
        decide(&in, "kw", PRUNE_REASON_FILES_IN_ERROR,
               "files in error: 1 object no longer in the files is not pruned");
        in.files_ok = true;
        decide(&in, "kw", PRUNE_REASON_FRACTION_EXCEEDED,
               "would delete 1 of 2 objects (50%) > maxPruneFraction 0; berth sync source/site "
               "--force-prune to confirm");
        in.prune = false;
        decide(&in, "kw", PRUNE_REASON_DISABLED,
               "prune is disabled: 1 object no longer in the files is kept");
}

static void test_prune_fraction(void **state)
{
        struct source_live_object live[100];
        struct source_object_ref desired[100];
        char names[100][8];
        char want[101];
        struct prune_input in = {
            .source = SOURCE,
            .desired = desired,
            .files_ok = true,
            .live = live,
            .prune = true,
        };
        (void)state;

        for (int i = 0; i < 100; i++) {
                snprintf(names[i], sizeof(names[i]), "t%d", i);
                live[i] = (struct source_live_object){"Task", "team", names[i], SOURCE, false};
                desired[i] = (struct source_object_ref){"Task", "team", names[i]};
        }

        /* 8 of 10 gone at 0.5: refused, then forced. */
        in.n_live = 10;
        in.n_desired = 2;
        in.max_fraction = 0.5;
        decide(&in, "kkwwwwwwww", PRUNE_REASON_FRACTION_EXCEEDED,
               "would delete 8 of 10 objects (80%) > maxPruneFraction 0.5; berth sync "
               "source/site --force-prune to confirm");
        in.force = true;
        decide(&in, "kkdddddddd", PRUNE_REASON_NONE, "");
        in.force = false;

        /* Exactly the fraction passes, one more does not. */
        in.n_desired = 5;
        decide(&in, "kkkkkddddd", PRUNE_REASON_NONE, "");
        in.n_desired = 4;
        decide(&in, "kkkkwwwwww", PRUNE_REASON_FRACTION_EXCEEDED,
               "would delete 6 of 10 objects (60%) > maxPruneFraction 0.5; berth sync "
               "source/site --force-prune to confirm");

        /* 29 of 100 at 0.29 passes (no rounding surprise), 30 does not. */
        in.n_live = 100;
        in.n_desired = 71;
        in.max_fraction = 0.29;
        memset(want, 'k', 71);
        memset(want + 71, 'd', 29);
        want[100] = '\0';
        decide(&in, want, PRUNE_REASON_NONE, "");
        in.n_desired = 70;
        memset(want + 70, 'w', 30);
        decide(&in, want, PRUNE_REASON_FRACTION_EXCEEDED,
               "would delete 30 of 100 objects (30%) > maxPruneFraction 0.29; berth sync "
               "source/site --force-prune to confirm");

        /* The mount went missing: an empty tree, every file fine. */
        in.n_live = 10;
        in.n_desired = 0;
        in.max_fraction = 0.5;
        decide(&in, "wwwwwwwwww", PRUNE_REASON_FRACTION_EXCEEDED,
               "would delete 10 of 10 objects (100%) > maxPruneFraction 0.5; berth sync "
               "source/site --force-prune to confirm");

        /* Percentages that are not whole; fractions out of range are clamped. */
        in.n_live = 3;
        in.n_desired = 2;
        in.max_fraction = 0.2;
        decide(&in, "kkw", PRUNE_REASON_FRACTION_EXCEEDED,
               "would delete 1 of 3 objects (33.3%) > maxPruneFraction 0.2; berth sync "
               "source/site --force-prune to confirm");
        in.max_fraction = -1;
        decide(&in, "kkw", PRUNE_REASON_FRACTION_EXCEEDED,
               "would delete 1 of 3 objects (33.3%) > maxPruneFraction 0; berth sync "
               "source/site --force-prune to confirm");
        in.max_fraction = NAN;
        decide(&in, "kkw", PRUNE_REASON_FRACTION_EXCEEDED,
               "would delete 1 of 3 objects (33.3%) > maxPruneFraction 0; berth sync "
               "source/site --force-prune to confirm");
        in.n_desired = 0;
        in.max_fraction = 2;
        decide(&in, "ddd", PRUNE_REASON_NONE, "");
        in.max_fraction = 1;
        decide(&in, "ddd", PRUNE_REASON_NONE, "");

        /* The fraction is of this Source's objects only. */
        live[0].owner = "web/other";
        live[1].owner = NULL;
        in.max_fraction = 0.5;
        decide(&in, "nnw", PRUNE_REASON_FRACTION_EXCEEDED,
               "would delete 1 of 1 object (100%) > maxPruneFraction 0.5; berth sync "
               "source/site --force-prune to confirm");
}

static void test_prune_edges(void **state)
{
        struct prune_decision d = {.n_delete = 7};
        struct prune_input in = {.source = SOURCE, .prune = true, .files_ok = true};
        (void)state;

        /* Nothing live, nothing to do. */
        assert_int_equal(source_prune_decide(&in, &d), 0);
        assert_null(d.actions);
        assert_int_equal(d.n_actions, 0);
        assert_int_equal(d.n_delete, 0);
        assert_int_equal(d.reason, PRUNE_REASON_NONE);
        prune_decision_release(&d);
        prune_decision_release(NULL);

        d.n_delete = 7;
        assert_int_equal(source_prune_decide(NULL, &d), -EINVAL);
        assert_int_equal(source_prune_decide(&in, NULL), -EINVAL);
        in.n_live = 1;
        assert_int_equal(source_prune_decide(&in, &d), -EINVAL);
        in.n_live = 0;
        in.n_desired = 1;
        assert_int_equal(source_prune_decide(&in, &d), -EINVAL);
        in.n_desired = 0;
        in.source = NULL;
        assert_int_equal(source_prune_decide(&in, &d), -EINVAL);
        assert_int_equal(d.n_delete, 7);

        assert_string_equal(prune_reason_to_string(PRUNE_REASON_NONE), "");
        assert_string_equal(prune_reason_to_string(PRUNE_REASON_DISABLED), "Disabled");
        assert_string_equal(prune_reason_to_string(PRUNE_REASON_FILES_IN_ERROR), "FilesInError");
        assert_string_equal(prune_reason_to_string(PRUNE_REASON_FRACTION_EXCEEDED),
                            "FractionExceeded");
        for (size_t i = 0; i < ARRAY_SIZE(action_names); i++)
                assert_string_equal(prune_action_to_string((enum prune_action)i), action_names[i]);
}

/* ---- ownership ---------------------------------------------------------- */

static void test_ownership(void **state)
{
        struct source_live_meta absent = {.exists = false, .owner = "web/other"};
        struct source_live_meta ours = {.exists = true, .owner = SOURCE};
        struct source_live_meta manual = {.exists = true};
        struct source_live_meta empty = {.exists = true, .owner = ""};
        struct source_live_meta other = {.exists = true, .owner = "team/other"};
        struct source_live_meta prefix = {.exists = true, .owner = "web/sit"};
        char text[64];
        (void)state;

        assert_int_equal(source_ownership_check(NULL, SOURCE), SOURCE_OWNERSHIP_APPLY);
        assert_int_equal(source_ownership_check(&absent, SOURCE), SOURCE_OWNERSHIP_APPLY);
        assert_int_equal(source_ownership_check(&ours, SOURCE), SOURCE_OWNERSHIP_APPLY);
        assert_int_equal(source_ownership_check(&manual, SOURCE), SOURCE_OWNERSHIP_CONFLICT_MANUAL);
        assert_int_equal(source_ownership_check(&empty, SOURCE), SOURCE_OWNERSHIP_CONFLICT_MANUAL);
        assert_int_equal(source_ownership_check(&other, SOURCE), SOURCE_OWNERSHIP_CONFLICT_OTHER);
        assert_int_equal(source_ownership_check(&prefix, SOURCE), SOURCE_OWNERSHIP_CONFLICT_OTHER);

        assert_string_equal(
            source_ownership_describe(SOURCE_OWNERSHIP_CONFLICT_MANUAL, NULL, text, sizeof(text)),
            "by hand");
        assert_string_equal(source_ownership_describe(SOURCE_OWNERSHIP_CONFLICT_OTHER, "team/other",
                                                      text, sizeof(text)),
                            "source team/other");
        assert_string_equal(
            source_ownership_describe(SOURCE_OWNERSHIP_APPLY, SOURCE, text, sizeof(text)), "");
        char tiny[4];
        assert_string_equal(
            source_ownership_describe(SOURCE_OWNERSHIP_CONFLICT_OTHER, "x/y", tiny, sizeof(tiny)),
            "sou");
        assert_null(source_ownership_describe(SOURCE_OWNERSHIP_APPLY, NULL, NULL, 0));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_scan_recursive, tmp_setup, tmp_teardown),
            cmocka_unit_test_setup_teardown(test_scan_flat_and_globs, tmp_setup, tmp_teardown),
            cmocka_unit_test_setup_teardown(test_scan_errors, tmp_setup, tmp_teardown),
            cmocka_unit_test_setup_teardown(test_scan_limits, tmp_setup, tmp_teardown),
            cmocka_unit_test_setup_teardown(test_scan_unreadable_dir, tmp_setup, tmp_teardown),
            cmocka_unit_test_setup_teardown(test_content_revision, tmp_setup, tmp_teardown),
            cmocka_unit_test_setup_teardown(test_revision_errors, tmp_setup, tmp_teardown),
            cmocka_unit_test_setup_teardown(test_git_loose_and_packed, tmp_setup, tmp_teardown),
            cmocka_unit_test_setup_teardown(test_git_long_packed_line, tmp_setup, tmp_teardown),
            cmocka_unit_test_setup_teardown(test_git_worktree_and_gitdir_file, tmp_setup,
                                            tmp_teardown),
            cmocka_unit_test(test_prune_rules),
            cmocka_unit_test(test_prune_fraction),
            cmocka_unit_test(test_prune_edges),
            cmocka_unit_test(test_ownership),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
