/* berth wait: GET the object, then follow its watch until a condition holds,
 * can no longer hold, the object goes away or the time is up. */
#include <strings.h>

#include "cli-internal.h"

#define WAIT_DEFAULT_TIMEOUT_MS (60 * 1000)

int cli_wait_for_parse(const char *s, struct cli_wait_for *ret)
{
        struct cli_wait_for w = {.type = CLI_WAIT_CONDITION};

        if (!s)
                return -EINVAL;
        if (streq(s, "delete")) {
                *ret = (struct cli_wait_for){.type = CLI_WAIT_DELETE};
                return 0;
        }
        if (!str_has_prefix(s, "condition="))
                return -EINVAL;
        const char *type = s + strlen("condition=");
        const char *eq = strchr(type, '=');
        size_t tlen = eq ? (size_t)(eq - type) : strlen(type);
        if (tlen == 0 || tlen >= sizeof(w.condition))
                return -EINVAL;
        memcpy(w.condition, type, tlen);
        if (eq) {
                if (!eq[1] || strchr(eq + 1, '=') ||
                    str_copy(w.status, sizeof(w.status), eq + 1) < 0)
                        return -EINVAL;
        } else {
                str_copy(w.status, sizeof(w.status), "True");
        }
        *ret = w;
        return 0;
}

static bool strcaseeq(const char *a, const char *b)
{
        return a && b && strcasecmp(a, b) == 0;
}

/* Kinds that run to completion: once finished, their status is final. */
static bool finished(const json_t *object, const char *phase)
{
        const struct kind_info *kind =
            kind_by_name(json_string_value(json_object_get(object, "kind")));

        if (!kind || !kind->runs_to_completion)
                return false;
        return streq(phase, "Succeeded") || streq(phase, "Failed");
}

const json_t *cli_status_condition(const json_t *o, const char *type)
{
        size_t i;
        json_t *c;

        json_array_foreach(json_path(o, "status.conditions"), i, c)
        {
                if (streq(json_string_value(json_object_get(c, "type")), type))
                        return c;
        }
        return NULL;
}

enum cli_cond_result cli_condition_eval(const json_t *object, const struct cli_wait_for *w,
                                        char *why, size_t why_size)
{
        const json_t *conds = json_path(object, "status.conditions");
        const char *phase = json_path_string(object, "status.phase");
        const char *have = NULL;
        size_t i;
        json_t *c;

        json_array_foreach((json_t *)conds, i, c)
        {
                if (strcaseeq(json_string_value(json_object_get(c, "type")), w->condition)) {
                        have = json_string_value(json_object_get(c, "status"));
                        break;
                }
        }
        /* No such condition: the phase says whether the object is in that state,
         * and a finished object is in no other. */
        if (!have && phase && strcaseeq(phase, w->condition))
                have = "True";
        else if (!have && finished(object, phase))
                have = "False";

        if (have && strcaseeq(have, w->status))
                return CLI_COND_MET;
        if (finished(object, phase)) {
                const char *reason = json_path_string(object, "status.reason");
                if (reason && *reason)
                        snprintf(why, why_size, "phase is %s (%s)", phase, reason);
                else
                        snprintf(why, why_size, "phase is %s", phase);
                return CLI_COND_IMPOSSIBLE;
        }
        return CLI_COND_PENDING;
}

/* ---- following one object ---------------------------------------------- */

struct follow {
        const char *name;
        cli_follow_fn eval; /* NULL: waiting for deletion */
        void *userdata;
        char rv[32];
        enum cli_follow_outcome outcome;
        char why[256];
        struct cli_ctx *ctx;
};

static int on_event(const char *line, size_t len, void *userdata)
{
        struct follow *f = userdata;
        _cleanup_json_ json_t *ev = NULL;
        const char *type, *rv;
        json_t *obj;
        int r = cli_watch_event(f->ctx, line, len, &ev, &type, &obj, &rv);

        if (r < 0)
                return r;
        if (streq(type, "ERROR"))
                return -ESTALE; /* e.g. expired resourceVersion: look again */
        if (rv)
                str_copy(f->rv, sizeof(f->rv), rv);
        if (streq(type, "BOOKMARK") || !streq(json_path_string(obj, "metadata.name"), f->name))
                return 0;
        if (streq(type, "DELETED")) {
                f->outcome = CLI_FOLLOW_DELETED;
                return 1;
        }
        if (!f->eval)
                return 0;
        switch (f->eval(obj, f->userdata, f->why, sizeof(f->why))) {
        case CLI_COND_MET:
                f->outcome = CLI_FOLLOW_MET;
                return 1;
        case CLI_COND_IMPOSSIBLE:
                f->outcome = CLI_FOLLOW_IMPOSSIBLE;
                return 1;
        case CLI_COND_PENDING:
                break;
        }
        return 0;
}

int cli_follow_object(struct cli_ctx *ctx, const struct kind_info *kind, const char *ns,
                      const char *name, cli_follow_fn eval, void *userdata, int64_t deadline_ms,
                      bool check_once, enum cli_follow_outcome *ret, char *why, size_t why_size)
{
        struct follow f = {.name = name, .eval = eval, .userdata = userdata, .ctx = ctx};
        bool first = true;

        for (;;) {
                _cleanup_json_ json_t *obj = NULL;
                int r = cli_get_object(ctx, kind, ns, name, &obj);
                if (r == -ENOENT) {
                        if (first && eval)
                                return -ENOENT;
                        *ret = CLI_FOLLOW_DELETED;
                        return 0;
                }
                if (r < 0)
                        return r;
                first = false;
                if (eval) {
                        switch (eval(obj, userdata, why, why_size)) {
                        case CLI_COND_MET:
                                *ret = CLI_FOLLOW_MET;
                                return 0;
                        case CLI_COND_IMPOSSIBLE:
                                *ret = CLI_FOLLOW_IMPOSSIBLE;
                                return 0;
                        case CLI_COND_PENDING:
                                break;
                        }
                }
                if (check_once)
                        return -ETIMEDOUT;

                const char *rv = json_path_string(obj, "metadata.resourceVersion");
                _cleanup_free_ char *erv = cli_escape(rv ? rv : "");
                _cleanup_free_ char *q =
                    erv ? str_printf("?watch=true&resourceVersion=%s", erv) : NULL;
                _cleanup_free_ char *path = q ? cli_path(kind, ns, NULL, q) : NULL;
                _cleanup_reply_ struct cli_reply err = {0};
                if (!path)
                        return -ENOMEM;
                int64_t started = time_mono_ms();
                f.outcome = CLI_FOLLOW_NONE;
                r = cli_stream(ctx, path, true, deadline_ms, on_event, &f, &err);
                if (r == 1) {
                        *ret = f.outcome;
                        str_copy(why, why_size, f.why);
                        return 0;
                }
                if (r == -ETIMEDOUT)
                        return r;
                if (r == -EPROTO && err.status != 410) {
                        cli_status_print(ctx, &err);
                        return r;
                }
                if (r < 0 && r != -EPROTO && r != -ESTALE)
                        return r;
                /* The stream ended or our version expired: look again, but
                 * never spin. */
                if (time_mono_ms() - started < 500)
                        usleep(500 * 1000);
                if (deadline_ms > 0 && time_mono_ms() >= deadline_ms)
                        return -ETIMEDOUT;
        }
}

/* cli_condition_eval as a cli_follow_fn; userdata is the cli_wait_for. */
static enum cli_cond_result eval_condition(const json_t *object, void *userdata, char *why,
                                           size_t why_size)
{
        return cli_condition_eval(object, userdata, why, why_size);
}

int cli_wait_deleted(struct cli_ctx *ctx, const struct kind_info *kind, const char *ns,
                     const char *name, int64_t deadline_ms)
{
        enum cli_follow_outcome outcome = CLI_FOLLOW_NONE;
        char why[8];
        int r = cli_follow_object(ctx, kind, ns, name, NULL, NULL, deadline_ms, false, &outcome,
                                  why, sizeof(why));
        return r < 0 ? r : 0;
}

int cmd_wait(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        const char *for_arg = NULL, *timeout = NULL;
        const struct cli_option opts[] = {
            {"for", 0, CLI_OPT_STRING, "COND", "condition=TYPE[=STATUS] or delete", &for_arg},
            {"timeout", 0, CLI_OPT_STRING, "DURATION",
             "give up after this long (default 60s; 0: check once)", &timeout},
            {0},
        };
        _cleanup_free_ char **args = NULL;
        _cleanup_(cli_targets_release) struct cli_targets targets = {0};
        struct cli_wait_for w;
        char errbuf[256];
        int64_t timeout_ms = WAIT_DEFAULT_TIMEOUT_MS;
        size_t nargs = 0;
        bool failed = false;
        int r;

        r = cli_parse_args(ctx, cmd, opts, argc, argv, &args, &nargs);
        if (r != 0)
                return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        if (!for_arg)
                return cli_usage_error(ctx, cmd,
                                       "--for is required: condition=TYPE[=STATUS] or delete");
        if (cli_wait_for_parse(for_arg, &w) < 0)
                return cli_usage_error(
                    ctx, cmd, "invalid --for \"%s\": want condition=TYPE[=STATUS] or delete",
                    for_arg);
        if (timeout && (duration_parse(timeout, &timeout_ms) < 0 || timeout_ms < 0))
                return cli_usage_error(
                    ctx, cmd, "invalid --timeout \"%s\": want a duration like 90s", timeout);
        if (cli_targets_parse(args, nargs, true, &targets, errbuf, sizeof(errbuf)) < 0)
                return cli_usage_error(ctx, cmd, "%s", errbuf);

        int64_t deadline = time_mono_ms() + timeout_ms;
        for (size_t i = 0; i < targets.n; i++) {
                const struct cli_target *t = &targets.items[i];
                enum cli_follow_outcome outcome = CLI_FOLLOW_NONE;
                char why[256] = "";

                r = cli_follow_object(ctx, t->kind, ctx->ns, t->name,
                                      w.type == CLI_WAIT_CONDITION ? eval_condition : NULL, &w,
                                      deadline, timeout_ms == 0, &outcome, why, sizeof(why));
                if (r == -ENOENT) {
                        fprintf(ctx->err, "Error from server (NotFound): %s \"%s\" not found\n",
                                t->kind->resource, t->name);
                        failed = true;
                        continue;
                }
                if (r == -ETIMEDOUT) {
                        cli_fail(ctx, "timed out waiting for the condition on %s/%s",
                                 t->kind->singular, t->name);
                        failed = true;
                        continue;
                }
                if (r < 0) {
                        failed = true;
                        continue;
                }
                switch (outcome) {
                case CLI_FOLLOW_MET:
                        fprintf(ctx->out, "%s/%s condition met\n", t->kind->singular, t->name);
                        break;
                case CLI_FOLLOW_DELETED:
                        if (w.type == CLI_WAIT_DELETE) {
                                fprintf(ctx->out, "%s/%s condition met\n", t->kind->singular,
                                        t->name);
                                break;
                        }
                        cli_fail(ctx, "%s/%s was deleted while waiting for %s", t->kind->singular,
                                 t->name, for_arg);
                        failed = true;
                        break;
                case CLI_FOLLOW_IMPOSSIBLE:
                        cli_fail(ctx, "%s/%s can no longer meet %s: %s", t->kind->singular, t->name,
                                 for_arg, why);
                        failed = true;
                        break;
                case CLI_FOLLOW_NONE:
                        failed = true;
                        break;
                }
                fflush(ctx->out);
        }
        return failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
