/* docker: image builds. The context directory goes up as a tar produced while
 * curl sends it (docker_context_tar); the answer is JSON lines of progress. */
#include <sys/stat.h>

#include "docker-internal.h"

#define BUILD_QUERY_MAX (64 * 1024)

/* ---- progress lines ---------------------------------------------------- */

int docker_build_line_parse(const char *line, size_t len, json_t **ret_root,
                            struct docker_build_line *ret)
{
        _cleanup_json_ json_t *root = NULL;
        struct docker_build_line bl = {.kind = DOCKER_BUILD_LINE_OTHER};
        const char *s;
        size_t i = 0;

        while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
                i++;
        if (i == len) {
                *ret_root = NULL;
                *ret = bl;
                return 0;
        }
        root = json_loadb(line, len, 0, NULL);
        if (!json_is_object(root))
                return -EPROTO;
        /* errorDetail.message and error carry the same text; either may come alone. */
        s = json_path_string(root, "errorDetail.message");
        if (!s || !s[0])
                s = json_string_value(json_object_get(root, "error"));
        if (s || json_object_get(root, "error") || json_object_get(root, "errorDetail")) {
                bl.kind = DOCKER_BUILD_LINE_ERROR;
                bl.text = s && s[0] ? s : "(no message)";
        } else if ((s = json_string_value(json_object_get(root, "stream")))) {
                bl.kind = DOCKER_BUILD_LINE_STREAM;
                bl.text = s;
        } else if ((s = json_string_value(json_object_get(root, "status")))) {
                bl.kind = DOCKER_BUILD_LINE_STATUS;
                bl.text = s;
        } else if ((s = json_path_string(root, "aux.ID"))) {
                bl.kind = DOCKER_BUILD_LINE_IMAGE_ID;
                bl.text = s;
        }
        *ret_root = TAKE_PTR(root);
        *ret = bl;
        return 0;
}

void docker_build_text_init(struct docker_build_text *t, docker_build_progress_fn fn,
                            void *userdata)
{
        buf_init(&t->line, DOCKER_BUILD_TEXT_MAX);
        t->fn = fn;
        t->userdata = userdata;
}

void docker_build_text_release(struct docker_build_text *t)
{
        buf_release(&t->line);
}

static int text_emit(struct docker_build_text *t)
{
        const char *s = t->line.data ? t->line.data : "";
        int r = 0;

        if (t->line.len > 0 && s[t->line.len - 1] == '\r')
                t->line.data[--t->line.len] = '\0';
        if (t->fn)
                r = t->fn(s, t->userdata);
        buf_reset(&t->line);
        return r != 0 ? 1 : 0;
}

int docker_build_text_feed(struct docker_build_text *t, const char *text)
{
        while (*text) {
                const char *nl = strchr(text, '\n');
                size_t n = nl ? (size_t)(nl - text) : strlen(text);

                while (n > 0) {
                        size_t room = t->line.max - t->line.len;
                        size_t take = n < room ? n : room;

                        /* A line longer than the cap goes out in pieces. */
                        if (take == 0) {
                                if (text_emit(t))
                                        return 1;
                                continue;
                        }
                        if (buf_append(&t->line, text, take) < 0)
                                return -ENOMEM;
                        text += take;
                        n -= take;
                }
                if (!nl)
                        break;
                text++;
                if (text_emit(t))
                        return 1;
        }
        return 0;
}

int docker_build_text_flush(struct docker_build_text *t)
{
        return t->line.len > 0 ? text_emit(t) : 0;
}

/* ---- the call -------------------------------------------------------------- */

struct build_state {
        struct docker_context_tar *tar;
        struct docker_lines lines;
        struct docker_build_text text;
        struct berth_error *err;
        char *image_id;
        char error[BERTH_ERROR_MESSAGE_MAX / 2];
        bool failed;    /* the daemon reported an error line */
        bool cancelled; /* the progress callback asked to stop */
};

static void build_state_release(struct build_state *st)
{
        docker_context_tar_free(st->tar);
        docker_lines_release(&st->lines);
        docker_build_text_release(&st->text);
        free(st->image_id);
}

static ssize_t build_upload(char *buf, size_t len, void *userdata)
{
        struct build_state *st = userdata;

        return docker_context_tar_read(st->tar, buf, len, st->err);
}

static int build_text(struct build_state *st, const char *text, bool whole_line)
{
        int r = docker_build_text_feed(&st->text, text);

        if (r == 0 && whole_line)
                r = docker_build_text_flush(&st->text);
        if (r < 0)
                return berth_error_set(st->err, r, "out of memory");
        st->cancelled = r > 0;
        return r;
}

static int build_line(const char *line, size_t len, void *userdata)
{
        struct build_state *st = userdata;
        _cleanup_json_ json_t *root = NULL;
        struct docker_build_line bl;
        char *id;
        int r;

        if (docker_build_line_parse(line, len, &root, &bl) < 0)
                return berth_error_set(st->err, -EPROTO,
                                       "build: malformed progress line from docker: %.*s",
                                       (int)(len < 200 ? len : 200), line);
        switch (bl.kind) {
        case DOCKER_BUILD_LINE_STREAM:
                return build_text(st, bl.text, false);
        case DOCKER_BUILD_LINE_STATUS:
                /* Status lines (pulls of a base image) stand alone. */
                r = docker_build_text_flush(&st->text);
                if (r > 0) {
                        st->cancelled = true;
                        return 1;
                }
                return build_text(st, bl.text, true);
        case DOCKER_BUILD_LINE_IMAGE_ID:
                id = strdup(bl.text);
                if (!id)
                        return berth_error_set(st->err, -ENOMEM, "out of memory");
                free(st->image_id);
                st->image_id = id;
                return 0;
        case DOCKER_BUILD_LINE_ERROR:
                str_copy(st->error, sizeof(st->error), bl.text);
                st->failed = true;
                return 1;
        default:
                return 0;
        }
}

static int build_data(const char *data, size_t len, void *userdata)
{
        struct build_state *st = userdata;
        int r = docker_lines_feed(&st->lines, data, len);

        /* Not docker_call_lines: its -E2BIG message would also claim an
         * upload's -E2BIG (context too large) for a line. */
        if (r == -E2BIG)
                return berth_error_set(st->err, r, "build: progress line longer than %d bytes",
                                       DOCKER_BUILD_LINE_MAX);
        return r;
}

static int query_add(struct buf *q, const char *key, const char *value)
{
        _cleanup_free_ char *e = docker_escape(value);

        if (!e)
                return -ENOMEM;
        return buf_printf(q, "%s%s=%s", q->len ? "&" : "", key, e);
}

static int query_add_json(struct buf *q, const char *key, const json_t *j)
{
        _cleanup_free_ char *s = NULL;

        if (!j)
                return 0;
        s = json_dumps(j, JSON_COMPACT);
        return s ? query_add(q, key, s) : -ENOMEM;
}

/* dockerfile is a path inside the context: relative, without "..". */
static bool dockerfile_ok(const char *p)
{
        if (!p[0] || p[0] == '/')
                return false;
        for (const char *s = p; s; s = strchr(s, '/'), s = s ? s + 1 : NULL)
                if (s[0] == '.' && s[1] == '.' && (s[2] == '/' || s[2] == '\0'))
                        return false;
        return true;
}

int docker_image_build(struct docker *d, const char *context_dir,
                       const struct docker_build_opts *opts, docker_build_progress_fn fn,
                       void *userdata, char **ret_image_id, struct berth_error *err)
{
        static const struct docker_build_opts defaults = {0};
        _cleanup_(docker_req_release) struct docker_req req = {0};
        _cleanup_(build_state_release) struct build_state st = {.err = err};
        _cleanup_buf_ struct buf q;
        _cleanup_free_ char *df_path = NULL;
        const char *ctx = "build", *dockerfile;
        uint64_t max;
        struct stat sb;
        int r;

        buf_init(&q, BUILD_QUERY_MAX);
        docker_lines_init(&st.lines, DOCKER_BUILD_LINE_MAX, build_line, &st);
        docker_build_text_init(&st.text, fn, userdata);
        opts = opts ? opts : &defaults;
        dockerfile = opts->dockerfile ? opts->dockerfile : "Dockerfile";
        max = opts->max_context_bytes ? opts->max_context_bytes : DOCKER_BUILD_CONTEXT_MAX;
        if (!context_dir || !context_dir[0])
                return berth_error_set(err, -EINVAL, "%s: no context directory", ctx);
        if (!dockerfile_ok(dockerfile))
                return berth_error_set(err, -EINVAL,
                                       "%s: dockerfile %s must be a relative path inside the "
                                       "context",
                                       ctx, dockerfile);
        if (!json_is_string_map(opts->build_args) || !json_is_string_map(opts->labels))
                return berth_error_set(err, -EINVAL,
                                       "%s: build args and labels must be objects of strings", ctx);
        for (const char *const *t = opts->tags; t && *t; t++)
                if (!(*t)[0])
                        return berth_error_set(err, -EINVAL, "%s: empty tag", ctx);
        /* The daemon would say "Cannot locate specified Dockerfile" with a 500
         * only after the whole upload. */
        df_path = str_printf("%s/%s", context_dir, dockerfile);
        if (!df_path)
                return berth_error_set(err, -ENOMEM, "out of memory");
        if (stat(df_path, &sb) < 0 || !S_ISREG(sb.st_mode))
                return berth_error_set(err, -ENOENT, "%s: no %s in context %s", ctx, dockerfile,
                                       context_dir);

        r = query_add(&q, "dockerfile", dockerfile);
        for (const char *const *t = opts->tags; r >= 0 && t && *t; t++)
                r = query_add(&q, "t", *t);
        if (r >= 0)
                r = query_add_json(&q, "buildargs", opts->build_args);
        if (r >= 0)
                r = query_add_json(&q, "labels", opts->labels);
        if (r >= 0)
                r = buf_append_str(&q, "&rm=1&forcerm=1");
        if (r == -E2BIG)
                return berth_error_set(err, r, "%s: tags, build args and labels over %d bytes", ctx,
                                       BUILD_QUERY_MAX);
        if (r < 0)
                return berth_error_set(err, r, "out of memory");

        r = docker_context_tar_open(context_dir, max, &st.tar, err);
        if (r < 0)
                return r;
        req = (struct docker_req){.method = "POST",
                                  .path = "/build",
                                  .query = q.data,
                                  .upload = build_upload,
                                  .upload_userdata = &st,
                                  .upload_type = "application/x-tar",
                                  .on_data = build_data,
                                  .userdata = &st,
                                  .stream = true};
        r = docker_call(d, &req, ctx, err);
        if (r < 0)
                return r;
        if (!req.stopped && !docker_status_ok(req.status))
                return docker_req_fail(&req, 0, ctx, err);
        /* The last line may come without its newline. */
        if (!req.stopped && st.lines.partial.len > 0) {
                r = build_line(st.lines.partial.data, st.lines.partial.len, &st);
                if (r < 0)
                        return r;
        }
        if (!st.cancelled && docker_build_text_flush(&st.text) > 0)
                st.cancelled = true;
        if (st.failed)
                return berth_error_set(err, -EIO, "%s: %s", ctx, st.error);
        if (st.cancelled)
                return berth_error_set(err, -ECANCELED, "%s: stopped by the caller", ctx);
        if (!st.image_id)
                return berth_error_set(err, -EPROTO, "%s: no image id in docker's answer", ctx);
        *ret_image_id = TAKE_PTR(st.image_id);
        return 0;
}
