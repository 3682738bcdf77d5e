/* berthd: the berth daemon — store, Docker client, controller and API server.
 *
 * Start order: logging, event loop, store, Docker (waiting for the engine),
 * the event recorder, controller (its caches sync before it returns), API
 * server, then /readyz. SIGTERM/SIGINT stop the loop; teardown runs in
 * reverse order (the controller's stop flushes the recorder's queue) and
 * leaves containers running: the next start adopts them. SIGHUP reloads the TLS
 * certificate and key (renewing a generated one first when it is due).
 *
 * Exit codes: 0 clean stop, 1 startup failure, 2 bad command line.
 */
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "admission.h"
#include "api.h"
#include "apply.h"
#include "common.h"
#include "controller.h"
#include "docker.h"
#include "events.h"
#include "manifests.h"
#include "metrics.h"
#include "notify.h"
#include "pki.h"
#include "plugins.h"
#include "secrets.h"
#include "store.h"

#define DEFAULT_DATA_DIR       "/var/lib/berth"
#define DEFAULT_LISTEN         "unix:///run/berth/berth.sock"
#define DEFAULT_DOCKER         "unix:///var/run/docker.sock"
#define DEFAULT_PREFIX         "/berth/"
#define DEFAULT_WORKERS        8
#define DEFAULT_RESYNC_MS      (10 * 60 * 1000)
#define DEFAULT_DOCKER_WAIT_MS (60 * 1000)
#define LISTEN_MAX             16
#define SOURCE_DIRS_MAX        64 /* --source-root and --watch-dir flags */
#define BUILD_ROOTS_MAX        64 /* --build-root flags */
#define HOST_PATHS_MAX         64 /* --allow-host-path flags */
#define NOTIFIER_EXEC_DIRS_MAX 16 /* --notifier-exec-dir flags */
#define WORKERS_MAX            1024
#define MAX_RUNNING_MAX        1000000 /* --max-running */

/* Parsed flags (process-wide by design: main owns them). */
struct options {
        const char *store;
        const char *docker;
        const char *listen[LISTEN_MAX + 1]; /* NULL-terminated */
        size_t n_listen;
        const char *data_dir;
        int workers;
        int64_t max_running; /* 0: no limit */
        enum log_format log_format;
        enum log_level log_level;
        int64_t resync_ms;
        int64_t compact_ms; /* < 0: never */
        int64_t docker_wait_ms;
        int docker_inflight; /* --docker-inflight N; 0 = adaptive */
        const char *prefix;
        int leader_elect; /* -1: default (on for etcd, off for sqlite) */
        int64_t leader_lease_ms;
        int64_t leader_renew_ms;
        int64_t leader_retry_ms;
        const char *leader_id;
        /* Directories Sources may read: every --source-root and --watch-dir. */
        const char *source_roots[2 * SOURCE_DIRS_MAX];
        size_t n_source_roots;
        const char *watch_dirs[SOURCE_DIRS_MAX];
        /* Directories Workflow build steps may build from (--build-root). */
        const char *build_roots[BUILD_ROOTS_MAX];
        size_t n_build_roots;
        bool insecure_http; /* --insecure-http: plain HTTP on loopback */
        bool https;         /* an https:// listener */
        /* HTTPS: given files, or generated under <data-dir>/tls (pki.h). */
        const char *tls_cert;
        const char *tls_key;
        const char *client_ca;
        const char *tls_sans[PKI_EXTRA_SANS_MAX];
        size_t n_tls_sans;
        /* The admission policy: --allow-host-network, --allow-host-path. */
        bool allow_host_network;
        bool allow_docker_exec; /* --allow-docker-exec */
        const char *host_paths[HOST_PATHS_MAX];
        size_t n_host_paths;
        size_t n_watch_dirs;
        /* The API's audit log and rate limit. */
        const char *audit_log;
        int64_t audit_log_max_size;
        int audit_log_max_files;
        double rate_limit;
        /* Where secret volumes are written: a tmpfs (--secrets-dir). */
        const char *secrets_dir;
        /* Hidden --sse-heartbeat: how often idle SSE streams get a comment
         * line (0: the API's default, 15 s). */
        int64_t sse_heartbeat_ms;
        int64_t header_timeout_ms;
        int64_t event_ttl_ms; /* how long Events are kept (--event-ttl) */
        /* Directories whose programs exec Notifiers may run. */
        const char *notifier_exec_dirs[NOTIFIER_EXEC_DIRS_MAX];
        size_t n_notifier_exec_dirs;
        const char *plugin_dir; /* --plugin-dir: shared objects loaded at start */
};

static void usage(FILE *out)
{
        fprintf(
            out,
            "usage: berthd [OPTIONS]\n"
            "\n"
            "The berth daemon: keeps Docker containers in line with the declared objects.\n"
            "\n"
            "options:\n"
            "  --store URL          store backend: sqlite:PATH, etcd://HOST:PORT[,...] or\n"
            "                       "
            "etcds://HOST:PORT[,...]?cacert=&cert=&key=&user=&password-file=\n"
            "                       or <plugin>:... of a store plugin (--plugin-dir)\n"
            "                       (default sqlite:<data-dir>/berth.db)\n"
            "  --docker URL         Docker engine (default $DOCKER_HOST or " DEFAULT_DOCKER ")\n"
            "  --docker-wait DUR    how long to wait for the engine at start (default 60s)\n"
            "  --docker-inflight N  Docker calls in flight at once: a fixed N (1-64), or\n"
            "                       auto (default: adapted to the engine, from 8)\n"
            "  --listen URL         API listener, repeatable (default " DEFAULT_LISTEN "):\n"
            "                       unix:///PATH, https://ADDR:PORT, or http://127.0.0.1:PORT\n"
            "                       with --insecure-http\n"
            "  --tls-cert FILE      certificate chain (PEM) of the https listeners; with\n"
            "                       --tls-key (default: made under <data-dir>/tls by berthd's\n"
            "                       own CA, renewed before it ends)\n"
            "  --tls-key FILE       the certificate's key (PEM, unencrypted)\n"
            "  --tls-san NAME       another DNS name or IP address for the generated\n"
            "                       certificate, repeatable\n"
            "  --client-ca FILE     accept TLS client certificates signed by this CA (default:\n"
            "                       <data-dir>/tls/ca.crt when the certificate is generated)\n"
            "  --insecure-http      allow plain HTTP listeners (loopback only; for tests:\n"
            "                       no encryption, no authentication)\n"
            "  --data-dir DIR       state directory, created 0700 (default " DEFAULT_DATA_DIR ")\n"
            "  --workers N          reconcile worker threads (default 8)\n"
            "  --max-running N      at most N Tasks run at once; the others wait, Pending\n"
            "                       and Queued, in priority order (default: no limit)\n"
            "  --log-format FMT     text or json (default text)\n"
            "  --log-level LEVEL    debug, info, warn or error (default info)\n"
            "  --resync DUR         full resync period (default 10m)\n"
            "  --compact-interval DUR  store history kept and compaction period\n"
            "                       (default 5m; 0 never compacts)\n"
            "  --prefix PREFIX      store key prefix (default " DEFAULT_PREFIX ")\n"
            "  --leader-elect[=BOOL]\n"
            "                       compete for leadership: only the leader runs controllers,\n"
            "                       every replica serves the API (default true with etcd,\n"
            "                       false with sqlite)\n"
            "  --leader-lease DUR   leader lease duration (default 15s)\n"
            "  --leader-renew DUR   leader lease renewal period (default 5s)\n"
            "  --leader-retry DUR   how often followers look for a leader (default 2s)\n"
            "  --leader-id ID       this replica's identity (default HOSTNAME-PID-RANDOM)\n"
            "  --source-root DIR    a directory Sources may read manifests from, repeatable\n"
            "                       (default none: every Source is refused, PathNotAllowed)\n"
            "  --watch-dir DIR      follow DIR: creates or updates the Source named after it\n"
            "                       (namespace default) and allows DIR, repeatable\n"
            "  --build-root DIR     a directory Workflow build steps may build images from,\n"
            "                       repeatable (default none: build steps are refused)\n"
            "  --allow-host-network let containers use the host's network (network: host);\n"
            "                       for single-tenant hosts and Docker without a bridge\n"
            "  --allow-docker-exec  let Tasks run commands in running containers berth did\n"
            "                       not create (executor docker-exec)\n"
            "  --allow-host-path DIR  let containers mount host paths inside DIR, repeatable\n"
            "                       (default none; the Docker socket never)\n"
            "  --audit-log PATH     append a JSON line per changing or refused API request\n"
            "                       (default off)\n"
            "  --audit-log-max-size SIZE  rotate the audit log past SIZE (default 100Mi)\n"
            "  --audit-log-max-files N    rotated audit logs kept (default 5)\n"
            "  --rate-limit N       API requests per second per user, burst 2N; more get\n"
            "                       429 (default 0: no limit)\n"
            "  --request-header-timeout DUR  a request's line and headers must arrive\n"
            "                       within DUR, else the connection is closed (default 30s)\n"
            "  --secrets-dir DIR    where Secrets are written as files for secret volumes:\n"
            "                       a tmpfs, mounted there when DIR is not one (default\n"
            "                       " SECRETS_DIR_DEFAULT ")\n"
            "  --event-ttl DUR      how long Events are kept after they last happened\n"
            "                       (default 1h; at least 1s)\n"
            "  --notifier-exec-dir DIR  a directory whose programs exec Notifiers may run,\n"
            "                       repeatable (default none: exec Notifiers are refused)\n"
            "  --plugin-dir DIR     load the plugins (*.so) of DIR at start (docs/plugins.md)\n"
            "  --version            print the version and exit\n"
            "  -h, --help           print this help and exit\n");
}

/* The Source a --watch-dir stands for: named after the directory (made a
 * DNS-1123 label), in namespace default. */
static json_t *watch_dir_source(const char *dir)
{
        const char *base = strrchr(dir, '/');
        char name[64];
        size_t n = 0;

        base = base && base[1] ? base + 1 : dir;
        for (const char *p = base; *p && n < sizeof(name) - 1; p++) {
                char ch = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
                bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
                if (ok || (n > 0 && name[n - 1] != '-'))
                        name[n++] = ok ? ch : '-';
        }
        while (n > 0 && name[n - 1] == '-')
                n--;
        name[n] = '\0';
        return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion", MANIFEST_API_VERSION,
                         "kind", "Source", "metadata", "name", n ? name : "watch-dir", "namespace",
                         "default", "spec", "path", dir);
}

/* berthd --watch-dir: creates or updates each directory's Source, exactly as
 * `berth apply` of it would. */
static int apply_watch_dirs(struct store *store, const char *prefix, const char *const *dirs,
                            size_t n)
{
        const struct kind_info *kind = kind_by_name("Source");

        for (size_t i = 0; i < n; i++) {
                _cleanup_json_ json_t *obj = watch_dir_source(dirs[i]);
                struct field_errors errs = {0};
                struct berth_error err = {0};
                const struct apply_opts opts = {0};
                enum apply_result res;
                int64_t rev;

                if (!obj || !kind) {
                        log_error("--watch-dir %s: out of memory", dirs[i]);
                        return -ENOMEM;
                }
                if (manifest_validate(obj, NULL, &errs) < 0) {
                        _cleanup_free_ char *msg = field_errors_format(&errs, dirs[i]);
                        log_error("invalid --watch-dir: %s", msg ? msg : dirs[i]);
                        field_errors_release(&errs);
                        return -EINVAL;
                }
                manifest_apply_defaults(obj);
                if (apply_object(store, prefix, kind, obj, &opts, &res, &rev, &err) < 0) {
                        log_error("--watch-dir %s: %s", dirs[i], err.message);
                        return -EIO;
                }
                log_info("watching directory path=%s source=default/%s (%s)", dirs[i],
                         json_path_string(obj, "metadata.name"), apply_result_to_string(res));
        }
        return 0;
}

static int bad_flag(const char *fmt, ...) _printf_(1, 2);
static int bad_flag(const char *fmt, ...)
{
        va_list ap;
        fputs("berthd: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("\nTry 'berthd --help' for more information.\n", stderr);
        return 2;
}

enum {
        OPT_STORE = 256,
        OPT_DOCKER,
        OPT_DOCKER_WAIT,
        OPT_DOCKER_INFLIGHT,
        OPT_LISTEN,
        OPT_DATA_DIR,
        OPT_WORKERS,
        OPT_LOG_FORMAT,
        OPT_LOG_LEVEL,
        OPT_RESYNC,
        OPT_COMPACT,
        OPT_PREFIX,
        OPT_LEADER_ELECT,
        OPT_LEADER_LEASE,
        OPT_LEADER_RENEW,
        OPT_LEADER_RETRY,
        OPT_LEADER_ID,
        OPT_SOURCE_ROOT,
        OPT_WATCH_DIR,
        OPT_BUILD_ROOT,
        OPT_ALLOW_HOST_NETWORK,
        OPT_ALLOW_DOCKER_EXEC,
        OPT_INSECURE_HTTP,
        OPT_ALLOW_HOST_PATH,
        OPT_AUDIT_LOG,
        OPT_AUDIT_LOG_MAX_SIZE,
        OPT_AUDIT_LOG_MAX_FILES,
        OPT_RATE_LIMIT,
        OPT_HEADER_TIMEOUT,
        OPT_TLS_CERT,
        OPT_TLS_KEY,
        OPT_TLS_SAN,
        OPT_CLIENT_CA,
        OPT_SECRETS_DIR,
        OPT_EVENT_TTL,
        OPT_NOTIFIER_EXEC_DIR,
        OPT_PLUGIN_DIR,
        OPT_SSE_HEARTBEAT,
        OPT_MAX_RUNNING,
        OPT_VERSION,
};

/* "http://127.0.0.1:8080", "tcp://[::1]:8080", "http://localhost:80". */
static bool listen_is_loopback(const char *url)
{
        const char *hp = strstr(url, "://");
        static const char *const hosts[] = {"127.0.0.1:", "[::1]:", "localhost:"};

        hp = hp ? hp + 3 : url;
        for (size_t i = 0; i < ARRAY_SIZE(hosts); i++)
                if (str_has_prefix(hp, hosts[i]))
                        return true;
        return false;
}

/* Returns -1 to go on, or an exit code (0 after --help/--version, 2 on bad flags). */
static int parse_args(int argc, char **argv, struct options *o)
{
        static const struct option longopts[] = {
            {"store", required_argument, NULL, OPT_STORE},
            {"docker", required_argument, NULL, OPT_DOCKER},
            {"docker-wait", required_argument, NULL, OPT_DOCKER_WAIT},
            {"docker-inflight", required_argument, NULL, OPT_DOCKER_INFLIGHT},
            {"listen", required_argument, NULL, OPT_LISTEN},
            {"data-dir", required_argument, NULL, OPT_DATA_DIR},
            {"workers", required_argument, NULL, OPT_WORKERS},
            {"max-running", required_argument, NULL, OPT_MAX_RUNNING},
            {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
            {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
            {"resync", required_argument, NULL, OPT_RESYNC},
            {"compact-interval", required_argument, NULL, OPT_COMPACT},
            {"prefix", required_argument, NULL, OPT_PREFIX},
            {"leader-elect", optional_argument, NULL, OPT_LEADER_ELECT},
            {"leader-lease", required_argument, NULL, OPT_LEADER_LEASE},
            {"leader-renew", required_argument, NULL, OPT_LEADER_RENEW},
            {"leader-retry", required_argument, NULL, OPT_LEADER_RETRY},
            {"leader-id", required_argument, NULL, OPT_LEADER_ID},
            {"source-root", required_argument, NULL, OPT_SOURCE_ROOT},
            {"build-root", required_argument, NULL, OPT_BUILD_ROOT},
            {"allow-host-network", no_argument, NULL, OPT_ALLOW_HOST_NETWORK},
            {"allow-docker-exec", no_argument, NULL, OPT_ALLOW_DOCKER_EXEC},
            {"insecure-http", no_argument, NULL, OPT_INSECURE_HTTP},
            {"allow-host-path", required_argument, NULL, OPT_ALLOW_HOST_PATH},
            {"watch-dir", required_argument, NULL, OPT_WATCH_DIR},
            {"audit-log", required_argument, NULL, OPT_AUDIT_LOG},
            {"audit-log-max-size", required_argument, NULL, OPT_AUDIT_LOG_MAX_SIZE},
            {"audit-log-max-files", required_argument, NULL, OPT_AUDIT_LOG_MAX_FILES},
            {"rate-limit", required_argument, NULL, OPT_RATE_LIMIT},
            {"request-header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT},
            {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
            {"tls-key", required_argument, NULL, OPT_TLS_KEY},
            {"tls-san", required_argument, NULL, OPT_TLS_SAN},
            {"client-ca", required_argument, NULL, OPT_CLIENT_CA},
            {"secrets-dir", required_argument, NULL, OPT_SECRETS_DIR},
            {"event-ttl", required_argument, NULL, OPT_EVENT_TTL},
            {"notifier-exec-dir", required_argument, NULL, OPT_NOTIFIER_EXEC_DIR},
            {"plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR},
            /* Not in the usage: for tests, which cannot wait 15 s. */
            {"sse-heartbeat", required_argument, NULL, OPT_SSE_HEARTBEAT},
            {"version", no_argument, NULL, OPT_VERSION},
            {"help", no_argument, NULL, 'h'},
            {},
        };

        *o = (struct options){
            .data_dir = DEFAULT_DATA_DIR,
            .workers = DEFAULT_WORKERS,
            .log_format = LOG_FORMAT_TEXT,
            .log_level = LOG_LEVEL_INFO,
            .resync_ms = DEFAULT_RESYNC_MS,
            .docker_wait_ms = DEFAULT_DOCKER_WAIT_MS,
            .secrets_dir = SECRETS_DIR_DEFAULT,
            .event_ttl_ms = EVENTS_TTL_DEFAULT_MS,
            .prefix = DEFAULT_PREFIX,
            .leader_elect = -1,
            .leader_lease_ms = LEADER_DEFAULT_LEASE_MS,
            .leader_renew_ms = LEADER_DEFAULT_RENEW_MS,
            .leader_retry_ms = LEADER_DEFAULT_RETRY_MS,
            .audit_log_max_size = 100 * 1024 * 1024,
            .audit_log_max_files = 5,
        };

        opterr = 0;
        int c;
        while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
                char *end;
                long n;
                switch (c) {
                case OPT_STORE:
                        o->store = optarg;
                        break;
                case OPT_DOCKER:
                        o->docker = optarg;
                        break;
                case OPT_DOCKER_WAIT:
                        if (duration_parse(optarg, &o->docker_wait_ms) < 0 || o->docker_wait_ms < 0)
                                return bad_flag("invalid --docker-wait '%s': want a duration "
                                                "such as 60s or 2m",
                                                optarg);
                        break;
                case OPT_DOCKER_INFLIGHT: {
                        char *rest = NULL;
                        bool is_auto = streq(optarg, "auto");
                        long v = is_auto ? 0 : strtol(optarg, &rest, 10);
                        if (!is_auto && (!*optarg || *rest || v < 1 || v > DOCKER_INFLIGHT_MAX))
                                return bad_flag("invalid --docker-inflight '%s': want auto or a "
                                                "number from 1 to %d",
                                                optarg, DOCKER_INFLIGHT_MAX);
                        o->docker_inflight = (int)v;
                        break;
                }
                case OPT_LISTEN:
                        if (o->n_listen == LISTEN_MAX)
                                return bad_flag("too many --listen flags (max %d)", LISTEN_MAX);
                        if (!str_has_prefix(optarg, "unix://") &&
                            !str_has_prefix(optarg, "https://") &&
                            !str_has_prefix(optarg, "http://") && !str_has_prefix(optarg, "tcp://"))
                                return bad_flag("invalid --listen '%s': want unix:///PATH, "
                                                "https://ADDR:PORT or http://127.0.0.1:PORT",
                                                optarg);
                        if (str_has_prefix(optarg, "https://"))
                                o->https = true;
                        o->listen[o->n_listen++] = optarg;
                        break;
                case OPT_DATA_DIR:
                        if (optarg[0] == '\0')
                                return bad_flag("invalid --data-dir: empty");
                        o->data_dir = optarg;
                        break;
                case OPT_WORKERS:
                        errno = 0;
                        n = strtol(optarg, &end, 10);
                        if (errno != 0 || end == optarg || *end != '\0' || n < 1 || n > WORKERS_MAX)
                                return bad_flag("invalid --workers '%s': want 1..%d", optarg,
                                                WORKERS_MAX);
                        o->workers = (int)n;
                        break;
                case OPT_MAX_RUNNING:
                        errno = 0;
                        n = strtol(optarg, &end, 10);
                        if (errno != 0 || end == optarg || *end != '\0' || n < 1 ||
                            n > MAX_RUNNING_MAX)
                                return bad_flag("invalid --max-running '%s': want 1..%d (leave "
                                                "the flag out for no limit)",
                                                optarg, MAX_RUNNING_MAX);
                        o->max_running = n;
                        break;
                case OPT_LOG_FORMAT:
                        if (log_format_from_string(optarg, &o->log_format) < 0)
                                return bad_flag("invalid --log-format '%s': want text or json",
                                                optarg);
                        break;
                case OPT_LOG_LEVEL:
                        if (log_level_from_string(optarg, &o->log_level) < 0)
                                return bad_flag("invalid --log-level '%s': want debug, info, "
                                                "warn or error",
                                                optarg);
                        break;
                case OPT_RESYNC:
                        if (duration_parse(optarg, &o->resync_ms) < 0 || o->resync_ms <= 0)
                                return bad_flag("invalid --resync '%s': want a positive duration "
                                                "such as 10m",
                                                optarg);
                        break;
                case OPT_COMPACT:
                        if (duration_parse(optarg, &o->compact_ms) < 0)
                                return bad_flag("invalid --compact-interval '%s': want a duration "
                                                "such as 5m, or 0",
                                                optarg);
                        if (o->compact_ms == 0)
                                o->compact_ms = -1;
                        break;
                case OPT_PREFIX:
                        if (optarg[0] != '/' || !str_has_suffix(optarg, "/") ||
                            strlen(optarg) > 128)
                                return bad_flag("invalid --prefix '%s': must start and end "
                                                "with '/'",
                                                optarg);
                        o->prefix = optarg;
                        break;
                case OPT_LEADER_ELECT:
                        /* "--leader-elect false" works as well as "--leader-elect=false". */
                        if (!optarg && optind < argc &&
                            (streq(argv[optind], "true") || streq(argv[optind], "false")))
                                optarg = argv[optind++];
                        if (!optarg || streq(optarg, "true"))
                                o->leader_elect = 1;
                        else if (streq(optarg, "false"))
                                o->leader_elect = 0;
                        else
                                return bad_flag("invalid --leader-elect '%s': want true or false",
                                                optarg);
                        break;
                case OPT_LEADER_LEASE:
                case OPT_LEADER_RENEW:
                case OPT_LEADER_RETRY: {
                        int64_t *dst = c == OPT_LEADER_LEASE   ? &o->leader_lease_ms
                                       : c == OPT_LEADER_RENEW ? &o->leader_renew_ms
                                                               : &o->leader_retry_ms;
                        if (duration_parse(optarg, dst) < 0 || *dst <= 0)
                                return bad_flag("invalid %s '%s': want a positive duration such "
                                                "as 5s",
                                                argv[optind - 1], optarg);
                        break;
                }
                case OPT_LEADER_ID:
                        if (!optarg[0] || strlen(optarg) >= LEADER_ID_MAX)
                                return bad_flag("invalid --leader-id: want 1..%d bytes",
                                                LEADER_ID_MAX - 1);
                        o->leader_id = optarg;
                        break;
                case OPT_SOURCE_ROOT:
                case OPT_WATCH_DIR:
                        if (optarg[0] != '/')
                                return bad_flag("invalid %s '%s': want an absolute path",
                                                argv[optind - 1], optarg);
                        if (o->n_watch_dirs == SOURCE_DIRS_MAX ||
                            o->n_source_roots == 2 * SOURCE_DIRS_MAX)
                                return bad_flag("too many %s flags (max %d)", argv[optind - 1],
                                                SOURCE_DIRS_MAX);
                        if (c == OPT_WATCH_DIR)
                                o->watch_dirs[o->n_watch_dirs++] = optarg;
                        o->source_roots[o->n_source_roots++] = optarg;
                        break;
                case OPT_BUILD_ROOT:
                        if (optarg[0] != '/')
                                return bad_flag("invalid --build-root '%s': want an absolute path",
                                                optarg);
                        if (o->n_build_roots == BUILD_ROOTS_MAX)
                                return bad_flag("too many --build-root flags (max %d)",
                                                BUILD_ROOTS_MAX);
                        o->build_roots[o->n_build_roots++] = optarg;
                        break;
                case OPT_ALLOW_DOCKER_EXEC:
                        o->allow_docker_exec = true;
                        break;
                case OPT_ALLOW_HOST_NETWORK:
                        o->allow_host_network = true;
                        break;
                case OPT_INSECURE_HTTP:
                        o->insecure_http = true;
                        break;
                case OPT_ALLOW_HOST_PATH:
                        if (optarg[0] != '/')
                                return bad_flag("invalid --allow-host-path '%s': want an "
                                                "absolute path",
                                                optarg);
                        if (o->n_host_paths == HOST_PATHS_MAX)
                                return bad_flag("too many --allow-host-path flags (max %d)",
                                                HOST_PATHS_MAX);
                        o->host_paths[o->n_host_paths++] = optarg;
                        break;
                case OPT_AUDIT_LOG:
                        if (optarg[0] != '/')
                                return bad_flag("invalid --audit-log '%s': want an absolute path",
                                                optarg);
                        o->audit_log = optarg;
                        break;
                case OPT_AUDIT_LOG_MAX_SIZE:
                        if (quantity_parse_bytes(optarg, &o->audit_log_max_size) < 0 ||
                            o->audit_log_max_size < 4096)
                                return bad_flag("invalid --audit-log-max-size '%s': want a size "
                                                "of at least 4096 bytes such as 10Mi",
                                                optarg);
                        break;
                case OPT_AUDIT_LOG_MAX_FILES:
                        n = strtol(optarg, &end, 10);
                        if (*end || end == optarg || n < 0 || n > 1000)
                                return bad_flag("invalid --audit-log-max-files '%s': want 0..1000",
                                                optarg);
                        o->audit_log_max_files = (int)n;
                        break;
                case OPT_RATE_LIMIT:
                        n = strtol(optarg, &end, 10);
                        if (*end || end == optarg || n < 0 || n > 1000000)
                                return bad_flag("invalid --rate-limit '%s': want 0..1000000 "
                                                "requests per second",
                                                optarg);
                        o->rate_limit = (double)n;
                        break;
                case OPT_HEADER_TIMEOUT:
                        if (duration_parse(optarg, &o->header_timeout_ms) < 0 ||
                            o->header_timeout_ms < 100 || o->header_timeout_ms > 3600 * 1000)
                                return bad_flag("invalid --request-header-timeout '%s': want a "
                                                "duration from 100ms to 1h",
                                                optarg);
                        break;
                case OPT_TLS_CERT:
                case OPT_TLS_KEY:
                case OPT_CLIENT_CA:
                        if (!optarg[0])
                                return bad_flag("invalid %s: empty", argv[optind - 1]);
                        if (c == OPT_TLS_CERT)
                                o->tls_cert = optarg;
                        else if (c == OPT_TLS_KEY)
                                o->tls_key = optarg;
                        else
                                o->client_ca = optarg;
                        break;
                case OPT_TLS_SAN:
                        if (o->n_tls_sans == PKI_EXTRA_SANS_MAX)
                                return bad_flag("too many --tls-san flags (max %d)",
                                                PKI_EXTRA_SANS_MAX);
                        o->tls_sans[o->n_tls_sans++] = optarg;
                        break;
                case OPT_SECRETS_DIR:
                        if (optarg[0] != '/')
                                return bad_flag("invalid --secrets-dir '%s': want an absolute "
                                                "path",
                                                optarg);
                        o->secrets_dir = optarg;
                        break;
                case OPT_EVENT_TTL:
                        if (duration_parse(optarg, &o->event_ttl_ms) < 0 || o->event_ttl_ms < 1000)
                                return bad_flag("invalid --event-ttl '%s': want a duration of at "
                                                "least 1s such as 1h",
                                                optarg);
                        break;
                case OPT_NOTIFIER_EXEC_DIR:
                        if (optarg[0] != '/')
                                return bad_flag("invalid --notifier-exec-dir '%s': want an "
                                                "absolute path",
                                                optarg);
                        if (o->n_notifier_exec_dirs == NOTIFIER_EXEC_DIRS_MAX)
                                return bad_flag("too many --notifier-exec-dir flags (max %d)",
                                                NOTIFIER_EXEC_DIRS_MAX);
                        o->notifier_exec_dirs[o->n_notifier_exec_dirs++] = optarg;
                        break;
                case OPT_PLUGIN_DIR:
                        o->plugin_dir = optarg;
                        break;
                case OPT_SSE_HEARTBEAT:
                        if (duration_parse(optarg, &o->sse_heartbeat_ms) < 0 ||
                            o->sse_heartbeat_ms < 100 || o->sse_heartbeat_ms > 3600 * 1000)
                                return bad_flag("invalid --sse-heartbeat '%s': want a duration "
                                                "from 100ms to 1h",
                                                optarg);
                        break;
                case OPT_VERSION:
                        printf("berthd %s\n", BERTH_VERSION);
                        return 0;
                case 'h':
                        usage(stdout);
                        return 0;
                case ':':
                        return bad_flag("option '%s' needs a value", argv[optind - 1]);
                default:
                        return bad_flag("unknown option '%s'", argv[optind - 1]);
                }
        }
        if (optind < argc)
                return bad_flag("unexpected argument '%s'", argv[optind]);
        if (o->leader_lease_ms < LEADER_MIN_LEASE_MS)
                return bad_flag("invalid --leader-lease: at least %ds", LEADER_MIN_LEASE_MS / 1000);
        if (o->leader_renew_ms >= o->leader_lease_ms)
                return bad_flag("invalid --leader-renew: must be shorter than --leader-lease");
        /* Plain HTTP has neither encryption nor authentication: whoever
         * reaches the port may do anything. Loopback only, and only when
         * asked for by name. */
        for (size_t i = 0; i < o->n_listen; i++) {
                if (str_has_prefix(o->listen[i], "unix://") ||
                    str_has_prefix(o->listen[i], "https://"))
                        continue;
                if (!o->insecure_http)
                        return bad_flag("--listen %s: plain HTTP serves the API without "
                                        "encryption or authentication: add --insecure-http "
                                        "(for tests; loopback only)",
                                        o->listen[i]);
                if (!listen_is_loopback(o->listen[i]))
                        return bad_flag("--listen %s: plain HTTP only on a loopback address "
                                        "(127.0.0.1, [::1] or localhost)",
                                        o->listen[i]);
        }
        if (!o->tls_cert != !o->tls_key)
                return bad_flag("--tls-cert and --tls-key go together");
        if (!o->https && (o->tls_cert || o->client_ca || o->n_tls_sans))
                return bad_flag("%s applies to https listeners: add --listen https://ADDR:PORT",
                                o->tls_cert    ? "--tls-cert"
                                : o->client_ca ? "--client-ca"
                                               : "--tls-san");
        if (o->tls_cert && o->n_tls_sans)
                return bad_flag("--tls-san names the generated certificate; with --tls-cert "
                                "the certificate's own SANs apply");
        if (o->n_listen == 0)
                o->listen[o->n_listen++] = DEFAULT_LISTEN;
        o->listen[o->n_listen] = NULL;
        return -1;
}

/* Prepares a unix listener path: creates its parent directory (0755) and
 * removes a socket file nobody listens on any more (left by a crash). Refuses
 * to take over a socket another daemon still answers on. */
static int prepare_unix_listener(const char *url)
{
        const char *path = url + strlen("unix://");
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (path[0] != '/' || str_copy(sa.sun_path, sizeof(sa.sun_path), path) < 0) {
                log_error("invalid listen address: want an absolute path shorter than %zu "
                          "bytes url=%s",
                          sizeof(sa.sun_path), url);
                return -EINVAL;
        }

        _cleanup_free_ char *dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (slash != dir) {
                *slash = '\0';
                int r = mkdir_p(dir, 0755);
                if (r < 0) {
                        log_error("cannot create socket directory %s: %s", dir, strerror(-r));
                        return r;
                }
        }

        int r = unix_socket_clear_stale(path);
        if (r == -EEXIST)
                log_error("cannot listen on %s: the path exists and is not a socket", path);
        else if (r == -EADDRINUSE)
                log_error("cannot listen on %s: another daemon is serving it", path);
        else if (r < 0)
                log_error("cannot remove stale socket %s: %s", path, strerror(-r));
        else if (r > 0)
                log_info("removed stale socket path=%s", path);
        return r < 0 ? r : 0;
}

/* Connects to the engine, retrying with backoff (250 ms doubling to 5 s) for up
 * to wait_ms: at boot berthd often starts before dockerd answers. */
static int docker_connect(const char *url, int64_t wait_ms, struct docker **ret,
                          struct berth_error *err)
{
        int64_t deadline = time_mono_ms() + wait_ms;
        int64_t delay = 250;
        for (;;) {
                int r = docker_new(url, ret, err);
                if (r == 0 || r == -EINVAL || r == -ENOMEM)
                        return r;
                int64_t left = deadline - time_mono_ms();
                if (left <= 0)
                        return r;
                log_info("waiting for docker: %s url=%s", err->message, url);
                sleep_ms(delay < left ? delay : left);
                delay = delay * 2 < 5000 ? delay * 2 : 5000;
        }
}

/* Leadership drives the controller's workers (called on the elector's thread). */
struct leadership {
        struct controller *controller;
        struct notify *notify;          /* delivers Notifiers while this replica leads */
        struct leader_elector *elector; /* NULL: no election, this replica acts alone */
        char identity[LEADER_ID_MAX];
};

static int on_started_leading(const struct store_guard *guard, void *userdata,
                              struct berth_error *err)
{
        struct leadership *l = userdata;
        /* Notifications start first: the workers' first Events find it
         * taking them. */
        notify_start(l->notify, guard);
        int r = controller_start_workers(l->controller, guard, err);
        if (r < 0)
                notify_stop(l->notify);
        return r;
}

static void on_stopped_leading(const char *reason _unused_, void *userdata)
{
        struct leadership *l = userdata;
        /* The workers' last Events are flushed to notify, which sends what
         * it can before it stops. */
        controller_stop_workers(l->controller);
        notify_stop(l->notify);
}

/* For the API: who leads. New reference. */
static json_t *leader_json(void *userdata)
{
        struct leadership *l = userdata;
        if (!l->elector)
                return json_pack("{s:s, s:b, s:b}", "holder", l->identity, "self", 1,
                                 "leaderElection", 0);
        struct leader_info info;
        leader_elector_info(l->elector, &info);
        char renew[RFC3339_MAX] = "";
        if (info.known && info.renew_ms > 0)
                time_format_rfc3339(info.renew_ms, renew);
        return json_pack("{s:o, s:b, s:I, s:o, s:s, s:b}", "holder",
                         info.known ? json_string(info.holder) : json_null(), "self", info.self,
                         "leaseDurationSeconds", (json_int_t)info.lease_duration_s, "renewTime",
                         renew[0] ? json_string(renew) : json_null(), "identity", l->identity,
                         "leaderElection", 1);
}

/* ---- metrics ----------------------------------------------------------- */

static struct metrics_family build_info =
    METRICS_GAUGE_INIT("berth_build_info", "berthd's version, as a label; always 1.", "version");

/* berth_leader at scrape time (a collector): 1 while this replica runs the
 * controllers — it holds the lease, or there is no election. */
static void collect_leader(struct metrics_writer *w, void *userdata)
{
        struct leadership *l = userdata;
        bool self = true;
        if (l->elector) {
                struct leader_info info;
                leader_elector_info(l->elector, &info);
                self = info.self;
        }
        metrics_write_family(w, "berth_leader",
                             "1 while this replica leads (runs the controllers), else 0.",
                             METRICS_GAUGE);
        metrics_write_sample(w, "berth_leader", NULL, self ? 1 : 0);
}

/* The Docker engine tracker's view at scrape time (a collector; docker.h). */
static void collect_docker_engine(struct metrics_writer *w, void *userdata)
{
        struct docker_engine_status st;
        docker_engine_status(userdata, &st);
        metrics_write_family(w, "berth_docker_engine_up",
                             "0 while the Docker engine does not answer (calls fail at once), "
                             "else 1.",
                             METRICS_GAUGE);
        metrics_write_sample(w, "berth_docker_engine_up", NULL, st.answering ? 1 : 0);
        metrics_write_family(w, "berth_docker_oldest_call_seconds",
                             "Age of the oldest Docker call in flight (0: none).", METRICS_GAUGE);
        metrics_write_sample(w, "berth_docker_oldest_call_seconds", NULL,
                             (double)st.oldest_call_ms / 1000.0);
        metrics_write_family(w, "berth_docker_inflight_limit",
                             "How many Docker calls may be in flight at once (adaptive; 1 while "
                             "the engine is probed).",
                             METRICS_GAUGE);
        metrics_write_sample(w, "berth_docker_inflight_limit", NULL, st.limit);
        metrics_write_family(w, "berth_docker_inflight_calls",
                             "Docker calls in flight (holding a slot of the limit).",
                             METRICS_GAUGE);
        metrics_write_sample(w, "berth_docker_inflight_calls", NULL, st.in_flight);
        metrics_write_family(w, "berth_docker_inflight_limit_changes_total",
                             "Adjustments of the adaptive in-flight limit.", METRICS_COUNTER);
        metrics_write_sample(w, "berth_docker_inflight_limit_changes_total", NULL,
                             (double)st.limit_changes);
}

/* The event recorder's counters at scrape time (a collector). */
static void collect_events(struct metrics_writer *w, void *userdata)
{
        uint64_t written = 0, dropped = 0;
        size_t queued = 0;
        events_stats(userdata, &written, &dropped, &queued);
        metrics_write_family(w, "berth_events_written_total",
                             "Events written to the store (new ones and updates of repeats).",
                             METRICS_COUNTER);
        metrics_write_sample(w, "berth_events_written_total", NULL, (double)written);
        metrics_write_family(w, "berth_events_dropped_total",
                             "Events dropped: queue full, not the leader, or a store error.",
                             METRICS_COUNTER);
        metrics_write_sample(w, "berth_events_dropped_total", NULL, (double)dropped);
        metrics_write_family(w, "berth_events_queued", "Events waiting to be written.",
                             METRICS_GAUGE);
        metrics_write_sample(w, "berth_events_queued", NULL, (double)queued);
}

/* ---- HTTPS ------------------------------------------------------------- */

/* How often a generated certificate is checked for renewal. */
#define TLS_RENEW_CHECK_MS (12 * 60 * 60 * 1000)

/* HTTPS as main set it up; SIGHUP and the renewal timer use it. */
struct tls_setup {
        bool generated; /* the files are pki_ensure's, under dir */
        char *dir;      /* <data-dir>/tls */
        char *cert, *key, *client_ca, *admin_token_file;
        /* SANs of the generated certificate: --tls-san, then the listeners'
         * addresses (their text in hosts). */
        const char *sans[PKI_EXTRA_SANS_MAX];
        size_t n_sans;
        char hosts[LISTEN_MAX][256];
        struct api_server *api; /* once it runs */
};

static void tls_setup_release(struct tls_setup *t)
{
        free(t->dir);
        free(t->cert);
        free(t->key);
        free(t->client_ca);
        free(t->admin_token_file);
}

static void secret_freep(char **p)
{
        if (*p) {
                explicit_bzero(*p, strlen(*p));
                free(*p);
        }
}

/* The host of "https://HOST:PORT" into host (without an IPv6 address's
 * brackets) and the port's text; -EINVAL when it is not of that form. */
static int listen_host(const char *url, char *host, size_t size, const char **ret_port)
{
        const char *hp = strstr(url, "://");
        hp = hp ? hp + 3 : url;
        const char *colon = strrchr(hp, ':');
        if (!colon || colon == hp || !colon[1])
                return -EINVAL;
        size_t n = (size_t)(colon - hp);
        if (n >= 2 && hp[0] == '[' && hp[n - 1] == ']') {
                hp++;
                n -= 2;
        }
        if (n == 0 || n >= size)
                return -EINVAL;
        memcpy(host, hp, n);
        host[n] = '\0';
        *ret_port = colon + 1;
        return 0;
}

static bool host_is_wildcard(const char *host)
{
        return streq(host, "0.0.0.0") || streq(host, "::");
}

/* <data-dir>/admin.conf: the admin's client config, written only when it is
 * missing (0600; link(2) of a complete temporary file, so a crash leaves no
 * half-written one and an existing file is never replaced). The server is
 * the first https listener (a wildcard address as 127.0.0.1). */
static int write_admin_conf(const struct options *o, const struct tls_setup *t, const char *token)
{
        _cleanup_free_ char *path = str_printf("%s/admin.conf", o->data_dir);
        if (!path)
                return -ENOMEM;
        if (access(path, F_OK) == 0)
                return 0;

        char host[256];
        const char *port = NULL;
        for (size_t i = 0; i < o->n_listen && !port; i++)
                if (str_has_prefix(o->listen[i], "https://"))
                        (void)listen_host(o->listen[i], host, sizeof(host), &port);
        if (!port)
                return -EINVAL;
        if (host_is_wildcard(host))
                snprintf(host, sizeof(host), "127.0.0.1");
        bool v6 = strchr(host, ':') != NULL;
        _cleanup_free_ char *ca = t->generated ? realpath(t->dir, NULL) : NULL;
        _cleanup_(secret_freep) char *text = str_printf(
            "# berth client config for system:admin (written once by berthd; keep it secret)\n"
            "server: https://%s%s%s:%s\n"
            "%s%s%s%s"
            "token: %s\n",
            v6 ? "[" : "", host, v6 ? "]" : "", port, ca ? "certificate-authority: " : "",
            ca ? ca : "", ca ? "/" PKI_CA_CERT : "", ca ? "\n" : "", token);
        _cleanup_free_ char *tmp = str_printf("%s.tmp.XXXXXX", path);
        if (!text || !tmp)
                return -ENOMEM;
        _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
        if (fd < 0)
                return -errno;
        size_t len = strlen(text), off = 0;
        int r = 0;
        while (r == 0 && off < len) {
                ssize_t k = write(fd, text + off, len - off);
                if (k < 0 && errno != EINTR)
                        r = -errno;
                else if (k > 0)
                        off += (size_t)k;
        }
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (r == 0 && link(tmp, path) < 0 && errno != EEXIST)
                r = -errno;
        unlink(tmp);
        if (r == 0)
                log_info("wrote the admin's client config path=%s", path);
        return r;
}

/* Certificates (given, or made under <data-dir>/tls), the admin token and
 * admin.conf, for the https listeners. Logs what fails. */
static int tls_prepare(const struct options *o, struct tls_setup *t)
{
        struct berth_error err = {0};

        t->dir = str_printf("%s/tls", o->data_dir);
        t->admin_token_file = str_printf("%s/tls/%s", o->data_dir, PKI_ADMIN_TOKEN);
        if (!t->dir || !t->admin_token_file)
                goto oom;
        for (size_t i = 0; i < o->n_tls_sans; i++)
                t->sans[t->n_sans++] = o->tls_sans[i];
        /* A listener's own address must be in its certificate: clients
         * connect to it by that name. */
        for (size_t i = 0; i < o->n_listen && t->n_sans < PKI_EXTRA_SANS_MAX; i++) {
                const char *port;
                if (str_has_prefix(o->listen[i], "https://") &&
                    listen_host(o->listen[i], t->hosts[i], sizeof(t->hosts[i]), &port) == 0 &&
                    !host_is_wildcard(t->hosts[i]))
                        t->sans[t->n_sans++] = t->hosts[i];
        }

        if (o->tls_cert) {
                t->cert = strdup(o->tls_cert);
                t->key = strdup(o->tls_key);
                t->client_ca = o->client_ca ? strdup(o->client_ca) : NULL;
                if (!t->cert || !t->key || (o->client_ca && !t->client_ca))
                        goto oom;
        } else {
                int made = pki_ensure(t->dir, t->sans, t->n_sans, &err);
                if (made < 0) {
                        log_error("cannot prepare the https certificate: %s", err.message);
                        return made;
                }
                t->generated = true;
                t->cert = str_printf("%s/%s", t->dir, PKI_SERVER_CERT);
                t->key = str_printf("%s/%s", t->dir, PKI_SERVER_KEY);
                t->client_ca =
                    o->client_ca ? strdup(o->client_ca) : str_printf("%s/%s", t->dir, PKI_CA_CERT);
                if (!t->cert || !t->key || !t->client_ca)
                        goto oom;
                if (made & PKI_MADE_CA)
                        log_info("made a CA for https: clients trust it with "
                                 "certificate-authority path=%s/%s",
                                 t->dir, PKI_CA_CERT);
                if (made & PKI_MADE_SERVER)
                        log_info("issued the https server certificate path=%s", t->cert);
        }

        _cleanup_(secret_freep) char *token = NULL;
        int r = pki_admin_token_ensure(t->dir, &token, &err);
        if (r < 0) {
                log_error("cannot prepare the admin token: %s", err.message);
                return r;
        }
        if (r > 0)
                log_info("made the admin token path=%s", t->admin_token_file);
        r = write_admin_conf(o, t, token);
        if (r < 0) {
                log_error("cannot write %s/admin.conf: %s", o->data_dir, strerror(-r));
                return r;
        }
        return 0;
oom:
        log_error("out of memory");
        return -ENOMEM;
}

/* Renews a generated certificate that is due (pki_ensure), then has the
 * server read the files again. Loop thread; blocks for the file writes and
 * a key generation (about a millisecond). */
static int tls_reload(struct tls_setup *t, bool only_if_renewed)
{
        struct berth_error err = {0};
        bool renewed = false;

        if (t->generated) {
                int r = pki_ensure(t->dir, t->sans, t->n_sans, &err);
                if (r < 0) {
                        log_error("tls reload failed: %s", err.message);
                        return r;
                }
                renewed = r & PKI_MADE_SERVER;
                if (renewed)
                        log_info("renewed the https server certificate path=%s", t->cert);
        }
        if (only_if_renewed && !renewed)
                return 0;
        int r = api_server_reload_tls(t->api, &err);
        if (r < 0) {
                log_error("tls reload failed: %s", err.message);
                return r;
        }
        log_info("tls reloaded cert=%s", t->cert);
        return 0;
}

static void plugin_refused(const char *path, const char *why, void *userdata _unused_)
{
        log_error("plugin %s refused: %s", path, why);
}

static void plugin_log(const char *plugin, int level, const char *message, void *userdata _unused_)
{
        if (level <= 0)
                log_error("plugin %s: %s", plugin, message);
        else if (level == 1)
                log_warn("plugin %s: %s", plugin, message);
        else if (level == 2)
                log_info("plugin %s: %s", plugin, message);
        else
                log_debug("plugin %s: %s", plugin, message);
}

static void on_sighup(evutil_socket_t sig _unused_, short events _unused_, void *userdata)
{
        struct tls_setup *t = userdata;
        if (!t->api) {
                log_info("received SIGHUP: no https listener, nothing to reload");
                return;
        }
        log_info("received SIGHUP, reloading tls");
        (void)tls_reload(t, false);
}

static void on_tls_renew_timer(evutil_socket_t fd _unused_, short events _unused_, void *userdata)
{
        (void)tls_reload(userdata, true);
}

static void on_signal(evutil_socket_t sig, short events _unused_, void *userdata)
{
        log_info("received %s, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        event_base_loopexit(userdata, NULL);
}

/* glibc's malloc, tuned for a daemon whose memory is the object cache
 * (docs/internals/performance-cache.md has the measurements): a fixed mmap
 * threshold. glibc raises it after every large free (up to 32 MiB), after
 * which the multi-megabyte bodies of big lists land in the heap and stay
 * there once freed; fixed, they are mapped and unmapped. The arenas are
 * glibc's default: held to two, the workers' allocations wait on the arena
 * locks (CPU per Task lifecycle +15-50%) and 10,000 cached Tasks take the
 * same 32 MB. MALLOC_MMAP_THRESHOLD_ in the environment still wins. */
static void malloc_tune(void)
{
        if (!getenv("MALLOC_MMAP_THRESHOLD_"))
                (void)mallopt(M_MMAP_THRESHOLD, 256 * 1024);
}

int main(int argc, char **argv)
{
        malloc_tune();
        struct options o;
        int code = parse_args(argc, argv, &o);
        if (code >= 0)
                return code;

        log_setup(o.log_level, o.log_format, NULL);
        signal(SIGPIPE, SIG_IGN);
        /* Until the loop handles it: a SIGHUP during start-up must not stop
         * berthd. */
        signal(SIGHUP, SIG_IGN);

        _cleanup_free_ char *default_store = NULL;
        const char *store_url = o.store;
        if (!store_url) {
                default_store = str_printf("sqlite:%s/berth.db", o.data_dir);
                if (!default_store) {
                        log_error("out of memory");
                        return 1;
                }
                store_url = default_store;
        }
        const char *docker_url_s = o.docker;
        if (!docker_url_s) {
                const char *env = getenv("DOCKER_HOST");
                docker_url_s = env && env[0] ? env : DEFAULT_DOCKER;
        }

        struct event_base *base = NULL;
        struct event *sigterm = NULL, *sigint = NULL, *sighup = NULL, *renew = NULL;
        _cleanup_(tls_setup_release) struct tls_setup tls = {0};
        struct store *store = NULL;
        struct docker *docker = NULL;
        struct controller *controller = NULL;
        struct leadership leadership = {0};
        _cleanup_free_ char *leader_key = NULL;
        /* docker-exec Tasks' output, one file per attempt. */
        _cleanup_free_ char *exec_logs_dir = str_printf("%s/exec-logs", o.data_dir);
        struct api_server *api = NULL;
        struct secrets_keyring *keyring = NULL;
        struct events_recorder *events = NULL;
        struct notify *notify = NULL;
        struct plugins *plugins = NULL;
        struct berth_error err;
        berth_error_clear(&err);
        int r;
        code = 1;

        r = exec_logs_dir ? mkdir_p(o.data_dir, 0700) : -ENOMEM;
        if (r < 0) {
                log_error("cannot create data directory %s: %s", o.data_dir, strerror(-r));
                goto out;
        }
        /* Without its keys no Secret can be read or written: refuse to start
         * rather than serve some and fail others. */
        r = secrets_keyring_load(o.data_dir, &keyring, &err);
        if (r < 0) {
                log_error("cannot load the secrets key file: %s", err.message);
                goto out;
        }
        log_info("secrets keyring loaded keys=%zu active=%s", secrets_keyring_size(keyring),
                 secrets_keyring_active_id(keyring));
        /* Secret volumes need a tmpfs: without one they are refused (a Task
         * that has one says why), never written to a disk. */
        const char *secrets_dir = o.secrets_dir;
        char secrets_dir_error[BERTH_ERROR_MESSAGE_MAX] = "";
        bool secrets_mounted = false;
        if (secrets_dir_prepare(secrets_dir, &secrets_mounted, &err) < 0) {
                log_error("secret volumes are disabled: %s", err.message);
                snprintf(secrets_dir_error, sizeof(secrets_dir_error), "%s", err.message);
                secrets_dir = NULL;
        } else if (secrets_mounted) {
                log_info("mounted a tmpfs for secret volumes dir=%s size=%s", secrets_dir,
                         SECRETS_DIR_TMPFS_SIZE);
        }
        for (size_t i = 0; i < o.n_listen; i++)
                if (str_has_prefix(o.listen[i], "unix://") &&
                    prepare_unix_listener(o.listen[i]) < 0)
                        goto out;
        if (o.https && tls_prepare(&o, &tls) < 0)
                goto out;

        if (evthread_use_pthreads() < 0) {
                log_error("cannot enable libevent threading");
                goto out;
        }
        base = event_base_new();
        if (!base) {
                log_error("cannot create event loop");
                goto out;
        }

        /* Plugins: refused ones are logged and left out; berthd runs on.
         * Before the store: a store plugin is the backend of its scheme. */
        r = plugins_load(o.plugin_dir, plugin_refused, plugin_log, NULL, &plugins, &err);
        if (r < 0) {
                log_error("cannot load plugins: %s", err.message);
                goto out;
        }
        for (size_t i = 0; i < plugins_count(plugins); i++)
                log_info("plugin loaded name=%s", plugins_name(plugins, i));

        r = store_open(store_url, &store, &err);
        if (r < 0) {
                log_error("cannot open store %s: %s", store_url, err.message);
                goto out;
        }

        r = docker_connect(docker_url_s, o.docker_wait_ms, &docker, &err);
        if (r < 0) {
                log_error("cannot connect to docker %s: %s", docker_url_s, err.message);
                goto out;
        }
        if (o.docker_inflight > 0)
                docker_engine_fix_limit(docker, o.docker_inflight);
        log_info("connected to docker url=%s api=%s inflight=%s", docker_url(docker),
                 docker_api_version(docker), o.docker_inflight > 0 ? "fixed" : "adaptive");

        bool on_etcd =
            str_has_prefix(store_url, "etcd://") || str_has_prefix(store_url, "etcds://");
        bool leader_elect = o.leader_elect >= 0 ? o.leader_elect == 1 : on_etcd;
        if (o.leader_id)
                str_copy(leadership.identity, sizeof(leadership.identity), o.leader_id);
        else if (leader_default_identity(leadership.identity) < 0)
                str_copy(leadership.identity, sizeof(leadership.identity), "berthd");

        size_t n_plugin_types = 0;
        const struct notify_type *plugin_types = plugins_notify_types(plugins, &n_plugin_types);
        size_t n_plugin_executors = 0;
        const struct plugin_executor *plugin_executors =
            plugins_executors(plugins, &n_plugin_executors);

        const struct admission_policy admission = {
            .notifier_plugins = plugins_notifier_names(plugins),
            .allow_host_network = o.allow_host_network,
            .allow_docker_exec = o.allow_docker_exec,
            .host_path_roots = o.host_paths,
            .n_host_path_roots = o.n_host_paths,
            .notifier_exec_dirs = o.notifier_exec_dirs,
            .n_notifier_exec_dirs = o.n_notifier_exec_dirs,
        };
        /* Events: written by whichever replica runs the controllers (the
         * controller starts and stops the recorder with its workers). */
        const struct events_config ecfg = {
            .store = store,
            .prefix = o.prefix,
            .host = leadership.identity,
            .ttl_ms = o.event_ttl_ms,
        };
        r = events_recorder_new(&ecfg, &events, &err);
        if (r < 0) {
                log_error("cannot start the event recorder: %s", err.message);
                goto out;
        }
        struct controller_config ccfg = {
            .store = store,
            .docker = docker,
            .prefix = o.prefix,
            .workers = o.workers,
            .resync_ms = o.resync_ms,
            .compact_ms = o.compact_ms,
            .standby = leader_elect,
            .source_roots = o.source_roots,
            .n_source_roots = o.n_source_roots,
            .build_roots = o.build_roots,
            .n_build_roots = o.n_build_roots,
            .admission = &admission,
            .secrets = keyring,
            .secrets_dir = secrets_dir,
            .secrets_dir_error = secrets_dir_error[0] ? secrets_dir_error : NULL,
            .exec_logs_dir = exec_logs_dir,
            .events = events,
            .max_running = o.max_running,
            .plugin_executors = plugin_executors,
            .n_plugin_executors = n_plugin_executors,
        };
        r = controller_new(&ccfg, &controller, &err);
        if (r < 0) {
                log_error("cannot start controller: %s", err.message);
                goto out;
        }
        leadership.controller = controller;
        /* Notifications: fed with every Event the recorder writes (so only
         * where the controllers run), their statuses written under the
         * workers' fence. */
        const struct notify_config ncfg = {
            .objects = controller_objects(controller),
            .store = store,
            .prefix = o.prefix,
            .secrets = keyring,
            .admission = &admission,
            .plugins = plugin_types,
            .n_plugins = n_plugin_types,
        };
        r = notify_new(&ncfg, &notify, &err);
        if (r < 0 || events_subscribe(events, notify_event, notify) < 0) {
                log_error("cannot start notifications: %s",
                          r < 0 ? err.message : "no subscriber slot");
                goto out;
        }
        leadership.notify = notify;
        for (size_t i = 0; i < o.n_notifier_exec_dirs; i++)
                log_info("exec notifiers may run programs dir=%s", o.notifier_exec_dirs[i]);
        /* Without an election the workers run already (controller_new):
         * the Events of its first reconciles went unnoticed. */
        if (!leader_elect)
                notify_start(notify, NULL);
        if (leader_elect) {
                leader_key = str_printf("%s%s", o.prefix, LEADER_KEY);
                if (!leader_key) {
                        log_error("out of memory");
                        goto out;
                }
                struct leader_config lcfg = {
                    .store = store,
                    .key = leader_key,
                    .identity = leadership.identity,
                    .lease_ms = o.leader_lease_ms,
                    .renew_ms = o.leader_renew_ms,
                    .retry_ms = o.leader_retry_ms,
                    .started_leading = on_started_leading,
                    .stopped_leading = on_stopped_leading,
                    .userdata = &leadership,
                };
                r = leader_elector_new(&lcfg, &leadership.elector, &err);
                if (r < 0) {
                        log_error("cannot start leader election: %s", err.message);
                        goto out;
                }
                log_info("leader election started id=%s key=%s lease=%lldms renew=%lldms "
                         "retry=%lldms",
                         leadership.identity, leader_key, (long long)o.leader_lease_ms,
                         (long long)o.leader_renew_ms, (long long)o.leader_retry_ms);
        }

        metrics_gauge_set(&build_info, (const char *const[]){BERTH_VERSION}, 1);
        if (metrics_register_collector(metrics_process_collect, NULL) < 0 ||
            metrics_register_collector(collect_leader, &leadership) < 0 ||
            metrics_register_collector(collect_events, events) < 0 ||
            metrics_register_collector(collect_docker_engine, docker) < 0) {
                log_error("cannot register the metrics collectors");
                goto out;
        }

        struct api_config acfg = {
            .base = base,
            .store = store,
            .objects = controller_objects(controller),
            .containers = controller_containers(controller),
            .docker = docker,
            .prefix = o.prefix,
            .cluster = controller_cluster_id(controller),
            .listen = o.listen,
            .tls_cert = tls.cert,
            .tls_key = tls.key,
            .client_ca = tls.client_ca,
            .admin_token_file = tls.admin_token_file,
            .leader = leader_json,
            .leader_userdata = &leadership,
            .source_roots = o.source_roots,
            .n_source_roots = o.n_source_roots,
            .build_roots = o.build_roots,
            .n_build_roots = o.n_build_roots,
            .admission = &admission,
            .secrets = keyring,
            .audit_log = o.audit_log,
            .audit_log_max_size = o.audit_log_max_size,
            .audit_log_max_files = o.audit_log_max_files,
            .rate_limit = o.rate_limit,
            .heartbeat_interval_ms = (int)o.sse_heartbeat_ms,
            .header_timeout_ms = o.header_timeout_ms,
            .task_exec_logs = controller_task_exec_logs,
            .task_exec_logs_userdata = controller,
        };
        r = api_server_new(&acfg, &api, &err);
        if (r < 0) {
                log_error("cannot start api server: %s", err.message);
                goto out;
        }
        if (apply_watch_dirs(store, o.prefix, o.watch_dirs, o.n_watch_dirs) < 0)
                goto out;
        /* controller_new returned only after both caches synced. */
        api_server_set_ready(api, true);

        if (o.https)
                tls.api = api;
        sigterm = evsignal_new(base, SIGTERM, on_signal, base);
        sigint = evsignal_new(base, SIGINT, on_signal, base);
        sighup = evsignal_new(base, SIGHUP, on_sighup, &tls);
        if (!sigterm || !sigint || !sighup || evsignal_add(sigterm, NULL) < 0 ||
            evsignal_add(sigint, NULL) < 0 || evsignal_add(sighup, NULL) < 0) {
                log_error("cannot install signal handlers");
                goto out;
        }
        if (tls.generated) {
                /* A generated certificate is renewed before it ends (pki.h),
                 * also in a berthd that runs for a year. */
                const struct timeval every = {.tv_sec = TLS_RENEW_CHECK_MS / 1000};
                renew = event_new(base, -1, EV_PERSIST, on_tls_renew_timer, &tls);
                if (!renew || event_add(renew, &every) < 0) {
                        log_error("cannot start the certificate renewal timer");
                        goto out;
                }
        }

        log_info("berthd started version=%s store=%s docker=%s listen=%s%s", BERTH_VERSION,
                 store_url, docker_url(docker), o.listen[0], o.n_listen > 1 ? ",..." : "");
        if (event_base_dispatch(base) < 0) {
                log_error("event loop failed");
                goto out;
        }
        code = 0;

out:
        if (sigterm)
                event_free(sigterm);
        if (sigint)
                event_free(sigint);
        if (sighup)
                event_free(sighup);
        if (renew)
                event_free(renew);
        api_server_free(api);
        metrics_unregister_collector(collect_docker_engine, docker);
        metrics_unregister_collector(collect_events, events);
        metrics_unregister_collector(collect_leader, &leadership);
        metrics_unregister_collector(metrics_process_collect, NULL);
        /* A leader stops its workers, then revokes its lease: a follower takes over. */
        leader_elector_free(leadership.elector);
        /* Before the object cache goes: notify reads it. Its last Events
         * are flushed to it first (a no-op when they stopped already). */
        if (controller)
                controller_stop_workers(controller);
        notify_stop(notify);
        notify_free(notify);
        controller_free(controller);
        events_recorder_free(events);
        docker_free(docker);
        store_free(store);
        /* After the store, which may be one of theirs. */
        plugins_free(plugins);
        secrets_keyring_free(keyring);
        if (base)
                event_base_free(base);
        libevent_global_shutdown();
        if (code == 0)
                log_info("berthd stopped");
        return code;
}
