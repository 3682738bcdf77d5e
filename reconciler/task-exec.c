/* task-exec.c: the docker-exec executor's runner — a Task's command run
 * inside an existing container through the Engine API's exec endpoints.
 *
 * Each attempt's exec is started attached on a thread of its own (with its
 * own Docker client): the thread reads the output until the command ends,
 * inspects the exec for its exit code, then calls back with the Task's key.
 * The reconciler only starts, observes, signals and forgets; no call here
 * waits for the command.
 *
 * Signals reach the whole process tree: every exec runs with the environment
 * variable EXEC_TOKEN_VAR=<uid>.<attempt>, inherited by whatever it starts,
 * and a signal is a second, short exec (as root) that signals every process
 * of the container whose environment holds that token. Needs sh, tr and grep
 * in the container (busybox has them). A process that clears its
 * environment escapes it.
 */
#include <pthread.h>

#include "reconciler-internal.h"

#define EXEC_TOKEN_VAR "BERTH_EXEC"

/* Signals every process carrying the token ($2) with signal $1 ("TERM"). */
static const char kill_script[] =
    "tok=\"" EXEC_TOKEN_VAR "=$2\"; for d in /proc/[0-9]*; do p=${d#/proc/}; "
    "[ \"$p\" = \"$$\" ] && continue; "
    "if tr '\\0' '\\n' < \"$d/environ\" 2>/dev/null | grep -qxF \"$tok\"; then "
    "kill -s \"$1\" \"$p\" 2>/dev/null; fi; done; exit 0";

struct exec_entry {
        struct exec_entry *next;
        struct exec_runner *runner;
        char uid[64];
        char key[EXEC_KEY_MAX];
        int attempt;
        char container_id[80];
        char exec_id[80];
        char token[96];
        struct docker *docker; /* the thread's */
        pthread_t thread;
        bool thread_started;
        /* under runner->lock: */
        bool ended;
        bool exit_known;
        int exit_code;
        int64_t started_ms, finished_ms;
        struct buf out;
        bool truncated;
        char error[256];
};

struct exec_runner {
        pthread_mutex_t lock;
        struct exec_entry *entries;
        size_t n_entries;
        exec_change_fn changed;
        void *userdata;
        int64_t (*now_ms)(void);
};

int exec_runner_new(exec_change_fn changed, void *userdata, struct exec_runner **ret)
{
        struct exec_runner *r = calloc(1, sizeof(*r));

        if (!r)
                return -ENOMEM;
        pthread_mutex_init(&r->lock, NULL);
        r->changed = changed;
        r->userdata = userdata;
        r->now_ms = time_now_ms;
        *ret = r;
        return 0;
}

static void entry_free(struct exec_entry *e)
{
        if (e->thread_started) {
                docker_interrupt(e->docker);
                pthread_join(e->thread, NULL);
        }
        docker_free(e->docker);
        buf_release(&e->out);
        free(e);
}

void exec_runner_free(struct exec_runner *r)
{
        if (!r)
                return;
        struct exec_entry *e = r->entries;
        while (e) {
                struct exec_entry *next = e->next;
                entry_free(e);
                e = next;
        }
        pthread_mutex_destroy(&r->lock);
        free(r);
}

static struct exec_entry *find(struct exec_runner *r, const char *uid)
{
        for (struct exec_entry *e = r->entries; e; e = e->next)
                if (streq(e->uid, uid))
                        return e;
        return NULL;
}

/* Keeps the last EXEC_LOG_MAX bytes: a chatty command cannot grow berthd. */
static int on_output(enum docker_stream stream, const char *data, size_t len, void *userdata)
{
        struct exec_entry *e = userdata;
        (void)stream;

        LOCK_SCOPE(&e->runner->lock);
        if (len > EXEC_LOG_MAX) {
                data += len - EXEC_LOG_MAX;
                len = EXEC_LOG_MAX;
        }
        if (e->out.len + len > EXEC_LOG_MAX) {
                buf_consume(&e->out, e->out.len + len - EXEC_LOG_MAX);
                e->truncated = true;
        }
        (void)buf_append(&e->out, data, len);
        return 0;
}

static void *exec_thread(void *arg)
{
        struct exec_entry *e = arg;
        struct exec_runner *r = e->runner;
        struct berth_error err = {0};
        struct docker_exec_info info = {0};
        int rc = docker_exec_start(e->docker, e->exec_id, on_output, e, &err);

        if (rc == -EINTR) /* berthd stops, or the Task is forgotten */
                return NULL;
        if (rc == 0)
                rc = docker_exec_inspect(e->docker, e->exec_id, &info, &err);
        pthread_mutex_lock(&r->lock);
        e->ended = true;
        e->finished_ms = r->now_ms();
        if (rc == 0 && info.exit_known) {
                e->exit_known = true;
                e->exit_code = info.exit_code;
        } else {
                /* The stream broke: what became of the command is unknown,
                 * which the Task reads as a failed attempt (exit code -1). */
                e->exit_known = true;
                e->exit_code = -1;
                (void)str_copy(e->error, sizeof(e->error), err.message);
        }
        pthread_mutex_unlock(&r->lock);
        if (r->changed)
                r->changed(e->key, r->userdata);
        return NULL;
}

int exec_runner_start(struct exec_runner *r, struct docker *d, const struct exec_request *req,
                      struct berth_error *err)
{
        pthread_mutex_lock(&r->lock);
        struct exec_entry *old = find(r, req->uid);
        bool same = old && old->attempt == req->attempt;
        size_t n = r->n_entries;
        pthread_mutex_unlock(&r->lock);
        if (same) /* idempotent: this attempt runs already */
                return 0;
        if (old)
                exec_runner_forget(r, req->uid);
        if (n >= EXEC_RUNS_MAX)
                return berth_error_set(err, -ENOSPC, "docker-exec: %d execs are known already",
                                       EXEC_RUNS_MAX);

        struct exec_entry *e = calloc(1, sizeof(*e));
        if (!e)
                return berth_error_set(err, -ENOMEM, "out of memory");
        e->runner = r;
        e->attempt = req->attempt;
        buf_init(&e->out, EXEC_LOG_MAX);
        if (str_copy(e->uid, sizeof(e->uid), req->uid) < 0 ||
            str_copy(e->key, sizeof(e->key), req->key) < 0 ||
            str_copy(e->container_id, sizeof(e->container_id), req->container_id) < 0) {
                entry_free(e);
                return berth_error_set(err, -ENAMETOOLONG, "docker-exec: key or id too long");
        }
        snprintf(e->token, sizeof(e->token), "%s.%d", req->uid, req->attempt);

        _cleanup_json_ json_t *env = json_array();
        _cleanup_free_ char *tokvar = str_printf("%s=%s", EXEC_TOKEN_VAR, e->token);
        if (!env || !tokvar || json_array_append_new(env, json_string(tokvar)) < 0) {
                entry_free(e);
                return berth_error_set(err, -ENOMEM, "out of memory");
        }
        for (size_t i = 0; req->env && req->env[i]; i++)
                if (json_array_append_new(env, json_string(req->env[i])) < 0) {
                        entry_free(e);
                        return berth_error_set(err, -ENOMEM, "out of memory");
                }
        _cleanup_json_ json_t *body =
            json_pack("{s:O, s:O, s:b, s:b, s:b}", "Cmd", req->cmd, "Env", env, "AttachStdout", 1,
                      "AttachStderr", 1, "AttachStdin", 0);
        if (!body || (req->user && json_object_set_new(body, "User", json_string(req->user)) < 0) ||
            (req->working_dir &&
             json_object_set_new(body, "WorkingDir", json_string(req->working_dir)) < 0)) {
                entry_free(e);
                return berth_error_set(err, -ENOMEM, "out of memory");
        }
        _cleanup_free_ char *id = NULL;
        int rc = docker_exec_create(d, req->container_id, body, &id, err);
        if (rc < 0 || str_copy(e->exec_id, sizeof(e->exec_id), id) < 0) {
                entry_free(e);
                return rc < 0 ? rc : berth_error_set(err, -EPROTO, "docker-exec: odd exec id");
        }
        e->docker = docker_clone(d);
        if (!e->docker) {
                entry_free(e);
                return berth_error_set(err, -ENOMEM, "out of memory");
        }
        e->started_ms = r->now_ms();
        pthread_mutex_lock(&r->lock);
        e->next = r->entries;
        r->entries = e;
        r->n_entries++;
        rc = pthread_create(&e->thread, NULL, exec_thread, e);
        e->thread_started = rc == 0;
        if (rc != 0) {
                e->ended = true;
                e->exit_known = true;
                e->exit_code = -1;
                snprintf(e->error, sizeof(e->error), "start exec thread: %s", strerror(rc));
        }
        pthread_mutex_unlock(&r->lock);
        return 0;
}

int exec_runner_observe(struct exec_runner *r, const char *uid, struct exec_observed *ret)
{
        LOCK_SCOPE(&r->lock);
        struct exec_entry *e = find(r, uid);

        if (!e)
                return -ENOENT;
        *ret = (struct exec_observed){
            .attempt = e->attempt,
            .ended = e->ended,
            .exit_code = e->exit_code,
            .started_ms = e->started_ms,
            .finished_ms = e->finished_ms,
        };
        (void)str_copy(ret->exec_id, sizeof(ret->exec_id), e->exec_id);
        (void)str_copy(ret->container_id, sizeof(ret->container_id), e->container_id);
        (void)str_copy(ret->token, sizeof(ret->token), e->token);
        (void)str_copy(ret->error, sizeof(ret->error), e->error);
        return 0;
}

static int kill_output(enum docker_stream stream, const char *data, size_t len, void *userdata)
{
        (void)stream, (void)data, (void)len, (void)userdata;
        return 0;
}

int exec_runner_signal(struct exec_runner *r, struct docker *d, const char *uid, const char *signal,
                       struct berth_error *err)
{
        struct exec_observed o;

        if (exec_runner_observe(r, uid, &o) < 0 || o.ended)
                return 0;
        const char *sig = signal ? signal : "SIGKILL";
        if (strncmp(sig, "SIG", 3) == 0)
                sig += 3;
        _cleanup_json_ json_t *body =
            json_pack("{s:[s,s,s,s,s,s], s:s, s:b, s:b}", "Cmd", "sh", "-c", kill_script, "sh", sig,
                      o.token, "User", "0", "AttachStdout", 1, "AttachStderr", 1);
        _cleanup_free_ char *id = NULL;
        if (!body)
                return berth_error_set(err, -ENOMEM, "out of memory");
        int rc = docker_exec_create(d, o.container_id, body, &id, err);
        if (rc == -ENOENT || rc == -EBUSY) /* the container is gone or stopped: so is the exec */
                return 0;
        if (rc < 0)
                return rc;
        return docker_exec_start(d, id, kill_output, NULL, err);
}

void exec_runner_forget(struct exec_runner *r, const char *uid)
{
        pthread_mutex_lock(&r->lock);
        struct exec_entry **p = &r->entries, *e = NULL;
        for (; *p; p = &(*p)->next)
                if (streq((*p)->uid, uid)) {
                        e = *p;
                        *p = e->next;
                        r->n_entries--;
                        break;
                }
        pthread_mutex_unlock(&r->lock);
        if (e)
                entry_free(e);
}

void exec_runner_forget_key(struct exec_runner *r, const char *key)
{
        for (;;) {
                char uid[64] = "";
                pthread_mutex_lock(&r->lock);
                for (struct exec_entry *e = r->entries; e; e = e->next)
                        if (streq(e->key, key)) {
                                (void)str_copy(uid, sizeof(uid), e->uid);
                                break;
                        }
                pthread_mutex_unlock(&r->lock);
                if (!uid[0])
                        return;
                exec_runner_forget(r, uid);
        }
}

int exec_runner_logs(struct exec_runner *r, const char *uid, char **ret, size_t *ret_len)
{
        if (!r || !uid)
                return -ENOENT;
        LOCK_SCOPE(&r->lock);
        struct exec_entry *e = find(r, uid);

        if (!e)
                return -ENOENT;
        char *copy = malloc(e->out.len + 1);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, e->out.data ? e->out.data : "", e->out.len);
        copy[e->out.len] = '\0';
        *ret = copy;
        *ret_len = e->out.len;
        return 0;
}
