/* auth: who may do what through the API — the RBAC decision.
 *
 * Pure: no I/O, no clock, no locking, no logging. The server builds a
 * struct rbac from the Role, ClusterRole, RoleBinding and ClusterRoleBinding
 * objects of its cache (again whenever one of them changes) and shares it
 * with every request; a request asks it, or a view of it for one subject,
 * whether a verb on a resource is allowed.
 *
 * The rules (docs/reference/rbac.md):
 * - Nothing is allowed unless a rule allows it; rules only add.
 * - A RoleBinding grants its role's rules in its own namespace only (a Role
 *   it names is the Role of that name in that namespace). A
 *   ClusterRoleBinding grants a ClusterRole's rules in every namespace and
 *   on cluster-scoped resources. A binding whose role does not exist grants
 *   nothing.
 * - "*" in a rule's verbs or resources means all of them. A rule with
 *   resourceNames allows only requests that name one of those objects (get,
 *   update, delete, logs, trigger; a create only when the caller passes the
 *   new object's name). It never allows a whole collection: for list and
 *   watch it makes the scope RBAC_SOME.
 * - The built-in ClusterRoles are always there and a stored ClusterRole
 *   cannot replace them: admin (every verb on every resource), edit (every
 *   verb on tasks, workflows, crontasks, services and sources; get, list and
 *   watch on roles and rolebindings) and viewer (get, list, watch and logs on
 *   tasks, workflows, crontasks, services and sources).
 * - A RoleBinding never grants RBAC_CLUSTER_ONLY_RESOURCE (policies).
 * - The user RBAC_ADMIN_USER and every member of RBAC_ADMIN_GROUP may do
 *   everything, whatever is stored.
 *
 * Cost, with s the users and groups that bindings name, r the roles, b the
 * bindings naming the subject (its user or one of its groups) and g the rules
 * of their roles: rbac_add is O(log s + log r) (and the copy). A question
 * (rbac_authorize, rbac_list_scope, rbac_visible) allocates nothing and
 * costs O((1 + groups) log s + b log r + g * RBAC_LIST_MAX) string
 * compares; the other bindings and roles cost nothing. A view pays the
 * lookups once: each question on it is O(g * RBAC_LIST_MAX).
 */
#pragma once

#include "common.h"

#define RBAC_ADMIN_USER  "system:admin"
#define RBAC_ADMIN_GROUP "system:admins"
#define RBAC_REASON_MAX  256
/* Only a ClusterRoleBinding grants verbs on it (a RoleBinding's rules skip
 * it, "*" included): a Policy decides what a namespace's containers may do
 * to the host, which is not the namespace's own to give. */
#define RBAC_CLUSTER_ONLY_RESOURCE "policies"

/* The verbs a request needs and a rule grants, NULL-terminated: "get",
 * "list", "watch", "create", "update", "delete", "logs", "trigger" (the
 * wildcard "*" is none of them). Static storage. */
const char *const *rbac_verbs(void);
/* rbac_verbs() for messages ("verb must be one of " RBAC_VERBS_TEXT). */
#define RBAC_VERBS_TEXT "get, list, watch, create, update, delete, logs, trigger"
/* Whether verb is one of rbac_verbs(): what a can-i question may ask. */
bool rbac_verb_is_valid(const char *verb);

/* A snapshot of the RBAC objects plus the built-in ClusterRoles. Built by
 * one thread (rbac_new, rbac_add); once shared, immutable: any number of
 * threads may read it, and views of it, at once. */
struct rbac;

/* With the built-in ClusterRoles only. -ENOMEM. Caller frees with
 * rbac_free(). */
int rbac_new(struct rbac **ret);
/* Adds one Role, ClusterRole, RoleBinding or ClusterRoleBinding object as
 * stored (apiVersion, kind, metadata with name and, for the namespaced two,
 * namespace; spec), copying what it needs; object stays the caller's. A
 * cluster-scoped object's metadata.namespace is ignored. Errors, with err
 * saying which object and why, leave the snapshot as it was:
 *   -EINVAL  another kind, or an object that does not check (its spec is
 *            checked as the API checks it: role_spec_decode)
 *   -EEXIST  a ClusterRole named like a built-in one (the stored one is
 *            ignored: "ClusterRole admin is built in: the stored one is
 *            ignored"), or a role added already
 *   -ENOMEM  the snapshot may hold part of the object: free it */
int rbac_add(struct rbac *r, const json_t *object, struct berth_error *err);
void rbac_free(struct rbac *r); /* NULL ok; after every view of it */

/* Who asks: a user name and its groups, borrowed for the call. user NULL or
 * "" is nobody in particular (only groups can match). */
struct rbac_subject {
        const char *user;
        const char *const *groups;
        size_t n_groups;
};

/* reason, for logs and for the user (a 403's message), e.g. "allowed by
 * ClusterRoleBinding ops (ClusterRole admin)" or "user \"bob\" (groups dev)
 * cannot delete tasks \"web\" in namespace \"prod\"". Cut at
 * RBAC_REASON_MAX - 1 bytes. */
struct rbac_decision {
        bool allowed;
        char reason[RBAC_REASON_MAX];
};

/* Whether who may do verb on resource (a kind's plural name: "tasks"), in
 * namespace ns ("" or NULL for requests across all namespaces; ignored for
 * a cluster-scoped resource, which only a ClusterRoleBinding reaches), on
 * the object name (NULL for a collection: list, watch, create by POST). An
 * unknown verb is denied. Allocates nothing. */
void rbac_authorize(const struct rbac *r, const struct rbac_subject *who, const char *verb,
                    const char *resource, const char *ns, const char *name,
                    struct rbac_decision *ret);

/* Which objects of resource in ns ("" = every namespace, and cluster-scoped
 * resources) a list or watch (verb) may return: all of them, none, or some —
 * then rbac_visible decides for each. RBAC_ALL is exactly when
 * rbac_authorize allows the collection. */
enum rbac_scope {
        RBAC_NONE,
        RBAC_SOME,
        RBAC_ALL,
};
enum rbac_scope rbac_list_scope(const struct rbac *r, const struct rbac_subject *who,
                                const char *verb, const char *resource, const char *ns);
/* Whether the object name of resource in namespace ns ("" for a
 * cluster-scoped one) is visible to verb: rbac_authorize's answer for that
 * object, without the reason. */
bool rbac_visible(const struct rbac *r, const struct rbac_subject *who, const char *verb,
                  const char *resource, const char *ns, const char *name);

/* ---- one subject's view ---------------------------------------------------- */

/* What one subject is granted, compiled once: the same three questions
 * without looking the subject up again (for filtering a long list, or
 * several questions in one request). Same answers as the functions above
 * for the same r and who. */
struct rbac_view;

/* -ENOMEM. The view borrows r (free the view first) but not who. Caller
 * frees with rbac_view_free(). */
int rbac_view_new(const struct rbac *r, const struct rbac_subject *who, struct rbac_view **ret);
void rbac_view_free(struct rbac_view *v); /* NULL ok */
void rbac_view_authorize(const struct rbac_view *v, const char *verb, const char *resource,
                         const char *ns, const char *name, struct rbac_decision *ret);
enum rbac_scope rbac_view_list_scope(const struct rbac_view *v, const char *verb,
                                     const char *resource, const char *ns);
bool rbac_view_visible(const struct rbac_view *v, const char *verb, const char *resource,
                       const char *ns, const char *name);
