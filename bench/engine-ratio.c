/* engine-ratio: how close berth gets to the raw Docker engine.
 *
 * Runs N trivial lifecycles (busybox `true`, network none) twice in one run, at
 * the same concurrency:
 *   engine  create + start + wait + remove, straight against the Engine API
 *   berth   a Task with ttlSecondsAfterFinished 0 created through the berth API,
 *           counted done when the Task is gone (container created, started, its
 *           exit observed, status written, container removed, Task deleted)
 * and prints both rates and their ratio as the last line:
 *   berth 4.1/s engine 4.4/s ratio 0.93
 *
 * With --running, the lifecycle is "reach Running" instead: the engine phase
 * creates and starts N `sleep 3600` containers (then removes them, untimed),
 * the berth phase creates N such Tasks through the API (at most -c requests
 * at a time, as a burst: berth's own limits decide how fast they start) and
 * counts a Task when its watch shows phase Running. The berth phase's Tasks
 * are left running (named bench-I-RUN, label berth.bench=running) for the
 * caller to measure and delete. --engine-only skips the berth phase (to find
 * the engine's best concurrency).
 *
 * Usage: engine-ratio [-n 60] [-c 8] [--running] [--engine-only]
 *                     [--server unix:///run/berth/berth.sock]
 *                     [--docker unix:///var/run/docker.sock] [--image busybox:latest]
 * berthd must be running at --server; the namespace "bench" is used.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>

#include "common.h"

struct http {
        CURL *curl;
        const char *base; /* "http://localhost" */
        char socket[256];
};

struct bench {
        int n, concurrency;
        bool running;     /* lifecycle = reach Running (see the top) */
        bool engine_only; /* no berth phase */
        const char *image;
        char docker_socket[256];
        char berth_socket[256];
        atomic_int next;
        atomic_int failures;
        /* berth phase: tasks in flight, signalled by the watch thread */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        int in_flight, done;
        char **counted; /* --running: names seen Running (each counts once) */
        int n_counted;
        atomic_bool stop_watch;
        char run_suffix[32];
};

static int socket_path(const char *url, char *out, size_t size)
{
        if (!str_has_prefix(url, "unix://"))
                return -EINVAL;
        return str_copy(out, size, url + strlen("unix://"));
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
        return buf_append(ud, p, size * n) < 0 ? 0 : size * n;
}

/* One request on the caller's handle (kept-alive connection, like berth's own
 * clients); returns the HTTP status (or -1) and the body in *out. */
static long request(CURL *c, const char *sock, const char *method, const char *path,
                    const char *body, struct buf *out)
{
        curl_easy_reset(c);
        char url[1024];
        snprintf(url, sizeof(url), "http://localhost%s", path);
        struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        if (body)
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
        long status = -1;
        if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(h);
        return status;
}

/* ---- engine phase ----------------------------------------------------- */

/* One create + start; the container's id (caller frees) or NULL. */
static char *engine_create_start(CURL *c, const char *sock, const char *body)
{
        _cleanup_buf_ struct buf out;
        char path[256];
        buf_init(&out, 1 << 20);
        if (request(c, sock, "POST", "/containers/create", body, &out) != 201)
                return NULL;
        _cleanup_json_ json_t *j = json_loads(out.data, 0, NULL);
        const char *id = json_path_string(j, "Id");
        if (!id)
                return NULL;
        snprintf(path, sizeof(path), "/containers/%s/start", id);
        buf_reset(&out);
        return request(c, sock, "POST", path, NULL, &out) == 204 ? strdup(id) : NULL;
}

/* One create + start + wait + remove; 0 or -1. */
static int engine_lifecycle(CURL *c, const char *sock, const char *body)
{
        _cleanup_free_ char *id = engine_create_start(c, sock, body);
        _cleanup_buf_ struct buf out;
        char path[256];
        if (!id)
                return -1;
        buf_init(&out, 1 << 20);
        snprintf(path, sizeof(path), "/containers/%s/wait", id);
        if (request(c, sock, "POST", path, NULL, &out) != 200)
                return -1;
        snprintf(path, sizeof(path), "/containers/%s?force=1&v=1", id);
        buf_reset(&out);
        return request(c, sock, "DELETE", path, NULL, &out) == 204 ? 0 : -1;
}

/* --running: one create + start of a long sleep; 0 or -1. */
static int engine_start(CURL *c, const char *sock, const char *body)
{
        _cleanup_free_ char *id = engine_create_start(c, sock, body);
        return id ? 0 : -1;
}

static void *engine_worker(void *arg)
{
        struct bench *b = arg;
        char body[512];
        snprintf(body, sizeof(body),
                 "{\"Image\":\"%s\",\"Cmd\":%s,\"Labels\":{\"berth.bench\":\"engine\"},"
                 "\"HostConfig\":{\"NetworkMode\":\"none\"}}",
                 b->image, b->running ? "[\"sleep\",\"3600\"]" : "[\"true\"]");
        CURL *c = curl_easy_init();
        if (!c)
                return NULL;
        while (atomic_fetch_add(&b->next, 1) < b->n)
                if ((b->running ? engine_start : engine_lifecycle)(c, b->docker_socket, body) < 0)
                        atomic_fetch_add(&b->failures, 1);
        curl_easy_cleanup(c);
        return NULL;
}

/* --running: removes the engine phase's containers (label berth.bench=engine). */
static void engine_remove_started(struct bench *b)
{
        _cleanup_buf_ struct buf out;
        buf_init(&out, 64 << 20);
        CURL *c = curl_easy_init();
        if (!c || request(c, b->docker_socket, "GET",
                          "/containers/json?all=1&filters=%7B%22label%22%3A%5B%22berth.bench%3D"
                          "engine%22%5D%7D",
                          NULL, &out) != 200) {
                fprintf(stderr, "engine-ratio: cannot list the engine phase's containers\n");
                if (c)
                        curl_easy_cleanup(c);
                return;
        }
        _cleanup_json_ json_t *list = json_loadb(out.data, out.len, 0, NULL);
        size_t i;
        json_t *ct;
        json_array_foreach(list, i, ct)
        {
                char path[256];
                snprintf(path, sizeof(path), "/containers/%s?force=1&v=1",
                         json_path_string(ct, "Id"));
                buf_reset(&out);
                if (request(c, b->docker_socket, "DELETE", path, NULL, &out) != 204)
                        fprintf(stderr, "engine-ratio: remove %s failed\n", path);
        }
        curl_easy_cleanup(c);
}

static double run_engine(struct bench *b)
{
        pthread_t threads[64];
        atomic_store(&b->next, 0);
        int64_t t0 = time_mono_ms();
        for (int i = 0; i < b->concurrency; i++)
                pthread_create(&threads[i], NULL, engine_worker, b);
        for (int i = 0; i < b->concurrency; i++)
                pthread_join(threads[i], NULL);
        return (time_mono_ms() - t0) / 1000.0;
}

/* ---- berth phase ------------------------------------------------------ */

struct watch_state {
        struct bench *b;
        struct buf line;
};

/* --running: whether name is seen Running for the first time (then it is
 * remembered). Caller holds b->lock. */
static bool first_time_running(struct bench *b, const char *name)
{
        for (int i = 0; i < b->n_counted; i++)
                if (streq(b->counted[i], name))
                        return false;
        char **v = reallocarray(b->counted, (size_t)b->n_counted + 1, sizeof(*v));
        if (!v)
                return false;
        b->counted = v;
        b->counted[b->n_counted] = strdup(name);
        return b->counted[b->n_counted++] != NULL;
}

static void on_watch_line(struct bench *b, const char *line)
{
        _cleanup_json_ json_t *ev = json_loads(line, 0, NULL);
        const char *name = json_path_string(ev, "object.metadata.name");
        /* Only this run's tasks count (names end in the run's start time). */
        if (!str_has_suffix(name, b->run_suffix))
                return;
        if (b->running) {
                if (!streq(json_path_string(ev, "object.status.phase"), "Running"))
                        return;
                pthread_mutex_lock(&b->lock);
                if (first_time_running(b, name)) {
                        b->in_flight--;
                        b->done++;
                        pthread_cond_broadcast(&b->cond);
                }
                pthread_mutex_unlock(&b->lock);
                return;
        }
        if (!streq(json_path_string(ev, "type"), "DELETED"))
                return;
        pthread_mutex_lock(&b->lock);
        b->in_flight--;
        b->done++;
        pthread_cond_broadcast(&b->cond);
        pthread_mutex_unlock(&b->lock);
}

static size_t watch_write(char *p, size_t size, size_t n, void *ud)
{
        struct watch_state *w = ud;
        if (buf_append(&w->line, p, size * n) < 0)
                return 0;
        char *nl;
        while ((nl = memchr(w->line.data, '\n', w->line.len))) {
                *nl = '\0';
                on_watch_line(w->b, w->line.data);
                buf_consume(&w->line, (size_t)(nl - w->line.data) + 1);
        }
        return size * n;
}

static int watch_progress(void *ud, curl_off_t a, curl_off_t b2, curl_off_t c, curl_off_t d)
{
        (void)a, (void)b2, (void)c, (void)d;
        struct bench *b = ud;
        return atomic_load(&b->stop_watch) ? 1 : 0;
}

static void *watch_thread(void *arg)
{
        struct bench *b = arg;
        struct watch_state w = {.b = b};
        buf_init(&w.line, 16 << 20);
        CURL *c = curl_easy_init();
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, b->berth_socket);
        curl_easy_setopt(c, CURLOPT_URL,
                         "http://localhost/apis/berth/v1/namespaces/bench/tasks?watch=true");
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, watch_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &w);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, watch_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, b);
        curl_easy_perform(c);
        curl_easy_cleanup(c);
        buf_release(&w.line);
        return NULL;
}

static double run_berth(struct bench *b)
{
        pthread_t watcher;
        pthread_create(&watcher, NULL, watch_thread, b);
        usleep(300 * 1000); /* let the watch connect before the first create */

        CURL *c = curl_easy_init();
        int64_t t0 = time_mono_ms();
        for (int i = 0; c && i < b->n; i++) {
                char name[64];
                snprintf(name, sizeof(name), "bench-%d%s", i, b->run_suffix);
                pthread_mutex_lock(&b->lock);
                while (!b->running && b->in_flight >= b->concurrency)
                        pthread_cond_wait(&b->cond, &b->lock);
                b->in_flight++;
                pthread_mutex_unlock(&b->lock);

                char body[1024];
                if (b->running)
                        snprintf(body, sizeof(body),
                                 "{\"apiVersion\":\"berth/v1\",\"kind\":\"Task\",\"metadata\":"
                                 "{\"name\":\"%s\",\"namespace\":\"bench\",\"labels\":"
                                 "{\"berth.bench\":\"running\"}},\"spec\":{\"image\":\"%s\","
                                 "\"command\":[\"sleep\",\"3600\"],\"network\":\"none\"}}",
                                 name, b->image);
                else
                        snprintf(body, sizeof(body),
                                 "{\"apiVersion\":\"berth/v1\",\"kind\":\"Task\",\"metadata\":"
                                 "{\"name\":\"%s\",\"namespace\":\"bench\"},\"spec\":{\"image\":"
                                 "\"%s\",\"command\":[\"true\"],\"network\":\"none\","
                                 "\"ttlSecondsAfterFinished\":0}}",
                                 name, b->image);
                _cleanup_buf_ struct buf out;
                buf_init(&out, 1 << 20);
                long st = request(c, b->berth_socket, "POST",
                                  "/apis/berth/v1/namespaces/bench/tasks", body, &out);
                if (st != 201) {
                        fprintf(stderr, "engine-ratio: create task: %ld %s\n", st,
                                out.data ? out.data : "");
                        atomic_fetch_add(&b->failures, 1);
                        pthread_mutex_lock(&b->lock);
                        b->in_flight--;
                        pthread_mutex_unlock(&b->lock);
                }
        }
        pthread_mutex_lock(&b->lock);
        while (b->in_flight > 0)
                pthread_cond_wait(&b->cond, &b->lock);
        pthread_mutex_unlock(&b->lock);
        double secs = (time_mono_ms() - t0) / 1000.0;
        curl_easy_cleanup(c);
        atomic_store(&b->stop_watch, true);
        pthread_join(watcher, NULL);
        return secs;
}

int main(int argc, char **argv)
{
        struct bench b = {.n = 60, .concurrency = 8, .image = "busybox:latest"};
        const char *server = getenv("BERTH_SERVER");
        const char *docker = "unix:///var/run/docker.sock";
        if (!server)
                server = "unix:///run/berth/berth.sock";
        static const struct option opts[] = {
            {"server", required_argument, NULL, 's'},
            {"docker", required_argument, NULL, 'd'},
            {"image", required_argument, NULL, 'i'},
            {"running", no_argument, NULL, 'r'},
            {"engine-only", no_argument, NULL, 'e'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        int c;
        while ((c = getopt_long(argc, argv, "n:c:h", opts, NULL)) != -1) {
                switch (c) {
                case 'n':
                        b.n = atoi(optarg);
                        break;
                case 'c':
                        b.concurrency = atoi(optarg);
                        break;
                case 's':
                        server = optarg;
                        break;
                case 'd':
                        docker = optarg;
                        break;
                case 'i':
                        b.image = optarg;
                        break;
                case 'r':
                        b.running = true;
                        break;
                case 'e':
                        b.engine_only = true;
                        break;
                default:
                        fprintf(stderr, "usage: engine-ratio [-n N] [-c CONCURRENCY] [--running] "
                                        "[--engine-only] [--server URL] [--docker URL] [--image "
                                        "IMAGE]\n");
                        return c == 'h' ? 0 : 2;
                }
        }
        if (b.n < 1 || b.concurrency < 1 || b.concurrency > 64 ||
            socket_path(server, b.berth_socket, sizeof(b.berth_socket)) < 0 ||
            socket_path(docker, b.docker_socket, sizeof(b.docker_socket)) < 0) {
                fprintf(stderr, "engine-ratio: need -n >= 1, 1 <= -c <= 64 and unix:// URLs\n");
                return 2;
        }
        curl_global_init(CURL_GLOBAL_DEFAULT);
        pthread_mutex_init(&b.lock, NULL);
        pthread_cond_init(&b.cond, NULL);
        snprintf(b.run_suffix, sizeof(b.run_suffix), "-%lld",
                 (long long)(time_now_ms() % 100000000));

        double engine_s = run_engine(&b);
        if (b.running)
                engine_remove_started(&b);
        if (b.engine_only) {
                int failures = atomic_load(&b.failures);
                printf("n=%d concurrency=%d engine %.2fs %.2f/s failures=%d\n", b.n, b.concurrency,
                       engine_s, b.n / engine_s, failures);
                curl_global_cleanup();
                return failures ? 1 : 0;
        }
        double berth_s = run_berth(&b);
        for (int i = 0; i < b.n_counted; i++)
                free(b.counted[i]);
        free(b.counted);
        int failures = atomic_load(&b.failures);
        double engine_rate = b.n / engine_s, berth_rate = b.n / berth_s;
        printf("n=%d concurrency=%d engine %.2fs berth %.2fs failures=%d\n", b.n, b.concurrency,
               engine_s, berth_s, failures);
        if (failures)
                printf("berth failed (%d failures): no ratio\n", failures);
        else
                printf("berth %.2f/s engine %.2f/s ratio %.2f\n", berth_rate, engine_rate,
                       berth_rate / engine_rate);
        curl_global_cleanup();
        return failures ? 1 : 0;
}
