/* api: Server-Sent Events framing (the WHATWG HTML "server-sent events"
 * section): what a watch or a log stream writes when the client asked for
 * text/event-stream. Pure: buffers in, bytes out; the streams (watch.c,
 * logs.c) decide what to send and when.
 *
 * An SSE parser ends a line at CR, LF or CRLF, so a field value can never
 * hold one: data with line breaks is sent as several "data:" lines, which
 * the client joins with LF. An id or event type cannot be split that way
 * and is refused instead.
 */
#include "api-internal.h"

#include <ctype.h>
#include <strings.h>

bool api_sse_accepted(const char *accept)
{
        const char *p = accept;

        /* Media ranges separated by commas; parameters after ';' ignored. */
        while (p && *p) {
                while (*p == ' ' || *p == '\t' || *p == ',')
                        p++;
                size_t n = strcspn(p, ",;");
                size_t len = n;
                while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
                        len--;
                if (len == strlen("text/event-stream") &&
                    strncasecmp(p, "text/event-stream", len) == 0)
                        return true;
                p += n;
                p += strcspn(p, ","); /* skip parameters */
        }
        return false;
}

static bool has_line_break(const char *s)
{
        return s && s[strcspn(s, "\r\n")] != '\0';
}

int api_sse_event(struct buf *out, const char *id, const char *type, const char *data, size_t len)
{
        size_t start = out->len;
        int r = 0;

        if (has_line_break(id) || has_line_break(type))
                return -EINVAL;
        if (!data)
                data = "", len = 0;
        if (id)
                r = buf_printf(out, "id: %s\n", id);
        if (r >= 0 && type)
                r = buf_printf(out, "event: %s\n", type);
        for (size_t i = 0; r >= 0;) {
                size_t n = 0;
                while (i + n < len && data[i + n] != '\r' && data[i + n] != '\n')
                        n++;
                r = buf_append_str(out, "data: ");
                if (r >= 0)
                        r = buf_append(out, data + i, n);
                if (r >= 0)
                        r = buf_append_str(out, "\n");
                i += n;
                if (i >= len)
                        break;
                /* CRLF is one break; a lone CR or LF is one each. A break
                 * at the end is followed by an empty line, so that the
                 * client's data ends with LF as ours did. */
                i += data[i] == '\r' && i + 1 < len && data[i + 1] == '\n' ? 2 : 1;
        }
        if (r >= 0)
                r = buf_append_str(out, "\n");
        if (r < 0) {
                out->len = start; /* never half an event */
                return r;
        }
        return 0;
}

int api_sse_comment(struct buf *out, const char *text)
{
        if (has_line_break(text))
                return -EINVAL;
        int r = buf_printf(out, ": %s\n\n", text ? text : "");
        return r < 0 ? r : 0;
}

int api_sse_retry(struct buf *out, int ms)
{
        int r = buf_printf(out, "retry: %d\n\n", ms < 0 ? 0 : ms);
        return r < 0 ? r : 0;
}

/* ---- log lines ------------------------------------------------------------ */

void api_sse_lines_init(struct api_sse_lines *l)
{
        buf_init(&l->partial, API_SSE_LINE_MAX);
}

void api_sse_lines_release(struct api_sse_lines *l)
{
        buf_release(&l->partial);
}

/* One message event of line (a trailing CR dropped: CRLF ends a line). */
static int line_event(struct buf *out, const char *line, size_t len)
{
        if (len > 0 && line[len - 1] == '\r')
                len--;
        return api_sse_event(out, NULL, NULL, line, len);
}

int api_sse_lines_feed(struct api_sse_lines *l, const char *data, size_t len, struct buf *out)
{
        while (len > 0) {
                const char *nl = memchr(data, '\n', len);
                size_t n = nl ? (size_t)(nl - data) : len;
                size_t room = API_SSE_LINE_MAX - l->partial.len;
                bool cut = n > room; /* the line passed the cap: send what we have */
                if (cut)
                        n = room;
                int r = buf_append(&l->partial, data, n);
                if (r < 0)
                        return r;
                data += n;
                len -= n;
                if (!nl && !cut)
                        break; /* the rest of the line comes later */
                if (!cut) {
                        data++; /* the newline */
                        len--;
                }
                r = line_event(out, l->partial.data ? l->partial.data : "", l->partial.len);
                buf_reset(&l->partial);
                if (r < 0)
                        return r;
        }
        return 0;
}

int api_sse_lines_flush(struct api_sse_lines *l, struct buf *out)
{
        if (l->partial.len == 0)
                return 0;
        int r = line_event(out, l->partial.data, l->partial.len);
        buf_reset(&l->partial);
        return r;
}
