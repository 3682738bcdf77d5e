/* berth top tasks|services: the resource use of running containers, like
 * `docker stats --no-stream`, from one GET of the collection with
 * ?stats=true. berthd samples the containers side by side on threads of its
 * own and reuses a sample for 2 s (docs/berthd.md), so one request answers
 * in about a second however many containers there are, and a command that
 * fanned out one request per object would gain nothing but round trips. */
#include "cli-internal.h"

#include <inttypes.h>

#define TOP_COLS 9

/* Docker's spellings: memory in powers of 1024 with four significant
 * digits, I/O in powers of 1000 with three. */
static void human_bytes(uint64_t n, bool binary, char *out, size_t size)
{
        static const char *const bin[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        static const char *const dec[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
        double base = binary ? 1024.0 : 1000.0;
        double v = (double)n;
        size_t i = 0;

        while (v >= base && i + 1 < ARRAY_SIZE(bin)) {
                v /= base;
                i++;
        }
        snprintf(out, size, binary ? "%.4g%s" : "%.3g%s", v, binary ? bin[i] : dec[i]);
}

void cli_bytes_binary(uint64_t n, char *out, size_t size)
{
        human_bytes(n, true, out, size);
}

void cli_bytes_decimal(uint64_t n, char *out, size_t size)
{
        human_bytes(n, false, out, size);
}

static const char *text_of(const json_t *e, const char *key)
{
        const char *v = json_string_value(json_object_get(e, key));
        return v ? v : "";
}

static uint64_t counter(const json_t *e, const char *path)
{
        int64_t v = json_path_int(e, path, 0);
        return v > 0 ? (uint64_t)v : 0;
}

/* "A / B" of two counters of the object at path, or "-" when it is null. */
static char *pair_text(const json_t *e, const char *path, const char *a, const char *b, bool binary)
{
        const json_t *o = json_path(e, path);
        char x[32], y[32];

        if (!json_is_object(o))
                return strdup("-");
        human_bytes(counter(o, a), binary, x, sizeof(x));
        human_bytes(counter(o, b), binary, y, sizeof(y));
        return str_printf("%s / %s", x, y);
}

/* The cells of one entry of a StatsList into cells (caller frees them),
 * their count into *ncols. -ENOMEM. */
static int entry_cells(const json_t *e, const struct cli_top_opts *o, char **cells, size_t *ncols)
{
        size_t n = 0;
        const json_t *cpu = json_object_get(e, "cpuPercent");
        const char *error = json_string_value(json_object_get(e, "error"));

        if (o->all_namespaces)
                cells[n++] = strdup(text_of(e, "namespace"));
        cells[n++] = strdup(text_of(e, "name"));
        if (o->replicas)
                cells[n++] = str_printf("%" PRId64, json_path_int(e, "replica", -1));
        if (error) {
                /* A sample that failed: its columns say nothing. */
                for (int k = 0; k < 5; k++)
                        cells[n++] = strdup("-");
        } else {
                cells[n++] = json_is_number(cpu) ? str_printf("%.2f%%", json_number_value(cpu))
                                                 : strdup("-");
                cells[n++] = pair_text(e, "memory", "usageBytes", "limitBytes", true);
                cells[n++] = str_printf("%" PRId64, json_path_int(e, "pids", 0));
                cells[n++] = pair_text(e, "network", "rxBytes", "txBytes", false);
                cells[n++] = pair_text(e, "blockIO", "readBytes", "writeBytes", false);
        }
        *ncols = n;
        for (size_t k = 0; k < n; k++)
                if (!cells[k])
                        return -ENOMEM;
        return 0;
}

int cli_top_print(FILE *out, FILE *err, const json_t *items, const struct cli_top_opts *o)
{
        const char *titles[TOP_COLS];
        size_t nt = 0, nrows = json_array_size(items), ncols = 0;
        size_t widths[TOP_COLS] = {0};
        int r = 0;

        if (o->all_namespaces)
                titles[nt++] = "NAMESPACE";
        titles[nt++] = "NAME";
        if (o->replicas)
                titles[nt++] = "REPLICA";
        titles[nt++] = "CPU%";
        titles[nt++] = "MEMORY";
        titles[nt++] = "PIDS";
        titles[nt++] = "NET I/O";
        titles[nt++] = "BLOCK I/O";
        for (size_t c = 0; c < nt && !o->no_headers; c++)
                widths[c] = strlen(titles[c]);

        char **cells = calloc(nrows * nt + 1, sizeof(char *));
        if (!cells)
                return -ENOMEM;
        for (size_t i = 0; i < nrows && r == 0; i++) {
                r = entry_cells(json_array_get(items, i), o, cells + i * nt, &ncols);
                for (size_t c = 0; r == 0 && c < ncols; c++)
                        if (strlen(cells[i * nt + c]) > widths[c])
                                widths[c] = strlen(cells[i * nt + c]);
        }
        if (r == 0 && nrows > 0) {
                if (!o->no_headers)
                        cli_emit_row(out, "", titles, nt, widths, NULL, false);
                for (size_t i = 0; i < nrows; i++)
                        cli_emit_row(out, "", (const char *const *)cells + i * nt, nt, widths, NULL,
                                     false);
        }
        /* Which samples failed, and why, after the table. */
        for (size_t i = 0; r == 0 && i < nrows; i++) {
                const json_t *e = json_array_get(items, i);
                const char *error = json_string_value(json_object_get(e, "error"));
                if (error)
                        fprintf(err, "warning: %s/%s: %s\n", text_of(e, "namespace"),
                                text_of(e, "name"), error);
        }
        for (size_t k = 0; k < nrows * nt; k++)
                free(cells[k]);
        free(cells);
        if (r == 0 && (ferror(out) || ferror(err)))
                r = -EIO;
        return r;
}

int cmd_top(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        const char *selector = NULL;
        bool no_headers = false;
        const struct cli_option opts[] = {
            {"selector", 'l', CLI_OPT_STRING, "SELECTOR", "label selector: app=demo,tier!=db",
             &selector},
            {"no-headers", 0, CLI_OPT_BOOL, NULL, "no header line", &no_headers},
            {0},
        };
        _cleanup_free_ char **args = NULL;
        _cleanup_reply_ struct cli_reply reply = {0};
        size_t nargs = 0;
        int r;

        r = cli_parse_args(ctx, cmd, opts, argc, argv, &args, &nargs);
        if (r != 0)
                return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        if (nargs == 0)
                return cli_usage_error(ctx, cmd, "what to show: tasks or services");
        if (nargs > 1)
                return cli_usage_error(ctx, cmd, "unexpected argument \"%s\"", args[1]);
        const struct kind_info *kind = kind_lookup(args[0]);
        if (!kind || !kind_has_subresource(kind, "stats"))
                return cli_usage_error(ctx, cmd, "no stats for \"%s\": want tasks or services",
                                       args[0]);

        _cleanup_free_ char *esel = selector ? cli_escape(selector) : NULL;
        _cleanup_free_ char *query =
            str_printf("?stats=true%s%s", esel ? "&labelSelector=" : "", esel ? esel : "");
        _cleanup_free_ char *path =
            query ? cli_path(kind, ctx->all_namespaces ? NULL : ctx->ns, NULL, query) : NULL;
        if ((selector && !esel) || !path)
                return cli_fail(ctx, "out of memory");
        if (cli_http(ctx, "GET", path, NULL, NULL, 0, &reply) < 0)
                return CLI_EXIT_FAIL;
        if (reply.status < 200 || reply.status >= 300)
                return cli_status_print(ctx, &reply);
        _cleanup_json_ json_t *list =
            json_loadb(reply.body.data ? reply.body.data : "", reply.body.len, 0, NULL);
        const json_t *items = json_object_get(list, "items");
        if (!json_is_array(items))
                return cli_fail(ctx, "invalid response from berthd: no items");
        if (json_array_size(items) == 0) {
                if (ctx->all_namespaces)
                        fprintf(ctx->err, "No running %s found\n", kind->resource);
                else
                        fprintf(ctx->err, "No running %s found in %s namespace.\n", kind->resource,
                                ctx->ns);
                return CLI_EXIT_OK;
        }
        struct cli_top_opts o = {
            .all_namespaces = ctx->all_namespaces,
            .replicas = streq(kind->kind, "Service"),
            .no_headers = no_headers,
        };
        r = cli_top_print(ctx->out, ctx->err, items, &o);
        if (r < 0)
                return cli_fail(ctx, "cannot print: %s", strerror(-r));
        return CLI_EXIT_OK;
}
