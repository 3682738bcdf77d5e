/* manifests internals: what the parser (parse.c) and the printer (print.c)
 * share, and the checking machinery every kind's schema uses (check.c). */
#pragma once

#include <stddef.h>

/* How a plain (unquoted, untagged) scalar reads under the YAML 1.2 core schema.
 * The printer quotes every string that would not read back as SCALAR_STRING. */
enum manifest_scalar_type {
        MANIFEST_SCALAR_STRING,
        MANIFEST_SCALAR_NULL,
        MANIFEST_SCALAR_BOOL,
        MANIFEST_SCALAR_INT,
        MANIFEST_SCALAR_FLOAT,
        MANIFEST_SCALAR_NONFINITE, /* .inf, -.inf, .nan: JSON cannot hold them */
};

/* Purely syntactic: an integer too large for int64 still classifies as INT. */
enum manifest_scalar_type manifest_scalar_classify(const char *s, size_t len);

/* ---- checking (check.c) ------------------------------------------------ */

#include "manifests.h"

#define SECONDS_PER_YEAR 31536000
#define SECONDS_PER_DAY  86400
#define NAME_RULE                                                                                  \
        "must be a DNS-1123 label: at most 63 lowercase letters, digits or '-', starting and "     \
        "ending with a letter or digit"

#define OBJECT_NAME_MAX 63 /* a DNS-1123 label, see name_is_valid() */

/* What checking one object collects. Paths are "spec.env[0].name"; an empty
 * parent means the top level. Check functions append errors and go on; an
 * allocation failure sets r (and the errors are then incomplete). */
struct check {
        const json_t *positions; /* "path" → [line, column], or NULL */
        const char
            *object_name; /* metadata.name when a string: names derived from it have limits */
        /* object_name's stand-in for a metadata.generateName */
        char generated_name[OBJECT_NAME_MAX + 1];
        struct field_errors errs;
        int r; /* -ENOMEM once an allocation failed */
};

void check_release(struct check *c);
/* Checks and decodes the spec of object with kind's check_spec and a fresh
 * check: 0, or -EINVAL with err naming the first problem (-ENOMEM). What it
 * decoded into *ret_spec must be released either way. */
int check_decode(const struct kind_info *kind, const json_t *object, void *ret_spec,
                 struct berth_error *err);
/* 0 when nothing was found; -EINVAL with err "field: message" (the first
 * error, and how many more) otherwise; -ENOMEM when r says so. */
int check_result(struct check *c, struct berth_error *err);
/* Stable sort into document order (errors without a position keep theirs);
 * left unsorted when memory is short: the order is a courtesy. */
void field_errors_sort(struct field_errors *errs);

void check_error(struct check *c, const char *path, const char *fmt, ...) _printf_(3, 4);
/* An error on parent.key (on parent itself when key is NULL). */
void check_error_key(struct check *c, const char *parent, const char *key, const char *fmt, ...)
    _printf_(4, 5);
/* "parent.key" / "parent[i]"; NULL (and r set) when out of memory. Caller frees. */
char *check_join(struct check *c, const char *parent, const char *key);
char *check_index(struct check *c, const char *parent, size_t i);
/* The entry of candidates (NULL-terminated, may be NULL) at most two edits
 * away from s, or equal to it but for case: the nearest, the first of equals.
 * NULL when none is. For "did you mean" hints. */
const char *check_suggest(const char *s, const char *const *candidates);
/* Reports every key of obj not in allowed (NULL-terminated), with a "did you
 * mean" hint when a known field is at most two edits away (check_suggest). */
void check_unknown_fields(struct check *c, const json_t *obj, const char *path,
                          const char *const *allowed);
/* An entry of a list of objects: false (reported) when it is not an object;
 * else its unknown fields are reported and it is worth looking into. */
bool check_entry(struct check *c, const json_t *entry, const char *path, const char *const *fields);

/* Getters: the value, or NULL/def when absent (or null) or wrong (reported).
 * Borrowed from obj. */
const json_t *check_field(struct check *c, const json_t *obj, const char *parent, const char *key,
                          bool required);
const char *check_string(struct check *c, const json_t *obj, const char *parent, const char *key,
                         bool required);
const char *check_nonempty_string(struct check *c, const json_t *obj, const char *parent,
                                  const char *key, bool required);
const json_t *check_object(struct check *c, const json_t *obj, const char *parent, const char *key,
                           bool required);
const json_t *check_array(struct check *c, const json_t *obj, const char *parent, const char *key);
bool check_bool(struct check *c, const json_t *obj, const char *parent, const char *key, bool def);
/* An integer in [min, max]; "must be at least min" when max is INT64_MAX. */
int64_t check_int(struct check *c, const json_t *obj, const char *parent, const char *key,
                  int64_t min, int64_t max, int64_t def);
double check_number(struct check *c, const json_t *obj, const char *parent, const char *key,
                    double min, double max, double def);
/* The index of the value among values (NULL-terminated), or def. */
int check_enum(struct check *c, const json_t *obj, const char *parent, const char *key,
               const char *const *values, int def);
/* An array of strings; NULL when absent or when any entry is not a string. */
const json_t *check_string_array(struct check *c, const json_t *obj, const char *parent,
                                 const char *key);
/* A string where YAML users easily write a number or a boolean (env and
 * parameter values): the error shows how to quote it. */
const char *check_quoted_string(struct check *c, const json_t *obj, const char *parent,
                                const char *key, bool required);
/* A byte quantity string ("256Mi") or an integer; 0 when absent or wrong. */
int64_t check_bytes(struct check *c, const json_t *obj, const char *parent, const char *key,
                    int64_t min, const char *min_text);
/* A list whose entries are checked one by one: the array at parent.key
 * (NULL when absent or not an array, reported), its path (*ret_path, caller
 * frees) and an empty index for check_unique (*ret_seen, caller decrefs). */
const json_t *check_list(struct check *c, const json_t *obj, const char *parent, const char *key,
                         char **ret_path, json_t **ret_seen);
/* Records name at index in seen (name → first index); when it is there
 * already, reports "duplicate <what> <name> (first at <list_path>[i])" on
 * parent.key and returns false. */
bool check_unique(struct check *c, json_t *seen, const char *name, size_t index,
                  const char *list_path, const char *parent, const char *key, const char *what);
/* labels (check_values) or annotations: an object of strings with label
 * keys; reserve_berth refuses keys starting with "berth.". The map when
 * valid, else NULL. */
const json_t *check_string_map(struct check *c, const json_t *obj, const char *parent,
                               const char *key, bool check_values, bool reserve_berth);
/* A DNS-1123 label (name_is_valid); NULL when absent or invalid. */
const char *check_name(struct check *c, const json_t *obj, const char *parent, const char *key,
                       bool required);

/* A Task's retryOn (a Workflow step's retryStrategy.retryOn) at parent.key:
 * unique known values, at least one; its bits, RETRY_ON_DEFAULT when absent
 * or wrong (reported). */
unsigned check_retry_on(struct check *c, const json_t *obj, const char *parent, const char *key);
/* A Task's retryExitCodes (retryStrategy.exitCodes) at parent.key: {in: [...]}
 * or {notIn: [...]}, unique codes 0..255, at most RETRY_EXIT_CODES_MAX.
 * Decoded into out's retry_exit_codes* when out is not NULL. */
struct task_spec;
void check_retry_exit_codes(struct check *c, const json_t *obj, const char *parent, const char *key,
                            struct task_spec *out);

/* The expressions of one template string (a task_template_foreach value at
 * parent.field), resolved by resolve as validation does: an unknown or
 * malformed one is reported on that field. 0, or -ENOMEM (r set), which
 * stops a walk. */
int check_expressions(struct check *c, const json_t *value, const char *parent, const char *field,
                      expr_resolve_fn resolve, void *userdata);

/* Sets obj[key] = value (stolen) unless a non-null value is there. */
void json_set_default(json_t *obj, const char *key, json_t *value);

static inline bool ascii_alpha(char ch)
{
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}
static inline bool ascii_alnum(char ch)
{
        return ascii_alpha(ch) || (ch >= '0' && ch <= '9');
}

/* ---- kinds (task.c, workflow.c, crontask.c, service.c, source.c, rbac.c,
 * token.c) ----------------------------------------------------------------- */

extern const struct kind_info kind_task;
extern const struct kind_info kind_workflow;
extern const struct kind_info kind_crontask;
extern const struct kind_info kind_service;
extern const struct kind_info kind_source;
extern const struct kind_info kind_role;
extern const struct kind_info kind_clusterrole;
extern const struct kind_info kind_rolebinding;
extern const struct kind_info kind_clusterrolebinding;
extern const struct kind_info kind_token;
extern const struct kind_info kind_secret;
extern const struct kind_info kind_event;
extern const struct kind_info kind_policy;
extern const struct kind_info kind_queue;
extern const struct kind_info kind_notifier;

/* A user or group name at path (subject_name_is_valid): false (reported)
 * when it is not one. */
bool check_subject_name(struct check *c, const char *path, const char *name);

/* Where a Task spec is checked: what it may hold and which defaults it gets. */
enum task_context {
        TASK_IN_OBJECT,        /* a Task's spec */
        TASK_IN_CRON_TEMPLATE, /* a CronTask's taskTemplate.spec: a Task's, without dependsOn */
        TASK_IN_STEP,    /* a Workflow step: no TTL of its own, it lives as long as its Workflow */
        TASK_IN_SERVICE, /* a Service's template: the container fields only (the Task-only
                          * restartPolicy, backoffLimit, backoff, activeDeadlineSeconds and
                          * ttlSecondsAfterFinished are refused) and no default but
                          * imagePullPolicy */
};

/* Checks a Task spec at parent ("spec", "spec.steps[3].task",
 * "spec.template") as where asks and, when ret is not NULL, decodes it into
 * *ret (release it even when errors were found). In a Service template the
 * Task-only fields of *ret read: restart policy Never, no retries or backoff,
 * no deadline, no TTL. */
void task_check(struct check *c, const json_t *spec, const char *parent, enum task_context where,
                struct task_spec *ret);
/* A Task spec's securityContext, hostPID, hostIPC and devices at parent,
 * decoded into *out (its devices owned: task_spec_release frees them). */
void check_security(struct check *c, const json_t *spec, const char *parent,
                    struct task_security *out);
/* A list of capability names at parent.key (capability_from_string: any
 * case, CAP_ or not, ALL), unique once normalised; its set, 0 when absent
 * (what is wrong is reported and left out). */
uint64_t check_capabilities(struct check *c, const json_t *obj, const char *parent,
                            const char *key);
/* The documented defaults of a Task spec checked as where says. */
void task_defaults(json_t *spec, enum task_context where);
/* Checks a Workflow spec at parent ("spec", "spec.workflowTemplate.spec")
 * and, when ret is not NULL, decodes it (release it even on errors). Step
 * Task names are checked against c->object_name. */
void workflow_check_at(struct check *c, const json_t *spec, const char *parent,
                       struct workflow_spec *ret);
void workflow_defaults(json_t *spec);
