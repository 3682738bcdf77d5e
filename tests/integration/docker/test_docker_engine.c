/* Integration tests of the docker module against the real dockerd
 * (/var/run/docker.sock or $DOCKER_HOST), with the offline busybox:latest image.
 * Every container carries berth.test=docker-it and is removed at start and end. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include <cmocka.h>

#include "docker-internal.h"
#include "test-support.h"

#define TEST_LABEL     "berth.test=docker-it"
#define TEST_IMAGE     "busybox:latest"
#define WAIT_MS        20000
#define TEST_BUILD_TAG "berth-test-build:1"

static double now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int64_t wall_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void remove_test_containers(struct docker *d)
{
        struct docker_container *v = NULL;
        struct berth_error err = {0};
        size_t n = 0;

        assert_int_equal(docker_container_list(d, TEST_LABEL, &v, &n, &err), 0);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(docker_container_remove(d, v[i].id, &err), 0);
        docker_containers_free(v, n);
}

/* Volumes carry TEST_LABEL too; after the containers that may use them. */
static void remove_test_volumes(struct docker *d)
{
        struct berth_error err = {0};
        char **names = NULL;
        size_t n = 0;

        assert_int_equal(docker_volume_list(d, TEST_LABEL, &names, &n, &err), 0);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(docker_volume_remove(d, names[i], &err), 0);
        strv_free(names);
}

static int setup(void **state)
{
        struct berth_error err = {0};
        struct docker *d = NULL;

        if (docker_new(NULL, &d, &err) < 0) {
                fprintf(stderr, "docker_new: %s\n", err.message);
                return -1;
        }
        remove_test_containers(d);
        remove_test_volumes(d);
        docker_image_remove(d, TEST_BUILD_TAG, &err);
        *state = d;
        return 0;
}

static int teardown(void **state)
{
        struct docker *d = *state;
        struct berth_error err = {0};

        remove_test_containers(d);
        remove_test_volumes(d);
        docker_image_remove(d, TEST_BUILD_TAG, &err);
        docker_free(d);
        return 0;
}

static json_t *container_body(const char *image, const char *script, int64_t memory)
{
        json_t *body = json_pack("{s:s, s:[s,s,s], s:{s:s}, s:{s:s}}", "Image", image, "Cmd", "sh",
                                 "-c", script, "Labels", "berth.test", "docker-it", "HostConfig",
                                 "NetworkMode", "none");

        assert_non_null(body);
        if (memory > 0) {
                json_t *hc = json_object_get(body, "HostConfig");

                json_object_set_new(hc, "Memory", json_integer(memory));
                json_object_set_new(hc, "MemorySwap", json_integer(memory));
                json_object_set_new(hc, "PidsLimit", json_integer(64));
        }
        return body;
}

/* Polls inspect until the container has exited (the events path is tested
 * separately). */
static void wait_exited(struct docker *d, const char *id, struct docker_container *ret)
{
        struct berth_error err = {0};
        double deadline = now_ms() + WAIT_MS;

        for (;;) {
                struct docker_container c = {0};

                assert_int_equal(docker_container_inspect(d, id, &c, &err), 0);
                if (c.state == DOCKER_STATE_EXITED || c.state == DOCKER_STATE_DEAD) {
                        *ret = c;
                        return;
                }
                docker_container_release(&c);
                assert_true(now_ms() < deadline);
                usleep(50 * 1000);
        }
}

static void test_version(void **state)
{
        struct docker *d = *state;
        struct docker *c = docker_clone(d);
        int cmp = 1;

        assert_int_equal(docker_version_compare(docker_api_version(d), DOCKER_API_VERSION, &cmp),
                         0);
        assert_true(cmp <= 0);
        /* This machine's dockerd 20.10 speaks exactly 1.41. */
        assert_string_equal(docker_api_version(d), "1.41");
        assert_non_null(c);
        assert_string_equal(docker_api_version(c), docker_api_version(d));
        assert_string_equal(docker_url(c), docker_url(d));
        docker_free(c);
}

/* ---- events watcher thread --------------------------------------------- */

struct watch {
        struct docker *d;
        const char *name;
        int64_t since;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool seen_create, seen_start, seen_die, done;
        bool bad; /* an event broke an expectation (cmocka asserts are main-thread only) */
        char exit_code[16];
        int ret;
        struct berth_error err;
};

static int on_event(const struct docker_event *ev, void *userdata)
{
        struct watch *w = userdata;
        bool die;

        if (!streq(json_string_value(json_object_get(ev->attributes, "name")), w->name))
                return 0;
        pthread_mutex_lock(&w->lock);
        if (!streq(ev->type, "container") || ev->time_nano <= 0 || strlen(ev->id) != 64 ||
            !streq(json_string_value(json_object_get(ev->attributes, "berth.test")), "docker-it"))
                w->bad = true;
        if (streq(ev->action, "create"))
                w->seen_create = true;
        if (streq(ev->action, "start"))
                w->seen_start = true;
        die = streq(ev->action, "die");
        if (die) {
                w->seen_die = true;
                str_copy(w->exit_code, sizeof(w->exit_code),
                         json_string_value(json_object_get(ev->attributes, "exitCode")));
        }
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
        return die; /* stop the stream once the container has died */
}

static void *watch_thread(void *userdata)
{
        struct watch *w = userdata;
        int r = docker_events(w->d, TEST_LABEL, w->since, on_event, w, &w->err);

        pthread_mutex_lock(&w->lock);
        w->ret = r;
        w->done = true;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

/* Waits until the watcher finished, interrupting it after timeout_ms. */
static void watch_join(struct watch *w, pthread_t t, int timeout_ms)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += timeout_ms / 1000;
        pthread_mutex_lock(&w->lock);
        while (!w->done)
                if (pthread_cond_timedwait(&w->cond, &w->lock, &ts) != 0)
                        break;
        pthread_mutex_unlock(&w->lock);
        docker_interrupt(w->d); /* no-op for a finished stream; bounds the join */
        pthread_join(t, NULL);
}

/* ---- lifecycle ---------------------------------------------------------- */

struct logs {
        struct buf out, err;
        int stop_on; /* stop after this many callbacks; 0 = never */
        int calls;
};

static int on_log(enum docker_stream stream, const char *data, size_t len, void *userdata)
{
        struct logs *l = userdata;

        assert_int_equal(buf_append(stream == DOCKER_STREAM_STDERR ? &l->err : &l->out, data, len),
                         0);
        return l->stop_on && ++l->calls >= l->stop_on;
}

static void test_lifecycle(void **state)
{
        struct docker *d = *state;
        _cleanup_json_ json_t *body =
            container_body(TEST_IMAGE, "echo out; echo err >&2; exit 3", 0);
        _cleanup_free_ char *id = NULL, *id2 = NULL;
        struct watch w = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
        struct docker_container c = {0}, *v = NULL;
        struct docker_logs_opts lo = {.tail = -1};
        struct berth_error err = {0};
        struct logs l = {0};
        char name[64];
        double t0, t_create, t_start, t_remove;
        size_t n = 0;
        pthread_t t;

        snprintf(name, sizeof(name), "berth-it-docker-%d", (int)getpid());
        w.d = docker_clone(d);
        w.name = name;
        w.since = wall_ns() - 1000000000; /* replay covers a late subscription */
        assert_non_null(w.d);
        assert_int_equal(pthread_create(&t, NULL, watch_thread, &w), 0);

        t0 = now_ms();
        assert_int_equal(docker_container_create(d, name, body, &id, &err), 0);
        t_create = now_ms() - t0;
        assert_int_equal(strlen(id), 64);
        t0 = now_ms();
        assert_int_equal(docker_container_start(d, id, &err), 0);
        t_start = now_ms() - t0;

        watch_join(&w, t, WAIT_MS);
        assert_int_equal(w.ret, 0);
        assert_false(w.bad);
        assert_true(w.seen_create);
        assert_true(w.seen_start);
        assert_true(w.seen_die);
        assert_string_equal(w.exit_code, "3");
        docker_free(w.d);

        assert_int_equal(docker_container_inspect(d, name, &c, &err), 0);
        assert_string_equal(c.id, id);
        assert_string_equal(c.name, name);
        assert_string_equal(c.image, TEST_IMAGE);
        assert_int_equal(c.state, DOCKER_STATE_EXITED);
        assert_true(c.details_known);
        assert_int_equal(c.exit_code, 3);
        assert_false(c.oom_killed);
        assert_string_equal(c.error, "");
        assert_true(c.started_ms > 0);
        /* Docker stamps StartedAt after the process runs, so a process that
         * exits at once can have FinishedAt a little before StartedAt. */
        assert_true(c.finished_ms > 0);
        assert_true(c.finished_ms + 1000 >= c.started_ms);
        assert_string_equal(json_string_value(json_object_get(c.labels, "berth.test")),
                            "docker-it");
        docker_container_release(&c);

        buf_init(&l.out, 4096);
        buf_init(&l.err, 4096);
        assert_int_equal(docker_container_logs(d, id, &lo, on_log, &l, &err), 0);
        assert_string_equal(l.out.data ? l.out.data : "", "out\n");
        assert_string_equal(l.err.data ? l.err.data : "", "err\n");
        buf_release(&l.out);
        buf_release(&l.err);

        assert_int_equal(docker_container_create(d, name, body, &id2, &err), -EEXIST);
        assert_null(id2);
        assert_int_equal(err.http_status, 409);
        assert_non_null(strstr(err.message, "already in use"));
        fprintf(stderr, "# 409: %s\n", err.message);

        assert_int_equal(docker_container_start(d, "berth-it-no-such-container", &err), -ENOENT);
        assert_non_null(strstr(err.message, "No such container"));
        assert_true(str_has_prefix(err.message, "start container berth-it-no-such-container: 404"));

        assert_int_equal(docker_container_kill(d, id, "SIGTERM", &err), 0);
        assert_int_equal(docker_container_kill(d, "berth-it-no-such-container", NULL, &err),
                         -ENOENT);

        assert_int_equal(docker_container_list(d, TEST_LABEL, &v, &n, &err), 0);
        assert_int_equal(n, 1);
        assert_string_equal(v[0].id, id);
        assert_string_equal(v[0].name, name);
        assert_string_equal(v[0].image, TEST_IMAGE);
        assert_int_equal(v[0].state, DOCKER_STATE_EXITED);
        assert_false(v[0].details_known);
        assert_string_equal(json_string_value(json_object_get(v[0].labels, "berth.test")),
                            "docker-it");
        docker_containers_free(v, n);
        v = NULL;
        assert_int_equal(docker_container_list(d, "berth.test=no-such-value", &v, &n, &err), 0);
        assert_int_equal(n, 0);
        docker_containers_free(v, n);

        t0 = now_ms();
        assert_int_equal(docker_container_remove(d, id, &err), 0);
        t_remove = now_ms() - t0;
        assert_int_equal(docker_container_remove(d, id, &err), 0);
        c.id = (char *)"untouched";
        assert_int_equal(docker_container_inspect(d, id, &c, &err), -ENOENT);
        assert_string_equal(c.id, "untouched");
        fprintf(stderr, "# latency: create %.1f ms, start %.1f ms, remove %.1f ms\n", t_create,
                t_start, t_remove);
}

static void test_create_missing_image(void **state)
{
        struct docker *d = *state;
        _cleanup_json_ json_t *body = container_body("nosuch:1", "true", 0);
        struct berth_error err = {0};
        char *id = NULL;

        assert_int_equal(docker_container_create(d, "berth.default.x.1", body, &id, &err), -ENOENT);
        assert_null(id);
        assert_string_equal(err.message,
                            "create container berth.default.x.1: 404 No such image: nosuch:1");
}

static void test_images(void **state)
{
        struct docker *d = *state;
        struct berth_error err = {0};
        double t0;
        int r;

        assert_int_equal(docker_image_inspect(d, TEST_IMAGE, &err), 0);
        assert_int_equal(docker_image_inspect(d, "nosuch:1", &err), -ENOENT);
        assert_int_equal(err.http_status, 404);
        assert_non_null(strstr(err.message, "nosuch:1"));

        /* Offline here: the daemon cannot reach any registry. */
        t0 = now_ms();
        r = docker_image_pull(d, "nosuch-image-xyz", &err);
        assert_true(r < 0);
        assert_true(err.message[0] != '\0');
        assert_true(str_has_prefix(err.message, "pull image nosuch-image-xyz: "));
        fprintf(stderr, "# pull (%.0f ms): %d %s\n", now_ms() - t0, r, err.message);
}

static void test_logs_follow_stop(void **state)
{
        struct docker *d = *state;
        _cleanup_json_ json_t *body = container_body(TEST_IMAGE, "echo ready; sleep 30", 0);
        _cleanup_free_ char *id = NULL;
        struct docker_logs_opts lo = {.follow = true, .tail = -1};
        struct berth_error err = {0};
        struct logs l = {.stop_on = 1};
        double t0;

        assert_int_equal(docker_container_create(d, NULL, body, &id, &err), 0);
        assert_int_equal(docker_container_start(d, id, &err), 0);
        buf_init(&l.out, 4096);
        buf_init(&l.err, 4096);
        t0 = now_ms();
        /* Follow blocks until the callback asks to stop after the first piece. */
        assert_int_equal(docker_container_logs(d, id, &lo, on_log, &l, &err), 0);
        assert_true(now_ms() - t0 < WAIT_MS);
        assert_string_equal(l.out.data, "ready\n");
        buf_release(&l.out);
        buf_release(&l.err);
        /* The handle is still usable after an aborted transfer. */
        assert_int_equal(docker_container_kill(d, id, "SIGKILL", &err), 0);
        assert_int_equal(docker_container_remove(d, id, &err), 0);
}

static void *interrupt_later(void *userdata)
{
        usleep(300 * 1000);
        docker_interrupt(userdata);
        return NULL;
}

static int never_stop(const struct docker_event *ev, void *userdata)
{
        (void)ev, (void)userdata;
        return 0;
}

static void test_events_interrupt(void **state)
{
        struct docker *d = docker_clone(*state);
        struct berth_error err = {0};
        pthread_t t;
        double t0;

        assert_non_null(d);
        assert_int_equal(pthread_create(&t, NULL, interrupt_later, d), 0);
        t0 = now_ms();
        assert_int_equal(docker_events(d, "berth.test=nothing-matches", 0, never_stop, NULL, &err),
                         -EINTR);
        fprintf(stderr, "# events interrupted after %.0f ms (interrupt at 300 ms)\n",
                now_ms() - t0);
        assert_true(now_ms() - t0 < 3000);
        pthread_join(t, NULL);
        /* Sticky: later calls on this handle fail fast too. */
        assert_int_equal(docker_image_inspect(d, TEST_IMAGE, &err), -EINTR);
        docker_free(d);
}

static void test_oom(void **state)
{
        struct docker *d = *state;
        _cleanup_json_ json_t *info = NULL;
        _cleanup_json_ json_t *body =
            container_body(TEST_IMAGE, "x=a; while true; do x=$x$x; done", 8 << 20);
        _cleanup_free_ char *id = NULL;
        struct docker_container c = {0};
        struct berth_error err = {0};

        assert_int_equal(docker_get_json(d, "/info", NULL, &info, "docker info", &err), 0);
        if (!json_is_true(json_object_get(info, "MemoryLimit"))) {
                /* Without a memory cgroup the hog would eat the host. */
                fprintf(stderr, "# skipped: dockerd reports no memory limit support\n");
                skip();
        }
        assert_int_equal(docker_container_create(d, NULL, body, &id, &err), 0);
        assert_int_equal(docker_container_start(d, id, &err), 0);
        wait_exited(d, id, &c);
        fprintf(stderr, "# oom: exit %d oom_killed %d\n", c.exit_code, c.oom_killed);
        assert_true(c.oom_killed);
        assert_int_equal(c.exit_code, 137);
        docker_container_release(&c);
        assert_int_equal(docker_container_remove(d, id, &err), 0);
}

static void test_lifecycle_latency(void **state)
{
        struct docker *d = *state;
        _cleanup_json_ json_t *body = container_body(TEST_IMAGE, "true", 0);
        struct berth_error err = {0};
        double create = 0, start = 0, remove = 0, t0;
        const int rounds = 5;

        for (int i = 0; i < rounds; i++) {
                _cleanup_free_ char *id = NULL;
                struct docker_container c = {0};

                t0 = now_ms();
                assert_int_equal(docker_container_create(d, NULL, body, &id, &err), 0);
                create += now_ms() - t0;
                t0 = now_ms();
                assert_int_equal(docker_container_start(d, id, &err), 0);
                start += now_ms() - t0;
                wait_exited(d, id, &c);
                assert_int_equal(c.exit_code, 0);
                docker_container_release(&c);
                t0 = now_ms();
                assert_int_equal(docker_container_remove(d, id, &err), 0);
                remove += now_ms() - t0;
        }
        fprintf(stderr, "# mean of %d: create %.1f ms, start %.1f ms, remove %.1f ms\n", rounds,
                create / rounds, start / rounds, remove / rounds);
}

/* ---- files -------------------------------------------------------------- */

static void test_container_file(void **state)
{
        struct docker *d = *state;
        _cleanup_json_ json_t *body =
            container_body(TEST_IMAGE,
                           "mkdir -p /out && echo hi > /out/a && mkdir /out/d && ln -s a /out/l && "
                           "head -c 5000 /dev/zero > /out/big && : > /out/empty",
                           0);
        _cleanup_free_ char *id = NULL;
        struct docker_container c = {0};
        struct berth_error err = {0};
        char *content = NULL;
        size_t len = 0;

        assert_int_equal(docker_container_create(d, NULL, body, &id, &err), 0);
        assert_int_equal(docker_container_start(d, id, &err), 0);
        wait_exited(d, id, &c);
        assert_int_equal(c.exit_code, 0);
        docker_container_release(&c);

        /* The container has exited: its files are still there. */
        assert_int_equal(docker_container_file(d, id, "/out/a", 100, &content, &len, &err), 0);
        assert_int_equal(len, 3);
        assert_string_equal(content, "hi\n");
        free(content);
        assert_int_equal(docker_container_file(d, id, "/out/empty", 0, &content, &len, &err), 0);
        assert_int_equal(len, 0);
        free(content);
        content = NULL;

        assert_int_equal(docker_container_file(d, id, "/out/zz", 100, &content, &len, &err),
                         -ENOENT);
        assert_int_equal(err.http_status, 404);
        assert_non_null(strstr(err.message, ": no such path: 404 Could not find the file"));
        fprintf(stderr, "# missing path: %s\n", err.message);
        assert_int_equal(docker_container_file(d, id, "/out/d", 100, &content, &len, &err),
                         -EISDIR);
        assert_true(str_has_suffix(err.message, ": is a directory"));
        assert_int_equal(docker_container_file(d, id, "/out/l", 100, &content, &len, &err),
                         -EISDIR);
        assert_true(str_has_suffix(err.message, ": is a symbolic link to a"));
        assert_int_equal(docker_container_file(d, id, "/out/big", 4999, &content, &len, &err),
                         -EFBIG);
        assert_true(str_has_suffix(err.message, ": 5000 bytes, larger than the 4999 allowed"));
        assert_null(content);
        /* The handle still works after the transfer was cut short. */
        assert_int_equal(docker_container_file(d, id, "/out/big", 5000, &content, &len, &err), 0);
        assert_int_equal(len, 5000);
        assert_int_equal(content[4999], '\0');
        free(content);

        assert_int_equal(docker_container_remove(d, id, &err), 0);
        content = NULL;
        assert_int_equal(docker_container_file(d, id, "/out/a", 100, &content, &len, &err),
                         -ENOENT);
        assert_non_null(strstr(err.message, ": no such container: 404 No such container"));
        assert_null(content);
}

/* ---- volumes ------------------------------------------------------------ */

static bool strv_has(char **v, size_t n, const char *s)
{
        for (size_t i = 0; i < n; i++)
                if (streq(v[i], s))
                        return true;
        return false;
}

static void test_volumes(void **state)
{
        struct docker *d = *state;
        _cleanup_json_ json_t *labels = json_pack("{s:s}", "berth.test", "docker-it");
        _cleanup_json_ json_t *body = container_body(TEST_IMAGE, "true", 0);
        _cleanup_free_ char *id = NULL, *bind = NULL;
        struct berth_error err = {0};
        char name[64], **names = NULL;
        size_t n = 0;

        snprintf(name, sizeof(name), "berth-it-vol-%d", (int)getpid());
        assert_int_equal(docker_volume_create(d, name, labels, &err), 0);
        /* Idempotent: Docker answers 201 for an existing volume. */
        assert_int_equal(docker_volume_create(d, name, labels, &err), 0);
        assert_int_equal(docker_volume_create(d, "bad/name", NULL, &err), -EINVAL);
        assert_non_null(strstr(err.message, "invalid characters"));

        assert_int_equal(docker_volume_list(d, TEST_LABEL, &names, &n, &err), 0);
        assert_int_equal(n, 1);
        assert_string_equal(names[0], name);
        strv_free(names);
        assert_int_equal(docker_volume_list(d, NULL, &names, &n, &err), 0);
        assert_true(strv_has(names, n, name));
        strv_free(names);

        /* In use by a container, even one that never ran. */
        bind = str_printf("%s:/v", name);
        assert_non_null(bind);
        json_object_set_new(json_object_get(body, "HostConfig"), "Binds", json_pack("[s]", bind));
        assert_int_equal(docker_container_create(d, NULL, body, &id, &err), 0);
        assert_int_equal(docker_volume_remove(d, name, &err), -EBUSY);
        assert_int_equal(err.http_status, 409);
        assert_non_null(strstr(err.message, "volume is in use"));
        fprintf(stderr, "# in use: %s\n", err.message);
        assert_int_equal(docker_container_remove(d, id, &err), 0);

        assert_int_equal(docker_volume_remove(d, name, &err), 0);
        assert_int_equal(docker_volume_remove(d, name, &err), 0); /* already gone */
        assert_int_equal(docker_volume_list(d, TEST_LABEL, &names, &n, &err), 0);
        assert_int_equal(n, 0);
        strv_free(names);
}

/* ---- builds ------------------------------------------------------------- */

static void write_context_file(const char *dir, const char *name, const char *content)
{
        char path[512];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fputs(content, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
}

static int on_build_line(const char *line, void *userdata)
{
        struct buf *out = userdata;

        assert_int_equal(buf_printf(out, "%s\n", line), 0);
        return 0;
}

static void *interrupt_after_second(void *userdata)
{
        sleep(1);
        docker_interrupt(userdata);
        return NULL;
}

static void test_build(void **state)
{
        struct docker *d = *state;
        static const char *const tags[] = {TEST_BUILD_TAG, NULL};
        _cleanup_json_ json_t *labels = json_pack("{s:s}", "berth.test", "docker-it");
        _cleanup_json_ json_t *args = json_pack("{s:s}", "GREETING", "hi");
        struct docker_build_opts opts = {.tags = tags, .labels = labels, .build_args = args};
        char dir[] = "/tmp/berth-it-build-XXXXXX";
        _cleanup_free_ char *id = NULL;
        struct berth_error err = {0};
        struct docker *c;
        struct buf out;
        pthread_t t;
        double t0;

        assert_non_null(mkdtemp(dir));
        write_context_file(dir, "a.txt", "hello from berth\n");
        write_context_file(dir, "Dockerfile",
                           "FROM busybox:latest\nARG GREETING\nCOPY a.txt /a.txt\n"
                           "RUN cat /a.txt && echo \"greeting=$GREETING\"\n");
        buf_init(&out, 1 << 20);
        t0 = now_ms();
        assert_int_equal(docker_image_build(d, dir, &opts, on_build_line, &out, &id, &err), 0);
        fprintf(stderr, "# build (%.0f ms): %s\n", now_ms() - t0, id);
        assert_true(str_has_prefix(id, "sha256:"));
        assert_non_null(strstr(out.data, "Step 1/"));
        assert_non_null(strstr(out.data, "\nhello from berth\n"));
        assert_non_null(strstr(out.data, "\ngreeting=hi\n"));
        buf_release(&out);
        assert_int_equal(docker_image_inspect(d, TEST_BUILD_TAG, &err), 0);
        assert_int_equal(docker_image_remove(d, TEST_BUILD_TAG, &err), 0);
        assert_int_equal(docker_image_inspect(d, TEST_BUILD_TAG, &err), -ENOENT);
        assert_int_equal(docker_image_remove(d, TEST_BUILD_TAG, &err), 0);

        /* A failing step: the daemon's message inside the 200 stream. */
        write_context_file(dir, "Dockerfile", "FROM busybox:latest\nRUN exit 3\n");
        free(id);
        id = NULL;
        assert_int_equal(docker_image_build(d, dir, &opts, NULL, NULL, &id, &err), -EIO);
        assert_string_equal(err.message,
                            "build: The command '/bin/sh -c exit 3' returned a non-zero code: 3");
        assert_null(id);
        assert_int_equal(docker_image_inspect(d, TEST_BUILD_TAG, &err), -ENOENT);

        /* A Dockerfile the daemon cannot parse: an HTTP error. */
        write_context_file(dir, "Dockerfile", "FROBNICATE x\n");
        assert_int_equal(docker_image_build(d, dir, &opts, NULL, NULL, &id, &err), -EINVAL);
        assert_int_equal(err.http_status, 400);
        assert_non_null(strstr(err.message, "unknown instruction"));
        fprintf(stderr, "# parse error: %s\n", err.message);

        /* A context over the cap never reaches the daemon. */
        opts.max_context_bytes = 2048;
        assert_int_equal(docker_image_build(d, dir, &opts, NULL, NULL, &id, &err), -E2BIG);
        opts.max_context_bytes = 0;

        /* No total timeout, but docker_interrupt ends a long build. */
        write_context_file(dir, "Dockerfile", "FROM busybox:latest\nRUN sleep 30\n");
        c = docker_clone(d);
        assert_non_null(c);
        assert_int_equal(pthread_create(&t, NULL, interrupt_after_second, c), 0);
        t0 = now_ms();
        opts.tags = NULL;
        assert_int_equal(docker_image_build(c, dir, &opts, NULL, NULL, &id, &err), -EINTR);
        assert_true(now_ms() - t0 < 5000);
        pthread_join(t, NULL);
        docker_free(c);
        test_rm_tree(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_version),
            cmocka_unit_test(test_lifecycle),
            cmocka_unit_test(test_create_missing_image),
            cmocka_unit_test(test_images),
            cmocka_unit_test(test_logs_follow_stop),
            cmocka_unit_test(test_events_interrupt),
            cmocka_unit_test(test_oom),
            cmocka_unit_test(test_lifecycle_latency),
            cmocka_unit_test(test_container_file),
            cmocka_unit_test(test_volumes),
            cmocka_unit_test(test_build),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
