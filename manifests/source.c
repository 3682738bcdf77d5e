/* source.c: the Source kind — a directory of manifests on the berthd host
 * that berth keeps applied, GitOps style (docs/reference/source.md): names,
 * schema, defaults, the typed spec and its `berth get` columns.
 *
 * The include and exclude globs are only checked for what can be told
 * without the glob matcher (length, emptiness, an unclosed "["); whether the
 * path lies inside berthd's source roots is for the API and the controller,
 * which know the roots. */
#include "manifests-internal.h"

#define DEFAULT_RECURSIVE          true
#define DEFAULT_PRUNE              true
#define DEFAULT_MAX_PRUNE_FRACTION 0.5
#define DEFAULT_DEBOUNCE_MS        300
#define DEFAULT_SUSPEND            false
#define DEFAULT_RESCAN_SEC         600

static const char *const source_spec_fields[] = {
    "path",    "recursive",        "include",
    "exclude", "targetNamespace",  "allowedNamespaces",
    "prune",   "maxPruneFraction", "debounceMilliseconds",
    "suspend", "rescanSeconds",    NULL,
};

/* NULL-terminated; what an absent include or exclude means. */
static const char *const default_include[] = {"*.yaml", "*.yml", "*.json", NULL};
static const char *const default_exclude[] = {".git/**", "**/.*", NULL};

/* ---- path ---------------------------------------------------------------- */

/* Why path is not an absolute, clean path, or NULL when it is one. "/" is
 * clean; the source roots decide whether it is allowed. */
static const char *path_problem(const char *path)
{
        const char *seg;

        if (path[0] != '/')
                return "must be absolute (start with /)";
        for (const char *p = path; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        return "must not contain control characters";
        if (streq(path, "/"))
                return NULL;
        for (seg = path + 1;;) {
                const char *slash = strchr(seg, '/');
                size_t len = slash ? (size_t)(slash - seg) : strlen(seg);

                if (len == 0)
                        return slash ? "must not contain \"//\"" : "must not end with /";
                if (len == 2 && seg[0] == '.' && seg[1] == '.')
                        return "must not contain \"..\" segments";
                if (len == 1 && seg[0] == '.')
                        return "must not contain \".\" segments";
                if (!slash)
                        return NULL;
                seg = slash + 1;
        }
}

static const char *check_path(struct check *c, const json_t *spec)
{
        const char *path = check_nonempty_string(c, spec, "spec", "path", true);
        const char *problem;
        size_t len;

        if (!path)
                return NULL;
        len = strlen(path);
        if (len > SOURCE_PATH_MAX) {
                check_error(c, "spec.path", "must be at most %d characters, has %zu",
                            SOURCE_PATH_MAX, len);
                return NULL;
        }
        problem = path_problem(path);
        if (problem) {
                check_error(c, "spec.path", "invalid path \"%s\": %s", path, problem);
                return NULL;
        }
        return path;
}

/* ---- include and exclude --------------------------------------------------- */

/* The 1-based character of the first "[" that no "]" closes, or 0. A "\"
 * escapes the character after it. The full syntax is the glob matcher's. */
static size_t unclosed_bracket(const char *pattern)
{
        size_t open = 0;

        for (size_t i = 0; pattern[i]; i++) {
                if (pattern[i] == '\\' && pattern[i + 1]) {
                        i++;
                        continue;
                }
                if (!open && pattern[i] == '[') {
                        open = i + 1;
                        /* A "]" right after "[", "[!" or "[^" is a member, not the end. */
                        if (pattern[i + 1] == '!' || pattern[i + 1] == '^')
                                i++;
                        if (pattern[i + 1] == ']')
                                i++;
                } else if (open && pattern[i] == ']') {
                        open = 0;
                }
        }
        return open;
}

/* spec.include or spec.exclude into out/n (the defaults when absent). */
static void check_patterns(struct check *c, const json_t *spec, const char *key,
                           const char *const *defaults, const char **out, size_t *n)
{
        _cleanup_free_ char *list_path = NULL;
        const json_t *arr = check_string_array(c, spec, "spec", key);
        size_t i;
        json_t *item;

        *n = 0;
        if (!check_field(c, spec, "spec", key, false)) {
                for (; defaults[*n]; (*n)++)
                        out[*n] = defaults[*n];
                return;
        }
        if (!arr)
                return;
        list_path = check_join(c, "spec", key);
        if (!list_path)
                return;
        if (json_array_size(arr) > SOURCE_PATTERNS_MAX) {
                check_error(c, list_path, "must have at most %d entries, has %zu",
                            SOURCE_PATTERNS_MAX, json_array_size(arr));
                return;
        }
        if (json_array_size(arr) == 0 && streq(key, "include")) {
                check_error(c, list_path, "must not be empty: no file would be read");
                return;
        }
        json_array_foreach(arr, i, item)
        {
                _cleanup_free_ char *path = check_index(c, list_path, i);
                const char *p = json_string_value(item);
                size_t len = strlen(p), bracket;

                if (!path)
                        return;
                if (len == 0) {
                        check_error(c, path, "must not be empty");
                        continue;
                }
                if (len > SOURCE_PATTERN_LEN_MAX) {
                        check_error(c, path, "must be at most %d characters, has %zu",
                                    SOURCE_PATTERN_LEN_MAX, len);
                        continue;
                }
                bracket = unclosed_bracket(p);
                if (bracket) {
                        check_error(c, path,
                                    "invalid pattern \"%s\": the \"[\" at character %zu is not "
                                    "closed by \"]\"",
                                    p, bracket);
                        continue;
                }
                out[(*n)++] = p;
        }
}

/* ---- namespaces ------------------------------------------------------------ */

static void check_allowed_namespaces(struct check *c, const json_t *spec, struct source_spec *out)
{
        const json_t *arr = check_string_array(c, spec, "spec", "allowedNamespaces");
        _cleanup_free_ char *list_path = NULL;
        size_t i;
        json_t *item;

        if (!arr)
                return;
        list_path = check_join(c, "spec", "allowedNamespaces");
        if (!list_path)
                return;
        if (json_array_size(arr) > SOURCE_NAMESPACES_MAX) {
                check_error(c, list_path, "must have at most %d entries, has %zu",
                            SOURCE_NAMESPACES_MAX, json_array_size(arr));
                return;
        }
        json_array_foreach(arr, i, item)
        {
                _cleanup_free_ char *path = check_index(c, list_path, i);
                const char *ns = json_string_value(item);

                if (!path)
                        return;
                if (!name_is_valid(ns)) {
                        check_error(c, path, "invalid name \"%s\": %s", ns, NAME_RULE);
                        continue;
                }
                out->allowed_namespaces[out->n_allowed_namespaces++] = ns;
        }
}

/* ---- the spec ---------------------------------------------------------------- */

/* Checks a Source spec and, when ret_spec is not NULL, decodes it. */
static void source_check(struct check *c, const json_t *spec, void *ret_spec)
{
        struct source_spec out = {0};

        check_unknown_fields(c, spec, "spec", source_spec_fields);
        out.path = check_path(c, spec);
        out.recursive = check_bool(c, spec, "spec", "recursive", DEFAULT_RECURSIVE);
        check_patterns(c, spec, "include", default_include, out.include, &out.n_include);
        check_patterns(c, spec, "exclude", default_exclude, out.exclude, &out.n_exclude);
        out.target_namespace = check_name(c, spec, "spec", "targetNamespace", false);
        check_allowed_namespaces(c, spec, &out);
        out.prune = check_bool(c, spec, "spec", "prune", DEFAULT_PRUNE);
        out.max_prune_fraction =
            check_number(c, spec, "spec", "maxPruneFraction", 0, 1, DEFAULT_MAX_PRUNE_FRACTION);
        out.debounce_ms = check_int(c, spec, "spec", "debounceMilliseconds", 0,
                                    SOURCE_DEBOUNCE_MS_MAX, DEFAULT_DEBOUNCE_MS);
        out.suspend = check_bool(c, spec, "spec", "suspend", DEFAULT_SUSPEND);
        out.rescan_ms = check_int(c, spec, "spec", "rescanSeconds", SOURCE_RESCAN_SEC_MIN,
                                  SOURCE_RESCAN_SEC_MAX, DEFAULT_RESCAN_SEC) *
                        1000;
        if (ret_spec)
                *(struct source_spec *)ret_spec = out;
}

int source_spec_decode(const json_t *object, struct source_spec *ret, struct berth_error *err)
{
        struct source_spec s;
        int r = check_decode(&kind_source, object, &s, err);

        if (r < 0)
                return r;
        if (!s.target_namespace) {
                const char *ns = json_path_string(object, "metadata.namespace");

                s.target_namespace = ns && *ns ? ns : "default";
        }
        *ret = s;
        return 0;
}

/* ---- defaults and the kind ----------------------------------------------------- */

static json_t *strings_to_json(const char *const *v)
{
        json_t *arr = json_array();

        for (; arr && *v; v++)
                if (json_array_append_new(arr, json_string(*v)) < 0) {
                        json_decref(arr);
                        return NULL;
                }
        return arr;
}

/* targetNamespace stays absent: its default is the object's namespace,
 * which a spec does not know. */
static void source_defaults(json_t *spec)
{
        json_set_default(spec, "recursive", json_boolean(DEFAULT_RECURSIVE));
        json_set_default(spec, "include", strings_to_json(default_include));
        json_set_default(spec, "exclude", strings_to_json(default_exclude));
        json_set_default(spec, "allowedNamespaces", json_array());
        json_set_default(spec, "prune", json_boolean(DEFAULT_PRUNE));
        json_set_default(spec, "maxPruneFraction", json_real(DEFAULT_MAX_PRUNE_FRACTION));
        json_set_default(spec, "debounceMilliseconds", json_integer(DEFAULT_DEBOUNCE_MS));
        json_set_default(spec, "suspend", json_boolean(DEFAULT_SUSPEND));
        json_set_default(spec, "rescanSeconds", json_integer(DEFAULT_RESCAN_SEC));
}

static const struct printer_column source_columns[] = {
    {.title = "PATH", .path = "spec.path", .format = COLUMN_TEXT},
    {.title = "REVISION", .path = "status.revision", .format = COLUMN_SHORT_ID},
    {.title = "OBJECTS", .path = "status.objectCount", .format = COLUMN_COUNT},
    {.title = "READY",
     .path = "status.conditions",
     .format = COLUMN_CONDITION,
     .condition = "Ready",
     .fallback = "Unknown"},
    {.title = "AGE", .path = "metadata.creationTimestamp", .format = COLUMN_AGE},
    {0},
};

const struct kind_info kind_source = {
    .kind = "Source",
    .resource = "sources",
    .singular = "source",
    .short_name = "src",
    .namespaced = true,
    .runs_to_completion = false,
    .columns = source_columns,
    .check_spec = source_check,
    .default_spec = source_defaults,
};
