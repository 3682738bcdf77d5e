/* event.c: the Event kind — names, schema and `berth get` columns
 * (docs/reference/event.md).
 *
 * An Event is a record of something that happened to an object, written by
 * berthd's event recorder (the events module), read by `berth events` and
 * `berth describe`. Its fields sit at the top level beside metadata, as in
 * Kubernetes' core/v1 Event (kind_info's check_object), not in a spec: an
 * Event has no desired state for a controller to reach and no status, and
 * readers who know Kubernetes find involvedObject, reason and count where
 * they expect them. The API accepts Events written by users too; they are
 * checked here like any object. */
#include "manifests-internal.h"

static const char *const event_fields[] = {
    "involvedObject", "type",          "reason", "message", "count",
    "firstTimestamp", "lastTimestamp", "source", NULL,
};

static const char *const type_names[] = {
    [EVENT_NORMAL] = "Normal",
    [EVENT_WARNING] = "Warning",
    NULL,
};

const char *event_type_to_string(enum event_type t)
{
        if ((size_t)t >= ARRAY_SIZE(type_names) - 1)
                return "Unknown";
        return type_names[t];
}

int event_type_from_string(const char *s, enum event_type *ret)
{
        for (size_t i = 0; type_names[i]; i++)
                if (streq(s, type_names[i])) {
                        *ret = (enum event_type)i;
                        return 0;
                }
        return -EINVAL;
}

bool event_reason_is_valid(const char *reason)
{
        size_t len = reason ? strlen(reason) : 0;

        if (len == 0 || len > EVENT_REASON_MAX || reason[0] < 'A' || reason[0] > 'Z')
                return false;
        for (const char *p = reason; *p; p++)
                if (!ascii_alnum(*p))
                        return false;
        return true;
}

static void check_timestamp(struct check *c, const json_t *object, const char *key)
{
        const char *s = check_string(c, object, "", key, false);
        int64_t t;

        if (s && time_parse_rfc3339(s, &t) < 0)
                check_error(c, key, "must be an RFC 3339 time such as \"2026-01-01T00:00:00Z\"");
}

/* involvedObject: which object the Event is about. */
static void check_involved(struct check *c, const json_t *object)
{
        static const char *const fields[] = {"kind", "namespace", "name", "uid", NULL};
        const json_t *ref = check_object(c, object, "", "involvedObject", true);

        if (!ref)
                return;
        check_unknown_fields(c, ref, "involvedObject", fields);
        check_nonempty_string(c, ref, "involvedObject", "kind", true);
        check_name(c, ref, "involvedObject", "name", true);
        check_name(c, ref, "involvedObject", "namespace", false);
        check_string(c, ref, "involvedObject", "uid", false);
}

static void event_check(struct check *c, const json_t *object)
{
        static const char *const source_fields[] = {"component", "host", NULL};
        const char *reason, *message;
        const json_t *source;

        check_involved(c, object);
        reason = check_string(c, object, "", "reason", true);
        message = check_string(c, object, "", "message", false);
        source = check_object(c, object, "", "source", false);
        if (!json_object_get(object, "type"))
                check_error(c, "type", "required: Normal or Warning");
        else
                (void)check_enum(c, object, "", "type", type_names, EVENT_NORMAL);
        if (reason && !event_reason_is_valid(reason))
                check_error(c, "reason",
                            "must be one CamelCase word of at most %d letters and digits, such as "
                            "\"BackOff\"",
                            EVENT_REASON_MAX);
        if (message && strlen(message) > EVENT_MESSAGE_MAX)
                check_error(c, "message", "at most %d bytes, found %zu", EVENT_MESSAGE_MAX,
                            strlen(message));
        (void)check_int(c, object, "", "count", 1, INT64_MAX, 1);
        check_timestamp(c, object, "firstTimestamp");
        check_timestamp(c, object, "lastTimestamp");
        if (source) {
                check_unknown_fields(c, source, "source", source_fields);
                check_string(c, source, "source", "component", false);
                check_string(c, source, "source", "host", false);
        }
}

/* What `kubectl get events` shows; -o wide adds how often and since when,
 * who recorded it, and the generated name. */
static const struct printer_column event_columns[] = {
    {.title = "LAST SEEN", .path = "lastTimestamp", .format = COLUMN_AGE},
    {.title = "TYPE", .path = "type", .format = COLUMN_TEXT},
    {.title = "REASON", .path = "reason", .format = COLUMN_TEXT},
    {.title = "OBJECT", .path = "involvedObject", .format = COLUMN_OBJECT},
    {.title = "COUNT", .path = "count", .format = COLUMN_COUNT, .wide = true},
    {.title = "FIRST SEEN", .path = "firstTimestamp", .format = COLUMN_AGE, .wide = true},
    {.title = "SOURCE", .path = "source.host", .format = COLUMN_TEXT, .wide = true},
    {.title = "MESSAGE", .path = "message", .format = COLUMN_ONE_LINE},
    {0},
};

const struct kind_info kind_event = {
    .kind = "Event",
    .resource = "events",
    .singular = "event",
    .short_name = "ev",
    .namespaced = true,
    .columns = event_columns,
    .name_wide = true,
    .object_fields = event_fields,
    .check_object = event_check,
};
