/* api: authorization — who may do what (docs/reference/rbac.md), and the
 * endpoints that tell: auth/whoami and auth/can-i.
 *
 * Decisions come from auth/'s RBAC over the Roles, ClusterRoles and their
 * bindings in the object cache. The compiled snapshot is rebuilt when those
 * objects changed: every decision first lists them (a few binary searches
 * and reference counts) and compares their number and newest
 * resourceVersion with the snapshot's — so a binding the API has just
 * written answers the very next request, with no subscription racing the
 * writer's read-your-writes wait.
 *
 * system:admin (root on the unix socket, the admin token, a token or
 * certificate for that user or the group system:admins) skips RBAC.
 * Threads: the loop and the writer threads decide; the snapshot is swapped
 * and read under the lock.
 */
#include "api-internal.h"

#include <pthread.h>

#include "auth.h"

static const char *const rbac_resources[] = {"roles", "rolebindings", "clusterroles",
                                             "clusterrolebindings"};

struct api_authz {
        pthread_mutex_t lock;
        struct rbac *rbac;
        size_t n_objects; /* what it was built from */
        int64_t max_rv;
};

int api_authz_new(struct api_authz **ret)
{
        struct api_authz *a = calloc(1, sizeof(*a));

        if (!a)
                return -ENOMEM;
        pthread_mutex_init(&a->lock, NULL);
        *ret = a;
        return 0;
}

void api_authz_free(struct api_authz *a)
{
        if (!a)
                return;
        rbac_free(a->rbac);
        pthread_mutex_destroy(&a->lock);
        free(a);
}

/* Every RBAC object in the cache, one array. */
static json_t *rbac_objects(struct api_server *s)
{
        json_t *all = json_array();

        for (size_t i = 0; all && i < ARRAY_SIZE(rbac_resources); i++) {
                _cleanup_free_ char *prefix = str_printf("%s%s/", s->prefix, rbac_resources[i]);
                _cleanup_json_ json_t *some =
                    prefix ? object_cache_list(s->objects, prefix, NULL) : NULL;
                if (!some || json_array_extend(all, some) < 0) {
                        json_decref(all);
                        return NULL;
                }
        }
        return all;
}

static int64_t newest_rv(const json_t *objects)
{
        int64_t max = 0;
        size_t i;
        const json_t *o;

        json_array_foreach(objects, i, o)
        {
                const char *rv = json_path_string(o, "metadata.resourceVersion");
                int64_t v = rv ? strtoll(rv, NULL, 10) : 0;
                if (v > max)
                        max = v;
        }
        return max;
}

/* Brings the snapshot up to date; called with the lock held. An object RBAC
 * refuses (a stored ClusterRole named like a built-in) is logged and left out. */
static int refresh(struct api_server *s, struct api_authz *a)
{
        _cleanup_json_ json_t *objects = rbac_objects(s);
        if (!objects)
                return -ENOMEM;
        size_t n = json_array_size(objects);
        int64_t rv = newest_rv(objects);
        if (a->rbac && n == a->n_objects && rv == a->max_rv)
                return 0;

        struct rbac *r = NULL;
        int rc = rbac_new(&r);
        if (rc < 0)
                return rc;
        size_t i;
        const json_t *o;
        json_array_foreach(objects, i, o)
        {
                struct berth_error err = {0};
                if (rbac_add(r, o, &err) < 0)
                        log_warn("rbac: %s %s ignored: %s",
                                 json_string_value(json_object_get(o, "kind")),
                                 json_path_string(o, "metadata.name"), err.message);
        }
        rbac_free(a->rbac);
        a->rbac = r;
        a->n_objects = n;
        a->max_rv = rv;
        return 0;
}

static struct rbac_subject subject_of(const struct api_identity *who, const char **groups)
{
        for (size_t i = 0; i < who->n_groups; i++)
                groups[i] = who->groups[i];
        return (struct rbac_subject){
            .user = who->user, .groups = groups, .n_groups = who->n_groups};
}

void api_authz_decide(struct api_server *s, const struct api_identity *who, const char *verb,
                      const char *resource, const char *ns, const char *name,
                      struct rbac_decision *ret)
{
        const char *groups[API_IDENTITY_GROUPS_MAX];
        struct rbac_subject subj = subject_of(who, groups);
        struct api_authz *a = s->authz;

        pthread_mutex_lock(&a->lock);
        if (refresh(s, a) < 0 && !a->rbac) {
                pthread_mutex_unlock(&a->lock);
                *ret = (struct rbac_decision){.allowed = false};
                snprintf(ret->reason, sizeof(ret->reason),
                         "authorization unavailable: out of memory");
                return;
        }
        rbac_authorize(a->rbac, &subj, verb, resource, ns ? ns : "", name, ret);
        pthread_mutex_unlock(&a->lock);
}

bool api_authorize(struct api_server *s, const struct api_identity *who, const char *verb,
                   const char *resource, const char *ns, const char *name, struct api_error *err)
{
        struct rbac_decision d;

        if (who->admin)
                return true;
        api_authz_decide(s, who, verb, resource, ns, name, &d);
        if (d.allowed)
                return true;
        api_error_set_reason(err, 403, "Forbidden", "%s", d.reason);
        return false;
}

int api_authz_list_begin(struct api_server *s, const struct api_identity *who, const char *verb,
                         const char *resource, const char *ns, struct api_list_filter *ret,
                         struct api_error *err)
{
        *ret = (struct api_list_filter){.scope = RBAC_ALL, .who = *who};
        (void)str_copy(ret->verb, sizeof(ret->verb), verb);
        (void)str_copy(ret->resource, sizeof(ret->resource), resource);
        if (who->admin)
                return 0;

        const char *groups[API_IDENTITY_GROUPS_MAX];
        struct rbac_subject subj = subject_of(who, groups);
        struct api_authz *a = s->authz;
        pthread_mutex_lock(&a->lock);
        if (refresh(s, a) < 0 && !a->rbac) {
                pthread_mutex_unlock(&a->lock);
                return api_error_set(err, 500, "authorization unavailable: out of memory");
        }
        ret->scope = rbac_list_scope(a->rbac, &subj, verb, resource, ns ? ns : "");
        pthread_mutex_unlock(&a->lock);
        if (ret->scope == RBAC_NONE) {
                struct rbac_decision d;
                api_authz_decide(s, who, verb, resource, ns, NULL, &d);
                return api_error_set_reason(err, 403, "Forbidden", "%s", d.reason);
        }
        return 0;
}

bool api_authz_visible_name(struct api_server *s, const struct api_list_filter *f, const char *ns,
                            const char *name)
{
        if (f->scope == RBAC_ALL)
                return true;
        const char *groups[API_IDENTITY_GROUPS_MAX];
        struct rbac_subject subj = subject_of(&f->who, groups);
        struct api_authz *a = s->authz;

        pthread_mutex_lock(&a->lock);
        (void)refresh(s, a);
        bool v = a->rbac && name && *name &&
                 rbac_visible(a->rbac, &subj, f->verb, f->resource, ns ? ns : "", name);
        pthread_mutex_unlock(&a->lock);
        return v;
}

bool api_authz_visible(struct api_server *s, const struct api_list_filter *f, const json_t *obj)
{
        return api_authz_visible_name(s, f, json_path_string(obj, "metadata.namespace"),
                                      json_path_string(obj, "metadata.name"));
}

int api_authz_filter_blobs(struct api_server *s, const struct api_list_filter *f,
                           const struct object_blob **v, size_t *n)
{
        if (f->scope == RBAC_ALL)
                return 0;
        const char *groups[API_IDENTITY_GROUPS_MAX];
        struct rbac_subject subj = subject_of(&f->who, groups);
        struct api_authz *a = s->authz;
        struct rbac_view *view = NULL;
        size_t kept = 0;
        int rc;

        pthread_mutex_lock(&a->lock);
        (void)refresh(s, a);
        rc = a->rbac ? rbac_view_new(a->rbac, &subj, &view) : -ENOMEM;
        for (size_t i = 0; i < *n; i++) {
                const struct object_blob *b = v[i];
                if (rc == 0 && *b->name &&
                    rbac_view_visible(view, f->verb, f->resource, b->ns, b->name))
                        v[kept++] = b;
                else
                        object_blob_unref(b); /* nothing rather than too much on OOM */
        }
        rbac_view_free(view);
        pthread_mutex_unlock(&a->lock);
        *n = kept;
        return rc;
}

int api_authz_filter(struct api_server *s, const struct api_list_filter *f, json_t *items)
{
        if (f->scope == RBAC_ALL)
                return 0;
        const char *groups[API_IDENTITY_GROUPS_MAX];
        struct rbac_subject subj = subject_of(&f->who, groups);
        struct api_authz *a = s->authz;
        struct rbac_view *view = NULL;
        size_t kept = 0;
        int rc;

        pthread_mutex_lock(&a->lock);
        (void)refresh(s, a);
        /* The subject's grants looked up once for the whole list. */
        rc = a->rbac ? rbac_view_new(a->rbac, &subj, &view) : -ENOMEM;
        for (size_t i = 0; rc == 0 && i < json_array_size(items); i++) {
                json_t *o = json_array_get(items, i);
                const char *ns = json_path_string(o, "metadata.namespace");
                const char *name = json_path_string(o, "metadata.name");
                if (name && rbac_view_visible(view, f->verb, f->resource, ns ? ns : "", name))
                        json_array_set(items, kept++, o);
        }
        rbac_view_free(view);
        pthread_mutex_unlock(&a->lock);
        if (rc < 0)
                kept = 0; /* nothing rather than too much */
        while (json_array_size(items) > kept)
                json_array_remove(items, json_array_size(items) - 1);
        return rc;
}

/* ---- whoami and can-i ------------------------------------------------------ */

void api_handle_whoami(struct api_server *s, struct evhttp_request *req,
                       const struct api_identity *id)
{
        static const char *const authn[] = {
            [API_AUTHN_NONE] = "none",
            [API_AUTHN_UNIX] = "unix",
            [API_AUTHN_TOKEN] = "token",
            [API_AUTHN_CERTIFICATE] = "certificate",
        };
        _cleanup_json_ json_t *groups = json_array();
        for (size_t i = 0; groups && i < id->n_groups; i++)
                json_array_append_new(groups, json_string(id->groups[i]));
        _cleanup_json_ json_t *o =
            json_pack("{s:s, s:O, s:s, s:b}", "user", id->user, "groups", groups, "authenticatedBy",
                      authn[id->authn], "admin", id->admin);
        if (!o) {
                api_send_text(s, req, 500, "out of memory");
                return;
        }
        api_send_json(s, req, 200, o);
}

/* GET .../auth/can-i?verb=&resource=[&namespace=][&name=][&as=][&asGroup=]...:
 * the same decision enforcement makes. Asking for someone else (as) is for
 * admins. */
void api_handle_can_i(struct api_server *s, struct evhttp_request *req, const struct api_route *r,
                      const struct api_identity *id, struct api_error *err)
{
        const char *verb = api_route_param(r, "verb");
        const char *resource = api_route_param(r, "resource");
        const char *ns = api_route_param(r, "namespace");
        const char *name = api_route_param(r, "name");
        const char *as = api_route_param(r, "as");
        struct api_identity who = *id;

        if (!verb || !rbac_verb_is_valid(verb)) {
                api_error_set(err, 400, "unknown verb \"%s\": one of %s", verb ? verb : "",
                              RBAC_VERBS_TEXT);
                return;
        }
        const struct kind_info *k =
            resource && !streq(resource, "*") ? kind_lookup(resource) : NULL;
        if (!resource || (!k && !streq(resource, "*"))) {
                api_error_set(err, 400, "unknown resource \"%s\"", resource ? resource : "");
                return;
        }
        if (ns && *ns && !name_is_valid(ns)) {
                api_error_set(err, 400, "invalid namespace \"%s\"", ns);
                return;
        }
        if (as) {
                if (!id->admin) {
                        api_error_set_reason(err, 403, "Forbidden",
                                             "only an admin may ask for another user (as)");
                        return;
                }
                who = (struct api_identity){.authn = API_AUTHN_NONE};
                (void)str_copy(who.user, sizeof(who.user), as);
                for (size_t i = 0; i < r->n_params && who.n_groups < API_IDENTITY_GROUPS_MAX; i++)
                        if (streq(r->params[i].key, "asGroup"))
                                (void)str_copy(who.groups[who.n_groups++], API_IDENTITY_NAME_MAX,
                                               r->params[i].value);
                api_identity_set_admin(&who);
        }
        struct rbac_decision d = {.allowed = true};
        const char *res = k ? k->resource : "*";
        const char *where = k && !k->namespaced ? "" : ns;
        struct api_list_filter f;
        struct api_error lerr = {0};
        if (who.admin) {
                snprintf(d.reason, sizeof(d.reason), "%s is an admin", who.user);
        } else if (!name && (streq(verb, "list") || streq(verb, "watch"))) {
                /* As enforced: a list answers with what the caller may see. */
                d.allowed = api_authz_list_begin(s, &who, verb, res, where, &f, &lerr) == 0;
                if (!d.allowed)
                        (void)str_copy(d.reason, sizeof(d.reason), lerr.message);
                else if (f.scope == RBAC_SOME)
                        snprintf(d.reason, sizeof(d.reason),
                                 "allowed for some objects: the %s shows only those", verb);
                api_error_release(&lerr);
        } else {
                api_authz_decide(s, &who, verb, res, where, name, &d);
        }
        _cleanup_json_ json_t *o =
            json_pack("{s:b, s:s}", "allowed", d.allowed, "reason", d.reason);
        if (!o) {
                api_error_set(err, 500, "out of memory");
                return;
        }
        api_send_json(s, req, 200, o);
}
