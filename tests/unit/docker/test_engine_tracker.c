/* Unit tests for the engine tracker (docker.h, "engine health and the
 * in-flight limit") against a stand-in engine on a unix socket that accepts
 * connections but answers only when told to — what a SIGSTOPped dockerd
 * looks like to a client. Thresholds are shortened (docker_engine_set_timing)
 * so that detection takes a few hundred milliseconds. */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "docker-internal.h"

#define FAKE_CONNS_MAX 64

struct fake {
        char path[108];
        char url[128];
        int fd;
        pthread_t thread;
        atomic_bool answer, stop;
        atomic_bool ping_ok; /* answers /_ping even when not answering: a deadlock inside */
        atomic_int accepted;
};

static void *fake_main(void *arg)
{
        struct fake *f = arg;
        int conns[FAKE_CONNS_MAX];
        bool is_ping[FAKE_CONNS_MAX];
        size_t n = 0;
        static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                    "Content-Length: 2\r\nConnection: close\r\n\r\n{}";

        while (!atomic_load(&f->stop)) {
                struct pollfd p = {.fd = f->fd, .events = POLLIN};
                if (poll(&p, 1, 10) > 0) {
                        int c = accept4(f->fd, NULL, NULL, SOCK_CLOEXEC);
                        if (c >= 0 && n < FAKE_CONNS_MAX) {
                                is_ping[n] = false;
                                conns[n++] = c;
                                atomic_fetch_add(&f->accepted, 1);
                        } else if (c >= 0) {
                                close(c);
                        }
                }
                /* A stopped engine reads nothing; a running one answers every
                 * request it has, including those that waited. A deadlocked
                 * one answers /_ping only. */
                for (size_t i = 0; i < n;) {
                        char buf[4096];
                        bool answer = atomic_load(&f->answer);
                        if (!answer && !atomic_load(&f->ping_ok)) {
                                i++;
                                continue;
                        }
                        ssize_t r = is_ping[i] ? 1
                                               : recv(conns[i], buf, sizeof(buf) - 1,
                                                      MSG_PEEK | MSG_DONTWAIT);
                        if (r > 0 && !is_ping[i]) {
                                buf[r] = '\0';
                                is_ping[i] = strstr(buf, "/_ping") != NULL;
                        }
                        if ((r < 0 && errno == EAGAIN) || (r > 0 && !answer && !is_ping[i])) {
                                i++;
                                continue;
                        }
                        if (r > 0)
                                (void)!send(conns[i], reply, sizeof(reply) - 1, MSG_NOSIGNAL);
                        close(conns[i]);
                        conns[i] = conns[--n];
                        is_ping[i] = is_ping[n];
                }
        }
        for (size_t i = 0; i < n; i++)
                close(conns[i]);
        return NULL;
}

static void fake_start(struct fake *f)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};

        memset(f, 0, sizeof(*f));
        snprintf(f->path, sizeof(f->path), "/tmp/berth-engine-%d.sock", (int)getpid());
        snprintf(f->url, sizeof(f->url), "unix://%s", f->path);
        unlink(f->path);
        f->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(f->fd >= 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
        assert_int_equal(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(f->fd, 64), 0);
        assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake *f)
{
        atomic_store(&f->stop, true);
        pthread_join(f->thread, NULL);
        close(f->fd);
        unlink(f->path);
}

/* A client like docker_new makes, without its /version round trip. */
static struct docker *client(const struct fake *f)
{
        struct docker *d = NULL;

        assert_int_equal(docker_alloc(f->url, &d, NULL), 0);
        d->engine = docker_engine_new(f->url);
        assert_non_null(d->engine);
        return d;
}

struct caller {
        struct docker *d;
        pthread_t thread;
        int rc;
        struct berth_error err;
};

static void *caller_main(void *arg)
{
        struct caller *c = arg;

        c->rc = docker_image_inspect(c->d, "busybox:latest", &c->err);
        return NULL;
}

static bool wait_state(struct docker *d, enum docker_engine_state want, int timeout_ms)
{
        struct docker_engine_status st;

        for (int waited = 0; waited <= timeout_ms; waited += 10) {
                docker_engine_status(d, &st);
                if (st.state == want)
                        return true;
                usleep(10 * 1000);
        }
        return false;
}

/* What the watcher heard, in order. */
struct heard {
        pthread_mutex_t lock;
        enum docker_engine_state states[16];
        int n;
};

static void on_engine(const struct docker_engine_status *st, bool changed, void *userdata)
{
        struct heard *h = userdata;

        pthread_mutex_lock(&h->lock);
        if (changed && h->n < 16)
                h->states[h->n++] = st->state;
        pthread_mutex_unlock(&h->lock);
}

static void test_hang_detect_fail_fast_recover(void **state)
{
        (void)state;
        struct fake f;
        struct heard h = {.lock = PTHREAD_MUTEX_INITIALIZER};
        struct docker_engine_status st;
        struct berth_error err = {0};

        fake_start(&f);
        struct docker *d = client(&f);
        docker_engine_set_timing(d, 300, 600000, 200, 50);
        assert_int_equal(docker_engine_watch(d, on_engine, &h), 0);
        docker_engine_status(d, &st);
        assert_int_equal(st.state, DOCKER_ENGINE_UP);
        assert_int_equal(st.limit, DOCKER_INFLIGHT_INITIAL);

        /* A call into the stopped engine: detected after 300 ms plus a
         * failed ping, then abandoned with -EHOSTDOWN. */
        struct caller c = {.d = docker_clone(d)};
        assert_non_null(c.d);
        int64_t t0 = time_mono_ms();
        assert_int_equal(pthread_create(&c.thread, NULL, caller_main, &c), 0);
        assert_true(wait_state(d, DOCKER_ENGINE_UNRESPONSIVE, 3000));
        int64_t detected = time_mono_ms() - t0;
        assert_in_range(detected, 300, 2000);
        pthread_join(c.thread, NULL);
        assert_int_equal(c.rc, -EHOSTDOWN);
        assert_non_null(strstr(c.err.message, "not answering"));
        docker_engine_status(d, &st);
        assert_int_equal(st.limit, 1);
        assert_int_equal(st.in_flight, 0);
        assert_non_null(strstr(st.reason, f.url));

        /* New calls fail at once and open no connection. */
        int before = atomic_load(&f.accepted);
        t0 = time_mono_ms();
        assert_int_equal(docker_image_inspect(d, "busybox:latest", &err), -EHOSTDOWN);
        assert_true(time_mono_ms() - t0 < 100);
        assert_non_null(strstr(err.message, "docker engine unix://"));
        usleep(20 * 1000);
        /* (The tracker's own pings may connect meanwhile: at most one.) */
        assert_true(atomic_load(&f.accepted) - before <= 1);

        /* It answers again: RECOVERING (a probe's worth of calls), and the
         * first call answered makes it UP with the limit it had. */
        atomic_store(&f.answer, true);
        assert_true(wait_state(d, DOCKER_ENGINE_RECOVERING, 3000));
        docker_engine_status(d, &st);
        assert_int_equal(st.limit, 1);
        assert_int_equal(docker_image_inspect(d, "busybox:latest", &err), 0);
        assert_true(wait_state(d, DOCKER_ENGINE_UP, 1000));
        docker_engine_status(d, &st);
        assert_int_equal(st.limit, DOCKER_INFLIGHT_INITIAL);
        assert_string_equal(st.reason, "");

        /* The watcher heard each change once, in order. */
        usleep(100 * 1000);
        pthread_mutex_lock(&h.lock);
        assert_int_equal(h.n, 3);
        assert_int_equal(h.states[0], DOCKER_ENGINE_UNRESPONSIVE);
        assert_int_equal(h.states[1], DOCKER_ENGINE_RECOVERING);
        assert_int_equal(h.states[2], DOCKER_ENGINE_UP);
        pthread_mutex_unlock(&h.lock);

        docker_engine_unwatch(d, on_engine, &h);
        docker_free(c.d);
        docker_free(d);
        fake_stop(&f);
}

/* Deadlocked inside: /_ping answers, calls do not. Detected by the stall
 * rule; recovering, a trial call that hangs again keeps it not answering. */
static void test_stall(void **state)
{
        (void)state;
        struct fake f;
        struct docker_engine_status st;
        struct berth_error err = {0};

        fake_start(&f);
        atomic_store(&f.ping_ok, true);
        struct docker *d = client(&f);
        docker_engine_set_timing(d, 100, 600, 200, 50);

        struct caller c = {.d = docker_clone(d)};
        int64_t t0 = time_mono_ms();
        assert_int_equal(pthread_create(&c.thread, NULL, caller_main, &c), 0);
        usleep(300 * 1000); /* suspect, but /_ping answers: not yet */
        docker_engine_status(d, &st);
        assert_int_equal(st.state, DOCKER_ENGINE_UP);
        assert_true(st.answering);
        assert_true(wait_state(d, DOCKER_ENGINE_UNRESPONSIVE, 3000));
        assert_true(time_mono_ms() - t0 >= 600);
        pthread_join(c.thread, NULL);
        assert_int_equal(c.rc, -EHOSTDOWN);
        assert_non_null(strstr(c.err.message, "answers /_ping"));

        /* Nothing stuck, /_ping answers: a trial may go. */
        assert_true(wait_state(d, DOCKER_ENGINE_RECOVERING, 3000));
        docker_engine_status(d, &st);
        assert_true(st.answering); /* nobody waits on it */
        c.rc = 0;
        assert_int_equal(pthread_create(&c.thread, NULL, caller_main, &c), 0);
        usleep(100 * 1000);
        docker_engine_status(d, &st);
        assert_false(st.answering); /* the trial is out */
        /* Others do not queue behind the trial. */
        assert_int_equal(docker_image_inspect(d, "busybox:latest", &err), -EHOSTDOWN);
        pthread_join(c.thread, NULL); /* abandoned at the next stall */
        assert_int_equal(c.rc, -EHOSTDOWN);

        atomic_store(&f.answer, true);
        assert_true(wait_state(d, DOCKER_ENGINE_RECOVERING, 3000));
        assert_int_equal(docker_image_inspect(d, "busybox:latest", &err), 0);
        assert_true(wait_state(d, DOCKER_ENGINE_UP, 1000));
        docker_free(c.d);
        docker_free(d);
        fake_stop(&f);
}

static void test_inflight_limit_bounds_connections(void **state)
{
        (void)state;
        struct fake f;
        struct caller c[12];
        struct docker_engine_status st;

        fake_start(&f);
        struct docker *d = client(&f);
        docker_engine_set_timing(d, 60000, 600000, 200, 50); /* no detection here */
        for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
                c[i] = (struct caller){.d = docker_clone(d)};
                assert_non_null(c[i].d);
                assert_int_equal(pthread_create(&c[i].thread, NULL, caller_main, &c[i]), 0);
        }
        /* 12 callers, 8 slots: 8 connections, 4 callers wait without one. */
        usleep(300 * 1000);
        assert_int_equal(atomic_load(&f.accepted), DOCKER_INFLIGHT_INITIAL);
        docker_engine_status(d, &st);
        assert_int_equal(st.in_flight, DOCKER_INFLIGHT_INITIAL);
        assert_true(st.oldest_call_ms >= 200);
        assert_int_equal(st.state, DOCKER_ENGINE_UP);

        /* An interrupt reaches a caller that waits for a slot, too. */
        atomic_store(&f.answer, true);
        for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
                pthread_join(c[i].thread, NULL);
                assert_int_equal(c[i].rc, 0);
                docker_free(c[i].d);
        }
        assert_int_equal(atomic_load(&f.accepted), (int)ARRAY_SIZE(c));
        docker_engine_status(d, &st);
        assert_int_equal(st.in_flight, 0);
        assert_int_equal(st.oldest_call_ms, 0);
        docker_free(d);
        fake_stop(&f);
}

static void test_interrupt_wakes_slot_waiter(void **state)
{
        (void)state;
        struct fake f;
        struct caller hold[DOCKER_INFLIGHT_INITIAL], waiter;

        fake_start(&f);
        struct docker *d = client(&f);
        docker_engine_set_timing(d, 60000, 600000, 200, 50);
        for (size_t i = 0; i < ARRAY_SIZE(hold); i++) {
                hold[i] = (struct caller){.d = docker_clone(d)};
                assert_int_equal(pthread_create(&hold[i].thread, NULL, caller_main, &hold[i]), 0);
        }
        usleep(200 * 1000);
        waiter = (struct caller){.d = docker_clone(d)};
        assert_int_equal(pthread_create(&waiter.thread, NULL, caller_main, &waiter), 0);
        usleep(100 * 1000);
        docker_interrupt(waiter.d);
        pthread_join(waiter.thread, NULL);
        assert_int_equal(waiter.rc, -EINTR);
        for (size_t i = 0; i < ARRAY_SIZE(hold); i++)
                docker_interrupt(hold[i].d);
        for (size_t i = 0; i < ARRAY_SIZE(hold); i++) {
                pthread_join(hold[i].thread, NULL);
                assert_int_equal(hold[i].rc, -EINTR);
                docker_free(hold[i].d);
        }
        docker_free(waiter.d);
        docker_free(d);
        fake_stop(&f);
}

static void test_no_engine(void **state)
{
        (void)state;
        struct docker_engine_status st;

        /* A bare client (no tracker) and NULL: UP, no watchers. */
        docker_engine_status(NULL, &st);
        assert_int_equal(st.state, DOCKER_ENGINE_UP);
        assert_int_equal(docker_engine_watch(NULL, on_engine, NULL), -EINVAL);
        docker_engine_unwatch(NULL, on_engine, NULL);
        assert_string_equal(docker_engine_state_to_string(DOCKER_ENGINE_UNRESPONSIVE),
                            "unresponsive");
        docker_engine_unref(NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_hang_detect_fail_fast_recover),
            cmocka_unit_test(test_stall),
            cmocka_unit_test(test_inflight_limit_bounds_connections),
            cmocka_unit_test(test_interrupt_wakes_slot_waiter),
            cmocka_unit_test(test_no_engine),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
