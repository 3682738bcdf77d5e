/* task-json.c: Task objects ↔ planner structs, status JSON with conditions,
 * and the Docker create body of an attempt. All pure.
 *
 * Objects reach us validated and defaulted by manifests/, but the store can
 * hold anything a client wrote: every parser here rejects odd input with
 * -EINVAL and a message naming the field instead of trusting it.
 */
#include <math.h>

#include "reconciler-internal.h"

/* ---- spec ------------------------------------------------------------- */

#define SECONDS_MAX 1e9 /* ~31 years: keeps ms arithmetic far from overflow */

/* A number of seconds (integer or fraction) at obj.field → ms; def when absent
 * or null. */
static int seconds_field(const json_t *obj, const char *field, const char *path, int64_t def,
                         int64_t *ret_ms, struct berth_error *err)
{
        const json_t *v = obj ? json_object_get(obj, field) : NULL;
        if (!v || json_is_null(v)) {
                *ret_ms = def;
                return 0;
        }
        if (!json_is_number(v))
                return berth_error_set(err, -EINVAL, "%s: must be a number of seconds", path);
        double s = json_number_value(v);
        if (!(s >= 0) || s > SECONDS_MAX)
                return berth_error_set(err, -EINVAL, "%s: out of range", path);
        *ret_ms = (int64_t)llround(s * 1000.0);
        return 0;
}

static int enum_field(const json_t *spec, const char *field, const char *const *names, size_t n,
                      int def, int *ret, struct berth_error *err)
{
        const json_t *v = json_object_get(spec, field);
        if (!v || json_is_null(v)) {
                *ret = def;
                return 0;
        }
        const char *s = json_string_value(v);
        for (size_t i = 0; s && i < n; i++)
                if (streq(s, names[i])) {
                        *ret = (int)i;
                        return 0;
                }
        return berth_error_set(err, -EINVAL, "spec.%s: unsupported value %s%s%s", field,
                               s ? "\"" : "", s ? s : "(not a string)", s ? "\"" : "");
}

int task_spec_from_json(const json_t *object, struct task_spec *ret, struct berth_error *err)
{
        static const char *const pull_names[] = {
            [PULL_IF_NOT_PRESENT] = "IfNotPresent",
            [PULL_ALWAYS] = "Always",
            [PULL_NEVER] = "Never",
        };
        static const char *const restart_names[] = {
            [RESTART_NEVER] = "Never",
            [RESTART_ON_FAILURE] = "OnFailure",
        };
        const json_t *spec = object ? json_object_get(object, "spec") : NULL;
        struct task_spec s = {0};
        int v, r;

        if (!json_is_object(spec))
                return berth_error_set(err, -EINVAL, "spec: required");
        s.image = json_string_value(json_object_get(spec, "image"));
        if (!s.image || !*s.image)
                return berth_error_set(err, -EINVAL, "spec.image: required");

        r = enum_field(spec, "imagePullPolicy", pull_names, ARRAY_SIZE(pull_names),
                       PULL_IF_NOT_PRESENT, &v, err);
        if (r < 0)
                return r;
        s.pull_policy = (enum pull_policy)v;
        r = enum_field(spec, "restartPolicy", restart_names, ARRAY_SIZE(restart_names),
                       RESTART_NEVER, &v, err);
        if (r < 0)
                return r;
        s.restart_policy = (enum restart_policy)v;

        const json_t *limit = json_object_get(spec, "backoffLimit");
        if (!limit || json_is_null(limit))
                s.backoff_limit = 6;
        else if (json_is_integer(limit) && json_integer_value(limit) >= 0 &&
                 json_integer_value(limit) <= 1000000)
                s.backoff_limit = (int)json_integer_value(limit);
        else
                return berth_error_set(err, -EINVAL, "spec.backoffLimit: must be an integer >= 0");

        const json_t *backoff = json_object_get(spec, "backoff");
        if (backoff && !json_is_null(backoff) && !json_is_object(backoff))
                return berth_error_set(err, -EINVAL, "spec.backoff: must be a mapping");
        if (!json_is_object(backoff))
                backoff = NULL;
        r = seconds_field(backoff, "initialSeconds", "spec.backoff.initialSeconds", 10000,
                          &s.backoff_initial_ms, err);
        if (r < 0)
                return r;
        r = seconds_field(backoff, "maxSeconds", "spec.backoff.maxSeconds", 300000,
                          &s.backoff_max_ms, err);
        if (r < 0)
                return r;
        const json_t *factor = backoff ? json_object_get(backoff, "factor") : NULL;
        if (!factor || json_is_null(factor))
                s.backoff_factor = 2;
        else if (json_is_number(factor) && json_number_value(factor) >= 1 &&
                 json_number_value(factor) <= 1000)
                s.backoff_factor = json_number_value(factor);
        else
                return berth_error_set(err, -EINVAL,
                                       "spec.backoff.factor: must be a number from 1 to 1000");

        r = seconds_field(spec, "activeDeadlineSeconds", "spec.activeDeadlineSeconds", 0,
                          &s.active_deadline_ms, err);
        if (r < 0)
                return r;
        r = seconds_field(spec, "ttlSecondsAfterFinished", "spec.ttlSecondsAfterFinished", -1,
                          &s.ttl_after_finished_ms, err);
        if (r < 0)
                return r;

        *ret = s;
        return 0;
}

/* ---- status ----------------------------------------------------------- */

int64_t json_time_field(const json_t *st, const char *field)
{
        int64_t ms;
        const char *s = json_string_value(json_object_get(st, field));
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

/* The three conditions a status implies (see reconciler.h). */
static void conditions_of(const struct task_status *st, struct condition c[3])
{
        const char *reason = st->reason ? st->reason : "";
        const char *message = st->message ? st->message : "";

        c[0] = (struct condition){"Running", "False", "Pending", "waiting for the container"};
        c[1] = (struct condition){"Succeeded", "Unknown", "Pending", ""};
        c[2] = (struct condition){"Failed", "Unknown", "Pending", ""};
        switch (st->phase) {
        case TASK_PHASE_PENDING:
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
}

/* lastTransitionTime of the old condition of that type when its status is
 * unchanged, else NULL. Borrowed from old_status. */
static const char *old_transition(const json_t *old_status, const char *type, const char *status)
{
        const json_t *conds =
            json_is_object(old_status) ? json_object_get(old_status, "conditions") : NULL;
        size_t i;
        const json_t *c;

        json_array_foreach(conds, i, c)
        {
                if (!streq(json_string_value(json_object_get(c, "type")), type))
                        continue;
                if (!streq(json_string_value(json_object_get(c, "status")), status))
                        return NULL;
                return json_string_value(json_object_get(c, "lastTransitionTime"));
        }
        return NULL;
}

json_t *phase_conditions_to_json(const struct task_status *st, const json_t *old_status,
                                 int64_t now_ms)
{
        struct condition c[3];
        char now[RFC3339_MAX];
        _cleanup_json_ json_t *arr = json_array();

        if (!arr)
                return NULL;
        conditions_of(st, c);
        time_format_rfc3339(now_ms, now);
        for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
                const char *since = old_transition(old_status, c[i].type, c[i].status);
                json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", c[i].type, "status",
                                      c[i].status, "reason", c[i].reason, "message", c[i].message,
                                      "lastTransitionTime", since ? since : now);
                if (!o || json_array_append_new(arr, o) < 0)
                        return NULL;
        }
        return TAKE_PTR(arr);
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

/* ---- container -------------------------------------------------------- */

char *task_container_name(const char *ns, const char *name, const char *uid, int attempt)
{
        if (!ns || !name || !uid || attempt < 1)
                return NULL;
        return str_printf("berth.%s.%s.%.8s.%d", ns, name, uid, attempt);
}

/* A list of strings (command, args) → JSON array; absent → NULL result, 0. */
static int string_list(const json_t *spec, const char *field, json_t **ret, struct berth_error *err)
{
        const json_t *v = json_object_get(spec, field);
        size_t i;
        const json_t *item;

        *ret = NULL;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_array(v))
                return berth_error_set(err, -EINVAL, "spec.%s: must be a list of strings", field);
        json_array_foreach(v, i, item)
        {
                if (!json_is_string(item))
                        return berth_error_set(err, -EINVAL, "spec.%s[%zu]: must be a string",
                                               field, i);
        }
        *ret = json_deep_copy(v);
        return *ret ? 0 : -ENOMEM;
}

static int build_env(const json_t *spec, json_t *config, struct berth_error *err)
{
        const json_t *env = json_object_get(spec, "env");
        size_t i;
        const json_t *e;

        if (!env || json_is_null(env))
                return 0;
        if (!json_is_array(env))
                return berth_error_set(err, -EINVAL, "spec.env: must be a list");
        _cleanup_json_ json_t *arr = json_array();
        if (!arr)
                return -ENOMEM;
        json_array_foreach(env, i, e)
        {
                const char *name = json_string_value(json_object_get(e, "name"));
                const json_t *value = json_object_get(e, "value");
                if (!name || !*name || strchr(name, '='))
                        return berth_error_set(err, -EINVAL, "spec.env[%zu].name: invalid", i);
                if (value && !json_is_null(value) && !json_is_string(value))
                        return berth_error_set(err, -EINVAL,
                                               "spec.env[%zu].value: must be a string", i);
                const char *sv = json_is_string(value) ? json_string_value(value) : "";
                _cleanup_free_ char *kv = str_printf("%s=%s", name, sv);
                if (!kv || json_array_append_new(arr, json_string(kv)) < 0)
                        return -ENOMEM;
        }
        return json_set_new(config, "Env", TAKE_PTR(arr));
}

static int bytes_value(const json_t *v, const char *path, int64_t *ret, struct berth_error *err)
{
        int64_t n;
        if (json_is_integer(v)) {
                n = json_integer_value(v);
        } else if (json_is_string(v)) {
                if (quantity_parse_bytes(json_string_value(v), &n) < 0)
                        return berth_error_set(err, -EINVAL, "%s: not a quantity of bytes: %s",
                                               path, json_string_value(v));
        } else {
                return berth_error_set(err, -EINVAL, "%s: must be a quantity like 256Mi", path);
        }
        if (n <= 0)
                return berth_error_set(err, -EINVAL, "%s: must be positive", path);
        *ret = n;
        return 0;
}

static int build_mount(const json_t *vol, size_t i, json_t **ret, struct berth_error *err)
{
        const char *target = json_string_value(json_object_get(vol, "mountPath"));
        const json_t *ro = json_object_get(vol, "readOnly");
        const json_t *host = json_object_get(vol, "hostPath");
        const json_t *named = json_object_get(vol, "volume");
        const json_t *tmpfs = json_object_get(vol, "tmpfs");
        char path[64];

        snprintf(path, sizeof(path), "spec.volumes[%zu]", i);
        if (!json_is_object(vol))
                return berth_error_set(err, -EINVAL, "%s: must be a mapping", path);
        if (!target || target[0] != '/')
                return berth_error_set(err, -EINVAL, "%s.mountPath: must be an absolute path",
                                       path);
        if (ro && !json_is_boolean(ro))
                return berth_error_set(err, -EINVAL, "%s.readOnly: must be true or false", path);
        if ((host != NULL) + (named != NULL) + (tmpfs != NULL) != 1)
                return berth_error_set(err, -EINVAL,
                                       "%s: needs exactly one of hostPath, volume, tmpfs", path);

        _cleanup_json_ json_t *m = json_object();
        if (!m)
                return -ENOMEM;
        int r = 0;
        if (host) {
                if (!json_is_string(host) || json_string_value(host)[0] != '/')
                        return berth_error_set(err, -EINVAL,
                                               "%s.hostPath: must be an absolute path", path);
                r = json_set_new(m, "Type", json_string("bind"));
                if (r == 0)
                        r = json_set_new(m, "Source", json_copy((json_t *)host));
        } else if (named) {
                if (!json_is_string(named) || !*json_string_value(named))
                        return berth_error_set(err, -EINVAL, "%s.volume: must be a name", path);
                r = json_set_new(m, "Type", json_string("volume"));
                if (r == 0)
                        r = json_set_new(m, "Source", json_copy((json_t *)named));
        } else {
                if (!json_is_object(tmpfs) && !json_is_null(tmpfs))
                        return berth_error_set(err, -EINVAL, "%s.tmpfs: must be a mapping", path);
                r = json_set_new(m, "Type", json_string("tmpfs"));
                const json_t *size = json_object_get(tmpfs, "sizeLimit");
                if (r == 0 && size && !json_is_null(size)) {
                        char spath[96];
                        int64_t bytes;
                        snprintf(spath, sizeof(spath), "%s.tmpfs.sizeLimit", path);
                        r = bytes_value(size, spath, &bytes, err);
                        if (r == 0)
                                r = json_set_new(
                                    m, "TmpfsOptions",
                                    json_pack("{s:I}", "SizeBytes", (json_int_t)bytes));
                }
        }
        if (r == 0)
                r = json_set_new(m, "Target", json_string(target));
        if (r == 0)
                r = json_set_new(m, "ReadOnly", json_boolean(json_is_true(ro)));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

static int build_mounts(const json_t *spec, json_t *host_config, struct berth_error *err)
{
        const json_t *vols = json_object_get(spec, "volumes");
        size_t i;
        const json_t *v;

        if (!vols || json_is_null(vols))
                return 0;
        if (!json_is_array(vols))
                return berth_error_set(err, -EINVAL, "spec.volumes: must be a list");
        _cleanup_json_ json_t *arr = json_array();
        if (!arr)
                return -ENOMEM;
        json_array_foreach(vols, i, v)
        {
                json_t *m = NULL;
                int r = build_mount(v, i, &m, err);
                if (r < 0)
                        return r;
                if (json_array_append_new(arr, m) < 0)
                        return -ENOMEM;
        }
        return json_set_new(host_config, "Mounts", TAKE_PTR(arr));
}

static int build_resources(const json_t *spec, json_t *hc, struct berth_error *err)
{
        const json_t *res = json_object_get(spec, "resources");
        int r;

        if (!res || json_is_null(res))
                return 0;
        if (!json_is_object(res))
                return berth_error_set(err, -EINVAL, "spec.resources: must be a mapping");

        const json_t *cpu = json_object_get(res, "cpu");
        if (cpu && !json_is_null(cpu)) {
                int64_t milli;
                if (json_is_number(cpu)) {
                        double v = json_number_value(cpu);
                        if (!(v > 0) || v > 1e6)
                                return berth_error_set(err, -EINVAL,
                                                       "spec.resources.cpu: out of range");
                        milli = llround(v * 1000.0);
                } else if (!json_is_string(cpu) ||
                           quantity_parse_millicpu(json_string_value(cpu), &milli) < 0) {
                        return berth_error_set(err, -EINVAL,
                                               "spec.resources.cpu: must be like 500m or 0.5");
                }
                if (milli <= 0 || milli > 1000000000)
                        return berth_error_set(err, -EINVAL, "spec.resources.cpu: out of range");
                r = json_set_new(hc, "NanoCpus", json_integer((json_int_t)milli * 1000000));
                if (r < 0)
                        return r;
        }

        const json_t *mem = json_object_get(res, "memory");
        if (mem && !json_is_null(mem)) {
                int64_t bytes;
                r = bytes_value(mem, "spec.resources.memory", &bytes, err);
                if (r < 0)
                        return r;
                /* MemorySwap = Memory: no swap, so the limit is real. */
                r = json_set_new(hc, "Memory", json_integer(bytes));
                if (r == 0)
                        r = json_set_new(hc, "MemorySwap", json_integer(bytes));
                if (r < 0)
                        return r;
        }

        const json_t *pids = json_object_get(res, "pids");
        if (pids && !json_is_null(pids)) {
                if (!json_is_integer(pids) || json_integer_value(pids) <= 0)
                        return berth_error_set(err, -EINVAL,
                                               "spec.resources.pids: must be an integer > 0");
                r = json_set_new(hc, "PidsLimit", json_integer(json_integer_value(pids)));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int build_labels(const json_t *object, const json_t *spec, int attempt, json_t *config,
                        struct berth_error *err)
{
        const json_t *meta = json_object_get(object, "metadata");
        const json_t *user = json_object_get(spec, "labels");
        const char *key;
        json_t *value;
        char num[32];

        _cleanup_json_ json_t *labels = json_object();
        if (!labels)
                return -ENOMEM;
        if (user && !json_is_null(user)) {
                if (!json_is_object(user))
                        return berth_error_set(err, -EINVAL, "spec.labels: must be a mapping");
                json_object_foreach((json_t *)user, key, value)
                {
                        if (!json_is_string(value))
                                return berth_error_set(err, -EINVAL,
                                                       "spec.labels.%s: must be a string", key);
                        if (json_set_new(labels, key, json_copy(value)) < 0)
                                return -ENOMEM;
                }
        }

        /* Ours last: the controller finds its containers by these, so users
         * cannot override them. */
        const char *ns = json_string_value(json_object_get(meta, "namespace"));
        int r = json_set_new(labels, "berth.managed", json_string("true"));
        if (r == 0)
                r = json_set_new(labels, "berth.kind", json_string("Task"));
        if (r == 0)
                r = json_set_new(labels, "berth.namespace", json_string(ns ? ns : "default"));
        if (r == 0)
                r = json_set_string(labels, "berth.name",
                                    json_string_value(json_object_get(meta, "name")));
        if (r == 0)
                r = json_set_string(labels, "berth.uid",
                                    json_string_value(json_object_get(meta, "uid")));
        snprintf(num, sizeof(num), "%d", attempt);
        if (r == 0)
                r = json_set_new(labels, "berth.attempt", json_string(num));
        snprintf(num, sizeof(num), "%lld",
                 (long long)json_integer_value(json_object_get(meta, "generation")));
        if (r == 0)
                r = json_set_new(labels, "berth.generation", json_string(num));
        if (r < 0)
                return r;
        return json_set_new(config, "Labels", TAKE_PTR(labels));
}

static int optional_string(const json_t *spec, const char *field, json_t *dst, const char *key,
                           struct berth_error *err)
{
        const json_t *v = json_object_get(spec, field);
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_string(v))
                return berth_error_set(err, -EINVAL, "spec.%s: must be a string", field);
        return json_set_new(dst, key, json_copy((json_t *)v));
}

json_t *task_container_body(const json_t *object, int attempt, struct berth_error *err)
{
        const json_t *meta = object ? json_object_get(object, "metadata") : NULL;
        const json_t *spec = object ? json_object_get(object, "spec") : NULL;
        json_t *list;
        int r;

        if (!json_is_object(meta) || !json_string_value(json_object_get(meta, "name")) ||
            !json_string_value(json_object_get(meta, "uid"))) {
                berth_error_set(err, -EINVAL, "metadata: name and uid required");
                return NULL;
        }
        if (!json_is_object(spec)) {
                berth_error_set(err, -EINVAL, "spec: required");
                return NULL;
        }
        if (attempt < 1) {
                berth_error_set(err, -EINVAL, "attempt %d: must be >= 1", attempt);
                return NULL;
        }
        const char *image = json_string_value(json_object_get(spec, "image"));
        if (!image || !*image) {
                berth_error_set(err, -EINVAL, "spec.image: required");
                return NULL;
        }

        _cleanup_json_ json_t *body = json_object();
        _cleanup_json_ json_t *hc = json_object();
        if (!body || !hc)
                goto oom;
        if (json_set_new(body, "Image", json_string(image)) < 0)
                goto oom;

        r = string_list(spec, "command", &list, err);
        if (r == 0 && list)
                r = json_set_new(body, "Entrypoint", list);
        if (r == 0)
                r = string_list(spec, "args", &list, err);
        if (r == 0 && list)
                r = json_set_new(body, "Cmd", list);
        if (r == 0)
                r = build_env(spec, body, err);
        if (r == 0)
                r = optional_string(spec, "workingDir", body, "WorkingDir", err);
        if (r == 0)
                r = optional_string(spec, "user", body, "User", err);
        if (r == 0)
                r = build_labels(object, spec, attempt, body, err);
        /* Docker's default network when absent. */
        if (r == 0)
                r = optional_string(spec, "network", hc, "NetworkMode", err);
        if (r == 0)
                r = build_mounts(spec, hc, err);
        if (r == 0)
                r = build_resources(spec, hc, err);
        if (r == -ENOMEM)
                goto oom;
        if (r < 0)
                return NULL;
        if (json_set_new(body, "HostConfig", TAKE_PTR(hc)) < 0)
                goto oom;
        return TAKE_PTR(body);
oom:
        berth_error_set(err, -ENOMEM, "container body: out of memory");
        return NULL;
}
