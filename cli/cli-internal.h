/* cli internals: the context every command gets, the argument parser, the HTTP
 * client and the pure printers (unit-tested in tests/unit/cli).
 *
 * Exit codes: CLI_EXIT_OK 0, CLI_EXIT_FAIL 1 (the command failed, timed out or
 * the server said no), CLI_EXIT_USAGE 2 (bad command line). berth diff
 * follows kubectl diff instead: 0 no differences, 1 differences,
 * CLI_EXIT_ERROR 2 anything else; so does berth auth can-i (0 yes, 1 no).
 *
 * Output goes through ctx->out / ctx->err so that tests can capture it. Only
 * this layer prints; helpers below that print say so.
 */
#pragma once

#include <curl/curl.h>

#include "cli.h"
#include "common.h"
#include "manifests.h"

#define CLI_EXIT_OK    0
#define CLI_EXIT_FAIL  1
#define CLI_EXIT_USAGE 2
#define CLI_EXIT_ERROR 2 /* berth diff and auth can-i, where 1 is an answer */

#define CLI_DEFAULT_SERVER     "unix:///run/berth/berth.sock"
#define CLI_API_PREFIX         "/apis/berth/v1"
#define CLI_RESPONSE_MAX       (64 * 1024 * 1024) /* any non-streamed response body */
#define CLI_WATCH_LINE_MAX     (16 * 1024 * 1024) /* one NDJSON watch event */
#define CLI_ERROR_BODY_MAX     (1024 * 1024)      /* error body of a streamed request */
#define CLI_CONFIG_MAX         (64 * 1024)        /* the config file */
#define CLI_LIST_MAX           64                 /* repeats of a list flag (-f) */
#define CLI_CONNECT_TIMEOUT_MS 10000
/* `berth apply` sends its documents in batches of at most this many
 * documents and bytes: well under what berthd takes in one request
 * (MANIFEST_DOCS_MAX documents, a body of CLI_APPLY_BODY_MAX), so that a
 * batch is answered soon and its results are printed as they come. */
#define CLI_APPLY_BATCH_DOCS  500
#define CLI_APPLY_BATCH_BYTES (4 * 1024 * 1024)
#define CLI_APPLY_BODY_MAX    (16 * 1024 * 1024) /* berthd's cap on a request body */

/* ---- connection settings (config.c) --------------------------------------- */

#define CLI_CONFIG_ENV "BERTH_CONFIG"
#define CLI_SERVER_ENV "BERTH_SERVER"
#define CLI_TOKEN_ENV  "BERTH_TOKEN"
#define CLI_TOKEN_MAX  4096 /* a bearer token, in bytes */

/* What the global flags say about the connection; borrowed from argv. NULL
 * or "" = not given. */
struct cli_conn_flags {
        const char *config; /* --config FILE */
        const char *server;
        const char *token;
        const char *certificate_authority;
        const char *client_certificate;
        const char *client_key;
};

/* Where berthd is and how to prove who we are. Strings owned, NULL when
 * unset. The token is a secret: it is never printed, and its memory is
 * wiped on release. */
struct cli_config {
        char *file; /* the config file that was read, or NULL */
        char *server;
        char *certificate_authority;
        char *client_certificate;
        char *client_key;
        char *token;
};

void cli_config_release(struct cli_config *c);

/* Parses the text of a config file: one "key: value" a line (a key is
 * letters, digits, '-' and '_', the colon right after it; the value may be
 * quoted with " or '), blank lines, "#" comment lines and, after an
 * unquoted value, " # comment". Keys: server, certificate-authority,
 * client-certificate, client-key, token; others are ignored (a newer berth's).
 * Relative paths are made relative to the directory of file (the name used
 * in messages). Sets the keys found in ret, which must be zeroed; on error
 * ret may be half-filled (release it). -EINVAL with "FILE:LINE: why" (never
 * the token) in errbuf, -ENOMEM. */
int cli_config_parse(const char *text, size_t len, const char *file, struct cli_config *ret,
                     char *errbuf, size_t errsize);

/* The settings of this run: each value from its flag, else its environment
 * variable ($BERTH_SERVER, $BERTH_TOKEN), else the config file (--config,
 * else $BERTH_CONFIG, else $XDG_CONFIG_HOME/berth/config or
 * ~/.config/berth/config), else the default (server CLI_DEFAULT_SERVER).
 * A file named by --config or $BERTH_CONFIG must exist; the default one may
 * be missing. Checks what can be checked before connecting: the address's
 * scheme, a token's characters and that it would not travel in clear text
 * (cli_token_transport_ok), client-key only with client-certificate. 0 with
 * *ret filled (zeroed or an earlier result, which is released; caller
 * releases), or -errno with the message (never the token) in errbuf and
 * *ret untouched. The certificate files are not opened here: the request
 * that uses them reports what is wrong with them (client.c). */
int cli_config_resolve(const struct cli_conn_flags *flags, struct cli_config *ret, char *errbuf,
                       size_t errsize);

/* Whether a bearer token may be sent to server: over https, a unix socket,
 * or plain http to a loopback address (localhost, 127.0.0.0/8, [::1]),
 * where nobody can read it on the way. */
bool cli_token_transport_ok(const char *server);

/* ---- context ---------------------------------------------------------- */

struct cli_ctx {
        FILE *out;
        FILE *err;
        bool color; /* out is a terminal and NO_COLOR is unset */
        struct cli_conn_flags flags;
        const char *ns; /* -n, "default" unless given */
        bool ns_explicit;
        bool all_namespaces;
        struct cli_config conf; /* resolved on first use (cli_ctx_config) */
        int conf_result;        /* 0 until resolved; then 1, or the -errno of the failure */
        CURL *curl;             /* opened on first use, kept for keep-alive; owned */
};

void cli_ctx_init(struct cli_ctx *ctx, FILE *out, FILE *err);
void cli_ctx_release(struct cli_ctx *ctx);
/* ctx->conf, resolved once (cli_config_resolve); a failure is printed the
 * first time and returned again on every later call. 0 or -errno. */
int cli_ctx_config(struct cli_ctx *ctx);

/* ---- arguments -------------------------------------------------------- */

enum cli_opt_type {
        CLI_OPT_BOOL,   /* --x, --x=true|false; target bool * */
        CLI_OPT_STRING, /* --x V, --x=V, -xV, -x V; target const char ** (borrowed from argv) */
        CLI_OPT_LIST,   /* like STRING, repeatable; target struct cli_list * */
};

struct cli_list {
        const char *v[CLI_LIST_MAX];
        size_t n;
};

struct cli_option {
        const char *name; /* long name without "--" */
        char short_name;  /* 0 = none */
        enum cli_opt_type type;
        const char *metavar;
        const char *help;
        void *target;
};

struct cli_command {
        const char *name;
        const char *usage;   /* after "berth ": "get KIND [NAME...] [flags]" */
        const char *summary; /* one line for `berth --help` */
        const char *help;    /* long text for `berth CMD --help`, may be NULL */
        int (*run)(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv);
};

/* Parses argv (argv[0] is the command name) against the command's options
 * (terminated by a zeroed entry, may be NULL) plus the global ones, which it
 * stores in ctx. Positional arguments are returned in *ret_args (caller frees
 * the array; the strings are argv's).
 * Returns 0; 1 when --help was asked for (help printed to ctx->out); or
 * -EINVAL after printing a usage error to ctx->err (exit 2). */
int cli_parse_args(struct cli_ctx *ctx, const struct cli_command *cmd,
                   const struct cli_option *options, int argc, char **argv, char ***ret_args,
                   size_t *ret_n);
/* cli_parse_args for a verb that works on exactly one object of kind:
 * "<kind>/NAME", "<kind> NAME" or NAME (borrowed from argv). -1 to go on;
 * else the exit code (help printed, or a usage error naming the form). */
int cli_parse_one_target(struct cli_ctx *ctx, const struct cli_command *cmd,
                         const struct cli_option *opts, int argc, char **argv,
                         const struct kind_info *kind, const char **ret_name);
/* Prints "error: <msg>" and the hint to run --help; returns CLI_EXIT_USAGE. */
int cli_usage_error(struct cli_ctx *ctx, const struct cli_command *cmd, const char *fmt, ...)
    _printf_(3, 4);
/* Prints "error: <msg>"; returns CLI_EXIT_FAIL. */
int cli_fail(struct cli_ctx *ctx, const char *fmt, ...) _printf_(2, 3);

/* A command made of subcommands (berth token create, berth auth can-i):
 * runs the one named by the first positional argument (flags may come
 * before it) with argv starting at its name, or prints a usage error naming
 * want ("create, list or revoke"). Each sub->name is "<cmd> <sub>". */
int cli_run_subcommand(struct cli_ctx *ctx, const struct cli_command *cmd,
                       const struct cli_command *subs, size_t nsubs, const char *want, int argc,
                       char **argv);

/* One resource named on the command line. */
struct cli_target {
        const struct kind_info *kind;
        const char *name; /* NULL = every object of the kind; borrowed */
};

struct cli_targets {
        struct cli_target *items; /* owned */
        size_t n;
};

void cli_targets_release(struct cli_targets *t);
/* Understands "KIND", "KIND NAME...", "KIND/NAME..." (kinds may differ). With
 * need_name, a bare KIND is an error. On error returns -EINVAL and writes the
 * message (no "error: " prefix) into errbuf. */
int cli_targets_parse(char **args, size_t n, bool need_name, struct cli_targets *ret, char *errbuf,
                      size_t errsize);

/* ---- HTTP client (client.c) ------------------------------------------- */

struct cli_reply {
        long status;
        struct buf body;        /* capped at CLI_RESPONSE_MAX */
        char content_type[128]; /* of a cli_http answer ("" when none or too long) */
};

void cli_reply_release(struct cli_reply *r);
static inline void cli_reply_releasep(struct cli_reply *r)
{
        cli_reply_release(r);
}
#define _cleanup_reply_ _cleanup_(cli_reply_releasep)

/* One request. Returns 0 when the server answered, whatever the status (see
 * ret->status); -errno after printing the transport error ("berth: cannot
 * connect to berthd at URL: reason (is berthd running?)") to ctx->err.
 * ret must be zeroed or released; it is reset first. */
int cli_http(struct cli_ctx *ctx, const char *method, const char *path, const char *content_type,
             const char *body, size_t len, struct cli_reply *ret);

/* Called with each complete line (without '\n', NUL-terminated) or, in raw
 * mode, each chunk. Return 0 to go on, > 0 to stop the stream successfully,
 * < 0 to stop with that error. */
typedef int (*cli_stream_fn)(const char *data, size_t len, void *userdata);

/* Streams a GET. deadline_ms: monotonic time (time_mono_ms) at which to give
 * up, 0 = never. Returns 0 when the server ended the stream, 1 when fn stopped
 * it, -ETIMEDOUT at the deadline, -EPROTO when the answer was not 2xx (status
 * and body in *ret_error, not printed), another -errno after printing a
 * transport error, or what fn returned. */
int cli_stream(struct cli_ctx *ctx, const char *path, bool lines, int64_t deadline_ms,
               cli_stream_fn fn, void *userdata, struct cli_reply *ret_error);

/* One line of a watch stream (NDJSON): *ret_ev is the parsed event (caller
 * json_decref), the rest borrowed from it; *ret_rv is NULL when the object has
 * no resourceVersion. -EBADMSG after saying so on ctx->err when the line is
 * not an event. */
int cli_watch_event(struct cli_ctx *ctx, const char *line, size_t len, json_t **ret_ev,
                    const char **ret_type, json_t **ret_obj, const char **ret_rv);

/* One change of a watch (cli_watch_kind): type ADDED, MODIFIED or DELETED
 * and the object, borrowed for the call. Return < 0 to stop the watch with
 * that error. */
typedef int (*cli_watch_fn)(const char *type, const json_t *object, void *userdata);

/* Follows the watch of kind in ns (NULL: every namespace) from
 * resourceVersion rv ("" or NULL: now, the current objects first), with
 * query appended to the request ("&labelSelector=..."; NULL: none), calling
 * fn for every change until interrupted. Reconnects from the last version
 * seen when the server ends the stream; when that version is too old (410
 * Gone: the history moved on meanwhile), watches from now. Returns -errno
 * (a server error printed) or what fn returned. */
int cli_watch_kind(struct cli_ctx *ctx, const struct kind_info *kind, const char *ns,
                   const char *query, const char *rv, cli_watch_fn fn, void *userdata);

/* "Error from server (Reason): message" plus one "  field: message" line per
 * detail, from a Status body (or the raw body when it is not one). No
 * trailing newline. Caller frees. */
char *cli_status_format(long status, const char *body, size_t len);
/* Prints cli_status_format() to ctx->err; returns CLI_EXIT_FAIL. */
int cli_status_print(struct cli_ctx *ctx, const struct cli_reply *reply);

/* Paths. name may be NULL (the collection); ns NULL = all namespaces. query
 * ("" or "?a=b&...") is appended as is. Caller frees. */
char *cli_path(const struct kind_info *kind, const char *ns, const char *name, const char *query);
/* URL-escapes s into a new string. Caller frees. */
char *cli_escape(const char *s);

/* One of the GETs that cli_stream_many() runs side by side. */
struct cli_stream_item {
        const char *path; /* borrowed */
        cli_stream_fn fn; /* each complete line, as for cli_stream */
        void *userdata;
        int result;             /* out: what cli_stream would have returned */
        struct cli_reply error; /* out: a non-2xx answer (result -EPROTO); caller releases */
};

/* Streams several GETs at once on this thread (curl multi), at most parallel
 * connections at a time (0: all; the others wait their turn), and calls each
 * item's fn with its lines as they complete, so that what fn prints never
 * mixes parts of lines. Text lines: empty lines are delivered too, '\r'
 * before '\n' is dropped, and a line longer than line_max bytes is delivered
 * in pieces of line_max. Returns 0 once every stream ended (each item's
 * result says how: 0, 1 when fn stopped it, -EPROTO, or -errno after printing
 * a transport error), or -errno when they could not be run (printed). */
int cli_stream_many(struct cli_ctx *ctx, struct cli_stream_item *items, size_t n, size_t parallel,
                    size_t line_max);

/* GETs one object. Returns 0 and the object; -ENOENT on 404 (nothing
 * printed); -EPROTO after printing another server error; other -errno after
 * printing the transport error. */
int cli_get_object(struct cli_ctx *ctx, const struct kind_info *kind, const char *ns,
                   const char *name, json_t **ret);
/* cli_get_object with a query ("?showValues=true"; "" for none). */
int cli_get_object_query(struct cli_ctx *ctx, const struct kind_info *kind, const char *ns,
                         const char *name, const char *query, json_t **ret);

#define CLI_CHANGE_RETRIES 5 /* conflicts (409) cli_change_object retries */

/* Changes the object in place. Returns 0 to write it, > 0 when there is
 * nothing to write, -ENOMEM, or another -errno after printing why. */
typedef int (*cli_change_fn)(json_t *object, void *userdata);

/* Compare-and-swap change of one object in ctx->ns: GET, fn, PUT (the body
 * keeps the resourceVersion it was read at, so the server answers 409 when
 * the object changed in between), again on 409, CLI_CHANGE_RETRIES times in
 * all. Returns 0 when written, 1 when fn found nothing to write, or -errno
 * after printing (NotFound, a server error, "kept changing"). */
int cli_change_object(struct cli_ctx *ctx, const struct kind_info *kind, const char *name,
                      cli_change_fn fn, void *userdata);

/* ---- printers (printers.c, pure) ---------------------------------------- */

struct cli_print_opts {
        const struct kind_info *kind;
        bool wide;
        bool all_namespaces; /* adds NAMESPACE first */
        bool no_headers;
        bool color;
        int64_t now_ms;
};

enum { CLI_TABLE_COLS_MAX = 12 };

/* Rows are queued with cli_table_add() and printed by cli_table_flush(); the
 * column widths only grow, so rows flushed later (watch) stay aligned with the
 * header when they fit. */
struct cli_table {
        struct cli_print_opts opts;
        const struct printer_column *cols[CLI_TABLE_COLS_MAX];
        size_t ncols;
        size_t widths[CLI_TABLE_COLS_MAX];
        char **cells; /* pending rows × ncols, owned */
        size_t nrows;
        bool header_done;
};

int cli_table_init(struct cli_table *t, const struct cli_print_opts *opts);
void cli_table_release(struct cli_table *t);
int cli_table_add(struct cli_table *t, const json_t *object);
/* Prints the header (once) and the pending rows: each column padded to the
 * widest value seen + 3 spaces, the last one unpadded. */
int cli_table_flush(struct cli_table *t, FILE *out);

/* One cell: the value at col->path as col->format says (docs: manifests.h).
 * Caller frees; NULL on allocation failure. */
char *cli_column_text(const struct printer_column *col, const json_t *object, int64_t now_ms);
/* A row of cells, each padded to widths[c] + 3 spaces (the last one
 * unpadded); with color, PHASE-format columns (cols may be NULL) are coloured. */
void cli_emit_row(FILE *out, const char *indent, const char *const *cells, size_t ncols,
                  const size_t *widths, const struct printer_column *const *cols, bool color);

/* Text helpers (printers.c). Caller frees what they return; NULL when the
 * value is absent (scalar, elapsed) or on allocation failure. */
char *cli_scalar_text(const json_t *v);
/* The first non-blank line of s, control characters as spaces; "..." when
 * more lines follow or it was cut to max_chars characters (0: no limit). */
char *cli_one_line(const char *s, size_t max_chars);
/* Whole seconds from start to end (or now while end is unset): "1m5s";
 * from two days on "9d". */
char *cli_elapsed_text(const char *start, const char *end, int64_t now_ms);
/* status.phase, "Pending" until written. Borrowed. */
const char *cli_phase_of(const json_t *object);

/* "task/hello" */
int cli_print_name(FILE *out, const struct kind_info *kind, const json_t *object);
/* The value as indented JSON plus "\n". */
int cli_print_json(FILE *out, const json_t *value);
/* The value as YAML (manifest_to_yaml). */
int cli_print_yaml(FILE *out, const json_t *value);
/* kubectl describe-like text of one object (describe.c): metadata, a spec
 * summary, status, conditions and the kind's own sections. extra is what
 * `berth describe` fetched besides the object: for a Workflow the body of GET
 * .../workflows/NAME/results ({"steps": {"<step>": {"result", "truncated",
 * "exitCode", "files"}}}, each step's first line shown), for a kind with children (a
 * CronTask) the array of its children; NULL prints "<unavailable>". events:
 * the object's Events, oldest first (cli_events_sort), of which the last
 * CLI_DESCRIBE_EVENTS_MAX end it, with how often and since when they
 * happened; NULL or empty: "<none>". */
#define CLI_DESCRIBE_EVENTS_MAX 10
int cli_describe(FILE *out, const struct kind_info *kind, const json_t *object, const json_t *extra,
                 const json_t *events, int64_t now_ms);

/* Where a queued Task stands (queue-position.c). */
struct cli_queue_position {
        size_t position; /* 1: it starts next */
        size_t queued;   /* Tasks queued, in every namespace listed */
        bool blocked;    /* its namespace's Queue is full: it starts after one of them ends */
};

/* The position of Task ns/name among the queued Tasks (Pending with
 * condition Queued True) of tasks, in the order berthd starts them
 * (runqueue.h: priority, fairness across namespaces by their Running Tasks
 * in tasks, age; queues: the Queue objects, for namespace limits). Pure.
 * -ENOENT: it is not queued; -ENOMEM. */
int cli_queue_position(const json_t *tasks, const json_t *queues, const char *ns, const char *name,
                       struct cli_queue_position *ret);

/* Lower-case singular kind name for "task/hello" output; "object" if NULL. */
const char *cli_kind_singular(const struct kind_info *kind);

/* ---- wait (cmd-wait.c, pure parts) ------------------------------------- */

enum cli_wait_for_type { CLI_WAIT_CONDITION, CLI_WAIT_DELETE };

struct cli_wait_for {
        enum cli_wait_for_type type;
        char condition[64]; /* "Succeeded" */
        char status[16];    /* "True" unless given */
};

/* "condition=Succeeded", "condition=Ready=False", "delete". -EINVAL otherwise. */
int cli_wait_for_parse(const char *s, struct cli_wait_for *ret);

enum cli_cond_result { CLI_COND_PENDING, CLI_COND_MET, CLI_COND_IMPOSSIBLE };

/* The status condition of that type (exact), or NULL; borrowed. */
const json_t *cli_status_condition(const json_t *o, const char *type);

/* Evaluates a condition wait against an object. IMPOSSIBLE when the object is
 * finished (a Task or Workflow in phase Succeeded or Failed can no longer
 * change its conditions) and the condition is not met; why then says "phase is Failed
 * (BackoffLimitExceeded)". Conditions match case-insensitively, like kubectl;
 * when the object has no condition of that type, the phase stands in for it
 * (phase Succeeded meets condition=Succeeded). */
enum cli_cond_result cli_condition_eval(const json_t *object, const struct cli_wait_for *w,
                                        char *why, size_t why_size);

/* ---- following an object (cmd-wait.c) ----------------------------------- */

/* Whether an object is where it is waited for; why says what makes it
 * IMPOSSIBLE. */
typedef enum cli_cond_result (*cli_follow_fn)(const json_t *object, void *userdata, char *why,
                                              size_t why_size);

enum cli_follow_outcome {
        CLI_FOLLOW_NONE,
        CLI_FOLLOW_MET,
        CLI_FOLLOW_IMPOSSIBLE,
        CLI_FOLLOW_DELETED,
};

/* GETs the object, then follows the watch of its kind from that
 * resourceVersion, calling eval with the object first and on every change of
 * it, until eval says MET or IMPOSSIBLE, the object is deleted, or the
 * deadline (monotonic ms, 0 = none). A stream that ends or expires is
 * restarted from a fresh GET. eval NULL waits for the deletion. With
 * check_once only the GET is evaluated. Returns 0 with *ret set (why filled
 * for IMPOSSIBLE), -ETIMEDOUT (also for check_once when still pending),
 * -ENOENT when the object did not exist at the first look and eval is set
 * (not printed), or another -errno after printing. */
int cli_follow_object(struct cli_ctx *ctx, const struct kind_info *kind, const char *ns,
                      const char *name, cli_follow_fn eval, void *userdata, int64_t deadline_ms,
                      bool check_once, enum cli_follow_outcome *ret, char *why, size_t why_size);

/* ---- services (cmd-service.c, pure parts) -------------------------------- */

/* Where a Service's rollout is, as `berth rollout status` judges it: MET when
 * status.observedGeneration >= metadata.generation and updatedReplicas,
 * availableReplicas and replicas all equal spec.replicas ("service/web
 * successfully rolled out"); IMPOSSIBLE when, for the observed generation,
 * the Progressing condition is False with reason ProgressDeadlineExceeded;
 * PENDING otherwise, msg then saying what is awaited ("Waiting for rollout: 1
 * of 2 updated replicas are available..."). */
enum cli_cond_result cli_rollout_eval(const json_t *service, char *msg, size_t msg_size);

/* The entry of status.history with that revision; with revision 0 the
 * newest one older than status.updateRevision (what `rollout undo` goes back
 * to). NULL when there is none. Borrowed from service. */
const json_t *cli_service_history_find(const json_t *service, int64_t revision);

/* Puts the spec of a history entry back: spec.template, ports, healthCheck
 * and restartedAt become the entry's (absent there: removed). -ENOMEM, or
 * -EINVAL when the entry has no spec.template. */
int cli_service_restore(json_t *service, const json_t *entry);

/* `berth rollout history`: REVISION CREATED IMAGE from status.history, in
 * revision order; the revision the replicas run is marked "(current)", and
 * during a rollout the one being rolled out "(updating)". -EIO when out
 * failed. */
int cli_rollout_history_print(FILE *out, const json_t *service);

/* ---- workflows (tree.c, pure) -------------------------------------------- */

#define CLI_TREE_CHILDREN_MAX 20 /* children of a fanned-out step drawn one a line */

/* `berth get workflow NAME -o tree`: a line "WORKFLOW  NAME  PHASE  PROGRESS
 * DURATION", then the steps of the spec in topological order (spec order
 * among those ready together), each on a branch ("├─ ", the last "└─ ")
 * with its phase (status.steps), its duration (startTime to finishTime, or
 * to now_ms while running) and "← a, b" naming its dependencies (dependsOn,
 * or the steps a depends expression names) unless it has only one and that
 * is the step on the line right above it. Under a fanned-out step (status
 * items set) its children, the Tasks of tasks (an array, may be NULL)
 * labelled WORKFLOW_LABEL=NAME and WORKFLOW_STEP_LABEL=STEP, by index, each
 * with its phase and duration; more than CLI_TREE_CHILDREN_MAX are counted
 * by phase and only those that did not succeed are listed (at most
 * CLI_TREE_CHILDREN_MAX). onExit last, when the Workflow has one. Columns
 * align; no trailing blanks. -ENOMEM, -EIO when out failed. */
int cli_workflow_tree_print(FILE *out, const json_t *workflow, const json_t *tasks, int64_t now_ms);

/* ---- unified diff (diff.c, pure) ------------------------------------------ */

#define CLI_DIFF_LINES_MAX 200000 /* lines of one side */
#define CLI_DIFF_EDITS_MAX 2000   /* edits searched for a minimal diff (O(D^2) memory) */
#define CLI_DIFF_CONTEXT   3

/* Writes the unified diff (`diff -u`) that turns text a into text b to out:
 * "--- a_label", "+++ b_label", then hunks "@@ -l,n +l,n @@" ("-l" alone for
 * one line; an empty side numbered after the line before it) of changed
 * lines with context unchanged lines around them, changes at most 2 *
 * context lines apart in one hunk. Lines end at '\n'; a last line without
 * one is followed by "\ No newline at end of file". Nothing is written when
 * the texts are equal. Past CLI_DIFF_EDITS_MAX edits (after the common first
 * and last lines) the diff is still correct but no longer minimal. Returns
 * 0 when equal, 1 when they differ, -E2BIG when a side has more than
 * CLI_DIFF_LINES_MAX lines (nothing written), -ENOMEM, -EIO. */
int cli_diff_unified(FILE *out, const char *a_label, const char *a, size_t a_len,
                     const char *b_label, const char *b, size_t b_len, int context);

/* ---- berth diff (cmd-diff.c, pure parts) ----------------------------------- */

/* An object as `berth diff` compares it: a copy with metadata.namespace ns
 * when it has none (a namespaced kind; ns may be NULL), the manifest
 * defaults filled, and without status, the metadata the server sets (uid,
 * generation, resourceVersion, creationTimestamp, managedFields,
 * finalizers, deletionTimestamp, ownerReferences) and empty labels or
 * annotations. New reference; NULL when object is not an object or memory
 * ran out. */
json_t *cli_diff_normalize(const json_t *object, const char *ns);
/* Removes from live the label and annotations a Source puts on the objects
 * it applies (SOURCE_LABEL, SOURCE_ANNOTATION, _PATH, _REVISION) unless file
 * (may be NULL) has them too: they are berth's, not the manifest's. */
void cli_diff_drop_source_marks(json_t *live, const json_t *file);
/* A deep copy of v whose object keys come in the order of like's (at the
 * same place; like may be NULL), then its others in their order: two
 * versions of an object print their lines in the same order. New
 * reference, NULL when memory ran out. */
json_t *cli_diff_ordered_like(const json_t *v, const json_t *like);

/* ---- sources (cmd-sync.c, pure parts) ----------------------------------- */

/* Whether the Source's status.lastSyncRequest is request: the sync asked for
 * with that SOURCE_ANNOTATION_SYNC value has happened. */
bool cli_source_synced(const json_t *source, const char *request);
/* "Service 2, Task 10" from status.objects (by kind name); "" when empty.
 * Caller frees; NULL when memory ran out. */
char *cli_source_objects_text(const json_t *objects);
/* "broken.yaml:7:3: spec.image: required" of an entry of status.errors. */
char *cli_source_error_text(const json_t *error);
/* "Task team-a/x: owned by hand" of an entry of status.conflicts. */
char *cli_source_conflict_text(const json_t *conflict);
/* What `berth sync` prints once the sync requested at requested_ms is done:
 * "source/NAME synced: revision R (KIND), N objects (by kind) from F files",
 * what this sync pruned or refused to prune (status.lastPrune, when not
 * older than the request), the errors and conflicts, and the Ready
 * condition when it is not True. 0 when Ready is True and no file is in
 * error, 1 otherwise, -EIO when out failed. */
int cli_source_sync_print(FILE *out, const json_t *source, int64_t requested_ms);

/* ---- events (cmd-events.c, pure parts) ------------------------------------ */

/* "Warning", "Normal" or "Warning,Normal" into a set of bits 1 << enum
 * event_type; -EINVAL for anything else (nothing, an unknown type). */
int cli_event_types_parse(const char *s, unsigned *ret);
/* Whether event's type is in types (0: every type). */
bool cli_event_wanted(const json_t *event, unsigned types);
/* Sorts an array of Events in place, oldest lastTimestamp first; Events of
 * the same time in the order they were written (metadata.resourceVersion).
 * -ENOMEM (the array is then incomplete). */
int cli_events_sort(json_t *items);
/* The field selector of `berth events`: "involvedObject.kind=Task,
 * involvedObject.name=NAME" for kind and name (both or neither), and
 * "type=T" when types is one type; "" for none. Caller frees; NULL when
 * memory ran out. */
char *cli_events_selector(const struct kind_info *kind, const char *name, unsigned types);

/* ---- tokens (cmd-token.c) ------------------------------------------------- */

#define CLI_TOKEN_SECRET_BYTES 32
#define CLI_TOKEN_SECRET_LEN   43 /* CLI_TOKEN_SECRET_BYTES in base64url, no padding */
#define CLI_TOKEN_TTL_MAX_MS   (3650LL * 24 * 3600 * 1000) /* --ttl: ten years */

/* A new token secret: CLI_TOKEN_SECRET_BYTES from getrandom(2) in base64url
 * without padding (no '.', so NAME.SECRET splits at the first dot). -errno
 * when the kernel's random source fails. */
int cli_token_secret_new(char ret[CLI_TOKEN_SECRET_LEN + 1]);

/* "sha256:" and the lowercase hex SHA-256 of secret: what a Token's
 * spec.secretHash holds. -EIO when libcrypto fails. */
int cli_token_hash(const char *secret, char ret[TOKEN_SECRET_HASH_LEN + 1]);

/* The Token object `berth token create` POSTs: metadata.name name;
 * spec.user, spec.groups (when ngroups > 0), spec.expirationTimestamp (RFC
 * 3339, when expires_ms > 0), spec.description (when not NULL) and
 * spec.secretHash. New reference; NULL when memory ran out. */
json_t *cli_token_object(const char *name, const char *user, const char *const *groups,
                         size_t ngroups, int64_t expires_ms, const char *description,
                         const char *hash);

/* ---- berth top (cmd-top.c, pure parts) ------------------------------------ */

/* Byte counts as docker stats writes them: "4.137MiB" (powers of 1024, four
 * significant digits: memory), "9.98kB" (powers of 1000, three: I/O). */
void cli_bytes_binary(uint64_t n, char *out, size_t size);
void cli_bytes_decimal(uint64_t n, char *out, size_t size);

struct cli_top_opts {
        bool all_namespaces; /* a NAMESPACE column first */
        bool replicas;       /* a REPLICA column after NAME (Services) */
        bool no_headers;
};

/* The table of a StatsList's items: [NAMESPACE] NAME [REPLICA] CPU% MEMORY
 * (usage / limit) PIDS NET I/O BLOCK I/O; "-" for a CPU share not known yet
 * and for a container without networks. An entry whose sample failed has
 * "-" everywhere, and a "warning: NS/NAME: why" line on err after the
 * table. Nothing for an empty array. -ENOMEM, -EIO when out or err failed. */
int cli_top_print(FILE *out, FILE *err, const json_t *items, const struct cli_top_opts *o);

/* ---- commands ------------------------------------------------------------ */

int cmd_apply(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv);
int cmd_get(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv);
int cmd_describe(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv);
int cmd_logs(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv);
int cmd_wait(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv);
int cmd_delete(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv);
int cmd_version(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv);
int cmd_cron(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv);
int cmd_trigger(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv);
int cmd_suspend(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv);
int cmd_resume(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv);
int cmd_scale(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv);
int cmd_rollout(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv);
int cmd_diff(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv);
int cmd_sync(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv);
/* berth top tasks|services [-l SELECTOR] [--no-headers]: GET of the
 * collection with ?stats=true, printed with cli_top_print. */
int cmd_top(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv);
/* berth events [--for KIND/NAME] [--types T] [-w] (cmd-events.c). */
int cmd_events(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv);
/* berth token create|list|revoke (cmd-token.c). */
int cmd_token(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv);
/* berth auth whoami|can-i (cmd-auth.c); can-i exits 0 yes, 1 no,
 * CLI_EXIT_ERROR anything else. */
int cmd_auth(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv);
/* `berth get` of one kind, for a command that lists it (berth token list):
 * the same flags (-o, -l, -w, --no-headers); the positional arguments are
 * names of that kind. Returns the exit code. */
int cli_get_kind(struct cli_ctx *ctx, const struct cli_command *cmd, const struct kind_info *kind,
                 int argc, char **argv);
/* berth submit FILE [-p NAME=VALUE]... [--wait [--timeout DUR]]: POSTs one Workflow
 * with its parameters set (so that generateName works) and prints
 * "workflow/NAME submitted"; with --wait follows it: 0 Succeeded, 1 Failed
 * (reason and message printed), deleted or timed out. */
int cmd_submit(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv);
/* berth stop task/NAME|workflow/NAME: sets spec.shutdown: Stop; "KIND/NAME
 * stopping", or a note when it is stopping or finished already (exit 0). */
int cmd_stop(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv);
/* berth retry workflow/NAME [--wait [--timeout DUR]]: a Failed Workflow
 * only; sets the annotation WORKFLOW_ANNOTATION_RETRY to now and removes
 * spec.shutdown in one write; --wait as for submit. */
int cmd_retry(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv);
/* berth cp workflow/NAME:STEP/FILE DEST|-: one file output of a step, from
 * GET .../workflows/NAME/results?step=STEP&file=FILE. */
int cmd_cp(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv);
/* GET of one file output of a Workflow's step (a build step's log is its
 * file WORKFLOW_BUILD_LOG_FILE) into *reply: CLI_EXIT_OK with the bytes in
 * reply->body, or an exit code after printing why. */
int cli_workflow_file(struct cli_ctx *ctx, const char *workflow, const char *step, const char *file,
                      struct cli_reply *reply);

/* Follows Workflow name in ns until it finished or the deadline (monotonic
 * ms, 0: none), as submit --wait and retry --wait do: CLI_EXIT_OK when it
 * succeeded ("workflow/NAME succeeded" printed), CLI_EXIT_FAIL when it
 * failed ("error: workflow/NAME failed: Reason: message"), was deleted or
 * the deadline passed. With retried_for (may be NULL) a finished phase
 * counts only once status.retriedFor has that value: until the controller
 * took the retry up, the phase is the last run's. */
int cli_workflow_wait(struct cli_ctx *ctx, const char *ns, const char *name,
                      const char *retried_for, int64_t deadline_ms);

/* Shared by delete --wait and wait --for=delete: waits until the object is
 * gone. Returns 0, -ETIMEDOUT, or another -errno after printing. */
int cli_wait_deleted(struct cli_ctx *ctx, const struct kind_info *kind, const char *ns,
                     const char *name, int64_t deadline_ms);

/* Namespace of an object on the command line: the object's own, or -n. */
const char *cli_object_ns(struct cli_ctx *ctx, const json_t *object);

/* Parses manifests from -f paths and checks each (fully with validate, else
 * only a known kind and a name); prints every problem and returns -EINVAL when
 * there is any, or when no document was found. ret is caller storage, zeroed;
 * release with manifest_list_release() even on failure. */
int cli_load_manifests(struct cli_ctx *ctx, const struct cli_list *files, bool recursive,
                       bool validate, struct manifest_list *ret);

/* With -n given explicitly, a document without metadata.namespace gets it;
 * one with another namespace is an error (printed, -EINVAL), as kubectl
 * does. -ENOMEM. */
int cli_apply_namespace(struct cli_ctx *ctx, const struct manifest_doc *d);

/* Where the batch of an apply that starts at document start ends (one past
 * its last document): documents whose JSON texts are lens[] bytes long go
 * into one body ("---\n" between them, "\n" after each) of at most max_docs
 * documents and max_bytes bytes, but always at least one document. n when
 * start >= n. */
size_t cli_apply_batch_end(const size_t *lens, size_t n, size_t start, size_t max_docs,
                           size_t max_bytes);
