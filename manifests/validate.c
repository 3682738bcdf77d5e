/* validate.c: what every object is checked for (the envelope: apiVersion,
 * kind, metadata) and the dispatch to its kind's spec checks and defaults,
 * found in the kinds registry (kinds.c). */
#include "manifests-internal.h"

static const char *const top_fields[] = {"apiVersion", "kind", "metadata", "spec", "status", NULL};

static const char *const metadata_fields[] = {
    "name",
    "generateName",
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

#define GENERATE_NAME_RULE                                                                         \
        "must be at most 58 lowercase letters, digits or '-', starting with a letter or digit "    \
        "(the server appends 5 random characters)"

/* metadata.name, or metadata.generateName for a name the server picks on
 * create. Both only in an object the server named (it keeps generateName
 * beside the name it picked, and sets uid): a manifest names its object one
 * way. */
static void check_names(struct check *c, const json_t *md, const struct kind_info *info)
{
        const json_t *name = check_field(c, md, "metadata", "name", false);
        const json_t *gen = check_field(c, md, "metadata", "generateName", false);

        if (!name && !gen)
                check_error(c, "metadata.name",
                            "required: set metadata.name, or metadata.generateName for a name "
                            "the server picks on create");
        if (name)
                check_name(c, md, "metadata", "name", true);
        if (!gen)
                return;
        if (!json_is_string(gen)) {
                check_error(c, "metadata.generateName", "must be a string");
        } else if (!generate_name_is_valid(json_string_value(gen))) {
                check_error(c, "metadata.generateName", "invalid generateName \"%s\": %s",
                            json_string_value(gen), GENERATE_NAME_RULE);
        } else if (info && !info->namespaced) {
                check_error(c, "metadata.generateName",
                            "not supported for %s: only namespaced kinds", info->kind);
        } else if (name && !json_object_get(md, "uid")) {
                check_error(c, "metadata.generateName",
                            "only allowed without metadata.name: the server picks the name from "
                            "it on create");
        }
}

static void check_metadata(struct check *c, const json_t *object, const struct kind_info *info)
{
        const json_t *md = check_object(c, object, "", "metadata", true);

        if (!md)
                return;
        check_unknown_fields(c, md, "metadata", metadata_fields);
        check_names(c, md, info);
        if (info && !info->namespaced && json_object_get(md, "namespace"))
                check_error(c, "metadata.namespace", "not allowed: %s is cluster-scoped",
                            info->kind);
        else
                check_name(c, md, "metadata", "namespace", false);
        check_string_map(c, md, "metadata", "labels", true, false);
        check_string_map(c, md, "metadata", "annotations", false, false);
}

/* The kind named by the object, or NULL (reported). */
static const struct kind_info *check_kind(struct check *c, const json_t *object)
{
        const char *kind = check_string(c, object, "", "kind", true);
        const struct kind_info *info, *near;
        char known[256] = "";

        if (!kind)
                return NULL;
        info = kind_by_name(kind);
        if (info)
                return info;
        near = kind_lookup(kind);
        /* "task" or "tasks": name the spelling manifests use. */
        if (near) {
                check_error(c, "kind", "kind %s is not supported; did you mean %s?", kind,
                            near->kind);
                return NULL;
        }
        for (const struct kind_info *const *k = kind_all(); *k; k++) {
                size_t used = strlen(known);

                snprintf(known + used, sizeof(known) - used, "%s%s", k == kind_all() ? "" : ", ",
                         (*k)->kind);
        }
        check_error(c, "kind", "kind %s is not supported; known kinds: %s", kind, known);
        return NULL;
}

/* The envelope's fields and those a kind has at the top level
 * (kind_info.object_fields), into ret (room for TOP_FIELDS_MAX and the
 * NULL). spec stays among them: such a kind refuses it with a message of
 * its own (check_no_spec). */
#define TOP_FIELDS_MAX 16
static const char *const *fields_of(const struct kind_info *info,
                                    const char *ret[TOP_FIELDS_MAX + 1])
{
        size_t n = 0;

        if (!info || !info->object_fields)
                return top_fields;
        for (const char *const *f = top_fields; *f; f++)
                ret[n++] = *f;
        for (const char *const *f = info->object_fields; *f && n < TOP_FIELDS_MAX; f++)
                ret[n++] = *f;
        ret[n] = NULL;
        return ret;
}

/* A kind with object_fields has no spec: users coming from other kinds
 * write one, so say where the fields go. */
static void check_no_spec(struct check *c, const json_t *object, const struct kind_info *info)
{
        _cleanup_buf_ struct buf names = {0};

        if (!json_object_get(object, "spec"))
                return;
        buf_init(&names, 256);
        for (const char *const *f = info->object_fields; *f; f++)
                (void)buf_printf(&names, "%s%s", f == info->object_fields ? "" : ", ", *f);
        check_error(c, "spec",
                    "not allowed: %s %s has no spec, its fields (%s) sit at the top level "
                    "beside metadata",
                    strchr("AEIOU", info->kind[0]) ? "an" : "a", info->kind,
                    names.data ? names.data : "");
}

static void check_envelope(struct check *c, const json_t *object)
{
        const struct kind_info *info;
        const char *api_version;
        const char *fields[TOP_FIELDS_MAX + 1];

        /* The kind is reported below; here it only says which fields exist. */
        info = kind_by_name(json_string_value(json_object_get(object, "kind")));
        check_unknown_fields(c, object, "", fields_of(info, fields));

        api_version = check_string(c, object, "", "apiVersion", true);
        if (api_version && !streq(api_version, MANIFEST_API_VERSION))
                check_error(c, "apiVersion", "unsupported apiVersion \"%s\", must be %s",
                            api_version, MANIFEST_API_VERSION);

        info = check_kind(c, object);
        check_metadata(c, object, info);
        c->object_name =
            json_string_value(json_object_get(json_object_get(object, "metadata"), "name"));
        /* A generated name is as long as this one: the limits of the names
         * derived from it apply to the prefix. */
        const char *gen = json_path_string(object, "metadata.generateName");
        if (!c->object_name && generate_name_is_valid(gen)) {
                snprintf(c->generated_name, sizeof(c->generated_name), "%s%.*s", gen,
                         MANIFEST_GENERATED_SUFFIX_LEN, "xxxxxxxx");
                c->object_name = c->generated_name;
        }
        if (info && info->check_object) {
                check_no_spec(c, object, info);
                info->check_object(c, object);
        } else if (info) {
                const json_t *spec = check_object(c, object, "", "spec", info->check_spec != NULL);

                if (info->check_spec && spec)
                        info->check_spec(c, spec, NULL);
        }
}

int manifest_validate(const json_t *object, const json_t *positions, struct field_errors *ret_errs)
{
        _cleanup_(check_release) struct check c = {.positions = positions};
        struct field_error *items;

        if (!ret_errs)
                return -EINVAL;
        if (!json_is_object(object))
                check_error(&c, "", "must be an object");
        else
                check_envelope(&c, object);
        if (c.r < 0)
                return c.r;
        if (c.errs.n == 0)
                return 0;
        field_errors_sort(&c.errs);

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

void manifest_apply_defaults(json_t *object)
{
        const struct kind_info *info;
        json_t *metadata, *spec;

        if (!json_is_object(object))
                return;
        info = kind_by_name(json_string_value(json_object_get(object, "kind")));
        metadata = json_object_get(object, "metadata");
        if (json_is_object(metadata) && (!info || info->namespaced))
                json_set_default(metadata, "namespace", json_string("default"));
        spec = json_object_get(object, "spec");
        if (info && info->default_spec && json_is_object(spec))
                info->default_spec(spec);
}
