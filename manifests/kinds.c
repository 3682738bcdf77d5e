/* kinds.c: the registry of kinds (each is described in manifests/<kind>.c),
 * store keys and object names. */
#include <strings.h>

#include "manifests-internal.h"

/* Every kind this build knows, one per line. Adding one:
 * docs/internals/adding-a-kind.md. */
/* clang-format off */
static const struct kind_info *const kinds[] = {
    &kind_task,
    &kind_workflow,
    &kind_crontask,
    &kind_service,
    &kind_source,
    &kind_role,
    &kind_clusterrole,
    &kind_rolebinding,
    &kind_clusterrolebinding,
    &kind_token,
    &kind_secret,
    &kind_event,
    &kind_policy,
    &kind_queue,
    &kind_notifier,
    NULL,
};
/* clang-format on */

const struct kind_info *const *kind_all(void)
{
        return kinds;
}

const struct kind_info *kind_lookup(const char *name)
{
        if (!name)
                return NULL;
        for (const struct kind_info *const *k = kinds; *k; k++) {
                if (strcasecmp(name, (*k)->kind) == 0 || strcasecmp(name, (*k)->resource) == 0 ||
                    strcasecmp(name, (*k)->singular) == 0 ||
                    ((*k)->short_name && strcasecmp(name, (*k)->short_name) == 0))
                        return *k;
        }
        return NULL;
}

const struct kind_info *kind_by_name(const char *kind)
{
        for (const struct kind_info *const *k = kinds; kind && *k; k++)
                if (streq((*k)->kind, kind))
                        return *k;
        return NULL;
}

bool kind_source_may_apply(const struct kind_info *kind)
{
        return kind && kind->namespaced && !kind->access_control && !streq(kind->kind, "Source");
}

bool kind_has_subresource(const struct kind_info *kind, const char *name)
{
        return kind && strv_contains(kind->subresources, name);
}

bool name_is_valid(const char *name)
{
        size_t len;

        if (!name)
                return false;
        len = strlen(name);
        if (len == 0 || len > 63)
                return false;
        for (size_t i = 0; i < len; i++) {
                char c = name[i];
                bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

                if (!alnum && !(c == '-' && i > 0 && i < len - 1))
                        return false;
        }
        return true;
}

bool generate_name_is_valid(const char *prefix)
{
        size_t len;

        if (!prefix)
                return false;
        len = strlen(prefix);
        if (len == 0 || len > MANIFEST_GENERATE_NAME_MAX || prefix[0] == '-')
                return false;
        for (size_t i = 0; i < len; i++) {
                char c = prefix[i];

                if (!(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') && c != '-')
                        return false;
        }
        return true;
}

bool manifest_generates_name(const json_t *object)
{
        const json_t *md = json_object_get(object, "metadata");
        const json_t *name = json_object_get(md, "name");

        return json_is_string(json_object_get(md, "generateName")) && (!name || json_is_null(name));
}

/* A key segment: non-empty, no '/', fits the 64-byte arrays of object_key_parse. */
static bool key_segment_valid(const char *s, size_t len)
{
        return len > 0 && len < 64 && !memchr(s, '/', len);
}

char *object_key(const char *prefix, const char *resource, const char *ns, const char *name)
{
        if (!prefix || !resource || !name)
                return NULL;
        if (!ns || !*ns)
                return str_printf("%s%s/%s", prefix, resource, name);
        return str_printf("%s%s/%s/%s", prefix, resource, ns, name);
}

/* Splits the part of key after prefix at '/' into at most max segments (each
 * valid); returns how many, or -EINVAL. */
static int key_segments(const char *prefix, const char *key, const char **parts, size_t *lens,
                        size_t max)
{
        size_t n = 0;

        if (!prefix || !key || !str_has_prefix(key, prefix))
                return -EINVAL;
        for (const char *p = key + strlen(prefix);;) {
                const char *slash = strchr(p, '/');
                size_t len = slash ? (size_t)(slash - p) : strlen(p);

                if (n == max || !key_segment_valid(p, len))
                        return -EINVAL;
                parts[n] = p;
                lens[n++] = len;
                if (!slash)
                        return (int)n;
                p = slash + 1;
        }
}

static void segment_copy(char dst[64], const char *part, size_t len)
{
        memcpy(dst, part, len);
        dst[len] = '\0';
}

int object_key_parse(const char *prefix, const char *key, char resource[64], char ns[64],
                     char name[64])
{
        const char *parts[3];
        size_t lens[3];
        int n = key_segments(prefix, key, parts, lens, ARRAY_SIZE(parts));

        if (n < 2 || !ns || !name)
                return -EINVAL;
        if (resource)
                segment_copy(resource, parts[0], lens[0]);
        if (n == 3)
                segment_copy(ns, parts[1], lens[1]);
        else
                ns[0] = '\0';
        segment_copy(name, parts[n - 1], lens[n - 1]);
        return 0;
}

int object_stamp_new(json_t *object, const struct kind_info *kind, int64_t now_ms)
{
        char uid[RANDOM_UID_LEN], ts[RFC3339_MAX];
        json_t *meta = json_object_get(object, "metadata");
        int r;

        if (!json_is_object(meta))
                return -EINVAL;
        r = random_uid(uid);
        if (r < 0)
                return r;
        time_format_rfc3339(now_ms, ts);
        if (json_object_set_new(meta, "uid", json_string(uid)) < 0 ||
            json_object_set_new(meta, "generation", json_integer(1)) < 0 ||
            json_object_set_new(meta, "creationTimestamp", json_string(ts)) < 0)
                return -ENOMEM;
        if (!kind->finalizer)
                return 0;

        json_t *fins = json_object_get(meta, "finalizers");
        size_t i;
        json_t *f;
        if (!json_is_array(fins)) {
                fins = json_array();
                if (json_object_set_new(meta, "finalizers", fins) < 0)
                        return -ENOMEM;
        }
        json_array_foreach(fins, i, f)
        {
                if (streq(json_string_value(f), kind->finalizer))
                        return 0;
        }
        return json_array_append_new(fins, json_string(kind->finalizer)) < 0 ? -ENOMEM : 0;
}

#define DATA_SUFFIX "-data"

char *object_data_key(const char *prefix, const char *resource, const char *ns, const char *name,
                      const char *part)
{
        if (!prefix || !resource || !ns || !name)
                return NULL;
        if (!part)
                return str_printf("%s%s" DATA_SUFFIX "/%s/%s/", prefix, resource, ns, name);
        return str_printf("%s%s" DATA_SUFFIX "/%s/%s/%s", prefix, resource, ns, name, part);
}

bool object_key_is_data(const char *prefix, const char *key)
{
        if (!prefix || !str_has_prefix(key, prefix))
                return false;
        const char *seg = key + strlen(prefix);
        const char *slash = strchr(seg, '/');
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
        size_t suffix = strlen(DATA_SUFFIX);

        return len > suffix && memcmp(seg + len - suffix, DATA_SUFFIX, suffix) == 0;
}
