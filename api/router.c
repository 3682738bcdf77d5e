/* api: request target → route. Pure: no I/O, no server state.
 *
 * Paths (docs/internals/architecture.md):
 *   /healthz /livez /readyz /version /metrics
 *   /apis/berth/v1/apply
 *   /apis/berth/v1/auth/whoami, /apis/berth/v1/auth/can-i  who am I, may I
 *   /apis/berth/v1/{resource}                              list, all namespaces;
 *                                                          a cluster-scoped kind's
 *                                                          list and create
 *   /apis/berth/v1/{resource}/{name}                       a cluster-scoped object
 *   /apis/berth/v1/namespaces/{ns}/{resource}              list, create
 *   /apis/berth/v1/namespaces/{ns}/{resource}/{name}       get, replace, delete
 *   /apis/berth/v1/namespaces/{ns}/{resource}/{name}/{sub} a subresource its kind
 *                                                          lists: log, results, stats
 *                                                          (results?step=S&file=F: one
 *                                                          file output, raw)
 *   .../{resource}?stats=true                              stats of a collection
 */
#include "api-internal.h"

#include <ctype.h>
#include <strings.h>

#define API_SEGMENTS_MAX 9

enum api_method api_method_from_string(const char *s)
{
        static const struct {
                const char *name;
                enum api_method m;
        } table[] = {
            {"GET", API_METHOD_GET}, {"HEAD", API_METHOD_HEAD},     {"POST", API_METHOD_POST},
            {"PUT", API_METHOD_PUT}, {"DELETE", API_METHOD_DELETE}, {"PATCH", API_METHOD_PATCH},
        };
        for (size_t i = 0; s && i < ARRAY_SIZE(table); i++)
                if (streq(s, table[i].name))
                        return table[i].m;
        return API_METHOD_OTHER;
}

void api_route_release(struct api_route *r)
{
        if (!r)
                return;
        for (size_t i = 0; i < r->n_params; i++) {
                free(r->params[i].key);
                free(r->params[i].value);
        }
        free(r->params);
        r->params = NULL;
        r->n_params = 0;
}

void api_route_set_accept(struct api_route *r, const char *accept)
{
        if (r->method != API_METHOD_GET || !api_sse_accepted(accept))
                return;
        if (r->endpoint == API_EP_LIST) {
                r->sse = true;
                r->watch = true;
        } else if (r->endpoint == API_EP_LOG) {
                r->sse = true;
        }
}

const char *api_route_param(const struct api_route *r, const char *key)
{
        for (size_t i = 0; i < r->n_params; i++)
                if (streq(r->params[i].key, key))
                        return r->params[i].value;
        return NULL;
}

int api_route_param_bool(const struct api_route *r, const char *key, bool def, bool *ret)
{
        const char *v = api_route_param(r, key);

        if (!v) {
                *ret = def;
                return 0;
        }
        if (streq(v, "") || strcasecmp(v, "true") == 0 || streq(v, "1")) {
                *ret = true;
                return 0;
        }
        if (strcasecmp(v, "false") == 0 || streq(v, "0")) {
                *ret = false;
                return 0;
        }
        return -EINVAL;
}

static int parse_query(const char *q, struct api_route *r, struct api_error *err)
{
        while (*q) {
                size_t len = strcspn(q, "&");
                if (len > 0) {
                        if (r->n_params >= API_QUERY_PARAMS_MAX)
                                return api_error_set(err, 400, "too many query parameters (max %d)",
                                                     API_QUERY_PARAMS_MAX);
                        const char *eq = memchr(q, '=', len);
                        size_t klen = eq ? (size_t)(eq - q) : len;
                        _cleanup_free_ char *key = NULL, *value = NULL;
                        if (percent_decode(q, klen, true, &key) < 0 ||
                            percent_decode(eq ? eq + 1 : "", eq ? len - klen - 1 : 0, true,
                                           &value) < 0)
                                return api_error_set(err, 400,
                                                     "malformed percent-encoding in the query");
                        struct api_param *p =
                            realloc(r->params, (r->n_params + 1) * sizeof(*r->params));
                        if (!p)
                                return api_error_set(err, 500, "out of memory");
                        r->params = p;
                        r->params[r->n_params].key = TAKE_PTR(key);
                        r->params[r->n_params].value = TAKE_PTR(value);
                        r->n_params++;
                }
                q += len;
                if (*q == '&')
                        q++;
        }
        return 0;
}

static int not_found(struct api_error *err)
{
        return api_error_set(err, 404, "the server could not find the requested resource");
}

static int method_not_allowed(struct api_error *err, enum api_method m, const char *what)
{
        static const char *const names[] = {"GET",    "HEAD",  "POST",       "PUT",
                                            "DELETE", "PATCH", "this method"};
        return api_error_set(err, 405, "%s is not allowed on %s", names[m], what);
}

static bool is_read(enum api_method m)
{
        return m == API_METHOD_GET || m == API_METHOD_HEAD;
}

/* Fills the API part of a route from path segments after "/apis/berth/v1". */
static int route_apis(char **seg, size_t n, struct api_route *r, struct api_error *err)
{
        const char *resource = NULL, *name = NULL, *sub = NULL;

        if (n == 1 && streq(seg[0], "leader")) {
                if (!is_read(r->method))
                        return method_not_allowed(err, r->method, "leader");
                r->endpoint = API_EP_LEADER;
                return 0;
        }
        if (n == 1 && streq(seg[0], "apply")) {
                if (r->method != API_METHOD_POST)
                        return method_not_allowed(err, r->method, "apply");
                r->endpoint = API_EP_APPLY;
                return 0;
        }
        if (n == 2 && streq(seg[0], "auth") &&
            (streq(seg[1], "whoami") || streq(seg[1], "can-i"))) {
                if (!is_read(r->method))
                        return method_not_allowed(err, r->method, seg[1]);
                r->endpoint = streq(seg[1], "whoami") ? API_EP_WHOAMI : API_EP_CAN_I;
                return 0;
        }
        if (n == 1 || (n == 2 && !streq(seg[0], "namespaces"))) {
                /* A collection across namespaces, or a cluster-scoped kind's
                 * collection or object. */
                resource = seg[0];
                name = n == 2 ? seg[1] : NULL;
        } else if (n >= 3 && n <= 5 && streq(seg[0], "namespaces")) {
                if (!name_is_valid(seg[1]))
                        return api_error_set(err, 404, "namespaces \"%s\" not found", seg[1]);
                str_copy(r->ns, sizeof(r->ns), seg[1]);
                resource = seg[2];
                name = n >= 4 ? seg[3] : NULL;
                sub = n == 5 ? seg[4] : NULL;
        } else {
                return not_found(err);
        }

        /* Only plural resource names address collections, like Kubernetes. */
        const struct kind_info *k = kind_lookup(resource);
        if (!k || !streq(k->resource, resource))
                return api_error_set(
                    err, 404, "the server could not find the requested resource \"%s\"", resource);
        r->kind = k;
        /* A cluster-scoped kind lives outside namespaces; a namespaced one
         * is named only inside one (its list across all needs no name). */
        if (!k->namespaced && r->ns[0])
                return api_error_set(err, 404, "%s are not namespaced: use /apis/berth/v1/%s",
                                     k->resource, k->resource);
        if (k->namespaced && name && !r->ns[0])
                return api_error_set(err, 404,
                                     "%s are namespaced: use "
                                     "/apis/berth/v1/namespaces/NAMESPACE/%s/%s",
                                     k->resource, k->resource, name);

        if (!name) {
                r->endpoint = API_EP_LIST;
                if (r->method == API_METHOD_POST && (r->ns[0] || !k->namespaced))
                        return 0;
                if (!is_read(r->method))
                        return method_not_allowed(err, r->method,
                                                  r->ns[0] ? "a collection"
                                                           : "a collection across namespaces");
                return 0;
        }
        if (!name_is_valid(name))
                return api_error_set(err, 404, "%s \"%s\" not found", k->resource, name);
        str_copy(r->name, sizeof(r->name), name);

        if (sub) {
                /* What a kind offers is in the registry; what each one is, here. */
                if (!kind_has_subresource(k, sub))
                        return not_found(err);
                if (streq(sub, "log"))
                        r->endpoint = API_EP_LOG;
                else if (streq(sub, "results"))
                        r->endpoint = API_EP_RESULTS;
                else if (streq(sub, "stats"))
                        r->endpoint = API_EP_STATS;
                else
                        return not_found(err);
                str_copy(r->subresource, sizeof(r->subresource), sub);
                if (!is_read(r->method))
                        return method_not_allowed(err, r->method, sub);
                return 0;
        }
        r->endpoint = API_EP_OBJECT;
        if (!is_read(r->method) && r->method != API_METHOD_PUT && r->method != API_METHOD_DELETE)
                return method_not_allowed(err, r->method, "an object");
        return 0;
}

/* A step or file name of ?step=&file= on results: it goes into a store key
 * ("file-<step>.<file>"), so no '.', '/' or anything else. */
static bool results_name_is_valid(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > API_RESULTS_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
                        return false;
        return true;
}

static int check_results_query(const struct api_route *r, struct api_error *err)
{
        const char *step = api_route_param(r, "step");
        const char *file = api_route_param(r, "file");

        if (!step && !file)
                return 0;
        if (!step || !file)
                return api_error_set(err, 400,
                                     "step and file go together: ?step=STEP&file=FILE reads one "
                                     "file output");
        if (!results_name_is_valid(step))
                return api_error_set(err, 400, "invalid step \"%.64s\"", step);
        if (!results_name_is_valid(file))
                return api_error_set(err, 400, "invalid file \"%.64s\"", file);
        return 0;
}

int api_route_parse(enum api_method method, const char *target, struct api_route *ret,
                    struct api_error *err)
{
        struct api_route r = {.method = method};
        char *seg[API_SEGMENTS_MAX] = {0};
        size_t n = 0;
        int rc;

        if (!target || target[0] != '/')
                return api_error_set(err, 400, "malformed request target");
        size_t tlen = strlen(target);
        if (tlen > API_URI_MAX)
                return api_error_set(err, 414, "request target longer than %d bytes", API_URI_MAX);

        size_t plen = strcspn(target, "?#");
        const char *p = target + 1;
        const char *end = target + plen;

        /* Split into segments; a trailing slash is tolerated, empty inner segments are not. */
        while (p < end) {
                const char *slash = memchr(p, '/', (size_t)(end - p));
                size_t len = slash ? (size_t)(slash - p) : (size_t)(end - p);
                if (len == 0) {
                        if (slash && slash + 1 == end)
                                break;
                        rc = not_found(err);
                        goto out;
                }
                if (n == API_SEGMENTS_MAX) {
                        rc = not_found(err);
                        goto out;
                }
                if (percent_decode(p, len, false, &seg[n]) < 0) {
                        rc = api_error_set(err, 400, "malformed percent-encoding in the path");
                        goto out;
                }
                n++;
                p += len;
                if (p < end)
                        p++; /* the slash */
        }

        if (target[plen] == '?') {
                const char *q = target + plen + 1;
                size_t qlen = strcspn(q, "#");
                _cleanup_free_ char *query = strndup(q, qlen);
                if (!query) {
                        rc = api_error_set(err, 500, "out of memory");
                        goto out;
                }
                rc = parse_query(query, &r, err);
                if (rc < 0)
                        goto out;
        }

        if (n == 1 &&
            (streq(seg[0], "healthz") || streq(seg[0], "livez") || streq(seg[0], "readyz") ||
             streq(seg[0], "version") || streq(seg[0], "metrics"))) {
                r.endpoint = streq(seg[0], "readyz")    ? API_EP_READYZ
                             : streq(seg[0], "version") ? API_EP_VERSION
                             : streq(seg[0], "metrics") ? API_EP_METRICS
                                                        : API_EP_HEALTHZ;
                rc = is_read(method) ? 0 : method_not_allowed(err, method, seg[0]);
        } else if (n >= 4 && streq(seg[0], "apis") && streq(seg[1], "berth") &&
                   streq(seg[2], "v1")) {
                rc = route_apis(seg + 3, n - 3, &r, err);
        } else {
                rc = not_found(err);
        }
        if (rc < 0)
                goto out;

        if (r.endpoint == API_EP_RESULTS) {
                rc = check_results_query(&r, err);
                if (rc < 0)
                        goto out;
        }
        if (r.endpoint == API_EP_LIST && is_read(method)) {
                bool watch;
                if (api_route_param_bool(&r, "watch", false, &watch) < 0) {
                        rc = api_error_set(err, 400, "invalid value for watch: \"%s\"",
                                           api_route_param(&r, "watch"));
                        goto out;
                }
                r.watch = watch && method == API_METHOD_GET; /* HEAD has no stream */
                bool stats;
                if (api_route_param_bool(&r, "stats", false, &stats) < 0) {
                        rc = api_error_set(err, 400, "invalid value for stats: \"%s\"",
                                           api_route_param(&r, "stats"));
                        goto out;
                }
                if (stats && !kind_has_subresource(r.kind, "stats")) {
                        rc = api_error_set(err, 400, "%s have no stats", r.kind->resource);
                        goto out;
                }
                if (stats && watch) {
                        rc = api_error_set(err, 400, "stats cannot be watched");
                        goto out;
                }
                if (stats)
                        r.endpoint = API_EP_STATS;
        }

        *ret = r;
        r.params = NULL;
        r.n_params = 0;
        rc = 0;
out:
        api_route_release(&r);
        for (size_t i = 0; i < n; i++)
                free(seg[i]);
        return rc;
}

const char *api_route_metric_name(const struct api_route *r, bool routed)
{
        if (!routed || !r)
                return "other";
        switch (r->endpoint) {
        case API_EP_HEALTHZ:
                return "healthz";
        case API_EP_READYZ:
                return "readyz";
        case API_EP_VERSION:
                return "version";
        case API_EP_METRICS:
                return "metrics";
        case API_EP_LIST:
                if (r->method == API_METHOD_POST)
                        return "create";
                return r->watch ? "watch" : "list";
        case API_EP_OBJECT:
                return r->method == API_METHOD_PUT      ? "replace"
                       : r->method == API_METHOD_DELETE ? "delete"
                                                        : "get";
        case API_EP_LOG:
                return "log";
        case API_EP_RESULTS:
                return "results";
        case API_EP_APPLY:
                return "apply";
        case API_EP_LEADER:
                return "leader";
        case API_EP_WHOAMI:
                return "whoami";
        case API_EP_CAN_I:
                return "can-i";
        case API_EP_STATS:
                return "stats";
        }
        return "other";
}
