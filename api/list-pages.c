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
 * A page is served from the object cache's bytes when the cache is at the
 * snapshot: always for a first page, and for a later one while nothing under
 * the cache's prefix changed since (then a paged `berth get` never waits for
 * the store, also while the store does not answer). Otherwise it comes from
 * the store (the cache holds the present only), where a read may take a
 * network round trip: the loop checks the request (selectors, RBAC, token)
 * and a writer thread reads the page (writes.c), so the loop never blocks.
 * Selectors and RBAC apply to what was read: a store page reads up to
 * API_LIST_SCAN_MAX keys to fill limit items, and may end with fewer (even
 * none) and a continue token.
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

/* The continue token of a page that ended at key (absolute), in *ret. */
static int page_token(const struct api_list_page *p, const char *key, char **ret,
                      struct api_error *err)
{
        struct api_continue c = {.revision = p->revision};
        memcpy(c.list, p->list_id, sizeof(c.list));
        (void)str_copy(c.key, sizeof(c.key), key + strlen(p->prefix));
        int r = api_continue_encode(&c, ret);
        if (r < 0)
                return api_error_set(err, 500, "cannot make a continue token: %s", strerror(-r));
        return 0;
}

/* The key of a cached object of p's kind (caller frees). */
static char *blob_key(struct api_server *s, const struct api_list_page *p,
                      const struct object_blob *b)
{
        return object_key(s->prefix, p->kind->resource, p->kind->namespaced ? b->ns : NULL,
                          b->name);
}

/* Answers the page from the object cache when it is at p's snapshot (see
 * the top): true when it answered (or failed: err set), false when the
 * store must be read. Loop thread. */
static bool page_from_cache(struct api_server *s, struct evhttp_request *req,
                            struct api_list_page *p, struct api_error *err)
{
        const struct object_blob **v = NULL;
        size_t n = 0;
        int64_t rev = 0;
        if (object_cache_list_blobs(s->objects, p->prefix, &v, &n, &rev) < 0) {
                api_error_set(err, 500, "out of memory");
                return true;
        }
        if (rev <= 0 || (!p->first && rev != p->revision)) {
                object_blobs_release(v, n);
                return false;
        }
        p->revision = rev;
        size_t kept = 0, start = 0;
        for (size_t i = 0; i < n; i++) {
                if (api_blob_matches(&p->labels, &p->fields, v[i]))
                        v[kept++] = v[i];
                else
                        object_blob_unref(v[i]);
        }
        n = kept;
        bool ok = api_authz_filter_blobs(s, &p->rbac, v, &n) == 0;
        /* The first object after the previous page's last key (key order). */
        while (ok && p->after && start < n) {
                _cleanup_free_ char *key = blob_key(s, p, v[start]);
                ok = key != NULL;
                if (!ok || strcmp(key, p->after) > 0)
                        break;
                start++;
        }
        size_t end = start + p->limit < n ? start + p->limit : n;
        _cleanup_free_ char *token = NULL, *last = NULL;
        if (ok && end < n) {
                last = blob_key(s, p, v[end - 1]);
                ok = last && page_token(p, last, &token, err) == 0;
        }
        _cleanup_buf_ struct buf body;
        buf_init(&body, (size_t)1 << 30); /* a page holds at most API_LIST_LIMIT_MAX objects */
        ok = ok && buf_printf(&body,
                              "{\"kind\":\"%sList\",\"apiVersion\":\"%s\",\"metadata\":{"
                              "\"resourceVersion\":\"%" PRId64 "\"",
                              p->kind->kind, MANIFEST_API_VERSION, rev) >= 0;
        /* What the snapshot holds after this page, selectors and RBAC
         * applied: known exactly here (a page read from the store says
         * nothing, as Kubernetes may). */
        if (ok && token)
                ok = buf_printf(&body, ",\"continue\":\"%s\",\"remainingItemCount\":%zu", token,
                                n - end) >= 0;
        ok = ok && buf_append_str(&body, "},\"items\":[") >= 0;
        for (size_t i = start; ok && i < end; i++)
                ok = (i == start || buf_append(&body, ",", 1) >= 0) &&
                     api_blob_append(&body, v[i]) >= 0;
        ok = ok && buf_append(&body, "]}\n", 3) >= 0;
        object_blobs_release(v, n);
        if (!ok) {
                if (!err->code)
                        api_error_set(err, 500, "out of memory");
                return true;
        }
        api_set_etag(req, rev);
        api_send_body(s, req, 200, "application/json", body.data, body.len);
        return true;
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
        if (page_from_cache(s, req, p, err))
                return;
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
                _cleanup_free_ char *token = NULL;
                int r = page_token(p, last, &token, err);
                if (r < 0)
                        return r;
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
