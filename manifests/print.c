/* Block-style YAML printer. Its one promise: manifest_parse_buffer() of the
 * output gives back an equal JSON value (the fuzz target checks it). */
#include <math.h>

#include "manifests.h"
#include "manifests-internal.h"

/* libyaml refuses implicit (simple) keys longer than 1024 characters; longer
 * keys are printed as explicit "? key" entries. */
#define SIMPLE_KEY_MAX 1000

static bool is_space(char c)
{
        return c == ' ' || c == '\t';
}

/* UTF-8 sequences libyaml will not take literally (C1 controls, line and
 * paragraph separators, BOM, non-characters): length of the one at s, or 0. */
static size_t special_unicode(const unsigned char *s, size_t len, uint32_t *ret_cp)
{
        if (len >= 2 && s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f) {
                *ret_cp = s[1];
                return 2;
        }
        if (len >= 3 && ((s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9)) ||
                         (s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf) ||
                         (s[0] == 0xef && s[1] == 0xbf && (s[2] == 0xbe || s[2] == 0xbf)))) {
                *ret_cp = ((uint32_t)(s[0] & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) |
                          (uint32_t)(s[2] & 0x3f);
                return 3;
        }
        return 0;
}

static bool needs_quotes(const char *s, size_t len)
{
        /* YAML 1.1 booleans: plain is fine for our 1.2 parser, but other
         * tools reading our output would see booleans. */
        static const char *const yaml11[] = {"y",  "Y",   "yes", "Yes", "YES", "n",
                                             "N",  "no",  "No",  "NO",  "on",  "On",
                                             "ON", "off", "Off", "OFF", NULL};
        const unsigned char *u = (const unsigned char *)s;

        if (len == 0 || manifest_scalar_classify(s, len) != MANIFEST_SCALAR_STRING)
                return true;
        for (const char *const *w = yaml11; *w; w++)
                if (strlen(*w) == len && memcmp(*w, s, len) == 0)
                        return true;
        if (strchr("?:,[]{}#&*!|>'\"%@`", s[0]) || is_space(s[0]) || is_space(s[len - 1]))
                return true;
        if (s[0] == '-' && (len == 1 || is_space(s[1]) || str_has_prefix(s, "---")))
                return true;
        if (str_has_prefix(s, "..."))
                return true;
        for (size_t i = 0; i < len; i++) {
                uint32_t cp;

                if (u[i] < 0x20 || u[i] == 0x7f)
                        return true;
                if (s[i] == ':' && (i + 1 == len || s[i + 1] == ' '))
                        return true;
                if (s[i] == '#' && i > 0 && s[i - 1] == ' ')
                        return true;
                if (u[i] >= 0x80 && special_unicode(u + i, len - i, &cp))
                        return true;
        }
        return false;
}

static int append_quoted(struct buf *out, const char *s, size_t len)
{
        const unsigned char *u = (const unsigned char *)s;
        size_t start = 0;
        int r;

        r = buf_append(out, "\"", 1);
        for (size_t i = 0; r == 0 && i < len; i++) {
                const char *esc = NULL;
                char hex[16];
                uint32_t cp;
                size_t n = 0;

                switch (s[i]) {
                case '"':
                        esc = "\\\"";
                        break;
                case '\\':
                        esc = "\\\\";
                        break;
                case '\n':
                        esc = "\\n";
                        break;
                case '\t':
                        esc = "\\t";
                        break;
                case '\r':
                        esc = "\\r";
                        break;
                case '\0':
                        esc = "\\0";
                        break;
                default:
                        if (u[i] < 0x20 || u[i] == 0x7f) {
                                snprintf(hex, sizeof(hex), "\\x%02x", u[i]);
                                esc = hex;
                        } else if (u[i] >= 0x80 && (n = special_unicode(u + i, len - i, &cp))) {
                                snprintf(hex, sizeof(hex), "\\u%04x", (unsigned)cp);
                                esc = hex;
                        }
                }
                if (!esc)
                        continue;
                r = buf_append(out, s + start, i - start);
                if (r == 0)
                        r = buf_append_str(out, esc);
                if (n > 0)
                        i += n - 1;
                start = i + 1;
        }
        if (r == 0)
                r = buf_append(out, s + start, len - start);
        if (r == 0)
                r = buf_append(out, "\"", 1);
        return r;
}

static int append_string(struct buf *out, const char *s, size_t len)
{
        if (needs_quotes(s, len))
                return append_quoted(out, s, len);
        return buf_append(out, s, len);
}

/* Shortest "%g" form that reads back as the same double, always with a '.'
 * or an exponent so that it reads back as a float, not an integer. */
static int append_real(struct buf *out, double d)
{
        char s[64];

        if (!isfinite(d))
                return -EINVAL;
        for (int precision = 15; precision <= 17; precision++) {
                snprintf(s, sizeof(s), "%.*g", precision, d);
                if (strtod(s, NULL) == d)
                        break;
        }
        if (!strpbrk(s, ".eE"))
                return buf_printf(out, "%s.0", s);
        return buf_append_str(out, s);
}

/* Scalars and empty collections: what fits on the current line. */
static bool is_inline(const json_t *v)
{
        return !(json_is_object(v) && json_object_size(v) > 0) &&
               !(json_is_array(v) && json_array_size(v) > 0);
}

static int append_inline(const json_t *v, struct buf *out)
{
        switch (json_typeof(v)) {
        case JSON_OBJECT:
                return buf_append_str(out, "{}");
        case JSON_ARRAY:
                return buf_append_str(out, "[]");
        case JSON_STRING:
                return append_string(out, json_string_value(v), json_string_length(v));
        case JSON_INTEGER:
                return buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        case JSON_REAL:
                return append_real(out, json_real_value(v));
        case JSON_TRUE:
                return buf_append_str(out, "true");
        case JSON_FALSE:
                return buf_append_str(out, "false");
        default:
                return buf_append_str(out, "null");
        }
}

static int append_indent(struct buf *out, size_t indent)
{
        static const char spaces[] = "                                ";
        int r = 0;

        while (r == 0 && indent > 0) {
                size_t n = indent < sizeof(spaces) - 1 ? indent : sizeof(spaces) - 1;

                r = buf_append(out, spaces, n);
                indent -= n;
        }
        return r;
}

static int append_mapping(const json_t *obj, size_t indent, bool first_inline, struct buf *out);
static int append_sequence(const json_t *arr, size_t indent, bool first_inline, struct buf *out);

/* The value after "key:" or "- ": inline, or on the next lines at indent. */
static int append_nested(const json_t *v, size_t indent, struct buf *out)
{
        int r;

        if (is_inline(v)) {
                r = buf_append(out, " ", 1);
                if (r == 0)
                        r = append_inline(v, out);
                if (r == 0)
                        r = buf_append(out, "\n", 1);
                return r;
        }
        r = buf_append(out, "\n", 1);
        if (r < 0)
                return r;
        if (json_is_object(v))
                return append_mapping(v, indent, false, out);
        return append_sequence(v, indent, false, out);
}

static int append_mapping(const json_t *obj, size_t indent, bool first_inline, struct buf *out)
{
        bool first = true;
        const char *key;
        json_t *v;

        json_object_foreach((json_t *)obj, key, v)
        {
                size_t key_start;
                int r = 0;

                if (!first || !first_inline)
                        r = append_indent(out, indent);
                first = false;
                key_start = out->len;
                if (r == 0)
                        r = append_string(out, key, strlen(key));
                if (r == 0 && out->len - key_start > SIMPLE_KEY_MAX) {
                        /* Explicit key: "? key" then ":" on its own line. */
                        r = buf_append(out, "? ", 2);
                        if (r == 0) {
                                /* Move the "? " in front of the key. */
                                size_t klen = out->len - 2 - key_start;

                                memmove(out->data + key_start + 2, out->data + key_start, klen);
                                memcpy(out->data + key_start, "? ", 2);
                                r = buf_append(out, "\n", 1);
                        }
                        if (r == 0)
                                r = append_indent(out, indent);
                }
                if (r == 0)
                        r = buf_append(out, ":", 1);
                if (r == 0)
                        r = append_nested(v, indent + 2, out);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int append_sequence(const json_t *arr, size_t indent, bool first_inline, struct buf *out)
{
        size_t i;
        json_t *v;

        json_array_foreach(arr, i, v)
        {
                int r = 0;

                if (i > 0 || !first_inline)
                        r = append_indent(out, indent);
                if (r == 0)
                        r = buf_append(out, "-", 1);
                if (r < 0)
                        return r;
                if (is_inline(v)) {
                        r = append_nested(v, indent + 2, out);
                } else {
                        r = buf_append(out, " ", 1);
                        if (r == 0 && json_is_object(v))
                                r = append_mapping(v, indent + 2, true, out);
                        else if (r == 0)
                                r = append_sequence(v, indent + 2, true, out);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

int manifest_to_yaml(const json_t *value, struct buf *out)
{
        size_t start;
        int r;

        if (!value || !out)
                return -EINVAL;
        start = out->len;
        if (is_inline(value)) {
                r = append_inline(value, out);
                if (r == 0)
                        r = buf_append(out, "\n", 1);
        } else if (json_is_object(value)) {
                r = append_mapping(value, 0, false, out);
        } else {
                r = append_sequence(value, 0, false, out);
        }
        if (r < 0) {
                /* Leave out as it was. */
                out->len = start;
                if (out->data)
                        out->data[start] = '\0';
        }
        return r;
}
