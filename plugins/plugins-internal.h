/* plugins internals: the store plugins' adapter (plugin-store.c), which the
 * loader (plugins.c) calls. */
#pragma once

#include "berth-plugin.h"
#include "common.h"

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
