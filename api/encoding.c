/* api: what every reply may get on its way out (send.c): an ETag check
 * against If-None-Match, and gzip. Pure but for api_set_etag.
 */
#include "api-internal.h"

#include <inttypes.h>
#include <strings.h>
#include <zlib.h>

/* The token of a list element [s, e) with surrounding blanks trimmed. */
static void trim(const char **s, const char **e)
{
        while (*s < *e && (**s == ' ' || **s == '\t'))
                (*s)++;
        while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
                (*e)--;
}

/* q-value of the parameters in [p, e) (";q=0.5"): 1000 for none, 0..1000,
 * -1 when malformed. */
static int qvalue(const char *p, const char *e)
{
        int q = 1000;
        while (p < e) {
                const char *semi = memchr(p, ';', (size_t)(e - p));
                const char *ps = p, *pe = semi ? semi : e;
                trim(&ps, &pe);
                if (pe - ps >= 2 && (ps[0] == 'q' || ps[0] == 'Q') && ps[1] == '=') {
                        ps += 2;
                        if (ps >= pe || (*ps != '0' && *ps != '1'))
                                return -1;
                        q = (*ps - '0') * 1000;
                        ps++;
                        if (ps < pe && *ps == '.') {
                                ps++;
                                int scale = 100;
                                for (; ps < pe && scale >= 1; ps++, scale /= 10) {
                                        if (*ps < '0' || *ps > '9')
                                                return -1;
                                        q += (*ps - '0') * scale;
                                }
                        }
                        if (ps != pe || q > 1000)
                                return -1;
                }
                p = semi ? semi + 1 : e;
        }
        return q;
}

bool api_gzip_accepted(const char *h)
{
        if (!h)
                return false;
        int gzip_q = -1, star_q = -1;
        const char *p = h;
        for (size_t n = 0; *p && n < 64; n++) { /* a header of 64 codings is enough */
                const char *comma = strchr(p, ',');
                const char *e = comma ? comma : p + strlen(p);
                const char *semi = memchr(p, ';', (size_t)(e - p));
                const char *ts = p, *te = semi ? semi : e;
                trim(&ts, &te);
                int q = qvalue(semi ? semi + 1 : e, e);
                size_t tl = (size_t)(te - ts);
                if (q >= 0) {
                        if ((tl == 4 && !strncasecmp(ts, "gzip", 4)) ||
                            (tl == 6 && !strncasecmp(ts, "x-gzip", 6)))
                                gzip_q = q;
                        else if (tl == 1 && *ts == '*')
                                star_q = q;
                }
                if (!comma)
                        break;
                p = comma + 1;
        }
        if (gzip_q >= 0)
                return gzip_q > 0;
        return star_q > 0;
}

int api_gzip(const void *data, size_t len, char **ret, size_t *ret_len)
{
        z_stream z = {0};
        /* 16 + 15: a gzip wrapper around a 32 KiB window. */
        if (deflateInit2(&z, API_GZIP_LEVEL, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
                return -ENOMEM;
        uLong bound = deflateBound(&z, (uLong)len);
        char *out = malloc(bound);
        if (!out) {
                deflateEnd(&z);
                return -ENOMEM;
        }
        z.next_in = (Bytef *)data;
        z.avail_in = (uInt)len;
        z.next_out = (Bytef *)out;
        z.avail_out = (uInt)bound;
        /* deflateBound is enough for one Z_FINISH; avail_in is a uInt, so a
         * body over 4 GiB would not fit (bodies are far smaller). */
        int rc = len > UINT32_MAX ? Z_BUF_ERROR : deflate(&z, Z_FINISH);
        deflateEnd(&z);
        if (rc != Z_STREAM_END) {
                free(out);
                return -EIO;
        }
        *ret = out;
        *ret_len = z.total_out;
        return 0;
}

void api_etag_format(int64_t revision, char buf[static 24])
{
        snprintf(buf, 24, "\"%" PRId64 "\"", revision);
}

bool api_etag_matches(const char *h, const char *etag)
{
        if (!h || !etag)
                return false;
        if (etag[0] == 'W' && etag[1] == '/')
                etag += 2;
        size_t el = strlen(etag);
        const char *p = h;
        for (size_t n = 0; *p && n < 64; n++) {
                const char *comma = strchr(p, ',');
                const char *e = comma ? comma : p + strlen(p);
                const char *s = p;
                trim(&s, &e);
                if (e - s == 1 && *s == '*')
                        return true;
                if (e - s >= 2 && s[0] == 'W' && s[1] == '/')
                        s += 2;
                if ((size_t)(e - s) == el && !memcmp(s, etag, el))
                        return true;
                if (!comma)
                        break;
                p = comma + 1;
        }
        return false;
}

void api_set_etag(struct evhttp_request *req, int64_t revision)
{
        char tag[24];
        api_etag_format(revision, tag);
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        evhttp_remove_header(h, "ETag");
        evhttp_add_header(h, "ETag", tag);
}
