/* berth cron next: a schedule's next fire times, computed locally by the
 * cron module exactly as berthd computes them. */
#include "cli-internal.h"
#include "cron.h"

#define CRON_NEXT_DEFAULT 5
#define CRON_NEXT_MAX     1000

static const struct cli_command cron_next_command = {
    "cron next",
    "cron next SCHEDULE [--time-zone TZ] [--from TIME] [-n N]",
    "Print the next fire times of a schedule",
    "Print the next N fire times of a cron schedule (default 5, at most 1000)\n"
    "strictly after --from (default now), one RFC 3339 UTC time a line, in the\n"
    "time zone --time-zone (default UTC). For \"@every D\" the interval counts from\n"
    "--from. Quote the schedule.\n"
    "\n"
    "Examples:\n"
    "  berth cron next \"30 2 * * *\" --time-zone Europe/Berlin\n"
    "  berth cron next \"0 0 29 2 *\" -n 3 --from 2026-01-01T00:00:00Z\n"
    "  berth cron next \"@every 90m\" -n 4",
    NULL,
};

/* 1 to CRON_NEXT_MAX, digits only. */
static int parse_count(const char *s, int *ret)
{
        int n = 0;

        if (!s || !*s)
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9' || n > CRON_NEXT_MAX)
                        return -EINVAL;
                n = n * 10 + (*p - '0');
        }
        if (n < 1 || n > CRON_NEXT_MAX)
                return -EINVAL;
        *ret = n;
        return 0;
}

static int cron_next_run(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        const char *zone_name = NULL, *from_text = NULL, *count_text = NULL;
        const struct cli_option opts[] = {
            {"time-zone", 0, CLI_OPT_STRING, "TZ",
             "IANA time zone, e.g. Europe/Berlin (default UTC)", &zone_name},
            {"from", 0, CLI_OPT_STRING, "TIME",
             "RFC 3339 time to start after, e.g. 2026-01-01T00:00:00Z (default now)", &from_text},
            {"count", 'n', CLI_OPT_STRING, "N", "how many fire times (default 5, at most 1000)",
             &count_text},
            {0},
        };
        _cleanup_free_ char **args = NULL;
        _cleanup_(cron_schedule_freep) struct cron_schedule *schedule = NULL;
        _cleanup_(cron_zone_freep) struct cron_zone *zone = NULL;
        char msg[256];
        size_t nargs = 0;
        int count = CRON_NEXT_DEFAULT, r;
        int64_t from;

        r = cli_parse_args(ctx, cmd, opts, argc, argv, &args, &nargs);
        if (r != 0)
                return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        if (nargs == 0)
                return cli_usage_error(ctx, cmd, "a schedule is required, e.g. \"*/15 * * * *\"");
        if (nargs > 1)
                return cli_usage_error(ctx, cmd,
                                       "unexpected argument \"%s\": quote the schedule, e.g. "
                                       "berth cron next \"0 0 * * *\"",
                                       args[1]);
        if (count_text && parse_count(count_text, &count) < 0)
                return cli_usage_error(ctx, cmd, "invalid -n \"%s\": want a number from 1 to %d",
                                       count_text, CRON_NEXT_MAX);
        if (!from_text)
                from = time_now_ms();
        else if (time_parse_rfc3339(from_text, &from) < 0)
                return cli_usage_error(ctx, cmd,
                                       "invalid --from \"%s\": want an RFC 3339 time like "
                                       "2026-01-01T00:00:00Z",
                                       from_text);

        r = cron_schedule_parse(args[0], &schedule, msg, sizeof(msg));
        if (r < 0)
                return cli_fail(ctx, "schedule: %s", msg);
        r = cron_zone_open(zone_name, &zone, msg, sizeof(msg));
        if (r < 0)
                return cli_fail(ctx, "%s", msg);

        int64_t t = from;
        char text[RFC3339_MAX];
        int printed = 0;
        for (; printed < count; printed++) {
                if (cron_next(schedule, zone, from, t, &t) < 0)
                        break;
                time_format_rfc3339(t, text);
                fprintf(ctx->out, "%s\n", text);
        }
        /* The search covers CRON_SEARCH_YEARS and ends with the year 9999. */
        if (printed == 0)
                return cli_fail(ctx, "schedule \"%s\" does not fire within %d years", args[0],
                                CRON_SEARCH_YEARS);
        if (printed < count)
                fprintf(ctx->err,
                        "berth: no fire time after %s within %d years or before the year 10000\n",
                        text, CRON_SEARCH_YEARS);
        return CLI_EXIT_OK;
}

int cmd_cron(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
        _cleanup_free_ char **args = NULL;
        size_t nargs = 0;
        int r;

        if (argc >= 2 && streq(argv[1], "next"))
                return cron_next_run(ctx, &cron_next_command, argc - 1, argv + 1);
        r = cli_parse_args(ctx, cmd, NULL, argc, argv, &args, &nargs);
        if (r != 0)
                return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        if (nargs == 0)
                return cli_usage_error(ctx, cmd, "a subcommand is required: next");
        return cli_usage_error(ctx, cmd, "unknown subcommand \"%s\" for \"berth cron\": want next",
                               args[0]);
}
