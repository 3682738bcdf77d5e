/* store etcd security: etcds:// (TLS, client certificates) and etcd authentication.
 *
 * Pure cases (URL options, open-time checks, error mapping) always run. The others
 * run against two private etcd processes that this test starts itself, never the
 * shared one:
 *   TLS   127.0.0.1:23791 (peer 23801): https, --client-cert-auth, certificates
 *         made with the openssl tool in a temporary directory
 *   auth  127.0.0.1:23792 (peer 23802): http, --auth-token-ttl 2, auth enabled
 *         through the gateway for user root
 * They are skipped when the etcd or openssl binary is missing or a port is taken.
 * The processes are killed by pid in the group teardown, from an atexit handler
 * should the test end early, and by the kernel (PR_SET_PDEATHSIG) if it crashes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "etcd-internal.h"
#include "test-support.h"

#define TLS_CLIENT  "127.0.0.1:23791"
#define TLS_PEER    "127.0.0.1:23801"
#define AUTH_CLIENT "127.0.0.1:23792"
#define AUTH_PEER   "127.0.0.1:23802"
#define ROOT_PW     "s3cret-Pw.42"

struct private_etcd {
        pid_t pid;
        const char *name;
        bool ok;        /* up and configured */
        char skip[256]; /* why its cases are skipped ("" = not skipped) */
        char setup_error[BERTH_ERROR_MESSAGE_MAX + PATH_MAX + 64]; /* "" = it did not fail */
};

static char tmp_dir[PATH_MAX];
static struct private_etcd tls_etcd = {.pid = -1, .name = "tls"};
static struct private_etcd auth_etcd = {.pid = -1, .name = "auth"};

/* ---- helpers ------------------------------------------------------------------ */

static char *path_in_tmp(const char *name)
{
        char *p = str_printf("%s/%s", tmp_dir, name);
        assert_non_null(p);
        return p;
}

static char *make_prefix(const char *test)
{
        uint64_t r = 0;
        assert_int_equal(getrandom(&r, sizeof(r), 0), sizeof(r));
        char *p = str_printf("/t/secure/%s/%016" PRIx64 "/", test, r);
        assert_non_null(p);
        return p;
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

static bool port_in_use(int port)
{
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return false;
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        bool used = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        close(fd);
        return used;
}

static void etcd_kill(struct private_etcd *pe)
{
        if (pe->pid > 0) {
                kill(pe->pid, SIGKILL);
                waitpid(pe->pid, NULL, 0);
                pe->pid = -1;
        }
}

/* Runs at exit too: cmocka may end the process before the group teardown. */
static void cleanup_all(void)
{
        etcd_kill(&tls_etcd);
        etcd_kill(&auth_etcd);
        if (tmp_dir[0]) {
                test_rm_tree(tmp_dir);
                tmp_dir[0] = '\0';
        }
}

/* Starts etcd with argv (NULL-terminated, without argv[0]) logging to <name>.log. */
static pid_t etcd_spawn(const char *name, const char *const *args)
{
        _cleanup_free_ char *log = str_printf("%s/%s.log", tmp_dir, name);
        const char *argv[40] = {"etcd"};
        size_t n = 1;
        for (; args[n - 1] && n < ARRAY_SIZE(argv) - 1; n++)
                argv[n] = args[n - 1];
        argv[n] = NULL;
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid != 0)
                return pid;
        /* Dies with the test, even when the test crashes. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
                _exit(127);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
        }
        execvp("etcd", (char *const *)argv);
        _exit(127);
}

/* Waits until store_revision works (or the process died): 0, or the last error. */
static int etcd_wait(struct private_etcd *pe, const char *url, struct berth_error *err)
{
        struct store *s = NULL;
        int r = store_open(url, &s, err);
        if (r < 0)
                return r;
        for (int i = 0; i < 200; i++) {
                int64_t rev;
                r = store_revision(s, &rev, err);
                if (r == 0)
                        break;
                int status;
                if (waitpid(pe->pid, &status, WNOHANG) == pe->pid) {
                        pe->pid = -1;
                        r = -ECHILD;
                        break;
                }
                sleep_ms(50);
        }
        store_free(s);
        return r;
}

static size_t discard(char *p, size_t size, size_t nmemb, void *u)
{
        (void)p;
        (void)u;
        return size * nmemb;
}

/* A raw gateway call (what an operator would do with curl): HTTP status or -1. */
static long gateway_post(const char *path, const char *body)
{
        CURL *h = curl_easy_init();
        if (!h)
                return -1;
        _cleanup_free_ char *url = str_printf("http://" AUTH_CLIENT "%s", path);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
        long status = -1;
        if (curl_easy_perform(h) == CURLE_OK)
                curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(h);
        return status;
}

/* Watch events, counted with the key and value of the last one. */
struct rec {
        pthread_mutex_t m;
        pthread_cond_t c;
        size_t n;
        int errors;
        int last_error;
        char key[128];
        char value[128];
};

static void rec_init(struct rec *r)
{
        *r = (struct rec){0};
        pthread_mutex_init(&r->m, NULL);
        pthread_cond_init(&r->c, NULL);
}

static void rec_release(struct rec *r)
{
        pthread_mutex_destroy(&r->m);
        pthread_cond_destroy(&r->c);
}

static void rec_fn(const struct store_event *events, size_t n, int error, void *userdata)
{
        struct rec *r = userdata;
        pthread_mutex_lock(&r->m);
        if (error) {
                r->errors++;
                r->last_error = error;
        }
        for (size_t i = 0; i < n; i++) {
                r->n++;
                str_copy(r->key, sizeof(r->key), events[i].kv.key);
                str_copy(r->value, sizeof(r->value), events[i].kv.value ? events[i].kv.value : "");
        }
        pthread_cond_broadcast(&r->c);
        pthread_mutex_unlock(&r->m);
}

static bool rec_wait(struct rec *r, size_t n, int timeout_ms)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += timeout_ms / 1000;
        ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&r->m);
        while (r->n < n && r->errors == 0)
                if (pthread_cond_timedwait(&r->c, &r->m, &ts) == ETIMEDOUT)
                        break;
        bool ok = r->n >= n;
        pthread_mutex_unlock(&r->m);
        return ok;
}

static bool need(const struct private_etcd *pe)
{
        if (pe->setup_error[0])
                fail_msg("private %s etcd: %s", pe->name, pe->setup_error);
        if (pe->skip[0]) {
                print_message("%s: skipped\n", pe->skip);
                return false;
        }
        return pe->ok;
}

/* put, get, list, a CAS put, a lease with one keepalive, and a watch that sees one
 * event: every kind of request the backend makes. */
static void exercise(struct store *s, const char *test)
{
        struct berth_error err = {0};
        _cleanup_free_ char *prefix = make_prefix(test);
        _cleanup_free_ char *key = str_printf("%sa", prefix);
        int64_t rev = 0;
        int r = store_put(s, key, "v1", 2, STORE_MUST_NOT_EXIST, 0, &rev, &err);
        if (r < 0)
                fail_msg("put: %s", err.message);
        struct store_kv kv = {0};
        assert_int_equal(store_get(s, key, &kv, &err), 0);
        assert_string_equal(kv.value, "v1");
        assert_int_equal(kv.mod_revision, rev);
        store_kv_release(&kv);
        struct store_kvs kvs = {0};
        assert_int_equal(store_list(s, prefix, 0, &kvs, &err), 0);
        assert_int_equal(kvs.n, 1);
        store_kvs_release(&kvs);
        assert_int_equal(store_put(s, key, "v2", 2, rev, 0, &rev, &err), 0);
        int64_t lease = 0;
        assert_int_equal(store_lease_grant(s, 30, &lease, &err), 0);
        assert_int_equal(store_lease_keepalive(s, lease, &err), 0);
        assert_int_equal(store_lease_revoke(s, lease, &err), 0);

        struct rec rc;
        rec_init(&rc);
        struct store_watch *w = NULL;
        assert_int_equal(store_watch(s, prefix, 0, rec_fn, &rc, &w, &err), 0);
        _cleanup_free_ char *key2 = str_printf("%sb", prefix);
        assert_int_equal(store_put(s, key2, "w", 1, STORE_ANY_REVISION, 0, NULL, &err), 0);
        bool got = rec_wait(&rc, 1, 10000);
        store_watch_cancel(w);
        assert_true(got);
        assert_int_equal(rc.errors, 0);
        assert_int_equal(rc.n, 1);
        assert_string_equal(rc.key, key2);
        assert_string_equal(rc.value, "w");
        rec_release(&rc);
}

/* ---- pure --------------------------------------------------------------------- */

static void test_url_parse(void **state)
{
        (void)state;
        struct etcd_url u = {0};
        struct berth_error err = {0};
        assert_int_equal(etcd_url_parse("etcds://h1:1,h2:2/?cacert=/c%20a.pem&cert=/c.pem&"
                                        "key=/k.pem&user=root&password-file=/pw",
                                        &u, &err),
                         0);
        assert_true(u.tls);
        assert_int_equal(strv_length(u.endpoints), 2);
        assert_string_equal(u.endpoints[1], "h2:2");
        assert_string_equal(u.cacert, "/c a.pem");
        assert_string_equal(u.cert, "/c.pem");
        assert_string_equal(u.key, "/k.pem");
        assert_string_equal(u.user, "root");
        assert_string_equal(u.password_file, "/pw");
        etcd_url_release(&u);
        etcd_url_release(&u); /* twice is fine */
        etcd_url_release(NULL);

        assert_int_equal(etcd_url_parse("etcd://h:1", &u, &err), 0);
        assert_false(u.tls);
        assert_null(u.cacert);
        assert_null(u.user);
        etcd_url_release(&u);
        /* Empty options and a lone "?" are harmless. */
        assert_int_equal(etcd_url_parse("etcds://h:1?&user=a&", &u, &err), 0);
        assert_string_equal(u.user, "a");
        etcd_url_release(&u);

        u.tls = true; /* untouched on failure */
        assert_int_equal(etcd_url_parse("etcds://h:1?foo=bar", &u, &err), -EINVAL);
        assert_string_equal(err.message, "store etcds://h:1: unknown option foo (known: cacert, "
                                         "cert, key, user, password-file)");
        assert_true(u.tls);
        assert_null(u.endpoints);

        struct {
                const char *url;
                const char *expect; /* a part of the message */
        } bad[] = {
            {"etcds://h:1?cert=/c.pem", "without its key (add key=PATH)"},
            {"etcds://h:1?key=/k.pem", "without its certificate (add cert=PATH)"},
            {"etcd://h:1?cacert=/ca.pem", "TLS options: use etcds://"},
            {"etcds://h:1?password-file=/pw", "password-file without user"},
            {"etcds://h:1?user=a&user=b", "option user given twice"},
            {"etcds://h:1?cacert=", "option cacert needs a value"},
            {"etcds://h:1?cacert", "option cacert needs a value"},
            {"etcds://h:1?cacert=%zz", "bad percent-encoding"},
            {"etcds://h:1?cacert=a%00b", "bad percent-encoding"},
            {"etcds://h:1?cacert=%4", "bad percent-encoding"},
            {"etcds://nohost?user=a", "store etcds://nohost: bad endpoint list"},
            {"etcds://", "bad endpoint list"},
            {"http://h:1", "not an etcd URL"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                err = (struct berth_error){0};
                assert_int_equal(etcd_url_parse(bad[i].url, &u, &err), -EINVAL);
                if (!strstr(err.message, bad[i].expect))
                        fail_msg("%s: %s", bad[i].url, err.message);
        }
        /* Credentials in the authority are refused without being echoed. */
        assert_int_equal(etcd_url_parse("etcds://root:hunter2@h:1", &u, &err), -EINVAL);
        assert_null(strstr(err.message, "hunter2"));
        assert_non_null(strstr(err.message, "password-file"));
        /* Values of unknown options are not echoed either. */
        assert_int_equal(etcd_url_parse("etcds://h:1?password=hunter2", &u, &err), -EINVAL);
        assert_null(strstr(err.message, "hunter2"));
}

static void test_open_checks(void **state)
{
        (void)state;
        struct berth_error err = {0};
        struct store *s = (struct store *)&tls_etcd; /* stays untouched */
        struct store *const untouched = s;
        assert_int_equal(store_open("etcds://127.0.0.1:1?cacert=/nonexistent/ca.pem", &s, &err),
                         -ENOENT);
        assert_string_equal(err.message, "store etcds://127.0.0.1:1: cacert /nonexistent/ca.pem: "
                                         "no such file or directory");
        assert_int_equal(store_open("etcds://127.0.0.1:1?cert=/tmp&key=/tmp", &s, &err), -EISDIR);
        assert_non_null(strstr(err.message, "cert /tmp: is a directory"));
        assert_ptr_equal(s, untouched);

        _cleanup_free_ char *pw_empty = path_in_tmp("pw-empty");
        _cleanup_free_ char *pw = path_in_tmp("pw-good");
        write_file(pw_empty, "\n");
        write_file(pw, "p\\w\"x\r\nsecond line is ignored\n");
        _cleanup_free_ char *u1 =
            str_printf("etcd://127.0.0.1:1?user=a&password-file=%s", pw_empty);
        assert_int_equal(store_open(u1, &s, &err), -EINVAL);
        assert_non_null(strstr(err.message, "empty first line"));
        _cleanup_free_ char *u2 =
            str_printf("etcd://127.0.0.1:1?user=a&password-file=%s/none", tmp_dir);
        assert_int_equal(store_open(u2, &s, &err), -ENOENT);
        assert_non_null(strstr(err.message, "password-file"));

        unsetenv("BERTH_ETCD_PASSWORD");
        assert_int_equal(store_open("etcd://127.0.0.1:1?user=a", &s, &err), -EINVAL);
        assert_non_null(strstr(err.message, "user a needs a password"));
        assert_ptr_equal(s, untouched);

        /* Fine at open: nothing is contacted yet. */
        _cleanup_free_ char *u3 = str_printf("etcd://127.0.0.1:1?user=a&password-file=%s", pw);
        assert_int_equal(store_open(u3, &s, &err), 0);
        /* The first request authenticates, and fails to connect. */
        struct store_kv kv = {0};
        assert_int_equal(store_get(s, "/x", &kv, &err), -ECONNREFUSED);
        assert_non_null(strstr(err.message, "authenticate as a"));
        assert_null(strstr(err.message, "p\\w"));
        store_free(s);
        store_free(NULL);
}

static void test_error_mapping(void **state)
{
        (void)state;
        assert_int_equal(
            etcd_error_errno("etcdserver: authentication failed, invalid user ID or password", 3),
            -EACCES);
        assert_int_equal(etcd_error_errno("etcdserver: user name is empty", 3), -EACCES);
        assert_int_equal(etcd_error_errno("etcdserver: invalid auth token", 16), -EACCES);
        assert_int_equal(etcd_error_errno("rpc error: code = Unauthenticated desc = etcdserver: "
                                          "invalid auth token",
                                          -1),
                         -EACCES);
        assert_true(etcd_error_token_rejected("etcdserver: invalid auth token", 16));
        assert_true(etcd_error_token_rejected("rpc error: code = Unauthenticated desc = "
                                              "etcdserver: invalid auth token",
                                              -1));
        assert_true(etcd_error_token_rejected("etcdserver: revision of auth store is old", 3));
        assert_true(etcd_error_token_rejected(NULL, 16));
        assert_false(etcd_error_token_rejected("etcdserver: permission denied", 7));
        assert_false(etcd_error_token_rejected(
            "etcdserver: authentication failed, invalid user ID or password", 3));
        assert_false(etcd_error_token_rejected(NULL, -1));
}

/* ---- TLS ---------------------------------------------------------------------- */

static char *tls_url(const char *ca, bool client_cert)
{
        char *u = client_cert ? str_printf("etcds://" TLS_CLIENT "?cacert=%s/%s&cert=%s/client.pem"
                                           "&key=%s/client.key",
                                           tmp_dir, ca, tmp_dir, tmp_dir)
                              : str_printf("etcds://" TLS_CLIENT "?cacert=%s/%s", tmp_dir, ca);
        assert_non_null(u);
        return u;
}

static void test_tls_works(void **state)
{
        (void)state;
        if (!need(&tls_etcd))
                return;
        _cleanup_free_ char *url = tls_url("ca.pem", true);
        struct store *s = NULL;
        struct berth_error err = {0};
        assert_int_equal(store_open(url, &s, &err), 0);
        exercise(s, "tls");
        store_free(s);
}

static void test_tls_without_client_cert(void **state)
{
        (void)state;
        if (!need(&tls_etcd))
                return;
        _cleanup_free_ char *url = tls_url("ca.pem", false);
        struct store *s = NULL;
        struct berth_error err = {0};
        assert_int_equal(store_open(url, &s, &err), 0);
        struct store_kv kv = {0};
        int r = store_get(s, "/x", &kv, &err);
        print_message("without a client certificate: %s\n", err.message);
        assert_int_equal(r, -EACCES);
        assert_non_null(strstr(err.message, "etcd wants a client certificate"));
        assert_null(kv.key);
        store_free(s);
}

static void test_tls_wrong_ca(void **state)
{
        (void)state;
        if (!need(&tls_etcd))
                return;
        _cleanup_free_ char *url = tls_url("other-ca.pem", true);
        struct store *s = NULL;
        struct berth_error err = {0};
        assert_int_equal(store_open(url, &s, &err), 0);
        int64_t rev;
        int r = store_revision(s, &rev, &err);
        print_message("with the wrong CA: %s\n", err.message);
        assert_int_equal(r, -EACCES);
        assert_non_null(strstr(err.message, "certificate is not trusted"));
        assert_non_null(strstr(err.message, "other-ca.pem"));
        /* A watch (from a given revision) keeps retrying, and cancels cleanly. */
        struct rec rc;
        rec_init(&rc);
        struct store_watch *w = NULL;
        assert_int_equal(store_watch(s, "/x/", 1, rec_fn, &rc, &w, &err), 0);
        sleep_ms(200);
        store_watch_cancel(w);
        assert_int_equal(rc.n, 0);
        rec_release(&rc);
        store_free(s);
}

static void test_tls_plain_http_refused(void **state)
{
        (void)state;
        if (!need(&tls_etcd))
                return;
        struct store *s = NULL;
        struct berth_error err = {0};
        assert_int_equal(store_open("etcd://" TLS_CLIENT, &s, &err), 0);
        int64_t rev;
        assert_true(store_revision(s, &rev, &err) < 0);
        store_free(s);
}

/* ---- auth --------------------------------------------------------------------- */

static char *auth_url(const char *password_file_name)
{
        char *u = str_printf("etcd://" AUTH_CLIENT "?user=root&password-file=%s/%s", tmp_dir,
                             password_file_name);
        assert_non_null(u);
        return u;
}

static void test_auth_wrong_password(void **state)
{
        (void)state;
        if (!need(&auth_etcd))
                return;
        _cleanup_free_ char *url = auth_url("pw-wrong");
        struct store *s = NULL;
        struct berth_error err = {0};
        assert_int_equal(store_open(url, &s, &err), 0);
        int64_t rev = 77;
        int r = store_put(s, "/x", "v", 1, STORE_ANY_REVISION, 0, &rev, &err);
        print_message("wrong password: %s\n", err.message);
        assert_int_equal(r, -EACCES);
        assert_int_equal(rev, 77);
        assert_non_null(strstr(err.message, "authenticate as root"));
        assert_non_null(strstr(err.message, "authentication failed"));
        assert_null(strstr(err.message, "wrong-password"));
        /* A watch gives up at once: refused credentials stay refused. */
        struct rec rc;
        rec_init(&rc);
        struct store_watch *w = NULL;
        assert_int_equal(store_watch(s, "/x/", 1, rec_fn, &rc, &w, &err), 0);
        for (int i = 0; i < 250 && !rc.errors; i++)
                sleep_ms(20);
        store_watch_cancel(w);
        assert_int_equal(rc.errors, 1);
        assert_int_equal(rc.last_error, -EACCES);
        rec_release(&rc);
        store_free(s);
}

static void test_auth_no_user(void **state)
{
        (void)state;
        if (!need(&auth_etcd))
                return;
        struct store *s = NULL;
        struct berth_error err = {0};
        assert_int_equal(store_open("etcd://" AUTH_CLIENT, &s, &err), 0);
        assert_int_equal(store_put(s, "/x", "v", 1, STORE_ANY_REVISION, 0, NULL, &err), -EACCES);
        assert_non_null(strstr(err.message, "user name is empty (etcd has authentication on"));
        store_free(s);
}

static void test_auth_works(void **state)
{
        (void)state;
        if (!need(&auth_etcd))
                return;
        _cleanup_free_ char *url = auth_url("pw-root");
        struct store *s = NULL;
        struct berth_error err = {0};
        assert_int_equal(store_open(url, &s, &err), 0);
        exercise(s, "auth");
        store_free(s);

        /* The password from the environment instead of a file. */
        setenv("BERTH_ETCD_PASSWORD", ROOT_PW, 1);
        int r = store_open("etcd://" AUTH_CLIENT "?user=root", &s, &err);
        unsetenv("BERTH_ETCD_PASSWORD");
        assert_int_equal(r, 0);
        int64_t rev;
        assert_int_equal(store_revision(s, &rev, &err), 0);
        store_free(s);
}

struct putter {
        struct store *s;
        const char *prefix;
        int i;
        int r;
        char msg[BERTH_ERROR_MESSAGE_MAX];
};

static void *putter_main(void *p)
{
        struct putter *pt = p;
        struct berth_error err = {0};
        _cleanup_free_ char *key = str_printf("%sp%d", pt->prefix, pt->i);
        pt->r = store_put(pt->s, key, "x", 1, STORE_MUST_NOT_EXIST, 0, NULL, &err);
        memcpy(pt->msg, err.message, sizeof(pt->msg));
        return NULL;
}

static void test_auth_token_expiry(void **state)
{
        (void)state;
        if (!need(&auth_etcd))
                return;
        _cleanup_free_ char *url = auth_url("pw-root");
        _cleanup_free_ char *prefix = make_prefix("expiry");
        _cleanup_free_ char *key = str_printf("%sk", prefix);
        struct store *s = NULL;
        struct berth_error err = {0};
        assert_int_equal(store_open(url, &s, &err), 0);
        int64_t rev = 0;
        assert_int_equal(store_put(s, key, "1", 1, STORE_MUST_NOT_EXIST, 0, &rev, &err), 0);

        /* etcd runs with --auth-token-ttl 2: the token dies while idle. */
        sleep_ms(3500);
        int r = store_put(s, key, "2", 1, rev, 0, &rev, &err);
        if (r < 0)
                fail_msg("CAS put after the token expired: %s", err.message);

        /* A watch whose first connect carries an expired token. */
        sleep_ms(3500);
        struct rec rc;
        rec_init(&rc);
        struct store_watch *w = NULL;
        assert_int_equal(store_watch(s, prefix, rev + 1, rec_fn, &rc, &w, &err), 0);
        sleep_ms(300);
        assert_int_equal(store_put(s, key, "3", 1, STORE_ANY_REVISION, 0, NULL, &err), 0);
        bool got = rec_wait(&rc, 1, 10000);
        store_watch_cancel(w);
        assert_true(got);
        assert_int_equal(rc.errors, 0);
        assert_string_equal(rc.value, "3");
        rec_release(&rc);

        /* Many requests find the token expired at once: all succeed. */
        sleep_ms(3500);
        struct putter pts[8];
        pthread_t th[8];
        for (int i = 0; i < 8; i++) {
                pts[i] = (struct putter){.s = s, .prefix = prefix, .i = i};
                assert_int_equal(pthread_create(&th[i], NULL, putter_main, &pts[i]), 0);
        }
        for (int i = 0; i < 8; i++) {
                pthread_join(th[i], NULL);
                if (pts[i].r < 0)
                        fail_msg("concurrent put %d: %s", i, pts[i].msg);
        }
        struct store_kvs kvs = {0};
        assert_int_equal(store_list(s, prefix, 0, &kvs, &err), 0);
        assert_int_equal(kvs.n, 9);
        store_kvs_release(&kvs);
        store_free(s);
}

/* ---- setup -------------------------------------------------------------------- */

static bool have(const char *binary)
{
        _cleanup_free_ char *cmd = str_printf("command -v %s >/dev/null 2>&1", binary);
        return system(cmd) == 0;
}

/* Runs an openssl command line in tmp_dir, output to openssl.log. */
static int openssl(const char *args)
{
        _cleanup_free_ char *cmd =
            str_printf("cd '%s' && openssl %s >>openssl.log 2>&1", tmp_dir, args);
        return cmd && system(cmd) == 0 ? 0 : -1;
}

static int make_certs(void)
{
        _cleanup_free_ char *cnf = path_in_tmp("openssl.cnf");
        write_file(cnf, "[req]\n"
                        "distinguished_name = dn\n"
                        "prompt = no\n"
                        "[dn]\n"
                        "CN = berth-test\n"
                        "[ca]\n"
                        "basicConstraints = critical,CA:TRUE\n"
                        "keyUsage = critical,keyCertSign,cRLSign\n"
                        "[server]\n"
                        "subjectAltName = IP:127.0.0.1\n"
                        /* clientAuth too: etcd's gateway dials etcd's own gRPC port
                         * with the server certificate when client certs are required. */
                        "extendedKeyUsage = serverAuth,clientAuth\n"
                        "[client]\n"
                        "extendedKeyUsage = clientAuth\n");
#define NEWKEY "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        if (openssl("req -config openssl.cnf -x509 " NEWKEY "-keyout ca.key -out ca.pem -days 2 "
                    "-subj /CN=berth-test-ca -extensions ca") < 0 ||
            openssl("req -config openssl.cnf -x509 " NEWKEY "-keyout other-ca.key -out "
                    "other-ca.pem -days 2 -subj /CN=berth-other-ca -extensions ca") < 0)
                return -1;
        const char *names[] = {"server", "client"};
        for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
                _cleanup_free_ char *req =
                    str_printf("req -config openssl.cnf -new " NEWKEY "-keyout %s.key -out %s.csr "
                               "-subj /CN=berth-%s",
                               names[i], names[i], names[i]);
                _cleanup_free_ char *sign = str_printf(
                    "x509 -req -in %s.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out %s.pem "
                    "-days 2 -extfile openssl.cnf -extensions %s",
                    names[i], names[i], names[i]);
                if (openssl(req) < 0 || openssl(sign) < 0)
                        return -1;
        }
#undef NEWKEY
        return 0;
}

static void start_tls_etcd(void)
{
        struct private_etcd *pe = &tls_etcd;
        if (!have("openssl")) {
                snprintf(pe->skip, sizeof(pe->skip), "no openssl binary");
                return;
        }
        if (port_in_use(23791) || port_in_use(23801)) {
                snprintf(pe->skip, sizeof(pe->skip), "ports 23791/23801 are taken");
                return;
        }
        if (make_certs() < 0) {
                snprintf(pe->setup_error, sizeof(pe->setup_error),
                         "openssl failed (see %s/openssl.log)", tmp_dir);
                return;
        }
        _cleanup_free_ char *data = path_in_tmp("tls-data");
        _cleanup_free_ char *cert = path_in_tmp("server.pem");
        _cleanup_free_ char *key = path_in_tmp("server.key");
        _cleanup_free_ char *ca = path_in_tmp("ca.pem");
        const char *args[] = {"--name",
                              "berth-tls",
                              "--data-dir",
                              data,
                              "--listen-client-urls",
                              "https://" TLS_CLIENT,
                              "--advertise-client-urls",
                              "https://" TLS_CLIENT,
                              "--listen-peer-urls",
                              "http://" TLS_PEER,
                              "--initial-advertise-peer-urls",
                              "http://" TLS_PEER,
                              "--initial-cluster",
                              "berth-tls=http://" TLS_PEER,
                              "--cert-file",
                              cert,
                              "--key-file",
                              key,
                              "--client-cert-auth",
                              "--trusted-ca-file",
                              ca,
                              NULL};
        pe->pid = etcd_spawn("tls", args);
        _cleanup_free_ char *url = tls_url("ca.pem", true);
        struct berth_error err = {0};
        if (pe->pid < 0 || etcd_wait(pe, url, &err) < 0) {
                snprintf(pe->setup_error, sizeof(pe->setup_error),
                         "did not start: %s (log: %s/tls.log)", err.message, tmp_dir);
                return;
        }
        pe->ok = true;
}

static void start_auth_etcd(void)
{
        struct private_etcd *pe = &auth_etcd;
        if (port_in_use(23792) || port_in_use(23802)) {
                snprintf(pe->skip, sizeof(pe->skip), "ports 23792/23802 are taken");
                return;
        }
        _cleanup_free_ char *data = path_in_tmp("auth-data");
        const char *args[] = {"--name",
                              "berth-auth",
                              "--data-dir",
                              data,
                              "--listen-client-urls",
                              "http://" AUTH_CLIENT,
                              "--advertise-client-urls",
                              "http://" AUTH_CLIENT,
                              "--listen-peer-urls",
                              "http://" AUTH_PEER,
                              "--initial-advertise-peer-urls",
                              "http://" AUTH_PEER,
                              "--initial-cluster",
                              "berth-auth=http://" AUTH_PEER,
                              "--auth-token-ttl",
                              "2",
                              NULL};
        pe->pid = etcd_spawn("auth", args);
        struct berth_error err = {0};
        if (pe->pid < 0 || etcd_wait(pe, "etcd://" AUTH_CLIENT, &err) < 0) {
                snprintf(pe->setup_error, sizeof(pe->setup_error),
                         "did not start: %s (log: %s/auth.log)", err.message, tmp_dir);
                return;
        }
        static const char *const calls[][2] = {
            {"/v3/auth/user/add", "{\"name\":\"root\",\"password\":\"" ROOT_PW "\"}"},
            {"/v3/auth/role/add", "{\"name\":\"root\"}"},
            {"/v3/auth/user/grant", "{\"user\":\"root\",\"role\":\"root\"}"},
            {"/v3/auth/enable", "{}"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(calls); i++) {
                long status = gateway_post(calls[i][0], calls[i][1]);
                if (status != 200) {
                        snprintf(pe->setup_error, sizeof(pe->setup_error), "%s: HTTP %ld",
                                 calls[i][0], status);
                        return;
                }
        }
        pe->ok = true;
}

static int group_setup(void **state)
{
        (void)state;
        const char *tmp = getenv("TMPDIR");
        snprintf(tmp_dir, sizeof(tmp_dir), "%s/berth-etcd-secure-XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(tmp_dir)) {
                print_error("mkdtemp: %s\n", strerror(errno));
                return -1;
        }
        atexit(cleanup_all);
        _cleanup_free_ char *pw_root = path_in_tmp("pw-root");
        _cleanup_free_ char *pw_wrong = path_in_tmp("pw-wrong");
        write_file(pw_root, ROOT_PW "\n");
        write_file(pw_wrong, "wrong-password\n");
        if (!have("etcd")) {
                snprintf(tls_etcd.skip, sizeof(tls_etcd.skip), "no etcd binary");
                snprintf(auth_etcd.skip, sizeof(auth_etcd.skip), "no etcd binary");
                return 0;
        }
        start_tls_etcd();
        start_auth_etcd();
        return 0;
}

static int group_teardown(void **state)
{
        (void)state;
        cleanup_all();
        return 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_url_parse),
            cmocka_unit_test(test_open_checks),
            cmocka_unit_test(test_error_mapping),
            cmocka_unit_test(test_tls_works),
            cmocka_unit_test(test_tls_without_client_cert),
            cmocka_unit_test(test_tls_wrong_ca),
            cmocka_unit_test(test_tls_plain_http_refused),
            cmocka_unit_test(test_auth_wrong_password),
            cmocka_unit_test(test_auth_no_user),
            cmocka_unit_test(test_auth_works),
            cmocka_unit_test(test_auth_token_expiry),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
