/* berth: dispatch, global flags, the argument parser, the server address and
 * resource-argument parsing. */
#include <ctype.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "cli-internal.h"

static const struct cli_command commands[] = {
    {"apply", "apply -f FILE|DIR|- [-f ...] [-R] [--dry-run]",
     "Create or update objects from manifest files",
     "Create or update objects from YAML or JSON manifests.\n"
     "\n"
     "The manifests are parsed and validated locally first: any error is reported\n"
     "with file:line:column and nothing is sent. Then the documents go to berthd in\n"
     "batches of at most 500 documents and 4 MiB, in file order, and each object's\n"
     "result is printed as its batch is answered (created, configured, unchanged).\n"
     "A batch that fails stops the apply: the error says how many objects the\n"
     "batches before it applied, and the rest are not sent. A document without\n"
     "metadata.namespace goes to -n NAMESPACE.\n"
     "\n"
     "Examples:\n"
     "  berth apply -f task.yaml\n"
     "  berth apply -f manifests/ -R\n"
     "  cat task.yaml | berth apply -f -\n"
     "  berth apply -f task.yaml --dry-run",
     cmd_apply},
    {"diff", "diff -f FILE|DIR|- [-f ...] [-R] [--prune --source NAME]",
     "Show what applying manifests would change",
     "Show, as a unified diff per object (like diff -u), how the objects in berthd\n"
     "differ from the manifests: \"--- live/RESOURCE/NAMESPACE/NAME\" is berthd's,\n"
     "\"+++ file/RESOURCE/NAMESPACE/NAME\" the files'. Both sides are compared as\n"
     "apply compares them: defaults filled in, without status and the metadata\n"
     "berthd sets (uid, generation, resourceVersion, creationTimestamp, finalizers,\n"
     "...) and without the label and annotations a Source puts on what it applies.\n"
     "An object berthd does not have yet is all \"+\". The manifests are validated\n"
     "first, as apply does; nothing is changed.\n"
     "\n"
     "With --prune --source NAME the files are taken as the Source NAME (in -n)\n"
     "would read them: documents without a namespace go to its targetNamespace, and\n"
     "the objects it applied that the files no longer hold are shown all \"-\" (as\n"
     "its next sync would prune them; not those annotated berth.prune: disabled).\n"
     "\n"
     "Exit status: 0 no differences, 1 differences, 2 an error (like kubectl diff).\n"
     "\n"
     "Examples:\n"
     "  berth diff -f task.yaml\n"
     "  berth diff -f manifests/ -R\n"
     "  berth diff -n ops -f /srv/manifests/site -R --prune --source site",
     cmd_diff},
    {"get", "get KIND [NAME...] | KIND/NAME... [-o wide|json|yaml|name|tree] [-l SELECTOR] [-w]",
     "Display one or many objects",
     "Display one or many objects.\n"
     "\n"
     "KIND is any name of a kind: task, tasks, tk; workflow, workflows, wf;\n"
     "crontask, crontasks, ct; service, services, svc; source, sources, src.\n"
     "Without NAME every object of the kind in the namespace is listed (-A: in every\n"
     "namespace). Tasks show PHASE ATTEMPTS EXIT AGE (-o wide: REASON CONTAINER\n"
     "IMAGE); workflows show PHASE PROGRESS AGE (-o wide: DURATION REASON MESSAGE);\n"
     "crontasks show SCHEDULE TIMEZONE SUSPEND ACTIVE LAST NEXT AGE (-o wide:\n"
     "MISSED); services show READY UP-TO-DATE AVAILABLE RESTARTS AGE (-o wide: IMAGE\n"
     "REVISION); sources show PATH REVISION OBJECTS READY AGE.\n"
     "-o tree draws named workflows as their DAG: each step with its phase, duration\n"
     "and dependencies, the children of fanned-out steps, then onExit.\n"
     "`berth get leader` shows which berthd replica leads (HA on etcd).\n"
     "\n"
     "Examples:\n"
     "  berth get tasks\n"
     "  berth get leader\n"
     "  berth get task hello -o yaml\n"
     "  berth get tasks -l app=demo -o wide\n"
     "  berth get tasks -l berth.workflow=etl\n"
     "  berth get wf -w\n"
     "  berth get wf etl -o tree\n"
     "  berth get task/hello workflow/etl",
     cmd_get},
    {"describe", "describe KIND NAME | KIND/NAME", "Show details of an object",
     "Show details of an object: metadata, a summary of its spec, its status and\n"
     "conditions. For a workflow also its steps (phase, task, exit code, duration,\n"
     "reason) and the first line of each step's result; for a service its replicas\n"
     "(revision, container, state, health, restarts, last exit, host ports); for a\n"
     "source its path, revision, files, objects by kind, the files in error\n"
     "(file:line:column: message), conflicts, the last prune and the drift corrected.\n"
     "Last, the object's 10 most recent Events (see `berth events`).\n"
     "\n"
     "Examples:\n"
     "  berth describe task hello\n"
     "  berth describe task/hello\n"
     "  berth describe wf etl",
     cmd_describe},
    {"events", "events [-n NS | -A] [--for KIND/NAME] [--types Warning[,Normal]] [-w] [-o wide]",
     "List what happened to objects",
     "List Events: what berthd did to objects and what happened to them (a\n"
     "container created, started, failed, backed off; a step started; a run\n"
     "created; a replica restarted), oldest first. A repeat of an Event within\n"
     "10 minutes counts on the same one (COUNT with -o wide). berthd keeps an Event\n"
     "for --event-ttl (default 1h) after it last happened.\n"
     "\n"
     "--for KIND/NAME shows one object's (those of an earlier object of that name\n"
     "too: `berth describe` shows those of the object itself). --types Warning shows\n"
     "only what went wrong. -w prints Events as they are recorded or counted on.\n"
     "\n"
     "Examples:\n"
     "  berth events\n"
     "  berth events -A --types Warning\n"
     "  berth events --for task/hello\n"
     "  berth events --for workflow/etl -w",
     cmd_events},
    {"logs",
     "logs [-f] [--tail N] [--attempt K] [--timestamps] [task/]NAME | workflow/NAME "
     "[--step STEP] | service/NAME [--replica I]",
     "Print the logs of a task, workflow or service",
     "Print the output of a task's container (the latest attempt unless --attempt).\n"
     "\n"
     "For a workflow, print the output of each step's task in step order, then the\n"
     "exit handler's, each after a line \"==> step NAME (task TASK) <==\"; steps that\n"
     "have no task yet are skipped, and --tail, --attempt and --timestamps apply to\n"
     "each step. --step STEP prints that step's task alone, and -f follows it; for a\n"
     "fanned-out step (withItems, withParam) its children WORKFLOW-STEP-I side by\n"
     "side, each line after \"[STEP-I] \" (with -f at most 64 followed at once, the\n"
     "others in turn). --step onExit is the exit handler. -f on a workflow needs\n"
     "--step.\n"
     "\n"
     "For a service, print the output of every replica (the indexes in\n"
     "status.replicaStatuses) side by side as it arrives, each line after\n"
     "\"[NAME-INDEX] \"; with -f until every replica's stream ends or Ctrl-C. Each\n"
     "replica is read from its newest container. --replica I prints that replica\n"
     "alone, without prefixes.\n"
     "\n"
     "Examples:\n"
     "  berth logs hello\n"
     "  berth logs -f task/hello\n"
     "  berth logs --tail 20 --attempt 2 task hello\n"
     "  berth logs workflow/etl\n"
     "  berth logs -f workflow/etl --step transform\n"
     "  berth logs wf/etl --step onExit\n"
     "  berth logs -f --tail 10 service/web\n"
     "  berth logs svc/web --replica 1",
     cmd_logs},
    {"top", "top tasks|services [-l SELECTOR] [--no-headers]",
     "Show the CPU, memory and I/O of running containers",
     "Show the resource use of the running containers of tasks (a task's latest\n"
     "attempt) or services (one line per replica) in the namespace (-A: in every\n"
     "namespace), as docker stats does: CPU% (100% is one CPU busy), MEMORY (use\n"
     "without the file cache / limit), PIDS, NET I/O and BLOCK I/O (read / written\n"
     "since the container started; \"-\" without a network of its own). berthd\n"
     "samples each container over about a second and reuses a sample for 2 s.\n"
     "Needs the right to get the objects.\n"
     "\n"
     "Examples:\n"
     "  berth top tasks\n"
     "  berth top tasks -A\n"
     "  berth top services -l app=web",
     cmd_top},
    {"wait", "wait KIND/NAME... --for=condition=TYPE[=STATUS] | --for=delete [--timeout 60s]",
     "Wait for a condition on objects",
     "Wait until a condition holds on each named object.\n"
     "\n"
     "--for=condition=TYPE[=STATUS] waits until the object has a condition TYPE with\n"
     "STATUS (default True); TYPE and STATUS match case-insensitively. A finished task\n"
     "or workflow (phase Succeeded or Failed) can no longer change, so waiting on it for\n"
     "a condition it does not have fails at once. --for=delete waits until the object\n"
     "is gone.\n"
     "\n"
     "The object must exist when the wait starts (else NotFound, exit 1). Exit status:\n"
     "0 when met, 1 on timeout, when the condition can no longer be met, or when the\n"
     "object is deleted while waiting for a condition. --timeout=0 checks once.\n"
     "\n"
     "Examples:\n"
     "  berth wait task/hello --for=condition=Succeeded --timeout 2m\n"
     "  berth wait workflow/etl --for=condition=Succeeded --timeout 1h\n"
     "  berth wait task hello --for=delete",
     cmd_wait},
    {"submit", "submit FILE [-p NAME=VALUE]... [--wait [--timeout DURATION]]",
     "Run a workflow from a file",
     "Create a new Workflow from FILE (one Workflow document) and print its name.\n"
     "\n"
     "Each -p NAME=VALUE sets the value of the parameter NAME of spec.parameters;\n"
     "a name the workflow does not declare is an error. The workflow is created as\n"
     "a new object: with metadata.generateName instead of metadata.name berthd names\n"
     "each run (generateName followed by 5 random characters), so the same file can\n"
     "be submitted again and again. With metadata.name, submitting it twice fails\n"
     "with AlreadyExists.\n"
     "\n"
     "With --wait the command follows the workflow until it finished: exit status 0\n"
     "when it succeeded, 1 when it failed (its reason and message are printed), was\n"
     "deleted, or --timeout passed first (default: no limit).\n"
     "\n"
     "Examples:\n"
     "  berth submit examples/workflow/submit.yaml\n"
     "  berth submit etl.yaml -p day=2026-12-01 --wait --timeout 1h",
     cmd_submit},
    {"stop", "stop task/NAME | workflow/NAME", "Stop a task or a workflow",
     "Stop a running task or workflow: set its spec.shutdown to Stop.\n"
     "\n"
     "berthd stops a task's running container (SIGTERM, then SIGKILL after its\n"
     "grace period) and fails the task with reason Stopped; a task that has not\n"
     "started yet fails at once. For a workflow it stops the running steps, starts\n"
     "no new ones, runs its onExit handler and fails it with reason Stopped.\n"
     "A task or workflow that has finished already, or is stopping, is left alone\n"
     "(exit status 0). `berth retry` runs a stopped workflow's unfinished steps again.\n"
     "\n"
     "Examples:\n"
     "  berth stop workflow/etl\n"
     "  berth stop task hello",
     cmd_stop},
    {"retry", "retry workflow/NAME [--wait [--timeout DURATION]]", "Run a failed workflow again",
     "Run the failed and skipped steps of a Failed workflow again, and every step\n"
     "downstream of them; the other steps keep their phase and results. Sets the annotation\n"
     "berth/retry to the time of the request and removes spec.shutdown (a stopped\n"
     "workflow can be retried) in one write; berthd records the retry it took up in\n"
     "status.retriedFor. A workflow that is not Failed is refused.\n"
     "\n"
     "With --wait the command follows the workflow until the rerun finished: exit\n"
     "status 0 when it succeeded, 1 when it failed again (its reason and message\n"
     "are printed), was deleted, or --timeout passed first (default: no limit).\n"
     "\n"
     "Examples:\n"
     "  berth retry workflow/etl\n"
     "  berth retry wf etl --wait --timeout 1h",
     cmd_retry},
    {"cp", "cp workflow/NAME:STEP/FILE DEST|-", "Copy a file output of a workflow step",
     "Copy one file a workflow step recorded (its outputs.files) to DEST: a file\n"
     "(created or replaced), a directory (the file gets the name FILE in it) or - for\n"
     "standard output. The bytes are the file's as the step left it. `berth describe\n"
     "workflow NAME` does not list them; GET .../workflows/NAME/results does, with\n"
     "their sizes.\n"
     "\n"
     "Examples:\n"
     "  berth cp workflow/etl:test/report report.xml\n"
     "  berth cp wf/etl:build/digest - | cut -c1-12\n"
     "  berth cp -n ci workflow/build-x2b4z:test/coverage ./out/",
     cmd_cp},
    {"delete",
     "delete KIND NAME... | KIND/NAME... | -f FILE|DIR [-R] [--wait=true] [--timeout 60s]",
     "Delete objects",
     "Delete objects by kind and name or by manifest file.\n"
     "\n"
     "With --wait (the default) the command returns when the objects are gone, after\n"
     "their finalizers ran (a task's containers are removed; a workflow's step tasks\n"
     "and results), or fails after --timeout.\n"
     "\n"
     "Examples:\n"
     "  berth delete task hello\n"
     "  berth delete -f task.yaml --wait=false\n"
     "  berth delete task/a task/b --ignore-not-found\n"
     "  berth delete wf etl",
     cmd_delete},
    {"cron", "cron next SCHEDULE [--time-zone TZ] [--from TIME] [-n N]",
     "Show when a cron schedule fires",
     "Show when a cron schedule fires, without asking berthd.\n"
     "\n"
     "berth cron next prints the next N fire times (default 5, at most 1000) strictly\n"
     "after --from (default now), one RFC 3339 UTC time a line, computed as berthd\n"
     "computes them: in the IANA time zone --time-zone (default UTC), with the same\n"
     "daylight saving rules. For \"@every D\" the interval counts from --from.\n"
     "\n"
     "SCHEDULE is \"MINUTE HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK\" (*, lists, ranges,\n"
     "steps, JAN-DEC, SUN-SAT, ?), a macro (@yearly, @monthly, @weekly, @daily,\n"
     "@hourly) or \"@every DURATION\"; quote it. Exit status 1 when the schedule or\n"
     "the zone is invalid, or when the schedule never fires.\n"
     "\n"
     "Examples:\n"
     "  berth cron next \"*/15 9-17 * * MON-FRI\" --time-zone Europe/Berlin\n"
     "  berth cron next \"0 0 29 2 *\" -n 3 --from 2026-01-01T00:00:00Z\n"
     "  berth cron next \"@every 90m\" -n 4",
     cmd_cron},
    {"trigger", "trigger crontask/NAME [--force]", "Run a CronTask now",
     "Run a CronTask now, outside its schedule: berthd creates the run\n"
     "<name>-manual-<unix seconds> from its template. concurrencyPolicy still\n"
     "applies (Forbid records the run as missed while one is active, Replace stops\n"
     "the active ones first) unless --force. A trigger also runs while the\n"
     "CronTask is suspended.\n"
     "\n"
     "Examples:\n"
     "  berth trigger crontask/nightly-report\n"
     "  berth trigger ct nightly-report --force",
     cmd_trigger},
    {"suspend", "suspend crontask/NAME", "Stop a CronTask's schedule",
     "Set spec.suspend: no scheduled run starts until `berth resume`; runs already\n"
     "started go on. Times that come due meanwhile are missed, and on resume the\n"
     "CronTask's catchUp policy decides about them.\n"
     "\n"
     "Example:\n"
     "  berth suspend crontask/nightly-report",
     cmd_suspend},
    {"resume", "resume crontask/NAME", "Start a suspended CronTask's schedule again",
     "Clear spec.suspend. The times missed while suspended are handled by the\n"
     "CronTask's catchUp policy (None, Latest, All).\n"
     "\n"
     "Example:\n"
     "  berth resume crontask/nightly-report",
     cmd_resume},
    {"scale", "scale service/NAME --replicas N", "Set the number of replicas of a Service",
     "Set spec.replicas of a Service (0 to 1000); berthd then starts or stops\n"
     "replicas. The change is a compare-and-swap write of the object, retried when\n"
     "someone else changed it in between.\n"
     "\n"
     "Examples:\n"
     "  berth scale service/web --replicas 3\n"
     "  berth scale svc web --replicas=0",
     cmd_scale},
    {"rollout", "rollout status|restart|undo|history service/NAME [flags]",
     "Follow, restart, undo or list the rollouts of a Service",
     "Manage the rollout of a Service:\n"
     "\n"
     "  status   follow the rollout until it is done (exit 1 past its progress\n"
     "           deadline or --timeout)\n"
     "  restart  replace every replica (spec.restartedAt = now)\n"
     "  undo     go back to an earlier revision (--to-revision N)\n"
     "  history  list the revisions kept (--revision N: one as YAML)\n"
     "\n"
     "See 'berth rollout COMMAND --help' for each.\n"
     "\n"
     "Examples:\n"
     "  berth rollout status service/web --timeout 5m\n"
     "  berth rollout undo svc/web --to-revision 2",
     cmd_rollout},
    {"sync", "sync source/NAME [--force-prune] [--timeout 60s]", "Sync a Source now",
     "Ask berthd to sync a Source now: set its annotation berth/sync-requested to\n"
     "the time (and, with --force-prune, berth/force-prune: this sync prunes even\n"
     "more than spec.maxPruneFraction of the objects), then wait until\n"
     "status.lastSyncTime says the sync happened and print what it found: the\n"
     "revision, the objects by kind and the files, what it pruned or refused to\n"
     "prune, the files in error (file:line:column: message), the conflicts.\n"
     "\n"
     "Exit status: 0 when the Source is Ready and no file is in error; 1 when it is\n"
     "not, on --timeout (default 60s), or when the Source is deleted meanwhile.\n"
     "--timeout 0 only asks for the sync.\n"
     "\n"
     "Examples:\n"
     "  berth sync source/site -n ops\n"
     "  berth sync src site --force-prune --timeout 2m",
     cmd_sync},
    {"token", "token create|list|revoke [NAME] [flags]", "Create, list or revoke API tokens",
     "Manage the bearer tokens berthd accepts (Token objects, cluster-scoped):\n"
     "\n"
     "  create   make a token for a user and print it, once\n"
     "  list     list the tokens (like berth get tokens)\n"
     "  revoke   revoke a token: berthd refuses it from then on\n"
     "\n"
     "A token is NAME.SECRET. berthd keeps only the SHA-256 of the secret, which\n"
     "berth computes: the secret never leaves this machine but in the token itself.\n"
     "Give it to berth with --token, $BERTH_TOKEN or \"token: ...\" in the config file.\n"
     "\n"
     "See 'berth token COMMAND --help' for each.\n"
     "\n"
     "Examples:\n"
     "  berth token create ci --user ci-bot --group deployers --ttl 30d\n"
     "  berth token list\n"
     "  berth token revoke ci",
     cmd_token},
    {"auth", "auth whoami | can-i VERB RESOURCE [NAME] [flags]",
     "Show who you are to berthd and what you may do",
     "Ask berthd about the caller:\n"
     "\n"
     "  whoami   the user, groups and how berthd recognised you (unix socket,\n"
     "           token or client certificate)\n"
     "  can-i    whether you (or, for an admin, --as USER) may do VERB on RESOURCE:\n"
     "           prints yes or no, exit status 0 for yes, 1 for no, 2 on errors\n"
     "\n"
     "See 'berth auth COMMAND --help' for each.\n"
     "\n"
     "Examples:\n"
     "  berth auth whoami\n"
     "  berth auth can-i create tasks -n team-a\n"
     "  berth auth can-i delete workflow etl --as alice",
     cmd_auth},
    {"version", "version [-o json]", "Print the client and server versions", NULL, cmd_version},
};

/* ---- context ------------------------------------------------------------ */

void cli_ctx_init(struct cli_ctx *ctx, FILE *out, FILE *err)
{
        *ctx = (struct cli_ctx){.out = out, .err = err, .ns = "default"};
        const char *no_color = getenv("NO_COLOR");
        ctx->color = isatty(fileno(out)) && !(no_color && *no_color);
}

void cli_ctx_release(struct cli_ctx *ctx)
{
        if (ctx->curl)
                curl_easy_cleanup(ctx->curl);
        cli_config_release(&ctx->conf);
        ctx->curl = NULL;
        ctx->conf_result = 0;
}

int cli_fail(struct cli_ctx *ctx, const char *fmt, ...)
{
        va_list ap;
        fputs("error: ", ctx->err);
        va_start(ap, fmt);
        vfprintf(ctx->err, fmt, ap);
        va_end(ap);
        fputc('\n', ctx->err);
        return CLI_EXIT_FAIL;
}

int cli_usage_error(struct cli_ctx *ctx, const struct cli_command *cmd, const char *fmt, ...)
{
        va_list ap;
        fputs("error: ", ctx->err);
        va_start(ap, fmt);
        vfprintf(ctx->err, fmt, ap);
        va_end(ap);
        if (cmd)
                fprintf(ctx->err, "\nSee 'berth %s --help' for usage.\n", cmd->name);
        else
                fputs("\nSee 'berth --help' for usage.\n", ctx->err);
        return CLI_EXIT_USAGE;
}

/* ---- help ------------------------------------------------------------ */

static size_t option_width(const struct cli_option *opts)
{
        char col[128];
        size_t width = 0;

        for (const struct cli_option *o = opts; o && o->name; o++) {
                int n = snprintf(col, sizeof(col), "  %c%c%s--%s%s%s", o->short_name ? '-' : ' ',
                                 o->short_name ? o->short_name : ' ', o->short_name ? ", " : "  ",
                                 o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
                if (n > 0 && (size_t)n > width)
                        width = (size_t)n;
        }
        return width;
}

static void print_options(FILE *out, const char *title, const struct cli_option *opts, size_t width)
{
        char col[128];

        if (!opts || !opts[0].name)
                return;
        fprintf(out, "\n%s:\n", title);
        for (const struct cli_option *o = opts; o->name; o++) {
                snprintf(col, sizeof(col), "  %c%c%s--%s%s%s", o->short_name ? '-' : ' ',
                         o->short_name ? o->short_name : ' ', o->short_name ? ", " : "  ", o->name,
                         o->metavar ? " " : "", o->metavar ? o->metavar : "");
                fprintf(out, "%-*s   %s\n", (int)width, col, o->help ? o->help : "");
        }
}

/* The global flags and their terminator. */
#define GLOBALS_MAX 10

static void global_options(struct cli_ctx *ctx, const char **ns, bool *help,
                           struct cli_option ret[GLOBALS_MAX])
{
        struct cli_conn_flags *f = &ctx->flags;
        size_t i = 0;

        ret[i++] =
            (struct cli_option){"server",
                                0,
                                CLI_OPT_STRING,
                                "URL",
                                "berthd address: unix:///path/to.sock or http(s)://host:port",
                                &f->server};
        ret[i++] = (struct cli_option){
            "namespace", 'n', CLI_OPT_STRING, "NS", "namespace (default \"default\")", ns};
        ret[i++] = (struct cli_option){
            "all-namespaces",    'A', CLI_OPT_BOOL, NULL, "every namespace (get, wait on lists)",
            &ctx->all_namespaces};
        ret[i++] = (struct cli_option){"config",
                                       0,
                                       CLI_OPT_STRING,
                                       "FILE",
                                       "config file (default $BERTH_CONFIG, else "
                                       "~/.config/berth/config)",
                                       &f->config};
        ret[i++] = (struct cli_option){
            "token", 0, CLI_OPT_STRING, "TOKEN", "bearer token (default $BERTH_TOKEN)", &f->token};
        ret[i++] = (struct cli_option){"certificate-authority",
                                       0,
                                       CLI_OPT_STRING,
                                       "FILE",
                                       "CA certificate that signed berthd's (https)",
                                       &f->certificate_authority};
        ret[i++] = (struct cli_option){
            "client-certificate",  0, CLI_OPT_STRING, "FILE", "TLS client certificate (PEM)",
            &f->client_certificate};
        ret[i++] = (struct cli_option){
            "client-key", 0, CLI_OPT_STRING, "FILE", "its private key (PEM)", &f->client_key};
        ret[i++] =
            (struct cli_option){"help", 'h', CLI_OPT_BOOL, NULL, "help for this command", help};
        ret[i] = (struct cli_option){0};
}

/* A command's own flag wins over a global one of the same name or letter
 * (`cron next -n 3`): its help lists the global flag without what is taken. */
static void hide_shadowed(struct cli_option globals[GLOBALS_MAX], const struct cli_option *opts)
{
        size_t k = 0;

        for (size_t i = 0; globals[i].name; i++) {
                struct cli_option g = globals[i];
                bool drop = false;

                for (const struct cli_option *o = opts; o && o->name; o++) {
                        drop = drop || streq(o->name, g.name);
                        if (o->short_name && o->short_name == g.short_name)
                                g.short_name = 0;
                }
                if (!drop)
                        globals[k++] = g;
        }
        globals[k] = (struct cli_option){0};
}

static void print_command_help(struct cli_ctx *ctx, const struct cli_command *cmd,
                               const struct cli_option *opts)
{
        struct cli_option globals[GLOBALS_MAX];
        const char *ns = NULL;
        bool help = false;

        global_options(ctx, &ns, &help, globals);
        hide_shadowed(globals, opts);
        fprintf(ctx->out, "%s\n\nUsage:\n  berth %s\n", cmd->help ? cmd->help : cmd->summary,
                cmd->usage);
        size_t w1 = option_width(opts), w2 = option_width(globals);
        size_t width = w1 > w2 ? w1 : w2;
        print_options(ctx->out, "Flags", opts, width);
        print_options(ctx->out, "Global flags", globals, width);
}

static void print_main_help(struct cli_ctx *ctx)
{
        struct cli_option globals[GLOBALS_MAX];
        const char *ns = NULL;
        bool help = false;

        global_options(ctx, &ns, &help, globals);
        fputs("berth controls berthd, the declarative task controller for Docker hosts.\n"
              "\n"
              "Usage:\n"
              "  berth [--config FILE] [--server URL] [-n NS | -A] COMMAND [flags]\n"
              "\n"
              "Commands:\n",
              ctx->out);
        for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
                fprintf(ctx->out, "  %-10s %s\n", commands[i].name, commands[i].summary);
        print_options(ctx->out, "Global flags", globals, option_width(globals));
        fputs("\nThe server address comes from --server, $BERTH_SERVER, a line \"server: URL\" in\n"
              "the config file, or " CLI_DEFAULT_SERVER ". The config file is --config,\n"
              "$BERTH_CONFIG, or $XDG_CONFIG_HOME/berth/config (~/.config/berth/config); it\n"
              "may also set certificate-authority, client-certificate, client-key and token.\n"
              "berthd writes one for its admin: berth --config /var/lib/berth/admin.conf ...\n"
              "\nUse \"berth COMMAND --help\" for more information about a command.\n",
              ctx->out);
}

/* ---- argument parser ------------------------------------------------------- */

static const struct cli_option *find_option(const struct cli_option *const sets[2],
                                            const char *name, size_t len, char short_name)
{
        for (size_t s = 0; s < 2; s++) {
                if (!sets[s])
                        continue;
                for (const struct cli_option *o = sets[s]; o->name; o++) {
                        if (short_name
                                ? o->short_name == short_name
                                : (strlen(o->name) == len && strncmp(o->name, name, len) == 0))
                                return o;
                }
        }
        return NULL;
}

static int parse_bool(const char *s, bool *ret)
{
        if (streq(s, "true") || streq(s, "1") || streq(s, "yes") || streq(s, "on"))
                *ret = true;
        else if (streq(s, "false") || streq(s, "0") || streq(s, "no") || streq(s, "off"))
                *ret = false;
        else
                return -EINVAL;
        return 0;
}

static int store_value(struct cli_ctx *ctx, const struct cli_command *cmd,
                       const struct cli_option *o, const char *value)
{
        if (o->type == CLI_OPT_STRING) {
                *(const char **)o->target = value;
                return 0;
        }
        struct cli_list *l = o->target;
        if (l->n >= CLI_LIST_MAX) {
                cli_usage_error(ctx, cmd, "too many --%s flags (at most %d)", o->name,
                                CLI_LIST_MAX);
                return -EINVAL;
        }
        l->v[l->n++] = value;
        return 0;
}

static void suggest_flag(struct cli_ctx *ctx, const struct cli_option *const sets[2],
                         const char *name, size_t len)
{
        _cleanup_free_ char *n = strndup(name, len);
        if (!n)
                return;
        for (size_t s = 0; s < 2; s++)
                for (const struct cli_option *o = sets[s]; o && o->name; o++)
                        if (str_edit_distance(n, o->name, 2) <= 2) {
                                fprintf(ctx->err, "Did you mean --%s?\n", o->name);
                                return;
                        }
}

/* stop_at_positional: the top level stops at the command name. *ret_next is
 * the index of the first argument not consumed. */
static int parse(struct cli_ctx *ctx, const struct cli_command *cmd,
                 const struct cli_option *options, int argc, char **argv, bool stop_at_positional,
                 char ***ret_args, size_t *ret_n, int *ret_next)
{
        struct cli_option globals[GLOBALS_MAX];
        const char *ns = NULL;
        bool help = false;
        _cleanup_free_ char **args = calloc((size_t)argc + 1, sizeof(char *));
        size_t n = 0;
        int i;

        if (!args)
                return -ENOMEM;
        global_options(ctx, &ns, &help, globals);
        /* The command's own flags first: they may reuse a global letter. */
        const struct cli_option *const sets[2] = {options, globals};

        for (i = 1; i < argc; i++) {
                const char *a = argv[i];

                if (streq(a, "--")) {
                        if (stop_at_positional) {
                                i++;
                                break;
                        }
                        for (i++; i < argc; i++)
                                args[n++] = argv[i];
                        break;
                }
                if (a[0] != '-' || a[1] == '\0') {
                        if (stop_at_positional)
                                break;
                        args[n++] = argv[i];
                        continue;
                }
                if (a[1] == '-') {
                        const char *name = a + 2;
                        const char *eq = strchr(name, '=');
                        size_t len = eq ? (size_t)(eq - name) : strlen(name);
                        const struct cli_option *o = find_option(sets, name, len, 0);

                        if (!o) {
                                cli_usage_error(ctx, cmd, "unknown flag: --%.*s", (int)len, name);
                                suggest_flag(ctx, sets, name, len);
                                return -EINVAL;
                        }
                        if (o->type == CLI_OPT_BOOL) {
                                if (eq && parse_bool(eq + 1, o->target) < 0) {
                                        cli_usage_error(ctx, cmd,
                                                        "invalid value \"%s\" for --%s: want true "
                                                        "or false",
                                                        eq + 1, o->name);
                                        return -EINVAL;
                                }
                                if (!eq)
                                        *(bool *)o->target = true;
                                continue;
                        }
                        const char *value = eq ? eq + 1 : NULL;
                        if (!value) {
                                if (i + 1 >= argc) {
                                        cli_usage_error(ctx, cmd, "flag needs an argument: --%s",
                                                        o->name);
                                        return -EINVAL;
                                }
                                value = argv[++i];
                        }
                        if (store_value(ctx, cmd, o, value) < 0)
                                return -EINVAL;
                        continue;
                }
                /* A cluster of short flags: "-A", "-Rf x", "-ndev". */
                for (const char *p = a + 1; *p; p++) {
                        const struct cli_option *o = find_option(sets, NULL, 0, *p);
                        if (!o) {
                                cli_usage_error(ctx, cmd, "unknown shorthand flag: '%c' in %s", *p,
                                                a);
                                return -EINVAL;
                        }
                        if (o->type == CLI_OPT_BOOL) {
                                *(bool *)o->target = true;
                                continue;
                        }
                        const char *value = p[1] ? p + 1 : NULL;
                        if (value && *value == '=')
                                value++;
                        if (!value) {
                                if (i + 1 >= argc) {
                                        cli_usage_error(
                                            ctx, cmd, "flag needs an argument: '%c' in %s", *p, a);
                                        return -EINVAL;
                                }
                                value = argv[++i];
                        }
                        if (store_value(ctx, cmd, o, value) < 0)
                                return -EINVAL;
                        break;
                }
        }

        if (ns) {
                if (!name_is_valid(ns)) {
                        cli_usage_error(ctx, cmd, "invalid namespace \"%s\": want a DNS-1123 label",
                                        ns);
                        return -EINVAL;
                }
                ctx->ns = ns;
                ctx->ns_explicit = true;
        }
        if (help) {
                if (cmd)
                        print_command_help(ctx, cmd, options);
                else
                        print_main_help(ctx);
                return 1;
        }
        if (ret_args) {
                *ret_args = TAKE_PTR(args);
                *ret_n = n;
        }
        if (ret_next)
                *ret_next = i;
        return 0;
}

int cli_parse_args(struct cli_ctx *ctx, const struct cli_command *cmd,
                   const struct cli_option *options, int argc, char **argv, char ***ret_args,
                   size_t *ret_n)
{
        return parse(ctx, cmd, options, argc, argv, false, ret_args, ret_n, NULL);
}

/* ---- resource arguments ------------------------------------------------ */

const char *cli_kind_singular(const struct kind_info *kind)
{
        return kind ? kind->singular : "object";
}

static void unknown_kind(const char *name, size_t len, char *errbuf, size_t errsize)
{
        _cleanup_free_ char *n = strndup(name, len);
        const struct kind_info *const *all = kind_all();

        for (size_t i = 0; n && all && all[i]; i++) {
                if (str_edit_distance(n, all[i]->singular, 2) <= 2 ||
                    str_edit_distance(n, all[i]->resource, 2) <= 2) {
                        snprintf(errbuf, errsize, "unknown kind \"%s\", did you mean \"%s\"?", n,
                                 all[i]->singular);
                        return;
                }
        }
        snprintf(errbuf, errsize, "unknown kind \"%s\"", n ? n : "");
}

static const struct kind_info *lookup_kind(const char *name, size_t len)
{
        char k[64];
        if (len == 0 || len >= sizeof(k))
                return NULL;
        memcpy(k, name, len);
        k[len] = '\0';
        return kind_lookup(k);
}

void cli_targets_release(struct cli_targets *t)
{
        free(t->items);
        t->items = NULL;
        t->n = 0;
}

int cli_parse_one_target(struct cli_ctx *ctx, const struct cli_command *cmd,
                         const struct cli_option *opts, int argc, char **argv,
                         const struct kind_info *kind, const char **ret_name)
{
        _cleanup_(cli_targets_release) struct cli_targets targets = {0};
        _cleanup_free_ char **args = NULL;
        char errbuf[256];
        size_t n = 0;
        int r = cli_parse_args(ctx, cmd, opts, argc, argv, &args, &n);

        if (r != 0)
                return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        if (!kind)
                return cli_fail(ctx, "this berth does not know the kind %s works on", cmd->name);
        if (n == 0)
                return cli_usage_error(ctx, cmd, "a %s is required: %s/NAME", kind->singular,
                                       kind->singular);
        if (n == 1 && !strchr(args[0], '/') && !kind_lookup(args[0])) {
                *ret_name = args[0];
                return -1;
        }
        if (cli_targets_parse(args, n, true, &targets, errbuf, sizeof(errbuf)) < 0)
                return cli_usage_error(ctx, cmd, "%s", errbuf);
        if (targets.items[0].kind != kind)
                return cli_usage_error(ctx, cmd, "%s works on %s only, not %s", cmd->name,
                                       kind->resource, targets.items[0].kind->resource);
        if (targets.n != 1)
                return cli_usage_error(ctx, cmd, "%s takes exactly one %s: %s/NAME", cmd->name,
                                       kind->singular, kind->singular);
        *ret_name = targets.items[0].name;
        return -1;
}

int cli_targets_parse(char **args, size_t n, bool need_name, struct cli_targets *ret, char *errbuf,
                      size_t errsize)
{
        _cleanup_free_ struct cli_target *items = NULL;
        size_t k = 0;

        if (n == 0) {
                snprintf(errbuf, errsize, "you must specify a kind, e.g. \"task\" or \"workflow\"");
                return -EINVAL;
        }
        items = calloc(n, sizeof(*items));
        if (!items)
                return -ENOMEM;

        if (strchr(args[0], '/')) {
                for (size_t i = 0; i < n; i++) {
                        const char *slash = strchr(args[i], '/');
                        if (!slash) {
                                snprintf(errbuf, errsize,
                                         "arguments in KIND/NAME form may not be mixed with "
                                         "\"%s\"",
                                         args[i]);
                                return -EINVAL;
                        }
                        const struct kind_info *kind =
                            lookup_kind(args[i], (size_t)(slash - args[i]));
                        if (!kind) {
                                unknown_kind(args[i], (size_t)(slash - args[i]), errbuf, errsize);
                                return -EINVAL;
                        }
                        if (!slash[1] || strchr(slash + 1, '/')) {
                                snprintf(errbuf, errsize, "invalid argument \"%s\": want KIND/NAME",
                                         args[i]);
                                return -EINVAL;
                        }
                        items[k++] = (struct cli_target){kind, slash + 1};
                }
        } else {
                const struct kind_info *kind = lookup_kind(args[0], strlen(args[0]));
                if (!kind) {
                        unknown_kind(args[0], strlen(args[0]), errbuf, errsize);
                        return -EINVAL;
                }
                for (size_t i = 1; i < n; i++) {
                        if (strchr(args[i], '/')) {
                                snprintf(errbuf, errsize,
                                         "there is no need to give the kind separately with "
                                         "KIND/NAME arguments: use \"%s\" alone",
                                         args[i]);
                                return -EINVAL;
                        }
                        items[k++] = (struct cli_target){kind, args[i]};
                }
                if (k == 0) {
                        if (need_name) {
                                snprintf(errbuf, errsize, "a %s name is required", kind->singular);
                                return -EINVAL;
                        }
                        items[k++] = (struct cli_target){kind, NULL};
                }
        }
        ret->items = TAKE_PTR(items);
        ret->n = k;
        return 0;
}

/* ---- subcommands ------------------------------------------------------- */

static const struct cli_command *find_subcommand(const struct cli_command *subs, size_t nsubs,
                                                 const char *name)
{
        for (size_t i = 0; i < nsubs; i++) {
                const char *space = strchr(subs[i].name, ' ');
                if (space && streq(space + 1, name))
                        return &subs[i];
        }
        return NULL;
}

int cli_run_subcommand(struct cli_ctx *ctx, const struct cli_command *cmd,
                       const struct cli_command *subs, size_t nsubs, const char *want, int argc,
                       char **argv)
{
        _cleanup_free_ char **args = NULL;
        _cleanup_free_ char **sub_argv = NULL;
        const struct cli_command *sub;
        size_t n = 0;
        int k = 0;

        if (argc >= 2 && argv[1][0] != '-') {
                sub = find_subcommand(subs, nsubs, argv[1]);
                if (!sub)
                        return cli_usage_error(ctx, cmd, "unknown %s command \"%s\": want %s",
                                               cmd->name, argv[1], want);
                return sub->run(ctx, sub, argc - 1, argv + 1);
        }
        /* Flags first ("token --server URL list"), or help: the subcommand
         * is the first positional argument, moved to the front. */
        int r = cli_parse_args(ctx, cmd, NULL, argc, argv, &args, &n);
        if (r != 0)
                return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        if (n == 0)
                return cli_usage_error(ctx, cmd, "a %s command is required: %s", cmd->name, want);
        sub = find_subcommand(subs, nsubs, args[0]);
        if (!sub)
                return cli_usage_error(ctx, cmd, "unknown %s command \"%s\": want %s", cmd->name,
                                       args[0], want);
        sub_argv = calloc((size_t)argc + 1, sizeof(char *));
        if (!sub_argv)
                return cli_fail(ctx, "out of memory");
        sub_argv[k++] = args[0];
        for (int i = 1; i < argc; i++)
                if (argv[i] != args[0])
                        sub_argv[k++] = argv[i];
        return sub->run(ctx, sub, k, sub_argv);
}

/* ---- dispatch ---------------------------------------------------------- */

static const struct cli_command *find_command(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
                if (streq(commands[i].name, name))
                        return &commands[i];
        return NULL;
}

static int unknown_command(struct cli_ctx *ctx, const char *name)
{
        fprintf(ctx->err, "error: unknown command \"%s\" for \"berth\"\n", name);
        for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
                if (str_edit_distance(name, commands[i].name, 2) <= 2) {
                        fprintf(ctx->err, "\nDid you mean this?\n\t%s\n", commands[i].name);
                        break;
                }
        fputs("\nRun 'berth --help' for usage.\n", ctx->err);
        return CLI_EXIT_USAGE;
}

int cli_run(int argc, char **argv, FILE *out, FILE *err)
{
        struct cli_ctx ctx;
        int next = 0, r;

        cli_ctx_init(&ctx, out, err);
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                fputs("berth: cannot initialize libcurl\n", err);
                return CLI_EXIT_FAIL;
        }

        r = parse(&ctx, NULL, NULL, argc, argv, true, NULL, NULL, &next);
        if (r < 0) {
                r = CLI_EXIT_USAGE;
        } else if (r > 0) {
                r = CLI_EXIT_OK;
        } else if (next >= argc) {
                print_main_help(&ctx);
                r = CLI_EXIT_OK;
        } else if (streq(argv[next], "help")) {
                const struct cli_command *cmd =
                    next + 1 < argc ? find_command(argv[next + 1]) : NULL;
                if (next + 1 < argc && !cmd) {
                        r = unknown_command(&ctx, argv[next + 1]);
                } else {
                        if (cmd) {
                                char *hargv[] = {(char *)cmd->name, (char *)"--help", NULL};
                                r = cmd->run(&ctx, cmd, 2, hargv);
                        } else {
                                print_main_help(&ctx);
                                r = CLI_EXIT_OK;
                        }
                }
        } else {
                const struct cli_command *cmd = find_command(argv[next]);
                if (!cmd)
                        r = unknown_command(&ctx, argv[next]);
                else
                        r = cmd->run(&ctx, cmd, argc - next, argv + next);
        }

        fflush(out);
        fflush(err);
        cli_ctx_release(&ctx);
        curl_global_cleanup();
        return r;
}

int cli_main(int argc, char **argv)
{
        return cli_run(argc, argv, stdout, stderr);
}
