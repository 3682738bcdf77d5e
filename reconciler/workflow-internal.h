/* workflow-internal.h: the state of one Workflow reconcile, shared by the
 * reconciler (workflow.c) and its step actions (workflow-steps.c). */
#pragma once

#include "reconciler-internal.h"

#define WORKFLOW_RESOURCE "workflows"

/* What acting learned that the planner must hear about: the step failed for a
 * reason of its own (its Task could not be made, its output is lost). */
struct step_failure {
        const char *reason; /* NULL: none */
        char message[160];
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

struct workflow_run {
        struct object_run o; /* first: the skeleton's part */
        struct workflow_spec spec;
        bool spec_valid;
        char *task_names[WORKFLOW_STEPS_MAX];  /* "<workflow>-<step>" */
        char *task_keys[WORKFLOW_STEPS_MAX];   /* their store keys */
        char *result_keys[WORKFLOW_STEPS_MAX]; /* the steps' data keys */
        /* observed */
        struct workflow_step steps[WORKFLOW_STEPS_MAX];
        json_t *tasks[WORKFLOW_STEPS_MAX];      /* the cached step Task, or NULL */
        json_t *results[WORKFLOW_STEPS_MAX];    /* a result read from the store, or NULL */
        char *service_keys[WORKFLOW_STEPS_MAX]; /* deploy steps: their Service's store key */
        json_t *services[WORKFLOW_STEPS_MAX];   /* deploy steps: the cached Service, or NULL */
        /* deploy steps: what was recorded (borrowed from the status or written[]) */
        struct step_deploy deploys[WORKFLOW_STEPS_MAX];
        json_t *children;              /* deleting: its Tasks */
        struct store_kvs results_left; /* deleting: its result keys */
        struct workflow_plan plan;
        /* learned by acting, for the planner */
        struct step_failure failures[WORKFLOW_STEPS_MAX];
        size_t new_failures;              /* failures not yet planned with */
        bool created[WORKFLOW_STEPS_MAX]; /* Task created in this reconcile */
        bool stored[WORKFLOW_STEPS_MAX];  /* result stored in this reconcile */
        struct step_deploy_written written[WORKFLOW_STEPS_MAX]; /* Service written */
        struct berth_error read_error; /* a store read failed while expanding {{...}} */
};

/* Reads step i's result from the store into run->results[i] (once). -ENOENT
 * when there is none of this Workflow (one of an older Workflow of the same
 * name does not count). */
int workflow_load_result(struct workflow_run *run, size_t i, struct berth_error *err);
/* Creates step i's Task from its template with {{...}} expanded (create-only:
 * a Task made by an earlier reconcile is left as it is). A template that
 * cannot be expanded or a Task the store refuses fails the step instead
 * (run->failures). */
int workflow_create_task(struct workflow_run *run, size_t i, struct berth_error *err);
/* Deploy step i: expands its image and writes it, with the annotation
 * SERVICE_ANNOTATION_DEPLOYED_BY, into its Service (CAS on the cached
 * revision, under the leader's fence; nothing is written when both are there
 * already), then records the generation in run->written. A Service that is
 * missing or being deleted, or an image that does not expand to a reference,
 * fails the step (run->failures). -ESTALE when the Service changed meanwhile:
 * the next reconcile tries again. */
int workflow_deploy(struct workflow_run *run, size_t i, struct berth_error *err);
/* Reads the stdout of step i's finished Task (its last WORKFLOW_RESULT_MAX
 * bytes) and stores it under the step's result key; a container that is gone
 * fails the step (ResultLost). A deploy step's result is its image. */
int workflow_store_result(struct workflow_run *run, size_t i, struct berth_error *err);
