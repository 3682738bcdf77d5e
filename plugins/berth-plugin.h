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
#define BERTH_PLUGIN_ABI_MINOR 0

#define BERTH_PLUGIN_DESCRIPTOR_SYMBOL "berth_plugin_descriptor"
#define BERTH_PLUGIN_QUEUE_MAX         64 /* queued calls per plugin */

enum berth_plugin_type {
        BERTH_PLUGIN_EXECUTOR = 1, /* runs Tasks: spec.executor.type = name (not wired yet) */
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

/* An executor (documented; berthd 0.1 refuses executor plugins as "not
 * supported yet"): runs the attempts of Tasks with spec.executor.type = the
 * plugin's name, as the built-in docker and docker-exec executors do. task_json
 * is the Task object; handles are the plugin's (at most 127 bytes). */
struct berth_executor_ops {
        int (*start)(void *ctx, const char *task_json, int attempt, char *handle,
                     size_t handle_size, char *error, size_t error_size);
        /* state: 0 running, 1 ended (exit_code set), -1 unknown handle */
        int (*observe)(void *ctx, const char *handle, int *state, int *exit_code);
        int (*signal)(void *ctx, const char *handle, int signo);
        int (*logs)(void *ctx, const char *handle, char *buf, size_t size, size_t *len);
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
