/* api: log streams of a Task's or a Service's containers.
 *
 * Which container: a Task's latest attempt (or ?attempt=K); a Service
 * replica's (?replica=I, see api_service_log_pick). A docker-exec Task has
 * no container: its attempt's output file (api_config.task_exec_logs) is
 * streamed the same way, the thread running that call instead of Docker's
 * (interrupted through an eventfd instead of docker_interrupt); follow
 * ends when the exec ends.
 *
 * Each stream runs docker_container_logs on its own thread with its own
 * docker client (docker_clone): Docker calls block and must never run on the
 * loop. The thread appends log bytes to a queue under a mutex and wakes the
 * loop with event_active; the loop moves them to the connection as chunks.
 *
 * Back-pressure: the loop only drains the queue while the connection holds
 * less than API_LOG_QUEUE_HIGH unsent bytes (a write-completion callback
 * drains again later), and the thread waits on a condition variable while
 * the queue holds more than that, which stops reading from Docker.
 *
 * Server-Sent Events (Accept: text/event-stream): the thread frames the
 * bytes as it reads them, one message event per line (stdout and stderr
 * each with a line buffer of their own, so their lines never mix), and
 * ends with an "end" event once Docker ends the log (for follow: the
 * container ended); a failure after the start is an "error" event holding
 * the Status. A comment line every heartbeat_ms keeps a quiet stream alive.
 * There are no ids: a reconnecting client would get the log again, so it
 * closes its EventSource on "end".
 *
 * Shutdown: when the client goes away, the thread is interrupted
 * (docker_interrupt) and the stream is freed once the thread has ended (the
 * thread's last act is to wake the loop). api_logs_close_all joins every thread.
 */
#include "api-internal.h"

#include <inttypes.h>
#include <sys/eventfd.h>

struct api_log_stream {
        struct api_stream_link link; /* on server->logs */
        struct api_server *server;   /* set while on the list */
        struct evhttp_request *req;  /* NULL once the client is gone */
        struct evhttp_connection *conn;
        struct event *wake;
        struct event *heartbeat; /* SSE only */
        struct docker *docker;   /* this stream's clone; freed after the join */
        char *container_id;      /* docker-exec: the exec's id, "" when not known */
        char *owner;             /* "task=hello", "service=web": for log lines */
        struct docker_logs_opts opts;
        /* docker-exec: the Task's uid (NULL: a container's log), the
         * attempt, and the eventfd that ends the thread's wait. */
        char *exec_uid;
        int exec_attempt;
        int cancel_fd;
        int (*exec_logs)(void *userdata, const char *uid, int attempt, int tail, bool follow,
                         int cancel_fd, docker_log_fn fn, void *fn_userdata,
                         struct berth_error *err);
        void *exec_logs_userdata;
        pthread_t thread;
        bool thread_started;
        bool started; /* loop only: reply headers sent */
        /* The request's, for api_count: the reply starts in a later wake-up. */
        struct api_request_metrics metrics;
        bool sse;
        /* SSE: the unfinished line of each docker_stream; the log thread's
         * (then freed after the join). */
        struct api_sse_lines lines[3];

        pthread_mutex_t lock; /* guards what follows */
        pthread_cond_t drained;
        struct buf queue;
        bool stop; /* loop → thread: stop producing */
        bool done; /* thread → loop: docker_container_logs returned */
        int result;
        struct berth_error error;
};

/* Ends the thread's wait for Docker or for an exec's output. */
static void interrupt(struct api_log_stream *st)
{
        if (st->cancel_fd >= 0)
                (void)eventfd_write(st->cancel_fd, 1);
        docker_interrupt(st->docker);
}

/* Tells the thread to stop, joins it and frees everything but the request. */
static void stream_free(struct api_log_stream *st)
{
        pthread_mutex_lock(&st->lock);
        st->stop = true;
        pthread_cond_broadcast(&st->drained);
        pthread_mutex_unlock(&st->lock);
        if (st->thread_started) {
                interrupt(st);
                pthread_join(st->thread, NULL);
        }
        if (st->cancel_fd >= 0)
                close(st->cancel_fd);
        if (st->conn)
                api_conn_set_closecb(st->conn, NULL, NULL);
        if (st->server)
                api_stream_list_remove(&st->server->logs, &st->link);
        if (st->wake)
                event_free(st->wake);
        if (st->heartbeat)
                event_free(st->heartbeat);
        for (size_t i = 0; i < ARRAY_SIZE(st->lines); i++)
                api_sse_lines_release(&st->lines[i]);
        docker_free(st->docker);
        free(st->container_id);
        free(st->owner);
        free(st->exec_uid);
        buf_release(&st->queue);
        pthread_cond_destroy(&st->drained);
        pthread_mutex_destroy(&st->lock);
        free(st);
}

/* Log thread: stdout and stderr are merged in arrival order. */
static int on_log(enum docker_stream stream, const char *data, size_t len, void *userdata)
{
        struct api_log_stream *st = userdata;
        _cleanup_buf_ struct buf events;
        int rc = 0;

        buf_init(&events, API_LOG_QUEUE_MAX);
        if (st->sse) {
                size_t i = (size_t)stream < ARRAY_SIZE(st->lines) ? (size_t)stream : 0;
                rc = api_sse_lines_feed(&st->lines[i], data, len, &events);
                data = events.data;
                len = events.len;
        }
        pthread_mutex_lock(&st->lock);
        while (st->queue.len >= API_LOG_QUEUE_HIGH && !st->stop)
                pthread_cond_wait(&st->drained, &st->lock);
        if (rc == 0)
                rc = st->stop ? -ECANCELED : len ? buf_append(&st->queue, data, len) : 0;
        pthread_mutex_unlock(&st->lock);
        if (rc < 0)
                return 1;
        if (len)
                event_active(st->wake, EV_READ, 0);
        return 0;
}

/* Log thread, SSE: the unfinished lines, then "end" when the log ended. */
static void sse_finish(struct api_log_stream *st, int rc)
{
        _cleanup_buf_ struct buf tail;
        char data[64];

        buf_init(&tail, API_LOG_QUEUE_MAX);
        for (size_t i = 0; i < ARRAY_SIZE(st->lines); i++)
                (void)api_sse_lines_flush(&st->lines[i], &tail);
        if (rc == 0) {
                if (st->exec_uid)
                        snprintf(data, sizeof(data), "{\"attempt\":%d}", st->exec_attempt);
                else
                        snprintf(data, sizeof(data), "{\"container\":\"%.12s\"}", st->container_id);
                (void)api_sse_event(&tail, NULL, "end", data, strlen(data));
        }
        if (tail.len == 0)
                return;
        pthread_mutex_lock(&st->lock);
        /* Past the high mark if need be: the hard cap still holds. */
        if (!st->stop)
                (void)buf_append(&st->queue, tail.data, tail.len);
        pthread_mutex_unlock(&st->lock);
}

static void *log_thread(void *arg)
{
        struct api_log_stream *st = arg;
        struct berth_error err = {0};

        int rc =
            st->exec_uid
                ? st->exec_logs(st->exec_logs_userdata, st->exec_uid, st->exec_attempt,
                                st->opts.tail, st->opts.follow, st->cancel_fd, on_log, st, &err)
                : docker_container_logs(st->docker, st->container_id, &st->opts, on_log, st, &err);
        if (st->sse)
                sse_finish(st, rc);
        pthread_mutex_lock(&st->lock);
        st->done = true;
        st->result = rc;
        st->error = err;
        pthread_mutex_unlock(&st->lock);
        event_active(st->wake, EV_READ, 0);
        return NULL;
}

static void on_written(struct evhttp_connection *conn, void *arg)
{
        struct api_log_stream *st = arg;
        (void)conn;
        event_active(st->wake, EV_READ, 0);
}

static void start_reply(struct api_log_stream *st)
{
        if (st->started)
                return;
        st->started = true;
        struct evkeyvalq *h = evhttp_request_get_output_headers(st->req);
        if (st->sse) {
                evhttp_add_header(h, "Content-Type", "text/event-stream");
                evhttp_add_header(h, "Cache-Control", "no-cache");
                evhttp_add_header(h, "X-Accel-Buffering", "no");
        } else {
                evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
        }
        api_count(st->server, 200);
        evhttp_send_reply_start(st->req, 200, "OK");
}

/* SSE, loop: a failure after the reply started, as an "error" event. */
static void sse_error(struct api_log_stream *st, const struct berth_error *error)
{
        struct api_error e = {0};
        _cleanup_buf_ struct buf b;

        api_error_set(&e, 503, "logs: %s", error->message);
        _cleanup_json_ json_t *status = api_status_failure(&e);
        _cleanup_free_ char *text = status ? json_dumps(status, JSON_COMPACT) : NULL;
        api_error_release(&e);
        buf_init(&b, 64 * 1024);
        if (!text || api_sse_event(&b, NULL, "error", text, strlen(text)) < 0)
                return;
        size_t len = b.len;
        char *data = buf_steal(&b);
        if (data)
                api_stream_chunk(st->req, data, len, NULL, NULL);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
        struct api_log_stream *st = arg;
        struct api_server *s = st->server;
        (void)fd;
        (void)what;
        /* A copy: st may be freed before the reply goes out. */
        struct api_request_metrics metrics = st->metrics;
        API_REPLYING_SCOPE(s, &metrics);

        if (!st->req) {
                /* The client left; free once the interrupted thread is done. */
                pthread_mutex_lock(&st->lock);
                bool done = st->done;
                pthread_mutex_unlock(&st->lock);
                if (done)
                        stream_free(st);
                return;
        }

        /* Drain only while the client keeps up; on_written wakes us again. */
        if (api_request_output_len(st->req) >= API_LOG_QUEUE_HIGH)
                return;

        pthread_mutex_lock(&st->lock);
        size_t len = st->queue.len;
        char *data = len ? buf_steal(&st->queue) : NULL;
        bool done = st->done;
        int result = st->result;
        struct berth_error error = st->error;
        pthread_cond_broadcast(&st->drained);
        pthread_mutex_unlock(&st->lock);

        if (data) {
                start_reply(st);
                api_stream_chunk(st->req, data, len, on_written, st);
                if (!done)
                        return;
        }
        if (!done)
                return;

        struct evhttp_request *req = st->req;
        if (result < 0)
                log_warn("log stream failed: %s %s container=%.12s", error.message, st->owner,
                         st->container_id);
        if (!st->started) {
                if (result < 0) {
                        struct api_error e = {0};
                        if (result == -ENOENT)
                                api_error_set(&e, 404, "%s", error.message);
                        else
                                api_error_set(&e, 503, "logs: %s", error.message);
                        st->req = NULL;
                        stream_free(st);
                        api_send_error(s, req, &e);
                        return;
                }
                start_reply(st);
        } else if (result < 0 && st->sse) {
                sse_error(st, &error);
        }
        st->req = NULL;
        stream_free(st);
        evhttp_send_reply_end(req);
}

/* SSE: a comment line while the client keeps up; it starts the reply if
 * nothing has yet. */
static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
        struct api_log_stream *st = arg;
        _cleanup_buf_ struct buf line;
        (void)fd;
        (void)what;

        buf_init(&line, 64);
        if (!st->req || api_request_output_len(st->req) > 0 ||
            api_sse_comment(&line, "heartbeat") < 0)
                return;
        start_reply(st);
        size_t len = line.len;
        char *data = buf_steal(&line);
        if (data)
                api_stream_chunk(st->req, data, len, NULL, NULL);
}

static void on_close(struct evhttp_connection *conn, void *arg)
{
        struct api_log_stream *st = arg;
        (void)conn;

        api_request_free_detached(st->req);
        st->req = NULL;
        api_conn_set_closecb(st->conn, NULL, NULL);
        st->conn = NULL;
        pthread_mutex_lock(&st->lock);
        st->stop = true;
        bool done = st->done;
        pthread_cond_broadcast(&st->drained);
        pthread_mutex_unlock(&st->lock);
        if (!done)
                interrupt(st);
        /* The thread wakes the loop when it ends; on_wake frees then. */
        event_active(st->wake, EV_READ, 0);
}

static int parse_int_param(const struct api_route *r, const char *key, int min, int def, int *ret,
                           struct api_error *err)
{
        const char *v = api_route_param(r, key);
        if (!v || !*v) {
                *ret = def;
                return 0;
        }
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno || *end || n < min || n > INT32_MAX)
                return api_error_set(err, 400, "invalid value for %s: \"%s\"", key, v);
        *ret = (int)n;
        return 0;
}

/* ---- which container of a Service --------------------------------------- */

int api_service_container_replica(const char *container_name, char rev8[9])
{
        const char *dot = container_name ? strrchr(container_name, '.') : NULL;
        const char *idx = dot ? dot + 1 : NULL;
        long v = 0;

        if (!idx || !*idx || strlen(idx) > 6)
                return -1;
        for (const char *p = idx; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -1;
                v = v * 10 + (*p - '0');
        }
        /* The part before it is the revision: 8 hex digits. */
        const char *rev = dot - 8;
        if (dot - container_name < 9 || rev[-1] != '.')
                return -1;
        for (int i = 0; i < 8; i++)
                if (!((rev[i] >= '0' && rev[i] <= '9') || (rev[i] >= 'a' && rev[i] <= 'f')))
                        return -1;
        if (rev8) {
                memcpy(rev8, rev, 8);
                rev8[8] = '\0';
        }
        return (int)v;
}

/* A container's replica index and rev8: from its name, which the design
 * fixes and every container has from its creation on; else from its labels
 * (berth.replica, berth.revision). -1 when neither says. */
static int replica_of(const struct container_info *ci, char rev8[9])
{
        int idx = api_service_container_replica(ci->name, rev8);

        if (idx >= 0 || ci->replica < 0)
                return idx;
        snprintf(rev8, 9, "%.8s", ci->revision);
        return ci->replica;
}

/* Whether a is a better container to show than b (NULL): of the update
 * revision, else the newer one. */
static bool better(const struct container_info *a, bool a_update, const struct container_info *b,
                   bool b_update)
{
        if (!b || a_update != b_update)
                return !b || a_update;
        if (a->generation != b->generation)
                return a->generation > b->generation;
        return a->started_ms > b->started_ms;
}

int api_service_log_pick(const struct container_info *cs, size_t n, const char *name,
                         const char *update_hash, int replica, size_t *ret_index,
                         struct api_error *err)
{
        char rev8[9] = "";
        int only = -1;
        bool several = false;
        size_t pick = 0;
        bool found = false, pick_update = false;

        /* Without ?replica: fine while the Service has one replica index. */
        for (size_t i = 0; replica < 0 && i < n; i++) {
                int idx = replica_of(&cs[i], rev8);
                if (idx < 0)
                        continue;
                if (only >= 0 && idx != only)
                        several = true;
                only = only < 0 || idx < only ? idx : only;
        }
        if (replica < 0 && several)
                return api_error_set(err, 400,
                                     "service %s has several replicas: choose one with the "
                                     "replica parameter (?replica=%d)",
                                     name, only);
        if (replica < 0)
                replica = only;

        for (size_t i = 0; replica >= 0 && i < n; i++) {
                if (replica_of(&cs[i], rev8) != replica)
                        continue;
                bool update = update_hash && strlen(update_hash) >= 8 && strlen(rev8) == 8 &&
                              strncmp(rev8, update_hash, 8) == 0;
                if (better(&cs[i], update, found ? &cs[pick] : NULL, pick_update)) {
                        pick = i;
                        pick_update = update;
                        found = true;
                }
        }
        if (!found) {
                if (only < 0 && replica < 0)
                        return api_error_set(err, 404, "service %s has no container yet", name);
                return api_error_set(err, 404, "service %s has no container for replica %d", name,
                                     replica);
        }
        *ret_index = pick;
        return 0;
}

void api_logs_start(struct api_server *s, struct evhttp_request *req, const struct api_route *route)
{
        struct api_error err = {0};
        struct api_log_stream *st = NULL;
        _cleanup_free_ struct container_info *cs = NULL;
        _cleanup_json_ json_t *obj = NULL;
        _cleanup_free_ char *key = NULL;
        bool follow, timestamps;
        int tail = -1, attempt = 0, replica = -1;

        if (!s->containers || !s->docker) {
                api_error_set(&err, 503, "logs are not available: no connection to Docker");
                goto fail;
        }
        if (api_route_param_bool(route, "follow", false, &follow) < 0 ||
            api_route_param_bool(route, "timestamps", false, &timestamps) < 0) {
                api_error_set(&err, 400, "follow and timestamps take true or false");
                goto fail;
        }
        if (parse_int_param(route, "tailLines", 0, -1, &tail, &err) < 0 ||
            parse_int_param(route, "attempt", 1, 0, &attempt, &err) < 0)
                goto fail;

        bool service = streq(route->kind->kind, "Service");
        if (service ? api_route_param(route, "attempt") != NULL
                    : api_route_param(route, "replica") != NULL) {
                api_error_set(&err, 400, "%s logs take %s, not %s", route->kind->singular,
                              service ? "replica" : "attempt", service ? "attempt" : "replica");
                goto fail;
        }
        if (service && parse_int_param(route, "replica", 0, -1, &replica, &err) < 0)
                goto fail;

        key = object_key(s->prefix, route->kind->resource, route->ns, route->name);
        if (!key) {
                api_error_set(&err, 500, "out of memory");
                goto fail;
        }
        obj = object_cache_get(s->objects, key, NULL);
        if (!obj) {
                api_error_set(&err, 404, "%s \"%s\" not found", route->kind->resource, route->name);
                goto fail;
        }
        const char *uid = json_path_string(obj, "metadata.uid");
        /* A docker-exec Task, or an executor plugin's, has no container:
         * the output its executor keeps (docker-exec: every attempt's, in
         * files; a plugin: its latest attempt's, as last fetched). */
        const char *executor = json_path_string(obj, "spec.executor.type");
        bool exec = !service && executor && !streq(executor, "docker");
        int attempts = (int)json_path_int(obj, "status.attempts", 0);
        if (exec && (!s->task_exec_logs || !uid || attempts < 1)) {
                api_error_set(&err, 404, "task %s has no exec output (yet)", route->name);
                goto fail;
        }
        if (exec && attempt > attempts) {
                api_error_set(&err, 404, "task %s has no attempt %d", route->name, attempt);
                goto fail;
        }
        if (exec && timestamps) {
                api_error_set(&err, 400, "a %s task's output has no timestamps", executor);
                goto fail;
        }
        int n = uid && !exec ? container_cache_by_uid(s->containers, uid, &cs) : 0;
        const struct container_info *pick = NULL;
        if (service) {
                size_t k;
                if (api_service_log_pick(cs, n > 0 ? (size_t)n : 0, route->name,
                                         json_path_string(obj, "status.updateRevisionHash"),
                                         replica, &k, &err) < 0)
                        goto fail;
                pick = &cs[k];
        }
        for (int i = 0; !service && i < n; i++)
                if (attempt ? cs[i].attempt == attempt : !pick || cs[i].attempt > pick->attempt)
                        pick = &cs[i];
        if (!pick && !exec) {
                if (attempt && n > 0)
                        api_error_set(&err, 404, "task %s has no attempt %d", route->name, attempt);
                else
                        api_error_set(&err, 404, "task %s has no container yet", route->name);
                goto fail;
        }

        st = calloc(1, sizeof(*st));
        if (!st) {
                api_error_set(&err, 500, "out of memory");
                goto fail;
        }
        st->cancel_fd = -1;
        pthread_mutex_init(&st->lock, NULL);
        pthread_cond_init(&st->drained, NULL);
        buf_init(&st->queue, API_LOG_QUEUE_MAX);
        for (size_t i = 0; i < ARRAY_SIZE(st->lines); i++)
                api_sse_lines_init(&st->lines[i]);
        st->sse = route->sse;
        st->req = req;
        st->opts = (struct docker_logs_opts){
            .follow = follow,
            .timestamps = timestamps,
            .tty = json_is_true(json_path(obj, service ? "spec.template.tty" : "spec.tty")),
            .tail = tail,
        };
        if (exec) {
                const char *id = json_path_string(obj, "status.containerID");
                st->exec_attempt = attempt ? attempt : attempts;
                st->container_id = strdup(id && st->exec_attempt == attempts ? id : "");
                st->exec_uid = strdup(uid);
                st->exec_logs = s->task_exec_logs;
                st->exec_logs_userdata = s->task_exec_logs_userdata;
                st->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        } else {
                st->container_id = strdup(pick->id);
        }
        st->owner = str_printf("%s=%s", route->kind->singular, route->name);
        st->docker = docker_clone(s->docker);
        st->wake = event_new(s->base, -1, 0, on_wake, st);
        st->heartbeat = st->sse ? event_new(s->base, -1, EV_PERSIST, on_heartbeat, st) : NULL;
        if (!st->container_id || !st->owner || !st->docker || !st->wake ||
            (st->sse && !st->heartbeat) || (exec && (!st->exec_uid || st->cancel_fd < 0))) {
                api_error_set(&err, 500, "out of memory");
                goto fail_free;
        }

        st->server = s;
        if (s->replying)
                st->metrics = *s->replying;
        api_stream_list_add(&s->logs, &st->link);
        st->conn = api_stream_attach(req, on_close, st);

        int rc = pthread_create(&st->thread, NULL, log_thread, st);
        if (rc != 0) {
                api_error_set(&err, 500, "logs: cannot start a thread: %s", strerror(rc));
                goto fail_free;
        }
        st->thread_started = true;
        if (st->heartbeat) {
                struct timeval hb = {.tv_sec = s->heartbeat_ms / 1000,
                                     .tv_usec = (s->heartbeat_ms % 1000) * 1000};
                event_add(st->heartbeat, &hb);
        }
        log_debug("log stream started %s container=%.12s attempt=%d follow=%d sse=%d", st->owner,
                  st->container_id, st->exec_attempt, follow, st->sse);
        return;

fail_free:
        stream_free(st);
fail:
        api_send_error(s, req, &err);
        api_error_release(&err);
}

void api_logs_close_all(struct api_server *s)
{
        while (s->logs.head) {
                struct api_log_stream *st =
                    api_stream_of(s->logs.head, struct api_log_stream, link);
                struct evhttp_request *req = st->req;
                bool started = st->started;
                st->req = NULL;
                stream_free(st); /* interrupts and joins the thread */
                if (!req)
                        continue;
                if (started) {
                        evhttp_send_reply_end(req);
                } else {
                        struct api_error e = {0};
                        api_error_set(&e, 503, "server shutting down");
                        api_send_error(s, req, &e);
                }
        }
}
