/* manifests: YAML/JSON documents → jansson objects, validation, defaults, printing.
 *
 * Every parsed document keeps a position map so that any error names the file,
 * line, column and field: "task.yaml:7:3: spec.imagee: unknown field, did you
 * mean spec.image?". Objects are plain jansson trees with the Kubernetes envelope
 * (apiVersion, kind, metadata, spec, status).
 *
 * Limits (MANIFEST_*): a document is at most 1 MiB of text, nesting at most 32
 * levels, a file at most 1000 documents, a directory at most 10000 files.
 */
#pragma once

#include "common.h"

#define MANIFEST_DOC_MAX     (1024 * 1024)
#define MANIFEST_DEPTH_MAX   32
#define MANIFEST_DOCS_MAX    1000
#define MANIFEST_FILES_MAX   10000
#define MANIFEST_API_VERSION "berth/v1"

/* ---- kinds ------------------------------------------------------------ */

/* Every kind is described once, in manifests/<kind>.c, by a struct
 * kind_info: its names, schema (check and defaults), finalizer and what
 * `berth get` shows of it. The API router, the CLI, the controller and the
 * object cache read these instead of listing kinds; docs/internals/
 * adding-a-kind.md walks through adding one. */

#define FINALIZER_CONTAINERS "berth/containers" /* Task: its containers are removed */
#define FINALIZER_CHILDREN   "berth/children"   /* Workflow: its Tasks and results are deleted */

/* How `berth get` renders a column from the value at its path. */
enum column_format {
        COLUMN_TEXT,      /* a scalar as text; "" when absent */
        COLUMN_PHASE,     /* "Pending" when absent; coloured on a terminal */
        COLUMN_COUNT,     /* an integer; "0" when absent */
        COLUMN_INTEGER,   /* an integer; "" when absent */
        COLUMN_AGE,       /* time since the timestamp, kubectl-style ("5m") */
        COLUMN_ELAPSED,   /* from the timestamp to the one at `until` (or now): "1m5s" */
        COLUMN_SHORT_ID,  /* the first 12 characters (container IDs, revisions) */
        COLUMN_ONE_LINE,  /* the first line, control characters as spaces */
        COLUMN_PROGRESS,  /* "2/3"; before it is written, "0/<entries of the array at `until`>" */
        COLUMN_LENGTH,    /* the entries of an array, the keys of an object; "0" when absent */
        COLUMN_UNTIL,     /* time until the timestamp: "in 5m", "now" once it has passed */
        COLUMN_RATIO,     /* "<int at path>/<int at until>" ("2/3"); 0 for an absent one */
        COLUMN_CONDITION, /* the status ("True") of the entry of the conditions array at path
                           * whose type is `condition`; the fallback (else "") without one */
        COLUMN_OBJECT,    /* an object reference ({kind, name}) at path as "task/hello" */
};

struct printer_column {
        const char *title; /* "PHASE"; NULL ends a list */
        const char *path;  /* "status.phase" */
        enum column_format format;
        const char *until;     /* second path of ELAPSED, PROGRESS and RATIO */
        bool wide;             /* only with -o wide */
        const char *fallback;  /* text when the value is absent (else the format's) */
        const char *condition; /* CONDITION: the condition type ("Ready") */
};

struct check; /* manifests-internal.h */

struct kind_info {
        const char *kind;       /* "Task" */
        const char *resource;   /* "tasks": URL and store key segment */
        const char *singular;   /* "task" */
        const char *short_name; /* "tk" or NULL */
        bool namespaced;
        /* Grants access (Roles, bindings, Tokens): only written by a caller
         * the API authorizes, never by a Source on its author's behalf. */
        bool access_control;
        /* Finalizer every object of the kind carries (added on create by the API
         * and by its reconciler), or NULL: its controller's clean-up on delete. */
        const char *finalizer;
        /* Runs to completion: once its phase is Succeeded or Failed its status
         * no longer changes (`berth wait` gives up on an unmet condition). */
        bool runs_to_completion;
        /* API subresources, NULL-terminated (may be NULL): "log" (the
         * containers' output), "results" (growing data, see object_data_key),
         * "stats" (the running containers' resource use). */
        const char *const *subresources;
        /* `berth get` columns after NAMESPACE (with -A) and NAME. */
        const struct printer_column *columns;
        /* NAME only with -o wide: a name nobody reads or types (an Event's
         * is generated). */
        bool name_wide;
        /* The label its children (the objects it creates) carry with its name,
         * or NULL: `berth describe` lists them. */
        const char *children_label;
        /* Schema: checks a spec at path "spec" (required unless NULL) and, when
         * ret_spec is not NULL, decodes it into the kind's typed spec at the
         * same time (struct task_spec, ...: one function, so what the API
         * accepts and what a controller runs from never disagree); fills its
         * defaults (after a check found nothing). */
        void (*check_spec)(struct check *c, const json_t *spec, void *ret_spec);
        void (*default_spec)(json_t *spec);
        /* Kinds whose fields sit at the top level beside metadata, as
         * Kubernetes' Secret has them (data, stringData, type): no spec
         * (check_spec and default_spec are NULL, and a spec is refused).
         * object_fields lists those top-level fields (NULL-terminated; the
         * envelope's apiVersion, kind, metadata and status are always
         * allowed) and check_object checks them on the whole object. apply
         * compares them where it compares a spec (unchanged?, generation). */
        const char *const *object_fields;
        void (*check_object)(struct check *c, const json_t *object);
};

/* Finds a kind by any of its names, case-insensitive: "Task", "task", "tasks".
 * NULL if unknown. Static storage. */
const struct kind_info *kind_lookup(const char *name);
/* Whether a Source may apply objects of kind: namespaced, not access
 * control, not a Source. */
bool kind_source_may_apply(const struct kind_info *kind);
/* Exactly as manifests spell it ("Task"), or NULL. */
const struct kind_info *kind_by_name(const char *kind);
/* All kinds this build knows, NULL-terminated. */
const struct kind_info *const *kind_all(void);
bool kind_has_subresource(const struct kind_info *kind, const char *name);

/* Store key of an object: "<prefix><resource>/<namespace>/<name>", e.g.
 * "/berth/tasks/default/hello". prefix ends with '/'. ns NULL or "" gives
 * "<prefix><resource>/<name>" (cluster-scoped kinds). Caller frees; NULL on
 * allocation failure or a NULL prefix, resource or name. */
char *object_key(const char *prefix, const char *resource, const char *ns, const char *name);
/* Splits a key made by object_key into its parts (written into caller arrays of
 * 64 bytes each; resource may be NULL; ns is "" for a two-segment key).
 * -EINVAL if the key is not of that form or a part is 64 bytes or longer; the
 * arrays are untouched then. */
int object_key_parse(const char *prefix, const char *key, char resource[64], char ns[64],
                     char name[64]);

/* Fills the metadata the server sets on a new object: a random uid,
 * generation 1, creationTimestamp (now_ms) and the kind's finalizer (added to
 * any the object already asks for). Other server metadata must be absent.
 * -ENOMEM, or -errno when no uid could be made. */
int object_stamp_new(json_t *object, const struct kind_info *kind, int64_t now_ms);

/* Key of a piece of an object's growing data (docs/internals/store.md):
 * "<prefix><resource>-data/<namespace>/<name>/<part>", e.g.
 * "/berth/workflows-data/default/etl/step-extract". With part NULL: the prefix
 * of all of them, ending in '/'. Caller frees. */
char *object_data_key(const char *prefix, const char *resource, const char *ns, const char *name,
                      const char *part);
/* Whether key (under prefix) is such a data key rather than an object's. */
bool object_key_is_data(const char *prefix, const char *key);

/* DNS-1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters. */
bool name_is_valid(const char *name);

/* metadata.generateName: the server names the object on create (POST to the
 * collection) generateName followed by MANIFEST_GENERATED_SUFFIX_LEN random
 * characters of MANIFEST_GENERATED_ALPHABET (no vowels: no words), like
 * Kubernetes. The prefix leaves room for them in a DNS-1123 label. */
#define MANIFEST_GENERATED_SUFFIX_LEN 5
#define MANIFEST_GENERATE_NAME_MAX    (63 - MANIFEST_GENERATED_SUFFIX_LEN)
#define MANIFEST_GENERATED_ALPHABET   "bcdfghjklmnpqrstvwxz2456789"
/* Why an apply (berth apply, POST /apply, a Source) refuses such an object. */
#define MANIFEST_GENERATE_NAME_APPLY                                                               \
        "generateName needs berth submit (a POST to the collection): apply cannot tell which "     \
        "object to update"

/* A DNS-1123 label prefix: [a-z0-9][-a-z0-9]*, at most
 * MANIFEST_GENERATE_NAME_MAX characters (a trailing '-' is fine). */
bool generate_name_is_valid(const char *prefix);
/* Whether object has metadata.generateName and no metadata.name: only a
 * create can take it, which picks the name. */
bool manifest_generates_name(const json_t *object);

/* ---- parsing ---------------------------------------------------------- */

struct manifest_doc {
        json_t *object; /* owned; the document's mapping */
        json_t *positions; /* owned; "spec.env[0].name" → [line, column] (1-based); "" → document */
        char *source;      /* owned; file path, "<stdin>" or what the caller named */
        int line;          /* line where the document's mapping starts (1-based) */
};

struct manifest_list {
        struct manifest_doc *docs;
        size_t n;
};

void manifest_list_release(struct manifest_list *list);

/* Parses a buffer holding one or more YAML documents (JSON is YAML). Empty
 * documents (nothing, or a plain null) are skipped. Every document must be a
 * mapping with scalar keys and no duplicate keys. Scalars become JSON strings,
 * numbers, booleans or null by the YAML 1.2 core schema (yes/no/on/off are
 * strings; .inf and .nan are errors); quoted scalars always stay strings.
 * Aliases and tags other than the core ones are rejected; anchors are ignored.
 * NUL characters in strings are rejected. source NULL reads "<input>".
 * Appends to *list (which may already hold documents); on error nothing is
 * appended and err says "source:line:column: what" (-EINVAL, or -E2BIG for
 * the MANIFEST_* limits, or -ENOMEM). */
int manifest_parse_buffer(const char *data, size_t len, const char *source,
                          struct manifest_list *list, struct berth_error *err);
/* A file, a directory (*.yaml, *.yml, *.json in name order; subdirectories only
 * when recursive; names starting with '.' and symlinks to directories are
 * skipped) or "-" for stdin (source "<stdin>"). Each document's source is the
 * file's path. Appends to *list; nothing on error. */
int manifest_parse_path(const char *path, bool recursive, struct manifest_list *list,
                        struct berth_error *err);

/* ---- validation ------------------------------------------------------- */

struct field_error {
        char *field;   /* "spec.image", "metadata.name" */
        char *message; /* "required", "unknown field, did you mean spec.image?" */
        int line;      /* 0 when unknown */
        int column;
};

struct field_errors {
        struct field_error *items;
        size_t n;
};

void field_errors_release(struct field_errors *errs);
/* Adds one error (copies strings). */
int field_errors_add(struct field_errors *errs, const char *field, int line, int column,
                     const char *fmt, ...) _printf_(5, 6);
/* "source:line:column: field: message" lines joined with "\n" (no trailing). */
char *field_errors_format(const struct field_errors *errs, const char *source);

/* Validates an object as a user submitted it: the envelope (apiVersion berth/v1,
 * a known kind, metadata.name a DNS-1123 label, namespace likewise, labels and
 * annotations string maps, no unknown fields) and the kind's spec (all fields,
 * types, ranges, unknown fields with a "did you mean" hint). Server-set metadata
 * (uid, generation, resourceVersion, creationTimestamp, ...) and status are
 * allowed and ignored. positions may be NULL (then line/column are 0).
 * Returns 0 when valid, -EINVAL with every problem appended to *ret_errs
 * (sorted by line and column) otherwise, -ENOMEM with *ret_errs untouched. */
int manifest_validate(const json_t *object, const json_t *positions, struct field_errors *ret_errs);

/* Fills the defaults documented in docs/reference: metadata.namespace
 * "default" and the kind's spec defaults (kind_info.default_spec).
 * Idempotent. The object must have passed manifest_validate. */
void manifest_apply_defaults(json_t *object);

/* ---- expressions ----------------------------------------------------- */

/* Workflow templates: "{{ expr }}" in a string (docs/reference/workflow.md).
 * expr is trimmed of spaces and must be a dotted path of segments made of
 * [A-Za-z0-9_-]; every "{{" starts one. */
#define EXPR_MAX_LEN 256 /* characters of one trimmed expression; longer is -EINVAL */

/* Resolves one expression. Return 0 with *ret_value (borrowed, may be "") set,
 * or -ENOENT when unknown, with a message in msg (e.g. "unknown parameter
 * \"dya\"") of msg_size bytes. */
typedef int (*expr_resolve_fn)(const char *expr, const char **ret_value, char *msg, size_t msg_size,
                               void *userdata);

/* Expands every expression of s. *ret is the caller's (free it). On error
 * (-EINVAL: unterminated "{{", empty or malformed expression, or what resolve
 * refused) *ret is NULL and msg says why (e.g. "{{parameters.x}}: unknown
 * parameter \"x\""). -E2BIG when the result would exceed max_len bytes. */
int expr_expand(const char *s, expr_resolve_fn resolve, void *userdata, size_t max_len, char **ret,
                char *msg, size_t msg_size);

/* ---- step conditions (cond.c) ------------------------------------------ */

/* The expression language of a Workflow step's `depends` and `when`
 * (docs/reference/workflow.md, "Conditions"):
 *
 *   expr    := or
 *   or      := and ( "||" and )*
 *   and     := unary ( "&&" unary )*
 *   unary   := "!" unary | compare
 *   compare := operand [ ( "==" | "!=" | "<" | "<=" | ">" | ">=" ) operand ]
 *   operand := "(" expr ")" | string | word
 *   string  := '...' | "..."   (a backslash escapes the next character)
 *   word    := a run of characters other than space, tab, quotes, "(", ")",
 *              "!", "=", "<", ">", "&", "|"
 *
 * A comparison is numeric when both sides read as numbers (strtod, whole
 * text, finite), else it compares the strings bytewise. An operand used
 * where a boolean is needed must be the word true or false (a comparison,
 * !, && and || make booleans). In COND_DEPENDS mode a word must be
 * "<step>.<outcome>" (outcome Succeeded, Failed, Skipped or Completed =
 * ended either way), comparisons are not allowed, and the word's value is
 * asked of the caller; in COND_WHEN mode words are plain text (the
 * expression is evaluated after {{...}} templating). */
#define COND_TEXT_MAX  4096 /* bytes of one expression */
#define COND_NODES_MAX 512  /* operators and operands of one expression */
#define COND_REFS_MAX  64   /* <step>.<outcome> words of a depends expression */

enum cond_mode { COND_DEPENDS, COND_WHEN };

/* A step's outcome as a depends expression names it. */
enum step_outcome {
        STEP_OUTCOME_SUCCEEDED,
        STEP_OUTCOME_FAILED,
        STEP_OUTCOME_SKIPPED,
        STEP_OUTCOME_COMPLETED, /* Succeeded or Failed */
};

struct cond; /* a parsed expression */

/* Parses text. -EINVAL with msg "column N: what" (1-based, in bytes:
 * "column 12: expected ')' to close the '(' at column 3"), -E2BIG past the
 * limits above (same message form), -ENOMEM. *ret is the caller's
 * (cond_free). */
int cond_parse(const char *text, enum cond_mode mode, struct cond **ret, char *msg,
               size_t msg_size);
void cond_free(struct cond *c); /* NULL ok */

/* COND_DEPENDS: the <step>.<outcome> words, in order of appearance (a step
 * may appear more than once). step is borrowed from c. */
size_t cond_n_refs(const struct cond *c);
void cond_ref(const struct cond *c, size_t i, const char **ret_step,
              enum step_outcome *ret_outcome);
/* Whether the expression names step with .Failed or .Completed: its failure
 * is expected and handled by the step that depends on it. */
bool cond_handles_failure(const struct cond *c, const char *step);

/* COND_DEPENDS evaluation: fn says whether step ended with that outcome. */
typedef bool (*cond_outcome_fn)(const char *step, enum step_outcome outcome, void *userdata);
bool cond_eval_depends(const struct cond *c, cond_outcome_fn fn, void *userdata);

/* COND_WHEN: parses and evaluates text in one go. 0 with *ret, or -EINVAL
 * (a parse error, or an operand that is not a boolean where one is needed:
 * "column 1: \"abc\" is not a boolean (true or false)"), -E2BIG, -ENOMEM,
 * with msg as for cond_parse. */
int cond_eval_when(const char *text, bool *ret, char *msg, size_t msg_size);

/* ---- Task (task.c) ---------------------------------------------------- */

#define TASK_DEFAULT_BACKOFF_LIMIT       6
#define TASK_DEPENDS_ON_MAX              64 /* entries of a Task's spec.dependsOn */
#define TASK_DEFAULT_BACKOFF_INITIAL_SEC 10
#define TASK_DEFAULT_BACKOFF_FACTOR      2
#define TASK_DEFAULT_BACKOFF_MAX_SEC     300
/* spec.priority: queued Tasks start higher first (docs/reference/task.md,
 * "Queueing"); the same bounds as runqueue.h's. */
#define TASK_PRIORITY_MIN (-1000000)
#define TASK_PRIORITY_MAX 1000000

enum pull_policy { PULL_IF_NOT_PRESENT, PULL_ALWAYS, PULL_NEVER };
/* Failures of an attempt, as retryOn names them (docs/reference/task.md). */
enum retry_on {
        RETRY_ON_ERROR = 1u << 0,             /* exited non-zero */
        RETRY_ON_OOM_KILLED = 1u << 1,        /* OOMKilled */
        RETRY_ON_DEADLINE_EXCEEDED = 1u << 2, /* activeDeadlineSeconds, per attempt */
        RETRY_ON_CONTAINER_LOST = 1u << 3,    /* the container disappeared */
};
#define RETRY_ON_DEFAULT     (RETRY_ON_ERROR | RETRY_ON_OOM_KILLED | RETRY_ON_CONTAINER_LOST)
#define RETRY_EXIT_CODES_MAX 256
enum retry_exit_codes_mode { RETRY_EXIT_CODES_ANY, RETRY_EXIT_CODES_IN, RETRY_EXIT_CODES_NOT_IN };
/* "Error", "OOMKilled", "DeadlineExceeded", "ContainerLost" → its bit; 0 if none. */
unsigned retry_on_from_string(const char *s);
/* Whether a failed attempt is worth another one by the spec's retry rules
 * (restartPolicy, retryOn, retryExitCodes; not backoffLimit, which the
 * caller counts). reason is the attempt's: Error (with exit_code),
 * OOMKilled, DeadlineExceeded or ContainerLost. Pure: the decision table of
 * docs/reference/task.md. */
struct task_spec;
bool task_retry_allowed(const struct task_spec *spec, unsigned reason, int exit_code);
enum restart_policy { RESTART_NEVER, RESTART_ON_FAILURE };
enum volume_type { VOLUME_HOST_PATH, VOLUME_NAMED, VOLUME_TMPFS, VOLUME_SECRET };

struct task_env {
        const char *name;
        const char *value; /* "" when not set (and when secret is) */
        /* valueFrom.secretKeyRef: the value is key of the Secret named
         * secret in the Task's namespace, resolved when a container is
         * made; NULL: value. */
        const char *secret;
        const char *secret_key;
};

struct task_volume {
        enum volume_type type;
        const char *mount_path;
        /* hostPath, volume name or Secret name (VOLUME_SECRET: its keys
         * as files, always read-only); NULL for tmpfs */
        const char *source;
        bool read_only;
        int64_t size_limit; /* tmpfs bytes; 0 = Docker's default */
};

/* ---- container security (security.c) ------------------------------------ */

/* Linux capabilities, numbered as the kernel numbers them and named as
 * Docker names them ("SYS_ADMIN"): a set of them is a bit mask, bit i for
 * capability i, and CAPABILITY_ALL for the value ALL (every one). */
#define CAPABILITY_COUNT     41
#define CAPABILITY_ALL       (UINT64_C(1) << 63)
#define CAPABILITY_BIT(i)    (UINT64_C(1) << (i))
#define TASK_DEVICES_MAX     64 /* entries of a Task spec's devices */
#define TASK_RUN_AS_USER_MAX 2147483647

/* The bit of a capability name, written with or without the CAP_ prefix,
 * in any case ("sys_admin", "CAP_SYS_ADMIN"); "ALL" gives CAPABILITY_ALL.
 * 0 when it names none. */
uint64_t capability_from_string(const char *s);
/* "SYS_ADMIN" for one capability's bit, "ALL" for CAPABILITY_ALL; NULL for
 * anything else. Static storage. */
const char *capability_to_string(uint64_t bit);
/* The names of a set: ALL first, then by number. New reference, or NULL. */
json_t *capabilities_to_json(uint64_t set);
/* A user as Docker takes it ("uid", "uid:gid", "name", "name:group"):
 * whether it is root (uid 0, or the name root), and whether its user part
 * is a number. An empty user is the image's: neither. */
bool task_user_is_root(const char *user);
bool task_user_is_numeric(const char *user);

/* A host device the container gets (spec.devices[]). Borrowed. */
struct task_device {
        const char *host_path;      /* absolute */
        const char *container_path; /* absolute; host_path when not set */
        const char *permissions;    /* a non-empty subset of "rwm", each once; "rwm" when not set */
};

/* What a container asks of the kernel: spec.securityContext, hostPID,
 * hostIPC and devices. Decoding only checks the shape (and contradictions
 * within the spec, such as runAsNonRoot with runAsUser 0): whether the
 * container may have it is the admission policy's to say (admission.h). */
struct task_security {
        bool privileged;
        uint64_t cap_add;  /* capabilities.add, CAPABILITY_ALL for ALL */
        uint64_t cap_drop; /* capabilities.drop; never overlaps cap_add */
        bool read_only_root_filesystem;
        bool run_as_non_root;
        bool has_run_as_user;    /* false: spec.user, or the image's */
        int64_t run_as_user;     /* 0..TASK_RUN_AS_USER_MAX */
        bool seccomp_unconfined; /* seccompProfile.type Unconfined (RuntimeDefault: false) */
        bool allow_privilege_escalation;
        bool host_pid, host_ipc;
        struct task_device *devices; /* owned (task_spec_release) */
        size_t n_devices;
};

/* A Task spec, checked and with every default filled: what the Task
 * reconciler works from. Strings and JSON values are borrowed from the JSON
 * it was decoded from; env, volumes and the depends_on array are owned
 * (task_spec_release), the names in depends_on borrowed. */
/* spec.executor.type of a Task that runs its command in an existing
 * container (docs/reference/task.md); absent: TASK_EXECUTOR_DOCKER, one
 * container per attempt. Other types name executor plugins. */
#define TASK_EXECUTOR_DOCKER      "docker"
#define TASK_EXECUTOR_DOCKER_EXEC "docker-exec"

struct task_spec {
        /* The executor's type (TASK_EXECUTOR_DOCKER when absent) and its
         * settings: the spec.executor object, or NULL. docker-exec reads
         * its target from exec_container_name or exec_container_labels
         * (exactly one is set). image is NULL only with another executor
         * than docker. */
        const char *executor;
        const json_t *executor_config;
        const char *exec_container_name;
        const json_t *exec_container_labels;
        const char *image;
        enum pull_policy pull_policy;
        const json_t *command; /* array of strings, or NULL: the image's entrypoint */
        const json_t *args;    /* array of strings, or NULL: the image's command */
        struct task_env *env;
        size_t n_env;
        const char *working_dir; /* NULL = the image's */
        const char *user;        /* NULL = the image's */
        const char *network;     /* NULL = Docker's default */
        struct task_volume *volumes;
        size_t n_volumes;
        int64_t cpu_millis;   /* 0 = no limit */
        int64_t memory_bytes; /* 0 = no limit */
        int64_t pids_limit;   /* 0 = no limit */
        const json_t *labels; /* object of strings (no "berth." keys), or NULL */
        enum restart_policy restart_policy;
        int64_t priority;                /* spec.priority: 0 unless set */
        bool priority_set;               /* spec.priority is there */
        const char *priority_class_name; /* spec.priorityClassName, or NULL */
        int backoff_limit;
        int64_t backoff_initial_ms;
        double backoff_factor;
        int64_t backoff_max_ms;
        int64_t active_deadline_ms;    /* 0 = none */
        int64_t ttl_after_finished_ms; /* < 0 = keep forever */
        /* Names of Tasks of the same namespace that must succeed before the
         * first attempt starts: unique, never the Task itself (a Task
         * object's spec only). */
        const char *const *depends_on;
        size_t n_depends_on;
        /* Which failed attempts restartPolicy OnFailure retries: a bit per
         * enum retry_on (default Error, OOMKilled and ContainerLost). With
         * RETRY_ON_DEADLINE_EXCEEDED activeDeadlineSeconds limits each attempt
         * instead of the whole Task. */
        unsigned retry_on;
        /* retryExitCodes: an attempt that exited with code c (reason Error) is
         * retried only when c is in (notIn: is not in) exit_codes. */
        enum retry_exit_codes_mode retry_exit_codes_mode;
        const int *retry_exit_codes; /* owned */
        size_t n_retry_exit_codes;
        /* shutdown: Stop — stop the running attempt (SIGTERM, then SIGKILL
         * after the grace period) and fail with reason Stopped; a Task not
         * started yet fails at once. Set by `berth stop` and by Workflows. */
        bool shutdown;
        struct task_security security;
};

/* Decodes the spec of a Task object with the checks of manifest_validate.
 * -EINVAL with err naming the first bad field ("spec.image: required"),
 * -ENOMEM; *ret untouched then. Release with task_spec_release(). */
int task_spec_decode(const json_t *object, struct task_spec *ret, struct berth_error *err);
void task_spec_release(struct task_spec *spec); /* NULL ok */

/* ---- Workflow (workflow.c) -------------------------------------------- */

#define WORKFLOW_STEPS_MAX      500
#define WORKFLOW_PARAMETERS_MAX 64
#define WORKFLOW_ITEMS_MAX      1000          /* children of one fanned-out step */
#define WORKFLOW_FILES_MAX      16            /* outputs.files of one step */
#define WORKFLOW_FILE_MAX       (1024 * 1024) /* bytes of one file output */
/* The exit handler's name in the status, in messages and in its Task's name
 * ("<workflow>-onexit", so no step may be named "onexit"). */
#define WORKFLOW_EXIT_STEP "onExit"
#define WORKFLOW_EXIT_TASK "onexit"
/* The Docker volume of a Workflow run with spec.workspace, mounted at
 * WORKFLOW_WORKSPACE_PATH in every step: "berth-ws-<workflow uid>". */
#define WORKFLOW_WORKSPACE_PATH "/workspace"
/* Labels on a step's Task: the Workflow's and the step's names. */
#define WORKFLOW_LABEL      "berth.workflow"
#define WORKFLOW_STEP_LABEL "berth.step"
/* Annotation: `berth retry` asks for a rerun of the failed and skipped steps
 * (RFC 3339 time of the request; status.retriedFor records the one done). */
#define WORKFLOW_ANNOTATION_RETRY "berth/retry"

struct workflow_parameter {
        const char *name;
        const char *value;
};

/* Characters of a deploy step's image, as written and once expanded. */
#define WORKFLOW_DEPLOY_IMAGE_MAX   1024
#define WORKFLOW_DEPLOY_TIMEOUT_MAX 86400 /* seconds */

/* A deploy step: sets the image of a Service of the Workflow's namespace and
 * (wait) follows its rollout. */
struct workflow_deploy {
        const char *service; /* a Service name */
        const char *image;   /* {{...}} not yet expanded */
        bool wait;
        int64_t timeout_ms; /* 0 = none: the Service's progressDeadlineSeconds decides */
};

/* A build step: berthd builds an image from a directory of its own host
 * (inside a --build-root, checked by berthd) through the Engine API. */
#define WORKFLOW_BUILD_PATH_MAX 4096
#define WORKFLOW_BUILD_TAGS_MAX 16
#define WORKFLOW_BUILD_ARGS_MAX 64
/* The reserved file output of a build step: its build log. */
#define WORKFLOW_BUILD_LOG_FILE "log"
struct workflow_build {
        const char *context;      /* absolute, as written (no expressions) */
        const char *dockerfile;   /* inside the context; "Dockerfile" when not set */
        const json_t *tags;       /* array of strings, {{...}} not expanded, or NULL */
        const json_t *build_args; /* object of strings, {{...}} not expanded, or NULL */
};

enum workflow_step_type { WORKFLOW_STEP_TASK, WORKFLOW_STEP_DEPLOY, WORKFLOW_STEP_BUILD };
/* "task", "deploy", "build": the step's field. */
const char *workflow_step_type_field(enum workflow_step_type t);

/* outputs.files[]: a file read from the step's finished container. */
struct workflow_output_file {
        const char *name; /* [A-Za-z0-9_-]+, unique in the step */
        const char *path; /* absolute */
};

/* A step runs a Task (task), deploys (task NULL, deploy) or builds an
 * image (task NULL, build). */
struct workflow_step_spec {
        const char *name;
        enum workflow_step_type type;
        /* Indexes of the steps it depends on, in their order: its dependsOn,
         * or the steps its depends expression names (each once). */
        const size_t *deps;
        size_t n_deps;
        const json_t *task; /* the Task spec template, {{...}} not yet expanded; NULL: deploy */
        struct workflow_deploy deploy;
        struct workflow_build build;
        /* depends: parsed (owned); NULL = dependsOn, every dependency Succeeded */
        struct cond *depends;
        const char *when;         /* a COND_WHEN expression, {{...}} not expanded; NULL = always */
        const json_t *with_items; /* fan-out over this array, or NULL */
        const char *with_param;   /* "{{steps.S.outputs.result}}", or NULL */
        size_t with_param_step;   /* with_param: the index of S */
        const json_t *retry_strategy;       /* checked; NULL = the Task's own restart fields */
        struct workflow_output_file *files; /* owned array */
        size_t n_files;
        bool continue_on_failed; /* continueOn.failed: a failure counts as success downstream */
        bool exit_handler;       /* spec.onExit: runs after every other step ended */
};

/* A Workflow spec, checked (dependencies resolved, no cycles, expressions
 * known) and defaulted. Borrowed from its JSON but for the arrays and the
 * parsed conditions (workflow_spec_release). */
struct workflow_spec {
        struct workflow_parameter *parameters;
        size_t n_parameters;
        /* n_steps steps, then spec.onExit when set (on_exit points at it:
         * steps[n_steps], named WORKFLOW_EXIT_STEP, exit_handler true) */
        struct workflow_step_spec *steps;
        size_t n_steps;                     /* 1..WORKFLOW_STEPS_MAX */
        struct workflow_step_spec *on_exit; /* NULL: none */
        bool on_exit_fail_workflow;         /* onExit.failWorkflow */
        bool fail_fast;
        int parallelism;               /* 0 = no limit */
        int64_t ttl_after_finished_ms; /* < 0 = keep forever */
        int64_t active_deadline_ms;    /* 0 = none */
        bool workspace;                /* spec.workspace set */
        bool workspace_keep;           /* workspace.keep */
        bool shutdown;                 /* spec.shutdown: Stop */
        size_t *deps;                  /* storage of every step's deps */
};

/* Like task_spec_decode, for a Workflow object. */
int workflow_spec_decode(const json_t *object, struct workflow_spec *ret, struct berth_error *err);
void workflow_spec_release(struct workflow_spec *spec); /* NULL ok */
/* Index of the step named name, or spec->n_steps. */
size_t workflow_spec_step(const struct workflow_spec *spec, const char *name);
/* Writes a step's retryStrategy into the Task spec made from its template
 * (restartPolicy OnFailure, backoffLimit = limit, backoff, retryOn,
 * retryExitCodes, replacing the template's): the step's rule wins. No-op
 * without one. -ENOMEM. */
int workflow_apply_retry_strategy(json_t *task_spec, const json_t *retry_strategy);

/* What a Workflow template expression names (docs/reference/workflow.md). */
enum workflow_ref_type {
        WORKFLOW_REF_PARAMETER,   /* parameters.<name> */
        WORKFLOW_REF_STEP_RESULT, /* steps.<step>.outputs.result */
        WORKFLOW_REF_STEP_FILE,   /* steps.<step>.outputs.files.<file> */
        WORKFLOW_REF_NAME,        /* workflow.name */
        WORKFLOW_REF_NAMESPACE,   /* workflow.namespace */
        WORKFLOW_REF_UID,         /* workflow.uid */
        WORKFLOW_REF_STATUS,      /* workflow.status (onExit only) */
        WORKFLOW_REF_FAILURES,    /* workflow.failures (onExit only) */
        WORKFLOW_REF_ITEM,        /* item, item.<field> (fanned-out steps only) */
};

struct workflow_ref {
        enum workflow_ref_type type;
        char name[EXPR_MAX_LEN + 1];  /* the parameter or step; "" otherwise */
        char field[EXPR_MAX_LEN + 1]; /* the file, or the item's field path; "" otherwise */
};

/* Parses one expression as expr_expand hands it to a resolver. -ENOENT with
 * msg saying which expressions exist when it is none of them; a step name
 * holding a '.' is an unknown step. */
int workflow_ref_parse(const char *expr, struct workflow_ref *ret, char *msg, size_t msg_size);

/* The strings of a step's Task spec where expressions are expanded:
 * command[i], args[i] and env[i].value. fn gets each string value, its field
 * path inside the Task spec ("env[2].value") and, for an env value, the
 * variable's name (else NULL); a negative return stops the walk and is
 * returned. */
typedef int (*task_template_fn)(json_t *value, const char *field, const char *env_name,
                                void *userdata);
int task_template_foreach(const json_t *task_spec, task_template_fn fn, void *userdata);
/* The same for a build step's build: tags[i] and buildArgs.<name>. */
int workflow_build_template_foreach(const json_t *build, task_template_fn fn, void *userdata);

/* ---- CronTask (crontask.c) -------------------------------------------- */

/* A CronTask creates a child Task or Workflow per scheduled time, named
 * "<crontask>-<unix minutes>" ("-<unix seconds>" for @every under a minute,
 * "-manual-<unix seconds>" for `berth trigger`): the longest must still be a
 * valid object name. */
#define CRONTASK_CHILD_SUFFIX_MAX 18 /* "-manual-" and 10 digits */
#define CRONTASK_NAME_MAX         (63 - CRONTASK_CHILD_SUFFIX_MAX)
#define CRONTASK_HISTORY_MAX      1000
#define CRONTASK_CATCH_UP_MAX     1000
#define CRONTASK_LABEL            "berth.crontask"       /* on children: the CronTask's name */
#define CRONTASK_ANNOTATION_TIME  "berth/scheduled-time" /* on children: RFC 3339 */
#define CRONTASK_ANNOTATION_RUN   "berth/trigger"        /* on the CronTask: run now (RFC 3339) */
#define CRONTASK_ANNOTATION_FORCE "berth/trigger-force"  /* "true": despite concurrencyPolicy */

enum concurrency_policy { CONCURRENCY_ALLOW, CONCURRENCY_FORBID, CONCURRENCY_REPLACE };
enum catch_up_policy { CATCH_UP_NONE, CATCH_UP_LATEST, CATCH_UP_ALL };

struct cron_schedule; /* cron.h */
struct cron_zone;

/* A CronTask spec, checked and defaulted; schedule and zone are owned
 * (crontask_spec_release), the rest borrowed from the object. */
struct crontask_spec {
        const char *schedule_text;
        struct cron_schedule *schedule;
        const char *time_zone; /* "UTC" when not set */
        struct cron_zone *zone;
        enum concurrency_policy concurrency;
        int64_t starting_deadline_ms; /* 0 = none */
        enum catch_up_policy catch_up;
        int catch_up_max;
        bool suspend;
        int successful_history;
        int failed_history;
        const struct kind_info *child_kind; /* Task or Workflow */
        const json_t *child_labels;         /* template metadata.labels, or NULL */
        const json_t *child_annotations;    /* template metadata.annotations, or NULL */
        const json_t *child_spec;           /* the template's spec */
};

int crontask_spec_decode(const json_t *object, struct crontask_spec *ret, struct berth_error *err);
void crontask_spec_release(struct crontask_spec *spec); /* NULL ok */
const char *concurrency_policy_to_string(enum concurrency_policy p);

/* ---- Service (service.c) --------------------------------------------- */

/* A Service keeps spec.replicas containers of its template running, one per
 * replica index, and rolls them to a new revision when the template changes
 * (docs/reference/service.md). Its containers are named
 * "berth.<ns>.<name>.<rev8>.<index>": the name is at most 40 characters. */
#define SERVICE_NAME_MAX      40
#define SERVICE_REPLICAS_MAX  1000
#define SERVICE_PORTS_MAX     8
#define SERVICE_PORT_NAME_MAX 15 /* IANA service names: [a-z0-9-], at most 15 */
#define SERVICE_HISTORY_MAX   100
/* Annotation: "<ns>/<workflow>" of the deploy step that wrote the Service. */
#define SERVICE_ANNOTATION_DEPLOYED_BY "berth/deployed-by"

enum health_check_type {
        HEALTH_CHECK_NONE,
        HEALTH_CHECK_EXEC,
        HEALTH_CHECK_HTTP,
        HEALTH_CHECK_TCP
};
enum update_strategy { UPDATE_ROLLING, UPDATE_RECREATE };
enum port_protocol { PORT_TCP, PORT_UDP };

/* A dynamic host port: every container of the Service gets its own from
 * [host_from, host_to]. */
struct service_port {
        const char *name;
        int container_port; /* 0: the allocated host port itself */
        int host_from, host_to;
        enum port_protocol protocol;
};

struct service_health_check {
        enum health_check_type type;
        const json_t *exec_command; /* EXEC: array of strings, run in the container */
        const char *http_path;      /* HTTP: "/" by default */
        int port;                   /* HTTP, TCP: index into spec ports; -1 otherwise */
        int64_t interval_ms, timeout_ms, start_period_ms;
        int failure_threshold;
};

/* A Service spec, checked and defaulted; borrowed from its JSON. */
struct service_spec {
        int replicas; /* 0..SERVICE_REPLICAS_MAX */
        /* spec.template: the Task container fields (image, command, args, env,
         * volumes, resources, network, user, workingDir, labels, imagePullPolicy),
         * with "{{ports.<name>}}", "{{replica.index}}", "{{service.name}}" and
         * "{{service.namespace}}" not yet expanded in command, args and env
         * values (task_template_foreach). */
        const json_t *template;
        enum pull_policy pull_policy;
        const char *image;
        bool host_network; /* template network is "host" */
        struct service_port ports[SERVICE_PORTS_MAX];
        size_t n_ports;
        struct service_health_check health;
        int64_t min_ready_ms; /* spec.minReadySeconds, default 0 */
        int64_t backoff_initial_ms, backoff_max_ms, backoff_reset_ms;
        double backoff_factor;
        enum update_strategy strategy;
        int max_surge, max_unavailable; /* absolute numbers (RollingUpdate) */
        int64_t progress_deadline_ms;
        int64_t stop_grace_ms;
        int revision_history_limit;
        const char *restarted_at; /* spec.restartedAt (berth rollout restart), or NULL */
};

/* Like task_spec_decode, for a Service object (nothing to release). */
int service_spec_decode(const json_t *object, struct service_spec *ret, struct berth_error *err);
/* The Task spec of one replica: a copy of the template with "{{ports.<name>}}",
 * "{{replica.index}}", "{{service.name}}" and "{{service.namespace}}"
 * expanded (host_ports[i] is spec->ports[i]'s allocated host port) and
 * BERTH_PORT_<NAME> (upper case, '-' as '_') and BERTH_REPLICA_INDEX added
 * to env; decode it with task_spec_from_template. Both "{{ports.<name>}}" and
 * BERTH_PORT_<NAME> read the replica's host port (the port the process
 * listens on when the port has no containerPort). New reference, or NULL with
 * err set (-EINVAL: NULL arguments, or host_ports NULL with ports declared). */
json_t *service_replica_template(const struct service_spec *spec, const char *ns, const char *name,
                                 const int *host_ports, int index, struct berth_error *err);
/* Decodes an expanded replica template into a task_spec (borrowed from tmpl;
 * release it with task_spec_release). */
int task_spec_from_template(const json_t *tmpl, struct task_spec *ret, struct berth_error *err);
const char *update_strategy_to_string(enum update_strategy s);

/* ---- Source (source.c) ------------------------------------------------ */

/* A Source keeps the manifests of a directory on the berthd host applied
 * (docs/reference/source.md). What it applies carries its marks: */
#define SOURCE_LABEL               "berth.source"          /* the Source's name */
#define SOURCE_ANNOTATION          "berth/source"          /* "<ns>/<name>" of the Source */
#define SOURCE_ANNOTATION_PATH     "berth/source-path"     /* the file, relative to spec.path */
#define SOURCE_ANNOTATION_REVISION "berth/source-revision" /* the revision it was applied at */
/* On an applied object, SOURCE_PRUNE_DISABLED protects it from prune. */
#define SOURCE_ANNOTATION_PRUNE "berth.prune"
#define SOURCE_PRUNE_DISABLED   "disabled"
/* On the Source (`berth sync`): sync now; with force-prune, past
 * maxPruneFraction. Both RFC 3339 times. */
#define SOURCE_ANNOTATION_SYNC        "berth/sync-requested"
#define SOURCE_ANNOTATION_FORCE_PRUNE "berth/force-prune"

#define SOURCE_PATH_MAX        4095 /* characters of spec.path */
#define SOURCE_PATTERNS_MAX    32   /* entries of include, and of exclude */
#define SOURCE_PATTERN_LEN_MAX 256  /* characters of one pattern */
#define SOURCE_NAMESPACES_MAX  64   /* entries of allowedNamespaces */
#define SOURCE_DEBOUNCE_MS_MAX 60000
#define SOURCE_RESCAN_SEC_MIN  10
#define SOURCE_RESCAN_SEC_MAX  86400

/* A Source spec, checked and defaulted. Every string is borrowed from the
 * object it was decoded from, or static (the default patterns); nothing to
 * release. */
struct source_spec {
        const char *path; /* absolute and clean: no ".", ".." or empty segments, no trailing / */
        bool recursive;
        const char *include[SOURCE_PATTERNS_MAX]; /* globs, 1..SOURCE_PATTERN_LEN_MAX characters */
        size_t n_include;                         /* >= 1 */
        const char *exclude[SOURCE_PATTERNS_MAX];
        size_t n_exclude;
        const char *target_namespace; /* spec.targetNamespace, else the Source's namespace */
        const char *allowed_namespaces[SOURCE_NAMESPACES_MAX];
        size_t n_allowed_namespaces;
        bool prune;
        double max_prune_fraction; /* 0..1 */
        int64_t debounce_ms;       /* 0..SOURCE_DEBOUNCE_MS_MAX */
        bool suspend;
        int64_t rescan_ms; /* rescanSeconds * 1000 */
};

/* Like task_spec_decode, for a Source object (nothing to release). */
int source_spec_decode(const json_t *object, struct source_spec *ret, struct berth_error *err);

/* ---- RBAC: Role, ClusterRole, RoleBinding, ClusterRoleBinding (rbac.c) ---- */

/* Who may do what through the API (docs/reference/rbac.md). A Role (in a
 * namespace) or a ClusterRole (cluster-scoped) holds rules; a RoleBinding
 * grants a Role's or a ClusterRole's rules to users and groups in its own
 * namespace, a ClusterRoleBinding grants a ClusterRole's everywhere. These
 * kinds have no reconciler: the API's authorizer (the auth module) reads
 * them. */
#define RBAC_RULES_MAX        64  /* rules of a Role or ClusterRole */
#define RBAC_LIST_MAX         16  /* verbs, resources and resourceNames of one rule */
#define RBAC_SUBJECTS_MAX     64  /* subjects of a binding */
#define RBAC_SUBJECT_NAME_MAX 127 /* characters of a user or group name */
#define RBAC_WILDCARD         "*" /* every verb, or every resource */

/* What a request does, as rules and the API name it; a rule's verbs are a
 * mask of 1u << verb. */
enum role_verb {
        ROLE_VERB_GET,
        ROLE_VERB_LIST,
        ROLE_VERB_WATCH,
        ROLE_VERB_CREATE,
        ROLE_VERB_UPDATE,
        ROLE_VERB_DELETE,
        ROLE_VERB_LOGS,
        ROLE_VERB_TRIGGER,
        ROLE_VERB_COUNT,
};
#define ROLE_VERBS_ALL ((1u << ROLE_VERB_COUNT) - 1)

/* "get", "list", ..., "trigger"; NULL out of range. */
const char *role_verb_to_string(enum role_verb v);
/* The verb's enum value, or -EINVAL (RBAC_WILDCARD is no verb). */
int role_verb_from_string(const char *s);
/* Every verb in enum order, NULL-terminated. Static storage. */
const char *const *role_verbs(void);

/* A user or group name: 1..RBAC_SUBJECT_NAME_MAX characters (UTF-8), no
 * control characters (C0, DEL, C1). Anything else may appear
 * ("system:admins", "alice@example.com"). */
bool subject_name_is_valid(const char *name);

/* One rule, checked. Strings are borrowed from the object. */
struct role_rule {
        unsigned verbs;                            /* ROLE_VERBS_ALL for RBAC_WILDCARD */
        const char *resources[RBAC_LIST_MAX];      /* plural resource names of kinds, or "*" */
        size_t n_resources;                        /* >= 1 */
        const char *resource_names[RBAC_LIST_MAX]; /* object names */
        size_t n_resource_names;                   /* 0: every object */
};

/* A Role or ClusterRole spec. rules is owned (role_spec_release); its
 * strings are borrowed from the object. */
struct role_spec {
        struct role_rule *rules;
        size_t n_rules; /* 0..RBAC_RULES_MAX */
};

/* Like task_spec_decode, for a Role or a ClusterRole object (-EINVAL for
 * other kinds). Release with role_spec_release(). */
int role_spec_decode(const json_t *object, struct role_spec *ret, struct berth_error *err);
void role_spec_release(struct role_spec *spec); /* NULL ok */

enum role_ref_kind { ROLE_REF_ROLE, ROLE_REF_CLUSTER_ROLE };
enum subject_kind { SUBJECT_USER, SUBJECT_GROUP };
/* "Role", "ClusterRole"; "User", "Group" (as manifests spell them). */
const char *role_ref_kind_to_string(enum role_ref_kind k);
const char *subject_kind_to_string(enum subject_kind k);

struct rolebinding_subject {
        enum subject_kind kind;
        const char *name; /* subject_name_is_valid */
};

/* A RoleBinding or ClusterRoleBinding spec, checked; borrowed from its
 * object, nothing to release. A ClusterRoleBinding's role is always a
 * ClusterRole. */
struct rolebinding_spec {
        enum role_ref_kind role_kind;
        const char *role_name; /* a DNS-1123 label */
        struct rolebinding_subject subjects[RBAC_SUBJECTS_MAX];
        size_t n_subjects; /* 1..RBAC_SUBJECTS_MAX, unique */
};

/* Like task_spec_decode, for a RoleBinding or ClusterRoleBinding object
 * (-EINVAL for other kinds). */
int rolebinding_spec_decode(const json_t *object, struct rolebinding_spec *ret,
                            struct berth_error *err);

/* ---- Token (token.c) -------------------------------------------------- */

/* A Token is a bearer credential of the API (cluster-scoped): whoever shows
 * its secret acts as spec.user with spec.groups. berth keeps only the
 * secret's hash: the CLI makes the secret and sends its SHA-256. */
#define TOKEN_GROUPS_MAX         16
#define TOKEN_DESCRIPTION_MAX    1024 /* bytes of spec.description */
#define TOKEN_SECRET_HASH_PREFIX "sha256:"
#define TOKEN_SECRET_HASH_LEN    (sizeof(TOKEN_SECRET_HASH_PREFIX) - 1 + 64)

/* A Token spec, checked and defaulted; borrowed from its object, nothing
 * to release. */
struct token_spec {
        const char *user; /* subject_name_is_valid */
        const char *groups[TOKEN_GROUPS_MAX];
        size_t n_groups;
        int64_t expires_ms; /* spec.expirationTimestamp; 0: never */
        const char *secret_hash;
        bool revoked;
        const char *description; /* NULL: none */
};

int token_spec_decode(const json_t *object, struct token_spec *ret, struct berth_error *err);
/* "sha256:" and 64 lowercase hex digits. */
bool token_secret_hash_is_valid(const char *s);
/* Whether a Token of this spec is accepted at now_ms: not revoked, and
 * without an expiry or now_ms before it. */
bool token_spec_active(const struct token_spec *spec, int64_t now_ms);

/* ---- Secret (secret.c) ------------------------------------------------ */

/* A Secret holds small pieces of data (passwords, keys, certificates) that
 * Tasks read as environment variables or files (docs/reference/secret.md).
 * Written as Kubernetes users write it: type, data (base64) and stringData
 * (plain text) at the top level beside metadata, no spec. berthd stores
 * every value sealed (encrypted by the secrets module, which also reads
 * them): stringData is merged into data, and a stored data value reads
 * SECRET_SEALED_PREFIX "<keyid>:<base64>". A key names a file in a secret
 * volume. */
#define SECRET_KEYS_MAX      64            /* distinct keys of data and stringData */
#define SECRET_KEY_LEN_MAX   253           /* characters of a key */
#define SECRET_VALUE_MAX     (1024 * 1024) /* bytes of one value, decoded */
#define SECRET_TYPE_MAX      253           /* characters of type */
#define SECRET_TYPE_DEFAULT  "Opaque"      /* what an absent type reads as */
#define SECRET_SEALED_PREFIX "enc:v1:"
#define SECRET_KEYID_LEN     8 /* lowercase hex digits of a key id */
/* What a read without ?showValues=true shows instead of a value. */
#define SECRET_REDACTED "<redacted>"

/* [-._a-zA-Z0-9]+, at most SECRET_KEY_LEN_MAX characters, neither "." nor
 * "..", nor starting with "..": a file name in a secret volume. */
bool secret_key_is_valid(const char *key);
/* Whether s has the shape of a sealed value: SECRET_SEALED_PREFIX,
 * SECRET_KEYID_LEN lowercase hex digits, ':' and non-empty base64. Syntax
 * only: whether it opens is the secrets module's to say. */
bool secret_value_is_sealed(const char *s);

/* Every error on a value over a limit of its size (a Secret value over
 * SECRET_VALUE_MAX) has a message starting with FIELD_TOO_LARGE, so that
 * the API can answer 413 rather than 422: field_errors_too_large() says
 * whether errs holds one. */
#define FIELD_TOO_LARGE "too large: "
bool field_errors_too_large(const struct field_errors *errs);

/* ---- Policy (policy.c) ----------------------------------------------- */

/* A Policy relaxes or tightens the container admission policy of its
 * namespace (docs/reference/policy.md, docs/security.md). Only the one named
 * POLICY_NAME counts; others are stored and ignored. It is access control
 * (kind_info.access_control): a Source never applies one, and only those
 * RBAC lets write policies may. */
#define POLICY_NAME           "default"
#define POLICY_HOST_PATHS_MAX 32
#define POLICY_EXECUTORS_MAX  16

/* A Policy spec, checked and defaulted; strings borrowed from its object,
 * nothing to release. */
struct policy_spec {
        const char *ns; /* metadata.namespace (for messages), or NULL */
        bool allow_privileged;
        bool allow_host_network;
        bool allow_host_pid;
        bool allow_host_ipc;
        bool allow_devices;
        bool allow_unconfined_seccomp;
        bool allow_privilege_escalation;
        uint64_t allowed_capabilities; /* added to the default set; CAPABILITY_ALL: any */
        /* allowedHostPaths: when set (even empty), host paths only inside
         * these (and still inside berthd's --allow-host-path) */
        bool host_paths_set;
        const char *allowed_host_paths[POLICY_HOST_PATHS_MAX]; /* absolute */
        size_t n_allowed_host_paths;
        /* allowedExecutors: when set (even empty), Tasks may use no
         * executor but docker and these (spec.executor.type) */
        bool executors_set;
        const char *allowed_executors[POLICY_EXECUTORS_MAX]; /* DNS-1123 labels */
        size_t n_allowed_executors;
        bool require_run_as_non_root;
        bool require_read_only_root_filesystem;
};

/* Like task_spec_decode, for a Policy object (nothing to release). */
int policy_spec_decode(const json_t *object, struct policy_spec *ret, struct berth_error *err);

/* ---- Queue (queue.c) ------------------------------------------------- */

/* A Queue limits how many Tasks of its namespace run at once
 * (docs/reference/queue.md); Tasks beyond it wait, Pending with condition
 * Queued. A namespace has one, named QUEUE_NAME (validation refuses
 * others). */
#define QUEUE_NAME            "default"
#define QUEUE_MAX_RUNNING_MAX 100000

#define QUEUE_PRIORITY_CLASSES_MAX 64 /* entries of spec.priorityClasses */

/* An entry of spec.priorityClasses: a name Tasks of the namespace give as
 * spec.priorityClassName instead of a number. name borrowed. */
struct queue_priority_class {
        const char *name;
        int64_t value; /* TASK_PRIORITY_MIN..TASK_PRIORITY_MAX */
};

/* Strings borrowed from the decoded object. A Queue sets at least one of
 * maxRunning, priorityClasses and maxPriority. */
struct queue_spec {
        int64_t max_running; /* spec.maxRunning, >= 1; 0: no limit */
        struct queue_priority_class classes[QUEUE_PRIORITY_CLASSES_MAX]; /* unique names */
        size_t n_classes;
        bool max_priority_set;
        int64_t max_priority;      /* spec.maxPriority, when max_priority_set */
        const char *default_class; /* spec.defaultPriorityClassName (one of classes), or NULL */
};

/* Like task_spec_decode, for a Queue object (nothing to release). */
int queue_spec_decode(const json_t *object, struct queue_spec *ret, struct berth_error *err);

/* The priority a queued Task takes (docs/reference/queue.md, "Priority"):
 * the value of the class task names, else its spec.priority,
 * else the value of queue's default class, else 0; at most queue's
 * maxPriority. queue is its namespace's Queue, NULL when there is none.
 * 0 with *ret, or -ENOENT when task names a class queue does not define
 * (the Task is not admitted until one does). Pure: the Task reconciler's
 * admission, the run queue's rebuild and `berth describe` all use it. */
int queue_task_priority(const struct queue_spec *queue, const struct task_spec *task, int64_t *ret);

/* ---- Event (event.c) -------------------------------------------------- */

/* What happened to an object, recorded by berthd (the events module) or
 * written through the API: docs/reference/event.md. */
#define EVENT_REASON_MAX  128  /* a reason: one CamelCase word */
#define EVENT_MESSAGE_MAX 1024 /* bytes of a message (the recorder cuts longer ones) */

enum event_type { EVENT_NORMAL, EVENT_WARNING };
const char *event_type_to_string(enum event_type t);
int event_type_from_string(const char *s, enum event_type *ret);
/* A reason: [A-Z][A-Za-z0-9]*, at most EVENT_REASON_MAX characters
 * ("BackOff", "DeadlineExceeded"). */
bool event_reason_is_valid(const char *reason);

/* ---- Notifier (notifier.c) -------------------------------------------- */

/* A Notifier tells someone when objects of its namespace that its selector
 * matches fail, succeed or recover (docs/reference/notifier.md). berthd's
 * notify module delivers; these are its shape and limits. */
#define NOTIFIER_ON_MAX                   32   /* entries of spec.on */
#define NOTIFIER_MATCH_LABELS_MAX         16   /* labels of spec.selector.matchLabels */
#define NOTIFIER_URL_MAX                  2048 /* characters of a URL */
#define NOTIFIER_ADDRESS_MAX              254  /* characters of a mail address */
#define NOTIFIER_TO_MAX                   16   /* recipients of smtp.to */
#define NOTIFIER_COMMAND_MAX              4095 /* characters of exec.command */
#define NOTIFIER_ARGS_MAX                 32   /* entries of exec.args */
#define NOTIFIER_TIMEOUT_SEC_MAX          60   /* timeoutSeconds, of one attempt */
#define NOTIFIER_ATTEMPTS_MAX             10   /* maxAttempts */
#define NOTIFIER_DEFAULT_TIMEOUT_SEC      5
#define NOTIFIER_DEFAULT_ATTEMPTS         5
#define NOTIFIER_DEFAULT_EXEC_TIMEOUT_SEC 10
#define NOTIFIER_DEFAULT_EXEC_ATTEMPTS    1

/* The types berthd delivers itself; any other type is a plugin's. */
enum notifier_type {
        NOTIFIER_WEBHOOK,
        NOTIFIER_SLACK,
        NOTIFIER_SMTP,
        NOTIFIER_EXEC,
        NOTIFIER_PLUGIN
};
/* "webhook", "slack", "smtp", "exec"; "plugin" for NOTIFIER_PLUGIN. */
const char *notifier_type_to_string(enum notifier_type t);
/* The built-in type named s, else NOTIFIER_PLUGIN (NULL too). */
enum notifier_type notifier_type_from_string(const char *s);
/* The built-in types' names, NULL-terminated. Static storage. */
const char *const *notifier_builtin_types(void);
/* http:// or https://, a host, at most NOTIFIER_URL_MAX characters, no
 * spaces or control characters. Syntax only. */
bool notifier_url_is_http(const char *url);
/* user@domain: one '@', at most NOTIFIER_ADDRESS_MAX characters, no
 * spaces, controls, quotes, commas or angle brackets (it goes into a mail
 * header and an SMTP command as it is). */
bool notifier_address_is_valid(const char *address);

/* A key of a Secret in the Notifier's namespace; name NULL: none. */
struct notifier_secret_ref {
        const char *name;
        const char *key;
};

/* A Notifier spec, checked and defaulted; strings and JSON borrowed from
 * its object, nothing to release. Only the fields of its type are set. */
struct notifier_spec {
        const char *type; /* "webhook", ..., or a plugin's name (a DNS-1123 label) */
        enum notifier_type builtin;
        const json_t *match_labels; /* selector.matchLabels; NULL: every object */
        const char *on[NOTIFIER_ON_MAX];
        size_t n_on; /* >= 1 */
        int64_t timeout_ms;
        int max_attempts;
        /* webhook (url required, secret: the HMAC key) and slack (url, or
         * secret: the key holding the URL) */
        const char *url;
        /* webhook: the HMAC key; slack: the URL; smtp: the password */
        struct notifier_secret_ref secret;
        /* smtp: url is smtp://host[:port] or smtps://host[:port] */
        const char *from;
        const char *to[NOTIFIER_TO_MAX];
        size_t n_to;
        const char *username; /* NULL: no login */
        bool start_tls;       /* smtp://: STARTTLS required (default true) */
        /* exec: an absolute path (inside a --notifier-exec-dir: admission) */
        const char *command;
        const char *args[NOTIFIER_ARGS_MAX];
        size_t n_args;
        /* a plugin type: spec.<type>, for the plugin to read */
        const json_t *config;
};

/* Like task_spec_decode, for a Notifier object (nothing to release). */
int notifier_spec_decode(const json_t *object, struct notifier_spec *ret, struct berth_error *err);

/* ---- printing --------------------------------------------------------- */

/* Block-style YAML of a JSON value, keys in their stored order, strings quoted
 * only when needed to read back as the same string (YAML 1.1 booleans such as
 * "yes" are quoted too, for other tools). A parsed object prints to YAML that
 * parses back equal. Appends to out; on error (-E2BIG when out's cap is hit)
 * out is left as it was. */
int manifest_to_yaml(const json_t *value, struct buf *out);
