/* berth-plugin.h: the ABI between berthd and its plugins (docs/plugins.md).
 *
 * Self-contained on purpose: a plugin is built out of tree with this one
 * header (cc -shared -fPIC -I<berth>/plugins) and sees nothing of berthd's
 * internals. Only fixed-size integers, plain C types and function pointers
 * cross the boundary; strings are NUL-terminated UTF-8.
 *
 * Loading: berthd --plugin-dir DIR dlopen()s every *.so in DIR (RTLD_NOW |
 * RTLD_LOCAL, in name order) at start and calls the function exported as
 * BERTH_PLUGIN_DESCRIPTOR_SYMBOL. The descriptor it returns must live as
 * long as the shared object. A plugin is refused (one log line naming the
 * file and why; berthd carries on without it) when the symbol is missing,
 * dlopen fails, abi_major differs from berthd's, abi_minor is newer than
 * berthd's, the name is empty, taken or not a DNS-1123 label, the type is
 * unknown or its ops are missing, or init returns non-zero.
 *
 * Versioning: BERTH_PLUGIN_ABI_MAJOR changes when anything here changes
 * incompatibly; BERTH_PLUGIN_ABI_MINOR when something is added at the end
 * of a struct (a plugin built for an older minor keeps working).
 *
 * Threading contract: init and fini run on berthd's main thread, once
 * each. Every other callback of one plugin runs on that plugin's own
 * thread, one call at a time, fed by a bounded queue (a notifier's holds
 * BERTH_PLUGIN_QUEUE_MAX calls; an executor's the attempts with work, each
 * once, as many as it has attempts): a callback may block (a slow receiver, a
 * 10-second call) without delaying reconciles, API requests or other
 * plugins; while it blocks, further work for that plugin waits in the queue,
 * and what does not fit is refused (a notification is retried by its
 * Notifier's back-off). A callback must not call exit() nor unload itself.
 * Store plugins are the exception: a queue would serialize all of berthd's
 * store traffic, so their ops are called directly on berthd's threads (see
 * "Store plugins" below).
 */
#ifndef BERTH_PLUGIN_H
#define BERTH_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define BERTH_PLUGIN_ABI_MAJOR 1
#define BERTH_PLUGIN_ABI_MINOR 1

#define BERTH_PLUGIN_DESCRIPTOR_SYMBOL "berth_plugin_descriptor"
#define BERTH_PLUGIN_QUEUE_MAX         64 /* queued calls per plugin */

enum berth_plugin_type {
        BERTH_PLUGIN_EXECUTOR = 1, /* runs Tasks: spec.executor.type = name (ABI 1.1) */
        BERTH_PLUGIN_NOTIFIER = 2, /* delivers notifications: a Notifier's spec.type = name */
        BERTH_PLUGIN_STORE = 3,    /* the store backend of URLs "<name>:..." (--store) */
};

enum berth_plugin_log_level {
        BERTH_PLUGIN_LOG_ERROR = 0,
        BERTH_PLUGIN_LOG_WARNING = 1,
        BERTH_PLUGIN_LOG_INFO = 2,
        BERTH_PLUGIN_LOG_DEBUG = 3,
};

/* What berthd offers a plugin; valid from init until fini returns. */
struct berth_host {
        uint32_t abi_major; /* berthd's BERTH_PLUGIN_ABI_MAJOR/MINOR */
        uint32_t abi_minor;
        const char *plugin_path; /* the .so file */
        /* Appends one line to berthd's log, prefixed with the plugin's
         * name. Any thread. */
        void (*log)(const struct berth_host *host, int level, const char *message);
        void *host_data; /* berthd's; do not touch */
        /* ABI 1.1, executor plugins: tells berthd that the attempt of
         * handle changed (it ended, or has new output worth showing);
         * berthd then calls observe for it on the plugin's thread (as it
         * does once right after start). Repeated calls
         * before that are coalesced. Any thread, never blocks. berthd does
         * not poll: an end not told this way is found only when the Task is
         * reconciled for another reason (a resync, a deadline, a restart)
         * and berthd's last answer for it is 5 minutes old. */
        void (*executor_changed)(const struct berth_host *host, const char *handle);
};

/* A notifier: gets each delivery routed to a Notifier whose spec.type is
 * the plugin's name. Returns 0 when delivered; non-zero with error filled
 * (NUL-terminated, at most error_size bytes) when not: the Notifier retries
 * with back-off as for its built-in types. Its settings in the Notifier are
 * spec.<name> (an object), passed as JSON in config_json ("{}" when none). */
struct berth_notifier_ops {
        int (*deliver)(void *ctx, const char *notifier_namespace, const char *notifier_name,
                       const char *outcome, const char *event_json, size_t event_json_len,
                       const char *config_json, char *error, size_t error_size);
};

/* An executor: runs the attempts of Tasks whose spec.executor.type is the
 * plugin's name, as the built-in docker and docker-exec executors do: the
 * Task's retries, deadlines, stops and status are berthd's, the attempts
 * the plugin's. An attempt is named by a handle the plugin chooses at
 * start (printable ASCII without spaces, at most BERTH_EXECUTOR_HANDLE_MAX
 * - 1 bytes). berthd records it in the Task's status (status.containerID),
 * so after a restart it asks observe about it again: an attempt the plugin
 * still knows is adopted, one it answers UNKNOWN for fails with
 * ContainerLost. Every call runs on the plugin's thread (see above) and
 * should return promptly: while one runs, the plugin's other work waits.
 * Strings passed in are valid for the call only. */
#define BERTH_EXECUTOR_HANDLE_MAX 128

enum berth_executor_state {
        BERTH_EXECUTOR_UNKNOWN = -1, /* no such attempt (any more) */
        BERTH_EXECUTOR_RUNNING = 0,
        BERTH_EXECUTOR_ENDED = 1, /* exit_code holds */
};

struct berth_executor_ops {
        /* Starts attempt 1, 2, ... of the Task task_json (the whole object:
         * metadata, spec — the plugin's settings are spec.executor — and
         * status; Secret references in spec.env are not resolved). 0 with
         * handle filled (NUL-terminated, at most handle_size bytes); non-zero
         * with error filled when it cannot: the Task fails, reason
         * ExecutorFailed, with that message. Starting the same Task's same
         * attempt twice happens only when berthd crashed in between. */
        int (*start)(void *ctx, const char *task_json, int attempt, char *handle,
                     size_t handle_size, char *error, size_t error_size);
        /* The attempt's state: *state one of enum berth_executor_state;
         * *exit_code set when ENDED (0 succeeded, 128 + n killed by signal
         * n, anything else failed). Returns 0; non-zero when it cannot tell
         * now (berthd asks again at the next change or resync). */
        int (*observe)(void *ctx, const char *handle, int *state, int *exit_code);
        /* Sends signo (SIGTERM at a stop, SIGKILL after the grace period or
         * at a deadline) to what the attempt runs, its whole process tree.
         * 0, or non-zero (logged; berthd sends SIGKILL again later). */
        int (*signal)(void *ctx, const char *handle, int signo);
        /* May be NULL (then `berth logs` shows nothing). The attempt's
         * output so far, its last size bytes when longer, into buf; *len
         * set. 0, or non-zero when there is none. Called for each `berth
         * logs`: berthd keeps no copy. */
        int (*logs)(void *ctx, const char *handle, char *buf, size_t size, size_t *len);
        /* May be NULL. berthd needs the attempt no more (the Task was
         * deleted, or a later attempt replaced it, after a SIGKILL when it
         * still ran): what the plugin keeps of it may go. */
        void (*forget)(void *ctx, const char *handle);
};

/* ---- Store plugins (ABI 1.1) ----------------------------------------------
 *
 * A store plugin is a store backend: every object, Event, lease and watch of
 * berthd, kept wherever the plugin keeps them. Its name is a URL scheme, as
 * the built-ins' sqlite: and etcd:// are (they register in the same registry
 * of backends): berthd --store <name>:<rest> opens it. The semantics are
 * etcd's (docs/internals/store.md):
 *
 * - one int64 revision for the whole store, > 0 once written, incremented by
 *   every write; each key has create_revision, mod_revision (its last
 *   write), version (writes since its creation, 1 at create) and lease;
 * - writes compare-and-swap on the key's mod revision: expected_mod_revision
 *   is a revision, BERTH_STORE_MUST_NOT_EXIST (the key must not exist) or
 *   BERTH_STORE_ANY_REVISION (no compare);
 * - a guard (a leader's fence): when not NULL, the write happens only if
 *   guard->key's mod revision still equals guard->mod_revision, checked
 *   atomically with the write; else -EPERM and nothing is written (before
 *   the key's own -ESTALE or -ENOENT);
 * - history: reads at and watches from a past revision, until compacted
 *   (then -ERANGE); leases expire on their own (within about a second),
 *   deleting their keys like a delete does.
 *
 * Threading: unlike the other types' callbacks, store ops are called
 * directly on berthd's threads (API writers, reconcile workers, the event
 * recorder...), from any thread and concurrently: they must be thread-safe.
 * They may block for I/O, but every caller waits for them. open and close
 * are called once per store, close with no op running and no watch open.
 * Watch callbacks are made on a thread the plugin owns, never with a lock
 * of the plugin held: from the callback berthd may call any op of the same
 * store, and may cancel other watches (not the one being called back). One
 * watch's callbacks never run concurrently.
 *
 * Errors: an op returns 0, or a negative errno (<errno.h>) with, when it has
 * something to tell, status->message filled (NUL-terminated, at most
 * status->message_size bytes). berthd words the errors it knows itself:
 *   -ENOENT  get or delete of a missing key; a lease that does not exist
 *            (expired or revoked: lease ops, a put with it)
 *   -ESTALE  a compare failed: status->found_revision = what it found (the
 *            key's mod revision, 0 when the key does not exist)
 *   -EPERM   the guard failed
 *   -ERANGE  the revision asked for was compacted
 *   -EINVAL  a revision in the future (list at, compact)
 * Others (-EIO, -ETIMEDOUT, -ENOMEM, ...) are passed on with the message.
 * ret_* outputs are written only on success.
 *
 * Ownership: what berthd passes (keys, values, ops, guards, URL) is borrowed
 * for the call; the plugin copies what it keeps. What the plugin hands back
 * (key-values through a sink, watch events) is borrowed by berthd for that
 * sink or callback call and copied: nothing allocated on one side is ever
 * freed on the other, and the plugin frees its own memory as it likes.
 *
 * Values are bytes (value_len of them; may hold NUL bytes, need not be
 * NUL-terminated; berthd compresses large ones first): at most 1.5 MiB.
 * Keys are NUL-terminated, 1 to 512 bytes, ordered bytewise (strcmp).
 * berthd checks every argument before it calls a plugin. */

#define BERTH_STORE_ANY_REVISION   (-1)
#define BERTH_STORE_MUST_NOT_EXIST 0

/* Per call: berthd's buffer for a message and the details of a failure. */
struct berth_store_status {
        char *message; /* berthd's; "" on entry */
        size_t message_size;
        int64_t found_revision; /* -ESTALE: the mod revision found (0: no key) */
        size_t failed_op;       /* txn -ESTALE/-ENOENT: index of the first op that failed */
};

/* One key as the plugin hands it to berthd (borrowed for the call). */
struct berth_store_kv {
        const char *key;   /* NULL: none (a prev_kv when there was no previous value) */
        const void *value; /* value_len bytes (NULL ok when 0) */
        size_t value_len;
        int64_t create_revision;
        int64_t mod_revision;
        int64_t version;
        int64_t lease; /* 0: none */
};

/* Where reads go: the plugin calls add once per key, in key order; berthd
 * copies kv. add returns 0, or a negative errno (-ENOMEM) that the plugin
 * returns at once. The sink is borrowed for the op. */
struct berth_store_sink {
        int (*add)(struct berth_store_sink *sink, const struct berth_store_kv *kv);
        void *host_data; /* berthd's; do not touch */
};

struct berth_store_guard {
        const char *key;
        int64_t mod_revision; /* > 0 */
};

enum berth_store_op_type {
        BERTH_STORE_OP_PUT = 0,
        BERTH_STORE_OP_DELETE = 1,
        BERTH_STORE_OP_CHECK = 2, /* a compare only: writes nothing */
};

/* One op of a txn: the rules of put and del (a check: expected_mod_revision
 * is a revision or BERTH_STORE_MUST_NOT_EXIST). */
struct berth_store_op {
        int32_t type; /* enum berth_store_op_type */
        const char *key;
        const void *value; /* put: value_len bytes */
        size_t value_len;
        int64_t expected_mod_revision;
        int64_t lease; /* put: 0 or a lease id */
};

enum berth_store_event_type {
        BERTH_STORE_EVENT_PUT = 0,
        BERTH_STORE_EVENT_DELETE = 1,
};

struct berth_store_event {
        int32_t type; /* enum berth_store_event_type */
        /* DELETE: key, mod_revision = the delete's revision, no value */
        struct berth_store_kv kv;
        /* The key's value before this event; key NULL when there was none. */
        struct berth_store_kv prev_kv;
};

/* A watch's callback, called by the plugin on its own thread with the
 * host_watch given to watch(): events[0..n) (n >= 1, error 0) in revision
 * order, every event of one revision in the same call; or, once, the error
 * that ends the watch (events NULL, n 0): -ERANGE when the revision to
 * deliver from was compacted, another negative errno else. Events are
 * borrowed for the call. */
typedef void (*berth_store_watch_fn)(void *host_watch, const struct berth_store_event *events,
                                     size_t n, int error);

/* What one txn may hold (store_txn_fit), filled in by open; 0: berthd's
 * default (128 ops, 1 MiB: etcd's). */
struct berth_store_limits {
        uint32_t txn_ops_max;     /* ops per txn */
        uint32_t txn_guard_is_op; /* non-zero: a guard takes one of them */
        uint64_t txn_bytes_max;   /* bytes of keys and values per txn */
};

struct berth_store_ops {
        /* Opens the store of url (the whole URL, "<name>:<rest>"). *ret_store
         * is handed to every other op. Non-zero refuses the URL: berthd does
         * not start, with status->message as the reason. */
        int (*open)(void *ctx, const char *url, struct berth_store_limits *limits, void **ret_store,
                    struct berth_store_status *status);
        /* Frees the store; no op is running and every watch was cancelled. */
        void (*close)(void *store);
        /* The key: sink->add once, or -ENOENT. */
        int (*get)(void *store, const char *key, struct berth_store_sink *sink,
                   struct berth_store_status *status);
        /* The keys starting with prefix, in key order, as of revision (0: now;
         * *ret_revision: the revision read at). -ERANGE compacted, -EINVAL
         * future. */
        int (*list)(void *store, const char *prefix, int64_t revision,
                    struct berth_store_sink *sink, int64_t *ret_revision,
                    struct berth_store_status *status);
        /* May be NULL (berthd pages with list then). As list, only the keys
         * after 'after' (exclusive; NULL: from the first), at most limit
         * (1 .. 10000); *ret_more: non-zero when keys after the last one
         * added remain at that revision (never with none added). */
        int (*list_page)(void *store, const char *prefix, const char *after, int64_t revision,
                         size_t limit, struct berth_store_sink *sink, int64_t *ret_revision,
                         int32_t *ret_more, struct berth_store_status *status);
        /* key = value when the compare and the guard hold. lease: 0 or a
         * live lease (-ENOENT else); 0 detaches the key from its lease.
         * *ret_revision: this write's revision. */
        int (*put)(void *store, const char *key, const void *value, size_t value_len,
                   int64_t expected_mod_revision, int64_t lease,
                   const struct berth_store_guard *guard, int64_t *ret_revision,
                   struct berth_store_status *status);
        /* Deletes key (never BERTH_STORE_MUST_NOT_EXIST): -ENOENT when it
         * does not exist. */
        int (*del)(void *store, const char *key, int64_t expected_mod_revision,
                   const struct berth_store_guard *guard, int64_t *ret_revision,
                   struct berth_store_status *status);
        /* ops[0..n) atomically (distinct keys, n within the limits): every
         * compare holds and every op is written, or nothing is (-EPERM guard,
         * -ESTALE/-ENOENT with status->failed_op). ret_revisions[i]: op i's
         * revision, 0 for a check; one revision per written op or one for
         * all, the plugin's choice; a txn of checks only takes none. Watchers
         * see the ops in revision order, then key order. */
        int (*txn)(void *store, const struct berth_store_op *ops, size_t n,
                   const struct berth_store_guard *guard, int64_t *ret_revisions,
                   struct berth_store_status *status);
        /* The current revision (the last write's). */
        int (*revision)(void *store, int64_t *ret_revision, struct berth_store_status *status);
        /* Forgets history before revision (lists at it and watches from it
         * still work, with prev_kv); at or below the compaction point a
         * no-op, in the future -EINVAL. */
        int (*compact)(void *store, int64_t revision, struct berth_store_status *status);
        /* A new lease (id > 0) living ttl_seconds (1 .. 1e9) unless kept alive. */
        int (*lease_grant)(void *store, int64_t ttl_seconds, int64_t *ret_id,
                           struct berth_store_status *status);
        int (*lease_keepalive)(void *store, int64_t id, struct berth_store_status *status);
        /* Ends the lease now and deletes its keys (DELETE events). */
        int (*lease_revoke)(void *store, int64_t id, struct berth_store_status *status);
        /* Calls fn(host_watch, ...) with every event under prefix whose
         * revision is >= from_revision (0: only future ones), history first;
         * when from_revision is compacted, -ERANGE through fn. *ret_watch is
         * the plugin's handle for watch_cancel. */
        int (*watch)(void *store, const char *prefix, int64_t from_revision,
                     berth_store_watch_fn fn, void *host_watch, void **ret_watch,
                     struct berth_store_status *status);
        /* Ends a watch (also one an error ended): when it returns, fn is not
         * running for it and is never called for it again. Called from any
         * thread, the plugin's callback thread included (for another watch). */
        void (*watch_cancel)(void *store, void *watch);
};

struct berth_plugin {
        uint32_t abi_major; /* BERTH_PLUGIN_ABI_MAJOR the plugin was built with */
        uint32_t abi_minor; /* BERTH_PLUGIN_ABI_MINOR */
        const char *name;   /* DNS-1123 label, unique among loaded plugins */
        int type;           /* enum berth_plugin_type */
        /* Called once at load: 0 to accept, non-zero to be refused (then
         * fini is not called). *ctx is handed to every other callback. */
        int (*init)(const struct berth_host *host, void **ctx);
        void (*fini)(void *ctx); /* at berthd's exit; may be NULL */
        /* The ops of the plugin's type (the others NULL). */
        const struct berth_notifier_ops *notifier;
        const struct berth_executor_ops *executor;
        const struct berth_store_ops *store;
};

typedef const struct berth_plugin *(*berth_plugin_descriptor_fn)(void);

#endif
