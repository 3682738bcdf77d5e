/* workflow-steps.c: what acting on a Workflow's step does — create its Task
 * from the step's template with {{...}} expanded, or write the expanded image
 * of a deploy step into its Service, and record its result (the stdout of its
 * finished Task's container, or the image deployed) under the step's data
 * key. */
#include "workflow-internal.h"

/* Linux's MAX_ARG_STRLEN: one argument or "NAME=value" string, NUL included. */
#define ARG_STRING_MAX (32 * 4096)

static void fail_step(struct workflow_run *run, size_t i, const char *reason, const char *fmt, ...)
    _printf_(4, 5);
static void fail_step(struct workflow_run *run, size_t i, const char *reason, const char *fmt, ...)
{
        struct step_failure *f = &run->failures[i];
        va_list ap;

        f->reason = reason;
        va_start(ap, fmt);
        vsnprintf(f->message, sizeof(f->message), fmt, ap);
        va_end(ap);
        run->new_failures++;
}

int workflow_load_result(struct workflow_run *run, size_t i, struct berth_error *err)
{
        struct store_kv kv = {0};

        if (run->results[i])
                return 0;
        int r = store_get(run->o.ctx->store, run->result_keys[i], &kv, err);
        if (r == -ENOENT)
                berth_error_clear(err);
        if (r < 0)
                return r;
        json_t *v = json_loadb(kv.value, kv.value_len, 0, NULL);
        store_kv_release(&kv);
        if (!streq(json_string_value(json_object_get(v, "uid")), run->o.uid)) {
                json_decref(v);
                return -ENOENT;
        }
        run->results[i] = v;
        return 0;
}

/* ---- creating a step's Task ---------------------------------------------- */

/* The value of one expression (workflow_ref_parse) for step i's Task. */
static int resolve_expr(const char *expr, const char **ret_value, char *msg, size_t msg_size,
                        void *userdata)
{
        struct workflow_run *run = userdata;
        const struct workflow_spec *spec = &run->spec;
        struct workflow_ref ref;
        int r = workflow_ref_parse(expr, &ref, msg, msg_size);

        if (r < 0)
                return r;
        switch (ref.type) {
        case WORKFLOW_REF_NAME:
                *ret_value = run->o.name;
                return 0;
        case WORKFLOW_REF_NAMESPACE:
                *ret_value = run->o.ns;
                return 0;
        case WORKFLOW_REF_UID:
                *ret_value = run->o.uid;
                return 0;
        case WORKFLOW_REF_PARAMETER:
                for (size_t i = 0; i < spec->n_parameters; i++)
                        if (streq(spec->parameters[i].name, ref.name)) {
                                *ret_value = spec->parameters[i].value;
                                return 0;
                        }
                snprintf(msg, msg_size, "unknown parameter \"%s\"", ref.name);
                return -ENOENT;
        case WORKFLOW_REF_STEP_RESULT:
                break;
        }
        size_t i = workflow_spec_step(spec, ref.name);
        if (i < spec->n_steps) {
                struct berth_error e = {0};
                r = workflow_load_result(run, i, &e);
                if (r < 0 && r != -ENOENT && !run->read_error.code)
                        run->read_error = e; /* not the template's fault: retry */
                const char *v =
                    r < 0 ? NULL : json_string_value(json_object_get(run->results[i], "result"));
                if (v) {
                        *ret_value = v;
                        return 0;
                }
        }
        snprintf(msg, msg_size, "no result of step \"%s\"", ref.name);
        return -ENOENT;
}

struct expansion {
        struct workflow_run *run;
        char *msg;
        size_t msg_size;
};

/* Expands the expressions of one string of the Task spec in place. */
static int expand_value(json_t *value, const char *field, const char *env_name, void *userdata)
{
        struct expansion *x = userdata;
        const char *s = json_string_value(value);
        _cleanup_free_ char *out = NULL;
        size_t max = ARG_STRING_MAX - 1 - (env_name ? strlen(env_name) + 1 : 0);

        if (!strstr(s, "{{"))
                return 0;
        int r = expr_expand(s, resolve_expr, x->run, max, &out, x->msg, x->msg_size);
        if (r == -E2BIG)
                snprintf(x->msg, x->msg_size,
                         "%s: expands to more than %zu bytes, Linux's limit for one argument or "
                         "environment string; pass large results through a volume",
                         field, max);
        if (r < 0)
                return r;
        return json_string_set(value, out) < 0 ? -ENOMEM : 0;
}

/* Step i's Task object, or NULL: msg says why, or is empty when memory ran out. */
static json_t *step_task_object(struct workflow_run *run, size_t i, char *msg, size_t msg_size)
{
        struct object_run *o = &run->o;
        struct expansion x = {run, msg, msg_size};
        _cleanup_json_ json_t *spec = json_deep_copy(run->spec.steps[i].task);

        if (!spec || task_template_foreach(spec, expand_value, &x) < 0)
                return NULL;
        return child_new(o, kind_by_name("Task"), run->task_names[i],
                         json_pack("{s:s, s:s}", WORKFLOW_LABEL_WORKFLOW, o->name,
                                   WORKFLOW_LABEL_STEP, run->spec.steps[i].name),
                         NULL, TAKE_PTR(spec));
}

int workflow_create_task(struct workflow_run *run, size_t i, struct berth_error *err)
{
        struct reconcile_ctx *ctx = run->o.ctx;
        char msg[160] = "";
        _cleanup_json_ json_t *task = step_task_object(run, i, msg, sizeof(msg));
        if (run->read_error.code) {
                *err = run->read_error;
                return err->code;
        }
        if (!task) {
                if (!msg[0])
                        return berth_error_set(err, -ENOMEM, "build the Task of step %s",
                                               run->steps[i].name);
                fail_step(run, i, "InvalidTemplate", "%s", msg);
                return 0;
        }

        struct berth_error e = {0};
        int r = child_create(ctx, run->task_keys[i], task, &e);
        if (r == -ESTALE) /* made by an earlier reconcile the cache has not shown yet */
                return 0;
        if (r == -E2BIG || r == -EINVAL) {
                fail_step(run, i, "TaskCreateFailed", "%s", e.message);
                return 0;
        }
        if (r < 0) {
                *err = e;
                return r;
        }
        run->created[i] = true;
        return 0;
}

/* ---- deploying ----------------------------------------------------------- */

static bool is_image_reference(const char *s)
{
        return *s && !strpbrk(s, " \t\n\r\v\f");
}

/* The image of deploy step i, expanded, into *ret (caller frees); *ret is
 * NULL when the step failed instead (InvalidTemplate). -errno when a result
 * could not be read or memory ran out. */
static int deploy_image(struct workflow_run *run, size_t i, char **ret, struct berth_error *err)
{
        const struct workflow_step_spec *step = &run->spec.steps[i];
        char msg[160] = "";
        char *image = NULL;
        int r = expr_expand(step->deploy.image, resolve_expr, run, WORKFLOW_DEPLOY_IMAGE_MAX,
                            &image, msg, sizeof(msg));

        *ret = NULL;
        if (run->read_error.code) {
                free(image);
                *err = run->read_error;
                return err->code;
        }
        if (r == -ENOMEM)
                return berth_error_set(err, r, "deploy step %s: out of memory", step->name);
        if (r == -E2BIG)
                fail_step(run, i, "InvalidTemplate",
                          "deploy.image: expands to more than %d characters",
                          WORKFLOW_DEPLOY_IMAGE_MAX);
        else if (r < 0)
                fail_step(run, i, "InvalidTemplate", "deploy.image: %s", msg);
        else if (!is_image_reference(image))
                fail_step(run, i, "InvalidTemplate",
                          "deploy.image: expands to \"%.64s\": not an image reference (empty or "
                          "with whitespace)",
                          image);
        else
                *ret = TAKE_PTR(image);
        free(image);
        return 0;
}

/* A copy of the cached Service with image and the deployed-by annotation
 * (generation moved on when the image changed, as the API does for a spec
 * change), ready to be written back. NULL: out of memory, or the stored
 * object has no spec.template (*ret_invalid). */
static json_t *service_with_image(const json_t *cached, const char *image, const char *by,
                                  bool *ret_invalid)
{
        _cleanup_json_ json_t *svc = json_deep_copy(cached);
        json_t *meta = json_object_get(svc, "metadata");
        json_t *tmpl = json_path(svc, "spec.template");
        json_t *annotations = json_object_get(meta, "annotations");

        *ret_invalid = svc && (!json_is_object(meta) || !json_is_object(tmpl));
        if (!svc || *ret_invalid)
                return NULL;
        json_object_del(meta, "resourceVersion");
        if (!streq(json_string_value(json_object_get(tmpl, "image")), image)) {
                json_int_t gen = json_integer_value(json_object_get(meta, "generation"));

                if (json_set_new(tmpl, "image", json_string(image)) < 0 ||
                    json_set_new(meta, "generation", json_integer(gen < 1 ? 1 : gen + 1)) < 0)
                        return NULL;
        }
        if (!json_is_object(annotations)) {
                annotations = json_object();
                if (json_set_new(meta, "annotations", annotations) < 0)
                        return NULL;
        }
        if (json_set_new(annotations, SERVICE_ANNOTATION_DEPLOYED_BY, json_string(by)) < 0)
                return NULL;
        return TAKE_PTR(svc);
}

int workflow_deploy(struct workflow_run *run, size_t i, struct berth_error *err)
{
        struct reconcile_ctx *ctx = run->o.ctx;
        const struct workflow_step_spec *step = &run->spec.steps[i];
        struct step_deploy_written *w = &run->written[i];
        _cleanup_free_ char *image = NULL;
        _cleanup_free_ char *by = str_printf("%s/%s", run->o.ns, run->o.name);
        int64_t rev = 0;
        int r = deploy_image(run, i, &image, err);

        if (r < 0 || !image)
                return r;
        if (!by)
                return berth_error_set(err, -ENOMEM, "deploy step %s: out of memory", step->name);
        _cleanup_json_ json_t *cached = object_cache_get(ctx->objects, run->service_keys[i], &rev);
        if (!cached || object_is_deleting(cached)) {
                fail_step(run, i, "ServiceNotFound", "service %s not found in namespace %s",
                          step->deploy.service, run->o.ns);
                return 0;
        }
        const char *uid = json_path_string(cached, "metadata.uid");
        int64_t generation = json_path_int(cached, "metadata.generation", 0);
        const json_t *annotations = json_path(cached, "metadata.annotations");

        if (!streq(json_path_string(cached, "spec.template.image"), image) ||
            !streq(json_string_value(json_object_get(annotations, SERVICE_ANNOTATION_DEPLOYED_BY)),
                   by)) {
                bool invalid = false;
                _cleanup_json_ json_t *svc = service_with_image(cached, image, by, &invalid);
                _cleanup_free_ char *data = svc ? json_dumps(svc, JSON_COMPACT) : NULL;
                int64_t written_rev = 0;

                if (invalid) {
                        fail_step(run, i, "ServiceInvalid", "service %s has no spec.template",
                                  step->deploy.service);
                        return 0;
                }
                if (!data)
                        return berth_error_set(err, -ENOMEM, "deploy step %s: out of memory",
                                               step->name);
                r = store_put_guarded(ctx->store, run->service_keys[i], data, strlen(data), rev, 0,
                                      ctx->fence, &written_rev, err);
                if (r == -ESTALE)
                        berth_error_prefix(err, "deploy step %s: service %s changed meanwhile",
                                           step->name, step->deploy.service);
                if (r < 0)
                        return r;
                generation = json_path_int(svc, "metadata.generation", 0);
                /* Read-your-writes for the next round, which follows the rollout. */
                (void)object_cache_wait_revision(ctx->objects, written_rev,
                                                 RECONCILE_WAIT_WRITE_MS);
        }

        free(w->uid);
        free(w->image);
        *w = (struct step_deploy_written){
            .generation = generation > 0 ? generation : 1,
            .uid = uid ? strdup(uid) : NULL,
            .image = TAKE_PTR(image),
            .start_ms = run->o.now_ms,
        };
        if (uid && !w->uid)
                return berth_error_set(err, -ENOMEM, "deploy step %s: out of memory", step->name);
        return 0;
}

/* ---- recording a step's result -------------------------------------------- */

/* The last WORKFLOW_RESULT_MAX bytes of a container's stdout. */
struct output_tail {
        struct buf out;
        bool truncated;
};

static int collect_stdout(enum docker_stream stream, const char *data, size_t len, void *userdata)
{
        struct output_tail *t = userdata;

        if (stream == DOCKER_STREAM_STDERR)
                return 0;
        if (len >= WORKFLOW_RESULT_MAX) {
                data += len - WORKFLOW_RESULT_MAX;
                len = WORKFLOW_RESULT_MAX;
                t->out.len = 0;
                t->truncated = true;
        } else if (t->out.len + len > WORKFLOW_RESULT_MAX) {
                size_t drop = t->out.len + len - WORKFLOW_RESULT_MAX;
                memmove(t->out.data, t->out.data + drop, t->out.len - drop);
                t->out.len -= drop;
                t->truncated = true;
        }
        return buf_append(&t->out, data, len) < 0 ? -1 : 0;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, at most U+10FFFF), or 0. */
static size_t utf8_sequence(const unsigned char *s, size_t len)
{
        unsigned char c = s[0];
        size_t n;
        unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */

        if (c >= 0x01 && c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                n = 2;
        else if (c >= 0xe0 && c <= 0xef)
                n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        else if (c >= 0xf0 && c <= 0xf4)
                n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        else
                return 0;
        if (len < n || s[1] < lo || s[1] > hi)
                return 0;
        for (size_t k = 2; k < n; k++)
                if ((s[k] & 0xc0) != 0x80)
                        return 0;
        return n;
}

/* JSON strings must be valid UTF-8 without NUL: any other byte becomes '?'
 * (cutting a long output at the front may also split a character). */
static void utf8_scrub(char *s, size_t len)
{
        for (size_t i = 0; i < len;) {
                size_t n = utf8_sequence((const unsigned char *)s + i, len - i);
                if (n == 0) {
                        s[i++] = '?';
                        continue;
                }
                i += n;
        }
}

/* The result record of step i; NULL on allocation failure. */
static char *result_json(const struct workflow_run *run, size_t i, const char *out, size_t len,
                         bool truncated, const struct task_status *ts)
{
        _cleanup_json_ json_t *value =
            json_pack("{s:s, s:s, s:s, s:s, s:s%, s:b}", "workflow", run->o.name, "uid", run->o.uid,
                      "step", run->steps[i].name, "task", run->task_names[i], "result", out, len,
                      "truncated", truncated);
        if (!value)
                return NULL;
        if (ts->exit_known &&
            json_object_set_new(value, "exitCode", json_integer(ts->exit_code)) < 0)
                return NULL;
        return json_dumps(value, JSON_COMPACT);
}

/* A deploy step's result: the image it deployed. */
static int store_deploy_result(struct workflow_run *run, size_t i, struct berth_error *err)
{
        const struct step_deploy *d = &run->deploys[i];
        _cleanup_json_ json_t *value =
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "workflow", run->o.name, "uid", run->o.uid,
                      "step", run->steps[i].name, "service", run->steps[i].service, "result",
                      d->image ? d->image : "", "truncated", false);
        _cleanup_free_ char *data = value ? json_dumps(value, JSON_COMPACT) : NULL;

        if (!data)
                return berth_error_set(err, -ENOMEM, "result of step %s", run->steps[i].name);
        int r = store_put_guarded(run->o.ctx->store, run->result_keys[i], data, strlen(data),
                                  STORE_ANY_REVISION, 0, run->o.ctx->fence, NULL, err);
        if (r == 0)
                run->stored[i] = true;
        return r;
}

int workflow_store_result(struct workflow_run *run, size_t i, struct berth_error *err)
{
        struct reconcile_ctx *ctx = run->o.ctx;
        struct task_status ts;

        if (run->steps[i].deploy)
                return store_deploy_result(run, i, err);
        task_status_from_json(run->tasks[i], &ts);
        if (!ts.container_id) {
                fail_step(run, i, "ResultLost", "the Task of step %s has no container",
                          run->steps[i].name);
                return 0;
        }

        struct output_tail tail = {0};
        buf_init(&tail.out, WORKFLOW_RESULT_MAX * 2);
        struct docker_logs_opts opts = {.tail = -1};
        struct berth_error e = {0};
        int r =
            docker_container_logs(ctx->docker, ts.container_id, &opts, collect_stdout, &tail, &e);
        if (r == -ENOENT) {
                buf_release(&tail.out);
                fail_step(run, i, "ResultLost", "container %.12s of step %s is gone: %s",
                          ts.container_id, run->steps[i].name, e.message);
                return 0;
        }
        if (r < 0) {
                buf_release(&tail.out);
                *err = e;
                return r;
        }
        while (tail.out.len > 0 &&
               (tail.out.data[tail.out.len - 1] == '\n' || tail.out.data[tail.out.len - 1] == '\r'))
                tail.out.len--;
        utf8_scrub(tail.out.data, tail.out.len);

        /* Escaping can make the record up to 6 times the output (control
         * characters): keep halving from the front until the store takes it. */
        const char *out = tail.out.data ? tail.out.data : "";
        size_t len = tail.out.len;
        bool truncated = tail.truncated;
        for (;;) {
                _cleanup_free_ char *data = result_json(run, i, out, len, truncated, &ts);
                if (!data) {
                        r = berth_error_set(err, -ENOMEM, "result of step %s", run->steps[i].name);
                        break;
                }
                r = store_put_guarded(ctx->store, run->result_keys[i], data, strlen(data),
                                      STORE_ANY_REVISION, 0, ctx->fence, NULL, err);
                if (r != -E2BIG || len == 0)
                        break;
                berth_error_clear(err);
                size_t drop = (len + 1) / 2;
                while (drop < len && ((unsigned char)out[drop] & 0xc0) == 0x80)
                        drop++; /* keep whole characters */
                out += drop;
                len -= drop;
                truncated = true;
        }
        buf_release(&tail.out);
        if (r == 0)
                run->stored[i] = true;
        return r;
}
