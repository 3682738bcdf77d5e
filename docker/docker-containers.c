/* docker: container lifecycle calls and images. */
#include "docker-internal.h"
#include "image-memory.h"

#define DOCKER_CONTEXT_MAX 512

static const char *const state_names[] = {
    [DOCKER_STATE_UNKNOWN] = "unknown",       [DOCKER_STATE_CREATED] = "created",
    [DOCKER_STATE_RUNNING] = "running",       [DOCKER_STATE_PAUSED] = "paused",
    [DOCKER_STATE_RESTARTING] = "restarting", [DOCKER_STATE_REMOVING] = "removing",
    [DOCKER_STATE_EXITED] = "exited",         [DOCKER_STATE_DEAD] = "dead",
};

const char *docker_state_to_string(enum docker_state s)
{
        if ((size_t)s >= ARRAY_SIZE(state_names))
                return "unknown";
        return state_names[s];
}

enum docker_state docker_state_from_string(const char *s)
{
        for (size_t i = 0; i < ARRAY_SIZE(state_names); i++)
                if (streq(s, state_names[i]))
                        return (enum docker_state)i;
        return DOCKER_STATE_UNKNOWN;
}

static const char *const health_names[] = {
    [DOCKER_HEALTH_NONE] = "None",
    [DOCKER_HEALTH_STARTING] = "Starting",
    [DOCKER_HEALTH_HEALTHY] = "Healthy",
    [DOCKER_HEALTH_UNHEALTHY] = "Unhealthy",
};

const char *docker_health_to_string(enum docker_health h)
{
        if ((size_t)h >= ARRAY_SIZE(health_names))
                return "None";
        return health_names[h];
}

enum docker_health docker_health_from_string(const char *s)
{
        if (streq(s, "starting"))
                return DOCKER_HEALTH_STARTING;
        if (streq(s, "healthy"))
                return DOCKER_HEALTH_HEALTHY;
        if (streq(s, "unhealthy"))
                return DOCKER_HEALTH_UNHEALTHY;
        return DOCKER_HEALTH_NONE;
}

void docker_container_release(struct docker_container *c)
{
        if (!c)
                return;
        free(c->id);
        free(c->name);
        free(c->image);
        json_decref(c->labels);
        free(c->error);
        *c = (struct docker_container){0};
}

void docker_containers_free(struct docker_container *v, size_t n)
{
        if (!v)
                return;
        for (size_t i = 0; i < n; i++)
                docker_container_release(&v[i]);
        free(v);
}

static char *strdup_or_empty(const char *s)
{
        return strdup(s ? s : "");
}

static int64_t parse_time_ms(const char *s)
{
        int64_t ms = 0;

        /* A time we cannot read is reported as "never" rather than failing
         * the whole inspect. */
        if (!s || time_parse_rfc3339(s, &ms) < 0 || ms < 0)
                return 0;
        return ms;
}

/* The list's Status: "Up 3 seconds (healthy)", "Up 1 second (health: starting)". */
static enum docker_health health_of_status_text(const char *status)
{
        if (!status)
                return DOCKER_HEALTH_NONE;
        if (strstr(status, "(healthy)"))
                return DOCKER_HEALTH_HEALTHY;
        if (strstr(status, "(unhealthy)"))
                return DOCKER_HEALTH_UNHEALTHY;
        if (strstr(status, "(health: starting)"))
                return DOCKER_HEALTH_STARTING;
        return DOCKER_HEALTH_NONE;
}

int docker_container_from_json(const json_t *j, bool inspect, struct docker_container *ret)
{
        _cleanup_(docker_container_release) struct docker_container c = {0};
        const char *id = json_string_value(json_object_get(j, "Id"));
        const char *name, *state;
        json_t *labels;

        if (!id)
                return -EPROTO;
        if (inspect) {
                name = json_string_value(json_object_get(j, "Name"));
                labels = json_path(j, "Config.Labels");
                state = json_path_string(j, "State.Status");
        } else {
                name = json_string_value(json_array_get(json_object_get(j, "Names"), 0));
                labels = json_object_get(j, "Labels");
                state = json_string_value(json_object_get(j, "State"));
        }
        if (name && name[0] == '/')
                name++;
        c.id = strdup(id);
        c.name = strdup_or_empty(name);
        /* Inspect's top-level Image is the sha256 id; Config.Image is what was asked for. */
        c.image = strdup_or_empty(inspect ? json_path_string(j, "Config.Image")
                                          : json_string_value(json_object_get(j, "Image")));
        c.labels = json_is_object(labels) ? json_deep_copy(labels) : json_object();
        c.state = docker_state_from_string(state);
        c.health = inspect ? docker_health_from_string(json_path_string(j, "State.Health.Status"))
                           : health_of_status_text(json_string_value(json_object_get(j, "Status")));
        if (inspect) {
                c.details_known = true;
                c.exit_code = (int)json_path_int(j, "State.ExitCode", 0);
                c.oom_killed = json_is_true(json_path(j, "State.OOMKilled"));
                c.error = strdup_or_empty(json_path_string(j, "State.Error"));
                c.started_ms = parse_time_ms(json_path_string(j, "State.StartedAt"));
                c.finished_ms = parse_time_ms(json_path_string(j, "State.FinishedAt"));
        } else {
                c.error = strdup("");
        }
        if (!c.id || !c.name || !c.image || !c.labels || !c.error)
                return -ENOMEM;
        *ret = c;
        c = (struct docker_container){0};
        return 0;
}

int docker_container_create(struct docker *d, const char *name, const json_t *body, char **ret_id,
                            struct berth_error *err)
{
        _cleanup_(docker_req_release) struct docker_req req = {0};
        _cleanup_free_ char *e = NULL, *query = NULL;
        char ctx[DOCKER_CONTEXT_MAX];
        int r;

        snprintf(ctx, sizeof(ctx), "create container %s", name ? name : "(unnamed)");
        if (!body)
                return berth_error_set(err, -EINVAL, "%s: no body", ctx);
        if (name) {
                e = docker_escape(name);
                query = e ? str_printf("name=%s", e) : NULL;
                if (!query)
                        return berth_error_set(err, -ENOMEM, "out of memory");
        }
        req = (struct docker_req){
            .method = "POST", .path = "/containers/create", .query = query, .body = body};
        r = docker_call(d, &req, ctx, err);
        if (r < 0)
                return r;
        if (req.status == 409)
                return docker_req_fail(&req, -EEXIST, ctx, err);
        if (!docker_status_ok(req.status))
                return docker_req_fail(&req, 0, ctx, err);
        return docker_reply_id(&req, ctx, ret_id, err);
}

int docker_reply_id(const struct docker_req *req, const char *ctx, char **ret_id,
                    struct berth_error *err)
{
        _cleanup_json_ json_t *j = json_loadb(req->resp.data, req->resp.len, 0, NULL);
        const char *id = json_string_value(json_object_get(j, "Id"));
        char *copy;

        if (!id)
                return berth_error_set(err, -EPROTO, "%s: no Id in docker's answer", ctx);
        copy = strdup(id);
        if (!copy)
                return berth_error_set(err, -ENOMEM, "out of memory");
        *ret_id = copy;
        return 0;
}

/* A call without a body that only wants a status: 2xx and the statuses in
 * ok (0-terminated; NULL = none) count as success. */
static int simple_call(struct docker *d, const char *method, const char *path, const char *query,
                       const long *ok, const char *ctx, struct berth_error *err)
{
        _cleanup_(docker_req_release) struct docker_req req = {
            .method = method, .path = path, .query = query};
        int r;

        r = docker_call(d, &req, ctx, err);
        if (r < 0)
                return r;
        if (docker_status_ok(req.status))
                return 0;
        for (; ok && *ok; ok++)
                if (req.status == *ok)
                        return 0;
        return docker_req_fail(&req, 0, ctx, err);
}

/* The start of every call on one container: ctx gets "<verb> container <id>"
 * (failures name it too) and *ret_path /containers/<escaped id><suffix>.
 * -EINVAL without an id, -ENOMEM; err filled. */
static int container_call_prepare(const char *verb, const char *id, const char *suffix,
                                  char ctx[DOCKER_CONTEXT_MAX], char **ret_path,
                                  struct berth_error *err)
{
        snprintf(ctx, DOCKER_CONTEXT_MAX, "%s container %s", verb, id ? id : "");
        if (!id || !id[0])
                return berth_error_set(err, -EINVAL, "%s: no id", ctx);
        _cleanup_free_ char *e = docker_escape(id);
        char *path = e ? str_printf("/containers/%s%s", e, suffix) : NULL;
        if (!path)
                return berth_error_set(err, -ENOMEM, "out of memory");
        *ret_path = path;
        return 0;
}

int docker_container_start(struct docker *d, const char *id, struct berth_error *err)
{
        static const long ok[] = {304, 0};
        _cleanup_free_ char *path = NULL;
        char ctx[DOCKER_CONTEXT_MAX];
        int r = container_call_prepare("start", id, "/start", ctx, &path, err);

        return r < 0 ? r : simple_call(d, "POST", path, NULL, ok, ctx, err);
}

int docker_container_kill(struct docker *d, const char *id, const char *signal,
                          struct berth_error *err)
{
        static const long ok[] = {409, 0}; /* not running: nothing to kill */
        _cleanup_free_ char *path = NULL, *e = NULL, *query = NULL;
        char ctx[DOCKER_CONTEXT_MAX];
        int r = container_call_prepare("kill", id, "/kill", ctx, &path, err);

        if (r < 0)
                return r;
        e = docker_escape(signal ? signal : "SIGKILL");
        query = e ? str_printf("signal=%s", e) : NULL;
        if (!query)
                return berth_error_set(err, -ENOMEM, "out of memory");
        return simple_call(d, "POST", path, query, ok, ctx, err);
}

int docker_container_remove(struct docker *d, const char *id, struct berth_error *err)
{
        static const long ok[] = {404, 0}; /* already gone */
        _cleanup_free_ char *path = NULL;
        char ctx[DOCKER_CONTEXT_MAX];
        int r = container_call_prepare("remove", id, "", ctx, &path, err);

        return r < 0 ? r : simple_call(d, "DELETE", path, "force=1&v=1", ok, ctx, err);
}

int docker_container_inspect(struct docker *d, const char *id_or_name, struct docker_container *ret,
                             struct berth_error *err)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_json_ json_t *j = NULL;
        char ctx[DOCKER_CONTEXT_MAX];
        int r = container_call_prepare("inspect", id_or_name, "/json", ctx, &path, err);

        if (r < 0)
                return r;
        r = docker_get_json(d, path, NULL, &j, ctx, err);
        if (r < 0)
                return r;
        r = docker_container_from_json(j, true, ret);
        if (r < 0)
                return berth_error_set(err, r, "%s: unexpected answer from docker", ctx);
        return 0;
}

int docker_container_list(struct docker *d, const char *label_filter, struct docker_container **ret,
                          size_t *ret_n, struct berth_error *err)
{
        _cleanup_free_ char *query = docker_list_query("all=1", label_filter);
        _cleanup_json_ json_t *j = NULL;
        struct docker_container *v;
        size_t n, i;
        int r;

        if (!query)
                return berth_error_set(err, -ENOMEM, "out of memory");
        r = docker_get_json(d, "/containers/json", query, &j, "list containers", err);
        if (r < 0)
                return r;
        if (!json_is_array(j))
                return berth_error_set(err, -EPROTO, "list containers: expected a JSON array");
        n = json_array_size(j);
        v = calloc(n ? n : 1, sizeof(*v));
        if (!v)
                return berth_error_set(err, -ENOMEM, "out of memory");
        for (i = 0; i < n; i++) {
                r = docker_container_from_json(json_array_get(j, i), false, &v[i]);
                if (r < 0) {
                        docker_containers_free(v, i);
                        return berth_error_set(err, r, "list containers: unexpected entry");
                }
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

/* ---- images ------------------------------------------------------------ */

int docker_image_ref_split(const char *ref, char **ret_name, char **ret_tag)
{
        _cleanup_free_ char *name = NULL;
        const char *at, *slash, *colon, *tag = "latest";
        size_t name_len;
        char *t;

        if (!ref || !ref[0])
                return -EINVAL;
        at = strchr(ref, '@');
        name_len = at ? (size_t)(at - ref) : strlen(ref);
        if (at) {
                tag = at + 1;
                if (!tag[0])
                        return -EINVAL;
        }
        /* A ':' after the last '/' starts a tag; one before it is a registry
         * port (host:5000/img). With a digest the tag is dropped, like the
         * docker CLI does. */
        slash = memrchr(ref, '/', name_len);
        colon = memrchr(ref, ':', name_len);
        if (colon && (!slash || colon > slash)) {
                if (!at) {
                        tag = colon + 1;
                        if (!tag[0])
                                return -EINVAL;
                }
                name_len = (size_t)(colon - ref);
        }
        if (name_len == 0)
                return -EINVAL;
        name = strndup(ref, name_len);
        t = strdup(tag);
        if (!name || !t) {
                free(t);
                return -ENOMEM;
        }
        *ret_name = TAKE_PTR(name);
        *ret_tag = t;
        return 0;
}

int docker_image_inspect(struct docker *d, const char *image, struct berth_error *err)
{
        _cleanup_free_ char *e = NULL, *path = NULL;
        char ctx[DOCKER_CONTEXT_MAX];

        snprintf(ctx, sizeof(ctx), "inspect image %s", image ? image : "");
        if (!image || !image[0])
                return berth_error_set(err, -EINVAL, "%s: no image", ctx);
        e = docker_escape(image);
        path = e ? str_printf("/images/%s/json", e) : NULL;
        if (!path)
                return berth_error_set(err, -ENOMEM, "out of memory");
        int r = simple_call(d, "GET", path, NULL, NULL, ctx, err);
        if (r == 0)
                image_memory_add(docker_engine_images(d), image);
        return r;
}

bool docker_image_known(struct docker *d, const char *image)
{
        return image_memory_has(docker_engine_images(d), image);
}

void docker_image_forget(struct docker *d, const char *image)
{
        image_memory_forget(docker_engine_images(d), image);
}

int docker_image_user(struct docker *d, const char *image, char **ret_user, struct berth_error *err)
{
        _cleanup_free_ char *e = NULL, *path = NULL;
        _cleanup_json_ json_t *j = NULL;
        char ctx[DOCKER_CONTEXT_MAX];
        char *user;

        snprintf(ctx, sizeof(ctx), "inspect image %s", image ? image : "");
        if (!image || !image[0])
                return berth_error_set(err, -EINVAL, "%s: no image", ctx);
        e = docker_escape(image);
        path = e ? str_printf("/images/%s/json", e) : NULL;
        if (!path)
                return berth_error_set(err, -ENOMEM, "out of memory");
        int r = docker_get_json(d, path, NULL, &j, ctx, err);
        if (r < 0)
                return r;
        const json_t *u = json_object_get(json_object_get(j, "Config"), "User");
        if (u && !json_is_string(u))
                return berth_error_set(err, -EPROTO, "%s: Config.User is not a string", ctx);
        user = strdup(u ? json_string_value(u) : "");
        if (!user)
                return berth_error_set(err, -ENOMEM, "out of memory");
        *ret_user = user;
        return 0;
}

int docker_image_remove(struct docker *d, const char *image, struct berth_error *err)
{
        static const long ok[] = {404, 0}; /* already gone */
        _cleanup_free_ char *e = NULL, *path = NULL;
        char ctx[DOCKER_CONTEXT_MAX];

        snprintf(ctx, sizeof(ctx), "remove image %s", image ? image : "");
        if (!image || !image[0])
                return berth_error_set(err, -EINVAL, "%s: no image", ctx);
        e = docker_escape(image);
        path = e ? str_printf("/images/%s", e) : NULL;
        if (!path)
                return berth_error_set(err, -ENOMEM, "out of memory");
        return simple_call(d, "DELETE", path, NULL, ok, ctx, err);
}

struct pull_state {
        char error[BERTH_ERROR_MESSAGE_MAX / 2];
};

static int pull_line(const char *line, size_t len, void *userdata)
{
        struct pull_state *st = userdata;
        _cleanup_json_ json_t *j = json_loadb(line, len, 0, NULL);
        const char *msg;

        /* Progress lines are ignored; the first {"error": ...} ends the pull. */
        msg = json_string_value(json_object_get(j, "error"));
        if (!msg)
                msg = json_path_string(j, "errorDetail.message");
        if (!msg)
                return 0;
        str_copy(st->error, sizeof(st->error), msg);
        return 1;
}

int docker_image_pull(struct docker *d, const char *image, struct berth_error *err)
{
        _cleanup_(docker_req_release) struct docker_req req = {0};
        _cleanup_(docker_lines_release) struct docker_lines lines = {0};
        _cleanup_free_ char *name = NULL, *tag = NULL, *ename = NULL, *etag = NULL;
        _cleanup_free_ char *query = NULL;
        struct pull_state st = {{0}};
        char ctx[DOCKER_CONTEXT_MAX];
        int r;

        snprintf(ctx, sizeof(ctx), "pull image %s", image ? image : "");
        r = docker_image_ref_split(image, &name, &tag);
        if (r < 0)
                return berth_error_set(err, r, "%s: invalid image reference", ctx);
        ename = docker_escape(name);
        etag = docker_escape(tag);
        query = ename && etag ? str_printf("fromImage=%s&tag=%s", ename, etag) : NULL;
        if (!query)
                return berth_error_set(err, -ENOMEM, "out of memory");
        docker_lines_init(&lines, DOCKER_EVENT_MAX, pull_line, &st);
        req = (struct docker_req){.method = "POST", .path = "/images/create", .query = query};
        r = docker_call_lines(d, &req, &lines, "progress line", ctx, err);
        if (r < 0)
                return r;
        if (!st.error[0] && lines.partial.len > 0)
                pull_line(lines.partial.data, lines.partial.len, &st);
        if (st.error[0])
                return berth_error_set(err, -EIO, "%s: %s", ctx, st.error);
        image_memory_add(docker_engine_images(d), image);
        return 0;
}
