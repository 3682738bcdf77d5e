/* task.c: the Task kind — names, schema, defaults, the typed spec and its
 * `berth get` columns (docs/reference/task.md).
 *
 * One function checks a Task spec and decodes it at the same time
 * (task_check), so what the API accepts and what the reconciler runs from
 * can never disagree. */
#include <math.h>

#include "manifests-internal.h"

#define MEMORY_MIN_BYTES (6LL * 1024 * 1024) /* Docker refuses less */
#define CPU_MAX_CORES    1000000.0           /* keeps nano-CPU arithmetic inside int64 */

static const char *const task_spec_fields[] = {
    "executor",
    "image",
    "imagePullPolicy",
    "command",
    "args",
    "env",
    "workingDir",
    "user",
    "network",
    "volumes",
    "resources",
    "restartPolicy",
    "priority",
    "priorityClassName",
    "backoffLimit",
    "backoff",
    "activeDeadlineSeconds",
    "ttlSecondsAfterFinished",
    "labels",
    "dependsOn",
    "retryOn",
    "retryExitCodes",
    "shutdown",
    "securityContext",
    "hostPID",
    "hostIPC",
    "devices",
    NULL,
};

/* As error messages list them; pull_policy_of maps them to the enum. */
static const char *const pull_policies[] = {"Always", "IfNotPresent", "Never", NULL};
static const enum pull_policy pull_policy_of[] = {PULL_ALWAYS, PULL_IF_NOT_PRESENT, PULL_NEVER};
#define PULL_POLICY_DEFAULT 1 /* IfNotPresent */
/* In the order of enum restart_policy. */
static const char *const restart_policies[] = {"Never", "OnFailure", NULL};
/* spec.shutdown: a string enum so that later values fit. */
static const char *const shutdown_values[] = {"Stop", NULL};

static const struct {
        const char *name;
        enum retry_on bit;
} retry_on_names[] = {
    {"Error", RETRY_ON_ERROR},
    {"OOMKilled", RETRY_ON_OOM_KILLED},
    {"DeadlineExceeded", RETRY_ON_DEADLINE_EXCEEDED},
    {"ContainerLost", RETRY_ON_CONTAINER_LOST},
};
#define RETRY_ON_LIST "Error, OOMKilled, DeadlineExceeded, ContainerLost"
#define EXIT_CODE_MAX 255

unsigned retry_on_from_string(const char *s)
{
        for (size_t i = 0; s && i < ARRAY_SIZE(retry_on_names); i++)
                if (streq(s, retry_on_names[i].name))
                        return retry_on_names[i].bit;
        return 0;
}

bool task_retry_allowed(const struct task_spec *spec, unsigned reason, int exit_code)
{
        bool listed = false;

        if (!spec || spec->restart_policy != RESTART_ON_FAILURE || !(spec->retry_on & reason))
                return false;
        if (reason != RETRY_ON_ERROR || spec->retry_exit_codes_mode == RETRY_EXIT_CODES_ANY)
                return true;
        for (size_t i = 0; i < spec->n_retry_exit_codes; i++)
                if (spec->retry_exit_codes[i] == exit_code)
                        listed = true;
        return spec->retry_exit_codes_mode == RETRY_EXIT_CODES_IN ? listed : !listed;
}

static bool env_name_valid(const char *s)
{
        if (s[0] != '_' && !ascii_alpha(s[0]))
                return false;
        for (; *s; s++)
                if (!ascii_alnum(*s) && *s != '_')
                        return false;
        return true;
}

/* Docker volume names: [a-zA-Z0-9][a-zA-Z0-9_.-]*. */
static bool volume_name_valid(const char *s)
{
        if (!ascii_alnum(s[0]))
                return false;
        for (; *s; s++)
                if (!ascii_alnum(*s) && *s != '_' && *s != '.' && *s != '-')
                        return false;
        return true;
}

static bool network_valid(const char *s)
{
        if (str_has_prefix(s, "container:")) {
                const char *id = s + strlen("container:");

                return *id && !strpbrk(id, " \t\n\r");
        }
        return volume_name_valid(s);
}

static bool has_space(const char *s)
{
        return strpbrk(s, " \t\n\r\v\f") != NULL;
}

/* A new array of n zeroed entries for out, or NULL (r set) when n > 0 and
 * memory is short. */
static void *alloc_entries(struct check *c, size_t n, size_t size)
{
        void *p = n ? calloc(n, size) : NULL;

        if (n && !p)
                c->r = -ENOMEM;
        return p;
}

/* valueFrom of an env entry at path: {secretKeyRef: {name, key}}. The
 * Secret and key into *ret (NULL when wrong, reported). */
static void check_value_from(struct check *c, const json_t *item, const char *path,
                             struct task_env *ret)
{
        static const char *const value_from_fields[] = {"secretKeyRef", NULL};
        static const char *const ref_fields[] = {"name", "key", NULL};
        const json_t *from = check_object(c, item, path, "valueFrom", false);
        _cleanup_free_ char *from_path = NULL, *ref_path = NULL;
        const json_t *ref;
        const char *key;

        if (!from)
                return;
        from_path = check_join(c, path, "valueFrom");
        if (!from_path)
                return;
        check_unknown_fields(c, from, from_path, value_from_fields);
        ref = check_object(c, from, from_path, "secretKeyRef", true);
        if (!ref)
                return;
        ref_path = check_join(c, from_path, "secretKeyRef");
        if (!ref_path)
                return;
        check_unknown_fields(c, ref, ref_path, ref_fields);
        ret->secret = check_name(c, ref, ref_path, "name", true);
        key = check_string(c, ref, ref_path, "key", true);
        if (key && !secret_key_is_valid(key))
                check_error_key(c, ref_path, "key",
                                "invalid key \"%.64s\": a Secret's keys are letters, digits, "
                                "'-', '_' and '.'",
                                key);
        else
                ret->secret_key = key;
        if (!ret->secret || !ret->secret_key)
                ret->secret = ret->secret_key = NULL;
}

static void check_env(struct check *c, const json_t *spec, const char *parent,
                      struct task_spec *out)
{
        static const char *const env_fields[] = {"name", "value", "valueFrom", NULL};
        _cleanup_free_ char *env_path = NULL;
        _cleanup_json_ json_t *seen = NULL; /* name → first index */
        const json_t *arr = check_list(c, spec, parent, "env", &env_path, &seen);
        size_t i;
        json_t *item;

        if (!arr)
                return;
        if (out)
                out->env = alloc_entries(c, json_array_size(arr), sizeof(*out->env));
        json_array_foreach(arr, i, item)
        {
                _cleanup_free_ char *path = check_index(c, env_path, i);
                const char *name, *value;

                if (!path)
                        return;
                if (!check_entry(c, item, path, env_fields))
                        continue;
                name = check_string(c, item, path, "name", true);
                if (name && !env_name_valid(name))
                        check_error_key(c, path, "name",
                                        "invalid name \"%s\": must start with a letter or '_' "
                                        "and contain only letters, digits and '_'",
                                        name);
                else if (name)
                        check_unique(c, seen, name, i, env_path, path, "name", "name");
                value = check_quoted_string(c, item, path, "value", false);
                struct task_env e = {.name = name, .value = value ? value : ""};
                check_value_from(c, item, path, &e);
                if (check_field(c, item, path, "value", false) &&
                    check_field(c, item, path, "valueFrom", false))
                        check_error(c, path, "only one of value or valueFrom may be set");
                if (out && out->env && name)
                        out->env[out->n_env++] = e;
        }
}

static void check_volume(struct check *c, const json_t *item, const char *path, json_t *seen,
                         size_t i, const char *volumes_path, struct task_volume *out)
{
        static const char *const volume_fields[] = {"mountPath", "readOnly", "hostPath", "volume",
                                                    "tmpfs",     "secret",   NULL};
        static const char *const tmpfs_fields[] = {"sizeLimit", NULL};
        static const char *const sources[] = {"hostPath", "volume", "tmpfs", "secret"};
        const char *mount, *host, *named, *secret, *set[ARRAY_SIZE(sources)];
        const json_t *tmpfs;
        size_t nset = 0;

        if (!check_entry(c, item, path, volume_fields))
                return;
        mount = check_string(c, item, path, "mountPath", true);
        if (mount && mount[0] != '/')
                check_error_key(c, path, "mountPath", "must be an absolute path");
        else if (mount && streq(mount, "/"))
                check_error_key(c, path, "mountPath", "must not be /");
        else if (mount)
                check_unique(c, seen, mount, i, volumes_path, path, "mountPath", "mountPath");
        out->mount_path = mount;
        out->read_only = check_bool(c, item, path, "readOnly", false);

        for (size_t k = 0; k < ARRAY_SIZE(sources); k++)
                if (check_field(c, item, path, sources[k], false))
                        set[nset++] = sources[k];
        if (nset == 0)
                check_error(c, path, "one of hostPath, volume, tmpfs or secret is required");
        else if (nset > 1)
                check_error(c, path,
                            "only one of hostPath, volume, tmpfs or secret may be set, found %s "
                            "and %s",
                            set[0], set[1]);

        host = check_string(c, item, path, "hostPath", false);
        if (host && host[0] != '/')
                check_error_key(c, path, "hostPath", "must be an absolute path");
        named = check_string(c, item, path, "volume", false);
        if (named && !volume_name_valid(named))
                check_error_key(c, path, "volume",
                                "invalid volume name \"%s\": must start with a letter or digit "
                                "and contain only letters, digits, '_', '.' and '-'",
                                named);
        tmpfs = check_object(c, item, path, "tmpfs", false);
        if (tmpfs) {
                _cleanup_free_ char *tpath = check_join(c, path, "tmpfs");

                if (!tpath)
                        return;
                check_unknown_fields(c, tmpfs, tpath, tmpfs_fields);
                out->size_limit = check_bytes(c, tmpfs, tpath, "sizeLimit", 1, "1 byte");
        }
        /* A Secret's files are its keys as they are: a container never
         * writes them back. */
        secret = check_name(c, item, path, "secret", false);
        if (check_field(c, item, path, "secret", false) &&
            json_is_false(json_object_get(item, "readOnly")))
                check_error_key(c, path, "readOnly", "a secret volume is always read-only");
        out->type = host     ? VOLUME_HOST_PATH
                    : named  ? VOLUME_NAMED
                    : secret ? VOLUME_SECRET
                             : VOLUME_TMPFS;
        out->source = host ? host : named ? named : secret;
        if (out->type == VOLUME_SECRET)
                out->read_only = true;
}

static void check_volumes(struct check *c, const json_t *spec, const char *parent,
                          struct task_spec *out)
{
        _cleanup_free_ char *volumes_path = NULL;
        _cleanup_json_ json_t *seen = NULL; /* mountPath → first index */
        const json_t *arr = check_list(c, spec, parent, "volumes", &volumes_path, &seen);
        size_t i;
        json_t *item;

        if (!arr)
                return;
        if (out)
                out->volumes = alloc_entries(c, json_array_size(arr), sizeof(*out->volumes));
        json_array_foreach(arr, i, item)
        {
                _cleanup_free_ char *path = check_index(c, volumes_path, i);
                struct task_volume v = {0};

                if (!path)
                        return;
                check_volume(c, item, path, seen, i, volumes_path, &v);
                if (out && out->volumes)
                        out->volumes[out->n_volumes++] = v;
        }
}

static int64_t check_cpu(struct check *c, const json_t *res, const char *path)
{
        const json_t *cpu = check_field(c, res, path, "cpu", false);
        int64_t millicpu;

        if (json_is_string(cpu)) {
                if (quantity_parse_millicpu(json_string_value(cpu), &millicpu) < 0)
                        check_error_key(c, path, "cpu",
                                        "invalid cpu quantity \"%s\": use cores like \"0.5\" or "
                                        "millicores like \"500m\"",
                                        json_string_value(cpu));
                else if (millicpu < 1)
                        check_error_key(c, path, "cpu", "must be at least 1m");
                else if (millicpu > CPU_MAX_CORES * 1000)
                        check_error_key(c, path, "cpu", "must be at most %.0f", CPU_MAX_CORES);
                else
                        return millicpu;
        } else if (json_is_number(cpu)) {
                double cores = json_number_value(cpu);

                if (!(cores > 0))
                        check_error_key(c, path, "cpu", "must be greater than 0");
                else if (cores > CPU_MAX_CORES)
                        check_error_key(c, path, "cpu", "must be at most %.0f", CPU_MAX_CORES);
                else if (llround(cores * 1000.0) < 1)
                        check_error_key(c, path, "cpu", "must be at least 1m");
                else
                        return llround(cores * 1000.0);
        } else if (cpu) {
                check_error_key(c, path, "cpu",
                                "must be a quantity string like \"500m\" or a number of cores");
        }
        return 0;
}

static void check_resources(struct check *c, const json_t *spec, const char *parent,
                            struct task_spec *out)
{
        static const char *const resource_fields[] = {"cpu", "memory", "pids", NULL};
        const json_t *res = check_object(c, spec, parent, "resources", false);
        _cleanup_free_ char *path = NULL;

        if (!res)
                return;
        path = check_join(c, parent, "resources");
        if (!path)
                return;
        check_unknown_fields(c, res, path, resource_fields);
        out->cpu_millis = check_cpu(c, res, path);
        out->memory_bytes =
            check_bytes(c, res, path, "memory", MEMORY_MIN_BYTES, "6Mi (Docker's minimum)");
        out->pids_limit = check_int(c, res, path, "pids", 1, INT64_MAX, 0);
}

static void check_backoff(struct check *c, const json_t *spec, const char *parent,
                          struct task_spec *out)
{
        static const char *const backoff_fields[] = {"initialSeconds", "factor", "maxSeconds",
                                                     NULL};
        const json_t *backoff = check_object(c, spec, parent, "backoff", false);
        _cleanup_free_ char *path = NULL;
        int64_t initial = TASK_DEFAULT_BACKOFF_INITIAL_SEC, max = TASK_DEFAULT_BACKOFF_MAX_SEC;

        out->backoff_factor = TASK_DEFAULT_BACKOFF_FACTOR;
        if (backoff) {
                path = check_join(c, parent, "backoff");
                if (!path)
                        return;
                check_unknown_fields(c, backoff, path, backoff_fields);
                initial = check_int(c, backoff, path, "initialSeconds", 0, SECONDS_PER_DAY,
                                    TASK_DEFAULT_BACKOFF_INITIAL_SEC);
                out->backoff_factor =
                    check_number(c, backoff, path, "factor", 1, 10, TASK_DEFAULT_BACKOFF_FACTOR);
                max = check_int(c, backoff, path, "maxSeconds", 1, SECONDS_PER_DAY,
                                TASK_DEFAULT_BACKOFF_MAX_SEC);
        }
        out->backoff_initial_ms = initial * 1000;
        out->backoff_max_ms = max * 1000;
}

/* A Task-only field in a Service template: refused, saying why. */
static void refuse_in_service(struct check *c, const json_t *spec, const char *parent)
{
        enum why { RESTARTS, LIFETIME, STOP, QUEUE };
        static const struct {
                const char *field;
                enum why why;
        } refused[] = {
            {"restartPolicy", RESTARTS},
            {"backoffLimit", RESTARTS},
            {"backoff", RESTARTS},
            {"activeDeadlineSeconds", LIFETIME},
            {"ttlSecondsAfterFinished", LIFETIME},
            {"retryOn", RESTARTS},
            {"retryExitCodes", RESTARTS},
            {"shutdown", STOP},
            {"priority", QUEUE},
            {"priorityClassName", QUEUE},
        };

        for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
                if (!check_field(c, spec, parent, refused[i].field, false))
                        continue;
                switch (refused[i].why) {
                case RESTARTS:
                        check_error_key(c, parent, refused[i].field,
                                        "not allowed in a Service template: a Service restarts "
                                        "its replicas itself, see spec.restartBackoff");
                        break;
                case LIFETIME:
                        check_error_key(c, parent, refused[i].field,
                                        "not allowed in a Service template: a Service restarts "
                                        "its replicas itself and keeps them running until it is "
                                        "scaled down or deleted");
                        break;
                case STOP:
                        check_error_key(c, parent, refused[i].field,
                                        "not allowed in a Service template: scale the Service "
                                        "to 0 replicas to stop them");
                        break;
                case QUEUE:
                        check_error_key(c, parent, refused[i].field,
                                        "not allowed in a Service template: replicas are not "
                                        "queued, only Tasks are (berthd --max-running, Queue)");
                        break;
                }
        }
}

unsigned check_retry_on(struct check *c, const json_t *obj, const char *parent, const char *key)
{
        _cleanup_free_ char *list_path = NULL;
        _cleanup_json_ json_t *seen = NULL; /* value → first index */
        const json_t *arr = check_list(c, obj, parent, key, &list_path, &seen);
        unsigned bits = 0;
        size_t i;
        json_t *item;

        if (!arr)
                return RETRY_ON_DEFAULT;
        if (json_array_size(arr) == 0) {
                check_error_key(c, parent, key, "must list at least one of " RETRY_ON_LIST);
                return RETRY_ON_DEFAULT;
        }
        json_array_foreach(arr, i, item)
        {
                _cleanup_free_ char *path = check_index(c, list_path, i);
                const char *name = json_string_value(item);
                unsigned bit = retry_on_from_string(name);

                if (!path)
                        return RETRY_ON_DEFAULT;
                if (!name)
                        check_error(c, path, "must be a string");
                else if (!bit)
                        check_error(c, path, "unknown value \"%s\": one of " RETRY_ON_LIST, name);
                else if (check_unique(c, seen, name, i, list_path, path, NULL, "value"))
                        bits |= bit;
        }
        return bits ? bits : RETRY_ON_DEFAULT;
}

void check_retry_exit_codes(struct check *c, const json_t *obj, const char *parent, const char *key,
                            struct task_spec *out)
{
        static const char *const fields[] = {"in", "notIn", NULL};
        const json_t *rules = check_object(c, obj, parent, key, false);
        _cleanup_free_ char *path = NULL, *list_path = NULL;
        _cleanup_json_ json_t *seen = NULL; /* code → first index */
        const json_t *in, *not_in, *arr;
        int *codes;
        size_t i, n;
        json_t *item;

        if (!rules)
                return;
        path = check_join(c, parent, key);
        if (!path)
                return;
        check_unknown_fields(c, rules, path, fields);
        in = check_field(c, rules, path, "in", false);
        not_in = check_field(c, rules, path, "notIn", false);
        if (!in == !not_in) {
                check_error(c, path, "exactly one of in or notIn");
                return;
        }
        arr = check_list(c, rules, path, in ? "in" : "notIn", &list_path, &seen);
        if (!arr)
                return;
        n = json_array_size(arr);
        if (n == 0) {
                check_error(c, list_path, "must list at least one exit code");
                return;
        }
        if (n > RETRY_EXIT_CODES_MAX) {
                check_error(c, list_path, "at most %d exit codes, found %zu", RETRY_EXIT_CODES_MAX,
                            n);
                return;
        }
        codes = out ? alloc_entries(c, n, sizeof(*codes)) : NULL;
        if (out && !codes)
                return;
        if (out) {
                out->retry_exit_codes = codes;
                out->retry_exit_codes_mode = in ? RETRY_EXIT_CODES_IN : RETRY_EXIT_CODES_NOT_IN;
        }
        json_array_foreach(arr, i, item)
        {
                _cleanup_free_ char *item_path = check_index(c, list_path, i);
                json_int_t code = json_integer_value(item);
                char code_text[16];

                if (!item_path)
                        return;
                if (!json_is_integer(item)) {
                        check_error(c, item_path, "must be an integer");
                        continue;
                }
                if (code < 0 || code > EXIT_CODE_MAX) {
                        check_error(c, item_path, "must be between 0 and %d", EXIT_CODE_MAX);
                        continue;
                }
                snprintf(code_text, sizeof(code_text), "%d", (int)code);
                if (check_unique(c, seen, code_text, i, list_path, item_path, NULL, "exit code") &&
                    out)
                        codes[out->n_retry_exit_codes++] = (int)code;
        }
}

/* retryOn and retryExitCodes say which failures OnFailure retries: with
 * Never they would do nothing, which is never what was meant. Not said
 * again when restartPolicy itself is wrong (reported already). */
static void check_retry_rules(struct check *c, const json_t *spec, const char *parent,
                              struct task_spec *out)
{
        static const char *const rule_fields[] = {"retryOn", "retryExitCodes"};
        const json_t *policy = check_field(c, spec, parent, "restartPolicy", false);
        bool never = !policy || (json_is_string(policy) &&
                                 streq(json_string_value(policy), restart_policies[RESTART_NEVER]));

        out->retry_on = check_retry_on(c, spec, parent, "retryOn");
        check_retry_exit_codes(c, spec, parent, "retryExitCodes", out);
        for (size_t i = 0; never && i < ARRAY_SIZE(rule_fields); i++)
                if (check_field(c, spec, parent, rule_fields[i], false))
                        check_error_key(c, parent, rule_fields[i],
                                        "only with restartPolicy: OnFailure");
        if (!never && check_field(c, spec, parent, "retryExitCodes", false) &&
            !(out->retry_on & RETRY_ON_ERROR))
                check_error_key(c, parent, "retryExitCodes",
                                "needs Error in retryOn: the codes are those of attempts that "
                                "exited non-zero");
}

/* restartPolicy, priority, priorityClassName, backoffLimit, backoff,
 * activeDeadlineSeconds, ttlSecondsAfterFinished, retryOn, retryExitCodes
 * and shutdown: what only a Task that runs to completion has (a step's
 * template and a CronTask's carry priority and priorityClassName to the
 * Tasks they make). */
static void check_completion(struct check *c, const json_t *spec, const char *parent,
                             enum task_context where, struct task_spec *out)
{
        out->restart_policy = (enum restart_policy)check_enum(c, spec, parent, "restartPolicy",
                                                              restart_policies, RESTART_NEVER);
        check_retry_rules(c, spec, parent, out);
        out->shutdown = check_enum(c, spec, parent, "shutdown", shutdown_values, -1) == 0;
        out->priority =
            check_int(c, spec, parent, "priority", TASK_PRIORITY_MIN, TASK_PRIORITY_MAX, 0);
        out->priority_set = check_field(c, spec, parent, "priority", false) != NULL;
        /* Whether the class exists is the reconciler's to say: the Queue
         * may come later. */
        out->priority_class_name = check_name(c, spec, parent, "priorityClassName", false);
        if (out->priority_set && check_field(c, spec, parent, "priorityClassName", false))
                check_error_key(c, parent, "priorityClassName",
                                "set priority or priorityClassName, not both");
        out->backoff_limit =
            (int)check_int(c, spec, parent, "backoffLimit", 0, 1000, TASK_DEFAULT_BACKOFF_LIMIT);
        check_backoff(c, spec, parent, out);
        out->active_deadline_ms =
            check_int(c, spec, parent, "activeDeadlineSeconds", 1, SECONDS_PER_YEAR, 0) * 1000;
        if (where != TASK_IN_STEP) {
                int64_t ttl =
                    check_int(c, spec, parent, "ttlSecondsAfterFinished", 0, SECONDS_PER_YEAR, -1);
                out->ttl_after_finished_ms = ttl < 0 ? -1 : ttl * 1000;
        } else if (check_field(c, spec, parent, "ttlSecondsAfterFinished", false)) {
                check_error_key(c, parent, "ttlSecondsAfterFinished",
                                "not allowed in a step: a step's Task lives as long as its "
                                "Workflow; set spec.ttlSecondsAfterFinished");
        }
}

/* spec.dependsOn: a Task object's only; a step, a CronTask's runs and a
 * Service's replicas are ordered by their owner. */
static void check_depends_on(struct check *c, const json_t *spec, const char *parent,
                             enum task_context where, struct task_spec *out)
{
        _cleanup_free_ char *list_path = NULL;
        _cleanup_json_ json_t *seen = NULL; /* name → first index */
        const json_t *arr;
        const char **names;
        size_t i;
        json_t *item;

        if (where != TASK_IN_OBJECT) {
                if (!check_field(c, spec, parent, "dependsOn", false))
                        return;
                if (where == TASK_IN_STEP)
                        check_error_key(c, parent, "dependsOn",
                                        "not allowed in a step's task: set dependsOn on the step");
                else if (where == TASK_IN_CRON_TEMPLATE)
                        check_error_key(c, parent, "dependsOn",
                                        "not allowed in a CronTask template: its runs start on "
                                        "the schedule; order work with a workflowTemplate and "
                                        "step dependsOn");
                else
                        check_error_key(c, parent, "dependsOn",
                                        "not allowed in a Service template: a Service's replicas "
                                        "start with the Service");
                return;
        }
        arr = check_list(c, spec, parent, "dependsOn", &list_path, &seen);
        if (!arr)
                return;
        if (json_array_size(arr) > TASK_DEPENDS_ON_MAX) {
                check_error_key(c, parent, "dependsOn", "at most %d dependencies, found %zu",
                                TASK_DEPENDS_ON_MAX, json_array_size(arr));
                return;
        }
        names = out ? alloc_entries(c, json_array_size(arr), sizeof(*names)) : NULL;
        json_array_foreach(arr, i, item)
        {
                _cleanup_free_ char *path = check_index(c, list_path, i);
                const char *name = json_string_value(item);

                if (!path)
                        break;
                if (!name) {
                        check_error(c, path, "must be a string");
                        continue;
                }
                if (!name_is_valid(name)) {
                        check_error(c, path, "invalid task name \"%s\": %s", name, NAME_RULE);
                        continue;
                }
                if (c->object_name && streq(name, c->object_name)) {
                        check_error(c, path, "a Task cannot depend on itself");
                        continue;
                }
                if (!check_unique(c, seen, name, i, list_path, path, NULL, "dependency"))
                        continue;
                if (names)
                        names[out->n_depends_on++] = name;
        }
        if (out)
                out->depends_on = names;
}

/* spec.executor: {type, ...}. Any DNS-1123 type is accepted here (plugins
 * are not known to validation; the reconciler fails a Task whose executor
 * berthd lacks, ExecutorNotFound). docker-exec needs container.name or
 * container.labels, exactly one. */
static void check_executor(struct check *c, const json_t *spec, const char *parent,
                           enum task_context where, struct task_spec *out)
{
        static const char *const exec_fields[] = {"type", "container", NULL};
        static const char *const container_fields[] = {"name", "labels", NULL};
        const json_t *ex = check_object(c, spec, parent, "executor", false);

        out->executor = TASK_EXECUTOR_DOCKER;
        if (!ex)
                return;
        _cleanup_free_ char *path = check_join(c, parent, "executor");
        if (!path)
                return;
        if (where == TASK_IN_SERVICE) {
                check_error(c, path, "a Service runs containers: no executor");
                return;
        }
        const char *type = check_name(c, ex, path, "type", true);
        if (!type)
                return;
        out->executor = type;
        out->executor_config = ex;
        if (!streq(type, TASK_EXECUTOR_DOCKER_EXEC)) {
                if (streq(type, TASK_EXECUTOR_DOCKER))
                        check_unknown_fields(c, ex, path, (const char *const[]){"type", NULL});
                return;
        }
        check_unknown_fields(c, ex, path, exec_fields);
        const json_t *ct = check_object(c, ex, path, "container", true);
        if (!ct)
                return;
        _cleanup_free_ char *cpath = check_join(c, path, "container");
        if (!cpath)
                return;
        check_unknown_fields(c, ct, cpath, container_fields);
        out->exec_container_name = check_nonempty_string(c, ct, cpath, "name", false);
        out->exec_container_labels = check_string_map(c, ct, cpath, "labels", true, false);
        bool has_labels =
            out->exec_container_labels && json_object_size(out->exec_container_labels);
        if (!!out->exec_container_name == has_labels)
                check_error(c, cpath,
                            "exactly one of name and labels (a non-empty map) is required");
        if (!has_labels)
                out->exec_container_labels = NULL;
}

void task_check(struct check *c, const json_t *spec, const char *parent, enum task_context where,
                struct task_spec *ret)
{
        struct task_spec out = {.ttl_after_finished_ms = -1, .retry_on = RETRY_ON_DEFAULT};
        const char *s;

        check_unknown_fields(c, spec, parent, task_spec_fields);

        /* Only the docker executor makes containers of an image: docker-exec
         * runs in one that exists, a plugin decides for itself. */
        check_executor(c, spec, parent, where, &out);
        s = check_nonempty_string(c, spec, parent, "image",
                                  streq(out.executor, TASK_EXECUTOR_DOCKER));
        if (s && has_space(s))
                check_error_key(c, parent, "image", "must not contain whitespace");
        out.image = s;
        out.pull_policy = pull_policy_of[check_enum(c, spec, parent, "imagePullPolicy",
                                                    pull_policies, PULL_POLICY_DEFAULT)];
        out.command = check_string_array(c, spec, parent, "command");
        out.args = check_string_array(c, spec, parent, "args");
        check_env(c, spec, parent, ret ? &out : NULL);

        out.working_dir = check_string(c, spec, parent, "workingDir", false);
        if (out.working_dir && out.working_dir[0] != '/')
                check_error_key(c, parent, "workingDir", "must be an absolute path");
        out.user = check_nonempty_string(c, spec, parent, "user", false);
        out.network = check_nonempty_string(c, spec, parent, "network", false);
        if (out.network && !network_valid(out.network))
                check_error_key(c, parent, "network",
                                "invalid network \"%s\": must be none, host, bridge, "
                                "container:<id> or a network name",
                                out.network);

        check_volumes(c, spec, parent, ret ? &out : NULL);
        check_resources(c, spec, parent, &out);
        check_security(c, spec, parent, &out.security);

        if (where == TASK_IN_SERVICE)
                refuse_in_service(c, spec, parent);
        else
                check_completion(c, spec, parent, where, &out);
        out.labels = check_string_map(c, spec, parent, "labels", true, true);
        check_depends_on(c, spec, parent, where, ret ? &out : NULL);

        if (ret)
                *ret = out;
        else
                task_spec_release(&out);
}

void task_spec_release(struct task_spec *spec)
{
        if (!spec)
                return;
        free(spec->env);
        free(spec->volumes);
        free((void *)spec->depends_on);
        free((void *)spec->retry_exit_codes);
        free(spec->security.devices);
        spec->security.devices = NULL;
        spec->security.n_devices = 0;
        spec->env = NULL;
        spec->volumes = NULL;
        spec->depends_on = NULL;
        spec->retry_exit_codes = NULL;
        spec->n_env = spec->n_volumes = spec->n_depends_on = spec->n_retry_exit_codes = 0;
        spec->retry_exit_codes_mode = RETRY_EXIT_CODES_ANY;
}

int task_spec_decode(const json_t *object, struct task_spec *ret, struct berth_error *err)
{
        struct task_spec s = {0};
        int r = check_decode(&kind_task, object, &s, err);

        if (r < 0) {
                task_spec_release(&s);
                return r;
        }
        *ret = s;
        return 0;
}

void task_defaults(json_t *spec, enum task_context where)
{
        json_t *backoff;

        json_set_default(spec, "imagePullPolicy", json_string(pull_policies[PULL_POLICY_DEFAULT]));
        if (where == TASK_IN_SERVICE)
                return;
        json_set_default(spec, "restartPolicy", json_string(restart_policies[RESTART_NEVER]));
        json_set_default(spec, "backoffLimit", json_integer(TASK_DEFAULT_BACKOFF_LIMIT));
        json_set_default(spec, "backoff", json_object());
        backoff = json_object_get(spec, "backoff");
        if (json_is_object(backoff)) {
                json_set_default(backoff, "initialSeconds",
                                 json_integer(TASK_DEFAULT_BACKOFF_INITIAL_SEC));
                json_set_default(backoff, "factor", json_integer(TASK_DEFAULT_BACKOFF_FACTOR));
                json_set_default(backoff, "maxSeconds", json_integer(TASK_DEFAULT_BACKOFF_MAX_SEC));
        }
}

static void check_task_object_spec(struct check *c, const json_t *spec, void *ret_spec)
{
        task_check(c, spec, "spec", TASK_IN_OBJECT, ret_spec);
}

static void task_object_defaults(json_t *spec)
{
        task_defaults(spec, TASK_IN_OBJECT);
}

static const char *const task_subresources[] = {"log", "stats", NULL};

static const struct printer_column task_columns[] = {
    {.title = "PHASE", .path = "status.phase", .format = COLUMN_PHASE},
    {.title = "ATTEMPTS", .path = "status.attempts", .format = COLUMN_COUNT},
    {.title = "EXIT", .path = "status.exitCode", .format = COLUMN_INTEGER},
    {.title = "AGE", .path = "metadata.creationTimestamp", .format = COLUMN_AGE},
    {.title = "REASON", .path = "status.reason", .format = COLUMN_TEXT, .wide = true},
    {.title = "CONTAINER", .path = "status.containerID", .format = COLUMN_SHORT_ID, .wide = true},
    {.title = "IMAGE", .path = "spec.image", .format = COLUMN_TEXT, .wide = true},
    {0},
};

const struct kind_info kind_task = {
    .kind = "Task",
    .resource = "tasks",
    .singular = "task",
    .short_name = "tk",
    .namespaced = true,
    .finalizer = FINALIZER_CONTAINERS,
    .runs_to_completion = true,
    .subresources = task_subresources,
    .columns = task_columns,
    .check_spec = check_task_object_spec,
    .default_spec = task_object_defaults,
};
