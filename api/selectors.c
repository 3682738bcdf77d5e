/* api: label and field selectors, Kubernetes syntax, and what a LIST route
 * (list or watch) selects with them. Pure.
 *
 * Label selector grammar (requirements joined by ',' mean AND):
 *   key=value  key==value  key!=value  key in (v1,v2)  key notin (v1,v2)  key  !key
 * Keys are [prefix/]name of [A-Za-z0-9._-] (prefix also '/'-free DNS text),
 * values [A-Za-z0-9._-] up to 63 characters (empty allowed).
 */
#include "api-internal.h"

#include <ctype.h>

#define LABEL_VALUE_MAX 63
#define LABEL_KEY_MAX   (253 + 1 + 63)

static void req_release(struct api_selector_req *r)
{
        free(r->key);
        strv_free(r->values);
}

void api_selector_release(struct api_selector *sel)
{
        if (!sel)
                return;
        for (size_t i = 0; i < sel->n; i++)
                req_release(&sel->reqs[i]);
        free(sel->reqs);
        sel->reqs = NULL;
        sel->n = 0;
}

/* Ends one requirement of a parse: when rc says r parsed, moves it into sel;
 * on any failure releases r and all of sel. Returns 0 or the error. */
static int sel_add(struct api_selector *sel, struct api_selector_req *r, int rc,
                   struct api_error *err)
{
        if (rc >= 0) {
                struct api_selector_req *v = realloc(sel->reqs, (sel->n + 1) * sizeof(*v));
                if (v) {
                        sel->reqs = v;
                        sel->reqs[sel->n++] = *r;
                        *r = (struct api_selector_req){0};
                        return 0;
                }
                rc = api_error_set(err, 500, "out of memory");
        }
        req_release(r);
        api_selector_release(sel);
        return rc;
}

static int strv_push(char ***v, const char *s, size_t len)
{
        size_t n = strv_length(*v);
        char **nv = realloc(*v, (n + 2) * sizeof(char *));
        if (!nv)
                return -ENOMEM;
        *v = nv;
        nv[n] = strndup(s, len);
        nv[n + 1] = NULL;
        return nv[n] ? 0 : -ENOMEM;
}

static bool is_value_char(char c)
{
        return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

static bool is_key_char(char c)
{
        return is_value_char(c) || c == '/';
}

static void skip_ws(const char **p)
{
        while (**p == ' ' || **p == '\t')
                (*p)++;
}

static int scan_key(const char **p, const char *whole, struct api_error *err, char **ret)
{
        const char *start = *p;
        while (is_key_char(**p))
                (*p)++;
        size_t len = (size_t)(*p - start);
        if (len == 0)
                return api_error_set(err, 400,
                                     "invalid label selector \"%s\": expected a key at "
                                     "position %zu",
                                     whole, (size_t)(start - whole) + 1);
        if (len > LABEL_KEY_MAX || start[0] == '/' || start[len - 1] == '/' ||
            memchr(start, '/', len) != memrchr(start, '/', len))
                return api_error_set(err, 400,
                                     "invalid label selector \"%s\": invalid key \"%.*s\"", whole,
                                     (int)(len > 80 ? 80 : len), start);
        *ret = strndup(start, len);
        return *ret ? 0 : -ENOMEM;
}

static int scan_value(const char **p, const char *whole, struct api_error *err, char ***values)
{
        const char *start = *p;
        while (is_value_char(**p))
                (*p)++;
        size_t len = (size_t)(*p - start);
        if (len > LABEL_VALUE_MAX)
                return api_error_set(err, 400,
                                     "invalid label selector \"%s\": value longer than %d "
                                     "characters",
                                     whole, LABEL_VALUE_MAX);
        return strv_push(values, start, len) < 0 ? api_error_set(err, 500, "out of memory") : 0;
}

/* "in" or "notin" followed by a space or '(' (so that a key named "inx" is not one). */
static bool scan_word(const char **p, const char *word)
{
        size_t n = strlen(word);
        if (strncmp(*p, word, n) != 0)
                return false;
        char c = (*p)[n];
        if (c != ' ' && c != '\t' && c != '(')
                return false;
        *p += n;
        return true;
}

int api_label_selector_parse(const char *s, struct api_selector *ret, struct api_error *err)
{
        struct api_selector sel = {0};
        const char *p = s ? s : "";
        int rc = 0;

        if (strlen(p) > API_SELECTOR_MAX)
                return api_error_set(err, 400, "label selector longer than %d characters",
                                     API_SELECTOR_MAX);
        skip_ws(&p);
        if (*p == '\0') {
                *ret = sel;
                return 0;
        }

        for (;;) {
                struct api_selector_req r = {0};
                skip_ws(&p);
                if (*p == '!') {
                        p++;
                        skip_ws(&p);
                        r.op = API_SEL_NOT_EXISTS;
                        rc = scan_key(&p, s, err, &r.key);
                } else {
                        rc = scan_key(&p, s, err, &r.key);
                        if (rc >= 0) {
                                skip_ws(&p);
                                if (*p == '\0' || *p == ',') {
                                        r.op = API_SEL_EXISTS;
                                } else if (strncmp(p, "!=", 2) == 0) {
                                        p += 2;
                                        r.op = API_SEL_NEQ;
                                } else if (strncmp(p, "==", 2) == 0) {
                                        p += 2;
                                        r.op = API_SEL_EQ;
                                } else if (*p == '=') {
                                        p++;
                                        r.op = API_SEL_EQ;
                                } else if (scan_word(&p, "in")) {
                                        r.op = API_SEL_IN;
                                } else if (scan_word(&p, "notin")) {
                                        r.op = API_SEL_NOTIN;
                                } else {
                                        rc = api_error_set(err, 400,
                                                           "invalid label selector \"%s\": "
                                                           "unexpected \"%c\" at position %zu",
                                                           s, *p, (size_t)(p - s) + 1);
                                }
                        }
                        if (rc >= 0 && (r.op == API_SEL_EQ || r.op == API_SEL_NEQ)) {
                                skip_ws(&p);
                                rc = scan_value(&p, s, err, &r.values);
                        } else if (rc >= 0 && (r.op == API_SEL_IN || r.op == API_SEL_NOTIN)) {
                                skip_ws(&p);
                                if (*p != '(') {
                                        rc = api_error_set(err, 400,
                                                           "invalid label selector \"%s\": "
                                                           "expected \"(\" after %s",
                                                           s, r.op == API_SEL_IN ? "in" : "notin");
                                } else {
                                        p++;
                                        for (;;) {
                                                skip_ws(&p);
                                                rc = scan_value(&p, s, err, &r.values);
                                                if (rc < 0)
                                                        break;
                                                skip_ws(&p);
                                                if (*p == ',') {
                                                        p++;
                                                        continue;
                                                }
                                                if (*p == ')') {
                                                        p++;
                                                        break;
                                                }
                                                rc = api_error_set(
                                                    err, 400,
                                                    "invalid label selector \"%s\": expected "
                                                    "\",\" or \")\" at position %zu",
                                                    s, (size_t)(p - s) + 1);
                                                break;
                                        }
                                }
                        }
                }
                if (rc >= 0) {
                        skip_ws(&p);
                        if (*p != '\0' && *p != ',')
                                rc = api_error_set(err, 400,
                                                   "invalid label selector \"%s\": unexpected "
                                                   "\"%c\" at position %zu",
                                                   s, *p, (size_t)(p - s) + 1);
                }
                rc = sel_add(&sel, &r, rc, err);
                if (rc < 0)
                        return rc;
                if (*p == '\0')
                        break;
                p++; /* ',' */
        }
        *ret = sel;
        return 0;
}

bool api_label_selector_matches(const struct api_selector *sel, const json_t *labels)
{
        for (size_t i = 0; i < sel->n; i++) {
                const struct api_selector_req *r = &sel->reqs[i];
                const char *v = json_is_object(labels)
                                    ? json_string_value(json_object_get(labels, r->key))
                                    : NULL;
                bool ok;
                switch (r->op) {
                case API_SEL_EQ:
                        ok = v && streq(v, r->values[0]);
                        break;
                case API_SEL_NEQ:
                        ok = !v || !streq(v, r->values[0]);
                        break;
                case API_SEL_IN:
                        ok = v && strv_contains((const char *const *)r->values, v);
                        break;
                case API_SEL_NOTIN:
                        ok = !v || !strv_contains((const char *const *)r->values, v);
                        break;
                case API_SEL_EXISTS:
                        ok = v != NULL;
                        break;
                case API_SEL_NOT_EXISTS:
                default:
                        ok = v == NULL;
                        break;
                }
                if (!ok)
                        return false;
        }
        return true;
}

/* Fields a selector may name, for every kind (a path an object lacks reads
 * as ""): the metadata, a phase, and an Event's, as Kubernetes selects
 * Events (`berth describe` lists an object's by involvedObject.uid). */
static const char *const field_names[] = {
    "metadata.name",
    "metadata.namespace",
    "status.phase",
    "involvedObject.kind",
    "involvedObject.name",
    "involvedObject.namespace",
    "involvedObject.uid",
    "type",
    "reason",
};

static char *strip(const char *s, size_t len)
{
        while (len > 0 && (*s == ' ' || *s == '\t')) {
                s++;
                len--;
        }
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
                len--;
        return strndup(s, len);
}

int api_field_selector_parse(const char *s, struct api_selector *ret, struct api_error *err)
{
        struct api_selector sel = {0};
        const char *p = s ? s : "";

        if (strlen(p) > API_SELECTOR_MAX)
                return api_error_set(err, 400, "field selector longer than %d characters",
                                     API_SELECTOR_MAX);
        while (*p == ' ' || *p == '\t')
                p++;
        while (*p) {
                size_t len = strcspn(p, ",");
                const char *op = NULL;
                size_t oplen = 0;
                struct api_selector_req r = {0};
                int rc = 0;

                for (size_t i = 0; i < len; i++) {
                        if (p[i] == '!' && i + 1 < len && p[i + 1] == '=') {
                                op = p + i, oplen = 2, r.op = API_SEL_NEQ;
                                break;
                        }
                        if (p[i] == '=') {
                                bool dbl = i + 1 < len && p[i + 1] == '=';
                                op = p + i, oplen = dbl ? 2 : 1, r.op = API_SEL_EQ;
                                break;
                        }
                }
                if (!op) {
                        rc = api_error_set(err, 400,
                                           "invalid field selector \"%s\": \"%.*s\" has no "
                                           "operator (=, ==, !=)",
                                           s, (int)(len > 80 ? 80 : len), p);
                } else {
                        r.key = strip(p, (size_t)(op - p));
                        char *value = strip(op + oplen, len - (size_t)(op - p) - oplen);
                        r.values = calloc(2, sizeof(char *));
                        if (!r.key || !value || !r.values) {
                                free(value);
                                rc = api_error_set(err, 500, "out of memory");
                        } else {
                                r.values[0] = value;
                                bool known = false;
                                for (size_t i = 0; i < ARRAY_SIZE(field_names); i++)
                                        known = known || streq(r.key, field_names[i]);
                                if (!known)
                                        rc = api_error_set(
                                            err, 400,
                                            "field label not supported: %s (supported: "
                                            "metadata.name, metadata.namespace, status.phase; for "
                                            "events involvedObject.kind, involvedObject.name, "
                                            "involvedObject.namespace, involvedObject.uid, type, "
                                            "reason)",
                                            r.key);
                        }
                }
                rc = sel_add(&sel, &r, rc, err);
                if (rc < 0)
                        return rc;
                p += len;
                if (*p == ',')
                        p++;
        }
        *ret = sel;
        return 0;
}

bool api_field_selector_matches(const struct api_selector *sel, const json_t *object)
{
        for (size_t i = 0; i < sel->n; i++) {
                const struct api_selector_req *r = &sel->reqs[i];
                const char *v = json_path_string(object, r->key);
                bool eq = streq(v ? v : "", r->values[0]);
                if (r->op == API_SEL_EQ ? !eq : eq)
                        return false;
        }
        return true;
}

/* ---- what a LIST route selects ------------------------------------------- */

int api_route_selectors(const struct api_route *r, struct api_selector *labels,
                        struct api_selector *fields, struct api_error *err)
{
        int rc = api_label_selector_parse(api_route_param(r, "labelSelector"), labels, err);
        if (rc < 0)
                return rc;
        rc = api_field_selector_parse(api_route_param(r, "fieldSelector"), fields, err);
        if (rc < 0) {
                api_selector_release(labels);
                return rc;
        }
        return 0;
}

bool api_object_matches(const struct api_selector *labels, const struct api_selector *fields,
                        const json_t *obj)
{
        return api_label_selector_matches(labels, json_path(obj, "metadata.labels")) &&
               api_field_selector_matches(fields, obj);
}

char *api_list_prefix(const char *prefix, const struct api_route *r)
{
        if (r->ns[0])
                return str_printf("%s%s/%s/", prefix, r->kind->resource, r->ns);
        return str_printf("%s%s/", prefix, r->kind->resource);
}
