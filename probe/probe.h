/* probe: berthd's own health checks of Service replicas, over HTTP and TCP (exec
 * checks are Docker HEALTHCHECKs and do not come here).
 *
 * One thread runs a libevent loop with a timer per target. Connects are
 * non-blocking; at most max_in_flight probes run at once and the others wait
 * their turn in order, so a thousand replicas cost max_in_flight sockets, not
 * a thousand. Other threads never touch the loop: they change the target map
 * under its lock and wake the loop through an eventfd, so the prober needs no
 * evthread set-up of its own.
 *
 * Health follows Docker's HEALTHCHECK: STARTING until the first success;
 * failures while STARTING and within start_period_ms of the target being set
 * do not count; failure_threshold consecutive failures make it UNHEALTHY; a
 * success makes it HEALTHY and resets the count. The first probe runs as soon
 * as a target is set, each next one interval_ms after the previous one
 * finished (or after its turn came, when probes were waiting).
 *
 * TCP: success = the connect completes. HTTP: "GET <path> HTTP/1.1" with
 * "Host: <host>:<port>", "Connection: close", "User-Agent: berth-probe";
 * success = a status of 200..399 on the status line. Only the status line is
 * read (at most PROBE_RESPONSE_MAX bytes), never the body. timeout_ms covers
 * the connect and the response.
 *
 * Limits: PROBE_TARGETS_MAX targets, ids of at most PROBE_ID_MAX bytes, owner
 * keys of at most PROBE_OWNER_KEY_MAX, periods of at most PROBE_PERIOD_MAX_MS.
 */
#pragma once

#include "common.h"

#define PROBE_TARGETS_MAX       100000
#define PROBE_ID_MAX            128 /* bytes of a target id (container ids are 64) */
#define PROBE_OWNER_KEY_MAX     512 /* bytes of an owner key (a store key) */
#define PROBE_PERIOD_MAX_MS     (24 * 3600 * 1000LL) /* interval, timeout, start period */
#define PROBE_RESPONSE_MAX      4096                 /* bytes read for the status line */
#define PROBE_IN_FLIGHT_MAX     4096                 /* the largest max_in_flight */
#define PROBE_DEFAULT_IN_FLIGHT 64 /* a max_in_flight for berthd: sockets, not replicas */

struct prober;

enum probe_type { PROBE_TCP, PROBE_HTTP };
enum probe_health { PROBE_STARTING, PROBE_HEALTHY, PROBE_UNHEALTHY };

/* "Starting", "Healthy", "Unhealthy" (the Service's replicaStatuses[].health);
 * "Unknown" for anything else. */
const char *probe_health_to_string(enum probe_health h);

/* What to probe and how often. Strings must be NUL-terminated within their
 * arrays; bytes after the NUL are ignored. */
struct probe_target {
        enum probe_type type;
        char host[64];           /* numeric IPv4 or IPv6 address ("127.0.0.1", "::1"); no names */
        int port;                /* 1..65535 */
        char path[256];          /* HTTP only: request path, starting with '/', printable ASCII
                                  * without spaces ("/", "/healthz?full=1"); ignored for TCP */
        int64_t interval_ms;     /* 1..PROBE_PERIOD_MAX_MS */
        int64_t timeout_ms;      /* 1..PROBE_PERIOD_MAX_MS */
        int64_t start_period_ms; /* 0..PROBE_PERIOD_MAX_MS */
        int failure_threshold;   /* 1..1000: consecutive failures → UNHEALTHY */
};

struct probe_status {
        enum probe_health health;
        int consecutive_failures; /* counted ones only (none within the start period) */
        int64_t checked_ms;       /* wall clock of the last finished probe, 0 = none yet */
        /* Why the last probe failed, "" after a success or before any probe:
         * "connect 127.0.0.1:18080: Connection refused", "HTTP 503",
         * "timeout after 2000 ms", "connection closed without a response",
         * "malformed HTTP status line \"SSH-2.0-OpenSSH_9.2\"". */
        char message[256];
};

/* Called on the prober's thread whenever a target's health changes after a
 * probe (not for prober_set/remove/retain: their caller knows). owner_key is
 * borrowed for the call. Must not block and must not call prober_free; the
 * other prober_* functions are fine (the controller enqueues owner_key). */
typedef void (*probe_change_fn)(const char *owner_key, void *userdata);

/* Starts the prober's thread. max_in_flight 1..PROBE_IN_FLIGHT_MAX (-EINVAL
 * otherwise); fn may be NULL. Caller frees with prober_free(). */
int prober_new(int max_in_flight, probe_change_fn fn, void *userdata, struct prober **ret,
               struct berth_error *err);
/* Stops the thread (fn is not running and not called again once it returns),
 * closes the probes in flight and frees every target. NULL ok. */
void prober_free(struct prober *p);

/* Adds the target id (a container id) of owner_key, or updates it. t is copied.
 * An unchanged target keeps its state and schedule; a changed one (another
 * spec, or another owner) starts over at STARTING, its start period counted
 * from now, and a probe of the old spec still in flight is dropped. The first
 * probe runs right away (not one interval later). Thread-safe (called from
 * reconcile workers). -EINVAL for a bad id, owner key or target, -E2BIG past
 * PROBE_TARGETS_MAX, -ENOMEM. */
int prober_set(struct prober *p, const char *id, const char *owner_key,
               const struct probe_target *t);
/* Forgets the target id; a probe of it in flight is dropped. Unknown ids are
 * fine. Thread-safe. */
void prober_remove(struct prober *p, const char *id);
/* Drops every target of owner_key whose id is not among keep[0..n_keep)
 * (n_keep 0: all of them). Thread-safe. */
void prober_retain(struct prober *p, const char *owner_key, const char *const *keep, size_t n_keep);
/* The target's state, copied into *ret; -ENOENT when it has none. Thread-safe. */
int prober_status(struct prober *p, const char *id, struct probe_status *ret);
/* Number of targets. Thread-safe. */
size_t prober_count(struct prober *p);
