/* berth sync source/NAME: ask berthd to sync a Source now and wait for it.
 *
 * The request is a compare-and-swap change of the Source's annotations
 * (SOURCE_ANNOTATION_SYNC = now, and with --force-prune
 * SOURCE_ANNOTATION_FORCE_PRUNE = the same time); the controller syncs at
 * once and records it in status.lastSyncTime, which the command follows
 * (cli_follow_object) until it is at least the time of the request, then
 * prints what the sync found (docs/reference/source.md). */
#include "cli-internal.h"

#define SYNC_DEFAULT_TIMEOUT_MS (60 * 1000)

/* ---- pure parts ------------------------------------------------------------ */

/* The time at path, or 0 when absent or unreadable. */
static int64_t time_at(const json_t *o, const char *path)
{
        int64_t t = 0;
        const char *s = json_path_string(o, path);

        if (!s || time_parse_rfc3339(s, &t) < 0)
                return 0;
        return t;
}

bool cli_source_synced(const json_t *source, const char *request)
{
        return request && streq(json_path_string(source, "status.lastSyncRequest"), request);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *cli_source_objects_text(const json_t *objects)
{
        size_t n = json_is_object(objects) ? json_object_size(objects) : 0, i = 0;
        _cleanup_free_ const char **keys = n ? calloc(n, sizeof(char *)) : NULL;
        _cleanup_buf_ struct buf b = {0};
        const char *k;
        json_t *v;

        if (n == 0)
                return strdup("");
        if (!keys)
                return NULL;
        json_object_foreach((json_t *)objects, k, v) keys[i++] = k;
        qsort(keys, n, sizeof(char *), cmp_str);
        buf_init(&b, 64 * 1024);
        for (i = 0; i < n; i++)
                if (buf_printf(&b, "%s%s %lld", i ? ", " : "", keys[i],
                               (long long)json_integer_value(json_object_get(objects, keys[i]))) <
                    0)
                        return NULL;
        return buf_steal(&b);
}

char *cli_source_error_text(const json_t *e)
{
        const char *file = json_string_value(json_object_get(e, "file"));
        const char *message = json_string_value(json_object_get(e, "message"));
        json_int_t line = json_integer_value(json_object_get(e, "line"));
        json_int_t column = json_integer_value(json_object_get(e, "column"));
        _cleanup_free_ char *msg = cli_one_line(message, 0);
        _cleanup_free_ char *where = NULL;

        if (line > 0 && column > 0)
                where = str_printf("%s:%lld:%lld", file ? file : "?", (long long)line,
                                   (long long)column);
        else if (line > 0)
                where = str_printf("%s:%lld", file ? file : "?", (long long)line);
        else
                where = strdup(file ? file : "?");
        if (!where || !msg)
                return NULL;
        return str_printf("%s: %s", where, msg);
}

char *cli_source_conflict_text(const json_t *c)
{
        const char *kind = json_string_value(json_object_get(c, "kind"));
        const char *ns = json_string_value(json_object_get(c, "namespace"));
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *owner = json_string_value(json_object_get(c, "owner"));

        return str_printf("%s %s%s%s: owned %s", kind ? kind : "?", ns ? ns : "", ns ? "/" : "",
                          name ? name : "?", owner && *owner ? owner : "by someone else");
}

/* "  <text>" lines of an array of status entries. */
static void entries(FILE *out, const char *title, const json_t *arr, char *(*text)(const json_t *))
{
        size_t i;
        json_t *e;

        if (json_array_size(arr) == 0)
                return;
        fprintf(out, "%s:\n", title);
        json_array_foreach(arr, i, e)
        {
                _cleanup_free_ char *t = text(e);
                fprintf(out, "  %s\n", t ? t : "?");
        }
}

int cli_source_sync_print(FILE *out, const json_t *source, int64_t requested_ms)
{
        const char *name = json_path_string(source, "metadata.name");
        const char *revision = json_path_string(source, "status.revision");
        const char *revision_kind = json_path_string(source, "status.revisionKind");
        const json_t *prune = json_path(source, "status.lastPrune");
        const json_t *errors = json_path(source, "status.errors");
        const json_t *ready = cli_status_condition(source, "Ready");
        const char *ready_status = json_string_value(json_object_get(ready, "status"));
        _cleanup_free_ char *by_kind = cli_source_objects_text(json_path(source, "status.objects"));
        int64_t count = json_path_int(source, "status.objectCount", 0);
        int64_t files = json_path_int(source, "status.files", 0);
        bool ok = streq(ready_status, "True") && json_array_size(errors) == 0;

        fprintf(out, "source/%s synced: revision %s%s%s%s, %lld object%s%s%s%s from %lld file%s\n",
                name ? name : "?", revision && *revision ? revision : "<none>",
                revision_kind ? " (" : "", revision_kind ? revision_kind : "",
                revision_kind ? ")" : "", (long long)count, count == 1 ? "" : "s",
                by_kind && *by_kind ? " (" : "", by_kind ? by_kind : "",
                by_kind && *by_kind ? ")" : "", (long long)files, files == 1 ? "" : "s");
        /* Only what this sync pruned, or refused to. */
        if (json_is_object(prune) && time_at(prune, "time") >= requested_ms) {
                const json_t *deleted = json_object_get(prune, "deleted");
                const char *refused = json_string_value(json_object_get(prune, "refused"));
                size_t i;
                json_t *d;

                if (json_array_size(deleted) > 0) {
                        fprintf(out, "pruned %zu:", json_array_size(deleted));
                        json_array_foreach(deleted, i, d)
                            fprintf(out, " %s", json_string_value(d) ? json_string_value(d) : "?");
                        fputc('\n', out);
                }
                if (refused && *refused)
                        fprintf(out, "prune refused: %s\n", refused);
        }
        entries(out, "errors", errors, cli_source_error_text);
        entries(out, "conflicts", json_path(source, "status.conflicts"), cli_source_conflict_text);
        if (!streq(ready_status, "True")) {
                const char *reason = json_string_value(json_object_get(ready, "reason"));
                const char *message = json_string_value(json_object_get(ready, "message"));
                _cleanup_free_ char *msg = cli_one_line(message, 0);

                fprintf(out, "not ready: %s%s%s\n", reason && *reason ? reason : "Unknown",
                        msg && *msg ? ": " : "", msg ? msg : "");
        }
        return ferror(out) ? -EIO : ok ? 0 : 1;
}

/* ---- the command ---------------------------------------------------------------- */

struct sync_request {
        const char *at; /* RFC 3339 */
        bool force_prune;
};

static int request_sync(json_t *o, void *userdata)
{
        const struct sync_request *req = userdata;
        json_t *meta = json_object_get(o, "metadata");
        json_t *ann = json_object_get(meta, "annotations");

        if (!json_is_object(meta))
                return -EINVAL;
        if (!json_is_object(ann)) {
                ann = json_object();
                if (!ann || json_object_set_new(meta, "annotations", ann) < 0)
                        return -ENOMEM;
        }
        if (json_object_set_new(ann, SOURCE_ANNOTATION_SYNC, json_string(req->at)) < 0 ||
            (req->force_prune &&
             json_object_set_new(ann, SOURCE_ANNOTATION_FORCE_PRUNE, json_string(req->at)) < 0))
                return -ENOMEM;
        return 0;
}

struct sync_wait {
        const char *request; /* the annotation's value */
        json_t *last;        /* the object as last seen; owned */
};

static enum cli_cond_result synced(const json_t *object, void *userdata, char *why, size_t why_size)
{
        struct sync_wait *w = userdata;

        (void)why, (void)why_size;
        json_decref(w->last);
        w->last = json_incref((json_t *)object);
        return cli_source_synced(object, w->request) ? CLI_COND_MET : CLI_COND_PENDING;
}

static int parse_source(struct cli_ctx *ctx, const struct cli_command *cmd,
                        const struct cli_option *opts, int argc, char **argv,
                        const struct kind_info **ret_kind, const char **ret_name)
{
        *ret_kind = kind_by_name("Source");
        return cli_parse_one_target(ctx, cmd, opts, argc, argv, *ret_kind, ret_name);
}

int cmd_sync(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        const char *timeout = NULL;
        bool force_prune = false;
        const struct cli_option opts[] = {
            {"force-prune", 0, CLI_OPT_BOOL, NULL,
             "prune even past spec.maxPruneFraction (this sync only)", &force_prune},
            {"timeout", 0, CLI_OPT_STRING, "DURATION",
             "give up waiting after this long (default 60s; 0: request and do not wait)", &timeout},
            {0},
        };
        const struct kind_info *kind = NULL;
        const char *name = NULL;
        char at[RFC3339_MAX], why[256] = "";
        struct sync_request req = {.at = at, .force_prune = force_prune};
        struct sync_wait w = {0};
        enum cli_follow_outcome outcome = CLI_FOLLOW_NONE;
        int64_t timeout_ms = SYNC_DEFAULT_TIMEOUT_MS;
        int r = parse_source(ctx, cmd, opts, argc, argv, &kind, &name);

        if (r >= 0)
                return r;
        if (timeout && (duration_parse(timeout, &timeout_ms) < 0 || timeout_ms < 0))
                return cli_usage_error(
                    ctx, cmd, "invalid --timeout \"%s\": want a duration like 90s", timeout);
        req.force_prune = force_prune;

        /* The request is the annotation's value, a time to the millisecond:
         * the sync that answers it records it as status.lastSyncRequest. */
        int64_t now_ms = time_now_ms();
        time_format_rfc3339_ms(now_ms, at);
        w.request = at;
        if (cli_change_object(ctx, kind, name, request_sync, &req) < 0)
                return CLI_EXIT_FAIL;
        if (timeout_ms == 0) {
                fprintf(ctx->out, "source/%s sync requested%s\n", name,
                        force_prune ? " (force prune)" : "");
                return CLI_EXIT_OK;
        }

        r = cli_follow_object(ctx, kind, ctx->ns, name, synced, &w, time_mono_ms() + timeout_ms,
                              false, &outcome, why, sizeof(why));
        _cleanup_json_ json_t *last = TAKE_PTR(w.last);
        if (r == -ENOENT || (r == 0 && outcome == CLI_FOLLOW_DELETED))
                return cli_fail(ctx, "source/%s was deleted while waiting for its sync", name);
        if (r == -ETIMEDOUT) {
                char d[32];

                duration_format(timeout_ms, d, sizeof(d));
                return cli_fail(
                    ctx, "timed out after %s waiting for source/%s to sync (last sync: %s)%s", d,
                    name, json_path_string(last, "status.lastSyncTime") ?: "never",
                    json_is_true(json_path(last, "spec.suspend"))
                        ? "; it is suspended (spec.suspend)"
                        : "");
        }
        if (r < 0 || outcome != CLI_FOLLOW_MET || !last)
                return CLI_EXIT_FAIL;
        /* Status times have whole seconds. */
        r = cli_source_sync_print(ctx->out, last, now_ms / 1000 * 1000);
        if (r < 0)
                return cli_fail(ctx, "cannot write output");
        return r == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
