/* api: the audit log — one JSON line per changing or refused request,
 * appended to a file rotated by size (PATH, PATH.1 ... PATH.N).
 *
 * Loop thread only: each line is one write(2) to an O_APPEND descriptor,
 * never fsync'ed (the page cache is enough for a log that must not slow the
 * API down). Never holds a request body or a credential.
 */
#include "api-internal.h"

#include <fcntl.h>
#include <sys/stat.h>

char *api_audit_format(const struct api_audit_event *ev)
{
        char ts[RFC3339_MAX];
        time_format_rfc3339_ms(ev->time_ms, ts);
        _cleanup_json_ json_t *groups = json_array();
        if (!groups)
                return NULL;
        for (size_t i = 0; i < ev->n_groups; i++)
                if (json_array_append_new(groups, json_string(ev->groups[i])) < 0)
                        return NULL;
        _cleanup_json_ json_t *o = json_pack(
            "{s:s, s:s, s:O, s:s, s:s, s:s, s:s, s:s, s:i, s:s}", "time", ts, "user",
            ev->user ? ev->user : "", "groups", groups, "source", ev->source ? ev->source : "",
            "verb", ev->verb ? ev->verb : "", "resource", ev->resource ? ev->resource : "",
            "namespace", ev->ns ? ev->ns : "", "name", ev->name ? ev->name : "", "code", ev->code,
            "requestID", ev->request_id ? ev->request_id : "");
        if (!o)
                return NULL;
        _cleanup_free_ char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        return text ? str_printf("%s\n", text) : NULL;
}

struct api_audit {
        char *path;
        int fd;
        int64_t size; /* bytes in PATH */
        int64_t max_size;
        int max_files;
};

static int audit_reopen(struct api_audit *a, bool truncate)
{
        int fd = open(a->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0),
                      0600);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0) {
                int e = errno;
                close(fd);
                return -e;
        }
        if (a->fd >= 0)
                close(a->fd);
        a->fd = fd;
        a->size = st.st_size;
        return 0;
}

int api_audit_open(const char *path, int64_t max_size, int max_files, struct api_audit **ret)
{
        if (!path || !*path || max_size <= 0 || max_files < 0)
                return -EINVAL;
        struct api_audit *a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->fd = -1;
        a->max_size = max_size;
        a->max_files = max_files;
        a->path = strdup(path);
        int r = a->path ? audit_reopen(a, false) : -ENOMEM;
        if (r < 0) {
                api_audit_free(a);
                return r;
        }
        *ret = a;
        return 0;
}

void api_audit_free(struct api_audit *a)
{
        if (!a)
                return;
        if (a->fd >= 0)
                close(a->fd);
        free(a->path);
        free(a);
}

/* PATH.N-1 → PATH.N ... PATH → PATH.1; the oldest is overwritten. */
static int audit_rotate(struct api_audit *a)
{
        if (a->max_files == 0)
                return audit_reopen(a, true);
        for (int i = a->max_files - 1; i >= 0; i--) {
                _cleanup_free_ char *from = i ? str_printf("%s.%d", a->path, i) : strdup(a->path);
                _cleanup_free_ char *to = str_printf("%s.%d", a->path, i + 1);
                if (!from || !to)
                        return -ENOMEM;
                if (rename(from, to) < 0 && errno != ENOENT)
                        return -errno;
        }
        return audit_reopen(a, false);
}

int api_audit_write(struct api_audit *a, const char *line, size_t len)
{
        int r = 0;
        /* A failed rotation keeps appending to the old file: the line counts more. */
        if (a->size > 0 && a->size + (int64_t)len > a->max_size)
                r = audit_rotate(a);
        ssize_t n = write(a->fd, line, len);
        if (n < 0)
                return -errno;
        a->size += n;
        if ((size_t)n != len)
                return -EIO;
        return r;
}
