/* `berth get workflow NAME -o tree`: a Workflow's DAG as a tree of lines.
 * Pure: reads the Workflow, its Tasks and a clock value, writes to a FILE *.
 *
 *   WORKFLOW  etl  Running  2/4  12s
 *   ├─ extract    Succeeded  1s
 *   ├─ transform  Running    3s
 *   │  ├─ transform-0  Succeeded  1s
 *   │  └─ transform-1  Running    2s
 *   └─ load       Pending         ← transform
 *   onExit        Pending
 *
 * Steps come in topological order, spec order among those ready at the same
 * time, so a spec written in order is drawn in order. A step names what it
 * depends on after "← " unless that is only the step on the line right above
 * it. The children of a fanned-out step are the Tasks labelled with its name.
 */
#include "cli-internal.h"

#define TREE_GAP    "  "
#define TREE_BRANCH "├─ "
#define TREE_LAST   "└─ "
#define TREE_PIPE   "│  "
#define TREE_SPACE  "   "
#define TREE_INDENT 3 /* display columns of each of the four above */
#define TREE_ARROW  "← "

struct tree_step {
        const char *name;
        const json_t *status; /* its entry of status.steps, or NULL */
        size_t *deps;         /* indexes into the steps, each once */
        size_t n_deps;
        bool drawn;
};

struct tree {
        struct tree_step *steps;
        size_t n;
};

static void tree_release(struct tree *t)
{
        for (size_t i = 0; i < t->n; i++)
                free(t->steps[i].deps);
        free(t->steps);
        *t = (struct tree){0};
}

static size_t step_index(const struct tree *t, const char *name, size_t len)
{
        for (size_t i = 0; i < t->n; i++)
                if (strlen(t->steps[i].name) == len && strncmp(t->steps[i].name, name, len) == 0)
                        return i;
        return t->n;
}

static void add_dep(struct tree *t, struct tree_step *s, const char *name, size_t len)
{
        size_t k = step_index(t, name, len);

        if (k == t->n || &t->steps[k] == s)
                return;
        for (size_t i = 0; i < s->n_deps; i++)
                if (s->deps[i] == k)
                        return;
        s->deps[s->n_deps++] = k;
}

/* The steps a `depends` expression names (its <step>.<outcome> words); one
 * that does not parse names none (berthd refused it anyway). */
static void add_depends(struct tree *t, struct tree_step *s, const char *expr)
{
        struct cond *c = NULL;

        if (cond_parse(expr, COND_DEPENDS, &c, NULL, 0) < 0)
                return;
        for (size_t i = 0; i < cond_n_refs(c); i++) {
                const char *step;
                enum step_outcome outcome;

                cond_ref(c, i, &step, &outcome);
                add_dep(t, s, step, strlen(step));
        }
        cond_free(c);
}

static const json_t *status_of(const json_t *workflow, const char *name)
{
        size_t i;
        json_t *s;

        json_array_foreach(json_path(workflow, "status.steps"), i, s)
        {
                if (streq(json_string_value(json_object_get(s, "name")), name))
                        return s;
        }
        return NULL;
}

/* The steps of spec.steps (status.steps when the spec has none) with their
 * dependencies. -ENOMEM. */
static int tree_build(const json_t *workflow, struct tree *ret)
{
        const json_t *list = json_path(workflow, "spec.steps");
        struct tree t = {0};
        size_t i;
        json_t *v;

        if (!json_is_array(list) || json_array_size(list) == 0)
                list = json_path(workflow, "status.steps");
        size_t max = json_is_array(list) ? json_array_size(list) : 0;
        if (max == 0) {
                *ret = t;
                return 0;
        }
        t.steps = calloc(max, sizeof(*t.steps));
        if (!t.steps)
                return -ENOMEM;
        json_array_foreach((json_t *)list, i, v)
        {
                const char *name = json_string_value(json_object_get(v, "name"));
                if (name && step_index(&t, name, strlen(name)) == t.n)
                        t.steps[t.n++] = (struct tree_step){.name = name};
        }
        json_array_foreach((json_t *)list, i, v)
        {
                const char *name = json_string_value(json_object_get(v, "name"));
                size_t k = name ? step_index(&t, name, strlen(name)) : t.n;
                if (k == t.n || t.steps[k].deps)
                        continue;
                struct tree_step *s = &t.steps[k];
                s->status = status_of(workflow, name);
                s->deps = calloc(t.n, sizeof(*s->deps));
                if (!s->deps) {
                        tree_release(&t);
                        return -ENOMEM;
                }
                const json_t *depends = json_object_get(v, "depends");
                size_t j;
                json_t *d;
                if (json_is_string(depends))
                        add_depends(&t, s, json_string_value(depends));
                json_array_foreach(json_object_get(v, "dependsOn"), j, d)
                {
                        const char *dep = json_string_value(d);
                        if (dep)
                                add_dep(&t, s, dep, strlen(dep));
                }
        }
        *ret = t;
        return 0;
}

/* The next step to draw: the first in spec order whose dependencies are
 * drawn; on a cycle (which the API refuses) the first not drawn. */
static size_t tree_next(const struct tree *t)
{
        size_t first = t->n;

        for (size_t i = 0; i < t->n; i++) {
                const struct tree_step *s = &t->steps[i];
                bool ready = true;
                if (s->drawn)
                        continue;
                if (first == t->n)
                        first = i;
                for (size_t k = 0; k < s->n_deps && ready; k++)
                        ready = t->steps[s->deps[k]].drawn;
                if (ready)
                        return i;
        }
        return first;
}

static const char *phase_text(const json_t *status)
{
        const char *p = json_string_value(json_object_get(status, "phase"));
        return p && *p ? p : "Pending";
}

/* ---- lines ---------------------------------------------------------------- */

/* One line: indent, then name, phase and duration in columns of the given
 * widths (no duration column when its width is 0), then extra; without
 * trailing blanks. */
static int emit(FILE *out, const char *indent, const char *name, int name_w, const char *phase,
                int phase_w, const char *duration, int duration_w, const char *extra)
{
        _cleanup_buf_ struct buf b = {0};

        buf_init(&b, 64 * 1024);
        if (buf_printf(&b, "%s%-*s" TREE_GAP "%-*s", indent, name_w, name, phase_w, phase) < 0)
                return -ENOMEM;
        if (duration_w > 0 &&
            buf_printf(&b, TREE_GAP "%-*s", duration_w, duration ? duration : "") < 0)
                return -ENOMEM;
        if (extra && *extra && buf_printf(&b, " " TREE_GAP "%s", extra) < 0)
                return -ENOMEM;
        while (b.len > 0 && b.data[b.len - 1] == ' ')
                b.data[--b.len] = '\0';
        fprintf(out, "%s\n", b.data);
        return 0;
}

/* A Task that is a child of the fanned-out step: labelled with the Workflow
 * and the step. */
static bool is_child(const json_t *task, const char *workflow, const char *step)
{
        const json_t *labels = json_path(task, "metadata.labels");

        return streq(json_string_value(json_object_get(labels, WORKFLOW_LABEL)), workflow) &&
               streq(json_string_value(json_object_get(labels, WORKFLOW_STEP_LABEL)), step);
}

/* The index of a child "<workflow>-<step>-<index>", -1 when its name is not
 * of that form. */
static long child_index(const json_t *task)
{
        const char *name = json_path_string(task, "metadata.name");
        const char *dash = name ? strrchr(name, '-') : NULL;
        char *end;

        if (!dash || !dash[1])
                return -1;
        errno = 0;
        long v = strtol(dash + 1, &end, 10);
        return errno || *end || v < 0 ? -1 : v;
}

static int by_child_index(const void *a, const void *b)
{
        const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
        long i = child_index(x), j = child_index(y);

        if (i != j)
                return i < j ? -1 : 1;
        return strcmp(json_path_string(x, "metadata.name") ?: "",
                      json_path_string(y, "metadata.name") ?: "");
}

/* A child's name without the "<workflow>-" every one of them starts with. */
static const char *child_name(const json_t *task, const char *workflow)
{
        const char *name = json_path_string(task, "metadata.name") ?: "?";
        size_t n = strlen(workflow);

        if (strncmp(name, workflow, n) == 0 && name[n] == '-' && name[n + 1])
                return name + n + 1;
        return name;
}

/* One line under a fanned-out step: a child, or a note (task NULL). */
struct child_line {
        const json_t *task;
        char *note; /* owned */
};

/* "95 Succeeded, 3 Running, 2 Failed" of children, in the order phases come
 * in a run. Caller frees. */
static char *phase_counts(const json_t *const *children, size_t n)
{
        static const char *const order[] = {"Succeeded", "Running", "Pending", "Failed"};
        _cleanup_buf_ struct buf b = {0};
        _cleanup_free_ bool *counted = calloc(n ? n : 1, sizeof(bool));

        if (!counted)
                return NULL;
        buf_init(&b, 64 * 1024);
        for (size_t pass = 0; pass <= ARRAY_SIZE(order); pass++) {
                for (size_t i = 0; i < n; i++) {
                        const char *phase = cli_phase_of(children[i]);
                        if (counted[i] || (pass < ARRAY_SIZE(order) && !streq(phase, order[pass])))
                                continue;
                        size_t count = 0;
                        for (size_t k = i; k < n; k++)
                                if (!counted[k] && streq(cli_phase_of(children[k]), phase)) {
                                        counted[k] = true;
                                        count++;
                                }
                        if (buf_printf(&b, "%s%zu %s", b.len ? ", " : "", count, phase) < 0)
                                return NULL;
                }
        }
        return buf_steal(&b);
}

/* The children of a fanned-out step under its line (cont: what continues
 * the tree's left edge, TREE_PIPE or TREE_SPACE). Up to
 * CLI_TREE_CHILDREN_MAX children one a line; more are summed up by phase,
 * followed by those that did not succeed (at most CLI_TREE_CHILDREN_MAX of
 * them). Children the step will still create (status items) are counted.
 * Returns the number of lines drawn, or -ENOMEM. */
static int draw_children(FILE *out, const char *cont, const char *workflow,
                         const struct tree_step *s, const json_t *tasks, int64_t now_ms)
{
        size_t n_tasks = json_is_array(tasks) ? json_array_size(tasks) : 0, n = 0, n_lines = 0;
        _cleanup_free_ const json_t **children = calloc(n_tasks ? n_tasks : 1, sizeof(json_t *));
        _cleanup_free_ struct child_line *lines = calloc(CLI_TREE_CHILDREN_MAX + 3, sizeof(*lines));
        int r = 0;

        if (!children || !lines)
                return -ENOMEM;
        for (size_t i = 0; i < n_tasks; i++) {
                const json_t *task = json_array_get(tasks, i);
                if (is_child(task, workflow, s->name))
                        children[n++] = task;
        }
        if (n > 1)
                qsort(children, n, sizeof(*children), by_child_index);

        if (n <= CLI_TREE_CHILDREN_MAX) {
                for (size_t i = 0; i < n; i++)
                        lines[n_lines++].task = children[i];
        } else {
                _cleanup_free_ char *counts = phase_counts(children, n);
                size_t shown = 0, failing = 0;
                lines[n_lines++].note = str_printf("%zu tasks: %s", n, counts ? counts : "?");
                for (size_t i = 0; i < n; i++) {
                        if (streq(cli_phase_of(children[i]), "Succeeded"))
                                continue;
                        if (shown++ < CLI_TREE_CHILDREN_MAX)
                                lines[n_lines++].task = children[i];
                        else
                                failing++;
                }
                if (failing > 0)
                        lines[n_lines++].note = str_printf("... and %zu more", failing);
        }
        int64_t items = json_integer_value(json_object_get(s->status, "items"));
        if (items > (int64_t)n)
                lines[n_lines++].note =
                    str_printf("%lld more not created yet", (long long)(items - (int64_t)n));

        int name_w = 0, phase_w = 0, dur_w = 0;
        for (size_t i = 0; i < n_lines; i++) {
                if (!lines[i].task)
                        continue;
                _cleanup_free_ char *d = cli_elapsed_text(
                    json_path_string(lines[i].task, "status.startTime"),
                    json_path_string(lines[i].task, "status.completionTime"), now_ms);
                int w = (int)strlen(child_name(lines[i].task, workflow));
                int p = (int)strlen(cli_phase_of(lines[i].task));
                name_w = w > name_w ? w : name_w;
                phase_w = p > phase_w ? p : phase_w;
                if (d && (int)strlen(d) > dur_w)
                        dur_w = (int)strlen(d);
        }
        for (size_t i = 0; i < n_lines && r == 0; i++) {
                _cleanup_free_ char *indent =
                    str_printf("%s%s", cont, i + 1 == n_lines ? TREE_LAST : TREE_BRANCH);
                if (!indent) {
                        r = -ENOMEM;
                        break;
                }
                if (!lines[i].task) {
                        fprintf(out, "%s%s\n", indent, lines[i].note ? lines[i].note : "?");
                        continue;
                }
                _cleanup_free_ char *d = cli_elapsed_text(
                    json_path_string(lines[i].task, "status.startTime"),
                    json_path_string(lines[i].task, "status.completionTime"), now_ms);
                r = emit(out, indent, child_name(lines[i].task, workflow), name_w,
                         cli_phase_of(lines[i].task), phase_w, d, dur_w, NULL);
        }
        for (size_t i = 0; i < n_lines; i++)
                free(lines[i].note);
        return r < 0 ? r : (int)n_lines;
}

static bool fanned_out(const struct tree_step *s)
{
        return json_is_integer(json_object_get(s->status, "items"));
}

/* "← a, b" when the step depends on more than the step on the line right
 * above it (prev, NULL when that line is none or a child's). Caller frees. */
static char *deps_text(const struct tree *t, const struct tree_step *s, const char *prev)
{
        _cleanup_buf_ struct buf b = {0};

        if (s->n_deps == 0 || (s->n_deps == 1 && streq(t->steps[s->deps[0]].name, prev)))
                return strdup("");
        buf_init(&b, 64 * 1024);
        for (size_t k = 0; k < s->n_deps; k++)
                if (buf_printf(&b, "%s%s", k ? ", " : TREE_ARROW, t->steps[s->deps[k]].name) < 0)
                        return NULL;
        return buf_steal(&b);
}

int cli_workflow_tree_print(FILE *out, const json_t *workflow, const json_t *tasks, int64_t now_ms)
{
        static const struct printer_column progress_column = {
            .path = "status.progress", .format = COLUMN_PROGRESS, .until = "spec.steps"};
        const char *name = json_path_string(workflow, "metadata.name") ?: "";
        const json_t *exit_status = json_path(workflow, "status.onExit");
        bool has_exit = json_is_object(exit_status) || json_path(workflow, "spec.onExit");
        _cleanup_(tree_release) struct tree t = {0};
        _cleanup_free_ char *progress = cli_column_text(&progress_column, workflow, now_ms);
        _cleanup_free_ char *total =
            cli_elapsed_text(json_path_string(workflow, "status.startTime"),
                             json_path_string(workflow, "status.completionTime"), now_ms);
        int r = tree_build(workflow, &t);

        if (r < 0)
                return r;
        fprintf(out, "WORKFLOW" TREE_GAP "%s" TREE_GAP "%s", name, cli_phase_of(workflow));
        if (progress && *progress)
                fprintf(out, TREE_GAP "%s", progress);
        if (total)
                fprintf(out, TREE_GAP "%s", total);
        fputc('\n', out);

        /* One set of columns for the steps and onExit: onExit has no branch
         * in front of it, so its name takes the branch's columns too. */
        int name_w = 0, phase_w = 0, dur_w = 0;
        for (size_t i = 0; i <= t.n; i++) {
                const json_t *st = i < t.n ? t.steps[i].status : exit_status;
                if (i == t.n && !has_exit)
                        break;
                _cleanup_free_ char *d =
                    cli_elapsed_text(json_string_value(json_object_get(st, "startTime")),
                                     json_string_value(json_object_get(st, "finishTime")), now_ms);
                int w = i < t.n ? (int)strlen(t.steps[i].name)
                                : (int)strlen(WORKFLOW_EXIT_STEP) - TREE_INDENT;
                int p = (int)strlen(phase_text(st));
                name_w = w > name_w ? w : name_w;
                phase_w = p > phase_w ? p : phase_w;
                if (d && (int)strlen(d) > dur_w)
                        dur_w = (int)strlen(d);
        }

        const char *prev = NULL;
        for (size_t drawn = 0; drawn < t.n && r == 0; drawn++) {
                struct tree_step *s = &t.steps[tree_next(&t)];
                bool last = drawn + 1 == t.n;
                _cleanup_free_ char *d = cli_elapsed_text(
                    json_string_value(json_object_get(s->status, "startTime")),
                    json_string_value(json_object_get(s->status, "finishTime")), now_ms);
                _cleanup_free_ char *deps = deps_text(&t, s, prev);
                if (!deps)
                        return -ENOMEM;
                r = emit(out, last ? TREE_LAST : TREE_BRANCH, s->name, name_w,
                         phase_text(s->status), phase_w, d, dur_w, deps);
                s->drawn = true;
                prev = s->name;
                if (r == 0 && fanned_out(s)) {
                        r = draw_children(out, last ? TREE_SPACE : TREE_PIPE, name, s, tasks,
                                          now_ms);
                        if (r > 0)
                                prev = NULL;
                        r = r < 0 ? r : 0;
                }
        }
        if (r == 0 && has_exit) {
                _cleanup_free_ char *d = cli_elapsed_text(
                    json_string_value(json_object_get(exit_status, "startTime")),
                    json_string_value(json_object_get(exit_status, "finishTime")), now_ms);
                r = emit(out, "", WORKFLOW_EXIT_STEP, name_w + TREE_INDENT, phase_text(exit_status),
                         phase_w, d, dur_w, NULL);
        }
        if (r < 0)
                return r;
        return ferror(out) ? -EIO : 0;
}
