/* api: errors as Kubernetes-style Status bodies. */
#include "api-internal.h"

void api_error_release(struct api_error *e)
{
        if (!e)
                return;
        json_decref(e->details);
        e->details = NULL;
}

static int error_vset(struct api_error *e, int code, const char *reason, const char *fmt,
                      va_list ap)
{
        e->code = code;
        e->reason = reason;
        vsnprintf(e->message, sizeof(e->message), fmt, ap);
        json_decref(e->details);
        e->details = NULL;
        return api_status_errno(code);
}

int api_error_set(struct api_error *e, int code, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = error_vset(e, code, NULL, fmt, ap);
        va_end(ap);
        return r;
}

int api_error_set_reason(struct api_error *e, int code, const char *reason, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = error_vset(e, code, reason, fmt, ap);
        va_end(ap);
        return r;
}

int api_error_from_store(struct api_error *e, int rc, const struct berth_error *serr,
                         const char *what)
{
        const char *msg = serr && serr->message[0] ? serr->message : strerror(-rc);

        switch (rc) {
        case -ESTALE:
                return api_error_set_reason(e, 409, "Conflict", "%s: %s", what, msg);
        case -E2BIG:
                return api_error_set(e, 413, "%s: object too large (max %d bytes)", what,
                                     STORE_VALUE_MAX);
        case -ENOENT:
                return api_error_set(e, 404, "%s: %s", what, msg);
        default:
                return api_error_set(e, 503, "%s: store: %s", what, msg);
        }
}

int api_error_add_details(struct api_error *e, const struct field_errors *errs,
                          const char *field_prefix)
{
        if (!e->details) {
                e->details = json_array();
                if (!e->details)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < errs->n; i++) {
                const struct field_error *fe = &errs->items[i];
                _cleanup_free_ char *field =
                    str_printf("%s%s", field_prefix ? field_prefix : "", fe->field);
                if (!field)
                        return -ENOMEM;
                json_t *d = json_pack("{s:s, s:s}", "field", field, "message",
                                      fe->message ? fe->message : "");
                if (!d)
                        return -ENOMEM;
                if (fe->line > 0) {
                        json_object_set_new(d, "line", json_integer(fe->line));
                        json_object_set_new(d, "column", json_integer(fe->column));
                }
                if (json_array_append_new(e->details, d) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int api_status_errno(int code)
{
        switch (code) {
        case 400:
        case 422:
                return -EINVAL;
        case 401:
        case 403:
                return -EACCES;
        case 404:
                return -ENOENT;
        case 405:
                return -EOPNOTSUPP;
        case 409:
                return -ESTALE;
        case 410:
                return -ERANGE;
        case 413:
                return -E2BIG;
        case 414:
                return -ENAMETOOLONG;
        case 503:
                return -EAGAIN;
        case 504:
                return -ETIMEDOUT;
        default:
                return code >= 500 ? -EIO : -EINVAL;
        }
}

json_t *api_status_failure(const struct api_error *e)
{
        int code = e->code >= 400 ? e->code : 500;
        json_t *st =
            json_pack("{s:s, s:s, s:s, s:i, s:s, s:s}", "kind", "Status", "apiVersion",
                      MANIFEST_API_VERSION, "status", "Failure", "code", code, "reason",
                      e->reason ? e->reason : http_status_reason(code), "message", e->message);
        if (st && e->details && json_array_size(e->details) > 0)
                json_object_set(st, "details", e->details);
        return st;
}

json_t *api_status_success(const char *message)
{
        return json_pack("{s:s, s:s, s:s, s:i, s:s}", "kind", "Status", "apiVersion",
                         MANIFEST_API_VERSION, "status", "Success", "code", 200, "message",
                         message ? message : "");
}
