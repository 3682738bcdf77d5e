/* Unit tests of the manifests module: parsing, validation, defaults, printing. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "manifest-test.h"

#define TASK_HEAD                                                                                  \
        "apiVersion: berth/v1\n"                                                                   \
        "kind: Task\n"                                                                             \
        "metadata:\n"                                                                              \
        "  name: t\n"                                                                              \
        "spec:\n"                                                                                  \
        "  image: busybox\n"

static char *fixture(const char *rel)
{
        const char *dir = getenv("BERTH_FIXTURES");
        char *p;

        assert_non_null(dir);
        p = str_printf("%s/manifests/%s", dir, rel);
        assert_non_null(p);
        return p;
}

static void parse_ok(const char *yaml, struct manifest_list *list)
{
        parse_ok_as(yaml, "t.yaml", list);
}

static char *validate_text(const char *yaml)
{
        return validate_text_as(yaml, "t.yaml");
}

static void assert_invalid(const char *yaml, const char *expected)
{
        assert_invalid_as(yaml, "t.yaml", expected);
}

static void assert_task_invalid(const char *spec_tail, const char *expected)
{
        _cleanup_free_ char *yaml = str_printf(TASK_HEAD "%s", spec_tail);

        assert_non_null(yaml);
        assert_invalid(yaml, expected);
}

static void assert_parse_error(const char *yaml, size_t len, int code, const char *expected)
{
        struct manifest_list list = {};
        struct berth_error err = {};
        int r;

        r = manifest_parse_buffer(yaml, len, "t.yaml", &list, &err);
        if (r != code || !streq(err.message, expected))
                fail_msg("for:\n%.200s\nexpected %d %s\n     got %d %s", yaml, code, expected, r,
                         err.message);
        assert_int_equal(err.code, code);
        assert_int_equal(list.n, 0);
        assert_null(list.docs);
}

static void assert_position(const struct manifest_doc *doc, const char *path, int line, int column)
{
        const json_t *pos = json_object_get(doc->positions, path);

        if (!pos)
                fail_msg("no position for %s", path);
        assert_int_equal(json_integer_value(json_array_get(pos, 0)), line);
        assert_int_equal(json_integer_value(json_array_get(pos, 1)), column);
}

/* ---- parsing ----------------------------------------------------------- */

static void test_parse_full_task(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        _cleanup_(field_errors_release) struct field_errors errs = {};
        _cleanup_free_ char *path = fixture("valid/task-full.yaml");
        struct berth_error err = {};
        const json_t *o;

        (void)state;
        assert_int_equal(manifest_parse_path(path, false, &list, &err), 0);
        assert_int_equal(list.n, 1);
        o = list.docs[0].object;
        assert_string_equal(list.docs[0].source, path);
        assert_int_equal(list.docs[0].line, 2);
        assert_string_equal(json_path_string(o, "spec.image"), "busybox:latest");
        assert_string_equal(json_path_string(o, "spec.user"), "1000:1000");
        assert_true(json_is_integer(json_path(o, "spec.resources.pids")));
        assert_int_equal(json_path_int(o, "spec.resources.pids", 0), 100);
        assert_true(json_is_real(json_path(o, "spec.backoff.factor")));
        assert_true(json_real_value(json_path(o, "spec.backoff.factor")) == 1.5);
        assert_true(json_is_true(
            json_object_get(json_array_get(json_path(o, "spec.volumes"), 0), "readOnly")));
        assert_string_equal(json_string_value(json_array_get(json_path(o, "spec.command"), 1)),
                            "-c");
        assert_string_equal(json_string_value(json_object_get(
                                json_array_get(json_path(o, "spec.env"), 1), "value")),
                            "8080");

        assert_position(&list.docs[0], "", 2, 1);
        assert_position(&list.docs[0], "kind", 3, 1);
        assert_position(&list.docs[0], "spec", 12, 1);
        assert_position(&list.docs[0], "spec.image", 13, 3);
        assert_position(&list.docs[0], "spec.command[1]", 15, 17);
        assert_position(&list.docs[0], "spec.env[1]", 21, 7);
        assert_position(&list.docs[0], "spec.env[1].name", 21, 7);
        assert_position(&list.docs[0], "spec.env[1].value", 22, 7);
        assert_position(&list.docs[0], "metadata.labels.example.com/tier", 9, 5);

        assert_int_equal(manifest_validate(o, list.docs[0].positions, &errs), 0);
        assert_int_equal(errs.n, 0);
}

static void test_parse_scalars(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        const char *yaml = "n1: null\nn2: Null\nn3: NULL\nn4: ~\nn5:\n"
                           "b1: true\nb2: True\nb3: TRUE\nb4: false\nb5: False\nb6: FALSE\n"
                           "i1: 42\ni2: -12\ni3: +5\ni4: 0x1F\ni5: 0o17\ni6: 007\ni7: -0x10\n"
                           "i8: 9223372036854775807\ni9: -9223372036854775808\n"
                           "f1: 1.5\nf2: -2e3\nf3: .5\nf4: 1.\nf5: 1E+2\n"
                           "s1: yes\ns2: no\ns3: on\ns4: 1_000\ns5: 0b101\ns6: \"12\"\n"
                           "s7: '12'\ns8: !!str 12\ns9: ! 12\ns10: |\n  block\ns11: 1.2.3\n"
                           "s12: 0x\ns13: .\ns14: TrUe\n"
                           "t1: !!int \"12\"\nt2: !!float 3\nt3: !!bool true\nt4: !!null ~\n"
                           "m1: !!map {a: 1}\nm2: !!seq [1]\n"
                           "a1: &anchor plain\n";
        const json_t *o;

        (void)state;
        parse_ok(yaml, &list);
        assert_int_equal(list.n, 1);
        o = list.docs[0].object;
        for (const char *const *k = (const char *const[]){"n1", "n2", "n3", "n4", "n5", NULL}; *k;
             k++)
                assert_true(json_is_null(json_object_get(o, *k)));
        assert_true(json_is_true(json_object_get(o, "b1")));
        assert_true(json_is_true(json_object_get(o, "b2")));
        assert_true(json_is_true(json_object_get(o, "b3")));
        assert_true(json_is_false(json_object_get(o, "b4")));
        assert_true(json_is_false(json_object_get(o, "b5")));
        assert_true(json_is_false(json_object_get(o, "b6")));
        assert_int_equal(json_integer_value(json_object_get(o, "i1")), 42);
        assert_int_equal(json_integer_value(json_object_get(o, "i2")), -12);
        assert_int_equal(json_integer_value(json_object_get(o, "i3")), 5);
        assert_int_equal(json_integer_value(json_object_get(o, "i4")), 31);
        assert_int_equal(json_integer_value(json_object_get(o, "i5")), 15);
        assert_int_equal(json_integer_value(json_object_get(o, "i6")), 7);
        assert_int_equal(json_integer_value(json_object_get(o, "i7")), -16);
        assert_true(json_integer_value(json_object_get(o, "i8")) == INT64_MAX);
        assert_true(json_integer_value(json_object_get(o, "i9")) == INT64_MIN);
        assert_true(json_real_value(json_object_get(o, "f1")) == 1.5);
        assert_true(json_real_value(json_object_get(o, "f2")) == -2000.0);
        assert_true(json_real_value(json_object_get(o, "f3")) == 0.5);
        assert_true(json_real_value(json_object_get(o, "f4")) == 1.0);
        assert_true(json_real_value(json_object_get(o, "f5")) == 100.0);
        assert_string_equal(json_string_value(json_object_get(o, "s1")), "yes");
        assert_string_equal(json_string_value(json_object_get(o, "s2")), "no");
        assert_string_equal(json_string_value(json_object_get(o, "s3")), "on");
        assert_string_equal(json_string_value(json_object_get(o, "s4")), "1_000");
        assert_string_equal(json_string_value(json_object_get(o, "s5")), "0b101");
        assert_string_equal(json_string_value(json_object_get(o, "s6")), "12");
        assert_string_equal(json_string_value(json_object_get(o, "s7")), "12");
        assert_string_equal(json_string_value(json_object_get(o, "s8")), "12");
        assert_string_equal(json_string_value(json_object_get(o, "s9")), "12");
        assert_string_equal(json_string_value(json_object_get(o, "s10")), "block\n");
        assert_string_equal(json_string_value(json_object_get(o, "s11")), "1.2.3");
        assert_string_equal(json_string_value(json_object_get(o, "s12")), "0x");
        assert_string_equal(json_string_value(json_object_get(o, "s13")), ".");
        assert_string_equal(json_string_value(json_object_get(o, "s14")), "TrUe");
        assert_int_equal(json_integer_value(json_object_get(o, "t1")), 12);
        assert_true(json_is_real(json_object_get(o, "t2")));
        assert_true(json_is_true(json_object_get(o, "t3")));
        assert_true(json_is_null(json_object_get(o, "t4")));
        assert_true(json_is_object(json_object_get(o, "m1")));
        assert_true(json_is_array(json_object_get(o, "m2")));
        assert_string_equal(json_string_value(json_object_get(o, "a1")), "plain");
}

static void test_parse_multi_doc(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        _cleanup_free_ char *path = fixture("valid/multi.yaml");
        struct berth_error err = {};

        (void)state;
        assert_int_equal(manifest_parse_path(path, false, &list, &err), 0);
        assert_int_equal(list.n, 3);
        assert_string_equal(json_path_string(list.docs[0].object, "metadata.name"), "one");
        assert_string_equal(json_path_string(list.docs[1].object, "metadata.name"), "two");
        assert_string_equal(json_path_string(list.docs[2].object, "metadata.name"), "three");
        assert_int_equal(list.docs[0].line, 3);
        assert_int_equal(list.docs[1].line, 12);
        assert_int_equal(list.docs[2].line, 16);
        /* positions are per document */
        assert_position(&list.docs[1], "spec.args[1]", 13, 45);
        assert_position(&list.docs[2], "spec.image", 21, 3);
        assert_int_equal(
            json_integer_value(json_array_get(json_path(list.docs[1].object, "spec.args"), 1)), 2);
        for (size_t i = 0; i < list.n; i++)
                assert_string_equal(list.docs[i].source, path);

        /* appending keeps what the list held */
        assert_int_equal(manifest_parse_path(path, false, &list, &err), 0);
        assert_int_equal(list.n, 6);
        assert_string_equal(json_path_string(list.docs[5].object, "metadata.name"), "three");
}

static void test_parse_empty(void **state)
{
        struct manifest_list list = {};
        struct berth_error err = {};

        (void)state;
        assert_int_equal(manifest_parse_buffer("", 0, "e", &list, &err), 0);
        assert_int_equal(manifest_parse_buffer(NULL, 0, "e", &list, &err), 0);
        assert_int_equal(
            manifest_parse_buffer("# only a comment\n---\n...\n", 25, "e", &list, &err), 0);
        assert_int_equal(list.n, 0);
        assert_null(list.docs);
        manifest_list_release(&list);
}

static void test_parse_errors(void **state)
{
        (void)state;
        assert_parse_error("a: &x 1\nb: *x\n", 14, -EINVAL,
                           "t.yaml:2:4: aliases are not supported");
        assert_parse_error("spec:\n  image: a\n  image: b\n", 27, -EINVAL,
                           "t.yaml:3:3: duplicate key spec.image");
        assert_parse_error("- a\n", 4, -EINVAL,
                           "t.yaml:1:1: document must be a mapping, not a sequence");
        assert_parse_error("a: 1\n---\nhello\n", 15, -EINVAL,
                           "t.yaml:3:1: document must be a mapping, not a scalar");
        assert_parse_error("\"\"\n", 3, -EINVAL,
                           "t.yaml:1:1: document must be a mapping, not a scalar");
        assert_parse_error("? [a]\n: b\n", 10, -EINVAL, "t.yaml:1:3: mapping keys must be scalars");
        assert_parse_error("{a: 1}: b\n", 10, -EINVAL, "t.yaml:1:1: mapping keys must be scalars");
        assert_parse_error("a: b: c\n", 8, -EINVAL,
                           "t.yaml:1:5: mapping values are not allowed in this context");
        assert_parse_error("a:\n  - b\n c: d\n", 15, -EINVAL,
                           "t.yaml:3:2: did not find expected key while parsing a block mapping");
        assert_parse_error("a: [1, 2\n", 9, -EINVAL,
                           "t.yaml:2:1: did not find expected ',' or ']' while parsing a flow "
                           "sequence");
        assert_parse_error("a: \"x\\0y\"\n", 10, -EINVAL,
                           "t.yaml:1:4: strings must not contain NUL characters");
        assert_parse_error("a: 1\nb: x\x01y\n", 12, -EINVAL,
                           "t.yaml:2:5: control characters are not allowed (#x1)");
        assert_parse_error("a: \xff\n", 5, -EINVAL,
                           "t.yaml:1:4: invalid leading UTF-8 octet (#xFF)");
        assert_parse_error("a:\n  b: .inf\n", 13, -EINVAL,
                           "t.yaml:2:6: .inf is not supported: JSON has no infinity or NaN");
        assert_parse_error("a: -.Inf\n", 9, -EINVAL,
                           "t.yaml:1:4: -.Inf is not supported: JSON has no infinity or NaN");
        assert_parse_error("a: .nan\n", 8, -EINVAL,
                           "t.yaml:1:4: .nan is not supported: JSON has no infinity or NaN");
        assert_parse_error("a: 1e999\n", 9, -EINVAL, "t.yaml:1:4: number 1e999 is out of range");
        assert_parse_error("a: 9223372036854775808\n", 23, -EINVAL,
                           "t.yaml:1:4: integer 9223372036854775808 is out of range");
        assert_parse_error("a: !foo x\n", 10, -EINVAL, "t.yaml:1:4: tag !foo is not supported");
        assert_parse_error("a: !!int abc\n", 13, -EINVAL,
                           "t.yaml:1:4: value \"abc\" does not match tag !!int");
        assert_parse_error("a: !!binary aGk=\n", 17, -EINVAL,
                           "t.yaml:1:4: tag tag:yaml.org,2002:binary is not supported");
        assert_parse_error("a: !!seq {}\n", 12, -EINVAL,
                           "t.yaml:1:4: tag tag:yaml.org,2002:seq is not supported");
}

static void test_parse_error_keeps_list(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        const char *bad = "a: 1\n---\nb: 2\n---\nc: *nope\n";
        struct berth_error err = {};

        (void)state;
        parse_ok("x: 1\n", &list);
        assert_int_equal(manifest_parse_buffer(bad, strlen(bad), "t.yaml", &list, &err), -EINVAL);
        assert_string_equal(err.message, "t.yaml:5:4: aliases are not supported");
        assert_int_equal(list.n, 1);
        assert_int_equal(json_integer_value(json_object_get(list.docs[0].object, "x")), 1);
}

static void test_parse_depth_limit(void **state)
{
        struct buf b = {};
        int depth_ok = MANIFEST_DEPTH_MAX - 1; /* the root mapping is level 1 */
        struct manifest_list list = {};
        struct berth_error err = {};

        (void)state;
        buf_init(&b, 4096);
        assert_int_equal(buf_append_str(&b, "a: "), 0);
        for (int i = 0; i < depth_ok; i++)
                assert_int_equal(buf_append_str(&b, "["), 0);
        for (int i = 0; i < depth_ok; i++)
                assert_int_equal(buf_append_str(&b, "]"), 0);
        assert_int_equal(manifest_parse_buffer(b.data, b.len, "t.yaml", &list, &err), 0);
        assert_int_equal(list.n, 1);
        manifest_list_release(&list);

        buf_reset(&b);
        assert_int_equal(buf_append_str(&b, "a: "), 0);
        for (int i = 0; i < depth_ok + 1; i++)
                assert_int_equal(buf_append_str(&b, "["), 0);
        for (int i = 0; i < depth_ok + 1; i++)
                assert_int_equal(buf_append_str(&b, "]"), 0);
        assert_parse_error(b.data, b.len, -E2BIG, "t.yaml:1:35: nesting is deeper than 32 levels");

        /* Block nesting counts the same way; the error names the deep key. */
        buf_reset(&b);
        for (int i = 0; i < MANIFEST_DEPTH_MAX + 1; i++) {
                for (int j = 0; j < i; j++)
                        assert_int_equal(buf_append_str(&b, " "), 0);
                assert_int_equal(buf_append_str(&b, "k:\n"), 0);
        }
        assert_parse_error(b.data, b.len, -E2BIG, "t.yaml:33:33: nesting is deeper than 32 levels");
        buf_release(&b);
}

static void test_parse_size_limits(void **state)
{
        struct buf b = {};
        struct manifest_list list = {};
        struct berth_error err = {};

        (void)state;
        /* One document just over the cap, after a small valid one. */
        buf_init(&b, 2 * MANIFEST_DOC_MAX);
        assert_int_equal(buf_append_str(&b, "small: 1\n---\nbig: \""), 0);
        for (size_t i = 0; i < MANIFEST_DOC_MAX / 8; i++)
                assert_int_equal(buf_append(&b, "xxxxxxxx", 8), 0);
        assert_int_equal(buf_append_str(&b, "\"\n"), 0);
        assert_parse_error(b.data, b.len, -E2BIG,
                           "t.yaml:3:1: document is larger than 1048576 bytes");

        /* Multi-byte characters count as bytes, not characters: 600k é's are
         * 1.2 MB but only 600k characters to libyaml. */
        buf_reset(&b);
        assert_int_equal(buf_append_str(&b, "big: "), 0);
        for (size_t i = 0; i < 600 * 1000; i++)
                assert_int_equal(buf_append(&b, "\xc3\xa9", 2), 0);
        assert_parse_error(b.data, b.len, -E2BIG,
                           "t.yaml:1:1: document is larger than 1048576 bytes");

        /* At the cap in characters but well under it: fine. */
        buf_reset(&b);
        assert_int_equal(buf_append_str(&b, "ok: "), 0);
        for (size_t i = 0; i < 400 * 1000; i++)
                assert_int_equal(buf_append(&b, "\xc3\xa9", 2), 0);
        assert_int_equal(manifest_parse_buffer(b.data, b.len, "t.yaml", &list, &err), 0);
        assert_int_equal(list.n, 1);
        manifest_list_release(&list);

        /* Too many documents. */
        buf_reset(&b);
        for (int i = 0; i <= MANIFEST_DOCS_MAX; i++)
                assert_int_equal(buf_append_str(&b, "---\na: 1\n"), 0);
        assert_parse_error(b.data, b.len, -E2BIG, "t.yaml:2002:1: more than 1000 documents");
        buf_release(&b);

        /* The whole-input cap is checked before anything is read. */
        assert_int_equal(manifest_parse_buffer("a: 1\n",
                                               (size_t)MANIFEST_DOC_MAX * MANIFEST_DOCS_MAX + 1,
                                               "t.yaml", &list, &err),
                         -E2BIG);
        assert_string_equal(err.message, "t.yaml: input is larger than 1048576000 bytes");
        assert_int_equal(list.n, 0);
}

static void test_parse_directory(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        _cleanup_free_ char *dir = fixture("dir");
        _cleanup_free_ char *sub = fixture("dir/sub/d.yaml");
        struct berth_error err = {};
        static const char *const flat[] = {"a", "b", "b2", "c"};
        static const char *const deep[] = {"a", "b", "b2", "c", "d"};

        (void)state;
        assert_int_equal(manifest_parse_path(dir, false, &list, &err), 0);
        assert_int_equal(list.n, ARRAY_SIZE(flat));
        for (size_t i = 0; i < list.n; i++)
                assert_string_equal(json_path_string(list.docs[i].object, "metadata.name"),
                                    flat[i]);
        assert_true(str_has_suffix(list.docs[0].source, "/dir/a.yaml"));
        assert_true(str_has_suffix(list.docs[3].source, "/dir/c.json"));
        manifest_list_release(&list);

        assert_int_equal(manifest_parse_path(dir, true, &list, &err), 0);
        assert_int_equal(list.n, ARRAY_SIZE(deep));
        for (size_t i = 0; i < list.n; i++)
                assert_string_equal(json_path_string(list.docs[i].object, "metadata.name"),
                                    deep[i]);
        assert_string_equal(list.docs[4].source, sub);
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
}

static void test_parse_directory_error(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        char dir[] = "/tmp/berth-manifests-XXXXXX";
        _cleanup_free_ char *good = NULL, *bad = NULL, *expected = NULL;
        struct berth_error err = {};

        (void)state;
        assert_non_null(mkdtemp(dir));
        good = str_printf("%s/1-good.yaml", dir);
        bad = str_printf("%s/2-bad.yaml", dir);
        write_file(good, "a: 1\n");
        write_file(bad, "a: 1\nb: [\n");
        parse_ok("x: 1\n", &list);

        assert_int_equal(manifest_parse_path(dir, false, &list, &err), -EINVAL);
        expected = str_printf("%s:3:1: did not find expected node content while parsing a flow "
                              "node",
                              bad);
        assert_string_equal(err.message, expected);
        assert_int_equal(list.n, 1);

        unlink(bad);
        assert_int_equal(manifest_parse_path(dir, false, &list, &err), 0);
        assert_int_equal(list.n, 2);
        unlink(good);
        rmdir(dir);

        assert_int_equal(manifest_parse_path(dir, false, &list, &err), -ENOENT);
        free(expected);
        expected = str_printf("%s: No such file or directory", dir);
        assert_string_equal(err.message, expected);
        assert_int_equal(list.n, 2);
}

static void test_parse_files_limit(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        char dir[] = "/tmp/berth-manifests-XXXXXX";
        _cleanup_free_ char *expected = NULL;
        struct berth_error err = {};
        char path[256];

        (void)state;
        assert_non_null(mkdtemp(dir));
        /* Empty documents: the limit counts files, not documents. */
        for (int i = 0; i < MANIFEST_FILES_MAX; i++) {
                snprintf(path, sizeof(path), "%s/%05d.yaml", dir, i);
                write_file(path, i == 0 ? "a: 1\n" : "");
        }
        assert_int_equal(manifest_parse_path(dir, false, &list, &err), 0);
        assert_int_equal(list.n, 1);

        snprintf(path, sizeof(path), "%s/%05d.yaml", dir, MANIFEST_FILES_MAX);
        write_file(path, "");
        assert_int_equal(manifest_parse_path(dir, false, &list, &err), -E2BIG);
        expected = str_printf("%s: more than 10000 manifest files", path);
        assert_string_equal(err.message, expected);
        assert_int_equal(list.n, 1);

        for (int i = 0; i <= MANIFEST_FILES_MAX; i++) {
                snprintf(path, sizeof(path), "%s/%05d.yaml", dir, i);
                unlink(path);
        }
        rmdir(dir);
}

static void test_parse_positions_budget(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        struct berth_error err = {};
        struct buf b = {};
        char key[1001];
        const json_t *leaves;
        const int levels = 30, nleaves = 80000;

        (void)state;
        /* Long keys nested deep, then many leaves: every leaf's path repeats
         * 30 KB of ancestors, which a position map without a budget would
         * store 80000 times (2.4 GB). */
        memset(key, 'k', sizeof(key) - 1);
        key[sizeof(key) - 1] = '\0';
        buf_init(&b, MANIFEST_DOC_MAX);
        for (int i = 0; i < levels; i++)
                assert_int_equal(buf_printf(&b, "{%s: ", key), 0);
        assert_int_equal(buf_append_str(&b, "{"), 0);
        for (int i = 0; i < nleaves; i++)
                assert_int_equal(buf_printf(&b, "%sa%d: 1", i ? "," : "", i), 0);
        for (int i = 0; i <= levels; i++)
                assert_int_equal(buf_append_str(&b, "}"), 0);
        if (manifest_parse_buffer(b.data, b.len, "t.yaml", &list, &err) < 0)
                fail_msg("%s", err.message);
        buf_release(&b);
        assert_int_equal(list.n, 1);
        leaves = list.docs[0].object;
        for (int i = 0; i < levels; i++)
                leaves = json_object_get(leaves, key);
        assert_int_equal(json_object_size(leaves), nleaves);
        assert_true(json_object_size(list.docs[0].positions) < 3000);
        assert_true(json_object_size(list.docs[0].positions) > 1000);
}

static void test_parse_empty_root_key(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};

        (void)state;
        /* The key "" shares the document's path; the document's position wins. */
        parse_ok("# comment\nkind: Task\n\"\": x\n", &list);
        assert_position(&list.docs[0], "", 2, 1);
        assert_string_equal(json_string_value(json_object_get(list.docs[0].object, "")), "x");
}

static void test_parse_stdin(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        _cleanup_free_ char *path = fixture("valid/multi.yaml");
        struct berth_error err = {};
        int saved, fd;

        (void)state;
        saved = dup(STDIN_FILENO);
        assert_true(saved >= 0);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
        close(fd);
        assert_int_equal(manifest_parse_path("-", false, &list, &err), 0);
        assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
        close(saved);
        assert_int_equal(list.n, 3);
        assert_string_equal(list.docs[0].source, "<stdin>");
}

/* ---- validation -------------------------------------------------------- */

static void test_validate_file_error(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        _cleanup_(field_errors_release) struct field_errors errs = {};
        _cleanup_free_ char *path = fixture("invalid/unknown-field.yaml");
        _cleanup_free_ char *text = NULL, *expected = NULL;
        struct berth_error err = {};

        (void)state;
        assert_int_equal(manifest_parse_path(path, false, &list, &err), 0);
        assert_int_equal(manifest_validate(list.docs[0].object, list.docs[0].positions, &errs),
                         -EINVAL);
        text = field_errors_format(&errs, list.docs[0].source);
        expected = str_printf("%s:5:1: spec.image: required\n"
                              "%s:6:3: spec.imagee: unknown field, did you mean spec.image?",
                              path, path);
        assert_string_equal(text, expected);
}

static void test_validate_envelope(void **state)
{
        (void)state;
        assert_invalid("kind: Task\nmetadata: {name: a}\nspec: {image: b}\n",
                       "t.yaml:1:1: apiVersion: required");
        assert_invalid("apiVersion: v1\nkind: Task\nmetadata: {name: a}\nspec: {image: b}\n",
                       "t.yaml:1:1: apiVersion: unsupported apiVersion \"v1\", must be berth/v1");
        assert_invalid(
            "apiVersion: berth/v1\nkind: Foo\nmetadata: {name: a}\n",
            "t.yaml:2:1: kind: kind Foo is not supported; known kinds: Task, Workflow, CronTask, "
            "Service, Source, Role, ClusterRole, RoleBinding, ClusterRoleBinding, Token, Secret, "
            "Event, Policy, Queue, Notifier");
        assert_invalid("apiVersion: berth/v1\nkind: tasks\nmetadata: {name: a}\n",
                       "t.yaml:2:1: kind: kind tasks is not supported; did you mean Task?");
        assert_invalid("apiVersion: berth/v1\nkind: 3\nmetadata: {name: a}\n",
                       "t.yaml:2:1: kind: must be a string");
        assert_invalid("apiVersion: berth/v1\nmetadata: {name: a}\n", "t.yaml:1:1: kind: required");
        assert_invalid("apiVersion: berth/v1\nkind: Task\nspec: {image: b}\n",
                       "t.yaml:1:1: metadata: required");
        assert_invalid("apiVersion: berth/v1\nkind: Task\nmetadata: [a]\nspec: {image: b}\n",
                       "t.yaml:3:1: metadata: must be an object");
        assert_invalid("apiVersion: berth/v1\nkind: Task\nmetadata: {name: Bad_Name}\nspec: "
                       "{image: b}\n",
                       "t.yaml:3:12: metadata.name: invalid name \"Bad_Name\": must be a DNS-1123 "
                       "label: at most 63 lowercase letters, digits or '-', starting and ending "
                       "with a letter or digit");
        assert_invalid("apiVersion: berth/v1\nkind: Task\nmetadata:\n  name: a\n  namespace: "
                       "-ns\nspec: {image: b}\n",
                       "t.yaml:5:3: metadata.namespace: invalid name \"-ns\": must be a DNS-1123 "
                       "label: at most 63 lowercase letters, digits or '-', starting and ending "
                       "with a letter or digit");
        assert_invalid("apiVersion: berth/v1\nkind: Task\nmetadata:\n  nmae: a\nspec: {image: b}\n",
                       "t.yaml:3:1: metadata.name: required: set metadata.name, or "
                       "metadata.generateName for a name the server picks on create\n"
                       "t.yaml:4:3: metadata.nmae: unknown field, did you mean metadata.name?");
        assert_invalid("apiVersion: berth/v1\nkind: Task\nmetadata: {name: a}\nsepc: {image: b}\n",
                       "t.yaml:1:1: spec: required\n"
                       "t.yaml:4:1: sepc: unknown field, did you mean spec?");
        assert_invalid("apiVersion: berth/v1\nkind: Task\nmetadata:\n  name: a\n  labels:\n"
                       "    app: 1\n    -bad: x\n    ok: \"-bad\"\n    a/b/c: x\n"
                       "    Example.com/x: y\n    berth.kind: ok\n  annotations:\n"
                       "    n: 2\n    note: \"any: thing\"\nspec: {image: b}\n",
                       "t.yaml:6:5: metadata.labels.app: must be a string\n"
                       "t.yaml:7:5: metadata.labels.-bad: invalid key \"-bad\": must be an "
                       "optional DNS subdomain prefix and '/', then a name of at most 63 letters, "
                       "digits, '-', '_' or '.' that starts and ends with a letter or digit\n"
                       "t.yaml:8:5: metadata.labels.ok: invalid value \"-bad\": must be empty or "
                       "at most 63 letters, digits, '-', '_' or '.', starting and ending with a "
                       "letter or digit\n"
                       "t.yaml:9:5: metadata.labels.a/b/c: invalid key \"a/b/c\": must be an "
                       "optional DNS subdomain prefix and '/', then a name of at most 63 letters, "
                       "digits, '-', '_' or '.' that starts and ends with a letter or digit\n"
                       "t.yaml:10:5: metadata.labels.Example.com/x: invalid key \"Example.com/x\": "
                       "must be an optional DNS subdomain prefix and '/', then a name of at most "
                       "63 letters, digits, '-', '_' or '.' that starts and ends with a letter or "
                       "digit\n"
                       "t.yaml:13:5: metadata.annotations.n: must be a string");
}

static void test_validate_server_fields(void **state)
{
        (void)state;
        assert_null(validate_text("apiVersion: berth/v1\nkind: Task\nmetadata:\n  name: a\n"
                                  "  namespace: prod\n  uid: 0123abcd\n  generation: 3\n"
                                  "  resourceVersion: \"77\"\n"
                                  "  creationTimestamp: 2026-01-01T00:00:00Z\n"
                                  "  deletionTimestamp: null\n  finalizers: [berth/containers]\n"
                                  "  ownerReferences: [{kind: Workflow, name: w, uid: x}]\n"
                                  "  labels: {app.kubernetes.io/name: x, empty: \"\"}\n"
                                  "spec: {image: b}\nstatus: {phase: Running, anything: [1]}\n"));
}

static void test_validate_generate_name(void **state)
{
        char p58[59], p59[60];

        (void)state;
        memset(p58, 'a', 58);
        p58[58] = '\0';
        memset(p59, 'a', 59);
        p59[59] = '\0';
        assert_true(generate_name_is_valid("etl-"));
        assert_true(generate_name_is_valid("0x"));
        assert_true(generate_name_is_valid(p58));
        assert_false(generate_name_is_valid(p59));
        assert_false(generate_name_is_valid(""));
        assert_false(generate_name_is_valid(NULL));
        assert_false(generate_name_is_valid("-etl"));
        assert_false(generate_name_is_valid("Etl-"));
        assert_false(generate_name_is_valid("etl."));

        /* Instead of a name, in any namespaced kind. */
        assert_null(validate_text("apiVersion: berth/v1\nkind: Task\nmetadata:\n"
                                  "  generateName: hello-\nspec: {image: b}\n"));
        assert_null(validate_text("apiVersion: berth/v1\nkind: Workflow\nmetadata:\n"
                                  "  generateName: etl-\nspec:\n  steps:\n"
                                  "    - {name: a, task: {image: b}}\n"));
        /* Both: only in what the server named (it has a uid). */
        assert_null(validate_text("apiVersion: berth/v1\nkind: Task\nmetadata:\n"
                                  "  name: hello-x2b4z\n  generateName: hello-\n  uid: abc\n"
                                  "spec: {image: b}\n"));
        assert_invalid("apiVersion: berth/v1\nkind: Task\nmetadata:\n  name: hello\n"
                       "  generateName: hello-\nspec: {image: b}\n",
                       "t.yaml:5:3: metadata.generateName: only allowed without metadata.name: "
                       "the server picks the name from it on create");
        assert_invalid("apiVersion: berth/v1\nkind: Task\nmetadata:\n  labels: {a: b}\n"
                       "spec: {image: b}\n",
                       "t.yaml:3:1: metadata.name: required: set metadata.name, or "
                       "metadata.generateName for a name the server picks on create");
        assert_invalid("apiVersion: berth/v1\nkind: Task\nmetadata:\n  generateName: Etl-\n"
                       "spec: {image: b}\n",
                       "t.yaml:4:3: metadata.generateName: invalid generateName \"Etl-\": must "
                       "be at most 58 lowercase letters, digits or '-', starting with a letter or "
                       "digit (the server appends 5 random characters)");
        _cleanup_free_ char *long_prefix = str_printf(
            "apiVersion: berth/v1\nkind: Task\nmetadata:\n  generateName: %s\nspec: {image: b}\n",
            p59);
        _cleanup_free_ char *long_text = validate_text(long_prefix);
        assert_non_null(long_text);
        assert_non_null(strstr(long_text, "t.yaml:4:3: metadata.generateName: invalid"));
        assert_invalid("apiVersion: berth/v1\nkind: Task\nmetadata:\n  generateName: 5\n"
                       "spec: {image: b}\n",
                       "t.yaml:4:3: metadata.generateName: must be a string");
        /* The limits of names derived from the name apply to the prefix too. */
        _cleanup_free_ char *svc =
            validate_text("apiVersion: berth/v1\nkind: Service\nmetadata:\n"
                          "  generateName: web-0123456789-0123456789-0123456789-\n"
                          "spec:\n  template: {image: b}\n");
        assert_non_null(svc);
        assert_non_null(strstr(svc, "must be at most 40 characters for a Service"));

        /* Which objects only a create can take. */
        json_t *gen = json_pack("{s:{s:s}}", "metadata", "generateName", "etl-");
        json_t *both = json_pack("{s:{s:s, s:s}}", "metadata", "generateName", "etl-", "name", "x");
        json_t *named = json_pack("{s:{s:s}}", "metadata", "name", "x");
        assert_true(manifest_generates_name(gen));
        assert_false(manifest_generates_name(both));
        assert_false(manifest_generates_name(named));
        assert_false(manifest_generates_name(NULL));
        json_decref(gen);
        json_decref(both);
        json_decref(named);
}

static void test_validate_task_spec(void **state)
{
        (void)state;
        assert_task_invalid("  imagee: x\n",
                            "t.yaml:7:3: spec.imagee: unknown field, did you mean spec.image?");
        assert_task_invalid("  foo: 1\n", "t.yaml:7:3: spec.foo: unknown field");
        assert_task_invalid("  Args: [a]\n",
                            "t.yaml:7:3: spec.Args: unknown field, did you mean spec.args?");
        assert_task_invalid("  imagePullPolicy: Sometimes\n",
                            "t.yaml:7:3: spec.imagePullPolicy: unsupported value \"Sometimes\", "
                            "must be one of: Always, IfNotPresent, Never");
        assert_task_invalid("  restartPolicy: Always\n",
                            "t.yaml:7:3: spec.restartPolicy: unsupported value \"Always\", must be "
                            "one of: Never, OnFailure");
        assert_task_invalid("  restartPolicy: 1\n",
                            "t.yaml:7:3: spec.restartPolicy: must be a string");
        assert_task_invalid("  command: sh\n", "t.yaml:7:3: spec.command: must be an array");
        assert_task_invalid("  args: [a, 1, {}]\n", "t.yaml:7:13: spec.args[1]: must be a string\n"
                                                    "t.yaml:7:16: spec.args[2]: must be a string");
        assert_task_invalid("  workingDir: work\n",
                            "t.yaml:7:3: spec.workingDir: must be an absolute path");
        assert_task_invalid("  user: \"\"\n", "t.yaml:7:3: spec.user: must not be empty");
        assert_task_invalid("  network: \"a b\"\n",
                            "t.yaml:7:3: spec.network: invalid network \"a b\": must be none, "
                            "host, bridge, container:<id> or a network name");
        assert_task_invalid("  network: \"container:\"\n",
                            "t.yaml:7:3: spec.network: invalid network \"container:\": must be "
                            "none, host, bridge, container:<id> or a network name");
        assert_task_invalid("  backoffLimit: x\n",
                            "t.yaml:7:3: spec.backoffLimit: must be an integer");
        assert_task_invalid("  backoffLimit: 1.0\n",
                            "t.yaml:7:3: spec.backoffLimit: must be an integer");
        assert_task_invalid("  backoffLimit: 1001\n",
                            "t.yaml:7:3: spec.backoffLimit: must be between 0 and 1000");
        assert_task_invalid(
            "  backoff: {initialSeconds: -1, factor: 11, maxSeconds: 0, factr: 2}\n",
            "t.yaml:7:13: spec.backoff.initialSeconds: must be between 0 and 86400\n"
            "t.yaml:7:33: spec.backoff.factor: must be between 1 and 10\n"
            "t.yaml:7:45: spec.backoff.maxSeconds: must be between 1 and 86400\n"
            "t.yaml:7:60: spec.backoff.factr: unknown field, did you mean "
            "spec.backoff.factor?");
        assert_task_invalid("  backoff: {factor: \"2\"}\n",
                            "t.yaml:7:13: spec.backoff.factor: must be a number");
        assert_task_invalid("  backoff: 5\n", "t.yaml:7:3: spec.backoff: must be an object");
        assert_task_invalid(
            "  activeDeadlineSeconds: 0\n  ttlSecondsAfterFinished: -1\n",
            "t.yaml:7:3: spec.activeDeadlineSeconds: must be between 1 and 31536000\n"
            "t.yaml:8:3: spec.ttlSecondsAfterFinished: must be between 0 and "
            "31536000");
        assert_task_invalid("  labels:\n    berth.kind: x\n    team: [a]\n",
                            "t.yaml:8:5: spec.labels.berth.kind: label keys starting with "
                            "\"berth.\" are reserved for berth\n"
                            "t.yaml:9:5: spec.labels.team: must be a string");
}

static void test_validate_image(void **state)
{
        (void)state;
        assert_invalid("apiVersion: berth/v1\nkind: Task\nmetadata: {name: a}\nspec:\n  args: []\n",
                       "t.yaml:4:1: spec.image: required");
        assert_invalid("apiVersion: berth/v1\nkind: Task\nmetadata: {name: a}\nspec:\n  image:\n",
                       "t.yaml:5:3: spec.image: required");
        assert_invalid("apiVersion: berth/v1\nkind: Task\nmetadata: {name: a}\nspec:\n  image: "
                       "\"\"\n",
                       "t.yaml:5:3: spec.image: must not be empty");
        assert_invalid("apiVersion: berth/v1\nkind: Task\nmetadata: {name: a}\nspec:\n  image: "
                       "\"bu sy\"\n",
                       "t.yaml:5:3: spec.image: must not contain whitespace");
        assert_invalid("apiVersion: berth/v1\nkind: Task\nmetadata: {name: a}\nspec:\n  image: 5\n",
                       "t.yaml:5:3: spec.image: must be a string");
        assert_invalid("apiVersion: berth/v1\nkind: Task\nmetadata: {name: a}\nspec: []\n",
                       "t.yaml:4:1: spec: must be an object");
        assert_invalid("apiVersion: berth/v1\nkind: Task\nmetadata: {name: a}\n",
                       "t.yaml:1:1: spec: required");
}

static void test_validate_env(void **state)
{
        (void)state;
        assert_task_invalid("  env:\n    - name: PORT\n      value: 8080\n    - name: DEBUG\n"
                            "      value: true\n    - name: RATIO\n      value: 0.5\n"
                            "    - name: LIST\n      value: [a]\n",
                            "t.yaml:9:7: spec.env[0].value: must be a string; quote it: \"8080\"\n"
                            "t.yaml:11:7: spec.env[1].value: must be a string; quote it: \"true\"\n"
                            "t.yaml:13:7: spec.env[2].value: must be a string; quote it: \"0.5\"\n"
                            "t.yaml:15:7: spec.env[3].value: must be a string");
        assert_task_invalid("  env:\n    - name: A\n    - name: B\n    - name: A\n      value: x\n",
                            "t.yaml:10:7: spec.env[2].name: duplicate name A (first at "
                            "spec.env[0])");
        assert_task_invalid("  env:\n    - name: 1X\n    - value: x\n    - nam: Y\n    - x\n",
                            "t.yaml:8:7: spec.env[0].name: invalid name \"1X\": must start with a "
                            "letter or '_' and contain only letters, digits and '_'\n"
                            "t.yaml:9:7: spec.env[1].name: required\n"
                            "t.yaml:10:7: spec.env[2].nam: unknown field, did you mean "
                            "spec.env[2].name?\n"
                            "t.yaml:10:7: spec.env[2].name: required\n"
                            "t.yaml:11:7: spec.env[3]: must be an object");
        assert_task_invalid("  env: {A: b}\n", "t.yaml:7:3: spec.env: must be an array");
        assert_null(validate_text(TASK_HEAD "  env:\n    - name: _A1\n    - name: b\n      value: "
                                            "\"\"\n    - name: C\n      value: null\n"));
}

static void test_validate_volumes(void **state)
{
        (void)state;
        assert_task_invalid(
            "  volumes:\n    - mountPath: /a\n      hostPath: /b\n      volume: v\n",
            "t.yaml:8:7: spec.volumes[0]: only one of hostPath, volume, tmpfs or secret "
            "may be set, found hostPath and volume");
        assert_task_invalid(
            "  volumes:\n    - mountPath: /a\n      readOnly: yes\n",
            "t.yaml:8:7: spec.volumes[0]: one of hostPath, volume, tmpfs or secret is "
            "required\n"
            "t.yaml:9:7: spec.volumes[0].readOnly: must be a boolean (true or "
            "false)");
        assert_task_invalid("  volumes:\n    - {mountPath: /a, volume: v}\n"
                            "    - {mountPath: /a, tmpfs: {}}\n",
                            "t.yaml:9:8: spec.volumes[1].mountPath: duplicate mountPath /a (first "
                            "at spec.volumes[0])");
        assert_task_invalid("  volumes:\n    - {mountPath: data, hostPath: rel}\n"
                            "    - {mountPath: /, volume: \"-x\"}\n    - {hostPath: /x}\n"
                            "    - {mountPath: /t, tmpfs: {sizeLimit: lots, mode: 1}}\n",
                            "t.yaml:8:8: spec.volumes[0].mountPath: must be an absolute path\n"
                            "t.yaml:8:25: spec.volumes[0].hostPath: must be an absolute path\n"
                            "t.yaml:9:8: spec.volumes[1].mountPath: must not be /\n"
                            "t.yaml:9:22: spec.volumes[1].volume: invalid volume name \"-x\": must "
                            "start with a letter or digit and contain only letters, digits, '_', "
                            "'.' and '-'\n"
                            "t.yaml:10:7: spec.volumes[2].mountPath: required\n"
                            "t.yaml:11:31: spec.volumes[3].tmpfs.sizeLimit: invalid quantity "
                            "\"lots\": use bytes with an optional suffix like 256Mi or 1G\n"
                            "t.yaml:11:48: spec.volumes[3].tmpfs.mode: unknown field");
}

static void test_validate_resources(void **state)
{
        (void)state;
        assert_null(validate_text(TASK_HEAD "  resources: {cpu: 2, memory: 6291456, pids: 1}\n"));
        assert_null(validate_text(TASK_HEAD "  resources: {cpu: 0.25, memory: 1Gi}\n"));
        assert_null(validate_text(TASK_HEAD "  resources: {cpu: \"1.5\", memory: 6Mi}\n"));
        assert_task_invalid("  resources:\n    cpu: abc\n    memory: lots\n    pids: 0\n",
                            "t.yaml:8:5: spec.resources.cpu: invalid cpu quantity \"abc\": use "
                            "cores like \"0.5\" or millicores like \"500m\"\n"
                            "t.yaml:9:5: spec.resources.memory: invalid quantity \"lots\": use "
                            "bytes with an optional suffix like 256Mi or 1G\n"
                            "t.yaml:10:5: spec.resources.pids: must be at least 1");
        assert_task_invalid("  resources:\n    cpu: 0\n    memory: 1Mi\n",
                            "t.yaml:8:5: spec.resources.cpu: must be greater than 0\n"
                            "t.yaml:9:5: spec.resources.memory: must be at least 6Mi (Docker's "
                            "minimum)");
        assert_task_invalid("  resources:\n    cpu: 0m\n    memory: 1.5\n    memroy: 1Gi\n",
                            "t.yaml:8:5: spec.resources.cpu: must be at least 1m\n"
                            "t.yaml:9:5: spec.resources.memory: must be a quantity string like "
                            "\"256Mi\" or an integer number of bytes\n"
                            "t.yaml:10:5: spec.resources.memroy: unknown field, did you mean "
                            "spec.resources.memory?");
        assert_task_invalid("  resources:\n    cpu: [1]\n    memory: 1000\n",
                            "t.yaml:8:5: spec.resources.cpu: must be a quantity string like "
                            "\"500m\" or a number of cores\n"
                            "t.yaml:9:5: spec.resources.memory: must be at least 6Mi (Docker's "
                            "minimum)");
}

static void test_validate_no_positions(void **state)
{
        _cleanup_json_ json_t *o =
            json_pack("{s:s, s:s, s:{s:s}, s:{s:i}}", "apiVersion", "berth/v1", "kind", "Task",
                      "metadata", "name", "a", "spec", "image", 5);
        _cleanup_(field_errors_release) struct field_errors errs = {};
        _cleanup_free_ char *text = NULL, *bare = NULL;

        (void)state;
        assert_non_null(o);
        assert_int_equal(manifest_validate(o, NULL, &errs), -EINVAL);
        assert_int_equal(errs.n, 1);
        assert_int_equal(errs.items[0].line, 0);
        text = field_errors_format(&errs, "api");
        assert_string_equal(text, "api: spec.image: must be a string");
        bare = field_errors_format(&errs, NULL);
        assert_string_equal(bare, "spec.image: must be a string");

        /* a second validation appends */
        assert_int_equal(manifest_validate(o, NULL, &errs), -EINVAL);
        assert_int_equal(errs.n, 2);

        json_decref(o);
        o = json_string("x");
        assert_int_equal(manifest_validate(o, NULL, &errs), -EINVAL);
        assert_int_equal(errs.n, 3);
        assert_string_equal(errs.items[2].message, "must be an object");
        assert_int_equal(manifest_validate(o, NULL, NULL), -EINVAL);
}

static void test_field_errors(void **state)
{
        struct field_errors errs = {};
        _cleanup_free_ char *empty = NULL, *text = NULL;

        (void)state;
        field_errors_release(&errs);
        field_errors_release(NULL);
        empty = field_errors_format(&errs, "f.yaml");
        assert_string_equal(empty, "");
        assert_int_equal(field_errors_add(&errs, "spec.image", 3, 5, "bad %s", "thing"), 0);
        assert_int_equal(field_errors_add(&errs, "", 0, 0, "whole object"), 0);
        assert_int_equal(field_errors_add(&errs, NULL, 1, 1, "%d%%", 5), 0);
        text = field_errors_format(&errs, "f.yaml");
        assert_string_equal(text, "f.yaml:3:5: spec.image: bad thing\nf.yaml: whole object\n"
                                  "f.yaml:1:1: 5%");
        field_errors_release(&errs);
        assert_int_equal(errs.n, 0);
        assert_null(errs.items);
}

static void test_list_release_empty(void **state)
{
        struct manifest_list list = {};

        (void)state;
        manifest_list_release(&list);
        manifest_list_release(NULL);
        assert_int_equal(list.n, 0);
}

/* ---- defaults ---------------------------------------------------------- */

static void test_defaults(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        _cleanup_(field_errors_release) struct field_errors errs = {};
        _cleanup_json_ json_t *once = NULL;
        json_t *o;

        (void)state;
        parse_ok(TASK_HEAD "  backoff: {factor: 3}\n  imagePullPolicy: null\n", &list);
        o = list.docs[0].object;
        assert_int_equal(manifest_validate(o, list.docs[0].positions, &errs), 0);
        manifest_apply_defaults(o);
        assert_string_equal(json_path_string(o, "metadata.namespace"), "default");
        assert_string_equal(json_path_string(o, "spec.imagePullPolicy"), "IfNotPresent");
        assert_string_equal(json_path_string(o, "spec.restartPolicy"), "Never");
        assert_int_equal(json_path_int(o, "spec.backoffLimit", -1), 6);
        assert_int_equal(json_path_int(o, "spec.backoff.initialSeconds", -1), 10);
        assert_int_equal(json_path_int(o, "spec.backoff.factor", -1), 3);
        assert_int_equal(json_path_int(o, "spec.backoff.maxSeconds", -1), 300);
        assert_int_equal(manifest_validate(o, NULL, &errs), 0);

        once = json_deep_copy(o);
        manifest_apply_defaults(o);
        assert_true(json_equal(once, o));

        manifest_list_release(&list);
        parse_ok("apiVersion: berth/v1\nkind: Task\nmetadata: {name: a, namespace: x}\n"
                 "spec: {image: b, backoffLimit: 0, restartPolicy: OnFailure}\n",
                 &list);
        o = list.docs[0].object;
        manifest_apply_defaults(o);
        assert_string_equal(json_path_string(o, "metadata.namespace"), "x");
        assert_int_equal(json_path_int(o, "spec.backoffLimit", -1), 0);
        assert_string_equal(json_path_string(o, "spec.restartPolicy"), "OnFailure");
        assert_true(json_is_integer(json_path(o, "spec.backoff.factor")));
        assert_int_equal(json_path_int(o, "spec.backoff.factor", -1), 2);
        manifest_apply_defaults(NULL);
}

/* ---- printing ---------------------------------------------------------- */

static void assert_round_trip(const json_t *value)
{
        _cleanup_(manifest_list_release) struct manifest_list again = {};
        _cleanup_buf_ struct buf out = {};
        struct berth_error err = {};

        buf_init(&out, 16 * MANIFEST_DOC_MAX);
        assert_int_equal(manifest_to_yaml(value, &out), 0);
        if (manifest_parse_buffer(out.data, out.len, "out.yaml", &again, &err) < 0)
                fail_msg("%s\n---- output:\n%s", err.message, out.data);
        assert_int_equal(again.n, 1);
        if (!json_equal((json_t *)value, again.docs[0].object)) {
                _cleanup_free_ char *a = json_dumps(value, JSON_SORT_KEYS);
                _cleanup_free_ char *b = json_dumps(again.docs[0].object, JSON_SORT_KEYS);

                fail_msg("round trip differs\n%s\n%s\n---- output:\n%s", a, b, out.data);
        }
}

static void test_round_trip_fixtures(void **state)
{
        static const char *const files[] = {"roundtrip/strings.yaml", "roundtrip/task-full.yaml",
                                            "valid/multi.yaml"};

        (void)state;
        for (size_t f = 0; f < ARRAY_SIZE(files); f++) {
                _cleanup_(manifest_list_release) struct manifest_list list = {};
                _cleanup_free_ char *path = fixture(files[f]);
                struct berth_error err = {};

                if (manifest_parse_path(path, false, &list, &err) < 0)
                        fail_msg("%s", err.message);
                assert_true(list.n > 0);
                for (size_t i = 0; i < list.n; i++)
                        assert_round_trip(list.docs[i].object);
        }
}

static void test_round_trip_values(void **state)
{
        _cleanup_free_ char *long_key = malloc(3001);
        _cleanup_json_ json_t *o = NULL;
        static const char *const strings[] = {
            "",
            " ",
            "a\"b",
            "\\",
            "x\x01y",
            "\xc2\x85",
            "\xef\xbf\xbe",
            "- ",
            "a:",
            "#",
            "\xef\xbb\xbf"
            "bom",
            "日本語",
            "0o8",
            "0x",
            "1e",
            "+",
            "-.5",
            "-.inf",
        };

        (void)state;
        assert_non_null(long_key);
        memset(long_key, 'k', 3000);
        long_key[3000] = '\0';
        o = json_loads("{\"list\": [{\"inline\": \"x\"}, [[], {}, [1, [2]]], {}], \"empty\": {}}",
                       0, NULL);
        assert_non_null(o);
        assert_int_equal(json_object_set_new(o, long_key, json_integer(1)), 0);
        assert_non_null(o);
        assert_round_trip(o);
        for (size_t i = 0; i < ARRAY_SIZE(strings); i++) {
                _cleanup_json_ json_t *m =
                    json_pack("{s:s, s:[s]}", strings[i], strings[i], "l", strings[i]);

                assert_non_null(m);
                assert_round_trip(m);
        }
}

static void test_to_yaml_format(void **state)
{
        _cleanup_json_ json_t *o = json_loads(
            "{\"apiVersion\":\"berth/v1\",\"metadata\":{\"name\":\"a\",\"labels\":{}},"
            "\"spec\":{\"args\":[\"-c\",\"echo: hi\",\"8080\",\"\"],\"env\":[{\"name\":\"A\","
            "\"value\":\"x y\"}],\"n\":[[1,2.0],[]],\"f\":1.5,\"t\":true,\"z\":null}}",
            0, NULL);
        _cleanup_buf_ struct buf out = {};
        _cleanup_json_ json_t *s = json_string("multi\nline");

        (void)state;
        assert_non_null(o);
        buf_init(&out, 65536);
        assert_int_equal(manifest_to_yaml(o, &out), 0);
        assert_string_equal(out.data, "apiVersion: berth/v1\n"
                                      "metadata:\n"
                                      "  name: a\n"
                                      "  labels: {}\n"
                                      "spec:\n"
                                      "  args:\n"
                                      "    - -c\n"
                                      "    - \"echo: hi\"\n"
                                      "    - \"8080\"\n"
                                      "    - \"\"\n"
                                      "  env:\n"
                                      "    - name: A\n"
                                      "      value: x y\n"
                                      "  \"n\":\n"
                                      "    - - 1\n"
                                      "      - 2.0\n"
                                      "    - []\n"
                                      "  f: 1.5\n"
                                      "  t: true\n"
                                      "  z: null\n");
        buf_reset(&out);
        assert_int_equal(manifest_to_yaml(s, &out), 0);
        assert_string_equal(out.data, "\"multi\\nline\"\n");

        /* A capped buffer that is too small fails and is left as it was. */
        buf_release(&out);
        buf_init(&out, 10);
        assert_int_equal(buf_append_str(&out, "x"), 0);
        assert_int_equal(manifest_to_yaml(o, &out), -E2BIG);
        assert_string_equal(out.data, "x");
        assert_int_equal(out.len, 1);
}

/* ---- kinds, keys, names ------------------------------------------------ */

static void test_kinds(void **state)
{
        const struct kind_info *const *all = kind_all();
        static const char *const names[] = {"Task", "task", "tasks", "TASKS", "tk", "TK", "tAsK"};

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
                const struct kind_info *k = kind_lookup(names[i]);

                assert_non_null(k);
                assert_string_equal(k->kind, "Task");
                assert_string_equal(k->resource, "tasks");
                assert_string_equal(k->singular, "task");
                assert_string_equal(k->short_name, "tk");
                assert_true(k->namespaced);
        }
        assert_null(kind_lookup(""));
        assert_null(kind_lookup(NULL));
        assert_non_null(all[0]);
        assert_ptr_equal(all[0], kind_lookup("task"));
        assert_ptr_equal(all[1], kind_lookup("wf"));
        assert_ptr_equal(all[2], kind_lookup("ct"));
        assert_ptr_equal(all[3], kind_lookup("svc"));
        assert_ptr_equal(all[4], kind_lookup("src"));
        assert_ptr_equal(all[5], kind_lookup("roles"));
        assert_ptr_equal(all[6], kind_lookup("clusterroles"));
        assert_ptr_equal(all[7], kind_lookup("rolebindings"));
        assert_ptr_equal(all[8], kind_lookup("clusterrolebindings"));
        assert_ptr_equal(all[9], kind_lookup("tokens"));
        assert_ptr_equal(all[10], kind_lookup("secrets"));
        assert_ptr_equal(all[11], kind_lookup("events"));
        assert_ptr_equal(all[11], kind_lookup("ev"));
        assert_ptr_equal(all[12], kind_lookup("policies"));
}

static void test_object_key(void **state)
{
        char resource[64], ns[64], name[64];
        _cleanup_free_ char *key = object_key("/berth/", "tasks", "default", "hello");
        _cleanup_free_ char *cluster = object_key("/berth/", "roles", NULL, "admin");
        char long_name[80];

        (void)state;
        assert_string_equal(key, "/berth/tasks/default/hello");
        assert_int_equal(object_key_parse("/berth/", key, resource, ns, name), 0);
        assert_string_equal(resource, "tasks");
        assert_string_equal(ns, "default");
        assert_string_equal(name, "hello");
        assert_int_equal(object_key_parse("/berth/", key, NULL, ns, name), 0);

        assert_string_equal(cluster, "/berth/roles/admin");
        assert_int_equal(object_key_parse("/berth/", cluster, resource, ns, name), 0);
        assert_string_equal(resource, "roles");
        assert_string_equal(ns, "");
        assert_string_equal(name, "admin");

        assert_int_equal(str_copy(resource, sizeof(resource), "keep"), 0);
        assert_int_equal(object_key_parse("/other/", key, resource, ns, name), -EINVAL);
        assert_int_equal(object_key_parse("/berth/", "/berth/tasks", resource, ns, name), -EINVAL);
        assert_int_equal(object_key_parse("/berth/", "/berth/tasks/a/b/c", resource, ns, name),
                         -EINVAL);
        assert_int_equal(object_key_parse("/berth/", "/berth/tasks//b", resource, ns, name),
                         -EINVAL);
        assert_int_equal(object_key_parse("/berth/", "/berth/tasks/a/", resource, ns, name),
                         -EINVAL);
        memset(long_name, 'x', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = '\0';
        {
                _cleanup_free_ char *k = object_key("/berth/", "tasks", "default", long_name);

                assert_int_equal(object_key_parse("/berth/", k, resource, ns, name), -EINVAL);
        }
        assert_string_equal(resource, "keep");
        assert_null(object_key(NULL, "tasks", "a", "b"));
}

static void test_object_data_key(void **state)
{
        _cleanup_free_ char *key =
            object_data_key("/berth/", "workflows", "default", "etl", "step-extract");
        _cleanup_free_ char *all = object_data_key("/berth/", "workflows", "default", "etl", NULL);
        char resource[64], ns[64], name[64];

        (void)state;
        assert_string_equal(key, "/berth/workflows-data/default/etl/step-extract");
        assert_string_equal(all, "/berth/workflows-data/default/etl/");
        assert_true(str_has_prefix(key, all));
        /* Data keys are not object keys. */
        assert_int_equal(object_key_parse("/berth/", key, resource, ns, name), -EINVAL);
        assert_null(object_data_key("/berth/", "workflows", NULL, "etl", "x"));
        assert_true(object_key_is_data("/berth/", key));
        assert_true(object_key_is_data("/berth/", all));
        assert_false(object_key_is_data("/berth/", "/berth/workflows/default/etl"));
        assert_false(object_key_is_data("/berth/", "/berth/-data/default/etl"));
        assert_false(object_key_is_data("/other/", key));
}

static void test_object_stamp_new(void **state)
{
        (void)state;
        json_t *obj = json_pack("{s:{s:s, s:[s]}}", "metadata", "name", "x", "finalizers", "mine");
        assert_int_equal(object_stamp_new(obj, kind_lookup("Workflow"), 0), 0);
        assert_int_equal(strlen(json_path_string(obj, "metadata.uid")), 32);
        assert_int_equal(json_path_int(obj, "metadata.generation", 0), 1);
        assert_string_equal(json_path_string(obj, "metadata.creationTimestamp"),
                            "1970-01-01T00:00:00Z");
        const json_t *fins = json_path(obj, "metadata.finalizers");
        assert_int_equal(json_array_size(fins), 2);
        assert_string_equal(json_string_value(json_array_get(fins, 0)), "mine");
        assert_string_equal(json_string_value(json_array_get(fins, 1)), FINALIZER_CHILDREN);
        /* Idempotent for the finalizer. */
        assert_int_equal(object_stamp_new(obj, kind_lookup("Workflow"), 0), 0);
        assert_int_equal(json_array_size(json_path(obj, "metadata.finalizers")), 2);
        json_decref(obj);

        obj = json_pack("{s:s}", "kind", "Task");
        assert_int_equal(object_stamp_new(obj, kind_lookup("Task"), 0), -EINVAL);
        json_decref(obj);
}

static void test_name_is_valid(void **state)
{
        char n63[64], n64[65];

        (void)state;
        memset(n63, 'a', 63);
        n63[63] = '\0';
        memset(n64, 'a', 64);
        n64[64] = '\0';
        assert_true(name_is_valid("a"));
        assert_true(name_is_valid("hello-world-1"));
        assert_true(name_is_valid("1abc"));
        assert_true(name_is_valid(n63));
        assert_false(name_is_valid(n64));
        assert_false(name_is_valid(""));
        assert_false(name_is_valid(NULL));
        assert_false(name_is_valid("-a"));
        assert_false(name_is_valid("a-"));
        assert_false(name_is_valid("A"));
        assert_false(name_is_valid("a_b"));
        assert_false(name_is_valid("a.b"));
}

/* ---- typed specs ---------------------------------------------------------- */

static json_t *load_json(const char *text)
{
        json_error_t e;
        json_t *j = json_loads(text, 0, &e);

        if (!j)
                fail_msg("bad test json: %s", e.text);
        return j;
}

static void test_task_spec_decode(void **state)
{
        (void)state;
        struct task_spec s;
        struct berth_error err = {0};

        json_t *o = load_json("{\"spec\":{\"image\":\"busybox\"}}");
        assert_int_equal(task_spec_decode(o, &s, &err), 0);
        assert_string_equal(s.image, "busybox");
        assert_int_equal(s.pull_policy, PULL_IF_NOT_PRESENT);
        assert_int_equal(s.restart_policy, RESTART_NEVER);
        assert_int_equal(s.backoff_limit, 6);
        assert_int_equal(s.backoff_initial_ms, 10000);
        assert_true(s.backoff_factor == 2);
        assert_int_equal(s.backoff_max_ms, 300000);
        assert_int_equal(s.active_deadline_ms, 0);
        assert_int_equal(s.ttl_after_finished_ms, -1);
        assert_null(s.command);
        assert_int_equal(s.n_env, 0);
        assert_int_equal(s.n_volumes, 0);
        task_spec_release(&s);
        json_decref(o);

        o = load_json("{\"spec\":{\"image\":\"x\",\"imagePullPolicy\":\"Never\","
                      "\"restartPolicy\":\"OnFailure\",\"backoffLimit\":2,"
                      "\"backoff\":{\"initialSeconds\":1,\"factor\":3.5,\"maxSeconds\":60},"
                      "\"activeDeadlineSeconds\":30,\"ttlSecondsAfterFinished\":0,"
                      "\"command\":[\"sh\"],\"env\":[{\"name\":\"A\",\"value\":\"1\"},"
                      "{\"name\":\"B\"}],\"volumes\":[{\"mountPath\":\"/t\",\"tmpfs\":"
                      "{\"sizeLimit\":\"1Ki\"}},{\"mountPath\":\"/v\",\"volume\":\"v\","
                      "\"readOnly\":true}],\"resources\":{\"cpu\":0.25,\"memory\":\"8Mi\","
                      "\"pids\":9}}}");
        assert_int_equal(task_spec_decode(o, &s, &err), 0);
        assert_int_equal(s.pull_policy, PULL_NEVER);
        assert_int_equal(s.restart_policy, RESTART_ON_FAILURE);
        assert_int_equal(s.backoff_limit, 2);
        assert_int_equal(s.backoff_initial_ms, 1000);
        assert_true(s.backoff_factor == 3.5);
        assert_int_equal(s.backoff_max_ms, 60000);
        assert_int_equal(s.active_deadline_ms, 30000);
        assert_int_equal(s.ttl_after_finished_ms, 0);
        assert_int_equal(json_array_size(s.command), 1);
        assert_int_equal(s.n_env, 2);
        assert_string_equal(s.env[1].name, "B");
        assert_string_equal(s.env[1].value, "");
        assert_int_equal(s.n_volumes, 2);
        assert_int_equal(s.volumes[0].type, VOLUME_TMPFS);
        assert_int_equal(s.volumes[0].size_limit, 1024);
        assert_null(s.volumes[0].source);
        assert_int_equal(s.volumes[1].type, VOLUME_NAMED);
        assert_string_equal(s.volumes[1].source, "v");
        assert_true(s.volumes[1].read_only);
        assert_int_equal(s.cpu_millis, 250);
        assert_int_equal(s.memory_bytes, 8 * 1024 * 1024);
        assert_int_equal(s.pids_limit, 9);
        task_spec_release(&s);
        json_decref(o);

        /* What the API would refuse never reaches Docker either. */
        static const char *const bad[] = {
            "{}",
            "{\"spec\":[]}",
            "{\"spec\":{}}",
            "{\"spec\":{\"image\":\"\"}}",
            "{\"spec\":{\"image\":\"x\",\"imagePullPolicy\":\"Sometimes\"}}",
            "{\"spec\":{\"image\":\"x\",\"restartPolicy\":1}}",
            "{\"spec\":{\"image\":\"x\",\"backoffLimit\":-1}}",
            "{\"spec\":{\"image\":\"x\",\"backoff\":{\"factor\":0.5}}}",
            "{\"spec\":{\"image\":\"x\",\"backoff\":{\"initialSeconds\":0.5}}}",
            "{\"spec\":{\"image\":\"x\",\"backoff\":\"fast\"}}",
            "{\"spec\":{\"image\":\"x\",\"activeDeadlineSeconds\":\"10s\"}}",
            "{\"spec\":{\"image\":\"x\",\"ttlSecondsAfterFinished\":-3}}",
            "{\"spec\":{\"image\":\"x\",\"activeDeadlineSeconds\":1e300}}",
            "{\"spec\":{\"image\":\"x\",\"command\":\"sh\"}}",
            "{\"spec\":{\"image\":\"x\",\"args\":[1]}}",
            "{\"spec\":{\"image\":\"x\",\"env\":[{\"value\":\"v\"}]}}",
            "{\"spec\":{\"image\":\"x\",\"env\":[{\"name\":\"A\",\"value\":3}]}}",
            "{\"spec\":{\"image\":\"x\",\"volumes\":[{\"mountPath\":\"/a\"}]}}",
            "{\"spec\":{\"image\":\"x\",\"volumes\":[{\"mountPath\":\"/a\",\"hostPath\":\"/b\","
            "\"volume\":\"v\"}]}}",
            "{\"spec\":{\"image\":\"x\",\"volumes\":[{\"mountPath\":\"rel\",\"volume\":\"v\"}]}}",
            "{\"spec\":{\"image\":\"x\",\"volumes\":[{\"mountPath\":\"/a\",\"tmpfs\":"
            "{\"sizeLimit\":\"lots\"}}]}}",
            "{\"spec\":{\"image\":\"x\",\"resources\":{\"cpu\":\"fast\"}}}",
            "{\"spec\":{\"image\":\"x\",\"resources\":{\"cpu\":0.0001}}}",
            "{\"spec\":{\"image\":\"x\",\"resources\":{\"memory\":-1}}}",
            "{\"spec\":{\"image\":\"x\",\"resources\":{\"pids\":\"many\"}}}",
            "{\"spec\":{\"image\":\"x\",\"labels\":{\"a\":1}}}",
            "{\"spec\":{\"image\":\"x\",\"labels\":{\"berth.uid\":\"forged\"}}}",
            "{\"spec\":{\"image\":\"x\",\"network\":5}}",
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                struct task_spec untouched = {.backoff_limit = 42};
                o = load_json(bad[i]);
                berth_error_clear(&err);
                if (task_spec_decode(o, &untouched, &err) != -EINVAL)
                        fail_msg("accepted: %s", bad[i]);
                assert_int_equal(untouched.backoff_limit, 42);
                assert_int_equal(err.code, -EINVAL);
                assert_true(err.message[0] != '\0');
                json_decref(o);
        }
        /* The message names the first field and counts the others. */
        o = load_json("{\"spec\":{\"image\":\"\",\"backoffLimit\":-1}}");
        assert_int_equal(task_spec_decode(o, &s, &err), -EINVAL);
        assert_string_equal(err.message, "spec.image: must not be empty (and 1 more)");
        json_decref(o);
        assert_int_equal(task_spec_decode(NULL, &s, NULL), -EINVAL);
        task_spec_release(NULL);
}

static void test_validate_depends_on(void **state)
{
        (void)state;
        assert_valid_as(TASK_HEAD "  dependsOn: [a, b-2]\n", "t.yaml");
        assert_valid_as(TASK_HEAD "  dependsOn: []\n", "t.yaml");
        assert_task_invalid("  dependsOn:\n    - a\n    - B\n    - t\n    - a\n    - 3\n",
                            "t.yaml:9:7: spec.dependsOn[1]: invalid task name \"B\": must be a "
                            "DNS-1123 label: at most 63 lowercase letters, digits or '-', "
                            "starting and ending with a letter or digit\n"
                            "t.yaml:10:7: spec.dependsOn[2]: a Task cannot depend on itself\n"
                            "t.yaml:11:7: spec.dependsOn[3]: duplicate dependency a (first at "
                            "spec.dependsOn[0])\n"
                            "t.yaml:12:7: spec.dependsOn[4]: must be a string");
        assert_task_invalid("  dependsOn: a\n", "t.yaml:7:3: spec.dependsOn: must be an array");

        /* At most TASK_DEPENDS_ON_MAX. */
        _cleanup_free_ char *many = strdup("  dependsOn: [d0");
        assert_non_null(many);
        for (int i = 1; i <= TASK_DEPENDS_ON_MAX; i++) {
                char *next = str_printf("%s, d%d", many, i);
                assert_non_null(next);
                free(many);
                many = next;
        }
        _cleanup_free_ char *tail = str_printf("%s]\n", many);
        assert_non_null(tail);
        assert_task_invalid(tail, "t.yaml:7:3: spec.dependsOn: at most 64 dependencies, found 65");

        /* Decoded in order, names borrowed from the object. */
        struct task_spec s;
        struct berth_error err = {0};
        json_t *o = load_json("{\"metadata\":{\"name\":\"c\"},"
                              "\"spec\":{\"image\":\"x\",\"dependsOn\":[\"b\",\"a\"]}}");
        assert_int_equal(task_spec_decode(o, &s, &err), 0);
        assert_int_equal(s.n_depends_on, 2);
        assert_string_equal(s.depends_on[0], "b");
        assert_string_equal(s.depends_on[1], "a");
        assert_ptr_equal(s.depends_on[1],
                         json_string_value(json_array_get(json_path(o, "spec.dependsOn"), 1)));
        task_spec_release(&s);
        assert_null(s.depends_on);
        assert_int_equal(s.n_depends_on, 0);
        json_decref(o);
        o = load_json("{\"spec\":{\"image\":\"x\"}}");
        assert_int_equal(task_spec_decode(o, &s, &err), 0);
        assert_null(s.depends_on);
        assert_int_equal(s.n_depends_on, 0);
        task_spec_release(&s);
        json_decref(o);
}

#define ON_FAILURE "  restartPolicy: OnFailure\n"

static void test_validate_retry_on(void **state)
{
        (void)state;
        assert_valid_as(TASK_HEAD ON_FAILURE
                        "  retryOn: [Error, OOMKilled, DeadlineExceeded, ContainerLost]\n",
                        "t.yaml");
        assert_task_invalid(ON_FAILURE "  retryOn: [Error, Timeout, Error, 3]\n",
                            "t.yaml:8:20: spec.retryOn[1]: unknown value \"Timeout\": one of "
                            "Error, OOMKilled, DeadlineExceeded, ContainerLost\n"
                            "t.yaml:8:29: spec.retryOn[2]: duplicate value Error (first at "
                            "spec.retryOn[0])\n"
                            "t.yaml:8:36: spec.retryOn[3]: must be a string");
        assert_task_invalid(ON_FAILURE "  retryOn: [error]\n",
                            "t.yaml:8:13: spec.retryOn[0]: unknown value \"error\": one of "
                            "Error, OOMKilled, DeadlineExceeded, ContainerLost");
        assert_task_invalid(ON_FAILURE "  retryOn: []\n",
                            "t.yaml:8:3: spec.retryOn: must list at least one of Error, "
                            "OOMKilled, DeadlineExceeded, ContainerLost");
        assert_task_invalid(ON_FAILURE "  retryOn: Error\n",
                            "t.yaml:8:3: spec.retryOn: must be an array");
}

static void test_validate_retry_exit_codes(void **state)
{
        (void)state;
        assert_valid_as(TASK_HEAD ON_FAILURE "  retryExitCodes: {in: [0, 1, 255]}\n", "t.yaml");
        assert_valid_as(TASK_HEAD ON_FAILURE "  retryExitCodes: {notIn: [2]}\n", "t.yaml");
        /* null counts as not set */
        assert_valid_as(TASK_HEAD ON_FAILURE "  retryExitCodes: {in: [1], notIn: null}\n",
                        "t.yaml");
        assert_task_invalid(ON_FAILURE "  retryExitCodes: {in: [1], notIn: [2]}\n",
                            "t.yaml:8:3: spec.retryExitCodes: exactly one of in or notIn");
        assert_task_invalid(ON_FAILURE "  retryExitCodes: {}\n",
                            "t.yaml:8:3: spec.retryExitCodes: exactly one of in or notIn");
        assert_task_invalid(ON_FAILURE "  retryExitCodes: {notin: [1]}\n",
                            "t.yaml:8:3: spec.retryExitCodes: exactly one of in or notIn\n"
                            "t.yaml:8:20: spec.retryExitCodes.notin: unknown field, did you "
                            "mean spec.retryExitCodes.notIn?");
        assert_task_invalid(ON_FAILURE "  retryExitCodes: [1]\n",
                            "t.yaml:8:3: spec.retryExitCodes: must be an object");
        assert_task_invalid(ON_FAILURE "  retryExitCodes: {in: 1}\n",
                            "t.yaml:8:20: spec.retryExitCodes.in: must be an array");
        assert_task_invalid(ON_FAILURE "  retryExitCodes: {notIn: []}\n",
                            "t.yaml:8:20: spec.retryExitCodes.notIn: must list at least one exit "
                            "code");
        assert_task_invalid(ON_FAILURE "  retryExitCodes: {in: [-1, 256, 1.5, \"2\", 3, 3]}\n",
                            "t.yaml:8:25: spec.retryExitCodes.in[0]: must be between 0 and 255\n"
                            "t.yaml:8:29: spec.retryExitCodes.in[1]: must be between 0 and 255\n"
                            "t.yaml:8:34: spec.retryExitCodes.in[2]: must be an integer\n"
                            "t.yaml:8:39: spec.retryExitCodes.in[3]: must be an integer\n"
                            "t.yaml:8:47: spec.retryExitCodes.in[5]: duplicate exit code 3 "
                            "(first at spec.retryExitCodes.in[4])");

        /* At most RETRY_EXIT_CODES_MAX. */
        _cleanup_free_ char *many = strdup(ON_FAILURE "  retryExitCodes:\n    notIn: [0");
        assert_non_null(many);
        for (int i = 1; i <= RETRY_EXIT_CODES_MAX; i++) {
                char *next = str_printf("%s, %d", many, i);
                assert_non_null(next);
                free(many);
                many = next;
        }
        _cleanup_free_ char *tail = str_printf("%s]\n", many);
        assert_non_null(tail);
        assert_task_invalid(tail, "t.yaml:9:5: spec.retryExitCodes.notIn: at most 256 exit codes, "
                                  "found 257");
}

/* The retry rules only mean something to OnFailure, and exit codes only to
 * Error. */
static void test_validate_retry_rules_need_on_failure(void **state)
{
        (void)state;
        assert_task_invalid("  retryOn: [Error]\n  retryExitCodes: {in: [1]}\n",
                            "t.yaml:7:3: spec.retryOn: only with restartPolicy: OnFailure\n"
                            "t.yaml:8:3: spec.retryExitCodes: only with restartPolicy: OnFailure");
        assert_task_invalid("  restartPolicy: Never\n  retryOn: [Error]\n",
                            "t.yaml:8:3: spec.retryOn: only with restartPolicy: OnFailure");
        /* A bad restartPolicy is reported once, as itself. */
        assert_task_invalid("  restartPolicy: Always\n  retryOn: [Error]\n",
                            "t.yaml:7:3: spec.restartPolicy: unsupported value \"Always\", must "
                            "be one of: Never, OnFailure");
        assert_task_invalid(ON_FAILURE "  retryOn: [OOMKilled]\n  retryExitCodes: {in: [1]}\n",
                            "t.yaml:9:3: spec.retryExitCodes: needs Error in retryOn: the codes "
                            "are those of attempts that exited non-zero");
        assert_valid_as(TASK_HEAD "  retryOn: null\n", "t.yaml");
}

static void test_validate_shutdown(void **state)
{
        (void)state;
        assert_valid_as(TASK_HEAD "  shutdown: Stop\n", "t.yaml");
        assert_task_invalid("  shutdown: Halt\n",
                            "t.yaml:7:3: spec.shutdown: unsupported value \"Halt\", must be one "
                            "of: Stop");
        assert_task_invalid("  shutdown: true\n", "t.yaml:7:3: spec.shutdown: must be a string");
}

/* Allowed in the templates of the kinds that run Tasks to completion,
 * refused in a Service's, which restarts and stops its replicas itself. */
static void test_retry_and_shutdown_in_templates(void **state)
{
        (void)state;
        assert_valid_as("apiVersion: berth/v1\nkind: Workflow\nmetadata: {name: w}\nspec:\n"
                        "  steps:\n"
                        "    - name: a\n"
                        "      task: {image: b, restartPolicy: OnFailure, retryOn: [Error], "
                        "retryExitCodes: {notIn: [2]}, shutdown: Stop}\n",
                        "w.yaml");
        assert_valid_as("apiVersion: berth/v1\nkind: CronTask\nmetadata: {name: c}\nspec:\n"
                        "  schedule: \"@hourly\"\n"
                        "  taskTemplate:\n"
                        "    spec: {image: b, restartPolicy: OnFailure, retryOn: [Error], "
                        "retryExitCodes: {in: [1]}, shutdown: Stop}\n",
                        "c.yaml");
        assert_invalid_as("apiVersion: berth/v1\nkind: Service\nmetadata: {name: s}\nspec:\n"
                          "  template:\n"
                          "    image: nginx\n"
                          "    retryOn: [Error]\n"
                          "    retryExitCodes: {in: [1]}\n"
                          "    shutdown: Stop\n",
                          "s.yaml",
                          "s.yaml:7:5: spec.template.retryOn: not allowed in a Service template: "
                          "a Service restarts its replicas itself, see spec.restartBackoff\n"
                          "s.yaml:8:5: spec.template.retryExitCodes: not allowed in a Service "
                          "template: a Service restarts its replicas itself, see "
                          "spec.restartBackoff\n"
                          "s.yaml:9:5: spec.template.shutdown: not allowed in a Service "
                          "template: scale the Service to 0 replicas to stop them");
}

static void test_task_spec_decode_retry_rules(void **state)
{
        (void)state;
        struct task_spec s;
        struct berth_error err = {0};

        json_t *o = load_json("{\"spec\":{\"image\":\"x\"}}");
        assert_int_equal(task_spec_decode(o, &s, &err), 0);
        assert_int_equal(s.retry_on, RETRY_ON_DEFAULT);
        assert_int_equal(s.retry_on,
                         RETRY_ON_ERROR | RETRY_ON_OOM_KILLED | RETRY_ON_CONTAINER_LOST);
        assert_int_equal(s.retry_exit_codes_mode, RETRY_EXIT_CODES_ANY);
        assert_null(s.retry_exit_codes);
        assert_int_equal(s.n_retry_exit_codes, 0);
        assert_false(s.shutdown);
        task_spec_release(&s);
        json_decref(o);

        o = load_json("{\"spec\":{\"image\":\"x\",\"restartPolicy\":\"OnFailure\","
                      "\"retryOn\":[\"DeadlineExceeded\",\"Error\"],"
                      "\"retryExitCodes\":{\"notIn\":[2,0,255]},\"shutdown\":\"Stop\"}}");
        assert_int_equal(task_spec_decode(o, &s, &err), 0);
        assert_int_equal(s.retry_on, RETRY_ON_DEADLINE_EXCEEDED | RETRY_ON_ERROR);
        assert_int_equal(s.retry_exit_codes_mode, RETRY_EXIT_CODES_NOT_IN);
        assert_int_equal(s.n_retry_exit_codes, 3);
        assert_int_equal(s.retry_exit_codes[0], 2);
        assert_int_equal(s.retry_exit_codes[1], 0);
        assert_int_equal(s.retry_exit_codes[2], 255);
        assert_true(s.shutdown);
        task_spec_release(&s);
        assert_null(s.retry_exit_codes);
        assert_int_equal(s.n_retry_exit_codes, 0);
        assert_int_equal(s.retry_exit_codes_mode, RETRY_EXIT_CODES_ANY);
        json_decref(o);

        o = load_json("{\"spec\":{\"image\":\"x\",\"restartPolicy\":\"OnFailure\","
                      "\"retryExitCodes\":{\"in\":[7]}}}");
        assert_int_equal(task_spec_decode(o, &s, &err), 0);
        assert_int_equal(s.retry_exit_codes_mode, RETRY_EXIT_CODES_IN);
        assert_int_equal(s.n_retry_exit_codes, 1);
        assert_int_equal(s.retry_exit_codes[0], 7);
        task_spec_release(&s);
        json_decref(o);

        /* A refused spec leaves nothing behind (the sanitizer checks leaks). */
        struct task_spec untouched = {.backoff_limit = 42};
        o = load_json("{\"spec\":{\"image\":\"x\",\"restartPolicy\":\"OnFailure\","
                      "\"retryExitCodes\":{\"in\":[1,1]}}}");
        assert_int_equal(task_spec_decode(o, &untouched, &err), -EINVAL);
        assert_int_equal(untouched.backoff_limit, 42);
        assert_null(untouched.retry_exit_codes);
        json_decref(o);

        assert_int_equal(retry_on_from_string("Error"), RETRY_ON_ERROR);
        assert_int_equal(retry_on_from_string("OOMKilled"), RETRY_ON_OOM_KILLED);
        assert_int_equal(retry_on_from_string("DeadlineExceeded"), RETRY_ON_DEADLINE_EXCEEDED);
        assert_int_equal(retry_on_from_string("ContainerLost"), RETRY_ON_CONTAINER_LOST);
        assert_int_equal(retry_on_from_string("error"), 0);
        assert_int_equal(retry_on_from_string(""), 0);
        assert_int_equal(retry_on_from_string(NULL), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_parse_full_task),
            cmocka_unit_test(test_parse_scalars),
            cmocka_unit_test(test_parse_multi_doc),
            cmocka_unit_test(test_parse_empty),
            cmocka_unit_test(test_parse_errors),
            cmocka_unit_test(test_parse_error_keeps_list),
            cmocka_unit_test(test_parse_depth_limit),
            cmocka_unit_test(test_parse_size_limits),
            cmocka_unit_test(test_parse_directory),
            cmocka_unit_test(test_parse_directory_error),
            cmocka_unit_test(test_parse_files_limit),
            cmocka_unit_test(test_parse_empty_root_key),
            cmocka_unit_test(test_parse_positions_budget),
            cmocka_unit_test(test_parse_stdin),
            cmocka_unit_test(test_validate_file_error),
            cmocka_unit_test(test_validate_envelope),
            cmocka_unit_test(test_validate_server_fields),
            cmocka_unit_test(test_validate_generate_name),
            cmocka_unit_test(test_validate_task_spec),
            cmocka_unit_test(test_validate_depends_on),
            cmocka_unit_test(test_validate_retry_on),
            cmocka_unit_test(test_validate_retry_exit_codes),
            cmocka_unit_test(test_validate_retry_rules_need_on_failure),
            cmocka_unit_test(test_validate_shutdown),
            cmocka_unit_test(test_retry_and_shutdown_in_templates),
            cmocka_unit_test(test_task_spec_decode_retry_rules),
            cmocka_unit_test(test_validate_image),
            cmocka_unit_test(test_validate_env),
            cmocka_unit_test(test_validate_volumes),
            cmocka_unit_test(test_validate_resources),
            cmocka_unit_test(test_validate_no_positions),
            cmocka_unit_test(test_field_errors),
            cmocka_unit_test(test_list_release_empty),
            cmocka_unit_test(test_defaults),
            cmocka_unit_test(test_round_trip_fixtures),
            cmocka_unit_test(test_round_trip_values),
            cmocka_unit_test(test_to_yaml_format),
            cmocka_unit_test(test_kinds),
            cmocka_unit_test(test_object_key),
            cmocka_unit_test(test_object_data_key),
            cmocka_unit_test(test_task_spec_decode),
            cmocka_unit_test(test_object_stamp_new),
            cmocka_unit_test(test_name_is_valid),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
