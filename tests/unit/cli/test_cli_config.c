/* Unit tests of how berth reaches berthd: the config file's syntax, which
 * file and which value wins (flags, environment, file), the token's way
 * into the Authorization header and never into a message, and TLS against
 * the fake's https listener (CA, client certificate, the errors). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include "cli-internal.h"
#include "cli-test.h"

#define TOKEN      "ops.s3cr3t-T0ken_value"
#define WHOAMI     "/apis/berth/v1/auth/whoami"
#define WHOAMI_ANS "{\"user\":\"alice\",\"groups\":[\"dev\"],\"authenticatedBy\":\"token\"}"

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

/* cli_config_parse of text as file; returns its result, errbuf filled. */
static int parse(const char *text, const char *file, struct cli_config *c, char *errbuf,
                 size_t size)
{
        cli_config_release(c);
        errbuf[0] = '\0';
        return cli_config_parse(text, strlen(text), file, c, errbuf, size);
}

/* ---- the file's syntax ------------------------------------------------------ */

static void test_parse(void **state)
{
        (void)state;
        struct cli_config c = {0};
        char err[512];

        assert_int_equal(parse("# written by berthd\n"
                               "\n"
                               "server: https://127.0.0.1:7443\n"
                               "certificate-authority: /var/lib/berth/tls/ca.crt\n"
                               "token: \"" TOKEN "\"\r\n"
                               "kind: Config   \n"
                               "  client-certificate: 'certs/me.crt'  # mine\n"
                               "client-key: me.key # comment\n",
                               "/etc/berth/admin.conf", &c, err, sizeof(err)),
                         0);
        assert_string_equal(c.server, "https://127.0.0.1:7443");
        assert_string_equal(c.certificate_authority, "/var/lib/berth/tls/ca.crt");
        assert_string_equal(c.token, TOKEN);
        /* Relative paths are the file's directory's. */
        assert_string_equal(c.client_certificate, "/etc/berth/certs/me.crt");
        assert_string_equal(c.client_key, "/etc/berth/me.key");
        assert_null(c.file); /* only cli_config_resolve names the file */

        /* A file in the current directory keeps relative paths as they are;
         * "#" inside a value is no comment. */
        assert_int_equal(
            parse("client-certificate: a#b.crt\nserver: unix:///x\n", "conf", &c, err, sizeof(err)),
            0);
        assert_string_equal(c.client_certificate, "a#b.crt");
        assert_null(c.token);

        static const struct {
                const char *text;
                const char *err;
        } bad[] = {
            {"server https://x\n", "f.conf:1: want \"key: value\""},
            {"\n\n: x\n", "f.conf:3: want \"key: value\""},
            {"server: a\nserver: b\n", "f.conf:2: server is set twice"},
            {"token:\n", "f.conf:1: token has no value"},
            {"server: \"\"\n", "f.conf:1: server has no value"},
            {"server: \"https://x\n", "f.conf:1: server: the quote does not close"},
            {"server: 'https://x' y\n", "f.conf:1: server: text after the closing quote"},
            {"token: a b\n", "f.conf:1: invalid token: want printable ASCII without spaces"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                if (parse(bad[i].text, "f.conf", &c, err, sizeof(err)) != -EINVAL ||
                    !strstr(err, bad[i].err))
                        fail_msg("case %zu: %s", i, err);
        }
        /* A NUL byte: not a config file. */
        cli_config_release(&c);
        assert_int_equal(cli_config_parse("server: x\0y", 11, "f.conf", &c, err, sizeof(err)),
                         -EINVAL);
        assert_non_null(strstr(err, "NUL"));

        /* A bad token is never echoed. */
        assert_int_equal(parse("token: se\x01cret-part\n", "f.conf", &c, err, sizeof(err)),
                         -EINVAL);
        assert_null(strstr(err, "cret-part"));
        cli_config_release(&c);
        cli_config_release(&c);
}

/* ---- which file, which value ---------------------------------------------------- */

struct dirs {
        char home[64];      /* $XDG_CONFIG_HOME */
        char path[160];     /* its berth/config */
        char explicit[160]; /* another config file */
};

static void dirs_setup(struct dirs *d)
{
        char sub[128];

        str_copy(d->home, sizeof(d->home), "/tmp/berth-cli-conf.XXXXXX");
        assert_non_null(mkdtemp(d->home));
        snprintf(sub, sizeof(sub), "%s/berth", d->home);
        assert_int_equal(mkdir(sub, 0700), 0);
        snprintf(d->path, sizeof(d->path), "%s/config", sub);
        snprintf(d->explicit, sizeof(d->explicit), "%s/admin.conf", d->home);
        setenv("XDG_CONFIG_HOME", d->home, 1);
}

static void dirs_teardown(struct dirs *d)
{
        unlink(d->path);
        unlink(d->explicit);
        char sub[128];
        snprintf(sub, sizeof(sub), "%s/berth", d->home);
        rmdir(sub);
        rmdir(d->home);
        setenv("XDG_CONFIG_HOME", "/nonexistent", 1);
}

static int resolve(const struct cli_conn_flags *flags, struct cli_config *c, char *err, size_t size)
{
        err[0] = '\0';
        return cli_config_resolve(flags, c, err, size);
}

static void test_resolve(void **state)
{
        (void)state;
        struct dirs d;
        struct cli_config c = {0};
        char err[512];

        dirs_setup(&d);

        /* No file at all: the default socket, nothing else. */
        assert_int_equal(resolve(&(struct cli_conn_flags){0}, &c, err, sizeof(err)), 0);
        assert_string_equal(c.server, CLI_DEFAULT_SERVER);
        assert_null(c.file);
        assert_null(c.token);

        /* The default file. */
        write_file(d.path, "server: https://10.0.0.1:7443\ntoken: " TOKEN "\n"
                           "certificate-authority: ca.crt\n");
        assert_int_equal(resolve(&(struct cli_conn_flags){0}, &c, err, sizeof(err)), 0);
        assert_string_equal(c.file, d.path);
        assert_string_equal(c.server, "https://10.0.0.1:7443");
        assert_string_equal(c.token, TOKEN);
        char want[256];
        snprintf(want, sizeof(want), "%s/berth/ca.crt", d.home);
        assert_string_equal(c.certificate_authority, want);

        /* $BERTH_CONFIG beats it, --config beats both. */
        write_file(d.explicit, "server: unix:///run/other.sock\n");
        setenv("BERTH_CONFIG", d.explicit, 1);
        assert_int_equal(resolve(&(struct cli_conn_flags){0}, &c, err, sizeof(err)), 0);
        assert_string_equal(c.server, "unix:///run/other.sock");
        assert_null(c.token);
        assert_int_equal(resolve(&(struct cli_conn_flags){.config = d.path}, &c, err, sizeof(err)),
                         0);
        assert_string_equal(c.server, "https://10.0.0.1:7443");

        /* A file named explicitly must exist; the message names it. */
        setenv("BERTH_CONFIG", "/nonexistent/admin.conf", 1);
        assert_int_equal(resolve(&(struct cli_conn_flags){0}, &c, err, sizeof(err)), -ENOENT);
        assert_string_equal(err, "cannot read config file /nonexistent/admin.conf: No such file "
                                 "or directory");
        /* ... and on failure the earlier result is left alone. */
        assert_string_equal(c.server, "https://10.0.0.1:7443");
        unsetenv("BERTH_CONFIG");
        assert_int_equal(
            resolve(&(struct cli_conn_flags){.config = "/nonexistent/x"}, &c, err, sizeof(err)),
            -ENOENT);
        assert_non_null(strstr(err, "/nonexistent/x"));

        /* Flags and the environment beat the file. */
        setenv("BERTH_TOKEN", "env.token", 1);
        setenv("BERTH_SERVER", "https://env:1", 1);
        assert_int_equal(resolve(&(struct cli_conn_flags){.certificate_authority = "/x/ca.pem",
                                                          .client_certificate = "c.pem",
                                                          .client_key = "k.pem"},
                                 &c, err, sizeof(err)),
                         0);
        assert_string_equal(c.server, "https://env:1");
        assert_string_equal(c.token, "env.token");
        assert_string_equal(c.certificate_authority, "/x/ca.pem");
        assert_string_equal(c.client_certificate, "c.pem"); /* a flag's: from the cwd */
        assert_string_equal(c.client_key, "k.pem");
        assert_int_equal(
            resolve(&(struct cli_conn_flags){.server = "https://flag:2", .token = "flag.token"}, &c,
                    err, sizeof(err)),
            0);
        assert_string_equal(c.server, "https://flag:2");
        assert_string_equal(c.token, "flag.token");
        unsetenv("BERTH_SERVER");
        unsetenv("BERTH_TOKEN");

        /* Checked before any request. */
        static const struct {
                struct cli_conn_flags flags;
                int r;
                const char *err;
        } bad[] = {
            {{.server = "ftp://x"}, -EINVAL, "invalid server address \"ftp://x\""},
            {{.server = "unix://relative.sock"}, -EINVAL, "want unix:///absolute/path"},
            {{.server = "http://berth.example.com:7080", .token = TOKEN},
             -EPERM,
             "refusing to send the token in clear text to http://berth.example.com:7080: use "
             "https://"},
            {{.token = "a\r\nX-Evil: 1"}, -EINVAL, "invalid token (from --token)"},
            {{.client_key = "k.pem"},
             -EINVAL,
             "client-key k.pem is given without a client-certificate"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                int r = resolve(&bad[i].flags, &c, err, sizeof(err));
                if (r != bad[i].r || !strstr(err, bad[i].err))
                        fail_msg("case %zu: %d %s", i, r, err);
                assert_null(strstr(err, "s3cr3t"));
                assert_null(strstr(err, "Evil"));
        }
        /* A token in a file bound for clear text is refused the same way. */
        write_file(d.path, "server: http://10.1.2.3:7080\ntoken: " TOKEN "\n");
        assert_int_equal(resolve(&(struct cli_conn_flags){0}, &c, err, sizeof(err)), -EPERM);
        assert_null(strstr(err, "s3cr3t"));
        setenv("BERTH_TOKEN", "bad token", 1);
        assert_int_equal(
            resolve(&(struct cli_conn_flags){.server = "unix:///x"}, &c, err, sizeof(err)),
            -EINVAL);
        assert_string_equal(err, "invalid token (from $BERTH_TOKEN): want printable ASCII "
                                 "without spaces, at most 4096 bytes");
        unsetenv("BERTH_TOKEN");

        /* A file larger than the cap. */
        FILE *big = fopen(d.path, "w");
        assert_non_null(big);
        for (int i = 0; i < CLI_CONFIG_MAX / 16 + 1; i++)
                fputs("# padding......\n", big);
        fclose(big);
        assert_int_equal(resolve(&(struct cli_conn_flags){0}, &c, err, sizeof(err)), -EFBIG);
        assert_non_null(strstr(err, "is larger than 64 KiB"));

        cli_config_release(&c);
        dirs_teardown(&d);
}

static void test_token_transport(void **state)
{
        (void)state;
        static const struct {
                const char *url;
                bool ok;
        } cases[] = {
            {"https://berth.example.com:7443", true},
            {"unix:///run/berth/berth.sock", true},
            {"http://127.0.0.1:7080", true},
            {"http://127.8.9.10", true},
            {"http://localhost:7080/", true},
            {"http://LOCALHOST:1", true},
            {"http://[::1]:7080", true},
            {"http://10.0.0.1:7080", false},
            {"http://128.0.0.1", false},
            {"http://localhost.example.com", false},
            {"http://127.0.0.1.nip.io", false},
            {"http://[::2]:1", false},
            {"http://user@evil.example.com", false},
            {"ftp://127.0.0.1", false},
            {"http://", false},
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
                if (cli_token_transport_ok(cases[i].url) != cases[i].ok)
                        fail_msg("%s: want %d", cases[i].url, cases[i].ok);
}

/* ---- the token on the wire --------------------------------------------------------- */

static void test_token_header(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        char conf[256];
        char *auth;

        /* No token: no header. */
        fake_reset(f);
        fake_route(f, "GET", WHOAMI, 200, WHOAMI_ANS);
        run(&c, "--server", f->url, "auth", "whoami", NULL);
        assert_int_equal(c.rc, 0);
        assert_null(fake_header(f, 0, "Authorization"));

        /* --token over the unix socket. */
        fake_reset(f);
        fake_route(f, "GET", WHOAMI, 200, WHOAMI_ANS);
        run(&c, "--server", f->url, "--token", TOKEN, "auth", "whoami", NULL);
        assert_int_equal(c.rc, 0);
        auth = fake_header(f, 0, "Authorization");
        assert_string_equal(auth, "Bearer " TOKEN);
        free(auth);

        /* $BERTH_TOKEN, over plain http to loopback. */
        fake_reset(f);
        fake_route(f, "GET", WHOAMI, 200, WHOAMI_ANS);
        setenv("BERTH_TOKEN", "env.token", 1);
        run(&c, "--server", f->http_url, "auth", "whoami", NULL);
        unsetenv("BERTH_TOKEN");
        assert_int_equal(c.rc, 0);
        auth = fake_header(f, 0, "Authorization");
        assert_string_equal(auth, "Bearer env.token");
        free(auth);

        /* From a config file (--config), every request of the run. */
        snprintf(conf, sizeof(conf), "%s/admin.conf", f->dir);
        write_file(conf, "# berthd's admin config\nserver: ");
        FILE *fp = fopen(conf, "a");
        fprintf(fp, "%s\ntoken: %s\n", f->url, TOKEN);
        fclose(fp);
        fake_reset(f);
        fake_route(f, "GET", "/apis/berth/v1/namespaces/default/tasks/a", 200,
                   "{\"kind\":\"Task\",\"metadata\":{\"name\":\"a\"}}");
        fake_route(f, "GET", "/apis/berth/v1/namespaces/default/tasks/b", 200,
                   "{\"kind\":\"Task\",\"metadata\":{\"name\":\"b\"}}");
        run(&c, "--config", conf, "get", "tasks", "a", "b", "-o", "name", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "task/a\ntask/b\n");
        for (size_t i = 0; i < 2; i++) {
                auth = fake_header(f, i, "Authorization");
                assert_string_equal(auth, "Bearer " TOKEN);
                free(auth);
        }

        /* Clear text to another host: refused before connecting, once, and
         * the token is in no message. */
        fake_reset(f);
        run(&c, "--server", "http://192.0.2.1:7080", "--token", TOKEN, "get", "task", "a", "b",
            NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "berth: refusing to send the token in clear text to "
                                   "http://192.0.2.1:7080: use https:// (or a unix socket, or "
                                   "http to a loopback address)\n");
        assert_int_equal(f->requests, 0);

        /* An explicit config file that is missing. */
        run(&c, "--config", "/nonexistent/admin.conf", "auth", "whoami", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "berth: cannot read config file /nonexistent/admin.conf: No "
                                   "such file or directory\n");
        /* Commands that do not talk to berthd do not read it. */
        run(&c, "--config", "/nonexistent/admin.conf", "cron", "next", "@daily", "-n", "1", NULL);
        assert_int_equal(c.rc, 0);

        /* An error from the server does not echo the token either. */
        fake_reset(f);
        fake_route(f, "GET", WHOAMI, 401,
                   "{\"kind\":\"Status\",\"code\":401,\"reason\":\"Unauthorized\","
                   "\"message\":\"invalid or expired token\"}");
        run(&c, "--server", f->url, "--token", TOKEN, "auth", "whoami", NULL);
        assert_int_equal(c.rc, 1);
        assert_string_equal(c.err, "Error from server (Unauthorized): invalid or expired token\n");
        assert_null(strstr(c.out, "s3cr3t"));
        unlink(conf);
        capture_release(&c);
}

/* ---- TLS ---------------------------------------------------------------------------- */

static void test_tls(void **state)
{
        struct fake *f = *state;
        struct capture c = {0};
        char ca[256], other[256], crt[256], key[256], conf[256];
        char *auth;

        snprintf(ca, sizeof(ca), "%s/" FAKE_CA_CRT, f->dir);
        snprintf(other, sizeof(other), "%s/" FAKE_OTHER_CA_CRT, f->dir);
        snprintf(crt, sizeof(crt), "%s/" FAKE_CLIENT_CRT, f->dir);
        snprintf(key, sizeof(key), "%s/" FAKE_CLIENT_KEY, f->dir);

        /* Verified with the CA; the token goes along. */
        fake_reset(f);
        fake_route(f, "GET", WHOAMI, 200, WHOAMI_ANS);
        run(&c, "--server", f->https_url, "--certificate-authority", ca, "--token", TOKEN, "auth",
            "whoami", NULL);
        assert_string_equal(c.err, "");
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "user: alice\ngroups: dev\nauthenticated by: token\n");
        auth = fake_header(f, 0, "Authorization");
        assert_string_equal(auth, "Bearer " TOKEN);
        free(auth);
        assert_string_equal(f->last_client_cn, "");

        /* localhost is in the certificate too. */
        _cleanup_free_ char *by_name =
            str_printf("https://localhost:%s", strrchr(f->https_url, ':') + 1);
        fake_reset(f);
        fake_route(f, "GET", WHOAMI, 200, WHOAMI_ANS);
        run(&c, "--server", by_name, "--certificate-authority", ca, "auth", "whoami", NULL);
        assert_int_equal(c.rc, 0);

        /* A client certificate. */
        fake_reset(f);
        fake_route(f, "GET", WHOAMI, 200,
                   "{\"user\":\"alice\",\"groups\":[],\"authenticatedBy\":\"certificate\"}");
        run(&c, "--server", f->https_url, "--certificate-authority", ca, "--client-certificate",
            crt, "--client-key", key, "auth", "whoami", NULL);
        assert_int_equal(c.rc, 0);
        assert_string_equal(c.out, "user: alice\ngroups: <none>\nauthenticated by: certificate\n");
        assert_string_equal(f->last_client_cn, FAKE_TLS_CN);
        assert_true(f->last_client_verified);
        assert_null(fake_header(f, 0, "Authorization"));

        /* Without the CA: the system's store does not know it. */
        fake_reset(f);
        run(&c, "--server", f->https_url, "--token", TOKEN, "auth", "whoami", NULL);
        assert_int_equal(c.rc, 1);
        assert_non_null(strstr(c.err, "berth: cannot connect to berthd at https://127.0.0.1:"));
        assert_non_null(strstr(c.err, "server certificate not trusted ("));
        assert_non_null(strstr(c.err, "): pass --certificate-authority or set "
                                      "certificate-authority in the config\n"));
        assert_null(strstr(c.err, "s3cr3t"));
        assert_int_equal(f->requests, 0);

        /* Another CA. */
        run(&c, "--server", f->https_url, "--certificate-authority", other, "auth", "whoami", NULL);
        assert_int_equal(c.rc, 1);
        assert_non_null(strstr(c.err, "server certificate not trusted by certificate-authority "));
        assert_non_null(strstr(c.err, FAKE_OTHER_CA_CRT " ("));
        assert_non_null(strstr(c.err, "is it the CA of this berthd?"));

        /* Files that are not there. */
        run(&c, "--server", f->https_url, "--certificate-authority", "/nonexistent/ca.crt", "auth",
            "whoami", NULL);
        assert_int_equal(c.rc, 1);
        assert_non_null(strstr(c.err, "berth: cannot use certificate-authority "
                                      "/nonexistent/ca.crt: "));
        run(&c, "--server", f->https_url, "--certificate-authority", ca, "--client-certificate",
            "/nonexistent/me.crt", "auth", "whoami", NULL);
        assert_int_equal(c.rc, 1);
        assert_non_null(
            strstr(c.err, "berth: cannot use client-certificate /nonexistent/me.crt: "));

        /* The admin config berthd writes, CA path relative to the file. */
        snprintf(conf, sizeof(conf), "%s/admin.conf", f->dir);
        FILE *fp = fopen(conf, "w");
        assert_non_null(fp);
        fprintf(fp, "server: %s\ncertificate-authority: %s\ntoken: %s\n", f->https_url, FAKE_CA_CRT,
                TOKEN);
        fclose(fp);
        fake_reset(f);
        fake_route(f, "GET", WHOAMI, 200, WHOAMI_ANS);
        setenv("BERTH_CONFIG", conf, 1);
        run(&c, "auth", "whoami", "-o", "json", NULL);
        unsetenv("BERTH_CONFIG");
        assert_int_equal(c.rc, 0);
        assert_non_null(strstr(c.out, "\"authenticatedBy\": \"token\""));
        auth = fake_header(f, 0, "Authorization");
        assert_string_equal(auth, "Bearer " TOKEN);
        free(auth);

        /* Plain http spoken to the https listener. */
        _cleanup_free_ char *plain = str_printf("http://%s", f->https_url + strlen("https://"));
        run(&c, "--server", plain, "auth", "whoami", NULL);
        assert_int_equal(c.rc, 1);
        assert_non_null(strstr(c.err, "berth: "));
        unlink(conf);
        capture_release(&c);
}

static int tls_setup(void **state)
{
        fake_setup(state);
        fake_tls_setup(*state);
        return 0;
}

int main(void)
{
        const struct CMUnitTest pure[] = {
            cmocka_unit_test(test_parse),
            cmocka_unit_test(test_resolve),
            cmocka_unit_test(test_token_transport),
        };
        const struct CMUnitTest served[] = {
            cmocka_unit_test(test_token_header),
            cmocka_unit_test(test_tls),
        };
        cli_test_env();
        int failed = cmocka_run_group_tests_name("cli-config", pure, NULL, NULL);
        failed +=
            cmocka_run_group_tests_name("cli-config-served", served, tls_setup, fake_teardown);
        return failed;
}
