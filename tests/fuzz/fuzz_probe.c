/* Fuzz target for the probe module's HTTP status line parser, the one parser
 * of bytes a replica sends berthd. The input is fed as a response arriving in
 * pieces (its first byte chooses the split), the way the prober reads it.
 * Besides memory errors and UB it aborts when
 *   - the parser asks for more bytes past PROBE_RESPONSE_MAX, or after the
 *     peer closed,
 *   - it decides differently on the whole input than on the same bytes in
 *     pieces,
 *   - a status is outside 100..599, or a failure leaves no message. */
#include <stdint.h>

#include "probe-internal.h"

/* Feeds data[0..len) in pieces of step bytes; the parser's verdict. */
static int feed(const char *data, size_t len, size_t step, int *status, char *msg, size_t size)
{
        size_t have = 0;

        for (;;) {
                bool eof = have == len;
                int r = probe_http_status_parse(data, have, eof, status, msg, size);

                if (r != 0)
                        return r;
                if (eof || have >= PROBE_RESPONSE_MAX)
                        abort(); /* more wanted when no more can come */
                have = have + step < len ? have + step : len;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char whole_msg[256] = "", piece_msg[256] = "";
        int whole_status = 0, piece_status = 0;
        size_t step;
        int whole, pieces;

        if (size < 1)
                return 0;
        step = (size_t)data[0] % 16 + 1;
        data++;
        size--;
        if (size > PROBE_RESPONSE_MAX + 64)
                size = PROBE_RESPONSE_MAX + 64;
        whole = feed((const char *)data, size, size ? size : 1, &whole_status, whole_msg,
                     sizeof(whole_msg));
        pieces = feed((const char *)data, size, step, &piece_status, piece_msg, sizeof(piece_msg));
        if (whole != pieces || whole_status != piece_status)
                abort();
        if (whole > 0 && (whole_status < 100 || whole_status > 599))
                abort();
        if (whole < 0 && (whole != -EBADMSG || !whole_msg[0] || !piece_msg[0]))
                abort();
        return 0;
}
