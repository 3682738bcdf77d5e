/* api: limits on a request's head that evhttp (libevent 2.1) does not have.
 *
 * evhttp closes a connection that sends nothing for API_IDLE_TIMEOUT_S, but
 * that timer restarts with every byte, so a client trickling a header one
 * byte at a time (slowloris) would hold its connection for hours; and a head
 * over evhttp's size limit is answered with an HTML 400. The guard watches
 * the bytes each connection brings, before evhttp parses them (a callback on
 * the input buffer runs inside the read, ahead of evhttp's own read
 * callback):
 *
 * - deadline: a request head (from its first byte to the empty line that ends
 *   it; for a connection's first request from the accept, so that a TLS
 *   handshake counts too) must arrive within the header timeout. A timer per
 *   connection ends one that runs out the way a read timeout would (evhttp
 *   then frees it). The body is bounded by the idle timeout and
 *   API_BODY_MAX like before.
 * - size: a head longer than API_HEADERS_MAX is answered 431 with a Status
 *   body like every other error (evhttp's own limit is set higher, so it
 *   never sees one); what else the client sends is dropped and the
 *   connection closes right after the answer.
 *
 * Each connection's state (struct api_conn) is freed by evhttp's close
 * callback, which the guard takes on the turn of the loop after the accept
 * (evhttp sets the connection up after asking for its bufferevent); code that
 * wants that callback for itself takes it through api_conn_set_closecb so that
 * both run. States are found by file descriptor, in one table for the
 * process (descriptors are the process's): a connection keeps its descriptor
 * until its close callback ran. Callbacks run on the loop thread; the table
 * has a lock of its own.
 */
#include "api-internal.h"

#include <inttypes.h>
#include <pthread.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

enum conn_phase {
        CONN_NEW,      /* accepted, no byte yet: the first head's deadline runs from the attach */
        CONN_IDLE,     /* between requests: the next byte starts a head */
        CONN_HEAD,     /* reading a head; the timer is its deadline */
        CONN_BODY,     /* head complete: evhttp reads the body and answers */
        CONN_REJECTED, /* answered 431; the timer closes the connection */
};

struct api_conn {
        struct api_server *s;
        struct bufferevent *bev;
        struct evbuffer_cb_entry *input_cb;
        struct event *attach_ev; /* the turn of the loop after the accept */
        struct event *timer;     /* the head's deadline, or the close after a 431 */
        int fd;                  /* -1 until attached */
        bool attached;           /* evhttp's close callback is ours */
        bool attach_pending;     /* attach_later has not run: it holds a bev reference */
        bool closed;             /* evhttp's close callback ran */
        enum conn_phase phase;
        bool after_newline; /* the last head byte (CRs aside) ended a line */
        size_t head_bytes;
        void (*user_closecb)(struct evhttp_connection *, void *);
        void *user_closecb_arg;
        struct api_conn *prev, *next; /* the server's list, for its shutdown */
};

#define REJECT_LINGER_MS 200 /* a 431's answer is sent long before this */

/* Attached connections by descriptor. */
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct api_conn **conns;
static size_t n_conns;

/* Whether c could be registered under fd. */
static bool conns_put(int fd, struct api_conn *c)
{
        bool ok = true;
        pthread_mutex_lock(&conns_lock);
        if ((size_t)fd >= n_conns) {
                size_t n = (size_t)fd + 64;
                struct api_conn **v = reallocarray(conns, n, sizeof(*v));
                if (v) {
                        memset(v + n_conns, 0, (n - n_conns) * sizeof(*v));
                        conns = v;
                        n_conns = n;
                }
                ok = v != NULL;
        }
        if (ok)
                conns[fd] = c;
        pthread_mutex_unlock(&conns_lock);
        return ok;
}

static void conns_remove(int fd, const struct api_conn *c)
{
        pthread_mutex_lock(&conns_lock);
        if (fd >= 0 && (size_t)fd < n_conns && conns[fd] == c)
                conns[fd] = NULL;
        pthread_mutex_unlock(&conns_lock);
}

/* The connection whose bufferevent is bev, or NULL. */
static struct api_conn *conns_get(struct bufferevent *bev)
{
        int fd = bev ? (int)bufferevent_getfd(bev) : -1;
        struct api_conn *c = NULL;
        pthread_mutex_lock(&conns_lock);
        if (fd >= 0 && (size_t)fd < n_conns && conns[fd] && conns[fd]->bev == bev)
                c = conns[fd];
        pthread_mutex_unlock(&conns_lock);
        return c;
}

static void conn_unlink_free(struct api_conn *c)
{
        struct api_server *s = c->s;
        if (c->prev)
                c->prev->next = c->next;
        else
                s->conns_list = c->next;
        if (c->next)
                c->next->prev = c->prev;
        if (c->attach_ev)
                event_free(c->attach_ev);
        event_free(c->timer);
        free(c);
}

static void arm(struct api_conn *c, int64_t ms)
{
        struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
        evtimer_add(c->timer, &tv);
}

static void on_close(struct evhttp_connection *evcon, void *arg)
{
        struct api_conn *c = arg;

        if (c->user_closecb)
                c->user_closecb(evcon, c->user_closecb_arg);
        conns_remove(c->fd, c);
        evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->input_cb);
        c->closed = true;
        if (!c->attach_pending)
                conn_unlink_free(c);
}

/* Registers c under its descriptor and takes evhttp's close callback, once
 * evhttp has set the connection up (its callbacks' argument is the
 * evhttp_connection). False when evhttp has freed it already. */
static bool attach(struct api_conn *c)
{
        if (c->attached)
                return true;
        bufferevent_data_cb readcb = NULL;
        void *evcon = NULL;
        bufferevent_getcb(c->bev, &readcb, NULL, NULL, &evcon);
        int fd = (int)bufferevent_getfd(c->bev);
        if (!readcb || !evcon || fd < 0 || !conns_put(fd, c))
                return false;
        c->fd = fd;
        c->attached = true;
        evhttp_connection_set_closecb(evcon, on_close, c);
        return true;
}

/* The turn of the loop after the accept: a connection that never sends a
 * byte gets attached too (or, when evhttp dropped it already, freed), and its
 * first head's deadline runs from here (unless a byte came first). */
static void attach_later(evutil_socket_t fd, short what, void *arg)
{
        (void)fd, (void)what;
        struct api_conn *c = arg;
        struct bufferevent *bev = c->bev;

        event_free(c->attach_ev);
        c->attach_ev = NULL;
        c->attach_pending = false;
        if (c->closed) {
                conn_unlink_free(c);
        } else if (!attach(c)) {
                /* evhttp freed the connection before it was set up (or memory
                 * ran out): nothing else will free c. */
                evbuffer_remove_cb_entry(bufferevent_get_input(bev), c->input_cb);
                conn_unlink_free(c);
        } else if (c->phase == CONN_NEW) {
                /* Not when a request came first: an answered one left it
                 * IDLE, and a stream (a watch) may now run for hours. */
                c->phase = CONN_HEAD;
                arm(c, c->s->header_timeout_ms);
        }
        bufferevent_decref(bev);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
        (void)fd, (void)what;
        struct api_conn *c = arg;

        if (c->phase == CONN_HEAD)
                log_info("api: closed a connection whose request head took over %" PRId64 " ms",
                         c->s->header_timeout_ms);
        if (c->phase != CONN_HEAD && c->phase != CONN_REJECTED)
                return;
        /* As if the read had timed out: evhttp frees the connection (and
         * on_close c) at once. */
        bufferevent_trigger_event(c->bev, BEV_EVENT_READING | BEV_EVENT_TIMEOUT, 0);
}

static void reject_431(struct api_conn *c, struct evbuffer *input)
{
        struct api_error err = {0};
        api_error_set(&err, 431,
                      "request header fields too large: the request line and headers exceed %d "
                      "bytes",
                      API_HEADERS_MAX);
        _cleanup_json_ json_t *st = api_status_failure(&err);
        _cleanup_free_ char *body = st ? json_dumps(st, JSON_COMPACT) : NULL;
        api_error_release(&err);

        c->phase = CONN_REJECTED;
        evbuffer_drain(input, evbuffer_get_length(input));
        evbuffer_add_printf(bufferevent_get_output(c->bev),
                            "HTTP/1.1 431 Request Header Fields Too Large\r\n"
                            "Content-Type: application/json\r\n"
                            "Content-Length: %zu\r\n"
                            "Connection: close\r\n\r\n%s",
                            body ? strlen(body) : 0, body ? body : "");
        bufferevent_enable(c->bev, EV_WRITE);
        arm(c, REJECT_LINGER_MS);
        log_info("api: answered 431 to a request head over %d bytes", API_HEADERS_MAX);
}

/* Scans the n bytes of input from offset off, part of a head: true when they
 * end it, with *ret_used = the head's bytes among them. */
static bool scan_head(struct api_conn *c, struct evbuffer *input, size_t off, size_t n,
                      size_t *ret_used)
{
        struct evbuffer_ptr p;
        struct evbuffer_iovec v[8];
        size_t used = 0;

        while (used < n && evbuffer_ptr_set(input, &p, off + used, EVBUFFER_PTR_SET) == 0) {
                int nv = evbuffer_peek(input, (ev_ssize_t)(n - used), &p, v, 8);
                if (nv <= 0)
                        break;
                for (int i = 0; i < nv && i < 8 && used < n; i++) {
                        const unsigned char *b = v[i].iov_base;
                        size_t len = v[i].iov_len < n - used ? v[i].iov_len : n - used;
                        for (size_t j = 0; j < len; j++) {
                                if (b[j] == '\n') {
                                        /* evhttp takes "\n" as well as "\r\n" */
                                        if (c->after_newline) {
                                                *ret_used = used + j + 1;
                                                return true;
                                        }
                                        c->after_newline = true;
                                } else if (b[j] != '\r') {
                                        c->after_newline = false;
                                }
                        }
                        used += len;
                }
        }
        *ret_used = n;
        return false;
}

static void on_input(struct evbuffer *input, const struct evbuffer_cb_info *info, void *arg)
{
        struct api_conn *c = arg;

        if (info->n_added == 0 || !attach(c))
                return;
        if (c->phase == CONN_REJECTED) {
                evbuffer_drain(input, evbuffer_get_length(input));
                return;
        }
        if (c->phase == CONN_BODY)
                return;
        if (c->phase == CONN_NEW || c->phase == CONN_IDLE) {
                c->phase = CONN_HEAD;
                c->head_bytes = 0;
                c->after_newline = false;
                arm(c, c->s->header_timeout_ms);
        }
        size_t len = evbuffer_get_length(input);
        size_t off = len >= info->n_added ? len - info->n_added : 0;
        size_t used;
        bool done = scan_head(c, input, off, len - off, &used);
        c->head_bytes += used;
        if (c->head_bytes > API_HEADERS_MAX) {
                reject_431(c, input);
        } else if (done) {
                c->phase = CONN_BODY;
                evtimer_del(c->timer);
        }
}

static struct api_conn *conn_of(struct evhttp_connection *evcon)
{
        return evcon ? conns_get(evhttp_connection_get_bufferevent(evcon)) : NULL;
}

struct bufferevent *api_conn_guard(struct api_server *s, struct bufferevent *bev)
{
        if (!bev)
                return NULL;
        struct api_conn *c = calloc(1, sizeof(*c));
        if (!c)
                return bev; /* unguarded: evhttp's idle timeout and limits still apply */
        *c = (struct api_conn){.s = s, .bev = bev, .fd = -1, .phase = CONN_NEW};
        c->timer = evtimer_new(s->base, on_timer, c);
        c->attach_ev = evtimer_new(s->base, attach_later, c);
        c->input_cb = c->timer && c->attach_ev
                          ? evbuffer_add_cb(bufferevent_get_input(bev), on_input, c)
                          : NULL;
        if (!c->input_cb) {
                if (c->attach_ev)
                        event_free(c->attach_ev);
                if (c->timer)
                        event_free(c->timer);
                free(c);
                return bev;
        }
        c->next = s->conns_list;
        if (c->next)
                c->next->prev = c;
        s->conns_list = c;
        bufferevent_incref(bev);
        c->attach_pending = true;
        struct timeval now = {0, 0};
        evtimer_add(c->attach_ev, &now);
        return bev;
}

struct bufferevent *api_plain_bevcb(struct event_base *base, void *arg)
{
        return api_conn_guard(arg, bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE));
}

void api_conn_request_read(struct evhttp_request *req)
{
        struct api_conn *c = conn_of(evhttp_request_get_connection(req));
        if (c && c->phase != CONN_REJECTED) {
                c->phase = CONN_IDLE;
                evtimer_del(c->timer);
        }
}

void api_conn_set_closecb(struct evhttp_connection *evcon,
                          void (*fn)(struct evhttp_connection *, void *), void *arg)
{
        struct api_conn *c = conn_of(evcon);
        if (!c) {
                evhttp_connection_set_closecb(evcon, fn, arg);
                return;
        }
        c->user_closecb = fn;
        c->user_closecb_arg = arg;
}

void api_conn_guard_free_all(struct api_server *s)
{
        /* After evhttp_free: the close callbacks of its connections ran. What
         * is left waits for attach_later and holds its bufferevent. */
        while (s->conns_list) {
                struct api_conn *c = s->conns_list;
                struct bufferevent *bev = c->bev;
                if (!c->closed)
                        evbuffer_remove_cb_entry(bufferevent_get_input(bev), c->input_cb);
                bool held = c->attach_pending;
                conn_unlink_free(c);
                if (held)
                        bufferevent_decref(bev);
        }
}
