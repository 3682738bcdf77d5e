/* Fuzz target for the manifests module: parse → validate → defaults → decode
 * the typed spec → print → parse again. Besides memory errors (ASan) it
 * aborts when
 *   - a failed parse leaves no error message or appends documents,
 *   - printing a parsed document does not read back as the same value,
 *   - applying defaults twice differs from applying them once,
 *   - a valid, defaulted object does not decode into its typed spec (what the
 *     API accepts, the controller must be able to run), or a valid Service's
 *     replica template does not expand and decode into a Task spec. */
#include <stdint.h>

#include "manifests.h"

static void check_round_trip(const json_t *object)
{
        _cleanup_(manifest_list_release) struct manifest_list again = {};
        _cleanup_buf_ struct buf out = {};
        struct berth_error err = {};

        buf_init(&out, 4 * MANIFEST_DOC_MAX);
        if (manifest_to_yaml(object, &out) < 0)
                abort();
        /* Quoting can grow a document past the cap; then there is nothing to compare. */
        if (out.len > MANIFEST_DOC_MAX)
                return;
        if (manifest_parse_buffer(out.data, out.len, "printed", &again, &err) < 0) {
                fprintf(stderr, "printed YAML does not parse: %s\n%s\n", err.message, out.data);
                abort();
        }
        if (again.n != 1 || !json_equal((json_t *)object, again.docs[0].object)) {
                fprintf(stderr, "printed YAML reads back differently:\n%s\n", out.data);
                abort();
        }
}

/* A Service's replica as the controller makes it, each port at the start
 * of its range: 0, or -ENOMEM when it could not be made (anything else
 * aborts). */
static int decode_replica(const json_t *object, const struct service_spec *spec)
{
        _cleanup_json_ json_t *tmpl = NULL;
        struct berth_error err = {};
        struct task_spec task;
        int host_ports[SERVICE_PORTS_MAX];
        const char *name =
            json_string_value(json_object_get(json_object_get(object, "metadata"), "name"));
        int r;

        for (size_t i = 0; i < spec->n_ports; i++)
                host_ports[i] = spec->ports[i].host_from;
        tmpl = service_replica_template(spec, "default", name ? name : "", host_ports,
                                        spec->replicas > 0 ? spec->replicas - 1 : 0, &err);
        if (!tmpl) {
                /* Validation expands every expression to "": a template near the
                 * size cap may grow past it with the real values. */
                if (err.code == -ENOMEM || err.code == -E2BIG)
                        return -ENOMEM;
                fprintf(stderr, "replica template: %s\n", err.message);
                abort();
        }
        r = task_spec_from_template(tmpl, &task, &err);
        if (r == 0)
                task_spec_release(&task);
        else if (r != -ENOMEM) {
                fprintf(stderr, "replica template does not decode: %s\n", err.message);
                abort();
        }
        return r;
}

/* Decodes object as the controller does: 0, or -EINVAL/-ENOMEM. */
static int decode(const json_t *object)
{
        const char *kind = json_string_value(json_object_get(object, "kind"));
        int r = -EINVAL;

        if (streq(kind, "Task")) {
                struct task_spec spec;

                r = task_spec_decode(object, &spec, NULL);
                if (r == 0)
                        task_spec_release(&spec);
        } else if (streq(kind, "Workflow")) {
                struct workflow_spec spec;

                r = workflow_spec_decode(object, &spec, NULL);
                if (r == 0)
                        workflow_spec_release(&spec);
        } else if (streq(kind, "CronTask")) {
                struct crontask_spec spec;

                r = crontask_spec_decode(object, &spec, NULL);
                if (r == 0)
                        crontask_spec_release(&spec);
        } else if (streq(kind, "Service")) {
                struct service_spec spec;

                r = service_spec_decode(object, &spec, NULL);
                if (r == 0)
                        r = decode_replica(object, &spec);
        } else if (streq(kind, "Source")) {
                struct source_spec spec;

                r = source_spec_decode(object, &spec, NULL);
        } else if (streq(kind, "Event") || streq(kind, "Secret")) {
                r = 0; /* no typed spec: validation is all there is to it */
        } else if (streq(kind, "Role") || streq(kind, "ClusterRole")) {
                struct role_spec spec;

                r = role_spec_decode(object, &spec, NULL);
                if (r == 0)
                        role_spec_release(&spec);
        } else if (streq(kind, "RoleBinding") || streq(kind, "ClusterRoleBinding")) {
                struct rolebinding_spec spec;

                r = rolebinding_spec_decode(object, &spec, NULL);
        } else if (streq(kind, "Token")) {
                struct token_spec spec;

                r = token_spec_decode(object, &spec, NULL);
        } else if (streq(kind, "Notifier")) {
                struct notifier_spec spec;

                r = notifier_spec_decode(object, &spec, NULL);
        } else if (streq(kind, "Policy")) {
                struct policy_spec spec;

                r = policy_spec_decode(object, &spec, NULL);
        } else if (streq(kind, "Queue")) {
                struct queue_spec spec;

                r = queue_spec_decode(object, &spec, NULL);
        }
        return r;
}

static void check_document(const struct manifest_doc *doc)
{
        _cleanup_(field_errors_release) struct field_errors errs = {};
        _cleanup_json_ json_t *once = NULL, *twice = NULL;
        int r;

        r = manifest_validate(doc->object, doc->positions, &errs);
        if (r == -EINVAL) {
                _cleanup_free_ char *text = field_errors_format(&errs, doc->source);

                if (errs.n == 0 || (text && !*text))
                        abort();
        } else if (r == 0) {
                once = json_deep_copy(doc->object);
                if (!once)
                        return;
                manifest_apply_defaults(once);
                twice = json_deep_copy(once);
                if (!twice)
                        return;
                manifest_apply_defaults(twice);
                if (!json_equal(once, twice) || manifest_validate(once, NULL, &errs) != 0)
                        abort();
                r = decode(once);
                if (r < 0 && r != -ENOMEM)
                        abort();
        }

        check_round_trip(doc->object);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_(manifest_list_release) struct manifest_list list = {};
        struct berth_error err = {};

        if (manifest_parse_buffer((const char *)data, size, "fuzz", &list, &err) < 0) {
                if (list.n != 0 || !err.message[0] || err.code >= 0)
                        abort();
                return 0;
        }
        for (size_t i = 0; i < list.n; i++)
                check_document(&list.docs[i]);
        return 0;
}
