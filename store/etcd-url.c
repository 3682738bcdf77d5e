/* store etcd URL: what an etcd:// or etcds:// URL says (endpoints, TLS and
 * authentication options, see etcd-internal.h) and the files it names.
 *
 * Parsing does no I/O. Messages show the URL without its options and name an
 * option, never its value; a password is read from its file or the environment
 * only, so it is never part of the URL nor of a message.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "etcd-internal.h"

#define ETCD_ENDPOINTS_MAX    16
#define ETCD_OPTION_VALUE_MAX 4096
#define ETCD_PASSWORD_MAX     1024

/* ---- endpoints -------------------------------------------------------------- */

static bool valid_port(const char *p)
{
        if (!*p || strlen(p) > 5)
                return false;
        for (const char *c = p; *c; c++)
                if (*c < '0' || *c > '9')
                        return false;
        long v = strtol(p, NULL, 10);
        return v >= 1 && v <= 65535;
}

static bool valid_endpoint(const char *ep)
{
        const char *colon = strrchr(ep, ':');
        if (!colon || colon == ep || !valid_port(colon + 1))
                return false;
        size_t host_len = (size_t)(colon - ep);
        if (ep[0] == '[') {
                if (host_len < 3 || ep[host_len - 1] != ']')
                        return false;
        } else if (memchr(ep, ':', host_len)) {
                return false; /* a bare IPv6 address needs brackets */
        }
        /* Nothing that would change the meaning of the URL we build. */
        for (size_t i = 0; i < host_len; i++) {
                unsigned char c = (unsigned char)ep[i];
                if (c <= ' ' || c >= 0x7f || strchr("/?#@\\%\"", c))
                        return false;
        }
        return true;
}

int etcd_parse_endpoints(const char *location, char ***ret)
{
        if (!location || !*location)
                return -EINVAL;
        _cleanup_free_ char *copy = strdup(location);
        if (!copy)
                return -ENOMEM;
        _cleanup_strv_ char **v = calloc(ETCD_ENDPOINTS_MAX + 1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        size_t n = 0;
        char *p = copy;
        for (;;) {
                char *comma = strchr(p, ',');
                if (comma)
                        *comma = '\0';
                if (n == ETCD_ENDPOINTS_MAX || !valid_endpoint(p))
                        return -EINVAL;
                v[n] = strdup(p);
                if (!v[n])
                        return -ENOMEM;
                n++;
                if (!comma)
                        break;
                p = comma + 1;
        }
        *ret = TAKE_PTR(v);
        return 0;
}

/* ---- URL -------------------------------------------------------------------- */

static const char *const url_option_names[] = {"cacert", "cert", "key", "user", "password-file"};
#define URL_OPTIONS_KNOWN "cacert, cert, key, user, password-file"

void etcd_url_release(struct etcd_url *u)
{
        if (!u)
                return;
        strv_free(u->endpoints);
        free(u->cacert);
        free(u->cert);
        free(u->key);
        free(u->user);
        free(u->password_file);
        *u = (struct etcd_url){0};
}

char *etcd_url_display(const char *url)
{
        size_t n = strcspn(url, "?");
        if (n > 0 && url[n - 1] == '/')
                n--;
        return strndup(url, n);
}

/* One "name=value" of the query. Messages name the option, never its value. */
static int url_option(struct etcd_url *u, const char *where, const char *opt, size_t len,
                      struct berth_error *err)
{
        const char *eq = memchr(opt, '=', len);
        size_t name_len = eq ? (size_t)(eq - opt) : len;
        char **slots[] = {&u->cacert, &u->cert, &u->key, &u->user, &u->password_file};
        _Static_assert(ARRAY_SIZE(slots) == ARRAY_SIZE(url_option_names), "one slot per option");
        size_t i = 0;
        while (i < ARRAY_SIZE(slots) && !(strlen(url_option_names[i]) == name_len &&
                                          memcmp(url_option_names[i], opt, name_len) == 0))
                i++;
        if (i == ARRAY_SIZE(slots))
                return berth_error_set(
                    err, -EINVAL, "store %s: unknown option %.*s (known: " URL_OPTIONS_KNOWN ")",
                    where, (int)(name_len > 64 ? 64 : name_len), opt);
        const char *name = url_option_names[i];
        if (*slots[i])
                return berth_error_set(err, -EINVAL, "store %s: option %s given twice", where,
                                       name);
        size_t value_len = eq ? len - name_len - 1 : 0;
        if (value_len == 0)
                return berth_error_set(err, -EINVAL, "store %s: option %s needs a value (%s=...)",
                                       where, name, name);
        if (value_len > ETCD_OPTION_VALUE_MAX)
                return berth_error_set(err, -EINVAL, "store %s: option %s is longer than %d bytes",
                                       where, name, ETCD_OPTION_VALUE_MAX);
        int r = percent_decode(eq + 1, value_len, false, slots[i]);
        if (r == -ENOMEM)
                return berth_error_set(err, r, "store %s: out of memory", where);
        if (r < 0)
                return berth_error_set(err, r, "store %s: option %s: bad percent-encoding", where,
                                       name);
        return 0;
}

int etcd_url_parse(const char *url, struct etcd_url *ret, struct berth_error *err)
{
        _cleanup_(etcd_url_release) struct etcd_url u = {0};
        const char *rest;
        if (str_has_prefix(url, "etcds://")) {
                u.tls = true;
                rest = url + strlen("etcds://");
        } else if (str_has_prefix(url, "etcd://")) {
                rest = url + strlen("etcd://");
        } else {
                return berth_error_set(err, -EINVAL,
                                       "store: not an etcd URL (expected etcd://host:port or "
                                       "etcds://host:port)");
        }
        const char *scheme = u.tls ? "etcds" : "etcd";
        size_t loc_len = strcspn(rest, "?");
        if (memchr(rest, '@', loc_len))
                /* Not echoed: "user:password@host" would show the password. */
                return berth_error_set(err, -EINVAL,
                                       "store %s://: credentials in the URL are not supported "
                                       "(use ?user=NAME&password-file=PATH)",
                                       scheme);
        _cleanup_free_ char *where = etcd_url_display(url);
        _cleanup_free_ char *loc = strndup(rest, loc_len);
        if (!where || !loc)
                return berth_error_set(err, -ENOMEM, "store %s://: out of memory", scheme);
        /* "etcd://h:p/" is accepted as well as "etcd://h:p". */
        if (loc_len > 0 && loc[loc_len - 1] == '/')
                loc[loc_len - 1] = '\0';
        int r = etcd_parse_endpoints(loc, &u.endpoints);
        if (r == -ENOMEM)
                return berth_error_set(err, r, "store %s: out of memory", where);
        if (r < 0)
                return berth_error_set(err, r,
                                       "store %s: bad endpoint list (expected "
                                       "%s://host:port[,host:port...], at most %d)",
                                       where, scheme, ETCD_ENDPOINTS_MAX);
        for (const char *p = rest[loc_len] == '?' ? rest + loc_len + 1 : NULL; p;) {
                const char *amp = strchr(p, '&');
                size_t len = amp ? (size_t)(amp - p) : strlen(p);
                if (len > 0 && (r = url_option(&u, where, p, len, err)) < 0)
                        return r;
                p = amp ? amp + 1 : NULL;
        }
        if (!u.tls && (u.cacert || u.cert || u.key))
                return berth_error_set(err, -EINVAL,
                                       "store %s: cacert, cert and key are TLS options: use "
                                       "etcds://",
                                       where);
        if (u.cert && !u.key)
                return berth_error_set(err, -EINVAL,
                                       "store %s: client certificate %s without its key (add "
                                       "key=PATH)",
                                       where, u.cert);
        if (u.key && !u.cert)
                return berth_error_set(err, -EINVAL,
                                       "store %s: client key %s without its certificate (add "
                                       "cert=PATH)",
                                       where, u.key);
        if (u.password_file && !u.user)
                return berth_error_set(
                    err, -EINVAL, "store %s: password-file without user (add user=NAME)", where);
        *ret = u;
        u = (struct etcd_url){0};
        return 0;
}

/* ---- the files the URL names ------------------------------------------------ */

/* Opens path to see that it can be read now, rather than at the first request. */
static int check_readable(const char *where, const char *what, const char *path,
                          struct berth_error *err)
{
        char msg[128];
        /* O_NONBLOCK: a FIFO must not hang the open. */
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
                int e = errno;
                errno_text(e, msg);
                return berth_error_set(err, -e, "store %s: %s %s: %s", where, what, path, msg);
        }
        if (S_ISDIR(st.st_mode))
                return berth_error_set(err, -EISDIR, "store %s: %s %s: is a directory", where, what,
                                       path);
        return 0;
}

/* The first line of the password file, without its line end. */
static int read_password(const char *where, const char *path, char **ret, struct berth_error *err)
{
        int r = check_readable(where, "password-file", path, err);
        if (r < 0)
                return r;
        char msg[128];
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                int e = errno;
                errno_text(e, msg);
                return berth_error_set(err, -e, "store %s: password-file %s: %s", where, path, msg);
        }
        char buf[ETCD_PASSWORD_MAX + 2];
        size_t n = 0;
        while (n < sizeof(buf)) {
                ssize_t k = read(fd, buf + n, sizeof(buf) - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        int e = errno;
                        explicit_bzero(buf, sizeof(buf));
                        errno_text(e, msg);
                        return berth_error_set(err, -e, "store %s: password-file %s: %s", where,
                                               path, msg);
                }
                if (k == 0)
                        break;
                n += (size_t)k;
        }
        size_t len = 0;
        while (len < n && buf[len] != '\n')
                len++;
        if (len > 0 && buf[len - 1] == '\r')
                len--;
        bool nul = memchr(buf, '\0', len) != NULL;
        explicit_bzero(buf + len, sizeof(buf) - len);
        if (len == 0 || len > ETCD_PASSWORD_MAX || nul) {
                explicit_bzero(buf, sizeof(buf));
                if (len > ETCD_PASSWORD_MAX)
                        return berth_error_set(err, -EINVAL,
                                               "store %s: password-file %s: password longer "
                                               "than %d bytes",
                                               where, path, ETCD_PASSWORD_MAX);
                return berth_error_set(err, -EINVAL, "store %s: password-file %s: %s", where, path,
                                       nul ? "NUL byte in the password" : "empty first line");
        }
        char *p = strndup(buf, len);
        explicit_bzero(buf, sizeof(buf));
        if (!p)
                return berth_error_set(err, -ENOMEM, "store %s: out of memory", where);
        *ret = p;
        return 0;
}

int etcd_url_resolve(const struct etcd_url *u, const char *where, char **ret_password,
                     struct berth_error *err)
{
        const char *what[] = {"cacert", "cert", "key"};
        const char *paths[] = {u->cacert, u->cert, u->key};
        int r;
        for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
                if (paths[i] && (r = check_readable(where, what[i], paths[i], err)) < 0)
                        return r;
        _cleanup_(secret_freep) char *password = NULL;
        if (u->password_file) {
                r = read_password(where, u->password_file, &password, err);
                if (r < 0)
                        return r;
        } else if (u->user) {
                const char *env = getenv("BERTH_ETCD_PASSWORD");
                if (!env || !*env)
                        return berth_error_set(err, -EINVAL,
                                               "store %s: user %s needs a password: add "
                                               "password-file=PATH or set BERTH_ETCD_PASSWORD",
                                               where, u->user);
                password = strdup(env);
                if (!password)
                        return berth_error_set(err, -ENOMEM, "store %s: out of memory", where);
        }
        *ret_password = TAKE_PTR(password);
        return 0;
}
