/* workflow-steps.c: what acting on a Workflow's step does — resolve it
 * (evaluate its when, count its items), create its Task (or one per item)
 * from the step's template with {{...}} expanded, stop or reset its Tasks,
 * write the expanded image of a deploy step into its Service, and record its
 * result (the stdout of its finished Task's container, the JSON array of its
 * children's, or the image deployed) under the step's data key. */
#include "workflow-internal.h"

/* Linux's MAX_ARG_STRLEN: one argument or "NAME=value" string, NUL included. */
#define ARG_STRING_MAX (32 * 4096)

void workflow_fail_step(struct workflow_run *run, size_t i, const char *reason, const char *fmt,
                        ...)
{
        struct step_failure *f = &run->s[i].failure;
        va_list ap;

        f->reason = reason;
        va_start(ap, fmt);
        vsnprintf(f->message, sizeof(f->message), fmt, ap);
        va_end(ap);
        run->new_failures++;
}

int workflow_load_result(struct workflow_run *run, size_t i, struct berth_error *err)
{
        struct step_run *sr = &run->s[i];
        struct store_kv kv = {0};

        if (sr->result)
                return 0;
        int r = store_get(run->o.ctx->store, sr->result_key, &kv, err);
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
        sr->result = v;
        return 0;
}

/* ---- templates ----------------------------------------------------------- */

/* What {{...}} sees while one Task (or a when) is expanded. */
struct expansion {
        struct workflow_run *run;
        size_t step;
        const json_t *item; /* a fanned-out child's item, or NULL */
        json_t *holder;     /* values made for this expansion (strings), released after */
        char *msg;
        size_t msg_size;
};

/* A value made for the expansion, kept alive until it ends. */
static const char *hold(struct expansion *x, char *s)
{
        json_t *v = s ? json_string_nocheck(s) : NULL;

        free(s);
        if (!v || json_array_append_new(x->holder, v) < 0)
                return NULL;
        return json_string_value(v);
}

/* An item (or a field of it) as text: a string as it is, the rest as JSON. */
static int item_text(struct expansion *x, const char *field, const char **ret)
{
        const json_t *v = x->item;

        if (*field)
                v = json_path(x->item, field);
        if (!v) {
                snprintf(x->msg, x->msg_size, "the item has no field \"%s\"", field);
                return -ENOENT;
        }
        if (json_is_string(v)) {
                *ret = json_string_value(v);
                return 0;
        }
        *ret = hold(x, json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY));
        return *ret ? 0 : -ENOMEM;
}

/* {{workflow.failures}}: the failed steps, as the exit handler sees them. */
static char *failures_json(const struct workflow_run *run)
{
        _cleanup_json_ json_t *a = json_array();

        for (size_t i = 0; a && i < run->spec.n_steps; i++) {
                const struct workflow_step_plan *sp = &run->plan.steps[i];
                if (sp->phase != STEP_FAILED)
                        continue;
                if (json_array_append_new(a,
                                          json_pack("{s:s, s:s, s:s}", "step", run->steps[i].name,
                                                    "reason", sp->reason ? sp->reason : "Error",
                                                    "message", sp->message ? sp->message : "")) < 0)
                        return NULL;
        }
        return a ? json_dumps(a, JSON_COMPACT) : NULL;
}

static int resolve_step_output(struct expansion *x, const struct workflow_ref *ref,
                               const char **ret_value)
{
        struct workflow_run *run = x->run;
        size_t i = workflow_spec_step(&run->spec, ref->name);
        struct berth_error e = {0};
        int r = -ENOENT;

        if (i >= run->spec.n_steps)
                goto missing;
        if (ref->type == WORKFLOW_REF_STEP_FILE) {
                json_t *file = NULL;
                r = workflow_load_file(run, ref->name, ref->field, &file, ret_value, &e);
                if (r == 0 && json_array_append_new(x->holder, file) < 0)
                        return -ENOMEM;
        } else {
                r = workflow_load_result(run, i, &e);
                *ret_value =
                    r < 0 ? NULL : json_string_value(json_object_get(run->s[i].result, "result"));
                if (r == 0 && !*ret_value)
                        r = -ENOENT;
        }
        if (r == 0)
                return 0;
        if (r != -ENOENT && !run->read_error.code)
                run->read_error = e; /* not the template's fault: retry */
        if (r == -ENOENT && run->s[x->step].spec->exit_handler) {
                /* The exit handler runs after failures too: what a step that
                 * did not succeed left is empty. */
                *ret_value = "";
                return 0;
        }
missing:
        if (ref->type == WORKFLOW_REF_STEP_FILE)
                snprintf(x->msg, x->msg_size, "no file %s of step \"%s\"", ref->field, ref->name);
        else
                snprintf(x->msg, x->msg_size, "no result of step \"%s\"", ref->name);
        return -ENOENT;
}

/* The value of one expression (workflow_ref_parse) for the expansion. */
static int resolve_expr(const char *expr, const char **ret_value, char *msg, size_t msg_size,
                        void *userdata)
{
        struct expansion *x = userdata;
        struct workflow_run *run = x->run;
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
        case WORKFLOW_REF_STATUS:
                *ret_value = task_phase_to_string(run->plan.outcome);
                return 0;
        case WORKFLOW_REF_FAILURES:
                *ret_value = hold(x, failures_json(run));
                return *ret_value ? 0 : -ENOMEM;
        case WORKFLOW_REF_ITEM:
                if (!x->item) {
                        snprintf(msg, msg_size, "no item: the step is not fanned out");
                        return -ENOENT;
                }
                return item_text(x, ref.field, ret_value);
        case WORKFLOW_REF_PARAMETER:
                for (size_t i = 0; i < spec->n_parameters; i++)
                        if (streq(spec->parameters[i].name, ref.name)) {
                                *ret_value = spec->parameters[i].value;
                                return 0;
                        }
                snprintf(msg, msg_size, "unknown parameter \"%s\"", ref.name);
                return -ENOENT;
        case WORKFLOW_REF_STEP_RESULT:
        case WORKFLOW_REF_STEP_FILE:
                break;
        }
        return resolve_step_output(x, &ref, ret_value);
}

/* Expands the expressions of one string of the Task spec in place. */
static int expand_value(json_t *value, const char *field, const char *env_name, void *userdata)
{
        struct expansion *x = userdata;
        const char *s = json_string_value(value);
        _cleanup_free_ char *out = NULL;
        size_t max = ARG_STRING_MAX - 1 - (env_name ? strlen(env_name) + 1 : 0);

        if (!strstr(s, "{{"))
                return 0;
        int r = expr_expand(s, resolve_expr, x, max, &out, x->msg, x->msg_size);
        if (r == -E2BIG)
                snprintf(x->msg, x->msg_size,
                         "%s: expands to more than %zu bytes, Linux's limit for one argument or "
                         "environment string; pass large results through a volume",
                         field, max);
        if (r < 0)
                return r;
        return json_string_set(value, out) < 0 ? -ENOMEM : 0;
}

/* ---- resolving: when, items ----------------------------------------------- */

/* The items of fanned-out step i into sr->items: withItems as written,
 * withParam parsed from its step's result. 0, or the step failed
 * (InvalidFanOut), or -errno. */
static int load_items(struct workflow_run *run, size_t i, struct berth_error *err)
{
        struct step_run *sr = &run->s[i];
        const struct workflow_step_spec *spec = sr->spec;

        if (sr->items)
                return 0;
        if (spec->with_items) {
                sr->items = json_incref((json_t *)spec->with_items);
                return 0;
        }
        size_t from = spec->with_param_step;
        int r = workflow_load_result(run, from, err);
        if (r == -ENOENT) {
                workflow_fail_step(run, i, "InvalidFanOut", "withParam: step %s has no result",
                                   run->s[from].spec->name);
                return 0;
        }
        if (r < 0)
                return r;
        const char *text = json_string_value(json_object_get(run->s[from].result, "result"));
        json_error_t jerr;
        json_t *items = json_loads(text ? text : "", JSON_DECODE_ANY, &jerr);
        if (!json_is_array(items) || json_array_size(items) > WORKFLOW_ITEMS_MAX) {
                workflow_fail_step(run, i, "InvalidFanOut",
                                   "withParam: the result of step %s is %s: %.200s",
                                   run->s[from].spec->name,
                                   !items                 ? "not JSON"
                                   : json_is_array(items) ? "an array of more than 1000 items"
                                                          : "not a JSON array",
                                   text ? text : "");
                json_decref(items);
                return 0;
        }
        sr->items = items;
        return 0;
}

int workflow_resolve(struct workflow_run *run, size_t i, struct berth_error *err)
{
        struct step_run *sr = &run->s[i];
        const struct workflow_step_spec *spec = sr->spec;

        run->new_resolutions++;
        if (spec->when) {
                char msg[200] = "";
                _cleanup_json_ json_t *holder = json_array();
                struct expansion x = {run, i, NULL, holder, msg, sizeof(msg)};
                _cleanup_free_ char *text = NULL;
                bool value = false;

                if (!holder)
                        return berth_error_set(err, -ENOMEM, "out of memory");
                int r = expr_expand(spec->when, resolve_expr, &x, COND_TEXT_MAX, &text, msg,
                                    sizeof(msg));
                if (run->read_error.code) {
                        *err = run->read_error;
                        return err->code;
                }
                if (r == -ENOMEM)
                        return berth_error_set(err, r, "out of memory");
                if (r == 0)
                        r = cond_eval_when(text, &value, msg, sizeof(msg));
                if (r == -ENOMEM)
                        return berth_error_set(err, r, "out of memory");
                if (r < 0) {
                        workflow_fail_step(run, i, "InvalidWhen", "when \"%.80s\": %s",
                                           text ? text : spec->when, msg);
                        return 0;
                }
                if (!value) {
                        sr->resolved = true;
                        sr->when_false = true;
                        return 0;
                }
        }
        if (spec->with_items || spec->with_param) {
                int r = load_items(run, i, err);
                if (r < 0 || sr->failure.reason)
                        return r;
                sr->n_children = json_array_size(sr->items);
        }
        sr->resolved = true;
        return 0;
}

/* ---- creating a step's Task ---------------------------------------------- */

/* The step's Task spec: its template, expanded for the child's item, with
 * the step's retryStrategy and the workspace mount. NULL: msg says why, or
 * is empty when memory ran out. */
static json_t *step_task_spec(struct workflow_run *run, size_t i, const json_t *item, char *msg,
                              size_t msg_size)
{
        const struct workflow_step_spec *step = run->s[i].spec;
        _cleanup_json_ json_t *holder = json_array();
        struct expansion x = {run, i, item, holder, msg, msg_size};
        _cleanup_json_ json_t *spec = json_deep_copy(step->task);

        if (!spec || !holder || task_template_foreach(spec, expand_value, &x) < 0)
                return NULL;
        if (workflow_apply_retry_strategy(spec, step->retry_strategy) < 0)
                return NULL;
        if (run->spec.workspace) {
                _cleanup_free_ char *volume = workflow_workspace_name(run);
                json_t *volumes = json_object_get(spec, "volumes");

                if (!json_is_array(volumes)) {
                        volumes = json_array();
                        if (json_set_new(spec, "volumes", volumes) < 0)
                                return NULL;
                }
                if (!volume || json_array_append_new(volumes, json_pack("{s:s, s:s}", "mountPath",
                                                                        WORKFLOW_WORKSPACE_PATH,
                                                                        "volume", volume)) < 0)
                        return NULL;
        }
        return TAKE_PTR(spec);
}

int workflow_create_task(struct workflow_run *run, size_t i, size_t child, struct berth_error *err)
{
        struct reconcile_ctx *ctx = run->o.ctx;
        struct step_run *sr = &run->s[i];
        char msg[200] = "";
        char child_name[64];
        const json_t *item = NULL;
        const char *name = sr->task_name;
        _cleanup_free_ char *child_key = NULL;

        if (child != WORKFLOW_NO_CHILD) {
                int r = load_items(run, i, err);
                if (r < 0 || sr->failure.reason)
                        return r;
                item = json_array_get(sr->items, child);
                workflow_child_name(run, i, child, child_name);
                name = child_name;
                child_key = object_key(ctx->prefix, "tasks", run->o.ns, name);
                if (!item || !child_key)
                        return berth_error_set(err, -ENOMEM, "step %s: item %zu", sr->spec->name,
                                               child);
        }
        if (run->spec.workspace) {
                int r = workflow_workspace_ensure(run, err);
                if (r < 0)
                        return r;
        }
        json_t *spec = step_task_spec(run, i, item, msg, sizeof(msg));
        if (run->read_error.code) {
                json_decref(spec);
                *err = run->read_error;
                return err->code;
        }
        if (!spec && !msg[0])
                return berth_error_set(err, -ENOMEM, "build the Task of step %s", sr->spec->name);
        if (!spec) {
                if (child != WORKFLOW_NO_CHILD)
                        workflow_fail_step(run, i, "InvalidTemplate", "item %zu: %s", child, msg);
                else
                        workflow_fail_step(run, i, "InvalidTemplate", "%s", msg);
                return 0;
        }
        _cleanup_json_ json_t *task = child_new(&run->o, kind_by_name("Task"), name,
                                                json_pack("{s:s, s:s}", WORKFLOW_LABEL, run->o.name,
                                                          WORKFLOW_STEP_LABEL, sr->spec->name),
                                                NULL, spec);
        if (!task)
                return berth_error_set(err, -ENOMEM, "build the Task of step %s", sr->spec->name);

        struct berth_error e = {0};
        int r = child_create(ctx, child_key ? child_key : sr->task_key, task, &e);
        if (r == -ESTALE) /* made by an earlier reconcile the cache has not shown yet */
                return 0;
        if (r == -E2BIG || r == -EINVAL) {
                workflow_fail_step(run, i, "TaskCreateFailed", "%s", e.message);
                return 0;
        }
        if (r < 0) {
                *err = e;
                return r;
        }
        if (child == WORKFLOW_NO_CHILD)
                sr->created = true;
        else if (child + 1 > sr->children_made)
                sr->children_made = child + 1;
        return 0;
}

/* ---- building -------------------------------------------------------------- */

char *workflow_build_id(const struct workflow_run *run, size_t i)
{
        return str_printf("%s/%s", run->o.uid, run->s[i].spec->name);
}

void workflow_build_cancel(struct workflow_run *run, size_t i)
{
        _cleanup_free_ char *id = workflow_build_id(run, i);

        if (id && run->o.ctx->builder)
                builder_forget(run->o.ctx->builder, id);
}

/* The step's build with its tags and build arguments expanded, into *ret;
 * NULL when the step failed instead (InvalidTemplate). */
static int expand_build(struct workflow_run *run, size_t i, json_t **ret, struct berth_error *err)
{
        const struct workflow_step_spec *step = run->s[i].spec;
        char msg[200] = "";
        _cleanup_json_ json_t *holder = json_array();
        struct expansion x = {run, i, NULL, holder, msg, sizeof(msg)};
        _cleanup_json_ json_t *build = json_pack("{s:O*, s:O*}", "tags", step->build.tags,
                                                 "buildArgs", step->build.build_args);
        _cleanup_json_ json_t *copy = build ? json_deep_copy(build) : NULL;

        *ret = NULL;
        if (!copy || !holder)
                return berth_error_set(err, -ENOMEM, "out of memory");
        int r = workflow_build_template_foreach(copy, expand_value, &x);
        if (run->read_error.code) {
                *err = run->read_error;
                return err->code;
        }
        if (r == -ENOMEM || (r < 0 && !msg[0]))
                return berth_error_set(err, -ENOMEM, "out of memory");
        if (r < 0) {
                workflow_fail_step(run, i, "InvalidTemplate", "build.%s", msg);
                return 0;
        }
        *ret = TAKE_PTR(copy);
        return 0;
}

int workflow_build(struct workflow_run *run, size_t i, struct berth_error *err)
{
        struct reconcile_ctx *ctx = run->o.ctx;
        const struct workflow_build *b = &run->s[i].spec->build;
        _cleanup_free_ char *context = NULL, *id = workflow_build_id(run, i);
        _cleanup_free_ char *owner = str_printf("%s/%s", run->o.ns, run->o.name);
        _cleanup_json_ json_t *expanded = NULL;
        const char *tags[WORKFLOW_BUILD_TAGS_MAX + 1] = {NULL};
        const json_t *tag;
        size_t k;

        if (!id || !owner)
                return berth_error_set(err, -ENOMEM, "out of memory");
        if (!ctx->builder || ctx->n_build_roots == 0) {
                workflow_fail_step(run, i, "BuildNotAllowed",
                                   "build steps are disabled: berthd runs without --build-root");
                return 0;
        }
        /* Checked at apply too; the directory may have changed since. */
        int r = dir_resolve_within(b->context, ctx->build_roots, ctx->n_build_roots, &context);
        if (r < 0) {
                workflow_fail_step(run, i, "BuildNotAllowed", "build.context %s: %s", b->context,
                                   r == -EPERM ? "outside every --build-root" : strerror(-r));
                return 0;
        }
        r = expand_build(run, i, &expanded, err);
        if (r < 0 || !expanded)
                return r;
        json_array_foreach(json_object_get(expanded, "tags"), k, tag)
        {
                if (k < WORKFLOW_BUILD_TAGS_MAX)
                        tags[k] = json_string_value(tag);
        }
        _cleanup_json_ json_t *labels = json_pack("{s:s, s:s}", WORKFLOW_LABEL, owner,
                                                  WORKFLOW_STEP_LABEL, run->s[i].spec->name);
        if (!labels)
                return berth_error_set(err, -ENOMEM, "out of memory");
        struct build_request req = {
            .context_dir = context,
            .dockerfile = b->dockerfile,
            .tags = tags[0] ? tags : NULL,
            .build_args = json_object_get(expanded, "buildArgs"),
            .labels = labels,
        };
        struct berth_error e = {0};
        r = builder_start(ctx->builder, id, run->o.key, &req, &e);
        if (r == -EINVAL) {
                workflow_fail_step(run, i, "BuildFailed", "%s", e.message);
                return 0;
        }
        if (r < 0) {
                *err = e;
                return r;
        }
        run->new_resolutions++; /* plan again: the build is queued now */
        return 0;
}

int workflow_store_build_log(struct workflow_run *run, size_t i, struct berth_error *err)
{
        struct step_run *sr = &run->s[i];
        const struct build_status *b = &sr->build;
        _cleanup_free_ char *key = NULL, *part = NULL, *data = NULL;
        _cleanup_json_ json_t *v = NULL;

        if (!b->log || b->log_total == sr->log_stored)
                return 0;
        part = workflow_file_part(sr->spec->name, WORKFLOW_BUILD_LOG_FILE);
        key = part ? object_data_key(run->o.ctx->prefix, WORKFLOW_RESOURCE, run->o.ns, run->o.name,
                                     part)
                   : NULL;
        v = json_pack("{s:s, s:s, s:s, s:s, s:s%, s:I, s:b}", "workflow", run->o.name, "uid",
                      run->o.uid, "step", sr->spec->name, "file", WORKFLOW_BUILD_LOG_FILE,
                      "content", b->log, b->log_len, "size", (json_int_t)b->log_len, "truncated",
                      b->log_truncated);
        data = v ? json_dumps(v, JSON_COMPACT) : NULL;
        if (!key || !data)
                return berth_error_set(err, -ENOMEM, "build log of step %s", sr->spec->name);
        int r = store_put_guarded(run->o.ctx->store, key, data, strlen(data), STORE_ANY_REVISION, 0,
                                  run->o.ctx->fence, NULL, err);
        if (r == 0)
                sr->log_stored = b->log_total;
        return r;
}

/* ---- stopping and resetting ----------------------------------------------- */

int workflow_stop_task(struct workflow_run *run, size_t i, size_t child, struct berth_error *err)
{
        if (run->s[i].spec->type == WORKFLOW_STEP_BUILD) {
                workflow_build_cancel(run, i);
                return 0;
        }
        struct reconcile_ctx *ctx = run->o.ctx;
        const struct step_run *sr = &run->s[i];
        const json_t *cached = child == WORKFLOW_NO_CHILD ? sr->task : sr->child_tasks[child];
        _cleanup_free_ char *key = NULL;
        int64_t rev = 0;

        if (!cached || streq(json_path_string(cached, "spec.shutdown"), "Stop"))
                return 0;
        key =
            object_key(ctx->prefix, "tasks", run->o.ns, json_path_string(cached, "metadata.name"));
        _cleanup_json_ json_t *task = key ? object_cache_get(ctx->objects, key, &rev) : NULL;
        if (!task)
                return key ? 0 : berth_error_set(err, -ENOMEM, "out of memory");
        _cleanup_json_ json_t *copy = json_deep_copy(task);
        json_t *meta = json_object_get(copy, "metadata");
        json_t *spec = json_object_get(copy, "spec");
        if (!json_is_object(meta) || !json_is_object(spec))
                return copy ? 0 : berth_error_set(err, -ENOMEM, "out of memory");
        json_object_del(meta, "resourceVersion");
        if (json_set_new(spec, "shutdown", json_string("Stop")) < 0 ||
            json_set_new(meta, "generation",
                         json_integer(json_path_int(copy, "metadata.generation", 0) + 1)) < 0)
                return berth_error_set(err, -ENOMEM, "out of memory");
        _cleanup_free_ char *data = json_dumps(copy, JSON_COMPACT);
        if (!data)
                return berth_error_set(err, -ENOMEM, "out of memory");
        int r =
            store_put_guarded(ctx->store, key, data, strlen(data), rev, 0, ctx->fence, NULL, err);
        if (r == -ESTALE || r == -ENOENT) {
                berth_error_clear(err); /* changed or gone meanwhile: the next plan sees */
                return 0;
        }
        return r;
}

static int delete_data(struct workflow_run *run, const char *key, struct berth_error *err)
{
        int r = store_delete_guarded(run->o.ctx->store, key, STORE_ANY_REVISION, run->o.ctx->fence,
                                     NULL, err);
        if (r == -ENOENT) {
                berth_error_clear(err);
                return 0;
        }
        return r;
}

int workflow_reset_step(struct workflow_run *run, size_t i, struct berth_error *err)
{
        struct reconcile_ctx *ctx = run->o.ctx;
        struct step_run *sr = &run->s[i];
        _cleanup_json_ json_t *tasks = json_array();
        _cleanup_json_ json_t *all = NULL;
        size_t k;
        json_t *t;
        int r;

        sr->reset = true;
        if (sr->spec->type == WORKFLOW_STEP_BUILD) {
                _cleanup_free_ char *part =
                    workflow_file_part(sr->spec->name, WORKFLOW_BUILD_LOG_FILE);
                _cleanup_free_ char *key = part ? object_data_key(ctx->prefix, WORKFLOW_RESOURCE,
                                                                  run->o.ns, run->o.name, part)
                                                : NULL;
                workflow_build_cancel(run, i);
                if (!key)
                        return berth_error_set(err, -ENOMEM, "out of memory");
                r = delete_data(run, key, err);
                if (r < 0)
                        return r;
        }
        if (!tasks)
                return berth_error_set(err, -ENOMEM, "out of memory");
        r = children_list(ctx, kind_by_name("Task"), run->o.ns, "Workflow", NULL, run->o.uid, &all,
                          err);
        if (r < 0)
                return r;
        json_array_foreach(all, k, t)
        {
                const json_t *labels = json_path(t, "metadata.labels");
                if (streq(json_string_value(json_object_get(labels, WORKFLOW_STEP_LABEL)),
                          sr->spec->name) &&
                    json_array_append(tasks, t) < 0)
                        return berth_error_set(err, -ENOMEM, "out of memory");
        }
        r = children_mark_deleted(ctx, kind_by_name("Task"), run->o.ns, tasks, err);
        if (r < 0)
                return r;
        json_decref(sr->result);
        sr->result = NULL;
        r = delete_data(run, sr->result_key, err);
        for (size_t f = 0; r >= 0 && f < sr->spec->n_files; f++) {
                _cleanup_free_ char *part =
                    workflow_file_part(sr->spec->name, sr->spec->files[f].name);
                _cleanup_free_ char *key = part ? object_data_key(ctx->prefix, WORKFLOW_RESOURCE,
                                                                  run->o.ns, run->o.name, part)
                                                : NULL;
                if (!key)
                        return berth_error_set(err, -ENOMEM, "out of memory");
                r = delete_data(run, key, err);
        }
        return r;
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
        const struct workflow_step_spec *step = run->s[i].spec;
        char msg[160] = "";
        char *image = NULL;
        _cleanup_json_ json_t *holder = json_array();
        struct expansion x = {run, i, NULL, holder, msg, sizeof(msg)};
        int r = holder ? expr_expand(step->deploy.image, resolve_expr, &x,
                                     WORKFLOW_DEPLOY_IMAGE_MAX, &image, msg, sizeof(msg))
                       : -ENOMEM;

        *ret = NULL;
        if (run->read_error.code) {
                free(image);
                *err = run->read_error;
                return err->code;
        }
        if (r == -ENOMEM)
                return berth_error_set(err, r, "deploy step %s: out of memory", step->name);
        if (r == -E2BIG)
                workflow_fail_step(run, i, "InvalidTemplate",
                                   "deploy.image: expands to more than %d characters",
                                   WORKFLOW_DEPLOY_IMAGE_MAX);
        else if (r < 0)
                workflow_fail_step(run, i, "InvalidTemplate", "deploy.image: %s", msg);
        else if (!is_image_reference(image))
                workflow_fail_step(
                    run, i, "InvalidTemplate",
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
        const struct workflow_step_spec *step = run->s[i].spec;
        struct step_deploy_written *w = &run->s[i].written;
        _cleanup_free_ char *image = NULL;
        _cleanup_free_ char *by = str_printf("%s/%s", run->o.ns, run->o.name);
        int64_t rev = 0;
        int r = deploy_image(run, i, &image, err);

        if (r < 0 || !image)
                return r;
        if (!by)
                return berth_error_set(err, -ENOMEM, "deploy step %s: out of memory", step->name);
        _cleanup_json_ json_t *cached = object_cache_get(ctx->objects, run->s[i].service_key, &rev);
        if (!cached || object_is_deleting(cached)) {
                workflow_fail_step(run, i, "ServiceNotFound",
                                   "service %s not found in namespace %s", step->deploy.service,
                                   run->o.ns);
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
                        workflow_fail_step(run, i, "ServiceInvalid",
                                           "service %s has no spec.template", step->deploy.service);
                        return 0;
                }
                if (!data)
                        return berth_error_set(err, -ENOMEM, "deploy step %s: out of memory",
                                               step->name);
                r = store_put_guarded(ctx->store, run->s[i].service_key, data, strlen(data), rev, 0,
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

/* The result record of step i; NULL on allocation failure. */
static char *result_json(const struct workflow_run *run, size_t i, const char *out, size_t len,
                         bool truncated, const struct task_status *ts)
{
        _cleanup_json_ json_t *value =
            json_pack("{s:s, s:s, s:s, s:s, s:s%, s:b}", "workflow", run->o.name, "uid", run->o.uid,
                      "step", run->steps[i].name, "task", run->s[i].task_name, "result", out, len,
                      "truncated", truncated);
        if (!value)
                return NULL;
        if (ts && ts->exit_known &&
            json_object_set_new(value, "exitCode", json_integer(ts->exit_code)) < 0)
                return NULL;
        return json_dumps(value, JSON_COMPACT);
}

static int put_result(struct workflow_run *run, size_t i, const char *data, struct berth_error *err)
{
        int r = store_put_guarded(run->o.ctx->store, run->s[i].result_key, data, strlen(data),
                                  STORE_ANY_REVISION, 0, run->o.ctx->fence, NULL, err);
        if (r == 0)
                run->s[i].stored = true;
        return r;
}

/* A deploy step's result: the image it deployed. */
static int store_deploy_result(struct workflow_run *run, size_t i, struct berth_error *err)
{
        const struct step_deploy *d = &run->s[i].deploy;
        _cleanup_json_ json_t *value =
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "workflow", run->o.name, "uid", run->o.uid,
                      "step", run->steps[i].name, "service", run->steps[i].service, "result",
                      d->image ? d->image : "", "truncated", false);
        _cleanup_free_ char *data = value ? json_dumps(value, JSON_COMPACT) : NULL;

        if (!data)
                return berth_error_set(err, -ENOMEM, "result of step %s", run->steps[i].name);
        return put_result(run, i, data, err);
}

/* The stdout of a finished container (its last WORKFLOW_RESULT_MAX bytes,
 * trailing newlines dropped, valid UTF-8) into *t. -ENOENT when the
 * container is gone (err says so). */
static int read_stdout(struct workflow_run *run, const char *container_id, struct output_tail *t,
                       struct berth_error *err)
{
        struct docker_logs_opts opts = {.tail = -1};

        buf_init(&t->out, WORKFLOW_RESULT_MAX * 2);
        int r =
            docker_container_logs(run->o.ctx->docker, container_id, &opts, collect_stdout, t, err);
        if (r < 0) {
                buf_release(&t->out);
                return r;
        }
        while (t->out.len > 0 &&
               (t->out.data[t->out.len - 1] == '\n' || t->out.data[t->out.len - 1] == '\r'))
                t->out.len--;
        utf8_scrub(t->out.data, t->out.len);
        return 0;
}

/* A fanned-out step: the JSON array of its children's stdout, in index order. */
static int store_children_result(struct workflow_run *run, size_t i, struct berth_error *err)
{
        struct step_run *sr = &run->s[i];
        _cleanup_json_ json_t *results = json_array();

        if (!results)
                return berth_error_set(err, -ENOMEM, "result of step %s", sr->spec->name);
        for (size_t c = 0; c < sr->n_children; c++) {
                struct task_status ts;
                struct output_tail tail = {0};
                struct berth_error e = {0};

                task_status_from_json(sr->child_tasks[c], &ts);
                if (!ts.container_id) {
                        workflow_fail_step(run, i, "ResultLost",
                                           "the Task of item %zu has no container", c);
                        return 0;
                }
                int r = read_stdout(run, ts.container_id, &tail, &e);
                if (r == -ENOENT) {
                        workflow_fail_step(run, i, "ResultLost",
                                           "container %.12s of item %zu is gone: %s",
                                           ts.container_id, c, e.message);
                        return 0;
                }
                if (r < 0) {
                        *err = e;
                        return r;
                }
                r = json_array_append_new(
                    results,
                    json_stringn_nocheck(tail.out.data ? tail.out.data : "", tail.out.len));
                buf_release(&tail.out);
                if (r < 0)
                        return berth_error_set(err, -ENOMEM, "result of step %s", sr->spec->name);
        }
        _cleanup_free_ char *text = json_dumps(results, JSON_COMPACT);
        if (!text)
                return berth_error_set(err, -ENOMEM, "result of step %s", sr->spec->name);
        if (strlen(text) > WORKFLOW_FILE_MAX) {
                workflow_fail_step(run, i, "OutputTooLarge",
                                   "the results of its %zu items make %zu bytes, more than %d",
                                   sr->n_children, strlen(text), WORKFLOW_FILE_MAX);
                return 0;
        }
        _cleanup_free_ char *data = result_json(run, i, text, strlen(text), false, NULL);
        if (!data)
                return berth_error_set(err, -ENOMEM, "result of step %s", sr->spec->name);
        return put_result(run, i, data, err);
}

/* A build step's result: the image it built (its ID), after its log. The
 * builder forgets the build then: the result is the record. */
static int store_build_result(struct workflow_run *run, size_t i, struct berth_error *err)
{
        struct step_run *sr = &run->s[i];
        const char *image = sr->build.image_id;
        int r;

        if (!image) /* stored by an earlier reconcile (build_result_found) */
                return 0;
        r = workflow_store_build_log(run, i, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *data = result_json(run, i, image, strlen(image), false, NULL);
        if (!data)
                return berth_error_set(err, -ENOMEM, "result of step %s", sr->spec->name);
        r = put_result(run, i, data, err);
        if (r == 0)
                workflow_build_cancel(run, i);
        return r;
}

int workflow_store_result(struct workflow_run *run, size_t i, struct berth_error *err)
{
        struct step_run *sr = &run->s[i];
        struct task_status ts;
        int r;

        if (run->steps[i].deploy)
                return store_deploy_result(run, i, err);
        if (run->steps[i].build)
                return store_build_result(run, i, err);
        if (run->steps[i].fan_out)
                return store_children_result(run, i, err);
        task_status_from_json(sr->task, &ts);
        if (!ts.container_id) {
                workflow_fail_step(run, i, "ResultLost", "the Task of step %s has no container",
                                   run->steps[i].name);
                return 0;
        }
        r = workflow_store_files(run, i, ts.container_id, err);
        if (r < 0 || sr->failure.reason)
                return r;

        struct output_tail tail = {0};
        struct berth_error e = {0};
        r = read_stdout(run, ts.container_id, &tail, &e);
        if (r == -ENOENT) {
                workflow_fail_step(run, i, "ResultLost", "container %.12s of step %s is gone: %s",
                                   ts.container_id, run->steps[i].name, e.message);
                return 0;
        }
        if (r < 0) {
                *err = e;
                return r;
        }

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
                r = put_result(run, i, data, err);
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
        return r;
}
