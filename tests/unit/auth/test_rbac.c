/* Unit tests of the RBAC decision (auth module): a matrix of four users,
 * every verb, three resources and two namespaces against an expectation
 * table written out by hand; list scopes and per-object visibility; the
 * built-in ClusterRoles and the administrators; what rbac_add refuses; a
 * binding to a missing role; wildcards; views agreeing with the direct
 * questions; the reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "auth.h"
#include "manifests.h"

/* alice: edit in dev (RoleBinding to the built-in ClusterRole).
 * bob: in group ops, which a ClusterRoleBinding makes viewer everywhere.
 * carol: a Role of prod lets her get, update and delete the Service web.
 * dave: nothing. */
static const char matrix_objects[] = "apiVersion: berth/v1\n"
                                     "kind: RoleBinding\n"
                                     "metadata: {name: alice-edit, namespace: dev}\n"
                                     "spec:\n"
                                     "  roleRef: {kind: ClusterRole, name: edit}\n"
                                     "  subjects: [{kind: User, name: alice}]\n"
                                     "---\n"
                                     "apiVersion: berth/v1\n"
                                     "kind: ClusterRoleBinding\n"
                                     "metadata: {name: ops-view}\n"
                                     "spec:\n"
                                     "  roleRef: {kind: ClusterRole, name: viewer}\n"
                                     "  subjects: [{kind: Group, name: ops}]\n"
                                     "---\n"
                                     /* the binding before its role: order does not matter */
                                     "apiVersion: berth/v1\n"
                                     "kind: RoleBinding\n"
                                     "metadata: {name: carol-web, namespace: prod}\n"
                                     "spec:\n"
                                     "  roleRef: {kind: Role, name: web-admin}\n"
                                     "  subjects: [{kind: User, name: carol}]\n"
                                     "---\n"
                                     "apiVersion: berth/v1\n"
                                     "kind: Role\n"
                                     "metadata: {name: web-admin, namespace: prod}\n"
                                     "spec:\n"
                                     "  rules:\n"
                                     "    - verbs: [get, update, delete]\n"
                                     "      resources: [services]\n"
                                     "      resourceNames: [web]\n";

/* Adds every document of yaml (defaulted, as the store holds objects); each
 * must be accepted. */
static void add_yaml(struct rbac *r, const char *yaml)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        struct berth_error err = {0};

        assert_int_equal(manifest_parse_buffer(yaml, strlen(yaml), "rbac.yaml", &list, &err), 0);
        for (size_t i = 0; i < list.n; i++) {
                manifest_apply_defaults(list.docs[i].object);
                if (rbac_add(r, list.docs[i].object, &err) < 0)
                        fail_msg("rbac_add: %s", err.message);
        }
}

/* rbac_add of the one document of yaml: its result, and err. */
static int add_one(struct rbac *r, const char *yaml, struct berth_error *err)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};

        assert_int_equal(manifest_parse_buffer(yaml, strlen(yaml), "rbac.yaml", &list, err), 0);
        assert_int_equal(list.n, 1);
        return rbac_add(r, list.docs[0].object, err);
}

static struct rbac *matrix_rbac(void)
{
        struct rbac *r = NULL;

        assert_int_equal(rbac_new(&r), 0);
        add_yaml(r, matrix_objects);
        return r;
}

static const char *const ops[] = {"ops"};
static const struct rbac_subject alice = {.user = "alice"};
static const struct rbac_subject bob = {.user = "bob", .groups = ops, .n_groups = 1};
static const struct rbac_subject carol = {.user = "carol"};
static const struct rbac_subject dave = {.user = "dave"};

static bool allowed(const struct rbac *r, const struct rbac_subject *who, const char *verb,
                    const char *resource, const char *ns, const char *name)
{
        struct rbac_decision d;

        rbac_authorize(r, who, verb, resource, ns, name, &d);
        return d.allowed;
}

/* ---- the matrix ------------------------------------------------------------------ */

/* Which of the eight verbs, in rbac_verbs() order, are allowed: "y" or ".".
 * Object verbs (get, update, delete, logs, trigger) name the object "web";
 * list, watch and create ask about the collection. */
static const struct {
        const struct rbac_subject *who;
        const char *ns, *resource;
        const char *verbs; /* get list watch create update delete logs trigger */
} expected[] = {
    {&alice, "dev", "tasks", "yyyyyyyy"},     {&alice, "dev", "services", "yyyyyyyy"},
    {&alice, "dev", "workflows", "yyyyyyyy"}, {&alice, "prod", "tasks", "........"},
    {&alice, "prod", "services", "........"}, {&alice, "prod", "workflows", "........"},
    {&bob, "dev", "tasks", "yyy...y."},       {&bob, "dev", "services", "yyy...y."},
    {&bob, "dev", "workflows", "yyy...y."},   {&bob, "prod", "tasks", "yyy...y."},
    {&bob, "prod", "services", "yyy...y."},   {&bob, "prod", "workflows", "yyy...y."},
    {&carol, "dev", "tasks", "........"},     {&carol, "dev", "services", "........"},
    {&carol, "dev", "workflows", "........"}, {&carol, "prod", "tasks", "........"},
    {&carol, "prod", "services", "y...yy.."}, {&carol, "prod", "workflows", "........"},
    {&dave, "dev", "tasks", "........"},      {&dave, "dev", "services", "........"},
    {&dave, "dev", "workflows", "........"},  {&dave, "prod", "tasks", "........"},
    {&dave, "prod", "services", "........"},  {&dave, "prod", "workflows", "........"},
};

static const char *matrix_name(const char *verb)
{
        return streq(verb, "list") || streq(verb, "watch") || streq(verb, "create") ? NULL : "web";
}

static void test_matrix(void **state)
{
        struct rbac *r = matrix_rbac();
        const char *const *verbs = rbac_verbs();
        size_t checked = 0;

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(expected); i++) {
                struct rbac_view *v = NULL;

                assert_int_equal(rbac_view_new(r, expected[i].who, &v), 0);
                for (size_t k = 0; k < 8; k++) {
                        const char *verb = verbs[k], *name = matrix_name(verb);
                        bool want = expected[i].verbs[k] == 'y';
                        struct rbac_decision d, dv;

                        rbac_authorize(r, expected[i].who, verb, expected[i].resource,
                                       expected[i].ns, name, &d);
                        if (d.allowed != want)
                                fail_msg("%s %s %s in %s: got %s (%s)", expected[i].who->user, verb,
                                         expected[i].resource, expected[i].ns,
                                         d.allowed ? "allowed" : "denied", d.reason);
                        /* The view and the per-object question agree. */
                        rbac_view_authorize(v, verb, expected[i].resource, expected[i].ns, name,
                                            &dv);
                        assert_int_equal(dv.allowed, want);
                        assert_string_equal(dv.reason, d.reason);
                        assert_int_equal(rbac_visible(r, expected[i].who, verb,
                                                      expected[i].resource, expected[i].ns, name),
                                         want);
                        assert_int_equal(
                            rbac_view_visible(v, verb, expected[i].resource, expected[i].ns, name),
                            want);
                        checked++;
                }
                rbac_view_free(v);
        }
        assert_int_equal(checked, 4 * 8 * 3 * 2);
        rbac_free(r);
}

/* resourceNames: only the named object, only when it is named. */
static void test_resource_names(void **state)
{
        struct rbac *r = matrix_rbac();

        (void)state;
        assert_true(allowed(r, &carol, "get", "services", "prod", "web"));
        assert_false(allowed(r, &carol, "get", "services", "prod", "db"));
        assert_false(allowed(r, &carol, "get", "services", "prod", NULL));
        assert_false(allowed(r, &carol, "get", "services", "dev", "web"));
        assert_false(allowed(r, &carol, "get", "services", "", "web"));
        assert_false(allowed(r, &carol, "get", "tasks", "prod", "web"));
        assert_false(allowed(r, &carol, "logs", "services", "prod", "web"));
        assert_false(allowed(r, &carol, "list", "services", "prod", NULL));
        rbac_free(r);
}

static void test_list_scope(void **state)
{
        struct rbac *r = matrix_rbac();
        static const struct {
                const struct rbac_subject *who;
                const char *verb, *resource, *ns;
                enum rbac_scope scope;
        } scopes[] = {
            {&alice, "list", "tasks", "dev", RBAC_ALL},
            {&alice, "watch", "tasks", "dev", RBAC_ALL},
            {&alice, "list", "tasks", "prod", RBAC_NONE},
            {&alice, "list", "tasks", "", RBAC_SOME}, /* dev's, across namespaces */
            {&alice, "list", "roles", "dev", RBAC_ALL},
            {&alice, "list", "clusterroles", "", RBAC_NONE},
            {&alice, "list", "tokens", "", RBAC_NONE},
            {&bob, "list", "tasks", "", RBAC_ALL},
            {&bob, "watch", "workflows", "prod", RBAC_ALL},
            {&bob, "list", "roles", "dev", RBAC_NONE},
            {&carol, "list", "services", "prod", RBAC_SOME},
            {&carol, "watch", "services", "prod", RBAC_NONE}, /* her rule has no watch */
            {&carol, "list", "services", "", RBAC_SOME},
            {&carol, "list", "services", "dev", RBAC_NONE},
            {&carol, "list", "tasks", "prod", RBAC_NONE},
            {&dave, "list", "tasks", "", RBAC_NONE},
            {&dave, "list", "tasks", "dev", RBAC_NONE},
            {&alice, "destroy", "tasks", "dev", RBAC_NONE},
        };

        (void)state;
        /* carol's rule says get, update, delete: a list of it needs list. */
        add_yaml(r,
                 "apiVersion: berth/v1\nkind: Role\n"
                 "metadata: {name: web-lister, namespace: prod}\n"
                 "spec: {rules: [{verbs: [list], resources: [services], resourceNames: [web]}]}\n"
                 "---\n"
                 "apiVersion: berth/v1\nkind: RoleBinding\n"
                 "metadata: {name: carol-list, namespace: prod}\n"
                 "spec: {roleRef: {kind: Role, name: web-lister},\n"
                 "       subjects: [{kind: User, name: carol}]}\n");
        for (size_t i = 0; i < ARRAY_SIZE(scopes); i++) {
                struct rbac_view *v = NULL;
                enum rbac_scope got = rbac_list_scope(r, scopes[i].who, scopes[i].verb,
                                                      scopes[i].resource, scopes[i].ns);

                if (got != scopes[i].scope)
                        fail_msg("%s %s %s in \"%s\": scope %d, expected %d", scopes[i].who->user,
                                 scopes[i].verb, scopes[i].resource, scopes[i].ns, got,
                                 scopes[i].scope);
                assert_int_equal(rbac_view_new(r, scopes[i].who, &v), 0);
                assert_int_equal(
                    rbac_view_list_scope(v, scopes[i].verb, scopes[i].resource, scopes[i].ns),
                    scopes[i].scope);
                rbac_view_free(v);
                /* RBAC_ALL exactly when the collection is allowed. */
                assert_int_equal(allowed(r, scopes[i].who, scopes[i].verb, scopes[i].resource,
                                         scopes[i].ns, NULL),
                                 scopes[i].scope == RBAC_ALL);
        }

        /* SOME: the objects decide. */
        assert_true(rbac_visible(r, &alice, "list", "tasks", "dev", "a"));
        assert_false(rbac_visible(r, &alice, "list", "tasks", "prod", "a"));
        assert_true(rbac_visible(r, &carol, "list", "services", "prod", "web"));
        assert_false(rbac_visible(r, &carol, "list", "services", "prod", "db"));
        assert_false(rbac_visible(r, &carol, "list", "services", "dev", "web"));
        assert_false(rbac_visible(r, &carol, "list", "services", "prod", NULL));
        assert_false(rbac_visible(r, &carol, "bogus", "services", "prod", "web"));
        assert_false(rbac_visible(r, &dave, "list", "tasks", "dev", "a"));
        assert_true(rbac_visible(r, &bob, "list", "tasks", "prod", "a"));
        rbac_free(r);
}

/* A list of many objects through one view: every object is asked, only the
 * right ones pass. */
static void test_view_filters_a_list(void **state)
{
        struct rbac *r = matrix_rbac();
        struct rbac_view *v = NULL;
        size_t seen = 0;

        (void)state;
        assert_int_equal(rbac_view_new(r, &alice, &v), 0);
        assert_int_equal(rbac_view_list_scope(v, "list", "tasks", ""), RBAC_SOME);
        for (int i = 0; i < 10000; i++) {
                char name[32];

                snprintf(name, sizeof(name), "t%d", i);
                seen += rbac_view_visible(v, "list", "tasks", i % 2 ? "dev" : "prod", name);
        }
        assert_int_equal(seen, 5000);
        rbac_view_free(v);
        rbac_free(r);
}

/* ---- built-ins and administrators ------------------------------------------------- */

static void test_builtins(void **state)
{
        struct rbac *r = NULL;
        static const char *const all_resources[] = {
            "tasks", "workflows", "crontasks", "services", "sources", "roles", "rolebindings",
        };
        const struct rbac_subject erin = {.user = "erin"}, frank = {.user = "frank"},
                                  gina = {.user = "gina"};

        (void)state;
        assert_int_equal(rbac_new(&r), 0);
        /* With nothing stored, nobody may do anything. */
        assert_false(allowed(r, &alice, "get", "tasks", "dev", "x"));
        add_yaml(r, "apiVersion: berth/v1\nkind: ClusterRoleBinding\nmetadata: {name: erin}\n"
                    "spec: {roleRef: {kind: ClusterRole, name: admin},\n"
                    "       subjects: [{kind: User, name: erin}]}\n"
                    "---\n"
                    "apiVersion: berth/v1\nkind: ClusterRoleBinding\nmetadata: {name: frank}\n"
                    "spec: {roleRef: {kind: ClusterRole, name: edit},\n"
                    "       subjects: [{kind: User, name: frank}]}\n"
                    "---\n"
                    "apiVersion: berth/v1\nkind: ClusterRoleBinding\nmetadata: {name: gina}\n"
                    "spec: {roleRef: {kind: ClusterRole, name: viewer},\n"
                    "       subjects: [{kind: User, name: gina}]}\n");
        /* admin: everything, everywhere, cluster-scoped resources too. */
        for (const char *const *verb = rbac_verbs(); *verb; verb++) {
                for (const struct kind_info *const *k = kind_all(); *k; k++)
                        assert_true(allowed(r, &erin, *verb, (*k)->resource,
                                            (*k)->namespaced ? "any" : "", "x"));
                assert_true(allowed(r, &erin, *verb, "*", "", NULL));
        }
        assert_int_equal(rbac_list_scope(r, &erin, "list", "tokens", ""), RBAC_ALL);

        /* edit: every verb on the workloads; reading roles and rolebindings. */
        for (size_t i = 0; i < 5; i++)
                for (const char *const *verb = rbac_verbs(); *verb; verb++)
                        assert_true(allowed(r, &frank, *verb, all_resources[i], "dev", "x"));
        for (size_t i = 5; i < ARRAY_SIZE(all_resources); i++) {
                assert_true(allowed(r, &frank, "get", all_resources[i], "dev", "x"));
                assert_true(allowed(r, &frank, "list", all_resources[i], "dev", NULL));
                assert_true(allowed(r, &frank, "watch", all_resources[i], "", NULL));
                assert_false(allowed(r, &frank, "create", all_resources[i], "dev", NULL));
                assert_false(allowed(r, &frank, "update", all_resources[i], "dev", "x"));
                assert_false(allowed(r, &frank, "delete", all_resources[i], "dev", "x"));
        }
        /* Events: read, never written (berthd writes them). */
        assert_true(allowed(r, &frank, "list", "events", "dev", NULL));
        assert_true(allowed(r, &frank, "watch", "events", "", NULL));
        assert_false(allowed(r, &frank, "create", "events", "dev", NULL));
        assert_false(allowed(r, &frank, "delete", "events", "dev", "x"));
        assert_false(allowed(r, &frank, "get", "clusterroles", "", "x"));
        assert_false(allowed(r, &frank, "get", "clusterrolebindings", "", "x"));
        assert_false(allowed(r, &frank, "get", "tokens", "", "x"));
        assert_false(allowed(r, &frank, "get", "*", "", NULL));

        /* viewer: get, list, watch and logs on the workloads, reading
         * Events, nothing else. */
        for (size_t i = 0; i < 5; i++) {
                assert_true(allowed(r, &gina, "get", all_resources[i], "dev", "x"));
                assert_true(allowed(r, &gina, "list", all_resources[i], "", NULL));
                assert_true(allowed(r, &gina, "watch", all_resources[i], "prod", NULL));
                assert_true(allowed(r, &gina, "logs", all_resources[i], "dev", "x"));
                assert_false(allowed(r, &gina, "create", all_resources[i], "dev", NULL));
                assert_false(allowed(r, &gina, "update", all_resources[i], "dev", "x"));
                assert_false(allowed(r, &gina, "delete", all_resources[i], "dev", "x"));
                assert_false(allowed(r, &gina, "trigger", all_resources[i], "dev", "x"));
        }
        assert_true(allowed(r, &gina, "get", "events", "dev", "x"));
        assert_true(allowed(r, &gina, "list", "events", "", NULL));
        assert_true(allowed(r, &gina, "watch", "events", "prod", NULL));
        assert_false(allowed(r, &gina, "create", "events", "dev", NULL));
        assert_false(allowed(r, &gina, "get", "roles", "dev", "x"));
        assert_false(allowed(r, &gina, "get", "tokens", "", "x"));
        rbac_free(r);
}

static void test_administrators(void **state)
{
        struct rbac *r = NULL;
        static const char *const groups[] = {"dev", RBAC_ADMIN_GROUP};
        const struct rbac_subject root = {.user = RBAC_ADMIN_USER};
        const struct rbac_subject member = {.user = "hank", .groups = groups, .n_groups = 2};
        const struct rbac_subject nobody = {.groups = groups, .n_groups = 2};
        struct rbac_view *v = NULL;
        struct rbac_decision d;

        (void)state;
        assert_string_equal(RBAC_ADMIN_USER, "system:admin");
        assert_string_equal(RBAC_ADMIN_GROUP, "system:admins");
        assert_int_equal(rbac_new(&r), 0);
        for (const char *const *verb = rbac_verbs(); *verb; verb++) {
                for (const struct kind_info *const *k = kind_all(); *k; k++) {
                        assert_true(allowed(r, &root, *verb, (*k)->resource, "x", "y"));
                        assert_true(allowed(r, &member, *verb, (*k)->resource, "", NULL));
                }
        }
        rbac_authorize(r, &root, "delete", "tokens", "", "t", &d);
        assert_string_equal(d.reason, "allowed: user system:admin may do everything");
        rbac_authorize(r, &nobody, "delete", "tokens", "", "t", &d);
        assert_true(d.allowed);
        assert_string_equal(d.reason, "allowed: group system:admins may do everything");
        assert_int_equal(rbac_list_scope(r, &member, "watch", "secrets", ""), RBAC_ALL);
        assert_true(rbac_visible(r, &member, "list", "tasks", "a", "b"));
        assert_int_equal(rbac_view_new(r, &member, &v), 0);
        assert_int_equal(rbac_view_list_scope(v, "list", "anything", "x"), RBAC_ALL);
        rbac_view_authorize(v, "update", "tasks", "x", "y", &d);
        assert_true(d.allowed);
        rbac_view_free(v);
        /* Still not an unknown verb. */
        rbac_authorize(r, &root, "destroy", "tasks", "x", "y", &d);
        assert_false(d.allowed);
        assert_string_equal(d.reason, "unknown verb \"destroy\"");
        /* Near misses are nobody special. */
        const struct rbac_subject almost = {.user = "system:Admin"};
        assert_false(allowed(r, &almost, "get", "tasks", "x", "y"));
        rbac_free(r);
}

/* A stored ClusterRole named like a built-in one is refused and changes
 * nothing; a stored Role of that name in a namespace is its own. */
static void test_builtin_not_overridable(void **state)
{
        struct rbac *r = matrix_rbac();
        struct berth_error err = {0};

        (void)state;
        assert_int_equal(add_one(r,
                                 "apiVersion: berth/v1\nkind: ClusterRole\nmetadata: {name: "
                                 "viewer}\nspec: {rules: [{verbs: [\"*\"], resources: [\"*\"]}]}\n",
                                 &err),
                         -EEXIST);
        assert_string_equal(err.message,
                            "ClusterRole viewer is built in: the stored one is ignored");
        assert_int_equal(add_one(r,
                                 "apiVersion: berth/v1\nkind: ClusterRole\nmetadata: {name: "
                                 "admin}\nspec: {rules: []}\n",
                                 &err),
                         -EEXIST);
        assert_string_equal(err.message,
                            "ClusterRole admin is built in: the stored one is ignored");
        assert_false(allowed(r, &bob, "delete", "tasks", "dev", "web"));
        assert_true(allowed(r, &bob, "get", "tasks", "dev", "web"));

        /* A Role named edit in dev is dev's edit, not the ClusterRole. */
        add_yaml(r, "apiVersion: berth/v1\nkind: Role\nmetadata: {name: edit, namespace: dev}\n"
                    "spec: {rules: [{verbs: [get], resources: [sources]}]}\n"
                    "---\n"
                    "apiVersion: berth/v1\nkind: RoleBinding\n"
                    "metadata: {name: dave-edit, namespace: dev}\n"
                    "spec: {roleRef: {kind: Role, name: edit},\n"
                    "       subjects: [{kind: User, name: dave}]}\n");
        assert_true(allowed(r, &dave, "get", "sources", "dev", "s"));
        assert_false(allowed(r, &dave, "get", "tasks", "dev", "s"));
        rbac_free(r);
}

/* A binding to a role that does not exist — or exists elsewhere — grants
 * nothing. */
static void test_missing_role(void **state)
{
        struct rbac *r = NULL;
        struct rbac_view *v = NULL;
        struct rbac_decision d;

        (void)state;
        assert_int_equal(rbac_new(&r), 0);
        add_yaml(r, "apiVersion: berth/v1\nkind: RoleBinding\n"
                    "metadata: {name: ghost, namespace: dev}\n"
                    "spec: {roleRef: {kind: Role, name: ghost},\n"
                    "       subjects: [{kind: User, name: dave}]}\n"
                    "---\n"
                    "apiVersion: berth/v1\nkind: ClusterRoleBinding\nmetadata: {name: ghost}\n"
                    "spec: {roleRef: {kind: ClusterRole, name: ghost},\n"
                    "       subjects: [{kind: User, name: dave}]}\n"
                    "---\n"
                    /* prod's Role, bound in dev: dev has no such Role */
                    "apiVersion: berth/v1\nkind: Role\n"
                    "metadata: {name: everything, namespace: prod}\n"
                    "spec: {rules: [{verbs: [\"*\"], resources: [\"*\"]}]}\n"
                    "---\n"
                    "apiVersion: berth/v1\nkind: RoleBinding\n"
                    "metadata: {name: elsewhere, namespace: dev}\n"
                    "spec: {roleRef: {kind: Role, name: everything},\n"
                    "       subjects: [{kind: User, name: dave}]}\n"
                    "---\n"
                    /* a ClusterRole named like prod's Role: not it either */
                    "apiVersion: berth/v1\nkind: ClusterRoleBinding\nmetadata: {name: cr}\n"
                    "spec: {roleRef: {kind: ClusterRole, name: everything},\n"
                    "       subjects: [{kind: User, name: dave}]}\n");
        for (const char *const *verb = rbac_verbs(); *verb; verb++) {
                assert_false(allowed(r, &dave, *verb, "tasks", "dev", "x"));
                assert_false(allowed(r, &dave, *verb, "tasks", "prod", "x"));
                assert_false(allowed(r, &dave, *verb, "tokens", "", "x"));
        }
        assert_int_equal(rbac_list_scope(r, &dave, "list", "tasks", ""), RBAC_NONE);
        assert_int_equal(rbac_view_new(r, &dave, &v), 0);
        rbac_view_authorize(v, "get", "tasks", "dev", "x", &d);
        assert_false(d.allowed);
        assert_string_equal(d.reason, "user \"dave\" cannot get tasks \"x\" in namespace \"dev\"");
        rbac_view_free(v);

        /* The role arriving later makes the binding work (a new snapshot is
         * built from everything, in any order). */
        add_yaml(r, "apiVersion: berth/v1\nkind: Role\n"
                    "metadata: {name: ghost, namespace: dev}\n"
                    "spec: {rules: [{verbs: [get], resources: [tasks]}]}\n");
        assert_true(allowed(r, &dave, "get", "tasks", "dev", "x"));
        assert_false(allowed(r, &dave, "get", "tasks", "prod", "x"));
        rbac_free(r);
}

/* A namespace's admin (admin bound by a RoleBinding, or a Role with "*")
 * gets nothing on policies; a ClusterRoleBinding does. */
static void test_policies_cluster_only(void **state)
{
        struct rbac *r = NULL;
        const struct rbac_subject nadia = {.user = "nadia"}, olaf = {.user = "olaf"},
                                  pia = {.user = "pia"};

        (void)state;
        assert_int_equal(rbac_new(&r), 0);
        add_yaml(r, "apiVersion: berth/v1\nkind: RoleBinding\n"
                    "metadata: {name: ns-admin, namespace: dev}\n"
                    "spec: {roleRef: {kind: ClusterRole, name: admin},\n"
                    "       subjects: [{kind: User, name: nadia}]}\n"
                    "---\n"
                    "apiVersion: berth/v1\nkind: Role\n"
                    "metadata: {name: all, namespace: dev}\n"
                    "spec: {rules: [{verbs: [\"*\"], resources: [\"*\"]},\n"
                    "               {verbs: [update], resources: [policies]}]}\n"
                    "---\n"
                    "apiVersion: berth/v1\nkind: RoleBinding\n"
                    "metadata: {name: all, namespace: dev}\n"
                    "spec: {roleRef: {kind: Role, name: all},\n"
                    "       subjects: [{kind: User, name: olaf}]}\n"
                    "---\n"
                    "apiVersion: berth/v1\nkind: ClusterRoleBinding\nmetadata: {name: sec}\n"
                    "spec: {roleRef: {kind: ClusterRole, name: admin},\n"
                    "       subjects: [{kind: User, name: pia}]}\n");
        for (const char *const *verb = rbac_verbs(); *verb; verb++) {
                assert_false(allowed(r, &nadia, *verb, "policies", "dev", "default"));
                assert_false(allowed(r, &olaf, *verb, "policies", "dev", "default"));
                assert_true(allowed(r, &pia, *verb, "policies", "dev", "default"));
                assert_true(allowed(r, &nadia, *verb, "tasks", "dev", "x"));
        }
        assert_int_equal(rbac_list_scope(r, &nadia, "list", "policies", "dev"), RBAC_NONE);
        assert_int_equal(rbac_list_scope(r, &olaf, "list", "policies", ""), RBAC_NONE);
        assert_int_equal(rbac_list_scope(r, &pia, "list", "policies", ""), RBAC_ALL);
        rbac_free(r);
}

static void test_wildcards(void **state)
{
        struct rbac *r = NULL;
        static const char *const team[] = {"team"};
        const struct rbac_subject ivan = {.user = "ivan"}, judy = {.user = "judy"},
                                  member = {.user = "kim", .groups = team, .n_groups = 1};

        (void)state;
        assert_int_equal(rbac_new(&r), 0);
        add_yaml(r, "apiVersion: berth/v1\nkind: ClusterRole\nmetadata: {name: all-tasks}\n"
                    "spec: {rules: [{verbs: [\"*\"], resources: [tasks]}]}\n"
                    "---\n"
                    "apiVersion: berth/v1\nkind: ClusterRole\nmetadata: {name: get-all}\n"
                    "spec: {rules: [{verbs: [get], resources: [\"*\"]}]}\n"
                    "---\n"
                    /* a ClusterRole granted in one namespace */
                    "apiVersion: berth/v1\nkind: RoleBinding\n"
                    "metadata: {name: ivan, namespace: dev}\n"
                    "spec: {roleRef: {kind: ClusterRole, name: get-all},\n"
                    "       subjects: [{kind: User, name: ivan}]}\n"
                    "---\n"
                    "apiVersion: berth/v1\nkind: ClusterRoleBinding\nmetadata: {name: judy}\n"
                    "spec: {roleRef: {kind: ClusterRole, name: get-all},\n"
                    "       subjects: [{kind: User, name: judy}]}\n"
                    "---\n"
                    "apiVersion: berth/v1\nkind: RoleBinding\n"
                    "metadata: {name: team, namespace: ci}\n"
                    "spec: {roleRef: {kind: ClusterRole, name: all-tasks},\n"
                    "       subjects: [{kind: Group, name: team}]}\n");
        /* verbs: * */
        for (const char *const *verb = rbac_verbs(); *verb; verb++) {
                assert_true(allowed(r, &member, *verb, "tasks", "ci", "x"));
                assert_false(allowed(r, &member, *verb, "tasks", "dev", "x"));
                assert_false(allowed(r, &member, *verb, "workflows", "ci", "x"));
        }
        /* resources: *, through a RoleBinding: every namespaced resource of
         * its namespace but policies, never a cluster-scoped one. */
        for (const struct kind_info *const *k = kind_all(); *k; k++) {
                bool namespaced =
                    (*k)->namespaced && !streq((*k)->resource, RBAC_CLUSTER_ONLY_RESOURCE);

                assert_int_equal(
                    allowed(r, &ivan, "get", (*k)->resource, namespaced ? "dev" : "", "x"),
                    namespaced);
                assert_false(allowed(r, &ivan, "get", (*k)->resource, "prod", "x"));
                assert_false(allowed(r, &ivan, "update", (*k)->resource, "dev", "x"));
                /* and through a ClusterRoleBinding, every one, everywhere */
                assert_true(
                    allowed(r, &judy, "get", (*k)->resource, namespaced ? "prod" : "", "x"));
        }
        assert_true(allowed(r, &ivan, "get", "not-a-kind-yet", "dev", "x"));
        assert_int_equal(rbac_list_scope(r, &ivan, "get", "clusterroles", ""), RBAC_NONE);
        assert_int_equal(rbac_list_scope(r, &ivan, "get", "tasks", ""), RBAC_SOME);
        assert_int_equal(rbac_list_scope(r, &judy, "get", "tokens", ""), RBAC_ALL);
        /* A rule for tasks does not answer a question about "*". */
        assert_false(allowed(r, &member, "get", "*", "ci", "x"));
        rbac_free(r);
}

/* Only a ClusterRoleBinding reaches cluster-scoped resources, whatever
 * namespace the caller names (a stray metadata.namespace of an applied
 * ClusterRoleBinding must not make a namespace's admin a cluster admin). */
static void test_cluster_scoped_ignores_namespace(void **state)
{
        struct rbac *r = NULL;
        struct rbac_view *v = NULL;
        struct rbac_decision d;
        const struct rbac_subject nora = {.user = "nora"};

        (void)state;
        assert_int_equal(rbac_new(&r), 0);
        add_yaml(r, "apiVersion: berth/v1\nkind: Role\n"
                    "metadata: {name: owner, namespace: dev}\n"
                    "spec: {rules: [{verbs: [\"*\"], resources: [\"*\"]},\n"
                    "               {verbs: [\"*\"], resources: [clusterrolebindings, tokens]}]}\n"
                    "---\n"
                    "apiVersion: berth/v1\nkind: RoleBinding\n"
                    "metadata: {name: nora, namespace: dev}\n"
                    "spec: {roleRef: {kind: Role, name: owner},\n"
                    "       subjects: [{kind: User, name: nora}]}\n");
        assert_true(allowed(r, &nora, "delete", "tasks", "dev", "x"));
        for (const char *const *verb = rbac_verbs(); *verb; verb++) {
                assert_false(allowed(r, &nora, *verb, "clusterrolebindings", "dev", "x"));
                assert_false(allowed(r, &nora, *verb, "clusterrolebindings", "dev", NULL));
                assert_false(allowed(r, &nora, *verb, "tokens", "dev", "x"));
                assert_false(rbac_visible(r, &nora, *verb, "tokens", "dev", "x"));
        }
        assert_int_equal(rbac_list_scope(r, &nora, "list", "tokens", "dev"), RBAC_NONE);
        assert_int_equal(rbac_list_scope(r, &nora, "list", "clusterroles", ""), RBAC_NONE);
        rbac_authorize(r, &nora, "create", "clusterrolebindings", "dev", NULL, &d);
        assert_string_equal(d.reason, "user \"nora\" cannot create clusterrolebindings");
        assert_int_equal(rbac_view_new(r, &nora, &v), 0);
        assert_false(rbac_view_visible(v, "get", "tokens", "dev", "x"));
        assert_int_equal(rbac_view_list_scope(v, "watch", "tokens", "dev"), RBAC_NONE);
        rbac_view_free(v);
        rbac_free(r);
}

/* ---- what rbac_add takes -------------------------------------------------------- */

static void test_add_errors(void **state)
{
        struct rbac *r = NULL;
        struct berth_error err = {0};
        _cleanup_json_ json_t *broken = NULL;

        (void)state;
        assert_int_equal(rbac_new(&r), 0);
        assert_int_equal(
            add_one(r, "apiVersion: berth/v1\nkind: Task\nmetadata: {name: t}\nspec: {}\n", &err),
            -EINVAL);
        assert_string_equal(err.message,
                            "Task is not a Role, ClusterRole, RoleBinding or ClusterRoleBinding");
        assert_int_equal(add_one(r, "apiVersion: berth/v1\nmetadata: {name: t}\n", &err), -EINVAL);
        assert_string_equal(err.message, "an object without a kind is not a Role, ClusterRole, "
                                         "RoleBinding or ClusterRoleBinding");
        /* Checked like the API checks it. */
        assert_int_equal(add_one(r,
                                 "apiVersion: berth/v1\nkind: Role\n"
                                 "metadata: {name: x, namespace: dev}\n"
                                 "spec: {rules: [{verbs: [destroy], resources: [tasks]}]}\n",
                                 &err),
                         -EINVAL);
        assert_string_equal(err.message, "Role dev/x: spec.rules[0].verbs[0]: unknown verb "
                                         "\"destroy\" (get, list, watch, create, update, delete, "
                                         "logs, trigger or *)");
        assert_int_equal(add_one(r,
                                 "apiVersion: berth/v1\nkind: ClusterRoleBinding\n"
                                 "metadata: {name: x}\n"
                                 "spec: {roleRef: {kind: Role, name: x},\n"
                                 "       subjects: [{kind: User, name: dave}]}\n",
                                 &err),
                         -EINVAL);
        assert_true(str_has_prefix(err.message, "ClusterRoleBinding x: spec.roleRef.kind: must be "
                                                "ClusterRole"));
        /* A namespaced object needs its namespace (the store's always have one). */
        assert_int_equal(add_one(r,
                                 "apiVersion: berth/v1\nkind: RoleBinding\nmetadata: {name: x}\n"
                                 "spec: {roleRef: {kind: ClusterRole, name: admin},\n"
                                 "       subjects: [{kind: User, name: dave}]}\n",
                                 &err),
                         -EINVAL);
        assert_string_equal(err.message, "RoleBinding x: metadata.namespace: not a valid name");
        assert_int_equal(add_one(r,
                                 "apiVersion: berth/v1\nkind: Role\nmetadata: {namespace: d}\n"
                                 "spec: {}\n",
                                 &err),
                         -EINVAL);
        assert_string_equal(err.message, "Role: metadata.name: not a valid name");
        /* None of that granted anything. */
        assert_false(allowed(r, &dave, "get", "tasks", "dev", "x"));

        /* The same role twice: the first stays. */
        add_yaml(r, "apiVersion: berth/v1\nkind: ClusterRole\nmetadata: {name: reader}\n"
                    "spec: {rules: [{verbs: [get], resources: [tasks]}]}\n"
                    "---\n"
                    "apiVersion: berth/v1\nkind: Role\nmetadata: {name: reader, namespace: dev}\n"
                    "spec: {rules: [{verbs: [get], resources: [workflows]}]}\n"
                    "---\n"
                    "apiVersion: berth/v1\nkind: ClusterRoleBinding\nmetadata: {name: dave}\n"
                    "spec: {roleRef: {kind: ClusterRole, name: reader},\n"
                    "       subjects: [{kind: User, name: dave}]}\n");
        assert_int_equal(add_one(r,
                                 "apiVersion: berth/v1\nkind: ClusterRole\nmetadata: {name: "
                                 "reader}\nspec: {rules: [{verbs: [\"*\"], resources: [\"*\"]}]}\n",
                                 &err),
                         -EEXIST);
        assert_string_equal(err.message, "ClusterRole reader was added already");
        assert_int_equal(add_one(r,
                                 "apiVersion: berth/v1\nkind: Role\n"
                                 "metadata: {name: reader, namespace: dev}\nspec: {}\n",
                                 &err),
                         -EEXIST);
        assert_string_equal(err.message, "Role dev/reader was added already");
        assert_true(allowed(r, &dave, "get", "tasks", "prod", "x"));
        assert_false(allowed(r, &dave, "delete", "tasks", "prod", "x"));

        /* A cluster-scoped object's namespace is ignored. */
        add_yaml(r, "apiVersion: berth/v1\nkind: ClusterRoleBinding\n"
                    "metadata: {name: odd, namespace: dev}\n"
                    "spec: {roleRef: {kind: ClusterRole, name: viewer},\n"
                    "       subjects: [{kind: User, name: lee}]}\n");
        const struct rbac_subject lee = {.user = "lee"};
        assert_true(allowed(r, &lee, "get", "tasks", "prod", "x"));

        /* Not an object; no snapshot. */
        broken = json_string("x");
        assert_int_equal(rbac_add(r, broken, &err), -EINVAL);
        assert_int_equal(rbac_add(NULL, broken, NULL), -EINVAL);
        rbac_free(r);
        rbac_free(NULL);
        rbac_view_free(NULL);
}

/* ---- reasons --------------------------------------------------------------------- */

static void test_reasons(void **state)
{
        struct rbac *r = matrix_rbac();
        struct rbac_decision d;
        static const char *const many[] = {
            "group-number-00", "group-number-01", "group-number-02", "group-number-03",
            "group-number-04", "group-number-05", "group-number-06", "group-number-07",
            "group-number-08", "group-number-09", "group-number-10", "group-number-11",
        };
        const struct rbac_subject crowd = {.user = "mo", .groups = many, .n_groups = 12};
        const struct rbac_subject anon = {.groups = ops, .n_groups = 1};

        (void)state;
        rbac_authorize(r, &bob, "get", "tasks", "prod", "web", &d);
        assert_true(d.allowed);
        assert_string_equal(d.reason,
                            "allowed by ClusterRoleBinding ops-view (ClusterRole viewer)");
        rbac_authorize(r, &alice, "delete", "workflows", "dev", "w", &d);
        assert_string_equal(
            d.reason, "allowed by RoleBinding alice-edit in namespace dev (ClusterRole edit)");
        rbac_authorize(r, &carol, "update", "services", "prod", "web", &d);
        assert_string_equal(d.reason,
                            "allowed by RoleBinding carol-web in namespace prod (Role web-admin)");
        rbac_authorize(r, &bob, "delete", "tasks", "prod", NULL, &d);
        assert_false(d.allowed);
        assert_string_equal(d.reason, "user \"bob\" (groups ops) cannot delete tasks in namespace "
                                      "\"prod\"");
        rbac_authorize(r, &bob, "delete", "tasks", "prod", "web", &d);
        assert_string_equal(d.reason, "user \"bob\" (groups ops) cannot delete tasks \"web\" in "
                                      "namespace \"prod\"");
        rbac_authorize(r, &alice, "list", "tasks", "", NULL, &d);
        assert_string_equal(d.reason, "user \"alice\" cannot list tasks in all namespaces");
        rbac_authorize(r, &bob, "list", "clusterroles", NULL, NULL, &d);
        assert_string_equal(d.reason, "user \"bob\" (groups ops) cannot list clusterroles");
        rbac_authorize(r, &anon, "get", "tasks", "x", "y", &d);
        assert_true(d.allowed);
        rbac_authorize(r, &anon, "update", "tasks", "x", "y", &d);
        assert_string_equal(d.reason, "anonymous (groups ops) cannot update tasks \"y\" in "
                                      "namespace \"x\"");
        rbac_authorize(r, &alice, NULL, "tasks", "dev", NULL, &d);
        assert_false(d.allowed);
        assert_string_equal(d.reason, "unknown verb \"\"");
        rbac_authorize(r, &alice, "*", "tasks", "dev", NULL, &d);
        assert_false(d.allowed);
        /* Cut to fit, never overflowing. */
        rbac_authorize(r, &crowd, "get", "tasks", "x", "y", &d);
        assert_false(d.allowed);
        assert_true(str_has_prefix(d.reason, "user \"mo\" (groups group-number-00, "));
        assert_non_null(strstr(d.reason, "... cannot get tasks \"y\" in namespace \"x\""));
        assert_true(strlen(d.reason) < RBAC_REASON_MAX);
        rbac_free(r);
}

static void test_verbs(void **state)
{
        static const char *const verbs[] = {"get",    "list",   "watch", "create",
                                            "update", "delete", "logs",  "trigger"};
        const char *const *all = rbac_verbs();
        size_t n = 0;

        (void)state;
        for (; all[n]; n++) {
                assert_string_equal(all[n], verbs[n]);
                assert_true(rbac_verb_is_valid(all[n]));
        }
        assert_int_equal(n, ARRAY_SIZE(verbs));
        assert_string_equal(RBAC_VERBS_TEXT, "get, list, watch, create, update, delete, logs, "
                                             "trigger");
        assert_false(rbac_verb_is_valid("*"));
        assert_false(rbac_verb_is_valid("patch"));
        assert_false(rbac_verb_is_valid("Get"));
        assert_false(rbac_verb_is_valid(""));
        assert_false(rbac_verb_is_valid(NULL));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_matrix),
            cmocka_unit_test(test_resource_names),
            cmocka_unit_test(test_list_scope),
            cmocka_unit_test(test_view_filters_a_list),
            cmocka_unit_test(test_builtins),
            cmocka_unit_test(test_administrators),
            cmocka_unit_test(test_builtin_not_overridable),
            cmocka_unit_test(test_missing_role),
            cmocka_unit_test(test_wildcards),
            cmocka_unit_test(test_policies_cluster_only),
            cmocka_unit_test(test_cluster_scoped_ignores_namespace),
            cmocka_unit_test(test_add_errors),
            cmocka_unit_test(test_reasons),
            cmocka_unit_test(test_verbs),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
