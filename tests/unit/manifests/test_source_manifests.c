/* Unit tests of the Source kind in the manifests module: every rule of the
 * reference (docs/reference/source.md) rejects its bad input with file, line
 * and field; defaults; the typed spec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "manifest-test.h"

#define HEAD                                                                                       \
        "apiVersion: berth/v1\n"                                                                   \
        "kind: Source\n"                                                                           \
        "metadata:\n"                                                                              \
        "  name: site\n"                                                                           \
        "  namespace: ops\n"                                                                       \
        "spec:\n"

/* The path at line 7. */
#define PATH "  path: /srv/manifests/site\n"

/* Every field, everything set to something other than its default. */
#define FULL                                                                                       \
        HEAD PATH "  recursive: false\n"                                                           \
                  "  include: [\"*.yaml\", \"apps/**/[a-z]*.json\"]\n"                             \
                  "  exclude: []\n"                                                                \
                  "  targetNamespace: team-a\n"                                                    \
                  "  allowedNamespaces: [team-b, team-c]\n"                                        \
                  "  prune: false\n"                                                               \
                  "  maxPruneFraction: 1\n"                                                        \
                  "  debounceMilliseconds: 0\n"                                                    \
                  "  suspend: true\n"                                                              \
                  "  rescanSeconds: 86400\n"

/* spec_tail starts at line 7. */
static void assert_spec_invalid(const char *spec_tail, const char *expected)
{
        _cleanup_free_ char *yaml = str_printf(HEAD "%s", spec_tail);

        assert_non_null(yaml);
        assert_invalid_as(yaml, "src.yaml", expected);
}

static void assert_spec_valid(const char *spec_tail)
{
        _cleanup_free_ char *yaml = str_printf(HEAD "%s", spec_tail);

        assert_non_null(yaml);
        assert_valid_as(yaml, "src.yaml");
}

/* Parses, validates and defaults yaml into list; its object. */
static json_t *defaulted(const char *yaml, struct manifest_list *list)
{
        _cleanup_(field_errors_release) struct field_errors errs = {};

        parse_ok_as(yaml, "src.yaml", list);
        assert_int_equal(manifest_validate(list->docs[0].object, NULL, &errs), 0);
        manifest_apply_defaults(list->docs[0].object);
        return list->docs[0].object;
}

/* "a, b": the strings of a JSON array, for comparing. Caller frees. */
static char *joined(const json_t *arr)
{
        _cleanup_buf_ struct buf b = {0};
        size_t i;
        json_t *v;

        assert_true(json_is_array(arr));
        buf_init(&b, 4096);
        json_array_foreach(arr, i, v)
        {
                assert_true(json_is_string(v));
                assert_int_equal(buf_printf(&b, "%s%s", i ? ", " : "", json_string_value(v)), 0);
        }
        return buf_steal(&b);
}

/* ---- the kind ------------------------------------------------------------ */

static void test_kind(void **state)
{
        static const char *const names[] = {"Source", "source", "sources", "src", "SRC"};
        const struct kind_info *k;

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
                k = kind_lookup(names[i]);
                assert_non_null(k);
                assert_string_equal(k->kind, "Source");
        }
        k = kind_by_name("Source");
        assert_non_null(k);
        assert_string_equal(k->resource, "sources");
        assert_string_equal(k->singular, "source");
        assert_string_equal(k->short_name, "src");
        assert_true(k->namespaced);
        assert_false(k->runs_to_completion);
        assert_null(k->finalizer); /* deleting a Source leaves what it applied */
        assert_null(k->subresources);
        assert_null(k->children_label);

        static const struct {
                const char *title, *path;
                enum column_format format;
        } columns[] = {
            {"PATH", "spec.path", COLUMN_TEXT},
            {"REVISION", "status.revision", COLUMN_SHORT_ID},
            {"OBJECTS", "status.objectCount", COLUMN_COUNT},
            {"READY", "status.conditions", COLUMN_CONDITION},
            {"AGE", "metadata.creationTimestamp", COLUMN_AGE},
        };
        for (size_t i = 0; i < ARRAY_SIZE(columns); i++) {
                assert_string_equal(k->columns[i].title, columns[i].title);
                assert_string_equal(k->columns[i].path, columns[i].path);
                assert_int_equal(k->columns[i].format, columns[i].format);
                assert_false(k->columns[i].wide);
        }
        assert_string_equal(k->columns[3].condition, "Ready");
        assert_string_equal(k->columns[3].fallback, "Unknown");
        assert_null(k->columns[ARRAY_SIZE(columns)].title);

        /* The marks others rely on. */
        assert_string_equal(SOURCE_LABEL, "berth.source");
        assert_string_equal(SOURCE_ANNOTATION, "berth/source");
        assert_string_equal(SOURCE_ANNOTATION_PATH, "berth/source-path");
        assert_string_equal(SOURCE_ANNOTATION_REVISION, "berth/source-revision");
        assert_string_equal(SOURCE_ANNOTATION_PRUNE, "berth.prune");
        assert_string_equal(SOURCE_PRUNE_DISABLED, "disabled");
        assert_string_equal(SOURCE_ANNOTATION_SYNC, "berth/sync-requested");
        assert_string_equal(SOURCE_ANNOTATION_FORCE_PRUNE, "berth/force-prune");
}

/* ---- valid specs, defaults, decoding -------------------------------------- */

static void test_valid(void **state)
{
        (void)state;
        assert_spec_valid(PATH);
        assert_valid_as(FULL, "src.yaml");
        assert_spec_valid("  path: /\n");
        assert_spec_valid("  path: /a\n");
        assert_spec_valid("  path: /srv/.config/x..y/...\n"); /* dots inside names are fine */
        assert_spec_valid(PATH "  maxPruneFraction: 0\n  debounceMilliseconds: 60000\n"
                               "  rescanSeconds: 10\n");
        assert_spec_valid(PATH "  maxPruneFraction: 0.25\n");
        assert_spec_valid(PATH "  include: [\"[]]x\", \"[!]]y\", \"a\\\\[b\", \"[a-z][!0-9]\"]\n");
        assert_spec_valid(PATH "  include: null\n  exclude: null\n");
        assert_spec_valid(PATH "  allowedNamespaces: []\n");
        {
                /* 32 patterns of 256 characters. */
                _cleanup_buf_ struct buf b = {0};

                buf_init(&b, 64 * 1024);
                assert_int_equal(buf_append_str(&b, PATH "  exclude:\n"), 0);
                for (int i = 0; i < SOURCE_PATTERNS_MAX; i++)
                        assert_int_equal(buf_printf(&b, "    - \"%0256d\"\n", i), 0);
                assert_spec_valid(b.data);
        }
}

static void test_defaults(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        _cleanup_json_ json_t *again = NULL;
        _cleanup_free_ char *include = NULL, *exclude = NULL;
        json_t *o;

        (void)state;
        o = defaulted(HEAD PATH, &list);
        assert_string_equal(json_path_string(o, "metadata.namespace"), "ops");
        assert_true(json_is_true(json_path(o, "spec.recursive")));
        include = joined(json_path(o, "spec.include"));
        assert_string_equal(include, "*.yaml, *.yml, *.json");
        exclude = joined(json_path(o, "spec.exclude"));
        assert_string_equal(exclude, ".git/**, **/.*");
        assert_null(json_path(o, "spec.targetNamespace"));
        assert_true(json_is_array(json_path(o, "spec.allowedNamespaces")));
        assert_int_equal(json_array_size(json_path(o, "spec.allowedNamespaces")), 0);
        assert_true(json_is_true(json_path(o, "spec.prune")));
        assert_true(json_real_value(json_path(o, "spec.maxPruneFraction")) == 0.5);
        assert_int_equal(json_path_int(o, "spec.debounceMilliseconds", -1), 300);
        assert_true(json_is_false(json_path(o, "spec.suspend")));
        assert_int_equal(json_path_int(o, "spec.rescanSeconds", -1), 600);
        assert_int_equal(json_object_size(json_path(o, "spec")), 10);

        /* Idempotent, and still valid. */
        again = json_deep_copy(o);
        assert_non_null(again);
        manifest_apply_defaults(again);
        assert_true(json_equal(o, again));
        {
                _cleanup_(field_errors_release) struct field_errors errs = {};

                assert_int_equal(manifest_validate(again, NULL, &errs), 0);
        }

        /* Given values are kept. */
        {
                _cleanup_(manifest_list_release) struct manifest_list l2 = {};
                _cleanup_free_ char *inc = NULL;

                o = defaulted(FULL, &l2);
                assert_true(json_is_false(json_path(o, "spec.recursive")));
                inc = joined(json_path(o, "spec.include"));
                assert_string_equal(inc, "*.yaml, apps/**/[a-z]*.json");
                assert_int_equal(json_array_size(json_path(o, "spec.exclude")), 0);
                assert_string_equal(json_path_string(o, "spec.targetNamespace"), "team-a");
                assert_true(json_is_false(json_path(o, "spec.prune")));
                assert_int_equal(json_path_int(o, "spec.maxPruneFraction", -1), 1);
                assert_int_equal(json_path_int(o, "spec.debounceMilliseconds", -1), 0);
                assert_true(json_is_true(json_path(o, "spec.suspend")));
                assert_int_equal(json_path_int(o, "spec.rescanSeconds", -1), 86400);
        }
}

static void test_decode_minimal(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        struct berth_error err = {0};
        struct source_spec s;
        json_t *o;

        (void)state;
        parse_ok_as(HEAD PATH, "src.yaml", &list);
        o = list.docs[0].object;
        /* Before and after the defaults, the same spec. */
        for (int pass = 0; pass < 2; pass++) {
                memset(&s, 0xff, sizeof(s));
                assert_int_equal(source_spec_decode(o, &s, &err), 0);
                assert_string_equal(s.path, "/srv/manifests/site");
                assert_ptr_equal(s.path, json_path_string(o, "spec.path")); /* borrowed */
                assert_true(s.recursive);
                assert_int_equal(s.n_include, 3);
                assert_string_equal(s.include[0], "*.yaml");
                assert_string_equal(s.include[1], "*.yml");
                assert_string_equal(s.include[2], "*.json");
                assert_int_equal(s.n_exclude, 2);
                assert_string_equal(s.exclude[0], ".git/**");
                assert_string_equal(s.exclude[1], "**/.*");
                assert_string_equal(s.target_namespace, "ops"); /* the Source's own */
                assert_int_equal(s.n_allowed_namespaces, 0);
                assert_true(s.prune);
                assert_true(s.max_prune_fraction == 0.5);
                assert_int_equal(s.debounce_ms, 300);
                assert_false(s.suspend);
                assert_int_equal(s.rescan_ms, 600000);
                manifest_apply_defaults(o);
        }

        /* Without a namespace: "default", as the defaults will make it. */
        {
                _cleanup_(manifest_list_release) struct manifest_list l2 = {};

                parse_ok_as("apiVersion: berth/v1\nkind: Source\nmetadata: {name: x}\n"
                            "spec: {path: /x}\n",
                            "src.yaml", &l2);
                assert_int_equal(source_spec_decode(l2.docs[0].object, &s, NULL), 0);
                assert_string_equal(s.target_namespace, "default");
        }
}

static void test_decode_full(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        struct berth_error err = {0};
        struct source_spec s;

        (void)state;
        assert_int_equal(source_spec_decode(defaulted(FULL, &list), &s, &err), 0);
        assert_false(s.recursive);
        assert_int_equal(s.n_include, 2);
        assert_string_equal(s.include[0], "*.yaml");
        assert_string_equal(s.include[1], "apps/**/[a-z]*.json");
        assert_int_equal(s.n_exclude, 0);
        assert_string_equal(s.target_namespace, "team-a");
        assert_int_equal(s.n_allowed_namespaces, 2);
        assert_string_equal(s.allowed_namespaces[0], "team-b");
        assert_string_equal(s.allowed_namespaces[1], "team-c");
        assert_false(s.prune);
        assert_true(s.max_prune_fraction == 1.0);
        assert_int_equal(s.debounce_ms, 0);
        assert_true(s.suspend);
        assert_int_equal(s.rescan_ms, 86400000);
}

static void test_decode_errors(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        struct berth_error err = {0};
        struct source_spec s = {.path = "untouched"};

        (void)state;
        parse_ok_as(HEAD "  path: srv\n  rescanSeconds: 5\n", "src.yaml", &list);
        assert_int_equal(source_spec_decode(list.docs[0].object, &s, &err), -EINVAL);
        assert_string_equal(err.message, "spec.path: invalid path \"srv\": must be absolute "
                                         "(start with /) (and 1 more)");
        assert_string_equal(s.path, "untouched");

        json_object_del(list.docs[0].object, "spec");
        assert_int_equal(source_spec_decode(list.docs[0].object, &s, &err), -EINVAL);
        assert_string_equal(err.message, "spec: required");
}

/* ---- rules ------------------------------------------------------------------ */

static void test_fields(void **state)
{
        (void)state;
        assert_invalid_as("apiVersion: berth/v1\nkind: Source\nmetadata: {name: x}\n", "src.yaml",
                          "src.yaml:1:1: spec: required");
        assert_spec_invalid("  recursive: true\n", "src.yaml:6:1: spec.path: required");
        assert_spec_invalid(PATH "  suspended: true\n",
                            "src.yaml:8:3: spec.suspended: unknown field, did you mean "
                            "spec.suspend?");
        assert_spec_invalid(PATH "  recursive: yes\n",
                            "src.yaml:8:3: spec.recursive: must be a boolean (true or false)");
        assert_spec_invalid(PATH "  prune: 1\n",
                            "src.yaml:8:3: spec.prune: must be a boolean (true or false)");
        assert_spec_invalid(PATH "  suspend: \"true\"\n",
                            "src.yaml:8:3: spec.suspend: must be a boolean (true or false)");
        assert_spec_invalid(PATH "  maxPruneFraction: 1.5\n",
                            "src.yaml:8:3: spec.maxPruneFraction: must be between 0 and 1");
        assert_spec_invalid(PATH "  maxPruneFraction: -0.1\n",
                            "src.yaml:8:3: spec.maxPruneFraction: must be between 0 and 1");
        assert_spec_invalid(PATH "  maxPruneFraction: half\n",
                            "src.yaml:8:3: spec.maxPruneFraction: must be a number");
        assert_spec_invalid(PATH "  debounceMilliseconds: 60001\n",
                            "src.yaml:8:3: spec.debounceMilliseconds: must be between 0 and 60000");
        assert_spec_invalid(PATH "  debounceMilliseconds: -1\n",
                            "src.yaml:8:3: spec.debounceMilliseconds: must be between 0 and 60000");
        assert_spec_invalid(PATH "  rescanSeconds: 9\n",
                            "src.yaml:8:3: spec.rescanSeconds: must be between 10 and 86400");
        assert_spec_invalid(PATH "  rescanSeconds: 86401\n",
                            "src.yaml:8:3: spec.rescanSeconds: must be between 10 and 86400");
        assert_spec_invalid(PATH "  rescanSeconds: 1.5\n",
                            "src.yaml:8:3: spec.rescanSeconds: must be an integer");
        /* Every problem at once, in document order. */
        assert_spec_invalid("  path: x/\n  prune: no\n  rescanSeconds: 0\n",
                            "src.yaml:7:3: spec.path: invalid path \"x/\": must be absolute "
                            "(start with /)\n"
                            "src.yaml:8:3: spec.prune: must be a boolean (true or false)\n"
                            "src.yaml:9:3: spec.rescanSeconds: must be between 10 and 86400");
}

static void test_path(void **state)
{
        (void)state;
        assert_spec_invalid("  path: srv/manifests\n",
                            "src.yaml:7:3: spec.path: invalid path \"srv/manifests\": must be "
                            "absolute (start with /)");
        assert_spec_invalid("  path: ./srv\n", "src.yaml:7:3: spec.path: invalid path \"./srv\": "
                                               "must be absolute (start with /)");
        assert_spec_invalid("  path: /srv/../etc\n",
                            "src.yaml:7:3: spec.path: invalid path \"/srv/../etc\": must not "
                            "contain \"..\" segments");
        assert_spec_invalid("  path: /srv/..\n", "src.yaml:7:3: spec.path: invalid path "
                                                 "\"/srv/..\": must not contain \"..\" segments");
        assert_spec_invalid("  path: /srv/./x\n", "src.yaml:7:3: spec.path: invalid path "
                                                  "\"/srv/./x\": must not contain \".\" segments");
        assert_spec_invalid("  path: /srv//x\n", "src.yaml:7:3: spec.path: invalid path "
                                                 "\"/srv//x\": must not contain \"//\"");
        assert_spec_invalid("  path: //srv\n", "src.yaml:7:3: spec.path: invalid path \"//srv\": "
                                               "must not contain \"//\"");
        assert_spec_invalid("  path: /srv/x/\n", "src.yaml:7:3: spec.path: invalid path "
                                                 "\"/srv/x/\": must not end with /");
        assert_spec_invalid("  path: \"/srv/a\\tb\"\n",
                            "src.yaml:7:3: spec.path: invalid path \"/srv/a\tb\": must not "
                            "contain control characters");
        assert_spec_invalid("  path: \"\"\n", "src.yaml:7:3: spec.path: must not be empty");
        assert_spec_invalid("  path: 42\n", "src.yaml:7:3: spec.path: must be a string");
        assert_spec_invalid("  path: null\n", "src.yaml:7:3: spec.path: required");
        {
                _cleanup_free_ char *yaml = NULL, *expected = NULL;
                char long_path[SOURCE_PATH_MAX + 2];

                long_path[0] = '/';
                memset(long_path + 1, 'a', SOURCE_PATH_MAX);
                long_path[SOURCE_PATH_MAX + 1] = '\0';
                yaml = str_printf("  path: %s\n", long_path);
                assert_spec_invalid(yaml,
                                    "src.yaml:7:3: spec.path: must be at most 4095 characters, "
                                    "has 4096");
                free(yaml);
                long_path[SOURCE_PATH_MAX] = '\0';
                yaml = str_printf("  path: %s\n", long_path);
                assert_spec_valid(yaml);
        }
}

static void test_patterns(void **state)
{
        (void)state;
        assert_spec_invalid(PATH "  include: \"*.yaml\"\n",
                            "src.yaml:8:3: spec.include: must be an array");
        assert_spec_invalid(PATH "  include: [\"*.yaml\", 7]\n",
                            "src.yaml:8:23: spec.include[1]: must be a string");
        assert_spec_invalid(PATH "  include: []\n",
                            "src.yaml:8:3: spec.include: must not be empty: no file would be read");
        assert_spec_invalid(PATH "  exclude: [\"\"]\n",
                            "src.yaml:8:13: spec.exclude[0]: must not be empty");
        assert_spec_invalid(PATH "  include: [\"*.yaml\", \"[a-z*.json\"]\n",
                            "src.yaml:8:23: spec.include[1]: invalid pattern \"[a-z*.json\": the "
                            "\"[\" at character 1 is not closed by \"]\"");
        assert_spec_invalid(PATH "  exclude: [\"a[]\", \"b[!]\", \"c\\\\[d[\"]\n",
                            "src.yaml:8:13: spec.exclude[0]: invalid pattern \"a[]\": the \"[\" "
                            "at character 2 is not closed by \"]\"\n"
                            "src.yaml:8:20: spec.exclude[1]: invalid pattern \"b[!]\": the \"[\" "
                            "at character 2 is not closed by \"]\"\n"
                            "src.yaml:8:28: spec.exclude[2]: invalid pattern \"c\\[d[\": the "
                            "\"[\" at character 5 is not closed by \"]\"");
        {
                _cleanup_buf_ struct buf b = {0};

                buf_init(&b, 64 * 1024);
                assert_int_equal(buf_printf(&b, PATH "  include: [x, \"%0257d\"]\n", 1), 0);
                assert_spec_invalid(b.data, "src.yaml:8:16: spec.include[1]: must be at most 256 "
                                            "characters, has 257");
        }
        {
                _cleanup_buf_ struct buf b = {0};

                buf_init(&b, 64 * 1024);
                assert_int_equal(buf_append_str(&b, PATH "  exclude:\n"), 0);
                for (int i = 0; i <= SOURCE_PATTERNS_MAX; i++)
                        assert_int_equal(buf_printf(&b, "    - p%d\n", i), 0);
                assert_spec_invalid(b.data,
                                    "src.yaml:8:3: spec.exclude: must have at most 32 entries, "
                                    "has 33");
        }
}

static void test_namespaces(void **state)
{
        (void)state;
        assert_spec_invalid(PATH "  targetNamespace: Team_A\n",
                            "src.yaml:8:3: spec.targetNamespace: invalid name \"Team_A\": must be "
                            "a DNS-1123 label: at most 63 lowercase letters, digits or '-', "
                            "starting and ending with a letter or digit");
        assert_spec_invalid(PATH "  targetNamespace: 7\n",
                            "src.yaml:8:3: spec.targetNamespace: must be a string");
        assert_spec_invalid(PATH "  allowedNamespaces: [team-b, -x]\n",
                            "src.yaml:8:31: spec.allowedNamespaces[1]: invalid name \"-x\": must "
                            "be a DNS-1123 label: at most 63 lowercase letters, digits or '-', "
                            "starting and ending with a letter or digit");
        assert_spec_invalid(PATH "  allowedNamespaces: team-b\n",
                            "src.yaml:8:3: spec.allowedNamespaces: must be an array");
        {
                _cleanup_buf_ struct buf b = {0};

                buf_init(&b, 64 * 1024);
                assert_int_equal(buf_append_str(&b, PATH "  allowedNamespaces:\n"), 0);
                for (int i = 0; i <= SOURCE_NAMESPACES_MAX; i++)
                        assert_int_equal(buf_printf(&b, "    - ns-%d\n", i), 0);
                assert_spec_invalid(b.data, "src.yaml:8:3: spec.allowedNamespaces: must have at "
                                            "most 64 entries, has 65");
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_kind),        cmocka_unit_test(test_valid),
            cmocka_unit_test(test_defaults),    cmocka_unit_test(test_decode_minimal),
            cmocka_unit_test(test_decode_full), cmocka_unit_test(test_decode_errors),
            cmocka_unit_test(test_fields),      cmocka_unit_test(test_path),
            cmocka_unit_test(test_patterns),    cmocka_unit_test(test_namespaces),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
