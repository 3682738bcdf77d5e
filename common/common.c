/* common: strings, errors, logging and capped buffers. Time, quantities and
 * JSON helpers live in time.c, quantity.c and json.c. */
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

#include <pthread.h>
#include <time.h>

/* ---- strings ---------------------------------------------------------- */

void strv_free(char **v)
{
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

size_t strv_length(char *const *v)
{
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

bool strv_contains(const char *const *v, const char *s)
{
        for (; v && *v; v++)
                if (streq(*v, s))
                        return true;
        return false;
}

bool str_has_suffix(const char *s, const char *suffix)
{
        if (!s || !suffix)
                return false;
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

char *str_printf(const char *fmt, ...)
{
        va_list ap;
        char *s = NULL;

        va_start(ap, fmt);
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        return r < 0 ? NULL : s;
}

static int hex_digit(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int percent_decode(const char *s, size_t len, bool plus_is_space, char **ret)
{
        _cleanup_free_ char *out = malloc(len + 1);
        size_t n = 0;

        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                if (c == '%') {
                        if (i + 2 >= len)
                                return -EINVAL;
                        int hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
                        if (hi < 0 || lo < 0)
                                return -EINVAL;
                        c = (char)(hi << 4 | lo);
                        if (c == '\0')
                                return -EINVAL;
                        i += 2;
                } else if (c == '+' && plus_is_space) {
                        c = ' ';
                } else if (c == '\0') {
                        return -EINVAL;
                }
                out[n++] = c;
        }
        out[n] = '\0';
        *ret = TAKE_PTR(out);
        return 0;
}

int random_uid(char out[RANDOM_UID_LEN])
{
        unsigned char raw[16];
        size_t got = 0;

        while (got < sizeof(raw)) {
                ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                got += (size_t)n;
        }
        for (size_t i = 0; i < sizeof(raw); i++)
                snprintf(out + 2 * i, 3, "%02x", raw[i]);
        return 0;
}

int str_copy(char *dst, size_t size, const char *src)
{
        if (size == 0)
                return -ENAMETOOLONG;
        size_t n = strlen(src);
        if (n >= size) {
                memcpy(dst, src, size - 1);
                dst[size - 1] = '\0';
                return -ENAMETOOLONG;
        }
        memcpy(dst, src, n + 1);
        return 0;
}

size_t str_edit_distance(const char *a, const char *b, size_t max)
{
        size_t la = strlen(a), lb = strlen(b);

        /* Beyond this length "did you mean" hints are useless anyway. */
        if (la > 64 || lb > 64)
                return max + 1;
        if ((la > lb ? la - lb : lb - la) > max)
                return max + 1;

        size_t prev[65], cur[65];
        for (size_t j = 0; j <= lb; j++)
                prev[j] = j;
        for (size_t i = 1; i <= la; i++) {
                cur[0] = i;
                size_t row_min = cur[0];
                for (size_t j = 1; j <= lb; j++) {
                        size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
                        size_t v = prev[j - 1] + cost;
                        if (prev[j] + 1 < v)
                                v = prev[j] + 1;
                        if (cur[j - 1] + 1 < v)
                                v = cur[j - 1] + 1;
                        cur[j] = v;
                        if (v < row_min)
                                row_min = v;
                }
                if (row_min > max)
                        return max + 1;
                memcpy(prev, cur, sizeof(size_t) * (lb + 1));
        }
        return prev[lb] > max ? max + 1 : prev[lb];
}

/* ---- errors ----------------------------------------------------------- */

void berth_error_clear(struct berth_error *err)
{
        if (!err)
                return;
        err->code = 0;
        err->http_status = 0;
        err->message[0] = '\0';
}

/* Error messages are truncated when too long: that is fine, they stay readable. */
static void join_truncating(char *dst, size_t size, const char *a, const char *sep, const char *b)
{
        struct buf out;
        buf_init(&out, size - 1);
        buf_append(&out, a, strlen(a) < size - 1 ? strlen(a) : size - 1);
        buf_append_str(&out, sep);
        size_t room = out.max - out.len;
        buf_append(&out, b, strlen(b) < room ? strlen(b) : room);
        memcpy(dst, out.data ? out.data : "", out.len + 1);
        buf_release(&out);
}

static _printf_(2, 0) void error_vformat(struct berth_error *err, const char *fmt, va_list ap)
{
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
}

int berth_error_set(struct berth_error *err, int code, const char *fmt, ...)
{
        if (!err)
                return code;
        va_list ap;
        va_start(ap, fmt);
        error_vformat(err, fmt, ap);
        va_end(ap);
        err->code = code;
        err->http_status = 0;
        return code;
}

int berth_error_set_http(struct berth_error *err, int code, int http_status, const char *remote,
                         const char *fmt, ...)
{
        if (!err)
                return code;
        char context[BERTH_ERROR_MESSAGE_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(context, sizeof(context), fmt, ap);
        va_end(ap);
        char status[32];
        snprintf(status, sizeof(status), ": %d", http_status);
        join_truncating(err->message, sizeof(err->message), context, status,
                        remote && *remote ? " " : "");
        if (remote && *remote) {
                char head[BERTH_ERROR_MESSAGE_MAX];
                memcpy(head, err->message, sizeof(head));
                join_truncating(err->message, sizeof(err->message), head, "", remote);
        }
        err->code = code;
        err->http_status = http_status;
        return code;
}

void berth_error_prefix(struct berth_error *err, const char *fmt, ...)
{
        if (!err)
                return;
        char context[BERTH_ERROR_MESSAGE_MAX];
        char old[BERTH_ERROR_MESSAGE_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(context, sizeof(context), fmt, ap);
        va_end(ap);
        memcpy(old, err->message, sizeof(old));
        join_truncating(err->message, sizeof(err->message), context, old[0] ? ": " : "", old);
}

/* ---- logging ---------------------------------------------------------- */

/* Set once by main before threads start (docs/internals/style.md rule 11
 * allows this). */
static struct {
        enum log_level level;
        enum log_format format;
        FILE *out;
} log_config = {LOG_LEVEL_INFO, LOG_FORMAT_TEXT, NULL};
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const log_level_names[] = {"debug", "info", "warn", "error"};

void log_setup(enum log_level level, enum log_format format, FILE *out)
{
        log_config.level = level;
        log_config.format = format;
        log_config.out = out;
}

int log_level_from_string(const char *s, enum log_level *ret_level)
{
        for (size_t i = 0; i < ARRAY_SIZE(log_level_names); i++)
                if (streq(s, log_level_names[i])) {
                        *ret_level = (enum log_level)i;
                        return 0;
                }
        if (streq(s, "warning")) {
                *ret_level = LOG_LEVEL_WARN;
                return 0;
        }
        return -EINVAL;
}

int log_format_from_string(const char *s, enum log_format *ret_format)
{
        if (streq(s, "text"))
                *ret_format = LOG_FORMAT_TEXT;
        else if (streq(s, "json"))
                *ret_format = LOG_FORMAT_JSON;
        else
                return -EINVAL;
        return 0;
}

const char *log_level_to_string(enum log_level level)
{
        if ((size_t)level >= ARRAY_SIZE(log_level_names))
                return "unknown";
        return log_level_names[level];
}

bool log_enabled(enum log_level level)
{
        return level >= log_config.level;
}

void log_printf(enum log_level level, const char *fmt, ...)
{
        if (!log_enabled(level))
                return;

        char msg[4096];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);

        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        char stamp[64];
        snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);

        FILE *out = log_config.out ? log_config.out : stderr;
        pthread_mutex_lock(&log_lock);
        if (log_config.format == LOG_FORMAT_JSON) {
                json_t *line = json_pack("{s:s, s:s, s:s}", "time", stamp, "level",
                                         log_level_to_string(level), "msg", msg);
                char *s = line ? json_dumps(line, JSON_COMPACT) : NULL;
                if (s)
                        fprintf(out, "%s\n", s);
                free(s);
                json_decref(line);
        } else {
                fprintf(out, "%s %-5s %s\n", stamp, log_level_to_string(level), msg);
        }
        fflush(out);
        pthread_mutex_unlock(&log_lock);
}

/* ---- capped buffer ---------------------------------------------------- */

void buf_init(struct buf *b, size_t max)
{
        b->data = NULL;
        b->len = 0;
        b->cap = 0;
        b->max = max;
}

void buf_release(struct buf *b)
{
        free(b->data);
        b->data = NULL;
        b->len = 0;
        b->cap = 0;
}

void buf_reset(struct buf *b)
{
        b->len = 0;
        if (b->data)
                b->data[0] = '\0';
}

/* Makes room for n more bytes plus the terminator. */
static int buf_reserve(struct buf *b, size_t n)
{
        if (n > b->max || b->len > b->max - n)
                return -E2BIG;
        size_t need = b->len + n + 1;
        if (need <= b->cap)
                return 0;
        size_t cap = b->cap ? b->cap : 64;
        while (cap < need)
                cap *= 2;
        if (cap > b->max + 1)
                cap = b->max + 1;
        char *p = realloc(b->data, cap);
        if (!p)
                return -ENOMEM;
        b->data = p;
        b->cap = cap;
        return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
        int r = buf_reserve(b, n);
        if (r < 0)
                return r;
        if (n)
                memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
        return buf_append(b, s, strlen(s));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -EINVAL;
        int r = buf_reserve(b, (size_t)n);
        if (r < 0)
                return r;
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
        return 0;
}

char *buf_steal(struct buf *b)
{
        char *p = b->data;
        if (!p)
                p = strdup("");
        b->data = NULL;
        b->len = 0;
        b->cap = 0;
        return p;
}

void buf_consume(struct buf *b, size_t n)
{
        if (n >= b->len) {
                buf_reset(b);
                return;
        }
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
        b->data[b->len] = '\0';
}

/* ---- HTTP ------------------------------------------------------------- */

const char *http_status_reason(int code)
{
        switch (code) {
        case 200:
                return "";
        case 400:
                return "BadRequest";
        case 401:
                return "Unauthorized";
        case 403:
                return "Forbidden";
        case 404:
                return "NotFound";
        case 405:
                return "MethodNotAllowed";
        case 409:
                return "Conflict";
        case 410:
                return "Gone";
        case 413:
                return "RequestEntityTooLarge";
        case 414:
                return "RequestURITooLong";
        case 415:
                return "UnsupportedMediaType";
        case 422:
                return "Invalid";
        case 429:
                return "TooManyRequests";
        case 500:
                return "InternalError";
        case 503:
                return "ServiceUnavailable";
        case 504:
                return "Timeout";
        default:
                return code >= 500 ? "InternalError" : "BadRequest";
        }
}

/* ---- interruptible sockets -------------------------------------------- */

void socket_slot_init(struct socket_slot *s)
{
        pthread_mutex_init(&s->lock, NULL);
        s->fd = -1;
        s->interrupted = false;
}

void socket_slot_destroy(struct socket_slot *s)
{
        pthread_mutex_destroy(&s->lock);
}

int socket_slot_open(struct socket_slot *s, int family, int type, int protocol)
{
        LOCK_SCOPE(&s->lock);
        if (s->interrupted) {
                errno = EINTR;
                return -1;
        }
        int fd = socket(family, type | SOCK_CLOEXEC, protocol);
        if (fd >= 0)
                s->fd = fd;
        return fd;
}

int socket_slot_close(struct socket_slot *s, int fd)
{
        {
                LOCK_SCOPE(&s->lock);
                if (s->fd == fd)
                        s->fd = -1;
        }
        return close(fd);
}

void socket_slot_shutdown(struct socket_slot *s)
{
        LOCK_SCOPE(&s->lock);
        if (s->fd >= 0)
                shutdown(s->fd, SHUT_RDWR);
}

void socket_slot_interrupt(struct socket_slot *s)
{
        LOCK_SCOPE(&s->lock);
        s->interrupted = true;
        if (s->fd >= 0)
                shutdown(s->fd, SHUT_RDWR);
}
