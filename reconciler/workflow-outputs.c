/* workflow-outputs.c: what a Workflow keeps beside its steps' stdout — the
 * file outputs read out of a finished step's container (through the Engine
 * API's archive endpoint, stored under the Workflow's data keys, never in the
 * object) and the workspace volume every step mounts. */
#include "workflow-internal.h"

char *workflow_file_part(const char *step, const char *file)
{
        return str_printf("file-%s.%s", step, file);
}

static char *file_key(const struct workflow_run *run, const char *step, const char *file)
{
        _cleanup_free_ char *part = workflow_file_part(step, file);

        return part ? object_data_key(run->o.ctx->prefix, WORKFLOW_RESOURCE, run->o.ns, run->o.name,
                                      part)
                    : NULL;
}

/* The record of one file: its content as a JSON string when it is UTF-8
 * text, else base64 ("encoding": "base64"). NULL on OOM. */
static char *file_json(const struct workflow_run *run, const char *step, const char *file,
                       const char *content, size_t len)
{
        bool text = utf8_valid(content, len);
        _cleanup_free_ char *encoded = text ? NULL : base64_encode(content, len);
        _cleanup_json_ json_t *v = NULL;

        if (!text && !encoded)
                return NULL;
        v = json_pack("{s:s, s:s, s:s, s:s, s:s%, s:I}", "workflow", run->o.name, "uid", run->o.uid,
                      "step", step, "file", file, "content", text ? content : encoded,
                      text ? len : strlen(encoded), "size", (json_int_t)len);
        if (!v || (!text && json_set_string(v, "encoding", "base64") < 0))
                return NULL;
        return json_dumps(v, JSON_COMPACT);
}

int workflow_store_files(struct workflow_run *run, size_t i, const char *container_id,
                         struct berth_error *err)
{
        const struct workflow_step_spec *step = run->s[i].spec;

        for (size_t f = 0; f < step->n_files; f++) {
                const struct workflow_output_file *out = &step->files[f];
                _cleanup_free_ char *content = NULL;
                size_t len = 0;
                struct berth_error e = {0};
                int r = docker_container_file(run->o.ctx->docker, container_id, out->path,
                                              WORKFLOW_FILE_MAX, &content, &len, &e);

                switch (r) {
                case 0:
                        break;
                case -ENOENT:
                case -EISDIR:
                        /* docker_container_file says which is missing. */
                        workflow_fail_step(
                            run, i,
                            strstr(e.message, "no such container") ? "ResultLost" : "OutputMissing",
                            "file output %s (%s): %s", out->name, out->path, e.message);
                        return 0;
                case -EFBIG:
                        workflow_fail_step(run, i, "OutputTooLarge",
                                           "file output %s (%s) is larger than %d bytes", out->name,
                                           out->path, WORKFLOW_FILE_MAX);
                        return 0;
                default:
                        *err = e;
                        return r;
                }
                _cleanup_free_ char *key = file_key(run, step->name, out->name);
                _cleanup_free_ char *data = file_json(run, step->name, out->name, content, len);
                if (!key || !data)
                        return berth_error_set(err, -ENOMEM, "file output %s of step %s", out->name,
                                               step->name);
                r = store_put_guarded(run->o.ctx->store, key, data, strlen(data),
                                      STORE_ANY_REVISION, 0, run->o.ctx->fence, NULL, err);
                if (r == -E2BIG) {
                        /* Escaping or base64 made it more than the store takes. */
                        berth_error_clear(err);
                        workflow_fail_step(run, i, "OutputTooLarge",
                                           "file output %s (%s): %zu bytes do not fit in the "
                                           "store once encoded",
                                           out->name, out->path, len);
                        return 0;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

int workflow_load_file(struct workflow_run *run, const char *step, const char *file,
                       json_t **ret_holder, const char **ret_content, struct berth_error *err)
{
        _cleanup_free_ char *key = file_key(run, step, file);
        struct store_kv kv = {0};

        if (!key)
                return berth_error_set(err, -ENOMEM, "out of memory");
        int r = store_get(run->o.ctx->store, key, &kv, err);
        if (r == -ENOENT)
                berth_error_clear(err);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *v = json_loadb(kv.value, kv.value_len, 0, NULL);
        store_kv_release(&kv);
        const char *content = json_string_value(json_object_get(v, "content"));
        if (!content || !streq(json_string_value(json_object_get(v, "uid")), run->o.uid))
                return -ENOENT;
        *ret_content = content;
        *ret_holder = TAKE_PTR(v);
        return 0;
}

/* ---- the workspace ---------------------------------------------------------- */

char *workflow_workspace_name(const struct workflow_run *run)
{
        return str_printf("berth-ws-%s", run->o.uid);
}

int workflow_workspace_ensure(struct workflow_run *run, struct berth_error *err)
{
        _cleanup_free_ char *name = workflow_workspace_name(run);
        _cleanup_free_ char *owner = str_printf("%s/%s", run->o.ns, run->o.name);
        _cleanup_json_ json_t *labels = NULL;

        if (run->workspace_ready)
                return 0;
        labels =
            owner ? json_pack("{s:s, s:s}", "berth.managed", "true", WORKFLOW_LABEL, owner) : NULL;
        if (!name || !labels ||
            (run->o.ctx->cluster &&
             json_set_string(labels, "berth.cluster", run->o.ctx->cluster) < 0))
                return berth_error_set(err, -ENOMEM, "out of memory");
        int r = docker_volume_create(run->o.ctx->docker, name, labels, err);
        if (r < 0)
                return r;
        run->workspace_ready = true;
        return 0;
}

int workflow_workspace_remove(struct workflow_run *run, struct berth_error *err)
{
        const json_t *ws = json_path(run->o.obj, "spec.workspace");
        _cleanup_free_ char *name = NULL;

        /* Read from the object: a Workflow being deleted needs no valid spec. */
        if (!json_is_object(ws) || json_is_true(json_object_get(ws, "keep")))
                return 0;
        name = workflow_workspace_name(run);
        if (!name)
                return berth_error_set(err, -ENOMEM, "out of memory");
        return docker_volume_remove(run->o.ctx->docker, name, err);
}
