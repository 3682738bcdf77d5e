/* berth trigger | suspend | resume crontask/NAME: what a user asks of a
 * CronTask besides its schedule. Each is a compare-and-swap replace of the
 * object (cli_change_object: GET, change, PUT with its resourceVersion,
 * retried on a conflict): suspend and resume set spec.suspend; trigger sets
 * the annotation berth/trigger to now, and berthd creates the run (the
 * controller alone decides about runs, so concurrencyPolicy still applies). */
#include "cli-internal.h"

/* The command line: its options and one CronTask. */
static int parse_target(struct cli_ctx *ctx, const struct cli_command *cmd,
                        const struct cli_option *opts, int argc, char **argv, const char **ret_name)
{
        return cli_parse_one_target(ctx, cmd, opts, argc, argv, kind_by_name("CronTask"), ret_name);
}

/* The change as an exit code (what failed is printed). */
static int change(struct cli_ctx *ctx, const char *name, cli_change_fn fn, void *userdata)
{
        return cli_change_object(ctx, kind_by_name("CronTask"), name, fn, userdata) < 0
                   ? CLI_EXIT_FAIL
                   : CLI_EXIT_OK;
}

static int set_suspend(json_t *o, void *userdata)
{
        bool suspend = *(const bool *)userdata;

        return json_path_set_new(o, "spec.suspend", json_boolean(suspend));
}

struct trigger {
        char at[RFC3339_MAX];
        bool force;
};

static int set_trigger(json_t *o, void *userdata)
{
        const struct trigger *t = userdata;
        json_t *meta = json_object_get(o, "metadata");
        json_t *ann = json_object_get(meta, "annotations");

        if (!json_is_object(ann)) {
                ann = json_object();
                if (!ann || json_object_set_new(meta, "annotations", ann) < 0)
                        return -ENOMEM;
        }
        if (json_object_set_new(ann, CRONTASK_ANNOTATION_RUN, json_string(t->at)) < 0)
                return -ENOMEM;
        if (t->force)
                return json_object_set_new(ann, CRONTASK_ANNOTATION_FORCE, json_string("true")) < 0
                           ? -ENOMEM
                           : 0;
        json_object_del(ann, CRONTASK_ANNOTATION_FORCE);
        return 0;
}

int cmd_trigger(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        struct trigger t = {0};
        const struct cli_option opts[] = {
            {"force", 0, CLI_OPT_BOOL, NULL, "run even when concurrencyPolicy would not", &t.force},
            {0},
        };
        const char *name = NULL;
        int r = parse_target(ctx, cmd, opts, argc, argv, &name);

        if (r >= 0)
                return r;
        /* The run is named after the trigger time in whole seconds, as written. */
        int64_t now_s = time_now_ms() / 1000;
        time_format_rfc3339(now_s * 1000, t.at);
        r = change(ctx, name, set_trigger, &t);
        if (r == CLI_EXIT_OK)
                fprintf(ctx->out, "crontask/%s triggered: run %s-manual-%lld\n", name, name,
                        (long long)now_s);
        return r;
}

static int suspend_or_resume(struct cli_ctx *ctx, const struct cli_command *cmd, int argc,
                             char **argv, bool suspend)
{
        const char *name = NULL;
        int r = parse_target(ctx, cmd, NULL, argc, argv, &name);

        if (r >= 0)
                return r;
        r = change(ctx, name, set_suspend, &suspend);
        if (r == CLI_EXIT_OK)
                fprintf(ctx->out, "crontask/%s %s\n", name, suspend ? "suspended" : "resumed");
        return r;
}

int cmd_suspend(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        return suspend_or_resume(ctx, cmd, argc, argv, true);
}

int cmd_resume(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        return suspend_or_resume(ctx, cmd, argc, argv, false);
}
