/* api: the evhttp glue — listeners, dispatch and the handlers of the small
 * endpoints; replies go out through send.c.
 *
 * Every callback here runs on the event loop thread and must not block: reads
 * come from the object cache, writes are handed to the writer threads
 * (writes.c), watches are fed by the cache (watch.c) and log streams run on
 * their own threads (logs.c).
 */
#include "api-internal.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <event2/buffer.h>
#include <event2/listener.h>

#include "metrics.h"

/* ---- lists and objects -------------------------------------------------- */

/* The list is the cached bytes joined (list-bytes.c): no tree per object. */
static void handle_list(struct api_server *s, struct evhttp_request *req, const struct api_route *r,
                        const struct api_identity *id, struct api_error *err)
{
        _cleanup_(api_selector_release) struct api_selector labels = {0}, fields = {0};
        struct api_list_filter rbac;
        if (api_route_selectors(r, &labels, &fields, err) < 0 ||
            api_authz_list_begin(s, id, "list", r->kind->resource, r->ns, &rbac, err) < 0)
                return;
        struct evbuffer *body = evbuffer_new();
        if (!body) {
                api_error_set(err, 500, "out of memory");
                return;
        }
        int64_t rev = 0;
        if (api_list_evbuffer(s, r, &labels, &fields, &rbac, body, &rev, err) == 0) {
                api_set_etag(req, rev);
                api_send_buffer(s, req, 200, "application/json", body);
        }
        evbuffer_free(body);
}

static void handle_get(struct api_server *s, struct evhttp_request *req, const struct api_route *r,
                       struct api_error *err)
{
        _cleanup_free_ char *key = object_key(s->prefix, r->kind->resource, r->ns, r->name);
        if (!key) {
                api_error_set(err, 500, "out of memory");
                return;
        }
        _cleanup_json_ json_t *obj = object_cache_get(s->objects, key, NULL);
        if (!obj) {
                api_error_set(err, 404, "%s \"%s\" not found", r->kind->resource, r->name);
                return;
        }
        bool reveal;
        if (api_route_param_bool(r, "showValues", false, &reveal) < 0) {
                api_error_set(err, 400, "invalid value for showValues: \"%s\"",
                              api_route_param(r, "showValues"));
                return;
        }
        _cleanup_json_ json_t *shown = api_object_for_reply(&s->ops, obj, reveal, err);
        if (shown)
                api_send_json(s, req, 200, shown);
}

/* Writes run on the writer threads: the store may take seconds to answer. */
static void handle_write(struct api_server *s, struct evhttp_request *req,
                         const struct api_route *r, const struct api_request_info *ri)
{
        enum api_write_op op = API_WRITE_DELETE;
        if (r->method == API_METHOD_POST)
                op = API_WRITE_CREATE;
        else if (r->method == API_METHOD_PUT)
                op = API_WRITE_REPLACE;
        api_write_submit(s, req, op, r, NULL, false, ri);
}

static void handle_apply(struct api_server *s, struct evhttp_request *req,
                         const struct api_route *r, const struct api_request_info *ri,
                         struct api_error *err)
{
        bool dry_run = false;
        const char *dr = api_route_param(r, "dryRun");
        if (dr && streq(dr, "All")) {
                dry_run = true; /* kubectl's spelling */
        } else if (api_route_param_bool(r, "dryRun", false, &dry_run) < 0) {
                api_error_set(err, 400, "invalid value for dryRun: \"%s\"", dr);
                return;
        }
        const char *ns = api_route_param(r, "namespace");
        if (ns && *ns && !name_is_valid(ns)) {
                api_error_set(err, 400, "invalid namespace \"%s\"", ns);
                return;
        }

        api_write_submit(s, req, API_WRITE_APPLY, r, ns, dry_run, ri);
}

/* ---- health, version, metrics ------------------------------------------ */

static void handle_readyz(struct api_server *s, struct evhttp_request *req,
                          const struct api_route *r)
{
        struct {
                const char *name;
                bool ok;
                char detail[256];
        } checks[5] = {{.name = "ready"},
                       {.name = "store"},
                       {.name = "objects"},
                       {.name = "docker"},
                       {.name = "docker-engine"}};
        struct berth_error serr = {0};
        int64_t rev;

        checks[0].ok = atomic_load(&s->ready);
        if (!checks[0].ok)
                snprintf(checks[0].detail, sizeof(checks[0].detail), "controller not started");
        checks[1].ok = store_revision(s->store, &rev, &serr) == 0;
        if (!checks[1].ok)
                snprintf(checks[1].detail, sizeof(checks[1].detail), "%.200s", serr.message);
        checks[2].ok = object_cache_wait_synced(s->objects, 0) == 0;
        if (!checks[2].ok)
                snprintf(checks[2].detail, sizeof(checks[2].detail), "cache not synced");
        if (s->containers) {
                checks[3].ok = container_cache_connected(s->containers);
                if (!checks[3].ok)
                        snprintf(checks[3].detail, sizeof(checks[3].detail),
                                 "docker events not connected");
        } else {
                checks[3].ok = true;
                snprintf(checks[3].detail, sizeof(checks[3].detail), "not configured");
        }

        /* The engine's calls hang (docker.h): reads still work, but nothing
         * starts or stops until it answers. */
        checks[4].ok = true;
        if (s->docker) {
                struct docker_engine_status es;
                docker_engine_status(s->docker, &es);
                checks[4].ok = es.answering;
                if (!checks[4].ok)
                        snprintf(checks[4].detail, sizeof(checks[4].detail), "%s", es.reason);
        }

        bool all = true;
        const char *why = NULL;
        for (size_t i = 0; i < ARRAY_SIZE(checks); i++) {
                all = all && checks[i].ok;
                if (!checks[i].ok && !why && checks[i].detail[0])
                        why = checks[i].detail;
        }
        bool verbose;
        if (api_route_param_bool(r, "verbose", false, &verbose) < 0)
                verbose = true;
        if (!verbose) {
                if (all) {
                        api_send_text(s, req, 200, "ok");
                        return;
                }
                char text[300];
                snprintf(text, sizeof(text), "not ready%s%s", why ? ": " : "", why ? why : "");
                api_send_text(s, req, 503, text);
                return;
        }
        _cleanup_buf_ struct buf b;
        buf_init(&b, 64 * 1024);
        for (size_t i = 0; i < ARRAY_SIZE(checks); i++)
                (void)buf_printf(&b, "[%c]%s %s%s%s\n", checks[i].ok ? '+' : '-', checks[i].name,
                                 checks[i].ok ? "ok" : "failed", checks[i].detail[0] ? ": " : "",
                                 checks[i].detail);
        (void)buf_printf(&b, "readyz check %s\n", all ? "passed" : "failed");
        _cleanup_json_ json_t *leader = s->leader ? s->leader(s->leader_userdata) : NULL;
        if (leader) {
                const char *holder = json_path_string(leader, "holder");
                (void)buf_printf(&b, "leader: %s%s\n", holder ? holder : "(none)",
                                 json_is_true(json_object_get(leader, "self")) ? " (this replica)"
                                                                               : "");
        }
        api_send_text(s, req, all ? 200 : 503, b.data ? b.data : "");
}

static void handle_leader(struct api_server *s, struct evhttp_request *req)
{
        struct api_error e = {0};
        if (!s->leader) {
                api_error_set(&e, 404, "leader election is not configured");
                api_send_error(s, req, &e);
                api_error_release(&e);
                return;
        }
        _cleanup_json_ json_t *body = s->leader(s->leader_userdata);
        if (!body || json_object_set_new(body, "kind", json_string("Leader")) < 0 ||
            json_object_set_new(body, "apiVersion", json_string(MANIFEST_API_VERSION)) < 0) {
                api_error_set(&e, 500, "out of memory");
                api_send_error(s, req, &e);
                api_error_release(&e);
                return;
        }
        api_send_json(s, req, 200, body);
}

static void handle_version(struct api_server *s, struct evhttp_request *req)
{
        const char *dv = s->docker ? docker_api_version(s->docker) : NULL;
        _cleanup_json_ json_t *v = json_pack(
            "{s:s, s:s, s:o, s:s}", "version", BERTH_VERSION, "apiVersion", MANIFEST_API_VERSION,
            "dockerApiVersion", dv ? json_string(dv) : json_null(), "cluster", s->cluster);
        if (!v) {
                struct api_error e = {0};
                api_error_set(&e, 500, "out of memory");
                api_send_error(s, req, &e);
                return;
        }
        api_send_json(s, req, 200, v);
}

/* How many objects of one kind are in one phase. */
struct phase_count {
        char phase[32];
        size_t n;
};

#define PHASES_MAX 16 /* distinct phases of one kind; more are counted as one */

static int phase_count_cmp(const void *a, const void *b)
{
        return strcmp(((const struct phase_count *)a)->phase,
                      ((const struct phase_count *)b)->phase);
}

/* One kind's cached objects as bytes: their phases are in the summary. */
struct kind_list {
        const struct object_blob **v;
        size_t n;
};

/* berth_objects_phase of one kind: its objects by status.phase ("" without
 * one), from the list the caller made. */
static void write_phases(struct metrics_writer *w, const char *kind, const struct kind_list *l)
{
        struct phase_count counts[PHASES_MAX + 1] = {0};
        size_t n = 0;

        for (size_t i = 0; i < l->n; i++) {
                const char *phase = l->v[i]->phase;
                if (!phase || strlen(phase) >= sizeof(counts[0].phase))
                        phase = "";
                size_t j = 0;
                while (j < n && !streq(counts[j].phase, phase))
                        j++;
                if (j == n) {
                        if (n == PHASES_MAX) {
                                j = PHASES_MAX; /* the overflow entry */
                                (void)str_copy(counts[j].phase, sizeof(counts[j].phase),
                                               METRICS_OVERFLOW_VALUE);
                        } else {
                                (void)str_copy(counts[j].phase, sizeof(counts[j].phase), phase);
                                n++;
                        }
                }
                counts[j].n++;
        }
        qsort(counts, n, sizeof(counts[0]), phase_count_cmp);
        for (size_t j = 0; j <= PHASES_MAX; j++)
                if (j < n || (j == PHASES_MAX && counts[j].n > 0))
                        metrics_write_sample(
                            w, "berth_objects_phase",
                            (const char *const[]){"kind", kind, "phase", counts[j].phase, NULL},
                            (double)counts[j].n);
}

/* The API's own part of /metrics, read at scrape time (a collector: loop
 * thread, where the stream lists live). berth_objects and berth_api_watches
 * are the names of the first /metrics and stay. */
static void collect_api(struct metrics_writer *w, void *userdata)
{
        struct api_server *s = userdata;
        const struct kind_info *const *all = kind_all();
        size_t n_kinds = 0;
        while (all && all[n_kinds])
                n_kinds++;
        _cleanup_free_ struct kind_list *lists = calloc(n_kinds ? n_kinds : 1, sizeof(*lists));

        for (size_t k = 0; lists && k < n_kinds; k++) {
                _cleanup_free_ char *prefix = str_printf("%s%s/", s->prefix, all[k]->resource);
                if (!prefix ||
                    object_cache_list_blobs(s->objects, prefix, &lists[k].v, &lists[k].n, NULL) < 0)
                        lists[k] = (struct kind_list){0};
        }
        metrics_write_family(w, "berth_objects", "Objects in the cache by resource.",
                             METRICS_GAUGE);
        for (size_t k = 0; lists && k < n_kinds; k++)
                metrics_write_sample(w, "berth_objects",
                                     (const char *const[]){"resource", all[k]->resource, NULL},
                                     (double)lists[k].n);
        metrics_write_family(w, "berth_objects_phase",
                             "Objects in the cache by kind and status.phase (\"\" without one).",
                             METRICS_GAUGE);
        for (size_t k = 0; lists && k < n_kinds; k++)
                write_phases(w, all[k]->kind, &lists[k]);
        for (size_t k = 0; lists && k < n_kinds; k++)
                object_blobs_release(lists[k].v, lists[k].n);

        metrics_write_family(w, "berth_cache_revision", "Store revision the cache reflects.",
                             METRICS_GAUGE);
        metrics_write_sample(w, "berth_cache_revision", NULL,
                             (double)object_cache_revision(s->objects));
        metrics_write_family(w, "berth_api_watch_streams", "Open watch streams (NDJSON and SSE).",
                             METRICS_GAUGE);
        metrics_write_sample(w, "berth_api_watch_streams", NULL, (double)s->watches.n);
        metrics_write_family(w, "berth_api_watches",
                             "Open watch streams (the former name of berth_api_watch_streams).",
                             METRICS_GAUGE);
        metrics_write_sample(w, "berth_api_watches", NULL, (double)s->watches.n);
        metrics_write_family(w, "berth_api_log_streams", "Open log streams.", METRICS_GAUGE);
        metrics_write_sample(w, "berth_api_log_streams", NULL, (double)s->logs.n);
}

static void handle_metrics(struct api_server *s, struct evhttp_request *req)
{
        _cleanup_buf_ struct buf b;
        buf_init(&b, API_METRICS_MAX);

        int r = metrics_render(&b, collect_api, s);
        if (r < 0) {
                struct api_error e = {0};
                api_error_set(&e, 500, "metrics: %s", strerror(-r));
                api_send_error(s, req, &e);
                return;
        }
        api_send_body(s, req, 200, METRICS_CONTENT_TYPE, b.data ? b.data : "", b.len);
}

/* ---- dispatch ------------------------------------------------------------ */

static enum api_method method_of(struct evhttp_request *req)
{
        return api_method_from_string(api_method_name(evhttp_request_get_command(req)));
}

/* Health probes answer whoever asks and are never rate limited. */
static bool is_probe_path(const char *uri)
{
        size_t n = strcspn(uri, "?");
        return (n == 8 && !strncmp(uri, "/healthz", 8)) || (n == 6 && !strncmp(uri, "/livez", 6)) ||
               (n == 7 && !strncmp(uri, "/readyz", 7));
}

static const char *verb_of(enum api_method m, const struct api_route *r, bool routed)
{
        switch (m) {
        case API_METHOD_POST:
                return routed && r->endpoint == API_EP_APPLY ? "apply" : "create";
        case API_METHOD_PUT:
                return "update";
        case API_METHOD_DELETE:
                return "delete";
        case API_METHOD_PATCH:
                return "patch";
        case API_METHOD_GET:
        case API_METHOD_HEAD:
                if (routed && r->endpoint == API_EP_LIST)
                        return r->watch ? "watch" : "list";
                return "get";
        default:
                return "other";
        }
}

/* Request ID, identity and what the request touches, for X-Request-Id and the
 * audit log. */
static void request_info(struct api_server *s, struct evhttp_request *req, enum api_method m,
                         const struct api_route *r, bool routed, const struct api_identity *id,
                         struct api_request_info *ri)
{
        *ri = (struct api_request_info){.who = *id};
        snprintf(ri->request_id, sizeof(ri->request_id), "%" PRIx64 "-%" PRIx64,
                 (uint64_t)s->start_time_ms, ++s->request_seq);
        (void)str_copy(ri->verb, sizeof(ri->verb), verb_of(m, r, routed));
        if (routed && r->kind) {
                if (r->subresource[0])
                        snprintf(ri->resource, sizeof(ri->resource), "%s/%s", r->kind->resource,
                                 r->subresource);
                else
                        (void)str_copy(ri->resource, sizeof(ri->resource), r->kind->resource);
        }
        if (routed) {
                (void)str_copy(ri->ns, sizeof(ri->ns), r->ns);
                (void)str_copy(ri->name, sizeof(ri->name), r->name);
        }
        ri->audited = m != API_METHOD_GET && m != API_METHOD_HEAD;
        evhttp_add_header(evhttp_request_get_output_headers(req), "X-Request-Id", ri->request_id);
}

/* 401 for a refused unix peer, 429 over the rate limit; probes pass. */
static bool admit(struct api_server *s, struct evhttp_request *req, const char *uri,
                  const struct api_identity *id, struct api_request_info *ri, struct api_error *err)
{
        if (is_probe_path(uri))
                return true;
        if (id->refusal[0]) {
                api_error_set_reason(err, 401, "Unauthorized", "%s", id->refusal);
                ri->audited = true;
                log_info("request refused: %s source=%s request_id=%s", id->refusal, id->source,
                         ri->request_id);
                return false;
        }
        int64_t wait_ms = api_rate_limit_take(&s->rate, id->user, time_mono_ms());
        if (wait_ms > 0) {
                char after[24];
                snprintf(after, sizeof(after), "%" PRId64, (wait_ms + 999) / 1000);
                evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", after);
                api_error_set_reason(err, 429, "TooManyRequests",
                                     "rate limit of %g requests per second for %s exceeded",
                                     s->rate.rate, id->user);
                ri->audited = true;
                return false;
        }
        return true;
}

static bool authorize_object(void *data, const struct api_identity *who, const char *verb,
                             const char *resource, const char *ns, const char *name,
                             struct api_error *err)
{
        return api_authorize(data, who, verb, resource, ns, name, err);
}

/* The RBAC verb, resource, namespace and name a routed request needs, or
 * verb NULL when any authenticated caller may (probes, /version, /metrics,
 * the leader, whoami, can-i) or the check comes later (lists and watches:
 * filtered; apply: per object, on the writer thread). */
struct route_access {
        const char *verb;
        const char *resource;
        const char *ns;
        const char *name;
};

static struct route_access access_of(const struct api_route *r)
{
        struct route_access a = {.ns = r->ns, .name = r->name[0] ? r->name : NULL};

        if (r->kind)
                a.resource = r->kind->resource;
        switch (r->endpoint) {
        case API_EP_LIST:
                /* Reads filter what they return (api_authz_list_begin). */
                a.verb = r->method == API_METHOD_POST ? "create" : NULL;
                break;
        case API_EP_OBJECT:
                a.verb = r->method == API_METHOD_PUT      ? "update"
                         : r->method == API_METHOD_DELETE ? "delete"
                                                          : "get";
                break;
        case API_EP_LOG:
                a.verb = "logs";
                break;
        case API_EP_RESULTS:
                a.verb = "get";
                break;
        case API_EP_STATS:
                /* A collection's stats are filtered like a list. */
                a.verb = r->name[0] ? "get" : NULL;
                break;
        default:
                break;
        }
        return a;
}

static void on_request(struct evhttp_request *req, void *arg)
{
        int64_t start_ns = metrics_now_ns();
        struct api_server *s = arg;
        struct api_error err = {0};
        struct api_route r = {0};
        struct api_identity id;
        struct api_request_info ri;
        bool handed_off = false; /* the writer threads audit it */
        const char *uri = evhttp_request_get_uri(req);
        enum api_method m = method_of(req);

        api_conn_request_read(req);
        api_identify(req, &id);
        api_authenticate(s, req, &id);
        bool routed = uri && api_route_parse(m, uri, &r, &err) == 0;
        if (routed)
                api_route_set_accept(
                    &r, evhttp_find_header(evhttp_request_get_input_headers(req), "Accept"));
        request_info(s, req, m, &r, routed, &id, &ri);
        ri.metrics = (struct api_request_metrics){api_route_metric_name(&r, routed), start_ns};
        API_REPLYING_SCOPE(s, &ri.metrics);
        if (!admit(s, req, uri ? uri : "", &id, &ri, &err))
                goto done;
        if (!uri) {
                api_error_set(&err, 400, "malformed request");
                goto done;
        }
        if (!routed)
                goto done;
        struct route_access acc = access_of(&r);
        if (acc.verb && !api_authorize(s, &id, acc.verb, acc.resource, acc.ns, acc.name, &err)) {
                /* Without update, a trigger may still do: the writer checks
                 * that the change is one (api_change_is_trigger). */
                struct api_error terr = {0};
                ri.trigger_only =
                    streq(acc.verb, "update") &&
                    api_authorize(s, &id, "trigger", acc.resource, acc.ns, acc.name, &terr);
                api_error_release(&terr);
                if (ri.trigger_only) {
                        api_error_release(&err);
                        err = (struct api_error){0};
                } else {
                        ri.audited = true; /* every denial is audited */
                        goto done;
                }
        }

        switch (r.endpoint) {
        case API_EP_HEALTHZ:
                api_send_text(s, req, 200, "ok");
                break;
        case API_EP_READYZ:
                handle_readyz(s, req, &r);
                break;
        case API_EP_VERSION:
                handle_version(s, req);
                break;
        case API_EP_METRICS:
                handle_metrics(s, req);
                break;
        case API_EP_LIST:
                if (r.method == API_METHOD_POST) {
                        handle_write(s, req, &r, &ri);
                        handed_off = true;
                } else if (r.watch) {
                        api_watch_start(s, req, &r, &id);
                } else {
                        /* ?limit= or ?continue=: pages from the store
                         * (list-pages.c); otherwise the whole list. */
                        size_t limit = 0;
                        int paged = api_list_paged(&r, &limit, &err);
                        if (paged > 0)
                                api_list_page_start(s, req, &r, &id, &ri, limit, &err);
                        else if (paged == 0)
                                handle_list(s, req, &r, &id, &err);
                }
                break;
        case API_EP_OBJECT:
                if (r.method == API_METHOD_PUT || r.method == API_METHOD_DELETE) {
                        handle_write(s, req, &r, &ri);
                        handed_off = true;
                } else {
                        handle_get(s, req, &r, &err);
                }
                break;
        case API_EP_LOG:
                api_logs_start(s, req, &r);
                break;
        case API_EP_STATS:
                api_stats_start(s, req, &r, &id);
                break;
        case API_EP_RESULTS:
                /* Results are read from the store: not on the loop. */
                api_write_submit(s, req, API_READ_RESULTS, &r, NULL, false, &ri);
                handed_off = true;
                break;
        case API_EP_APPLY:
                handle_apply(s, req, &r, &ri, &err);
                handed_off = !err.code;
                break;
        case API_EP_LEADER:
                handle_leader(s, req);
                break;
        case API_EP_WHOAMI:
                api_handle_whoami(s, req, &id);
                break;
        case API_EP_CAN_I:
                api_handle_can_i(s, req, &r, &id, &err);
                break;
        }
done:
        if (err.code && !handed_off)
                api_audit_request(s, &ri, err.code);
        if (err.code)
                api_send_error(s, req, &err);
        api_error_release(&err);
        api_route_release(&r);
}

/* ---- listeners ----------------------------------------------------------- */

/* A stale socket file (nobody accepting) is removed; a live one is an error. */
static int unix_listen(const char *path, struct berth_error *err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};

        if (str_copy(sa.sun_path, sizeof(sa.sun_path), path) < 0)
                return berth_error_set(err, -ENAMETOOLONG, "listen unix://%s: path too long", path);
        int r = unix_socket_clear_stale(path);
        if (r == -EEXIST)
                return berth_error_set(err, r, "listen unix://%s: exists and is not a socket",
                                       path);
        if (r == -EADDRINUSE)
                return berth_error_set(err, r, "listen unix://%s: another server is listening",
                                       path);
        if (r < 0)
                return berth_error_set(err, r, "listen unix://%s: remove stale: %s", path,
                                       strerror(-r));

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return berth_error_set(err, -errno, "listen unix://%s: socket: %s", path,
                                       strerror(errno));
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return berth_error_set(err, -errno, "listen unix://%s: bind: %s", path,
                                       strerror(errno));
        /* Local admin by file permissions: owner and group only. */
        if (chmod(path, 0660) < 0 || listen(fd, 128) < 0) {
                int e = errno;
                unlink(path);
                return berth_error_set(err, -e, "listen unix://%s: %s", path, strerror(e));
        }
        return TAKE_FD(fd);
}

/* "SCHEME://HOST:PORT" bound on http; in "[::1]" the brackets are URL
 * syntax, not the address. Any address: which ones plain HTTP may use is
 * berthd's flag check. */
static int tcp_listen(struct evhttp *http, const char *url, struct berth_error *err)
{
        char host[256];
        const char *hp = strstr(url, "://") + 3;
        const char *colon = strrchr(hp, ':');
        if (!colon || (size_t)(colon - hp) >= sizeof(host) || colon == hp)
                return berth_error_set(err, -EINVAL, "listen %s: expected HOST:PORT", url);
        memcpy(host, hp, (size_t)(colon - hp));
        host[colon - hp] = '\0';
        size_t hl = strlen(host);
        if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
                memmove(host, host + 1, hl - 2);
                host[hl - 2] = '\0';
        }
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (*end || port < 0 || port > 65535 || end == colon + 1)
                return berth_error_set(err, -EINVAL, "listen %s: bad port", url);
        struct evhttp_bound_socket *bound =
            evhttp_bind_socket_with_handle(http, host, (uint16_t)port);
        if (!bound)
                return berth_error_set(err, -EADDRNOTAVAIL, "listen %s: cannot bind", url);
        /* Replies go out in several writes (headers, body; TLS records):
         * without it Nagle holds the last one for the client's delayed ACK,
         * 40 ms per request. Accepted sockets inherit it. */
        int one = 1;
        (void)setsockopt(evhttp_bound_socket_get_fd(bound), IPPROTO_TCP, TCP_NODELAY, &one,
                         sizeof(one));
        log_info("listening url=%s", url);
        return 0;
}

static int add_listener(struct api_server *s, const char *url, struct berth_error *err)
{
        if (str_has_prefix(url, "unix://")) {
                const char *path = url + strlen("unix://");
                if (path[0] != '/')
                        return berth_error_set(err, -EINVAL, "listen %s: path must be absolute",
                                               url);
                char **v = realloc(s->unix_paths, (s->n_unix_paths + 1) * sizeof(char *));
                if (!v)
                        return berth_error_set(err, -ENOMEM, "out of memory");
                s->unix_paths = v;
                int fd = unix_listen(path, err);
                if (fd < 0)
                        return fd;
                s->unix_paths[s->n_unix_paths] = strdup(path);
                if (!s->unix_paths[s->n_unix_paths]) {
                        close(fd);
                        unlink(path);
                        return berth_error_set(err, -ENOMEM, "out of memory");
                }
                s->n_unix_paths++;
                struct evconnlistener *lev = evconnlistener_new(
                    s->base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
                if (!lev) {
                        close(fd);
                        return berth_error_set(err, -ENOMEM, "listen %s: evconnlistener", url);
                }
                if (!evhttp_bind_listener(s->http, lev)) {
                        evconnlistener_free(lev);
                        return berth_error_set(err, -ENOMEM, "listen %s: evhttp_bind_listener",
                                               url);
                }
                log_info("listening url=%s", url);
                return 0;
        }
        if (str_has_prefix(url, "tcp://") || str_has_prefix(url, "http://"))
                return tcp_listen(s->http, url, err);
        if (str_has_prefix(url, "https://"))
                return tcp_listen(s->https, url, err);
        return berth_error_set(err, -EINVAL,
                               "listen %s: unsupported address (unix:///PATH, https://HOST:PORT, "
                               "or http://HOST:PORT, also written tcp://HOST:PORT)",
                               url);
}

/* One evhttp per kind of listener (plain, https), with the same limits,
 * timeout and request callback. */
static struct evhttp *http_new(struct api_server *s)
{
        struct evhttp *http = evhttp_new(s->base);
        if (!http)
                return NULL;
        evhttp_set_max_body_size(http, API_BODY_MAX);
        /* The guard answers 431 past API_HEADERS_MAX (conn-guard.c); evhttp's
         * own limit (an HTML 400) lies beyond it. */
        evhttp_set_max_headers_size(http, 2 * API_HEADERS_MAX);
        /* Without it evhttp keeps a silent connection forever. It is reset by
         * every byte: a client that trickles a request head is ended by the
         * guard's header timeout (docs/berthd.md, Limits); streams lift it
         * (api_stream_attach). */
        evhttp_set_timeout(http, API_IDLE_TIMEOUT_S);
        evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                             EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
                                             EVHTTP_REQ_OPTIONS);
        evhttp_set_gencb(http, on_request, s);
        evhttp_set_bevcb(http, api_plain_bevcb, s);
        return http;
}

static bool has_https(const char *const *listen)
{
        for (const char *const *l = listen; l && *l; l++)
                if (str_has_prefix(*l, "https://"))
                        return true;
        return false;
}

int api_server_new(const struct api_config *cfg, struct api_server **ret, struct berth_error *err)
{
        if (!cfg || !cfg->base || !cfg->store || !cfg->objects)
                return berth_error_set(err, -EINVAL, "api: base, store and objects are required");

        struct api_server *s = calloc(1, sizeof(*s));
        if (!s)
                return berth_error_set(err, -ENOMEM, "out of memory");
        s->base = cfg->base;
        s->store = cfg->store;
        s->objects = cfg->objects;
        s->containers = cfg->containers;
        s->docker = cfg->docker;
        s->leader = cfg->leader;
        s->leader_userdata = cfg->leader_userdata;
        s->task_exec_logs = cfg->task_exec_logs;
        s->task_exec_logs_userdata = cfg->task_exec_logs_userdata;
        if (cfg->cluster)
                (void)str_copy(s->cluster, sizeof(s->cluster), cfg->cluster);
        const char *prefix = cfg->prefix ? cfg->prefix : "/berth/";
        s->prefix = str_has_suffix(prefix, "/") ? strdup(prefix) : str_printf("%s/", prefix);
        s->bookmark_ms =
            cfg->bookmark_interval_ms > 0 ? cfg->bookmark_interval_ms : API_BOOKMARK_MS_DEFAULT;
        s->header_timeout_ms =
            cfg->header_timeout_ms > 0 ? cfg->header_timeout_ms : API_HEADER_TIMEOUT_MS_DEFAULT;
        s->heartbeat_ms =
            cfg->heartbeat_interval_ms > 0 ? cfg->heartbeat_interval_ms : API_HEARTBEAT_MS_DEFAULT;
        atomic_init(&s->ready, false);
        s->start_time_ms = time_now_ms();
        s->rate.rate = cfg->rate_limit > 0 ? cfg->rate_limit : 0;
        s->ops = (struct api_objects){
            .store = s->store,
            .cache = s->objects,
            .prefix = s->prefix,
            .wait_ms = API_WAIT_MS,
            .source_roots = cfg->source_roots,
            .n_source_roots = cfg->n_source_roots,
            .build_roots = cfg->build_roots,
            .n_build_roots = cfg->n_build_roots,
            .admission = cfg->admission,
            .secrets = cfg->secrets,
            .authorize = authorize_object,
            .authorize_data = s,
        };

        int rc = -ENOMEM;
        if (!s->prefix) {
                berth_error_set(err, rc, "out of memory");
                goto fail;
        }
        s->ops.prefix = s->prefix;
        s->http = http_new(s);
        if (!s->http) {
                berth_error_set(err, rc, "api: evhttp_new failed");
                goto fail;
        }
        if (has_https(cfg->listen)) {
                rc = api_tls_init(s, cfg->tls_cert, cfg->tls_key, cfg->client_ca, err);
                if (rc < 0)
                        goto fail;
                rc = -ENOMEM;
                s->https = http_new(s);
                if (!s->https) {
                        berth_error_set(err, rc, "api: evhttp_new failed");
                        goto fail;
                }
                evhttp_set_bevcb(s->https, api_tls_bevcb, s);
        }
        if (cfg->admin_token_file) {
                rc = api_admin_token_load(cfg->admin_token_file, s->admin_token_sha256, err);
                if (rc < 0)
                        goto fail;
                s->has_admin_token = true;
        }
        if (cfg->audit_log) {
                int64_t max_size =
                    cfg->audit_log_max_size > 0 ? cfg->audit_log_max_size : API_AUDIT_MAX_SIZE;
                int max_files =
                    cfg->audit_log_max_files >= 0 ? cfg->audit_log_max_files : API_AUDIT_MAX_FILES;
                rc = api_audit_open(cfg->audit_log, max_size, max_files, &s->audit);
                if (rc < 0) {
                        berth_error_set(err, rc, "audit log %s: %s", cfg->audit_log, strerror(-rc));
                        goto fail;
                }
        }
        rc = api_authz_new(&s->authz);
        if (rc < 0) {
                berth_error_set(err, rc, "out of memory");
                goto fail;
        }
        rc = api_writes_new(s, &s->writes);
        if (rc < 0) {
                berth_error_set(err, rc, "api: cannot start the writer threads: %s", strerror(-rc));
                goto fail;
        }
        rc = s->docker ? api_stats_new(s, &s->stats) : 0;
        if (rc < 0) {
                berth_error_set(err, rc, "api: cannot start the stats threads: %s", strerror(-rc));
                goto fail;
        }

        for (const char *const *l = cfg->listen; l && *l; l++) {
                rc = add_listener(s, *l, err);
                if (rc < 0)
                        goto fail;
        }
        *ret = s;
        return 0;
fail:
        api_server_free(s);
        return rc;
}

void api_server_free(struct api_server *s)
{
        if (!s)
                return;
        api_watch_close_all(s);
        api_logs_close_all(s);
        /* Before evhttp_free: jobs point at connections it frees. */
        api_writes_free(s->writes);
        api_stats_free(s->stats);
        if (s->http)
                evhttp_free(s->http);
        if (s->https)
                evhttp_free(s->https);
        api_conn_guard_free_all(s);
        api_tls_release(s);
        for (size_t i = 0; i < s->n_unix_paths; i++) {
                unlink(s->unix_paths[i]);
                free(s->unix_paths[i]);
        }
        free(s->unix_paths);
        api_audit_free(s->audit);
        api_authz_free(s->authz);
        free(s->prefix);
        free(s);
}

void api_server_set_ready(struct api_server *s, bool ready)
{
        if (s)
                atomic_store(&s->ready, ready);
}
