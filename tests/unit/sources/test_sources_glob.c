/* Unit tests for the globs of sources/: a table of pattern/path cases,
 * include/exclude with the Source defaults, directory pruning and the
 * errors of glob_check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sources.h"

/* The defaults of spec.include and spec.exclude (docs/reference/source.md). */
static const char *const default_include[] = {"*.yaml", "*.yml", "*.json"};
static const char *const default_exclude[] = {".git/**", "**/.*"};

struct glob_case {
        const char *pattern;
        const char *path;
        bool match;
};

static const struct glob_case glob_cases[] = {
    /* base-name patterns (no '/') */
    {"*.yaml", "x.yaml", true},
    {"*.yaml", "a/b/x.yaml", true},
    {"*.yaml", "x.yml", false},
    {"*.yaml", "x.yaml.swp", false},
    {"*.yaml", ".hidden.yaml", true},
    {"*.yaml", "a.yaml/b", false},
    {"*.yaml", "a/.yaml", true},
    {"*", "a/b/c", true},
    {"x.yaml", "x.yaml", true},
    {"x.yaml", "dir/x.yaml", true},
    {"x.yaml", "dir/xx.yaml", false},
    {"x.yaml", "x.yaml/y", false},
    {"*.YAML", "x.yaml", false},
    /* * and ? never cross '/' */
    {"?.yaml", "a.yaml", true},
    {"?.yaml", "ab.yaml", false},
    {"?.yaml", ".yaml", false},
    {"??", "ab", true},
    {"a*b*c", "axxbyyc", true},
    {"a*b*c", "abc", true},
    {"a*b*c", "axxbyy", false},
    {"*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
    {"x/a?b", "x/a/b", false},
    {"x/a*b", "x/a/b", false},
    {"a/*.yaml", "a/x.yaml", true},
    {"a/*.yaml", "b/a/x.yaml", false},
    {"a/*.yaml", "a/b/x.yaml", false},
    {"a/*", "a/b/c", false},
    {"*/x.yaml", "a/x.yaml", true},
    {"*/x.yaml", "x.yaml", false},
    {"*/x.yaml", "a/b/x.yaml", false},
    {"a/?/c", "a/b/c", true},
    {"a/?/c", "a/bb/c", false},
    /* a leading '/' anchors */
    {"/x.yaml", "x.yaml", true},
    {"/x.yaml", "d/x.yaml", false},
    {"/*.yaml", "x.yaml", true},
    {"/*.yaml", "d/x.yaml", false},
    {"/**", "d/x.yaml", true},
    /* ** at the start, in the middle, at the end */
    {"**", "a/b/c.yaml", true},
    {"**", "c.yaml", true},
    {"**/x.yaml", "x.yaml", true},
    {"**/x.yaml", "a/x.yaml", true},
    {"**/x.yaml", "a/b/c/x.yaml", true},
    {"**/x.yaml", "a/bx.yaml", false},
    {"**/*.yaml", "a/b/c.yaml", true},
    {"**/*.yaml", "c.yaml", true},
    {"**/*.yaml", "a/c.yml", false},
    {"a/**", "a", true},
    {"a/**", "a/b", true},
    {"a/**", "a/b/c", true},
    {"a/**", "ab/c", false},
    {"a/**", "b/a/c", false},
    {"a/**/b", "a/b", true},
    {"a/**/b", "a/x/b", true},
    {"a/**/b", "a/x/y/b", true},
    {"a/**/b", "a/x/y/bc", false},
    {"a/**/b", "b", false},
    {"a/**/b", "a/b/c", false},
    {"**/b/**", "x/b/y", true},
    {"**/b/**", "b", true},
    {"**/b/**", "x/y/b", true},
    {"**/b/**", "x/c/y", false},
    {"**/**/x", "x", true},
    {"**/**/x", "a/b/x", true},
    {"a/**/b/**/c", "a/b/c", true},
    {"a/**/b/**/c", "a/1/b/2/3/c", true},
    {"a/**/b/**/c", "a/1/c/2/b", false},
    {"a/**/**/b", "a/1/2/3/b", true},
    {"**/a/**/a/**/b", "a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/c", false},
    /* ** within a segment is * */
    {"**.yaml", "a/b.yaml", true},
    {"a**", "abc", true},
    {"a/x**/b", "a/xyz/b", true},
    {"a/x**/b", "a/xy/z/b", false},
    /* classes, ranges, negation */
    {"[abc].yaml", "b.yaml", true},
    {"[abc].yaml", "d.yaml", false},
    {"[a-c]x", "bx", true},
    {"[a-c]x", "dx", false},
    {"[!a]x", "bx", true},
    {"[!a]x", "ax", false},
    {"[^a]x", "ax", false},
    {"[^a]x", "cx", true},
    {"[!a-c]x", "dx", true},
    {"[!a-c]x", "bx", false},
    {"[]]x", "]x", true},
    {"[]a]x", "ax", true},
    {"[!]]x", "]x", false},
    {"[!]]x", "ax", true},
    {"[a-]x", "-x", true},
    {"[-a]x", "-x", true},
    {"[-a]x", "bx", false},
    {"[0-9][0-9].yaml", "42.yaml", true},
    {"[0-9][0-9].yaml", "4a.yaml", false},
    {"[a-cx-z]", "y", true},
    {"[a-cx-z]", "m", false},
    {"x/[!a]/y", "x/b/y", true},
    {"x/[!a]/y", "x/a/y", false},
    {"x[!a]y", "x/y", false},
    {"[.]*", ".hidden", true},
    /* escapes */
    {"\\*.yaml", "*.yaml", true},
    {"\\*.yaml", "x.yaml", false},
    {"a\\?b", "a?b", true},
    {"a\\?b", "axb", false},
    {"\\[a]", "[a]", true},
    {"\\[a]", "a", false},
    {"\\\\x", "\\x", true},
    {"\\a", "a", true},
    {"[\\]]", "]", true},
    {"[\\-a]", "-", true},
    {"[a\\-c]", "b", false},
    {"[a\\-c]", "-", true},
};

static void test_glob_table(void **state)
{
        (void)state;
        assert_true(ARRAY_SIZE(glob_cases) >= 60);
        for (size_t i = 0; i < ARRAY_SIZE(glob_cases); i++) {
                const struct glob_case *c = &glob_cases[i];
                char msg[128];

                if (glob_check(c->pattern, msg, sizeof(msg)) != 0)
                        fail_msg("\"%s\" is invalid: %s", c->pattern, msg);
                if (glob_match(c->pattern, c->path) != c->match)
                        fail_msg("\"%s\" on \"%s\": expected %s", c->pattern, c->path,
                                 c->match ? "a match" : "no match");
        }
}

struct included_case {
        const char *path;
        bool included;
};

static void test_defaults(void **state)
{
        static const struct included_case files[] = {
            {"x.yaml", true},
            {"dir/x.yml", true},
            {"a/b/c.json", true},
            {"deep/a/b/c/d/e.yaml", true},
            {".hidden.yaml", false},
            {"dir/.hidden.yaml", false},
            {"a/.git/config", false},
            {"a/.git/x.yaml", false},
            {".git/config", false},
            {".git/x.yaml", false},
            {".github/workflows/ci.yml", false},
            {"a/.d/x.yaml", false},
            {"x.yaml.swp", false},
            {".x.yaml.swp", false},
            {"dir/.x.yaml.swp", false},
            {"x.yaml~", false},
            {"README.md", false},
            {"x.txt", false},
            {"x.YAML", false},
        };
        static const struct included_case dirs[] = {
            {"a", true},        {"a/b", true},          {".git", false},  {"a/.git", false},
            {".github", false}, {"a/.hidden/b", false}, {"a.yaml", true}, {".", false},
        };
        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(files); i++)
                if (source_path_included(default_include, ARRAY_SIZE(default_include),
                                         default_exclude, ARRAY_SIZE(default_exclude),
                                         files[i].path) != files[i].included)
                        fail_msg("file %s: expected %s", files[i].path,
                                 files[i].included ? "included" : "left out");
        for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
                if (source_dir_descended(default_exclude, ARRAY_SIZE(default_exclude),
                                         dirs[i].path) != dirs[i].included)
                        fail_msg("dir %s: expected %s", dirs[i].path,
                                 dirs[i].included ? "walked" : "left out");
}

static void test_include_exclude(void **state)
{
        static const char *const inc[] = {"*.yaml", "config/*.json"};
        static const char *const exc[] = {"build", "vendor/**", "/top-only.yaml", "[", "tmp-*"};
        static const struct included_case files[] = {
            {"x.yaml", true},
            {"x.json", false},
            {"config/x.json", true},
            {"a/config/x.json", false},
            {"x/build/a.yaml", false}, /* a directory the exclude matches */
            {"build/a.yaml", false},
            {"build.yaml", true},
            {"vendor/x.yaml", false},
            {"vendor/a/b/x.yaml", false},
            {"a/vendor/x.yaml", true},
            {"top-only.yaml", false},
            {"sub/top-only.yaml", true},
            {"tmp-1.yaml", false},
            {"tmp-dir/x.yaml", false},
            {"[", false},
        };
        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(files); i++)
                if (source_path_included(inc, ARRAY_SIZE(inc), exc, ARRAY_SIZE(exc),
                                         files[i].path) != files[i].included)
                        fail_msg("file %s: expected %s", files[i].path,
                                 files[i].included ? "included" : "left out");

        assert_false(source_dir_descended(exc, ARRAY_SIZE(exc), "build"));
        assert_false(source_dir_descended(exc, ARRAY_SIZE(exc), "x/build"));
        assert_false(source_dir_descended(exc, ARRAY_SIZE(exc), "vendor"));
        assert_false(source_dir_descended(exc, ARRAY_SIZE(exc), "vendor/a"));
        assert_true(source_dir_descended(exc, ARRAY_SIZE(exc), "a/vendor"));
        assert_true(source_dir_descended(exc, ARRAY_SIZE(exc), "builder"));
        assert_true(source_dir_descended(NULL, 0, "a"));

        /* No include pattern includes nothing; an invalid one matches nothing. */
        assert_false(source_path_included(NULL, 0, NULL, 0, "x.yaml"));
        static const char *const bad[] = {"[x.yaml"};
        assert_false(source_path_included(bad, 1, NULL, 0, "[x.yaml"));
        assert_true(source_path_included(inc, 1, bad, 1, "[x.yaml"));
        assert_false(source_path_included(inc, 1, NULL, 0, NULL));
        assert_false(source_path_included(inc, 1, NULL, 0, ""));
        assert_false(source_path_included(NULL, 1, NULL, 0, "x.yaml"));
        assert_false(source_dir_descended(NULL, 1, "a"));
        assert_false(source_dir_descended(exc, 1, NULL));
}

struct check_case {
        const char *pattern;
        const char *message; /* NULL: valid */
};

static void test_glob_check(void **state)
{
        char long_ok[GLOB_PATTERN_MAX + 1], too_long[GLOB_PATTERN_MAX + 2];
        static const struct check_case cases[] = {
            {"", "empty pattern"},
            {"[abc", "unterminated character class at 1"},
            {"x[!", "unterminated character class at 2"},
            {"[]", "unterminated character class at 1"},
            {"[!]", "unterminated character class at 1"},
            {"a/[\\", "unterminated character class at 3"},
            {"[a-\\", "unterminated character class at 1"},
            {"[z-a]", "reversed range z-a in the class at 1"},
            {"x[9-0]", "reversed range 9-0 in the class at 2"},
            {"[a/b]", "'/' inside the character class at 1"},
            {"[a-/]", "'/' inside the character class at 1"},
            {"[\\/]", "'/' inside the character class at 1"},
            {"a\\", "'\\' at the end escapes nothing"},
            {"a\\/b", "'/' cannot be escaped (at 2)"},
            {"a//b", "empty path segment at 3 (a trailing '/'? dir/** names everything under "
                     "dir)"},
            {"a/", "empty path segment at 2 (a trailing '/'? dir/** names everything under dir)"},
            {"/", "empty path segment at 1 (a trailing '/'? dir/** names everything under dir)"},
            {"//a", "empty path segment at 2 (a trailing '/'? dir/** names everything under dir)"},
            {"a", NULL},
            {"/a", NULL},
            {"a/b", NULL},
            {"[]a]", NULL},
            {"\\[", NULL},
            {"[a-]", NULL},
            {"**", NULL},
            {"a/**/b", NULL},
            {"[!]-a]", NULL},
            {"\\\\", NULL},
            {"*.yaml", NULL},
        };
        char msg[128];
        (void)state;

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                int r = glob_check(cases[i].pattern, msg, sizeof(msg));

                if (!cases[i].message) {
                        if (r != 0)
                                fail_msg("\"%s\": %s", cases[i].pattern, msg);
                        assert_string_equal(msg, "");
                        continue;
                }
                if (r != -EINVAL)
                        fail_msg("\"%s\": %d, expected -EINVAL", cases[i].pattern, r);
                assert_string_equal(msg, cases[i].message);
                /* An invalid pattern matches nothing, not even itself. */
                assert_false(glob_match(cases[i].pattern, cases[i].pattern));
        }

        memset(long_ok, 'a', GLOB_PATTERN_MAX);
        long_ok[GLOB_PATTERN_MAX] = '\0';
        assert_int_equal(glob_check(long_ok, msg, sizeof(msg)), 0);
        assert_true(glob_match(long_ok, long_ok));
        memset(too_long, 'a', GLOB_PATTERN_MAX + 1);
        too_long[GLOB_PATTERN_MAX + 1] = '\0';
        assert_int_equal(glob_check(too_long, msg, sizeof(msg)), -EINVAL);
        assert_string_equal(msg, "pattern is longer than 256 characters");
        assert_false(glob_match(too_long, too_long));

        assert_int_equal(glob_check(NULL, msg, sizeof(msg)), -EINVAL);
        assert_string_equal(msg, "empty pattern");
        /* msg may be absent or tiny. */
        assert_int_equal(glob_check("[", NULL, 0), -EINVAL);
        char tiny[4];
        assert_int_equal(glob_check("[", tiny, sizeof(tiny)), -EINVAL);
        assert_string_equal(tiny, "unt");

        assert_false(glob_match(NULL, "a"));
        assert_false(glob_match("*", NULL));
        assert_false(glob_match("*", ""));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_glob_table),
            cmocka_unit_test(test_defaults),
            cmocka_unit_test(test_include_exclude),
            cmocka_unit_test(test_glob_check),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
