/* berth events: the Events of a namespace (or all), of one object (--for),
 * of some types (--types), oldest first; -w follows them as they are
 * recorded and counted on (docs/reference/event.md).
 *
 * Selection is the server's: a field selector on the list and the watch
 * (involvedObject.kind and .name for --for, type for a single --types);
 * the types are checked again here, for --types Warning,Normal and for a
 * berthd that would not know the selector. */
#include "cli-internal.h"

/* ---- pure parts ------------------------------------------------------------ */

int cli_event_types_parse(const char *s, unsigned *ret)
{
        unsigned types = 0;
        const char *p = s;

        if (!s || !*s)
                return -EINVAL;
        while (*p) {
                size_t len = strcspn(p, ",");
                enum event_type t;
                char word[16];

                if (len == 0 || len >= sizeof(word))
                        return -EINVAL;
                memcpy(word, p, len);
                word[len] = '\0';
                if (event_type_from_string(word, &t) < 0)
                        return -EINVAL;
                types |= 1U << t;
                p += len;
                if (*p == ',')
                        p++;
        }
        *ret = types;
        return 0;
}

bool cli_event_wanted(const json_t *event, unsigned types)
{
        enum event_type t;

        if (types == 0)
                return true;
        if (event_type_from_string(json_string_value(json_object_get(event, "type")), &t) < 0)
                return false;
        return types & (1U << t);
}

static int64_t time_of(const json_t *event, const char *path)
{
        int64_t t = 0;
        const char *s = json_path_string(event, path);

        if (!s || time_parse_rfc3339(s, &t) < 0)
                return 0;
        return t;
}

/* Events of one second, or of clocks that disagree, keep the order they
 * were written in: the store's revision. */
static int cmp_events(const void *a, const void *b)
{
        const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
        int64_t tx = time_of(x, "lastTimestamp"), ty = time_of(y, "lastTimestamp");
        long long rx = strtoll(json_path_string(x, "metadata.resourceVersion") ?: "0", NULL, 10);
        long long ry = strtoll(json_path_string(y, "metadata.resourceVersion") ?: "0", NULL, 10);

        if (tx != ty)
                return tx < ty ? -1 : 1;
        if (rx != ry)
                return rx < ry ? -1 : 1;
        return strcmp(json_path_string(x, "metadata.name") ?: "",
                      json_path_string(y, "metadata.name") ?: "");
}

int cli_events_sort(json_t *items)
{
        size_t n = json_array_size(items);
        _cleanup_free_ json_t **sorted = n ? calloc(n, sizeof(*sorted)) : NULL;

        if (n == 0)
                return 0;
        if (!sorted)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                sorted[i] = json_incref(json_array_get(items, i));
        qsort(sorted, n, sizeof(*sorted), cmp_events);
        json_array_clear(items);
        int r = 0;
        for (size_t i = 0; i < n; i++)
                if (json_array_append_new(items, sorted[i]) < 0)
                        r = -ENOMEM;
        return r;
}

char *cli_events_selector(const struct kind_info *kind, const char *name, unsigned types)
{
        _cleanup_buf_ struct buf b = {0};

        buf_init(&b, 1024);
        if (kind && name &&
            buf_printf(&b, "involvedObject.kind=%s,involvedObject.name=%s", kind->kind, name) < 0)
                return NULL;
        if ((types == 1U << EVENT_NORMAL || types == 1U << EVENT_WARNING) &&
            buf_printf(&b, "%stype=%s", b.len ? "," : "",
                       event_type_to_string(types == 1U << EVENT_NORMAL ? EVENT_NORMAL
                                                                        : EVENT_WARNING)) < 0)
                return NULL;
        return b.len ? buf_steal(&b) : strdup("");
}

/* ---- the command ----------------------------------------------------------- */

struct events_view {
        struct cli_ctx *ctx;
        bool json, yaml;
        unsigned types;
        struct cli_table table;
        size_t printed;
};

static int view_add(struct events_view *v, const json_t *event)
{
        if (!cli_event_wanted(event, v->types))
                return 0;
        v->printed++;
        if (v->json)
                return cli_print_json(v->ctx->out, event);
        if (v->yaml) {
                if (v->printed > 1)
                        fputs("---\n", v->ctx->out);
                return cli_print_yaml(v->ctx->out, event);
        }
        v->table.opts.now_ms = time_now_ms();
        return cli_table_add(&v->table, event);
}

/* Tables print their header with the first row: none without one. */
static int view_flush(struct events_view *v)
{
        int r = v->json || v->yaml || v->printed == 0 ? 0 : cli_table_flush(&v->table, v->ctx->out);

        fflush(v->ctx->out);
        return r;
}

/* A recorded or counted-on Event; one that expired (DELETED) is no news. */
static int on_change(const char *type, const json_t *object, void *userdata)
{
        struct events_view *v = userdata;
        int r;

        if (streq(type, "DELETED"))
                return 0;
        r = view_add(v, object);
        return r < 0 ? r : view_flush(v);
}

static int parse_for(const char *s, const struct kind_info **ret_kind, const char **ret_name,
                     char *errbuf, size_t errsize)
{
        _cleanup_(cli_targets_release) struct cli_targets t = {0};
        char *args[] = {(char *)s};

        if (!strchr(s, '/')) {
                snprintf(errbuf, errsize,
                         "invalid --for \"%s\": want KIND/NAME, such as task/hello", s);
                return -EINVAL;
        }
        if (cli_targets_parse(args, 1, true, &t, errbuf, errsize) < 0)
                return -EINVAL;
        *ret_kind = t.items[0].kind;
        *ret_name = t.items[0].name; /* borrowed from s */
        return 0;
}

int cmd_events(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        const char *output = NULL, *for_ = NULL, *types_s = NULL;
        bool watch_flag = false, no_headers = false;
        const struct cli_option opts[] = {
            {"for", 0, CLI_OPT_STRING, "KIND/NAME", "only the Events of this object", &for_},
            {"types", 0, CLI_OPT_STRING, "TYPES", "only these types: Normal, Warning or both",
             &types_s},
            {"watch", 'w', CLI_OPT_BOOL, NULL, "after listing, print Events as they happen",
             &watch_flag},
            {"output", 'o', CLI_OPT_STRING, "FORMAT", "wide, json or yaml", &output},
            {"no-headers", 0, CLI_OPT_BOOL, NULL, "no header line", &no_headers},
            {0},
        };
        const struct kind_info *ev_kind = kind_by_name("Event");
        const struct kind_info *for_kind = NULL;
        const char *for_name = NULL;
        _cleanup_free_ char **args = NULL;
        struct events_view v = {.ctx = ctx};
        char errbuf[256];
        size_t nargs = 0;
        int r;

        r = cli_parse_args(ctx, cmd, opts, argc, argv, &args, &nargs);
        if (r != 0)
                return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        if (nargs > 0)
                return cli_usage_error(ctx, cmd,
                                       "unexpected argument \"%s\" (an object is named "
                                       "with --for KIND/NAME)",
                                       args[0]);
        if (output && !streq(output, "wide") && !streq(output, "json") && !streq(output, "yaml"))
                return cli_usage_error(
                    ctx, cmd, "unknown output format \"%s\": want wide, json or yaml", output);
        if (types_s && cli_event_types_parse(types_s, &v.types) < 0)
                return cli_usage_error(ctx, cmd,
                                       "invalid --types \"%s\": want Normal, Warning or "
                                       "Warning,Normal",
                                       types_s);
        if (for_ && parse_for(for_, &for_kind, &for_name, errbuf, sizeof(errbuf)) < 0)
                return cli_usage_error(ctx, cmd, "%s", errbuf);
        v.json = streq(output, "json");
        v.yaml = streq(output, "yaml");

        const char *ns = ctx->all_namespaces ? NULL : ctx->ns;
        _cleanup_free_ char *selector = cli_events_selector(for_kind, for_name, v.types);
        _cleanup_free_ char *esel = selector && *selector ? cli_escape(selector) : NULL;
        _cleanup_free_ char *query = str_printf("%s%s", esel ? "?fieldSelector=" : "", esel ?: "");
        _cleanup_free_ char *path = query ? cli_path(ev_kind, ns, NULL, query) : NULL;
        _cleanup_reply_ struct cli_reply reply = {0};
        json_error_t jerr;

        if (!selector || !path)
                return cli_fail(ctx, "out of memory");
        if (cli_http(ctx, "GET", path, NULL, NULL, 0, &reply) < 0)
                return CLI_EXIT_FAIL;
        if (reply.status < 200 || reply.status >= 300)
                return cli_status_print(ctx, &reply);
        _cleanup_json_ json_t *list =
            json_loadb(reply.body.data ? reply.body.data : "", reply.body.len, 0, &jerr);
        json_t *items = json_object_get(list, "items");
        if (!json_is_array(items))
                return cli_fail(ctx, "invalid response from berthd: %s",
                                list ? "no items" : jerr.text);
        if (cli_events_sort(items) < 0)
                return cli_fail(ctx, "out of memory");

        const struct cli_print_opts popts = {
            .kind = ev_kind,
            .wide = streq(output, "wide"),
            .all_namespaces = ctx->all_namespaces,
            .no_headers = no_headers,
            .color = ctx->color,
            .now_ms = time_now_ms(),
        };
        cli_table_init(&v.table, &popts);
        size_t i;
        json_t *e;
        r = 0;
        json_array_foreach(items, i, e) if ((r = view_add(&v, e)) < 0) break;
        if (r >= 0)
                r = view_flush(&v);
        if (r >= 0 && v.printed == 0 && !watch_flag) {
                if (ns)
                        fprintf(ctx->err, "No events found in %s namespace.\n", ns);
                else
                        fputs("No events found\n", ctx->err);
        }
        if (r >= 0 && watch_flag) {
                _cleanup_free_ char *wq =
                    str_printf("%s%s", esel ? "&fieldSelector=" : "", esel ?: "");
                r = wq ? cli_watch_kind(ctx, ev_kind, ns, wq,
                                        json_path_string(list, "metadata.resourceVersion"),
                                        on_change, &v)
                       : -ENOMEM;
        }
        cli_table_release(&v.table);
        if (r == -EIO || r == -ENOMEM)
                return cli_fail(ctx, "cannot print: %s", strerror(-r));
        return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
