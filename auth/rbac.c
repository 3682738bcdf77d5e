/* rbac.c: the RBAC snapshot (roles, bindings and two indexes) and the
 * decision.
 *
 * The snapshot owns copies of what it read from the objects. Roles are
 * found by (namespace, name) — "" for a ClusterRole — and bindings by the
 * subjects they name, through tsearch(3) trees: built by rbac_add, then
 * only read with tfind, which does not modify a tree (MT-Safe while no one
 * writes it). Every question walks the (binding, role, rule) triples that
 * concern its subject and nothing else: found through the indexes, or
 * listed once in a view. */
#include <search.h>

#include "auth.h"
#include "manifests.h"

struct rule {
        unsigned verbs;   /* 1u << enum role_verb */
        char **resources; /* NULL-terminated; "*" = every resource */
        char **names;     /* NULL-terminated; NULL = every object */
};

struct role {
        char *ns; /* "" for a ClusterRole */
        char *name;
        bool builtin;
        struct rule *rules;
        size_t n_rules;
};

struct binding {
        char *ns; /* "" for a ClusterRoleBinding: it grants everywhere */
        char *name;
        enum role_ref_kind role_kind;
        char *role_ns; /* where its role is: its own namespace, or "" */
        char *role_name;
};

/* The bindings that name one subject, by index into rbac.bindings. */
struct subject_entry {
        enum subject_kind kind;
        char *name;
        size_t *bindings;
        size_t n, cap;
};

struct rbac {
        struct role **roles;
        size_t n_roles, cap_roles;
        struct binding **bindings;
        size_t n_bindings, cap_bindings;
        void *role_index;    /* struct role * by (ns, name) */
        void *subject_index; /* struct subject_entry * by (kind, name) */
};

/* ---- verbs ----------------------------------------------------------------- */

const char *const *rbac_verbs(void)
{
        return role_verbs();
}

bool rbac_verb_is_valid(const char *verb)
{
        return role_verb_from_string(verb) >= 0;
}

/* ---- the built-in ClusterRoles ----------------------------------------------- */

#define VERB(v) (1u << ROLE_VERB_##v)

static const char *const every_resource[] = {RBAC_WILDCARD, NULL};
static const char *const workloads[] = {"tasks",    "workflows", "crontasks",
                                        "services", "sources",   NULL};
static const char *const rbac_objects[] = {"roles", "rolebindings", NULL};
/* What happened to the workloads: read by whoever may read them (berthd
 * writes Events; as in Kubernetes' edit and view roles). */
static const char *const records[] = {"events", NULL};

static const struct builtin_role {
        const char *name;
        struct builtin_rule {
                unsigned verbs;
                const char *const *resources;
        } rules[3];
} builtin_roles[] = {
    {"admin", {{ROLE_VERBS_ALL, every_resource}}},
    {"edit",
     {{ROLE_VERBS_ALL, workloads},
      {VERB(GET) | VERB(LIST) | VERB(WATCH), rbac_objects},
      {VERB(GET) | VERB(LIST) | VERB(WATCH), records}}},
    {"viewer",
     {{VERB(GET) | VERB(LIST) | VERB(WATCH) | VERB(LOGS), workloads},
      {VERB(GET) | VERB(LIST) | VERB(WATCH), records}}},
};

/* ---- the snapshot --------------------------------------------------------------- */

static int role_compare(const void *a, const void *b)
{
        const struct role *x = a, *y = b;
        int c = strcmp(x->ns, y->ns);

        return c ? c : strcmp(x->name, y->name);
}

static int subject_compare(const void *a, const void *b)
{
        const struct subject_entry *x = a, *y = b;

        if (x->kind != y->kind)
                return x->kind < y->kind ? -1 : 1;
        return strcmp(x->name, y->name);
}

static void rule_release(struct rule *rule)
{
        strv_free(rule->resources);
        strv_free(rule->names);
}

static void role_free(struct role *role)
{
        if (!role)
                return;
        for (size_t i = 0; i < role->n_rules; i++)
                rule_release(&role->rules[i]);
        free(role->rules);
        free(role->ns);
        free(role->name);
        free(role);
}

static void role_freep(struct role **role)
{
        role_free(*role);
}

static void binding_free(struct binding *b)
{
        if (!b)
                return;
        free(b->ns);
        free(b->name);
        free(b->role_ns);
        free(b->role_name);
        free(b);
}

static void binding_freep(struct binding **b)
{
        binding_free(*b);
}

static void subject_entry_free(void *p)
{
        struct subject_entry *e = p;

        free(e->name);
        free(e->bindings);
        free(e);
}

/* The tree owns no roles: r->roles does. */
static void no_free(void *p)
{
        (void)p;
}

void rbac_free(struct rbac *r)
{
        if (!r)
                return;
        tdestroy(r->role_index, no_free);
        tdestroy(r->subject_index, subject_entry_free);
        for (size_t i = 0; i < r->n_roles; i++)
                role_free(r->roles[i]);
        for (size_t i = 0; i < r->n_bindings; i++)
                binding_free(r->bindings[i]);
        free(r->roles);
        free(r->bindings);
        free(r);
}

/* Room for one more entry of size bytes in *v (n used of *cap). -ENOMEM. */
static int grow(void *v, size_t n, size_t *cap, size_t size)
{
        void **p = v;
        size_t want = *cap ? *cap * 2 : 8;
        void *bigger;

        if (n < *cap)
                return 0;
        bigger = reallocarray(*p, want, size);
        if (!bigger)
                return -ENOMEM;
        *p = bigger;
        *cap = want;
        return 0;
}

/* A NULL-terminated copy of n strings; NULL when out of memory. */
static char **strv_copy(const char *const *v, size_t n)
{
        char **copy = calloc(n + 1, sizeof(*copy));

        for (size_t i = 0; copy && i < n; i++) {
                copy[i] = strdup(v[i]);
                if (!copy[i]) {
                        strv_free(copy);
                        return NULL;
                }
        }
        return copy;
}

/* A role with n rules to fill, or NULL. */
static struct role *role_alloc(const char *ns, const char *name, size_t n_rules)
{
        _cleanup_(role_freep) struct role *role = calloc(1, sizeof(*role));

        if (!role)
                return NULL;
        role->ns = strdup(ns);
        role->name = strdup(name);
        role->rules = n_rules ? calloc(n_rules, sizeof(*role->rules)) : NULL;
        if (!role->ns || !role->name || (n_rules && !role->rules))
                return NULL;
        return TAKE_PTR(role);
}

/* Indexes role and takes it (on success only). -EEXIST when a role of its
 * namespace and name is there; err says so. */
static int insert_role(struct rbac *r, struct role *role, const char *kind, struct berth_error *err)
{
        struct role **node;

        if (grow(&r->roles, r->n_roles, &r->cap_roles, sizeof(*r->roles)) < 0)
                return berth_error_set(err, -ENOMEM, "out of memory");
        node = tsearch(role, &r->role_index, role_compare);
        if (!node)
                return berth_error_set(err, -ENOMEM, "out of memory");
        if (*node != role) {
                if ((*node)->builtin)
                        return berth_error_set(err, -EEXIST,
                                               "ClusterRole %s is built in: the stored one is "
                                               "ignored",
                                               role->name);
                if (!*role->ns)
                        return berth_error_set(err, -EEXIST, "ClusterRole %s was added already",
                                               role->name);
                return berth_error_set(err, -EEXIST, "%s %s/%s was added already", kind, role->ns,
                                       role->name);
        }
        r->roles[r->n_roles++] = role;
        return 0;
}

static void rbac_freep(struct rbac **r)
{
        rbac_free(*r);
}

static int add_builtin(struct rbac *r, const struct builtin_role *b)
{
        _cleanup_(role_freep) struct role *role = NULL;
        size_t n = 0;

        while (n < ARRAY_SIZE(b->rules) && b->rules[n].verbs)
                n++;
        role = role_alloc("", b->name, n);
        if (!role)
                return -ENOMEM;
        role->builtin = true;
        for (size_t i = 0; i < n; i++) {
                struct rule *rule = &role->rules[role->n_rules++];
                size_t n_resources = 0;

                while (b->rules[i].resources[n_resources])
                        n_resources++;
                rule->verbs = b->rules[i].verbs;
                rule->resources = strv_copy(b->rules[i].resources, n_resources);
                if (!rule->resources)
                        return -ENOMEM;
        }
        if (insert_role(r, role, "ClusterRole", NULL) < 0)
                return -ENOMEM; /* the built-ins have different names */
        TAKE_PTR(role);
        return 0;
}

int rbac_new(struct rbac **ret)
{
        _cleanup_(rbac_freep) struct rbac *r = calloc(1, sizeof(*r));

        if (!r)
                return -ENOMEM;
        for (size_t i = 0; i < ARRAY_SIZE(builtin_roles); i++)
                if (add_builtin(r, &builtin_roles[i]) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(r);
        return 0;
}

/* metadata.name and, for a namespaced kind, metadata.namespace (else ""),
 * which must be names. -EINVAL (err). */
static int object_names(const json_t *object, const char *kind, bool namespaced,
                        const char **ret_ns, const char **ret_name, struct berth_error *err)
{
        const char *name = json_path_string(object, "metadata.name");
        const char *ns = namespaced ? json_path_string(object, "metadata.namespace") : "";

        if (!name_is_valid(name))
                return berth_error_set(err, -EINVAL, "%s: metadata.name: not a valid name", kind);
        if (namespaced && !name_is_valid(ns))
                return berth_error_set(err, -EINVAL, "%s %s: metadata.namespace: not a valid name",
                                       kind, name);
        *ret_ns = ns;
        *ret_name = name;
        return 0;
}

/* Where an error about the object kind ns/name (name for a cluster-scoped
 * one) happened. */
static void prefix_object(struct berth_error *err, const char *kind, const char *ns,
                          const char *name)
{
        if (*ns)
                berth_error_prefix(err, "%s %s/%s", kind, ns, name);
        else
                berth_error_prefix(err, "%s %s", kind, name);
}

static int add_role(struct rbac *r, const json_t *object, const char *kind, bool cluster,
                    struct berth_error *err)
{
        _cleanup_(role_spec_release) struct role_spec spec = {0};
        _cleanup_(role_freep) struct role *role = NULL;
        const char *ns = "", *name = ""; /* set by object_names */
        int k;

        k = object_names(object, kind, !cluster, &ns, &name, err);
        if (k < 0)
                return k;
        k = role_spec_decode(object, &spec, err);
        if (k < 0) {
                prefix_object(err, kind, ns, name);
                return k;
        }
        role = role_alloc(ns, name, spec.n_rules);
        if (!role)
                return berth_error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < spec.n_rules; i++) {
                const struct role_rule *from = &spec.rules[i];
                struct rule *to = &role->rules[role->n_rules++];

                to->verbs = from->verbs;
                to->resources = strv_copy(from->resources, from->n_resources);
                if (from->n_resource_names)
                        to->names = strv_copy(from->resource_names, from->n_resource_names);
                if (!to->resources || (from->n_resource_names && !to->names))
                        return berth_error_set(err, -ENOMEM, "out of memory");
        }
        k = insert_role(r, role, kind, err);
        if (k < 0)
                return k;
        TAKE_PTR(role);
        return 0;
}

/* The index entry of a subject, made when there is none; NULL when out of
 * memory. */
static struct subject_entry *subject_entry_get(struct rbac *r, enum subject_kind kind,
                                               const char *name)
{
        struct subject_entry probe = {.kind = kind, .name = (char *)name}, *e, **node;

        node = tfind(&probe, &r->subject_index, subject_compare);
        if (node)
                return *node;
        e = calloc(1, sizeof(*e));
        if (!e)
                return NULL;
        e->kind = kind;
        e->name = strdup(name);
        node = e->name ? tsearch(e, &r->subject_index, subject_compare) : NULL;
        if (!node) {
                subject_entry_free(e);
                return NULL;
        }
        return e;
}

static int add_binding(struct rbac *r, const json_t *object, const char *kind, bool cluster,
                       struct berth_error *err)
{
        struct rolebinding_spec spec;
        _cleanup_(binding_freep) struct binding *b = NULL;
        const char *ns = "", *name = ""; /* set by object_names */
        size_t index;
        int k;

        k = object_names(object, kind, !cluster, &ns, &name, err);
        if (k < 0)
                return k;
        k = rolebinding_spec_decode(object, &spec, err);
        if (k < 0) {
                prefix_object(err, kind, ns, name);
                return k;
        }
        b = calloc(1, sizeof(*b));
        if (!b)
                return berth_error_set(err, -ENOMEM, "out of memory");
        b->ns = strdup(ns);
        b->name = strdup(name);
        b->role_kind = spec.role_kind;
        /* A Role is looked up in the binding's namespace; a ClusterRole
         * ("" as namespace) everywhere. */
        b->role_ns = strdup(spec.role_kind == ROLE_REF_ROLE ? ns : "");
        b->role_name = strdup(spec.role_name);
        if (!b->ns || !b->name || !b->role_ns || !b->role_name ||
            grow(&r->bindings, r->n_bindings, &r->cap_bindings, sizeof(*r->bindings)) < 0)
                return berth_error_set(err, -ENOMEM, "out of memory");
        index = r->n_bindings;
        r->bindings[r->n_bindings++] = TAKE_PTR(b);
        /* From here on an allocation failure leaves the binding granting to
         * some of its subjects only: less than it says, never more. */
        for (size_t i = 0; i < spec.n_subjects; i++) {
                struct subject_entry *e =
                    subject_entry_get(r, spec.subjects[i].kind, spec.subjects[i].name);

                if (!e || grow(&e->bindings, e->n, &e->cap, sizeof(*e->bindings)) < 0)
                        return berth_error_set(err, -ENOMEM, "out of memory");
                e->bindings[e->n++] = index;
        }
        return 0;
}

int rbac_add(struct rbac *r, const json_t *object, struct berth_error *err)
{
        const char *kind = json_string_value(json_object_get(object, "kind"));

        if (!r || !json_is_object(object))
                return berth_error_set(err, -EINVAL, "not an object");
        if (streq(kind, "Role"))
                return add_role(r, object, kind, false, err);
        if (streq(kind, "ClusterRole"))
                return add_role(r, object, kind, true, err);
        if (streq(kind, "RoleBinding"))
                return add_binding(r, object, kind, false, err);
        if (streq(kind, "ClusterRoleBinding"))
                return add_binding(r, object, kind, true, err);
        return berth_error_set(err, -EINVAL,
                               "%s is not a Role, ClusterRole, RoleBinding or "
                               "ClusterRoleBinding",
                               kind ? kind : "an object without a kind");
}

/* ---- walking a subject's grants ----------------------------------------------- */

/* A rule that concerns a subject, and why. */
struct grant {
        const struct binding *binding;
        const struct role *role;
        const struct rule *rule;
};

#define WHO_MAX 128 /* bytes of the subject's description in a reason */

struct rbac_view {
        const char *admin; /* how the subject is an administrator, or NULL */
        char who[WHO_MAX]; /* "user \"bob\" (groups dev, ops)" */
        struct grant *grants;
        size_t n_grants;
};

/* The grants of a subject, one at a time: a view's, or, without one, what
 * the indexes give. A binding that names the user and one of its groups
 * comes twice then: harmless, every question is whether one grant fits. */
struct grant_walk {
        const struct rbac_view *view;
        size_t next; /* view: the next grant */
        const struct rbac *r;
        const struct rbac_subject *who;
        size_t subject; /* the next to look up: 0 the user, 1 + i group i */
        const struct subject_entry *entry;
        size_t binding; /* the next of entry's bindings */
        const struct binding *b;
        const struct role *role; /* b's, or NULL */
        size_t rule;             /* the next of role's rules */
};

static struct grant_walk walk_subject(const struct rbac *r, const struct rbac_subject *who)
{
        return (struct grant_walk){.r = r, .who = who};
}

static struct grant_walk walk_view(const struct rbac_view *v)
{
        return (struct grant_walk){.view = v};
}

static const struct subject_entry *entry_of(const struct rbac *r, enum subject_kind kind,
                                            const char *name)
{
        struct subject_entry probe = {.kind = kind, .name = (char *)name};
        struct subject_entry **node;

        if (!name || !*name)
                return NULL;
        node = tfind(&probe, &r->subject_index, subject_compare);
        return node ? *node : NULL;
}

/* A binding's role, or NULL when it does not exist. */
static const struct role *role_of(const struct rbac *r, const struct binding *b)
{
        struct role probe = {.ns = b->role_ns, .name = b->role_name};
        struct role **node = tfind(&probe, &r->role_index, role_compare);

        return node ? *node : NULL;
}

static bool walk_next(struct grant_walk *w, struct grant *ret)
{
        if (w->view) {
                if (w->next == w->view->n_grants)
                        return false;
                *ret = w->view->grants[w->next++];
                return true;
        }
        for (;;) {
                if (w->role && w->rule < w->role->n_rules) {
                        *ret = (struct grant){w->b, w->role, &w->role->rules[w->rule++]};
                        return true;
                }
                if (w->entry && w->binding < w->entry->n) {
                        w->b = w->r->bindings[w->entry->bindings[w->binding++]];
                        w->role = role_of(w->r, w->b);
                        w->rule = 0;
                        continue;
                }
                if (w->subject > w->who->n_groups)
                        return false;
                w->entry = w->subject == 0
                               ? entry_of(w->r, SUBJECT_USER, w->who->user)
                               : entry_of(w->r, SUBJECT_GROUP, w->who->groups[w->subject - 1]);
                w->subject++;
                w->binding = 0;
                w->role = NULL;
        }
}

/* How who is an administrator ("user system:admin"), or NULL. */
static const char *admin_of(const struct rbac_subject *who)
{
        if (streq(who->user, RBAC_ADMIN_USER))
                return "user " RBAC_ADMIN_USER;
        for (size_t i = 0; i < who->n_groups; i++)
                if (streq(who->groups[i], RBAC_ADMIN_GROUP))
                        return "group " RBAC_ADMIN_GROUP;
        return NULL;
}

/* "user \"bob\" (groups dev, ops)", cut with "..." to fit. */
static void describe_subject(const struct rbac_subject *who, char out[WHO_MAX])
{
        size_t used;
        int n;

        if (who->user && *who->user)
                n = snprintf(out, WHO_MAX, "user \"%s\"", who->user);
        else
                n = snprintf(out, WHO_MAX, "anonymous");
        for (size_t i = 0; n >= 0 && (size_t)n < WHO_MAX && i < who->n_groups; i++) {
                used = (size_t)n;
                n += snprintf(out + used, WHO_MAX - used, "%s%s%s", i ? ", " : " (groups ",
                              who->groups[i], i + 1 == who->n_groups ? ")" : "");
        }
        if (n < 0 || (size_t)n >= WHO_MAX)
                memcpy(out + WHO_MAX - 4, "...", 4);
}

/* ---- the decision ------------------------------------------------------------------- */

/* Whether rule names verb and resource, whatever its resourceNames. */
static bool rule_covers(const struct rule *rule, unsigned verb, const char *resource)
{
        if (!(rule->verbs & verb))
                return false;
        for (char **res = rule->resources; *res; res++)
                if (streq(*res, RBAC_WILDCARD) || streq(*res, resource))
                        return true;
        return false;
}

/* Whether rule allows verb on the object name of resource (NULL: the
 * collection). */
static bool rule_allows(const struct rule *rule, unsigned verb, const char *resource,
                        const char *name)
{
        if (!rule_covers(rule, verb, resource))
                return false;
        return !rule->names || (name && strv_contains((const char *const *)rule->names, name));
}

/* Whether the grant's binding may grant anything on resource: a Policy
 * relaxes what containers may do to the host, so only a ClusterRoleBinding
 * grants policies — a namespace's own admin (the admin ClusterRole bound by
 * a RoleBinding) must not make that namespace root on the host. */
static bool binding_covers(const struct grant *g, const char *resource)
{
        return !*g->binding->ns || !streq(resource, RBAC_CLUSTER_ONLY_RESOURCE);
}

/* Whether the grant's binding reaches namespace ns for resource. */
static bool grant_reaches(const struct grant *g, const char *ns, const char *resource)
{
        return binding_covers(g, resource) && (!*g->binding->ns || streq(g->binding->ns, ns));
}

/* The first grant allowing the request (*ret), or false. */
static bool find_grant(struct grant_walk *w, unsigned verb, const char *resource, const char *ns,
                       const char *name, struct grant *ret)
{
        struct grant g;

        while (walk_next(w, &g))
                if (grant_reaches(&g, ns, resource) && rule_allows(g.rule, verb, resource, name)) {
                        *ret = g;
                        return true;
                }
        return false;
}

/* The bit of verb, or 0 when it is none. */
static unsigned verb_bit(const char *verb)
{
        int v = role_verb_from_string(verb);

        return v >= 0 ? 1u << v : 0;
}

static bool cluster_scoped(const char *resource)
{
        const struct kind_info *k = kind_lookup(resource);

        return k && streq(k->resource, resource) && !k->namespaced;
}

/* The namespace a request is judged in: "" for NULL, and always "" for a
 * cluster-scoped resource, whatever the caller passed (an object's stray
 * metadata.namespace), so that a RoleBinding never reaches one. */
static const char *request_ns(const char *resource, const char *ns)
{
        return !ns || cluster_scoped(resource) ? "" : ns;
}

/* Sets *ret; the reason is cut to fit (RBAC_REASON_MAX). */
_printf_(3, 4) static void decide(struct rbac_decision *ret, bool allowed, const char *fmt, ...)
{
        va_list ap;

        ret->allowed = allowed;
        va_start(ap, fmt);
        (void)vsnprintf(ret->reason, sizeof(ret->reason), fmt, ap);
        va_end(ap);
}

/* The decision over the grants w walks, for the subject who (described by
 * who_text when not NULL), an administrator when admin is not NULL. */
static void authorize(struct grant_walk *w, const char *admin, const struct rbac_subject *who,
                      const char *who_text, const char *verb, const char *resource, const char *ns,
                      const char *name, struct rbac_decision *ret)
{
        unsigned bit = verb_bit(verb);
        char described[WHO_MAX];
        struct grant g;

        resource = resource ? resource : "";
        ns = request_ns(resource, ns);
        if (!bit) {
                decide(ret, false, "unknown verb \"%s\"", verb ? verb : "");
        } else if (admin) {
                decide(ret, true, "allowed: %s may do everything", admin);
        } else if (find_grant(w, bit, resource, ns, name, &g)) {
                if (*g.binding->ns)
                        decide(ret, true, "allowed by RoleBinding %s in namespace %s (%s %s)",
                               g.binding->name, g.binding->ns,
                               role_ref_kind_to_string(g.binding->role_kind), g.role->name);
                else
                        decide(ret, true, "allowed by ClusterRoleBinding %s (%s %s)",
                               g.binding->name, role_ref_kind_to_string(g.binding->role_kind),
                               g.role->name);
        } else {
                const char *where = *ns                         ? " in namespace \""
                                    : !cluster_scoped(resource) ? " in all namespaces"
                                                                : "";

                if (!who_text) {
                        describe_subject(who, described);
                        who_text = described;
                }
                decide(ret, false, "%s cannot %s %s%s%s%s%s%s%s", who_text, verb, resource,
                       name ? " \"" : "", name ? name : "", name ? "\"" : "", where, *ns ? ns : "",
                       *ns ? "\"" : "");
        }
}

static enum rbac_scope list_scope(struct grant_walk *w, const char *admin, const char *verb,
                                  const char *resource, const char *ns)
{
        unsigned bit = verb_bit(verb);
        bool some = false, across;
        struct grant g;

        if (!bit || !resource)
                return RBAC_NONE;
        ns = request_ns(resource, ns);
        if (admin)
                return RBAC_ALL;
        /* A list across namespaces sees a RoleBinding's namespace, but a
         * RoleBinding never reaches cluster-scoped objects. */
        across = !*ns && !cluster_scoped(resource);
        while (walk_next(w, &g)) {
                if (!rule_covers(g.rule, bit, resource) || !binding_covers(&g, resource))
                        continue;
                if (grant_reaches(&g, ns, resource)) {
                        if (!g.rule->names)
                                return RBAC_ALL;
                        some = true;
                } else if (across) {
                        some = true;
                }
        }
        return some ? RBAC_SOME : RBAC_NONE;
}

static bool visible(struct grant_walk *w, const char *admin, const char *verb, const char *resource,
                    const char *ns, const char *name)
{
        unsigned bit = verb_bit(verb);
        struct grant g;

        if (!bit || !resource)
                return false;
        return admin || find_grant(w, bit, resource, request_ns(resource, ns), name, &g);
}

void rbac_authorize(const struct rbac *r, const struct rbac_subject *who, const char *verb,
                    const char *resource, const char *ns, const char *name,
                    struct rbac_decision *ret)
{
        struct grant_walk w = walk_subject(r, who);

        authorize(&w, admin_of(who), who, NULL, verb, resource, ns, name, ret);
}

enum rbac_scope rbac_list_scope(const struct rbac *r, const struct rbac_subject *who,
                                const char *verb, const char *resource, const char *ns)
{
        struct grant_walk w = walk_subject(r, who);

        return list_scope(&w, admin_of(who), verb, resource, ns);
}

bool rbac_visible(const struct rbac *r, const struct rbac_subject *who, const char *verb,
                  const char *resource, const char *ns, const char *name)
{
        struct grant_walk w = walk_subject(r, who);

        return visible(&w, admin_of(who), verb, resource, ns, name);
}

/* ---- views --------------------------------------------------------------------------- */

int rbac_view_new(const struct rbac *r, const struct rbac_subject *who, struct rbac_view **ret)
{
        _cleanup_free_ struct rbac_view *v = calloc(1, sizeof(*v));
        struct grant_walk w;
        struct grant g;
        size_t n = 0;

        if (!v)
                return -ENOMEM;
        describe_subject(who, v->who);
        v->admin = admin_of(who);
        if (!v->admin) {
                for (w = walk_subject(r, who); walk_next(&w, &g);)
                        n++;
                v->grants = n ? calloc(n, sizeof(*v->grants)) : NULL;
                if (n && !v->grants)
                        return -ENOMEM;
                for (w = walk_subject(r, who); v->n_grants < n && walk_next(&w, &g);)
                        v->grants[v->n_grants++] = g;
        }
        *ret = TAKE_PTR(v);
        return 0;
}

void rbac_view_free(struct rbac_view *v)
{
        if (!v)
                return;
        free(v->grants);
        free(v);
}

void rbac_view_authorize(const struct rbac_view *v, const char *verb, const char *resource,
                         const char *ns, const char *name, struct rbac_decision *ret)
{
        struct grant_walk w = walk_view(v);

        authorize(&w, v->admin, NULL, v->who, verb, resource, ns, name, ret);
}

enum rbac_scope rbac_view_list_scope(const struct rbac_view *v, const char *verb,
                                     const char *resource, const char *ns)
{
        struct grant_walk w = walk_view(v);

        return list_scope(&w, v->admin, verb, resource, ns);
}

bool rbac_view_visible(const struct rbac_view *v, const char *verb, const char *resource,
                       const char *ns, const char *name)
{
        struct grant_walk w = walk_view(v);

        return visible(&w, v->admin, verb, resource, ns, name);
}
