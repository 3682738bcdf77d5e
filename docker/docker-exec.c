/* docker: running a command inside an existing container (the exec
 * endpoints): create an exec instance, start it attached (its output
 * streamed as multiplexed frames until the command ends), inspect it for
 * the exit code and the process id. */
#include <inttypes.h>

#include "docker-internal.h"

#define DOCKER_CONTEXT_MAX 512

int docker_exec_create(struct docker *d, const char *container_id, const json_t *body,
                       char **ret_id, struct berth_error *err)
{
        _cleanup_(docker_req_release) struct docker_req req = {0};
        _cleanup_free_ char *e = NULL, *path = NULL;
        char ctx[DOCKER_CONTEXT_MAX];
        int r;

        snprintf(ctx, sizeof(ctx), "create exec in container %s", container_id ? container_id : "");
        if (!container_id || !container_id[0] || !body)
                return berth_error_set(err, -EINVAL, "%s: no container or body", ctx);
        e = docker_escape(container_id);
        path = e ? str_printf("/containers/%s/exec", e) : NULL;
        if (!path)
                return berth_error_set(err, -ENOMEM, "out of memory");
        req = (struct docker_req){.method = "POST", .path = path, .body = body};
        r = docker_call(d, &req, ctx, err);
        if (r < 0)
                return r;
        if (!docker_status_ok(req.status))
                return docker_req_fail(&req, 0, ctx, err);
        return docker_reply_id(&req, ctx, ret_id, err);
}

struct exec_stream {
        struct docker_log_decoder dec;
        docker_log_fn fn;
        void *userdata;
};

static int exec_data(const char *data, size_t len, void *userdata)
{
        struct exec_stream *st = userdata;

        return docker_log_decoder_feed(&st->dec, data, len, st->fn, st->userdata);
}

int docker_exec_start(struct docker *d, const char *exec_id, docker_log_fn fn, void *userdata,
                      struct berth_error *err)
{
        _cleanup_(docker_req_release) struct docker_req req = {0};
        _cleanup_free_ char *e = NULL, *path = NULL;
        _cleanup_json_ json_t *body = json_pack("{s:b, s:b}", "Detach", 0, "Tty", 0);
        struct exec_stream st = {.fn = fn, .userdata = userdata};
        char ctx[DOCKER_CONTEXT_MAX];
        int r;

        snprintf(ctx, sizeof(ctx), "start exec %s", exec_id ? exec_id : "");
        if (!exec_id || !exec_id[0] || !fn)
                return berth_error_set(err, -EINVAL, "%s: no id or callback", ctx);
        docker_log_decoder_init(&st.dec);
        e = docker_escape(exec_id);
        path = e ? str_printf("/exec/%s/start", e) : NULL;
        if (!path || !body)
                return berth_error_set(err, -ENOMEM, "out of memory");
        req = (struct docker_req){.method = "POST",
                                  .path = path,
                                  .body = body,
                                  .on_data = exec_data,
                                  .userdata = &st,
                                  .stream = true};
        r = docker_call(d, &req, ctx, err);
        if (r == -EPROTO)
                return berth_error_set(err, r, "%s: malformed output frame", ctx);
        if (r < 0)
                return r;
        if (req.stopped || docker_status_ok(req.status))
                return 0;
        return docker_req_fail(&req, 0, ctx, err);
}

int docker_exec_inspect(struct docker *d, const char *exec_id, struct docker_exec_info *ret,
                        struct berth_error *err)
{
        _cleanup_free_ char *e = NULL, *path = NULL;
        _cleanup_json_ json_t *j = NULL;
        char ctx[DOCKER_CONTEXT_MAX];
        int r;

        snprintf(ctx, sizeof(ctx), "inspect exec %s", exec_id ? exec_id : "");
        if (!exec_id || !exec_id[0])
                return berth_error_set(err, -EINVAL, "%s: no id", ctx);
        e = docker_escape(exec_id);
        path = e ? str_printf("/exec/%s/json", e) : NULL;
        if (!path)
                return berth_error_set(err, -ENOMEM, "out of memory");
        r = docker_get_json(d, path, NULL, &j, ctx, err);
        if (r < 0)
                return r;
        if (!json_is_object(j))
                return berth_error_set(err, -EPROTO, "%s: expected a JSON object", ctx);
        json_t *code = json_object_get(j, "ExitCode");
        struct docker_exec_info info = {
            .running = json_is_true(json_object_get(j, "Running")),
            .exit_known = json_is_integer(code),
            .exit_code = json_is_integer(code) ? (int)json_integer_value(code) : 0,
            .pid = (int)json_integer_value(json_object_get(j, "Pid")),
        };
        const char *cid = json_string_value(json_object_get(j, "ContainerID"));
        if (cid && str_copy(info.container_id, sizeof(info.container_id), cid) < 0)
                return berth_error_set(err, -EPROTO, "%s: odd container id", ctx);
        *ret = info;
        return 0;
}

struct die_state {
        const char *container_id, *exec_id;
        bool found, container_ended;
        int exit_code;
        struct berth_error *err;
        const char *ctx;
};

static int die_line(const char *line, size_t len, void *userdata)
{
        struct die_state *st = userdata;
        _cleanup_json_ json_t *root = NULL;
        struct docker_event ev;

        if (len == 0)
                return 0;
        int r = docker_event_parse(line, len, &root, &ev);
        if (r < 0)
                return berth_error_set(st->err, r, "%s: malformed event: %.*s", st->ctx,
                                       (int)(len < 200 ? len : 200), line);
        if (streq(ev.action, "die") || streq(ev.action, "destroy")) {
                st->container_ended = true;
                return 1;
        }
        if (!streq(json_string_value(json_object_get(ev.attributes, "execID")), st->exec_id))
                return 0;
        /* exitCode is a string in the attributes ("3"). */
        const char *code = json_string_value(json_object_get(ev.attributes, "exitCode"));
        char *end;
        errno = 0;
        long v = code ? strtol(code, &end, 10) : 0;
        if (!code || errno || end == code || *end || v < INT32_MIN || v > INT32_MAX)
                return berth_error_set(st->err, -EPROTO, "%s: exec_die without an exit code",
                                       st->ctx);
        st->found = true;
        st->exit_code = (int)v;
        return 1;
}

int docker_exec_wait_die(struct docker *d, const char *container_id, const char *exec_id,
                         int64_t since_nano, int64_t until_nano, int *ret_exit_code,
                         struct berth_error *err)
{
        _cleanup_(docker_req_release) struct docker_req req = {0};
        _cleanup_(docker_lines_release) struct docker_lines lines = {0};
        _cleanup_json_ json_t *f = NULL;
        _cleanup_free_ char *filters = NULL, *e = NULL;
        _cleanup_(buf_releasep) struct buf query;
        char ctx[DOCKER_CONTEXT_MAX];
        int r;

        buf_init(&query, 4096);
        snprintf(ctx, sizeof(ctx), "wait for the end of exec %s", exec_id ? exec_id : "");
        if (!container_id || !container_id[0] || !exec_id || !exec_id[0])
                return berth_error_set(err, -EINVAL, "%s: no container or exec id", ctx);
        struct die_state st = {
            .container_id = container_id, .exec_id = exec_id, .err = err, .ctx = ctx};
        f = json_pack("{s:[s], s:[s,s,s], s:[s]}", "type", "container", "event", "exec_die", "die",
                      "destroy", "container", container_id);
        filters = f ? json_dumps(f, JSON_COMPACT) : NULL;
        e = filters ? docker_escape(filters) : NULL;
        if (!e || buf_printf(&query, "filters=%s", e) < 0 ||
            (since_nano > 0 && buf_printf(&query, "&since=%" PRId64 ".%09" PRId64,
                                          since_nano / 1000000000, since_nano % 1000000000) < 0) ||
            (until_nano > 0 && buf_printf(&query, "&until=%" PRId64 ".%09" PRId64,
                                          until_nano / 1000000000, until_nano % 1000000000) < 0))
                return berth_error_set(err, -ENOMEM, "out of memory");
        docker_lines_init(&lines, DOCKER_EVENT_MAX, die_line, &st);
        req = (struct docker_req){.method = "GET", .path = "/events", .query = query.data};
        r = docker_call_lines(d, &req, &lines, "event", ctx, err);
        if (r < 0)
                return r;
        if (st.found) {
                *ret_exit_code = st.exit_code;
                return 0;
        }
        if (st.container_ended)
                return berth_error_set(err, -ESRCH, "%s: container %.12s ended first", ctx,
                                       container_id);
        if (until_nano > 0)
                return berth_error_set(err, -ENOENT, "%s: no exec_die event until then", ctx);
        return berth_error_set(err, -ECONNRESET, "%s: stream closed by docker at %s", ctx,
                               docker_url(d));
}
