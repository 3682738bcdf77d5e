/* container-admission.c: the admission policy as reconcilers apply it —
 * with the Policy of the namespace as the object cache has it now, just
 * before a container is made (admission.h), and runAsNonRoot against the
 * user of the image the container is made from.
 *
 * Judging again at create time is what makes a Policy's removal (or a
 * narrower one) count for objects stored under the old one. */
#include "admission.h"
#include "reconciler-internal.h"

int namespace_policy_get(struct reconcile_ctx *ctx, const char *ns, json_t **ret_object,
                         struct policy_spec *ret, char *why, size_t why_size)
{
        _cleanup_free_ char *key = object_key(ctx->prefix, "policies", ns, POLICY_NAME);
        _cleanup_json_ json_t *obj = NULL;
        struct berth_error err = {0};
        struct policy_spec spec;

        if (!key)
                return -ENOMEM;
        obj = object_cache_get(ctx->objects, key, NULL);
        if (!obj) {
                *ret_object = NULL;
                return 0;
        }
        int r = policy_spec_decode(obj, &spec, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                snprintf(why, why_size, "Policy %s/%s cannot be read: %s", ns, POLICY_NAME,
                         err.message);
                return -EPERM;
        }
        *ret = spec;
        *ret_object = TAKE_PTR(obj);
        return 0;
}

int container_admit(struct reconcile_ctx *ctx, const char *ns, const json_t *spec, char *refused,
                    size_t refused_size)
{
        _cleanup_json_ json_t *held = NULL;
        struct policy_spec policy;

        if (!ctx->admission)
                return 0;
        int r = namespace_policy_get(ctx, ns, &held, &policy, refused, refused_size);
        if (r < 0)
                return r;
        return admission_check_container(ctx->admission, held ? &policy : NULL, spec, refused,
                                         refused_size);
}

int container_user_admit(struct reconcile_ctx *ctx, const struct task_spec *spec, json_t *body,
                         char *why, size_t why_size, struct berth_error *err)
{
        _cleanup_free_ char *user = NULL;

        /* A uid of the spec's was judged when the spec was checked. */
        if (!spec->security.run_as_non_root || spec->security.has_run_as_user || spec->user)
                return 0;
        /* No cache: one local call per container made, and a tag that moves
         * to another image must be judged by the image it names now. */
        int r = docker_image_user(ctx->docker, spec->image, &user, err);
        if (r < 0)
                return r;
        r = admission_check_image_user(spec->image, user, why, why_size);
        if (r < 0)
                return r;
        /* The uid that was judged, whatever the tag names by the time the
         * container is made. */
        if (json_object_set_new(body, "User", json_string(user)) < 0)
                return berth_error_set(err, -ENOMEM, "out of memory");
        return 0;
}
