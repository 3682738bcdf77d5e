/* docker: running a command inside an existing container (the exec
 * endpoints): create an exec instance, start it attached (its output
 * streamed as multiplexed frames until the command ends), inspect it for
 * the exit code and the process id. */
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
