/* service.c: the Service kind — spec.replicas long-running containers of one
 * template, restarted when they exit and rolled to a new revision when the
 * template changes (docs/reference/service.md): names, schema, defaults, the
 * typed spec, the replica template and its `berth get` columns.
 *
 * The template is checked by task_check as a Service's (the container fields
 * of a Task, nothing about running to completion). Its expressions name the
 * Service's ports, the replica index and the Service itself; validation knows
 * the names, service_replica_template the values of one replica. */
#include "manifests-internal.h"

#define DEFAULT_REPLICAS                 1
#define DEFAULT_HEALTH_INTERVAL_SEC      5
#define DEFAULT_HEALTH_TIMEOUT_SEC       2
#define DEFAULT_HEALTH_FAILURE_THRESHOLD 3
#define DEFAULT_HEALTH_HTTP_PATH         "/"
#define DEFAULT_BACKOFF_INITIAL_SEC      10
#define DEFAULT_BACKOFF_FACTOR           2
#define DEFAULT_BACKOFF_MAX_SEC          300
#define DEFAULT_BACKOFF_RESET_SEC        600
#define DEFAULT_MAX_SURGE                1
#define DEFAULT_MAX_UNAVAILABLE          0
#define DEFAULT_PROGRESS_DEADLINE_SEC    120
#define DEFAULT_STOP_GRACE_SEC           30
#define DEFAULT_REVISION_HISTORY         5
#define HEALTH_SECONDS_MAX               3600
#define HEALTH_FAILURE_THRESHOLD_MAX     100
#define HEALTH_HTTP_PATH_MAX             255 /* the prober's request path */
#define MIN_READY_SECONDS_MAX            3600
#define STOP_GRACE_SECONDS_MAX           3600
#define PORT_NUMBER_MAX                  65535
#define ENV_RESERVED_PREFIX              "BERTH_"
#define ENV_PORT_PREFIX                  "BERTH_PORT_"
#define ENV_REPLICA_INDEX                "BERTH_REPLICA_INDEX"
#define TEMPLATE_PATH                    "spec.template"

static const char *const service_spec_fields[] = {
    "replicas",
    "template",
    "ports",
    "healthCheck",
    "minReadySeconds",
    "restartBackoff",
    "updateStrategy",
    "progressDeadlineSeconds",
    "stopGracePeriodSeconds",
    "revisionHistoryLimit",
    "restartedAt",
    NULL,
};

/* In the order of the enums. */
static const char *const update_strategies[] = {"RollingUpdate", "Recreate", NULL};
static const char *const port_protocols[] = {"tcp", "udp", NULL};
/* spec.healthCheck's types: HEALTH_CHECK_EXEC + i. */
static const char *const health_check_types[] = {"exec", "http", "tcp"};

const char *update_strategy_to_string(enum update_strategy s)
{
        return (size_t)s < ARRAY_SIZE(update_strategies) - 1 ? update_strategies[s] : "Unknown";
}

/* ---- ports ----------------------------------------------------------------- */

/* [a-z0-9-], 1..SERVICE_PORT_NAME_MAX: a segment of {{ports.<name>}} and,
 * upper-cased with '-' as '_', of an environment variable name. */
static bool port_name_valid(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > SERVICE_PORT_NAME_MAX)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
                        return false;
        return true;
}

/* Index of the first port named name, or -1. Names that were reported as
 * invalid are found too, so that using one adds no second error. */
static int port_find(const struct service_spec *spec, const char *name)
{
        for (size_t i = 0; i < spec->n_ports; i++)
                if (spec->ports[i].name && streq(spec->ports[i].name, name))
                        return (int)i;
        return -1;
}

/* "http, metrics": the declared port names, for messages. */
static void port_names(const struct service_spec *spec, char *out, size_t size)
{
        size_t used = 0;

        out[0] = '\0';
        for (size_t i = 0; i < spec->n_ports && used < size; i++) {
                if (!spec->ports[i].name)
                        continue;
                snprintf(out + used, size - used, "%s%s", used ? ", " : "", spec->ports[i].name);
                used = strlen(out);
        }
}

/* The message for a port name that is not declared. */
static void unknown_port(const struct service_spec *spec, const char *name, char *msg,
                         size_t msg_size)
{
        char names[SERVICE_PORTS_MAX * (SERVICE_PORT_NAME_MAX + 2) + 1];

        port_names(spec, names, sizeof(names));
        if (names[0])
                snprintf(msg, msg_size, "unknown port \"%s\" (declared: %s)", name, names);
        else
                snprintf(msg, msg_size, "unknown port \"%s\": spec.ports declares none", name);
}

/* spec.ports[i].hostPortRange into p; false when it is unusable (reported). */
static bool check_host_port_range(struct check *c, const json_t *port, const char *path,
                                  struct service_port *p)
{
        static const char *const range_fields[] = {"from", "to", NULL};
        const json_t *range = check_object(c, port, path, "hostPortRange", true);
        _cleanup_free_ char *range_path = NULL;
        size_t errors;

        if (!range)
                return false;
        range_path = check_join(c, path, "hostPortRange");
        if (!range_path)
                return false;
        check_unknown_fields(c, range, range_path, range_fields);
        errors = c->errs.n;
        (void)check_field(c, range, range_path, "from", true);
        (void)check_field(c, range, range_path, "to", true);
        p->host_from = (int)check_int(c, range, range_path, "from", 1, PORT_NUMBER_MAX, 0);
        p->host_to = (int)check_int(c, range, range_path, "to", 1, PORT_NUMBER_MAX, 0);
        if (c->errs.n != errors)
                return false;
        if (p->host_from > p->host_to) {
                check_error(c, range_path, "from (%d) must not be greater than to (%d)",
                            p->host_from, p->host_to);
                return false;
        }
        return true;
}

/* Every replica, and during a rolling update every surge replica too, holds
 * a host port of each range at the same time. */
static void check_range_sizes(struct check *c, const struct service_spec *out, const bool *range_ok,
                              const char *ports_path)
{
        bool rolling = out->strategy == UPDATE_ROLLING;
        int64_t need = out->replicas + (rolling ? out->max_surge : 0);

        for (size_t i = 0; i < out->n_ports; i++) {
                const struct service_port *p = &out->ports[i];
                int64_t size = (int64_t)p->host_to - p->host_from + 1;
                _cleanup_free_ char *path = NULL;

                if (!range_ok[i] || size >= need)
                        continue;
                path = str_printf("%s[%zu].hostPortRange", ports_path, i);
                if (!path) {
                        c->r = -ENOMEM;
                        return;
                }
                if (rolling)
                        check_error(
                            c, path,
                            "%lld port%s for %d replica%s + maxSurge %d: need at least %lld",
                            (long long)size, size == 1 ? "" : "s", out->replicas,
                            out->replicas == 1 ? "" : "s", out->max_surge, (long long)need);
                else
                        check_error(c, path, "%lld port%s for %d replica%s: need at least %lld",
                                    (long long)size, size == 1 ? "" : "s", out->replicas,
                                    out->replicas == 1 ? "" : "s", (long long)need);
        }
}

/* Two ranges sharing a port would hand it to two containers. */
static void check_range_overlaps(struct check *c, const struct service_spec *out,
                                 const bool *range_ok, const char *ports_path)
{
        for (size_t j = 1; j < out->n_ports; j++) {
                const struct service_port *b = &out->ports[j];

                for (size_t i = 0; range_ok[j] && i < j; i++) {
                        const struct service_port *a = &out->ports[i];
                        _cleanup_free_ char *path = NULL;

                        if (!range_ok[i] || b->host_from > a->host_to || a->host_from > b->host_to)
                                continue;
                        path = str_printf("%s[%zu].hostPortRange", ports_path, j);
                        if (!path) {
                                c->r = -ENOMEM;
                                return;
                        }
                        check_error(c, path, "overlaps %s[%zu].hostPortRange (%d-%d)", ports_path,
                                    i, a->host_from, a->host_to);
                        break;
                }
        }
}

/* spec.ports; sizes_known: replicas and updateStrategy are valid, so the
 * range sizes can be checked against them. */
static void check_ports(struct check *c, const json_t *spec, bool sizes_known,
                        struct service_spec *out)
{
        static const char *const port_fields[] = {"name", "containerPort", "hostPortRange",
                                                  "protocol", NULL};
        _cleanup_free_ char *ports_path = NULL;
        _cleanup_json_ json_t *seen = NULL; /* name → first index */
        const json_t *arr = check_list(c, spec, "spec", "ports", &ports_path, &seen);
        bool range_ok[SERVICE_PORTS_MAX] = {false};
        size_t i;
        json_t *item;

        if (!arr)
                return;
        if (json_array_size(arr) > SERVICE_PORTS_MAX) {
                check_error(c, ports_path, "must have at most %d entries, has %zu",
                            SERVICE_PORTS_MAX, json_array_size(arr));
                return;
        }
        json_array_foreach(arr, i, item)
        {
                _cleanup_free_ char *path = check_index(c, ports_path, i);
                struct service_port *p = &out->ports[i];

                if (!path)
                        return;
                out->n_ports = i + 1;
                if (!check_entry(c, item, path, port_fields))
                        continue;
                p->name = check_string(c, item, path, "name", true);
                if (p->name && !port_name_valid(p->name))
                        check_error_key(c, path, "name",
                                        "invalid name \"%s\": must be 1 to %d lowercase letters, "
                                        "digits or '-'",
                                        p->name, SERVICE_PORT_NAME_MAX);
                else if (p->name)
                        check_unique(c, seen, p->name, i, ports_path, path, "name", "name");
                p->container_port =
                    (int)check_int(c, item, path, "containerPort", 1, PORT_NUMBER_MAX, 0);
                range_ok[i] = check_host_port_range(c, item, path, p);
                p->protocol = (enum port_protocol)check_enum(c, item, path, "protocol",
                                                             port_protocols, PORT_TCP);
        }
        if (sizes_known)
                check_range_sizes(c, out, range_ok, ports_path);
        check_range_overlaps(c, out, range_ok, ports_path);
}

/* ---- healthCheck ------------------------------------------------------------ */

/* healthCheck.<type>.port: a declared port's name, or a number that is a
 * declared port's containerPort; its index into out->ports, or -1. */
static int check_health_port(struct check *c, const json_t *obj, const char *path, const char *type,
                             const struct service_spec *out)
{
        const json_t *v = check_field(c, obj, path, "port", true);
        char msg[256];
        int index = -1;

        if (!v)
                return -1;
        if (json_is_string(v)) {
                index = port_find(out, json_string_value(v));
                if (index < 0) {
                        unknown_port(out, json_string_value(v), msg, sizeof(msg));
                        check_error_key(c, path, "port", "%s", msg);
                        return -1;
                }
        } else if (json_is_integer(v)) {
                char known[SERVICE_PORTS_MAX * 7 + 1] = "";
                json_int_t n = json_integer_value(v);

                for (size_t i = 0; i < out->n_ports && index < 0; i++) {
                        size_t used = strlen(known);

                        if (out->ports[i].container_port == 0)
                                continue;
                        if (out->ports[i].container_port == n)
                                index = (int)i;
                        snprintf(known + used, sizeof(known) - used, "%s%d", used ? ", " : "",
                                 out->ports[i].container_port);
                }
                if (index < 0) {
                        if (known[0])
                                check_error_key(c, path, "port",
                                                "%" JSON_INTEGER_FORMAT " is not the containerPort "
                                                "of a declared port (containerPorts: %s)",
                                                n, known);
                        else
                                check_error_key(c, path, "port",
                                                "%" JSON_INTEGER_FORMAT " is not the containerPort "
                                                "of a declared port (no port declares one)",
                                                n);
                        return -1;
                }
        } else {
                check_error_key(c, path, "port", "must be a port name or a containerPort number");
                return -1;
        }
        if (out->ports[index].protocol == PORT_UDP) {
                check_error_key(c, path, "port", "port \"%s\" is udp: a %s check needs a tcp port",
                                out->ports[index].name ? out->ports[index].name : "", type);
                return -1;
        }
        return index;
}

static void check_health_exec(struct check *c, const json_t *exec, const char *path,
                              struct service_spec *out)
{
        static const char *const exec_fields[] = {"command", NULL};
        const json_t *command;

        check_unknown_fields(c, exec, path, exec_fields);
        if (!check_field(c, exec, path, "command", true))
                return;
        command = check_string_array(c, exec, path, "command");
        if (command && json_array_size(command) == 0)
                check_error_key(c, path, "command", "must not be empty");
        out->health.exec_command = command;
}

/* It goes into the request line as it is. */
static bool http_path_valid(const char *s)
{
        for (; *s; s++)
                if (*s <= ' ' || *s > '~')
                        return false;
        return true;
}

static void check_health_http(struct check *c, const json_t *http, const char *path,
                              struct service_spec *out)
{
        static const char *const http_fields[] = {"path", "port", NULL};
        const char *p;

        check_unknown_fields(c, http, path, http_fields);
        p = check_string(c, http, path, "path", false);
        if (p && p[0] != '/')
                check_error_key(c, path, "path", "must start with /");
        else if (p && strlen(p) > HEALTH_HTTP_PATH_MAX)
                check_error_key(c, path, "path", "must be at most %d characters",
                                HEALTH_HTTP_PATH_MAX);
        else if (p && !http_path_valid(p))
                check_error_key(c, path, "path",
                                "must be printable ASCII without spaces (percent-encode others)");
        out->health.http_path = p ? p : DEFAULT_HEALTH_HTTP_PATH;
        out->health.port = check_health_port(c, http, path, "http", out);
}

static void check_health_tcp(struct check *c, const json_t *tcp, const char *path,
                             struct service_spec *out)
{
        static const char *const tcp_fields[] = {"port", NULL};

        check_unknown_fields(c, tcp, path, tcp_fields);
        out->health.port = check_health_port(c, tcp, path, "tcp", out);
}

/* spec.healthCheck, after spec.ports (its port names one of them). */
static void check_health(struct check *c, const json_t *spec, struct service_spec *out)
{
        static const char *const health_fields[] = {
            "exec",
            "http",
            "tcp",
            "intervalSeconds",
            "timeoutSeconds",
            "failureThreshold",
            "startPeriodSeconds",
            NULL,
        };
        static const char path[] = "spec.healthCheck";
        const json_t *hc = check_object(c, spec, "spec", "healthCheck", false);
        const char *set[ARRAY_SIZE(health_check_types)];
        size_t nset = 0;

        out->health = (struct service_health_check){
            .type = HEALTH_CHECK_NONE,
            .port = -1,
            .interval_ms = DEFAULT_HEALTH_INTERVAL_SEC * 1000,
            .timeout_ms = DEFAULT_HEALTH_TIMEOUT_SEC * 1000,
            .failure_threshold = DEFAULT_HEALTH_FAILURE_THRESHOLD,
        };
        if (!hc)
                return;
        check_unknown_fields(c, hc, path, health_fields);
        for (size_t i = 0; i < ARRAY_SIZE(health_check_types); i++)
                if (check_field(c, hc, path, health_check_types[i], false)) {
                        set[nset++] = health_check_types[i];
                        out->health.type = (enum health_check_type)(HEALTH_CHECK_EXEC + i);
                }
        if (nset == 0) {
                check_error(c, path, "exactly one of exec, http or tcp: found none");
        } else if (nset > 1) {
                check_error(c, path, "exactly one of exec, http or tcp: found %s and %s", set[0],
                            set[1]);
        } else {
                const char *type = health_check_types[out->health.type - HEALTH_CHECK_EXEC];
                const json_t *probe = check_object(c, hc, path, type, false);
                _cleanup_free_ char *probe_path = check_join(c, path, type);

                if (probe && probe_path && out->health.type == HEALTH_CHECK_EXEC)
                        check_health_exec(c, probe, probe_path, out);
                else if (probe && probe_path && out->health.type == HEALTH_CHECK_HTTP)
                        check_health_http(c, probe, probe_path, out);
                else if (probe && probe_path)
                        check_health_tcp(c, probe, probe_path, out);
        }
        out->health.interval_ms = check_int(c, hc, path, "intervalSeconds", 1, HEALTH_SECONDS_MAX,
                                            DEFAULT_HEALTH_INTERVAL_SEC) *
                                  1000;
        out->health.timeout_ms = check_int(c, hc, path, "timeoutSeconds", 1, HEALTH_SECONDS_MAX,
                                           DEFAULT_HEALTH_TIMEOUT_SEC) *
                                 1000;
        out->health.failure_threshold =
            (int)check_int(c, hc, path, "failureThreshold", 1, HEALTH_FAILURE_THRESHOLD_MAX,
                           DEFAULT_HEALTH_FAILURE_THRESHOLD);
        out->health.start_period_ms =
            check_int(c, hc, path, "startPeriodSeconds", 0, HEALTH_SECONDS_MAX, 0) * 1000;
}

/* ---- template expressions ----------------------------------------------------- */

/* What the expressions of the template name. Validating, every known
 * expression expands to ""; expanding, to one replica's values. */
struct service_scope {
        const struct service_spec *spec;
        bool expanding;
        const char *ns, *name; /* expanding */
        const int *host_ports; /* expanding: one per spec->ports */
        int index;             /* expanding */
        char value[32];        /* a number handed to expr_expand, which copies it at once */
        struct check *c;       /* validating */
        char *msg;             /* expanding: why it failed */
        size_t msg_size;
};

static int service_resolve(const char *expr, const char **ret_value, char *msg, size_t msg_size,
                           void *userdata)
{
        struct service_scope *scope = userdata;

        *ret_value = "";
        if (streq(expr, "replica.index")) {
                if (scope->expanding) {
                        snprintf(scope->value, sizeof(scope->value), "%d", scope->index);
                        *ret_value = scope->value;
                }
                return 0;
        }
        if (streq(expr, "service.name")) {
                if (scope->expanding)
                        *ret_value = scope->name;
                return 0;
        }
        if (streq(expr, "service.namespace")) {
                if (scope->expanding)
                        *ret_value = scope->ns;
                return 0;
        }
        if (str_has_prefix(expr, "ports.")) {
                const char *port = expr + strlen("ports.");
                int i = port_find(scope->spec, port);

                if (i < 0) {
                        unknown_port(scope->spec, port, msg, msg_size);
                        return -ENOENT;
                }
                if (scope->expanding) {
                        snprintf(scope->value, sizeof(scope->value), "%d", scope->host_ports[i]);
                        *ret_value = scope->value;
                }
                return 0;
        }
        snprintf(msg, msg_size,
                 "unknown expression, must be ports.<name>, replica.index, service.name or "
                 "service.namespace");
        return -ENOENT;
}

static int check_expression(json_t *value, const char *field, const char *env_name, void *userdata)
{
        struct service_scope *scope = userdata;

        (void)env_name;
        return check_expressions(scope->c, value, TEMPLATE_PATH, field, service_resolve, scope);
}

static int expand_expression(json_t *value, const char *field, const char *env_name, void *userdata)
{
        struct service_scope *scope = userdata;
        _cleanup_free_ char *expanded = NULL;
        const char *s = json_string_value(value);
        char why[512];
        int r;

        (void)env_name;
        if (!strstr(s, "{{"))
                return 0;
        r = expr_expand(s, service_resolve, scope, MANIFEST_DOC_MAX, &expanded, why, sizeof(why));
        if (r < 0) {
                snprintf(scope->msg, scope->msg_size, "%s.%s: %s", TEMPLATE_PATH, field,
                         r == -ENOMEM ? "out of memory" : why);
                return r;
        }
        return json_string_set(value, expanded) < 0 ? -ENOMEM : 0;
}

/* ---- template --------------------------------------------------------------- */

/* spec.template as a Service's Task; its expressions are checked later, by
 * check_template_expressions, once the ports are known. */
static void check_template(struct check *c, const json_t *spec, struct service_spec *out)
{
        const json_t *tmpl = check_object(c, spec, "spec", "template", true);
        struct task_spec task = {0};
        size_t i;
        json_t *item;

        if (!tmpl)
                return;
        task_check(c, tmpl, TEMPLATE_PATH, TASK_IN_SERVICE, &task);
        out->template = tmpl;
        out->image = task.image;
        out->pull_policy = task.pull_policy;
        out->host_network = task.network && streq(task.network, "host");
        task_spec_release(&task);

        /* service_replica_template adds these: a user's would be a duplicate. */
        json_array_foreach(json_object_get(tmpl, "env"), i, item)
        {
                const char *name = json_string_value(json_object_get(item, "name"));

                if (name && str_has_prefix(name, ENV_RESERVED_PREFIX)) {
                        _cleanup_free_ char *path =
                            str_printf("%s.env[%zu].name", TEMPLATE_PATH, i);

                        if (!path) {
                                c->r = -ENOMEM;
                                return;
                        }
                        check_error(c, path,
                                    "reserved name \"%s\": berth sets the variables starting with "
                                    "%s (%s<NAME> for each port, %s)",
                                    name, ENV_RESERVED_PREFIX, ENV_PORT_PREFIX, ENV_REPLICA_INDEX);
                }
        }
}

static void check_template_expressions(struct check *c, const struct service_spec *out)
{
        struct service_scope scope = {.spec = out, .c = c};

        if (out->template)
                (void)task_template_foreach(out->template, check_expression, &scope);
}

/* ---- the spec ------------------------------------------------------------------ */

static void check_restart_backoff(struct check *c, const json_t *spec, struct service_spec *out)
{
        static const char *const fields[] = {"initialSeconds", "factor", "maxSeconds",
                                             "resetAfterSeconds", NULL};
        static const char path[] = "spec.restartBackoff";
        const json_t *b = check_object(c, spec, "spec", "restartBackoff", false);
        int64_t initial = DEFAULT_BACKOFF_INITIAL_SEC, max = DEFAULT_BACKOFF_MAX_SEC,
                reset = DEFAULT_BACKOFF_RESET_SEC;

        out->backoff_factor = DEFAULT_BACKOFF_FACTOR;
        if (b) {
                check_unknown_fields(c, b, path, fields);
                initial = check_int(c, b, path, "initialSeconds", 0, SECONDS_PER_DAY,
                                    DEFAULT_BACKOFF_INITIAL_SEC);
                out->backoff_factor =
                    check_number(c, b, path, "factor", 1, 10, DEFAULT_BACKOFF_FACTOR);
                max = check_int(c, b, path, "maxSeconds", 1, SECONDS_PER_DAY,
                                DEFAULT_BACKOFF_MAX_SEC);
                reset = check_int(c, b, path, "resetAfterSeconds", 1, SECONDS_PER_DAY,
                                  DEFAULT_BACKOFF_RESET_SEC);
        }
        out->backoff_initial_ms = initial * 1000;
        out->backoff_max_ms = max * 1000;
        out->backoff_reset_ms = reset * 1000;
}

/* spec.updateStrategy; false when a field of it is wrong (reported), so
 * that the port ranges are not measured against a default. */
static bool check_update_strategy(struct check *c, const json_t *spec, struct service_spec *out)
{
        static const char *const fields[] = {"type", "maxSurge", "maxUnavailable", NULL};
        static const char path[] = "spec.updateStrategy";
        const json_t *us = check_object(c, spec, "spec", "updateStrategy", false);
        size_t errors;

        out->strategy = UPDATE_ROLLING;
        out->max_surge = DEFAULT_MAX_SURGE;
        out->max_unavailable = DEFAULT_MAX_UNAVAILABLE;
        if (!us)
                return !check_field(c, spec, "spec", "updateStrategy", false);
        check_unknown_fields(c, us, path, fields);
        errors = c->errs.n;
        out->strategy = (enum update_strategy)check_enum(c, us, path, "type", update_strategies,
                                                         UPDATE_ROLLING);
        out->max_surge =
            (int)check_int(c, us, path, "maxSurge", 0, SERVICE_REPLICAS_MAX, DEFAULT_MAX_SURGE);
        out->max_unavailable = (int)check_int(c, us, path, "maxUnavailable", 0,
                                              SERVICE_REPLICAS_MAX, DEFAULT_MAX_UNAVAILABLE);
        if (c->errs.n != errors)
                return false;
        if (out->strategy == UPDATE_ROLLING && out->max_surge == 0 && out->max_unavailable == 0)
                check_error(c, path, "maxSurge and maxUnavailable must not both be 0");
        return true;
}

static void check_restarted_at(struct check *c, const json_t *spec, struct service_spec *out)
{
        const char *s = check_string(c, spec, "spec", "restartedAt", false);
        int64_t t;

        if (s && time_parse_rfc3339(s, &t) < 0) {
                check_error(c, "spec.restartedAt",
                            "invalid time \"%s\": must be RFC 3339, like \"2026-12-06T10:00:00Z\"",
                            s);
                s = NULL;
        }
        out->restarted_at = s;
}

static void service_check(struct check *c, const json_t *spec, void *ret_spec)
{
        struct service_spec out = {0};
        size_t errors;
        bool sizes_known;

        check_unknown_fields(c, spec, "spec", service_spec_fields);
        if (name_is_valid(c->object_name) && strlen(c->object_name) > SERVICE_NAME_MAX)
                check_error(c, "metadata.name",
                            "must be at most %d characters for a Service: its containers are "
                            "named berth.<namespace>.<name>.<revision>.<index>",
                            SERVICE_NAME_MAX);
        errors = c->errs.n;
        out.replicas =
            (int)check_int(c, spec, "spec", "replicas", 0, SERVICE_REPLICAS_MAX, DEFAULT_REPLICAS);
        sizes_known = c->errs.n == errors;
        check_template(c, spec, &out);
        sizes_known = check_update_strategy(c, spec, &out) && sizes_known;
        check_ports(c, spec, sizes_known, &out);
        check_health(c, spec, &out);
        check_template_expressions(c, &out);
        out.min_ready_ms =
            check_int(c, spec, "spec", "minReadySeconds", 0, MIN_READY_SECONDS_MAX, 0) * 1000;
        check_restart_backoff(c, spec, &out);
        out.progress_deadline_ms = check_int(c, spec, "spec", "progressDeadlineSeconds", 1,
                                             SECONDS_PER_DAY, DEFAULT_PROGRESS_DEADLINE_SEC) *
                                   1000;
        out.stop_grace_ms = check_int(c, spec, "spec", "stopGracePeriodSeconds", 0,
                                      STOP_GRACE_SECONDS_MAX, DEFAULT_STOP_GRACE_SEC) *
                            1000;
        out.revision_history_limit = (int)check_int(c, spec, "spec", "revisionHistoryLimit", 0,
                                                    SERVICE_HISTORY_MAX, DEFAULT_REVISION_HISTORY);
        check_restarted_at(c, spec, &out);

        if (ret_spec)
                *(struct service_spec *)ret_spec = out;
}

int service_spec_decode(const json_t *object, struct service_spec *ret, struct berth_error *err)
{
        struct service_spec s;
        int r = check_decode(&kind_service, object, &s, err);

        if (r == 0)
                *ret = s;
        return r;
}

/* ---- replicas ------------------------------------------------------------------ */

/* Appends {name, value} to the env array. */
static int env_append(json_t *env, const char *name, const char *value)
{
        json_t *item = json_pack("{s:s, s:s}", "name", name, "value", value);

        return item && json_array_append_new(env, item) == 0 ? 0 : -ENOMEM;
}

/* BERTH_PORT_<NAME> and BERTH_REPLICA_INDEX at the end of the template's env. */
static int add_replica_env(json_t *tmpl, const struct service_spec *spec, const int *host_ports,
                           int index)
{
        json_t *env = json_object_get(tmpl, "env");
        char name[sizeof(ENV_PORT_PREFIX) + SERVICE_PORT_NAME_MAX], value[32];

        if (!env || json_is_null(env)) {
                env = json_array();
                if (!env || json_object_set_new(tmpl, "env", env) < 0)
                        return -ENOMEM;
        }
        if (!json_is_array(env))
                return -EINVAL;
        for (size_t i = 0; i < spec->n_ports; i++) {
                const char *p = spec->ports[i].name;
                size_t n = strlen(ENV_PORT_PREFIX);

                if (!p || strlen(p) > SERVICE_PORT_NAME_MAX)
                        return -EINVAL;
                memcpy(name, ENV_PORT_PREFIX, n);
                for (; *p; p++)
                        name[n++] =
                            *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
                name[n] = '\0';
                snprintf(value, sizeof(value), "%d", host_ports[i]);
                if (env_append(env, name, value) < 0)
                        return -ENOMEM;
        }
        snprintf(value, sizeof(value), "%d", index);
        return env_append(env, ENV_REPLICA_INDEX, value);
}

json_t *service_replica_template(const struct service_spec *spec, const char *ns, const char *name,
                                 const int *host_ports, int index, struct berth_error *err)
{
        char msg[640] = "";
        struct service_scope scope = {
            .spec = spec,
            .expanding = true,
            .ns = ns,
            .name = name,
            .host_ports = host_ports,
            .index = index,
            .msg = msg,
            .msg_size = sizeof(msg),
        };
        _cleanup_json_ json_t *tmpl = NULL;
        int r;

        if (!spec || !json_is_object(spec->template) || !ns || !name || index < 0 ||
            (spec->n_ports > 0 && !host_ports)) {
                berth_error_set(err, -EINVAL, "replica template: invalid arguments");
                return NULL;
        }
        tmpl = json_deep_copy(spec->template);
        if (!tmpl) {
                berth_error_set(err, -ENOMEM, "out of memory");
                return NULL;
        }
        r = task_template_foreach(tmpl, expand_expression, &scope);
        if (r < 0) {
                berth_error_set(err, r, "%s", msg[0] ? msg : "out of memory");
                return NULL;
        }
        r = add_replica_env(tmpl, spec, host_ports, index);
        if (r < 0) {
                berth_error_set(err, r, "%s",
                                r == -ENOMEM ? "out of memory" : "spec.template.env: invalid");
                return NULL;
        }
        return TAKE_PTR(tmpl);
}

int task_spec_from_template(const json_t *tmpl, struct task_spec *ret, struct berth_error *err)
{
        _cleanup_(check_release) struct check c = {0};
        struct task_spec s = {0};
        int r;

        if (!json_is_object(tmpl))
                return berth_error_set(err, -EINVAL, "%s: must be an object", TEMPLATE_PATH);
        task_check(&c, tmpl, TEMPLATE_PATH, TASK_IN_SERVICE, &s);
        r = check_result(&c, err);
        if (r < 0) {
                task_spec_release(&s);
                return r;
        }
        *ret = s;
        return 0;
}

/* ---- defaults and the kind ----------------------------------------------------- */

/* obj[key], made an empty object when absent; NULL when it is not an object. */
static json_t *default_object(json_t *obj, const char *key)
{
        json_t *v;

        json_set_default(obj, key, json_object());
        v = json_object_get(obj, key);
        return json_is_object(v) ? v : NULL;
}

static void service_defaults(json_t *spec)
{
        json_t *tmpl = json_object_get(spec, "template"), *hc, *http, *o;
        size_t i;
        json_t *port;

        json_set_default(spec, "replicas", json_integer(DEFAULT_REPLICAS));
        if (json_is_object(tmpl))
                task_defaults(tmpl, TASK_IN_SERVICE);
        json_set_default(spec, "ports", json_array());
        json_array_foreach(json_object_get(spec, "ports"), i, port)
        {
                if (json_is_object(port))
                        json_set_default(port, "protocol", json_string(port_protocols[PORT_TCP]));
        }
        hc = json_object_get(spec, "healthCheck");
        if (json_is_object(hc)) {
                http = json_object_get(hc, "http");
                if (json_is_object(http))
                        json_set_default(http, "path", json_string(DEFAULT_HEALTH_HTTP_PATH));
                json_set_default(hc, "intervalSeconds", json_integer(DEFAULT_HEALTH_INTERVAL_SEC));
                json_set_default(hc, "timeoutSeconds", json_integer(DEFAULT_HEALTH_TIMEOUT_SEC));
                json_set_default(hc, "failureThreshold",
                                 json_integer(DEFAULT_HEALTH_FAILURE_THRESHOLD));
                json_set_default(hc, "startPeriodSeconds", json_integer(0));
        }
        json_set_default(spec, "minReadySeconds", json_integer(0));
        o = default_object(spec, "restartBackoff");
        if (o) {
                json_set_default(o, "initialSeconds", json_integer(DEFAULT_BACKOFF_INITIAL_SEC));
                json_set_default(o, "factor", json_integer(DEFAULT_BACKOFF_FACTOR));
                json_set_default(o, "maxSeconds", json_integer(DEFAULT_BACKOFF_MAX_SEC));
                json_set_default(o, "resetAfterSeconds", json_integer(DEFAULT_BACKOFF_RESET_SEC));
        }
        o = default_object(spec, "updateStrategy");
        if (o) {
                json_set_default(o, "type", json_string(update_strategies[UPDATE_ROLLING]));
                json_set_default(o, "maxSurge", json_integer(DEFAULT_MAX_SURGE));
                json_set_default(o, "maxUnavailable", json_integer(DEFAULT_MAX_UNAVAILABLE));
        }
        json_set_default(spec, "progressDeadlineSeconds",
                         json_integer(DEFAULT_PROGRESS_DEADLINE_SEC));
        json_set_default(spec, "stopGracePeriodSeconds", json_integer(DEFAULT_STOP_GRACE_SEC));
        json_set_default(spec, "revisionHistoryLimit", json_integer(DEFAULT_REVISION_HISTORY));
}

static const char *const service_subresources[] = {"log", "stats", NULL};

static const struct printer_column service_columns[] = {
    {.title = "READY",
     .path = "status.readyReplicas",
     .format = COLUMN_RATIO,
     .until = "spec.replicas"},
    {.title = "UP-TO-DATE", .path = "status.updatedReplicas", .format = COLUMN_COUNT},
    {.title = "AVAILABLE", .path = "status.availableReplicas", .format = COLUMN_COUNT},
    {.title = "RESTARTS", .path = "status.restarts", .format = COLUMN_COUNT},
    {.title = "AGE", .path = "metadata.creationTimestamp", .format = COLUMN_AGE},
    {.title = "IMAGE", .path = "spec.template.image", .format = COLUMN_TEXT, .wide = true},
    {.title = "REVISION", .path = "status.updateRevision", .format = COLUMN_INTEGER, .wide = true},
    {0},
};

const struct kind_info kind_service = {
    .kind = "Service",
    .resource = "services",
    .singular = "service",
    .short_name = "svc",
    .namespaced = true,
    .finalizer = FINALIZER_CONTAINERS,
    .runs_to_completion = false,
    .subresources = service_subresources,
    .columns = service_columns,
    .check_spec = service_check,
    .default_spec = service_defaults,
};
