/* notifier.c: the Notifier kind — who is told when objects of a namespace
 * fail, succeed or recover, and how (docs/reference/notifier.md,
 * docs/notifications.md).
 *
 * This file knows the shape of a Notifier. Which types berthd delivers
 * beyond the built-ins (plugins) and which programs an exec Notifier may
 * run are berthd's configuration: the admission module checks those when
 * an object is written (admission_check_object), the notify module again
 * when it delivers. So a type that is not built in passes here when its
 * name is well formed and spec.<type> is an object. */
#include "manifests-internal.h"

static const char *const builtin_names[] = {
    [NOTIFIER_WEBHOOK] = "webhook",
    [NOTIFIER_SLACK] = "slack",
    [NOTIFIER_SMTP] = "smtp",
    [NOTIFIER_EXEC] = "exec",
    NULL,
};

/* The spec fields besides the type's own section. A plugin type may not be
 * named after one of them, or after another built-in section. */
static const char *const common_fields[] = {"selector", "on", "type", NULL};

const char *const *notifier_builtin_types(void)
{
        return builtin_names;
}

const char *notifier_type_to_string(enum notifier_type t)
{
        if ((size_t)t < ARRAY_SIZE(builtin_names) - 1)
                return builtin_names[t];
        return "plugin";
}

enum notifier_type notifier_type_from_string(const char *s)
{
        for (size_t i = 0; builtin_names[i]; i++)
                if (streq(s, builtin_names[i]))
                        return (enum notifier_type)i;
        return NOTIFIER_PLUGIN;
}

bool notifier_url_is_http(const char *url)
{
        const char *host;
        size_t len = url ? strlen(url) : 0;

        if (len == 0 || len > NOTIFIER_URL_MAX)
                return false;
        if (str_has_prefix(url, "http://"))
                host = url + strlen("http://");
        else if (str_has_prefix(url, "https://"))
                host = url + strlen("https://");
        else
                return false;
        if (!*host || *host == '/' || *host == '?' || *host == '#' || *host == ':')
                return false;
        for (const char *p = url; *p; p++)
                if ((unsigned char)*p <= ' ' || *p == 0x7f)
                        return false;
        return true;
}

/* smtp://host[:port] or smtps://host[:port], nothing after but an optional
 * '/' (libcurl reads a path as the HELO domain: not ours to set). */
static bool smtp_url_valid(const char *url)
{
        const char *host;
        size_t len = url ? strlen(url) : 0;

        if (len == 0 || len > NOTIFIER_URL_MAX)
                return false;
        if (str_has_prefix(url, "smtp://"))
                host = url + strlen("smtp://");
        else if (str_has_prefix(url, "smtps://"))
                host = url + strlen("smtps://");
        else
                return false;
        if (!*host || *host == '/' || *host == ':')
                return false;
        for (const char *p = host; *p; p++) {
                if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '?' || *p == '#' || *p == '@')
                        return false;
                if (*p == '/' && p[1])
                        return false;
        }
        return true;
}

bool notifier_address_is_valid(const char *address)
{
        size_t len = address ? strlen(address) : 0;
        const char *at = address ? strchr(address, '@') : NULL;

        if (len < 3 || len > NOTIFIER_ADDRESS_MAX || !at || at == address || !at[1] ||
            strchr(at + 1, '@'))
                return false;
        /* No spaces, controls or angle brackets: the address goes into a
         * mail header and an SMTP command as it is. */
        for (const char *p = address; *p; p++)
                if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '<' || *p == '>' || *p == ',' ||
                    *p == '"')
                        return false;
        return true;
}

/* secretRef: {name, key} at parent.secretRef, decoded into *ret. */
static void check_secret_ref(struct check *c, const json_t *obj, const char *parent,
                             struct notifier_secret_ref *ret)
{
        static const char *const fields[] = {"name", "key", NULL};
        const json_t *ref = check_object(c, obj, parent, "secretRef", false);
        _cleanup_free_ char *path = NULL;
        const char *key;

        if (!ref)
                return;
        path = check_join(c, parent, "secretRef");
        if (!path)
                return;
        check_unknown_fields(c, ref, path, fields);
        ret->name = check_name(c, ref, path, "name", true);
        key = check_string(c, ref, path, "key", true);
        if (key && !secret_key_is_valid(key))
                check_error_key(c, path, "key",
                                "invalid key \"%.64s\": a Secret's keys are letters, digits, "
                                "'-', '_' and '.'",
                                key);
        else
                ret->key = key;
        if (!ret->name || !ret->key)
                *ret = (struct notifier_secret_ref){0};
}

static void check_delivery_limits(struct check *c, const json_t *section, const char *path,
                                  int64_t default_timeout, int default_attempts,
                                  struct notifier_spec *out)
{
        out->timeout_ms = check_int(c, section, path, "timeoutSeconds", 1, NOTIFIER_TIMEOUT_SEC_MAX,
                                    default_timeout) *
                          1000;
        out->max_attempts = (int)check_int(c, section, path, "maxAttempts", 1,
                                           NOTIFIER_ATTEMPTS_MAX, default_attempts);
}

static void check_http_url(struct check *c, const json_t *section, const char *path, bool required,
                           struct notifier_spec *out)
{
        const char *url = check_string(c, section, path, "url", required);

        if (!url)
                return;
        if (!notifier_url_is_http(url))
                check_error_key(c, path, "url",
                                "must be an http:// or https:// URL with a host, at most %d "
                                "characters, without spaces",
                                NOTIFIER_URL_MAX);
        else
                out->url = url;
}

static void check_webhook(struct check *c, const json_t *section, const char *path,
                          struct notifier_spec *out)
{
        static const char *const fields[] = {"url", "secretRef", "timeoutSeconds", "maxAttempts",
                                             NULL};

        check_unknown_fields(c, section, path, fields);
        check_http_url(c, section, path, true, out);
        check_secret_ref(c, section, path, &out->secret);
        check_delivery_limits(c, section, path, NOTIFIER_DEFAULT_TIMEOUT_SEC,
                              NOTIFIER_DEFAULT_ATTEMPTS, out);
}

/* A Slack incoming webhook's URL is a credential: it may come from a
 * Secret (secretRef) instead of the manifest. */
static void check_slack(struct check *c, const json_t *section, const char *path,
                        struct notifier_spec *out)
{
        static const char *const fields[] = {"url", "secretRef", "timeoutSeconds", "maxAttempts",
                                             NULL};
        bool has_url = check_field(c, section, path, "url", false);
        bool has_ref = check_field(c, section, path, "secretRef", false);

        check_unknown_fields(c, section, path, fields);
        if (has_url == has_ref)
                check_error(c, path,
                            "needs exactly one of url and secretRef (a Secret key holding the "
                            "URL)");
        check_http_url(c, section, path, false, out);
        check_secret_ref(c, section, path, &out->secret);
        check_delivery_limits(c, section, path, NOTIFIER_DEFAULT_TIMEOUT_SEC,
                              NOTIFIER_DEFAULT_ATTEMPTS, out);
}

static void check_smtp(struct check *c, const json_t *section, const char *path,
                       struct notifier_spec *out)
{
        static const char *const fields[] = {
            "url",      "from",           "to",          "username", "secretRef",
            "startTLS", "timeoutSeconds", "maxAttempts", NULL};
        const char *url = check_string(c, section, path, "url", true);
        const char *from = check_string(c, section, path, "from", true);
        _cleanup_free_ char *to_path = NULL;
        _cleanup_json_ json_t *seen = NULL;
        const json_t *to;
        size_t i;
        json_t *item;

        check_unknown_fields(c, section, path, fields);
        if (url && !smtp_url_valid(url))
                check_error_key(c, path, "url",
                                "must be smtp://HOST[:PORT] or smtps://HOST[:PORT] (implicit "
                                "TLS)");
        else
                out->url = url;
        if (from && !notifier_address_is_valid(from))
                check_error_key(c, path, "from",
                                "invalid address \"%.64s\": user@domain, without spaces, quotes, "
                                "commas or angle brackets",
                                from);
        else
                out->from = from;
        to = check_list(c, section, path, "to", &to_path, &seen);
        if (!check_field(c, section, path, "to", true)) {
                /* reported */
        } else if (to && (json_array_size(to) == 0 || json_array_size(to) > NOTIFIER_TO_MAX)) {
                check_error(c, to_path, "needs 1 to %d addresses, found %zu", NOTIFIER_TO_MAX,
                            json_array_size(to));
        } else {
                json_array_foreach(to, i, item)
                {
                        _cleanup_free_ char *ipath = check_index(c, to_path, i);
                        const char *s = json_string_value(item);

                        if (!ipath)
                                return;
                        if (!s || !notifier_address_is_valid(s))
                                check_error(c, ipath,
                                            "must be an address: user@domain, without spaces, "
                                            "quotes, commas or angle brackets");
                        else if (check_unique(c, seen, s, i, to_path, ipath, NULL, "address"))
                                out->to[out->n_to++] = s;
                }
        }
        out->username = check_nonempty_string(c, section, path, "username", false);
        if (out->username && strpbrk(out->username, "\r\n")) {
                check_error_key(c, path, "username", "must be one line");
                out->username = NULL;
        }
        check_secret_ref(c, section, path, &out->secret);
        out->start_tls = check_bool(c, section, path, "startTLS", true);
        check_delivery_limits(c, section, path, NOTIFIER_DEFAULT_TIMEOUT_SEC,
                              NOTIFIER_DEFAULT_ATTEMPTS, out);
}

static void check_exec(struct check *c, const json_t *section, const char *path,
                       struct notifier_spec *out)
{
        static const char *const fields[] = {"command", "args", "timeoutSeconds", "maxAttempts",
                                             NULL};
        const char *command = check_nonempty_string(c, section, path, "command", true);
        const json_t *args = check_string_array(c, section, path, "args");

        check_unknown_fields(c, section, path, fields);
        if (command && (command[0] != '/' || strlen(command) > NOTIFIER_COMMAND_MAX))
                check_error_key(c, path, "command",
                                "must be an absolute path of at most %d characters (a program "
                                "inside a berthd --notifier-exec-dir)",
                                NOTIFIER_COMMAND_MAX);
        else
                out->command = command;
        if (args && json_array_size(args) > NOTIFIER_ARGS_MAX) {
                check_error_key(c, path, "args", "at most %d arguments, found %zu",
                                NOTIFIER_ARGS_MAX, json_array_size(args));
        } else if (args) {
                size_t i;
                json_t *item;

                json_array_foreach(args, i, item) out->args[out->n_args++] =
                    json_string_value(item);
        }
        check_delivery_limits(c, section, path, NOTIFIER_DEFAULT_EXEC_TIMEOUT_SEC,
                              NOTIFIER_DEFAULT_EXEC_ATTEMPTS, out);
}

static void check_on(struct check *c, const json_t *spec, struct notifier_spec *out)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_json_ json_t *seen = NULL;
        const json_t *arr = check_list(c, spec, "spec", "on", &path, &seen);
        size_t i;
        json_t *item;

        if (!check_field(c, spec, "spec", "on", true) || !arr)
                return;
        if (json_array_size(arr) == 0 || json_array_size(arr) > NOTIFIER_ON_MAX) {
                check_error(c, path, "needs 1 to %d entries, found %zu", NOTIFIER_ON_MAX,
                            json_array_size(arr));
                return;
        }
        json_array_foreach(arr, i, item)
        {
                _cleanup_free_ char *ipath = check_index(c, path, i);
                const char *s = json_string_value(item);

                if (!ipath)
                        return;
                if (!s || !event_reason_is_valid(s))
                        check_error(c, ipath,
                                    "must be an outcome (Failed, Succeeded, Recovered, "
                                    "DeadlineExceeded, BackoffLimitExceeded) or an Event reason "
                                    "(a CamelCase word such as ScheduleMissed)");
                else if (check_unique(c, seen, s, i, path, ipath, NULL, "entry"))
                        out->on[out->n_on++] = s;
        }
}

static void check_selector(struct check *c, const json_t *spec, struct notifier_spec *out)
{
        static const char *const fields[] = {"matchLabels", NULL};
        const json_t *sel = check_object(c, spec, "spec", "selector", false);

        if (!sel)
                return;
        check_unknown_fields(c, sel, "spec.selector", fields);
        out->match_labels = check_string_map(c, sel, "spec.selector", "matchLabels", true, false);
        if (out->match_labels && json_object_size(out->match_labels) > NOTIFIER_MATCH_LABELS_MAX) {
                check_error(c, "spec.selector.matchLabels", "at most %d labels, found %zu",
                            NOTIFIER_MATCH_LABELS_MAX, json_object_size(out->match_labels));
                out->match_labels = NULL;
        }
}

/* Checks a Notifier spec and, when ret_spec is not NULL, decodes it. */
static void notifier_check(struct check *c, const json_t *spec, void *ret_spec)
{
        struct notifier_spec out = {0};
        const char *type = check_string(c, spec, "spec", "type", true);
        const char *fields[ARRAY_SIZE(common_fields) + ARRAY_SIZE(builtin_names)];
        size_t n = 0;

        for (size_t i = 0; common_fields[i]; i++)
                fields[n++] = common_fields[i];
        for (size_t i = 0; builtin_names[i]; i++)
                fields[n++] = builtin_names[i];
        out.builtin = notifier_type_from_string(type);
        if (type && out.builtin == NOTIFIER_PLUGIN &&
            (!name_is_valid(type) || strv_contains(common_fields, type))) {
                check_error_key(c, "spec", "type",
                                "invalid type \"%.64s\": webhook, slack, smtp, exec, or the "
                                "name of a notifier plugin berthd was started with (a DNS-1123 "
                                "label)",
                                type);
                type = NULL;
        } else if (type && out.builtin == NOTIFIER_PLUGIN) {
                fields[n++] = type; /* its section, spec.<type> */
        }
        fields[n] = NULL;
        check_unknown_fields(c, spec, "spec", fields);
        out.type = type;
        check_selector(c, spec, &out);
        check_on(c, spec, &out);
        /* Only the chosen type's section: another one would be ignored, and
         * a reader could take it for what is used. */
        for (size_t i = 0; builtin_names[i]; i++)
                if (json_object_get(spec, builtin_names[i]) && !streq(type, builtin_names[i]))
                        check_error_key(c, "spec", builtin_names[i], "not allowed with type %s",
                                        type ? type : "(missing)");
        if (type) {
                const json_t *section = check_object(c, spec, "spec", type, true);
                _cleanup_free_ char *path = check_join(c, "spec", type);

                if (section && path) {
                        switch (out.builtin) {
                        case NOTIFIER_WEBHOOK:
                                check_webhook(c, section, path, &out);
                                break;
                        case NOTIFIER_SLACK:
                                check_slack(c, section, path, &out);
                                break;
                        case NOTIFIER_SMTP:
                                check_smtp(c, section, path, &out);
                                break;
                        case NOTIFIER_EXEC:
                                check_exec(c, section, path, &out);
                                break;
                        case NOTIFIER_PLUGIN:
                                out.config = section;
                                out.timeout_ms = NOTIFIER_DEFAULT_TIMEOUT_SEC * 1000;
                                out.max_attempts = NOTIFIER_DEFAULT_ATTEMPTS;
                                break;
                        }
                }
        }
        if (ret_spec)
                *(struct notifier_spec *)ret_spec = out;
}

int notifier_spec_decode(const json_t *object, struct notifier_spec *ret, struct berth_error *err)
{
        struct notifier_spec s;
        int r = check_decode(&kind_notifier, object, &s, err);

        if (r == 0)
                *ret = s;
        return r;
}

static void notifier_defaults(json_t *spec)
{
        const char *type = json_string_value(json_object_get(spec, "type"));
        enum notifier_type t = notifier_type_from_string(type);
        json_t *section = type ? json_object_get(spec, type) : NULL;

        if (!json_is_object(section) || t == NOTIFIER_PLUGIN)
                return;
        json_set_default(section, "timeoutSeconds",
                         json_integer(t == NOTIFIER_EXEC ? NOTIFIER_DEFAULT_EXEC_TIMEOUT_SEC
                                                         : NOTIFIER_DEFAULT_TIMEOUT_SEC));
        json_set_default(section, "maxAttempts",
                         json_integer(t == NOTIFIER_EXEC ? NOTIFIER_DEFAULT_EXEC_ATTEMPTS
                                                         : NOTIFIER_DEFAULT_ATTEMPTS));
        if (t == NOTIFIER_SMTP)
                json_set_default(section, "startTLS", json_true());
}

static const struct printer_column notifier_columns[] = {
    {.title = "TYPE", .path = "spec.type", .format = COLUMN_TEXT},
    {.title = "LAST", .path = "status.lastDelivery.result", .format = COLUMN_TEXT},
    {.title = "SENT", .path = "status.lastDelivery.time", .format = COLUMN_AGE},
    {.title = "DELIVERED", .path = "status.delivered", .format = COLUMN_COUNT},
    {.title = "FAILURES", .path = "status.failures", .format = COLUMN_COUNT},
    {.title = "DROPPED", .path = "status.dropped", .format = COLUMN_COUNT},
    {.title = "AGE", .path = "metadata.creationTimestamp", .format = COLUMN_AGE},
    {.title = "ON", .path = "spec.on", .format = COLUMN_LENGTH, .wide = true},
    {.title = "LAST-ERROR", .path = "status.lastError", .format = COLUMN_ONE_LINE, .wide = true},
    {0},
};

const struct kind_info kind_notifier = {
    .kind = "Notifier",
    .resource = "notifiers",
    .singular = "notifier",
    .namespaced = true,
    .columns = notifier_columns,
    .check_spec = notifier_check,
    .default_spec = notifier_defaults,
};
