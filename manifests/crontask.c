/* crontask.c: the CronTask kind — recurring Tasks and Workflows on a
 * schedule (docs/reference/crontask.md): names, schema, defaults, the typed
 * spec and its `berth get` columns.
 *
 * The schedule and the time zone are parsed by the cron module when the spec
 * is checked, so an expression the API accepts is one the controller can
 * run; the child template is checked exactly like a Task's or a Workflow's
 * spec, with the template's path in front. */
#include "cron.h"
#include "manifests-internal.h"

#define DEFAULT_SUCCESSFUL_HISTORY 3
#define DEFAULT_FAILED_HISTORY     1
#define DEFAULT_CATCH_UP_MAX       10

static const char *const crontask_spec_fields[] = {
    "schedule",
    "timeZone",
    "concurrencyPolicy",
    "startingDeadlineSeconds",
    "catchUp",
    "suspend",
    "successfulHistoryLimit",
    "failedHistoryLimit",
    "taskTemplate",
    "workflowTemplate",
    NULL,
};

/* In the order of the enums. */
static const char *const concurrency_policies[] = {"Allow", "Forbid", "Replace", NULL};
static const char *const catch_up_policies[] = {"None", "Latest", "All", NULL};

const char *concurrency_policy_to_string(enum concurrency_policy p)
{
        return (size_t)p < ARRAY_SIZE(concurrency_policies) - 1 ? concurrency_policies[p]
                                                                : "Unknown";
}

static void check_schedule(struct check *c, const json_t *spec, struct crontask_spec *out)
{
        char msg[256];
        const char *s = check_nonempty_string(c, spec, "spec", "schedule", true);

        out->schedule_text = s;
        if (s && cron_schedule_parse(s, &out->schedule, msg, sizeof(msg)) < 0)
                check_error(c, "spec.schedule", "%s", msg);

        out->time_zone = check_nonempty_string(c, spec, "spec", "timeZone", false);
        if (!out->time_zone)
                out->time_zone = "UTC";
        if (cron_zone_open(out->time_zone, &out->zone, msg, sizeof(msg)) < 0)
                check_error(c, "spec.timeZone", "%s", msg);
}

static void check_catch_up(struct check *c, const json_t *spec, struct crontask_spec *out)
{
        static const char *const fields[] = {"policy", "max", NULL};
        const json_t *catch_up = check_object(c, spec, "spec", "catchUp", false);

        out->catch_up = CATCH_UP_LATEST;
        out->catch_up_max = DEFAULT_CATCH_UP_MAX;
        if (!catch_up)
                return;
        check_unknown_fields(c, catch_up, "spec.catchUp", fields);
        out->catch_up = (enum catch_up_policy)check_enum(c, catch_up, "spec.catchUp", "policy",
                                                         catch_up_policies, CATCH_UP_LATEST);
        out->catch_up_max = (int)check_int(c, catch_up, "spec.catchUp", "max", 1,
                                           CRONTASK_CATCH_UP_MAX, DEFAULT_CATCH_UP_MAX);
}

/* The child template: exactly one of taskTemplate and workflowTemplate, its
 * metadata (labels, annotations) and its spec, checked as the child's kind
 * checks it, its names as long as the longest child name. */
static void check_template(struct check *c, const json_t *spec, struct crontask_spec *out)
{
        static const char *const template_fields[] = {"metadata", "spec", NULL};
        static const char *const metadata_fields[] = {"labels", "annotations", NULL};
        const json_t *task = check_object(c, spec, "spec", "taskTemplate", false);
        const json_t *workflow = check_object(c, spec, "spec", "workflowTemplate", false);
        const char *key = task ? "taskTemplate" : "workflowTemplate";
        const json_t *template = task ? task : workflow;
        const json_t *md, *child;
        char child_name[CRONTASK_NAME_MAX + CRONTASK_CHILD_SUFFIX_MAX + 1];

        if (task && workflow) {
                check_error(c, "spec", "only one of taskTemplate and workflowTemplate may be set");
                return;
        }
        if (!template) {
                if (!check_field(c, spec, "spec", "taskTemplate", false) &&
                    !check_field(c, spec, "spec", "workflowTemplate", false))
                        check_error(c, "spec",
                                    "one of taskTemplate or workflowTemplate is required");
                return;
        }
        _cleanup_free_ char *path = check_join(c, "spec", key);
        _cleanup_free_ char *spec_path = check_join(c, path, "spec");
        _cleanup_free_ char *md_path = check_join(c, path, "metadata");
        if (!path || !spec_path || !md_path)
                return;
        check_unknown_fields(c, template, path, template_fields);
        md = check_object(c, template, path, "metadata", false);
        if (md) {
                check_unknown_fields(c, md, md_path, metadata_fields);
                out->child_labels = check_string_map(c, md, md_path, "labels", true, true);
                out->child_annotations =
                    check_string_map(c, md, md_path, "annotations", false, false);
        }
        child = check_object(c, template, path, "spec", true);
        out->child_kind = task ? &kind_task : &kind_workflow;
        out->child_spec = child;
        if (!child)
                return;

        /* The longest child name, for the limits of names derived from it. */
        const char *name = c->object_name;
        if (name_is_valid(name) && strlen(name) <= CRONTASK_NAME_MAX) {
                snprintf(child_name, sizeof(child_name), "%s-manual-0000000000", name);
                c->object_name = child_name;
        }
        if (task) {
                task_check(c, child, spec_path, TASK_IN_CRON_TEMPLATE, NULL);
        } else {
                struct workflow_spec ignored;

                workflow_check_at(c, child, spec_path, &ignored);
                workflow_spec_release(&ignored);
        }
        c->object_name = name;
}

static void crontask_check(struct check *c, const json_t *spec, void *ret_spec)
{
        struct crontask_spec out = {0};

        check_unknown_fields(c, spec, "spec", crontask_spec_fields);
        if (name_is_valid(c->object_name) && strlen(c->object_name) > CRONTASK_NAME_MAX)
                check_error(c, "metadata.name",
                            "must be at most %d characters for a CronTask: its runs are named "
                            "<name>-manual-<unix seconds>",
                            CRONTASK_NAME_MAX);
        check_schedule(c, spec, &out);
        out.concurrency = (enum concurrency_policy)check_enum(
            c, spec, "spec", "concurrencyPolicy", concurrency_policies, CONCURRENCY_ALLOW);
        out.starting_deadline_ms =
            check_int(c, spec, "spec", "startingDeadlineSeconds", 1, SECONDS_PER_YEAR, 0) * 1000;
        check_catch_up(c, spec, &out);
        out.suspend = check_bool(c, spec, "spec", "suspend", false);
        out.successful_history = (int)check_int(c, spec, "spec", "successfulHistoryLimit", 0,
                                                CRONTASK_HISTORY_MAX, DEFAULT_SUCCESSFUL_HISTORY);
        out.failed_history = (int)check_int(c, spec, "spec", "failedHistoryLimit", 0,
                                            CRONTASK_HISTORY_MAX, DEFAULT_FAILED_HISTORY);
        check_template(c, spec, &out);

        if (ret_spec)
                *(struct crontask_spec *)ret_spec = out;
        else
                crontask_spec_release(&out);
}

void crontask_spec_release(struct crontask_spec *spec)
{
        if (!spec)
                return;
        cron_schedule_free(spec->schedule);
        cron_zone_free(spec->zone);
        spec->schedule = NULL;
        spec->zone = NULL;
}

int crontask_spec_decode(const json_t *object, struct crontask_spec *ret, struct berth_error *err)
{
        struct crontask_spec s = {0};
        int r = check_decode(&kind_crontask, object, &s, err);

        if (r < 0) {
                crontask_spec_release(&s);
                return r;
        }
        *ret = s;
        return 0;
}

static void crontask_defaults(json_t *spec)
{
        json_t *catch_up, *template;

        json_set_default(spec, "timeZone", json_string("UTC"));
        json_set_default(spec, "concurrencyPolicy",
                         json_string(concurrency_policies[CONCURRENCY_ALLOW]));
        json_set_default(spec, "catchUp", json_object());
        catch_up = json_object_get(spec, "catchUp");
        if (json_is_object(catch_up)) {
                json_set_default(catch_up, "policy",
                                 json_string(catch_up_policies[CATCH_UP_LATEST]));
                json_set_default(catch_up, "max", json_integer(DEFAULT_CATCH_UP_MAX));
        }
        json_set_default(spec, "suspend", json_false());
        json_set_default(spec, "successfulHistoryLimit", json_integer(DEFAULT_SUCCESSFUL_HISTORY));
        json_set_default(spec, "failedHistoryLimit", json_integer(DEFAULT_FAILED_HISTORY));
        template = json_object_get(json_object_get(spec, "taskTemplate"), "spec");
        if (json_is_object(template))
                task_defaults(template, TASK_IN_OBJECT);
        template = json_object_get(json_object_get(spec, "workflowTemplate"), "spec");
        if (json_is_object(template))
                workflow_defaults(template);
}

static const struct printer_column crontask_columns[] = {
    {.title = "SCHEDULE", .path = "spec.schedule", .format = COLUMN_TEXT},
    {.title = "TIMEZONE", .path = "spec.timeZone", .format = COLUMN_TEXT, .fallback = "UTC"},
    {.title = "SUSPEND", .path = "spec.suspend", .format = COLUMN_TEXT, .fallback = "false"},
    {.title = "ACTIVE", .path = "status.active", .format = COLUMN_LENGTH},
    {.title = "LAST",
     .path = "status.lastScheduleTime",
     .format = COLUMN_AGE,
     .fallback = "<none>"},
    {.title = "NEXT",
     .path = "status.nextScheduleTime",
     .format = COLUMN_UNTIL,
     .fallback = "<none>"},
    {.title = "AGE", .path = "metadata.creationTimestamp", .format = COLUMN_AGE},
    {.title = "MISSED", .path = "status.missed.count", .format = COLUMN_COUNT, .wide = true},
    {0},
};

const struct kind_info kind_crontask = {
    .kind = "CronTask",
    .resource = "crontasks",
    .singular = "crontask",
    .short_name = "ct",
    .namespaced = true,
    .finalizer = FINALIZER_CHILDREN,
    .columns = crontask_columns,
    .children_label = CRONTASK_LABEL,
    .check_spec = crontask_check,
    .default_spec = crontask_defaults,
};
