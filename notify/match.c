/* match.c: what an Event means to a Notifier — its outcomes, the
 * selector, the reason a run failed, whose run it was. Pure. */
#include "notify-internal.h"

size_t notify_outcomes(const struct notify_facts *f, const char *ret[NOTIFY_OUTCOMES_PER_EVENT])
{
        size_t n = 0;

        if (!f->reason)
                return 0;
        if (streq(f->reason, "Completed")) {
                if (f->recovered)
                        ret[n++] = "Recovered";
                ret[n++] = "Succeeded";
        } else if (streq(f->reason, "Failed")) {
                if (streq(f->failure_reason, "BackoffLimitExceeded"))
                        ret[n++] = "BackoffLimitExceeded";
                /* A Task tells its deadline with an Event of its own when it
                 * passes (the stop begins): that one is the DeadlineExceeded
                 * outcome, not the failure after the stop. */
                else if (streq(f->failure_reason, "DeadlineExceeded") && !streq(f->kind, "Task"))
                        ret[n++] = "DeadlineExceeded";
        }
        ret[n++] = f->reason;
        return n;
}

bool notify_selector_matches(const json_t *match_labels, const json_t *labels)
{
        const char *k;
        json_t *v;

        json_object_foreach((json_t *)match_labels, k, v)
        {
                const char *have = json_string_value(json_object_get(labels, k));

                if (!have || !streq(have, json_string_value(v)))
                        return false;
        }
        return true;
}

const char *notify_match(const struct notifier_spec *spec, const json_t *labels,
                         const char *const *outcomes, size_t n)
{
        if (!notify_selector_matches(spec->match_labels, labels))
                return NULL;
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < spec->n_on; j++)
                        if (streq(outcomes[i], spec->on[j]))
                                return outcomes[i];
        return NULL;
}

void notify_failure_reason(const json_t *event, const json_t *object,
                           char ret[EVENT_REASON_MAX + 1])
{
        const char *uid = json_path_string(event, "involvedObject.uid");
        const char *reason = json_path_string(object, "status.reason");
        const char *message = json_string_value(json_object_get(event, "message"));
        size_t len = 0;

        ret[0] = '\0';
        if (object && (!uid || streq(uid, json_path_string(object, "metadata.uid"))) &&
            event_reason_is_valid(reason)) {
                (void)str_copy(ret, EVENT_REASON_MAX + 1, reason);
                return;
        }
        /* The Task and Workflow reconcilers write "<reason>: <message>". */
        while (message && len < EVENT_REASON_MAX && message[len] && message[len] != ':')
                len++;
        if (!message || len == 0 || len >= EVENT_REASON_MAX ||
            (message[len] && message[len] != ':'))
                return;
        memcpy(ret, message, len);
        ret[len] = '\0';
        if (!event_reason_is_valid(ret))
                ret[0] = '\0';
}

void notify_run_identity(const json_t *event, const json_t *object, const char **ret_kind,
                         const char **ret_name)
{
        const char *cron = json_string_value(
            json_object_get(json_path(object, "metadata.labels"), CRONTASK_LABEL));
        const json_t *ref;
        size_t i;

        json_array_foreach(json_path(object, "metadata.ownerReferences"), i, ref)
        {
                if (json_is_true(json_object_get(ref, "controller")) &&
                    streq(json_string_value(json_object_get(ref, "kind")), "CronTask"))
                        cron = json_string_value(json_object_get(ref, "name"));
        }
        if (cron) {
                *ret_kind = "CronTask";
                *ret_name = cron;
                return;
        }
        *ret_kind = json_path_string(event, "involvedObject.kind");
        *ret_name = json_path_string(event, "involvedObject.name");
}
