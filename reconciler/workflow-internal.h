/* workflow-internal.h: the state of one Workflow reconcile, shared by the
 * reconciler (workflow.c) and its step actions (workflow-steps.c,
 * workflow-outputs.c). */
#pragma once

#include "builder.h"
#include "reconciler-internal.h"

#define WORKFLOW_RESOURCE "workflows"

/* What acting learned that the planner must hear about: the step failed for a
 * reason of its own (its Task could not be made, its output is lost). */
struct step_failure {
        const char *reason; /* NULL: none */
        char message[200];
};

/* What a deploy step wrote in its Service (or found there already): the
 * generation whose rollout it follows, recorded in the step's status. */
struct step_deploy {
        int64_t generation; /* 0: nothing recorded */
        const char *uid;    /* the Service's, or NULL */
        const char *image;  /* expanded */
        int64_t start_ms;   /* when it was written */
};

/* The same, written by this reconcile: owned. */
struct step_deploy_written {
        int64_t generation; /* 0: nothing written */
        char *uid;
        char *image;
        int64_t start_ms;
};

/* One step (or the exit handler) of the run. */
struct step_run {
        const struct workflow_step_spec *spec;
        char *task_name;    /* "<workflow>-<step>", "<workflow>-onexit" */
        char *task_key;     /* its store key */
        char *result_key;   /* the step's result data key */
        json_t *task;       /* the cached step Task, or NULL */
        json_t *result;     /* a result read from the store, or NULL */
        const json_t *prev; /* its entry in the previous status, or NULL */
        /* deploy steps */
        char *service_key;
        json_t *service;           /* the cached Service, or NULL */
        struct step_deploy deploy; /* recorded (borrowed from the status or written) */
        struct step_deploy_written written;
        /* fanned out, once resolved: the items (withParam: parsed from the
         * result; NULL until needed) and the children as the cache shows them */
        json_t *items;
        struct workflow_child *children;
        json_t **child_tasks;
        size_t n_children;
        /* build steps: where the builder says the build stands */
        struct build_status build;
        bool build_result_found; /* the builder forgot it, but its result is stored */
        uint64_t log_stored;     /* build log bytes (log_total) stored so far */
        /* learned by acting, for the planner */
        struct step_failure failure;
        bool created;         /* Task created in this reconcile */
        size_t children_made; /* children 0..n-1 created in this reconcile */
        bool reset;           /* a retry reset it in this reconcile */
        bool stored;          /* result stored in this reconcile */
        bool resolved;        /* when evaluated, items counted, in this reconcile */
        bool when_false;
};

struct workflow_run {
        struct object_run o; /* first: the skeleton's part */
        struct workflow_spec spec;
        bool spec_valid;
        size_t n;                      /* steps, the exit handler included */
        struct step_run *s;            /* n of them */
        struct workflow_step *steps;   /* the planner's view, n of them */
        json_t *children;              /* deleting: its Tasks */
        struct store_kvs results_left; /* deleting: its result keys */
        struct workflow_plan plan;
        size_t new_failures;           /* failures not yet planned with */
        size_t new_resolutions;        /* resolutions not yet planned with */
        bool workspace_ready;          /* its volume exists (made in this reconcile) */
        struct berth_error read_error; /* a store read failed while expanding {{...}} */
};

/* Step i failed for a reason of its own (run->s[i].failure), to be planned with. */
void workflow_fail_step(struct workflow_run *run, size_t i, const char *reason, const char *fmt,
                        ...) _printf_(4, 5);
/* "<workflow>-<step>-<index>" of a fanned-out step's child, into buf. */
void workflow_child_name(const struct workflow_run *run, size_t i, size_t child, char buf[64]);

/* Reads step i's result from the store into run->s[i].result (once). -ENOENT
 * when there is none of this Workflow (one of an older Workflow of the same
 * name does not count). */
int workflow_load_result(struct workflow_run *run, size_t i, struct berth_error *err);
/* Evaluates step i's when and counts its items (run->s[i].resolved,
 * when_false, items, n_children), or fails it (InvalidWhen, InvalidFanOut). */
int workflow_resolve(struct workflow_run *run, size_t i, struct berth_error *err);
/* Creates step i's Task (or its child 'child') from its template with {{...}}
 * expanded (create-only: a Task made by an earlier reconcile is left as it
 * is), making the workspace volume first when the Workflow has one. A
 * template that cannot be expanded or a Task the store refuses fails the step
 * instead (run->s[i].failure). */
int workflow_create_task(struct workflow_run *run, size_t i, size_t child, struct berth_error *err);
/* Writes spec.shutdown: Stop into step i's Task (or its child 'child'),
 * unless it is there already. */
int workflow_stop_task(struct workflow_run *run, size_t i, size_t child, struct berth_error *err);
/* A retry: marks step i's Tasks deleted and deletes its result and files. */
int workflow_reset_step(struct workflow_run *run, size_t i, struct berth_error *err);
/* Deploy step i: expands its image and writes it, with the annotation
 * SERVICE_ANNOTATION_DEPLOYED_BY, into its Service (CAS on the cached
 * revision, under the leader's fence; nothing is written when both are there
 * already), then records the generation in run->s[i].written. A Service that
 * is missing or being deleted, or an image that does not expand to a
 * reference, fails the step. -ESTALE when the Service changed meanwhile: the
 * next reconcile tries again. */
int workflow_deploy(struct workflow_run *run, size_t i, struct berth_error *err);
/* Build step i: resolves its context inside a --build-root, expands its
 * tags and build arguments and hands the build to the builder (idempotent).
 * A context outside every root, or no builder, fails the step
 * (BuildNotAllowed). */
int workflow_build(struct workflow_run *run, size_t i, struct berth_error *err);
/* Cancels build step i's build (a stop). */
void workflow_build_cancel(struct workflow_run *run, size_t i);
/* Stores the log of build step i as its file output "log" when the builder
 * has more than was stored (run->s[i].log_stored). */
int workflow_store_build_log(struct workflow_run *run, size_t i, struct berth_error *err);
/* "<workflow uid>/<step>": the builder's id of build step i. Caller frees. */
char *workflow_build_id(const struct workflow_run *run, size_t i);

/* Records step i's result: the stdout of its finished Task (its last
 * WORKFLOW_RESULT_MAX bytes) and its file outputs, the JSON array of its
 * children's stdout, or a deploy's image. A container that is gone fails the
 * step (ResultLost), a file output that is missing or too large too
 * (OutputMissing, OutputTooLarge). */
int workflow_store_result(struct workflow_run *run, size_t i, struct berth_error *err);

/* workflow-outputs.c */

/* Data key part of step's file output: "file-<step>.<file>". Caller frees. */
char *workflow_file_part(const char *step, const char *file);
/* Reads the file outputs of step i from its Task's container and stores
 * them. 0 also when the step failed instead (run->s[i].failure). */
int workflow_store_files(struct workflow_run *run, size_t i, const char *container_id,
                         struct berth_error *err);
/* The content of file output 'file' of step 'step' (borrowed from *ret_holder,
 * which the caller releases), or -ENOENT. */
int workflow_load_file(struct workflow_run *run, const char *step, const char *file,
                       json_t **ret_holder, const char **ret_content, struct berth_error *err);
/* The Docker volume of the run's workspace: "berth-ws-<uid>". Caller frees. */
char *workflow_workspace_name(const struct workflow_run *run);
/* Makes the workspace volume (idempotent, once per reconcile). */
int workflow_workspace_ensure(struct workflow_run *run, struct berth_error *err);
/* Removes it, unless workspace.keep (0 when it is gone already; -EBUSY
 * while a container still uses it). */
int workflow_workspace_remove(struct workflow_run *run, struct berth_error *err);
