/* berth get: tables, -o json|yaml|name|wide, -o tree for workflows, label
 * selectors and watch. */
#include "cli-internal.h"

enum output { OUT_TABLE, OUT_WIDE, OUT_JSON, OUT_YAML, OUT_NAME, OUT_TREE };

static int output_parse(const char *s, enum output *ret)
{
        if (!s)
                *ret = OUT_TABLE;
        else if (streq(s, "wide"))
                *ret = OUT_WIDE;
        else if (streq(s, "json"))
                *ret = OUT_JSON;
        else if (streq(s, "yaml"))
                *ret = OUT_YAML;
        else if (streq(s, "name"))
                *ret = OUT_NAME;
        else if (streq(s, "tree"))
                *ret = OUT_TREE;
        else
                return -EINVAL;
        return 0;
}

struct printer {
        struct cli_ctx *ctx;
        enum output output;
        bool no_headers;
        const struct kind_info *kind; /* of the open table */
        struct cli_table table;
        bool table_open;
        size_t printed; /* objects printed (yaml needs "---" between them) */
        size_t tables;  /* tables started (a blank line between kinds) */
};

static void printer_release(struct printer *p)
{
        if (p->table_open)
                cli_table_release(&p->table);
        p->table_open = false;
}

/* Prints one object in the chosen format; tables are flushed by the caller
 * (at once when watching, at the end otherwise, so widths fit every row). */
static int printer_add(struct printer *p, const struct kind_info *kind, const json_t *object)
{
        int r = 0;

        switch (p->output) {
        case OUT_TABLE:
        case OUT_WIDE:
                if (!p->table_open || p->kind != kind) {
                        if (p->table_open) {
                                cli_table_flush(&p->table, p->ctx->out);
                                cli_table_release(&p->table);
                                p->table_open = false;
                        }
                        struct cli_print_opts o = {
                            .kind = kind,
                            .wide = p->output == OUT_WIDE,
                            .all_namespaces = p->ctx->all_namespaces && kind->namespaced,
                            .no_headers = p->no_headers,
                            .color = p->ctx->color,
                            .now_ms = time_now_ms(),
                        };
                        if (p->tables++ > 0)
                                fputc('\n', p->ctx->out);
                        cli_table_init(&p->table, &o);
                        p->table_open = true;
                        p->kind = kind;
                }
                p->table.opts.now_ms = time_now_ms();
                r = cli_table_add(&p->table, object);
                break;
        case OUT_JSON:
                r = cli_print_json(p->ctx->out, object);
                break;
        case OUT_YAML:
                if (p->printed > 0)
                        fputs("---\n", p->ctx->out);
                r = cli_print_yaml(p->ctx->out, object);
                break;
        case OUT_NAME:
        case OUT_TREE: /* get_trees() draws trees */
                r = cli_print_name(p->ctx->out, kind, object);
                break;
        }
        p->printed++;
        return r;
}

static int printer_flush(struct printer *p)
{
        int r = 0;
        if (p->table_open)
                r = cli_table_flush(&p->table, p->ctx->out);
        fflush(p->ctx->out);
        return r;
}

/* The list in json/yaml output: what kubectl prints for several objects. */
static int print_list(struct printer *p, json_t *items)
{
        _cleanup_json_ json_t *list =
            json_pack("{s:s, s:s, s:{s:s}, s:O}", "apiVersion", MANIFEST_API_VERSION, "kind",
                      "List", "metadata", "resourceVersion", "", "items", items);
        if (!list)
                return -ENOMEM;
        return p->output == OUT_JSON ? cli_print_json(p->ctx->out, list)
                                     : cli_print_yaml(p->ctx->out, list);
}

/* ---- watch ------------------------------------------------------------- */

struct watch_state {
        struct cli_ctx *ctx;
        cli_watch_fn fn;
        void *userdata;
        char rv[32];
        bool gone; /* the server no longer has history from rv (410) */
};

static int on_watch_line(const char *line, size_t len, void *userdata)
{
        struct watch_state *w = userdata;
        _cleanup_json_ json_t *ev = NULL;
        const char *type, *rv;
        json_t *obj;
        int r = cli_watch_event(w->ctx, line, len, &ev, &type, &obj, &rv);

        if (r < 0)
                return r;
        if (streq(type, "ERROR")) {
                if (json_integer_value(json_object_get(obj, "code")) == 410) {
                        w->gone = true;
                        return -EPROTO;
                }
                _cleanup_free_ char *s = json_dumps(obj, JSON_COMPACT);
                _cleanup_free_ char *msg =
                    s ? cli_status_format((long)json_integer_value(json_object_get(obj, "code")), s,
                                          strlen(s))
                      : NULL;
                fprintf(w->ctx->err, "%s\n", msg ? msg : "Error from server");
                return -EPROTO;
        }
        if (rv)
                str_copy(w->rv, sizeof(w->rv), rv);
        if (streq(type, "BOOKMARK"))
                return 0;
        return w->fn(type, obj, w->userdata);
}

int cli_watch_kind(struct cli_ctx *ctx, const struct kind_info *kind, const char *ns,
                   const char *query, const char *rv, cli_watch_fn fn, void *userdata)
{
        struct watch_state w = {.ctx = ctx, .fn = fn, .userdata = userdata};

        str_copy(w.rv, sizeof(w.rv), rv ? rv : "");
        for (;;) {
                _cleanup_reply_ struct cli_reply err = {0};
                _cleanup_free_ char *erv = cli_escape(w.rv);
                _cleanup_free_ char *q = str_printf("?watch=true&resourceVersion=%s%s",
                                                    erv ? erv : "", query ? query : "");
                _cleanup_free_ char *path = q ? cli_path(kind, ns, NULL, q) : NULL;
                if (!path)
                        return -ENOMEM;
                int64_t started = time_mono_ms();
                w.gone = false;
                int r = cli_stream(ctx, path, true, 0, on_watch_line, &w, &err);
                if (r == -EPROTO && (err.status == 410 || w.gone)) {
                        w.rv[0] = '\0';
                        continue;
                }
                if (r == -EPROTO && err.status) {
                        cli_status_print(ctx, &err);
                        return r;
                }
                if (r < 0)
                        return r;
                /* The server closed a healthy stream (timeout, restart): go on
                 * from where we were, but never spin. */
                if (time_mono_ms() - started < 1000)
                        usleep(1000 * 1000);
        }
}

struct get_watch {
        struct printer *p;
        const struct kind_info *kind;
        const char *name; /* only this object, or NULL */
};

static int print_change(const char *type, const json_t *obj, void *userdata)
{
        struct get_watch *g = userdata;
        (void)type;

        if (g->name && !streq(json_path_string(obj, "metadata.name"), g->name))
                return 0;
        int r = printer_add(g->p, g->kind, obj);
        if (r < 0)
                return r;
        return printer_flush(g->p);
}

/* Prints every change after resourceVersion rv until interrupted
 * (cli_watch_kind). */
static int watch(struct printer *p, const struct kind_info *kind, const char *ns, const char *name,
                 const char *selector, const char *rv)
{
        struct get_watch g = {.p = p, .kind = kind, .name = name};
        _cleanup_free_ char *esel = selector ? cli_escape(selector) : NULL;
        _cleanup_free_ char *q = esel ? str_printf("&labelSelector=%s", esel) : NULL;

        if (selector && !q)
                return -ENOMEM;
        return cli_watch_kind(p->ctx, kind, ns, q, rv, print_change, &g);
}

/* ---- lists, in pages ------------------------------------------------------ */

#define CHUNK_SIZE_DEFAULT 500
#define CHUNK_SIZE_MAX     10000 /* berthd's ?limit= cap */

/* Reads the list at path (which has a query or not) in pages of chunk
 * (0: one request for all) and hands each page's items to fn as it
 * arrives. *ret_rv: the list's resourceVersion (every page has the one of
 * the first). 0, or -errno after printing. */
static int list_pages(struct cli_ctx *ctx, const char *path, size_t chunk,
                      int (*fn)(json_t *items, void *userdata), void *userdata, char ret_rv[32])
{
        _cleanup_free_ char *token = NULL;
        bool has_query = strchr(path, '?') != NULL;
        ret_rv[0] = '\0';
        for (size_t page = 0;; page++) {
                _cleanup_free_ char *etoken = token ? cli_escape(token) : NULL;
                _cleanup_free_ char *url = NULL;
                if (chunk == 0)
                        url = strdup(path);
                else
                        url = str_printf("%s%climit=%zu%s%s", path, has_query ? '&' : '?', chunk,
                                         etoken ? "&continue=" : "", etoken ? etoken : "");
                if (!url || (token && !etoken)) {
                        cli_fail(ctx, "out of memory");
                        return -ENOMEM;
                }
                _cleanup_reply_ struct cli_reply reply = {0};
                int r = cli_http(ctx, "GET", url, NULL, NULL, 0, &reply);
                if (r < 0)
                        return r;
                if (reply.status < 200 || reply.status >= 300) {
                        if (reply.status == 410 && page > 0)
                                fprintf(ctx->err, "berth: the list changed too much while it was "
                                                  "read in pages (its snapshot was compacted); "
                                                  "run the command again\n");
                        cli_status_print(ctx, &reply);
                        return -EPROTO;
                }
                json_error_t jerr;
                _cleanup_json_ json_t *list =
                    json_loadb(reply.body.data ? reply.body.data : "", reply.body.len, 0, &jerr);
                json_t *items = json_object_get(list, "items");
                if (!json_is_array(items)) {
                        cli_fail(ctx, "invalid response from berthd: %s",
                                 list ? "no items" : jerr.text);
                        return -EBADMSG;
                }
                const char *rv = json_path_string(list, "metadata.resourceVersion");
                if (page == 0 && rv)
                        (void)str_copy(ret_rv, 32, rv);
                r = fn(items, userdata);
                if (r < 0)
                        return r;
                const char *next = chunk ? json_path_string(list, "metadata.continue") : NULL;
                if (!next || !*next)
                        return 0;
                free(token);
                token = strdup(next);
                if (!token) {
                        cli_fail(ctx, "out of memory");
                        return -ENOMEM;
                }
        }
}

struct get_pages {
        struct printer *p;
        const struct kind_info *kind;
        json_t *all; /* json/yaml: every item, printed as one list at the end */
        size_t n;
};

/* One page: rows printed at once (the header with the first; the widths
 * grow as wider values come, as kubectl's do per chunk), or kept for the
 * one List document of -o json|yaml. */
static int print_page(json_t *items, void *userdata)
{
        struct get_pages *g = userdata;
        size_t i;
        json_t *o;
        g->n += json_array_size(items);
        if (g->all)
                return json_array_extend(g->all, items) < 0 ? -ENOMEM : 0;
        int r = 0;
        json_array_foreach(items, i, o)
        {
                r = printer_add(g->p, g->kind, o);
                if (r < 0)
                        break;
        }
        if (r >= 0)
                r = printer_flush(g->p);
        if (r < 0)
                cli_fail(g->p->ctx, "cannot print: %s", strerror(-r));
        return r;
}

/* ---- command ------------------------------------------------------------- */

static int get_named(struct cli_ctx *ctx, struct printer *p, const struct cli_targets *t,
                     bool show_values, bool *ret_failed)
{
        _cleanup_json_ json_t *objects = json_array();

        if (!objects)
                return -ENOMEM;
        for (size_t i = 0; i < t->n; i++) {
                json_t *o = NULL;
                int r = cli_get_object_query(ctx, t->items[i].kind, ctx->ns, t->items[i].name,
                                             show_values ? "?showValues=true" : "", &o);
                if (r == -ENOENT) {
                        fprintf(ctx->err, "Error from server (NotFound): %s \"%s\" not found\n",
                                t->items[i].kind->resource, t->items[i].name);
                        *ret_failed = true;
                        continue;
                }
                if (r == -EPROTO) {
                        *ret_failed = true;
                        continue;
                }
                if (r < 0)
                        return r;
                json_array_append_new(objects, o);
        }
        size_t n = json_array_size(objects);
        if ((p->output == OUT_JSON || p->output == OUT_YAML) && n > 1)
                return print_list(p, objects);
        for (size_t i = 0; i < n; i++) {
                /* t->items and objects line up only without failures: look up
                 * the kind of each object again. */
                json_t *o = json_array_get(objects, i);
                const struct kind_info *kind =
                    kind_lookup(json_string_value(json_object_get(o, "kind")));
                int r = printer_add(p, kind ? kind : t->items[0].kind, o);
                if (r < 0)
                        return r;
        }
        return printer_flush(p);
}

/* The Tasks of Workflow name (label WORKFLOW_LABEL): the items of the list.
 * 0 with *ret (a new reference); -errno after printing. */
static int workflow_tasks(struct cli_ctx *ctx, const char *name, json_t **ret)
{
        _cleanup_free_ char *sel = str_printf(WORKFLOW_LABEL "=%s", name);
        _cleanup_free_ char *esel = sel ? cli_escape(sel) : NULL;
        _cleanup_free_ char *q = esel ? str_printf("?labelSelector=%s", esel) : NULL;
        _cleanup_free_ char *path = q ? cli_path(kind_by_name("Task"), ctx->ns, NULL, q) : NULL;
        _cleanup_reply_ struct cli_reply reply = {0};
        json_error_t jerr;

        if (!path) {
                cli_fail(ctx, "out of memory");
                return -ENOMEM;
        }
        int r = cli_http(ctx, "GET", path, NULL, NULL, 0, &reply);
        if (r < 0)
                return r;
        if (reply.status < 200 || reply.status >= 300) {
                cli_status_print(ctx, &reply);
                return -EPROTO;
        }
        _cleanup_json_ json_t *list =
            json_loadb(reply.body.data ? reply.body.data : "", reply.body.len, 0, &jerr);
        json_t *items = json_object_get(list, "items");
        if (!json_is_array(items)) {
                cli_fail(ctx, "invalid response from berthd: %s", list ? "no items" : jerr.text);
                return -EBADMSG;
        }
        *ret = json_incref(items);
        return 0;
}

/* -o tree: each named Workflow as its DAG (cli_workflow_tree_print), a blank
 * line between two. */
static int get_trees(struct cli_ctx *ctx, const struct cli_targets *t)
{
        bool failed = false;

        for (size_t i = 0; i < t->n; i++) {
                _cleanup_json_ json_t *o = NULL, *tasks = NULL;
                const char *name = t->items[i].name;
                int r = cli_get_object(ctx, t->items[i].kind, ctx->ns, name, &o);

                if (r == -ENOENT)
                        fprintf(ctx->err, "Error from server (NotFound): %s \"%s\" not found\n",
                                t->items[i].kind->resource, name);
                if (r == 0)
                        r = workflow_tasks(ctx, name, &tasks);
                if (r < 0) {
                        failed = true;
                        continue;
                }
                if (i > 0)
                        fputc('\n', ctx->out);
                r = cli_workflow_tree_print(ctx->out, o, tasks, time_now_ms());
                fflush(ctx->out);
                if (r < 0)
                        return cli_fail(ctx, "cannot print: %s", strerror(-r));
        }
        return failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

/* "berth get leader": who runs the controllers (GET /apis/berth/v1/leader). */
static int get_leader(struct cli_ctx *ctx, enum output output, bool no_headers)
{
        _cleanup_reply_ struct cli_reply reply = {0};
        json_error_t jerr;

        if (cli_http(ctx, "GET", "/apis/berth/v1/leader", NULL, NULL, 0, &reply) < 0)
                return CLI_EXIT_FAIL;
        if (reply.status < 200 || reply.status >= 300)
                return cli_status_print(ctx, &reply);
        _cleanup_json_ json_t *leader =
            json_loadb(reply.body.data ? reply.body.data : "", reply.body.len, 0, &jerr);
        if (!json_is_object(leader))
                return cli_fail(ctx, "invalid response from berthd: %s", jerr.text);
        if (output == OUT_JSON || output == OUT_YAML) {
                int r = output == OUT_JSON ? cli_print_json(ctx->out, leader)
                                           : cli_print_yaml(ctx->out, leader);
                fflush(ctx->out);
                return r < 0 ? cli_fail(ctx, "cannot print: %s", strerror(-r)) : CLI_EXIT_OK;
        }
        const char *holder = json_path_string(leader, "holder");
        if (output == OUT_NAME) {
                fprintf(ctx->out, "%s\n", holder ? holder : "");
                fflush(ctx->out);
                return CLI_EXIT_OK;
        }
        const char *renew = json_path_string(leader, "renewTime");
        char age[32] = "<none>";
        int64_t renew_ms;
        if (renew && time_parse_rfc3339(renew, &renew_ms) == 0) {
                int64_t d = time_now_ms() - renew_ms;
                age_format(d > 0 ? d : 0, age, sizeof(age));
                strncat(age, " ago", sizeof(age) - strlen(age) - 1);
        }
        int w = holder && strlen(holder) > 6 ? (int)strlen(holder) : 6;
        if (!no_headers)
                fprintf(ctx->out, "%-*s  %-5s  %s\n", w, "LEADER", "SELF", "RENEWED");
        fprintf(ctx->out, "%-*s  %-5s  %s\n", w, holder ? holder : "<none>",
                json_is_true(json_object_get(leader, "self")) ? "true" : "false", age);
        fflush(ctx->out);
        return CLI_EXIT_OK;
}

/* Targets of one kind: the names, or the whole kind when there are none. */
static int targets_of_kind(const struct kind_info *kind, char **args, size_t n,
                           struct cli_targets *ret)
{
        struct cli_target *items = calloc(n ? n : 1, sizeof(*items));

        if (!items)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                items[i] = (struct cli_target){kind, args[i]};
        if (n == 0)
                items[0] = (struct cli_target){kind, NULL};
        ret->items = items;
        ret->n = n ? n : 1;
        return 0;
}

/* berth get, or with fixed set the listing of that kind alone (whose
 * arguments are names). */
static int get_run(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv,
                   const struct kind_info *fixed)
{
        const char *output = NULL, *selector = NULL, *chunk_arg = NULL;
        bool watch_flag = false, no_headers = false, show_values = false;
        const struct cli_option opts[] = {
            {"output", 'o', CLI_OPT_STRING, "FORMAT",
             "wide, json, yaml or name; tree for named workflows", &output},
            {"selector", 'l', CLI_OPT_STRING, "SELECTOR", "label selector: app=demo,tier!=db",
             &selector},
            {"watch", 'w', CLI_OPT_BOOL, NULL, "after listing, print changes as they happen",
             &watch_flag},
            {"no-headers", 0, CLI_OPT_BOOL, NULL, "no header line in tables", &no_headers},
            {"show-values", 0, CLI_OPT_BOOL, NULL,
             "named Secrets with their values (base64) instead of <redacted>", &show_values},
            {"chunk-size", 0, CLI_OPT_STRING, "N",
             "read a list in pages of N objects, printing each as it comes (default 500; 0: "
             "one request)",
             &chunk_arg},
            {0},
        };
        _cleanup_free_ char **args = NULL;
        _cleanup_(cli_targets_release) struct cli_targets targets = {0};
        _cleanup_(printer_release) struct printer p = {.ctx = ctx};
        char errbuf[256];
        size_t nargs = 0;
        bool failed = false;
        int r;

        r = cli_parse_args(ctx, cmd, opts, argc, argv, &args, &nargs);
        if (r != 0)
                return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        if (output_parse(output, &p.output) < 0)
                return cli_usage_error(
                    ctx, cmd, "unknown output format \"%s\": want wide, json, yaml, name or tree",
                    output);
        p.no_headers = no_headers;
        size_t chunk = CHUNK_SIZE_DEFAULT;
        if (chunk_arg) {
                char *end = NULL;
                errno = 0;
                long long v = strtoll(chunk_arg, &end, 10);
                if (!*chunk_arg || *end || errno || v < 0 || v > CHUNK_SIZE_MAX)
                        return cli_usage_error(ctx, cmd,
                                               "invalid --chunk-size \"%s\": want a number from 0 "
                                               "to %d",
                                               chunk_arg, CHUNK_SIZE_MAX);
                chunk = (size_t)v;
        }
        if (fixed) {
                for (size_t i = 0; i < nargs; i++)
                        if (!name_is_valid(args[i]))
                                return cli_usage_error(ctx, cmd,
                                                       "invalid %s name \"%s\": want a DNS-1123 "
                                                       "label",
                                                       fixed->singular, args[i]);
                if (targets_of_kind(fixed, args, nargs, &targets) < 0)
                        return cli_fail(ctx, "out of memory");
        } else if (nargs == 1 && streq(args[0], "leader")) {
                if (p.output == OUT_TREE)
                        return cli_usage_error(ctx, cmd, "-o tree is for workflows");
                if (watch_flag || selector)
                        return cli_usage_error(ctx, cmd, "get leader takes no -w or -l");
                return get_leader(ctx, p.output, no_headers);
        } else if (cli_targets_parse(args, nargs, false, &targets, errbuf, sizeof(errbuf)) < 0) {
                return cli_usage_error(ctx, cmd, "%s", errbuf);
        }
        if (p.output == OUT_TREE) {
                for (size_t i = 0; i < targets.n; i++) {
                        if (!streq(targets.items[i].kind->kind, "Workflow"))
                                return cli_usage_error(ctx, cmd, "-o tree is for workflows, not %s",
                                                       targets.items[i].kind->resource);
                        if (!targets.items[i].name)
                                return cli_usage_error(ctx, cmd,
                                                       "-o tree draws named workflows: berth get "
                                                       "workflow NAME -o tree");
                }
                if (watch_flag || selector)
                        return cli_usage_error(ctx, cmd, "-o tree takes no -w or -l");
                return get_trees(ctx, &targets);
        }

        if (show_values) {
                for (size_t i = 0; i < targets.n; i++)
                        if (!streq(targets.items[i].kind->kind, "Secret") || !targets.items[i].name)
                                return cli_usage_error(ctx, cmd,
                                                       "--show-values is for named secrets: "
                                                       "berth get secret NAME --show-values");
                if (watch_flag)
                        return cli_usage_error(ctx, cmd, "--show-values takes no -w");
        }
        if (targets.items[0].name) {
                r = get_named(ctx, &p, &targets, show_values, &failed);
                if (r < 0)
                        return CLI_EXIT_FAIL;
                if (failed || !watch_flag)
                        return failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
                if (targets.n > 1)
                        return cli_fail(ctx, "watch is only supported on one object or a list");
                json_t *o = NULL;
                if (cli_get_object(ctx, targets.items[0].kind, ctx->ns, targets.items[0].name, &o) <
                    0)
                        return CLI_EXIT_FAIL;
                _cleanup_json_ json_t *obj = o;
                r = watch(&p, targets.items[0].kind, ctx->ns, targets.items[0].name, NULL,
                          json_path_string(obj, "metadata.resourceVersion"));
                return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
        }

        const struct kind_info *kind = targets.items[0].kind;
        const char *ns = ctx->all_namespaces ? NULL : ctx->ns;
        _cleanup_free_ char *esel = selector ? cli_escape(selector) : NULL;
        _cleanup_free_ char *q = esel ? str_printf("?labelSelector=%s", esel) : NULL;
        _cleanup_free_ char *path = cli_path(kind, ns, NULL, q ? q : "");
        _cleanup_json_ json_t *all = NULL;
        char rv[32];

        if (!path)
                return cli_fail(ctx, "out of memory");
        if (p.output == OUT_JSON || p.output == OUT_YAML) {
                all = json_array();
                if (!all)
                        return cli_fail(ctx, "out of memory");
        }
        struct get_pages g = {.p = &p, .kind = kind, .all = all};
        r = list_pages(ctx, path, chunk, print_page, &g, rv);
        if (r < 0)
                return CLI_EXIT_FAIL;

        if (all) {
                /* One List document, as the server's unpaged list. */
                _cleanup_free_ char *list_kind = str_printf("%sList", kind->kind);
                _cleanup_json_ json_t *list =
                    list_kind ? json_pack("{s:s, s:s, s:{s:s}, s:O}", "kind", list_kind,
                                          "apiVersion", MANIFEST_API_VERSION, "metadata",
                                          "resourceVersion", rv, "items", all)
                              : NULL;
                if (!list)
                        return cli_fail(ctx, "out of memory");
                r = p.output == OUT_JSON ? cli_print_json(ctx->out, list)
                                         : cli_print_yaml(ctx->out, list);
                p.printed = g.n;
        } else if (g.n == 0) {
                if (ctx->all_namespaces || !kind->namespaced)
                        fputs("No resources found\n", ctx->err);
                else
                        fprintf(ctx->err, "No resources found in %s namespace.\n", ctx->ns);
                r = 0;
        }
        fflush(ctx->out);
        if (r < 0)
                return cli_fail(ctx, "cannot print: %s", strerror(-r));
        if (!watch_flag)
                return CLI_EXIT_OK;
        r = watch(&p, kind, ns, NULL, selector, rv);
        return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

int cmd_get(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        return get_run(ctx, cmd, argc, argv, NULL);
}

int cli_get_kind(struct cli_ctx *ctx, const struct cli_command *cmd, const struct kind_info *kind,
                 int argc, char **argv)
{
        return get_run(ctx, cmd, argc, argv, kind);
}
