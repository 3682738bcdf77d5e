/* berth describe: one object in human-readable sections. */
#include "cli-internal.h"

/* A Workflow's step results (GET .../workflows/NAME/results), or NULL when
 * they cannot be had (a berthd without the endpoint answers 404): describe
 * prints the rest anyway. Caller frees with json_decref(). */
static json_t *fetch_results(struct cli_ctx *ctx, const struct kind_info *kind, const char *name)
{
        _cleanup_reply_ struct cli_reply reply = {0};
        _cleanup_free_ char *path = cli_path(kind, ctx->ns, name, "/results");

        if (!path || cli_http(ctx, "GET", path, NULL, NULL, 0, &reply) < 0)
                return NULL;
        if (reply.status < 200 || reply.status >= 300 || !reply.body.data)
                return NULL;
        json_t *results = json_loadb(reply.body.data, reply.body.len, 0, NULL);
        if (!json_is_object(results)) {
                json_decref(results);
                return NULL;
        }
        return results;
}

/* The objects it created (labelled children_label=name), of any kind, as one
 * array; NULL when they cannot be had. Caller frees. */
static json_t *fetch_children(struct cli_ctx *ctx, const struct kind_info *kind, const char *name)
{
        _cleanup_free_ char *selector = str_printf("%s=%s", kind->children_label, name);
        _cleanup_free_ char *escaped = selector ? cli_escape(selector) : NULL;
        _cleanup_free_ char *query = escaped ? str_printf("?labelSelector=%s", escaped) : NULL;
        _cleanup_json_ json_t *all = json_array();

        if (!query || !all)
                return NULL;
        for (const struct kind_info *const *k = kind_all(); *k; k++) {
                _cleanup_reply_ struct cli_reply reply = {0};
                _cleanup_free_ char *path = cli_path(*k, ctx->ns, NULL, query);
                _cleanup_json_ json_t *list = NULL;

                if (!path || cli_http(ctx, "GET", path, NULL, NULL, 0, &reply) < 0)
                        return NULL;
                if (reply.status < 200 || reply.status >= 300 || !reply.body.data)
                        continue;
                list = json_loadb(reply.body.data, reply.body.len, 0, NULL);
                json_array_extend(all, json_object_get(list, "items"));
        }
        return TAKE_PTR(all);
}

/* The items of GET path (a list), appended to all; false when it cannot be
 * had (a 403 for a cluster-wide list, an older berthd). */
static bool list_into(struct cli_ctx *ctx, const char *path, json_t *all)
{
        _cleanup_reply_ struct cli_reply reply = {0};

        if (!path || cli_http(ctx, "GET", path, NULL, NULL, 0, &reply) < 0)
                return false;
        if (reply.status < 200 || reply.status >= 300 || !reply.body.data)
                return false;
        _cleanup_json_ json_t *list = json_loadb(reply.body.data, reply.body.len, 0, NULL);
        json_t *items = json_object_get(list, "items");
        return json_is_array(items) && json_array_extend(all, items) == 0;
}

/* The object's Events, oldest first: those whose involvedObject.uid is its
 * uid, in its namespace ("default" for a cluster-scoped object), selected
 * by berthd (a field selector). NULL when they cannot be had: describe
 * prints the rest anyway. Caller frees. */
static json_t *fetch_events(struct cli_ctx *ctx, const json_t *object)
{
        const char *uid = json_path_string(object, "metadata.uid");
        const char *ns = json_path_string(object, "metadata.namespace");
        _cleanup_free_ char *selector = uid ? str_printf("involvedObject.uid=%s", uid) : NULL;
        _cleanup_free_ char *escaped = selector ? cli_escape(selector) : NULL;
        _cleanup_free_ char *query = escaped ? str_printf("?fieldSelector=%s", escaped) : NULL;
        _cleanup_free_ char *path =
            query ? cli_path(kind_by_name("Event"), ns ? ns : "default", NULL, query) : NULL;
        _cleanup_json_ json_t *items = json_array();

        if (!items || !list_into(ctx, path, items) || cli_events_sort(items) < 0)
                return NULL;
        return TAKE_PTR(items);
}

/* The lists a queued Task's position is computed from (Pending and Running
 * Tasks, Queues), in every namespace, or in the Task's own when the
 * caller may not list them all. */
static bool list_queue_inputs(struct cli_ctx *ctx, const char *ns, json_t *tasks, json_t *queues)
{
        static const char *const phases[] = {"?fieldSelector=status.phase%3DPending",
                                             "?fieldSelector=status.phase%3DRunning"};
        const struct kind_info *task = kind_by_name("Task");

        for (size_t i = 0; i < ARRAY_SIZE(phases); i++) {
                _cleanup_free_ char *path = cli_path(task, ns, NULL, phases[i]);
                if (!list_into(ctx, path, tasks))
                        return false;
        }
        _cleanup_free_ char *path = cli_path(kind_by_name("Queue"), ns, NULL, NULL);
        return list_into(ctx, path, queues);
}

/* A queued Task's place in the queue, computed here from the objects
 * (cli_queue_position): {"position", "queued", "blocked", "scope"}; NULL
 * when it is not queued or the lists cannot be had. Caller frees. */
static json_t *fetch_queue_position(struct cli_ctx *ctx, const json_t *task)
{
        const char *ns = json_path_string(task, "metadata.namespace");
        const char *name = json_path_string(task, "metadata.name");
        const char *scope = "all namespaces";
        struct cli_queue_position pos;

        size_t i;
        const json_t *c;
        bool queued = false;

        json_array_foreach(json_path(task, "status.conditions"), i, c)
        {
                queued = queued || (streq(json_path_string(c, "type"), "Queued") &&
                                    streq(json_path_string(c, "status"), "True"));
        }
        if (!ns || !name || !queued)
                return NULL;
        _cleanup_json_ json_t *tasks = json_array();
        _cleanup_json_ json_t *queues = json_array();
        if (!tasks || !queues)
                return NULL;
        if (!list_queue_inputs(ctx, NULL, tasks, queues)) {
                json_array_clear(tasks);
                json_array_clear(queues);
                scope = "its namespace";
                if (!list_queue_inputs(ctx, ns, tasks, queues))
                        return NULL;
        }
        if (cli_queue_position(tasks, queues, ns, name, &pos) < 0)
                return NULL;
        return json_pack("{s:I, s:I, s:b, s:s}", "position", (json_int_t)pos.position, "queued",
                         (json_int_t)pos.queued, "blocked", pos.blocked, "scope", scope);
}

int cmd_describe(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        _cleanup_free_ char **args = NULL;
        _cleanup_(cli_targets_release) struct cli_targets targets = {0};
        char errbuf[256];
        size_t nargs = 0;
        bool failed = false;
        int r;

        r = cli_parse_args(ctx, cmd, NULL, argc, argv, &args, &nargs);
        if (r != 0)
                return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        if (cli_targets_parse(args, nargs, true, &targets, errbuf, sizeof(errbuf)) < 0)
                return cli_usage_error(ctx, cmd, "%s", errbuf);

        for (size_t i = 0; i < targets.n; i++) {
                _cleanup_json_ json_t *o = NULL;
                _cleanup_json_ json_t *results = NULL;
                _cleanup_json_ json_t *events = NULL;
                const struct cli_target *t = &targets.items[i];

                r = cli_get_object(ctx, t->kind, ctx->ns, t->name, &o);
                if (r == -ENOENT) {
                        fprintf(ctx->err, "Error from server (NotFound): %s \"%s\" not found\n",
                                t->kind->resource, t->name);
                        failed = true;
                        continue;
                }
                if (r < 0) {
                        failed = true;
                        if (r == -EPROTO)
                                continue;
                        break;
                }
                if (i > 0)
                        fputs("\n\n", ctx->out);
                if (kind_has_subresource(t->kind, "results"))
                        results = fetch_results(ctx, t->kind, t->name);
                else if (t->kind->children_label)
                        results = fetch_children(ctx, t->kind, t->name);
                else if (streq(t->kind->kind, "Task"))
                        results = fetch_queue_position(ctx, o);
                events = fetch_events(ctx, o);
                if (cli_describe(ctx->out, t->kind, o, results, events, time_now_ms()) < 0)
                        return cli_fail(ctx, "cannot write output");
        }
        return failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
