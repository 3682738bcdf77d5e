/* Unit tests of builder: the log tail, and the builder against a fake runner
 * whose builds the test drives command by command (emit a line, many lines,
 * a long one, succeed, fail) and which counts its clients, runs and
 * interrupts. The notifications' clock is the test's. Waits are bounded and
 * driven by condition variables (the change callback, the fake's counters),
 * never by sleeps; no test asserts how long anything took. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include <cmocka.h>

#include "builder-internal.h"
#include "test-support.h"

#define WAIT_MS     10000
#define OWNER       "/berth/workflows/default/ci"
#define OTHER_OWNER "/berth/workflows/default/other"
#define MAX_CMDS    64
#define MAX_STARTS  64

/* ---- the change callback ------------------------------------------------ */

static void expect_owner(struct change_watch *w, const char *owner)
{
        char seen[CHANGE_WATCH_OWNER_MAX + 1];

        change_watch_owner(w, seen, sizeof(seen));
        assert_string_equal(seen, owner);
}

static void watch_wait(struct change_watch *w, int n)
{
        int seen = change_watch_wait(w, n, WAIT_MS);

        if (seen < n)
                fail_msg("%d of %d changes after %d ms", seen, n, WAIT_MS);
}

/* Waits until build id is in state; every state change the builder makes on
 * its own is followed by a notification. Fills *ret when not NULL. */
static void wait_state(struct change_watch *w, struct builder *b, const char *id,
                       enum build_state state, struct build_status *ret)
{
        struct build_status s = {0};
        struct timespec deadline;
        int r;

        pthread_mutex_lock(&w->lock);
        time_mono_deadline(&deadline, WAIT_MS);
        for (;;) {
                build_status_release(&s);
                r = builder_status(b, id, &s);
                if (r < 0 || s.state == state ||
                    pthread_cond_timedwait(&w->cond, &w->lock, &deadline) == ETIMEDOUT)
                        break;
        }
        pthread_mutex_unlock(&w->lock);
        assert_int_equal(r, 0);
        if (s.state != state) {
                build_status_release(&s);
                fail_msg("%s: %s, not %s after %d ms", id, build_state_to_string(s.state),
                         build_state_to_string(state), WAIT_MS);
        }
        if (ret)
                *ret = s;
        else
                build_status_release(&s);
}

/* ---- the fake runner ---------------------------------------------------- */

enum cmd_kind {
        CMD_LINE,    /* emit text */
        CMD_LINES,   /* emit n lines "text i" */
        CMD_LONG,    /* emit one line of n 'x' */
        CMD_SUCCEED, /* return 0 with text as the image id */
        CMD_FAIL,    /* return result with text as the message */
        CMD_NO_ID,   /* return 0 without an image id */
};

struct cmd {
        enum cmd_kind kind;
        char ctx[64];
        char text[256];
        int n, result;
        bool taken;
};

/* What a run was given. */
struct seen {
        char ctx[64], dockerfile[64], tags[512], args[256], labels[256];
};

struct fake {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct cmd cmds[MAX_CMDS];
        int n_cmds;
        int done; /* commands carried out */
        struct seen started[MAX_STARTS];
        int n_started;
        int running, max_running;
        int clients_made, clients_live, interrupts;
        int interrupted_runs, cancelled_runs;
        bool refuse_clients;
        bool deaf; /* runs do not notice interrupts */
        _Atomic int64_t clock;
};

struct fake_client {
        struct fake *f;
        bool interrupted; /* under f->lock */
};

static void fake_init(struct fake *f)
{
        memset(f, 0, sizeof(*f));
        pthread_mutex_init(&f->lock, NULL);
        assert_int_equal(cond_init_monotonic(&f->cond), 0);
        atomic_store(&f->clock, 1000);
}

static void fake_destroy(struct fake *f)
{
        pthread_cond_destroy(&f->cond);
        pthread_mutex_destroy(&f->lock);
}

/* No cmocka assertions in the runner's functions: they run on the builder's
 * threads (or under its lock). */
static void *fake_client_new(void *runner_data)
{
        struct fake *f = runner_data;
        struct fake_client *c;
        LOCK_SCOPE(&f->lock);

        if (f->refuse_clients)
                return NULL;
        c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->f = f;
        f->clients_made++;
        f->clients_live++;
        pthread_cond_broadcast(&f->cond);
        return c;
}

static void fake_client_free(void *client)
{
        struct fake_client *c = client;

        if (!c)
                return;
        pthread_mutex_lock(&c->f->lock);
        c->f->clients_live--;
        pthread_cond_broadcast(&c->f->cond);
        pthread_mutex_unlock(&c->f->lock);
        free(c);
}

static void fake_interrupt(void *client)
{
        struct fake_client *c = client;
        LOCK_SCOPE(&c->f->lock);

        c->interrupted = true;
        c->f->interrupts++;
        pthread_cond_broadcast(&c->f->cond);
}

static struct cmd *next_cmd(struct fake *f, const char *ctx)
{
        for (int i = 0; i < f->n_cmds; i++)
                if (!f->cmds[i].taken && streq(f->cmds[i].ctx, ctx))
                        return &f->cmds[i];
        return NULL;
}

static void json_note(char *out, size_t size, const json_t *j)
{
        _cleanup_free_ char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

        (void)str_copy(out, size, s ? s : "-");
}

static void note_run(struct fake *f, const char *ctx, const struct docker_build_opts *opts)
{
        struct seen *seen;

        if (f->n_started >= MAX_STARTS) {
                f->n_started++;
                return;
        }
        seen = &f->started[f->n_started++];
        (void)str_copy(seen->ctx, sizeof(seen->ctx), ctx);
        (void)str_copy(seen->dockerfile, sizeof(seen->dockerfile),
                       opts->dockerfile ? opts->dockerfile : "-");
        for (const char *const *t = opts->tags; t && *t; t++) {
                size_t n = strlen(seen->tags);

                (void)snprintf(seen->tags + n, sizeof(seen->tags) - n, "%s%s", n ? "," : "", *t);
        }
        json_note(seen->args, sizeof(seen->args), opts->build_args);
        json_note(seen->labels, sizeof(seen->labels), opts->labels);
}

/* Carries out the commands pushed for ctx, in order, until one ends the run. */
static int fake_run(void *client, const char *ctx, const struct docker_build_opts *opts,
                    docker_build_progress_fn fn, void *userdata, char **ret_image_id,
                    struct berth_error *err)
{
        struct fake_client *c = client;
        struct fake *f = c->f;
        int r = 0;

        pthread_mutex_lock(&f->lock);
        note_run(f, ctx, opts);
        f->running++;
        if (f->running > f->max_running)
                f->max_running = f->running;
        pthread_cond_broadcast(&f->cond);
        for (;;) {
                struct cmd *cmd, copy;
                bool stop = false, end = false;

                while (!(cmd = next_cmd(f, ctx)) && !(c->interrupted && !f->deaf))
                        pthread_cond_wait(&f->cond, &f->lock);
                if (!cmd) {
                        f->interrupted_runs++;
                        r = berth_error_set(err, -EINTR, "build: interrupted");
                        break;
                }
                cmd->taken = true;
                copy = *cmd;
                pthread_mutex_unlock(&f->lock);

                switch (copy.kind) {
                case CMD_LINE:
                        stop = fn(copy.text, userdata) != 0;
                        break;
                case CMD_LINES:
                        for (int i = 0; i < copy.n && !stop; i++) {
                                char line[300];

                                (void)snprintf(line, sizeof(line), "%s %d", copy.text, i);
                                stop = fn(line, userdata) != 0;
                        }
                        break;
                case CMD_LONG: {
                        _cleanup_free_ char *line = malloc((size_t)copy.n + 1);

                        if (line) {
                                memset(line, 'x', (size_t)copy.n);
                                line[copy.n] = '\0';
                                stop = fn(line, userdata) != 0;
                        }
                        break;
                }
                case CMD_SUCCEED:
                        *ret_image_id = strdup(copy.text);
                        end = true;
                        break;
                case CMD_FAIL:
                        r = copy.result;
                        if (copy.text[0])
                                berth_error_set(err, r, "%s", copy.text);
                        end = true;
                        break;
                case CMD_NO_ID:
                        end = true;
                        break;
                }

                pthread_mutex_lock(&f->lock);
                f->done++;
                pthread_cond_broadcast(&f->cond);
                if (stop) {
                        f->cancelled_runs++;
                        r = berth_error_set(err, -ECANCELED, "build: cancelled");
                        break;
                }
                if (end)
                        break;
        }
        f->running--;
        pthread_cond_broadcast(&f->cond);
        pthread_mutex_unlock(&f->lock);
        return r;
}

static const struct build_runner_ops fake_ops = {
    .client_new = fake_client_new,
    .client_free = fake_client_free,
    .run = fake_run,
    .interrupt = fake_interrupt,
};

static int64_t fake_clock(void *userdata)
{
        struct fake *f = userdata;

        return atomic_load(&f->clock);
}

static int fake_get(struct fake *f, const int *counter)
{
        LOCK_SCOPE(&f->lock);

        return *counter;
}

static void fake_push(struct fake *f, enum cmd_kind kind, const char *ctx, const char *text, int n)
{
        struct cmd *c;

        assert_true(fake_get(f, &f->n_cmds) < MAX_CMDS);
        pthread_mutex_lock(&f->lock);
        c = &f->cmds[f->n_cmds++];
        *c = (struct cmd){.kind = kind, .n = n, .result = n};
        (void)str_copy(c->ctx, sizeof(c->ctx), ctx);
        (void)str_copy(c->text, sizeof(c->text), text ? text : "");
        pthread_cond_broadcast(&f->cond);
        pthread_mutex_unlock(&f->lock);
}

/* Waits until *counter (a field of f) is at least n. */
static void fake_wait(struct fake *f, const int *counter, int n, const char *what)
{
        struct timespec deadline;
        int seen;

        pthread_mutex_lock(&f->lock);
        time_mono_deadline(&deadline, WAIT_MS);
        while (*counter < n)
                if (pthread_cond_timedwait(&f->cond, &f->lock, &deadline) == ETIMEDOUT)
                        break;
        seen = *counter;
        pthread_mutex_unlock(&f->lock);
        if (seen < n)
                fail_msg("%s: %d, not %d after %d ms", what, seen, n, WAIT_MS);
}

/* Waits for run i (from 0) to begin and returns what it was given. */
static struct seen expect_run(struct fake *f, int i, const char *ctx)
{
        struct seen seen;

        assert_true(i < MAX_STARTS);
        fake_wait(f, &f->n_started, i + 1, "runs started");
        pthread_mutex_lock(&f->lock);
        seen = f->started[i];
        pthread_mutex_unlock(&f->lock);
        assert_string_equal(seen.ctx, ctx);
        return seen;
}

static void expect_started(struct fake *f, int i, const char *ctx)
{
        (void)expect_run(f, i, ctx);
}

/* ---- set-up ------------------------------------------------------------- */

struct ctx {
        struct fake f;
        struct change_watch w;
        struct builder *b;
};

static int setup(void **state)
{
        struct ctx *c = calloc(1, sizeof(*c));

        if (!c)
                return -1;
        fake_init(&c->f);
        assert_int_equal(change_watch_init(&c->w), 0);
        *state = c;
        return 0;
}

/* Runs after a failed test too: then runs may still wait for commands, which
 * the interrupt of builder_free ends (deaf ones included). */
static int teardown(void **state)
{
        struct ctx *c = *state;
        int live;

        pthread_mutex_lock(&c->f.lock);
        c->f.deaf = false;
        pthread_cond_broadcast(&c->f.cond);
        pthread_mutex_unlock(&c->f.lock);
        builder_free(c->b);
        live = c->f.clients_live;
        change_watch_destroy(&c->w);
        fake_destroy(&c->f);
        free(c);
        assert_int_equal(live, 0);
        return 0;
}

/* The builder of a test, with the fake, the test's clock and the watch. */
static void ctx_start(struct ctx *c, int max_concurrent)
{
        struct berth_error err = {0};

        assert_int_equal(builder_new_with_clock(&fake_ops, &c->f, max_concurrent, fake_clock, &c->f,
                                                change_watch_fn, &c->w, &c->b, &err),
                         0);
}

/* Starts build id of owner from context dir ctx; expects it queued anew. */
static void start(struct builder *b, const char *id, const char *owner, const char *ctx)
{
        struct build_request req = {.context_dir = ctx};
        struct berth_error err = {0};

        assert_int_equal(builder_start(b, id, owner, &req, &err), 1);
}

static void expect_state(struct builder *b, const char *id, enum build_state state)
{
        struct build_status s = {0};
        enum build_state seen;

        assert_int_equal(builder_status(b, id, &s), 0);
        seen = s.state;
        build_status_release(&s);
        if (seen != state)
                fail_msg("%s: %s, not %s", id, build_state_to_string(seen),
                         build_state_to_string(state));
}

/* ---- the log tail ------------------------------------------------------- */

static void test_log(void **state)
{
        struct build_log l;
        const char *tail;
        size_t len, total = 0;
        bool truncated;
        char line[200];

        (void)state;
        build_log_init(&l);
        tail = build_log_tail(&l, &len, &truncated);
        assert_string_equal(tail, "");
        assert_int_equal(len, 0);
        assert_false(truncated);
        build_log_shrink(&l);

        /* Invalid UTF-8 becomes '?', valid sequences stay. */
        assert_int_equal(build_log_append(&l, "a\xff"
                                              "b \xc3\xa9 \xe2\x82"),
                         0);
        assert_int_equal(build_log_append(&l, ""), 0);
        tail = build_log_tail(&l, &len, &truncated);
        assert_int_equal(len, strlen("a?b \xc3\xa9 ??\n\n"));
        assert_memory_equal(tail, "a?b \xc3\xa9 ??\n\n", len);
        assert_false(truncated);
        build_log_release(&l);

        /* Past BUILDER_LOG_MAX, the tail starts at a line and ends with the
         * last one; past twice that, old lines go and memory stays bounded. */
        memset(line, 'y', sizeof(line));
        for (int i = 0; i < 6000; i++) {
                int n = snprintf(line, sizeof(line), "%05d ", i);

                line[n] = 'y';
                line[150] = '\0';
                assert_int_equal(build_log_append(&l, line), 0);
                total += 151;
                assert_true(l.cap <= 2 * (size_t)BUILDER_LOG_MAX);
        }
        assert_true(total > 2 * (size_t)BUILDER_LOG_MAX);
        assert_int_equal(l.total, total);
        tail = build_log_tail(&l, &len, &truncated);
        assert_true(truncated);
        assert_true(len <= BUILDER_LOG_MAX && len > BUILDER_LOG_MAX - 151);
        assert_int_equal(len % 151, 0);
        assert_memory_equal(tail + len - 151, "05999 ", 6);
        assert_int_equal(tail[len - 1], '\n');
        build_log_shrink(&l);
        assert_int_equal(l.len, len);
        assert_int_equal(l.cap, len);
        tail = build_log_tail(&l, &len, &truncated);
        assert_true(truncated);
        assert_memory_equal(tail + len - 151, "05999 ", 6);
        build_log_release(&l);

        /* A line past BUILDER_LINE_MAX is cut. */
        {
                _cleanup_free_ char *huge = malloc(BUILDER_LINE_MAX + 101);

                assert_non_null(huge);
                memset(huge, 'z', BUILDER_LINE_MAX + 100);
                huge[BUILDER_LINE_MAX + 100] = '\0';
                assert_int_equal(build_log_append(&l, huge), 0);
                tail = build_log_tail(&l, &len, &truncated);
                assert_int_equal(len, BUILDER_LINE_MAX + 1);
                assert_int_equal(tail[len - 1], '\n');
                assert_false(truncated);
                build_log_release(&l);
        }
}

/* ---- the builder -------------------------------------------------------- */

static void test_arguments(void **state)
{
        struct ctx *c = *state;
        struct fake *f = &c->f;
        struct builder *b = NULL;
        struct berth_error err = {0};
        struct build_runner_ops partial = fake_ops;

        builder_free(NULL);
        build_status_release(NULL);
        assert_string_equal(build_state_to_string(BUILD_UNKNOWN), "Unknown");
        assert_string_equal(build_state_to_string(BUILD_QUEUED), "Queued");
        assert_string_equal(build_state_to_string(BUILD_RUNNING), "Running");
        assert_string_equal(build_state_to_string(BUILD_SUCCEEDED), "Succeeded");
        assert_string_equal(build_state_to_string(BUILD_FAILED), "Failed");
        assert_string_equal(build_state_to_string((enum build_state)42), "Unknown");

        assert_int_equal(builder_new_with(&fake_ops, f, 0, NULL, NULL, &b, &err), -EINVAL);
        assert_int_equal(
            builder_new_with(&fake_ops, f, BUILDER_CONCURRENT_MAX + 1, NULL, NULL, &b, &err),
            -EINVAL);
        assert_non_null(strstr(err.message, "max_concurrent"));
        partial.interrupt = NULL;
        assert_int_equal(builder_new_with(&partial, f, 1, NULL, NULL, &b, &err), -EINVAL);
        assert_int_equal(builder_new(NULL, 1, NULL, NULL, &b, &err), -EINVAL);
        assert_null(b);

        /* A runner without clients: nothing starts, nothing leaks. */
        f->refuse_clients = true;
        assert_int_equal(builder_new_with(&fake_ops, f, 3, NULL, NULL, &b, &err), -ENOMEM);
        assert_null(b);
        f->refuse_clients = false;

        /* fn may be NULL. */
        assert_int_equal(builder_new_with(&fake_ops, f, 4, NULL, NULL, &c->b, &err), 0);
        assert_int_equal(fake_get(f, &f->clients_made), 4);
        start(c->b, "wf/a", OWNER, "/ctx/a");
        expect_started(f, 0, "/ctx/a");
        fake_push(f, CMD_LINE, "/ctx/a", "hello", 0);
        fake_push(f, CMD_SUCCEED, "/ctx/a", "sha256:a", 0);
        fake_wait(f, &f->done, 2, "commands done");
        builder_free(c->b);
        c->b = NULL;
        assert_int_equal(f->clients_live, 0);
}

static void test_build_succeeds(void **state)
{
        struct ctx *c = *state;
        struct berth_error err = {0};
        struct build_status s = {0};
        _cleanup_json_ json_t *args = json_pack("{s:s}", "VERSION", "1.2");
        _cleanup_json_ json_t *labels = json_pack("{s:s}", "berth.workflow", "ci");
        char **tags = calloc(3, sizeof(*tags));
        struct build_request req = {.context_dir = "/ctx/a", .dockerfile = "build/Dockerfile"};
        struct seen seen;

        assert_non_null(tags);
        tags[0] = strdup("ci:latest");
        tags[1] = strdup("ci:1.2");
        assert_true(tags[0] && tags[1]);
        req.tags = (const char *const *)tags;
        req.build_args = args;
        req.labels = labels;
        ctx_start(c, 1);

        assert_int_equal(builder_start(c->b, "wf/a", OWNER, &req, &err), 1);
        /* Everything was copied. */
        strv_free(tags);
        json_object_set_new(args, "VERSION", json_string("changed"));
        json_object_clear(labels);
        seen = expect_run(&c->f, 0, "/ctx/a");
        assert_string_equal(seen.dockerfile, "build/Dockerfile");
        assert_string_equal(seen.tags, "ci:latest,ci:1.2");
        assert_string_equal(seen.args, "{\"VERSION\":\"1.2\"}");
        assert_string_equal(seen.labels, "{\"berth.workflow\":\"ci\"}");
        /* The start was announced before the run began. */
        assert_int_equal(change_watch_count(&c->w), 1);
        expect_owner(&c->w, OWNER);

        assert_int_equal(builder_status(c->b, "wf/a", &s), 0);
        assert_int_equal(s.state, BUILD_RUNNING);
        assert_true(s.started_ms > 0);
        assert_int_equal(s.finished_ms, 0);
        assert_null(s.image_id);
        assert_null(s.message);
        assert_string_equal(s.log, "");
        assert_false(s.log_truncated);
        build_status_release(&s);

        /* Known: nothing changes, whatever the request. */
        req = (struct build_request){.context_dir = "/elsewhere"};
        assert_int_equal(builder_start(c->b, "wf/a", OTHER_OWNER, &req, &err), 0);
        assert_int_equal(builder_count(c->b), 1);

        fake_push(&c->f, CMD_LINE, "/ctx/a", "Step 1/2 : FROM busybox", 0);
        fake_push(&c->f, CMD_LINE, "/ctx/a", "Step 2/2 : RUN true", 0);
        fake_wait(&c->f, &c->f.done, 2, "commands done");
        assert_int_equal(builder_status(c->b, "wf/a", &s), 0);
        assert_int_equal(s.state, BUILD_RUNNING);
        assert_string_equal(s.log, "Step 1/2 : FROM busybox\nStep 2/2 : RUN true\n");
        assert_int_equal(s.log_len, strlen(s.log));
        assert_int_equal(s.log_total, s.log_len);
        build_status_release(&s);

        fake_push(&c->f, CMD_SUCCEED, "/ctx/a", "sha256:0123", 0);
        wait_state(&c->w, c->b, "wf/a", BUILD_SUCCEEDED, &s);
        assert_string_equal(s.image_id, "sha256:0123");
        assert_null(s.message);
        assert_true(s.finished_ms >= s.started_ms);
        assert_string_equal(s.log, "Step 1/2 : FROM busybox\nStep 2/2 : RUN true\n");
        build_status_release(&s);
        watch_wait(&c->w, 2);
        expect_owner(&c->w, OWNER);

        /* Finished and not forgotten: still known, not built again; the next
         * build runs next on the one worker. */
        assert_int_equal(builder_start(c->b, "wf/a", OWNER, &req, &err), 0);
        start(c->b, "wf/b", OWNER, "/ctx/b");
        seen = expect_run(&c->f, 1, "/ctx/b");
        assert_string_equal(seen.dockerfile, "-");
        assert_string_equal(seen.tags, "");
        assert_string_equal(seen.args, "-");
        assert_string_equal(seen.labels, "-");
        expect_state(c->b, "wf/a", BUILD_SUCCEEDED);
        assert_int_equal(builder_count(c->b), 2);
        fake_push(&c->f, CMD_SUCCEED, "/ctx/b", "sha256:b", 0);
        wait_state(&c->w, c->b, "wf/b", BUILD_SUCCEEDED, NULL);
}

static void test_fifo(void **state)
{
        struct ctx *c = *state;
        struct build_status s = {0};

        ctx_start(c, 2);
        start(c->b, "wf/a", OWNER, "/ctx/a");
        start(c->b, "wf/b", OWNER, "/ctx/b");
        fake_wait(&c->f, &c->f.running, 2, "runs");
        start(c->b, "wf/c", OWNER, "/ctx/c");
        start(c->b, "wf/d", OWNER, "/ctx/d");
        assert_int_equal(builder_count(c->b), 4);
        assert_int_equal(builder_status(c->b, "wf/c", &s), 0);
        assert_int_equal(s.state, BUILD_QUEUED);
        assert_int_equal(s.started_ms, 0);
        assert_string_equal(s.log, "");
        build_status_release(&s);
        expect_state(c->b, "wf/d", BUILD_QUEUED);

        /* The first queued takes the first free worker. */
        fake_push(&c->f, CMD_SUCCEED, "/ctx/b", "sha256:b", 0);
        expect_started(&c->f, 2, "/ctx/c");
        expect_state(c->b, "wf/d", BUILD_QUEUED);
        fake_push(&c->f, CMD_SUCCEED, "/ctx/a", "sha256:a", 0);
        expect_started(&c->f, 3, "/ctx/d");
        fake_push(&c->f, CMD_SUCCEED, "/ctx/c", "sha256:c", 0);
        fake_push(&c->f, CMD_SUCCEED, "/ctx/d", "sha256:d", 0);
        wait_state(&c->w, c->b, "wf/d", BUILD_SUCCEEDED, NULL);
        wait_state(&c->w, c->b, "wf/c", BUILD_SUCCEEDED, NULL);
        expect_state(c->b, "wf/a", BUILD_SUCCEEDED);
        expect_state(c->b, "wf/b", BUILD_SUCCEEDED);
        assert_int_equal(fake_get(&c->f, &c->f.max_running), 2);
        /* Runs of the fake that began: one per build, none repeated. */
        assert_int_equal(fake_get(&c->f, &c->f.n_started), 4);
}

static void test_failures(void **state)
{
        struct ctx *c = *state;
        struct build_status s = {0};
        const char *why = "build: The command '/bin/sh -c exit 3' returned a non-zero code: 3";

        ctx_start(c, 3);
        start(c->b, "wf/a", OWNER, "/ctx/a");
        start(c->b, "wf/b", OWNER, "/ctx/b");
        start(c->b, "wf/c", OWNER, "/ctx/c");
        fake_push(&c->f, CMD_LINE, "/ctx/a", "Step 1/1 : RUN exit 3", 0);
        fake_push(&c->f, CMD_FAIL, "/ctx/a", why, -EIO);
        fake_push(&c->f, CMD_FAIL, "/ctx/b", NULL, -ECONNREFUSED);
        fake_push(&c->f, CMD_NO_ID, "/ctx/c", NULL, 0);

        wait_state(&c->w, c->b, "wf/a", BUILD_FAILED, &s);
        assert_string_equal(s.message, why);
        assert_null(s.image_id);
        assert_string_equal(s.log, "Step 1/1 : RUN exit 3\n");
        assert_true(s.finished_ms > 0);
        build_status_release(&s);

        /* Without a message from the runner, the errno says why. */
        wait_state(&c->w, c->b, "wf/b", BUILD_FAILED, &s);
        assert_string_equal(s.message, "build: Connection refused");
        build_status_release(&s);

        wait_state(&c->w, c->b, "wf/c", BUILD_FAILED, &s);
        assert_non_null(strstr(s.message, "no image id"));
        assert_null(s.image_id);
        build_status_release(&s);
}

static void test_log_capture(void **state)
{
        struct ctx *c = *state;
        struct build_status s = {0};

        ctx_start(c, 1);
        start(c->b, "wf/a", OWNER, "/ctx/a");
        fake_push(&c->f, CMD_LINES, "/ctx/a", "a line of output that is long enough to fill",
                  12000);
        fake_push(&c->f, CMD_LONG, "/ctx/a", NULL, BUILDER_LINE_MAX + 10);
        fake_push(&c->f, CMD_LINE, "/ctx/a", "the \xff end", 0);
        fake_wait(&c->f, &c->f.done, 3, "commands done");

        assert_int_equal(builder_status(c->b, "wf/a", &s), 0);
        assert_true(s.log_truncated);
        assert_true(s.log_len <= BUILDER_LOG_MAX);
        assert_int_equal(s.log_len, strlen(s.log));
        /* The tail starts at a line and ends with the last ones. */
        assert_true(str_has_prefix(s.log, "a line of output that is long enough to fill "));
        assert_true(str_has_suffix(s.log, "xxx\nthe ? end\n"));
        assert_non_null(strstr(s.log, " 11999\nxxx"));
        {
                const char *long_line = strstr(s.log, " 11999\n") + 7;

                assert_int_equal(strchr(long_line, '\n') - long_line, BUILDER_LINE_MAX);
        }
        assert_true(s.log_total > BUILDER_LOG_MAX * 2);
        build_status_release(&s);

        fake_push(&c->f, CMD_SUCCEED, "/ctx/a", "sha256:a", 0);
        wait_state(&c->w, c->b, "wf/a", BUILD_SUCCEEDED, &s);
        assert_true(s.log_truncated);
        assert_true(str_has_suffix(s.log, "xxx\nthe ? end\n"));
        assert_true(str_has_prefix(s.log, "a line of output that is long enough to fill "));
        build_status_release(&s);
}

/* Output is announced at most once per BUILDER_NOTIFY_MS, counted from the
 * start and then from the previous announcement; the finish always is. */
static void test_notify_rate_limit(void **state)
{
        struct ctx *c = *state;
        struct build_status s = {0};
        int done = 0;

        ctx_start(c, 1);
        start(c->b, "wf/a", OWNER, "/ctx/a");
        expect_started(&c->f, 0, "/ctx/a");
        assert_int_equal(change_watch_count(&c->w), 1); /* the start */

#define LINE_AT(t, expected_changes)                                                               \
        do {                                                                                       \
                atomic_store(&c->f.clock, (t));                                                    \
                fake_push(&c->f, CMD_LINE, "/ctx/a", "line at " #t, 0);                            \
                fake_wait(&c->f, &c->f.done, ++done, "commands done");                             \
                assert_int_equal(change_watch_count(&c->w), (expected_changes));                   \
        } while (0)

        LINE_AT(1000, 1);
        LINE_AT(2999, 1);
        LINE_AT(3000, 2);
        LINE_AT(3000, 2);
        LINE_AT(4999, 2);
        LINE_AT(5000, 3);
        LINE_AT(20000, 4);
        LINE_AT(20001, 4);
#undef LINE_AT
        /* Every line is in the log, announced or not. */
        assert_int_equal(builder_status(c->b, "wf/a", &s), 0);
        assert_non_null(strstr(s.log, "line at 20001\n"));
        assert_non_null(strstr(s.log, "line at 2999\n"));
        build_status_release(&s);

        fake_push(&c->f, CMD_SUCCEED, "/ctx/a", "sha256:a", 0);
        watch_wait(&c->w, 5);
        expect_state(c->b, "wf/a", BUILD_SUCCEEDED);

        /* A queued build's start is announced when it leaves the queue. */
        start(c->b, "wf/b", OWNER, "/ctx/b");
        expect_started(&c->f, 1, "/ctx/b");
        assert_int_equal(change_watch_count(&c->w), 6);
        fake_push(&c->f, CMD_SUCCEED, "/ctx/b", "sha256:b", 0);
        watch_wait(&c->w, 7);
}

static void test_forget(void **state)
{
        struct ctx *c = *state;
        struct build_status s = {0};
        int changes;

        ctx_start(c, 1);
        builder_forget(c->b, "wf/none");
        builder_forget(c->b, NULL);
        assert_int_equal(builder_status(c->b, "wf/none", &s), 0);
        assert_int_equal(s.state, BUILD_UNKNOWN);
        assert_null(s.log);
        assert_null(s.image_id);
        assert_null(s.message);

        /* A finished build. */
        start(c->b, "wf/a", OWNER, "/ctx/a");
        fake_push(&c->f, CMD_SUCCEED, "/ctx/a", "sha256:a", 0);
        wait_state(&c->w, c->b, "wf/a", BUILD_SUCCEEDED, NULL);
        builder_forget(c->b, "wf/a");
        expect_state(c->b, "wf/a", BUILD_UNKNOWN);
        assert_int_equal(builder_count(c->b), 0);

        /* A queued one never runs. */
        start(c->b, "wf/b", OWNER, "/ctx/b");
        expect_started(&c->f, 1, "/ctx/b");
        start(c->b, "wf/c", OWNER, "/ctx/c");
        builder_forget(c->b, "wf/c");
        expect_state(c->b, "wf/c", BUILD_UNKNOWN);
        start(c->b, "wf/d", OWNER, "/ctx/d");
        fake_push(&c->f, CMD_SUCCEED, "/ctx/b", "sha256:b", 0);
        expect_started(&c->f, 2, "/ctx/d");

        /* A running one is interrupted; its worker gets a new client, and
         * the end of the forgotten build is not announced. */
        changes = change_watch_count(&c->w);
        builder_forget(c->b, "wf/d");
        expect_state(c->b, "wf/d", BUILD_UNKNOWN);
        fake_wait(&c->f, &c->f.interrupted_runs, 1, "interrupted runs");
        fake_wait(&c->f, &c->f.clients_made, 2, "clients made");
        assert_int_equal(fake_get(&c->f, &c->f.interrupts), 1);
        assert_int_equal(fake_get(&c->f, &c->f.clients_live), 1);
        assert_int_equal(change_watch_count(&c->w), changes);
        assert_int_equal(builder_count(c->b), 1); /* wf/b */

        /* Its id is free again: a new build of it runs on the new client. */
        start(c->b, "wf/d", OWNER, "/ctx/d");
        expect_started(&c->f, 3, "/ctx/d");
        fake_push(&c->f, CMD_SUCCEED, "/ctx/d", "sha256:d2", 0);
        wait_state(&c->w, c->b, "wf/d", BUILD_SUCCEEDED, &s);
        assert_string_equal(s.image_id, "sha256:d2");
        build_status_release(&s);
}

/* A runner that does not notice the interrupt: the next line of output
 * abandons the forgotten build. */
static void test_forget_abandons_on_output(void **state)
{
        struct ctx *c = *state;

        ctx_start(c, 1);
        pthread_mutex_lock(&c->f.lock);
        c->f.deaf = true;
        pthread_mutex_unlock(&c->f.lock);
        start(c->b, "wf/a", OWNER, "/ctx/a");
        expect_started(&c->f, 0, "/ctx/a");
        builder_forget(c->b, "wf/a");
        fake_push(&c->f, CMD_LINE, "/ctx/a", "still going", 0);
        fake_wait(&c->f, &c->f.cancelled_runs, 1, "cancelled runs");
        fake_wait(&c->f, &c->f.clients_made, 2, "clients made");
        assert_int_equal(builder_count(c->b), 0);
}

static void test_forget_owner(void **state)
{
        struct ctx *c = *state;

        ctx_start(c, 1);
        start(c->b, "wf/a1", OWNER, "/ctx/a1");
        expect_started(&c->f, 0, "/ctx/a1");
        start(c->b, "wf/a2", OWNER, "/ctx/a2");
        start(c->b, "wf/b1", OTHER_OWNER, "/ctx/b1");
        assert_int_equal(builder_count(c->b), 3);
        builder_forget_owner(c->b, OWNER);
        builder_forget_owner(c->b, NULL);
        assert_int_equal(builder_count(c->b), 1);
        expect_state(c->b, "wf/a1", BUILD_UNKNOWN);
        expect_state(c->b, "wf/a2", BUILD_UNKNOWN);
        /* a1 was interrupted; b1 is next, a2 never runs. */
        expect_started(&c->f, 1, "/ctx/b1");
        assert_int_equal(fake_get(&c->f, &c->f.interrupted_runs), 1);
        fake_push(&c->f, CMD_SUCCEED, "/ctx/b1", "sha256:b1", 0);
        wait_state(&c->w, c->b, "wf/b1", BUILD_SUCCEEDED, NULL);
        expect_owner(&c->w, OTHER_OWNER);
}

static void test_free_while_running(void **state)
{
        struct ctx *c = *state;
        int changes;

        ctx_start(c, 2);
        start(c->b, "wf/a", OWNER, "/ctx/a");
        start(c->b, "wf/b", OWNER, "/ctx/b");
        start(c->b, "wf/c", OWNER, "/ctx/c");
        fake_wait(&c->f, &c->f.running, 2, "runs");
        fake_push(&c->f, CMD_LINE, "/ctx/a", "working", 0);
        fake_wait(&c->f, &c->f.done, 1, "commands done");
        changes = change_watch_count(&c->w);
        builder_free(c->b);
        c->b = NULL;
        /* Both runs saw the interrupt and returned; the queued one never ran;
         * nothing was announced; every client is gone. */
        assert_int_equal(c->f.interrupted_runs, 2);
        assert_int_equal(c->f.interrupts, 2);
        assert_int_equal(c->f.running, 0);
        assert_int_equal(c->f.n_started, 2);
        assert_int_equal(change_watch_count(&c->w), changes);
}

static void test_limits(void **state)
{
        struct ctx *c = *state;
        struct berth_error err = {0};
        struct build_request req = {.context_dir = "/ctx/x"};
        char id[BUILDER_ID_MAX + 2];
        char owner[BUILDER_OWNER_KEY_MAX + 2];
        const char *tags[BUILDER_TAGS_MAX + 2];
        _cleanup_json_ json_t *bad_args = json_pack("{s:i}", "N", 1);
        _cleanup_json_ json_t *not_object = json_pack("[s]", "x");
        struct seen seen;

        ctx_start(c, 1);

        /* Bad ids, owners and requests. */
        assert_int_equal(builder_start(c->b, "", OWNER, &req, &err), -EINVAL);
        assert_int_equal(builder_start(c->b, NULL, OWNER, &req, &err), -EINVAL);
        memset(id, 'i', sizeof(id) - 1);
        id[sizeof(id) - 1] = '\0';
        assert_int_equal(builder_start(c->b, id, OWNER, &req, &err), -EINVAL);
        assert_non_null(strstr(err.message, "id"));
        id[BUILDER_ID_MAX] = '\0';
        assert_int_equal(builder_start(c->b, "wf/x", "", &req, &err), -EINVAL);
        memset(owner, 'o', sizeof(owner) - 1);
        owner[sizeof(owner) - 1] = '\0';
        assert_int_equal(builder_start(c->b, "wf/x", owner, &req, &err), -EINVAL);
        owner[BUILDER_OWNER_KEY_MAX] = '\0';
        assert_int_equal(builder_start(c->b, "wf/x", OWNER, NULL, &err), -EINVAL);
        req.context_dir = "ctx/relative";
        assert_int_equal(builder_start(c->b, "wf/x", OWNER, &req, &err), -EINVAL);
        assert_non_null(strstr(err.message, "absolute"));
        req.context_dir = NULL;
        assert_int_equal(builder_start(c->b, "wf/x", OWNER, &req, &err), -EINVAL);
        req.context_dir = "/ctx/x";
        req.dockerfile = "";
        assert_int_equal(builder_start(c->b, "wf/x", OWNER, &req, &err), -EINVAL);
        req.dockerfile = NULL;
        for (int i = 0; i < BUILDER_TAGS_MAX + 1; i++)
                tags[i] = "x:1";
        tags[BUILDER_TAGS_MAX + 1] = NULL;
        req.tags = tags;
        assert_int_equal(builder_start(c->b, "wf/x", OWNER, &req, &err), -EINVAL);
        tags[BUILDER_TAGS_MAX] = NULL;
        tags[3] = "";
        assert_int_equal(builder_start(c->b, "wf/x", OWNER, &req, &err), -EINVAL);
        tags[3] = "x:1";
        req.build_args = bad_args;
        assert_int_equal(builder_start(c->b, "wf/x", OWNER, &req, &err), -EINVAL);
        assert_non_null(strstr(err.message, "objects of strings"));
        req.build_args = NULL;
        req.labels = not_object;
        assert_int_equal(builder_start(c->b, "wf/x", OWNER, &req, &err), -EINVAL);
        req.labels = NULL;
        assert_int_equal(builder_count(c->b), 0);

        /* The longest id and owner key, and BUILDER_TAGS_MAX tags, are fine;
         * then BUILDER_BUILDS_MAX builds in all. */
        assert_int_equal(builder_start(c->b, id, owner, &req, &err), 1);
        seen = expect_run(&c->f, 0, "/ctx/x");
        assert_int_equal(strlen(seen.tags), BUILDER_TAGS_MAX * strlen("x:1,") - 1);
        for (int i = 1; i < BUILDER_BUILDS_MAX; i++) {
                char n[32];

                (void)snprintf(n, sizeof(n), "wf/%d", i);
                assert_int_equal(builder_start(c->b, n, OWNER, &req, &err), 1);
        }
        assert_int_equal(builder_count(c->b), BUILDER_BUILDS_MAX);
        assert_int_equal(builder_start(c->b, "wf/one-more", OWNER, &req, &err), -EBUSY);
        assert_non_null(strstr(err.message, "wf/one-more"));
        /* Known ones are still fine. */
        assert_int_equal(builder_start(c->b, "wf/7", OWNER, &req, &err), 0);
        builder_forget(c->b, "wf/7");
        assert_int_equal(builder_start(c->b, "wf/one-more", OWNER, &req, &err), 1);
        assert_int_equal(builder_count(c->b), BUILDER_BUILDS_MAX);
        /* Freed with one running and the rest queued. */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_log),
            cmocka_unit_test_setup_teardown(test_arguments, setup, teardown),
            cmocka_unit_test_setup_teardown(test_build_succeeds, setup, teardown),
            cmocka_unit_test_setup_teardown(test_fifo, setup, teardown),
            cmocka_unit_test_setup_teardown(test_failures, setup, teardown),
            cmocka_unit_test_setup_teardown(test_log_capture, setup, teardown),
            cmocka_unit_test_setup_teardown(test_notify_rate_limit, setup, teardown),
            cmocka_unit_test_setup_teardown(test_forget, setup, teardown),
            cmocka_unit_test_setup_teardown(test_forget_abandons_on_output, setup, teardown),
            cmocka_unit_test_setup_teardown(test_forget_owner, setup, teardown),
            cmocka_unit_test_setup_teardown(test_free_while_running, setup, teardown),
            cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
