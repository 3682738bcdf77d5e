/* api: writes (create, replace, delete, apply), and the reads that go to the
 * store instead of the cache (workflow results and file outputs), on a pool
 * of writer threads.
 *
 * A write talks to the store and waits for the object cache (objects.c); with
 * etcd that is a network round trip, and while etcd is unreachable it takes
 * the store's whole request timeout. On the loop it would stall every other
 * client, reads from the cache and /healthz included, so the loop only copies
 * what a write needs into a job and queues it; one of API_WRITERS threads runs
 * it and hands it back, and the loop sends the reply.
 *
 * Threading contract:
 * - A job's inputs are set on the loop before it is queued and read-only
 *   afterwards; its outcome (code, out, err) is written by the one writer
 *   running it and read by the loop once it is on the done list. The lock
 *   orders both hand-overs.
 * - req and conn belong to the loop: writers never touch evhttp. A client that
 *   leaves runs on_close, which turns req into NULL; the job still runs to the
 *   end (the write may happen) and the loop then frees it without replying.
 * - A writer wakes the loop with event_active on the pool's one wake event and
 *   never touches the job after putting it on the done list. Only the loop
 *   frees jobs, so the close callback never sees a freed job.
 */
#include "api-internal.h"

#include <event2/buffer.h>

struct api_write_job {
        struct api_write_job *next; /* in pending or done */

        /* Loop thread only. */
        struct evhttp_request *req; /* NULL once the client has gone */
        struct evhttp_connection *conn;

        /* Inputs: set on the loop before the job is queued. */
        enum api_write_op op;
        const struct kind_info *kind; /* static; NULL for apply */
        char ns[64];
        char name[64];
        char *apply_ns; /* NULL when not given */
        bool dry_run;
        char *body; /* a copy of the request body, NUL-terminated */
        size_t len;
        char *step; /* results: ?step= and ?file= (one file output), or NULL */
        char *file;
        struct api_list_page *page; /* API_READ_LIST */

        /* Outcome: written by the writer that runs the job. */
        int code;    /* HTTP status when err.code == 0 */
        json_t *out; /* the reply body when err.code == 0 */
        char *raw;   /* instead of out: an application/octet-stream body */
        size_t raw_len;
        int64_t etag; /* > 0: the reply's ETag (api_set_etag) */
        struct api_error err;
        struct api_request_info info; /* for the audit log */
};

/* A FIFO of jobs. */
struct job_list {
        struct api_write_job *head, *tail;
};

struct api_writes {
        struct api_server *server;
        struct event *wake; /* on the loop: on_done */
        pthread_t threads[API_WRITERS];
        size_t n_threads;

        /* Loop thread only: jobs alive and the bytes of their bodies. */
        size_t n_jobs;
        size_t n_bytes;

        pthread_mutex_t lock; /* guards what follows */
        pthread_cond_t more;  /* pending grew or stop was set */
        struct job_list pending;
        struct job_list done;
        bool stop;
        api_write_hook_fn hook;
        void *hook_userdata;
};

static void list_push(struct job_list *l, struct api_write_job *j)
{
        j->next = NULL;
        if (l->tail)
                l->tail->next = j;
        else
                l->head = j;
        l->tail = j;
}

static struct api_write_job *list_pop(struct job_list *l)
{
        struct api_write_job *j = l->head;
        if (j) {
                l->head = j->next;
                if (!l->head)
                        l->tail = NULL;
                j->next = NULL;
        }
        return j;
}

static const char *op_name(enum api_write_op op)
{
        switch (op) {
        case API_WRITE_CREATE:
                return "create";
        case API_WRITE_REPLACE:
                return "replace";
        case API_WRITE_DELETE:
                return "delete";
        case API_WRITE_APPLY:
                return "apply";
        case API_READ_RESULTS:
                return "results";
        case API_READ_LIST:
                return "list";
        }
        return "write";
}

/* Loop thread. The request is left as is: answered, freed by on_close, or
 * still attached to its connection (evhttp_free frees it then). */
static void job_free(struct api_writes *w, struct api_write_job *j)
{
        if (j->conn)
                api_conn_set_closecb(j->conn, NULL, NULL);
        w->n_jobs--;
        w->n_bytes -= j->len;
        free(j->body);
        free(j->apply_ns);
        free(j->step);
        free(j->file);
        api_list_page_free(j->page);
        free(j->raw);
        json_decref(j->out);
        api_error_release(&j->err);
        free(j);
}

/* ---- writer threads ------------------------------------------------------ */

/* Parse, validate, write and wait for the cache. Writer thread; touches only
 * the job's own fields. */
static void job_run(struct api_server *s, struct api_write_job *j)
{
        struct api_objects *ops = &s->ops;
        _cleanup_(manifest_list_release) struct manifest_list list = {0};
        int rc = 0;

        j->code = j->op == API_WRITE_CREATE ? 201 : 200;
        switch (j->op) {
        case API_WRITE_CREATE:
                rc = api_parse_one(j->body, j->len, &list, &j->err);
                if (rc == 0)
                        rc =
                            api_object_create(ops, j->kind, j->ns, &list.docs[0], &j->out, &j->err);
                break;
        case API_WRITE_REPLACE:
                rc = api_parse_one(j->body, j->len, &list, &j->err);
                if (rc == 0)
                        rc = api_object_replace(ops, j->kind, j->ns, j->name, &list.docs[0],
                                                j->info.trigger_only, &j->out, &j->err);
                break;
        case API_WRITE_DELETE:
                rc = api_object_delete(ops, j->kind, j->ns, j->name, &j->out, &j->err);
                break;
        case API_WRITE_APPLY:
                rc = api_apply(ops, &j->info.who, j->body, j->len, j->apply_ns, j->dry_run, &j->out,
                               &j->err);
                break;
        case API_READ_RESULTS:
                if (j->step)
                        rc = api_workflow_file(ops, j->kind, j->ns, j->name, j->step, j->file,
                                               &j->raw, &j->raw_len, &j->err);
                else
                        rc = api_workflow_results(ops, j->kind, j->ns, j->name, &j->out, &j->err);
                break;
        case API_READ_LIST:
                rc = api_list_page_run(s, j->page, &j->out, &j->etag, &j->err);
                break;
        }
        if (rc < 0 && !j->err.code)
                api_error_set(&j->err, 500, "%s failed: %s", op_name(j->op), strerror(-rc));
        if (rc == 0 && j->out && j->op != API_WRITE_APPLY && j->op != API_READ_RESULTS &&
            j->op != API_READ_LIST) {
                /* What was written, as reads show it: a Secret redacted. */
                json_t *shown = api_object_for_reply(ops, j->out, false, &j->err);
                json_decref(j->out);
                j->out = shown;
        }
}

static void *writer_main(void *arg)
{
        struct api_writes *w = arg;

        pthread_mutex_lock(&w->lock);
        for (;;) {
                while (!w->stop && !w->pending.head)
                        pthread_cond_wait(&w->more, &w->lock);
                if (w->stop)
                        break; /* queued jobs are dropped: api_writes_free frees them */
                struct api_write_job *j = list_pop(&w->pending);
                api_write_hook_fn hook = w->hook;
                void *hook_userdata = w->hook_userdata;
                pthread_mutex_unlock(&w->lock);

                if (hook)
                        hook(hook_userdata);
                job_run(w->server, j);

                pthread_mutex_lock(&w->lock);
                list_push(&w->done, j);
                /* j is the loop's from here on. */
                event_active(w->wake, EV_READ, 0);
        }
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

/* ---- loop side ------------------------------------------------------------ */

/* The client went away before its reply. evhttp has detached the unanswered
 * request from the dying connection and left it to us. */
static void on_close(struct evhttp_connection *conn, void *arg)
{
        struct api_write_job *j = arg;

        api_conn_set_closecb(conn, NULL, NULL);
        api_request_free_detached(j->req);
        j->req = NULL;
        j->conn = NULL;
        log_debug("client left before its write finished op=%s", op_name(j->op));
}

static void job_reply(struct api_writes *w, struct api_write_job *j)
{
        struct api_server *s = w->server;
        int code = j->err.code ? j->err.code : j->code;
        API_REPLYING_SCOPE(s, &j->info.metrics);

        /* A create names its object in the body (or gets a generated name). */
        const char *created = j->op == API_WRITE_CREATE && !j->err.code && j->out
                                  ? json_path_string(j->out, "metadata.name")
                                  : NULL;
        if (created && !j->info.name[0])
                (void)str_copy(j->info.name, sizeof(j->info.name), created);

        if (!j->req) {
                /* Counted all the same: store failures stay visible in the
                 * metrics when clients give up first. */
                api_count(s, code);
                api_audit_request(s, &j->info, code);
                return;
        }
        struct evhttp_request *req = j->req;
        api_conn_set_closecb(j->conn, NULL, NULL);
        j->req = NULL;
        j->conn = NULL;
        api_audit_request(s, &j->info, code);
        if (j->etag > 0 && !j->err.code)
                api_set_etag(req, j->etag);
        if (j->err.code)
                api_send_error(s, req, &j->err);
        else if (j->raw)
                api_send_body(s, req, j->code, "application/octet-stream", j->raw, j->raw_len);
        else
                api_send_json(s, req, j->code, j->out);
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
        struct api_writes *w = arg;
        (void)fd;
        (void)what;

        pthread_mutex_lock(&w->lock);
        struct job_list done = w->done;
        w->done = (struct job_list){0};
        pthread_mutex_unlock(&w->lock);

        struct api_write_job *j;
        while ((j = list_pop(&done))) {
                job_reply(w, j);
                job_free(w, j);
        }
}

/* Counts j (its body len bytes set) and hands it to the writers. */
static void job_queue(struct api_writes *w, struct api_write_job *j, struct evhttp_request *req)
{
        w->n_jobs++;
        w->n_bytes += j->len;

        j->req = req;
        j->conn = evhttp_request_get_connection(req);
        api_conn_set_closecb(j->conn, on_close, j);

        pthread_mutex_lock(&w->lock);
        list_push(&w->pending, j);
        pthread_cond_signal(&w->more);
        pthread_mutex_unlock(&w->lock);
}

void api_read_submit(struct api_server *s, struct evhttp_request *req, struct api_list_page *page,
                     const struct api_request_info *ri)
{
        struct api_writes *w = s->writes;
        struct api_error err = {0};
        struct api_write_job *j = NULL;

        if (w->n_jobs >= API_WRITE_QUEUE_MAX) {
                api_error_set(&err, 503, "too many requests in flight; try again");
                evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
                goto fail;
        }
        j = calloc(1, sizeof(*j));
        if (!j) {
                api_error_set(&err, 500, "out of memory");
                goto fail;
        }
        j->op = API_READ_LIST;
        j->code = 200;
        j->info = *ri;
        j->page = page;
        job_queue(w, j, req);
        return;

fail:
        api_list_page_free(page);
        api_send_error(s, req, &err);
        api_error_release(&err);
}

void api_write_submit(struct api_server *s, struct evhttp_request *req, enum api_write_op op,
                      const struct api_route *r, const char *apply_ns, bool dry_run,
                      const struct api_request_info *ri)
{
        struct api_writes *w = s->writes;
        struct api_error err = {0};
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t len = op == API_WRITE_DELETE || op == API_READ_RESULTS ? 0 : evbuffer_get_length(in);
        size_t max = op == API_WRITE_APPLY ? API_BODY_MAX : MANIFEST_DOC_MAX;
        struct api_write_job *j = NULL;

        if (len > max) {
                api_error_set(&err, 413, "request body of %zu bytes is larger than %zu bytes", len,
                              max);
                goto fail;
        }
        if (w->n_jobs >= API_WRITE_QUEUE_MAX || w->n_bytes + len > API_WRITE_BYTES_MAX) {
                api_error_set(&err, 503, "too many writes in flight; try again");
                evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
                goto fail;
        }

        j = calloc(1, sizeof(*j));
        if (!j) {
                api_error_set(&err, 500, "out of memory");
                goto fail;
        }
        j->op = op;
        j->info = *ri;
        j->kind = r->kind;
        j->dry_run = dry_run;
        (void)str_copy(j->ns, sizeof(j->ns), r->ns);
        (void)str_copy(j->name, sizeof(j->name), r->name);
        j->body = malloc(len + 1);
        j->apply_ns = apply_ns ? strdup(apply_ns) : NULL;
        /* api_route_parse checked them: both or neither. */
        const char *step = op == API_READ_RESULTS ? api_route_param(r, "step") : NULL;
        const char *file = op == API_READ_RESULTS ? api_route_param(r, "file") : NULL;
        if (step && file) {
                j->step = strdup(step);
                j->file = strdup(file);
        }
        if (!j->body || (apply_ns && !j->apply_ns) || (step && file && (!j->step || !j->file)) ||
            (len > 0 && evbuffer_copyout(in, j->body, len) != (ev_ssize_t)len)) {
                free(j->body);
                free(j->apply_ns);
                free(j->step);
                free(j->file);
                free(j);
                api_error_set(&err, 500, "out of memory");
                goto fail;
        }
        j->body[len] = '\0';
        j->len = len;
        job_queue(w, j, req);
        return;

fail:
        api_audit_request(s, ri, err.code);
        api_send_error(s, req, &err);
        api_error_release(&err);
}

void api_writes_set_hook(struct api_server *s, api_write_hook_fn fn, void *userdata)
{
        struct api_writes *w = s->writes;

        pthread_mutex_lock(&w->lock);
        w->hook = fn;
        w->hook_userdata = userdata;
        pthread_mutex_unlock(&w->lock);
}

int api_writes_new(struct api_server *s, struct api_writes **ret)
{
        struct api_writes *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->server = s;
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->more, NULL);
        w->wake = event_new(s->base, -1, 0, on_done, w);
        if (!w->wake) {
                api_writes_free(w);
                return -ENOMEM;
        }
        for (size_t i = 0; i < API_WRITERS; i++) {
                int rc = pthread_create(&w->threads[i], NULL, writer_main, w);
                if (rc != 0) {
                        api_writes_free(w);
                        return -rc;
                }
                w->n_threads++;
        }
        *ret = w;
        return 0;
}

void api_writes_free(struct api_writes *w)
{
        if (!w)
                return;
        pthread_mutex_lock(&w->lock);
        w->stop = true;
        pthread_cond_broadcast(&w->more);
        pthread_mutex_unlock(&w->lock);
        for (size_t i = 0; i < w->n_threads; i++)
                pthread_join(w->threads[i], NULL);

        /* No writer is left: every job is on one of the lists. */
        struct api_write_job *j;
        while ((j = list_pop(&w->pending)))
                job_free(w, j);
        while ((j = list_pop(&w->done)))
                job_free(w, j);
        if (w->wake)
                event_free(w->wake);
        pthread_cond_destroy(&w->more);
        pthread_mutex_destroy(&w->lock);
        free(w);
}
