/* berth auth whoami | can-i: what berthd makes of the caller.
 *
 *   GET /apis/berth/v1/auth/whoami
 *       {"user": "alice", "groups": ["dev"], "authenticatedBy": "token"}
 *   GET /apis/berth/v1/auth/can-i?verb=V&resource=R[&namespace=NS][&name=N]
 *       [&as=USER][&asGroup=G]...
 *       {"allowed": true, "reason": "..."}; 400 for an unknown verb or
 *       resource, 403 when a non-admin asks --as.
 *
 * can-i answers with its exit status like kubectl's: 0 yes, 1 no, and
 * CLI_EXIT_ERROR (2) when there is no answer, so that a script never takes
 * an error for a "no". */
#include "cli-internal.h"

/* GETs path and parses the JSON object it answers. 0, or the exit code
 * after printing why. */
static int get_json(struct cli_ctx *ctx, const char *path, int fail_code, json_t **ret)
{
        _cleanup_reply_ struct cli_reply reply = {0};
        json_error_t jerr;

        if (cli_http(ctx, "GET", path, NULL, NULL, 0, &reply) < 0)
                return fail_code;
        if (reply.status < 200 || reply.status >= 300) {
                cli_status_print(ctx, &reply);
                return fail_code;
        }
        json_t *j = json_loadb(reply.body.data ? reply.body.data : "", reply.body.len, 0, &jerr);
        if (!json_is_object(j)) {
                cli_fail(ctx, "invalid response from berthd: %s", j ? "not an object" : jerr.text);
                json_decref(j);
                return fail_code;
        }
        *ret = j;
        return 0;
}

/* ---- whoami ------------------------------------------------------------------ */

static int auth_whoami(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        const char *output = NULL;
        const struct cli_option opts[] = {
            {"output", 'o', CLI_OPT_STRING, "FORMAT", "json or yaml", &output},
            {0},
        };
        _cleanup_free_ char **args = NULL;
        _cleanup_json_ json_t *who = NULL;
        size_t nargs = 0;
        int r;

        r = cli_parse_args(ctx, cmd, opts, argc, argv, &args, &nargs);
        if (r != 0)
                return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        if (nargs > 0)
                return cli_usage_error(ctx, cmd, "unexpected argument \"%s\"", args[0]);
        if (output && !streq(output, "json") && !streq(output, "yaml"))
                return cli_usage_error(ctx, cmd, "unknown output format \"%s\": want json or yaml",
                                       output);
        r = get_json(ctx, CLI_API_PREFIX "/auth/whoami", CLI_EXIT_FAIL, &who);
        if (r != 0)
                return r;
        if (output) {
                r = streq(output, "json") ? cli_print_json(ctx->out, who)
                                          : cli_print_yaml(ctx->out, who);
                return r < 0 ? cli_fail(ctx, "cannot print: %s", strerror(-r)) : CLI_EXIT_OK;
        }

        const char *user = json_path_string(who, "user");
        const char *by = json_path_string(who, "authenticatedBy");
        json_t *groups = json_object_get(who, "groups");
        size_t i;
        json_t *g;

        if (!user)
                return cli_fail(ctx, "invalid response from berthd: no user");
        fprintf(ctx->out, "user: %s\ngroups: ", user);
        json_array_foreach(groups, i, g)
        {
                const char *name = json_string_value(g);
                fprintf(ctx->out, "%s%s", i > 0 ? ", " : "", name ? name : "?");
        }
        fprintf(ctx->out, "%s\nauthenticated by: %s\n",
                json_array_size(groups) == 0 ? "<none>" : "", by ? by : "<unknown>");
        return CLI_EXIT_OK;
}

/* ---- can-i ------------------------------------------------------------------- */

/* The plural resource of a name the CLI knows in any spelling (task, tk,
 * Tasks), "*" as is, and other names as they are: berthd may know
 * resources this berth does not (it answers 400 for a wrong one). *ret_kind
 * is NULL for those. */
static const char *can_i_resource(const char *name, const struct kind_info **ret_kind)
{
        const struct kind_info *kind = streq(name, "*") ? NULL : kind_lookup(name);

        *ret_kind = kind;
        return kind ? kind->resource : name;
}

/* "&key=value", escaped, appended to b. */
static int query_add(struct buf *b, const char *key, const char *value)
{
        _cleanup_free_ char *e = cli_escape(value);

        if (!e)
                return -ENOMEM;
        return buf_printf(b, "%s%s=%s", b->len == 0 ? "?" : "&", key, e);
}

static int auth_can_i(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        const char *as = NULL;
        struct cli_list as_groups = {0};
        bool quiet = false, reason = false;
        const struct cli_option opts[] = {
            {"as", 0, CLI_OPT_STRING, "USER", "ask for another user (admins only)", &as},
            {"as-group", 0, CLI_OPT_LIST, "GROUP", "...in this group (repeatable; needs --as)",
             &as_groups},
            {"reason", 0, CLI_OPT_BOOL, NULL, "print berthd's reason on a second line", &reason},
            {"quiet", 'q', CLI_OPT_BOOL, NULL, "print nothing: the exit status answers", &quiet},
            {0},
        };
        _cleanup_free_ char **args = NULL;
        _cleanup_buf_ struct buf q = {0};
        _cleanup_json_ json_t *answer = NULL;
        const struct kind_info *kind = NULL;
        const char *name = NULL;
        size_t nargs = 0;
        int r;

        r = cli_parse_args(ctx, cmd, opts, argc, argv, &args, &nargs);
        if (r != 0)
                return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        if (nargs < 2)
                return cli_usage_error(ctx, cmd,
                                       "want VERB RESOURCE [NAME], e.g. berth auth can-i "
                                       "create tasks");
        if (nargs > 3)
                return cli_usage_error(ctx, cmd, "unexpected argument \"%s\"", args[3]);
        if (as_groups.n > 0 && !as)
                return cli_usage_error(ctx, cmd, "--as-group needs --as USER");
        if (as && !*as)
                return cli_usage_error(ctx, cmd, "--as may not be empty");

        /* KIND/NAME as everywhere else in berth. */
        const char *resource_arg = args[1];
        _cleanup_free_ char *kind_part = NULL;
        const char *slash = strchr(resource_arg, '/');
        if (slash) {
                if (nargs == 3)
                        return cli_usage_error(
                            ctx, cmd, "give the name once: %s or %.*s %s, not both", resource_arg,
                            (int)(slash - resource_arg), resource_arg, args[2]);
                if (!(kind_part = strndup(resource_arg, (size_t)(slash - resource_arg))))
                        return cli_fail(ctx, "out of memory");
                resource_arg = kind_part;
                name = slash + 1;
                if (!*name || !*resource_arg)
                        return cli_usage_error(ctx, cmd, "invalid argument \"%s\": want KIND/NAME",
                                               args[1]);
        } else if (nargs == 3) {
                name = args[2];
        }
        const char *resource = can_i_resource(resource_arg, &kind);

        /* A namespaced kind is asked about in -n (kubectl's default
         * namespace too), or in every namespace with -A; a cluster-scoped
         * one in none. */
        bool namespaced = kind ? kind->namespaced : true;
        buf_init(&q, 64 * 1024);
        r = query_add(&q, "verb", args[0]);
        if (r == 0)
                r = query_add(&q, "resource", resource);
        if (r == 0 && namespaced && !ctx->all_namespaces)
                r = query_add(&q, "namespace", ctx->ns);
        if (r == 0 && name)
                r = query_add(&q, "name", name);
        if (r == 0 && as)
                r = query_add(&q, "as", as);
        for (size_t i = 0; r == 0 && i < as_groups.n; i++)
                r = query_add(&q, "asGroup", as_groups.v[i]);
        if (r < 0) {
                cli_fail(ctx, r == -E2BIG ? "the question is too long" : "out of memory");
                return CLI_EXIT_ERROR;
        }

        _cleanup_free_ char *path = str_printf(CLI_API_PREFIX "/auth/can-i%s", q.data);
        if (!path) {
                cli_fail(ctx, "out of memory");
                return CLI_EXIT_ERROR;
        }
        r = get_json(ctx, path, CLI_EXIT_ERROR, &answer);
        if (r != 0)
                return r;
        json_t *allowed = json_object_get(answer, "allowed");
        if (!json_is_boolean(allowed)) {
                cli_fail(ctx, "invalid response from berthd: no allowed");
                return CLI_EXIT_ERROR;
        }
        if (!quiet) {
                const char *why = json_path_string(answer, "reason");
                fprintf(ctx->out, "%s\n", json_is_true(allowed) ? "yes" : "no");
                if (reason && why && *why)
                        fprintf(ctx->out, "%s\n", why);
        }
        return json_is_true(allowed) ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static const struct cli_command auth_commands[] = {
    {"auth whoami", "auth whoami [-o json|yaml]", "Show who berthd takes you for",
     "Print the user and groups berthd takes you for, and how it recognised you:\n"
     "unix (the socket's owner or group), token or certificate (a TLS client\n"
     "certificate).\n"
     "\n"
     "Examples:\n"
     "  berth auth whoami\n"
     "  berth --config /var/lib/berth/admin.conf auth whoami -o json",
     auth_whoami},
    {"auth can-i",
     "auth can-i VERB RESOURCE [NAME] | VERB KIND/NAME [-n NS | -A] [--as USER [--as-group "
     "GROUP]...] [--reason] [-q]",
     "Check whether an action is allowed",
     "Ask berthd whether you may do VERB (get, list, watch, create, update,\n"
     "delete, ...) on RESOURCE, and print yes or no. RESOURCE is any name of a kind\n"
     "(task, tasks, tk, ...), or * for every resource; NAME narrows it to one\n"
     "object. A namespaced resource is asked about in -n (default \"default\"), or in\n"
     "every namespace with -A.\n"
     "\n"
     "--as USER (and --as-group) asks on behalf of someone else: for admins only.\n"
     "\n"
     "Exit status: 0 yes, 1 no, 2 when berthd could not answer (an unknown verb or\n"
     "resource, --as refused, no connection) or on a usage error.\n"
     "\n"
     "Examples:\n"
     "  berth auth can-i create tasks -n team-a\n"
     "  berth auth can-i delete workflow/etl\n"
     "  berth auth can-i '*' '*' -A\n"
     "  berth auth can-i get tokens --as alice --as-group dev --reason",
     auth_can_i},
};

int cmd_auth(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        return cli_run_subcommand(ctx, cmd, auth_commands, ARRAY_SIZE(auth_commands),
                                  "whoami or can-i", argc, argv);
}
