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
 * thread, one call at a time, fed by a bounded queue
 * (BERTH_PLUGIN_QUEUE_MAX): a callback may block (a slow receiver, a
 * 10-second call) without delaying reconciles, API requests or other
 * plugins; while it blocks, further work for that plugin waits in the queue,
 * and what does not fit is refused (a notification is retried by its
 * Notifier's back-off). A callback must not call exit() nor unload itself.
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
        BERTH_PLUGIN_STORE = 3,    /* a store backend for URLs "<name>:..." (not wired yet) */
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
         * berthd then calls observe, and logs, for it on the plugin's
         * thread. Repeated calls before that are coalesced. Any thread,
         * never blocks. berthd does not poll: an attempt whose end is not
         * told this way stays Running until its deadline, a resync, or a
         * restart of berthd asks again. */
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
         * set. 0, or non-zero when there is none. */
        int (*logs)(void *ctx, const char *handle, char *buf, size_t size, size_t *len);
        /* May be NULL. berthd needs the attempt no more (the Task was
         * deleted, or a later attempt replaced it, after a SIGKILL when it
         * still ran): what the plugin keeps of it may go. */
        void (*forget)(void *ctx, const char *handle);
};

/* A store backend (documented; not wired yet): berthd's built-ins, sqlite:
 * and etcd://, register the same way in a registry of backends by URL
 * scheme; a plugin's scheme is its name. */
struct berth_store_ops {
        int (*open)(void *ctx, const char *url, void **store);
        void (*close)(void *store);
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
