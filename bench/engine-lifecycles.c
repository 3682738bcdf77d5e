/* engine-lifecycles: how many trivial container lifecycles per second a
 * client that does nothing but the Engine API calls gets from an engine —
 * the baseline bench/controller.sh sets berthd's rate against (on the fake
 * engine, what the engine and HTTP cost without a controller).
 *
 * Each lifecycle makes the calls berthd makes for a Task of `true` (on
 * kept-alive connections, with a create body shaped like berthd's): create
 * the container (named, labelled), start it, inspect it (the image is
 * inspected once per thread: berthd remembers it);
 * one still running is waited for (POST /wait), as berthd waits for its die
 * event. Containers are left in place, as berthd leaves a finished Task's.
 *
 * Prints one line: "lifecycles N seconds S rate R/s failures F".
 * Usage: engine-lifecycles [-n 10000] [-c 8] [--label K=V] [--image busybox:latest] SOCKET
 */
#include <curl/curl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>

#include "common.h"

#define WORKERS_MAX 64

struct run {
        const char *socket;
        const char *image;
        const char *label; /* "key=value" */
        int n, concurrency;
        atomic_int next;
        atomic_int failures;
        char prefix[32]; /* of container names: unique per run */
};

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
        return buf_append(ud, p, size * n) < 0 ? 0 : size * n;
}

/* One request on the worker's handle (its kept-alive connection); the HTTP
 * status, or -1; the body in *out. */
static long request(CURL *c, const char *sock, const char *method, const char *path,
                    const char *body, struct buf *out)
{
        char url[1024];
        struct curl_slist *h = NULL;

        buf_reset(out);
        curl_easy_reset(c);
        snprintf(url, sizeof(url), "http://docker/v1.41%s", path);
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
        curl_easy_setopt(c, CURLOPT_URL, url);
        if (streq(method, "POST")) {
                curl_easy_setopt(c, CURLOPT_POST, 1L);
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        } else if (!streq(method, "GET")) {
                curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        }
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
        long status = -1;
        if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(h);
        return status;
}

static int lifecycle(struct run *r, CURL *c, int i, bool inspect_image, struct buf *out)
{
        char path[512], body[2048];
        _cleanup_free_ char *image = curl_easy_escape(NULL, r->image, 0);
        const char *eq = strchr(r->label, '=');

        if (!image || !eq)
                return -1;
        if (inspect_image) {
                snprintf(path, sizeof(path), "/images/%s/json", image);
                if (request(c, r->socket, "GET", path, NULL, out) != 200)
                        return -1;
        }
        /* The labels berthd puts on a Task's container, and its HostConfig. */
        snprintf(body, sizeof(body),
                 "{\"Image\":\"%s\",\"Entrypoint\":[\"true\"],\"Labels\":{\"%.*s\":\"%s\","
                 "\"berth.managed\":\"true\",\"berth.kind\":\"Task\",\"berth.namespace\":"
                 "\"bench\",\"berth.name\":\"t%d\",\"berth.uid\":"
                 "\"0123456789abcdef0123456789abcdef\",\"berth.attempt\":\"1\","
                 "\"berth.generation\":\"1\"},\"HostConfig\":{\"NetworkMode\":\"none\"}}",
                 r->image, (int)(eq - r->label), r->label, eq + 1, i);
        snprintf(path, sizeof(path), "/containers/create?name=%s-%d", r->prefix, i);
        if (request(c, r->socket, "POST", path, body, out) != 201)
                return -1;
        _cleanup_json_ json_t *created = json_loadb(out->data, out->len, 0, NULL);
        const char *id = json_string_value(json_object_get(created, "Id"));
        if (!id)
                return -1;
        snprintf(path, sizeof(path), "/containers/%s/start", id);
        if (request(c, r->socket, "POST", path, NULL, out) != 204)
                return -1;
        snprintf(path, sizeof(path), "/containers/%s/json", id);
        if (request(c, r->socket, "GET", path, NULL, out) != 200)
                return -1;
        _cleanup_json_ json_t *inspected = json_loadb(out->data, out->len, 0, NULL);
        const char *state = json_path_string(inspected, "State.Status");
        if (!state)
                return -1;
        if (!streq(state, "exited")) {
                snprintf(path, sizeof(path), "/containers/%s/wait", id);
                if (request(c, r->socket, "POST", path, NULL, out) != 200)
                        return -1;
        }
        return 0;
}

static void *worker(void *arg)
{
        struct run *r = arg;
        _cleanup_buf_ struct buf out;
        CURL *c = curl_easy_init();
        bool first = true;
        int i;

        buf_init(&out, 1 << 20);
        if (!c) {
                atomic_fetch_add(&r->failures, 1);
                return NULL;
        }
        while ((i = atomic_fetch_add(&r->next, 1)) < r->n)
                if (lifecycle(r, c, i, first, &out) < 0)
                        atomic_fetch_add(&r->failures, 1);
                else
                        first = false;
        curl_easy_cleanup(c);
        return NULL;
}

static int parse_int(const char *s, int min, int max, int *ret)
{
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || *end || end == s || v < min || v > max)
                return -EINVAL;
        *ret = (int)v;
        return 0;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
            {"label", required_argument, NULL, 'l'},
            {"image", required_argument, NULL, 'i'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        struct run r = {.n = 10000,
                        .concurrency = 8,
                        .image = "busybox:latest",
                        .label = "berth.bench=engine-lifecycles"};
        pthread_t threads[WORKERS_MAX];
        int c, started = 0;

        while ((c = getopt_long(argc, argv, "n:c:h", opts, NULL)) != -1) {
                switch (c) {
                case 'n':
                        if (parse_int(optarg, 1, 10000000, &r.n) < 0)
                                goto usage;
                        break;
                case 'c':
                        if (parse_int(optarg, 1, WORKERS_MAX, &r.concurrency) < 0)
                                goto usage;
                        break;
                case 'l':
                        r.label = optarg;
                        break;
                case 'i':
                        r.image = optarg;
                        break;
                case 'h':
                default:
                        goto usage;
                }
        }
        if (optind != argc - 1 || !strchr(r.label, '='))
                goto usage;
        r.socket = argv[optind];
        snprintf(r.prefix, sizeof(r.prefix), "lc%lld", (long long)(time_now_ms() % 100000000));
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return 1;

        int64_t t0 = time_mono_ms();
        for (int i = 0; i < r.concurrency; i++)
                if (pthread_create(&threads[i], NULL, worker, &r) == 0)
                        started++;
        for (int i = 0; i < started; i++)
                pthread_join(threads[i], NULL);
        double secs = (double)(time_mono_ms() - t0) / 1000.0;
        int failures = atomic_load(&r.failures) + (r.concurrency - started);

        printf("lifecycles %d seconds %.3f rate %.0f/s failures %d\n", r.n, secs,
               secs > 0 ? r.n / secs : 0.0, failures);
        curl_global_cleanup();
        return failures ? 1 : 0;
usage:
        fprintf(stderr,
                "usage: engine-lifecycles [-n N (1..10000000)] [-c CONCURRENCY (1..%d)] "
                "[--label KEY=VALUE] [--image IMAGE] SOCKET\n",
                WORKERS_MAX);
        return c == 'h' ? 0 : 2;
}
