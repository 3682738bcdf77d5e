/* inflight-limit: how many Docker Engine API calls may be in flight at
 * once, adapted to where the engine's own throughput peaks. Pure: no
 * clock, no locks, no I/O; the caller (docker-engine.c) holds a lock around
 * every function and passes the time in. Internal to the docker module.
 *
 * The engine is a closed system with a throughput curve: more calls at once
 * help while it has idle cores and locks, then only queue inside it (latency
 * grows, throughput stays flat) and past a point make it thrash (throughput
 * falls). The limiter hill-climbs that curve from its start value:
 * - Calls differ: a start costs the engine a hundred times an inspect, so a
 *   window's mix would swamp any signal in raw calls per second and mean
 *   latency. Each operation (a small index the caller chooses) has a cost:
 *   the lowest latency it was seen to take. A window's throughput is the
 *   cost of the calls it completed per second ("unloaded work" done), and
 *   its latency the slowdown: the sum of their latencies over the sum of
 *   their costs.
 * - Calls are measured in windows of at least INFLIGHT_WINDOW_SAMPLES
 *   completions and INFLIGHT_WINDOW_MIN_NS.
 * - A window counts only when the limit was the bottleneck (demand reached
 *   it at least once): with fewer callers than slots the throughput says
 *   nothing about the engine, and the limit is left alone.
 * - Each counted window compares itself with the previous one, taken at the
 *   previous limit: a move that raised throughput by more than
 *   INFLIGHT_GAIN is repeated (one step), one that lowered it is reversed;
 *   with throughput flat, a rise of latency steps down (calls only queue)
 *   and flat latency steps up (explore).
 * - A slowdown past INFLIGHT_EXPLODE times the lowest recent one, without a
 *   throughput gain, halves the limit (multiplicative decrease). The floor
 *   forgets slowly (it may rise INFLIGHT_FLOOR_DRIFT per window) so that a
 *   permanently slower engine is relearned.
 * The limit stays within [min, max]. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define INFLIGHT_WINDOW_SAMPLES 8
#define INFLIGHT_WINDOW_MIN_NS  (100LL * 1000 * 1000)
#define INFLIGHT_GAIN           0.05 /* a throughput change smaller than 5% is noise */
#define INFLIGHT_EXPLODE        3.0
#define INFLIGHT_FLOOR_DRIFT    1.10
#define INFLIGHT_OPS            32   /* operation indexes 0..31 */
#define INFLIGHT_OP_DRIFT       1.01 /* an operation's cost may rise 1% per window */

struct inflight_limit {
        int limit, min, max;
        int in_flight;
        /* The current window: */
        int64_t window_start_ns; /* 0: opens at the next completion */
        double latency_sum_ns;   /* of the calls counted */
        double cost_sum_ns;      /* their operations' costs */
        int samples;
        bool saturated; /* demand reached the limit in this window */
        /* The previous counted window: */
        bool have_prev;
        int prev_limit;
        double prev_throughput, prev_latency_ns;
        double floor_ns;                 /* lowest recent slowdown; 0 unknown */
        double op_cost_ns[INFLIGHT_OPS]; /* per operation: lowest latency seen; 0 unknown */
        int dir;                         /* +1 or -1: the last step */
        uint64_t adjustments;
};

/* initial is clamped to [min, max]; min >= 1, max >= min. */
void inflight_limit_init(struct inflight_limit *l, int initial, int min, int max);
/* Takes a slot if one is free (in_flight < limit): true. false: the caller
 * waits (or fails); either way the demand marks the window saturated. */
bool inflight_limit_try_acquire(struct inflight_limit *l);
/* Gives a slot back. answered: the engine answered (any HTTP status), so
 * latency_ns (the call's duration) counts for operation op (0..
 * INFLIGHT_OPS-1; others count as the last); a call that failed without an
 * answer (timeout, reset, interrupt) only frees its slot. now_ns: a
 * monotonic clock. Returns true when the limit changed. */
bool inflight_limit_release(struct inflight_limit *l, int op, int64_t latency_ns, bool answered,
                            int64_t now_ns);
/* Forces the limit (clamped to [1, max]) and forgets the measurements: the
 * engine health tracker shrinks it to a probe, then restores it. */
void inflight_limit_set(struct inflight_limit *l, int limit);
