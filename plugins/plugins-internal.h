/* plugins internals: what the loader (plugins.c) calls — the executor
 * plugins' runners (plugin-executor.c) and the store plugins' adapter
 * (plugin-store.c). */
#pragma once

#include "berth-plugin.h"
#include "common.h"
#include "plugins.h"

#define PLUGIN_RUNS_MAX     4096          /* Tasks with an attempt known, per executor plugin */
#define PLUGIN_LOG_MAX      (1024 * 1024) /* bytes of output `berth logs` asks for: the tail */
#define PLUGIN_LOGS_WAIT_MS 10000         /* how long it waits for the plugin's answer */
/* A running attempt whose last observe is this old is asked again when its
 * Task is reconciled: a lost executor_changed costs at most a resync. */
#define PLUGIN_RECHECK_MS (5 * 60 * 1000)

/* An executor plugin's runner: the plugin's thread, and the plugin_executor
 * the Task reconciler drives (executor_runner_ops, impl = the runner).
 * name is borrowed for the runner's life. -ENOMEM, -errno of
 * pthread_create. */
struct executor_runner;
extern const struct plugin_executor_ops executor_runner_ops;
int executor_runner_new(const struct berth_executor_ops *ops, void *ctx, const char *name,
                        struct executor_runner **ret);
/* Stops the thread (a call into the plugin under way is waited for) and
 * forgets every attempt; the plugin's attempts go on. NULL ok. */
void executor_runner_free(struct executor_runner *r);
/* Tests: the clock (time_now_ms by default). */
void executor_runner_set_clock(struct executor_runner *r, int64_t (*now_ms)(void));
/* berth_host.executor_changed: the attempt of handle is asked about again
 * (coalesced); an unknown handle is ignored. Any thread. */
void executor_runner_changed(struct executor_runner *r, const char *handle);
/* Printable ASCII without spaces, 1 to PLUGIN_HANDLE_MAX - 1 bytes. */
bool plugin_handle_is_valid(const char *handle);

/* A store plugin registered as a store backend (store.h, the registry). */
struct plugin_store;

/* Whether the store ops of d are complete (every op but list_page); false
 * with why filled when not. */
bool plugin_store_check(const struct berth_plugin *d, char *why, size_t size);
/* Registers d->name as the store URL scheme "<name>:..." whose stores run on
 * d->store with ctx (init's). NULL with why filled when refused (the scheme
 * is taken, by a built-in too; out of memory). d and ctx are borrowed until
 * plugin_store_unregister. */
struct plugin_store *plugin_store_register(const struct berth_plugin *d, void *ctx, char *why,
                                           size_t size);
/* Removes the scheme and frees ps. The stores opened through it must have
 * been freed (berthd frees its store before its plugins). NULL ok. */
void plugin_store_unregister(struct plugin_store *ps);
