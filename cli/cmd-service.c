/* berth scale | rollout status|restart|undo|history: what a user asks of a
 * Service besides apply. The writes are compare-and-swap changes of the object
 * (cli_change_object); the rollout itself is the controller's, which reports
 * it in the status (docs/reference/service.md):
 *
 *   scale            spec.replicas
 *   rollout restart  spec.restartedAt = now (part of the revision: a new one)
 *   rollout undo     spec.template, ports, healthCheck and restartedAt from an
 *                    entry of status.history (the controller then finds that
 *                    revision's hash again and numbers it anew)
 *   rollout status   follows the object (cli_follow_object) until the
 *                    status says the rollout is done or cannot progress
 *   rollout history  status.history as a table, or one revision's spec */
#include <limits.h>

#include "cli-internal.h"

/* The fields of a spec that make up its revision: what undo puts back. */
static const char *const revision_fields[] = {"template", "ports", "healthCheck", "restartedAt"};

/* ---- pure parts ----------------------------------------------------------- */

enum cli_cond_result cli_rollout_eval(const json_t *service, char *msg, size_t msg_size)
{
        const char *name = json_path_string(service, "metadata.name");
        int64_t generation = json_path_int(service, "metadata.generation", 0);
        int64_t observed = json_path_int(service, "status.observedGeneration", 0);
        int64_t want = json_path_int(service, "spec.replicas", 1);
        int64_t replicas = json_path_int(service, "status.replicas", 0);
        int64_t updated = json_path_int(service, "status.updatedReplicas", 0);
        int64_t available = json_path_int(service, "status.availableReplicas", 0);

        msg[0] = '\0';
        if (observed < generation) {
                snprintf(msg, msg_size, "Waiting for rollout: spec update to be observed...");
                return CLI_COND_PENDING;
        }
        /* Observed: the conditions are about this generation. */
        const json_t *progressing = cli_status_condition(service, "Progressing");
        if (streq(json_string_value(json_object_get(progressing, "status")), "False") &&
            streq(json_string_value(json_object_get(progressing, "reason")),
                  "ProgressDeadlineExceeded")) {
                const char *why = json_string_value(json_object_get(progressing, "message"));
                snprintf(msg, msg_size, "service/%s exceeded its progress deadline%s%s",
                         name ? name : "?", why && *why ? ": " : "", why ? why : "");
                return CLI_COND_IMPOSSIBLE;
        }
        if (updated < want)
                snprintf(msg, msg_size,
                         "Waiting for rollout: %lld out of %lld new replicas have been updated...",
                         (long long)updated, (long long)want);
        else if (replicas > updated)
                snprintf(msg, msg_size,
                         "Waiting for rollout: %lld old replicas are pending termination...",
                         (long long)(replicas - updated));
        else if (available < updated)
                snprintf(msg, msg_size,
                         "Waiting for rollout: %lld of %lld updated replicas are available...",
                         (long long)available, (long long)updated);
        else if (replicas > want)
                snprintf(msg, msg_size,
                         "Waiting for rollout: %lld extra replicas are pending termination...",
                         (long long)(replicas - want));
        else if (replicas != want || available != want || updated != want)
                snprintf(msg, msg_size,
                         "Waiting for rollout: %lld of %lld replicas are up to date and "
                         "available...",
                         (long long)(available < updated ? available : updated), (long long)want);
        else if (!streq(json_string_value(json_object_get(progressing, "reason")),
                        "NewRevisionAvailable"))
                /* The controller says done only once no old replica is left,
                 * stopping ones included. */
                snprintf(msg, msg_size,
                         "Waiting for rollout: old replicas are still being stopped...");
        else
                return CLI_COND_MET;
        return CLI_COND_PENDING;
}

static int64_t entry_revision(const json_t *entry)
{
        return json_path_int(entry, "revision", 0);
}

const json_t *cli_service_history_find(const json_t *service, int64_t revision)
{
        int64_t update = json_path_int(service, "status.updateRevision", 0);
        const json_t *best = NULL;
        size_t i;
        json_t *e;

        json_array_foreach(json_path(service, "status.history"), i, e)
        {
                int64_t rev = entry_revision(e);
                if (revision > 0) {
                        if (rev == revision)
                                return e;
                        continue;
                }
                if (rev > 0 && rev < update && (!best || rev > entry_revision(best)))
                        best = e;
        }
        return best;
}

int cli_service_restore(json_t *service, const json_t *entry)
{
        const json_t *from = json_object_get(entry, "spec");
        json_t *spec = json_object_get(service, "spec");

        if (!json_is_object(json_object_get(from, "template")) || !json_is_object(spec))
                return -EINVAL;
        for (size_t i = 0; i < ARRAY_SIZE(revision_fields); i++) {
                json_t *v = json_object_get(from, revision_fields[i]);
                if (!v) {
                        json_object_del(spec, revision_fields[i]);
                        continue;
                }
                json_t *copy = json_deep_copy(v);
                if (!copy || json_object_set_new(spec, revision_fields[i], copy) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* "1, 2, 3" of status.history, or "none". Caller frees. */
static char *revisions_kept(const json_t *service)
{
        _cleanup_buf_ struct buf b = {0};
        size_t i;
        json_t *e;

        buf_init(&b, 64 * 1024);
        json_array_foreach(json_path(service, "status.history"), i, e)
        {
                if (buf_printf(&b, "%s%lld", b.len ? ", " : "", (long long)entry_revision(e)) < 0)
                        break;
        }
        return b.len ? buf_steal(&b) : strdup("none");
}

static int by_revision(const void *a, const void *b)
{
        int64_t x = entry_revision(*(json_t *const *)a);
        int64_t y = entry_revision(*(json_t *const *)b);
        return x < y ? -1 : x > y;
}

int cli_rollout_history_print(FILE *out, const json_t *service)
{
        static const char *const titles[] = {"REVISION", "CREATED", "IMAGE", ""};
        enum { N = ARRAY_SIZE(titles) };
        const json_t *history = json_path(service, "status.history");
        size_t n = json_is_array(history) ? json_array_size(history) : 0;
        int64_t update = json_path_int(service, "status.updateRevision", 0);
        int64_t current = json_path_int(service, "status.currentRevision", update);
        size_t widths[N];
        int r = 0;

        if (n == 0) {
                fprintf(out, "service/%s has no rollout history yet\n",
                        json_path_string(service, "metadata.name") ?: "?");
                return ferror(out) ? -EIO : 0;
        }
        _cleanup_free_ const json_t **sorted = calloc(n, sizeof(*sorted));
        _cleanup_free_ char **cells = calloc(n * N, sizeof(char *));
        if (!sorted || !cells)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                sorted[i] = json_array_get(history, i);
        qsort(sorted, n, sizeof(*sorted), by_revision);
        for (size_t c = 0; c < N; c++)
                widths[c] = strlen(titles[c]);
        for (size_t i = 0; i < n && r == 0; i++) {
                int64_t rev = entry_revision(sorted[i]);
                char **row = cells + i * N;
                const char *mark = rev == current ? "(current)" : rev == update ? "(updating)" : "";

                row[0] = str_printf("%lld", (long long)rev);
                row[1] =
                    cli_one_line(json_string_value(json_object_get(sorted[i], "createdAt")), 0);
                row[2] = cli_one_line(json_path_string(sorted[i], "spec.template.image"), 0);
                row[3] = strdup(mark);
                if (!row[0] || !row[3])
                        r = -ENOMEM;
                for (size_t c = 0; c < N; c++)
                        if (row[c] && strlen(row[c]) > widths[c])
                                widths[c] = strlen(row[c]);
        }
        if (r == 0) {
                cli_emit_row(out, "", titles, N, widths, NULL, false);
                for (size_t i = 0; i < n; i++)
                        cli_emit_row(out, "", (const char *const *)cells + i * N, N, widths, NULL,
                                     false);
        }
        for (size_t i = 0; i < n * N; i++)
                free(cells[i]);
        if (r < 0)
                return r;
        return ferror(out) ? -EIO : 0;
}

/* ---- the command line --------------------------------------------------- */

/* A whole number from min to max. */
static int parse_number(const char *s, long min, long max, long *ret)
{
        char *end;

        if (!s || !*s)
                return -EINVAL;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || *end || v < min || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* Parses the command line: its options and one Service, "service/NAME",
 * "svc/NAME", "service NAME" or NAME (borrowed from argv). -1 to go on;
 * else the exit code (help printed, or an error). */
static int parse_service(struct cli_ctx *ctx, const struct cli_command *cmd,
                         const struct cli_option *opts, int argc, char **argv,
                         const struct kind_info **ret_kind, const char **ret_name)
{
        *ret_kind = kind_lookup("services");
        return cli_parse_one_target(ctx, cmd, opts, argc, argv, *ret_kind, ret_name);
}

/* ---- scale ------------------------------------------------------------------- */

static int set_replicas(json_t *o, void *userdata)
{
        long n = *(const long *)userdata;

        if (json_path_int(o, "spec.replicas", -1) == n)
                return 1;
        return json_path_set_new(o, "spec.replicas", json_integer(n)) < 0 ? -ENOMEM : 0;
}

int cmd_scale(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        const char *replicas = NULL;
        const struct cli_option opts[] = {
            {"replicas", 0, CLI_OPT_STRING, "N", "the number of replicas (0 to 1000)", &replicas},
            {0},
        };
        const struct kind_info *kind = NULL;
        const char *name = NULL;
        long n = 0;
        int r = parse_service(ctx, cmd, opts, argc, argv, &kind, &name);

        if (r >= 0)
                return r;
        if (!replicas)
                return cli_usage_error(ctx, cmd, "--replicas is required");
        if (parse_number(replicas, 0, SERVICE_REPLICAS_MAX, &n) < 0)
                return cli_usage_error(ctx, cmd,
                                       "invalid --replicas \"%s\": want a whole number from 0 "
                                       "to %d",
                                       replicas, SERVICE_REPLICAS_MAX);
        if (cli_change_object(ctx, kind, name, set_replicas, &n) < 0)
                return CLI_EXIT_FAIL;
        fprintf(ctx->out, "service/%s scaled\n", name);
        return CLI_EXIT_OK;
}

/* ---- rollout status ------------------------------------------------------ */

struct rollout_watch {
        struct cli_ctx *ctx;
        char last[256]; /* the progress line printed last: each is printed once */
};

/* cli_rollout_eval, printing each new progress line. */
static enum cli_cond_result rollout_progress(const json_t *object, void *userdata, char *why,
                                             size_t why_size)
{
        struct rollout_watch *w = userdata;
        char msg[256];
        enum cli_cond_result res = cli_rollout_eval(object, msg, sizeof(msg));

        if (res == CLI_COND_PENDING && !streq(msg, w->last)) {
                fprintf(w->ctx->out, "%s\n", msg);
                fflush(w->ctx->out);
                str_copy(w->last, sizeof(w->last), msg);
        }
        if (res == CLI_COND_IMPOSSIBLE)
                str_copy(why, why_size, msg);
        return res;
}

static int rollout_status(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        const char *timeout = NULL;
        const struct cli_option opts[] = {
            {"timeout", 0, CLI_OPT_STRING, "DURATION",
             "give up after this long (default 0: wait as long as it takes)", &timeout},
            {0},
        };
        const struct kind_info *kind = NULL;
        const char *name = NULL;
        struct rollout_watch w = {.ctx = ctx};
        enum cli_follow_outcome outcome = CLI_FOLLOW_NONE;
        int64_t timeout_ms = 0;
        char why[256] = "";
        int r = parse_service(ctx, cmd, opts, argc, argv, &kind, &name);

        if (r >= 0)
                return r;
        if (timeout && (duration_parse(timeout, &timeout_ms) < 0 || timeout_ms < 0))
                return cli_usage_error(
                    ctx, cmd, "invalid --timeout \"%s\": want a duration like 5m", timeout);

        r = cli_follow_object(ctx, kind, ctx->ns, name, rollout_progress, &w,
                              timeout_ms > 0 ? time_mono_ms() + timeout_ms : 0, false, &outcome,
                              why, sizeof(why));
        if (r == -ENOENT) {
                fprintf(ctx->err, "Error from server (NotFound): %s \"%s\" not found\n",
                        kind->resource, name);
                return CLI_EXIT_FAIL;
        }
        if (r == -ETIMEDOUT)
                return cli_fail(ctx, "timed out waiting for the rollout of service/%s", name);
        if (r < 0)
                return CLI_EXIT_FAIL;
        switch (outcome) {
        case CLI_FOLLOW_MET:
                fprintf(ctx->out, "service/%s successfully rolled out\n", name);
                return CLI_EXIT_OK;
        case CLI_FOLLOW_IMPOSSIBLE:
                return cli_fail(ctx, "%s", why);
        case CLI_FOLLOW_DELETED:
                return cli_fail(ctx, "service/%s was deleted while waiting for its rollout", name);
        case CLI_FOLLOW_NONE:
                break;
        }
        return CLI_EXIT_FAIL;
}

/* ---- rollout restart ------------------------------------------------------ */

static int set_restarted_at(json_t *o, void *userdata)
{
        return json_path_set_new(o, "spec.restartedAt", json_string(userdata)) < 0 ? -ENOMEM : 0;
}

static int rollout_restart(struct cli_ctx *ctx, const struct cli_command *cmd, int argc,
                           char **argv)
{
        const struct kind_info *kind = NULL;
        const char *name = NULL;
        char now[RFC3339_MAX];
        int r = parse_service(ctx, cmd, NULL, argc, argv, &kind, &name);

        if (r >= 0)
                return r;
        time_format_rfc3339(time_now_ms(), now);
        if (cli_change_object(ctx, kind, name, set_restarted_at, now) < 0)
                return CLI_EXIT_FAIL;
        fprintf(ctx->out, "service/%s restarted\n", name);
        return CLI_EXIT_OK;
}

/* ---- rollout undo ---------------------------------------------------------- */

struct undo {
        struct cli_ctx *ctx;
        const char *name;
        long to_revision; /* 0: the one before status.updateRevision */
        int64_t done;     /* out: the revision put back */
        bool skipped;     /* out: it is the current one already */
};

static int undo_change(json_t *o, void *userdata)
{
        struct undo *u = userdata;
        const json_t *entry = cli_service_history_find(o, u->to_revision);
        int64_t update = json_path_int(o, "status.updateRevision", 0);
        _cleanup_free_ char *kept = NULL;

        if (!entry) {
                kept = revisions_kept(o);
                if (u->to_revision > 0)
                        cli_fail(u->ctx,
                                 "revision %ld of service/%s is not in its history (revisions "
                                 "kept: %s)",
                                 u->to_revision, u->name, kept ? kept : "?");
                else
                        cli_fail(u->ctx,
                                 "service/%s has no revision before %lld to go back to "
                                 "(revisions kept: %s)",
                                 u->name, (long long)update, kept ? kept : "?");
                return -ENOENT;
        }
        u->done = entry_revision(entry);
        u->skipped = u->done == update;
        if (u->skipped)
                return 1;
        int r = cli_service_restore(o, entry);
        if (r == -EINVAL)
                cli_fail(u->ctx, "revision %lld of service/%s has no spec.template in its history",
                         (long long)u->done, u->name);
        return r;
}

static int rollout_undo(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        const char *to = NULL;
        const struct cli_option opts[] = {
            {"to-revision", 0, CLI_OPT_STRING, "N",
             "the revision to go back to (default: the one before the current)", &to},
            {0},
        };
        const struct kind_info *kind = NULL;
        struct undo u = {.ctx = ctx};
        int r = parse_service(ctx, cmd, opts, argc, argv, &kind, &u.name);

        if (r >= 0)
                return r;
        if (to && parse_number(to, 0, INT_MAX, &u.to_revision) < 0)
                return cli_usage_error(ctx, cmd, "invalid --to-revision \"%s\": want a number >= 1",
                                       to);
        r = cli_change_object(ctx, kind, u.name, undo_change, &u);
        if (r < 0)
                return CLI_EXIT_FAIL;
        if (u.skipped)
                fprintf(ctx->out,
                        "service/%s skipped rollback (revision %lld is the current one)\n", u.name,
                        (long long)u.done);
        else
                fprintf(ctx->out, "service/%s rolled back to revision %lld\n", u.name,
                        (long long)u.done);
        return CLI_EXIT_OK;
}

/* ---- rollout history ---------------------------------------------------- */

static int rollout_history(struct cli_ctx *ctx, const struct cli_command *cmd, int argc,
                           char **argv)
{
        const char *revision = NULL;
        const struct cli_option opts[] = {
            {"revision", 0, CLI_OPT_STRING, "N", "print the spec of this revision as YAML",
             &revision},
            {0},
        };
        const struct kind_info *kind = NULL;
        const char *name = NULL;
        _cleanup_json_ json_t *o = NULL;
        long rev = 0;
        int r = parse_service(ctx, cmd, opts, argc, argv, &kind, &name);

        if (r >= 0)
                return r;
        if (revision && parse_number(revision, 1, INT_MAX, &rev) < 0)
                return cli_usage_error(ctx, cmd, "invalid --revision \"%s\": want a number >= 1",
                                       revision);
        r = cli_get_object(ctx, kind, ctx->ns, name, &o);
        if (r == -ENOENT) {
                fprintf(ctx->err, "Error from server (NotFound): %s \"%s\" not found\n",
                        kind->resource, name);
                return CLI_EXIT_FAIL;
        }
        if (r < 0)
                return CLI_EXIT_FAIL;
        if (rev == 0)
                r = cli_rollout_history_print(ctx->out, o);
        else {
                const json_t *entry = cli_service_history_find(o, rev);
                if (!entry) {
                        _cleanup_free_ char *kept = revisions_kept(o);
                        return cli_fail(ctx,
                                        "revision %ld of service/%s is not in its history "
                                        "(revisions kept: %s)",
                                        rev, name, kept ? kept : "?");
                }
                r = cli_print_yaml(ctx->out, json_object_get(entry, "spec"));
        }
        if (r < 0)
                return cli_fail(ctx, "cannot write output");
        return CLI_EXIT_OK;
}

/* ---- rollout --------------------------------------------------------------- */

static const struct cli_command rollout_commands[] = {
    {"rollout status", "rollout status service/NAME [--timeout DURATION]",
     "Follow a Service's rollout until it is done",
     "Follow a Service's rollout until it is done: print a line each time its\n"
     "progress changes (\"Waiting for rollout: 1 of 2 updated replicas are\n"
     "available...\") and \"service/NAME successfully rolled out\" at the end, when\n"
     "berthd has seen the latest spec and every replica (spec.replicas of them) runs\n"
     "the new revision and is available.\n"
     "\n"
     "Exit status: 0 when rolled out; 1 when the rollout exceeded\n"
     "spec.progressDeadlineSeconds (condition Progressing False,\n"
     "ProgressDeadlineExceeded), on --timeout, or when the Service is deleted.\n"
     "Without --timeout it waits as long as it takes.\n"
     "\n"
     "Examples:\n"
     "  berth rollout status service/web\n"
     "  berth rollout status svc web --timeout 5m",
     rollout_status},
    {"rollout restart", "rollout restart service/NAME", "Replace every replica of a Service",
     "Set spec.restartedAt to now: a new revision, rolled out like any other (one\n"
     "replica after another with RollingUpdate).\n"
     "\n"
     "Example:\n"
     "  berth rollout restart service/web",
     rollout_restart},
    {"rollout undo", "rollout undo service/NAME [--to-revision N]",
     "Go back to an earlier revision of a Service",
     "Put back spec.template, ports, healthCheck and restartedAt as they were in a\n"
     "revision of status.history (`berth rollout history`): by default the one\n"
     "before the current revision. berthd then rolls it out as the newest revision.\n"
     "A revision that is no longer in the history (spec.revisionHistoryLimit) is an\n"
     "error.\n"
     "\n"
     "Examples:\n"
     "  berth rollout undo service/web\n"
     "  berth rollout undo service/web --to-revision 2",
     rollout_undo},
    {"rollout history", "rollout history service/NAME [--revision N]",
     "List the revisions of a Service",
     "List the revisions berthd keeps of a Service (status.history) with their\n"
     "creation time and image; the one its replicas run is marked (current), and\n"
     "during a rollout the one being rolled out (updating). --revision prints that\n"
     "revision's template, ports, healthCheck and restartedAt as YAML.\n"
     "\n"
     "Examples:\n"
     "  berth rollout history service/web\n"
     "  berth rollout history service/web --revision 2",
     rollout_history},
};

static const struct cli_command *rollout_find(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(rollout_commands); i++)
                if (streq(rollout_commands[i].name + strlen("rollout "), name))
                        return &rollout_commands[i];
        return NULL;
}

int cmd_rollout(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        _cleanup_free_ char **args = NULL;
        size_t n = 0;

        if (argc >= 2 && argv[1][0] != '-') {
                const struct cli_command *sub = rollout_find(argv[1]);
                if (sub)
                        return sub->run(ctx, sub, argc - 1, argv + 1);
                return cli_usage_error(ctx, cmd,
                                       "unknown rollout command \"%s\": want status, restart, "
                                       "undo or history",
                                       argv[1]);
        }
        /* Flags first ("rollout -n dev status svc/web"), or help. The
         * subcommand is the first positional argument: move it to the front. */
        int r = cli_parse_args(ctx, cmd, NULL, argc, argv, &args, &n);
        if (r != 0)
                return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        if (n == 0)
                return cli_usage_error(ctx, cmd,
                                       "a rollout command is required: status, restart, undo or "
                                       "history");
        const struct cli_command *sub = rollout_find(args[0]);
        if (!sub)
                return cli_usage_error(ctx, cmd,
                                       "unknown rollout command \"%s\": want status, restart, "
                                       "undo or history",
                                       args[0]);
        _cleanup_free_ char **sub_argv = calloc((size_t)argc + 1, sizeof(char *));
        int k = 0;
        if (!sub_argv)
                return cli_fail(ctx, "out of memory");
        sub_argv[k++] = args[0];
        for (int i = 1; i < argc; i++)
                if (argv[i] != args[0])
                        sub_argv[k++] = argv[i];
        return sub->run(ctx, sub, k, sub_argv);
}
