/* plugins: shared objects berthd loads at start (berthd --plugin-dir), their
 * ABI in berth-plugin.h (for plugin authors; docs/plugins.md for users).
 *
 * plugins_load() dlopen()s every *.so of a directory in name order and keeps
 * those that pass the checks of berth-plugin.h; each refusal is reported
 * through a callback (one line for the caller to log) and loading goes on.
 * Each accepted plugin gets a thread and a bounded queue
 * (BERTH_PLUGIN_QUEUE_MAX) of its own: its callbacks never run on a caller's
 * thread, so a slow plugin delays only the work queued for it.
 *
 * Notifier plugins become notify_types (notify.h): a delivery enqueues the
 * event for the plugin's thread and waits for the answer at most the
 * Notifier's timeout (then it fails and is retried; the call itself goes
 * on). Executor plugins become plugin_executors (reconciler.h): each is a
 * runner (plugin-executor.c) whose thread makes the plugin's calls. Store
 * plugins become store backends: their name is registered as a store URL
 * scheme (store.h), their ops called directly on the caller's thread
 * (plugin-store.c); plugins_free unregisters it, so the stores opened
 * through it must be freed first.
 */
#pragma once

#include "common.h"
#include "notify.h"
#include "reconciler.h"

#define PLUGINS_MAX 64 /* plugins one berthd loads */

struct plugins;

/* A refused plugin: path and why ("ABI 2.0, berthd speaks 1.x"). */
typedef void (*plugins_refused_fn)(const char *path, const char *why, void *userdata);
/* A line a plugin logs (berth_host.log), on any thread. */
typedef void (*plugins_log_fn)(const char *plugin, int level, const char *message, void *userdata);

/* Loads the plugins of dir (NULL: none; an empty plugin set is returned).
 * -ENOENT/-ENOTDIR/-EACCES when dir cannot be read (err says so), -ENOMEM.
 * Caller frees with plugins_free() (fini of each, threads joined, dlclose). */
int plugins_load(const char *dir, plugins_refused_fn refused, plugins_log_fn log, void *userdata,
                 struct plugins **ret, struct berth_error *err);
void plugins_free(struct plugins *p); /* NULL ok */

/* How many were accepted. */
size_t plugins_count(const struct plugins *p);
/* The name of the i-th accepted plugin (load order); borrowed. */
const char *plugins_name(const struct plugins *p, size_t i);

/* The notifier plugins as delivery types for notify_config.plugins, and
 * their names, NULL-terminated, for admission_policy.notifier_plugins.
 * Both borrowed from p; valid until plugins_free. */
const struct notify_type *plugins_notify_types(const struct plugins *p, size_t *ret_n);
const char *const *plugins_notifier_names(const struct plugins *p);
/* The executor plugins, for controller_config.plugin_executors; borrowed
 * from p, valid until plugins_free (which must come after the controller's
 * free: the runners call its listener). */
const struct plugin_executor *plugins_executors(const struct plugins *p, size_t *ret_n);
