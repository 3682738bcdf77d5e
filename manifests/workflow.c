/* workflow.c: the Workflow kind — names, schema (steps, dependencies and
 * depends expressions, cycles, parameters, expressions, Task and deploy
 * steps, fan-out, retries, file outputs, the exit handler, the workspace),
 * defaults, the typed spec, its template expressions and its `berth get`
 * columns (docs/reference/workflow.md).
 *
 * As for a Task, one function checks a spec and decodes it (workflow_check_at). */
#include <ctype.h>

#include "manifests-internal.h"

static const char *const workflow_spec_fields[] = {
    "steps",
    "parameters",
    "failFast",
    "parallelism",
    "ttlSecondsAfterFinished",
    "onExit",
    "workspace",
    "activeDeadlineSeconds",
    "shutdown",
    NULL,
};

/* A fanned-out step's Tasks are "<workflow>-<step>-<index>", index below
 * WORKFLOW_ITEMS_MAX: "-999" takes 4 characters of the name. */
#define FAN_OUT_SUFFIX_MAX 4
#define OUTPUT_NAME_MAX    63
#define OUTPUT_PATH_MAX    4096
#define EXIT_CODE_MAX      255

/* ---- expressions -------------------------------------------------------- */

#define RESULT_SUFFIX ".outputs.result"
#define FILES_INFIX   ".outputs.files."

int workflow_ref_parse(const char *expr, struct workflow_ref *ret, char *msg, size_t msg_size)
{
        static const struct {
                const char *expr;
                enum workflow_ref_type type;
        } fields[] = {
            {"workflow.name", WORKFLOW_REF_NAME},
            {"workflow.namespace", WORKFLOW_REF_NAMESPACE},
            {"workflow.uid", WORKFLOW_REF_UID},
            {"workflow.status", WORKFLOW_REF_STATUS},
            {"workflow.failures", WORKFLOW_REF_FAILURES},
            {"item", WORKFLOW_REF_ITEM},
        };
        struct workflow_ref ref = {0};
        size_t len = strlen(expr);
        const char *files;

        for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
                if (streq(expr, fields[i].expr)) {
                        ref.type = fields[i].type;
                        *ret = ref;
                        return 0;
                }
        if (str_has_prefix(expr, "item.") && len - strlen("item.") < sizeof(ref.field)) {
                ref.type = WORKFLOW_REF_ITEM;
                (void)str_copy(ref.field, sizeof(ref.field), expr + strlen("item."));
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
        if (str_has_prefix(expr, "steps.") &&
            (files = strstr(expr + strlen("steps."), FILES_INFIX)) &&
            files > expr + strlen("steps.")) {
                const char *step = expr + strlen("steps.");
                const char *file = files + strlen(FILES_INFIX);
                size_t n = (size_t)(files - step);

                if (n >= sizeof(ref.name) || memchr(step, '.', n)) {
                        snprintf(msg, msg_size, "unknown step \"%.*s\"", (int)n, step);
                        return -ENOENT;
                }
                memcpy(ref.name, step, n);
                ref.name[n] = '\0';
                /* output file names hold no '.' */
                if (*file && !strchr(file, '.') && strlen(file) < sizeof(ref.field)) {
                        ref.type = WORKFLOW_REF_STEP_FILE;
                        (void)str_copy(ref.field, sizeof(ref.field), file);
                        *ret = ref;
                        return 0;
                }
                snprintf(msg, msg_size, "step \"%s\" has no output file \"%s\"", ref.name, file);
                return -ENOENT;
        }
        snprintf(msg, msg_size,
                 "unknown expression, must be parameters.<name>, steps.<step>.outputs.result, "
                 "steps.<step>.outputs.files.<file>, item, item.<field>, workflow.name, "
                 "workflow.namespace, workflow.uid, workflow.status or workflow.failures");
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

/* ---- retry strategy ------------------------------------------------------ */

int workflow_apply_retry_strategy(json_t *task_spec, const json_t *retry_strategy)
{
        /* retryStrategy field → Task spec field; absent ones are removed from
         * the Task, so that nothing of the template's own retry rule is left */
        static const struct {
                const char *from, *to;
        } copied[] = {
            {"backoff", "backoff"},
            {"retryOn", "retryOn"},
            {"exitCodes", "retryExitCodes"},
        };
        const json_t *limit;

        if (!retry_strategy)
                return 0;
        if (!json_is_object(task_spec) || !json_is_object(retry_strategy))
                return -EINVAL;
        if (json_object_set_new(task_spec, "restartPolicy", json_string("OnFailure")) < 0)
                return -ENOMEM;
        limit = json_object_get(retry_strategy, "limit");
        if (json_is_integer(limit) &&
            json_object_set_new(task_spec, "backoffLimit",
                                json_integer(json_integer_value(limit))) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < ARRAY_SIZE(copied); i++) {
                const json_t *v = json_object_get(retry_strategy, copied[i].from);

                if (!v || json_is_null(v))
                        (void)json_object_del(task_spec, copied[i].to);
                else if (json_object_set_new(task_spec, copied[i].to, json_deep_copy(v)) < 0)
                        return -ENOMEM;
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

/* ---- spec.workspace and spec.onExit -------------------------------------- */

/* spec.workspace: whether it is on (an object, even {}) and *ret_keep. */
static bool check_workspace(struct check *c, const json_t *spec, const char *parent, bool *ret_keep)
{
        static const char *const workspace_fields[] = {"keep", NULL};
        const json_t *ws = check_object(c, spec, parent, "workspace", false);
        _cleanup_free_ char *path = NULL;

        *ret_keep = false;
        if (!ws)
                return false;
        path = check_join(c, parent, "workspace");
        if (!path)
                return false;
        check_unknown_fields(c, ws, path, workspace_fields);
        *ret_keep = check_bool(c, ws, path, "keep", false);
        return true;
}

/* A mount at /workspace (or "/workspace/") in a Task template: the
 * workspace volume goes there. */
static void check_workspace_mounts(struct check *c, const json_t *task, const char *task_path)
{
        size_t k;
        json_t *volume;

        json_array_foreach(json_object_get(task, "volumes"), k, volume)
        {
                const char *mount = json_string_value(json_object_get(volume, "mountPath"));
                size_t len = mount ? strlen(mount) : 0;
                _cleanup_free_ char *path = NULL;

                while (len > 1 && mount[len - 1] == '/')
                        len--;
                if (len != strlen(WORKFLOW_WORKSPACE_PATH) ||
                    strncmp(mount, WORKFLOW_WORKSPACE_PATH, len) != 0)
                        continue;
                path = str_printf("%s.volumes[%zu]", task_path, k);
                if (!path) {
                        c->r = -ENOMEM;
                        return;
                }
                check_error_key(c, path, "mountPath",
                                "reserved for the workspace: spec.workspace mounts it in every "
                                "step");
        }
}

/* spec.onExit: its Task template (checked here, its expressions with the
 * steps') or NULL. */
static const json_t *check_on_exit(struct check *c, const json_t *spec, const char *parent,
                                   bool workspace, bool *ret_fail_workflow)
{
        static const char *const on_exit_fields[] = {"task", "failWorkflow", NULL};
        const json_t *on_exit = check_object(c, spec, parent, "onExit", false);
        _cleanup_free_ char *path = NULL, *task_path = NULL;
        const json_t *task;

        *ret_fail_workflow = false;
        if (!on_exit)
                return NULL;
        path = check_join(c, parent, "onExit");
        if (!path)
                return NULL;
        check_unknown_fields(c, on_exit, path, on_exit_fields);
        *ret_fail_workflow = check_bool(c, on_exit, path, "failWorkflow", false);
        if (c->object_name && name_is_valid(c->object_name) &&
            strlen(c->object_name) + 1 + strlen(WORKFLOW_EXIT_TASK) > OBJECT_NAME_MAX)
                check_error(c, path,
                            "the exit handler's Task name \"%s-%s\" is longer than %d "
                            "characters",
                            c->object_name, WORKFLOW_EXIT_TASK, OBJECT_NAME_MAX);
        task = check_object(c, on_exit, path, "task", true);
        if (!task)
                return NULL;
        task_path = check_join(c, path, "task");
        if (!task_path)
                return NULL;
        task_check(c, task, task_path, TASK_IN_STEP, NULL);
        if (workspace)
                check_workspace_mounts(c, task, task_path);
        return task;
}

/* ---- the step graph ------------------------------------------------------ */

/* The steps and their dependencies: enough to find cycles and to tell which
 * results a step may read. At most WORKFLOW_STEPS_MAX steps, so a matrix.
 * Also what the checks of each step decoded, handed to the spec at the end. */
struct step_graph {
        const char *steps_path; /* "spec.steps" */
        size_t n;
        bool decode;                           /* allocate what the decoded spec owns (files) */
        bool workspace;                        /* spec.workspace is on: /workspace is taken */
        const char *names[WORKFLOW_STEPS_MAX]; /* NULL when missing or not a string */
        json_t *index;                         /* name → index of its first step */
        bool deps[WORKFLOW_STEPS_MAX][WORKFLOW_STEPS_MAX]; /* [i][j]: step i depends on j */
        /* The same edges as lists, in dependsOn order or in order of first
         * appearance in depends; room for dep_room[i] of them. */
        size_t *dep_list[WORKFLOW_STEPS_MAX];
        size_t n_deps[WORKFLOW_STEPS_MAX];
        size_t dep_room[WORKFLOW_STEPS_MAX];
        size_t *dep_storage;
        bool uses_depends[WORKFLOW_STEPS_MAX]; /* the edges come from depends */
        /* An unknown or self dependency, a depends that does not parse, or a
         * cycle: reported already, and reachability would only produce
         * confusing follow-up errors. */
        bool broken;

        /* depth-first search state */
        enum { STEP_UNSEEN, STEP_ON_PATH, STEP_DONE } state[WORKFLOW_STEPS_MAX];
        size_t path[WORKFLOW_STEPS_MAX];
        size_t depth;
        bool cycle_reported[WORKFLOW_STEPS_MAX]; /* at spec.steps[i].dependsOn or .depends */

        /* What each step does: a deploy step or a Task. */
        bool is_deploy[WORKFLOW_STEPS_MAX];
        bool fan_out[WORKFLOW_STEPS_MAX];  /* withItems or withParam (valid or not) */
        json_t *files[WORKFLOW_STEPS_MAX]; /* outputs.files: name → index, or NULL */
        /* The decoded steps but for name, deps and task; depends and files
         * are owned until handed over. */
        struct workflow_step_spec spec[WORKFLOW_STEPS_MAX];
};

static void step_graph_free(struct step_graph *g)
{
        if (!g)
                return;
        for (size_t i = 0; i < g->n; i++) {
                json_decref(g->files[i]);
                cond_free(g->spec[i].depends);
                free(g->spec[i].files);
        }
        json_decref(g->index);
        free(g->dep_storage);
        free(g);
}

static void step_graph_freep(struct step_graph **g)
{
        step_graph_free(*g);
}

/* Room for the edges of one step: its dependsOn entries, or the steps its
 * depends expression can name (at most COND_REFS_MAX, each once). */
static size_t step_dep_room(const json_t *step, size_t n)
{
        size_t room = json_array_size(json_object_get(step, "dependsOn"));

        if (json_is_string(json_object_get(step, "depends")))
                room += n < COND_REFS_MAX ? n : COND_REFS_MAX;
        return room;
}

/* A graph for the steps array: names and edges are filled by the checks. */
static struct step_graph *step_graph_new(const json_t *steps, const char *steps_path, bool decode,
                                         bool workspace)
{
        _cleanup_(step_graph_freep) struct step_graph *g = calloc(1, sizeof(*g));
        size_t edges = 0, i;
        json_t *step;

        if (!g)
                return NULL;
        g->steps_path = steps_path;
        g->n = json_array_size(steps);
        g->decode = decode;
        g->workspace = workspace;
        g->index = json_object();
        json_array_foreach(steps, i, step)
        {
                g->dep_room[i] = step_dep_room(step, g->n);
                edges += g->dep_room[i];
        }
        g->dep_storage = calloc(edges ? edges : 1, sizeof(*g->dep_storage));
        if (!g->index || !g->dep_storage)
                return NULL;
        size_t *next = g->dep_storage;
        for (i = 0; i < g->n; i++) {
                g->dep_list[i] = next;
                next += g->dep_room[i];
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

/* "unknown step \"extrct\", did you mean \"extract\"?" at path. */
static void report_unknown_step(struct check *c, const struct step_graph *g, const char *path,
                                const char *name)
{
        const char *near = step_graph_nearest(g, name);

        if (near)
                check_error(c, path, "unknown step \"%s\", did you mean \"%s\"?", name, near);
        else
                check_error(c, path, "unknown step \"%s\"", name);
}

/* Adds the edge i → j once; false when it was there. */
static bool step_graph_add(struct step_graph *g, size_t i, size_t j)
{
        if (g->deps[i][j] || g->n_deps[i] >= g->dep_room[i])
                return false;
        g->deps[i][j] = true;
        g->dep_list[i][g->n_deps[i]++] = j;
        return true;
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

static bool build_arg_name_valid(const char *s)
{
        if (!*s || !(isalpha((unsigned char)*s) || *s == '_'))
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && *s != '_')
                        return false;
        return true;
}

/* A step's build: which directory of berthd's host, which Dockerfile, which
 * tags and build arguments. The context's place inside a --build-root is
 * berthd's to check (it knows the roots); expressions are checked with the
 * other steps'. */
static void check_build(struct check *c, const json_t *build, const char *path,
                        struct workflow_build *out)
{
        static const char *const build_fields[] = {"context", "dockerfile", "tags", "buildArgs",
                                                   NULL};
        const char *context, *dockerfile;
        const json_t *tags, *args;
        const char *key;
        json_t *value;
        size_t k;

        check_unknown_fields(c, build, path, build_fields);
        context = check_nonempty_string(c, build, path, "context", true);
        if (context && context[0] != '/')
                check_error_key(c, path, "context", "must be an absolute path on berthd's host");
        else if (context && strlen(context) > WORKFLOW_BUILD_PATH_MAX)
                check_error_key(c, path, "context", "must be at most %d characters",
                                WORKFLOW_BUILD_PATH_MAX);
        else if (context && strstr(context, "{{"))
                check_error_key(c, path, "context", "expressions are not allowed here");
        dockerfile = check_nonempty_string(c, build, path, "dockerfile", false);
        if (dockerfile &&
            (dockerfile[0] == '/' || streq(dockerfile, "..") || str_has_prefix(dockerfile, "../") ||
             strstr(dockerfile, "/../") || str_has_suffix(dockerfile, "/..")))
                check_error_key(c, path, "dockerfile",
                                "must be a path inside the context, without \"..\"");
        else if (dockerfile && strlen(dockerfile) > WORKFLOW_BUILD_PATH_MAX)
                check_error_key(c, path, "dockerfile", "must be at most %d characters",
                                WORKFLOW_BUILD_PATH_MAX);
        tags = check_string_array(c, build, path, "tags");
        if (json_array_size(tags) > WORKFLOW_BUILD_TAGS_MAX)
                check_error_key(c, path, "tags", "must have at most %d entries, has %zu",
                                WORKFLOW_BUILD_TAGS_MAX, json_array_size(tags));
        json_array_foreach(tags, k, value)
        {
                const char *tag = json_string_value(value);
                _cleanup_free_ char *field = str_printf("tags[%zu]", k);

                if (!field) {
                        c->r = -ENOMEM;
                        return;
                }
                if (!*tag || strlen(tag) > WORKFLOW_DEPLOY_IMAGE_MAX)
                        check_error_key(c, path, field, "must be 1 to %d characters",
                                        WORKFLOW_DEPLOY_IMAGE_MAX);
                else if (space_outside_expressions(tag))
                        check_error_key(c, path, field, "must not contain whitespace");
        }
        args = check_object(c, build, path, "buildArgs", false);
        if (json_object_size(args) > WORKFLOW_BUILD_ARGS_MAX)
                check_error_key(c, path, "buildArgs", "must have at most %d entries, has %zu",
                                WORKFLOW_BUILD_ARGS_MAX, json_object_size(args));
        json_object_foreach((json_t *)args, key, value)
        {
                _cleanup_free_ char *args_path = check_join(c, path, "buildArgs");

                if (!args_path)
                        return;
                if (!build_arg_name_valid(key))
                        check_error_key(c, args_path, key,
                                        "invalid build argument name: must match "
                                        "[A-Za-z_][A-Za-z0-9_]*");
                else
                        (void)check_quoted_string(c, args, args_path, key, true);
        }
        *out = (struct workflow_build){
            .context = context,
            .dockerfile = dockerfile ? dockerfile : "Dockerfile",
            .tags = tags,
            .build_args = args,
        };
}

int workflow_build_template_foreach(const json_t *build, task_template_fn fn, void *userdata)
{
        char field[300];
        const char *key;
        json_t *value;
        size_t k;
        int r;

        json_array_foreach(json_object_get(build, "tags"), k, value)
        {
                snprintf(field, sizeof(field), "tags[%zu]", k);
                if (json_is_string(value) && (r = fn(value, field, NULL, userdata)) < 0)
                        return r;
        }
        json_object_foreach(json_object_get(build, "buildArgs"), key, value)
        {
                snprintf(field, sizeof(field), "buildArgs.%s", key);
                if (json_is_string(value) && (r = fn(value, field, NULL, userdata)) < 0)
                        return r;
        }
        return 0;
}

const char *workflow_step_type_field(enum workflow_step_type t)
{
        switch (t) {
        case WORKFLOW_STEP_DEPLOY:
                return "deploy";
        case WORKFLOW_STEP_BUILD:
                return "build";
        case WORKFLOW_STEP_TASK:
                break;
        }
        return "task";
}

/* ---- step fields ---------------------------------------------------------- */

/* The syntax of a when expression, checked before templating: every {{...}}
 * stands for a word of as many 'x' as it has characters, so that a column in
 * the message is one of the text as written. A template whose value holds
 * spaces, quotes or operators can still make the expression fail when the
 * step is about to start (docs/reference/workflow.md: quote it). An
 * unterminated "{{" is the template check's to report. */
static void check_when_syntax(struct check *c, const char *text, const char *path)
{
        _cleanup_free_ char *s = strdup(text);
        struct cond *cond = NULL;
        char msg[256] = "";
        int r;

        if (!s) {
                c->r = -ENOMEM;
                return;
        }
        for (char *p = s; (p = strstr(p, "{{"));) {
                char *close = strstr(p + 2, "}}");

                if (!close)
                        return;
                memset(p, 'x', (size_t)(close + 2 - p));
                p = close + 2;
        }
        r = cond_parse(s, COND_WHEN, &cond, msg, sizeof(msg));
        cond_free(cond);
        if (r == -ENOMEM)
                c->r = r;
        else if (r < 0)
                check_error(c, path, "%s", msg);
}

/* steps[].when: the text (its templates are checked with the others'). */
static const char *check_when(struct check *c, const json_t *step, const char *path)
{
        const char *when = check_string(c, step, path, "when", false);
        _cleanup_free_ char *when_path = NULL;

        if (!when)
                return NULL;
        when_path = check_join(c, path, "when");
        if (!when_path)
                return NULL;
        if (strlen(when) > COND_TEXT_MAX) {
                check_error(c, when_path, "must be at most %d bytes", COND_TEXT_MAX);
                return NULL;
        }
        check_when_syntax(c, when, when_path);
        return when;
}

static bool check_continue_on(struct check *c, const json_t *step, const char *path)
{
        static const char *const continue_on_fields[] = {"failed", NULL};
        const json_t *obj = check_object(c, step, path, "continueOn", false);
        _cleanup_free_ char *obj_path = NULL;

        if (!obj)
                return false;
        obj_path = check_join(c, path, "continueOn");
        if (!obj_path)
                return false;
        check_unknown_fields(c, obj, obj_path, continue_on_fields);
        return check_bool(c, obj, obj_path, "failed", false);
}

/* withItems: at most WORKFLOW_ITEMS_MAX scalars or objects; NULL when absent
 * or wrong (reported). */
static const json_t *check_with_items(struct check *c, const json_t *step, const char *path)
{
        const json_t *items = check_array(c, step, path, "withItems");
        _cleanup_free_ char *items_path = NULL;
        bool ok = true;
        size_t k;
        json_t *item;

        if (!items)
                return NULL;
        items_path = check_join(c, path, "withItems");
        if (!items_path)
                return NULL;
        if (json_array_size(items) > WORKFLOW_ITEMS_MAX) {
                check_error(c, items_path, "%zu items, at most %d", json_array_size(items),
                            WORKFLOW_ITEMS_MAX);
                return NULL;
        }
        json_array_foreach(items, k, item)
        {
                _cleanup_free_ char *item_path = NULL;

                if (json_is_string(item) || json_is_number(item) || json_is_boolean(item) ||
                    json_is_object(item))
                        continue;
                item_path = check_index(c, items_path, k);
                if (!item_path)
                        return NULL;
                check_error(c, item_path, "must be a string, number, boolean or object");
                ok = false;
        }
        return ok ? items : NULL;
}

/* withParam's one expression, "{{steps.<step>.outputs.result}}" with
 * optional spaces inside the braces: false when s is not that. */
static bool with_param_ref(const char *s, struct workflow_ref *ret)
{
        size_t len = strlen(s);
        const char *start, *end;
        char expr[EXPR_MAX_LEN + 1], msg[256];

        if (len < 4 || !str_has_prefix(s, "{{") || !str_has_suffix(s, "}}"))
                return false;
        start = s + 2;
        end = s + len - 2;
        while (start < end && (*start == ' ' || *start == '\t'))
                start++;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
        if (start == end || (size_t)(end - start) > EXPR_MAX_LEN)
                return false;
        for (const char *p = start; p < end; p++)
                if (!ascii_alnum(*p) && *p != '.' && *p != '_' && *p != '-')
                        return false;
        memcpy(expr, start, (size_t)(end - start));
        expr[end - start] = '\0';
        return workflow_ref_parse(expr, ret, msg, sizeof(msg)) == 0 &&
               ret->type == WORKFLOW_REF_STEP_RESULT;
}

/* steps[].retryStrategy: the object when present and valid, else NULL. */
static const json_t *check_retry_strategy(struct check *c, const json_t *step, const char *path,
                                          const char *other)
{
        static const char *const rs_fields[] = {"limit", "backoff", "retryOn", "exitCodes", NULL};
        static const char *const backoff_fields[] = {"initialSeconds", "factor", "maxSeconds",
                                                     NULL};
        const json_t *rs = check_object(c, step, path, "retryStrategy", false);
        _cleanup_free_ char *rs_path = NULL, *backoff_path = NULL;
        size_t errors = c->errs.n;
        const json_t *backoff;
        bool retries_error;

        if (!rs)
                return NULL;
        rs_path = check_join(c, path, "retryStrategy");
        if (!rs_path)
                return NULL;
        if (other) {
                check_error(c, rs_path, "only in a task step: a %s step is not retried", other);
                return NULL;
        }
        check_unknown_fields(c, rs, rs_path, rs_fields);
        if (check_field(c, rs, rs_path, "limit", true))
                (void)check_int(c, rs, rs_path, "limit", 0, 1000, 0);
        backoff = check_object(c, rs, rs_path, "backoff", false);
        if (backoff && (backoff_path = check_join(c, rs_path, "backoff"))) {
                check_unknown_fields(c, backoff, backoff_path, backoff_fields);
                (void)check_int(c, backoff, backoff_path, "initialSeconds", 0, SECONDS_PER_DAY, 0);
                (void)check_number(c, backoff, backoff_path, "factor", 1, 10, 1);
                (void)check_int(c, backoff, backoff_path, "maxSeconds", 1, SECONDS_PER_DAY, 1);
        }
        /* As a Task's retryOn and retryExitCodes: the step's rule becomes its Task's. */
        retries_error = check_retry_on(c, rs, rs_path, "retryOn") & RETRY_ON_ERROR;
        check_retry_exit_codes(c, rs, rs_path, "exitCodes", NULL);
        if (check_object(c, rs, rs_path, "exitCodes", false) && !retries_error)
                check_error_key(c, rs_path, "exitCodes",
                                "needs Error in retryOn: the codes are those of attempts that "
                                "exited non-zero");
        return c->errs.n == errors ? rs : NULL;
}

/* [A-Za-z0-9_-]+, at most OUTPUT_NAME_MAX: one segment of
 * {{steps.<step>.outputs.files.<name>}} and of `berth cp`'s path. */
static bool output_name_valid(const char *s)
{
        size_t len = strlen(s);

        if (len == 0 || len > OUTPUT_NAME_MAX)
                return false;
        for (; *s; s++)
                if (!ascii_alnum(*s) && *s != '_' && *s != '-')
                        return false;
        return true;
}

/* steps[].outputs.files → g->files[i] (every declared name, so that a bad
 * one is reported once) and, when decoding, g->spec[i].files. */
static void check_outputs(struct check *c, const json_t *step, const char *path, size_t i,
                          struct step_graph *g, const char *other)
{
        static const char *const outputs_fields[] = {"files", "result", NULL};
        static const char *const file_fields[] = {"name", "path", NULL};
        const json_t *outputs = check_object(c, step, path, "outputs", false);
        _cleanup_free_ char *outputs_path = NULL, *files_path = NULL;
        _cleanup_json_ json_t *seen = NULL; /* name → first index */
        const json_t *arr;
        size_t k;
        json_t *item;

        if (!outputs)
                return;
        outputs_path = check_join(c, path, "outputs");
        if (!outputs_path)
                return;
        if (other) {
                check_error(c, outputs_path,
                            "only in a task step: a %s step's result is the image it %s", other,
                            streq(other, "build") ? "built" : "deployed");
                return;
        }
        check_unknown_fields(c, outputs, outputs_path, outputs_fields);
        if (check_field(c, outputs, outputs_path, "result", false))
                check_error_key(c, outputs_path, "result",
                                "not a field: a step's result is always its standard output");
        arr = check_list(c, outputs, outputs_path, "files", &files_path, &seen);
        if (!arr)
                return;
        if (json_array_size(arr) > WORKFLOW_FILES_MAX)
                check_error(c, files_path, "must have at most %d entries, has %zu",
                            WORKFLOW_FILES_MAX, json_array_size(arr));
        if (g->decode && json_array_size(arr) > 0) {
                g->spec[i].files = calloc(json_array_size(arr), sizeof(*g->spec[i].files));
                if (!g->spec[i].files) {
                        c->r = -ENOMEM;
                        return;
                }
        }
        json_array_foreach(arr, k, item)
        {
                _cleanup_free_ char *item_path = check_index(c, files_path, k);
                const char *name, *file;

                if (!item_path)
                        return;
                if (!check_entry(c, item, item_path, file_fields))
                        continue;
                name = check_string(c, item, item_path, "name", true);
                file = check_nonempty_string(c, item, item_path, "path", true);
                if (file && file[0] != '/')
                        check_error_key(c, item_path, "path", "must be an absolute path");
                else if (file && strlen(file) > OUTPUT_PATH_MAX)
                        check_error_key(c, item_path, "path", "must be at most %d characters",
                                        OUTPUT_PATH_MAX);
                if (!name)
                        continue;
                if (!output_name_valid(name))
                        check_error_key(c, item_path, "name",
                                        "invalid name \"%s\": must be 1 to %d letters, digits, "
                                        "'_' or '-'",
                                        name, OUTPUT_NAME_MAX);
                if (check_unique(c, seen, name, k, files_path, item_path, "name", "name") &&
                    g->spec[i].files && file)
                        g->spec[i].files[g->spec[i].n_files++] =
                            (struct workflow_output_file){name, file};
        }
        g->files[i] = TAKE_PTR(seen);
}

/* withItems or withParam: g->spec[i].with_items or .with_param when valid
 * (withParam's step is resolved once the graph is known). */
static void check_fan_out(struct check *c, const json_t *step, const char *path, size_t i,
                          struct step_graph *g, const char *other)
{
        bool has_items = check_field(c, step, path, "withItems", false) != NULL;
        bool has_param = check_field(c, step, path, "withParam", false) != NULL;
        const char *param = has_param ? check_string(c, step, path, "withParam", false) : NULL;
        struct workflow_ref ref;

        if (!has_items && !has_param)
                return;
        if (other) {
                check_error_key(c, path, has_items ? "withItems" : "withParam",
                                "only in a task step: a %s step cannot fan out", other);
                return;
        }
        if (has_items && has_param) {
                check_error(c, path, "use either withItems or withParam, not both");
                return;
        }
        if (has_items) {
                g->spec[i].with_items = check_with_items(c, step, path);
        } else if (param && !with_param_ref(param, &ref)) {
                check_error_key(c, path, "withParam",
                                "must be one expression \"{{steps.<step>.outputs.result}}\"");
        } else if (param) {
                g->spec[i].with_param = param;
        }
}

/* A step: its fields and its Task or deploy; its name goes into g
 * (dependencies are resolved once every name is known, as a step may depend
 * on a later one). */
static void check_step(struct check *c, const json_t *step, size_t i, struct step_graph *g)
{
        /* "build" (a step that builds an image) is not part of this version:
         * it stays an unknown field. */
        static const char *const step_fields[] = {
            "name",      "dependsOn", "depends",       "when",    "task",       "deploy", "build",
            "withItems", "withParam", "retryStrategy", "outputs", "continueOn", NULL,
        };
        _cleanup_free_ char *path = check_index(c, g->steps_path, i);
        _cleanup_free_ char *task_path = NULL;
        const json_t *task;
        const char *name;
        bool has_task, has_deploy, has_build;
        const char *other; /* the kind of a step that is not a task step, or NULL */

        if (!path)
                return;
        if (!check_entry(c, step, path, step_fields))
                return;
        has_task = check_field(c, step, path, "task", false) != NULL;
        has_deploy = check_field(c, step, path, "deploy", false) != NULL;
        has_build = check_field(c, step, path, "build", false) != NULL;
        other = has_task ? NULL : has_deploy ? "deploy" : has_build ? "build" : NULL;
        g->fan_out[i] = check_field(c, step, path, "withItems", false) ||
                        check_field(c, step, path, "withParam", false);

        name = check_string(c, step, path, "name", true);
        if (name) {
                size_t first = step_graph_find(g, name);
                size_t max = OBJECT_NAME_MAX - (g->fan_out[i] ? FAN_OUT_SUFFIX_MAX : 0);

                g->names[i] = name;
                if (!name_is_valid(name))
                        check_error_key(c, path, "name", "invalid name \"%s\": %s", name,
                                        NAME_RULE);
                else if (streq(name, WORKFLOW_EXIT_TASK))
                        check_error_key(
                            c, path, "name", "reserved: the exit handler's Task is %s-%s",
                            c->object_name ? c->object_name : "<workflow>", WORKFLOW_EXIT_TASK);
                else if (has_task && name_is_valid(c->object_name) &&
                         strlen(c->object_name) + 1 + strlen(name) > max) {
                        if (g->fan_out[i])
                                check_error_key(c, path, "name",
                                                "the step's Task names \"%s-%s-<index>\" can be "
                                                "longer than %d characters (the index goes up "
                                                "to %d)",
                                                c->object_name, name, OBJECT_NAME_MAX,
                                                WORKFLOW_ITEMS_MAX - 1);
                        else
                                check_error_key(c, path, "name",
                                                "the step's Task name \"%s-%s\" is longer than "
                                                "%d characters",
                                                c->object_name, name, OBJECT_NAME_MAX);
                }
                if (first < g->n)
                        check_error_key(c, path, "name",
                                        "duplicate name %s (first at spec.steps[%zu])", name,
                                        first);
                else if (json_object_set_new(g->index, name, json_integer((json_int_t)i)) < 0)
                        c->r = -ENOMEM;
        }

        g->spec[i].when = check_when(c, step, path);
        g->spec[i].continue_on_failed = check_continue_on(c, step, path);
        check_fan_out(c, step, path, i, g, other);
        g->spec[i].retry_strategy = check_retry_strategy(c, step, path, other);
        check_outputs(c, step, path, i, g, other);
        if (!other && json_array_size(json_path(step, "outputs.files")) > 0 &&
            (json_object_get(step, "withItems") || json_object_get(step, "withParam")))
                check_error(c, path,
                            "outputs.files: not in a step with withItems or withParam (its "
                            "result is the JSON array of its items' results)");

        if ((int)has_task + (int)has_deploy + (int)has_build != 1) {
                check_error(c, path, "exactly one of task, deploy or build: found %s",
                            !has_task && !has_deploy && !has_build ? "none"
                            : !has_task                            ? "deploy and build"
                            : has_deploy && has_build              ? "all three"
                            : has_deploy                           ? "task and deploy"
                                                                   : "task and build");
                return;
        }
        if (has_build) {
                const json_t *build = check_object(c, step, path, "build", true);
                _cleanup_free_ char *build_path = build ? check_join(c, path, "build") : NULL;

                g->spec[i].type = WORKFLOW_STEP_BUILD;
                if (build_path)
                        check_build(c, build, build_path, &g->spec[i].build);
                return;
        }
        if (has_deploy) {
                const json_t *deploy = check_object(c, step, path, "deploy", true);
                _cleanup_free_ char *deploy_path = deploy ? check_join(c, path, "deploy") : NULL;

                g->is_deploy[i] = true;
                g->spec[i].type = WORKFLOW_STEP_DEPLOY;
                if (deploy_path)
                        check_deploy(c, deploy, deploy_path, &g->spec[i].deploy);
                return;
        }
        task = check_object(c, step, path, "task", true);
        if (task) {
                task_path = check_join(c, path, "task");
                if (task_path) {
                        task_check(c, task, task_path, TASK_IN_STEP, NULL);
                        if (g->workspace)
                                check_workspace_mounts(c, task, task_path);
                }
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
                        report_unknown_step(c, g, item_path, dep);
                        g->broken = true;
                } else {
                        (void)step_graph_add(g, i, j);
                }
        }
}

/* spec.steps[i].depends → g's edges of step i (each step it names once, in
 * order of first appearance) and the parsed expression. */
static void check_depends(struct check *c, const json_t *step, size_t i, struct step_graph *g)
{
        _cleanup_free_ char *path = check_index(c, g->steps_path, i);
        _cleanup_free_ char *depends_path = NULL;
        struct cond *cond = NULL;
        const char *text;
        char msg[256] = "";
        size_t n_refs;
        int r;

        if (!path || !json_is_object(step) || !check_field(c, step, path, "depends", false))
                return;
        if (check_field(c, step, path, "dependsOn", false)) {
                check_error(c, path, "use either dependsOn or depends, not both");
                g->broken = true;
                return;
        }
        text = check_string(c, step, path, "depends", false);
        depends_path = check_join(c, path, "depends");
        if (!text || !depends_path) {
                g->broken = true;
                return;
        }
        r = cond_parse(text, COND_DEPENDS, &cond, msg, sizeof(msg));
        if (r == -ENOMEM) {
                c->r = r;
                return;
        }
        if (r < 0) {
                check_error(c, depends_path, "%s", msg);
                g->broken = true;
                return;
        }
        g->uses_depends[i] = true;
        g->spec[i].depends = cond;
        n_refs = cond_n_refs(cond);
        for (size_t k = 0; k < n_refs; k++) {
                const char *dep;
                enum step_outcome outcome;
                bool again = false;
                size_t j;

                cond_ref(cond, k, &dep, &outcome);
                /* a name reported already at an earlier appearance */
                for (size_t e = 0; e < k && !again; e++) {
                        const char *earlier;

                        cond_ref(cond, e, &earlier, &outcome);
                        again = streq(earlier, dep);
                }
                if (again)
                        continue;
                j = step_graph_find(g, dep);
                if (g->names[i] && streq(dep, g->names[i])) {
                        check_error(c, depends_path, "a step cannot depend on itself");
                        g->broken = true;
                } else if (j == g->n) {
                        report_unknown_step(c, g, depends_path, dep);
                        g->broken = true;
                } else {
                        (void)step_graph_add(g, i, j);
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
        size_t from = 0, len, lowest = 0, first;
        int r = 0;

        while (g->path[from] != v)
                from++;
        len = g->depth - from;
        for (size_t k = 1; k < len; k++)
                if (g->path[from + k] < g->path[from + lowest])
                        lowest = k;
        g->broken = true;
        first = g->path[from + lowest];
        if (g->cycle_reported[first])
                return;
        g->cycle_reported[first] = true;

        buf_init(&b, SIZE_MAX / 2);
        for (size_t k = 0; k <= len && r == 0; k++)
                r = buf_printf(&b, "%s%s", k ? " -> " : "",
                               g->names[g->path[from + (lowest + k) % len]]);
        path = str_printf("%s[%zu].%s", g->steps_path, first,
                          g->uses_depends[first] ? "depends" : "dependsOn");
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

/* What the expressions of one step (or of spec.onExit) may name. */
struct expr_scope {
        struct check *c;
        const json_t *parameters; /* name → index */
        const struct step_graph *g;
        size_t step;         /* not with exit_handler */
        bool exit_handler;   /* spec.onExit: every step has ended, workflow.status is known */
        bool fan_out;        /* withItems or withParam: {{item}} */
        bool in_when;        /* checking when: evaluated once per step, before any item */
        const json_t *items; /* withItems, when valid: {{item.<field>}} must be in each */
        const char *parent;  /* "spec.steps[3].task", "spec.steps[3].deploy" */
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

/* Whether step j has ended before the scope's expressions are expanded;
 * msg says why not. */
static bool expr_scope_reaches(struct expr_scope *scope, size_t j, const char *name, char *msg,
                               size_t msg_size)
{
        const struct step_graph *g = scope->g;

        if (scope->exit_handler)
                return true;
        if (!scope->reachable_known)
                expr_scope_reach(scope);
        if (scope->reachable[j])
                return true;
        if (g->names[scope->step])
                snprintf(msg, msg_size, "step \"%s\" is not a dependency of step \"%s\"", name,
                         g->names[scope->step]);
        else
                snprintf(msg, msg_size, "step \"%s\" is not a dependency", name);
        return false;
}

/* {{item.<field>}} over withItems: the dotted field is in every item. */
static bool items_have_field(const json_t *items, const char *field, char *msg, size_t msg_size)
{
        size_t k;
        json_t *item;

        json_array_foreach(items, k, item)
        {
                const json_t *v = item;
                const char *p = field;

                if (!json_is_object(item)) {
                        snprintf(msg, msg_size, "withItems[%zu] is not an object", k);
                        return false;
                }
                while (v) {
                        const char *dot = strchr(p, '.');
                        size_t n = dot ? (size_t)(dot - p) : strlen(p);
                        char key[EXPR_MAX_LEN + 1];

                        /* never longer: field is a part of one expression */
                        if (n >= sizeof(key))
                                n = sizeof(key) - 1;
                        memcpy(key, p, n);
                        key[n] = '\0';
                        v = json_is_object(v) ? json_object_get(v, key) : NULL;
                        if (!dot)
                                break;
                        p = dot + 1;
                }
                if (!v) {
                        snprintf(msg, msg_size, "withItems[%zu] has no field \"%s\"", k, field);
                        return false;
                }
        }
        return true;
}

/* Validation knows names, not values: every known expression expands to "". */
static int validation_resolve(const char *expr, const char **ret_value, char *msg, size_t msg_size,
                              void *userdata)
{
        struct expr_scope *scope = userdata;
        const struct step_graph *g = scope->g;
        struct workflow_ref ref;
        size_t j;
        int r = workflow_ref_parse(expr, &ref, msg, msg_size);

        if (r < 0)
                return r;
        switch (ref.type) {
        case WORKFLOW_REF_PARAMETER:
                if (!json_object_get(scope->parameters, ref.name)) {
                        snprintf(msg, msg_size, "unknown parameter \"%s\"", ref.name);
                        return -ENOENT;
                }
                break;
        case WORKFLOW_REF_STEP_RESULT:
        case WORKFLOW_REF_STEP_FILE:
                j = step_graph_find(g, ref.name);
                if (j == g->n) {
                        snprintf(msg, msg_size, "unknown step \"%s\"", ref.name);
                        return -ENOENT;
                }
                if (!expr_scope_reaches(scope, j, ref.name, msg, msg_size))
                        return -ENOENT;
                if (ref.type == WORKFLOW_REF_STEP_FILE &&
                    !json_object_get(g->files[j], ref.field)) {
                        snprintf(msg, msg_size, "step \"%s\" has no output file \"%s\"", ref.name,
                                 ref.field);
                        return -ENOENT;
                }
                break;
        case WORKFLOW_REF_STATUS:
        case WORKFLOW_REF_FAILURES:
                if (!scope->exit_handler) {
                        snprintf(msg, msg_size, "only in spec.onExit");
                        return -ENOENT;
                }
                break;
        case WORKFLOW_REF_ITEM:
                if (scope->in_when) {
                        snprintf(msg, msg_size,
                                 "not in when: it is evaluated once for the whole step, before "
                                 "any item runs");
                        return -ENOENT;
                }
                if (!scope->fan_out) {
                        snprintf(msg, msg_size, "only in a step with withItems or withParam");
                        return -ENOENT;
                }
                /* withParam's items are known when the step starts only */
                if (ref.field[0] && scope->items &&
                    !items_have_field(scope->items, ref.field, msg, msg_size))
                        return -ENOENT;
                break;
        case WORKFLOW_REF_NAME:
        case WORKFLOW_REF_NAMESPACE:
        case WORKFLOW_REF_UID:
                break;
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

/* withParam's step: known and a dependency of step i. */
static void check_with_param_step(struct check *c, const char *param, const char *path,
                                  struct expr_scope *scope, size_t *ret_step)
{
        _cleanup_free_ char *param_path = check_join(c, path, "withParam");
        const struct step_graph *g = scope->g;
        struct workflow_ref ref;
        char msg[512];
        size_t j;

        if (!param_path || !with_param_ref(param, &ref))
                return;
        j = step_graph_find(g, ref.name);
        if (j == g->n) {
                report_unknown_step(c, g, param_path, ref.name);
                return;
        }
        if (!expr_scope_reaches(scope, j, ref.name, msg, sizeof(msg))) {
                check_error(c, param_path, "%s", msg);
                return;
        }
        *ret_step = j;
}

/* The expressions of step i: its Task's (or its deploy's image), its when
 * and its withParam. */
static void check_step_expressions(struct check *c, const json_t *step, size_t i,
                                   struct step_graph *g, const json_t *parameters)
{
        _cleanup_free_ char *path = check_index(c, g->steps_path, i);
        _cleanup_free_ char *what_path = NULL;
        struct expr_scope scope = {
            .c = c,
            .parameters = parameters,
            .g = g,
            .step = i,
            .fan_out = g->fan_out[i],
            .items = g->spec[i].with_items,
        };
        const json_t *image = json_path(step, "deploy.image");

        if (!path)
                return;
        what_path = str_printf("%s.%s", path, workflow_step_type_field(g->spec[i].type));
        if (!what_path) {
                c->r = -ENOMEM;
                return;
        }
        scope.parent = what_path;
        switch (g->spec[i].type) {
        case WORKFLOW_STEP_TASK:
                (void)task_template_foreach(json_object_get(step, "task"), check_template, &scope);
                break;
        case WORKFLOW_STEP_DEPLOY:
                if (json_is_string(image))
                        (void)check_expressions(c, image, what_path, "image", validation_resolve,
                                                &scope);
                break;
        case WORKFLOW_STEP_BUILD:
                (void)workflow_build_template_foreach(json_object_get(step, "build"),
                                                      check_template, &scope);
                break;
        }
        if (g->spec[i].when) {
                scope.in_when = true;
                (void)check_expressions(c, json_object_get(step, "when"), path, "when",
                                        validation_resolve, &scope);
                scope.in_when = false;
        }
        if (g->spec[i].with_param)
                check_with_param_step(c, g->spec[i].with_param, path, &scope,
                                      &g->spec[i].with_param_step);
}

static void check_steps(struct check *c, const json_t *spec, const char *parent,
                        const json_t *parameters, const json_t *exit_task, bool workspace,
                        struct workflow_spec *out)
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

        g = step_graph_new(steps, steps_path, out != NULL, workspace);
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
                check_depends(c, step, i, g);
        }
        for (i = 0; i < n; i++)
                if (g->state[i] == STEP_UNSEEN)
                        find_cycles(c, g, i);
        if (g->broken)
                return;

        json_array_foreach(steps, i, step)
        {
                check_step_expressions(c, step, i, g, parameters);
        }
        if (exit_task) {
                _cleanup_free_ char *exit_path = check_join(c, parent, "onExit.task");
                struct expr_scope scope = {
                    .c = c,
                    .parameters = parameters,
                    .g = g,
                    .exit_handler = true,
                    .parent = exit_path,
                };

                if (!exit_path)
                        return;
                (void)task_template_foreach(exit_task, check_template, &scope);
        }

        if (!out)
                return;
        out->steps = calloc(n + (exit_task ? 1 : 0), sizeof(*out->steps));
        if (!out->steps) {
                c->r = -ENOMEM;
                return;
        }
        out->deps = TAKE_PTR(g->dep_storage);
        out->n_steps = n;
        json_array_foreach(steps, i, step)
        {
                struct workflow_step_spec *s = &out->steps[i];

                *s = g->spec[i];
                g->spec[i].depends = NULL;
                g->spec[i].files = NULL;
                s->name = g->names[i];
                s->deps = g->dep_list[i];
                s->n_deps = g->n_deps[i];
                s->task = s->type == WORKFLOW_STEP_TASK ? json_object_get(step, "task") : NULL;
        }
        if (exit_task) {
                out->steps[n] = (struct workflow_step_spec){
                    .name = WORKFLOW_EXIT_STEP,
                    .task = exit_task,
                    .exit_handler = true,
                };
                out->on_exit = &out->steps[n];
        }
}

void workflow_check_at(struct check *c, const json_t *spec, const char *parent,
                       struct workflow_spec *ret)
{
        static const char *const shutdown_values[] = {"Stop", NULL};
        _cleanup_json_ json_t *parameters = json_object();
        struct workflow_spec out = {0};
        const json_t *exit_task;

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
        out.active_deadline_ms =
            check_int(c, spec, parent, "activeDeadlineSeconds", 1, SECONDS_PER_YEAR, 0) * 1000;
        out.shutdown = check_enum(c, spec, parent, "shutdown", shutdown_values, -1) == 0;
        out.workspace = check_workspace(c, spec, parent, &out.workspace_keep);
        exit_task = check_on_exit(c, spec, parent, out.workspace, &out.on_exit_fail_workflow);
        check_steps(c, spec, parent, parameters, exit_task, out.workspace, ret ? &out : NULL);
        if (ret)
                *ret = out;
}

void workflow_spec_release(struct workflow_spec *spec)
{
        if (!spec)
                return;
        for (size_t i = 0; spec->steps && i < spec->n_steps + (spec->on_exit ? 1 : 0); i++) {
                cond_free(spec->steps[i].depends);
                free(spec->steps[i].files);
        }
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

/* retryStrategy gets no defaults: what it leaves out is removed from the
 * step's Task (workflow_apply_retry_strategy), so the Task's defaults apply. */
void workflow_defaults(json_t *spec)
{
        json_t *on_exit = json_object_get(spec, "onExit");
        json_t *workspace = json_object_get(spec, "workspace");
        size_t i;
        json_t *step;

        json_set_default(spec, "failFast", json_true());
        json_set_default(spec, "parallelism", json_integer(0));
        if (json_is_object(workspace))
                json_set_default(workspace, "keep", json_false());
        if (json_is_object(on_exit))
                json_set_default(on_exit, "failWorkflow", json_false());
        /* A step's task stays as written: the Task made from it gets the
         * Task defaults. Hundreds of steps would otherwise carry them all. */
        json_array_foreach(json_object_get(spec, "steps"), i, step)
        {
                json_t *deploy = json_object_get(step, "deploy");
                json_t *continue_on = json_object_get(step, "continueOn");

                if (json_is_object(deploy))
                        json_set_default(deploy, "wait", json_true());
                if (json_is_object(continue_on))
                        json_set_default(continue_on, "failed", json_false());
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
