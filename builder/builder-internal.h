/* builder-internal: the log tail of a build and seams for the builder's tests.
 * Not part of the public contract; nothing outside builder/ and its tests may
 * include it. */
#pragma once

#include "builder.h"

/* ---- the log tail (log.c) ---------------------------------------------- */

/* The output of one build: lines, each ending in '\n'. It keeps at least the
 * last BUILDER_LOG_MAX bytes and at most twice that: when an append would go
 * past, it drops the oldest lines down to BUILDER_LOG_MAX first, so that each
 * byte is moved about once (amortised O(1) per line, not a memmove of the
 * whole tail per line). */
struct build_log {
        char *data; /* NULL while empty */
        size_t len, cap;
        uint64_t total; /* bytes appended in all (each line's '\n' included) */
        bool dropped;   /* lines were dropped from the front */
};

void build_log_init(struct build_log *l);
void build_log_release(struct build_log *l);
/* Appends line (without its newline) and a '\n': its first BUILDER_LINE_MAX
 * bytes, with every byte that is not valid UTF-8 (or cut in the middle of a
 * sequence) written as '?'. -ENOMEM (the log is unchanged). */
int build_log_append(struct build_log *l, const char *line);
/* The tail that build_status shows: the last at most BUILDER_LOG_MAX bytes,
 * starting at a line; borrowed, valid until the next append or shrink (not
 * NUL-terminated). *ret_truncated: earlier output is not in it. */
const char *build_log_tail(const struct build_log *l, size_t *ret_len, bool *ret_truncated);
/* Keeps only the tail and gives the rest of the memory back (a finished
 * build's log does not change any more). */
void build_log_shrink(struct build_log *l);

/* ---- test seams -------------------------------------------------------- */

/* The monotonic clock of notifications' rate limit, in ms. */
typedef int64_t (*builder_clock_fn)(void *userdata);

/* builder_new_with() with another clock (NULL = time_mono_ms) so that tests
 * step it. */
int builder_new_with_clock(const struct build_runner_ops *ops, void *runner_data,
                           int max_concurrent, builder_clock_fn clock, void *clock_userdata,
                           build_change_fn fn, void *userdata, struct builder **ret,
                           struct berth_error *err);
