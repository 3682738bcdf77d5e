/* The Task reconciler end to end against the real dockerd and a SQLite store, with
 * the offline busybox:latest image. A small driver stands in for the
 * controller: it reconciles one key every ≤100 ms (or at the requeue time)
 * until the object reads as expected. Every object lives in namespace
 * "rit"; containers of that namespace are removed before and after each test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include <cmocka.h>

#include "reconciler.h"

#define NS      "rit"
#define PREFIX  "/berth/"
#define WAIT_MS 30000
#define POLL_MS 100

struct env {
        char dir[64];
        char cluster[64];
        struct store *store;
        struct object_cache *objects;
        struct docker *docker;
        struct container_cache *containers;
        struct reconcile_ctx ctx;
        int reconciles;
};

static void remove_ns_containers(struct docker *d)
{
        struct docker_container *v = NULL;
        size_t n = 0;

        if (docker_container_list(d, "berth.namespace=" NS, &v, &n, NULL) < 0)
                return;
        for (size_t i = 0; i < n; i++)
                (void)docker_container_remove(d, v[i].id, NULL);
        docker_containers_free(v, n);
}

static int setup(void **state)
{
        struct berth_error err = {0};
        struct env *e = calloc(1, sizeof(*e));
        char url[128];
        char filter[128];

        assert_non_null(e);
        snprintf(e->dir, sizeof(e->dir), "/tmp/berth-rit.XXXXXX");
        assert_non_null(mkdtemp(e->dir));
        snprintf(url, sizeof(url), "sqlite:%s/berth.db", e->dir);
        if (store_open(url, &e->store, &err) < 0)
                fail_msg("store_open: %s", err.message);
        if (object_cache_new(e->store, PREFIX, NULL, NULL, &e->objects, &err) < 0)
                fail_msg("object_cache_new: %s", err.message);
        assert_int_equal(object_cache_wait_synced(e->objects, 10000), 0);
        if (docker_new(NULL, &e->docker, &err) < 0)
                fail_msg("docker_new: %s", err.message);
        remove_ns_containers(e->docker);
        /* Our own cluster id: another berthd on this engine (tests run in
         * parallel) neither sees nor collects our containers. */
        snprintf(e->cluster, sizeof(e->cluster), "rit-%d-%lld", (int)getpid(),
                 (long long)time_mono_ms());
        snprintf(filter, sizeof(filter), TASK_LABEL_CLUSTER "=%s", e->cluster);
        if (container_cache_new_filtered(e->docker, filter, NULL, NULL, &e->containers, &err) < 0)
                fail_msg("container_cache_new: %s", err.message);
        assert_int_equal(container_cache_wait_synced(e->containers, 10000), 0);
        e->ctx = (struct reconcile_ctx){
            .store = e->store,
            .objects = e->objects,
            .containers = e->containers,
            .docker = e->docker,
            .now_ms = time_now_ms,
            .cluster = e->cluster,
        };
        *state = e;
        return 0;
}

static int teardown(void **state)
{
        struct env *e = *state;
        char path[128];

        container_cache_free(e->containers);
        remove_ns_containers(e->docker);
        docker_free(e->docker);
        object_cache_free(e->objects);
        store_free(e->store);
        static const char *const files[] = {"berth.db", "berth.db-wal", "berth.db-shm"};
        for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
                snprintf(path, sizeof(path), "%s/%s", e->dir, files[i]);
                (void)unlink(path);
        }
        (void)rmdir(e->dir);
        free(e);
        return 0;
}

/* A fresh uid per object: 32 hex digits, the first 8 differing per call. */
static void make_uid(char out[33])
{
        static unsigned counter;
        snprintf(out, 33, "%08x%08x%016llx", (unsigned)(time_now_ms() & 0xffffffff) + counter++,
                 (unsigned)getpid(), (unsigned long long)time_mono_ms());
}

static char *key_of(const char *name)
{
        return str_printf(PREFIX "tasks/" NS "/%s", name);
}

/* Stores a Task with spec (JSON text); returns its uid in uid_out. */
static void put_task(struct env *e, const char *name, const char *spec, char uid_out[33])
{
        struct berth_error err = {0};
        json_error_t jerr;
        char ts[RFC3339_MAX];
        int64_t rev;

        make_uid(uid_out);
        time_format_rfc3339(time_now_ms(), ts);
        json_t *s = json_loads(spec, 0, &jerr);
        if (!s)
                fail_msg("bad spec: %s", jerr.text);
        json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:i, s:s, s:[s]}, s:o}", "apiVersion",
                              "berth/v1", "kind", "Task", "metadata", "name", name, "namespace", NS,
                              "uid", uid_out, "generation", 1, "creationTimestamp", ts,
                              "finalizers", TASK_FINALIZER, "spec", s);
        assert_non_null(o);
        char *text = json_dumps(o, JSON_COMPACT);
        char *key = key_of(name);
        if (store_put(e->store, key, text, strlen(text), STORE_MUST_NOT_EXIST, 0, &rev, &err) < 0)
                fail_msg("store_put: %s", err.message);
        assert_int_equal(object_cache_wait_revision(e->objects, rev, 5000), 0);
        free(key);
        free(text);
        json_decref(o);
}

typedef bool (*done_fn)(const json_t *obj, const void *arg);

/* Reconciles name until done(obj) (obj NULL once deleted) or WAIT_MS. */
static json_t *drive(struct env *e, const char *name, done_fn done, const void *arg)
{
        char *key = key_of(name);
        int64_t end = time_mono_ms() + WAIT_MS;
        json_t *obj = NULL;

        for (;;) {
                struct berth_error err = {0};
                int64_t requeue = -1;
                int r = reconcile(&e->ctx, kind_by_name("Task"), key, &requeue, &err);
                e->reconciles++;
                if (r < 0 && r != -ESTALE)
                        fail_msg("reconcile %s: %d %s", key, r, err.message);
                obj = object_cache_get(e->objects, key, NULL);
                if (getenv("BERTH_TEST_DEBUG")) { /* every step's status */
                        char *st = json_dumps(json_object_get(obj, "status"), JSON_COMPACT);
                        fprintf(stderr, "r=%d requeue=%lld err=%s status=%.200s\n", r,
                                (long long)requeue, err.message, st ? st : "-");
                        free(st);
                }
                if (done(obj, arg))
                        break;
                json_decref(obj);
                obj = NULL;
                if (time_mono_ms() > end)
                        fail_msg("%s: not done after %d ms", key, WAIT_MS);
                sleep_ms(requeue >= 0 && requeue < POLL_MS ? requeue : POLL_MS);
        }
        free(key);
        return obj;
}

static bool phase_is(const json_t *obj, const void *arg)
{
        return obj && streq(json_path_string(obj, "status.phase"), arg);
}

static bool is_gone(const json_t *obj, const void *arg)
{
        (void)arg;
        return obj == NULL;
}

static bool running_with_container(const json_t *obj, const void *arg)
{
        (void)arg;
        return phase_is(obj, "Running") && json_path_string(obj, "status.containerID");
}

static const char *condition_status(const json_t *obj, const char *type)
{
        size_t i;
        const json_t *c;
        json_array_foreach(json_path(obj, "status.conditions"), i, c)
        {
                if (streq(json_string_value(json_object_get(c, "type")), type))
                        return json_string_value(json_object_get(c, "status"));
        }
        return NULL;
}

/* Containers Docker has for uid (not the cache: the truth). */
static size_t docker_count(struct env *e, const char *uid)
{
        char filter[96];
        struct docker_container *v = NULL;
        size_t n = 0;

        snprintf(filter, sizeof(filter), "berth.uid=%s", uid);
        assert_int_equal(docker_container_list(e->docker, filter, &v, &n, NULL), 0);
        docker_containers_free(v, n);
        return n;
}

/* ---- tests ------------------------------------------------------------ */

static void test_hello_succeeds(void **state)
{
        struct env *e = *state;
        char uid[33];

        put_task(e, "hello",
                 "{\"image\":\"busybox:latest\",\"command\":[\"sh\",\"-c\",\"echo hi\"],"
                 "\"network\":\"none\",\"resources\":{\"memory\":\"64Mi\"},"
                 "\"labels\":{\"team\":\"qa\"}}",
                 uid);
        json_t *o = drive(e, "hello", phase_is, "Succeeded");
        assert_string_equal(json_path_string(o, "status.reason"), "Completed");
        assert_int_equal(json_path_int(o, "status.exitCode", -1), 0);
        assert_int_equal(json_path_int(o, "status.attempts", -1), 1);
        assert_int_equal(json_path_int(o, "status.observedGeneration", -1), 1);
        assert_non_null(json_path_string(o, "status.startTime"));
        assert_non_null(json_path_string(o, "status.completionTime"));
        assert_string_equal(condition_status(o, "Succeeded"), "True");
        assert_string_equal(condition_status(o, "Failed"), "False");
        assert_string_equal(condition_status(o, "Running"), "False");

        struct docker_container dc = {0};
        const char *cid = json_path_string(o, "status.containerID");
        assert_non_null(cid);
        assert_int_equal(docker_container_inspect(e->docker, cid, &dc, NULL), 0);
        char *want = task_container_name(NS, "hello", uid, 1);
        assert_string_equal(dc.name, want);
        assert_string_equal(json_string_value(json_object_get(dc.labels, "berth.uid")), uid);
        assert_string_equal(json_string_value(json_object_get(dc.labels, "team")), "qa");
        assert_int_equal(dc.exit_code, 0);
        docker_container_release(&dc);
        free(want);
        assert_int_equal(docker_count(e, uid), 1);
        json_decref(o);

        /* The object goes without us (no finalizer run): its container is an
         * orphan and the next reconcile of the key removes it. */
        char *key = key_of("hello");
        int64_t rev;
        assert_int_equal(store_delete(e->store, key, STORE_ANY_REVISION, &rev, NULL), 0);
        assert_int_equal(object_cache_wait_revision(e->objects, rev, 5000), 0);
        int64_t requeue;
        assert_int_equal(reconcile(&e->ctx, kind_by_name("Task"), key, &requeue, NULL), 0);
        assert_int_equal(docker_count(e, uid), 0);
        free(key);
}

static void test_retry_then_backoff_limit(void **state)
{
        struct env *e = *state;
        char uid[33];

        put_task(e, "flaky",
                 "{\"image\":\"busybox:latest\",\"command\":[\"sh\",\"-c\",\"exit 3\"],"
                 "\"network\":\"none\",\"restartPolicy\":\"OnFailure\",\"backoffLimit\":1,"
                 "\"backoff\":{\"initialSeconds\":1,\"factor\":2,\"maxSeconds\":2}}",
                 uid);
        json_t *o = drive(e, "flaky", phase_is, "Failed");
        assert_string_equal(json_path_string(o, "status.reason"), "BackoffLimitExceeded");
        assert_int_equal(json_path_int(o, "status.attempts", -1), 2);
        assert_int_equal(json_path_int(o, "status.exitCode", -1), 3);
        assert_string_equal(json_path_string(o, "status.message"), "exit code 3 after 2 attempts");
        assert_null(json_path(o, "status.nextAttemptTime"));
        assert_int_equal(docker_count(e, uid), 2);
        json_decref(o);
}

/* A crash between create and the status write: the container of attempt 1
 * exists, status knows nothing. Created → started once; exited → its result
 * is taken, it never runs again. */
static void precreate(struct env *e, const char *name, const char *uid, bool start, char **ret_id)
{
        char *key = key_of(name);
        json_t *o = object_cache_get(e->objects, key, NULL);
        assert_non_null(o);
        struct task_spec spec;
        assert_int_equal(task_spec_decode(o, &spec, NULL), 0);
        const struct container_owner owner = {.kind = "Task",
                                              .ns = NS,
                                              .name = name,
                                              .uid = uid,
                                              .generation = 1,
                                              .cluster = e->cluster};
        json_t *body = task_container_body(&spec, &owner, 1, NULL);
        assert_non_null(body);
        task_spec_release(&spec);
        char *cname = task_container_name(NS, name, uid, 1);
        assert_int_equal(docker_container_create(e->docker, cname, body, ret_id, NULL), 0);
        if (start)
                assert_int_equal(docker_container_start(e->docker, *ret_id, NULL), 0);
        free(cname);
        json_decref(body);
        json_decref(o);
        free(key);
}

static void test_adopt_created_and_exited(void **state)
{
        struct env *e = *state;
        char uid[33], uid2[33];
        char *id = NULL, *id2 = NULL;
        struct docker_container dc = {0};

        put_task(e, "adopt-created",
                 "{\"image\":\"busybox:latest\",\"command\":[\"true\"],\"network\":\"none\"}", uid);
        precreate(e, "adopt-created", uid, false, &id);
        json_t *o = drive(e, "adopt-created", phase_is, "Succeeded");
        assert_string_equal(json_path_string(o, "status.containerID"), id);
        assert_int_equal(json_path_int(o, "status.attempts", -1), 1);
        assert_int_equal(docker_count(e, uid), 1);
        json_decref(o);

        /* Exited with 7 before berthd saw it; a restart must not rerun it. */
        put_task(e, "adopt-exited",
                 "{\"image\":\"busybox:latest\",\"command\":[\"sh\",\"-c\",\"exit 7\"],"
                 "\"network\":\"none\",\"restartPolicy\":\"Never\"}",
                 uid2);
        precreate(e, "adopt-exited", uid2, true, &id2);
        for (int i = 0; i < 100; i++) {
                docker_container_release(&dc);
                assert_int_equal(docker_container_inspect(e->docker, id2, &dc, NULL), 0);
                if (dc.state == DOCKER_STATE_EXITED)
                        break;
                sleep_ms(50);
        }
        assert_int_equal(dc.state, DOCKER_STATE_EXITED);
        int64_t started = dc.started_ms;
        docker_container_release(&dc);

        o = drive(e, "adopt-exited", phase_is, "Failed");
        assert_string_equal(json_path_string(o, "status.reason"), "Error");
        assert_int_equal(json_path_int(o, "status.exitCode", -1), 7);
        assert_int_equal(docker_count(e, uid2), 1);
        assert_int_equal(docker_container_inspect(e->docker, id2, &dc, NULL), 0);
        assert_int_equal(dc.started_ms, started); /* never started again */
        docker_container_release(&dc);
        json_decref(o);
        free(id);
        free(id2);
}

static void test_delete_running(void **state)
{
        struct env *e = *state;
        char uid[33];
        struct berth_error err = {0};
        int64_t rev = 0, wrev;

        put_task(e, "sleeper",
                 "{\"image\":\"busybox:latest\",\"command\":[\"sleep\",\"600\"],"
                 "\"network\":\"none\"}",
                 uid);
        json_t *o = drive(e, "sleeper", running_with_container, NULL);
        assert_string_equal(condition_status(o, "Running"), "True");
        json_decref(o);

        /* What the API does on DELETE when a finalizer is present. */
        char *key = key_of("sleeper");
        o = object_cache_get(e->objects, key, &rev);
        json_t *copy = json_deep_copy(o);
        json_object_del(json_object_get(copy, "metadata"), "resourceVersion");
        json_path_set_new(copy, "metadata.deletionTimestamp", json_string("2026-01-01T00:00:00Z"));
        char *text = json_dumps(copy, JSON_COMPACT);
        if (store_put(e->store, key, text, strlen(text), rev, 0, &wrev, &err) < 0)
                fail_msg("store_put: %s", err.message);
        assert_int_equal(object_cache_wait_revision(e->objects, wrev, 5000), 0);
        free(text);
        json_decref(copy);
        json_decref(o);

        o = drive(e, "sleeper", is_gone, NULL);
        assert_null(o);
        assert_int_equal(docker_count(e, uid), 0);
        free(key);
}

static void test_image_never_missing(void **state)
{
        struct env *e = *state;
        char uid[33];

        put_task(e, "missing",
                 "{\"image\":\"busybox:nosuch\",\"imagePullPolicy\":\"Never\","
                 "\"network\":\"none\"}",
                 uid);
        json_t *o = drive(e, "missing", phase_is, "Failed");
        assert_string_equal(json_path_string(o, "status.reason"), "ImagePullFailed");
        assert_string_equal(json_path_string(o, "status.message"),
                            "image busybox:nosuch is not present and imagePullPolicy is Never");
        assert_int_equal(docker_count(e, uid), 0);
        json_decref(o);
}

static void test_bad_command_fails_create(void **state)
{
        struct env *e = *state;
        char uid[33];

        put_task(e, "badcmd",
                 "{\"image\":\"busybox:latest\",\"command\":[\"/no/such/binary\"],"
                 "\"network\":\"none\"}",
                 uid);
        json_t *o = drive(e, "badcmd", phase_is, "Failed");
        assert_string_equal(json_path_string(o, "status.reason"), "ContainerCreateFailed");
        assert_non_null(strstr(json_path_string(o, "status.message"), "/no/such/binary"));
        json_decref(o);
}

static void test_container_lost(void **state)
{
        struct env *e = *state;
        char uid[33];

        put_task(e, "lost",
                 "{\"image\":\"busybox:latest\",\"command\":[\"sleep\",\"600\"],"
                 "\"network\":\"none\"}",
                 uid);
        json_t *o = drive(e, "lost", running_with_container, NULL);
        assert_int_equal(
            docker_container_remove(e->docker, json_path_string(o, "status.containerID"), NULL), 0);
        json_decref(o);
        o = drive(e, "lost", phase_is, "Failed");
        assert_string_equal(json_path_string(o, "status.reason"), "ContainerLost");
        assert_int_equal(docker_count(e, uid), 0);
        json_decref(o);
}

static void test_deadline_then_sigkill(void **state)
{
        struct env *e = *state;
        char uid[33];

        /* sleep as PID 1 ignores SIGTERM: only the SIGKILL after the grace
         * period stops it. */
        put_task(e, "too-slow",
                 "{\"image\":\"busybox:latest\",\"command\":[\"sleep\",\"600\"],"
                 "\"network\":\"none\",\"activeDeadlineSeconds\":1}",
                 uid);
        json_t *o = drive(e, "too-slow", phase_is, "Failed");
        assert_string_equal(json_path_string(o, "status.reason"), "DeadlineExceeded");
        const char *cid = json_path_string(o, "status.containerID");
        assert_non_null(cid);

        int64_t end = time_mono_ms() + TASK_KILL_GRACE_MS + 15000;
        char *key = key_of("too-slow");
        struct docker_container dc = {0};
        for (;;) {
                int64_t requeue;
                assert_int_equal(reconcile(&e->ctx, kind_by_name("Task"), key, &requeue, NULL), 0);
                docker_container_release(&dc);
                assert_int_equal(docker_container_inspect(e->docker, cid, &dc, NULL), 0);
                if (dc.state == DOCKER_STATE_EXITED)
                        break;
                assert_true(time_mono_ms() < end);
                sleep_ms(200);
        }
        assert_int_equal(dc.exit_code, 137);
        docker_container_release(&dc);
        assert_int_equal(docker_count(e, uid), 1);
        free(key);
        json_decref(o);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_hello_succeeds, setup, teardown),
            cmocka_unit_test_setup_teardown(test_retry_then_backoff_limit, setup, teardown),
            cmocka_unit_test_setup_teardown(test_adopt_created_and_exited, setup, teardown),
            cmocka_unit_test_setup_teardown(test_delete_running, setup, teardown),
            cmocka_unit_test_setup_teardown(test_image_never_missing, setup, teardown),
            cmocka_unit_test_setup_teardown(test_bad_command_fails_create, setup, teardown),
            cmocka_unit_test_setup_teardown(test_container_lost, setup, teardown),
            cmocka_unit_test_setup_teardown(test_deadline_then_sigkill, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
