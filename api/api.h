/* api: the HTTP API of berthd (DESIGN.md §2.5) on libevent's evhttp.
 *
 * Reads (get, list, watch) are served from the object cache; writes go to the
 * store with compare-and-swap and wait until the cache has caught up, so a
 * client reads its own writes. Every handler runs on the event loop thread;
 * task log streams run on their own threads and hand chunks to the loop.
 *
 * Limits: request headers 64 KiB, bodies API_BODY_MAX (apply: 16 MiB).
 */
#pragma once

#include <event2/event.h>

#include "common.h"
#include "docker.h"
#include "store.h"
#include "watchers.h"

#define API_BODY_MAX (16 * 1024 * 1024)
#define API_HEADERS_MAX (64 * 1024)

struct api_config {
        struct event_base *base;
        struct store *store;
        struct object_cache *objects;
        struct container_cache *containers; /* may be NULL (then logs say 503) */
        struct docker *docker;              /* template for log streams; cloned per stream */
        const char *prefix;                 /* store key prefix, "/berth/" */
        const char *const *listen;          /* "unix:///run/berth/berth.sock", NULL-terminated */
        int bookmark_interval_ms;           /* watch BOOKMARK period; 0 = 30 s (tests shorten it) */
};

struct api_server;

int api_server_new(const struct api_config *cfg, struct api_server **ret, struct berth_error *err);
/* Closes listeners and open streams. Call on the loop thread. NULL ok. */
void api_server_free(struct api_server *s);
/* Marks the server ready (/readyz answers 200) once the controller runs.
 * Any thread. */
void api_server_set_ready(struct api_server *s, bool ready);
