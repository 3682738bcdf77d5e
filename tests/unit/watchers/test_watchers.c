/* Unit tests of watchers: the object cache against a real (embedded) SQLite
 * store in a temporary directory, and the pure parts of the container cache.
 * Waits are bounded and driven by condition variables, never by sleeps. */
#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include <cmocka.h>

#include "watchers-internal.h"

#define WAIT_MS    5000
#define MAX_EVENTS 512

/* ---- fixtures --------------------------------------------------------- */

struct fixture {
        char dir[64];
        struct store *store;
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        struct berth_error err = {0};
        char url[128];

        if (!f)
                return -1;
        snprintf(f->dir, sizeof(f->dir), "/tmp/berth-watchers-XXXXXX");
        if (!mkdtemp(f->dir)) {
                free(f);
                return -1;
        }
        snprintf(url, sizeof(url), "sqlite:%s/store.db", f->dir);
        if (store_open(url, &f->store, &err) < 0) {
                fprintf(stderr, "store_open: %s\n", err.message);
                rmdir(f->dir);
                free(f);
                return -1;
        }
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        DIR *d;

        store_free(f->store);
        d = opendir(f->dir);
        if (d) {
                struct dirent *de;
                while ((de = readdir(d))) {
                        char path[512];
                        if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                                continue;
                        snprintf(path, sizeof(path), "%s/%s", f->dir, de->d_name);
                        unlink(path);
                }
                closedir(d);
        }
        rmdir(f->dir);
        free(f);
        return 0;
}

/* ---- helpers ---------------------------------------------------------- */

static int64_t put(struct store *s, const char *key, const char *value)
{
        struct berth_error err = {0};
        int64_t rev = 0;

        assert_int_equal(store_put(s, key, value, strlen(value), STORE_ANY_REVISION, 0, &rev, &err),
                         0);
        assert_true(rev > 0);
        return rev;
}

/* Puts an object {"metadata":{"name":name},"spec":{"n":n}}. */
static int64_t put_obj(struct store *s, const char *key, const char *name, int n)
{
        char value[256];

        snprintf(value, sizeof(value), "{\"metadata\":{\"name\":\"%s\"},\"spec\":{\"n\":%d}}", name,
                 n);
        return put(s, key, value);
}

static int64_t del(struct store *s, const char *key)
{
        struct berth_error err = {0};
        int64_t rev = 0;

        assert_int_equal(store_delete(s, key, STORE_ANY_REVISION, &rev, &err), 0);
        return rev;
}

static const char *rv_of(const json_t *obj)
{
        return json_string_value(
            json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

static int64_t spec_n(const json_t *obj)
{
        return json_integer_value(json_object_get(json_object_get(obj, "spec"), "n"));
}

static void assert_rv(const json_t *obj, int64_t rev)
{
        char buf[24];

        snprintf(buf, sizeof(buf), "%" PRId64, rev);
        assert_non_null(obj);
        assert_string_equal(rv_of(obj), buf);
}

/* Records the events a handler or a subscription receives. */
struct rec_event {
        enum object_event_type type;
        char key[128];
        int64_t rev;
        bool ends; /* revision_ends */
        json_t *obj;
        json_t *prev;
};

struct recorder {
        pthread_mutex_t mu;
        pthread_cond_t cond;
        struct rec_event ev[MAX_EVENTS];
        size_t n;
        /* Optional: what the callback sees through the cache. */
        struct object_cache *cache;
        bool get_ok;
        /* Optional: unsubscribe this from the callback after 'unsub_after' events. */
        struct object_cache_sub *self;
        size_t unsub_after;
};

static void rec_init(struct recorder *r)
{
        memset(r, 0, sizeof(*r));
        pthread_mutex_init(&r->mu, NULL);
        pthread_cond_init(&r->cond, NULL);
        r->get_ok = true;
}

static void rec_release(struct recorder *r)
{
        for (size_t i = 0; i < r->n; i++) {
                json_decref(r->ev[i].obj);
                json_decref(r->ev[i].prev);
        }
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cond);
}

static void rec_fn(const struct object_event *ev, void *userdata)
{
        struct recorder *r = userdata;

        /* The cache lock must not be held (this would deadlock), and the
         * cache is already at least as new as the event (it may be newer: a
         * batch is applied before it is delivered). */
        if (r->cache) {
                int64_t mod = 0;
                json_t *o = object_cache_get(r->cache, ev->key, &mod);
                if (o && mod < ev->revision)
                        r->get_ok = false;
                if (object_cache_revision(r->cache) < ev->revision)
                        r->get_ok = false;
                json_decref(o);
        }
        pthread_mutex_lock(&r->mu);
        if (r->n < MAX_EVENTS) {
                struct rec_event *e = &r->ev[r->n++];
                e->type = ev->type;
                snprintf(e->key, sizeof(e->key), "%s", ev->key);
                e->rev = ev->revision;
                e->ends = ev->revision_ends;
                e->obj = json_incref((json_t *)object_event_object(ev));
                e->prev = json_incref((json_t *)object_event_prev(ev));
        }
        size_t n = r->n;
        pthread_cond_broadcast(&r->cond);
        pthread_mutex_unlock(&r->mu);
        if (r->self && n == r->unsub_after)
                object_cache_unsubscribe(r->self);
}

/* Waits until at least n events were recorded; returns the count. */
static size_t rec_wait(struct recorder *r, size_t n)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += WAIT_MS / 1000;
        pthread_mutex_lock(&r->mu);
        while (r->n < n && pthread_cond_timedwait(&r->cond, &r->mu, &ts) != ETIMEDOUT)
                ;
        size_t got = r->n;
        pthread_mutex_unlock(&r->mu);
        return got;
}

static size_t rec_count(struct recorder *r)
{
        pthread_mutex_lock(&r->mu);
        size_t n = r->n;
        pthread_mutex_unlock(&r->mu);
        return n;
}

static void assert_event(const struct rec_event *e, enum object_event_type type, const char *key,
                         int64_t rev)
{
        assert_string_equal(object_event_type_to_string(e->type),
                            object_event_type_to_string(type));
        assert_string_equal(e->key, key);
        assert_int_equal(e->rev, rev);
        assert_rv(e->obj, rev);
}

static struct object_cache *cache_new_bytes(struct fixture *f, const char *prefix, size_t history,
                                            size_t history_bytes, struct recorder *r)
{
        struct object_cache *c = NULL;
        struct berth_error err = {0};

        assert_int_equal(object_cache_new_with_history(f->store, prefix, history, history_bytes,
                                                       r ? rec_fn : NULL, r, &c, &err),
                         0);
        assert_non_null(c);
        assert_int_equal(object_cache_wait_synced(c, WAIT_MS), 0);
        return c;
}

static struct object_cache *cache_new(struct fixture *f, const char *prefix, size_t history,
                                      struct recorder *r)
{
        return cache_new_bytes(f, prefix, history, OBJECT_CACHE_HISTORY_BYTES, r);
}

static int64_t store_rev(struct store *s)
{
        int64_t rev = -1;
        assert_int_equal(store_revision(s, &rev, NULL), 0);
        return rev;
}

/* ---- object cache ----------------------------------------------------- */

static void test_free_null(void **state)
{
        (void)state;
        object_cache_free(NULL);
        object_cache_unsubscribe(NULL);
        container_cache_free(NULL);
}

static void test_type_strings(void **state)
{
        (void)state;
        assert_string_equal(object_event_type_to_string(OBJECT_ADDED), "ADDED");
        assert_string_equal(object_event_type_to_string(OBJECT_MODIFIED), "MODIFIED");
        assert_string_equal(object_event_type_to_string(OBJECT_DELETED), "DELETED");
}

static void test_new_invalid(void **state)
{
        struct fixture *f = *state;
        struct object_cache *c = NULL;
        struct berth_error err = {0};

        assert_int_equal(object_cache_new(NULL, "/berth/", NULL, NULL, &c, &err), -EINVAL);
        assert_int_equal(err.code, -EINVAL);
        assert_int_equal(object_cache_new(f->store, NULL, NULL, NULL, &c, NULL), -EINVAL);
        assert_null(c);
}

static void test_initial_list(void **state)
{
        struct fixture *f = *state;
        struct recorder r;

        rec_init(&r);
        int64_t r1 = put_obj(f->store, "/berth/tasks/default/b", "b", 1);
        int64_t r2 = put_obj(f->store, "/berth/tasks/default/a", "a", 2);
        put_obj(f->store, "/other/x", "x", 3);
        int64_t r4 = put_obj(f->store, "/berth/tasks/default/b", "b", 4);

        struct object_cache *c = cache_new(f, "/berth/", OBJECT_CACHE_HISTORY, &r);
        assert_int_equal(object_cache_size(c), 2);
        assert_int_equal(object_cache_revision(c), r4);
        assert_int_equal(object_cache_relist_count(c), 1);

        /* The first list reaches the handler as ADDED, in revision order. */
        assert_int_equal(rec_wait(&r, 2), 2);
        assert_event(&r.ev[0], OBJECT_ADDED, "/berth/tasks/default/a", r2);
        assert_event(&r.ev[1], OBJECT_ADDED, "/berth/tasks/default/b", r4);
        assert_int_equal(spec_n(r.ev[1].obj), 4);

        int64_t mod = 0;
        json_t *b = object_cache_get(c, "/berth/tasks/default/b", &mod);
        assert_int_equal(mod, r4);
        assert_rv(b, r4);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(b, "metadata"), "name")), "b");
        json_decref(b);
        assert_null(object_cache_get(c, "/other/x", NULL));
        assert_null(object_cache_get(c, "/berth/tasks/default/zz", NULL));
        (void)r1;

        object_cache_free(c);
        rec_release(&r);
}

static void test_live_events(void **state)
{
        struct fixture *f = *state;
        struct recorder r;

        rec_init(&r);
        struct object_cache *c = cache_new(f, "/berth/", OBJECT_CACHE_HISTORY, &r);
        r.cache = c;
        assert_int_equal(object_cache_size(c), 0);

        int64_t r1 = put_obj(f->store, "/berth/tasks/default/a", "a", 1);
        int64_t r2 = put_obj(f->store, "/berth/tasks/default/a", "a", 2);
        put_obj(f->store, "/elsewhere/a", "a", 9);
        int64_t r3 = put_obj(f->store, "/berth/tasks/default/b", "b", 3);
        int64_t r4 = del(f->store, "/berth/tasks/default/a");

        assert_int_equal(object_cache_wait_revision(c, r4, WAIT_MS), 0);
        assert_int_equal(rec_wait(&r, 4), 4);
        assert_event(&r.ev[0], OBJECT_ADDED, "/berth/tasks/default/a", r1);
        assert_int_equal(spec_n(r.ev[0].obj), 1);
        assert_event(&r.ev[1], OBJECT_MODIFIED, "/berth/tasks/default/a", r2);
        assert_int_equal(spec_n(r.ev[1].obj), 2);
        /* MODIFIED also carries the state before (watch selectors need it). */
        assert_int_equal(spec_n(r.ev[1].prev), 1);
        assert_rv(r.ev[1].prev, r1);
        assert_null(r.ev[0].prev);
        assert_event(&r.ev[2], OBJECT_ADDED, "/berth/tasks/default/b", r3);
        /* DELETED carries the last state, at the delete's revision. */
        assert_event(&r.ev[3], OBJECT_DELETED, "/berth/tasks/default/a", r4);
        assert_int_equal(spec_n(r.ev[3].obj), 2);
        /* The ADDED object handed out earlier was not modified afterwards. */
        assert_rv(r.ev[0].obj, r1);
        assert_int_equal(spec_n(r.ev[0].obj), 1);
        assert_true(r.get_ok);

        assert_null(object_cache_get(c, "/berth/tasks/default/a", NULL));
        assert_int_equal(object_cache_size(c), 1);
        assert_int_equal(rec_count(&r), 4);

        object_cache_free(c);
        rec_release(&r);
}

static void test_list_order_and_prefix(void **state)
{
        struct fixture *f = *state;
        const char *keys[] = {
            "/berth/tasks/default/c", "/berth/tasks/default/a", "/berth/services/default/s",
            "/berth/tasks/other/b",   "/berth/tasks/default/b", "/berth/tasksx/default/z",
        };

        for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
                put_obj(f->store, keys[i], "x", (int)i);
        struct object_cache *c = cache_new(f, "/berth/", OBJECT_CACHE_HISTORY, NULL);
        /* One more after the list, through the watch. */
        int64_t last = put_obj(f->store, "/berth/tasks/default/aa", "x", 100);
        assert_int_equal(object_cache_wait_revision(c, last, WAIT_MS), 0);

        int64_t rev = 0;
        json_t *all = object_cache_list(c, "/berth/tasks/", &rev);
        assert_non_null(all);
        assert_int_equal(rev, last);
        const int want[] = {1, 100, 4, 0, 3}; /* a, aa, b, c, other/b */
        assert_int_equal(json_array_size(all), ARRAY_SIZE(want));
        for (size_t i = 0; i < ARRAY_SIZE(want); i++)
                assert_int_equal(spec_n(json_array_get(all, i)), want[i]);
        json_decref(all);

        json_t *everything = object_cache_list(c, NULL, NULL);
        assert_int_equal(json_array_size(everything), 7);
        assert_int_equal(spec_n(json_array_get(everything, 0)), 2); /* services sorts first */
        json_decref(everything);

        json_t *none = object_cache_list(c, "/berth/nothing/", NULL);
        assert_non_null(none);
        assert_int_equal(json_array_size(none), 0);
        json_decref(none);

        object_cache_free(c);
}

static void test_get_new_refs(void **state)
{
        struct fixture *f = *state;

        int64_t r1 = put_obj(f->store, "/berth/tasks/default/a", "a", 1);
        struct object_cache *c = cache_new(f, "/berth/", OBJECT_CACHE_HISTORY, NULL);

        /* Every get parses the cached bytes: a tree of the caller's own. */
        json_t *a = object_cache_get(c, "/berth/tasks/default/a", NULL);
        json_t *b = object_cache_get(c, "/berth/tasks/default/a", NULL);
        assert_non_null(a);
        assert_non_null(b);
        assert_ptr_not_equal(a, b);
        assert_int_equal(a->refcount, 1);
        assert_true(json_equal(a, b));
        json_object_set_new(json_object_get(b, "spec"), "n", json_integer(99));
        json_decref(b);
        json_t *again = object_cache_get(c, "/berth/tasks/default/a", NULL);
        assert_int_equal(spec_n(again), 1); /* the caller's change stays its own */
        json_decref(again);

        /* The bytes are shared: one blob, referenced. */
        const struct object_blob *ba = object_cache_get_blob(c, "/berth/tasks/default/a");
        unsigned refs = object_blob_refcount(ba); /* the map's, ours (and a batch's in flight) */
        assert_true(refs >= 2);
        const struct object_blob *bb = object_cache_get_blob(c, "/berth/tasks/default/a");
        assert_ptr_equal(ba, bb);
        assert_true(object_blob_refcount(ba) >= 3);
        object_blob_unref(bb);
        assert_int_equal(ba->mod_revision, r1);
        assert_string_equal(ba->name, "a");

        /* A change builds a new blob: the old reference keeps its state. */
        int64_t r2 = put_obj(f->store, "/berth/tasks/default/a", "a", 2);
        assert_int_equal(object_cache_wait_revision(c, r2, WAIT_MS), 0);
        json_t *a2 = object_cache_get(c, "/berth/tasks/default/a", NULL);
        assert_rv(a, r1);
        assert_int_equal(spec_n(a), 1);
        assert_rv(a2, r2);
        assert_int_equal(spec_n(a2), 2);
        json_decref(a2);
        _cleanup_json_ json_t *old = object_blob_parse(ba);
        assert_rv(old, r1);
        assert_int_equal(spec_n(old), 1);

        /* References outlive the cache. */
        object_cache_free(c);
        assert_int_equal(a->refcount, 1);
        json_decref(a);
        assert_int_equal(object_blob_refcount(ba), 1);
        object_blob_unref(ba);
}

static void test_wait_revision(void **state)
{
        struct fixture *f = *state;

        struct object_cache *c = cache_new(f, "/berth/", OBJECT_CACHE_HISTORY, NULL);
        int64_t now = object_cache_revision(c);
        assert_int_equal(object_cache_wait_revision(c, now, 0), 0);
        assert_int_equal(object_cache_wait_revision(c, now + 1, 50), -ETIMEDOUT);
        int64_t r1 = put_obj(f->store, "/berth/tasks/default/a", "a", 1);
        assert_int_equal(object_cache_wait_revision(c, r1, WAIT_MS), 0);
        assert_true(object_cache_revision(c) >= r1);
        object_cache_free(c);
}

static void test_subscribe_replay(void **state)
{
        struct fixture *f = *state;
        struct recorder all, mid, now, tasks;
        struct object_cache_sub *s_all = NULL, *s_mid = NULL, *s_now = NULL, *s_tasks = NULL;
        int64_t rev[5];

        rec_init(&all);
        rec_init(&mid);
        rec_init(&now);
        rec_init(&tasks);
        assert_int_equal(store_rev(f->store), 0);
        struct object_cache *c = cache_new(f, "/berth/", OBJECT_CACHE_HISTORY, NULL);
        rev[0] = put_obj(f->store, "/berth/tasks/default/a", "a", 0);
        rev[1] = put_obj(f->store, "/berth/services/default/s", "s", 1);
        rev[2] = put_obj(f->store, "/berth/tasks/default/a", "a", 2);
        rev[3] = del(f->store, "/berth/services/default/s");
        rev[4] = put_obj(f->store, "/berth/tasks/default/b", "b", 4);
        assert_int_equal(object_cache_wait_revision(c, rev[4], WAIT_MS), 0);

        /* From 0: the whole history (the cache started on an empty store). */
        assert_int_equal(object_cache_subscribe(c, "/berth/", 0, rec_fn, &all, &s_all), 0);
        /* From rev[2]: exactly what came after it. */
        assert_int_equal(object_cache_subscribe(c, "/berth/", rev[2], rec_fn, &mid, &s_mid), 0);
        /* From now: nothing replayed. */
        assert_int_equal(object_cache_subscribe(c, "/berth/", rev[4], rec_fn, &now, &s_now), 0);
        /* Prefix filter. */
        assert_int_equal(object_cache_subscribe(c, "/berth/tasks/", 0, rec_fn, &tasks, &s_tasks),
                         0);

        assert_int_equal(rec_wait(&all, 5), 5);
        assert_event(&all.ev[0], OBJECT_ADDED, "/berth/tasks/default/a", rev[0]);
        assert_event(&all.ev[1], OBJECT_ADDED, "/berth/services/default/s", rev[1]);
        assert_event(&all.ev[2], OBJECT_MODIFIED, "/berth/tasks/default/a", rev[2]);
        assert_event(&all.ev[3], OBJECT_DELETED, "/berth/services/default/s", rev[3]);
        assert_event(&all.ev[4], OBJECT_ADDED, "/berth/tasks/default/b", rev[4]);

        assert_int_equal(rec_wait(&mid, 2), 2);
        assert_event(&mid.ev[0], OBJECT_DELETED, "/berth/services/default/s", rev[3]);
        assert_event(&mid.ev[1], OBJECT_ADDED, "/berth/tasks/default/b", rev[4]);

        assert_int_equal(rec_wait(&tasks, 3), 3);
        assert_event(&tasks.ev[2], OBJECT_ADDED, "/berth/tasks/default/b", rev[4]);

        /* Then live events, once, after the replay. */
        int64_t r5 = put_obj(f->store, "/berth/tasks/default/c", "c", 5);
        assert_int_equal(rec_wait(&now, 1), 1);
        assert_event(&now.ev[0], OBJECT_ADDED, "/berth/tasks/default/c", r5);
        assert_int_equal(rec_wait(&all, 6), 6);
        assert_event(&all.ev[5], OBJECT_ADDED, "/berth/tasks/default/c", r5);
        assert_int_equal(rec_wait(&mid, 3), 3);
        assert_int_equal(rec_wait(&tasks, 4), 4);

        int64_t r6 = put_obj(f->store, "/berth/services/default/t", "t", 6);
        assert_int_equal(rec_wait(&all, 7), 7);
        assert_int_equal(all.ev[6].rev, r6);
        assert_int_equal(rec_wait(&now, 2), 2);
        /* Not in the tasks prefix: its subscription stays at 4. */
        assert_int_equal(rec_count(&tasks), 4);
        assert_int_equal(rec_count(&all), 7);
        assert_int_equal(rec_count(&mid), 4);

        /* A future revision is fine: nothing until then. */
        struct object_cache_sub *s_future = NULL;
        struct recorder future;
        rec_init(&future);
        assert_int_equal(object_cache_subscribe(c, "/berth/", r6 + 1, rec_fn, &future, &s_future),
                         0);
        int64_t r7 = put_obj(f->store, "/berth/tasks/default/x", "x", 7);
        int64_t r8 = put_obj(f->store, "/berth/tasks/default/y", "y", 8);
        assert_int_equal(rec_wait(&future, 1), 1);
        assert_int_equal(future.ev[0].rev, r8);
        assert_int_equal(rec_wait(&all, 9), 9);
        assert_int_equal(all.ev[7].rev, r7);

        object_cache_unsubscribe(s_all);
        object_cache_unsubscribe(s_mid);
        object_cache_unsubscribe(s_now);
        object_cache_unsubscribe(s_future);
        /* s_tasks is left for object_cache_free to clean up. */
        object_cache_free(c);
        rec_release(&all);
        rec_release(&mid);
        rec_release(&now);
        rec_release(&tasks);
        rec_release(&future);
}

/* The ring also keeps at most history_bytes of objects: a few large versions
 * push the old ones out although the event count is far from its cap. */
static void test_history_bytes(void **state)
{
        struct fixture *f = *state;
        struct object_cache_sub *s = NULL;
        struct recorder r;
        int64_t rev[8];
        char pad[4000], big[4096];

        rec_init(&r);
        memset(pad, 'x', sizeof(pad) - 1);
        pad[sizeof(pad) - 1] = '\0';
        struct object_cache *c = cache_new_bytes(f, "/berth/", 1000, 3 * sizeof(big), NULL);
        for (int i = 0; i < 8; i++) {
                snprintf(big, sizeof(big),
                         "{\"metadata\":{\"name\":\"big\"},\"spec\":{\"n\":%d,\"pad\":\"%s\"}}", i,
                         pad);
                rev[i] = put(f->store, "/berth/tasks/default/big", big);
        }
        assert_int_equal(object_cache_wait_revision(c, rev[7], WAIT_MS), 0);

        /* Each version is about 4 KiB: the last three fit, older ones went. */
        assert_int_equal(object_cache_subscribe(c, "/berth/", rev[3], rec_fn, &r, &s), -ERANGE);
        assert_int_equal(object_cache_subscribe(c, "/berth/", rev[4], rec_fn, &r, &s), 0);
        assert_int_equal(rec_wait(&r, 3), 3);
        assert_event(&r.ev[0], OBJECT_MODIFIED, "/berth/tasks/default/big", rev[5]);
        assert_event(&r.ev[2], OBJECT_MODIFIED, "/berth/tasks/default/big", rev[7]);
        object_cache_unsubscribe(s);
        object_cache_free(c);
        rec_release(&r);
}

/* Objects' growing data ("<resource>-data/" keys) is not cached, listed or
 * watched, but its revisions still count as seen. */
static void test_data_keys_left_out(void **state)
{
        struct fixture *f = *state;
        struct recorder r;

        rec_init(&r);
        put_obj(f->store, "/berth/workflows-data/default/w/step-a", "a", 1);
        struct object_cache *c = cache_new(f, "/berth/", OBJECT_CACHE_HISTORY, &r);
        assert_int_equal(object_cache_size(c), 0);
        int64_t r1 = put_obj(f->store, "/berth/workflows/default/w", "w", 1);
        int64_t r2 = put_obj(f->store, "/berth/workflows-data/default/w/step-b", "b", 1);
        assert_int_equal(object_cache_wait_revision(c, r2, WAIT_MS), 0);
        assert_int_equal(rec_wait(&r, 1), 1);
        assert_event(&r.ev[0], OBJECT_ADDED, "/berth/workflows/default/w", r1);
        assert_int_equal(rec_count(&r), 1);
        assert_int_equal(object_cache_size(c), 1);
        assert_null(object_cache_get(c, "/berth/workflows-data/default/w/step-b", NULL));
        json_t *all = object_cache_list(c, "/berth/", NULL);
        assert_int_equal(json_array_size(all), 1);
        json_decref(all);
        object_cache_free(c);
        rec_release(&r);
}

static void test_subscribe_too_old(void **state)
{
        struct fixture *f = *state;
        struct object_cache_sub *s = NULL;
        struct recorder r;
        int64_t rev[10];

        rec_init(&r);
        put_obj(f->store, "/berth/tasks/default/before", "b", 0);
        int64_t start = store_rev(f->store);
        struct object_cache *c = cache_new(f, "/berth/", 4, NULL);
        /* Before the first list there is no history at all. */
        assert_int_equal(object_cache_subscribe(c, "/berth/", start - 1, rec_fn, &r, &s), -ERANGE);
        assert_null(s);
        for (int i = 0; i < 10; i++)
                rev[i] = put_obj(f->store, "/berth/tasks/default/a", "a", i);
        assert_int_equal(object_cache_wait_revision(c, rev[9], WAIT_MS), 0);

        /* The ring holds rev[6..9]: from rev[5] on is covered, older is not. */
        assert_int_equal(object_cache_subscribe(c, "/berth/", rev[4], rec_fn, &r, &s), -ERANGE);
        assert_int_equal(object_cache_subscribe(c, "/berth/", 0, rec_fn, &r, &s), -ERANGE);
        assert_null(s);
        assert_int_equal(object_cache_subscribe(c, "/berth/", rev[5], rec_fn, &r, &s), 0);
        assert_int_equal(rec_wait(&r, 4), 4);
        for (int i = 0; i < 4; i++)
                assert_event(&r.ev[i], OBJECT_MODIFIED, "/berth/tasks/default/a", rev[6 + i]);
        object_cache_unsubscribe(s);

        /* The current revision is always fine. */
        s = NULL;
        assert_int_equal(object_cache_subscribe(c, "/berth/", rev[9], rec_fn, &r, &s), 0);
        object_cache_unsubscribe(s);
        object_cache_free(c);
        rec_release(&r);
}

static void test_unsubscribe(void **state)
{
        struct fixture *f = *state;
        struct recorder h, a, b;
        struct object_cache_sub *sa = NULL, *sb = NULL;

        rec_init(&h);
        rec_init(&a);
        rec_init(&b);
        struct object_cache *c = cache_new(f, "/berth/", OBJECT_CACHE_HISTORY, &h);
        int64_t now = object_cache_revision(c);
        assert_int_equal(object_cache_subscribe(c, "/berth/", now, rec_fn, &a, &sa), 0);
        assert_int_equal(object_cache_subscribe(c, "/berth/", now, rec_fn, &b, &sb), 0);
        /* b unsubscribes itself from its callback after two events. */
        b.self = sb;
        b.unsub_after = 2;

        put_obj(f->store, "/berth/tasks/default/a", "a", 1);
        assert_int_equal(rec_wait(&a, 1), 1);
        object_cache_unsubscribe(sa);

        put_obj(f->store, "/berth/tasks/default/a", "a", 2);
        int64_t r3 = put_obj(f->store, "/berth/tasks/default/a", "a", 3);
        assert_int_equal(object_cache_wait_revision(c, r3, WAIT_MS), 0);
        assert_int_equal(rec_wait(&h, 3), 3); /* the handler saw everything */
        assert_int_equal(rec_count(&a), 1);
        assert_int_equal(rec_count(&b), 2);

        object_cache_free(c);
        rec_release(&h);
        rec_release(&a);
        rec_release(&b);
}

static void test_relist_diff(void **state)
{
        struct fixture *f = *state;
        struct recorder h, sub;
        struct object_cache_sub *s = NULL;

        rec_init(&h);
        rec_init(&sub);
        int64_t r_keep = put_obj(f->store, "/berth/tasks/default/keep", "keep", 1);
        put_obj(f->store, "/berth/tasks/default/mod", "mod", 1);
        put_obj(f->store, "/berth/tasks/default/gone", "gone", 1);
        struct object_cache *c = cache_new(f, "/berth/", OBJECT_CACHE_HISTORY, &h);
        assert_int_equal(rec_wait(&h, 3), 3);
        int64_t before = object_cache_revision(c);
        assert_int_equal(object_cache_subscribe(c, "/berth/", before, rec_fn, &sub, &s), 0);

        /* The cache loses its watch and misses these, and the history they
         * were in is compacted away. */
        object_cache_test_hold(c, true);
        put_obj(f->store, "/berth/tasks/default/tmp", "tmp", 1);
        del(f->store, "/berth/tasks/default/tmp");
        int64_t r_mod = put_obj(f->store, "/berth/tasks/default/mod", "mod", 2);
        int64_t r_new = put_obj(f->store, "/berth/tasks/default/new", "new", 1);
        int64_t r_gone = del(f->store, "/berth/tasks/default/gone");
        int64_t last = put_obj(f->store, "/other/x", "x", 1);
        assert_int_equal(store_compact(f->store, last, NULL), 0);
        assert_int_equal(rec_count(&h), 3);
        assert_int_equal(object_cache_revision(c), before);

        object_cache_test_hold(c, false);
        assert_int_equal(object_cache_wait_revision(c, last, WAIT_MS), 0);
        assert_int_equal(object_cache_relist_count(c), 2);
        int64_t listed = object_cache_revision(c);
        assert_true(listed >= last);

        /* Only the differences, in revision order; unchanged "keep" is quiet
         * and "tmp" never existed as far as the cache knows. */
        assert_int_equal(rec_wait(&h, 6), 6);
        assert_event(&h.ev[3], OBJECT_MODIFIED, "/berth/tasks/default/mod", r_mod);
        assert_int_equal(spec_n(h.ev[3].obj), 2);
        assert_int_equal(spec_n(h.ev[3].prev), 1);
        assert_event(&h.ev[4], OBJECT_ADDED, "/berth/tasks/default/new", r_new);
        /* The delete's own revision is gone with the history: the list's is used. */
        assert_event(&h.ev[5], OBJECT_DELETED, "/berth/tasks/default/gone", listed);
        assert_true(listed > r_gone);

        assert_int_equal(rec_wait(&sub, 3), 3);
        assert_event(&sub.ev[0], OBJECT_MODIFIED, "/berth/tasks/default/mod", r_mod);
        assert_event(&sub.ev[2], OBJECT_DELETED, "/berth/tasks/default/gone", listed);

        int64_t mod = 0;
        json_t *keep = object_cache_get(c, "/berth/tasks/default/keep", &mod);
        assert_int_equal(mod, r_keep);
        json_decref(keep);
        assert_int_equal(object_cache_size(c), 3);

        /* A resume from before the relist replays the diff too. */
        struct recorder late;
        struct object_cache_sub *s2 = NULL;
        rec_init(&late);
        assert_int_equal(object_cache_subscribe(c, "/berth/", before, rec_fn, &late, &s2), 0);
        assert_int_equal(rec_wait(&late, 3), 3);
        assert_event(&late.ev[1], OBJECT_ADDED, "/berth/tasks/default/new", r_new);

        /* And the new watch works. */
        int64_t r_after = put_obj(f->store, "/berth/tasks/default/after", "after", 1);
        assert_int_equal(rec_wait(&h, 7), 7);
        assert_event(&h.ev[6], OBJECT_ADDED, "/berth/tasks/default/after", r_after);
        assert_int_equal(rec_count(&h), 7);

        object_cache_unsubscribe(s);
        object_cache_unsubscribe(s2);
        object_cache_free(c);
        rec_release(&h);
        rec_release(&sub);
        rec_release(&late);
}

static void test_invalid_values(void **state)
{
        struct fixture *f = *state;
        struct recorder h;

        rec_init(&h);
        put(f->store, "/berth/tasks/default/bad", "not json {");
        put(f->store, "/berth/tasks/default/array", "[1,2]");
        int64_t r_ok = put_obj(f->store, "/berth/tasks/default/ok", "ok", 1);
        struct object_cache *c = cache_new(f, "/berth/", OBJECT_CACHE_HISTORY, &h);
        assert_int_equal(object_cache_size(c), 1);
        assert_int_equal(object_cache_invalid_count(c), 2);
        assert_null(object_cache_get(c, "/berth/tasks/default/bad", NULL));
        assert_int_equal(rec_wait(&h, 1), 1);
        assert_event(&h.ev[0], OBJECT_ADDED, "/berth/tasks/default/ok", r_ok);

        /* Live: an invalid new value is skipped; an object that turns invalid
         * leaves the cache. */
        put(f->store, "/berth/tasks/default/bad2", "\"string\"");
        int64_t r_broken = put(f->store, "/berth/tasks/default/ok", "{");
        assert_int_equal(object_cache_wait_revision(c, r_broken, WAIT_MS), 0);
        assert_int_equal(object_cache_invalid_count(c), 4);
        assert_int_equal(rec_wait(&h, 2), 2);
        assert_event(&h.ev[1], OBJECT_DELETED, "/berth/tasks/default/ok", r_broken);
        assert_int_equal(object_cache_size(c), 0);

        /* An object without metadata gets one for its resourceVersion. */
        int64_t r_bare = put(f->store, "/berth/tasks/default/bare", "{\"spec\":{\"n\":7}}");
        assert_int_equal(rec_wait(&h, 3), 3);
        assert_event(&h.ev[2], OBJECT_ADDED, "/berth/tasks/default/bare", r_bare);
        assert_int_equal(rec_count(&h), 3);

        object_cache_free(c);
        rec_release(&h);
}

static void test_many_objects(void **state)
{
        struct fixture *f = *state;
        enum { N = 10000 };
        struct timespec t0, t1;

        struct object_cache *c = cache_new(f, "/berth/", N, NULL);
        /* Fed through the watch in random key order. */
        int64_t last = 0;
        for (int i = 0; i < N; i++) {
                char key[64], value[64];
                int k = (i * 7919) % N;
                snprintf(key, sizeof(key), "/berth/tasks/default/t%05d", k);
                snprintf(value, sizeof(value), "{\"metadata\":{\"name\":\"t%05d\"}}", k);
                last = put(f->store, key, value);
        }
        assert_int_equal(object_cache_wait_revision(c, last, 60000), 0);
        assert_int_equal(object_cache_size(c), N);

        /* Listing the bytes takes one reference per object: what an API list
         * or a summary scan costs before its own work. */
        const struct object_blob **v = NULL;
        size_t n = 0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_int_equal(object_cache_list_blobs(c, "/berth/tasks/", &v, &n, NULL), 0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        assert_int_equal(n, N);
        for (size_t i = 0; i < N; i++) {
                char name[16];
                snprintf(name, sizeof(name), "t%05zu", i);
                assert_string_equal(v[i]->name, name);
        }
        object_blobs_release(v, n);

        /* The trees, parsed from those bytes, in key order. */
        json_t *all = object_cache_list(c, "/berth/tasks/", NULL);
        assert_int_equal(json_array_size(all), N);
        for (size_t i = 0; i < N; i++) {
                char name[16];
                const json_t *o = json_array_get(all, i);
                snprintf(name, sizeof(name), "t%05zu", i);
                assert_non_null(rv_of(o));
                assert_string_equal(
                    json_string_value(json_object_get(json_object_get(o, "metadata"), "name")),
                    name);
        }
        json_decref(all);
        /* Generous for ASan on a shared machine; typically well under 2 ms. */
        if (ms >= 100.0)
                fprintf(stderr, "list of %d objects took %.1f ms\n", N, ms);
        assert_true(ms < 100.0);
        object_cache_free(c);
}

/* ---- blob lifetime ---------------------------------------------------- */

#define LIFE_KEYS    16
#define LIFE_READERS 4

struct life {
        struct object_cache *c;
        atomic_bool stop;
        atomic_int rounds;
        atomic_int bad;
};

/* Whether b's bytes are a whole object consistent with its summary. */
static bool blob_consistent(const struct object_blob *b)
{
        _cleanup_json_ json_t *o = object_blob_parse(b);
        char rv[24];
        snprintf(rv, sizeof(rv), "%" PRId64, b->mod_revision);
        return o && b->json[b->len] == '\0' && streq(rv_of(o), rv) &&
               streq(json_string_value(json_object_get(json_object_get(o, "metadata"), "name")),
                     b->name) &&
               spec_n(o) >= 0;
}

/* A reader: lists and gets blobs, keeps the previous round's while the
 * writer changes and deletes them, and checks every one it holds. */
static void *life_reader(void *arg)
{
        struct life *l = arg;
        const struct object_blob **held = NULL, *one = NULL;
        size_t n_held = 0;

        while (!atomic_load(&l->stop)) {
                const struct object_blob **v = NULL;
                size_t n = 0;
                if (object_cache_list_blobs(l->c, "/berth/tasks/", &v, &n, NULL) < 0)
                        atomic_fetch_add(&l->bad, 1);
                /* The previous round's blobs, some changed or deleted since. */
                for (size_t i = 0; i < n_held; i++)
                        if (!blob_consistent(held[i]))
                                atomic_fetch_add(&l->bad, 1);
                object_blobs_release(held, n_held);
                held = v;
                n_held = n;
                char key[64];
                snprintf(key, sizeof(key), "/berth/tasks/default/o%02d",
                         atomic_load(&l->rounds) % LIFE_KEYS);
                const struct object_blob *b = object_cache_get_blob(l->c, key);
                if (one && !blob_consistent(one))
                        atomic_fetch_add(&l->bad, 1);
                object_blob_unref(one);
                one = b;
                atomic_fetch_add(&l->rounds, 1);
        }
        object_blobs_release(held, n_held);
        object_blob_unref(one);
        return NULL;
}

/* Readers hold blobs on several threads while the objects change and go:
 * every blob stays whole and consistent for as long as it is held, and
 * once they are all let go, only the cache's own references are left (the
 * rest were freed: ASan/LSan would report a use after free or a leak). */
static void test_blob_lifetime_concurrent(void **state)
{
        struct fixture *f = *state;
        struct life l = {0};
        pthread_t readers[LIFE_READERS];
        char key[64];

        for (int k = 0; k < LIFE_KEYS; k++) {
                snprintf(key, sizeof(key), "/berth/tasks/default/o%02d", k);
                char name[16];
                snprintf(name, sizeof(name), "o%02d", k);
                put_obj(f->store, key, name, 0);
        }
        /* A short ring: old versions leave it while readers hold them. */
        l.c = cache_new_bytes(f, "/berth/", 8, 4096, NULL);
        for (int i = 0; i < LIFE_READERS; i++)
                assert_int_equal(pthread_create(&readers[i], NULL, life_reader, &l), 0);

        int64_t last = 0;
        for (int i = 1; i <= 300; i++) {
                int k = (i * 7) % LIFE_KEYS;
                char name[16];
                snprintf(key, sizeof(key), "/berth/tasks/default/o%02d", k);
                snprintf(name, sizeof(name), "o%02d", k);
                last = i % 5 == 0 ? del(f->store, key) : put_obj(f->store, key, name, i);
        }
        assert_int_equal(object_cache_wait_revision(l.c, last, WAIT_MS), 0);
        /* Let the readers see the last state too. */
        int seen = atomic_load(&l.rounds);
        while (atomic_load(&l.rounds) < seen + 2 * LIFE_READERS)
                sched_yield();
        atomic_store(&l.stop, true);
        for (int i = 0; i < LIFE_READERS; i++)
                pthread_join(readers[i], NULL);
        assert_int_equal(atomic_load(&l.bad), 0);
        assert_true(atomic_load(&l.rounds) > LIFE_READERS);

        const struct object_blob **v = NULL;
        size_t n = 0;
        assert_int_equal(object_cache_list_blobs(l.c, "/berth/", &v, &n, NULL), 0);
        for (size_t i = 0; i < n; i++) {
                /* The map's, ours, the ring's when the version is still in it,
                 * and the last batch's while it is being delivered; a reference
                 * the readers failed to drop would be more (and LSan reports
                 * it after the cache is freed). */
                unsigned refs = object_blob_refcount(v[i]);
                assert_true(refs >= 2 && refs <= 4);
        }
        object_blobs_release(v, n);
        object_cache_free(l.c);
}

/* Records the blobs of the events a subscription gets. */
struct blob_rec {
        pthread_mutex_t mu;
        pthread_cond_t cond;
        size_t n;
        enum object_event_type type[16];
        const struct object_blob *blob[16], *prev[16];
        bool bytes_match; /* every blob's bytes are its tree serialized */
};

static void blob_rec_fn(const struct object_event *ev, void *userdata)
{
        struct blob_rec *r = userdata;
        _cleanup_free_ char *text = json_dumps(object_event_object(ev), JSON_COMPACT);
        pthread_mutex_lock(&r->mu);
        if (!text || !streq(text, ev->blob->json) || strlen(text) != ev->blob->len ||
            (object_event_prev(ev) != NULL) != (ev->prev_blob != NULL) ||
            object_event_object(ev) != object_event_object(ev)) /* parsed once */
                r->bytes_match = false;
        if (r->n < ARRAY_SIZE(r->blob)) {
                r->type[r->n] = ev->type;
                r->blob[r->n] = object_blob_ref(ev->blob);
                r->prev[r->n] = object_blob_ref(ev->prev_blob);
                r->n++;
        }
        pthread_cond_broadcast(&r->cond);
        pthread_mutex_unlock(&r->mu);
}

static void blob_rec_wait(struct blob_rec *r, size_t n)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += WAIT_MS / 1000;
        pthread_mutex_lock(&r->mu);
        while (r->n < n && pthread_cond_timedwait(&r->cond, &r->mu, &ts) != ETIMEDOUT)
                ;
        assert_int_equal(r->n, n);
        pthread_mutex_unlock(&r->mu);
}

static void blob_rec_release(struct blob_rec *r)
{
        for (size_t i = 0; i < r->n; i++) {
                object_blob_unref(r->blob[i]);
                object_blob_unref(r->prev[i]);
        }
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cond);
}

static void assert_blob(const struct object_blob *b, int64_t rev, int n)
{
        _cleanup_json_ json_t *o = object_blob_parse(b);
        assert_rv(o, rev);
        assert_int_equal(spec_n(o), n);
}

/* A watch holds old versions while the object changes and is deleted: each
 * event's blob keeps its state, a MODIFIED's prev_blob is the very blob of
 * the event before (shared, not copied), and all outlive the object, the
 * ring (a resume replays the same bytes) and the cache. */
static void test_watch_holds_old_version(void **state)
{
        struct fixture *f = *state;
        struct blob_rec live = {.bytes_match = true}, replay = {.bytes_match = true};
        struct object_cache_sub *s = NULL, *s2 = NULL;
        const char *key = "/berth/tasks/default/w";

        pthread_mutex_init(&live.mu, NULL);
        pthread_cond_init(&live.cond, NULL);
        pthread_mutex_init(&replay.mu, NULL);
        pthread_cond_init(&replay.cond, NULL);
        struct object_cache *c = cache_new(f, "/berth/", OBJECT_CACHE_HISTORY, NULL);
        int64_t from = object_cache_revision(c);
        assert_int_equal(object_cache_subscribe(c, "/berth/", from, blob_rec_fn, &live, &s), 0);

        int64_t r1 = put_obj(f->store, key, "w", 1);
        int64_t r2 = put_obj(f->store, key, "w", 2);
        int64_t r3 = put_obj(f->store, key, "w", 3);
        int64_t r4 = del(f->store, key);
        blob_rec_wait(&live, 4);
        assert_true(live.bytes_match);
        assert_int_equal(live.type[0], OBJECT_ADDED);
        assert_int_equal(live.type[1], OBJECT_MODIFIED);
        assert_int_equal(live.type[3], OBJECT_DELETED);
        assert_blob(live.blob[0], r1, 1);
        assert_blob(live.blob[1], r2, 2);
        assert_blob(live.blob[2], r3, 3);
        assert_blob(live.blob[3], r4, 3); /* the last state, at the deletion */
        assert_ptr_equal(live.prev[1], live.blob[0]);
        assert_ptr_equal(live.prev[2], live.blob[1]);
        assert_null(live.prev[0]);
        assert_null(object_cache_get_blob(c, key));

        /* A resume from r1 replays the ring: the same blobs, not copies. */
        assert_int_equal(object_cache_subscribe(c, "/berth/", r1, blob_rec_fn, &replay, &s2), 0);
        blob_rec_wait(&replay, 3);
        assert_true(replay.bytes_match);
        for (size_t i = 0; i < 3; i++)
                assert_ptr_equal(replay.blob[i], live.blob[i + 1]);

        object_cache_unsubscribe(s);
        object_cache_unsubscribe(s2);
        object_cache_free(c);
        /* Only the recorders hold them now; their bytes are intact. */
        /* blob[0] and prev[1] of the live recorder, prev[0] of the replay's. */
        assert_int_equal(object_blob_refcount(live.blob[0]), 3);
        assert_blob(live.blob[1], r2, 2);
        assert_blob(live.blob[3], r4, 3);
        blob_rec_release(&replay);
        blob_rec_release(&live);
}

/* The summary: what the list consumers filter on without a tree. */
static void test_blob_summary(void **state)
{
        (void)state;
        _cleanup_json_ json_t *o = json_loads(
            "{\"kind\":\"Task\",\"metadata\":{\"name\":\"t\",\"namespace\":\"ns\",\"uid\":\"u1\","
            "\"labels\":{\"app\":\"web\",\"n\":1,\"berth.source\":\"git\"},"
            "\"ownerReferences\":[{\"kind\":\"Workflow\",\"name\":\"wf\",\"uid\":\"u0\"},"
            "{\"kind\":\"CronTask\",\"name\":\"c\"}],\"deletionTimestamp\":null,"
            "\"resourceVersion\":\"7\"},"
            "\"spec\":{\"dependsOn\":[\"a\",\"b\"]},\"status\":{\"phase\":\"Running\"}}",
            0, NULL);
        assert_non_null(o);
        const struct object_blob *b = object_blob_new(o, 7);
        assert_non_null(b);
        _cleanup_free_ char *text = json_dumps(o, JSON_COMPACT);
        assert_string_equal(b->json, text);
        assert_int_equal(b->len, strlen(text));
        assert_int_equal(b->mod_revision, 7);
        assert_string_equal(b->kind, "Task");
        assert_string_equal(b->ns, "ns");
        assert_string_equal(b->name, "t");
        assert_string_equal(b->uid, "u1");
        assert_string_equal(b->phase, "Running");
        assert_int_equal(b->n_labels, 2); /* string values only */
        assert_string_equal(object_blob_label(b, "app"), "web");
        assert_string_equal(object_blob_label(b, "berth.source"), "git");
        assert_null(object_blob_label(b, "n"));
        assert_null(object_blob_label(b, "other"));
        assert_true(object_blob_owned_by(b, NULL, NULL, "u0"));
        assert_true(object_blob_owned_by(b, "CronTask", "c", NULL));
        assert_false(object_blob_owned_by(b, "CronTask", "c", "u9"));
        assert_false(object_blob_owned_by(b, NULL, NULL, "")); /* the uid it lacks */
        assert_false(object_blob_owned_by(b, "Workflow", "other", NULL));
        assert_int_equal(b->n_depends_on, 2);
        assert_false(b->deleting); /* null is not a deletion */
        object_blob_unref(b);

        _cleanup_json_ json_t *bare =
            json_loads("{\"metadata\":{\"deletionTimestamp\":\"x\"}}", 0, NULL);
        b = object_blob_new(bare, 1);
        assert_string_equal(b->name, "");
        assert_string_equal(b->kind, "");
        assert_null(b->phase);
        assert_int_equal(b->n_labels + b->n_owners + b->n_depends_on, 0);
        assert_true(b->deleting);
        assert_false(object_blob_owned_by(b, "", "", NULL));
        object_blob_unref(b);
        object_blob_unref(NULL);
}

/* ---- container_info_from_docker --------------------------------------- */

static void test_container_info_good(void **state)
{
        (void)state;
        struct docker_container dc = {
            .id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            .name = "berth.default.web.1a2b3c4d.2",
            .labels = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "berth.managed", "true",
                                "berth.kind", "Task", "berth.namespace", "default", "berth.name",
                                "web", "berth.uid", "1a2b3c4d5e6f", "berth.attempt", "2",
                                "berth.generation", "7"),
            .state = DOCKER_STATE_EXITED,
            .details_known = true,
            .exit_code = 3,
            .oom_killed = true,
            .started_ms = 1000,
            .finished_ms = 2000,
        };
        struct container_info ci;

        assert_int_equal(container_info_from_docker(&dc, &ci), 0);
        assert_string_equal(ci.id, dc.id);
        assert_string_equal(ci.name, dc.name);
        assert_string_equal(ci.kind, "Task");
        assert_string_equal(ci.ns, "default");
        assert_string_equal(ci.owner, "web");
        assert_string_equal(ci.uid, "1a2b3c4d5e6f");
        assert_int_equal(ci.attempt, 2);
        assert_int_equal(ci.generation, 7);
        assert_int_equal(ci.state, DOCKER_STATE_EXITED);
        assert_true(ci.details_known);
        assert_true(ci.exit_known);
        assert_int_equal(ci.exit_code, 3);
        assert_true(ci.oom_killed);
        assert_int_equal(ci.started_ms, 1000);
        assert_int_equal(ci.finished_ms, 2000);

        /* From a list: no details, no exit code; generation is optional. */
        json_object_del(dc.labels, "berth.generation");
        dc.details_known = false;
        dc.state = DOCKER_STATE_RUNNING;
        assert_int_equal(container_info_from_docker(&dc, &ci), 0);
        assert_int_equal(ci.generation, 0);
        assert_false(ci.details_known);
        assert_false(ci.exit_known);
        assert_int_equal(ci.state, DOCKER_STATE_RUNNING);
        json_decref(dc.labels);
}

static void test_container_info_bad(void **state)
{
        (void)state;
        const char *bad[][2] = {
            {NULL, "1"},                                         /* no uid */
            {"", "1"},                                           /* empty uid */
            {"abc", NULL},                                       /* no attempt */
            {"abc", "x"},                                        /* junk attempt */
            {"abc", "1x"},                                       /* trailing junk */
            {"abc", "-1"},                                       /* negative */
            {"abc", ""},                                         /* empty */
            {"abc", "99999999999"},                              /* overflows int */
            {"0123456789012345678901234567890123456789xx", "1"}, /* uid too long */
        };
        struct container_info ci = {.attempt = 42};

        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                json_t *labels = json_object();
                if (bad[i][0])
                        json_object_set_new(labels, "berth.uid", json_string(bad[i][0]));
                if (bad[i][1])
                        json_object_set_new(labels, "berth.attempt", json_string(bad[i][1]));
                struct docker_container dc = {.id = "abc", .name = "n", .labels = labels};
                assert_int_equal(container_info_from_docker(&dc, &ci), -EINVAL);
                json_decref(labels);
        }
        /* Labels that are not strings. */
        json_t *labels = json_pack("{s:i, s:s}", "berth.uid", 5, "berth.attempt", "1");
        struct docker_container dc = {.id = "abc", .name = "n", .labels = labels};
        assert_int_equal(container_info_from_docker(&dc, &ci), -EINVAL);
        json_decref(labels);
        assert_int_equal(container_info_from_docker(NULL, &ci), -EINVAL);
        /* ret untouched on failure */
        assert_int_equal(ci.attempt, 42);
}

/* ---- many keys in one store transaction ------------------------------- */

#define TXN_OBJECTS 200

/* Writes TXN_OBJECTS objects under prefix with store_txn (as few txns as fit:
 * on etcd 128 keys share one revision), revs[i] each one's revision. */
static void txn_objects(struct store *s, const char *prefix, int64_t *revs)
{
        char *keys[TXN_OBJECTS], *values[TXN_OBJECTS];
        struct store_op ops[TXN_OBJECTS];
        for (size_t i = 0; i < TXN_OBJECTS; i++) {
                keys[i] = str_printf("%stasks/default/o%03zu", prefix, i);
                values[i] = str_printf("{\"metadata\":{\"name\":\"o%03zu\"},\"spec\":{}}", i);
                assert_non_null(keys[i]);
                assert_non_null(values[i]);
                ops[i] = (struct store_op){.type = STORE_OP_PUT,
                                           .key = keys[i],
                                           .value = values[i],
                                           .value_len = strlen(values[i]),
                                           .expected_mod_revision = STORE_MUST_NOT_EXIST};
        }
        for (size_t i = 0; i < TXN_OBJECTS;) {
                size_t m = store_txn_fit(s, ops + i, TXN_OBJECTS - i, false);
                struct berth_error err = {0};
                int r = store_txn(s, ops + i, m, NULL, revs + i, NULL, &err);
                if (r < 0)
                        fail_msg("txn: %s", err.message);
                i += m;
        }
        for (size_t i = 0; i < TXN_OBJECTS; i++) {
                free(keys[i]);
                free(values[i]);
        }
}

/* Subscribes from 'from' and checks the replay is exactly the batch's events
 * after it, each once, then a live event. false when the ring no longer
 * reaches back to 'from' (-ERANGE). */
/* lives[0..*n_lives): revisions of the live objects earlier calls wrote (they
 * are replayed too, after the batch). */
static bool resume_exact(struct store *s, struct object_cache *c, const char *prefix,
                         const int64_t *revs, int64_t from, int64_t *lives, int *n_lives)
{
        int live_n = *n_lives;
        struct recorder r;
        struct object_cache_sub *sub = NULL;
        rec_init(&r);
        int rc = object_cache_subscribe(c, prefix, from, rec_fn, &r, &sub);
        if (rc == -ERANGE) {
                rec_release(&r);
                return false;
        }
        assert_int_equal(rc, 0);
        size_t want = 0;
        for (size_t i = 0; i < TXN_OBJECTS; i++)
                want += revs[i] > from;
        size_t batch = want;
        for (int i = 0; i < live_n; i++)
                want += lives[i] > from;
        assert_int_equal(rec_wait(&r, want), want);
        char live[128], value[128];
        snprintf(live, sizeof(live), "%stasks/default/live-%d", prefix, live_n);
        snprintf(value, sizeof(value), "{\"metadata\":{\"name\":\"live-%d\"}}", live_n);
        int64_t lr = put(s, live, value);
        lives[(*n_lives)++] = lr;
        assert_int_equal(rec_wait(&r, want + 1), want + 1);
        object_cache_unsubscribe(sub);
        assert_int_equal(r.n, want + 1); /* nothing repeated, nothing missing */
        size_t k = 0;
        for (size_t i = 0; i < TXN_OBJECTS; i++) {
                if (revs[i] <= from)
                        continue;
                char key[128];
                snprintf(key, sizeof(key), "%stasks/default/o%03zu", prefix, i);
                assert_event(&r.ev[k], OBJECT_ADDED, key, revs[i]);
                /* Replayed too: the end of each revision is marked. */
                assert_int_equal(r.ev[k].ends, i + 1 == TXN_OBJECTS || revs[i + 1] != revs[i]);
                k++;
        }
        assert_int_equal(k, batch);
        for (size_t i = batch; i < want; i++)
                assert_true(r.ev[i].rev > revs[TXN_OBJECTS - 1]); /* earlier live ones */
        assert_event(&r.ev[want], OBJECT_ADDED, live, lr);
        rec_release(&r);
        return true;
}

/* A batch written with store_txn (on etcd: 128 keys at one revision) reaches
 * the object cache whole: a subscriber from before it gets every object once;
 * one resumed from inside it gets exactly what came after; when the ring had
 * to drop part of a revision, a resume from before that revision is refused
 * (-ERANGE), never replayed in part. */
static void batch_resume(struct store *s, const char *prefix)
{
        int64_t revs[TXN_OBJECTS];
        struct recorder live;
        rec_init(&live);
        /* Big enough for everything, and one that must drop part of it. */
        struct object_cache *c = NULL, *small = NULL;
        struct berth_error err = {0};
        assert_int_equal(object_cache_new_with_history(s, prefix, OBJECT_CACHE_HISTORY,
                                                       OBJECT_CACHE_HISTORY_BYTES, rec_fn, &live,
                                                       &c, &err),
                         0);
        assert_int_equal(object_cache_new_with_history(s, prefix, TXN_OBJECTS - 50,
                                                       OBJECT_CACHE_HISTORY_BYTES, NULL, NULL,
                                                       &small, &err),
                         0);
        assert_int_equal(object_cache_wait_synced(c, WAIT_MS), 0);
        assert_int_equal(object_cache_wait_synced(small, WAIT_MS), 0);
        char first[128];
        snprintf(first, sizeof(first), "%stasks/default/first", prefix);
        int64_t before = put(s, first, "{\"metadata\":{\"name\":\"first\"}}");
        txn_objects(s, prefix, revs);
        assert_int_equal(object_cache_wait_revision(c, revs[TXN_OBJECTS - 1], WAIT_MS), 0);
        assert_int_equal(object_cache_wait_revision(small, revs[TXN_OBJECTS - 1], WAIT_MS), 0);
        assert_int_equal(object_cache_size(c), TXN_OBJECTS + 1);

        /* The handler saw each object once, in revision order. */
        assert_int_equal(rec_wait(&live, TXN_OBJECTS + 1), TXN_OBJECTS + 1);
        assert_int_equal(rec_count(&live), TXN_OBJECTS + 1);
        for (size_t i = 0; i < TXN_OBJECTS; i++) {
                assert_int_equal(live.ev[i + 1].rev, revs[i]);
                /* Only the last change of a revision ends it (on etcd, one
                 * per transaction; on SQLite, every one). */
                assert_int_equal(live.ev[i + 1].ends,
                                 i + 1 == TXN_OBJECTS || revs[i + 1] != revs[i]);
        }

        /* Resumes from just before the batch and from inside it. */
        int64_t lives[64];
        int n = 0;
        assert_true(resume_exact(s, c, prefix, revs, before, lives, &n));
        assert_true(resume_exact(s, c, prefix, revs, revs[0], lives, &n));
        assert_true(resume_exact(s, c, prefix, revs, revs[TXN_OBJECTS / 2], lives, &n));
        assert_true(resume_exact(s, c, prefix, revs, revs[TXN_OBJECTS - 1] - 1, lives, &n));

        /* The small ring dropped the oldest events: every resume it accepts is
         * exact, and it refuses the older ones. */
        bool refused = false, accepted = false;
        if (resume_exact(s, small, prefix, revs, before, lives, &n))
                accepted = true;
        else
                refused = true;
        for (size_t i = 0; i < TXN_OBJECTS; i += 10) {
                if (resume_exact(s, small, prefix, revs, revs[i], lives, &n))
                        accepted = true;
                else
                        refused = true;
        }
        assert_true(refused);
        assert_true(accepted);

        object_cache_free(small);
        object_cache_free(c);
        rec_release(&live);
}

static void test_txn_batch_resume(void **state)
{
        struct fixture *f = *state;
        batch_resume(f->store, "/berth/");
}

/* The same on etcd, where a txn's keys share one revision (skipped without
 * etcd at $BERTH_TEST_ETCD_URL, default http://127.0.0.1:2379). */
static void test_txn_batch_resume_etcd(void **state)
{
        (void)state;
        const char *env = getenv("BERTH_TEST_ETCD_URL");
        const char *hostport = env && *env ? env : "http://127.0.0.1:2379";
        if (str_has_prefix(hostport, "http://"))
                hostport += strlen("http://");
        _cleanup_free_ char *url = str_printf("etcd://%s", hostport);
        struct store *s = NULL;
        struct berth_error err = {0};
        int64_t rev = 0;
        assert_non_null(url);
        if (store_open(url, &s, &err) < 0 || store_revision(s, &rev, &err) < 0) {
                store_free(s);
                print_message("no etcd at %s (%s): skipped\n", url, err.message);
                skip();
        }
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "/berth-watchers-test-%d-%" PRId64 "/", (int)getpid(),
                 rev);
        batch_resume(s, prefix);
        /* Clean up: every key under the prefix. */
        struct store_kvs kvs = {0};
        assert_int_equal(store_list(s, prefix, 0, &kvs, &err), 0);
        for (size_t i = 0; i < kvs.n; i++)
                (void)store_delete(s, kvs.items[i].key, STORE_ANY_REVISION, NULL, NULL);
        store_kvs_release(&kvs);
        store_free(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_free_null),
            cmocka_unit_test(test_type_strings),
            cmocka_unit_test_setup_teardown(test_new_invalid, setup, teardown),
            cmocka_unit_test_setup_teardown(test_initial_list, setup, teardown),
            cmocka_unit_test_setup_teardown(test_live_events, setup, teardown),
            cmocka_unit_test_setup_teardown(test_list_order_and_prefix, setup, teardown),
            cmocka_unit_test_setup_teardown(test_get_new_refs, setup, teardown),
            cmocka_unit_test_setup_teardown(test_wait_revision, setup, teardown),
            cmocka_unit_test_setup_teardown(test_subscribe_replay, setup, teardown),
            cmocka_unit_test_setup_teardown(test_subscribe_too_old, setup, teardown),
            cmocka_unit_test_setup_teardown(test_history_bytes, setup, teardown),
            cmocka_unit_test_setup_teardown(test_data_keys_left_out, setup, teardown),
            cmocka_unit_test_setup_teardown(test_unsubscribe, setup, teardown),
            cmocka_unit_test_setup_teardown(test_relist_diff, setup, teardown),
            cmocka_unit_test_setup_teardown(test_invalid_values, setup, teardown),
            cmocka_unit_test_setup_teardown(test_many_objects, setup, teardown),
            cmocka_unit_test_setup_teardown(test_txn_batch_resume, setup, teardown),
            cmocka_unit_test(test_txn_batch_resume_etcd),
            cmocka_unit_test_setup_teardown(test_blob_lifetime_concurrent, setup, teardown),
            cmocka_unit_test_setup_teardown(test_watch_holds_old_version, setup, teardown),
            cmocka_unit_test(test_blob_summary),
            cmocka_unit_test(test_container_info_good),
            cmocka_unit_test(test_container_info_bad),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
