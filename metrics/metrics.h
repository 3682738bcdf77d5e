/* metrics: counters, gauges and histograms for /metrics, rendered in the
 * Prometheus text exposition format 0.0.4.
 *
 * The process has one registry, owned by this module: instrumentation is
 * spread over the store, the Docker client, the reconcilers, the workqueue
 * and the API, and threading a registry through all of them would buy
 * nothing (a process exports one /metrics). This is the one exception to
 * style.md rule 11 besides the log settings: a family is a static variable
 * of the module that updates it, joins the registry on first use and stays
 * until the process exits.
 *
 * Cost on the hot path: a family's label sets live in a fixed open-addressing
 * table of atomic pointers. Finding a label set is a hash and a probe, with
 * no lock; the first use of a label set allocates it and publishes it with a
 * compare-and-swap. Updates are relaxed atomic adds (a histogram: one bucket
 * add and a compare-and-swap loop on its sum). Nothing on the hot path takes
 * a lock shared between threads (only a family's very first use takes the
 * registry's, once), so instrumented workers never serialise on the
 * registry. A caller that updates one label set often may keep its
 * struct metrics_series pointer (valid until the process exits).
 *
 * Limits: METRICS_LABELS_MAX label names per family, METRICS_SERIES_MAX label
 * sets per family (observations for more go to one overflow series whose
 * every label value is METRICS_OVERFLOW_VALUE), label values cut to
 * METRICS_LABEL_VALUE_MAX bytes with bytes that are not UTF-8 replaced by
 * '?'. Counters and gauges of families count whole numbers (int64);
 * fractional values (CPU seconds) come from collectors.
 *
 * Rendering (metrics_render) writes every family that has been used or
 * registered, sorted by name, then calls the collectors: callbacks that write
 * values owned elsewhere (the object cache's counts, the leader's state, the
 * process's /proc figures) at scrape time.
 */
#pragma once

#include <stdatomic.h>

#include "common.h"

#define METRICS_LABELS_MAX      4
#define METRICS_SERIES_MAX      256
#define METRICS_LABEL_VALUE_MAX 128
#define METRICS_COLLECTORS_MAX  16
#define METRICS_OVERFLOW_VALUE  "_overflow" /* no namespace, kind or route is spelt so */
/* Slots of a family's table: twice METRICS_SERIES_MAX, so that it is never
 * more than half full and a probe always ends. A power of two. */
#define METRICS_SLOTS (2 * METRICS_SERIES_MAX)

/* Content-Type of a rendered page. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum metrics_type {
        METRICS_COUNTER,
        METRICS_GAUGE,
        METRICS_HISTOGRAM,
};

/* "counter", "gauge", "histogram": the word of a # TYPE line. */
const char *metrics_type_to_string(enum metrics_type t);

/* Bucket upper bounds (seconds) for durations of calls: a Docker or store
 * request, a reconcile, an API request, a wait in the workqueue. */
#define METRICS_BUCKETS_LATENCY                                                                    \
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60
/* Bucket upper bounds (seconds) for durations of runs: a Task's container. */
#define METRICS_BUCKETS_RUN 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400

struct metrics_series;

/* A metric family: a name, its help text, its type, its label names and,
 * for a histogram, its buckets. Declare one with static storage duration
 * through METRICS_COUNTER_INIT, METRICS_GAUGE_INIT or METRICS_HISTOGRAM_INIT
 * and leave the fields after n_buckets alone: they belong to this module. A
 * family with an invalid name, label name or bucket list is never rendered
 * and its updates do nothing (the unit tests of its module should render
 * it). */
struct metrics_family {
        const char *name; /* [a-zA-Z_:][a-zA-Z0-9_:]*; a counter's ends in _total */
        const char *help;
        enum metrics_type type;
        const char *labels[METRICS_LABELS_MAX]; /* NULL after the last; never "le" */
        const double *buckets;                  /* histograms: increasing, finite; +Inf implied */
        size_t n_buckets;

        /* Private. */
        atomic_int state_;
        size_t n_labels_;
        struct metrics_family *next_; /* in the registry, under its lock */
        atomic_size_t n_series_;
        _Atomic(struct metrics_series *) overflow_;
        _Atomic(struct metrics_series *) slots_[METRICS_SLOTS];
};

/* Initialisers, e.g.
 *   static struct metrics_family requests = METRICS_COUNTER_INIT(
 *       "berth_docker_requests_total", "Docker API calls.", "operation", "code_class");
 *   static struct metrics_family took = METRICS_HISTOGRAM_INIT(
 *       "berth_docker_request_duration_seconds", "...", METRICS_BUCKETS_LATENCY, "operation");
 * A family without labels passes none. */
#define METRICS_COUNTER_INIT(name_, help_, ...)                                                    \
        {                                                                                          \
                .name = (name_), .help = (help_), .type = METRICS_COUNTER,                         \
                .labels = {__VA_ARGS__},                                                           \
        }
#define METRICS_GAUGE_INIT(name_, help_, ...)                                                      \
        {                                                                                          \
                .name = (name_), .help = (help_), .type = METRICS_GAUGE, .labels = {__VA_ARGS__},  \
        }
/* buckets_ is a macro expanding to the bounds (METRICS_BUCKETS_LATENCY). */
#define METRICS_HISTOGRAM_INIT(name_, help_, buckets_, ...)                                        \
        {                                                                                          \
                .name = (name_), .help = (help_), .type = METRICS_HISTOGRAM,                       \
                .labels = {__VA_ARGS__}, .buckets = (const double[]){buckets_},                    \
                .n_buckets = sizeof((const double[]){buckets_}) / sizeof(double),                  \
        }

/* Adds f to the registry now instead of at its first update, so that it is
 * rendered (# HELP and # TYPE, no samples) before anything happened. 0, or
 * -EINVAL for an invalid family (it stays unrendered). Any thread; a
 * registered family is left as it is. */
int metrics_family_register(struct metrics_family *f);

/* The series of f for the label values (as many as f has label names, in
 * their order; NULL for a family without labels; a NULL value is ""),
 * created on first use. Lock-free. Borrowed: valid until the process exits.
 * NULL when f is invalid or memory ran out; every update takes NULL and then
 * does nothing. */
struct metrics_series *metrics_series(struct metrics_family *f, const char *const *values);

/* Updates of one series. Counters: add (n >= 0). Gauges: add (any sign) and
 * set. Histograms: observe (NaN is ignored). An update of the wrong type
 * does nothing. Any thread; NULL ok. */
void metrics_series_add(struct metrics_series *s, int64_t n);
void metrics_series_set(struct metrics_series *s, int64_t v);
void metrics_series_observe(struct metrics_series *s, double v);

/* The same by family and label values (metrics_series and the update). */
void metrics_counter_add(struct metrics_family *f, const char *const *values, int64_t n);
void metrics_gauge_add(struct metrics_family *f, const char *const *values, int64_t n);
void metrics_gauge_set(struct metrics_family *f, const char *const *values, int64_t v);
void metrics_histogram_observe(struct metrics_family *f, const char *const *values, double v);

/* The monotonic clock in nanoseconds, for durations. */
int64_t metrics_now_ns(void);
/* Observes the seconds from start_ns (metrics_now_ns) to now. */
void metrics_series_observe_since(struct metrics_series *s, int64_t start_ns);

/* ---- rendering ------------------------------------------------------------ */

/* What collectors write to. */
struct metrics_writer;

/* Writes the # HELP and # TYPE lines of a family. Each family must be
 * written once per page, with its samples right after it, and must not have
 * the name of a registered family. */
void metrics_write_family(struct metrics_writer *w, const char *name, const char *help,
                          enum metrics_type type);
/* Writes one sample: name{label="value",...} value. labels: name and value
 * pairs ending with a NULL name (NULL: none); values are escaped. Integers
 * below 2^53 are written without a fraction, infinities as +Inf and -Inf. */
void metrics_write_sample(struct metrics_writer *w, const char *name, const char *const *labels,
                          double value);

/* Called at render time with the page's writer. It must not block for long
 * (it runs on the thread that serves /metrics: the API's event loop) and must
 * not register or unregister collectors. */
typedef void (*metrics_collect_fn)(struct metrics_writer *w, void *userdata);

/* Adds fn(userdata) to every render. -EEXIST when that pair is registered
 * already, -ENOSPC past METRICS_COLLECTORS_MAX. Any thread. */
int metrics_register_collector(metrics_collect_fn fn, void *userdata);
/* Removes it; when this returns no render is calling it (a render in
 * progress is waited for), so userdata may be freed. Not from a collector.
 * Unknown pairs are ignored. */
void metrics_unregister_collector(metrics_collect_fn fn, void *userdata);

/* Appends the page to out: every registered family (sorted by name), every
 * collector (in registration order), then extra(w, extra_userdata) when
 * extra is not NULL. -E2BIG when out's cap was reached (the page is cut),
 * -ENOMEM; 0 otherwise. Any thread; renders run one at a time. */
int metrics_render(struct buf *out, metrics_collect_fn extra, void *extra_userdata);
/* Appends one family's text (HELP, TYPE, its samples) to out; for tests and
 * for metrics_render. -EINVAL for an invalid family. */
int metrics_family_render(struct metrics_family *f, struct buf *out);
/* The value of the sample written exactly as sample (name and labels as
 * rendered: berth_reconcile_total{kind="Task",result="ok"}) among the
 * registered families (collectors are not called) into *ret. -ENOENT when
 * there is none, -ENOMEM. For tests. */
int metrics_find(const char *sample, double *ret);

/* ---- shared families and collectors --------------------------------------- */

/* The process's figures from /proc/self (a collector; userdata unused):
 * process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_open_fds, process_max_fds,
 * process_start_time_seconds. A figure that cannot be read is left out. */
void metrics_process_collect(struct metrics_writer *w, void *userdata);

/* berth_notifications_total{notifier,result}: one notification that
 * notifier (its name, e.g. "slack") sent (result "sent") or failed to send
 * ("failed"). Rendered from the start, without samples until the first. */
void metrics_notification_count(const char *notifier, bool sent);
