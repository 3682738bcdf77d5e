/* Connection settings: the config file (berthd writes one for its admin,
 * <data-dir>/admin.conf), the environment and the global flags, in that
 * order of increasing weight. Everything that can be checked without
 * connecting is checked here, so that a mistake is reported once, before
 * any request, and never with the token in it. */
#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>

#include "cli-internal.h"

static void free_secret(char **s)
{
        if (*s) {
                explicit_bzero(*s, strlen(*s));
                free(*s);
                *s = NULL;
        }
}

void cli_config_release(struct cli_config *c)
{
        free(c->file);
        free(c->server);
        free(c->certificate_authority);
        free(c->client_certificate);
        free(c->client_key);
        free_secret(&c->token);
        *c = (struct cli_config){0};
}

/* ---- parsing ---------------------------------------------------------------- */

enum key_type { KEY_TEXT, KEY_PATH, KEY_SECRET };

struct config_key {
        const char *name;
        enum key_type type;
        size_t offset; /* of the char * in struct cli_config */
};

static const struct config_key config_keys[] = {
    {"server", KEY_TEXT, offsetof(struct cli_config, server)},
    {"certificate-authority", KEY_PATH, offsetof(struct cli_config, certificate_authority)},
    {"client-certificate", KEY_PATH, offsetof(struct cli_config, client_certificate)},
    {"client-key", KEY_PATH, offsetof(struct cli_config, client_key)},
    {"token", KEY_SECRET, offsetof(struct cli_config, token)},
};

/* A token goes into an HTTP header as it is: printable ASCII without
 * blanks, so it can neither break the header nor add one. */
static bool token_valid(const char *t)
{
        size_t n = strlen(t);

        if (n == 0 || n > CLI_TOKEN_MAX)
                return false;
        for (const unsigned char *p = (const unsigned char *)t; *p; p++)
                if (*p <= 0x20 || *p >= 0x7f)
                        return false;
        return true;
}

#define TOKEN_RULE "printable ASCII without spaces, at most 4096 bytes"

static char *trim(char *s)
{
        while (isspace((unsigned char)*s))
                s++;
        size_t n = strlen(s);
        while (n > 0 && isspace((unsigned char)s[n - 1]))
                s[--n] = '\0';
        return s;
}

/* The value after "key:" (NUL-terminated in place): unquoted up to a " #"
 * comment, or between matching quotes with nothing but a comment after.
 * NULL with why set when the quotes do not close. */
static char *config_value(char *v, const char **why)
{
        v = trim(v);
        if (*v == '"' || *v == '\'') {
                char *close = strchr(v + 1, *v);
                if (!close) {
                        *why = "the quote does not close";
                        return NULL;
                }
                char *rest = trim(close + 1);
                if (*rest && *rest != '#') {
                        *why = "text after the closing quote";
                        return NULL;
                }
                *close = '\0';
                return v + 1;
        }
        for (char *p = v; *p; p++)
                if (*p == '#' && p > v && (p[-1] == ' ' || p[-1] == '\t')) {
                        *p = '\0';
                        break;
                }
        return trim(v);
}

/* A path of the file made usable from the current directory: relative
 * ones are relative to the file's directory. Caller frees. */
static char *config_path(const char *file, const char *value)
{
        const char *slash = strrchr(file, '/');

        if (value[0] == '/' || !slash)
                return strdup(value);
        return str_printf("%.*s/%s", (int)(slash - file), file, value);
}

int cli_config_parse(const char *text, size_t len, const char *file, struct cli_config *ret,
                     char *errbuf, size_t errsize)
{
        _cleanup_free_ char *copy = malloc(len + 1);
        bool seen[ARRAY_SIZE(config_keys)] = {0};
        size_t lineno = 0;
        int r = 0;

        if (!copy)
                return -ENOMEM;
        memcpy(copy, text, len);
        copy[len] = '\0';
        if (strlen(copy) != len) {
                snprintf(errbuf, errsize, "%s: not a text file (a NUL byte)", file);
                r = -EINVAL;
        }
        /* strsep, not strtok: empty lines still count for line numbers. */
        for (char *rest = copy, *line; r == 0 && (line = strsep(&rest, "\n"));) {
                lineno++;
                char *l = trim(line);
                if (!*l || *l == '#')
                        continue;
                char *colon = strchr(l, ':');
                size_t klen = strspn(l, "abcdefghijklmnopqrstuvwxyz"
                                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_");
                /* "server https://x" is no key "server https". */
                if (!colon || klen == 0 || klen != (size_t)(colon - l)) {
                        snprintf(errbuf, errsize, "%s:%zu: want \"key: value\"", file, lineno);
                        r = -EINVAL;
                        break;
                }
                *colon = '\0';
                const char *key = l;
                const struct config_key *k = NULL;
                for (size_t i = 0; i < ARRAY_SIZE(config_keys); i++)
                        if (streq(config_keys[i].name, key))
                                k = &config_keys[i];
                if (!k)
                        continue; /* a newer berth's key */
                const char *why = NULL;
                char *v = config_value(colon + 1, &why);
                if (!v) {
                        snprintf(errbuf, errsize, "%s:%zu: %s: %s", file, lineno, k->name, why);
                        r = -EINVAL;
                } else if (seen[k - config_keys]) {
                        snprintf(errbuf, errsize, "%s:%zu: %s is set twice", file, lineno, k->name);
                        r = -EINVAL;
                } else if (!*v) {
                        snprintf(errbuf, errsize, "%s:%zu: %s has no value", file, lineno, k->name);
                        r = -EINVAL;
                } else if (k->type == KEY_SECRET && !token_valid(v)) {
                        snprintf(errbuf, errsize, "%s:%zu: invalid token: want " TOKEN_RULE, file,
                                 lineno);
                        r = -EINVAL;
                }
                if (r < 0)
                        break;
                seen[k - config_keys] = true;
                char **slot = (char **)((char *)ret + k->offset);
                *slot = k->type == KEY_PATH ? config_path(file, v) : strdup(v);
                if (!*slot)
                        r = -ENOMEM;
        }
        explicit_bzero(copy, len); /* it held the token */
        if (r == -ENOMEM)
                snprintf(errbuf, errsize, "out of memory");
        return r;
}

/* ---- the file ---------------------------------------------------------------- */

/* Reads and parses path into ret. -ENOENT when it does not exist (message
 * only when explicit), other -errno with the message in errbuf. */
static int config_load(const char *path, bool explicit, struct cli_config *ret, char *errbuf,
                       size_t errsize)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_buf_ struct buf b = {0};
        char chunk[4096];
        int r;

        if (fd < 0) {
                r = -errno;
                if (!explicit && (r == -ENOENT || r == -ENOTDIR))
                        return -ENOENT;
                snprintf(errbuf, errsize, "cannot read config file %s: %s", path, strerror(-r));
                return r;
        }
        buf_init(&b, CLI_CONFIG_MAX);
        for (;;) {
                ssize_t k = read(fd, chunk, sizeof(chunk));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        r = -errno;
                        snprintf(errbuf, errsize, "cannot read config file %s: %s", path,
                                 strerror(-r));
                        return r;
                }
                if (k == 0)
                        break;
                if (buf_append(&b, chunk, (size_t)k) < 0) {
                        explicit_bzero(chunk, sizeof(chunk));
                        snprintf(errbuf, errsize, "config file %s is larger than %d KiB", path,
                                 CLI_CONFIG_MAX / 1024);
                        return -EFBIG;
                }
        }
        explicit_bzero(chunk, sizeof(chunk));
        r = cli_config_parse(b.data ? b.data : "", b.len, path, ret, errbuf, errsize);
        if (b.data)
                explicit_bzero(b.data, b.len);
        if (r < 0)
                return r;
        ret->file = strdup(path);
        return ret->file ? 0 : -ENOMEM;
}

/* The file to read: --config, $BERTH_CONFIG, or the default one. Caller
 * frees; NULL when there is none (no HOME) or memory ran out (*ret_r). */
static char *config_file(const struct cli_conn_flags *flags, bool *ret_explicit, int *ret_r)
{
        const char *env = getenv(CLI_CONFIG_ENV);
        const char *xdg = getenv("XDG_CONFIG_HOME");
        const char *home = getenv("HOME");
        char *path = NULL;

        *ret_explicit = true;
        *ret_r = 0;
        if (flags->config && *flags->config)
                path = strdup(flags->config);
        else if (env && *env)
                path = strdup(env);
        else {
                *ret_explicit = false;
                if (xdg && *xdg)
                        path = str_printf("%s/berth/config", xdg);
                else if (home && *home)
                        path = str_printf("%s/.config/berth/config", home);
                else
                        return NULL;
        }
        if (!path)
                *ret_r = -ENOMEM;
        return path;
}

/* *slot = the flag's value when given, else the environment's. */
static int override(char **slot, const char *flag, const char *env_name, bool secret)
{
        const char *env = env_name ? getenv(env_name) : NULL;
        const char *v = flag && *flag ? flag : env && *env ? env : NULL;

        if (!v)
                return 0;
        char *copy = strdup(v);
        if (!copy)
                return -ENOMEM;
        if (secret)
                free_secret(slot);
        else
                free(*slot);
        *slot = copy;
        return 0;
}

/* ---- checks ------------------------------------------------------------------ */

static bool host_is_loopback(const char *host)
{
        unsigned char addr[sizeof(struct in6_addr)];
        char h[256];
        size_t n = strlen(host);

        /* "[::1]" as URLs write it. */
        if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
                host++;
                n -= 2;
        }
        if (n == 0 || n >= sizeof(h))
                return false;
        memcpy(h, host, n);
        h[n] = '\0';
        if (strcasecmp(h, "localhost") == 0 || strcasecmp(h, "localhost.") == 0)
                return true;
        if (inet_pton(AF_INET, h, addr) == 1)
                return addr[0] == 127;
        if (inet_pton(AF_INET6, h, addr) == 1)
                return IN6_IS_ADDR_LOOPBACK((struct in6_addr *)addr);
        return false;
}

bool cli_token_transport_ok(const char *server)
{
        if (str_has_prefix(server, "https://") || str_has_prefix(server, "unix://"))
                return true;
        if (!str_has_prefix(server, "http://"))
                return false;

        CURLU *u = curl_url();
        char *host = NULL;
        bool ok = false;

        if (u && curl_url_set(u, CURLUPART_URL, server, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
                ok = host_is_loopback(host);
        curl_free(host);
        curl_url_cleanup(u);
        return ok;
}

static int config_check(const struct cli_config *c, bool token_from_flag, char *errbuf,
                        size_t errsize)
{
        const char *s = c->server;

        if (str_has_prefix(s, "unix://")) {
                if (s[strlen("unix://")] != '/') {
                        snprintf(errbuf, errsize,
                                 "invalid server address \"%s\": want unix:///absolute/path", s);
                        return -EINVAL;
                }
        } else if (!str_has_prefix(s, "http://") && !str_has_prefix(s, "https://")) {
                snprintf(errbuf, errsize,
                         "invalid server address \"%s\": want unix:///path/to.sock or "
                         "http(s)://host:port",
                         s);
                return -EINVAL;
        }
        if (c->token && !token_valid(c->token)) {
                snprintf(errbuf, errsize, "invalid token (from %s): want " TOKEN_RULE,
                         token_from_flag ? "--token" : "$" CLI_TOKEN_ENV);
                return -EINVAL;
        }
        if (c->token && !cli_token_transport_ok(s)) {
                snprintf(errbuf, errsize,
                         "refusing to send the token in clear text to %s: use https:// (or a "
                         "unix socket, or http to a loopback address)",
                         s);
                return -EPERM;
        }
        if (c->client_key && !c->client_certificate) {
                snprintf(errbuf, errsize, "client-key %s is given without a client-certificate",
                         c->client_key);
                return -EINVAL;
        }
        return 0;
}

int cli_config_resolve(const struct cli_conn_flags *flags, struct cli_config *ret, char *errbuf,
                       size_t errsize)
{
        _cleanup_(cli_config_release) struct cli_config c = {0};
        _cleanup_free_ char *path = NULL;
        bool explicit = false;
        int r;

        path = config_file(flags, &explicit, &r);
        if (r < 0)
                goto oom;
        if (path) {
                r = config_load(path, explicit, &c, errbuf, errsize);
                if (r == -ENOENT && !explicit) {
                        cli_config_release(&c);
                } else if (r < 0) {
                        if (r == -ENOMEM)
                                goto oom;
                        return r;
                }
        }
        if (override(&c.server, flags->server, CLI_SERVER_ENV, false) < 0 ||
            override(&c.token, flags->token, CLI_TOKEN_ENV, true) < 0 ||
            override(&c.certificate_authority, flags->certificate_authority, NULL, false) < 0 ||
            override(&c.client_certificate, flags->client_certificate, NULL, false) < 0 ||
            override(&c.client_key, flags->client_key, NULL, false) < 0)
                goto oom;
        if (!c.server && !(c.server = strdup(CLI_DEFAULT_SERVER)))
                goto oom;
        r = config_check(&c, flags->token && *flags->token, errbuf, errsize);
        if (r < 0)
                return r;
        cli_config_release(ret);
        *ret = c;
        c = (struct cli_config){0};
        return 0;
oom:
        snprintf(errbuf, errsize, "out of memory");
        return -ENOMEM;
}

int cli_ctx_config(struct cli_ctx *ctx)
{
        char errbuf[512];

        if (ctx->conf_result == 0) {
                int r = cli_config_resolve(&ctx->flags, &ctx->conf, errbuf, sizeof(errbuf));
                if (r < 0)
                        fprintf(ctx->err, "berth: %s\n", errbuf);
                ctx->conf_result = r < 0 ? r : 1;
        }
        return ctx->conf_result < 0 ? ctx->conf_result : 0;
}
