/* In-process API server tests: a real SQLite store in a temp dir, the object
 * cache, an event loop on its own thread and api_server on a unix socket;
 * libcurl is the client. No Docker: log streams answer 503 here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "api-internal.h"

struct watcher {
        pthread_t thread;
        char path[512];
        pthread_mutex_t lock;
        struct buf data;
        bool stop;
        long code;
        CURLcode result;
        char headers[2][128]; /* request headers to add ("" none) */
};

struct env {
        char dir[256];
        char sock[300];
        struct store *store;
        struct object_cache *cache;
        struct event_base *base;
        struct api_server *server;
        struct docker *docker; /* only with BERTH_TEST_DOCKER=1 */
        struct container_cache *containers;
        pthread_t loop;
        int64_t first_cache_rev;                     /* the cache started after these revisions */
        struct watcher leftover_watch, leftover_log; /* open while the server is freed */
        bool have_leftover_watch, have_leftover_log;
};

static struct env E;

static void watcher_stop(struct watcher *w);
static void remove_test_containers(void);

/* Best-effort shell command (cleanup of test containers). */
static void sh(const char *cmd)
{
        if (system(cmd) != 0) {
                /* nothing to clean up */
        }
}

static void *loop_main(void *arg)
{
        event_base_loop(arg, EVLOOP_NO_EXIT_ON_EMPTY);
        return NULL;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        return remove(path);
}

/* Leader election as main wires it: this replica follows "replica-x". */
static json_t *fake_leader(void *userdata)
{
        (void)userdata;
        return json_pack("{s:s, s:b, s:i, s:s}", "holder", "replica-x", "self", 0,
                         "leaseDurationSeconds", 15, "renewTime", "2026-01-01T00:00:00Z");
}

static int setup(void **state)
{
        (void)state;
        struct berth_error err = {0};

        /* Like berthd: a client that hangs up must not kill the server with SIGPIPE. */
        signal(SIGPIPE, SIG_IGN);
        evthread_use_pthreads();
        curl_global_init(CURL_GLOBAL_DEFAULT);
        log_setup(LOG_LEVEL_WARN, LOG_FORMAT_TEXT, NULL);

        snprintf(E.dir, sizeof(E.dir), "/tmp/berth-api-XXXXXX");
        assert_non_null(mkdtemp(E.dir));
        snprintf(E.sock, sizeof(E.sock), "%s/api.sock", E.dir);
        _cleanup_free_ char *url = str_printf("sqlite:%s/store.db", E.dir);
        if (store_open(url, &E.store, &err) < 0)
                fail_msg("store_open: %s", err.message);

        /* History older than the cache: makes "too old resourceVersion" provokable. */
        for (int i = 0; i < 3; i++)
                assert_int_equal(store_put(E.store, "/other/x", "{}", 2, STORE_ANY_REVISION, 0,
                                           &E.first_cache_rev, &err),
                                 0);

        if (object_cache_new(E.store, "/berth/", NULL, NULL, &E.cache, &err) < 0)
                fail_msg("object_cache_new: %s", err.message);
        assert_int_equal(object_cache_wait_synced(E.cache, 5000), 0);

        /* Log streams need a Docker engine: opt-in (the suite stays a unit test). */
        if (getenv("BERTH_TEST_DOCKER") && streq(getenv("BERTH_TEST_DOCKER"), "1")) {
                if (docker_new(NULL, &E.docker, &err) < 0)
                        fail_msg("docker_new: %s", err.message);
                if (container_cache_new(E.docker, NULL, NULL, &E.containers, &err) < 0)
                        fail_msg("container_cache_new: %s", err.message);
                assert_int_equal(container_cache_wait_synced(E.containers, 10000), 0);
        }

        E.base = event_base_new();
        assert_non_null(E.base);
        _cleanup_free_ char *listen = str_printf("unix://%s", E.sock);
        const char *const listens[] = {listen, NULL};
        struct api_config cfg = {
            .base = E.base,
            .store = E.store,
            .objects = E.cache,
            .containers = E.containers,
            .docker = E.docker,
            .prefix = "/berth/",
            .listen = listens,
            .bookmark_interval_ms = 300,
            .heartbeat_interval_ms = 200,
            .leader = fake_leader,
        };
        if (api_server_new(&cfg, &E.server, &err) < 0)
                fail_msg("api_server_new: %s", err.message);
        assert_int_equal(pthread_create(&E.loop, NULL, loop_main, E.base), 0);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        event_base_loopbreak(E.base);
        pthread_join(E.loop, NULL);
        /* The loop has stopped: this thread is now the loop thread. */
        api_server_free(E.server);
        /* Streams still open were ended by the server: their clients return. */
        if (E.have_leftover_watch)
                watcher_stop(&E.leftover_watch);
        if (E.have_leftover_log)
                watcher_stop(&E.leftover_log);
        if (E.containers)
                remove_test_containers();
        event_base_free(E.base);
        container_cache_free(E.containers);
        docker_free(E.docker);
        object_cache_free(E.cache);
        store_free(E.store);
        nftw(E.dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
        curl_global_cleanup();
        libevent_global_shutdown();
        return 0;
}

/* ---- client ------------------------------------------------------------- */

struct resp {
        long code;
        struct buf body;
        char content_type[128];
};

static void resp_release(struct resp *r)
{
        buf_release(&r->body);
}

static size_t on_data(char *p, size_t size, size_t n, void *userdata)
{
        struct resp *r = userdata;
        if (buf_append(&r->body, p, size * n) < 0)
                return 0;
        return size * n;
}

static CURL *client(const char *method, const char *path, struct resp *r)
{
        CURL *c = curl_easy_init();
        char url[9000];
        snprintf(url, sizeof(url), "http://localhost%s", path);
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, E.sock);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
        buf_init(&r->body, 64 * 1024 * 1024);
        return c;
}

/* Makes one request; returns the parsed JSON body (or NULL when it is not JSON). */
static json_t *http_len(const char *method, const char *path, const char *body, size_t len,
                        long *ret_code, struct buf *ret_text)
{
        struct resp r = {0};
        CURL *c = client(method, path, &r);
        struct curl_slist *h = NULL;
        if (body) {
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
                h = curl_slist_append(h, "Content-Type: application/yaml");
                curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        }
        CURLcode cc = curl_easy_perform(c);
        if (cc != CURLE_OK)
                fail_msg("%s %s: %s", method, path, curl_easy_strerror(cc));
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.code);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        *ret_code = r.code;
        json_t *j = r.body.data ? json_loads(r.body.data, 0, NULL) : NULL;
        if (ret_text) {
                *ret_text = r.body;
                r.body = (struct buf){0};
        }
        resp_release(&r);
        return j;
}

static json_t *http(const char *method, const char *path, const char *body, long *ret_code)
{
        return http_len(method, path, body, body ? strlen(body) : 0, ret_code, NULL);
}

#define NS_PATH "/apis/berth/v1/namespaces/default/tasks"

static json_t *expect(const char *method, const char *path, const char *body, long want)
{
        long code = 0;
        json_t *j = http(method, path, body, &code);
        if (code != want) {
                char *dump = j ? json_dumps(j, 0) : NULL;
                fail_msg("%s %s: got %ld, want %ld: %s", method, path, code, want,
                         dump ? dump : "(not json)");
        }
        return j;
}

static const char *str_at(const json_t *j, const char *path)
{
        const char *s = json_path_string(j, path);
        if (!s)
                fail_msg("no string at %s", path);
        return s;
}

static char *task_yaml(const char *name, const char *image, const char *labels)
{
        return str_printf("apiVersion: berth/v1\nkind: Task\nmetadata:\n  name: %s\n%s"
                          "spec:\n  image: %s\n  command: [echo, hi]\n",
                          name, labels ? labels : "", image);
}

/* ---- tests -------------------------------------------------------------- */

static void test_health_and_version(void **state)
{
        (void)state;
        long code;
        struct buf text;
        json_t *j = http_len("GET", "/healthz", NULL, 0, &code, &text);
        assert_int_equal(code, 200);
        assert_string_equal(text.data, "ok");
        buf_release(&text);
        json_decref(j);

        json_decref(http_len("GET", "/readyz", NULL, 0, &code, &text));
        assert_int_equal(code, 503);
        buf_release(&text);
        api_server_set_ready(E.server, true);
        json_decref(http_len("GET", "/readyz?verbose", NULL, 0, &code, &text));
        assert_int_equal(code, 200);
        assert_non_null(strstr(text.data, "[+]store ok"));
        assert_non_null(strstr(text.data, "[+]objects ok"));
        assert_non_null(strstr(text.data, "readyz check passed"));
        assert_non_null(strstr(text.data, "\nleader: replica-x\n"));
        buf_release(&text);

        j = expect("GET", "/apis/berth/v1/leader", NULL, 200);
        assert_string_equal(str_at(j, "kind"), "Leader");
        assert_string_equal(str_at(j, "holder"), "replica-x");
        assert_true(json_is_false(json_object_get(j, "self")));
        assert_int_equal(json_integer_value(json_object_get(j, "leaseDurationSeconds")), 15);
        json_decref(j);
        json_decref(expect("POST", "/apis/berth/v1/leader", "{}", 405));

        j = expect("GET", "/version", NULL, 200);
        assert_string_equal(str_at(j, "version"), BERTH_VERSION);
        assert_string_equal(str_at(j, "apiVersion"), "berth/v1");
        if (E.docker)
                assert_non_null(json_string_value(json_object_get(j, "dockerApiVersion")));
        else
                assert_true(json_is_null(json_object_get(j, "dockerApiVersion")));
        json_decref(j);

        j = expect("GET", "/apis/berth/v1/foos", NULL, 404);
        assert_string_equal(str_at(j, "kind"), "Status");
        assert_string_equal(str_at(j, "reason"), "NotFound");
        assert_string_equal(str_at(j, "message"),
                            "the server could not find the requested resource \"foos\"");
        json_decref(j);
        j = expect("PATCH", NS_PATH "/x", "{}", 405);
        assert_string_equal(str_at(j, "reason"), "MethodNotAllowed");
        json_decref(j);
}

static void test_create_get(void **state)
{
        (void)state;
        _cleanup_free_ char *y = task_yaml("hello", "busybox:latest", "  labels: {app: demo}\n");
        json_t *j = expect("POST", NS_PATH, y, 201);
        const char *uid = str_at(j, "metadata.uid");
        assert_int_equal(strlen(uid), 32);
        assert_int_equal(json_path_int(j, "metadata.generation", 0), 1);
        assert_non_null(json_path_string(j, "metadata.resourceVersion"));
        assert_non_null(json_path_string(j, "metadata.creationTimestamp"));
        assert_string_equal(str_at(j, "metadata.namespace"), "default");
        json_t *fin = json_path(j, "metadata.finalizers");
        assert_int_equal(json_array_size(fin), 1);
        assert_string_equal(json_string_value(json_array_get(fin, 0)), "berth/containers");
        assert_null(json_object_get(j, "status"));
        /* Defaults were filled. */
        assert_string_equal(str_at(j, "spec.restartPolicy"), "Never");

        json_t *g = expect("GET", NS_PATH "/hello", NULL, 200);
        assert_string_equal(str_at(g, "metadata.uid"), uid);
        assert_string_equal(str_at(g, "metadata.resourceVersion"),
                            str_at(j, "metadata.resourceVersion"));
        json_decref(g);
        json_decref(j);

        /* Twice: 409 AlreadyExists. */
        j = expect("POST", NS_PATH, y, 409);
        assert_string_equal(str_at(j, "reason"), "AlreadyExists");
        assert_string_equal(str_at(j, "message"), "tasks \"hello\" already exists");
        json_decref(j);

        j = expect("GET", NS_PATH "/nope", NULL, 404);
        assert_string_equal(str_at(j, "message"), "tasks \"nope\" not found");
        json_decref(j);

        /* JSON bodies work too, and server-set fields from users are ignored. */
        j = expect("POST", NS_PATH,
                   "{\"apiVersion\":\"berth/v1\",\"kind\":\"Task\",\"metadata\":{\"name\":"
                   "\"json-one\",\"uid\":\"mine\",\"generation\":7,\"resourceVersion\":\"99\"},"
                   "\"spec\":{\"image\":\"busybox:latest\"},\"status\":{\"phase\":\"Failed\"}}",
                   201);
        assert_string_not_equal(str_at(j, "metadata.uid"), "mine");
        assert_int_equal(json_path_int(j, "metadata.generation", 0), 1);
        assert_null(json_object_get(j, "status"));
        json_decref(j);
}

static void test_create_errors(void **state)
{
        (void)state;
        /* Missing image: 422 with details. */
        json_t *j = expect("POST", NS_PATH,
                           "apiVersion: berth/v1\nkind: Task\nmetadata: {name: noimage}\n"
                           "spec: {command: [true]}\n",
                           422);
        assert_string_equal(str_at(j, "reason"), "Invalid");
        assert_int_equal(json_integer_value(json_object_get(j, "code")), 422);
        json_t *d = json_object_get(j, "details");
        assert_true(json_array_size(d) >= 1);
        bool found = false;
        size_t i;
        json_t *v;
        json_array_foreach(d, i, v)
        {
                if (streq(str_at(v, "field"), "spec.image"))
                        found = true;
        }
        assert_true(found);
        assert_non_null(strstr(str_at(j, "message"), "spec.image"));
        json_decref(j);

        /* Unknown field, named. */
        j = expect("POST", NS_PATH,
                   "apiVersion: berth/v1\nkind: Task\nmetadata: {name: typo}\n"
                   "spec: {image: busybox:latest, imagee: x}\n",
                   422);
        assert_non_null(strstr(str_at(j, "message"), "spec.imagee"));
        assert_string_equal(str_at(json_array_get(json_object_get(j, "details"), 0), "field"),
                            "spec.imagee");
        json_decref(j);

        /* Namespace mismatch, bad YAML, several documents, empty body. */
        j = expect("POST", NS_PATH,
                   "apiVersion: berth/v1\nkind: Task\nmetadata: {name: a, namespace: other}\n"
                   "spec: {image: busybox:latest}\n",
                   400);
        assert_non_null(strstr(str_at(j, "message"), "namespace"));
        json_decref(j);
        j = expect("POST", NS_PATH, "kind: [unclosed\n", 400);
        assert_string_equal(str_at(j, "reason"), "BadRequest");
        json_decref(j);
        json_decref(expect("POST", NS_PATH, "a: 1\n---\nb: 2\n", 400));
        json_decref(expect("POST", NS_PATH, "", 400));
        /* Created nothing. */
        json_decref(expect("GET", NS_PATH "/a", NULL, 404));

        /* A build step, when berthd has no --build-root: refused, named. */
        j = expect("POST", "/apis/berth/v1/namespaces/default/workflows",
                   "apiVersion: berth/v1\nkind: Workflow\nmetadata: {name: b}\n"
                   "spec: {steps: [{name: img, build: {context: /srv/app}}]}\n",
                   422);
        assert_string_equal(str_at(json_array_get(json_object_get(j, "details"), 0), "field"),
                            "spec.steps[0].build.context");
        assert_non_null(strstr(str_at(j, "message"),
                               "build steps are disabled: berthd runs without --build-root"));
        json_decref(j);
        json_decref(expect("GET", "/apis/berth/v1/namespaces/default/workflows/b", NULL, 404));

        /* Over the per-object limit: our own 413 Status. */
        size_t big = MANIFEST_DOC_MAX + 10;
        char *body = malloc(big);
        memset(body, '#', big);
        long code;
        j = http_len("POST", NS_PATH, body, big, &code, NULL);
        assert_int_equal(code, 413);
        assert_string_equal(str_at(j, "reason"), "RequestEntityTooLarge");
        json_decref(j);
        free(body);
}

static void test_body_limit(void **state)
{
        (void)state;
        size_t big = API_BODY_MAX + 1024;
        char *body = malloc(big);
        memset(body, '#', big);
        long code;
        json_decref(http_len("POST", "/apis/berth/v1/apply", body, big, &code, NULL));
        assert_int_equal(code, 413);
        free(body);
}

static json_t *apply(const char *body, const char *query, long want)
{
        _cleanup_free_ char *path = str_printf("/apis/berth/v1/apply%s", query ? query : "");
        return expect("POST", path, body, want);
}

static const char *result_of(const json_t *res, size_t i)
{
        return str_at(json_array_get(json_object_get(res, "items"), i), "result");
}

static void test_apply(void **state)
{
        (void)state;
        _cleanup_free_ char *a = task_yaml("app-a", "busybox:latest", NULL);
        _cleanup_free_ char *b = task_yaml("app-b", "busybox:latest", NULL);
        _cleanup_free_ char *both = str_printf("%s---\n%s", a, b);

        /* Dry run of new objects writes nothing. */
        json_t *r = apply(both, "?dryRun=true", 200);
        assert_string_equal(result_of(r, 0), "created");
        assert_true(json_is_true(json_object_get(r, "dryRun")));
        json_decref(r);
        json_decref(expect("GET", NS_PATH "/app-a", NULL, 404));

        r = apply(both, NULL, 200);
        assert_string_equal(str_at(r, "kind"), "ApplyResult");
        assert_int_equal(json_array_size(json_object_get(r, "items")), 2);
        json_t *it = json_array_get(json_object_get(r, "items"), 0);
        assert_string_equal(str_at(it, "kind"), "Task");
        assert_string_equal(str_at(it, "namespace"), "default");
        assert_string_equal(str_at(it, "name"), "app-a");
        assert_string_equal(result_of(r, 0), "created");
        assert_string_equal(result_of(r, 1), "created");
        json_decref(r);
        /* Read your writes: both are in the cache already. */
        json_t *g = expect("GET", NS_PATH "/app-b", NULL, 200);
        _cleanup_free_ char *uid = strdup(str_at(g, "metadata.uid"));
        json_decref(g);

        r = apply(both, NULL, 200);
        assert_string_equal(result_of(r, 0), "unchanged");
        assert_string_equal(result_of(r, 1), "unchanged");
        json_decref(r);

        /* Labels only: configured, generation stays. */
        _cleanup_free_ char *lab = task_yaml("app-a", "busybox:latest", "  labels: {x: y}\n");
        r = apply(lab, NULL, 200);
        assert_string_equal(result_of(r, 0), "configured");
        json_decref(r);
        g = expect("GET", NS_PATH "/app-a", NULL, 200);
        assert_int_equal(json_path_int(g, "metadata.generation", 0), 1);
        assert_string_equal(str_at(g, "metadata.labels.x"), "y");
        json_decref(g);

        /* Spec change: generation 2; uid, finalizers and creationTimestamp stay. */
        _cleanup_free_ char *b2 = task_yaml("app-b", "busybox:1.36", NULL);
        r = apply(b2, "?dryRun=true", 200);
        assert_string_equal(result_of(r, 0), "configured");
        json_decref(r);
        g = expect("GET", NS_PATH "/app-b", NULL, 200);
        assert_string_equal(str_at(g, "spec.image"), "busybox:latest");
        json_decref(g);
        r = apply(b2, NULL, 200);
        assert_string_equal(result_of(r, 0), "configured");
        json_decref(r);
        g = expect("GET", NS_PATH "/app-b", NULL, 200);
        assert_int_equal(json_path_int(g, "metadata.generation", 0), 2);
        assert_string_equal(str_at(g, "spec.image"), "busybox:1.36");
        assert_string_equal(str_at(g, "metadata.uid"), uid);
        assert_int_equal(json_array_size(json_path(g, "metadata.finalizers")), 1);
        json_decref(g);

        /* One invalid document: 422 for it, nothing written at all. */
        _cleanup_free_ char *c = task_yaml("app-c", "busybox:latest", NULL);
        _cleanup_free_ char *bad = str_printf("%s---\napiVersion: berth/v1\nkind: Task\n"
                                              "metadata: {name: broken}\nspec: {imagee: x}\n",
                                              c);
        r = apply(bad, NULL, 422);
        assert_string_equal(str_at(r, "reason"), "Invalid");
        json_t *d = json_object_get(r, "details");
        assert_true(json_array_size(d) >= 1);
        assert_true(str_has_prefix(str_at(json_array_get(d, 0), "field"), "tasks/broken: "));
        json_decref(r);
        json_decref(expect("GET", NS_PATH "/app-c", NULL, 404));

        /* Parse errors carry line and column. */
        r = apply("apiVersion: berth/v1\nkind: [\n", NULL, 400);
        assert_non_null(strstr(str_at(r, "message"), "body:"));
        json_decref(r);
        json_decref(apply("", NULL, 400));

        /* ?namespace= fills a missing namespace. */
        r = apply(c, "?namespace=team-x", 200);
        assert_string_equal(str_at(json_array_get(json_object_get(r, "items"), 0), "namespace"),
                            "team-x");
        json_decref(r);
        json_decref(expect("GET", "/apis/berth/v1/namespaces/team-x/tasks/app-c", NULL, 200));
}

static void test_replace(void **state)
{
        (void)state;
        _cleanup_free_ char *y = task_yaml("rep", "busybox:latest", NULL);
        json_t *j = expect("POST", NS_PATH, y, 201);
        _cleanup_free_ char *rv = strdup(str_at(j, "metadata.resourceVersion"));
        _cleanup_free_ char *uid = strdup(str_at(j, "metadata.uid"));
        json_decref(j);

        /* Stale resourceVersion: 409 Conflict. */
        j = expect("PUT", NS_PATH "/rep",
                   "apiVersion: berth/v1\nkind: Task\nmetadata: {name: rep, resourceVersion: "
                   "\"1\"}\nspec: {image: busybox:1.36}\n",
                   409);
        assert_string_equal(str_at(j, "reason"), "Conflict");
        assert_non_null(strstr(str_at(j, "message"), "the object has been modified; please apply "
                                                     "your changes to the latest version"));
        json_decref(j);

        /* Current resourceVersion: replaced, generation 2, server fields kept. */
        _cleanup_free_ char *put = str_printf(
            "apiVersion: berth/v1\nkind: Task\nmetadata: {name: rep, resourceVersion: \"%s\","
            " uid: evil}\nspec: {image: busybox:1.36}\nstatus: {phase: Succeeded}\n",
            rv);
        j = expect("PUT", NS_PATH "/rep", put, 200);
        assert_int_equal(json_path_int(j, "metadata.generation", 0), 2);
        assert_string_equal(str_at(j, "metadata.uid"), uid);
        assert_null(json_object_get(j, "status"));
        assert_int_equal(json_array_size(json_path(j, "metadata.finalizers")), 1);
        assert_string_not_equal(str_at(j, "metadata.resourceVersion"), rv);
        json_decref(j);

        /* Without resourceVersion: unconditional; same spec keeps the generation. */
        j = expect("PUT", NS_PATH "/rep",
                   "apiVersion: berth/v1\nkind: Task\nmetadata: {name: rep, labels: {a: b}}\n"
                   "spec: {image: busybox:1.36}\n",
                   200);
        assert_int_equal(json_path_int(j, "metadata.generation", 0), 2);
        assert_string_equal(str_at(j, "metadata.labels.a"), "b");
        json_decref(j);

        /* Name mismatch, missing object. */
        json_decref(expect("PUT", NS_PATH "/rep",
                           "apiVersion: berth/v1\nkind: Task\nmetadata: {name: other}\n"
                           "spec: {image: busybox:1.36}\n",
                           400));
        json_decref(expect("PUT", NS_PATH "/ghost",
                           "apiVersion: berth/v1\nkind: Task\nmetadata: {name: ghost}\n"
                           "spec: {image: busybox:1.36}\n",
                           404));
}

/* Hands out the suffixes of a list, the last one again once they ran out. */
struct suffixes {
        const char *const *v;
        size_t n, calls;
};

static int fake_suffix(char *out, void *userdata)
{
        struct suffixes *s = userdata;
        const char *v = s->v[s->calls < s->n ? s->calls : s->n - 1];

        s->calls++;
        memcpy(out, v, MANIFEST_GENERATED_SUFFIX_LEN + 1);
        return 0;
}

static int create_direct(struct suffixes *s, const char *body, json_t **ret, struct api_error *err)
{
        struct api_objects o = {.store = E.store,
                                .cache = E.cache,
                                .prefix = "/berth/",
                                .wait_ms = API_WAIT_MS,
                                .name_suffix = fake_suffix,
                                .name_suffix_data = s};
        _cleanup_(manifest_list_release) struct manifest_list list = {0};

        assert_int_equal(api_parse_one(body, strlen(body), &list, err), 0);
        return api_object_create(&o, kind_lookup("Task"), "default", &list.docs[0], ret, err);
}

static void test_generate_name(void **state)
{
        (void)state;
        const char *gen = "apiVersion: berth/v1\nkind: Task\nmetadata:\n  generateName: gen-\n"
                          "spec: {image: busybox:latest}\n";

        /* The server picks the rest of the name, and keeps generateName. */
        json_t *a = expect("POST", NS_PATH, gen, 201);
        json_t *b = expect("POST", NS_PATH, gen, 201);
        const char *name = str_at(a, "metadata.name");
        assert_true(str_has_prefix(name, "gen-"));
        assert_int_equal(strlen(name), strlen("gen-") + MANIFEST_GENERATED_SUFFIX_LEN);
        assert_int_equal(strspn(name + 4, MANIFEST_GENERATED_ALPHABET),
                         MANIFEST_GENERATED_SUFFIX_LEN);
        assert_string_equal(str_at(a, "metadata.generateName"), "gen-");
        assert_string_not_equal(name, str_at(b, "metadata.name"));
        _cleanup_free_ char *path = str_printf(NS_PATH "/%s", name);
        json_t *g = expect("GET", path, NULL, 200);
        assert_string_equal(str_at(g, "metadata.uid"), str_at(a, "metadata.uid"));
        json_decref(g);
        /* The stored object, with both, can be replaced as read. */
        _cleanup_free_ char *dump = json_dumps(a, 0);
        json_decref(expect("PUT", path, dump, 200));
        json_decref(a);
        json_decref(b);

        /* Apply and replace need a name. */
        json_t *j = expect("POST", "/apis/berth/v1/apply", gen, 422);
        assert_non_null(
            strstr(str_at(j, "message"), "metadata.generateName: " MANIFEST_GENERATE_NAME_APPLY));
        json_decref(j);
        j = expect("PUT", NS_PATH "/gen-x", gen, 422);
        assert_string_equal(str_at(j, "message"),
                            "Task \"gen-x\" is invalid: metadata.name: required: a replace "
                            "names the object it replaces; generateName is only for create");
        json_decref(j);
        /* A bad prefix is refused with its field. */
        j = expect("POST", NS_PATH,
                   "apiVersion: berth/v1\nkind: Task\nmetadata: {generateName: -x}\n"
                   "spec: {image: busybox:latest}\n",
                   422);
        assert_non_null(strstr(str_at(j, "message"), "metadata.generateName: invalid"));
        json_decref(j);

        /* A name taken: another one is tried. */
        json_decref(expect("POST", NS_PATH,
                           "apiVersion: berth/v1\nkind: Task\nmetadata: {name: col-bbbbb}\n"
                           "spec: {image: busybox:latest}\n",
                           201));
        const char *taken_then_free[] = {"bbbbb", "ccccc"};
        struct suffixes s = {.v = taken_then_free, .n = 2};
        struct api_error err = {0};
        json_t *obj = NULL;
        const char *col = "apiVersion: berth/v1\nkind: Task\nmetadata: {generateName: col-}\n"
                          "spec: {image: busybox:latest}\n";
        assert_int_equal(create_direct(&s, col, &obj, &err), 0);
        assert_string_equal(str_at(obj, "metadata.name"), "col-ccccc");
        assert_int_equal(s.calls, 2);
        json_decref(obj);
        obj = NULL;

        /* Every name tried is taken: 409, after API_GENERATE_NAME_TRIES. */
        const char *always_taken[] = {"bbbbb"};
        s = (struct suffixes){.v = always_taken, .n = 1};
        assert_true(create_direct(&s, col, &obj, &err) < 0);
        assert_null(obj);
        assert_int_equal(err.code, 409);
        assert_string_equal(err.reason, "AlreadyExists");
        assert_string_equal(err.message,
                            "tasks: 8 names generated from \"col-\" already exist; try again");
        assert_int_equal(s.calls, API_GENERATE_NAME_TRIES);
        api_error_release(&err);

        /* berthd's suffixes come from the alphabet. */
        char rnd[MANIFEST_GENERATED_SUFFIX_LEN + 1];
        for (int i = 0; i < 100; i++) {
                assert_int_equal(api_name_suffix_random(rnd, NULL), 0);
                assert_int_equal(strlen(rnd), MANIFEST_GENERATED_SUFFIX_LEN);
                assert_int_equal(strspn(rnd, MANIFEST_GENERATED_ALPHABET),
                                 MANIFEST_GENERATED_SUFFIX_LEN);
        }
}

static void test_delete(void **state)
{
        (void)state;
        _cleanup_free_ char *y = task_yaml("doomed", "busybox:latest", NULL);
        json_decref(expect("POST", NS_PATH, y, 201));

        /* With the finalizer: marked, still there. */
        json_t *j = expect("DELETE", NS_PATH "/doomed?propagationPolicy=Background", NULL, 200);
        assert_string_equal(str_at(j, "kind"), "Task");
        _cleanup_free_ char *ts = strdup(str_at(j, "metadata.deletionTimestamp"));
        json_decref(j);
        j = expect("GET", NS_PATH "/doomed", NULL, 200);
        assert_string_equal(str_at(j, "metadata.deletionTimestamp"), ts);
        json_decref(j);
        /* Again: same timestamp. */
        j = expect("DELETE", NS_PATH "/doomed", NULL, 200);
        assert_string_equal(str_at(j, "metadata.deletionTimestamp"), ts);
        json_decref(j);

        /* Without finalizers (written behind the API's back): gone at once. */
        struct berth_error err = {0};
        const char *raw = "{\"apiVersion\":\"berth/v1\",\"kind\":\"Task\",\"metadata\":{\"name\":"
                          "\"bare\",\"namespace\":\"default\",\"uid\":\"u1\"},\"spec\":{\"image\":"
                          "\"busybox:latest\"}}";
        int64_t rev;
        assert_int_equal(store_put(E.store, "/berth/tasks/default/bare", raw, strlen(raw),
                                   STORE_MUST_NOT_EXIST, 0, &rev, &err),
                         0);
        assert_int_equal(object_cache_wait_revision(E.cache, rev, 5000), 0);
        j = expect("DELETE", NS_PATH "/bare", NULL, 200);
        assert_string_equal(str_at(j, "kind"), "Status");
        assert_string_equal(str_at(j, "status"), "Success");
        json_decref(j);
        json_decref(expect("GET", NS_PATH "/bare", NULL, 404));
        json_decref(expect("DELETE", NS_PATH "/bare", NULL, 404));
}

/* Writes a raw value under key behind the API's back and waits for the
 * cache to have seen it. */
static void put_raw(const char *key, const char *value)
{
        struct berth_error err = {0};
        int64_t rev;

        assert_int_equal(
            store_put(E.store, key, value, strlen(value), STORE_ANY_REVISION, 0, &rev, &err), 0);
        assert_int_equal(object_cache_wait_revision(E.cache, rev, 5000), 0);
}

static void put_data(const char *part, const char *value)
{
        _cleanup_free_ char *key = object_data_key("/berth/", "workflows", "default", "etl", part);
        assert_non_null(key);
        put_raw(key, value);
}

#define WF_PATH "/apis/berth/v1/namespaces/default/workflows/etl"

/* GET with the raw body and Content-Type. */
static long get_raw(const char *path, struct buf *ret_body, char *ret_type, size_t type_size)
{
        struct resp r = {0};
        CURL *c = client("GET", path, &r);
        char *type = NULL;
        long code = 0;

        assert_int_equal(curl_easy_perform(c), CURLE_OK);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
        str_copy(ret_type, type_size, type ? type : "");
        curl_easy_cleanup(c);
        *ret_body = r.body;
        return code;
}

static void test_workflow_results_and_files(void **state)
{
        (void)state;
        put_raw("/berth/workflows/default/etl",
                "{\"apiVersion\":\"berth/v1\",\"kind\":\"Workflow\",\"metadata\":{\"name\":\"etl\","
                "\"namespace\":\"default\",\"uid\":\"wf-1\"},\"spec\":{\"steps\":[{\"name\":"
                "\"extract\",\"task\":{\"image\":\"busybox:latest\"}}]}}");
        put_data("step-extract", "{\"uid\":\"wf-1\",\"step\":\"extract\",\"result\":\"42\\n\","
                                 "\"truncated\":false,\"exitCode\":0}");
        put_data("file-extract.out",
                 "{\"uid\":\"wf-1\",\"step\":\"extract\",\"file\":\"out\",\"content\":\"x\","
                 "\"size\":1}");
        /* A step with files and no result yet. */
        put_data("file-test.report",
                 "{\"uid\":\"wf-1\",\"step\":\"test\",\"file\":\"report\",\"content\":"
                 "\"ok \\u00e9\\n\",\"size\":6}");
        put_data("file-test.bin", "{\"uid\":\"wf-1\",\"step\":\"test\",\"file\":\"bin\","
                                  "\"content\":\"AP8Abg==\",\"encoding\":\"base64\",\"size\":4}");
        put_data("file-test.broken",
                 "{\"uid\":\"wf-1\",\"step\":\"test\",\"file\":\"broken\",\"content\":\"A*==\","
                 "\"encoding\":\"base64\",\"size\":1}");
        /* An older Workflow's, of the same name. */
        put_data("file-test.old", "{\"uid\":\"wf-0\",\"step\":\"test\",\"file\":\"old\","
                                  "\"content\":\"stale\",\"size\":5}");
        put_data("step-old", "{\"uid\":\"wf-0\",\"step\":\"old\",\"result\":\"stale\"}");

        json_t *j = expect("GET", WF_PATH "/results", NULL, 200);
        assert_string_equal(str_at(j, "steps.extract.result"), "42\n");
        assert_true(json_is_false(json_path(j, "steps.extract.truncated")));
        assert_int_equal(json_path_int(j, "steps.extract.exitCode", -1), 0);
        assert_int_equal(json_path_int(j, "steps.extract.files.out.size", -1), 1);
        assert_int_equal(json_object_size(json_path(j, "steps.extract.files")), 1);
        assert_null(json_path(j, "steps.test.result"));
        assert_null(json_path(j, "steps.test.files.report.content"));
        assert_int_equal(json_path_int(j, "steps.test.files.report.size", -1), 6);
        assert_int_equal(json_path_int(j, "steps.test.files.bin.size", -1), 4);
        assert_null(json_path(j, "steps.test.files.old"));
        assert_null(json_path(j, "steps.old"));
        assert_int_equal(json_object_size(json_path(j, "steps")), 2);
        json_decref(j);

        /* One file, raw: as stored, or decoded from base64. */
        struct buf body;
        char type[128];
        assert_int_equal(
            get_raw(WF_PATH "/results?step=test&file=report", &body, type, sizeof(type)), 200);
        assert_string_equal(type, "application/octet-stream");
        assert_int_equal(body.len, 6);
        assert_memory_equal(body.data, "ok \xc3\xa9\n", 6);
        buf_release(&body);
        assert_int_equal(get_raw(WF_PATH "/results?step=test&file=bin", &body, type, sizeof(type)),
                         200);
        assert_int_equal(body.len, 4);
        assert_memory_equal(body.data, "\x00\xff\x00n", 4);
        buf_release(&body);

        /* What is not there, or not this Workflow's. */
        j = expect("GET", WF_PATH "/results?step=test&file=nope", NULL, 404);
        assert_string_equal(str_at(j, "message"), "workflow etl has no file nope of step test");
        json_decref(j);
        j = expect("GET", WF_PATH "/results?step=test&file=old", NULL, 404);
        assert_string_equal(str_at(j, "message"), "workflow etl has no file old of step test");
        json_decref(j);
        j = expect("GET", "/apis/berth/v1/namespaces/default/workflows/gone/results?step=a&file=b",
                   NULL, 404);
        assert_string_equal(str_at(j, "message"), "workflows \"gone\" not found");
        json_decref(j);
        j = expect("GET", WF_PATH "/results?step=test&file=broken", NULL, 500);
        assert_string_equal(str_at(j, "message"), "file broken of step test is stored as invalid "
                                                  "base64");
        json_decref(j);
        j = expect("GET", WF_PATH "/results?file=report", NULL, 400);
        assert_non_null(strstr(str_at(j, "message"), "step and file go together"));
        json_decref(j);
        json_decref(expect("GET", WF_PATH "/results?step=test&file=a.b", NULL, 400));
}

static size_t list_count(const char *path)
{
        json_t *j = expect("GET", path, NULL, 200);
        assert_string_equal(str_at(j, "kind"), "TaskList");
        assert_non_null(json_path_string(j, "metadata.resourceVersion"));
        size_t n = json_array_size(json_object_get(j, "items"));
        json_decref(j);
        return n;
}

static void test_list_selectors(void **state)
{
        (void)state;
        const char *names[] = {"sel-web1", "sel-web2", "sel-db"};
        const char *lbls[] = {"  labels: {app: web, tier: front}\n", "  labels: {app: web}\n",
                              "  labels: {app: db}\n"};
        for (size_t i = 0; i < 3; i++) {
                _cleanup_free_ char *y = task_yaml(names[i], "busybox:latest", lbls[i]);
                json_decref(expect("POST", "/apis/berth/v1/namespaces/sel/tasks", y, 201));
        }
        assert_int_equal(list_count("/apis/berth/v1/namespaces/sel/tasks"), 3);
        assert_int_equal(list_count("/apis/berth/v1/namespaces/sel/tasks?labelSelector=app%3Dweb"),
                         2);
        assert_int_equal(list_count("/apis/berth/v1/namespaces/sel/tasks?labelSelector="
                                    "app%3Dweb,tier"),
                         1);
        assert_int_equal(list_count("/apis/berth/v1/namespaces/sel/tasks?labelSelector="
                                    "app+in+(db,cache)"),
                         1);
        assert_int_equal(list_count("/apis/berth/v1/namespaces/sel/tasks?labelSelector=!tier"), 2);
        assert_int_equal(list_count("/apis/berth/v1/namespaces/sel/tasks?fieldSelector="
                                    "metadata.name%3Dsel-db"),
                         1);
        assert_int_equal(list_count("/apis/berth/v1/namespaces/sel/tasks?fieldSelector="
                                    "status.phase%3DFailed"),
                         0);
        assert_int_equal(list_count("/apis/berth/v1/namespaces/empty/tasks"), 0);
        /* Across namespaces: these three and more. */
        assert_true(list_count("/apis/berth/v1/tasks") > 3);
        assert_int_equal(list_count("/apis/berth/v1/tasks?fieldSelector=metadata.namespace%3Dsel"),
                         3);

        json_t *j = expect("GET", "/apis/berth/v1/tasks?labelSelector=a+in+b", NULL, 400);
        assert_string_equal(str_at(j, "reason"), "BadRequest");
        json_decref(j);
        json_decref(expect("GET", "/apis/berth/v1/tasks?fieldSelector=spec.image%3Dx", NULL, 400));
}

/* Every item of path read in pages of limit (path has a query): the names,
 * comma-separated, and the number of pages. Every page has the first's
 * resourceVersion and at most limit items. */
static char *list_paged(const char *path, int limit, size_t *ret_pages)
{
        _cleanup_buf_ struct buf names;
        buf_init(&names, 1024 * 1024);
        _cleanup_free_ char *token = NULL, *rv = NULL;
        size_t pages = 0;
        for (;;) {
                /* base64url: nothing to escape */
                _cleanup_free_ char *p = str_printf("%s&limit=%d%s%s", path, limit,
                                                    token ? "&continue=" : "", token ? token : "");
                json_t *j = expect("GET", p, NULL, 200);
                pages++;
                json_t *items = json_object_get(j, "items");
                assert_true(json_array_size(items) <= (size_t)limit);
                if (!rv)
                        rv = strdup(str_at(j, "metadata.resourceVersion"));
                assert_string_equal(str_at(j, "metadata.resourceVersion"), rv);
                size_t i;
                json_t *o;
                json_array_foreach(items, i, o)
                {
                        buf_printf(&names, "%s%s", names.len ? "," : "",
                                   json_path_string(o, "metadata.name"));
                }
                const char *next = json_path_string(j, "metadata.continue");
                free(token);
                token = next ? strdup(next) : NULL;
                json_decref(j);
                if (!token)
                        break;
        }
        *ret_pages = pages;
        return strdup(names.data ? names.data : "");
}

static void test_list_pages(void **state)
{
        (void)state;
        const char *names[] = {"pg-a", "pg-b", "pg-c", "pg-d", "pg-e"};
        for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
                _cleanup_free_ char *y = task_yaml(names[i], "busybox:latest",
                                                   i % 2 ? "  labels: {odd: \"yes\"}\n" : "");
                json_decref(expect("POST", "/apis/berth/v1/namespaces/pages/tasks", y, 201));
        }
        size_t pages = 0;
        _cleanup_free_ char *all =
            list_paged("/apis/berth/v1/namespaces/pages/tasks?x=1", 2, &pages);
        assert_string_equal(all, "pg-a,pg-b,pg-c,pg-d,pg-e");
        assert_int_equal(pages, 3);
        /* Selectors apply to each page: pages may hold fewer than limit. */
        _cleanup_free_ char *odd =
            list_paged("/apis/berth/v1/namespaces/pages/tasks?labelSelector=odd%3Dyes", 1, &pages);
        assert_string_equal(odd, "pg-b,pg-d");
        _cleanup_free_ char *named = list_paged(
            "/apis/berth/v1/namespaces/pages/tasks?fieldSelector=metadata.name%3Dpg-e", 2, &pages);
        assert_string_equal(named, "pg-e");
        /* Across namespaces, as many as the whole list (read before and
         * after, equal: nothing changed in between). */
        bool same = false;
        for (int attempt = 0; attempt < 5 && !same; attempt++) {
                size_t before = list_count("/apis/berth/v1/tasks");
                _cleanup_free_ char *every = list_paged("/apis/berth/v1/tasks?x=1", 3, &pages);
                size_t n = 1;
                for (const char *p = every; *p; p++)
                        n += *p == ',';
                same = n == before && before == list_count("/apis/berth/v1/tasks");
        }
        assert_true(same);

        /* Errors. */
        json_t *j = expect("GET", "/apis/berth/v1/namespaces/pages/tasks?limit=x", NULL, 400);
        assert_non_null(strstr(str_at(j, "message"), "limit"));
        json_decref(j);
        j = expect("GET", "/apis/berth/v1/namespaces/pages/tasks?limit=2", NULL, 200);
        _cleanup_free_ char *tok = strdup(str_at(j, "metadata.continue"));
        json_decref(j);
        _cleanup_free_ char *other =
            str_printf("/apis/berth/v1/namespaces/other/tasks?continue=%s", tok);
        j = expect("GET", other, NULL, 400);
        assert_non_null(strstr(str_at(j, "message"), "another list"));
        json_decref(j);
        j = expect("GET", "/apis/berth/v1/namespaces/pages/tasks?continue=Zm9v", NULL, 400);
        assert_non_null(strstr(str_at(j, "message"), "invalid continue token"));
        json_decref(j);
}

/* What the list route gave before the cache kept bytes: the cached trees,
 * filtered, redacted and serialized as one json_pack'd list. */
static char *list_from_trees(const char *prefix, const char *kind, const char *label_sel,
                             const char *field_sel)
{
        _cleanup_(api_selector_release) struct api_selector labels = {0}, fields = {0};
        struct api_error err = {0};
        assert_int_equal(api_label_selector_parse(label_sel, &labels, &err), 0);
        assert_int_equal(api_field_selector_parse(field_sel, &fields, &err), 0);
        int64_t rev = 0;
        _cleanup_json_ json_t *all = object_cache_list(E.cache, prefix, &rev);
        _cleanup_json_ json_t *items = json_array();
        size_t i;
        json_t *obj;
        json_array_foreach(all, i, obj)
        {
                if (api_object_matches(&labels, &fields, obj))
                        json_array_append_new(items, api_object_for_reply(NULL, obj, false, NULL));
        }
        char rv[32];
        snprintf(rv, sizeof(rv), "%" PRId64, rev);
        _cleanup_free_ char *list_kind = str_printf("%sList", kind);
        _cleanup_json_ json_t *list =
            json_pack("{s:s, s:s, s:{s:s}, s:O}", "kind", list_kind, "apiVersion",
                      MANIFEST_API_VERSION, "metadata", "resourceVersion", rv, "items", items);
        _cleanup_free_ char *text = json_dumps(list, JSON_COMPACT);
        return str_printf("%s\n", text);
}

/* The list from the cache's bytes is what the trees gave, byte for byte:
 * with and without selectors (on the summary and on the parsed object),
 * across namespaces, and for Secrets (redacted from the parsed object). */
static void test_list_from_bytes(void **state)
{
        (void)state;
        struct berth_error err = {0};
        const char *lbls[] = {"  labels: {app: web, tier: front}\n", "  labels: {app: w.eb}\n", ""};
        for (size_t i = 0; i < ARRAY_SIZE(lbls); i++) {
                _cleanup_free_ char *name = str_printf("bytes-%zu", i);
                _cleanup_free_ char *y = task_yaml(name, "busybox:latest", lbls[i]);
                json_decref(expect("POST", "/apis/berth/v1/namespaces/bytes/tasks", y, 201));
        }
        /* Written as the store holds them: a Secret (its values are redacted
         * in replies) and Events (selected on involvedObject.*). */
        static const char secret[] =
            "{\"apiVersion\":\"berth/v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\","
            "\"namespace\":\"bytes\",\"labels\":{\"app\":\"web\"}},\"data\":{\"k\":\"c2VhbGVk\"}}";
        static const char event[] =
            "{\"apiVersion\":\"berth/v1\",\"kind\":\"Event\",\"metadata\":{\"name\":\"e%d\","
            "\"namespace\":\"bytes\"},\"involvedObject\":{\"kind\":\"Task\",\"name\":\"bytes-%d\","
            "\"namespace\":\"bytes\"},\"type\":\"Normal\",\"reason\":\"Started\"}";
        int64_t rev = 0;
        assert_int_equal(store_put(E.store, "/berth/secrets/bytes/s", secret, strlen(secret),
                                   STORE_ANY_REVISION, 0, &rev, &err),
                         0);
        for (int i = 0; i < 2; i++) {
                _cleanup_free_ char *ev = str_printf(event, i, i);
                _cleanup_free_ char *key = str_printf("/berth/events/bytes/e%d", i);
                assert_int_equal(
                    store_put(E.store, key, ev, strlen(ev), STORE_ANY_REVISION, 0, &rev, &err), 0);
        }
        assert_int_equal(object_cache_wait_revision(E.cache, rev, 5000), 0);

        static const struct {
                const char *path, *prefix, *kind, *labels, *fields;
                size_t items;
        } cases[] = {
            {"/namespaces/bytes/tasks", "/berth/tasks/bytes/", "Task", "", "", 3},
            {"/namespaces/bytes/tasks?labelSelector=app%3Dweb", "/berth/tasks/bytes/", "Task",
             "app=web", "", 1},
            {"/namespaces/bytes/tasks?labelSelector=!tier&fieldSelector=metadata.name!%3Dbytes-2",
             "/berth/tasks/bytes/", "Task", "!tier", "metadata.name!=bytes-2", 1},
            {"/namespaces/bytes/tasks?fieldSelector=status.phase%3D", "/berth/tasks/bytes/", "Task",
             "", "status.phase=", 3},
            {"/tasks", "/berth/tasks/", "Task", "", "", 0},
            {"/tasks?fieldSelector=metadata.namespace%3Dbytes", "/berth/tasks/", "Task", "",
             "metadata.namespace=bytes", 3},
            {"/namespaces/bytes/secrets", "/berth/secrets/bytes/", "Secret", "", "", 1},
            {"/namespaces/bytes/events?fieldSelector=involvedObject.name%3Dbytes-1",
             "/berth/events/bytes/", "Event", "", "involvedObject.name=bytes-1", 1},
            {"/namespaces/none/tasks", "/berth/tasks/none/", "Task", "", "", 0},
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                _cleanup_free_ char *path = str_printf("/apis/berth/v1%s", cases[i].path);
                long code = 0;
                _cleanup_buf_ struct buf text = {0};
                _cleanup_json_ json_t *got = http_len("GET", path, NULL, 0, &code, &text);
                assert_int_equal(code, 200);
                _cleanup_free_ char *want = list_from_trees(cases[i].prefix, cases[i].kind,
                                                            cases[i].labels, cases[i].fields);
                assert_string_equal(text.data, want);
                if (cases[i].items > 0)
                        assert_int_equal(json_array_size(json_object_get(got, "items")),
                                         cases[i].items);
        }
        /* The Secret's value never leaves in the clear. */
        long code = 0;
        _cleanup_buf_ struct buf text = {0};
        json_decref(
            http_len("GET", "/apis/berth/v1/namespaces/bytes/secrets", NULL, 0, &code, &text));
        assert_null(strstr(text.data, "c2VhbGVk"));
}

/* ---- watch -------------------------------------------------------------- */

static size_t on_watch_data(char *p, size_t size, size_t n, void *userdata)
{
        struct watcher *w = userdata;
        pthread_mutex_lock(&w->lock);
        bool stop = w->stop;
        if (!stop)
                buf_append(&w->data, p, size * n);
        pthread_mutex_unlock(&w->lock);
        return stop ? 0 : size * n;
}

static void *watch_main(void *arg)
{
        struct watcher *w = arg;
        CURL *c = curl_easy_init();
        char url[600];
        snprintf(url, sizeof(url), "http://localhost%s", w->path);
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, E.sock);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_watch_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, w);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
        struct curl_slist *headers = NULL;
        for (size_t i = 0; i < ARRAY_SIZE(w->headers); i++)
                if (w->headers[i][0])
                        headers = curl_slist_append(headers, w->headers[i]);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
        w->result = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &w->code);
        curl_easy_cleanup(c);
        curl_slist_free_all(headers);
        return NULL;
}

/* A watch with up to two request headers (NULL: none). */
static void watcher_start_with(struct watcher *w, const char *path, const char *h1, const char *h2)
{
        memset(w, 0, sizeof(*w));
        snprintf(w->path, sizeof(w->path), "%s", path);
        snprintf(w->headers[0], sizeof(w->headers[0]), "%s", h1 ? h1 : "");
        snprintf(w->headers[1], sizeof(w->headers[1]), "%s", h2 ? h2 : "");
        pthread_mutex_init(&w->lock, NULL);
        buf_init(&w->data, 64 * 1024 * 1024);
        assert_int_equal(pthread_create(&w->thread, NULL, watch_main, w), 0);
}

static void watcher_start(struct watcher *w, const char *path)
{
        watcher_start_with(w, path, NULL, NULL);
}

/* Waits until the stream holds needle (true) or 5 s passed (false). */
static bool watcher_wait(struct watcher *w, const char *needle)
{
        for (int i = 0; i < 500; i++) {
                pthread_mutex_lock(&w->lock);
                bool found = w->data.data && strstr(w->data.data, needle);
                pthread_mutex_unlock(&w->lock);
                if (found)
                        return true;
                usleep(10 * 1000);
        }
        return false;
}

static void watcher_stop(struct watcher *w)
{
        pthread_mutex_lock(&w->lock);
        w->stop = true;
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->thread, NULL); /* the next bookmark ends it */
        buf_release(&w->data);
        pthread_mutex_destroy(&w->lock);
}

static int64_t current_rv(const char *path)
{
        json_t *j = expect("GET", path, NULL, 200);
        int64_t rv = strtoll(str_at(j, "metadata.resourceVersion"), NULL, 10);
        json_decref(j);
        return rv;
}

static size_t metric(const char *name)
{
        long code;
        struct buf text;
        json_decref(http_len("GET", "/metrics", NULL, 0, &code, &text));
        assert_int_equal(code, 200);
        /* Sample lines only, not the # HELP text. */
        _cleanup_free_ char *needle = str_printf("\n%s", name);
        const char *p = strstr(text.data, needle);
        size_t v = p ? strtoul(p + strlen(needle), NULL, 10) : (size_t)-1;
        buf_release(&text);
        return v;
}

static void wait_metric(const char *name, size_t want)
{
        for (int i = 0; i < 300 && metric(name) != want; i++)
                usleep(10 * 1000);
        assert_int_equal(metric(name), want);
}

static void test_watch(void **state)
{
        (void)state;
        const char *wpath = "/apis/berth/v1/namespaces/w/tasks";
        _cleanup_free_ char *first = task_yaml("w-first", "busybox:latest", NULL);
        json_decref(expect("POST", wpath, first, 201));
        int64_t rv = current_rv(wpath);

        /* From a resourceVersion: only later changes, as NDJSON lines. */
        struct watcher from_rv, initial, selected;
        char path[256];
        snprintf(path, sizeof(path), "%s?watch=true&resourceVersion=%" PRId64, wpath, rv);
        watcher_start(&from_rv, path);
        snprintf(path, sizeof(path), "%s?watch=1", wpath);
        watcher_start(&initial, path);
        snprintf(path, sizeof(path), "%s?watch=1&labelSelector=pick%%3Dyes", wpath);
        watcher_start(&selected, path);
        /* All three are connected once bookmarks arrive. */
        assert_true(watcher_wait(&from_rv, "\"BOOKMARK\""));
        assert_true(watcher_wait(&initial, "\"BOOKMARK\""));
        assert_true(watcher_wait(&selected, "\"BOOKMARK\""));
        assert_int_equal(metric("berth_api_watches "), 3);

        _cleanup_free_ char *second = task_yaml("w-second", "busybox:latest", NULL);
        _cleanup_free_ char *third =
            task_yaml("w-third", "busybox:latest", "  labels: {pick: \"yes\"}\n");
        json_decref(expect("POST", wpath, second, 201));
        json_decref(expect("POST", wpath, third, 201));

        assert_true(watcher_wait(&from_rv, "\"name\":\"w-third\""));
        pthread_mutex_lock(&from_rv.lock);
        const char *line = strstr(from_rv.data.data, "{\"type\":\"ADDED\",\"object\":{");
        assert_non_null(line);
        assert_non_null(strstr(from_rv.data.data, "\"name\":\"w-second\""));
        assert_null(strstr(from_rv.data.data, "\"name\":\"w-first\""));
        /* Every line is one JSON object. */
        char *copy = strdup(from_rv.data.data);
        pthread_mutex_unlock(&from_rv.lock);
        for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l;
             l = strtok_r(NULL, "\n", &save)) {
                json_t *ev = json_loads(l, 0, NULL);
                assert_non_null(ev);
                assert_non_null(json_string_value(json_object_get(ev, "type")));
                assert_non_null(json_object_get(ev, "object"));
                json_decref(ev);
        }
        free(copy);

        /* Without resourceVersion: the current objects first, as ADDED. */
        assert_true(watcher_wait(&initial, "\"name\":\"w-first\""));
        assert_true(watcher_wait(&initial, "\"name\":\"w-third\""));
        /* Selectors apply to events too. */
        assert_true(watcher_wait(&selected, "\"name\":\"w-third\""));
        pthread_mutex_lock(&selected.lock);
        assert_null(strstr(selected.data.data, "\"name\":\"w-second\""));
        pthread_mutex_unlock(&selected.lock);

        /* A MODIFIED and a DELETED-ish change (finalizer: deletionTimestamp is a MODIFIED). */
        json_decref(expect("DELETE", "/apis/berth/v1/namespaces/w/tasks/w-second", NULL, 200));
        assert_true(watcher_wait(&from_rv, "\"type\":\"MODIFIED\""));

        watcher_stop(&from_rv);
        watcher_stop(&initial);
        watcher_stop(&selected);
        assert_int_equal(from_rv.code, 200);
        /* The server noticed the clients leaving. */
        wait_metric("berth_api_watches ", 0);
}

/* An object that stops matching a watch's selector is DELETED for it, one that
 * starts to match is ADDED (like Kubernetes), so `get -w -l ...` stays right. */
static void test_watch_selector_transitions(void **state)
{
        (void)state;
        const char *wpath = "/apis/berth/v1/namespaces/wsel/tasks";
        const char *opath = "/apis/berth/v1/namespaces/wsel/tasks/flip";
        _cleanup_free_ char *plain = task_yaml("flip", "busybox:latest", NULL);
        struct watcher w;
        char path[256];

        snprintf(path, sizeof(path), "%s?watch=1&labelSelector=pick%%3Dyes", wpath);
        watcher_start(&w, path);
        assert_true(watcher_wait(&w, "\"BOOKMARK\""));
        json_decref(expect("POST", wpath, plain, 201));

        /* Gains the label: ADDED for this watcher, although the store saw a change;
         * then loses it: DELETED, carrying the last matching state. */
        const char *labels[] = {"  labels: {pick: \"yes\"}\n", ""};
        const char *want[] = {"{\"type\":\"ADDED\",\"object\":{", "{\"type\":\"DELETED\""};
        for (size_t i = 0; i < ARRAY_SIZE(labels); i++) {
                json_t *cur = expect("GET", opath, NULL, 200);
                _cleanup_free_ char *body =
                    str_printf("apiVersion: berth/v1\nkind: Task\nmetadata:\n  name: flip\n"
                               "  resourceVersion: \"%s\"\n%sspec:\n  image: busybox:latest\n"
                               "  command: [echo, hi]\n",
                               json_path_string(cur, "metadata.resourceVersion"), labels[i]);
                json_decref(cur);
                json_decref(expect("PUT", opath, body, 200));
                assert_true(watcher_wait(&w, want[i]));
        }
        pthread_mutex_lock(&w.lock);
        const char *del = strstr(w.data.data, "{\"type\":\"DELETED\"");
        assert_non_null(strstr(del, "\"pick\":\"yes\""));
        assert_null(strstr(w.data.data, "\"MODIFIED\""));
        pthread_mutex_unlock(&w.lock);
        watcher_stop(&w);
}

/* A client that never reads: once 16 MiB wait for it, its stream is dropped. */
static void test_watch_slow_client(void **state)
{
        (void)state;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        int small = 4096;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        assert_int_equal(str_copy(sa.sun_path, sizeof(sa.sun_path), E.sock), 0);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        const char *req = "GET /apis/berth/v1/namespaces/slow/tasks?watch=1 HTTP/1.1\r\n"
                          "Host: localhost\r\n\r\n";
        assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
        for (int i = 0; i < 100 && metric("berth_api_watches ") != 1; i++)
                usleep(10 * 1000);
        assert_int_equal(metric("berth_api_watches "), 1);

        /* About 200 KiB per event. */
        size_t pad = 200 * 1024;
        char *big = malloc(pad + 1);
        memset(big, 'x', pad);
        big[pad] = '\0';
        size_t created = 0;
        for (int i = 0; i < 120 && metric("berth_api_watches ") != 0; i++) {
                char name[32];
                snprintf(name, sizeof(name), "slow-%d", i);
                _cleanup_free_ char *body = str_printf(
                    "{\"apiVersion\":\"berth/v1\",\"kind\":\"Task\",\"metadata\":{\"name\":"
                    "\"%s\",\"annotations\":{\"pad\":\"%s\"}},\"spec\":{\"image\":"
                    "\"busybox:latest\"}}",
                    name, big);
                json_decref(expect("POST", "/apis/berth/v1/namespaces/slow/tasks", body, 201));
                created++;
        }
        free(big);
        wait_metric("berth_api_watches ", 0);
        /* It took more than the cap to get there, and the server still serves. */
        assert_true(created * pad > API_WATCH_QUEUE_MAX);
        json_decref(expect("GET", "/healthz", NULL, 200));
        close(fd);
}

static void test_watch_errors(void **state)
{
        (void)state;
        char path[256];
        snprintf(path, sizeof(path), "/apis/berth/v1/tasks?watch=true&resourceVersion=%" PRId64,
                 E.first_cache_rev - 2);
        json_t *j = expect("GET", path, NULL, 410);
        assert_string_equal(str_at(j, "reason"), "Gone");
        assert_true(str_has_prefix(str_at(j, "message"), "too old resource version: "));
        json_decref(j);
        json_decref(
            expect("GET", "/apis/berth/v1/tasks?watch=true&resourceVersion=abc", NULL, 400));
        json_decref(expect("GET", "/apis/berth/v1/tasks?watch=true&labelSelector=%3D", NULL, 400));
}

/* The watch as Server-Sent Events: asked for by Accept alone, ids that are
 * revisions, the initial state ended by a BOOKMARK, heartbeats, a resume
 * with Last-Event-ID, and the expired case as an "error" event. */
static void test_watch_sse(void **state)
{
        (void)state;
        const char *wpath = "/apis/berth/v1/namespaces/sse/tasks";
        const char *accept = "Accept: text/event-stream";
        _cleanup_free_ char *a = task_yaml("sse-a", "busybox:latest", NULL);
        json_decref(expect("POST", wpath, a, 201));
        int64_t rv = current_rv(wpath);
        char want[256], hdr[64];

        struct watcher fresh, resumed, by_param;
        watcher_start_with(&fresh, wpath, accept, NULL);
        snprintf(want, sizeof(want),
                 "id: %" PRId64 "\nevent: BOOKMARK\ndata: {\"kind\":\"Task\",\"apiVersion\":"
                 "\"berth/v1\",\"metadata\":{\"resourceVersion\":\"%" PRId64 "\","
                 "\"annotations\":{\"berth/initial-events-end\":\"true\"}}}\n\n",
                 rv, rv);
        assert_true(watcher_wait(&fresh, want));
        assert_true(watcher_wait(&fresh, "\n: heartbeat\n\n"));
        pthread_mutex_lock(&fresh.lock);
        assert_true(str_has_prefix(fresh.data.data, "retry: 3000\n\nevent: ADDED\ndata: {"));
        assert_non_null(strstr(fresh.data.data, "\"name\":\"sse-a\""));
        pthread_mutex_unlock(&fresh.lock);

        /* Last-Event-ID wins over ?resourceVersion=; both resume after rv. */
        snprintf(hdr, sizeof(hdr), "Last-Event-ID: %" PRId64, rv);
        char path[256];
        snprintf(path, sizeof(path), "%s?resourceVersion=1", wpath);
        watcher_start_with(&resumed, path, accept, hdr);
        snprintf(path, sizeof(path), "%s?resourceVersion=%" PRId64, wpath, rv);
        watcher_start_with(&by_param, path, accept, NULL);
        assert_true(watcher_wait(&resumed, ": heartbeat"));
        assert_true(watcher_wait(&by_param, ": heartbeat"));

        _cleanup_free_ char *b = task_yaml("sse-b", "busybox:latest", NULL);
        json_decref(expect("POST", wpath, b, 201));
        int64_t rv_b = current_rv(wpath);
        snprintf(want, sizeof(want), "id: %" PRId64 "\nevent: ADDED\ndata: {", rv_b);
        assert_true(watcher_wait(&fresh, want));
        assert_true(watcher_wait(&resumed, want));
        assert_true(watcher_wait(&by_param, want));
        pthread_mutex_lock(&resumed.lock);
        assert_null(strstr(resumed.data.data, "\"name\":\"sse-a\""));
        pthread_mutex_unlock(&resumed.lock);
        watcher_stop(&fresh);
        watcher_stop(&resumed);
        watcher_stop(&by_param);
        assert_int_equal(fresh.code, 200);

        /* Too old: a 200 stream with the Status as an error event, then its end. */
        struct watcher old;
        snprintf(hdr, sizeof(hdr), "Last-Event-ID: %" PRId64, E.first_cache_rev - 2);
        watcher_start_with(&old, wpath, accept, hdr);
        pthread_join(old.thread, NULL);
        assert_int_equal(old.result, CURLE_OK);
        assert_int_equal(old.code, 200);
        assert_true(str_has_prefix(old.data.data, "retry: 3000\n\nevent: error\ndata: {"));
        assert_non_null(strstr(old.data.data, "\"code\":410,\"reason\":\"Expired\""));
        assert_true(str_has_suffix(old.data.data, "}\n\n"));
        buf_release(&old.data);
        pthread_mutex_destroy(&old.lock);

        /* Other refusals stay HTTP errors (EventSource gives up on them). */
        struct watcher bad;
        watcher_start_with(&bad, "/apis/berth/v1/tasks?labelSelector=%3D", accept, NULL);
        pthread_join(bad.thread, NULL);
        assert_int_equal(bad.code, 400);
        assert_non_null(strstr(bad.data.data, "\"kind\":\"Status\""));
        buf_release(&bad.data);
        pthread_mutex_destroy(&bad.lock);
        watcher_start_with(&bad, wpath, accept, "Last-Event-ID: x");
        pthread_join(bad.thread, NULL);
        assert_int_equal(bad.code, 400);
        assert_non_null(strstr(bad.data.data, "invalid Last-Event-ID"));
        buf_release(&bad.data);
        pthread_mutex_destroy(&bad.lock);
}

static void test_logs_without_docker(void **state)
{
        (void)state;
        if (E.containers)
                skip();
        json_t *j = expect("GET", NS_PATH "/hello/log?follow=true", NULL, 503);
        assert_string_equal(str_at(j, "reason"), "ServiceUnavailable");
        json_decref(j);
        j = expect("GET", "/apis/berth/v1/namespaces/default/services/web/log?replica=0", NULL,
                   503);
        assert_string_equal(str_at(j, "reason"), "ServiceUnavailable");
        json_decref(j);
}

static void remove_test_containers(void)
{
        _cleanup_free_ char *cmd = str_printf("docker ps -aq --filter label=berth.apitest=%d | "
                                              "xargs -r docker rm -f >/dev/null 2>&1",
                                              getpid());
        sh(cmd);
}

/* A container as the reconciler would make it, for the task's uid and attempt. */
/* A container for the task's uid and attempt. It carries no berth.managed
 * label (a berthd sharing this engine would garbage-collect it) and is put into
 * the container cache by hand, as the reconciler's write-through does. */
static void run_container(const char *task, const char *uid, int attempt, const char *script)
{
        _cleanup_free_ char *cmd = str_printf("docker run -d --name berth-apitest-%d-%s-%d "
                                              "-l berth.apitest=%d busybox:latest sh -c '%s'",
                                              getpid(), task, attempt, getpid(), script);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        struct container_info ci = {.attempt = attempt, .state = DOCKER_STATE_RUNNING};
        assert_non_null(fgets(ci.id, sizeof(ci.id), p));
        assert_int_equal(pclose(p), 0);
        ci.id[strcspn(ci.id, "\n")] = '\0';
        assert_int_equal(strlen(ci.id), 64);
        snprintf(ci.name, sizeof(ci.name), "berth-apitest-%d-%s-%d", getpid(), task, attempt);
        str_copy(ci.kind, sizeof(ci.kind), "Task");
        str_copy(ci.ns, sizeof(ci.ns), "default");
        str_copy(ci.owner, sizeof(ci.owner), task);
        str_copy(ci.uid, sizeof(ci.uid), uid);
        ci.generation = 1;
        container_cache_upsert(E.containers, &ci);
}

static char *create_task_uid(const char *name)
{
        _cleanup_free_ char *y = task_yaml(name, "busybox:latest", NULL);
        json_t *j = expect("POST", NS_PATH, y, 201);
        char *uid = strdup(str_at(j, "metadata.uid"));
        json_decref(j);
        return uid;
}

static void test_logs_docker(void **state)
{
        (void)state;
        if (!E.containers)
                skip();

        _cleanup_free_ char *uid = create_task_uid("logs");
        long code;
        struct buf text;

        json_t *j = expect("GET", NS_PATH "/logs/log", NULL, 404);
        assert_string_equal(str_at(j, "message"), "task logs has no container yet");
        json_decref(j);

        run_container("logs", uid, 1, "echo one; echo two >&2; sleep 0.2; echo three");
        run_container("logs", uid, 2, "echo second attempt");
        _cleanup_free_ char *wait = str_printf("docker wait berth-apitest-%d-logs-1 "
                                               "berth-apitest-%d-logs-2 >/dev/null",
                                               getpid(), getpid());
        assert_int_equal(system(wait), 0);

        /* Default: the highest attempt. */
        json_decref(http_len("GET", NS_PATH "/logs/log", NULL, 0, &code, &text));
        assert_int_equal(code, 200);
        assert_string_equal(text.data, "second attempt\n");
        buf_release(&text);

        /* stdout and stderr merged. */
        json_decref(http_len("GET", NS_PATH "/logs/log?attempt=1", NULL, 0, &code, &text));
        assert_int_equal(code, 200);
        assert_non_null(strstr(text.data, "one\n"));
        assert_non_null(strstr(text.data, "two\n"));
        assert_non_null(strstr(text.data, "three\n"));
        buf_release(&text);

        json_decref(
            http_len("GET", NS_PATH "/logs/log?attempt=1&tailLines=1", NULL, 0, &code, &text));
        assert_int_equal(code, 200);
        assert_string_equal(text.data, "three\n");
        buf_release(&text);

        json_decref(http_len("GET", NS_PATH "/logs/log?attempt=1&timestamps=true&tailLines=1", NULL,
                             0, &code, &text));
        assert_int_equal(code, 200);
        assert_true(str_has_suffix(text.data, "Z three\n"));
        buf_release(&text);

        json_decref(expect("GET", NS_PATH "/logs/log?attempt=3", NULL, 404));
        json_decref(expect("GET", NS_PATH "/logs/log?tailLines=-1", NULL, 400));
        json_decref(expect("GET", NS_PATH "/nobody/log", NULL, 404));

        /* Follow: the stream ends when the container does. */
        _cleanup_free_ char *fuid = create_task_uid("follow");
        run_container("follow", fuid, 1, "echo a; sleep 1; echo b");
        size_t streams = metric("berth_api_requests_total{route=\"log\",code=\"200\"} ");
        json_decref(http_len("GET", NS_PATH "/follow/log?follow=true", NULL, 0, &code, &text));
        assert_int_equal(code, 200);
        assert_string_equal(text.data, "a\nb\n");
        buf_release(&text);
        /* Counted as a log stream, from the wake-up that started its reply. */
        assert_int_equal(metric("berth_api_requests_total{route=\"log\",code=\"200\"} "),
                         streams + 1);
        /* As Server-Sent Events: an event a line, then "end". */
        struct watcher sse;
        watcher_start_with(&sse, NS_PATH "/follow/log?follow=true", "Accept: text/event-stream",
                           NULL);
        pthread_join(sse.thread, NULL);
        assert_int_equal(sse.code, 200);
        assert_true(str_has_prefix(sse.data.data,
                                   "data: a\n\ndata: b\n\nevent: end\ndata: {\"container\":\""));
        assert_true(str_has_suffix(sse.data.data, "\"}\n\n"));
        buf_release(&sse.data);
        pthread_mutex_destroy(&sse.lock);

        /* A follower that leaves: the server interrupts its thread. */
        _cleanup_free_ char *luid = create_task_uid("long");
        run_container("long", luid, 1, "while true; do echo tick; sleep 0.2; done");
        struct watcher w;
        watcher_start(&w, NS_PATH "/long/log?follow=true");
        assert_true(watcher_wait(&w, "tick\ntick\n"));
        assert_int_equal(metric("berth_api_log_streams "), 1);
        watcher_stop(&w);
        wait_metric("berth_api_log_streams ", 0);

        /* And one still open when the server shuts down (teardown). */
        watcher_start(&E.leftover_log, NS_PATH "/long/log?follow=true");
        E.have_leftover_log = true;
        assert_true(watcher_wait(&E.leftover_log, "tick\n"));
}

#define SVC_PATH "/apis/berth/v1/namespaces/default/services"

/* A container of replica index of the Service uid at revision rev8, named in
 * the cache as berthd names them (berth.<ns>.<name>.<rev8>.<index>). */
static void run_replica(const char *svc, const char *uid, const char *rev8, int index,
                        int64_t generation, const char *script)
{
        _cleanup_free_ char *cmd = str_printf("docker run -d --name berth-apitest-%d-%s-%s-%d "
                                              "-l berth.apitest=%d busybox:latest sh -c '%s'",
                                              getpid(), svc, rev8, index, getpid(), script);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        struct container_info ci = {
            .replica = index, .generation = generation, .state = DOCKER_STATE_RUNNING};
        assert_non_null(fgets(ci.id, sizeof(ci.id), p));
        assert_int_equal(pclose(p), 0);
        ci.id[strcspn(ci.id, "\n")] = '\0';
        snprintf(ci.name, sizeof(ci.name), "berth.default.%s.%s.%d", svc, rev8, index);
        str_copy(ci.kind, sizeof(ci.kind), "Service");
        str_copy(ci.ns, sizeof(ci.ns), "default");
        str_copy(ci.owner, sizeof(ci.owner), svc);
        str_copy(ci.uid, sizeof(ci.uid), uid);
        str_copy(ci.revision, sizeof(ci.revision), rev8);
        container_cache_upsert(E.containers, &ci);
        _cleanup_free_ char *wait = str_printf("docker wait berth-apitest-%d-%s-%s-%d >/dev/null",
                                               getpid(), svc, rev8, index);
        assert_int_equal(system(wait), 0);
}

static void test_service_logs_docker(void **state)
{
        (void)state;
        if (!E.containers)
                skip();
        long code;
        struct buf text;

        json_t *j = expect("POST", SVC_PATH,
                           "apiVersion: berth/v1\nkind: Service\nmetadata:\n  name: web\n"
                           "spec:\n  replicas: 2\n  template:\n    image: busybox:latest\n",
                           201);
        _cleanup_free_ char *uid = strdup(str_at(j, "metadata.uid"));
        json_decref(j);

        j = expect("GET", SVC_PATH "/web/log", NULL, 404);
        assert_string_equal(str_at(j, "message"), "service web has no container yet");
        json_decref(j);

        /* Replica 0 during a rollout: two revisions; replica 1: one. */
        run_replica("web", uid, "aaaaaaaa", 0, 1, "echo zero-old");
        run_replica("web", uid, "bbbbbbbb", 0, 2, "echo zero-new");

        /* One index: served without ?replica (the newer container). */
        json_decref(http_len("GET", SVC_PATH "/web/log", NULL, 0, &code, &text));
        assert_int_equal(code, 200);
        assert_string_equal(text.data, "zero-new\n");
        buf_release(&text);

        run_replica("web", uid, "aaaaaaaa", 1, 1, "echo one; echo two >&2");
        j = expect("GET", SVC_PATH "/web/log", NULL, 400);
        assert_non_null(strstr(str_at(j, "message"), "replica parameter"));
        json_decref(j);

        json_decref(
            http_len("GET", SVC_PATH "/web/log?replica=1&tailLines=1", NULL, 0, &code, &text));
        assert_int_equal(code, 200);
        assert_int_equal(strlen(text.data), 4); /* "one\n" or "two\n": the last in arrival */
        buf_release(&text);
        json_decref(http_len("GET", SVC_PATH "/web/log?replica=0", NULL, 0, &code, &text));
        assert_int_equal(code, 200);
        assert_string_equal(text.data, "zero-new\n");
        buf_release(&text);

        j = expect("GET", SVC_PATH "/web/log?replica=2", NULL, 404);
        assert_string_equal(str_at(j, "message"), "service web has no container for replica 2");
        json_decref(j);
        json_decref(expect("GET", SVC_PATH "/web/log?replica=x", NULL, 400));
        json_decref(expect("GET", SVC_PATH "/web/log?attempt=1", NULL, 400));
        json_decref(expect("GET", NS_PATH "/logs/log?replica=0", NULL, 400));
        json_decref(expect("GET", SVC_PATH "/nobody/log?replica=0", NULL, 404));
}

static void test_watch_open_at_shutdown(void **state)
{
        (void)state;
        /* Left open on purpose: teardown frees the server under it. */
        watcher_start(&E.leftover_watch, "/apis/berth/v1/tasks?watch=1");
        E.have_leftover_watch = true;
        assert_true(watcher_wait(&E.leftover_watch, "\"BOOKMARK\""));
}

static void test_metrics(void **state)
{
        (void)state;
        long code;
        struct buf text;
        json_decref(http_len("GET", "/metrics", NULL, 0, &code, &text));
        assert_int_equal(code, 200);
        assert_non_null(strstr(text.data, "berth_objects{resource=\"tasks\"} "));
        assert_non_null(strstr(text.data, "\nberth_objects_phase{kind=\"Task\",phase=\"\"} "));
        /* By route: reads on the loop, writes answered from the writer
         * threads, unrouted requests (log streams: test_logs_docker). */
        const char *const routes[] = {
            "route=\"list\",code=\"200\"",   "route=\"get\",code=\"404\"",
            "route=\"create\",code=\"201\"", "route=\"delete\",code=\"404\"",
            "route=\"apply\",code=\"200\"",  "route=\"other\",code=\"404\"",
            "route=\"watch\",code=\"200\"",  "route=\"healthz\",code=\"200\"",
        };
        for (size_t i = 0; i < ARRAY_SIZE(routes); i++) {
                _cleanup_free_ char *line = str_printf("\nberth_api_requests_total{%s", routes[i]);
                if (!strstr(text.data, line))
                        fail_msg("no berth_api_requests_total{%s} in /metrics:\n%s", routes[i],
                                 text.data);
        }
        assert_non_null(strstr(text.data, "\nberth_api_request_duration_seconds_count{route="
                                          "\"create\"} "));
        assert_non_null(strstr(text.data, "\nberth_api_watch_streams "));
        /* The writes went through the store's dispatch, which counts them. */
        assert_non_null(
            strstr(text.data, "\nberth_store_requests_total{op=\"put\",result=\"ok\"} "));
        buf_release(&text);
        size_t n = metric("berth_objects{resource=\"tasks\"} ");
        assert_true(n >= 5 && n < 1000);
        /* This scrape itself was counted. */
        size_t scrapes = metric("berth_api_requests_total{route=\"metrics\",code=\"200\"} ");
        assert_true(scrapes >= 2 && scrapes < 1000);
}

/* ---- writes off the loop ------------------------------------------------ */

/* One request from any thread (no cmocka calls): the status code, or -1 when
 * the request failed on the client side. */
static long request_code(const char *method, const char *path, const char *body)
{
        struct resp r = {0};
        CURL *c = client(method, path, &r);
        struct curl_slist *h = NULL;
        if (body) {
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
                h = curl_slist_append(h, "Content-Type: application/yaml");
                curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        }
        CURLcode cc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.code);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        resp_release(&r);
        return cc == CURLE_OK ? r.code : -1;
}

static int64_t mono_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define CONC_THREADS 6
#define CONC_EACH    20

struct creator {
        pthread_t thread;
        int id;
        int failures; /* read after the join */
};

/* Creates its objects one after the other and reads each right after its 201. */
static void *creator_main(void *arg)
{
        struct creator *c = arg;
        for (int i = 0; i < CONC_EACH; i++) {
                char name[32], path[128];
                snprintf(name, sizeof(name), "conc-%d-%d", c->id, i);
                snprintf(path, sizeof(path), "/apis/berth/v1/namespaces/conc/tasks/%s", name);
                _cleanup_free_ char *y = task_yaml(name, "busybox:latest", NULL);
                if (request_code("POST", "/apis/berth/v1/namespaces/conc/tasks", y) != 201 ||
                    request_code("GET", path, NULL) != 200)
                        c->failures++;
        }
        return NULL;
}

static void test_concurrent_writes(void **state)
{
        (void)state;
        struct creator cs[CONC_THREADS];
        for (int i = 0; i < CONC_THREADS; i++) {
                cs[i] = (struct creator){.id = i};
                assert_int_equal(pthread_create(&cs[i].thread, NULL, creator_main, &cs[i]), 0);
        }
        int failures = 0;
        for (int i = 0; i < CONC_THREADS; i++) {
                pthread_join(cs[i].thread, NULL);
                failures += cs[i].failures;
        }
        assert_int_equal(failures, 0);
        assert_int_equal(list_count("/apis/berth/v1/namespaces/conc/tasks"),
                         CONC_THREADS * CONC_EACH);
}

/* A writer hook that holds every write while the gate is closed. */
struct gate {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool closed;
        int entered; /* writes that reached the hook */
};

static void gate_hook(void *userdata)
{
        struct gate *g = userdata;
        pthread_mutex_lock(&g->lock);
        g->entered++;
        pthread_cond_broadcast(&g->cond);
        while (g->closed)
                pthread_cond_wait(&g->cond, &g->lock);
        pthread_mutex_unlock(&g->lock);
}

static void gate_close(struct gate *g)
{
        pthread_mutex_init(&g->lock, NULL);
        pthread_cond_init(&g->cond, NULL);
        g->closed = true;
        g->entered = 0;
        api_writes_set_hook(E.server, gate_hook, g);
}

/* Waits up to 5 s until n writes are held. */
static bool gate_wait_entered(struct gate *g, int n)
{
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 5;
        pthread_mutex_lock(&g->lock);
        while (g->entered < n && pthread_cond_timedwait(&g->cond, &g->lock, &until) == 0)
                ;
        bool ok = g->entered >= n;
        pthread_mutex_unlock(&g->lock);
        return ok;
}

/* Lets the held writes go and removes the hook. */
static void gate_open(struct gate *g)
{
        api_writes_set_hook(E.server, NULL, NULL);
        pthread_mutex_lock(&g->lock);
        g->closed = false;
        pthread_cond_broadcast(&g->cond);
        pthread_mutex_unlock(&g->lock);
}

static void gate_destroy(struct gate *g)
{
        pthread_cond_destroy(&g->cond);
        pthread_mutex_destroy(&g->lock);
}

/* Connects, sends a create and returns the socket without reading. */
static int send_raw_create(const char *ns, const char *name)
{
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        assert_int_equal(str_copy(sa.sun_path, sizeof(sa.sun_path), E.sock), 0);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        _cleanup_free_ char *y = task_yaml(name, "busybox:latest", NULL);
        _cleanup_free_ char *req = str_printf("POST /apis/berth/v1/namespaces/%s/tasks HTTP/1.1\r\n"
                                              "Host: localhost\r\n"
                                              "Content-Type: application/yaml\r\n"
                                              "Content-Length: %zu\r\n\r\n%s",
                                              ns, strlen(y), y);
        assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
        return fd;
}

static void test_write_client_leaves(void **state)
{
        (void)state;
        /* Held on a writer while its client goes away: the write still happens,
         * the reply is dropped. */
        struct gate g;
        gate_close(&g);
        int fd = send_raw_create("gone", "held");
        assert_true(gate_wait_entered(&g, 1));
        close(fd);
        usleep(100 * 1000); /* lets the loop see the hang-up first */
        gate_open(&g);
        bool found = false;
        for (int i = 0; i < 500 && !found; i++) {
                found =
                    request_code("GET", "/apis/berth/v1/namespaces/gone/tasks/held", NULL) == 200;
                if (!found)
                        usleep(10 * 1000);
        }
        assert_true(found);
        gate_destroy(&g);

        /* Hanging up at once, racing the writers. */
        for (int i = 0; i < 20; i++) {
                char name[32];
                snprintf(name, sizeof(name), "gone-%d", i);
                close(send_raw_create("gone", name));
        }
        json_decref(expect("GET", "/healthz", NULL, 200));
        _cleanup_free_ char *y = task_yaml("after", "busybox:latest", NULL);
        json_decref(expect("POST", "/apis/berth/v1/namespaces/gone/tasks", y, 201));
}

struct bg_write {
        pthread_t thread;
        long code;
};

static void *bg_create_main(void *arg)
{
        struct bg_write *b = arg;
        _cleanup_free_ char *y = task_yaml("stuck", "busybox:latest", NULL);
        b->code = request_code("POST", NS_PATH, y);
        return NULL;
}

static void test_reads_while_write_blocked(void **state)
{
        (void)state;
        struct gate g;
        struct bg_write b = {0};
        gate_close(&g);
        assert_int_equal(pthread_create(&b.thread, NULL, bg_create_main, &b), 0);
        assert_true(gate_wait_entered(&g, 1));

        /* The write is stuck on a writer thread; the loop answers at once. */
        int64_t t0 = mono_ms();
        assert_true(list_count(NS_PATH) >= 1);
        json_decref(expect("GET", "/healthz", NULL, 200));
        json_decref(expect("GET", NS_PATH "/hello", NULL, 200));
        int64_t took = mono_ms() - t0;
        assert_true(took < 1000);
        json_decref(expect("GET", NS_PATH "/stuck", NULL, 404));

        gate_open(&g);
        pthread_join(b.thread, NULL);
        assert_int_equal(b.code, 201);
        json_decref(expect("GET", NS_PATH "/stuck", NULL, 200));
        gate_destroy(&g);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_health_and_version),
            cmocka_unit_test(test_create_get),
            cmocka_unit_test(test_create_errors),
            cmocka_unit_test(test_body_limit),
            cmocka_unit_test(test_apply),
            cmocka_unit_test(test_replace),
            cmocka_unit_test(test_generate_name),
            cmocka_unit_test(test_delete),
            cmocka_unit_test(test_workflow_results_and_files),
            cmocka_unit_test(test_list_selectors),
            cmocka_unit_test(test_list_pages),
            cmocka_unit_test(test_list_from_bytes),
            cmocka_unit_test(test_watch),
            cmocka_unit_test(test_watch_selector_transitions),
            cmocka_unit_test(test_watch_slow_client),
            cmocka_unit_test(test_watch_errors),
            cmocka_unit_test(test_watch_sse),
            cmocka_unit_test(test_logs_without_docker),
            cmocka_unit_test(test_metrics),
            cmocka_unit_test(test_concurrent_writes),
            cmocka_unit_test(test_write_client_leaves),
            cmocka_unit_test(test_reads_while_write_blocked),
            cmocka_unit_test(test_logs_docker),
            cmocka_unit_test(test_service_logs_docker),
            cmocka_unit_test(test_watch_open_at_shutdown),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
