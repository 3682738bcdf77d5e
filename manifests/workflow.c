/* workflow.c: the Workflow kind — names, schema (steps, dependencies,
 * cycles, parameters, expressions, Task and deploy steps), defaults, the
 * typed spec, its template expressions and its `berth get` columns
 * (docs/reference/workflow.md).
 *
 * As for a Task, one function checks a spec and decodes it (workflow_check_at). */
#include "manifests-internal.h"

static const char *const workflow_spec_fields[] = {
    "steps", "parameters", "failFast", "parallelism", "ttlSecondsAfterFinished", NULL,
};

/* ---- expressions -------------------------------------------------------- */

#define RESULT_SUFFIX ".outputs.result"

int workflow_ref_parse(const char *expr, struct workflow_ref *ret, char *msg, size_t msg_size)
{
        static const struct {
                const char *expr;
                enum workflow_ref_type type;
        } fields[] = {
            {"workflow.name", WORKFLOW_REF_NAME},
            {"workflow.namespace", WORKFLOW_REF_NAMESPACE},
            {"workflow.uid", WORKFLOW_REF_UID},
        };
        struct workflow_ref ref = {0};
        size_t len = strlen(expr);

        for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
                if (streq(expr, fields[i].expr)) {
                        ref.type = fields[i].type;
                        *ret = ref;
                        return 0;
                }
        if (str_has_prefix(expr, "parameters.") && len - strlen("parameters.") < sizeof(ref.name)) {
                ref.type = WORKFLOW_REF_PARAMETER;
                (void)str_copy(ref.name, sizeof(ref.name), expr + strlen("parameters."));
                *ret = ref;
                return 0;
        }
        if (str_has_prefix(expr, "steps.") && str_has_suffix(expr, RESULT_SUFFIX) &&
            len > strlen("steps.") + strlen(RESULT_SUFFIX)) {
                const char *step = expr + strlen("steps.");
                size_t n = len - strlen("steps.") - strlen(RESULT_SUFFIX);

                if (n >= sizeof(ref.name) || memchr(step, '.', n)) {
                        snprintf(msg, msg_size, "unknown step \"%.*s\"", (int)n, step);
                        return -ENOENT;
                }
                ref.type = WORKFLOW_REF_STEP_RESULT;
                memcpy(ref.name, step, n);
                ref.name[n] = '\0';
                *ret = ref;
                return 0;
        }
        snprintf(msg, msg_size,
                 "unknown expression, must be parameters.<name>, steps.<step>.outputs.result, "
                 "workflow.name, workflow.namespace or workflow.uid");
        return -ENOENT;
}

int task_template_foreach(const json_t *task_spec, task_template_fn fn, void *userdata)
{
        static const char *const lists[] = {"command", "args"};
        char field[64];
        size_t i;
        json_t *item;
        int r;

        for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
                json_array_foreach(json_object_get(task_spec, lists[l]), i, item)
                {
                        if (!json_is_string(item))
                                continue;
                        snprintf(field, sizeof(field), "%s[%zu]", lists[l], i);
                        if ((r = fn(item, field, NULL, userdata)) < 0)
                                return r;
                }
        }
        json_array_foreach(json_object_get(task_spec, "env"), i, item)
        {
                json_t *value = json_object_get(item, "value");

                if (!json_is_string(value))
                        continue;
                snprintf(field, sizeof(field), "env[%zu].value", i);
                r = fn(value, field, json_string_value(json_object_get(item, "name")), userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- parameters --------------------------------------------------------- */

/* [A-Za-z_][A-Za-z0-9_-]*: usable as one segment of {{parameters.<name>}}. */
static bool parameter_name_valid(const char *s)
{
        if (s[0] != '_' && !ascii_alpha(s[0]))
                return false;
        for (; *s; s++)
                if (!ascii_alnum(*s) && *s != '_' && *s != '-')
                        return false;
        return true;
}

/* Checks spec.parameters and records every declared name (valid or not, so
 * that a bad name is reported once, not again by each expression using it)
 * in names: name → index. */
static void check_parameters(struct check *c, const json_t *spec, const char *parent, json_t *names,
                             struct workflow_spec *out)
{
        static const char *const parameter_fields[] = {"name", "value", NULL};
        _cleanup_free_ char *params_path = check_join(c, parent, "parameters");
        const json_t *arr = check_array(c, spec, parent, "parameters");
        size_t i;
        json_t *item;

        if (!arr || !params_path)
                return;
        if (json_array_size(arr) > WORKFLOW_PARAMETERS_MAX)
                check_error(c, params_path, "must have at most %d entries, has %zu",
                            WORKFLOW_PARAMETERS_MAX, json_array_size(arr));
        if (out && json_array_size(arr) > 0) {
                out->parameters = calloc(json_array_size(arr), sizeof(*out->parameters));
                if (!out->parameters)
                        c->r = -ENOMEM;
        }
        json_array_foreach(arr, i, item)
        {
                _cleanup_free_ char *path = check_index(c, params_path, i);
                const char *name, *value;

                if (!path)
                        return;
                if (!check_entry(c, item, path, parameter_fields))
                        continue;
                value = check_quoted_string(c, item, path, "value", true);
                name = check_string(c, item, path, "name", true);
                if (!name)
                        continue;
                if (!parameter_name_valid(name))
                        check_error_key(c, path, "name",
                                        "invalid name \"%s\": must start with a letter or '_' "
                                        "and contain only letters, digits, '_' and '-'",
                                        name);
                check_unique(c, names, name, i, params_path, path, "name", "name");
                if (out && out->parameters)
                        out->parameters[out->n_parameters++] =
                            (struct workflow_parameter){name, value ? value : ""};
        }
}

/* ---- the step graph ------------------------------------------------------ */

/* The steps and their dependencies: enough to find cycles and to tell which
 * results a step may read. At most WORKFLOW_STEPS_MAX steps, so a matrix. */
struct step_graph {
        const char *steps_path; /* "spec.steps" */
        size_t n;
        const char *names[WORKFLOW_STEPS_MAX];             /* NULL when missing or not a string */
        json_t *index;                                     /* name → index of its first step */
        bool deps[WORKFLOW_STEPS_MAX][WORKFLOW_STEPS_MAX]; /* [i][j]: step i depends on j */
        /* The same edges as lists, in dependsOn order. */
        size_t *dep_list[WORKFLOW_STEPS_MAX];
        size_t n_deps[WORKFLOW_STEPS_MAX];
        size_t *dep_storage;
        /* An unknown or self dependency, or a cycle: reported already, and
         * reachability would only produce confusing follow-up errors. */
        bool broken;

        /* depth-first search state */
        enum { STEP_UNSEEN, STEP_ON_PATH, STEP_DONE } state[WORKFLOW_STEPS_MAX];
        size_t path[WORKFLOW_STEPS_MAX];
        size_t depth;
        bool cycle_reported[WORKFLOW_STEPS_MAX]; /* at spec.steps[i].dependsOn */

        /* What each step does: a deploy step (decoded into deploy[i]) or a Task. */
        bool is_deploy[WORKFLOW_STEPS_MAX];
        struct workflow_deploy deploy[WORKFLOW_STEPS_MAX];
};

static void step_graph_free(struct step_graph *g)
{
        if (!g)
                return;
        json_decref(g->index);
        free(g->dep_storage);
        free(g);
}

static void step_graph_freep(struct step_graph **g)
{
        step_graph_free(*g);
}

/* A graph for the steps array: names and edges are filled by the checks. */
static struct step_graph *step_graph_new(const json_t *steps, const char *steps_path)
{
        _cleanup_(step_graph_freep) struct step_graph *g = calloc(1, sizeof(*g));
        size_t edges = 0, i;
        json_t *step;

        if (!g)
                return NULL;
        g->steps_path = steps_path;
        g->n = json_array_size(steps);
        g->index = json_object();
        json_array_foreach(steps, i, step)
        {
                edges += json_array_size(json_object_get(step, "dependsOn"));
        }
        g->dep_storage = calloc(edges ? edges : 1, sizeof(*g->dep_storage));
        if (!g->index || !g->dep_storage)
                return NULL;
        size_t *next = g->dep_storage;
        json_array_foreach(steps, i, step)
        {
                g->dep_list[i] = next;
                next += json_array_size(json_object_get(step, "dependsOn"));
        }
        return TAKE_PTR(g);
}

/* Index of the step named name, or g->n. */
static size_t step_graph_find(const struct step_graph *g, const char *name)
{
        const json_t *i = json_object_get(g->index, name);

        return i ? (size_t)json_integer_value(i) : g->n;
}

/* The step of g named like name give or take two edits, or NULL. */
static const char *step_graph_nearest(const struct step_graph *g, const char *name)
{
        const char *best = NULL;
        size_t best_distance = 3;

        for (size_t i = 0; i < g->n; i++) {
                size_t d;

                if (!g->names[i])
                        continue;
                d = str_edit_distance(name, g->names[i], 2);
                if (d < best_distance) {
                        best = g->names[i];
                        best_distance = d;
                }
        }
        return best;
}

/* Whitespace outside {{...}}: inside the braces spaces are allowed
 * ("{{ parameters.tag }}"). An unterminated "{{" is the expression check's
 * to report. */
static bool space_outside_expressions(const char *s)
{
        while (*s) {
                if (s[0] == '{' && s[1] == '{') {
                        const char *close = strstr(s + 2, "}}");

                        if (!close)
                                return false;
                        s = close + 2;
                        continue;
                }
                if (strchr(" \t\n\r\v\f", *s))
                        return true;
                s++;
        }
        return false;
}

/* A step's deploy: which Service gets which image, and how to wait. The
 * image's expressions are checked with the other steps' (check_steps). */
static void check_deploy(struct check *c, const json_t *deploy, const char *path,
                         struct workflow_deploy *out)
{
        static const char *const deploy_fields[] = {"service", "image", "wait", "timeoutSeconds",
                                                    NULL};
        const char *service, *image;

        check_unknown_fields(c, deploy, path, deploy_fields);
        service = check_name(c, deploy, path, "service", true);
        if (service && strlen(service) > SERVICE_NAME_MAX)
                check_error_key(c, path, "service",
                                "invalid name \"%s\": a Service name is at most %d characters",
                                service, SERVICE_NAME_MAX);
        image = check_nonempty_string(c, deploy, path, "image", true);
        if (image && strlen(image) > WORKFLOW_DEPLOY_IMAGE_MAX)
                check_error_key(c, path, "image", "must be at most %d characters",
                                WORKFLOW_DEPLOY_IMAGE_MAX);
        else if (image && space_outside_expressions(image))
                check_error_key(c, path, "image", "must not contain whitespace");
        *out = (struct workflow_deploy){
            .service = service,
            .image = image,
            .wait = check_bool(c, deploy, path, "wait", true),
            .timeout_ms =
                check_int(c, deploy, path, "timeoutSeconds", 1, WORKFLOW_DEPLOY_TIMEOUT_MAX, 0) *
                1000,
        };
}

/* A step: its fields and its Task or deploy; its name goes into g
 * (dependencies are resolved once every name is known, as a step may depend
 * on a later one). */
static void check_step(struct check *c, const json_t *step, size_t i, struct step_graph *g)
{
        static const char *const step_fields[] = {"name", "dependsOn", "task", "deploy", NULL};
        _cleanup_free_ char *path = check_index(c, g->steps_path, i);
        _cleanup_free_ char *task_path = NULL;
        const json_t *task;
        const char *name;
        bool has_task, has_deploy;

        if (!path)
                return;
        if (!check_entry(c, step, path, step_fields))
                return;
        has_task = check_field(c, step, path, "task", false) != NULL;
        has_deploy = check_field(c, step, path, "deploy", false) != NULL;

        name = check_string(c, step, path, "name", true);
        if (name) {
                size_t first = step_graph_find(g, name);

                g->names[i] = name;
                if (!name_is_valid(name))
                        check_error_key(c, path, "name", "invalid name \"%s\": %s", name,
                                        NAME_RULE);
                else if (has_task && name_is_valid(c->object_name) &&
                         strlen(c->object_name) + 1 + strlen(name) > OBJECT_NAME_MAX)
                        check_error_key(c, path, "name",
                                        "the step's Task name \"%s-%s\" is longer than %d "
                                        "characters",
                                        c->object_name, name, OBJECT_NAME_MAX);
                if (first < g->n)
                        check_error_key(c, path, "name",
                                        "duplicate name %s (first at spec.steps[%zu])", name,
                                        first);
                else if (json_object_set_new(g->index, name, json_integer((json_int_t)i)) < 0)
                        c->r = -ENOMEM;
        }

        if (has_task == has_deploy) {
                check_error(c, path, "exactly one of task or deploy: found %s",
                            has_task ? "both" : "none");
                return;
        }
        if (has_deploy) {
                const json_t *deploy = check_object(c, step, path, "deploy", true);
                _cleanup_free_ char *deploy_path = deploy ? check_join(c, path, "deploy") : NULL;

                g->is_deploy[i] = true;
                if (deploy_path)
                        check_deploy(c, deploy, deploy_path, &g->deploy[i]);
                return;
        }
        task = check_object(c, step, path, "task", true);
        if (task) {
                task_path = check_join(c, path, "task");
                if (task_path)
                        task_check(c, task, task_path, TASK_IN_STEP, NULL);
        }
}

/* spec.steps[i].dependsOn → g's edges of step i. */
static void check_depends_on(struct check *c, const json_t *step, size_t i, struct step_graph *g)
{
        _cleanup_free_ char *path = check_index(c, g->steps_path, i);
        _cleanup_free_ char *deps_path = NULL;
        _cleanup_json_ json_t *seen = NULL; /* name → first index in dependsOn */
        const json_t *arr;
        size_t k;
        json_t *item;

        if (!path || !json_is_object(step) || !check_field(c, step, path, "dependsOn", false))
                return;
        arr = check_list(c, step, path, "dependsOn", &deps_path, &seen);
        if (!arr) {
                g->broken = true; /* reported (or out of memory) */
                return;
        }
        json_array_foreach(arr, k, item)
        {
                _cleanup_free_ char *item_path = check_index(c, deps_path, k);
                const char *dep = json_string_value(item);
                size_t j;

                if (!item_path)
                        return;
                if (!dep) {
                        check_error(c, item_path, "must be a string");
                        g->broken = true;
                        continue;
                }
                if (!check_unique(c, seen, dep, k, deps_path, item_path, NULL, "dependency"))
                        continue;
                j = step_graph_find(g, dep);
                if (g->names[i] && streq(dep, g->names[i])) {
                        check_error(c, item_path, "a step cannot depend on itself");
                        g->broken = true;
                } else if (j == g->n) {
                        const char *near = step_graph_nearest(g, dep);

                        if (near)
                                check_error(c, item_path,
                                            "unknown step \"%s\", did you mean \"%s\"?", dep, near);
                        else
                                check_error(c, item_path, "unknown step \"%s\"", dep);
                        g->broken = true;
                } else {
                        g->deps[i][j] = true;
                        g->dep_list[i][g->n_deps[i]++] = j;
                }
        }
}

/* The search stands on a path that reaches step v again: g->path from v on
 * is a cycle. Reported from its first step in spec order, so that the message
 * does not depend on where the search happened to start, and only the first
 * cycle of each step: densely connected steps close thousands of cycles, and
 * one path per step says enough to fix them. */
static void report_cycle(struct check *c, struct step_graph *g, size_t v)
{
        _cleanup_buf_ struct buf b = {};
        _cleanup_free_ char *path = NULL;
        size_t from = 0, len, lowest = 0;
        int r = 0;

        while (g->path[from] != v)
                from++;
        len = g->depth - from;
        for (size_t k = 1; k < len; k++)
                if (g->path[from + k] < g->path[from + lowest])
                        lowest = k;
        g->broken = true;
        if (g->cycle_reported[g->path[from + lowest]])
                return;
        g->cycle_reported[g->path[from + lowest]] = true;

        buf_init(&b, SIZE_MAX / 2);
        for (size_t k = 0; k <= len && r == 0; k++)
                r = buf_printf(&b, "%s%s", k ? " -> " : "",
                               g->names[g->path[from + (lowest + k) % len]]);
        path = str_printf("%s[%zu].dependsOn", g->steps_path, g->path[from + lowest]);
        if (r < 0 || !path) {
                c->r = -ENOMEM;
                return;
        }
        check_error(c, path, "dependency cycle: %s", b.data);
}

/* Depth-first search along dependencies; every edge back onto the current
 * path closes a different cycle. Depth is at most WORKFLOW_STEPS_MAX. */
static void find_cycles(struct check *c, struct step_graph *g, size_t u)
{
        g->state[u] = STEP_ON_PATH;
        g->path[g->depth++] = u;
        for (size_t v = 0; v < g->n; v++) {
                if (!g->deps[u][v])
                        continue;
                if (g->state[v] == STEP_ON_PATH)
                        report_cycle(c, g, v);
                else if (g->state[v] == STEP_UNSEEN)
                        find_cycles(c, g, v);
        }
        g->depth--;
        g->state[u] = STEP_DONE;
}

/* ---- expressions in steps ------------------------------------------------ */

/* What the expressions of one step may name. */
struct expr_scope {
        struct check *c;
        const json_t *parameters; /* name → index */
        const struct step_graph *g;
        size_t step;
        const char *parent; /* "spec.steps[3].task", "spec.steps[3].deploy" */
        bool reachable_known;
        bool reachable[WORKFLOW_STEPS_MAX]; /* the step's dependencies, transitively */
};

/* The step's dependencies, transitively: found when first needed, since most
 * expressions name parameters and reachability costs a walk of the graph. */
static void expr_scope_reach(struct expr_scope *scope)
{
        const struct step_graph *g = scope->g;
        size_t stack[WORKFLOW_STEPS_MAX + 1], n = 0; /* each step is pushed once */

        scope->reachable_known = true;
        stack[n++] = scope->step;
        while (n > 0) {
                size_t u = stack[--n];

                for (size_t d = 0; d < g->n_deps[u]; d++) {
                        size_t v = g->dep_list[u][d];

                        if (!scope->reachable[v]) {
                                scope->reachable[v] = true;
                                stack[n++] = v;
                        }
                }
        }
}

/* Validation knows names, not values: every known expression expands to "". */
static int validation_resolve(const char *expr, const char **ret_value, char *msg, size_t msg_size,
                              void *userdata)
{
        struct expr_scope *scope = userdata;
        const struct step_graph *g = scope->g;
        struct workflow_ref ref;
        int r = workflow_ref_parse(expr, &ref, msg, msg_size);

        if (r < 0)
                return r;
        if (ref.type == WORKFLOW_REF_PARAMETER && !json_object_get(scope->parameters, ref.name)) {
                snprintf(msg, msg_size, "unknown parameter \"%s\"", ref.name);
                return -ENOENT;
        }
        if (ref.type == WORKFLOW_REF_STEP_RESULT) {
                size_t j = step_graph_find(g, ref.name);

                if (j == g->n) {
                        snprintf(msg, msg_size, "unknown step \"%s\"", ref.name);
                        return -ENOENT;
                }
                if (!scope->reachable_known)
                        expr_scope_reach(scope);
                if (!scope->reachable[j]) {
                        if (g->names[scope->step])
                                snprintf(msg, msg_size,
                                         "step \"%s\" is not a dependency of step \"%s\"", ref.name,
                                         g->names[scope->step]);
                        else
                                snprintf(msg, msg_size, "step \"%s\" is not a dependency",
                                         ref.name);
                        return -ENOENT;
                }
        }
        *ret_value = "";
        return 0;
}

static int check_template(json_t *value, const char *field, const char *env_name, void *userdata)
{
        struct expr_scope *scope = userdata;

        (void)env_name;
        return check_expressions(scope->c, value, scope->parent, field, validation_resolve, scope);
}

static void check_steps(struct check *c, const json_t *spec, const char *parent,
                        const json_t *parameters, struct workflow_spec *out)
{
        _cleanup_(step_graph_freep) struct step_graph *g = NULL;
        _cleanup_free_ char *steps_path = check_join(c, parent, "steps");
        const json_t *steps;
        size_t i, n;
        json_t *step;

        if (!steps_path || !check_field(c, spec, parent, "steps", true))
                return;
        steps = check_array(c, spec, parent, "steps");
        if (!steps)
                return;
        n = json_array_size(steps);
        if (n == 0 || n > WORKFLOW_STEPS_MAX) {
                /* Not checked further: the graph checks are quadratic. */
                check_error(c, steps_path, "must have between 1 and %d entries, has %zu",
                            WORKFLOW_STEPS_MAX, n);
                return;
        }

        g = step_graph_new(steps, steps_path);
        if (!g) {
                c->r = -ENOMEM;
                return;
        }
        json_array_foreach(steps, i, step)
        {
                check_step(c, step, i, g);
        }
        json_array_foreach(steps, i, step)
        {
                check_depends_on(c, step, i, g);
        }
        for (i = 0; i < n; i++)
                if (g->state[i] == STEP_UNSEEN)
                        find_cycles(c, g, i);
        if (g->broken)
                return;

        json_array_foreach(steps, i, step)
        {
                _cleanup_free_ char *step_path =
                    str_printf("%s[%zu].%s", steps_path, i, g->is_deploy[i] ? "deploy" : "task");
                struct expr_scope scope = {
                    .c = c, .parameters = parameters, .g = g, .step = i, .parent = step_path};
                const json_t *image = json_path(step, "deploy.image");

                if (!step_path) {
                        c->r = -ENOMEM;
                        return;
                }
                if (!g->is_deploy[i])
                        (void)task_template_foreach(json_object_get(step, "task"), check_template,
                                                    &scope);
                else if (json_is_string(image))
                        (void)check_expressions(c, image, step_path, "image", validation_resolve,
                                                &scope);
        }

        if (!out)
                return;
        out->steps = calloc(n, sizeof(*out->steps));
        if (!out->steps) {
                c->r = -ENOMEM;
                return;
        }
        out->deps = TAKE_PTR(g->dep_storage);
        out->n_steps = n;
        json_array_foreach(steps, i, step)
        {
                out->steps[i] = (struct workflow_step_spec){
                    .name = g->names[i],
                    .deps = g->dep_list[i],
                    .n_deps = g->n_deps[i],
                    .task = g->is_deploy[i] ? NULL : json_object_get(step, "task"),
                    .deploy = g->deploy[i],
                };
        }
}

void workflow_check_at(struct check *c, const json_t *spec, const char *parent,
                       struct workflow_spec *ret)
{
        _cleanup_json_ json_t *parameters = json_object();
        struct workflow_spec out = {0};

        if (!parameters) {
                c->r = -ENOMEM;
                return;
        }
        check_unknown_fields(c, spec, parent, workflow_spec_fields);
        check_parameters(c, spec, parent, parameters, ret ? &out : NULL);
        out.fail_fast = check_bool(c, spec, parent, "failFast", true);
        out.parallelism = (int)check_int(c, spec, parent, "parallelism", 0, 1000, 0);
        int64_t ttl =
            check_int(c, spec, parent, "ttlSecondsAfterFinished", 0, SECONDS_PER_YEAR, -1);
        out.ttl_after_finished_ms = ttl < 0 ? -1 : ttl * 1000;
        check_steps(c, spec, parent, parameters, ret ? &out : NULL);
        if (ret)
                *ret = out;
}

void workflow_spec_release(struct workflow_spec *spec)
{
        if (!spec)
                return;
        free(spec->parameters);
        free(spec->steps);
        free(spec->deps);
        *spec = (struct workflow_spec){0};
}

int workflow_spec_decode(const json_t *object, struct workflow_spec *ret, struct berth_error *err)
{
        struct workflow_spec s = {0};
        int r = check_decode(&kind_workflow, object, &s, err);

        if (r < 0) {
                workflow_spec_release(&s);
                return r;
        }
        *ret = s;
        return 0;
}

size_t workflow_spec_step(const struct workflow_spec *spec, const char *name)
{
        for (size_t i = 0; i < spec->n_steps; i++)
                if (streq(spec->steps[i].name, name))
                        return i;
        return spec->n_steps;
}

static void workflow_check(struct check *c, const json_t *spec, void *ret_spec)
{
        workflow_check_at(c, spec, "spec", ret_spec);
}

void workflow_defaults(json_t *spec)
{
        size_t i;
        json_t *step;

        json_set_default(spec, "failFast", json_true());
        json_set_default(spec, "parallelism", json_integer(0));
        json_array_foreach(json_object_get(spec, "steps"), i, step)
        {
                json_t *task = json_object_get(step, "task");
                json_t *deploy = json_object_get(step, "deploy");

                if (json_is_object(task))
                        task_defaults(task, TASK_IN_STEP);
                if (json_is_object(deploy))
                        json_set_default(deploy, "wait", json_true());
        }
}

static const char *const workflow_subresources[] = {"results", NULL};

static const struct printer_column workflow_columns[] = {
    {.title = "PHASE", .path = "status.phase", .format = COLUMN_PHASE},
    {.title = "PROGRESS",
     .path = "status.progress",
     .format = COLUMN_PROGRESS,
     .until = "spec.steps"},
    {.title = "AGE", .path = "metadata.creationTimestamp", .format = COLUMN_AGE},
    {.title = "DURATION",
     .path = "status.startTime",
     .format = COLUMN_ELAPSED,
     .until = "status.completionTime",
     .wide = true},
    {.title = "REASON", .path = "status.reason", .format = COLUMN_TEXT, .wide = true},
    {.title = "MESSAGE", .path = "status.message", .format = COLUMN_ONE_LINE, .wide = true},
    {0},
};

const struct kind_info kind_workflow = {
    .kind = "Workflow",
    .resource = "workflows",
    .singular = "workflow",
    .short_name = "wf",
    .namespaced = true,
    .finalizer = FINALIZER_CHILDREN,
    .runs_to_completion = true,
    .subresources = workflow_subresources,
    .columns = workflow_columns,
    .check_spec = workflow_check,
    .default_spec = workflow_defaults,
};
