/* common: the small pieces every berth module uses.
 *
 * - cleanup attributes (_cleanup_free_, _cleanup_close_, ...) and TAKE_PTR/TAKE_FD
 * - struct berth_error: an error with our context and, for remote calls, the
 *   HTTP status and the remote party's own message
 * - logging (text or JSON lines, levels); only top layers log
 * - struct buf: a growable byte buffer with a hard cap
 * - time: RFC 3339, durations ("90s", "1h30m"), kubectl-style ages
 * - quantities: bytes ("256Mi", "1G") and cpu ("500m", "0.5")
 * - jansson helpers
 *
 * Conventions: functions return 0 (or a count) on success and -errno on failure;
 * output parameters are named ret_* and are untouched on failure.
 */
#pragma once

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* ---- cleanup ---------------------------------------------------------- */

#define _cleanup_(f)   __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _unused_       __attribute__((unused))

static inline void freep(void *p)
{
        free(*(void **)p);
}
static inline void closep(int *fd)
{
        if (*fd >= 0)
                close(*fd);
}
static inline void fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}
/* json_decrefp() comes from jansson.h itself. */
void strv_free(char **v);
static inline void strv_freep(char ***v)
{
        strv_free(*v);
}

static inline pthread_mutex_t *mutex_lock(pthread_mutex_t *m)
{
        pthread_mutex_lock(m);
        return m;
}
static inline void mutex_unlockp(pthread_mutex_t **m)
{
        if (*m)
                pthread_mutex_unlock(*m);
}
/* Holds m until the end of the enclosing scope. Cleanups run in reverse order
 * of declaration, so locals declared after it are released while still locked. */
#define LOCK_SCOPE(m) _cleanup_(mutex_unlockp) _unused_ pthread_mutex_t *scope_lock_ = mutex_lock(m)

#define _cleanup_free_   _cleanup_(freep)
#define _cleanup_close_  _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_json_   _cleanup_(json_decrefp)
#define _cleanup_strv_   _cleanup_(strv_freep)

/* Hand a cleanup-owned pointer over: returns it and leaves NULL behind. */
#define TAKE_PTR(p)                                                                                \
        ({                                                                                         \
                __typeof__(p) _p_ = (p);                                                           \
                (p) = NULL;                                                                        \
                _p_;                                                                               \
        })
#define TAKE_FD(fd)                                                                                \
        ({                                                                                         \
                int _fd_ = (fd);                                                                   \
                (fd) = -1;                                                                         \
                _fd_;                                                                              \
        })
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- strings ---------------------------------------------------------- */

static inline bool streq(const char *a, const char *b)
{
        return a && b && strcmp(a, b) == 0;
}
static inline bool str_has_prefix(const char *s, const char *prefix)
{
        return s && strncmp(s, prefix, strlen(prefix)) == 0;
}
bool str_has_suffix(const char *s, const char *suffix);
/* Formats into a new string; NULL on allocation failure. Caller frees. */
char *str_printf(const char *fmt, ...) _printf_(1, 2);
/* Copies src into dst[size] with truncation; always NUL-terminates. Returns
 * -ENAMETOOLONG when src did not fit. */
int str_copy(char *dst, size_t size, const char *src);
/* Decodes %XX (and '+' when plus_is_space) into a new string; -EINVAL on bad
 * escapes or an encoded NUL. Caller frees. */
int percent_decode(const char *s, size_t len, bool plus_is_space, char **ret);
/* 128 random bits as 32 hex digits (object uids, the store's identity).
 * -errno when the kernel's random source fails. */
#define RANDOM_UID_LEN 33
int random_uid(char out[RANDOM_UID_LEN]);
/* Number of entries of a NULL-terminated string vector. */
size_t strv_length(char *const *v);
/* Whether the NULL-terminated vector v (may be NULL) holds s. */
bool strv_contains(const char *const *v, const char *s);
/* Levenshtein distance, capped at 'max' + 1 (cheap "did you mean" checks). */
size_t str_edit_distance(const char *a, const char *b, size_t max);

/* ---- text encodings (text.c) --------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, at most U+10FFFF, no NUL), or 0. */
size_t utf8_sequence(const unsigned char *s, size_t len);
/* Whether s[0..len) is valid UTF-8 without NUL: what a JSON string holds. */
bool utf8_valid(const char *s, size_t len);
/* Replaces every byte that is not part of a valid sequence with '?'. */
void utf8_scrub(char *s, size_t len);
/* RFC 4648 base64 with padding; NUL-terminated, caller frees; NULL on OOM. */
char *base64_encode(const void *data, size_t len);
/* Decodes base64 (padding optional, no whitespace): *ret (NUL-terminated,
 * caller frees) and *ret_len. -EINVAL on a bad character or length, -ENOMEM. */
int base64_decode(const char *s, size_t len, char **ret, size_t *ret_len);

/* ---- errors ----------------------------------------------------------- */

#define BERTH_ERROR_MESSAGE_MAX 1024

/* What went wrong, for the user: our context first, then the remote message.
 * Example: "create container berth.default.web.1a2b3c4d.1: 404 No such image: x".
 * Functions taking a struct berth_error * accept NULL. */
struct berth_error {
        int code;        /* negative errno, same value the function returned */
        int http_status; /* status of the remote call that failed, 0 if none */
        char message[BERTH_ERROR_MESSAGE_MAX];
};

void berth_error_clear(struct berth_error *err);
/* Sets code and a formatted message; returns code (a negative errno) so that
 * callers can write: return berth_error_set(err, -EINVAL, "bad %s", x); */
int berth_error_set(struct berth_error *err, int code, const char *fmt, ...) _printf_(3, 4);
/* For a failed remote call: message becomes "<context>: <status> <remote>". */
int berth_error_set_http(struct berth_error *err, int code, int http_status, const char *remote,
                         const char *fmt, ...) _printf_(5, 6);
/* Prepends "<context>: " to the existing message (keeps code and status). */
void berth_error_prefix(struct berth_error *err, const char *fmt, ...) _printf_(2, 3);

/* ---- logging ---------------------------------------------------------- */

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

/* Process-wide settings (set once by main before threads start). out NULL = stderr. */
void log_setup(enum log_level level, enum log_format format, FILE *out);
int log_level_from_string(const char *s, enum log_level *ret_level);
int log_format_from_string(const char *s, enum log_format *ret_format);
const char *log_level_to_string(enum log_level level);
bool log_enabled(enum log_level level);
/* One line per call, thread-safe. Text: "2026-01-01T00:00:00.123Z info  <msg>";
 * JSON: {"time":...,"level":"info","msg":"<msg>"}. Messages are lowercase,
 * error first, then key=value fields. */
void log_printf(enum log_level level, const char *fmt, ...) _printf_(2, 3);
#define log_debug(...) log_printf(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_printf(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...)  log_printf(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_printf(LOG_LEVEL_ERROR, __VA_ARGS__)

/* ---- capped buffer ---------------------------------------------------- */

/* A growable buffer that refuses to grow past 'max' bytes (-E2BIG). data is
 * always NUL-terminated (the terminator is not counted in len nor in max). */
struct buf {
        char *data;
        size_t len;
        size_t cap;
        size_t max;
};

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
void buf_reset(struct buf *b); /* len = 0, keeps memory */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) _printf_(2, 3);
/* Hands the data over (caller frees; never NULL on success, "" when empty) and
 * leaves the buffer empty. NULL on allocation failure. */
char *buf_steal(struct buf *b);
/* Drops the first n bytes. */
void buf_consume(struct buf *b, size_t n);
static inline void buf_releasep(struct buf *b)
{
        buf_release(b);
}
#define _cleanup_buf_ _cleanup_(buf_releasep)

/* ---- time ------------------------------------------------------------- */

int64_t time_now_ms(void);  /* wall clock, ms since the epoch */
int64_t time_mono_ms(void); /* monotonic clock, ms */
#define RFC3339_MAX 40
/* "2026-01-01T00:00:00Z" (UTC, second precision, like Kubernetes). */
void time_format_rfc3339(int64_t unix_ms, char out[RFC3339_MAX]);
/* "2026-01-01T00:00:00.123Z": for requests written as annotations (a sync, a
 * retry), so that two in one second still differ. */
void time_format_rfc3339_ms(int64_t unix_ms, char out[RFC3339_MAX]);
/* Accepts fractions of any length (Docker gives nanoseconds) and Z or +hh:mm.
 * Docker's "0001-01-01T00:00:00Z" (never) parses to 0. */
int time_parse_rfc3339(const char *s, int64_t *ret_unix_ms);
/* "90s", "5m", "1h30m", "500ms", "2h", "1.5h", "0"; units ms s m h d. */
int duration_parse(const char *s, int64_t *ret_ms);
/* Shortest form that parses back: "1h30m", "45s", "250ms". */
void duration_format(int64_t ms, char *out, size_t size);
/* kubectl-style age of a duration: "12s", "5m", "3h", "2d", "1y". */
void age_format(int64_t ms, char *out, size_t size);
/* The monotonic time ms from now (negative counts as 0), for
 * pthread_cond_timedwait on a condition made by cond_init_monotonic. */
struct timespec;
void time_mono_deadline(struct timespec *ret, int64_t ms);
/* A condition variable whose timed waits use the monotonic clock, so that a
 * wall-clock step neither shortens nor stretches them. -errno on failure. */
int cond_init_monotonic(pthread_cond_t *cond);
/* Sleeps ms, resuming after signals. */
void sleep_ms(int64_t ms);

/* Calls fn (on a thread of its own) whenever the wall clock is set — a jump
 * forward or back, not its steady tick — so that delays computed from wall
 * time can be computed again. -errno when it cannot watch. */
struct clock_watch;
typedef void (*clock_watch_fn)(void *userdata);
int clock_watch_start(clock_watch_fn fn, void *userdata, struct clock_watch **ret);
/* Stops the thread; fn is not running and will not be called when it
 * returns. NULL ok. */
void clock_watch_stop(struct clock_watch *w);

/* ---- quantities ------------------------------------------------------- */

/* Bytes: plain integer, decimal suffixes k/K M G T P E, binary Ki Mi Gi Ti Pi Ei,
 * fractions allowed ("1.5Gi"). -EINVAL on junk, -ERANGE on overflow. */
int quantity_parse_bytes(const char *s, int64_t *ret_bytes);
/* CPU: "500m" = 500 millicpu, "0.5" = 500, "2" = 2000. */
int quantity_parse_millicpu(const char *s, int64_t *ret_millicpu);

/* ---- HTTP ------------------------------------------------------------- */

/* The Kubernetes-style reason of an HTTP status, as Status objects carry it:
 * 404 → "NotFound", 422 → "Invalid"; other 4xx "BadRequest", 5xx "InternalError". */
const char *http_status_reason(int code);

/* ---- files and sockets ------------------------------------------------ */

/* mkdir -p: creates path and its missing parents with mode. 0 when path is a
 * directory afterwards, -ENOTDIR when it exists as something else, -errno. */
int mkdir_p(const char *path, mode_t mode);
/* Makes a unix socket path free to bind: absent → 0; a socket nobody accepts
 * on any more (left by a crash) is removed → 1; -EADDRINUSE when a server
 * still answers on it, -EEXIST when it is not a socket, -ENAMETOOLONG when it
 * does not fit a sockaddr_un, other -errno. */
int unix_socket_clear_stale(const char *path);
/* The directory path resolved (realpath: "..", symbolic links) into *ret
 * (caller frees), if it lies inside one of roots (each resolved too; a root
 * that does not exist holds nothing). -EPERM when it lies outside all of
 * them, -ENOENT when it does not exist, -ENOTDIR when it is not a directory,
 * other -errno. */
int dir_resolve_within(const char *path, const char *const *roots, size_t n_roots, char **ret);

/* ---- interruptible sockets -------------------------------------------- */

/* The connection of a blocking transfer (a watch, an event stream) that
 * another thread must be able to end at once: interrupting shuts the socket
 * down, so a recv blocked on it returns, and no socket opens afterwards
 * (EINTR). Sticky. Meant for libcurl's OPENSOCKET/CLOSESOCKET callbacks
 * (its progress callback notices a flag only about once a second). */
struct socket_slot {
        pthread_mutex_t lock;
        int fd; /* -1: none open */
        bool interrupted;
};

void socket_slot_init(struct socket_slot *s);
void socket_slot_destroy(struct socket_slot *s);
/* socket(2) with SOCK_CLOEXEC, remembered in the slot; -1 with errno on
 * failure (EINTR once interrupted). */
int socket_slot_open(struct socket_slot *s, int family, int type, int protocol);
int socket_slot_close(struct socket_slot *s, int fd); /* close(2) */
void socket_slot_interrupt(struct socket_slot *s);
/* Shuts the open socket down (the call on it fails), not sticky: later
 * sockets open as usual. */
void socket_slot_shutdown(struct socket_slot *s);

/* ---- json helpers ----------------------------------------------------- */

/* Looks up a dotted path ("metadata.name", "spec.backoff.factor"); borrowed, NULL if absent. */
json_t *json_path(const json_t *root, const char *dotted);
/* String at path, or NULL if absent or not a string. Borrowed. */
const char *json_path_string(const json_t *root, const char *dotted);
/* Integer at path, or def if absent or not an integer. */
int64_t json_path_int(const json_t *root, const char *dotted, int64_t def);
/* Sets a value at a dotted path, creating intermediate objects; steals value. */
int json_path_set_new(json_t *root, const char *dotted, json_t *value);
/* NULL, or an object whose values are all strings (labels, build args). */
bool json_is_string_map(const json_t *j);
/* Deep equality that treats 1 and 1.0 as different, like json_equal. */
static inline bool json_same(const json_t *a, const json_t *b)
{
        return json_equal((json_t *)a, (json_t *)b);
}
