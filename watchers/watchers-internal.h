/* watchers-internal: seams for the tests of this module only (not part of the
 * public contract; nothing outside watchers/ and its tests may include it). */
#pragma once

#include "watchers.h"

/* Like object_cache_new() with a history ring of at most 'history' events and
 * 'history_bytes' of stored JSON instead of OBJECT_CACHE_HISTORY(_BYTES), so
 * that tests can overflow it cheaply. history >= 1. */
int object_cache_new_with_history(struct store *store, const char *prefix, size_t history,
                                  size_t history_bytes, object_event_fn handler, void *userdata,
                                  struct object_cache **ret, struct berth_error *err);

/* Simulates a lost watch: hold=true cancels the store watch and keeps the cache
 * from relisting (it misses every change meanwhile); returns once the watch is
 * gone. hold=false lets it relist, diff and watch again, as after a watch error
 * or a compaction. */
void object_cache_test_hold(struct object_cache *c, bool hold);

/* Number of stored values that could not be parsed as JSON objects (those keys
 * are left out of the cache). */
size_t object_cache_invalid_count(struct object_cache *c);

/* Number of relists done (1 after the first list). */
unsigned object_cache_relist_count(struct object_cache *c);
