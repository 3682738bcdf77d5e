/* payload.c: what a delivery says — the JSON body every type starts from,
 * and its one-line summary. */
#include "notify-internal.h"

#define SUMMARY_MAX 1024

/* The status fields a receiver needs to tell what happened without asking
 * berthd: a Task's and a Workflow's (others have what they have). */
static const char *const status_fields[] = {
    "phase", "reason", "message", "startTime", "completionTime", "exitCode", "attempts", NULL,
};

static json_t *object_summary(const json_t *event, const json_t *object)
{
        const json_t *involved = json_object_get(event, "involvedObject");
        _cleanup_json_ json_t *o = json_object();
        _cleanup_json_ json_t *status = json_object();
        const json_t *labels = json_path(object, "metadata.labels");
        const json_t *st = json_object_get(object, "status");
        static const char *const ids[] = {"kind", "namespace", "name", "uid", NULL};

        if (!o || !status)
                return NULL;
        for (size_t i = 0; ids[i]; i++) {
                const json_t *v = json_object_get(involved, ids[i]);
                if (json_is_string(v) && json_object_set_new(o, ids[i], json_deep_copy(v)) < 0)
                        return NULL;
        }
        if (!object)
                return TAKE_PTR(o);
        if (json_is_object(labels) && json_object_set_new(o, "labels", json_deep_copy(labels)) < 0)
                return NULL;
        for (size_t i = 0; status_fields[i]; i++) {
                const json_t *v = json_object_get(st, status_fields[i]);
                if (v && json_object_set_new(status, status_fields[i], json_deep_copy(v)) < 0)
                        return NULL;
        }
        if (json_object_set(o, "status", status) < 0)
                return NULL;
        return TAKE_PTR(o);
}

json_t *notify_payload(const json_t *event, const json_t *object, const char *outcome,
                       const char *notifier_ns, const char *notifier_name, const char *id)
{
        json_t *summary = object_summary(event, object);

        if (!summary)
                return NULL;
        return json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:O, s:o}", "apiVersion",
                         MANIFEST_API_VERSION, "kind", "Notification", "id", id, "outcome", outcome,
                         "notifier", "namespace", notifier_ns, "name", notifier_name, "event",
                         event, "object", summary);
}

char *notify_summary(const json_t *payload)
{
        const char *outcome = json_string_value(json_object_get(payload, "outcome"));
        const char *kind = json_path_string(payload, "object.kind");
        const char *ns = json_path_string(payload, "object.namespace");
        const char *name = json_path_string(payload, "object.name");
        const char *message = json_path_string(payload, "event.message");
        char *s = str_printf("%s: %s %s%s%s%s%s", outcome ? outcome : "?", kind ? kind : "?",
                             ns ? ns : "", ns ? "/" : "", name ? name : "?",
                             message && *message ? ": " : "", message ? message : "");

        if (!s)
                return NULL;
        /* Cut at a character boundary, then no control characters: it goes
         * into a mail header and a chat line. */
        size_t len = strlen(s);
        if (len > SUMMARY_MAX) {
                len = SUMMARY_MAX;
                while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
                        len--;
                s[len] = '\0';
        }
        for (char *p = s; *p; p++)
                if ((unsigned char)*p < ' ' || *p == 0x7f)
                        *p = ' ';
        return s;
}
