/* builder.c: the build map, the FIFO queue and the worker threads.
 *
 * Everything a build holds that changes lives under b->lock: its state,
 * result, log and place in the map and queue. Its id, owner key and request
 * never change once it is queued, so a worker reads them unlocked while it
 * runs the build. A running build that is forgotten leaves the map at once
 * but stays with its worker, which frees it when the run returned; a queued
 * or finished one is freed right away.
 *
 * Callbacks run with no lock held, so that they may call back into the
 * builder: fn gets a copy of the owner key taken under the lock.
 *
 * Lock order: b->lock, then whatever the runner's interrupt takes (the
 * struct docker's socket slot). The runner's run and the progress callback
 * are called without b->lock; the progress callback takes it.
 */
#include <limits.h>

#include "builder-internal.h"

#define BUCKETS 256 /* a power of two; BUILDER_BUILDS_MAX / BUCKETS per chain */

struct worker;

struct build {
        struct builder *builder;
        /* Immutable once queued. */
        char *id, *owner_key;
        char *context_dir, *dockerfile;
        char **tags;
        json_t *build_args, *labels;

        /* Under b->lock. */
        enum build_state state;
        char *image_id;
        char message[BERTH_ERROR_MESSAGE_MAX];
        struct build_log log;
        int64_t started_ms, finished_ms;
        int64_t notified_mono_ms; /* the last notification (or the start) */
        bool forgotten;           /* out of the map while RUNNING: its worker frees it */
        struct worker *worker;    /* while RUNNING */
        struct build *next_by_id;
        struct build *queue_prev, *queue_next; /* while QUEUED */
};

struct worker {
        struct builder *builder;
        pthread_t thread;
        bool thread_started;
        /* Under b->lock. The thread replaces the client when interrupted is
         * set, once the run in progress returned. */
        void *client;
        bool interrupted;
        struct build *build; /* the one it runs */
};

struct builder {
        pthread_mutex_t lock;
        pthread_cond_t cond; /* a build was queued, or stopping */
        bool lock_ready, cond_ready;

        const struct build_runner_ops *ops;
        void *runner_data;
        struct docker *docker; /* builder_new's own clone: runner_data */
        builder_clock_fn clock;
        void *clock_userdata;
        build_change_fn fn;
        void *userdata;

        /* Under lock. */
        struct build *by_id[BUCKETS];
        size_t count;
        struct build *queue_head, *queue_tail;
        bool stopping;

        int n_workers;
        struct worker workers[];
};

const char *build_state_to_string(enum build_state s)
{
        switch (s) {
        case BUILD_QUEUED:
                return "Queued";
        case BUILD_RUNNING:
                return "Running";
        case BUILD_SUCCEEDED:
                return "Succeeded";
        case BUILD_FAILED:
                return "Failed";
        case BUILD_UNKNOWN:
                break;
        }
        return "Unknown";
}

void build_status_release(struct build_status *s)
{
        if (!s)
                return;
        free(s->image_id);
        free(s->message);
        free(s->log);
        *s = (struct build_status){0};
}

/* ---- builds ------------------------------------------------------------- */

static void build_free(struct build *job)
{
        if (!job)
                return;
        free(job->id);
        free(job->owner_key);
        free(job->context_dir);
        free(job->dockerfile);
        strv_free(job->tags);
        json_decref(job->build_args);
        json_decref(job->labels);
        free(job->image_id);
        build_log_release(&job->log);
        free(job);
}

static void build_freep(struct build **job)
{
        build_free(*job);
}

static bool key_ok(const char *s, size_t max)
{
        return s && s[0] && strnlen(s, max + 1) <= max;
}

static int request_check(const char *id, const char *owner_key, const struct build_request *req,
                         struct berth_error *err)
{
        size_t n = 0;

        if (!key_ok(id, BUILDER_ID_MAX))
                return berth_error_set(err, -EINVAL, "build: id empty or over %d bytes",
                                       BUILDER_ID_MAX);
        if (!key_ok(owner_key, BUILDER_OWNER_KEY_MAX))
                return berth_error_set(err, -EINVAL, "build %s: owner key empty or over %d bytes",
                                       id, BUILDER_OWNER_KEY_MAX);
        if (!req || !req->context_dir || req->context_dir[0] != '/' ||
            strnlen(req->context_dir, PATH_MAX + 1) > PATH_MAX)
                return berth_error_set(err, -EINVAL,
                                       "build %s: context must be an absolute path of at most %d "
                                       "bytes",
                                       id, PATH_MAX);
        if (req->dockerfile && !key_ok(req->dockerfile, PATH_MAX))
                return berth_error_set(err, -EINVAL, "build %s: dockerfile empty or over %d bytes",
                                       id, PATH_MAX);
        for (const char *const *t = req->tags; t && *t; t++, n++)
                if (n >= BUILDER_TAGS_MAX || !key_ok(*t, BUILDER_TAG_MAX))
                        return berth_error_set(err, -EINVAL,
                                               "build %s: more than %d tags, or one empty or "
                                               "over %d bytes",
                                               id, BUILDER_TAGS_MAX, BUILDER_TAG_MAX);
        if (!json_is_string_map(req->build_args) || !json_is_string_map(req->labels))
                return berth_error_set(err, -EINVAL,
                                       "build %s: build args and labels must be objects of "
                                       "strings",
                                       id);
        return 0;
}

static char *strdup_or_null(const char *s, bool *ok)
{
        char *c;

        if (!s)
                return NULL;
        c = strdup(s);
        if (!c)
                *ok = false;
        return c;
}

/* A copy of the (checked) request, QUEUED; NULL on OOM. */
static struct build *build_new(struct builder *b, const char *id, const char *owner_key,
                               const struct build_request *req)
{
        _cleanup_(build_freep) struct build *job = calloc(1, sizeof(*job));
        size_t n = 0;
        bool ok = true;

        if (!job)
                return NULL;
        job->builder = b;
        job->state = BUILD_QUEUED;
        build_log_init(&job->log);
        job->id = strdup_or_null(id, &ok);
        job->owner_key = strdup_or_null(owner_key, &ok);
        job->context_dir = strdup_or_null(req->context_dir, &ok);
        job->dockerfile = strdup_or_null(req->dockerfile, &ok);
        if (!ok)
                return NULL;
        if (req->tags) {
                while (req->tags[n])
                        n++;
                job->tags = calloc(n + 1, sizeof(*job->tags));
                if (!job->tags)
                        return NULL;
                for (size_t i = 0; i < n; i++)
                        if (!(job->tags[i] = strdup(req->tags[i])))
                                return NULL;
        }
        /* Deep copies: the caller's objects may change or go once we return,
         * and the worker reads these on its own thread. */
        if (req->build_args && !(job->build_args = json_deep_copy(req->build_args)))
                return NULL;
        if (req->labels && !(job->labels = json_deep_copy(req->labels)))
                return NULL;
        return TAKE_PTR(job);
}

/* ---- the map and the queue (under b->lock) ------------------------------ */

static size_t hash(const char *s)
{
        uint64_t h = 0xcbf29ce484222325ULL;

        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
        return (size_t)h;
}

static struct build **id_slot(struct builder *b, const char *id)
{
        struct build **at = &b->by_id[hash(id) & (BUCKETS - 1)];

        while (*at && !streq((*at)->id, id))
                at = &(*at)->next_by_id;
        return at;
}

static void queue_push(struct builder *b, struct build *job)
{
        job->queue_next = NULL;
        job->queue_prev = b->queue_tail;
        if (b->queue_tail)
                b->queue_tail->queue_next = job;
        else
                b->queue_head = job;
        b->queue_tail = job;
}

static void queue_unlink(struct builder *b, struct build *job)
{
        if (job->queue_prev)
                job->queue_prev->queue_next = job->queue_next;
        else
                b->queue_head = job->queue_next;
        if (job->queue_next)
                job->queue_next->queue_prev = job->queue_prev;
        else
                b->queue_tail = job->queue_prev;
        job->queue_prev = job->queue_next = NULL;
}

/* Takes job out of the map and drops it: a running one is interrupted and
 * left to its worker. */
static void forget_locked(struct builder *b, struct build *job)
{
        struct build **at = id_slot(b, job->id);
        struct worker *w;

        *at = job->next_by_id;
        job->next_by_id = NULL;
        b->count--;
        switch (job->state) {
        case BUILD_QUEUED:
                queue_unlink(b, job);
                build_free(job);
                break;
        case BUILD_RUNNING:
                job->forgotten = true;
                w = job->worker;
                if (w->client && !w->interrupted) {
                        b->ops->interrupt(w->client);
                        w->interrupted = true;
                }
                break;
        default:
                build_free(job);
                break;
        }
}

static int64_t clock_ms(struct builder *b)
{
        return b->clock ? b->clock(b->clock_userdata) : time_mono_ms();
}

/* ---- the workers -------------------------------------------------------- */

static void notify(struct builder *b, const char *owner_key)
{
        if (b->fn)
                b->fn(owner_key, b->userdata);
}

/* docker_build_progress_fn of a running build: the line goes to the log; a
 * forgotten build, or a builder stopping, abandons the build. */
static int on_progress(const char *line, void *userdata)
{
        struct build *job = userdata;
        struct builder *b = job->builder;
        char owner[BUILDER_OWNER_KEY_MAX + 1];
        bool announce = false;

        {
                LOCK_SCOPE(&b->lock);
                int64_t now;

                if (job->forgotten || b->stopping)
                        return 1;
                /* Out of memory: the line is lost, the build goes on. */
                (void)build_log_append(&job->log, line);
                now = clock_ms(b);
                if (now - job->notified_mono_ms >= BUILDER_NOTIFY_MS) {
                        job->notified_mono_ms = now;
                        (void)str_copy(owner, sizeof(owner), job->owner_key);
                        announce = true;
                }
        }
        if (announce)
                notify(b, owner);
        return 0;
}

/* Records the result of job's run. */
static void build_finish(struct build *job, int r, char *image_id, const struct berth_error *err)
{
        job->finished_ms = time_now_ms();
        build_log_shrink(&job->log);
        if (r >= 0 && image_id) {
                job->state = BUILD_SUCCEEDED;
                job->image_id = image_id;
                return;
        }
        free(image_id);
        job->state = BUILD_FAILED;
        if (r >= 0)
                (void)str_copy(job->message, sizeof(job->message),
                               "build: the engine reported success but no image id");
        else if (err->message[0])
                (void)str_copy(job->message, sizeof(job->message), err->message);
        else
                (void)snprintf(job->message, sizeof(job->message), "build: %s", strerror(-r));
}

/* Runs job on w: called and returns with b->lock held, drops it meanwhile. */
static void worker_run(struct builder *b, struct worker *w, struct build *job)
{
        struct docker_build_opts opts = {
            .dockerfile = job->dockerfile,
            .tags = (const char *const *)job->tags,
            .build_args = job->build_args,
            .labels = job->labels,
        };
        struct berth_error err = {0};
        char owner[BUILDER_OWNER_KEY_MAX + 1];
        char *image_id = NULL;
        void *client = w->client, *stale = NULL;
        bool announce;
        int r;

        job->state = BUILD_RUNNING;
        job->worker = w;
        job->started_ms = time_now_ms();
        job->notified_mono_ms = clock_ms(b);
        w->build = job;
        (void)str_copy(owner, sizeof(owner), job->owner_key);
        pthread_mutex_unlock(&b->lock);

        notify(b, owner);
        if (client)
                r = b->ops->run(client, job->context_dir, &opts, on_progress, job, &image_id, &err);
        else
                r = berth_error_set(&err, -ENOMEM,
                                    "build: cannot make a client for the Docker engine");

        pthread_mutex_lock(&b->lock);
        w->build = NULL;
        job->worker = NULL;
        if (w->interrupted) {
                stale = w->client;
                w->client = NULL;
                w->interrupted = false;
        }
        announce = !job->forgotten && !b->stopping;
        if (job->forgotten) {
                free(image_id);
                build_free(job);
        } else {
                build_finish(job, r, image_id, &err);
        }
        pthread_mutex_unlock(&b->lock);

        b->ops->client_free(stale);
        if (announce)
                notify(b, owner);
        pthread_mutex_lock(&b->lock);
}

static void *worker_main(void *userdata)
{
        struct worker *w = userdata;
        struct builder *b = w->builder;

        pthread_mutex_lock(&b->lock);
        for (;;) {
                struct build *job;

                /* A client replaces the interrupted one before the next build
                 * is taken (and tried again then if there was no memory). */
                if (!w->client && !b->stopping) {
                        void *client;

                        pthread_mutex_unlock(&b->lock);
                        client = b->ops->client_new(b->runner_data);
                        pthread_mutex_lock(&b->lock);
                        w->client = client;
                }
                while (!b->stopping && !b->queue_head)
                        pthread_cond_wait(&b->cond, &b->lock);
                if (b->stopping)
                        break;
                job = b->queue_head;
                queue_unlink(b, job);
                worker_run(b, w, job);
        }
        pthread_mutex_unlock(&b->lock);
        return NULL;
}

/* ---- the API ------------------------------------------------------------ */

void builder_free(struct builder *b)
{
        if (!b)
                return;
        if (b->lock_ready && b->cond_ready) {
                pthread_mutex_lock(&b->lock);
                b->stopping = true;
                for (int i = 0; i < b->n_workers; i++) {
                        struct worker *w = &b->workers[i];

                        if (w->build && w->client && !w->interrupted) {
                                b->ops->interrupt(w->client);
                                w->interrupted = true;
                        }
                }
                pthread_cond_broadcast(&b->cond);
                pthread_mutex_unlock(&b->lock);
        }
        for (int i = 0; i < b->n_workers; i++)
                if (b->workers[i].thread_started)
                        pthread_join(b->workers[i].thread, NULL);
        /* Every build left is in the map (queued ones too): forgotten running
         * ones were freed by their workers before these stopped. */
        for (size_t i = 0; i < BUCKETS; i++)
                for (struct build *job = b->by_id[i], *next; job; job = next) {
                        next = job->next_by_id;
                        build_free(job);
                }
        for (int i = 0; i < b->n_workers; i++)
                if (b->workers[i].client)
                        b->ops->client_free(b->workers[i].client);
        docker_free(b->docker);
        if (b->cond_ready)
                pthread_cond_destroy(&b->cond);
        if (b->lock_ready)
                pthread_mutex_destroy(&b->lock);
        free(b);
}

/* The constructors' common part; docker (NULL but for builder_new) is the
 * clone runner_data points to, freed with the builder, also on failure. */
static int builder_create(const struct build_runner_ops *ops, void *runner_data,
                          struct docker *docker, int max_concurrent, builder_clock_fn clock,
                          void *clock_userdata, build_change_fn fn, void *userdata,
                          struct builder **ret, struct berth_error *err)
{
        struct builder *b;
        int r;

        if (max_concurrent < 1 || max_concurrent > BUILDER_CONCURRENT_MAX) {
                docker_free(docker);
                return berth_error_set(err, -EINVAL, "builder: max_concurrent %d not in 1..%d",
                                       max_concurrent, BUILDER_CONCURRENT_MAX);
        }
        if (!ops || !ops->client_new || !ops->client_free || !ops->run || !ops->interrupt) {
                docker_free(docker);
                return berth_error_set(err, -EINVAL, "builder: incomplete runner");
        }
        b = calloc(1, sizeof(*b) + (size_t)max_concurrent * sizeof(b->workers[0]));
        if (!b) {
                docker_free(docker);
                return berth_error_set(err, -ENOMEM, "builder: out of memory");
        }
        b->docker = docker;
        b->ops = ops;
        b->runner_data = runner_data;
        b->clock = clock;
        b->clock_userdata = clock_userdata;
        b->fn = fn;
        b->userdata = userdata;
        b->n_workers = max_concurrent;
        r = -pthread_mutex_init(&b->lock, NULL);
        if (r < 0) {
                berth_error_set(err, r, "builder: mutex: %s", strerror(-r));
                goto fail;
        }
        b->lock_ready = true;
        r = -pthread_cond_init(&b->cond, NULL);
        if (r < 0) {
                berth_error_set(err, r, "builder: condition variable: %s", strerror(-r));
                goto fail;
        }
        b->cond_ready = true;
        /* The first clients come now, so that a builder that cannot reach
         * its runner at all fails here rather than build after build. */
        for (int i = 0; i < max_concurrent; i++) {
                b->workers[i].builder = b;
                b->workers[i].client = ops->client_new(runner_data);
                if (!b->workers[i].client) {
                        r = berth_error_set(err, -ENOMEM,
                                            "builder: cannot make a client for the Docker engine");
                        goto fail;
                }
        }
        for (int i = 0; i < max_concurrent; i++) {
                r = -pthread_create(&b->workers[i].thread, NULL, worker_main, &b->workers[i]);
                if (r < 0) {
                        berth_error_set(err, r, "builder: cannot start thread: %s", strerror(-r));
                        goto fail;
                }
                b->workers[i].thread_started = true;
        }
        *ret = b;
        return 0;
fail:
        builder_free(b);
        return r;
}

static void *docker_client_new(void *runner_data)
{
        return docker_clone(runner_data);
}

static void docker_client_free(void *client)
{
        docker_free(client);
}

static int docker_client_run(void *client, const char *context_dir,
                             const struct docker_build_opts *opts, docker_build_progress_fn fn,
                             void *userdata, char **ret_image_id, struct berth_error *err)
{
        return docker_image_build(client, context_dir, opts, fn, userdata, ret_image_id, err);
}

static void docker_client_interrupt(void *client)
{
        docker_interrupt(client);
}

static const struct build_runner_ops docker_ops = {
    .client_new = docker_client_new,
    .client_free = docker_client_free,
    .run = docker_client_run,
    .interrupt = docker_client_interrupt,
};

int builder_new(const struct docker *d, int max_concurrent, build_change_fn fn, void *userdata,
                struct builder **ret, struct berth_error *err)
{
        struct docker *template;

        if (!d)
                return berth_error_set(err, -EINVAL, "builder: no Docker client");
        /* The workers' clients are cloned from a clone of our own: d is
         * borrowed, and interrupted clients are replaced later. */
        template = docker_clone(d);
        if (!template)
                return berth_error_set(err, -ENOMEM, "builder: out of memory");
        return builder_create(&docker_ops, template, template, max_concurrent, NULL, NULL, fn,
                              userdata, ret, err);
}

int builder_new_with_clock(const struct build_runner_ops *ops, void *runner_data,
                           int max_concurrent, builder_clock_fn clock, void *clock_userdata,
                           build_change_fn fn, void *userdata, struct builder **ret,
                           struct berth_error *err)
{
        return builder_create(ops, runner_data, NULL, max_concurrent, clock, clock_userdata, fn,
                              userdata, ret, err);
}

int builder_new_with(const struct build_runner_ops *ops, void *runner_data, int max_concurrent,
                     build_change_fn fn, void *userdata, struct builder **ret,
                     struct berth_error *err)
{
        return builder_create(ops, runner_data, NULL, max_concurrent, NULL, NULL, fn, userdata, ret,
                              err);
}

int builder_start(struct builder *b, const char *id, const char *owner_key,
                  const struct build_request *req, struct berth_error *err)
{
        _cleanup_(build_freep) struct build *job = NULL;
        int r;

        r = request_check(id, owner_key, req, err);
        if (r < 0)
                return r;
        {
                LOCK_SCOPE(&b->lock);

                if (*id_slot(b, id))
                        return 0;
        }
        /* Copied unlocked: deep copies of the args may take a while. */
        job = build_new(b, id, owner_key, req);
        if (!job)
                return berth_error_set(err, -ENOMEM, "build %s: out of memory", id);
        {
                LOCK_SCOPE(&b->lock);
                struct build **at = id_slot(b, id);

                if (*at)
                        return 0; /* started meanwhile */
                if (b->count >= BUILDER_BUILDS_MAX)
                        return berth_error_set(err, -EBUSY,
                                               "build %s: %d builds known already, none "
                                               "forgotten",
                                               id, BUILDER_BUILDS_MAX);
                *at = job;
                b->count++;
                queue_push(b, TAKE_PTR(job));
                pthread_cond_signal(&b->cond);
        }
        return 1;
}

int builder_status(struct builder *b, const char *id, struct build_status *ret)
{
        _cleanup_(build_status_release) struct build_status s = {0};
        const struct build *job;
        const char *tail;

        LOCK_SCOPE(&b->lock);
        job = id ? *id_slot(b, id) : NULL;
        if (!job) {
                *ret = (struct build_status){.state = BUILD_UNKNOWN};
                return 0;
        }
        s.state = job->state;
        s.started_ms = job->started_ms;
        s.finished_ms = job->finished_ms;
        s.log_total = job->log.total;
        tail = build_log_tail(&job->log, &s.log_len, &s.log_truncated);
        s.log = malloc(s.log_len + 1);
        if (!s.log)
                return -ENOMEM;
        memcpy(s.log, tail, s.log_len);
        s.log[s.log_len] = '\0';
        if (job->state == BUILD_SUCCEEDED && !(s.image_id = strdup(job->image_id)))
                return -ENOMEM;
        if (job->state == BUILD_FAILED && !(s.message = strdup(job->message)))
                return -ENOMEM;
        *ret = s;
        s = (struct build_status){0};
        return 0;
}

void builder_forget(struct builder *b, const char *id)
{
        LOCK_SCOPE(&b->lock);
        struct build *job;

        if (!id)
                return;
        job = *id_slot(b, id);
        if (job)
                forget_locked(b, job);
}

void builder_forget_owner(struct builder *b, const char *owner_key)
{
        LOCK_SCOPE(&b->lock);

        if (!owner_key)
                return;
        for (size_t i = 0; i < BUCKETS; i++)
                for (struct build *job = b->by_id[i], *next; job; job = next) {
                        next = job->next_by_id;
                        if (streq(job->owner_key, owner_key))
                                forget_locked(b, job);
                }
}

size_t builder_count(struct builder *b)
{
        LOCK_SCOPE(&b->lock);

        return b->count;
}
