/* Unit tests of the RBAC kinds (Role, ClusterRole, RoleBinding,
 * ClusterRoleBinding) and the Token kind in the manifests module: the
 * registry entries, valid objects and their typed specs, defaults (and no
 * namespace for the cluster-scoped ones), and every rule of the reference
 * (docs/reference/rbac.md) rejecting its bad input with file, line and
 * field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "manifest-test.h"

#define NAME_RULE_TEXT                                                                             \
        "must be a DNS-1123 label: at most 63 lowercase letters, digits or '-', starting and "     \
        "ending with a letter or digit"

/* The rules start at line 8. */
#define ROLE_HEAD                                                                                  \
        "apiVersion: berth/v1\n"                                                                   \
        "kind: Role\n"                                                                             \
        "metadata:\n"                                                                              \
        "  name: dev-editor\n"                                                                     \
        "  namespace: dev\n"                                                                       \
        "spec:\n"                                                                                  \
        "  rules:\n"

/* The spec's fields start at line 5. */
#define CLUSTER_ROLE_HEAD                                                                          \
        "apiVersion: berth/v1\n"                                                                   \
        "kind: ClusterRole\n"                                                                      \
        "metadata: {name: reader}\n"                                                               \
        "spec:\n"

/* The spec's fields start at line 7. */
#define BINDING_HEAD                                                                               \
        "apiVersion: berth/v1\n"                                                                   \
        "kind: RoleBinding\n"                                                                      \
        "metadata:\n"                                                                              \
        "  name: alice-edit\n"                                                                     \
        "  namespace: dev\n"                                                                       \
        "spec:\n"

/* The spec's fields start at line 5. */
#define CLUSTER_BINDING_HEAD                                                                       \
        "apiVersion: berth/v1\n"                                                                   \
        "kind: ClusterRoleBinding\n"                                                               \
        "metadata: {name: ops}\n"                                                                  \
        "spec:\n"

/* The spec's fields start at line 5. */
#define TOKEN_HEAD                                                                                 \
        "apiVersion: berth/v1\n"                                                                   \
        "kind: Token\n"                                                                            \
        "metadata: {name: ci}\n"                                                                   \
        "spec:\n"

#define HASH    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define SUBJECT "  subjects: [{kind: User, name: alice}]\n"
#define REF     "  roleRef: {kind: ClusterRole, name: edit}\n"

static void assert_yaml_invalid(const char *head, const char *tail, const char *expected)
{
        _cleanup_free_ char *yaml = str_printf("%s%s", head, tail);

        assert_non_null(yaml);
        assert_invalid_as(yaml, "rbac.yaml", expected);
}

static void assert_yaml_valid(const char *head, const char *tail)
{
        _cleanup_free_ char *yaml = str_printf("%s%s", head, tail);

        assert_non_null(yaml);
        assert_valid_as(yaml, "rbac.yaml");
}

/* Parses, validates and defaults yaml into list; its object. */
static json_t *defaulted(const char *yaml, struct manifest_list *list)
{
        _cleanup_(field_errors_release) struct field_errors errs = {};

        parse_ok_as(yaml, "rbac.yaml", list);
        assert_int_equal(manifest_validate(list->docs[0].object, NULL, &errs), 0);
        manifest_apply_defaults(list->docs[0].object);
        return list->docs[0].object;
}

/* ---- the kinds -------------------------------------------------------------- */

static void test_kinds(void **state)
{
        static const struct {
                const char *kind, *resource, *singular;
                bool namespaced;
                const char *columns[5]; /* titles, NULL-terminated */
        } expected[] = {
            {"Role", "roles", "role", true, {"RULES", "AGE", NULL}},
            {"ClusterRole", "clusterroles", "clusterrole", false, {"RULES", "AGE", NULL}},
            {"RoleBinding",
             "rolebindings",
             "rolebinding",
             true,
             {"ROLE-KIND", "ROLE", "SUBJECTS", "AGE", NULL}},
            {"ClusterRoleBinding",
             "clusterrolebindings",
             "clusterrolebinding",
             false,
             {"ROLE", "SUBJECTS", "AGE", NULL}},
            {"Token", "tokens", "token", false, {"USER", "GROUPS", "EXPIRES", "REVOKED", "AGE"}},
        };

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(expected); i++) {
                const struct kind_info *k = kind_by_name(expected[i].kind);
                size_t n = 0;

                assert_non_null(k);
                assert_ptr_equal(kind_lookup(expected[i].resource), k);
                assert_ptr_equal(kind_lookup(expected[i].singular), k);
                assert_string_equal(k->resource, expected[i].resource);
                assert_string_equal(k->singular, expected[i].singular);
                assert_null(k->short_name);
                assert_int_equal(k->namespaced, expected[i].namespaced);
                assert_null(k->finalizer);
                assert_false(k->runs_to_completion);
                assert_null(k->subresources);
                assert_non_null(k->check_spec);
                assert_non_null(k->default_spec);
                for (; n < ARRAY_SIZE(expected[i].columns) && expected[i].columns[n]; n++) {
                        assert_non_null(k->columns[n].title);
                        assert_string_equal(k->columns[n].title, expected[i].columns[n]);
                        assert_false(k->columns[n].wide);
                }
                if (n < ARRAY_SIZE(expected[i].columns))
                        assert_null(k->columns[n].title);
        }
        /* Counts, not the arrays themselves. */
        assert_int_equal(kind_by_name("Role")->columns[0].format, COLUMN_LENGTH);
        assert_int_equal(kind_by_name("RoleBinding")->columns[2].format, COLUMN_LENGTH);
        /* A Token without an expiry never expires; the description only with -o wide. */
        const struct kind_info *token = kind_by_name("Token");
        assert_int_equal(token->columns[2].format, COLUMN_UNTIL);
        assert_string_equal(token->columns[2].fallback, "never");
        assert_string_equal(token->columns[5].title, "DESCRIPTION");
        assert_true(token->columns[5].wide);
        assert_null(token->columns[6].title);
}

static void test_verbs_and_names(void **state)
{
        static const char *const verbs[] = {"get",    "list",   "watch", "create",
                                            "update", "delete", "logs",  "trigger"};
        const char *const *all = role_verbs();

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
                assert_string_equal(all[i], verbs[i]);
                assert_string_equal(role_verb_to_string((enum role_verb)i), verbs[i]);
                assert_int_equal(role_verb_from_string(verbs[i]), (int)i);
        }
        assert_null(all[ARRAY_SIZE(verbs)]);
        assert_int_equal(ROLE_VERB_COUNT, ARRAY_SIZE(verbs));
        assert_int_equal(ROLE_VERBS_ALL, 0xff);
        assert_null(role_verb_to_string(ROLE_VERB_COUNT));
        assert_int_equal(role_verb_from_string("*"), -EINVAL);
        assert_int_equal(role_verb_from_string("GET"), -EINVAL);
        assert_int_equal(role_verb_from_string(NULL), -EINVAL);
        assert_string_equal(role_ref_kind_to_string(ROLE_REF_CLUSTER_ROLE), "ClusterRole");
        assert_string_equal(subject_kind_to_string(SUBJECT_GROUP), "Group");
        assert_null(subject_kind_to_string((enum subject_kind)2));

        assert_true(subject_name_is_valid("alice"));
        assert_true(subject_name_is_valid("system:admins"));
        assert_true(subject_name_is_valid("Alice Smith <alice@example.com>"));
        assert_true(subject_name_is_valid("J\xc3\xbcrgen")); /* Jürgen */
        assert_false(subject_name_is_valid(NULL));
        assert_false(subject_name_is_valid(""));
        assert_false(subject_name_is_valid("a\tb"));
        assert_false(subject_name_is_valid("a\x7f"));
        assert_false(subject_name_is_valid("a\xc2\x85")); /* NEL, a C1 control */
        assert_false(subject_name_is_valid("\xff"));
        {
                char name[RBAC_SUBJECT_NAME_MAX + 2];

                memset(name, 'a', sizeof(name) - 1);
                name[sizeof(name) - 1] = '\0';
                assert_false(subject_name_is_valid(name));
                name[RBAC_SUBJECT_NAME_MAX] = '\0';
                assert_true(subject_name_is_valid(name));
        }
        {
                /* Characters, not bytes: 127 two-byte ones fit. */
                char name[2 * RBAC_SUBJECT_NAME_MAX + 1];

                for (size_t i = 0; i < RBAC_SUBJECT_NAME_MAX; i++)
                        memcpy(name + 2 * i, "\xc3\xa9", 2);
                name[2 * RBAC_SUBJECT_NAME_MAX] = '\0';
                assert_true(subject_name_is_valid(name));
        }
}

/* ---- valid objects ---------------------------------------------------------- */

static void test_role_decode(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        _cleanup_(role_spec_release) struct role_spec s = {0};
        struct berth_error err = {0};
        json_t *o;

        (void)state;
        o = defaulted(ROLE_HEAD "    - verbs: [get, list, watch]\n"
                                "      resources: [tasks, workflows]\n"
                                "    - verbs: [\"*\"]\n"
                                "      resources: [services]\n"
                                "      resourceNames: [web, api]\n"
                                "    - verbs: [delete, logs, trigger]\n"
                                "      resources: [\"*\"]\n"
                                "      resourceNames: []\n",
                      &list);
        assert_int_equal(role_spec_decode(o, &s, &err), 0);
        assert_int_equal(s.n_rules, 3);
        assert_int_equal(s.rules[0].verbs,
                         (1u << ROLE_VERB_GET) | (1u << ROLE_VERB_LIST) | (1u << ROLE_VERB_WATCH));
        assert_int_equal(s.rules[0].n_resources, 2);
        assert_string_equal(s.rules[0].resources[0], "tasks");
        assert_string_equal(s.rules[0].resources[1], "workflows");
        assert_int_equal(s.rules[0].n_resource_names, 0);
        assert_int_equal(s.rules[1].verbs, ROLE_VERBS_ALL);
        assert_int_equal(s.rules[1].n_resource_names, 2);
        assert_string_equal(s.rules[1].resource_names[1], "api");
        /* Borrowed from the object. */
        assert_ptr_equal(
            s.rules[1].resource_names[0],
            json_string_value(json_array_get(
                json_object_get(json_array_get(json_path(o, "spec.rules"), 1), "resourceNames"),
                0)));
        assert_int_equal(s.rules[2].verbs, (1u << ROLE_VERB_DELETE) | (1u << ROLE_VERB_LOGS) |
                                               (1u << ROLE_VERB_TRIGGER));
        assert_string_equal(s.rules[2].resources[0], "*");
        assert_int_equal(s.rules[2].n_resource_names, 0); /* empty: every object */

        /* Every kind's resource is a resource, the new ones too. */
        for (const struct kind_info *const *k = kind_all(); *k; k++) {
                _cleanup_(manifest_list_release) struct manifest_list l2 = {};
                _cleanup_(role_spec_release) struct role_spec s2 = {0};
                _cleanup_free_ char *yaml =
                    str_printf(CLUSTER_ROLE_HEAD "  rules: [{verbs: [get], resources: [%s]}]\n",
                               (*k)->resource);

                parse_ok_as(yaml, "rbac.yaml", &l2);
                assert_int_equal(role_spec_decode(l2.docs[0].object, &s2, &err), 0);
                assert_string_equal(s2.rules[0].resources[0], (*k)->resource);
        }
}

static void test_role_defaults(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {}, l2 = {};
        _cleanup_(role_spec_release) struct role_spec s = {.n_rules = 99};
        struct berth_error err = {0};
        json_t *o;

        (void)state;
        /* No rules: a role that grants nothing. */
        parse_ok_as(CLUSTER_ROLE_HEAD "  {}\n", "rbac.yaml", &list);
        o = list.docs[0].object;
        assert_int_equal(role_spec_decode(o, &s, &err), 0);
        assert_int_equal(s.n_rules, 0);
        assert_null(s.rules);
        o = defaulted(CLUSTER_ROLE_HEAD "  {}\n", &l2);
        assert_true(json_is_array(json_path(o, "spec.rules")));
        assert_int_equal(json_array_size(json_path(o, "spec.rules")), 0);
        /* Cluster-scoped: the defaults give it no namespace. */
        assert_null(json_path(o, "metadata.namespace"));
}

static void test_binding_decode(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {}, l2 = {};
        struct rolebinding_spec s;
        struct berth_error err = {0};
        json_t *o;

        (void)state;
        o = defaulted(BINDING_HEAD "  roleRef: {kind: Role, name: dev-editor}\n"
                                   "  subjects:\n"
                                   "    - {kind: User, name: alice@example.com}\n"
                                   "    - {kind: Group, name: \"system:devs\"}\n"
                                   "    - {kind: Group, name: alice@example.com}\n",
                      &list);
        assert_int_equal(rolebinding_spec_decode(o, &s, &err), 0);
        assert_int_equal(s.role_kind, ROLE_REF_ROLE);
        assert_string_equal(s.role_name, "dev-editor");
        assert_int_equal(s.n_subjects, 3);
        assert_int_equal(s.subjects[0].kind, SUBJECT_USER);
        assert_string_equal(s.subjects[0].name, "alice@example.com");
        assert_int_equal(s.subjects[1].kind, SUBJECT_GROUP);
        assert_string_equal(s.subjects[1].name, "system:devs");
        assert_int_equal(s.subjects[2].kind, SUBJECT_GROUP);
        assert_string_equal(json_path_string(o, "metadata.namespace"), "dev");
        /* Nothing to default. */
        assert_int_equal(json_object_size(json_path(o, "spec")), 2);

        o = defaulted(CLUSTER_BINDING_HEAD REF SUBJECT, &l2);
        assert_int_equal(rolebinding_spec_decode(o, &s, &err), 0);
        assert_int_equal(s.role_kind, ROLE_REF_CLUSTER_ROLE);
        assert_string_equal(s.role_name, "edit");
        assert_int_equal(s.n_subjects, 1);
        assert_null(json_path(o, "metadata.namespace"));

        /* 64 subjects. */
        {
                _cleanup_buf_ struct buf b = {0};

                buf_init(&b, 64 * 1024);
                assert_int_equal(buf_append_str(&b, REF "  subjects:\n"), 0);
                for (int i = 0; i < RBAC_SUBJECTS_MAX; i++)
                        assert_int_equal(buf_printf(&b, "    - {kind: User, name: u%d}\n", i), 0);
                assert_yaml_valid(CLUSTER_BINDING_HEAD, b.data);
        }
}

static void test_token_decode(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {}, l2 = {};
        struct token_spec s;
        struct berth_error err = {0};
        json_t *o;

        (void)state;
        o = defaulted(TOKEN_HEAD "  user: ci-bot\n"
                                 "  groups: [ci, \"system:builders\"]\n"
                                 "  expirationTimestamp: \"2027-01-01T00:00:00Z\"\n"
                                 "  secretHash: " HASH "\n"
                                 "  revoked: true\n"
                                 "  description: the CI pipeline's deploy token\n",
                      &list);
        assert_int_equal(token_spec_decode(o, &s, &err), 0);
        assert_string_equal(s.user, "ci-bot");
        assert_int_equal(s.n_groups, 2);
        assert_string_equal(s.groups[0], "ci");
        assert_string_equal(s.groups[1], "system:builders");
        assert_int_equal(s.expires_ms, 1798761600000LL);
        assert_string_equal(s.secret_hash, HASH);
        assert_true(s.revoked);
        assert_string_equal(s.description, "the CI pipeline's deploy token");
        assert_null(json_path(o, "metadata.namespace"));

        /* The least: a user and a hash. Defaults: no groups, not revoked, no expiry. */
        o = defaulted(TOKEN_HEAD "  user: alice\n  secretHash: " HASH "\n", &l2);
        assert_int_equal(json_array_size(json_path(o, "spec.groups")), 0);
        assert_true(json_is_false(json_path(o, "spec.revoked")));
        assert_null(json_path(o, "spec.expirationTimestamp"));
        assert_int_equal(token_spec_decode(o, &s, &err), 0);
        assert_int_equal(s.n_groups, 0);
        assert_int_equal(s.expires_ms, 0);
        assert_false(s.revoked);
        assert_null(s.description);
}

static void test_token_active(void **state)
{
        struct token_spec s = {.user = "a", .secret_hash = HASH};

        (void)state;
        assert_true(token_spec_active(&s, 0));
        assert_true(token_spec_active(&s, INT64_MAX));
        s.expires_ms = 1000;
        assert_true(token_spec_active(&s, 999));
        assert_false(token_spec_active(&s, 1000));
        s.expires_ms = 0;
        s.revoked = true;
        assert_false(token_spec_active(&s, 0));
        assert_false(token_spec_active(NULL, 0));

        assert_true(token_secret_hash_is_valid(HASH));
        assert_int_equal(TOKEN_SECRET_HASH_LEN, strlen(HASH));
        assert_false(token_secret_hash_is_valid(NULL));
        assert_false(token_secret_hash_is_valid(""));
        assert_false(token_secret_hash_is_valid(HASH "0"));
        assert_false(token_secret_hash_is_valid(
            "sha256:9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"));
        assert_false(token_secret_hash_is_valid(
            "sha512:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"));
        assert_false(token_secret_hash_is_valid(
            "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0g"));
}

/* The spec decoders refuse objects of other kinds. */
static void test_decode_wrong_kind(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        struct rolebinding_spec b = {.role_name = "untouched"};
        struct role_spec r = {.n_rules = 7};
        struct berth_error err = {0};

        (void)state;
        parse_ok_as(CLUSTER_BINDING_HEAD REF SUBJECT, "rbac.yaml", &list);
        assert_int_equal(role_spec_decode(list.docs[0].object, &r, &err), -EINVAL);
        assert_string_equal(err.message, "not a Role or ClusterRole");
        assert_int_equal(r.n_rules, 7);
        json_object_set_new(list.docs[0].object, "kind", json_string("Token"));
        assert_int_equal(rolebinding_spec_decode(list.docs[0].object, &b, &err), -EINVAL);
        assert_string_equal(err.message, "not a RoleBinding or ClusterRoleBinding");
        assert_string_equal(b.role_name, "untouched");
        /* A decode error names the first field. */
        json_object_set_new(list.docs[0].object, "kind", json_string("ClusterRoleBinding"));
        json_object_set_new(json_object_get(list.docs[0].object, "spec"), "subjects", json_array());
        assert_int_equal(rolebinding_spec_decode(list.docs[0].object, &b, &err), -EINVAL);
        assert_string_equal(err.message, "spec.subjects: must list at least one subject");
}

/* Cluster-scoped objects need no namespace; generateName is for namespaced
 * kinds only (the envelope's rule). */
static void test_cluster_scoped(void **state)
{
        (void)state;
        assert_yaml_valid(CLUSTER_ROLE_HEAD, "  rules: []\n");
        assert_yaml_valid(CLUSTER_BINDING_HEAD, REF SUBJECT);
        assert_yaml_valid(TOKEN_HEAD, "  user: a\n  secretHash: " HASH "\n");
        assert_invalid_as("apiVersion: berth/v1\nkind: Token\nmetadata: {generateName: ci-}\n"
                          "spec: {user: a, secretHash: \"" HASH "\"}\n",
                          "rbac.yaml",
                          "rbac.yaml:3:12: metadata.generateName: not supported for Token: only "
                          "namespaced kinds");
}

/* ---- rules --------------------------------------------------------------------- */

static void test_role_errors(void **state)
{
        (void)state;
        assert_yaml_invalid(ROLE_HEAD,
                            "    - verbs: [get, list, destroy]\n      resources: [tasks]\n",
                            "rbac.yaml:8:26: spec.rules[0].verbs[2]: unknown verb \"destroy\" "
                            "(get, list, watch, create, update, delete, logs, trigger or *)");
        assert_yaml_invalid(ROLE_HEAD,
                            "    - verbs: [delte, patch, GET, deletecollection]\n"
                            "      resources: [tasks]\n",
                            "rbac.yaml:8:15: spec.rules[0].verbs[0]: unknown verb \"delte\", did "
                            "you mean delete?\n"
                            "rbac.yaml:8:22: spec.rules[0].verbs[1]: unknown verb \"patch\", did "
                            "you mean update?\n"
                            "rbac.yaml:8:29: spec.rules[0].verbs[2]: unknown verb \"GET\", did you "
                            "mean get?\n"
                            "rbac.yaml:8:34: spec.rules[0].verbs[3]: unknown verb "
                            "\"deletecollection\", did you mean delete?");
        {
                /* Every kind's resource is listed, the new ones too. */
                _cleanup_buf_ struct buf b = {0};

                buf_init(&b, 4096);
                assert_int_equal(buf_append_str(&b, "rbac.yaml:9:26: spec.rules[0].resources[1]: "
                                                    "unknown resource \"foos\" ("),
                                 0);
                for (const struct kind_info *const *k = kind_all(); *k; k++)
                        assert_int_equal(
                            buf_printf(&b, "%s%s", k == kind_all() ? "" : ", ", (*k)->resource), 0);
                assert_int_equal(buf_append_str(&b, " or *)"), 0);
                assert_non_null(strstr(b.data, "(tasks, workflows, crontasks, services, sources, "
                                               "roles, clusterroles, rolebindings, "
                                               "clusterrolebindings, tokens"));
                assert_yaml_invalid(ROLE_HEAD,
                                    "    - verbs: [get]\n      resources: [tasks, foos]\n", b.data);
        }
        assert_yaml_invalid(
            ROLE_HEAD,
            "    - verbs: [get]\n      resources: [task, Services, tk, servces, tasks/log]\n",
            "rbac.yaml:9:19: spec.rules[0].resources[0]: unknown resource \"task\", did you mean "
            "tasks?\n"
            "rbac.yaml:9:25: spec.rules[0].resources[1]: unknown resource \"Services\", did you "
            "mean services?\n"
            "rbac.yaml:9:35: spec.rules[0].resources[2]: unknown resource \"tk\", did you mean "
            "tasks?\n"
            "rbac.yaml:9:39: spec.rules[0].resources[3]: unknown resource \"servces\", did you "
            "mean services?\n"
            "rbac.yaml:9:48: spec.rules[0].resources[4]: unknown resource \"tasks/log\": a rule "
            "names whole resources; a verb grants their parts (logs for /log, get for /results)");
        assert_yaml_invalid(ROLE_HEAD,
                            "    - verbs: [get]\n      resources: [tasks]\n"
                            "      resourceNames: [web, \"*\", Web]\n",
                            "rbac.yaml:10:28: spec.rules[0].resourceNames[1]: \"*\" is not a "
                            "name: leave resourceNames out to mean every object\n"
                            "rbac.yaml:10:33: spec.rules[0].resourceNames[2]: invalid name "
                            "\"Web\": " NAME_RULE_TEXT);
        /* Required, non-empty lists of strings. */
        assert_yaml_invalid(ROLE_HEAD, "    - resources: [tasks]\n",
                            "rbac.yaml:8:7: spec.rules[0].verbs: required");
        assert_yaml_invalid(ROLE_HEAD, "    - verbs: []\n      resources: []\n",
                            "rbac.yaml:8:7: spec.rules[0].verbs: must list at least one verb "
                            "(get, list, watch, create, update, delete, logs, trigger or *)\n"
                            "rbac.yaml:9:7: spec.rules[0].resources: must list at least one "
                            "resource (the plural name of a kind, like tasks, or *)");
        assert_yaml_invalid(ROLE_HEAD, "    - verbs: get\n      resources: [tasks, 7]\n",
                            "rbac.yaml:8:7: spec.rules[0].verbs: must be an array\n"
                            "rbac.yaml:9:26: spec.rules[0].resources[1]: must be a string");
        assert_yaml_invalid(ROLE_HEAD,
                            "    - verbs: [get]\n      resources: [tasks]\n"
                            "      resourceName: [web]\n",
                            "rbac.yaml:10:7: spec.rules[0].resourceName: unknown field, did you "
                            "mean spec.rules[0].resourceNames?");
        assert_yaml_invalid(ROLE_HEAD, "    - get\n",
                            "rbac.yaml:8:7: spec.rules[0]: must be an object");
        assert_yaml_invalid(CLUSTER_ROLE_HEAD, "  rules: {verbs: [get]}\n",
                            "rbac.yaml:5:3: spec.rules: must be an array");
        assert_yaml_invalid(CLUSTER_ROLE_HEAD, "  rule: []\n",
                            "rbac.yaml:5:3: spec.rule: unknown field, did you mean spec.rules?");
        assert_invalid_as("apiVersion: berth/v1\nkind: ClusterRole\nmetadata: {name: x}\n",
                          "rbac.yaml", "rbac.yaml:1:1: spec: required");
        /* Kubernetes' top-level rules are refused: berth objects have a spec. */
        assert_invalid_as("apiVersion: berth/v1\nkind: ClusterRole\nmetadata: {name: x}\n"
                          "rules: []\nspec: {}\n",
                          "rbac.yaml", "rbac.yaml:4:1: rules: unknown field");
}

static void test_role_limits(void **state)
{
        (void)state;
        /* 64 rules of 16 verbs, resources and names each are fine, one more is not. */
        for (int extra = 0; extra <= 1; extra++) {
                _cleanup_buf_ struct buf b = {0};

                buf_init(&b, 1024 * 1024);
                for (int i = 0; i < RBAC_RULES_MAX + extra; i++) {
                        assert_int_equal(buf_append_str(&b, "    - verbs: [get, list, watch, "
                                                            "create, update, delete, logs, "
                                                            "trigger, get, list, watch, create, "
                                                            "update, delete, logs, \"*\"]\n"),
                                         0);
                        assert_int_equal(buf_append_str(&b, "      resources: [tasks, tasks, "
                                                            "tasks, tasks, tasks, tasks, tasks, "
                                                            "tasks, tasks, tasks, tasks, tasks, "
                                                            "tasks, tasks, tasks, \"*\"]\n"),
                                         0);
                        assert_int_equal(buf_append_str(&b, "      resourceNames: [a, b, c, d, "
                                                            "e, f, g, h, i, j, k, l, m, n, o, "
                                                            "p]\n"),
                                         0);
                }
                if (!extra)
                        assert_yaml_valid(ROLE_HEAD, b.data);
                else
                        assert_yaml_invalid(ROLE_HEAD, b.data,
                                            "rbac.yaml:7:3: spec.rules: must have at most 64 "
                                            "rules, has 65");
        }
        assert_yaml_invalid(ROLE_HEAD,
                            "    - verbs: [get, get, get, get, get, get, get, get, get, get, get, "
                            "get, get, get, get, get, get]\n"
                            "      resources: [tasks]\n"
                            "      resourceNames: [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, "
                            "p, q]\n",
                            "rbac.yaml:8:7: spec.rules[0].verbs: must have at most 16 entries, "
                            "has 17\n"
                            "rbac.yaml:10:7: spec.rules[0].resourceNames: must have at most 16 "
                            "entries, has 17");
}

static void test_binding_errors(void **state)
{
        (void)state;
        assert_yaml_invalid(BINDING_HEAD, "  roleRef: {kind: Group, name: x}\n" SUBJECT,
                            "rbac.yaml:7:13: spec.roleRef.kind: unsupported value \"Group\", "
                            "must be one of: Role, ClusterRole");
        assert_yaml_invalid(CLUSTER_BINDING_HEAD, "  roleRef: {kind: Role, name: x}\n" SUBJECT,
                            "rbac.yaml:5:13: spec.roleRef.kind: must be ClusterRole: a "
                            "ClusterRoleBinding grants everywhere, a Role holds rules for its own "
                            "namespace only");
        assert_yaml_invalid(BINDING_HEAD, "  roleRef: {name: x, apiGroup: rbac}\n" SUBJECT,
                            "rbac.yaml:7:3: spec.roleRef.kind: required\n"
                            "rbac.yaml:7:22: spec.roleRef.apiGroup: unknown field");
        assert_yaml_invalid(
            BINDING_HEAD, "  roleRef: {kind: Role, name: Dev_Editor}\n" SUBJECT,
            "rbac.yaml:7:25: spec.roleRef.name: invalid name \"Dev_Editor\": " NAME_RULE_TEXT);
        assert_yaml_invalid(BINDING_HEAD, SUBJECT, "rbac.yaml:6:1: spec.roleRef: required");
        assert_yaml_invalid(BINDING_HEAD, REF, "rbac.yaml:6:1: spec.subjects: required");
        assert_yaml_invalid(BINDING_HEAD, REF "  subjects: []\n",
                            "rbac.yaml:8:3: spec.subjects: must list at least one subject");
        assert_yaml_invalid(BINDING_HEAD,
                            REF "  subjects:\n"
                                "    - {kind: ServiceAccount, name: x}\n"
                                "    - {kind: User}\n"
                                "    - {kind: User, name: \"\"}\n"
                                "    - {kind: User, name: \"a\\tb\"}\n"
                                "    - {kind: Group, name: dev, namespace: dev}\n"
                                "    - {kind: Group, name: dev}\n"
                                "    - User\n",
                            "rbac.yaml:9:8: spec.subjects[0].kind: unsupported value "
                            "\"ServiceAccount\", must be one of: User, Group\n"
                            "rbac.yaml:10:7: spec.subjects[1].name: required\n"
                            "rbac.yaml:11:20: spec.subjects[2].name: must not be empty\n"
                            "rbac.yaml:12:20: spec.subjects[3].name: must not contain control "
                            "characters\n"
                            "rbac.yaml:13:32: spec.subjects[4].namespace: unknown field\n"
                            "rbac.yaml:14:7: spec.subjects[5]: duplicate subject Group/dev (first "
                            "at spec.subjects[4])\n"
                            "rbac.yaml:15:7: spec.subjects[6]: must be an object");
        {
                _cleanup_buf_ struct buf b = {0};
                char name[RBAC_SUBJECT_NAME_MAX + 2];

                memset(name, 'a', sizeof(name) - 1);
                name[sizeof(name) - 1] = '\0';
                buf_init(&b, 64 * 1024);
                assert_int_equal(buf_printf(&b, REF "  subjects: [{kind: User, name: %s}]\n", name),
                                 0);
                assert_yaml_invalid(BINDING_HEAD, b.data,
                                    "rbac.yaml:8:27: spec.subjects[0].name: must be at most 127 "
                                    "characters");
        }
        {
                _cleanup_buf_ struct buf b = {0};

                buf_init(&b, 64 * 1024);
                assert_int_equal(buf_append_str(&b, REF "  subjects:\n"), 0);
                for (int i = 0; i <= RBAC_SUBJECTS_MAX; i++)
                        assert_int_equal(buf_printf(&b, "    - {kind: User, name: u%d}\n", i), 0);
                assert_yaml_invalid(CLUSTER_BINDING_HEAD, b.data,
                                    "rbac.yaml:6:3: spec.subjects: must have at most 64 subjects, "
                                    "has 65");
        }
}

static void test_token_errors(void **state)
{
        (void)state;
        assert_yaml_invalid(TOKEN_HEAD, "  groups: [ci]\n",
                            "rbac.yaml:4:1: spec.user: required\n"
                            "rbac.yaml:4:1: spec.secretHash: required");
        assert_yaml_invalid(TOKEN_HEAD,
                            "  user: alice\n"
                            "  secretHash: \"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c"
                            "15b0f00a08\"\n",
                            "rbac.yaml:6:3: spec.secretHash: must be \"sha256:\" followed by 64 "
                            "lowercase hex digits: the SHA-256 of the secret, which berth token "
                            "create makes");
        assert_yaml_invalid(
            TOKEN_HEAD,
            "  user: alice\n"
            "  secretHash: \"sha256:9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822C"
            "D15D6C15B0F00A08\"\n",
            "rbac.yaml:6:3: spec.secretHash: must be \"sha256:\" followed by 64 "
            "lowercase hex digits: the SHA-256 of the secret, which berth token "
            "create makes");
        assert_yaml_invalid(TOKEN_HEAD,
                            "  user: alice\n  secretHash: " HASH "\n"
                            "  expirationTimestamp: tomorrow\n",
                            "rbac.yaml:7:3: spec.expirationTimestamp: invalid time \"tomorrow\": "
                            "must be an RFC 3339 time like 2026-01-01T00:00:00Z");
        assert_yaml_invalid(TOKEN_HEAD,
                            "  user: alice\n  secretHash: " HASH "\n"
                            "  expirationTimestamp: \"2026-13-01T00:00:00Z\"\n",
                            "rbac.yaml:7:3: spec.expirationTimestamp: invalid time "
                            "\"2026-13-01T00:00:00Z\": must be an RFC 3339 time like "
                            "2026-01-01T00:00:00Z");
        assert_yaml_invalid(TOKEN_HEAD,
                            "  user: alice\n  secretHash: " HASH "\n"
                            "  expirationTimestamp: \"1970-01-01T00:00:00Z\"\n",
                            "rbac.yaml:7:3: spec.expirationTimestamp: must be after "
                            "1970-01-01T00:00:00Z");
        assert_yaml_invalid(TOKEN_HEAD,
                            "  user: alice\n  secretHash: " HASH "\n"
                            "  expirationTimestamp: 1767225600\n",
                            "rbac.yaml:7:3: spec.expirationTimestamp: must be a string");
        assert_yaml_invalid(TOKEN_HEAD,
                            "  user: \"\"\n  secretHash: " HASH "\n"
                            "  groups: [a, \"b\\nc\", b, c, d, e]\n"
                            "  revoked: yes\n  expires: never\n",
                            "rbac.yaml:5:3: spec.user: must not be empty\n"
                            "rbac.yaml:7:15: spec.groups[1]: must not contain control characters\n"
                            "rbac.yaml:8:3: spec.revoked: must be a boolean (true or false)\n"
                            "rbac.yaml:9:3: spec.expires: unknown field");
        {
                _cleanup_buf_ struct buf b = {0};

                buf_init(&b, 64 * 1024);
                assert_int_equal(buf_append_str(&b, "  user: alice\n  secretHash: " HASH "\n"
                                                    "  groups: [g0"),
                                 0);
                for (int i = 1; i <= TOKEN_GROUPS_MAX; i++)
                        assert_int_equal(buf_printf(&b, ", g%d", i), 0);
                assert_int_equal(buf_printf(&b, "]\n  description: \"%01025d\"\n", 0), 0);
                assert_yaml_invalid(TOKEN_HEAD, b.data,
                                    "rbac.yaml:7:3: spec.groups: must have at most 16 entries, "
                                    "has 17\n"
                                    "rbac.yaml:8:3: spec.description: must be at most 1024 bytes, "
                                    "has 1025");
        }
}

/* examples/rbac/team-dev.yaml is valid, every document. */
static void test_example(void **state)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        const char *fixtures = getenv("BERTH_FIXTURES");
        struct berth_error err = {0};

        (void)state;
        if (!fixtures)
                skip();
        _cleanup_free_ char *file = str_printf("%s/../../examples/rbac/team-dev.yaml", fixtures);
        assert_int_equal(manifest_parse_path(file, false, &list, &err), 0);
        assert_int_equal(list.n, 3);
        for (size_t i = 0; i < list.n; i++) {
                _cleanup_(field_errors_release) struct field_errors errs = {};

                assert_int_equal(
                    manifest_validate(list.docs[i].object, list.docs[i].positions, &errs), 0);
        }
        assert_string_equal(json_path_string(list.docs[0].object, "kind"), "Role");
        assert_string_equal(json_path_string(list.docs[1].object, "kind"), "RoleBinding");
        assert_string_equal(json_path_string(list.docs[2].object, "kind"), "ClusterRoleBinding");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_kinds),          cmocka_unit_test(test_verbs_and_names),
            cmocka_unit_test(test_role_decode),    cmocka_unit_test(test_role_defaults),
            cmocka_unit_test(test_binding_decode), cmocka_unit_test(test_token_decode),
            cmocka_unit_test(test_token_active),   cmocka_unit_test(test_decode_wrong_kind),
            cmocka_unit_test(test_cluster_scoped), cmocka_unit_test(test_role_errors),
            cmocka_unit_test(test_role_limits),    cmocka_unit_test(test_binding_errors),
            cmocka_unit_test(test_token_errors),   cmocka_unit_test(test_example),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
