/* berth stop | retry | cp: what a user asks of a run besides its spec.
 *
 *   stop   spec.shutdown: Stop on a Task or a Workflow; the controllers stop
 *          what runs (a Workflow still runs its onExit) and fail it with
 *          reason Stopped
 *   retry  the annotation berth/retry = now on a Failed Workflow, and
 *          spec.shutdown removed, in one write: the controller reruns the
 *          failed and skipped steps and what depends on them, and records
 *          the value in status.retriedFor
 *   cp     one file output of a step, from the Workflow's results endpoint
 *
 * The writes are compare-and-swap changes of the object (cli_change_object):
 * the checks (finished? Failed?) see the object the write replaces. */
#include <ctype.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "cli-internal.h"

#define SHUTDOWN_STOP "Stop"

static bool finished(const char *phase)
{
        return streq(phase, "Succeeded") || streq(phase, "Failed");
}

/* ---- stop ------------------------------------------------------------------ */

struct stop {
        char finished[32]; /* out: the phase it had finished in, or "" */
        bool stopping;     /* out: spec.shutdown was Stop already */
};

static int set_shutdown(json_t *o, void *userdata)
{
        struct stop *st = userdata;
        const char *phase = cli_phase_of(o);

        if (finished(phase)) {
                str_copy(st->finished, sizeof(st->finished), phase);
                return 1;
        }
        if (streq(json_path_string(o, "spec.shutdown"), SHUTDOWN_STOP)) {
                st->stopping = true;
                return 1;
        }
        return json_path_set_new(o, "spec.shutdown", json_string(SHUTDOWN_STOP)) < 0 ? -ENOMEM : 0;
}

int cmd_stop(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        _cleanup_free_ char **args = NULL;
        _cleanup_(cli_targets_release) struct cli_targets targets = {0};
        struct stop st = {0};
        char errbuf[256];
        size_t n = 0;
        int r = cli_parse_args(ctx, cmd, NULL, argc, argv, &args, &n);

        if (r != 0)
                return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        if (n == 0)
                return cli_usage_error(ctx, cmd,
                                       "a task or workflow is required: task/NAME or "
                                       "workflow/NAME");
        if (cli_targets_parse(args, n, true, &targets, errbuf, sizeof(errbuf)) < 0)
                return cli_usage_error(ctx, cmd, "%s", errbuf);
        if (targets.n != 1)
                return cli_usage_error(ctx, cmd, "stop takes exactly one task or workflow");
        const struct kind_info *kind = targets.items[0].kind;
        const char *name = targets.items[0].name;
        if (!streq(kind->kind, "Task") && !streq(kind->kind, "Workflow"))
                return cli_usage_error(ctx, cmd, "stop works on tasks and workflows, not %s",
                                       kind->resource);

        if (cli_change_object(ctx, kind, name, set_shutdown, &st) < 0)
                return CLI_EXIT_FAIL;
        if (st.finished[0])
                fprintf(ctx->out, "%s/%s is already finished (%s)\n", kind->singular, name,
                        st.finished);
        else if (st.stopping)
                fprintf(ctx->out, "%s/%s is already stopping\n", kind->singular, name);
        else
                fprintf(ctx->out, "%s/%s stopping\n", kind->singular, name);
        return CLI_EXIT_OK;
}

/* ---- retry ------------------------------------------------------------------ */

struct retry {
        struct cli_ctx *ctx;
        const char *name;
        char at[RFC3339_MAX];
};

static int set_retry(json_t *o, void *userdata)
{
        struct retry *rt = userdata;
        const char *phase = cli_phase_of(o);
        json_t *meta = json_object_get(o, "metadata");

        if (json_object_get(meta, "deletionTimestamp")) {
                cli_fail(rt->ctx, "workflow/%s is being deleted", rt->name);
                return -EPERM;
        }
        if (!streq(phase, "Failed")) {
                cli_fail(rt->ctx, "workflow/%s is %s: only a Failed workflow can be retried",
                         rt->name, phase);
                return -EPERM;
        }
        json_t *ann = json_object_get(meta, "annotations");
        if (!json_is_object(ann)) {
                ann = json_object();
                if (!ann || json_object_set_new(meta, "annotations", ann) < 0)
                        return -ENOMEM;
        }
        if (json_object_set_new(ann, WORKFLOW_ANNOTATION_RETRY, json_string(rt->at)) < 0)
                return -ENOMEM;
        /* A stopped Workflow would stop its rerun at once. */
        json_object_del(json_object_get(o, "spec"), "shutdown");
        return 0;
}

int cmd_retry(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        bool wait = false;
        const char *timeout = NULL;
        const struct cli_option opts[] = {
            {"wait", 0, CLI_OPT_BOOL, NULL, "follow the workflow until it succeeded or failed",
             &wait},
            {"timeout", 0, CLI_OPT_STRING, "DURATION", "with --wait: give up after this long",
             &timeout},
            {0},
        };
        const struct kind_info *kind = kind_by_name("Workflow");
        struct retry rt = {.ctx = ctx};
        int64_t timeout_ms = 0;
        int r = cli_parse_one_target(ctx, cmd, opts, argc, argv, kind, &rt.name);

        if (r >= 0)
                return r;
        if (timeout && (duration_parse(timeout, &timeout_ms) < 0 || timeout_ms <= 0))
                return cli_usage_error(
                    ctx, cmd, "invalid --timeout \"%s\": want a duration like 90s", timeout);
        if (timeout && !wait)
                return cli_usage_error(ctx, cmd, "--timeout needs --wait");

        time_format_rfc3339_ms(time_now_ms(), rt.at);
        if (cli_change_object(ctx, kind, rt.name, set_retry, &rt) < 0)
                return CLI_EXIT_FAIL;
        fprintf(ctx->out, "workflow/%s retrying\n", rt.name);
        fflush(ctx->out);
        if (!wait)
                return CLI_EXIT_OK;
        return cli_workflow_wait(ctx, ctx->ns, rt.name, rt.at,
                                 timeout_ms > 0 ? time_mono_ms() + timeout_ms : 0);
}

/* ---- cp ----------------------------------------------------------------------- */

#define CP_NAME_MAX 63 /* characters of a step or file name, as berthd takes them */

struct cp_source {
        char name[64];
        char step[CP_NAME_MAX + 1];
        char file[CP_NAME_MAX + 1];
};

static bool cp_name_ok(const char *s, size_t len)
{
        if (len == 0 || len > CP_NAME_MAX)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
                        return false;
        return true;
}

/* "workflow/NAME:STEP/FILE" (any name of the Workflow kind) or
 * "NAME:STEP/FILE". -EINVAL with why. */
static int cp_source_parse(const char *s, struct cp_source *ret, char *why, size_t why_size)
{
        const char *colon = strchr(s, ':');
        const char *slash = strchr(s, '/');
        struct cp_source src = {0};

        if (!colon) {
                snprintf(why, why_size, "no \":\" after the workflow's name");
                return -EINVAL;
        }
        if (slash && slash < colon) {
                char k[64];
                if ((size_t)(slash - s) >= sizeof(k)) {
                        snprintf(why, why_size, "unknown kind");
                        return -EINVAL;
                }
                memcpy(k, s, (size_t)(slash - s));
                k[slash - s] = '\0';
                const struct kind_info *kind = kind_lookup(k);
                if (kind != kind_by_name("Workflow")) {
                        snprintf(why, why_size, "only workflows have files, not %s",
                                 kind ? kind->resource : k);
                        return -EINVAL;
                }
                s = slash + 1;
        }
        size_t n = (size_t)(colon - s);
        if (n == 0 || n >= sizeof(src.name)) {
                snprintf(why, why_size, "invalid workflow name");
                return -EINVAL;
        }
        memcpy(src.name, s, n);
        if (!name_is_valid(src.name)) {
                snprintf(why, why_size, "invalid workflow name \"%s\"", src.name);
                return -EINVAL;
        }
        const char *step = colon + 1;
        const char *sep = strchr(step, '/');
        if (!sep) {
                snprintf(why, why_size, "no \"/\" between the step and the file");
                return -EINVAL;
        }
        if (!cp_name_ok(step, (size_t)(sep - step))) {
                snprintf(why, why_size, "invalid step name \"%.*s\"", (int)(sep - step), step);
                return -EINVAL;
        }
        if (!cp_name_ok(sep + 1, strlen(sep + 1))) {
                snprintf(why, why_size, "invalid file name \"%s\"", sep + 1);
                return -EINVAL;
        }
        memcpy(src.step, step, (size_t)(sep - step));
        str_copy(src.file, sizeof(src.file), sep + 1);
        *ret = src;
        return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

/* Writes data to dest (a file, created or replaced; a directory gets file
 * as the name). The exit code, after saying what failed. */
static int cp_write(struct cli_ctx *ctx, const char *dest, const char *file, const char *data,
                    size_t len)
{
        _cleanup_free_ char *path = NULL;
        struct stat st;

        if (stat(dest, &st) == 0 && S_ISDIR(st.st_mode)) {
                size_t n = strlen(dest);
                path = str_printf("%s%s%s", dest, n > 0 && dest[n - 1] == '/' ? "" : "/", file);
        } else {
                path = strdup(dest);
        }
        if (!path)
                return cli_fail(ctx, "out of memory");
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (fd < 0)
                return cli_fail(ctx, "cannot write %s: %s", path, strerror(errno));
        int r = write_all(fd, data, len);
        if (r == 0 && close(TAKE_FD(fd)) < 0)
                r = -errno;
        if (r < 0)
                return cli_fail(ctx, "cannot write %s: %s", path, strerror(-r));
        return CLI_EXIT_OK;
}

int cli_workflow_file(struct cli_ctx *ctx, const char *workflow, const char *step, const char *file,
                      struct cli_reply *reply)
{
        const struct kind_info *kind = kind_by_name("Workflow");
        _cleanup_free_ char *estep = cli_escape(step);
        _cleanup_free_ char *efile = cli_escape(file);
        _cleanup_free_ char *q =
            estep && efile ? str_printf("/results?step=%s&file=%s", estep, efile) : NULL;
        _cleanup_free_ char *path = q ? cli_path(kind, ctx->ns, workflow, q) : NULL;

        if (!path)
                return cli_fail(ctx, "out of memory");
        if (cli_http(ctx, "GET", path, NULL, NULL, 0, reply) < 0)
                return CLI_EXIT_FAIL;
        if (reply->status < 200 || reply->status >= 300)
                return cli_status_print(ctx, reply);
        /* A berthd without file outputs answers with the results as JSON. */
        if (!str_has_prefix(reply->content_type, "application/octet-stream"))
                return cli_fail(ctx,
                                "berthd answered with %s, not the file: it may be too old "
                                "to serve file outputs",
                                reply->content_type[0] ? reply->content_type : "no content type");
        return CLI_EXIT_OK;
}

int cmd_cp(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        _cleanup_free_ char **args = NULL;
        _cleanup_reply_ struct cli_reply reply = {0};
        struct cp_source src;
        char why[128];
        size_t n = 0;
        int r = cli_parse_args(ctx, cmd, NULL, argc, argv, &args, &n);

        if (r != 0)
                return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        if (n != 2)
                return cli_usage_error(ctx, cmd, "%s",
                                       n < 2 ? "want a source workflow/NAME:STEP/FILE and a DEST"
                                             : "cp takes one source and one DEST");
        if (cp_source_parse(args[0], &src, why, sizeof(why)) < 0)
                return cli_usage_error(ctx, cmd,
                                       "invalid source \"%s\": %s; want "
                                       "workflow/NAME:STEP/FILE",
                                       args[0], why);
        if (!*args[1])
                return cli_usage_error(ctx, cmd, "DEST is empty: want a path, or - for stdout");

        r = cli_workflow_file(ctx, src.name, src.step, src.file, &reply);
        if (r != CLI_EXIT_OK)
                return r;

        const char *data = reply.body.data ? reply.body.data : "";
        if (streq(args[1], "-")) {
                if (fwrite(data, 1, reply.body.len, ctx->out) != reply.body.len ||
                    fflush(ctx->out) != 0)
                        return cli_fail(ctx, "cannot write the output");
                return CLI_EXIT_OK;
        }
        return cp_write(ctx, args[1], src.file, data, reply.body.len);
}
