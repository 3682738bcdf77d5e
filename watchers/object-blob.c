/* object_blob: one cached object as bytes — its compact JSON with
 * metadata.resourceVersion set, and the few fields that the list consumers
 * filter on, decoded once. One allocation: the header, then the JSON, then
 * the summary's strings. Immutable once built; shared between the map, the
 * history ring, events in flight and readers through an atomic reference
 * count, so a reader may hold it after the object changed or went away.
 */
#include "watchers-internal.h"

#include <inttypes.h>
#include <stdatomic.h>

/* The header as allocated: the public part first, then the count. */
struct blob_alloc {
        struct object_blob pub;
        atomic_uint refs;
        char data[];
};

static struct blob_alloc *alloc_of(const struct object_blob *b)
{
        return (struct blob_alloc *)((char *)b - offsetof(struct blob_alloc, pub));
}

const struct object_blob *object_blob_ref(const struct object_blob *b)
{
        if (b)
                atomic_fetch_add_explicit(&alloc_of(b)->refs, 1, memory_order_relaxed);
        return b;
}

void object_blob_unref(const struct object_blob *b)
{
        if (!b)
                return;
        struct blob_alloc *a = alloc_of(b);
        /* Release so that the freeing thread sees every reader done; acquire
         * before the free. */
        if (atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) == 1)
                free(a);
}

unsigned object_blob_refcount(const struct object_blob *b)
{
        return b ? atomic_load(&alloc_of(b)->refs) : 0;
}

json_t *object_blob_parse(const struct object_blob *b)
{
        return b ? json_loadb(b->json, b->len, 0, NULL) : NULL;
}

const char *object_blob_label(const struct object_blob *b, const char *key)
{
        const char *p = b->labels;
        for (unsigned i = 0; i < b->n_labels; i++) {
                const char *v = p + strlen(p) + 1;
                if (streq(p, key))
                        return v;
                p = v + strlen(v) + 1;
        }
        return NULL;
}

bool object_blob_owned_by(const struct object_blob *b, const char *owner_kind,
                          const char *owner_name, const char *owner_uid)
{
        const char *p = b->owners;
        for (unsigned i = 0; i < b->n_owners; i++) {
                const char *kind = p;
                const char *name = kind + strlen(kind) + 1;
                const char *uid = name + strlen(name) + 1;
                /* "" is a field the reference lacks: it matches nothing. */
                if (owner_uid
                        ? *uid && streq(uid, owner_uid)
                        : *kind && *name && streq(kind, owner_kind) && streq(name, owner_name))
                        return true;
                p = uid + strlen(uid) + 1;
        }
        return false;
}

/* ---- building ------------------------------------------------------------ */

/* Strings of the summary, measured then copied: a string member of o, or "". */
static const char *str_or_empty(const json_t *o, const char *field)
{
        const char *s = json_string_value(json_object_get(o, field));
        return s ? s : "";
}

/* Appends s with its NUL at *p (the room was measured). */
static const char *put(char **p, const char *s)
{
        size_t n = strlen(s) + 1;
        char *at = *p;
        memcpy(at, s, n);
        *p += n;
        return at;
}

const struct object_blob *object_blob_new(const json_t *obj, int64_t mod_revision)
{
        const json_t *md = json_object_get(obj, "metadata");
        const json_t *labels = json_object_get(md, "labels");
        const json_t *owners = json_object_get(md, "ownerReferences");
        const char *phase =
            json_string_value(json_object_get(json_object_get(obj, "status"), "phase"));
        const char *key;
        const json_t *v;
        size_t i, room = 0;
        unsigned n_labels = 0, n_owners = 0;

        _cleanup_free_ char *text = json_dumps(obj, JSON_COMPACT);
        if (!text)
                return NULL;
        size_t len = strlen(text);
        room += len + 1;
        room += strlen(str_or_empty(obj, "kind")) + 1;
        room += strlen(str_or_empty(md, "namespace")) + 1;
        room += strlen(str_or_empty(md, "name")) + 1;
        room += strlen(str_or_empty(md, "uid")) + 1;
        room += phase ? strlen(phase) + 1 : 0;
        json_object_foreach((json_t *)labels, key, v)
        {
                if (!json_is_string(v) || n_labels == UINT16_MAX)
                        continue;
                room += strlen(key) + 1 + strlen(json_string_value(v)) + 1;
                n_labels++;
        }
        json_array_foreach(owners, i, v)
        {
                if (n_owners == UINT16_MAX)
                        break;
                room += strlen(str_or_empty(v, "kind")) + 1 + strlen(str_or_empty(v, "name")) + 1 +
                        strlen(str_or_empty(v, "uid")) + 1;
                n_owners++;
        }
        room += 2; /* the empty lists' strings */

        struct blob_alloc *a = malloc(sizeof(*a) + room);
        if (!a)
                return NULL;
        atomic_init(&a->refs, 1);
        char *p = a->data;
        struct object_blob *b = &a->pub;
        *b = (struct object_blob){.len = len, .mod_revision = mod_revision};
        memcpy(p, text, len + 1);
        b->json = p;
        p += len + 1;
        b->kind = put(&p, str_or_empty(obj, "kind"));
        b->ns = put(&p, str_or_empty(md, "namespace"));
        b->name = put(&p, str_or_empty(md, "name"));
        b->uid = put(&p, str_or_empty(md, "uid"));
        b->phase = phase ? put(&p, phase) : NULL;
        b->labels = p;
        json_object_foreach((json_t *)labels, key, v)
        {
                if (!json_is_string(v) || b->n_labels == n_labels)
                        continue;
                put(&p, key);
                put(&p, json_string_value(v));
                b->n_labels++;
        }
        *p++ = '\0';
        b->owners = p;
        json_array_foreach(owners, i, v)
        {
                if (b->n_owners == n_owners)
                        break;
                put(&p, str_or_empty(v, "kind"));
                put(&p, str_or_empty(v, "name"));
                put(&p, str_or_empty(v, "uid"));
                b->n_owners++;
        }
        *p++ = '\0';
        const json_t *ts = json_object_get(md, "deletionTimestamp");
        b->deleting = ts && !json_is_null(ts);
        b->n_depends_on =
            (unsigned)json_array_size(json_object_get(json_object_get(obj, "spec"), "dependsOn"));
        return b;
}

void object_blobs_release(const struct object_blob **v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                object_blob_unref(v[i]);
        free(v);
}
