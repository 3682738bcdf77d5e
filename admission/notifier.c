/* notifier.c: what a Notifier may make berthd do on the host. A webhook,
 * Slack or SMTP Notifier only sends; an exec Notifier runs a program as
 * berthd's user (root), so only programs an administrator put inside a
 * berthd --notifier-exec-dir may be run, and a type berthd has no
 * delivery for is refused rather than stored and never delivered. */
#include <libgen.h>
#include <sys/stat.h>

#include "admission.h"

static int notifier_error(struct field_errors *errs, const json_t *positions, const char *field,
                          const char *fmt, ...) _printf_(4, 5);
static int notifier_error(struct field_errors *errs, const json_t *positions, const char *field,
                          const char *fmt, ...)
{
        const json_t *pos = json_object_get(positions, field);
        char msg[BERTH_ERROR_MESSAGE_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (field_errors_add(errs, field, (int)json_integer_value(json_array_get(pos, 0)),
                             (int)json_integer_value(json_array_get(pos, 1)), "%s", msg) < 0)
                return -ENOMEM;
        return 1;
}

static void roots_text(const struct admission_policy *p, char *out, size_t size)
{
        size_t used = 0;

        out[0] = '\0';
        for (size_t i = 0; i < p->n_notifier_exec_dirs && used < size; i++) {
                int n = snprintf(out + used, size - used, "%s%s", i ? ", " : "",
                                 p->notifier_exec_dirs[i]);
                if (n < 0)
                        break;
                used += (size_t)n;
        }
}

int admission_notifier_command(const struct admission_policy *p, const char *command,
                               char **ret_path, char *msg, size_t msg_size)
{
        char roots[512];
        struct stat st;

        if (!p || p->n_notifier_exec_dirs == 0) {
                snprintf(msg, msg_size,
                         "exec notifiers are disabled: berthd runs without --notifier-exec-dir");
                return -EPERM;
        }
        roots_text(p, roots, sizeof(roots));
        _cleanup_free_ char *real = realpath(command, NULL);
        if (!real) {
                int r = -errno;
                snprintf(msg, msg_size, "%s: %s", command, strerror(-r));
                return r;
        }
        _cleanup_free_ char *dir_copy = strdup(real);
        _cleanup_free_ char *dir = NULL;
        if (!dir_copy)
                return -ENOMEM;
        int r = dir_resolve_within(dirname(dir_copy), p->notifier_exec_dirs,
                                   p->n_notifier_exec_dirs, &dir);
        if (r == -EPERM) {
                snprintf(msg, msg_size,
                         "%s is outside the directories exec notifiers may run programs from "
                         "(--notifier-exec-dir %s)",
                         command, roots);
                return r;
        }
        if (r < 0) {
                snprintf(msg, msg_size, "%s: %s", command, strerror(-r));
                return r;
        }
        if (stat(real, &st) < 0 || !S_ISREG(st.st_mode) || access(real, X_OK) < 0) {
                snprintf(msg, msg_size, "%s is not an executable file", command);
                return -EACCES;
        }
        *ret_path = TAKE_PTR(real);
        return 0;
}

int admission_check_notifier(const struct admission_policy *p, const json_t *spec,
                             const json_t *positions, struct field_errors *errs)
{
        const char *type = json_string_value(json_object_get(spec, "type"));
        const char *command = json_path_string(spec, "exec.command");
        enum notifier_type t = notifier_type_from_string(type);
        char msg[BERTH_ERROR_MESSAGE_MAX];

        if (!type)
                return 0;
        if (t == NOTIFIER_PLUGIN && !strv_contains(p ? p->notifier_plugins : NULL, type))
                return notifier_error(errs, positions, "spec.type",
                                      "unknown notifier type \"%.64s\": berthd delivers webhook, "
                                      "slack, smtp and exec%s",
                                      type,
                                      p && p->notifier_plugins && p->notifier_plugins[0]
                                          ? " and the plugins it was started with"
                                          : "");
        if (t != NOTIFIER_EXEC || !command)
                return 0;
        _cleanup_free_ char *path = NULL;
        int r = admission_notifier_command(p, command, &path, msg, sizeof(msg));
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return notifier_error(errs, positions, "spec.exec.command", "%s", msg);
        return 0;
}
