/* Integration tests of the container cache against the real dockerd
 * (/var/run/docker.sock or $DOCKER_HOST) with the offline busybox:latest image.
 * Every container carries berth.managed=true and berth.test=watchers-it, runs
 * with NetworkMode none, and is removed at start and end. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include <cmocka.h>

#include "watchers.h"

#define TEST_LABEL "berth.test=watchers-it"
#define TEST_IMAGE "busybox:latest"
#define WAIT_MS    20000
#define MAX_SEEN   256

struct seen {
        char id[65];
        enum docker_state state;
        bool exit_known;
        int exit_code;
        bool removed;
};

/* Records every handler call; tests wait on 'cond' for the cache to catch up. */
struct fixture {
        struct docker *d;
        pthread_mutex_t mu;
        pthread_cond_t cond;
        struct seen seen[MAX_SEEN];
        size_t n;
        struct container_cache *cache; /* freed by teardown when a test failed */
};

static void on_change(const struct container_info *ci, bool removed, void *userdata)
{
        struct fixture *f = userdata;

        assert_true(ci->id[0] != '\0');
        pthread_mutex_lock(&f->mu);
        if (f->n < MAX_SEEN) {
                struct seen *s = &f->seen[f->n++];
                memcpy(s->id, ci->id, sizeof(s->id));
                s->state = ci->state;
                s->exit_known = ci->exit_known;
                s->exit_code = ci->exit_code;
                s->removed = removed;
        }
        pthread_cond_broadcast(&f->cond);
        pthread_mutex_unlock(&f->mu);
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

static int setup(void **state)
{
        struct berth_error err = {0};
        struct fixture *f = calloc(1, sizeof(*f));

        if (!f)
                return -1;
        if (docker_new(NULL, &f->d, &err) < 0) {
                fprintf(stderr, "docker_new: %s\n", err.message);
                free(f);
                return -1;
        }
        pthread_mutex_init(&f->mu, NULL);
        pthread_cond_init(&f->cond, NULL);
        remove_test_containers(f->d);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        container_cache_free(f->cache); /* its thread calls on_change with f */
        remove_test_containers(f->d);
        docker_free(f->d);
        pthread_mutex_destroy(&f->mu);
        pthread_cond_destroy(&f->cond);
        free(f);
        return 0;
}

/* Creates (not starts) a berth-labelled container; returns its id (caller frees). */
static char *create(struct fixture *f, const char *name, const char *uid, int attempt,
                    const char *script)
{
        struct berth_error err = {0};
        char attempt_s[16], cname[128];
        char *id = NULL;

        snprintf(attempt_s, sizeof(attempt_s), "%d", attempt);
        snprintf(cname, sizeof(cname), "berth-watchers-it-%s-%d", name, attempt);
        json_t *body =
            json_pack("{s:s, s:[s,s,s], s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}, s:{s:s}}",
                      "Image", TEST_IMAGE, "Cmd", "sh", "-c", script, "Labels", "berth.managed",
                      "true", "berth.test", "watchers-it", "berth.kind", "Task", "berth.namespace",
                      "default", "berth.name", name, "berth.uid", uid, "berth.attempt", attempt_s,
                      "berth.generation", "1", "HostConfig", "NetworkMode", "none");
        assert_non_null(body);
        int r = docker_container_create(f->d, cname, body, &id, &err);
        if (r < 0)
                fprintf(stderr, "create: %s\n", err.message);
        assert_int_equal(r, 0);
        json_decref(body);
        return id;
}

static void start(struct fixture *f, const char *id)
{
        struct berth_error err = {0};
        assert_int_equal(docker_container_start(f->d, id, &err), 0);
}

static bool deadline_passed(const struct timespec *ts)
{
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        return now.tv_sec > ts->tv_sec || (now.tv_sec == ts->tv_sec && now.tv_nsec >= ts->tv_nsec);
}

/* Waits until the handler reported a change of id matching (state, removed). */
static bool wait_seen(struct fixture *f, const char *id, enum docker_state state, bool removed,
                      struct seen *ret)
{
        struct timespec ts;
        bool found = false;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += WAIT_MS / 1000;
        pthread_mutex_lock(&f->mu);
        for (;;) {
                for (size_t i = 0; i < f->n && !found; i++) {
                        const struct seen *s = &f->seen[i];
                        if (streq(s->id, id) && s->removed == removed &&
                            (removed || s->state == state)) {
                                found = true;
                                if (ret)
                                        *ret = *s;
                        }
                }
                if (found || deadline_passed(&ts))
                        break;
                pthread_cond_timedwait(&f->cond, &f->mu, &ts);
        }
        pthread_mutex_unlock(&f->mu);
        return found;
}

/* Watches this test's containers only: other berth containers on the engine
 * (a developer's, or another test's) must not fill f->seen. */
static struct container_cache *cache_new(struct fixture *f)
{
        struct container_cache *c = NULL;
        struct berth_error err = {0};

        assert_int_equal(container_cache_new_filtered(f->d, TEST_LABEL, on_change, f, &c, &err), 0);
        f->cache = c;
        assert_int_equal(container_cache_wait_synced(c, WAIT_MS), 0);
        assert_true(container_cache_connected(c));
        return c;
}

static void cache_free(struct fixture *f)
{
        container_cache_free(f->cache);
        f->cache = NULL;
}

static int by_uid(struct container_cache *c, const char *uid, struct container_info *ret)
{
        struct container_info *v = NULL;
        int n = container_cache_by_uid(c, uid, &v);
        assert_true(n >= 0);
        if (n > 0 && ret)
                *ret = v[0];
        free(v);
        return n;
}

/* How many containers the owner index finds for a Task of namespace default. */
static int by_owner(struct container_cache *c, const char *name)
{
        struct container_info *v = NULL;
        int n = container_cache_by_owner(c, "Task", "default", name, &v);
        assert_true(n >= 0);
        for (int i = 0; i < n; i++)
                assert_string_equal(v[i].owner, name);
        free(v);
        return n;
}

static void test_listed_at_start(void **state)
{
        struct fixture *f = *state;
        struct container_info ci;

        char *id = create(f, "early", "uid-early-0001", 1, "exit 0");
        char *id2 = create(f, "early", "uid-early-0001", 0, "exit 0");
        struct container_cache *c = cache_new(f);

        assert_true(wait_seen(f, id, DOCKER_STATE_CREATED, false, NULL));
        assert_int_equal(by_uid(c, "uid-early-0001", &ci), 2);
        struct container_info *v = NULL;
        assert_int_equal(container_cache_by_uid(c, "uid-early-0001", &v), 2);
        /* By attempt ascending. */
        assert_int_equal(v[0].attempt, 0);
        assert_string_equal(v[0].id, id2);
        assert_int_equal(v[1].attempt, 1);
        assert_string_equal(v[1].id, id);
        assert_string_equal(v[1].kind, "Task");
        assert_string_equal(v[1].ns, "default");
        assert_string_equal(v[1].owner, "early");
        assert_string_equal(v[1].name, "berth-watchers-it-early-1");
        assert_int_equal(v[1].generation, 1);
        assert_int_equal(v[1].state, DOCKER_STATE_CREATED);
        free(v);

        assert_int_equal(by_owner(c, "early"), 2);
        assert_int_equal(container_cache_by_uid(c, "no-such-uid", &v), 0);
        assert_null(v);
        assert_int_equal(by_owner(c, "no-such-task"), 0);
        struct container_info *all = NULL;
        assert_true(container_cache_all(c, &all) >= 2);
        free(all);

        cache_free(f);
        free(id);
        free(id2);
}

static void test_lifecycle_events(void **state)
{
        struct fixture *f = *state;
        struct container_info ci;
        struct seen s;

        struct container_cache *c = cache_new(f);
        char *id = create(f, "life", "uid-life-0001", 1, "exit 3");
        assert_true(wait_seen(f, id, DOCKER_STATE_CREATED, false, NULL));
        assert_int_equal(by_uid(c, "uid-life-0001", &ci), 1);
        assert_string_equal(ci.owner, "life");
        assert_string_equal(ci.name, "berth-watchers-it-life-1");
        assert_int_equal(ci.attempt, 1);

        start(f, id);
        assert_true(wait_seen(f, id, DOCKER_STATE_RUNNING, false, NULL));
        assert_true(wait_seen(f, id, DOCKER_STATE_EXITED, false, &s));
        assert_true(s.exit_known);
        assert_int_equal(s.exit_code, 3);
        assert_int_equal(by_uid(c, "uid-life-0001", &ci), 1);
        assert_int_equal(ci.state, DOCKER_STATE_EXITED);
        assert_true(ci.exit_known);
        assert_int_equal(ci.exit_code, 3);
        assert_true(ci.started_ms > 0);
        /* Docker stamps StartedAt after the process runs: a process that exits
         * at once can have FinishedAt a little before StartedAt. */
        assert_true(ci.finished_ms > 0);
        assert_true(ci.finished_ms + 1000 >= ci.started_ms);

        /* destroy removes it. */
        struct berth_error err = {0};
        assert_int_equal(docker_container_remove(f->d, id, &err), 0);
        assert_true(wait_seen(f, id, DOCKER_STATE_UNKNOWN, true, NULL));
        assert_int_equal(by_uid(c, "uid-life-0001", NULL), 0);
        assert_int_equal(by_owner(c, "life"), 0);

        cache_free(f);
        free(id);
}

static void test_upsert_not_backwards(void **state)
{
        struct fixture *f = *state;
        struct container_info ci;

        struct container_cache *c = cache_new(f);
        char *id = create(f, "up", "uid-up-0001", 1, "exit 0");

        /* Write-through as after an inspect that saw it exited with 42: the
         * events that follow (start, die with 0) must not undo that. */
        struct container_info mine = {
            .attempt = 1,
            .state = DOCKER_STATE_EXITED,
            .details_known = true,
            .exit_known = true,
            .exit_code = 42,
            .started_ms = 1,
            .finished_ms = 2,
        };
        snprintf(mine.id, sizeof(mine.id), "%s", id);
        snprintf(mine.uid, sizeof(mine.uid), "uid-up-0001");
        snprintf(mine.owner, sizeof(mine.owner), "up");
        container_cache_upsert(c, &mine);
        assert_int_equal(by_uid(c, "uid-up-0001", &ci), 1);
        assert_int_equal(ci.state, DOCKER_STATE_EXITED);

        start(f, id);
        struct docker_container dc = {0};
        struct berth_error err = {0};
        /* Wait for it to exit, then for a marker created after it: events are
         * ordered, so once the marker is seen every event of 'id' was applied. */
        for (int i = 0; i < WAIT_MS / 50; i++) {
                assert_int_equal(docker_container_inspect(f->d, id, &dc, &err), 0);
                bool exited = dc.state == DOCKER_STATE_EXITED;
                docker_container_release(&dc);
                if (exited)
                        break;
                struct timespec ts = {0, 50 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
        char *marker = create(f, "marker", "uid-marker-0001", 1, "exit 0");
        assert_true(wait_seen(f, marker, DOCKER_STATE_CREATED, false, NULL));

        assert_int_equal(by_uid(c, "uid-up-0001", &ci), 1);
        assert_int_equal(ci.state, DOCKER_STATE_EXITED);
        assert_true(ci.details_known);
        assert_int_equal(ci.exit_code, 42);
        assert_int_equal(ci.started_ms, 1);
        /* Written through without kind and namespace: the owner index finds
         * it once the events filled them in. */
        assert_int_equal(by_owner(c, "up"), 1);

        /* Running after our own start: a late "create" cannot make it CREATED. */
        char *id2 = create(f, "up2", "uid-up-0002", 1, "sleep 30");
        mine = (struct container_info){.attempt = 1, .state = DOCKER_STATE_RUNNING};
        snprintf(mine.id, sizeof(mine.id), "%s", id2);
        snprintf(mine.uid, sizeof(mine.uid), "uid-up-0002");
        container_cache_upsert(c, &mine);
        char *marker2 = create(f, "marker", "uid-marker-0002", 2, "exit 0");
        assert_true(wait_seen(f, marker2, DOCKER_STATE_CREATED, false, NULL));
        assert_int_equal(by_uid(c, "uid-up-0002", &ci), 1);
        assert_int_equal(ci.state, DOCKER_STATE_RUNNING);
        /* Identity from the event fills what the write-through left out,
         * and the owner index follows. */
        assert_string_equal(ci.owner, "up2");
        assert_int_equal(by_owner(c, "up2"), 1);

        /* remove drops it locally without calling the handler. */
        container_cache_remove(c, id2);
        assert_int_equal(by_uid(c, "uid-up-0002", NULL), 0);
        assert_int_equal(by_owner(c, "up2"), 0);

        /* A write-through that carries only part of the identity, completed
         * by a later one: the owner index moves it (no engine involved: the
         * id is made up). */
        mine = (struct container_info){.attempt = 1, .state = DOCKER_STATE_CREATED};
        snprintf(mine.id, sizeof(mine.id), "%064d", 7);
        snprintf(mine.uid, sizeof(mine.uid), "uid-up-0003");
        snprintf(mine.owner, sizeof(mine.owner), "up3");
        container_cache_upsert(c, &mine);
        assert_int_equal(by_owner(c, "up3"), 0); /* no kind, no namespace yet */
        snprintf(mine.kind, sizeof(mine.kind), "Task");
        snprintf(mine.ns, sizeof(mine.ns), "default");
        container_cache_upsert(c, &mine);
        assert_int_equal(by_owner(c, "up3"), 1);
        container_cache_remove(c, mine.id);
        assert_int_equal(by_owner(c, "up3"), 0);

        cache_free(f);
        free(id);
        free(id2);
        free(marker);
        free(marker2);
}

static void test_free_while_streaming(void **state)
{
        struct fixture *f = *state;

        /* free must interrupt the blocked /events call promptly. */
        (void)cache_new(f);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        cache_free(f);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        assert_true(t1.tv_sec - t0.tv_sec < 5);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_listed_at_start, setup, teardown),
            cmocka_unit_test_setup_teardown(test_lifecycle_events, setup, teardown),
            cmocka_unit_test_setup_teardown(test_upsert_not_backwards, setup, teardown),
            cmocka_unit_test_setup_teardown(test_free_while_streaming, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
