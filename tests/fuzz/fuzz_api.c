/* Fuzz target for the api module's pure pieces: the router, the label and
 * field selectors, paging parameters, Accept-Encoding and If-None-Match.
 * The input is split into lines:
 *   1  a request target ("/apis/berth/v1/namespaces/x/tasks?watch=1"), routed
 *      with every method; also read as an Accept-Encoding header,
 *   2  a label selector (also an If-None-Match header),
 *   3  a field selector (also an entity tag),
 *   4… a JSON object the selectors are matched against (its metadata.labels
 *      for the label selector).
 * Missing lines are empty. Besides memory errors and UB it aborts when
 *   - a route or a failure breaks the documented contract (kind set for
 *     collections and objects, watch only on GET lists, 4xx/5xx codes),
 *   - a parsed selector has the wrong number of values for its operator,
 *   - an empty selector does not match everything, or labels built from a
 *     selector's own requirements do not match it,
 *   - Accept: text/event-stream makes anything but a GET of a collection or
 *     a log an SSE route, or a collection's not a watch,
 *   - ?limit= parses outside 1..API_LIST_LIMIT_MAX, or a ?continue= token
 *     that decodes for its list does not encode back to itself,
 *   - the whole input framed as one Server-Sent Event does not read back as
 *     itself (line breaks as LF), or log lines framed in small pieces differ
 *     from the same bytes framed at once. */
#include <stdint.h>

#include "api-internal.h"

static void check_error(const struct api_error *err, int rc)
{
        if (rc >= 0 || err->code < 400 || err->code > 599 || !err->message[0])
                abort();
}

/* ---- router ---------------------------------------------------------------- */

static void check_route(const struct api_route *r, enum api_method m)
{
        bool needs_kind = r->endpoint == API_EP_LIST || r->endpoint == API_EP_OBJECT ||
                          r->endpoint == API_EP_LOG || r->endpoint == API_EP_STATS;
        bool watch;

        if (r->method != m || needs_kind != (r->kind != NULL) ||
            (r->watch && (m != API_METHOD_GET || r->endpoint != API_EP_LIST)) ||
            ((r->endpoint == API_EP_OBJECT || r->endpoint == API_EP_LOG) && !r->name[0]) ||
            (r->endpoint == API_EP_LOG) != streq(r->subresource, "log") ||
            r->n_params > API_QUERY_PARAMS_MAX || (r->n_params > 0) != (r->params != NULL))
                abort();
        for (size_t i = 0; i < r->n_params; i++)
                if (!r->params[i].key || !r->params[i].value ||
                    api_route_param(r, r->params[i].key) == NULL)
                        abort();
        if (r->endpoint == API_EP_LIST && (m == API_METHOD_GET || m == API_METHOD_HEAD) &&
            api_route_param_bool(r, "watch", false, &watch) < 0)
                abort();
}

/* ?limit= and ?continue= of a list route: api_list_paged keeps its range,
 * and a token that decodes for this list encodes back to itself. */
static void fuzz_paging(const struct api_route *r)
{
        size_t limit = 0;
        struct api_error err = {};
        int rc = api_list_paged(r, &limit, &err);
        if (rc < 0)
                check_error(&err, rc);
        else if (rc > 1 || (rc == 1 && (limit < 1 || limit > API_LIST_LIMIT_MAX)) ||
                 (rc == 0 && api_route_param(r, "continue")))
                abort();
        api_error_release(&err);

        const char *token = api_route_param(r, "continue");
        if (!token)
                return;
        uint8_t id[API_CONTINUE_ID_LEN];
        api_continue_list_id(r->kind->resource, r->ns, api_route_param(r, "labelSelector"),
                             api_route_param(r, "fieldSelector"), id);
        struct api_continue c;
        rc = api_continue_decode(token, id, &c, &err);
        if (rc < 0) {
                check_error(&err, rc);
                api_error_release(&err);
                return;
        }
        _cleanup_free_ char *again = NULL;
        if (c.revision <= 0 || !c.key[0] || api_continue_encode(&c, &again) < 0 ||
            !streq(again, token))
                abort();
}

static void fuzz_route(const char *target, const json_t *obj)
{
        for (enum api_method m = API_METHOD_GET; m <= API_METHOD_OTHER; m++) {
                struct api_route r = {};
                struct api_error err = {};
                int rc = api_route_parse(m, target, &r, &err);

                if (rc < 0) {
                        check_error(&err, rc);
                        if (r.params)
                                abort();
                        api_error_release(&err);
                        continue;
                }
                check_route(&r, m);
                struct api_route sse = r;
                api_route_set_accept(&sse, "application/json, text/event-stream");
                if (sse.sse != (m == API_METHOD_GET &&
                                (r.endpoint == API_EP_LIST || r.endpoint == API_EP_LOG)) ||
                    (sse.sse && r.endpoint == API_EP_LIST && !sse.watch) ||
                    (r.endpoint != API_EP_LIST && sse.watch != r.watch))
                        abort();
                if (r.endpoint == API_EP_LIST)
                        fuzz_paging(&r);
                if (r.endpoint == API_EP_LIST) {
                        struct api_selector labels = {}, fields = {};

                        rc = api_route_selectors(&r, &labels, &fields, &err);
                        if (rc < 0) {
                                check_error(&err, rc);
                        } else {
                                (void)api_object_matches(&labels, &fields, obj);
                                api_selector_release(&labels);
                                api_selector_release(&fields);
                        }
                        api_error_release(&err);
                }
                api_route_release(&r);
                api_route_release(&r); /* released twice: must be a no-op */
        }
}

static void fuzz_percent(const char *s)
{
        size_t len = strlen(s);

        for (int plus = 0; plus < 2; plus++) {
                _cleanup_free_ char *out = NULL;

                if (percent_decode(s, len, plus, &out) < 0) {
                        if (out)
                                abort();
                        continue;
                }
                if (strlen(out) > len || (!strpbrk(s, "%+") && !streq(out, s)))
                        abort();
        }
}

/* ---- selectors --------------------------------------------------------------- */

static void check_label_reqs(const struct api_selector *sel)
{
        for (size_t i = 0; i < sel->n; i++) {
                const struct api_selector_req *r = &sel->reqs[i];
                size_t nv = strv_length(r->values);

                if (!r->key || !r->key[0])
                        abort();
                switch (r->op) {
                case API_SEL_EQ:
                case API_SEL_NEQ:
                        if (nv != 1)
                                abort();
                        break;
                case API_SEL_IN:
                case API_SEL_NOTIN:
                        if (nv < 1)
                                abort();
                        break;
                case API_SEL_EXISTS:
                case API_SEL_NOT_EXISTS:
                        if (nv != 0)
                                abort();
                        break;
                default:
                        abort();
                }
        }
}

/* For a selector of only =, in and exists on distinct keys, the labels that
 * give each key its first allowed value must match. */
static void check_label_satisfiable(const struct api_selector *sel)
{
        _cleanup_json_ json_t *labels = json_object();

        if (!labels)
                return;
        for (size_t i = 0; i < sel->n; i++) {
                const struct api_selector_req *r = &sel->reqs[i];

                if (r->op != API_SEL_EQ && r->op != API_SEL_IN && r->op != API_SEL_EXISTS)
                        return;
                if (json_object_get(labels, r->key))
                        return;
                if (json_object_set_new(labels, r->key,
                                        json_string(r->values ? r->values[0] : "")) < 0)
                        return;
        }
        if (!api_label_selector_matches(sel, labels))
                abort();
}

static void fuzz_label_selector(const char *s, const json_t *obj)
{
        struct api_selector sel = {};
        struct api_error err = {};
        int rc = api_label_selector_parse(s, &sel, &err);

        if (rc < 0) {
                check_error(&err, rc);
                if (sel.reqs)
                        abort();
                api_error_release(&err);
                return;
        }
        check_label_reqs(&sel);
        check_label_satisfiable(&sel);
        (void)api_label_selector_matches(&sel, json_path(obj, "metadata.labels"));
        (void)api_label_selector_matches(&sel, obj);
        (void)api_label_selector_matches(&sel, NULL);
        api_selector_release(&sel);
        if (sel.n || sel.reqs || !api_label_selector_matches(&sel, obj))
                abort();
        api_selector_release(&sel);
}

/* The fields docs/berthd.md says a field selector may name. */
static bool field_is_selectable(const char *key)
{
        static const char *const fields[] = {
            "metadata.name",
            "metadata.namespace",
            "status.phase",
            "involvedObject.kind",
            "involvedObject.name",
            "involvedObject.namespace",
            "involvedObject.uid",
            "type",
            "reason",
            NULL,
        };
        return strv_contains(fields, key);
}

static void fuzz_field_selector(const char *s, const json_t *obj)
{
        struct api_selector sel = {};
        struct api_error err = {};
        int rc = api_field_selector_parse(s, &sel, &err);

        if (rc < 0) {
                check_error(&err, rc);
                if (sel.reqs)
                        abort();
                api_error_release(&err);
                return;
        }
        for (size_t i = 0; i < sel.n; i++) {
                const struct api_selector_req *r = &sel.reqs[i];

                if (!r->key || strv_length(r->values) != 1 ||
                    (r->op != API_SEL_EQ && r->op != API_SEL_NEQ) || !field_is_selectable(r->key))
                        abort();
        }
        (void)api_field_selector_matches(&sel, obj);
        (void)api_field_selector_matches(&sel, NULL);
        api_selector_release(&sel);
        if (!api_field_selector_matches(&sel, obj))
                abort();
}

/* Cuts the next line off *p (NUL-terminated); "" once the input is used up. */
static char *next_line(char **p)
{
        char *line = *p, *nl = strchr(line, '\n');

        if (nl) {
                *nl = '\0';
                *p = nl + 1;
        } else {
                *p = line + strlen(line);
        }
        return line;
}

/* ---- Server-Sent Events ----------------------------------------------------- */

/* What an SSE client makes of one event's data lines: joined with LF. */
static void fuzz_sse_event(const char *data, size_t size)
{
        _cleanup_buf_ struct buf out, back, want;

        buf_init(&out, 8 * size + 64); /* "data: " for every break */
        buf_init(&back, size + 16);
        buf_init(&want, size + 16);
        if (api_sse_event(&out, "1", "x", data, size) < 0)
                abort();
        /* Bytes, not strings: the data may hold NULs. */
        const char *head = "id: 1\nevent: x\ndata: ";
        if (out.len < strlen(head) + 2 || memcmp(out.data, head, strlen(head)) != 0 ||
            memcmp(out.data + out.len - 2, "\n\n", 2) != 0)
                abort();
        /* Reads the fields back: every line after the first two is data. */
        const char *p = out.data + strlen("id: 1\nevent: x\n");
        const char *end = out.data + out.len - 1; /* the blank line */
        bool first = true;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                if (!nl || strncmp(p, "data: ", 6) != 0 || memchr(p, '\r', (size_t)(nl - p)))
                        abort();
                if ((!first && buf_append(&back, "\n", 1) < 0) ||
                    buf_append(&back, p + 6, (size_t)(nl - p - 6)) < 0)
                        abort();
                first = false;
                p = nl + 1;
        }
        for (size_t i = 0; i < size; i++) {
                char c = data[i];
                if (c == '\r' && i + 1 < size && data[i + 1] == '\n')
                        continue; /* CRLF is one break */
                if (buf_append(&want, c == '\r' ? "\n" : &c, 1) < 0)
                        abort();
        }
        if (back.len != want.len || (want.len && memcmp(back.data, want.data, want.len) != 0))
                abort();
}

/* Log bytes framed as they arrive, in pieces of chunk, or at once. */
static void frame_lines(const char *data, size_t size, size_t chunk, struct buf *out)
{
        struct api_sse_lines l;

        api_sse_lines_init(&l);
        for (size_t off = 0; off < size; off += chunk) {
                size_t n = size - off < chunk ? size - off : chunk;
                if (api_sse_lines_feed(&l, data + off, n, out) < 0)
                        abort();
        }
        if (api_sse_lines_flush(&l, out) < 0)
                abort();
        api_sse_lines_release(&l);
}

static void fuzz_sse_lines(const char *data, size_t size, size_t chunk)
{
        _cleanup_buf_ struct buf whole, split;

        buf_init(&whole, 8 * size + 64);
        buf_init(&split, 8 * size + 64);
        frame_lines(data, size, size ? size : 1, &whole);
        frame_lines(data, size, chunk, &split);
        if (whole.len != split.len || (whole.len && memcmp(whole.data, split.data, whole.len)))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* The router and selectors take C strings: the input up to its first NUL. */
        _cleanup_free_ char *copy = strndup((const char *)data, size);
        _cleanup_json_ json_t *obj = NULL;
        char *p = copy, *target, *labels, *fields;

        if (!copy)
                return 0;
        target = next_line(&p);
        labels = next_line(&p);
        fields = next_line(&p);
        obj = json_loads(p, 0, NULL);

        fuzz_route(target, obj);
        fuzz_percent(target);
        (void)api_sse_accepted(target);
        fuzz_sse_event((const char *)data, size);
        fuzz_sse_lines((const char *)data, size, size ? (size_t)(data[0] % 16) + 1 : 1);
        fuzz_label_selector(labels, obj);
        fuzz_field_selector(fields, obj);
        /* The send path's header parsers: Accept-Encoding, If-None-Match. */
        (void)api_gzip_accepted(target);
        (void)api_etag_matches(labels, fields);
        char tag[24];
        api_etag_format((int64_t)size, tag);
        if (!api_etag_matches(tag, tag))
                abort();
        return 0;
}
