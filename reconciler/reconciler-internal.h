/* reconciler-internal.h: the reconcile skeleton every kind runs on
 * (reconcile.c), the store side of a reconcile (object-run.c) and status JSON
 * helpers (status.c). */
#pragma once

#include "events.h"
#include "reconciler.h"

#define RECONCILE_WAIT_WRITE_MS 2000 /* read-your-writes wait after a store write */

/* The object one reconcile works on: a private copy of the cached object
 * (without metadata.resourceVersion), written back with CAS on rev. Each kind
 * embeds it as the first member of its own run state. */
struct object_run {
        struct reconcile_ctx *ctx;
        const char *key;
        json_t *obj;
        int64_t rev;                 /* mod revision obj was read or last written at */
        bool dirty;                  /* obj changed: write it at the end */
        const char *ns, *name, *uid; /* borrowed from obj.metadata */
        bool deleting;               /* metadata.deletionTimestamp set */
        int64_t now_ms;              /* the clock for this round */
        /* Acting asks to look again within this long (< 0: no wish), e.g. a
         * removal someone else has in progress. */
        int64_t retry_ms;
};

/* What carrying out one plan led to. */
enum act_result {
        ACT_IDLE,     /* nothing that changes what we observe: write status, stop */
        ACT_PROGRESS, /* observed state moved: observe and plan again */
        ACT_REPLAN,   /* a failure the planner must judge: plan again, drop this plan's status */
        ACT_DONE,     /* the object was written or deleted: the reconcile is over */
};

/* Folds one action's outcome (an enum act_result or -errno) into its plan's
 * in *acc: true when the plan stops there — an error, a failure the planner
 * must hear about, or the end (the rest of the plan assumed otherwise). */
static inline bool act_result_fold(int r, int *acc)
{
        if (r < 0 || r == ACT_REPLAN || r == ACT_DONE) {
                *acc = r;
                return true;
        }
        if (r == ACT_PROGRESS)
                *acc = ACT_PROGRESS;
        return false;
}

/* What the skeleton needs to know of a kind's plan. */
struct plan_summary {
        size_t n_actions;
        uint64_t signature;       /* equal for equal actions: a round repeating itself */
        int64_t requeue_after_ms; /* < 0: no timer */
};

/* One kind's reconciler: its steps, called by reconcile() in this order:
 * prepare once, then rounds of observe → plan → act → status. */
struct kind_reconciler {
        const char *kind; /* its kind_info's kind */
        size_t run_size;  /* of the kind's run state, which starts with struct object_run */
        /* The object is gone from the store: remove what it left behind. */
        int (*gone)(struct reconcile_ctx *ctx, const char *ns, const char *name,
                    struct berth_error *err);
        /* Decodes the spec (a deleting object needs no valid one). */
        int (*prepare)(struct object_run *run, struct berth_error *err);
        /* Reads what the plan needs from the caches (and what acting learned). */
        int (*observe)(struct object_run *run, struct berth_error *err);
        /* Pure: computes the plan into the run from what observe found. */
        void (*plan)(struct object_run *run, struct plan_summary *ret);
        /* Carries the plan out: an enum act_result, or -errno. */
        int (*act)(struct object_run *run, struct berth_error *err);
        /* Puts the plan's status into run->obj (setting dirty when it changed). */
        int (*status)(struct object_run *run, struct berth_error *err);
        /* Frees the kind's part of the run (not obj). */
        void (*release)(struct object_run *run);
        /* Optional: the skeleton's write of run->obj at the end of the
         * reconcile succeeded, so the status the rounds put there is stored
         * (called once per stored status: metrics observe outcomes here). */
        void (*written)(struct object_run *run);
        /* Optional: after that write, records the Events of what changed
         * from before ({"status": the status as loaded}) to the status
         * stored (ctx->events set): a status write refused or lost records
         * nothing, and the next reconcile that stores the transition does. */
        void (*events)(struct object_run *run, const json_t *before);
};

/* reconcile() for a given kind reconciler (tests run a fake kind on it). */
int reconcile_with(const struct kind_reconciler *k, struct reconcile_ctx *ctx, const char *key,
                   int64_t *ret_requeue_ms, struct berth_error *err);

extern const struct kind_reconciler task_reconciler;
extern const struct kind_reconciler workflow_reconciler;
extern const struct kind_reconciler crontask_reconciler;
extern const struct kind_reconciler service_reconciler;
extern const struct kind_reconciler source_reconciler;

/* Connection-level failures of a Docker call (retried by the caller with
 * backoff); any other failure of a pull or create is a verdict on the object's
 * image or spec, for its planner to judge. */
static inline bool is_transport_error(int r)
{
        return r == -ECONNREFUSED || r == -ECONNRESET || r == -ETIMEDOUT || r == -EINTR ||
               r == -ENOMEM || r == -EHOSTDOWN;
}

/* FNV-1a step for plan signatures. */
static inline uint64_t signature_add(uint64_t h, const void *p, size_t n)
{
        const unsigned char *b = p;

        for (size_t i = 0; i < n; i++) {
                h ^= b[i];
                h *= 0x100000001b3ULL;
        }
        return h;
}
#define SIGNATURE_SEED 0xcbf29ce484222325ULL

/* ---- the store side (object-run.c) ------------------------------------ */

/* Copies the cached object at key into run (caller json_decref's run->obj)
 * and reads its identity. -ENOENT when it is not cached; -EINVAL without
 * metadata name and uid. */
int object_run_load(struct reconcile_ctx *ctx, const char *key, struct object_run *run,
                    struct berth_error *err);
/* Writes run->obj with CAS and the leader fence, then waits (bounded) until
 * the cache has the write, so the next reconcile reads it. */
int object_run_write(struct object_run *run, struct berth_error *err);
bool object_has_finalizer(const json_t *obj, const char *finalizer);
int object_run_add_finalizer(struct object_run *run, const char *finalizer); /* -ENOMEM */
/* Drops finalizer; deletes the object when no other finalizer is left. */
int object_run_finalize(struct object_run *run, const char *finalizer, struct berth_error *err);
/* Sets metadata.deletionTimestamp (if unset) and writes the object. */
int object_run_mark_deleted(struct object_run *run, struct berth_error *err);
/* What prepare returns once decoding the spec gave r: 0 when it is valid, or
 * when only its validation failed (-EINVAL) on an object being deleted (a
 * delete needs no valid spec: err is cleared); else r, err naming the key. */
int object_run_spec_decoded(struct object_run *run, int r, struct berth_error *err);
bool object_is_deleting(const json_t *obj);
/* Marks the object at key deleted (its finalizers then clean up); a
 * missing or concurrently changed object is no error (its event brings
 * its owner back). */
int object_mark_deleted(struct reconcile_ctx *ctx, const char *key, struct berth_error *err);

/* ---- Events (object-run.c) --------------------------------------------- */

/* {"status": a deep copy of obj's status} ({} without one): what a kind's
 * events hook compares the stored status with. New reference; NULL when
 * memory ran out (no Events then). */
json_t *object_status_copy(const json_t *obj);
/* Records an Event about the run's object (ctx->events NULL: nothing). It
 * never blocks: a full queue drops it (events.h). */
void object_run_event(const struct object_run *run, enum event_type type, const char *reason,
                      const char *fmt, ...) _printf_(4, 5);

/* ---- children (children.c) -------------------------------------------- */

/* Whether obj is owned by the object with owner_uid, or, with owner_uid NULL,
 * by any object of owner_kind named owner_name (an orphan's owner is gone:
 * only its name is left). */
bool object_owned_by(const json_t *obj, const char *owner_kind, const char *owner_name,
                     const char *owner_uid);
/* The cached objects of kind in ns owned that way, in key order: *ret is a new
 * array of new references. */
int children_list(struct reconcile_ctx *ctx, const struct kind_info *kind, const char *ns,
                  const char *owner_kind, const char *owner_name, const char *owner_uid,
                  json_t **ret, struct berth_error *err);
/* Marks every one of them deleted (their own finalizers clean up). */
int children_mark_deleted(struct reconcile_ctx *ctx, const struct kind_info *kind, const char *ns,
                          const json_t *children, struct berth_error *err);
/* A new object of kind, named name in owner's namespace, with owner as its
 * controlling ownerReference, defaults applied and stamped (uid, creation
 * time) at owner->now_ms. Steals labels, annotations (NULL: none) and spec,
 * also on failure. New reference, or NULL when memory ran out. */
json_t *child_new(const struct object_run *owner, const struct kind_info *kind, const char *name,
                  json_t *labels, json_t *annotations, json_t *spec);
/* Writes child at key only if nothing is there, under the leader's fence: 0
 * written; -ESTALE an object is there already (made by an earlier reconcile
 * the cache has not shown yet: a child is created once); else the store's
 * error, in err. */
int child_create(struct reconcile_ctx *ctx, const char *key, const json_t *child,
                 struct berth_error *err);

/* Splits "<prefix><resource>/<ns>/<name>" without knowing the prefix. */
int key_split(const char *key, char ns[64], char name[64]);

/* ---- Secrets of containers (secret-refs.c) ----------------------------- */

/* Why a container of spec cannot be made from the Secrets of namespace ns
 * as the object cache has them now, into why (naming the env variable or
 * mount path, the Secret and the key: "env DB_PASSWORD: secret \"db\" has
 * no key \"password\""): -ENOENT, -ENOKEY, -EBADMSG, -EINVAL, -ENODEV (no
 * tmpfs for secret volumes); 0 when every one can be had. Reads and opens,
 * writes nothing: what observe asks. */
int container_secrets_check(struct reconcile_ctx *ctx, const char *ns, const struct task_spec *spec,
                            char *why, size_t why_size);
/* Resolves them for a create: the env values, and the files of each
 * secret volume written afresh to "<cluster>/<owner_uid>[/<slot>]/<volume
 * index>" below ctx->secrets_dir (owned by spec->user when that is a
 * numeric uid[:gid], else root). The errors of container_secrets_check
 * (why set), -EIO and such from writing (why set too), -ENOMEM. Release
 * *ret with container_secrets_release either way. */
int container_secrets_resolve(struct reconcile_ctx *ctx, const char *ns,
                              const struct task_spec *spec, const char *owner_uid, const char *slot,
                              struct container_secrets *ret, char *why, size_t why_size);
void container_secrets_release(struct container_secrets *s, const struct task_spec *spec);
/* Removes the secret volumes of an owner (slot NULL: all of them, else
 * that slot's). 0 also when there are none or no secrets_dir. */
int secret_volumes_remove(struct reconcile_ctx *ctx, const char *owner_uid, const char *slot,
                          struct berth_error *err);
/* Whether spec references a Secret (env or volume). */
bool task_spec_uses_secrets(const struct task_spec *spec);

/* ---- admission at create time (container-admission.c) ------------------ */

/* The Policy that counts in namespace ns (the one named POLICY_NAME) as
 * the object cache has it: 0 with *ret_object a new reference that *ret
 * borrows from, or *ret_object NULL (and *ret untouched) when there is
 * none; -EPERM with why when it is there but does not decode (nothing is
 * admitted under a Policy that cannot be read); -ENOMEM. */
int namespace_policy_get(struct reconcile_ctx *ctx, const char *ns, json_t **ret_object,
                         struct policy_spec *ret, char *why, size_t why_size);
/* admission_check_container for a container spec (JSON) of namespace ns,
 * with its Policy: 0 when it may be made (or ctx->admission is NULL),
 * -EPERM with refused ("field: why"), -ENOMEM. */
int container_admit(struct reconcile_ctx *ctx, const char *ns, const json_t *spec, char *refused,
                    size_t refused_size);
/* runAsNonRoot with the user left to the image: asks Docker for the
 * image's user and judges it (admission_check_image_user). 0 when it may
 * run, the verified user then set as body's User; -EPERM with why
 * ("runAsNonRoot: image busybox:latest runs as root (uid 0)"); Docker's
 * error in err otherwise (-ENOENT: the image is not there). A spec with a
 * uid of its own, or without runAsNonRoot, passes without a call. */
int container_user_admit(struct reconcile_ctx *ctx, const struct task_spec *spec, json_t *body,
                         char *why, size_t why_size, struct berth_error *err);

/* ---- status JSON (status.c) ------------------------------------------- */

/* Steals value; -ENOMEM when either allocation failed. */
int json_set_new(json_t *obj, const char *key, json_t *value);
int json_set_time(json_t *obj, const char *key, int64_t ms);      /* ms <= 0: nothing */
int json_set_string(json_t *obj, const char *key, const char *s); /* NULL: nothing */
int64_t json_time_field(const json_t *obj, const char *dotted);   /* RFC 3339 → ms; 0 if absent */
/* Conditions Running/Succeeded/Failed implied by a phase, reason and message
 * (next_attempt_ms > 0 while Running: BackOff), and Terminating (True while
 * terminating_ms > 0, False afterwards when old_status had it); keeps the
 * lastTransitionTime of conditions whose status did not change. New
 * reference or NULL. */
json_t *phase_conditions_to_json(const struct task_status *st, const json_t *old_status,
                                 int64_t now_ms);
/* A copy of old_status (an empty one when NULL) with the condition of that
 * type set; its lastTransitionTime moves only when status changes. New
 * reference or NULL. */
json_t *status_with_condition(const json_t *old_status, const char *type, const char *status,
                              const char *reason, const char *message, int64_t now_ms);
/* Replaces obj's status with st (stolen) unless it reads the same; sets
 * run->dirty when it changed. -ENOMEM when st is NULL. */
int object_run_set_status(struct object_run *run, json_t *st, struct berth_error *err);

/* ---- docker-exec runner internals (task-exec.c), pure, for tests ---------- */

/* Whether uid may name a directory of output files: 1 to EXEC_UID_MAX - 1
 * of [A-Za-z0-9_-] (never ".", "..", or a path). */
bool exec_uid_valid(const char *uid);
/* Of len bytes appended to a file of size bytes capped at cap: how many fit. */
size_t exec_log_fit(uint64_t size, size_t len, uint64_t cap);
/* Where the last lines lines (0: none, < 0: all) of the file fd (size bytes)
 * begin, into *ret (0 when it has fewer); a last line without its newline
 * counts. -errno of pread, -EIO when the file is shorter than size. */
int exec_log_tail_offset(int fd, uint64_t size, int lines, uint64_t *ret);
/* Whether a process environment (NUL-separated entries, as
 * /proc/PID/environ; the last may lack its NUL) holds entry exactly. */
bool exec_environ_has(const char *env, size_t len, const char *entry);
/* starttime (field 22: clock ticks after boot) of /proc/PID/stat's text,
 * whose comm may hold spaces and parentheses. -EINVAL when malformed. */
int exec_proc_starttime(const char *stat, unsigned long long *ret);

/* ---- Task executors (task.c) ---------------------------------------------- */

struct task_run;
struct task_action;

/* How a Task's attempts run, chosen by spec.executor.type: the Task
 * reconciler observes and acts on its attempts only through one of these,
 * so the planner (pure) is the same for all. Every operation is one of the
 * act step's and returns an ACT_* result or -errno (err filled); a refusal
 * the planner must judge is recorded in the run (create_error) and answered
 * with ACT_REPLAN. observe fills the run's observed attempts (an attempt's
 * "container id" is the executor's handle for it: a container id, an exec
 * id). uses_image: the planner inspects and pulls spec.image first.
 * Built-ins: docker (a container per attempt) and docker-exec (an exec in a
 * running container); an unknown type fails the Task, ExecutorNotFound. */
struct task_executor {
        const char *name;
        bool uses_image;
        int (*observe)(struct task_run *run, struct berth_error *err);
        int (*create)(struct task_run *run, int attempt, struct berth_error *err);
        int (*start)(struct task_run *run, const char *id, int attempt, struct berth_error *err);
        int (*inspect)(struct task_run *run, const struct task_action *a, struct berth_error *err);
        int (*kill)(struct task_run *run, const struct task_action *a, struct berth_error *err);
        int (*remove)(struct task_run *run, const struct task_action *a, struct berth_error *err);
};

/* The executor of a spec.executor.type (NULL: docker); never NULL (an unknown
 * type's fails every create). Static storage. */
const struct task_executor *task_executor_for(const char *type);
