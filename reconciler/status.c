/* status.c: status JSON — the Running/Succeeded/Failed/Terminating
 * conditions every phase-driven kind writes, and a Task's status. Pure.
 *
 * The store can hold anything a client wrote: reading a status never trusts
 * it (odd fields read as absent).
 */
#include "reconciler-internal.h"

/* ---- status ----------------------------------------------------------- */

int64_t json_time_field(const json_t *obj, const char *dotted)
{
        int64_t ms;
        const char *s = json_path_string(obj, dotted);
        if (!s || time_parse_rfc3339(s, &ms) < 0)
                return 0;
        return ms;
}

static int int_field(const json_t *st, const char *field)
{
        json_int_t v = json_integer_value(json_object_get(st, field));
        if (v < 0 || v > 1000000000)
                return 0;
        return (int)v;
}

/* The condition of that type in a status, or NULL. Borrowed. */
static const json_t *condition_of(const json_t *status, const char *type)
{
        const json_t *conds = json_is_object(status) ? json_object_get(status, "conditions") : NULL;
        size_t i;
        const json_t *c;

        json_array_foreach(conds, i, c)
        {
                if (streq(json_string_value(json_object_get(c, "type")), type))
                        return c;
        }
        return NULL;
}

/* When condition Terminating became True (0: it is not): a stop in progress
 * is recorded only there, like Kubernetes' FailureTarget condition of a Job. */
static int64_t terminating_since(const json_t *status)
{
        const json_t *c = condition_of(status, "Terminating");

        if (!streq(json_string_value(json_object_get(c, "status")), "True"))
                return 0;
        int64_t ms = json_time_field(c, "lastTransitionTime");
        return ms > 0 ? ms : 1;
}

/* Condition Waiting (a Task with spec.dependsOn), when it is there. */
static void waiting_of(const json_t *status, struct task_status *st)
{
        const json_t *c = condition_of(status, "Waiting");
        const char *s = json_string_value(json_object_get(c, "status"));

        if (!s)
                return;
        st->waiting = streq(s, "True") ? TASK_WAITING_TRUE : TASK_WAITING_FALSE;
        st->waiting_reason = json_string_value(json_object_get(c, "reason"));
        st->waiting_message = json_string_value(json_object_get(c, "message"));
}

/* Condition Queued (a Task that waited for a run slot), when it is there. */
static void queued_of(const json_t *status, struct task_status *st)
{
        const json_t *c = condition_of(status, "Queued");
        const char *s = json_string_value(json_object_get(c, "status"));

        if (!s)
                return;
        st->queued = streq(s, "True") ? TASK_QUEUED_TRUE : TASK_QUEUED_FALSE;
        st->queued_reason = json_string_value(json_object_get(c, "reason"));
        st->queued_message = json_string_value(json_object_get(c, "message"));
}

void task_status_from_json(const json_t *object, struct task_status *ret)
{
        const json_t *st = object ? json_object_get(object, "status") : NULL;
        struct task_status s = {.phase = TASK_PHASE_PENDING};

        if (json_is_object(st)) {
                if (task_phase_from_string(json_string_value(json_object_get(st, "phase")),
                                           &s.phase) < 0)
                        s.phase = TASK_PHASE_PENDING;
                s.attempts = int_field(st, "attempts");
                s.container_id = json_string_value(json_object_get(st, "containerID"));
                s.start_ms = json_time_field(st, "startTime");
                s.completion_ms = json_time_field(st, "completionTime");
                const json_t *code = json_object_get(st, "exitCode");
                if (json_is_integer(code) && json_integer_value(code) >= INT32_MIN &&
                    json_integer_value(code) <= INT32_MAX) {
                        s.exit_known = true;
                        s.exit_code = (int)json_integer_value(code);
                }
                s.reason = json_string_value(json_object_get(st, "reason"));
                s.message = json_string_value(json_object_get(st, "message"));
                json_int_t g = json_integer_value(json_object_get(st, "observedGeneration"));
                s.observed_generation = g > 0 ? g : 0;
                s.next_attempt_ms = json_time_field(st, "nextAttemptTime");
                s.terminating_ms = terminating_since(st);
                waiting_of(st, &s);
                queued_of(st, &s);
        }
        *ret = s;
}

int json_set_new(json_t *obj, const char *key, json_t *value)
{
        if (!value)
                return -ENOMEM;
        return json_object_set_new(obj, key, value) < 0 ? -ENOMEM : 0;
}

int json_set_time(json_t *obj, const char *key, int64_t ms)
{
        char buf[RFC3339_MAX];
        if (ms <= 0)
                return 0;
        time_format_rfc3339(ms, buf);
        return json_set_new(obj, key, json_string(buf));
}

int json_set_string(json_t *obj, const char *key, const char *s)
{
        if (!s)
                return 0;
        return json_set_new(obj, key, json_string(s));
}

struct condition {
        const char *type;
        const char *status;
        const char *reason;
        const char *message;
};

enum { CONDITIONS_MAX = 6 };

/* The conditions a status implies (see reconciler.h); returns how many. */
static size_t conditions_of(const struct task_status *st, const json_t *old_status,
                            struct condition c[CONDITIONS_MAX])
{
        const char *reason = st->reason ? st->reason : "";
        const char *message = st->message ? st->message : "";

        c[0] = (struct condition){"Running", "False", "Pending", "waiting for the container"};
        c[1] = (struct condition){"Succeeded", "Unknown", "Pending", ""};
        c[2] = (struct condition){"Failed", "Unknown", "Pending", ""};
        switch (st->phase) {
        case TASK_PHASE_PENDING:
                /* Why it does not run yet (CreateContainerConfigError,
                 * DependenciesNotReady, ...), when the status says. */
                if (st->reason)
                        c[0] = (struct condition){"Running", "False", reason, message};
                break;
        case TASK_PHASE_RUNNING:
                if (st->next_attempt_ms > 0)
                        c[0] = (struct condition){"Running", "False", "BackOff", message};
                else
                        c[0] = (struct condition){"Running", "True", "Started", ""};
                c[1].reason = c[2].reason = "Running";
                break;
        case TASK_PHASE_SUCCEEDED:
                c[0] = (struct condition){"Running", "False", reason, message};
                c[1] = (struct condition){"Succeeded", "True", reason, message};
                c[2] = (struct condition){"Failed", "False", reason, message};
                break;
        case TASK_PHASE_FAILED:
                c[0] = (struct condition){"Running", "False", reason, message};
                c[1] = (struct condition){"Succeeded", "False", reason, message};
                c[2] = (struct condition){"Failed", "True", reason, message};
                break;
        }
        size_t n = 3;
        if (st->terminating_ms > 0)
                c[n++] = (struct condition){"Terminating", "True", reason, message};
        else if (condition_of(old_status, "Terminating"))
                /* Once a stop began, the condition stays, False when it is over. */
                c[n++] = (struct condition){"Terminating", "False", reason, "stopped"};
        if (st->waiting != TASK_WAITING_NONE)
                c[n++] = (struct condition){"Waiting",
                                            st->waiting == TASK_WAITING_TRUE ? "True" : "False",
                                            st->waiting_reason ? st->waiting_reason : "",
                                            st->waiting_message ? st->waiting_message : ""};
        if (st->queued != TASK_QUEUED_NONE)
                c[n++] =
                    (struct condition){"Queued", st->queued == TASK_QUEUED_TRUE ? "True" : "False",
                                       st->queued_reason ? st->queued_reason : "",
                                       st->queued_message ? st->queued_message : ""};
        return n;
}

/* lastTransitionTime of the old condition of that type when its status is
 * unchanged, else NULL. Borrowed from old_status. */
static const char *old_transition(const json_t *old_status, const char *type, const char *status)
{
        const json_t *c = condition_of(old_status, type);

        if (!c || !streq(json_string_value(json_object_get(c, "status")), status))
                return NULL;
        return json_string_value(json_object_get(c, "lastTransitionTime"));
}

json_t *phase_conditions_to_json(const struct task_status *st, const json_t *old_status,
                                 int64_t now_ms)
{
        struct condition c[CONDITIONS_MAX];
        char now[RFC3339_MAX];
        _cleanup_json_ json_t *arr = json_array();

        if (!arr)
                return NULL;
        size_t n = conditions_of(st, old_status, c);
        time_format_rfc3339(now_ms, now);
        for (size_t i = 0; i < n; i++) {
                const char *since = old_transition(old_status, c[i].type, c[i].status);
                json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", c[i].type, "status",
                                      c[i].status, "reason", c[i].reason, "message", c[i].message,
                                      "lastTransitionTime", since ? since : now);
                if (!o || json_array_append_new(arr, o) < 0)
                        return NULL;
        }
        return TAKE_PTR(arr);
}

json_t *status_with_condition(const json_t *old_status, const char *type, const char *status,
                              const char *reason, const char *message, int64_t now_ms)
{
        _cleanup_json_ json_t *st =
            json_is_object(old_status) ? json_deep_copy(old_status) : json_object();
        const char *since = old_transition(old_status, type, status);
        char now[RFC3339_MAX];
        json_t *conds;

        if (!st)
                return NULL;
        conds = json_object_get(st, "conditions");
        if (!json_is_array(conds)) {
                conds = json_array();
                if (json_set_new(st, "conditions", conds) < 0)
                        return NULL;
        }
        time_format_rfc3339(now_ms, now);
        json_t *c =
            json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", type, "status", status, "reason", reason,
                      "message", message, "lastTransitionTime", since ? since : now);
        if (!c)
                return NULL;
        for (size_t i = 0; i < json_array_size(conds); i++)
                if (streq(json_string_value(json_object_get(json_array_get(conds, i), "type")),
                          type))
                        return json_array_set_new(conds, i, c) < 0 ? NULL : TAKE_PTR(st);
        return json_array_append_new(conds, c) < 0 ? NULL : TAKE_PTR(st);
}

json_t *task_status_to_json(const struct task_status *st, const json_t *old_status, int64_t now_ms)
{
        _cleanup_json_ json_t *o = json_object();

        if (!o)
                return NULL;
        if (json_set_new(o, "phase", json_string(task_phase_to_string(st->phase))) < 0 ||
            json_set_new(o, "observedGeneration", json_integer(st->observed_generation)) < 0 ||
            json_set_new(o, "attempts", json_integer(st->attempts)) < 0 ||
            json_set_string(o, "containerID", st->container_id) < 0 ||
            json_set_time(o, "startTime", st->start_ms) < 0 ||
            json_set_time(o, "completionTime", st->completion_ms) < 0 ||
            (st->exit_known && json_set_new(o, "exitCode", json_integer(st->exit_code)) < 0) ||
            json_set_string(o, "reason", st->reason) < 0 ||
            json_set_string(o, "message", st->message) < 0 ||
            json_set_time(o, "nextAttemptTime", st->next_attempt_ms) < 0 ||
            json_set_new(o, "conditions", phase_conditions_to_json(st, old_status, now_ms)) < 0)
                return NULL;
        return TAKE_PTR(o);
}
