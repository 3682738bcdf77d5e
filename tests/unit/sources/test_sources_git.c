/* source_revision against real repositories made with the git binary: its
 * own answer (git rev-parse HEAD) after commits, git pack-refs, in a
 * subdirectory, in a linked worktree and detached. Skipped (exit 77) when
 * git is not installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sources.h"
#include "test-support.h"

static char tmp[] = "/tmp/berth-sources-git-XXXXXX";

/* Runs a shell command in dir; fails the test unless it exits 0. */
static void sh(const char *dir, const char *cmd)
{
        _cleanup_free_ char *full = str_printf("cd '%s' && { %s; } >/dev/null 2>&1", dir, cmd);

        assert_non_null(full);
        if (system(full) != 0)
                fail_msg("failed: %s (in %s)", cmd, dir);
}

/* git rev-parse HEAD in dir. */
static void rev_parse(const char *dir, char out[SOURCE_REVISION_MAX])
{
        _cleanup_free_ char *cmd = str_printf("git -C '%s' rev-parse HEAD", dir);
        FILE *p;

        assert_non_null(cmd);
        p = popen(cmd, "re");
        assert_non_null(p);
        assert_non_null(fgets(out, SOURCE_REVISION_MAX, p));
        assert_int_equal(pclose(p), 0);
        out[strcspn(out, "\n")] = '\0';
        assert_int_equal(strlen(out), 40);
}

static void assert_revision_is_head(const char *root, const char *git_dir)
{
        char want[SOURCE_REVISION_MAX], got[SOURCE_REVISION_MAX];
        const char *kind = NULL;
        struct berth_error err = {};

        rev_parse(git_dir, want);
        if (source_revision(root, NULL, got, &kind, &err) != 0)
                fail_msg("%s: %s", root, err.message);
        assert_string_equal(kind, SOURCE_REVISION_GIT);
        assert_string_equal(got, want);
}

static void test_real_repository(void **state)
{
        _cleanup_free_ char *repo = str_printf("%s/repo", tmp);
        _cleanup_free_ char *sub = str_printf("%s/repo/manifests", tmp);
        _cleanup_free_ char *wt = str_printf("%s/wt", tmp);
        _cleanup_free_ char *wt_sub = str_printf("%s/wt/manifests", tmp);
        char first[SOURCE_REVISION_MAX], second[SOURCE_REVISION_MAX];
        (void)state;

        assert_int_equal(mkdir_p(sub, 0755), 0);
        sh(repo, "git init -q -b main . && echo 'a: 1' > manifests/a.yaml && git add -A && "
                 "git commit -q -m one");
        assert_revision_is_head(repo, repo);
        assert_revision_is_head(sub, repo);
        rev_parse(repo, first);

        /* A second commit, then every ref packed (no loose ref left). */
        sh(repo, "echo 'a: 2' > manifests/a.yaml && git commit -q -am two");
        assert_revision_is_head(sub, repo);
        rev_parse(repo, second);
        assert_string_not_equal(first, second);
        sh(repo, "git tag -a -m v1 v1 && git pack-refs --all && test ! -e .git/refs/heads/main");
        assert_revision_is_head(sub, repo);

        /* A linked worktree on a branch of its own, then detached there. */
        _cleanup_free_ char *add = str_printf("git worktree add -q -b feature '%s' HEAD~1", wt);
        sh(repo, add);
        assert_revision_is_head(wt_sub, wt);
        rev_parse(wt, second);
        assert_string_equal(first, second);
        sh(wt, "echo 'b: 1' > manifests/b.yaml && git add -A && git commit -q -m three");
        assert_revision_is_head(wt_sub, wt);
        sh(wt, "git checkout -q --detach HEAD~1");
        assert_revision_is_head(wt_sub, wt);
        /* The main work tree is unaffected. */
        assert_revision_is_head(sub, repo);

        /* Detached in the main work tree. */
        sh(repo, "git checkout -q --detach v1");
        assert_revision_is_head(sub, repo);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_real_repository),
        };
        int r;

        if (system("git --version >/dev/null 2>&1") != 0) {
                fprintf(stderr, "git is not installed: skipped\n");
                return 77;
        }
        if (!mkdtemp(tmp))
                return 1;
        /* Only this test's settings: no user or system configuration. */
        setenv("HOME", tmp, 1);
        setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
        setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
        setenv("GIT_AUTHOR_NAME", "berth", 1);
        setenv("GIT_AUTHOR_EMAIL", "berth@example.invalid", 1);
        setenv("GIT_COMMITTER_NAME", "berth", 1);
        setenv("GIT_COMMITTER_EMAIL", "berth@example.invalid", 1);
        r = cmocka_run_group_tests(tests, NULL, NULL);
        test_rm_tree(tmp);
        return r;
}
