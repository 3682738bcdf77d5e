/* common: dotted-path helpers over jansson trees. */
#include "common.h"

/* Copies the next path segment of *p into seg[size]; advances past the dot. */
static int next_segment(const char **p, char *seg, size_t size)
{
        const char *dot = strchr(*p, '.');
        size_t n = dot ? (size_t)(dot - *p) : strlen(*p);
        if (n == 0 || n >= size)
                return -EINVAL;
        memcpy(seg, *p, n);
        seg[n] = '\0';
        *p += dot ? n + 1 : n;
        return 0;
}

json_t *json_path(const json_t *root, const char *dotted)
{
        const char *p = dotted;
        json_t *cur = (json_t *)root;
        char seg[256];
        while (cur && *p) {
                if (!json_is_object(cur) || next_segment(&p, seg, sizeof(seg)) < 0)
                        return NULL;
                cur = json_object_get(cur, seg);
        }
        return cur;
}

const char *json_path_string(const json_t *root, const char *dotted)
{
        return json_string_value(json_path(root, dotted));
}

int64_t json_path_int(const json_t *root, const char *dotted, int64_t def)
{
        json_t *v = json_path(root, dotted);
        return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

int json_path_set_new(json_t *root, const char *dotted, json_t *value)
{
        const char *p = dotted;
        json_t *cur = root;
        char seg[256];
        if (!value)
                return -ENOMEM;
        for (;;) {
                if (!json_is_object(cur) || next_segment(&p, seg, sizeof(seg)) < 0) {
                        json_decref(value);
                        return -EINVAL;
                }
                if (!*p)
                        return json_object_set_new(cur, seg, value) < 0 ? -ENOMEM : 0;
                json_t *next = json_object_get(cur, seg);
                if (!next) {
                        next = json_object();
                        if (!next || json_object_set_new(cur, seg, next) < 0) {
                                json_decref(value);
                                return -ENOMEM;
                        }
                }
                cur = next;
        }
}

bool json_is_string_map(const json_t *j)
{
        const char *k;
        json_t *v;

        if (!j)
                return true;
        if (!json_is_object(j))
                return false;
        json_object_foreach((json_t *)j, k, v)
        {
                if (!json_is_string(v))
                        return false;
        }
        return true;
}
