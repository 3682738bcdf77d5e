/* check.c: the machinery every kind's schema is checked with (struct check).
 *
 * A check never stops at the first problem: every error is collected with
 * the field path and, when a position map is given, the line and column, so a
 * user fixes a manifest in one round. A JSON null counts as "not set", as in
 * Kubernetes. The getters report a field of the wrong type and return NULL
 * (or nothing), so a caller can look into what it got without checking again.
 */
#include "manifests-internal.h"

/* ---- field errors ------------------------------------------------------ */

void field_errors_release(struct field_errors *errs)
{
        if (!errs)
                return;
        for (size_t i = 0; i < errs->n; i++) {
                free(errs->items[i].field);
                free(errs->items[i].message);
        }
        free(errs->items);
        errs->items = NULL;
        errs->n = 0;
}

_printf_(5, 0) static int field_errors_addv(struct field_errors *errs, const char *field, int line,
                                            int column, const char *fmt, va_list ap)
{
        _cleanup_free_ char *f = NULL, *m = NULL;
        struct field_error *items;

        if (vasprintf(&m, fmt, ap) < 0) {
                m = NULL;
                return -ENOMEM;
        }
        f = strdup(field ? field : "");
        if (!f)
                return -ENOMEM;
        items = reallocarray(errs->items, errs->n + 1, sizeof(*items));
        if (!items)
                return -ENOMEM;
        errs->items = items;
        items[errs->n++] = (struct field_error){
            .field = TAKE_PTR(f),
            .message = TAKE_PTR(m),
            .line = line,
            .column = column,
        };
        return 0;
}

int field_errors_add(struct field_errors *errs, const char *field, int line, int column,
                     const char *fmt, ...)
{
        va_list ap;
        int r;

        if (!errs || !fmt)
                return -EINVAL;
        va_start(ap, fmt);
        r = field_errors_addv(errs, field, line, column, fmt, ap);
        va_end(ap);
        return r;
}

char *field_errors_format(const struct field_errors *errs, const char *source)
{
        _cleanup_buf_ struct buf b = {};

        buf_init(&b, SIZE_MAX / 2);
        for (size_t i = 0; errs && i < errs->n; i++) {
                const struct field_error *e = &errs->items[i];
                bool prefix = false;
                int r = 0;

                if (i > 0)
                        r = buf_append_str(&b, "\n");
                if (r == 0 && source && *source) {
                        r = buf_append_str(&b, source);
                        prefix = true;
                }
                if (r == 0 && e->line > 0) {
                        r = buf_printf(&b, "%s%d:%d", prefix ? ":" : "", e->line, e->column);
                        prefix = true;
                }
                if (r == 0 && prefix)
                        r = buf_append_str(&b, ": ");
                if (r == 0 && e->field && *e->field)
                        r = buf_printf(&b, "%s: ", e->field);
                if (r == 0)
                        r = buf_append_str(&b, e->message ? e->message : "");
                if (r < 0)
                        return NULL;
        }
        return buf_steal(&b);
}

struct indexed_error {
        struct field_error e;
        size_t index;
};

static int compare_errors(const void *a, const void *b)
{
        const struct indexed_error *x = a, *y = b;

        if (x->e.line != y->e.line)
                return x->e.line < y->e.line ? -1 : 1;
        if (x->e.column != y->e.column)
                return x->e.column < y->e.column ? -1 : 1;
        return x->index < y->index ? -1 : x->index > y->index;
}

void field_errors_sort(struct field_errors *errs)
{
        _cleanup_free_ struct indexed_error *v = NULL;

        if (errs->n < 2)
                return;
        v = calloc(errs->n, sizeof(*v));
        if (!v)
                return;
        for (size_t i = 0; i < errs->n; i++)
                v[i] = (struct indexed_error){errs->items[i], i};
        qsort(v, errs->n, sizeof(*v), compare_errors);
        for (size_t i = 0; i < errs->n; i++)
                errs->items[i] = v[i].e;
}

/* ---- errors at paths ---------------------------------------------------- */

void check_release(struct check *c)
{
        field_errors_release(&c->errs);
}

int check_decode(const struct kind_info *kind, const json_t *object, void *ret_spec,
                 struct berth_error *err)
{
        _cleanup_(check_release) struct check c = {
            .object_name =
                json_string_value(json_object_get(json_object_get(object, "metadata"), "name")),
        };
        const json_t *spec = json_object_get(object, "spec");

        if (!json_is_object(spec))
                return berth_error_set(err, -EINVAL, "spec: required");
        kind->check_spec(&c, spec, ret_spec);
        return check_result(&c, err);
}

int check_result(struct check *c, struct berth_error *err)
{
        if (c->r < 0)
                return berth_error_set(err, c->r, "out of memory");
        if (c->errs.n == 0)
                return 0;
        const struct field_error *e = &c->errs.items[0];
        if (c->errs.n == 1)
                return berth_error_set(err, -EINVAL, "%s: %s", e->field, e->message);
        return berth_error_set(err, -EINVAL, "%s: %s (and %zu more)", e->field, e->message,
                               c->errs.n - 1);
}

/* Line and column of path, else of its nearest recorded parent (a missing
 * field is reported where its parent is). */
static void position_of(const struct check *c, const char *path, int *ret_line, int *ret_column)
{
        _cleanup_free_ char *p = NULL;

        *ret_line = 0;
        *ret_column = 0;
        if (!c->positions || !path)
                return;
        p = strdup(path);
        if (!p)
                return;
        for (;;) {
                const json_t *pos = json_object_get(c->positions, p);
                char *dot, *bracket, *cut;

                if (json_is_array(pos) && json_array_size(pos) == 2) {
                        *ret_line = (int)json_integer_value(json_array_get(pos, 0));
                        *ret_column = (int)json_integer_value(json_array_get(pos, 1));
                        return;
                }
                if (!*p)
                        return;
                dot = strrchr(p, '.');
                bracket = strrchr(p, '[');
                cut = !dot ? bracket : !bracket ? dot : dot > bracket ? dot : bracket;
                if (cut)
                        *cut = '\0';
                else
                        p[0] = '\0';
        }
}

void check_error(struct check *c, const char *path, const char *fmt, ...)
{
        va_list ap;
        int line, column, r;

        position_of(c, path, &line, &column);
        va_start(ap, fmt);
        r = field_errors_addv(&c->errs, path, line, column, fmt, ap);
        va_end(ap);
        if (r < 0)
                c->r = r;
}

char *check_join(struct check *c, const char *parent, const char *key)
{
        char *p = !key                  ? strdup(parent ? parent : "")
                  : !parent || !*parent ? strdup(key)
                                        : str_printf("%s.%s", parent, key);

        if (!p)
                c->r = -ENOMEM;
        return p;
}

char *check_index(struct check *c, const char *parent, size_t i)
{
        char *p = str_printf("%s[%zu]", parent, i);

        if (!p)
                c->r = -ENOMEM;
        return p;
}

void check_error_key(struct check *c, const char *parent, const char *key, const char *fmt, ...)
{
        _cleanup_free_ char *path = check_join(c, parent, key);
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0) {
                msg = NULL;
                c->r = -ENOMEM;
                return;
        }
        check_error(c, path, "%s", msg);
}

const char *check_suggest(const char *s, const char *const *candidates)
{
        const char *best = NULL;
        size_t best_distance = 3;

        for (const char *const *a = candidates; s && a && *a; a++) {
                size_t d = strcasecmp(s, *a) == 0 ? 0 : str_edit_distance(s, *a, 2);

                if (d < best_distance) {
                        best = *a;
                        best_distance = d;
                }
        }
        return best;
}

void check_unknown_fields(struct check *c, const json_t *obj, const char *path,
                          const char *const *allowed)
{
        const char *key;
        json_t *v;

        json_object_foreach((json_t *)obj, key, v)
        {
                const char *best;

                if (strv_contains(allowed, key))
                        continue;
                best = check_suggest(key, allowed);
                if (best) {
                        _cleanup_free_ char *suggestion = check_join(c, path, best);

                        check_error_key(c, path, key, "unknown field, did you mean %s?",
                                        suggestion ? suggestion : best);
                } else {
                        check_error_key(c, path, key, "unknown field");
                }
        }
}

/* ---- typed getters ------------------------------------------------------- */

bool check_entry(struct check *c, const json_t *entry, const char *path, const char *const *fields)
{
        if (!json_is_object(entry)) {
                check_error(c, path, "must be an object");
                return false;
        }
        check_unknown_fields(c, entry, path, fields);
        return true;
}

const json_t *check_field(struct check *c, const json_t *obj, const char *parent, const char *key,
                          bool required)
{
        const json_t *v = json_object_get(obj, key);

        if (json_is_null(v))
                v = NULL;
        if (!v && required)
                check_error_key(c, parent, key, "required");
        return v;
}

const char *check_string(struct check *c, const json_t *obj, const char *parent, const char *key,
                         bool required)
{
        const json_t *v = check_field(c, obj, parent, key, required);

        if (v && !json_is_string(v)) {
                check_error_key(c, parent, key, "must be a string");
                return NULL;
        }
        return v ? json_string_value(v) : NULL;
}

const char *check_nonempty_string(struct check *c, const json_t *obj, const char *parent,
                                  const char *key, bool required)
{
        const char *s = check_string(c, obj, parent, key, required);

        if (s && !*s) {
                check_error_key(c, parent, key, "must not be empty");
                return NULL;
        }
        return s;
}

const json_t *check_object(struct check *c, const json_t *obj, const char *parent, const char *key,
                           bool required)
{
        const json_t *v = check_field(c, obj, parent, key, required);

        if (v && !json_is_object(v)) {
                check_error_key(c, parent, key, "must be an object");
                return NULL;
        }
        return v;
}

const json_t *check_array(struct check *c, const json_t *obj, const char *parent, const char *key)
{
        const json_t *v = check_field(c, obj, parent, key, false);

        if (v && !json_is_array(v)) {
                check_error_key(c, parent, key, "must be an array");
                return NULL;
        }
        return v;
}

bool check_bool(struct check *c, const json_t *obj, const char *parent, const char *key, bool def)
{
        const json_t *v = check_field(c, obj, parent, key, false);

        if (!v)
                return def;
        if (!json_is_boolean(v)) {
                check_error_key(c, parent, key, "must be a boolean (true or false)");
                return def;
        }
        return json_is_true(v);
}

int64_t check_int(struct check *c, const json_t *obj, const char *parent, const char *key,
                  int64_t min, int64_t max, int64_t def)
{
        const json_t *v = check_field(c, obj, parent, key, false);
        json_int_t i;

        if (!v)
                return def;
        if (!json_is_integer(v)) {
                check_error_key(c, parent, key, "must be an integer");
                return def;
        }
        i = json_integer_value(v);
        if (i >= min && i <= max)
                return i;
        if (i < min && max == INT64_MAX)
                check_error_key(c, parent, key, "must be at least %" JSON_INTEGER_FORMAT,
                                (json_int_t)min);
        else
                check_error_key(c, parent, key,
                                "must be between %" JSON_INTEGER_FORMAT
                                " and %" JSON_INTEGER_FORMAT,
                                (json_int_t)min, (json_int_t)max);
        return def;
}

double check_number(struct check *c, const json_t *obj, const char *parent, const char *key,
                    double min, double max, double def)
{
        const json_t *v = check_field(c, obj, parent, key, false);
        double d;

        if (!v)
                return def;
        if (!json_is_number(v)) {
                check_error_key(c, parent, key, "must be a number");
                return def;
        }
        d = json_number_value(v);
        if (!(d >= min && d <= max)) {
                check_error_key(c, parent, key, "must be between %g and %g", min, max);
                return def;
        }
        return d;
}

int check_enum(struct check *c, const json_t *obj, const char *parent, const char *key,
               const char *const *values, int def)
{
        const char *s = check_string(c, obj, parent, key, false);
        char list[256] = "";

        if (!s)
                return def;
        for (const char *const *v = values; *v; v++)
                if (streq(*v, s))
                        return (int)(v - values);
        for (const char *const *v = values; *v; v++) {
                size_t used = strlen(list);

                snprintf(list + used, sizeof(list) - used, "%s%s", v == values ? "" : ", ", *v);
        }
        check_error_key(c, parent, key, "unsupported value \"%s\", must be one of: %s", s, list);
        return def;
}

const json_t *check_string_array(struct check *c, const json_t *obj, const char *parent,
                                 const char *key)
{
        const json_t *arr = check_array(c, obj, parent, key);
        _cleanup_free_ char *path = NULL;
        bool ok = true;
        size_t i;
        json_t *item;

        if (!arr)
                return NULL;
        path = check_join(c, parent, key);
        if (!path)
                return NULL;
        json_array_foreach(arr, i, item)
        {
                if (!json_is_string(item)) {
                        _cleanup_free_ char *ipath = check_index(c, path, i);

                        check_error(c, ipath, "must be a string");
                        ok = false;
                }
        }
        return ok ? arr : NULL;
}

const char *check_quoted_string(struct check *c, const json_t *obj, const char *parent,
                                const char *key, bool required)
{
        const json_t *value = check_field(c, obj, parent, key, required);

        if (json_is_integer(value))
                check_error_key(c, parent, key,
                                "must be a string; quote it: \"%" JSON_INTEGER_FORMAT "\"",
                                json_integer_value(value));
        else if (json_is_real(value))
                check_error_key(c, parent, key, "must be a string; quote it: \"%g\"",
                                json_real_value(value));
        else if (json_is_boolean(value))
                check_error_key(c, parent, key, "must be a string; quote it: \"%s\"",
                                json_is_true(value) ? "true" : "false");
        else if (value && !json_is_string(value))
                check_error_key(c, parent, key, "must be a string");
        return json_string_value(value);
}

int64_t check_bytes(struct check *c, const json_t *obj, const char *parent, const char *key,
                    int64_t min, const char *min_text)
{
        const json_t *v = check_field(c, obj, parent, key, false);
        int64_t bytes;

        if (!v)
                return 0;
        if (json_is_string(v)) {
                if (quantity_parse_bytes(json_string_value(v), &bytes) < 0) {
                        check_error_key(c, parent, key,
                                        "invalid quantity \"%s\": use bytes with an optional "
                                        "suffix like 256Mi or 1G",
                                        json_string_value(v));
                        return 0;
                }
        } else if (json_is_integer(v)) {
                bytes = json_integer_value(v);
        } else {
                check_error_key(c, parent, key,
                                "must be a quantity string like \"256Mi\" or an integer number "
                                "of bytes");
                return 0;
        }
        if (bytes < min) {
                check_error_key(c, parent, key, "must be at least %s", min_text);
                return 0;
        }
        return bytes;
}

const json_t *check_list(struct check *c, const json_t *obj, const char *parent, const char *key,
                         char **ret_path, json_t **ret_seen)
{
        const json_t *arr = check_array(c, obj, parent, key);
        _cleanup_free_ char *path = NULL;
        json_t *seen;

        if (!arr)
                return NULL;
        path = check_join(c, parent, key);
        seen = json_object();
        if (!path || !seen) {
                json_decref(seen);
                c->r = -ENOMEM;
                return NULL;
        }
        *ret_path = TAKE_PTR(path);
        *ret_seen = seen;
        return arr;
}

bool check_unique(struct check *c, json_t *seen, const char *name, size_t index,
                  const char *list_path, const char *parent, const char *key, const char *what)
{
        const json_t *first = json_object_get(seen, name);

        if (first) {
                check_error_key(c, parent, key,
                                "duplicate %s %s (first at %s[%" JSON_INTEGER_FORMAT "])", what,
                                name, list_path, json_integer_value(first));
                return false;
        }
        if (json_object_set_new(seen, name, json_integer((json_int_t)index)) < 0)
                c->r = -ENOMEM;
        return true;
}

/* ---- template expressions ------------------------------------------------ */

int check_expressions(struct check *c, const json_t *value, const char *parent, const char *field,
                      expr_resolve_fn resolve, void *userdata)
{
        _cleanup_free_ char *expanded = NULL;
        char msg[512];
        int r = expr_expand(json_string_value(value), resolve, userdata, MANIFEST_DOC_MAX,
                            &expanded, msg, sizeof(msg));

        if (r == -ENOMEM) {
                c->r = r;
                return r;
        }
        if (r < 0) {
                _cleanup_free_ char *path = check_join(c, parent, field);

                if (!path)
                        return -ENOMEM;
                check_error(c, path, "%s", msg);
        }
        return 0;
}

/* ---- names and labels -------------------------------------------------- */

/* [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?, at most 63. */
static bool qualified_name_valid(const char *s, size_t len)
{
        if (len == 0 || len > 63 || !ascii_alnum(s[0]) || !ascii_alnum(s[len - 1]))
                return false;
        for (size_t i = 0; i < len; i++)
                if (!ascii_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
                        return false;
        return true;
}

/* DNS-1123 subdomain: dot-separated DNS-1123 labels, at most 253. */
static bool dns_subdomain_valid(const char *s, size_t len)
{
        size_t start = 0;

        if (len == 0 || len > 253)
                return false;
        for (size_t i = 0; i <= len; i++) {
                if (i == len || s[i] == '.') {
                        char label[64];

                        if (i - start == 0 || i - start > 63)
                                return false;
                        memcpy(label, s + start, i - start);
                        label[i - start] = '\0';
                        if (!name_is_valid(label))
                                return false;
                        start = i + 1;
                }
        }
        return true;
}

static bool label_key_valid(const char *key)
{
        const char *slash = strchr(key, '/');

        if (!slash)
                return qualified_name_valid(key, strlen(key));
        return dns_subdomain_valid(key, (size_t)(slash - key)) &&
               qualified_name_valid(slash + 1, strlen(slash + 1));
}

static bool label_value_valid(const char *value)
{
        size_t len = strlen(value);

        return len == 0 || qualified_name_valid(value, len);
}

#define LABEL_KEY_RULE                                                                             \
        "must be an optional DNS subdomain prefix and '/', then a name of at most 63 "             \
        "letters, digits, '-', '_' or '.' that starts and ends with a letter or digit"
#define LABEL_VALUE_RULE                                                                           \
        "must be empty or at most 63 letters, digits, '-', '_' or '.', starting and ending "       \
        "with a letter or digit"

const json_t *check_string_map(struct check *c, const json_t *obj, const char *parent,
                               const char *key, bool check_values, bool reserve_berth)
{
        const json_t *map = check_object(c, obj, parent, key, false);
        _cleanup_free_ char *path = NULL;
        size_t errors = c->errs.n;
        const char *k;
        json_t *v;

        if (!map)
                return NULL;
        path = check_join(c, parent, key);
        if (!path)
                return NULL;
        json_object_foreach((json_t *)map, k, v)
        {
                if (!label_key_valid(k))
                        check_error_key(c, path, k, "invalid key \"%s\": %s", k, LABEL_KEY_RULE);
                else if (reserve_berth && str_has_prefix(k, "berth."))
                        check_error_key(
                            c, path, k,
                            "label keys starting with \"berth.\" are reserved for berth");
                if (!json_is_string(v))
                        check_error_key(c, path, k, "must be a string");
                else if (check_values && !label_value_valid(json_string_value(v)))
                        check_error_key(c, path, k, "invalid value \"%s\": %s",
                                        json_string_value(v), LABEL_VALUE_RULE);
        }
        return c->errs.n == errors ? map : NULL;
}

const char *check_name(struct check *c, const json_t *obj, const char *parent, const char *key,
                       bool required)
{
        const char *s = check_string(c, obj, parent, key, required);

        if (s && !name_is_valid(s)) {
                check_error_key(c, parent, key, "invalid name \"%s\": %s", s, NAME_RULE);
                return NULL;
        }
        return s;
}

void json_set_default(json_t *obj, const char *key, json_t *value)
{
        const json_t *cur = json_object_get(obj, key);

        if (!value)
                return;
        if (!cur || json_is_null(cur))
                json_object_set_new(obj, key, value);
        else
                json_decref(value);
}
