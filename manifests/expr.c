/* Workflow template expressions: "{{ expr }}" (docs/reference/workflow.md).
 *
 * The syntax is deliberately tiny: a dotted path, nothing else (no filters, no
 * escapes). What a path means is the resolver's business, so the same code
 * serves validation (which knows names only) and the controller (which knows
 * values). Every "{{" starts an expression, so a typo such as a missing "}}"
 * is an error instead of text that silently reaches a container. */
#include "manifests.h"

/* Characters of an expression quoted in an error message: enough to recognize
 * it, short enough to keep a message about a runaway "{{" on one line. */
#define EXPR_QUOTE_MAX 64

static bool is_space(char ch)
{
        return ch == ' ' || ch == '\t';
}

static bool is_segment_char(char ch)
{
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               ch == '_' || ch == '-';
}

/* Dotted path of non-empty [A-Za-z0-9_-] segments. */
static bool path_valid(const char *s, size_t len)
{
        bool segment_empty = true;

        for (size_t i = 0; i < len; i++) {
                if (s[i] == '.') {
                        if (segment_empty)
                                return false;
                        segment_empty = true;
                } else if (is_segment_char(s[i])) {
                        segment_empty = false;
                } else {
                        return false;
                }
        }
        return !segment_empty;
}

/* msg = "<expression as written>: <why>"; returns r. */
_printf_(6, 7) static int expr_fail(int r, char *msg, size_t msg_size, const char *text,
                                    size_t text_len, const char *fmt, ...)
{
        char why[256];
        va_list ap;

        if (!msg || msg_size == 0)
                return r;
        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        if (text_len > EXPR_QUOTE_MAX)
                snprintf(msg, msg_size, "%.*s...: %s", EXPR_QUOTE_MAX, text, why);
        else
                snprintf(msg, msg_size, "%.*s: %s", (int)text_len, text, why);
        return r;
}

int expr_expand(const char *s, expr_resolve_fn resolve, void *userdata, size_t max_len, char **ret,
                char *msg, size_t msg_size)
{
        _cleanup_buf_ struct buf out = {};
        const char *p;
        int r;

        if (!ret)
                return -EINVAL;
        *ret = NULL;
        if (!s || !resolve)
                return -EINVAL;

        buf_init(&out, max_len);
        for (p = s;;) {
                const char *open = strstr(p, "{{"), *close, *start, *end;
                char expr[EXPR_MAX_LEN + 1], why[256] = "";
                const char *value = NULL;

                r = buf_append(&out, p, open ? (size_t)(open - p) : strlen(p));
                if (r < 0)
                        break;
                if (!open)
                        break;

                close = strstr(open + 2, "}}");
                if (!close)
                        return expr_fail(-EINVAL, msg, msg_size, open, strlen(open),
                                         "unterminated \"{{\"");
                p = close + 2;

                start = open + 2;
                end = close;
                while (start < end && is_space(*start))
                        start++;
                while (end > start && is_space(end[-1]))
                        end--;
                if (start == end)
                        return expr_fail(-EINVAL, msg, msg_size, open, (size_t)(p - open),
                                         "empty expression");
                if ((size_t)(end - start) > EXPR_MAX_LEN)
                        return expr_fail(-EINVAL, msg, msg_size, open, (size_t)(p - open),
                                         "expression longer than %d characters", EXPR_MAX_LEN);
                if (!path_valid(start, (size_t)(end - start)))
                        return expr_fail(-EINVAL, msg, msg_size, open, (size_t)(p - open),
                                         "malformed expression: must be a dotted path such as "
                                         "parameters.name");

                memcpy(expr, start, (size_t)(end - start));
                expr[end - start] = '\0';
                r = resolve(expr, &value, why, sizeof(why), userdata);
                if (r == -ENOENT)
                        return expr_fail(-EINVAL, msg, msg_size, open, (size_t)(p - open), "%s",
                                         why[0] ? why : "unknown expression");
                if (r < 0)
                        return expr_fail(r, msg, msg_size, open, (size_t)(p - open), "%s",
                                         strerror(-r));
                r = buf_append_str(&out, value ? value : "");
                if (r < 0)
                        break;
        }
        if (r == -E2BIG) {
                if (msg && msg_size > 0)
                        snprintf(msg, msg_size, "expanded string longer than %zu bytes", max_len);
                return r;
        }
        if (r < 0)
                return r;

        *ret = buf_steal(&out);
        return *ret ? 0 : -ENOMEM;
}
