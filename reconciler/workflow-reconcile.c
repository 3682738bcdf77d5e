/* workflow-reconcile.c: observe a Workflow's step Tasks and results in the
 * object cache, plan (workflow-plan.c), act on the store.
 *
 * A Workflow talks to the next layer only through the store: it creates Task
 * objects (the Task controller runs them) and reads their status from the
 * cache. The one exception is a step's result, its stdout, which is read from
 * the finished Task's container once and stored under the step's own data key.
 */
#include "reconciler-internal.h"

#define WORKFLOW_RESOURCE "workflows"

/* What acting learned that the planner must hear about: the step failed for a
 * reason of its own (its Task could not be made, its output is lost). */
struct step_failure {
        const char *reason; /* NULL: none */
        char message[160];
};

struct workflow_run {
        struct object_run o;
        const char *ns, *name, *uid; /* borrowed from o.obj */
        const json_t *spec;
        const json_t *spec_steps; /* spec.steps */
        size_t n_steps;
        struct workflow_step steps[WORKFLOW_STEPS_MAX];
        size_t *deps; /* storage of every step's deps */
        char *task_names[WORKFLOW_STEPS_MAX];
        char *result_keys[WORKFLOW_STEPS_MAX];
        json_t *tasks[WORKFLOW_STEPS_MAX];   /* the cached step Task, or NULL */
        json_t *results[WORKFLOW_STEPS_MAX]; /* a result read from the store, or NULL */
        struct step_failure failures[WORKFLOW_STEPS_MAX];
        struct berth_error read_error;    /* a store read failed while expanding {{...}} */
        bool created[WORKFLOW_STEPS_MAX]; /* Task created in this reconcile */
};

static void workflow_run_free(struct workflow_run *run)
{
        if (!run)
                return;
        for (size_t i = 0; i < WORKFLOW_STEPS_MAX; i++) {
                free(run->task_names[i]);
                free(run->result_keys[i]);
                json_decref(run->tasks[i]);
                json_decref(run->results[i]);
        }
        free(run->deps);
        json_decref(run->o.obj);
        free(run);
}
static void workflow_run_freep(struct workflow_run **p)
{
        workflow_run_free(*p);
}

static int64_t run_now(const struct workflow_run *run)
{
        return run->o.ctx->now_ms ? run->o.ctx->now_ms() : time_now_ms();
}

static const char *step_name(const struct workflow_run *run, size_t i)
{
        return json_string_value(json_object_get(json_array_get(run->spec_steps, i), "name"));
}

/* Whether obj is owned by the Workflow with this uid, or, with uid NULL, by
 * any Workflow of this name (an orphan's owner is gone: only its name is left). */
static bool owned_by(const json_t *obj, const char *uid, const char *name)
{
        size_t i;
        const json_t *ref;

        json_array_foreach(json_path(obj, "metadata.ownerReferences"), i, ref)
        {
                if (uid ? streq(json_path_string(ref, "uid"), uid)
                        : streq(json_path_string(ref, "kind"), "Workflow") &&
                              streq(json_path_string(ref, "name"), name))
                        return true;
        }
        return false;
}

/* ---- observe ---------------------------------------------------------- */

static int index_of_step(const struct workflow_run *run, const char *name)
{
        for (size_t i = 0; i < run->n_steps; i++)
                if (streq(step_name(run, i), name))
                        return (int)i;
        return -1;
}

static const json_t *prev_step_status(const struct workflow_run *run, const char *name)
{
        size_t i;
        const json_t *e;

        json_array_foreach(json_path(run->o.obj, "status.steps"), i, e)
        {
                if (streq(json_string_value(json_object_get(e, "name")), name))
                        return e;
        }
        return NULL;
}

/* Reads step i's result from the store into run->results[i] (once). -ENOENT
 * when there is none of this Workflow (one of an older Workflow of the same
 * name does not count). */
static int load_result(struct workflow_run *run, size_t i, struct berth_error *err)
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
        if (!streq(json_string_value(json_object_get(v, "uid")), run->uid)) {
                json_decref(v);
                return -ENOENT;
        }
        run->results[i] = v;
        return 0;
}

static int observe_step(struct workflow_run *run, size_t i, size_t **deps_next,
                        struct berth_error *err)
{
        struct reconcile_ctx *ctx = run->o.ctx;
        const json_t *spec = json_array_get(run->spec_steps, i);
        struct workflow_step *s = &run->steps[i];
        const char *name = step_name(run, i);

        if (!name)
                return berth_error_set(err, -EINVAL, "%s: spec.steps[%zu].name missing", run->o.key,
                                       i);
        s->name = name;
        s->deps = *deps_next;
        size_t d;
        const json_t *dep;
        json_array_foreach(json_object_get(spec, "dependsOn"), d, dep)
        {
                int j = index_of_step(run, json_string_value(dep));
                /* Validation allows no duplicates: at most n_steps - 1 of them. */
                if (j >= 0 && s->n_deps < run->n_steps)
                        (*deps_next)[s->n_deps++] = (size_t)j;
        }
        *deps_next += s->n_deps;

        run->task_names[i] = str_printf("%s-%s", run->name, name);
        _cleanup_free_ char *part = str_printf("step-%s", name);
        run->result_keys[i] =
            part ? object_data_key(ctx->prefix, WORKFLOW_RESOURCE, run->ns, run->name, part) : NULL;
        _cleanup_free_ char *task_key =
            run->task_names[i] ? object_key(ctx->prefix, "tasks", run->ns, run->task_names[i])
                               : NULL;
        if (!run->result_keys[i] || !task_key)
                return berth_error_set(err, -ENOMEM, "out of memory");

        run->tasks[i] = object_cache_get(ctx->objects, task_key, NULL);
        if (run->tasks[i]) {
                s->task_exists = owned_by(run->tasks[i], run->uid, NULL);
                s->task_foreign = !s->task_exists;
                struct task_status ts;
                task_status_from_json(run->tasks[i], &ts);
                s->task_phase = ts.phase;
                s->task_reason = ts.reason;
                s->task_message = ts.message;
        }
        const json_t *prev = prev_step_status(run, name);
        if (step_phase_from_string(json_string_value(json_object_get(prev, "phase")),
                                   &s->prev_phase) < 0)
                s->prev_phase = STEP_PENDING;

        /* Results are not cached: read one only when its step may just have
         * finished (a Succeeded step in the status has its result for sure). */
        s->result_stored = s->prev_phase == STEP_SUCCEEDED;
        if (!s->result_stored && s->task_exists && s->task_phase == TASK_PHASE_SUCCEEDED) {
                int r = load_result(run, i, err);
                if (r < 0 && r != -ENOENT)
                        return r;
                s->result_stored = r == 0;
        }
        s->prev_created = json_object_get(prev, "task") != NULL;
        s->prev_reason = json_string_value(json_object_get(prev, "reason"));
        s->prev_message = json_string_value(json_object_get(prev, "message"));
        return 0;
}

/* The Tasks of this Workflow (by owner uid, or every Task owned by a Workflow
 * of this name when uid is NULL) and its result keys. */
static int list_children(struct reconcile_ctx *ctx, const char *ns, const char *name,
                         const char *uid, json_t **ret_tasks, struct store_kvs *ret_results,
                         struct berth_error *err)
{
        _cleanup_free_ char *tasks_prefix = str_printf("%stasks/%s/", ctx->prefix, ns);
        _cleanup_free_ char *data_prefix =
            object_data_key(ctx->prefix, WORKFLOW_RESOURCE, ns, name, NULL);
        if (!tasks_prefix || !data_prefix)
                return berth_error_set(err, -ENOMEM, "out of memory");
        _cleanup_json_ json_t *all = object_cache_list(ctx->objects, tasks_prefix, NULL);
        _cleanup_json_ json_t *mine = json_array();
        size_t i;
        json_t *t;

        if (!all || !mine)
                return berth_error_set(err, -ENOMEM, "out of memory");
        json_array_foreach(all, i, t)
        {
                if (owned_by(t, uid, name))
                        if (json_array_append(mine, t) < 0)
                                return berth_error_set(err, -ENOMEM, "out of memory");
        }
        /* Result keys are not in the cache. */
        int r = store_list(ctx->store, data_prefix, 0, ret_results, err);
        if (r < 0)
                return r;
        *ret_tasks = TAKE_PTR(mine);
        return 0;
}

/* ---- act -------------------------------------------------------------- */

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
}

static int resolve_expr(const char *expr, const char **ret_value, char *msg, size_t msg_size,
                        void *userdata)
{
        struct workflow_run *run = userdata;
        char step[64];

        if (streq(expr, "workflow.name")) {
                *ret_value = run->name;
                return 0;
        }
        if (streq(expr, "workflow.namespace")) {
                *ret_value = run->ns;
                return 0;
        }
        if (streq(expr, "workflow.uid")) {
                *ret_value = run->uid;
                return 0;
        }
        if (str_has_prefix(expr, "parameters.")) {
                const char *want = expr + strlen("parameters.");
                size_t i;
                const json_t *p;
                json_array_foreach(json_object_get(run->spec, "parameters"), i, p)
                {
                        if (streq(json_string_value(json_object_get(p, "name")), want)) {
                                const char *v = json_string_value(json_object_get(p, "value"));
                                *ret_value = v ? v : "";
                                return 0;
                        }
                }
                snprintf(msg, msg_size, "unknown parameter \"%s\"", want);
                return -ENOENT;
        }
        const char *suffix = ".outputs.result";
        size_t len = strlen(expr), slen = strlen(suffix), plen = strlen("steps.");
        if (str_has_prefix(expr, "steps.") && len > plen + slen &&
            len - plen - slen < sizeof(step) && streq(expr + len - slen, suffix)) {
                memcpy(step, expr + plen, len - plen - slen);
                step[len - plen - slen] = '\0';
                int i = index_of_step(run, step);
                if (i >= 0) {
                        struct berth_error e = {0};
                        int r = load_result(run, (size_t)i, &e);
                        if (r < 0 && r != -ENOENT && !run->read_error.code)
                                run->read_error = e; /* not the template's fault: retry */
                        if (r < 0)
                                i = -1;
                }
                const char *v =
                    i >= 0 ? json_string_value(json_object_get(run->results[i], "result")) : NULL;
                if (v) {
                        *ret_value = v;
                        return 0;
                }
                snprintf(msg, msg_size, "no result of step \"%s\"", step);
                return -ENOENT;
        }
        snprintf(msg, msg_size, "unknown expression");
        return -ENOENT;
}

/* Linux's MAX_ARG_STRLEN: one argument or "NAME=value" string, NUL included. */
#define ARG_STRING_MAX (32 * 4096)

/* Expands the expressions of one string in place (arr[idx], or obj.key for an
 * env entry); what names it in messages. */
static int expand_value(struct workflow_run *run, json_t *holder, size_t idx, const char *key,
                        const char *what, char *msg, size_t msg_size)
{
        json_t *v = key ? json_object_get(holder, key) : json_array_get(holder, idx);
        const char *s = json_string_value(v);
        _cleanup_free_ char *out = NULL;
        const char *env_name = key ? json_string_value(json_object_get(holder, "name")) : NULL;
        size_t max = ARG_STRING_MAX - 1 - (env_name ? strlen(env_name) + 1 : 0);

        if (!s || !strstr(s, "{{"))
                return 0;
        int r = expr_expand(s, resolve_expr, run, max, &out, msg, msg_size);
        if (r == -E2BIG)
                snprintf(msg, msg_size,
                         "%s: expands to more than %zu bytes, Linux's limit for one argument or "
                         "environment string; pass large results through a volume",
                         what, max);
        if (r < 0)
                return r;
        return json_string_set(v, out) < 0 ? -ENOMEM : 0;
}

/* {{...}} in command, args and env values of a step's Task spec. */
static int expand_task_spec(struct workflow_run *run, json_t *spec, char *msg, size_t msg_size)
{
        static const char *const lists[] = {"command", "args"};
        char what[96];
        size_t i;
        json_t *e;
        int r;

        for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
                json_t *arr = json_object_get(spec, lists[l]);
                for (i = 0; i < json_array_size(arr); i++) {
                        snprintf(what, sizeof(what), "%s[%zu]", lists[l], i);
                        if ((r = expand_value(run, arr, i, NULL, what, msg, msg_size)) < 0)
                                return r;
                }
        }
        json_array_foreach(json_object_get(spec, "env"), i, e)
        {
                snprintf(what, sizeof(what), "env[%zu]", i);
                if ((r = expand_value(run, e, 0, "value", what, msg, msg_size)) < 0)
                        return r;
        }
        return 0;
}

static json_t *step_task_object(struct workflow_run *run, size_t i, char *msg, size_t msg_size)
{
        const json_t *template = json_object_get(json_array_get(run->spec_steps, i), "task");
        _cleanup_json_ json_t *spec = json_deep_copy(template);
        if (!spec)
                return NULL;
        if (expand_task_spec(run, spec, msg, msg_size) < 0)
                return NULL;
        _cleanup_json_ json_t *task =
            json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}, s:[{s:s, s:s, s:s, s:s, s:b}]}, s:O}",
                      "apiVersion", MANIFEST_API_VERSION, "kind", "Task", "metadata", "name",
                      run->task_names[i], "namespace", run->ns, "labels", WORKFLOW_LABEL_WORKFLOW,
                      run->name, WORKFLOW_LABEL_STEP, run->steps[i].name, "ownerReferences",
                      "apiVersion", MANIFEST_API_VERSION, "kind", "Workflow", "name", run->name,
                      "uid", run->uid, "controller", true, "spec", spec);
        if (!task)
                return NULL;
        manifest_apply_defaults(task);
        if (object_stamp_new(task, kind_lookup("Task"), run_now(run)) < 0)
                return NULL;
        return TAKE_PTR(task);
}

static int act_create_task(struct workflow_run *run, size_t i, struct berth_error *err)
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
        _cleanup_free_ char *key = object_key(ctx->prefix, "tasks", run->ns, run->task_names[i]);
        _cleanup_free_ char *data = json_dumps(task, JSON_COMPACT);
        if (!key || !data)
                return berth_error_set(err, -ENOMEM, "out of memory");

        struct berth_error e = {0};
        int r = store_put_guarded(ctx->store, key, data, strlen(data), STORE_MUST_NOT_EXIST, 0,
                                  ctx->fence, NULL, &e);
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
        /* For a plan made again in this reconcile: the step runs now. */
        run->steps[i].task_exists = true;
        run->steps[i].task_phase = TASK_PHASE_PENDING;
        return 0;
}

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
            json_pack("{s:s, s:s, s:s, s:s, s:s%, s:b}", "workflow", run->name, "uid", run->uid,
                      "step", run->steps[i].name, "task", run->task_names[i], "result", out, len,
                      "truncated", truncated);
        if (!value)
                return NULL;
        if (ts->exit_known &&
            json_object_set_new(value, "exitCode", json_integer(ts->exit_code)) < 0)
                return NULL;
        return json_dumps(value, JSON_COMPACT);
}

static int act_store_result(struct workflow_run *run, size_t i, struct berth_error *err)
{
        struct reconcile_ctx *ctx = run->o.ctx;
        struct task_status ts;
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
        return r;
}

/* Marks the Tasks deleted (their finalizer removes the containers) and
 * deletes the result keys. */
static int delete_children(struct reconcile_ctx *ctx, const char *ns, const json_t *tasks,
                           const struct store_kvs *results, struct berth_error *err)
{
        size_t i;
        const json_t *t;
        int r;

        json_array_foreach(tasks, i, t)
        {
                if (object_is_deleting(t))
                        continue;
                _cleanup_free_ char *key =
                    object_key(ctx->prefix, "tasks", ns, json_path_string(t, "metadata.name"));
                struct object_run child;
                if (!key)
                        return berth_error_set(err, -ENOMEM, "out of memory");
                r = object_run_load(ctx, key, &child, err);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                r = object_run_mark_deleted(&child, ctx->now_ms ? ctx->now_ms() : time_now_ms(),
                                            err);
                json_decref(child.obj);
                if (r == -ESTALE || r == -ENOENT) /* it changed: its event brings us back */
                        berth_error_clear(err);
                else if (r < 0)
                        return r;
        }
        for (size_t k = 0; k < results->n; k++) {
                r = store_delete_guarded(ctx->store, results->items[k].key, STORE_ANY_REVISION,
                                         ctx->fence, NULL, err);
                if (r < 0 && r != -ENOENT)
                        return r;
        }
        berth_error_clear(err);
        return 0;
}

/* ---- status ----------------------------------------------------------- */

static json_t *step_status_json(const struct workflow_run *run, size_t i,
                                const struct workflow_step_plan *sp)
{
        const struct workflow_step *s = &run->steps[i];
        const json_t *prev = prev_step_status(run, s->name);

        /* A finished step's entry never changes (its Task may be gone by now). */
        if (prev && sp->phase != STEP_PENDING && sp->phase != STEP_RUNNING &&
            streq(json_string_value(json_object_get(prev, "phase")),
                  step_phase_to_string(sp->phase)))
                return json_deep_copy(prev);

        _cleanup_json_ json_t *e =
            json_pack("{s:s, s:s}", "name", s->name, "phase", step_phase_to_string(sp->phase));
        if (!e)
                return NULL;
        if (s->task_exists || s->prev_created || run->created[i])
                if (json_set_string(e, "task", run->task_names[i]) < 0)
                        return NULL;
        if (s->task_exists) {
                struct task_status ts;
                task_status_from_json(run->tasks[i], &ts);
                if (json_set_time(e, "startTime", ts.start_ms) < 0 ||
                    json_set_time(e, "finishTime", ts.completion_ms) < 0 ||
                    (ts.exit_known && json_set_new(e, "exitCode", json_integer(ts.exit_code)) < 0))
                        return NULL;
        }
        if (json_set_string(e, "reason", sp->reason) < 0 ||
            json_set_string(e, "message", sp->message) < 0)
                return NULL;
        if (s->result_stored && sp->phase == STEP_SUCCEEDED &&
            json_set_string(e, "result", run->result_keys[i]) < 0)
                return NULL;
        return TAKE_PTR(e);
}

static int apply_status(struct workflow_run *run, const struct workflow_plan *plan,
                        struct berth_error *err)
{
        const json_t *old = json_object_get(run->o.obj, "status");
        _cleanup_json_ json_t *steps = json_array();
        char progress[32];

        if (!steps)
                return berth_error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < run->n_steps; i++)
                if (json_array_append_new(steps, step_status_json(run, i, &plan->steps[i])) < 0)
                        return berth_error_set(err, -ENOMEM, "out of memory");
        snprintf(progress, sizeof(progress), "%zu/%zu", plan->succeeded, run->n_steps);

        struct task_status phase = {
            .phase = plan->phase, .reason = plan->reason, .message = plan->message};
        _cleanup_json_ json_t *st = json_object();
        int64_t now = run_now(run);
        if (!st || json_set_new(st, "phase", json_string(task_phase_to_string(plan->phase))) < 0 ||
            json_set_new(st, "observedGeneration",
                         json_integer(json_path_int(run->o.obj, "metadata.generation", 0))) < 0 ||
            json_set_new(st, "progress", json_string(progress)) < 0 ||
            json_set_time(st, "startTime", plan->start_ms) < 0 ||
            json_set_time(st, "completionTime", plan->completion_ms) < 0 ||
            json_set_string(st, "reason", plan->reason) < 0 ||
            json_set_string(st, "message", plan->message) < 0 ||
            json_object_set(st, "steps", steps) < 0 ||
            json_set_new(st, "conditions", phase_conditions_to_json(&phase, old, now)) < 0)
                return berth_error_set(err, -ENOMEM, "out of memory");
        if (json_equal(st, old))
                return 0;
        if (json_object_set(run->o.obj, "status", st) < 0)
                return berth_error_set(err, -ENOMEM, "out of memory");
        run->o.dirty = true;
        return 0;
}

/* A finished Workflow never runs again, but its status says which spec it saw. */
static int observe_generation(struct workflow_run *run, struct berth_error *err)
{
        json_t *st = json_object_get(run->o.obj, "status");
        json_int_t gen = json_path_int(run->o.obj, "metadata.generation", 0);
        if (!json_is_object(st) || json_path_int(st, "observedGeneration", 0) == gen)
                return 0;
        if (json_object_set_new(st, "observedGeneration", json_integer(gen)) < 0)
                return berth_error_set(err, -ENOMEM, "out of memory");
        run->o.dirty = true;
        return 0;
}

/* ---- reconcile -------------------------------------------------------- */

static int observe(struct workflow_run *run, struct berth_error *err)
{
        run->spec = json_object_get(run->o.obj, "spec");
        run->spec_steps = json_object_get(run->spec, "steps");
        run->n_steps = json_array_size(run->spec_steps);
        if (run->n_steps == 0 || run->n_steps > WORKFLOW_STEPS_MAX)
                return berth_error_set(err, -EINVAL, "%s: spec.steps must have 1 to %d entries",
                                       run->o.key, WORKFLOW_STEPS_MAX);
        run->deps = calloc(run->n_steps * run->n_steps, sizeof(*run->deps));
        if (!run->deps)
                return berth_error_set(err, -ENOMEM, "out of memory");
        size_t *next = run->deps;
        for (size_t i = 0; i < run->n_steps; i++) {
                int r = observe_step(run, i, &next, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void plan_input(struct workflow_run *run, struct workflow_plan_input *in)
{
        const json_t *st = json_object_get(run->o.obj, "status");
        const json_t *ttl = json_path(run->spec, "ttlSecondsAfterFinished");
        const json_t *fail_fast = json_object_get(run->spec, "failFast");

        *in = (struct workflow_plan_input){
            .has_finalizer = object_has_finalizer(run->o.obj, WORKFLOW_FINALIZER),
            .fail_fast = !json_is_false(fail_fast),
            .parallelism = (int)json_path_int(run->spec, "parallelism", 0),
            .ttl_after_finished_ms = json_is_integer(ttl) ? json_integer_value(ttl) * 1000 : -1,
            .steps = run->steps,
            .n_steps = run->n_steps,
            .prev_start_ms = json_time_field(st, "startTime"),
            .prev_completion_ms = json_time_field(st, "completionTime"),
            .now_ms = run_now(run),
        };
        if (task_phase_from_string(json_string_value(json_object_get(st, "phase")),
                                   &in->prev_phase) < 0)
                in->prev_phase = TASK_PHASE_PENDING;
}

/* Feeds acting's verdicts on steps back to the planner as if the status
 * already said so; false when there were none. */
static bool take_failures(struct workflow_run *run)
{
        bool any = false;
        for (size_t i = 0; i < run->n_steps; i++) {
                if (!run->failures[i].reason)
                        continue;
                run->steps[i].prev_phase = STEP_FAILED;
                run->steps[i].prev_reason = run->failures[i].reason;
                run->steps[i].prev_message = run->failures[i].message;
                any = true;
        }
        return any;
}

static int act(struct workflow_run *run, const struct workflow_plan *plan, bool *ret_done,
               struct berth_error *err)
{
        int r = 0;

        *ret_done = false;
        for (size_t k = 0; k < plan->n_actions && r >= 0; k++) {
                const struct workflow_action *a = &plan->actions[k];
                switch (a->type) {
                case WORKFLOW_ACTION_ADD_FINALIZER:
                        r = object_run_add_finalizer(&run->o, WORKFLOW_FINALIZER);
                        break;
                case WORKFLOW_ACTION_CREATE_TASK:
                        r = act_create_task(run, a->step, err);
                        break;
                case WORKFLOW_ACTION_STORE_RESULT:
                        r = act_store_result(run, a->step, err);
                        break;
                case WORKFLOW_ACTION_DELETE:
                        *ret_done = true;
                        return object_run_mark_deleted(&run->o, run_now(run), err);
                case WORKFLOW_ACTION_DELETE_CHILDREN:
                case WORKFLOW_ACTION_FINALIZE:
                        break; /* planned only while deleting: reconcile_deleting */
                }
        }
        return r;
}

/* Deletes the children first; their deletion events bring us back until none
 * is left, then the finalizer goes. */
static int reconcile_deleting(struct workflow_run *run, int64_t *ret_requeue_ms,
                              struct berth_error *err)
{
        struct reconcile_ctx *ctx = run->o.ctx;
        _cleanup_json_ json_t *tasks = NULL;
        _cleanup_(store_kvs_release) struct store_kvs results = {0};
        int r = list_children(ctx, run->ns, run->name, run->uid, &tasks, &results, err);
        if (r < 0)
                return r;

        struct workflow_plan_input in = {
            .deleting = true,
            .has_finalizer = object_has_finalizer(run->o.obj, WORKFLOW_FINALIZER),
            .children_left = json_array_size(tasks) > 0 || results.n > 0,
        };
        _cleanup_free_ struct workflow_plan *plan = malloc(sizeof(*plan));
        if (!plan)
                return berth_error_set(err, -ENOMEM, "out of memory");
        workflow_plan_compute(&in, plan);
        for (size_t k = 0; k < plan->n_actions; k++) {
                if (plan->actions[k].type == WORKFLOW_ACTION_DELETE_CHILDREN) {
                        r = delete_children(ctx, run->ns, tasks, &results, err);
                        /* Tasks go with events; results only here: look again for them. */
                        *ret_requeue_ms = json_array_size(tasks) > 0 ? -1 : 0;
                        return r;
                }
                if (plan->actions[k].type == WORKFLOW_ACTION_FINALIZE)
                        return object_run_finalize(&run->o, WORKFLOW_FINALIZER, err);
        }
        return 0;
}

int workflow_reconcile(struct reconcile_ctx *ctx, const char *key, int64_t *ret_requeue_ms,
                       struct berth_error *err)
{
        _cleanup_(workflow_run_freep) struct workflow_run *run = calloc(1, sizeof(*run));
        char ns[64], name[64];
        int r;

        *ret_requeue_ms = -1;
        if (!run)
                return berth_error_set(err, -ENOMEM, "out of memory");
        r = object_run_load(ctx, key, &run->o, err);
        if (r == -ENOENT) {
                /* Gone: what it left behind is orphaned. */
                _cleanup_json_ json_t *tasks = NULL;
                _cleanup_(store_kvs_release) struct store_kvs results = {0};
                r = key_split(key, ns, name);
                if (r < 0)
                        return berth_error_set(err, r, "%s: not a workflow key", key);
                r = list_children(ctx, ns, name, NULL, &tasks, &results, err);
                if (r < 0)
                        return r;
                return delete_children(ctx, ns, tasks, &results, err);
        }
        if (r < 0)
                return r;
        run->ns = json_path_string(run->o.obj, "metadata.namespace");
        run->name = json_path_string(run->o.obj, "metadata.name");
        run->uid = json_path_string(run->o.obj, "metadata.uid");
        if (!run->ns)
                run->ns = "default";
        if (!run->name || !run->uid || !*run->uid)
                return berth_error_set(err, -EINVAL, "%s: metadata.name and uid required", key);

        if (object_is_deleting(run->o.obj))
                return reconcile_deleting(run, ret_requeue_ms, err);

        r = observe(run, err);
        if (r < 0)
                return r;
        struct workflow_plan_input in;
        _cleanup_free_ struct workflow_plan *plan = malloc(sizeof(*plan));
        if (!plan)
                return berth_error_set(err, -ENOMEM, "out of memory");
        plan_input(run, &in);
        workflow_plan_compute(&in, plan);

        bool done;
        r = act(run, plan, &done, err);
        if (r < 0 || done)
                return r;
        if (take_failures(run)) {
                /* Plan again, so that the status tells the failures now. */
                plan_input(run, &in);
                workflow_plan_compute(&in, plan);
        }
        if (plan->status_changed) {
                r = apply_status(run, plan, err);
                if (r < 0)
                        return r;
        } else {
                r = observe_generation(run, err); /* finished: only this follows the spec */
                if (r < 0)
                        return r;
        }
        if (run->o.dirty) {
                r = object_run_write(&run->o, err);
                if (r < 0)
                        return r;
        }
        *ret_requeue_ms = plan->requeue_after_ms;
        /* A stored result brings no event (results are not cached): look again
         * now, to mark the step Succeeded and start its dependants. */
        for (size_t k = 0; k < plan->n_actions; k++)
                if (plan->actions[k].type == WORKFLOW_ACTION_STORE_RESULT)
                        *ret_requeue_ms = 0;
        return 0;
}
