/* api: watch streams — NDJSON over a chunked response, fed by the object cache;
 * or Server-Sent Events when the client asked for text/event-stream.
 *
 * The cache calls on_event on its own thread: the event is filtered and
 * serialized there and appended to the stream's queue under its mutex, then
 * the loop is woken with event_active. Everything touching evhttp happens on
 * the loop thread (on_wake, on_bookmark, on_heartbeat, on_close).
 *
 * SSE: every change is an event whose id is its revision, so a client that
 * reconnects with Last-Event-ID (an EventSource does that by itself) gets
 * exactly the changes after the last one it saw. The initial state has no
 * ids: a client cut off in the middle of it has no id yet and starts over;
 * it ends with a BOOKMARK whose id is the list's revision. A revision older
 * than the cache's history is an "error" event (410, reason Expired) after
 * which the stream ends: the client lists again. Comment lines every
 * heartbeat_ms keep idle streams alive through proxies.
 *
 * Limits: at most API_WATCH_QUEUE_MAX bytes may wait in the queue and in the
 * connection's output buffer; a client that reads slower than that loses its
 * stream (it resumes with ?resourceVersion= or Last-Event-ID of the last
 * event it got).
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
        struct event *heartbeat; /* SSE only */
        struct object_cache_sub *sub;
        const struct kind_info *kind;
        struct api_selector labels, fields; /* read-only once subscribed */
        struct api_list_filter rbac;        /* likewise */
        size_t allowance; /* output bytes allowed beyond the cap: the initial list */
        bool sse;         /* Server-Sent Events instead of NDJSON */

        pthread_mutex_t lock; /* guards what follows */
        struct buf queue;     /* serialized lines for the loop */
        bool overflow;        /* the queue hit its cap */
        int64_t last_rev;     /* newest revision the subscription has seen whole */
        /* SSE: an event of this revision went out without its id (the
         * revision goes on); its end must carry the id. Cache thread only. */
        int64_t id_owed;
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
        if (w->heartbeat)
                event_free(w->heartbeat);
        if (w->conn)
                api_conn_set_closecb(w->conn, NULL, NULL);
        if (w->server)
                api_stream_list_remove(&w->server->watches, &w->link);
        api_selector_release(&w->labels);
        api_selector_release(&w->fields);
        buf_release(&w->queue);
        pthread_mutex_destroy(&w->lock);
        free(w);
}

/* {"type":T,"object":O}\n into out; a Secret's values redacted. As SSE:
 * the event T with the object as its data and rev (0: none) as its id.
 * The object is blob's bytes as they are when blob is set (the cache's
 * compact JSON: what serializing its tree gives), else obj serialized. */
static int format_event(const struct api_watch *w, struct buf *out, const char *type,
                        const json_t *obj, const struct object_blob *blob, int64_t rev)
{
        _cleanup_buf_ struct buf shown_text;
        const char *text;
        size_t len;

        buf_init(&shown_text, SIZE_MAX / 2);
        if (blob && !streq(blob->kind, "Secret")) {
                /* No copy: the bytes are written straight from the blob. */
                text = blob->json;
                len = blob->len;
        } else {
                int rc = 0;
                if (blob) {
                        rc = api_blob_append(&shown_text, blob);
                } else {
                        _cleanup_json_ json_t *shown = api_object_for_reply(NULL, obj, false, NULL);
                        _cleanup_free_ char *dumped =
                            shown ? json_dumps(shown, JSON_COMPACT) : NULL;
                        rc = dumped ? buf_append_str(&shown_text, dumped) : -ENOMEM;
                }
                if (rc < 0)
                        return rc;
                text = shown_text.data;
                len = shown_text.len;
        }
        if (w->sse) {
                char id[32];
                snprintf(id, sizeof(id), "%" PRId64, rev);
                return api_sse_event(out, rev > 0 ? id : NULL, type, text, len);
        }
        int rc = buf_printf(out, "{\"type\":\"%s\",\"object\":", type);
        if (rc >= 0)
                rc = buf_append(out, text, len);
        if (rc >= 0)
                rc = buf_append_str(out, "}\n");
        return rc < 0 ? rc : 0;
}

/* Whether the watcher sees b: its selectors and what RBAC lets it see
 * (on the summary when the selectors allow, as lists do). */
static bool watch_matches(const struct api_watch *w, const struct object_blob *b)
{
        return api_blob_matches(&w->labels, &w->fields, b) &&
               api_authz_visible_name(w->server_ref, &w->rbac, b->ns, b->name);
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
        const json_t *obj = NULL;
        const struct object_blob *blob = ev->blob;
        bool send = watch_matches(w, ev->blob);

        if (ev->type == OBJECT_MODIFIED && ev->prev_blob) {
                bool was = watch_matches(w, ev->prev_blob);
                if (send && !was) {
                        type = "ADDED";
                } else if (!send && was) {
                        const json_t *prev = object_event_prev(ev);
                        left = prev ? object_with_revision(prev, ev->revision) : NULL;
                        obj = left;
                        blob = NULL;
                        type = "DELETED";
                        send = left != NULL;
                }
        }
        /* Where a client resumes (SSE's id, a bookmark) is only ever the
         * end of a revision: on etcd one revision holds a whole batch of
         * objects, and a stream broken inside it must replay all of it. */
        int64_t id = ev->revision_ends ? ev->revision : 0;
        buf_init(&line, API_WATCH_QUEUE_MAX);
        if (send && format_event(w, &line, type, obj, blob, id) < 0)
                send = false;
        if (w->sse && send && !id)
                w->id_owed = ev->revision;
        if (w->sse && !send && id && w->id_owed == id) {
                /* The revision's last event is not this client's: its id
                 * alone (an SSE block without data updates the client's
                 * last event id and dispatches nothing). */
                send = buf_printf(&line, "id: %" PRId64 "\n\n", id) >= 0;
        }
        if (id)
                w->id_owed = 0;

        pthread_mutex_lock(&w->lock);
        if (id > w->last_rev)
                w->last_rev = id;
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

/* Loop thread: moves queued lines to the connection. false if the stream
 * was dropped. *ret_rev (may be NULL): the newest revision those lines
 * cover, read with them. */
static bool watch_flush(struct api_watch *w, int64_t *ret_rev)
{
        pthread_mutex_lock(&w->lock);
        bool overflow = w->overflow;
        size_t len = w->queue.len;
        char *data = len ? buf_steal(&w->queue) : NULL;
        if (ret_rev)
                *ret_rev = w->last_rev;
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
        watch_flush(arg, NULL);
}

static void on_bookmark(evutil_socket_t fd, short what, void *arg)
{
        struct api_watch *w = arg;
        _cleanup_buf_ struct buf line;
        char rv[32];

        (void)fd;
        (void)what;
        int64_t last_rev;
        buf_init(&line, 4096);
        /* Everything up to last_rev must be out before a bookmark claims it:
         * the queue and last_rev are taken together. */
        if (!watch_flush(w, &last_rev))
                return;
        snprintf(rv, sizeof(rv), "%" PRId64, last_rev);

        _cleanup_json_ json_t *obj =
            json_pack("{s:s, s:s, s:{s:s}}", "kind", w->kind->kind, "apiVersion",
                      MANIFEST_API_VERSION, "metadata", "resourceVersion", rv);
        if (!obj || format_event(w, &line, "BOOKMARK", obj, NULL, last_rev) < 0)
                return;
        size_t len = line.len;
        char *data = buf_steal(&line);
        if (data)
                api_stream_chunk(w->req, data, len, NULL, NULL);
}

/* SSE: a comment line while the client keeps up (a slow one gets none:
 * bytes are on their way to it anyway). */
static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
        struct api_watch *w = arg;
        _cleanup_buf_ struct buf line;

        (void)fd;
        (void)what;
        buf_init(&line, 64);
        if (api_request_output_len(w->req) > 0 || api_sse_comment(&line, "heartbeat") < 0)
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

static void sse_headers(struct evhttp_request *req)
{
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        evhttp_add_header(h, "Content-Type", "text/event-stream");
        /* Proxies such as nginx would hold events back to fill a buffer. */
        evhttp_add_header(h, "X-Accel-Buffering", "no");
}

/* An EventSource cannot read an HTTP error: it only learns that the
 * connection failed, and gives up. So a refusal it must act on (relist) is
 * a 200 stream holding the Status as an "error" event, then its end. */
static void sse_send_error(struct api_server *s, struct evhttp_request *req,
                           const struct api_error *e)
{
        _cleanup_json_ json_t *status = api_status_failure(e);
        _cleanup_free_ char *text = status ? json_dumps(status, JSON_COMPACT) : NULL;
        _cleanup_buf_ struct buf b;

        buf_init(&b, 64 * 1024);
        if (!text || api_sse_retry(&b, API_SSE_RETRY_MS) < 0 ||
            api_sse_event(&b, NULL, "error", text, strlen(text)) < 0) {
                api_send_error(s, req, e);
                return;
        }
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        evhttp_add_header(h, "Cache-Control", "no-cache");
        evhttp_add_header(h, "Connection", "close");
        log_debug("watch refused: %s uri=%.200s", e->message, evhttp_request_get_uri(req));
        api_send_body(s, req, 200, "text/event-stream", b.data, b.len);
}

/* The BOOKMARK that ends an SSE watch's initial state, as Kubernetes marks
 * it: its resourceVersion is the list's. New reference; NULL on OOM. */
static json_t *initial_events_end(const struct kind_info *kind, int64_t rev)
{
        char rv[32];

        snprintf(rv, sizeof(rv), "%" PRId64, rev);
        return json_pack("{s:s, s:s, s:{s:s, s:{s:s}}}", "kind", kind->kind, "apiVersion",
                         MANIFEST_API_VERSION, "metadata", "resourceVersion", rv, "annotations",
                         "berth/initial-events-end", "true");
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
        const struct object_blob **initial = NULL;
        size_t n_initial = 0;
        bool listed = false;
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
        w->sse = route->sse;
        if (api_route_selectors(route, &w->labels, &w->fields, &err) < 0 ||
            api_authz_list_begin(s, who, "watch", route->kind->resource, route->ns, &w->rbac,
                                 &err) < 0)
                goto fail_free;
        /* An EventSource reconnects to the URL it was opened with, sending the
         * last id it saw: the header is newer than the URL's resourceVersion. */
        const char *last_id =
            w->sse ? evhttp_find_header(evhttp_request_get_input_headers(req), "Last-Event-ID")
                   : NULL;
        bool by_id = last_id && *last_id;
        const char *rv_text = by_id ? last_id : api_route_param(route, "resourceVersion");
        if (parse_rv(rv_text, &from) < 0) {
                api_error_set(&err, 400, "invalid %s \"%.64s\"",
                              by_id ? "Last-Event-ID" : "resourceVersion", rv_text);
                goto fail_free;
        }
        w->wake = event_new(s->base, -1, 0, on_wake, w);
        w->bookmark = event_new(s->base, -1, EV_PERSIST, on_bookmark, w);
        w->heartbeat = w->sse ? event_new(s->base, -1, EV_PERSIST, on_heartbeat, w) : NULL;
        if (!w->wake || !w->bookmark || (w->sse && !w->heartbeat)) {
                api_error_set(&err, 500, "out of memory");
                goto fail_free;
        }

        if (from == 0) {
                /* Current state first, then every change after it. */
                if (object_cache_list_blobs(s->objects, prefix, &initial, &n_initial, &list_rev) <
                    0) {
                        api_error_set(&err, 500, "out of memory");
                        goto fail_free;
                }
                listed = true;
                from = list_rev;
        }
        w->last_rev = from;
        rc = object_cache_subscribe(s->objects, prefix, from, on_event, w, &w->sub);
        if (rc == -ERANGE && w->sse) {
                api_error_set_reason(&err, 410, "Expired",
                                     "too old resource version: %" PRId64 " (current %" PRId64
                                     "): relist",
                                     from, object_cache_revision(s->objects));
                watch_free(w);
                sse_send_error(s, req, &err);
                api_error_release(&err);
                object_blobs_release(initial, n_initial);
                return;
        }
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

        if (w->sse)
                sse_headers(req);
        else
                evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                                  "application/x-ndjson");
        evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-cache");
        api_count(s, 200);
        log_debug("watch started uri=%.200s from=%" PRId64 " sse=%d", evhttp_request_get_uri(req),
                  from, w->sse);
        evhttp_send_reply_start(req, 200, "OK");

        /* What goes first: retry, and the initial state ending in its bookmark. */
        {
                _cleanup_buf_ struct buf b;
                buf_init(&b, SIZE_MAX / 2);
                if (w->sse)
                        (void)api_sse_retry(&b, API_SSE_RETRY_MS);
                if (listed) {
                        for (size_t i = 0; i < n_initial; i++) {
                                const struct object_blob *o = initial[i];
                                if (api_blob_matches(&w->labels, &w->fields, o) &&
                                    api_authz_visible_name(s, &w->rbac, o->ns, o->name))
                                        (void)format_event(w, &b, "ADDED", NULL, o, 0);
                        }
                        /* The end of the initial state, and where to resume from. */
                        if (w->sse) {
                                _cleanup_json_ json_t *end = initial_events_end(w->kind, list_rev);
                                if (end)
                                        (void)format_event(w, &b, "BOOKMARK", end, NULL, list_rev);
                        }
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
        if (w->heartbeat) {
                struct timeval hb = {.tv_sec = s->heartbeat_ms / 1000,
                                     .tv_usec = (s->heartbeat_ms % 1000) * 1000};
                event_add(w->heartbeat, &hb);
        }
        /* Events queued while we listed go out now, after the initial state. */
        event_active(w->wake, EV_READ, 0);
        object_blobs_release(initial, n_initial);
        return;

fail_free:
        watch_free(w);
fail:
        object_blobs_release(initial, n_initial);
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
