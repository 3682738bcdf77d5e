/* rbac.c: the RBAC kinds — Role and ClusterRole (rules: which verbs on
 * which resources), RoleBinding and ClusterRoleBinding (who gets a role's
 * rules, and where): names, schemas, typed specs and `berth get` columns
 * (docs/reference/rbac.md).
 *
 * Only the schema lives here; what the rules allow is the auth module's
 * decision. A rule may name the resource of any kind of the registry
 * (kinds.c), so a new kind needs no change here. */
#include "manifests-internal.h"

static const char *const verb_names[] = {
    "get", "list", "watch", "create", "update", "delete", "logs", "trigger", NULL,
};
_Static_assert(ARRAY_SIZE(verb_names) == ROLE_VERB_COUNT + 1, "one name per verb");
#define VERB_LIST     "get, list, watch, create, update, delete, logs, trigger or *"
#define STRINGIFY_(x) #x
#define STRINGIFY(x)  STRINGIFY_(x)

/* Kubernetes verbs a user may bring along, and berth's word for them. */
static const struct {
        const char *k8s, *berth;
} verb_aliases[] = {
    {"patch", "update"},
    {"deletecollection", "delete"},
};

static const char *const role_fields[] = {"rules", NULL};
static const char *const rule_fields[] = {"verbs", "resources", "resourceNames", NULL};
static const char *const binding_fields[] = {"roleRef", "subjects", NULL};
static const char *const ref_fields[] = {"kind", "name", NULL};
static const char *const subject_fields[] = {"kind", "name", NULL};
/* In the order of enum role_ref_kind and enum subject_kind. */
static const char *const role_ref_kinds[] = {"Role", "ClusterRole", NULL};
static const char *const subject_kinds[] = {"User", "Group", NULL};

const char *role_verb_to_string(enum role_verb v)
{
        return (unsigned)v < ROLE_VERB_COUNT ? verb_names[v] : NULL;
}

int role_verb_from_string(const char *s)
{
        for (int v = 0; s && v < ROLE_VERB_COUNT; v++)
                if (streq(s, verb_names[v]))
                        return v;
        return -EINVAL;
}

const char *const *role_verbs(void)
{
        return verb_names;
}

const char *role_ref_kind_to_string(enum role_ref_kind k)
{
        return (unsigned)k < ARRAY_SIZE(role_ref_kinds) - 1 ? role_ref_kinds[k] : NULL;
}

const char *subject_kind_to_string(enum subject_kind k)
{
        return (unsigned)k < ARRAY_SIZE(subject_kinds) - 1 ? subject_kinds[k] : NULL;
}

/* ---- subject names --------------------------------------------------------- */

/* Why name is not a user or group name, or NULL when it is one. */
static const char *subject_name_problem(const char *name)
{
        size_t chars = 0;

        if (!*name)
                return "must not be empty";
        if (!utf8_valid(name, strlen(name)))
                return "must be valid UTF-8";
        for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
                /* C0, DEL and C1 (U+0080..U+009F, 0xC2 0x80..0x9F in UTF-8) */
                if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
                        return "must not contain control characters";
                if ((*p & 0xc0) != 0x80)
                        chars++;
        }
        if (chars > RBAC_SUBJECT_NAME_MAX)
                return "must be at most " STRINGIFY(RBAC_SUBJECT_NAME_MAX) " characters";
        return NULL;
}

bool subject_name_is_valid(const char *name)
{
        return name && !subject_name_problem(name);
}

bool check_subject_name(struct check *c, const char *path, const char *name)
{
        const char *problem = subject_name_problem(name);

        if (problem)
                check_error(c, path, "%s", problem);
        return !problem;
}

/* ---- rules ------------------------------------------------------------------ */

/* The list of strings at parent.key with its path (*ret_path, caller frees):
 * at most RBAC_LIST_MAX entries and, when what is not NULL (required), at
 * least one, which what names. NULL when absent or wrong (reported). */
static const json_t *check_rule_list(struct check *c, const json_t *rule, const char *parent,
                                     const char *key, const char *what, char **ret_path)
{
        const json_t *arr;
        _cleanup_free_ char *path = NULL;

        if (what && !check_field(c, rule, parent, key, true))
                return NULL;
        arr = check_string_array(c, rule, parent, key);
        if (!arr)
                return NULL;
        path = check_join(c, parent, key);
        if (!path)
                return NULL;
        if (what && json_array_size(arr) == 0) {
                check_error(c, path, "must list at least one %s", what);
                return NULL;
        }
        if (json_array_size(arr) > RBAC_LIST_MAX) {
                check_error(c, path, "must have at most %d entries, has %zu", RBAC_LIST_MAX,
                            json_array_size(arr));
                return NULL;
        }
        *ret_path = TAKE_PTR(path);
        return arr;
}

/* The bit of a verb (all of them for "*"), or 0 (reported). */
static unsigned check_verb(struct check *c, const char *path, const char *verb)
{
        const char *hint = NULL;
        int v;

        if (streq(verb, RBAC_WILDCARD))
                return ROLE_VERBS_ALL;
        v = role_verb_from_string(verb);
        if (v >= 0)
                return 1u << v;
        for (size_t i = 0; !hint && i < ARRAY_SIZE(verb_aliases); i++)
                if (strcasecmp(verb, verb_aliases[i].k8s) == 0)
                        hint = verb_aliases[i].berth;
        if (!hint)
                hint = check_suggest(verb, verb_names);
        if (hint)
                check_error(c, path, "unknown verb \"%s\", did you mean %s?", verb, hint);
        else
                check_error(c, path, "unknown verb \"%s\" (" VERB_LIST ")", verb);
        return 0;
}

/* Whether resource is "*" or the resource of a kind; else reported, with the
 * kind's resource when it is another of its names ("task", "Task", "tk"). */
static bool check_resource(struct check *c, const char *path, const char *resource)
{
        const char *names[64 + 1];
        const struct kind_info *kind;
        const char *hint;
        char list[512] = "";
        size_t n = 0;

        if (streq(resource, RBAC_WILDCARD))
                return true;
        for (const struct kind_info *const *k = kind_all(); *k; k++)
                if (streq((*k)->resource, resource))
                        return true;
        for (const struct kind_info *const *k = kind_all(); *k; k++) {
                size_t used = strlen(list);

                if (n < ARRAY_SIZE(names) - 1)
                        names[n++] = (*k)->resource;
                snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "",
                         (*k)->resource);
        }
        names[n] = NULL;
        if (strchr(resource, '/')) {
                check_error(c, path,
                            "unknown resource \"%s\": a rule names whole resources; a verb "
                            "grants their parts (logs for /log, get for /results)",
                            resource);
                return false;
        }
        kind = kind_lookup(resource);
        hint = kind ? kind->resource : check_suggest(resource, names);
        if (hint)
                check_error(c, path, "unknown resource \"%s\", did you mean %s?", resource, hint);
        else
                check_error(c, path, "unknown resource \"%s\" (%s or *)", resource, list);
        return false;
}

static void check_resource_name(struct check *c, const char *path, const char *name)
{
        if (streq(name, RBAC_WILDCARD))
                check_error(c, path,
                            "\"*\" is not a name: leave resourceNames out to mean every object");
        else if (!name_is_valid(name))
                check_error(c, path, "invalid name \"%s\": %s", name, NAME_RULE);
}

static void check_rule(struct check *c, const json_t *rule, const char *path, struct role_rule *out)
{
        _cleanup_free_ char *verbs_path = NULL, *resources_path = NULL, *names_path = NULL;
        const json_t *verbs, *resources, *names;
        size_t i;
        json_t *item;

        if (!check_entry(c, rule, path, rule_fields))
                return;
        verbs = check_rule_list(c, rule, path, "verbs", "verb (" VERB_LIST ")", &verbs_path);
        json_array_foreach(verbs, i, item)
        {
                _cleanup_free_ char *ipath = check_index(c, verbs_path, i);

                if (!ipath)
                        return;
                out->verbs |= check_verb(c, ipath, json_string_value(item));
        }
        resources = check_rule_list(c, rule, path, "resources",
                                    "resource (the plural name of a kind, like tasks, or *)",
                                    &resources_path);
        json_array_foreach(resources, i, item)
        {
                _cleanup_free_ char *ipath = check_index(c, resources_path, i);

                if (!ipath)
                        return;
                if (check_resource(c, ipath, json_string_value(item)))
                        out->resources[out->n_resources++] = json_string_value(item);
        }
        names = check_rule_list(c, rule, path, "resourceNames", NULL, &names_path);
        json_array_foreach(names, i, item)
        {
                _cleanup_free_ char *ipath = check_index(c, names_path, i);

                if (!ipath)
                        return;
                check_resource_name(c, ipath, json_string_value(item));
                out->resource_names[out->n_resource_names++] = json_string_value(item);
        }
}

/* Checks a Role or ClusterRole spec and, when ret_spec is not NULL, decodes
 * it (release it even when errors were found). */
static void role_check(struct check *c, const json_t *spec, void *ret_spec)
{
        struct role_spec *ret = ret_spec;
        const json_t *rules;
        size_t i;
        json_t *item;

        check_unknown_fields(c, spec, "spec", role_fields);
        rules = check_array(c, spec, "spec", "rules");
        if (!rules)
                return;
        if (json_array_size(rules) > RBAC_RULES_MAX) {
                check_error(c, "spec.rules", "must have at most %d rules, has %zu", RBAC_RULES_MAX,
                            json_array_size(rules));
                return;
        }
        if (ret && json_array_size(rules) > 0) {
                ret->rules = calloc(json_array_size(rules), sizeof(*ret->rules));
                if (!ret->rules) {
                        c->r = -ENOMEM;
                        return;
                }
        }
        json_array_foreach(rules, i, item)
        {
                _cleanup_free_ char *path = check_index(c, "spec.rules", i);
                struct role_rule rule = {0};

                if (!path)
                        return;
                check_rule(c, item, path, &rule);
                if (ret)
                        ret->rules[ret->n_rules++] = rule;
        }
}

void role_spec_release(struct role_spec *spec)
{
        if (!spec)
                return;
        free(spec->rules);
        spec->rules = NULL;
        spec->n_rules = 0;
}

/* The kind of object when it is a or b, else NULL. */
static const struct kind_info *kind_of(const json_t *object, const struct kind_info *a,
                                       const struct kind_info *b)
{
        const char *kind = json_string_value(json_object_get(object, "kind"));

        return streq(kind, a->kind) ? a : streq(kind, b->kind) ? b : NULL;
}

int role_spec_decode(const json_t *object, struct role_spec *ret, struct berth_error *err)
{
        const struct kind_info *kind = kind_of(object, &kind_role, &kind_clusterrole);
        struct role_spec s = {0};
        int r;

        if (!kind)
                return berth_error_set(err, -EINVAL, "not a Role or ClusterRole");
        r = check_decode(kind, object, &s, err);
        if (r < 0) {
                role_spec_release(&s);
                return r;
        }
        *ret = s;
        return 0;
}

static void role_defaults(json_t *spec)
{
        json_set_default(spec, "rules", json_array());
}

/* ---- bindings ------------------------------------------------------------- */

static void check_role_ref(struct check *c, const json_t *spec, bool cluster,
                           struct rolebinding_spec *out)
{
        const json_t *ref = check_object(c, spec, "spec", "roleRef", true);
        int kind;

        if (!ref)
                return;
        check_unknown_fields(c, ref, "spec.roleRef", ref_fields);
        if (check_field(c, ref, "spec.roleRef", "kind", true)) {
                kind = check_enum(c, ref, "spec.roleRef", "kind", role_ref_kinds, -1);
                if (kind == ROLE_REF_ROLE && cluster)
                        check_error(c, "spec.roleRef.kind",
                                    "must be ClusterRole: a ClusterRoleBinding grants everywhere, "
                                    "a Role holds rules for its own namespace only");
                else if (kind >= 0)
                        out->role_kind = (enum role_ref_kind)kind;
        }
        out->role_name = check_name(c, ref, "spec.roleRef", "name", true);
}

static void check_subjects(struct check *c, const json_t *spec, struct rolebinding_spec *out)
{
        _cleanup_free_ char *list_path = NULL;
        _cleanup_json_ json_t *seen = NULL; /* "Kind/name" → first index */
        const json_t *arr;
        size_t i;
        json_t *item;

        if (!check_field(c, spec, "spec", "subjects", true))
                return;
        arr = check_list(c, spec, "spec", "subjects", &list_path, &seen);
        if (!arr)
                return;
        if (json_array_size(arr) == 0) {
                check_error(c, list_path, "must list at least one subject");
                return;
        }
        if (json_array_size(arr) > RBAC_SUBJECTS_MAX) {
                check_error(c, list_path, "must have at most %d subjects, has %zu",
                            RBAC_SUBJECTS_MAX, json_array_size(arr));
                return;
        }
        json_array_foreach(arr, i, item)
        {
                _cleanup_free_ char *path = check_index(c, list_path, i);
                _cleanup_free_ char *name_path = NULL, *key = NULL;
                const char *name;
                int kind = -1;

                if (!path)
                        return;
                if (!check_entry(c, item, path, subject_fields))
                        continue;
                if (check_field(c, item, path, "kind", true))
                        kind = check_enum(c, item, path, "kind", subject_kinds, -1);
                name = check_string(c, item, path, "name", true);
                name_path = check_join(c, path, "name");
                if (!name || !name_path || !check_subject_name(c, name_path, name) || kind < 0)
                        continue;
                key = str_printf("%s/%s", subject_kinds[kind], name);
                if (!key) {
                        c->r = -ENOMEM;
                        return;
                }
                if (check_unique(c, seen, key, i, list_path, path, NULL, "subject"))
                        out->subjects[out->n_subjects++] =
                            (struct rolebinding_subject){(enum subject_kind)kind, name};
        }
}

static void binding_check(struct check *c, const json_t *spec, bool cluster, void *ret_spec)
{
        struct rolebinding_spec out = {0};

        check_unknown_fields(c, spec, "spec", binding_fields);
        check_role_ref(c, spec, cluster, &out);
        check_subjects(c, spec, &out);
        if (ret_spec)
                *(struct rolebinding_spec *)ret_spec = out;
}

static void rolebinding_check(struct check *c, const json_t *spec, void *ret_spec)
{
        binding_check(c, spec, false, ret_spec);
}

static void clusterrolebinding_check(struct check *c, const json_t *spec, void *ret_spec)
{
        binding_check(c, spec, true, ret_spec);
}

int rolebinding_spec_decode(const json_t *object, struct rolebinding_spec *ret,
                            struct berth_error *err)
{
        const struct kind_info *kind = kind_of(object, &kind_rolebinding, &kind_clusterrolebinding);
        struct rolebinding_spec s;
        int r;

        if (!kind)
                return berth_error_set(err, -EINVAL, "not a RoleBinding or ClusterRoleBinding");
        r = check_decode(kind, object, &s, err);
        if (r == 0)
                *ret = s;
        return r;
}

/* Every field of a binding is required: nothing to fill. */
static void binding_defaults(json_t *spec)
{
        (void)spec;
}

/* ---- the kinds --------------------------------------------------------------- */

static const struct printer_column role_columns[] = {
    {.title = "RULES", .path = "spec.rules", .format = COLUMN_LENGTH},
    {.title = "AGE", .path = "metadata.creationTimestamp", .format = COLUMN_AGE},
    {0},
};

/* A ClusterRoleBinding's role is always a ClusterRole: no ROLE-KIND. */
static const struct printer_column rolebinding_columns[] = {
    {.title = "ROLE-KIND", .path = "spec.roleRef.kind", .format = COLUMN_TEXT},
    {.title = "ROLE", .path = "spec.roleRef.name", .format = COLUMN_TEXT},
    {.title = "SUBJECTS", .path = "spec.subjects", .format = COLUMN_LENGTH},
    {.title = "AGE", .path = "metadata.creationTimestamp", .format = COLUMN_AGE},
    {0},
};

static const struct printer_column clusterrolebinding_columns[] = {
    {.title = "ROLE", .path = "spec.roleRef.name", .format = COLUMN_TEXT},
    {.title = "SUBJECTS", .path = "spec.subjects", .format = COLUMN_LENGTH},
    {.title = "AGE", .path = "metadata.creationTimestamp", .format = COLUMN_AGE},
    {0},
};

const struct kind_info kind_role = {
    .kind = "Role",
    .resource = "roles",
    .singular = "role",
    .namespaced = true,
    .access_control = true,
    .columns = role_columns,
    .check_spec = role_check,
    .default_spec = role_defaults,
};

const struct kind_info kind_clusterrole = {
    .kind = "ClusterRole",
    .resource = "clusterroles",
    .singular = "clusterrole",
    .namespaced = false,
    .access_control = true,
    .columns = role_columns,
    .check_spec = role_check,
    .default_spec = role_defaults,
};

const struct kind_info kind_rolebinding = {
    .kind = "RoleBinding",
    .resource = "rolebindings",
    .singular = "rolebinding",
    .namespaced = true,
    .access_control = true,
    .columns = rolebinding_columns,
    .check_spec = rolebinding_check,
    .default_spec = binding_defaults,
};

const struct kind_info kind_clusterrolebinding = {
    .kind = "ClusterRoleBinding",
    .resource = "clusterrolebindings",
    .singular = "clusterrolebinding",
    .namespaced = false,
    .access_control = true,
    .columns = clusterrolebinding_columns,
    .check_spec = clusterrolebinding_check,
    .default_spec = binding_defaults,
};
