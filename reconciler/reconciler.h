/* reconciler: one reconcile per kind — observe, plan (pure), act — on one
 * skeleton (reconcile.c), found through the kinds registry.
 *
 * Every kind's reconcile runs the same steps: load the object from the cache
 * (gone: collect what it left behind) → decode its spec → rounds of observe
 * (caches) → plan (a pure function, unit-tested with plain structs) → act
 * (idempotent actions; failures the planner must judge are fed back into the
 * next round) → CAS status write → requeue at the plan's next wake-up.
 *
 * Task: one container per attempt, named berth.<ns>.<name>.<uid8>.<attempt>.
 * Task status rules (docs/reference/task.md for users):
 * - phase Pending until a container of the task has started, then Running,
 *   then Succeeded (exit 0, reason Completed) or Failed (reason Error,
 *   OOMKilled, BackoffLimitExceeded, DeadlineExceeded, ImagePullFailed,
 *   ContainerCreateFailed, ContainerLost).
 * - Between attempts (restartPolicy OnFailure) the phase stays Running;
 *   status.nextAttemptTime says when the next attempt starts, reason/message
 *   describe the failed attempt, and condition Running is False with reason
 *   BackOff. activeDeadlineSeconds counts from the first start, across
 *   attempts and backoff waits.
 * - Terminal only when stopped: past its deadline a running Task keeps phase
 *   Running with reason DeadlineExceeded and condition Terminating True while
 *   its container gets SIGTERM and, after TASK_KILL_GRACE_MS, SIGKILL; it
 *   becomes Failed once the container has exited.
 * - Conditions: Running (True while a container runs), Succeeded and Failed
 *   (True in that phase, False in the other one, Unknown before), and
 *   Terminating once a stop began.
 * - A finished task never runs again, even when its spec changes (only
 *   observedGeneration follows); delete and re-apply to rerun it.
 * - spec.dependsOn gates the first attempt only: until every dependency
 *   Succeeded the Task stays Pending with condition Waiting True (reason
 *   DependenciesNotReady, or DependencyCycle while it is on a cycle of
 *   dependsOn); a Failed dependency fails it (DependencyFailed) before it
 *   ever ran. Once all succeeded, Waiting is False (DependenciesReady) and
 *   stays so: a started Task never waits again.
 * - A container is made only once every Secret it references (env
 *   valueFrom.secretKeyRef, secret volumes) can be had: until then the Task
 *   stays as it is (Pending, or waiting between attempts) with reason
 *   CreateContainerConfigError and a message naming the Secret and key,
 *   and nothing is pulled (secret-refs.c; a Secret's change enqueues it).
 * - Queueing (berthd --max-running, a namespace's Queue; runqueue.h): a
 *   Task takes a run slot just before its first container is made (after
 *   dependencies and Secrets, before any image is pulled) and keeps it until
 *   it has finished or is deleted and none of its containers runs. Refused,
 *   it stays Pending with condition Queued True (reason MaxRunning or
 *   QueueLimit, the same as status.reason, a message naming the limit) and
 *   no timer: a freed slot wakes the next Tasks in order. Admitted after
 *   waiting, Queued turns False (reason Admitted). The status is written
 *   when the Task becomes queued and when it is admitted, never while the
 *   queue moves: the position is computed on read (berth describe).
 * - Times have second precision (RFC 3339); nextAttemptTime is rounded up.
 * - A reconcile the Docker engine could not serve because it does not answer
 *   (docker.h, -EHOSTDOWN) adds condition EngineUnresponsive True (message:
 *   the tracker's "docker engine ... not answering for 12s") and a Warning
 *   Event of that reason when it is news; the next reconcile that goes
 *   through removes the condition.
 */
#pragma once

#include "common.h"
#include "docker.h"
#include "manifests.h"
#include "store.h"
#include "watchers.h"

#define TASK_FINALIZER        FINALIZER_CONTAINERS
#define TASK_LABEL_CLUSTER    "berth.cluster"      /* the store identity; see controller.h */
#define ENGINE_UNRESPONSIVE   "EngineUnresponsive" /* condition type and Event reason */
#define TASK_KILL_GRACE_MS    10000                /* SIGTERM → SIGKILL after a deadline */
#define TASK_PLAN_ACTIONS_MAX 16
#define TASK_CONFIG_RETRY_MS  30000 /* a Secret that could not be had is looked for again */

enum task_phase { TASK_PHASE_PENDING, TASK_PHASE_RUNNING, TASK_PHASE_SUCCEEDED, TASK_PHASE_FAILED };
const char *task_phase_to_string(enum task_phase p);
int task_phase_from_string(const char *s, enum task_phase *ret);

enum task_waiting { TASK_WAITING_NONE, TASK_WAITING_TRUE, TASK_WAITING_FALSE };
/* Condition Queued: absent for a Task that never waited for a run slot. */
enum task_queued { TASK_QUEUED_NONE, TASK_QUEUED_TRUE, TASK_QUEUED_FALSE };

/* Fields are NULL/0 when absent. Strings are borrowed from the object. */
struct task_status {
        enum task_phase phase;
        int attempts; /* containers created so far (the current attempt number) */
        const char *container_id;
        int64_t start_ms;      /* first container started */
        int64_t completion_ms; /* phase became Succeeded or Failed */
        bool exit_known;
        int exit_code;
        const char *reason;
        const char *message;
        int64_t observed_generation;
        int64_t next_attempt_ms; /* when the next attempt may be created (backoff) */
        /* > 0: since then its container is being stopped (reason says why);
         * condition Terminating is True. */
        int64_t terminating_ms;
        /* Condition Waiting (spec.dependsOn): absent for a Task without one. */
        enum task_waiting waiting;
        const char *waiting_reason;
        const char *waiting_message;
        enum task_queued queued;
        const char *queued_reason;
        const char *queued_message;
};

/* A container of this task as observed (from the cache). */
struct observed_container {
        int attempt;
        const char *id;
        enum docker_state state; /* UNKNOWN = not created; EXITED/DEAD = finished */
        bool details_known;      /* exit_code/oom_killed come from an inspect after the exit */
        int exit_code;
        bool oom_killed;
        int64_t started_ms;
        int64_t finished_ms;
};

/* A dependency (spec.dependsOn entry) as observed in the object cache. */
struct task_dependency {
        const char *name;
        bool found;            /* false: no Task of that name in the namespace */
        enum task_phase phase; /* when found */
};

/* Bounds the search for a dependsOn cycle through the cache (Tasks visited). */
#define TASK_CYCLE_SEARCH_MAX 256

struct task_plan_input {
        const char *uid;
        int64_t generation;
        int64_t creation_ms;
        bool deleting;      /* metadata.deletionTimestamp set */
        bool has_finalizer; /* TASK_FINALIZER present */
        struct task_spec spec;
        struct task_status status;
        const struct observed_container *containers; /* sorted by attempt */
        size_t n_containers;
        /* The executor needs no image (docker-exec, a plugin's): no image
         * is inspected or pulled, pull policies are moot. */
        bool no_image;
        bool image_present;      /* for IfNotPresent/Never; Always ignores it */
        bool image_unknown;      /* image_present is not known yet: inspect before a create */
        const char *image_error; /* pull/inspect failure message, or NULL */
        /* Containers of an older Task of the same name (another uid): removed. */
        const struct observed_container *strays;
        size_t n_strays;
        int64_t now_ms;
        /* Feedback from the apply step, for the next round of planning: */
        const char *create_error; /* create/start refused (4xx): the daemon's message */
        int lost_attempt;         /* the container of this attempt is confirmed absent by an
                                     inspect by name (0 = none): the attempt is ContainerLost */
        /* The Task's reason for create_error; NULL: ContainerCreateFailed
         * (runAsNonRoot refused by the image's user: CreateContainerConfigError) */
        const char *create_error_reason;
        /* A Secret the next container needs cannot be had (missing, no such
         * key, does not open, no tmpfs for secret volumes): why, naming the
         * Secret and key, else NULL. The Task makes no container and reads
         * reason CreateContainerConfigError until it can (a change of a
         * Secret of its namespace brings it back, and a timer of
         * TASK_CONFIG_RETRY_MS). */
        const char *config_error;
        /* spec.dependsOn as observed, in its order (observed only before the
         * first attempt; n_deps 0: nothing gates it). */
        const struct task_dependency *deps;
        size_t n_deps;
        /* This Task is on a cycle of dependsOn: the Tasks of the cycle from
         * this one on (cycle[0] is this Task; the last depends on it). */
        const char *const *cycle;
        size_t n_cycle;
        /* A run slot must be asked for before the next create (a runqueue
         * is in use and the Task holds no slot): the plan asks first
         * (TASK_ACTION_ADMIT). */
        bool needs_admission;
        /* Acting asked and was refused: the reason (MaxRunning, QueueLimit)
         * and a message naming the limit; the Task waits, Queued. */
        const char *queued_reason;
        const char *queued_message;
};

enum task_action_type {
        TASK_ACTION_ADD_FINALIZER,
        TASK_ACTION_ADMIT,         /* ask the runqueue for a run slot (needs_admission) */
        TASK_ACTION_INSPECT_IMAGE, /* is the image present? (image_unknown) */
        TASK_ACTION_PULL_IMAGE,
        /* container exited but exit details unknown; container_id NULL: look
         * the attempt's container up by name (status knows the attempt, the
         * cache does not: lag or ContainerLost, see lost_attempt) */
        TASK_ACTION_INSPECT,
        TASK_ACTION_CREATE,   /* create + start container for 'attempt' */
        TASK_ACTION_START,    /* a created (never started) container */
        TASK_ACTION_KILL,     /* signal */
        TASK_ACTION_REMOVE,   /* container */
        TASK_ACTION_DELETE,   /* TTL: mark the object for deletion */
        TASK_ACTION_FINALIZE, /* all containers gone: drop finalizer, delete object */
};
const char *task_action_type_to_string(enum task_action_type t);

struct task_action {
        enum task_action_type type;
        int attempt;
        const char *container_id; /* borrowed from the input */
        const char *signal;       /* for KILL: "SIGTERM" or "SIGKILL" */
};

/* status.message may point into message[]: use a plan in place, don't copy it. */
struct task_plan {
        struct task_action actions[TASK_PLAN_ACTIONS_MAX];
        size_t n_actions;
        struct task_status status; /* the status to write (strings static or borrowed) */
        bool status_changed;
        char message[512];        /* storage for status.message when the planner made one */
        int64_t requeue_after_ms; /* < 0 = no timer needed */
};

/* Pure: no I/O, no clock, no randomness (jitter comes from uid and attempt). */
void task_plan_compute(const struct task_plan_input *in, struct task_plan *ret);

/* Delay before attempt 'next_attempt' (>= 2): initial * factor^(n-2), capped,
 * plus up to 10% jitter derived from uid. Pure. */
int64_t task_backoff_delay_ms(const struct task_spec *spec, const char *uid, int next_attempt);

/* Parses status (absent → zero values, phase Pending). Strings borrowed. */
void task_status_from_json(const json_t *object, struct task_status *ret);
/* Builds the status JSON object with conditions Running/Succeeded/Failed
 * (and Terminating once a stop began, kept afterwards as False; then Waiting
 * when st->waiting says so); keeps the
 * lastTransitionTime of conditions whose status did not change (from old). */
json_t *task_status_to_json(const struct task_status *st, const json_t *old_status, int64_t now_ms);

/* "berth.<ns>.<name>.<uid8>.<attempt>". Caller frees. */
char *task_container_name(const char *ns, const char *name, const char *uid, int attempt);

/* Who a container belongs to: its berth.* labels. Strings borrowed. */
struct container_owner {
        const char *kind; /* "Task" */
        const char *ns;
        const char *name;
        const char *uid;
        int64_t generation;
        const char *cluster; /* berth.cluster, or NULL */
};

/* What acting resolved from Secrets for one container: env_values[i] is
 * the value of spec->env[i] when that comes from a Secret, volume_dirs[i]
 * the host directory (on berthd's tmpfs) of spec->volumes[i] when that is
 * a secret volume; NULL entries otherwise. */
struct container_secrets {
        char **env_values;  /* n_env entries, or NULL: no env from Secrets */
        char **volume_dirs; /* n_volumes entries, or NULL: no secret volume */
};

/* Docker create body (Config + HostConfig + labels) of one attempt of a
 * decoded Task spec, with every Secret it references resolved in secrets
 * (NULL: it references none). New reference, or NULL on allocation failure
 * or when a referenced Secret's value or directory is missing. */
json_t *task_container_body(const struct task_spec *spec, const struct container_owner *owner,
                            int attempt, const struct container_secrets *secrets);

/* ---- Workflow: planning ---------------------------------------------- */

/* A Workflow runs each Task step as a child Task named "<workflow>-<step>",
 * a fanned-out step as one per item, "<workflow>-<step>-<index>", and its
 * exit handler as "<workflow>-onexit" (labels WORKFLOW_LABEL and
 * WORKFLOW_STEP_LABEL; ownerReferences → the Workflow). A deploy step writes
 * the image of a Service it does not own (annotated
 * SERVICE_ANNOTATION_DEPLOYED_BY, so that the Service's events reach the
 * Workflow) and follows its rollout. A succeeded step's result (a Task's
 * stdout, the JSON array of its children's, a deploy's image) is stored
 * under its own key, object_data_key(prefix, "workflows", ns, name,
 * "step-<step>"), its file outputs under "file-<step>.<file>": never in the
 * Workflow object. Rules for users: docs/reference/workflow.md. */
#define WORKFLOW_FINALIZER  FINALIZER_CHILDREN
#define WORKFLOW_RESULT_MAX (256 * 1024) /* bytes of stdout kept (the last ones) */
/* Actions of one plan beyond one per step: Task creations and stops of
 * fanned-out children are planned this many at a time (the plan asks to be
 * run again at once while more are due). */
#define WORKFLOW_ACTIONS_EXTRA 256

enum step_phase { STEP_PENDING, STEP_RUNNING, STEP_SUCCEEDED, STEP_FAILED, STEP_SKIPPED };
const char *step_phase_to_string(enum step_phase p);
int step_phase_from_string(const char *s, enum step_phase *ret);

/* Where the rollout of the Service generation a deploy step wrote stands. */
enum rollout_state {
        ROLLOUT_PROGRESSING, /* not observed at that generation yet, or rolling */
        ROLLOUT_COMPLETE,    /* observed, condition Progressing True, NewRevisionAvailable */
        ROLLOUT_FAILED,      /* observed, condition Progressing False, ProgressDeadlineExceeded */
};

/* A build step's build, as berthd's builder knows it. NOT_STARTED also
 * after a restart of berthd, which forgets builds: the step builds again
 * (Docker's layer cache makes that cheap). */
enum step_build_state {
        STEP_BUILD_NOT_STARTED,
        STEP_BUILD_RUNNING,
        STEP_BUILD_SUCCEEDED,
        STEP_BUILD_FAILED,
};

/* One child Task of a fanned-out step, as the cache shows it. */
struct workflow_child {
        bool exists;   /* in the cache, owned by this Workflow, not being deleted */
        bool foreign;  /* a Task of that name owned by something else */
        bool deleting; /* being deleted (exists is false then) */
        enum task_phase phase;
        const char *reason;
        const char *message;
};

/* One step as the planner sees it: its place in the DAG, what the caches show
 * of its Task and result, and what the previous status said. Strings borrowed. */
struct workflow_step {
        const char *name;
        const size_t *deps; /* indexes of its dependencies */
        size_t n_deps;
        /* its depends expression, or NULL: every dependency must succeed */
        const struct cond *depends;
        bool continue_on_failed; /* continueOn.failed */
        bool exit_handler;       /* spec.onExit: runs once every other step ended */
        /* Must be resolved before it starts (a when to evaluate, items to
         * count): acting does it (WORKFLOW_ACTION_RESOLVE) and tells. */
        bool needs_resolve;
        bool resolved;   /* resolved: by acting now, or (fanned out) by the status */
        bool when_false; /* resolved: its when is false */
        bool fan_out;    /* withItems or withParam */
        /* fan_out, resolved: its children as the cache shows them */
        const struct workflow_child *children;
        size_t n_children;
        size_t prev_children_created; /* the status's count: children 0..n-1 were made */
        /* observed */
        bool task_exists;  /* its Task is in the cache, owned by this Workflow, not being deleted */
        bool task_foreign; /* a Task of that name exists, owned by something else */
        bool task_deleting; /* its Task, or a child of it, is being deleted (a retry) */
        enum task_phase task_phase;
        const char *task_reason;
        const char *task_message;
        bool result_stored; /* its result (and files) are recorded */
        /* Acting found the step failed (its Task could not be made, its
         * output is lost): reason and message, else NULL. */
        const char *failure_reason;
        const char *failure_message;
        /* previous status of the step */
        enum step_phase prev_phase;
        bool prev_created; /* the status recorded its Task as created */
        const char *prev_reason;
        const char *prev_message;
        /* A deploy step (no Task: the task_* fields stay unset). */
        bool deploy;
        const char *service; /* the Service's name */
        bool deploy_wait;    /* follow the rollout; false: done once written */
        /* observed: the Service was written (or found up to date) by this
         * step, recorded in its status or by acting in this reconcile */
        bool deployed;
        /* that Service is still there: same uid, not being deleted */
        bool service_found;
        /* its spec has another image by now (a later deploy, an apply, an
         * undo): the rollout followed would not be this step's */
        const char *superseded_by;
        enum rollout_state rollout;  /* of the generation written */
        const char *rollout_message; /* ROLLOUT_FAILED: the Service's condition message */
        int64_t deploy_deadline_ms;  /* timeoutSeconds after the write; 0 = none */
        /* A build step (no Task): where its build stands, by the builder. */
        bool build;
        enum step_build_state build_state;
        const char *build_message; /* STEP_BUILD_FAILED: the daemon's message */
};

struct workflow_plan_input {
        bool deleting;       /* metadata.deletionTimestamp set */
        bool has_finalizer;  /* WORKFLOW_FINALIZER present */
        size_t tasks_left;   /* deleting: Tasks of this Workflow that still exist */
        size_t results_left; /* deleting: its result keys that still exist */
        bool fail_fast;
        int parallelism;               /* 0 = no limit */
        int64_t ttl_after_finished_ms; /* < 0 = keep forever */
        int64_t active_deadline_ms;    /* 0 = none */
        bool shutdown;                 /* spec.shutdown: Stop */
        bool on_exit_fail_workflow;    /* onExit.failWorkflow */
        /* n_steps steps; with an exit handler it is the last one */
        struct workflow_step *steps;
        size_t n_steps; /* at most WORKFLOW_STEPS_MAX + 1 */
        /* `berth retry` asked for a rerun that the status has not recorded */
        bool retry_requested;
        /* previous status of the Workflow */
        enum task_phase prev_phase;
        const char *prev_reason;    /* a stop's reason is kept until the end */
        int64_t prev_start_ms;      /* 0 = not started */
        int64_t prev_completion_ms; /* 0 = not finished */
        int64_t now_ms;
};

enum workflow_action_type {
        WORKFLOW_ACTION_ADD_FINALIZER,
        /* evaluate the step's when, count its items (status: items) */
        WORKFLOW_ACTION_RESOLVE,
        WORKFLOW_ACTION_CREATE_TASK, /* step's Task, or its child 'child' */
        /* shutdown: Stop into the step's (child's) Task; a build step's build
         * is cancelled */
        WORKFLOW_ACTION_STOP_TASK,
        /* deploy step: set its Service's image and record the generation */
        WORKFLOW_ACTION_DEPLOY,
        WORKFLOW_ACTION_BUILD, /* build step: hand its build to the builder */
        /* step succeeded: record its Task's stdout (its children's as a JSON
         * array) and file outputs, or the image it deployed */
        WORKFLOW_ACTION_STORE_RESULT,
        /* retry: delete the step's Tasks, result and files */
        WORKFLOW_ACTION_RESET_STEP,
        WORKFLOW_ACTION_DELETE_CHILDREN, /* deleting: delete its Tasks and result keys */
        WORKFLOW_ACTION_FINALIZE,        /* all gone: the workspace, the finalizer, the object */
        WORKFLOW_ACTION_DELETE,          /* TTL: mark the Workflow for deletion */
};
const char *workflow_action_type_to_string(enum workflow_action_type t);

#define WORKFLOW_NO_CHILD ((size_t)-1)

struct workflow_action {
        enum workflow_action_type type;
        size_t step;  /* for the step actions */
        size_t child; /* CREATE_TASK, STOP_TASK: a fanned-out child, or WORKFLOW_NO_CHILD */
};

/* What each step is now. reason/message are static strings, borrowed from the
 * input, or point into message_buf. */
struct workflow_step_plan {
        enum step_phase phase;
        const char *reason;
        const char *message;
        char message_buf[160];
        size_t children_created; /* fanned out: children 0..n-1 made by now */
        size_t children_running;
        size_t children_succeeded;
        size_t children_failed;
};

struct workflow_plan {
        struct workflow_action actions[WORKFLOW_STEPS_MAX + 1 + WORKFLOW_ACTIONS_EXTRA];
        size_t n_actions;
        struct workflow_step_plan steps[WORKFLOW_STEPS_MAX + 1];
        bool status_changed; /* false: leave status as it is (deleting, finished) */
        /* Condition Terminating is True, for reason and message: failFast
         * waits for running steps, a stop or deadline for steps to stop, or a
         * deletion for the step Tasks. */
        bool terminating;
        bool retried; /* a retry was done: status.retriedFor takes the request */
        enum task_phase phase;
        const char *reason;  /* NULL while running */
        const char *message; /* may point into message_buf */
        char message_buf[512];
        /* what {{workflow.status}} says to the exit handler: Succeeded or Failed */
        enum task_phase outcome;
        int64_t start_ms;      /* 0 = no step started */
        int64_t completion_ms; /* 0 = not finished */
        size_t succeeded;      /* steps Succeeded (the exit handler not counted) */
        /* < 0 = no timer: a deploy step's timeoutSeconds while it waits, the
         * activeDeadlineSeconds while running, and the TTL once finished */
        int64_t requeue_after_ms;
};

/* Pure: no I/O, no clock. Steps are evaluated in dependency order (a cycle,
 * which validation rejects, leaves its steps Pending). A step's phase is
 * sticky once Succeeded, Failed or Skipped (until a retry). */
void workflow_plan_compute(const struct workflow_plan_input *in, struct workflow_plan *ret);

/* ---- CronTask: planning ---------------------------------------------- */

/* A CronTask creates one child (Task or Workflow, labelled berth.crontask,
 * owned by it) per scheduled time, named after that time, with create-only
 * writes: a restart, a resync, a leader change or a second replica never
 * creates a run twice. Rules for users: docs/reference/crontask.md. */
#define CRONTASK_FINALIZER    FINALIZER_CHILDREN
#define CRONTASK_DUE_MAX      100    /* scheduled times run per wake-up; more: come back at once */
#define CRONTASK_SCAN_MAX     100000 /* scheduled times looked at per wake-up */
#define CRONTASK_CHILDREN_MAX 4096   /* children a plan considers */

/* A child as the planner sees it. */
struct cron_child {
        const char *name;
        int64_t scheduled_ms; /* its scheduled (or trigger) time */
        enum task_phase phase;
        int64_t completion_ms;
        bool deleting;
        bool manual; /* made by `berth trigger` */
};

struct crontask_plan_input {
        bool deleting;
        bool has_finalizer;
        /* Its policies (concurrency, startingDeadline, catchUp, suspend,
         * history limits); the schedule and template are not read here. */
        struct crontask_spec spec;
        /* Scheduled times after the last one handled, up to now, that came due
         * while this controller was not acting (down, not leading) or the
         * CronTask was suspended: how many, and the latest catch_up_max of them
         * (oldest first). */
        size_t backlog_count;
        const int64_t *backlog;
        size_t n_backlog;
        /* false: the scan stopped at CRONTASK_SCAN_MAX; more backlog follows. */
        bool backlog_complete;
        /* Scheduled times that came due while acting, oldest first (at most
         * CRONTASK_DUE_MAX); due_more: there are more. */
        const int64_t *due;
        size_t n_due;
        bool due_more;
        int64_t scanned_ms; /* the last scheduled time looked at (0: none) */
        int64_t next_ms;    /* the first scheduled time after now; 0: never */
        /* Its children, by scheduled time ascending. */
        const struct cron_child *children;
        size_t n_children;
        int64_t trigger_ms; /* a `berth trigger` not handled yet (0: none) */
        bool trigger_force;
        /* previous status */
        int64_t prev_last_schedule_ms;
        int64_t prev_last_success_ms;
        int64_t prev_last_trigger_ms;
        int64_t prev_missed_count;
        int64_t prev_missed_ms;
        const char *prev_missed_reason;
        int64_t now_ms;
};

enum crontask_action_type {
        CRONTASK_ACTION_ADD_FINALIZER,
        CRONTASK_ACTION_CREATE_CHILD,    /* for scheduled_ms (manual: a trigger) */
        CRONTASK_ACTION_DELETE_CHILD,    /* children[child]: Replace, or history */
        CRONTASK_ACTION_DELETE_CHILDREN, /* deleting: every child */
        CRONTASK_ACTION_FINALIZE,        /* deleting, no child left */
};
const char *crontask_action_type_to_string(enum crontask_action_type t);

struct crontask_action {
        enum crontask_action_type type;
        int64_t scheduled_ms;
        bool manual;
        size_t child;
};

#define CRONTASK_PLAN_ACTIONS_MAX (2 * CRONTASK_DUE_MAX + CRONTASK_CHILDREN_MAX + 4)

struct crontask_plan {
        struct crontask_action actions[CRONTASK_PLAN_ACTIONS_MAX];
        size_t n_actions;
        /* the status to write */
        bool suspended;
        int64_t last_schedule_ms;
        int64_t last_success_ms;
        int64_t last_trigger_ms;
        int64_t next_ms; /* 0: none (suspended, or never) */
        int64_t missed_count;
        int64_t missed_ms;
        const char *missed_reason; /* StartingDeadlineExceeded, ConcurrencyForbid, Downtime */
        size_t active;             /* children that run, after this plan */
        int64_t requeue_after_ms;
        /* children[i] is deleted by this plan (Replace, history). */
        bool child_deleted[CRONTASK_CHILDREN_MAX];
};

/* Pure: no I/O, no clock. */
void crontask_plan_compute(const struct crontask_plan_input *in, struct crontask_plan *ret);
/* "<name>-<unix minutes>", "-<unix seconds>" (seconds), "-manual-<unix
 * seconds>" (manual). Caller frees. */
char *crontask_child_name(const char *name, int64_t scheduled_ms, bool seconds, bool manual);

/* ---- Service: planning ----------------------------------------------- */

/* A Service keeps spec.replicas containers of its update revision running,
 * one per replica index, named berth.<ns>.<name>.<rev8>.<index> (a slot is
 * such a (revision, index) pair); a crashed replica is restarted, after an
 * exponential backoff, as a new container of the same name; a template change
 * rolls the slots to the new revision within maxSurge/maxUnavailable. Rules
 * for users: docs/reference/service.md. */
#define SERVICE_FINALIZER FINALIZER_CONTAINERS
#define SERVICE_SLOTS_MAX (2 * SERVICE_REPLICAS_MAX + 64)
#define SERVICE_REV_LEN   8 /* rev8: the revision hash's first 8 hex digits */

/* What a slot is doing, as status.replicaStatuses[].state says it. */
enum replica_state {
        REPLICA_PENDING,           /* to be created */
        REPLICA_STARTING,          /* created, or running but not ready yet */
        REPLICA_RUNNING,           /* running and ready */
        REPLICA_CRASH_LOOP,        /* exited or unhealthy: restarts at next_restart_ms */
        REPLICA_IMAGE_PULL_FAILED, /* its image could not be had: retried with backoff */
        REPLICA_CREATE_FAILED,     /* Docker refused create/start: retried with backoff */
        REPLICA_TERMINATING,       /* being stopped: SIGTERM sent at terminating_ms */
};
const char *replica_state_to_string(enum replica_state s);

/* What the status remembers of a slot between reconciles (and across
 * container re-creation: the container name is the same). Strings borrowed. */
struct replica_record {
        char revision[SERVICE_REV_LEN + 1];
        int index;
        int host_ports[SERVICE_PORTS_MAX]; /* allocated; 0: none yet */
        int restarts;                      /* containers re-created after a crash */
        int crashes;                       /* consecutive, for the backoff */
        const char *crashed_id;            /* container whose exit was counted */
        int64_t next_restart_ms;           /* > 0: re-create at (CrashLoopBackOff) */
        bool has_last_exit;
        int last_exit_code;
        const char *last_exit_reason; /* Completed, Error, OOMKilled, Unhealthy */
        int64_t last_exit_ms;
        int64_t terminating_ms; /* > 0: being stopped since */
        int64_t ready_ms;       /* > 0: ready since */
        enum replica_state state;
        const char *message;
};

/* A container of the Service as observed. Strings borrowed. */
struct replica_container {
        const char *id;
        char revision[SERVICE_REV_LEN + 1];
        int index;
        int host_ports[SERVICE_PORTS_MAX]; /* from its berth.ports label by port name */
        enum docker_state state;
        enum docker_health health; /* the check's verdict (Docker's or the prober's) */
        char health_message[256];  /* the prober's last failure, or "" */
        int64_t started_ms, finished_ms;
        bool exit_known;
        int exit_code;
        bool oom_killed;
};

/* A create that failed this reconcile, fed back to the next round. */
struct replica_failure {
        int index;                /* of the update revision */
        enum replica_state state; /* IMAGE_PULL_FAILED or CREATE_FAILED */
        const char *message;
};

struct service_plan_input {
        const struct service_spec *spec;
        const char *update_rev; /* rev8 of the spec's revision */
        bool deleting;
        bool has_finalizer;
        const struct replica_container *containers; /* this Service's (its uid) */
        size_t n_containers;
        const char *const *strays; /* ids of containers of an older Service of the name */
        size_t n_strays;
        const struct replica_record *records; /* status.replicaStatuses */
        size_t n_records;
        const struct replica_failure *failures;
        size_t n_failures;
        bool image_unknown; /* inspect the image before creating */
        bool image_present;
        const char *image_error; /* this reconcile's pull failed: why, else NULL */
        /* previous status */
        const char *prev_update_rev; /* rev8, or NULL */
        int64_t prev_rollout_start_ms;
        int64_t prev_progress_ms;
        int prev_updated_available;
        bool prev_complete; /* the rollout of prev_update_rev finished */
        int64_t now_ms;
};

enum service_action_type {
        SERVICE_ACTION_ADD_FINALIZER,
        SERVICE_ACTION_INSPECT_IMAGE,
        SERVICE_ACTION_PULL_IMAGE,
        SERVICE_ACTION_CREATE,   /* slot (update revision, index) with host_ports */
        SERVICE_ACTION_START,    /* a created container that never started */
        SERVICE_ACTION_STOP,     /* SIGTERM container_id */
        SERVICE_ACTION_REMOVE,   /* force-remove container_id */
        SERVICE_ACTION_FINALIZE, /* deleting, no container left */
};
const char *service_action_type_to_string(enum service_action_type t);

struct service_action {
        enum service_action_type type;
        int index;
        int host_ports[SERVICE_PORTS_MAX];
        const char *container_id;
};

struct service_plan {
        struct service_action actions[2 * SERVICE_SLOTS_MAX + 4];
        size_t n_actions;
        /* the status: every slot that exists or waits to be re-created, by
         * index, then revision (the update revision last) */
        struct replica_record records[SERVICE_SLOTS_MAX];
        size_t n_records;
        char messages[SERVICE_SLOTS_MAX][160]; /* storage for records' messages */
        int replicas, ready, updated, available, restarts;
        /* The update revision rolled out: every replica of it was available
         * and no other was left (it stays so until the next revision). */
        bool complete;
        int64_t rollout_start_ms, progress_ms;
        int updated_available;
        bool available_ok;           /* condition Available */
        bool deadline_exceeded;      /* condition Progressing False */
        const char *degraded_reason; /* NULL: condition Degraded False */
        const char *degraded_message;
        char degraded_buf[256];
        int64_t requeue_after_ms;
};

/* Pure: no I/O, no clock. */
void service_plan_compute(const struct service_plan_input *in, struct service_plan *ret);
/* Backoff before re-creating a slot that crashed `crashes` times in a row
 * (>= 1): initial * factor^(crashes-1), capped at max. */
int64_t service_backoff_ms(const struct service_spec *spec, int crashes);
/* "berth.<ns>.<name>.<rev8>.<index>". Caller frees. */
char *service_container_name(const char *ns, const char *name, const char *rev8, int index);
/* The revision hash of a Service spec (16 hex digits and NUL into ret):
 * FNV-1a 64 of the compact, key-sorted JSON of {template, ports,
 * healthCheck, restartedAt}. -ENOMEM. */
int service_revision_hash(const json_t *spec, char ret[17]);

/* ---- Task executors: docker-exec -------------------------------------- */

/* A Task with spec.executor.type docker-exec runs its command (command +
 * args) inside the one running container its spec.executor.container
 * names or selects, instead of a container of its own; attempts, exit
 * codes, retries, activeDeadlineSeconds and stops follow the same rules
 * (a stop signals the exec's process tree).
 *
 * The runner keeps each Task's latest exec in memory, and every attempt's
 * output (stdout and stderr merged as they arrive) on disk:
 * "<log_dir>/<task uid>/<attempt>.log" (directories 0700, files 0600), at
 * most EXEC_LOG_FILE_MAX bytes per attempt (then a note says the rest was
 * dropped), which `berth logs` serves (exec_runner_stream). A Task's files
 * go with the Task (exec_runner_forget_key); exec_runner_collect removes
 * those of Tasks deleted while berthd was down.
 *
 * After a restart of berthd the status still names the attempt's exec:
 * exec_runner_adopt takes it over from Docker (its exit code when it ended
 * meanwhile, else it waits for its end); its output from the restart on is
 * not recorded. */
#define EXEC_LOG_FILE_MAX (8 * 1024 * 1024) /* bytes of output kept per attempt */
#define EXEC_RUNS_MAX     1024              /* Tasks with a known exec */
#define EXEC_KEY_MAX      512               /* bytes of a Task's store key */
#define EXEC_UID_MAX      64                /* bytes of a Task's uid, with the NUL */

/* An exec ended: called on the exec's thread with the Task's key. */
typedef void (*exec_change_fn)(const char *key, void *userdata);
struct exec_runner;

/* What to run; all borrowed for the call. */
struct exec_request {
        const char *key; /* the Task's store key, for the callback */
        const char *uid;
        int attempt;
        const char *container_id; /* the running target */
        const json_t *cmd;        /* array of strings, not empty */
        const char *const *env;   /* "NAME=value", NULL-terminated; NULL: none */
        const char *user;         /* NULL: the container's */
        const char *working_dir;  /* NULL: the container's */
};

/* A Task's latest exec, copied out. */
struct exec_observed {
        int attempt;
        bool ended;    /* the command ended: exit_code holds (-1: unknown, see error) */
        bool adopted;  /* taken over after a restart of berthd (exec_runner_adopt) */
        int exit_code; /* 128 + n: killed by signal n */
        int64_t started_ms, finished_ms;
        char exec_id[80];
        char container_id[80];
        char token[96];
        char error[256];
};

/* log_dir: where attempts' output is written (made 0700 if missing; copied);
 * NULL: nowhere (exec_runner_stream answers -ENOENT). -ENOMEM, or mkdir's
 * -errno. Caller frees with exec_runner_free (interrupts and joins the exec
 * threads; the commands themselves go on in their containers). */
int exec_runner_new(const char *log_dir, exec_change_fn changed, void *userdata,
                    struct exec_runner **ret);
void exec_runner_free(struct exec_runner *r); /* NULL ok */
/* Creates and starts the exec of req's attempt on a thread of its own
 * (d: the caller's client, used for the create and cloned for the thread);
 * idempotent per (uid, attempt); a Task's older attempt is forgotten (its
 * output file stays). The attempt's output file is made (emptied) here.
 * Docker's refusal as -errno with err (-ENOENT, -EBUSY: the target is gone
 * or not running); -ENOSPC past EXEC_RUNS_MAX. */
int exec_runner_start(struct exec_runner *r, struct docker *d, const struct exec_request *req,
                      struct berth_error *err);
/* Takes over an exec a former berthd started for the Task's attempt (its
 * id from the status): inspects it (blocks for that call), then a thread of
 * its own waits for its end — pidfd_open of its process when berthd shares
 * the host's pid namespace, Docker's exec_die event otherwise and for the
 * exit code (replayed for an exec that ended meanwhile) — without reading
 * its output; the changed callback follows its end. Idempotent per (uid,
 * attempt). -ENOENT with err: Docker does not know the exec (or its
 * container is gone); another Docker error; -ENOSPC past EXEC_RUNS_MAX. */
int exec_runner_adopt(struct exec_runner *r, struct docker *d, const char *key, const char *uid,
                      int attempt, const char *exec_id, struct berth_error *err);
/* The Task's latest exec; -ENOENT: none known. */
int exec_runner_observe(struct exec_runner *r, const char *uid, struct exec_observed *ret);
/* Sends signal ("SIGTERM", "SIGKILL") to every process of the running exec's
 * tree (the token in their environment), by a second exec in the target;
 * 0 when nothing runs. Blocks for that short exec. */
int exec_runner_signal(struct exec_runner *r, struct docker *d, const char *uid, const char *signal,
                       struct berth_error *err);
/* Drops a Task's exec from memory (its output files stay). */
void exec_runner_forget(struct exec_runner *r, const char *uid);
/* The Task (store key) is gone: drops its execs and removes its output
 * files. Blocks for the file removal. */
void exec_runner_forget_key(struct exec_runner *r, const char *key);
/* Whether the output files of the Task uid are to be kept: fills its key
 * (the Task's store key) when they are. */
typedef bool (*exec_keep_fn)(const char *uid, char *key, size_t key_size, void *userdata);
/* At start, before any exec: removes the output directories of Tasks keep
 * does not know (deleted while berthd was down), and remembers the key of
 * the others for exec_runner_forget_key. *ret_removed counts those removed.
 * No-op without a log_dir. */
int exec_runner_collect(struct exec_runner *r, exec_keep_fn keep, void *userdata,
                        size_t *ret_removed, struct berth_error *err);
/* Streams the output of the Task's attempt (>= 1) from its file to fn
 * (as DOCKER_STREAM_STDOUT: stdout and stderr are one stream on disk), from
 * its last tail lines (< 0: all). follow: goes on with the output as the
 * exec writes it, until it ends (or is forgotten, or berthd forgets it at
 * shutdown); woken by the exec's thread, no polling. Blocks: call on a
 * thread of its own. Ends early (-ECANCELED) once cancel_fd (>= 0; an
 * eventfd or pipe) is readable, or (0) when fn returns non-zero.
 * -ENOENT with err: no output of that attempt. */
int exec_runner_stream(struct exec_runner *r, const char *uid, int attempt, int tail, bool follow,
                       int cancel_fd, docker_log_fn fn, void *userdata, struct berth_error *err);

/* ---- Task executors: plugins ------------------------------------------ */

/* A Task whose spec.executor.type names an executor plugin runs its
 * attempts through one of these: the plugin's runner (plugins.h makes them
 * from the loaded plugins) keeps each Task's latest attempt as last heard
 * of and answers every call but logs at once, without waiting for the
 * plugin, which it calls on a thread of its own; when what it knows of an attempt
 * changes it calls back with the Task's key (the listener), and the Task is
 * reconciled again. */
#define PLUGIN_HANDLE_MAX 128 /* bytes of an attempt's handle, NUL included */

enum plugin_attempt_state {
        PLUGIN_ATTEMPT_STARTING,     /* its start is queued or under way */
        PLUGIN_ATTEMPT_START_FAILED, /* the plugin refused it: error says why */
        PLUGIN_ATTEMPT_ADOPTING,     /* known from the status only: being asked about */
        PLUGIN_ATTEMPT_RUNNING,
        PLUGIN_ATTEMPT_ENDED, /* exit_code holds */
        PLUGIN_ATTEMPT_LOST,  /* the plugin does not know the handle */
};

struct plugin_attempt {
        int attempt;
        enum plugin_attempt_state state;
        int exit_code;
        int64_t started_ms, finished_ms;
        char handle[PLUGIN_HANDLE_MAX]; /* "" while starting */
        char error[256];
};

struct plugin_executor_ops {
        /* Sets (fn NULL: clears) the listener; any later change is told
         * to it, on the runner's thread. */
        void (*listen)(void *impl, exec_change_fn fn, void *userdata);
        /* Queues the start of a Task's attempt (task_json: the Task object,
         * copied). Idempotent per (uid, attempt); the Task's older attempt
         * is forgotten. -ENOSPC when the runner holds too many, -ENOMEM. */
        int (*start)(void *impl, const char *key, const char *uid, int attempt,
                     const char *task_json, struct berth_error *err);
        /* Queues the question about an attempt berthd knows only from the
         * Task's status (handle from status.containerID): after a restart. */
        int (*adopt)(void *impl, const char *key, const char *uid, int attempt, const char *handle,
                     struct berth_error *err);
        /* The Task's latest attempt; -ENOENT: none known. */
        int (*observe)(void *impl, const char *uid, struct plugin_attempt *ret);
        /* Queues a signal (SIGTERM, SIGKILL) to the running attempt. */
        int (*signal)(void *impl, const char *uid, int signo);
        /* Drops a Task's attempt (by uid, or every one of key): a running one
         * is killed first, then the plugin may forget it. */
        void (*forget)(void *impl, const char *uid);
        void (*forget_key)(void *impl, const char *key);
        /* The output of the Task's latest attempt, asked of the plugin:
         * blocks (an API log stream's thread) until it answers, at most
         * some seconds (-ETIMEDOUT). *ret NUL-terminated, caller frees;
         * -ENOENT (no attempt with a handle), -EIO, -ENOSYS, -ENOMEM. */
        int (*logs)(void *impl, const char *uid, char **ret, size_t *ret_len);
};

struct plugin_executor {
        const char *name; /* spec.executor.type */
        const struct plugin_executor_ops *ops;
        void *impl;
};

/* ---- acting ----------------------------------------------------------- */

struct prober;           /* probe.h */
struct builder;          /* builder.h */
struct admission_policy; /* admission.h */
struct events_recorder;  /* events.h */
struct runqueue;         /* runqueue.h */

/* What a reconcile needs; docker is the calling worker's own client. */
struct reconcile_ctx {
        struct store *store;
        struct object_cache *objects;
        struct container_cache *containers;
        struct docker *docker;
        const char *prefix;      /* store key prefix, "/berth/" */
        int64_t (*now_ms)(void); /* time_now_ms in production */
        const char *cluster;     /* label berth.cluster of the containers made; NULL = none */
        /* Leader election: every store write carries this guard (NULL = none); a
         * write refused by it (-EPERM) ends the reconcile: another replica leads. */
        const struct store_guard *fence;
        /* Wall-clock time this replica began to reconcile: what came due before
         * was missed while no controller acted (0: nothing was). */
        int64_t acting_since_ms;
        /* Runs the http and tcp health checks of Service replicas (NULL: none
         * run, and such replicas never become ready). */
        struct prober *prober;
        /* Sources: the directories berthd may read them from (berthd
         * --source-root), and the controller's directory watches — a
         * Source's reconcile calls watch_source with its key and spec to
         * watch spec->path (kept as it is when unchanged), or with spec NULL
         * when the Source is gone; a change enqueues the key. */
        const char *const *source_roots;
        size_t n_source_roots;
        void (*watch_source)(void *userdata, const char *key, const struct source_spec *spec);
        void *watch_userdata;
        /* Workflow build steps: the directories they may build from (berthd
         * --build-root; none: every build step fails, BuildNotAllowed) and the
         * builder that runs their builds off the workers (NULL: likewise). */
        const char *const *build_roots;
        size_t n_build_roots;
        struct builder *builder;
        /* What containers may do (admission.h): checked again just before a
         * container is created; NULL: nothing is checked. */
        const struct admission_policy *admission;
        /* Secrets (secrets.h): the keyring their values are sealed with
         * (NULL: sealed values cannot be read, and containers that need
         * one do not start), and the tmpfs directory secret volumes are
         * written to, "<secrets_dir>/<cluster>/<owner uid>/..." (NULL: secret
         * volumes are refused, secrets_dir_error saying why). */
        const struct secrets_keyring *secrets;
        const char *secrets_dir;
        const char *secrets_dir_error;
        /* Records Events about the objects reconciled (events.h): what
         * acting did to Docker and the store, and the status transitions
         * written. NULL: none are recorded. */
        struct events_recorder *events;
        /* Runs the commands of docker-exec Tasks (NULL: such Tasks fail,
         * ExecutorNotFound). */
        struct exec_runner *execs;
        /* The executor plugins (Tasks of another spec.executor.type fail,
         * ExecutorNotFound). */
        const struct plugin_executor *plugin_executors;
        size_t n_plugin_executors;
        /* The run slots of Tasks (berthd --max-running, Queues); shared by
         * the workers. NULL: Tasks start without asking. */
        struct runqueue *runqueue;
};

/* Removes the secret volume directories of owners (Tasks, Services) that
 * are no longer in the object cache: what a crash or a deletion while
 * berthd was down left on the tmpfs. Call before the workers start (a
 * directory is made by a worker, for an object the cache has). *ret_removed
 * counts them. No-op without ctx->secrets_dir. */
int secret_volumes_collect(struct reconcile_ctx *ctx, size_t *ret_removed, struct berth_error *err);

/* Whether this build has a reconciler for kind (kinds without one are only
 * stored and served). */
bool reconciler_handles(const struct kind_info *kind);
/* Reconciles the object of kind stored at key; when it is gone, removes what
 * it left behind (containers, child objects). *ret_requeue_ms: < 0 none, else
 * when to look again. Returns 0, or -errno (the caller requeues with backoff;
 * -ESTALE = the object changed under us, retry at once; -EPERM = fenced off;
 * -ENOTSUP = no reconciler for kind). */
int reconcile(struct reconcile_ctx *ctx, const struct kind_info *kind, const char *key,
              int64_t *ret_requeue_ms, struct berth_error *err);
