/* Validation of submitted objects (envelope + per-kind spec) and defaults.
 *
 * Validation never stops at the first problem: every error is collected with
 * the field path and, when a position map is given, the line and column, so a
 * user fixes a manifest in one round. A JSON null counts as "not set", as in
 * Kubernetes. */
#include <math.h>

#include "manifests.h"

#define MEMORY_MIN_BYTES (6LL * 1024 * 1024) /* Docker refuses less */
#define CPU_MAX_CORES    1000000.0           /* keeps nano-CPU arithmetic inside int64 */
#define SECONDS_PER_YEAR 31536000
#define SECONDS_PER_DAY  86400
/* The same values as in reconciler/reconciler.h, which this module must not
 * include (DESIGN.md layering): the reconciler relies on validation for them. */
#define OBJECT_NAME_MAX         63 /* a DNS-1123 label, see name_is_valid() */
#define WORKFLOW_STEPS_MAX      200
#define WORKFLOW_PARAMETERS_MAX 64

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

/* ---- validation context ------------------------------------------------ */

struct vctx {
        const json_t *positions;
        const char *name; /* metadata.name when a string: names derived from it have limits */
        struct field_errors errs;
        int r; /* -ENOMEM once an allocation failed */
};

static void vctx_release(struct vctx *c)
{
        field_errors_release(&c->errs);
}

/* Line and column of path, else of its nearest recorded parent (a missing
 * field is reported where its parent is). */
static void position_of(const struct vctx *c, const char *path, int *ret_line, int *ret_column)
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

_printf_(3, 4) static void verror(struct vctx *c, const char *path, const char *fmt, ...)
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

static char *path_join(struct vctx *c, const char *parent, const char *key)
{
        char *p = !parent || !*parent ? strdup(key) : str_printf("%s.%s", parent, key);

        if (!p)
                c->r = -ENOMEM;
        return p;
}

static char *path_index(struct vctx *c, const char *parent, size_t i)
{
        char *p = str_printf("%s[%zu]", parent, i);

        if (!p)
                c->r = -ENOMEM;
        return p;
}

/* Error on parent.key; the message is formatted like printf. */
_printf_(4, 5) static void verror_key(struct vctx *c, const char *parent, const char *key,
                                      const char *fmt, ...)
{
        _cleanup_free_ char *path = path_join(c, parent, key);
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
        verror(c, path, "%s", msg);
}

static bool strv_contains(const char *const *v, const char *s)
{
        for (; *v; v++)
                if (streq(*v, s))
                        return true;
        return false;
}

static void check_unknown_fields(struct vctx *c, const json_t *obj, const char *path,
                                 const char *const *allowed)
{
        const char *key;
        json_t *v;

        json_object_foreach((json_t *)obj, key, v)
        {
                const char *best = NULL;
                size_t best_distance = 3;

                if (strv_contains(allowed, key))
                        continue;
                for (const char *const *a = allowed; *a; a++) {
                        size_t d = strcasecmp(key, *a) == 0 ? 0 : str_edit_distance(key, *a, 2);

                        if (d < best_distance) {
                                best = *a;
                                best_distance = d;
                        }
                }
                if (best) {
                        _cleanup_free_ char *suggestion = path_join(c, path, best);

                        verror_key(c, path, key, "unknown field, did you mean %s?",
                                   suggestion ? suggestion : best);
                } else {
                        verror_key(c, path, key, "unknown field");
                }
        }
}

/* ---- typed getters: NULL/false when absent or of the wrong type -------- */

/* An entry of a list of objects: false (reported) when it is not an object,
 * else its unknown fields are reported and it is worth looking into. */
static bool check_entry(struct vctx *c, const json_t *entry, const char *path,
                        const char *const *fields)
{
        if (!json_is_object(entry)) {
                verror(c, path, "must be an object");
                return false;
        }
        check_unknown_fields(c, entry, path, fields);
        return true;
}

static const json_t *get_field(struct vctx *c, const json_t *obj, const char *parent,
                               const char *key, bool required)
{
        const json_t *v = json_object_get(obj, key);

        if (json_is_null(v))
                v = NULL;
        if (!v && required)
                verror_key(c, parent, key, "required");
        return v;
}

static const char *get_string(struct vctx *c, const json_t *obj, const char *parent,
                              const char *key, bool required)
{
        const json_t *v = get_field(c, obj, parent, key, required);

        if (v && !json_is_string(v)) {
                verror_key(c, parent, key, "must be a string");
                return NULL;
        }
        return v ? json_string_value(v) : NULL;
}

static const char *get_nonempty_string(struct vctx *c, const json_t *obj, const char *parent,
                                       const char *key, bool required)
{
        const char *s = get_string(c, obj, parent, key, required);

        if (s && !*s) {
                verror_key(c, parent, key, "must not be empty");
                return NULL;
        }
        return s;
}

static const json_t *get_object(struct vctx *c, const json_t *obj, const char *parent,
                                const char *key, bool required)
{
        const json_t *v = get_field(c, obj, parent, key, required);

        if (v && !json_is_object(v)) {
                verror_key(c, parent, key, "must be an object");
                return NULL;
        }
        return v;
}

static const json_t *get_array(struct vctx *c, const json_t *obj, const char *parent,
                               const char *key)
{
        const json_t *v = get_field(c, obj, parent, key, false);

        if (v && !json_is_array(v)) {
                verror_key(c, parent, key, "must be an array");
                return NULL;
        }
        return v;
}

static void check_bool(struct vctx *c, const json_t *obj, const char *parent, const char *key)
{
        const json_t *v = get_field(c, obj, parent, key, false);

        if (v && !json_is_boolean(v))
                verror_key(c, parent, key, "must be a boolean (true or false)");
}

static void check_int(struct vctx *c, const json_t *obj, const char *parent, const char *key,
                      json_int_t min, json_int_t max)
{
        const json_t *v = get_field(c, obj, parent, key, false);
        json_int_t i;

        if (!v)
                return;
        if (!json_is_integer(v)) {
                verror_key(c, parent, key, "must be an integer");
                return;
        }
        i = json_integer_value(v);
        if (i < min && max == INT64_MAX)
                verror_key(c, parent, key, "must be at least %" JSON_INTEGER_FORMAT, min);
        else if (i < min || i > max)
                verror_key(c, parent, key,
                           "must be between %" JSON_INTEGER_FORMAT " and %" JSON_INTEGER_FORMAT,
                           min, max);
}

static void check_number(struct vctx *c, const json_t *obj, const char *parent, const char *key,
                         double min, double max)
{
        const json_t *v = get_field(c, obj, parent, key, false);
        double d;

        if (!v)
                return;
        if (!json_is_number(v)) {
                verror_key(c, parent, key, "must be a number");
                return;
        }
        d = json_number_value(v);
        if (!(d >= min && d <= max))
                verror_key(c, parent, key, "must be between %g and %g", min, max);
}

static void check_enum(struct vctx *c, const json_t *obj, const char *parent, const char *key,
                       const char *const *values)
{
        const char *s = get_string(c, obj, parent, key, false);
        char list[256] = "";

        if (!s || strv_contains(values, s))
                return;
        for (const char *const *v = values; *v; v++) {
                size_t used = strlen(list);

                snprintf(list + used, sizeof(list) - used, "%s%s", v == values ? "" : ", ", *v);
        }
        verror_key(c, parent, key, "unsupported value \"%s\", must be one of: %s", s, list);
}

static void check_string_array(struct vctx *c, const json_t *obj, const char *parent,
                               const char *key)
{
        const json_t *arr = get_array(c, obj, parent, key);
        _cleanup_free_ char *path = NULL;
        size_t i;
        json_t *item;

        if (!arr)
                return;
        path = path_join(c, parent, key);
        if (!path)
                return;
        json_array_foreach(arr, i, item)
        {
                if (!json_is_string(item)) {
                        _cleanup_free_ char *ipath = path_index(c, path, i);

                        verror(c, ipath, "must be a string");
                }
        }
}

/* ---- names and labels -------------------------------------------------- */

static bool is_alnum(char ch)
{
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?, at most 63. */
static bool qualified_name_valid(const char *s, size_t len)
{
        if (len == 0 || len > 63 || !is_alnum(s[0]) || !is_alnum(s[len - 1]))
                return false;
        for (size_t i = 0; i < len; i++)
                if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
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
#define NAME_RULE                                                                                  \
        "must be a DNS-1123 label: at most 63 lowercase letters, digits or '-', starting and "     \
        "ending with a letter or digit"

/* labels (check_values) or annotations: an object of strings with label keys. */
static void check_string_map(struct vctx *c, const json_t *obj, const char *parent, const char *key,
                             bool check_values, bool reserve_berth)
{
        const json_t *map = get_object(c, obj, parent, key, false);
        _cleanup_free_ char *path = NULL;
        const char *k;
        json_t *v;

        if (!map)
                return;
        path = path_join(c, parent, key);
        if (!path)
                return;
        json_object_foreach((json_t *)map, k, v)
        {
                if (!label_key_valid(k))
                        verror_key(c, path, k, "invalid key \"%s\": %s", k, LABEL_KEY_RULE);
                else if (reserve_berth && str_has_prefix(k, "berth."))
                        verror_key(c, path, k,
                                   "label keys starting with \"berth.\" are reserved for berth");
                if (!json_is_string(v))
                        verror_key(c, path, k, "must be a string");
                else if (check_values && !label_value_valid(json_string_value(v)))
                        verror_key(c, path, k, "invalid value \"%s\": %s", json_string_value(v),
                                   LABEL_VALUE_RULE);
        }
}

static void check_name(struct vctx *c, const json_t *obj, const char *parent, const char *key,
                       bool required)
{
        const char *s = get_string(c, obj, parent, key, required);

        if (s && !name_is_valid(s))
                verror_key(c, parent, key, "invalid name \"%s\": %s", s, NAME_RULE);
}

static bool env_name_valid(const char *s)
{
        if (!(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
                return false;
        for (; *s; s++)
                if (!is_alnum(*s) && *s != '_')
                        return false;
        return true;
}

/* Docker volume names: [a-zA-Z0-9][a-zA-Z0-9_.-]*. */
static bool volume_name_valid(const char *s)
{
        if (!is_alnum(s[0]))
                return false;
        for (; *s; s++)
                if (!is_alnum(*s) && *s != '_' && *s != '.' && *s != '-')
                        return false;
        return true;
}

static bool network_valid(const char *s)
{
        if (str_has_prefix(s, "container:")) {
                const char *id = s + strlen("container:");

                return *id && !strpbrk(id, " \t\n\r");
        }
        return volume_name_valid(s);
}

static bool has_space(const char *s)
{
        return strpbrk(s, " \t\n\r\v\f") != NULL;
}

static bool absolute_path(const char *s)
{
        return s[0] == '/';
}

/* ---- envelope ---------------------------------------------------------- */

static const char *const top_fields[] = {"apiVersion", "kind", "metadata", "spec", "status", NULL};

static const char *const metadata_fields[] = {
    "name",
    "namespace",
    "labels",
    "annotations",
    "uid",
    "generation",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "finalizers",
    "ownerReferences",
    NULL,
};

static void validate_metadata(struct vctx *c, const json_t *object)
{
        const json_t *md = get_object(c, object, "", "metadata", true);

        if (!md)
                return;
        check_unknown_fields(c, md, "metadata", metadata_fields);
        check_name(c, md, "metadata", "name", true);
        check_name(c, md, "metadata", "namespace", false);
        check_string_map(c, md, "metadata", "labels", true, false);
        check_string_map(c, md, "metadata", "annotations", false, false);
}

/* ---- Task -------------------------------------------------------------- */

static const char *const task_spec_fields[] = {
    "image",
    "imagePullPolicy",
    "command",
    "args",
    "env",
    "workingDir",
    "user",
    "network",
    "volumes",
    "resources",
    "restartPolicy",
    "backoffLimit",
    "backoff",
    "activeDeadlineSeconds",
    "ttlSecondsAfterFinished",
    "labels",
    NULL,
};

/* A string where YAML users easily write a number or a boolean (env and
 * parameter values): the hint shows how to quote it. */
static void check_quoted_string(struct vctx *c, const json_t *obj, const char *parent,
                                const char *key, bool required)
{
        const json_t *value = get_field(c, obj, parent, key, required);

        if (json_is_integer(value))
                verror_key(c, parent, key,
                           "must be a string; quote it: \"%" JSON_INTEGER_FORMAT "\"",
                           json_integer_value(value));
        else if (json_is_real(value))
                verror_key(c, parent, key, "must be a string; quote it: \"%g\"",
                           json_real_value(value));
        else if (json_is_boolean(value))
                verror_key(c, parent, key, "must be a string; quote it: \"%s\"",
                           json_is_true(value) ? "true" : "false");
        else if (value && !json_is_string(value))
                verror_key(c, parent, key, "must be a string");
}

static void check_env(struct vctx *c, const json_t *spec, const char *parent)
{
        static const char *const env_fields[] = {"name", "value", NULL};
        const json_t *arr = get_array(c, spec, parent, "env");
        _cleanup_free_ char *env_path = NULL;
        _cleanup_json_ json_t *seen = NULL;
        size_t i;
        json_t *item;

        if (!arr)
                return;
        env_path = path_join(c, parent, "env");
        seen = json_object(); /* name → first index */
        if (!env_path || !seen) {
                c->r = -ENOMEM;
                return;
        }
        json_array_foreach(arr, i, item)
        {
                _cleanup_free_ char *path = path_index(c, env_path, i);
                const char *name;

                if (!path)
                        return;
                if (!check_entry(c, item, path, env_fields))
                        continue;
                name = get_string(c, item, path, "name", true);
                if (name && !env_name_valid(name)) {
                        verror_key(c, path, "name",
                                   "invalid name \"%s\": must start with a letter or '_' and "
                                   "contain only letters, digits and '_'",
                                   name);
                } else if (name) {
                        const json_t *first = json_object_get(seen, name);

                        if (first)
                                verror_key(c, path, "name",
                                           "duplicate name %s (first at %s[%" JSON_INTEGER_FORMAT
                                           "])",
                                           name, env_path, json_integer_value(first));
                        else if (json_object_set_new(seen, name, json_integer((json_int_t)i)) < 0)
                                c->r = -ENOMEM;
                }
                check_quoted_string(c, item, path, "value", false);
        }
}

/* sizeLimit and similar: a byte quantity string or a positive integer. */
static void check_bytes(struct vctx *c, const json_t *obj, const char *parent, const char *key,
                        int64_t min, const char *min_text)
{
        const json_t *v = get_field(c, obj, parent, key, false);
        int64_t bytes;

        if (!v)
                return;
        if (json_is_string(v)) {
                if (quantity_parse_bytes(json_string_value(v), &bytes) < 0) {
                        verror_key(c, parent, key,
                                   "invalid quantity \"%s\": use bytes with an optional suffix "
                                   "like 256Mi or 1G",
                                   json_string_value(v));
                        return;
                }
        } else if (json_is_integer(v)) {
                bytes = json_integer_value(v);
        } else {
                verror_key(c, parent, key,
                           "must be a quantity string like \"256Mi\" or an integer number of "
                           "bytes");
                return;
        }
        if (bytes < min)
                verror_key(c, parent, key, "must be at least %s", min_text);
}

static void check_volumes(struct vctx *c, const json_t *spec, const char *parent)
{
        static const char *const volume_fields[] = {"mountPath", "readOnly", "hostPath",
                                                    "volume",    "tmpfs",    NULL};
        static const char *const tmpfs_fields[] = {"sizeLimit", NULL};
        static const char *const sources[] = {"hostPath", "volume", "tmpfs"};
        const json_t *arr = get_array(c, spec, parent, "volumes");
        _cleanup_free_ char *volumes_path = NULL;
        _cleanup_json_ json_t *seen = NULL;
        size_t i;
        json_t *item;

        if (!arr)
                return;
        volumes_path = path_join(c, parent, "volumes");
        seen = json_object(); /* mountPath → first index */
        if (!volumes_path || !seen) {
                c->r = -ENOMEM;
                return;
        }
        json_array_foreach(arr, i, item)
        {
                _cleanup_free_ char *path = path_index(c, volumes_path, i);
                const char *mount, *s, *set[ARRAY_SIZE(sources)];
                const json_t *tmpfs;
                size_t nset = 0;

                if (!path)
                        return;
                if (!check_entry(c, item, path, volume_fields))
                        continue;

                mount = get_string(c, item, path, "mountPath", true);
                if (mount && !absolute_path(mount)) {
                        verror_key(c, path, "mountPath", "must be an absolute path");
                } else if (mount && streq(mount, "/")) {
                        verror_key(c, path, "mountPath", "must not be /");
                } else if (mount) {
                        const json_t *first = json_object_get(seen, mount);

                        if (first)
                                verror_key(c, path, "mountPath",
                                           "duplicate mountPath %s (first at "
                                           "%s[%" JSON_INTEGER_FORMAT "])",
                                           mount, volumes_path, json_integer_value(first));
                        else if (json_object_set_new(seen, mount, json_integer((json_int_t)i)) < 0)
                                c->r = -ENOMEM;
                }
                check_bool(c, item, path, "readOnly");

                for (size_t k = 0; k < ARRAY_SIZE(sources); k++)
                        if (get_field(c, item, path, sources[k], false))
                                set[nset++] = sources[k];
                if (nset == 0)
                        verror(c, path, "one of hostPath, volume or tmpfs is required");
                else if (nset > 1)
                        verror(c, path,
                               "only one of hostPath, volume or tmpfs may be set, found %s and %s",
                               set[0], set[1]);

                s = get_string(c, item, path, "hostPath", false);
                if (s && !absolute_path(s))
                        verror_key(c, path, "hostPath", "must be an absolute path");
                s = get_string(c, item, path, "volume", false);
                if (s && !volume_name_valid(s))
                        verror_key(c, path, "volume",
                                   "invalid volume name \"%s\": must start with a letter or digit "
                                   "and contain only letters, digits, '_', '.' and '-'",
                                   s);
                tmpfs = get_object(c, item, path, "tmpfs", false);
                if (tmpfs) {
                        _cleanup_free_ char *tpath = path_join(c, path, "tmpfs");

                        if (!tpath)
                                return;
                        check_unknown_fields(c, tmpfs, tpath, tmpfs_fields);
                        check_bytes(c, tmpfs, tpath, "sizeLimit", 1, "1 byte");
                }
        }
}

static void check_resources(struct vctx *c, const json_t *spec, const char *parent)
{
        static const char *const resource_fields[] = {"cpu", "memory", "pids", NULL};
        const json_t *res = get_object(c, spec, parent, "resources", false);
        _cleanup_free_ char *path = NULL;
        const json_t *cpu;

        if (!res)
                return;
        path = path_join(c, parent, "resources");
        if (!path)
                return;
        check_unknown_fields(c, res, path, resource_fields);

        cpu = get_field(c, res, path, "cpu", false);
        if (json_is_string(cpu)) {
                int64_t millicpu;

                if (quantity_parse_millicpu(json_string_value(cpu), &millicpu) < 0)
                        verror_key(c, path, "cpu",
                                   "invalid cpu quantity \"%s\": use cores like \"0.5\" or "
                                   "millicores like \"500m\"",
                                   json_string_value(cpu));
                else if (millicpu < 1)
                        verror_key(c, path, "cpu", "must be at least 1m");
                else if (millicpu > CPU_MAX_CORES * 1000)
                        verror_key(c, path, "cpu", "must be at most %.0f", CPU_MAX_CORES);
        } else if (json_is_number(cpu)) {
                double cores = json_number_value(cpu);

                if (!(cores > 0))
                        verror_key(c, path, "cpu", "must be greater than 0");
                else if (cores > CPU_MAX_CORES)
                        verror_key(c, path, "cpu", "must be at most %.0f", CPU_MAX_CORES);
        } else if (cpu) {
                verror_key(c, path, "cpu",
                           "must be a quantity string like \"500m\" or a number of cores");
        }

        check_bytes(c, res, path, "memory", MEMORY_MIN_BYTES, "6Mi (Docker's minimum)");
        check_int(c, res, path, "pids", 1, INT64_MAX);
}

/* A Task spec at parent: "spec" for a Task, "spec.steps[3].task" for a
 * Workflow step, whose Task has no TTL of its own (it is deleted with its
 * Workflow, which has the TTL). */
static void check_task_spec(struct vctx *c, const json_t *spec, const char *parent, bool in_step)
{
        static const char *const pull_policies[] = {"Always", "IfNotPresent", "Never", NULL};
        static const char *const restart_policies[] = {"Never", "OnFailure", NULL};
        static const char *const backoff_fields[] = {"initialSeconds", "factor", "maxSeconds",
                                                     NULL};
        _cleanup_free_ char *backoff_path = NULL;
        const json_t *backoff;
        const char *s;

        check_unknown_fields(c, spec, parent, task_spec_fields);

        s = get_nonempty_string(c, spec, parent, "image", true);
        if (s && has_space(s))
                verror_key(c, parent, "image", "must not contain whitespace");
        check_enum(c, spec, parent, "imagePullPolicy", pull_policies);
        check_string_array(c, spec, parent, "command");
        check_string_array(c, spec, parent, "args");
        check_env(c, spec, parent);

        s = get_string(c, spec, parent, "workingDir", false);
        if (s && !absolute_path(s))
                verror_key(c, parent, "workingDir", "must be an absolute path");
        get_nonempty_string(c, spec, parent, "user", false);
        s = get_nonempty_string(c, spec, parent, "network", false);
        if (s && !network_valid(s))
                verror_key(c, parent, "network",
                           "invalid network \"%s\": must be none, host, bridge, container:<id> "
                           "or a network name",
                           s);

        check_volumes(c, spec, parent);
        check_resources(c, spec, parent);

        check_enum(c, spec, parent, "restartPolicy", restart_policies);
        check_int(c, spec, parent, "backoffLimit", 0, 1000);
        backoff = get_object(c, spec, parent, "backoff", false);
        if (backoff) {
                backoff_path = path_join(c, parent, "backoff");
                if (!backoff_path)
                        return;
                check_unknown_fields(c, backoff, backoff_path, backoff_fields);
                check_int(c, backoff, backoff_path, "initialSeconds", 0, SECONDS_PER_DAY);
                check_number(c, backoff, backoff_path, "factor", 1, 10);
                check_int(c, backoff, backoff_path, "maxSeconds", 1, SECONDS_PER_DAY);
        }
        check_int(c, spec, parent, "activeDeadlineSeconds", 1, SECONDS_PER_YEAR);
        if (!in_step)
                check_int(c, spec, parent, "ttlSecondsAfterFinished", 0, SECONDS_PER_YEAR);
        else if (get_field(c, spec, parent, "ttlSecondsAfterFinished", false))
                verror_key(c, parent, "ttlSecondsAfterFinished",
                           "not allowed in a step: a step's Task lives as long as its Workflow; "
                           "set spec.ttlSecondsAfterFinished");
        check_string_map(c, spec, parent, "labels", true, true);
}

static void validate_task_spec(struct vctx *c, const json_t *spec)
{
        check_task_spec(c, spec, "spec", false);
}

/* ---- Workflow ---------------------------------------------------------- */

static const char *const workflow_spec_fields[] = {
    "steps", "parameters", "failFast", "parallelism", "ttlSecondsAfterFinished", NULL,
};

/* [A-Za-z_][A-Za-z0-9_-]*: usable as one segment of {{parameters.<name>}}. */
static bool parameter_name_valid(const char *s)
{
        if (!(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
                return false;
        for (; *s; s++)
                if (!is_alnum(*s) && *s != '_' && *s != '-')
                        return false;
        return true;
}

/* Checks spec.parameters and records every declared name (valid or not, so
 * that a bad name is reported once, not again by each expression using it)
 * in *names: name → index. */
static void check_parameters(struct vctx *c, const json_t *spec, json_t *names)
{
        static const char *const parameter_fields[] = {"name", "value", NULL};
        const json_t *arr = get_array(c, spec, "spec", "parameters");
        size_t i;
        json_t *item;

        if (!arr)
                return;
        if (json_array_size(arr) > WORKFLOW_PARAMETERS_MAX)
                verror(c, "spec.parameters", "must have at most %d entries, has %zu",
                       WORKFLOW_PARAMETERS_MAX, json_array_size(arr));
        json_array_foreach(arr, i, item)
        {
                _cleanup_free_ char *path = path_index(c, "spec.parameters", i);
                const json_t *first;
                const char *name;

                if (!path)
                        return;
                if (!check_entry(c, item, path, parameter_fields))
                        continue;
                check_quoted_string(c, item, path, "value", true);
                name = get_string(c, item, path, "name", true);
                if (!name)
                        continue;
                if (!parameter_name_valid(name))
                        verror_key(c, path, "name",
                                   "invalid name \"%s\": must start with a letter or '_' and "
                                   "contain only letters, digits, '_' and '-'",
                                   name);
                first = json_object_get(names, name);
                if (first)
                        verror_key(
                            c, path, "name",
                            "duplicate name %s (first at spec.parameters[%" JSON_INTEGER_FORMAT
                            "])",
                            name, json_integer_value(first));
                else if (json_object_set_new(names, name, json_integer((json_int_t)i)) < 0)
                        c->r = -ENOMEM;
        }
}

/* The steps and their dependencies: enough to find cycles and to tell which
 * results a step may read. At most WORKFLOW_STEPS_MAX steps, so a matrix. */
struct step_graph {
        size_t n;
        const char *names[WORKFLOW_STEPS_MAX];             /* NULL when missing or not a string */
        json_t *index;                                     /* name → index of its first step */
        bool deps[WORKFLOW_STEPS_MAX][WORKFLOW_STEPS_MAX]; /* [i][j]: step i depends on j */
        /* An unknown or self dependency, or a cycle: reported already, and
         * reachability would only produce confusing follow-up errors. */
        bool broken;

        /* depth-first search state */
        enum { STEP_UNSEEN, STEP_ON_PATH, STEP_DONE } state[WORKFLOW_STEPS_MAX];
        size_t path[WORKFLOW_STEPS_MAX];
        size_t depth;
        bool cycle_reported[WORKFLOW_STEPS_MAX]; /* at spec.steps[i].dependsOn */
};

static void step_graph_free(struct step_graph *g)
{
        if (!g)
                return;
        json_decref(g->index);
        free(g);
}

static void step_graph_freep(struct step_graph **g)
{
        step_graph_free(*g);
}

/* Index of the step named name, or g->n. */
static size_t step_graph_find(const struct step_graph *g, const char *name)
{
        const json_t *i = json_object_get(g->index, name);

        return i ? (size_t)json_integer_value(i) : g->n;
}

/* The step of g named like name give or take two edits, or NULL. */
static const char *step_graph_nearest(const struct step_graph *g, const char *name)
{
        const char *best = NULL;
        size_t best_distance = 3;

        for (size_t i = 0; i < g->n; i++) {
                size_t d;

                if (!g->names[i])
                        continue;
                d = str_edit_distance(name, g->names[i], 2);
                if (d < best_distance) {
                        best = g->names[i];
                        best_distance = d;
                }
        }
        return best;
}

/* A step: its fields and its Task; its name goes into g (dependencies are
 * resolved once every name is known, as a step may depend on a later one). */
static void check_step(struct vctx *c, const json_t *step, size_t i, struct step_graph *g)
{
        static const char *const step_fields[] = {"name", "dependsOn", "task", NULL};
        _cleanup_free_ char *path = path_index(c, "spec.steps", i);
        _cleanup_free_ char *task_path = NULL;
        const json_t *task;
        const char *name;

        if (!path)
                return;
        if (!check_entry(c, step, path, step_fields))
                return;

        name = get_string(c, step, path, "name", true);
        if (name) {
                size_t first = step_graph_find(g, name);

                g->names[i] = name;
                if (!name_is_valid(name))
                        verror_key(c, path, "name", "invalid name \"%s\": %s", name, NAME_RULE);
                else if (name_is_valid(c->name) &&
                         strlen(c->name) + 1 + strlen(name) > OBJECT_NAME_MAX)
                        verror_key(c, path, "name",
                                   "the step's Task name \"%s-%s\" is longer than %d characters",
                                   c->name, name, OBJECT_NAME_MAX);
                if (first < g->n)
                        verror_key(c, path, "name", "duplicate name %s (first at spec.steps[%zu])",
                                   name, first);
                else if (json_object_set_new(g->index, name, json_integer((json_int_t)i)) < 0)
                        c->r = -ENOMEM;
        }

        task = get_object(c, step, path, "task", true);
        if (task) {
                task_path = path_join(c, path, "task");
                if (task_path)
                        check_task_spec(c, task, task_path, true);
        }
}

/* spec.steps[i].dependsOn → g->deps[i]. */
static void check_depends_on(struct vctx *c, const json_t *step, size_t i, struct step_graph *g)
{
        _cleanup_free_ char *path = path_index(c, "spec.steps", i);
        _cleanup_free_ char *deps_path = NULL;
        _cleanup_json_ json_t *seen = NULL;
        const json_t *arr;
        size_t k;
        json_t *item;

        if (!path || !json_is_object(step) || !get_field(c, step, path, "dependsOn", false))
                return;
        arr = get_array(c, step, path, "dependsOn");
        if (!arr) {
                g->broken = true; /* reported */
                return;
        }
        deps_path = path_join(c, path, "dependsOn");
        seen = json_object(); /* name → first index in dependsOn */
        if (!deps_path || !seen) {
                c->r = -ENOMEM;
                return;
        }
        json_array_foreach(arr, k, item)
        {
                _cleanup_free_ char *item_path = path_index(c, deps_path, k);
                const char *dep = json_string_value(item);
                const json_t *first;
                size_t j;

                if (!item_path)
                        return;
                if (!dep) {
                        verror(c, item_path, "must be a string");
                        g->broken = true;
                        continue;
                }
                first = json_object_get(seen, dep);
                if (first) {
                        verror(c, item_path,
                               "duplicate dependency %s (first at %s[%" JSON_INTEGER_FORMAT "])",
                               dep, deps_path, json_integer_value(first));
                        continue;
                }
                if (json_object_set_new(seen, dep, json_integer((json_int_t)k)) < 0) {
                        c->r = -ENOMEM;
                        return;
                }
                j = step_graph_find(g, dep);
                if (g->names[i] && streq(dep, g->names[i])) {
                        verror(c, item_path, "a step cannot depend on itself");
                        g->broken = true;
                } else if (j == g->n) {
                        const char *near = step_graph_nearest(g, dep);

                        if (near)
                                verror(c, item_path, "unknown step \"%s\", did you mean \"%s\"?",
                                       dep, near);
                        else
                                verror(c, item_path, "unknown step \"%s\"", dep);
                        g->broken = true;
                } else {
                        g->deps[i][j] = true;
                }
        }
}

/* The search stands on a path that reaches step v again: g->path from v on
 * is a cycle. Reported from its first step in spec order, so that the message
 * does not depend on where the search happened to start, and only the first
 * cycle of each step: densely connected steps close thousands of cycles, and
 * one path per step says enough to fix them. */
static void report_cycle(struct vctx *c, struct step_graph *g, size_t v)
{
        _cleanup_buf_ struct buf b = {};
        _cleanup_free_ char *path = NULL;
        size_t from = 0, len, lowest = 0;
        int r = 0;

        while (g->path[from] != v)
                from++;
        len = g->depth - from;
        for (size_t k = 1; k < len; k++)
                if (g->path[from + k] < g->path[from + lowest])
                        lowest = k;
        g->broken = true;
        if (g->cycle_reported[g->path[from + lowest]])
                return;
        g->cycle_reported[g->path[from + lowest]] = true;

        buf_init(&b, SIZE_MAX / 2);
        for (size_t k = 0; k <= len && r == 0; k++)
                r = buf_printf(&b, "%s%s", k ? " -> " : "",
                               g->names[g->path[from + (lowest + k) % len]]);
        path = str_printf("spec.steps[%zu].dependsOn", g->path[from + lowest]);
        if (r < 0 || !path) {
                c->r = -ENOMEM;
                return;
        }
        verror(c, path, "dependency cycle: %s", b.data);
}

/* Depth-first search along dependencies; every edge back onto the current
 * path closes a different cycle. Depth is at most WORKFLOW_STEPS_MAX. */
static void find_cycles(struct vctx *c, struct step_graph *g, size_t u)
{
        g->state[u] = STEP_ON_PATH;
        g->path[g->depth++] = u;
        for (size_t v = 0; v < g->n; v++) {
                if (!g->deps[u][v])
                        continue;
                if (g->state[v] == STEP_ON_PATH)
                        report_cycle(c, g, v);
                else if (g->state[v] == STEP_UNSEEN)
                        find_cycles(c, g, v);
        }
        g->depth--;
        g->state[u] = STEP_DONE;
}

/* What the expressions of one step may name, for expr_expand. */
struct expr_scope {
        const json_t *parameters; /* name → index */
        const struct step_graph *g;
        size_t step;
        bool reachable[WORKFLOW_STEPS_MAX]; /* the step's dependencies, transitively */
};

static void expr_scope_init(struct expr_scope *scope, const json_t *parameters,
                            const struct step_graph *g, size_t step)
{
        size_t stack[WORKFLOW_STEPS_MAX + 1], n = 0; /* each step is pushed once */

        *scope = (struct expr_scope){.parameters = parameters, .g = g, .step = step};
        stack[n++] = step;
        while (n > 0) {
                size_t u = stack[--n];

                for (size_t v = 0; v < g->n; v++) {
                        if (g->deps[u][v] && !scope->reachable[v]) {
                                scope->reachable[v] = true;
                                stack[n++] = v;
                        }
                }
        }
}

/* Validation knows names, not values: every known expression expands to "". */
static int validation_resolve(const char *expr, const char **ret_value, char *msg, size_t msg_size,
                              void *userdata)
{
        static const char *const workflow_fields[] = {"workflow.name", "workflow.namespace",
                                                      "workflow.uid", NULL};
        const struct expr_scope *scope = userdata;
        const struct step_graph *g = scope->g;

        if (str_has_prefix(expr, "parameters.")) {
                const char *name = expr + strlen("parameters.");

                if (!json_object_get(scope->parameters, name)) {
                        snprintf(msg, msg_size, "unknown parameter \"%s\"", name);
                        return -ENOENT;
                }
        } else if (str_has_prefix(expr, "steps.") && str_has_suffix(expr, ".outputs.result") &&
                   strlen(expr) > strlen("steps.") + strlen(".outputs.result")) {
                const char *name = expr + strlen("steps.");
                size_t len = strlen(name) - strlen(".outputs.result");
                char step[64];
                size_t j;

                if (len >= sizeof(step) || memchr(name, '.', len)) {
                        snprintf(msg, msg_size, "unknown step \"%.*s\"", (int)len, name);
                        return -ENOENT;
                }
                memcpy(step, name, len);
                step[len] = '\0';
                j = step_graph_find(g, step);
                if (j == g->n) {
                        snprintf(msg, msg_size, "unknown step \"%s\"", step);
                        return -ENOENT;
                }
                if (!scope->reachable[j]) {
                        if (g->names[scope->step])
                                snprintf(msg, msg_size,
                                         "step \"%s\" is not a dependency of step \"%s\"", step,
                                         g->names[scope->step]);
                        else
                                snprintf(msg, msg_size, "step \"%s\" is not a dependency", step);
                        return -ENOENT;
                }
        } else if (!strv_contains(workflow_fields, expr)) {
                snprintf(msg, msg_size,
                         "unknown expression, must be parameters.<name>, "
                         "steps.<step>.outputs.result, workflow.name, workflow.namespace or "
                         "workflow.uid");
                return -ENOENT;
        }
        *ret_value = "";
        return 0;
}

static void check_expression(struct vctx *c, struct expr_scope *scope, const json_t *value,
                             const char *path)
{
        _cleanup_free_ char *expanded = NULL;
        char msg[512];
        int r;

        if (!json_is_string(value))
                return; /* reported by the Task checks */
        r = expr_expand(json_string_value(value), validation_resolve, scope, MANIFEST_DOC_MAX,
                        &expanded, msg, sizeof(msg));
        if (r == -ENOMEM)
                c->r = r;
        else if (r < 0)
                verror(c, path, "%s", msg);
}

/* {{ ... }} in the fields the controller expands: command, args, env values. */
static void check_step_expressions(struct vctx *c, const json_t *step, size_t i,
                                   struct expr_scope *scope)
{
        static const char *const lists[] = {"command", "args"};
        const json_t *task = json_object_get(step, "task");
        _cleanup_free_ char *task_path = str_printf("spec.steps[%zu].task", i);
        size_t k;
        json_t *item;

        if (!task_path) {
                c->r = -ENOMEM;
                return;
        }
        if (!json_is_object(task))
                return;
        for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
                json_array_foreach(json_object_get(task, lists[l]), k, item)
                {
                        _cleanup_free_ char *path =
                            str_printf("%s.%s[%zu]", task_path, lists[l], k);

                        if (!path) {
                                c->r = -ENOMEM;
                                return;
                        }
                        check_expression(c, scope, item, path);
                }
        }
        json_array_foreach(json_object_get(task, "env"), k, item)
        {
                _cleanup_free_ char *path = str_printf("%s.env[%zu].value", task_path, k);

                if (!path) {
                        c->r = -ENOMEM;
                        return;
                }
                check_expression(c, scope, json_object_get(item, "value"), path);
        }
}

static void check_steps(struct vctx *c, const json_t *spec, const json_t *parameters)
{
        _cleanup_(step_graph_freep) struct step_graph *g = NULL;
        const json_t *steps;
        size_t i, n;
        json_t *step;

        if (!get_field(c, spec, "spec", "steps", true))
                return;
        steps = get_array(c, spec, "spec", "steps");
        if (!steps)
                return;
        n = json_array_size(steps);
        if (n == 0 || n > WORKFLOW_STEPS_MAX) {
                /* Not checked further: the graph checks are quadratic. */
                verror(c, "spec.steps", "must have between 1 and %d entries, has %zu",
                       WORKFLOW_STEPS_MAX, n);
                return;
        }

        g = calloc(1, sizeof(*g));
        if (g)
                g->index = json_object();
        if (!g || !g->index) {
                c->r = -ENOMEM;
                return;
        }
        g->n = n;
        json_array_foreach(steps, i, step)
        {
                check_step(c, step, i, g);
        }
        json_array_foreach(steps, i, step)
        {
                check_depends_on(c, step, i, g);
        }
        for (i = 0; i < n; i++)
                if (g->state[i] == STEP_UNSEEN)
                        find_cycles(c, g, i);
        if (g->broken)
                return;

        json_array_foreach(steps, i, step)
        {
                struct expr_scope scope;

                expr_scope_init(&scope, parameters, g, i);
                check_step_expressions(c, step, i, &scope);
        }
}

static void validate_workflow_spec(struct vctx *c, const json_t *spec)
{
        _cleanup_json_ json_t *parameters = json_object();

        if (!parameters) {
                c->r = -ENOMEM;
                return;
        }
        check_unknown_fields(c, spec, "spec", workflow_spec_fields);
        check_parameters(c, spec, parameters);
        check_bool(c, spec, "spec", "failFast");
        check_int(c, spec, "spec", "parallelism", 0, 1000);
        check_int(c, spec, "spec", "ttlSecondsAfterFinished", 0, SECONDS_PER_YEAR);
        check_steps(c, spec, parameters);
}

static void default_task_spec(json_t *spec);
static void default_workflow_spec(json_t *spec);

/* Per-kind spec rules, indexed by kind name. */
static const struct kind_rules {
        const char *kind;
        void (*validate)(struct vctx *c, const json_t *spec);
        void (*defaults)(json_t *spec);
} kind_rules[] = {
    {"Task", validate_task_spec, default_task_spec},
    {"Workflow", validate_workflow_spec, default_workflow_spec},
};

static const struct kind_rules *kind_rules_find(const char *kind)
{
        for (size_t i = 0; i < ARRAY_SIZE(kind_rules); i++)
                if (streq(kind_rules[i].kind, kind))
                        return &kind_rules[i];
        return NULL;
}

/* Exact kind match: manifests spell kinds as documented ("Task"). */
static const struct kind_info *kind_exact(const char *kind)
{
        const struct kind_info *k = kind_lookup(kind);

        return k && streq(k->kind, kind) ? k : NULL;
}

static void validate_object(struct vctx *c, const json_t *object)
{
        const struct kind_info *info = NULL;
        const char *api_version, *kind;

        check_unknown_fields(c, object, "", top_fields);

        api_version = get_string(c, object, "", "apiVersion", true);
        if (api_version && !streq(api_version, MANIFEST_API_VERSION))
                verror(c, "apiVersion", "unsupported apiVersion \"%s\", must be %s", api_version,
                       MANIFEST_API_VERSION);

        kind = get_string(c, object, "", "kind", true);
        if (kind) {
                info = kind_exact(kind);
                if (!info) {
                        char known[256] = "";

                        for (const struct kind_info *const *k = kind_all(); *k; k++) {
                                size_t used = strlen(known);

                                snprintf(known + used, sizeof(known) - used, "%s%s",
                                         k == kind_all() ? "" : ", ", (*k)->kind);
                        }
                        const struct kind_info *near = kind_lookup(kind);

                        /* "task" or "tasks": name the spelling manifests use. */
                        if (near)
                                verror(c, "kind", "kind %s is not supported; did you mean %s?",
                                       kind, near->kind);
                        else
                                verror(c, "kind", "kind %s is not supported; known kinds: %s", kind,
                                       known);
                }
        }

        validate_metadata(c, object);
        c->name = json_string_value(json_object_get(json_object_get(object, "metadata"), "name"));

        if (info) {
                const struct kind_rules *rules = kind_rules_find(info->kind);
                const json_t *spec = get_object(c, object, "", "spec", rules != NULL);

                if (rules && spec)
                        rules->validate(c, spec);
        }
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

/* Stable sort into document order (errors without a position keep theirs).
 * Left unsorted when memory is short: the order is a courtesy. */
static void sort_errors(struct field_errors *errs)
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

int manifest_validate(const json_t *object, const json_t *positions, struct field_errors *ret_errs)
{
        _cleanup_(vctx_release) struct vctx c = {.positions = positions};
        struct field_error *items;

        if (!ret_errs)
                return -EINVAL;
        if (!json_is_object(object))
                verror(&c, "", "must be an object");
        else
                validate_object(&c, object);
        if (c.r < 0)
                return c.r;
        if (c.errs.n == 0)
                return 0;
        sort_errors(&c.errs);

        /* Append to what the caller already holds. */
        if (ret_errs->n == 0) {
                free(ret_errs->items);
                *ret_errs = c.errs;
                c.errs = (struct field_errors){};
                return -EINVAL;
        }
        items = reallocarray(ret_errs->items, ret_errs->n + c.errs.n, sizeof(*items));
        if (!items)
                return -ENOMEM;
        memcpy(items + ret_errs->n, c.errs.items, c.errs.n * sizeof(*items));
        ret_errs->items = items;
        ret_errs->n += c.errs.n;
        free(c.errs.items);
        c.errs = (struct field_errors){};
        return -EINVAL;
}

/* ---- defaults ---------------------------------------------------------- */

/* Sets obj[key] = value (stolen) unless a non-null value is there. */
static void set_default(json_t *obj, const char *key, json_t *value)
{
        const json_t *cur = json_object_get(obj, key);

        if (!value)
                return;
        if (!cur || json_is_null(cur))
                json_object_set_new(obj, key, value);
        else
                json_decref(value);
}

static void default_task_spec(json_t *spec)
{
        json_t *backoff;

        set_default(spec, "imagePullPolicy", json_string("IfNotPresent"));
        set_default(spec, "restartPolicy", json_string("Never"));
        set_default(spec, "backoffLimit", json_integer(6));
        set_default(spec, "backoff", json_object());
        backoff = json_object_get(spec, "backoff");
        if (json_is_object(backoff)) {
                set_default(backoff, "initialSeconds", json_integer(10));
                set_default(backoff, "factor", json_integer(2));
                set_default(backoff, "maxSeconds", json_integer(300));
        }
}

static void default_workflow_spec(json_t *spec)
{
        size_t i;
        json_t *step;

        set_default(spec, "failFast", json_true());
        set_default(spec, "parallelism", json_integer(0));
        json_array_foreach(json_object_get(spec, "steps"), i, step)
        {
                json_t *task = json_object_get(step, "task");

                if (json_is_object(task))
                        default_task_spec(task);
        }
}

void manifest_apply_defaults(json_t *object)
{
        const struct kind_info *info;
        const struct kind_rules *rules;
        json_t *metadata, *spec;

        if (!json_is_object(object))
                return;
        info = kind_exact(json_string_value(json_object_get(object, "kind")));
        metadata = json_object_get(object, "metadata");
        if (json_is_object(metadata) && (!info || info->namespaced))
                set_default(metadata, "namespace", json_string("default"));
        if (!info)
                return;
        rules = kind_rules_find(info->kind);
        spec = json_object_get(object, "spec");
        if (rules && json_is_object(spec))
                rules->defaults(spec);
}
