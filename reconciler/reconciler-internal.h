/* reconciler-internal.h: what the reconcilers of several kinds share — the
 * object being reconciled and its store writes, and status JSON helpers. */
#pragma once

#include "reconciler.h"

#define RECONCILE_WAIT_WRITE_MS 2000 /* read-your-writes wait after a store write */

/* The object a reconcile works on: a private copy of the cached object
 * (without metadata.resourceVersion), written back with CAS on rev. */
struct object_run {
        struct reconcile_ctx *ctx;
        const char *key;
        json_t *obj;
        int64_t rev; /* mod revision obj was read or last written at */
        bool dirty;
};

/* Copies the cached object at key into run (caller json_decref's run->obj).
 * -ENOENT when it is not cached; -EINVAL without metadata. */
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
int object_run_mark_deleted(struct object_run *run, int64_t now_ms, struct berth_error *err);
bool object_is_deleting(const json_t *obj);

/* Splits "<prefix><resource>/<ns>/<name>" without knowing the prefix. */
int key_split(const char *key, char ns[64], char name[64]);

/* ---- status JSON (task-json.c) ---------------------------------------- */

/* Steals value; -ENOMEM when either allocation failed. */
int json_set_new(json_t *obj, const char *key, json_t *value);
int json_set_time(json_t *obj, const char *key, int64_t ms);      /* ms <= 0: nothing */
int json_set_string(json_t *obj, const char *key, const char *s); /* NULL: nothing */
int64_t json_time_field(const json_t *obj, const char *field);    /* RFC 3339 → ms; 0 if absent */
/* Conditions Running/Succeeded/Failed implied by a phase, reason and message
 * (next_attempt_ms > 0 while Running: BackOff); keeps the lastTransitionTime of
 * conditions whose status did not change. New reference or NULL. */
json_t *phase_conditions_to_json(const struct task_status *st, const json_t *old_status,
                                 int64_t now_ms);
