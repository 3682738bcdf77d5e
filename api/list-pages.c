/* api: paged lists (?limit= and ?continue=), with Kubernetes' semantics.
 *
 * Every page of one list is read from the store at one revision, the
 * snapshot R of its first page, so a list read in pages while objects come
 * and go holds each object that existed at R exactly once. The first page
 * takes R from the object cache (what an unpaged list would show, and where
 * a watch from the list's resourceVersion starts); the continue token
 * carries R and the last key returned (continue.c). A token whose R was
 * compacted away is 410 Gone: the client relists.
 *
 * Pages come from the store, not the cache (the cache holds the present
 * only), and a store read may take a network round trip: the loop checks
 * the request (selectors, RBAC, token) and a writer thread reads the page
 * (writes.c), so the loop never blocks. Selectors and RBAC apply to what was
 * read: a page reads up to API_LIST_SCAN_MAX keys to fill limit items, and
 * may end with fewer (even none) and a continue token.
 */
#include "api-internal.h"

#include <inttypes.h>

struct api_list_page {
        const struct kind_info *kind;
        char *prefix; /* the list's store prefix, ending in '/' */
        struct api_selector labels, fields;
        struct api_list_filter rbac;
        uint8_t list_id[API_CONTINUE_ID_LEN];
        int64_t revision; /* 0: the store's current one (first page, no cache revision) */
        bool first;       /* no continue token: a compacted R is retried at 0 */
        char *after;      /* the last key of the previous page (absolute), or NULL */
        size_t limit;
};

void api_list_page_free(struct api_list_page *p)
{
        if (!p)
                return;
        free(p->prefix);
        api_selector_release(&p->labels);
        api_selector_release(&p->fields);
        free(p->after);
        free(p);
}

static void api_list_page_freep(struct api_list_page **p)
{
        api_list_page_free(*p);
}

int api_list_paged(const struct api_route *r, size_t *ret_limit, struct api_error *err)
{
        const char *l = api_route_param(r, "limit");
        const char *c = api_route_param(r, "continue");
        long long limit = 0;
        if (l) {
                char *end = NULL;
                errno = 0;
                limit = strtoll(l, &end, 10);
                if (!*l || *end || errno || limit < 0 || limit > API_LIST_LIMIT_MAX)
                        return api_error_set(err, 400,
                                             "invalid value for limit: \"%.64s\": want a number "
                                             "from 0 to %d",
                                             l, API_LIST_LIMIT_MAX);
        }
        if (limit == 0 && !c)
                return 0;
        *ret_limit = limit > 0 ? (size_t)limit : API_LIST_LIMIT_DEFAULT;
        return 1;
}

void api_list_page_start(struct api_server *s, struct evhttp_request *req,
                         const struct api_route *r, const struct api_identity *id,
                         const struct api_request_info *ri, size_t limit, struct api_error *err)
{
        _cleanup_(api_list_page_freep) struct api_list_page *p = calloc(1, sizeof(*p));
        if (!p) {
                api_error_set(err, 500, "out of memory");
                return;
        }
        p->kind = r->kind;
        p->limit = limit;
        if (api_route_selectors(r, &p->labels, &p->fields, err) < 0 ||
            api_authz_list_begin(s, id, "list", r->kind->resource, r->ns, &p->rbac, err) < 0)
                return;
        p->prefix = api_list_prefix(s->prefix, r);
        if (!p->prefix) {
                api_error_set(err, 500, "out of memory");
                return;
        }
        api_continue_list_id(r->kind->resource, r->ns, api_route_param(r, "labelSelector"),
                             api_route_param(r, "fieldSelector"), p->list_id);
        const char *token = api_route_param(r, "continue");
        if (token) {
                struct api_continue c;
                if (api_continue_decode(token, p->list_id, &c, err) < 0)
                        return;
                p->revision = c.revision;
                p->after = str_printf("%s%s", p->prefix, c.key);
                if (!p->after) {
                        api_error_set(err, 500, "out of memory");
                        return;
                }
        } else {
                p->first = true;
                p->revision = object_cache_revision(s->objects); /* 0 until synced: now */
        }
        api_read_submit(s, req, TAKE_PTR(p), ri);
}

/* The object a stored value is, as the cache has it (resourceVersion =
 * mod revision); NULL when it is not a JSON object. */
static json_t *object_of(const struct store_kv *kv)
{
        _cleanup_json_ json_t *o = json_loadb(kv->value, kv->value_len, 0, NULL);
        json_t *md = json_object_get(o, "metadata");
        char rv[24];
        snprintf(rv, sizeof(rv), "%" PRId64, kv->mod_revision);
        if (!json_is_object(md) || json_object_set_new(md, "resourceVersion", json_string(rv)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static int store_failure(struct api_list_page *p, int rc, const struct berth_error *serr,
                         struct api_error *err)
{
        if (rc == STORE_ERR_COMPACTED)
                return api_error_set_reason(err, 410, "Expired",
                                            "the continue token has expired (revision %" PRId64
                                            " was compacted); relist",
                                            p->revision);
        if (rc == -EINVAL && !p->first)
                return api_error_set(err, 400,
                                     "invalid continue token: revision %" PRId64
                                     " is not in the store (%s)",
                                     p->revision, serr->message);
        return api_error_from_store(err, rc, serr, "list");
}

int api_list_page_run(struct api_server *s, struct api_list_page *p, json_t **ret,
                      int64_t *ret_revision, struct api_error *err)
{
        _cleanup_json_ json_t *items = json_array();
        if (!items)
                return api_error_set(err, 500, "out of memory");
        size_t scanned = 0;
        bool more = true;
        _cleanup_free_ char *last = NULL; /* the last key this page covers */
        const char *after = p->after;

        while (more && json_array_size(items) < p->limit && scanned < API_LIST_SCAN_MAX) {
                size_t want = p->limit - json_array_size(items);
                if (want > API_LIST_SCAN_MAX - scanned)
                        want = API_LIST_SCAN_MAX - scanned;
                _cleanup_(store_kvs_release) struct store_kvs kvs = {0};
                struct berth_error serr = {0};
                int rc = store_list_page(s->store, p->prefix, after, p->revision, want, &kvs, &more,
                                         &serr);
                if (rc == STORE_ERR_COMPACTED && p->first && !after) {
                        /* The cache's revision was compacted as we came: the
                         * store's present is as good a snapshot. */
                        p->revision = 0;
                        rc = store_list_page(s->store, p->prefix, after, 0, want, &kvs, &more,
                                             &serr);
                }
                if (rc < 0)
                        return store_failure(p, rc, &serr, err);
                p->revision = kvs.revision;
                scanned += kvs.n;
                for (size_t i = 0; i < kvs.n; i++) {
                        _cleanup_json_ json_t *obj = object_of(&kvs.items[i]);
                        if (obj && api_object_matches(&p->labels, &p->fields, obj) &&
                            api_authz_visible(s, &p->rbac, obj)) {
                                json_t *shown = api_object_for_reply(&s->ops, obj, false, NULL);
                                if (!shown || json_array_append_new(items, shown) < 0)
                                        return api_error_set(err, 500, "out of memory");
                        }
                }
                if (kvs.n > 0) {
                        free(last);
                        last = strdup(kvs.items[kvs.n - 1].key);
                        if (!last)
                                return api_error_set(err, 500, "out of memory");
                        after = last;
                }
        }

        char rv[24];
        snprintf(rv, sizeof(rv), "%" PRId64, p->revision);
        _cleanup_free_ char *kind = str_printf("%sList", p->kind->kind);
        _cleanup_json_ json_t *md = json_pack("{s:s}", "resourceVersion", rv);
        if (!kind || !md)
                return api_error_set(err, 500, "out of memory");
        if (more && last) {
                struct api_continue c = {.revision = p->revision};
                memcpy(c.list, p->list_id, sizeof(c.list));
                (void)str_copy(c.key, sizeof(c.key), last + strlen(p->prefix));
                _cleanup_free_ char *token = NULL;
                int r = api_continue_encode(&c, &token);
                if (r < 0)
                        return api_error_set(err, 500, "cannot make a continue token: %s",
                                             strerror(-r));
                if (json_object_set_new(md, "continue", json_string(token)) < 0)
                        return api_error_set(err, 500, "out of memory");
        }
        json_t *list = json_pack("{s:s, s:s, s:O, s:O}", "kind", kind, "apiVersion",
                                 MANIFEST_API_VERSION, "metadata", md, "items", items);
        if (!list)
                return api_error_set(err, 500, "out of memory");
        *ret = list;
        *ret_revision = p->revision;
        return 0;
}
