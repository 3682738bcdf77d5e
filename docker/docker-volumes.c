/* docker: named volumes (create, remove, list by label). */
#include "docker-internal.h"

#define DOCKER_CONTEXT_MAX 512

int docker_volume_create(struct docker *d, const char *name, const json_t *labels,
                         struct berth_error *err)
{
        _cleanup_(docker_req_release) struct docker_req req = {0};
        _cleanup_json_ json_t *body = NULL;
        char ctx[DOCKER_CONTEXT_MAX];
        int r;

        snprintf(ctx, sizeof(ctx), "create volume %s", name ? name : "");
        /* An empty Name makes the daemon invent one: never what a caller means. */
        if (!name || !name[0])
                return berth_error_set(err, -EINVAL, "%s: no name", ctx);
        if (labels && !json_is_object(labels))
                return berth_error_set(err, -EINVAL, "%s: labels must be an object", ctx);
        body = json_pack("{s:s, s:o}", "Name", name, "Labels",
                         labels ? json_deep_copy(labels) : json_object());
        if (!body)
                return berth_error_set(err, -ENOMEM, "out of memory");
        req = (struct docker_req){.method = "POST", .path = "/volumes/create", .body = body};
        r = docker_call(d, &req, ctx, err);
        if (r < 0)
                return r;
        if (!docker_status_ok(req.status))
                return docker_req_fail(&req, 0, ctx, err);
        return 0;
}

int docker_volume_remove(struct docker *d, const char *name, struct berth_error *err)
{
        _cleanup_(docker_req_release) struct docker_req req = {0};
        _cleanup_free_ char *e = NULL, *path = NULL;
        char ctx[DOCKER_CONTEXT_MAX];
        int r;

        snprintf(ctx, sizeof(ctx), "remove volume %s", name ? name : "");
        if (!name || !name[0])
                return berth_error_set(err, -EINVAL, "%s: no name", ctx);
        e = docker_escape(name);
        path = e ? str_printf("/volumes/%s", e) : NULL;
        if (!path)
                return berth_error_set(err, -ENOMEM, "out of memory");
        req = (struct docker_req){.method = "DELETE", .path = path};
        r = docker_call(d, &req, ctx, err);
        if (r < 0)
                return r;
        if (docker_status_ok(req.status) || req.status == 404)
                return 0;
        /* 409 "volume is in use - [<container ids>]": docker_status_to_errno's -EBUSY. */
        return docker_req_fail(&req, 0, ctx, err);
}

int docker_volume_list(struct docker *d, const char *label_filter, char ***ret_names, size_t *ret_n,
                       struct berth_error *err)
{
        _cleanup_free_ char *query = label_filter ? docker_list_query("", label_filter) : NULL;
        _cleanup_json_ json_t *j = NULL;
        _cleanup_strv_ char **names = NULL;
        const char *ctx = "list volumes";
        json_t *vols, *v;
        size_t n, i;
        int r;

        if (label_filter && !query)
                return berth_error_set(err, -ENOMEM, "out of memory");
        r = docker_get_json(d, "/volumes", query, &j, ctx, err);
        if (r < 0)
                return r;
        vols = json_object_get(j, "Volumes");
        /* Older daemons answer null for none. */
        if (!json_is_object(j) || (!json_is_array(vols) && !json_is_null(vols) && vols))
                return berth_error_set(err, -EPROTO, "%s: expected {\"Volumes\": [...]}", ctx);
        n = json_array_size(vols);
        names = calloc(n + 1, sizeof(*names));
        if (!names)
                return berth_error_set(err, -ENOMEM, "out of memory");
        json_array_foreach(vols, i, v)
        {
                const char *name = json_string_value(json_object_get(v, "Name"));

                if (!name)
                        return berth_error_set(err, -EPROTO, "%s: a volume without a Name", ctx);
                names[i] = strdup(name);
                if (!names[i])
                        return berth_error_set(err, -ENOMEM, "out of memory");
        }
        *ret_names = TAKE_PTR(names);
        *ret_n = n;
        return 0;
}
