/* fake-engine: an in-memory Docker Engine API on a unix socket, for measuring
 * the controller apart from dockerd (bench/controller.sh) and for its test.
 *
 * It answers what berthd asks of an engine, as Docker 20.10 (API 1.41)
 * answers it: /_ping, /version, /info, image inspect and pull (of the images
 * it "has": busybox:latest unless told otherwise), container create (names
 * and labels kept, 409 on a taken name, 404 on an unknown image), start,
 * kill, wait, inspect, list (all=1 and the filters label, name, id, status),
 * logs, remove, and /events — create, start, die, kill, destroy events, their
 * Actor.Attributes the container's labels plus name, image (and exitCode),
 * filtered by type, label, event and container, replayed from a bounded
 * history with ?since=. Nothing runs: a started container is "running" until
 * its exit timer fires, --run-ms later (default 0: on the next turn of the
 * loop, after the start's reply went out — a `true` that takes no time).
 * Its command decides the rest: `false` exits 1, `sh -c 'exit N'` exits N,
 * `sleep S` runs S seconds (then exits 0), `echo ...` prints its arguments
 * (the logs), anything else exits 0 and prints nothing.
 *
 * GET /fake/stats answers what it counted (creates, name conflicts, starts,
 * restarts, removes, requests, events sent, its own CPU time), for tests
 * that must prove each container was made exactly once.
 *
 * Single-threaded (one libevent loop); limits: request bodies 1 MiB, headers
 * 64 KiB, 1,000,000 containers, a subscriber that falls 64 MiB behind is
 * dropped. Not a Docker: no processes, images, networks, volumes or TTYs.
 *
 * Usage: fake-engine [--run-ms MS] [--image NAME]... [--history N] SOCKET
 * SIGINT/SIGTERM end it cleanly (the socket file is removed).
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "common.h"

#define API_VERSION        "1.41"
#define MIN_API_VERSION    "1.12"
#define BODY_MAX           (1024 * 1024)
#define HEADERS_MAX        (64 * 1024)
#define CONTAINERS_MAX     1000000
#define NAME_MAX_LEN       255
#define IMAGES_MAX         32
#define SUBSCRIBER_BACKLOG (64 * 1024 * 1024) /* bytes unsent before a subscriber is dropped */
#define HISTORY_DEFAULT    10000
#define HISTORY_MAX        1000000
#define RUN_MS_MAX         (24 * 3600 * 1000)
#define BUCKETS            (1u << 16) /* of each hash table; chains grow past 65k containers */

enum cstate { C_CREATED, C_RUNNING, C_EXITED };

static const char *const cstate_names[] = {"created", "running", "exited"};

struct engine;

struct container {
        struct engine *e;
        char id[65];
        char *name; /* without '/' */
        char *image;
        json_t *config; /* the create body, as sent */
        json_t *labels; /* an object of strings; never NULL */
        char *command;  /* for the list: argv joined by spaces */
        char *output;   /* what its logs hold */
        enum cstate state;
        int exit_code;  /* of its command, and once exited the real one */
        int64_t run_ms; /* how long it runs once started */
        int64_t created_ns, started_ns, finished_ns;
        struct event *exit_timer;
        struct waiter *waiters; /* POST /wait calls held until it exits */
        struct container *by_id_next, *by_name_next;
        struct container *prev, *next; /* creation order */
};

/* A /wait request held until its container exits. */
struct waiter {
        struct evhttp_request *req;
        struct evhttp_connection *conn;
        struct container *c;
        struct waiter *next;
};

/* One /events stream, with its filters. */
struct subscriber {
        struct engine *e;
        struct evhttp_request *req;
        struct evhttp_connection *conn;
        json_t *types, *labels, *actions, *containers; /* arrays of strings; NULL: any */
        struct subscriber *prev, *next;
};

/* One event of the history, for ?since=. */
struct past_event {
        int64_t time_nano;
        char id[65];
        char *name;
        const char *action; /* static */
        json_t *labels;     /* a reference to the container's */
        char *line;         /* the JSON line sent, with its '\n' */
        size_t len;
};

struct stats {
        uint64_t requests, creates, conflicts, create_errors, starts, restarts, kills, waits,
            inspects, lists, logs, removes, image_inspects, pulls, events, events_sent,
            subscribers_dropped;
};

struct engine {
        struct event_base *base;
        struct evhttp *http;
        const char *socket_path;
        int64_t run_ms;
        char *images[IMAGES_MAX];
        size_t n_images;
        uint64_t rng;
        struct container *by_id[BUCKETS], *by_name[BUCKETS];
        struct container *first, *last;
        size_t n_containers;
        struct subscriber *subscribers;
        struct past_event *history;
        size_t history_cap, history_len, history_head; /* ring */
        struct stats st;
};

/* ---- small helpers -------------------------------------------------------- */

static int64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Go's RFC 3339 with nanoseconds, as Docker writes times; 0 is Go's zero time. */
#define TIME_MAX 64

static void format_time(int64_t ns, char out[TIME_MAX])
{
        if (ns <= 0) {
                snprintf(out, TIME_MAX, "0001-01-01T00:00:00Z");
                return;
        }
        time_t secs = (time_t)(ns / 1000000000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        snprintf(out, TIME_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%09" PRId64 "Z", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ns % 1000000000);
}

static uint32_t hash(const char *s)
{
        uint32_t h = 2166136261u;
        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 16777619u;
        return h & (BUCKETS - 1);
}

/* xorshift64*: ids that look random and differ between containers; not secret. */
static uint64_t next_random(struct engine *e)
{
        e->rng ^= e->rng >> 12;
        e->rng ^= e->rng << 25;
        e->rng ^= e->rng >> 27;
        return e->rng * 2685821657736338717ull;
}

/* "busybox" and "docker.io/library/busybox:latest" are "busybox:latest". */
static char *image_normalize(const char *ref)
{
        const char *p = ref;
        if (str_has_prefix(p, "docker.io/"))
                p += strlen("docker.io/");
        if (str_has_prefix(p, "library/"))
                p += strlen("library/");
        const char *slash = strrchr(p, '/');
        const char *colon = strrchr(p, ':');
        bool tagged = strchr(p, '@') || (colon && (!slash || colon > slash));
        return tagged ? strdup(p) : str_printf("%s:latest", p);
}

static bool image_known(const struct engine *e, const char *ref)
{
        _cleanup_free_ char *n = image_normalize(ref);
        for (size_t i = 0; n && i < e->n_images; i++)
                if (streq(e->images[i], n))
                        return true;
        return false;
}

/* Docker's rule for names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
static bool name_valid(const char *s)
{
        size_t n = strlen(s);
        if (n < 2 || n > NAME_MAX_LEN)
                return false;
        for (size_t i = 0; i < n; i++) {
                char ch = s[i];
                bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                             (ch >= '0' && ch <= '9');
                if (!alnum && (i == 0 || (ch != '_' && ch != '.' && ch != '-')))
                        return false;
        }
        return true;
}

/* ---- replies --------------------------------------------------------------- */

static void add_common_headers(struct evhttp_request *req, const char *type)
{
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        evhttp_add_header(h, "Api-Version", API_VERSION);
        evhttp_add_header(h, "Server", "Docker/20.10.0-fake (linux)");
        if (type)
                evhttp_add_header(h, "Content-Type", type);
}

static void free_text(const void *data, size_t len, void *extra)
{
        (void)len, (void)extra;
        free((void *)data);
}

/* Sends text (taken) with status code; NULL text: an empty body. */
static void reply_text(struct evhttp_request *req, int code, const char *type, char *text,
                       size_t len)
{
        struct evbuffer *b = evbuffer_new();
        add_common_headers(req, text ? type : NULL);
        if (b && text && evbuffer_add_reference(b, text, len, free_text, NULL) == 0)
                text = NULL;
        free(text);
        evhttp_send_reply(req, code, NULL, b);
        if (b)
                evbuffer_free(b);
}

static void reply_json(struct evhttp_request *req, int code, json_t *j)
{
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (!s) {
                reply_text(req, 500, "text/plain", strdup("out of memory\n"),
                           strlen("out of memory\n"));
                return;
        }
        size_t n = strlen(s);
        reply_text(req, code, "application/json", s, n);
}

static void reply_error(struct evhttp_request *req, int code, const char *fmt, ...) _printf_(3, 4);
static void reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        reply_json(req, code, json_pack("{s:s}", "message", msg));
}

static void reply_empty(struct evhttp_request *req, int code)
{
        reply_text(req, code, NULL, NULL, 0);
}

/* ---- the container table --------------------------------------------------- */

static struct container *find_by_id(struct engine *e, const char *id)
{
        for (struct container *c = e->by_id[hash(id)]; c; c = c->by_id_next)
                if (streq(c->id, id))
                        return c;
        return NULL;
}

static struct container *find_by_name(struct engine *e, const char *name)
{
        for (struct container *c = e->by_name[hash(name)]; c; c = c->by_name_next)
                if (streq(c->name, name))
                        return c;
        return NULL;
}

/* By full id, name ("/name" too), or a unique id prefix, as Docker looks up. */
static struct container *lookup(struct engine *e, const char *ref)
{
        if (ref[0] == '/')
                ref++;
        struct container *c = find_by_id(e, ref);
        if (c || (c = find_by_name(e, ref)))
                return c;
        size_t n = strlen(ref), found = 0;
        if (n == 0 || n >= 64)
                return NULL;
        for (struct container *i = e->first; i; i = i->next)
                if (strncmp(i->id, ref, n) == 0) {
                        c = i;
                        found++;
                }
        return found == 1 ? c : NULL;
}

static void unlink_chain(struct container **head, struct container *c, bool by_id)
{
        for (struct container **p = head; *p; p = by_id ? &(*p)->by_id_next : &(*p)->by_name_next)
                if (*p == c) {
                        *p = by_id ? c->by_id_next : c->by_name_next;
                        return;
                }
}

static void waiter_free(struct waiter *w)
{
        if (w->conn)
                evhttp_connection_set_closecb(w->conn, NULL, NULL);
        free(w);
}

static void container_free(struct container *c)
{
        if (!c)
                return;
        if (c->exit_timer)
                event_free(c->exit_timer);
        while (c->waiters) {
                struct waiter *w = c->waiters;
                c->waiters = w->next;
                reply_error(w->req, 404, "No such container: %s", c->id);
                waiter_free(w);
        }
        free(c->name);
        free(c->image);
        free(c->command);
        free(c->output);
        json_decref(c->config);
        json_decref(c->labels);
        free(c);
}

static void container_remove(struct engine *e, struct container *c)
{
        unlink_chain(&e->by_id[hash(c->id)], c, true);
        unlink_chain(&e->by_name[hash(c->name)], c, false);
        if (c->prev)
                c->prev->next = c->next;
        else
                e->first = c->next;
        if (c->next)
                c->next->prev = c->prev;
        else
                e->last = c->prev;
        e->n_containers--;
        container_free(c);
}

/* ---- events ------------------------------------------------------------------ */

/* Docker's filter values: an array of strings, or (older clients) an object
 * whose keys are the values. NULL when absent; -EINVAL when malformed. */
static int filter_values(const json_t *filters, const char *key, json_t **ret)
{
        json_t *v = json_object_get(filters, key), *out;
        size_t i;
        const char *k;
        json_t *x;

        *ret = NULL;
        if (!v)
                return 0;
        out = json_array();
        if (!out)
                return -ENOMEM;
        if (json_is_array(v)) {
                json_array_foreach(v, i, x)
                {
                        if (!json_is_string(x)) {
                                json_decref(out);
                                return -EINVAL;
                        }
                        json_array_append(out, x);
                }
        } else if (json_is_object(v)) {
                json_object_foreach(v, k, x) json_array_append_new(out, json_string(k));
        } else {
                json_decref(out);
                return -EINVAL;
        }
        *ret = out;
        return 0;
}

/* Every "key" or "key=value" of want holds in labels. */
static bool labels_match(const json_t *want, const json_t *labels)
{
        size_t i;
        json_t *x;

        json_array_foreach(want, i, x)
        {
                const char *f = json_string_value(x), *eq = strchr(f, '=');
                char key[512];
                size_t kl = eq ? (size_t)(eq - f) : strlen(f);
                if (kl >= sizeof(key))
                        return false;
                memcpy(key, f, kl);
                key[kl] = '\0';
                const char *have = json_string_value(json_object_get(labels, key));
                if (!have || (eq && !streq(have, eq + 1)))
                        return false;
        }
        return true;
}

static bool any_equals(const json_t *values, const char *s)
{
        size_t i;
        json_t *x;

        if (!values)
                return true;
        json_array_foreach(values, i, x) if (streq(json_string_value(x), s)) return true;
        return false;
}

static bool subscriber_wants(const struct subscriber *s, const char *id, const char *name,
                             const char *action, const json_t *labels)
{
        if (!any_equals(s->types, "container") || !any_equals(s->actions, action))
                return false;
        if (s->labels && !labels_match(s->labels, labels))
                return false;
        if (s->containers) {
                size_t i;
                json_t *x;
                bool hit = false;
                json_array_foreach(s->containers, i, x)
                {
                        const char *v = json_string_value(x);
                        if (streq(v, name) || (strlen(v) <= 64 && str_has_prefix(id, v)))
                                hit = true;
                }
                return hit;
        }
        return true;
}

static void subscriber_free(struct subscriber *s)
{
        json_decref(s->types);
        json_decref(s->labels);
        json_decref(s->actions);
        json_decref(s->containers);
        free(s);
}

static void subscriber_unlink(struct subscriber *s)
{
        if (s->prev)
                s->prev->next = s->next;
        else
                s->e->subscribers = s->next;
        if (s->next)
                s->next->prev = s->prev;
}

/* A request whose client went away while it was held (a stream, a wait):
 * evhttp detached it from the connection and leaves it to us. */
static void free_detached(struct evhttp_request *req)
{
        if (req && !evhttp_request_get_connection(req))
                evhttp_request_free(req);
}

static void on_subscriber_close(struct evhttp_connection *conn, void *arg)
{
        struct subscriber *s = arg;
        (void)conn;
        free_detached(s->req);
        subscriber_unlink(s);
        subscriber_free(s);
}

static size_t output_backlog(struct evhttp_connection *conn)
{
        struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
        return bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

/* false when s was dropped (and freed) for falling too far behind. */
static bool subscriber_send(struct subscriber *s, const char *line, size_t len)
{
        if (output_backlog(s->conn) > SUBSCRIBER_BACKLOG) {
                /* Ends the stream: the close callback frees s. */
                s->e->st.subscribers_dropped++;
                evhttp_connection_free(s->conn);
                return false;
        }
        struct evbuffer *b = evbuffer_new();
        if (!b)
                return true;
        evbuffer_add(b, line, len);
        evhttp_send_reply_chunk(s->req, b);
        evbuffer_free(b);
        s->e->st.events_sent++;
        return true;
}

static void history_add(struct engine *e, const struct container *c, const char *action, int64_t t,
                        const char *line, size_t len)
{
        if (e->history_cap == 0)
                return;
        struct past_event *p;
        if (e->history_len < e->history_cap) {
                p = &e->history[(e->history_head + e->history_len++) % e->history_cap];
        } else {
                p = &e->history[e->history_head];
                e->history_head = (e->history_head + 1) % e->history_cap;
                free(p->name);
                free(p->line);
                json_decref(p->labels);
        }
        *p = (struct past_event){.time_nano = t, .action = action, .len = len};
        memcpy(p->id, c->id, sizeof(p->id));
        p->name = strdup(c->name);
        p->labels = json_incref(c->labels);
        p->line = malloc(len);
        if (p->line)
                memcpy(p->line, line, len);
        else
                p->len = 0;
}

/* Emits one container event to the subscribers that want it, and keeps it. */
static void emit(struct engine *e, const struct container *c, const char *action,
                 const char *exit_code)
{
        int64_t t = now_ns();
        json_t *attrs = json_copy(c->labels);
        if (!attrs)
                return;
        json_object_set_new(attrs, "name", json_string(c->name));
        json_object_set_new(attrs, "image", json_string(c->image));
        if (exit_code)
                json_object_set_new(attrs, "exitCode", json_string(exit_code));
        _cleanup_json_ json_t *ev =
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:o}, s:s, s:I, s:I}", "status", action,
                      "id", c->id, "from", c->image, "Type", "container", "Action", action, "Actor",
                      "ID", c->id, "Attributes", attrs, "scope", "local", "time",
                      (json_int_t)(t / 1000000000), "timeNano", (json_int_t)t);
        _cleanup_free_ char *s = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
        if (!s)
                return;
        size_t len = strlen(s);
        _cleanup_free_ char *line = malloc(len + 1);
        if (!line)
                return;
        memcpy(line, s, len);
        line[len++] = '\n';
        e->st.events++;
        history_add(e, c, action, t, line, len);
        for (struct subscriber *sub = e->subscribers, *next; sub; sub = next) {
                next = sub->next;
                if (subscriber_wants(sub, c->id, c->name, action, c->labels))
                        subscriber_send(sub, line, len);
        }
}

/* GET /events?filters=...&since=SECS[.NANOS] */
static void handle_events(struct engine *e, struct evhttp_request *req, struct evkeyvalq *q)
{
        const char *f = evhttp_find_header(q, "filters");
        const char *since_s = evhttp_find_header(q, "since");
        const char *until = evhttp_find_header(q, "until");
        _cleanup_json_ json_t *filters = NULL;
        int64_t since = 0;

        if (until) {
                reply_error(req, 400, "until is not supported by fake-engine");
                return;
        }
        if (f) {
                filters = json_loads(f, 0, NULL);
                if (!json_is_object(filters)) {
                        reply_error(req, 400, "invalid filter: %s", f);
                        return;
                }
                const char *k;
                json_t *v;
                json_object_foreach(filters, k, v)
                {
                        if (!streq(k, "type") && !streq(k, "label") && !streq(k, "event") &&
                            !streq(k, "container")) {
                                reply_error(req, 400, "invalid filter '%s'", k);
                                return;
                        }
                }
        }
        if (since_s) {
                char *end;
                errno = 0;
                long long secs = strtoll(since_s, &end, 10);
                long long nanos = 0;
                if (*end == '.') {
                        const char *frac = end + 1;
                        nanos = strtoll(frac, &end, 10);
                        for (size_t d = (size_t)(end - frac); d < 9; d++)
                                nanos *= 10;
                }
                if (errno || *end || end == since_s || secs < 0 || secs > INT64_MAX / 1000000000 ||
                    nanos < 0 || nanos > 999999999) {
                        reply_error(req, 400, "invalid since: %s", since_s);
                        return;
                }
                since = (int64_t)secs * 1000000000 + nanos;
        }
        struct subscriber *s = calloc(1, sizeof(*s));
        if (!s) {
                reply_error(req, 500, "out of memory");
                return;
        }
        *s = (struct subscriber){.e = e, .req = req, .conn = evhttp_request_get_connection(req)};
        if (filter_values(filters, "type", &s->types) < 0 ||
            filter_values(filters, "label", &s->labels) < 0 ||
            filter_values(filters, "event", &s->actions) < 0 ||
            filter_values(filters, "container", &s->containers) < 0) {
                subscriber_free(s);
                reply_error(req, 400, "invalid filter value: %s", f);
                return;
        }
        add_common_headers(req, "application/json");
        evhttp_send_reply_start(req, 200, "OK");
        /* Idle streams are normal: only writes may time out. */
        struct timeval wtv = {.tv_sec = 60};
        bufferevent_set_timeouts(evhttp_connection_get_bufferevent(s->conn), NULL, &wtv);
        evhttp_connection_set_closecb(s->conn, on_subscriber_close, s);
        s->next = e->subscribers;
        if (e->subscribers)
                e->subscribers->prev = s;
        e->subscribers = s;
        for (size_t i = 0; since > 0 && i < e->history_len; i++) {
                const struct past_event *p = &e->history[(e->history_head + i) % e->history_cap];
                if (p->time_nano >= since && p->len > 0 &&
                    subscriber_wants(s, p->id, p->name ? p->name : "", p->action, p->labels) &&
                    !subscriber_send(s, p->line, p->len))
                        return;
        }
}

/* ---- container lifecycle ------------------------------------------------------ */

static void reply_wait(struct evhttp_request *req, const struct container *c)
{
        reply_json(req, 200, json_pack("{s:i, s:n}", "StatusCode", c->exit_code, "Error"));
}

static void container_exit(struct container *c, int code)
{
        char num[16];

        if (c->exit_timer)
                evtimer_del(c->exit_timer);
        c->state = C_EXITED;
        c->exit_code = code;
        c->finished_ns = now_ns();
        snprintf(num, sizeof(num), "%d", code);
        emit(c->e, c, "die", num);
        while (c->waiters) {
                struct waiter *w = c->waiters;
                c->waiters = w->next;
                reply_wait(w->req, c);
                waiter_free(w);
        }
}

static void on_exit_timer(evutil_socket_t fd, short what, void *arg)
{
        struct container *c = arg;
        (void)fd, (void)what;
        if (c->state == C_RUNNING)
                container_exit(c, c->exit_code);
}

/* What the command does: exit code, running time, output. */
static void plan_command(struct engine *e, struct container *c)
{
        json_t *ep = json_object_get(c->config, "Entrypoint");
        json_t *cmd = json_object_get(c->config, "Cmd");
        _cleanup_json_ json_t *argv = json_array();
        struct buf joined;
        size_t i;
        json_t *x;

        c->run_ms = e->run_ms;
        if (!argv)
                return;
        if (json_is_string(ep))
                json_array_append(argv, ep);
        else if (json_is_array(ep))
                json_array_extend(argv, ep);
        if (json_is_string(cmd))
                json_array_append(argv, cmd);
        else if (json_is_array(cmd))
                json_array_extend(argv, cmd);
        if (json_array_size(argv) == 0)
                json_array_append_new(argv, json_string("sh")); /* busybox's CMD */
        buf_init(&joined, 64 * 1024);
        json_array_foreach(argv, i, x)
        {
                if (i > 0)
                        buf_append_str(&joined, " ");
                buf_append_str(&joined, json_is_string(x) ? json_string_value(x) : "?");
        }
        c->command = buf_steal(&joined);
        buf_release(&joined);

        const char *a0 = json_string_value(json_array_get(argv, 0));
        const char *a1 = json_string_value(json_array_get(argv, 1));
        const char *a2 = json_string_value(json_array_get(argv, 2));
        a0 = a0 ? a0 : "";
        const char *base = strrchr(a0, '/') ? strrchr(a0, '/') + 1 : a0;
        if (streq(base, "false")) {
                c->exit_code = 1;
        } else if (streq(base, "sleep") && a1) {
                double secs = strtod(a1, NULL);
                if (secs > 0 && secs * 1000 <= RUN_MS_MAX)
                        c->run_ms = (int64_t)(secs * 1000);
        } else if (streq(base, "echo")) {
                const char *rest = strchr(c->command ? c->command : "", ' ');
                c->output = str_printf("%s\n", rest ? rest + 1 : "");
        } else if (streq(base, "sh") && a1 && streq(a1, "-c") && a2) {
                int code;
                if (sscanf(a2, "exit %d", &code) == 1)
                        c->exit_code = code & 0xff;
                else if (str_has_prefix(a2, "echo "))
                        c->output = str_printf("%s\n", a2 + strlen("echo "));
        }
}

/* POST /containers/create?name=NAME */
static void handle_create(struct engine *e, struct evhttp_request *req, struct evkeyvalq *q)
{
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(in);
        const char *name = evhttp_find_header(q, "name");
        json_error_t jerr;

        _cleanup_json_ json_t *body =
            json_loadb((const char *)evbuffer_pullup(in, (ssize_t)len), len, 0, &jerr);
        if (!json_is_object(body)) {
                e->st.create_errors++;
                reply_error(req, 400, "invalid JSON: %s", body ? "not an object" : jerr.text);
                return;
        }
        const char *image = json_string_value(json_object_get(body, "Image"));
        json_t *labels = json_object_get(body, "Labels");
        if (!image || !image[0]) {
                e->st.create_errors++;
                reply_error(req, 400, "Config cannot be empty in order to create a container");
                return;
        }
        if (labels && !json_is_null(labels) && !json_is_string_map(labels)) {
                e->st.create_errors++;
                reply_error(req, 400, "Labels: want an object of strings");
                return;
        }
        if (name && name[0] == '/')
                name++;
        if (name && !name_valid(name)) {
                e->st.create_errors++;
                reply_error(req, 400,
                            "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are "
                            "allowed",
                            name);
                return;
        }
        struct container *taken = name ? find_by_name(e, name) : NULL;
        if (taken) {
                e->st.conflicts++;
                reply_error(req, 409,
                            "Conflict. The container name \"/%s\" is already in use by container "
                            "\"%s\". You have to remove (or rename) that container to be able to "
                            "reuse that name.",
                            name, taken->id);
                return;
        }
        if (!image_known(e, image)) {
                e->st.create_errors++;
                reply_error(req, 404, "No such image: %s", image);
                return;
        }
        if (e->n_containers >= CONTAINERS_MAX) {
                e->st.create_errors++;
                reply_error(req, 500, "fake-engine holds %d containers already", CONTAINERS_MAX);
                return;
        }

        struct container *c = calloc(1, sizeof(*c));
        if (!c) {
                reply_error(req, 500, "out of memory");
                return;
        }
        c->e = e;
        do {
                for (int i = 0; i < 4; i++)
                        snprintf(c->id + 16 * i, 17, "%016" PRIx64, next_random(e));
        } while (find_by_id(e, c->id));
        c->name = name ? strdup(name) : str_printf("fake_%.12s", c->id);
        c->image = strdup(image);
        c->config = json_incref(body);
        c->labels = json_is_object(labels) ? json_incref(labels) : json_object();
        c->created_ns = now_ns();
        c->state = C_CREATED;
        c->exit_timer = evtimer_new(e->base, on_exit_timer, c);
        if (!c->name || !c->image || !c->labels || !c->exit_timer) {
                container_free(c);
                reply_error(req, 500, "out of memory");
                return;
        }
        plan_command(e, c);
        uint32_t hi = hash(c->id), hn = hash(c->name);
        c->by_id_next = e->by_id[hi];
        e->by_id[hi] = c;
        c->by_name_next = e->by_name[hn];
        e->by_name[hn] = c;
        c->prev = e->last;
        if (e->last)
                e->last->next = c;
        else
                e->first = c;
        e->last = c;
        e->n_containers++;
        e->st.creates++;
        emit(e, c, "create", NULL);
        reply_json(req, 201, json_pack("{s:s, s:[]}", "Id", c->id, "Warnings"));
}

static void handle_start(struct engine *e, struct evhttp_request *req, struct container *c)
{
        if (c->state == C_RUNNING) {
                reply_empty(req, 304);
                return;
        }
        if (c->state == C_EXITED)
                e->st.restarts++; /* Docker runs an exited container again */
        e->st.starts++;
        c->state = C_RUNNING;
        c->started_ns = now_ns();
        c->finished_ns = 0;
        emit(e, c, "start", NULL);
        reply_empty(req, 204);
        /* Exits after the reply is queued: at the earliest on the loop's next turn. */
        struct timeval tv = {.tv_sec = c->run_ms / 1000, .tv_usec = (c->run_ms % 1000) * 1000};
        evtimer_add(c->exit_timer, &tv);
}

static void handle_kill(struct engine *e, struct evhttp_request *req, struct container *c,
                        struct evkeyvalq *q)
{
        const char *sig = evhttp_find_header(q, "signal");
        if (c->state != C_RUNNING) {
                reply_error(req, 409, "Container %s is not running", c->id);
                return;
        }
        e->st.kills++;
        emit(e, c, "kill", NULL);
        container_exit(c, sig && (streq(sig, "SIGTERM") || streq(sig, "TERM") || streq(sig, "15"))
                              ? 143
                              : 137);
        reply_empty(req, 204);
}

static void on_waiter_close(struct evhttp_connection *conn, void *arg)
{
        struct waiter *w = arg;
        (void)conn;
        free_detached(w->req);
        for (struct waiter **p = &w->c->waiters; *p; p = &(*p)->next)
                if (*p == w) {
                        *p = w->next;
                        break;
                }
        w->conn = NULL;
        waiter_free(w);
}

static void handle_wait(struct engine *e, struct evhttp_request *req, struct container *c)
{
        e->st.waits++;
        if (c->state != C_RUNNING) {
                reply_wait(req, c);
                return;
        }
        struct waiter *w = calloc(1, sizeof(*w));
        if (!w) {
                reply_error(req, 500, "out of memory");
                return;
        }
        *w = (struct waiter){
            .req = req, .conn = evhttp_request_get_connection(req), .c = c, .next = c->waiters};
        c->waiters = w;
        evhttp_connection_set_closecb(w->conn, on_waiter_close, w);
}

static json_t *inspect_json(const struct container *c)
{
        char created[TIME_MAX], started[TIME_MAX], finished[TIME_MAX];
        format_time(c->created_ns, created);
        format_time(c->started_ns, started);
        format_time(c->finished_ns, finished);
        json_t *config = json_deep_copy(c->config);
        json_t *hc = json_incref(json_object_get(config, "HostConfig"));
        if (!config)
                return NULL;
        json_object_del(config, "HostConfig");
        json_object_set(config, "Labels", c->labels);
        return json_pack(
            "{s:s, s:s, s:s, s:s, s:{s:s, s:b, s:b, s:b, s:b, s:b, s:i, s:i, s:s, "
            "s:s, s:s}, s:s, s:s, s:i, s:o, s:o}",
            "Id", c->id, "Created", created, "Name", "/", "Path", c->command ?: "", "State",
            "Status", cstate_names[c->state], "Running", c->state == C_RUNNING, "Paused", 0,
            "Restarting", 0, "OOMKilled", 0, "Dead", 0, "Pid", c->state == C_RUNNING ? 4242 : 0,
            "ExitCode", c->state == C_EXITED ? c->exit_code : 0, "Error", "", "StartedAt", started,
            "FinishedAt", finished, "Image",
            "sha256:0000000000000000000000000000000000000000000000000000000000000b05", "Driver",
            "fake", "RestartCount", 0, "Config", config, "HostConfig", hc ? hc : json_object());
}

static void handle_inspect(struct engine *e, struct evhttp_request *req, struct container *c)
{
        e->st.inspects++;
        json_t *j = inspect_json(c);
        _cleanup_free_ char *name = str_printf("/%s", c->name);
        if (j && name)
                json_object_set_new(j, "Name", json_string(name));
        reply_json(req, 200, j);
}

static void status_text(const struct container *c, char *out, size_t size)
{
        int64_t now = now_ns();
        switch (c->state) {
        case C_CREATED:
                snprintf(out, size, "Created");
                return;
        case C_RUNNING:
                snprintf(out, size, "Up %" PRId64 " seconds", (now - c->started_ns) / 1000000000);
                return;
        case C_EXITED:
                snprintf(out, size, "Exited (%d) %" PRId64 " seconds ago", c->exit_code,
                         (now - c->finished_ns) / 1000000000);
                return;
        }
}

/* GET /containers/json?all=1&filters={"label":[...],"name":[...],"id":[...],"status":[...]} */
static void handle_list(struct engine *e, struct evhttp_request *req, struct evkeyvalq *q)
{
        const char *f = evhttp_find_header(q, "filters");
        const char *all_s = evhttp_find_header(q, "all");
        bool all = all_s && (streq(all_s, "1") || streq(all_s, "true"));
        _cleanup_json_ json_t *filters = NULL, *labels = NULL, *names = NULL, *ids = NULL,
                              *status = NULL;

        e->st.lists++;
        if (f) {
                filters = json_loads(f, 0, NULL);
                const char *k;
                json_t *v;
                if (!json_is_object(filters)) {
                        reply_error(req, 400, "invalid filter: %s", f);
                        return;
                }
                json_object_foreach(filters, k, v)
                {
                        if (!streq(k, "label") && !streq(k, "name") && !streq(k, "id") &&
                            !streq(k, "status")) {
                                reply_error(req, 400, "invalid filter '%s'", k);
                                return;
                        }
                }
                if (filter_values(filters, "label", &labels) < 0 ||
                    filter_values(filters, "name", &names) < 0 ||
                    filter_values(filters, "id", &ids) < 0 ||
                    filter_values(filters, "status", &status) < 0) {
                        reply_error(req, 400, "invalid filter value: %s", f);
                        return;
                }
        }
        json_t *out = json_array();
        for (struct container *c = out ? e->first : NULL; c; c = c->next) {
                size_t i;
                json_t *x;
                bool ok = all || c->state == C_RUNNING;
                if (labels && !labels_match(labels, c->labels))
                        ok = false;
                if (status && !any_equals(status, cstate_names[c->state]))
                        ok = false;
                if (names) {
                        bool hit = false;
                        json_array_foreach(names, i, x) if (strstr(c->name, json_string_value(x)))
                            hit = true;
                        ok = ok && hit;
                }
                if (ids) {
                        bool hit = false;
                        json_array_foreach(
                            ids, i, x) if (str_has_prefix(c->id, json_string_value(x))) hit = true;
                        ok = ok && hit;
                }
                if (!ok)
                        continue;
                char text[96];
                status_text(c, text, sizeof(text));
                _cleanup_free_ char *name = str_printf("/%s", c->name);
                json_t *hc = json_object_get(c->config, "HostConfig");
                const char *net = json_string_value(json_object_get(hc, "NetworkMode"));
                json_array_append_new(
                    out,
                    json_pack("{s:s, s:[s], s:s, s:s, s:s, s:I, s:[], s:O, s:s, s:s, "
                              "s:{s:s}, s:[]}",
                              "Id", c->id, "Names", name ? name : "", "Image", c->image, "ImageID",
                              "sha256:000000000000000000000000000000000000000000000000000000"
                              "0000000b05",
                              "Command", c->command ?: "", "Created",
                              (json_int_t)(c->created_ns / 1000000000), "Ports", "Labels",
                              c->labels, "State", cstate_names[c->state], "Status", text,
                              "HostConfig", "NetworkMode", net ? net : "default", "Mounts"));
        }
        reply_json(req, 200, out);
}

/* GET /containers/{id}/logs: the multiplexed stream of a non-TTY container
 * (stdout frames only). follow ends at once too: nothing more ever comes. */
static void handle_logs(struct engine *e, struct evhttp_request *req, struct container *c)
{
        e->st.logs++;
        size_t n = c->output ? strlen(c->output) : 0;
        char *body = malloc(n + 8);
        if (!body) {
                reply_error(req, 500, "out of memory");
                return;
        }
        if (n == 0) {
                free(body);
                reply_text(req, 200, "application/vnd.docker.raw-stream", NULL, 0);
                return;
        }
        unsigned char hdr[8] = {1,
                                0,
                                0,
                                0,
                                (unsigned char)(n >> 24),
                                (unsigned char)(n >> 16),
                                (unsigned char)(n >> 8),
                                (unsigned char)n};
        memcpy(body, hdr, 8);
        memcpy(body + 8, c->output, n);
        reply_text(req, 200, "application/vnd.docker.raw-stream", body, n + 8);
}

static void handle_remove(struct engine *e, struct evhttp_request *req, struct container *c,
                          struct evkeyvalq *q)
{
        const char *force = evhttp_find_header(q, "force");
        if (c->state == C_RUNNING) {
                if (!force || !(streq(force, "1") || streq(force, "true"))) {
                        reply_error(req, 409,
                                    "You cannot remove a running container %s. Stop the "
                                    "container before attempting removal or force remove",
                                    c->id);
                        return;
                }
                emit(e, c, "kill", NULL);
                container_exit(c, 137);
        }
        e->st.removes++;
        emit(e, c, "destroy", NULL);
        container_remove(e, c);
        reply_empty(req, 204);
}

/* ---- images ------------------------------------------------------------------- */

static void handle_image_inspect(struct engine *e, struct evhttp_request *req, const char *ref)
{
        e->st.image_inspects++;
        if (!image_known(e, ref)) {
                reply_error(req, 404, "No such image: %s", ref);
                return;
        }
        _cleanup_free_ char *n = image_normalize(ref);
        reply_json(req, 200,
                   json_pack("{s:s, s:[s], s:[], s:{s:s, s:[s], s:[s]}, s:s, s:s, s:I}", "Id",
                             "sha256:0000000000000000000000000000000000000000000000000000000000000"
                             "b05",
                             "RepoTags", n ? n : ref, "RepoDigests", "Config", "User", "", "Cmd",
                             "sh", "Env",
                             "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                             "Os", "linux", "Architecture", "amd64", "Size", (json_int_t)1240000));
}

/* POST /images/create?fromImage=NAME&tag=TAG: there is no registry. */
static void handle_pull(struct engine *e, struct evhttp_request *req, struct evkeyvalq *q)
{
        const char *from = evhttp_find_header(q, "fromImage");
        const char *tag = evhttp_find_header(q, "tag");

        e->st.pulls++;
        if (!from) {
                reply_error(req, 400, "fromImage is required");
                return;
        }
        _cleanup_free_ char *ref = tag && tag[0] ? str_printf("%s:%s", from, tag) : strdup(from);
        if (!ref || !image_known(e, ref)) {
                reply_error(req, 404,
                            "pull access denied for %s, repository does not exist or may require "
                            "'docker login'",
                            from);
                return;
        }
        char *text = str_printf("{\"status\":\"Status: Image is up to date for %s\"}\n", ref);
        reply_text(req, 200, "application/json", text, text ? strlen(text) : 0);
}

/* ---- routing -------------------------------------------------------------------- */

static void handle_stats(struct engine *e, struct evhttp_request *req)
{
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        size_t running = 0, exited = 0, subs = 0;
        for (struct container *c = e->first; c; c = c->next) {
                running += c->state == C_RUNNING;
                exited += c->state == C_EXITED;
        }
        for (struct subscriber *s = e->subscribers; s; s = s->next)
                subs++;
        json_t *j = json_pack(
            "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
            "s:I, s:I, s:I, s:I, s:f, s:I}",
            "requests", (json_int_t)e->st.requests, "creates", (json_int_t)e->st.creates,
            "conflicts", (json_int_t)e->st.conflicts, "createErrors",
            (json_int_t)e->st.create_errors, "starts", (json_int_t)e->st.starts, "restarts",
            (json_int_t)e->st.restarts, "kills", (json_int_t)e->st.kills, "waits",
            (json_int_t)e->st.waits, "inspects", (json_int_t)e->st.inspects, "lists",
            (json_int_t)e->st.lists, "logs", (json_int_t)e->st.logs, "removes",
            (json_int_t)e->st.removes, "imageInspects", (json_int_t)e->st.image_inspects, "pulls",
            (json_int_t)e->st.pulls, "events", (json_int_t)e->st.events, "eventsSent",
            (json_int_t)e->st.events_sent, "subscribersDropped",
            (json_int_t)e->st.subscribers_dropped, "subscribers", (json_int_t)subs, "containers",
            (json_int_t)e->n_containers, "running", (json_int_t)running, "exited",
            (json_int_t)exited, "cpuSeconds", cpu, "maxRssKiB", (json_int_t)ru.ru_maxrss);
        reply_json(req, 200, j);
}

/* "/v1.41/containers/json" → "/containers/json"; unversioned paths stay. */
static const char *strip_version(const char *path)
{
        const char *p = path;
        if (p[0] != '/' || p[1] != 'v' || !(p[2] >= '0' && p[2] <= '9'))
                return path;
        p += 2;
        while (*p >= '0' && *p <= '9')
                p++;
        if (*p != '.')
                return path;
        p++;
        while (*p >= '0' && *p <= '9')
                p++;
        return *p == '/' ? p : path;
}

static void route_container(struct engine *e, struct evhttp_request *req, enum evhttp_cmd_type m,
                            const char *rest, struct evkeyvalq *q)
{
        const char *slash = strchr(rest, '/');
        _cleanup_free_ char *ref = NULL;
        size_t idlen = slash ? (size_t)(slash - rest) : strlen(rest);
        const char *verb = slash ? slash + 1 : "";

        if (idlen == 0 || percent_decode(rest, idlen, false, &ref) < 0) {
                reply_error(req, 404, "page not found");
                return;
        }
        struct container *c = lookup(e, ref);
        if (!c) {
                reply_error(req, 404, "No such container: %s", ref);
                return;
        }
        if (!slash && m == EVHTTP_REQ_DELETE)
                handle_remove(e, req, c, q);
        else if (m == EVHTTP_REQ_GET && streq(verb, "json"))
                handle_inspect(e, req, c);
        else if (m == EVHTTP_REQ_POST && streq(verb, "start"))
                handle_start(e, req, c);
        else if (m == EVHTTP_REQ_POST && streq(verb, "kill"))
                handle_kill(e, req, c, q);
        else if (m == EVHTTP_REQ_POST && streq(verb, "wait"))
                handle_wait(e, req, c);
        else if (m == EVHTTP_REQ_GET && streq(verb, "logs"))
                handle_logs(e, req, c);
        else
                reply_error(req, 404, "page not found");
}

static void on_request(struct evhttp_request *req, void *arg)
{
        struct engine *e = arg;
        const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
        const char *raw = uri ? evhttp_uri_get_path(uri) : NULL;
        const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
        enum evhttp_cmd_type m = evhttp_request_get_command(req);
        struct evkeyvalq q = {0};

        e->st.requests++;
        TAILQ_INIT(&q);
        if (!raw || (query && evhttp_parse_query_str(query, &q) < 0)) {
                reply_error(req, 400, "bad request");
                evhttp_clear_headers(&q);
                return;
        }
        const char *path = strip_version(raw);
        bool get = m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD, post = m == EVHTTP_REQ_POST;

        if (get && streq(path, "/_ping"))
                reply_text(req, 200, "text/plain; charset=utf-8", strdup("OK"), 2);
        else if (get && streq(path, "/version"))
                reply_json(req, 200,
                           json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Version",
                                     "20.10.0-fake", "ApiVersion", API_VERSION, "MinAPIVersion",
                                     MIN_API_VERSION, "Os", "linux", "Arch", "amd64",
                                     "KernelVersion", "fake", "GitCommit", "fake"));
        else if (get && streq(path, "/info"))
                reply_json(req, 200,
                           json_pack("{s:I, s:s, s:s, s:s}", "Containers",
                                     (json_int_t)e->n_containers, "Name", "fake-engine",
                                     "ServerVersion", "20.10.0-fake", "Driver", "fake"));
        else if (get && streq(path, "/events"))
                handle_events(e, req, &q);
        else if (get && streq(path, "/containers/json"))
                handle_list(e, req, &q);
        else if (post && streq(path, "/containers/create"))
                handle_create(e, req, &q);
        else if (str_has_prefix(path, "/containers/"))
                route_container(e, req, m, path + strlen("/containers/"), &q);
        else if (post && streq(path, "/images/create"))
                handle_pull(e, req, &q);
        else if (get && str_has_prefix(path, "/images/") && str_has_suffix(path, "/json") &&
                 strlen(path) > strlen("/images//json")) {
                const char *name = path + strlen("/images/");
                _cleanup_free_ char *ref = NULL;
                if (percent_decode(name, strlen(name) - strlen("/json"), false, &ref) < 0)
                        reply_error(req, 400, "bad image name");
                else
                        handle_image_inspect(e, req, ref);
        } else if (get && streq(path, "/fake/stats"))
                handle_stats(e, req);
        else
                reply_error(req, 404, "page not found");
        evhttp_clear_headers(&q);
}

/* ---- main -------------------------------------------------------------------------- */

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
        (void)fd, (void)what;
        event_base_loopexit(arg, NULL);
}

static int listen_unix(const char *path)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (str_copy(sa.sun_path, sizeof(sa.sun_path), path) < 0)
                return -ENAMETOOLONG;
        int r = unix_socket_clear_stale(path);
        if (r < 0)
                return r;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 512) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static void engine_release(struct engine *e)
{
        /* Held requests go with their connections in evhttp_free: forget
         * them first, so that nothing answers or frees them twice. */
        while (e->subscribers) {
                struct subscriber *s = e->subscribers;
                evhttp_connection_set_closecb(s->conn, NULL, NULL);
                subscriber_unlink(s);
                subscriber_free(s);
        }
        for (struct container *c = e->first; c; c = c->next)
                while (c->waiters) {
                        struct waiter *w = c->waiters;
                        c->waiters = w->next;
                        waiter_free(w);
                }
        if (e->http)
                evhttp_free(e->http);
        while (e->first)
                container_remove(e, e->first);
        for (size_t i = 0; i < e->history_len; i++) {
                struct past_event *p = &e->history[(e->history_head + i) % e->history_cap];
                free(p->name);
                free(p->line);
                json_decref(p->labels);
        }
        free(e->history);
        for (size_t i = 0; i < e->n_images; i++)
                free(e->images[i]);
        if (e->base)
                event_base_free(e->base);
}

static int usage(int code)
{
        fprintf(code ? stderr : stdout,
                "usage: fake-engine [--run-ms MS] [--image NAME]... [--history N] SOCKET\n"
                "  an in-memory Docker Engine API on unix socket SOCKET (bench/controller.sh)\n"
                "  --run-ms MS   how long a started container runs (default 0: exits at once)\n"
                "  --image NAME  an image it has (repeatable; default busybox:latest)\n"
                "  --history N   events kept for ?since= (default %d)\n",
                HISTORY_DEFAULT);
        return code;
}

static int parse_count(const char *s, long long max, long long *ret)
{
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || *end || end == s || v < 0 || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {{"run-ms", required_argument, NULL, 'r'},
                                             {"image", required_argument, NULL, 'i'},
                                             {"history", required_argument, NULL, 'H'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
        static struct engine e; /* large (hash tables): not on the stack */
        long long v, history = HISTORY_DEFAULT;
        int c, rc = 1;

        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'r':
                        if (parse_count(optarg, RUN_MS_MAX, &v) < 0) {
                                fprintf(stderr, "fake-engine: --run-ms %s: want 0..%d\n", optarg,
                                        RUN_MS_MAX);
                                return 2;
                        }
                        e.run_ms = v;
                        break;
                case 'i':
                        if (e.n_images >= IMAGES_MAX || !optarg[0]) {
                                fprintf(stderr, "fake-engine: --image: at most %d, not empty\n",
                                        IMAGES_MAX);
                                return 2;
                        }
                        e.images[e.n_images] = image_normalize(optarg);
                        if (!e.images[e.n_images++])
                                return 1;
                        break;
                case 'H':
                        if (parse_count(optarg, HISTORY_MAX, &history) < 0) {
                                fprintf(stderr, "fake-engine: --history %s: want 0..%d\n", optarg,
                                        HISTORY_MAX);
                                return 2;
                        }
                        break;
                case 'h':
                        return usage(0);
                default:
                        return usage(2);
                }
        }
        if (optind != argc - 1)
                return usage(2);
        e.socket_path = argv[optind];
        if (e.n_images == 0 && !(e.images[e.n_images++] = strdup("busybox:latest")))
                return 1;
        e.rng = (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;
        e.history_cap = (size_t)history;
        e.history = history ? calloc((size_t)history, sizeof(*e.history)) : NULL;
        signal(SIGPIPE, SIG_IGN);

        struct event *sigint = NULL, *sigterm = NULL;
        struct evconnlistener *lev = NULL;
        int fd = -1;
        e.base = event_base_new();
        e.http = e.base ? evhttp_new(e.base) : NULL;
        if (!e.http || (history && !e.history)) {
                fprintf(stderr, "fake-engine: out of memory\n");
                goto out;
        }
        evhttp_set_allowed_methods(e.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE |
                                               EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT);
        evhttp_set_max_body_size(e.http, BODY_MAX);
        evhttp_set_max_headers_size(e.http, HEADERS_MAX);
        evhttp_set_gencb(e.http, on_request, &e);
        fd = listen_unix(e.socket_path);
        if (fd < 0) {
                fprintf(stderr, "fake-engine: listen on %s: %s\n", e.socket_path, strerror(-fd));
                goto out;
        }
        lev = evconnlistener_new(e.base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                 0, fd);
        if (!lev || !evhttp_bind_listener(e.http, lev)) {
                if (lev)
                        evconnlistener_free(lev);
                else
                        close(fd);
                fprintf(stderr, "fake-engine: listen on %s: out of memory\n", e.socket_path);
                goto out_unlink;
        }
        sigint = evsignal_new(e.base, SIGINT, on_signal, e.base);
        sigterm = evsignal_new(e.base, SIGTERM, on_signal, e.base);
        if (!sigint || !sigterm || evsignal_add(sigint, NULL) < 0 ||
            evsignal_add(sigterm, NULL) < 0) {
                fprintf(stderr, "fake-engine: signals: out of memory\n");
                goto out_unlink;
        }
        fprintf(stderr, "fake-engine: listening on %s (run %lld ms)\n", e.socket_path,
                (long long)e.run_ms);
        event_base_dispatch(e.base);
        rc = 0;
out_unlink:
        unlink(e.socket_path);
out:
        if (sigint)
                event_free(sigint);
        if (sigterm)
                event_free(sigterm);
        engine_release(&e);
        return rc;
}
