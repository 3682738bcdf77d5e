/* apply: putting user objects into the store — the one implementation behind
 * the API's create, replace and apply and a Source's sync (the GitOps
 * controller applies files exactly as `berth apply` does).
 *
 * Stored objects never carry metadata.resourceVersion: it is the key's mod
 * revision. Users never write status nor server-set metadata (uid,
 * generation, creationTimestamp, deletionTimestamp, finalizers): a create
 * fills them, a replace keeps the stored ones. Every write is a
 * compare-and-swap on the mod revision read just before.
 */
#pragma once

#include "common.h"
#include "manifests.h"
#include "store.h"

#define APPLY_RETRIES 5 /* CAS conflicts an apply absorbs before giving up (-ESTALE) */

/* A new top-level object sharing obj's values, with the envelope keys in a
 * stable, readable order and metadata without resourceVersion: apiVersion,
 * kind, metadata (name, namespace, uid, ...), spec, status, the rest. NULL
 * when memory ran out. */
json_t *object_normalize(const json_t *obj);
/* Deep equality where NULL equals NULL (and, with empty_is_absent, an empty
 * object equals an absent one: "labels: {}" is no labels). */
bool json_same_opt(const json_t *a, const json_t *b, bool empty_is_absent);
/* Makes obj a new object of kind: drops status and server metadata (keeping
 * finalizers the user asked for) and stamps uid, generation 1 and
 * creationTimestamp (now_ms). -ENOMEM, or -errno when no uid could be made. */
int object_prepare_create(const struct kind_info *kind, json_t *obj, int64_t now_ms);
/* Makes desired the next version of current: server metadata and status come
 * from current (ownerReferences too when desired has none); generation moves
 * on iff the spec changed (for a kind without one, its top-level fields:
 * kind_info.object_fields). Returns whether it changed. */
bool object_merge_server_fields(json_t *desired, const json_t *current);
/* Writes obj (normalised) at key with CAS on expected (STORE_MUST_NOT_EXIST
 * for a create), under fence when not NULL. The store's errors (-ESTALE: the
 * revision moved). */
int object_put(struct store *store, const char *key, const json_t *obj, int64_t expected,
               const struct store_guard *fence, int64_t *ret_rev, struct berth_error *err);
/* Parses a stored value; -EPROTO with err when it is not a JSON object. */
int object_load(const struct store_kv *kv, json_t **ret, struct berth_error *err);

enum apply_result { APPLY_CREATED, APPLY_CONFIGURED, APPLY_UNCHANGED };
const char *apply_result_to_string(enum apply_result r); /* "created", ... */

/* May the stored object current (NULL: none) be replaced by this apply? 0
 * yes; else a negative errno and err saying why (a Source refuses to take
 * over an object it does not own). */
typedef int (*apply_check_fn)(const json_t *current, void *userdata, struct berth_error *err);
/* Makes obj (a copy of what is applied) what the store is to keep, knowing
 * the stored object current (NULL: none), before the two are compared: a
 * Secret is sealed here (secret_object_seal), so that values stored already
 * compare equal. 0, or a negative errno and err saying why. */
typedef int (*apply_transform_fn)(json_t *obj, const json_t *current, void *userdata,
                                  struct berth_error *err);

/* The current object at key (a new reference) and its mod revision, or NULL
 * when there is none. */
typedef json_t *(*apply_lookup_fn)(const char *key, int64_t *ret_mod_revision, void *userdata);

struct apply_opts {
        bool dry_run;
        const struct store_guard *fence; /* NULL: none */
        apply_check_fn check;            /* NULL: anything may be replaced */
        void *check_userdata;
        /* An annotation that alone does not make an object "configured" (a
         * Source's revision stamp): compared without it. NULL: none. */
        const char *ignore_annotation;
        apply_transform_fn transform; /* NULL: the object is kept as it is */
        void *transform_userdata;
        /* apply_batch only: where the current objects are looked up first (an
         * object cache), instead of reading them from the store. What it gives
         * may be old: every object of a batch is then compared with the
         * revision it gave when the batch is written (also those left
         * unchanged), and read from the store again when that fails. NULL: the
         * store. Not used in a dry run (which reads the store). */
        apply_lookup_fn lookup;
        void *lookup_userdata;
};

/* Whether applying obj over current would change nothing a user owns (spec
 * or a kind's top-level fields, labels, annotations but ignore_annotation;
 * defaults filled on both sides):
 * a caller holding a cached copy of current can skip apply_object. -ENOMEM. */
int apply_is_unchanged(const json_t *obj, const json_t *current, const char *ignore_annotation,
                       bool *ret);

/* Makes the store hold obj (validated, defaults filled): created when absent,
 * configured when what the user owns (spec, labels, annotations; both sides
 * with defaults filled) differs, else unchanged and not written. *ret_rev is
 * the write's revision (0 when none). -ESTALE when the object kept changing
 * for APPLY_RETRIES attempts; the check's error; the store's errors. err
 * names the object ("apply tasks/hello: ..."). */
int apply_object(struct store *store, const char *prefix, const struct kind_info *kind,
                 const json_t *obj, const struct apply_opts *opts, enum apply_result *ret_result,
                 int64_t *ret_rev, struct berth_error *err);

/* ---- many objects at once (apply-batch.c) ------------------------------- */

/* One object of apply_batch: kind and obj (validated, defaults filled) in,
 * result and rev out (rev 0: not written). */
struct apply_item {
        const struct kind_info *kind;
        const json_t *obj;
        enum apply_result result;
        int64_t rev;
};

/* apply_object of items[0..n) in order, with the same results, in few store
 * round trips: the current objects come from opts->lookup (or one
 * store_get_many), every change is decided first (check and transform hooks
 * as apply_object runs them), then written with store_txn in as few
 * transactions as store_txn_fit allows (SQLite: one per 4,096 objects; etcd:
 * one per 127 or 1 MiB). A transaction whose compare fails (someone wrote one
 * of its objects since it was read) writes nothing; its objects are read from
 * the store again and the transaction retried (APPLY_RETRIES in all), then
 * applied one by one with apply_object, so each still gets its own result.
 * An object named twice is applied after the first one was written, as
 * apply_object would see it. Dry run writes nothing.
 * The transactions of one batch may run in parallel (etcd shares a raft round
 * between them): objects keep their own results, their revisions need not
 * follow their order.
 * On error, *ret_done (may be NULL) items have their results (their writes are
 * committed); of the objects after them, those with rev > 0 were written too
 * (a transaction that ran in parallel), the others not; err names the object
 * it failed on, as apply_object's does. */
int apply_batch(struct store *store, const char *prefix, struct apply_item *items, size_t n,
                const struct apply_opts *opts, size_t *ret_done, struct berth_error *err);
