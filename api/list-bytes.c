/* api: lists written from the object cache's bytes.
 *
 * The cache keeps each object as its compact JSON (object_blob), which is
 * exactly what json_dumps(JSON_COMPACT) of its tree gives. A list is those
 * bytes joined by commas inside the list's envelope, copied once into one
 * buffer that the reply takes over: no tree is built, no object serialized
 * again. (One evbuffer reference per blob would spare the copy, but libevent
 * allocates at least 1 KiB per chain: 10,000 items cost more in chains than
 * the copy.) Trees are parsed only for what the summary cannot
 * answer: a field selector on another field (an Event's involvedObject.*),
 * and Secrets, whose values a reply redacts.
 */
#include "api-internal.h"

#include <inttypes.h>

#include <event2/buffer.h>

/* Fields of a field selector the blob's summary holds. */
static bool field_in_summary(const char *key)
{
        return streq(key, "metadata.name") || streq(key, "metadata.namespace") ||
               streq(key, "status.phase");
}

/* The part of the object the summary knows, as a tree for the selectors:
 * {"metadata":{"name","namespace","labels"},"status":{"phase"}}. A field
 * the object lacks is left out (it reads as "", as on the object). */
static json_t *summary_tree(const struct object_blob *b)
{
        _cleanup_json_ json_t *t = json_object(), *md = json_object(), *labels = json_object();
        if (!t || !md || !labels)
                return NULL;
        const char *p = b->labels;
        for (unsigned i = 0; i < b->n_labels; i++) {
                const char *v = p + strlen(p) + 1;
                if (json_object_set_new(labels, p, json_string(v)) < 0)
                        return NULL;
                p = v + strlen(v) + 1;
        }
        if ((*b->name && json_object_set_new(md, "name", json_string(b->name)) < 0) ||
            (*b->ns && json_object_set_new(md, "namespace", json_string(b->ns)) < 0) ||
            (b->n_labels > 0 && json_object_set(md, "labels", labels) < 0) ||
            json_object_set(t, "metadata", md) < 0)
                return NULL;
        if (b->phase && json_object_set_new(t, "status", json_pack("{s:s}", "phase", b->phase)) < 0)
                return NULL;
        return TAKE_PTR(t);
}

bool api_blob_matches(const struct api_selector *labels, const struct api_selector *fields,
                      const struct object_blob *b)
{
        if (labels->n == 0 && fields->n == 0)
                return true;
        bool summary = true;
        for (size_t i = 0; summary && i < fields->n; i++)
                summary = field_in_summary(fields->reqs[i].key);
        _cleanup_json_ json_t *t = summary ? summary_tree(b) : object_blob_parse(b);
        return t && api_object_matches(labels, fields, t);
}

/* A Secret as a reply shows it (values redacted), serialized; NULL on OOM. */
static char *secret_shown(const struct object_blob *b)
{
        _cleanup_json_ json_t *obj = object_blob_parse(b);
        _cleanup_json_ json_t *shown = obj ? api_object_for_reply(NULL, obj, false, NULL) : NULL;
        return shown ? json_dumps(shown, JSON_COMPACT) : NULL;
}

int api_blob_append(struct buf *out, const struct object_blob *b)
{
        if (!streq(b->kind, "Secret"))
                return buf_append(out, b->json, b->len);
        _cleanup_free_ char *text = secret_shown(b);
        return text ? buf_append_str(out, text) : -ENOMEM;
}

/* One item of a list: the blob's bytes, or the redacted text of a Secret. */
struct piece {
        const char *data;
        size_t len;
        char *owned;
};

int api_list_body(struct api_server *s, const struct api_route *r,
                  const struct api_selector *labels, const struct api_selector *fields,
                  const struct api_list_filter *rbac, char **ret, size_t *ret_len,
                  int64_t *ret_revision, struct api_error *err)
{
        _cleanup_free_ char *prefix = api_list_prefix(s->prefix, r);
        const struct object_blob **v = NULL;
        size_t n = 0, kept = 0, i;
        int64_t rev = 0;
        int rc = 0;

        if (!prefix || object_cache_list_blobs(s->objects, prefix, &v, &n, &rev) < 0)
                return api_error_set(err, 500, "out of memory");
        for (i = 0; i < n; i++) {
                if (api_blob_matches(labels, fields, v[i]))
                        v[kept++] = v[i];
                else
                        object_blob_unref(v[i]);
        }
        n = kept;
        if (api_authz_filter_blobs(s, rbac, v, &n) < 0) {
                object_blobs_release(v, n);
                return api_error_set(err, 500, "out of memory");
        }

        char head[256];
        int hl = snprintf(head, sizeof(head),
                          "{\"kind\":\"%sList\",\"apiVersion\":\"%s\",\"metadata\":{"
                          "\"resourceVersion\":\"%" PRId64 "\"},\"items\":[",
                          r->kind->kind, MANIFEST_API_VERSION, rev);
        static const char tail[] = "]}\n";
        struct piece *pieces = n ? calloc(n, sizeof(*pieces)) : NULL;
        size_t total = (size_t)hl + (n ? n - 1 : 0) + sizeof(tail) - 1;
        if (hl < 0 || (size_t)hl >= sizeof(head) || (n && !pieces))
                rc = -ENOMEM;
        for (i = 0; rc == 0 && i < n; i++) {
                if (streq(v[i]->kind, "Secret")) {
                        pieces[i].owned = secret_shown(v[i]);
                        if (!pieces[i].owned) {
                                rc = -ENOMEM;
                                break;
                        }
                        pieces[i].data = pieces[i].owned;
                        pieces[i].len = strlen(pieces[i].owned);
                } else {
                        pieces[i].data = v[i]->json;
                        pieces[i].len = v[i]->len;
                }
                total += pieces[i].len;
        }
        /* One allocation of the exact size: above the mmap threshold berthd
         * sets (cmd/berthd/main.c) a large list is mapped and unmapped, and
         * leaves nothing in the heap. */
        char *body = rc == 0 ? malloc(total + 1) : NULL;
        if (body) {
                char *p = body;
                memcpy(p, head, (size_t)hl);
                p += hl;
                for (i = 0; i < n; i++) {
                        if (i > 0)
                                *p++ = ',';
                        memcpy(p, pieces[i].data, pieces[i].len);
                        p += pieces[i].len;
                }
                memcpy(p, tail, sizeof(tail)); /* with its NUL */
        }
        for (i = 0; pieces && i < n; i++)
                free(pieces[i].owned);
        free(pieces);
        object_blobs_release(v, n);
        if (!body)
                return api_error_set(err, 500, "out of memory");
        *ret = body;
        *ret_len = total;
        *ret_revision = rev;
        return 0;
}

static void free_body(const void *data, size_t len, void *userdata)
{
        (void)len;
        (void)userdata;
        free((void *)data);
}

int api_list_evbuffer(struct api_server *s, const struct api_route *r,
                      const struct api_selector *labels, const struct api_selector *fields,
                      const struct api_list_filter *rbac, struct evbuffer *out,
                      int64_t *ret_revision, struct api_error *err)
{
        char *body = NULL;
        size_t len = 0;
        int rc = api_list_body(s, r, labels, fields, rbac, &body, &len, ret_revision, err);
        if (rc < 0)
                return rc;
        /* Handed over, not copied: freed once sent (or dropped). */
        if (evbuffer_add_reference(out, body, len, free_body, NULL) < 0) {
                free(body);
                return api_error_set(err, 500, "out of memory");
        }
        return 0;
}
