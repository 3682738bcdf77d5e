/* api: watch streams — NDJSON over a chunked response, fed by the object cache.
 *
 * The cache calls on_event on its own thread: the event is filtered and
 * serialized there and appended to the stream's queue under its mutex, then
 * the loop is woken with event_active. Everything touching evhttp happens on
 * the loop thread (on_wake, on_bookmark, on_close).
 *
 * Limits: at most API_WATCH_QUEUE_MAX bytes may wait in the queue and in the
 * connection's output buffer; a client that reads slower than that loses its
 * stream (it resumes with ?resourceVersion= of the last event it got).
 */
#include "api-internal.h"

#include <inttypes.h>

struct api_watch {
        struct api_stream_link link;   /* on server->watches */
        struct api_server *server;     /* set while on the list */
        struct api_server *server_ref; /* always */
        struct evhttp_request *req;
        struct evhttp_connection *conn;
        struct event *wake;
        struct event *bookmark;
        struct object_cache_sub *sub;
        const struct kind_info *kind;
        struct api_selector labels, fields; /* read-only once subscribed */
        struct api_list_filter rbac;        /* likewise */
        size_t allowance; /* output bytes allowed beyond the cap: the initial list */

        pthread_mutex_t lock; /* guards what follows */
        struct buf queue;     /* serialized lines for the loop */
        bool overflow;        /* the queue hit its cap */
        int64_t last_rev;     /* newest revision the subscription has seen */
};

/* Stops the producers and frees the stream. The request is left as is: the
 * caller has ended it, handed it to evhttp, or it is gone. */
static void watch_free(struct api_watch *w)
{
        object_cache_unsubscribe(w->sub);
        w->sub = NULL;
        if (w->wake)
                event_free(w->wake);
        if (w->bookmark)
                event_free(w->bookmark);
        if (w->conn)
                evhttp_connection_set_closecb(w->conn, NULL, NULL);
        if (w->server)
                api_stream_list_remove(&w->server->watches, &w->link);
        api_selector_release(&w->labels);
        api_selector_release(&w->fields);
        buf_release(&w->queue);
        pthread_mutex_destroy(&w->lock);
        free(w);
}

/* {"type":T,"object":O}\n into out; a Secret's values redacted. */
static int format_event(struct buf *out, const char *type, const json_t *obj)
{
        _cleanup_json_ json_t *shown = api_object_for_reply(NULL, obj, false, NULL);
        if (!shown)
                return -ENOMEM;
        _cleanup_free_ char *text = json_dumps(shown, JSON_COMPACT);
        if (!text)
                return -ENOMEM;
        int rc = buf_printf(out, "{\"type\":\"%s\",\"object\":", type);
        if (rc >= 0)
                rc = buf_append_str(out, text);
        if (rc >= 0)
                rc = buf_append_str(out, "}\n");
        return rc < 0 ? rc : 0;
}

/* Whether the watcher sees obj: its selectors and what RBAC lets it see. */
static bool watch_matches(const struct api_watch *w, const json_t *obj)
{
        return api_object_matches(&w->labels, &w->fields, obj) &&
               api_authz_visible(w->server_ref, &w->rbac, obj);
}

/* Cache thread. Must not block and must not touch evhttp.
 *
 * With selectors, a change is seen as Kubernetes shows it: an object that
 * starts to match is ADDED, one that stops matching is DELETED (its last
 * matching state, at the change's resourceVersion). */
static void on_event(const struct object_event *ev, void *userdata)
{
        struct api_watch *w = userdata;
        _cleanup_buf_ struct buf line;
        _cleanup_json_ json_t *left = NULL;
        const char *type = object_event_type_to_string(ev->type);
        const json_t *obj = ev->object;
        bool send = watch_matches(w, ev->object);

        if (ev->type == OBJECT_MODIFIED && ev->prev_object) {
                bool was = watch_matches(w, ev->prev_object);
                if (send && !was) {
                        type = "ADDED";
                } else if (!send && was) {
                        left = object_with_revision(ev->prev_object, ev->revision);
                        obj = left;
                        type = "DELETED";
                        send = left != NULL;
                }
        }
        buf_init(&line, API_WATCH_QUEUE_MAX);
        if (send && format_event(&line, type, obj) < 0)
                send = false;

        pthread_mutex_lock(&w->lock);
        if (ev->revision > w->last_rev)
                w->last_rev = ev->revision;
        if (send && !w->overflow && buf_append(&w->queue, line.data, line.len) < 0)
                w->overflow = true;
        bool wake = send || w->overflow;
        pthread_mutex_unlock(&w->lock);
        if (wake)
                event_active(w->wake, EV_READ, 0);
}

/* Closes a stream whose client cannot keep up: drops the connection. */
static void watch_drop(struct api_watch *w, const char *why)
{
        struct evhttp_connection *conn = w->conn;
        log_warn("closing watch: %s uri=%.200s", why, evhttp_request_get_uri(w->req));
        watch_free(w); /* clears the close callback */
        if (conn)
                evhttp_connection_free(conn); /* frees the request too */
}

/* Loop thread: moves queued lines to the connection. false if the stream was dropped. */
static bool watch_flush(struct api_watch *w)
{
        pthread_mutex_lock(&w->lock);
        bool overflow = w->overflow;
        size_t len = w->queue.len;
        char *data = len ? buf_steal(&w->queue) : NULL;
        pthread_mutex_unlock(&w->lock);

        if (overflow) {
                free(data);
                watch_drop(w, "client too slow, queue full");
                return false;
        }
        if (data)
                api_stream_chunk(w->req, data, len, NULL, NULL);
        if (api_request_output_len(w->req) > API_WATCH_QUEUE_MAX + w->allowance) {
                watch_drop(w, "client too slow, output buffer full");
                return false;
        }
        return true;
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
        (void)fd;
        (void)what;
        watch_flush(arg);
}

static void on_bookmark(evutil_socket_t fd, short what, void *arg)
{
        struct api_watch *w = arg;
        _cleanup_buf_ struct buf line;
        char rv[32];

        (void)fd;
        (void)what;
        buf_init(&line, 4096);
        /* Everything up to last_rev must be out before a bookmark claims it. */
        if (!watch_flush(w))
                return;
        pthread_mutex_lock(&w->lock);
        snprintf(rv, sizeof(rv), "%" PRId64, w->last_rev);
        pthread_mutex_unlock(&w->lock);

        _cleanup_json_ json_t *obj =
            json_pack("{s:s, s:s, s:{s:s}}", "kind", w->kind->kind, "apiVersion",
                      MANIFEST_API_VERSION, "metadata", "resourceVersion", rv);
        if (!obj || format_event(&line, "BOOKMARK", obj) < 0)
                return;
        size_t len = line.len;
        char *data = buf_steal(&line);
        if (data)
                api_stream_chunk(w->req, data, len, NULL, NULL);
}

/* The client went away (or the connection failed). */
static void on_close(struct evhttp_connection *conn, void *arg)
{
        struct api_watch *w = arg;
        (void)conn;
        api_request_free_detached(w->req);
        w->conn = NULL;
        log_debug("watch closed by client");
        watch_free(w);
}

static int parse_rv(const char *s, int64_t *ret)
{
        if (!s || !*s || streq(s, "0")) {
                *ret = 0;
                return 0;
        }
        char *end;
        errno = 0;
        long long n = strtoll(s, &end, 10);
        if (errno || *end || n < 0)
                return -EINVAL;
        *ret = n;
        return 0;
}

/* Open watch streams of user: a walk of the list, only when a watch starts. */
static size_t watches_of(const struct api_server *s, const char *user)
{
        size_t n = 0;

        for (const struct api_stream_link *l = s->watches.head; l; l = l->next)
                if (streq(api_stream_of(l, struct api_watch, link)->rbac.who.user, user))
                        n++;
        return n;
}

void api_watch_start(struct api_server *s, struct evhttp_request *req,
                     const struct api_route *route, const struct api_identity *who)
{
        struct api_error err = {0};
        int64_t from = 0, list_rev = 0;
        _cleanup_json_ json_t *initial = NULL;
        _cleanup_free_ char *prefix = api_list_prefix(s->prefix, route);
        struct api_watch *w = calloc(1, sizeof(*w));
        int rc;

        if (!w || !prefix) {
                free(w);
                api_error_set(&err, 500, "out of memory");
                goto fail;
        }
        if (watches_of(s, who->user) >= API_WATCHES_PER_USER) {
                free(w);
                api_error_set_reason(&err, 429, "TooManyRequests",
                                     "%s has %d watch streams open, the most one user may",
                                     who->user, API_WATCHES_PER_USER);
                goto fail;
        }
        pthread_mutex_init(&w->lock, NULL);
        buf_init(&w->queue, API_WATCH_QUEUE_MAX);
        w->req = req;
        w->kind = route->kind;
        w->server_ref = s;
        if (api_route_selectors(route, &w->labels, &w->fields, &err) < 0 ||
            api_authz_list_begin(s, who, "watch", route->kind->resource, route->ns, &w->rbac,
                                 &err) < 0)
                goto fail_free;
        if (parse_rv(api_route_param(route, "resourceVersion"), &from) < 0) {
                api_error_set(&err, 400, "invalid resourceVersion \"%s\"",
                              api_route_param(route, "resourceVersion"));
                goto fail_free;
        }
        w->wake = event_new(s->base, -1, 0, on_wake, w);
        w->bookmark = event_new(s->base, -1, EV_PERSIST, on_bookmark, w);
        if (!w->wake || !w->bookmark) {
                api_error_set(&err, 500, "out of memory");
                goto fail_free;
        }

        if (from == 0) {
                /* Current state first, then every change after it. */
                initial = object_cache_list(s->objects, prefix, &list_rev);
                if (!initial) {
                        api_error_set(&err, 500, "out of memory");
                        goto fail_free;
                }
                from = list_rev;
        }
        w->last_rev = from;
        rc = object_cache_subscribe(s->objects, prefix, from, on_event, w, &w->sub);
        if (rc == -ERANGE) {
                api_error_set(&err, 410,
                              "too old resource version: %" PRId64 " (current %" PRId64 ")", from,
                              object_cache_revision(s->objects));
                goto fail_free;
        }
        if (rc < 0) {
                api_error_set(&err, 500, "watch: %s", strerror(-rc));
                goto fail_free;
        }

        w->server = s;
        api_stream_list_add(&s->watches, &w->link);
        w->conn = api_stream_attach(req, on_close, w);

        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "application/x-ndjson");
        evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-cache");
        api_count(s, 200);
        log_debug("watch started uri=%.200s from=%" PRId64, evhttp_request_get_uri(req), from);
        evhttp_send_reply_start(req, 200, "OK");

        if (initial) {
                _cleanup_buf_ struct buf b;
                size_t i;
                json_t *obj;
                buf_init(&b, SIZE_MAX / 2);
                json_array_foreach(initial, i, obj)
                {
                        if (watch_matches(w, obj))
                                (void)format_event(&b, "ADDED", obj);
                }
                w->allowance = b.len;
                size_t len = b.len;
                if (len > 0) {
                        char *data = buf_steal(&b);
                        if (data)
                                api_stream_chunk(req, data, len, NULL, NULL);
                }
        }
        struct timeval tv = {.tv_sec = s->bookmark_ms / 1000,
                             .tv_usec = (s->bookmark_ms % 1000) * 1000};
        event_add(w->bookmark, &tv);
        /* Events queued while we listed go out now, after the initial state. */
        event_active(w->wake, EV_READ, 0);
        return;

fail_free:
        watch_free(w);
fail:
        api_send_error(s, req, &err);
        api_error_release(&err);
}

void api_watch_close_all(struct api_server *s)
{
        while (s->watches.head) {
                struct api_watch *w = api_stream_of(s->watches.head, struct api_watch, link);
                struct evhttp_request *req = w->req;
                bool alive = w->conn != NULL;
                watch_free(w);
                if (alive)
                        evhttp_send_reply_end(req);
        }
}
