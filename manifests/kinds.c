/* The kinds this build knows, store keys and object names. */
#include <strings.h>

#include "manifests.h"

static const struct kind_info kind_task = {
    .kind = "Task",
    .resource = "tasks",
    .singular = "task",
    .short_name = "tk",
    .namespaced = true,
};

static const struct kind_info *const kinds[] = {
    &kind_task,
    NULL,
};

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

int object_key_parse(const char *prefix, const char *key, char resource[64], char ns[64],
                     char name[64])
{
        const char *parts[3];
        size_t lens[3], n = 0;
        const char *p;

        if (!prefix || !key || !ns || !name || !str_has_prefix(key, prefix))
                return -EINVAL;
        p = key + strlen(prefix);
        for (;;) {
                const char *slash = strchr(p, '/');
                size_t len = slash ? (size_t)(slash - p) : strlen(p);

                if (n == ARRAY_SIZE(parts) || !key_segment_valid(p, len))
                        return -EINVAL;
                parts[n] = p;
                lens[n++] = len;
                if (!slash)
                        break;
                p = slash + 1;
        }
        if (n < 2)
                return -EINVAL;

        if (resource) {
                memcpy(resource, parts[0], lens[0]);
                resource[lens[0]] = '\0';
        }
        if (n == 3) {
                memcpy(ns, parts[1], lens[1]);
                ns[lens[1]] = '\0';
        } else {
                ns[0] = '\0';
        }
        memcpy(name, parts[n - 1], lens[n - 1]);
        name[lens[n - 1]] = '\0';
        return 0;
}
