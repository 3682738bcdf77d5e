/* http.c: the probe's side of HTTP/1.1, as little of it as a health check
 * needs: one GET written whole, and the status line of the answer. The body
 * and even the headers are never read: the status decides. */
#include <ctype.h>

#include "probe-internal.h"

int probe_http_request(const struct probe_target *t, char *out, size_t size)
{
        char address[PROBE_ADDRESS_MAX];
        int n;

        probe_address_format(t->host, t->port, address, sizeof(address));
        n = snprintf(out, size,
                     "GET %s HTTP/1.1\r\n"
                     "Host: %s\r\n"
                     "Connection: close\r\n"
                     "User-Agent: berth-probe\r\n"
                     "\r\n",
                     t->path, address);
        if (n < 0 || (size_t)n >= size)
                return -ENAMETOOLONG;
        return n;
}

/* The start of line[0..len) for a message: printable ASCII, '?' for the rest,
 * cut at 48 bytes. */
static void quote_line(const char *line, size_t len, char *out, size_t size)
{
        char shown[49];
        size_t n = len < sizeof(shown) - 1 ? len : sizeof(shown) - 1;

        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)line[i];
                shown[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
        }
        shown[n] = '\0';
        (void)snprintf(out, size, "malformed HTTP status line \"%s%s\"", shown,
                       len > n ? "..." : "");
}

static bool all_digits(const char *s, size_t len)
{
        if (len == 0)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!isdigit((unsigned char)s[i]))
                        return false;
        return true;
}

/* "HTTP/<d>.<d> <ddd>" followed by the end or a space and a reason. */
static int parse_line(const char *line, size_t len, int *ret_status)
{
        const char *dot, *sp;
        int status;

        if (len < 5 || memcmp(line, "HTTP/", 5) != 0)
                return -EBADMSG;
        dot = memchr(line + 5, '.', len - 5);
        sp = memchr(line + 5, ' ', len - 5);
        if (!dot || !sp || dot > sp || !all_digits(line + 5, (size_t)(dot - line - 5)) ||
            !all_digits(dot + 1, (size_t)(sp - dot - 1)))
                return -EBADMSG;
        sp++;
        len -= (size_t)(sp - line);
        if (len < 3 || !all_digits(sp, 3) || (len > 3 && sp[3] != ' '))
                return -EBADMSG;
        status = (sp[0] - '0') * 100 + (sp[1] - '0') * 10 + (sp[2] - '0');
        if (status < 100 || status > 599)
                return -EBADMSG;
        *ret_status = status;
        return 0;
}

int probe_http_status_parse(const char *data, size_t len, bool eof, int *ret_status, char *msg,
                            size_t msg_size)
{
        const char *nl;
        size_t line_len;
        int status = 0;

        /* What lies past the cap is never looked at, however it was read. */
        if (len > PROBE_RESPONSE_MAX)
                len = PROBE_RESPONSE_MAX;
        nl = memchr(data, '\n', len);
        line_len = nl ? (size_t)(nl - data) : len;

        if (line_len > 0 && data[line_len - 1] == '\r')
                line_len--;
        /* Not HTTP at all (an SSH banner, a TLS alert): say so at once rather
         * than wait for a line end that may never come. */
        if (memcmp(data, "HTTP/", len < 5 ? len : 5) != 0) {
                quote_line(data, line_len, msg, msg_size);
                return -EBADMSG;
        }
        if (!nl) {
                if (len >= PROBE_RESPONSE_MAX) {
                        (void)snprintf(msg, msg_size, "HTTP status line longer than %d bytes",
                                       PROBE_RESPONSE_MAX);
                        return -EBADMSG;
                }
                if (!eof)
                        return 0;
                (void)snprintf(msg, msg_size, "%s",
                               len == 0 ? "connection closed without a response"
                                        : "connection closed in the HTTP status line");
                return -EBADMSG;
        }
        if (parse_line(data, line_len, &status) < 0) {
                quote_line(data, line_len, msg, msg_size);
                return -EBADMSG;
        }
        *ret_status = status;
        return 1;
}
